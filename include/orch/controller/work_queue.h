// WorkQueue: the deduplicating, rate-limited queue of keys behind every controller
// (client-go's workqueue), driven by an Executor instead of worker goroutines.
//
//   controller::WorkQueue queue(&executor, [&](const std::string& key) { ... },
//                               {.max_concurrent = 2});
//   queue.Add("default/web");
//   queue.Start();            // keys added before Start wait for it
//
// For each key taken off the queue, the queue posts one task to the Executor that calls
// `process(key)`; at most `max_concurrent` such tasks are posted or running at a time.
// The guarantees controllers rely on:
//   - A key waiting in the queue is there once, however often it is added.
//   - A key is never processed by two tasks at once. A key added while it is being
//     processed waits, and is processed once more after the running call returns.
//   - Keys are processed in the order they became ready (FIFO).
//   - AddAfter(key, d) adds the key once `d` has passed on the executor's clock; a second
//     AddAfter of a key already waiting keeps the earlier of the two times.
//   - AddRateLimited(key) is AddAfter(key, rate_limiter->When(key)); Forget(key) resets
//     the limiter's memory of the key (call it when the key was processed successfully).
//
// Under a VirtualExecutor everything is deterministic: keys are processed inside
// RunUntilIdle/AdvanceBy, delayed adds at their due virtual time.
//
// Thread safety: every method may be called from any thread, including from `process`.
// Ownership: the Executor must outlive the queue; the queue owns its rate limiter.
// Destroying the queue shuts it down (see ShutDown). Errors: none; Add and friends after
// ShutDown are ignored.
#ifndef ORCH_CONTROLLER_WORK_QUEUE_H_
#define ORCH_CONTROLLER_WORK_QUEUE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "orch/base/executor.h"
#include "orch/controller/rate_limiter.h"

namespace orch::controller {

struct WorkQueueOptions {
  // Keys processed at the same time (controller-runtime's MaxConcurrentReconciles).
  // Values below 1 mean 1.
  int max_concurrent = 1;
  // Delays of AddRateLimited. nullptr: DefaultControllerRateLimiter on the executor's
  // clock (5 ms doubling to 1,000 s per key, and 10 per second overall with a burst of
  // 100).
  std::unique_ptr<RateLimiter> rate_limiter;
};

struct WorkQueueStats {
  int64_t adds = 0;         // Add calls that queued a key (not deduplicated away)
  int64_t retries = 0;      // AddRateLimited calls
  int64_t processed = 0;    // process calls returned
  int64_t depth = 0;        // keys waiting to be processed now
  int64_t delayed = 0;      // keys waiting for an AddAfter's time
  int64_t in_flight = 0;    // keys posted or being processed
};

class WorkQueue {
 public:
  using ProcessFn = std::function<void(const std::string& key)>;

  // The queue starts paused: keys added are kept, none is processed before Start.
  WorkQueue(Executor* executor, ProcessFn process, WorkQueueOptions options = {});
  // ShutDown().
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Begins processing. Idempotent.
  void Start();

  void Add(std::string_view key);
  void AddAfter(std::string_view key, absl::Duration delay);
  void AddRateLimited(std::string_view key);
  void Forget(std::string_view key);
  int NumRequeues(std::string_view key) const;

  // Keys waiting to be processed (not delayed ones, not ones in flight).
  size_t Len() const;
  WorkQueueStats stats() const;

  // Stops for good: drops waiting and delayed keys, processes nothing more, and returns
  // once no `process` call is running — except the caller's own, when called from inside
  // `process` (that call finishes after ShutDown returns). Idempotent.
  void ShutDown();
  bool ShuttingDown() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace orch::controller

#endif  // ORCH_CONTROLLER_WORK_QUEUE_H_
