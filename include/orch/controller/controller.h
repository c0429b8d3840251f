// Controllers, the Manager that runs them, and the Builder that wires their watches
// (controller-runtime's controller, manager and builder packages).
//
//   ORCH_ASSIGN_OR_RETURN(auto manager, controller::Manager::Create(
//       {.client = &client, .informers = &informers, .executor = &executor}));
//   WebReconciler reconciler(...);
//   ORCH_RETURN_IF_ERROR(controller::Builder<v1::Deployment>(manager.get())
//                            .Owns<v1::ReplicaSet>()
//                            .WithEventFilter(controller::GenerationChanged())
//                            .WithOptions({.max_concurrent_reconciles = 2})
//                            .Complete(&reconciler)
//                            .status());
//   ORCH_RETURN_IF_ERROR(manager->Start());
//
// A controller watches its primary kind, the kinds it owns and any extra kinds through
// the manager's shared informers, and turns every event that passes its predicates into
// a Request in its WorkQueue (work_queue.h): deduplicated, never reconciled twice at
// once, retried with backoff (reconciler.h says what each outcome does). Where a Request
// comes from:
//   primary kind   the object itself.
//   Owns<O>()      the owner named by O's controller reference (ownerReferences entry
//                  with controller: true) when its group and kind are the primary
//                  kind's — compared by group, not version, as Kubernetes does; the
//                  Request's namespace is O's (empty for a cluster-scoped owner).
//                  On an update, the owners of both the old and the new object.
//   Watches<O>(f)  whatever f returns for the object (old and new on an update).
//   WatchesWith<O>(h)  whatever h queues, given the whole event (built-in controllers use
//                  it to observe their expectations before they reconcile).
// A controller reconciles nothing before every informer it watches has delivered its
// first list (Requests queued meanwhile wait), so a reconcile never acts on a cache that
// has not seen everything yet.
//
// Custom kinds: any kind of the client's Scheme works as primary, owned or watched kind
// (register it on the Scheme the Client and informers use).
//
// Thread safety: every method may be called from any thread. Reconcilers run on the
// executor; see reconciler.h. Ownership: the Client, SharedInformerFactory and Executor
// outlive the Manager; reconcilers passed to Complete are not owned and must outlive it
// too. The Manager owns its controllers (the Controller* it hands out lives as long as
// the Manager) and its EventRecorders. Errors: absl::Status, naming what is wrong.
#ifndef ORCH_CONTROLLER_CONTROLLER_H_
#define ORCH_CONTROLLER_CONTROLLER_H_

#include <cctype>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/message.h"
#include "orch/api/scheme.h"
#include "orch/base/executor.h"
#include "orch/client/client.h"
#include "orch/client/events.h"
#include "orch/client/informer.h"
#include "orch/controller/leader_election.h"
#include "orch/controller/predicate.h"
#include "orch/controller/rate_limiter.h"
#include "orch/controller/reconciler.h"

namespace orch::controller {

struct ControllerOptions {
  // Requests reconciled at the same time (each Request still one at a time). Below 1: 1.
  int max_concurrent_reconciles = 1;
  // Retry delays. nullptr: DefaultControllerRateLimiter on the executor's clock.
  std::unique_ptr<RateLimiter> rate_limiter;
};

struct ControllerStats {
  int64_t reconciles = 0;       // Reconcile calls returned
  int64_t errors = 0;           // ... with an error that is retried
  int64_t terminal_errors = 0;  // ... with a TerminalError (not retried)
  int64_t requeues = 0;         // ... OK, asking to be reconciled again
  std::string last_error;       // "default/web: <message>" of the latest error
  int64_t queue_depth = 0;      // Requests waiting now
};

class Controller {
 public:
  Controller() = default;
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;
  virtual ~Controller() = default;

