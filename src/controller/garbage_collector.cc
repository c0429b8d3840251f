#include "orch/controller/garbage_collector.h"

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/memory/memory.h"
#include "controller/registrations.h"
#include "fmt/format.h"
#include "google/protobuf/util/message_differencer.h"
#include "orch/api/scheme.h"
#include "orch/base/mutex.h"
#include "orch/base/status.h"
#include "orch/base/string_map.h"
#include "orch/client/retry.h"
#include "orch/controller/ownership.h"
#include "orch/controller/work_queue.h"

namespace orch::controller {

namespace {

using ::google::protobuf::Message;
using ::orch::api::v1::ObjectMeta;
using ::orch::api::v1::OwnerReference;

constexpr std::string_view kForeground = client::kForegroundDeletionFinalizer;
constexpr std::string_view kOrphan = client::kOrphanFinalizer;

bool HasFinalizer(const ObjectMeta& meta, std::string_view finalizer) {
  for (const std::string& f : meta.finalizers()) {
    if (f == finalizer) return true;
  }
  return false;
}

// Whether this change starts a deletion that waits for `finalizer` (graph_builder's
// deletionStartsWithFinalizer): the object is being deleted and holds the finalizer now,
// and did not both before. `old_meta` is null for an object new to the graph.
bool DeletionStartsWith(const ObjectMeta* old_meta, const ObjectMeta& meta,
                        std::string_view finalizer) {
  if (!meta.has_deletion_timestamp() || !HasFinalizer(meta, finalizer)) return false;
  return old_meta == nullptr || !old_meta->has_deletion_timestamp() ||
         !HasFinalizer(*old_meta, finalizer);
}

bool Blocks(const OwnerReference& ref) {
  return ref.has_block_owner_deletion() && ref.block_owner_deletion();
}

// "apps" for "apps/v1", "" for "v1".
std::string_view GroupOf(std::string_view api_version) {
  const size_t slash = api_version.find('/');
  return slash == std::string_view::npos ? std::string_view() : api_version.substr(0, slash);
}

std::string GroupKindKey(std::string_view group, std::string_view kind) {
  return fmt::format("{}/{}", group, kind);
}

// Where an object is: its kind (nullptr for a reference to a kind the Scheme lacks),
// coordinates and uid.
struct Identity {
  const api::Kind* kind = nullptr;
  std::string api_version;
  std::string kind_name;
  std::string name;
  std::string namespace_;  // "" for cluster-scoped kinds
  std::string uid;

  // Whether a live read can find it.
  bool Locatable() const { return kind != nullptr && !(kind->namespaced && namespace_.empty()); }

  bool SameObject(const Identity& other) const {
    return uid == other.uid && GroupOf(api_version) == GroupOf(other.api_version) &&
           kind_name == other.kind_name && name == other.name && namespace_ == other.namespace_;
  }

  std::string ToString() const {
    return namespace_.empty() ? fmt::format("{} {}", kind_name, name)
                              : fmt::format("{} {}/{}", kind_name, namespace_, name);
  }
};

struct Node {
  Identity id;
  bool observed = false;             // false: a virtual owner, known only from references
  bool being_deleted = false;        // deletionTimestamp set
  bool deleting_dependents = false;  // ... and the foregroundDeletion finalizer held
  std::vector<OwnerReference> owners;
};

// A node as a worker needs it, copied out of the graph.
struct NodeView {
  Identity id;
  bool observed = false;
  bool being_deleted = false;
  bool deleting_dependents = false;
  bool has_dependents = false;
  bool dependent_deleting_dependents = false;
};

// Keys to queue once the graph lock is released.
struct Pending {
  std::vector<std::string> deletes;
  std::vector<std::string> orphans;
};

// How one owner reference of a dependent stands (garbagecollector's classifyReferences).
enum class OwnerState {
  kExists,     // solid
  kAbsent,     // dangling: not found, or the name belongs to another uid
  kWaiting,    // exists, being deleted in Foreground: waiting for its dependents
  kUncheckable,  // its kind is unknown or it cannot be located: treated as solid
};

}  // namespace

class GarbageCollector::Impl {
 public:
  explicit Impl(GarbageCollectorOptions options)
      : client_(options.client),
        informers_(options.informers),
        delete_queue_(options.executor, [this](const std::string& uid) { ProcessDelete(uid); },
                      {.max_concurrent = options.workers, .rate_limiter = nullptr}),
        orphan_queue_(options.executor, [this](const std::string& uid) { ProcessOrphan(uid); },
                      {.max_concurrent = options.workers, .rate_limiter = nullptr}) {
    const StringSet ignored(options.ignored_resources.begin(), options.ignored_resources.end());
    for (const api::Kind* kind : client_->scheme()->kinds()) {
      by_group_kind_.emplace(GroupKindKey(kind->group, kind->kind), kind);
      if (!ignored.contains(kind->plural)) watched_.push_back(kind);
    }
  }

