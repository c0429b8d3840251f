// SharedInformers: one watch per kind, a local indexed cache, and event handlers.
//
// An informer lists a kind from the Store, then watches it from the list's revision, and
// keeps a cache of every object of the kind. Controllers read the cache (Lister) instead
// of the Store and react to changes through event handlers. A SharedInformerFactory
// hands out ONE informer per kind however many users ask, so N controllers watching Pods
// cost one Store watch and one cache.
//
//   client::SharedInformerFactory factory(&client, &executor);
//   ORCH_ASSIGN_OR_RETURN(auto pods, factory.InformerFor<v1::Pod>());
//   pods.AddIndexer("spec.nodeName", [](const v1::Pod& p) {
//     return std::vector<std::string>{p.spec().node_name()};
//   });
//   pods.AddEventHandler({.on_add = [](const auto& pod) { ... }});
//   factory.Start();
//   executor.RunUntilIdle();                     // VirtualExecutor: now pods.HasSynced()
//   auto on_node = pods.lister().ByIndex("spec.nodeName", "node-1");
//
// Delivery. All of an informer's work — listing, polling the watch, updating the cache,
// calling handlers — runs in tasks on the factory's Executor, one task at a time per
// informer, so under a VirtualExecutor everything is deterministic. Handlers see changes
// in revision order, each exactly once, after the cache reflects that change:
//   on_add(obj)            a new object (also the initial list, and the synthetic adds a
//                          handler added late gets for what the cache already holds);
//   on_update(old, new)    a changed object (resourceVersion differs);
//   on_delete(obj)         the object's last state. For a delete seen on the watch its
//                          resourceVersion is the revision of the deletion; for one found
//                          by a re-list it is the last state the cache held.
//   on_synced()            once, when the handler has had the adds of the first list.
// Recovery. When the watch history is compacted (kOutOfRange) or the watch breaks, the
// informer lists again and delivers the difference against its cache (deletes for
// vanished objects, updates for changed ones, adds for new ones), then watches from the
// new list's revision: handlers never miss a change's final state and never see one twice.
// List failures are retried with InformerOptions::relist_backoff, on the Executor's clock.
// Not offered: periodic resync (re-delivering unchanged objects).
//
// Objects are shared and immutable (std::shared_ptr<const T>): copy one before changing it.
//
// Thread safety: every method of SharedInformerFactory, Informer and Lister may be called
// from any thread, including from handlers. Handlers of one informer never run
// concurrently with each other; handlers of different informers may (ThreadPoolExecutor).
// Index functions run with the cache locked: they must only read their argument.
// Ownership: the factory owns the informers and stops them on destruction; Informer and
// Lister are cheap handles that stay safe to use afterwards (the cache is then frozen and
// no handler is called). The Client and Executor must outlive the factory, and the
// Executor must outlive every task the factory posted (hosts destroy it last).
#ifndef ORCH_CLIENT_INFORMER_H_
#define ORCH_CLIENT_INFORMER_H_

#include <climits>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "orch/api/scheme.h"
#include "orch/api/selector.h"
#include "orch/base/executor.h"
#include "orch/base/mutex.h"
#include "orch/base/status.h"
#include "orch/client/client.h"
#include "orch/client/retry.h"

