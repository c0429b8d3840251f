#include "orch/controller/replicaset.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "controller/claim.h"
#include "controller/expectations.h"
#include "controller/pods.h"
#include "controller/watches.h"
#include "fmt/format.h"
#include "orch/api/encoding.h"
#include "orch/api/selector.h"
#include "orch/api/v1/apps.pb.h"
#include "orch/api/v1/core.pb.h"
#include "orch/controller/ownership.h"

namespace orch::controller {

namespace {

namespace v1 = api::v1;
using internal::PodPtr;
using RsPtr = std::shared_ptr<const v1::ReplicaSet>;

constexpr char kComponent[] = "replicaset-controller";
// Kubernetes' SlowStartInitialBatchSize.
constexpr int kSlowStartInitialBatch = 1;

std::string KeyOf(const v1::ObjectMeta& meta) { return meta.namespace_() + "/" + meta.name(); }

int32_t Replicas(const v1::ReplicaSet& rs) {
  return rs.spec().has_replicas() ? rs.spec().replicas() : 1;
}

// Calls `fn` up to `count` times in batches of 1, 2, 4, ..., stopping after the first
// batch with a failure. Returns the successes and the first error.
template <typename Fn>
std::pair<int, absl::Status> SlowStartBatch(int count, Fn fn) {
  int successes = 0;
  int remaining = count;
  for (int batch = std::min(remaining, kSlowStartInitialBatch); batch > 0;
       batch = std::min(2 * batch, remaining)) {
    absl::Status first_error;
    for (int i = 0; i < batch; ++i) {
      absl::Status status = fn();
      if (status.ok()) {
        ++successes;
      } else if (first_error.ok()) {
        first_error = std::move(status);
      }
    }
    if (!first_error.ok()) return {successes, first_error};
    remaining -= batch;
  }
  return {successes, absl::OkStatus()};
}

class ReplicaSetReconciler final : public Reconciler {
 public:
  ReplicaSetReconciler(Manager* manager, ReplicaSetControllerOptions options,
                       client::Lister<v1::ReplicaSet> sets, client::Lister<v1::Pod> pods)
      : client_(manager->client()),
        clock_(&manager->executor()->clock()),
        events_(manager->EventRecorderFor(kComponent)),
        options_(options),
        sets_(std::move(sets)),
        pods_(std::move(pods)),
        expectations_(clock_) {}

  Result Reconcile(const Request& request) override;

  // ---- watch handlers: run before the reconciles they cause.

  void OnReplicaSet(const WatchEvent& event, RequestQueue& queue) {
    const auto& rs = static_cast<const v1::ReplicaSet&>(*event.obj);
    if (event.type == WatchEvent::Type::kDelete) expectations_.Delete(KeyOf(rs.metadata()));
    queue.Add({rs.metadata().namespace_(), rs.metadata().name()});
  }

  void OnPod(const WatchEvent& event, RequestQueue& queue) {
    const auto& pod = static_cast<const v1::Pod&>(*event.obj);
    switch (event.type) {
      case WatchEvent::Type::kCreate:
        if (pod.metadata().has_deletion_timestamp()) {
          PodGone(pod, queue);  // seen for the first time already on its way out
        } else if (RsPtr rs = ControllerOf(pod)) {
          expectations_.CreationObserved(KeyOf(rs->metadata()));
          queue.Add({rs->metadata().namespace_(), rs->metadata().name()});
        } else {
          QueueMatching(pod, queue);  // an orphan: someone may adopt it
        }
        return;
      case WatchEvent::Type::kUpdate:
        PodChanged(static_cast<const v1::Pod&>(*event.old_obj), pod, queue);
        return;
      case WatchEvent::Type::kDelete:
        PodGone(pod, queue);
        return;
    }
  }

 private:
  // The ReplicaSet `pod`'s controller reference names, if it exists with that uid.
  RsPtr ControllerOf(const v1::Pod& pod) const {
    const v1::OwnerReference* ref = GetControllerOf(pod);
    if (ref == nullptr || ref->kind() != "ReplicaSet" ||
        ref->api_version().rfind("apps/", 0) != 0) {
      return nullptr;
    }
    absl::StatusOr<RsPtr> rs = sets_.Get(pod.metadata().namespace_(), ref->name());
    if (!rs.ok() || (*rs)->metadata().uid() != ref->uid()) return nullptr;
    return *rs;
  }

