#include "node/container_config.h"

#include <algorithm>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/str_join.h"
#include "api/expansion.h"
#include "fmt/format.h"
#include "orch/api/quantity.h"
#include "orch/base/status.h"

namespace orch::node::internal {

namespace v1 = ::orch::api::v1;
using api::Quantity;
using ResourceList = google::protobuf::Map<std::string, v1::Quantity>;

namespace {

constexpr int64_t kMinShares = 2;
constexpr int64_t kMaxShares = 262144;
constexpr int64_t kSharesPerCpu = 1024;
constexpr int64_t kMinQuota = 1000;  // 1 ms, the kernel's least CFS quota
constexpr int64_t kGuaranteedOomScoreAdj = -997;
constexpr int64_t kBestEffortOomScoreAdj = 1000;
constexpr char kNodeCritical[] = "system-node-critical";

int64_t Saturate(__int128 value) {
  if (value > std::numeric_limits<int64_t>::max()) return std::numeric_limits<int64_t>::max();
  if (value < std::numeric_limits<int64_t>::min()) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(value);
}

absl::Status Unresolvable(std::string message) {
  return absl::FailedPreconditionError(std::move(message));
}

// A quantity of `list`, or nullopt when it has none or it does not parse (LinuxResources
// reports a bad one; everything else reads around it, as around a missing one).
std::optional<Quantity> Get(const ResourceList& list, const std::string& name) {
  auto it = list.find(name);
  if (it == list.end()) return std::nullopt;
  absl::StatusOr<Quantity> q = Quantity::FromProto(it->second);
  if (!q.ok()) return std::nullopt;
  return *q;
}

// The container's request of `name` as the API server defaults it: its limit when it sets
// none.
std::optional<Quantity> Request(const v1::Container& c, const std::string& name) {
  std::optional<Quantity> request = Get(c.resources().requests(), name);
  return request.has_value() ? request : Get(c.resources().limits(), name);
}

int64_t MemoryRequest(const v1::Container& c) {
  const std::optional<Quantity> request = Request(c, "memory");
  return request.has_value() ? request->Value() : 0;
}

absl::Status CheckQuantities(const v1::Container& c) {
  auto check = [&](const char* kind, const ResourceList& list) -> absl::Status {
    for (const auto& [name, value] : list) {
      absl::StatusOr<Quantity> q = Quantity::FromProto(value);
      if (!q.ok()) {
        return Unresolvable(fmt::format("container \"{}\": resources.{}[{}]: {}", c.name(), kind,
                                        name, std::string(q.status().message())));
      }
    }
    return absl::OkStatus();
  };
  ORCH_RETURN_IF_ERROR(check("requests", c.resources().requests()));
  return check("limits", c.resources().limits());
}

const v1::Container* FindContainer(const v1::PodSpec& spec, const std::string& name) {
  for (const v1::Container& c : spec.containers()) {
    if (c.name() == name) return &c;
  }
  for (const v1::Container& c : spec.init_containers()) {
    if (c.name() == name) return &c;
  }
  return nullptr;
}

int64_t MemoryCapacity(const ContainerInputs& inputs) {
  if (inputs.allocatable == nullptr) return 0;
  const std::optional<Quantity> memory = Get(*inputs.allocatable, "memory");
  return memory.has_value() ? memory->Value() : 0;
}

// ---------------------------------------------------------------- fieldRef

// Go's %q for a string of UTF-8: quotes, with quotes, backslashes and control bytes escaped.
std::string GoQuote(std::string_view text) {
  std::string out = "\"";
  for (const char ch : text) {
    const auto byte = static_cast<unsigned char>(ch);
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\a': out += "\\a"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\v': out += "\\v"; break;
      default:
        if (byte < 0x20 || byte == 0x7f) {
          out += fmt::format("\\x{:02x}", byte);
        } else {
          out.push_back(ch);
        }
    }
  }
  out += "\"";
  return out;
}

// fieldpath.FormatMap: key="value" lines, keys sorted.
std::string FormatMap(const google::protobuf::Map<std::string, std::string>& map) {
  const std::map<std::string, std::string> sorted(map.begin(), map.end());
  std::vector<std::string> lines;
  lines.reserve(sorted.size());
  for (const auto& [key, value] : sorted) lines.push_back(key + "=" + GoQuote(value));
  return absl::StrJoin(lines, "\n");
}

// fieldpath.SplitMaybeSubscriptedPath: "metadata.labels['app']" -> ("metadata.labels", "app").
bool SplitSubscript(std::string_view path, std::string_view* base, std::string_view* key) {
  if (!path.ends_with("']")) return false;
  path.remove_suffix(2);
  const size_t open = path.find("['");
  if (open == std::string_view::npos || open == 0) return false;
  *base = path.substr(0, open);
  *key = path.substr(open + 2);
  return true;
}

std::string MapValue(const google::protobuf::Map<std::string, std::string>& map,
                     std::string_view key) {
  auto it = map.find(std::string(key));
  return it == map.end() ? "" : it->second;
}

// The kubelet's podFieldSelectorRuntimeValue (with ConvertDownwardAPIFieldLabel and
// ExtractFieldPathAsString).
absl::StatusOr<std::string> FieldRefValue(const v1::ObjectFieldSelector& selector,
                                          const v1::Pod& pod, const ContainerInputs& inputs) {
  if (!selector.api_version().empty() && selector.api_version() != "v1") {
    return Unresolvable(fmt::format("unsupported pod version: {}", selector.api_version()));
  }
  const std::string& path = selector.field_path();
  const v1::ObjectMeta& meta = pod.metadata();
  std::string_view base;
  std::string_view key;
  if (SplitSubscript(path, &base, &key)) {
    if (base == "metadata.annotations") return MapValue(meta.annotations(), key);
    if (base == "metadata.labels") return MapValue(meta.labels(), key);
    return Unresolvable(fmt::format("field label does not support subscript: {}", path));
  }
  if (path == "metadata.annotations") return FormatMap(meta.annotations());
  if (path == "metadata.labels") return FormatMap(meta.labels());
  if (path == "metadata.name") return meta.name();
  if (path == "metadata.namespace") return meta.namespace_();
  if (path == "metadata.uid") return meta.uid();
  if (path == "spec.nodeName" || path == "spec.host") return pod.spec().node_name();
  if (path == "spec.serviceAccountName") {
    return pod.spec().service_account_name().empty() ? pod.spec().service_account()
                                                     : pod.spec().service_account_name();
  }
  if (path == "spec.terminationGracePeriodSeconds") {
    return pod.spec().has_termination_grace_period_seconds()
               ? std::to_string(pod.spec().termination_grace_period_seconds())
               : "30";
  }
  if (path == "status.hostIP" || path == "status.hostIPs") return inputs.host_ip;
  if (path == "status.podIP" || path == "status.podIPs") return inputs.pod_ip;
  // Labels the API accepts for field selectors that the kubelet does not resolve.
  if (path == "spec.restartPolicy" || path == "spec.schedulerName" || path == "status.phase") {
    return Unresolvable(fmt::format("unsupported fieldPath: {}", path));
  }
  return Unresolvable(fmt::format("field label not supported: {}", path));
}

// ---------------------------------------------------------------- resourceFieldRef

// ceil(value / divisor) for positive values, else 0 (resource.convertQuantityToString).
int64_t CeilDiv(int64_t value, int64_t divisor) {
  if (value <= 0 || divisor <= 0) return 0;
  return Saturate((static_cast<__int128>(value) + divisor - 1) / divisor);
}

// The kubelet's containerResourceRuntimeValue over defaultPodLimitsForDownwardAPI: limits
// the container does not set are the node's allocatable.
absl::StatusOr<std::string> ResourceFieldRefValue(const v1::ResourceFieldSelector& selector,
                                                  const v1::Pod& pod,
                                                  const v1::Container& container,
                                                  const ContainerInputs& inputs) {
  const v1::Container* target = &container;
  if (!selector.container_name().empty()) {
    target = FindContainer(pod.spec(), selector.container_name());
    if (target == nullptr) {
      return Unresolvable(fmt::format("container {} not found", selector.container_name()));
    }
  }
  ORCH_RETURN_IF_ERROR(CheckQuantities(*target));
  Quantity divisor = Quantity::FromInt(1);
  if (!selector.divisor().value().empty()) {
    absl::StatusOr<Quantity> parsed = Quantity::FromProto(selector.divisor());
    if (!parsed.ok()) {
      return Unresolvable(fmt::format("divisor: {}", std::string(parsed.status().message())));
    }
    if (!parsed->IsZero()) divisor = *parsed;
  }
  const std::string& resource = selector.resource();
  const size_t dot = resource.find('.');
  const std::string kind = resource.substr(0, dot == std::string::npos ? 0 : dot);
  const std::string name = dot == std::string::npos ? "" : resource.substr(dot + 1);
  const bool known = name == "cpu" || name == "memory" || name == "ephemeral-storage" ||
                     name.starts_with("hugepages-");
  if ((kind != "limits" && kind != "requests") || !known) {
    return Unresolvable(fmt::format("unsupported container resource : {}", resource));
  }
  std::optional<Quantity> value;
  if (kind == "requests") {
    value = Request(*target, name);
  } else {
    value = Get(target->resources().limits(), name);
    // Hugepages are never overcommitted: a container using them sets their limit.
    const bool merged = name == "cpu" || name == "memory" || name == "ephemeral-storage";
    if (merged && (!value.has_value() || value->IsZero()) && inputs.allocatable != nullptr) {
      if (std::optional<Quantity> node = Get(*inputs.allocatable, name)) value = node;
    }
  }
  const Quantity amount = value.value_or(Quantity());
  const int64_t result = name == "cpu" ? CeilDiv(amount.MilliValue(), divisor.MilliValue())
                                       : CeilDiv(amount.Value(), divisor.Value());
  return std::to_string(result);
}

// ---------------------------------------------------------------- env

// The value of one valueFrom; nullopt for an optional reference that is skipped.
absl::StatusOr<std::optional<std::string>> ValueFrom(const v1::EnvVarSource& source,
                                                     const v1::Pod& pod,
                                                     const v1::Container& container,
                                                     const ContainerInputs& inputs) {
  const std::string& ns = pod.metadata().namespace_();
  if (source.has_field_ref()) {
    ORCH_ASSIGN_OR_RETURN(std::string value, FieldRefValue(source.field_ref(), pod, inputs));
    return std::optional<std::string>(std::move(value));
  }
  if (source.has_resource_field_ref()) {
    ORCH_ASSIGN_OR_RETURN(std::string value,
                          ResourceFieldRefValue(source.resource_field_ref(), pod, container, inputs));
    return std::optional<std::string>(std::move(value));
  }
  if (source.has_config_map_key_ref()) {
    const v1::ConfigMapKeySelector& ref = source.config_map_key_ref();
    if (ref.optional()) return std::nullopt;
    return Unresolvable(fmt::format(
        "configMapKeyRef to key \"{}\" of ConfigMap {}/{} can't be resolved: orch has no "
        "ConfigMap objects (a reference marked optional: true is skipped)",
        ref.key(), ns, ref.name()));
  }
  if (source.has_secret_key_ref()) {
    const v1::SecretKeySelector& ref = source.secret_key_ref();
    if (ref.optional()) return std::nullopt;
    return Unresolvable(fmt::format(
        "secretKeyRef to key \"{}\" of Secret {}/{} can't be resolved: orch has no Secret "
        "objects (a reference marked optional: true is skipped)",
        ref.key(), ns, ref.name()));
  }
  return std::optional<std::string>("");  // an empty valueFrom: the empty value, as the kubelet gives it
}

absl::Status CheckEnvFrom(const v1::Pod& pod, const v1::Container& container) {
  const std::string& ns = pod.metadata().namespace_();
  for (const v1::EnvFromSource& source : container.env_from()) {
    if (source.has_config_map_ref()) {
      const v1::ConfigMapEnvSource& ref = source.config_map_ref();
      if (ref.optional()) continue;
      return Unresolvable(fmt::format(
          "container \"{}\": envFrom ConfigMap {}/{} can't be resolved: orch has no ConfigMap "
          "objects (a source marked optional: true is skipped)",
          container.name(), ns, ref.name()));
    }
    if (source.has_secret_ref()) {
      const v1::SecretEnvSource& ref = source.secret_ref();
      if (ref.optional()) continue;
      return Unresolvable(fmt::format(
          "container \"{}\": envFrom Secret {}/{} can't be resolved: orch has no Secret "
          "objects (a source marked optional: true is skipped)",
          container.name(), ns, ref.name()));
    }
  }
  return absl::OkStatus();
}

bool IsSidecar(const v1::Pod& pod, const v1::Container& container) {
  if (!container.has_restart_policy() || container.restart_policy() != "Always") return false;
  for (const v1::Container& c : pod.spec().init_containers()) {
    if (c.name() == container.name()) return true;
  }
  return false;
}

int64_t OomScoreFor(int64_t memory_request, int64_t memory_capacity) {
  if (memory_capacity <= 0) return kBestEffortOomScoreAdj;
  return 1000 - Saturate(static_cast<__int128>(1000) * memory_request / memory_capacity);
}

}  // namespace

