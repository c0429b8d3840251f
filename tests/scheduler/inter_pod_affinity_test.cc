// InterPodAffinity against the cases of kube-scheduler's own tables (filtering_test.go,
// scoring_test.go): which nodes pass Filter and why not, and each node's normalized score.
#include <map>
#include <random>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orch/scheduler/framework.h"
#include "orch/scheduler/registry.h"
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
using ::orch::scheduler::testing::PodBuilder;
using ::orch::testing::IsOk;
using ::orch::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kAffinity[] = "UnschedulableAndUnresolvable: node(s) didn't match pod affinity rules";
constexpr char kAnti[] = "Unschedulable: node(s) didn't match pod anti-affinity rules";
constexpr char kExisting[] = "Unschedulable: node(s) didn't satisfy existing pods anti-affinity rules";

using StringMap = std::map<std::string, std::string>;
using ScoreMap = std::map<std::string, int64_t>;

// ------------------------------------------------------------------ terms

struct Requirement {
  std::string key;
  std::string op;
  std::vector<std::string> values;
};

// A pod affinity term: the requirements ANDed, on `topology_key`.
api::v1::PodAffinityTerm Term(std::string topology_key, const std::vector<Requirement>& reqs) {
  api::v1::PodAffinityTerm term;
  term.set_topology_key(std::move(topology_key));
  api::v1::LabelSelector* selector = term.mutable_label_selector();
  for (const Requirement& r : reqs) {
    api::v1::LabelSelectorRequirement* e = selector->add_match_expressions();
    e->set_key(r.key);
    e->set_operator_(r.op);
    for (const std::string& v : r.values) e->add_values(v);
  }
  return term;
}
api::v1::PodAffinityTerm In(std::string key, std::vector<std::string> values, std::string topology) {
  return Term(std::move(topology), {{std::move(key), "In", std::move(values)}});
}
api::v1::PodAffinityTerm NotIn(std::string key, std::vector<std::string> values,
                               std::string topology) {
  return Term(std::move(topology), {{std::move(key), "NotIn", std::move(values)}});
}
api::v1::PodAffinityTerm Exists(std::string key, std::string topology) {
  return Term(std::move(topology), {{std::move(key), "Exists", {}}});
}
api::v1::PodAffinityTerm WithNamespaces(api::v1::PodAffinityTerm term,
                                        std::vector<std::string> namespaces) {
  for (std::string& ns : namespaces) term.add_namespaces(std::move(ns));
  return term;
}
// namespaceSelector team In (team).
api::v1::PodAffinityTerm WithTeamSelector(api::v1::PodAffinityTerm term, std::string team) {
  auto* r = term.mutable_namespace_selector()->add_match_expressions();
  r->set_key("team");
  r->set_operator_("In");
  r->add_values(std::move(team));
  return term;
}

// A pod with affinity terms, built on top of a PodBuilder.
class AffinityPod {
 public:
  explicit AffinityPod(const PodBuilder& builder) : pod_(builder.Obj()) {}

  AffinityPod& Affinity(const api::v1::PodAffinityTerm& term) {
    *affinity()->mutable_pod_affinity()->add_required_during_scheduling_ignored_during_execution() = term;
    return *this;
  }
  AffinityPod& AntiAffinity(const api::v1::PodAffinityTerm& term) {
    *affinity()->mutable_pod_anti_affinity()->add_required_during_scheduling_ignored_during_execution() =
        term;
    return *this;
  }
  AffinityPod& PreferAffinity(int32_t weight, const api::v1::PodAffinityTerm& term) {
    Weighted(affinity()->mutable_pod_affinity()->add_preferred_during_scheduling_ignored_during_execution(),
             weight, term);
    return *this;
  }
  AffinityPod& PreferAntiAffinity(int32_t weight, const api::v1::PodAffinityTerm& term) {
    Weighted(
        affinity()->mutable_pod_anti_affinity()->add_preferred_during_scheduling_ignored_during_execution(),
        weight, term);
    return *this;
  }
  PodInfoPtr Info() const { return InfoOf(pod_); }

 private:
  api::v1::Affinity* affinity() { return pod_.mutable_spec()->mutable_affinity(); }
  static void Weighted(api::v1::WeightedPodAffinityTerm* out, int32_t weight,
                       const api::v1::PodAffinityTerm& term) {
    out->set_weight(weight);
    *out->mutable_pod_affinity_term() = term;
  }

  api::v1::Pod pod_;
};

// ------------------------------------------------------------------ fixture

class InterPodAffinityTest : public testing::CrossNodePluginTest {
 protected:
  void MakePlugin(const std::string& args_json = "") {
    CreatePlugin(&plugins::NewInterPodAffinity, args_json);
  }
  void SetUp() override { MakePlugin(); }
};

TEST_F(InterPodAffinityTest, IsNotNodeLocalAndRegistersPodAndNodeEvents) {
  EXPECT_EQ(plugin_->Name(), "InterPodAffinity");
  EXPECT_FALSE(plugin_->NodeLocal());
  auto* events = dynamic_cast<EnqueueExtensions*>(plugin_.get());
  ASSERT_NE(events, nullptr);
  std::vector<ClusterEvent> registered = events->EventsToRegister();
  ASSERT_EQ(registered.size(), 2u);
  EXPECT_EQ(registered[0].resource, EventResource::kPod);
  EXPECT_EQ(registered[0].actions, static_cast<uint32_t>(kAdd | kUpdatePodLabel | kDelete));
  EXPECT_EQ(registered[1].resource, EventResource::kNode);
  EXPECT_EQ(registered[1].actions, static_cast<uint32_t>(kAdd | kUpdateNodeLabel | kUpdateNodeTaint));
  EXPECT_FALSE(registered[1].Matches({EventResource::kNode, kDelete}));
}

// ------------------------------------------------------------------ Filter, one node

