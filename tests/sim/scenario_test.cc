// ParseScenario and ParseScenarioDuration (orch/sim/scenario.h): what a scenario file
// parses to, and the error, with its field path, for each way it can be wrong.
#include "orch/sim/scenario.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/status_matchers.h"

namespace orch::sim {
namespace {

using ::orch::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A directory with the manifest files that `apply: {file: ...}` names.
class ScenarioTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::create_directories(dir_);
    Write("web.yaml", kWebManifest);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void Write(const std::string& name, std::string_view text) {
    std::ofstream(dir_ / name) << text;
  }

  absl::StatusOr<Scenario> Parse(std::string_view text) {
    return ParseScenario(text, "test.yaml", dir_.string());
  }
  // The error message for `text`, which must fail with kInvalidArgument.
  std::string Error(std::string_view text) {
    absl::StatusOr<Scenario> scenario = Parse(text);
    EXPECT_THAT(scenario, StatusIs(absl::StatusCode::kInvalidArgument));
    return std::string(scenario.status().message());
  }

  static constexpr std::string_view kWebManifest = R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 5
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: "web:v1"}
)";

  std::filesystem::path dir_;
};

constexpr std::string_view kFullExample = R"(
seed: 7
nodes:
  - {count: 5, namePrefix: node, capacity: {cpu: "4", memory: 8Gi, pods: 110}, labels: {zone: a}, taints: []}
scheduler: {}
images:
  "web:v1": {startSeconds: 2}
  "web:v2-broken": {exitAfterSeconds: 5, exitCode: 1}
  "web:v2-unready": {readinessFails: true}
timeline:
  - {at: 0s, apply: {file: web.yaml}}
  - {at: 60s, failNode: node-2}
  - {at: 400s, recoverNode: node-2}
  - {at: 500s, setImage: {deployment: default/web, container: web, image: "web:v2-broken"}}
  - {at: 700s, rollback: {deployment: default/web}}
  - {at: 800s, scale: {deployment: default/web, replicas: 10}}
  - {at: 850s, deletePod: {selector: "app=web", count: 3}}
  - {at: 900s, crashContainer: {pod: "default/web-*", container: web}}
expect:
  - {at: 59s, deployment: default/web, readyReplicas: 5}
  - {during: [500s, 700s], deployment: default/web, minAvailable: 4}
  - {within: 30s, after: 850s, deployment: default/web, readyReplicas: 10}
  - {at: 1000s, pods: {selector: "app=web", phase: Running}, count: 10}
runUntil: 1200s
)";

TEST_F(ScenarioTest, FullExampleParsesToTheStructs) {
  ORCH_ASSERT_OK_AND_ASSIGN(Scenario s, Parse(kFullExample));
  EXPECT_EQ(s.source, "test.yaml");
  EXPECT_EQ(s.seed, 7u);
  EXPECT_EQ(s.run_until, absl::Seconds(1200));
  EXPECT_EQ(s.sample_every, absl::Seconds(10));

  ASSERT_EQ(s.nodes.size(), 1u);
  EXPECT_EQ(s.nodes[0].count, 5);
  EXPECT_EQ(s.nodes[0].name_prefix, "node");
  EXPECT_EQ(s.nodes[0].cpu, "4");
  EXPECT_EQ(s.nodes[0].memory, "8Gi");
  EXPECT_EQ(s.nodes[0].pods, "110");
  EXPECT_EQ(s.nodes[0].labels, (std::map<std::string, std::string>{{"zone", "a"}}));
  EXPECT_TRUE(s.nodes[0].taints.empty());

  ASSERT_EQ(s.scheduler.profiles_size(), 1);
  EXPECT_EQ(s.scheduler.profiles(0).scheduler_name(), "default-scheduler");

  ASSERT_EQ(s.images.size(), 3u);
  EXPECT_EQ(s.images["web:v1"].start_delay, absl::Seconds(2));
  EXPECT_FALSE(s.images["web:v1"].exit_after.has_value());
  EXPECT_EQ(s.images["web:v2-broken"].exit_after, absl::Seconds(5));
  EXPECT_EQ(s.images["web:v2-broken"].exit_code, 1);
  EXPECT_TRUE(s.images["web:v2-unready"].never_ready);

  ASSERT_EQ(s.timeline.size(), 8u);
  const Action& apply = s.timeline[0];
  EXPECT_EQ(apply.kind, Action::Kind::kApply);
  EXPECT_EQ(apply.at, absl::ZeroDuration());
  EXPECT_EQ(apply.path, "timeline[0]");
  EXPECT_EQ(apply.manifests, kWebManifest);
  EXPECT_EQ(apply.manifests_source, "web.yaml");
  EXPECT_EQ(s.timeline[1].kind, Action::Kind::kFailNode);
  EXPECT_EQ(s.timeline[1].at, absl::Seconds(60));
  EXPECT_EQ(s.timeline[1].node, "node-2");
  EXPECT_EQ(s.timeline[2].kind, Action::Kind::kRecoverNode);
  EXPECT_EQ(s.timeline[2].node, "node-2");
  const Action& set_image = s.timeline[3];
  EXPECT_EQ(set_image.kind, Action::Kind::kSetImage);
  EXPECT_EQ(set_image.deployment.ToString(), "default/web");
  EXPECT_EQ(set_image.container, "web");
  EXPECT_EQ(set_image.image, "web:v2-broken");
  EXPECT_EQ(s.timeline[4].kind, Action::Kind::kRollback);
  EXPECT_EQ(s.timeline[4].deployment.name, "web");
  EXPECT_EQ(s.timeline[5].kind, Action::Kind::kScale);
  EXPECT_EQ(s.timeline[5].replicas, 10);
  const Action& delete_pod = s.timeline[6];
  EXPECT_EQ(delete_pod.kind, Action::Kind::kDeletePod);
  EXPECT_EQ(delete_pod.selector.ToString(), "app=web");
  EXPECT_EQ(delete_pod.count, 3);
  EXPECT_EQ(delete_pod.pod_namespace, "default");
  const Action& crash = s.timeline[7];
  EXPECT_EQ(crash.kind, Action::Kind::kCrashContainer);
  EXPECT_EQ(crash.at, absl::Seconds(900));
  EXPECT_EQ(crash.pod_glob, "default/web-*");
  EXPECT_EQ(crash.container, "web");
  EXPECT_EQ(crash.exit_code, 1);

  ASSERT_EQ(s.expect.size(), 4u);
  const Expectation& at = s.expect[0];
  EXPECT_EQ(at.when, Expectation::When::kAt);
  EXPECT_EQ(at.at, absl::Seconds(59));
  EXPECT_EQ(at.subject.kind, Subject::Kind::kDeployment);
  EXPECT_EQ(at.subject.deployment.ToString(), "default/web");
  EXPECT_EQ(at.ready_replicas, 5);
  EXPECT_FALSE(at.min_available.has_value());
  EXPECT_EQ(at.path, "expect[0]");
  EXPECT_EQ(at.text, "{at: 59s, deployment: default/web, readyReplicas: 5}");
  const Expectation& during = s.expect[1];
  EXPECT_EQ(during.when, Expectation::When::kDuring);
  EXPECT_EQ(during.at, absl::Seconds(500));
  EXPECT_EQ(during.until, absl::Seconds(700));
  EXPECT_EQ(during.min_available, 4);
  EXPECT_EQ(during.text, "{during: [500s, 700s], deployment: default/web, minAvailable: 4}");
  const Expectation& within = s.expect[2];
  EXPECT_EQ(within.when, Expectation::When::kWithin);
  EXPECT_EQ(within.at, absl::Seconds(850));
  EXPECT_EQ(within.until, absl::Seconds(880));
  EXPECT_EQ(within.ready_replicas, 10);
  EXPECT_EQ(within.text, "{within: 30s, after: 850s, deployment: default/web, readyReplicas: 10}");
  const Expectation& pods = s.expect[3];
  EXPECT_EQ(pods.subject.kind, Subject::Kind::kPods);
  EXPECT_EQ(pods.subject.selector.ToString(), "app=web");
  EXPECT_EQ(pods.subject.pod_namespace, "default");
  EXPECT_EQ(pods.subject.phase, "Running");
  EXPECT_FALSE(pods.subject.node.has_value());
  EXPECT_FALSE(pods.subject.ready.has_value());
  EXPECT_EQ(pods.count, 10);
  EXPECT_EQ(pods.text, R"({at: 1000s, pods: {selector: "app=web", phase: Running}, count: 10})");
}

