// Profiles only the part of a benchmark that is measured. With ORCH_BENCH_PERF_FIFO set to
// the control fifo of a `perf record` started disabled, a PerfWindow enables the profiler
// while it lives:
//
//   mkfifo /tmp/perf.ctl
//   ORCH_BENCH_PERF_FIFO=/tmp/perf.ctl \
//     perf record -D -1 --control=fifo:/tmp/perf.ctl -g build/bench/scheduler_bench ...
//
// Without the variable it does nothing.
#ifndef ORCH_BENCH_PERF_WINDOW_H_
#define ORCH_BENCH_PERF_WINDOW_H_

#include <cstdio>
#include <cstdlib>

namespace orch::bench {

class PerfWindow {
 public:
  PerfWindow() { Send("enable\n"); }
  ~PerfWindow() { Send("disable\n"); }
  PerfWindow(const PerfWindow&) = delete;
  PerfWindow& operator=(const PerfWindow&) = delete;

 private:
  static void Send(const char* command) {
    const char* path = std::getenv("ORCH_BENCH_PERF_FIFO");
    if (path == nullptr || *path == '\0') return;
    if (std::FILE* fifo = std::fopen(path, "w")) {
      std::fputs(command, fifo);
      std::fclose(fifo);
    }
  }
};

}  // namespace orch::bench

#endif  // ORCH_BENCH_PERF_WINDOW_H_
