// The scheduling framework: kube-scheduler's extension points as C++ interfaces.
//
// A scheduling cycle for one pod runs, in order:
//   PreFilter  once per pod: compute what Filter needs, or reject the pod outright.
//   Filter     once per node: can the pod run there?
//   PostFilter only when no node passed: make room (DefaultPreemption) or give up.
//   PreScore   once per pod, with the feasible nodes.
//   Score      once per feasible node; then NormalizeScore brings each plugin's scores to
//              0..kMaxNodeScore, and the node with the highest weighted sum wins.
//   Reserve    the pod is assumed on the node; Unreserve undoes it if anything later fails.
//   Permit     approve, deny, or wait (with a timeout) before binding.
// and then, in the binding cycle: PreBind, Bind (the first plugin that does not Skip binds),
// PostBind. QueueSort orders the scheduling queue.
//
// A plugin implements Plugin plus one interface per extension point it uses. It is created
// by a factory in a Registry (registry.h) with its arguments and a Handle, once per profile.
//
// Thread safety: the scheduler calls the plugins of one profile from one thread at a time,
// except Permit waits and the binding cycle (PreBind, Bind, PostBind), which may run on
// another executor thread concurrently with the next pod's scheduling cycle. A plugin that
// keeps state between calls guards it. Plugins must not block: they run on the scheduler's
// executor.
//
// Errors: extension points return Status (below), not absl::Status, because "this node
// does not fit" is an answer, not an error; Status::Error is for real failures.
#ifndef ORCH_SCHEDULER_FRAMEWORK_H_
#define ORCH_SCHEDULER_FRAMEWORK_H_

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <typeinfo>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "orch/api/v1/core.pb.h"
#include "orch/base/clock.h"
#include "orch/base/string_map.h"
#include "orch/scheduler/node_info.h"

namespace orch::client {
class Client;
class EventRecorder;
class SharedInformerFactory;
}  // namespace orch::client

namespace orch::scheduler {
namespace internal {
class Profile;
}  // namespace internal

// Scores run from 0 to kMaxNodeScore after normalization, as in Kubernetes.
inline constexpr int64_t kMaxNodeScore = 100;
inline constexpr int64_t kMinNodeScore = 0;

// kube-scheduler's status codes.
enum class Code {
  kSuccess,
  kError,                         // an internal failure: the pod is retried with backoff
  kUnschedulable,                 // does not fit now; preemption may help
  kUnschedulableAndUnresolvable,  // does not fit, and preemption cannot change that
  kWait,                          // Permit: hold the pod until allowed, rejected or timed out
  kSkip,                          // PreFilter/PreScore: this plugin has nothing to do for the
                                  // pod (its Filter/Score are not called); Bind: not mine
};

std::string_view CodeName(Code code);

// The result of one plugin call. Success carries nothing and costs nothing to make or
// destroy; the details of a failure (reasons, plugin, cause) are shared by copies, so
// that copying one is cheap too, and copied on the first change.
class Status {
 public:
  Status() = default;  // Success
  Status(Code code, std::string reason) : code_(code) {
    Mutable().reasons.push_back(std::move(reason));
  }
  Status(Code code, std::vector<std::string> reasons) : code_(code) {
    if (!reasons.empty()) Mutable().reasons = std::move(reasons);
  }

  static Status Success() { return Status(); }
  static Status Error(std::string message) { return Status(Code::kError, std::move(message)); }
  // An Error caused by a failed call (a store write): keeps the call's code in cause().
  static Status Error(const absl::Status& cause, std::string_view context);
  static Status Unschedulable(std::string reason) {
    return Status(Code::kUnschedulable, std::move(reason));
  }
  static Status Unresolvable(std::string reason) {
    return Status(Code::kUnschedulableAndUnresolvable, std::move(reason));
  }
  static Status Skip() { return Status(Code::kSkip, std::vector<std::string>{}); }
  static Status Wait() { return Status(Code::kWait, std::vector<std::string>{}); }

