#include "orch/scheduler/scheduler.h"

#include <atomic>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "fmt/format.h"
#include "orch/api/encoding.h"
#include "orch/base/mutex.h"
#include "orch/base/status.h"
#include "orch/base/string_map.h"
#include "orch/client/events.h"
#include "orch/scheduler/extender.h"
#include "scheduler/algorithm.h"
#include "scheduler/cache.h"
#include "scheduler/cycle.h"
#include "scheduler/plugins/factories.h"
#include "scheduler/profile.h"
#include "scheduler/queue.h"

namespace orch::scheduler {
namespace {

using internal::CycleOutcome;
using internal::Profile;
using internal::SchedulerCache;

// How often assumptions whose bind never showed up are dropped (Kubernetes' 1 s).
constexpr absl::Duration kCleanupPeriod = absl::Seconds(1);

bool Assigned(const api::v1::Pod& pod) { return !pod.spec().node_name().empty(); }

bool Terminal(const api::v1::Pod& pod) {
  return pod.status().phase() == "Succeeded" || pod.status().phase() == "Failed";
}

const std::string& SchedulerNameOf(const api::v1::Pod& pod) {
  static const std::string* const kDefault = new std::string(kDefaultSchedulerName);
  return pod.spec().scheduler_name().empty() ? *kDefault : pod.spec().scheduler_name();
}

std::string PodKey(const PodInfo& pod) { return absl::StrCat(pod.namespace_(), "/", pod.name()); }

// Which node changes a pod waiting for a node event may care about (Kubernetes'
// nodeSchedulingPropertiesChange); 0 for none (a heartbeat).
uint32_t NodeUpdateActions(const api::v1::Node& old_node, const api::v1::Node& new_node) {
  // Each property is compared by copying just it out of both nodes.
  auto differs = [&](auto copy) {
    api::v1::Node a, b;
    copy(old_node, a);
    copy(new_node, b);
    return !api::SameMessage(a, b);
  };
  uint32_t actions = 0;
  if (differs([](const api::v1::Node& from, api::v1::Node& to) {
        *to.mutable_status()->mutable_allocatable() = from.status().allocatable();
      })) {
    actions |= kUpdateNodeAllocatable;
  }
  if (differs([](const api::v1::Node& from, api::v1::Node& to) {
        *to.mutable_metadata()->mutable_labels() = from.metadata().labels();
      })) {
    actions |= kUpdateNodeLabel;
  }
  if (differs([](const api::v1::Node& from, api::v1::Node& to) {
        *to.mutable_spec()->mutable_taints() = from.spec().taints();
        to.mutable_spec()->set_unschedulable(from.spec().unschedulable());
      })) {
    actions |= kUpdateNodeTaint;
  }
  if (differs([](const api::v1::Node& from, api::v1::Node& to) {
        for (const auto& c : from.status().conditions()) {
          auto* copy = to.mutable_status()->add_conditions();
          copy->set_type(c.type());
          copy->set_status(c.status());
        }
      })) {
    actions |= kUpdateNodeCondition;
  }
  if (differs([](const api::v1::Node& from, api::v1::Node& to) {
        *to.mutable_status()->mutable_images() = from.status().images();
      })) {
    actions |= kUpdateOther;
  }
  return actions;
}

// ------------------------------------------------------------------ the scheduler

class Core : public Profile::WaitingPods, public std::enable_shared_from_this<Core> {
 public:
  Core(SchedulerOptions options, std::vector<std::unique_ptr<Extender>> extenders)
      : options_(std::move(options)),
        owned_extenders_(std::move(extenders)),
        extenders_(internal::BorrowExtenders(owned_extenders_)),
        cache_(options_.assumed_pod_ttl),
        algorithm_(options_.seed, options_.reuse_equivalent_pods, extenders_) {}

  absl::Status Init();
  absl::Status Start();
  void Stop();
  SchedulerStats stats() const;

  // WaitingPods.
  bool Allow(std::string_view uid, std::string_view plugin) override;
  bool Reject(std::string_view uid, std::string_view plugin, std::string_view message) override;

 private:
  // A pod between its scheduling cycle and the end of its binding cycle.
  struct Binding {
    QueuedPodInfo queued;
    int64_t cycle = 0;
    Profile* profile = nullptr;
    std::unique_ptr<CycleState> state;
    std::string node;
    StringSet waiting_on;  // Permit plugins still holding it
    TimerId permit_timer = 0;
  };

