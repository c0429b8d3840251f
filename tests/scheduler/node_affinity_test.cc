// NodeAffinity, with the cases of kube-scheduler's node_affinity_test.go.
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
using ::testing::UnorderedElementsAre;
using testing::MakeNode;
using testing::MakePod;
using testing::NodeBuilder;
using testing::PodBuilder;

constexpr std::string_view kReasonPod = "node(s) didn't match Pod's node affinity/selector";
constexpr std::string_view kReasonEnforced =
    "node(s) didn't match scheduler-enforced node affinity";

// A pod whose spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution
// has these nodeSelectorTerms (YAML flow list).
PodBuilder PodRequiring(std::string_view terms) {
  PodBuilder pod = MakePod("p");
  pod.SpecYaml(fmt::format(
      "affinity: {{nodeAffinity: {{requiredDuringSchedulingIgnoredDuringExecution: "
      "{{nodeSelectorTerms: {}}}}}}}",
      terms));
  return pod;
}

NodeBuilder NodeLabeled(std::string name, std::vector<std::pair<std::string, std::string>> labels) {
  NodeBuilder node = MakeNode(std::move(name));
  for (auto& [k, v] : labels) node.Label(k, v);
  return node;
}

class NodeAffinityTest : public ::testing::Test {
 protected:
  NodeAffinityTest() : handle_(&snapshot_) {}

  std::unique_ptr<Plugin> Make(std::string_view args_yaml = "") {
    return testing::MakePlugin(&plugins::NewNodeAffinity, handle_,
                               args_yaml.empty() ? PluginArgs() : testing::ArgsFromYaml(args_yaml));
  }

  // PreFilter then Filter, as the framework runs them; records PreFilter's outcome.
  Status Filter(const PodBuilder& pod, const NodeBuilder& node, std::string_view args = "",
                bool run_pre_filter = true) {
    std::unique_ptr<Plugin> plugin = Make(args);
    PodInfoPtr info = pod.Info();
    CycleState state;
    pre_filter_ = Status();
    pre_filter_result_ = PreFilterResult();
    if (run_pre_filter) {
      pre_filter_ =
          testing::As<PreFilterPlugin>(*plugin).PreFilter(state, *info, &pre_filter_result_);
    }
    return testing::As<FilterPlugin>(*plugin).Filter(state, *info, node.Info());
  }

  testing::ScoreResult Score(const PodBuilder& pod, const std::vector<NodeBuilder>& nodes,
                             std::string_view args = "") {
    std::vector<NodeInfo> infos;
    for (const NodeBuilder& n : nodes) infos.push_back(n.Info());
    snapshot_.Reset(std::move(infos));
    std::unique_ptr<Plugin> plugin = Make(args);
    // Keep the nodes in the order given (the snapshot sorts them by name).
    std::vector<const NodeInfo*> ordered;
    for (const NodeBuilder& n : nodes) ordered.push_back(snapshot_.Get(n.Obj().metadata().name()));
    return testing::RunScore(*plugin, *pod.Info(), ordered);
  }

  testing::FakeSnapshot snapshot_;
  testing::FakeHandle handle_;
  Status pre_filter_;
  PreFilterResult pre_filter_result_;
};

void ExpectRejected(const Status& status, std::string_view reason) {
  EXPECT_EQ(status.code(), Code::kUnschedulableAndUnresolvable) << status.Message();
  EXPECT_THAT(status.reasons(), ElementsAre(std::string(reason)));
}

// ------------------------------------------------------------------ nodeSelector

TEST_F(NodeAffinityTest, NodeSelectorMissingLabels) {
  ExpectRejected(Filter(MakePod("p").NodeSelector("foo", "bar"), MakeNode("")), kReasonPod);
}

TEST_F(NodeAffinityTest, NodeSelectorSameLabels) {
  EXPECT_TRUE(Filter(MakePod("p").NodeSelector("foo", "bar"), NodeLabeled("", {{"foo", "bar"}}))
                  .ok());
}

