#include "scheduler/queue.h"

#include <algorithm>
#include <bit>
#include <utility>

#include "fmt/format.h"
#include "google/protobuf/util/message_differencer.h"
#include "orch/api/encoding.h"

namespace orch::scheduler {
namespace queue_internal {

// ------------------------------------------------------------------ IndexedHeap

template <typename Order>
void IndexedHeap<Order>::Place(size_t i, const HeapItem& item) {
  items_[i] = item;
  item.entry->heap_index = i;
}

template <typename Order>
void IndexedHeap<Order>::Push(Entry* e) {
  items_.push_back(order_.Item(e));
  e->heap_index = items_.size() - 1;
  SiftUp(items_.size() - 1);
}

// Floyd's bottom-up deletion: the hole at the root sinks along the smaller children to a
// leaf (one comparison per level), then the last item, usually among the largest, rises
// into it from there.
template <typename Order>
void IndexedHeap<Order>::PopTop() {
  const HeapItem last = items_.back();
  items_.pop_back();
  if (items_.empty()) return;
  const size_t n = items_.size();
  size_t hole = 0;
  while (true) {
    size_t child = 2 * hole + 1;
    if (child >= n) break;
    if (child + 1 < n && order_(items_[child + 1], items_[child])) ++child;
    Place(hole, items_[child]);
    hole = child;
  }
  Place(hole, last);
  SiftUp(hole);
}

template <typename Order>
void IndexedHeap<Order>::Remove(Entry* e) {
  const size_t i = e->heap_index;
  const HeapItem last = items_.back();
  items_.pop_back();
  if (i < items_.size()) {
    Place(i, last);
    SiftUp(i);
    SiftDown(last.entry->heap_index);
  }
}

template <typename Order>
void IndexedHeap<Order>::Fix(Entry* e) {
  items_[e->heap_index] = order_.Item(e);
  SiftUp(e->heap_index);
  SiftDown(e->heap_index);
}

template <typename Order>
void IndexedHeap<Order>::SiftUp(size_t i) {
  const HeapItem item = items_[i];
  while (i > 0) {
    const size_t parent = (i - 1) / 2;
    if (!order_(item, items_[parent])) break;
    Place(i, items_[parent]);
    i = parent;
  }
  Place(i, item);
}

template <typename Order>
void IndexedHeap<Order>::SiftDown(size_t i) {
  const HeapItem item = items_[i];
  const size_t n = items_.size();
  while (true) {
    size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && order_(items_[child + 1], items_[child])) ++child;
    if (!order_(items_[child], item)) break;
    Place(i, items_[child]);
    i = child;
  }
  Place(i, item);
}

namespace {

bool KeyLess(const HeapItem& a, const HeapItem& b) {
  if (a.key.major != b.key.major) return a.key.major < b.key.major;
  if (a.key.minor != b.key.minor) return a.key.minor < b.key.minor;
  return a.seq < b.seq;
}

}  // namespace

HeapItem ActiveOrder::Item(Entry* e) const {
  HeapItem item{.seq = e->seq, .entry = e};
  item.keyed = sort->SortKey(e->info, &item.key);
  return item;
}

// Ties (equal for the sort plugin, or equal expiry) come out in the order they went in, so
// that a simulation is the same on every run.
bool ActiveOrder::operator()(const HeapItem& a, const HeapItem& b) const {
  if (a.keyed && b.keyed) return KeyLess(a, b);
  if (sort->Less(a.entry->info, b.entry->info)) return true;
  if (sort->Less(b.entry->info, a.entry->info)) return false;
  return a.seq < b.seq;
}

HeapItem BackoffOrder::Item(Entry* e) const {
  return HeapItem{.key = {.minor = e->backoff_expiry}, .seq = e->seq, .keyed = true, .entry = e};
}

bool BackoffOrder::operator()(const HeapItem& a, const HeapItem& b) const {
  return KeyLess(a, b);
}

// ------------------------------------------------------------------ EntryList

template <Links Entry::*kLinks>
void EntryList<kLinks>::PushBack(Entry* e) {
  Links& links = e->*kLinks;
  links.prev = tail_;
  links.next = nullptr;
  links.linked = true;
  if (tail_ != nullptr) {
    (tail_->*kLinks).next = e;
  } else {
    head_ = e;
  }
  tail_ = e;
  ++size_;
}

template <Links Entry::*kLinks>
void EntryList<kLinks>::Remove(Entry* e) {
  Links& links = e->*kLinks;
  if (links.prev != nullptr) {
    (links.prev->*kLinks).next = links.next;
  } else {
    head_ = links.next;
  }
  if (links.next != nullptr) {
    (links.next->*kLinks).prev = links.prev;
  } else {
    tail_ = links.prev;
  }
  links = Links();
  --size_;
}

}  // namespace queue_internal

