// Service address allocation: cluster IPs and node ports, reserved in the store so that
// every Client of one store agrees (Kubernetes' API server allocators).
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "fmt/format.h"
#include "orch/client/client.h"

namespace orch::client {

namespace {

namespace v1 = api::v1;

constexpr char kServiceIPs[] = "/registry/ranges/serviceips/";
constexpr char kNodePorts[] = "/registry/ranges/servicenodeports/";
// A reservation this young may belong to a Service whose create is still on its way to
// the store: it is never taken over.
constexpr absl::Duration kReservationGrace = absl::Minutes(1);

// A reservation's value, "<namespace>/<name>/<uid>/<unix nanos when made>", in its parts;
// empty when it is not one.
std::vector<std::string> ReservationParts(const store::KeyValue& kv) {
  std::vector<std::string> parts = absl::StrSplit(kv.value.str(), '/');
  if (parts.size() != 4) parts.clear();
  return parts;
}

bool WantsNodePorts(const v1::ServiceSpec& spec) {
  return spec.type() == "NodePort" || spec.type() == "LoadBalancer";
}

}  // namespace

absl::Status Client::SetServiceRanges(const ServiceRanges& ranges) {
  ORCH_ASSIGN_OR_RETURN(const IPv4Cidr cidr,
                        ParseIPv4Cidr(ranges.cluster_ip_range, "cluster_ip_range", 8, 30));
  if (ranges.node_port_min < 1 || ranges.node_port_max > 65535 ||
      ranges.node_port_min > ranges.node_port_max) {
    return absl::InvalidArgumentError(fmt::format(
        "node_port_min, node_port_max: Invalid value: {}-{}: must be a range within 1-65535",
        ranges.node_port_min, ranges.node_port_max));
  }
  MutexLock lock(&ranges_mu_);
  service_ips_ = cidr;
  node_port_min_ = ranges.node_port_min;
  node_port_max_ = ranges.node_port_max;
  return absl::OkStatus();
}

uint64_t Client::Random() {
  MutexLock lock(&rng_mu_);
  return rng_();
}

// A reservation is free once old enough and its Service is gone, is another object of that name, or no longer
// holds the address or port.
bool Client::ReservationFree(const store::KeyValue& kv) {
  const std::vector<std::string> parts = ReservationParts(kv);
  int64_t made = 0;
  if (parts.empty() || !absl::SimpleAtoi(parts[3], &made)) return true;  // not ours
  if (clock_->Now() - absl::FromUnixNanos(made) < kReservationGrace) return false;
  v1::Service service;
  const absl::Status got = GetObject(parts[0], parts[1], &service);
  if (absl::IsNotFound(got)) return true;
  if (!got.ok()) return false;  // cannot tell: keep it
  if (service.metadata().uid() != parts[2]) return true;
  const std::string_view key = kv.key;
  if (key.starts_with(kServiceIPs)) {
    const std::string_view ip = key.substr(sizeof(kServiceIPs) - 1);
    for (const std::string& held : service.spec().cluster_ips()) {
      if (held == ip) return false;
    }
    return service.spec().cluster_ip() != ip;
  }
  const std::string_view port = key.substr(sizeof(kNodePorts) - 1);
  for (const v1::ServicePort& p : service.spec().ports()) {
    if (std::to_string(p.node_port()) == port) return false;
  }
  return true;
}

// Reserves `key` for `owner`: kMade (new, or taken over from a Service that let it go),
// kAlreadyOurs, or kHeldByAnother.
absl::StatusOr<Client::Reservation> Client::Reserve(const std::string& key, const v1::ObjectMeta& owner) {
  const std::string value = fmt::format("{}/{}/{}/{}", owner.namespace_(), owner.name(),
                                        owner.uid(), absl::ToUnixNanos(clock_->Now()));
  for (int attempt = 0; attempt < 3; ++attempt) {
    absl::StatusOr<int64_t> created = store_->Create(key, value);
    if (created.ok()) return Reservation::kMade;
    if (!absl::IsAlreadyExists(created.status())) return created.status();
    absl::StatusOr<store::KeyValue> kv = store_->Get(key);
    if (absl::IsNotFound(kv.status())) continue;  // released meanwhile
    ORCH_RETURN_IF_ERROR(kv.status());
    const std::vector<std::string> parts = ReservationParts(*kv);
    if (!parts.empty() && parts[2] == owner.uid()) return Reservation::kAlreadyOurs;
    if (!ReservationFree(*kv)) return Reservation::kHeldByAnother;
    absl::StatusOr<int64_t> taken = store_->Update(key, value, kv->mod_revision);
    if (taken.ok()) return Reservation::kMade;
    if (!absl::IsAborted(taken.status())) return taken.status();
  }
  return Reservation::kHeldByAnother;
}

void Client::ReleaseReservations(const std::vector<std::string>& keys) {
  for (const std::string& key : keys) (void)store_->Delete(key);
}

namespace {
// The reservation keys a Service holds.
std::set<std::string> HeldKeys(const v1::Service& service) {
  std::set<std::string> keys;
  const std::string& ip = service.spec().cluster_ip();
  if (!ip.empty() && ip != "None") keys.insert(kServiceIPs + ip);
  for (const v1::ServicePort& p : service.spec().ports()) {
    if (p.node_port() != 0) keys.insert(kNodePorts + std::to_string(p.node_port()));
  }
  return keys;
}
}  // namespace

void Client::ReleaseServiceAddresses(const google::protobuf::Message& before,
                                     const google::protobuf::Message* after) {
  const auto* service = google::protobuf::DynamicCastToGenerated<v1::Service>(&before);
  if (service == nullptr) return;
  std::set<std::string> keep;
  if (after != nullptr) keep = HeldKeys(static_cast<const v1::Service&>(*after));
  for (const std::string& key : HeldKeys(*service)) {
    if (keep.contains(key)) continue;
    absl::StatusOr<store::KeyValue> kv = store_->Get(key);
    if (!kv.ok()) continue;
    const std::vector<std::string> parts = ReservationParts(*kv);
    if (!parts.empty() && parts[2] == service->metadata().uid()) {  // still this Service's
      (void)store_->Delete(key, kv->mod_revision);
    }
  }
}

absl::StatusOr<std::vector<std::string>> Client::AllocateServiceAddresses(
    v1::Service& service, const v1::Service* current) {
  IPv4Cidr range;
  int32_t port_min = 0;
  int32_t port_max = 0;
  {
    MutexLock lock(&ranges_mu_);
    range = service_ips_;
    port_min = node_port_min_;
    port_max = node_port_max_;
  }
  std::vector<std::string> reserved;
  // Whatever fails after a reservation was made gives it back.
  auto fail = [&](absl::Status status) {
    ReleaseReservations(reserved);
    return status;
  };
  const v1::ObjectMeta& meta = service.metadata();
  v1::ServiceSpec& spec = *service.mutable_spec();

  // ---- the cluster IP
  if (spec.cluster_ip().empty() && spec.cluster_ips_size() > 0) spec.set_cluster_ip(spec.cluster_ips(0));
  if (spec.type() == "ExternalName") {
    spec.clear_cluster_ips();
    spec.clear_ip_families();
    spec.clear_ip_family_policy();
  } else {
    const std::string held = current != nullptr && current->spec().type() != "ExternalName"
                                 ? current->spec().cluster_ip()
                                 : std::string();
    if (!held.empty() && spec.cluster_ip().empty()) spec.set_cluster_ip(held);
    if (!held.empty() && spec.cluster_ip() != held) {
      return absl::InvalidArgumentError(fmt::format(
          "spec.clusterIPs[0]: Invalid value: \"{}\": may not change once set", spec.cluster_ip()));
    }
    for (int i = 0; i < spec.ip_families_size(); ++i) {
      if (spec.ip_families(i) != "IPv4") {
        return absl::InvalidArgumentError(
            fmt::format("spec.ipFamilies[{}]: Invalid value: \"{}\": not configured on this cluster",
                        i, spec.ip_families(i)));
      }
    }
    if (held.empty() && spec.cluster_ip() != "None") {
      const std::string what = fmt::format("spec.clusterIPs: Invalid value: [\"{}\"]: failed to allocate IP {}",
                                           spec.cluster_ip(), spec.cluster_ip());
      if (!spec.cluster_ip().empty()) {  // asked for one
        const std::optional<uint32_t> ip = ParseIPv4(spec.cluster_ip());
        if (!ip.has_value() || !range.Contains(*ip) || *ip == range.base ||
            *ip == range.base + range.size() - 1) {
          return absl::InvalidArgumentError(fmt::format(
              "{}: the provided IP ({}) is not in the valid range. The range of valid IPs is {}",
              what, spec.cluster_ip(), range.ToString()));
        }
        const std::string key = kServiceIPs + spec.cluster_ip();
        ORCH_ASSIGN_OR_RETURN(const Reservation got, Reserve(key, meta));
        if (got == Reservation::kHeldByAnother) {
          return absl::InvalidArgumentError(what + ": provided IP is already allocated");
        }
        if (got == Reservation::kMade) reserved.push_back(key);
      } else {  // any free address but the range's first and last, from a random start
        const uint64_t hosts = range.size() - 2;
        const uint64_t start = Random() % hosts;
        for (uint64_t i = 0; i < hosts && spec.cluster_ip().empty(); ++i) {
          const std::string ip = FormatIPv4(range.base + 1 + static_cast<uint32_t>((start + i) % hosts));
          absl::StatusOr<Reservation> got = Reserve(kServiceIPs + ip, meta);
          if (!got.ok()) return fail(got.status());
          if (*got != Reservation::kHeldByAnother) {
            if (*got == Reservation::kMade) reserved.push_back(kServiceIPs + ip);
            spec.set_cluster_ip(ip);
          }
        }
        if (spec.cluster_ip().empty()) {
          return absl::FailedPreconditionError(
              "Internal error occurred: failed to allocate a serviceIP: range is full");
        }
      }
    }
    spec.clear_cluster_ips();
    spec.add_cluster_ips(spec.cluster_ip());
    spec.clear_ip_families();
    spec.add_ip_families("IPv4");
    if (!spec.has_ip_family_policy()) spec.set_ip_family_policy("SingleStack");
  }

  // ---- node ports
  if (!WantsNodePorts(spec)) return reserved;
  const bool had_node_ports = current != nullptr && WantsNodePorts(current->spec());
  for (int i = 0; i < spec.ports_size(); ++i) {
    v1::ServicePort& port = *spec.mutable_ports(i);
    if (port.node_port() == 0 && had_node_ports) {  // keep what the port had
      for (const v1::ServicePort& old : current->spec().ports()) {
        if (old.port() == port.port() && old.protocol() == port.protocol()) {
          port.set_node_port(old.node_port());
        }
      }
    }
    if (port.node_port() != 0) {
      const std::string path = fmt::format("spec.ports[{}].nodePort: Invalid value: {}", i, port.node_port());
      if (port.node_port() < port_min || port.node_port() > port_max) {
        return fail(absl::InvalidArgumentError(fmt::format(
            "{}: provided port is not in the valid range. The range of valid ports is {}-{}",
            path, port_min, port_max)));
      }
      const std::string key = kNodePorts + std::to_string(port.node_port());
      absl::StatusOr<Reservation> got = Reserve(key, meta);
      if (!got.ok()) return fail(got.status());
      if (*got == Reservation::kHeldByAnother) {
        return fail(absl::InvalidArgumentError(path + ": provided port is already allocated"));
      }
      if (*got == Reservation::kMade) reserved.push_back(key);
      continue;
    }
    const int64_t count = port_max - port_min + 1;
    const int64_t start = static_cast<int64_t>(Random() % static_cast<uint64_t>(count));
    for (int64_t n = 0; n < count && port.node_port() == 0; ++n) {
      const int32_t candidate = port_min + static_cast<int32_t>((start + n) % count);
      const std::string key = kNodePorts + std::to_string(candidate);
      absl::StatusOr<Reservation> got = Reserve(key, meta);
      if (!got.ok()) return fail(got.status());
      if (*got != Reservation::kHeldByAnother) {
        if (*got == Reservation::kMade) reserved.push_back(key);
        port.set_node_port(candidate);
      }
    }
    if (port.node_port() == 0) {
      return fail(absl::FailedPreconditionError(
          "Internal error occurred: failed to allocate a nodePort: range is full"));
    }
  }
  return reserved;
}

}  // namespace orch::client
