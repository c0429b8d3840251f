// NodeResourcesFit, with the cases of kube-scheduler's fit_test.go, least_allocated_test.go,
// most_allocated_test.go and requested_to_capacity_ratio_test.go.
#include "fmt/format.h"
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
using testing::ResourceList;

// ------------------------------------------------------------------ Filter

// kube-scheduler's test node: 10m cpu, 20 bytes memory, 32 pods, 5 example.com/aaa,
// 20 bytes ephemeral storage, 5 bytes of hugepages-2Mi.
NodeBuilder TestNode() {
  return MakeNode("node").Capacity({{"cpu", "10m"},
                                    {"memory", "20"},
                                    {"pods", "32"},
                                    {"example.com/aaa", "5"},
                                    {"ephemeral-storage", "20"},
                                    {"hugepages-2Mi", "5"}});
}

struct FilterCase {
  std::string name;
  PodBuilder pod;
  ResourceList used;  // requests of the pod already on the node
  Code code;
  std::vector<std::string> reasons;
  std::string args;
};

PodBuilder Pod(const ResourceList& requests) { return MakePod("p").Req(requests); }
PodBuilder InitPod(const ResourceList& requests, const std::vector<ResourceList>& inits) {
  PodBuilder pod = MakePod("p").Req(requests);
  for (const ResourceList& init : inits) pod.InitReq(init);
  return pod;
}

class FitFilterTest : public ::testing::TestWithParam<FilterCase> {};

TEST_P(FitFilterTest, Filter) {
  const FilterCase& c = GetParam();
  testing::FakeSnapshot snapshot;
  testing::FakeHandle handle(&snapshot);
  std::unique_ptr<Plugin> plugin = testing::MakePlugin(
      &plugins::NewNodeResourcesFit, handle,
      c.args.empty() ? PluginArgs() : testing::ArgsFromYaml(c.args));
  NodeInfo node = TestNode().Info({MakePod("existing").Req(c.used).Info()});
  Status status = testing::RunFilter(*plugin, *c.pod.Info(), node);
  EXPECT_EQ(status.code(), c.code) << status.Message();
  EXPECT_EQ(status.reasons(), c.reasons);
}

const Code kOk = Code::kSuccess;
const Code kNo = Code::kUnschedulable;
const Code kNever = Code::kUnschedulableAndUnresolvable;

