// PodWorker: drives one pod's sandbox and containers toward its spec, one runtime call at
// a time, and writes its status. Internal to the node agent.
//
// Every entry point (a new pod object, a relist's news, a probe result, a timer) records
// what changed and asks for a sync; syncs of one pod never overlap. A sync picks the next
// action (make the sandbox, start the next init container, restart a container, stop one
// whose liveness failed, ...), makes the runtime call, and on its completion syncs again,
// until nothing is left to do; then it writes the pod's status if it changed.
#ifndef ORCH_SRC_NODE_POD_WORKER_H_
#define ORCH_SRC_NODE_POD_WORKER_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "orch/api/v1/core.pb.h"
#include "orch/base/executor.h"
#include "orch/base/mutex.h"
#include "orch/client/client.h"
#include "orch/client/events.h"
#include "orch/node/node_agent.h"
#include "orch/runtime/prober.h"
#include "orch/runtime/runtime.h"
#include "node/lifecycle_hooks.h"
#include "node/pod_state.h"
#include "node/agent_gate.h"

namespace orch::node::internal {

// What the agent shares with its pod workers, owned by both (std::shared_ptr): a runtime
// or probe callback that reaches a worker after the agent is gone still finds it, with the
// prober and Event recorder the agent made for itself.
struct AgentContext {
  NodeAgentOptions options;
  client::Client* client = nullptr;
  Executor* executor = nullptr;
  // The agent's work runs through `gate`, which Stop closes: `executor` and `runtime` are
  // the gate, and so is `prober` when the host gave one (the agent's own runs on it).
  std::unique_ptr<AgentGate> gate;
  runtime::Runtime* runtime = nullptr;
  runtime::Prober* prober = nullptr;
  client::EventRecorder* events = nullptr;
  std::unique_ptr<runtime::Prober> own_prober;         // when options.prober is null
  std::unique_ptr<client::EventRecorder> own_events;  // when options.events is null
  std::string runtime_name;  // from the runtime's Version, before any worker runs
  std::string host_ip;
  // The node's allocatable as registered (orch's capacity is the same), set before any
  // worker runs: limits for resourceFieldRef, the memory capacity for OOM scores.
  google::protobuf::Map<std::string, api::v1::Quantity> allocatable;
  std::atomic<int64_t> syncs{0};
  std::atomic<int64_t> runtime_errors{0};
  std::atomic<bool> stopped{false};
  // Set once a relist after the pods were listed has handed every worker what the
  // runtime holds: before that a worker cannot tell "not made yet" from "not seen yet".
  std::atomic<bool> adopted{false};

  // The address of pod `uid` whose sandbox the runtime reports at `runtime_ip`: that one,
  // or, when it is empty, the one options.network holds for the pod ("" without a network
  // or when it refuses).
  std::string PodAddress(const std::string& runtime_ip, const std::string& uid);
};

// Kubernetes' CrashLoopBackOff and image pull backoff: the first retry is at once, then
// 10 s doubling to 5 min; an entry not used for 10 minutes starts over.
class Backoff {
 public:
  // Whether a retry of `key` is held back at `now`, given when it last failed; if so,
  // until when.
  std::optional<absl::Time> HeldUntil(const std::string& key, absl::Time failed_at,
                                      absl::Time now) const;
  // A retry of `key` happens now: the next one waits longer.
  void Next(const std::string& key, absl::Time now);
  void Reset(const std::string& key) { entries_.erase(key); }
  absl::Duration Delay(const std::string& key) const;

 private:
  struct Entry {
    absl::Duration delay;
    absl::Time updated;
  };
  std::map<std::string, Entry> entries_;
};

class PodWorker : public std::enable_shared_from_this<PodWorker> {
 public:
  PodWorker(std::shared_ptr<AgentContext> context, std::string uid);
  ~PodWorker();

  // The pod's newest object; nullptr once it is gone from the store.
  void UpdatePod(std::shared_ptr<const api::v1::Pod> pod);
  // A relist's view of the pod's sandboxes and containers, listed at `generation`:
  // records the relist does not show and that were known before it are gone.
  void Observe(std::vector<SandboxRecord> sandboxes, std::vector<ContainerRecord> containers,
               uint64_t generation);
  // Asks for a sync (no-op while one runs: it runs once more after).
  void Kick();
  // Stops timers and probes; no more syncs.
  void Stop();

  // The pod is gone from the store and nothing of it is left on the runtime.
  bool Finished() const;
  const std::string& uid() const { return uid_; }
  // Container ids the worker knows (for the agent's relist: detail fetches).
  std::map<std::string, cri::ContainerState> KnownStates() const;
  int64_t running_containers() const;