  // Informer events.
  void OnPodAdd(const std::shared_ptr<const api::v1::Pod>& pod);
  void OnPodUpdate(const std::shared_ptr<const api::v1::Pod>& old_pod,
                   const std::shared_ptr<const api::v1::Pod>& new_pod);
  void OnPodDelete(const std::shared_ptr<const api::v1::Pod>& pod);
  void OnNode(const std::shared_ptr<const api::v1::Node>& old_node,
              const std::shared_ptr<const api::v1::Node>& new_node);
  void OnNodeDelete(const std::shared_ptr<const api::v1::Node>& node);
  void OnNamespace(const std::shared_ptr<const api::v1::Namespace>& ns, bool deleted);
  bool Responsible(const api::v1::Pod& pod) const {
    return profiles_.contains(SchedulerNameOf(pod)) && !pod.metadata().has_deletion_timestamp();
  }
  void AddBoundPod(const std::shared_ptr<const api::v1::Pod>& pod, bool was_bound)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // The scheduling loop.
  void Kick();
  void RunLoop();
  void ScheduleOne(QueuedPodInfo queued, int64_t cycle) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Fail(const QueuedPodInfo& queued, int64_t cycle,
            const absl::flat_hash_set<std::string>& rejectors,
            std::string reason, std::string message, std::string nominated_node = "")
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StartBinding(std::shared_ptr<Binding> binding) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Bind(std::shared_ptr<Binding> binding);
  // The binder extender interested in the pod binds it; without one, the Bind plugins do.
  Status BindPod(Binding& binding);
  void AbortBinding(const std::shared_ptr<Binding>& binding, std::string reason,
                    std::string message, bool conflict) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ReportUnschedulable(std::shared_ptr<const api::v1::Pod> pod, std::string reason,
                           std::string message, std::string nominated_node = "");
  void Periodic();

  const SchedulerOptions options_;
  // Fixed at construction; every call on an extender may come from any thread.
  const std::vector<std::unique_ptr<Extender>> owned_extenders_;
  const std::vector<Extender*> extenders_;
  mutable Mutex mu_;
  SchedulerCache cache_ ABSL_GUARDED_BY(mu_);
  internal::Algorithm algorithm_ ABSL_GUARDED_BY(mu_);
  StringMap<std::unique_ptr<Profile>> profiles_;  // fixed after Init
  std::unique_ptr<SchedulingQueue> queue_;        // internally synchronized
  StringMap<std::shared_ptr<Binding>> waiting_ ABSL_GUARDED_BY(mu_);
  SchedulerStats stats_ ABSL_GUARDED_BY(mu_);

