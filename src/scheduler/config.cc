// Loading, defaulting and validating KubeSchedulerConfiguration, and resolving a profile
// into its plugins per extension point, as kube-scheduler does (its v1 defaults.go,
// default_plugins.go mergePluginSet, validation.go, and the framework's multiPoint
// expansion).
#include "orch/scheduler/config.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fmt/format.h"
#include "google/protobuf/util/message_differencer.h"
#include "orch/api/codec.h"
#include "orch/api/validation.h"
#include "orch/base/status.h"
#include "orch/base/string_map.h"
#include "orch/scheduler/extender.h"
#include "scheduler/plugins/factories.h"

namespace orch::scheduler {
namespace {

using google::protobuf::util::MessageDifferencer;

constexpr std::string_view kConfigKind = "KubeSchedulerConfiguration";
constexpr int32_t kDefaultParallelism = 16;
constexpr int64_t kDefaultInitialBackoffSeconds = 1;
constexpr int64_t kDefaultMaxBackoffSeconds = 10;
constexpr int32_t kMinWeight = 1;
constexpr int32_t kMaxWeight = 100;
constexpr std::string_view kAll = "*";

// Kubernetes' default plugins (all enabled through multiPoint), in its order, without the
// volume plugins and SchedulingGates, which orch does not have. Weight 0: not a score
// plugin (or Kubernetes gives none).
struct DefaultPlugin {
  std::string_view name;
  int32_t weight;
};
constexpr DefaultPlugin kDefaultPlugins[] = {
    {plugins::kPrioritySort, 0},       {plugins::kNodeUnschedulable, 0},
    {plugins::kNodeName, 0},           {plugins::kTaintToleration, 3},
    {plugins::kNodeAffinity, 2},       {plugins::kNodePorts, 0},
    {plugins::kNodeResourcesFit, 1},   {plugins::kPodTopologySpread, 2},
    {plugins::kInterPodAffinity, 2},   {plugins::kDefaultPreemption, 0},
    {plugins::kBalancedAllocation, 1}, {plugins::kImageLocality, 1},
    {plugins::kDefaultBinder, 0},
};

std::vector<v1::Plugin> DefaultMultiPoint() {
  std::vector<v1::Plugin> defaults;
  for (const DefaultPlugin& plugin : kDefaultPlugins) {
    v1::Plugin& entry = defaults.emplace_back();
    entry.set_name(std::string(plugin.name));
    if (plugin.weight > 0) entry.set_weight(plugin.weight);
  }
  return defaults;
}

// One extension point of the configuration: its JSON name, where the profile keeps its
// plugin set, and (for points orch runs) the framework point and the resolved list.
struct Point {
  std::string_view json_name;
  const v1::PluginSet& (v1::Plugins::*set)() const;
  std::optional<ExtensionPoint> point;
  std::vector<PluginRef> ResolvedProfile::*resolved;
};
const Point kPoints[] = {
    {"preEnqueue", &v1::Plugins::pre_enqueue, std::nullopt, nullptr},
    {"queueSort", &v1::Plugins::queue_sort, ExtensionPoint::kQueueSort,
     &ResolvedProfile::queue_sort},
    {"preFilter", &v1::Plugins::pre_filter, ExtensionPoint::kPreFilter,
     &ResolvedProfile::pre_filter},
    {"filter", &v1::Plugins::filter, ExtensionPoint::kFilter, &ResolvedProfile::filter},
    {"postFilter", &v1::Plugins::post_filter, ExtensionPoint::kPostFilter,
     &ResolvedProfile::post_filter},
    {"preScore", &v1::Plugins::pre_score, ExtensionPoint::kPreScore, &ResolvedProfile::pre_score},
    {"score", &v1::Plugins::score, ExtensionPoint::kScore, &ResolvedProfile::score},
    {"reserve", &v1::Plugins::reserve, ExtensionPoint::kReserve, &ResolvedProfile::reserve},
    {"permit", &v1::Plugins::permit, ExtensionPoint::kPermit, &ResolvedProfile::permit},
    {"preBind", &v1::Plugins::pre_bind, ExtensionPoint::kPreBind, &ResolvedProfile::pre_bind},
    {"bind", &v1::Plugins::bind, ExtensionPoint::kBind, &ResolvedProfile::bind},
    {"postBind", &v1::Plugins::post_bind, ExtensionPoint::kPostBind, &ResolvedProfile::post_bind},
    {"multiPoint", &v1::Plugins::multi_point, std::nullopt, nullptr},
};

absl::Status Invalid(std::string_view source, std::string_view path, std::string_view problem) {
  return absl::InvalidArgumentError(fmt::format("{}: {}: {}", source, path, problem));
}

std::string Quote(std::string_view text) { return fmt::format("\"{}\"", text); }

const v1::KubeSchedulerProfile& ProfileAt(const v1::KubeSchedulerConfiguration& config, int index) {
  static const v1::KubeSchedulerProfile* const empty = new v1::KubeSchedulerProfile();
  return index >= 0 && index < config.profiles_size() ? config.profiles(index) : *empty;
}

// ---------------------------------------------------------------------------------------
// Merging with the defaults (Kubernetes' mergePluginSet).

struct MergedSet {
  std::vector<v1::Plugin> enabled;
  StringSet disabled;
};

// The defaults minus what `custom` disables ("*": all of them), a default that `custom`
// enables again replaced in place by the custom entry (its weight), then the rest of
// `custom`'s enabled plugins in their order.
MergedSet Merge(const std::vector<v1::Plugin>& defaults, const v1::PluginSet& custom) {
  MergedSet merged;
  for (const v1::Plugin& plugin : custom.disabled()) merged.disabled.insert(plugin.name());
  StringMap<int> custom_index;
  for (int i = 0; i < custom.enabled_size(); ++i) custom_index[custom.enabled(i).name()] = i;
  std::vector<bool> replaced(custom.enabled_size(), false);
  if (!merged.disabled.contains(kAll)) {
    for (const v1::Plugin& plugin : defaults) {
      if (merged.disabled.contains(plugin.name())) continue;
      auto it = custom_index.find(plugin.name());
      if (it == custom_index.end()) {
        merged.enabled.push_back(plugin);
      } else {
        merged.enabled.push_back(custom.enabled(it->second));
        replaced[it->second] = true;
      }
    }
  }
  for (int i = 0; i < custom.enabled_size(); ++i) {
    if (!replaced[i]) merged.enabled.push_back(custom.enabled(i));
  }
  return merged;
}

MergedSet MergedMultiPoint(const v1::KubeSchedulerProfile& profile) {
  return Merge(DefaultMultiPoint(), profile.plugins().multi_point());
}

// ---------------------------------------------------------------------------------------
// Validation (LoadConfig).

// The in-tree plugins whose args have a type: LoadConfig decodes their args strictly so
// that a typo fails at load time, as kube-scheduler's strict decoding does. (Value ranges
// are each plugin's to check when it is built.)
std::unique_ptr<google::protobuf::Message> InTreeArgsMessage(std::string_view plugin) {
  if (plugin == plugins::kNodeResourcesFit) return std::make_unique<v1::NodeResourcesFitArgs>();
  if (plugin == plugins::kBalancedAllocation) {
    return std::make_unique<v1::NodeResourcesBalancedAllocationArgs>();
  }
  if (plugin == plugins::kInterPodAffinity) return std::make_unique<v1::InterPodAffinityArgs>();
  if (plugin == plugins::kPodTopologySpread) {
    return std::make_unique<v1::PodTopologySpreadArgs>();
  }
  if (plugin == plugins::kNodeAffinity) return std::make_unique<v1::NodeAffinityArgs>();
  if (plugin == plugins::kDefaultPreemption) {
    return std::make_unique<v1::DefaultPreemptionArgs>();
  }
  return nullptr;
}

class ConfigValidator {
 public:
  ConfigValidator(std::string_view source, const Registry& registry)
      : source_(source), registry_(registry) {}

