// The scheduling queue: kube-scheduler's PriorityQueue (pkg/scheduler/internal/queue).
//
// A pending pod is in exactly one of three places, or in flight:
//   activeQ            a heap ordered by the profile's QueueSortPlugin::Less; Pop takes its head.
//   backoffQ           a heap ordered by backoff expiry: pods that may be schedulable again but
//                      were tried recently. Flush moves the expired ones to activeQ.
//   unschedulablePods  pods that failed and wait for a cluster event that may help them (a
//                      node added, a pod deleted, ...) or for the leftover timeout (5 min).
//   in flight          popped, being scheduled or bound, until AddUnschedulableIfNotPresent
//                      (it failed) or Done (it is bound, or given up).
//
// Backoff: a pod tried `attempts` times waits initial * 2^(attempts-1), at most max (1 s
// doubling to 10 s by default: 1, 2, 4, 8, 10, 10, ...), counted from when it was last put
// back in the queue.
//
// Requeueing on events: each plugin that can reject a pod says which ClusterEvents may change
// its answer (EnqueueExtensions::EventsToRegister). The queue is given that map at
// construction; MoveAllToActiveOrBackoffQueue(event) then moves only the pods in
// unschedulablePods that a plugin registered for `event` rejected. A plugin missing from the
// map is taken to care about every event (Kubernetes' rule for plugins without
// EnqueueExtensions); a pod with no rejecting plugin recorded moves on any event. The
// wildcard event ClusterEvent{kAny, kAll} moves every pod.
//
// The moveRequestCycle race (Kubernetes' rule without queueing hints): an event may arrive
// while a pod is in flight, before its failure is known. The queue remembers the scheduling
// cycle of the last move request; a failed pod whose cycle started at or before it goes to
// backoffQ instead of unschedulablePods, so the event is not lost. A pod that failed with no
// rejecting plugin (an Error, a failed bind) also goes to backoffQ, as in Kubernetes >= 1.27:
// nothing is known to wait for, so it is retried after its backoff.
//
// Time: everything reads the injected Clock. Nothing runs by itself: the scheduler calls
// Flush() every kFlushPeriod (1 s) from its executor, and Pop() whenever it is ready for the
// next pod (Pop never blocks).
//
// Cost: O(log n) per Add, Pop, AddUnschedulableIfNotPresent, Update, Delete, Done and per
// pod moved; one heap allocation per queued pod (its entry), none per operation. An event
// scans unschedulablePods only if some pod there waits for it (else O(registered events));
// AssignedPodAdded/Updated scan only the pods there with required pod affinity. About 1 us
// per pod through Add + Pop + Done at 10,000 queued pods (see the report of issue 3).
//
// Thread safety: every method may be called from any thread; one orch::Mutex guards the
// state. The QueueSortPlugin's Less and a pre-enqueue check run under that lock and must not
// call back into the queue.
//
// Ownership: the queue shares the PodInfos it holds; the QueueSortPlugin and the Clock are
// borrowed and must outlive the queue.
#ifndef ORCH_SRC_SCHEDULER_QUEUE_H_
#define ORCH_SRC_SCHEDULER_QUEUE_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "orch/api/v1/core.pb.h"
#include "orch/base/clock.h"
#include "orch/base/mutex.h"
#include "orch/scheduler/framework.h"
#include "orch/scheduler/node_info.h"