// node1 (region r1, zone z11) runs a pod labelled service=securityscan.
class SingleNodeTest : public InterPodAffinityTest {
 protected:
  void SetUp() override {
    InterPodAffinityTest::SetUp();
    SetCluster({Node1()}, {Scan()});
  }
  static NodeBuilder Node1() { return MakeNode("node1").Label("region", "r1").Label("zone", "z11"); }
  static PodInfoPtr Scan() { return ScanBuilder().Info(); }
  static PodBuilder ScanBuilder() { return MakePod("scan").Node("node1").Label("service", "securityscan"); }
  static PodBuilder S1() { return MakePod("p").Label("security", "S1"); }
  static PodBuilder ScanPod() { return MakePod("p").Label("service", "securityscan"); }
  std::string FilterNode1(const PodInfo& pod) { return RunFilter(pod).at("node1"); }
};

TEST_F(SingleNodeTest, PodWithoutTermsIsSkipped) {
  SetCluster({Node1()}, {});
  EXPECT_TRUE(PreFilterSkips(*MakePod("p").Info()));
}

TEST_F(SingleNodeTest, AffinityMatchingTheExistingPod) {
  EXPECT_EQ(FilterNode1(*AffinityPod(S1()).Affinity(In("service", {"securityscan", "value2"}, "region")).Info()),
            kFits);
  EXPECT_EQ(FilterNode1(*AffinityPod(S1()).Affinity(NotIn("service", {"securityscan3", "value3"}, "region")).Info()),
            kFits);
}

TEST_F(SingleNodeTest, AffinityToAnotherNamespaceDoesNotMatch) {
  SetCluster({Node1()}, {MakePod("scan").Namespace("ns").Node("node1").Label("service", "securityscan").Info()});
  EXPECT_EQ(FilterNode1(*AffinityPod(S1())
                             .Affinity(WithNamespaces(In("service", {"securityscan", "value2"}, "region"),
                                                      {"DiffNameSpace"}))
                             .Info()),
            kAffinity);
}

TEST_F(SingleNodeTest, AffinityNotMatchingTheExistingPod) {
  EXPECT_EQ(FilterNode1(*AffinityPod(ScanPod()).Affinity(In("service", {"antivirusscan", "value2"}, "region")).Info()),
            kAffinity);
}

TEST_F(SingleNodeTest, AllTermsMustMatchTheSamePod) {
  const api::v1::PodAffinityTerm exists = Term("region", {{"service", "Exists", {}}, {"wrongkey", "DoesNotExist", {}}});
  EXPECT_EQ(FilterNode1(*AffinityPod(S1())
                             .Affinity(exists)
                             .Affinity(Term("region", {{"service", "In", {"securityscan"}},
                                                      {"service", "NotIn", {"WrongValue"}}}))
                             .Info()),
            kFits);
  EXPECT_EQ(FilterNode1(*AffinityPod(S1())
                             .Affinity(exists)
                             .Affinity(Term("region", {{"service", "In", {"securityscan2"}},
                                                      {"service", "NotIn", {"WrongValue"}}}))
                             .Info()),
            kAffinity);
}

TEST_F(SingleNodeTest, AffinityAndAntiAffinity) {
  // Anti-affinity on a key node1 lacks cannot reject it.
  EXPECT_EQ(FilterNode1(*AffinityPod(S1())
                             .Affinity(In("service", {"securityscan", "value2"}, "region"))
                             .AntiAffinity(In("service", {"antivirusscan", "value2"}, "node"))
                             .Info()),
            kFits);
  // The existing pod also has an anti-affinity that does not select the incoming pod.
  SetCluster({Node1()}, {AffinityPod(ScanBuilder()).AntiAffinity(In("service", {"antivirusscan", "value2"}, "node")).Info()});
  EXPECT_EQ(FilterNode1(*AffinityPod(S1())
                             .Affinity(In("service", {"securityscan", "value2"}, "region"))
                             .AntiAffinity(In("service", {"antivirusscan", "value2"}, "node"))
                             .Info()),
            kFits);
}

TEST_F(SingleNodeTest, AntiAffinitySelectingTheExistingPod) {
  EXPECT_EQ(FilterNode1(*AffinityPod(S1())
                             .Affinity(In("service", {"securityscan", "value2"}, "region"))
                             .AntiAffinity(In("service", {"securityscan", "value2"}, "zone"))
                             .Info()),
            kAnti);
}

TEST_F(SingleNodeTest, ExistingPodsAntiAffinitySelectingTheIncomingPod) {
  SetCluster({Node1()}, {AffinityPod(ScanBuilder()).AntiAffinity(In("service", {"securityscan", "value2"}, "zone")).Info()});
  EXPECT_EQ(FilterNode1(*AffinityPod(ScanPod())
                             .Affinity(In("service", {"securityscan", "value2"}, "region"))
                             .AntiAffinity(In("service", {"antivirusscan", "value2"}, "node"))
                             .Info()),
            kExisting);
  // Even for a pod without any terms of its own.
  EXPECT_EQ(FilterNode1(*ScanPod().Info()), kExisting);
  // An existing anti-affinity that does not select the pod leaves nothing to check.
  SetCluster({Node1()}, {AffinityPod(ScanBuilder()).AntiAffinity(NotIn("service", {"securityscan", "value2"}, "zone")).Info()});
  EXPECT_TRUE(PreFilterSkips(*ScanPod().Info()));
}

TEST_F(SingleNodeTest, PodNotMatchingItsOwnAffinityNeedsAMatch) {
  // The pod's affinity (service NotIn securityscan) does not select itself, and the only
  // candidate elsewhere does not match either.
  SetCluster({Node1(), MakeNode("node2")}, {MakePod("other").Node("node2").Label("service", "securityscan").Info()});
  EXPECT_EQ(FilterNode1(*AffinityPod(ScanPod()).Affinity(NotIn("service", {"securityscan", "value2"}, "region")).Info()),
            kAffinity);
}