namespace {

using queue_internal::Entry;
using queue_internal::HeapItem;
using queue_internal::Where;

// Debian's Abseil does not take std::string_view for its string keys.
absl::string_view Key(std::string_view s) { return absl::string_view(s.data(), s.size()); }

bool IsWildcard(const ClusterEvent& event) {
  return event.resource == EventResource::kAny && event.actions == kAll;
}

std::string_view QueueName(Where where) {
  switch (where) {
    case Where::kActive: return "active queue";
    case Where::kBackoff: return "backoff queue";
    case Where::kUnschedulable: return "unschedulable queue";
    case Where::kInFlight: return "scheduling cycle";
  }
  return "queue";
}

// Kubernetes' isPodUpdated: whether anything but the status, resourceVersion, generation and
// finalizers changed — what may make a rejected pod schedulable.
bool MayMakeSchedulable(const api::v1::Pod& old_pod, const api::v1::Pod& new_pod) {
  if (&old_pod == &new_pod) return false;
  google::protobuf::util::MessageDifferencer differencer;
  differencer.IgnoreField(api::v1::Pod::descriptor()->FindFieldByName("status"));
  const google::protobuf::Descriptor* meta = api::v1::ObjectMeta::descriptor();
  for (const char* field : {"resource_version", "generation", "finalizers"}) {
    differencer.IgnoreField(meta->FindFieldByName(field));
  }
  return !differencer.Compare(old_pod, new_pod);
}

// Kubernetes' UpdatePodScaleDown: some resource the pod requested is lower or gone.
bool RequestsShrank(const Resources& before, const Resources& after) {
  if (after.milli_cpu < before.milli_cpu || after.memory < before.memory ||
      after.ephemeral_storage < before.ephemeral_storage) {
    return true;
  }
  for (const auto& [name, amount] : before.scalar) {
    if (after.Get(name) < amount) return true;
  }
  return false;
}

bool AffinitySelects(const PodInfo& waiting, const api::v1::Pod& assigned,
                     const google::protobuf::Map<std::string, std::string>* namespace_labels) {
  for (const AffinityTerm& term : waiting.required_affinity()) {
    if (term.Matches(assigned, namespace_labels)) return true;
  }
  return false;
}

}  // namespace

// ------------------------------------------------------------------ SchedulingQueue

SchedulingQueue::SchedulingQueue(const QueueSortPlugin& sort, Clock& clock,
                                 PluginEvents plugin_events, SchedulingQueueOptions options)
    : clock_(clock),
      options_(options),
      active_(queue_internal::ActiveOrder{&sort}),
      backoff_(queue_internal::BackoffOrder{}),
      last_unschedulable_flush_(clock.Now()) {
  // Bits in name order, so that the same map gives the same bits on every run.
  std::vector<std::string> names;
  names.reserve(plugin_events.size());
  for (const auto& [name, events] : plugin_events) names.push_back(name);
  std::sort(names.begin(), names.end());
  for (size_t i = 0; i < names.size(); ++i) {
    const int bit = std::min<int>(static_cast<int>(i), kAnyEventBit);
    plugin_bit_[names[i]] = bit;
    for (const ClusterEvent& event : plugin_events[names[i]]) {
      registered_events_.emplace_back(event, uint64_t{1} << bit);
    }
  }
}

SchedulingQueue::~SchedulingQueue() = default;