  absl::Status Validate(const v1::KubeSchedulerConfiguration& config) const {
    if (config.parallelism() <= 0) {
      return Invalid(source_, "parallelism",
                     fmt::format("invalid value {}: should be an integer value greater than zero",
                                 config.parallelism()));
    }
    ORCH_RETURN_IF_ERROR(Percentage(config.has_percentage_of_nodes_to_score(),
                                    config.percentage_of_nodes_to_score(),
                                    "percentageOfNodesToScore"));
    ORCH_RETURN_IF_ERROR(Backoff(config));
    StringMap<int> names;
    for (int i = 0; i < config.profiles_size(); ++i) {
      const v1::KubeSchedulerProfile& profile = config.profiles(i);
      const std::string path = fmt::format("profiles[{}]", i);
      if (profile.scheduler_name().empty()) {
        return Invalid(source_, path + ".schedulerName", "required");
      }
      auto [it, inserted] = names.emplace(profile.scheduler_name(), i);
      if (!inserted) {
        return Invalid(source_, path + ".schedulerName",
                       fmt::format("duplicate value {} (also profiles[{}].schedulerName)",
                                   Quote(profile.scheduler_name()), it->second));
      }
      ORCH_RETURN_IF_ERROR(Profile(profile, path));
    }
    ORCH_RETURN_IF_ERROR(CommonQueueSort(config));
    return Extenders(config);
  }

