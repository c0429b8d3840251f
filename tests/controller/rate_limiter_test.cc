#include "orch/controller/rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <latch>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orch/base/clock.h"

namespace orch::controller::testing {
namespace {

using ::testing::Each;
using ::testing::ElementsAre;

constexpr absl::Duration kMs = absl::Milliseconds(1);

// --- ItemExponentialFailureRateLimiter ---------------------------------------------------

TEST(ExponentialFailureRateLimiterTest, DoublesFromBaseUntilTheCap) {
  auto limiter = NewItemExponentialFailureRateLimiter(5 * kMs, absl::Seconds(1000));
  EXPECT_EQ(limiter->When("a"), 5 * kMs);
  EXPECT_EQ(limiter->When("a"), 10 * kMs);
  EXPECT_EQ(limiter->When("a"), 20 * kMs);
  EXPECT_EQ(limiter->When("a"), 40 * kMs);
  EXPECT_EQ(limiter->When("a"), 80 * kMs);
  // Calls 6..18 keep doubling: the 18th is 5ms * 2^17 = 655.36s, still under the cap.
  absl::Duration expected = 80 * kMs;
  for (int call = 6; call <= 18; ++call) {
    expected *= 2;
    EXPECT_EQ(limiter->When("a"), expected) << "call " << call;
  }
  EXPECT_EQ(expected, absl::Milliseconds(655360));
  // The 19th would be 1310.72s: capped.
  EXPECT_EQ(limiter->When("a"), absl::Seconds(1000));
  EXPECT_EQ(limiter->When("a"), absl::Seconds(1000));
  EXPECT_EQ(limiter->NumRequeues("a"), 20);
}

TEST(ExponentialFailureRateLimiterTest, StaysAtTheCapAfterVeryManyFailures) {
  auto limiter = NewItemExponentialFailureRateLimiter(5 * kMs, absl::Seconds(1000));
  std::vector<absl::Duration> delays;
  for (int i = 0; i < 200; ++i) delays.push_back(limiter->When("a"));
  EXPECT_EQ(limiter->NumRequeues("a"), 200);
  // 2^199 would overflow any integer; every delay from the 19th on must be exactly the cap.
  EXPECT_THAT(std::vector<absl::Duration>(delays.begin() + 18, delays.end()),
              Each(absl::Seconds(1000)));
  EXPECT_TRUE(std::is_sorted(delays.begin(), delays.end()));
  for (int i = 0; i < 10000; ++i) limiter->When("a");
  EXPECT_EQ(limiter->When("a"), absl::Seconds(1000));
  EXPECT_EQ(limiter->NumRequeues("a"), 10201);
}

TEST(ExponentialFailureRateLimiterTest, CapsWithoutOverflowNearTheLimitsOfInt64) {
  // A 1ns base against a cap of ~100 years: the doubling passes 2^61ns (~73 years) before
  // reaching the cap, where base * 2^exponent itself is close to overflowing.
  const absl::Duration cap = absl::Hours(24 * 365 * 100);
  auto limiter = NewItemExponentialFailureRateLimiter(absl::Nanoseconds(1), cap);
  absl::Duration previous = absl::ZeroDuration();
  for (int call = 1; call <= 200; ++call) {
    const absl::Duration d = limiter->When("a");
    EXPECT_GE(d, previous) << "call " << call;
    EXPECT_LE(d, cap) << "call " << call;
    if (call <= 62) EXPECT_EQ(d, absl::Nanoseconds(int64_t{1} << (call - 1))) << call;
    if (call >= 63) EXPECT_EQ(d, cap) << "call " << call;
    previous = d;
  }
  // An unbounded cap must not wrap around either: delays never shrink.
  auto unbounded =
      NewItemExponentialFailureRateLimiter(absl::Seconds(1), absl::InfiniteDuration());
  previous = absl::ZeroDuration();
  for (int call = 1; call <= 100; ++call) {
    const absl::Duration d = unbounded->When("a");
    EXPECT_GE(d, previous) << "call " << call;
    previous = d;
  }
  EXPECT_EQ(previous, absl::InfiniteDuration());
}

TEST(ExponentialFailureRateLimiterTest, KeysBackOffIndependently) {
  auto limiter = NewItemExponentialFailureRateLimiter(5 * kMs, absl::Seconds(1000));
  EXPECT_EQ(limiter->When("a"), 5 * kMs);
  EXPECT_EQ(limiter->When("a"), 10 * kMs);
  EXPECT_EQ(limiter->When("a"), 20 * kMs);
  EXPECT_EQ(limiter->When("b"), 5 * kMs);
  EXPECT_EQ(limiter->When("a"), 40 * kMs);
  EXPECT_EQ(limiter->When("b"), 10 * kMs);
  EXPECT_EQ(limiter->NumRequeues("a"), 4);
  EXPECT_EQ(limiter->NumRequeues("b"), 2);
  EXPECT_EQ(limiter->NumRequeues("c"), 0);
}

TEST(ExponentialFailureRateLimiterTest, ForgetStartsTheKeyOver) {
  auto limiter = NewItemExponentialFailureRateLimiter(5 * kMs, absl::Seconds(1000));
  for (int i = 0; i < 5; ++i) limiter->When("a");
  limiter->When("b");
  limiter->When("b");
  limiter->Forget("a");
  EXPECT_EQ(limiter->NumRequeues("a"), 0);
  EXPECT_EQ(limiter->When("a"), 5 * kMs);
  EXPECT_EQ(limiter->When("a"), 10 * kMs);
  // Other keys keep their count; forgetting an unknown key is harmless.
  EXPECT_EQ(limiter->NumRequeues("b"), 2);
  EXPECT_EQ(limiter->When("b"), 20 * kMs);
  limiter->Forget("never-seen");
  EXPECT_EQ(limiter->NumRequeues("never-seen"), 0);
}

TEST(ExponentialFailureRateLimiterTest, NumRequeuesCountsOnlyWhen) {
  auto limiter = NewItemExponentialFailureRateLimiter(5 * kMs, absl::Seconds(1000));
  EXPECT_EQ(limiter->NumRequeues("a"), 0);
  for (int i = 1; i <= 3; ++i) {
    limiter->When("a");
    EXPECT_EQ(limiter->NumRequeues("a"), i);
    EXPECT_EQ(limiter->NumRequeues("a"), i);  // asking does not count
  }
}

TEST(ExponentialFailureRateLimiterTest, ClampsInvalidArguments) {
  // max < base: max is raised to base.
  auto low_cap = NewItemExponentialFailureRateLimiter(10 * kMs, 1 * kMs);
  EXPECT_EQ(low_cap->When("a"), 10 * kMs);
  EXPECT_EQ(low_cap->When("a"), 10 * kMs);
  // base <= 0: never delays, but still counts.
  for (absl::Duration base : {absl::ZeroDuration(), -5 * kMs}) {
    auto zero = NewItemExponentialFailureRateLimiter(base, absl::Seconds(1));
    for (int i = 0; i < 100; ++i) EXPECT_EQ(zero->When("a"), absl::ZeroDuration());
    EXPECT_EQ(zero->NumRequeues("a"), 100);
  }
}

TEST(ExponentialFailureRateLimiterTest, CountsEveryCallFromManyThreads) {
  auto limiter = NewItemExponentialFailureRateLimiter(5 * kMs, absl::Seconds(1000));
  constexpr int kThreads = 4;
  constexpr int kCalls = 50000;
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      const std::string own = "own-" + std::to_string(t);
      for (int i = 0; i < kCalls; ++i) {
        limiter->When("shared");
        limiter->When(own);
        limiter->NumRequeues("shared");
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(limiter->NumRequeues("shared"), kThreads * kCalls);
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(limiter->NumRequeues("own-" + std::to_string(t)), kCalls);
  }
}

// --- BucketRateLimiter -------------------------------------------------------------------

TEST(BucketRateLimiterTest, BurstIsImmediateThenDelaysGrowByOneOverQps) {
  VirtualClock clock;
  auto limiter = NewBucketRateLimiter(10, 5, &clock);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(limiter->When("a"), absl::ZeroDuration()) << i;
  EXPECT_EQ(limiter->When("a"), 100 * kMs);
  EXPECT_EQ(limiter->When("a"), 200 * kMs);
  EXPECT_EQ(limiter->When("a"), 300 * kMs);
  EXPECT_EQ(limiter->When("a"), 400 * kMs);
}

TEST(BucketRateLimiterTest, FractionalRate) {
  VirtualClock clock;
  auto limiter = NewBucketRateLimiter(0.5, 1, &clock);
  EXPECT_EQ(limiter->When("a"), absl::ZeroDuration());
  EXPECT_EQ(limiter->When("a"), absl::Seconds(2));
  EXPECT_EQ(limiter->When("a"), absl::Seconds(4));
}

TEST(BucketRateLimiterTest, RefillsAsTheClockAdvances) {
  VirtualClock clock;
  auto limiter = NewBucketRateLimiter(10, 5, &clock);
  for (int i = 0; i < 5; ++i) limiter->When("a");
  clock.Advance(300 * kMs);  // three tokens back
  EXPECT_EQ(limiter->When("a"), absl::ZeroDuration());
  EXPECT_EQ(limiter->When("a"), absl::ZeroDuration());
  EXPECT_EQ(limiter->When("a"), absl::ZeroDuration());
  EXPECT_EQ(limiter->When("a"), 100 * kMs);
  // Half a token's worth of time leaves half a token owed: 50ms less to wait.
  clock.Advance(50 * kMs);
  EXPECT_EQ(limiter->When("a"), 150 * kMs);
}

TEST(BucketRateLimiterTest, TimeRepaysPromisedTokensFirst) {
  VirtualClock clock;
  auto limiter = NewBucketRateLimiter(10, 5, &clock);
  for (int i = 0; i < 5; ++i) limiter->When("a");
  EXPECT_EQ(limiter->When("a"), 100 * kMs);
  EXPECT_EQ(limiter->When("a"), 200 * kMs);  // balance now -2
  clock.Advance(100 * kMs);                   // -1
  EXPECT_EQ(limiter->When("a"), 200 * kMs);  // -2 again
  clock.Advance(200 * kMs);                   // 0
  EXPECT_EQ(limiter->When("a"), 100 * kMs);
}

TEST(BucketRateLimiterTest, NeverBanksMoreThanBurst) {
  VirtualClock clock;
  auto limiter = NewBucketRateLimiter(10, 5, &clock);
  clock.Advance(absl::Hours(1));  // 36000 tokens' worth of time, but only 5 fit
  for (int i = 0; i < 5; ++i) EXPECT_EQ(limiter->When("a"), absl::ZeroDuration()) << i;
  EXPECT_EQ(limiter->When("a"), 100 * kMs);
  // The same after a drain and a long wait.
  clock.Advance(absl::Hours(1));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(limiter->When("a"), absl::ZeroDuration()) << i;
  EXPECT_EQ(limiter->When("a"), 100 * kMs);
}

TEST(BucketRateLimiterTest, IsOneBucketForAllKeys) {
  VirtualClock clock;
  auto limiter = NewBucketRateLimiter(10, 2, &clock);
  EXPECT_EQ(limiter->When("a"), absl::ZeroDuration());
  EXPECT_EQ(limiter->When("b"), absl::ZeroDuration());
  EXPECT_EQ(limiter->When("c"), 100 * kMs);
  limiter->Forget("a");  // gives nothing back
  limiter->Forget("c");
  EXPECT_EQ(limiter->When("a"), 200 * kMs);
  EXPECT_EQ(limiter->NumRequeues("a"), 0);
  EXPECT_EQ(limiter->NumRequeues("c"), 0);
}

TEST(BucketRateLimiterTest, ClampsInvalidArguments) {
  VirtualClock clock;
  // burst < 1 acts as 1.
  for (int burst : {0, -3}) {
    auto limiter = NewBucketRateLimiter(10, burst, &clock);
    EXPECT_EQ(limiter->When("a"), absl::ZeroDuration());
    EXPECT_EQ(limiter->When("a"), 100 * kMs);
  }
  // qps <= 0 or NaN: the burst, then (practically) nothing: finite, non-negative, years.
  for (double qps : {0.0, -1.0, std::numeric_limits<double>::quiet_NaN()}) {
    auto limiter = NewBucketRateLimiter(qps, 2, &clock);
    EXPECT_EQ(limiter->When("a"), absl::ZeroDuration());
    EXPECT_EQ(limiter->When("a"), absl::ZeroDuration());
    const absl::Duration d = limiter->When("a");
    EXPECT_GT(d, absl::Hours(24 * 365)) << qps;
    EXPECT_LT(d, absl::InfiniteDuration()) << qps;
  }
  // A null clock falls back to the real one.
  auto real = NewBucketRateLimiter(1, 1, nullptr);
  EXPECT_EQ(real->When("a"), absl::ZeroDuration());
  const absl::Duration d = real->When("a");
  EXPECT_GT(d, absl::ZeroDuration());
  EXPECT_LE(d, absl::Seconds(1));
}

TEST(BucketRateLimiterTest, InfiniteRateNeverDelays) {
  VirtualClock clock;
  auto limiter = NewBucketRateLimiter(std::numeric_limits<double>::infinity(), 1, &clock);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(limiter->When("a"), absl::ZeroDuration());
}

TEST(BucketRateLimiterTest, HandsOutEachSlotOnceAcrossThreads) {
  VirtualClock clock;  // frozen: every call competes for the same tokens
  auto limiter = NewBucketRateLimiter(10, 3, &clock);
  constexpr int kThreads = 4;
  constexpr int kCalls = 50000;
  std::vector<std::vector<absl::Duration>> seen(kThreads);
  std::latch start(kThreads);  // all threads call at once, not one after another
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < kCalls; ++i) seen[t].push_back(limiter->When("k"));
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::vector<absl::Duration> all;
  for (const auto& s : seen) all.insert(all.end(), s.begin(), s.end());
  std::sort(all.begin(), all.end());
  std::vector<absl::Duration> expected(3, absl::ZeroDuration());
  for (int i = 1; i <= kThreads * kCalls - 3; ++i) expected.push_back(i * 100 * kMs);
  EXPECT_EQ(all, expected);
}

// --- MaxOfRateLimiter --------------------------------------------------------------------

// Answers with fixed figures and records what it was asked.
struct Calls {
  int when = 0;
  int forget = 0;
  std::vector<std::string> forgotten;
};

class FixedRateLimiter final : public RateLimiter {
 public:
  FixedRateLimiter(absl::Duration delay, int requeues, Calls* calls)
      : delay_(delay), requeues_(requeues), calls_(calls) {}
  absl::Duration When(std::string_view) override {
    ++calls_->when;
    return delay_;
  }
  void Forget(std::string_view key) override {
    ++calls_->forget;
    calls_->forgotten.emplace_back(key);
  }
  int NumRequeues(std::string_view) const override { return requeues_; }

