// What the scheduler knows about pods and nodes, precomputed once so that plugins, which run
// for every (pod, node) pair, never parse a quantity or a selector in the hot path.
//
//   Resources  amounts of cpu (millicores), memory and ephemeral storage (bytes), pods, and
//              extended resources (hugepages-*, example.com/gpu) by name.
//   PodInfo    a pod with its effective requests, host ports and parsed affinity terms.
//   NodeInfo   a node with the pods on it (bound or assumed) and their sums: requested
//              resources, used host ports, pods carrying affinity terms. Its generation
//              changes whenever any of that changes.
//
// Thread safety: PodInfo is immutable once created and may be shared across threads.
// NodeInfo is a plain value: const methods may run concurrently, mutation needs exclusive
// access (the scheduler's cache is its only writer; plugins see it const).
#ifndef ORCH_SCHEDULER_NODE_INFO_H_
#define ORCH_SCHEDULER_NODE_INFO_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/base/call_once.h"
#include "absl/status/statusor.h"
#include "orch/api/labels.h"
#include "orch/api/selector.h"
#include "orch/api/v1/core.pb.h"

namespace orch::scheduler {

// Resource names as Kubernetes spells them.
inline constexpr std::string_view kCpu = "cpu";
inline constexpr std::string_view kMemory = "memory";
inline constexpr std::string_view kEphemeralStorage = "ephemeral-storage";
inline constexpr std::string_view kPods = "pods";

// What scoring assumes a container without a request uses (Kubernetes' non-zero defaults):
// 100 millicores and 200 MiB, so that pods without requests still spread out.
inline constexpr int64_t kDefaultMilliCpuRequest = 100;
inline constexpr int64_t kDefaultMemoryRequest = 200 * 1024 * 1024;

// The node label naming its host: the topology key of "one per node" spreading and
// anti-affinity.
inline constexpr std::string_view kLabelHostname = api::kLabelHostname;

struct Resources {
  int64_t milli_cpu = 0;
  int64_t memory = 0;
  int64_t ephemeral_storage = 0;
  int64_t pods = 0;  // allowed pods on a node; the number of pods for a sum of requests
  // Every other resource (extended resources, hugepages-*), in whole units, by name.
  // Ordered, so messages about them come out in a stable order.
  absl::btree_map<std::string, int64_t> scalar;

  // Reads a resource list (requests, limits, capacity, allocatable). kInvalidArgument
  // naming the resource on a quantity that does not parse.
  static absl::StatusOr<Resources> FromList(
      const google::protobuf::Map<std::string, api::v1::Quantity>& list);

  // The amount of `name` in the units above (0 if absent).
  int64_t Get(std::string_view name) const;
  void Set(std::string_view name, int64_t amount);
  void Add(const Resources& other);
  void Subtract(const Resources& other);
  // Each resource set to the larger of the two.
  void SetMax(const Resources& other);
  bool IsZero() const;
  bool operator==(const Resources& other) const = default;
};

// One host port a container asks for. An empty or "0.0.0.0" ip means every address.
struct HostPort {
  std::string ip;
  std::string protocol;  // "TCP", "UDP", "SCTP"
  int32_t port = 0;

  // Two ports conflict when protocol and port are equal and either ip covers the other.
  bool ConflictsWith(const HostPort& other) const;
  bool operator==(const HostPort& other) const = default;
};

class PodInfo;

// A pod (anti-)affinity term, resolved against the pod that carries it: `namespaces` is the
// term's list, or the pod's own namespace when both the list and namespace_selector are
// empty; matchLabelKeys and mismatchLabelKeys are merged into `selector` with the pod's
// label values, as the API server does.
struct AffinityTerm {
  absl::flat_hash_set<std::string> namespaces;
  api::LabelSelector selector;
  // Set when the term has a namespaceSelector; an empty selector matches every namespace.
  std::optional<api::LabelSelector> namespace_selector;
  std::string topology_key;

  // Whether `pod` is one of the pods this term selects. `namespace_labels` are the labels
  // of `pod`'s namespace (nullptr when unknown: a namespace without labels, as
  // kube-scheduler assumes, so an empty namespace_selector still matches).
  bool Matches(const api::v1::Pod& pod,
               const google::protobuf::Map<std::string, std::string>* namespace_labels) const;
};

struct WeightedAffinityTerm {
  AffinityTerm term;
  int32_t weight = 0;
};

// A pod as the scheduler sees it. Create it once per pod version; share it freely.
class PodInfo {
 public:
  // kInvalidArgument naming the field for a quantity or selector that does not parse.
  static absl::StatusOr<std::shared_ptr<const PodInfo>> Create(
      std::shared_ptr<const api::v1::Pod> pod);
  // A PodInfo for `pod`, a later version of base.pod() that differs from it only where
  // scheduling reads nothing (spec.nodeName, status, metadata.resourceVersion), as the
  // version a bind wrote does: base's requests, ports and terms are taken over, not
  // recomputed. The caller vouches for the difference.
  static std::shared_ptr<const PodInfo> Rebased(const PodInfo& base,
                                                std::shared_ptr<const api::v1::Pod> pod);

