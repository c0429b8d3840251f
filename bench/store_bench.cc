// MemoryStore throughput on ~1 KB values: serialized orch.api.v1 Pods as controllers write
// them. Targets (one core): CAS updates >= 500k/s, Gets >= 2M/s, watch fan-out to 100
// watchers >= 2M events delivered/s; durable CAS updates with group commit >= 20k/s.
//
//   build/bench/store_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//
// DurableCasUpdate runs a durable store (fsync on) in a fresh directory under
// $ORCH_BENCH_DIR (default /tmp), on that file system's disk: its figures are the disk's
// fdatasync latency as much as orch's.
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "fmt/format.h"
#include "orch/api/selector.h"
#include "orch/api/v1/core.pb.h"
#include "orch/store/keys.h"
#include "orch/store/memory_store.h"

namespace orch::store {
namespace {

constexpr int kObjects = 10000;

std::string PodName(int i) { return fmt::format("web-7d9f8c6b5-{:05d}", i); }
std::string PodKey(int i) { return ObjectKey("pods", "default", PodName(i)); }

// A pod as a ReplicaSet would create it, scheduled and running: about 1 KB serialized.
std::string PodValue(int i, int shards = 100) {
  api::v1::Pod pod;
  pod.set_api_version("v1");
  pod.set_kind("Pod");
  api::v1::ObjectMeta& meta = *pod.mutable_metadata();
  meta.set_name(PodName(i));
  meta.set_namespace_("default");
  meta.set_uid(fmt::format("5f0c3a52-8d7e-4c1b-9a61-{:012d}", i));
  meta.set_generation(1);
  (*meta.mutable_labels())["app"] = "web";
  (*meta.mutable_labels())["pod-template-hash"] = "7d9f8c6b5";
  (*meta.mutable_labels())["shard"] = fmt::format("s{}", i % shards);
  (*meta.mutable_annotations())["kubectl.kubernetes.io/restartedAt"] = "2026-01-01T00:00:00Z";
  (*meta.mutable_annotations())["prometheus.io/scrape"] = "true";
  (*meta.mutable_annotations())["prometheus.io/port"] = "9090";
  api::v1::OwnerReference& owner = *meta.add_owner_references();
  owner.set_api_version("apps/v1");
  owner.set_kind("ReplicaSet");
  owner.set_name("web-7d9f8c6b5");
  owner.set_uid("0b3f6a4e-2d1c-4e8f-b7a9-3c5d6e7f8a9b");
  owner.set_controller(true);
  owner.set_block_owner_deletion(true);
  meta.add_finalizers("example.com/cleanup");

  api::v1::PodSpec& spec = *pod.mutable_spec();
  spec.set_node_name(fmt::format("node-{:03d}", i % 500));
  spec.set_restart_policy("Always");
  spec.set_dns_policy("ClusterFirst");
  spec.set_scheduler_name("default-scheduler");
  spec.set_service_account_name("default");
  spec.set_termination_grace_period_seconds(30);
  api::v1::Container& c = *spec.add_containers();
  c.set_name("web");
  c.set_image("registry.example.com/team/web-frontend:v1.27.3");
  c.add_args("--port=8080");
  c.add_args("--metrics-port=9090");
  c.add_args("--log-level=info");
  for (int e = 0; e < 4; ++e) {
    api::v1::EnvVar& env = *c.add_env();
    env.set_name(fmt::format("FEATURE_FLAG_{}", e));
    env.set_value("enabled-for-this-deployment");
  }
  (*c.mutable_resources()->mutable_requests())["cpu"].set_value("250m");
  (*c.mutable_resources()->mutable_requests())["memory"].set_value("256Mi");
  (*c.mutable_resources()->mutable_limits())["cpu"].set_value("1");
  (*c.mutable_resources()->mutable_limits())["memory"].set_value("512Mi");
  api::v1::ContainerPort& port = *c.add_ports();
  port.set_name("http");
  port.set_container_port(8080);
  port.set_protocol("TCP");
  api::v1::Toleration& t = *spec.add_tolerations();
  t.set_key("node.kubernetes.io/not-ready");
  t.set_operator_("Exists");
  t.set_effect("NoExecute");
  t.set_toleration_seconds(300);

  api::v1::PodStatus& status = *pod.mutable_status();
  status.set_phase("Running");
  status.set_host_ip("10.0.3.17");
  status.set_pod_ip(fmt::format("10.244.{}.{}", i / 250 % 256, i % 250 + 2));
  status.set_qos_class("Burstable");
  for (const char* type : {"Initialized", "Ready", "ContainersReady", "PodScheduled"}) {
    api::v1::PodCondition& cond = *status.add_conditions();
    cond.set_type(type);
    cond.set_status("True");
  }
  api::v1::ContainerStatus& cs = *status.add_container_statuses();
  cs.set_name("web");
  cs.set_ready(true);
  cs.set_image("registry.example.com/team/web-frontend:v1.27.3");
  cs.set_container_id("containerd://4f2b9c8e7d6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c");
  return pod.SerializeAsString();
}

std::unique_ptr<MemoryStore> OpenStore() { return MemoryStore::Open().value(); }

// A store holding kObjects pods; `revisions[i]` is pod i's mod_revision.
std::unique_ptr<MemoryStore> FilledStore(std::vector<int64_t>* revisions = nullptr,
                                         int shards = 100) {
  auto store = OpenStore();
  for (int i = 0; i < kObjects; ++i) {
    int64_t rev = store->Create(PodKey(i), PodValue(i, shards)).value();
    if (revisions) revisions->push_back(rev);
  }
  return store;
}

// Reads spread over range(0) of the 10,000 pods in a scattered order: with all 10,000 the
// values (11 MB) come from memory, with 100 they stay in cache.
void BM_Get(benchmark::State& state) {
  auto store = FilledStore();
  const int distinct = static_cast<int>(state.range(0));
  std::vector<std::string> keys;
  for (int i = 0; i < distinct; ++i) keys.push_back(PodKey(i * 7919 % kObjects));
  size_t next = 0;
  for (auto _ : state) {
    absl::StatusOr<KeyValue> kv = store->Get(keys[next]);
    benchmark::DoNotOptimize(kv);
    if (++next == keys.size()) next = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(fmt::format("value {} bytes", PodValue(0).size()));
}
BENCHMARK(BM_Get)->Arg(kObjects)->Arg(100);

// The floor under BM_Get: copying a KeyValue out of a plain vector (the key's bytes and a
// reference to the shared value, as Get returns it), with the same access pattern over the
// same number of objects, and no store at all.
void BM_CopyKeyValueBaseline(benchmark::State& state) {
  std::vector<KeyValue> stored(kObjects);
  for (int i = 0; i < kObjects; ++i) {
    stored[i].key = PodKey(i);
    stored[i].value = PodValue(i);
  }
  size_t next = 0;
  for (auto _ : state) {
    KeyValue copy = stored[next * 7919 % kObjects];
    benchmark::DoNotOptimize(copy);
    if (++next == stored.size()) next = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CopyKeyValueBaseline);

void BM_Create(benchmark::State& state) {
  constexpr int kPerStore = 100000;  // bounds memory: then start over with an empty store
  const std::string value = PodValue(0);
  std::vector<std::string> keys;
  for (int i = 0; i < kPerStore; ++i) keys.push_back(PodKey(i));
  auto store = OpenStore();
  int n = 0;
  for (auto _ : state) {
    if (n == kPerStore) {
      state.PauseTiming();
      store = OpenStore();
      n = 0;
      state.ResumeTiming();
    }
    benchmark::DoNotOptimize(store->Create(keys[n++], value));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Create);

// Read-modify-write as every controller does it: Update with the expected revision.
void BM_CasUpdate(benchmark::State& state) {
  std::vector<int64_t> revisions;
  auto store = FilledStore(&revisions);
  std::vector<std::string> keys, values;
  for (int i = 0; i < kObjects; ++i) {
    keys.push_back(PodKey(i));
    values.push_back(PodValue(i));
  }
  int i = 0;
  for (auto _ : state) {
    absl::StatusOr<int64_t> rev = store->Update(keys[i], values[i], revisions[i]);
    revisions[i] = *rev;
    if (++i == kObjects) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CasUpdate);

// 10,000 pods, 1% carry the selected label value.
void BM_ListLabelSelector(benchmark::State& state) {
  auto store = FilledStore(nullptr, /*shards=*/100);
  ListOptions options;
  options.labels = api::LabelSelector::Parse("app=web,shard=s7").value();
  size_t matched = 0;
  for (auto _ : state) {
    absl::StatusOr<ListResult> list = store->List(ResourcePrefix("pods"), options);
    matched = list->items.size();
    benchmark::DoNotOptimize(list);
  }
  if (matched != kObjects / 100) state.SkipWithError("wrong match count");
  state.SetItemsProcessed(state.iterations() * kObjects);  // objects examined
  state.counters["lists_per_second"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ListLabelSelector)->Unit(benchmark::kMillisecond);

// One writer, 100 informer-style watchers on the pods prefix, each with a ready callback,
// each draining its events after every write. Counts events delivered to watchers.
void BM_WatchFanout(benchmark::State& state) {
  const int watchers_count = static_cast<int>(state.range(0));
  std::vector<int64_t> revisions;
  auto store = FilledStore(&revisions);
  std::vector<std::unique_ptr<Watcher>> watchers;
  std::vector<int> woken(watchers_count, 0);
  for (int w = 0; w < watchers_count; ++w) {
    watchers.push_back(store->Watch(ResourcePrefix("pods")).value());
    watchers.back()->SetReadyCallback([&woken, w] { ++woken[w]; });
  }
  std::vector<std::string> keys, values;
  for (int i = 0; i < kObjects; ++i) {
    keys.push_back(PodKey(i));
    values.push_back(PodValue(i));
  }
  std::vector<EventPtr> events;
  events.reserve(16);
  int64_t delivered = 0;
  int i = 0;
  for (auto _ : state) {
    revisions[i] = store->Update(keys[i], values[i], revisions[i]).value();
    for (auto& watcher : watchers) {
      events.clear();
      (void)watcher->Poll(&events);
      delivered += static_cast<int64_t>(events.size());
    }
    if (++i == kObjects) i = 0;
  }
  if (delivered != state.iterations() * watchers_count) state.SkipWithError("events lost");
  state.SetItemsProcessed(delivered);
  state.counters["writes_per_second"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_WatchFanout)->Arg(100);

// ------------------------------------------------------------------ durable mode

std::unique_ptr<MemoryStore> g_durable;
std::string g_durable_dir;

void OpenDurableStore(const benchmark::State&) {
  const char* base = ::getenv("ORCH_BENCH_DIR");
  std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/orch-store-bench-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) std::abort();
  g_durable_dir = pattern;
  MemoryStoreOptions options;
  options.data_dir = g_durable_dir + "/data";
  g_durable = MemoryStore::Open(options).value();
}

void CloseDurableStore(const benchmark::State&) {
  g_durable.reset();
  std::filesystem::remove_all(g_durable_dir);
}

// Read-modify-write of ~1 KB pods from range(0) threads, each on its own 16 pods (no
// conflicts): every Update returns once its log record is fdatasync'ed, and concurrent
// writers share syncs (group commit). items_per_second is the total over all writers.
void BM_DurableCasUpdate(benchmark::State& state) {
  constexpr int kPerThread = 16;
  const int first = state.thread_index() * kPerThread;
  std::vector<std::string> keys, values;
  std::vector<int64_t> revisions;
  for (int i = first; i < first + kPerThread; ++i) {
    keys.push_back(PodKey(i));
    values.push_back(PodValue(i));
    revisions.push_back(g_durable->Create(keys.back(), values.back()).value());
  }
  int i = 0;
  for (auto _ : state) {
    absl::StatusOr<int64_t> rev = g_durable->Update(keys[i], values[i], revisions[i]);
    if (!rev.ok()) {
      state.SkipWithError(std::string(rev.status().message()).c_str());
      break;
    }
    revisions[i] = *rev;
    if (++i == kPerThread) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DurableCasUpdate)
    ->Threads(1)
    ->Threads(4)
    ->Threads(16)
    ->Threads(64)
    ->UseRealTime()
    ->MinTime(0.5)
    ->Setup(OpenDurableStore)
    ->Teardown(CloseDurableStore);

}  // namespace
}  // namespace orch::store
