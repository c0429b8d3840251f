#include "orch/controller/endpointslice.h"

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "controller/pods.h"
#include "controller/watches.h"
#include "fmt/format.h"
#include "google/protobuf/util/message_differencer.h"
#include "orch/api/encoding.h"
#include "orch/api/labels.h"
#include "orch/api/selector.h"
#include "orch/api/v1/core.pb.h"
#include "orch/api/v1/discovery.pb.h"
#include "orch/base/mutex.h"
#include "orch/controller/ownership.h"

namespace orch::controller {

namespace {

namespace v1 = api::v1;
using internal::PodPtr;
using ServicePtr = std::shared_ptr<const v1::Service>;
using SlicePtr = std::shared_ptr<const v1::EndpointSlice>;
using google::protobuf::util::MessageDifferencer;

constexpr char kComponent[] = "endpoint-slice-controller";
constexpr char kHeadlessLabel[] = "service.kubernetes.io/headless";

bool IsIPv6(const std::string& ip) { return ip.find(':') != std::string::npos; }

// The Service's address family as an EndpointSlice addressType.
std::string AddressType(const v1::Service& service) {
  return service.spec().ip_families_size() > 0 && service.spec().ip_families(0) == "IPv6"
             ? "IPv6"
             : "IPv4";
}

// The pod's address of that family, or "".
std::string PodAddress(const v1::Pod& pod, const std::string& address_type) {
  const bool want_v6 = address_type == "IPv6";
  for (const auto& ip : pod.status().pod_ips()) {
    if (!ip.ip().empty() && IsIPv6(ip.ip()) == want_v6) return ip.ip();
  }
  const std::string& ip = pod.status().pod_ip();
  return !ip.empty() && IsIPv6(ip) == want_v6 ? ip : std::string();
}

// The container port a Service port reaches on `pod`, or 0 when the pod has none (a
// named targetPort the pod does not declare). Kubernetes' FindPort.
int32_t FindPort(const v1::Pod& pod, const v1::ServicePort& port) {
  const v1::IntOrString& target = port.target_port();
  if (target.value_case() != v1::IntOrString::kStrVal) {
    return target.int_val() != 0 ? target.int_val() : port.port();
  }
  const std::string protocol = port.protocol().empty() ? "TCP" : port.protocol();
  for (const v1::Container& c : pod.spec().containers()) {
    for (const v1::ContainerPort& p : c.ports()) {
      const std::string& p_protocol = p.protocol().empty() ? std::string("TCP") : p.protocol();
      if (p.name() == target.str_val() && p_protocol == protocol) return p.container_port();
    }
  }
  return 0;
}

std::vector<v1::EndpointPort> EndpointPorts(const v1::Service& service, const v1::Pod& pod) {
  std::vector<v1::EndpointPort> out;
  for (const v1::ServicePort& port : service.spec().ports()) {
    const int32_t number = FindPort(pod, port);
    if (number == 0) continue;
    v1::EndpointPort& p = out.emplace_back();
    p.set_name(port.name());
    p.set_protocol(port.protocol().empty() ? "TCP" : port.protocol());
    p.set_port(number);
    if (port.has_app_protocol()) p.set_app_protocol(port.app_protocol());
  }
  return out;
}

// A port set as a key: the same ports give the same key, whatever their order.
std::string PortsKey(const google::protobuf::RepeatedPtrField<v1::EndpointPort>& ports) {
  std::vector<std::string> parts;
  for (const v1::EndpointPort& p : ports) {
    parts.push_back(fmt::format("{}/{}/{}/{}", p.name(), p.protocol(), p.port(),
                                p.has_app_protocol() ? p.app_protocol() : "-"));
  }
  std::sort(parts.begin(), parts.end());
  return fmt::format("{}", fmt::join(parts, ","));
}

// An endpoint's identity across syncs: the pod it stands for.
std::string EndpointKey(const v1::Endpoint& e) {
  return e.target_ref().namespace_() + "/" + e.target_ref().name() + "/" + e.target_ref().uid();
}

// The slice labels for `service` (Kubernetes' setEndpointSliceLabels).
google::protobuf::Map<std::string, std::string> SliceLabels(const v1::Service& service) {
  google::protobuf::Map<std::string, std::string> labels;
  for (const auto& [k, v] : service.metadata().labels()) {
    if (k == kServiceNameLabel || k == kManagedByLabel) continue;
    labels[k] = v;
  }
  if (service.spec().cluster_ip() == "None") labels[kHeadlessLabel] = "";
  labels[kServiceNameLabel] = service.metadata().name();
  labels[kManagedByLabel] = kEndpointSliceControllerName;
  return labels;
}

// What the controller wrote last to one Service's slices: each slice's resourceVersion,
// and the slices it deleted. The cache is current for the Service once it shows them.
struct Written {
  std::map<std::string, int64_t> versions;
  std::set<std::string> deleted;
};

int64_t VersionOf(const v1::ObjectMeta& meta) {
  int64_t v = 0;
  return absl::SimpleAtoi(meta.resource_version(), &v) ? v : 0;
}

// One group of endpoints sharing a port set: the slices it is written to.
struct Group {
  google::protobuf::RepeatedPtrField<v1::EndpointPort> ports;
  std::vector<v1::Endpoint> endpoints;  // desired, by pod name
};

class EndpointSliceReconciler final : public Reconciler {
 public:
  EndpointSliceReconciler(Manager* manager, EndpointSliceOptions options,
                          client::Lister<v1::Service> services, client::Lister<v1::Pod> pods,
                          client::Lister<v1::EndpointSlice> slices,
                          client::Lister<v1::Node> nodes)
      : client_(manager->client()),
        events_(manager->EventRecorderFor(kComponent)),
        options_(options),
        services_(std::move(services)),
        pods_(std::move(pods)),
        slices_(std::move(slices)),
        nodes_(std::move(nodes)) {}

