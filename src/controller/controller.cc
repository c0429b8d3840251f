#include "orch/controller/controller.h"

#include <utility>

#include "absl/strings/cord.h"
#include "controller/registrations.h"
#include "fmt/format.h"
#include "orch/base/mutex.h"
#include "orch/base/string_map.h"
#include "orch/controller/work_queue.h"

namespace orch::controller {

using google::protobuf::Message;

// ------------------------------------------------------------------ requests and results

Request Request::FromKey(std::string_view key) {
  const size_t slash = key.find('/');
  if (slash == std::string_view::npos) return {"", std::string(key)};
  return {std::string(key.substr(0, slash)), std::string(key.substr(slash + 1))};
}

namespace {
constexpr char kTerminalPayload[] = "orch.dev/controller/terminal-error";
}  // namespace

absl::Status TerminalError(absl::Status cause) {
  if (cause.ok()) cause = absl::UnknownError("terminal error without a cause");
  cause.SetPayload(kTerminalPayload, absl::Cord("true"));
  return cause;
}

bool IsTerminalError(const absl::Status& status) {
  return status.GetPayload(kTerminalPayload).has_value();
}

// ------------------------------------------------------------------ map functions

namespace internal {

MapFunc SelfMap(const api::Kind& kind) {
  return [namespaced = kind.namespaced](const Message& obj) {
    const api::v1::ObjectMeta* meta = api::ObjectMetaOf(obj);
    if (meta == nullptr) return std::vector<Request>();
    return std::vector<Request>{{namespaced ? meta->namespace_() : "", meta->name()}};
  };
}

MapFunc ControllerOwnerMap(const api::Kind& owner) {
  return [group = owner.group, kind = owner.kind, namespaced = owner.namespaced](const Message& obj) {
    std::vector<Request> out;
    const api::v1::ObjectMeta* meta = api::ObjectMetaOf(obj);
    if (meta == nullptr) return out;
    for (const api::v1::OwnerReference& ref : meta->owner_references()) {
      if (!ref.controller() || ref.kind() != kind) continue;
      // The group of "apps/v1" is "apps"; of "v1" (the core group) "".
      const std::string_view api_version = ref.api_version();
      const size_t slash = api_version.find('/');
      const std::string_view ref_group =
          slash == std::string_view::npos ? std::string_view() : api_version.substr(0, slash);
      if (ref_group != group) continue;
      out.push_back({namespaced ? meta->namespace_() : "", ref.name()});
      break;  // one controller at most
    }
    return out;
  };
}

}  // namespace internal

namespace {

// ------------------------------------------------------------------ one controller

class ControllerImpl final : public Controller {
 public:
  // `may_run`, if set, is asked before each Reconcile (the manager's leadership).
  ControllerImpl(ControllerSpec spec, Reconciler* reconciler, client::SharedInformerFactory* informers,
                 Executor* executor, std::function<bool()> may_run)
      : spec_(std::move(spec)),
        reconciler_(reconciler),
        informers_(informers),
        may_run_(std::move(may_run)),
        queue_(executor, [this](const std::string& key) { Reconcile(key); },
               {.max_concurrent = spec_.options.max_concurrent_reconciles,
                .rate_limiter = std::move(spec_.options.rate_limiter)}) {}

  ~ControllerImpl() override { Stop(); }

  const std::string& name() const override { return spec_.name; }
  void Enqueue(const Request& request) override { queue_.Add(request.Key()); }

  bool Started() const override {
    MutexLock lock(&mu_);
    return reconciling_;
  }

  ControllerStats stats() const override {
    ControllerStats stats;
    {
      MutexLock lock(&mu_);
      stats = stats_;
    }
    stats.queue_depth = static_cast<int64_t>(queue_.Len());
    return stats;
  }

  // Adds the handlers; reconciling begins when every one has synced.
  absl::Status Start() {
    {
      MutexLock lock(&mu_);
      if (started_ || stopped_) return absl::OkStatus();
      started_ = true;
      unsynced_ = static_cast<int>(spec_.watches.size());
    }
    for (const WatchSpec& watch : spec_.watches) {
      ORCH_ASSIGN_OR_RETURN(client::Informer<Message> informer,
                            informers_->InformerForType(*watch.type));
      const client::HandlerId id = informer.AddEventHandler(HandlerFor(watch));
      registrations_.Add(informer, id);
    }
    return absl::OkStatus();
  }

  void Stop() {
    {
      MutexLock lock(&mu_);
      stopped_ = true;
    }
    registrations_.RemoveAll();
    queue_.ShutDown();
  }

 private:
  bool Passes(const WatchSpec& watch, auto test) const {
    for (const Predicate& p : spec_.event_filters) {
      if (!test(p)) return false;
    }
    for (const Predicate& p : watch.predicates) {
      if (!test(p)) return false;
    }
    return true;
  }

  // The work queue as an EventFunc sees it.
  class Queue final : public RequestQueue {
   public:
    explicit Queue(WorkQueue* queue) : queue_(queue) {}
    void Add(const Request& request) override { queue_->Add(request.Key()); }
    void AddAfter(const Request& request, absl::Duration delay) override {
      queue_->AddAfter(request.Key(), delay);
    }

