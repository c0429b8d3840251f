// The arithmetic and bookkeeping of Deployments (Kubernetes'
// pkg/controller/deployment/util): surge and unavailability budgets, how far the new
// ReplicaSet may grow, proportional scaling, revisions and their annotations, the
// pod-template-hash, and the Deployment's conditions. Pure functions; internal.
#ifndef ORCH_SRC_CONTROLLER_DEPLOYMENT_UTIL_H_
#define ORCH_SRC_CONTROLLER_DEPLOYMENT_UTIL_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "orch/api/v1/apps.pb.h"

namespace orch::controller::internal {

using RsPtr = std::shared_ptr<const api::v1::ReplicaSet>;

inline constexpr char kPodTemplateHashLabel[] = "pod-template-hash";
inline constexpr char kRevisionAnnotation[] = "deployment.kubernetes.io/revision";
inline constexpr char kRevisionHistoryAnnotation[] = "deployment.kubernetes.io/revision-history";
inline constexpr char kDesiredReplicasAnnotation[] = "deployment.kubernetes.io/desired-replicas";
inline constexpr char kMaxReplicasAnnotation[] = "deployment.kubernetes.io/max-replicas";
// Kubernetes' maxRevHistoryLengthInChars.
inline constexpr size_t kMaxRevisionHistoryLength = 2000;

// Condition reasons (Kubernetes' deployment util constants).
inline constexpr char kNewReplicaSetReason[] = "NewReplicaSetCreated";
inline constexpr char kFoundNewReplicaSetReason[] = "FoundNewReplicaSet";
inline constexpr char kReplicaSetUpdatedReason[] = "ReplicaSetUpdated";
inline constexpr char kNewReplicaSetAvailableReason[] = "NewReplicaSetAvailable";
inline constexpr char kTimedOutReason[] = "ProgressDeadlineExceeded";
inline constexpr char kFailedReplicaSetCreateReason[] = "ReplicaSetCreateError";
inline constexpr char kPausedReason[] = "DeploymentPaused";
inline constexpr char kResumedReason[] = "DeploymentResumed";
inline constexpr char kMinimumReplicasAvailable[] = "MinimumReplicasAvailable";
inline constexpr char kMinimumReplicasUnavailable[] = "MinimumReplicasUnavailable";

int32_t Replicas(const api::v1::Deployment& d);
int32_t Replicas(const api::v1::ReplicaSet& rs);

// An int-or-percent of `total`: "25%" of 10 is 3 rounded up, 2 rounded down. A malformed
// value counts as 0.
int32_t ScaledValue(const api::v1::IntOrString& value, int32_t total, bool round_up);

bool IsRollingUpdate(const api::v1::Deployment& d);
// maxSurge rounded up and maxUnavailable rounded down; both 0 makes maxUnavailable 1
// (Kubernetes' ResolveFenceposts).
std::pair<int32_t, int32_t> ResolveFenceposts(const api::v1::Deployment& d);
// 0 unless RollingUpdate.
int32_t MaxSurge(const api::v1::Deployment& d);
// 0 unless RollingUpdate with replicas; at most replicas.
int32_t MaxUnavailable(const api::v1::Deployment& d);

// Sums over ReplicaSets (null entries skipped).
int32_t SpecReplicas(const std::vector<RsPtr>& sets);
int32_t ActualReplicas(const std::vector<RsPtr>& sets);
int32_t ReadyReplicas(const std::vector<RsPtr>& sets);
int32_t AvailableReplicas(const std::vector<RsPtr>& sets);
// Those with spec.replicas > 0.
std::vector<RsPtr> Active(const std::vector<RsPtr>& sets);

// Oldest first (creation time, then name).
void SortByCreation(std::vector<RsPtr>& sets);

// The templates are equal once the pod-template-hash label is dropped from both.
bool EqualIgnoringHash(const api::v1::PodTemplateSpec& a, const api::v1::PodTemplateSpec& b);
// The oldest ReplicaSet whose template is the Deployment's, or null.
RsPtr FindNewReplicaSet(const api::v1::Deployment& d, std::vector<RsPtr> sets);
// The revision annotation as a number (0 when absent or malformed).
int64_t Revision(const api::v1::ObjectMeta& meta);
int64_t MaxRevision(const std::vector<RsPtr>& sets);

// The pod-template-hash: FNV-32a of the template's deterministic encoding and the
// collision count, as Kubernetes' ComputeHash shapes it (its digits written with
// SafeEncodeString's alphabet). The value differs from Kubernetes' (which hashes Go's
// printing of the object); its role and properties are the same.
std::string ComputeHash(const api::v1::PodTemplateSpec& tmpl, std::optional<int32_t> collision_count);

// How many replicas the new ReplicaSet should have now (NewRSNewReplicas).
int32_t NewReplicaSetReplicas(const api::v1::Deployment& d, const std::vector<RsPtr>& all,
                              const api::v1::ReplicaSet& new_rs);
// The new ReplicaSet runs the whole Deployment, available (IsSaturated).
bool IsSaturated(const api::v1::Deployment& d, const api::v1::ReplicaSet* new_rs);
// The only active ReplicaSet, or the newest when none is active; null when several are.
RsPtr FindActiveOrLatest(const RsPtr& new_rs, std::vector<RsPtr> old_sets);
// The replicas `rs` gains (or, negative, loses) of `to_add` in a proportional scale
// (GetProportion).
int32_t Proportion(const api::v1::ReplicaSet& rs, const api::v1::Deployment& d, int32_t to_add,
                   int32_t added);
// The desired-replicas annotation, when present and well formed.
std::optional<int32_t> DesiredReplicasAnnotation(const api::v1::ReplicaSet& rs);

// Sets desired-replicas and max-replicas; true if they changed.
bool SetReplicasAnnotations(api::v1::ReplicaSet& rs, int32_t desired, int32_t max);
bool ReplicasAnnotationsNeedUpdate(const api::v1::ReplicaSet& rs, int32_t desired, int32_t max);
// Copies the Deployment's annotations (but its revision bookkeeping and kubectl's
// last-applied configuration), moves the revision forward to `revision` keeping the old
// one in revision-history, and on a new ReplicaSet sets the replicas annotations
// (SetNewReplicaSetAnnotations). True if anything changed.
bool SetNewReplicaSetAnnotations(const api::v1::Deployment& d, api::v1::ReplicaSet& rs,
                                 const std::string& revision, bool exists);
// True if the Deployment's revision annotation changed.
bool SetDeploymentRevision(api::v1::Deployment& d, const std::string& revision);

// Conditions.
const api::v1::DeploymentCondition* FindCondition(const api::v1::DeploymentStatus& status,
                                                  std::string_view type);
api::v1::DeploymentCondition NewCondition(std::string_view type, std::string_view status,
                                          std::string_view reason, std::string message,
                                          absl::Time now);
// Kubernetes' SetDeploymentCondition: no change when status and reason are the same; the
// transition time kept when only the reason changes.
void SetCondition(api::v1::DeploymentStatus& status, api::v1::DeploymentCondition condition);
void RemoveCondition(api::v1::DeploymentStatus& status, std::string_view type);

bool HasProgressDeadline(const api::v1::Deployment& d);
// Every replica updated, present and available, and the status observes the spec.
bool DeploymentComplete(const api::v1::Deployment& d, const api::v1::DeploymentStatus& status);
// More updated, ready or available replicas, or fewer old ones, than the Deployment's
// current status says.
bool DeploymentProgressing(const api::v1::Deployment& d, const api::v1::DeploymentStatus& status);
// The Progressing condition of `status` is older than progressDeadlineSeconds without
// the rollout completing (or already says so).
bool DeploymentTimedOut(const api::v1::Deployment& d, const api::v1::DeploymentStatus& status,
                        absl::Time now);

}  // namespace orch::controller::internal

#endif  // ORCH_SRC_CONTROLLER_DEPLOYMENT_UTIL_H_