TEST_F(NodeAffinityTest, NodeLabelsAreASuperset) {
  EXPECT_TRUE(Filter(MakePod("p").NodeSelector("foo", "bar"),
                     NodeLabeled("", {{"foo", "bar"}, {"baz", "blah"}}))
                  .ok());
}

TEST_F(NodeAffinityTest, NodeLabelsAreASubset) {
  ExpectRejected(Filter(MakePod("p").NodeSelector("foo", "bar").NodeSelector("baz", "blah"),
                        NodeLabeled("", {{"foo", "bar"}})),
                 kReasonPod);
}

// ------------------------------------------------------------------ required terms

TEST_F(NodeAffinityTest, InOperatorMatches) {
  EXPECT_TRUE(Filter(PodRequiring("[{matchExpressions: [{key: foo, operator: In, values: [bar, "
                                  "value2]}]}]"),
                     NodeLabeled("", {{"foo", "bar"}}))
                  .ok());
}

TEST_F(NodeAffinityTest, GtOperatorComparesIntegers) {
  EXPECT_TRUE(Filter(PodRequiring("[{matchExpressions: [{key: kernel-version, operator: Gt, "
                                  "values: ['0204']}]}]"),
                     NodeLabeled("", {{"kernel-version", "0206"}}))
                  .ok());
  ExpectRejected(Filter(PodRequiring("[{matchExpressions: [{key: kernel-version, operator: Gt, "
                                     "values: ['0204']}]}]"),
                        NodeLabeled("", {{"kernel-version", "0204"}})),
                 kReasonPod);
  EXPECT_TRUE(Filter(PodRequiring("[{matchExpressions: [{key: cores, operator: Lt, values: ['8']}]}]"),
                     NodeLabeled("", {{"cores", "-2"}}))
                  .ok());
  // A label that is not an integer never satisfies Gt or Lt.
  ExpectRejected(Filter(PodRequiring("[{matchExpressions: [{key: cores, operator: Lt, values: "
                                     "['8']}]}]"),
                        NodeLabeled("", {{"cores", "two"}})),
                 kReasonPod);
}

TEST_F(NodeAffinityTest, NotInOperatorMatches) {
  EXPECT_TRUE(Filter(PodRequiring("[{matchExpressions: [{key: mem-type, operator: NotIn, values: "
                                  "[DDR, DDR2]}]}]"),
                     NodeLabeled("", {{"mem-type", "DDR3"}}))
                  .ok());
}

TEST_F(NodeAffinityTest, ExistsOperatorMatches) {
  EXPECT_TRUE(Filter(PodRequiring("[{matchExpressions: [{key: GPU, operator: Exists}]}]"),
                     NodeLabeled("", {{"GPU", "NVIDIA-GRID-K1"}}))
                  .ok());
}

TEST_F(NodeAffinityTest, AffinityNotMatchingLabelsRejects) {
  ExpectRejected(Filter(PodRequiring("[{matchExpressions: [{key: foo, operator: In, values: "
                                     "[value1, value2]}]}]"),
                        NodeLabeled("", {{"foo", "bar"}})),
                 kReasonPod);
}

TEST_F(NodeAffinityTest, EmptyMatchExpressionsMatchNoNode) {
  ExpectRejected(Filter(PodRequiring("[{matchExpressions: []}]"), NodeLabeled("", {{"foo", "bar"}})),
                 kReasonPod);
  // A required affinity with no terms at all matches nothing either.
  ExpectRejected(Filter(PodRequiring("[]"), NodeLabeled("", {{"foo", "bar"}})), kReasonPod);
}

TEST_F(NodeAffinityTest, PodWithoutAffinitySkipsFilter) {
  EXPECT_TRUE(Filter(MakePod("p"), NodeLabeled("", {{"foo", "bar"}})).ok());
  EXPECT_TRUE(pre_filter_.IsSkip());
  // nodeAffinity with only preferred terms has nothing to filter either.
  PodBuilder preferred = MakePod("p");
  preferred.SpecYaml(
      "affinity: {nodeAffinity: {preferredDuringSchedulingIgnoredDuringExecution: "
      "[{weight: 1, preference: {matchExpressions: [{key: a, operator: Exists}]}}]}}");
  EXPECT_TRUE(Filter(preferred, MakeNode("")).ok());
  EXPECT_TRUE(pre_filter_.IsSkip());
}

