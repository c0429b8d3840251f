// Traffic in a run (orch/sim/simulation.h): requests go where the Service's rules send
// them, and each is counted as failed when the pod it reaches cannot serve at that
// instant, for the reason the rule names, whatever the endpoint's recorded `ready` says.
#include <string>
#include <string_view>

#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orch/sim/scenario.h"
#include "orch/sim/simulation.h"
#include "support/status_matchers.h"

namespace orch::sim {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

// Timeline entries: at `at`, a Deployment "web" of `replicas` pods of `image`, with
// `pod_spec` added to its pod spec and `container` to its container.
std::string WebDeployment(std::string_view at, int replicas, std::string_view image,
                          std::string_view pod_spec = "", std::string_view container = "") {
  return fmt::format(R"(
  - at: {}
    apply:
      manifest:
        apiVersion: apps/v1
        kind: Deployment
        metadata: {{name: web}}
        spec:
          replicas: {}
          selector: {{matchLabels: {{app: web}}}}
          strategy: {{rollingUpdate: {{maxSurge: 1, maxUnavailable: 0}}}}
          template:
            metadata: {{labels: {{app: web}}}}
            spec:
              {}containers:
              - {{name: web, image: "{}", ports: [{{containerPort: 8080}}]{}}}
)",
                     at, replicas,
                     pod_spec.empty() ? "" : fmt::format("{}\n              ", pod_spec), image,
                     container.empty() ? "" : fmt::format(", {}", container));
}

// ... and a Service "web" on port 80.
std::string WebService(std::string_view at) {
  return fmt::format(R"(
  - at: {}
    apply:
      manifest:
        apiVersion: v1
        kind: Service
        metadata: {{name: web}}
        spec: {{selector: {{app: web}}, ports: [{{port: 80, targetPort: 8080}}]}}
)",
                     at);
}

// Two nodes; at 0 s the Deployment (four replicas of web:v1) and the Service. `probe`
// gives the container a readiness probe.
std::string WebCluster(bool probe) {
  return R"(
seed: 3
nodes: [{count: 2}]
images:
  "web:v1": {startSeconds: 2}
  "web:v2": {startSeconds: 2}
  "web:v2-unready": {startSeconds: 2, readinessFails: true}
timeline:)" +
         WebDeployment("0s", 4, "web:v1", "",
                       probe ? "readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 5}"
                             : "") +
         WebService("0s");
}

Report RunText(const std::string& text) {
  absl::StatusOr<Scenario> scenario = ParseScenario(text, "traffic.yaml");
  EXPECT_THAT(scenario, ::orch::testing::IsOk()) << text;
  if (!scenario.ok()) return {};
  absl::StatusOr<Report> report = RunScenario(*scenario);
  EXPECT_THAT(report, ::orch::testing::IsOk());
  if (!report.ok()) return {};
  for (const ActionResult& a : report->actions) EXPECT_TRUE(a.ok) << a.path << ": " << a.error;
  return *std::move(report);
}

const RequestCounts& Web(const Report& report) {
  static const RequestCounts kNone;
  auto it = report.traffic.find("web");
  if (it == report.traffic.end()) {
    ADD_FAILURE() << "no stream web in the report";
    return kNone;
  }
  return it->second.requests;
}

