// GarbageCollector: deletes objects whose owners are gone, and carries out Foreground
// and Orphan deletions (Kubernetes' garbage collector, pkg/controller/garbagecollector).
//
//   ORCH_ASSIGN_OR_RETURN(auto gc, controller::GarbageCollector::Create(
//       {.client = &client, .informers = &informers, .executor = &executor}));
//   ORCH_RETURN_IF_ERROR(gc->Start());
//   ...
//   client.Delete<v1::Deployment>("default", "web");   // its ReplicaSets and Pods follow
//
// What it watches. Every kind of the client's Scheme (built-in and registered custom
// kinds alike) except `ignored_resources`, through the shared informers. From their
// events it keeps a graph of objects by uid: each object's owners (its
// metadata.ownerReferences) and dependents. An owner that is referenced but has not been
// seen is a "virtual" node; its existence is checked with a live read through the Client
// (cluster-scoped owners by name, namespaced owners by name in the dependent's
// namespace), and it counts as absent when the read says kNotFound or finds a different
// uid (the name was reused by a new object). Nothing is acted on before every watched
// informer has delivered its first list.
//
// What it does (the decisions always use live reads, never only the cache):
//   Background  When an owner is gone, each of its dependents whose owners are all
//               absent is deleted. The delete carries a uid precondition (and the
//               resourceVersion it decided on), so an object recreated under the same
//               name is never deleted, and an object changed meanwhile is decided again.
//               It is deleted with the propagation its own finalizers ask for:
//               "foregroundDeletion" Foreground, "orphan" Orphan, otherwise Background.
//               A dependent that still has an existing owner is kept; its references to
//               absent owners (and to owners waiting in Foreground) are removed from it.
//   Foreground  An owner with deletionTimestamp and the "foregroundDeletion" finalizer:
//               its dependents are deleted (a dependent that has dependents of its own in
//               Foreground, so the cascade waits bottom-up), and the finalizer is removed
//               once no dependent whose reference has blockOwnerDeletion=true remains.
//               Dependents without blockOwnerDeletion are deleted but do not hold it.
//   Orphan      An owner with deletionTimestamp and the "orphan" finalizer: the
//               references to it are removed from every dependent, then the finalizer.
//   Removing the last finalizer completes the owner's delete (the Client does that).
//   Other finalizers are never touched. An owner held by someone else's finalizer still
//   exists for its dependents, but its foregroundDeletion/orphan handling proceeds.
//
// Every write is a compare-and-swap: owner-reference and finalizer edits are
// read-modify-write Updates retried on conflict (client::RetryOnConflict); deletes have
// preconditions. A failed attempt (kUnavailable from the Store, say) is retried through
// a WorkQueue with the default controller rate limiter (5 ms doubling per failure of
// the same object). Objects are processed by uid, never two attempts on one object at
// once.
//
// Departures from Kubernetes:
//   - Kinds come from the Scheme at Start; there is no discovery of new kinds later.
//   - An owner reference whose kind is not in the Scheme, or a cluster-scoped object's
//     reference to a namespaced kind, cannot be checked: the owner counts as existing
//     (the dependent is kept) and nothing is retried. Kubernetes retries the first and
//     gives up on the second, and records no verdict either way.
//   - No cache of absent owners: every check reads the owner (reads are in-process).
//   - No events are recorded for references that point across namespaces.
//
// Thread safety: every method may be called from any thread. Attempts run on the
// executor, at most `workers` at a time per queue (deletes and orphanings).
// Ownership: the Client, SharedInformerFactory and Executor are not owned and must
// outlive the collector; REQUIRES: the factory's Client uses the same Scheme as `client`.
// The collector never starts threads: informer handlers and attempts run as executor
// tasks. Errors: absl::Status naming what is wrong; nothing throws. Errors of attempts
// are not returned to anyone: they are retried and counted in Stats.
#ifndef ORCH_CONTROLLER_GARBAGE_COLLECTOR_H_
#define ORCH_CONTROLLER_GARBAGE_COLLECTOR_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "orch/base/executor.h"
#include "orch/client/client.h"
#include "orch/client/informer.h"

namespace orch::controller {

struct GarbageCollectorOptions {
  client::Client* client = nullptr;                    // required
  client::SharedInformerFactory* informers = nullptr;  // required
  Executor* executor = nullptr;                        // required
  // Attempts that may run at the same time, per queue (deletes, orphanings). Below 1: 1.
  int workers = 1;
  // Resources (plurals, as in the Scheme) that are not watched: their objects are never
  // collected, and as owners they are only ever known from live reads. Kubernetes
  // ignores events. Names the Scheme does not know are ignored.
  std::vector<std::string> ignored_resources = {"events"};
};

class GarbageCollector {
 public:
  struct Stats {
    int64_t deleted = 0;             // deletes issued (objects removed or marked deleted)
    int64_t orphaned = 0;            // dependents whose reference to an orphaning owner was removed
    int64_t references_removed = 0;  // dependents whose references to absent owners were removed
    int64_t finalizers_removed = 0;  // foregroundDeletion/orphan finalizers removed
    int64_t errors = 0;              // failed attempts (each is retried)
    std::string last_error;          // "<Kind> <namespace>/<name>: <message>" of the latest
    int64_t nodes = 0;               // objects in the graph, virtual owners included
    int64_t virtual_nodes = 0;       // owners known only from references
  };

  // kInvalidArgument when a required option is missing.
  static absl::StatusOr<std::unique_ptr<GarbageCollector>> Create(GarbageCollectorOptions options);
  // Stop().
  ~GarbageCollector();
  GarbageCollector(const GarbageCollector&) = delete;
  GarbageCollector& operator=(const GarbageCollector&) = delete;

  // Adds a handler to the informer of every watched kind and starts the informer
  // factory (idempotent there too). Attempts begin once every handler has had its
  // informer's first list. Idempotent. Errors: from InformerForType (kFailedPrecondition
  // once the factory is shut down), in which case nothing is watched; kFailedPrecondition
  // after Stop.
  absl::Status Start();
  // Removes the handlers and shuts the queues down: nothing is attempted afterwards.
  // Returns once no attempt is running (except the caller's own, when called from inside
  // one). Final. Idempotent.
  void Stop();

  // True once every watched informer has delivered its first list (attempts have begun).
  bool HasSynced() const;
  Stats stats() const;

 private:
  class Impl;
  explicit GarbageCollector(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace orch::controller

#endif  // ORCH_CONTROLLER_GARBAGE_COLLECTOR_H_