TEST_F(NodeAffinityTest, ExpressionsOfATermAreAnded) {
  EXPECT_TRUE(Filter(PodRequiring("[{matchExpressions: [{key: GPU, operator: Exists}, {key: GPU, "
                                  "operator: NotIn, values: [AMD, INTER]}]}]"),
                     NodeLabeled("", {{"GPU", "NVIDIA-GRID-K1"}}))
                  .ok());
  ExpectRejected(Filter(PodRequiring("[{matchExpressions: [{key: GPU, operator: Exists}, {key: "
                                     "GPU, operator: In, values: [AMD, INTER]}]}]"),
                        NodeLabeled("", {{"GPU", "NVIDIA-GRID-K1"}})),
                 kReasonPod);
}

TEST_F(NodeAffinityTest, TermsAreOred) {
  EXPECT_TRUE(Filter(PodRequiring("[{matchExpressions: [{key: foo, operator: In, values: [bar, "
                                  "value2]}]}, {matchExpressions: [{key: diffkey, operator: In, "
                                  "values: [wrong, value2]}]}]"),
                     NodeLabeled("", {{"foo", "bar"}}))
                  .ok());
}

TEST_F(NodeAffinityTest, NodeSelectorAndAffinityMustBothMatch) {
  PodBuilder both = PodRequiring("[{matchExpressions: [{key: foo, operator: Exists}]}]");
  both.NodeSelector("foo", "bar");
  EXPECT_TRUE(Filter(both, NodeLabeled("", {{"foo", "bar"}})).ok());
  ExpectRejected(Filter(both, NodeLabeled("", {{"foo", "barrrrrr"}})), kReasonPod);
}

TEST_F(NodeAffinityTest, InvalidValueInTermMatchesNoNode) {
  ExpectRejected(Filter(PodRequiring("[{matchExpressions: [{key: foo, operator: NotIn, values: "
                                     "['invalid value: ___@#$%^']}]}]"),
                        NodeLabeled("", {{"foo", "bar"}})),
                 kReasonPod);
}

TEST_F(NodeAffinityTest, AnUnparsableTermDoesNotSpoilTheOthers) {
  EXPECT_TRUE(Filter(PodRequiring("[{matchExpressions: [{key: foo, operator: Near, values: [x]}]}, "
                                  "{matchExpressions: [{key: foo, operator: Exists}]}]"),
                     NodeLabeled("", {{"foo", "bar"}}))
                  .ok());
}

// ------------------------------------------------------------------ matchFields

TEST_F(NodeAffinityTest, MatchFieldsInMatchesTheNamedNodeAndNarrowsPreFilter) {
  PodBuilder pod =
      PodRequiring("[{matchFields: [{key: metadata.name, operator: In, values: [node1]}]}]");
  EXPECT_TRUE(Filter(pod, MakeNode("node1")).ok());
  EXPECT_TRUE(pre_filter_.ok());
  EXPECT_FALSE(pre_filter_result_.all_nodes);
  EXPECT_THAT(pre_filter_result_.node_names, UnorderedElementsAre("node1"));

  ExpectRejected(Filter(pod, MakeNode("node2")), kReasonPod);
  EXPECT_THAT(pre_filter_result_.node_names, UnorderedElementsAre("node1"));
}

TEST_F(NodeAffinityTest, TermWithoutNameFieldKeepsAllNodes) {
  PodBuilder pod = PodRequiring(
      "[{matchFields: [{key: metadata.name, operator: In, values: [node1]}, {key: metadata.name, "
      "operator: In, values: [node2]}]}, {matchExpressions: [{key: foo, operator: In, values: "
      "[bar]}]}]");
  EXPECT_TRUE(Filter(pod, NodeLabeled("node2", {{"foo", "bar"}})).ok());
  EXPECT_TRUE(pre_filter_.ok());
  EXPECT_TRUE(pre_filter_result_.all_nodes);
}