namespace orch::scheduler {

// Kubernetes' defaults (podInitialBackoffSeconds, podMaxBackoffSeconds,
// DefaultPodMaxInUnschedulablePodsDuration).
inline constexpr absl::Duration kDefaultPodInitialBackoff = absl::Seconds(1);
inline constexpr absl::Duration kDefaultPodMaxBackoff = absl::Seconds(10);
inline constexpr absl::Duration kDefaultPodMaxInUnschedulablePods = absl::Minutes(5);

// How often the scheduler calls Flush(). Kubernetes flushes backoffQ every 1 s and
// unschedulablePods every 30 s; Flush() does the first on every call and the second when 30 s
// have passed since it last did.
inline constexpr absl::Duration kFlushPeriod = absl::Seconds(1);
inline constexpr absl::Duration kUnschedulablePodsFlushPeriod = absl::Seconds(30);

// Plugin name -> the events that may make a pod it rejected schedulable.
using PluginEvents = absl::flat_hash_map<std::string, std::vector<ClusterEvent>>;

// Decides, under the queue's lock, whether a pod an event would move is moved (Kubernetes'
// PreEnqueueCheck, e.g. "fits the added node at all"). Empty: every pod is.
using PreEnqueueCheck = std::function<bool(const PodInfo&)>;

struct SchedulingQueueOptions {
  absl::Duration pod_initial_backoff = kDefaultPodInitialBackoff;
  absl::Duration pod_max_backoff = kDefaultPodMaxBackoff;
  absl::Duration pod_max_in_unschedulable_pods = kDefaultPodMaxInUnschedulablePods;
};

namespace queue_internal {

// Where a pod's entry is.
enum class Where : uint8_t { kActive, kBackoff, kUnschedulable, kInFlight };

struct Entry;
struct Links {
  Entry* prev = nullptr;
  Entry* next = nullptr;
  bool linked = false;
};

// One pod held by the queue: the only allocation per pod.
struct Entry {
  QueuedPodInfo info;
  Where where = Where::kActive;
  bool deleted_in_flight = false;
  bool updated_in_flight = false;  // an update that may make it schedulable came in flight
  uint64_t rejectors = 0;          // plugin bits of the plugins that rejected it
  uint64_t seq = 0;                // breaks ties in the heaps: first in, first out
  absl::Time backoff_expiry;       // while in backoffQ
  size_t heap_index = 0;           // position in activeQ or backoffQ
  Links unschedulable_links;
  Links affinity_links;
};

// One place in a heap: the entry, and its sort key when the order has one, held inline so
// that reordering the heap reads no entry.
struct HeapItem {
  QueueSortKey key;
  uint64_t seq = 0;    // the entry's, for ties
  bool keyed = false;  // `key` is set
  Entry* entry = nullptr;
};

// A binary heap of entries that keeps each entry's position in it, so that any entry can be
// removed or re-sorted in O(log n). Order::Item(e) makes an entry's item; Order(a, b): a
// comes out first.
template <typename Order>
class IndexedHeap {
 public:
  explicit IndexedHeap(Order order) : order_(order) {}
  void Push(Entry* e);
  Entry* Top() const { return items_.empty() ? nullptr : items_.front().entry; }
  // Removes Top() with about half the comparisons of Remove(Top()).
  void PopTop();
  void Remove(Entry* e);
  // Restores the order after `e`'s sort key changed.
  void Fix(Entry* e);
  size_t size() const { return items_.size(); }
  const std::vector<HeapItem>& items() const { return items_; }

 private:
  void Place(size_t i, const HeapItem& item);
  void SiftUp(size_t i);
  void SiftDown(size_t i);

  Order order_;
  std::vector<HeapItem> items_;
};

// The QueueSort plugin's order, by key when it gives keys; ties first in, first out.
struct ActiveOrder {
  const QueueSortPlugin* sort;
  HeapItem Item(Entry* e) const;
  bool operator()(const HeapItem& a, const HeapItem& b) const;
};
// Backoff expiry; ties first in, first out.
struct BackoffOrder {
  HeapItem Item(Entry* e) const;
  bool operator()(const HeapItem& a, const HeapItem& b) const;
};

// An intrusive doubly linked list through one Links member of Entry: insertion-ordered,
// O(1) insert and remove, no allocation.
template <Links Entry::*kLinks>
class EntryList {
 public:
  void PushBack(Entry* e);
  void Remove(Entry* e);
  Entry* front() const { return head_; }
  static Entry* Next(const Entry* e) { return (e->*kLinks).next; }
  size_t size() const { return size_; }

 private:
  Entry* head_ = nullptr;
  Entry* tail_ = nullptr;
  size_t size_ = 0;
};
}  // namespace queue_internal

class SchedulingQueue {
 public:
  struct Counts {
    size_t active = 0;
    size_t backoff = 0;
    size_t unschedulable = 0;
    size_t in_flight = 0;
  };

  // `sort` orders activeQ (the profile's QueueSort plugin; all profiles share one, as in
  // Kubernetes). `plugin_events`: see the file comment.
  SchedulingQueue(const QueueSortPlugin& sort, Clock& clock, PluginEvents plugin_events,
                  SchedulingQueueOptions options = {});
  ~SchedulingQueue();
  SchedulingQueue(const SchedulingQueue&) = delete;
  SchedulingQueue& operator=(const SchedulingQueue&) = delete;

  // A new pending pod goes to activeQ (timestamped now, 0 attempts). Adding a pod the queue
  // already holds moves it to activeQ with that fresh bookkeeping, as Kubernetes does. Its
  // status.nominatedNodeName, if any, nominates it.
  void Add(PodInfoPtr pod);

  // The head of activeQ, or nothing when activeQ is empty. Counts an attempt, stamps the
  // first attempt's time and starts a scheduling cycle (SchedulingCycle() goes up by one).
  // The pod is then in flight until AddUnschedulableIfNotPresent or Done.
  std::optional<QueuedPodInfo> Pop();

  // The number of the current scheduling cycle: read it right after Pop, on the same thread,
  // and pass it to AddUnschedulableIfNotPresent if that pod fails.
  int64_t SchedulingCycle() const;