TEST(TrafficTest, ARollingUpdateWithReadinessProbesLosesNoRequest) {
  const Report report = RunText(WebCluster(/*probe=*/true) + R"(
  - {at: 60s, setImage: {deployment: default/web, container: web, image: "web:v2"}}
traffic:
  - {name: web, service: default/web, port: 80, rate: 20, during: [30s, 150s]}
expect:
  - {during: [60s, 150s], requests: web, maxFailed: 0, minSucceeded: 1800}
runUntil: 150s
)");
  ASSERT_EQ(report.expectations.size(), 1u);
  EXPECT_TRUE(report.expectations[0].ok) << report.expectations[0].observed;
  // The rollout ran inside the window, replacing every pod: the window saw it all.
  const DeploymentReport& web = report.deployments.at("default/web");
  ASSERT_EQ(web.rollouts.size(), 2u);
  ASSERT_TRUE(web.rollouts[1].complete_seconds.has_value());
  EXPECT_LT(*web.rollouts[1].complete_seconds, 150);
  EXPECT_EQ(report.pods.created, 8);
  // 20 a second from 30 s, the last before 150 s.
  const RequestCounts& requests = Web(report);
  EXPECT_EQ(requests.sent, 2400);
  EXPECT_EQ(requests.succeeded, 2400);
  EXPECT_EQ(requests.failed, 0);
  EXPECT_TRUE(requests.failures.empty());
  EXPECT_FALSE(requests.first_failure_seconds.has_value());
  EXPECT_EQ(report.expectations[0].observed,
            "held from 1m to 2m30s: sent 1800, succeeded 1800, failed 0");
  EXPECT_EQ(report.traffic.at("web").service, "default/web:80");
}

// A pod that is not ready, though nothing in the store says so: without a readiness
// probe, web:v2-unready's pods are Ready and their endpoints ready, so the rules send
// requests there, and every one of those fails. With the probe, the same update never
// makes them ready, the rollout holds, and no request reaches them.
TEST(TrafficTest, ARequestToAPodThatIsNotReadyFails) {
  const std::string rest = R"(
  - {at: 60s, setImage: {deployment: default/web, container: web, image: "web:v2-unready"}}
traffic:
  - {name: web, service: default/web, rate: 10, during: [30s, 120s]}
expect:
  - {during: [30s, 59s], requests: web, maxFailed: 0}
  - {during: [60s, 120s], requests: web, maxFailed: 0}
runUntil: 120s
)";
  const Report unprobed = RunText(WebCluster(/*probe=*/false) + rest);
  ASSERT_EQ(unprobed.expectations.size(), 2u);
  EXPECT_TRUE(unprobed.expectations[0].ok) << unprobed.expectations[0].observed;
  EXPECT_FALSE(unprobed.expectations[1].ok);
  const RequestCounts& failed = Web(unprobed);
  EXPECT_EQ(failed.sent, 900);
  EXPECT_GT(failed.failed, 300);  // the new pods are all there is once the rollout is done
  EXPECT_EQ(failed.succeeded + failed.failed, failed.sent);
  EXPECT_THAT(failed.failures, ElementsAre(Pair("containerNotReady", failed.failed)));
  // The first new pod runs from 62 s (made at 60 s, 2 s to start), one endpoint of five;
  // after the rollout, every request fails.
  EXPECT_GE(*failed.first_failure_seconds, 62);
  EXPECT_LT(*failed.first_failure_seconds, 62.5);
  EXPECT_EQ(failed.last_failure_seconds, 119.9);
  EXPECT_THAT(unprobed.expectations[1].observed,
              HasSubstr(fmt::format("failed {} (needed <= 0) from 1m to 2m: sent 600, succeeded ",
                                    failed.failed)));
  EXPECT_THAT(unprobed.expectations[1].observed, HasSubstr("to 1m59.9s"));

  const Report probed = RunText(WebCluster(/*probe=*/true) + rest);
  ASSERT_EQ(probed.expectations.size(), 2u);
  EXPECT_TRUE(probed.expectations[1].ok) << probed.expectations[1].observed;
  EXPECT_EQ(Web(probed).sent, 900);
  EXPECT_EQ(Web(probed).failed, 0);
}

