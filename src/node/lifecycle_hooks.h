// Container lifecycle hooks (postStart, preStop), run as the kubelet's handler runner runs
// them (pkg/kubelet/lifecycle/handlers.go). Internal to the node agent, which decides when
// a hook runs and what its outcome means (kill the container after a failed postStart,
// take a preStop's time out of the grace period).
//
//   - exec: the command in the container through the runtime's ExecSync, as written (no
//     $(VAR) expansion, as the kubelet); a non-zero exit fails it.
//   - httpGet: the Prober's HTTP check (orch's one HTTP check; host defaults to the pod's
//     address, port by number or name). Unlike the kubelet, which fails a hook only when
//     its request gets no answer, a status of 400 or more fails it too, as it fails a probe.
//   - sleep: waits that long on the executor's clock.
//   - tcpSocket (or nothing): fails, as the kubelet's "invalid handler".
//
// Thread safety: StartHook and HookRun's methods may be called from any thread; `done` runs
// exactly once, posted to the executor. Ownership: the runtime, prober and executor must
// outlive every run.
#ifndef ORCH_SRC_NODE_LIFECYCLE_HOOKS_H_
#define ORCH_SRC_NODE_LIFECYCLE_HOOKS_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "orch/api/v1/core.pb.h"
#include "orch/base/executor.h"
#include "orch/base/mutex.h"
#include "orch/runtime/prober.h"
#include "orch/runtime/runtime.h"

namespace orch::node::internal {

struct HookServices {
  runtime::Runtime* runtime = nullptr;
  runtime::Prober* prober = nullptr;
  Executor* executor = nullptr;
};

struct HookRequest {
  api::v1::LifecycleHandler handler;
  api::v1::Container container;  // its ports (httpGet by port name) and name (messages)
  std::string container_id;      // the runtime's id of the running container
  std::string pod_ip;            // where httpGet goes unless it names a host
  std::string pod_ref;           // "name_namespace(uid)", for messages
  // The run fails once it has taken this long (a preStop's grace period); unset, it
  // lasts as long as the hook (a postStart, as in the kubelet). An httpGet without a limit
  // still gives up after kUnlimitedHttpHookTimeout: the check holds an executor thread.
  std::optional<absl::Duration> limit;
};

inline constexpr absl::Duration kUnlimitedHttpHookTimeout = absl::Minutes(2);

struct HookResult {
  bool ok = false;
  bool abandoned = false;  // ended by HookRun::Abandon, not by the hook
  // Why it failed, worded as the kubelet's FailedPostStartHook / FailedPreStopHook event.
  std::string message;
  absl::Duration took;  // from the start to the end of the run, on the executor's clock
};

// One hook under way.
class HookRun {
 public:
  // `done` gets the run's result, posted to `executor`; the run's time counts from here.
  HookRun(Executor* executor, std::function<void(HookResult)> done);
  HookRun(const HookRun&) = delete;
  HookRun& operator=(const HookRun&) = delete;

  // Ends the run now (its hook may go on in the container; its outcome is then ignored),
  // as the kubelet cancels a postStart when the pod is being killed. No-op once ended.
  void Abandon() { Finish(false, "", /*abandoned=*/true); }

  // Ends the run with the hook's outcome unless it has ended; posts `done`.
  void Finish(bool ok, std::string message, bool abandoned = false);
  // The timer that ends the run at its limit; cancelled when the run ends otherwise.
  void SetTimer(TimerId timer);

 private:
  Executor* const executor_;
  const absl::Time started_;
  Mutex mu_;
  std::function<void(HookResult)> done_ ABSL_GUARDED_BY(mu_);  // empty once ended
  TimerId timer_ ABSL_GUARDED_BY(mu_) = 0;
};

// Starts `request`'s hook as `run` (made with the `done` that gets its result; a caller
// that may abandon it keeps it first, so that it can be found before it ends).
void StartHook(const HookServices& services, const HookRequest& request,
               std::shared_ptr<HookRun> run);

}  // namespace orch::node::internal

#endif  // ORCH_SRC_NODE_LIFECYCLE_HOOKS_H_