  Result Reconcile(const Request& request) override;

  // ---- watch handlers

  // Each Service's members — the pods of its namespace its selector matches — are kept
  // up to date from the events, so neither a pod event nor a sync reads every pod.
  void OnService(const WatchEvent& event, RequestQueue& queue) {
    const auto& service = static_cast<const v1::Service&>(*event.obj);
    const std::string& ns = service.metadata().namespace_();
    const std::string& name = service.metadata().name();
    {
      MutexLock lock(&mu_);
      Selected& selected = selected_[ns];
      if (event.type == WatchEvent::Type::kDelete || service.spec().selector().empty()) {
        selected.erase(name);
        written_.erase(ns + "/" + name);
      } else {
        const auto* old_service = static_cast<const v1::Service*>(event.old_obj);
        auto it = selected.find(name);
        if (it == selected.end() || old_service == nullptr ||
            !api::SameStringMap(old_service->spec().selector(), service.spec().selector())) {
          Membership& m = selected[name];
          m.selector = api::LabelSelector::FromMap(service.spec().selector());
          m.pods.clear();
          for (const PodPtr& pod : pods_.ListInNamespace(ns, m.selector)) {
            m.pods.insert(pod->metadata().name());
          }
        }
      }
    }
    queue.Add({ns, name});
  }

  void OnPod(const WatchEvent& event, RequestQueue& queue) {
    const auto& pod = static_cast<const v1::Pod&>(*event.obj);
    const auto* old_pod = static_cast<const v1::Pod*>(event.old_obj);
    if (old_pod != nullptr && !EndpointRelevantChange(*old_pod, pod)) return;
    const std::string& ns = pod.metadata().namespace_();
    std::vector<Request> requests;
    {
      MutexLock lock(&mu_);
      auto selected = selected_.find(ns);
      if (selected == selected_.end()) return;
      for (auto& [name, m] : selected->second) {
        const bool matches = m.selector.Matches(pod.metadata().labels());
        const bool before = old_pod != nullptr && m.selector.Matches(old_pod->metadata().labels());
        if (matches && event.type != WatchEvent::Type::kDelete) {
          m.pods.insert(pod.metadata().name());
        } else {
          m.pods.erase(pod.metadata().name());
        }
        if (matches || before) requests.push_back({ns, name});
      }
    }
    for (const Request& request : requests) {
      if (options_.batch_period > absl::ZeroDuration()) {
        queue.AddAfter(request, options_.batch_period);
      } else {
        queue.Add(request);
      }
    }
  }

