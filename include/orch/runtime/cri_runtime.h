// CriRuntime: the Runtime over a real container runtime's CRI v1 gRPC socket.
//
// What a node agent runs real pods on. Every Runtime call is one unary gRPC call of the
// same name to /runtime.v1.RuntimeService or /runtime.v1.ImageService on the runtime's
// unix socket, with the messages of orch/runtime/v1/api.proto as they are: no
// translation, no caching, no retries (the caller retries kUnavailable as it sees fit).
//
//   ORCH_ASSIGN_OR_RETURN(std::unique_ptr<orch::runtime::CriRuntime> runtime,
//       orch::runtime::CriRuntime::Connect(
//           {.endpoint = "unix:///run/containerd/containerd.sock"}));
//   runtime->RunPodSandbox(request, [](absl::StatusOr<cri::RunPodSandboxResponse> r) {...});
//
// Runtimes: containerd 1.6 and later (its CRI plugin) is what the tests run against.
// CRI-O speaks the same protocol on unix:///var/run/crio/crio.sock and is supported by
// protocol, but untested here (Debian 12 does not package it); the integration suite runs
// unchanged against it with ORCH_TEST_CRI_ENDPOINT set (tests/support/containerd_fixture.h).
// One thing is done the kubelet's way for CRI-O's sake: CreateContainer first makes the
// container's log directory, <sandbox_config.log_directory>/<container name>/, when the
// sandbox has a log directory (containerd makes it itself, CRI-O fails without it).
//
// Deadlines, as the kubelet sets them: each call gets `call_timeout`; PullImage gets
// `pull_timeout`; StopContainer gets its own `timeout` seconds plus `call_timeout`, and
// ExecSync likewise (an ExecSync with timeout 0 has no limit, so no deadline either).
// Calls are fail-fast: while the socket is down they fail at once with kUnavailable.
//
// Thread safety: every method may be called from any thread, concurrently, and from
// inside a callback. Callbacks run on gRPC's own threads (CriRuntime starts none); never
// on the calling thread inside the call.
// Ownership: the caller owns the runtime. As Runtime says, destroy it only with no call in
// flight; if calls are still in flight anyway, the destructor cancels them, waits for
// their callbacks (which then get kCancelled) to return, and only then returns, so a
// callback must not destroy the runtime itself nor wait for the destructor.
//
// Errors: a gRPC status becomes the absl::Status with the same code (the numbering is the
// same) and the runtime's message verbatim, which the node agent shows to users (e.g.
// containerd's UNKNOWN `failed to pull and unpack image "...": ...`). One exception keeps
// Runtime's contract: the idempotent calls (StopPodSandbox, RemovePodSandbox,
// StopContainer, RemoveContainer, RemoveImage) are OK for an object already gone, where
// containerd 1.6 answers a stop of a removed sandbox or container with NOT_FOUND.
// What containerd 1.6 answers otherwise: kNotFound for an unknown sandbox or container id;
// kDeadlineExceeded for an ExecSync whose command outlived its timeout ("failed to exec in
// container: timeout 1s exceeded: context deadline exceeded"); kUnknown for a failed
// pull. A call past its own deadline is kDeadlineExceeded; a runtime that cannot be
// reached is kUnavailable; a call cancelled by the destructor is kCancelled.
#ifndef ORCH_RUNTIME_CRI_RUNTIME_H_
#define ORCH_RUNTIME_CRI_RUNTIME_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "orch/runtime/runtime.h"

