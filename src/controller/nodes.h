// What the node controllers (node lifecycle, taint eviction, pod GC) ask of nodes, taints
// and tolerations: Kubernetes' pkg/controller/util/node, pkg/util/taints and the core/v1
// toleration helpers. Internal.
#ifndef ORCH_SRC_CONTROLLER_NODES_H_
#define ORCH_SRC_CONTROLLER_NODES_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "controller/pods.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "google/protobuf/timestamp.pb.h"
#include "orch/api/taints.h"
#include "orch/api/v1/core.pb.h"
#include "orch/client/informer.h"

namespace orch::controller::internal {

// Where node agents keep their heartbeat Leases, each named after its node.
inline constexpr std::string_view kNodeLeaseNamespace = "kube-node-lease";

// The pod informer index of pods by spec.nodeName (bound pods only).
inline constexpr std::string_view kPodNodeNameIndex = "spec.nodeName";

using Taints = google::protobuf::RepeatedPtrField<api::v1::Taint>;
using Tolerations = google::protobuf::RepeatedPtrField<api::v1::Toleration>;

// The node's condition of `type`, or nullptr.
const api::v1::NodeCondition* FindNodeCondition(const api::v1::NodeStatus& status,
                                                std::string_view type);
api::v1::NodeCondition* FindNodeCondition(api::v1::NodeStatus& status, std::string_view type);
// The Ready condition's status ("True", "False", "Unknown"), or "" when the node has none.
std::string ReadyStatus(const api::v1::Node& node);

// A taint with this key and effect is present (Kubernetes' Taint.MatchTaint: the value
// and timeAdded do not count).
bool HasTaint(const Taints& taints, std::string_view key, std::string_view effect);
// Removes every taint with this key and effect; true if any was there.
bool RemoveTaint(Taints& taints, std::string_view key, std::string_view effect);

// Adds kPodNodeNameIndex to the pod informer; OK when a controller added it already.
absl::Status AddPodNodeNameIndex(client::Informer<api::v1::Pod>& pods);
// The cached pods bound to `node` (REQUIRES: AddPodNodeNameIndex succeeded).
std::vector<PodPtr> PodsOnNode(const client::Lister<api::v1::Pod>& pods, std::string_view node);

}  // namespace orch::controller::internal

#endif  // ORCH_SRC_CONTROLLER_NODES_H_