   private:
    WorkQueue* const queue_;
  };

  // Passes the event to `watch`: its handler, or its map function (the Requests of the
  // object, and on an update of the old object too, each once).
  void Dispatch(const WatchSpec& watch, const WatchEvent& event) {
    if (watch.handle) {
      Queue queue(&queue_);
      watch.handle(event, queue);
      return;
    }
    StringSet keys;
    for (const Message* obj : {event.old_obj, event.obj}) {
      if (obj == nullptr) continue;
      for (const Request& request : watch.map(*obj)) {
        std::string key = request.Key();
        if (keys.insert(key).second) queue_.Add(key);
      }
    }
  }

  client::EventHandler<Message> HandlerFor(const WatchSpec& watch) {
    using Ptr = std::shared_ptr<const Message>;
    using Type = WatchEvent::Type;
    return {
        .on_add =
            [this, &watch](const Ptr& obj) {
              if (Passes(watch, [&](const Predicate& p) { return p.Create(*obj); })) {
                Dispatch(watch, {Type::kCreate, nullptr, obj.get()});
              }
            },
        .on_update =
            [this, &watch](const Ptr& old_obj, const Ptr& new_obj) {
              if (Passes(watch, [&](const Predicate& p) { return p.Update(*old_obj, *new_obj); })) {
                Dispatch(watch, {Type::kUpdate, old_obj.get(), new_obj.get()});
              }
            },
        .on_delete =
            [this, &watch](const Ptr& obj) {
              if (Passes(watch, [&](const Predicate& p) { return p.Delete(*obj); })) {
                Dispatch(watch, {Type::kDelete, nullptr, obj.get()});
              }
            },
        .on_synced = [this] { OnSynced(); },
    };
  }

  void OnSynced() {
    {
      MutexLock lock(&mu_);
      if (--unsynced_ > 0 || stopped_) return;
      reconciling_ = true;
    }
    queue_.Start();
  }

  void Reconcile(const std::string& key) {
    if (may_run_ && !may_run_()) return;  // no longer leading: the manager is stopping
    const Result result = reconciler_->Reconcile(Request::FromKey(key));
    enum { kForget, kRateLimited, kAfter } next = kForget;
    {
      MutexLock lock(&mu_);
      ++stats_.reconciles;
      if (!result.ok()) {
        stats_.last_error = fmt::format("{}: {}", key, std::string(result.status().message()));
        if (IsTerminalError(result.status())) {
          ++stats_.terminal_errors;
        } else {
          ++stats_.errors;
          next = kRateLimited;
        }
      } else if (result.requeue()) {
        ++stats_.requeues;
        next = result.requeue_after() > absl::ZeroDuration() ? kAfter : kRateLimited;
      }
    }
    switch (next) {
      case kForget:
        queue_.Forget(key);
        break;
      case kRateLimited:
        queue_.AddRateLimited(key);
        break;
      case kAfter:
        queue_.Forget(key);
        queue_.AddAfter(key, result.requeue_after());
        break;
    }
  }

  ControllerSpec spec_;
  Reconciler* const reconciler_;
  client::SharedInformerFactory* const informers_;
  const std::function<bool()> may_run_;
  WorkQueue queue_;

  mutable Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  bool reconciling_ ABSL_GUARDED_BY(mu_) = false;
  int unsynced_ ABSL_GUARDED_BY(mu_) = 0;
  internal::HandlerRegistrations registrations_;
  ControllerStats stats_ ABSL_GUARDED_BY(mu_);
};

// ------------------------------------------------------------------ the manager

class ManagerImpl final : public Manager {
 public:
  explicit ManagerImpl(ManagerOptions options) : options_(options) {}
  ~ManagerImpl() override { Stop(); }

  client::Client* client() const override { return options_.client; }
  client::SharedInformerFactory* informers() const override { return options_.informers; }
  Executor* executor() const override { return options_.executor; }

  client::EventRecorder* EventRecorderFor(std::string_view component) override {
    MutexLock lock(&mu_);
    auto it = recorders_.find(component);
    if (it == recorders_.end()) {
      it = recorders_
               .emplace(component, std::make_unique<client::EventRecorder>(
                                       options_.client, std::string(component)))
               .first;
    }
    return it->second.get();
  }

  absl::StatusOr<Controller*> NewController(ControllerSpec spec, Reconciler* reconciler) override {
    ORCH_RETURN_IF_ERROR(Validate(spec, reconciler));
    ControllerImpl* added;
    bool start;
    {
      MutexLock lock(&mu_);
      if (stopped_) return absl::FailedPreconditionError("the controller manager was stopped");
      for (const auto& c : controllers_) {
        if (c->name() == spec.name) {
          return absl::AlreadyExistsError(
              fmt::format("controller with name \"{}\" already exists", spec.name));
        }
      }
      std::function<bool()> may_run;
      if (options_.leader_election.has_value()) may_run = [this] { return IsLeader(); };
      controllers_.push_back(std::make_unique<ControllerImpl>(
          std::move(spec), reconciler, options_.informers, options_.executor, std::move(may_run)));
      added = controllers_.back().get();
      start = controllers_running_;
    }
    if (start) ORCH_RETURN_IF_ERROR(added->Start());
    return added;
  }

