// PodRouter: one Pod informer handler for many node agents, each told only of its own
// node's pods.
//
// A NodeAgent on a shared SharedInformerFactory adds its own handler to the Pod informer,
// so it hears every pod event and drops those of other nodes: with N agents in one process
// (a simulation of N nodes) every event costs N calls. A PodRouter adds ONE handler and
// hands each event to the handlers registered for the pod's spec.nodeName: an event costs
// a map lookup plus the calls of that node's handlers.
//
//   ORCH_ASSIGN_OR_RETURN(auto router, node::PodRouter::Create(&informers));
//   for (NodeAgentOptions& options : agents) options.pod_router = router.get();
//   ... create and Start the agents ...
//   informers.Start();
//
// Delivery. A handler registered for node N gets, in the informer's order:
//   on_add(pod)          a pod on N: created bound to N, or whose nodeName became N (the
//                        binding, "" -> N); also, at registration, each pod the router
//                        already holds for N (as a handler added late to an informer);
//   on_update(old, new)  a pod on N changed, and is still on N;
//   on_delete(pod)       a pod on N deleted (its last state, as the informer gives it),
//                        or one whose nodeName moved from N to another node (its last
//                        state on N);
//   on_synced()          once, after the adds for what the informer's first list held
//                        for N (for a handler registered later: after the adds owed at
//                        its registration).
// Handlers registered for "" hear the pods bound to no node.
//
// Handlers of one router never run concurrently with each other. They run inside the
// informer's handler (a task on the factory's Executor), except the adds and on_synced a
// handler is owed when it is registered: those run on the thread calling Add, before Add
// returns — unless another thread is delivering at that moment (or Add is called from
// inside a handler), in which case that thread delivers them next, still in order. So a
// handler may run on the thread that calls Add: do not hold a lock there that the handler
// takes. No lock of the router is held while a handler runs.
//
// Thread safety: Create, Add and Remove may be called from any thread, Add and Remove
// also from inside a handler. Ownership: the caller owns the router. The informer factory
// need not outlive it (once the factory shuts down, nothing more is delivered); the
// router must outlive every handler registered on it (NodeAgent::Stop removes the
// agent's). Errors: Create returns kInvalidArgument when `informers` is null or Pod is
// not a kind of its client's Scheme, kFailedPrecondition when the factory was shut down
// (as SharedInformerFactory::InformerFor); Add and Remove cannot fail.
#ifndef ORCH_NODE_POD_ROUTER_H_
#define ORCH_NODE_POD_ROUTER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "orch/api/v1/core.pb.h"
#include "orch/client/informer.h"

namespace orch::node {

class PodRouter {
 public:
  // Adds the router's handler to `informers`' Pod informer (created if need be; started
  // with the factory).
  static absl::StatusOr<std::unique_ptr<PodRouter>> Create(
      client::SharedInformerFactory* informers);

  PodRouter() = default;
  PodRouter(const PodRouter&) = delete;
  PodRouter& operator=(const PodRouter&) = delete;
  // Removes the router's handler from the informer. REQUIRES: every handler removed, no
  // call of Add or Remove in progress, not called from inside a handler.
  virtual ~PodRouter() = default;

  // Registers `handler` (any of its callbacks may be empty) for the pods whose
  // spec.nodeName is `node_name`. Returns its id for Remove; never 0.
  virtual client::HandlerId Add(std::string node_name,
                                client::EventHandler<api::v1::Pod> handler) = 0;
  // Once this returns, the handler is never called again; if it is running on another
  // thread, waits for it to return. Unknown ids are ignored.
  virtual void Remove(client::HandlerId id) = 0;
};

}  // namespace orch::node

#endif  // ORCH_NODE_POD_ROUTER_H_
