#include "orch/base/executor.h"

#include <atomic>
#include <string>
#include <vector>

#include "orch/base/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace orch {
namespace {

using ::testing::ElementsAre;

TEST(VirtualExecutor, RunsPostedTasksInOrderWithoutMovingTime) {
  VirtualExecutor ex;
  const absl::Time start = ex.clock().Now();
  std::vector<int> order;
  ex.Post([&] { order.push_back(1); });
  ex.Post([&] {
    order.push_back(2);
    ex.Post([&] { order.push_back(4); });  // posted from a task: runs in the same call
  });
  ex.Post([&] { order.push_back(3); });
  EXPECT_EQ(ex.RunUntilIdle(), 4u);
  EXPECT_THAT(order, ElementsAre(1, 2, 3, 4));
  EXPECT_EQ(ex.clock().Now(), start);
  EXPECT_TRUE(ex.Idle());
}

TEST(VirtualExecutor, RunReadyStopsAfterItsShareAndTimersDueByThenJoinIn) {
  VirtualExecutor ex;
  std::vector<int> order;
  for (int i = 1; i <= 3; ++i) ex.Post([&order, i] { order.push_back(i); });
  ex.PostAfter(absl::Seconds(1), [&] { order.push_back(10); });
  EXPECT_EQ(ex.RunReady(2), 2u);
  EXPECT_THAT(order, ElementsAre(1, 2));
  // The host moves the clock itself: the timer now due runs after the task already ready.
  ex.virtual_clock().Advance(absl::Seconds(1));
  EXPECT_EQ(ex.RunReady(5), 2u);
  EXPECT_THAT(order, ElementsAre(1, 2, 3, 10));
  EXPECT_EQ(ex.RunReady(5), 0u);
  EXPECT_TRUE(ex.Idle());
}

TEST(VirtualExecutor, ADelayWithAFractionOfANanosecondFiresOnTheNextWholeOne) {
  VirtualExecutor executor;
  const absl::Time start = executor.clock().Now();
  absl::Time fired;
  executor.PostAfter(absl::Nanoseconds(10) * 0.33, [&] { fired = executor.clock().Now(); });
  executor.AdvanceBy(absl::Seconds(1));  // before the fix: looped forever
  EXPECT_EQ(fired - start, absl::Nanoseconds(4));
}

TEST(VirtualExecutor, TimersFireAtTheirDueTimeInDueThenPostingOrder) {
  VirtualExecutor ex;
  const absl::Time start = ex.clock().Now();
  std::vector<std::pair<std::string, absl::Duration>> fired;
  auto record = [&](std::string name) {
    return [&fired, &ex, start, name] { fired.emplace_back(name, ex.clock().Now() - start); };
  };
  ex.PostAfter(absl::Seconds(5), record("b"));
  ex.PostAfter(absl::Seconds(2), record("a"));
  ex.PostAfter(absl::Seconds(5), record("c"));  // same instant as b: after b
  ex.PostAfter(absl::Seconds(9), record("late"));

  ex.AdvanceBy(absl::Seconds(5));
  using P = std::pair<std::string, absl::Duration>;
  EXPECT_THAT(fired, ElementsAre(P{"a", absl::Seconds(2)}, P{"b", absl::Seconds(5)},
                                 P{"c", absl::Seconds(5)}));
  EXPECT_EQ(ex.clock().Now() - start, absl::Seconds(5));
  EXPECT_EQ(ex.NextTimerAt() - start, absl::Seconds(9));
}

TEST(VirtualExecutor, TimerPostedByATimerFiresWithinTheSameAdvance) {
  VirtualExecutor ex;
  const absl::Time start = ex.clock().Now();
  std::vector<absl::Duration> ticks;
  std::function<void()> tick = [&] {
    ticks.push_back(ex.clock().Now() - start);
    if (ticks.size() < 3) ex.PostAfter(absl::Seconds(10), [&] { tick(); });
  };
  ex.PostAfter(absl::Seconds(10), [&] { tick(); });
  ex.AdvanceBy(absl::Minutes(1));
  EXPECT_THAT(ticks, ElementsAre(absl::Seconds(10), absl::Seconds(20), absl::Seconds(30)));
  EXPECT_EQ(ex.clock().Now() - start, absl::Minutes(1));
}

TEST(VirtualExecutor, CancelledTimerNeverRuns) {
  VirtualExecutor ex;
  bool ran = false;
  TimerId id = ex.PostAfter(absl::Seconds(1), [&] { ran = true; });
  EXPECT_TRUE(ex.Cancel(id));
  EXPECT_FALSE(ex.Cancel(id));
  ex.AdvanceBy(absl::Seconds(2));
  EXPECT_FALSE(ran);
  EXPECT_FALSE(ex.RunNextTimer());
}

TEST(VirtualExecutor, RunNextTimerJumpsStraightToIt) {
  VirtualExecutor ex;
  const absl::Time start = ex.clock().Now();
  int runs = 0;
  ex.PostAfter(absl::Hours(3), [&] { ++runs; });
  EXPECT_TRUE(ex.RunNextTimer());
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(ex.clock().Now() - start, absl::Hours(3));
}

TEST(ThreadPoolExecutor, RunsTasksOnItsThreads) {
  std::atomic<int> count{0};
  Notification done;
  {
    ThreadPoolExecutor ex(2);
    for (int i = 0; i < 100; ++i) {
      ex.Post([&] {
        if (count.fetch_add(1) + 1 == 100) done.Notify();
      });
    }
    EXPECT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  }
  EXPECT_EQ(count.load(), 100);
}

TEST(ThreadPoolExecutor, TimerFiresAfterItsDelayAndCancelStopsIt) {
  ThreadPoolExecutor ex(1);
  Notification fired;
  std::atomic<bool> cancelled_ran{false};
  const absl::Time start = absl::Now();
  TimerId doomed = ex.PostAfter(absl::Milliseconds(30), [&] { cancelled_ran = true; });
  ex.PostAfter(absl::Milliseconds(50), [&] { fired.Notify(); });
  EXPECT_TRUE(ex.Cancel(doomed));
  ASSERT_TRUE(fired.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(50));
  EXPECT_FALSE(cancelled_ran.load());
}

TEST(ThreadPoolExecutor, VirtualClockTimersFireWhenTheClockSaysSo) {
  VirtualClock clock;
  ThreadPoolExecutor ex(1, &clock);
  Notification fired;
  ex.PostAfter(absl::Hours(1), [&] { fired.Notify(); });
  EXPECT_FALSE(fired.WaitForNotificationWithTimeout(absl::Milliseconds(20)));
  clock.Advance(absl::Hours(1));
  EXPECT_TRUE(fired.WaitForNotificationWithTimeout(absl::Seconds(10)));
}

}  // namespace
}  // namespace orch