namespace orch::client {

// Identifies a handler added to an informer. 0 is never a valid id.
using HandlerId = uint64_t;

// Callbacks for one consumer of an informer; any of them may be empty.
template <typename T>
struct EventHandler {
  std::function<void(const std::shared_ptr<const T>& obj)> on_add;
  std::function<void(const std::shared_ptr<const T>& old_obj,
                     const std::shared_ptr<const T>& new_obj)>
      on_update;
  std::function<void(const std::shared_ptr<const T>& obj)> on_delete;
  // Once, after the handler has received on_add for everything in the informer's first
  // list (for a handler added later: for everything the cache held then). What a
  // controller waits for before acting on what it has seen (client-go's per-handler
  // HasSynced).
  std::function<void()> on_synced;
};

// The index values of an object ("node-1" for a pod's spec.nodeName); may be empty.
template <typename T>
using IndexFunc = std::function<std::vector<std::string>(const T& obj)>;

// The built-in index: objects by metadata.namespace.
inline constexpr std::string_view kNamespaceIndex = "namespace";

struct InformerOptions {
  // Items per page of a (re-)list.
  int64_t list_page_size = 500;
  // Events taken from the watch per executor task (larger batches yield to other work
  // less often).
  size_t poll_batch = 256;
  // Delays between failed list/watch attempts (steps are ignored: it retries forever).
  Backoff relist_backoff{absl::Seconds(1), 2.0, 0.0, INT_MAX, absl::Seconds(30)};
};

namespace internal {

using ObjectPtr = std::shared_ptr<const google::protobuf::Message>;

struct UntypedHandler {
  std::function<void(const ObjectPtr&)> on_add;
  std::function<void(const ObjectPtr&, const ObjectPtr&)> on_update;
  std::function<void(const ObjectPtr&)> on_delete;
  std::function<void()> on_synced;
};
using UntypedIndexFunc = std::function<std::vector<std::string>(const google::protobuf::Message&)>;

// The non-template informer the typed handles wrap (src/client/informer.cc).
class InformerCore {
 public:
  virtual ~InformerCore() = default;
  virtual void Start() = 0;
  virtual void Stop() = 0;
  virtual HandlerId AddEventHandler(UntypedHandler handler) = 0;
  virtual void RemoveEventHandler(HandlerId id) = 0;
  virtual absl::Status AddIndexer(std::string name, UntypedIndexFunc index) = 0;
  virtual absl::StatusOr<ObjectPtr> Get(std::string_view ns, std::string_view name) const = 0;
  virtual std::vector<ObjectPtr> List(std::optional<std::string_view> ns,
                                      const api::LabelSelector& selector) const = 0;
  virtual absl::StatusOr<std::vector<ObjectPtr>> ByIndex(std::string_view index,
                                                         std::string_view value) const = 0;
  virtual bool HasSynced() const = 0;
  virtual bool WaitForSync(absl::Duration timeout) const = 0;
  virtual std::string LastSyncResourceVersion() const = 0;
};

std::shared_ptr<InformerCore> NewInformerCore(store::Store* store, const api::Kind* kind,
                                              Executor* executor, const InformerOptions& options);

template <typename T>
std::vector<std::shared_ptr<const T>> CastAll(std::vector<ObjectPtr> objects) {
  std::vector<std::shared_ptr<const T>> out;
  out.reserve(objects.size());
  for (ObjectPtr& obj : objects) out.push_back(std::static_pointer_cast<const T>(std::move(obj)));
  return out;
}

}  // namespace internal

// Read access to an informer's cache. Results are ordered by namespace, then name.
template <typename T>
class Lister {
 public:
  // kNotFound (`pods "web-1" not found`) when the cache does not hold it. An empty `ns`
  // means "default" for namespaced kinds.
  absl::StatusOr<std::shared_ptr<const T>> Get(std::string_view ns, std::string_view name) const {
    ORCH_ASSIGN_OR_RETURN(internal::ObjectPtr obj, core_->Get(ns, name));
    return std::static_pointer_cast<const T>(std::move(obj));
  }
  // Every cached object whose labels match.
  std::vector<std::shared_ptr<const T>> List(const api::LabelSelector& selector = {}) const {
    return internal::CastAll<T>(core_->List(std::nullopt, selector));
  }
  // The cached objects of one namespace whose labels match.
  std::vector<std::shared_ptr<const T>> ListInNamespace(
      std::string_view ns, const api::LabelSelector& selector = {}) const {
    return internal::CastAll<T>(core_->List(ns, selector));
  }
  // The objects whose index function returned `value` (kNamespaceIndex is built in).
  // kInvalidArgument when no index has that name.
  absl::StatusOr<std::vector<std::shared_ptr<const T>>> ByIndex(std::string_view index,
                                                                std::string_view value) const {
    ORCH_ASSIGN_OR_RETURN(std::vector<internal::ObjectPtr> objects, core_->ByIndex(index, value));
    return internal::CastAll<T>(std::move(objects));
  }

 private:
  template <typename>
  friend class Informer;
  explicit Lister(std::shared_ptr<internal::InformerCore> core) : core_(std::move(core)) {}
  std::shared_ptr<internal::InformerCore> core_;
};

// A handle to the one informer of kind T. Copyable; all copies share the informer.
// T = google::protobuf::Message gives an untyped informer (InformerForType).
template <typename T>
class Informer {
 public:
  // Adds a handler; it first gets on_add for every object already cached (none before the
  // first list), then every later change. Returns its id for RemoveEventHandler.
  HandlerId AddEventHandler(EventHandler<T> handler) {
    internal::UntypedHandler untyped;
    if (handler.on_add) {
      untyped.on_add = [f = std::move(handler.on_add)](const internal::ObjectPtr& obj) {
        f(std::static_pointer_cast<const T>(obj));
      };
    }
    if (handler.on_update) {
      untyped.on_update = [f = std::move(handler.on_update)](const internal::ObjectPtr& old_obj,
                                                             const internal::ObjectPtr& new_obj) {
        f(std::static_pointer_cast<const T>(old_obj), std::static_pointer_cast<const T>(new_obj));
      };
    }
    if (handler.on_delete) {
      untyped.on_delete = [f = std::move(handler.on_delete)](const internal::ObjectPtr& obj) {
        f(std::static_pointer_cast<const T>(obj));
      };
    }
    untyped.on_synced = std::move(handler.on_synced);
    return core_->AddEventHandler(std::move(untyped));
  }

