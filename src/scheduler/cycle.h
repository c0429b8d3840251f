// The scheduling cycle of one pod, shared by the Scheduler and Place: run the algorithm;
// when no node fits, PostFilter (preemption); when one does, assume the pod there and run
// Reserve (a rejection there makes the pod unschedulable, without PostFilter). What follows (Permit, binding) is the caller's.
#ifndef ORCH_SRC_SCHEDULER_CYCLE_H_
#define ORCH_SRC_SCHEDULER_CYCLE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/container/flat_hash_set.h"
#include "orch/scheduler/framework.h"
#include "scheduler/algorithm.h"
#include "scheduler/cache.h"
#include "scheduler/profile.h"

namespace orch::scheduler::internal {

struct CycleOutcome {
  // The node the pod is assumed and reserved on; empty when it fits nowhere.
  std::string node;
  // Why it fits nowhere: the FitError message, with PostFilter's appended.
  std::string message;
  // PostFilter's nomination (preemption made room there), if any.
  std::string nominated_node;
  // The plugins that rejected the pod on some node (the queue retries it on their events).
  absl::flat_hash_set<std::string> rejectors;
  // Every feasible node's scores, when asked for.
  std::vector<NodeScoreDetail> scores;
};

// kInternal when a plugin fails with an Error (nothing stays assumed). A Reserve plugin
// that rejects the pod leaves it unassumed with no node, as a Filter rejection would.
absl::StatusOr<CycleOutcome> RunSchedulingCycle(Profile& profile, Algorithm& algorithm,
                                                SchedulerCache& cache, CycleState& state,
                                                const PodInfoPtr& pod, bool keep_scores);

}  // namespace orch::scheduler::internal

#endif  // ORCH_SRC_SCHEDULER_CYCLE_H_
