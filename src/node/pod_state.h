// What the node agent knows of one pod on the runtime's side, and the pure rules that turn
// it into the pod's status. Internal to the node agent.
#ifndef ORCH_SRC_NODE_POD_STATE_H_
#define ORCH_SRC_NODE_POD_STATE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "orch/api/v1/core.pb.h"
#include "orch/runtime/runtime.h"

namespace orch::node::internal {

namespace cri = ::orch::runtime::cri;

// Labels the agent puts on sandboxes and containers, as the kubelet does, so that after a
// restart it knows whose they are.
inline constexpr char kPodNameLabel[] = "io.kubernetes.pod.name";
inline constexpr char kPodNamespaceLabel[] = "io.kubernetes.pod.namespace";
inline constexpr char kPodUidLabel[] = "io.kubernetes.pod.uid";
inline constexpr char kContainerNameLabel[] = "io.kubernetes.container.name";

// One runtime container of the pod.
struct ContainerRecord {
  std::string id;
  std::string sandbox_id;
  std::string name;       // the container's name in the pod spec
  uint32_t attempt = 0;   // 0 for the first run, +1 for each restart
  cri::ContainerState state = cri::CONTAINER_UNKNOWN;
  int64_t created_at = 0;   // nanoseconds since the epoch
  int64_t started_at = 0;
  int64_t finished_at = 0;
  int32_t exit_code = 0;
  std::string reason;
  std::string message;
  std::string image;
  std::string image_ref;
  bool detailed = false;  // filled from ContainerStatus (exit code, times), not only a list

  bool running() const { return state == cri::CONTAINER_RUNNING; }
  bool exited() const { return state == cri::CONTAINER_EXITED; }
};

struct SandboxRecord {
  std::string id;
  uint32_t attempt = 0;
  cri::PodSandboxState state = cri::SANDBOX_NOTREADY;
  int64_t created_at = 0;
  std::string ip;

  bool ready() const { return state == cri::SANDBOX_READY; }
};

// Why a container is not running, when the agent knows better than the runtime (a pull
// that failed, a restart held back by CrashLoopBackOff).
struct Waiting {
  std::string reason;
  std::string message;
};

// The pod as the agent sees it on the runtime, plus what its probes said.
struct PodView {
  std::vector<SandboxRecord> sandboxes;    // oldest first
  std::vector<ContainerRecord> containers;  // oldest first
  std::map<std::string, Waiting> waiting;  // by container name
  std::map<std::string, bool> ready;       // by container id: readiness probe passed
  std::map<std::string, bool> started;     // by container id: startup probe passed
  std::optional<absl::Time> start_time;    // when the agent first took the pod on

  // The newest sandbox, or nullptr.
  const SandboxRecord* Sandbox() const;
  // The newest container of `name`, and the one before it; nullptr when none.
  const ContainerRecord* Latest(const std::string& name) const;
  const ContainerRecord* Previous(const std::string& name) const;
  ContainerRecord* Find(const std::string& id);
};

// Inputs of the status that are not in the view.
struct StatusContext {
  std::string runtime_name;  // containerID prefix: "<runtime_name>://<id>"
  std::string host_ip;
  absl::Time now;
};

// The pod's status as the kubelet would report it: phase, conditions, container
// statuses, IPs. `old` supplies what the agent does not own (PodScheduled, and the
// transition times of conditions that did not change).
api::v1::PodStatus ComputePodStatus(const api::v1::Pod& pod, const PodView& view,
                                    const StatusContext& context);

// The kubelet's getPhase over the statuses computed for the pod's containers.
std::string PodPhase(const api::v1::PodSpec& spec, const api::v1::PodStatus& status);

// True when every init container has exited 0 (restartable ones aside).
bool InitDone(const api::v1::PodSpec& spec, const PodView& view);

// Whether the restart policy wants `c` (exited) to run again.
bool ShouldRestart(const std::string& restart_policy, const ContainerRecord& c);

// A CRI time (nanoseconds since the epoch) as metav1.Time.
google::protobuf::Timestamp ToTimestamp(int64_t nanos);

}  // namespace orch::node::internal

#endif  // ORCH_SRC_NODE_POD_STATE_H_
