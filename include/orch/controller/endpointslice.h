// The EndpointSlice controller: the addresses behind each Service (Kubernetes'
// pkg/controller/endpointslice), on the controller SDK.
//
//   ORCH_RETURN_IF_ERROR(controller::AddEndpointSliceController(manager.get()).status());
//
// For every Service with a selector (one without is left to whoever writes its slices;
// an ExternalName Service gets none), from the informer caches, as Kubernetes does:
//   - Endpoints: each pod of the Service's namespace matching the selector that has an
//     address of the Service's family (spec.ipFamilies[0], IPv4 when unset) and has not
//     terminated (Succeeded, Failed) is one endpoint: addresses [its pod IP], nodeName,
//     zone (its node's topology.kubernetes.io/zone label), targetRef (the pod), hostname
//     (spec.hostname, when spec.subdomain names the Service), and the conditions
//       serving      the pod is Ready (always true with publishNotReadyAddresses);
//       terminating  the pod is being deleted;
//       ready        serving and not terminating (true with publishNotReadyAddresses).
//   - Ports are resolved per pod: a numeric targetPort is that port; a named one is the
//     container port of that name and protocol, and a pod without it has no such port.
//     Endpoints are grouped by their resolved port set, each group in slices of at most
//     max_endpoints_per_slice endpoints. A Service with no endpoints keeps one empty
//     slice with no ports (Kubernetes' placeholder).
//   - Slices are named "<service>-<random>" (generateName), labelled
//     kubernetes.io/service-name=<service> and
//     endpointslice.kubernetes.io/managed-by=endpointslice-controller.k8s.io plus the
//     Service's own labels (and service.kubernetes.io/headless for clusterIP None), and
//     controlled by the Service, so the garbage collector deletes them with it.
//   - Minimal churn: an endpoint stays in the slice it is in (updated in place when the
//     pod changed); new endpoints fill slices with room before a new slice is made; a
//     slice left empty is deleted; only slices whose content changed are written, each
//     with a compare-and-swap on its resourceVersion.
//   - A cache that has not yet shown this controller's own last writes to a Service's
//     slices is not acted on (Kubernetes' EndpointSliceTracker): the sync waits for the
//     slice events, so a lagging cache never makes it create a slice twice.
//   - Batching: changes to a Service's pods within batch_period are synced once
//     (Kubernetes' --endpointslice-updates-batch-period; 0 syncs at the next turn of the
//     work queue, which still merges changes that arrive while a sync is queued).
//   - A failed write is retried with the work queue's backoff, and Event
//     FailedToUpdateEndpointSlices ("Error updating Endpoint Slices for Service
//     default/web: ...") is recorded on the Service.
//
// Thread safety and ownership: as every controller of the Manager (controller.h); the
// manager keeps the reconciler. Errors: kInvalidArgument for max_endpoints_per_slice
// outside 1..1000, a non-positive concurrent_syncs or a negative batch_period; otherwise
// as Manager::NewController.
#ifndef ORCH_CONTROLLER_ENDPOINTSLICE_H_
#define ORCH_CONTROLLER_ENDPOINTSLICE_H_

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "orch/api/labels.h"
#include "orch/controller/controller.h"

namespace orch::controller {

// The labels Kubernetes puts on the slices it manages.
inline constexpr const char* kServiceNameLabel = api::kLabelServiceName;
inline constexpr char kManagedByLabel[] = "endpointslice.kubernetes.io/managed-by";
inline constexpr char kEndpointSliceControllerName[] = "endpointslice-controller.k8s.io";

struct EndpointSliceOptions {
  // Services synced at once (--concurrent-service-endpoint-syncs).
  int concurrent_syncs = 5;
  // Endpoints per slice at most (--max-endpoints-per-slice), 1 to 1000.
  int max_endpoints_per_slice = 100;
  // How long pod changes wait to be synced together (--endpointslice-updates-batch-period).
  absl::Duration batch_period = absl::ZeroDuration();
};

// Adds the controller, named "endpointslice", to `manager`.
absl::StatusOr<Controller*> AddEndpointSliceController(Manager* manager,
                                                       EndpointSliceOptions options = {});

}  // namespace orch::controller

#endif  // ORCH_CONTROLLER_ENDPOINTSLICE_H_
