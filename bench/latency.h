// Latency percentiles as Google Benchmark counters, computed one way for every benchmark
// that reports them: nearest rank over all the samples.
#ifndef ORCH_BENCH_LATENCY_H_
#define ORCH_BENCH_LATENCY_H_

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "benchmark/benchmark.h"

namespace orch::bench {

// The q-quantile (0 < q <= 1) of sorted, non-empty `sorted`, by nearest rank.
inline absl::Duration Quantile(const std::vector<absl::Duration>& sorted, double q) {
  const size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

// Sets the counters p50_<unit>, p99_<unit> and max_<unit> ("ms" or "us") from `latencies`;
// none when there are none.
inline void ReportLatencies(benchmark::State& state, std::vector<absl::Duration> latencies,
                            const std::string& unit = "ms") {
  if (latencies.empty()) return;
  std::sort(latencies.begin(), latencies.end());
  auto in_unit = [&](absl::Duration d) {
    return unit == "us" ? absl::ToDoubleMicroseconds(d) : absl::ToDoubleMilliseconds(d);
  };
  state.counters["p50_" + unit] = in_unit(Quantile(latencies, 0.50));
  state.counters["p99_" + unit] = in_unit(Quantile(latencies, 0.99));
  state.counters["max_" + unit] = in_unit(latencies.back());
}

}  // namespace orch::bench

#endif  // ORCH_BENCH_LATENCY_H_