TEST_F(SingleNodeTest, AntiAffinitySymmetry) {
  // The incoming pod's second anti term (security exists) selects the existing pod.
  SetCluster({Node1()}, {AffinityPod(MakePod("e").Node("node1").Label("security", "S1"))
                             .AntiAffinity(Exists("security", "zone"))
                             .Info()});
  EXPECT_EQ(FilterNode1(*AffinityPod(ScanPod())
                             .AntiAffinity(Exists("service", "region"))
                             .AntiAffinity(Exists("security", "region"))
                             .Info()),
            kAnti);
  EXPECT_EQ(FilterNode1(*AffinityPod(ScanPod())
                             .AntiAffinity(Exists("service", "zone"))
                             .AntiAffinity(Exists("security", "zone"))
                             .Info()),
            kAnti);
  // The existing pod's terms select the incoming pod; the incoming pod's do not select it.
  SetCluster({Node1()}, {AffinityPod(MakePod("e").Node("node1").Label("service", "securityscan"))
                             .AntiAffinity(Exists("service", "zone"))
                             .AntiAffinity(Exists("security", "zone"))
                             .Info()});
  EXPECT_EQ(FilterNode1(*AffinityPod(MakePod("p").Label("security", "S1"))
                             .AntiAffinity(Exists("security", "zone"))
                             .Info()),
            kExisting);
}

TEST_F(SingleNodeTest, AntiAffinityPartialMatchesBothWays) {
  // Each pod's "abc"/"def" terms select the other's labels in one direction at least.
  SetCluster({Node1()}, {AffinityPod(MakePod("e").Node("node1").Label("def", "").Label("xyz", ""))
                             .AntiAffinity(Exists("abc", "zone"))
                             .AntiAffinity(Exists("def", "zone"))
                             .Info()});
  EXPECT_EQ(FilterNode1(*AffinityPod(MakePod("p").Label("abc", "").Label("xyz", ""))
                             .AntiAffinity(Exists("abc", "zone"))
                             .AntiAffinity(Exists("def", "zone"))
                             .Info()),
            kAnti);
}

// ------------------------------------------------------------------ Filter, several nodes

TEST_F(InterPodAffinityTest, AffinityAdmitsEveryNodeOfTheMatchingTopology) {
  SetCluster({MakeNode("node1").Label("region", "China"),
              MakeNode("node2").Label("region", "China").Label("az", "az1"),
              MakeNode("node3").Label("region", "India")},
             {MakePod("p1").Node("node1").Label("foo", "bar").Info()});
  EXPECT_EQ(RunFilter(*AffinityPod(MakePod("p")).Affinity(In("foo", {"bar"}, "region")).Info()),
            (StringMap{{"node1", kFits}, {"node2", kFits}, {"node3", kAffinity}}));
}

TEST_F(InterPodAffinityTest, FirstPodOfASelfAffineGroupMayGoAnywhereWithTheTopology) {
  PodInfoPtr pod = AffinityPod(MakePod("p").Label("foo", "bar").Label("service", "securityscan"))
                       .Affinity(In("foo", {"bar"}, "zone"))
                       .Affinity(In("service", {"securityscan"}, "zone"))
                       .Info();
  // p1 matches only the first term, so no pod matches all terms anywhere.
  SetCluster({MakeNode("nodeA").Label("zone", "az1"), MakeNode("nodeB").Label("zone", "az2")},
             {MakePod("p1").Node("nodeA").Label("foo", "bar").Info()});
  EXPECT_EQ(RunFilter(*pod), (StringMap{{"nodeA", kFits}, {"nodeB", kFits}}));
  // Nodes without the topology key never qualify.
  SetCluster({MakeNode("nodeA").Label("zoneLabel", "az1"), MakeNode("nodeB").Label("zoneLabel", "az2")},
             {MakePod("p1").Node("nodeA").Label("foo", "bar").Info()});
  EXPECT_EQ(RunFilter(*pod), (StringMap{{"nodeA", kAffinity}, {"nodeB", kAffinity}}));
  // Once a pod matches all terms somewhere, only its zone qualifies.
  SetCluster({MakeNode("nodeA").Label("zone", "az1"), MakeNode("nodeB").Label("zone", "az2")},
             {MakePod("p1").Node("nodeA").Label("foo", "bar").Label("service", "securityscan").Info()});
  EXPECT_EQ(RunFilter(*pod), (StringMap{{"nodeA", kFits}, {"nodeB", kAffinity}}));
}

TEST_F(InterPodAffinityTest, AntiAffinityRejectsTheWholeTopologyDomain) {
  SetCluster({MakeNode("nodeA").Label("region", "China"),
              MakeNode("nodeB").Label("region", "China").Label("az", "az1"),
              MakeNode("nodeC").Label("region", "India")},
             {MakePod("e").Node("nodeA").Label("foo", "abc").Info()});
  EXPECT_EQ(RunFilter(*AffinityPod(MakePod("p")).AntiAffinity(In("foo", {"abc"}, "region")).Info()),
            (StringMap{{"nodeA", kAnti}, {"nodeB", kAnti}, {"nodeC", kFits}}));
}

TEST_F(InterPodAffinityTest, AntiAffinityAnyTermRejects) {
  SetCluster({MakeNode("nodeA").Label("region", "r1").Label("zone", "z1"),
              MakeNode("nodeB").Label("region", "r1").Label("zone", "z2")},
             {MakePod("e").Node("nodeA").Label("foo", "abc").Label("service", "securityscan").Info()});
  EXPECT_EQ(RunFilter(*AffinityPod(MakePod("p"))
                           .AntiAffinity(In("foo", {"abc"}, "region"))
                           .AntiAffinity(In("service", {"securityscan"}, "zone"))
                           .Info()),
            (StringMap{{"nodeA", kAnti}, {"nodeB", kAnti}}));
}

TEST_F(InterPodAffinityTest, ExistingAntiAffinityOnlyCountsItsOwnNamespace) {
  // NS2's pod rejects foo=123 pods of its own namespace only; NS1's foo=bar pod is what the
  // incoming pod avoids.
  SetCluster({MakeNode("nodeA").Label("region", "China"),
              MakeNode("nodeB").Label("region", "China").Label("az", "az1"),
              MakeNode("nodeC").Label("region", "India")},
             {MakePod("a").Namespace("NS1").Node("nodeA").Label("foo", "bar").Info(),
              AffinityPod(MakePod("c").Namespace("NS2").Node("nodeC"))
                  .AntiAffinity(In("foo", {"123"}, "region"))
                  .Info()});
  EXPECT_EQ(RunFilter(*AffinityPod(MakePod("p").Namespace("NS1").Label("foo", "123"))
                           .AntiAffinity(In("foo", {"bar"}, "region"))
                           .Info()),
            (StringMap{{"nodeA", kAnti}, {"nodeB", kAnti}, {"nodeC", kFits}}));
}

