// Place: the default profile end to end, without a cluster.
#include "orch/scheduler/place.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/status_matchers.h"
#include "scheduler/test_objects.h"

namespace orch::scheduler {
namespace {

using ::orch::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using testing::MakeNode;
using testing::MakePod;

api::v1::Node Node(const std::string& name, const std::string& cpu, const std::string& memory) {
  return MakeNode(name)
      .Capacity({{"cpu", cpu}, {"memory", memory}, {"pods", "110"}})
      .Label("kubernetes.io/hostname", name)
      .Obj();
}

TEST(PlaceTest, LeastAllocatedSpreadsPodsOverEmptyNodes) {
  PlaceInput input;
  input.nodes = {Node("a", "4", "8Gi"), Node("b", "4", "8Gi")};
  // "a" already runs half its cpu: the pending pod goes to the emptier "b".
  input.bound.push_back(MakePod("busy").Node("a").Req({{"cpu", "2"}, {"memory", "1Gi"}}).Obj());
  input.pending.push_back(MakePod("web").Req({{"cpu", "1"}, {"memory", "1Gi"}}).Obj());
  ORCH_ASSERT_OK_AND_ASSIGN(std::vector<PodPlacement> placed, Place(input));
  ASSERT_EQ(placed.size(), 1u);
  EXPECT_EQ(placed[0].pod, "default/web");
  EXPECT_EQ(placed[0].node, "b");
  EXPECT_EQ(placed[0].message, "");
}

TEST(PlaceTest, EachPendingPodCountsOnItsNodeBeforeTheNext) {
  PlaceInput input;
  input.nodes = {Node("only", "2", "8Gi")};
  for (const char* name : {"p1", "p2", "p3"}) {
    input.pending.push_back(MakePod(name).Req({{"cpu", "1"}}).Obj());
  }
  ORCH_ASSERT_OK_AND_ASSIGN(std::vector<PodPlacement> placed, Place(input));
  ASSERT_EQ(placed.size(), 3u);
  EXPECT_EQ(placed[0].node, "only");
  EXPECT_EQ(placed[1].node, "only");
  EXPECT_EQ(placed[2].node, "");
  EXPECT_EQ(placed[2].message,
            "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are "
            "available: 1 No preemption victims found for incoming pod..");
}

TEST(PlaceTest, ANominatedNodeIsTriedFirstAndAlone) {
  PlaceInput input;
  input.nodes = {Node("a", "4", "8Gi"), Node("b", "4", "8Gi")};
  input.bound.push_back(MakePod("busy").Node("a").Req({{"cpu", "2"}, {"memory", "1Gi"}}).Obj());
  // Scored, "b" would win (as above); nominated to "a" by an earlier preemption, the pod
  // takes "a" since it fits there.
  api::v1::Pod web = MakePod("web").Req({{"cpu", "1"}, {"memory", "1Gi"}}).Obj();
  web.mutable_status()->set_nominated_node_name("a");
  input.pending.push_back(web);
  // Where the nominated node no longer fits, every node is searched.
  api::v1::Pod big = MakePod("big").Req({{"cpu", "2"}, {"memory", "1Gi"}}).Obj();
  big.mutable_status()->set_nominated_node_name("a");
  input.pending.push_back(big);
  ORCH_ASSERT_OK_AND_ASSIGN(std::vector<PodPlacement> placed, Place(input));
  ASSERT_EQ(placed.size(), 2u);
  EXPECT_EQ(placed[0].node, "a");
  EXPECT_EQ(placed[1].node, "b");
}

TEST(PlaceTest, FitErrorCountsReasonsSortedAsKubernetesSortsThem) {
  PlaceInput input;
  input.nodes = {Node("small-1", "1", "8Gi"), Node("small-2", "1", "8Gi"),
                 Node("small-3", "1", "8Gi")};
  input.nodes.push_back(MakeNode("gpu-1")
                            .Capacity({{"cpu", "16"}, {"memory", "64Gi"}, {"pods", "110"}})
                            .Taint("dedicated", "gpu", "NoSchedule")
                            .Obj());
  input.nodes.push_back(MakeNode("gpu-2")
                            .Capacity({{"cpu", "16"}, {"memory", "64Gi"}, {"pods", "110"}})
                            .Taint("dedicated", "gpu", "NoSchedule")
                            .Obj());
  input.pending.push_back(MakePod("big").Req({{"cpu", "8"}}).Obj());
  ORCH_ASSERT_OK_AND_ASSIGN(std::vector<PodPlacement> placed, Place(input));
  ASSERT_EQ(placed.size(), 1u);
  EXPECT_EQ(placed[0].node, "");
  EXPECT_THAT(placed[0].message,
              ::testing::StartsWith("0/5 nodes are available: 2 node(s) had untolerated taint "
                                    "{dedicated: gpu}, 3 Insufficient cpu."));
}

TEST(PlaceTest, ScoresAreWeightedSumsOfNormalizedPluginScores) {
  PlaceInput input;
  input.nodes = {Node("a", "4", "8Gi"), Node("b", "8", "16Gi")};
  input.pending.push_back(MakePod("web").Req({{"cpu", "1"}, {"memory", "1Gi"}}).Obj());
  PlaceOptions options;
  options.keep_scores = true;
  ORCH_ASSERT_OK_AND_ASSIGN(std::vector<PodPlacement> placed, Place(input, options));
  ASSERT_EQ(placed.size(), 1u);
  const PodPlacement& p = placed[0];
  ASSERT_EQ(p.scores.size(), 2u);
  ASSERT_EQ(p.plugin_scores.size(), 2u);
  // The default profile's weights (config.h).
  const std::map<std::string, int64_t> weights = {
      {"TaintToleration", 3},   {"NodeAffinity", 2},
      {"NodeResourcesFit", 1},  {"PodTopologySpread", 2},
      {"InterPodAffinity", 2},  {"NodeResourcesBalancedAllocation", 1},
      {"ImageLocality", 1}};
  for (size_t n = 0; n < 2; ++n) {
    int64_t sum = 0;
    for (const auto& [plugin, score] : p.plugin_scores[n].second) {
      ASSERT_TRUE(weights.contains(plugin)) << plugin;
      EXPECT_GE(score, 0);
      EXPECT_LE(score, 100);
      sum += weights.at(plugin) * score;
    }
    EXPECT_EQ(p.scores[n].second, sum) << p.scores[n].first;
  }
  // The bigger node is less allocated after placing the pod: it wins.
  EXPECT_EQ(p.node, "b");
  EXPECT_GT(p.scores[1].second, p.scores[0].second);
}

TEST(PlaceTest, UnknownSchedulerNameIsAnError) {
  PlaceInput input;
  input.nodes = {Node("a", "4", "8Gi")};
  input.pending.push_back(MakePod("web").SchedulerName("my-scheduler").Obj());
  EXPECT_THAT(Place(input), StatusIs(absl::StatusCode::kInvalidArgument,
                                     HasSubstr("no profile named \"my-scheduler\"")));
}

TEST(PlaceTest, NoNodesMeansNoPlacement) {
  PlaceInput input;
  input.pending.push_back(MakePod("web").Obj());
  ORCH_ASSERT_OK_AND_ASSIGN(std::vector<PodPlacement> placed, Place(input));
  ASSERT_EQ(placed.size(), 1u);
  EXPECT_EQ(placed[0].node, "");
  EXPECT_EQ(placed[0].message, "no nodes available to schedule pods");
}

TEST(PlaceTest, PreemptionIsNotHelpfulWhereNoNodeCouldEverFit) {
  PlaceInput input;
  input.nodes = {Node("a", "4", "8Gi"), Node("b", "4", "8Gi"), Node("c", "4", "8Gi")};
  input.bound.push_back(MakePod("low").Node("a").Req({{"cpu", "1"}}).Obj());
  input.pending.push_back(MakePod("huge").Priority(100).Req({{"cpu", "9"}}).Obj());
  ORCH_ASSERT_OK_AND_ASSIGN(std::vector<PodPlacement> placed, Place(input));
  ASSERT_EQ(placed.size(), 1u);
  EXPECT_EQ(placed[0].node, "");
  // Kubernetes' words, its doubled period included.
  EXPECT_EQ(placed[0].message,
            "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 "
            "Preemption is not helpful for scheduling..");
}

}  // namespace
}  // namespace orch::scheduler
