// TaintToleration, with the cases of kube-scheduler's taint_toleration_test.go.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scheduler/fake_handle.h"
#include "scheduler/plugin_test_util.h"
#include "scheduler/plugins/factories.h"
#include "scheduler/test_objects.h"

namespace orch::scheduler {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using testing::FakeHandle;
using testing::FakeSnapshot;
using testing::MakeNode;
using testing::MakePod;
using testing::NodeBuilder;
using testing::PodBuilder;

struct Taint {
  std::string key, value, effect;
};
struct Toleration {
  std::string key, op, value, effect;
};

NodeBuilder NodeWithTaints(std::string name, const std::vector<Taint>& taints) {
  NodeBuilder node = MakeNode(std::move(name));
  for (const Taint& t : taints) node.Taint(t.key, t.value, t.effect);
  return node;
}

PodBuilder PodWithTolerations(const std::vector<Toleration>& tolerations) {
  PodBuilder pod = MakePod("pod1");
  for (const Toleration& t : tolerations) pod.Toleration(t.key, t.op, t.value, t.effect);
  return pod;
}

class TaintTolerationTest : public ::testing::Test {
 protected:
  TaintTolerationTest() : handle_(&snapshot_) {
    plugin_ = testing::MakePlugin(&plugins::NewTaintToleration, handle_);
  }

  Status Filter(const PodBuilder& pod, const NodeBuilder& node) {
    return testing::RunFilter(*plugin_, *pod.Info(), node.Info());
  }

  std::vector<int64_t> NormalizedScores(const PodBuilder& pod,
                                        const std::vector<NodeBuilder>& nodes) {
    std::vector<NodeInfo> infos;
    for (const NodeBuilder& n : nodes) infos.push_back(n.Info());
    snapshot_.Reset(std::move(infos));
    testing::ScoreResult result =
        testing::RunScore(*plugin_, *pod.Info(), snapshot_.nodes());
    EXPECT_FALSE(result.skipped);
    return result.normalized;
  }

