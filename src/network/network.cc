#include "orch/network/network.h"

#include <string>

#include "fmt/format.h"
#include "orch/base/ipv4.h"
#include "orch/base/status.h"

namespace orch::network {

namespace {

absl::Status PortRangeError(std::string_view service, std::string_view field, int32_t value) {
  return absl::InvalidArgumentError(fmt::format(
      "service {}: {}: Invalid value: {}: must be between 1 and 65535, inclusive", service,
      field, value));
}

}  // namespace

std::string ServiceName(std::string_view ns, std::string_view name) {
  return fmt::format("{}/{}", ns, name);
}

absl::Status ValidateServiceRule(const ServiceRule& rule) {
  const std::string key = ServiceName(rule.ns, rule.name);
  if (rule.name.empty()) return absl::InvalidArgumentError("service rule: name: Required value");
  if (rule.cluster_ip != "None" && !ParseIPv4(rule.cluster_ip).has_value()) {
    return absl::InvalidArgumentError(fmt::format(
        "service {}: clusterIP: Invalid value: \"{}\": must be an IPv4 address or None", key,
        rule.cluster_ip));
  }
  if (rule.session_affinity != "None" && rule.session_affinity != "ClientIP") {
    return absl::InvalidArgumentError(fmt::format(
        "service {}: sessionAffinity: Unsupported value: \"{}\": supported values: \"ClientIP\", "
        "\"None\"",
        key, rule.session_affinity));
  }
  if (rule.session_affinity == "ClientIP" &&
      (rule.affinity_timeout_seconds < 1 || rule.affinity_timeout_seconds > 86400)) {
    return absl::InvalidArgumentError(fmt::format(
        "service {}: sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: {}: must be "
        "greater than 0 and less than 86400",
        key, rule.affinity_timeout_seconds));
  }
  for (size_t i = 0; i < rule.ports.size(); ++i) {
    const ServicePortRule& p = rule.ports[i];
    const std::string path = fmt::format("ports[{}]", i);
    if (p.protocol != "TCP" && p.protocol != "UDP" && p.protocol != "SCTP") {
      return absl::InvalidArgumentError(fmt::format(
          "service {}: {}.protocol: Unsupported value: \"{}\": supported values: \"SCTP\", "
          "\"TCP\", \"UDP\"",
          key, path, p.protocol));
    }
    if (p.port < 1 || p.port > 65535) return PortRangeError(key, path + ".port", p.port);
    if (p.node_port < 0 || p.node_port > 65535) {
      return PortRangeError(key, path + ".nodePort", p.node_port);
    }
    for (size_t j = 0; j < p.backends.size(); ++j) {
      const Backend& b = p.backends[j];
      const std::string at = fmt::format("{}.backends[{}]", path, j);
      if (!ParseIPv4(b.address).has_value()) {
        return absl::InvalidArgumentError(
            fmt::format("service {}: {}.address: Invalid value: \"{}\": must be an IPv4 address",
                        key, at, b.address));
      }
      if (b.port < 1 || b.port > 65535) return PortRangeError(key, at + ".port", b.port);
    }
  }
  return absl::OkStatus();
}

std::vector<const Backend*> CandidateBackends(const ServicePortRule& port) {
  std::vector<const Backend*> candidates;
  for (const Backend& b : port.backends) {
    if (b.ready) candidates.push_back(&b);
  }
  if (candidates.empty()) {
    for (const Backend& b : port.backends) {
      if (b.serving && b.terminating) candidates.push_back(&b);
    }
  }
  return candidates;
}

}  // namespace orch::network