  absl::StatusOr<Controller*> NewController(ControllerSpec spec,
                                            std::unique_ptr<Reconciler> reconciler) override {
    ORCH_ASSIGN_OR_RETURN(Controller * added, NewController(std::move(spec), reconciler.get()));
    MutexLock lock(&mu_);
    reconcilers_.push_back(std::move(reconciler));
    return added;
  }

  absl::Status Start() override {
    {
      MutexLock lock(&mu_);
      if (stopped_) return absl::FailedPreconditionError("the controller manager was stopped");
      if (started_) return absl::OkStatus();
      started_ = true;
    }
    if (!options_.leader_election.has_value()) {
      ORCH_RETURN_IF_ERROR(StartControllers());
      options_.informers->Start();
      return absl::OkStatus();
    }
    LeaderElectionConfig config = *options_.leader_election;
    if (config.client == nullptr) config.client = options_.client;
    if (config.executor == nullptr) config.executor = options_.executor;
    config.on_started_leading = [this, then = std::move(config.on_started_leading)] {
      (void)StartControllers();  // errors: a controller whose informer could not be made
      if (then) then();
    };
    config.on_stopped_leading = [this, then = std::move(config.on_stopped_leading)] {
      Stop();
      if (then) then();
    };
    ORCH_ASSIGN_OR_RETURN(std::unique_ptr<LeaderElector> elector,
                          LeaderElector::Create(std::move(config)));
    LeaderElector* started = elector.get();
    {
      MutexLock lock(&mu_);
      elector_ = std::move(elector);
    }
    options_.informers->Start();  // caches warm up while waiting for the lease
    started->Start();
    return absl::OkStatus();
  }

  void Stop() override {
    std::vector<ControllerImpl*> controllers;
    {
      MutexLock lock(&mu_);
      stopped_ = true;
      controllers_running_ = false;
      for (const auto& c : controllers_) controllers.push_back(c.get());
    }
    for (ControllerImpl* c : controllers) c->Stop();
    // Only now give the lease up: no controller of ours runs any more. (Not under mu_:
    // the elector calls back into Stop.)
    if (LeaderElector* elector = Elector()) elector->Stop();
  }

  bool IsLeader() const override {
    if (!options_.leader_election.has_value()) return true;
    LeaderElector* elector = Elector();
    return elector != nullptr && elector->IsLeader();
  }

 private:
  absl::Status Validate(const ControllerSpec& spec, const Reconciler* reconciler) const {
    if (spec.name.empty()) return absl::InvalidArgumentError("controller name: must not be empty");
    auto bad = [&spec](std::string_view what) {
      return absl::InvalidArgumentError(fmt::format("controller \"{}\": {}", spec.name, what));
    };
    if (reconciler == nullptr) return bad("reconciler: must not be null");
    if (spec.watches.empty()) return bad("watches: must name at least one kind");
    for (size_t i = 0; i < spec.watches.size(); ++i) {
      const WatchSpec& watch = spec.watches[i];
      if (watch.type == nullptr) return bad(fmt::format("watches[{}].type: required", i));
      if (!watch.map == !watch.handle) {
        return bad(fmt::format("watches[{}]: exactly one of map and handle is required", i));
      }
      absl::Status known = options_.client->KindOf(*watch.type).status();
      if (!known.ok()) return bad(fmt::format("watches[{}].type: {}", i, std::string(known.message())));
    }
    return absl::OkStatus();
  }

  LeaderElector* Elector() const {
    MutexLock lock(&mu_);
    return elector_.get();
  }

  absl::Status StartControllers() {
    std::vector<ControllerImpl*> controllers;
    {
      MutexLock lock(&mu_);
      if (stopped_ || controllers_running_) return absl::OkStatus();
      controllers_running_ = true;
      for (const auto& c : controllers_) controllers.push_back(c.get());
    }
    for (ControllerImpl* c : controllers) ORCH_RETURN_IF_ERROR(c->Start());
    return absl::OkStatus();
  }

  const ManagerOptions options_;
  mutable Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  bool controllers_running_ ABSL_GUARDED_BY(mu_) = false;
  // Declared first, destroyed last: controllers call them until they stop.
  std::vector<std::unique_ptr<Reconciler>> reconcilers_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<ControllerImpl>> controllers_ ABSL_GUARDED_BY(mu_);
  StringMap<std::unique_ptr<client::EventRecorder>> recorders_ ABSL_GUARDED_BY(mu_);
  // Set once by Start, before the elector runs; destroyed first (Stop stopped it).
  std::unique_ptr<LeaderElector> elector_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<Manager>> Manager::Create(ManagerOptions options) {
  if (options.client == nullptr || options.informers == nullptr || options.executor == nullptr) {
    return absl::InvalidArgumentError("ManagerOptions: client, informers and executor are required");
  }
  return std::unique_ptr<Manager>(new ManagerImpl(options));
}

}  // namespace orch::controller
