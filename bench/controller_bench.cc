// The controller SDK and the built-in controllers, measured (issue 4):
//
//   Reconciles          reconciles per second through a Manager's controller: 1,000
//                       ReplicaSets created and updated 5 times through the client ->
//                       informer events -> work queue -> a Reconciler that reads its object
//                       from the cache; on a VirtualExecutor (one thread, every round
//                       reconciled before the next) and on a 2-thread pool (updates of one
//                       object may merge in the queue). The time includes the writes.
//   Deployment1000      a 1,000-replica Deployment on 100 fake nodes of a TestCluster,
//                       from create until every replica is available: the Deployment and
//                       ReplicaSet controllers, the scheduler and the fake nodes together.
//                       Counters: virtual_seconds (cluster time the rollout took) and
//                       wall_ms (what it cost).
//   TestClusterStart    starting an orch::testing::TestCluster (target: under 10 ms).
//
//   build/bench/controller_bench
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>

#include "benchmark/benchmark.h"
#include "fmt/format.h"
#include "orch/api/v1/apps.pb.h"
#include "orch/api/v1/core.pb.h"
#include "orch/base/executor.h"
#include "orch/client/informer.h"
#include "orch/controller/controller.h"
#include "orch/store/memory_store.h"
#include "orch/testing/test_cluster.h"

namespace orch::controller {
namespace {

namespace v1 = api::v1;

v1::ReplicaSet MakeReplicaSet(int i) {
  v1::ReplicaSet rs;
  rs.mutable_metadata()->set_name(fmt::format("rs-{}", i));
  rs.mutable_metadata()->set_namespace_("default");
  rs.mutable_spec()->set_replicas(0);
  (*rs.mutable_spec()->mutable_selector()->mutable_match_labels())["app"] = "x";
  auto* tmpl = rs.mutable_spec()->mutable_template_();
  (*tmpl->mutable_metadata()->mutable_labels())["app"] = "x";
  auto* c = tmpl->mutable_spec()->add_containers();
  c->set_name("main");
  c->set_image("busybox");
  return rs;
}

// `objects` ReplicaSets, each updated `rounds` times; a controller reconciles them.
template <typename MakeExecutor>
void Reconciles(benchmark::State& state, MakeExecutor make_executor) {
  const int objects = static_cast<int>(state.range(0));
  constexpr int kRounds = 5;
  int64_t total = 0;
  double seconds = 0;
  for (auto _ : state) {
    auto executor = make_executor();
    store::MemoryStoreOptions options;
    options.clock = &executor->clock();
    auto store = store::MemoryStore::Open(options).value();
    client::Client client(store.get(), &api::Scheme::Builtin(), &executor->clock());
    client::SharedInformerFactory informers(&client, executor.get());
    auto manager =
        Manager::Create({.client = &client, .informers = &informers, .executor = executor.get()})
            .value();
    auto sets = informers.InformerFor<v1::ReplicaSet>().value();
    std::atomic<int64_t> reconciles{0};
    FuncReconciler reconciler([&](const Request& r) -> Result {
      auto rs = sets.lister().Get(r.ns, r.name);  // what a reconciler does first
      benchmark::DoNotOptimize(rs);
      ++reconciles;
      return {};
    });
    auto controller = Builder<v1::ReplicaSet>(manager.get())
                          .WithOptions({.max_concurrent_reconciles = 2})
                          .Complete(&reconciler);
    if (!controller.ok() || !manager->Start().ok()) {
      state.SkipWithError("setup failed");
      return;
    }
    constexpr bool kVirtual = std::is_same_v<decltype(executor), std::unique_ptr<VirtualExecutor>>;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < objects; ++i) (void)client.Create(MakeReplicaSet(i));
    for (int round = 0; round < kRounds; ++round) {
      if constexpr (kVirtual) executor->RunUntilIdle();
      for (int i = 0; i < objects; ++i) {
        v1::ReplicaSet rs = MakeReplicaSet(i);
        rs.mutable_spec()->set_replicas(round + 1);
        (void)client.Update(rs);  // unconditional: no resourceVersion
      }
    }
    if constexpr (kVirtual) {
      executor->RunUntilIdle();
    } else {
      // Updates of one object merge in the queue, so the count is not known in advance:
      // wait until the queue is empty and no reconcile happened for 5 ms.
      for (;;) {
        const int64_t before = reconciles.load();
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        if (reconciles.load() == before && (*controller)->stats().queue_depth == 0) break;
      }
    }
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    total += reconciles.load();
    manager->Stop();
  }
  state.counters["reconciles_per_second"] = static_cast<double>(total) / seconds;
  state.counters["reconciles"] = static_cast<double>(total) / state.iterations();
}

void ReconcilesVirtual(benchmark::State& state) {
  Reconciles(state, [] { return std::make_unique<VirtualExecutor>(); });
}
void ReconcilesThreads(benchmark::State& state) {
  Reconciles(state, [] { return std::make_unique<ThreadPoolExecutor>(2); });
}
BENCHMARK(ReconcilesVirtual)->Arg(1000)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(ReconcilesThreads)->Arg(1000)->Unit(benchmark::kMillisecond)->UseRealTime();

void Deployment1000(benchmark::State& state) {
  constexpr int kReplicas = 1000;
  for (auto _ : state) {
    testing::TestClusterOptions options;
    options.nodes = 100;
    auto cluster = testing::TestCluster::Start(options).value();
    v1::Deployment d;
    d.mutable_metadata()->set_name("web");
    d.mutable_metadata()->set_namespace_("default");
    d.mutable_spec()->set_replicas(kReplicas);
    (*d.mutable_spec()->mutable_selector()->mutable_match_labels())["app"] = "web";
    auto* tmpl = d.mutable_spec()->mutable_template_();
    (*tmpl->mutable_metadata()->mutable_labels())["app"] = "web";
    auto* c = tmpl->mutable_spec()->add_containers();
    c->set_name("web");
    c->set_image("nginx");
    (*c->mutable_resources()->mutable_requests())["cpu"].set_value("100m");
    const absl::Time virtual_start = cluster->Now();
    const auto start = std::chrono::steady_clock::now();
    if (!cluster->client().Create(d).ok()) {
      state.SkipWithError("create failed");
      return;
    }
    absl::Status done = cluster->WaitFor(
        [&] {
          auto got = cluster->client().Get<v1::Deployment>("default", "web");
          return got.ok() && got->status().available_replicas() == kReplicas;
        },
        absl::Hours(1), "1000 available replicas");
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!done.ok()) {
      state.SkipWithError(std::string(done.message()).c_str());
      return;
    }
    state.SetIterationTime(wall);
    state.counters["virtual_seconds"] = absl::ToDoubleSeconds(cluster->Now() - virtual_start);
    state.counters["wall_ms"] = wall * 1000;
  }
}
BENCHMARK(Deployment1000)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);

void TestClusterStart(benchmark::State& state) {
  for (auto _ : state) {
    auto cluster = testing::TestCluster::Start({.nodes = 3});
    benchmark::DoNotOptimize(cluster);
  }
}
BENCHMARK(TestClusterStart)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace orch::controller