 private:
  absl::Status Percentage(bool has, int32_t value, std::string_view path) const {
    if (has && (value < 0 || value > 100)) {
      return Invalid(source_, path,
                     fmt::format("invalid value {}: not in valid range [0-100]", value));
    }
    return absl::OkStatus();
  }

  absl::Status Backoff(const v1::KubeSchedulerConfiguration& config) const {
    if (config.pod_initial_backoff_seconds() <= 0) {
      return Invalid(source_, "podInitialBackoffSeconds",
                     fmt::format("invalid value {}: must be greater than 0",
                                 config.pod_initial_backoff_seconds()));
    }
    if (config.pod_max_backoff_seconds() < config.pod_initial_backoff_seconds()) {
      return Invalid(source_, "podMaxBackoffSeconds",
                     fmt::format("invalid value {}: must be greater than or equal to "
                                 "podInitialBackoffSeconds",
                                 config.pod_max_backoff_seconds()));
    }
    return absl::OkStatus();
  }

  absl::Status Profile(const v1::KubeSchedulerProfile& profile, const std::string& path) const {
    ORCH_RETURN_IF_ERROR(Percentage(profile.has_percentage_of_nodes_to_score(),
                                    profile.percentage_of_nodes_to_score(),
                                    path + ".percentageOfNodesToScore"));
    for (const Point& point : kPoints) {
      ORCH_RETURN_IF_ERROR(PluginSet((profile.plugins().*point.set)(),
                                     fmt::format("{}.plugins.{}", path, point.json_name)));
    }
    StringMap<int> configured;
    for (int i = 0; i < profile.plugin_config_size(); ++i) {
      const v1::PluginConfig& entry = profile.plugin_config(i);
      const std::string entry_path = fmt::format("{}.pluginConfig[{}]", path, i);
      if (entry.name().empty()) return Invalid(source_, entry_path + ".name", "required");
      if (registry_.Find(entry.name()) == nullptr) {
        return Invalid(source_, entry_path + ".name",
                       fmt::format("unknown plugin {}", Quote(entry.name())));
      }
      auto [it, inserted] = configured.emplace(entry.name(), i);
      if (!inserted) {
        return Invalid(source_, entry_path + ".name",
                       fmt::format("duplicate value {} (also {}.pluginConfig[{}])",
                                   Quote(entry.name()), path, it->second));
      }
      if (std::unique_ptr<google::protobuf::Message> args = InTreeArgsMessage(entry.name())) {
        ORCH_RETURN_IF_ERROR(
            PluginArgs(entry.args(), fmt::format("{}: {}.args", source_, entry_path))
                .DecodeInto(*args));
      }
    }
    return absl::OkStatus();
  }