uint64_t SchedulingQueue::PluginBits(const absl::flat_hash_set<std::string>& plugins) const {
  uint64_t bits = 0;
  for (const std::string& name : plugins) {
    auto it = plugin_bit_.find(name);
    bits |= uint64_t{1} << (it == plugin_bit_.end() ? kAnyEventBit : it->second);
  }
  return bits;
}

uint64_t SchedulingQueue::EventBits(const ClusterEvent& event) const {
  uint64_t bits = uint64_t{1} << kAnyEventBit;
  for (const auto& [registered, bit] : registered_events_) {
    if (registered.Matches(event)) bits |= bit;
  }
  return bits;
}

absl::Duration SchedulingQueue::BackoffDuration(int attempts) const {
  absl::Duration duration = options_.pod_initial_backoff;
  for (int i = 1; i < attempts; ++i) {
    // Compared before doubling, so that a large maximum cannot overflow.
    if (duration > options_.pod_max_backoff - duration) return options_.pod_max_backoff;
    duration += duration;
  }
  return duration;
}

// ---- entries

SchedulingQueue::Entry* SchedulingQueue::Find(std::string_view uid) const {
  auto it = entries_.find(Key(uid));
  return it == entries_.end() ? nullptr : it->second.get();
}

std::pair<SchedulingQueue::Entry*, bool> SchedulingQueue::FindOrCreate(const PodInfoPtr& pod) {
  auto [it, created] = entries_.try_emplace(Key(pod->uid()));
  if (created) {
    it->second = std::make_unique<Entry>();
    it->second->info.pod = pod;  // the key views this pod's uid
    it->second->info.initial_attempt = absl::InfinitePast();
  }
  return {it->second.get(), created};
}

void SchedulingQueue::EraseEntry(Entry* e) {
  auto it = entries_.find(Key(e->info.pod->uid()));
  entries_.erase(it);  // destroys *e
}

// The map's key views the pod's uid, so a new pod object means a new key.
void SchedulingQueue::SetPod(Entry* e, PodInfoPtr pod) {
  if (pod == e->info.pod) return;
  auto it = entries_.find(Key(e->info.pod->uid()));
  std::unique_ptr<Entry> owned = std::move(it->second);
  entries_.erase(it);
  e->info.pod = std::move(pod);
  entries_.emplace(Key(e->info.pod->uid()), std::move(owned));
}

// ---- sub-queues

void SchedulingQueue::Unlink(Entry* e) {
  switch (e->where) {
    case Where::kActive:
      active_.Remove(e);
      break;
    case Where::kBackoff:
      backoff_.Remove(e);
      break;
    case Where::kUnschedulable:
      unschedulable_.Remove(e);
      if (e->affinity_links.linked) unschedulable_with_affinity_.Remove(e);
      if (e->rejectors == 0) {
        --unschedulable_without_rejector_;
      } else {
        for (uint64_t bits = e->rejectors; bits != 0; bits &= bits - 1) {
          --unschedulable_by_bit_[std::countr_zero(bits)];
        }
      }
      break;
    case Where::kInFlight:
      --in_flight_;
      break;
  }
}

void SchedulingQueue::PushActive(Entry* e) {
  e->where = Where::kActive;
  e->seq = next_seq_++;
  active_.Push(e);
}

void SchedulingQueue::PushBackoff(Entry* e) {
  e->where = Where::kBackoff;
  e->seq = next_seq_++;
  e->backoff_expiry = e->info.timestamp + BackoffDuration(e->info.attempts);
  backoff_.Push(e);
}

void SchedulingQueue::PushUnschedulable(Entry* e, uint64_t rejectors) {
  e->where = Where::kUnschedulable;
  e->rejectors = rejectors;
  unschedulable_.PushBack(e);
  if (!e->info.pod->required_affinity().empty()) unschedulable_with_affinity_.PushBack(e);
  if (rejectors == 0) {
    ++unschedulable_without_rejector_;
  } else {
    for (uint64_t bits = rejectors; bits != 0; bits &= bits - 1) {
      ++unschedulable_by_bit_[std::countr_zero(bits)];
    }
  }
}

