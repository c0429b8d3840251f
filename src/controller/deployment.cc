#include "orch/controller/deployment.h"

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "controller/claim.h"
#include "controller/deployment_util.h"
#include "controller/pods.h"
#include "controller/watches.h"
#include "fmt/format.h"
#include "orch/api/encoding.h"
#include "orch/api/selector.h"
#include "orch/api/v1/core.pb.h"
#include "orch/controller/ownership.h"

namespace orch::controller {

namespace {

namespace v1 = api::v1;
using internal::PodPtr;
using internal::Replicas;
using internal::RsPtr;
using DeploymentPtr = std::shared_ptr<const v1::Deployment>;

constexpr char kComponent[] = "deployment-controller";

bool SelectsEverything(const v1::LabelSelector& selector) {
  return selector.match_labels().empty() && selector.match_expressions().empty();
}

Request RequestFor(const v1::ObjectMeta& meta) { return {meta.namespace_(), meta.name()}; }

// Newer first among equal sizes when growing, older first when shrinking.
void SortBySize(std::vector<RsPtr>& sets, bool newer_first) {
  internal::SortByCreation(sets);
  if (newer_first) std::reverse(sets.begin(), sets.end());
  std::stable_sort(sets.begin(), sets.end(),
                   [](const RsPtr& a, const RsPtr& b) { return Replicas(*a) > Replicas(*b); });
}

class DeploymentReconciler final : public Reconciler {
 public:
  DeploymentReconciler(Manager* manager, client::Lister<v1::Deployment> deployments,
                       client::Lister<v1::ReplicaSet> sets, client::Lister<v1::Pod> pods)
      : client_(manager->client()),
        clock_(&manager->executor()->clock()),
        events_(manager->EventRecorderFor(kComponent)),
        deployments_(std::move(deployments)),
        sets_(std::move(sets)),
        pods_(std::move(pods)) {}

  Result Reconcile(const Request& request) override;

  // ---- watch handlers

  void OnReplicaSet(const WatchEvent& event, RequestQueue& queue) const {
    const auto& rs = static_cast<const v1::ReplicaSet&>(*event.obj);
    if (event.type == WatchEvent::Type::kUpdate) {
      const auto& old_rs = static_cast<const v1::ReplicaSet&>(*event.old_obj);
      const v1::OwnerReference* old_ref = GetControllerOf(old_rs);
      const v1::OwnerReference* ref = GetControllerOf(rs);
      const bool ref_changed =
          (old_ref == nullptr) != (ref == nullptr) ||
          (ref != nullptr && !api::SameMessage(*old_ref, *ref));
      if (ref_changed && old_ref != nullptr) {
        if (DeploymentPtr d = ControllerOf(old_rs)) queue.Add(RequestFor(d->metadata()));
      }
      if (ref != nullptr) {
        if (DeploymentPtr d = ControllerOf(rs)) queue.Add(RequestFor(d->metadata()));
        return;
      }
      const bool labels_changed = !internal::SameLabels(old_rs.metadata(), rs.metadata());
      if (labels_changed || ref_changed) QueueMatching(rs, queue);
      return;
    }
    if (DeploymentPtr d = ControllerOf(rs)) {
      queue.Add(RequestFor(d->metadata()));
    } else if (event.type == WatchEvent::Type::kCreate) {
      QueueMatching(rs, queue);  // an orphan: someone may adopt it
    }
  }

  // A Recreate rollout waits for the old pods to be gone: look again when the last goes.
  void OnPod(const WatchEvent& event, RequestQueue& queue) const {
    if (event.type != WatchEvent::Type::kDelete) return;
    const auto& pod = static_cast<const v1::Pod&>(*event.obj);
    const v1::OwnerReference* ref = GetControllerOf(pod);
    if (ref == nullptr || ref->kind() != "ReplicaSet") return;
    absl::StatusOr<RsPtr> rs = sets_.Get(pod.metadata().namespace_(), ref->name());
    if (!rs.ok() || (*rs)->metadata().uid() != ref->uid()) return;
    DeploymentPtr d = ControllerOf(**rs);
    if (d == nullptr || d->spec().strategy().type() != "Recreate") return;
    absl::StatusOr<api::LabelSelector> selector = api::LabelSelector::FromProto(d->spec().selector());
    if (!selector.ok()) return;
    for (const PodPtr& other : pods_.ListInNamespace(d->metadata().namespace_(), *selector)) {
      const v1::OwnerReference* other_ref = GetControllerOf(*other);
      if (other_ref != nullptr && other_ref->kind() == "ReplicaSet") return;  // still some
    }
    queue.Add(RequestFor(d->metadata()));
  }

 private:
  DeploymentPtr ControllerOf(const v1::ReplicaSet& rs) const {
    const v1::OwnerReference* ref = GetControllerOf(rs);
    if (ref == nullptr || ref->kind() != "Deployment" || ref->api_version().rfind("apps/", 0) != 0) {
      return nullptr;
    }
    absl::StatusOr<DeploymentPtr> d = deployments_.Get(rs.metadata().namespace_(), ref->name());
    if (!d.ok() || (*d)->metadata().uid() != ref->uid()) return nullptr;
    return *d;
  }

