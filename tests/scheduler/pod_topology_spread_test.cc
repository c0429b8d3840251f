// PodTopologySpread against the cases of kube-scheduler's own tables (filtering_test.go,
// scoring_test.go): which nodes pass Filter and why not, and each node's normalized score.
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orch/api/scheme.h"
#include "orch/api/v1/apps.pb.h"
#include "orch/base/executor.h"
#include "orch/client/client.h"
#include "orch/client/informer.h"
#include "orch/scheduler/framework.h"
#include "orch/scheduler/registry.h"
#include "orch/store/memory_store.h"
#include "scheduler/fake_handle.h"
#include "scheduler/plugins/factories.h"
#include "scheduler/spread_affinity_objects.h"
#include "scheduler/test_objects.h"
#include "support/status_matchers.h"

namespace orch::scheduler {
namespace {

using ::orch::scheduler::testing::BuildCluster;
using ::orch::scheduler::testing::FakeHandle;
using ::orch::scheduler::testing::FakeSnapshot;
using ::orch::scheduler::testing::FilterOutcome;
using ::orch::scheduler::testing::InfoOf;
using ::orch::scheduler::testing::JsonStruct;
using ::orch::scheduler::testing::kFits;
using ::orch::scheduler::testing::MakeNode;
using ::orch::scheduler::testing::MakePod;
using ::orch::scheduler::testing::NodeBuilder;
using ::orch::scheduler::testing::ObjectFromYaml;
using ::orch::scheduler::testing::PodBuilder;
using ::orch::scheduler::testing::Terminating;
using ::orch::testing::IsOk;
using ::orch::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

constexpr char kHostname[] = "kubernetes.io/hostname";

// Filter outcomes (FilterOutcome).
constexpr char kSkew[] = "Unschedulable: node(s) didn't match pod topology spread constraints";
constexpr char kNoLabel[] =
    "UnschedulableAndUnresolvable: node(s) didn't match pod topology spread constraints "
    "(missing required label)";

// ------------------------------------------------------------------ fixtures

struct SpreadOptions {
  std::optional<int32_t> min_domains;
  std::optional<std::string> node_affinity_policy;
  std::optional<std::string> node_taints_policy;
  std::vector<std::string> match_label_keys;
};

api::v1::LabelSelector Exists(const std::string& key) {
  api::v1::LabelSelector s;
  auto* r = s.add_match_expressions();
  r->set_key(key);
  r->set_operator_("Exists");
  return s;
}
api::v1::LabelSelector Equals(const std::string& key, const std::string& value) {
  api::v1::LabelSelector s;
  (*s.mutable_match_labels())[key] = value;
  return s;
}
const api::v1::LabelSelector kFoo = Exists("foo");
const api::v1::LabelSelector kBar = Exists("bar");

// A topologySpreadConstraint; no selector (std::nullopt) is the "null selector".
api::v1::TopologySpreadConstraint Spread(int32_t max_skew, std::string key, std::string action,
                                         std::optional<api::v1::LabelSelector> selector,
                                         const SpreadOptions& options = {}) {
  api::v1::TopologySpreadConstraint c;
  c.set_max_skew(max_skew);
  c.set_topology_key(std::move(key));
  c.set_when_unsatisfiable(std::move(action));
  if (selector.has_value()) *c.mutable_label_selector() = *selector;
  if (options.min_domains) c.set_min_domains(*options.min_domains);
  if (options.node_affinity_policy) c.set_node_affinity_policy(*options.node_affinity_policy);
  if (options.node_taints_policy) c.set_node_taints_policy(*options.node_taints_policy);
  for (const std::string& k : options.match_label_keys) c.add_match_label_keys(k);
  return c;
}
api::v1::TopologySpreadConstraint Hard(int32_t max_skew, std::string key,
                                       std::optional<api::v1::LabelSelector> selector,
                                       const SpreadOptions& options = {}) {
  return Spread(max_skew, std::move(key), "DoNotSchedule", std::move(selector), options);
}
api::v1::TopologySpreadConstraint Soft(int32_t max_skew, std::string key,
                                       std::optional<api::v1::LabelSelector> selector,
                                       const SpreadOptions& options = {}) {
  return Spread(max_skew, std::move(key), "ScheduleAnyway", std::move(selector), options);
}

// The pod of `builder` with `constraints` added.
PodInfoPtr WithSpread(const PodBuilder& builder,
                      const std::vector<api::v1::TopologySpreadConstraint>& constraints) {
  api::v1::Pod pod = builder.Obj();
  for (const auto& c : constraints) *pod.mutable_spec()->add_topology_spread_constraints() = c;
  return InfoOf(std::move(pod));
}

// An existing pod with label foo="" on `node`.
PodInfoPtr Foo(const std::string& name, const std::string& node) {
  return MakePod(name).Node(node).Label("foo", "").Info();
}

NodeBuilder ZoneNode(const std::string& name, const std::string& zone) {
  return MakeNode(name).Label("zone", zone).Label("node", name);
}
NodeBuilder HostNode(const std::string& name) { return MakeNode(name).Label(kHostname, name); }

// The four nodes most of Kubernetes' cases use: a, b in zone1; x, y in zone2.
std::vector<NodeBuilder> FourNodes() {
  return {ZoneNode("node-a", "zone1"), ZoneNode("node-b", "zone1"), ZoneNode("node-x", "zone2"),
          ZoneNode("node-y", "zone2")};
}

const char kNodeAffinityNotInNodeX[] = R"(
affinity:
  nodeAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      nodeSelectorTerms: [{matchExpressions: [{key: node, operator: NotIn, values: [node-x]}]}]
)";

class PodTopologySpreadTest : public testing::CrossNodePluginTest {
 protected:
  void MakePlugin(const std::string& args_json = R"({"defaultingType": "List"})") {
    CreatePlugin(&plugins::NewPodTopologySpread, args_json);
  }
  void SetUp() override { MakePlugin(); }
};

using StringMap = std::map<std::string, std::string>;
using ScoreMap = std::map<std::string, int64_t>;

// ------------------------------------------------------------------ plugin basics

TEST_F(PodTopologySpreadTest, IsNotNodeLocalAndRegistersPodAndNodeEvents) {
  EXPECT_EQ(plugin_->Name(), "PodTopologySpread");
  EXPECT_FALSE(plugin_->NodeLocal());
  auto* events = dynamic_cast<EnqueueExtensions*>(plugin_.get());
  ASSERT_NE(events, nullptr);
  std::vector<ClusterEvent> registered = events->EventsToRegister();
  ASSERT_EQ(registered.size(), 2u);
  EXPECT_EQ(registered[0].resource, EventResource::kPod);
  EXPECT_EQ(registered[0].actions, static_cast<uint32_t>(kAdd | kUpdatePodLabel | kDelete));
  EXPECT_EQ(registered[1].resource, EventResource::kNode);
  EXPECT_EQ(registered[1].actions,
            static_cast<uint32_t>(kAdd | kDelete | kUpdateNodeLabel | kUpdateNodeTaint));
  EXPECT_FALSE(registered[1].Matches({EventResource::kNode, kUpdateNodeAllocatable}));
}

TEST_F(PodTopologySpreadTest, SkipsPodsWithoutConstraints) {
  SetCluster(FourNodes(), {});
  PodInfoPtr pod = MakePod("p").Label("foo", "").Info();
  CycleState state;
  PreFilterResult result;
  EXPECT_TRUE(pre_filter_->PreFilter(state, *pod, &result).IsSkip());
  EXPECT_TRUE(pre_score_->PreScore(state, *pod, snapshot_.nodes()).IsSkip());
}

TEST_F(PodTopologySpreadTest, SkipsFilterWhenOnlySoftConstraintsAndScoreWhenOnlyHard) {
  SetCluster(FourNodes(), {});
  CycleState state;
  PreFilterResult result;
  PodInfoPtr soft = WithSpread(MakePod("p").Label("foo", ""), {Soft(1, "zone", kFoo)});
  EXPECT_TRUE(pre_filter_->PreFilter(state, *soft, &result).IsSkip());
  PodInfoPtr hard = WithSpread(MakePod("p").Label("foo", ""), {Hard(1, "zone", kFoo)});
  EXPECT_TRUE(pre_score_->PreScore(state, *hard, snapshot_.nodes()).IsSkip());
}

TEST_F(PodTopologySpreadTest, FilterWithoutPreFilterIsAnError) {
  SetCluster(FourNodes(), {});
  PodInfoPtr pod = WithSpread(MakePod("p").Label("foo", ""), {Hard(1, "zone", kFoo)});
  CycleState state;
  EXPECT_EQ(filter_->Filter(state, *pod, Node("node-a")).code(), Code::kError);
}

// ------------------------------------------------------------------ Filter, one constraint

TEST_F(PodTopologySpreadTest, NoExistingPodsEveryNodeFits) {
  SetCluster(FourNodes(), {});
  EXPECT_EQ(RunFilter(*WithSpread(MakePod("p").Label("foo", ""), {Hard(1, "zone", kFoo)})),
            (StringMap{{"node-a", kFits}, {"node-b", kFits}, {"node-x", kFits}, {"node-y", kFits}}));
  // The pod does not even match its own constraint.
  EXPECT_EQ(RunFilter(*WithSpread(MakePod("p").Label("foo", ""), {Hard(1, "zone", kBar)})),
            (StringMap{{"node-a", kFits}, {"node-b", kFits}, {"node-x", kFits}, {"node-y", kFits}}));
}

TEST_F(PodTopologySpreadTest, PodsOfOtherNamespacesDoNotCount) {
  SetCluster(FourNodes(), {MakePod("p-a1").Namespace("ns1").Node("node-a").Label("foo", "").Info(),
                           MakePod("p-b1").Namespace("ns2").Node("node-a").Label("foo", "").Info(),
                           Foo("p-x1", "node-x"), Foo("p-y1", "node-y")});
  EXPECT_EQ(RunFilter(*WithSpread(MakePod("p").Label("foo", ""), {Hard(1, "zone", kFoo)})),
            (StringMap{{"node-a", kFits}, {"node-b", kFits}, {"node-x", kSkew}, {"node-y", kSkew}}));
}

TEST_F(PodTopologySpreadTest, NullSelectorMatchesNoPod) {
  SetCluster(FourNodes(), {Foo("p-x1", "node-x"), Foo("p-y1", "node-y")});
  EXPECT_EQ(RunFilter(*WithSpread(MakePod("p").Label("foo", ""), {Hard(1, "zone", std::nullopt)})),
            (StringMap{{"node-a", kFits}, {"node-b", kFits}, {"node-x", kFits}, {"node-y", kFits}}));
}

TEST_F(PodTopologySpreadTest, EmptySelectorMatchesEveryPod) {
  // An empty (not null) selector selects all pods of the namespace, labelled or not.
  SetCluster(FourNodes(), {MakePod("p-x1").Node("node-x").Info(), Foo("p-y1", "node-y")});
  EXPECT_EQ(RunFilter(*WithSpread(MakePod("p"), {Hard(1, "zone", api::v1::LabelSelector())})),
            (StringMap{{"node-a", kFits}, {"node-b", kFits}, {"node-x", kSkew}, {"node-y", kSkew}}));
}

TEST_F(PodTopologySpreadTest, ZonesSpreadThreeThreeEveryNodeFits) {
  SetCluster(FourNodes(), {Foo("p-a1", "node-a"), Foo("p-a2", "node-a"), Foo("p-b1", "node-b"),
                           Foo("p-y1", "node-y"), Foo("p-y2", "node-y"), Foo("p-y3", "node-y")});
  EXPECT_EQ(RunFilter(*WithSpread(MakePod("p").Label("foo", ""), {Hard(1, "zone", kFoo)})),
            (StringMap{{"node-a", kFits}, {"node-b", kFits}, {"node-x", kFits}, {"node-y", kFits}}));
}

TEST_F(PodTopologySpreadTest, NodeWithoutTheTopologyLabelIsUnresolvableAndNotCounted) {
  // node-b's label is misspelled: its pod does not count, so zones spread 1/2.
  SetCluster({ZoneNode("node-a", "zone1"), MakeNode("node-b").Label("zon", "zone1").Label("node", "node-b"),
              ZoneNode("node-x", "zone2"), ZoneNode("node-y", "zone2")},
             {Foo("p-a1", "node-a"), Foo("p-b1", "node-b"), Foo("p-x1", "node-x"), Foo("p-y1", "node-y")});
  EXPECT_EQ(RunFilter(*WithSpread(MakePod("p").Label("foo", ""), {Hard(1, "zone", kFoo)})),
            (StringMap{{"node-a", kFits}, {"node-b", kNoLabel}, {"node-x", kSkew}, {"node-y", kSkew}}));
}

TEST_F(PodTopologySpreadTest, NoNodeHasTheTopologyLabel) {
  SetCluster({ZoneNode("node-a", "zone1"), ZoneNode("node-x", "zone2")}, {});
  EXPECT_EQ(RunFilter(*WithSpread(MakePod("p").Label("foo", ""), {Hard(1, "rack", kFoo)})),
            (StringMap{{"node-a", kNoLabel}, {"node-x", kNoLabel}}));
}

TEST_F(PodTopologySpreadTest, NodesSpreadTwoOneZeroThree) {
  const std::vector<PodInfoPtr> pods = {Foo("p-a1", "node-a"), Foo("p-a2", "node-a"),
                                        Foo("p-b1", "node-b"), Foo("p-y1", "node-y"),
                                        Foo("p-y2", "node-y"), Foo("p-y3", "node-y")};
  SetCluster(FourNodes(), pods);
  EXPECT_EQ(RunFilter(*WithSpread(MakePod("p").Label("foo", ""), {Hard(1, "node", kFoo)})),
            (StringMap{{"node-a", kSkew}, {"node-b", kSkew}, {"node-x", kFits}, {"node-y", kSkew}}));
  // maxSkew 2 lets node-b in too.
  EXPECT_EQ(RunFilter(*WithSpread(MakePod("p").Label("foo", ""), {Hard(2, "node", kFoo)})),
            (StringMap{{"node-a", kSkew}, {"node-b", kFits}, {"node-x", kFits}, {"node-y", kSkew}}));
  // A pod that does not match itself adds nothing to its domain.
  EXPECT_EQ(RunFilter(*WithSpread(MakePod("p").Label("bar", ""), {Hard(1, "node", kFoo)})),
            (StringMap{{"node-a", kSkew}, {"node-b", kFits}, {"node-x", kFits}, {"node-y", kSkew}}));
}

TEST_F(PodTopologySpreadTest, OnlyNodesMatchingTheNodeAffinityAreCounted) {
  SetCluster(FourNodes(), {Foo("p-a1", "node-a"), Foo("p-a2", "node-a"), Foo("p-b1", "node-b"),
                           Foo("p-y1", "node-y"), Foo("p-y2", "node-y"), Foo("p-y3", "node-y")});
  // Only node-a and node-y count: 2/~1~/~0~/3. (node-b and node-x pass here; NodeAffinity
  // is what rejects them.)
  PodBuilder pod = MakePod("p").Label("foo", "").SpecYaml(R"(
affinity:
  nodeAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      nodeSelectorTerms: [{matchExpressions: [{key: node, operator: In, values: [node-a, node-y]}]}]
)");
  EXPECT_EQ(RunFilter(*WithSpread(pod, {Hard(1, "node", kFoo)})),
            (StringMap{{"node-a", kFits}, {"node-b", kFits}, {"node-x", kFits}, {"node-y", kSkew}}));
}

TEST_F(PodTopologySpreadTest, NodeAffinityExcludesADomainsPods) {
  // node-b is excluded, so zone1 counts 0 (its two pods on node-b do not count).
  SetCluster(FourNodes(), {Foo("p-b1", "node-b"), Foo("p-b2", "node-b"), Foo("p-y1", "node-y")});
  PodBuilder pod = MakePod("p").Label("foo", "").SpecYaml(R"(
affinity:
  nodeAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      nodeSelectorTerms: [{matchExpressions: [{key: node, operator: NotIn, values: [node-b]}]}]
)");
  EXPECT_EQ(RunFilter(*WithSpread(pod, {Hard(1, "zone", kFoo)})),
            (StringMap{{"node-a", kFits}, {"node-b", kFits}, {"node-x", kSkew}, {"node-y", kSkew}}));
}

TEST_F(PodTopologySpreadTest, TerminatingPodsAreNotCounted) {
  SetCluster({MakeNode("node-a").Label("node", "node-a"), MakeNode("node-b").Label("node", "node-b")},
             {Terminating(MakePod("p-a").Node("node-a").Label("foo", "")), Foo("p-b", "node-b")});
  EXPECT_EQ(RunFilter(*WithSpread(MakePod("p").Label("foo", ""), {Hard(1, "node", kFoo)})),
            (StringMap{{"node-a", kFits}, {"node-b", kSkew}}));
}

TEST_F(PodTopologySpreadTest, MinDomainsTreatsTheGlobalMinimumAsZero) {
  const std::vector<NodeBuilder> nodes = {MakeNode("node-a").Label("node", "node-a"),
                                          MakeNode("node-b").Label("node", "node-b"),
                                          MakeNode("node-c").Label("node", "node-c")};
  SetCluster(nodes, {Foo("p-a1", "node-a"), Foo("p-a2", "node-a"), Foo("p-b1", "node-b"),
                     Foo("p-b2", "node-b"), Foo("p-c1", "node-c")});
  // 2/2/1 with 3 domains < minDomains 4: the minimum counts as 0.
  EXPECT_EQ(RunFilter(*WithSpread(MakePod("p").Label("foo", ""),
                                  {Hard(2, "node", kFoo, {.min_domains = 4})})),
            (StringMap{{"node-a", kSkew}, {"node-b", kSkew}, {"node-c", kFits}}));
  // 3 domains >= minDomains 2: the real minimum (1).
  EXPECT_EQ(RunFilter(*WithSpread(MakePod("p").Label("foo", ""),
                                  {Hard(2, "node", kFoo, {.min_domains = 2})})),
            (StringMap{{"node-a", kFits}, {"node-b", kFits}, {"node-c", kFits}}));
}

TEST_F(PodTopologySpreadTest, MinDomainsOnZones) {
  SetCluster(FourNodes(), {Foo("p-b1", "node-a"), Foo("p-b2", "node-b"), Foo("p-y1", "node-y")});
  EXPECT_EQ(RunFilter(*WithSpread(MakePod("p").Label("foo", ""),
                                  {Hard(2, "zone", kFoo, {.min_domains = 3})})),
            (StringMap{{"node-a", kSkew}, {"node-b", kSkew}, {"node-x", kFits}, {"node-y", kFits}}));
  EXPECT_EQ(RunFilter(*WithSpread(MakePod("p").Label("foo", ""),
                                  {Hard(2, "zone", kFoo, {.min_domains = 1})})),
            (StringMap{{"node-a", kFits}, {"node-b", kFits}, {"node-x", kFits}, {"node-y", kFits}}));
}

class NodeInclusionPolicyTest : public PodTopologySpreadTest {
 protected:
  // Nodes a, b, x carry foo=""; y does not (or is tainted). Pods spread 1/1/0/1.
  void SetClusterWithOddNodeY(bool taint_y) {
    NodeBuilder y = MakeNode("node-y").Label("node", "node-y");
    if (taint_y) y.Taint("node.kubernetes.io/unschedulable", "", "NoSchedule");
    SetCluster({MakeNode("node-a").Label("node", "node-a").Label("foo", ""),
                MakeNode("node-b").Label("node", "node-b").Label("foo", ""),
                MakeNode("node-x").Label("node", "node-x").Label("foo", ""), y},
               {Foo("p-b1", "node-a"), Foo("p-b2", "node-b"), Foo("p-y1", "node-y")});
  }
};

TEST_F(NodeInclusionPolicyTest, NodeAffinityPolicyHonorAndIgnore) {
  SetClusterWithOddNodeY(false);
  PodBuilder selector_pod = MakePod("p").Label("foo", "").NodeSelector("foo", "");
  // Honor (the default): node-y is out, 1/1/0/~0~.
  EXPECT_EQ(RunFilter(*WithSpread(selector_pod, {Hard(1, "node", kFoo)})),
            (StringMap{{"node-a", kSkew}, {"node-b", kSkew}, {"node-x", kFits}, {"node-y", kFits}}));
  // Ignore: node-y counts, 1/1/0/1.
  EXPECT_EQ(RunFilter(*WithSpread(selector_pod,
                                  {Hard(1, "node", kFoo, {.node_affinity_policy = "Ignore"})})),
            (StringMap{{"node-a", kSkew}, {"node-b", kSkew}, {"node-x", kFits}, {"node-y", kSkew}}));

  PodBuilder affinity_pod = MakePod("p").Label("foo", "").SpecYaml(R"(
affinity:
  nodeAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      nodeSelectorTerms: [{matchExpressions: [{key: foo, operator: In, values: [""]}]}]
)");
  EXPECT_EQ(RunFilter(*WithSpread(affinity_pod, {Hard(1, "node", kFoo)})),
            (StringMap{{"node-a", kSkew}, {"node-b", kSkew}, {"node-x", kFits}, {"node-y", kFits}}));
  EXPECT_EQ(RunFilter(*WithSpread(affinity_pod,
                                  {Hard(1, "node", kFoo, {.node_affinity_policy = "Ignore"})})),
            (StringMap{{"node-a", kSkew}, {"node-b", kSkew}, {"node-x", kFits}, {"node-y", kSkew}}));
}

TEST_F(NodeInclusionPolicyTest, NodeTaintsPolicyHonorAndIgnore) {
  SetClusterWithOddNodeY(true);
  PodBuilder pod = MakePod("p").Label("foo", "");
  // Honor: the untolerated NoSchedule taint takes node-y out.
  EXPECT_EQ(RunFilter(*WithSpread(pod, {Hard(1, "node", kFoo, {.node_taints_policy = "Honor"})})),
            (StringMap{{"node-a", kSkew}, {"node-b", kSkew}, {"node-x", kFits}, {"node-y", kFits}}));
  // Ignore (the default): node-y counts.
  EXPECT_EQ(RunFilter(*WithSpread(pod, {Hard(1, "node", kFoo)})),
            (StringMap{{"node-a", kSkew}, {"node-b", kSkew}, {"node-x", kFits}, {"node-y", kSkew}}));
  // Honor, but the pod tolerates the taint: node-y counts again.
  PodBuilder tolerating = MakePod("p").Label("foo", "").Toleration(
      "node.kubernetes.io/unschedulable", "Exists", "", "NoSchedule");
  EXPECT_EQ(RunFilter(*WithSpread(tolerating,
                                  {Hard(1, "node", kFoo, {.node_taints_policy = "Honor"})})),
            (StringMap{{"node-a", kSkew}, {"node-b", kSkew}, {"node-x", kFits}, {"node-y", kSkew}}));
}

TEST_F(PodTopologySpreadTest, MatchLabelKeysAreAndedWithTheSelector) {
  SetCluster(FourNodes(), {Foo("p-a1", "node-a"), MakePod("p-a2").Node("node-a").Label("foo", "").Label("bar", "a").Info(),
                           Foo("p-b1", "node-b"), MakePod("p-y1").Node("node-y").Label("foo", "").Label("bar", "a").Info(),
                           MakePod("p-y2").Node("node-y").Label("bar", "").Info()});
  // Selector foo exists AND bar=a: zones count 1/1, every node fits with maxSkew 1.
  PodBuilder pod = MakePod("p").Label("foo", "").Label("bar", "a");
  EXPECT_EQ(RunFilter(*WithSpread(pod, {Hard(1, "zone", kFoo, {.match_label_keys = {"bar"}})})),
            (StringMap{{"node-a", kFits}, {"node-b", kFits}, {"node-x", kFits}, {"node-y", kFits}}));
  // Without matchLabelKeys the zones count 3/1.
  EXPECT_EQ(RunFilter(*WithSpread(pod, {Hard(1, "zone", kFoo)})),
            (StringMap{{"node-a", kSkew}, {"node-b", kSkew}, {"node-x", kFits}, {"node-y", kFits}}));
  // A key the pod does not carry adds nothing.
  EXPECT_EQ(RunFilter(*WithSpread(pod, {Hard(1, "zone", kFoo, {.match_label_keys = {"baz"}})})),
            (StringMap{{"node-a", kSkew}, {"node-b", kSkew}, {"node-x", kFits}, {"node-y", kFits}}));
}

TEST_F(PodTopologySpreadTest, MatchLabelKeysDoNotTurnANullSelectorIntoOne) {
  SetCluster(FourNodes(), {MakePod("p-a1").Node("node-a").Label("foo", "a").Info(),
                           MakePod("p-a2").Node("node-a").Label("foo", "a").Info()});
  PodBuilder pod = MakePod("p").Label("foo", "a");
  // A null selector still matches nothing: every node fits.
  EXPECT_EQ(RunFilter(*WithSpread(pod, {Hard(1, "zone", std::nullopt, {.match_label_keys = {"foo"}})})),
            (StringMap{{"node-a", kFits}, {"node-b", kFits}, {"node-x", kFits}, {"node-y", kFits}}));
  // An empty selector plus matchLabelKeys selects foo=a: zones count 2/0.
  EXPECT_EQ(RunFilter(*WithSpread(pod, {Hard(1, "zone", api::v1::LabelSelector(),
                                              {.match_label_keys = {"foo"}})})),
            (StringMap{{"node-a", kSkew}, {"node-b", kSkew}, {"node-x", kFits}, {"node-y", kFits}}));
}

// ------------------------------------------------------------------ Filter, several constraints

TEST_F(PodTopologySpreadTest, TwoConstraintsIntersect) {
  PodInfoPtr pod = WithSpread(MakePod("p").Label("foo", ""), {Hard(1, "zone", kFoo), Hard(1, "node", kFoo)});
  // zones 3/3 allow any node; nodes 2/1/0/3 allow node-x.
  SetCluster(FourNodes(), {Foo("p-a1", "node-a"), Foo("p-a2", "node-a"), Foo("p-b1", "node-b"),
                           Foo("p-y1", "node-y"), Foo("p-y2", "node-y"), Foo("p-y3", "node-y")});
  EXPECT_EQ(RunFilter(*pod),
            (StringMap{{"node-a", kSkew}, {"node-b", kSkew}, {"node-x", kFits}, {"node-y", kSkew}}));
  // zones 3/4 allow zone1; nodes 2/1/0/4 allow node-x: nothing is left.
  SetCluster(FourNodes(), {Foo("p-a1", "node-a"), Foo("p-a2", "node-a"), Foo("p-b1", "node-b"),
                           Foo("p-y1", "node-y"), Foo("p-y2", "node-y"), Foo("p-y3", "node-y"),
                           Foo("p-y4", "node-y")});
  EXPECT_EQ(RunFilter(*pod),
            (StringMap{{"node-a", kSkew}, {"node-b", kSkew}, {"node-x", kSkew}, {"node-y", kSkew}}));
}

TEST_F(PodTopologySpreadTest, ConstraintsWithDifferentSelectors) {
  PodInfoPtr pod = WithSpread(MakePod("p").Label("foo", "").Label("bar", ""),
                              {Hard(1, "zone", kFoo), Hard(1, "node", kBar)});
  // zone (foo) 1/0 allows zone2; node (bar) 0/0/0/1 allows a, b, x: node-x.
  SetCluster(FourNodes(), {Foo("p-a1", "node-a"), MakePod("p-y1").Node("node-y").Label("bar", "").Info()});
  EXPECT_EQ(RunFilter(*pod),
            (StringMap{{"node-a", kSkew}, {"node-b", kSkew}, {"node-x", kFits}, {"node-y", kSkew}}));
  // zone (foo) 2/3 allows zone1; node (bar) 1/0/0/1 allows b, x: node-b.
  SetCluster(FourNodes(), {Foo("p-a1", "node-a"),
                           MakePod("p-a2").Node("node-a").Label("foo", "").Label("bar", "").Info(),
                           Foo("p-y1", "node-y"),
                           MakePod("p-y2").Node("node-y").Label("foo", "").Label("bar", "").Info(),
                           Foo("p-y3", "node-y")});
  EXPECT_EQ(RunFilter(*pod),
            (StringMap{{"node-a", kSkew}, {"node-b", kFits}, {"node-x", kSkew}, {"node-y", kSkew}}));
}

TEST_F(PodTopologySpreadTest, TwoConstraintsOneNodeMissingALabel) {
  SetCluster({ZoneNode("node-a", "zone1"), ZoneNode("node-b", "zone1"),
              MakeNode("node-x").Label("zone", "zone2"), ZoneNode("node-y", "zone2")},
             {Foo("p-a1", "node-a"), Foo("p-y3", "node-y")});
  EXPECT_EQ(RunFilter(*WithSpread(MakePod("p").Label("foo", ""),
                                  {Hard(1, "zone", kFoo), Hard(1, "node", kFoo)})),
            (StringMap{{"node-a", kSkew}, {"node-b", kFits}, {"node-x", kNoLabel}, {"node-y", kSkew}}));
}

TEST_F(PodTopologySpreadTest, TwoConstraintsWithTheirOwnInclusionPolicies) {
  // zone honors node affinity (zones 2/~0~... only a, b, x carry foo), node ignores it.
  SetCluster({ZoneNode("node-a", "zone1").Label("foo", ""), ZoneNode("node-b", "zone1").Label("foo", ""),
              ZoneNode("node-x", "zone2").Label("foo", ""), ZoneNode("node-y", "zone2")},
             {Foo("p-a1", "node-a"), Foo("p-b1", "node-b"), Foo("p-y1", "node-y")});
  PodBuilder pod = MakePod("p").Label("foo", "").NodeSelector("foo", "");
  EXPECT_EQ(RunFilter(*WithSpread(pod, {Hard(1, "zone", kFoo),
                                        Hard(1, "node", kFoo, {.node_affinity_policy = "Ignore"})})),
            (StringMap{{"node-a", kSkew}, {"node-b", kSkew}, {"node-x", kFits}, {"node-y", kSkew}}));
}

// ------------------------------------------------------------------ AddPod / RemovePod

TEST_F(PodTopologySpreadTest, AddPodRaisesTheDomainAndTheCriticalPath) {
  SetCluster({ZoneNode("node-a", "zone1"), ZoneNode("node-b", "zone1")}, {});
  PodInfoPtr pod = WithSpread(MakePod("p").Label("foo", ""), {Hard(1, "node", kFoo)});
  CycleState state;
  PreFilterResult result;
  ASSERT_TRUE(pre_filter_->PreFilter(state, *pod, &result).ok());
  EXPECT_EQ(FilterAll(state, *pod), (StringMap{{"node-a", kFits}, {"node-b", kFits}}));

  ASSERT_TRUE(pre_filter_->AddPod(state, *pod, *Foo("p-a1", "node-a"), Node("node-a")).ok());
  EXPECT_EQ(FilterAll(state, *pod), (StringMap{{"node-a", kSkew}, {"node-b", kFits}}));
  // The minimum moves from node-b (0) to 1 once node-b gets a pod too.
  ASSERT_TRUE(pre_filter_->AddPod(state, *pod, *Foo("p-b1", "node-b"), Node("node-b")).ok());
  EXPECT_EQ(FilterAll(state, *pod), (StringMap{{"node-a", kFits}, {"node-b", kFits}}));
}

TEST_F(PodTopologySpreadTest, AddPodIgnoresPodsThatDoNotCount) {
  SetCluster({ZoneNode("node-a", "zone1"), ZoneNode("node-b", "zone1"),
              MakeNode("node-c").Label("zone", "zone1")},
             {});
  PodInfoPtr pod = WithSpread(MakePod("p").Label("foo", ""), {Hard(1, "node", kFoo)});
  CycleState state;
  PreFilterResult result;
  ASSERT_TRUE(pre_filter_->PreFilter(state, *pod, &result).ok());
  // Another namespace, a pod the selector does not match, a node without the key.
  ASSERT_TRUE(pre_filter_->AddPod(state, *pod,
                                  *MakePod("other").Namespace("ns1").Node("node-a").Label("foo", "").Info(),
                                  Node("node-a")).ok());
  ASSERT_TRUE(pre_filter_->AddPod(state, *pod, *MakePod("bar").Node("node-a").Label("bar", "").Info(),
                                  Node("node-a")).ok());
  ASSERT_TRUE(pre_filter_->AddPod(state, *pod, *Foo("p-c1", "node-c"), Node("node-c")).ok());
  EXPECT_EQ(FilterAll(state, *pod),
            (StringMap{{"node-a", kFits}, {"node-b", kFits}, {"node-c", kNoLabel}}));
}

TEST_F(PodTopologySpreadTest, AddPodOnANodeOutsideTheNodeAffinityDoesNotCount) {
  SetCluster({ZoneNode("node-a", "zone1").Label("foo", ""), ZoneNode("node-b", "zone2")},
             {Foo("p-a1", "node-a")});
  PodInfoPtr pod = WithSpread(MakePod("p").Label("foo", "").NodeSelector("foo", ""),
                              {Hard(1, "zone", kFoo)});
  CycleState state;
  PreFilterResult result;
  ASSERT_TRUE(pre_filter_->PreFilter(state, *pod, &result).ok());
  ASSERT_TRUE(pre_filter_->AddPod(state, *pod, *Foo("p-b1", "node-b"), Node("node-b")).ok());
  ASSERT_TRUE(pre_filter_->AddPod(state, *pod, *Foo("p-b2", "node-b"), Node("node-b")).ok());
  // Only zone1 (1 pod) is a domain, so the minimum stays 1 and node-b's zone2 counts 0.
  // Had the two pods counted, zone2 would hold 2 and node-b would not fit.
  EXPECT_EQ(FilterAll(state, *pod), (StringMap{{"node-a", kFits}, {"node-b", kFits}}));
}

TEST_F(PodTopologySpreadTest, RemovePodLowersTheDomainOnACloneOnly) {
  // zones 1/3 with maxSkew 1: zone2 is full.
  SetCluster(FourNodes(), {Foo("p-a1", "node-a"), Foo("p-x1", "node-x"), Foo("p-x2", "node-x"),
                           Foo("p-y1", "node-y")});
  PodInfoPtr pod = WithSpread(MakePod("p").Label("foo", ""), {Hard(1, "zone", kFoo)});
  CycleState state;
  PreFilterResult result;
  ASSERT_TRUE(pre_filter_->PreFilter(state, *pod, &result).ok());
  const StringMap before = {{"node-a", kFits}, {"node-b", kFits}, {"node-x", kSkew}, {"node-y", kSkew}};
  EXPECT_EQ(FilterAll(state, *pod), before);

  std::unique_ptr<CycleState> copy = state.Clone();
  PodInfoPtr x1 = Node("node-x").pods()[0];
  ASSERT_TRUE(pre_filter_->RemovePod(*copy, *pod, *x1, Node("node-x")).ok());
  EXPECT_EQ(FilterAll(*copy, *pod), before);  // zone2 at 2: 2+1-1 > 1 still
  PodInfoPtr x2 = Node("node-x").pods()[1];
  ASSERT_TRUE(pre_filter_->RemovePod(*copy, *pod, *x2, Node("node-x")).ok());
  EXPECT_EQ(FilterAll(*copy, *pod),
            (StringMap{{"node-a", kFits}, {"node-b", kFits}, {"node-x", kFits}, {"node-y", kFits}}));
  EXPECT_EQ(FilterAll(state, *pod), before);  // the original state is untouched
}

TEST_F(PodTopologySpreadTest, RemovePodCanMakeAnotherDomainTheMinimum) {
  // nodes 1/1: removing node-a's pod makes node-a the minimum (0), so node-b no longer fits.
  SetCluster({ZoneNode("node-a", "zone1"), ZoneNode("node-b", "zone1")},
             {Foo("p-a1", "node-a"), Foo("p-b1", "node-b")});
  PodInfoPtr pod = WithSpread(MakePod("p").Label("foo", ""), {Hard(1, "node", kFoo)});
  CycleState state;
  PreFilterResult result;
  ASSERT_TRUE(pre_filter_->PreFilter(state, *pod, &result).ok());
  EXPECT_EQ(FilterAll(state, *pod), (StringMap{{"node-a", kFits}, {"node-b", kFits}}));
  ASSERT_TRUE(pre_filter_->RemovePod(state, *pod, *Node("node-a").pods()[0], Node("node-a")).ok());
  EXPECT_EQ(FilterAll(state, *pod), (StringMap{{"node-a", kFits}, {"node-b", kSkew}}));
}

TEST_F(PodTopologySpreadTest, AddPodWithoutPreFilterStateIsAnError) {
  SetCluster(FourNodes(), {});
  PodInfoPtr pod = WithSpread(MakePod("p").Label("foo", ""), {Hard(1, "node", kFoo)});
  CycleState state;
  EXPECT_EQ(pre_filter_->AddPod(state, *pod, *Foo("p-a1", "node-a"), Node("node-a")).code(),
            Code::kError);
  // Unless the plugin skipped this cycle: then there is nothing to update.
  state.skip_filter.insert("PodTopologySpread");
  EXPECT_TRUE(pre_filter_->AddPod(state, *pod, *Foo("p-a1", "node-a"), Node("node-a")).ok());
  EXPECT_TRUE(pre_filter_->RemovePod(state, *pod, *Foo("p-a1", "node-a"), Node("node-a")).ok());
}

// ------------------------------------------------------------------ Score

TEST_F(PodTopologySpreadTest, ScoreOneHostnameConstraint) {
  const std::vector<NodeBuilder> nodes = {HostNode("node-a"), HostNode("node-b"), HostNode("node-c"),
                                          HostNode("node-d")};
  PodInfoPtr pod = WithSpread(MakePod("p").Label("foo", ""), {Soft(1, kHostname, kFoo)});
  SetCluster(nodes, {});
  EXPECT_EQ(RunScore(*pod), (ScoreMap{{"node-a", 100}, {"node-b", 100}, {"node-c", 100}, {"node-d", 100}}));

  // Matching pods spread 2/1/0/3.
  const std::vector<PodInfoPtr> pods = {Foo("p-a1", "node-a"), Foo("p-a2", "node-a"),
                                        Foo("p-b1", "node-b"), Foo("p-d1", "node-d"),
                                        Foo("p-d2", "node-d"), Foo("p-d3", "node-d")};
  SetCluster(nodes, pods);
  EXPECT_EQ(RunScore(*pod), (ScoreMap{{"node-a", 20}, {"node-b", 60}, {"node-c", 100}, {"node-d", 0}}));
  EXPECT_EQ(RunScore(*WithSpread(MakePod("p").Label("foo", ""), {Soft(2, kHostname, kFoo)})),
            (ScoreMap{{"node-a", 33}, {"node-b", 66}, {"node-c", 100}, {"node-d", 16}}));
  EXPECT_EQ(RunScore(*WithSpread(MakePod("p").Label("foo", ""), {Soft(1, kHostname, std::nullopt)})),
            (ScoreMap{{"node-a", 100}, {"node-b", 100}, {"node-c", 100}, {"node-d", 100}}));
}

TEST_F(PodTopologySpreadTest, ScoreOnlyCandidateGetsMax) {
  SetCluster({HostNode("node-a"), HostNode("node-b")},
             {Foo("p-a1", "node-a"), Foo("p-a2", "node-a"), Foo("p-b1", "node-b")});
  PodInfoPtr pod = WithSpread(MakePod("p").Label("foo", ""), {Soft(1, kHostname, kFoo)});
  EXPECT_EQ(RunScore(*pod, {"node-a"}), (ScoreMap{{"node-a", 100}}));
}

TEST_F(PodTopologySpreadTest, ScoreSameCountsEverywhere) {
  SetCluster({HostNode("node-a"), HostNode("node-b")}, {Foo("p-a1", "node-a"), Foo("p-b1", "node-b")});
  PodInfoPtr pod = WithSpread(MakePod("p").Label("foo", ""), {Soft(1, kHostname, kFoo)});
  EXPECT_EQ(RunScore(*pod), (ScoreMap{{"node-a", 100}, {"node-b", 100}}));
}

TEST_F(PodTopologySpreadTest, ScoreMaxSkewThreeOnFourThreeTwoOne) {
  SetCluster({HostNode("node-a"), HostNode("node-b"), HostNode("node-c"), HostNode("node-d")},
             {Foo("p-a1", "node-a"), Foo("p-a2", "node-a"), Foo("p-a3", "node-a"), Foo("p-a4", "node-a"),
              Foo("p-b1", "node-b"), Foo("p-b2", "node-b"), Foo("p-b3", "node-b"),
              Foo("p-c1", "node-c"), Foo("p-c2", "node-c"), Foo("p-d1", "node-d")});
  PodInfoPtr pod = WithSpread(MakePod("p").Label("foo", ""), {Soft(3, kHostname, kFoo)});
  EXPECT_EQ(RunScore(*pod), (ScoreMap{{"node-a", 44}, {"node-b", 66}, {"node-c", 77}, {"node-d", 100}}));
}

TEST_F(PodTopologySpreadTest, ScoreWithSomeNodesNotCandidates) {
  const std::vector<PodInfoPtr> pods = {
      Foo("p-a1", "node-a"), Foo("p-a2", "node-a"), Foo("p-a3", "node-a"), Foo("p-a4", "node-a"),
      Foo("p-b1", "node-b"), Foo("p-b2", "node-b"), Foo("p-x1", "node-x"),
      Foo("p-y1", "node-y"), Foo("p-y2", "node-y"), Foo("p-y3", "node-y")};
  PodInfoPtr host_pod = WithSpread(MakePod("p").Label("foo", ""), {Soft(1, kHostname, kFoo)});
  // 4/2/1/~3~.
  SetCluster({HostNode("node-a"), HostNode("node-b"), HostNode("node-x"), HostNode("node-y")}, pods);
  EXPECT_EQ(RunScore(*host_pod, {"node-a", "node-b", "node-x"}),
            (ScoreMap{{"node-a", 33}, {"node-b", 83}, {"node-x", 100}}));
  // 4/?2?/1/~3~: node-b lacks the hostname label, scores 0 and does not count.
  SetCluster({HostNode("node-a"), MakeNode("node-b").Label("n", "node-b"), HostNode("node-x"),
              HostNode("node-y")},
             pods);
  EXPECT_EQ(RunScore(*host_pod, {"node-a", "node-b", "node-x"}),
            (ScoreMap{{"node-a", 16}, {"node-b", 0}, {"node-x", 100}}));
  // The same on zones: zone1 has 6, zone2 has 4 (node-y counts though not a candidate).
  SetCluster({HostNode("node-a").Label("zone", "zone1"), HostNode("node-b").Label("zone", "zone1"),
              HostNode("node-x").Label("zone", "zone2"), HostNode("node-y").Label("zone", "zone2")},
             pods);
  EXPECT_EQ(RunScore(*WithSpread(MakePod("p").Label("foo", ""), {Soft(1, "zone", kFoo)}),
                     {"node-a", "node-b", "node-x"}),
            (ScoreMap{{"node-a", 75}, {"node-b", 75}, {"node-x", 100}}));
}

TEST_F(PodTopologySpreadTest, ScoreTwoConstraints) {
  auto zone_host = [](const std::string& name, const std::string& zone) {
    return HostNode(name).Label("zone", zone);
  };
  const std::vector<NodeBuilder> nodes = {zone_host("node-a", "zone1"), zone_host("node-b", "zone1"),
                                          zone_host("node-x", "zone2"), zone_host("node-y", "zone2")};
  // 2/~1~/2/~4~ on both zone and hostname.
  SetCluster(nodes, {Foo("p-a1", "node-a"), Foo("p-a2", "node-a"), Foo("p-b1", "node-b"),
                     Foo("p-x1", "node-x"), Foo("p-x2", "node-x"), Foo("p-y1", "node-y"),
                     Foo("p-y2", "node-y"), Foo("p-y3", "node-y"), Foo("p-y4", "node-y")});
  EXPECT_EQ(RunScore(*WithSpread(MakePod("p").Label("foo", ""),
                                 {Soft(1, "zone", kFoo), Soft(1, kHostname, kFoo)}),
                     {"node-a", "node-x"}),
            (ScoreMap{{"node-a", 100}, {"node-x", 63}}));

  // Different selectors: zone (foo) 2/2/1/1, hostname (bar) 0/1/0/1.
  PodInfoPtr pod = WithSpread(MakePod("p").Label("foo", "").Label("bar", ""),
                              {Soft(1, "zone", kFoo), Soft(1, kHostname, kBar)});
  const std::vector<PodInfoPtr> mixed = {
      Foo("p-a1", "node-a"), MakePod("p-b1").Node("node-b").Label("foo", "").Label("bar", "").Info(),
      Foo("p-y1", "node-y"), MakePod("p-y2").Node("node-y").Label("bar", "").Info()};
  SetCluster(nodes, mixed);
  EXPECT_EQ(RunScore(*pod), (ScoreMap{{"node-a", 60}, {"node-b", 20}, {"node-x", 100}, {"node-y", 60}}));
  EXPECT_EQ(RunScore(*pod, {"node-a", "node-b", "node-x"}),
            (ScoreMap{{"node-a", 50}, {"node-b", 25}, {"node-x", 100}}));
  // zone (foo) 0/0/2/2, hostname (bar) 0/1/0/1.
  SetCluster(nodes, {MakePod("p-b1").Node("node-b").Label("bar", "").Info(), Foo("p-x1", "node-x"),
                     MakePod("p-y1").Node("node-y").Label("foo", "").Label("bar", "").Info()});
  EXPECT_EQ(RunScore(*pod), (ScoreMap{{"node-a", 100}, {"node-b", 60}, {"node-x", 40}, {"node-y", 0}}));
}

// The domains of all nodes are kept while no node's labels change (the snapshot's
// node_labels_generation): a node moving to another zone is seen at once.
TEST_F(PodTopologySpreadTest, ScoreDomainsFollowANodeMovingZones) {
  PodInfoPtr pod = WithSpread(MakePod("p").Label("foo", ""), {Soft(1, "zone", kFoo)});
  const std::vector<PodInfoPtr> pods = {Foo("p-a1", "node-a"), Foo("p-a2", "node-a"),
                                        Foo("p-b1", "node-b")};
  // Three zones, matching pods 2/1/0: weight log(5).
  SetCluster({ZoneNode("node-a", "zone1"), ZoneNode("node-b", "zone2"), ZoneNode("node-c", "zone3")},
             pods);
  EXPECT_EQ(RunScore(*pod), (ScoreMap{{"node-a", 0}, {"node-b", 33}, {"node-c", 100}}));
  // node-c joins zone1: two zones, weight log(4), and node-c counts zone1's two pods.
  SetCluster({ZoneNode("node-a", "zone1"), ZoneNode("node-b", "zone2"), ZoneNode("node-c", "zone1")},
             pods);
  EXPECT_EQ(RunScore(*pod), (ScoreMap{{"node-a", 33}, {"node-b", 100}, {"node-c", 33}}));
}

TEST_F(PodTopologySpreadTest, ScoreIgnoresOtherNamespacesAndTerminatingPods) {
  PodInfoPtr pod = WithSpread(MakePod("p").Label("foo", ""), {Soft(1, kHostname, kFoo)});
  SetCluster({HostNode("node-a"), HostNode("node-b")},
             {MakePod("p-a1").Namespace("ns1").Node("node-a").Label("foo", "").Info(),
              Foo("p-a2", "node-a"), Foo("p-b1", "node-b"), Foo("p-b2", "node-b")});
  EXPECT_EQ(RunScore(*pod), (ScoreMap{{"node-a", 100}, {"node-b", 33}}));
  SetCluster({HostNode("node-a"), HostNode("node-b")},
             {Terminating(MakePod("p-a").Node("node-a").Label("foo", "")), Foo("p-b", "node-b")});
  EXPECT_EQ(RunScore(*pod), (ScoreMap{{"node-a", 100}, {"node-b", 0}}));
}

TEST_F(PodTopologySpreadTest, ScoreMinDomainsHasNoEffect) {
  SetCluster({MakeNode("node-a").Label("node", "node-a"), MakeNode("node-b").Label("node", "node-b"),
              MakeNode("node-c").Label("node", "node-c")},
             {Foo("p-a1", "node-a"), Foo("p-a2", "node-a"), Foo("p-b1", "node-b"),
              Foo("p-b2", "node-b"), Foo("p-c1", "node-c")});
  EXPECT_EQ(RunScore(*WithSpread(MakePod("p").Label("foo", ""),
                                 {Soft(2, "node", kFoo, {.min_domains = 10})})),
            (ScoreMap{{"node-a", 75}, {"node-b", 75}, {"node-c", 100}}));
}

TEST_F(PodTopologySpreadTest, ScoreNodeInclusionPolicies) {
  const std::vector<PodInfoPtr> pods = {Foo("p-a1", "node-a"), Foo("p-a2", "node-a"),
                                        Foo("p-b1", "node-b"), Foo("p-c1", "node-c")};
  SetCluster({MakeNode("node-a").Label("node", "node-a").Label("foo", ""),
              MakeNode("node-b").Label("node", "node-b").Label("foo", ""),
              MakeNode("node-c").Label("node", "node-c")},
             pods);
  PodBuilder selector_pod = MakePod("p").Label("foo", "").NodeSelector("foo", "");
  EXPECT_EQ(RunScore(*WithSpread(selector_pod, {Soft(1, "node", kFoo)})),
            (ScoreMap{{"node-a", 0}, {"node-b", 33}, {"node-c", 100}}));
  EXPECT_EQ(RunScore(*WithSpread(selector_pod, {Soft(1, "node", kFoo, {.node_affinity_policy = "Ignore"})})),
            (ScoreMap{{"node-a", 66}, {"node-b", 100}, {"node-c", 100}}));

  SetCluster({MakeNode("node-a").Label("node", "node-a"), MakeNode("node-b").Label("node", "node-b"),
              MakeNode("node-c").Label("node", "node-c").Taint("node.kubernetes.io/unschedulable", "",
                                                             "NoSchedule")},
             pods);
  EXPECT_EQ(RunScore(*WithSpread(MakePod("p").Label("foo", ""),
                                 {Soft(1, "node", kFoo, {.node_taints_policy = "Honor"})})),
            (ScoreMap{{"node-a", 0}, {"node-b", 33}, {"node-c", 100}}));
  EXPECT_EQ(RunScore(*WithSpread(MakePod("p").Label("foo", ""), {Soft(1, "node", kFoo)})),
            (ScoreMap{{"node-a", 66}, {"node-b", 100}, {"node-c", 100}}));
}

TEST_F(PodTopologySpreadTest, ScoreMatchLabelKeys) {
  SetCluster({HostNode("node-a").Label("zone", "zone1"), HostNode("node-b").Label("zone", "zone1"),
              HostNode("node-c").Label("zone", "zone2"), HostNode("node-d").Label("zone", "zone2")},
             {Foo("p-a1", "node-a"),
              MakePod("p-b1").Node("node-b").Label("foo", "").Label("bar", "").Label("baz", "").Info(),
              Foo("p-c1", "node-c"), MakePod("p-c2").Node("node-c").Label("bar", "").Info(),
              MakePod("p-d3").Node("node-c").Label("bar", "").Label("baz", "").Info()});
  PodInfoPtr pod = WithSpread(MakePod("p").Label("foo", "").Label("bar", "").Label("baz", ""),
                              {Soft(1, "zone", kFoo),
                               Soft(1, kHostname, kBar, {.match_label_keys = {"baz"}})});
  EXPECT_EQ(RunScore(*pod), (ScoreMap{{"node-a", 60}, {"node-b", 20}, {"node-c", 60}, {"node-d", 100}}));
}

TEST_F(PodTopologySpreadTest, ScoreWithoutPreScoreIsAnError) {
  SetCluster({HostNode("node-a")}, {});
  PodInfoPtr pod = WithSpread(MakePod("p").Label("foo", ""), {Soft(1, kHostname, kFoo)});
  CycleState state;
  int64_t score = 0;
  EXPECT_EQ(score_->Score(state, *pod, Node("node-a"), &score).code(), Code::kError);
}

// ------------------------------------------------------------------ default constraints

// A cluster with a store and informers, for the Services and ReplicaSets that select pods.
class DefaultConstraintsTest : public PodTopologySpreadTest {
 protected:
  void SetUp() override {
    store_ = *store::MemoryStore::Open();
    client_ = std::make_unique<client::Client>(store_.get(), &api::Scheme::Builtin(),
                                               &executor_.clock());
    informers_ = std::make_unique<client::SharedInformerFactory>(client_.get(), &executor_);
    handle_.set_informers(informers_.get());
  }
  void TearDown() override { informers_->Shutdown(); }