  Code code() const { return code_; }
  bool ok() const { return code_ == Code::kSuccess; }
  bool IsSkip() const { return code_ == Code::kSkip; }
  bool IsRejected() const {
    return code_ == Code::kUnschedulable || code_ == Code::kUnschedulableAndUnresolvable;
  }
  // For Unschedulable: the reasons the node failed, as the pod's message counts them
  // ("Insufficient cpu", "node(s) had untolerated taint {dedicated: gpu}").
  const std::vector<std::string>& reasons() const { return Read().reasons; }
  // For an Error made from an absl::Status: its code (kAborted: a write lost a race).
  absl::StatusCode cause() const { return Read().cause; }
  // The plugin that returned this status (set by the framework).
  const std::string& plugin() const { return Read().plugin; }
  Status& WithPlugin(std::string plugin) {
    if (plugin != Read().plugin) Mutable().plugin = std::move(plugin);
    return *this;
  }
  // The reasons joined by ", ".
  std::string Message() const;
  // As an absl::Status: OK for Success and Skip, kInternal for Error, kFailedPrecondition
  // with the message otherwise.
  absl::Status ToAbsl() const;

 private:
  struct Details {
    absl::StatusCode cause = absl::StatusCode::kOk;
    std::vector<std::string> reasons;
    std::string plugin;
  };
  const Details& Read() const { return details_ != nullptr ? *details_ : kNoDetails; }
  Details& Mutable();

  static const Details kNoDetails;
  Code code_ = Code::kSuccess;
  std::shared_ptr<Details> details_;  // null: no reasons, plugin or cause
};

// Per-cycle data: what a plugin's PreFilter/PreScore computes for its Filter/Score. Keys
// are the plugin's own (by convention "PreFilter" + plugin name). Preemption clones it to
// try what-ifs. Not thread-safe: one cycle, one thread.
// A few plugin names, kept in place: a profile's worth takes no allocation (a scheduler
// fills one per cycle, and reads it for every plugin it runs). Insertion order is kept;
// equality ignores it. Not thread-safe; a value type.
class PluginNameSet {
 public:
  // Adds `name` unless present.
  void insert(std::string_view name);
  bool contains(std::string_view name) const;
  bool empty() const { return names_.empty(); }
  size_t size() const;
  friend bool operator==(const PluginNameSet& a, const PluginNameSet& b);

 private:
  // Calls fn(name) for each name until it returns true; whether one did.
  template <typename Fn>
  bool AnyOf(Fn fn) const;

  // One of 64 bits for a name (from its length and first and last letters): a lookup of
  // a name whose bit is clear ends there.
  static uint64_t Bit(std::string_view name);

  // Each name after its length (4 bytes, native order), so that a lookup compares the
  // lengths and reads only the names as long as the one it looks for.
  absl::InlinedVector<char, 96> names_;
  uint64_t bits_ = 0;  // the bits of the names held
};

class CycleState {
 public:
  class Data {
   public:
    virtual ~Data() = default;
    virtual std::unique_ptr<Data> Clone() const = 0;
  };

  CycleState() = default;
  CycleState(const CycleState&) = delete;
  CycleState& operator=(const CycleState&) = delete;

  // Filter and Score read their plugin's data once per node, so reads are cheap: a scan of
  // a few entries, no hashing.
  void Write(std::string_view key, std::unique_ptr<Data> data);
  // nullptr when nothing was written under `key` (or it was written as another type).
  template <typename T>
  T* Read(std::string_view key) const {
    Data* data = Find(key);
    if (data == nullptr) return nullptr;
    if (typeid(*data) == typeid(T)) return static_cast<T*>(data);
    return dynamic_cast<T*>(data);
  }
  void Delete(std::string_view key);
  std::unique_ptr<CycleState> Clone() const;

  // Plugins that returned Skip at PreFilter / PreScore this cycle (the framework's
  // bookkeeping; plugins read it only to know what runs).
  PluginNameSet skip_filter;
  PluginNameSet skip_score;