  void OnSlice(const WatchEvent& event, RequestQueue& queue) {
    const auto& slice = static_cast<const v1::EndpointSlice&>(*event.obj);
    const auto& labels = slice.metadata().labels();
    auto managed = labels.find(kManagedByLabel);
    auto service = labels.find(kServiceNameLabel);
    if (managed == labels.end() || managed->second != kEndpointSliceControllerName ||
        service == labels.end()) {
      return;
    }
    queue.Add({slice.metadata().namespace_(), service->second});
  }

  void OnNode(const WatchEvent& event, RequestQueue& queue) {
    if (event.type != WatchEvent::Type::kUpdate) return;  // pods of a new node come later
    const auto& node = static_cast<const v1::Node&>(*event.obj);
    const auto& old_node = static_cast<const v1::Node&>(*event.old_obj);
    auto zone = [](const v1::Node& n) {
      auto it = n.metadata().labels().find(api::kLabelTopologyZone);
      return it == n.metadata().labels().end() ? std::string() : it->second;
    };
    if (zone(node) == zone(old_node)) return;
    // The Services with a member on the node.
    std::vector<std::pair<Request, std::vector<std::string>>> members;  // pod names
    {
      MutexLock lock(&mu_);
      for (const auto& [ns, selected] : selected_) {
        for (const auto& [name, m] : selected) {
          members.push_back({{ns, name}, std::vector<std::string>(m.pods.begin(), m.pods.end())});
        }
      }
    }
    for (const auto& [service, pods] : members) {
      for (const std::string& pod_name : pods) {
        absl::StatusOr<PodPtr> pod = pods_.Get(service.ns, pod_name);
        if (pod.ok() && (*pod)->spec().node_name() == node.metadata().name()) {
          queue.Add(service);
          break;
        }
      }
    }
  }

 private:
  // Whether a pod update can change its endpoint: labels, address, readiness, node,
  // deletion, phase, hostname or ports.
  static bool EndpointRelevantChange(const v1::Pod& a, const v1::Pod& b) {
    return !internal::SameLabels(a.metadata(), b.metadata()) ||
           a.status().pod_ip() != b.status().pod_ip() ||
           !std::equal(a.status().pod_ips().begin(), a.status().pod_ips().end(),
                       b.status().pod_ips().begin(), b.status().pod_ips().end(),
                       [](const auto& x, const auto& y) { return x.ip() == y.ip(); }) ||
           internal::IsPodReady(a) != internal::IsPodReady(b) ||
           a.spec().node_name() != b.spec().node_name() ||
           a.metadata().has_deletion_timestamp() != b.metadata().has_deletion_timestamp() ||
           a.status().phase() != b.status().phase() || a.spec().hostname() != b.spec().hostname() ||
           a.spec().subdomain() != b.spec().subdomain() ||
           a.metadata().uid() != b.metadata().uid();
  }

  v1::Endpoint MakeEndpoint(const v1::Service& service, const v1::Pod& pod,
                            const std::string& address) const;
  std::map<std::string, Group> DesiredGroups(const v1::Service& service);
  std::vector<PodPtr> Members(const v1::Service& service);
  bool CacheIsCurrent(const std::string& key, const std::vector<SlicePtr>& slices);
  absl::Status Sync(const v1::Service& service, std::vector<SlicePtr> existing,
                    Written& written);

