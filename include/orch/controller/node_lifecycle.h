// Node lifecycle and taint-based eviction: what happens to a node that stops answering
// and to the pods on it (Kubernetes' pkg/controller/nodelifecycle and
// pkg/controller/tainteviction), on the controller SDK.
//
//   ORCH_RETURN_IF_ERROR(controller::AddNodeLifecycleController(manager.get()).status());
//
// Heartbeats. A node agent proves it is alive two ways: by renewing its Lease (namespace
// "kube-node-lease", named after the node: spec.renewTime, every 10 s) and by writing its
// Ready condition's lastHeartbeatTime. The controller notes, on the executor's clock, when
// it last saw either CHANGE; it never compares the timestamps' values with its own clock,
// so skew between machines does not matter.
//
// Node health ("node-lifecycle", every node_monitor_period):
//   - A node not heard from for more than node_monitor_grace_period (a node that never
//     posted a Ready condition: node_startup_grace_period, counted from when the
//     controller first saw it) gets its Ready condition, and MemoryPressure, DiskPressure
//     and PIDPressure when it has them, set to Unknown: reason "NodeStatusUnknown",
//     message "Kubelet stopped posting node status." (a missing Ready condition is added
//     as Unknown, reason "NodeStatusNeverUpdated"). lastHeartbeatTime is left alone.
//   - Taint-based eviction: Ready Unknown taints the node node.kubernetes.io/unreachable
//     :NoExecute, Ready False node.kubernetes.io/not-ready:NoExecute (timeAdded = now);
//     the two are swapped at once when the condition flips between them, and both are
//     removed when the node is Ready again.
//   - Taint-node-by-condition (on every node change): NoSchedule taints for Ready False
//     (not-ready) and Unknown (unreachable), MemoryPressure, DiskPressure, PIDPressure and
//     NetworkUnavailable True, and spec.unschedulable (node.kubernetes.io/unschedulable);
//     each removed when its cause goes.
//   - When a node's Ready condition stops being True (Unknown set by this controller or
//     False posted by the node), the Ready condition of its pods is set False (Event
//     NodeNotReady on the node and each pod); a pod bound to such a node later is marked
//     too. The node agent sets them Ready again when it is back.
//   - Rate limiting and disruption, per zone (the topology.kubernetes.io/region and
//     /zone labels; nodes labelled node.kubernetes.io/exclude-disruption do not count):
//     NoExecute taints are added at most node_eviction_rate nodes per second (a token
//     bucket of 1); in a zone where at least unhealthy_zone_threshold of the nodes, and
//     more than 2, are not Ready, at secondary_node_eviction_rate when the zone has more
//     than large_cluster_size_threshold nodes and not at all otherwise; when no node of
//     any zone is Ready (the controller is more likely cut off than every node dead) the
//     NoExecute taints are removed everywhere and none is added until a node is Ready.
//     Swaps and removals are never limited.
//
// Taint eviction ("taint-eviction", added with the above unless taint_eviction is false;
// also on its own with AddTaintEvictionController): a pod bound to a node with NoExecute
// taints is deleted (gracefully, with a uid precondition, after adding the pod condition
// DisruptionTarget "DeletionByTaintManager") at once when it does not tolerate one of
// them; after the smallest tolerationSeconds of the tolerations that matched (the first
// matching toleration per taint; 0 or less: at once) when it tolerates all, counted from
// the later of the earliest NoExecute taint's timeAdded and the pod's binding (its
// PodScheduled condition, else its creation), neither later than now; never when the
// matching tolerations have no tolerationSeconds. A start, once computed, is kept while
// the node stays tainted (an unreachable taint swapped for not-ready does not restart the
// count). When the taints go, the pod moves or its tolerations change to forever, the
// pending eviction is cancelled: a node that is NotReady for less than the toleration
// keeps its pods. Pods already being deleted are left alone. Events on the pod: Normal
// TaintManagerEviction "Marking for deletion Pod default/web-x" and, for a cancelled one,
// "Cancelling deletion of Pod default/web-x".
//   DefaultTolerationSeconds: orch's Pod defaulting does not add Kubernetes' admission
//   tolerations, so this controller treats a pod with no toleration of not-ready (or
//   unreachable) for NoExecute — one whose key is that taint's or empty and whose effect
//   is NoExecute or empty — as having {key, operator Exists, effect NoExecute,
//   tolerationSeconds 300} after its own, as the admission plugin would have written.
//   The pod's stored spec is not changed.
//
// Departures from Kubernetes (docs/reference/controller.md lists them all): a node is
// marked Unknown and tainted in the same pass (Kubernetes taints one pass later); a Lease
// counts as renewed when renewTime changed, not only when it moved forward; a restarted
// controller keeps the taints it finds (Kubernetes removes them when it first sees each
// node and adds them again); the NoExecute tainting queue is worked at each pass and when
// a token is due, not every 100 ms; eviction is counted from the taint's timeAdded as
// above, not from when the taint manager first saw the pod; pods are also marked not
// ready when the node itself reports Ready False; no RegisteredNode/RemovingNode events.
//
// Thread safety and ownership: as every controller of the Manager (controller.h); the
// manager keeps the reconcilers; the periodic pass is a Request that requeues itself, so
// it runs on the manager's executor and stops with the manager. Errors:
// AddNodeLifecycleController returns kInvalidArgument naming a bad option, or fails as
// Manager::NewController does (when adding "taint-eviction" fails, "node-lifecycle" stays
// added: a manager cannot remove controllers).
// Writes that fail are retried at the next pass (node health) or with the controller's
// backoff (NoSchedule taints, pods).
#ifndef ORCH_CONTROLLER_NODE_LIFECYCLE_H_
#define ORCH_CONTROLLER_NODE_LIFECYCLE_H_

