// SchedulerCache: the scheduler's picture of every node and the pods on it, updated
// incrementally from informer events and from its own decisions.
//
// Assumed pods. When a scheduling cycle picks a node, the pod is assumed there at once, so
// the next cycle already counts it, before the bind reaches the store. When the bound pod
// then arrives from the informer the assumption is confirmed. If the binding cycle fails,
// ForgetPod undoes it; if the bind finished but the pod never arrives (the write was lost),
// the assumption expires `assumed_ttl` after FinishBinding (CleanupExpired).
//
// Pods bound to a node the cache does not know yet wait for that node.
//
// It is the Snapshot plugins read: nodes ordered by name, with the affinity indexes. The
// scheduler applies events and runs cycles on one thread at a time, so a cycle sees a
// consistent state without copying it.
//
// Not thread-safe: the scheduler serializes every call.
#ifndef ORCH_SRC_SCHEDULER_CACHE_H_
#define ORCH_SRC_SCHEDULER_CACHE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "orch/api/v1/core.pb.h"
#include "orch/base/string_map.h"
#include "orch/scheduler/framework.h"
#include "orch/scheduler/node_info.h"

namespace orch::scheduler::internal {

class SchedulerCache : public Snapshot {
 public:
  explicit SchedulerCache(absl::Duration assumed_ttl = absl::Seconds(30))
      : assumed_ttl_(assumed_ttl) {}
  SchedulerCache(const SchedulerCache&) = delete;
  SchedulerCache& operator=(const SchedulerCache&) = delete;

  // Nodes. kInvalidArgument for a node whose allocatable does not parse (it is then not
  // schedulable: the cache leaves it out).
  absl::Status AddOrUpdateNode(std::shared_ptr<const api::v1::Node> node);
  void RemoveNode(std::string_view name);

  // Pods bound to a node (spec.nodeName set), as the informer reports them. Adding a pod
  // the cache assumed confirms it (its node may differ: the store wins).
  void AddOrUpdatePod(PodInfoPtr pod);
  void RemovePod(std::string_view uid);

  // The scheduler's own decisions.
  // Counts `pod` on `node_name` from now on. REQUIRES: the node exists, the pod is not
  // in the cache.
  void AssumePod(PodInfoPtr pod, const std::string& node_name);
  // The bind was written: start the assumption's expiry clock at `now`. `written_version`,
  // when known, is the resourceVersion the bind wrote (ConfirmOwnBind).
  void FinishBinding(std::string_view uid, absl::Time now, std::string written_version = "");
  // Confirms an assumed pod with the version its own bind wrote (`pod` has the
  // resourceVersion FinishBinding was given, on the assumed node), cheaply: the assumed
  // PodInfo's requests and terms are taken over (PodInfo::Rebased) and the node's
  // generation is kept, since nothing any plugin reads has changed. Returns the new PodInfo,
  // or nullptr when `pod` is not that version (then AddOrUpdatePod it).
  PodInfoPtr ConfirmOwnBind(const std::shared_ptr<const api::v1::Pod>& pod);
  // A new version of a bound pod that changes nothing a plugin reads of it — the same
  // node, namespace, labels, deletion timestamp and spec; the status may differ, as a node
  // agent reports the pod starting — is held in place of the old one, its requests and
  // terms taken over and the node's generation kept, so nothing remembered per node state
  // goes stale. Returns the new PodInfo, or nullptr when the pod is not such a version
  // (then AddOrUpdatePod it).
  PodInfoPtr UpdateStatusOnly(const std::shared_ptr<const api::v1::Pod>& pod);
  // The binding cycle failed: the pod is no longer on the node.
  void ForgetPod(std::string_view uid);
  // Drops assumptions whose bind finished more than assumed_ttl before `now` without the
  // pod arriving. Returns how many expired.
  int CleanupExpired(absl::Time now);
  bool IsAssumed(std::string_view uid) const;
  // The pod the cache holds under `uid` (bound or assumed), or nullptr.
  PodInfoPtr PodOf(std::string_view uid) const;

  void SetNamespace(const std::string& name,
                    const google::protobuf::Map<std::string, std::string>& labels);
  void RemoveNamespace(const std::string& name);

  // Changes when a node is added or removed, or when which nodes hold an image changes:
  // results that read more than one node's object are stale after a change. (A change
  // confined to one node shows in that node's generation and in the change log.)
  int64_t node_set_generation() const { return node_set_generation_; }

