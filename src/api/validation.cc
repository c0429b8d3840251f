#include "orch/api/validation.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "fmt/format.h"
#include "orch/api/quantity.h"
#include "orch/api/selector.h"

namespace orch::api {
namespace {

// ---------------------------------------------------------------------------------------
// Printing values as Kubernetes' field errors do (Go's %q and %#v).

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += fmt::format("\\x{:02x}", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out += "\"";
  return out;
}

// Protobuf maps iterate in no fixed order; errors must come out in a stable one.
std::vector<std::pair<std::string, std::string>> SortedEntries(
    const google::protobuf::Map<std::string, std::string>& map) {
  std::vector<std::pair<std::string, std::string>> entries(map.begin(), map.end());
  std::sort(entries.begin(), entries.end());
  return entries;
}

template <typename Map>
std::vector<std::string> SortedKeys(const Map& map) {
  std::vector<std::string> keys;
  for (const auto& entry : map) keys.push_back(entry.first);
  std::sort(keys.begin(), keys.end());
  return keys;
}

// map[string]string{"a":"b", "c":"d"}
std::string PrintStringMap(const google::protobuf::Map<std::string, std::string>& map) {
  std::string out = "map[string]string{";
  bool first = true;
  for (const auto& [key, value] : SortedEntries(map)) {
    if (!first) out += ", ";
    first = false;
    out += Quote(key) + ":" + Quote(value);
  }
  return out + "}";
}

std::string PrintSelector(const v1::LabelSelector& selector) {
  std::string out = "{matchLabels:" + PrintStringMap(selector.match_labels()) + ", matchExpressions:[";
  for (int i = 0; i < selector.match_expressions_size(); ++i) {
    const v1::LabelSelectorRequirement& r = selector.match_expressions(i);
    if (i > 0) out += ", ";
    out += fmt::format("{{key:{}, operator:{}, values:[", Quote(r.key()), Quote(r.operator_()));
    for (int j = 0; j < r.values_size(); ++j) out += (j > 0 ? ", " : "") + Quote(r.values(j));
    out += "]}";
  }
  return out + "]}";
}

std::string PrintIntOrString(const v1::IntOrString& value) {
  return value.value_case() == v1::IntOrString::kIntVal ? std::to_string(value.int_val())
                                                        : value.str_val();
}

std::string Join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += separator;
    out += parts[i];
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Character-level grammar (no std::regex: linear time on any input).

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }

// [a-z0-9]([-a-z0-9]*[a-z0-9])?
bool MatchesDNS1123Label(std::string_view s) {
  if (s.empty() || !IsLowerAlnum(s.front()) || !IsLowerAlnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return IsLowerAlnum(c) || c == '-'; });
}

