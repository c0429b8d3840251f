// Appends/s through the write-ahead log behind a durable MemoryStore (src/store/wal.h),
// with 1, 4, 16 and 64 concurrent writers appending ~1 KB records.
//
//   WalAppend/durable  each Append returns once its record is fdatasync'ed; concurrent
//                      writers share syncs (group commit). What a durable store can do.
//   WalAppend/nosync   the same without any fsync: the cost of the log itself.
//
// items_per_second is the total over all writers. The log lives in a fresh temporary
// directory under $ORCH_BENCH_DIR (default /tmp) per run, on that file system's disk.
// Run a Release build; compare medians: --benchmark_repetitions is set to 5 below.
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "benchmark/benchmark.h"

#include "store/wal.h"

namespace orch::store::internal {
namespace {

constexpr size_t kRecordBytes = 1024;

std::unique_ptr<Wal> g_wal;
std::string g_dir;

WalStats g_stats_at_start;

void OpenWal(bool sync, bool gather = true) {
  const char* base = ::getenv("ORCH_BENCH_DIR");
  std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/orch-wal-bench-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) std::abort();
  g_dir = pattern;
  absl::StatusOr<std::unique_ptr<Wal>> wal = Wal::Open({.dir = g_dir, .sync = sync, .gather_group = gather});
  if (!wal.ok()) std::abort();
  g_wal = std::move(*wal);
}

void SetUpDurable(const benchmark::State&) { OpenWal(/*sync=*/true); }
void SetUpNoSync(const benchmark::State&) { OpenWal(/*sync=*/false); }
void SetUpDurableNoGather(const benchmark::State&) { OpenWal(/*sync=*/true, /*gather=*/false); }

void TearDown(const benchmark::State&) {
  g_wal.reset();
  std::filesystem::remove_all(g_dir);
}

void BM_WalAppend(benchmark::State& state) {
  const std::string record(kRecordBytes, static_cast<char>('a' + state.thread_index() % 26));
  if (state.thread_index() == 0) g_stats_at_start = g_wal->stats();
  for (auto _ : state) {
    absl::StatusOr<Lsn> lsn = g_wal->Append(record);
    if (!lsn.ok()) {
      state.SkipWithError(std::string(lsn.status().message()).c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kRecordBytes));
  if (state.thread_index() == 0) {
    // Thread 0 reports for all: its loop ends after the others' (a barrier).
    const WalStats stats = g_wal->stats();
    const double groups = static_cast<double>(stats.groups - g_stats_at_start.groups);
    const double records = static_cast<double>(stats.records - g_stats_at_start.records);
    // Records per group commit (per fdatasync when durable): the batching achieved.
    state.counters["records_per_group"] = groups > 0 ? records / groups : 0;
    // Group commits per second (wall time): the disk's sync rate under this load.
    state.counters["groups_per_second"] =
        benchmark::Counter(groups, benchmark::Counter::kIsRate);
  }
}

void Configure(benchmark::internal::Benchmark* b) {
  b->Threads(1)->Threads(4)->Threads(16)->Threads(64)->UseRealTime()->MinTime(0.5)
      ->Repetitions(5)->ReportAggregatesOnly(true)->Teardown(TearDown);
}

BENCHMARK(BM_WalAppend)->Name("WalAppend/durable")->Setup(SetUpDurable)->Apply(Configure);
BENCHMARK(BM_WalAppend)->Name("WalAppend/nosync")->Setup(SetUpNoSync)->Apply(Configure);
// The same as durable, without WalOptions::gather_group: what gathering buys.
BENCHMARK(BM_WalAppend)
    ->Name("WalAppend/durable_nogather")
    ->Setup(SetUpDurableNoGather)
    ->Apply(Configure);

}  // namespace
}  // namespace orch::store::internal