  const api::v1::Pod& pod() const { return *pod_; }
  const std::shared_ptr<const api::v1::Pod>& pod_ptr() const { return pod_; }
  const std::string& uid() const { return pod_->metadata().uid(); }
  const std::string& name() const { return pod_->metadata().name(); }
  const std::string& namespace_() const { return pod_->metadata().namespace_(); }
  // spec.priority, 0 when unset.
  int32_t priority() const { return pod_->spec().has_priority() ? pod_->spec().priority() : 0; }

  // What the pod needs on a node, as Kubernetes computes it: the larger of the sum over
  // containers and each init container, plus spec.overhead. `pods` is 1.
  const Resources& requests() const { return requests_; }
  // requests() with cpu and memory of each container raised to the non-zero defaults
  // when unset: what scoring uses.
  const Resources& non_zero_requests() const { return non_zero_requests_; }
  const std::vector<HostPort>& host_ports() const { return host_ports_; }

  const std::vector<AffinityTerm>& required_affinity() const { return required_affinity_; }
  const std::vector<AffinityTerm>& required_anti_affinity() const {
    return required_anti_affinity_;
  }
  const std::vector<WeightedAffinityTerm>& preferred_affinity() const {
    return preferred_affinity_;
  }
  const std::vector<WeightedAffinityTerm>& preferred_anti_affinity() const {
    return preferred_anti_affinity_;
  }
  // Everything scheduling reads of the pod — namespace, labels and spec except nodeName —
  // as bytes: pods with equal signatures get equal Filter and Score results on nodes in
  // equal states, which lets the scheduler reuse them. Computed on first use.
  const std::string& scheduling_signature() const;

  bool has_affinity_terms() const {
    return !required_affinity_.empty() || !required_anti_affinity_.empty() ||
           !preferred_affinity_.empty() || !preferred_anti_affinity_.empty();
  }

  // A 64-bit filter of the pod's namespace and label pairs: LabelBits of each pair and
  // NamespaceBits of its namespace, or-ed. A pod whose filter lacks a bit of
  // NamespaceBits(ns) | LabelBits(k, v) | ... is certainly not in `ns` with all those
  // labels, so a plugin counting the pods that match a selector can pass over most of a
  // node's pods without reading them (NodeInfo::pod_label_filters). A pod whose filter has
  // them all may still not match: read it.
  uint64_t label_filter() const { return label_filter_; }
  // The bits (two of the 64) of one label pair, and of a namespace.
  static uint64_t LabelBits(std::string_view key, std::string_view value);
  static uint64_t NamespaceBits(std::string_view ns) { return LabelBits("", ns); }
  // The bits every label set a selector matches must have: those of its `key = value` and
  // `key in (value)` requirements (the others constrain no single pair).
  static uint64_t RequiredBits(const api::LabelSelector& selector);

 private:
  explicit PodInfo(std::shared_ptr<const api::v1::Pod> pod) : pod_(std::move(pod)) {}

  std::shared_ptr<const api::v1::Pod> pod_;
  uint64_t label_filter_ = 0;
  mutable absl::once_flag signature_once_;
  mutable std::string signature_;
  Resources requests_;
  Resources non_zero_requests_;
  std::vector<HostPort> host_ports_;
  std::vector<AffinityTerm> required_affinity_;
  std::vector<AffinityTerm> required_anti_affinity_;
  std::vector<WeightedAffinityTerm> preferred_affinity_;
  std::vector<WeightedAffinityTerm> preferred_anti_affinity_;
};
using PodInfoPtr = std::shared_ptr<const PodInfo>;

// An image present on a node: its size there, and on how many nodes of the snapshot it is.
struct ImageState {
  int64_t size_bytes = 0;
  int32_t num_nodes = 0;
};

// Kubernetes' image name normalization for matching a pod's image with a node's image
// list: a name without a tag or digest gets ":latest".
std::string NormalizedImageName(std::string_view image);

class NodeInfo {
 public:
  NodeInfo() = default;
  // kInvalidArgument naming the field for an allocatable quantity that does not parse.
  static absl::StatusOr<NodeInfo> Create(std::shared_ptr<const api::v1::Node> node);