INSTANTIATE_TEST_SUITE_P(
    KubeSchedulerEnoughRequests, FitFilterTest,
    ::testing::Values(
        FilterCase{"NoResourcesRequestedAlwaysFits", MakePod("p"), {{"cpu", "10m"}, {"memory", "20"}},
                   kOk, {}},
        FilterCase{"TooManyResourcesFails", Pod({{"cpu", "1m"}, {"memory", "1"}}),
                   {{"cpu", "10m"}, {"memory", "20"}}, kNo,
                   {"Insufficient cpu", "Insufficient memory"}},
        FilterCase{"InitContainerCpu", InitPod({{"cpu", "1m"}, {"memory", "1"}}, {{{"cpu", "3m"}, {"memory", "1"}}}),
                   {{"cpu", "8m"}, {"memory", "19"}}, kNo, {"Insufficient cpu"}},
        FilterCase{"HighestInitContainerCpu",
                   InitPod({{"cpu", "1m"}, {"memory", "1"}},
                           {{{"cpu", "3m"}, {"memory", "1"}}, {{"cpu", "2m"}, {"memory", "1"}}}),
                   {{"cpu", "8m"}, {"memory", "19"}}, kNo, {"Insufficient cpu"}},
        FilterCase{"InitContainerMemory", InitPod({{"cpu", "1m"}, {"memory", "1"}}, {{{"cpu", "1m"}, {"memory", "3"}}}),
                   {{"cpu", "9m"}, {"memory", "19"}}, kNo, {"Insufficient memory"}},
        FilterCase{"HighestInitContainerMemory",
                   InitPod({{"cpu", "1m"}, {"memory", "1"}},
                           {{{"cpu", "1m"}, {"memory", "3"}}, {{"cpu", "1m"}, {"memory", "2"}}}),
                   {{"cpu", "9m"}, {"memory", "19"}}, kNo, {"Insufficient memory"}},
        FilterCase{"InitContainerIsMaxNotSum", InitPod({{"cpu", "1m"}, {"memory", "1"}}, {{{"cpu", "1m"}, {"memory", "1"}}}),
                   {{"cpu", "9m"}, {"memory", "19"}}, kOk, {}},
        FilterCase{"MultipleInitContainersAreMaxNotSum",
                   InitPod({{"cpu", "1m"}, {"memory", "1"}},
                           {{{"cpu", "1m"}, {"memory", "1"}}, {{"cpu", "1m"}, {"memory", "1"}}}),
                   {{"cpu", "9m"}, {"memory", "19"}}, kOk, {}},
        FilterCase{"BothResourcesFit", Pod({{"cpu", "1m"}, {"memory", "1"}}), {{"cpu", "5m"}, {"memory", "5"}}, kOk, {}},
        FilterCase{"OnlyMemoryFits", Pod({{"cpu", "2m"}, {"memory", "1"}}), {{"cpu", "9m"}, {"memory", "5"}}, kNo,
                   {"Insufficient cpu"}},
        FilterCase{"OnlyCpuFits", Pod({{"cpu", "1m"}, {"memory", "2"}}), {{"cpu", "5m"}, {"memory", "19"}}, kNo,
                   {"Insufficient memory"}},
        FilterCase{"EqualEdgeCase", Pod({{"cpu", "5m"}, {"memory", "1"}}), {{"cpu", "5m"}, {"memory", "19"}}, kOk, {}},
        FilterCase{"EqualEdgeCaseForInitContainer",
                   InitPod({{"cpu", "4m"}, {"memory", "1"}}, {{{"cpu", "5m"}, {"memory", "1"}}}),
                   {{"cpu", "5m"}, {"memory", "19"}}, kOk, {}},
        FilterCase{"ExtendedResourceFits", Pod({{"example.com/aaa", "1"}}), {}, kOk, {}},
        FilterCase{"ExtendedResourceFitsForInitContainer", InitPod({}, {{{"example.com/aaa", "1"}}}), {}, kOk, {}},
        // More than the node has at all: preemption cannot help.
        FilterCase{"ExtendedResourceCapacityEnforced",
                   Pod({{"cpu", "1m"}, {"memory", "1"}, {"example.com/aaa", "10"}}), {}, kNever,
                   {"Insufficient example.com/aaa"}},
        FilterCase{"ExtendedResourceCapacityEnforcedForInitContainer",
                   InitPod({}, {{{"cpu", "1m"}, {"memory", "1"}, {"example.com/aaa", "10"}}}), {}, kNever,
                   {"Insufficient example.com/aaa"}},
        FilterCase{"ExtendedResourceAllocatableEnforced",
                   Pod({{"cpu", "1m"}, {"memory", "1"}, {"example.com/aaa", "1"}}), {{"example.com/aaa", "5"}},
                   kNo, {"Insufficient example.com/aaa"}},
        FilterCase{"ExtendedResourceAllocatableEnforcedForInitContainer",
                   InitPod({}, {{{"cpu", "1m"}, {"memory", "1"}, {"example.com/aaa", "1"}}}),
                   {{"example.com/aaa", "5"}}, kNo, {"Insufficient example.com/aaa"}},
        FilterCase{"ExtendedResourceAllocatableEnforcedForMultipleContainers",
                   MakePod("p")
                       .Req({{"cpu", "1m"}, {"memory", "1"}, {"example.com/aaa", "3"}})
                       .Req({{"cpu", "1m"}, {"memory", "1"}, {"example.com/aaa", "3"}}),
                   {{"example.com/aaa", "2"}}, kNever, {"Insufficient example.com/aaa"}},
        FilterCase{"ExtendedResourceAdmitsMultipleInitContainers",
                   InitPod({}, {{{"cpu", "1m"}, {"memory", "1"}, {"example.com/aaa", "3"}},
                                {{"cpu", "1m"}, {"memory", "1"}, {"example.com/aaa", "3"}}}),
                   {{"example.com/aaa", "2"}}, kOk, {}},
        FilterCase{"ExtendedResourceEnforcedForMultipleInitContainers",
                   InitPod({}, {{{"cpu", "1m"}, {"memory", "1"}, {"example.com/aaa", "6"}},
                                {{"cpu", "1m"}, {"memory", "1"}, {"example.com/aaa", "3"}}}),
                   {{"example.com/aaa", "2"}}, kNever, {"Insufficient example.com/aaa"}},
        FilterCase{"UnknownExtendedResource", Pod({{"cpu", "1m"}, {"memory", "1"}, {"example.com/bbb", "1"}}), {},
                   kNever, {"Insufficient example.com/bbb"}},
        FilterCase{"UnknownExtendedResourceForInitContainer",
                   InitPod({}, {{{"cpu", "1m"}, {"memory", "1"}, {"example.com/bbb", "1"}}}), {}, kNever,
                   {"Insufficient example.com/bbb"}},
        FilterCase{"KubernetesIoResource",
                   Pod({{"cpu", "1m"}, {"memory", "1"}, {"kubernetes.io/something", "10"}}), {}, kNever,
                   {"Insufficient kubernetes.io/something"}},
        FilterCase{"KubernetesIoSubdomainResourceForInitContainer",
                   InitPod({}, {{{"cpu", "1m"}, {"memory", "1"}, {"subdomain.kubernetes.io/something", "10"}}}),
                   {}, kNever, {"Insufficient subdomain.kubernetes.io/something"}},
        FilterCase{"HugepagesCapacityEnforced", Pod({{"cpu", "1m"}, {"memory", "1"}, {"hugepages-2Mi", "10"}}), {},
                   kNever, {"Insufficient hugepages-2Mi"}},
        FilterCase{"HugepagesCapacityEnforcedForInitContainer",
                   InitPod({}, {{{"cpu", "1m"}, {"memory", "1"}, {"hugepages-2Mi", "10"}}}), {}, kNever,
                   {"Insufficient hugepages-2Mi"}},
        FilterCase{"HugepagesAllocatableEnforcedForMultipleContainers",
                   MakePod("p")
                       .Req({{"cpu", "1m"}, {"memory", "1"}, {"hugepages-2Mi", "3"}})
                       .Req({{"cpu", "1m"}, {"memory", "1"}, {"hugepages-2Mi", "3"}}),
                   {{"hugepages-2Mi", "2"}}, kNever, {"Insufficient hugepages-2Mi"}},
        FilterCase{"IgnoredExtendedResourceIsNotChecked",
                   Pod({{"cpu", "1m"}, {"memory", "1"}, {"example.com/bbb", "1"}}), {}, kOk, {},
                   "ignoredResources: [example.com/bbb]"},
        FilterCase{"ResourcesPlusOverheadFit",
                   Pod({{"cpu", "1m"}, {"memory", "1"}}).Overhead({{"cpu", "3m"}, {"memory", "13"}}),
                   {{"cpu", "5m"}, {"memory", "5"}}, kOk, {}},
        FilterCase{"RequestsPlusOverheadDoNotFitMemory",
                   Pod({{"cpu", "1m"}, {"memory", "1"}}).Overhead({{"cpu", "1m"}, {"memory", "15"}}),
                   {{"cpu", "5m"}, {"memory", "5"}}, kNo, {"Insufficient memory"}},
        FilterCase{"IgnoredResourceGroup",
                   Pod({{"cpu", "1m"}, {"memory", "1"}, {"example.com/bbb", "1"}, {"kubernetes.io/something", "1"}}),
                   {}, kNever, {"Insufficient kubernetes.io/something"}, "ignoredResourceGroups: [example.com]"},
        FilterCase{"IgnoredResourceGroupsNeverCoverNativeResources",
                   Pod({{"kubernetes.io/something", "1"}}), {}, kNever, {"Insufficient kubernetes.io/something"},
                   "ignoredResources: [kubernetes.io/something]"},
        FilterCase{"ZeroExtendedRequestIsNotChecked", Pod({{"cpu", "1m"}, {"memory", "1"}, {"example.com/aaa", "0"}}),
                   {{"example.com/aaa", "6"}}, kOk, {}},
        FilterCase{"OnlyNonZeroRequestsAreChecked", Pod({{"example.com/aaa", "1"}}),
                   {{"cpu", "20m"}, {"memory", "30"}, {"example.com/aaa", "1"}}, kOk, {}},
        // TestStorageRequests
        FilterCase{"EmptyStorageRequestedFits", Pod({{"cpu", "1m"}, {"memory", "1"}}), {{"cpu", "2m"}, {"memory", "10"}},
                   kOk, {}},
        FilterCase{"EphemeralStorageExceedsAllocatable", Pod({{"ephemeral-storage", "25"}}),
                   {{"cpu", "2m"}, {"memory", "2"}}, kNever, {"Insufficient ephemeral-storage"}},
        FilterCase{"EphemeralStorageExceedsWhatIsLeft", Pod({{"ephemeral-storage", "15"}}),
                   {{"ephemeral-storage", "10"}}, kNo, {"Insufficient ephemeral-storage"}},
        FilterCase{"EphemeralStorageIsSufficient", Pod({{"ephemeral-storage", "5"}}),
                   {{"cpu", "2m"}, {"memory", "2"}, {"ephemeral-storage", "10"}}, kOk, {}},
        FilterCase{"EphemeralStoragePodFits", Pod({{"ephemeral-storage", "10"}}), {{"cpu", "2m"}, {"memory", "2"}},
                   kOk, {}},
        // Sidecars count for the pod's whole life.
        FilterCase{"SidecarAddsToContainers",
                   MakePod("p").Req({{"cpu", "5m"}}).SidecarReq({{"cpu", "2m"}}), {{"cpu", "4m"}}, kNo,
                   {"Insufficient cpu"}},
        FilterCase{"ReasonsComeInKubernetesOrder",
                   Pod({{"cpu", "1m"}, {"memory", "1"}, {"ephemeral-storage", "1"}, {"hugepages-2Mi", "1"},
                        {"example.com/aaa", "1"}}),
                   {{"cpu", "10m"}, {"memory", "20"}, {"ephemeral-storage", "20"}, {"hugepages-2Mi", "5"},
                    {"example.com/aaa", "5"}},
                   kNo,
                   {"Insufficient cpu", "Insufficient memory", "Insufficient ephemeral-storage",
                    "Insufficient example.com/aaa", "Insufficient hugepages-2Mi"}}),
    [](const ::testing::TestParamInfo<FilterCase>& info) { return info.param.name; });