// ---------------------------------------------------------------- public

absl::StatusOr<std::vector<EnvVar>> ContainerEnvironment(const v1::Pod& pod,
                                                         const v1::Container& container,
                                                         const ContainerInputs& inputs) {
  ORCH_RETURN_IF_ERROR(CheckEnvFrom(pod, container));
  absl::flat_hash_map<std::string, std::string> values;
  std::vector<std::string> order;
  for (const v1::EnvVar& var : container.env()) {
    std::string value = var.value();
    if (!value.empty()) {
      value = api::internal::ExpandVariables(value, values);
    } else if (var.has_value_from()) {
      absl::StatusOr<std::optional<std::string>> resolved =
          ValueFrom(var.value_from(), pod, container, inputs);
      if (!resolved.ok()) {
        return Unresolvable(fmt::format("container \"{}\": env variable \"{}\": {}",
                                        container.name(), var.name(),
                                        std::string(resolved.status().message())));
      }
      if (!resolved->has_value()) continue;  // an optional reference, skipped
      value = **std::move(resolved);
    }
    if (!values.contains(var.name())) order.push_back(var.name());
    values[var.name()] = std::move(value);
  }
  std::vector<EnvVar> env;
  env.reserve(order.size());
  for (std::string& name : order) {
    std::string value = values[name];
    env.push_back({std::move(name), std::move(value)});
  }
  return env;
}