  void QueueMatching(const v1::ReplicaSet& rs, RequestQueue& queue) const {
    for (const DeploymentPtr& d : deployments_.ListInNamespace(rs.metadata().namespace_())) {
      if (SelectsEverything(d->spec().selector())) continue;
      absl::StatusOr<api::LabelSelector> selector = api::LabelSelector::FromProto(d->spec().selector());
      if (selector.ok() && selector->Matches(rs.metadata().labels())) {
        queue.Add(RequestFor(d->metadata()));
      }
    }
  }

  // ---- one sync. `sets` is the claimed ReplicaSets, kept current as they are written.

  struct Split {
    RsPtr new_rs;  // null when there is none (yet)
    std::vector<RsPtr> old_sets;
    std::vector<RsPtr> All() const {
      std::vector<RsPtr> all = old_sets;
      if (new_rs != nullptr) all.push_back(new_rs);
      return all;
    }
  };

  absl::StatusOr<Split> SplitAndSyncRevision(v1::Deployment& d, std::vector<RsPtr>& sets,
                                             bool create);
  absl::StatusOr<RsPtr> NewReplicaSet(v1::Deployment& d, std::vector<RsPtr>& sets,
                                      const std::vector<RsPtr>& old_sets, bool create);
  absl::StatusOr<RsPtr> CreateNewReplicaSet(v1::Deployment& d, const std::vector<RsPtr>& old_sets,
                                            const std::string& revision);
  absl::Status Scale(v1::Deployment& d, std::vector<RsPtr>& sets, const Split& split);
  absl::StatusOr<bool> ScaleReplicaSet(std::vector<RsPtr>& sets, const RsPtr& rs, int32_t size,
                                       const v1::Deployment& d, std::string_view direction);
  absl::StatusOr<bool> ScaleAndRecord(std::vector<RsPtr>& sets, const RsPtr& rs, int32_t size,
                                      const v1::Deployment& d) {
    if (Replicas(*rs) == size) return false;
    return ScaleReplicaSet(sets, rs, size, d, Replicas(*rs) < size ? "up" : "down");
  }
  Result RolloutRolling(v1::Deployment& d, std::vector<RsPtr>& sets);
  Result RolloutRecreate(v1::Deployment& d, std::vector<RsPtr>& sets,
                         const std::map<std::string, std::vector<PodPtr>>& pod_map);
  absl::StatusOr<bool> ReconcileOldReplicaSets(v1::Deployment& d, std::vector<RsPtr>& sets,
                                               const Split& split);
  Result Sync(v1::Deployment& d, std::vector<RsPtr>& sets);
  absl::Status CleanupDeployment(const std::vector<RsPtr>& old_sets, const v1::Deployment& d);
  absl::Status CheckPausedConditions(v1::Deployment& d);
  v1::DeploymentStatus CalculateStatus(const std::vector<RsPtr>& all, const RsPtr& new_rs,
                                       const v1::Deployment& d) const;
  absl::Status SyncDeploymentStatus(const std::vector<RsPtr>& all, const RsPtr& new_rs,
                                    v1::Deployment& d);
  Result SyncRolloutStatus(const std::vector<RsPtr>& all, const RsPtr& new_rs, v1::Deployment& d);
  absl::Status WriteStatus(v1::Deployment& d);
  absl::Status WriteMetadataAndStatus(v1::Deployment& d);
  std::map<std::string, std::vector<PodPtr>> PodMap(const v1::Deployment& d,
                                                    const api::LabelSelector& selector,
                                                    const std::vector<RsPtr>& sets) const;