  absl::Status PluginSet(const v1::PluginSet& set, const std::string& path) const {
    StringMap<int> seen;
    for (int i = 0; i < set.enabled_size(); ++i) {
      const v1::Plugin& plugin = set.enabled(i);
      const std::string entry = fmt::format("{}.enabled[{}]", path, i);
      if (plugin.name().empty()) return Invalid(source_, entry + ".name", "required");
      if (registry_.Find(plugin.name()) == nullptr) {
        return Invalid(source_, entry + ".name",
                       fmt::format("unknown plugin {}", Quote(plugin.name())));
      }
      auto [it, inserted] = seen.emplace(plugin.name(), i);
      if (!inserted) {
        return Invalid(source_, entry + ".name",
                       fmt::format("duplicate plugin {} (also enabled[{}])", Quote(plugin.name()),
                                   it->second));
      }
      if (plugin.has_weight() && (plugin.weight() < kMinWeight || plugin.weight() > kMaxWeight)) {
        return Invalid(source_, entry + ".weight",
                       fmt::format("invalid value {}: must be in the range [{}-{}]",
                                   plugin.weight(), kMinWeight, kMaxWeight));
      }
    }
    // A disabled name need not be known: kube-scheduler files disable plugins (volume
    // binding, ...) that orch does not have.
    for (int i = 0; i < set.disabled_size(); ++i) {
      if (set.disabled(i).name().empty()) {
        return Invalid(source_, fmt::format("{}.disabled[{}].name", path, i), "required");
      }
    }
    return absl::OkStatus();
  }

  // One scheduling queue serves every profile, so they must sort it the same way.
  absl::Status CommonQueueSort(const v1::KubeSchedulerConfiguration& config) const {
    if (config.profiles_size() == 0) return absl::OkStatus();
    const v1::KubeSchedulerProfile& first = config.profiles(0);
    const v1::PluginSet& canon = first.plugins().queue_sort();
    if (canon.enabled_size() > 1) {
      return Invalid(source_, "profiles[0].plugins.queueSort.enabled",
                     fmt::format("invalid value {}: only one queue sort plugin can be enabled",
                                 canon.enabled_size()));
    }
    const std::string sort_name = canon.enabled_size() == 1 ? canon.enabled(0).name() : "";
    const google::protobuf::Struct* sort_args = nullptr;
    for (const v1::PluginConfig& entry : first.plugin_config()) {
      if (!sort_name.empty() && entry.name() == sort_name) sort_args = &entry.args();
    }
    for (int i = 1; i < config.profiles_size(); ++i) {
      const v1::KubeSchedulerProfile& profile = config.profiles(i);
      if (!MessageDifferencer::Equals(canon, profile.plugins().queue_sort())) {
        return Invalid(source_, fmt::format("profiles[{}].plugins.queueSort", i),
                       "must be the same for all profiles");
      }
      for (int j = 0; j < profile.plugin_config_size(); ++j) {
        const v1::PluginConfig& entry = profile.plugin_config(j);
        if (sort_name.empty() || entry.name() != sort_name) continue;
        if (sort_args == nullptr || !MessageDifferencer::Equals(*sort_args, entry.args())) {
          return Invalid(source_, fmt::format("profiles[{}].pluginConfig[{}].args", i, j),
                         "queueSort must be the same for all profiles");
        }
      }
    }
    return absl::OkStatus();
  }