  // The pod `uid` was bound or given up: it leaves the queue. A no-op for a pod that is not
  // in flight (e.g. already requeued by AddUnschedulableIfNotPresent).
  void Done(std::string_view uid);

  // A pod that failed its scheduling or binding cycle comes back. `rejector_plugins` are the
  // plugins that rejected it (empty for an Error); `pod_scheduling_cycle` is the cycle it was
  // popped in. It goes to backoffQ when a move request came at or after that cycle, or when
  // no plugin rejected it; otherwise to unschedulablePods. Timestamped now. If the queue saw
  // an Update of the pod while it was in flight, the newer pod is kept, and an update that
  // may make it schedulable sends it to activeQ.
  // Errors: kAlreadyExists if the pod is already in a sub-queue (nothing changes);
  // kNotFound if it was deleted while in flight (it is dropped; nothing to retry).
  absl::Status AddUnschedulableIfNotPresent(
      const QueuedPodInfo& pod_info, const absl::flat_hash_set<std::string>& rejector_plugins,
      int64_t pod_scheduling_cycle);

  // A pending pod changed. In activeQ or backoffQ it is replaced in place; in
  // unschedulablePods an update that may make it schedulable (anything but status,
  // resourceVersion, generation and finalizers changed) moves it to backoffQ if still backing
  // off, else to activeQ; a pod the queue does not hold is added to activeQ (Kubernetes). In
  // flight, the new version is kept for when it comes back (AddUnschedulableIfNotPresent).
  // Nominations follow: see AddNominatedPod.
  void Update(const api::v1::Pod& old_pod, PodInfoPtr new_pod);

  // A pending pod is gone: removed wherever it is, and from the nominated pods. A pod in
  // flight is dropped when it comes back.
  void Delete(std::string_view uid);

  // A pod was bound (added to a node): pods in unschedulablePods whose required pod affinity
  // selects it may now fit, and move on the event {kPod, kAdd}. `namespace_labels` are the
  // labels of `pod`'s namespace (nullptr if unknown; terms with a namespaceSelector then match
  // only by their namespace list).
  void AssignedPodAdded(
      const PodInfo& pod,
      const google::protobuf::Map<std::string, std::string>* namespace_labels = nullptr);

  // A bound pod changed. If its requests shrank, every pod waiting for {kPod,
  // kUpdatePodScaleDown} may move; otherwise only the pods whose required affinity selects
  // the new version, on {kPod, kUpdatePodLabel} (labels changed) or {kPod, kUpdateOther}.
  void AssignedPodUpdated(
      const PodInfo& old_pod, const PodInfo& new_pod,
      const google::protobuf::Map<std::string, std::string>* namespace_labels = nullptr);

  // A cluster event happened: each pod in unschedulablePods that a plugin registered for it
  // rejected (or that no plugin rejected, or every pod for the wildcard event) and that
  // passes `pre_check` moves to backoffQ if still backing off, else to activeQ. Also records
  // the move request for the moveRequestCycle rule, unless no registered plugin and no
  // waiting pod cares about the event (Kubernetes' isEventOfInterest).
  void MoveAllToActiveOrBackoffQueue(const ClusterEvent& event,
                                     const PreEnqueueCheck& pre_check = {});

  // Call every kFlushPeriod: moves pods whose backoff expired from backoffQ to activeQ, and,
  // every kUnschedulablePodsFlushPeriod, pods that stayed in unschedulablePods longer than
  // pod_max_in_unschedulable_pods to backoffQ/activeQ.
  void Flush();

  // ---- nominated pods (preemption). A pod is nominated to at most one node.
  // Nominates `pod` to `node_name`; with no node_name, to its status.nominatedNodeName (none:
  // the nomination is removed). An empty node_name removes it. A pod bound to a node
  // (spec.nodeName set) is never nominated. Add and AddUnschedulableIfNotPresent re-nominate
  // from the status (dropping a nomination the scheduler made), Update keeps the scheduler's
  // nomination while neither version has a status.nominatedNodeName — all as Kubernetes.
  // The scheduler calls this after PostFilter (with its result), and DeleteNominatedPod when
  // it assumes a pod on a node.
  void AddNominatedPod(const PodInfoPtr& pod, std::optional<std::string_view> node_name);
  void DeleteNominatedPod(std::string_view uid);
  // The pods nominated to `node_name`, highest priority first (then in nomination order).
  std::vector<PodInfoPtr> NominatedPodsForNode(std::string_view node_name) const;
  // Every node with pods nominated to it, and those pods as NominatedPodsForNode gives
  // them: one read for a search over all nodes.
  StringMap<std::vector<PodInfoPtr>> NominatedPodsByNode() const;
  // Whether any pod is nominated anywhere; lock-free, for the Filter fast path.
  bool HasNominatedPods() const { return num_nominated_.load(std::memory_order_acquire) > 0; }