TEST_F(InterPodAffinityTest, TermsNeedBothSelectorAndTopologyKey) {
  const std::vector<NodeBuilder> nodes = {
      MakeNode("nodeA").Label("region", "r1").Label("zone", "z1").Label("hostname", "nodeA"),
      MakeNode("nodeB").Label("region", "r1").Label("zone", "z2").Label("hostname", "nodeB")};
  // An existing term whose topology key no node has counts nowhere: nothing to filter.
  SetCluster(nodes, {AffinityPod(MakePod("e").Node("nodeA")).AntiAffinity(Exists("foo", "invalid-node-label")).Info()});
  EXPECT_TRUE(PreFilterSkips(*MakePod("p").Label("foo", "").Info()));
  // The same for the incoming pod's own term.
  SetCluster(nodes, {MakePod("e").Node("nodeA").Label("foo", "").Info()});
  EXPECT_EQ(RunFilter(*AffinityPod(MakePod("p")).AntiAffinity(Exists("foo", "invalid-node-label")).Info()),
            (StringMap{{"nodeA", kFits}, {"nodeB", kFits}}));
  // One valid term of the existing pod still rejects its zone.
  SetCluster(nodes, {AffinityPod(MakePod("e").Node("nodeA"))
                         .AntiAffinity(Exists("foo", "invalid-node-label"))
                         .AntiAffinity(Exists("bar", "zone"))
                         .Info()});
  EXPECT_EQ(RunFilter(*MakePod("p").Label("foo", "").Label("bar", "").Info()),
            (StringMap{{"nodeA", kExisting}, {"nodeB", kFits}}));
  // Two existing pods, each rejecting a different topology.
  SetCluster(nodes, {AffinityPod(MakePod("e1").Node("nodeA")).AntiAffinity(Exists("foo", "zone")).Info(),
                     AffinityPod(MakePod("e2").Node("nodeA")).AntiAffinity(Exists("bar", "region")).Info()});
  EXPECT_EQ(RunFilter(*MakePod("p").Label("foo", "").Label("bar", "").Info()),
            (StringMap{{"nodeA", kExisting}, {"nodeB", kExisting}}));
}

TEST_F(InterPodAffinityTest, NamespaceSelectorOfTheIncomingPod) {
  snapshot_.SetNamespaceLabels("team1-a", {{"team", "team1"}});
  snapshot_.SetNamespaceLabels("team2-a", {{"team", "team2"}});
  const std::vector<NodeBuilder> nodes = {MakeNode("nodeA").Label("region", "r1"),
                                          MakeNode("nodeB").Label("region", "r2")};
  PodInfoPtr pod = AffinityPod(MakePod("p").Namespace("team2-a"))
                       .Affinity(WithTeamSelector(In("app", {"web"}, "region"), "team1"))
                       .Info();
  // Only pods of namespaces labelled team=team1 can satisfy the term.
  SetCluster(nodes, {MakePod("w1").Namespace("team2-a").Node("nodeA").Label("app", "web").Info(),
                     MakePod("w2").Namespace("team1-a").Node("nodeB").Label("app", "web").Info()});
  EXPECT_EQ(RunFilter(*pod), (StringMap{{"nodeA", kAffinity}, {"nodeB", kFits}}));
  // A namespace the snapshot does not know never matches a non-empty namespaceSelector.
  SetCluster(nodes, {MakePod("w1").Namespace("unknown").Node("nodeA").Label("app", "web").Info()});
  EXPECT_EQ(RunFilter(*pod), (StringMap{{"nodeA", kAffinity}, {"nodeB", kAffinity}}));
}

TEST_F(InterPodAffinityTest, EmptyNamespaceSelectorMeansEveryNamespace) {
  const std::vector<NodeBuilder> nodes = {MakeNode("nodeA").Label("region", "r1"),
                                          MakeNode("nodeB").Label("region", "r2")};
  api::v1::PodAffinityTerm term = In("app", {"web"}, "region");
  term.mutable_namespace_selector();  // present and empty
  SetCluster(nodes, {MakePod("w").Namespace("elsewhere").Node("nodeA").Label("app", "web").Info()});
  EXPECT_EQ(RunFilter(*AffinityPod(MakePod("p")).AntiAffinity(term).Info()),
            (StringMap{{"nodeA", kAnti}, {"nodeB", kFits}}));
}

TEST_F(InterPodAffinityTest, ExistingPodsNamespaceSelectorUsesTheIncomingPodsNamespace) {
  snapshot_.SetNamespaceLabels("team1-a", {{"team", "team1"}});
  snapshot_.SetNamespaceLabels("team2-a", {{"team", "team2"}});
  SetCluster({MakeNode("nodeA").Label("zone", "z1"), MakeNode("nodeB").Label("zone", "z2")},
             {AffinityPod(MakePod("e").Namespace("team2-a").Node("nodeA"))
                  .AntiAffinity(WithTeamSelector(Exists("app", "zone"), "team1"))
                  .Info()});
  EXPECT_EQ(RunFilter(*MakePod("p").Namespace("team1-a").Label("app", "x").Info()),
            (StringMap{{"nodeA", kExisting}, {"nodeB", kFits}}));
  EXPECT_TRUE(PreFilterSkips(*MakePod("p").Namespace("team2-a").Label("app", "x").Info()));
}

// ------------------------------------------------------------------ AddPod / RemovePod

