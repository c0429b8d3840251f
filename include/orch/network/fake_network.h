// FakeNetwork: the Network of a simulation. Pod addresses come from a pod range per node;
// Service rules are kept in memory, and Connect answers "where would a connection to this
// address go" as the programmed rules say — so a simulation can count the connections
// that went to a pod that was not ready or no longer there (its rules lag the pods by as
// much as the EndpointSlice controller and the ServiceProxy do).
//
//   network::FakeNetwork network({.clock = &executor.clock()});
//   ORCH_RETURN_IF_ERROR(network.AddNode("node-0", "10.64.0.0/24"));
//   ... a ServiceProxy programs it from the store ...
//   absl::StatusOr<network::Connection> c = network.Connect("10.64.0.9", "10.96.0.10", 80);
//
// Choosing a backend, as kube-proxy does, with one change named: among the port's ready
// backends — or, when none is ready, the serving ones that are terminating (kube-proxy's
// terminating-endpoint fallback) — in turn (round robin; kube-proxy picks at random, a
// fixed order keeps a simulation the same every run). With sessionAffinity ClientIP a
// client keeps its backend while that backend is still a candidate and it connected
// within the affinity timeout.
//
// Thread safety: every method may be called from any thread. Ownership: `clock` must
// outlive the network. Errors: AddNode kInvalidArgument for a bad range (prefix 8 to 30),
// kAlreadyExists for a node added twice; Connect kNotFound when no Service listens on the
// address and port, kUnavailable ("no endpoints available for service \"default/web\"")
// when it has no candidate backend.
#ifndef ORCH_NETWORK_FAKE_NETWORK_H_
#define ORCH_NETWORK_FAKE_NETWORK_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "orch/base/clock.h"
#include "orch/base/ipv4.h"
#include "orch/base/mutex.h"
#include "orch/network/network.h"
#include "orch/network/pod_addresses.h"

namespace orch::network {

struct FakeNetworkOptions {
  Clock* clock = &Clock::Real();
};

// Where a connection went.
struct Connection {
  std::string service;  // "namespace/name"
  Backend backend;
};

class FakeNetwork final : public Network {
 public:
  explicit FakeNetwork(FakeNetworkOptions options = {});

  // Gives `node` its pod range; addresses are handed out from .2 up (.1 is the gateway's).
  absl::Status AddNode(std::string_view node, std::string_view pod_cidr);
  // Forgets the node's range and the addresses handed out from it.
  void RemoveNode(std::string_view node);

  absl::StatusOr<std::string> AssignPodAddress(std::string_view node,
                                               std::string_view pod_uid) override;
  void ReleasePodAddress(std::string_view node, std::string_view pod_uid) override;
  absl::Status SyncService(const ServiceRule& rule) override;
  absl::Status DeleteService(std::string_view ns, std::string_view name) override;
  absl::Status SyncServices(const ServiceChanges& changes) override;
  absl::Status SyncAll(const std::vector<ServiceRule>& rules) override;

  // A connection from `client_ip` to a Service's cluster IP and port.
  absl::StatusOr<Connection> Connect(std::string_view client_ip, std::string_view address,
                                     int32_t port, std::string_view protocol = "TCP");
  // The same, to a node port (on any node: every node forwards it alike).
  absl::StatusOr<Connection> ConnectNodePort(std::string_view client_ip, int32_t node_port,
                                             std::string_view protocol = "TCP");

  // The rule programmed for a Service, if any.
  std::optional<ServiceRule> Rule(std::string_view ns, std::string_view name) const;
  // How many Services are programmed, and how many SyncService calls changed a rule.
  size_t service_count() const;
  int64_t rule_changes() const;

 private:
  struct Affinity {
    Backend backend;
    absl::Time last;
  };
  struct Programmed {
    ServiceRule rule;
    std::map<size_t, uint64_t> turn;                  // per port index: round-robin position
    std::map<std::string, Affinity> affinity;         // by "<port index>/<client ip>"
  };

  // Programs `rule` (counted when it changes), or forgets Service `key` ("ns/name").
  void Program(const ServiceRule& rule) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Forget(const std::string& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<Connection> Pick(Programmed& service, size_t port_index,
                                  std::string_view client_ip) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Clock* const clock_;
  mutable Mutex mu_;
  std::map<std::string, PodAddresses, std::less<>> nodes_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Programmed, std::less<>> services_ ABSL_GUARDED_BY(mu_);  // "ns/name"
  int64_t rule_changes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace orch::network

#endif  // ORCH_NETWORK_FAKE_NETWORK_H_
