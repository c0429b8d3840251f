// orch-sim: runs scenario files on a simulated cluster in virtual time.
//
//   orch-sim run SCENARIO.yaml [--seed N] [--report FILE|-] [--csv DIR]
//
// Prints one line per expectation, one per traffic stream (its requests sent, succeeded and
// failed) and a verdict; --report writes the JSON report to FILE ("-": to stdout, instead
// of the lines); --csv writes DIR/ready.csv, the ready pods of each Deployment over time.
// On a terminal, progress (virtual time reached, pods running) is shown on stderr as the
// run goes; on a pipe, nothing is.
//
// Exit codes: 0 every expectation held, 1 one failed (or an action failed), 2 a bad
// scenario or bad arguments (the error names the file and the field).
// See docs/guides/simulator.md and docs/reference/scenario.md.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "base/huge_pages.h"
#include "fmt/format.h"
#include "orch/sim/scenario.h"
#include "orch/sim/simulation.h"

namespace {

constexpr int kOk = 0;
constexpr int kFailed = 1;
constexpr int kUsage = 2;

constexpr char kUsageText[] =
    "usage: orch-sim run SCENARIO.yaml [--seed N] [--report FILE|-] [--csv DIR]\n";

struct Flags {
  std::string scenario;
  std::optional<uint64_t> seed;
  std::string report;
  std::string csv;
};

bool ParseFlags(const std::vector<std::string>& args, Flags& flags, std::string& error) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    auto value = [&](const char* name) -> const std::string* {
      if (i + 1 >= args.size()) {
        error = fmt::format("flag {} needs a value", name);
        return nullptr;
      }
      return &args[++i];
    };
    if (arg == "--seed") {
      const std::string* v = value("--seed");
      uint64_t seed = 0;
      if (v == nullptr) return false;
      if (!absl::SimpleAtoi(*v, &seed)) {
        error = fmt::format("--seed: \"{}\" is not a non-negative integer", *v);
        return false;
      }
      flags.seed = seed;
    } else if (arg == "--report") {
      const std::string* v = value("--report");
      if (v == nullptr) return false;
      flags.report = *v;
    } else if (arg == "--csv") {
      const std::string* v = value("--csv");
      if (v == nullptr) return false;
      flags.csv = *v;
    } else if (!arg.empty() && arg[0] == '-') {
      error = fmt::format("unknown flag {}", arg);
      return false;
    } else if (flags.scenario.empty()) {
      flags.scenario = arg;
    } else {
      error = fmt::format("one scenario at a time (got {} and {})", flags.scenario, arg);
      return false;
    }
  }
  if (flags.scenario.empty()) {
    error = "a scenario file is required";
    return false;
  }
  return true;
}

bool WriteFile(const std::string& path, const std::string& text, std::string& error) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) {
    error = fmt::format("cannot write {}", path);
    return false;
  }
  return true;
}

int Run(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    (args.empty() ? std::cerr : std::cout) << kUsageText;
    return args.empty() ? kUsage : kOk;
  }
  if (args[0] != "run") {
    std::cerr << "error: unknown command \"" << args[0] << "\"\n" << kUsageText;
    return kUsage;
  }
  Flags flags;
  std::string error;
  if (!ParseFlags(std::vector<std::string>(args.begin() + 1, args.end()), flags, error)) {
    std::cerr << "error: " << error << "\n" << kUsageText;
    return kUsage;
  }
  std::ifstream in(flags.scenario, std::ios::binary);
  if (!in) {
    std::cerr << "error: " << flags.scenario << ": cannot read the file\n";
    return kUsage;
  }
  std::stringstream text;
  text << in.rdbuf();
  const std::string base_dir = std::filesystem::path(flags.scenario).parent_path().string();
  absl::StatusOr<orch::sim::Scenario> scenario =
      orch::sim::ParseScenario(text.str(), flags.scenario, base_dir);
  if (!scenario.ok()) {
    std::cerr << "error: " << scenario.status().message() << "\n";
    return kUsage;
  }

  orch::sim::RunOptions options;
  options.seed = flags.seed;
  const bool terminal = ::isatty(STDERR_FILENO) == 1;
  if (terminal) {
    options.progress = [](const orch::sim::Progress& p) {
      std::fprintf(stderr, "\r  %s / %s virtual, %lld of %lld pods running   ",
                   absl::FormatDuration(p.virtual_time).c_str(),
                   absl::FormatDuration(p.run_until).c_str(),
                   static_cast<long long>(p.pods_running), static_cast<long long>(p.pods));
      std::fflush(stderr);
    };
  }
  absl::StatusOr<orch::sim::Report> report = orch::sim::RunScenario(*scenario, options);
  if (terminal) std::fprintf(stderr, "\n");
  if (!report.ok()) {
    std::cerr << "error: " << report.status().message() << "\n";
    return kUsage;
  }

  if (flags.report == "-") {
    std::cout << report->ToJson();
  } else {
    for (const orch::sim::ExpectationResult& e : report->expectations) {
      std::cout << (e.ok ? "ok     " : "FAILED ") << e.path << " " << e.text << ": " << e.observed
                << "\n";
    }
    for (const auto& [name, t] : report->traffic) {
      std::cout << "traffic " << name << " to " << t.service << ": " << t.requests.Summary()
                << "\n";
    }
    for (const orch::sim::ActionResult& a : report->actions) {
      if (!a.ok) std::cout << "FAILED " << a.path << " " << a.action << ": " << a.error << "\n";
    }
    std::cout << fmt::format("{}: {} in {:.2f} s of wall time (seed {})\n",
                             report->ok() ? "PASS" : "FAIL",
                             absl::FormatDuration(absl::Seconds(report->virtual_seconds)),
                             report->wall_seconds, report->seed);
  }
  if (!flags.report.empty() && flags.report != "-" &&
      !WriteFile(flags.report, report->ToJson(), error)) {
    std::cerr << "error: " << error << "\n";
    return kFailed;
  }
  if (!flags.csv.empty()) {
    std::error_code made;
    std::filesystem::create_directories(flags.csv, made);
    if (made || !WriteFile(flags.csv + "/ready.csv", report->SeriesCsv(), error)) {
      std::cerr << "error: " << (made ? fmt::format("cannot make {}: {}", flags.csv, made.message()) : error)
                << "\n";
      return kFailed;
    }
  }
  return report->ok() ? kOk : kFailed;
}

}  // namespace

int main(int argc, char** argv) {
  orch::internal::ReexecWithHugePageHeap();  // a large scenario touches gigabytes
  return Run(std::vector<std::string>(argv + 1, argv + argc));
}