TEST_F(InterPodAffinityTest, AddAndRemovePodUpdateAllThreeCounts) {
  SetCluster({MakeNode("nodeA").Label("region", "r1").Label("zone", "z1"),
              MakeNode("nodeB").Label("region", "r1").Label("zone", "z2"),
              MakeNode("nodeC").Label("region", "r2").Label("zone", "z3")},
             {MakePod("web").Node("nodeA").Label("app", "web").Info()});
  PodInfoPtr pod = AffinityPod(MakePod("p").Label("app", "api"))
                       .Affinity(In("app", {"web"}, "region"))
                       .AntiAffinity(In("app", {"db"}, "zone"))
                       .Info();
  CycleState state;
  PreFilterResult result;
  ASSERT_TRUE(pre_filter_->PreFilter(state, *pod, &result).ok());
  const StringMap start = {{"nodeA", kFits}, {"nodeB", kFits}, {"nodeC", kAffinity}};
  EXPECT_EQ(FilterAll(state, *pod), start);

  // A db pod on nodeB: the pod's anti-affinity now rejects zone z2.
  PodInfoPtr db = MakePod("db").Node("nodeB").Label("app", "db").Info();
  ASSERT_TRUE(pre_filter_->AddPod(state, *pod, *db, Node("nodeB")).ok());
  EXPECT_EQ(FilterAll(state, *pod), (StringMap{{"nodeA", kFits}, {"nodeB", kAnti}, {"nodeC", kAffinity}}));
  // A pod on nodeC whose anti-affinity rejects app=api pods in its zone.
  PodInfoPtr guard =
      AffinityPod(MakePod("guard").Node("nodeC").Label("app", "web")).AntiAffinity(In("app", {"api"}, "zone")).Info();
  ASSERT_TRUE(pre_filter_->AddPod(state, *pod, *guard, Node("nodeC")).ok());
  // guard is also a web pod: region r2 now satisfies the affinity, but its anti-affinity
  // rejects nodeC.
  EXPECT_EQ(FilterAll(state, *pod), (StringMap{{"nodeA", kFits}, {"nodeB", kAnti}, {"nodeC", kExisting}}));

  // Preemption's what-if: remove the web pod on a clone; the original stays.
  std::unique_ptr<CycleState> copy = state.Clone();
  ASSERT_TRUE(pre_filter_->RemovePod(*copy, *pod, *Node("nodeA").pods()[0], Node("nodeA")).ok());
  ASSERT_TRUE(pre_filter_->RemovePod(*copy, *pod, *guard, Node("nodeC")).ok());
  ASSERT_TRUE(pre_filter_->RemovePod(*copy, *pod, *db, Node("nodeB")).ok());
  // No web pod anywhere, and p does not match its own affinity: no node qualifies.
  EXPECT_EQ(FilterAll(*copy, *pod), (StringMap{{"nodeA", kAffinity}, {"nodeB", kAffinity}, {"nodeC", kAffinity}}));
  EXPECT_EQ(FilterAll(state, *pod), (StringMap{{"nodeA", kFits}, {"nodeB", kAnti}, {"nodeC", kExisting}}));
}

TEST_F(InterPodAffinityTest, RemovingTheLastMatchReopensSelfAffinity) {
  SetCluster({MakeNode("nodeA").Label("zone", "z1"), MakeNode("nodeB").Label("zone", "z2")},
             {MakePod("w").Node("nodeA").Label("app", "web").Info()});
  PodInfoPtr pod = AffinityPod(MakePod("p").Label("app", "web")).Affinity(In("app", {"web"}, "zone")).Info();
  CycleState state;
  PreFilterResult result;
  ASSERT_TRUE(pre_filter_->PreFilter(state, *pod, &result).ok());
  EXPECT_EQ(FilterAll(state, *pod), (StringMap{{"nodeA", kFits}, {"nodeB", kAffinity}}));
  ASSERT_TRUE(pre_filter_->RemovePod(state, *pod, *Node("nodeA").pods()[0], Node("nodeA")).ok());
  // The counts drop to nothing, so the pod may start its group anywhere.
  EXPECT_EQ(FilterAll(state, *pod), (StringMap{{"nodeA", kFits}, {"nodeB", kFits}}));
}

TEST_F(InterPodAffinityTest, FilterWithoutPreFilterIsAnError) {
  SetCluster({MakeNode("nodeA")}, {});
  PodInfoPtr pod = AffinityPod(MakePod("p")).Affinity(In("app", {"web"}, "zone")).Info();
  CycleState state;
  EXPECT_EQ(filter_->Filter(state, *pod, Node("nodeA")).code(), Code::kError);
  EXPECT_EQ(pre_filter_->AddPod(state, *pod, *pod, Node("nodeA")).code(), Code::kError);
  state.skip_filter.insert("InterPodAffinity");
  EXPECT_TRUE(pre_filter_->AddPod(state, *pod, *pod, Node("nodeA")).ok());
}

// ------------------------------------------------------------------ per node