// TestNotEnoughRequests: a node allowing one pod, which it already runs.
TEST(FitTooManyPodsTest, PodCountIsCheckedEvenWithoutRequests) {
  testing::FakeSnapshot snapshot;
  testing::FakeHandle handle(&snapshot);
  std::unique_ptr<Plugin> plugin = testing::MakePlugin(&plugins::NewNodeResourcesFit, handle);
  NodeBuilder node = MakeNode("n").Allocatable({{"cpu", "10m"}, {"memory", "20"}, {"pods", "1"}});
  struct Case {
    PodBuilder pod;
    ResourceList used;
  };
  const Case cases[] = {
      {MakePod("p"), {{"cpu", "10m"}, {"memory", "20"}}},
      {Pod({{"cpu", "1m"}, {"memory", "1"}}), {{"cpu", "5m"}, {"memory", "5"}}},
      {Pod({{"cpu", "5m"}, {"memory", "1"}}), {{"cpu", "5m"}, {"memory", "19"}}},
      {InitPod({{"cpu", "5m"}, {"memory", "1"}}, {{{"cpu", "5m"}, {"memory", "1"}}}),
       {{"cpu", "5m"}, {"memory", "19"}}},
  };
  for (const Case& c : cases) {
    Status status = testing::RunFilter(*plugin, *c.pod.Info(),
                                       node.Info({MakePod("existing").Req(c.used).Info()}));
    EXPECT_EQ(status.code(), Code::kUnschedulable);
    EXPECT_THAT(status.reasons(), ElementsAre("Too many pods"));
  }
  // The pod count comes first among several reasons; it alone is never Unresolvable.
  Status status = testing::RunFilter(*plugin, *Pod({{"cpu", "1m"}}).Info(),
                                     node.Info({MakePod("existing").Req({{"cpu", "10m"}}).Info()}));
  EXPECT_EQ(status.code(), Code::kUnschedulable);
  EXPECT_THAT(status.reasons(), ElementsAre("Too many pods", "Insufficient cpu"));
}

