#include "orch/sim/simulation.h"

#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "support/status_matchers.h"

namespace orch::sim {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kWeb[] = R"(
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 5
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: "web:v1", resources: {requests: {cpu: 500m, memory: 256Mi}}}
)";

ObjectName Web() { return {.namespace_ = "default", .name = "web"}; }

Action Apply(absl::Duration at, std::string manifests) {
  Action a;
  a.at = at;
  a.kind = Action::Kind::kApply;
  a.path = "timeline[0]";
  a.manifests = std::move(manifests);
  a.manifests_source = "web.yaml";
  return a;
}

Action OnNode(absl::Duration at, Action::Kind kind, std::string node, std::string path) {
  Action a;
  a.at = at;
  a.kind = kind;
  a.node = std::move(node);
  a.path = std::move(path);
  return a;
}

Action OnWeb(absl::Duration at, Action::Kind kind, std::string path) {
  Action a;
  a.at = at;
  a.kind = kind;
  a.deployment = Web();
  a.path = std::move(path);
  return a;
}

Expectation Expect(Expectation::When when, absl::Duration at, absl::Duration until,
                   std::string path) {
  Expectation e;
  e.when = when;
  e.at = at;
  e.until = until;
  e.subject.kind = Subject::Kind::kDeployment;
  e.subject.deployment = Web();
  e.path = path;
  e.text = path;
  return e;
}

// Five nodes of 4 CPUs; web:v1 starts in 2 s, web:v2-broken exits 5 s after each start.
Scenario Base() {
  Scenario s;
  s.source = "test.yaml";
  s.seed = 7;
  s.nodes = {{.count = 5}};
  s.images["web:v1"] = {.start_delay = absl::Seconds(2)};
  s.images["web:v2-broken"] = {.start_delay = absl::Seconds(2),
                               .exit_after = absl::Seconds(5),
                               .exit_code = 1};
  s.timeline.push_back(Apply(absl::ZeroDuration(), kWeb));
  s.run_until = absl::Seconds(600);
  return s;
}

const ExpectationResult& Result(const Report& report, const std::string& path) {
  for (const ExpectationResult& e : report.expectations) {
    if (e.path == path) return e;
  }
  static const ExpectationResult kNone;
  ADD_FAILURE() << "no expectation " << path;
  return kNone;
}