  virtual const std::string& name() const = 0;
  // Queues a reconcile of `request`, as a watch event would.
  virtual void Enqueue(const Request& request) = 0;
  // True once every watched informer has synced and reconciling has begun.
  virtual bool Started() const = 0;
  virtual ControllerStats stats() const = 0;
};

// Maps a watched object to the Requests to reconcile.
using MapFunc = std::function<std::vector<Request>(const google::protobuf::Message& obj)>;

// One event of a watched kind, for handlers that need more than a map function.
struct WatchEvent {
  enum class Type { kCreate, kUpdate, kDelete };
  Type type = Type::kCreate;
  const google::protobuf::Message* old_obj = nullptr;  // kUpdate only
  const google::protobuf::Message* obj = nullptr;      // the object (new state on kUpdate)
};

// Where an EventFunc puts its Requests (the controller's work queue).
class RequestQueue {
 public:
  virtual ~RequestQueue() = default;
  virtual void Add(const Request& request) = 0;
  virtual void AddAfter(const Request& request, absl::Duration delay) = 0;
};

// Handles one event: records what it needs (expectations, say) and queues Requests. Runs
// on the informer's delivery, before any Reconcile the Requests cause.
using EventFunc = std::function<void(const WatchEvent& event, RequestQueue& queue)>;

// One watched kind of a controller (the Builder fills these; hosts wiring kinds known
// only at run time may fill them directly).
struct WatchSpec {
  const google::protobuf::Descriptor* type = nullptr;  // a kind of the client's Scheme
  MapFunc map;        // the Requests for an object; on an update, old and new objects'
  EventFunc handle;   // or: full control of each event (exactly one of map and handle)
  std::vector<Predicate> predicates;                   // all must pass
};

struct ControllerSpec {
  std::string name;  // unique within the manager; required
  std::vector<WatchSpec> watches;
  std::vector<Predicate> event_filters;  // apply to every watch
  ControllerOptions options;
};

struct ManagerOptions {
  client::Client* client = nullptr;                    // required
  client::SharedInformerFactory* informers = nullptr;  // required
  Executor* executor = nullptr;                        // required
  // When set, the controllers run only while this instance holds the Lease
  // (leader_election.h). Its client and executor default to the manager's; its
  // callbacks, if given, run after the manager's own handling. See Manager::Start.
  std::optional<LeaderElectionConfig> leader_election;
};

class Manager {
 public:
  // kInvalidArgument when a required option is missing.
  static absl::StatusOr<std::unique_ptr<Manager>> Create(ManagerOptions options);
  // Stop().
  virtual ~Manager() = default;
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  virtual client::Client* client() const = 0;
  virtual client::SharedInformerFactory* informers() const = 0;
  virtual Executor* executor() const = 0;
  // The EventRecorder reporting as `component` ("replicaset-controller"), made on first
  // use and owned by the manager.
  virtual client::EventRecorder* EventRecorderFor(std::string_view component) = 0;

  // Adds a controller; it starts with Start (at once when the manager is running).
  // kInvalidArgument for an empty name, no watches, a watch without exactly one of map
  // and handle or with a type the Scheme does not know, or a null reconciler;
  // kAlreadyExists when the name is taken; kFailedPrecondition after Stop.
  virtual absl::StatusOr<Controller*> NewController(ControllerSpec spec,
                                                    Reconciler* reconciler) = 0;
  // The same, with a reconciler the manager keeps (destroyed after the controller).
  virtual absl::StatusOr<Controller*> NewController(ControllerSpec spec,
                                                    std::unique_ptr<Reconciler> reconciler) = 0;

  // Starts the informer factory and every controller. With leader election the caches
  // start at once but the controllers only when this instance becomes leader; when its
  // term ends, the manager stops for good (as controller-runtime's manager exits), and
  // no Reconcile begins once the elector's IsLeader() is false — which happens before
  // any other instance can take the lease. A Reconcile already running then finishes:
  // keep reconciles shorter than lease_duration - renew_deadline. Idempotent;
  // kFailedPrecondition after Stop; kInvalidArgument for a bad leader election config.
  virtual absl::Status Start() = 0;
  // Stops every controller: watches removed, queues shut down; then gives up the lease
  // (when leading, and release_on_stop). Returns once no Reconcile is running (except
  // the caller's own, when called from inside one). Final. Idempotent.
  virtual void Stop() = 0;
  // True when the controllers may run: always without leader election, else while this
  // instance leads.
  virtual bool IsLeader() const = 0;

