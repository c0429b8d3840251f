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

  // Each of Runtime's methods, forwarded through Pass; every CRI method `M` takes an
  // `MRequest` and answers an `MResponse`.
#define ORCH_GATE_FORWARD(M)                                                            \
  void M(const cri::M##Request& r, Callback<cri::M##Response> d) override {             \
    Pass([&] { runtime_->M(r, std::move(d)); });                                        \
  }
  ORCH_GATE_FORWARD(Version)
  ORCH_GATE_FORWARD(Status)
  ORCH_GATE_FORWARD(RunPodSandbox)
  ORCH_GATE_FORWARD(StopPodSandbox)
  ORCH_GATE_FORWARD(RemovePodSandbox)
  ORCH_GATE_FORWARD(PodSandboxStatus)
  ORCH_GATE_FORWARD(ListPodSandbox)
  ORCH_GATE_FORWARD(CreateContainer)
  ORCH_GATE_FORWARD(StartContainer)
  ORCH_GATE_FORWARD(StopContainer)
  ORCH_GATE_FORWARD(RemoveContainer)
  ORCH_GATE_FORWARD(ListContainers)
  ORCH_GATE_FORWARD(ContainerStatus)
  ORCH_GATE_FORWARD(ExecSync)
  ORCH_GATE_FORWARD(ListImages)
  ORCH_GATE_FORWARD(ImageStatus)
  ORCH_GATE_FORWARD(PullImage)
  ORCH_GATE_FORWARD(RemoveImage)
#undef ORCH_GATE_FORWARD

  void Probe(const runtime::ProbeRequest& r,
             std::function<void(runtime::ProbeResult)> d) override {
    Pass([&] { prober_->Probe(r, std::move(d)); });
  }

 private:
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

  runtime::Runtime* const runtime_;
  runtime::Prober* const prober_;
  Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace orch::node::internal

#endif  // ORCH_SRC_NODE_RUNTIME_GATE_H_