  // Once this returns, the handler is never called again; if it is running on another
  // thread, waits for it to return. May be called from inside a handler.
  void RemoveEventHandler(HandlerId id) { core_->RemoveEventHandler(id); }

  // Adds an index, computed at once over the cached objects and kept up to date after.
  // kAlreadyExists if the name is taken (kNamespaceIndex is).
  absl::Status AddIndexer(std::string name, IndexFunc<T> index) {
    return core_->AddIndexer(std::move(name),
                             [f = std::move(index)](const google::protobuf::Message& obj) {
                               return f(static_cast<const T&>(obj));
                             });
  }

  Lister<T> lister() const { return Lister<T>(core_); }

  // True once the first list is in the cache and its adds have been delivered. Under a
  // VirtualExecutor, check it after RunUntilIdle().
  bool HasSynced() const { return core_->HasSynced(); }
  // Blocks (real time) until synced or `timeout`; for threaded executors. Returns
  // HasSynced(). Never call it from an executor task of a VirtualExecutor (it would wait
  // for work that can only run on the waiting thread).
  bool WaitForSync(absl::Duration timeout) const { return core_->WaitForSync(timeout); }
  // The revision the cache is consistent with ("" before the first list).
  std::string LastSyncResourceVersion() const { return core_->LastSyncResourceVersion(); }

 private:
  friend class SharedInformerFactory;
  explicit Informer(std::shared_ptr<internal::InformerCore> core) : core_(std::move(core)) {}
  std::shared_ptr<internal::InformerCore> core_;
};

class SharedInformerFactory {
 public:
  // `client` gives the Store and Scheme; informer work runs on `executor`.
  SharedInformerFactory(Client* client, Executor* executor, InformerOptions options = {});
  SharedInformerFactory(const SharedInformerFactory&) = delete;
  SharedInformerFactory& operator=(const SharedInformerFactory&) = delete;
  // Shutdown(). REQUIRES: not called from inside one of its informers' handlers.
  ~SharedInformerFactory();

  // The informer of kind T, created on first use. kInvalidArgument if T is not a kind of
  // the client's Scheme; kFailedPrecondition after Shutdown.
  template <typename T>
  absl::StatusOr<Informer<T>> InformerFor() {
    ORCH_ASSIGN_OR_RETURN(std::shared_ptr<internal::InformerCore> core, CoreFor(*T::descriptor()));
    return Informer<T>(std::move(core));
  }
  // The same informer, untyped, for code that handles kinds it does not know at compile
  // time (the garbage collector, tools).
  absl::StatusOr<Informer<google::protobuf::Message>> InformerForType(
      const google::protobuf::Descriptor& type);

  // Starts every informer created so far; informers created later start at creation.
  // Nothing is listed or watched before Start. Idempotent.
  void Start();
  // Stops every informer: no more handler calls, watches closed. Idempotent.
  void Shutdown();

  // True when every informer created so far has synced.
  bool HasSynced() const;
  // Blocks (real time) until HasSynced() or `timeout`; see Informer::WaitForSync.
  bool WaitForCacheSync(absl::Duration timeout) const;

 private:
  absl::StatusOr<std::shared_ptr<internal::InformerCore>> CoreFor(
      const google::protobuf::Descriptor& type);
  std::vector<std::shared_ptr<internal::InformerCore>> Snapshot() const;

  Client* const client_;
  Executor* const executor_;
  const InformerOptions options_;
  mutable Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<const google::protobuf::Descriptor*, std::shared_ptr<internal::InformerCore>>
      informers_ ABSL_GUARDED_BY(mu_);
  // Creation order, so Start and Shutdown act in the same order every run.
  std::vector<std::shared_ptr<internal::InformerCore>> ordered_ ABSL_GUARDED_BY(mu_);
};

}  // namespace orch::client

#endif  // ORCH_CLIENT_INFORMER_H_