  ~Impl() { Stop(); }

  absl::Status Start() {
    {
      MutexLock lock(&mu_);
      if (stopped_) return absl::FailedPreconditionError("the garbage collector was stopped");
      if (started_) return absl::OkStatus();
    }
    std::vector<client::Informer<Message>> informers;
    for (const api::Kind* kind : watched_) {
      ORCH_ASSIGN_OR_RETURN(client::Informer<Message> informer,
                            informers_->InformerForType(*kind->prototype->GetDescriptor()));
      informers.push_back(std::move(informer));
    }
    {
      MutexLock lock(&mu_);
      if (stopped_) return absl::FailedPreconditionError("the garbage collector was stopped");
      if (started_) return absl::OkStatus();
      started_ = true;
      unsynced_ = static_cast<int>(watched_.size());
    }
    if (watched_.empty()) StartQueues();
    for (size_t i = 0; i < watched_.size(); ++i) {
      const client::HandlerId id = informers[i].AddEventHandler(HandlerFor(watched_[i]));
      registrations_.Add(informers[i], id);
    }
    informers_->Start();
    return absl::OkStatus();
  }

  void Stop() {
    {
      MutexLock lock(&mu_);
      stopped_ = true;
    }
    registrations_.RemoveAll();
    delete_queue_.ShutDown();
    orphan_queue_.ShutDown();
  }

  bool HasSynced() const {
    MutexLock lock(&mu_);
    return synced_;
  }

  Stats stats() const {
    MutexLock lock(&mu_);
    Stats stats = stats_;
    stats.nodes = static_cast<int64_t>(nodes_.size());
    stats.virtual_nodes = 0;
    for (const auto& [uid, node] : nodes_) {
      if (!node->observed) ++stats.virtual_nodes;
    }
    return stats;
  }

 private:
  // ---------------------------------------------------------------- the graph

  client::EventHandler<Message> HandlerFor(const api::Kind* kind) {
    using Ptr = std::shared_ptr<const Message>;
    return {
        .on_add = [this, kind](const Ptr& obj) { OnUpsert(*kind, nullptr, *obj); },
        .on_update = [this, kind](const Ptr& old_obj,
                                  const Ptr& obj) { OnUpsert(*kind, old_obj.get(), *obj); },
        .on_delete = [this](const Ptr& obj) { OnDelete(*obj); },
        .on_synced = [this] { OnSynced(); },
    };
  }

  void OnSynced() {
    {
      MutexLock lock(&mu_);
      if (--unsynced_ > 0 || stopped_) return;
    }
    StartQueues();
  }

  void StartQueues() {
    {
      MutexLock lock(&mu_);
      synced_ = true;
    }
    delete_queue_.Start();
    orphan_queue_.Start();
  }

  const api::Kind* FindKind(std::string_view api_version, std::string_view kind) const {
    auto it = by_group_kind_.find(GroupKindKey(GroupOf(api_version), kind));
    return it == by_group_kind_.end() ? nullptr : it->second;
  }

  static Identity IdentityOf(const api::Kind& kind, const ObjectMeta& meta) {
    return {&kind,        kind.api_version(),
            kind.kind,    meta.name(),
            kind.namespaced ? meta.namespace_() : std::string(), meta.uid()};
  }

  // The owner a reference names, as seen from a dependent in namespace `dependent_ns`.
  Identity IdentityOf(const OwnerReference& ref, const std::string& dependent_ns) const {
    const api::Kind* kind = FindKind(ref.api_version(), ref.kind());
    const bool namespaced = kind == nullptr || kind->namespaced;
    return {kind,       ref.api_version(), ref.kind(),
            ref.name(), namespaced ? dependent_ns : std::string(), ref.uid()};
  }

