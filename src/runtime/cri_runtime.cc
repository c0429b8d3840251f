#include "orch/runtime/cri_runtime.h"

#include <grpc/support/time.h>
#include <grpcpp/alarm.h>
#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>
#include <grpcpp/support/status.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "fmt/format.h"
#include "orch/base/mutex.h"
#include "orch/base/status.h"
#include "orch/runtime/v1/api.grpc.pb.h"

namespace orch::runtime {

namespace {

// The kubelet's limit for CRI messages, both ways (a big ListContainers answer).
constexpr int kMaxMessageBytes = 16 << 20;
constexpr char kUnixScheme[] = "unix://";

// Greater than zero while this thread is inside gRPC on our behalf (starting or
// cancelling a call). gRPC may complete a call inline there; the completion is then
// moved to a gRPC thread, so that a callback never runs inside the caller's call, where
// the caller may hold a lock the callback takes.
thread_local int t_inside_grpc = 0;

class InsideGrpc {
 public:
  InsideGrpc() { ++t_inside_grpc; }
  ~InsideGrpc() { --t_inside_grpc; }
  InsideGrpc(const InsideGrpc&) = delete;
  InsideGrpc& operator=(const InsideGrpc&) = delete;
};

absl::Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  // gRPC's and Abseil's codes are both the canonical codes, with the same numbers.
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

// The calls in flight. Shared by the runtime and every call, so that a call finishing
// just as the runtime's destructor returns still has it.
struct InFlight {
  Mutex mu;
  CondVar changed;
  // Contexts of the calls whose callbacks have not run yet: what the destructor cancels.
  absl::flat_hash_set<grpc::ClientContext*> contexts ABSL_GUARDED_BY(mu);
  // Calls not completely finished (their callback may be running).
  int64_t calls ABSL_GUARDED_BY(mu) = 0;
  bool closing ABSL_GUARDED_BY(mu) = false;
};

// Adjusts a call's status before its callback sees it.
using StatusFilter = absl::Status (*)(absl::Status);

// One call: heap-allocated when it starts, deleted by itself when its callback returns.
template <typename Request, typename Response>
class Call {
 public:
  Call(std::shared_ptr<InFlight> in_flight, const Request& request, Callback<Response> done,
       StatusFilter filter)
      : in_flight_(std::move(in_flight)),
        request_(request),
        done_(std::move(done)),
        filter_(filter) {}

  grpc::ClientContext* context() { return &context_; }
  const Request* request() const { return &request_; }
  Response* response() { return &response_; }

  // Registers the call with the runtime (cancelled at once if the runtime is being
  // destroyed), and hands the gRPC completion to `start`, which starts the RPC.
  template <typename Start>
  void Run(Start start) {
    {
      MutexLock lock(&in_flight_->mu);
      in_flight_->contexts.insert(&context_);
      ++in_flight_->calls;
      if (in_flight_->closing) context_.TryCancel();
    }
    InsideGrpc inside;
    start([this](grpc::Status status) { Complete(std::move(status)); });
  }

  // Ends the call with `status` without starting an RPC.
  void Fail(grpc::Status status) {
    {
      MutexLock lock(&in_flight_->mu);
      in_flight_->contexts.insert(&context_);
      ++in_flight_->calls;
    }
    InsideGrpc inside;
    Complete(std::move(status));
  }

 private:
  void Complete(grpc::Status status) {
    if (t_inside_grpc == 0) {
      Finish(status);
      return;
    }
    // Inside the caller's own call: finish on a gRPC thread instead (an alarm that is
    // already due fires on gRPC's executor).
    hop_ = std::make_unique<grpc::Alarm>();
    hop_->Set(gpr_time_0(GPR_CLOCK_REALTIME),
              [this, status = std::move(status)](bool) { Finish(status); });
  }

  void Finish(const grpc::Status& status) {
    absl::Status result = FromGrpc(status);
    if (!result.ok() && filter_ != nullptr) result = filter_(std::move(result));
    if (result.code() == absl::StatusCode::kCancelled) {
      MutexLock lock(&in_flight_->mu);
      if (in_flight_->closing) {
        result = absl::CancelledError(
            fmt::format("{} (the CriRuntime was destroyed while the call was in flight)",
                        std::string(result.message())));
      }
    }
    if (result.ok()) {
      done_(std::move(response_));
    } else {
      done_(std::move(result));
    }

    // The context may be cancelled by the destructor until it leaves the set; the call
    // counts as in flight until its gRPC objects are gone, so that the channel (in the
    // runtime) outlives them.
    std::shared_ptr<InFlight> in_flight = std::move(in_flight_);
    {
      MutexLock lock(&in_flight->mu);
      in_flight->contexts.erase(&context_);
    }
    delete this;
    {
      MutexLock lock(&in_flight->mu);
      --in_flight->calls;
    }
    in_flight->changed.SignalAll();
  }

