// The Deployment controller: declarative rollouts over ReplicaSets (Kubernetes'
// pkg/controller/deployment), on the controller SDK; and rollback, as `kubectl rollout
// undo` does it.
//
//   ORCH_RETURN_IF_ERROR(controller::AddDeploymentController(manager.get()).status());
//   ORCH_RETURN_IF_ERROR(controller::AddReplicaSetController(manager.get()).status());
//
// What it does, as Kubernetes does:
//   - One ReplicaSet per distinct pod template, named "<deployment>-<pod-template-hash>",
//     with the pod-template-hash label on its template and selector and a controller
//     reference to the Deployment; the Deployment claims (adopts, releases) ReplicaSets
//     its selector matches. The hash folds in status.collisionCount, which is bumped when
//     a ReplicaSet of that name exists with another template.
//   - RollingUpdate: the new ReplicaSet grows while the total stays within
//     replicas + maxSurge (a percentage rounds up), and old ReplicaSets shrink (unhealthy
//     replicas first, oldest ReplicaSets first) while the available pods stay at least
//     replicas - maxUnavailable (rounds down); both 0 would be stuck, so maxUnavailable is
//     then 1. Recreate: every old ReplicaSet to 0, wait until no old pod runs, then the
//     new one to replicas.
//   - Scaling in the middle of a rollout is proportional: the added (or removed) replicas
//     are shared among the active ReplicaSets by their size, leftovers to the largest
//     (the desired-replicas and max-replicas annotations remember the size before).
//   - Revisions: deployment.kubernetes.io/revision on the ReplicaSets (the new one gets
//     the highest + 1; one rolled back to keeps its old numbers in revision-history) and on
//     the Deployment; ReplicaSets scaled to 0 beyond revisionHistoryLimit are deleted,
//     oldest revision first.
//   - paused: no rollout progresses (scaling still does); Progressing becomes Unknown with
//     DeploymentPaused / DeploymentResumed.
//   - Status: observedGeneration, replicas, updatedReplicas, readyReplicas,
//     availableReplicas, unavailableReplicas, collisionCount; conditions Available
//     (MinimumReplicasAvailable / MinimumReplicasUnavailable), Progressing
//     (NewReplicaSetCreated, FoundNewReplicaSet, ReplicaSetUpdated,
//     NewReplicaSetAvailable, ProgressDeadlineExceeded once no progress was seen for
//     progressDeadlineSeconds) and ReplicaFailure (copied from a ReplicaSet). Events
//     ScalingReplicaSet "Scaled up replica set web-7d9f8 from 0 to 3".
//   - A Deployment selecting everything (empty selector) does nothing and says so
//     (Warning SelectingAll).
//
// Thread safety and ownership: as every controller of the Manager (controller.h).
#ifndef ORCH_CONTROLLER_DEPLOYMENT_H_
#define ORCH_CONTROLLER_DEPLOYMENT_H_

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"
#include "orch/api/v1/apps.pb.h"
#include "orch/client/client.h"
#include "orch/controller/controller.h"

namespace orch::controller {

struct DeploymentControllerOptions {
  // Deployments synced at once (kube-controller-manager --concurrent-deployment-syncs).
  int concurrent_syncs = 5;
};

// Adds the controller, named "deployment", to `manager`. It needs the ReplicaSet
// controller (AddReplicaSetController) to turn ReplicaSets into pods.
absl::StatusOr<Controller*> AddDeploymentController(Manager* manager,
                                                    DeploymentControllerOptions options = {});

// Rolls the Deployment back to the pod template of `to_revision` (0: the revision before
// the current one), as `kubectl rollout undo` does: the template of the ReplicaSet with
// that revision, without its pod-template-hash label, becomes the Deployment's, and the
// controller then scales that ReplicaSet back up under a new revision number. Returns the
// Deployment as written (unchanged if its template already is that revision's).
// Errors: kNotFound for the Deployment, or `unable to find specified revision 7 in
// history` / `no rollout history found for deployment "web"`; kFailedPrecondition for a
// paused Deployment (resume it first); kAborted if it changed meanwhile (retry).
absl::StatusOr<api::v1::Deployment> RollbackDeployment(client::Client& client,
                                                       std::string_view ns,
                                                       std::string_view name,
                                                       int64_t to_revision = 0);

}  // namespace orch::controller

#endif  // ORCH_CONTROLLER_DEPLOYMENT_H_