  // Creates the plugin (which registers its informers), then syncs them.
  void StartPlugin(const std::string& args_json) {
    MakePlugin(args_json);
    informers_->Start();
    executor_.RunUntilIdle();
    ASSERT_TRUE(informers_->HasSynced());
  }

  void CreateService(const std::string& name, const std::string& selector_yaml) {
    auto service = ObjectFromYaml<api::v1::Service>(
        "apiVersion: v1\nkind: Service\nmetadata: {name: " + name +
        ", namespace: default}\nspec: {selector: " + selector_yaml +
        ", ports: [{port: 80}]}\n");
    ASSERT_THAT(client_->Create(service).status(), IsOk());
  }

  VirtualExecutor executor_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<client::Client> client_;
  std::unique_ptr<client::SharedInformerFactory> informers_;
};

TEST_F(DefaultConstraintsTest, SystemDefaultsSpreadPodsOfAServiceOverHostnames) {
  CreateService("web", "{foo: \"\"}");
  StartPlugin("");  // no args: System defaulting
  // Nodes have no zone label; hostname spreading still applies (maxSkew 3).
  SetCluster({HostNode("node-a"), HostNode("node-b"), HostNode("node-c"), HostNode("node-d")},
             {Foo("p-a1", "node-a"), Foo("p-a2", "node-a"), Foo("p-a3", "node-a"), Foo("p-a4", "node-a"),
              Foo("p-b1", "node-b"), Foo("p-b2", "node-b"), Foo("p-b3", "node-b"),
              Foo("p-c1", "node-c"), Foo("p-c2", "node-c"), Foo("p-d1", "node-d")});
  PodInfoPtr pod = MakePod("p").Label("foo", "").Info();
  EXPECT_EQ(RunScore(*pod), (ScoreMap{{"node-a", 44}, {"node-b", 66}, {"node-c", 77}, {"node-d", 100}}));
  // System defaults are ScheduleAnyway only: nothing to filter.
  CycleState state;
  PreFilterResult result;
  EXPECT_TRUE(pre_filter_->PreFilter(state, *pod, &result).IsSkip());
  // A pod no Service selects gets no default constraints.
  EXPECT_TRUE(pre_score_->PreScore(state, *MakePod("q").Label("other", "").Info(),
                                   snapshot_.nodes()).IsSkip());
}

TEST_F(DefaultConstraintsTest, WithoutInformersNoDefaultsApply) {
  handle_.set_informers(nullptr);
  MakePlugin("");
  SetCluster({HostNode("node-a"), HostNode("node-b")}, {Foo("p-a1", "node-a")});
  CycleState state;
  EXPECT_TRUE(pre_score_->PreScore(state, *MakePod("p").Label("foo", "").Info(), snapshot_.nodes())
                  .IsSkip());
}

TEST_F(DefaultConstraintsTest, ListDefaultsUseTheServiceSelector) {
  CreateService("web", "{foo: bar}");
  StartPlugin(R"({"defaultingType": "List", "defaultConstraints": [
      {"maxSkew": 1, "topologyKey": "node", "whenUnsatisfiable": "DoNotSchedule"},
      {"maxSkew": 2, "topologyKey": "node", "whenUnsatisfiable": "ScheduleAnyway"}]})");
  SetCluster({MakeNode("node-a").Label("node", "node-a"), MakeNode("node-b").Label("node", "node-b")},
             {MakePod("p-a1").Node("node-a").Label("foo", "bar").Info(),
              MakePod("p-a2").Node("node-a").Label("foo", "other").Info()});
  // Only foo=bar counts: 1/0.
  PodInfoPtr pod = MakePod("p").Label("foo", "bar").Label("baz", "kar").Info();
  EXPECT_EQ(RunFilter(*pod), (StringMap{{"node-a", kSkew}, {"node-b", kFits}}));
  // A pod with constraints of its own does not get the defaults.
  EXPECT_EQ(RunFilter(*WithSpread(MakePod("p").Label("foo", "bar"), {Hard(1, "zone2", kFoo)})),
            (StringMap{{"node-a", kNoLabel}, {"node-b", kNoLabel}}));
  // No Service selects this pod: the defaults do not apply.
  CycleState state;
  PreFilterResult result;
  EXPECT_TRUE(pre_filter_->PreFilter(state, *MakePod("q").Label("foo", "baz").Info(), &result).IsSkip());
}

