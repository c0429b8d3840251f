#include "orch/controller/work_queue.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orch/base/executor.h"
#include "orch/base/mutex.h"
#include "orch/base/string_map.h"

namespace orch::controller {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// A queue on a VirtualExecutor that records the keys it processes, with the virtual
// time (ms since the start) of each call.
class WorkQueueTest : public ::testing::Test {
 protected:
  WorkQueue& Queue(WorkQueueOptions options = {}) {
    queue_ = std::make_unique<WorkQueue>(
        &executor_,
        [this](const std::string& key) {
          processed_.push_back(key);
          times_.push_back(absl::ToInt64Milliseconds(executor_.clock().Now() - start_));
          if (on_process_) on_process_(key);
        },
        std::move(options));
    return *queue_;
  }

  VirtualExecutor executor_;
  const absl::Time start_ = executor_.clock().Now();
  std::function<void(const std::string&)> on_process_;
  std::vector<std::string> processed_;
  std::vector<int64_t> times_;
  std::unique_ptr<WorkQueue> queue_;
};

TEST_F(WorkQueueTest, KeysWaitForStartAndAreProcessedOnceInOrder) {
  WorkQueue& q = Queue();
  q.Add("a");
  q.Add("b");
  q.Add("a");
  q.Add("c");
  executor_.RunUntilIdle();
  EXPECT_THAT(processed_, IsEmpty());
  EXPECT_EQ(q.Len(), 3u);
  q.Start();
  executor_.RunUntilIdle();
  EXPECT_THAT(processed_, ElementsAre("a", "b", "c"));
  EXPECT_EQ(q.Len(), 0u);
  const WorkQueueStats stats = q.stats();
  EXPECT_EQ(stats.adds, 3);
  EXPECT_EQ(stats.processed, 3);
  EXPECT_EQ(stats.in_flight, 0);
}

TEST_F(WorkQueueTest, AKeyAddedWhileProcessedRunsOnceMoreAfterwards) {
  WorkQueue& q = Queue({.max_concurrent = 4});
  int calls = 0;
  on_process_ = [&](const std::string& key) {
    if (key == "a" && ++calls == 1) {
      q.Add("a");  // in flight: waits
      q.Add("a");  // deduplicated with the one above
      q.Add("b");
    }
  };
  q.Start();
  q.Add("a");
  executor_.RunUntilIdle();
  // b is free to go at once; a again only once its first call has returned.
  EXPECT_THAT(processed_, ElementsAre("a", "b", "a"));
}

TEST_F(WorkQueueTest, AddAfterWaitsOnTheClockAndKeepsTheEarlierTime) {
  WorkQueue& q = Queue();
  q.Start();
  q.AddAfter("a", absl::Milliseconds(50));
  q.AddAfter("a", absl::Milliseconds(80));  // later: ignored
  q.AddAfter("b", absl::Milliseconds(40));
  q.AddAfter("b", absl::Milliseconds(10));  // earlier: replaces
  q.AddAfter("c", absl::ZeroDuration());    // at once
  executor_.RunUntilIdle();
  EXPECT_THAT(processed_, ElementsAre("c"));
  EXPECT_EQ(q.stats().delayed, 2);
  executor_.AdvanceBy(absl::Milliseconds(100));
  EXPECT_THAT(processed_, ElementsAre("c", "b", "a"));
  EXPECT_THAT(times_, ElementsAre(0, 10, 50));
  EXPECT_EQ(q.stats().delayed, 0);
}

TEST_F(WorkQueueTest, AddRateLimitedBacksOffPerKeyUntilForgotten) {
  WorkQueue& q = Queue({.rate_limiter = NewItemExponentialFailureRateLimiter(
                            absl::Milliseconds(5), absl::Seconds(1000))});
  q.Start();
  // Fails three times, then succeeds: retried after 5, 10 and 20 ms.
  int failures = 0;
  on_process_ = [&](const std::string& key) {
    if (failures < 3) {
      ++failures;
      q.AddRateLimited(key);
    } else {
      q.Forget(key);
    }
  };
  q.Add("a");
  executor_.RunUntilIdle();
  executor_.AdvanceBy(absl::Seconds(1));
  EXPECT_THAT(times_, ElementsAre(0, 5, 15, 35));
  EXPECT_EQ(q.NumRequeues("a"), 0);
  EXPECT_EQ(q.stats().retries, 3);
}

TEST_F(WorkQueueTest, TheDefaultLimiterStartsAtFiveMilliseconds) {
  WorkQueue& q = Queue();
  q.Start();
  q.AddRateLimited("a");
  q.AddRateLimited("a");  // 10 ms, but a is already waiting with an earlier time
  EXPECT_EQ(q.NumRequeues("a"), 2);
  executor_.AdvanceBy(absl::Seconds(1));
  EXPECT_THAT(times_, ElementsAre(5));
}

TEST_F(WorkQueueTest, ShutDownDropsWaitingAndDelayedKeys) {
  WorkQueue& q = Queue();
  q.Add("a");
  q.AddAfter("b", absl::Seconds(1));
  q.ShutDown();
  EXPECT_TRUE(q.ShuttingDown());
  q.Add("c");
  q.Start();
  executor_.AdvanceBy(absl::Seconds(2));
  EXPECT_THAT(processed_, IsEmpty());
  EXPECT_EQ(q.Len(), 0u);
}

TEST_F(WorkQueueTest, ShutDownFromInsideProcessReturnsAndStopsTheRest) {
  WorkQueue& q = Queue();
  on_process_ = [&](const std::string&) { q.ShutDown(); };
  q.Add("a");
  q.Add("b");
  q.Start();
  executor_.RunUntilIdle();
  EXPECT_THAT(processed_, ElementsAre("a"));
}

TEST_F(WorkQueueTest, ATaskPostedBeforeShutDownDoesNotProcess) {
  WorkQueue& q = Queue();
  q.Start();
  q.Add("a");  // posted, not yet run
  q.ShutDown();
  executor_.RunUntilIdle();
  EXPECT_THAT(processed_, IsEmpty());
  EXPECT_EQ(q.stats().in_flight, 0);
}

TEST_F(WorkQueueTest, DestroyingTheQueueLeavesItsTasksHarmless) {
  WorkQueue& q = Queue();
  q.Start();
  q.Add("a");
  q.AddAfter("b", absl::Milliseconds(5));
  queue_.reset();
  executor_.AdvanceBy(absl::Seconds(1));
  EXPECT_THAT(processed_, IsEmpty());
}

// On real threads: many writers add keys while four workers process them. No key is
// ever processed by two workers at once, never more than four run together, and every
// key is processed after the last time it was added.
TEST(WorkQueueThreadsTest, NoKeyTwiceAtOnceAndEveryAddIsSeen) {
  constexpr int kKeys = 20;
  constexpr int kWriters = 4;
  constexpr int kAddsPerWriter = 500;
  ThreadPoolExecutor executor(4);
  Mutex mu;
  StringMap<int> active;     // calls running per key
  StringMap<int64_t> added;  // last add sequence per key
  StringMap<int64_t> seen;   // the add sequence the latest call started after
  int running = 0, max_running = 0;
  std::atomic<int64_t> sequence{0};
  bool overlap = false;
  WorkQueue queue(
      &executor,
      [&](const std::string& key) {
        {
          MutexLock lock(&mu);
          if (++active[key] > 1) overlap = true;
          max_running = std::max(max_running, ++running);
          seen[key] = added[key];
        }
        std::this_thread::sleep_for(std::chrono::microseconds(50));
        MutexLock lock(&mu);
        --active[key];
        --running;
      },
      {.max_concurrent = 4});
  queue.Start();
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kAddsPerWriter; ++i) {
        const std::string key = "k" + std::to_string((i * 7 + w) % kKeys);
        {
          MutexLock lock(&mu);
          added[key] = ++sequence;
        }
        queue.Add(key);
      }
    });
  }
  for (auto& t : writers) t.join();
  // Wait until nothing is waiting or running.
  for (int i = 0; i < 10000; ++i) {
    const WorkQueueStats stats = queue.stats();
    if (stats.depth == 0 && stats.in_flight == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  queue.ShutDown();
  MutexLock lock(&mu);
  EXPECT_FALSE(overlap);
  EXPECT_LE(max_running, 4);
  for (const auto& [key, last] : added) {
    EXPECT_EQ(seen[key], last) << key << " was not processed after its last add";
  }
}

TEST(WorkQueueThreadsTest, ShutDownWaitsForRunningCalls) {
  ThreadPoolExecutor executor(2);
  Notification entered;
  std::atomic<bool> finished{false};
  WorkQueue queue(&executor, [&](const std::string&) {
    entered.Notify();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    finished = true;
  });
  queue.Start();
  queue.Add("a");
  entered.WaitForNotification();
  queue.ShutDown();
  EXPECT_TRUE(finished.load());
}

}  // namespace
}  // namespace orch::controller
