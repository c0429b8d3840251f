#include "orch/network/fake_network.h"

#include <map>
#include <memory>
#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orch/api/v1/core.pb.h"
#include "orch/base/executor.h"
#include "orch/cluster.h"
#include "orch/node/service_proxy.h"
#include "support/status_matchers.h"

namespace orch::network {
namespace {

namespace v1 = api::v1;
using ::orch::testing::IsOk;
using ::orch::testing::StatusIs;
using ::testing::HasSubstr;

Backend MakeBackend(const std::string& address, bool ready, bool terminating = false) {
  return {.address = address, .port = 8080, .ready = ready, .serving = ready || terminating,
          .terminating = terminating, .node = "node-0", .pod = "default/" + address};
}

ServiceRule MakeRule(std::vector<Backend> backends) {
  ServiceRule rule{.ns = "default", .name = "web", .cluster_ip = "10.96.0.10"};
  rule.ports.push_back({.name = "http", .port = 80, .node_port = 30080,
                        .backends = std::move(backends)});
  return rule;
}

class FakeNetworkTest : public ::testing::Test {
 protected:
  VirtualExecutor executor_;
  FakeNetwork network_{{.clock = &executor_.clock()}};
};

TEST_F(FakeNetworkTest, PodAddressesComeFromTheNodesRangeAndAreReused) {
  ASSERT_THAT(network_.AddNode("node-0", "10.64.0.0/30"), IsOk());  // .2 only
  EXPECT_THAT(network_.AddNode("node-0", "10.64.1.0/24"),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(network_.AddNode("node-1", "10.64.1.0/33"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("node node-1: podCIDR")));
  EXPECT_EQ(network_.AssignPodAddress("node-0", "uid-a").value(), "10.64.0.2");
  EXPECT_EQ(network_.AssignPodAddress("node-0", "uid-a").value(), "10.64.0.2");  // same pod
  EXPECT_THAT(network_.AssignPodAddress("node-0", "uid-b"),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("is full")));
  network_.ReleasePodAddress("node-0", "uid-a");
  EXPECT_EQ(network_.AssignPodAddress("node-0", "uid-b").value(), "10.64.0.2");
  EXPECT_THAT(network_.AssignPodAddress("node-9", "uid-c"),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(FakeNetworkTest, ConnectionsGoToReadyBackendsInTurn) {
  ASSERT_THAT(network_.SyncService(MakeRule({MakeBackend("10.64.0.2", true),
                                             MakeBackend("10.64.0.3", false),
                                             MakeBackend("10.64.0.4", true)})),
              IsOk());
  std::map<std::string, int> hits;
  for (int i = 0; i < 10; ++i) {
    absl::StatusOr<Connection> c = network_.Connect("10.64.9.9", "10.96.0.10", 80);
    ASSERT_THAT(c, IsOk());
    EXPECT_EQ(c->service, "default/web");
    ++hits[c->backend.address];
  }
  EXPECT_EQ(hits, (std::map<std::string, int>{{"10.64.0.2", 5}, {"10.64.0.4", 5}}));
  ASSERT_THAT(network_.ConnectNodePort("10.64.9.9", 30080), IsOk());
  EXPECT_THAT(network_.Connect("10.64.9.9", "10.96.0.10", 81),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no service listens on")));
}

TEST_F(FakeNetworkTest, TerminatingBackendsServeOnlyWhenNothingIsReady) {
  ASSERT_THAT(network_.SyncService(MakeRule({MakeBackend("10.64.0.2", false, true)})), IsOk());
  EXPECT_EQ(network_.Connect("c", "10.96.0.10", 80)->backend.address, "10.64.0.2");
  ASSERT_THAT(network_.SyncService(MakeRule({MakeBackend("10.64.0.2", false)})), IsOk());
  EXPECT_THAT(network_.Connect("c", "10.96.0.10", 80),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("no endpoints available for service \"default/web\"")));
}

TEST_F(FakeNetworkTest, ClientIPAffinityKeepsABackendUntilTheTimeout) {
  ServiceRule rule = MakeRule({MakeBackend("10.64.0.2", true), MakeBackend("10.64.0.3", true)});
  rule.session_affinity = "ClientIP";
  rule.affinity_timeout_seconds = 60;
  ASSERT_THAT(network_.SyncService(rule), IsOk());
  const std::string first = network_.Connect("10.1.1.1", "10.96.0.10", 80)->backend.address;
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(network_.Connect("10.1.1.1", "10.96.0.10", 80)->backend.address, first);
  }
  EXPECT_NE(network_.Connect("10.2.2.2", "10.96.0.10", 80)->backend.address, first);
  // After the timeout the client is placed afresh: in turn, after another client's pick.
  executor_.AdvanceBy(absl::Seconds(61));
  EXPECT_EQ(network_.Connect("10.3.3.3", "10.96.0.10", 80)->backend.address, first);
  EXPECT_NE(network_.Connect("10.1.1.1", "10.96.0.10", 80)->backend.address, first);
}

TEST_F(FakeNetworkTest, BadRulesAreRefusedAndChangeNothing) {
  ServiceRule bad = MakeRule({});
  bad.cluster_ip = "10.96.0";
  EXPECT_THAT(network_.SyncService(bad),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("service default/web: clusterIP: Invalid value: \"10.96.0\"")));
  bad = MakeRule({});
  bad.ports[0].port = 70000;
  EXPECT_THAT(network_.SyncService(bad),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ports[0]")));
  EXPECT_EQ(network_.service_count(), 0u);
  EXPECT_EQ(network_.rule_changes(), 0);
}

// End to end: a Cluster's Service, its EndpointSlices, a ServiceProxy programming a
// FakeNetwork; connections follow the ready pods through a node loss.
TEST(ServiceProxyTest, ProgramsTheNetworkFromServicesAndTheirSlices) {
  auto built = Cluster::Builder().WithNodes({.count = 3}).Build();
  ASSERT_THAT(built, IsOk());
  Cluster& cluster = **built;
  FakeNetwork network({.clock = &cluster.executor().clock()});
  auto proxy = node::ServiceProxy::Create(
      {.informers = &cluster.informers(), .network = &network, .executor = &cluster.executor()});
  ASSERT_THAT(proxy, IsOk());
  ASSERT_THAT(cluster.Apply(R"(
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: "web:v1", ports: [{name: http, containerPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
)"),
              IsOk());
  const std::string ip = cluster.Get<v1::Service>("default", "web")->spec().cluster_ip();
  // The ready backends a connection can reach, and whether each is a live ready pod.
  auto reachable = [&] {
    std::set<std::string> out;
    for (int i = 0; i < 6; ++i) {
      absl::StatusOr<Connection> c = network.Connect("10.0.0.1", ip, 80);
      if (c.ok()) out.insert(c->backend.address);
    }
    return out;
  };
  auto ready_pods = [&] {
    std::set<std::string> out;
    const std::vector<v1::Pod> pods = cluster.List<v1::Pod>("default", "app=web").value();
    for (const v1::Pod& pod : pods) {
      bool ready = false;
      for (const auto& c : pod.status().conditions()) ready |= c.type() == "Ready" && c.status() == "True";
      if (ready && !pod.metadata().has_deletion_timestamp()) out.insert(pod.status().pod_ip());
    }
    return out;
  };
  ASSERT_THAT(cluster.WaitFor([&] { return reachable().size() == 3; }, absl::Minutes(1),
                              "three backends"),
              IsOk());
  EXPECT_EQ(reachable(), ready_pods());
  const std::optional<ServiceRule> rule = network.Rule("default", "web");
  ASSERT_TRUE(rule.has_value());
  EXPECT_EQ(rule->ports[0].backends[0].port, 8080);

  ASSERT_THAT(cluster.FailNode("node-1"), IsOk());
  ASSERT_THAT(cluster.WaitFor([&] { return reachable().size() == 2; }, absl::Minutes(2),
                              "the lost node's backend to go"),
              IsOk());
  EXPECT_EQ(reachable(), ready_pods());
  ASSERT_THAT(cluster.WaitFor([&] { return reachable().size() == 3; }, absl::Minutes(10),
                              "a replacement backend"),
              IsOk());
  EXPECT_EQ(reachable(), ready_pods());

  ASSERT_THAT(cluster.client().Delete<v1::Service>("default", "web"), IsOk());
  ASSERT_THAT(cluster.WaitFor([&] { return network.service_count() == 0; }, absl::Seconds(5),
                              "the rule to go"),
              IsOk());
  EXPECT_GT((*proxy)->syncs(), 0);
  EXPECT_EQ((*proxy)->failures(), 0);
}

}  // namespace
}  // namespace orch::network