// label(\.label)*
bool MatchesDNS1123Subdomain(std::string_view s) {
  size_t start = 0;
  while (true) {
    const size_t dot = s.find('.', start);
    if (!MatchesDNS1123Label(s.substr(start, dot == std::string_view::npos ? dot : dot - start))) {
      return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]
bool MatchesQualifiedNamePart(std::string_view s) {
  if (s.empty() || !IsAlnum(s.front()) || !IsAlnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return IsAlnum(c) || c == '-' || c == '_' || c == '.'; });
}

// Kubernetes' RegexError: msg (e.g. 'a',  or 'b', regex used for validation is 'fmt').
std::string RegexError(std::string_view message, std::string_view format,
                       std::initializer_list<std::string_view> examples) {
  std::string out(message);
  out += " (e.g. ";
  bool first = true;
  for (std::string_view example : examples) {
    if (!first) out += " or ";
    first = false;
    out += fmt::format("'{}', ", example);
  }
  return out + fmt::format("regex used for validation is '{}')", format);
}

std::string MaxLenError(int length) {
  return fmt::format("must be no more than {} characters", length);
}

constexpr std::string_view kDNS1123LabelFormat = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
constexpr std::string_view kDNS1123SubdomainFormat =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
constexpr std::string_view kLabelKeyFormat = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
constexpr std::string_view kLabelKeyMessage =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character";
constexpr std::string_view kNonNegative = "must be greater than or equal to 0";
constexpr std::string_view kPositive = "must be greater than zero";
constexpr int64_t kTotalAnnotationSizeLimit = 256 * 1024;

// Kubernetes validates a generateName prefix as a name whose trailing '-' is a letter.
std::string MaskTrailingDash(std::string_view name) {
  std::string out(name);
  if (out.size() > 1 && out.back() == '-') out.back() = 'a';
  return out;
}

// ---------------------------------------------------------------------------------------
// Small shared checks.

void ValidateNonNegative(int64_t value, std::string_view path, FieldErrors& errors) {
  if (value < 0) errors.Invalid(path, value, kNonNegative);
}

void ValidateName(std::string_view value, NameValidator rule, std::string_view path,
                  FieldErrors& errors) {
  for (const std::string& message : rule(value)) errors.Invalid(path, value, message);
}

void ValidateOptionalName(std::string_view value, NameValidator rule, std::string_view path,
                          FieldErrors& errors) {
  if (!value.empty()) ValidateName(value, rule, path, errors);
}

void ValidateLabelKey(std::string_view key, std::string_view path, FieldErrors& errors) {
  ValidateName(key, IsQualifiedName, path, errors);
}

void ValidatePortNum(int64_t port, std::string_view path, FieldErrors& errors) {
  for (const std::string& message : IsValidPortNum(port)) errors.Invalid(path, port, message);
}

// A port given as a number or as the name of a container port.
void ValidatePortNumOrName(const v1::IntOrString& port, std::string_view path,
                           FieldErrors& errors) {
  switch (port.value_case()) {
    case v1::IntOrString::kIntVal:
      ValidatePortNum(port.int_val(), path, errors);
      return;
    case v1::IntOrString::kStrVal:
      for (const std::string& message : IsValidPortName(port.str_val())) {
        errors.Invalid(path, port.str_val(), message);
      }
      return;
    case v1::IntOrString::VALUE_NOT_SET:
      break;
  }
  errors.InvalidPrinted(path, "", "must contain an int or string");
}

void ValidateProtocol(std::string_view protocol, std::string_view path, FieldErrors& errors) {
  if (protocol.empty()) {
    errors.Required(path);
  } else if (protocol != "TCP" && protocol != "UDP" && protocol != "SCTP") {
    errors.NotSupported(path, protocol, {"SCTP", "TCP", "UDP"});
  }
}

template <typename Map>
void ValidateResourceList(const Map& list, std::string_view path, FieldErrors& errors) {
  for (const std::string& name : SortedKeys(list)) {
    const v1::Quantity& value = list.at(name);
    const std::string entry = Key(path, name);
    ValidateLabelKey(name, entry, errors);
    absl::StatusOr<Quantity> quantity = Quantity::FromProto(value);
    if (!quantity.ok()) {
      errors.Invalid(entry, value.value(), std::string(quantity.status().message()));
    } else if (quantity->Sign() < 0) {
      errors.Invalid(entry, value.value(), kNonNegative);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Containers.

void ValidateResources(const v1::ResourceRequirements& resources, std::string_view path,
                       FieldErrors& errors) {
  const std::string limits_path = Child(path, "limits");
  const std::string requests_path = Child(path, "requests");
  ValidateResourceList(resources.limits(), limits_path, errors);
  ValidateResourceList(resources.requests(), requests_path, errors);
  for (const std::string& name : SortedKeys(resources.requests())) {
    auto limit_it = resources.limits().find(name);
    if (limit_it == resources.limits().end()) continue;
    absl::StatusOr<Quantity> request = Quantity::FromProto(resources.requests().at(name));
    absl::StatusOr<Quantity> limit = Quantity::FromProto(limit_it->second);
    if (!request.ok() || !limit.ok()) continue;
    if (*request > *limit) {
      errors.Invalid(Key(requests_path, name), request->ToString(),
                     fmt::format("must be less than or equal to {} limit of {}", name,
                                 limit->ToString()));
    }
  }
}

void ValidateHttpGet(const v1::HTTPGetAction& action, std::string_view path,
                     FieldErrors& errors) {
  if (action.path().empty()) errors.Required(Child(path, "path"));
  ValidatePortNumOrName(action.port(), Child(path, "port"), errors);
  if (action.scheme() != "HTTP" && action.scheme() != "HTTPS") {
    errors.NotSupported(Child(path, "scheme"), action.scheme(), {"HTTP", "HTTPS"});
  }
  for (int i = 0; i < action.http_headers_size(); ++i) {
    const std::string& name = action.http_headers(i).name();
    const bool valid = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
      return IsAlnum(c) || c == '-';
    });
    if (!valid) {
      errors.Invalid(Child(Index(Child(path, "httpHeaders"), i), "name"), name,
                     RegexError("a valid HTTP header must consist of alphanumeric characters or '-'",
                                "[-A-Za-z0-9]+", {"X-Header-Name"}));
    }
  }
}

void ValidateTcpSocket(const v1::TCPSocketAction& action, std::string_view path,
                       FieldErrors& errors) {
  ValidatePortNumOrName(action.port(), Child(path, "port"), errors);
}

void ValidateExec(const v1::ExecAction& action, std::string_view path, FieldErrors& errors) {
  if (action.command().empty()) errors.Required(Child(path, "command"));
}

// Exactly one handler, as Kubernetes' validateHandler.
void ValidateHandlerCount(int count, std::string_view path, FieldErrors& errors) {
  if (count == 0) errors.Required(path, "must specify a handler type");
  if (count > 1) errors.Forbidden(path, "may not specify more than 1 handler type");
}

void ValidateProbeHandler(const v1::Probe& probe, std::string_view path, FieldErrors& errors) {
  const int count = probe.has_exec() + probe.has_http_get() + probe.has_tcp_socket() +
                    probe.has_grpc();
  ValidateHandlerCount(count, path, errors);
  if (probe.has_exec()) ValidateExec(probe.exec(), Child(path, "exec"), errors);
  if (probe.has_http_get()) ValidateHttpGet(probe.http_get(), Child(path, "httpGet"), errors);
  if (probe.has_tcp_socket()) {
    ValidateTcpSocket(probe.tcp_socket(), Child(path, "tcpSocket"), errors);
  }
  if (probe.has_grpc()) ValidatePortNum(probe.grpc().port(), Child(path, "grpc.port"), errors);
}

enum class ProbeKind { kLiveness, kReadiness, kStartup };

void ValidateProbe(const v1::Probe& probe, ProbeKind kind, std::string_view path,
                   FieldErrors& errors) {
  ValidateProbeHandler(probe, path, errors);
  ValidateNonNegative(probe.initial_delay_seconds(), Child(path, "initialDelaySeconds"), errors);
  ValidateNonNegative(probe.timeout_seconds(), Child(path, "timeoutSeconds"), errors);
  ValidateNonNegative(probe.period_seconds(), Child(path, "periodSeconds"), errors);
  ValidateNonNegative(probe.success_threshold(), Child(path, "successThreshold"), errors);
  ValidateNonNegative(probe.failure_threshold(), Child(path, "failureThreshold"), errors);
  if (kind != ProbeKind::kReadiness && probe.has_success_threshold() &&
      probe.success_threshold() != 1) {
    errors.Invalid(Child(path, "successThreshold"), probe.success_threshold(), "must be 1");
  }
  if (probe.has_termination_grace_period_seconds()) {
    const std::string tgps = Child(path, "terminationGracePeriodSeconds");
    if (kind == ProbeKind::kReadiness) {
      errors.Invalid(tgps, probe.termination_grace_period_seconds(),
                     "must not be set for readinessProbes");
    } else if (probe.termination_grace_period_seconds() <= 0) {
      errors.Invalid(tgps, probe.termination_grace_period_seconds(), kPositive);
    }
  }
}

void ValidateLifecycleHandler(const v1::LifecycleHandler& handler, std::string_view path,
                              FieldErrors& errors) {
  const int count = handler.has_exec() + handler.has_http_get() + handler.has_tcp_socket() +
                    handler.has_sleep();
  ValidateHandlerCount(count, path, errors);
  if (handler.has_exec()) ValidateExec(handler.exec(), Child(path, "exec"), errors);
  if (handler.has_http_get()) {
    ValidateHttpGet(handler.http_get(), Child(path, "httpGet"), errors);
  }
  if (handler.has_tcp_socket()) {
    ValidateTcpSocket(handler.tcp_socket(), Child(path, "tcpSocket"), errors);
  }
  if (handler.has_sleep() && handler.sleep().seconds() < 0) {
    errors.Invalid(Child(path, "sleep.seconds"), handler.sleep().seconds(), kNonNegative);
  }
}

void ValidateEnv(const v1::Container& container, std::string_view path, FieldErrors& errors) {
  for (int i = 0; i < container.env_size(); ++i) {
    const v1::EnvVar& env = container.env(i);
    const std::string env_path = Index(Child(path, "env"), i);
    if (env.name().empty()) {
      errors.Required(Child(env_path, "name"));
    } else {
      const bool printable = std::all_of(env.name().begin(), env.name().end(), [](char c) {
        return c > 0x20 && c < 0x7f && c != '=';
      });
      if (!printable) {
        errors.Invalid(Child(env_path, "name"), env.name(),
                       "a valid environment variable name must consist only of printable "
                       "ASCII characters other than '='");
      }
    }
    if (!env.has_value_from()) continue;
    const std::string from_path = Child(env_path, "valueFrom");
    const v1::EnvVarSource& from = env.value_from();
    const int sources = from.has_field_ref() + from.has_resource_field_ref() +
                        from.has_config_map_key_ref() + from.has_secret_key_ref();
    if (!env.value().empty()) {
      errors.InvalidPrinted(from_path, "\"\"", "may not be specified when `value` is not empty");
    }
    if (sources == 0) {
      errors.InvalidPrinted(from_path, "\"\"",
                            "must specify one of: `fieldRef`, `resourceFieldRef`, "
                            "`configMapKeyRef` or `secretKeyRef`");
    } else if (sources > 1) {
      errors.InvalidPrinted(from_path, "\"\"",
                            "may not have more than one field specified at a time");
    }
    if (from.has_field_ref() && from.field_ref().field_path().empty()) {
      errors.Required(Child(from_path, "fieldRef.fieldPath"));
    }
    if (from.has_config_map_key_ref() && from.config_map_key_ref().key().empty()) {
      errors.Required(Child(from_path, "configMapKeyRef.key"));
    }
    if (from.has_secret_key_ref() && from.secret_key_ref().key().empty()) {
      errors.Required(Child(from_path, "secretKeyRef.key"));
    }
    if (from.has_resource_field_ref() && from.resource_field_ref().resource().empty()) {
      errors.Required(Child(from_path, "resourceFieldRef.resource"));
    }
  }
}

void ValidatePorts(const v1::Container& container, bool host_network, std::string_view path,
                   FieldErrors& errors) {
  std::set<std::string> names;
  for (int i = 0; i < container.ports_size(); ++i) {
    const v1::ContainerPort& port = container.ports(i);
    const std::string port_path = Index(Child(path, "ports"), i);
    if (!port.name().empty()) {
      for (const std::string& message : IsValidPortName(port.name())) {
        errors.Invalid(Child(port_path, "name"), port.name(), message);
      }
      if (!names.insert(port.name()).second) {
        errors.Duplicate(Child(port_path, "name"), port.name());
      }
    }
    if (port.container_port() == 0) {
      errors.Required(Child(port_path, "containerPort"));
    } else {
      ValidatePortNum(port.container_port(), Child(port_path, "containerPort"), errors);
    }
    if (port.host_port() != 0) {
      ValidatePortNum(port.host_port(), Child(port_path, "hostPort"), errors);
      if (host_network && port.host_port() != port.container_port()) {
        errors.Invalid(Child(port_path, "hostPort"), port.host_port(),
                       "must match `containerPort` when `hostNetwork` is true");
      }
    }
    ValidateProtocol(port.protocol(), Child(port_path, "protocol"), errors);
    if (!port.host_ip().empty()) {
      for (const std::string& message : IsValidIP(port.host_ip())) {
        errors.Invalid(Child(port_path, "hostIP"), port.host_ip(), message);
      }
    }
  }
}

void ValidateVolumeMounts(const v1::Container& container, const std::set<std::string>& volumes,
                          std::string_view path, FieldErrors& errors) {
  std::set<std::string> mount_paths;
  for (int i = 0; i < container.volume_mounts_size(); ++i) {
    const v1::VolumeMount& mount = container.volume_mounts(i);
    const std::string mount_path = Index(Child(path, "volumeMounts"), i);
    if (mount.name().empty()) {
      errors.Required(Child(mount_path, "name"));
    } else if (!volumes.contains(mount.name())) {
      errors.NotFound(Child(mount_path, "name"), mount.name());
    }
    if (mount.mount_path().empty()) {
      errors.Required(Child(mount_path, "mountPath"));
    } else if (!mount_paths.insert(mount.mount_path()).second) {
      errors.Invalid(Child(mount_path, "mountPath"), mount.mount_path(), "must be unique");
    }
  }
}

enum class ContainerKind { kRegular, kInit };

void ValidateContainer(const v1::Container& container, ContainerKind kind, bool host_network,
                       const std::set<std::string>& volumes, std::string_view path,
                       FieldErrors& errors) {
  if (container.name().empty()) {
    errors.Required(Child(path, "name"));
  } else {
    ValidateName(container.name(), IsDNS1123Label, Child(path, "name"), errors);
  }
  if (container.image().empty()) errors.Required(Child(path, "image"));
  const std::string& pull = container.image_pull_policy();
  if (pull.empty()) {
    errors.Required(Child(path, "imagePullPolicy"));
  } else if (pull != "Always" && pull != "IfNotPresent" && pull != "Never") {
    errors.NotSupported(Child(path, "imagePullPolicy"), pull, {"Always", "IfNotPresent", "Never"});
  }
  const std::string& message_policy = container.termination_message_policy();
  constexpr std::string_view kMessagePolicies = "must be 'File' or 'FallbackToLogsOnError'";
  if (message_policy.empty()) {
    errors.Required(Child(path, "terminationMessagePolicy"), kMessagePolicies);
  } else if (message_policy != "File" && message_policy != "FallbackToLogsOnError") {
    errors.Invalid(Child(path, "terminationMessagePolicy"), message_policy, kMessagePolicies);
  }
  if (container.has_restart_policy()) {
    const std::string restart_path = Child(path, "restartPolicy");
    if (kind == ContainerKind::kRegular) {
      errors.Forbidden(restart_path, "may not be set for non-init containers");
    } else if (container.restart_policy() != "Always") {
      errors.NotSupported(restart_path, container.restart_policy(), {"Always"});
    }
  }
  ValidatePorts(container, host_network, path, errors);
  ValidateEnv(container, path, errors);
  ValidateVolumeMounts(container, volumes, path, errors);
  ValidateResources(container.resources(), Child(path, "resources"), errors);
  // Init containers that are not sidecars run to completion: Kubernetes forbids the
  // probes and lifecycle hooks that only make sense for long-running containers.
  const bool run_to_completion = kind == ContainerKind::kInit && !container.has_restart_policy();
  struct NamedProbe {
    bool present;
    const v1::Probe& probe;
    std::string_view field;
    ProbeKind kind;
  };
  const NamedProbe probes[] = {
      {container.has_liveness_probe(), container.liveness_probe(), "livenessProbe",
       ProbeKind::kLiveness},
      {container.has_readiness_probe(), container.readiness_probe(), "readinessProbe",
       ProbeKind::kReadiness},
      {container.has_startup_probe(), container.startup_probe(), "startupProbe",
       ProbeKind::kStartup},
  };
  for (const NamedProbe& p : probes) {
    if (!p.present) continue;
    const std::string probe_path = Child(path, p.field);
    if (run_to_completion) {
      errors.Forbidden(probe_path, "may not be set for init containers without restartPolicy=Always");
    } else {
      ValidateProbe(p.probe, p.kind, probe_path, errors);
    }
  }
  if (container.has_lifecycle()) {
    const std::string lifecycle_path = Child(path, "lifecycle");
    if (run_to_completion) {
      errors.Forbidden(lifecycle_path,
                       "may not be set for init containers without restartPolicy=Always");
    } else {
      if (container.lifecycle().has_post_start()) {
        ValidateLifecycleHandler(container.lifecycle().post_start(),
                                 Child(lifecycle_path, "postStart"), errors);
      }
      if (container.lifecycle().has_pre_stop()) {
        ValidateLifecycleHandler(container.lifecycle().pre_stop(),
                                 Child(lifecycle_path, "preStop"), errors);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------
// Volumes.

std::set<std::string> ValidateVolumes(const v1::PodSpec& spec, std::string_view path,
                                      FieldErrors& errors) {
  std::set<std::string> names;
  for (int i = 0; i < spec.volumes_size(); ++i) {
    const v1::Volume& volume = spec.volumes(i);
    const std::string volume_path = Index(path, i);
    if (volume.name().empty()) {
      errors.Required(Child(volume_path, "name"));
    } else {
      ValidateName(volume.name(), IsDNS1123Label, Child(volume_path, "name"), errors);
      if (!names.insert(volume.name()).second) {
        errors.Duplicate(Child(volume_path, "name"), volume.name());
      }
    }
    const int sources = volume.has_empty_dir() + volume.has_host_path() +
                        volume.has_config_map() + volume.has_secret() +
                        volume.has_persistent_volume_claim() + volume.has_downward_api() +
                        volume.has_projected() + volume.has_nfs();
    if (sources == 0) errors.Required(volume_path, "must specify a volume type");
    if (sources > 1) errors.Forbidden(volume_path, "may not specify more than 1 volume type");
    if (volume.has_host_path() && volume.host_path().path().empty()) {
      errors.Required(Child(volume_path, "hostPath.path"));
    }
    if (volume.has_secret() && volume.secret().secret_name().empty()) {
      errors.Required(Child(volume_path, "secret.secretName"));
    }
    if (volume.has_config_map() && volume.config_map().name().empty()) {
      errors.Required(Child(volume_path, "configMap.name"));
    }
    if (volume.has_persistent_volume_claim() &&
        volume.persistent_volume_claim().claim_name().empty()) {
      errors.Required(Child(volume_path, "persistentVolumeClaim.claimName"));
    }
    if (volume.has_nfs()) {
      if (volume.nfs().server().empty()) errors.Required(Child(volume_path, "nfs.server"));
      if (volume.nfs().path().empty()) errors.Required(Child(volume_path, "nfs.path"));
    }
    if (volume.has_empty_dir() && volume.empty_dir().has_size_limit()) {
      const std::string limit_path = Child(volume_path, "emptyDir.sizeLimit");
      absl::StatusOr<Quantity> limit = Quantity::FromProto(volume.empty_dir().size_limit());
      if (!limit.ok()) {
        errors.Invalid(limit_path, volume.empty_dir().size_limit().value(),
                       std::string(limit.status().message()));
      } else if (limit->Sign() < 0) {
        errors.Invalid(limit_path, limit->ToString(), kNonNegative);
      }
    }
  }
  return names;
}

// ---------------------------------------------------------------------------------------
// Scheduling constraints.

void ValidateTaintEffect(std::string_view effect, bool allow_empty, std::string_view path,
                         FieldErrors& errors) {
  if (effect.empty()) {
    if (!allow_empty) errors.Required(path);
    return;
  }
  if (effect != "NoSchedule" && effect != "PreferNoSchedule" && effect != "NoExecute") {
    errors.NotSupported(path, effect, {"NoSchedule", "PreferNoSchedule", "NoExecute"});
  }
}

void ValidateTolerations(const v1::PodSpec& spec, std::string_view path, FieldErrors& errors) {
  for (int i = 0; i < spec.tolerations_size(); ++i) {
    const v1::Toleration& t = spec.tolerations(i);
    const std::string item = Index(path, i);
    if (!t.key().empty()) ValidateLabelKey(t.key(), Child(item, "key"), errors);
    if (t.key().empty() && t.operator_() != "Exists") {
      errors.Invalid(Child(item, "operator"), t.operator_(),
                     "operator must be Exists when `key` is empty, which means \"match all "
                     "values and all keys\"");
    }
    if (t.has_toleration_seconds() && t.effect() != "NoExecute") {
      errors.Invalid(Child(item, "effect"), t.effect(),
                     "effect must be 'NoExecute' when `tolerationSeconds` is set");
    }
    if (t.operator_().empty() || t.operator_() == "Equal") {
      std::vector<std::string> problems = IsValidLabelValue(t.value());
      if (!problems.empty()) errors.Invalid(Child(item, "operator"), t.value(), Join(problems, ";"));
    } else if (t.operator_() == "Exists") {
      if (!t.value().empty()) {
        errors.Invalid(Child(item, "operator"), t.value(),
                       "value must be empty when `operator` is 'Exists'");
      }
    } else {
      errors.NotSupported(Child(item, "operator"), t.operator_(), {"Equal", "Exists"});
    }
    ValidateTaintEffect(t.effect(), /*allow_empty=*/true, Child(item, "effect"), errors);
  }
}

void ValidateNodeSelectorRequirement(const v1::NodeSelectorRequirement& r, std::string_view path,
                                     FieldErrors& errors) {
  const std::string& op = r.operator_();
  if (op == "In" || op == "NotIn") {
    if (r.values().empty()) {
      errors.Required(Child(path, "values"), "must be specified when `operator` is 'In' or 'NotIn'");
    }
  } else if (op == "Exists" || op == "DoesNotExist") {
    if (!r.values().empty()) {
      errors.Forbidden(Child(path, "values"),
                       "may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
    }
  } else if (op == "Gt" || op == "Lt") {
    if (r.values_size() != 1) {
      errors.Required(Child(path, "values"),
                      "must be specified single value when `operator` is 'Lt' or 'Gt'");
    }
  } else {
    errors.Invalid(Child(path, "operator"), op, "not a valid selector operator");
  }
  ValidateLabelKey(r.key(), Child(path, "key"), errors);
}

void ValidateNodeFieldRequirement(const v1::NodeSelectorRequirement& r, std::string_view path,
                                  FieldErrors& errors) {
  const std::string& op = r.operator_();
  if (op == "In" || op == "NotIn") {
    if (r.values_size() != 1) {
      errors.Required(Child(path, "values"),
                      "must be only one value when `operator` is 'In' or 'NotIn' for node field "
                      "selector");
    }
  } else {
    errors.Invalid(Child(path, "operator"), op, "not a valid selector operator");
  }
  if (r.key() != "metadata.name") {
    errors.Invalid(Child(path, "key"), r.key(), "not a valid field selector key");
    return;
  }
  for (int i = 0; i < r.values_size(); ++i) {
    ValidateName(r.values(i), IsDNS1123Subdomain, Index(Child(path, "values"), i), errors);
  }
}

void ValidateNodeSelectorTerm(const v1::NodeSelectorTerm& term, std::string_view path,
                              FieldErrors& errors) {
  for (int j = 0; j < term.match_expressions_size(); ++j) {
    ValidateNodeSelectorRequirement(term.match_expressions(j),
                                    Index(Child(path, "matchExpressions"), j), errors);
  }
  for (int j = 0; j < term.match_fields_size(); ++j) {
    ValidateNodeFieldRequirement(term.match_fields(j), Index(Child(path, "matchFields"), j),
                                 errors);
  }
}

void ValidateWeight(int32_t weight, std::string_view path, FieldErrors& errors) {
  if (weight <= 0 || weight > 100) errors.Invalid(path, weight, "must be in the range 1-100");
}

void ValidateNodeAffinity(const v1::NodeAffinity& affinity, std::string_view path,
                          FieldErrors& errors) {
  if (affinity.has_required_during_scheduling_ignored_during_execution()) {
    const v1::NodeSelector& required =
        affinity.required_during_scheduling_ignored_during_execution();
    const std::string terms_path =
        Child(Child(path, "requiredDuringSchedulingIgnoredDuringExecution"), "nodeSelectorTerms");
    if (required.node_selector_terms().empty()) {
      errors.Required(terms_path, "must have at least one node selector term");
    }
    for (int i = 0; i < required.node_selector_terms_size(); ++i) {
      ValidateNodeSelectorTerm(required.node_selector_terms(i), Index(terms_path, i), errors);
    }
  }
  const std::string preferred_path = Child(path, "preferredDuringSchedulingIgnoredDuringExecution");
  for (int i = 0; i < affinity.preferred_during_scheduling_ignored_during_execution_size(); ++i) {
    const v1::PreferredSchedulingTerm& term =
        affinity.preferred_during_scheduling_ignored_during_execution(i);
    const std::string item = Index(preferred_path, i);
    ValidateWeight(term.weight(), Child(item, "weight"), errors);
    ValidateNodeSelectorTerm(term.preference(), Child(item, "preference"), errors);
  }
}

void ValidatePodAffinityTerm(const v1::PodAffinityTerm& term, std::string_view path,
                             FieldErrors& errors) {
  if (term.has_label_selector()) {
    ValidateLabelSelector(term.label_selector(), Child(path, "labelSelector"), errors);
  }
  if (term.has_namespace_selector()) {
    ValidateLabelSelector(term.namespace_selector(), Child(path, "namespaceSelector"), errors);
  }
  for (const std::string& ns : term.namespaces()) {
    ValidateName(ns, IsDNS1123Label, Child(path, "namespace"), errors);
  }
  if (term.topology_key().empty()) {
    errors.Required(Child(path, "topologyKey"), "can not be empty");
  } else {
    ValidateLabelKey(term.topology_key(), Child(path, "topologyKey"), errors);
  }
}

template <typename Affinity>
void ValidateInterPodAffinity(const Affinity& affinity, std::string_view path,
                              FieldErrors& errors) {
  const std::string required_path = Child(path, "requiredDuringSchedulingIgnoredDuringExecution");
  for (int i = 0; i < affinity.required_during_scheduling_ignored_during_execution_size(); ++i) {
    ValidatePodAffinityTerm(affinity.required_during_scheduling_ignored_during_execution(i),
                            Index(required_path, i), errors);
  }
  const std::string preferred_path = Child(path, "preferredDuringSchedulingIgnoredDuringExecution");
  for (int i = 0; i < affinity.preferred_during_scheduling_ignored_during_execution_size(); ++i) {
    const v1::WeightedPodAffinityTerm& term =
        affinity.preferred_during_scheduling_ignored_during_execution(i);
    const std::string item = Index(preferred_path, i);
    ValidateWeight(term.weight(), Child(item, "weight"), errors);
    ValidatePodAffinityTerm(term.pod_affinity_term(), Child(item, "podAffinityTerm"), errors);
  }
}

void ValidateAffinity(const v1::Affinity& affinity, std::string_view path, FieldErrors& errors) {
  if (affinity.has_node_affinity()) {
    ValidateNodeAffinity(affinity.node_affinity(), Child(path, "nodeAffinity"), errors);
  }
  if (affinity.has_pod_affinity()) {
    ValidateInterPodAffinity(affinity.pod_affinity(), Child(path, "podAffinity"), errors);
  }
  if (affinity.has_pod_anti_affinity()) {
    ValidateInterPodAffinity(affinity.pod_anti_affinity(), Child(path, "podAntiAffinity"),
                             errors);
  }
}

void ValidateInclusionPolicy(bool has, std::string_view value, std::string_view path,
                             FieldErrors& errors) {
  if (has && value != "Honor" && value != "Ignore") {
    errors.NotSupported(path, value, {"Honor", "Ignore"});
  }
}

void ValidateTopologySpread(const v1::PodSpec& spec, std::string_view path, FieldErrors& errors) {
  std::set<std::pair<std::string, std::string>> seen;
  for (int i = 0; i < spec.topology_spread_constraints_size(); ++i) {
    const v1::TopologySpreadConstraint& c = spec.topology_spread_constraints(i);
    const std::string item = Index(path, i);
    if (c.max_skew() <= 0) errors.Invalid(Child(item, "maxSkew"), c.max_skew(), kPositive);
    if (c.topology_key().empty()) {
      errors.Required(Child(item, "topologyKey"), "can not be empty");
    } else {
      ValidateLabelKey(c.topology_key(), Child(item, "topologyKey"), errors);
    }
    const std::string& action = c.when_unsatisfiable();
    if (action != "DoNotSchedule" && action != "ScheduleAnyway") {
      errors.NotSupported(Child(item, "whenUnsatisfiable"), action,
                          {"DoNotSchedule", "ScheduleAnyway"});
    }
    if (!seen.emplace(c.topology_key(), action).second) {
      errors.Duplicate(Child(item, "{topologyKey, whenUnsatisfiable}"),
                       fmt::format("{{{}, {}}}", c.topology_key(), action));
    }
    if (c.has_min_domains()) {
      if (c.min_domains() <= 0) errors.Invalid(Child(item, "minDomains"), c.min_domains(), kPositive);
      if (action != "DoNotSchedule") {
        errors.Invalid(Child(item, "minDomains"), c.min_domains(),
                       fmt::format("can only use minDomains if whenUnsatisfiable=DoNotSchedule, "
                                   "not {}",
                                   action));
      }
    }
    ValidateInclusionPolicy(c.has_node_affinity_policy(), c.node_affinity_policy(),
                            Child(item, "nodeAffinityPolicy"), errors);
    ValidateInclusionPolicy(c.has_node_taints_policy(), c.node_taints_policy(),
                            Child(item, "nodeTaintsPolicy"), errors);
    if (c.has_label_selector()) {
      ValidateLabelSelector(c.label_selector(), Child(item, "labelSelector"), errors);
    }
    for (int j = 0; j < c.match_label_keys_size(); ++j) {
      ValidateLabelKey(c.match_label_keys(j), Index(Child(item, "matchLabelKeys"), j), errors);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Workloads (ReplicaSet, Deployment).

// Kubernetes' ValidatePodTemplateSpecForReplicaSet.
void ValidateWorkloadTemplate(const v1::PodTemplateSpec& tmpl, const v1::LabelSelector* selector,
                              std::string_view path, FieldErrors& errors) {
  if (selector != nullptr) {
    absl::StatusOr<LabelSelector> parsed = LabelSelector::FromProto(*selector);
    if (parsed.ok() && !parsed->empty() && !parsed->Matches(tmpl.metadata().labels())) {
      errors.InvalidPrinted(Child(path, "metadata.labels"),
                            PrintStringMap(tmpl.metadata().labels()),
                            "`selector` does not match template `labels`");
    }
  }
  ValidateLabels(tmpl.metadata().labels(), Child(path, "metadata.labels"), errors);
  ValidateAnnotations(tmpl.metadata().annotations(), Child(path, "metadata.annotations"), errors);
  const std::string spec_path = Child(path, "spec");
  ValidatePodSpec(tmpl.spec(), spec_path, errors);
  if (tmpl.spec().restart_policy() != "Always") {
    errors.NotSupported(Child(spec_path, "restartPolicy"), tmpl.spec().restart_policy(),
                        {"Always"});
  }
  if (tmpl.spec().has_active_deadline_seconds()) {
    errors.Forbidden(Child(spec_path, "activeDeadlineSeconds"),
                     "activeDeadlineSeconds in ReplicaSet is not Supported");
  }
}

template <typename Spec>
void ValidateWorkloadSelectorAndTemplate(const Spec& spec, std::string_view path,
                                         FieldErrors& errors) {
  const std::string selector_path = Child(path, "selector");
  const v1::LabelSelector* selector = nullptr;
  if (!spec.has_selector()) {
    errors.Required(selector_path);
  } else {
    selector = &spec.selector();
    ValidateLabelSelector(spec.selector(), selector_path, errors);
    if (spec.selector().match_labels().empty() && spec.selector().match_expressions().empty()) {
      errors.InvalidPrinted(selector_path, PrintSelector(spec.selector()),
                            "empty selector is invalid for deployment");
    }
  }
  ValidateWorkloadTemplate(spec.template_(), selector, Child(path, "template"), errors);
}

// The numeric value of an int-or-percent (the percent's number for "25%").
int64_t IntOrPercentValue(const v1::IntOrString& value) {
  if (value.value_case() == v1::IntOrString::kIntVal) return value.int_val();
  std::string_view s = value.str_val();
  if (!s.empty() && s.back() == '%') s.remove_suffix(1);
  int64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9' || n > 1'000'000'000) return 0;
    n = n * 10 + (c - '0');
  }
  return n;
}

void ValidateIntOrPercent(const v1::IntOrString& value, std::string_view path,
                          FieldErrors& errors) {
  switch (value.value_case()) {
    case v1::IntOrString::kStrVal:
      for (const std::string& message : IsValidPercent(value.str_val())) {
        errors.InvalidPrinted(path, value.str_val(), message);
      }
      return;
    case v1::IntOrString::kIntVal:
      ValidateNonNegative(value.int_val(), path, errors);
      return;
    case v1::IntOrString::VALUE_NOT_SET:
      break;
  }
  errors.InvalidPrinted(path, "", "must be an integer or percentage (e.g '5%')");
}

void ValidateRollingUpdate(const v1::RollingUpdateDeployment& rolling, std::string_view path,
                           FieldErrors& errors) {
  const std::string unavailable_path = Child(path, "maxUnavailable");
  ValidateIntOrPercent(rolling.max_unavailable(), unavailable_path, errors);
  ValidateIntOrPercent(rolling.max_surge(), Child(path, "maxSurge"), errors);
  if (IntOrPercentValue(rolling.max_unavailable()) == 0 &&
      IntOrPercentValue(rolling.max_surge()) == 0) {
    errors.InvalidPrinted(unavailable_path, PrintIntOrString(rolling.max_unavailable()),
                          "may not be 0 when `maxSurge` is 0");
  }
  if (rolling.max_unavailable().value_case() == v1::IntOrString::kStrVal &&
      IsValidPercent(rolling.max_unavailable().str_val()).empty() &&
      IntOrPercentValue(rolling.max_unavailable()) > 100) {
    errors.InvalidPrinted(unavailable_path, rolling.max_unavailable().str_val(),
                          "must not be greater than 100%");
  }
}

void ValidateDeploymentStrategy(const v1::DeploymentStrategy& strategy, std::string_view path,
                                FieldErrors& errors) {
  if (strategy.type() == "Recreate") {
    if (strategy.has_rolling_update()) {
      errors.Forbidden(Child(path, "rollingUpdate"),
                       "may not be specified when strategy `type` is 'Recreate'");
    }
  } else if (strategy.type() == "RollingUpdate") {
    if (!strategy.has_rolling_update()) {
      errors.Required(Child(path, "rollingUpdate"), "this should be defaulted and never be nil");
    } else {
      ValidateRollingUpdate(strategy.rolling_update(), Child(path, "rollingUpdate"), errors);
    }
  } else {
    errors.NotSupported(Child(path, "type"), strategy.type(), {"Recreate", "RollingUpdate"});
  }
}

// ---------------------------------------------------------------------------------------
// Services.

void ValidateServicePorts(const v1::ServiceSpec& spec, std::string_view path,
                          FieldErrors& errors) {
  const bool require_name = spec.ports_size() > 1;
  std::set<std::string> names;
  for (int i = 0; i < spec.ports_size(); ++i) {
    const v1::ServicePort& port = spec.ports(i);
    const std::string item = Index(path, i);
    if (port.name().empty()) {
      if (require_name) errors.Required(Child(item, "name"));
    } else {
      ValidateName(port.name(), IsDNS1123Label, Child(item, "name"), errors);
      if (!names.insert(port.name()).second) errors.Duplicate(Child(item, "name"), port.name());
    }
    ValidatePortNum(port.port(), Child(item, "port"), errors);
    ValidateProtocol(port.protocol(), Child(item, "protocol"), errors);
    ValidatePortNumOrName(port.target_port(), Child(item, "targetPort"), errors);
    if (port.has_app_protocol()) {
      ValidateLabelKey(port.app_protocol(), Child(item, "appProtocol"), errors);
    }
    if (port.node_port() != 0) {
      if (spec.type() == "ClusterIP") {
        errors.Forbidden(Child(item, "nodePort"), "may not be used when `type` is 'ClusterIP'");
      } else {
        ValidatePortNum(port.node_port(), Child(item, "nodePort"), errors);
      }
    }
  }
}

void ValidateClusterIPs(const v1::ServiceSpec& spec, std::string_view path, FieldErrors& errors) {
  auto check = [&](const std::string& ip, const std::string& ip_path) {
    if (ip.empty() || ip == "None") return;
    if (!IsValidIP(ip).empty()) {
      errors.Invalid(ip_path, ip, "must be empty, 'None', or a valid IP address");
    }
  };
  check(spec.cluster_ip(), Child(path, "clusterIP"));
  for (int i = 0; i < spec.cluster_ips_size(); ++i) {
    check(spec.cluster_ips(i), Index(Child(path, "clusterIPs"), i));
  }
  if (spec.cluster_ips_size() > 0 && spec.cluster_ips(0) != spec.cluster_ip() &&
      !spec.cluster_ip().empty()) {
    errors.Invalid(Index(Child(path, "clusterIPs"), 0), spec.cluster_ips(0),
                   "must be equal to clusterIP");
  }
  if (spec.cluster_ips_size() > 2) {
    errors.Invalid(Child(path, "clusterIPs"), spec.cluster_ips_size(),
                   "may only hold up to 2 values");
  }
  for (int i = 0; i < spec.external_ips_size(); ++i) {
    for (const std::string& message : IsValidIP(spec.external_ips(i))) {
      errors.Invalid(Index(Child(path, "externalIPs"), i), spec.external_ips(i), message);
    }
  }
}

void ValidateServiceSpec(const v1::ServiceSpec& spec, std::string_view path,
                         FieldErrors& errors) {
  const std::string& type = spec.type();
  if (type != "ClusterIP" && type != "NodePort" && type != "LoadBalancer" &&
      type != "ExternalName") {
    errors.NotSupported(Child(path, "type"), type,
                        {"ClusterIP", "ExternalName", "LoadBalancer", "NodePort"});
  }
  const bool headless = spec.cluster_ip() == "None";
  if (type == "ExternalName") {
    if (!spec.cluster_ip().empty()) {
      errors.Forbidden(Child(path, "clusterIP"), "may not be set for ExternalName services");
    }
    std::string_view external = spec.external_name();
    if (external.empty()) {
      errors.Required(Child(path, "externalName"));
    } else {
      if (external.back() == '.') external.remove_suffix(1);
      ValidateName(external, IsDNS1123Subdomain, Child(path, "externalName"), errors);
    }
  } else if (spec.ports().empty() && !headless) {
    errors.Required(Child(path, "ports"));
  }
  ValidateServicePorts(spec, Child(path, "ports"), errors);
  ValidateClusterIPs(spec, path, errors);
  ValidateLabels(spec.selector(), Child(path, "selector"), errors);

  const std::string& affinity = spec.session_affinity();
  if (affinity != "None" && affinity != "ClientIP") {
    errors.NotSupported(Child(path, "sessionAffinity"), affinity, {"ClientIP", "None"});
  }
  if (affinity == "ClientIP" && spec.session_affinity_config().client_ip().has_timeout_seconds()) {
    const int32_t timeout = spec.session_affinity_config().client_ip().timeout_seconds();
    if (timeout <= 0 || timeout > 86400) {
      errors.Invalid(Child(path, "sessionAffinityConfig.clientIP.timeoutSeconds"), timeout,
                     "must be greater than 0 and less than 86400");
    }
  }
  const std::string& external_policy = spec.external_traffic_policy();
  if (!external_policy.empty()) {
    const bool externally_accessible = type == "NodePort" || type == "LoadBalancer" ||
                                       (type == "ClusterIP" && spec.external_ips_size() > 0);
    if (external_policy != "Cluster" && external_policy != "Local") {
      errors.NotSupported(Child(path, "externalTrafficPolicy"), external_policy,
                          {"Cluster", "Local"});
    } else if (!externally_accessible) {
      errors.Invalid(Child(path, "externalTrafficPolicy"), external_policy,
                     "may only be set for externally-accessible services");
    }
  }
  if (spec.has_internal_traffic_policy() && spec.internal_traffic_policy() != "Cluster" &&
      spec.internal_traffic_policy() != "Local") {
    errors.NotSupported(Child(path, "internalTrafficPolicy"), spec.internal_traffic_policy(),
                        {"Cluster", "Local"});
  }
  for (int i = 0; i < spec.ip_families_size(); ++i) {
    const std::string& family = spec.ip_families(i);
    if (family != "IPv4" && family != "IPv6") {
      errors.NotSupported(Index(Child(path, "ipFamilies"), i), family, {"IPv4", "IPv6"});
    }
  }
  if (spec.has_ip_family_policy()) {
    const std::string& policy = spec.ip_family_policy();
    if (policy != "SingleStack" && policy != "PreferDualStack" && policy != "RequireDualStack") {
      errors.NotSupported(Child(path, "ipFamilyPolicy"), policy,
                          {"PreferDualStack", "RequireDualStack", "SingleStack"});
    }
  }
}

// ---------------------------------------------------------------------------------------
// Endpoint slices.

std::vector<std::string> ValidateEndpointAddress(std::string_view type, std::string_view address) {
  if (type == "FQDN") {
    std::string_view name = address;
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    std::vector<std::string> problems = IsDNS1123Subdomain(name);
    if (problems.empty() && name.find('.') == std::string_view::npos) {
      problems.push_back("should be a domain with at least two segments separated by dots");
    }
    return problems;
  }
  std::string text(address);
  unsigned char buffer[16];
  const int family = type == "IPv6" ? AF_INET6 : AF_INET;
  if (inet_pton(family, text.c_str(), buffer) == 1) return {};
  return {type == "IPv6" ? "must be a valid IPv6 address" : "must be a valid IPv4 address"};
}

void ValidateEndpoints(const v1::EndpointSlice& slice, FieldErrors& errors) {
  constexpr int kMaxEndpoints = 1000;
  constexpr int kMaxAddresses = 100;
  if (slice.endpoints_size() > kMaxEndpoints) {
    errors.TooMany("endpoints", slice.endpoints_size(), kMaxEndpoints);
  }
  const bool known_type = slice.address_type() == "IPv4" || slice.address_type() == "IPv6" ||
                          slice.address_type() == "FQDN";
  for (int i = 0; i < slice.endpoints_size(); ++i) {
    const v1::Endpoint& endpoint = slice.endpoints(i);
    const std::string item = Index("endpoints", i);
    const std::string addresses = Child(item, "addresses");
    if (endpoint.addresses().empty()) {
      errors.Required(addresses, "must contain at least 1 address");
    } else if (endpoint.addresses_size() > kMaxAddresses) {
      errors.TooMany(addresses, endpoint.addresses_size(), kMaxAddresses);
    }
    for (int j = 0; j < endpoint.addresses_size() && known_type; ++j) {
      for (const std::string& message :
           ValidateEndpointAddress(slice.address_type(), endpoint.addresses(j))) {
        errors.Invalid(Index(addresses, j), endpoint.addresses(j), message);
      }
    }
    if (endpoint.has_node_name()) {
      ValidateName(endpoint.node_name(), IsDNS1123Subdomain, Child(item, "nodeName"), errors);
    }
    if (endpoint.has_hostname()) {
      ValidateName(endpoint.hostname(), IsDNS1123Label, Child(item, "hostname"), errors);
    }
  }
}

void ValidateEndpointPorts(const v1::EndpointSlice& slice, FieldErrors& errors) {
  constexpr int kMaxPorts = 20000;
  if (slice.ports_size() > kMaxPorts) errors.TooMany("ports", slice.ports_size(), kMaxPorts);
  std::set<std::string> names;
  for (int i = 0; i < slice.ports_size(); ++i) {
    const v1::EndpointPort& port = slice.ports(i);
    const std::string item = Index("ports", i);
    if (!port.name().empty()) {
      ValidateName(port.name(), IsDNS1123Label, Child(item, "name"), errors);
    }
    if (!names.insert(port.name()).second) errors.Duplicate(Child(item, "name"), port.name());
    if (!port.has_protocol()) {
      errors.Required(Child(item, "protocol"));
    } else {
      ValidateProtocol(port.protocol(), Child(item, "protocol"), errors);
    }
    if (port.has_port() && (port.port() < 0 || port.port() > 65535)) {
      errors.Invalid(Child(item, "port"), port.port(), "must be between 0 and 65535, inclusive");
    }
    if (port.has_app_protocol()) {
      ValidateLabelKey(port.app_protocol(), Child(item, "appProtocol"), errors);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Nodes.

bool IsValidCIDR(std::string_view cidr) {
  const size_t slash = cidr.find('/');
  if (slash == std::string_view::npos || slash + 1 >= cidr.size()) return false;
  std::string ip(cidr.substr(0, slash));
  std::string_view bits = cidr.substr(slash + 1);
  if (bits.size() > 3 || !std::all_of(bits.begin(), bits.end(), [](char c) {
        return c >= '0' && c <= '9';
      })) {
    return false;
  }
  const int prefix = std::stoi(std::string(bits));
  unsigned char buffer[16];
  if (inet_pton(AF_INET, ip.c_str(), buffer) == 1) return prefix <= 32;
  if (inet_pton(AF_INET6, ip.c_str(), buffer) == 1) return prefix <= 128;
  return false;
}

void ValidateTaints(const v1::NodeSpec& spec, std::string_view path, FieldErrors& errors) {
  std::set<std::pair<std::string, std::string>> seen;
  for (int i = 0; i < spec.taints_size(); ++i) {
    const v1::Taint& taint = spec.taints(i);
    const std::string item = Index(path, i);
    ValidateLabelKey(taint.key(), Child(item, "key"), errors);
    for (const std::string& message : IsValidLabelValue(taint.value())) {
      errors.Invalid(Child(item, "value"), taint.value(), message);
    }
    ValidateTaintEffect(taint.effect(), /*allow_empty=*/false, Child(item, "effect"), errors);
    if (!seen.emplace(taint.key(), taint.effect()).second) {
      errors.Duplicate(item, fmt::format("{}:{}", taint.key(), taint.effect()));
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Paths and errors.

// Paths are built for every field validated, errors or not: by plain appends, sized once.
std::string Child(std::string_view path, std::string_view name) {
  if (path.empty()) return std::string(name);
  std::string child;
  child.reserve(path.size() + 1 + name.size());
  child.append(path).append(1, '.').append(name);
  return child;
}

std::string Index(std::string_view path, int index) {
  const std::string number = std::to_string(index);
  std::string item;
  item.reserve(path.size() + number.size() + 2);
  item.append(path).append(1, '[').append(number).append(1, ']');
  return item;
}

std::string Key(std::string_view path, std::string_view key) {
  std::string item;
  item.reserve(path.size() + key.size() + 2);
  item.append(path).append(1, '[').append(key).append(1, ']');
  return item;
}

void FieldErrors::Invalid(std::string_view path, std::string_view value,
                          std::string_view detail) {
  InvalidPrinted(path, Quote(value), detail);
}

void FieldErrors::Invalid(std::string_view path, int64_t value, std::string_view detail) {
  InvalidPrinted(path, std::to_string(value), detail);
}

void FieldErrors::InvalidPrinted(std::string_view path, std::string_view printed_value,
                                 std::string_view detail) {
  std::string error = fmt::format("{}: Invalid value: {}", path, printed_value);
  if (!detail.empty()) error += fmt::format(": {}", detail);
  errors_.push_back(std::move(error));
}

void FieldErrors::Required(std::string_view path, std::string_view detail) {
  std::string error = fmt::format("{}: Required value", path);
  if (!detail.empty()) error += fmt::format(": {}", detail);
  errors_.push_back(std::move(error));
}

void FieldErrors::Duplicate(std::string_view path, std::string_view value) {
  errors_.push_back(fmt::format("{}: Duplicate value: {}", path, Quote(value)));
}

void FieldErrors::Duplicate(std::string_view path, int64_t value) {
  errors_.push_back(fmt::format("{}: Duplicate value: {}", path, value));
}

void FieldErrors::NotFound(std::string_view path, std::string_view value) {
  errors_.push_back(fmt::format("{}: Not found: {}", path, Quote(value)));
}

void FieldErrors::NotSupported(std::string_view path, std::string_view value,
                               std::initializer_list<std::string_view> supported) {
  std::vector<std::string> quoted;
  for (std::string_view s : supported) quoted.push_back(Quote(s));
  errors_.push_back(fmt::format("{}: Unsupported value: {}: supported values: {}", path,
                                Quote(value), Join(quoted, ", ")));
}

void FieldErrors::Forbidden(std::string_view path, std::string_view detail) {
  errors_.push_back(fmt::format("{}: Forbidden: {}", path, detail));
}

void FieldErrors::TooLong(std::string_view path, int64_t max_bytes) {
  errors_.push_back(
      fmt::format("{}: Too long: may not be more than {} bytes", path, max_bytes));
}

void FieldErrors::TooMany(std::string_view path, int64_t count, int64_t max) {
  errors_.push_back(
      fmt::format("{}: Too many: {}: must have at most {} items", path, count, max));
}

absl::Status FieldErrors::ToStatus() const {
  if (errors_.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(Join(errors_, "; "));
}

// ---------------------------------------------------------------------------------------
// Name and value checks.

std::vector<std::string> IsDNS1123Label(std::string_view value) {
  std::vector<std::string> errors;
  if (value.size() > 63) errors.push_back(MaxLenError(63));
  if (!MatchesDNS1123Label(value)) {
    if (MatchesDNS1123Subdomain(value)) {
      errors.push_back("must not contain dots");
    } else {
      errors.push_back(RegexError(
          "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
          "'-', and must start and end with an alphanumeric character",
          kDNS1123LabelFormat, {"my-name", "123-abc"}));
    }
  }
  return errors;
}

std::vector<std::string> IsDNS1123Subdomain(std::string_view value) {
  std::vector<std::string> errors;
  if (value.size() > 253) errors.push_back(MaxLenError(253));
  if (!MatchesDNS1123Subdomain(value)) {
    errors.push_back(RegexError(
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
        "'-' or '.', and must start and end with an alphanumeric character",
        kDNS1123SubdomainFormat, {"example.com"}));
  }
  return errors;
}

std::vector<std::string> IsDNS1035Label(std::string_view value) {
  std::vector<std::string> errors;
  if (value.size() > 63) errors.push_back(MaxLenError(63));
  const bool valid = MatchesDNS1123Label(value) && value.front() >= 'a' && value.front() <= 'z';
  if (!valid) {
    errors.push_back(RegexError(
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start "
        "with an alphabetic character, and end with an alphanumeric character",
        "[a-z]([-a-z0-9]*[a-z0-9])?", {"my-name", "abc-123"}));
  }
  return errors;
}

std::vector<std::string> IsQualifiedName(std::string_view value) {
  std::vector<std::string> errors;
  std::string_view name = value;
  const size_t slash = value.find('/');
  if (slash != std::string_view::npos) {
    name = value.substr(slash + 1);
    if (name.find('/') != std::string_view::npos) {
      errors.push_back("a valid label key " +
                       RegexError(kLabelKeyMessage, kLabelKeyFormat, {"MyName", "my.name", "123-abc"}) +
                       " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')");
      return errors;
    }
    std::string_view prefix = value.substr(0, slash);
    if (prefix.empty()) {
      errors.push_back("prefix part must be non-empty");
    } else {
      for (const std::string& message : IsDNS1123Subdomain(prefix)) {
        errors.push_back("prefix part " + message);
      }
    }
  }
  if (name.empty()) {
    errors.push_back("name part must be non-empty");
  } else if (name.size() > 63) {
    errors.push_back("name part " + MaxLenError(63));
  }
  if (!MatchesQualifiedNamePart(name)) {
    errors.push_back("name part " + RegexError(kLabelKeyMessage, kLabelKeyFormat,
                                               {"MyName", "my.name", "123-abc"}));
  }
  return errors;
}

std::vector<std::string> IsValidLabelValue(std::string_view value) {
  std::vector<std::string> errors;
  if (value.size() > 63) errors.push_back(MaxLenError(63));
  if (!value.empty() && !MatchesQualifiedNamePart(value)) {
    errors.push_back(RegexError(
        "a valid label must be an empty string or consist of alphanumeric characters, '-', "
        "'_' or '.', and must start and end with an alphanumeric character",
        "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?", {"MyValue", "my_value", "12345"}));
  }
  return errors;
}

std::vector<std::string> IsValidPortNum(int64_t port) {
  if (port >= 1 && port <= 65535) return {};
  return {"must be between 1 and 65535, inclusive"};
}

std::vector<std::string> IsValidPortName(std::string_view value) {
  std::vector<std::string> errors;
  if (value.size() > 15) errors.push_back(MaxLenError(15));
  const bool charset_ok = !value.empty() && std::all_of(value.begin(), value.end(), [](char c) {
    return IsLowerAlnum(c) || c == '-';
  });
  if (!charset_ok) {
    errors.push_back("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
  }
  if (std::none_of(value.begin(), value.end(), [](char c) { return c >= 'a' && c <= 'z'; })) {
    errors.push_back("must contain at least one letter (a-z)");
  }
  if (value.find("--") != std::string_view::npos) {
    errors.push_back("must not contain consecutive hyphens");
  }
  if (!value.empty() && (value.front() == '-' || value.back() == '-')) {
    errors.push_back("must not begin or end with a hyphen");
  }
  return errors;
}

std::vector<std::string> IsValidPercent(std::string_view value) {
  const bool valid = value.size() >= 2 && value.back() == '%' &&
                     std::all_of(value.begin(), value.end() - 1,
                                 [](char c) { return c >= '0' && c <= '9'; });
  if (valid) return {};
  return {RegexError("a valid percent string must be a numeric string followed by an ending '%'",
                     "[0-9]+%", {"1%", "93%"})};
}

std::vector<std::string> IsValidIP(std::string_view value) {
  std::string text(value);
  unsigned char buffer[16];
  if (inet_pton(AF_INET, text.c_str(), buffer) == 1 ||
      inet_pton(AF_INET6, text.c_str(), buffer) == 1) {
    return {};
  }
  return {"must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"};
}

// ---------------------------------------------------------------------------------------
// Shared building blocks.

void ValidateLabels(const google::protobuf::Map<std::string, std::string>& labels,
                    std::string_view path, FieldErrors& errors) {
  for (const auto& [key, value] : SortedEntries(labels)) {
    ValidateLabelKey(key, path, errors);
    for (const std::string& message : IsValidLabelValue(value)) {
      errors.Invalid(path, value, message);
    }
  }
}

void ValidateAnnotations(const google::protobuf::Map<std::string, std::string>& annotations,
                         std::string_view path, FieldErrors& errors) {
  int64_t total = 0;
  for (const auto& [key, value] : SortedEntries(annotations)) {
    std::string lower = key;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    for (const std::string& message : IsQualifiedName(lower)) {
      errors.Invalid(path, key, message);
    }
    total += static_cast<int64_t>(key.size() + value.size());
  }
  if (total > kTotalAnnotationSizeLimit) errors.TooLong(path, kTotalAnnotationSizeLimit);
}

void ValidateLabelSelector(const v1::LabelSelector& selector, std::string_view path,
                           FieldErrors& errors) {
  const std::string expressions = Child(path, "matchExpressions");
  for (int i = 0; i < selector.match_expressions_size(); ++i) {
    const v1::LabelSelectorRequirement& r = selector.match_expressions(i);
    const std::string item = Index(expressions, i);
    const std::string& op = r.operator_();
    if (op == "In" || op == "NotIn") {
      if (r.values().empty()) {
        errors.Required(Child(item, "values"),
                        "must be specified when `operator` is 'In' or 'NotIn'");
      }
    } else if (op == "Exists" || op == "DoesNotExist") {
      if (!r.values().empty()) {
        errors.Forbidden(Child(item, "values"),
                         "may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
      }
    } else {
      errors.Invalid(Child(item, "operator"), op, "not a valid selector operator");
    }
    ValidateLabelKey(r.key(), Child(item, "key"), errors);
    for (int j = 0; j < r.values_size(); ++j) {
      for (const std::string& message : IsValidLabelValue(r.values(j))) {
        errors.Invalid(Index(Child(item, "values"), j), r.values(j), message);
      }
    }
  }
  ValidateLabels(selector.match_labels(), Child(path, "matchLabels"), errors);
}

void ValidateObjectMeta(const v1::ObjectMeta& metadata, bool namespaced,
                        NameValidator name_rule, std::string_view path, FieldErrors& errors) {
  if (!metadata.generate_name().empty()) {
    for (const std::string& message : name_rule(MaskTrailingDash(metadata.generate_name()))) {
      errors.Invalid(Child(path, "generateName"), metadata.generate_name(), message);
    }
  }
  // Kubernetes generates the name from generateName before it validates; orch's store
  // and client do the same later, so a manifest may carry generateName alone.
  if (metadata.name().empty()) {
    if (metadata.generate_name().empty()) {
      errors.Required(Child(path, "name"), "name or generateName is required");
    }
  } else {
    ValidateName(metadata.name(), name_rule, Child(path, "name"), errors);
  }
  if (namespaced) {
    if (metadata.namespace_().empty()) {
      errors.Required(Child(path, "namespace"));
    } else {
      ValidateName(metadata.namespace_(), IsDNS1123Label, Child(path, "namespace"), errors);
    }
  } else if (!metadata.namespace_().empty()) {
    errors.Forbidden(Child(path, "namespace"), "not allowed on this type");
  }
  // Paths are built only where there is something to check (most objects have no
  // annotations or owners, and a generation that is not negative).
  if (metadata.generation() < 0) {
    ValidateNonNegative(metadata.generation(), Child(path, "generation"), errors);
  }
  if (!metadata.labels().empty()) ValidateLabels(metadata.labels(), Child(path, "labels"), errors);
  if (!metadata.annotations().empty()) {
    ValidateAnnotations(metadata.annotations(), Child(path, "annotations"), errors);
  }
  if (metadata.owner_references().empty() && metadata.finalizers().empty()) return;

  const std::string owners_path = Child(path, "ownerReferences");
  std::vector<std::string> controllers;
  for (int i = 0; i < metadata.owner_references_size(); ++i) {
    const v1::OwnerReference& owner = metadata.owner_references(i);
    const std::string item = Index(owners_path, i);
    const std::string_view api_version = owner.api_version();
    const size_t slash = api_version.find('/');
    const std::string_view version =
        slash == std::string_view::npos ? api_version : api_version.substr(slash + 1);
    if (version.empty()) {
      errors.Invalid(Child(item, "apiVersion"), owner.api_version(), "version must not be empty");
    }
    if (owner.kind().empty()) errors.Invalid(Child(item, "kind"), owner.kind(), "must not be empty");
    if (owner.name().empty()) errors.Invalid(Child(item, "name"), owner.name(), "must not be empty");
    if (owner.uid().empty()) errors.Invalid(Child(item, "uid"), owner.uid(), "must not be empty");
    if (owner.has_controller() && owner.controller()) {
      controllers.push_back(fmt::format("{}/{}", owner.kind(), owner.name()));
    }
  }
  if (controllers.size() > 1) {
    errors.InvalidPrinted(owners_path, "[...]",
                          fmt::format("Only one reference can have Controller set to true. "
                                      "Found \"true\" in references for {}",
                                      Join(controllers, " and ")));
  }
  for (int i = 0; i < metadata.finalizers_size(); ++i) {
    for (const std::string& message : IsQualifiedName(metadata.finalizers(i))) {
      errors.Invalid(Child(path, "finalizers"), metadata.finalizers(i), message);
    }
  }
}

void ValidatePodSpec(const v1::PodSpec& spec, std::string_view path, FieldErrors& errors) {
  const std::set<std::string> volumes = ValidateVolumes(spec, Child(path, "volumes"), errors);

  std::set<std::string> container_names;
  auto validate_all = [&](const auto& containers, ContainerKind kind, std::string_view field) {
    const std::string list_path = Child(path, field);
    for (int i = 0; i < containers.size(); ++i) {
      const v1::Container& container = containers.Get(i);
      const std::string item = Index(list_path, i);
      ValidateContainer(container, kind, spec.host_network(), volumes, item, errors);
      if (!container.name().empty() && !container_names.insert(container.name()).second) {
        errors.Duplicate(Child(item, "name"), container.name());
      }
    }
  };
  if (spec.containers().empty()) errors.Required(Child(path, "containers"));
  // Kubernetes checks init containers first, so a duplicate is reported on the
  // regular container.
  validate_all(spec.init_containers(), ContainerKind::kInit, "initContainers");
  validate_all(spec.containers(), ContainerKind::kRegular, "containers");

  const std::string& restart = spec.restart_policy();
  if (restart.empty()) {
    errors.Required(Child(path, "restartPolicy"));
  } else if (restart != "Always" && restart != "OnFailure" && restart != "Never") {
    errors.NotSupported(Child(path, "restartPolicy"), restart, {"Always", "OnFailure", "Never"});
  }
  const std::string& dns = spec.dns_policy();
  if (dns.empty()) {
    errors.Required(Child(path, "dnsPolicy"));
  } else if (dns != "ClusterFirstWithHostNet" && dns != "ClusterFirst" && dns != "Default" &&
             dns != "None") {
    errors.NotSupported(Child(path, "dnsPolicy"), dns,
                        {"ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"});
  } else if (dns == "None" && !spec.has_dns_config()) {
    errors.Required(Child(path, "dnsConfig"), "must provide `dnsConfig` when `dnsPolicy` is None");
  }
  if (spec.has_termination_grace_period_seconds()) {
    ValidateNonNegative(spec.termination_grace_period_seconds(),
                        Child(path, "terminationGracePeriodSeconds"), errors);
  }
  if (spec.has_active_deadline_seconds()) {
    const int64_t deadline = spec.active_deadline_seconds();
    if (deadline < 1 || deadline > 4294967295LL) {
      errors.Invalid(Child(path, "activeDeadlineSeconds"), deadline,
                     "must be between 1 and 4294967295, inclusive");
    }
  }
  ValidateLabels(spec.node_selector(), Child(path, "nodeSelector"), errors);
  ValidateOptionalName(spec.service_account_name(), IsDNS1123Subdomain,
                       Child(path, "serviceAccountName"), errors);
  ValidateOptionalName(spec.node_name(), IsDNS1123Subdomain, Child(path, "nodeName"), errors);
  ValidateOptionalName(spec.hostname(), IsDNS1123Label, Child(path, "hostname"), errors);
  ValidateOptionalName(spec.subdomain(), IsDNS1123Label, Child(path, "subdomain"), errors);
  ValidateOptionalName(spec.scheduler_name(), IsDNS1123Subdomain, Child(path, "schedulerName"),
                       errors);
  ValidateOptionalName(spec.priority_class_name(), IsDNS1123Subdomain,
                       Child(path, "priorityClassName"), errors);
  if (spec.has_preemption_policy() && spec.preemption_policy() != "PreemptLowerPriority" &&
      spec.preemption_policy() != "Never") {
    errors.NotSupported(Child(path, "preemptionPolicy"), spec.preemption_policy(),
                        {"Never", "PreemptLowerPriority"});
  }
  ValidateTolerations(spec, Child(path, "tolerations"), errors);
  if (spec.has_affinity()) ValidateAffinity(spec.affinity(), Child(path, "affinity"), errors);
  ValidateTopologySpread(spec, Child(path, "topologySpreadConstraints"), errors);
  ValidateResourceList(spec.overhead(), Child(path, "overhead"), errors);
}

// ---------------------------------------------------------------------------------------
// Kinds.

absl::Status Validate(const v1::Pod& pod) {
  FieldErrors errors;
  ValidateObjectMeta(pod.metadata(), true, IsDNS1123Subdomain, "metadata", errors);
  ValidatePodSpec(pod.spec(), "spec", errors);
  return errors.ToStatus();
}

absl::Status Validate(const v1::ReplicaSet& replica_set) {
  FieldErrors errors;
  ValidateObjectMeta(replica_set.metadata(), true, IsDNS1123Subdomain, "metadata", errors);
  const v1::ReplicaSetSpec& spec = replica_set.spec();
  ValidateNonNegative(spec.replicas(), "spec.replicas", errors);
  ValidateNonNegative(spec.min_ready_seconds(), "spec.minReadySeconds", errors);
  ValidateWorkloadSelectorAndTemplate(spec, "spec", errors);
  return errors.ToStatus();
}

absl::Status Validate(const v1::Deployment& deployment) {
  FieldErrors errors;
  ValidateObjectMeta(deployment.metadata(), true, IsDNS1123Subdomain, "metadata", errors);
  const v1::DeploymentSpec& spec = deployment.spec();
  ValidateNonNegative(spec.replicas(), "spec.replicas", errors);
  ValidateWorkloadSelectorAndTemplate(spec, "spec", errors);
  ValidateDeploymentStrategy(spec.strategy(), "spec.strategy", errors);
  ValidateNonNegative(spec.min_ready_seconds(), "spec.minReadySeconds", errors);
  if (spec.has_revision_history_limit()) {
    ValidateNonNegative(spec.revision_history_limit(), "spec.revisionHistoryLimit", errors);
  }
  if (spec.has_progress_deadline_seconds()) {
    ValidateNonNegative(spec.progress_deadline_seconds(), "spec.progressDeadlineSeconds", errors);
    if (spec.progress_deadline_seconds() <= spec.min_ready_seconds()) {
      errors.Invalid("spec.progressDeadlineSeconds", spec.progress_deadline_seconds(),
                     "must be greater than minReadySeconds");
    }
  }
  return errors.ToStatus();
}

absl::Status Validate(const v1::Service& service) {
  FieldErrors errors;
  ValidateObjectMeta(service.metadata(), true, IsDNS1035Label, "metadata", errors);
  ValidateServiceSpec(service.spec(), "spec", errors);
  return errors.ToStatus();
}

absl::Status Validate(const v1::Namespace& ns) {
  FieldErrors errors;
  ValidateObjectMeta(ns.metadata(), false, IsDNS1123Label, "metadata", errors);
  for (int i = 0; i < ns.spec().finalizers_size(); ++i) {
    for (const std::string& message : IsQualifiedName(ns.spec().finalizers(i))) {
      errors.Invalid(Index("spec.finalizers", i), ns.spec().finalizers(i), message);
    }
  }
  const std::string& phase = ns.status().phase();
  if (!phase.empty() && phase != "Active" && phase != "Terminating") {
    errors.NotSupported("status.phase", phase, {"Active", "Terminating"});
  }
  return errors.ToStatus();
}

absl::Status Validate(const v1::Node& node) {
  FieldErrors errors;
  ValidateObjectMeta(node.metadata(), false, IsDNS1123Subdomain, "metadata", errors);
  ValidateTaints(node.spec(), "spec.taints", errors);
  const std::string cidrs_path = "spec.podCIDRs";
  if (node.spec().pod_cidrs_size() > 2) {
    errors.Invalid(cidrs_path, node.spec().pod_cidrs_size(), "may specify no more than one CIDR for each IP family");
  }
  for (int i = 0; i < node.spec().pod_cidrs_size(); ++i) {
    if (!IsValidCIDR(node.spec().pod_cidrs(i))) {
      errors.Invalid(Index(cidrs_path, i), node.spec().pod_cidrs(i), "must be a valid CIDR");
    }
  }
  if (!node.spec().pod_cidr().empty() && !IsValidCIDR(node.spec().pod_cidr())) {
    errors.Invalid("spec.podCIDR", node.spec().pod_cidr(), "must be a valid CIDR");
  }
  ValidateResourceList(node.status().capacity(), "status.capacity", errors);
  ValidateResourceList(node.status().allocatable(), "status.allocatable", errors);
  return errors.ToStatus();
}

absl::Status Validate(const v1::Event& event) {
  FieldErrors errors;
  ValidateObjectMeta(event.metadata(), true, IsDNS1123Subdomain, "metadata", errors);
  const std::string& involved_ns = event.involved_object().namespace_();
  if (!involved_ns.empty() && involved_ns != event.metadata().namespace_()) {
    errors.Invalid("involvedObject.namespace", involved_ns, "does not match event.namespace");
  }
  if (!event.type().empty() && event.type() != "Normal" && event.type() != "Warning") {
    errors.NotSupported("type", event.type(), {"Normal", "Warning"});
  }
  ValidateNonNegative(event.count(), "count", errors);
  return errors.ToStatus();
}

absl::Status Validate(const v1::EndpointSlice& slice) {
  FieldErrors errors;
  ValidateObjectMeta(slice.metadata(), true, IsDNS1123Subdomain, "metadata", errors);
  const std::string& type = slice.address_type();
  if (type.empty()) {
    errors.Required("addressType");
  } else if (type != "IPv4" && type != "IPv6" && type != "FQDN") {
    errors.NotSupported("addressType", type, {"FQDN", "IPv4", "IPv6"});
  }
  ValidateEndpoints(slice, errors);
  ValidateEndpointPorts(slice, errors);
  return errors.ToStatus();
}

absl::Status Validate(const v1::Lease& lease) {
  FieldErrors errors;
  ValidateObjectMeta(lease.metadata(), true, IsDNS1123Subdomain, "metadata", errors);
  const v1::LeaseSpec& spec = lease.spec();
  if (spec.has_lease_duration_seconds() && spec.lease_duration_seconds() <= 0) {
    errors.Invalid("spec.leaseDurationSeconds", spec.lease_duration_seconds(),
                   "must be greater than 0");
  }
  if (spec.has_lease_transitions()) {
    ValidateNonNegative(spec.lease_transitions(), "spec.leaseTransitions", errors);
  }
  if (spec.has_strategy() && spec.strategy() != "OldestEmulationVersion") {
    errors.NotSupported("spec.strategy", spec.strategy(), {"OldestEmulationVersion"});
  }
  if (spec.has_preferred_holder() && !spec.has_strategy()) {
    errors.Forbidden("spec.preferredHolder", "may only be specified if `strategy` is defined");
  }
  return errors.ToStatus();
}

absl::Status Validate(const v1::PriorityClass& priority_class) {
  FieldErrors errors;
  ValidateObjectMeta(priority_class.metadata(), false, IsDNS1123Subdomain, "metadata", errors);
  constexpr int32_t kHighestUserDefinablePriority = 1'000'000'000;
  struct SystemClass {
    std::string_view name;
    int32_t value;
  };
  constexpr SystemClass kSystemClasses[] = {{"system-node-critical", 2'000'001'000},
                                            {"system-cluster-critical", 2'000'000'000}};
  const std::string& name = priority_class.metadata().name();
  if (name.starts_with("system-")) {
    std::string problem = fmt::format("{} is not a known system priority class", name);
    for (const SystemClass& system : kSystemClasses) {
      if (system.name != name) continue;
      if (priority_class.value() != system.value) {
        problem = fmt::format("value of {} PriorityClass must be {}", name, system.value);
      } else if (priority_class.global_default()) {
        problem = fmt::format("globalDefault of {} PriorityClass must be false", name);
      } else {
        problem.clear();
      }
    }
    if (!problem.empty()) {
      errors.Forbidden("metadata.name",
                       "priority class names with 'system-' prefix are reserved for system use "
                       "only. error: " + problem);
    }
  } else if (priority_class.value() > kHighestUserDefinablePriority) {
    errors.Forbidden("value", fmt::format("maximum allowed value of a user defined priority is {}",
                                          kHighestUserDefinablePriority));
  }
  if (priority_class.has_preemption_policy() &&
      priority_class.preemption_policy() != "PreemptLowerPriority" &&
      priority_class.preemption_policy() != "Never") {
    errors.NotSupported("preemptionPolicy", priority_class.preemption_policy(),
                        {"Never", "PreemptLowerPriority"});
  }
  return errors.ToStatus();
}

}  // namespace orch::api