std::string PodQosClass(const v1::Pod& pod) {
  if (!pod.status().qos_class().empty()) return pod.status().qos_class();
  std::map<std::string, Quantity> requests;
  std::map<std::string, Quantity> limits;
  bool guaranteed = true;
  auto add = [&](const v1::Container& c) {
    int limits_found = 0;
    for (const std::string name : {"cpu", "memory"}) {
      const std::optional<Quantity> request = Request(c, name);
      const std::optional<Quantity> limit = Get(c.resources().limits(), name);
      if (request.has_value() && request->Sign() > 0) requests[name].Add(*request);
      if (limit.has_value() && limit->Sign() > 0) {
        ++limits_found;
        limits[name].Add(*limit);
      }
    }
    if (limits_found < 2) guaranteed = false;
  };
  for (const v1::Container& c : pod.spec().containers()) add(c);
  for (const v1::Container& c : pod.spec().init_containers()) add(c);
  if (requests.empty() && limits.empty()) return "BestEffort";
  for (const auto& [name, request] : requests) {
    auto limit = limits.find(name);
    if (limit == limits.end() || limit->second != request) guaranteed = false;
  }
  return guaranteed && requests.size() == limits.size() ? "Guaranteed" : "Burstable";
}

int64_t MilliCpuToShares(int64_t milli_cpu) {
  if (milli_cpu <= 0) return kMinShares;
  const int64_t shares = Saturate(static_cast<__int128>(milli_cpu) * kSharesPerCpu / 1000);
  return std::clamp(shares, kMinShares, kMaxShares);
}