  // Every ReplicaSet of the pod's namespace whose selector matches its labels.
  void QueueMatching(const v1::Pod& pod, RequestQueue& queue) const {
    for (const RsPtr& rs : sets_.ListInNamespace(pod.metadata().namespace_())) {
      absl::StatusOr<api::LabelSelector> selector =
          api::LabelSelector::FromProto(rs->spec().selector());
      if (!selector.ok() || selector->empty() || !selector->Matches(pod.metadata().labels())) {
        continue;
      }
      queue.Add({rs->metadata().namespace_(), rs->metadata().name()});
    }
  }

  void PodGone(const v1::Pod& pod, RequestQueue& queue) {
    RsPtr rs = ControllerOf(pod);
    if (rs == nullptr) return;  // nobody cares about orphans going
    expectations_.DeletionObserved(KeyOf(rs->metadata()), internal::PodKey(pod));
    queue.Add({rs->metadata().namespace_(), rs->metadata().name()});
  }

  void PodChanged(const v1::Pod& old_pod, const v1::Pod& pod, RequestQueue& queue) {
    const bool labels_changed = !internal::SameLabels(old_pod.metadata(), pod.metadata());
    if (pod.metadata().has_deletion_timestamp()) {
      // A graceful deletion: the ReplicaSet replaces the pod now, not once it is gone.
      PodGone(pod, queue);
      if (labels_changed) PodGone(old_pod, queue);
      return;
    }
    const v1::OwnerReference* old_ref = GetControllerOf(old_pod);
    const v1::OwnerReference* ref = GetControllerOf(pod);
    const bool ref_changed =
        (old_ref == nullptr) != (ref == nullptr) ||
        (ref != nullptr && !api::SameMessage(*old_ref, *ref));
    if (ref_changed && old_ref != nullptr) {
      if (RsPtr old_rs = ControllerOf(old_pod)) {
        queue.Add({old_rs->metadata().namespace_(), old_rs->metadata().name()});
      }
    }
    if (ref != nullptr) {
      RsPtr rs = ControllerOf(pod);
      if (rs == nullptr) return;
      const Request request{rs->metadata().namespace_(), rs->metadata().name()};
      queue.Add(request);
      // Becoming available is a matter of time: look again once minReadySeconds passed
      // (and a second, so the pod is past it).
      if (!internal::IsPodReady(old_pod) && internal::IsPodReady(pod) &&
          rs->spec().min_ready_seconds() > 0) {
        queue.AddAfter(request, absl::Seconds(rs->spec().min_ready_seconds() + 1));
      }
      return;
    }
    if (labels_changed || ref_changed) QueueMatching(pod, queue);
  }

  // ---- sync

  absl::Status ManageReplicas(const std::vector<PodPtr>& pods, const v1::ReplicaSet& rs);
  absl::Status CreatePod(const v1::ReplicaSet& rs);
  std::vector<PodPtr> RelatedPods(const v1::ReplicaSet& rs) const;
  v1::ReplicaSetStatus CalculateStatus(const v1::ReplicaSet& rs, const std::vector<PodPtr>& pods,
                                       const absl::Status& manage_error) const;
  absl::StatusOr<v1::ReplicaSet> UpdateStatus(v1::ReplicaSet rs, const v1::ReplicaSetStatus& status);