 private:
  const absl::Duration delay_;
  const int requeues_;
  Calls* const calls_;
};

std::unique_ptr<RateLimiter> MaxOf(std::vector<std::pair<absl::Duration, int>> figures,
                                   std::vector<Calls>& calls) {
  calls.assign(figures.size(), Calls{});
  std::vector<std::unique_ptr<RateLimiter>> limiters;
  for (size_t i = 0; i < figures.size(); ++i) {
    limiters.push_back(
        std::make_unique<FixedRateLimiter>(figures[i].first, figures[i].second, &calls[i]));
  }
  return NewMaxOfRateLimiter(std::move(limiters));
}

TEST(MaxOfRateLimiterTest, ReturnsTheLongestDelayWhereverItIs) {
  std::vector<Calls> calls;
  auto longest_first = MaxOf({{30 * kMs, 0}, {10 * kMs, 0}, {20 * kMs, 0}}, calls);
  EXPECT_EQ(longest_first->When("a"), 30 * kMs);
  auto longest_last = MaxOf({{10 * kMs, 0}, {20 * kMs, 0}, {30 * kMs, 0}}, calls);
  EXPECT_EQ(longest_last->When("a"), 30 * kMs);
  auto longest_middle = MaxOf({{10 * kMs, 0}, {30 * kMs, 0}, {20 * kMs, 0}}, calls);
  EXPECT_EQ(longest_middle->When("a"), 30 * kMs);
}

TEST(MaxOfRateLimiterTest, AsksEveryLimiterSoEachCountsTheFailure) {
  std::vector<Calls> calls;
  auto limiter = MaxOf({{30 * kMs, 0}, {10 * kMs, 0}}, calls);
  limiter->When("a");
  limiter->When("a");
  EXPECT_EQ(calls[0].when, 2);
  EXPECT_EQ(calls[1].when, 2);
}

TEST(MaxOfRateLimiterTest, NumRequeuesIsTheLargest) {
  std::vector<Calls> calls;
  EXPECT_EQ(MaxOf({{kMs, 2}, {kMs, 7}, {kMs, 3}}, calls)->NumRequeues("a"), 7);
  EXPECT_EQ(MaxOf({{kMs, 7}, {kMs, 2}}, calls)->NumRequeues("a"), 7);
}

TEST(MaxOfRateLimiterTest, ForgetReachesEveryLimiter) {
  std::vector<Calls> calls;
  auto limiter = MaxOf({{kMs, 0}, {kMs, 0}, {kMs, 0}}, calls);
  limiter->Forget("a");
  for (const Calls& c : calls) EXPECT_THAT(c.forgotten, ElementsAre("a"));
}

TEST(MaxOfRateLimiterTest, CombinesRealLimiters) {
  VirtualClock clock;
  std::vector<std::unique_ptr<RateLimiter>> limiters;
  limiters.push_back(NewItemExponentialFailureRateLimiter(kMs, absl::Seconds(10)));
  limiters.push_back(NewBucketRateLimiter(1, 1, &clock));
  auto limiter = NewMaxOfRateLimiter(std::move(limiters));
  EXPECT_EQ(limiter->When("a"), kMs);            // exponential 1ms, bucket 0
  EXPECT_EQ(limiter->When("a"), absl::Seconds(1));  // exponential 2ms, bucket 1s
  EXPECT_EQ(limiter->NumRequeues("a"), 2);          // the exponential's count, not 0
  limiter->Forget("a");
  EXPECT_EQ(limiter->NumRequeues("a"), 0);
  clock.Advance(absl::Seconds(10));
  EXPECT_EQ(limiter->When("a"), kMs);  // the exponential started over
}

TEST(MaxOfRateLimiterTest, EmptyOrNullLimitersNeverDelay) {
  auto empty = NewMaxOfRateLimiter({});
  EXPECT_EQ(empty->When("a"), absl::ZeroDuration());
  EXPECT_EQ(empty->NumRequeues("a"), 0);
  empty->Forget("a");

  std::vector<std::unique_ptr<RateLimiter>> limiters;
  limiters.push_back(nullptr);
  limiters.push_back(NewItemExponentialFailureRateLimiter(kMs, absl::Seconds(1)));
  limiters.push_back(nullptr);
  auto with_nulls = NewMaxOfRateLimiter(std::move(limiters));
  EXPECT_EQ(with_nulls->When("a"), kMs);
  EXPECT_EQ(with_nulls->When("a"), 2 * kMs);
  EXPECT_EQ(with_nulls->NumRequeues("a"), 2);
  with_nulls->Forget("a");
  EXPECT_EQ(with_nulls->NumRequeues("a"), 0);
}

// --- DefaultControllerRateLimiter --------------------------------------------------------

TEST(DefaultControllerRateLimiterTest, OneFailingKeyBacksOffExponentially) {
  VirtualClock clock;
  auto limiter = DefaultControllerRateLimiter(&clock);
  EXPECT_EQ(limiter->When("a"), 5 * kMs);
  EXPECT_EQ(limiter->When("a"), 10 * kMs);
  EXPECT_EQ(limiter->When("a"), 20 * kMs);
  EXPECT_EQ(limiter->When("a"), 40 * kMs);
  EXPECT_EQ(limiter->NumRequeues("a"), 4);
  limiter->Forget("a");
  EXPECT_EQ(limiter->NumRequeues("a"), 0);
  EXPECT_EQ(limiter->When("a"), 5 * kMs);
}

TEST(DefaultControllerRateLimiterTest, ReachesTheThousandSecondCap) {
  VirtualClock clock;
  auto limiter = DefaultControllerRateLimiter(&clock);
  absl::Duration last;
  for (int call = 1; call <= 200; ++call) {
    last = limiter->When("a");
    if (call == 18) EXPECT_EQ(last, absl::Milliseconds(655360));
    if (call >= 19) EXPECT_EQ(last, absl::Seconds(1000)) << "call " << call;
    clock.Advance(last);  // the key waits its turn, so the bucket keeps up
  }
  EXPECT_EQ(limiter->NumRequeues("a"), 200);
}

TEST(DefaultControllerRateLimiterTest, AfterAHundredKeysTheBucketSpreadsThemOut) {
  VirtualClock clock;
  auto limiter = DefaultControllerRateLimiter(&clock);
  // The first 100 failures in one instant: the bucket lets them through, each key's own
  // first backoff is 5ms.
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(limiter->When("key-" + std::to_string(i)), 5 * kMs) << i;
  }
  // Then 10 per second: 100ms, 200ms, 300ms, ...
  EXPECT_EQ(limiter->When("key-100"), 100 * kMs);
  EXPECT_EQ(limiter->When("key-101"), 200 * kMs);
  EXPECT_EQ(limiter->When("key-102"), 300 * kMs);
  // A key already failing: its exponential 10ms is shorter than the bucket's 400ms.
  EXPECT_EQ(limiter->When("key-0"), 400 * kMs);
  EXPECT_EQ(limiter->NumRequeues("key-0"), 2);

  // Ten seconds on, the bucket is full again (and not fuller).
  clock.Advance(absl::Seconds(10) + 400 * kMs);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(limiter->When("later-" + std::to_string(i)), 5 * kMs) << i;
  }
  EXPECT_EQ(limiter->When("later-100"), 100 * kMs);
}

}  // namespace
}  // namespace orch::controller::testing