int64_t MilliCpuToQuota(int64_t milli_cpu, int64_t period) {
  if (milli_cpu <= 0) return 0;
  return std::max(kMinQuota, Saturate(static_cast<__int128>(milli_cpu) * period / 1000));
}

int64_t OomScoreAdjust(const v1::Pod& pod, const v1::Container& container,
                       int64_t memory_capacity) {
  if (pod.spec().priority_class_name() == kNodeCritical) return kGuaranteedOomScoreAdj;
  const std::string qos = PodQosClass(pod);
  if (qos == "Guaranteed") return kGuaranteedOomScoreAdj;
  if (qos == "BestEffort") return kBestEffortOomScoreAdj;
  int64_t adjust = OomScoreFor(MemoryRequest(container), memory_capacity);
  // A sidecar is killed no sooner than the pod's regular container that asks least memory.
  if (IsSidecar(pod, container) && pod.spec().containers_size() > 0) {
    int64_t least = MemoryRequest(pod.spec().containers(0));
    for (const v1::Container& c : pod.spec().containers()) least = std::min(least, MemoryRequest(c));
    adjust = std::min(adjust, OomScoreFor(least, memory_capacity));
  }
  // Above a Guaranteed container using all memory (score 3), below BestEffort.
  if (adjust < 1000 + kGuaranteedOomScoreAdj) return 1000 + kGuaranteedOomScoreAdj;
  if (adjust == kBestEffortOomScoreAdj) return adjust - 1;
  return adjust;
}