TEST(SimulationTest, NodeLossIsHealedAndReported) {
  Scenario s = Base();
  s.timeline.push_back(OnNode(absl::Seconds(60), Action::Kind::kFailNode, "node-2", "timeline[1]"));
  s.timeline.push_back(
      OnNode(absl::Seconds(420), Action::Kind::kRecoverNode, "node-2", "timeline[2]"));
  Expectation ready = Expect(Expectation::When::kAt, absl::Seconds(59), {}, "expect[0]");
  ready.ready_replicas = 5;
  Expectation degraded = Expect(Expectation::When::kAt, absl::Seconds(120), {}, "expect[1]");
  degraded.ready_replicas = 4;
  // Evicted 300 s after the taint (~40 s after the loss), replaced within seconds.
  Expectation healed =
      Expect(Expectation::When::kWithin, absl::Seconds(330), absl::Seconds(420), "expect[2]");
  healed.ready_replicas = 5;
  Expectation floor =
      Expect(Expectation::When::kDuring, absl::Seconds(30), absl::Seconds(600), "expect[3]");
  floor.min_available = 4;
  floor.max_pods = 5;
  Expectation pods_on_lost = Expect(Expectation::When::kAt, absl::Seconds(500), {}, "expect[4]");
  pods_on_lost.subject = {.kind = Subject::Kind::kPods, .node = "node-2"};
  pods_on_lost.count = 0;
  s.expect = {ready, degraded, healed, floor, pods_on_lost};

  ORCH_ASSERT_OK_AND_ASSIGN(Report report, RunScenario(s));
  for (const ExpectationResult& e : report.expectations) {
    EXPECT_TRUE(e.ok) << e.path << ": " << e.observed;
  }
  EXPECT_TRUE(report.ok());
  EXPECT_EQ(report.seed, 7u);
  EXPECT_EQ(report.virtual_seconds, 600);
  EXPECT_THAT(Result(report, "expect[0]").observed, "readyReplicas 5 at 59s");
  EXPECT_THAT(Result(report, "expect[3]").observed, "held from 30s to 10m");
  // Healed between 340 s and 350 s: 60 s + ~40 s to Unknown + 300 s toleration + start.
  const std::string& healed_at = Result(report, "expect[2]").observed;
  EXPECT_THAT(healed_at, StartsWith("readyReplicas 5 at "));
  EXPECT_EQ(report.pods.created, 6);
  EXPECT_EQ(report.pods.scheduled, 6);
  EXPECT_EQ(report.pods.evictions, 1);
  EXPECT_EQ(report.pods.pending_at_end, 0);
  EXPECT_EQ(report.scheduling.attempts, 6);
  EXPECT_EQ(report.scheduling.unschedulable, 0);
  ASSERT_EQ(report.actions.size(), 3u);
  EXPECT_EQ(report.actions[1].action, "failNode node-2");
  EXPECT_EQ(report.actions[1].at_seconds, 60);
  ASSERT_EQ(report.deployments.count("default/web"), 1u);
  const DeploymentReport& web = report.deployments.at("default/web");
  EXPECT_EQ(web.desired, 5);
  EXPECT_EQ(web.ready_at_end, 5);
  EXPECT_EQ(web.min_available, 4);
  EXPECT_EQ(web.max_pods, 5);
  ASSERT_EQ(web.rollouts.size(), 1u);
  EXPECT_EQ(web.rollouts[0].start_seconds, 0);
  EXPECT_EQ(web.rollouts[0].complete_seconds, 2);
  // One sample every 10 s from 0 to 600 s; 5 ready, then 4 while the node is lost.
  ASSERT_EQ(report.series_seconds.size(), 61u);
  const std::vector<int32_t>& series = report.series_ready.at("default/web");
  ASSERT_EQ(series.size(), 61u);
  EXPECT_EQ(series[0], 0);
  EXPECT_EQ(series[1], 5);
  EXPECT_EQ(series[12], 4);   // 120 s
  EXPECT_EQ(series[60], 5);
}

// A pod of web:v2-broken is Ready for 5 s before it crashes: with minReadySeconds 10 it
// never counts as available, so the rollout stops at its budget (as in Kubernetes; with
// minReadySeconds 0 it would roll out completely, then crash everywhere).
TEST(SimulationTest, ABrokenRolloutIsHeldWithinItsBudgetAndRolledBack) {
  Scenario s = Base();
  std::string manifest = kWeb;
  manifest.replace(manifest.find("replicas: 5"), 11, "replicas: 5\n  minReadySeconds: 10");
  s.timeline[0] = Apply(absl::ZeroDuration(), manifest);
  Action set_image = OnWeb(absl::Seconds(100), Action::Kind::kSetImage, "timeline[1]");
  set_image.container = "web";
  set_image.image = "web:v2-broken";
  s.timeline.push_back(set_image);
  s.timeline.push_back(OnWeb(absl::Seconds(300), Action::Kind::kRollback, "timeline[2]"));
  // 25% of 5: maxUnavailable 1 (rounded down), maxSurge 2 (rounded up).
  Expectation budget =
      Expect(Expectation::When::kDuring, absl::Seconds(100), absl::Seconds(300), "expect[0]");
  budget.min_available = 4;
  budget.max_pods = 7;
  Expectation back =
      Expect(Expectation::When::kWithin, absl::Seconds(300), absl::Seconds(400), "expect[1]");
  back.ready_replicas = 5;
  Expectation crashing = Expect(Expectation::When::kAt, absl::Seconds(290), {}, "expect[2]");
  crashing.subject = {.kind = Subject::Kind::kPods, .selector = api::LabelSelector::Parse("app=web").value()};
  crashing.min_restarts = 3;
  s.expect = {budget, back, crashing};

  ORCH_ASSERT_OK_AND_ASSIGN(Report report, RunScenario(s));
  for (const ExpectationResult& e : report.expectations) {
    EXPECT_TRUE(e.ok) << e.path << ": " << e.observed;
  }
  const DeploymentReport& web = report.deployments.at("default/web");
  EXPECT_EQ(web.min_available, 4);
  EXPECT_GE(web.max_pods, 6);
  EXPECT_LE(web.max_pods, 7);
  // Created, the broken template (never completes), the rollback (completes).
  ASSERT_EQ(web.rollouts.size(), 3u);
  EXPECT_EQ(web.rollouts[1].start_seconds, 100);
  EXPECT_FALSE(web.rollouts[1].complete_seconds.has_value());
  EXPECT_EQ(web.rollouts[2].start_seconds, 300);
  ASSERT_TRUE(web.rollouts[2].complete_seconds.has_value());
  EXPECT_LT(*web.rollouts[2].complete_seconds, 330);
  EXPECT_GE(report.pods.restarts, 3);
}