  client::Client* const client_;
  Clock* const clock_;
  client::EventRecorder* const events_;
  const client::Lister<v1::Deployment> deployments_;
  const client::Lister<v1::ReplicaSet> sets_;
  const client::Lister<v1::Pod> pods_;
};

// Replaces `written`'s entry in `sets` (by uid), or adds it.
void Remember(std::vector<RsPtr>& sets, RsPtr written) {
  for (RsPtr& rs : sets) {
    if (rs->metadata().uid() == written->metadata().uid()) {
      rs = std::move(written);
      return;
    }
  }
  sets.push_back(std::move(written));
}

Result DeploymentReconciler::Reconcile(const Request& request) {
  absl::StatusOr<DeploymentPtr> cached = deployments_.Get(request.ns, request.name);
  if (absl::IsNotFound(cached.status())) return {};
  ORCH_RETURN_IF_ERROR(cached.status());
  v1::Deployment d = **cached;

  if (SelectsEverything(d.spec().selector())) {
    (void)events_->Record(d, client::kEventWarning, "SelectingAll",
                          "This deployment is selecting all pods. A non-empty selector is required.");
    if (d.status().observed_generation() < d.metadata().generation()) {
      d.mutable_status()->set_observed_generation(d.metadata().generation());
      return WriteStatus(d);
    }
    return {};
  }
  absl::StatusOr<api::LabelSelector> selector = api::LabelSelector::FromProto(d.spec().selector());
  if (!selector.ok()) return TerminalError(selector.status());

  ORCH_ASSIGN_OR_RETURN(std::vector<RsPtr> sets,
                        internal::Claim(*client_, d, "Deployment", *selector,
                                        sets_.ListInNamespace(request.ns)));
  const std::map<std::string, std::vector<PodPtr>> pod_map = PodMap(d, *selector, sets);

  if (d.metadata().has_deletion_timestamp()) {
    ORCH_ASSIGN_OR_RETURN(Split split, SplitAndSyncRevision(d, sets, false));
    return SyncDeploymentStatus(split.All(), split.new_rs, d);
  }
  ORCH_RETURN_IF_ERROR(CheckPausedConditions(d));
  if (d.spec().paused()) return Sync(d, sets);

  // A scaling event: some active ReplicaSet was sized for another replica count.
  {
    ORCH_ASSIGN_OR_RETURN(Split split, SplitAndSyncRevision(d, sets, false));
    for (const RsPtr& rs : internal::Active(split.All())) {
      std::optional<int32_t> desired = internal::DesiredReplicasAnnotation(*rs);
      if (desired.has_value() && *desired != Replicas(d)) return Sync(d, sets);
    }
  }
  if (d.spec().strategy().type() == "Recreate") return RolloutRecreate(d, sets, pod_map);
  return RolloutRolling(d, sets);
}

std::map<std::string, std::vector<PodPtr>> DeploymentReconciler::PodMap(
    const v1::Deployment& d, const api::LabelSelector& selector,
    const std::vector<RsPtr>& sets) const {
  std::map<std::string, std::vector<PodPtr>> by_rs;
  for (const RsPtr& rs : sets) {
    std::vector<PodPtr>& pods = by_rs[rs->metadata().uid()];
    for (PodPtr& pod : internal::PodsControlledBy(pods_, rs->metadata().uid())) {
      if (pod->metadata().namespace_() == d.metadata().namespace_() &&
          selector.Matches(pod->metadata().labels())) {
        pods.push_back(std::move(pod));
      }
    }
  }
  return by_rs;
}

// ------------------------------------------------------------------ the new ReplicaSet

absl::StatusOr<DeploymentReconciler::Split> DeploymentReconciler::SplitAndSyncRevision(
    v1::Deployment& d, std::vector<RsPtr>& sets, bool create) {
  Split split;
  RsPtr current = internal::FindNewReplicaSet(d, sets);
  for (const RsPtr& rs : sets) {
    if (current == nullptr || rs->metadata().uid() != current->metadata().uid()) {
      split.old_sets.push_back(rs);
    }
  }
  ORCH_ASSIGN_OR_RETURN(split.new_rs, NewReplicaSet(d, sets, split.old_sets, create));
  return split;
}

absl::StatusOr<RsPtr> DeploymentReconciler::NewReplicaSet(v1::Deployment& d,
                                                          std::vector<RsPtr>& sets,
                                                          const std::vector<RsPtr>& old_sets,
                                                          bool create) {
  const std::string revision = std::to_string(internal::MaxRevision(old_sets) + 1);
  if (RsPtr existing = internal::FindNewReplicaSet(d, sets)) {
    v1::ReplicaSet copy = *existing;
    const bool annotations_changed = internal::SetNewReplicaSetAnnotations(d, copy, revision, true);
    if (annotations_changed || copy.spec().min_ready_seconds() != d.spec().min_ready_seconds()) {
      copy.mutable_spec()->set_min_ready_seconds(d.spec().min_ready_seconds());
      ORCH_ASSIGN_OR_RETURN(v1::ReplicaSet written, client_->Update(copy));
      auto updated = std::make_shared<const v1::ReplicaSet>(std::move(written));
      Remember(sets, updated);
      return updated;
    }
    // The Deployment carries the revision of its new ReplicaSet.
    bool metadata_changed = internal::SetDeploymentRevision(
        d, copy.metadata().annotations().count(internal::kRevisionAnnotation) > 0
               ? copy.metadata().annotations().at(internal::kRevisionAnnotation)
               : std::string());
    bool status_changed = false;
    if (internal::HasProgressDeadline(d) &&
        internal::FindCondition(d.status(), "Progressing") == nullptr) {
      internal::SetCondition(*d.mutable_status(),
                             internal::NewCondition("Progressing", "True",
                                                    internal::kFoundNewReplicaSetReason,
                                                    fmt::format("Found new replica set \"{}\"",
                                                                copy.metadata().name()),
                                                    clock_->Now()));
      status_changed = true;
    }
    if (metadata_changed) {
      ORCH_RETURN_IF_ERROR(WriteMetadataAndStatus(d));
    } else if (status_changed) {
      ORCH_RETURN_IF_ERROR(WriteStatus(d));
    }
    return existing;
  }
  if (!create) return RsPtr();
  ORCH_ASSIGN_OR_RETURN(RsPtr created, CreateNewReplicaSet(d, old_sets, revision));
  Remember(sets, created);
  return created;
}

absl::StatusOr<RsPtr> DeploymentReconciler::CreateNewReplicaSet(v1::Deployment& d,
                                                                const std::vector<RsPtr>& old_sets,
                                                                const std::string& revision) {
  const std::optional<int32_t> collisions =
      d.status().has_collision_count() ? std::optional<int32_t>(d.status().collision_count())
                                       : std::nullopt;
  const std::string hash = internal::ComputeHash(d.spec().template_(), collisions);
  v1::ReplicaSet rs;
  rs.mutable_metadata()->set_name(d.metadata().name() + "-" + hash);
  rs.mutable_metadata()->set_namespace_(d.metadata().namespace_());
  *rs.mutable_spec()->mutable_template_() = d.spec().template_();
  (*rs.mutable_spec()->mutable_template_()->mutable_metadata()->mutable_labels())
      [internal::kPodTemplateHashLabel] = hash;
  *rs.mutable_metadata()->mutable_labels() = rs.spec().template_().metadata().labels();
  *rs.mutable_spec()->mutable_selector() = d.spec().selector();
  (*rs.mutable_spec()->mutable_selector()->mutable_match_labels())[internal::kPodTemplateHashLabel] =
      hash;
  rs.mutable_spec()->set_min_ready_seconds(d.spec().min_ready_seconds());
  rs.mutable_spec()->set_replicas(0);
  ORCH_RETURN_IF_ERROR(SetControllerReference(d, rs, *client_->scheme()));
  std::vector<RsPtr> all = old_sets;
  all.push_back(std::make_shared<const v1::ReplicaSet>(rs));
  const int32_t replicas = internal::NewReplicaSetReplicas(d, all, rs);
  rs.mutable_spec()->set_replicas(replicas);
  internal::SetNewReplicaSetAnnotations(d, rs, revision, false);

  absl::StatusOr<v1::ReplicaSet> created = client_->Create(rs);
  bool already_existed = false;
  if (absl::IsAlreadyExists(created.status())) {
    // Ours, seen late by the cache? Or another template with the same hash: a collision.
    absl::StatusOr<v1::ReplicaSet> existing =
        client_->Get<v1::ReplicaSet>(d.metadata().namespace_(), rs.metadata().name());
    ORCH_RETURN_IF_ERROR(existing.status());
    const v1::OwnerReference* ref = GetControllerOf(*existing);
    if (ref == nullptr || ref->uid() != d.metadata().uid() ||
        !internal::EqualIgnoringHash(d.spec().template_(), existing->spec().template_())) {
      d.mutable_status()->set_collision_count(d.status().collision_count() + 1);
      ORCH_RETURN_IF_ERROR(WriteStatus(d));
      return created.status();  // retried with the new count
    }
    created = *std::move(existing);
    already_existed = true;
  } else if (!created.ok()) {
    const std::string message = fmt::format("Failed to create new replica set \"{}\": {}",
                                            rs.metadata().name(),
                                            std::string(created.status().message()));
    if (internal::HasProgressDeadline(d)) {
      internal::SetCondition(*d.mutable_status(),
                             internal::NewCondition("Progressing", "False",
                                                    internal::kFailedReplicaSetCreateReason,
                                                    message, clock_->Now()));
      (void)WriteStatus(d);  // the create's error is the one to report
    }
    (void)events_->Record(d, client::kEventWarning, internal::kFailedReplicaSetCreateReason, message);
    return created.status();
  }
  if (!already_existed && replicas > 0) {
    (void)events_->Record(d, client::kEventNormal, "ScalingReplicaSet",
                          fmt::format("Scaled up replica set {} from 0 to {}",
                                      created->metadata().name(), replicas));
  }
  const bool metadata_changed = internal::SetDeploymentRevision(d, revision);
  if (!already_existed && internal::HasProgressDeadline(d)) {
    internal::SetCondition(*d.mutable_status(),
                           internal::NewCondition("Progressing", "True",
                                                  internal::kNewReplicaSetReason,
                                                  fmt::format("Created new replica set \"{}\"",
                                                              created->metadata().name()),
                                                  clock_->Now()));
    ORCH_RETURN_IF_ERROR(metadata_changed ? WriteMetadataAndStatus(d) : WriteStatus(d));
  } else if (metadata_changed) {
    ORCH_RETURN_IF_ERROR(WriteMetadataAndStatus(d));
  }
  return std::make_shared<const v1::ReplicaSet>(*std::move(created));
}

// ------------------------------------------------------------------ scaling

absl::StatusOr<bool> DeploymentReconciler::ScaleReplicaSet(std::vector<RsPtr>& sets,
                                                          const RsPtr& rs, int32_t size,
                                                          const v1::Deployment& d,
                                                          std::string_view direction) {
  const int32_t max = Replicas(d) + internal::MaxSurge(d);
  const bool resize = Replicas(*rs) != size;
  if (!resize && !internal::ReplicasAnnotationsNeedUpdate(*rs, Replicas(d), max)) return false;
  v1::ReplicaSet copy = *rs;
  const int32_t before = Replicas(copy);
  copy.mutable_spec()->set_replicas(size);
  internal::SetReplicasAnnotations(copy, Replicas(d), max);
  ORCH_ASSIGN_OR_RETURN(v1::ReplicaSet written, client_->Update(copy));
  Remember(sets, std::make_shared<const v1::ReplicaSet>(std::move(written)));
  if (!resize) return false;
  (void)events_->Record(d, client::kEventNormal, "ScalingReplicaSet",
                        fmt::format("Scaled {} replica set {} from {} to {}", direction,
                                    rs->metadata().name(), before, size));
  return true;
}

// The ReplicaSets after `sets` was updated by writes: the same ones, current.
std::vector<RsPtr> Refresh(const std::vector<RsPtr>& wanted, const std::vector<RsPtr>& sets) {
  std::vector<RsPtr> out;
  for (const RsPtr& w : wanted) {
    RsPtr current = w;
    for (const RsPtr& rs : sets) {
      if (w != nullptr && rs->metadata().uid() == w->metadata().uid()) current = rs;
    }
    out.push_back(current);
  }
  return out;
}

absl::Status DeploymentReconciler::Scale(v1::Deployment& d, std::vector<RsPtr>& sets,
                                         const Split& split) {
  if (RsPtr only = internal::FindActiveOrLatest(split.new_rs, split.old_sets)) {
    if (Replicas(*only) == Replicas(d)) return absl::OkStatus();
    return ScaleAndRecord(sets, only, Replicas(d), d).status();
  }
  if (internal::IsSaturated(d, split.new_rs.get())) {
    for (const RsPtr& old : internal::Active(split.old_sets)) {
      ORCH_RETURN_IF_ERROR(ScaleAndRecord(sets, old, 0, d).status());
    }
    return absl::OkStatus();
  }
  if (!internal::IsRollingUpdate(d)) return absl::OkStatus();

  // Several active ReplicaSets, the new one not saturated: share the change by size.
  std::vector<RsPtr> active = internal::Active(split.All());
  const int32_t allowed = Replicas(d) > 0 ? Replicas(d) + internal::MaxSurge(d) : 0;
  const int32_t to_add = allowed - internal::SpecReplicas(active);
  std::string_view direction;
  if (to_add > 0) {
    SortBySize(active, /*newer_first=*/true);
    direction = "up";
  } else if (to_add < 0) {
    SortBySize(active, /*newer_first=*/false);
    direction = "down";
  }
  std::vector<int32_t> sizes;
  int32_t added = 0;
  for (const RsPtr& rs : active) {
    const int32_t share = to_add != 0 ? internal::Proportion(*rs, d, to_add, added) : 0;
    sizes.push_back(Replicas(*rs) + share);
    added += share;
  }
  for (size_t i = 0; i < active.size(); ++i) {
    if (i == 0 && to_add != 0) sizes[0] = std::max(0, sizes[0] + to_add - added);  // leftovers
    ORCH_RETURN_IF_ERROR(ScaleReplicaSet(sets, active[i], sizes[i], d, direction).status());
  }
  return absl::OkStatus();
}

// ------------------------------------------------------------------ strategies

Result DeploymentReconciler::RolloutRolling(v1::Deployment& d, std::vector<RsPtr>& sets) {
  ORCH_ASSIGN_OR_RETURN(Split split, SplitAndSyncRevision(d, sets, true));
  const RsPtr& new_rs = split.new_rs;
  // Grow (or trim) the new ReplicaSet.
  bool scaled = false;
  if (Replicas(*new_rs) > Replicas(d)) {
    ORCH_ASSIGN_OR_RETURN(scaled, ScaleAndRecord(sets, new_rs, Replicas(d), d));
  } else if (Replicas(*new_rs) < Replicas(d)) {
    const int32_t size = internal::NewReplicaSetReplicas(d, split.All(), *new_rs);
    ORCH_ASSIGN_OR_RETURN(scaled, ScaleAndRecord(sets, new_rs, size, d));
  }
  split.new_rs = Refresh({split.new_rs}, sets)[0];
  if (scaled) return SyncRolloutStatus(split.All(), split.new_rs, d);

  ORCH_ASSIGN_OR_RETURN(bool scaled_down, ReconcileOldReplicaSets(d, sets, split));
  split.old_sets = Refresh(split.old_sets, sets);
  if (scaled_down) return SyncRolloutStatus(split.All(), split.new_rs, d);

  if (internal::DeploymentComplete(d, d.status())) {
    ORCH_RETURN_IF_ERROR(CleanupDeployment(split.old_sets, d));
  }
  return SyncRolloutStatus(split.All(), split.new_rs, d);
}

absl::StatusOr<bool> DeploymentReconciler::ReconcileOldReplicaSets(v1::Deployment& d,
                                                                  std::vector<RsPtr>& sets,
                                                                  const Split& split) {
  std::vector<RsPtr> old_sets = internal::Active(split.old_sets);
  if (internal::SpecReplicas(old_sets) == 0) return false;
  const RsPtr& new_rs = split.new_rs;
  const int32_t min_available = Replicas(d) - internal::MaxUnavailable(d);
  const int32_t new_unavailable = Replicas(*new_rs) - new_rs->status().available_replicas();
  const int32_t max_scaled_down =
      internal::SpecReplicas(split.All()) - min_available - new_unavailable;
  if (max_scaled_down <= 0) return false;

  // Unhealthy replicas of old ReplicaSets go first, oldest ReplicaSets first: they cost
  // no availability.
  internal::SortByCreation(old_sets);
  int32_t cleaned = 0;
  for (RsPtr& rs : old_sets) {
    if (cleaned >= max_scaled_down) break;
    const int32_t unhealthy = Replicas(*rs) - rs->status().available_replicas();
    if (Replicas(*rs) == 0 || unhealthy <= 0) continue;
    const int32_t down = std::min(max_scaled_down - cleaned, unhealthy);
    ORCH_RETURN_IF_ERROR(ScaleAndRecord(sets, rs, Replicas(*rs) - down, d).status());
    rs = Refresh({rs}, sets)[0];
    cleaned += down;
  }

  // Then available ones, while availability stays at the floor. A set is counted for at
  // most the pods it keeps: its status may not show yet a scale-down made here (its
  // status write failed or is still to come), and the pods beyond are on their way out.
  int32_t available = std::min(Replicas(*new_rs), new_rs->status().available_replicas());
  for (const RsPtr& rs : old_sets) {
    available += std::min(Replicas(*rs), rs->status().available_replicas());
  }
  int32_t scaled = 0;
  if (available > min_available) {
    const int32_t budget = available - min_available;
    for (const RsPtr& rs : old_sets) {
      if (scaled >= budget) break;
      if (Replicas(*rs) == 0) continue;
      const int32_t down = std::min(Replicas(*rs), budget - scaled);
      ORCH_RETURN_IF_ERROR(ScaleAndRecord(sets, rs, Replicas(*rs) - down, d).status());
      scaled += down;
    }
  }
  return cleaned + scaled > 0;
}

Result DeploymentReconciler::RolloutRecreate(
    v1::Deployment& d, std::vector<RsPtr>& sets,
    const std::map<std::string, std::vector<PodPtr>>& pod_map) {
  ORCH_ASSIGN_OR_RETURN(Split split, SplitAndSyncRevision(d, sets, false));
  bool scaled_down = false;
  for (const RsPtr& old : internal::Active(split.old_sets)) {
    ORCH_ASSIGN_OR_RETURN(bool scaled, ScaleAndRecord(sets, old, 0, d));
    scaled_down |= scaled;
  }
  split.old_sets = Refresh(split.old_sets, sets);
  if (scaled_down) return SyncRolloutStatus(split.All(), split.new_rs, d);

  // Wait until no old pod runs.
  if (internal::ActualReplicas(split.old_sets) > 0) return SyncRolloutStatus(split.All(), split.new_rs, d);
  for (const auto& [uid, pods] : pod_map) {
    if (split.new_rs != nullptr && uid == split.new_rs->metadata().uid()) continue;
    for (const PodPtr& pod : pods) {
      const std::string& phase = pod->status().phase();
      if (phase != "Failed" && phase != "Succeeded") {
        return SyncRolloutStatus(split.All(), split.new_rs, d);
      }
    }
  }
  if (split.new_rs == nullptr) {
    ORCH_ASSIGN_OR_RETURN(split, SplitAndSyncRevision(d, sets, true));
  }
  ORCH_ASSIGN_OR_RETURN(bool scaled_up, ScaleAndRecord(sets, split.new_rs, Replicas(d), d));
  split.new_rs = Refresh({split.new_rs}, sets)[0];
  if (scaled_up) return SyncRolloutStatus(split.All(), split.new_rs, d);
  if (internal::DeploymentComplete(d, d.status())) {
    ORCH_RETURN_IF_ERROR(CleanupDeployment(split.old_sets, d));
  }
  return SyncRolloutStatus(split.All(), split.new_rs, d);
}

// Paused, or a scaling event: resize, and (paused) clean up history.
Result DeploymentReconciler::Sync(v1::Deployment& d, std::vector<RsPtr>& sets) {
  ORCH_ASSIGN_OR_RETURN(Split split, SplitAndSyncRevision(d, sets, false));
  ORCH_RETURN_IF_ERROR(Scale(d, sets, split));
  split.new_rs = Refresh({split.new_rs}, sets)[0];
  split.old_sets = Refresh(split.old_sets, sets);
  if (d.spec().paused()) ORCH_RETURN_IF_ERROR(CleanupDeployment(split.old_sets, d));
  return SyncDeploymentStatus(split.All(), split.new_rs, d);
}

absl::Status DeploymentReconciler::CleanupDeployment(const std::vector<RsPtr>& old_sets,
                                                     const v1::Deployment& d) {
  if (!d.spec().has_revision_history_limit()) return absl::OkStatus();
  std::vector<RsPtr> cleanable;
  for (const RsPtr& rs : old_sets) {
    if (rs != nullptr && !rs->metadata().has_deletion_timestamp()) cleanable.push_back(rs);
  }
  const int excess = static_cast<int>(cleanable.size()) - d.spec().revision_history_limit();
  if (excess <= 0) return absl::OkStatus();
  internal::SortByCreation(cleanable);
  std::stable_sort(cleanable.begin(), cleanable.end(), [](const RsPtr& a, const RsPtr& b) {
    return internal::Revision(a->metadata()) < internal::Revision(b->metadata());
  });
  for (int i = 0; i < excess; ++i) {
    const v1::ReplicaSet& rs = *cleanable[static_cast<size_t>(i)];
    if (rs.status().replicas() != 0 || Replicas(rs) != 0 ||
        rs.metadata().generation() > rs.status().observed_generation()) {
      continue;  // still running something, or not yet seen to stop
    }
    absl::Status deleted = client_->Delete<v1::ReplicaSet>(rs.metadata().namespace_(),
                                                           rs.metadata().name());
    if (!deleted.ok() && !absl::IsNotFound(deleted)) return deleted;
  }
  return absl::OkStatus();
}

// ------------------------------------------------------------------ status

absl::Status DeploymentReconciler::CheckPausedConditions(v1::Deployment& d) {
  if (!internal::HasProgressDeadline(d)) return absl::OkStatus();
  const v1::DeploymentCondition* c = internal::FindCondition(d.status(), "Progressing");
  if (c != nullptr && c->reason() == internal::kTimedOutReason) return absl::OkStatus();
  const bool paused_noted = c != nullptr && c->reason() == internal::kPausedReason;
  if (d.spec().paused() && !paused_noted) {
    internal::SetCondition(*d.mutable_status(),
                           internal::NewCondition("Progressing", "Unknown", internal::kPausedReason,
                                                  "Deployment is paused", clock_->Now()));
  } else if (!d.spec().paused() && paused_noted) {
    internal::SetCondition(*d.mutable_status(),
                           internal::NewCondition("Progressing", "Unknown", internal::kResumedReason,
                                                  "Deployment is resumed", clock_->Now()));
  } else {
    return absl::OkStatus();
  }
  return WriteStatus(d);
}

v1::DeploymentStatus DeploymentReconciler::CalculateStatus(const std::vector<RsPtr>& all,
                                                           const RsPtr& new_rs,
                                                           const v1::Deployment& d) const {
  const int32_t available = internal::AvailableReplicas(all);
  v1::DeploymentStatus status;
  status.set_observed_generation(d.metadata().generation());
  status.set_replicas(internal::ActualReplicas(all));
  status.set_updated_replicas(internal::ActualReplicas({new_rs}));
  status.set_ready_replicas(internal::ReadyReplicas(all));
  status.set_available_replicas(available);
  status.set_unavailable_replicas(std::max(0, internal::SpecReplicas(all) - available));
  if (d.status().has_collision_count()) status.set_collision_count(d.status().collision_count());
  *status.mutable_conditions() = d.status().conditions();
  if (available >= Replicas(d) - internal::MaxUnavailable(d)) {
    internal::SetCondition(status, internal::NewCondition("Available", "True",
                                                          internal::kMinimumReplicasAvailable,
                                                          "Deployment has minimum availability.",
                                                          clock_->Now()));
  } else {
    internal::SetCondition(status, internal::NewCondition("Available", "False",
                                                          internal::kMinimumReplicasUnavailable,
                                                          "Deployment does not have minimum availability.",
                                                          clock_->Now()));
  }
  return status;
}

absl::Status DeploymentReconciler::SyncDeploymentStatus(const std::vector<RsPtr>& all,
                                                        const RsPtr& new_rs, v1::Deployment& d) {
  v1::DeploymentStatus status = CalculateStatus(all, new_rs, d);
  if (api::SameMessage(status, d.status())) {
    return absl::OkStatus();
  }
  *d.mutable_status() = std::move(status);
  return WriteStatus(d);
}

Result DeploymentReconciler::SyncRolloutStatus(const std::vector<RsPtr>& all, const RsPtr& new_rs,
                                               v1::Deployment& d) {
  const absl::Time now = clock_->Now();
  v1::DeploymentStatus status = CalculateStatus(all, new_rs, d);
  if (!internal::HasProgressDeadline(d)) internal::RemoveCondition(status, "Progressing");
  const v1::DeploymentCondition* current = internal::FindCondition(d.status(), "Progressing");
  const bool complete_before = status.replicas() == status.updated_replicas() &&
                               current != nullptr &&
                               current->reason() == internal::kNewReplicaSetAvailableReason;
  const std::string subject = new_rs != nullptr
                                  ? fmt::format("ReplicaSet \"{}\"", new_rs->metadata().name())
                                  : fmt::format("Deployment \"{}\"", d.metadata().name());
  if (internal::HasProgressDeadline(d) && !complete_before) {
    if (internal::DeploymentComplete(d, status)) {
      internal::SetCondition(status, internal::NewCondition(
                                         "Progressing", "True",
                                         internal::kNewReplicaSetAvailableReason,
                                         fmt::format("{} has successfully progressed.", subject), now));
    } else if (internal::DeploymentProgressing(d, status)) {
      // Progress moves lastUpdateTime even when the reason stays the same.
      v1::DeploymentCondition c = internal::NewCondition(
          "Progressing", "True", internal::kReplicaSetUpdatedReason,
          fmt::format("{} is progressing.", subject), now);
      if (current != nullptr) {
        if (current->status() == "True") *c.mutable_last_transition_time() = current->last_transition_time();
        internal::RemoveCondition(status, "Progressing");
      }
      internal::SetCondition(status, std::move(c));
    } else if (internal::DeploymentTimedOut(d, status, now)) {
      internal::SetCondition(status, internal::NewCondition(
                                         "Progressing", "False", internal::kTimedOutReason,
                                         fmt::format("{} has timed out progressing.", subject), now));
    }
  }
  // A ReplicaSet's failure to create or delete pods is the Deployment's too.
  const v1::ReplicaSetCondition* failure = nullptr;
  for (const RsPtr& rs : all) {
    for (const auto& c : rs->status().conditions()) {
      if (c.type() == "ReplicaFailure" && c.status() == "True" &&
          (failure == nullptr || rs == new_rs)) {
        failure = &c;
      }
    }
  }
  if (failure != nullptr) {
    v1::DeploymentCondition c = internal::NewCondition("ReplicaFailure", failure->status(),
                                                       failure->reason(), failure->message(), now);
    *c.mutable_last_transition_time() = failure->last_transition_time();
    internal::SetCondition(status, std::move(c));
  } else {
    internal::RemoveCondition(status, "ReplicaFailure");
  }

  if (!api::SameMessage(status, d.status())) {
    *d.mutable_status() = std::move(status);
    return WriteStatus(d);
  }
  // Nothing new: if the rollout is neither done nor timed out, look again when the
  // deadline would pass (nothing else may wake this Deployment).
  const v1::DeploymentCondition* c = internal::FindCondition(d.status(), "Progressing");
  if (!internal::HasProgressDeadline(d) || c == nullptr || internal::DeploymentComplete(d, d.status()) ||
      c->reason() == internal::kTimedOutReason) {
    return {};
  }
  const absl::Time deadline =
      absl::FromUnixSeconds(c->last_update_time().seconds()) +
      absl::Seconds(d.spec().progress_deadline_seconds());
  const absl::Duration after = deadline - now;
  if (after < absl::Seconds(1)) return Result::Requeue();
  return Result::RequeueAfter(after + absl::Seconds(1));
}

absl::Status DeploymentReconciler::WriteStatus(v1::Deployment& d) {
  ORCH_ASSIGN_OR_RETURN(d, client_->UpdateStatus(d));
  return absl::OkStatus();
}

// The revision annotation lives in metadata, which UpdateStatus does not write: an
// Update first, then the status.
absl::Status DeploymentReconciler::WriteMetadataAndStatus(v1::Deployment& d) {
  const v1::DeploymentStatus status = d.status();
  ORCH_ASSIGN_OR_RETURN(d, client_->Update(d));
  if (api::SameMessage(status, d.status())) return absl::OkStatus();
  *d.mutable_status() = status;
  return WriteStatus(d);
}

}  // namespace

absl::StatusOr<Controller*> AddDeploymentController(Manager* manager,
                                                    DeploymentControllerOptions options) {
  client::SharedInformerFactory& informers = *manager->informers();
  ORCH_ASSIGN_OR_RETURN(auto deployments, informers.InformerFor<v1::Deployment>());
  ORCH_ASSIGN_OR_RETURN(auto sets, informers.InformerFor<v1::ReplicaSet>());
  ORCH_ASSIGN_OR_RETURN(auto pods, informers.InformerFor<v1::Pod>());
  ORCH_RETURN_IF_ERROR(internal::AddPodsByControllerIndex(pods));
  auto reconciler = std::make_unique<DeploymentReconciler>(manager, deployments.lister(),
                                                           sets.lister(), pods.lister());
  DeploymentReconciler* r = reconciler.get();
  ControllerSpec spec{.name = "deployment"};
  ORCH_ASSIGN_OR_RETURN(const api::Kind* kind, manager->client()->KindOf(*v1::Deployment::descriptor()));
  spec.watches.push_back({v1::Deployment::descriptor(), internal::SelfMap(*kind), nullptr, {}});
  spec.watches.push_back(internal::HandledBy<v1::ReplicaSet>(r, &DeploymentReconciler::OnReplicaSet));
  spec.watches.push_back(internal::HandledBy<v1::Pod>(r, &DeploymentReconciler::OnPod));
  spec.options.max_concurrent_reconciles = options.concurrent_syncs;
  return manager->NewController(std::move(spec), std::move(reconciler));
}

absl::StatusOr<v1::Deployment> RollbackDeployment(client::Client& client, std::string_view ns,
                                                  std::string_view name, int64_t to_revision) {
  ORCH_ASSIGN_OR_RETURN(v1::Deployment d, client.Get<v1::Deployment>(ns, name));
  if (d.spec().paused()) {
    return absl::FailedPreconditionError(fmt::format(
        "you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume "
        "deployment/{}' and try again",
        name));
  }
  ORCH_ASSIGN_OR_RETURN(auto sets, client.List<v1::ReplicaSet>(d.metadata().namespace_()));
  std::vector<RsPtr> owned;
  for (v1::ReplicaSet& rs : sets.items) {
    const v1::OwnerReference* ref = GetControllerOf(rs);
    if (ref != nullptr && ref->uid() == d.metadata().uid()) {
      owned.push_back(std::make_shared<const v1::ReplicaSet>(std::move(rs)));
    }
  }
  if (to_revision == 0) {
    // The revision before the current one: the second highest.
    int64_t current = 0, previous = 0;
    for (const RsPtr& rs : owned) {
      const int64_t r = internal::Revision(rs->metadata());
      if (r > current) {
        previous = current;
        current = r;
      } else if (r > previous && r < current) {
        previous = r;
      }
    }
    if (previous == 0) {
      return absl::NotFoundError(fmt::format("no rollout history found for deployment \"{}\"", name));
    }
    to_revision = previous;
  }
  RsPtr target;
  for (const RsPtr& rs : owned) {
    if (internal::Revision(rs->metadata()) == to_revision) target = rs;
  }
  if (target == nullptr) {
    return absl::NotFoundError(
        fmt::format("unable to find specified revision {} in history", to_revision));
  }
  if (internal::EqualIgnoringHash(target->spec().template_(), d.spec().template_())) return d;
  *d.mutable_spec()->mutable_template_() = target->spec().template_();
  d.mutable_spec()->mutable_template_()->mutable_metadata()->mutable_labels()->erase(
      internal::kPodTemplateHashLabel);
  return client.Update(d);
}

}  // namespace orch::controller
