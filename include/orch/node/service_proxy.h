// ServiceProxy: programs a Network from the store, as kube-proxy does on each node. It
// watches Services and EndpointSlices through shared informers and, whenever one changes,
// hands the Network that Service's whole rule (network::ServiceRule): its cluster IP,
// session affinity, and per port the backends of the Service's EndpointSlices (those
// labelled kubernetes.io/service-name=<service>) whose slice port has the same name and
// protocol, with their ready/serving/terminating conditions. A Service that is deleted,
// is ExternalName, or has no cluster IP (headless, or not yet allocated) is removed from
// the Network.
//
//   ORCH_ASSIGN_OR_RETURN(auto proxy, node::ServiceProxy::Create(
//       {.informers = &informers, .network = &network, .executor = &executor}));
//   informers.Start();
//
// It waits until both informers have synced, then hands the Network every Service at once
// (Network::SyncAll: after a restart of the host, what changed meanwhile is put right and
// what went is removed). From then on a change marks its Service, and one task on
// `executor` hands the Network every Service marked since the last (Network::
// SyncServices): changes that come together (an informer's batch of events) cost one
// call, which matters where a call is a kernel transaction. When the Network refuses a
// batch, each Service is tried on its own; one refused is tried again after retry_delay
// (doubling to 30 s) until it is accepted or the Service changes again.
//
// Thread safety: Create and the destructor may be called from any thread; the proxy's
// work runs in the informers' handlers and on `executor`. Ownership: the caller owns the
// proxy; informers, network and executor must outlive it. Errors: Create returns
// kInvalidArgument when an option is missing, and the informer factory's errors.
#ifndef ORCH_NODE_SERVICE_PROXY_H_
#define ORCH_NODE_SERVICE_PROXY_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "orch/base/executor.h"
#include "orch/client/informer.h"
#include "orch/network/network.h"

namespace orch::node {

struct ServiceProxyOptions {
  client::SharedInformerFactory* informers = nullptr;  // required
  network::Network* network = nullptr;                 // required
  Executor* executor = nullptr;                        // required: retries run on it
  absl::Duration retry_delay = absl::Seconds(1);
};

class ServiceProxy {
 public:
  static absl::StatusOr<std::unique_ptr<ServiceProxy>> Create(ServiceProxyOptions options);
  // Removes its handlers; retries not yet run are dropped.
  virtual ~ServiceProxy() = default;
  ServiceProxy(const ServiceProxy&) = delete;
  ServiceProxy& operator=(const ServiceProxy&) = delete;

  // Calls of Network::SyncAll and SyncServices so far (a batch that is refused and tried
  // Service by Service counts each Service), and refusals among them.
  virtual int64_t syncs() const = 0;
  virtual int64_t failures() const = 0;

 protected:
  ServiceProxy() = default;
};

}  // namespace orch::node

#endif  // ORCH_NODE_SERVICE_PROXY_H_
