// NodePorts: a pod's host ports must be free on the node. A conflict is Unschedulable
// (preempting the pod that holds the port can free it).
#include "scheduler/plugins/factories.h"

namespace orch::scheduler::plugins {
namespace {

constexpr std::string_view kReasonNodePorts =
    "node(s) didn't have free ports for the requested pod ports";

class NodePorts final : public PreFilterPlugin, public FilterPlugin, public EnqueueExtensions {
 public:
  std::string_view Name() const override { return kNodePorts; }

  // The pod's host ports are precomputed in its PodInfo; nothing to do without any.
  Status PreFilter(CycleState& state, const PodInfo& pod, PreFilterResult* result) override {
    return pod.host_ports().empty() ? Status::Skip() : Status();
  }

  Status Filter(CycleState& state, const PodInfo& pod, const NodeInfo& node) const override {
    for (const HostPort& wanted : pod.host_ports()) {
      for (const HostPort& used : node.used_ports()) {
        if (wanted.ConflictsWith(used)) return Status::Unschedulable(std::string(kReasonNodePorts));
      }
    }
    return Status();
  }

  std::vector<ClusterEvent> EventsToRegister() const override {
    return {{EventResource::kPod, kDelete}, {EventResource::kNode, kAdd}};
  }
};

}  // namespace

FactoryResult NewNodePorts(const PluginArgs& args, Handle& handle) {
  return std::make_unique<NodePorts>();
}

}  // namespace orch::scheduler::plugins
