// Mutex, CondVar and Notification for orch's own code.
//
// Why not absl::Mutex: Debian's Abseil is built without ThreadSanitizer annotations, so
// TSan cannot see absl::Mutex's happens-before edges and reports false races. These
// classes keep absl::Mutex's shape (and its thread-safety annotations for clang's
// -Wthread-safety) but sit on the standard library's primitives, which TSan understands.
// Use them for all of orch's shared state: `orch::Mutex mu_; int x_ ABSL_GUARDED_BY(mu_);`.
//
// Thread safety: these are the synchronization primitives. Ownership: none is copyable.
#ifndef ORCH_BASE_MUTEX_H_
#define ORCH_BASE_MUTEX_H_

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <shared_mutex>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"  // absl::Condition: a predicate wrapper, no locking
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace orch {

// A reader/writer mutex. Await blocks (holding the lock in exclusive mode) until a
// condition on the guarded state holds; conditions are re-checked after every exclusive
// unlock by any thread.
class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() {
    mu_.unlock();
    if (waiters_.load(std::memory_order_acquire) > 0) changed_.notify_all();
  }
  void ReaderLock() ABSL_SHARED_LOCK_FUNCTION() { mu_.lock_shared(); }
  void ReaderUnlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock_shared(); }
  void AssertHeld() const ABSL_ASSERT_EXCLUSIVE_LOCK() {}
  void AssertReaderHeld() const ABSL_ASSERT_SHARED_LOCK() {}

  // REQUIRES: held exclusively. Returns once `condition` holds.
  void Await(const absl::Condition& condition) ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    AwaitUntil(condition, absl::InfiniteFuture());
  }
  // REQUIRES: held exclusively. Returns whether `condition` holds (false on timeout).
  bool AwaitWithTimeout(const absl::Condition& condition, absl::Duration timeout)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    return AwaitUntil(condition, absl::Now() + timeout);
  }
  bool AwaitWithDeadline(const absl::Condition& condition, absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    return AwaitUntil(condition, deadline);
  }

  void LockWhen(const absl::Condition& condition) ABSL_EXCLUSIVE_LOCK_FUNCTION() {
    Lock();
    Await(condition);
  }

 private:
  friend class CondVar;
  bool AwaitUntil(const absl::Condition& condition, absl::Time deadline);

  std::shared_mutex mu_;
  std::condition_variable_any changed_;
  std::atomic<int> waiters_{0};
};

class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_->Lock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }

 private:
  Mutex* const mu_;
};

class ABSL_SCOPED_LOCKABLE ReaderMutexLock {
 public:
  explicit ReaderMutexLock(Mutex* mu) ABSL_SHARED_LOCK_FUNCTION(mu) : mu_(mu) {
    mu_->ReaderLock();
  }
  ReaderMutexLock(const ReaderMutexLock&) = delete;
  ReaderMutexLock& operator=(const ReaderMutexLock&) = delete;
  ~ReaderMutexLock() ABSL_UNLOCK_FUNCTION() { mu_->ReaderUnlock(); }

 private:
  Mutex* const mu_;
};

// A condition variable used with orch::Mutex held exclusively.
class CondVar {
 public:
  CondVar() = default;
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  void Wait(Mutex* mu) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { cv_.wait(mu->mu_); }
  // Returns true on timeout.
  bool WaitWithTimeout(Mutex* mu, absl::Duration timeout) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return cv_.wait_for(mu->mu_, absl::ToChronoNanoseconds(timeout)) ==
           std::cv_status::timeout;
  }
  void Signal() { cv_.notify_one(); }
  void SignalAll() { cv_.notify_all(); }

 private:
  std::condition_variable_any cv_;
};

// A one-shot event: Notify once, wait any number of times.
class Notification {
 public:
  Notification() = default;
  Notification(const Notification&) = delete;
  Notification& operator=(const Notification&) = delete;

  void Notify();
  bool HasBeenNotified() const { return notified_.load(std::memory_order_acquire); }
  void WaitForNotification();
  bool WaitForNotificationWithTimeout(absl::Duration timeout);

 private:
  mutable Mutex mu_;
  std::atomic<bool> notified_{false};
};

}  // namespace orch

#endif  // ORCH_BASE_MUTEX_H_
