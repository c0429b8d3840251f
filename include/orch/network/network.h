// Network: the pluggable network layer of a node. Two jobs behind one interface:
//   1. pod addressing where the runtime gives none (a FakeRuntime in a simulation; a CRI
//      runtime brings its CNI address, which the node agent reports instead);
//   2. programming each Service's cluster IP and ports to its ready endpoints, as
//      kube-proxy does, updated as the endpoints change (ServiceProxy in
//      orch/node/service_proxy.h calls SyncAll once its informers have synced, then
//      SyncServices with the Services that changed together).
// Implementations: FakeNetwork (orch/network/fake_network.h), in-process, for simulations
// and tests; NftablesNetwork (orch/network/nftables_network.h), the Linux kernel's
// nftables, for real nodes.
//
// Thread safety: implementations must accept calls from any thread. Ownership: the host
// owns the Network and keeps it alive while a ServiceProxy or agent uses it. Errors:
// absl::Status naming what is wrong; SyncService of a bad rule (no cluster IP, a port out
// of range) is kInvalidArgument and changes nothing.
#ifndef ORCH_NETWORK_NETWORK_H_
#define ORCH_NETWORK_NETWORK_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace orch::network {

// One endpoint behind a Service port (from an EndpointSlice).
struct Backend {
  std::string address;  // the pod's IP
  int32_t port = 0;     // the resolved target port
  bool ready = false;
  bool serving = false;
  bool terminating = false;
  std::string node;  // nodeName, "" when unknown
  std::string pod;   // "namespace/name" of the target pod, "" when none

  friend bool operator==(const Backend&, const Backend&) = default;
};

struct ServicePortRule {
  std::string name;
  std::string protocol = "TCP";
  int32_t port = 0;       // on the cluster IP
  int32_t node_port = 0;  // 0: none
  std::vector<Backend> backends;  // ordered by address, then port

  friend bool operator==(const ServicePortRule&, const ServicePortRule&) = default;
};

// What one Service should do: traffic to cluster_ip:port (and to any node's node_port)
// goes to one of the port's ready backends.
struct ServiceRule {
  std::string ns;
  std::string name;
  std::string cluster_ip;                     // "None" for a headless Service: not programmed
  std::string session_affinity = "None";      // or "ClientIP"
  int32_t affinity_timeout_seconds = 10800;   // ClientIP only
  std::vector<ServicePortRule> ports;

  friend bool operator==(const ServiceRule&, const ServiceRule&) = default;
};

// "namespace/name": how a Service is named in keys and messages.
std::string ServiceName(std::string_view ns, std::string_view name);

// A batch of changes, applied together: Services to program (each replacing what was
// programmed for it) and Services to remove, as (namespace, name).
struct ServiceChanges {
  std::vector<ServiceRule> synced;
  std::vector<std::pair<std::string, std::string>> deleted;
};

// Checks what every Network needs of a rule: a name, a cluster IP that is an IPv4 address
// or "None", sessionAffinity None or ClientIP with a timeout of 1 to 86400 s, protocols
// TCP, UDP or SCTP, ports 1 to 65535 (node port 0 for none), backends with IPv4 addresses
// and ports 1 to 65535. kInvalidArgument naming the Service and the field, e.g.
// `service default/web: ports[0].backends[2].address: Invalid value: "x": must be an IPv4
// address`.
absl::Status ValidateServiceRule(const ServiceRule& rule);

// The backends a new connection to `port` may go to, in the rule's order: the ready ones;
// when none is ready, the serving ones that are terminating (kube-proxy's fallback, so a
// Service whose every pod is shutting down still answers while they drain); else none.
std::vector<const Backend*> CandidateBackends(const ServicePortRule& port);

class Network {
 public:
  virtual ~Network() = default;

  // An address for pod `pod_uid` on node `node` from that node's pod range; the same
  // address again for the same pod. kNotFound when the node has no range,
  // kResourceExhausted when its range is full.
  virtual absl::StatusOr<std::string> AssignPodAddress(std::string_view node,
                                                       std::string_view pod_uid) = 0;
  // Gives the address back; unknown pods are ignored.
  virtual void ReleasePodAddress(std::string_view node, std::string_view pod_uid) = 0;

  // Programs `rule`, replacing what was programmed for that Service.
  virtual absl::Status SyncService(const ServiceRule& rule) = 0;
  // Removes the Service's rules; OK when there were none.
  virtual absl::Status DeleteService(std::string_view ns, std::string_view name) = 0;
  // Both of the above for many Services at once, all or nothing: on an error nothing
  // changed. What ServiceProxy calls with the changes that came together.
  virtual absl::Status SyncServices(const ServiceChanges& changes) = 0;
  // Programs exactly `rules`, each as SyncService would, and removes every other Service:
  // the reconcile from scratch that ServiceProxy does once its view of the Services is
  // complete (at start, and so after a restart of the host). All or nothing: on an error
  // nothing changed.
  virtual absl::Status SyncAll(const std::vector<ServiceRule>& rules) = 0;
};

}  // namespace orch::network

#endif  // ORCH_NETWORK_NETWORK_H_
