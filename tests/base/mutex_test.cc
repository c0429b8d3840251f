#include "orch/base/mutex.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace orch {
namespace {

TEST(Mutex, SerializesWritersAcrossThreads) {
  Mutex mu;
  int counter = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        MutexLock lock(&mu);
        ++counter;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(counter, 40000);
}

TEST(Mutex, AwaitWakesWhenAnotherThreadMakesTheConditionTrue) {
  Mutex mu;
  int stage = 0;
  std::thread producer([&] {
    for (int i = 0; i < 3; ++i) {
      MutexLock lock(&mu);
      ++stage;
    }
  });
  {
    MutexLock lock(&mu);
    mu.Await(absl::Condition(+[](int* s) { return *s == 3; }, &stage));
    EXPECT_EQ(stage, 3);
  }
  producer.join();
}

TEST(Mutex, AwaitWithTimeoutReportsAConditionThatNeverHolds) {
  Mutex mu;
  bool never = false;
  MutexLock lock(&mu);
  EXPECT_FALSE(mu.AwaitWithTimeout(absl::Condition(&never), absl::Milliseconds(10)));
}

TEST(Notification, WakesEveryWaiter) {
  Notification done;
  std::vector<std::thread> waiters;
  for (int i = 0; i < 3; ++i) waiters.emplace_back([&] { done.WaitForNotification(); });
  EXPECT_FALSE(done.WaitForNotificationWithTimeout(absl::Milliseconds(1)));
  done.Notify();
  for (auto& t : waiters) t.join();
  EXPECT_TRUE(done.HasBeenNotified());
}

}  // namespace
}  // namespace orch
