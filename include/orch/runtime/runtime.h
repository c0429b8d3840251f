// Runtime: where a node's pods really run. CRI-shaped: the calls, messages and semantics
// of Kubernetes' Container Runtime Interface v1 (RuntimeService and ImageService), with
// the messages of orch/runtime/v1/api.proto (package runtime.v1, CRI's own field names
// and numbers), so a CRI runtime (containerd, CRI-O) is reached without translation.
//
// Implementations: FakeRuntime (orch/runtime/fake_runtime.h: in-process, on the injected
// clock, scripted per image) and CriRuntime (orch/runtime/cri_runtime.h: gRPC to a CRI
// v1 socket). A node agent drives one Runtime; so can a host directly.
//
// Every call is asynchronous: it returns at once and its callback runs exactly once, with
// the response or an error, on a thread the implementation chooses (FakeRuntime: its
// executor; CriRuntime: a gRPC thread). A callback must be quick: post real work to an
// Executor. Calls may be made from any thread and from inside a callback.
//
// Idempotent, as CRI says: StopPodSandbox and RemovePodSandbox (OK for a sandbox already
// stopped or gone), StopContainer and RemoveContainer (likewise), RemoveImage. The others
// are not: RunPodSandbox and CreateContainer make a new one on every call.
//
// Errors (absl::Status, by what the caller should do):
//   kNotFound           an unknown sandbox, container or image id in a status or start call
//   kUnavailable        the runtime cannot be reached now: retry
//   kDeadlineExceeded   the call did not finish within its deadline: retry, or give up
//   kFailedPrecondition the object is not in a state for this call (start a sandbox's
//                       container after the sandbox stopped, ...)
//   kInvalidArgument    a malformed request (no metadata, empty image, ...)
//   kUnknown / others   what the runtime said, with its message (a failed pull, a failed
//                       create): the agent turns these into ErrImagePull,
//                       CreateContainerError, RunContainerError with the message.
//
// Thread safety: every method of every Runtime may be called concurrently.
// Ownership: destroy a Runtime only when no call is in flight (a node agent stops first);
// the callbacks of calls still pending then may never run.
#ifndef ORCH_RUNTIME_RUNTIME_H_
#define ORCH_RUNTIME_RUNTIME_H_

#include <functional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "orch/runtime/v1/api.pb.h"

namespace orch::runtime {

// The CRI messages (generated from orch/runtime/v1/api.proto).
namespace cri = ::runtime::v1;

// Receives one call's outcome.
template <typename Response>
using Callback = std::function<void(absl::StatusOr<Response>)>;

class Runtime {
 public:
  Runtime() = default;
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;
  virtual ~Runtime() = default;

  // The runtime's name and versions (runtime_name "containerd", runtime_api_version "v1").
  virtual void Version(const cri::VersionRequest& request,
                       Callback<cri::VersionResponse> done) = 0;
  // RuntimeReady and NetworkReady conditions.
  virtual void Status(const cri::StatusRequest& request, Callback<cri::StatusResponse> done) = 0;

  // ---- pod sandboxes
  // Makes and starts a sandbox (its network namespace and address, with CNI on a CRI
  // runtime). Returns its id.
  virtual void RunPodSandbox(const cri::RunPodSandboxRequest& request,
                             Callback<cri::RunPodSandboxResponse> done) = 0;
  // Stops every container in it and the sandbox; releases its address. Idempotent.
  virtual void StopPodSandbox(const cri::StopPodSandboxRequest& request,
                              Callback<cri::StopPodSandboxResponse> done) = 0;
  // Removes it and its containers (stopping them first). Idempotent.
  virtual void RemovePodSandbox(const cri::RemovePodSandboxRequest& request,
                                Callback<cri::RemovePodSandboxResponse> done) = 0;
  virtual void PodSandboxStatus(const cri::PodSandboxStatusRequest& request,
                                Callback<cri::PodSandboxStatusResponse> done) = 0;
  virtual void ListPodSandbox(const cri::ListPodSandboxRequest& request,
                              Callback<cri::ListPodSandboxResponse> done) = 0;

  // ---- containers
  // Makes a container in a sandbox (not started). The log goes to
  // <sandbox config log_directory>/<config log_path>.
  virtual void CreateContainer(const cri::CreateContainerRequest& request,
                               Callback<cri::CreateContainerResponse> done) = 0;
  virtual void StartContainer(const cri::StartContainerRequest& request,
                              Callback<cri::StartContainerResponse> done) = 0;
  // SIGTERM (or the image's stop signal), then SIGKILL after `timeout` seconds (0: at
  // once). Completes when the container has exited. Idempotent.
  virtual void StopContainer(const cri::StopContainerRequest& request,
                             Callback<cri::StopContainerResponse> done) = 0;
  // Removes it, killing it first if it runs. Idempotent.
  virtual void RemoveContainer(const cri::RemoveContainerRequest& request,
                               Callback<cri::RemoveContainerResponse> done) = 0;
  virtual void ListContainers(const cri::ListContainersRequest& request,
                              Callback<cri::ListContainersResponse> done) = 0;
  // State, exit code, reason, timestamps (nanoseconds since the epoch) and log path.
  virtual void ContainerStatus(const cri::ContainerStatusRequest& request,
                               Callback<cri::ContainerStatusResponse> done) = 0;
  // Runs a command in a running container and waits for it, at most `timeout` seconds
  // (0: no limit): stdout, stderr and its exit code. A command that outlives the timeout
  // is kDeadlineExceeded.
  virtual void ExecSync(const cri::ExecSyncRequest& request,
                        Callback<cri::ExecSyncResponse> done) = 0;

  // ---- images
  virtual void ListImages(const cri::ListImagesRequest& request,
                          Callback<cri::ListImagesResponse> done) = 0;
  // An image not present is OK with no `image` in the response (as CRI).
  virtual void ImageStatus(const cri::ImageStatusRequest& request,
                           Callback<cri::ImageStatusResponse> done) = 0;
  // Fetches the image; the response names the image reference it resolved to.
  virtual void PullImage(const cri::PullImageRequest& request,
                         Callback<cri::PullImageResponse> done) = 0;
  // Idempotent.
  virtual void RemoveImage(const cri::RemoveImageRequest& request,
                           Callback<cri::RemoveImageResponse> done) = 0;
};

}  // namespace orch::runtime

#endif  // ORCH_RUNTIME_RUNTIME_H_
