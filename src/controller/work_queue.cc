#include "orch/controller/work_queue.h"

#include <algorithm>
#include <deque>
#include <utility>

#include "orch/base/mutex.h"
#include "orch/base/string_map.h"

namespace orch::controller {

namespace {
// The queue whose `process` runs on this thread, if any: ShutDown from inside it must not
// wait for itself.
thread_local const void* processing_queue = nullptr;
}  // namespace

// Shared with the tasks the queue posts, which hold it weakly: a task that runs after the
// queue is gone finds nothing and returns.
struct WorkQueue::State : std::enable_shared_from_this<State> {
  struct Delayed {
    absl::Time due;
    TimerId timer = 0;
  };

  State(Executor* executor, ProcessFn process, WorkQueueOptions options)
      : executor(executor),
        process(std::move(process)),
        max_concurrent(std::max(1, options.max_concurrent)),
        limiter(options.rate_limiter != nullptr ? std::move(options.rate_limiter)
                                                : DefaultControllerRateLimiter(&executor->clock())) {}

  void Add(std::string_view key) ABSL_LOCKS_EXCLUDED(mu) {
    MutexLock lock(&mu);
    AddLocked(key);
  }

  void AddLocked(std::string_view key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (shut_down || dirty.contains(key)) return;
    dirty.emplace(key);
    ++stats.adds;
    // A key in flight is queued again when its call returns (Finish).
    if (!processing.contains(key)) queue.emplace_back(key);
    Pump();
  }

  void AddAfter(std::string_view key, absl::Duration delay) ABSL_LOCKS_EXCLUDED(mu) {
    if (delay <= absl::ZeroDuration()) return Add(key);
    MutexLock lock(&mu);
    if (shut_down) return;
    const absl::Time due = executor->clock().Now() + delay;
    auto it = delayed.find(key);
    if (it != delayed.end()) {
      if (it->second.due <= due) return;  // already due sooner
      executor->Cancel(it->second.timer);
    } else {
      it = delayed.emplace(key, Delayed{}).first;
    }
    it->second.due = due;
    it->second.timer = executor->PostAfter(
        delay, [weak = weak_from_this(), key = std::string(key)] {
          if (std::shared_ptr<State> self = weak.lock()) self->Fire(key);
        });
  }

  void Fire(const std::string& key) ABSL_LOCKS_EXCLUDED(mu) {
    MutexLock lock(&mu);
    delayed.erase(key);
    AddLocked(key);
  }

  // Posts tasks for ready keys while there is room.
  void Pump() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    while (started && !shut_down && in_flight < max_concurrent && !queue.empty()) {
      std::string key = std::move(queue.front());
      queue.pop_front();
      dirty.erase(key);
      processing.insert(key);
      ++in_flight;
      executor->Post([weak = weak_from_this(), key = std::move(key)] {
        if (std::shared_ptr<State> self = weak.lock()) self->Process(key);
      });
    }
  }

  void Process(const std::string& key) ABSL_LOCKS_EXCLUDED(mu) {
    {
      MutexLock lock(&mu);
      if (shut_down) {
        Finish(key);
        return;
      }
      ++running;
    }
    const void* outer = std::exchange(processing_queue, this);
    process(key);
    processing_queue = outer;
    MutexLock lock(&mu);
    --running;
    ++stats.processed;
    Finish(key);
  }

  void Finish(const std::string& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    --in_flight;
    processing.erase(key);
    if (!shut_down && dirty.contains(key)) queue.push_back(key);
    Pump();
  }

  void ShutDown() ABSL_LOCKS_EXCLUDED(mu) {
    MutexLock lock(&mu);
    if (!shut_down) {
      shut_down = true;
      for (const auto& [key, entry] : delayed) executor->Cancel(entry.timer);
      delayed.clear();
      queue.clear();
      dirty.clear();
    }
    const int own = processing_queue == this ? 1 : 0;
    struct Wait {
      State* self;
      int own;
    } wait{this, own};
    mu.Await(absl::Condition(
        +[](Wait* w) ABSL_NO_THREAD_SAFETY_ANALYSIS { return w->self->running <= w->own; },
        &wait));
  }

  Executor* const executor;
  const ProcessFn process;
  const int max_concurrent;
  const std::unique_ptr<RateLimiter> limiter;  // thread-safe itself

  mutable Mutex mu;
  std::deque<std::string> queue ABSL_GUARDED_BY(mu);  // ready, in order
  StringSet dirty ABSL_GUARDED_BY(mu);                // needs processing (queued or not yet)
  StringSet processing ABSL_GUARDED_BY(mu);           // posted or running
  StringMap<Delayed> delayed ABSL_GUARDED_BY(mu);
  int in_flight ABSL_GUARDED_BY(mu) = 0;              // tasks posted, not finished
  int running ABSL_GUARDED_BY(mu) = 0;                // process calls running now
  bool started ABSL_GUARDED_BY(mu) = false;
  bool shut_down ABSL_GUARDED_BY(mu) = false;
  WorkQueueStats stats ABSL_GUARDED_BY(mu);
};

WorkQueue::WorkQueue(Executor* executor, ProcessFn process, WorkQueueOptions options)
    : state_(std::make_shared<State>(executor, std::move(process), std::move(options))) {}

WorkQueue::~WorkQueue() { ShutDown(); }

void WorkQueue::Start() {
  MutexLock lock(&state_->mu);
  state_->started = true;
  state_->Pump();
}

void WorkQueue::Add(std::string_view key) { state_->Add(key); }

void WorkQueue::AddAfter(std::string_view key, absl::Duration delay) {
  state_->AddAfter(key, delay);
}

void WorkQueue::AddRateLimited(std::string_view key) {
  {
    MutexLock lock(&state_->mu);
    if (state_->shut_down) return;
    ++state_->stats.retries;
  }
  state_->AddAfter(key, state_->limiter->When(key));
}

void WorkQueue::Forget(std::string_view key) { state_->limiter->Forget(key); }

int WorkQueue::NumRequeues(std::string_view key) const { return state_->limiter->NumRequeues(key); }

size_t WorkQueue::Len() const {
  MutexLock lock(&state_->mu);
  return state_->queue.size();
}

WorkQueueStats WorkQueue::stats() const {
  MutexLock lock(&state_->mu);
  WorkQueueStats stats = state_->stats;
  stats.depth = static_cast<int64_t>(state_->queue.size());
  stats.delayed = static_cast<int64_t>(state_->delayed.size());
  stats.in_flight = state_->in_flight;
  return stats;
}

void WorkQueue::ShutDown() { state_->ShutDown(); }

bool WorkQueue::ShuttingDown() const {
  MutexLock lock(&state_->mu);
  return state_->shut_down;
}

}  // namespace orch::controller
