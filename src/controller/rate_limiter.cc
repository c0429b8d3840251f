#include "orch/controller/rate_limiter.h"

#include "controller/token_bucket.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>

#include "orch/base/mutex.h"
#include "orch/base/string_map.h"

namespace orch::controller {
namespace {

class ItemExponentialFailureRateLimiter final : public RateLimiter {
 public:
  ItemExponentialFailureRateLimiter(absl::Duration base, absl::Duration max)
      : base_(std::max(base, absl::ZeroDuration())), max_(std::max(max, base_)) {}

  absl::Duration When(std::string_view key) override {
    int failures;
    {
      MutexLock lock(&mu_);
      auto it = failures_.find(key);
      if (it == failures_.end()) it = failures_.emplace(std::string(key), 0).first;
      failures = it->second;
      if (it->second < std::numeric_limits<int>::max()) ++it->second;
    }
    return Delay(failures);
  }

  void Forget(std::string_view key) override {
    MutexLock lock(&mu_);
    if (auto it = failures_.find(key); it != failures_.end()) failures_.erase(it);
  }

  int NumRequeues(std::string_view key) const override {
    ReaderMutexLock lock(&mu_);
    auto it = failures_.find(key);
    return it == failures_.end() ? 0 : it->second;
  }

 private:
  // base * 2^exponent, or max_ once that would exceed it. Checked against max_ / base_
  // before multiplying, so no exponent can overflow.
  absl::Duration Delay(int exponent) const {
    if (base_ == absl::ZeroDuration()) return absl::ZeroDuration();
    constexpr int kMaxShift = 62;  // 2^62 still fits an int64_t
    if (exponent > kMaxShift) return max_;
    const int64_t factor = int64_t{1} << exponent;
    if (factor > max_ / base_) return max_;
    return std::min(base_ * factor, max_);
  }

  const absl::Duration base_;
  const absl::Duration max_;
  mutable Mutex mu_;
  StringMap<int> failures_ ABSL_GUARDED_BY(mu_);
};

// A token bucket as golang.org/x/time/rate keeps it: the balance brought up to date (and
// capped at the burst) on each reservation. Reservations are never returned,
// so the balance may go below zero; -n tokens is n/qps of waiting already promised.
class BucketRateLimiter final : public RateLimiter {
 public:
  BucketRateLimiter(double qps, int burst, Clock* clock)
      : qps_(ValidQps(qps)),
        burst_(std::max(burst, 1)),
        clock_(clock != nullptr ? clock : &Clock::Real()),
        balance_{static_cast<double>(burst_), clock_->Now()} {}

  absl::Duration When(std::string_view) override {
    if (std::isinf(qps_)) return absl::ZeroDuration();
    MutexLock lock(&mu_);
    // Read under the lock so reservations see time in order and no interval is credited
    // twice (x/time/rate reads it before locking).
    balance_.Refill(clock_->Now(), qps_, burst_);
    balance_.tokens -= 1;
    return balance_.tokens >= 0 ? absl::ZeroDuration() : DurationFromTokens(-balance_.tokens);
  }

  void Forget(std::string_view) override {}
  int NumRequeues(std::string_view) const override { return 0; }

 private:
  // About one token in 30 years: as near to "no more tokens" as a positive rate gets.
  static constexpr double kMinQps = 1e-9;

  static double ValidQps(double qps) { return qps > kMinQps ? qps : kMinQps; }  // NaN too

  absl::Duration DurationFromTokens(double tokens) const {
    const double nanos = std::round(tokens / qps_ * 1e9);
    if (!(nanos < 9.2e18)) return absl::InfiniteDuration();  // beyond int64 nanoseconds
    return absl::Nanoseconds(static_cast<int64_t>(nanos));
  }

  const double qps_;
  const int burst_;
  Clock* const clock_;
  Mutex mu_;
  internal::TokenBalance balance_ ABSL_GUARDED_BY(mu_);
};

// Holds no state of its own beyond the fixed list; each limiter locks itself.
class MaxOfRateLimiter final : public RateLimiter {
 public:
  explicit MaxOfRateLimiter(std::vector<std::unique_ptr<RateLimiter>> limiters)
      : limiters_(std::move(limiters)) {
    std::erase(limiters_, nullptr);
  }

  absl::Duration When(std::string_view key) override {
    absl::Duration longest = absl::ZeroDuration();
    for (const auto& limiter : limiters_) longest = std::max(longest, limiter->When(key));
    return longest;
  }

  void Forget(std::string_view key) override {
    for (const auto& limiter : limiters_) limiter->Forget(key);
  }

  int NumRequeues(std::string_view key) const override {
    int most = 0;
    for (const auto& limiter : limiters_) most = std::max(most, limiter->NumRequeues(key));
    return most;
  }

 private:
  std::vector<std::unique_ptr<RateLimiter>> limiters_;
};

}  // namespace

std::unique_ptr<RateLimiter> NewItemExponentialFailureRateLimiter(absl::Duration base,
                                                                  absl::Duration max) {
  return std::make_unique<ItemExponentialFailureRateLimiter>(base, max);
}

std::unique_ptr<RateLimiter> NewBucketRateLimiter(double qps, int burst, Clock* clock) {
  return std::make_unique<BucketRateLimiter>(qps, burst, clock);
}

std::unique_ptr<RateLimiter> NewMaxOfRateLimiter(
    std::vector<std::unique_ptr<RateLimiter>> limiters) {
  return std::make_unique<MaxOfRateLimiter>(std::move(limiters));
}

std::unique_ptr<RateLimiter> DefaultControllerRateLimiter(Clock* clock) {
  std::vector<std::unique_ptr<RateLimiter>> limiters;
  limiters.push_back(
      NewItemExponentialFailureRateLimiter(absl::Milliseconds(5), absl::Seconds(1000)));
  limiters.push_back(NewBucketRateLimiter(10, 100, clock));
  return NewMaxOfRateLimiter(std::move(limiters));
}

}  // namespace orch::controller