TEST_F(ScenarioTest, Defaults) {
  ORCH_ASSERT_OK_AND_ASSIGN(Scenario s, Parse("nodes: [{count: 2}]\nrunUntil: 1m\n"));
  EXPECT_EQ(s.seed, 1u);
  EXPECT_EQ(s.run_until, absl::Minutes(1));
  EXPECT_EQ(s.sample_every, absl::Seconds(10));
  ASSERT_EQ(s.nodes.size(), 1u);
  EXPECT_EQ(s.nodes[0].count, 2);
  EXPECT_EQ(s.nodes[0].name_prefix, "node");
  EXPECT_EQ(s.nodes[0].cpu, "4");
  EXPECT_EQ(s.nodes[0].memory, "8Gi");
  EXPECT_EQ(s.nodes[0].pods, "110");
  EXPECT_TRUE(s.nodes[0].labels.empty());
  EXPECT_EQ(s.scheduler.SerializeAsString(), scheduler::DefaultConfig().SerializeAsString());
  EXPECT_TRUE(s.images.empty());
  EXPECT_TRUE(s.timeline.empty());
  EXPECT_TRUE(s.expect.empty());
}

TEST_F(ScenarioTest, NodeGroupWithTaintsAndImageKeys) {
  ORCH_ASSERT_OK_AND_ASSIGN(Scenario s, Parse(R"(
nodes:
  - count: 0
    namePrefix: gpu
    capacity: {cpu: 500m, memory: "1.5Gi", pods: 8}
    labels: {accelerator: nvidia, topology.kubernetes.io/zone: b}
    taints:
      - {key: gpu, value: "true", effect: NoSchedule}
      - {key: example.com/drain, effect: NoExecute}
images:
  "busy:1":
    pullSeconds: 1.5
    pullError: "manifest unknown"
    livenessFailsAfterSeconds: 30
    ignoreSigterm: yes
    stopSeconds: 0.25
  "plain:1": ~
sampleEvery: 5s
runUntil: 10
)"));
  const NodeGroup& group = s.nodes.at(0);
  EXPECT_EQ(group.count, 0);
  EXPECT_EQ(group.name_prefix, "gpu");
  EXPECT_EQ(group.cpu, "500m");
  EXPECT_EQ(group.memory, "1.5Gi");
  EXPECT_EQ(group.pods, "8");
  EXPECT_EQ(group.labels.at("topology.kubernetes.io/zone"), "b");
  ASSERT_EQ(group.taints.size(), 2u);
  EXPECT_EQ(group.taints[0].key(), "gpu");
  EXPECT_EQ(group.taints[0].value(), "true");
  EXPECT_EQ(group.taints[0].effect(), "NoSchedule");
  EXPECT_EQ(group.taints[1].value(), "");
  EXPECT_EQ(group.taints[1].effect(), "NoExecute");
  const runtime::FakeImage& busy = s.images.at("busy:1");
  EXPECT_EQ(busy.pull_delay, absl::Milliseconds(1500));
  EXPECT_EQ(busy.pull_error, "manifest unknown");
  EXPECT_EQ(busy.unhealthy_after, absl::Seconds(30));
  EXPECT_TRUE(busy.ignore_sigterm);
  EXPECT_EQ(busy.stop_delay, absl::Milliseconds(250));
  EXPECT_EQ(busy.start_delay, absl::ZeroDuration());
  EXPECT_EQ(busy.exit_code, 0);
  EXPECT_EQ(s.images.count("plain:1"), 1u);
  EXPECT_EQ(s.sample_every, absl::Seconds(5));
  EXPECT_EQ(s.run_until, absl::Seconds(10));
}

TEST_F(ScenarioTest, EveryActionKind) {
  ORCH_ASSERT_OK_AND_ASSIGN(Scenario s, Parse(R"(
timeline:
  - {at: 1s, removeNode: node-0}
  - {at: 2s, addNodes: {count: 2, namePrefix: extra, labels: {zone: c}}}
  - {at: 3s, scale: {deployment: shop/web, replicas: 0}}
  - {at: 4s, deletePod: {selector: "", namespace: shop}}
  - {at: 5s, crashContainer: {pod: "web-?", container: app, exitCode: 137}}
  - at: 6s
    apply:
      manifest:
        apiVersion: v1
        kind: Namespace
        metadata: {name: shop, labels: {team: "1"}}
  - at: 7s
    apply:
      manifest:
        - {apiVersion: v1, kind: Namespace, metadata: {name: a}}
        - {apiVersion: v1, kind: Namespace, metadata: {name: b}}
runUntil: 10s
)"));
  ASSERT_EQ(s.timeline.size(), 7u);
  EXPECT_EQ(s.timeline[0].kind, Action::Kind::kRemoveNode);
  EXPECT_EQ(s.timeline[0].node, "node-0");
  const Action& add = s.timeline[1];
  EXPECT_EQ(add.kind, Action::Kind::kAddNodes);
  EXPECT_EQ(add.nodes.count, 2);
  EXPECT_EQ(add.nodes.name_prefix, "extra");
  EXPECT_EQ(add.nodes.labels.at("zone"), "c");
  EXPECT_EQ(s.timeline[2].deployment.namespace_, "shop");
  EXPECT_EQ(s.timeline[2].deployment.name, "web");
  EXPECT_EQ(s.timeline[2].replicas, 0);
  EXPECT_TRUE(s.timeline[3].selector.empty());
  EXPECT_EQ(s.timeline[3].count, 1);
  EXPECT_EQ(s.timeline[3].pod_namespace, "shop");
  // A glob without a namespace is in "default".
  EXPECT_EQ(s.timeline[4].pod_glob, "default/web-?");
  EXPECT_EQ(s.timeline[4].container, "app");
  EXPECT_EQ(s.timeline[4].exit_code, 137);
  const Action& inline_one = s.timeline[5];
  EXPECT_EQ(inline_one.kind, Action::Kind::kApply);
  EXPECT_EQ(inline_one.manifests_source, "test.yaml: timeline[5].apply.manifest");
  EXPECT_EQ(inline_one.manifests,
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels:\n"
            "    team: \"1\"\n");
  EXPECT_EQ(s.timeline[6].manifests,
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\n"
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: b\n");
}

TEST_F(ScenarioTest, TimelineIsSortedStablyByTime) {
  ORCH_ASSERT_OK_AND_ASSIGN(Scenario s, Parse(R"(
timeline:
  - {at: 30s, failNode: c}
  - {at: 10s, failNode: a}
  - {at: 30s, failNode: d}
  - {at: 10s, failNode: b}
  - {at: 0, failNode: first}
runUntil: 1m
)"));
  std::vector<std::string> order;
  std::vector<std::string> paths;
  for (const Action& action : s.timeline) {
    order.push_back(action.node);
    paths.push_back(action.path);
  }
  EXPECT_THAT(order, ElementsAre("first", "a", "b", "c", "d"));
  EXPECT_THAT(paths, ElementsAre("timeline[4]", "timeline[1]", "timeline[3]", "timeline[0]",
                                 "timeline[2]"));
}

TEST_F(ScenarioTest, ExpectationForms) {
  ORCH_ASSERT_OK_AND_ASSIGN(Scenario s, Parse(R"yaml(
expect:
  - {at: 1m, deployment: web, maxPods: 7, minAvailable: 3}
  - {pods: {namespace: "", node: node-1, ready: false}, during: [0, 90s], maxCount: 2}
  - within: 1m
    after: 2m
    pods: {selector: "tier in (a,b)"}
    minRestarts: 1
    maxRestarts: 5
    minCount: 1
  - {at: 5m, pods: ~, count: 0}
runUntil: 5m
)yaml"));
  ASSERT_EQ(s.expect.size(), 4u);
  EXPECT_EQ(s.expect[0].subject.deployment.ToString(), "default/web");
  EXPECT_EQ(s.expect[0].max_pods, 7);
  EXPECT_EQ(s.expect[0].min_available, 3);
  EXPECT_EQ(s.expect[0].until, absl::Minutes(1));
  const Expectation& during = s.expect[1];
  EXPECT_EQ(during.when, Expectation::When::kDuring);
  EXPECT_EQ(during.at, absl::ZeroDuration());
  EXPECT_EQ(during.until, absl::Seconds(90));
  EXPECT_EQ(during.subject.pod_namespace, "");
  EXPECT_EQ(during.subject.node, "node-1");
  EXPECT_EQ(during.subject.ready, false);
  EXPECT_TRUE(during.subject.selector.empty());
  EXPECT_EQ(during.max_count, 2);
  // Keys as written, in the file's order.
  EXPECT_EQ(during.text,
            R"({pods: {namespace: "", node: node-1, ready: false}, during: [0, 90s], )"
            "maxCount: 2}");
  const Expectation& within = s.expect[2];
  EXPECT_EQ(within.at, absl::Minutes(2));
  EXPECT_EQ(within.until, absl::Minutes(3));
  EXPECT_EQ(within.subject.selector.ToString(), "tier in (a,b)");
  EXPECT_EQ(within.min_restarts, 1);
  EXPECT_EQ(within.max_restarts, 5);
  EXPECT_EQ(within.min_count, 1);
  EXPECT_EQ(s.expect[3].subject.kind, Subject::Kind::kPods);
  EXPECT_EQ(s.expect[3].count, 0);
}

TEST_F(ScenarioTest, SchedulerConfigurationIsLoaded) {
  ORCH_ASSERT_OK_AND_ASSIGN(Scenario s, Parse(R"(
scheduler:
  profiles:
    - schedulerName: default-scheduler
      plugins:
        score:
          enabled: [{name: NodeResourcesBalancedAllocation, weight: 5}]
runUntil: 1s
)"));
  ASSERT_EQ(s.scheduler.profiles_size(), 1);
  EXPECT_EQ(s.scheduler.api_version(), "kubescheduler.config.k8s.io/v1");
  EXPECT_EQ(s.scheduler.profiles(0).plugins().score().enabled(0).weight(), 5);
}

// The reference's complete example (its last yaml block) parses.
TEST_F(ScenarioTest, ReferenceExampleParses) {
  std::ifstream in(std::filesystem::path(ORCH_SOURCE_DIR) / "docs/reference/scenario.md");
  const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::size_t start = doc.rfind("```yaml\n");
  ASSERT_NE(start, std::string::npos);
  const std::size_t end = doc.find("```", start + 8);
  ASSERT_NE(end, std::string::npos);
  ORCH_ASSERT_OK_AND_ASSIGN(Scenario s, Parse(doc.substr(start + 8, end - start - 8)));
  EXPECT_EQ(s.timeline.size(), 9u);
  EXPECT_EQ(s.traffic.size(), 1u);
  EXPECT_EQ(s.expect.size(), 5u);
}

// ---- errors: each names the source and the field path.

TEST_F(ScenarioTest, UnknownKeysAreErrors) {
  EXPECT_EQ(Error("runUntil: 1s\nrununtil: 2s\n"), "test.yaml: rununtil: unknown field");
  EXPECT_EQ(Error(R"(
timeline:
  - {at: 1s, failNode: a}
  - {at: 1s, failNode: b}
  - {at: 2s, scale: {deployment: web, replicaz: 3}}
runUntil: 1m
)"),
            "test.yaml: timeline[2].scale.replicaz: unknown field");
  EXPECT_EQ(Error("nodes: [{count: 1, capacity: {gpu: 1}}]\nrunUntil: 1s\n"),
            "test.yaml: nodes[0].capacity.gpu: unknown field");
  EXPECT_EQ(Error("images: {\"a:1\": {startSecond: 1}}\nrunUntil: 1s\n"),
            "test.yaml: images[a:1].startSecond: unknown field");
  EXPECT_EQ(Error("expect: [{at: 1s, pods: {phase: Running, zone: a}, count: 1}]\nrunUntil: 1s\n"),
            "test.yaml: expect[0].pods.zone: unknown field");
  EXPECT_EQ(Error("runUntil: 1s\nrunUntil: 2s\n"), "test.yaml: runUntil: duplicate field");
  EXPECT_EQ(Error("runUntil: 1s\n\"odd key\": 1\n"), "test.yaml: unknown field \"odd key\"");
}

TEST_F(ScenarioTest, OneActionPerTimelineEntry) {
  EXPECT_EQ(Error("timeline: [{at: 1s, failNode: a, scale: {deployment: web, replicas: 1}}]\n"
                  "runUntil: 1m\n"),
            "test.yaml: timeline[0]: more than one action (failNode, scale); write one per "
            "entry");
  EXPECT_THAT(Error("timeline: [{at: 1s}]\nrunUntil: 1m\n"),
              HasSubstr("test.yaml: timeline[0]: no action (one of apply, failNode,"));
  EXPECT_EQ(Error("timeline: [{failNode: a}]\nrunUntil: 1m\n"),
            "test.yaml: timeline[0].at: required");
  EXPECT_EQ(Error("timeline: [{at: 1s, failNode: }]\nrunUntil: 1m\n"),
            "test.yaml: timeline[0].failNode: required");
}

TEST_F(ScenarioTest, RunUntilIsRequiredAndBoundsEveryTime) {
  EXPECT_EQ(Error("seed: 3\n"), "test.yaml: runUntil: required");
  EXPECT_EQ(Error("runUntil: 0s\n"), "test.yaml: runUntil: must be greater than 0");
  EXPECT_EQ(Error("timeline: [{at: 2m, failNode: a}]\nrunUntil: 1m\n"),
            "test.yaml: timeline[0].at: is 2m, after runUntil (1m)");
  EXPECT_EQ(Error("expect: [{at: 61s, deployment: web, readyReplicas: 1}]\nrunUntil: 1m\n"),
            "test.yaml: expect[0].at: is 1m1s, after runUntil (1m)");
  EXPECT_EQ(Error("expect: [{during: [0s, 2m], deployment: web, maxPods: 1}]\nrunUntil: 1m\n"),
            "test.yaml: expect[0].during: ends at 2m, after runUntil (1m)");
  EXPECT_EQ(Error("expect: [{within: 30s, after: 45s, deployment: web, maxPods: 1}]\n"
                  "runUntil: 1m\n"),
            "test.yaml: expect[0].within: ends (after + within) at 1m15s, after runUntil (1m)");
  EXPECT_EQ(Error("runUntil: 1m\nsampleEvery: 0s\n"),
            "test.yaml: sampleEvery: must be greater than 0");
}

TEST_F(ScenarioTest, BadValuesNameTheirField) {
  EXPECT_THAT(Error("timeline: [{at: soon, failNode: a}]\nrunUntil: 1m\n"),
              HasSubstr("test.yaml: timeline[0].at: invalid duration \"soon\""));
  EXPECT_EQ(Error("timeline: [{at: 1s, scale: {deployment: web, replicas: ten}}]\n"
                  "runUntil: 1m\n"),
            "test.yaml: timeline[0].scale.replicas: must be a non-negative integer, not \"ten\"");
  EXPECT_EQ(Error("nodes: [{count: 1.5}]\nrunUntil: 1m\n"),
            "test.yaml: nodes[0].count: must be a non-negative integer, not 1.5");
  EXPECT_EQ(Error("nodes: [{count: \"3\"}]\nrunUntil: 1m\n"),
            "test.yaml: nodes[0].count: must be a non-negative integer, not \"3\"");
  EXPECT_EQ(Error("nodes: [{count: -1}]\nrunUntil: 1m\n"),
            "test.yaml: nodes[0].count: must be a non-negative integer, not -1");
  EXPECT_EQ(Error("nodes: [{count: 4294967296}]\nrunUntil: 1m\n"),
            "test.yaml: nodes[0].count: must be a non-negative integer of at most 2147483647, "
            "not 4294967296");
  EXPECT_EQ(Error("nodes: [{namePrefix: a}]\nrunUntil: 1m\n"),
            "test.yaml: nodes[0].count: required");
  EXPECT_EQ(Error("nodes: {count: 1}\nrunUntil: 1m\n"),
            "test.yaml: nodes: must be a list, not a mapping");
  EXPECT_EQ(Error("seed: -1\nrunUntil: 1m\n"),
            "test.yaml: seed: must be a non-negative integer, not -1");
  EXPECT_EQ(Error("images: {\"a:1\": {startSeconds: -2}}\nrunUntil: 1m\n"),
            "test.yaml: images[a:1].startSeconds: must be a non-negative number of seconds, "
            "not -2");
  EXPECT_EQ(Error("images: {\"a:1\": {readinessFails: maybe}}\nrunUntil: 1m\n"),
            "test.yaml: images[a:1].readinessFails: must be true or false, not \"maybe\"");
  EXPECT_EQ(Error("images: {\"a:1\": {exitCode: 256}}\nrunUntil: 1m\n"),
            "test.yaml: images[a:1].exitCode: must be from 0 to 255, not 256");
  EXPECT_EQ(Error("timeline: [{at: 1s, failNode: Node_1}]\nrunUntil: 1m\n").substr(0, 57),
            "test.yaml: timeline[0].failNode: invalid value \"Node_1\": ");
  EXPECT_THAT(Error("timeline: [{at: 1s, rollback: {deployment: a/b/c}}]\nrunUntil: 1m\n"),
              HasSubstr("test.yaml: timeline[0].rollback.deployment: invalid value \"b/c\""));
  EXPECT_EQ(Error("timeline: [{at: 1s, deletePod: {selector: a, count: 0}}]\nrunUntil: 1m\n"),
            "test.yaml: timeline[0].deletePod.count: must be at least 1");
  EXPECT_THAT(Error("nodes: [{count: 1, labels: {zone: 1}}]\nrunUntil: 1m\n"),
              HasSubstr("test.yaml: nodes[0].labels[zone]: must be a string, not 1"));
}

TEST_F(ScenarioTest, BadSelector) {
  EXPECT_THAT(Error("timeline: [{at: 1s, deletePod: {selector: \"app in (a\"}}]\n"
                    "runUntil: 1m\n"),
              HasSubstr("test.yaml: timeline[0].deletePod.selector: "));
  EXPECT_THAT(Error("expect: [{at: 1s, pods: {selector: \"=x\"}, count: 1}]\nrunUntil: 1m\n"),
              HasSubstr("test.yaml: expect[0].pods.selector: "));
}

TEST_F(ScenarioTest, BadQuantity) {
  EXPECT_THAT(Error("nodes: [{count: 1, capacity: {memory: 8GB}}]\nrunUntil: 1m\n"),
              HasSubstr("test.yaml: nodes[0].capacity.memory: invalid quantity \"8GB\""));
  EXPECT_EQ(Error("nodes: [{count: 1, capacity: {cpu: \"-1\"}}]\nrunUntil: 1m\n"),
            "test.yaml: nodes[0].capacity.cpu: must not be negative");
  EXPECT_EQ(Error("nodes: [{count: 1, capacity: {cpu: [1]}}]\nrunUntil: 1m\n"),
            "test.yaml: nodes[0].capacity.cpu: must be a quantity, not a list");
}

TEST_F(ScenarioTest, BadTaintEffect) {
  EXPECT_EQ(Error("nodes: [{count: 1, taints: [{key: a, effect: NoEntry}]}]\nrunUntil: 1m\n"),
            "test.yaml: nodes[0].taints[0].effect: unsupported value \"NoEntry\": supported "
            "values: NoSchedule, PreferNoSchedule, NoExecute");
  EXPECT_EQ(Error("nodes: [{count: 1, taints: [{key: a}]}]\nrunUntil: 1m\n"),
            "test.yaml: nodes[0].taints[0].effect: required");
}

TEST_F(ScenarioTest, ApplyErrors) {
  const std::string missing = (dir_ / "missing.yaml").string();
  EXPECT_EQ(Error("timeline: [{at: 0s, apply: {file: missing.yaml}}]\nrunUntil: 1m\n"),
            "test.yaml: timeline[0].apply.file: cannot read \"" + missing +
                "\": No such file or directory");
  EXPECT_EQ(Error("timeline: [{at: 0s, apply: {}}]\nrunUntil: 1m\n"),
            "test.yaml: timeline[0].apply: needs exactly one of file and manifest");
  Write("bad.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"
                    "spec: {replicas: many}\n");
  EXPECT_EQ(Error("timeline: [{at: 0s, apply: {file: bad.yaml}}]\nrunUntil: 1m\n"),
            "test.yaml: timeline[0].apply.file: bad.yaml: document 1 (Deployment \"web\"): "
            "spec.replicas: expected integer, got string \"many\"");
  Write("empty.yaml", "# nothing\n");
  EXPECT_EQ(Error("timeline: [{at: 0s, apply: {file: empty.yaml}}]\nrunUntil: 1m\n"),
            "test.yaml: timeline[0].apply.file: no objects");
  EXPECT_THAT(Error(R"(
timeline:
  - at: 0s
    apply:
      manifest: {apiVersion: v1, kind: Namespace, metadata: {name: Bad_Name}}
runUntil: 1m
)"),
              HasSubstr("test.yaml: timeline[0].apply.manifest: document 1 (Namespace "
                        "\"Bad_Name\"): metadata.name: Invalid value: \"Bad_Name\""));
  EXPECT_EQ(Error("timeline: [{at: 0s, apply: {manifest: [{apiVersion: v1, kind: Namespace, "
                  "metadata: {name: a}}, 3]}}]\nrunUntil: 1m\n"),
            "test.yaml: timeline[0].apply.manifest[1]: must be an object (a manifest), not 3");
}

TEST_F(ScenarioTest, BadSchedulerConfigurationNamesTheField) {
  EXPECT_EQ(Error("scheduler: {profiles: [{schedulerName: a, plugins: {score: {enabled: "
                  "[{name: Nope}]}}}]}\nrunUntil: 1m\n"),
            "test.yaml: scheduler.profiles[0].plugins.score.enabled[0].name: unknown plugin "
            "\"Nope\"");
  EXPECT_EQ(Error("scheduler: {percentageOfNodesToScore: 101}\nrunUntil: 1m\n"),
            "test.yaml: scheduler.percentageOfNodesToScore: invalid value 101: not in valid "
            "range [0-100]");
  EXPECT_EQ(Error("scheduler: {percentageOfNodes: 5}\nrunUntil: 1m\n"),
            "test.yaml: scheduler: unknown field \"percentageOfNodes\"");
  EXPECT_EQ(Error("scheduler: {profiles: [{schedulerName: a, plugin: {}}]}\nrunUntil: 1m\n"),
            "test.yaml: scheduler.profiles[0]: unknown field \"plugin\"");
  EXPECT_EQ(Error("scheduler: {apiVersion: v2}\nrunUntil: 1m\n"),
            "test.yaml: scheduler.apiVersion: unsupported version \"v2\" (want "
            "\"kubescheduler.config.k8s.io/v1\")");
  EXPECT_EQ(Error("scheduler: [1]\nrunUntil: 1m\n"),
            "test.yaml: scheduler: must be a mapping, not a list");
}

TEST_F(ScenarioTest, ExpectationErrors) {
  const auto error = [&](std::string_view entry) {
    return Error("expect: [" + std::string(entry) + "]\nrunUntil: 1h\n");
  };
  EXPECT_EQ(error("{at: 1s, during: [1s, 2s], deployment: web, maxPods: 1}"),
            "test.yaml: expect[0]: needs exactly one of at, during and within");
  EXPECT_EQ(error("{deployment: web, maxPods: 1}"),
            "test.yaml: expect[0]: needs exactly one of at, during and within");
  EXPECT_EQ(error("{within: 5s, deployment: web, maxPods: 1}"),
            "test.yaml: expect[0].after: required");
  EXPECT_EQ(error("{at: 5s, after: 1s, deployment: web, maxPods: 1}"),
            "test.yaml: expect[0].after: only with within");
  EXPECT_EQ(error("{during: [5s], deployment: web, maxPods: 1}"),
            "test.yaml: expect[0].during: must be a list [FROM, TO], not a list");
  EXPECT_EQ(error("{during: [5s, 1s], deployment: web, maxPods: 1}"),
            "test.yaml: expect[0].during: ends before it starts");
  EXPECT_EQ(error("{at: 1s, deployment: web}"),
            "test.yaml: expect[0]: needs at least one of readyReplicas, minAvailable, maxPods");
  EXPECT_EQ(error("{at: 1s, deployment: web, readyReplicas: 1, count: 2}"),
            "test.yaml: expect[0].count: applies to pods, not a deployment");
  EXPECT_EQ(error("{at: 1s, pods: {}, readyReplicas: 1}"),
            "test.yaml: expect[0].readyReplicas: applies to a deployment, not pods");
  EXPECT_EQ(error("{at: 1s, pods: {}}"),
            "test.yaml: expect[0]: needs at least one of count, minCount, maxCount, "
            "minRestarts, maxRestarts");
  EXPECT_EQ(error("{at: 1s, deployment: web, pods: {}, maxPods: 1}"),
            "test.yaml: expect[0]: needs exactly one of deployment, pods and requests");
  EXPECT_EQ(error("{at: 1s, pods: {phase: Lost}, count: 1}"),
            "test.yaml: expect[0].pods.phase: unsupported value \"Lost\": supported values: "
            "Pending, Running, Succeeded, Failed");
}

TEST_F(ScenarioTest, TrafficStreamsAndRequestExpectations) {
  ORCH_ASSERT_OK_AND_ASSIGN(Scenario s, Parse(R"yaml(
traffic:
  - {name: web, service: shop/web, port: 8080, rate: 12.5, during: [30s, 2m]}
  - {name: api, service: api, rate: 1}
expect:
  - {during: [1m, 2m], requests: web, maxFailed: 0, minSucceeded: 700}
  - {requests: api, during: [0s, 5m], maxFailed: 3}
runUntil: 5m
)yaml"));
  ASSERT_EQ(s.traffic.size(), 2u);
  const RequestStream& web = s.traffic[0];
  EXPECT_EQ(web.name, "web");
  EXPECT_EQ(web.service.ToString(), "shop/web");
  EXPECT_EQ(web.port, 8080);
  EXPECT_EQ(web.rate, 12.5);
  EXPECT_EQ(web.from, absl::Seconds(30));
  EXPECT_EQ(web.until, absl::Minutes(2));
  EXPECT_EQ(web.path, "traffic[0]");
  // Defaults: the Service's first port, the whole run.
  const RequestStream& api = s.traffic[1];
  EXPECT_EQ(api.service.ToString(), "default/api");
  EXPECT_FALSE(api.port.has_value());
  EXPECT_EQ(api.rate, 1);
  EXPECT_EQ(api.from, absl::ZeroDuration());
  EXPECT_EQ(api.until, absl::Minutes(5));

  ASSERT_EQ(s.expect.size(), 2u);
  const Expectation& e = s.expect[0];
  EXPECT_EQ(e.when, Expectation::When::kDuring);
  EXPECT_EQ(e.at, absl::Minutes(1));
  EXPECT_EQ(e.until, absl::Minutes(2));
  EXPECT_EQ(e.subject.kind, Subject::Kind::kRequests);
  EXPECT_EQ(e.subject.stream, "web");
  EXPECT_EQ(e.max_failed, 0);
  EXPECT_EQ(e.min_succeeded, 700);
  EXPECT_EQ(e.text, "{during: [1m, 2m], requests: web, maxFailed: 0, minSucceeded: 700}");
  EXPECT_EQ(s.expect[1].subject.stream, "api");
  EXPECT_EQ(s.expect[1].max_failed, 3);
  EXPECT_FALSE(s.expect[1].min_succeeded.has_value());
}

TEST_F(ScenarioTest, TrafficErrors) {
  const auto stream = [&](std::string_view entry) {
    return Error("traffic: [" + std::string(entry) + "]\nrunUntil: 1m\n");
  };
  EXPECT_EQ(stream("{service: web, rate: 1}"), "test.yaml: traffic[0].name: required");
  EXPECT_THAT(stream("{name: Web, service: web, rate: 1}"),
              ::testing::StartsWith("test.yaml: traffic[0].name: invalid value \"Web\": a lowercase "
                                    "RFC 1123 label must consist of"));
  EXPECT_EQ(stream("{name: web, service: web, rate: 1}, {name: web, service: api, rate: 1}"),
            "test.yaml: traffic[1].name: \"web\" is traffic[0]'s name already");
  EXPECT_EQ(stream("{name: web, rate: 1}"), "test.yaml: traffic[0].service: required");
  EXPECT_THAT(stream("{name: web, service: a/b/c, rate: 1}"),
              HasSubstr("test.yaml: traffic[0].service: invalid value \"b/c\""));
  EXPECT_EQ(stream("{name: web, service: web, port: 0, rate: 1}"),
            "test.yaml: traffic[0].port: must be from 1 to 65535, not 0");
  EXPECT_EQ(stream("{name: web, service: web, port: 65536, rate: 1}"),
            "test.yaml: traffic[0].port: must be from 1 to 65535, not 65536");
  EXPECT_EQ(stream("{name: web, service: web, port: http, rate: 1}"),
            "test.yaml: traffic[0].port: must be a non-negative integer, not \"http\"");
  EXPECT_EQ(stream("{name: web, service: web}"), "test.yaml: traffic[0].rate: required");
  EXPECT_EQ(stream("{name: web, service: web, rate: 0}"),
            "test.yaml: traffic[0].rate: must be a number of requests per second greater than "
            "0, not 0");
  EXPECT_EQ(stream("{name: web, service: web, rate: -2.5}"),
            "test.yaml: traffic[0].rate: must be a number of requests per second greater than "
            "0, not -2.5");
  EXPECT_EQ(stream("{name: web, service: web, rate: \"10\"}"),
            "test.yaml: traffic[0].rate: must be a number of requests per second greater than "
            "0, not \"10\"");
  EXPECT_EQ(stream("{name: web, service: web, rate: 5000}"),
            "test.yaml: traffic[0].rate: at most 1000 requests per second, not 5000");
  EXPECT_EQ(stream("{name: web, service: web, rate: 1, during: [20s, 10s]}"),
            "test.yaml: traffic[0].during: ends before it starts");
  EXPECT_EQ(stream("{name: web, service: web, rate: 1, during: [10s, 10s]}"),
            "test.yaml: traffic[0].during: is empty: it ends where it starts");
  EXPECT_EQ(stream("{name: web, service: web, rate: 1, during: 10s}"),
            "test.yaml: traffic[0].during: must be a list [FROM, TO], not \"10s\"");
  EXPECT_EQ(stream("{name: web, service: web, rate: 1, during: [0s, 2m]}"),
            "test.yaml: traffic[0].during: ends at 2m, after runUntil (1m)");
  EXPECT_EQ(stream("{name: web, service: web, rate: 1, rps: 1}"),
            "test.yaml: traffic[0].rps: unknown field");
  EXPECT_EQ(Error("traffic: {name: web}\nrunUntil: 1m\n"),
            "test.yaml: traffic: must be a list, not a mapping");

  const auto expect = [&](std::string_view entry) {
    return Error("traffic: [{name: web, service: web, rate: 1}]\nexpect: [" + std::string(entry) +
                 "]\nrunUntil: 1m\n");
  };
  EXPECT_EQ(expect("{at: 10s, requests: web, maxFailed: 0}"),
            "test.yaml: expect[0].requests: only with during: requests are counted over a window");
  EXPECT_EQ(expect("{within: 10s, after: 5s, requests: web, maxFailed: 0}"),
            "test.yaml: expect[0].requests: only with during: requests are counted over a window");
  EXPECT_EQ(expect("{during: [0s, 1m], requests: webb, maxFailed: 0}"),
            "test.yaml: expect[0].requests: no stream \"webb\" in traffic");
  EXPECT_EQ(expect("{during: [0s, 1m], requests: web}"),
            "test.yaml: expect[0]: needs at least one of maxFailed, minSucceeded");
  EXPECT_EQ(expect("{during: [0s, 1m], requests: web, maxFailed: ~}"),
            "test.yaml: expect[0]: needs at least one of maxFailed, minSucceeded");
  EXPECT_EQ(expect("{during: [0s, 1m], requests: web, maxFailed: -1}"),
            "test.yaml: expect[0].maxFailed: must be a non-negative integer, not -1");
  EXPECT_EQ(expect("{during: [0s, 1m], requests: web, count: 1}"),
            "test.yaml: expect[0].count: applies to pods, not requests");
  EXPECT_EQ(expect("{during: [0s, 1m], deployment: web, maxFailed: 0}"),
            "test.yaml: expect[0].maxFailed: applies to requests, not a deployment");
  EXPECT_EQ(expect("{during: [0s, 1m], requests: web, pods: {}, maxFailed: 0}"),
            "test.yaml: expect[0]: needs exactly one of deployment, pods and requests");
}

TEST_F(ScenarioTest, MalformedInput) {
  EXPECT_THAT(Error("runUntil: [1s\n"), HasSubstr("test.yaml: line "));
  EXPECT_EQ(Error("- runUntil: 1s\n"), "test.yaml: a scenario must be a mapping, not a list");
  EXPECT_EQ(Error("just text"), "test.yaml: a scenario must be a mapping, not \"just text\"");
  EXPECT_EQ(Error(""), "test.yaml: a scenario must be a mapping, not empty");
  EXPECT_EQ(Error("runUntil: 1s\n---\nrunUntil: 2s\n"),
            "test.yaml: more than one YAML document");
  // Nesting beyond the reader's limit, and an alias bomb in an inline manifest.
  EXPECT_THAT(Error("runUntil: 1s\nscheduler: " + std::string(500, '[') + std::string(500, ']')),
              HasSubstr("nesting deeper than 100 levels"));
  std::string bomb =
      "runUntil: 1s\ntimeline:\n- at: 0s\n  apply:\n    manifest:\n"
      "      apiVersion: v1\n      kind: ConfigMap\n      data:\n"
      "        a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 9; ++i) {
    const std::string previous = "*a" + std::to_string(i - 1);
    bomb += "        a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + previous;
    for (int k = 1; k < 10; ++k) bomb += ", " + previous;
    bomb += "]\n";
  }
  EXPECT_EQ(Error(bomb),
            "test.yaml: timeline[0].apply.manifest: excessive aliasing");
}

TEST(ParseScenarioDurationTest, Forms) {
  EXPECT_EQ(*ParseScenarioDuration("90s", "p"), absl::Seconds(90));
  EXPECT_EQ(*ParseScenarioDuration("5m", "p"), absl::Minutes(5));
  EXPECT_EQ(*ParseScenarioDuration("1h30m", "p"), absl::Minutes(90));
  EXPECT_EQ(*ParseScenarioDuration("250ms", "p"), absl::Milliseconds(250));
  EXPECT_EQ(*ParseScenarioDuration("1.5s", "p"), absl::Milliseconds(1500));
  EXPECT_EQ(*ParseScenarioDuration("42", "p"), absl::Seconds(42));
  EXPECT_EQ(*ParseScenarioDuration("0.25", "p"), absl::Milliseconds(250));
  EXPECT_EQ(*ParseScenarioDuration("0", "p"), absl::ZeroDuration());
  EXPECT_EQ(*ParseScenarioDuration("10us", "p"), absl::Microseconds(10));
  EXPECT_EQ(*ParseScenarioDuration("7ns", "p"), absl::Nanoseconds(7));
}

TEST(ParseScenarioDurationTest, Errors) {
  EXPECT_THAT(ParseScenarioDuration("-1s", "timeline[0].at"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "timeline[0].at: must not be negative, not \"-1s\""));
  EXPECT_THAT(ParseScenarioDuration("-5", "x"),
              StatusIs(absl::StatusCode::kInvalidArgument, "x: must not be negative, not \"-5\""));
  for (std::string_view bad : {"abc", "", "5 s", "5d", "1e3", "inf", "s", "."}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(ParseScenarioDuration(bad, "runUntil"),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("runUntil: invalid duration \"")));
  }
}

}  // namespace
}  // namespace orch::sim