TEST(SimulationTest, FailuresAreReportedNotFatal) {
  Scenario s = Base();
  Action scale_missing = OnWeb(absl::Seconds(10), Action::Kind::kScale, "timeline[1]");
  scale_missing.deployment.name = "api";
  scale_missing.replicas = 3;
  s.timeline.push_back(scale_missing);
  s.timeline.push_back(OnNode(absl::Seconds(11), Action::Kind::kFailNode, "node-9", "timeline[2]"));
  Expectation too_many = Expect(Expectation::When::kAt, absl::Seconds(30), {}, "expect[0]");
  too_many.ready_replicas = 6;
  Expectation never =
      Expect(Expectation::When::kWithin, absl::Seconds(30), absl::Seconds(60), "expect[1]");
  never.ready_replicas = 9;
  Expectation dip =
      Expect(Expectation::When::kDuring, absl::ZeroDuration(), absl::Seconds(60), "expect[2]");
  dip.min_available = 5;
  s.expect = {too_many, never, dip};
  s.run_until = absl::Seconds(60);

  ORCH_ASSERT_OK_AND_ASSIGN(Report report, RunScenario(s));
  EXPECT_FALSE(report.ok());
  EXPECT_EQ(Result(report, "expect[0]").observed, "readyReplicas 5 (needed 6) at 30s");
  EXPECT_EQ(Result(report, "expect[1]").observed, "not met by 1m; last readyReplicas 5 (needed 9)");
  EXPECT_EQ(Result(report, "expect[2]").observed, "availableReplicas 0 (needed >= 5) at 0s");
  ASSERT_EQ(report.actions.size(), 3u);
  EXPECT_FALSE(report.actions[1].ok);
  EXPECT_THAT(report.actions[1].error, HasSubstr("\"api\" not found"));
  EXPECT_FALSE(report.actions[2].ok);
  EXPECT_THAT(report.actions[2].error, HasSubstr("node-9"));
  EXPECT_THAT(report.ToJson(), HasSubstr("\"error\": "));
}

