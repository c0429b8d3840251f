#include "orch/client/informer.h"

#include <algorithm>
#include <thread>
#include <utility>

#include "absl/container/btree_map.h"
#include "absl/container/inlined_vector.h"
#include "client/object.h"
#include "fmt/format.h"
#include "orch/store/keys.h"

namespace orch::client {

namespace internal {
namespace {

using google::protobuf::Message;

// One informer: the cache, its indexes, the handlers, and the list/watch loop.
//
// Concurrency. Everything that talks to the Store or calls handlers runs on a "strand":
// at most one RunStrand task of this informer is queued or running at a time (scheduled_),
// and a Schedule() that arrives while one runs marks it dirty_ so it runs again. The
// cache, indexes and handler list are guarded by mu_; handlers are called without mu_.
// `watcher_` and `relist_failures_` belong to the strand.
class InformerImpl final : public InformerCore,
                           public std::enable_shared_from_this<InformerImpl> {
 public:
  InformerImpl(store::Store* store, const api::Kind* kind, Executor* executor,
               const InformerOptions& options)
      : store_(store),
        kind_(kind),
        executor_(executor),
        options_(options),
        prefix_(store::ResourcePrefix(kind->plural)) {}

  ~InformerImpl() override { Stop(); }

  void Start() override;
  void Stop() override;
  HandlerId AddEventHandler(UntypedHandler handler) override;
  void RemoveEventHandler(HandlerId id) override;
  absl::Status AddIndexer(std::string name, UntypedIndexFunc index) override;
  absl::StatusOr<ObjectPtr> Get(std::string_view ns, std::string_view name) const override;
  std::vector<ObjectPtr> List(std::optional<std::string_view> ns,
                              const api::LabelSelector& selector) const override;
  absl::StatusOr<std::vector<ObjectPtr>> ByIndex(std::string_view index,
                                                 std::string_view value) const override;
  bool HasSynced() const override;
  bool WaitForSync(absl::Duration timeout) const override;
  std::string LastSyncResourceVersion() const override;

 private:
  struct Handler {
    HandlerId id = 0;
    UntypedHandler fns;
    bool installed = false;  // receives events (after its synthetic adds)
    bool synced = false;     // on_synced called
    bool removed = false;
  };
  // An index holds the objects themselves, by value and then by key: a lookup copies
  // pointers, and an update that keeps an object's values only swaps them.
  struct Index {
    UntypedIndexFunc fn;
    absl::flat_hash_map<std::string, absl::btree_map<std::string, ObjectPtr>> by_value;

    void Add(const std::string& key, const ObjectPtr& obj, std::vector<std::string> values) {
      for (std::string& value : values) by_value[std::move(value)].insert_or_assign(key, obj);
    }
    void Remove(const std::string& key, const std::vector<std::string>& values) {
      for (const std::string& value : values) {
        auto it = by_value.find(value);
        if (it == by_value.end()) continue;
        it->second.erase(key);
        if (it->second.empty()) by_value.erase(it);
      }
    }
  };
  enum class Change { kAdd, kUpdate, kDelete, kSynced };

  // Strand.
  void Schedule();
  void RunStrand();
  bool Step();
  void InstallNewHandlers();
  bool Relist();
  bool Watch(int64_t revision);
  bool PollWatch();
  void ApplyEvent(const store::Event& event);
  void OnWatchFailed(const absl::Status& status);
  void RelistLater();
  void Apply(Change change, const std::string& key, ObjectPtr old_obj, ObjectPtr new_obj);
  // Caches `obj` under `key` (and indexes it); returns the object it replaces, if any.
  ObjectPtr Put(const std::string& key, const ObjectPtr& obj);
  void Deliver(Change change, const ObjectPtr& old_obj, const ObjectPtr& new_obj);
  void Call(const std::shared_ptr<Handler>& handler, Change change, const ObjectPtr& old_obj,
            const ObjectPtr& new_obj);
  absl::StatusOr<ObjectPtr> DecodeObject(const store::KeyValue& kv, int64_t revision) const;
  std::string KeyOf(std::string_view store_key) const;

  // Cache.
  // The indexes after `key` changed from `old_obj` (nullptr: new) to `new_obj` (nullptr:
  // deleted).
  void Reindex(const std::string& key, const Message* old_obj, const ObjectPtr& new_obj)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string NormalizedNamespace(std::string_view ns) const;

  store::Store* const store_;
  const api::Kind* const kind_;
  Executor* const executor_;
  const InformerOptions options_;
  const std::string prefix_;

  mutable Mutex mu_;
  absl::btree_map<std::string, ObjectPtr> objects_ ABSL_GUARDED_BY(mu_);  // by "ns/name"
  absl::flat_hash_map<std::string, Index> indexes_ ABSL_GUARDED_BY(mu_);
  bool synced_ ABSL_GUARDED_BY(mu_) = false;
  int64_t revision_ ABSL_GUARDED_BY(mu_) = 0;

  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  bool scheduled_ ABSL_GUARDED_BY(mu_) = false;
  bool dirty_ ABSL_GUARDED_BY(mu_) = false;
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  bool relist_needed_ ABSL_GUARDED_BY(mu_) = false;
  TimerId relist_timer_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread::id strand_thread_ ABSL_GUARDED_BY(mu_);

  std::vector<std::shared_ptr<Handler>> handlers_ ABSL_GUARDED_BY(mu_);
  HandlerId next_handler_id_ ABSL_GUARDED_BY(mu_) = 1;
  const Handler* calling_ ABSL_GUARDED_BY(mu_) = nullptr;  // handler running on the strand

  std::unique_ptr<store::Watcher> watcher_;  // strand
  int relist_failures_ = 0;                  // strand
};

// ---------------------------------------------------------------- lifecycle

void InformerImpl::Start() {
  {
    MutexLock lock(&mu_);
    if (started_ || stopped_) return;
    started_ = true;
    relist_needed_ = true;
  }
  Schedule();
}

void InformerImpl::Stop() {
  std::unique_ptr<store::Watcher> watcher;
  {
    MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
    if (relist_timer_ != 0) executor_->Cancel(relist_timer_);
    relist_timer_ = 0;
    // From inside a handler the strand is this thread: it drops the watcher on its way out.
    if (running_ && strand_thread_ == std::this_thread::get_id()) return;
    mu_.Await(absl::Condition(
        +[](bool* running) { return !*running; }, &running_));
    watcher = std::move(watcher_);
  }
  watcher.reset();  // outside mu_: the watcher may wait for its ready callback to finish
}

// ---------------------------------------------------------------- strand

void InformerImpl::Schedule() {
  {
    MutexLock lock(&mu_);
    if (!started_ || stopped_) return;
    dirty_ = true;
    if (scheduled_) return;
    scheduled_ = true;
  }
  executor_->Post([weak = weak_from_this()] {
    if (auto self = weak.lock()) self->RunStrand();
  });
}

void InformerImpl::RunStrand() {
  {
    MutexLock lock(&mu_);
    if (stopped_) {
      scheduled_ = false;
      return;
    }
    running_ = true;
    dirty_ = false;
    strand_thread_ = std::this_thread::get_id();
  }
  const bool more = Step();
  std::unique_ptr<store::Watcher> dropped;
  bool again = false;
  {
    MutexLock lock(&mu_);
    running_ = false;
    strand_thread_ = std::thread::id();
    if (stopped_) {
      dropped = std::move(watcher_);
      scheduled_ = false;
    } else if (more || dirty_) {
      dirty_ = false;
      again = true;  // scheduled_ stays set: this task re-posts itself
    } else {
      scheduled_ = false;
    }
  }
  if (again) {
    executor_->Post([weak = weak_from_this()] {
      if (auto self = weak.lock()) self->RunStrand();
    });
  }
}

// One unit of work; true when more is ready right away.
bool InformerImpl::Step() {
  InstallNewHandlers();
  bool relist;
  {
    MutexLock lock(&mu_);
    relist = std::exchange(relist_needed_, false);
  }
  if (relist) return Relist();
  if (watcher_ != nullptr) return PollWatch();
  return false;
}

void InformerImpl::InstallNewHandlers() {
  std::vector<std::shared_ptr<Handler>> fresh;
  std::vector<ObjectPtr> snapshot;
  {
    MutexLock lock(&mu_);
    for (const auto& handler : handlers_) {
      if (handler->installed || handler->removed) continue;
      handler->installed = true;
      fresh.push_back(handler);
    }
    if (fresh.empty() || !synced_) return;  // before the first list, the list delivers adds
    snapshot.reserve(objects_.size());
    for (const auto& [key, obj] : objects_) snapshot.push_back(obj);
  }
  for (const auto& handler : fresh) {
    for (const ObjectPtr& obj : snapshot) Call(handler, Change::kAdd, nullptr, obj);
    Call(handler, Change::kSynced, nullptr, nullptr);
  }
}

bool InformerImpl::Relist() {
  watcher_.reset();
  absl::btree_map<std::string, ObjectPtr> fresh;
  int64_t revision = 0;
  store::ListOptions list_options;
  list_options.limit = options_.list_page_size;
  do {
    absl::StatusOr<store::ListResult> page = store_->List(prefix_, list_options);
    if (!page.ok()) {
      RelistLater();
      return false;
    }
    if (revision == 0) revision = page->revision;
    for (const store::KeyValue& kv : page->items) {
      absl::StatusOr<ObjectPtr> obj = DecodeObject(kv, kv.mod_revision);
      if (obj.ok()) fresh.emplace(KeyOf(kv.key), *std::move(obj));  // corrupt values: skipped
    }
    list_options.continue_token = std::move(page->continue_token);
  } while (!list_options.continue_token.empty());

  // Deliver the difference against the cache, in key order.
  absl::btree_map<std::string, ObjectPtr> cached;
  {
    ReaderMutexLock lock(&mu_);
    cached = objects_;
  }
  auto old_it = cached.begin();
  auto new_it = fresh.begin();
  while (old_it != cached.end() || new_it != fresh.end()) {
    if (new_it == fresh.end() || (old_it != cached.end() && old_it->first < new_it->first)) {
      Apply(Change::kDelete, old_it->first, old_it->second, old_it->second);
      ++old_it;
    } else if (old_it == cached.end() || new_it->first < old_it->first) {
      Apply(Change::kAdd, new_it->first, nullptr, new_it->second);
      ++new_it;
    } else {
      if (Meta(*old_it->second)->resource_version() != Meta(*new_it->second)->resource_version()) {
        Apply(Change::kUpdate, new_it->first, old_it->second, new_it->second);
      }
      ++old_it;
      ++new_it;
    }
  }
  std::vector<std::shared_ptr<Handler>> first_synced;
  {
    MutexLock lock(&mu_);
    synced_ = true;
    revision_ = revision;
    for (const auto& handler : handlers_) {
      if (handler->installed && !handler->synced) first_synced.push_back(handler);
    }
  }
  for (const auto& handler : first_synced) Call(handler, Change::kSynced, nullptr, nullptr);
  return Watch(revision);
}

bool InformerImpl::Watch(int64_t revision) {
  store::WatchOptions watch_options;
  watch_options.from_revision = revision;
  absl::StatusOr<std::unique_ptr<store::Watcher>> watcher = store_->Watch(prefix_, watch_options);
  if (!watcher.ok()) {
    OnWatchFailed(watcher.status());
    return false;
  }
  watcher_ = *std::move(watcher);
  relist_failures_ = 0;
  watcher_->SetReadyCallback([weak = weak_from_this()] {
    if (auto self = weak.lock()) self->Schedule();
  });
  return true;  // poll at once: events may have arrived since the list
}

bool InformerImpl::PollWatch() {
  std::vector<store::EventPtr> events;
  const absl::Status status = watcher_->Poll(&events, options_.poll_batch);
  for (const store::EventPtr& event : events) ApplyEvent(*event);
  if (!status.ok()) {
    OnWatchFailed(status);
    return false;
  }
  {
    MutexLock lock(&mu_);
    revision_ = watcher_->revision();
  }
  return events.size() >= options_.poll_batch;
}

void InformerImpl::ApplyEvent(const store::Event& event) {
  const std::string key = KeyOf(event.kv.key);
  if (event.type == store::Event::Type::kPut) {
    absl::StatusOr<ObjectPtr> obj = DecodeObject(event.kv, event.kv.mod_revision);
    if (!obj.ok()) return;  // a corrupt value: nothing a handler could use
    const ObjectPtr cached = Put(key, *obj);
    Deliver(cached ? Change::kUpdate : Change::kAdd, cached, *obj);
    return;
  }
  ObjectPtr cached;
  {
    ReaderMutexLock lock(&mu_);
    if (auto it = objects_.find(key); it != objects_.end()) cached = it->second;
  }
  if (cached == nullptr) return;  // never seen: nothing to delete
  ObjectPtr final_state = cached;
  if (event.prev_kv.has_value()) {
    // The last state, stamped with the revision of the deletion (as Kubernetes' watch).
    absl::StatusOr<ObjectPtr> prev = DecodeObject(*event.prev_kv, event.kv.mod_revision);
    if (prev.ok()) final_state = *std::move(prev);
  }
  Apply(Change::kDelete, key, cached, final_state);
}

void InformerImpl::OnWatchFailed(const absl::Status& status) {
  watcher_.reset();
  switch (status.code()) {
    case absl::StatusCode::kOutOfRange: {  // history compacted: list again at once
      MutexLock lock(&mu_);
      relist_needed_ = true;
      dirty_ = true;
      return;
    }
    case absl::StatusCode::kCancelled:  // the store was closed: nothing more will come
      return;
    default:
      RelistLater();
  }
}

void InformerImpl::RelistLater() {
  const absl::Duration delay = options_.relist_backoff.Delay(relist_failures_++);
  MutexLock lock(&mu_);
  if (stopped_) return;
  relist_timer_ = executor_->PostAfter(delay, [weak = weak_from_this()] {
    auto self = weak.lock();
    if (self == nullptr) return;
    {
      MutexLock lock(&self->mu_);
      self->relist_timer_ = 0;
      self->relist_needed_ = true;
    }
    self->Schedule();
  });
}

// Updates the cache (and indexes), then tells the handlers.
void InformerImpl::Apply(Change change, const std::string& key, ObjectPtr old_obj,
                         ObjectPtr new_obj) {
  if (change == Change::kDelete) {
    MutexLock lock(&mu_);
    objects_.erase(key);
    Reindex(key, old_obj.get(), nullptr);
  } else {
    Put(key, new_obj);
  }
  Deliver(change, old_obj, new_obj);
}

ObjectPtr InformerImpl::Put(const std::string& key, const ObjectPtr& obj) {
  MutexLock lock(&mu_);
  auto [it, inserted] = objects_.try_emplace(key);  // one search finds and stores
  ObjectPtr previous = std::exchange(it->second, obj);
  Reindex(key, previous.get(), obj);
  return previous;
}

void InformerImpl::Deliver(Change change, const ObjectPtr& old_obj, const ObjectPtr& new_obj) {
  absl::InlinedVector<std::shared_ptr<Handler>, 8> handlers;  // most informers have a few
  {
    ReaderMutexLock lock(&mu_);
    for (const auto& handler : handlers_) {
      if (handler->installed && !handler->removed) handlers.push_back(handler);
    }
  }
  for (const auto& handler : handlers) Call(handler, change, old_obj, new_obj);
}

void InformerImpl::Call(const std::shared_ptr<Handler>& handler, Change change,
                        const ObjectPtr& old_obj, const ObjectPtr& new_obj) {
  {
    MutexLock lock(&mu_);
    if (handler->removed || stopped_) return;
    if (change == Change::kSynced) {
      if (handler->synced) return;
      handler->synced = true;
    }
    calling_ = handler.get();
  }
  switch (change) {
    case Change::kAdd:
      if (handler->fns.on_add) handler->fns.on_add(new_obj);
      break;
    case Change::kUpdate:
      if (handler->fns.on_update) handler->fns.on_update(old_obj, new_obj);
      break;
    case Change::kDelete:
      if (handler->fns.on_delete) handler->fns.on_delete(new_obj);
      break;
    case Change::kSynced:
      if (handler->fns.on_synced) handler->fns.on_synced();
      break;
  }
  MutexLock lock(&mu_);
  calling_ = nullptr;
}

absl::StatusOr<ObjectPtr> InformerImpl::DecodeObject(const store::KeyValue& kv,
                                                     int64_t revision) const {
  return DecodeShared(kv, revision, *kind_->prototype);
}

// "/registry/pods/ns/name" -> "ns/name"; "/registry/nodes/name" -> "name".
std::string InformerImpl::KeyOf(std::string_view store_key) const {
  store_key.remove_prefix(std::min(prefix_.size(), store_key.size()));
  return std::string(store_key);
}

// ---------------------------------------------------------------- handlers

HandlerId InformerImpl::AddEventHandler(UntypedHandler fns) {
  HandlerId id;
  {
    MutexLock lock(&mu_);
    id = next_handler_id_++;
    auto handler = std::make_shared<Handler>();
    handler->id = id;
    handler->fns = std::move(fns);
    handlers_.push_back(std::move(handler));
  }
  Schedule();  // the strand installs it (with its synthetic adds) in order with events
  return id;
}

void InformerImpl::RemoveEventHandler(HandlerId id) {
  MutexLock lock(&mu_);
  auto it = std::find_if(handlers_.begin(), handlers_.end(),
                         [id](const auto& h) { return h->id == id; });
  if (it == handlers_.end()) return;
  const std::shared_ptr<Handler> handler = *it;
  handler->removed = true;
  handlers_.erase(it);
  if (strand_thread_ == std::this_thread::get_id()) return;  // removing from a handler
  struct Wait {
    InformerImpl* self;
    const Handler* handler;
  } wait{this, handler.get()};
  mu_.Await(absl::Condition(
      +[](Wait* w) ABSL_NO_THREAD_SAFETY_ANALYSIS { return w->self->calling_ != w->handler; },
      &wait));
}

// ---------------------------------------------------------------- cache reads

absl::Status InformerImpl::AddIndexer(std::string name, UntypedIndexFunc fn) {
  MutexLock lock(&mu_);
  if (name == kNamespaceIndex || indexes_.contains(name)) {
    return absl::AlreadyExistsError(fmt::format("indexer \"{}\" already exists", name));
  }
  Index& index = indexes_[name];
  index.fn = std::move(fn);
  for (const auto& [key, obj] : objects_) index.Add(key, obj, index.fn(*obj));
  return absl::OkStatus();
}

void InformerImpl::Reindex(const std::string& key, const Message* old_obj,
                           const ObjectPtr& new_obj) {
  for (auto& [name, index] : indexes_) {
    std::vector<std::string> now;
    if (new_obj != nullptr) now = index.fn(*new_obj);
    if (old_obj != nullptr) {
      const std::vector<std::string> before = index.fn(*old_obj);
      if (before != now) {
        index.Remove(key, before);
      } else if (new_obj != nullptr) {  // the same values, most updates: swap the object
        for (const std::string& value : now) index.by_value[value][key] = new_obj;
        continue;
      }
    }
    if (new_obj != nullptr) index.Add(key, new_obj, std::move(now));
  }
}

std::string InformerImpl::NormalizedNamespace(std::string_view ns) const {
  if (kind_->namespaced && ns.empty()) return std::string(kDefaultNamespace);
  return std::string(ns);
}

absl::StatusOr<ObjectPtr> InformerImpl::Get(std::string_view ns, std::string_view name) const {
  const std::string key = CacheKey(NormalizedNamespace(ns), name);
  ReaderMutexLock lock(&mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return NotFoundError(*kind_, name);
  return it->second;
}

std::vector<ObjectPtr> InformerImpl::List(std::optional<std::string_view> ns,
                                          const api::LabelSelector& selector) const {
  auto matches = [&selector](const ObjectPtr& obj) {
    return selector.empty() || selector.Matches(Meta(*obj)->labels());
  };
  std::vector<ObjectPtr> out;
  ReaderMutexLock lock(&mu_);
  if (!ns.has_value()) {
    for (const auto& [key, obj] : objects_) {
      if (matches(obj)) out.push_back(obj);
    }
    return out;
  }
  // Keys of a namespace are "ns/name": one range of the ordered map.
  const std::string start = std::string(*ns) + "/";
  for (auto it = objects_.lower_bound(start);
       it != objects_.end() && it->first.compare(0, start.size(), start) == 0; ++it) {
    if (matches(it->second)) out.push_back(it->second);
  }
  return out;
}

absl::StatusOr<std::vector<ObjectPtr>> InformerImpl::ByIndex(std::string_view index,
                                                             std::string_view value) const {
  if (index == kNamespaceIndex) return List(value, api::LabelSelector());
  ReaderMutexLock lock(&mu_);
  auto it = indexes_.find(std::string(index));
  if (it == indexes_.end()) {
    return absl::InvalidArgumentError(fmt::format("index \"{}\" does not exist", index));
  }
  auto values = it->second.by_value.find(std::string(value));
  std::vector<ObjectPtr> out;
  if (values == it->second.by_value.end()) return out;
  out.reserve(values->second.size());
  for (const auto& [key, obj] : values->second) out.push_back(obj);
  return out;
}

bool InformerImpl::HasSynced() const {
  ReaderMutexLock lock(&mu_);
  return synced_;
}

bool InformerImpl::WaitForSync(absl::Duration timeout) const {
  MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(
      absl::Condition(
          +[](const InformerImpl* self) ABSL_NO_THREAD_SAFETY_ANALYSIS {
            return self->synced_ || self->stopped_;
          },
          this),
      timeout);
  return synced_;
}

std::string InformerImpl::LastSyncResourceVersion() const {
  ReaderMutexLock lock(&mu_);
  return synced_ ? std::to_string(revision_) : std::string();
}

}  // namespace

std::shared_ptr<InformerCore> NewInformerCore(store::Store* store, const api::Kind* kind,
                                              Executor* executor, const InformerOptions& options) {
  return std::make_shared<InformerImpl>(store, kind, executor, options);
}

}  // namespace internal

// ---------------------------------------------------------------- factory

SharedInformerFactory::SharedInformerFactory(Client* client, Executor* executor,
                                             InformerOptions options)
    : client_(client), executor_(executor), options_(std::move(options)) {}

SharedInformerFactory::~SharedInformerFactory() { Shutdown(); }

absl::StatusOr<std::shared_ptr<internal::InformerCore>> SharedInformerFactory::CoreFor(
    const google::protobuf::Descriptor& type) {
  std::shared_ptr<internal::InformerCore> core;
  {
    MutexLock lock(&mu_);
    if (shut_down_) {
      return absl::FailedPreconditionError("the informer factory has been shut down");
    }
    if (auto it = informers_.find(&type); it != informers_.end()) return it->second;
    ORCH_ASSIGN_OR_RETURN(const api::Kind* kind, client_->KindOf(type));
    core = internal::NewInformerCore(client_->store(), kind, executor_, options_);
    informers_.emplace(&type, core);
    ordered_.push_back(core);
    if (!started_) return core;
  }
  core->Start();
  return core;
}

absl::StatusOr<Informer<google::protobuf::Message>> SharedInformerFactory::InformerForType(
    const google::protobuf::Descriptor& type) {
  ORCH_ASSIGN_OR_RETURN(std::shared_ptr<internal::InformerCore> core, CoreFor(type));
  return Informer<google::protobuf::Message>(std::move(core));
}

std::vector<std::shared_ptr<internal::InformerCore>> SharedInformerFactory::Snapshot() const {
  MutexLock lock(&mu_);
  return ordered_;
}

void SharedInformerFactory::Start() {
  {
    MutexLock lock(&mu_);
    if (started_ || shut_down_) return;
    started_ = true;
  }
  for (const auto& core : Snapshot()) core->Start();
}

void SharedInformerFactory::Shutdown() {
  {
    MutexLock lock(&mu_);
    if (shut_down_) return;
    shut_down_ = true;
  }
  for (const auto& core : Snapshot()) core->Stop();
}

bool SharedInformerFactory::HasSynced() const {
  for (const auto& core : Snapshot()) {
    if (!core->HasSynced()) return false;
  }
  return true;
}

bool SharedInformerFactory::WaitForCacheSync(absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  for (const auto& core : Snapshot()) {
    if (!core->WaitForSync(std::max(deadline - absl::Now(), absl::ZeroDuration()))) return false;
  }
  return true;
}

}  // namespace orch::client
