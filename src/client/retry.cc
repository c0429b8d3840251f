#include "orch/client/retry.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "absl/time/clock.h"

namespace orch::client {

namespace {

class RealSleeper final : public Sleeper {
 public:
  void Sleep(absl::Duration duration) override { absl::SleepFor(duration); }
};

class NoSleeper final : public Sleeper {
 public:
  void Sleep(absl::Duration) override {}
};

// Jitter only spreads out competing writers' waits; it never changes what a retry loop
// computes, so it may come from a non-deterministic source. (Not absl::BitGen: its shared
// seed pool is invisible to ThreadSanitizer in Debian's build and reads as a race.)
double JitterUnit() {
  thread_local std::minstd_rand gen{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(gen);
}

}  // namespace

absl::Duration Backoff::Delay(int attempt) const {
  const double scale = std::pow(std::max(factor, 0.0), std::max(attempt, 0));
  const absl::Duration delay = duration * scale;
  return std::min(delay, cap);
}

absl::Duration Backoff::DelayWithJitter(int attempt, double unit) const {
  const absl::Duration base = Delay(attempt);
  if (jitter <= 0) return base;
  return base + base * (jitter * unit);
}

Sleeper& Sleeper::Real() {
  static RealSleeper* const sleeper = new RealSleeper();
  return *sleeper;
}

Sleeper& Sleeper::None() {
  static NoSleeper* const sleeper = new NoSleeper();
  return *sleeper;
}

absl::Status RetryOnError(const Backoff& backoff,
                          absl::FunctionRef<bool(const absl::Status&)> retriable,
                          absl::FunctionRef<absl::Status()> fn, Sleeper& sleeper) {
  const int steps = std::max(backoff.steps, 1);
  absl::Status status;
  for (int attempt = 0; attempt < steps; ++attempt) {
    if (attempt > 0) sleeper.Sleep(backoff.DelayWithJitter(attempt - 1, JitterUnit()));
    status = fn();
    if (status.ok() || !retriable(status)) return status;
  }
  return status;
}

absl::Status RetryOnConflict(const Backoff& backoff, absl::FunctionRef<absl::Status()> fn,
                             Sleeper& sleeper) {
  return RetryOnError(
      backoff, [](const absl::Status& s) { return s.code() == absl::StatusCode::kAborted; }, fn,
      sleeper);
}

}  // namespace orch::client
