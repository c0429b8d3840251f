#include "orch/base/mutex.h"

#include <chrono>

namespace orch {

bool Mutex::AwaitUntil(const absl::Condition& condition, absl::Time deadline) {
  // Waiting releases the lock without going through Unlock(), so wake the other waiters
  // here: this thread may have changed what their conditions read.
  if (waiters_.fetch_add(1, std::memory_order_acq_rel) > 0) changed_.notify_all();
  bool holds = condition.Eval();
  while (!holds) {
    if (deadline == absl::InfiniteFuture()) {
      changed_.wait(mu_);
    } else if (changed_.wait_until(mu_, absl::ToChronoTime(deadline)) ==
               std::cv_status::timeout) {
      holds = condition.Eval();
      break;
    }
    holds = condition.Eval();
  }
  waiters_.fetch_sub(1, std::memory_order_acq_rel);
  return holds;
}

void Notification::Notify() {
  MutexLock lock(&mu_);
  notified_.store(true, std::memory_order_release);
}

void Notification::WaitForNotification() {
  MutexLock lock(&mu_);
  mu_.Await(absl::Condition(+[](std::atomic<bool>* n) { return n->load(); }, &notified_));
}

bool Notification::WaitForNotificationWithTimeout(absl::Duration timeout) {
  MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(
      absl::Condition(+[](std::atomic<bool>* n) { return n->load(); }, &notified_), timeout);
}

}  // namespace orch
