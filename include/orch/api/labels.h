// Well-known labels: the keys Kubernetes' own components put on and read from objects,
// in one place for every part of orch that speaks them.
#ifndef ORCH_API_LABELS_H_
#define ORCH_API_LABELS_H_

namespace orch::api {

// A node's host name: the topology key of "one per node" spreading and anti-affinity.
inline constexpr char kLabelHostname[] = "kubernetes.io/hostname";
// A node's zone: the topology key of zone spreading, endpoint hints and zone-aware
// eviction.
inline constexpr char kLabelTopologyZone[] = "topology.kubernetes.io/zone";
// On an EndpointSlice: the name of the Service it belongs to.
inline constexpr char kLabelServiceName[] = "kubernetes.io/service-name";

}  // namespace orch::api

#endif  // ORCH_API_LABELS_H_
