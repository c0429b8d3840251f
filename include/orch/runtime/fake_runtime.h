// FakeRuntime: a Runtime in process memory, on the injected clock, with no real processes.
//
// What simulations and operator tests run pods on. Sandboxes and containers are records
// that move through CRI's states as a real runtime's would; time passes only through the
// Executor's clock, so on a VirtualExecutor a container that "runs for an hour" costs
// nothing and every run is the same. Ten thousand pods are a few megabytes.
//
// Each image's containers behave as scripted (FakeImage): how long a pull and a start
// take, a pull that fails, exiting after a while with a code (every start: a crash loop),
// never passing readiness, failing liveness after a while, ignoring SIGTERM. Images not
// scripted behave as `default_image`. The runtime itself can be made unavailable or slow.
// A test can also kill a container "from outside" (as `kill -9` would).
//
//   orch::runtime::FakeRuntime runtime({.executor = &executor});
//   runtime.SetImage("web:v2", {.exit_after = absl::Seconds(5), .exit_code = 1});
//
// Images: every image is pullable unless its script says `pull_error`; an image is present
// once pulled or when listed in `preloaded`. CreateContainer of an image not present
// fails as containerd does (kNotFound "image ... not found").
//
// Addresses: with `pod_cidr` set (e.g. "10.244.3.0/24"), each sandbox gets the next free
// address of it and frees it when stopped; otherwise sandboxes have none (the network
// layer assigns one).
//
// Thread safety: every method may be called from any thread. Callbacks run on the
// executor (after the configured call delay, if any). The calls that only read (the
// status and list calls) answer with what the runtime holds when they complete, as a
// runtime replies; the others act when called. Ownership: the executor must
// outlive the runtime. Calls still pending when it is destroyed never complete (what is
// already posted to the executor holds only a weak reference to its state).
// Errors: as Runtime says; kUnavailable "fake runtime is unavailable" while made so.
#ifndef ORCH_RUNTIME_FAKE_RUNTIME_H_
#define ORCH_RUNTIME_FAKE_RUNTIME_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "orch/base/executor.h"
#include "orch/runtime/prober.h"
#include "orch/runtime/runtime.h"

namespace orch::runtime {

// How containers of one image behave.
struct FakeImage {
  // PullImage takes this long, and fails with this message (as a registry that has no
  // such image) when set.
  absl::Duration pull_delay = absl::ZeroDuration();
  std::optional<std::string> pull_error;
  // StartContainer completes (the container is RUNNING) this long after it is called.
  absl::Duration start_delay = absl::ZeroDuration();
  // The process exits this long after each start, with `exit_code`.
  std::optional<absl::Duration> exit_after;
  int32_t exit_code = 0;
  // Readiness probes never pass.
  bool never_ready = false;
  // Liveness probes fail once the container has run this long.
  std::optional<absl::Duration> unhealthy_after;
  // SIGTERM is ignored: StopContainer waits its whole timeout, then kills (exit 137).
  // Otherwise the process exits on SIGTERM after `stop_delay`, with code 143.
  bool ignore_sigterm = false;
  absl::Duration stop_delay = absl::ZeroDuration();
  // ExecSync's answer; unset: exit code 0, no output.
  std::function<cri::ExecSyncResponse(const std::vector<std::string>& cmd)> exec;
  uint64_t size_bytes = 1 << 20;
};

struct FakeRuntimeOptions {
  Executor* executor = nullptr;  // REQUIRED: its clock is the runtime's clock
  FakeImage default_image;
  std::map<std::string, FakeImage> images;  // by image reference, as in the pod spec
  std::vector<std::string> preloaded;       // present without a pull
  std::string pod_cidr;                     // "" = sandboxes get no address
};

class FakeRuntime final : public Runtime, public Prober {
 public:
  explicit FakeRuntime(FakeRuntimeOptions options);
  ~FakeRuntime() override;

  // ---- scripting
  // Behaviour for containers of `image` started from now on.
  void SetImage(std::string image, FakeImage behavior);
  // While true, every call fails with kUnavailable.
  void SetUnavailable(bool unavailable);
  // Every call completes this much later.
  void SetCallDelay(absl::Duration delay);
  // The container's process dies now (as `kill -9` from outside): EXITED with
  // `exit_code`. kNotFound for an unknown id, kFailedPrecondition if it is not running.
  absl::Status KillContainer(std::string_view container_id, int32_t exit_code = 137);

  // ---- what probes of a container see. False for a container that is not running.
  bool Ready(std::string_view container_id) const;
  bool Live(std::string_view container_id) const;
  // Prober: any readiness probe passes when Ready, any liveness probe when Live, any
  // startup probe once the container runs; the probe's own kind of check is not made.
  void Probe(const ProbeRequest& request, std::function<void(ProbeResult)> done) override;

  // The config `container_id` was created with, as CreateContainer received it (env,
  // command, args, linux resources, ...); nullopt for an id the runtime does not hold (never
  // made, or removed).
  std::optional<cri::ContainerConfig> ContainerConfig(std::string_view container_id) const;

  struct Stats {
    int64_t sandboxes = 0;           // present (any state)
    int64_t containers = 0;          // present (any state)
    int64_t running_containers = 0;
    int64_t calls = 0;               // every call made
  };
  Stats stats() const;

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
  void PullImage(const cri::PullImageRequest& request, Callback<cri::PullImageResponse> done) override;
  void RemoveImage(const cri::RemoveImageRequest& request,
                   Callback<cri::RemoveImageResponse> done) override;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace orch::runtime

#endif  // ORCH_RUNTIME_FAKE_RUNTIME_H_