  void Flush(const Pending& pending) {
    for (const std::string& uid : pending.deletes) delete_queue_.Add(uid);
    for (const std::string& uid : pending.orphans) orphan_queue_.Add(uid);
  }

  // An object was added or changed (graph_builder's processGraphChanges, add/update).
  void OnUpsert(const api::Kind& kind, const Message* old_obj, const Message& obj) {
    const ObjectMeta* meta = api::ObjectMetaOf(obj);
    if (meta == nullptr || meta->uid().empty()) return;
    const ObjectMeta* old_meta = old_obj == nullptr ? nullptr : api::ObjectMetaOf(*old_obj);
    const std::string& uid = meta->uid();
    Identity observed = IdentityOf(kind, *meta);
    Pending pending;
    {
      MutexLock lock(&mu_);
      auto [it, inserted] = nodes_.try_emplace(uid);
      if (inserted) {
        it->second = std::make_unique<Node>();
        old_meta = nullptr;  // new to the graph: any deletion in progress is news
      }
      Node& node = *it->second;
      if (!inserted && !node.observed && !node.id.SameObject(observed)) {
        // A virtual owner turned out to live elsewhere than the references that made it
        // say: let its dependents check theirs.
        EnqueueDependentsLocked(uid, pending);
      }
      node.id = std::move(observed);
      node.observed = true;
      UpdateOwnersLocked(node, *meta, pending);
      node.being_deleted = meta->has_deletion_timestamp();
      node.deleting_dependents = node.being_deleted && HasFinalizer(*meta, kForeground);
      if (DeletionStartsWith(old_meta, *meta, kOrphan)) {
        pending.orphans.push_back(uid);
      } else if (DeletionStartsWith(old_meta, *meta, kForeground)) {
        EnqueueDependentsLocked(uid, pending);
        pending.deletes.push_back(uid);
      }
    }
    Flush(pending);
  }

  // Applies the object's current owner references to the graph.
  void UpdateOwnersLocked(Node& node, const ObjectMeta& meta, Pending& pending)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    StringMap<const OwnerReference*> before;
    for (const OwnerReference& ref : node.owners) before[ref.uid()] = &ref;
    std::vector<const OwnerReference*> added;
    for (const OwnerReference& ref : meta.owner_references()) {
      auto it = before.find(ref.uid());
      if (it == before.end()) {
        added.push_back(&ref);
        continue;
      }
      // An owner waiting for this dependent may be free to go once the reference stops
      // blocking it.
      if (Blocks(*it->second) && !Blocks(ref)) EnqueueIfPresentLocked(ref.uid(), pending);
      before.erase(it);
    }
    std::vector<std::string> removed;
    for (const auto& [owner_uid, ref] : before) {
      if (Blocks(*ref)) EnqueueIfPresentLocked(owner_uid, pending);
      removed.push_back(owner_uid);
    }
    for (const std::string& owner_uid : removed) RemoveDependentLocked(owner_uid, node.id.uid);
    node.owners.assign(meta.owner_references().begin(), meta.owner_references().end());
    for (const OwnerReference* ref : added) AddDependentLocked(*ref, node, pending);
  }