  // The change log: every NodeInfo whose generation changed, in order, so that a user who
  // remembers where it stopped reads only what changed since. Positions only grow; old
  // entries are dropped once the log is long, and a position before log_begin() must
  // start over from nodes().
  int64_t log_begin() const { return log_base_; }
  int64_t log_end() const { return log_base_ + static_cast<int64_t>(log_.size()); }
  // REQUIRES: log_begin() <= position <= log_end().
  const NodeInfo* const* LogFrom(int64_t position) const {
    return log_.data() + (position - log_base_);
  }
  // The position of a node in nodes(), or -1.
  int IndexOf(const NodeInfo* node) const {
    EnsureOrder();
    auto it = index_.find(node);
    return it == index_.end() ? -1 : it->second;
  }
  size_t pod_count() const { return pods_.size(); }
  NodeInfo* MutableNode(std::string_view name);

  // Snapshot.
  const std::vector<const NodeInfo*>& nodes() const override {
    EnsureOrder();
    return ordered_;
  }
  const NodeInfo* Get(std::string_view node_name) const override;
  const std::vector<const NodeInfo*>& nodes_with_affinity_pods() const override;
  const std::vector<const NodeInfo*>& nodes_with_required_anti_affinity_pods() const override;
  const google::protobuf::Map<std::string, std::string>* NamespaceLabels(
      std::string_view ns) const override;
  bool HostnameLabelsAreNodeNames() const override { return foreign_hostnames_.empty(); }
  bool AntiAffinityIsPerHostname() const override { return wide_anti_affinity_pods_ == 0; }
  int64_t node_labels_generation() const override { return node_labels_generation_; }

 private:
  struct PodState {
    PodInfoPtr pod;
    std::string node;
    bool assumed = false;
    bool binding_finished = false;
    std::string written_version;  // what the bind wrote, when known
    absl::Time deadline = absl::InfiniteFuture();

    // Bound (confirmed) or newly assumed: no bind is under way.
    void Settle(bool now_assumed) {
      assumed = now_assumed;
      binding_finished = false;
      written_version.clear();
      deadline = absl::InfiniteFuture();
    }
  };

  // `pod`, a version of state.pod's pod that no plugin tells apart from it, in its place
  // on the node (PodInfo::Rebased, NodeInfo::ReplacePod): the node's generation is kept.
  // The new PodInfo, or nullptr when the node does not hold state.pod.
  PodInfoPtr HoldInPlace(PodState& state, const std::shared_ptr<const api::v1::Pod>& pod);
  void Logged(const NodeInfo* node);
  void NoteHostname(const NodeInfo& info);
  void PlacePod(const PodState& state);
  void UnplacePod(const PodState& state);
  void NodeSetChanged();
  void EnsureOrder() const;
  void CountImages(const NodeInfo& node, int delta);
  void RefreshImageCounts();

  const absl::Duration assumed_ttl_;
  StringMap<std::unique_ptr<NodeInfo>> nodes_;
  // nodes() and IndexOf, rebuilt lazily after nodes come or go.
  mutable bool order_stale_ = false;
  mutable std::vector<const NodeInfo*> ordered_;
  StringMap<PodState> pods_;
  // No finished bind's assumption expires before this (a lower bound, made exact by each
  // scan), so CleanupExpired passes over the pods only when one may be due.
  absl::Time next_expiry_ = absl::InfiniteFuture();
  // Pods bound to nodes the cache does not have (yet), by node name.
  StringMap<std::vector<std::string>> waiting_for_node_;
  StringMap<int32_t> image_nodes_;
  StringMap<google::protobuf::Map<std::string, std::string>> namespaces_;
  int64_t node_set_generation_ = 0;
  int64_t node_labels_generation_ = 1;
  std::vector<const NodeInfo*> log_;
  int64_t log_base_ = 0;
  mutable absl::flat_hash_map<const NodeInfo*, int> index_;
  // The affinity indexes, rebuilt on first use after a pod with terms came or went.
  mutable bool affinity_dirty_ = true;
  mutable std::vector<const NodeInfo*> with_affinity_;
  mutable std::vector<const NodeInfo*> with_anti_affinity_;
  // Nodes whose hostname label is not their name, and pods on nodes with a required
  // anti-affinity term that is not per hostname (see Snapshot).
  StringSet foreign_hostnames_;
  int64_t wide_anti_affinity_pods_ = 0;
};

}  // namespace orch::scheduler::internal

#endif  // ORCH_SRC_SCHEDULER_CACHE_H_