TEST_F(DefaultConstraintsTest, ListDefaultsUseTheOwningReplicaSetSelector) {
  auto rs = ObjectFromYaml<api::v1::ReplicaSet>(R"(
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web, namespace: default}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: busybox}]}
)");
  ASSERT_THAT(client_->Create(rs).status(), IsOk());
  StartPlugin(R"({"defaultingType": "List", "defaultConstraints": [
      {"maxSkew": 1, "topologyKey": "node", "whenUnsatisfiable": "DoNotSchedule"}]})");
  SetCluster({MakeNode("node-a").Label("node", "node-a"), MakeNode("node-b").Label("node", "node-b")},
             {MakePod("p-a1").Node("node-a").Label("app", "web").Info(),
              MakePod("p-b1").Node("node-b").Label("app", "db").Info()});
  api::v1::Pod owned = MakePod("p").Label("app", "web").Obj();
  api::v1::OwnerReference* ref = owned.mutable_metadata()->add_owner_references();
  ref->set_api_version("apps/v1");
  ref->set_kind("ReplicaSet");
  ref->set_name("web");
  ref->set_uid("rs-uid");
  ref->set_controller(true);
  EXPECT_EQ(RunFilter(*InfoOf(owned)), (StringMap{{"node-a", kSkew}, {"node-b", kFits}}));
  // Not a controller reference: no selector, no defaults.
  ref->set_controller(false);
  CycleState state;
  PreFilterResult result;
  EXPECT_TRUE(pre_filter_->PreFilter(state, *InfoOf(owned), &result).IsSkip());
}

