// RuntimeGate: a node agent's runtime and prober as its tasks call them, closed by Stop.
// Internal.
//
// The agent's work runs as executor tasks, and on a thread pool a task that began before
// Stop may still be running after it: without the gate it could start a runtime call on a
// runtime the host destroys once Stop returns. A call through the gate begins only while
// the gate is open; Close shuts it and returns once every call under way has returned, so
// that afterwards no task of the agent is inside the runtime or the prober. A call refused
// by a closed gate is dropped: its callback is never called. Callbacks of calls made
// before may still come later (the runtime's own affair: it calls back until destroyed).
//
// Calls may nest (a callback run inside a call may call again). Close must not be called
// from inside a call through the same gate (it would wait for itself). An httpGet or
// tcpSocket probe under way holds Close up to the probe's timeout. Thread-safe.
#ifndef ORCH_SRC_NODE_RUNTIME_GATE_H_
#define ORCH_SRC_NODE_RUNTIME_GATE_H_

#include <functional>
#include <utility>

#include "orch/base/mutex.h"
#include "orch/runtime/prober.h"
#include "orch/runtime/runtime.h"

namespace orch::node::internal {

namespace cri = ::orch::runtime::cri;

class RuntimeGate final : public runtime::Runtime, public runtime::Prober {
 public:
  template <typename Response>
  using Callback = runtime::Callback<Response>;

  // `prober` may be null when the agent makes its own prober (on this gate); Probe then
  // must not be called. Neither is owned; both must outlive every call through the gate.
  RuntimeGate(runtime::Runtime* runtime, runtime::Prober* prober)
      : runtime_(runtime), prober_(prober) {}

  // Refuses calls from now on, and returns once the calls under way have returned.
  void Close() {
    MutexLock lock(&mu_);
    closed_ = true;
    mu_.Await(absl::Condition(+[](int* calls) { return *calls == 0; }, &calls_));
  }

  void Version(const cri::VersionRequest& r, Callback<cri::VersionResponse> d) override {
    Forward(&Runtime::Version, r, std::move(d));
  }
  void Status(const cri::StatusRequest& r, Callback<cri::StatusResponse> d) override {
    Forward(&Runtime::Status, r, std::move(d));
  }
  void RunPodSandbox(const cri::RunPodSandboxRequest& r,
                     Callback<cri::RunPodSandboxResponse> d) override {
    Forward(&Runtime::RunPodSandbox, r, std::move(d));
  }
  void StopPodSandbox(const cri::StopPodSandboxRequest& r,
                      Callback<cri::StopPodSandboxResponse> d) override {
    Forward(&Runtime::StopPodSandbox, r, std::move(d));
  }
  void RemovePodSandbox(const cri::RemovePodSandboxRequest& r,
                        Callback<cri::RemovePodSandboxResponse> d) override {
    Forward(&Runtime::RemovePodSandbox, r, std::move(d));
  }
  void PodSandboxStatus(const cri::PodSandboxStatusRequest& r,
                        Callback<cri::PodSandboxStatusResponse> d) override {
    Forward(&Runtime::PodSandboxStatus, r, std::move(d));
  }
  void ListPodSandbox(const cri::ListPodSandboxRequest& r,
                      Callback<cri::ListPodSandboxResponse> d) override {
    Forward(&Runtime::ListPodSandbox, r, std::move(d));
  }
  void CreateContainer(const cri::CreateContainerRequest& r,
                       Callback<cri::CreateContainerResponse> d) override {
    Forward(&Runtime::CreateContainer, r, std::move(d));
  }
  void StartContainer(const cri::StartContainerRequest& r,
                      Callback<cri::StartContainerResponse> d) override {
    Forward(&Runtime::StartContainer, r, std::move(d));
  }
  void StopContainer(const cri::StopContainerRequest& r,
                     Callback<cri::StopContainerResponse> d) override {
    Forward(&Runtime::StopContainer, r, std::move(d));
  }
  void RemoveContainer(const cri::RemoveContainerRequest& r,
                       Callback<cri::RemoveContainerResponse> d) override {
    Forward(&Runtime::RemoveContainer, r, std::move(d));
  }
  void ListContainers(const cri::ListContainersRequest& r,
                      Callback<cri::ListContainersResponse> d) override {
    Forward(&Runtime::ListContainers, r, std::move(d));
  }
  void ContainerStatus(const cri::ContainerStatusRequest& r,
                       Callback<cri::ContainerStatusResponse> d) override {
    Forward(&Runtime::ContainerStatus, r, std::move(d));
  }
  void ExecSync(const cri::ExecSyncRequest& r, Callback<cri::ExecSyncResponse> d) override {
    Forward(&Runtime::ExecSync, r, std::move(d));
  }
  void ListImages(const cri::ListImagesRequest& r, Callback<cri::ListImagesResponse> d) override {
    Forward(&Runtime::ListImages, r, std::move(d));
  }
  void ImageStatus(const cri::ImageStatusRequest& r,
                   Callback<cri::ImageStatusResponse> d) override {
    Forward(&Runtime::ImageStatus, r, std::move(d));
  }
  void PullImage(const cri::PullImageRequest& r, Callback<cri::PullImageResponse> d) override {
    Forward(&Runtime::PullImage, r, std::move(d));
  }
  void RemoveImage(const cri::RemoveImageRequest& r,
                   Callback<cri::RemoveImageResponse> d) override {
    Forward(&Runtime::RemoveImage, r, std::move(d));
  }

  void Probe(const runtime::ProbeRequest& r,
             std::function<void(runtime::ProbeResult)> d) override {
    Pass([&] { prober_->Probe(r, std::move(d)); });
  }

 private:
  template <typename Request, typename Response>
  using Method = void (runtime::Runtime::*)(const Request&, Callback<Response>);

  // Runs `call` unless the gate is closed, counted among the calls under way while it runs.
  template <typename Call>
  void Pass(Call&& call) {
    {
      MutexLock lock(&mu_);
      if (closed_) return;
      ++calls_;
    }
    call();
    MutexLock lock(&mu_);
    --calls_;
  }
  template <typename Request, typename Response>
  void Forward(Method<Request, Response> method, const Request& request,
               Callback<Response> done) {
    Pass([&] { (runtime_->*method)(request, std::move(done)); });
  }

  runtime::Runtime* const runtime_;
  runtime::Prober* const prober_;
  Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace orch::node::internal

#endif  // ORCH_SRC_NODE_RUNTIME_GATE_H_
