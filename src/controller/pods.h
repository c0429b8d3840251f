// What the built-in controllers ask of pods: active, ready, available, and which to
// delete first (Kubernetes' pkg/controller/controller_utils.go and api/v1/pod). Internal.
#ifndef ORCH_SRC_CONTROLLER_PODS_H_
#define ORCH_SRC_CONTROLLER_PODS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "orch/api/v1/core.pb.h"
#include "orch/client/informer.h"

namespace orch::controller::internal {

using PodPtr = std::shared_ptr<const api::v1::Pod>;

// Not terminated (Succeeded, Failed) and not being deleted.
bool IsPodActive(const api::v1::Pod& pod);
// The Ready condition is True.
bool IsPodReady(const api::v1::Pod& pod);
// Ready, for at least `min_ready_seconds` (the Ready condition's lastTransitionTime) before
// `now`; with 0, ready is available.
bool IsPodAvailable(const api::v1::Pod& pod, int32_t min_ready_seconds, absl::Time now);
// The two objects' labels are the same.
bool SameLabels(const api::v1::ObjectMeta& a, const api::v1::ObjectMeta& b);
// "namespace/name": the key controllers track pods by.
std::string PodKey(const api::v1::Pod& pod);

// The Pod informer's index by controller, as Kubernetes' controllerUID index: a pod is
// filed under its controller's uid, or under "<namespace>/" when it has no controller
// (an orphan some controller may adopt). Lets a controller find its pods without reading
// every pod of the namespace.
inline constexpr char kPodsByController[] = "orch.controllerUID";
// Adds that index to `pods` (OK when it is there already).
absl::Status AddPodsByControllerIndex(client::Informer<api::v1::Pod>& pods);
// The pods a controller with metadata `owner` may claim: those it controls and the
// orphans of its namespace (what Claim then adopts or releases), by name. REQUIRES: the
// index.
std::vector<PodPtr> PodsForController(const client::Lister<api::v1::Pod>& pods,
                                      const api::v1::ObjectMeta& owner);
// The pods controlled by the object with `uid`, by namespace and name (the informer keeps
// an index's keys in order). REQUIRES: the index.
std::vector<PodPtr> PodsControlledBy(const client::Lister<api::v1::Pod>& pods,
                                     const std::string& uid);

// Orders `pods` so that the ones to delete first come first, as Kubernetes' ReplicaSet
// controller ranks them (ActivePodsWithRanks, with pod-deletion-cost and logarithmic
// scale-down): unscheduled before scheduled; Pending before Unknown before Running; not
// ready before ready; lower controller.kubernetes.io/pod-deletion-cost first; more
// related pods on the same node first (`related`: pods whose count per node ranks them);
// ready for less time first, compared on a log2 scale of age at `now`; more container
// restarts first; newer first (log2 scale); ties by uid.
void SortForDeletion(std::vector<PodPtr>& pods, const std::vector<PodPtr>& related, absl::Time now);

}  // namespace orch::controller::internal

#endif  // ORCH_SRC_CONTROLLER_PODS_H_
