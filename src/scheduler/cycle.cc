#include "scheduler/cycle.h"

#include <utility>

#include "fmt/format.h"

namespace orch::scheduler::internal {

absl::StatusOr<CycleOutcome> RunSchedulingCycle(Profile& profile, Algorithm& algorithm,
                                                SchedulerCache& cache, CycleState& state,
                                                const PodInfoPtr& pod, bool keep_scores) {
  ScheduleOptions options;
  options.keep_scores = keep_scores;
  absl::StatusOr<ScheduleResult> result = algorithm.Schedule(profile, state, *pod, cache, options);
  if (!result.ok()) return result.status();

  CycleOutcome outcome;
  if (keep_scores) outcome.scores = std::move(result->scores);
  if (result->node.empty()) {
    if (!result->pre_filter_status.plugin().empty()) {
      outcome.rejectors.insert(result->pre_filter_status.plugin());
    }
    for (const auto& [node, status] : result->failed) outcome.rejectors.insert(status.plugin());
    std::string post_filter_message;
    if (profile.HasPostFilter() && result->all_nodes > 0 &&
        !result->pre_filter_status.IsRejected()) {
      PostFilterResult nominated;
      Status post = profile.RunPostFilter(state, *pod, result->failed, &nominated);
      if (post.code() == Code::kError) {
        return absl::InternalError(fmt::format("running PostFilter plugin \"{}\": {}",
                                               post.plugin(), post.Message()));
      }
      if (post.ok()) outcome.nominated_node = nominated.nominated_node_name;
      post_filter_message = post.Message();
    }
    outcome.message = result->FitErrorMessage(post_filter_message);
    return outcome;
  }

  cache.AssumePod(pod, result->node);
  Status reserved = profile.RunReserve(state, *pod, result->node);
  if (!reserved.ok()) {
    profile.RunUnreserve(state, *pod, result->node);
    cache.ForgetPod(pod->uid());
    if (!reserved.IsRejected()) {
      return absl::InternalError(fmt::format("running Reserve plugin \"{}\": {}",
                                             reserved.plugin(), reserved.Message()));
    }
    // Kubernetes reports a rejecting Reserve as a FitError over the one node it was
    // reserving ("0/1 nodes are available: ..."), retried on the plugin's events; no
    // PostFilter runs.
    ScheduleResult rejected;
    rejected.all_nodes = 1;
    rejected.failed.emplace(result->node, reserved);
    outcome.rejectors.insert(reserved.plugin());
    outcome.message = rejected.FitErrorMessage();
    return outcome;
  }
  outcome.node = std::move(result->node);
  return outcome;
}

}  // namespace orch::scheduler::internal
