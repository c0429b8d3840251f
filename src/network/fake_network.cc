#include "orch/network/fake_network.h"

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "orch/base/status.h"

namespace orch::network {

FakeNetwork::FakeNetwork(FakeNetworkOptions options) : clock_(options.clock) {}

absl::Status FakeNetwork::AddNode(std::string_view node, std::string_view pod_cidr) {
  ORCH_ASSIGN_OR_RETURN(const IPv4Cidr cidr,
                        ParseIPv4Cidr(pod_cidr, fmt::format("node {}: podCIDR", node), 8, 30));
  MutexLock lock(&mu_);
  if (nodes_.contains(node)) {
    return absl::AlreadyExistsError(fmt::format("node {} already has a pod range", node));
  }
  nodes_.emplace(std::string(node), PodAddresses(cidr));
  return absl::OkStatus();
}

void FakeNetwork::RemoveNode(std::string_view node) {
  MutexLock lock(&mu_);
  if (auto it = nodes_.find(node); it != nodes_.end()) nodes_.erase(it);
}

absl::StatusOr<std::string> FakeNetwork::AssignPodAddress(std::string_view node,
                                                          std::string_view pod_uid) {
  MutexLock lock(&mu_);
  auto it = nodes_.find(node);
  if (it == nodes_.end()) {
    return absl::NotFoundError(fmt::format("node {} has no pod range", node));
  }
  return it->second.Assign(node, pod_uid);
}

void FakeNetwork::ReleasePodAddress(std::string_view node, std::string_view pod_uid) {
  MutexLock lock(&mu_);
  if (auto it = nodes_.find(node); it != nodes_.end()) it->second.Release(pod_uid);
}

void FakeNetwork::Program(const ServiceRule& rule) {
  Programmed& programmed = services_[ServiceName(rule.ns, rule.name)];
  if (programmed.rule == rule) return;
  programmed.rule = rule;
  ++rule_changes_;
}

void FakeNetwork::Forget(const std::string& key) {
  if (services_.erase(key) > 0) ++rule_changes_;
}

absl::Status FakeNetwork::SyncService(const ServiceRule& rule) {
  ORCH_RETURN_IF_ERROR(ValidateServiceRule(rule));
  MutexLock lock(&mu_);
  Program(rule);
  return absl::OkStatus();
}

absl::Status FakeNetwork::DeleteService(std::string_view ns, std::string_view name) {
  MutexLock lock(&mu_);
  Forget(ServiceName(ns, name));
  return absl::OkStatus();
}

absl::Status FakeNetwork::SyncServices(const ServiceChanges& changes) {
  for (const ServiceRule& rule : changes.synced) ORCH_RETURN_IF_ERROR(ValidateServiceRule(rule));
  MutexLock lock(&mu_);
  for (const ServiceRule& rule : changes.synced) Program(rule);
  for (const auto& [ns, name] : changes.deleted) Forget(ServiceName(ns, name));
  return absl::OkStatus();
}

absl::Status FakeNetwork::SyncAll(const std::vector<ServiceRule>& rules) {
  for (const ServiceRule& rule : rules) ORCH_RETURN_IF_ERROR(ValidateServiceRule(rule));
  MutexLock lock(&mu_);
  std::set<std::string> wanted;
  for (const ServiceRule& rule : rules) wanted.insert(ServiceName(rule.ns, rule.name));
  std::vector<std::string> gone;
  for (const auto& [key, programmed] : services_) {
    if (!wanted.contains(key)) gone.push_back(key);
  }
  for (const std::string& key : gone) Forget(key);
  for (const ServiceRule& rule : rules) Program(rule);
  return absl::OkStatus();
}

absl::StatusOr<Connection> FakeNetwork::Pick(Programmed& service, size_t port_index,
                                             std::string_view client_ip) {
  const ServiceRule& rule = service.rule;
  const std::vector<const Backend*> candidates = CandidateBackends(rule.ports[port_index]);
  const std::string key = ServiceName(rule.ns, rule.name);
  if (candidates.empty()) {
    return absl::UnavailableError(
        fmt::format("no endpoints available for service \"{}\"", key));
  }
  const absl::Time now = clock_->Now();
  const std::string affinity_key = fmt::format("{}/{}", port_index, client_ip);
  if (rule.session_affinity == "ClientIP") {
    auto it = service.affinity.find(affinity_key);
    if (it != service.affinity.end() &&
        now - it->second.last <= absl::Seconds(rule.affinity_timeout_seconds)) {
      for (const Backend* b : candidates) {
        if (*b == it->second.backend) {
          it->second.last = now;
          return Connection{key, *b};
        }
      }
    }
  }
  const Backend& chosen = *candidates[service.turn[port_index]++ % candidates.size()];
  if (rule.session_affinity == "ClientIP") service.affinity[affinity_key] = {chosen, now};
  return Connection{key, chosen};
}

absl::StatusOr<Connection> FakeNetwork::Connect(std::string_view client_ip,
                                                std::string_view address, int32_t port,
                                                std::string_view protocol) {
  MutexLock lock(&mu_);
  for (auto& [key, service] : services_) {
    if (service.rule.cluster_ip != address) continue;
    for (size_t i = 0; i < service.rule.ports.size(); ++i) {
      const ServicePortRule& p = service.rule.ports[i];
      if (p.port == port && p.protocol == protocol) return Pick(service, i, client_ip);
    }
  }
  return absl::NotFoundError(
      fmt::format("no service listens on {}:{}/{}", address, port, protocol));
}

absl::StatusOr<Connection> FakeNetwork::ConnectNodePort(std::string_view client_ip,
                                                        int32_t node_port,
                                                        std::string_view protocol) {
  MutexLock lock(&mu_);
  for (auto& [key, service] : services_) {
    for (size_t i = 0; i < service.rule.ports.size(); ++i) {
      const ServicePortRule& p = service.rule.ports[i];
      if (p.node_port != 0 && p.node_port == node_port && p.protocol == protocol) {
        return Pick(service, i, client_ip);
      }
    }
  }
  return absl::NotFoundError(fmt::format("no service listens on node port {}/{}", node_port,
                                         protocol));
}

std::optional<ServiceRule> FakeNetwork::Rule(std::string_view ns, std::string_view name) const {
  MutexLock lock(&mu_);
  auto it = services_.find(ServiceName(ns, name));
  if (it == services_.end()) return std::nullopt;
  return it->second.rule;
}

size_t FakeNetwork::service_count() const {
  MutexLock lock(&mu_);
  return services_.size();
}

int64_t FakeNetwork::rule_changes() const {
  MutexLock lock(&mu_);
  return rule_changes_;
}

}  // namespace orch::network