// Parsed default selectors are remembered by their content: pods of different ReplicaSets
// keep their own selector, and asking again gives the same answer.
TEST_F(DefaultConstraintsTest, EachReplicaSetsPodsSpreadByTheirOwnSelector) {
  for (const std::string app : {"web", "db"}) {
    auto rs = ObjectFromYaml<api::v1::ReplicaSet>(
        "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: " + app +
        ", namespace: default}\nspec:\n  selector: {matchLabels: {app: " + app +
        "}}\n  template:\n    metadata: {labels: {app: " + app +
        "}}\n    spec: {containers: [{name: c, image: busybox}]}\n");
    ASSERT_THAT(client_->Create(rs).status(), IsOk());
  }
  StartPlugin(R"({"defaultingType": "List", "defaultConstraints": [
      {"maxSkew": 1, "topologyKey": "node", "whenUnsatisfiable": "DoNotSchedule"}]})");
  SetCluster({MakeNode("node-a").Label("node", "node-a"),
              MakeNode("node-b").Label("node", "node-b")},
             {MakePod("p-a1").Node("node-a").Label("app", "web").Info(),
              MakePod("p-b1").Node("node-b").Label("app", "db").Info(),
              MakePod("p-b2").Node("node-b").Label("app", "db").Info()});
  auto owned_by = [](const std::string& app) {
    api::v1::Pod pod = MakePod("p-" + app).Label("app", app).Obj();
    api::v1::OwnerReference* ref = pod.mutable_metadata()->add_owner_references();
    ref->set_api_version("apps/v1");
    ref->set_kind("ReplicaSet");
    ref->set_name(app);
    ref->set_uid(app + "-uid");
    ref->set_controller(true);
    return pod;
  };
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(RunFilter(*InfoOf(owned_by("web"))),
              (StringMap{{"node-a", kSkew}, {"node-b", kFits}})) << round;
    EXPECT_EQ(RunFilter(*InfoOf(owned_by("db"))),
              (StringMap{{"node-a", kFits}, {"node-b", kSkew}})) << round;
  }
}

