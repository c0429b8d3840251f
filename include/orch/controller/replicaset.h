// The ReplicaSet controller: keeps spec.replicas pods of a ReplicaSet's template running
// (Kubernetes' pkg/controller/replicaset), on the controller SDK.
//
//   ORCH_RETURN_IF_ERROR(controller::AddReplicaSetController(manager.get()).status());
//
// What it does, as Kubernetes does:
//   - Claims pods: an active pod (not terminated, not being deleted) that matches the
//     selector and has no controller is adopted (a controller reference is added, after a
//     live read confirms the ReplicaSet still exists and is not being deleted); a pod it
//     controls whose labels no longer match is released (the reference is removed).
//   - Too few pods: creates the missing ones from the template (generateName
//     "<replicaset>-", the template's labels, annotations and finalizers, a controller
//     reference), at most burst_replicas per sync, in batches of 1, 2, 4, ... that stop at
//     the first failure ("slow start"), so a quota or admission failure is not repeated
//     hundreds of times. Events SuccessfulCreate "Created pod: web-x7k2p" and FailedCreate
//     "Error creating: <error>".
//   - Too many: deletes the surplus, choosing as Kubernetes ranks pods: unscheduled first,
//     then Pending, Unknown, Running; not ready before ready; lower
//     controller.kubernetes.io/pod-deletion-cost; more pods of the same owner on the same
//     node; ready for less time; more restarts; newer. Events SuccessfulDelete / FailedDelete.
//   - Expectations: after creating or deleting, it does not act on that ReplicaSet again
//     until its informer has shown every one of those creations and deletions (or 5
//     minutes passed), so a cache that lags never makes it create or delete twice.
//   - Status: replicas, fullyLabeledReplicas, readyReplicas, availableReplicas (ready for
//     minReadySeconds), observedGeneration, and the ReplicaFailure condition (reason
//     FailedCreate or FailedDelete, with the error) while creating or deleting fails.
//   - A ReplicaSet being deleted creates and deletes nothing (its pods are the garbage
//     collector's).
//
// Thread safety and ownership: as every controller of the Manager (controller.h); the
// manager keeps the reconciler. Errors: AddReplicaSetController fails as
// Manager::NewController does.
#ifndef ORCH_CONTROLLER_REPLICASET_H_
#define ORCH_CONTROLLER_REPLICASET_H_

#include "absl/status/statusor.h"
#include "orch/controller/controller.h"

namespace orch::controller {

struct ReplicaSetControllerOptions {
  // ReplicaSets synced at once (kube-controller-manager --concurrent-replicaset-syncs).
  int concurrent_syncs = 5;
  // Pods created or deleted per sync at most (Kubernetes' BurstReplicas).
  int burst_replicas = 500;
};

// Adds the controller, named "replicaset", to `manager`.
absl::StatusOr<Controller*> AddReplicaSetController(Manager* manager,
                                                    ReplicaSetControllerOptions options = {});

}  // namespace orch::controller

#endif  // ORCH_CONTROLLER_REPLICASET_H_