  // ---- introspection (tests, metrics, debugging)
  enum class Location { kAbsent, kActive, kBackoff, kUnschedulable, kInFlight };
  Counts counts() const;
  // Where the pod `uid` is.
  Location Locate(std::string_view uid) const;
  // Every pod in activeQ, backoffQ and unschedulablePods (not the ones in flight).
  std::vector<PodInfoPtr> PendingPods() const;
  // The backoff of a pod after `attempts` attempts.
  absl::Duration BackoffDuration(int attempts) const;

 private:
  using Entry = queue_internal::Entry;
  using ActiveHeap = queue_internal::IndexedHeap<queue_internal::ActiveOrder>;
  using BackoffHeap = queue_internal::IndexedHeap<queue_internal::BackoffOrder>;
  using NamespaceLabels = google::protobuf::Map<std::string, std::string>;

  // Plugin bits: each plugin of the map has one; the last bit stands for every plugin the
  // map does not know (or beyond the 63rd) and matches every event.
  static constexpr int kAnyEventBit = 63;
  uint64_t PluginBits(const absl::flat_hash_set<std::string>& plugins) const;
  uint64_t EventBits(const ClusterEvent& event) const;

  Entry* Find(std::string_view uid) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // The entry of `pod`'s uid, created (holding `pod`) if there was none.
  std::pair<Entry*, bool> FindOrCreate(const PodInfoPtr& pod) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EraseEntry(Entry* e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SetPod(Entry* e, PodInfoPtr pod) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Unlink(Entry* e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PushActive(Entry* e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PushBackoff(Entry* e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PushUnschedulable(Entry* e, uint64_t rejectors) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PushActiveOrBackoff(Entry* e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool IsBackingOff(const Entry* e) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UpdateUnschedulable(Entry* e, const api::v1::Pod& old_pod, PodInfoPtr new_pod)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool EventOfInterest(const ClusterEvent& event, uint64_t event_bits) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool WaitsFor(const Entry* e, bool wildcard, uint64_t event_bits) const;
  void MoveAll(const ClusterEvent& event, const PreEnqueueCheck& pre_check)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MovePodsWithAffinityTo(const PodInfo& pod, const ClusterEvent& event,
                              const NamespaceLabels* namespace_labels)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FlushBackoffCompleted() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FlushUnschedulableLeftover() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  void NominateLocked(const PodInfoPtr& pod, std::optional<std::string_view> node_name)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UnnominateLocked(std::string_view uid) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UpdateNominationLocked(const api::v1::Pod& old_pod, const PodInfoPtr& new_pod)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Clock& clock_;
  const SchedulingQueueOptions options_;
  // Plugin name -> bit, and the events each bit registered.
  absl::flat_hash_map<std::string, int> plugin_bit_;
  std::vector<std::pair<ClusterEvent, uint64_t>> registered_events_;

  mutable Mutex mu_;
  // uid -> entry, for every pod queued or in flight. Keys view the entry's pod's uid.
  absl::flat_hash_map<absl::string_view, std::unique_ptr<Entry>> entries_ ABSL_GUARDED_BY(mu_);
  ActiveHeap active_ ABSL_GUARDED_BY(mu_);
  BackoffHeap backoff_ ABSL_GUARDED_BY(mu_);
  // unschedulablePods in the order they entered it, which is timestamp order.
  queue_internal::EntryList<&Entry::unschedulable_links> unschedulable_ ABSL_GUARDED_BY(mu_);
  // The subset of unschedulablePods with required pod affinity terms.
  queue_internal::EntryList<&Entry::affinity_links> unschedulable_with_affinity_
      ABSL_GUARDED_BY(mu_);
  // How many pods in unschedulablePods each plugin bit rejected, and how many no plugin did.
  std::array<uint32_t, 64> unschedulable_by_bit_ ABSL_GUARDED_BY(mu_){};
  size_t unschedulable_without_rejector_ ABSL_GUARDED_BY(mu_) = 0;
  size_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t scheduling_cycle_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t move_request_cycle_ ABSL_GUARDED_BY(mu_) = -1;
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_unschedulable_flush_ ABSL_GUARDED_BY(mu_);

  // Nominated pods: node -> pods (highest priority first), uid -> node.
  absl::flat_hash_map<std::string, std::vector<PodInfoPtr>> nominated_by_node_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::string> nominated_node_of_ ABSL_GUARDED_BY(mu_);
  std::atomic<size_t> num_nominated_{0};
};

}  // namespace orch::scheduler

#endif  // ORCH_SRC_SCHEDULER_QUEUE_H_
