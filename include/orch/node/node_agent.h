// NodeAgent: the kubelet's job for one node, over a Runtime.
//
// It registers the node (a Node object with capacity, allocatable, conditions and
// addresses) and keeps it alive by renewing its Lease (kube-node-lease/<node>), watches
// the pods bound to its node, and drives each pod's sandbox and containers to its spec:
//   - init containers one after another, each to a successful exit, then every app
//     container; images pulled as imagePullPolicy says (Always, IfNotPresent, Never);
//   - restarts as restartPolicy says (Always, OnFailure, Never), delayed by
//     CrashLoopBackOff: 10 s doubling to 5 min, forgotten after 10 min of running;
//   - liveness, readiness and startup probes with their initialDelaySeconds,
//     periodSeconds, timeoutSeconds, successThreshold and failureThreshold: a failed
//     liveness (or startup) probe restarts the container, readiness sets Ready;
//   - the pod's status written back: phase, conditions (PodScheduled, Initialized,
//     ContainersReady, Ready), container states and restart counts, pod and host IPs,
//     and the runtime's errors as Kubernetes names them (ErrImagePull, ImagePullBackOff,
//     CreateContainerError, RunContainerError, CrashLoopBackOff) with their messages;
//   - graceful deletion: SIGTERM, the grace period, then SIGKILL; the pod object is
//     removed only once its containers are gone.
// After a restart of the agent it lists the runtime and adopts the sandboxes and
// containers of its pods (nothing restarted, nothing duplicated), removes those that
// belong to no pod, and collects dead containers and sandboxes as it goes.
//
// All of its work runs as tasks on the executor (one pod is never worked on by two tasks
// at once); runtime calls are asynchronous, so a slow pull holds up only its own pod.
// On a VirtualExecutor with a FakeRuntime it is deterministic.
//
// Thread safety: Start, Stop and stats may be called from any thread, Stop also from inside
// a call the agent makes (to the runtime, say). Ownership: the client, executor, runtime,
// prober, informers, network, pod router and Event recorder need only outlive Stop (or the
// destructor); tasks left on the executor may run or be destroyed later, after the agent
// itself, and do nothing. Once Stop returns no work of the agent runs: the tasks, runtime
// and probe calls and their callbacks under way have returned (Stop waits for them, an
// httpGet or tcpSocket probe or an httpGet hook up to its timeout), and those not begun
// never start; the runtime may still call back about earlier calls, and nothing of the
// agent's runs.
// Errors: Create returns kInvalidArgument for missing or bad options (naming the field);
// Start returns what registering the node returned (kAlreadyExists never: an existing
// Node object of the same name is taken over and updated).
#ifndef ORCH_NODE_NODE_AGENT_H_
#define ORCH_NODE_NODE_AGENT_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "orch/api/v1/core.pb.h"
#include "orch/base/executor.h"
#include "orch/client/client.h"
#include "orch/client/events.h"
#include "orch/client/informer.h"
#include "orch/network/network.h"
#include "orch/node/pod_router.h"
#include "orch/runtime/prober.h"
#include "orch/runtime/runtime.h"

namespace orch::node {

// The component a node agent's Events report (source.component, reportingComponent).
inline constexpr char kNodeAgentComponent[] = "kubelet";

struct NodeAgentOptions {
  std::string node_name;                  // REQUIRED
  client::Client* client = nullptr;       // REQUIRED
  Executor* executor = nullptr;           // REQUIRED: every task and timer of the agent
  runtime::Runtime* runtime = nullptr;    // REQUIRED
  // Checks for probes; nullptr: the real checks (runtime::NewProber).
  runtime::Prober* prober = nullptr;
  // Where the agent finds pods. nullptr: its own informer, on `executor`. A host running
  // many agents in one process (a simulation) passes one shared factory.
  client::SharedInformerFactory* informers = nullptr;
  // When set, pods come from this router (made on the shared factory) and `informers` is
  // not needed. With many agents, each then hears only its own node's pods; on a shared
  // factory alone every agent's handler sees every pod event.
  PodRouter* pod_router = nullptr;
  // Records the agent's Events. nullptr: a recorder of its own, reporting as
  // kNodeAgentComponent. A recorder remembers recent Events to count repeats (up to 4,096),
  // so a host running many agents in one process shares one (it is thread-safe) rather
  // than pay that per agent. Must outlive the agent.
  client::EventRecorder* events = nullptr;

  // The Node object. Capacity: these quantities; an empty cpu or memory is read from
  // the host (CPU count, MemTotal). Allocatable = capacity (no reservations).
  std::string cpu;
  std::string memory;
  std::string pods = "110";
  std::map<std::string, std::string> labels;  // plus kubernetes.io/hostname, kubernetes.io/os
  std::vector<api::v1::Taint> taints;          // registered with the node
  std::string internal_ip;                     // the node's InternalIP address (and pods' hostIP)
  // Pod addresses where the runtime gives none (a FakeRuntime without a pod range): the
  // agent asks this Network for one per pod (AssignPodAddress(node_name, pod uid)), keeps
  // it while the pod lives, and gives it back once nothing of the pod is left. nullptr:
  // pods have the runtime's address or none. A refusal (no range, range full) leaves the
  // pod without an address and counts among the agent's runtime errors.
  network::Network* network = nullptr;

  // Heartbeats: the Lease is this long and renewed every quarter of it; the Ready
  // condition is posted at least this often even when nothing changed.
  absl::Duration lease_duration = absl::Seconds(40);
  absl::Duration node_status_report_frequency = absl::Minutes(5);
  // How often the runtime is listed for changes of container states.
  absl::Duration relist_period = absl::Seconds(1);
  // Where container logs go: <dir>/<namespace>_<pod>_<uid>/<container>/<restart>.log.
  std::string pod_log_directory = "/var/log/pods";
  // Dead containers kept per container name (the newest are kept; the kubelet's
  // MaxPerPodContainer); their sandboxes go once they hold nothing.
  int dead_containers_per_container = 1;
};

class NodeAgent {
 public:
  struct Stats {
    int64_t pods = 0;              // pods bound here that the agent works on
    int64_t running_containers = 0;
    int64_t syncs = 0;             // pod syncs run
    int64_t runtime_errors = 0;    // runtime calls that failed
    int64_t adopted_containers = 0;  // found running at Start and kept
  };

  static absl::StatusOr<std::unique_ptr<NodeAgent>> Create(NodeAgentOptions options);
  virtual ~NodeAgent() = default;

  // Registers (or takes over) the Node object, creates or renews its Lease, lists the
  // runtime to adopt what runs, and starts working on its pods. Idempotent.
  virtual absl::Status Start() = 0;
  // Stops heartbeats and pod work; containers keep running (as when a kubelet stops).
  // Idempotent.
  virtual void Stop() = 0;
  virtual Stats stats() const = 0;
};

}  // namespace orch::node

#endif  // ORCH_NODE_NODE_AGENT_H_