TEST_F(NodeAffinityTest, FieldsAndExpressionsOfOneTermAreAnded) {
  PodBuilder pod = PodRequiring(
      "[{matchFields: [{key: metadata.name, operator: In, values: [node1]}], matchExpressions: "
      "[{key: foo, operator: In, values: [bar]}]}]");
  ExpectRejected(Filter(pod, NodeLabeled("node2", {{"foo", "bar"}})), kReasonPod);
  EXPECT_THAT(pre_filter_result_.node_names, UnorderedElementsAre("node1"));
  EXPECT_TRUE(Filter(pod, NodeLabeled("node1", {{"foo", "bar"}})).ok());
  EXPECT_THAT(pre_filter_result_.node_names, UnorderedElementsAre("node1"));
}

TEST_F(NodeAffinityTest, NeitherTermMatches) {
  PodBuilder pod = PodRequiring(
      "[{matchFields: [{key: metadata.name, operator: In, values: [node1]}]}, {matchExpressions: "
      "[{key: foo, operator: In, values: [not-match-to-bar]}]}]");
  ExpectRejected(Filter(pod, NodeLabeled("node2", {{"foo", "bar"}})), kReasonPod);
  EXPECT_TRUE(pre_filter_result_.all_nodes);
}

TEST_F(NodeAffinityTest, TwoNameTermsNarrowToTheirUnion) {
  PodBuilder pod = PodRequiring(
      "[{matchFields: [{key: metadata.name, operator: In, values: [node1]}]}, {matchFields: "
      "[{key: metadata.name, operator: In, values: [node2]}]}]");
  EXPECT_TRUE(Filter(pod, MakeNode("node2")).ok());
  EXPECT_THAT(pre_filter_result_.node_names, UnorderedElementsAre("node1", "node2"));
}

TEST_F(NodeAffinityTest, ConflictingNameRequirementsAreUnresolvableInPreFilter) {
  PodBuilder pod = PodRequiring(
      "[{matchFields: [{key: metadata.name, operator: In, values: [node1]}, {key: metadata.name, "
      "operator: In, values: [node2]}]}]");
  ExpectRejected(Filter(pod, NodeLabeled("node2", {{"foo", "bar"}})), kReasonPod);
  ExpectRejected(pre_filter_, "pod affinity terms conflict");
}

TEST_F(NodeAffinityTest, MatchFieldsNotIn) {
  PodBuilder pod =
      PodRequiring("[{matchFields: [{key: metadata.name, operator: NotIn, values: [node1]}]}]");
  ExpectRejected(Filter(pod, MakeNode("node1")), kReasonPod);
  EXPECT_TRUE(Filter(pod, MakeNode("node2")).ok());
  EXPECT_TRUE(pre_filter_result_.all_nodes);
}

// ------------------------------------------------------------------ addedAffinity

constexpr std::string_view kAddedNode2 =
    "addedAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: "
    "[{matchFields: [{key: metadata.name, operator: In, values: [node2]}]}]}}";

TEST_F(NodeAffinityTest, MatchesAddedAffinityAndPodAffinity) {
  EXPECT_TRUE(Filter(PodRequiring("[{matchExpressions: [{key: zone, operator: In, values: [foo]}]}]"),
                     NodeLabeled("node2", {{"zone", "foo"}}), kAddedNode2)
                  .ok());
}

TEST_F(NodeAffinityTest, MatchesAddedAffinityButNotPodAffinity) {
  ExpectRejected(
      Filter(PodRequiring("[{matchExpressions: [{key: zone, operator: In, values: [bar]}]}]"),
             NodeLabeled("node2", {{"zone", "foo"}}), kAddedNode2),
      kReasonPod);
}

TEST_F(NodeAffinityTest, DoesNotMatchAddedAffinity) {
  Status status = Filter(MakePod("p"), NodeLabeled("node2", {{"zone", "foo"}}),
                         "addedAffinity: {requiredDuringSchedulingIgnoredDuringExecution: "
                         "{nodeSelectorTerms: [{matchExpressions: [{key: zone, operator: In, "
                         "values: [bar]}]}]}}");
  ExpectRejected(status, kReasonEnforced);
  EXPECT_TRUE(pre_filter_.ok());  // added affinity: not skipped even for a plain pod
}

