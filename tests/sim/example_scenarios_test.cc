// Every scenario of examples/scenarios runs to a passing report, and each shows the
// behaviour it is there for in the report's figures: node loss and eviction after the
// default and a custom tolerationSeconds, a broken rollout held within maxSurge and
// maxUnavailable and rolled back, crash-loop back-off, scaling during a rollout, and
// preemption by a higher-priority Deployment, and requests that fail only while a lost
// node's endpoints linger. Each also gives the same report, byte for
// byte, when run again with its seed.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orch/sim/scenario.h"
#include "orch/sim/simulation.h"
#include "support/status_matchers.h"

namespace orch::sim {
namespace {

namespace fs = std::filesystem;

const fs::path kDir = fs::path(ORCH_SOURCE_DIR) / "examples/scenarios";

// Runs examples/scenarios/<name>; every expectation and action must hold.
Report RunExample(const std::string& name) {
  std::ifstream in(kDir / name);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_FALSE(text.empty()) << name;
  absl::StatusOr<Scenario> scenario = ParseScenario(text, name, kDir.string());
  EXPECT_THAT(scenario, ::orch::testing::IsOk()) << name;
  if (!scenario.ok()) return {};
  absl::StatusOr<Report> report = RunScenario(*scenario);
  EXPECT_THAT(report, ::orch::testing::IsOk()) << name;
  if (!report.ok()) return {};
  for (const ExpectationResult& e : report->expectations) {
    EXPECT_TRUE(e.ok) << name << " " << e.path << " " << e.text << ": " << e.observed;
  }
  for (const ActionResult& a : report->actions) {
    EXPECT_TRUE(a.ok) << name << " " << a.path << " " << a.action << ": " << a.error;
  }
  EXPECT_FALSE(report->expectations.empty()) << name;
  // Again, with the same seed: the same report (wall time aside).
  absl::StatusOr<Report> again = RunScenario(*scenario);
  if (again.ok()) {
    Report first = *report;
    first.wall_seconds = again->wall_seconds = 0;
    EXPECT_EQ(first.ToJson(), again->ToJson()) << name;
  }
  return *std::move(report);
}

TEST(ExampleScenariosTest, EveryExampleIsRunHere) {
  std::set<std::string> scenarios;
  for (const auto& entry : fs::directory_iterator(kDir)) {
    const std::string name = entry.path().filename().string();
    if (name != "web.yaml") scenarios.insert(name);  // web.yaml is a manifest they apply
  }
  EXPECT_THAT(scenarios, ::testing::ElementsAre("crash-loop.yaml", "eviction-toleration.yaml",
                                                "node-loss.yaml", "preemption.yaml",
                                                "rolling-update.yaml", "scale-during-rollout.yaml",
                                                "traffic.yaml"));
}

TEST(ExampleScenariosTest, NodeLossEvictsAfterTheDefaultToleration) {
  const Report report = RunExample("node-loss.yaml");
  EXPECT_EQ(report.pods.evictions, 2);  // node-2's two pods
  EXPECT_EQ(report.pods.created, 8);    // six, then two replacements
  EXPECT_EQ(report.deployments.at("default/web").max_pods, 6);
  EXPECT_EQ(report.deployments.at("default/web").ready_at_end, 6);
}

TEST(ExampleScenariosTest, EvictionFollowsThePodsOwnTolerationSeconds) {
  const Report report = RunExample("eviction-toleration.yaml");
  EXPECT_EQ(report.pods.evictions, 1);
  EXPECT_EQ(report.pods.created, 4);
}

TEST(ExampleScenariosTest, ABrokenRolloutIsHeldAndRolledBack) {
  const Report report = RunExample("rolling-update.yaml");
  const DeploymentReport& web = report.deployments.at("default/web");
  // Created; web:v2-broken (never completes); the rollback; web:v2.
  ASSERT_EQ(web.rollouts.size(), 4u);
  EXPECT_FALSE(web.rollouts[1].complete_seconds.has_value());
  ASSERT_TRUE(web.rollouts[2].complete_seconds.has_value());
  ASSERT_TRUE(web.rollouts[3].complete_seconds.has_value());
  EXPECT_EQ(web.min_available, 5);
  EXPECT_LE(web.max_pods, 8);
  EXPECT_GE(report.pods.restarts, 4);
}

TEST(ExampleScenariosTest, CrashLoopBacksOff) {
  const Report report = RunExample("crash-loop.yaml");
  // Restarts at 5, 20, 45, 90, 175, 340 and 645 s; the last crash, at 650 s, waits 300 s.
  EXPECT_EQ(report.pods.restarts, 7);
  EXPECT_EQ(report.pods.created, 1);
}

TEST(ExampleScenariosTest, ScalingDuringARolloutFinishesAtTheNewSize) {
  const Report report = RunExample("scale-during-rollout.yaml");
  const DeploymentReport& web = report.deployments.at("default/web");
  EXPECT_EQ(web.desired, 12);
  ASSERT_EQ(web.rollouts.size(), 2u);
  EXPECT_EQ(web.rollouts[1].start_seconds, 100);
  ASSERT_TRUE(web.rollouts[1].complete_seconds.has_value());
  EXPECT_GT(*web.rollouts[1].complete_seconds, 115);
  EXPECT_LE(web.max_pods, 15);
}

TEST(ExampleScenariosTest, AHigherPriorityDeploymentPreempts) {
  const Report report = RunExample("preemption.yaml");
  EXPECT_EQ(report.deployments.at("default/critical").ready_at_end, 3);
  EXPECT_EQ(report.deployments.at("default/batch").ready_at_end, 5);
  EXPECT_EQ(report.pods.pending_at_end, 3);
  EXPECT_GE(report.scheduling.unschedulable, 3);
  EXPECT_GE(report.scheduling.preemptions, 1);
}

TEST(ExampleScenariosTest, TrafficLosesNothingInTheRolloutAndOnlyTheLagOfTheNodeLoss) {
  const Report report = RunExample("traffic.yaml");
  const DeploymentReport& web = report.deployments.at("default/web");
  ASSERT_EQ(web.rollouts.size(), 2u);
  ASSERT_TRUE(web.rollouts[1].complete_seconds.has_value());
  EXPECT_LT(*web.rollouts[1].complete_seconds, 200);  // inside the window that lost nothing
  // 10 a second from 30 s to 700 s; node-2's two pods of six get one request in three
  // from its loss at 300 s until the node lifecycle controller marks it, 45 s later.
  const RequestCounts& requests = report.traffic.at("web").requests;
  EXPECT_EQ(requests.sent, 6700);
  EXPECT_EQ(requests.failed, 150);
  EXPECT_THAT(requests.failures, ::testing::ElementsAre(::testing::Pair("nodeDown", 150)));
  EXPECT_EQ(requests.first_failure_seconds, 300.4);
  EXPECT_EQ(requests.last_failure_seconds, 344.9);
  EXPECT_EQ(report.pods.evictions, 2);
}

}  // namespace
}  // namespace orch::sim
