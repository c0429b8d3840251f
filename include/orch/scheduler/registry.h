// Registry: plugin factories by name, and the arguments a factory receives.
//
// A profile names its plugins (config.h); the scheduler looks each name up here and calls
// the factory once per profile with that plugin's pluginConfig args. Registration is
// explicit — nothing registers itself from a static initializer, which static libraries
// would drop. Start from Registry::InTree() and add your own:
//
//   orch::scheduler::Registry registry = orch::scheduler::Registry::InTree();
//   ORCH_RETURN_IF_ERROR(registry.Register("GpuPacking", &NewGpuPacking));
//
// Thread safety: a Registry is a plain value; concurrent const use is safe.
#ifndef ORCH_SCHEDULER_REGISTRY_H_
#define ORCH_SCHEDULER_REGISTRY_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/struct.pb.h"
#include "orch/scheduler/framework.h"

namespace orch::scheduler {

// A plugin's pluginConfig args, as the config file held them.
class PluginArgs {
 public:
  PluginArgs() = default;
  // `source` names where the args came from in error messages, e.g.
  // "sched.yaml: profiles[0].pluginConfig[1].args".
  PluginArgs(google::protobuf::Struct args, std::string source)
      : args_(std::move(args)), source_(std::move(source)) {}

  // Decodes the args into the plugin's own message, as strictly as a manifest: an unknown
  // field or a wrong type is kInvalidArgument "SOURCE: FIELD.PATH: problem". No args leave
  // `message` cleared (its defaults).
  absl::Status DecodeInto(google::protobuf::Message& message) const;
  // An error about the args' content, in the same shape: "SOURCE: FIELD: problem".
  absl::Status Invalid(std::string_view field, std::string_view problem) const;

  const google::protobuf::Struct& raw() const { return args_; }
  const std::string& source() const { return source_; }

 private:
  google::protobuf::Struct args_;
  std::string source_;
};

// Makes one plugin instance. `handle` outlives the plugin. kInvalidArgument for bad args.
using PluginFactory =
    std::function<absl::StatusOr<std::unique_ptr<Plugin>>(const PluginArgs& args, Handle& handle)>;

class Registry {
 public:
  // Kubernetes' in-tree plugins that orch implements: PrioritySort, NodeUnschedulable,
  // NodeName, TaintToleration, NodeAffinity, NodePorts, NodeResourcesFit,
  // NodeResourcesBalancedAllocation, PodTopologySpread, InterPodAffinity, ImageLocality,
  // DefaultPreemption, DefaultBinder.
  static Registry InTree();

  // kAlreadyExists if `name` is taken; kInvalidArgument for an empty name or factory.
  absl::Status Register(std::string name, PluginFactory factory);
  // nullptr if no plugin has that name.
  const PluginFactory* Find(std::string_view name) const;
  std::vector<std::string> Names() const;  // sorted

 private:
  std::map<std::string, PluginFactory, std::less<>> factories_;
};

}  // namespace orch::scheduler

#endif  // ORCH_SCHEDULER_REGISTRY_H_