// Where hostnames are node names and every anti-affinity term is per hostname, each node
// is judged by its own pods, without counting over the cluster: the verdicts must be the
// general path's, node by node, also on a node copy with a pod added (preemption's and
// nominated pods' what-ifs), on random clusters.
TEST_F(InterPodAffinityTest, JudgingEachNodeByItsOwnPodsGivesTheGeneralVerdicts) {
  const char* apps[] = {"a", "b", "c"};
  const char* namespaces[] = {"default", "other"};
  int per_node_cycles = 0;
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    std::mt19937_64 rng(seed);
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
    auto random_pod = [&](const std::string& name, bool anti, const std::string& node = "") {
      PodBuilder builder = MakePod(name).Namespace(namespaces[pick(2)]).Label("app", apps[pick(3)]);
      if (!node.empty()) builder.Node(node);
      AffinityPod pod(builder);
      const int terms = anti ? 1 + pick(2) : 0;
      for (int t = 0; t < terms; ++t) {
        api::v1::PodAffinityTerm term = In("app", {apps[pick(3)]}, "kubernetes.io/hostname");
        if (pick(2) == 0) term = WithNamespaces(term, {"default", "other"});
        pod.AntiAffinity(term);
      }
      return pod;
    };
    std::vector<NodeBuilder> nodes;
    std::vector<PodInfoPtr> pods;
    for (int i = 0; i < 8; ++i) {
      const std::string name = fmt::format("node-{}", i);
      NodeBuilder node = MakeNode(name).Label("zone", fmt::format("z{}", i % 3));
      if (pick(5) != 0) node.Label("kubernetes.io/hostname", name);
      nodes.push_back(node);
      for (int k = pick(4); k > 0; --k) {
        pods.push_back(random_pod(fmt::format("pod-{}-{}", i, k), pick(3) == 0, name).Info());
      }
    }
    SetCluster(nodes, pods);
    for (int p = 0; p < 6; ++p) {
      PodInfoPtr incoming = random_pod(fmt::format("incoming-{}", p), pick(4) != 0).Info();
      PodInfoPtr added = random_pod("added", pick(2) == 0).Info();
      const NodeInfo& target = *snapshot_.nodes()[static_cast<size_t>(pick(8))];
      NodeInfo with_added = target;
      with_added.AddPod(added);
      // Per node, then the general path (the snapshot keeping its hostname facts to itself).
      std::map<std::string, std::string> verdicts[2];
      bool skipped[2] = {false, false};
      for (int general = 0; general < 2; ++general) {
        snapshot_.set_hostname_facts(general == 0);
        CycleState state;
        PreFilterResult result;
        Status pre = pre_filter_->PreFilter(state, *incoming, &result);
        skipped[general] = pre.IsSkip();
        if (pre.IsSkip()) continue;
        ASSERT_TRUE(pre.ok()) << pre.Message();
        if (general == 0) {
          per_node_cycles += plugin_->NodeLocalThisCycle(state) ? 1 : 0;
        } else {
          EXPECT_FALSE(plugin_->NodeLocalThisCycle(state));
        }
        verdicts[general] = FilterAll(state, *incoming);
        ASSERT_TRUE(pre_filter_->AddPod(state, *incoming, *added, with_added).ok());
        verdicts[general]["with-added"] = FilterOutcome(filter_->Filter(state, *incoming, with_added));
      }
      snapshot_.set_hostname_facts(true);
      if (skipped[0] || skipped[1]) {
        // Skipped only when no node could reject: the other path passes every node.
        for (const auto& [node, verdict] : verdicts[skipped[0] ? 1 : 0]) {
          if (node != "with-added") EXPECT_EQ(verdict, kFits) << "seed " << seed << " " << node;
        }
        continue;
      }
      EXPECT_EQ(verdicts[0], verdicts[1]) << "seed " << seed << ", pod " << p;
    }
  }
  // Not vacuous: most cycles ran per node.
  EXPECT_GT(per_node_cycles, 60);
}

// ------------------------------------------------------------------ Score

// Terms of Kubernetes' TestPreferredAffinity.
api::v1::PodAffinityTerm SecurityIn(std::string value, std::string topology) {
  return In("security", {std::move(value)}, std::move(topology));
}

class PreferredAffinityTest : public InterPodAffinityTest {
 protected:
  static NodeBuilder China(std::string name) { return MakeNode(std::move(name)).Label("region", "China"); }
  static NodeBuilder India(std::string name) { return MakeNode(std::move(name)).Label("region", "India"); }
  static NodeBuilder Az(std::string name, std::string az) { return MakeNode(std::move(name)).Label("az", std::move(az)); }
  static PodBuilder Security(std::string name, std::string node, std::string value) {
    return MakePod(std::move(name)).Node(std::move(node)).Label("security", std::move(value));
  }
  static AffinityPod StayWithS1InRegion(const PodBuilder& b) {
    return std::move(AffinityPod(b).PreferAffinity(5, SecurityIn("S1", "region")));
  }
  static AffinityPod StayWithS2InRegion(const PodBuilder& b) {
    return std::move(AffinityPod(b).PreferAffinity(6, SecurityIn("S2", "region")));
  }
  static AffinityPod AwayFromS1InAz(const PodBuilder& b) {
    return std::move(AffinityPod(b).PreferAntiAffinity(5, SecurityIn("S1", "az")));
  }
  static AffinityPod AwayFromS2InAz(const PodBuilder& b) {
    return std::move(AffinityPod(b).PreferAntiAffinity(5, SecurityIn("S2", "az")));
  }
  static AffinityPod WithS1InRegionAwayFromS2InAz(const PodBuilder& b) {
    return std::move(AffinityPod(b)
                         .PreferAffinity(8, SecurityIn("S1", "region"))
                         .PreferAntiAffinity(5, SecurityIn("S2", "az")));
  }
};

TEST_F(PreferredAffinityTest, NothingToScoreIsSkipped) {
  SetCluster({China("node1"), India("node2"), Az("node3", "az1")}, {});
  EXPECT_TRUE(PreScoreSkips(*MakePod("p").Label("security", "S1").Info()));
}

TEST_F(PreferredAffinityTest, AffinityFavorsTheTopologyWithMatchingPods) {
  SetCluster({China("node1"), India("node2"), Az("node3", "az1")},
             {Security("a", "node1", "S1").Info(), Security("b", "node2", "S2").Info(),
              Security("c", "node3", "S1").Info()});
  EXPECT_EQ(RunScore(*StayWithS1InRegion(MakePod("p").Label("security", "S1")).Info()),
            (ScoreMap{{"node1", 100}, {"node2", 0}, {"node3", 0}}));

  SetCluster({China("node1"), China("node2").Label("az", "az1"), India("node3")},
             {Security("a", "node1", "S1").Info()});
  EXPECT_EQ(RunScore(*StayWithS1InRegion(MakePod("p")).Info()),
            (ScoreMap{{"node1", 100}, {"node2", 100}, {"node3", 0}}));

  SetCluster({China("node1"), India("node2"), China("node3"), China("node4"), India("node5")},
             {Security("a", "node1", "S2").Info(), Security("b", "node1", "S2").Info(),
              Security("c", "node2", "S2").Info(), Security("d", "node3", "S2").Info(),
              Security("e", "node4", "S2").Info(), Security("f", "node5", "S2").Info()});
  EXPECT_EQ(RunScore(*StayWithS2InRegion(MakePod("p").Label("security", "S1")).Info()),
            (ScoreMap{{"node1", 100}, {"node2", 0}, {"node3", 100}, {"node4", 100}, {"node5", 0}}));
}

