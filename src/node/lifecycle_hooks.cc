#include "node/lifecycle_hooks.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_join.h"
#include "fmt/format.h"

namespace orch::node::internal {

namespace v1 = ::orch::api::v1;
namespace cri = ::orch::runtime::cri;

namespace {

// Go's %q, near enough (the kubelet quotes an exec hook's output with it).
std::string Quoted(const std::string& text) {
  return fmt::format("\"{}\"", absl::CEscape(text));
}

// Whole seconds for a runtime or probe timeout, rounded up (at least 1).
int64_t CeilSeconds(absl::Duration d) {
  return std::max<int64_t>(1, absl::ToInt64Seconds(absl::Ceil(d, absl::Seconds(1))));
}

std::string HandlerName(const v1::LifecycleHandler& handler) {
  if (handler.has_exec()) return "Exec";
  if (handler.has_http_get()) return "HTTP";
  if (handler.has_sleep()) return "Sleep";
  return "";
}

void RunExec(const HookServices& services, const HookRequest& request,
             std::shared_ptr<HookRun> run) {
  const std::vector<std::string> cmd(request.handler.exec().command().begin(),
                                     request.handler.exec().command().end());
  cri::ExecSyncRequest exec;
  exec.set_container_id(request.container_id);
  for (const std::string& arg : cmd) exec.add_cmd(arg);
  // Kubernetes runs the hook without a timeout of its own; a limited run stops waiting at
  // its limit, and the command need not outlive it.
  exec.set_timeout(request.limit.has_value() ? CeilSeconds(*request.limit) : 0);
  services.runtime->ExecSync(
      exec, [run = std::move(run), cmd, name = request.container.name(),
             pod = request.pod_ref](absl::StatusOr<cri::ExecSyncResponse> out) {
        if (out.ok() && out->exit_code() == 0) return run->Finish(true, "");
        const std::string command = absl::StrJoin(cmd, " ");
        std::string error;
        std::string output;
        if (!out.ok()) {
          error = std::string(out.status().message());
        } else {
          error = fmt::format("command '{}' exited with {}: {}", command, out->exit_code(),
                              out->stderr());
          output = out->stdout() + out->stderr();
        }
        run->Finish(false, fmt::format("Exec lifecycle hook ([{}]) for Container \"{}\" in Pod "
                                       "\"{}\" failed - error: {}, message: {}",
                                       command, name, pod, error, Quoted(output)));
      });
}

void RunHttpGet(const HookServices& services, const HookRequest& request,
                std::shared_ptr<HookRun> run) {
  runtime::ProbeRequest probe;
  // The check is the same whatever the kind; a FakeRuntime answers it from its liveness
  // script.
  probe.kind = runtime::ProbeKind::kLiveness;
  *probe.probe.mutable_http_get() = request.handler.http_get();
  probe.probe.set_timeout_seconds(
      static_cast<int32_t>(CeilSeconds(request.limit.value_or(kUnlimitedHttpHookTimeout))));
  probe.container = request.container;
  probe.container_id = request.container_id;
  probe.pod_ip = request.pod_ip;
  services.prober->Probe(probe, [run = std::move(run), path = request.handler.http_get().path(),
                                 name = request.container.name(),
                                 pod = request.pod_ref](runtime::ProbeResult result) {
    if (result.success) return run->Finish(true, "");
    run->Finish(false, fmt::format("HTTP lifecycle hook ({}) for Container \"{}\" in Pod \"{}\" "
                                   "failed - error: {}",
                                   path, name, pod, result.message));
  });
}

}  // namespace

HookRun::HookRun(Executor* executor, std::function<void(HookResult)> done)
    : executor_(executor), started_(executor->clock().Now()), done_(std::move(done)) {}

void HookRun::Finish(bool ok, std::string message, bool abandoned) {
  std::function<void(HookResult)> done;
  TimerId timer = 0;
  {
    MutexLock lock(&mu_);
    if (!done_) return;
    done = std::move(done_);
    done_ = nullptr;
    std::swap(timer, timer_);
  }
  if (timer != 0) executor_->Cancel(timer);
  HookResult result{.ok = ok,
                    .abandoned = abandoned,
                    .message = std::move(message),
                    .took = executor_->clock().Now() - started_};
  executor_->Post([done = std::move(done), result = std::move(result)]() mutable {
    done(std::move(result));
  });
}

void HookRun::SetTimer(TimerId timer) {
  bool ended = false;
  {
    MutexLock lock(&mu_);
    ended = !done_;
    if (!ended) timer_ = timer;
  }
  if (ended) executor_->Cancel(timer);
}

void StartHook(const HookServices& services, const HookRequest& request,
               std::shared_ptr<HookRun> run) {
  const v1::LifecycleHandler& handler = request.handler;
  if (request.limit.has_value()) {
    const std::string message = fmt::format(
        "{} lifecycle hook for Container \"{}\" in Pod \"{}\" did not complete within {}",
        HandlerName(handler), request.container.name(), request.pod_ref,
        absl::FormatDuration(*request.limit));
    run->SetTimer(services.executor->PostAfter(
        *request.limit, [weak = std::weak_ptr<HookRun>(run), message] {
          if (auto self = weak.lock()) self->Finish(false, message);
        }));
  }
  if (handler.has_exec()) {
    RunExec(services, request, run);
  } else if (handler.has_http_get()) {
    RunHttpGet(services, request, run);
  } else if (handler.has_sleep()) {
    // Sleeping past the limit changes nothing: the limit's timer ends the run first.
    services.executor->PostAfter(absl::Seconds(handler.sleep().seconds()),
                                 [run] { run->Finish(true, ""); });
  } else {
    run->Finish(false, fmt::format("Cannot run handler: invalid handler: {}",
                                   handler.has_tcp_socket()
                                       ? "tcpSocket is not supported as a lifecycle handler"
                                       : "it names no action"));
  }
}

}  // namespace orch::node::internal