TEST(SimulationTest, ScaleDeleteAndCrash) {
  Scenario s = Base();
  Action scale = OnWeb(absl::Seconds(30), Action::Kind::kScale, "timeline[1]");
  scale.replicas = 10;
  Action remove;
  remove.at = absl::Seconds(60);
  remove.kind = Action::Kind::kDeletePod;
  remove.selector = api::LabelSelector::Parse("app=web").value();
  remove.count = 3;
  remove.path = "timeline[2]";
  Action crash;
  crash.at = absl::Seconds(90);
  crash.kind = Action::Kind::kCrashContainer;
  crash.pod_glob = "default/web-*";
  crash.container = "web";
  crash.path = "timeline[3]";
  s.timeline.insert(s.timeline.end(), {scale, remove, crash});
  Expectation ten = Expect(Expectation::When::kWithin, absl::Seconds(30), absl::Seconds(40), "expect[0]");
  ten.ready_replicas = 10;
  Expectation running = Expect(Expectation::When::kAt, absl::Seconds(200), {}, "expect[1]");
  running.subject = {.kind = Subject::Kind::kPods,
                     .selector = api::LabelSelector::Parse("app=web").value(),
                     .phase = "Running",
                     .ready = true};
  running.count = 10;
  running.min_restarts = 10;
  running.max_restarts = 10;
  s.expect = {ten, running};

  ORCH_ASSERT_OK_AND_ASSIGN(Report report, RunScenario(s));
  for (const ExpectationResult& e : report.expectations) {
    EXPECT_TRUE(e.ok) << e.path << ": " << e.observed;
  }
  for (const ActionResult& a : report.actions) EXPECT_TRUE(a.ok) << a.path << ": " << a.error;
  EXPECT_EQ(report.pods.created, 13);  // 5, 5 more, 3 replacements
  EXPECT_EQ(report.pods.restarts, 10);
  EXPECT_EQ(report.deployments.at("default/web").max_pods, 10);
}

TEST(SimulationTest, TheSameSeedGivesTheSameReportByteForByte) {
  Scenario s = Base();
  s.nodes = {{.count = 20}};
  s.timeline.push_back(OnNode(absl::Seconds(60), Action::Kind::kFailNode, "node-3", "timeline[1]"));
  Action scale = OnWeb(absl::Seconds(120), Action::Kind::kScale, "timeline[2]");
  scale.replicas = 30;
  s.timeline.push_back(scale);
  auto json = [&](uint64_t seed) {
    absl::StatusOr<Report> report = RunScenario(s, {.seed = seed});
    EXPECT_THAT(report, ::orch::testing::IsOk());
    if (!report.ok()) return std::string();
    report->wall_seconds = 0;
    return report->ToJson();
  };
  const std::string first = json(11);
  EXPECT_EQ(first, json(11));
  EXPECT_THAT(first, HasSubstr("\"seed\": 11,"));
  EXPECT_THAT(json(12), HasSubstr("\"seed\": 12,"));
}

TEST(SimulationTest, TheReportIsJsonAndTheSeriesCsv) {
  Scenario s = Base();
  s.run_until = absl::Seconds(30);
  Expectation ready = Expect(Expectation::When::kAt, absl::Seconds(20), {}, "expect[0]");
  ready.ready_replicas = 5;
  ready.text = "{at: 20s, deployment: default/web, readyReplicas: 5}";
  s.expect = {ready};
  ORCH_ASSERT_OK_AND_ASSIGN(Report report, RunScenario(s));
  google::protobuf::Struct parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(report.ToJson(), &parsed).ok())
      << report.ToJson();
  for (const char* key : {"seed", "scenario", "ok", "virtualSeconds", "wallSeconds", "expectations",
                          "actions", "deployments", "pods", "scheduling", "series"}) {
    EXPECT_TRUE(parsed.fields().contains(key)) << key;
  }
  const auto& expectation = parsed.fields().at("expectations").list_value().values(0).struct_value();
  EXPECT_EQ(expectation.fields().at("text").string_value(),
            "{at: 20s, deployment: default/web, readyReplicas: 5}");
  EXPECT_TRUE(expectation.fields().at("ok").bool_value());
  std::vector<std::string> lines = absl::StrSplit(report.SeriesCsv(), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_THAT(lines, ElementsAre("seconds,default/web", "0,0", "10,5", "20,5", "30,5"));
}

}  // namespace
}  // namespace orch::sim