  FakeSnapshot snapshot_;
  FakeHandle handle_;
  std::unique_ptr<Plugin> plugin_;
};

// ------------------------------------------------------------------ Filter

TEST_F(TaintTolerationTest, PodWithoutTolerationsIsRejectedByNoScheduleTaint) {
  Status status = Filter(PodWithTolerations({}),
                         NodeWithTaints("nodeA", {{"dedicated", "user1", "NoSchedule"}}));
  EXPECT_EQ(status.code(), Code::kUnschedulableAndUnresolvable);
  EXPECT_THAT(status.reasons(), ElementsAre("node(s) had untolerated taint {dedicated: user1}"));
}

TEST_F(TaintTolerationTest, MatchingTolerationWithDefaultOperatorFits) {
  EXPECT_TRUE(Filter(PodWithTolerations({{"dedicated", "", "user1", "NoSchedule"}}),
                     NodeWithTaints("nodeA", {{"dedicated", "user1", "NoSchedule"}}))
                  .ok());
}

TEST_F(TaintTolerationTest, TolerationForAnotherValueDoesNotFit) {
  Status status = Filter(PodWithTolerations({{"dedicated", "Equal", "user2", "NoSchedule"}}),
                         NodeWithTaints("nodeA", {{"dedicated", "user1", "NoSchedule"}}));
  EXPECT_EQ(status.code(), Code::kUnschedulableAndUnresolvable);
  EXPECT_THAT(status.reasons(), ElementsAre("node(s) had untolerated taint {dedicated: user1}"));
}

TEST_F(TaintTolerationTest, ExistsOperatorToleratesAnyValue) {
  EXPECT_TRUE(Filter(PodWithTolerations({{"foo", "Exists", "", "NoSchedule"}}),
                     NodeWithTaints("nodeA", {{"foo", "bar", "NoSchedule"}}))
                  .ok());
}

TEST_F(TaintTolerationTest, EveryTaintToleratedFits) {
  EXPECT_TRUE(Filter(PodWithTolerations({{"dedicated", "Equal", "user2", "NoSchedule"},
                                         {"foo", "Exists", "", "NoSchedule"}}),
                     NodeWithTaints("nodeA", {{"dedicated", "user2", "NoSchedule"},
                                              {"foo", "bar", "NoSchedule"}}))
                  .ok());
}

TEST_F(TaintTolerationTest, TolerationWithOtherEffectDoesNotFit) {
  Status status = Filter(PodWithTolerations({{"foo", "Equal", "bar", "PreferNoSchedule"}}),
                         NodeWithTaints("nodeA", {{"foo", "bar", "NoSchedule"}}));
  EXPECT_EQ(status.code(), Code::kUnschedulableAndUnresolvable);
  EXPECT_THAT(status.reasons(), ElementsAre("node(s) had untolerated taint {foo: bar}"));
}

TEST_F(TaintTolerationTest, TolerationWithoutEffectToleratesEveryEffect) {
  EXPECT_TRUE(Filter(PodWithTolerations({{"foo", "Equal", "bar", ""}}),
                     NodeWithTaints("nodeA", {{"foo", "bar", "NoSchedule"}}))
                  .ok());
}

TEST_F(TaintTolerationTest, PreferNoScheduleTaintsDoNotFilter) {
  EXPECT_TRUE(Filter(PodWithTolerations({{"dedicated", "Equal", "user2", "NoSchedule"}}),
                     NodeWithTaints("nodeA", {{"dedicated", "user1", "PreferNoSchedule"}}))
                  .ok());
  EXPECT_TRUE(Filter(PodWithTolerations({}),
                     NodeWithTaints("nodeA", {{"dedicated", "user1", "PreferNoSchedule"}}))
                  .ok());
}

TEST_F(TaintTolerationTest, NoExecuteTaintsFilterAndTheFirstUntoleratedIsReported) {
  Status status = Filter(PodWithTolerations({{"a", "Exists", "", ""}}),
                         NodeWithTaints("nodeA", {{"a", "1", "NoExecute"},
                                                  {"b", "2", "PreferNoSchedule"},
                                                  {"c", "3", "NoExecute"},
                                                  {"d", "4", "NoSchedule"}}));
  EXPECT_THAT(status.reasons(), ElementsAre("node(s) had untolerated taint {c: 3}"));
}

TEST_F(TaintTolerationTest, KeylessExistsToleratesEverything) {
  EXPECT_TRUE(Filter(PodWithTolerations({{"", "Exists", "", ""}}),
                     NodeWithTaints("nodeA", {{"a", "1", "NoExecute"}, {"b", "", "NoSchedule"}}))
                  .ok());
}

// ------------------------------------------------------------------ Score

TEST_F(TaintTolerationTest, ToleratedNodeScoresHigherThanIntolerable) {
  EXPECT_THAT(NormalizedScores(PodWithTolerations({{"foo", "Equal", "bar", "PreferNoSchedule"}}),
                               {NodeWithTaints("nodeA", {{"foo", "bar", "PreferNoSchedule"}}),
                                NodeWithTaints("nodeB", {{"foo", "blah", "PreferNoSchedule"}})}),
              ElementsAre(100, 0));
}

TEST_F(TaintTolerationTest, NumberOfToleratedTaintsDoesNotMatter) {
  EXPECT_THAT(
      NormalizedScores(PodWithTolerations({{"cpu-type", "Equal", "arm64", "PreferNoSchedule"},
                                           {"disk-type", "Equal", "ssd", "PreferNoSchedule"}}),
                       {NodeWithTaints("nodeA", {}),
                        NodeWithTaints("nodeB", {{"cpu-type", "arm64", "PreferNoSchedule"}}),
                        NodeWithTaints("nodeC", {{"cpu-type", "arm64", "PreferNoSchedule"},
                                                 {"disk-type", "ssd", "PreferNoSchedule"}})}),
      ElementsAre(100, 100, 100));
}

TEST_F(TaintTolerationTest, MoreIntolerableTaintsScoreLower) {
  EXPECT_THAT(
      NormalizedScores(PodWithTolerations({{"foo", "Equal", "bar", "PreferNoSchedule"}}),
                       {NodeWithTaints("nodeA", {}),
                        NodeWithTaints("nodeB", {{"cpu-type", "arm64", "PreferNoSchedule"}}),
                        NodeWithTaints("nodeC", {{"cpu-type", "arm64", "PreferNoSchedule"},
                                                 {"disk-type", "ssd", "PreferNoSchedule"}})}),
      ElementsAre(100, 50, 0));
}

TEST_F(TaintTolerationTest, OnlyPreferNoScheduleTaintsAndTolerationsCount) {
  EXPECT_THAT(
      NormalizedScores(PodWithTolerations({{"cpu-type", "Equal", "arm64", "NoSchedule"},
                                           {"disk-type", "Equal", "ssd", "NoSchedule"}}),
                       {NodeWithTaints("nodeA", {}),
                        NodeWithTaints("nodeB", {{"cpu-type", "arm64", "NoSchedule"}}),
                        NodeWithTaints("nodeC", {{"cpu-type", "arm64", "PreferNoSchedule"},
                                                 {"disk-type", "ssd", "PreferNoSchedule"}})}),
      ElementsAre(100, 100, 0));
}

TEST_F(TaintTolerationTest, NoTolerationsPreferTheUntaintedNode) {
  EXPECT_THAT(NormalizedScores(PodWithTolerations({}),
                               {NodeWithTaints("nodeA", {}),
                                NodeWithTaints("nodeB", {{"cpu-type", "arm64", "PreferNoSchedule"}})}),
              ElementsAre(100, 0));
}

TEST_F(TaintTolerationTest, RawScoreCountsIntolerableTaints) {
  std::vector<NodeInfo> infos;
  infos.push_back(NodeWithTaints("n", {{"a", "1", "PreferNoSchedule"},
                                       {"b", "2", "PreferNoSchedule"},
                                       {"c", "3", "NoSchedule"}})
                      .Info());
  snapshot_.Reset(std::move(infos));
  testing::ScoreResult result = testing::RunScore(
      *plugin_, *PodWithTolerations({{"a", "Exists", "", ""}}).Info(), snapshot_.nodes());
  EXPECT_THAT(result.raw, ElementsAre(1));
}

TEST_F(TaintTolerationTest, RegistersNodeAddAndTaintChanges) {
  auto events = testing::As<EnqueueExtensions>(*plugin_).EventsToRegister();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(events[0].Matches({EventResource::kNode, kUpdateNodeTaint}));
  EXPECT_TRUE(events[0].Matches({EventResource::kNode, kAdd}));
  EXPECT_FALSE(events[0].Matches({EventResource::kNode, kUpdateNodeLabel}));
  EXPECT_FALSE(events[0].Matches({EventResource::kPod, kDelete}));
  EXPECT_EQ(plugin_->Name(), "TaintToleration");
}

}  // namespace
}  // namespace orch::scheduler