TEST(FitFilterWithoutPreFilterTest, ComputesWhatPreFilterWould) {
  testing::FakeSnapshot snapshot;
  testing::FakeHandle handle(&snapshot);
  std::unique_ptr<Plugin> plugin = testing::MakePlugin(
      &plugins::NewNodeResourcesFit, handle, testing::ArgsFromYaml("ignoredResources: [example.com/aaa]"));
  CycleState state;
  Status status = testing::As<FilterPlugin>(*plugin).Filter(
      state, *Pod({{"cpu", "20m"}, {"example.com/aaa", "9"}}).Info(), TestNode().Info());
  EXPECT_EQ(status.code(), Code::kUnschedulableAndUnresolvable);
  EXPECT_THAT(status.reasons(), ElementsAre("Insufficient cpu"));
}

// ------------------------------------------------------------------ Score

struct ScoreSetup {
  std::vector<NodeBuilder> nodes;
  std::vector<PodBuilder> existing;  // each with .Node(name)
};

std::vector<int64_t> FitScores(std::string_view args, const PodBuilder& pod, const ScoreSetup& setup) {
  testing::FakeSnapshot snapshot(testing::BuildCluster(setup.nodes, setup.existing));
  testing::FakeHandle handle(&snapshot);
  std::unique_ptr<Plugin> plugin = testing::MakePlugin(
      &plugins::NewNodeResourcesFit, handle, args.empty() ? PluginArgs() : testing::ArgsFromYaml(args));
  if (plugin == nullptr) return {};
  testing::ScoreResult result = testing::RunScore(*plugin, *pod.Info(), snapshot.nodes());
  EXPECT_EQ(result.raw, result.normalized);  // no normalization: scores are 0..100
  return result.normalized;
}

NodeBuilder Node(std::string name, std::string cpu, std::string memory, ResourceList extra = {}) {
  ResourceList capacity = {{"cpu", std::move(cpu)}, {"memory", std::move(memory)}};
  capacity.insert(capacity.end(), extra.begin(), extra.end());
  return MakeNode(std::move(name)).Capacity(capacity);
}

PodBuilder On(std::string node, const ResourceList& requests) {
  PodBuilder pod = MakePod("existing-" + node + "-" + std::to_string(requests.size()));
  pod.Node(std::move(node));
  if (!requests.empty()) pod.Req(requests);
  return pod;
}

// A pod asking for 3000 cpu and 5000 memory in two containers (kube-scheduler's cores).
PodBuilder Pod3000x5000() {
  return MakePod("p").Req({{"cpu", "1000"}, {"memory", "2000"}}).Req({{"cpu", "2000"}, {"memory", "3000"}});
}

constexpr std::string_view kLeast = "scoringStrategy: {type: LeastAllocated}";
constexpr std::string_view kMost = "scoringStrategy: {type: MostAllocated}";
constexpr std::string_view kExtendedSet = "resources: [{name: cpu, weight: 1}, {name: memory, weight: 1}, "
                                          "{name: abc.com/xyz, weight: 1}]";

TEST(LeastAllocatedTest, NothingScheduledNothingRequested) {
  EXPECT_THAT(FitScores(kLeast, MakePod("p"), {{Node("node1", "4000", "10000"), Node("node2", "4000", "10000")}}),
              ElementsAre(100, 100));
  EXPECT_THAT(FitScores("", MakePod("p"), {{Node("node1", "4000", "10000")}}), ElementsAre(100));  // default
}

