// NftablesNetwork on the kernel: each test makes its own hosts out of network namespaces
// (support/netns.h) and programs a node's namespace, then sends real TCP connections and
// looks at which "pod" answered.
#include "orch/network/nftables_network.h"

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/netns.h"
#include "support/status_matchers.h"

namespace orch::network {
namespace {

using ::orch::testing::IsOk;
using ::orch::testing::NetnsTestBed;
using ::orch::testing::PodHost;
using ::orch::testing::StatusIs;
using ::testing::AnyOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr int kPodPort = 8080;

Backend ReadyBackend(const PodHost& pod, bool ready = true) {
  return {.address = pod.address, .port = kPodPort, .ready = ready, .serving = ready};
}

ServiceRule WebRule(std::vector<Backend> backends, int32_t node_port = 0) {
  ServiceRule rule{.ns = "default", .name = "web", .cluster_ip = "10.96.0.10"};
  rule.ports.push_back(
      {.name = "http", .port = 80, .node_port = node_port, .backends = std::move(backends)});
  return rule;
}

TEST(NftablesNetworkOptionsTest, BadOptionsAreRefusedByName) {
  EXPECT_THAT(NftablesNetwork::Create({.table = "9bad"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("table: Invalid value: \"9bad\"")));
  EXPECT_THAT(NftablesNetwork::Create({.masquerade_mark = 0x6000}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("masqueradeMark: Invalid value: 0x6000: must be a single bit")));
  EXPECT_THAT(NftablesNetwork::Create({.cluster_cidr = "10.64.0.0"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("clusterCIDR")));
  EXPECT_THAT(NftablesNetwork::Create({.pod_cidr = "10.64.0.0/24"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("nodeName: Required value")));
  EXPECT_THAT(NftablesNetwork::Create({.netns = "orch-no-such-namespace"}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(NftablesNetwork::Create({.nft = "orch-no-such-program"}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not found")));
}

class NftablesNetworkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (absl::Status available = orch::testing::NetnsAvailable(); !available.ok()) {
      GTEST_SKIP() << available.message();
    }
    absl::StatusOr<std::unique_ptr<NetnsTestBed>> bed = NetnsTestBed::Create(2);
    ASSERT_THAT(bed.status(), IsOk());
    bed_ = std::move(*bed);
    for (int i = 0; i < 3; ++i) {
      absl::StatusOr<PodHost> pod = bed_->AddPod(0, "web-" + std::to_string(i), kPodPort);
      ASSERT_THAT(pod.status(), IsOk());
      pods_.push_back(*pod);
    }
    network_ = Open();
    ASSERT_NE(network_, nullptr);
  }

  std::unique_ptr<NftablesNetwork> Open() {
    absl::StatusOr<std::unique_ptr<NftablesNetwork>> network = NftablesNetwork::Create(
        {.netns = bed_->node_netns(0), .node_name = "node-0", .pod_cidr = bed_->pod_cidr(0)});
    EXPECT_THAT(network.status(), IsOk());
    return network.ok() ? std::move(*network) : nullptr;
  }

  // Which pods answer `count` new connections from `netns` to address:port; "!" + the
  // error for connections that fail.
  std::map<std::string, int> Answers(const std::string& netns, const std::string& address,
                                     int port, int count) {
    std::map<std::string, int> answers;
    for (int i = 0; i < count; ++i) {
      absl::StatusOr<std::string> who =
          NetnsTestBed::HttpGet(netns, address, port, absl::Seconds(2));
      ++answers[who.ok() ? *who : "!" + std::string(absl::StatusCodeToString(who.status().code()))];
    }
    return answers;
  }

  std::unique_ptr<NetnsTestBed> bed_;
  std::vector<PodHost> pods_;
  std::unique_ptr<NftablesNetwork> network_;
};

std::set<std::string> Keys(const std::map<std::string, int>& answers) {
  std::set<std::string> keys;
  for (const auto& [key, count] : answers) keys.insert(key);
  return keys;
}

TEST_F(NftablesNetworkTest, CreateMakesTheFixedPartOfTheTable) {
  absl::StatusOr<std::string> table = network_->ListTable();
  ASSERT_THAT(table.status(), IsOk());
  for (const char* part :
       {"map service-ips", "map service-nodeports", "map no-endpoint-services",
        "chain nat-prerouting", "type nat hook output", "chain masquerading", "reject"}) {
    EXPECT_THAT(*table, HasSubstr(part));
  }
}

TEST_F(NftablesNetworkTest, ClusterIpGoesToTheReadyEndpointsOnly) {
  ASSERT_THAT(network_->SyncService(WebRule({ReadyBackend(pods_[0]), ReadyBackend(pods_[1]),
                                             ReadyBackend(pods_[2], false)})),
              IsOk());
  // From the node itself and from a pod, spread over both ready pods.
  for (const std::string& client : {bed_->node_netns(0), pods_[2].netns}) {
    EXPECT_THAT(Keys(Answers(client, "10.96.0.10", 80, 24)), ElementsAre("web-0", "web-1"))
        << "from " << client;
  }
}

TEST_F(NftablesNetworkTest, APodReachesItselfThroughItsService) {
  ASSERT_THAT(network_->SyncService(WebRule({ReadyBackend(pods_[0])})), IsOk());
  EXPECT_THAT(Answers(pods_[0].netns, "10.96.0.10", 80, 3),
              ElementsAre(std::pair<const std::string, int>("web-0", 3)));
}

TEST_F(NftablesNetworkTest, AServiceWithoutCandidatesRefusesAtOnceAndTerminatingOnesServe) {
  ASSERT_THAT(network_->SyncService(WebRule({ReadyBackend(pods_[0], false)}, 30080)), IsOk());
  const absl::Time start = absl::Now();
  EXPECT_THAT(NetnsTestBed::HttpGet(bed_->node_netns(0), "10.96.0.10", 80),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("Connection refused")));
  EXPECT_THAT(NetnsTestBed::HttpGet(bed_->node_netns(1), bed_->node_address(0), 30080),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("Connection refused")));
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));  // rejected, not left to time out

  Backend draining = ReadyBackend(pods_[1], false);
  draining.serving = true;
  draining.terminating = true;
  ASSERT_THAT(network_->SyncService(WebRule({ReadyBackend(pods_[0], false), draining})), IsOk());
  EXPECT_THAT(Answers(bed_->node_netns(0), "10.96.0.10", 80, 4),
              ElementsAre(std::pair<const std::string, int>("web-1", 4)));
}

TEST_F(NftablesNetworkTest, NodePortAnswersFromAnotherNode) {
  ASSERT_THAT(network_->SyncService(WebRule({ReadyBackend(pods_[0])}, 30080)), IsOk());
  EXPECT_THAT(Answers(bed_->node_netns(1), bed_->node_address(0), 30080, 3),
              ElementsAre(std::pair<const std::string, int>("web-0", 3)));
  // The cluster IP is not a node port: other ports of the node's address are untouched.
  EXPECT_THAT(NetnsTestBed::HttpGet(bed_->node_netns(1), bed_->node_address(0), 80),
              Not(IsOk()));
}

TEST_F(NftablesNetworkTest, SessionAffinityKeepsAClientOnOneEndpoint) {
  ServiceRule rule = WebRule({ReadyBackend(pods_[0]), ReadyBackend(pods_[1]),
                              ReadyBackend(pods_[2])});
  rule.session_affinity = "ClientIP";
  rule.affinity_timeout_seconds = 600;
  ASSERT_THAT(network_->SyncService(rule), IsOk());
  EXPECT_THAT(Keys(Answers(bed_->node_netns(0), "10.96.0.10", 80, 12)),
              ElementsAre(AnyOf("web-0", "web-1", "web-2")));
  absl::StatusOr<std::string> table = network_->ListTable();
  ASSERT_THAT(table.status(), IsOk());
  EXPECT_THAT(*table, HasSubstr("timeout 10m"));
}

TEST_F(NftablesNetworkTest, ARemovedEndpointGetsNoNewConnectionButKeepsItsOpenOne) {
  ASSERT_THAT(network_->SyncService(WebRule({ReadyBackend(pods_[0])})), IsOk());
  absl::StatusOr<orch::testing::Connection> open =
      orch::testing::Connection::Open(bed_->node_netns(0), "10.96.0.10", 80, absl::Seconds(2));
  ASSERT_THAT(open.status(), IsOk());

  ASSERT_THAT(network_->SyncService(WebRule({ReadyBackend(pods_[0], false),
                                             ReadyBackend(pods_[1])})),
              IsOk());
  EXPECT_THAT(Answers(bed_->node_netns(0), "10.96.0.10", 80, 10),
              ElementsAre(std::pair<const std::string, int>("web-1", 10)));
  // The connection made before the change still reaches web-0.
  absl::StatusOr<std::string> answer = open->Get(absl::Seconds(2));
  ASSERT_THAT(answer.status(), IsOk());
  EXPECT_EQ(*answer, "web-0");
  // web-0's chains are gone from the table.
  absl::StatusOr<std::string> table = network_->ListTable();
  ASSERT_THAT(table.status(), IsOk());
  EXPECT_THAT(*table, Not(HasSubstr(pods_[0].address)));
}

TEST_F(NftablesNetworkTest, ARestartKeepsTrafficFlowingAndSyncAllDropsWhatIsGone) {
  auto other = [&](const std::string& name, const std::string& ip) {
    ServiceRule rule{.ns = "default", .name = name, .cluster_ip = ip};
    rule.ports.push_back({.name = "http", .port = 8000, .backends = {ReadyBackend(pods_[2])}});
    return rule;
  };
  ASSERT_THAT(network_->SyncService(WebRule({ReadyBackend(pods_[0]), ReadyBackend(pods_[1])})),
              IsOk());
  ASSERT_THAT(network_->SyncService(other("api", "10.96.0.20")), IsOk());
  ASSERT_THAT(network_->SyncService(other("db", "10.96.0.30")), IsOk());

  network_.reset();  // the host stops; the table stays
  EXPECT_THAT(Keys(Answers(bed_->node_netns(0), "10.96.0.10", 80, 12)),
              ElementsAre("web-0", "web-1"));
  network_ = Open();
  ASSERT_NE(network_, nullptr);
  EXPECT_THAT(Answers(bed_->node_netns(0), "10.96.0.20", 8000, 2),
              ElementsAre(std::pair<const std::string, int>("web-2", 2)));

  // The restarted network knows what the table holds: it can delete api alone.
  ASSERT_THAT(network_->DeleteService("default", "api"), IsOk());
  EXPECT_THAT(network_->last_transaction(),
              HasSubstr("delete chain ip orch service-default/api/tcp/8000"));
  EXPECT_THAT(NetnsTestBed::HttpGet(bed_->node_netns(0), "10.96.0.20", 8000, absl::Seconds(1)),
              Not(IsOk()));
  EXPECT_THAT(Answers(bed_->node_netns(0), "10.96.0.30", 8000, 2),
              ElementsAre(std::pair<const std::string, int>("web-2", 2)));
  // Service db went while the host was down: SyncAll removes it, and changes web.
  ASSERT_THAT(network_->SyncAll({WebRule({ReadyBackend(pods_[1])})}), IsOk());
  EXPECT_THAT(NetnsTestBed::HttpGet(bed_->node_netns(0), "10.96.0.30", 8000, absl::Seconds(1)),
              Not(IsOk()));
  EXPECT_THAT(Answers(bed_->node_netns(0), "10.96.0.10", 80, 4),
              ElementsAre(std::pair<const std::string, int>("web-1", 4)));
  absl::StatusOr<std::string> table = network_->ListTable();
  ASSERT_THAT(table.status(), IsOk());
  EXPECT_THAT(*table, Not(HasSubstr("default/db")));
}

TEST_F(NftablesNetworkTest, ABadRuleChangesNothing) {
  ASSERT_THAT(network_->SyncService(WebRule({ReadyBackend(pods_[0])})), IsOk());
  const std::string before = network_->ListTable().value();
  ServiceRule bad = WebRule({ReadyBackend(pods_[1]), {.address = "10.64.0.x", .port = 8080,
                                                      .ready = true}});
  EXPECT_THAT(network_->SyncService(bad),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("service default/web: ports[0].backends[1].address: Invalid "
                                 "value: \"10.64.0.x\"")));
  bad = WebRule({ReadyBackend(pods_[1])});
  bad.ports[0].protocol = "ICMP";
  EXPECT_THAT(network_->SyncService(bad),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ports[0].protocol")));
  EXPECT_THAT(network_->SyncAll({bad}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(network_->ListTable().value(), before);
  EXPECT_THAT(Answers(bed_->node_netns(0), "10.96.0.10", 80, 2),
              ElementsAre(std::pair<const std::string, int>("web-0", 2)));
}

TEST_F(NftablesNetworkTest, DeleteAndCleanupRemoveEverything) {
  ASSERT_THAT(network_->SyncService(WebRule({ReadyBackend(pods_[0])}, 30080)), IsOk());
  ASSERT_THAT(network_->DeleteService("default", "web"), IsOk());
  EXPECT_THAT(network_->DeleteService("default", "web"), IsOk());  // none: fine
  absl::StatusOr<std::string> table = network_->ListTable();
  ASSERT_THAT(table.status(), IsOk());
  EXPECT_THAT(*table, Not(HasSubstr("default/web")));
  ASSERT_THAT(network_->Cleanup(), IsOk());
  EXPECT_THAT(network_->ListTable(), Not(IsOk()));
  // A sync after a cleanup makes the table again.
  ASSERT_THAT(network_->SyncService(WebRule({ReadyBackend(pods_[0])})), IsOk());
  EXPECT_THAT(Answers(bed_->node_netns(0), "10.96.0.10", 80, 2),
              ElementsAre(std::pair<const std::string, int>("web-0", 2)));
}

TEST_F(NftablesNetworkTest, PodAddressesComeFromItsOwnRange) {
  EXPECT_EQ(network_->AssignPodAddress("node-0", "uid-a").value(), "10.64.0.2");
  EXPECT_EQ(network_->AssignPodAddress("node-0", "uid-a").value(), "10.64.0.2");
  EXPECT_EQ(network_->AssignPodAddress("node-0", "uid-b").value(), "10.64.0.3");
  EXPECT_THAT(network_->AssignPodAddress("node-1", "uid-c"),
              StatusIs(absl::StatusCode::kNotFound));
  network_->ReleasePodAddress("node-0", "uid-a");
  EXPECT_EQ(network_->AssignPodAddress("node-0", "uid-c").value(), "10.64.0.2");
}

}  // namespace
}  // namespace orch::network