  std::shared_ptr<InFlight> in_flight_;
  grpc::ClientContext context_;
  Request request_;
  Response response_;
  Callback<Response> done_;
  StatusFilter filter_;
  std::unique_ptr<grpc::Alarm> hop_;
};

// Runtime's idempotent calls (stop and remove) are OK for an object already gone, as CRI
// asks; containerd 1.6 answers NOT_FOUND to a stop of a removed sandbox or container.
absl::Status GoneIsOk(absl::Status status) {
  return status.code() == absl::StatusCode::kNotFound ? absl::OkStatus() : status;
}

// "unix:///path" for "unix:///path" or "/path".
absl::StatusOr<std::string> UnixTarget(const std::string& endpoint) {
  std::string path;
  if (endpoint.starts_with(kUnixScheme)) {
    path = endpoint.substr(sizeof kUnixScheme - 1);
  } else if (endpoint.starts_with("/")) {
    path = endpoint;
  }
  if (!path.starts_with("/")) {
    return absl::InvalidArgumentError(fmt::format(
        "CriRuntimeOptions.endpoint \"{}\": want unix:///<absolute path> or an absolute path",
        endpoint));
  }
  return kUnixScheme + path;
}

absl::Status CheckTimeouts(const CriRuntimeOptions& options) {
  const std::pair<const char*, absl::Duration> timeouts[] = {
      {"call_timeout", options.call_timeout},
      {"pull_timeout", options.pull_timeout},
      {"connect_timeout", options.connect_timeout}};
  for (const auto& [name, timeout] : timeouts) {
    if (timeout <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError(fmt::format("CriRuntimeOptions.{}: must be positive, is {}",
                                                    name, absl::FormatDuration(timeout)));
    }
  }
  return absl::OkStatus();
}

// Calls Version until the runtime answers or `options.connect_timeout` is over, waiting
// between attempts for the channel to connect again.
absl::StatusOr<cri::VersionResponse> FirstVersion(grpc::Channel& channel,
                                                  cri::RuntimeService::Stub& stub,
                                                  const std::string& target,
                                                  absl::Duration connect_timeout) {
  const auto deadline = absl::ToChronoTime(absl::Now() + connect_timeout);
  const std::string unreachable = fmt::format("CRI runtime at {} is not reachable", target);
  for (;;) {
    grpc::ClientContext context;
    context.set_deadline(deadline);
    cri::VersionRequest request;
    request.set_version("v1");
    cri::VersionResponse response;
    const grpc::Status status = stub.Version(&context, request, &response);
    switch (status.error_code()) {
      case grpc::StatusCode::OK:
        return response;
      case grpc::StatusCode::UNAVAILABLE:
        break;  // not (yet) listening: try again once the channel connects
      case grpc::StatusCode::DEADLINE_EXCEEDED:
        return absl::UnavailableError(fmt::format("{}: nothing answered within {}", unreachable,
                                                  absl::FormatDuration(connect_timeout)));
      case grpc::StatusCode::UNIMPLEMENTED:
        return absl::FailedPreconditionError(
            fmt::format("CRI runtime at {} does not serve CRI v1 (runtime.v1.RuntimeService): {}",
                        target, status.error_message()));
      default:
        return absl::Status(
            static_cast<absl::StatusCode>(status.error_code()),
            fmt::format("CRI runtime at {}: Version: {}", target, status.error_message()));
    }
    if (!channel.WaitForStateChange(channel.GetState(/*try_to_connect=*/true), deadline)) {
      return absl::UnavailableError(fmt::format("{}: {}", unreachable, status.error_message()));
    }
  }
}

}  // namespace

struct CriRuntime::State {
  CriRuntimeOptions options;
  std::string target;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<cri::RuntimeService::Stub> runtime_service;
  std::unique_ptr<cri::ImageService::Stub> image_service;
  cri::VersionResponse version;
  std::shared_ptr<InFlight> in_flight = std::make_shared<InFlight>();

