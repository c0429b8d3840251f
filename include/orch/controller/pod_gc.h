// Pod garbage collection: deleting pods nobody else will (Kubernetes' pkg/controller/podgc),
// on the controller SDK.
//
//   ORCH_RETURN_IF_ERROR(controller::AddPodGcController(manager.get()).status());
//
// Every gc_period, from the informer caches, in this order (as Kubernetes does):
//   1. Terminated pods: when more pods than terminated_pod_gc_threshold are Succeeded or
//      Failed, the surplus is deleted: evicted ones (Failed, reason "Evicted") first, then
//      oldest creationTimestamp first, ties by name. A threshold of 0 or less turns this off.
//   2. Terminating pods on out-of-service nodes: a pod being deleted on a node that is not
//      Ready and carries the node.kubernetes.io/out-of-service taint is force-deleted.
//   3. Orphaned pods: a pod bound to a node the node informer does not hold puts that node
//      in quarantine; once it has been missing for `quarantine` (40 s), a live Get of the
//      node confirms it is gone (kNotFound; a node that exists after all, or an error,
//      ends the quarantine, which starts again if the node is still missing at the next
//      pass), and every pod bound to it gets the condition DisruptionTarget
//      "DeletionByPodGC" ("PodGC: node no longer exists") and is force-deleted. This is how
//      the pods of a deleted node go.
//   4. Unscheduled terminating pods: a pod being deleted that was never bound to a node is
//      force-deleted.
// "Force-deleted" is Kubernetes' markFailedAndDeletePod: a pod not yet Succeeded or Failed
// is first set Failed (with the condition, if any) through UpdateStatus, then deleted
// with grace period 0 and a uid precondition. Finalizers still hold a pod that has them.
// Failures are retried at the next pass. No Events are recorded (Kubernetes records none).
//
// Departures from Kubernetes: a quarantined node is checked at the first pass at least
// `quarantine` after it was first found missing (Kubernetes' delaying queue usually makes
// that the pass after); deletes carry a uid precondition; the terminated-pod threshold
// counts pods by phase Succeeded or Failed (Kubernetes: any phase but Pending, Running and
// Unknown — the same set, as orch's pods always have a phase).
//
// Thread safety and ownership: as every controller of the Manager (controller.h); the
// periodic pass is a Request that requeues itself, so it runs on the manager's executor
// and stops with the manager. Errors: kInvalidArgument for a non-positive gc_period or a
// negative quarantine; otherwise as Manager::NewController.
#ifndef ORCH_CONTROLLER_POD_GC_H_
#define ORCH_CONTROLLER_POD_GC_H_

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "orch/controller/controller.h"

namespace orch::controller {

struct PodGcOptions {
  // How often the collector runs (Kubernetes' gcCheckPeriod).
  absl::Duration gc_period = absl::Seconds(20);
  // Terminated pods kept at most (--terminated-pod-gc-threshold); 0 or less: no limit.
  int terminated_pod_gc_threshold = 12500;
  // How long a node must be missing from the cache before it is checked (quarantineTime).
  absl::Duration quarantine = absl::Seconds(40);
};

// Adds the pod garbage collector, named "pod-gc", to `manager`.
absl::StatusOr<Controller*> AddPodGcController(Manager* manager, PodGcOptions options = {});

}  // namespace orch::controller

#endif  // ORCH_CONTROLLER_POD_GC_H_
