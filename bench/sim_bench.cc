// A whole simulated cluster converging: orch::Cluster in virtual time, Deployments applied,
// run until every replica is Running and Ready. What orch-sim costs at scale.
//
//   BM_Converge_<N>Nodes_<P>Pods   N nodes (32 CPUs, 128 GiB, 110 pods each) on fake
//                       runtimes; P/1000 Deployments of 1,000 replicas (100m, 64Mi; the
//                       image starts in 1 s), applied at once. The whole control plane
//                       runs: scheduler, ReplicaSet and Deployment controllers, node
//                       lifecycle, pod GC, garbage collector, one NodeAgent per node.
//                       Counters:
//                         wall_seconds     real time from the first apply to the last
//                                          replica ready (also the iteration time);
//                         setup_seconds    real time to build the cluster and register
//                                          the nodes;
//                         virtual_seconds  cluster time the same span took;
//                         pods_per_second  P / wall_seconds;
//                         peak_rss_mib     the process's peak RSS during the iteration.
//   The 5,000-node case is Kubernetes' documented limit (5,000 nodes, 150,000 pods).
//
//   build/bench/sim_bench
//   build/bench/sim_bench --benchmark_filter=-5000Nodes   # the smaller cases only
#include <chrono>
#include <memory>
#include <string>

#include "benchmark/benchmark.h"
#include "fmt/format.h"
#include "orch/cluster.h"
#include "rss.h"

namespace orch {
namespace {

using ::orch::bench::ProcStatusMib;
using ::orch::bench::ResetPeakRss;

std::string Deployment(int i, int replicas) {
  return fmt::format(R"(
apiVersion: apps/v1
kind: Deployment
metadata: {{name: app-{0}}}
spec:
  replicas: {1}
  selector: {{matchLabels: {{app: app-{0}}}}}
  template:
    metadata: {{labels: {{app: app-{0}}}}}
    spec:
      containers:
      - {{name: main, image: "app:v1", resources: {{requests: {{cpu: 100m, memory: 64Mi}}}}}}
---
)",
                     i, replicas);
}

double Since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void BM_Converge(benchmark::State& state, int nodes, int pods) {
  const int per_deployment = std::min(pods, 1000);
  const int deployments = pods / per_deployment;
  std::string manifests;
  for (int i = 0; i < deployments; ++i) manifests += Deployment(i, per_deployment);
  for (auto _ : state) {
    ResetPeakRss();
    const auto setup_start = std::chrono::steady_clock::now();
    absl::StatusOr<std::unique_ptr<Cluster>> built =
        Cluster::Builder()
            .WithNodes({.count = nodes, .cpu = "32", .memory = "128Gi", .pods = "110"})
            .WithImage("app:v1", {.start_delay = absl::Seconds(1)})
            .Build();
    if (!built.ok()) {
      state.SkipWithError(built.status().ToString().c_str());
      return;
    }
    Cluster& cluster = **built;
    const double setup = Since(setup_start);
    const auto start = std::chrono::steady_clock::now();
    const absl::Time virtual_start = cluster.Now();
    if (auto applied = cluster.Apply(manifests, "deployments.yaml"); !applied.ok()) {
      state.SkipWithError(applied.status().ToString().c_str());
      return;
    }
    absl::Status converged = cluster.WaitFor(
        [&] {
          int ready = 0;
          for (int i = 0; i < deployments; ++i) {
            ready += cluster.ReadyReplicas("default", fmt::format("app-{}", i));
          }
          return ready == pods;
        },
        absl::Hours(1), "every replica to be ready");
    const double wall = Since(start);
    state.SetIterationTime(wall);
    if (!converged.ok()) {
      state.SkipWithError(converged.ToString().c_str());
      return;
    }
    state.counters["wall_seconds"] = wall;
    state.counters["setup_seconds"] = setup;
    state.counters["virtual_seconds"] = absl::ToDoubleSeconds(cluster.Now() - virtual_start);
    state.counters["pods_per_second"] = pods / wall;
    state.counters["peak_rss_mib"] = ProcStatusMib("VmHWM");
  }
}

BENCHMARK_CAPTURE(BM_Converge, 50Nodes_1000Pods, 50, 1000)
    ->UseManualTime()->Unit(benchmark::kSecond)->Iterations(1);
BENCHMARK_CAPTURE(BM_Converge, 200Nodes_5000Pods, 200, 5000)
    ->UseManualTime()->Unit(benchmark::kSecond)->Iterations(1);
BENCHMARK_CAPTURE(BM_Converge, 500Nodes_15000Pods, 500, 15000)
    ->UseManualTime()->Unit(benchmark::kSecond)->Iterations(1);
BENCHMARK_CAPTURE(BM_Converge, 5000Nodes_150000Pods, 5000, 150000)
    ->UseManualTime()->Unit(benchmark::kSecond)->Iterations(1);

}  // namespace
}  // namespace orch
