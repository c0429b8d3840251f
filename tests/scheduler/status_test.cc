// Status: what plugins return. Success carries nothing; a failure's details are shared by
// copies until one of them changes.
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orch/scheduler/framework.h"

namespace orch::scheduler {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(StatusTest, SuccessHasNoReasonsPluginOrCause) {
  const Status ok;
  EXPECT_TRUE(ok.ok());
  EXPECT_THAT(ok.reasons(), IsEmpty());
  EXPECT_EQ(ok.plugin(), "");
  EXPECT_EQ(ok.cause(), absl::StatusCode::kOk);
  EXPECT_EQ(ok.Message(), "");
  EXPECT_TRUE(ok.ToAbsl().ok());
  EXPECT_TRUE(Status::Skip().IsSkip());
  EXPECT_THAT(Status::Skip().reasons(), IsEmpty());
}

TEST(StatusTest, FailuresKeepReasonsAndSayWhichPlugin) {
  Status rejected(Code::kUnschedulable, std::vector<std::string>{"Insufficient cpu", "Too many pods"});
  rejected.WithPlugin("NodeResourcesFit");
  EXPECT_TRUE(rejected.IsRejected());
  EXPECT_EQ(rejected.Message(), "Insufficient cpu, Too many pods");
  EXPECT_EQ(rejected.plugin(), "NodeResourcesFit");
  EXPECT_EQ(rejected.ToAbsl(), absl::FailedPreconditionError("Insufficient cpu, Too many pods"));

  const Status error = Status::Error(absl::AbortedError("conflict"), "binding");
  EXPECT_EQ(error.code(), Code::kError);
  EXPECT_EQ(error.cause(), absl::StatusCode::kAborted);
  EXPECT_EQ(error.Message(), "binding: ABORTED: conflict");
}

TEST(StatusTest, ACopyChangesOnlyItself) {
  Status original = Status::Unschedulable("node(s) were unschedulable");
  original.WithPlugin("NodeUnschedulable");
  Status copy = original;
  copy.WithPlugin("Other");
  EXPECT_EQ(original.plugin(), "NodeUnschedulable");
  EXPECT_EQ(copy.plugin(), "Other");
  EXPECT_THAT(copy.reasons(), ElementsAre("node(s) were unschedulable"));

  Status assigned;
  assigned = original;
  original.WithPlugin("Changed");
  EXPECT_EQ(assigned.plugin(), "NodeUnschedulable");
  EXPECT_EQ(assigned.code(), Code::kUnschedulable);

  Status moved = std::move(assigned);
  EXPECT_EQ(moved.plugin(), "NodeUnschedulable");
  EXPECT_THAT(moved.reasons(), ElementsAre("node(s) were unschedulable"));
}

}  // namespace
}  // namespace orch::scheduler
