// NodeResourcesBalancedAllocation, with the cases of kube-scheduler's
// balanced_allocation_test.go (current formula: (1 - standard deviation) × 100).
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scheduler/fake_handle.h"
#include "scheduler/plugin_test_util.h"
#include "scheduler/plugins/factories.h"
#include "scheduler/test_objects.h"
#include "support/status_matchers.h"

namespace orch::scheduler {
namespace {

using ::orch::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::MakeNode;
using testing::MakePod;
using testing::NodeBuilder;
using testing::PodBuilder;

NodeBuilder Node(std::string name, std::string milli_cpu, std::string memory,
                 testing::ResourceList extra = {}) {
  testing::ResourceList capacity = {{"cpu", milli_cpu + "m"}, {"memory", std::move(memory)}};
  capacity.insert(capacity.end(), extra.begin(), extra.end());
  return MakeNode(std::move(name)).Capacity(capacity);
}

// kube-scheduler's pod specs.
PodBuilder CpuOnly(std::string name) {
  return MakePod(std::move(name))
      .Req({{"cpu", "1000m"}, {"memory", "0"}})
      .Req({{"cpu", "2000m"}, {"memory", "0"}});
}
PodBuilder CpuAndMemory(std::string name) {
  return MakePod(std::move(name))
      .Req({{"cpu", "1000m"}, {"memory", "2000"}})
      .Req({{"cpu", "2000m"}, {"memory", "3000"}});
}

struct Cluster {
  std::vector<NodeBuilder> nodes;
  std::vector<PodBuilder> pods;  // placed by their spec.nodeName
};

testing::ScoreResult Scores(const PodBuilder& pod, const Cluster& setup, std::string_view args = "") {
  testing::FakeSnapshot snapshot(testing::BuildCluster(setup.nodes, setup.pods));
  testing::FakeHandle handle(&snapshot);
  std::unique_ptr<Plugin> plugin = testing::MakePlugin(
      &plugins::NewBalancedAllocation, handle,
      args.empty() ? PluginArgs() : testing::ArgsFromYaml(args));
  testing::ScoreResult result = testing::RunScore(*plugin, *pod.Info(), snapshot.nodes());
  EXPECT_EQ(result.raw, result.normalized);  // scores are final
  return result;
}

TEST(BalancedAllocationTest, BestEffortPodIsNotScored) {
  testing::ScoreResult r =
      Scores(MakePod("p"), {{Node("machine1", "4000", "10000"), Node("machine2", "4000", "10000")}});
  EXPECT_TRUE(r.skipped);
  // Containers without requests are best effort too (requests, not the non-zero defaults).
  EXPECT_TRUE(Scores(MakePod("p").Req({}), {{Node("machine1", "4000", "10000")}}).skipped);
}

TEST(BalancedAllocationTest, NothingScheduledDifferentlySizedMachines) {
  // machine1: cpu 3000/4000 = 0.75, memory 5000/10000 = 0.5: std 0.125 -> 87
  // machine2: 0.5 and 0.5: std 0 -> 100
  EXPECT_THAT(Scores(CpuAndMemory("p"), {{Node("machine1", "4000", "10000"),
                                          Node("machine2", "6000", "10000")}})
                  .normalized,
              ElementsAre(87, 100));
}

TEST(BalancedAllocationTest, ResourcesRequestedPodsScheduledWithResources) {
  Cluster setup{{Node("machine1", "10000", "20000"), Node("machine2", "10000", "20000")},
              {CpuOnly("a").Node("machine1"), CpuAndMemory("b").Node("machine2")}};
  // machine1: 0.6 and 0.25: std 0.175 -> 82; machine2: 0.6 and 0.5: std 0.05 -> 95
  EXPECT_THAT(Scores(CpuAndMemory("p"), setup).normalized, ElementsAre(82, 95));
  setup.nodes[1] = Node("machine2", "10000", "50000");
  // machine2: 0.6 and 0.2: std 0.2 -> 80
  EXPECT_THAT(Scores(CpuAndMemory("p"), setup).normalized, ElementsAre(82, 80));
}

TEST(BalancedAllocationTest, FractionsAreCappedAtOne) {
  Cluster setup{{Node("machine1", "4000", "10000"), Node("machine2", "4000", "10000")},
              {CpuOnly("a").Node("machine1"), CpuAndMemory("b").Node("machine2")}};
  // machine1: cpu 6000/4000 -> 1, memory 0: std 0.5 -> 50; machine2: 1 and 0.5: 0.25 -> 75
  EXPECT_THAT(Scores(CpuOnly("p"), setup).normalized, ElementsAre(50, 75));
}

TEST(BalancedAllocationTest, ZeroAllocatableResourcesAreLeftOut) {
  Cluster setup{{Node("machine1", "0", "0"), Node("machine2", "0", "0")},
              {CpuOnly("a").Node("machine1"), CpuAndMemory("b").Node("machine2")}};
  // No fractions at all: std 0.
  EXPECT_THAT(Scores(CpuAndMemory("p"), setup).normalized, ElementsAre(100, 100));
  // One fraction: std 0 too.
  EXPECT_THAT(Scores(CpuAndMemory("p"), {{Node("m", "4000", "0")}}).normalized, ElementsAre(100));
}

TEST(BalancedAllocationTest, UsesRequestsNotNonZeroDefaults) {
  // An existing pod without requests counts nothing; memory "0" stays 0.
  Cluster setup{{Node("machine1", "4000", "10000")}, {MakePod("a").Node("machine1").Req({})}};
  EXPECT_THAT(Scores(CpuAndMemory("p"), setup).normalized, ElementsAre(87));
}

TEST(BalancedAllocationTest, ThreeResourcesUseTheStandardDeviation) {
  // cpu 0.5, memory 0.25, example.com/gpu 0.75: mean 0.5, std sqrt(0.125/3) = 0.2041 -> 79
  PodBuilder pod = MakePod("p").Req({{"cpu", "2"}, {"memory", "1Gi"}, {"example.com/gpu", "3"}});
  EXPECT_THAT(Scores(pod, {{Node("n", "4000", "4Gi", {{"example.com/gpu", "4"}})}},
                     "resources: [{name: cpu, weight: 1}, {name: memory, weight: 1}, "
                     "{name: example.com/gpu, weight: 1}]")
                  .normalized,
              ElementsAre(79));
  // A node without the extended resource scores on cpu and memory only: std 0.125 -> 87.
  EXPECT_THAT(Scores(pod, {{Node("n", "4000", "4Gi")}},
                     "resources: [{name: cpu}, {name: memory}, {name: example.com/gpu}]")
                  .normalized,
              ElementsAre(87));
}

TEST(BalancedAllocationTest, ArgsAreValidated) {
  testing::FakeSnapshot snapshot;
  testing::FakeHandle handle(&snapshot);
  EXPECT_THAT(plugins::NewBalancedAllocation(
                  testing::ArgsFromYaml("resources: [{name: cpu, weight: 2}]"), handle),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("resources[0].weight: Invalid value: 2: must be 1")));
  EXPECT_THAT(plugins::NewBalancedAllocation(
                  testing::ArgsFromYaml("resources: [{name: cpu}, {name: cpu}]"), handle),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("resources[1].name: Duplicate value: \"cpu\"")));
}

}  // namespace
}  // namespace orch::scheduler
