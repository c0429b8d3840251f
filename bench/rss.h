// Memory figures of the benchmark process, from /proc/self (Linux).
#ifndef ORCH_BENCH_RSS_H_
#define ORCH_BENCH_RSS_H_

#include <fstream>
#include <string>
#include <string_view>

namespace orch::bench {

// A field of /proc/self/status ("VmHWM", "VmRSS") in MiB; 0 when unreadable.
inline double ProcStatusMib(std::string_view field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.size() > field.size() && line.compare(0, field.size(), field) == 0 &&
        line[field.size()] == ':') {
      return static_cast<double>(std::stoll(line.substr(field.size() + 1))) / 1024.0;
    }
  }
  return 0;
}

// Makes VmHWM start again from the current RSS (Linux >= 4.0), so each iteration reports
// its own peak rather than an earlier benchmark's.
inline void ResetPeakRss() { std::ofstream("/proc/self/clear_refs") << "5"; }

}  // namespace orch::bench

#endif  // ORCH_BENCH_RSS_H_