TEST(LeastAllocatedTest, DifferentlySizedNodes) {
  EXPECT_THAT(FitScores(kLeast, Pod3000x5000(), {{Node("node1", "4000", "10000"), Node("node2", "6000", "10000")}}),
              ElementsAre(37, 50));
}

TEST(LeastAllocatedTest, NoResourcesRequestedPodsScheduled) {
  ScoreSetup setup{{Node("node1", "4000", "10000"), Node("node2", "4000", "10000")},
                   {On("node1", {}), On("node1", {}), On("node2", {}), On("node2", {})}};
  EXPECT_THAT(FitScores(kLeast, MakePod("p"), setup), ElementsAre(100, 100));
}

TEST(LeastAllocatedTest, NoResourcesRequestedPodsScheduledWithResources) {
  ScoreSetup setup{{Node("node1", "10000", "20000"), Node("node2", "10000", "20000")},
                   {MakePod("a").Node("node1").Req({{"cpu", "3000"}, {"memory", "0"}}),
                    MakePod("b").Node("node1").Req({{"cpu", "3000"}, {"memory", "0"}}),
                    MakePod("c").Node("node2").Req({{"cpu", "3000"}, {"memory", "0"}}),
                    MakePod("d").Node("node2").Req({{"cpu", "3000"}, {"memory", "5000"}})}};
  EXPECT_THAT(FitScores(kLeast, MakePod("p"), setup), ElementsAre(70, 57));
}

TEST(LeastAllocatedTest, ResourcesRequestedPodsScheduledWithResources) {
  ScoreSetup setup{{Node("node1", "10000", "20000"), Node("node2", "10000", "20000")},
                   {MakePod("a").Node("node1").Req({{"cpu", "3000"}, {"memory", "0"}}),
                    MakePod("b").Node("node2").Req({{"cpu", "3000"}, {"memory", "5000"}})}};
  EXPECT_THAT(FitScores(kLeast, Pod3000x5000(), setup), ElementsAre(57, 45));
  setup.nodes[1] = Node("node2", "10000", "50000");
  EXPECT_THAT(FitScores(kLeast, Pod3000x5000(), setup), ElementsAre(57, 60));
}

TEST(LeastAllocatedTest, RequestsAboveCapacityScoreZeroForThatResource) {
  ScoreSetup setup{{Node("node1", "4000", "10000"), Node("node2", "4000", "10000")},
                   {MakePod("a").Node("node1").Req({{"cpu", "3000"}, {"memory", "0"}}),
                    MakePod("b").Node("node2").Req({{"cpu", "3000"}, {"memory", "5000"}})}};
  EXPECT_THAT(FitScores(kLeast, Pod({{"cpu", "3000"}, {"memory", "0"}}), setup), ElementsAre(50, 25));
}

TEST(LeastAllocatedTest, ZeroNodeResourcesScoreZero) {
  ScoreSetup setup{{MakeNode("node1"), MakeNode("node2")},
                   {MakePod("a").Node("node1").Req({{"cpu", "3000"}, {"memory", "0"}}),
                    MakePod("b").Node("node2").Req({{"cpu", "3000"}, {"memory", "5000"}})}};
  EXPECT_THAT(FitScores(kLeast, MakePod("p"), setup), ElementsAre(0, 0));
}

TEST(LeastAllocatedTest, ResourceWeights) {
  EXPECT_THAT(FitScores("scoringStrategy: {type: LeastAllocated, resources: [{name: memory, weight: 2}, "
                        "{name: cpu, weight: 1}]}",
                        Pod3000x5000(), {{Node("node1", "4000", "10000"), Node("node2", "6000", "10000")}}),
              ElementsAre(41, 50));
}

TEST(LeastAllocatedTest, ExtendedResourceThePodDoesNotRequestIsBypassed) {
  EXPECT_THAT(FitScores(fmt::format("scoringStrategy: {{type: LeastAllocated, {}}}", kExtendedSet), Pod3000x5000(),
                        {{Node("node1", "6000", "10000"), Node("node2", "6000", "10000", {{"abc.com/xyz", "4"}})}}),
              ElementsAre(50, 50));
}

TEST(LeastAllocatedTest, ExtendedResourceThePodRequestsIsScored) {
  EXPECT_THAT(FitScores(fmt::format("scoringStrategy: {{type: LeastAllocated, {}}}", kExtendedSet),
                        Pod({{"cpu", "3000"}, {"memory", "5000"}, {"abc.com/xyz", "2"}}),
                        {{Node("node1", "6000", "10000", {{"abc.com/xyz", "4"}}),
                          Node("node2", "6000", "10000", {{"abc.com/xyz", "10"}})}}),
              ElementsAre(50, 60));
}

TEST(LeastAllocatedTest, ResourceTheNodeLacksIsNotScored) {
  EXPECT_THAT(FitScores("scoringStrategy: {type: LeastAllocated, resources: [{name: abc.com/xyz, weight: 2}, "
                        "{name: cpu, weight: 1}, {name: memory, weight: 1}]}",
                        Pod({{"cpu", "3000"}, {"memory", "4000"}}),
                        {{Node("node1", "6000", "10000"), Node("node2", "6000", "10000", {{"abc.com/xyz", "4"}})}}),
              ElementsAre(55, 55));
}