#include <cstdint>
#include <limits>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "orch/controller/controller.h"

namespace orch::controller {

struct TaintEvictionOptions {
  // tolerationSeconds of the default tolerations assumed for pods without their own
  // (kube-apiserver --default-not-ready-toleration-seconds and
  // --default-unreachable-toleration-seconds).
  int64_t default_not_ready_toleration_seconds = 300;
  int64_t default_unreachable_toleration_seconds = 300;
  // Pods processed at once (Kubernetes' UpdateWorkerSize).
  int concurrent_syncs = 8;
};

struct NodeLifecycleOptions {
  // How often node health is checked (--node-monitor-period).
  absl::Duration node_monitor_period = absl::Seconds(5);
  // Silence after which a node is Unknown (--node-monitor-grace-period).
  absl::Duration node_monitor_grace_period = absl::Seconds(40);
  // The same for a node that never posted a Ready condition (--node-startup-grace-period).
  absl::Duration node_startup_grace_period = absl::Seconds(60);
  // Nodes tainted NoExecute per second per zone (--node-eviction-rate); infinity: no
  // limit; 0: none.
  double node_eviction_rate = 0.1;
  // The same in a partially disrupted zone larger than large_cluster_size_threshold
  // (--secondary-node-eviction-rate).
  double secondary_node_eviction_rate = 0.01;
  int32_t large_cluster_size_threshold = 50;  // --large-cluster-size-threshold
  // Share of not-Ready nodes that makes a zone partially disrupted
  // (--unhealthy-zone-threshold).
  double unhealthy_zone_threshold = 0.55;
  // NoSchedule taints (taint-node-by-condition) processed at once.
  int concurrent_syncs = 8;
  // Also add the taint eviction controller, with these options.
  bool taint_eviction = true;
  TaintEvictionOptions taint_eviction_options;
};

// Adds the node lifecycle controller, named "node-lifecycle" (and "taint-eviction"
// unless options.taint_eviction is false), to `manager`. Returns the first.
// kInvalidArgument for a non-positive period or grace period, a negative rate or a
// threshold outside [0, 1].
absl::StatusOr<Controller*> AddNodeLifecycleController(Manager* manager,
                                                       NodeLifecycleOptions options = {});

// Adds only the taint eviction controller, named "taint-eviction": for hosts that taint
// nodes themselves. Fails as Manager::NewController does.
absl::StatusOr<Controller*> AddTaintEvictionController(Manager* manager,
                                                       TaintEvictionOptions options = {});

}  // namespace orch::controller

#endif  // ORCH_CONTROLLER_NODE_LIFECYCLE_H_