 private:
  struct Probe {
    runtime::ProbeKind kind;
    api::v1::Probe spec;
    std::string container_id;
    std::string container_name;
    int successes = 0;
    int failures = 0;
    bool result = false;
    TimerId timer = 0;
  };
  // One action: makes a runtime call whose completion (on the executor) applies its
  // outcome and syncs again.
  using Action = std::function<void()>;

  void RunSync();
  // Picks the next action; empty when the pod is as it should be. REQUIRES: mu_.
  Action Decide() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Action DecideRunning(const api::v1::Pod& pod) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Action DecideTerminating(const api::v1::Pod* pod) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Action DecideGarbage() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The action for container `c`, or empty (running fine, held back, or done).
  Action DecideContainer(const api::v1::Pod& pod, const api::v1::Container& c)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  bool ImageHeld(const api::v1::Container& c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Action RunSandbox(const api::v1::Pod& pod) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Action StopSandbox(const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Action RemoveSandbox(const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Image, create, start: the chain that brings up one run of `c`.
  Action StartContainer(const api::v1::Pod& pod, const api::v1::Container& c, uint32_t attempt)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Stops `ids` in parallel with `grace_seconds` each. A running container whose spec has a
  // preStop hook runs it first when there is grace: its time comes out of the grace period.
  Action StopContainers(std::vector<std::string> ids, int64_t grace_seconds)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Action RemoveContainer(const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Action DeletePodObject(const api::v1::Pod& pod) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  void PullThenCreate(std::shared_ptr<const api::v1::Pod> pod, api::v1::Container c,
                      uint32_t attempt, SandboxRecord sandbox);
  void Create(std::shared_ptr<const api::v1::Pod> pod, api::v1::Container c, uint32_t attempt,
              SandboxRecord sandbox);
  // The container runs: its postStart hook, if any, then the end of the start action (a
  // failed hook marks the container to be killed, as the kubelet kills it).
  void AfterStart(std::shared_ptr<const api::v1::Pod> pod, api::v1::Container c, std::string id,
                  std::string pod_ip);
  HookServices Hooks() const;
  // Ends the action in progress: applies `apply` (under the lock) and syncs again.
  void Done(std::function<void()> apply);
  void WriteStatus(const api::v1::Pod& pod, const PodView& view);

  void StartProbes(const api::v1::Container& c, const std::string& id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StopProbes(const std::string& container_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ScheduleProbe(size_t index, absl::Duration delay) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RunProbe(std::string container_id, runtime::ProbeKind kind);
  void KickAt(absl::Time when) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RetryLater() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Time Now() const;
  void Event(std::string_view type, std::string_view reason, std::string message);

  const std::shared_ptr<AgentContext> context_;
  const std::string uid_;
  mutable Mutex mu_;
  std::shared_ptr<const api::v1::Pod> pod_ ABSL_GUARDED_BY(mu_);
  bool pod_gone_ ABSL_GUARDED_BY(mu_) = false;  // the store no longer has it
  bool deleted_object_ ABSL_GUARDED_BY(mu_) = false;  // the agent removed the object
  PodView view_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, uint64_t> known_since_ ABSL_GUARDED_BY(mu_);  // record id -> generation
  // Containers whose liveness or startup probe or postStart hook failed: stopped, then
  // restarted by policy.
  std::set<std::string> kill_ ABSL_GUARDED_BY(mu_);
  // postStart hooks under way, by container id: abandoned once the pod is terminating.
  std::map<std::string, std::shared_ptr<HookRun>> post_starts_ ABSL_GUARDED_BY(mu_);
  std::vector<Probe> probes_ ABSL_GUARDED_BY(mu_);
  Backoff crash_backoff_ ABSL_GUARDED_BY(mu_);
  Backoff image_backoff_ ABSL_GUARDED_BY(mu_);
  Backoff sandbox_backoff_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, absl::Time> failed_at_ ABSL_GUARDED_BY(mu_);  // backoff key -> when
  // The last status written, as its deterministic encoding (a fraction of the message's
  // size, and what comparing needs).
  std::optional<std::string> written_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;  // newest relist seen
  bool busy_ ABSL_GUARDED_BY(mu_) = false;
  bool dirty_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  TimerId kick_timer_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time kick_at_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  absl::Time retry_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace orch::node::internal

#endif  // ORCH_SRC_NODE_POD_WORKER_H_