TEST(MostAllocatedTest, NothingScheduledNothingRequested) {
  EXPECT_THAT(FitScores(kMost, MakePod("p"), {{Node("node1", "4000", "10000"), Node("node2", "4000", "10000")}}),
              ElementsAre(0, 0));
}

TEST(MostAllocatedTest, DifferentlySizedNodes) {
  EXPECT_THAT(FitScores(kMost, Pod3000x5000(), {{Node("node1", "4000", "10000"), Node("node2", "6000", "10000")}}),
              ElementsAre(62, 50));
}

TEST(MostAllocatedTest, PodsScheduledWithResources) {
  ScoreSetup setup{{Node("node1", "10000", "20000"), Node("node2", "10000", "20000")},
                   {MakePod("a").Node("node1").Req({{"cpu", "3000"}, {"memory", "0"}}),
                    MakePod("b").Node("node1").Req({{"cpu", "3000"}, {"memory", "0"}}),
                    MakePod("c").Node("node2").Req({{"cpu", "3000"}, {"memory", "0"}}),
                    MakePod("d").Node("node2").Req({{"cpu", "3000"}, {"memory", "5000"}})}};
  EXPECT_THAT(FitScores(kMost, MakePod("p"), setup), ElementsAre(30, 42));
  ScoreSetup two{{Node("node1", "10000", "20000"), Node("node2", "10000", "20000")},
                 {MakePod("a").Node("node1").Req({{"cpu", "3000"}, {"memory", "0"}}),
                  MakePod("b").Node("node2").Req({{"cpu", "3000"}, {"memory", "5000"}})}};
  EXPECT_THAT(FitScores(kMost, Pod3000x5000(), two), ElementsAre(42, 55));
}

TEST(MostAllocatedTest, RequestsEqualToCapacity) {
  PodBuilder pod = MakePod("p").Req({{"cpu", "2000"}, {"memory", "4000"}}).Req({{"cpu", "3000"}, {"memory", "5000"}});
  EXPECT_THAT(FitScores(kMost, pod, {{Node("node1", "5000", "10000"), Node("node2", "10000", "9000")}}),
              ElementsAre(95, 75));
}

TEST(MostAllocatedTest, ResourceWeights) {
  EXPECT_THAT(FitScores("scoringStrategy: {type: MostAllocated, resources: [{name: memory, weight: 2}, "
                        "{name: cpu, weight: 1}]}",
                        Pod3000x5000(), {{Node("node1", "4000", "10000"), Node("node2", "6000", "10000")}}),
              ElementsAre(58, 50));
}

TEST(MostAllocatedTest, ContainersWithoutRequestsCountAtTheNonZeroDefaults) {
  // 100m cpu and 200Mi memory per container: node1 300m of 250m (capped), 600Mi of 1000Mi.
  PodBuilder pod = MakePod("p").Req({});
  ScoreSetup setup{{Node("node1", "250m", "1000Mi"), Node("node2", "250m", "1000Mi")},
                   {MakePod("a").Node("node1").Req({}), MakePod("b").Node("node1").Req({})}};
  EXPECT_THAT(FitScores(kMost, pod, setup), ElementsAre(80, 30));
}

TEST(MostAllocatedTest, ExtendedResources) {
  std::string args = fmt::format("scoringStrategy: {{type: MostAllocated, {}}}", kExtendedSet);
  EXPECT_THAT(FitScores(args, Pod3000x5000(),
                        {{Node("node1", "6000", "10000"), Node("node2", "6000", "10000", {{"abc.com/xyz", "4"}})}}),
              ElementsAre(50, 50));
  EXPECT_THAT(FitScores(args, Pod({{"cpu", "3000"}, {"memory", "5000"}, {"abc.com/xyz", "2"}}),
                        {{Node("node1", "6000", "10000", {{"abc.com/xyz", "4"}}),
                          Node("node2", "6000", "10000", {{"abc.com/xyz", "10"}})}}),
              ElementsAre(50, 40));
  EXPECT_THAT(FitScores("scoringStrategy: {type: MostAllocated, resources: [{name: abc.com/xyz, weight: 2}, "
                        "{name: cpu, weight: 1}, {name: memory, weight: 1}]}",
                        Pod({{"cpu", "3000"}, {"memory", "4000"}}),
                        {{Node("node1", "6000", "10000"), Node("node2", "6000", "10000", {{"abc.com/xyz", "4"}})}}),
              ElementsAre(45, 45));
}

// ------------------------------------------------------------------ RequestedToCapacityRatio

std::string Ratio(std::string_view shape, std::string_view resources = "") {
  return fmt::format("scoringStrategy: {{type: RequestedToCapacityRatio, {}requestedToCapacityRatio: "
                     "{{shape: {}}}}}",
                     resources.empty() ? "" : fmt::format("resources: {}, ", resources), shape);
}
const std::string kLeastShape = "[{utilization: 0, score: 10}, {utilization: 100, score: 0}]";
const std::string kMostShape = "[{utilization: 0, score: 0}, {utilization: 100, score: 10}]";