TEST_F(PreferredAffinityTest, DifferentOperatorsAndWeights) {
  SetCluster({China("node1"), India("node2"), Az("node3", "az1")},
             {Security("a", "node1", "S1").Info(), Security("b", "node2", "S2").Info(),
              Security("c", "node3", "S1").Info()});
  PodInfoPtr pod = AffinityPod(MakePod("p").Label("security", "S1"))
                       .PreferAffinity(8, Term("region", {{"security", "NotIn", {"S1"}},
                                                         {"security", "In", {"S2"}}}))
                       .PreferAffinity(2, Term("region", {{"security", "Exists", {}},
                                                         {"wrongkey", "DoesNotExist", {}}}))
                       .Info();
  EXPECT_EQ(RunScore(*pod), (ScoreMap{{"node1", 20}, {"node2", 100}, {"node3", 0}}));
}

TEST_F(PreferredAffinityTest, ExistingPodsPreferencesCountForTheIncomingPod) {
  SetCluster({China("node1"), India("node2"), Az("node3", "az1")},
             {StayWithS1InRegion(Security("a", "node1", "S1")).Info(),
              StayWithS2InRegion(Security("b", "node2", "S2")).Info()});
  EXPECT_EQ(RunScore(*MakePod("p").Label("security", "S2").Info()),
            (ScoreMap{{"node1", 0}, {"node2", 100}, {"node3", 0}}));
}

TEST_F(PreferredAffinityTest, ExistingPodsRequiredAffinityCountsWithHardPodAffinityWeight) {
  auto hard = [](const PodBuilder& b) {
    return AffinityPod(b)
        .Affinity(In("security", {"S1", "value2"}, "region"))
        .Affinity(Term("region", {{"security", "Exists", {}}, {"wrongkey", "DoesNotExist", {}}}))
        .Info();
  };
  SetCluster({China("node1"), India("node2"), Az("node3", "az1")},
             {hard(Security("a", "node1", "S1")), hard(Security("b", "node2", "S2"))});
  PodInfoPtr pod = MakePod("p").Label("security", "S1").Info();
  EXPECT_EQ(RunScore(*pod), (ScoreMap{{"node1", 100}, {"node2", 100}, {"node3", 0}}));
  // With weight 0 the existing pods' required terms do not count at all.
  MakePlugin(R"({"hardPodAffinityWeight": 0})");
  EXPECT_TRUE(PreScoreSkips(*pod));
}

TEST_F(PreferredAffinityTest, AntiAffinity) {
  SetCluster({Az("node1", "az1"), China("node2")},
             {Security("a", "node1", "S1").Info(), Security("b", "node2", "S2").Info()});
  PodInfoPtr pod = AwayFromS1InAz(MakePod("p").Label("security", "S1")).Info();
  EXPECT_EQ(RunScore(*pod), (ScoreMap{{"node1", 0}, {"node2", 100}}));
  SetCluster({Az("node1", "az1"), China("node2")},
             {Security("a", "node1", "S1").Info(), Security("b", "node2", "S1").Info()});
  EXPECT_EQ(RunScore(*pod), (ScoreMap{{"node1", 0}, {"node2", 100}}));
  SetCluster({Az("node1", "az1"), India("node2")},
             {Security("a", "node1", "S1").Info(), Security("b", "node1", "S1").Info(),
              Security("c", "node2", "S2").Info()});
  EXPECT_EQ(RunScore(*pod), (ScoreMap{{"node1", 0}, {"node2", 100}}));
}

TEST_F(PreferredAffinityTest, AntiAffinitySymmetry) {
  SetCluster({Az("node1", "az1"), Az("node2", "az2")},
             {AwayFromS2InAz(Security("a", "node1", "S1")).Info(),
              AwayFromS1InAz(Security("b", "node2", "S2")).Info()});
  EXPECT_EQ(RunScore(*MakePod("p").Label("security", "S2").Info()),
            (ScoreMap{{"node1", 0}, {"node2", 100}}));
}

TEST_F(PreferredAffinityTest, AffinityAndAntiAffinityTogether) {
  SetCluster({China("node1"), Az("node2", "az1")},
             {Security("a", "node1", "S1").Info(), Security("b", "node2", "S1").Info()});
  EXPECT_EQ(RunScore(*WithS1InRegionAwayFromS2InAz(MakePod("p").Label("security", "S1")).Info()),
            (ScoreMap{{"node1", 100}, {"node2", 0}}));

  SetCluster({China("node1").Label("az", "az1"), India("node2"), China("node3"), China("node4"),
              India("node5")},
             {Security("a", "node1", "S1").Info(), Security("b", "node1", "S1").Info(),
              Security("c", "node2", "S1").Info(), Security("d", "node3", "S1").Info(),
              Security("e", "node3", "S1").Info(), Security("f", "node4", "S1").Info(),
              Security("g", "node5", "S1").Info()});
  EXPECT_EQ(RunScore(*WithS1InRegionAwayFromS2InAz(MakePod("p").Label("security", "S1")).Info()),
            (ScoreMap{{"node1", 100}, {"node2", 0}, {"node3", 100}, {"node4", 100}, {"node5", 0}}));
}

TEST_F(PreferredAffinityTest, AffinityAntiAffinityAndSymmetryTogether) {
  // Weights per node: affinity 8, anti -5, symmetric affinity 8, symmetric anti -5.
  SetCluster({China("node1"), Az("node2", "az1"), India("node3"), Az("node4", "az2")},
             {Security("a", "node1", "S1").Info(), Security("b", "node2", "S2").Info(),
              WithS1InRegionAwayFromS2InAz(MakePod("c").Node("node3")).Info(),
              AwayFromS1InAz(MakePod("d").Node("node4")).Info()});
  EXPECT_EQ(RunScore(*WithS1InRegionAwayFromS2InAz(MakePod("p").Label("security", "S1")).Info()),
            (ScoreMap{{"node1", 100}, {"node2", 0}, {"node3", 100}, {"node4", 0}}));
}

