#include "orch/client/retry.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/status_matchers.h"

namespace orch::client::testing {
namespace {

using ::orch::testing::IsOk;
using ::orch::testing::StatusIs;

class RecordingSleeper : public Sleeper {
 public:
  void Sleep(absl::Duration d) override { sleeps.push_back(d); }
  std::vector<absl::Duration> sleeps;
};

TEST(BackoffTest, DelaysGrowByFactorUpToTheCap) {
  Backoff b{absl::Milliseconds(10), 2.0, 0.0, 10, absl::Milliseconds(50)};
  EXPECT_EQ(b.Delay(0), absl::Milliseconds(10));
  EXPECT_EQ(b.Delay(1), absl::Milliseconds(20));
  EXPECT_EQ(b.Delay(2), absl::Milliseconds(40));
  EXPECT_EQ(b.Delay(3), absl::Milliseconds(50));
  EXPECT_EQ(b.Delay(9), absl::Milliseconds(50));
  EXPECT_EQ(kDefaultRetry.Delay(4), absl::Milliseconds(10));
  EXPECT_EQ(kDefaultRetry.DelayWithJitter(0, 0.5), absl::Microseconds(10500));
}

TEST(RetryOnConflictTest, MatchesClientGosDefaultRetry) {
  EXPECT_EQ(kDefaultRetry.steps, 5);
  EXPECT_EQ(kDefaultRetry.duration, absl::Milliseconds(10));
  EXPECT_EQ(kDefaultRetry.factor, 1.0);
  EXPECT_EQ(kDefaultRetry.jitter, 0.1);
}

TEST(RetryOnConflictTest, RetriesConflictsAndStopsAtSuccess) {
  RecordingSleeper sleeper;
  int calls = 0;
  absl::Status s = RetryOnConflict(
      kDefaultRetry,
      [&]() -> absl::Status {
        return ++calls < 3 ? absl::AbortedError("conflict") : absl::OkStatus();
      },
      sleeper);
  EXPECT_THAT(s, IsOk());
  EXPECT_EQ(calls, 3);
  ASSERT_EQ(sleeper.sleeps.size(), 2u);
  for (absl::Duration d : sleeper.sleeps) {
    EXPECT_GE(d, absl::Milliseconds(10));
    EXPECT_LT(d, absl::Milliseconds(11));
  }
}

TEST(RetryOnConflictTest, OtherErrorsStopAtOnce) {
  RecordingSleeper sleeper;
  int calls = 0;
  absl::Status s = RetryOnConflict(
      kDefaultRetry, [&] { return ++calls, absl::NotFoundError("gone"); }, sleeper);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(sleeper.sleeps.empty());
}

TEST(RetryOnConflictTest, GivesUpAfterStepsWithTheLastConflict) {
  RecordingSleeper sleeper;
  int calls = 0;
  absl::Status s = RetryOnConflict(
      kDefaultRetry,
      [&] { return absl::AbortedError("conflict " + std::to_string(++calls)); }, sleeper);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kAborted, "conflict 5"));
  EXPECT_EQ(calls, 5);
  EXPECT_EQ(sleeper.sleeps.size(), 4u);
}

TEST(RetryOnErrorTest, UsesTheCallersPredicate) {
  int calls = 0;
  absl::Status s = RetryOnError(
      Backoff{absl::Milliseconds(1), 1.0, 0.0, 10},
      [](const absl::Status& st) { return st.code() == absl::StatusCode::kUnavailable; },
      [&]() -> absl::Status {
        return ++calls < 4 ? absl::UnavailableError("busy") : absl::OkStatus();
      },
      Sleeper::None());
  EXPECT_THAT(s, IsOk());
  EXPECT_EQ(calls, 4);
}

// A read-modify-write that loses a race on its first attempt succeeds on the next one,
// and the other writer's change survives.
TEST_F(ClientTest, RetryOnConflictRereadsAfterALostRace) {
  ORCH_ASSERT_OK(client_->Create(MakeDeployment("web", 1)).status());
  int attempts = 0;
  absl::Status s = RetryOnConflict(
      kDefaultRetry,
      [&]() -> absl::Status {
        ORCH_ASSIGN_OR_RETURN(v1::Deployment d, client_->Get<v1::Deployment>("default", "web"));
        if (++attempts == 1) {
          v1::Deployment other = d;
          (*other.mutable_metadata()->mutable_labels())["other"] = "writer";
          ORCH_RETURN_IF_ERROR(client_->Update(other).status());
        }
        d.mutable_spec()->set_replicas(d.spec().replicas() + 1);
        return client_->Update(d).status();
      },
      Sleeper::None());
  ORCH_ASSERT_OK(s);
  EXPECT_EQ(attempts, 2);
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Deployment d, client_->Get<v1::Deployment>("default", "web"));
  EXPECT_EQ(d.spec().replicas(), 2);
  EXPECT_EQ(d.metadata().labels().at("other"), "writer");
}

// Concurrent read-modify-write increments of one counter: none is lost.
TEST_F(ClientTest, ConcurrentIncrementsUnderRetryOnConflictAreNeverLost) {
  ORCH_ASSERT_OK(client_->Create(MakeDeployment("counter", 0)).status());
  constexpr int kThreads = 4;
  constexpr int kIncrements = 40;
  std::atomic<int> conflicts{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIncrements; ++i) {
        absl::Status s = RetryOnConflict(
            Backoff{absl::Microseconds(50), 1.0, 1.0, 1000},
            [&]() -> absl::Status {
              ORCH_ASSIGN_OR_RETURN(v1::Deployment d,
                                    client_->Get<v1::Deployment>("default", "counter"));
              d.mutable_spec()->set_replicas(d.spec().replicas() + 1);
              absl::Status st = client_->Update(d).status();
              if (st.code() == absl::StatusCode::kAborted) conflicts.fetch_add(1);
              return st;
            });
        ASSERT_TRUE(s.ok()) << s;
      }
    });
  }
  for (auto& t : threads) t.join();
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Deployment d, client_->Get<v1::Deployment>("default", "counter"));
  EXPECT_EQ(d.spec().replicas(), kThreads * kIncrements);
  EXPECT_EQ(d.metadata().generation(), 1 + kThreads * kIncrements);
  // Without the retries, every conflict would have been a lost increment.
  RecordProperty("conflicts", conflicts.load());
}

}  // namespace
}  // namespace orch::client::testing