TEST(RequestedToCapacityRatioTest, NothingRequestedScoresLikeLeastAllocated) {
  ScoreSetup setup{{Node("node1", "4000", "10000"), Node("node2", "4000", "10000")},
                   {On("node1", {}), On("node1", {})}};
  EXPECT_THAT(FitScores(Ratio(kLeastShape), MakePod("p"), setup), ElementsAre(100, 100));
}

TEST(RequestedToCapacityRatioTest, MeanIsRounded) {
  // node1: cpu 75% -> 25, memory 50% -> 50: 37.5 rounds to 38.
  ScoreSetup setup{{Node("node1", "4000", "10000"), Node("node2", "6000", "10000")},
                   {On("node1", {}), On("node1", {})}};
  EXPECT_THAT(FitScores(Ratio(kLeastShape), Pod3000x5000(), setup), ElementsAre(38, 50));
  ScoreSetup used{{Node("node1", "4000", "10000"), Node("node2", "6000", "10000")},
                  {MakePod("a").Node("node1").Req({{"cpu", "3000"}, {"memory", "5000"}}),
                   MakePod("b").Node("node2").Req({{"cpu", "3000"}, {"memory", "5000"}})}};
  EXPECT_THAT(FitScores(Ratio(kLeastShape), MakePod("p"), used), ElementsAre(38, 50));
}

TEST(RequestedToCapacityRatioTest, FitScoreCases) {
  ScoreSetup setup{{Node("node1", "4000", "10000"), Node("node2", "6000", "10000")},
                   {MakePod("a").Node("node1").Req({{"cpu", "2000"}, {"memory", "4000"}}),
                    MakePod("b").Node("node2").Req({{"cpu", "1000"}, {"memory", "2000"}})}};
  PodBuilder pod = Pod({{"cpu", "3000"}, {"memory", "5000"}});
  // node1 cpu is over capacity: utilization 100 scores 0 and drops out of the mean.
  EXPECT_THAT(FitScores(Ratio(kLeastShape), pod, setup), ElementsAre(10, 32));
  EXPECT_THAT(FitScores(Ratio(kMostShape), pod, setup), ElementsAre(95, 68));
  PodBuilder small = Pod({{"cpu", "1000"}, {"memory", "2000"}});
  EXPECT_THAT(FitScores(kMost, small, setup), ElementsAre(67, 36));
  EXPECT_THAT(FitScores(kLeast, small, setup), ElementsAre(32, 63));
}

TEST(RequestedToCapacityRatioTest, BrokenLinearInterpolation) {
  // One resource with capacity 100, so the pod's request is the utilization.
  auto score = [](std::string_view shape, int64_t utilization) {
    std::vector<int64_t> s =
        FitScores(Ratio(shape, "[{name: example.com/u, weight: 1}]"),
                  Pod({{"example.com/u", std::to_string(utilization)}}),
                  {{MakeNode("n").Capacity({{"example.com/u", "100"}})}});
    return s.empty() ? -1 : s[0];
  };
  const std::string a = "[{utilization: 10, score: 1}, {utilization: 90, score: 9}]";
  for (auto [p, want] : std::vector<std::pair<int64_t, int64_t>>{
           {1, 10}, {9, 10}, {10, 10}, {15, 15}, {19, 19}, {20, 20}, {89, 89}, {90, 90}, {99, 90}, {100, 90}}) {
    EXPECT_EQ(score(a, p), want) << "utilization " << p;
  }
  const std::string b = "[{utilization: 0, score: 2}, {utilization: 40, score: 10}, {utilization: 100, score: 0}]";
  for (auto [p, want] : std::vector<std::pair<int64_t, int64_t>>{
           {1, 22}, {20, 60}, {30, 80}, {40, 100}, {70, 50}, {99, 2}, {100, 0}}) {
    EXPECT_EQ(score(b, p), want) << "utilization " << p;
  }
  const std::string flat = "[{utilization: 0, score: 2}, {utilization: 40, score: 2}, {utilization: 100, score: 2}]";
  for (int64_t p : {1, 20, 40, 70, 100}) EXPECT_EQ(score(flat, p), 20) << "utilization " << p;
}

TEST(RequestedToCapacityRatioTest, SingleExtendedResourceBinPacking) {
  std::string args = Ratio("[{utilization: 0, score: 0}, {utilization: 100, score: 1}]",
                           "[{name: intel.com/foo, weight: 1}]");
  std::vector<NodeBuilder> nodes = {Node("node1", "4", "10000Mi", {{"intel.com/foo", "8"}}),
                                    Node("node2", "4", "10000Mi", {{"intel.com/foo", "4"}})};
  EXPECT_THAT(FitScores(args, MakePod("p"), {nodes}), ElementsAre(0, 0));
  EXPECT_THAT(FitScores(args, Pod({{"intel.com/foo", "2"}}), {nodes, {On("node1", {})}}), ElementsAre(2, 5));
  EXPECT_THAT(FitScores(args, Pod({{"intel.com/foo", "2"}}),
                        {nodes, {MakePod("x").Node("node2").Req({{"intel.com/foo", "2"}})}}),
              ElementsAre(2, 10));
  EXPECT_THAT(FitScores(args, Pod({{"intel.com/foo", "4"}}), {nodes}), ElementsAre(5, 10));
}