  client::Client* const client_;
  Clock* const clock_;
  client::EventRecorder* const events_;
  const ReplicaSetControllerOptions options_;
  const client::Lister<v1::ReplicaSet> sets_;
  const client::Lister<v1::Pod> pods_;
  internal::Expectations expectations_;
};

Result ReplicaSetReconciler::Reconcile(const Request& request) {
  const std::string key = request.Key();
  absl::StatusOr<RsPtr> cached = sets_.Get(request.ns, request.name);
  if (absl::IsNotFound(cached.status())) {
    expectations_.Delete(key);
    return {};
  }
  ORCH_RETURN_IF_ERROR(cached.status());
  const v1::ReplicaSet& rs = **cached;
  const bool needs_sync = expectations_.Satisfied(key);
  absl::StatusOr<api::LabelSelector> selector = api::LabelSelector::FromProto(rs.spec().selector());
  if (!selector.ok()) return TerminalError(selector.status());  // fixed only by an update

  std::vector<PodPtr> active;
  for (PodPtr& pod : internal::PodsForController(pods_, rs.metadata())) {
    if (internal::IsPodActive(*pod)) active.push_back(std::move(pod));
  }
  ORCH_ASSIGN_OR_RETURN(std::vector<PodPtr> pods,
                        internal::Claim(*client_, rs, "ReplicaSet", *selector, std::move(active)));

  absl::Status manage_error;
  if (needs_sync && !rs.metadata().has_deletion_timestamp()) {
    manage_error = ManageReplicas(pods, rs);
  }
  ORCH_ASSIGN_OR_RETURN(v1::ReplicaSet updated,
                        UpdateStatus(rs, CalculateStatus(rs, pods, manage_error)));
  ORCH_RETURN_IF_ERROR(manage_error);
  // Pods ready but not yet available become available with time alone: look again once
  // minReadySeconds passed, and a second (availability needs strictly more).
  const int32_t min_ready = updated.spec().min_ready_seconds();
  if (min_ready > 0 && updated.status().ready_replicas() == Replicas(updated) &&
      updated.status().available_replicas() != Replicas(updated)) {
    return Result::RequeueAfter(absl::Seconds(min_ready + 1));
  }
  return {};
}

absl::Status ReplicaSetReconciler::ManageReplicas(const std::vector<PodPtr>& pods,
                                                  const v1::ReplicaSet& rs) {
  const std::string key = KeyOf(rs.metadata());
  const int diff = static_cast<int>(pods.size()) - Replicas(rs);
  if (diff < 0) {
    const int count = std::min(-diff, options_.burst_replicas);
    expectations_.ExpectCreations(key, count);
    auto [created, error] = SlowStartBatch(count, [&] { return CreatePod(rs); });
    // Creations never attempted will never be seen: stop expecting them.
    for (int i = created; i < count; ++i) expectations_.CreationObserved(key);
    return error;
  }
  if (diff == 0) return absl::OkStatus();

  const int count = std::min(diff, options_.burst_replicas);
  std::vector<PodPtr> victims = pods;
  if (count < static_cast<int>(victims.size())) {
    internal::SortForDeletion(victims, RelatedPods(rs), clock_->Now());
  }
  victims.resize(count);
  std::vector<std::string> keys;
  for (const PodPtr& pod : victims) keys.push_back(internal::PodKey(*pod));
  expectations_.ExpectDeletions(key, keys);
  absl::Status first_error;
  for (const PodPtr& pod : victims) {
    const std::string& name = pod->metadata().name();
    absl::Status status = client_->Delete<v1::Pod>(rs.metadata().namespace_(), name);
    if (status.ok()) {
      (void)events_->Record(rs, client::kEventNormal, "SuccessfulDelete",
                            fmt::format("Deleted pod: {}", name));
      continue;
    }
    expectations_.DeletionObserved(key, internal::PodKey(*pod));  // will never be seen
    if (absl::IsNotFound(status)) continue;
    (void)events_->Record(rs, client::kEventWarning, "FailedDelete",
                          fmt::format("Error deleting: {}", std::string(status.message())));
    if (first_error.ok()) first_error = status;
  }
  return first_error;
}

absl::Status ReplicaSetReconciler::CreatePod(const v1::ReplicaSet& rs) {
  const v1::PodTemplateSpec& tmpl = rs.spec().template_();
  v1::Pod pod;
  v1::ObjectMeta& meta = *pod.mutable_metadata();
  *meta.mutable_labels() = tmpl.metadata().labels();
  *meta.mutable_annotations() = tmpl.metadata().annotations();
  *meta.mutable_finalizers() = tmpl.metadata().finalizers();
  meta.set_generate_name(rs.metadata().name() + "-");
  meta.set_namespace_(rs.metadata().namespace_());
  *pod.mutable_spec() = tmpl.spec();
  ORCH_RETURN_IF_ERROR(SetControllerReference(rs, pod, *client_->scheme()));
  absl::StatusOr<v1::Pod> created = client_->Create(pod);
  if (!created.ok()) {
    (void)events_->Record(rs, client::kEventWarning, "FailedCreate",
                          fmt::format("Error creating: {}", std::string(created.status().message())));
    return created.status();
  }
  (void)events_->Record(rs, client::kEventNormal, "SuccessfulCreate",
                        fmt::format("Created pod: {}", created->metadata().name()));
  return absl::OkStatus();
}

// The active pods of every ReplicaSet with the same controller (a Deployment's old and
// new ReplicaSets): how crowded each node is with the owner's pods.
std::vector<PodPtr> ReplicaSetReconciler::RelatedPods(const v1::ReplicaSet& rs) const {
  const v1::OwnerReference* owner = GetControllerOf(rs);
  std::vector<RsPtr> related;
  if (owner == nullptr) {
    related.push_back(std::make_shared<const v1::ReplicaSet>(rs));
  } else {
    for (RsPtr& other : sets_.ListInNamespace(rs.metadata().namespace_())) {
      const v1::OwnerReference* other_owner = GetControllerOf(*other);
      if (other_owner != nullptr && other_owner->uid() == owner->uid()) {
        related.push_back(std::move(other));
      }
    }
  }
  std::vector<PodPtr> pods;
  StringSet seen;
  for (const RsPtr& other : related) {
    absl::StatusOr<api::LabelSelector> selector =
        api::LabelSelector::FromProto(other->spec().selector());
    if (!selector.ok()) continue;
    for (PodPtr& pod : pods_.ListInNamespace(rs.metadata().namespace_(), *selector)) {
      if (seen.insert(pod->metadata().uid()).second) pods.push_back(std::move(pod));
    }
  }
  return pods;
}

v1::ReplicaSetStatus ReplicaSetReconciler::CalculateStatus(const v1::ReplicaSet& rs,
                                                           const std::vector<PodPtr>& pods,
                                                           const absl::Status& manage_error) const {
  v1::ReplicaSetStatus status = rs.status();
  const api::LabelSelector template_labels =
      api::LabelSelector::FromMap(rs.spec().template_().metadata().labels());
  const absl::Time now = clock_->Now();
  int32_t fully_labeled = 0, ready = 0, available = 0;
  for (const PodPtr& pod : pods) {
    if (template_labels.Matches(pod->metadata().labels())) ++fully_labeled;
    if (internal::IsPodReady(*pod)) {
      ++ready;
      if (internal::IsPodAvailable(*pod, rs.spec().min_ready_seconds(), now)) ++available;
    }
  }
  status.set_replicas(static_cast<int32_t>(pods.size()));
  status.set_fully_labeled_replicas(fully_labeled);
  status.set_ready_replicas(ready);
  status.set_available_replicas(available);
  status.set_observed_generation(rs.metadata().generation());

  auto* conditions = status.mutable_conditions();
  auto failure = std::find_if(conditions->begin(), conditions->end(),
                              [](const auto& c) { return c.type() == "ReplicaFailure"; });
  if (!manage_error.ok() && failure == conditions->end()) {
    v1::ReplicaSetCondition& c = *conditions->Add();
    c.set_type("ReplicaFailure");
    c.set_status("True");
    c.set_reason(static_cast<int>(pods.size()) < Replicas(rs) ? "FailedCreate" : "FailedDelete");
    c.set_message(std::string(manage_error.message()));
    c.mutable_last_transition_time()->set_seconds(absl::ToUnixSeconds(now));
  } else if (manage_error.ok() && failure != conditions->end()) {
    conditions->erase(failure);
  }
  return status;
}

// Writes the status unless it is already so; one retry on a fresh read (Kubernetes'
// statusUpdateRetries).
absl::StatusOr<v1::ReplicaSet> ReplicaSetReconciler::UpdateStatus(
    v1::ReplicaSet rs, const v1::ReplicaSetStatus& status) {
  if (api::SameMessage(rs.status(), status)) return rs;
  absl::Status last;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (attempt > 0) {
      ORCH_ASSIGN_OR_RETURN(rs, client_->Get<v1::ReplicaSet>(rs.metadata().namespace_(),
                                                             rs.metadata().name()));
    }
    *rs.mutable_status() = status;
    rs.mutable_status()->set_observed_generation(rs.metadata().generation());
    absl::StatusOr<v1::ReplicaSet> written = client_->UpdateStatus(rs);
    if (written.ok()) return written;
    last = written.status();
    if (absl::IsNotFound(last)) break;
  }
  return last;
}

}  // namespace

absl::StatusOr<Controller*> AddReplicaSetController(Manager* manager,
                                                    ReplicaSetControllerOptions options) {
  client::SharedInformerFactory& informers = *manager->informers();
  ORCH_ASSIGN_OR_RETURN(auto sets, informers.InformerFor<v1::ReplicaSet>());
  ORCH_ASSIGN_OR_RETURN(auto pods, informers.InformerFor<v1::Pod>());
  ORCH_RETURN_IF_ERROR(internal::AddPodsByControllerIndex(pods));
  auto reconciler =
      std::make_unique<ReplicaSetReconciler>(manager, options, sets.lister(), pods.lister());
  ReplicaSetReconciler* r = reconciler.get();
  ControllerSpec spec{.name = "replicaset"};
  spec.watches.push_back(internal::HandledBy<v1::ReplicaSet>(r, &ReplicaSetReconciler::OnReplicaSet));
  spec.watches.push_back(internal::HandledBy<v1::Pod>(r, &ReplicaSetReconciler::OnPod));
  spec.options.max_concurrent_reconciles = options.concurrent_syncs;
  return manager->NewController(std::move(spec), std::move(reconciler));
}

}  // namespace orch::controller