TEST_F(NodeAffinityTest, FilterWorksWithoutPreFilter) {
  EXPECT_TRUE(Filter(MakePod("p").NodeSelector("foo", "bar"),
                     NodeLabeled("", {{"foo", "bar"}, {"baz", "blah"}}), "", false)
                  .ok());
  EXPECT_TRUE(Filter(PodRequiring("[{matchExpressions: [{key: GPU, operator: Exists}, {key: GPU, "
                                  "operator: NotIn, values: [AMD, INTER]}]}]"),
                     NodeLabeled("", {{"GPU", "NVIDIA-GRID-K1"}}), "", false)
                  .ok());
  ExpectRejected(Filter(MakePod("p").NodeSelector("foo", "bar"), MakeNode(""), "", false),
                 kReasonPod);
}

TEST_F(NodeAffinityTest, InvalidAddedAffinityIsRefused) {
  auto plugin = plugins::NewNodeAffinity(
      testing::ArgsFromYaml("addedAffinity: {requiredDuringSchedulingIgnoredDuringExecution: "
                            "{nodeSelectorTerms: [{matchExpressions: [{key: zone, operator: "
                            "Near, values: [a]}]}]}}"),
      handle_);
  EXPECT_THAT(plugin, StatusIs(absl::StatusCode::kInvalidArgument,
                               HasSubstr("addedAffinity.requiredDuringSchedulingIgnoredDuringExecut"
                                         "ion.nodeSelectorTerms[0].matchExpressions[0].operator")));
  EXPECT_THAT(plugins::NewNodeAffinity(testing::ArgsFromYaml("addedAffinity: {bogus: 1}"), handle_),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// ------------------------------------------------------------------ Score

constexpr std::string_view kAffinity1 =
    "affinity: {nodeAffinity: {preferredDuringSchedulingIgnoredDuringExecution: [{weight: 2, "
    "preference: {matchExpressions: [{key: foo, operator: In, values: [bar]}]}}]}}";
constexpr std::string_view kAffinity2 =
    "affinity: {nodeAffinity: {preferredDuringSchedulingIgnoredDuringExecution: ["
    "{weight: 2, preference: {matchExpressions: [{key: foo, operator: In, values: [bar]}]}},"
    "{weight: 4, preference: {matchExpressions: [{key: key, operator: In, values: [value]}]}},"
    "{weight: 5, preference: {matchExpressions: [{key: foo, operator: In, values: [bar]}, "
    "{key: key, operator: In, values: [value]}, {key: az, operator: In, values: [az1]}]}}]}}";

NodeBuilder Label1(std::string name) { return NodeLabeled(std::move(name), {{"foo", "bar"}}); }
NodeBuilder Label2(std::string name) { return NodeLabeled(std::move(name), {{"key", "value"}}); }
NodeBuilder Label3(std::string name) { return NodeLabeled(std::move(name), {{"az", "az1"}}); }
NodeBuilder Label4(std::string name) {
  return NodeLabeled(std::move(name), {{"abc", "az11"}, {"def", "az22"}});
}
NodeBuilder Label5(std::string name) {
  return NodeLabeled(std::move(name), {{"foo", "bar"}, {"key", "value"}, {"az", "az1"}});
}

PodBuilder PodWithSpec(std::string_view yaml) {
  PodBuilder pod = MakePod("p");
  pod.SpecYaml(yaml);
  return pod;
}

TEST_F(NodeAffinityTest, NoPreferredAffinitySkipsScore) {
  EXPECT_TRUE(Score(MakePod("p"), {Label1("node1"), Label2("node2"), Label3("node3")}).skipped);
}

TEST_F(NodeAffinityTest, BrokenPreferredAffinityIsAnError) {
  std::unique_ptr<Plugin> plugin = Make();
  CycleState state;
  Status status = testing::As<PreScorePlugin>(*plugin).PreScore(
      state,
      *PodWithSpec("affinity: {nodeAffinity: {preferredDuringSchedulingIgnoredDuringExecution: "
                   "[{weight: 2, preference: {matchExpressions: [{key: 'invalid key', operator: "
                   "In, values: [bar]}]}}]}}")
           .Info(),
      {});
  EXPECT_EQ(status.code(), Code::kError);
  EXPECT_THAT(status.Message(), HasSubstr("[0].preference.matchExpressions[0].key"));
}

TEST_F(NodeAffinityTest, NoNodeMatchesPreferredTerms) {
  testing::ScoreResult r =
      Score(PodWithSpec(kAffinity1), {Label4("node1"), Label2("node2"), Label3("node3")});
  EXPECT_THAT(r.normalized, ElementsAre(0, 0, 0));
}

TEST_F(NodeAffinityTest, OnlyNode1MatchesPreferredTerms) {
  testing::ScoreResult r =
      Score(PodWithSpec(kAffinity1), {Label1("node1"), Label2("node2"), Label3("node3")});
  EXPECT_THAT(r.raw, ElementsAre(2, 0, 0));
  EXPECT_THAT(r.normalized, ElementsAre(100, 0, 0));
}

TEST_F(NodeAffinityTest, AllNodesMatchWithDifferentWeights) {
  testing::ScoreResult r =
      Score(PodWithSpec(kAffinity2), {Label1("node1"), Label5("node5"), Label2("node2")});
  EXPECT_THAT(r.raw, ElementsAre(2, 11, 4));
  EXPECT_THAT(r.normalized, ElementsAre(18, 100, 36));
}

TEST_F(NodeAffinityTest, AddedPreferredAffinityScoresPlainPods) {
  testing::ScoreResult r =
      Score(MakePod("p"), {Label1("node1"), Label2("node2")},
            "addedAffinity: {preferredDuringSchedulingIgnoredDuringExecution: [{weight: 2, "
            "preference: {matchExpressions: [{key: foo, operator: In, values: [bar]}]}}]}");
  EXPECT_FALSE(r.skipped);
  EXPECT_THAT(r.normalized, ElementsAre(100, 0));
}

TEST_F(NodeAffinityTest, AddedAndPodPreferredAffinityAddUp) {
  testing::ScoreResult r =
      Score(PodWithSpec(kAffinity1), {Label1("node1"), Label2("node2"), Label5("node3")},
            "addedAffinity: {preferredDuringSchedulingIgnoredDuringExecution: [{weight: 3, "
            "preference: {matchExpressions: [{key: key, operator: In, values: [value]}]}}]}");
  EXPECT_THAT(r.raw, ElementsAre(2, 3, 5));
  EXPECT_THAT(r.normalized, ElementsAre(40, 60, 100));
}

TEST_F(NodeAffinityTest, ScoreWorksWithoutPreScore) {
  std::unique_ptr<Plugin> plugin = Make();
  CycleState state;
  int64_t score = 0;
  ASSERT_TRUE(testing::As<ScorePlugin>(*plugin)
                  .Score(state, *PodWithSpec(kAffinity2).Info(), Label5("node5").Info(), &score)
                  .ok());
  EXPECT_EQ(score, 11);
}

TEST_F(NodeAffinityTest, ZeroWeightTermsDoNotCount) {
  testing::ScoreResult r = Score(
      PodWithSpec("affinity: {nodeAffinity: {preferredDuringSchedulingIgnoredDuringExecution: "
                  "[{weight: 0, preference: {matchExpressions: [{key: foo, operator: Exists}]}}]}}"),
      {Label1("node1")});
  EXPECT_THAT(r.raw, ElementsAre(0));
}

TEST_F(NodeAffinityTest, RegistersNodeAddAndLabelChanges) {
  std::unique_ptr<Plugin> plugin = Make();
  auto events = testing::As<EnqueueExtensions>(*plugin).EventsToRegister();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(events[0].Matches({EventResource::kNode, kAdd}));
  EXPECT_TRUE(events[0].Matches({EventResource::kNode, kUpdateNodeLabel}));
  EXPECT_FALSE(events[0].Matches({EventResource::kNode, kUpdateNodeAllocatable}));
  EXPECT_EQ(testing::As<ScorePlugin>(*plugin).normalization(), Normalization::kDefault);
}

}  // namespace
}  // namespace orch::scheduler