TEST(RequestedToCapacityRatioTest, MultipleExtendedResourcesWeighted) {
  std::string args = Ratio("[{utilization: 0, score: 0}, {utilization: 100, score: 1}]",
                           "[{name: intel.com/foo, weight: 3}, {name: intel.com/bar, weight: 5}]");
  std::vector<NodeBuilder> nodes = {Node("node1", "4", "10000Mi", {{"intel.com/foo", "8"}, {"intel.com/bar", "4"}}),
                                    Node("node2", "4", "10000Mi", {{"intel.com/foo", "4"}, {"intel.com/bar", "8"}})};
  EXPECT_THAT(FitScores(args, MakePod("p"), {nodes}), ElementsAre(0, 0));
  // node1: foo 25% -> 2, bar 50% -> 5: (2*3 + 5*5) / 8 = 3.875 -> 4; node2: (5*3 + 2*5) / 8 -> 3
  EXPECT_THAT(FitScores(args, Pod({{"intel.com/foo", "2"}, {"intel.com/bar", "2"}}), {nodes}), ElementsAre(4, 3));
}

// ------------------------------------------------------------------ args

TEST(FitArgsTest, InvalidArgsAreRefusedWithTheFieldPath) {
  testing::FakeSnapshot snapshot;
  testing::FakeHandle handle(&snapshot);
  auto make = [&](std::string_view yaml) {
    return plugins::NewNodeResourcesFit(testing::ArgsFromYaml(yaml), handle);
  };
  EXPECT_THAT(make("scoringStrategy: {type: LeastAllocated, resources: [{name: memory, weight: -1}, "
                   "{name: cpu, weight: 1}]}"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("scoringStrategy.resources[0].weight: Invalid value: -1: resource weight of "
                                 "memory not in valid range (0, 100]")));
  EXPECT_THAT(make("scoringStrategy: {type: MostAllocated, resources: [{name: memory, weight: 101}]}"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("scoringStrategy.resources[0].weight")));
  EXPECT_THAT(make("scoringStrategy: {type: Random}"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("scoringStrategy.type: Unsupported value: \"Random\"")));
  EXPECT_THAT(make("scoringStrategy: {type: RequestedToCapacityRatio}"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("scoringStrategy.shape: Required value: at least one point must be specified")));
  EXPECT_THAT(make(Ratio("[{utilization: 50, score: 1}, {utilization: 50, score: 2}]")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("scoringStrategy.shape[1].utilization: Invalid value: 50: values must be sorted")));
  EXPECT_THAT(make(Ratio("[{utilization: 101, score: 1}]")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("shape[0].utilization")));
  EXPECT_THAT(make(Ratio("[{utilization: 10, score: 11}]")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("shape[0].score: Invalid value: 11: not in valid range [0, 10]")));
  EXPECT_THAT(make("ignoredResourceGroups: [example.com/aaa]"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("ignoredResourceGroups[0]: Invalid value: \"example.com/aaa\": resource "
                                 "group name can't contain '/'")));
  EXPECT_THAT(make("ignoredResources: ['not a name']"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ignoredResources[0]")));
  EXPECT_THAT(make("ignoredResource: [x]"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(FitArgsTest, ZeroWeightDefaultsToOne) {
  // As Kubernetes' v1 defaulting: cpu weight 0 is cpu weight 1, so the mean is unweighted.
  EXPECT_THAT(FitScores("scoringStrategy: {type: LeastAllocated, resources: [{name: memory, weight: 1}, "
                        "{name: cpu}]}",
                        Pod3000x5000(), {{Node("node1", "4000", "10000")}}),
              ElementsAre(37));
}

TEST(FitEventsTest, RegistersPodDeletionAndNodeGrowth) {
  testing::FakeSnapshot snapshot;
  testing::FakeHandle handle(&snapshot);
  std::unique_ptr<Plugin> plugin = testing::MakePlugin(&plugins::NewNodeResourcesFit, handle);
  auto events = testing::As<EnqueueExtensions>(*plugin).EventsToRegister();
  auto matches = [&](ClusterEvent happened) {
    return std::any_of(events.begin(), events.end(),
                       [&](const ClusterEvent& e) { return e.Matches(happened); });
  };
  EXPECT_TRUE(matches({EventResource::kPod, kDelete}));
  EXPECT_TRUE(matches({EventResource::kPod, kUpdatePodScaleDown}));
  EXPECT_TRUE(matches({EventResource::kNode, kAdd}));
  EXPECT_TRUE(matches({EventResource::kNode, kUpdateNodeAllocatable}));
  EXPECT_FALSE(matches({EventResource::kNode, kUpdateNodeLabel}));
  EXPECT_FALSE(matches({EventResource::kPod, kAdd}));
}

}  // namespace
}  // namespace orch::scheduler
