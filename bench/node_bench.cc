// The node agent on FakeRuntime, in virtual time: what a simulation of many nodes costs.
//
//   BM_FakeNodes_<P>PodsOn<N>Nodes   N NodeAgents in one process, each on its own
//                       FakeRuntime, all on one MemoryStore, one SharedInformerFactory, one
//                       PodRouter and one VirtualExecutor. P pods are created already bound
//                       (spec.nodeName round-robin), then the executor runs until every pod
//                       is Running and Ready. Counters:
//                         wall_seconds     real time from the first create to the last pod
//                                          Ready (also the iteration time);
//                         setup_seconds    real time to create and start the agents (node
//                                          registration, Leases, the informer's first list);
//                         virtual_seconds  cluster time the same span took;
//                         pods_per_second  P / wall_seconds;
//                         peak_rss_mib     the process's peak RSS (VmHWM) during the
//                                          iteration (reset first where the kernel allows);
//                         rss_delta_mib    RSS with everything running minus RSS before
//                                          the iteration (memory the allocator kept from
//                                          earlier benchmarks makes it an underestimate);
//                         steady_wall_ms_per_virtual_s
//                                          then 30 s of virtual time in which nothing
//                                          changes: what keeping the nodes alive costs
//                                          (relists every second, Lease renewals), in real
//                                          milliseconds per virtual second.
//   BM_FakePodStartLatency           100 agents; 1,000 bound pods arrive one every 10 ms of
//                       virtual time. Latency = creation to Running and Ready, in virtual
//                       time, which is exact and the same every run: it is what the agent's
//                       protocol costs (runtime calls, relists, status writes), not the CPU.
//                       Counters p50_ms, p99_ms, max_ms (virtual) and wall_us_per_pod (real
//                       time of the whole run / pods: what each pod costs the host).
//
//   build/bench/node_bench
//   build/bench/node_bench --benchmark_filter=-1000Nodes   # skip the 1,000-node case
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "benchmark/benchmark.h"
#include "control_plane.h"
#include "latency.h"
#include "rss.h"
#include "fmt/format.h"
#include "orch/api/v1/core.pb.h"
#include "orch/base/executor.h"
#include "orch/client/client.h"
#include "orch/client/informer.h"
#include "orch/node/node_agent.h"
#include "orch/node/pod_router.h"
#include "orch/runtime/fake_runtime.h"

namespace orch::node {
namespace {

namespace v1 = api::v1;
using ::orch::bench::ProcStatusMib;
using ::orch::bench::ResetPeakRss;

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

std::string NodeName(int i) { return fmt::format("node-{:04d}", i); }

v1::Pod BoundPod(int i, int nodes) {
  v1::Pod pod;
  pod.mutable_metadata()->set_name(fmt::format("pod-{:05d}", i));
  pod.mutable_metadata()->set_namespace_("default");
  pod.mutable_spec()->set_node_name(NodeName(i % nodes));
  v1::Container* c = pod.mutable_spec()->add_containers();
  c->set_name("pause");
  c->set_image("registry.k8s.io/pause:3.9");
  c->set_image_pull_policy("IfNotPresent");
  for (auto* list : {c->mutable_resources()->mutable_requests(),
                     c->mutable_resources()->mutable_limits()}) {
    (*list)["cpu"].set_value("100m");
    (*list)["memory"].set_value("64Mi");
  }
  return pod;
}

bool RunningAndReady(const v1::Pod& pod) {
  if (pod.status().phase() != "Running") return false;
  for (const v1::PodCondition& c : pod.status().conditions()) {
    if (c.type() == "Ready") return c.status() == "True";
  }
  return false;
}

// Nodes on fake runtimes, with everything they share; on one VirtualExecutor.
class Fleet {
 public:
  // Containers behave as `image` says (FakeImage{}: pulls and starts take no time).
  explicit Fleet(int nodes, const runtime::FakeImage& image = {}) : nodes_(nodes) {
    router_ = PodRouter::Create(cp_.informers.get()).value();
    // Readiness is counted from the informer's events as they arrive: O(1) per event,
    // and the virtual time of each pod's first Ready is exact.
    auto pods = cp_.informers->InformerFor<v1::Pod>().value();
    pods.AddEventHandler({
        .on_add = [this](const auto& pod) { Observe(nullptr, *pod); },
        .on_update = [this](const auto& old_pod, const auto& pod) { Observe(old_pod.get(), *pod); },
    });
    for (int i = 0; i < nodes; ++i) {
      runtimes_.push_back(std::make_unique<runtime::FakeRuntime>(runtime::FakeRuntimeOptions{
          .executor = &cp_.executor,
          .default_image = image,
          .pod_cidr = fmt::format("10.{}.{}.0/24", 64 + i / 256, i % 256)}));
      auto agent = NodeAgent::Create({.node_name = NodeName(i),
                                      .client = cp_.client.get(),
                                      .executor = &cp_.executor,
                                      .runtime = runtimes_.back().get(),
                                      .prober = runtimes_.back().get(),
                                      .pod_router = router_.get(),
                                      .cpu = "4",
                                      .memory = "32Gi",
                                      .internal_ip = fmt::format("172.16.{}.{}", i / 250,
                                                                 1 + i % 250),
                                      .pod_log_directory = ""});
      if (!agent.ok() || !(*agent)->Start().ok()) std::abort();
      agents_.push_back(*std::move(agent));
    }
    cp_.informers->Start();
    cp_.executor.RunUntilIdle();
  }
  ~Fleet() {
    agents_.clear();  // stopped before their runtimes and the router go
  }

