#include "orch/scheduler/place.h"

#include <memory>

#include "fmt/format.h"
#include "orch/base/clock.h"
#include "orch/base/status.h"
#include "orch/base/string_map.h"
#include "orch/scheduler/extender.h"
#include "scheduler/algorithm.h"
#include "scheduler/cache.h"
#include "scheduler/cycle.h"
#include "scheduler/profile.h"

namespace orch::scheduler {
namespace {

std::string PodKey(const api::v1::Pod& pod) {
  return fmt::format("{}/{}", pod.metadata().namespace_(), pod.metadata().name());
}

// The cache tells pods apart by uid; objects read from a file may have none.
absl::StatusOr<PodInfoPtr> InfoOf(const api::v1::Pod& pod) {
  auto copy = std::make_shared<api::v1::Pod>(pod);
  if (copy->metadata().uid().empty()) copy->mutable_metadata()->set_uid(PodKey(pod));
  absl::StatusOr<PodInfoPtr> info = PodInfo::Create(std::move(copy));
  if (!info.ok()) return Annotate(info.status(), "pod " + PodKey(pod));
  return info;
}

PodPlacement Describe(const PodInfo& pod, const internal::CycleOutcome& outcome,
                      const internal::Profile& profile) {
  PodPlacement placement;
  placement.pod = PodKey(pod.pod());
  placement.node = outcome.node;
  placement.message = outcome.message;
  for (const internal::NodeScoreDetail& detail : outcome.scores) {
    placement.scores.emplace_back(detail.node->name(), detail.total);
    std::vector<std::pair<std::string, int64_t>> plugins;
    for (size_t i = 0; i < detail.plugin_scores.size(); ++i) {
      plugins.emplace_back(profile.score_plugins()[i].name, detail.plugin_scores[i]);
    }
    placement.plugin_scores.emplace_back(detail.node->name(), std::move(plugins));
  }
  return placement;
}

}  // namespace

absl::StatusOr<std::vector<PodPlacement>> Place(const PlaceInput& input,
                                                const PlaceOptions& options) {
  ORCH_ASSIGN_OR_RETURN(
      const v1::KubeSchedulerConfiguration config,
      DefaultAndValidateConfig(options.config, options.config_source, options.registry));
  internal::SchedulerCache cache;
  for (const api::v1::Namespace& ns : input.namespaces) {
    cache.SetNamespace(ns.metadata().name(), ns.metadata().labels());
  }
  for (const api::v1::Node& node : input.nodes) {
    absl::Status status = cache.AddOrUpdateNode(std::make_shared<api::v1::Node>(node));
    if (!status.ok()) return Annotate(status, "node " + node.metadata().name());
  }
  for (const api::v1::Pod& pod : input.bound) {
    ORCH_ASSIGN_OR_RETURN(PodInfoPtr info, InfoOf(pod));
    cache.AddOrUpdatePod(std::move(info));
  }

  VirtualClock clock;
  internal::Profile::Environment environment{&cache, &clock, nullptr, nullptr};
  StringMap<std::unique_ptr<internal::Profile>> profiles;
  const int profile_count = config.profiles_size();
  for (int i = 0; i < profile_count; ++i) {
    ORCH_ASSIGN_OR_RETURN(std::unique_ptr<internal::Profile> profile,
                          internal::Profile::Create(config, i, options.config_source,
                                                    options.registry, environment));
    const std::string name = profile->scheduler_name();
    profiles.emplace(name, std::move(profile));
  }

  absl::StatusOr<std::vector<std::unique_ptr<Extender>>> extenders =
      MakeExtenders(config);
  if (!extenders.ok()) return Annotate(extenders.status(), options.config_source);
  internal::Algorithm algorithm(options.seed, options.reuse_equivalent_pods,
                                internal::BorrowExtenders(*extenders));
  std::vector<PodPlacement> placements;
  placements.reserve(input.pending.size());
  for (const api::v1::Pod& pod : input.pending) {
    ORCH_ASSIGN_OR_RETURN(PodInfoPtr info, InfoOf(pod));
    const std::string& wanted = pod.spec().scheduler_name();
    auto profile = profiles.find(wanted.empty() ? std::string(kDefaultSchedulerName) : wanted);
    if (profile == profiles.end()) {
      return absl::InvalidArgumentError(fmt::format(
          "pod {}: spec.schedulerName: no profile named \"{}\"", PodKey(pod), wanted));
    }
    CycleState state;
    ORCH_ASSIGN_OR_RETURN(
        internal::CycleOutcome outcome,
        internal::RunSchedulingCycle(*profile->second, algorithm, cache, state, info,
                                     options.keep_scores));
    placements.push_back(Describe(*info, outcome, *profile->second));
  }
  return placements;
}

}  // namespace orch::scheduler