  std::atomic<bool> running_{false};
  std::atomic<bool> loop_posted_{false};
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  TimerId periodic_timer_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::function<void()>> unsubscribe_;
};

absl::Status Core::Init() {
  Profile::Environment environment{&cache_, options_.client->clock(), options_.client,
                                   options_.informers};
  // Create validated the configuration: at least one profile, names unique.
  Profile* first = nullptr;
  for (int i = 0; i < options_.config.profiles_size(); ++i) {
    ORCH_ASSIGN_OR_RETURN(std::unique_ptr<Profile> profile,
                          Profile::Create(options_.config, i, options_.config_source,
                                          options_.registry, environment));
    profile->set_waiting_pods(this);
    if (first == nullptr) first = profile.get();
    const std::string name = profile->scheduler_name();
    profiles_.emplace(name, std::move(profile));
  }
  // All profiles share one queue, ordered by profiles[0]'s QueueSort, as Kubernetes does
  // (validation made every profile's the same).
  PluginEvents events;
  for (const auto& [name, profile] : profiles_) {
    for (auto& [plugin, registered] : profile->RegisteredEvents()) events[plugin] = registered;
  }
  SchedulingQueueOptions queue_options;
  queue_options.pod_initial_backoff = InitialBackoff(options_.config);
  queue_options.pod_max_backoff = MaxBackoff(options_.config);
  queue_ = std::make_unique<SchedulingQueue>(*first->queue_sort(), *options_.client->clock(),
                                             std::move(events), queue_options);
  for (const auto& [name, profile] : profiles_) profile->set_nominator(queue_.get());
  return absl::OkStatus();
}

absl::Status Core::Start() {
  {
    MutexLock lock(&mu_);
    if (started_) return absl::OkStatus();
    started_ = true;
  }
  running_ = true;
  std::weak_ptr<Core> weak = weak_from_this();
  auto guard = [weak](auto f) {
    return [weak, f](const auto&... args) {
      if (std::shared_ptr<Core> core = weak.lock(); core && core->running_) f(*core, args...);
    };
  };

  ORCH_ASSIGN_OR_RETURN(auto pods, options_.informers->InformerFor<api::v1::Pod>());
  client::EventHandler<api::v1::Pod> pod_handler;
  pod_handler.on_add = guard([](Core& c, const auto& pod) { c.OnPodAdd(pod); });
  pod_handler.on_update = guard([](Core& c, const auto& o, const auto& n) { c.OnPodUpdate(o, n); });
  pod_handler.on_delete = guard([](Core& c, const auto& pod) { c.OnPodDelete(pod); });
  const client::HandlerId pod_id = pods.AddEventHandler(std::move(pod_handler));
  unsubscribe_.push_back([pods, pod_id]() mutable { pods.RemoveEventHandler(pod_id); });

  ORCH_ASSIGN_OR_RETURN(auto nodes, options_.informers->InformerFor<api::v1::Node>());
  client::EventHandler<api::v1::Node> node_handler;
  node_handler.on_add = guard([](Core& c, const auto& node) { c.OnNode(nullptr, node); });
  node_handler.on_update = guard([](Core& c, const auto& o, const auto& n) { c.OnNode(o, n); });
  node_handler.on_delete = guard([](Core& c, const auto& node) { c.OnNodeDelete(node); });
  const client::HandlerId node_id = nodes.AddEventHandler(std::move(node_handler));
  unsubscribe_.push_back([nodes, node_id]() mutable { nodes.RemoveEventHandler(node_id); });

  ORCH_ASSIGN_OR_RETURN(auto namespaces, options_.informers->InformerFor<api::v1::Namespace>());
  client::EventHandler<api::v1::Namespace> ns_handler;
  ns_handler.on_add = guard([](Core& c, const auto& ns) { c.OnNamespace(ns, false); });
  ns_handler.on_update = guard([](Core& c, const auto&, const auto& ns) { c.OnNamespace(ns, false); });
  ns_handler.on_delete = guard([](Core& c, const auto& ns) { c.OnNamespace(ns, true); });
  const client::HandlerId ns_id = namespaces.AddEventHandler(std::move(ns_handler));
  unsubscribe_.push_back([namespaces, ns_id]() mutable { namespaces.RemoveEventHandler(ns_id); });

  MutexLock lock(&mu_);
  periodic_timer_ = options_.executor->PostAfter(kFlushPeriod, [weak] {
    if (std::shared_ptr<Core> core = weak.lock()) core->Periodic();
  });
  return absl::OkStatus();
}

void Core::Stop() {
  if (!running_.exchange(false)) return;
  for (auto& unsubscribe : unsubscribe_) unsubscribe();
  unsubscribe_.clear();
  MutexLock lock(&mu_);
  if (periodic_timer_ != 0) options_.executor->Cancel(periodic_timer_);
  periodic_timer_ = 0;
  for (auto& [uid, binding] : waiting_) {
    if (binding->permit_timer != 0) options_.executor->Cancel(binding->permit_timer);
  }
  waiting_.clear();
}

SchedulerStats Core::stats() const {
  MutexLock lock(&mu_);
  SchedulerStats stats = stats_;
  const SchedulingQueue::Counts counts = queue_->counts();
  stats.pending = static_cast<int64_t>(counts.active + counts.backoff + counts.unschedulable +
                                       counts.in_flight);
  return stats;
}

void Core::Periodic() {
  if (!running_) return;
  queue_->Flush();
  {
    MutexLock lock(&mu_);
    const int expired = cache_.CleanupExpired(options_.client->clock()->Now());
    stats_.expired_assumptions += expired;
    if (expired > 0) queue_->MoveAllToActiveOrBackoffQueue({EventResource::kPod, kDelete});
    std::weak_ptr<Core> weak = weak_from_this();
    periodic_timer_ = options_.executor->PostAfter(kFlushPeriod, [weak] {
      if (std::shared_ptr<Core> core = weak.lock()) core->Periodic();
    });
  }
  Kick();
}

// ------------------------------------------------------------------ informer events

void Core::OnPodAdd(const std::shared_ptr<const api::v1::Pod>& pod) {
  if (Assigned(*pod)) {
    if (Terminal(*pod)) return;
    MutexLock lock(&mu_);
    AddBoundPod(pod, /*was_bound=*/false);
    return;
  }
  if (!Responsible(*pod)) return;
  absl::StatusOr<PodInfoPtr> info = PodInfo::Create(pod);
  if (!info.ok()) {  // nothing to retry until the pod changes
    ReportUnschedulable(pod, "SchedulerError", std::string(info.status().message()));
    return;
  }
  queue_->Add(*std::move(info));
  Kick();
}

void Core::AddBoundPod(const std::shared_ptr<const api::v1::Pod>& pod, bool was_bound) {
  const auto* ns_labels = cache_.NamespaceLabels(pod->metadata().namespace_());
  if (!was_bound) {
    // Most often the pod this scheduler assumed and bound, as its bind wrote it.
    if (PodInfoPtr confirmed = cache_.ConfirmOwnBind(pod)) {
      queue_->AssignedPodAdded(*confirmed, ns_labels);
      return;
    }
  }
  const PodInfoPtr previous = cache_.PodOf(pod->metadata().uid());
  if (was_bound && previous != nullptr) {
    // Most often a node agent reporting the pod's progress: only its status changed.
    if (PodInfoPtr updated = cache_.UpdateStatusOnly(pod)) {
      queue_->AssignedPodUpdated(*previous, *updated, ns_labels);
      return;
    }
  }
  absl::StatusOr<PodInfoPtr> info = PodInfo::Create(pod);
  if (!info.ok()) return;  // a pod the scheduler cannot read cannot be counted
  cache_.AddOrUpdatePod(*info);
  if (was_bound && previous != nullptr) {
    queue_->AssignedPodUpdated(*previous, **info, ns_labels);
  } else {
    queue_->AssignedPodAdded(**info, ns_labels);
  }
}

void Core::OnPodUpdate(const std::shared_ptr<const api::v1::Pod>& old_pod,
                       const std::shared_ptr<const api::v1::Pod>& new_pod) {
  if (Assigned(*new_pod)) {
    if (!Assigned(*old_pod)) queue_->Delete(new_pod->metadata().uid());
    {
      MutexLock lock(&mu_);
      if (Terminal(*new_pod)) {
        cache_.RemovePod(new_pod->metadata().uid());
        queue_->MoveAllToActiveOrBackoffQueue({EventResource::kPod, kDelete});
      } else {
        AddBoundPod(new_pod, Assigned(*old_pod));
      }
    }
    Kick();
    return;
  }
  if (!Responsible(*new_pod)) {
    queue_->Delete(new_pod->metadata().uid());
    return;
  }
  absl::StatusOr<PodInfoPtr> info = PodInfo::Create(new_pod);
  if (!info.ok()) return;
  queue_->Update(*old_pod, *std::move(info));
  Kick();
}

void Core::OnPodDelete(const std::shared_ptr<const api::v1::Pod>& pod) {
  const std::string& uid = pod->metadata().uid();
  if (Assigned(*pod)) {
    {
      MutexLock lock(&mu_);
      cache_.RemovePod(uid);
      queue_->MoveAllToActiveOrBackoffQueue({EventResource::kPod, kDelete});
    }
    Kick();
    return;
  }
  queue_->Delete(uid);
  MutexLock lock(&mu_);
  auto waiting = waiting_.find(uid);
  if (waiting != waiting_.end()) {
    std::shared_ptr<Binding> binding = waiting->second;
    AbortBinding(binding, "", "", false);
  }
}

void Core::OnNode(const std::shared_ptr<const api::v1::Node>& old_node,
                  const std::shared_ptr<const api::v1::Node>& new_node) {
  uint32_t actions = kAdd;
  if (old_node != nullptr) {
    actions = NodeUpdateActions(*old_node, *new_node);
  }
  {
    MutexLock lock(&mu_);
    absl::Status added = cache_.AddOrUpdateNode(new_node);
    if (!added.ok()) return;  // a node with unreadable allocatable is left out
    if (actions != 0) queue_->MoveAllToActiveOrBackoffQueue({EventResource::kNode, actions});
  }
  Kick();
}

void Core::OnNodeDelete(const std::shared_ptr<const api::v1::Node>& node) {
  MutexLock lock(&mu_);
  cache_.RemoveNode(node->metadata().name());
  queue_->MoveAllToActiveOrBackoffQueue({EventResource::kNode, kDelete});
}

void Core::OnNamespace(const std::shared_ptr<const api::v1::Namespace>& ns, bool deleted) {
  {
    MutexLock lock(&mu_);
    if (deleted) {
      cache_.RemoveNamespace(ns->metadata().name());
    } else {
      cache_.SetNamespace(ns->metadata().name(), ns->metadata().labels());
    }
    queue_->MoveAllToActiveOrBackoffQueue(
        {EventResource::kNamespace, deleted ? static_cast<uint32_t>(kDelete) : kAdd | kUpdate});
  }
  Kick();
}

// ------------------------------------------------------------------ scheduling cycle

void Core::Kick() {
  if (!running_ || loop_posted_.exchange(true)) return;
  std::weak_ptr<Core> weak = weak_from_this();
  options_.executor->Post([weak] {
    if (std::shared_ptr<Core> core = weak.lock()) core->RunLoop();
  });
}

void Core::RunLoop() {
  if (running_) {
    MutexLock lock(&mu_);
    for (int i = 0; i < options_.batch_size && running_; ++i) {
      std::optional<QueuedPodInfo> queued = queue_->Pop();
      if (!queued) break;
      ScheduleOne(*std::move(queued), queue_->SchedulingCycle());
    }
  }
  loop_posted_ = false;
  if (running_ && queue_->counts().active > 0) Kick();
}

void Core::ScheduleOne(QueuedPodInfo queued, int64_t cycle) {
  const PodInfoPtr& pod = queued.pod;
  if (cache_.PodOf(pod->uid()) != nullptr) {
    queue_->Done(pod->uid());  // already placed; the informer has not caught up yet
    return;
  }
  Profile& profile = *profiles_.find(SchedulerNameOf(pod->pod()))->second;
  auto state = std::make_unique<CycleState>();
  ++stats_.attempts;
  absl::StatusOr<CycleOutcome> outcome =
      internal::RunSchedulingCycle(profile, algorithm_, cache_, *state, pod, false);
  if (!outcome.ok()) {
    ++stats_.errors;
    Fail(queued, cycle, {}, "SchedulerError", std::string(outcome.status().message()));
    return;
  }
  if (outcome->node.empty()) {
    ++stats_.unschedulable;
    Fail(queued, cycle, outcome->rejectors, "Unschedulable", outcome->message,
         outcome->nominated_node);
    if (!outcome->nominated_node.empty()) {
      ++stats_.preemptions;
      queue_->AddNominatedPod(pod, outcome->nominated_node);
    }
    return;
  }
  queue_->DeleteNominatedPod(pod->uid());
  auto binding = std::make_shared<Binding>();
  binding->queued = std::move(queued);
  binding->cycle = cycle;
  binding->profile = &profile;
  binding->state = std::move(state);
  binding->node = std::move(outcome->node);
  StartBinding(std::move(binding));
}

void Core::Fail(const QueuedPodInfo& queued, int64_t cycle,
                const absl::flat_hash_set<std::string>& rejectors,
                std::string reason, std::string message, std::string nominated_node) {
  absl::Status requeued = queue_->AddUnschedulableIfNotPresent(queued, rejectors, cycle);
  if (absl::IsNotFound(requeued)) return;  // deleted meanwhile: nothing to report
  ReportUnschedulable(queued.pod->pod_ptr(), std::move(reason), std::move(message),
                      std::move(nominated_node));
}

// Writes PodScheduled=False (and status.nominatedNodeName after a preemption) and a
// FailedScheduling Event, off the scheduling thread's lock (they are store writes; the next
// cycle does not wait for them).
void Core::ReportUnschedulable(std::shared_ptr<const api::v1::Pod> pod, std::string reason,
                               std::string message, std::string nominated_node) {
  std::weak_ptr<Core> weak = weak_from_this();
  options_.executor->Post([weak, pod, reason = std::move(reason), message = std::move(message),
                           nominated_node = std::move(nominated_node)] {
    std::shared_ptr<Core> core = weak.lock();
    if (!core || !core->running_) return;
    client::Client& client = *core->options_.client;
    for (int attempt = 0; attempt < 3; ++attempt) {
      absl::StatusOr<api::v1::Pod> current =
          client.Get<api::v1::Pod>(pod->metadata().namespace_(), pod->metadata().name());
      if (!current.ok() || current->metadata().uid() != pod->metadata().uid() ||
          Assigned(*current)) {
        break;
      }
      api::v1::PodCondition* condition = nullptr;
      for (auto& c : *current->mutable_status()->mutable_conditions()) {
        if (c.type() == "PodScheduled") condition = &c;
      }
      if (condition != nullptr && condition->status() == "False" &&
          condition->reason() == reason && condition->message() == message &&
          (nominated_node.empty() || current->status().nominated_node_name() == nominated_node)) {
        break;  // already says so
      }
      if (!nominated_node.empty()) current->mutable_status()->set_nominated_node_name(nominated_node);
      if (condition == nullptr) {
        condition = current->mutable_status()->add_conditions();
        condition->set_type("PodScheduled");
      }
      condition->set_status("False");
      condition->set_reason(reason);
      condition->set_message(message);
      condition->mutable_last_transition_time()->set_seconds(
          absl::ToUnixSeconds(client.clock()->Now()));
      if (current->status().phase().empty()) current->mutable_status()->set_phase("Pending");
      absl::StatusOr<api::v1::Pod> written = client.UpdateStatus(*current);
      if (!absl::IsAborted(written.status())) break;
    }
    if (core->options_.record_events) {
      // The pod's profile reports it (Responsible: one serves its schedulerName).
      auto profile = core->profiles_.find(SchedulerNameOf(*pod));
      if (profile != core->profiles_.end()) {
        (void)profile->second->event_recorder()->Record(*pod, client::kEventWarning,
                                                        "FailedScheduling", message);
      }
    }
  });
}

// ------------------------------------------------------------------ binding cycle

void Core::StartBinding(std::shared_ptr<Binding> binding) {
  const PodInfo& pod = *binding->queued.pod;
  absl::Duration timeout;
  std::vector<std::string> waiting_plugins;
  Status permit =
      binding->profile->RunPermit(*binding->state, pod, binding->node, &timeout, &waiting_plugins);
  if (permit.IsRejected() || permit.code() == Code::kError) {
    AbortBinding(binding, permit.code() == Code::kError ? "SchedulerError" : "Unschedulable",
                 fmt::format("running Permit plugin \"{}\": {}", permit.plugin(), permit.Message()),
                 false);
    return;
  }
  std::weak_ptr<Core> weak = weak_from_this();
  if (permit.code() == Code::kWait) {
    binding->waiting_on.insert(waiting_plugins.begin(), waiting_plugins.end());
    const std::string uid = pod.uid();
    const std::string plugins = fmt::format("{}", fmt::join(waiting_plugins, ", "));
    binding->permit_timer = options_.executor->PostAfter(timeout, [weak, uid, timeout, plugins] {
      if (std::shared_ptr<Core> core = weak.lock()) {
        core->Reject(uid, "", fmt::format("rejected due to timeout after waiting {} at plugin {}",
                                          absl::FormatDuration(timeout), plugins));
      }
    });
    waiting_.emplace(uid, std::move(binding));
    return;
  }
  options_.executor->Post([weak, binding = std::move(binding)]() mutable {
    if (std::shared_ptr<Core> core = weak.lock()) core->Bind(std::move(binding));
  });
}

bool Core::Allow(std::string_view uid, std::string_view plugin) {
  MutexLock lock(&mu_);
  auto it = waiting_.find(uid);
  if (it == waiting_.end() || !it->second->waiting_on.contains(plugin)) return false;
  std::shared_ptr<Binding> binding = it->second;
  binding->waiting_on.erase(std::string(plugin));
  if (binding->waiting_on.empty()) {
    options_.executor->Cancel(binding->permit_timer);
    waiting_.erase(it);
    std::weak_ptr<Core> weak = weak_from_this();
    options_.executor->Post([weak, binding = std::move(binding)]() mutable {
      if (std::shared_ptr<Core> core = weak.lock()) core->Bind(std::move(binding));
    });
  }
  return true;
}

bool Core::Reject(std::string_view uid, std::string_view plugin, std::string_view message) {
  MutexLock lock(&mu_);
  auto it = waiting_.find(uid);
  if (it == waiting_.end()) return false;
  if (!plugin.empty() && !it->second->waiting_on.contains(plugin)) return false;
  std::shared_ptr<Binding> binding = it->second;
  if (!plugin.empty()) options_.executor->Cancel(binding->permit_timer);
  AbortBinding(binding, "Unschedulable", std::string(message), false);
  return true;
}

void Core::Bind(std::shared_ptr<Binding> binding) {
  if (!running_) return;
  const PodInfo& pod = *binding->queued.pod;
  Status status = binding->profile->RunPreBind(*binding->state, pod, binding->node);
  if (status.ok()) status = BindPod(*binding);
  MutexLock lock(&mu_);
  if (!status.ok()) {
    const bool conflict = status.cause() == absl::StatusCode::kAborted;
    AbortBinding(binding, "SchedulerError", status.Message(), conflict);
    return;
  }
  const auto* bound = binding->state->Read<plugins::BoundVersion>(plugins::kBoundVersionKey);
  cache_.FinishBinding(pod.uid(), options_.client->clock()->Now(),
                       bound != nullptr ? bound->resource_version : std::string());
  queue_->Done(pod.uid());
  ++stats_.scheduled;
  binding->profile->RunPostBind(*binding->state, pod, binding->node);
  if (options_.record_events) {
    (void)binding->profile->event_recorder()->Record(
        pod.pod(), client::kEventNormal, "Scheduled",
        absl::StrCat("Successfully assigned ", PodKey(pod), " to ", binding->node));
  }
}

Status Core::BindPod(Binding& binding) {
  const PodInfo& pod = *binding.queued.pod;
  absl::StatusOr<bool> bound = BindWithExtenders(extenders_, pod.pod(), binding.node);
  if (!bound.ok()) return Status::Error(std::string(bound.status().message()));
  if (*bound) return Status();
  return binding.profile->RunBind(*binding.state, pod, binding.node);
}

void Core::AbortBinding(const std::shared_ptr<Binding>& binding, std::string reason,
                        std::string message, bool conflict) {
  const PodInfo& pod = *binding->queued.pod;
  waiting_.erase(pod.uid());
  binding->profile->RunUnreserve(*binding->state, pod, binding->node);
  cache_.ForgetPod(pod.uid());
  // The node has room again: pods waiting for a pod to go may fit now.
  queue_->MoveAllToActiveOrBackoffQueue({EventResource::kPod, kDelete});
  if (conflict) ++stats_.bind_conflicts; else if (!reason.empty()) ++stats_.errors;
  if (reason.empty()) {
    queue_->Done(pod.uid());  // the pod is gone
    return;
  }
  Fail(binding->queued, binding->cycle, {}, std::move(reason), std::move(message));
  Kick();
}

// ------------------------------------------------------------------ the facade

class SchedulerImpl final : public Scheduler {
 public:
  explicit SchedulerImpl(std::shared_ptr<Core> core) : core_(std::move(core)) {}
  ~SchedulerImpl() override { core_->Stop(); }
  absl::Status Start() override { return core_->Start(); }
  void Stop() override { core_->Stop(); }
  SchedulerStats stats() const override { return core_->stats(); }

 private:
  std::shared_ptr<Core> core_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Scheduler>> Scheduler::Create(SchedulerOptions options) {
  if (options.client == nullptr || options.informers == nullptr || options.executor == nullptr) {
    return absl::InvalidArgumentError(
        "SchedulerOptions: client, informers and executor are required");
  }
  if (options.batch_size <= 0) {
    return absl::InvalidArgumentError("SchedulerOptions.batch_size: must be positive");
  }
  ORCH_ASSIGN_OR_RETURN(options.config,
                        DefaultAndValidateConfig(std::move(options.config),
                                                 options.config_source, options.registry));
  absl::StatusOr<std::vector<std::unique_ptr<Extender>>> extenders =
      MakeExtenders(options.config);
  if (!extenders.ok()) return Annotate(extenders.status(), options.config_source);
  auto core = std::make_shared<Core>(std::move(options), *std::move(extenders));
  ORCH_RETURN_IF_ERROR(core->Init());
  return std::unique_ptr<Scheduler>(new SchedulerImpl(std::move(core)));
}

}  // namespace orch::scheduler
