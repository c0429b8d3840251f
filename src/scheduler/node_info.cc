#include "orch/scheduler/node_info.h"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <functional>
#include <utility>

#include "absl/container/inlined_vector.h"
#include "fmt/format.h"
#include "orch/api/quantity.h"
#include "orch/base/status.h"

namespace orch::scheduler {
namespace {

using QuantityList = google::protobuf::Map<std::string, api::v1::Quantity>;

// Kubernetes' IsScalarResourceName: hugepages, attachable volumes, and names with a domain
// (extended resources such as example.com/gpu and prefixed native ones). Anything else
// that is not cpu, memory, ephemeral-storage or pods is not tracked by the scheduler.
bool IsScalarResourceName(std::string_view name) {
  return name.starts_with("hugepages-") || name.starts_with("attachable-volumes-") ||
         (name.find('/') != std::string_view::npos && !name.starts_with("requests."));
}

// Process-wide, as kube-scheduler's nextGeneration: a (node, generation) pair names one
// state even across NodeInfo copies.
int64_t NextGeneration() {
  static std::atomic<int64_t> generation{0};
  return generation.fetch_add(1, std::memory_order_relaxed) + 1;
}

// A selector no label set satisfies: Kubernetes' labels.Nothing(), which is what a nil
// labelSelector of a pod affinity term means. A key that must both exist and not exist.
api::LabelSelector MatchNothing() {
  api::v1::LabelSelector proto;
  auto* exists = proto.add_match_expressions();
  exists->set_key("orch.io/match-nothing");
  exists->set_operator_("Exists");
  auto* absent = proto.add_match_expressions();
  absent->set_key("orch.io/match-nothing");
  absent->set_operator_("DoesNotExist");
  return *api::LabelSelector::FromProto(proto);
}

const api::LabelSelector& NothingSelector() {
  static const api::LabelSelector* nothing = new api::LabelSelector(MatchNothing());
  return *nothing;
}

// ------------------------------------------------------------------ pod requests

// `path` + the error's message: "spec.overhead" + "[cpu]: invalid quantity ...".
absl::Status Prefixed(const absl::Status& status, std::string_view path) {
  return absl::Status(status.code(), fmt::format("{}{}", path, std::string(status.message())));
}

bool IsSidecar(const api::v1::Container& container) {
  return container.has_restart_policy() && container.restart_policy() == "Always";
}

// A container's requests as parsed, and whether it names cpu and memory (what the
// non-zero defaults fill in when it does not).
struct ContainerRequest {
  Resources requests;
  bool has_cpu = false;
  bool has_memory = false;
  bool sidecar = false;