  // Creates pod `i` (bound to node i % nodes) now.
  void Create(int i) {
    const v1::Pod pod = BoundPod(i, nodes_);
    created_at_[pod.metadata().name()] = cp_.executor.clock().Now();
    if (!cp_.client->Create(pod).ok()) std::abort();
  }

  // Runs the executor until `target` pods have been Running and Ready, or until `limit`
  // of virtual time has passed without that (false).
  bool RunUntilReady(int64_t target, absl::Duration limit) {
    const absl::Time deadline = cp_.executor.clock().Now() + limit;
    cp_.executor.RunUntilIdle();
    while (ready_ < target) {
      if (cp_.executor.NextTimerAt() > deadline || !cp_.executor.RunNextTimer()) return false;
    }
    return true;
  }

  VirtualExecutor& executor() { return cp_.executor; }
  absl::Time last_ready_at() const { return last_ready_at_; }
  // Creation to first Running and Ready, for every pod that got there.
  std::vector<absl::Duration> Latencies() const {
    std::vector<absl::Duration> out;
    for (const auto& [name, at] : ready_at_) out.push_back(at - created_at_.at(name));
    return out;
  }

 private:
  void Observe(const v1::Pod* old_pod, const v1::Pod& pod) {
    if (!RunningAndReady(pod) || (old_pod != nullptr && RunningAndReady(*old_pod))) return;
    if (!ready_at_.emplace(pod.metadata().name(), cp_.executor.clock().Now()).second) return;
    ++ready_;
    last_ready_at_ = cp_.executor.clock().Now();
  }

  const int nodes_;
  absl::flat_hash_map<std::string, absl::Time> created_at_;
  absl::flat_hash_map<std::string, absl::Time> ready_at_;
  int64_t ready_ = 0;
  absl::Time last_ready_at_;
  bench::ControlPlane cp_;
  std::unique_ptr<PodRouter> router_;
  std::vector<std::unique_ptr<runtime::FakeRuntime>> runtimes_;
  std::vector<std::unique_ptr<NodeAgent>> agents_;
};

// Virtual time run once every pod is Ready, for steady_wall_ms_per_virtual_s.
constexpr absl::Duration kSteady = absl::Seconds(30);

void FakeNodes(benchmark::State& state, int pods, int nodes) {
  for (auto _ : state) {
    ResetPeakRss();
    const double rss_before = ProcStatusMib("VmRSS");
    const auto setup_start = std::chrono::steady_clock::now();
    Fleet fleet(nodes);
    const auto start = std::chrono::steady_clock::now();
    const absl::Time virtual_start = fleet.executor().clock().Now();
    for (int i = 0; i < pods; ++i) fleet.Create(i);
    const bool done = fleet.RunUntilReady(pods, absl::Minutes(10));
    const double wall = Seconds(std::chrono::steady_clock::now() - start);
    if (!done) {
      state.SkipWithError("not every pod became Running and Ready");
      return;
    }
    state.SetIterationTime(wall);
    state.counters["wall_seconds"] = wall;
    state.counters["setup_seconds"] = Seconds(start - setup_start);
    state.counters["virtual_seconds"] =
        absl::ToDoubleSeconds(fleet.last_ready_at() - virtual_start);
    state.counters["pods_per_second"] = pods / wall;
    state.counters["peak_rss_mib"] = ProcStatusMib("VmHWM");
    state.counters["rss_delta_mib"] = ProcStatusMib("VmRSS") - rss_before;
    const auto steady = std::chrono::steady_clock::now();
    fleet.executor().AdvanceBy(kSteady);
    state.counters["steady_wall_ms_per_virtual_s"] =
        Seconds(std::chrono::steady_clock::now() - steady) * 1000 / absl::ToDoubleSeconds(kSteady);
  }
}

void BM_FakeNodes_1000PodsOn100Nodes(benchmark::State& state) { FakeNodes(state, 1000, 100); }
void BM_FakeNodes_10000PodsOn1000Nodes(benchmark::State& state) { FakeNodes(state, 10000, 1000); }
BENCHMARK(BM_FakeNodes_1000PodsOn100Nodes)
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FakeNodes_10000PodsOn1000Nodes)
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

void BM_FakePodStartLatency(benchmark::State& state, const runtime::FakeImage& image) {
  constexpr int kNodes = 100;
  constexpr int kPods = 1000;
  const absl::Duration kEvery = absl::Milliseconds(10);
  for (auto _ : state) {
    Fleet fleet(kNodes, image);
    const absl::Time first = fleet.executor().clock().Now();
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kPods; ++i) {
      fleet.executor().AdvanceTo(first + i * kEvery);
      fleet.Create(i);
    }
    const bool done = fleet.RunUntilReady(kPods, absl::Minutes(10));
    const double wall = Seconds(std::chrono::steady_clock::now() - start);
    if (!done) {
      state.SkipWithError("not every pod became Running and Ready");
      return;
    }
    state.SetIterationTime(wall);
    bench::ReportLatencies(state, fleet.Latencies());
    state.counters["wall_us_per_pod"] = wall * 1e6 / kPods;
  }
}
// A runtime that takes no time: the latency the agent itself adds.
BENCHMARK_CAPTURE(BM_FakePodStartLatency, instant_runtime, runtime::FakeImage{})
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
// Pulls take 2 s (once per node and image: IfNotPresent), starts 200 ms.
BENCHMARK_CAPTURE(BM_FakePodStartLatency, pull_2s_start_200ms,
                  runtime::FakeImage{.pull_delay = absl::Seconds(2),
                                     .start_delay = absl::Milliseconds(200)})
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace orch::node