  const api::v1::Node& node() const { return *node_; }
  const std::shared_ptr<const api::v1::Node>& node_ptr() const { return node_; }
  // Kept here (a copy of metadata.name): the scheduler reads it for every pod it places,
  // and the node object is rarely in cache.
  const std::string& name() const { return name_; }
  const google::protobuf::Map<std::string, std::string>& labels() const {
    return node_->metadata().labels();
  }
  // spec.unschedulable, and whether spec.taints has any: kept here, beside the fields
  // Filter reads for every node, so that the common answer needs no visit to the node object.
  bool unschedulable() const { return unschedulable_; }
  bool has_taints() const { return has_taints_; }
  // The value of label `key`, or nullptr. Faster than labels().find for the few labels a
  // node has (a scan comparing lengths first, no hashing): plugins call it per node.
  const std::string* Label(std::string_view key) const {
    for (const auto& [k, v] : label_index_) {
      if (k->size() == key.size() && *k == key) return v;
    }
    return nullptr;
  }

  // Every pod on the node, bound or assumed, in no particular order.
  const std::vector<PodInfoPtr>& pods() const { return pods_; }
  // pods()[i]->label_filter() at [i], side by side in memory: what a count of the pods
  // matching a selector reads first.
  const std::vector<uint64_t>& pod_label_filters() const { return pod_label_filters_; }
  // The pods with any (anti-)affinity term, and those with a required anti-affinity term.
  const std::vector<PodInfoPtr>& pods_with_affinity() const { return pods_with_affinity_; }
  const std::vector<PodInfoPtr>& pods_with_required_anti_affinity() const {
    return pods_with_required_anti_affinity_;
  }

  // status.allocatable; `pods` is the number of pods allowed.
  const Resources& allocatable() const { return allocatable_; }
  // Sum of the pods' requests() (pods = the pod count) and non_zero_requests().
  const Resources& requested() const { return requested_; }
  const Resources& non_zero_requested() const { return non_zero_requested_; }
  const std::vector<HostPort>& used_ports() const { return used_ports_; }
  // Normalized image name -> state, for the images in status.images. The scheduler's
  // cache fills num_nodes.
  const absl::flat_hash_map<std::string, ImageState>& images() const { return images_; }

  // Changes whenever the node or its pods change; never repeats across NodeInfos of one
  // cache, so (node, generation) identifies a state.
  int64_t generation() const { return generation_; }

  // Mutation: used by the scheduler's cache, and by preemption on its own copies.
  // Replaces the node object, keeping the pods. kInvalidArgument as Create.
  absl::Status SetNode(std::shared_ptr<const api::v1::Node> node);
  void AddPod(PodInfoPtr pod);
  // false if no pod with that uid is on the node.
  bool RemovePod(std::string_view uid);
  // Removes the PodInfo `pod` itself (found by address: no uid is compared); false if the
  // node does not hold it.
  bool RemovePod(const PodInfoPtr& pod);
  // Holds `now` in place of `held` and keeps the generation: for a PodInfo::Rebased of it,
  // which every plugin reads as the same pod. false if the node does not hold `held`.
  bool ReplacePod(const PodInfoPtr& held, PodInfoPtr now);
  const PodInfo* FindPod(std::string_view uid) const;
  void set_image_num_nodes(const std::string& image, int32_t num_nodes);

 private:
  void Touch();

  std::shared_ptr<const api::v1::Node> node_;
  std::string name_;
  // node_'s labels as (key, value) pointers into node_ (which is immutable and shared by
  // copies of this NodeInfo).
  std::vector<std::pair<const std::string*, const std::string*>> label_index_;
  bool unschedulable_ = false;
  bool has_taints_ = false;
  std::vector<PodInfoPtr> pods_;
  std::vector<uint64_t> pod_label_filters_;  // beside pods_
  std::vector<PodInfoPtr> pods_with_affinity_;
  std::vector<PodInfoPtr> pods_with_required_anti_affinity_;
  Resources allocatable_;
  Resources requested_;
  Resources non_zero_requested_;
  std::vector<HostPort> used_ports_;
  absl::flat_hash_map<std::string, ImageState> images_;
  int64_t generation_ = 0;
};

}  // namespace orch::scheduler

#endif  // ORCH_SCHEDULER_NODE_INFO_H_