  client::Client* const client_;
  client::EventRecorder* const events_;
  const EndpointSliceOptions options_;
  client::Lister<v1::Service> services_;
  client::Lister<v1::Pod> pods_;
  client::Lister<v1::EndpointSlice> slices_;
  client::Lister<v1::Node> nodes_;
  Mutex mu_;
  absl::flat_hash_map<std::string, Written> written_ ABSL_GUARDED_BY(mu_);  // by Service key
  struct Membership {
    api::LabelSelector selector;
    std::set<std::string> pods;  // names
  };
  using Selected = std::map<std::string, Membership>;  // by Service name
  absl::flat_hash_map<std::string, Selected> selected_ ABSL_GUARDED_BY(mu_);  // by namespace
};

v1::Endpoint EndpointSliceReconciler::MakeEndpoint(const v1::Service& service, const v1::Pod& pod,
                                                   const std::string& address) const {
  v1::Endpoint e;
  e.add_addresses(address);
  const bool publish = service.spec().publish_not_ready_addresses();
  const bool terminating = pod.metadata().has_deletion_timestamp();
  const bool serving = publish || internal::IsPodReady(pod);
  e.mutable_conditions()->set_ready(serving && (publish || !terminating));
  e.mutable_conditions()->set_serving(serving);
  e.mutable_conditions()->set_terminating(terminating);
  if (!pod.spec().hostname().empty() && pod.spec().subdomain() == service.metadata().name()) {
    e.set_hostname(pod.spec().hostname());
  }
  v1::ObjectReference& ref = *e.mutable_target_ref();
  ref.set_kind("Pod");
  ref.set_namespace_(pod.metadata().namespace_());
  ref.set_name(pod.metadata().name());
  ref.set_uid(pod.metadata().uid());
  const std::string& node_name = pod.spec().node_name();
  if (!node_name.empty()) {
    e.set_node_name(node_name);
    if (absl::StatusOr<std::shared_ptr<const v1::Node>> node = nodes_.Get("", node_name);
        node.ok()) {
      auto zone = (*node)->metadata().labels().find(api::kLabelTopologyZone);
      if (zone != (*node)->metadata().labels().end()) e.set_zone(zone->second);
    }
  }
  return e;
}

// The pods the Service selects, by name, from the membership the events keep.
std::vector<PodPtr> EndpointSliceReconciler::Members(const v1::Service& service) {
  const std::string& ns = service.metadata().namespace_();
  std::vector<std::string> names;
  api::LabelSelector selector;
  {
    MutexLock lock(&mu_);
    auto selected = selected_.find(ns);
    if (selected == selected_.end()) return {};
    auto it = selected->second.find(service.metadata().name());
    if (it == selected->second.end()) return {};
    names.assign(it->second.pods.begin(), it->second.pods.end());
    selector = it->second.selector;
  }
  std::vector<PodPtr> pods;
  for (const std::string& name : names) {
    absl::StatusOr<PodPtr> pod = pods_.Get(ns, name);
    if (pod.ok() && selector.Matches((*pod)->metadata().labels())) pods.push_back(*std::move(pod));
  }
  return pods;
}

std::map<std::string, Group> EndpointSliceReconciler::DesiredGroups(const v1::Service& service) {
  std::map<std::string, Group> groups;
  const std::string address_type = AddressType(service);
  for (const PodPtr& pod : Members(service)) {
    const std::string& phase = pod->status().phase();
    if (phase == "Succeeded" || phase == "Failed") continue;
    const std::string address = PodAddress(*pod, address_type);
    if (address.empty()) continue;
    google::protobuf::RepeatedPtrField<v1::EndpointPort> ports;
    for (v1::EndpointPort& p : EndpointPorts(service, *pod)) *ports.Add() = std::move(p);
    Group& group = groups[PortsKey(ports)];
    if (group.endpoints.empty()) group.ports = std::move(ports);
    group.endpoints.push_back(MakeEndpoint(service, *pod, address));
  }
  return groups;
}

bool EndpointSliceReconciler::CacheIsCurrent(const std::string& key,
                                             const std::vector<SlicePtr>& slices) {
  MutexLock lock(&mu_);
  auto it = written_.find(key);
  if (it == written_.end()) return true;
  Written& written = it->second;
  std::map<std::string, int64_t> cached;
  for (const SlicePtr& s : slices) cached[s->metadata().name()] = VersionOf(s->metadata());
  for (const auto& [name, version] : written.versions) {
    auto c = cached.find(name);
    if (c == cached.end() || c->second < version) return false;
  }
  for (const std::string& name : written.deleted) {
    if (cached.contains(name)) return false;
  }
  written_.erase(it);
  return true;
}

Result EndpointSliceReconciler::Reconcile(const Request& request) {
  absl::StatusOr<ServicePtr> cached = services_.Get(request.ns, request.name);
  if (absl::IsNotFound(cached.status())) return {};  // its slices go with it (owner refs)
  ORCH_RETURN_IF_ERROR(cached.status());
  const v1::Service& service = **cached;
  // No selector: the slices are somebody else's. ExternalName: no endpoints at all.
  if (service.spec().selector().empty() || service.spec().type() == "ExternalName") return {};

  google::protobuf::Map<std::string, std::string> ours;
  ours[kServiceNameLabel] = request.name;
  ours[kManagedByLabel] = kEndpointSliceControllerName;
  std::vector<SlicePtr> existing;
  for (SlicePtr& s : slices_.ListInNamespace(request.ns, api::LabelSelector::FromMap(ours))) {
    // A slice of an earlier Service of the same name is the garbage collector's.
    if (IsOwnedBy(*s, service) && !s->metadata().has_deletion_timestamp()) {
      existing.push_back(std::move(s));
    }
  }
  const std::string key = request.Key();
  // The slice events that bring the cache up to date queue this Service again.
  if (!CacheIsCurrent(key, existing)) return {};

  Written written;
  absl::Status status = Sync(service, std::move(existing), written);
  if (!written.versions.empty() || !written.deleted.empty()) {
    MutexLock lock(&mu_);
    written_[key] = std::move(written);
  }
  if (!status.ok()) {
    (void)events_->Record(service, client::kEventWarning, "FailedToUpdateEndpointSlices",
                          fmt::format("Error updating Endpoint Slices for Service {}: {}", key,
                                      std::string(status.message())));
  }
  return status;
}

absl::Status EndpointSliceReconciler::Sync(const v1::Service& service,
                                           std::vector<SlicePtr> existing, Written& written) {
  const google::protobuf::Map<std::string, std::string> labels = SliceLabels(service);
  const std::string address_type = AddressType(service);
  const size_t max = static_cast<size_t>(options_.max_endpoints_per_slice);
  std::map<std::string, Group> groups = DesiredGroups(service);

  // The slices to write: each existing one (edited in place) and the new ones.
  struct Planned {
    v1::EndpointSlice slice;
    bool existed = false;
    bool changed = false;
    bool placeholder = false;  // kept though it has no endpoints
  };
  // A deque: slices are added while pointers to earlier ones are held.
  std::deque<Planned> planned;
  // Existing slices, grouped by their port set, in name order (the lister's order).
  std::map<std::string, std::vector<size_t>> existing_by_ports;
  for (const SlicePtr& s : existing) {
    Planned& p = planned.emplace_back();
    p.slice = *s;
    p.existed = true;
    // A slice of another address family (the Service's changed) is not reused.
    p.changed = s->address_type() != address_type;
    if (!p.changed) existing_by_ports[PortsKey(s->ports())].push_back(planned.size() - 1);
  }
  for (Planned& p : planned) {
    if (p.changed) p.slice.clear_endpoints();  // to be deleted below
  }

  // 1. Endpoints stay in the slice they are in, updated in place; the rest wait.
  std::map<std::string, std::vector<const v1::Endpoint*>> unplaced;  // by port set
  for (auto& [ports_key, group] : groups) {
    absl::flat_hash_map<std::string, const v1::Endpoint*> wanted;
    for (const v1::Endpoint& e : group.endpoints) wanted[EndpointKey(e)] = &e;
    for (size_t i : existing_by_ports[ports_key]) {
      v1::EndpointSlice& slice = planned[i].slice;
      google::protobuf::RepeatedPtrField<v1::Endpoint> kept;
      for (const v1::Endpoint& e : slice.endpoints()) {
        auto it = wanted.find(EndpointKey(e));
        if (it == wanted.end() || it->second == nullptr) {
          planned[i].changed = true;  // gone (or listed twice)
          continue;
        }
        if (!MessageDifferencer::Equals(e, *it->second)) planned[i].changed = true;
        *kept.Add() = *it->second;
        it->second = nullptr;  // placed
      }
      slice.mutable_endpoints()->Swap(&kept);
    }
    for (const v1::Endpoint& e : group.endpoints) {
      if (wanted[EndpointKey(e)] != nullptr) unplaced[ports_key].push_back(&e);
    }
  }
  // 2. Slices of port sets no longer wanted are emptied, to be reused or deleted.
  std::vector<size_t> spare;
  for (auto& [ports_key, slots] : existing_by_ports) {
    if (groups.contains(ports_key)) continue;
    for (size_t i : slots) {
      if (planned[i].slice.endpoints_size() > 0) planned[i].changed = true;
      planned[i].slice.clear_endpoints();
      spare.push_back(i);
    }
  }
  // 3. Waiting endpoints fill slices of their port set with room, then spare slices
  // (which take the port set), then new slices.
  for (auto& entry : unplaced) {
    const std::string& ports_key = entry.first;  // a named variable: lambdas capture it
    const std::vector<const v1::Endpoint*>& waiting = entry.second;
    size_t next = 0;
    auto fill = [&](Planned& p) {
      while (next < waiting.size() && static_cast<size_t>(p.slice.endpoints_size()) < max) {
        *p.slice.add_endpoints() = *waiting[next++];
        p.changed = true;
      }
    };
    for (size_t i : existing_by_ports[ports_key]) fill(planned[i]);
    while (next < waiting.size() && !spare.empty()) {
      Planned& p = planned[spare.back()];
      spare.pop_back();
      *p.slice.mutable_ports() = groups[ports_key].ports;
      fill(p);
    }
    while (next < waiting.size()) {
      Planned& p = planned.emplace_back();
      p.slice.set_address_type(address_type);
      *p.slice.mutable_ports() = groups[ports_key].ports;
      fill(p);
    }
  }

  // No endpoints at all: keep one empty slice without ports (the placeholder), reusing
  // an existing slice where there is one.
  const bool any = std::any_of(planned.begin(), planned.end(), [](const Planned& p) {
    return p.slice.endpoints_size() > 0;
  });
  if (!any) {
    Planned* placeholder = nullptr;
    for (Planned& p : planned) {
      if (p.existed && p.slice.address_type() == address_type) {
        placeholder = &p;
        break;
      }
    }
    if (placeholder == nullptr) {
      placeholder = &planned.emplace_back();
      placeholder->slice.set_address_type(address_type);
    }
    if (placeholder->slice.ports_size() > 0) placeholder->changed = true;
    placeholder->slice.clear_ports();
    placeholder->slice.set_address_type(address_type);
    placeholder->placeholder = true;
  }

  // Write: deletes last, so traffic always has somewhere to go.
  absl::Status first_error;
  auto note = [&first_error](absl::Status s) {
    if (!s.ok() && first_error.ok()) first_error = std::move(s);
  };
  std::vector<const Planned*> deletes;
  for (Planned& p : planned) {
    const bool keep = p.slice.endpoints_size() > 0 || p.placeholder;
    if (!keep) {
      if (p.existed) deletes.push_back(&p);
      continue;
    }
    v1::EndpointSlice& slice = p.slice;
    if (!api::SameStringMap(slice.metadata().labels(), labels)) {
      p.changed = true;
      *slice.mutable_metadata()->mutable_labels() = labels;
    }
    if (p.existed && !p.changed) continue;
    if (p.existed) {
      absl::StatusOr<v1::EndpointSlice> updated = client_->Update(slice);
      if (updated.ok()) {
        written.versions[updated->metadata().name()] = VersionOf(updated->metadata());
      }
      note(updated.status());
      continue;
    }
    slice.mutable_metadata()->set_namespace_(service.metadata().namespace_());
    slice.mutable_metadata()->set_generate_name(service.metadata().name() + "-");
    ORCH_RETURN_IF_ERROR(SetControllerReference(service, slice, *client_->scheme()));
    absl::StatusOr<v1::EndpointSlice> created = client_->Create(slice);
    if (created.ok()) {
      written.versions[created->metadata().name()] = VersionOf(created->metadata());
    }
    note(created.status());
  }
  if (!first_error.ok()) return first_error;  // keep the old slices until the new are in
  for (const Planned* p : deletes) {
    const v1::ObjectMeta& meta = p->slice.metadata();
    absl::Status deleted = client_->Delete<v1::EndpointSlice>(
        meta.namespace_(), meta.name(),
        {.preconditions = {.uid = meta.uid(), .resource_version = meta.resource_version()}});
    if (deleted.ok() || absl::IsNotFound(deleted)) {
      written.deleted.insert(meta.name());
    } else {
      note(deleted);
    }
  }
  return first_error;
}

}  // namespace

absl::StatusOr<Controller*> AddEndpointSliceController(Manager* manager,
                                                       EndpointSliceOptions options) {
  if (options.max_endpoints_per_slice < 1 || options.max_endpoints_per_slice > 1000) {
    return absl::InvalidArgumentError(
        fmt::format("max_endpoints_per_slice: Invalid value: {}: must be between 1 and 1000",
                    options.max_endpoints_per_slice));
  }
  if (options.concurrent_syncs < 1) {
    return absl::InvalidArgumentError(fmt::format(
        "concurrent_syncs: Invalid value: {}: must be positive", options.concurrent_syncs));
  }
  if (options.batch_period < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        fmt::format("batch_period: Invalid value: {}: must not be negative",
                    absl::FormatDuration(options.batch_period)));
  }
  client::SharedInformerFactory& informers = *manager->informers();
  ORCH_ASSIGN_OR_RETURN(auto services, informers.InformerFor<v1::Service>());
  ORCH_ASSIGN_OR_RETURN(auto pods, informers.InformerFor<v1::Pod>());
  ORCH_ASSIGN_OR_RETURN(auto slices, informers.InformerFor<v1::EndpointSlice>());
  ORCH_ASSIGN_OR_RETURN(auto nodes, informers.InformerFor<v1::Node>());
  auto reconciler = std::make_unique<EndpointSliceReconciler>(
      manager, options, services.lister(), pods.lister(), slices.lister(), nodes.lister());
  EndpointSliceReconciler* r = reconciler.get();
  ControllerSpec spec{.name = "endpointslice"};
  spec.watches.push_back(internal::HandledBy<v1::Service>(r, &EndpointSliceReconciler::OnService));
  spec.watches.push_back(internal::HandledBy<v1::Pod>(r, &EndpointSliceReconciler::OnPod));
  spec.watches.push_back(
      internal::HandledBy<v1::EndpointSlice>(r, &EndpointSliceReconciler::OnSlice));
  spec.watches.push_back(internal::HandledBy<v1::Node>(r, &EndpointSliceReconciler::OnNode));
  spec.options.max_concurrent_reconciles = options.concurrent_syncs;
  return manager->NewController(std::move(spec), std::move(reconciler));
}

}  // namespace orch::controller