bool SchedulingQueue::IsBackingOff(const Entry* e) const {
  return e->info.timestamp + BackoffDuration(e->info.attempts) > clock_.Now();
}

void SchedulingQueue::PushActiveOrBackoff(Entry* e) {
  if (IsBackingOff(e)) {
    PushBackoff(e);
  } else {
    PushActive(e);
  }
}

// ---- the pod lifecycle

void SchedulingQueue::Add(PodInfoPtr pod) {
  MutexLock lock(&mu_);
  auto [e, created] = FindOrCreate(pod);
  if (!created && e->where == Where::kInFlight) {
    // Being scheduled: keep the newer pod; if this attempt fails, it is retried at once.
    SetPod(e, std::move(pod));
    e->deleted_in_flight = false;
    e->updated_in_flight = true;
    NominateLocked(e->info.pod, std::nullopt);
    return;
  }
  if (!created) {
    Unlink(e);
    SetPod(e, std::move(pod));
  }
  e->info.timestamp = clock_.Now();
  e->info.attempts = 0;
  e->info.initial_attempt = absl::InfinitePast();
  e->rejectors = 0;
  PushActive(e);
  NominateLocked(e->info.pod, std::nullopt);
}

std::optional<QueuedPodInfo> SchedulingQueue::Pop() {
  MutexLock lock(&mu_);
  Entry* e = active_.Top();
  if (e == nullptr) return std::nullopt;
  active_.PopTop();
  e->where = Where::kInFlight;
  ++in_flight_;
  if (e->info.attempts == 0) e->info.initial_attempt = clock_.Now();
  ++e->info.attempts;
  e->rejectors = 0;
  e->deleted_in_flight = false;
  e->updated_in_flight = false;
  ++scheduling_cycle_;
  return e->info;
}

int64_t SchedulingQueue::SchedulingCycle() const {
  ReaderMutexLock lock(&mu_);
  return scheduling_cycle_;
}

void SchedulingQueue::Done(std::string_view uid) {
  MutexLock lock(&mu_);
  auto it = entries_.find(Key(uid));
  if (it == entries_.end() || it->second->where != Where::kInFlight) return;
  Unlink(it->second.get());
  entries_.erase(it);
}

absl::Status SchedulingQueue::AddUnschedulableIfNotPresent(
    const QueuedPodInfo& pod_info, const absl::flat_hash_set<std::string>& rejector_plugins,
    int64_t pod_scheduling_cycle) {
  if (pod_info.pod == nullptr) return absl::InvalidArgumentError("pod: must be set");
  const PodInfo& pod = *pod_info.pod;
  MutexLock lock(&mu_);
  Entry* e = Find(pod.uid());
  if (e != nullptr && e->where != Where::kInFlight) {
    return absl::AlreadyExistsError(fmt::format("pod {}/{} is already present in the {}",
                                                pod.namespace_(), pod.name(),
                                                QueueName(e->where)));
  }
  if (e != nullptr && e->deleted_in_flight) {
    Unlink(e);
    EraseEntry(e);
    return absl::NotFoundError(fmt::format(
        "pod {}/{} was deleted while it was being scheduled", pod.namespace_(), pod.name()));
  }
  bool updated_in_flight = false;
  if (e != nullptr) {
    Unlink(e);
    updated_in_flight = e->updated_in_flight;
    e->updated_in_flight = false;
  } else {
    e = FindOrCreate(pod_info.pod).first;
    e->info = pod_info;
  }
  e->info.timestamp = clock_.Now();
  if (updated_in_flight) {
    PushActive(e);
  } else if (move_request_cycle_ >= pod_scheduling_cycle || rejector_plugins.empty()) {
    // An event may have helped while the pod was in flight, or nothing is known to wait for.
    e->rejectors = PluginBits(rejector_plugins);
    PushBackoff(e);
  } else {
    PushUnschedulable(e, PluginBits(rejector_plugins));
  }
  NominateLocked(e->info.pod, std::nullopt);
  return absl::OkStatus();
}

