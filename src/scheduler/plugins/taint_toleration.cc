// TaintToleration: a pod may not run where a NoSchedule or NoExecute taint is not tolerated
// (Unresolvable: preemption cannot remove a taint), and prefers nodes with fewer
// PreferNoSchedule taints it does not tolerate (scored by count, reversed on
// normalization so that fewer is better).
#include "fmt/format.h"
#include "scheduler/plugins/factories.h"
#include "scheduler/plugins/taints.h"

namespace orch::scheduler::plugins {
namespace {

constexpr std::string_view kPreScoreStateKey = "PreScoreTaintToleration";

// The pod's tolerations that can tolerate a PreferNoSchedule taint (that effect, or any).
struct PreScoreState final : CycleState::Data {
  std::vector<const api::v1::Toleration*> prefer_no_schedule;
  std::unique_ptr<Data> Clone() const override { return std::make_unique<PreScoreState>(*this); }
};

std::vector<const api::v1::Toleration*> PreferNoScheduleTolerations(const api::v1::Pod& pod) {
  std::vector<const api::v1::Toleration*> tolerations;
  for (const api::v1::Toleration& t : pod.spec().tolerations()) {
    if (t.effect().empty() || t.effect() == kEffectPreferNoSchedule) tolerations.push_back(&t);
  }
  return tolerations;
}

int64_t CountIntolerablePreferNoSchedule(
    const api::v1::Node& node, const std::vector<const api::v1::Toleration*>& tolerations) {
  int64_t count = 0;
  for (const api::v1::Taint& taint : node.spec().taints()) {
    if (taint.effect() != kEffectPreferNoSchedule) continue;
    if (!AnyTolerates(tolerations, taint.key(), taint.value(), taint.effect())) ++count;
  }
  return count;
}

class TaintToleration final : public FilterPlugin,
                              public PreScorePlugin,
                              public ScorePlugin,
                              public EnqueueExtensions {
 public:
  std::string_view Name() const override { return kTaintToleration; }

  Status Filter(CycleState& state, const PodInfo& pod, const NodeInfo& node) const override {
    if (!node.has_taints()) return Status();
    const api::v1::Taint* taint =
        FindUntoleratedScheduleTaint(node.node().spec().taints(), pod.pod().spec().tolerations());
    if (taint == nullptr) return Status();
    return Status::Unresolvable(
        fmt::format("node(s) had untolerated taint {{{}: {}}}", taint->key(), taint->value()));
  }

  Status FilterNodes(CycleState& state, const PodInfo& pod, std::vector<const NodeInfo*>& nodes,
                     NodeFailures& failed) const override {
    return KeepFeasible(
        nodes, failed, [](const NodeInfo& node) { return !node.has_taints(); },
        [&](const NodeInfo& node) { return Filter(state, pod, node); });
  }

  Status PreScore(CycleState& state, const PodInfo& pod,
                  const std::vector<const NodeInfo*>& feasible) override {
    auto data = std::make_unique<PreScoreState>();
    data->prefer_no_schedule = PreferNoScheduleTolerations(pod.pod());
    state.Write(kPreScoreStateKey, std::move(data));
    return Status();
  }

  Status Score(CycleState& state, const PodInfo& pod, const NodeInfo& node,
               int64_t* score) const override {
    if (!node.has_taints()) {
      *score = 0;
      return Status();
    }
    const PreScoreState* s = state.Read<PreScoreState>(kPreScoreStateKey);
    if (s == nullptr) {
      *score = CountIntolerablePreferNoSchedule(node.node(), PreferNoScheduleTolerations(pod.pod()));
    } else {
      *score = CountIntolerablePreferNoSchedule(node.node(), s->prefer_no_schedule);
    }
    return Status();
  }

  // Most nodes have no taints: they score 0 without a call each.
  Status ScoreNodes(CycleState& state, const PodInfo& pod, absl::Span<const NodeInfo* const> nodes,
                    absl::Span<int64_t> scores) const override {
    for (size_t i = 0; i < nodes.size(); ++i) {
      scores[i] = 0;
      if (nodes[i]->has_taints()) (void)Score(state, pod, *nodes[i], &scores[i]);
    }
    return Status();
  }

  Normalization normalization() const override { return Normalization::kDefaultReverse; }

  std::vector<ClusterEvent> EventsToRegister() const override {
    return {{EventResource::kNode, kAdd | kUpdateNodeTaint}};
  }
};

}  // namespace

FactoryResult NewTaintToleration(const PluginArgs& args, Handle& handle) {
  return std::make_unique<TaintToleration>();
}

}  // namespace orch::scheduler::plugins