// ------------------------------------------------------------------ args

TEST(PodTopologySpreadArgsTest, RejectsInvalidArgs) {
  FakeSnapshot snapshot;
  FakeHandle handle(&snapshot);
  auto make = [&](const std::string& json) {
    return plugins::NewPodTopologySpread(PluginArgs(JsonStruct(json), "cfg"), handle).status();
  };
  EXPECT_THAT(make(R"({"defaultingType": "Sometimes"})"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("cfg: defaultingType: Unsupported value")));
  EXPECT_THAT(make(R"({"defaultConstraints": [{"maxSkew": 1, "topologyKey": "zone",
                      "whenUnsatisfiable": "DoNotSchedule"}]})"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("defaultingType: Invalid value: \"System\": when .defaultConstraints "
                                 "are not empty")));
  EXPECT_THAT(make(R"({"defaultingType": "List", "defaultConstraints": [{"maxSkew": 0,
                      "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"}]})"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("defaultConstraints[0].maxSkew: Invalid value: 0")));
  EXPECT_THAT(make(R"({"defaultingType": "List", "defaultConstraints": [{"maxSkew": 1,
                      "whenUnsatisfiable": "DoNotSchedule"}]})"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("defaultConstraints[0].topologyKey: Required value")));
  EXPECT_THAT(make(R"({"defaultingType": "List", "defaultConstraints": [{"maxSkew": 1,
                      "topologyKey": "zone", "whenUnsatisfiable": "Maybe"}]})"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("defaultConstraints[0].whenUnsatisfiable: Unsupported value")));
  EXPECT_THAT(make(R"({"defaultingType": "List", "defaultConstraints": [{"maxSkew": 1,
                      "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule",
                      "labelSelector": {"matchLabels": {"a": "b"}}}]})"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("defaultConstraints[0].labelSelector: Forbidden")));
  EXPECT_THAT(make(R"({"defaultingType": "List", "defaultConstraints": [
                      {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"},
                      {"maxSkew": 2, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"}]})"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("defaultConstraints[1]: Duplicate value: \"{zone, DoNotSchedule}\"")));
  EXPECT_THAT(make(R"({"defaultingType": "List", "defaultConstraints": [
                      {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"},
                      {"maxSkew": 2, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway"}]})"),
              IsOk());
  EXPECT_THAT(make(R"({"unknownField": 1})"), StatusIs(absl::StatusCode::kInvalidArgument));
}

// ------------------------------------------------------------------ kept counts

// PreFilter keeps its per-domain counts between cycles and revisits only the nodes that
// changed. Along random histories (pods come and go, nodes change labels and taints, the
// node set is rebuilt), the kept plugin must judge every node exactly as a plugin created
// afresh does.
TEST_F(PodTopologySpreadTest, KeptCountsFollowEveryChange) {
  const std::vector<std::string> zones = {"zone1", "zone2", "zone3"};
  const std::vector<PodInfoPtr> pods = {
      WithSpread(MakePod("p").Label("foo", ""), {Hard(1, "zone", kFoo)}),
      WithSpread(MakePod("p").Label("bar", ""), {Hard(2, "zone", kBar), Hard(1, "zone", kFoo)}),
      WithSpread(MakePod("p").Label("foo", ""), {Hard(1, "zone", kFoo, {.min_domains = 4})}),
      WithSpread(MakePod("p").Label("foo", "").NodeSelector("disk", "ssd"),
                 {Hard(1, "zone", kFoo, {.node_taints_policy = "Honor"})}),
      WithSpread(MakePod("p").Label("foo", ""), {Hard(1, kHostname, kFoo), Hard(3, "zone", kFoo)}),
  };
  int rejected = 0;
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    std::mt19937_64 rng(seed);
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
    auto random_node = [&](int i) {
      const std::string name = "node-" + std::to_string(i);
      NodeBuilder node = MakeNode(name).Label(kHostname, name);
      if (pick(6) != 0) node.Label("zone", zones[static_cast<size_t>(pick(3))]);
      if (pick(2) == 0) node.Label("disk", "ssd");
      if (pick(5) == 0) node.Taint("dedicated", "gpu", "NoSchedule");
      return node;
    };
    auto rebuild = [&] {
      std::vector<NodeBuilder> nodes;
      for (int i = 0, n = 4 + pick(8); i < n; ++i) nodes.push_back(random_node(i));
      SetCluster(nodes, {});
    };
    rebuild();
    int next_pod = 0;
    for (int step = 0; step < 60; ++step) {
      const size_t n = snapshot_.nodes().size();
      NodeInfo& node = snapshot_.mutable_node(static_cast<size_t>(pick(static_cast<int>(n))));
      switch (pick(8)) {
        case 0:  // the node set changes
          rebuild();
          break;
        case 1: {  // a node's labels or taints change, its pods stay
          auto changed = std::make_shared<api::v1::Node>(
              random_node(pick(1000)).Obj());
          changed->mutable_metadata()->set_name(node.name());
          ASSERT_TRUE(node.SetNode(changed).ok());
          break;
        }
        case 2:  // a pod goes
          if (!node.pods().empty()) {
            ASSERT_TRUE(node.RemovePod(node.pods()[static_cast<size_t>(pick(
                static_cast<int>(node.pods().size())))]->uid()));
          }
          break;
        default: {  // a pod comes, matching one selector, both or neither
          const std::string name = "pod-" + std::to_string(next_pod++);
          PodBuilder pod = MakePod(name).Uid(name).Node(node.name());
          if (pick(2) == 0) pod.Label("foo", "");
          if (pick(3) == 0) pod.Label("bar", "");
          node.AddPod(pick(10) == 0 ? Terminating(pod) : pod.Info());
          break;
        }
      }
      snapshot_.Reindex();
      std::unique_ptr<Plugin> fresh = *plugins::NewPodTopologySpread(
          PluginArgs(JsonStruct(R"({"defaultingType": "List"})"), "test"), handle_);
      for (const PodInfoPtr& pod : pods) {
        CycleState kept_state;
        CycleState fresh_state;
        PreFilterResult result;
        ASSERT_TRUE(pre_filter_->PreFilter(kept_state, *pod, &result).ok());
        ASSERT_TRUE(dynamic_cast<PreFilterPlugin&>(*fresh).PreFilter(fresh_state, *pod, &result).ok());
        for (const NodeInfo* node : snapshot_.nodes()) {
          const std::string kept = FilterOutcome(filter_->Filter(kept_state, *pod, *node));
          ASSERT_EQ(kept, FilterOutcome(dynamic_cast<FilterPlugin&>(*fresh).Filter(fresh_state, *pod, *node)))
              << "seed " << seed << ", step " << step << ", " << node->name();
          rejected += kept == kSkew ? 1 : 0;
        }
      }
    }
  }
  EXPECT_GT(rejected, 100);  // the skew mattered, not just the labels
}

}  // namespace
}  // namespace orch::scheduler
