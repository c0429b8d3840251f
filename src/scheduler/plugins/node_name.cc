// NodeName: a pod that names its node (spec.nodeName) fits only there. PreFilter narrows
// the candidates to that node, so the other nodes are not even filtered.
#include "scheduler/plugins/factories.h"

namespace orch::scheduler::plugins {
namespace {

constexpr std::string_view kReasonNodeName = "node(s) didn't match the requested node name";

class NodeName final : public PreFilterPlugin, public FilterPlugin, public EnqueueExtensions {
 public:
  std::string_view Name() const override { return kNodeName; }

  Status PreFilter(CycleState& state, const PodInfo& pod, PreFilterResult* result) override {
    const std::string& wanted = pod.pod().spec().node_name();
    if (wanted.empty()) return Status::Skip();  // every node fits
    result->all_nodes = false;
    result->node_names.insert(wanted);
    return Status();
  }

  Status Filter(CycleState& state, const PodInfo& pod, const NodeInfo& node) const override {
    const std::string& wanted = pod.pod().spec().node_name();
    if (wanted.empty() || wanted == node.name()) return Status();
    return Status::Unresolvable(std::string(kReasonNodeName));
  }

  std::vector<ClusterEvent> EventsToRegister() const override {
    return {{EventResource::kNode, kAdd}};
  }
};

}  // namespace

FactoryResult NewNodeName(const PluginArgs& args, Handle& handle) {
  return std::make_unique<NodeName>();
}

}  // namespace orch::scheduler::plugins
