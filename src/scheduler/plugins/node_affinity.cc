// NodeAffinity: spec.nodeSelector and spec.affinity.nodeAffinity.
//
//   PreFilter  parses the pod's required affinity once; when every required term pins
//              metadata.name, narrows the candidates to those nodes.
//   Filter     the node must match the scheduler-enforced addedAffinity (args) and the
//              pod's nodeSelector and required terms. Both failures are Unresolvable.
//   Score      the sum of the weights of the preferred terms (the pod's and the args')
//              the node matches, normalized so that the best node scores 100.
#include <optional>

#include "orch/base/string_map.h"
#include "orch/base/status.h"
#include "orch/scheduler/config.pb.h"
#include "scheduler/plugins/factories.h"
#include "scheduler/plugins/node_selector.h"

namespace orch::scheduler::plugins {
namespace {

constexpr std::string_view kPreFilterStateKey = "PreFilterNodeAffinity";
constexpr std::string_view kPreScoreStateKey = "PreScoreNodeAffinity";

constexpr std::string_view kReasonPod = "node(s) didn't match Pod's node affinity/selector";
constexpr std::string_view kReasonEnforced =
    "node(s) didn't match scheduler-enforced node affinity";
constexpr std::string_view kReasonConflict = "pod affinity terms conflict";

struct PreFilterState final : CycleState::Data {
  explicit PreFilterState(const api::v1::Pod& pod) : required(pod) {}
  RequiredNodeAffinity required;
  std::unique_ptr<Data> Clone() const override { return std::make_unique<PreFilterState>(*this); }
};

struct PreScoreState final : CycleState::Data {
  PreferredSchedulingTerms preferred;
  std::unique_ptr<Data> Clone() const override { return std::make_unique<PreScoreState>(*this); }
};

std::string_view ToStd(absl::string_view s) { return std::string_view(s.data(), s.size()); }

const api::v1::NodeAffinity* PodNodeAffinity(const api::v1::Pod& pod) {
  const api::v1::PodSpec& spec = pod.spec();
  if (!spec.has_affinity() || !spec.affinity().has_node_affinity()) return nullptr;
  return &spec.affinity().node_affinity();
}

const api::v1::NodeSelector* PodRequiredNodeSelector(const api::v1::Pod& pod) {
  const api::v1::NodeAffinity* affinity = PodNodeAffinity(pod);
  if (affinity == nullptr || !affinity->has_required_during_scheduling_ignored_during_execution()) {
    return nullptr;
  }
  return &affinity->required_during_scheduling_ignored_during_execution();
}

// The node names every required term pins through `metadata.name In (...)`: per term the
// intersection of its In lists, across terms the union. nullopt when some term does not
// pin names (then any node may match).
std::optional<StringSet> PinnedNodeNames(
    const api::v1::NodeSelector& required) {
  StringSet names;
  for (const api::v1::NodeSelectorTerm& term : required.node_selector_terms()) {
    std::optional<StringSet> term_names;
    for (const api::v1::NodeSelectorRequirement& r : term.match_fields()) {
      if (r.key() != "metadata.name" || r.operator_() != "In") continue;
      StringSet values(r.values().begin(), r.values().end());
      if (!term_names.has_value()) {
        term_names = std::move(values);
      } else {
        absl::erase_if(*term_names, [&](const std::string& n) { return !values.contains(n); });
      }
    }
    if (!term_names.has_value()) return std::nullopt;
    names.insert(term_names->begin(), term_names->end());
  }
  return names;
}

class NodeAffinity final : public PreFilterPlugin,
                           public FilterPlugin,
                           public PreScorePlugin,
                           public ScorePlugin,
                           public EnqueueExtensions {
 public:
  NodeAffinity(std::optional<NodeSelector> added_required,
               std::optional<PreferredSchedulingTerms> added_preferred)
      : added_required_(std::move(added_required)),
        added_preferred_(std::move(added_preferred)) {}

  std::string_view Name() const override { return kNodeAffinity; }

  Status PreFilter(CycleState& state, const PodInfo& pod, PreFilterResult* result) override {
    const api::v1::NodeSelector* required = PodRequiredNodeSelector(pod.pod());
    if (required == nullptr && !added_required_.has_value() &&
        pod.pod().spec().node_selector().empty()) {
      return Status::Skip();
    }
    state.Write(kPreFilterStateKey, std::make_unique<PreFilterState>(pod.pod()));
    if (required == nullptr || required->node_selector_terms().empty()) return Status();

    std::optional<StringSet> names = PinnedNodeNames(*required);
    if (!names.has_value()) return Status();
    if (names->empty()) return Status::Unresolvable(std::string(kReasonConflict));
    result->all_nodes = false;
    result->node_names = *std::move(names);
    return Status();
  }

  Status Filter(CycleState& state, const PodInfo& pod, const NodeInfo& node) const override {
    if (added_required_.has_value() && !added_required_->Matches(node.node())) {
      return Status::Unresolvable(std::string(kReasonEnforced));
    }
    const PreFilterState* s = state.Read<PreFilterState>(kPreFilterStateKey);
    const bool matches = s != nullptr ? s->required.Matches(node.node())
                                      : RequiredNodeAffinity(pod.pod()).Matches(node.node());
    if (!matches) return Status::Unresolvable(std::string(kReasonPod));
    return Status();
  }

  Status PreScore(CycleState& state, const PodInfo& pod,
                  const std::vector<const NodeInfo*>& feasible) override {
    absl::StatusOr<std::optional<PreferredSchedulingTerms>> preferred = PodPreferredTerms(pod);
    if (!preferred.ok()) return Status::Error(std::string(preferred.status().message()));
    if (!preferred->has_value() && !added_preferred_.has_value()) return Status::Skip();
    auto data = std::make_unique<PreScoreState>();
    if (preferred->has_value()) data->preferred = **std::move(preferred);
    state.Write(kPreScoreStateKey, std::move(data));
    return Status();
  }

  Status Score(CycleState& state, const PodInfo& pod, const NodeInfo& node,
               int64_t* score) const override {
    int64_t count = added_preferred_.has_value() ? added_preferred_->Score(node.node()) : 0;
    const PreScoreState* s = state.Read<PreScoreState>(kPreScoreStateKey);
    if (s != nullptr) {
      count += s->preferred.Score(node.node());
    } else {
      absl::StatusOr<std::optional<PreferredSchedulingTerms>> preferred = PodPreferredTerms(pod);
      if (!preferred.ok()) return Status::Error(std::string(preferred.status().message()));
      if (preferred->has_value()) count += (*preferred)->Score(node.node());
    }
    *score = count;
    return Status();
  }

  Normalization normalization() const override { return Normalization::kDefault; }

  std::vector<ClusterEvent> EventsToRegister() const override {
    return {{EventResource::kNode, kAdd | kUpdateNodeLabel}};
  }

 private:
  // nullopt when the pod has no preferred node affinity terms.
  static absl::StatusOr<std::optional<PreferredSchedulingTerms>> PodPreferredTerms(
      const PodInfo& pod) {
    const api::v1::NodeAffinity* affinity = PodNodeAffinity(pod.pod());
    if (affinity == nullptr ||
        affinity->preferred_during_scheduling_ignored_during_execution().empty()) {
      return std::nullopt;
    }
    return PreferredSchedulingTerms::Parse(
        affinity->preferred_during_scheduling_ignored_during_execution(),
        "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution");
  }

  const std::optional<NodeSelector> added_required_;
  const std::optional<PreferredSchedulingTerms> added_preferred_;
};

}  // namespace

FactoryResult NewNodeAffinity(const PluginArgs& args, Handle& handle) {
  ::orch::scheduler::v1::NodeAffinityArgs parsed;
  ORCH_RETURN_IF_ERROR(args.DecodeInto(parsed));
  std::optional<NodeSelector> added_required;
  std::optional<PreferredSchedulingTerms> added_preferred;
  if (parsed.has_added_affinity()) {
    const api::v1::NodeAffinity& added = parsed.added_affinity();
    if (added.has_required_during_scheduling_ignored_during_execution()) {
      absl::StatusOr<NodeSelector> selector =
          NodeSelector::Parse(added.required_during_scheduling_ignored_during_execution(),
                              "addedAffinity.requiredDuringSchedulingIgnoredDuringExecution");
      if (!selector.ok()) return args.Invalid("", ToStd(selector.status().message()));
      added_required = *std::move(selector);
    }
    if (!added.preferred_during_scheduling_ignored_during_execution().empty()) {
      absl::StatusOr<PreferredSchedulingTerms> terms = PreferredSchedulingTerms::Parse(
          added.preferred_during_scheduling_ignored_during_execution(),
          "addedAffinity.preferredDuringSchedulingIgnoredDuringExecution");
      if (!terms.ok()) return args.Invalid("", ToStd(terms.status().message()));
      added_preferred = *std::move(terms);
    }
  }
  return std::make_unique<NodeAffinity>(std::move(added_required), std::move(added_preferred));
}

}  // namespace orch::scheduler::plugins
