// Factories of the in-tree plugins, by the names Kubernetes gives them. Registry::InTree()
// registers each one; nothing else calls them.
#ifndef ORCH_SRC_SCHEDULER_PLUGINS_FACTORIES_H_
#define ORCH_SRC_SCHEDULER_PLUGINS_FACTORIES_H_

#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "fmt/format.h"
#include "orch/scheduler/framework.h"
#include "orch/scheduler/registry.h"

namespace orch::scheduler::plugins {

using FactoryResult = absl::StatusOr<std::unique_ptr<Plugin>>;

inline constexpr std::string_view kPrioritySort = "PrioritySort";
inline constexpr std::string_view kNodeUnschedulable = "NodeUnschedulable";
inline constexpr std::string_view kNodeName = "NodeName";
inline constexpr std::string_view kTaintToleration = "TaintToleration";
inline constexpr std::string_view kNodeAffinity = "NodeAffinity";
inline constexpr std::string_view kNodePorts = "NodePorts";
inline constexpr std::string_view kNodeResourcesFit = "NodeResourcesFit";
inline constexpr std::string_view kBalancedAllocation = "NodeResourcesBalancedAllocation";
inline constexpr std::string_view kImageLocality = "ImageLocality";
inline constexpr std::string_view kPodTopologySpread = "PodTopologySpread";
inline constexpr std::string_view kInterPodAffinity = "InterPodAffinity";
inline constexpr std::string_view kDefaultPreemption = "DefaultPreemption";
inline constexpr std::string_view kDefaultBinder = "DefaultBinder";

// The Error of a Filter or Score whose plugin's PreFilter or PreScore state is missing,
// in kube-scheduler's words.
inline Status MissingState(std::string_view key) {
  return Status::Error(fmt::format("reading \"{}\" from cycleState: not found", key));
}

// What DefaultBinder leaves in the binding cycle's state when it bound the pod against its
// own resourceVersion: the version its bind wrote, by which the scheduler's cache knows the
// bound pod the informer brings back as exactly the one it assumed plus the binding
// (SchedulerCache::ConfirmOwnBind).
inline constexpr std::string_view kBoundVersionKey = "DefaultBinder.boundVersion";
struct BoundVersion final : CycleState::Data {
  std::string resource_version;
  std::unique_ptr<Data> Clone() const override { return std::make_unique<BoundVersion>(*this); }
};

FactoryResult NewPrioritySort(const PluginArgs& args, Handle& handle);
FactoryResult NewNodeUnschedulable(const PluginArgs& args, Handle& handle);
FactoryResult NewNodeName(const PluginArgs& args, Handle& handle);
FactoryResult NewTaintToleration(const PluginArgs& args, Handle& handle);
FactoryResult NewNodeAffinity(const PluginArgs& args, Handle& handle);
FactoryResult NewNodePorts(const PluginArgs& args, Handle& handle);
FactoryResult NewNodeResourcesFit(const PluginArgs& args, Handle& handle);
FactoryResult NewBalancedAllocation(const PluginArgs& args, Handle& handle);
FactoryResult NewImageLocality(const PluginArgs& args, Handle& handle);
FactoryResult NewPodTopologySpread(const PluginArgs& args, Handle& handle);
FactoryResult NewInterPodAffinity(const PluginArgs& args, Handle& handle);
FactoryResult NewDefaultPreemption(const PluginArgs& args, Handle& handle);
FactoryResult NewDefaultBinder(const PluginArgs& args, Handle& handle);

}  // namespace orch::scheduler::plugins

#endif  // ORCH_SRC_SCHEDULER_PLUGINS_FACTORIES_H_