namespace orch::runtime {

struct CriRuntimeOptions {
  // The runtime's CRI socket: "unix:///run/containerd/containerd.sock", or a plain path
  // ("/run/containerd/containerd.sock"). Only unix sockets, as the kubelet on Linux.
  std::string endpoint;
  // Deadline of each call, except PullImage (and added to StopContainer's and ExecSync's
  // own timeouts, see above).
  absl::Duration call_timeout = absl::Minutes(2);
  // Deadline of PullImage.
  absl::Duration pull_timeout = absl::Minutes(10);
  // How long Connect waits for the socket to accept and answer Version.
  absl::Duration connect_timeout = absl::Seconds(10);
};

class CriRuntime final : public Runtime {
 public:
  // Opens a channel to `options.endpoint` (messages of up to 16 MiB either way, as the
  // kubelet allows), waits up to `connect_timeout` for it, and checks with Version that
  // the runtime serves CRI v1. Blocks the calling thread meanwhile.
  // Errors: kInvalidArgument for an endpoint that is not a unix socket or a timeout that
  // is not positive; kUnavailable "CRI runtime at <endpoint> is not reachable: <why>"
  // when nothing answers within connect_timeout (retry later); kFailedPrecondition when
  // the runtime answers but does not serve runtime.v1 (a containerd before 1.6 serves
  // only v1alpha2: upgrade it).
  static absl::StatusOr<std::unique_ptr<CriRuntime>> Connect(CriRuntimeOptions options);

  // Cancels the calls still in flight and waits for their callbacks; see the top.
  ~CriRuntime() override;

  // The endpoint as gRPC targets it ("unix:///run/containerd/containerd.sock").
  const std::string& endpoint() const;
  // The runtime's answer to Connect's Version call (runtime_name, runtime_version, ...).
  const cri::VersionResponse& version() const;

  // ---- Runtime
  void Version(const cri::VersionRequest& request, Callback<cri::VersionResponse> done) override;
  void Status(const cri::StatusRequest& request, Callback<cri::StatusResponse> done) override;
  void RunPodSandbox(const cri::RunPodSandboxRequest& request,
                     Callback<cri::RunPodSandboxResponse> done) override;
  void StopPodSandbox(const cri::StopPodSandboxRequest& request,
                      Callback<cri::StopPodSandboxResponse> done) override;
  void RemovePodSandbox(const cri::RemovePodSandboxRequest& request,
                        Callback<cri::RemovePodSandboxResponse> done) override;
  void PodSandboxStatus(const cri::PodSandboxStatusRequest& request,
                        Callback<cri::PodSandboxStatusResponse> done) override;
  void ListPodSandbox(const cri::ListPodSandboxRequest& request,
                      Callback<cri::ListPodSandboxResponse> done) override;
  // Makes the container's log directory first (see the top); failing that, the call
  // fails with kInternal naming the directory and nothing is sent to the runtime.
  void CreateContainer(const cri::CreateContainerRequest& request,
                       Callback<cri::CreateContainerResponse> done) override;
  void StartContainer(const cri::StartContainerRequest& request,
                      Callback<cri::StartContainerResponse> done) override;
  void StopContainer(const cri::StopContainerRequest& request,
                     Callback<cri::StopContainerResponse> done) override;
  void RemoveContainer(const cri::RemoveContainerRequest& request,
                       Callback<cri::RemoveContainerResponse> done) override;
  void ListContainers(const cri::ListContainersRequest& request,
                      Callback<cri::ListContainersResponse> done) override;
  void ContainerStatus(const cri::ContainerStatusRequest& request,
                       Callback<cri::ContainerStatusResponse> done) override;
  void ExecSync(const cri::ExecSyncRequest& request, Callback<cri::ExecSyncResponse> done) override;
  void ListImages(const cri::ListImagesRequest& request,
                  Callback<cri::ListImagesResponse> done) override;
  void ImageStatus(const cri::ImageStatusRequest& request,
                   Callback<cri::ImageStatusResponse> done) override;
  void PullImage(const cri::PullImageRequest& request,
                 Callback<cri::PullImageResponse> done) override;
  void RemoveImage(const cri::RemoveImageRequest& request,
                   Callback<cri::RemoveImageResponse> done) override;

 private:
  struct State;
  explicit CriRuntime(std::shared_ptr<State> state);

  std::shared_ptr<State> state_;
};

}  // namespace orch::runtime

#endif  // ORCH_RUNTIME_CRI_RUNTIME_H_