 private:
  friend class internal::Profile;

  // An entry's key lives in keys_ (the keys a cycle writes fit there without allocating).
  struct Entry {
    uint32_t key_offset = 0;
    uint32_t key_size = 0;
    std::unique_ptr<Data> data;
  };
  std::string_view KeyOf(const Entry& e) const {
    return std::string_view(keys_.data() + e.key_offset, e.key_size);
  }
  Data* Find(std::string_view key) const;

  absl::InlinedVector<char, 320> keys_;
  absl::InlinedVector<Entry, 12> data_;
  // Which of the profile's Filter plugins run this cycle, by position, derived from
  // skip_filter once PreFilter has run (empty before: skip_filter is consulted).
  absl::InlinedVector<bool, 24> filter_runs_;
};

// The nodes as of the start of a cycle: every NodeInfo, ordered by node name, plus the
// indexes that inter-pod affinity needs. Valid for the duration of one scheduling cycle.
class Snapshot {
 public:
  virtual ~Snapshot() = default;
  virtual const std::vector<const NodeInfo*>& nodes() const = 0;
  virtual const NodeInfo* Get(std::string_view node_name) const = 0;
  // Nodes with at least one pod that has (anti-)affinity terms / required anti-affinity.
  virtual const std::vector<const NodeInfo*>& nodes_with_affinity_pods() const = 0;
  virtual const std::vector<const NodeInfo*>& nodes_with_required_anti_affinity_pods() const = 0;
  // Labels of a namespace, or nullptr if the namespace is unknown.
  virtual const google::protobuf::Map<std::string, std::string>* NamespaceLabels(
      std::string_view ns) const = 0;
  // Whether each node's kubernetes.io/hostname label, where it has one, is its own name:
  // then no two nodes share a hostname topology domain. The default says no.
  virtual bool HostnameLabelsAreNodeNames() const { return false; }
  // Whether every required anti-affinity term of the pods on the nodes has the topology
  // key kubernetes.io/hostname and no namespaceSelector. The default says no.
  // With both, a node's answer to anti-affinity depends on its own pods only, which lets
  // InterPodAffinity be node-local (NodeLocalThisCycle) for a pod without affinity terms
  // whose own anti-affinity terms are per hostname too.
  virtual bool AntiAffinityIsPerHostname() const { return false; }
  // Names the nodes' labels as they are: a number that changes whenever a node comes or
  // goes or any node's labels change, and never comes back. A plugin may remember what it
  // derived from every node's labels (PodTopologySpread: the spreading domains) under it.
  // 0, the default, names nothing: remember nothing.
  virtual int64_t node_labels_generation() const { return 0; }
};

// What the framework gives plugins. Owned by the scheduler; outlives every plugin.
class Handle {
 public:
  virtual ~Handle() = default;
  virtual const Snapshot& snapshot() const = 0;
  virtual Clock& clock() const = 0;
  // For plugins that write (binding, preemption). May be null in a what-if run
  // (orchctl place), where nothing is written.
  virtual client::Client* client() const = 0;
  // Shared informers of the scheduler's cluster (services, replicasets, ... for default
  // spreading). May be null; plugins then do without.
  virtual client::SharedInformerFactory* informers() const = 0;
  // The profile's Event recorder, reporting as its schedulerName (source.component and
  // reportingComponent), as Kubernetes' Handle.EventRecorder. Null where client() is (and
  // in test doubles that keep the default).
  virtual client::EventRecorder* event_recorder() const { return nullptr; }
  // Runs Filter plugins of this profile against `node` for `pod` (PreFilter must have run
  // on `state`): how preemption checks a node with some pods removed. As Kubernetes'
  // RunFilterPluginsWithNominatedPods, pods nominated to the node (by preemption) with at
  // least `pod`'s priority count as already there, and the node must pass both with and
  // without them. `state` itself is not changed by the nominated pods.
  virtual Status RunFilterPlugins(CycleState& state, const PodInfo& pod,
                                  const NodeInfo& node) const = 0;
  // Runs the PreFilter extensions' AddPod/RemovePod of this profile, to keep `state` true
  // when preemption adds or removes a pod from a node copy.
  virtual Status RunPreFilterAddPod(CycleState& state, const PodInfo& pod,
                                    const PodInfo& added, const NodeInfo& node) const = 0;
  virtual Status RunPreFilterRemovePod(CycleState& state, const PodInfo& pod,
                                       const PodInfo& removed, const NodeInfo& node) const = 0;
  // Permit: lets a pod that waits on `plugin` go on (it binds once no plugin holds it), or
  // rejects it (it is unreserved and retried). Returns false when the pod is not waiting
  // on that plugin. May be called from any thread.
  virtual bool AllowWaitingPod(std::string_view uid, std::string_view plugin) = 0;
  virtual bool RejectWaitingPod(std::string_view uid, std::string_view plugin,
                                std::string_view message) = 0;
};

// ------------------------------------------------------------------ plugin interfaces

enum class ExtensionPoint {
  kQueueSort, kPreFilter, kFilter, kPostFilter, kPreScore, kScore, kReserve, kPermit,
  kPreBind, kBind, kPostBind,
};

class Plugin {
 public:
  Plugin() = default;
  Plugin(const Plugin&) = delete;
  Plugin& operator=(const Plugin&) = delete;
  virtual ~Plugin() = default;
  virtual std::string_view Name() const = 0;