void SchedulingQueue::Update(const api::v1::Pod& old_pod, PodInfoPtr new_pod) {
  MutexLock lock(&mu_);
  Entry* e = Find(new_pod->uid());
  if (e == nullptr) {
    e = FindOrCreate(new_pod).first;
    e->info.timestamp = clock_.Now();
    PushActive(e);
    NominateLocked(e->info.pod, std::nullopt);
    return;
  }
  if (e->deleted_in_flight) return;  // gone; the delete wins
  UpdateNominationLocked(old_pod, new_pod);
  switch (e->where) {
    case Where::kActive:
      SetPod(e, std::move(new_pod));
      active_.Fix(e);  // the priority may have changed
      return;
    case Where::kBackoff:
      SetPod(e, std::move(new_pod));  // same timestamp and attempts: same expiry
      return;
    case Where::kInFlight:
      if (MayMakeSchedulable(old_pod, new_pod->pod())) e->updated_in_flight = true;
      SetPod(e, std::move(new_pod));
      return;
    case Where::kUnschedulable:
      UpdateUnschedulable(e, old_pod, std::move(new_pod));
      return;
  }
}

void SchedulingQueue::UpdateUnschedulable(Entry* e, const api::v1::Pod& old_pod,
                                          PodInfoPtr new_pod) {
  if (MayMakeSchedulable(old_pod, new_pod->pod())) {
    Unlink(e);
    SetPod(e, std::move(new_pod));
    PushActiveOrBackoff(e);
    return;
  }
  // Stays, as the new version; its affinity terms decide whether it is in the affinity list.
  SetPod(e, std::move(new_pod));
  const bool has_affinity = !e->info.pod->required_affinity().empty();
  if (e->affinity_links.linked && !has_affinity) {
    unschedulable_with_affinity_.Remove(e);
  } else if (!e->affinity_links.linked && has_affinity) {
    unschedulable_with_affinity_.PushBack(e);
  }
}

void SchedulingQueue::Delete(std::string_view uid) {
  MutexLock lock(&mu_);
  UnnominateLocked(uid);
  Entry* e = Find(uid);
  if (e == nullptr) return;
  if (e->where == Where::kInFlight) {
    // The scheduler still holds it; Done or AddUnschedulableIfNotPresent drops it.
    e->deleted_in_flight = true;
    return;
  }
  Unlink(e);
  EraseEntry(e);
}

// ---- events

bool SchedulingQueue::EventOfInterest(const ClusterEvent& event, uint64_t event_bits) const {
  const uint64_t any_bit = uint64_t{1} << kAnyEventBit;
  return IsWildcard(event) || (event_bits & ~any_bit) != 0 ||
         unschedulable_by_bit_[kAnyEventBit] > 0 || unschedulable_without_rejector_ > 0;
}

bool SchedulingQueue::WaitsFor(const Entry* e, bool wildcard, uint64_t event_bits) const {
  return wildcard || e->rejectors == 0 || (e->rejectors & event_bits) != 0;
}

void SchedulingQueue::MoveAllToActiveOrBackoffQueue(const ClusterEvent& event,
                                                    const PreEnqueueCheck& pre_check) {
  MutexLock lock(&mu_);
  MoveAll(event, pre_check);
}

void SchedulingQueue::MoveAll(const ClusterEvent& event, const PreEnqueueCheck& pre_check) {
  const uint64_t event_bits = EventBits(event);
  if (!EventOfInterest(event, event_bits)) return;
  const bool wildcard = IsWildcard(event);
  bool someone_waits = wildcard || unschedulable_without_rejector_ > 0;
  for (uint64_t bits = event_bits; bits != 0 && !someone_waits; bits &= bits - 1) {
    someone_waits = unschedulable_by_bit_[std::countr_zero(bits)] > 0;
  }
  for (Entry* e = someone_waits ? unschedulable_.front() : nullptr; e != nullptr;) {
    Entry* next = decltype(unschedulable_)::Next(e);
    if (WaitsFor(e, wildcard, event_bits) && (!pre_check || pre_check(*e->info.pod))) {
      Unlink(e);
      PushActiveOrBackoff(e);
    }
    e = next;
  }
  move_request_cycle_ = scheduling_cycle_;
}