  // Starts one RPC: `rpc(context, request, response, on_done)` calls the stub's async()
  // method. `deadline` is InfiniteFuture for none.
  template <typename Response, typename Request, typename Rpc>
  void Start(const Request& request, Callback<Response> done, absl::Time deadline, Rpc rpc,
             StatusFilter filter = nullptr) {
    auto* call = new Call<Request, Response>(in_flight, request, std::move(done), filter);
    if (deadline != absl::InfiniteFuture()) {
      call->context()->set_deadline(absl::ToChronoTime(deadline));
    }
    call->Run([&](std::function<void(grpc::Status)> on_done) {
      rpc(call->context(), call->request(), call->response(), std::move(on_done));
    });
  }

  absl::Time CallDeadline() const { return absl::Now() + options.call_timeout; }
  // A call that itself waits up to `seconds` in the runtime, plus the usual margin.
  absl::Time DeadlineAfter(int64_t seconds) const {
    return absl::Now() + absl::Seconds(std::max<int64_t>(seconds, 0)) + options.call_timeout;
  }
};

// Each Runtime method: one RPC of the same name on `service` with `deadline`.
#define ORCH_CRI_RPC(service, Method, deadline, ...)                                               \
  state_->Start<cri::Method##Response>(                                                            \
      request, std::move(done), deadline,                                                          \
      [stub = state_->service.get()](grpc::ClientContext* context,                                 \
                                     const cri::Method##Request* req, cri::Method##Response* resp, \
                                     std::function<void(grpc::Status)> on_done) {                  \
        stub->async()->Method(context, req, resp, std::move(on_done));                             \
      } __VA_OPT__(, ) __VA_ARGS__)

absl::StatusOr<std::unique_ptr<CriRuntime>> CriRuntime::Connect(CriRuntimeOptions options) {
  ORCH_ASSIGN_OR_RETURN(std::string target, UnixTarget(options.endpoint));
  ORCH_RETURN_IF_ERROR(CheckTimeouts(options));

  auto state = std::make_shared<State>();
  state->options = std::move(options);
  state->target = std::move(target);
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(kMaxMessageBytes);
  arguments.SetMaxSendMessageSize(kMaxMessageBytes);
  // Connections of this runtime are its own, not shared with other channels of the
  // process to the same socket.
  arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  state->channel =
      grpc::CreateCustomChannel(state->target, grpc::InsecureChannelCredentials(), arguments);
  state->runtime_service = cri::RuntimeService::NewStub(state->channel);
  state->image_service = cri::ImageService::NewStub(state->channel);

  ORCH_ASSIGN_OR_RETURN(state->version,
                        FirstVersion(*state->channel, *state->runtime_service, state->target,
                                     state->options.connect_timeout));
  if (state->version.runtime_api_version() != "v1") {
    return absl::FailedPreconditionError(
        fmt::format("CRI runtime at {} ({} {}) speaks CRI {}, not v1", state->target,
                    state->version.runtime_name(), state->version.runtime_version(),
                    state->version.runtime_api_version()));
  }
  return std::unique_ptr<CriRuntime>(new CriRuntime(std::move(state)));
}

CriRuntime::CriRuntime(std::shared_ptr<State> state) : state_(std::move(state)) {}

CriRuntime::~CriRuntime() {
  InFlight& in_flight = *state_->in_flight;
  MutexLock lock(&in_flight.mu);
  in_flight.closing = true;
  {
    InsideGrpc inside;  // a cancelled call may complete right here: it finishes elsewhere
    for (grpc::ClientContext* context : in_flight.contexts) context->TryCancel();
  }
  while (in_flight.calls > 0) in_flight.changed.Wait(&in_flight.mu);
}

const std::string& CriRuntime::endpoint() const { return state_->target; }

const cri::VersionResponse& CriRuntime::version() const { return state_->version; }

void CriRuntime::Version(const cri::VersionRequest& request, Callback<cri::VersionResponse> done) {
  ORCH_CRI_RPC(runtime_service, Version, state_->CallDeadline());
}

void CriRuntime::Status(const cri::StatusRequest& request, Callback<cri::StatusResponse> done) {
  ORCH_CRI_RPC(runtime_service, Status, state_->CallDeadline());
}

void CriRuntime::RunPodSandbox(const cri::RunPodSandboxRequest& request,
                               Callback<cri::RunPodSandboxResponse> done) {
  ORCH_CRI_RPC(runtime_service, RunPodSandbox, state_->CallDeadline());
}

void CriRuntime::StopPodSandbox(const cri::StopPodSandboxRequest& request,
                                Callback<cri::StopPodSandboxResponse> done) {
  ORCH_CRI_RPC(runtime_service, StopPodSandbox, state_->CallDeadline(), &GoneIsOk);
}