  // Whether this plugin's Filter and Score for a pod depend only on that pod, the node's
  // NodeInfo and node objects — not on pods bound to OTHER nodes. The framework reuses a
  // (pod shape, node state) result only when every plugin that did not Skip this cycle
  // is node-local. PodTopologySpread and InterPodAffinity are not.
  virtual bool NodeLocal() const { return true; }
  // Whether NodeLocal holds for the pod of this cycle, as PreFilter and PreScore found it
  // (`state` is the cycle's). A plugin that is not node-local in general may be for some
  // pods: InterPodAffinity, for a pod without affinity terms whose anti-affinity, and every
  // bound pod's, is per hostname. The default is NodeLocal().
  virtual bool NodeLocalThisCycle(const CycleState& state) const { return NodeLocal(); }
};

// Cluster events that can make a pod schedulable again. A plugin that rejects pods says
// which events may change its answer (EnqueueExtensions); the queue moves a pod that the
// plugin rejected back to be retried only on those.
enum class EventResource { kPod, kNode, kNamespace, kService, kAny };
enum ActionType : uint32_t {
  kAdd = 1 << 0,
  kDelete = 1 << 1,
  kUpdateNodeAllocatable = 1 << 2,
  kUpdateNodeLabel = 1 << 3,
  kUpdateNodeTaint = 1 << 4,
  kUpdateNodeCondition = 1 << 5,
  kUpdatePodLabel = 1 << 6,
  kUpdatePodScaleDown = 1 << 7,  // a pod's requests shrank
  kUpdateOther = 1 << 8,         // any other update
  kUpdate = kUpdateNodeAllocatable | kUpdateNodeLabel | kUpdateNodeTaint |
            kUpdateNodeCondition | kUpdatePodLabel | kUpdatePodScaleDown | kUpdateOther,
  kAll = kAdd | kDelete | kUpdate,
};
struct ClusterEvent {
  EventResource resource = EventResource::kAny;
  uint32_t actions = kAll;  // ActionType bits
  bool Matches(const ClusterEvent& happened) const {
    return (resource == EventResource::kAny || resource == happened.resource) &&
           (actions & happened.actions) != 0;
  }
};

class EnqueueExtensions : public virtual Plugin {
 public:
  virtual std::vector<ClusterEvent> EventsToRegister() const = 0;
};

// Orders the scheduling queue: Less(a, b) is true when `a` should be tried before `b`.
struct QueuedPodInfo {
  PodInfoPtr pod;
  absl::Time timestamp;          // when it was (re)added to the queue
  int attempts = 0;              // scheduling attempts so far
  absl::Time initial_attempt;    // first attempt (or InfinitePast before any)
};
// A queue sort key: compared as (major, minor), smaller first.
struct QueueSortKey {
  int64_t major = 0;
  absl::Time minor;
};
class QueueSortPlugin : public virtual Plugin {
 public:
  virtual bool Less(const QueuedPodInfo& a, const QueuedPodInfo& b) const = 0;
  // Optional, for speed: when Less is an order of keys — Less(a, b) exactly when a's key is
  // smaller than b's — a plugin sets `*key` and returns true. The queue then keeps each
  // pod's key beside it in the heap and compares keys instead of calling Less, so that
  // reordering thousands of queued pods reads none of them. It asks again whenever it
  // changes what Less reads (the pod, the timestamp). Default: false; Less is called.
  virtual bool SortKey(const QueuedPodInfo& info, QueueSortKey* key) const { return false; }
};

// PreFilter may narrow the candidate nodes (like NodeAffinity on a metadata.name field):
// an empty `node_names` means all nodes.
struct PreFilterResult {
  bool all_nodes = true;
  StringSet node_names;
};

class PreFilterPlugin : public virtual Plugin {
 public:
  // Skip: this plugin's Filter is not called for the pod this cycle.
  virtual Status PreFilter(CycleState& state, const PodInfo& pod, PreFilterResult* result) = 0;
  // For preemption's what-ifs: update what PreFilter wrote to `state` when `other` is
  // added to or removed from `node` (a copy that already holds it, or no longer does).
  // Plugins whose state does not depend on other pods keep the defaults.
  virtual Status AddPod(CycleState& state, const PodInfo& pod, const PodInfo& other,
                        const NodeInfo& node) const {
    return Status();
  }
  virtual Status RemovePod(CycleState& state, const PodInfo& pod, const PodInfo& other,
                           const NodeInfo& node) const {
    return Status();
  }
};

class FilterPlugin : public virtual Plugin {
 public:
  // Success if `pod` can run on `node`; Unschedulable or Unresolvable with the reason
  // otherwise. Called for every candidate node: keep it fast and allocation-free on the
  // success path.
  virtual Status Filter(CycleState& state, const PodInfo& pod, const NodeInfo& node) const = 0;
  // Filter over many nodes: `nodes` keeps, in order, those that pass; each that fails is
  // appended to `failed` with Filter's status for it. The scheduler filters a cycle's nodes
  // through this when it evaluates all of them. The default calls Filter node by node and
  // returns the first Error (the nodes are then unspecified); a plugin overrides it when
  // one pass is cheaper, giving each node exactly Filter's verdict.
  virtual Status FilterNodes(CycleState& state, const PodInfo& pod,
                             std::vector<const NodeInfo*>& nodes,
                             std::vector<std::pair<const NodeInfo*, Status>>& failed) const;