// Requests to pods on a failed node fail until the node lifecycle controller marks the
// node Unknown and the pods not ready (40 s after its last heartbeat, looked at every
// 5 s); then the endpoints leave the rules and nothing fails.
TEST(TrafficTest, RequestsToALostNodeFailUntilItsEndpointsGo) {
  const Report report = RunText(WebCluster(/*probe=*/true) + R"(
  - {at: 60s, failNode: node-1}
traffic:
  - {name: web, service: default/web, rate: 10, during: [30s, 200s]}
expect:
  - {during: [60s, 110s], requests: web, maxFailed: 0}
  - {during: [110s, 200s], requests: web, maxFailed: 0}
runUntil: 200s
)");
  ASSERT_EQ(report.expectations.size(), 2u);
  const RequestCounts& requests = Web(report);
  EXPECT_EQ(requests.sent, 1700);
  ASSERT_GT(requests.failed, 0);
  EXPECT_THAT(requests.failures, ElementsAre(Pair("nodeDown", requests.failed)));
  // Two of the four pods are on node-1: every other request, for at most 45 s.
  EXPECT_LE(requests.failed, 10 * 45 / 2);
  EXPECT_GE(*requests.first_failure_seconds, 60);
  EXPECT_LE(*requests.last_failure_seconds, 105);
  EXPECT_FALSE(report.expectations[0].ok);
  EXPECT_TRUE(report.expectations[1].ok) << report.expectations[1].observed;
}

// No Service yet, a Service with no pods, and pods that are all terminating (the rules
// fall back to serving terminating endpoints, which cannot serve by this count).
TEST(TrafficTest, NoServiceNoEndpointAndTerminatingPodsFail) {
  const Report report = RunText(R"(
nodes: [{count: 1}]
images:
  "web:slow-stop": {startSeconds: 2, ignoreSigterm: true}
timeline:)" + WebService("10s") +
                                WebDeployment("20s", 2, "web:slow-stop",
                                              "terminationGracePeriodSeconds: 10") +
                                R"(
  - {at: 40s, scale: {deployment: default/web, replicas: 0}}
traffic:
  - {name: web, service: web, rate: 1, during: [0s, 60s]}
expect:
  - {during: [0s, 9s], requests: web, maxFailed: 10}
runUntil: 60s
)");
  ASSERT_EQ(report.expectations.size(), 1u);
  const RequestCounts& requests = Web(report);
  EXPECT_EQ(requests.sent, 60);
  // 0-9 s: no Service; 10-21 s: no pod ready (they run from 22 s); 22-39 s: served;
  // 40-49 s: both terminating for their 10 s grace period; from 50 s: none left.
  EXPECT_THAT(requests.failures,
              ElementsAre(Pair("noEndpoint", 12 + 10), Pair("noService", 10),
                          Pair("podTerminating", 10)));
  EXPECT_EQ(requests.succeeded, 18);
  EXPECT_EQ(requests.Summary(),
            "sent 60, succeeded 18, failed 42 (noService 10, noEndpoint 22, podTerminating 10); "
            "failures from 0s to 59s");
  EXPECT_EQ(report.expectations[0].observed,
            "held from 0s to 9s: sent 10, succeeded 0, failed 10 (noService 10); failures from 0s "
            "to 9s");
  EXPECT_THAT(report.ToJson(),
              HasSubstr("\"traffic\": {\n    \"web\": {\"service\": \"default/web\", \"sent\": 60, "
                        "\"succeeded\": 18, \"failed\": 42, \"failures\": {\"noService\": 10, "
                        "\"noEndpoint\": 22, \"podTerminating\": 10}, \"firstFailureSeconds\": 0, "
                        "\"lastFailureSeconds\": 59}\n  },\n"));
}

TEST(TrafficTest, WithoutTrafficTheReportSaysSo) {
  const Report report =
      RunText("nodes: [{count: 1}]\nexpect: [{at: 1s, pods: ~, count: 0}]\nrunUntil: 2s\n");
  EXPECT_TRUE(report.traffic.empty());
  EXPECT_THAT(report.ToJson(), HasSubstr("\"traffic\": {},\n"));
}

}  // namespace
}  // namespace orch::sim