  // With `non_zero`, a missing cpu or memory request counts as the scheduler's defaults
  // (an explicit zero stays zero, as in Kubernetes).
  Resources Get(bool non_zero) const {
    Resources r = requests;
    if (non_zero && !has_cpu) r.milli_cpu = kDefaultMilliCpuRequest;
    if (non_zero && !has_memory) r.memory = kDefaultMemoryRequest;
    return r;
  }
};

// `field` names the list ("containers", "initContainers") and `i` the container in it.
absl::StatusOr<ContainerRequest> ParseContainerRequests(const api::v1::Container& container,
                                                        std::string_view field, int i) {
  const QuantityList& list = container.resources().requests();
  absl::StatusOr<Resources> parsed = Resources::FromList(list);
  if (!parsed.ok()) {
    return Prefixed(parsed.status(), fmt::format("spec.{}[{}].resources.requests", field, i));
  }
  return ContainerRequest{*std::move(parsed), list.contains(std::string(kCpu)),
                          list.contains(std::string(kMemory)), IsSidecar(container)};
}

// Kubernetes' PodRequests: the sum over containers and sidecars, raised to what any init
// container needs while it runs (itself plus the sidecars started before it), plus the
// pod's overhead. `*requests` as the containers ask; `*non_zero` with each container's
// unset cpu and memory at the non-zero defaults. Every quantity is parsed once.
absl::Status PodRequests(const api::v1::PodSpec& spec, Resources* requests, Resources* non_zero) {
  absl::InlinedVector<ContainerRequest, 2> containers;
  absl::InlinedVector<ContainerRequest, 2> init;
  for (int i = 0; i < spec.containers_size(); ++i) {
    ORCH_ASSIGN_OR_RETURN(containers.emplace_back(),
                          ParseContainerRequests(spec.containers(i), "containers", i));
  }
  for (int i = 0; i < spec.init_containers_size(); ++i) {
    ORCH_ASSIGN_OR_RETURN(init.emplace_back(),
                          ParseContainerRequests(spec.init_containers(i), "initContainers", i));
  }
  absl::StatusOr<Resources> overhead = Resources::FromList(spec.overhead());
  if (!overhead.ok()) return Prefixed(overhead.status(), "spec.overhead");
  auto total = [&](bool nz) {
    Resources sum;
    for (const ContainerRequest& c : containers) sum.Add(c.Get(nz));
    Resources sidecars;
    Resources init_peak;
    for (const ContainerRequest& c : init) {
      Resources r = c.Get(nz);
      if (c.sidecar) {
        sum.Add(r);
        sidecars.Add(r);
        init_peak.SetMax(sidecars);
      } else {
        r.Add(sidecars);
        init_peak.SetMax(r);
      }
    }
    sum.SetMax(init_peak);
    sum.Add(*overhead);
    sum.pods = 1;
    return sum;
  };
  *requests = total(false);
  *non_zero = total(true);
  return absl::OkStatus();
}

void AddHostPorts(const api::v1::Container& container, std::vector<HostPort>& ports) {
  for (const api::v1::ContainerPort& port : container.ports()) {
    if (port.host_port() <= 0) continue;
    ports.push_back(HostPort{port.host_ip().empty() ? "0.0.0.0" : port.host_ip(),
                             port.protocol().empty() ? "TCP" : port.protocol(),
                             port.host_port()});
  }
}

// Kubernetes' GetHostPorts: the ports that ask for a host port, of sidecars (which run for
// the pod's whole life) and regular containers.
std::vector<HostPort> PodHostPorts(const api::v1::PodSpec& spec) {
  std::vector<HostPort> ports;
  for (const api::v1::Container& container : spec.init_containers()) {
    if (IsSidecar(container)) AddHostPorts(container, ports);
  }
  for (const api::v1::Container& container : spec.containers()) AddHostPorts(container, ports);
  return ports;
}

// ------------------------------------------------------------------ affinity terms

// The term's labelSelector with matchLabelKeys / mismatchLabelKeys merged in from the
// pod's labels, as the API server does on create (keys the pod lacks are ignored; a nil
// selector stays nil, which matches nothing).
absl::StatusOr<api::LabelSelector> TermSelector(const api::v1::Pod& pod,
                                                const api::v1::PodAffinityTerm& term) {
  if (!term.has_label_selector()) return NothingSelector();
  if (term.match_label_keys().empty() && term.mismatch_label_keys().empty()) {
    return api::LabelSelector::FromProto(term.label_selector());
  }
  api::v1::LabelSelector merged = term.label_selector();
  const auto& labels = pod.metadata().labels();
  auto merge = [&](const auto& keys, const char* op) {
    for (const std::string& key : keys) {
      auto it = labels.find(key);
      if (it == labels.end()) continue;
      auto* expression = merged.add_match_expressions();
      expression->set_key(key);
      expression->set_operator_(op);
      expression->add_values(it->second);
    }
  };
  merge(term.match_label_keys(), "In");
  merge(term.mismatch_label_keys(), "NotIn");
  return api::LabelSelector::FromProto(merged);
}

absl::StatusOr<AffinityTerm> MakeAffinityTerm(const api::v1::Pod& pod,
                                              const api::v1::PodAffinityTerm& term,
                                              const std::string& path) {
  AffinityTerm result;
  absl::StatusOr<api::LabelSelector> selector = TermSelector(pod, term);
  if (!selector.ok()) return Annotate(selector.status(), path + ".labelSelector");
  result.selector = *std::move(selector);
  if (term.has_namespace_selector()) {
    absl::StatusOr<api::LabelSelector> ns = api::LabelSelector::FromProto(term.namespace_selector());
    if (!ns.ok()) return Annotate(ns.status(), path + ".namespaceSelector");
    result.namespace_selector = *std::move(ns);
  }
  if (term.namespaces().empty() && !term.has_namespace_selector()) {
    result.namespaces.insert(pod.metadata().namespace_());
  } else {
    result.namespaces.insert(term.namespaces().begin(), term.namespaces().end());
  }
  result.topology_key = term.topology_key();
  return result;
}

absl::Status AddRequiredTerms(
    const api::v1::Pod& pod,
    const google::protobuf::RepeatedPtrField<api::v1::PodAffinityTerm>& terms,
    const std::string& path, std::vector<AffinityTerm>& out) {
  for (int i = 0; i < terms.size(); ++i) {
    ORCH_ASSIGN_OR_RETURN(AffinityTerm term,
                          MakeAffinityTerm(pod, terms[i], fmt::format("{}[{}]", path, i)));
    out.push_back(std::move(term));
  }
  return absl::OkStatus();
}

absl::Status AddPreferredTerms(
    const api::v1::Pod& pod,
    const google::protobuf::RepeatedPtrField<api::v1::WeightedPodAffinityTerm>& terms,
    const std::string& path, std::vector<WeightedAffinityTerm>& out) {
  for (int i = 0; i < terms.size(); ++i) {
    ORCH_ASSIGN_OR_RETURN(
        AffinityTerm term,
        MakeAffinityTerm(pod, terms[i].pod_affinity_term(),
                         fmt::format("{}[{}].podAffinityTerm", path, i)));
    out.push_back(WeightedAffinityTerm{std::move(term), terms[i].weight()});
  }
  return absl::OkStatus();
}

// ------------------------------------------------------------------ node images

absl::flat_hash_map<std::string, ImageState> NodeImages(
    const api::v1::Node& node, const absl::flat_hash_map<std::string, ImageState>& previous) {
  absl::flat_hash_map<std::string, ImageState> images;
  for (const api::v1::ContainerImage& image : node.status().images()) {
    for (const std::string& name : image.names()) {
      std::string normalized = NormalizedImageName(name);
      auto before = previous.find(normalized);
      images[std::move(normalized)] =
          ImageState{image.size_bytes(), before == previous.end() ? 0 : before->second.num_nodes};
    }
  }
  return images;
}

// The entry of `pods` holding the very PodInfo `pod` (compared by address, no string
// compared), or nullptr.
PodInfoPtr* EntryOf(std::vector<PodInfoPtr>& pods, const PodInfo* pod) {
  for (PodInfoPtr& p : pods) {
    if (p.get() == pod) return &p;
  }
  return nullptr;
}

// Removes `pod` from `pods`, whose order does not matter, by moving the last entry into
// its place. Returns that place, or -1 if it is not there.
ptrdiff_t RemovePodInfo(std::vector<PodInfoPtr>& pods, const PodInfo* pod) {
  PodInfoPtr* entry = EntryOf(pods, pod);
  if (entry == nullptr) return -1;
  std::swap(*entry, pods.back());
  pods.pop_back();
  return entry - pods.data();
}

}  // namespace

// ------------------------------------------------------------------ Resources

absl::StatusOr<Resources> Resources::FromList(const QuantityList& list) {
  Resources resources;
  for (const auto& [name, proto] : list) {
    absl::StatusOr<api::Quantity> quantity = api::Quantity::FromProto(proto);
    if (!quantity.ok()) {
      return absl::InvalidArgumentError(fmt::format("[{}]: {}", name, std::string(quantity.status().message())));
    }
    if (name == kCpu) {
      resources.milli_cpu += quantity->MilliValue();
    } else if (name == kMemory) {
      resources.memory += quantity->Value();
    } else if (name == kEphemeralStorage) {
      resources.ephemeral_storage += quantity->Value();
    } else if (name == kPods) {
      resources.pods += quantity->Value();
    } else if (IsScalarResourceName(name)) {
      resources.scalar[name] += quantity->Value();
    }
  }
  return resources;
}

int64_t Resources::Get(std::string_view name) const {
  if (name == kCpu) return milli_cpu;
  if (name == kMemory) return memory;
  if (name == kEphemeralStorage) return ephemeral_storage;
  if (name == kPods) return pods;
  auto it = scalar.find(absl::string_view(name.data(), name.size()));
  return it == scalar.end() ? 0 : it->second;
}

void Resources::Set(std::string_view name, int64_t amount) {
  if (name == kCpu) {
    milli_cpu = amount;
  } else if (name == kMemory) {
    memory = amount;
  } else if (name == kEphemeralStorage) {
    ephemeral_storage = amount;
  } else if (name == kPods) {
    pods = amount;
  } else {
    scalar[std::string(name)] = amount;
  }
}

void Resources::Add(const Resources& other) {
  milli_cpu += other.milli_cpu;
  memory += other.memory;
  ephemeral_storage += other.ephemeral_storage;
  pods += other.pods;
  for (const auto& [name, amount] : other.scalar) scalar[name] += amount;
}

void Resources::Subtract(const Resources& other) {
  milli_cpu -= other.milli_cpu;
  memory -= other.memory;
  ephemeral_storage -= other.ephemeral_storage;
  pods -= other.pods;
  for (const auto& [name, amount] : other.scalar) scalar[name] -= amount;
}

void Resources::SetMax(const Resources& other) {
  milli_cpu = std::max(milli_cpu, other.milli_cpu);
  memory = std::max(memory, other.memory);
  ephemeral_storage = std::max(ephemeral_storage, other.ephemeral_storage);
  pods = std::max(pods, other.pods);
  for (const auto& [name, amount] : other.scalar) {
    auto [it, inserted] = scalar.emplace(name, amount);
    if (!inserted) it->second = std::max(it->second, amount);
  }
}

bool Resources::IsZero() const {
  if (milli_cpu != 0 || memory != 0 || ephemeral_storage != 0 || pods != 0) return false;
  return std::all_of(scalar.begin(), scalar.end(),
                     [](const auto& entry) { return entry.second == 0; });
}

// ------------------------------------------------------------------ HostPort

bool HostPort::ConflictsWith(const HostPort& other) const {
  if (port <= 0 || port != other.port) return false;
  auto tcp_if_empty = [](const std::string& p) -> std::string_view {
    return p.empty() ? std::string_view("TCP") : std::string_view(p);
  };
  if (tcp_if_empty(protocol) != tcp_if_empty(other.protocol)) return false;
  auto any_ip = [](const std::string& ip) { return ip.empty() || ip == "0.0.0.0"; };
  return any_ip(ip) || any_ip(other.ip) || ip == other.ip;
}

// ------------------------------------------------------------------ AffinityTerm

bool AffinityTerm::Matches(
    const api::v1::Pod& pod,
    const google::protobuf::Map<std::string, std::string>* namespace_labels) const {
  bool namespace_matches = namespaces.contains(pod.metadata().namespace_());
  if (!namespace_matches && namespace_selector.has_value()) {
    // An unknown namespace has no labels, as kube-scheduler assumes.
    static const google::protobuf::Map<std::string, std::string>* const kNoLabels =
        new google::protobuf::Map<std::string, std::string>();
    namespace_matches =
        namespace_selector->Matches(namespace_labels != nullptr ? *namespace_labels : *kNoLabels);
  }
  return namespace_matches && selector.Matches(pod.metadata().labels());
}

// ------------------------------------------------------------------ PodInfo

uint64_t PodInfo::LabelBits(std::string_view key, std::string_view value) {
  const uint64_t h = std::hash<std::string_view>()(key) * 0x9e3779b97f4a7c15ULL ^
                     std::hash<std::string_view>()(value);
  return (uint64_t{1} << (h & 63)) | (uint64_t{1} << ((h >> 6) & 63));
}

uint64_t PodInfo::RequiredBits(const api::LabelSelector& selector) {
  using Op = api::LabelSelector::Operator;
  uint64_t bits = 0;
  for (const api::LabelSelector::Requirement& r : selector.requirements()) {
    if ((r.op == Op::kEquals || r.op == Op::kIn) && r.values.size() == 1) {
      bits |= LabelBits(r.key, r.values.front());
    }
  }
  return bits;
}

std::shared_ptr<const PodInfo> PodInfo::Rebased(const PodInfo& base,
                                                std::shared_ptr<const api::v1::Pod> pod) {
  std::shared_ptr<PodInfo> info(new PodInfo(std::move(pod)));
  info->label_filter_ = base.label_filter_;
  info->requests_ = base.requests_;
  info->non_zero_requests_ = base.non_zero_requests_;
  info->host_ports_ = base.host_ports_;
  info->required_affinity_ = base.required_affinity_;
  info->required_anti_affinity_ = base.required_anti_affinity_;
  info->preferred_affinity_ = base.preferred_affinity_;
  info->preferred_anti_affinity_ = base.preferred_anti_affinity_;
  return info;
}

absl::StatusOr<std::shared_ptr<const PodInfo>> PodInfo::Create(
    std::shared_ptr<const api::v1::Pod> pod) {
  if (pod == nullptr) return absl::InvalidArgumentError("pod: must not be null");
  std::shared_ptr<PodInfo> info(new PodInfo(std::move(pod)));
  const api::v1::Pod& p = *info->pod_;
  const api::v1::PodSpec& spec = p.spec();
  info->label_filter_ = NamespaceBits(p.metadata().namespace_());
  for (const auto& [key, value] : p.metadata().labels()) {
    info->label_filter_ |= LabelBits(key, value);
  }
  ORCH_RETURN_IF_ERROR(PodRequests(spec, &info->requests_, &info->non_zero_requests_));
  info->host_ports_ = PodHostPorts(spec);
  if (spec.has_affinity()) {
    const api::v1::Affinity& affinity = spec.affinity();
    if (affinity.has_pod_affinity()) {
      const api::v1::PodAffinity& a = affinity.pod_affinity();
      const std::string path = "spec.affinity.podAffinity.";
      ORCH_RETURN_IF_ERROR(AddRequiredTerms(
          p, a.required_during_scheduling_ignored_during_execution(),
          path + "requiredDuringSchedulingIgnoredDuringExecution", info->required_affinity_));
      ORCH_RETURN_IF_ERROR(AddPreferredTerms(
          p, a.preferred_during_scheduling_ignored_during_execution(),
          path + "preferredDuringSchedulingIgnoredDuringExecution", info->preferred_affinity_));
    }
    if (affinity.has_pod_anti_affinity()) {
      const api::v1::PodAntiAffinity& a = affinity.pod_anti_affinity();
      const std::string path = "spec.affinity.podAntiAffinity.";
      ORCH_RETURN_IF_ERROR(AddRequiredTerms(
          p, a.required_during_scheduling_ignored_during_execution(),
          path + "requiredDuringSchedulingIgnoredDuringExecution",
          info->required_anti_affinity_));
      ORCH_RETURN_IF_ERROR(AddPreferredTerms(
          p, a.preferred_during_scheduling_ignored_during_execution(),
          path + "preferredDuringSchedulingIgnoredDuringExecution",
          info->preferred_anti_affinity_));
    }
  }
  return std::shared_ptr<const PodInfo>(std::move(info));
}

// ------------------------------------------------------------------ images

std::string NormalizedImageName(std::string_view image) {
  size_t colon = image.rfind(':');
  size_t slash = image.rfind('/');
  // No tag when there is no colon, or the last colon belongs to a registry's port.
  bool has_tag = colon != std::string_view::npos &&
                 (slash == std::string_view::npos || colon > slash);
  std::string name(image);
  if (!has_tag) name += ":latest";
  return name;
}

// ------------------------------------------------------------------ NodeInfo

absl::StatusOr<NodeInfo> NodeInfo::Create(std::shared_ptr<const api::v1::Node> node) {
  NodeInfo info;
  ORCH_RETURN_IF_ERROR(info.SetNode(std::move(node)));
  return info;
}

absl::Status NodeInfo::SetNode(std::shared_ptr<const api::v1::Node> node) {
  if (node == nullptr) return absl::InvalidArgumentError("node: must not be null");
  absl::StatusOr<Resources> allocatable = Resources::FromList(node->status().allocatable());
  if (!allocatable.ok()) return Prefixed(allocatable.status(), "status.allocatable");
  allocatable_ = *std::move(allocatable);
  images_ = NodeImages(*node, images_);
  node_ = std::move(node);
  name_ = node_->metadata().name();
  unschedulable_ = node_->spec().unschedulable();
  has_taints_ = !node_->spec().taints().empty();
  label_index_.clear();
  for (const auto& [key, value] : node_->metadata().labels()) label_index_.emplace_back(&key, &value);
  Touch();
  return absl::OkStatus();
}

void NodeInfo::AddPod(PodInfoPtr pod) {
  requested_.Add(pod->requests());
  non_zero_requested_.Add(pod->non_zero_requests());
  used_ports_.insert(used_ports_.end(), pod->host_ports().begin(), pod->host_ports().end());
  if (pod->has_affinity_terms()) pods_with_affinity_.push_back(pod);
  if (!pod->required_anti_affinity().empty()) pods_with_required_anti_affinity_.push_back(pod);
  pod_label_filters_.push_back(pod->label_filter());
  pods_.push_back(std::move(pod));
  Touch();
}

bool NodeInfo::RemovePod(std::string_view uid) {
  auto it = std::find_if(pods_.begin(), pods_.end(),
                         [&](const PodInfoPtr& p) { return p->uid() == uid; });
  if (it == pods_.end()) return false;
  return RemovePod(*it);
}

bool NodeInfo::RemovePod(const PodInfoPtr& held) {
  PodInfoPtr pod = held;  // `held` may be the very entry removed below
  const ptrdiff_t at = RemovePodInfo(pods_, pod.get());
  if (at < 0) return false;
  pod_label_filters_[static_cast<size_t>(at)] = pod_label_filters_.back();  // moved as pods_
  pod_label_filters_.pop_back();
  if (pod->has_affinity_terms()) {
    RemovePodInfo(pods_with_affinity_, pod.get());
    RemovePodInfo(pods_with_required_anti_affinity_, pod.get());
  }
  requested_.Subtract(pod->requests());
  non_zero_requested_.Subtract(pod->non_zero_requests());
  // One occurrence per port the pod held: another pod may hold an equal one.
  for (const HostPort& port : pod->host_ports()) {
    auto used = std::find(used_ports_.begin(), used_ports_.end(), port);
    if (used != used_ports_.end()) {
      *used = std::move(used_ports_.back());
      used_ports_.pop_back();
    }
  }
  Touch();
  return true;
}

bool NodeInfo::ReplacePod(const PodInfoPtr& held, PodInfoPtr now) {
  const PodInfoPtr old = held;  // `held` may be an entry replaced below
  PodInfoPtr* entry = EntryOf(pods_, old.get());
  if (entry == nullptr) return false;
  pod_label_filters_[static_cast<size_t>(entry - pods_.data())] = now->label_filter();
  *entry = now;
  if (old->has_affinity_terms()) {
    for (auto* list : {&pods_with_affinity_, &pods_with_required_anti_affinity_}) {
      if (PodInfoPtr* e = EntryOf(*list, old.get())) *e = now;
    }
  }
  return true;
}

const PodInfo* NodeInfo::FindPod(std::string_view uid) const {
  for (const PodInfoPtr& pod : pods_) {
    if (pod->uid() == uid) return pod.get();
  }
  return nullptr;
}

void NodeInfo::set_image_num_nodes(const std::string& image, int32_t num_nodes) {
  auto it = images_.find(image);
  if (it == images_.end() || it->second.num_nodes == num_nodes) return;
  it->second.num_nodes = num_nodes;
  Touch();
}

void NodeInfo::Touch() { generation_ = NextGeneration(); }

}  // namespace orch::scheduler
