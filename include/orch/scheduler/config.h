// Loading the scheduler's configuration (config.proto: KubeSchedulerConfiguration) and
// resolving each profile into the plugins it runs at each extension point.
//
// Resolution follows kube-scheduler: a profile starts from the default plugins (below),
// multiPoint enables a plugin at every extension point it implements, each point's
// `enabled` adds (or re-weights) and `disabled` removes ("*" removes every default at that
// point); a plugin named at a point it does not implement is an error.
//
// Default profile ("default-scheduler"), weights as Kubernetes sets them:
//   queueSort  PrioritySort
//   filter     NodeUnschedulable, NodeName, TaintToleration, NodeAffinity, NodePorts,
//              NodeResourcesFit, PodTopologySpread, InterPodAffinity
//   postFilter DefaultPreemption
//   score      TaintToleration 3, NodeAffinity 2, NodeResourcesFit 1, PodTopologySpread 2,
//              InterPodAffinity 2, NodeResourcesBalancedAllocation 1, ImageLocality 1
//   bind       DefaultBinder
// (and preFilter/preScore/reserve for the plugins that implement them).
//
// Thread safety: functions are reentrant. Errors: kInvalidArgument in the codec's shape,
// "SOURCE: FIELD.PATH: problem", e.g.
//   sched.yaml: profiles[0].plugins.score.enabled[1].name: unknown plugin "Foo"
#ifndef ORCH_SCHEDULER_CONFIG_H_
#define ORCH_SCHEDULER_CONFIG_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "orch/scheduler/config.pb.h"
#include "orch/scheduler/registry.h"

namespace orch::scheduler {

inline constexpr std::string_view kDefaultSchedulerName = "default-scheduler";
inline constexpr std::string_view kConfigApiVersion = "kubescheduler.config.k8s.io/v1";

// The configuration with no file: one default profile.
v1::KubeSchedulerConfiguration DefaultConfig();

// Decodes (strictly, YAML or JSON), defaults and validates a configuration: apiVersion and
// kind, unique schedulerNames, backoff seconds (initial > 0, max >= initial),
// percentageOfNodesToScore 0..100, every plugin name known to `registry` and valid at its
// extension point, weights 1..100 (Kubernetes' bounds), each plugin's args decodable by its
// factory, extenders with urlPrefix and a positive weight when prioritizing.
absl::StatusOr<v1::KubeSchedulerConfiguration> LoadConfig(std::string_view text,
                                                          std::string_view source,
                                                          const Registry& registry);

// The same defaulting and validation for a configuration built in code, with the same
// messages ("SOURCE: profiles[1].schedulerName: duplicate value ..."). apiVersion and kind
// are not checked: they frame a document, and a configuration built in code has none.
// Scheduler::Create and Place run it; a configuration LoadConfig returned passes unchanged.
absl::StatusOr<v1::KubeSchedulerConfiguration> DefaultAndValidateConfig(
    v1::KubeSchedulerConfiguration config, std::string_view source, const Registry& registry);

// One plugin in a resolved profile.
struct PluginRef {
  std::string name;
  int32_t weight = 1;  // meaningful for score plugins
};

// What a profile runs, after merging with the defaults. `args` holds each plugin's
// pluginConfig (empty args for plugins without one).
struct ResolvedProfile {
  std::string scheduler_name;
  int32_t percentage_of_nodes_to_score = 0;  // 0: every node
  std::vector<PluginRef> queue_sort, pre_filter, filter, post_filter, pre_score, score,
      reserve, permit, pre_bind, bind, post_bind;
  // Every plugin named anywhere above, once, in first-use order, with its args.
  std::vector<std::pair<std::string, PluginArgs>> plugins;
};

// Whether plugin `name` implements extension point `point` (the scheduler answers from
// the instances it made).
using ImplementsFn = std::function<bool(std::string_view name, ExtensionPoint point)>;

// Every plugin name profile `index` may use (defaults, multiPoint and each point's
// enabled list), for the caller to instantiate before resolving.
std::vector<std::string> ProfilePluginNames(const v1::KubeSchedulerConfiguration& config,
                                            int index);

// Resolves profile `index` of `config` (which LoadConfig accepted, or DefaultConfig()).
// `source` prefixes error messages.
absl::StatusOr<ResolvedProfile> ResolveProfile(const v1::KubeSchedulerConfiguration& config,
                                               int index, std::string_view source,
                                               const ImplementsFn& implements);

// The queue's backoff bounds from the configuration (defaults 1 s and 10 s).
absl::Duration InitialBackoff(const v1::KubeSchedulerConfiguration& config);
absl::Duration MaxBackoff(const v1::KubeSchedulerConfiguration& config);

}  // namespace orch::scheduler

#endif  // ORCH_SCHEDULER_CONFIG_H_