void SchedulingQueue::MovePodsWithAffinityTo(const PodInfo& pod, const ClusterEvent& event,
                                             const NamespaceLabels* namespace_labels) {
  const uint64_t event_bits = EventBits(event);
  if (!EventOfInterest(event, event_bits)) return;
  for (Entry* e = unschedulable_with_affinity_.front(); e != nullptr;) {
    Entry* next = decltype(unschedulable_with_affinity_)::Next(e);
    if (WaitsFor(e, /*wildcard=*/false, event_bits) &&
        AffinitySelects(*e->info.pod, pod.pod(), namespace_labels)) {
      Unlink(e);
      PushActiveOrBackoff(e);
    }
    e = next;
  }
  move_request_cycle_ = scheduling_cycle_;
}

void SchedulingQueue::AssignedPodAdded(const PodInfo& pod,
                                       const NamespaceLabels* namespace_labels) {
  MutexLock lock(&mu_);
  MovePodsWithAffinityTo(pod, ClusterEvent{EventResource::kPod, kAdd}, namespace_labels);
}

void SchedulingQueue::AssignedPodUpdated(const PodInfo& old_pod, const PodInfo& new_pod,
                                         const NamespaceLabels* namespace_labels) {
  MutexLock lock(&mu_);
  if (RequestsShrank(old_pod.requests(), new_pod.requests())) {
    // Freed resources may help any pod, not only those with affinity to this one.
    MoveAll(ClusterEvent{EventResource::kPod, kUpdatePodScaleDown}, {});
    return;
  }
  const bool labels_changed =
      !api::SameStringMap(old_pod.pod().metadata().labels(), new_pod.pod().metadata().labels());
  const ClusterEvent event{EventResource::kPod, labels_changed ? kUpdatePodLabel : kUpdateOther};
  MovePodsWithAffinityTo(new_pod, event, namespace_labels);
}

// ---- time

void SchedulingQueue::Flush() {
  MutexLock lock(&mu_);
  FlushBackoffCompleted();
  const absl::Time now = clock_.Now();
  if (now - last_unschedulable_flush_ >= kUnschedulablePodsFlushPeriod) {
    last_unschedulable_flush_ = now;
    FlushUnschedulableLeftover();
  }
}

void SchedulingQueue::FlushBackoffCompleted() {
  const absl::Time now = clock_.Now();
  for (Entry* e = backoff_.Top(); e != nullptr && e->backoff_expiry <= now; e = backoff_.Top()) {
    backoff_.PopTop();
    PushActive(e);
  }
}

void SchedulingQueue::FlushUnschedulableLeftover() {
  const absl::Time now = clock_.Now();
  bool moved = false;
  // The list is in timestamp order (each pod is stamped with the clock's time as it enters),
  // so the first pod still within the limit ends the scan.
  for (Entry* e = unschedulable_.front(); e != nullptr;) {
    if (now - e->info.timestamp <= options_.pod_max_in_unschedulable_pods) break;
    Entry* next = decltype(unschedulable_)::Next(e);
    Unlink(e);
    PushActiveOrBackoff(e);
    moved = true;
    e = next;
  }
  if (moved) move_request_cycle_ = scheduling_cycle_;
}

// ---- nominated pods

void SchedulingQueue::AddNominatedPod(const PodInfoPtr& pod,
                                      std::optional<std::string_view> node_name) {
  MutexLock lock(&mu_);
  NominateLocked(pod, node_name);
}

void SchedulingQueue::DeleteNominatedPod(std::string_view uid) {
  MutexLock lock(&mu_);
  UnnominateLocked(uid);
}

std::vector<PodInfoPtr> SchedulingQueue::NominatedPodsForNode(std::string_view node_name) const {
  ReaderMutexLock lock(&mu_);
  auto it = nominated_by_node_.find(Key(node_name));
  if (it == nominated_by_node_.end()) return {};
  return it->second;
}

