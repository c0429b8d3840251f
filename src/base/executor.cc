#include "orch/base/executor.h"

#include <algorithm>
#include <cassert>
#include <limits>
#include <utility>

namespace orch {
namespace internal {

TimerId TimerQueue::Add(absl::Time due, Task task) {
  // Whole nanoseconds, rounded up: clocks count nanoseconds, and a due time between two
  // of them (a Duration scaled by a double, say) would never be reached.
  if (due != absl::InfiniteFuture() && due != absl::InfinitePast()) {
    due = absl::UnixEpoch() + absl::Ceil(due - absl::UnixEpoch(), absl::Nanoseconds(1));
  }
  const TimerId id = next_id_++;
  tasks_.emplace(std::make_pair(due, id), std::move(task));
  due_.emplace(id, due);
  return id;
}

bool TimerQueue::Cancel(TimerId id) {
  auto it = due_.find(id);
  if (it == due_.end()) return false;
  tasks_.erase(std::make_pair(it->second, id));
  due_.erase(it);
  return true;
}

absl::Time TimerQueue::NextDue() const {
  return tasks_.empty() ? absl::InfiniteFuture() : tasks_.begin()->first.first;
}

bool TimerQueue::PopDue(absl::Time now, Task* task) {
  if (tasks_.empty() || tasks_.begin()->first.first > now) return false;
  auto node = tasks_.extract(tasks_.begin());
  due_.erase(node.key().second);
  *task = std::move(node.mapped());
  return true;
}

void TimerQueue::Clear() {
  tasks_.clear();
  due_.clear();
}

}  // namespace internal

// ---------------------------------------------------------------- ThreadPoolExecutor

ThreadPoolExecutor::ThreadPoolExecutor(int threads, Clock* clock, absl::Duration timer_poll)
    : clock_(clock), timer_poll_(timer_poll) {
  assert(threads >= 1);
  threads_.reserve(threads + 1);
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { WorkerLoop(); });
  threads_.emplace_back([this] { TimerLoop(); });
}

ThreadPoolExecutor::~ThreadPoolExecutor() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    timers_.Clear();
  }
  for (auto& t : threads_) t.join();
}

void ThreadPoolExecutor::Post(Task task) {
  MutexLock lock(&mu_);
  if (stopping_) return;
  ready_.push_back(std::move(task));
}

TimerId ThreadPoolExecutor::PostAfter(absl::Duration delay, Task task) {
  MutexLock lock(&mu_);
  if (stopping_) return 0;
  return timers_.Add(clock_->Now() + delay, std::move(task));
}

bool ThreadPoolExecutor::Cancel(TimerId id) {
  MutexLock lock(&mu_);
  return timers_.Cancel(id);
}

void ThreadPoolExecutor::WorkerLoop() {
  for (;;) {
    Task task;
    {
      MutexLock lock(&mu_);
      auto has_work = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || !ready_.empty();
      };
      mu_.Await(absl::Condition(&has_work));
      // Drain queued work before stopping, so a destructor never drops posted tasks
      // that are already ready.
      if (ready_.empty()) return;
      task = std::move(ready_.front());
      ready_.pop_front();
    }
    std::move(task)();
  }
}

void ThreadPoolExecutor::TimerLoop() {
  const bool real = clock_ == &Clock::Real();
  MutexLock lock(&mu_);
  while (!stopping_) {
    const absl::Time now = clock_->Now();
    Task task;
    while (timers_.PopDue(now, &task)) ready_.push_back(std::move(task));
    absl::Duration wait = timer_poll_;
    if (real) wait = std::max(absl::ZeroDuration(), std::min(timers_.NextDue() - now, absl::Seconds(1)));
    // Wake early when stopping, or (real clock) when an earlier timer is added.
    const absl::Time next = timers_.NextDue();
    auto wake = [this, next]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return stopping_ || timers_.NextDue() < next;
    };
    mu_.AwaitWithTimeout(absl::Condition(&wake), wait);
  }
}

// ---------------------------------------------------------------- VirtualExecutor

VirtualExecutor::VirtualExecutor(absl::Time start) : clock_(start) {}

void VirtualExecutor::Post(Task task) {
  MutexLock lock(&mu_);
  ready_.push_back(std::move(task));
}

TimerId VirtualExecutor::PostAfter(absl::Duration delay, Task task) {
  MutexLock lock(&mu_);
  return timers_.Add(clock_.Now() + std::max(delay, absl::ZeroDuration()), std::move(task));
}

bool VirtualExecutor::Cancel(TimerId id) {
  MutexLock lock(&mu_);
  return timers_.Cancel(id);
}

size_t VirtualExecutor::RunUntilIdle() { return RunReady(std::numeric_limits<size_t>::max()); }

size_t VirtualExecutor::RunReady(size_t max_tasks) {
  size_t ran = 0;
  while (ran < max_tasks) {
    Task task;
    {
      MutexLock lock(&mu_);
      // Timers with zero delay are due now; fold them in so they run without advancing.
      Task due;
      while (timers_.PopDue(clock_.Now(), &due)) ready_.push_back(std::move(due));
      if (ready_.empty()) return ran;
      task = std::move(ready_.front());
      ready_.pop_front();
    }
    std::move(task)();
    ++ran;
  }
  return ran;
}

size_t VirtualExecutor::AdvanceTo(absl::Time t) {
  size_t ran = RunUntilIdle();
  for (;;) {
    absl::Time next;
    {
      MutexLock lock(&mu_);
      next = timers_.NextDue();
    }
    if (next > t) break;
    if (next > clock_.Now()) clock_.AdvanceTo(next);
    ran += RunUntilIdle();
  }
  if (t > clock_.Now()) clock_.AdvanceTo(t);
  return ran + RunUntilIdle();
}

bool VirtualExecutor::RunNextTimer() {
  const absl::Time next = NextTimerAt();
  if (next == absl::InfiniteFuture()) return false;
  AdvanceTo(std::max(next, clock_.Now()));
  return true;
}

absl::Time VirtualExecutor::NextTimerAt() {
  MutexLock lock(&mu_);
  return timers_.NextDue();
}

bool VirtualExecutor::Idle() {
  MutexLock lock(&mu_);
  return ready_.empty() && timers_.empty();
}

}  // namespace orch