  void AddDependentLocked(const OwnerReference& ref, const Node& dependent, Pending& pending)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    dependents_[ref.uid()].insert(dependent.id.uid);
    auto it = nodes_.find(ref.uid());
    if (it == nodes_.end()) {
      // Never seen: a virtual owner, queued so a live read settles whether it exists.
      auto owner = std::make_unique<Node>();
      owner->id = IdentityOf(ref, dependent.id.namespace_);
      nodes_.emplace(ref.uid(), std::move(owner));
      pending.deletes.push_back(ref.uid());
      return;
    }
    const Node& owner = *it->second;
    if (owner.deleting_dependents) {
      pending.deletes.push_back(dependent.id.uid);  // a late dependent of a Foreground delete
    } else if (owner.observed && !Refers(ref, dependent.id.namespace_, owner.id)) {
      pending.deletes.push_back(dependent.id.uid);  // the uid is taken elsewhere: check
    }
  }

  // Whether `ref`, held by an object in `dependent_ns`, names `owner` exactly.
  static bool Refers(const OwnerReference& ref, const std::string& dependent_ns,
                     const Identity& owner) {
    if (GroupOf(ref.api_version()) != GroupOf(owner.api_version) || ref.kind() != owner.kind_name ||
        ref.name() != owner.name) {
      return false;
    }
    return owner.namespace_.empty() || owner.namespace_ == dependent_ns;
  }

  void RemoveDependentLocked(const std::string& owner_uid, const std::string& dependent_uid)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = dependents_.find(owner_uid);
    if (it == dependents_.end()) return;
    it->second.erase(dependent_uid);
    if (!it->second.empty()) return;
    dependents_.erase(it);
    auto owner = nodes_.find(owner_uid);
    // A virtual owner nobody refers to any more has nothing left to settle.
    if (owner != nodes_.end() && !owner->second->observed) nodes_.erase(owner);
  }

  void EnqueueIfPresentLocked(const std::string& uid, Pending& pending)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (nodes_.contains(uid)) pending.deletes.push_back(uid);
  }

  void EnqueueDependentsLocked(const std::string& uid, Pending& pending)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = dependents_.find(uid);
    if (it == dependents_.end()) return;
    for (const std::string& dependent : it->second) pending.deletes.push_back(dependent);
  }

  // An object was deleted.
  void OnDelete(const Message& obj) {
    const ObjectMeta* meta = api::ObjectMetaOf(obj);
    if (meta == nullptr) return;
    Pending pending;
    {
      MutexLock lock(&mu_);
      if (nodes_.contains(meta->uid())) RemoveNodeLocked(meta->uid(), pending);
    }
    Flush(pending);
  }

  // Takes a gone object out of the graph; its dependents, and its owners that wait for
  // their dependents, are looked at again.
  void RemoveNodeLocked(const std::string& uid, Pending& pending)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = nodes_.find(uid);
    std::unique_ptr<Node> node = std::move(it->second);
    nodes_.erase(it);
    EnqueueDependentsLocked(uid, pending);
    for (const OwnerReference& ref : node->owners) {
      auto owner = nodes_.find(ref.uid());
      if (owner != nodes_.end() && owner->second->deleting_dependents) {
        pending.deletes.push_back(ref.uid());
      }
      RemoveDependentLocked(ref.uid(), uid);
    }
  }

  // A live read found no object `id` (graph_builder's virtual delete event).
  void Absent(const Identity& id) {
    Pending pending;
    {
      MutexLock lock(&mu_);
      auto it = nodes_.find(id.uid);
      if (it == nodes_.end()) return;
      if (it->second->id.SameObject(id)) {
        RemoveNodeLocked(id.uid, pending);
      } else {
        // The graph knows the uid under other coordinates: only the references that used
        // these are in doubt.
        EnqueueDependentsLocked(id.uid, pending);
      }
    }
    Flush(pending);
  }

  std::optional<NodeView> ViewOf(const std::string& uid) const {
    MutexLock lock(&mu_);
    auto it = nodes_.find(uid);
    if (it == nodes_.end()) return std::nullopt;
    const Node& node = *it->second;
    NodeView view{node.id, node.observed, node.being_deleted, node.deleting_dependents};
    if (auto deps = dependents_.find(uid); deps != dependents_.end()) {
      for (const std::string& dependent : deps->second) {
        auto d = nodes_.find(dependent);
        if (d == nodes_.end()) continue;
        view.has_dependents = true;
        view.dependent_deleting_dependents |= d->second->deleting_dependents;
      }
    }
    return view;
  }

  // Whether `uid` is a virtual owner that exists and that an informer should deliver soon
  // (Kubernetes #56121: look at it again until it does).
  bool AwaitingObservation(const std::string& uid) const {
    MutexLock lock(&mu_);
    auto it = nodes_.find(uid);
    if (it == nodes_.end() || it->second->observed || !it->second->id.Locatable()) return false;
    for (const api::Kind* kind : watched_) {
      if (kind == it->second->id.kind) return true;
    }
    return false;
  }

  void RecordError(const Identity& id, const absl::Status& status) {
    MutexLock lock(&mu_);
    ++stats_.errors;
    stats_.last_error = fmt::format("{}: {}", id.ToString(), std::string(status.message()));
  }

  template <typename F>
  void Count(F f) {
    MutexLock lock(&mu_);
    f(stats_);
  }

  // ---------------------------------------------------------------- attempts

  void ProcessDelete(const std::string& uid) {
    Identity id;
    const absl::Status status = client::RetryOnConflict(
        client::kDefaultRetry,
        [&]() -> absl::Status {
          std::optional<NodeView> node = ViewOf(uid);
          if (!node.has_value()) return absl::OkStatus();  // gone from the graph: done
          id = node->id;
          return AttemptToDelete(*node);
        },
        client::Sleeper::None());
    if (!status.ok()) {
      RecordError(id, status);
      delete_queue_.AddRateLimited(uid);
      return;
    }
    if (AwaitingObservation(uid)) {
      delete_queue_.AddRateLimited(uid);
      return;
    }
    delete_queue_.Forget(uid);
  }

  // garbagecollector's attemptToDeleteItem. kAborted asks the caller to decide again.
  absl::Status AttemptToDelete(const NodeView& item) {
    // A deletion under way ends in a delete event, which brings the next step.
    if (item.being_deleted && !item.deleting_dependents) return absl::OkStatus();
    if (!item.id.Locatable()) return absl::OkStatus();
    ORCH_ASSIGN_OR_RETURN(std::unique_ptr<Message> latest, Read(item.id));
    if (latest == nullptr) {
      Absent(item.id);
      return absl::OkStatus();
    }
    const ObjectMeta& meta = *api::ObjectMetaOf(*latest);
    const bool waiting = meta.has_deletion_timestamp() && HasFinalizer(meta, kForeground);
    if (item.deleting_dependents || waiting) return ProcessDeletingDependents(item);
    if (meta.has_deletion_timestamp()) return absl::OkStatus();
    if (meta.owner_references().empty()) return absl::OkStatus();

    StringSet solid, dangling, waiting_owners;
    for (const OwnerReference& ref : meta.owner_references()) {
      ORCH_ASSIGN_OR_RETURN(OwnerState state, Resolve(ref, item.id));
      switch (state) {
        case OwnerState::kExists:
        case OwnerState::kUncheckable:
          solid.insert(ref.uid());
          break;
        case OwnerState::kAbsent:
          dangling.insert(ref.uid());
          break;
        case OwnerState::kWaiting:
          waiting_owners.insert(ref.uid());
          break;
      }
    }
    if (!solid.empty()) {
      if (dangling.empty() && waiting_owners.empty()) return absl::OkStatus();
      // Kept by an owner. References to owners waiting in Foreground go too, or those
      // owners would wait for this object forever.
      dangling.insert(waiting_owners.begin(), waiting_owners.end());
      ORCH_ASSIGN_OR_RETURN(bool changed, RemoveOwnerReferences(item.id, dangling));
      if (changed) Count([](Stats& s) { ++s.references_removed; });
      return absl::OkStatus();
    }
    client::PropagationPolicy policy = client::PropagationPolicy::kBackground;
    if (!waiting_owners.empty() && item.has_dependents) {
      // Its owner waits for it, and it has dependents: delete it in Foreground so the
      // wait reaches down the chain. A dependent of it also in Foreground may be waiting
      // on it in a cycle: this object's references stop blocking first.
      if (item.dependent_deleting_dependents) {
        ORCH_ASSIGN_OR_RETURN(bool changed, UnblockOwnerReferences(item.id));
        if (changed) return absl::AbortedError("owner references unblocked; decide again");
      }
      policy = client::PropagationPolicy::kForeground;
    } else if (HasFinalizer(meta, kOrphan)) {
      policy = client::PropagationPolicy::kOrphan;
    } else if (HasFinalizer(meta, kForeground)) {
      policy = client::PropagationPolicy::kForeground;
    }
    return Delete(item.id, meta.resource_version(), policy);
  }

  // An owner being deleted in Foreground: done waiting when no blocking dependent is left.
  absl::Status ProcessDeletingDependents(const NodeView& item) {
    std::vector<std::string> blocking;  // to look at again
    bool blocked = false;
    {
      MutexLock lock(&mu_);
      if (auto deps = dependents_.find(item.id.uid); deps != dependents_.end()) {
        for (const std::string& uid : deps->second) {
          auto it = nodes_.find(uid);
          if (it == nodes_.end()) continue;
          for (const OwnerReference& ref : it->second->owners) {
            if (ref.uid() != item.id.uid || !Blocks(ref)) continue;
            blocked = true;
            if (!it->second->deleting_dependents) blocking.push_back(uid);
            break;
          }
        }
      }
    }
    if (blocked) {
      for (const std::string& uid : blocking) delete_queue_.Add(uid);
      return absl::OkStatus();
    }
    ORCH_ASSIGN_OR_RETURN(bool removed, RemoveObjectFinalizer(item.id, kForeground));
    if (removed) Count([](Stats& s) { ++s.finalizers_removed; });
    return absl::OkStatus();
  }

  // garbagecollector's attemptToOrphanWorker: every dependent loses its reference to the
  // owner, then the owner its orphan finalizer.
  void ProcessOrphan(const std::string& uid) {
    Identity owner;
    std::vector<Identity> dependents;
    {
      MutexLock lock(&mu_);
      auto it = nodes_.find(uid);
      if (it == nodes_.end()) {
        orphan_queue_.Forget(uid);
        return;
      }
      owner = it->second->id;
      if (auto deps = dependents_.find(uid); deps != dependents_.end()) {
        for (const std::string& dependent : deps->second) {
          if (auto d = nodes_.find(dependent); d != nodes_.end()) dependents.push_back(d->second->id);
        }
      }
    }
    absl::Status status = absl::OkStatus();
    for (const Identity& dependent : dependents) {
      absl::StatusOr<bool> changed = RemoveOwnerReferences(dependent, StringSet{uid});
      if (!changed.ok()) {
        status.Update(Annotate(changed.status(), fmt::format("orphaning {}", dependent.ToString())));
      } else if (*changed) {
        Count([](Stats& s) { ++s.orphaned; });
      }
    }
    if (status.ok() && owner.Locatable()) {
      absl::StatusOr<bool> removed = RemoveObjectFinalizer(owner, kOrphan);
      if (removed.ok() && *removed) Count([](Stats& s) { ++s.finalizers_removed; });
      status = removed.status();
    }
    if (!status.ok()) {
      RecordError(owner, status);
      orphan_queue_.AddRateLimited(uid);
      return;
    }
    orphan_queue_.Forget(uid);
  }

  // ---------------------------------------------------------------- live reads and writes

  std::string_view NamespaceOf(const Identity& id) const {
    return id.kind->namespaced ? std::string_view(id.namespace_) : std::string_view();
  }

  // The object `id` names, or nullptr when it is gone (not found, or its name now belongs
  // to another uid). REQUIRES: id.Locatable().
  absl::StatusOr<std::unique_ptr<Message>> Read(const Identity& id) {
    std::unique_ptr<Message> obj(id.kind->prototype->New());
    const absl::Status status = client_->GetObject(NamespaceOf(id), id.name, obj.get());
    if (absl::IsNotFound(status)) return nullptr;
    ORCH_RETURN_IF_ERROR(status);
    const ObjectMeta* meta = api::ObjectMetaOf(*obj);
    if (meta == nullptr) {
      return absl::InvalidArgumentError(
          fmt::format("{} has no metadata", obj->GetDescriptor()->full_name()));
    }
    if (meta->uid() != id.uid) return nullptr;
    return obj;
  }

  // garbagecollector's isDangling plus the Foreground check of classifyReferences.
  absl::StatusOr<OwnerState> Resolve(const OwnerReference& ref, const Identity& dependent) {
    const Identity owner = IdentityOf(ref, dependent.namespace_);
    if (!owner.Locatable()) return OwnerState::kUncheckable;
    ORCH_ASSIGN_OR_RETURN(std::unique_ptr<Message> obj, Read(owner));
    if (obj == nullptr) return OwnerState::kAbsent;
    const ObjectMeta& meta = *api::ObjectMetaOf(*obj);
    if (meta.has_deletion_timestamp() && HasFinalizer(meta, kForeground)) {
      return OwnerState::kWaiting;
    }
    return OwnerState::kExists;
  }

  absl::Status Delete(const Identity& id, const std::string& resource_version,
                      client::PropagationPolicy policy) {
    client::DeleteOptions options;
    options.propagation_policy = policy;
    options.preconditions.uid = id.uid;
    options.preconditions.resource_version = resource_version;
    const absl::Status status =
        client_->DeleteObject(*id.kind->prototype->GetDescriptor(), NamespaceOf(id), id.name, options);
    if (status.ok()) {
      Count([](Stats& s) { ++s.deleted; });
      return status;
    }
    // Gone, or replaced by an object of the same name (the uid precondition): never ours.
    if (absl::IsNotFound(status) || absl::IsFailedPrecondition(status)) {
      Absent(id);
      return absl::OkStatus();
    }
    return status;  // kAborted: it changed since it was read; decide again
  }

  // Read-modify-write of object `id`, retried on conflict. `edit` changes the object and
  // says whether it did. Returns whether a change was written; false when the object is
  // gone or `edit` had nothing to do.
  template <typename Edit>
  absl::StatusOr<bool> Modify(const Identity& id, Edit edit) {
    if (!id.Locatable()) return false;
    bool written = false;
    const absl::Status status = client::RetryOnConflict(
        client::kDefaultRetry,
        [&]() -> absl::Status {
          written = false;
          ORCH_ASSIGN_OR_RETURN(std::unique_ptr<Message> obj, Read(id));
          if (obj == nullptr) return absl::OkStatus();
          ORCH_ASSIGN_OR_RETURN(bool changed, edit(*obj));
          if (!changed) return absl::OkStatus();
          const absl::Status updated = client_->UpdateObject(obj.get());
          if (absl::IsNotFound(updated)) return absl::OkStatus();
          written = updated.ok();
          return updated;
        },
        client::Sleeper::None());
    ORCH_RETURN_IF_ERROR(status);
    return written;
  }

  absl::StatusOr<bool> RemoveOwnerReferences(const Identity& id, const StringSet& owner_uids) {
    return Modify(id, [&](Message& obj) -> absl::StatusOr<bool> {
      auto* refs = api::MutableObjectMetaOf(&obj)->mutable_owner_references();
      google::protobuf::RepeatedPtrField<OwnerReference> kept;
      for (const OwnerReference& ref : *refs) {
        if (!owner_uids.contains(ref.uid())) *kept.Add() = ref;
      }
      if (kept.size() == refs->size()) return false;
      refs->Swap(&kept);
      return true;
    });
  }

  absl::StatusOr<bool> UnblockOwnerReferences(const Identity& id) {
    return Modify(id, [](Message& obj) -> absl::StatusOr<bool> {
      bool changed = false;
      for (OwnerReference& ref : *api::MutableObjectMetaOf(&obj)->mutable_owner_references()) {
        if (!Blocks(ref)) continue;
        ref.set_block_owner_deletion(false);
        changed = true;
      }
      return changed;
    });
  }

  absl::StatusOr<bool> RemoveObjectFinalizer(const Identity& id, std::string_view finalizer) {
    return Modify(id, [finalizer](Message& obj) { return RemoveFinalizer(obj, finalizer); });
  }

  client::Client* const client_;
  client::SharedInformerFactory* const informers_;
  StringMap<const api::Kind*> by_group_kind_;  // "apps/ReplicaSet": every kind of the Scheme
  std::vector<const api::Kind*> watched_;

  mutable Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  bool synced_ ABSL_GUARDED_BY(mu_) = false;
  int unsynced_ ABSL_GUARDED_BY(mu_) = 0;
  controller::internal::HandlerRegistrations registrations_;
  // The graph: every object seen, and virtual owners, by uid.
  StringMap<std::unique_ptr<Node>> nodes_ ABSL_GUARDED_BY(mu_);
  // owner uid -> uids of the objects referring to it (whether or not the owner is in
  // nodes_), kept from the dependents' owner references.
  StringMap<StringSet> dependents_ ABSL_GUARDED_BY(mu_);
  Stats stats_ ABSL_GUARDED_BY(mu_);

  // Last, so they shut down first: their tasks use everything above.
  WorkQueue delete_queue_;
  WorkQueue orphan_queue_;
};

GarbageCollector::GarbageCollector(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

GarbageCollector::~GarbageCollector() { impl_->Stop(); }

absl::StatusOr<std::unique_ptr<GarbageCollector>> GarbageCollector::Create(
    GarbageCollectorOptions options) {
  if (options.client == nullptr || options.informers == nullptr || options.executor == nullptr) {
    return absl::InvalidArgumentError(
        "GarbageCollectorOptions: client, informers and executor are required");
  }
  return absl::WrapUnique(new GarbageCollector(std::make_unique<Impl>(std::move(options))));
}

absl::Status GarbageCollector::Start() { return impl_->Start(); }
void GarbageCollector::Stop() { impl_->Stop(); }
bool GarbageCollector::HasSynced() const { return impl_->HasSynced(); }
GarbageCollector::Stats GarbageCollector::stats() const { return impl_->stats(); }

}  // namespace orch::controller
