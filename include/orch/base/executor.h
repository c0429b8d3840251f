// Executor: where orch's work runs, and how its timers fire.
//
// Components never start threads of their own: they post work to an Executor the host
// hands them. Two implementations:
//   ThreadPoolExecutor  real threads on the real (or any) clock, for live processes.
//   VirtualExecutor     no threads: tasks run inside RunUntilIdle/AdvanceBy on the calling
//                       thread, timers fire in virtual time. Deterministic: tasks due at the
//                       same instant run in the order they were posted.
//
// Thread safety: Post, PostAfter and Cancel may be called from any thread, including from
// inside a running task. Ownership: the executor owns queued tasks and destroys the ones
// that never ran when it is destroyed; the host keeps the executor alive longer than every
// component that posts to it.
#ifndef ORCH_BASE_EXECUTOR_H_
#define ORCH_BASE_EXECUTOR_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "orch/base/mutex.h"
#include "absl/time/time.h"
#include "orch/base/clock.h"

namespace orch {

using Task = absl::AnyInvocable<void() &&>;

// Identifies a delayed task so it can be cancelled. 0 is never a valid id.
using TimerId = uint64_t;

class Executor {
 public:
  Executor() = default;
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;
  virtual ~Executor() = default;

  // Runs `task` as soon as possible.
  virtual void Post(Task task) = 0;

  // Runs `task` once `delay` has passed on clock(). A non-positive delay is Post.
  virtual TimerId PostAfter(absl::Duration delay, Task task) = 0;

  // Cancels a task posted with PostAfter. Returns false if it already ran, is running,
  // or was cancelled before.
  virtual bool Cancel(TimerId id) = 0;

  // The clock this executor's timers run on.
  virtual Clock& clock() = 0;
};

namespace internal {
// Delayed tasks ordered by (due time, id): tasks due at one instant run in posting order.
// Not thread-safe; each executor guards its own.
class TimerQueue {
 public:
  TimerId Add(absl::Time due, Task task);
  bool Cancel(TimerId id);
  // The earliest due time, or absl::InfiniteFuture() when empty.
  absl::Time NextDue() const;
  // Removes and returns the earliest task if it is due at or before `now`.
  bool PopDue(absl::Time now, Task* task);
  bool empty() const { return tasks_.empty(); }
  void Clear();

 private:
  TimerId next_id_ = 1;
  std::map<std::pair<absl::Time, TimerId>, Task> tasks_;
  absl::flat_hash_map<TimerId, absl::Time> due_;
};
}  // namespace internal

// A fixed pool of threads. Timers are kept by one extra thread that sleeps on the real
// clock; with a non-real clock, timers fire when that clock says so, polled every
// `timer_poll` of real time.
class ThreadPoolExecutor : public Executor {
 public:
  // REQUIRES: threads >= 1.
  explicit ThreadPoolExecutor(int threads, Clock* clock = &Clock::Real(),
                              absl::Duration timer_poll = absl::Milliseconds(1));
  // Stops accepting work, drops pending timers, waits for running tasks, joins threads.
  ~ThreadPoolExecutor() override;

  void Post(Task task) override;
  TimerId PostAfter(absl::Duration delay, Task task) override;
  bool Cancel(TimerId id) override;
  Clock& clock() override { return *clock_; }

 private:
  void WorkerLoop();
  void TimerLoop();

  Clock* const clock_;
  const absl::Duration timer_poll_;
  Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<Task> ready_ ABSL_GUARDED_BY(mu_);
  internal::TimerQueue timers_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_;
};

// Runs everything on the thread that calls RunUntilIdle / AdvanceBy / AdvanceTo, on its
// own VirtualClock. This is what simulations and the in-process test cluster use.
class VirtualExecutor : public Executor {
 public:
  explicit VirtualExecutor(absl::Time start = absl::FromUnixSeconds(1767225600));
  ~VirtualExecutor() override = default;

  void Post(Task task) override;
  TimerId PostAfter(absl::Duration delay, Task task) override;
  bool Cancel(TimerId id) override;
  Clock& clock() override { return clock_; }
  VirtualClock& virtual_clock() { return clock_; }

  // Runs ready tasks (and tasks they post) until none is ready; time does not move.
  // Returns the number of tasks run.
  size_t RunUntilIdle();
  // Like RunUntilIdle, but stops after `max_tasks` tasks: a host that moves the clock
  // itself (say, with the real time the work took) interleaves with it this way.
  size_t RunReady(size_t max_tasks);

  // Moves time forward to `t`, firing each timer at its own due time, in (due, posting)
  // order, with RunUntilIdle after each. Returns the number of tasks run.
  size_t AdvanceTo(absl::Time t);
  size_t AdvanceBy(absl::Duration d) { return AdvanceTo(clock_.Now() + d); }

  // Jumps to the next pending timer and runs until idle. Returns false if none is pending.
  bool RunNextTimer();

  // The due time of the earliest pending timer, or absl::InfiniteFuture().
  absl::Time NextTimerAt();

  // True when no task is ready and no timer is pending.
  bool Idle();

 private:

  VirtualClock clock_;
  Mutex mu_;
  std::deque<Task> ready_ ABSL_GUARDED_BY(mu_);
  internal::TimerQueue timers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace orch

#endif  // ORCH_BASE_EXECUTOR_H_