void CriRuntime::RemovePodSandbox(const cri::RemovePodSandboxRequest& request,
                                  Callback<cri::RemovePodSandboxResponse> done) {
  ORCH_CRI_RPC(runtime_service, RemovePodSandbox, state_->CallDeadline(), &GoneIsOk);
}

void CriRuntime::PodSandboxStatus(const cri::PodSandboxStatusRequest& request,
                                  Callback<cri::PodSandboxStatusResponse> done) {
  ORCH_CRI_RPC(runtime_service, PodSandboxStatus, state_->CallDeadline());
}

void CriRuntime::ListPodSandbox(const cri::ListPodSandboxRequest& request,
                                Callback<cri::ListPodSandboxResponse> done) {
  ORCH_CRI_RPC(runtime_service, ListPodSandbox, state_->CallDeadline());
}

void CriRuntime::CreateContainer(const cri::CreateContainerRequest& request,
                                 Callback<cri::CreateContainerResponse> done) {
  // As the kubelet does: CRI-O opens the log file but does not make its directory.
  const std::string& log_directory = request.sandbox_config().log_directory();
  const std::string& name = request.config().metadata().name();
  if (!log_directory.empty() && !name.empty()) {
    const std::filesystem::path directory = std::filesystem::path(log_directory) / name;
    std::error_code error;
    std::filesystem::create_directories(directory, error);
    if (error) {
      auto* call = new Call<cri::CreateContainerRequest, cri::CreateContainerResponse>(
          state_->in_flight, request, std::move(done), nullptr);
      call->Fail(grpc::Status(grpc::StatusCode::INTERNAL,
                              fmt::format("creating the container's log directory {}: {}",
                                          directory.string(), error.message())));
      return;
    }
  }
  ORCH_CRI_RPC(runtime_service, CreateContainer, state_->CallDeadline());
}

void CriRuntime::StartContainer(const cri::StartContainerRequest& request,
                                Callback<cri::StartContainerResponse> done) {
  ORCH_CRI_RPC(runtime_service, StartContainer, state_->CallDeadline());
}

void CriRuntime::StopContainer(const cri::StopContainerRequest& request,
                               Callback<cri::StopContainerResponse> done) {
  ORCH_CRI_RPC(runtime_service, StopContainer, state_->DeadlineAfter(request.timeout()), &GoneIsOk);
}

void CriRuntime::RemoveContainer(const cri::RemoveContainerRequest& request,
                                 Callback<cri::RemoveContainerResponse> done) {
  ORCH_CRI_RPC(runtime_service, RemoveContainer, state_->CallDeadline(), &GoneIsOk);
}

void CriRuntime::ListContainers(const cri::ListContainersRequest& request,
                                Callback<cri::ListContainersResponse> done) {
  ORCH_CRI_RPC(runtime_service, ListContainers, state_->CallDeadline());
}

void CriRuntime::ContainerStatus(const cri::ContainerStatusRequest& request,
                                 Callback<cri::ContainerStatusResponse> done) {
  ORCH_CRI_RPC(runtime_service, ContainerStatus, state_->CallDeadline());
}

void CriRuntime::ExecSync(const cri::ExecSyncRequest& request,
                          Callback<cri::ExecSyncResponse> done) {
  // Timeout 0 runs the command without a limit, so the call has no deadline either.
  const absl::Time deadline =
      request.timeout() > 0 ? state_->DeadlineAfter(request.timeout()) : absl::InfiniteFuture();
  ORCH_CRI_RPC(runtime_service, ExecSync, deadline);
}

void CriRuntime::ListImages(const cri::ListImagesRequest& request,
                            Callback<cri::ListImagesResponse> done) {
  ORCH_CRI_RPC(image_service, ListImages, state_->CallDeadline());
}

void CriRuntime::ImageStatus(const cri::ImageStatusRequest& request,
                             Callback<cri::ImageStatusResponse> done) {
  ORCH_CRI_RPC(image_service, ImageStatus, state_->CallDeadline());
}

void CriRuntime::PullImage(const cri::PullImageRequest& request,
                           Callback<cri::PullImageResponse> done) {
  ORCH_CRI_RPC(image_service, PullImage, absl::Now() + state_->options.pull_timeout);
}

void CriRuntime::RemoveImage(const cri::RemoveImageRequest& request,
                             Callback<cri::RemoveImageResponse> done) {
  ORCH_CRI_RPC(image_service, RemoveImage, state_->CallDeadline(), &GoneIsOk);
}

#undef ORCH_CRI_RPC

}  // namespace orch::runtime