  absl::Status Extenders(const v1::KubeSchedulerConfiguration& config) const {
    int binders = 0;
    StringMap<std::string> managed;
    for (int i = 0; i < config.extenders_size(); ++i) {
      const v1::Extender& extender = config.extenders(i);
      const std::string path = fmt::format("extenders[{}]", i);
      if (extender.url_prefix().empty()) return Invalid(source_, path + ".urlPrefix", "required");
      if (!extender.prioritize_verb().empty() && extender.weight() <= 0) {
        return Invalid(source_, path + ".weight",
                       fmt::format("invalid value {}: must have a positive weight applied to it",
                                   extender.weight()));
      }
      absl::StatusOr<absl::Duration> timeout = ExtenderHttpTimeout(extender);
      if (!timeout.ok()) {
        return Invalid(source_, path + ".httpTimeout", std::string(timeout.status().message()));
      }
      if (!extender.bind_verb().empty()) ++binders;
      for (int j = 0; j < extender.managed_resources_size(); ++j) {
        const std::string& name = extender.managed_resources(j).name();
        const std::string name_path = fmt::format("{}.managedResources[{}].name", path, j);
        ORCH_RETURN_IF_ERROR(ExtendedResourceName(name, name_path));
        if (!managed.emplace(name, name_path).second) {
          return Invalid(source_, name_path,
                         fmt::format("invalid value {}: duplicate extender managed resource name",
                                     Quote(name)));
        }
      }
    }
    if (binders > 1) {
      return Invalid(source_, "extenders",
                     fmt::format("found {} extenders implementing bind: only one extender can "
                                 "implement bind",
                                 binders));
    }
    return absl::OkStatus();
  }

  // Kubernetes' extended resource names: a qualified name with a domain prefix outside
  // kubernetes.io ("example.com/gpu"), not a "requests." quota name.
  absl::Status ExtendedResourceName(const std::string& name, const std::string& path) const {
    std::vector<std::string> problems = api::IsQualifiedName(name);
    if (!problems.empty()) {
      return Invalid(source_, path, fmt::format("invalid value {}: {}", Quote(name), problems[0]));
    }
    const bool native =
        name.find('/') == std::string::npos || name.find("kubernetes.io/") != std::string::npos;
    if (native || name.rfind("requests.", 0) == 0) {
      return Invalid(
          source_, path,
          fmt::format("invalid value {}: is an invalid extended resource name", Quote(name)));
    }
    return absl::OkStatus();
  }

