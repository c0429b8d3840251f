// NodeUnschedulable: keeps pods off cordoned nodes (spec.unschedulable), unless the pod
// tolerates the node.kubernetes.io/unschedulable:NoSchedule taint that marks them.
#include "scheduler/plugins/factories.h"
#include "scheduler/plugins/taints.h"

namespace orch::scheduler::plugins {
namespace {

constexpr std::string_view kReasonUnschedulable = "node(s) were unschedulable";

class NodeUnschedulable final : public FilterPlugin, public EnqueueExtensions {
 public:
  std::string_view Name() const override { return kNodeUnschedulable; }

  Status Filter(CycleState& state, const PodInfo& pod, const NodeInfo& node) const override {
    if (!node.unschedulable()) return Status();
    if (AnyTolerates(pod.pod().spec().tolerations(), api::kTaintNodeUnschedulable, "",
                     kEffectNoSchedule)) {
      return Status();
    }
    return Status::Unresolvable(std::string(kReasonUnschedulable));
  }

  Status FilterNodes(CycleState& state, const PodInfo& pod, std::vector<const NodeInfo*>& nodes,
                     NodeFailures& failed) const override {
    return KeepFeasible(
        nodes, failed, [](const NodeInfo& node) { return !node.unschedulable(); },
        [&](const NodeInfo& node) { return Filter(state, pod, node); });
  }

  // A node added, or one whose spec.unschedulable changed (Kubernetes counts that as a
  // taint update). The pod's own toleration updates requeue it anyway.
  std::vector<ClusterEvent> EventsToRegister() const override {
    return {{EventResource::kNode, kAdd | kUpdateNodeTaint}};
  }
};

}  // namespace

FactoryResult NewNodeUnschedulable(const PluginArgs& args, Handle& handle) {
  return std::make_unique<NodeUnschedulable>();
}

}  // namespace orch::scheduler::plugins