StringMap<std::vector<PodInfoPtr>> SchedulingQueue::NominatedPodsByNode() const {
  ReaderMutexLock lock(&mu_);
  StringMap<std::vector<PodInfoPtr>> copy;
  copy.reserve(nominated_by_node_.size());
  for (const auto& [node, pods] : nominated_by_node_) copy.emplace(node, pods);
  return copy;
}

void SchedulingQueue::NominateLocked(const PodInfoPtr& pod,
                                     std::optional<std::string_view> node_name) {
  UnnominateLocked(pod->uid());
  const std::string_view node =
      node_name.has_value() ? *node_name : pod->pod().status().nominated_node_name();
  if (node.empty() || !pod->pod().spec().node_name().empty()) return;
  nominated_node_of_.emplace(pod->uid(), std::string(node));
  std::vector<PodInfoPtr>& pods = nominated_by_node_[Key(node)];
  auto after_higher_or_equal = std::find_if(pods.begin(), pods.end(), [&](const PodInfoPtr& p) {
    return p->priority() < pod->priority();
  });
  pods.insert(after_higher_or_equal, pod);
  num_nominated_.store(nominated_node_of_.size(), std::memory_order_release);
}

void SchedulingQueue::UnnominateLocked(std::string_view uid) {
  if (nominated_node_of_.empty()) return;  // the common case: skip hashing the uid
  auto it = nominated_node_of_.find(Key(uid));
  if (it == nominated_node_of_.end()) return;
  auto node = nominated_by_node_.find(it->second);
  if (node != nominated_by_node_.end()) {
    std::vector<PodInfoPtr>& pods = node->second;
    pods.erase(std::find_if(pods.begin(), pods.end(),
                            [&](const PodInfoPtr& p) { return p->uid() == uid; }));
    if (pods.empty()) nominated_by_node_.erase(node);
  }
  nominated_node_of_.erase(it);
  num_nominated_.store(nominated_node_of_.size(), std::memory_order_release);
}

// Kubernetes keeps a nomination the scheduler made when an update carries none in either
// version (the update raced with the scheduler's own write of nominatedNodeName).
void SchedulingQueue::UpdateNominationLocked(const api::v1::Pod& old_pod,
                                             const PodInfoPtr& new_pod) {
  std::optional<std::string> kept;
  if (old_pod.status().nominated_node_name().empty() &&
      new_pod->pod().status().nominated_node_name().empty()) {
    auto it = nominated_node_of_.find(old_pod.metadata().uid());
    if (it != nominated_node_of_.end()) kept = it->second;
  }
  UnnominateLocked(old_pod.metadata().uid());
  NominateLocked(new_pod, kept);
}

// ---- introspection

SchedulingQueue::Counts SchedulingQueue::counts() const {
  ReaderMutexLock lock(&mu_);
  return Counts{.active = active_.size(),
                .backoff = backoff_.size(),
                .unschedulable = unschedulable_.size(),
                .in_flight = in_flight_};
}

SchedulingQueue::Location SchedulingQueue::Locate(std::string_view uid) const {
  ReaderMutexLock lock(&mu_);
  const Entry* e = Find(uid);
  if (e == nullptr) return Location::kAbsent;
  switch (e->where) {
    case Where::kActive: return Location::kActive;
    case Where::kBackoff: return Location::kBackoff;
    case Where::kUnschedulable: return Location::kUnschedulable;
    case Where::kInFlight: return e->deleted_in_flight ? Location::kAbsent : Location::kInFlight;
  }
  return Location::kAbsent;
}

std::vector<PodInfoPtr> SchedulingQueue::PendingPods() const {
  ReaderMutexLock lock(&mu_);
  std::vector<PodInfoPtr> pods;
  pods.reserve(active_.size() + backoff_.size() + unschedulable_.size());
  for (const HeapItem& item : active_.items()) pods.push_back(item.entry->info.pod);
  for (const HeapItem& item : backoff_.items()) pods.push_back(item.entry->info.pod);
  for (const Entry* e = unschedulable_.front(); e != nullptr;
       e = decltype(unschedulable_)::Next(e)) {
    pods.push_back(e->info.pod);
  }
  return pods;
}

}  // namespace orch::scheduler