  std::string_view source_;
  const Registry& registry_;
};

void ApplyDefaults(v1::KubeSchedulerConfiguration& config) {
  if (!config.has_parallelism()) config.set_parallelism(kDefaultParallelism);
  if (config.profiles_size() == 0) config.add_profiles();
  // Only a lone profile gets the default name; several must each be named.
  if (config.profiles_size() == 1 && config.profiles(0).scheduler_name().empty()) {
    config.mutable_profiles(0)->set_scheduler_name(std::string(kDefaultSchedulerName));
  }
  if (!config.has_pod_initial_backoff_seconds()) {
    config.set_pod_initial_backoff_seconds(kDefaultInitialBackoffSeconds);
  }
  if (!config.has_pod_max_backoff_seconds()) {
    config.set_pod_max_backoff_seconds(kDefaultMaxBackoffSeconds);
  }
}

absl::Status CheckType(const v1::KubeSchedulerConfiguration& config, std::string_view source) {
  if (config.api_version().empty()) return Invalid(source, "apiVersion", "required");
  if (config.api_version() != kConfigApiVersion) {
    return Invalid(source, "apiVersion",
                   fmt::format("unsupported version {} (want {})", Quote(config.api_version()),
                               Quote(kConfigApiVersion)));
  }
  if (config.kind().empty()) return Invalid(source, "kind", "required");
  if (config.kind() != kConfigKind) {
    return Invalid(
        source, "kind",
        fmt::format("unsupported kind {} (want {})", Quote(config.kind()), Quote(kConfigKind)));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------
// Resolution (ResolveProfile).

class ProfileResolver {
 public:
  ProfileResolver(const v1::KubeSchedulerProfile& profile, int index, std::string_view source,
                  const ImplementsFn& implements)
      : profile_(profile),
        source_(source),
        path_(fmt::format("profiles[{}].plugins", index)),
        implements_(implements),
        multi_point_(MergedMultiPoint(profile)) {}

  // The plugins of one extension point, in Kubernetes' order: the point's own enabled
  // plugins that multiPoint also names (overrides, in the point's order), then multiPoint's
  // plugins that implement the point and are not disabled there, then the point's other
  // enabled plugins.
  absl::StatusOr<std::vector<std::string>> Names(const Point& point) const {
    const v1::PluginSet& set = (profile_.plugins().*point.set)();
    const std::string path = fmt::format("{}.{}", path_, point.json_name);
    std::vector<std::string> explicit_names;
    StringSet explicit_set;
    for (int i = 0; i < set.enabled_size(); ++i) {
      const std::string& name = set.enabled(i).name();
      if (!point.point || !implements_(name, *point.point)) {
        return Invalid(source_, fmt::format("{}.enabled[{}].name", path, i),
                       fmt::format("plugin {} does not implement the {} extension point",
                                   Quote(name), point.json_name));
      }
      if (!explicit_set.insert(name).second) {
        return Invalid(source_, fmt::format("{}.enabled[{}].name", path, i),
                       fmt::format("duplicate plugin {}", Quote(name)));
      }
      explicit_names.push_back(name);
    }
    StringSet disabled;
    for (const v1::Plugin& plugin : set.disabled()) disabled.insert(plugin.name());
    if (!point.point || disabled.contains(kAll)) return explicit_names;

    StringSet overrides;
    std::vector<std::string> from_multi_point;
    StringSet from_multi_point_set;
    for (const v1::Plugin& plugin : multi_point_.enabled) {
      const std::string& name = plugin.name();
      if (!implements_(name, *point.point) || disabled.contains(name)) continue;
      if (explicit_set.contains(name)) {
        overrides.insert(name);
        continue;
      }
      if (!from_multi_point_set.insert(name).second) {
        return Invalid(source_, path_ + ".multiPoint",
                       fmt::format("plugin {} is enabled twice", Quote(name)));
      }
      from_multi_point.push_back(name);
    }
    std::vector<std::string> names;
    for (const std::string& name : explicit_names) {
      if (overrides.contains(name)) names.push_back(name);
    }
    names.insert(names.end(), from_multi_point.begin(), from_multi_point.end());
    for (const std::string& name : explicit_names) {
      if (!overrides.contains(name)) names.push_back(name);
    }
    return names;
  }

  // A score plugin's weight: from the score point's own entry, else multiPoint's (which
  // carries the defaults'); unset or 0 is 1.
  int32_t ScoreWeight(const std::string& name) const {
    for (const v1::Plugin& plugin : profile_.plugins().score().enabled()) {
      if (plugin.name() == name) return plugin.weight() > 0 ? plugin.weight() : 1;
    }
    for (const v1::Plugin& plugin : multi_point_.enabled) {
      if (plugin.name() == name) return plugin.weight() > 0 ? plugin.weight() : 1;
    }
    return 1;
  }

 private:
  const v1::KubeSchedulerProfile& profile_;
  std::string_view source_;
  std::string path_;
  const ImplementsFn& implements_;
  MergedSet multi_point_;
};

PluginArgs ArgsFor(const v1::KubeSchedulerProfile& profile, int index, std::string_view source,
                   const std::string& name) {
  for (int i = 0; i < profile.plugin_config_size(); ++i) {
    if (profile.plugin_config(i).name() == name) {
      return PluginArgs(profile.plugin_config(i).args(),
                        fmt::format("{}: profiles[{}].pluginConfig[{}].args", source, index, i));
    }
  }
  return PluginArgs({}, fmt::format("{}: profiles[{}] (default args of {})", source, index, name));
}

}  // namespace

v1::KubeSchedulerConfiguration DefaultConfig() {
  v1::KubeSchedulerConfiguration config;
  config.set_api_version(std::string(kConfigApiVersion));
  config.set_kind(std::string(kConfigKind));
  ApplyDefaults(config);
  return config;
}

absl::StatusOr<v1::KubeSchedulerConfiguration> LoadConfig(std::string_view text,
                                                          std::string_view source,
                                                          const Registry& registry) {
  v1::KubeSchedulerConfiguration config;
  ORCH_RETURN_IF_ERROR(api::DecodeMessage(text, source, config));
  ORCH_RETURN_IF_ERROR(CheckType(config, source));
  return DefaultAndValidateConfig(std::move(config), source, registry);
}

absl::StatusOr<v1::KubeSchedulerConfiguration> DefaultAndValidateConfig(
    v1::KubeSchedulerConfiguration config, std::string_view source, const Registry& registry) {
  ApplyDefaults(config);
  ORCH_RETURN_IF_ERROR(ConfigValidator(source, registry).Validate(config));
  return config;
}

std::vector<std::string> ProfilePluginNames(const v1::KubeSchedulerConfiguration& config,
                                            int index) {
  const v1::KubeSchedulerProfile& profile = ProfileAt(config, index);
  std::vector<std::string> names;
  StringSet seen;
  auto add = [&](const std::string& name) {
    if (seen.insert(name).second) names.push_back(name);
  };
  for (const v1::Plugin& plugin : MergedMultiPoint(profile).enabled) add(plugin.name());
  for (const Point& point : kPoints) {
    for (const v1::Plugin& plugin : (profile.plugins().*point.set)().enabled()) {
      add(plugin.name());
    }
  }
  return names;
}

absl::StatusOr<ResolvedProfile> ResolveProfile(const v1::KubeSchedulerConfiguration& config,
                                               int index, std::string_view source,
                                               const ImplementsFn& implements) {
  // A configuration without profiles (not defaulted) has the default one at index 0.
  const int profiles = std::max(config.profiles_size(), 1);
  if (index < 0 || index >= profiles) {
    return absl::InvalidArgumentError(
        fmt::format("{}: profiles[{}]: no such profile ({} configured)", source, index,
                    config.profiles_size()));
  }
  const v1::KubeSchedulerProfile& profile = ProfileAt(config, index);
  ResolvedProfile resolved;
  resolved.scheduler_name = profile.scheduler_name().empty() ? std::string(kDefaultSchedulerName)
                                                             : profile.scheduler_name();
  resolved.percentage_of_nodes_to_score = profile.has_percentage_of_nodes_to_score()
                                              ? profile.percentage_of_nodes_to_score()
                                              : config.percentage_of_nodes_to_score();
  ProfileResolver resolver(profile, index, source, implements);
  StringSet seen;
  for (const Point& point : kPoints) {
    if (point.json_name == "multiPoint") continue;
    ORCH_ASSIGN_OR_RETURN(std::vector<std::string> names, resolver.Names(point));
    if (point.resolved == nullptr) continue;  // preEnqueue: Names refused any plugin there
    std::vector<PluginRef>& refs = resolved.*point.resolved;
    for (std::string& name : names) {
      const int32_t weight = point.point == ExtensionPoint::kScore ? resolver.ScoreWeight(name) : 1;
      if (seen.insert(name).second) {
        resolved.plugins.emplace_back(name, ArgsFor(profile, index, source, name));
      }
      refs.push_back(PluginRef{std::move(name), weight});
    }
  }
  const std::string path = fmt::format("profiles[{}].plugins", index);
  if (resolved.queue_sort.size() != 1) {
    return Invalid(source, path + ".queueSort",
                   fmt::format("exactly one queue sort plugin must be enabled, found {}",
                               resolved.queue_sort.size()));
  }
  if (resolved.bind.empty()) {
    return Invalid(source, path + ".bind", "at least one bind plugin is needed");
  }
  return resolved;
}

absl::Duration InitialBackoff(const v1::KubeSchedulerConfiguration& config) {
  return absl::Seconds(config.has_pod_initial_backoff_seconds()
                           ? config.pod_initial_backoff_seconds()
                           : kDefaultInitialBackoffSeconds);
}

absl::Duration MaxBackoff(const v1::KubeSchedulerConfiguration& config) {
  return absl::Seconds(config.has_pod_max_backoff_seconds() ? config.pod_max_backoff_seconds()
                                                            : kDefaultMaxBackoffSeconds);
}

}  // namespace orch::scheduler