absl::StatusOr<cri::LinuxContainerResources> LinuxResources(const v1::Pod& pod,
                                                            const v1::Container& container,
                                                            const ContainerInputs& inputs) {
  ORCH_RETURN_IF_ERROR(CheckQuantities(container));
  const ResourceList& limits = container.resources().limits();
  const std::optional<Quantity> cpu_request = Get(container.resources().requests(), "cpu");
  const Quantity cpu_limit = Get(limits, "cpu").value_or(Quantity());
  const int64_t memory_limit = Get(limits, "memory").value_or(Quantity()).Value();
  cri::LinuxContainerResources resources;
  // A limit without a request is the request too, as the API server defaults it. Without
  // either, no shares: the kubelet's 2 shares are relative to siblings inside its kubepods
  // cgroup, and orch has no such hierarchy, so at the top level they would starve the
  // container against everything else on the host; the runtime's default (1024) is fair.
  const Quantity cpu_shares_from =
      !cpu_request.has_value() && !cpu_limit.IsZero() ? cpu_limit
                                                      : cpu_request.value_or(Quantity());
  if (!cpu_shares_from.IsZero()) {
    resources.set_cpu_shares(MilliCpuToShares(cpu_shares_from.MilliValue()));
  }
  if (memory_limit != 0) resources.set_memory_limit_in_bytes(memory_limit);
  resources.set_cpu_period(kCpuPeriod);
  resources.set_cpu_quota(MilliCpuToQuota(cpu_limit.MilliValue(), kCpuPeriod));
  resources.set_oom_score_adj(OomScoreAdjust(pod, container, MemoryCapacity(inputs)));
  return resources;
}

absl::Status ApplyContainerConfig(const v1::Pod& pod, const v1::Container& container,
                                  const ContainerInputs& inputs, cri::ContainerConfig* config) {
  ORCH_ASSIGN_OR_RETURN(std::vector<EnvVar> env, ContainerEnvironment(pod, container, inputs));
  absl::flat_hash_map<std::string, std::string> vars;
  for (const EnvVar& var : env) {
    vars[var.name] = var.value;
    cri::KeyValue* kv = config->add_envs();
    kv->set_key(var.name);
    kv->set_value(var.value);
  }
  for (const std::string& arg : container.command()) {
    config->add_command(api::internal::ExpandVariables(arg, vars));
  }
  for (const std::string& arg : container.args()) config->add_args(api::internal::ExpandVariables(arg, vars));
  ORCH_ASSIGN_OR_RETURN(*config->mutable_linux()->mutable_resources(),
                        LinuxResources(pod, container, inputs));
  return absl::OkStatus();
}

}  // namespace orch::node::internal
