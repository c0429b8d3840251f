// EtcdStore on a real etcd, beside MemoryStore in the same run (issue 6):
//
//   CasUpdates/<backend>/<threads>   Update with an expected revision (what every
//                                    controller write is), 1 KB values, on 100 keys, from
//                                    1 or 8 threads: updates/s.
//   Gets/<backend>/<threads>         linearizable Get of one of 100 keys: gets/s.
//   WatchLatency/<backend>           from the start of an Update to its event reaching a
//                                    watcher's Poll (the write's own latency included: etcd
//                                    sends the event before it answers the write):
//                                    p50_us, p99_us and max_us counters.
//
// Backends: Memory (MemoryStore, in memory), Etcd1 (one member), Etcd3 (three members;
// the store talks to one, writes go through the raft leader). etcd runs on loopback from
// tests/support/etcd_fixture.h with its data directory under /tmp (on this machine's
// disk: etcd fsyncs every write). Where etcd cannot run, the etcd cases skip saying why.
//
//   build/bench/etcd_bench --benchmark_min_time=3
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "latency.h"
#include "fmt/format.h"
#include "orch/base/mutex.h"
#include "orch/store/etcd_store.h"
#include "orch/store/memory_store.h"
#include "support/etcd_fixture.h"

namespace orch::store {
namespace {

using ::orch::testing::EtcdCluster;

constexpr int kKeys = 100;
const std::string kValue(1024, 'x');

std::string Key(int i) { return fmt::format("/registry/pods/default/bench-{:03d}", i); }

enum Backend { kMemory = 0, kEtcd1 = 1, kEtcd3 = 3 };

struct Bed {
  std::unique_ptr<EtcdCluster> etcd;
  std::unique_ptr<Store> store;
  absl::Status status;
};

// One store per backend for the whole program, with kKeys keys written.
std::map<Backend, Bed>* const beds = new std::map<Backend, Bed>();

// Registered with atexit: each store closes, then its etcd cluster stops and its
// directory under /tmp goes (the map itself is never destroyed).
void StopBeds() {
  for (auto& [backend, bed] : *beds) {
    bed.store.reset();
    bed.etcd.reset();
  }
}

absl::StatusOr<Store*> StoreFor(Backend backend) {
  static Mutex* mu = new Mutex();
  MutexLock lock(mu);  // benchmark threads arrive together
  if (beds->empty()) std::atexit(StopBeds);
  auto [it, fresh] = beds->try_emplace(backend);
  Bed& bed = it->second;
  if (fresh) {
    if (backend == kMemory) {
      bed.store = *MemoryStore::Open({});
    } else {
      auto etcd = EtcdCluster::Start({.members = static_cast<int>(backend)});
      if (!etcd.ok()) {
        bed.status = etcd.status();
      } else {
        bed.etcd = *std::move(etcd);
        auto store = EtcdStore::Connect({.endpoints = bed.etcd->endpoints(), .key_prefix = "/bench"});
        if (store.ok()) {
          bed.store = *std::move(store);
        } else {
          bed.status = store.status();
        }
      }
    }
    for (int i = 0; bed.status.ok() && i < kKeys; ++i) {
      bed.status = bed.store->Create(Key(i), kValue).status();
    }
  }
  if (!bed.status.ok()) return bed.status;
  return bed.store.get();
}

void Skip(benchmark::State& state, const absl::Status& status) {
  state.SkipWithError(std::string(status.message()).c_str());
}

void BM_CasUpdates(benchmark::State& state, Backend backend) {
  absl::StatusOr<Store*> store = StoreFor(backend);
  if (!store.ok()) return Skip(state, store.status());
  // Each thread its own keys, so compare-and-swaps do not conflict.
  const int thread = state.thread_index();
  const int per_thread = kKeys / state.threads();
  std::vector<int64_t> revisions(per_thread);
  for (int k = 0; k < per_thread; ++k) {
    revisions[k] = (*store)->Get(Key(thread * per_thread + k))->mod_revision;
  }
  int k = 0;
  for (auto _ : state) {
    absl::StatusOr<int64_t> updated =
        (*store)->Update(Key(thread * per_thread + k), kValue, revisions[k]);
    if (!updated.ok()) return Skip(state, updated.status());
    revisions[k] = *updated;
    k = (k + 1) % per_thread;
  }
  state.counters["updates_per_s"] = benchmark::Counter(
      static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_Gets(benchmark::State& state, Backend backend) {
  absl::StatusOr<Store*> store = StoreFor(backend);
  if (!store.ok()) return Skip(state, store.status());
  int k = state.thread_index();
  for (auto _ : state) {
    absl::StatusOr<KeyValue> got = (*store)->Get(Key(k));
    if (!got.ok()) return Skip(state, got.status());
    benchmark::DoNotOptimize(got);
    k = (k + 7) % kKeys;
  }
  state.counters["gets_per_s"] = benchmark::Counter(static_cast<double>(state.iterations()),
                                                    benchmark::Counter::kIsRate);
}

void BM_WatchLatency(benchmark::State& state, Backend backend) {
  absl::StatusOr<Store*> store = StoreFor(backend);
  if (!store.ok()) return Skip(state, store.status());
  absl::StatusOr<std::unique_ptr<Watcher>> watcher = (*store)->Watch("/registry/pods/");
  if (!watcher.ok()) return Skip(state, watcher.status());
  int64_t revision = (*store)->Get(Key(0))->mod_revision;
  std::vector<absl::Duration> latencies;
  std::vector<EventPtr> events;
  for (auto _ : state) {
    const absl::Time written = absl::Now();
    absl::StatusOr<int64_t> updated = (*store)->Update(Key(0), kValue, revision);
    if (!updated.ok()) return Skip(state, updated.status());
    revision = *updated;
    events.clear();
    while (events.empty()) {
      if (!(*watcher)->Wait(absl::Seconds(5))) return Skip(state, absl::DeadlineExceededError("no event"));
      if (absl::Status polled = (*watcher)->Poll(&events); !polled.ok()) return Skip(state, polled);
    }
    latencies.push_back(absl::Now() - written);
  }
  bench::ReportLatencies(state, std::move(latencies), "us");
}

BENCHMARK_CAPTURE(BM_CasUpdates, Memory, kMemory)->Threads(1)->Threads(8)->UseRealTime();
BENCHMARK_CAPTURE(BM_CasUpdates, Etcd1, kEtcd1)->Threads(1)->Threads(8)->UseRealTime();
BENCHMARK_CAPTURE(BM_CasUpdates, Etcd3, kEtcd3)->Threads(1)->Threads(8)->UseRealTime();
BENCHMARK_CAPTURE(BM_Gets, Memory, kMemory)->Threads(1)->Threads(8)->UseRealTime();
BENCHMARK_CAPTURE(BM_Gets, Etcd1, kEtcd1)->Threads(1)->Threads(8)->UseRealTime();
BENCHMARK_CAPTURE(BM_Gets, Etcd3, kEtcd3)->Threads(1)->Threads(8)->UseRealTime();
BENCHMARK_CAPTURE(BM_WatchLatency, Memory, kMemory)->UseRealTime();
BENCHMARK_CAPTURE(BM_WatchLatency, Etcd1, kEtcd1)->UseRealTime();
BENCHMARK_CAPTURE(BM_WatchLatency, Etcd3, kEtcd3)->UseRealTime();

}  // namespace
}  // namespace orch::store
