#include "orch/scheduler/registry.h"

#include <utility>

#include "fmt/format.h"
#include "scheduler/plugins/factories.h"

namespace orch::scheduler {

Registry Registry::InTree() {
  using namespace plugins;  // NOLINT: the factories' own namespace
  Registry registry;
  const std::pair<std::string_view, PluginFactory> in_tree[] = {
      {kPrioritySort, &NewPrioritySort},
      {kNodeUnschedulable, &NewNodeUnschedulable},
      {kNodeName, &NewNodeName},
      {kTaintToleration, &NewTaintToleration},
      {kNodeAffinity, &NewNodeAffinity},
      {kNodePorts, &NewNodePorts},
      {kNodeResourcesFit, &NewNodeResourcesFit},
      {kBalancedAllocation, &NewBalancedAllocation},
      {kImageLocality, &NewImageLocality},
      {kPodTopologySpread, &NewPodTopologySpread},
      {kInterPodAffinity, &NewInterPodAffinity},
      {kDefaultPreemption, &NewDefaultPreemption},
      {kDefaultBinder, &NewDefaultBinder},
  };
  for (const auto& [name, factory] : in_tree) {
    registry.factories_.emplace(std::string(name), factory);
  }
  return registry;
}

absl::Status Registry::Register(std::string name, PluginFactory factory) {
  if (name.empty()) return absl::InvalidArgumentError("plugin name: must not be empty");
  if (!factory) {
    return absl::InvalidArgumentError(fmt::format("plugin \"{}\": factory is empty", name));
  }
  if (factories_.contains(name)) {
    return absl::AlreadyExistsError(
        fmt::format("a plugin named \"{}\" already exists in the registry", name));
  }
  factories_.emplace(std::move(name), std::move(factory));
  return absl::OkStatus();
}

const PluginFactory* Registry::Find(std::string_view name) const {
  auto it = factories_.find(name);
  return it == factories_.end() ? nullptr : &it->second;
}

std::vector<std::string> Registry::Names() const {
  std::vector<std::string> names;
  names.reserve(factories_.size());
  for (const auto& [name, factory] : factories_) names.push_back(name);
  return names;
}

}  // namespace orch::scheduler