 protected:
  Manager() = default;
};

// Builds a controller whose primary kind is T.
template <typename T>
class Builder {
 public:
  explicit Builder(Manager* manager) : manager_(manager) {}

  // The controller's name; default: the primary kind's name in lower case ("deployment").
  Builder& Named(std::string name) {
    spec_.name = std::move(name);
    return *this;
  }
  // Predicates for the primary kind's events only.
  Builder& WithPredicates(Predicate predicate) {
    primary_predicates_.push_back(std::move(predicate));
    return *this;
  }
  // Predicates for every watch.
  Builder& WithEventFilter(Predicate predicate) {
    spec_.event_filters.push_back(std::move(predicate));
    return *this;
  }
  // Watches O and reconciles the T that controls each O.
  template <typename O>
  Builder& Owns(Predicate predicate = {}) {
    owned_.push_back({O::descriptor(), nullptr, nullptr, {std::move(predicate)}});
    return *this;
  }
  // Watches O and reconciles what `map` returns for each O.
  template <typename O>
  Builder& Watches(std::function<std::vector<Request>(const O&)> map, Predicate predicate = {}) {
    spec_.watches.push_back(
        {O::descriptor(),
         [map = std::move(map)](const google::protobuf::Message& obj) {
           return map(static_cast<const O&>(obj));
         },
         nullptr,
         {std::move(predicate)}});
    return *this;
  }
  // Watches O with full control of each event (see EventFunc).
  template <typename O>
  Builder& WatchesWith(EventFunc handle, Predicate predicate = {}) {
    spec_.watches.push_back({O::descriptor(), nullptr, std::move(handle), {std::move(predicate)}});
    return *this;
  }
  Builder& WithOptions(ControllerOptions options) {
    spec_.options = std::move(options);
    return *this;
  }

  // Adds the controller to the manager; errors as Manager::NewController (which also
  // checks that T and every watched kind are kinds of the client's Scheme).
  absl::StatusOr<Controller*> Complete(Reconciler* reconciler) {
    ORCH_ASSIGN_OR_RETURN(ControllerSpec spec, Finish());
    return manager_->NewController(std::move(spec), reconciler);
  }
  // The same, the manager keeping the reconciler.
  absl::StatusOr<Controller*> Complete(std::unique_ptr<Reconciler> reconciler) {
    ORCH_ASSIGN_OR_RETURN(ControllerSpec spec, Finish());
    return manager_->NewController(std::move(spec), std::move(reconciler));
  }

 private:
  // The spec with the primary watch first and the owned kinds' map functions filled.
  absl::StatusOr<ControllerSpec> Finish();

  Manager* const manager_;
  ControllerSpec spec_;
  std::vector<Predicate> primary_predicates_;
  std::vector<WatchSpec> owned_;  // map filled in Complete, once T's kind is known
};

namespace internal {
// Map functions: an object of `kind` to itself, and an object to its controller of kind
// `owner`.
MapFunc SelfMap(const api::Kind& kind);
MapFunc ControllerOwnerMap(const api::Kind& owner);
}  // namespace internal

template <typename T>
absl::StatusOr<ControllerSpec> Builder<T>::Finish() {
  ORCH_ASSIGN_OR_RETURN(const api::Kind* kind, manager_->client()->KindOf(*T::descriptor()));
  ControllerSpec spec = std::move(spec_);
  if (spec.name.empty()) {
    for (char c : kind->kind) spec.name += static_cast<char>(std::tolower(c));
  }
  spec.watches.insert(spec.watches.begin(),
                      WatchSpec{T::descriptor(), internal::SelfMap(*kind), nullptr,
                                std::move(primary_predicates_)});
  for (WatchSpec& owned : owned_) {
    owned.map = internal::ControllerOwnerMap(*kind);
    spec.watches.push_back(std::move(owned));
  }
  return spec;
}

}  // namespace orch::controller

#endif  // ORCH_CONTROLLER_CONTROLLER_H_