TEST_F(PreferredAffinityTest, PodWithoutTermsLooksOnlyAtPodsWithAffinity) {
  // The incoming pod has no terms: only node2's pod (with terms) is looked at. Its
  // preference raises region China, which both nodes share: equal scores normalize to 0.
  SetCluster({China("node1"), China("node2")},
             {Security("a", "node1", "S1").Info(),
              WithS1InRegionAwayFromS2InAz(MakePod("b").Node("node2")).Info()});
  PodInfoPtr pod = MakePod("p").Label("security", "S1").Info();
  EXPECT_EQ(RunScore(*pod), (ScoreMap{{"node1", 0}, {"node2", 0}}));
}

TEST_F(PreferredAffinityTest, NamespaceSelectorSymmetry) {
  snapshot_.SetNamespaceLabels("subteam1.team1", {{"team", "team1"}});
  snapshot_.SetNamespaceLabels("subteam2.team1", {{"team", "team1"}});
  snapshot_.SetNamespaceLabels("subteam1.team2", {{"team", "team2"}});
  snapshot_.SetNamespaceLabels("subteam2.team2", {{"team", "team2"}});
  const api::v1::PodAffinityTerm team_term =
      WithTeamSelector(WithNamespaces(SecurityIn("S1", "region"), {"subteam2.team2"}), "team1");
  PodInfoPtr pod = MakePod("p").Namespace("subteam1.team1").Label("security", "S1").Info();

  SetCluster({China("node1"), India("node2"), Az("node3", "az1")},
             {AffinityPod(Security("a", "node1", "S1")).PreferAffinity(5, team_term).Info(),
              StayWithS2InRegion(Security("b", "node2", "S2")).Info()});
  EXPECT_EQ(RunScore(*pod), (ScoreMap{{"node1", 100}, {"node2", 0}, {"node3", 0}}));

  SetCluster({China("node1"), India("node2"), Az("node3", "az1")},
             {AffinityPod(Security("a", "node1", "S1")).PreferAntiAffinity(5, team_term).Info(),
              StayWithS2InRegion(Security("b", "node2", "S2")).Info()});
  EXPECT_EQ(RunScore(*pod), (ScoreMap{{"node1", 0}, {"node2", 100}, {"node3", 100}}));
}

TEST_F(PreferredAffinityTest, IncomingPodsNamespaceSelector) {
  snapshot_.SetNamespaceLabels("subteam1.team1", {{"team", "team1"}});
  snapshot_.SetNamespaceLabels("subteam1.team2", {{"team", "team2"}});
  snapshot_.SetNamespaceLabels("subteam2.team2", {{"team", "team2"}});
  const api::v1::PodAffinityTerm team_term =
      WithTeamSelector(WithNamespaces(SecurityIn("S1", "region"), {"subteam2.team2"}), "team1");
  // node1 (China) holds 2 matching pods of team1 and one of team2 (not selected); node2
  // (India) holds one of subteam2.team2 (listed by name).
  SetCluster({China("node1"), India("node2")},
             {MakePod("a").Namespace("subteam1.team1").Node("node1").Label("security", "S1").Info(),
              MakePod("b").Namespace("subteam1.team1").Node("node1").Label("security", "S1").Info(),
              MakePod("c").Namespace("subteam1.team2").Node("node1").Label("security", "S1").Info(),
              MakePod("d").Namespace("subteam2.team2").Node("node2").Label("security", "S1").Info()});
  PodInfoPtr pod = AffinityPod(MakePod("p").Namespace("subteam1.team1").Label("security", "S1"))
                       .PreferAffinity(5, team_term)
                       .Info();
  // Raw scores 10 and 5: min-max normalized against the minimum, 5.
  EXPECT_EQ(RunScore(*pod), (ScoreMap{{"node1", 100}, {"node2", 0}}));
}

TEST_F(PreferredAffinityTest, NormalizationIsMinMaxOverNegativeScores) {
  // Scores -10, -5 and 0 become 0, 50 and 100.
  SetCluster({Az("node1", "az1"), Az("node2", "az2"), Az("node3", "az3")},
             {Security("a", "node1", "S1").Info(), Security("b", "node1", "S1").Info(),
              Security("c", "node2", "S1").Info()});
  EXPECT_EQ(RunScore(*AwayFromS1InAz(MakePod("p")).Info()),
            (ScoreMap{{"node1", 0}, {"node2", 50}, {"node3", 100}}));
}

TEST_F(PreferredAffinityTest, IgnorePreferredTermsOfExistingPods) {
  MakePlugin(R"({"ignorePreferredTermsOfExistingPods": true})");
  SetCluster({China("node1"), India("node2"), Az("node3", "az1")},
             {StayWithS1InRegion(Security("a", "node1", "S1")).Info(),
              StayWithS2InRegion(Security("b", "node2", "S2")).Info()});
  // Without terms of its own the pod skips scoring.
  EXPECT_TRUE(PreScoreSkips(*MakePod("p").Label("security", "S2").Info()));
  // With terms of its own the pod is scored as usual, as in Kubernetes: its preference
  // gives China +5 and the existing pod's preference for S2 gives India +6.
  EXPECT_EQ(RunScore(*StayWithS1InRegion(MakePod("p").Label("security", "S2")).Info()),
            (ScoreMap{{"node1", 83}, {"node2", 100}, {"node3", 0}}));
}

// ------------------------------------------------------------------ args

TEST(InterPodAffinityArgsTest, ValidatesHardPodAffinityWeight) {
  FakeSnapshot snapshot;
  FakeHandle handle(&snapshot);
  auto make = [&](const std::string& json) {
    return plugins::NewInterPodAffinity(PluginArgs(JsonStruct(json), "cfg"), handle).status();
  };
  EXPECT_THAT(make(R"({"hardPodAffinityWeight": 100})"), IsOk());
  EXPECT_THAT(make(R"({"hardPodAffinityWeight": 0})"), IsOk());
  EXPECT_THAT(make(R"({"hardPodAffinityWeight": 101})"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("cfg: hardPodAffinityWeight: Invalid value: 101: not in valid range [0, 100]")));
  EXPECT_THAT(make(R"({"hardPodAffinityWeight": -1})"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(make(R"({"weight": 1})"), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace orch::scheduler
