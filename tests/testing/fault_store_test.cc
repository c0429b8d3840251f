#include "orch/testing/fault_store.h"

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orch/base/executor.h"
#include "orch/store/memory_store.h"
#include "support/status_matchers.h"

namespace orch::testing {
namespace {

using Op = FaultStore::Op;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::SizeIs;

class FaultStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::MemoryStoreOptions options;
    options.clock = &executor_.clock();
    memory_ = store::MemoryStore::Open(options).value();
    faults_ = std::make_unique<FaultStore>(memory_.get(), FaultStoreOptions{.seed = 3});
  }

  std::vector<std::string> Drain(store::Watcher& watcher, absl::Status* status = nullptr) {
    std::vector<store::EventPtr> events;
    absl::Status polled = watcher.Poll(&events);
    if (status != nullptr) *status = polled;
    std::vector<std::string> keys;
    for (const auto& e : events) keys.push_back(e->kv.key);
    return keys;
  }

  VirtualExecutor executor_;
  std::unique_ptr<store::MemoryStore> memory_;
  std::unique_ptr<FaultStore> faults_;
};

TEST_F(FaultStoreTest, FailNextRefusesThatManyMatchingCallsAndChangesNothing) {
  faults_->FailNext(Op::kCreate, "/registry/pods/", 2, absl::UnavailableError("etcd is down"));
  EXPECT_THAT(faults_->Create("/registry/pods/default/a", "x"),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("etcd is down")));
  // Another prefix is not matched and does not use up the rule.
  ORCH_EXPECT_OK(faults_->Create("/registry/nodes/n1", "x").status());
  EXPECT_THAT(faults_->Create("/registry/pods/default/a", "x"),
              StatusIs(absl::StatusCode::kUnavailable));
  ORCH_EXPECT_OK(faults_->Create("/registry/pods/default/a", "x").status());

  EXPECT_EQ(faults_->Injected(), 2);
  EXPECT_EQ(faults_->Succeeded(Op::kCreate), 2);
  EXPECT_EQ(faults_->Succeeded(Op::kCreate, "/registry/pods/"), 1);
  EXPECT_THAT(faults_->SucceededByKey(Op::kCreate),
              ElementsAre(Pair("/registry/nodes/n1", 1), Pair("/registry/pods/default/a", 1)));
  // The refused calls left no trace in the store: one write per success.
  EXPECT_EQ(memory_->CurrentRevision().value(), 2);
}

TEST_F(FaultStoreTest, RandomFaultsAreRepeatableBySeedAndConflictsSpareCreates) {
  int runs = 0;
  auto run = [&](uint64_t seed) {
    ++runs;
    FaultStore faults(memory_.get(), {.seed = seed});
    faults.SetRandomFaults({.conflict_rate = 0.5, .prefix = "/registry/pods/"});
    std::string outcomes;
    for (int i = 0; i < 40; ++i) {
      const std::string key =
          "/registry/pods/default/p" + std::to_string(runs) + "-" + std::to_string(i);
      ORCH_EXPECT_OK(faults.Create(key, "v").status());  // never a conflict
      const absl::Status updated = faults.Update(key, "w", 0).status();
      EXPECT_TRUE(updated.ok() || absl::IsAborted(updated)) << updated;
      outcomes += updated.ok() ? '.' : 'A';
    }
    return outcomes;
  };
  const std::string first = run(11);
  EXPECT_EQ(run(11), first);
  EXPECT_NE(run(12), first);
  EXPECT_NE(first.find('A'), std::string::npos);
  EXPECT_NE(first.find('.'), std::string::npos);
}

TEST_F(FaultStoreTest, UnavailableFaultsHitReadsToo) {
  ORCH_ASSERT_OK(memory_->Create("/registry/pods/default/a", "x").status());
  faults_->SetRandomFaults({.unavailable_rate = 1.0});
  EXPECT_THAT(faults_->Get("/registry/pods/default/a"),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("get /registry/pods/default/a")));
  EXPECT_THAT(faults_->List("/registry/pods/"), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(faults_->Watch("/registry/pods/"), StatusIs(absl::StatusCode::kUnavailable));
  faults_->ClearFaults();
  ORCH_EXPECT_OK(faults_->Get("/registry/pods/default/a").status());
  EXPECT_EQ(faults_->Injected(), 3);
}

TEST_F(FaultStoreTest, BeforeRunsOnceJustBeforeTheCallReachesTheStore) {
  ORCH_ASSERT_OK(faults_->Create("/registry/pods/default/a", "x").status());
  int runs = 0;
  faults_->Before(Op::kDelete, "/registry/pods/default/a", [&] {
    ++runs;
    // Races the delete: the key is gone by the time it lands.
    ORCH_EXPECT_OK(memory_->Delete("/registry/pods/default/a").status());
  });
  EXPECT_THAT(faults_->Delete("/registry/pods/default/a"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(faults_->Delete("/registry/pods/default/a"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(runs, 1);
}

TEST_F(FaultStoreTest, HeldWatchesDeliverNothingUntilReleasedAndThenEverything) {
  auto pods = faults_->Watch("/registry/pods/").value();
  auto nodes = faults_->Watch("/registry/nodes/").value();
  int woken = 0;
  pods->SetReadyCallback([&] { ++woken; });
  faults_->HoldWatches("/registry/pods/");
  ORCH_ASSERT_OK(faults_->Create("/registry/pods/default/a", "x").status());
  ORCH_ASSERT_OK(faults_->Create("/registry/nodes/n1", "x").status());
  EXPECT_THAT(Drain(*pods), IsEmpty());
  EXPECT_THAT(Drain(*nodes), ElementsAre("/registry/nodes/n1"));
  const int woken_before = woken;
  faults_->ReleaseWatches();
  EXPECT_GT(woken, woken_before);
  EXPECT_THAT(Drain(*pods), ElementsAre("/registry/pods/default/a"));
}

TEST_F(FaultStoreTest, BrokenWatchesFailWithOutOfRangeAndStayFailed) {
  auto watcher = faults_->Watch("/registry/pods/").value();
  int woken = 0;
  watcher->SetReadyCallback([&] { ++woken; });
  ORCH_ASSERT_OK(faults_->Create("/registry/pods/default/a", "x").status());
  faults_->BreakWatches();
  EXPECT_GT(woken, 0);
  absl::Status status;
  EXPECT_THAT(Drain(*watcher, &status), IsEmpty());  // the pending event is lost
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("compacted")));
  Drain(*watcher, &status);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kOutOfRange));
  // A watch opened afterwards is not broken.
  auto fresh = faults_->Watch("/registry/pods/").value();
  ORCH_ASSERT_OK(faults_->Create("/registry/pods/default/b", "x").status());
  EXPECT_THAT(Drain(*fresh, &status), SizeIs(1));
  ORCH_EXPECT_OK(status);
}

}  // namespace
}  // namespace orch::testing
