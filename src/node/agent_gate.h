// AgentGate: everything by which a node agent's work runs or reaches outside — its
// executor, its runtime and its prober — closed by Stop. Internal.
//
// The agent's work runs as executor tasks and as runtime and probe callbacks, and on a
// thread pool (or a runtime's own threads) such work that began before Stop may still be
// running after it. It would use the client, the network and the runtime, which the host
// may destroy once Stop returns. So the agent posts its tasks and makes its runtime and
// probe calls through the gate, which also wraps each call's callback:
//   - a task, runtime call or callback starts only while the gate is open, or inside work
//     of the gate already under way; the others are dropped once it is closed (a dropped
//     task or callback is destroyed unrun, later);
//   - Close shuts the gate and returns once all of them that are under way have returned,
//     except those the calling thread is itself inside (Stop called from the agent's own
//     work must not wait for itself).
// Afterwards no work of the agent runs. The wrapped tasks and callbacks share the gate's
// state, so they may outlive the gate and the agent: the runtime may call back, and the
// executor run or destroy a task, at any time later.
//
// Calls may nest (a callback run inside a call may call again). An httpGet or tcpSocket
// probe or an httpGet hook under way holds Close up to its timeout. Thread-safe.
#ifndef ORCH_SRC_NODE_AGENT_GATE_H_
#define ORCH_SRC_NODE_AGENT_GATE_H_

#include <functional>
#include <memory>
#include <utility>

#include "orch/base/executor.h"
#include "orch/base/mutex.h"
#include "orch/runtime/prober.h"
#include "orch/runtime/runtime.h"

namespace orch::node::internal {

namespace cri = ::orch::runtime::cri;

class AgentGate final : public runtime::Runtime, public runtime::Prober, public Executor {
 public:
  template <typename Response>
  using Callback = runtime::Callback<Response>;

  // `prober` may be null when the agent makes its own prober (on this gate); Probe then
  // must not be called. None is owned; each must outlive every call through the gate and,
  // the executor, every task posted through it.
  AgentGate(runtime::Runtime* runtime, runtime::Prober* prober, Executor* executor)
      : runtime_(runtime), prober_(prober), executor_(executor),
        state_(std::make_shared<State>()) {}

  // Refuses work from now on, and returns once the work under way has returned (but for
  // what the calling thread is inside). Idempotent.
  void Close() { state_->Close(); }

  // The executor's methods: tasks run through the gate.
  void Post(Task task) override { executor_->Post(Gated(std::move(task))); }
  TimerId PostAfter(absl::Duration delay, Task task) override {
    return executor_->PostAfter(delay, Gated(std::move(task)));
  }
  bool Cancel(TimerId id) override { return executor_->Cancel(id); }
  Clock& clock() override { return executor_->clock(); }

  // Each of Runtime's methods: the call and its callback run through the gate. Every CRI
  // method `M` takes an `MRequest` and answers an `MResponse`.
#define ORCH_GATE_FORWARD(M)                                                            \
  void M(const cri::M##Request& r, Callback<cri::M##Response> d) override {             \
    state_->Pass([&] { runtime_->M(r, Gated(std::move(d))); });                         \
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
    state_->Pass([&] { prober_->Probe(r, Gated(std::move(d))); });
  }

 private:
  // Whether the gate is open, and how much work is under way; shared with every task and
  // callback the gate wrapped.
  class State {
   public:
    // Runs `work`, counted as under way while it runs, unless the gate is closed and the
    // calling thread is not already inside work of this gate (which goes on to its end).
    template <typename Work>
    void Pass(Work&& work) {
      {
        MutexLock lock(&mu_);
        if (closed_ && Depth() == 0) return;
        ++running_;
      }
      Frame frame{this, innermost_};
      innermost_ = &frame;
      std::forward<Work>(work)();
      innermost_ = frame.outer;
      MutexLock lock(&mu_);
      --running_;
    }

    void Close() {
      const int own = Depth();
      MutexLock lock(&mu_);
      closed_ = true;
      struct Done {
        const int* running;
        int own;
      } done{&running_, own};
      mu_.Await(absl::Condition(
          +[](Done* d) ABSL_NO_THREAD_SAFETY_ANALYSIS { return *d->running == d->own; },
          &done));
    }

   private:
    // How deep the calling thread is inside work of this gate.
    int Depth() const {
      int depth = 0;
      for (const Frame* f = innermost_; f != nullptr; f = f->outer) depth += f->state == this;
      return depth;
    }

    // The work of any gate a thread is inside, innermost first.
    struct Frame {
      const State* state;
      Frame* outer;
    };
    static inline thread_local Frame* innermost_ = nullptr;

    Mutex mu_;
    bool closed_ ABSL_GUARDED_BY(mu_) = false;
    int running_ ABSL_GUARDED_BY(mu_) = 0;
  };

  // `work` (a task or a callback) wrapped, as a `Work` again, to run through the gate.
  template <typename Work>
  Work Gated(Work work) {
    return Work([state = state_, work = std::move(work)](auto&&... args) mutable {
      state->Pass([&] { std::move(work)(std::forward<decltype(args)>(args)...); });
    });
  }

  runtime::Runtime* const runtime_;
  runtime::Prober* const prober_;
  Executor* const executor_;
  const std::shared_ptr<State> state_;
};

}  // namespace orch::node::internal

#endif  // ORCH_SRC_NODE_AGENT_GATE_H_