  // Domain-local filtering. A plugin that is not node-local may still judge alike every
  // node with the same value of one label: PodTopologySpread, for a pod whose
  // DoNotSchedule constraints share one topology key, passes or fails a whole zone at
  // once. After PreFilter, FilterDomainKey names that label for the cycle in `state`
  // (nullopt, the default: the plugin is not domain-local this cycle), and FilterDomain
  // gives the verdict Filter gives every node whose label `key` has `value` (nullptr: the
  // nodes without that label). The scheduler then reuses the other plugins' verdicts
  // across equivalent pods, node by node, and asks this plugin once per domain. The view
  // may point into `state`; it is read before `state` changes.
  virtual std::optional<std::string_view> FilterDomainKey(const CycleState& state) const {
    return std::nullopt;
  }
  // Only called when FilterDomainKey named a key this cycle; the default is an Error.
  virtual Status FilterDomain(CycleState& state, const PodInfo& pod,
                              const std::string* value) const;
};

// The nodes that failed Filter with their statuses, in the order met.
using NodeFailures = std::vector<std::pair<const NodeInfo*, Status>>;

// The loop of FilterNodes (the default's, and an override's): keeps in `nodes` those for
// which `verdict(node)` is Success and appends the others to `failed`; returns the first
// Error instead (the nodes are then unspecified). `passes(node)`, a cheap test that settles
// Success without a Status (true for the usual node: not cordoned, without taints, with
// room), spares most nodes the call to `verdict`; it must never pass a node `verdict`
// would fail.
template <typename Passes, typename Verdict>
Status KeepFeasible(std::vector<const NodeInfo*>& nodes, NodeFailures& failed, Passes passes,
                    Verdict verdict) {
  size_t kept = 0;
  for (const NodeInfo* node : nodes) {
    if (passes(*node)) {
      nodes[kept++] = node;
      continue;
    }
    Status status = verdict(*node);
    if (status.ok()) {
      nodes[kept++] = node;
    } else if (status.code() == Code::kError) {
      return status;
    } else {
      failed.emplace_back(node, std::move(status));
    }
  }
  nodes.resize(kept);
  return Status();
}
template <typename Verdict>
Status KeepFeasible(std::vector<const NodeInfo*>& nodes, NodeFailures& failed, Verdict verdict) {
  return KeepFeasible(nodes, failed, [](const NodeInfo&) { return false; }, std::move(verdict));
}

// The status of each node that failed Filter, by node name.
using NodeToStatus = StringMap<Status>;

struct PostFilterResult {
  std::string nominated_node_name;  // where the pod may fit once victims are gone
};

class PostFilterPlugin : public virtual Plugin {
 public:
  // Called when no node passed Filter. Success with a nominated node, or Unschedulable.
  virtual Status PostFilter(CycleState& state, const PodInfo& pod,
                            const NodeToStatus& filtered, PostFilterResult* result) = 0;
};

class PreScorePlugin : public virtual Plugin {
 public:
  // Skip: this plugin's Score is not called for the pod this cycle.
  virtual Status PreScore(CycleState& state, const PodInfo& pod,
                          const std::vector<const NodeInfo*>& feasible) = 0;
};

struct NodeScore {
  const NodeInfo* node = nullptr;
  int64_t score = 0;
};

// How a score plugin brings its raw scores to 0..kMaxNodeScore. The framework applies every
// rule but kCustom itself (and can then update them incrementally when one node changes);
// kCustom calls NormalizeScore with every node's score.
enum class Normalization {
  kNone,            // Score already returns 0..100
  kDefault,         // score * 100 / max (all 0 stays 0)
  kDefaultReverse,  // 100 - score * 100 / max (all 100 when max is 0)
  // PodTopologySpread's rule, fewer is better: 100 * (max + min - score) / max, with min
  // and max over the scores that are not negative (all 100 when max is 0). A negative raw
  // score marks a node the plugin ignores: it normalizes to 0 and counts in neither.
  kMinMaxReverse,
  kCustom,
};

class ScorePlugin : public virtual Plugin {
 public:
  // The raw score of a feasible node for `pod`.
  virtual Status Score(CycleState& state, const PodInfo& pod, const NodeInfo& node,
                       int64_t* score) const = 0;
  // The raw scores of many feasible nodes at once: `scores[i]` for `nodes[i]` (the spans
  // have one size), each exactly what Score gives that node. The scheduler scores a cycle's
  // feasible nodes through this. The default calls Score node by node and stops at the
  // first failure; a plugin overrides it when one pass is cheaper (its cycle state read
  // once, no call per node).
  virtual Status ScoreNodes(CycleState& state, const PodInfo& pod,
                            absl::Span<const NodeInfo* const> nodes,
                            absl::Span<int64_t> scores) const;
  virtual Normalization normalization() const { return Normalization::kNone; }
  // Only for kCustom: rewrite `scores` (one per feasible node) to 0..kMaxNodeScore.
  virtual Status NormalizeScore(CycleState& state, const PodInfo& pod,
                                std::vector<NodeScore>& scores) const {
    return Status();
  }
  // For a plugin that is not node-local for this cycle's pod (NodeLocalThisCycle): whether
  // its raw scores depend only on each node's own state and on a few values PreScore took
  // from the whole cluster — PodTopologySpread's normalizing weights and zone counts —
  // which it then writes to `*inputs` as bytes. Equal inputs promise equal raw scores on a
  // node in an equal state: the scheduler keeps a class of equal pods' scores across
  // cycles while the inputs stay the same. Called after PreScore; the default says no.
  virtual bool ScoreInputs(const CycleState& state, std::string* inputs) const { return false; }
};

// Applies kDefault / kDefaultReverse to `scores` in place (Kubernetes' DefaultNormalizeScore).
void DefaultNormalizeScore(bool reverse, std::vector<NodeScore>& scores);
// One score as DefaultNormalizeScore leaves it, given the largest score of the list.
inline int64_t DefaultNormalizedScore(bool reverse, int64_t score, int64_t max) {
  if (max == 0) return reverse ? kMaxNodeScore : score;
  const int64_t scaled = kMaxNodeScore * score / max;
  return reverse ? kMaxNodeScore - scaled : scaled;
}
// The extremes the framework's rules normalize with: the largest score (0 while none is
// larger) and the smallest that is not negative (INT64_MAX while there is none).
struct ScoreExtremes {
  int64_t min = INT64_MAX;
  int64_t max = 0;
  void Add(int64_t score) {
    if (score < 0) return;
    min = std::min(min, score);
    max = std::max(max, score);
  }
};
// Applies kMinMaxReverse to `scores` in place.
void MinMaxReverseNormalizeScore(std::vector<NodeScore>& scores);
// One score as kMinMaxReverse leaves it, given the smallest and largest scores that are not
// negative.
inline int64_t MinMaxReverseNormalizedScore(int64_t score, int64_t min, int64_t max) {
  if (score < 0) return 0;
  if (max == 0) return kMaxNodeScore;
  return kMaxNodeScore * (max + min - score) / max;
}

class ReservePlugin : public virtual Plugin {
 public:
  // The pod is assumed on `node_name`. A failure unreserves every reserve plugin;
  // Unschedulable (or Unresolvable) makes the pod unschedulable, retried on this plugin's
  // events (EnqueueExtensions); Error fails the cycle (the pod backs off).
  virtual Status Reserve(CycleState& state, const PodInfo& pod, const std::string& node_name) = 0;
  // Must be idempotent and must not fail: undo whatever Reserve did.
  virtual void Unreserve(CycleState& state, const PodInfo& pod, const std::string& node_name) = 0;
};

class PermitPlugin : public virtual Plugin {
 public:
  // Success, Unschedulable (rejects), or Wait with `*timeout` set: the pod then waits
  // until a plugin allows or rejects it through the WaitingPod, or the timeout passes
  // (then it is rejected).
  virtual Status Permit(CycleState& state, const PodInfo& pod, const std::string& node_name,
                        absl::Duration* timeout) = 0;
};

class PreBindPlugin : public virtual Plugin {
 public:
  virtual Status PreBind(CycleState& state, const PodInfo& pod, const std::string& node_name) = 0;
};

class BindPlugin : public virtual Plugin {
 public:
  // Binds the pod, or Skip to leave it to the next bind plugin.
  virtual Status Bind(CycleState& state, const PodInfo& pod, const std::string& node_name) = 0;
};

class PostBindPlugin : public virtual Plugin {
 public:
  virtual void PostBind(CycleState& state, const PodInfo& pod, const std::string& node_name) = 0;
};

}  // namespace orch::scheduler

#endif  // ORCH_SCHEDULER_FRAMEWORK_H_
