// The Service path end to end on real hosts: three "nodes" made of network namespaces, two
// pods each answering HTTP, the EndpointSlice controller over a MemoryStore, and on every
// node a ServiceProxy programming that node's kernel through an NftablesNetwork. Pods'
// status (address, Ready) is written as a node agent would report it.
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orch/api/scheme.h"
#include "orch/api/v1/core.pb.h"
#include "orch/base/executor.h"
#include "orch/client/client.h"
#include "orch/client/informer.h"
#include "orch/controller/controller.h"
#include "orch/controller/endpointslice.h"
#include "orch/network/nftables_network.h"
#include "orch/node/service_proxy.h"
#include "orch/store/memory_store.h"
#include "support/netns.h"
#include "support/status_matchers.h"

namespace orch::network {
namespace {

namespace v1 = api::v1;
using ::orch::testing::IsOk;
using ::orch::testing::NetnsTestBed;
using ::orch::testing::PodHost;

constexpr int kNodes = 3;
constexpr int kPodsPerNode = 2;

class MultiHostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (absl::Status available = orch::testing::NetnsAvailable(); !available.ok()) {
      GTEST_SKIP() << available.message();
    }
    absl::StatusOr<std::unique_ptr<NetnsTestBed>> bed = NetnsTestBed::Create(kNodes);
    ASSERT_THAT(bed.status(), IsOk());
    bed_ = std::move(*bed);
    store_ = store::MemoryStore::Open({.clock = &executor_.clock()}).value();
    client_ = std::make_unique<client::Client>(store_.get(), &api::Scheme::Builtin(),
                                               &executor_.clock());
    informers_ = std::make_unique<client::SharedInformerFactory>(client_.get(), &executor_);
    manager_ = controller::Manager::Create(
                   {.client = client_.get(), .informers = informers_.get(), .executor = &executor_})
                   .value();
    ASSERT_THAT(controller::AddEndpointSliceController(manager_.get()), IsOk());
    for (int n = 0; n < kNodes; ++n) {
      absl::StatusOr<std::unique_ptr<NftablesNetwork>> network =
          NftablesNetwork::Create({.netns = bed_->node_netns(n)});
      ASSERT_THAT(network.status(), IsOk());
      networks_.push_back(std::move(*network));
      absl::StatusOr<std::unique_ptr<node::ServiceProxy>> proxy = node::ServiceProxy::Create(
          {.informers = informers_.get(), .network = networks_.back().get(),
           .executor = &executor_});
      ASSERT_THAT(proxy.status(), IsOk());
      proxies_.push_back(std::move(*proxy));
      for (int k = 0; k < kPodsPerNode; ++k) {
        const std::string name = fmt::format("web-{}-{}", n, k);
        absl::StatusOr<PodHost> host = bed_->AddPod(n, name, 8080);
        ASSERT_THAT(host.status(), IsOk());
        CreatePod(name, n, host->address);
      }
    }
    ASSERT_THAT(manager_->Start(), IsOk());
    v1::Service service;
    service.mutable_metadata()->set_name("web");
    service.mutable_metadata()->set_namespace_("default");
    service.mutable_spec()->set_type("NodePort");
    (*service.mutable_spec()->mutable_selector())["app"] = "web";
    v1::ServicePort& port = *service.mutable_spec()->add_ports();
    port.set_name("http");
    port.set_port(80);
    port.mutable_target_port()->set_str_val("http");  // named: resolved per pod
    absl::StatusOr<v1::Service> created = client_->Create(service);
    ASSERT_THAT(created.status(), IsOk());
    cluster_ip_ = created->spec().cluster_ip();
    node_port_ = created->spec().ports(0).node_port();
    executor_.RunUntilIdle();
  }

  void TearDown() override {
    proxies_.clear();
    manager_.reset();
    informers_.reset();
  }

  void CreatePod(const std::string& name, int node, const std::string& address) {
    v1::Pod pod;
    pod.mutable_metadata()->set_name(name);
    pod.mutable_metadata()->set_namespace_("default");
    (*pod.mutable_metadata()->mutable_labels())["app"] = "web";
    pod.mutable_spec()->set_node_name(fmt::format("node-{}", node));
    v1::Container& c = *pod.mutable_spec()->add_containers();
    c.set_name("web");
    c.set_image("web:v1");
    v1::ContainerPort& port = *c.add_ports();
    port.set_name("http");
    port.set_container_port(8080);
    absl::StatusOr<v1::Pod> created = client_->Create(pod);
    ASSERT_THAT(created.status(), IsOk());
    created->mutable_status()->set_phase("Running");
    created->mutable_status()->set_pod_ip(address);
    created->mutable_status()->add_pod_ips()->set_ip(address);
    ASSERT_THAT(client_->UpdateStatus(*created).status(), IsOk());
    SetReady(name, true);
  }

  // Writes the pod's Ready condition, as its node agent (or, for a lost node, the node
  // lifecycle controller) does, and lets the controller and the proxies act on it.
  void SetReady(const std::string& name, bool ready) {
    absl::StatusOr<v1::Pod> pod = client_->Get<v1::Pod>("default", name);
    ASSERT_THAT(pod.status(), IsOk());
    pod->mutable_status()->clear_conditions();
    v1::PodCondition& c = *pod->mutable_status()->add_conditions();
    c.set_type("Ready");
    c.set_status(ready ? "True" : "False");
    ASSERT_THAT(client_->UpdateStatus(*pod).status(), IsOk());
    executor_.RunUntilIdle();
  }

  // Which pods answer `count` new connections to the Service from each of `nodes`
  // ("!CODE" for a connection that failed), summed over the nodes.
  std::map<std::string, int> Answers(const std::vector<int>& nodes, int count,
                                     bool node_port = false,
                                     absl::Duration timeout = absl::Seconds(2)) {
    std::map<std::string, int> answers;
    for (int n : nodes) {
      for (int i = 0; i < count; ++i) {
        absl::StatusOr<std::string> who =
            node_port ? NetnsTestBed::HttpGet(bed_->node_netns(n),
                                              bed_->node_address((n + 1) % kNodes), node_port_,
                                              timeout)
                      : NetnsTestBed::HttpGet(bed_->node_netns(n), cluster_ip_, 80, timeout);
        ++answers[who.ok() ? *who : "!" + absl::StatusCodeToString(who.status().code())];
      }
    }
    return answers;
  }

  static std::set<std::string> Keys(const std::map<std::string, int>& answers) {
    std::set<std::string> keys;
    for (const auto& [key, count] : answers) keys.insert(key);
    return keys;
  }

  std::unique_ptr<NetnsTestBed> bed_;
  VirtualExecutor executor_;
  std::unique_ptr<store::MemoryStore> store_;
  std::unique_ptr<client::Client> client_;
  std::unique_ptr<client::SharedInformerFactory> informers_;
  std::unique_ptr<controller::Manager> manager_;
  std::vector<std::unique_ptr<NftablesNetwork>> networks_;
  std::vector<std::unique_ptr<node::ServiceProxy>> proxies_;
  std::string cluster_ip_;
  int node_port_ = 0;
};

TEST_F(MultiHostTest, TheServiceAnswersFromEveryNodeWithEveryPod) {
  ASSERT_FALSE(cluster_ip_.empty());
  // 90 connections over 6 pods: each pod answers (a miss has odds below 1e-6).
  EXPECT_THAT(Keys(Answers({0, 1, 2}, 30)),
              ::testing::ElementsAre("web-0-0", "web-0-1", "web-1-0", "web-1-1", "web-2-0",
                                     "web-2-1"));
  // A node port, sent to the next node's address.
  std::set<std::string> via_node_port = Keys(Answers({0, 1, 2}, 4, /*node_port=*/true));
  EXPECT_FALSE(via_node_port.empty());
  for (const std::string& who : via_node_port) EXPECT_EQ(who.substr(0, 4), "web-") << who;
}

TEST_F(MultiHostTest, AnUnreadyOrDeletedPodGetsNoNewConnection) {
  SetReady("web-0-0", false);
  ASSERT_THAT(client_->Delete<v1::Pod>("default", "web-1-0"), IsOk());
  executor_.RunUntilIdle();
  EXPECT_THAT(Keys(Answers({0, 1, 2}, 20)),
              ::testing::ElementsAre("web-0-1", "web-1-1", "web-2-0", "web-2-1"));
  // Ready again: it is back in every node's rules.
  SetReady("web-0-0", true);
  EXPECT_THAT(Keys(Answers({0, 1, 2}, 20)), ::testing::Contains("web-0-0"));
}

TEST_F(MultiHostTest, WhenANodeIsCutOffTrafficFlowsToTheOthers) {
  ASSERT_THAT(bed_->SetLink(2, false), IsOk());
  // Until its pods are marked, connections sent to them get no answer (24 connections
  // all missing node 2's two pods of six: odds below 1e-4).
  EXPECT_THAT(Keys(Answers({0}, 24, false, absl::Milliseconds(500))),
              ::testing::Contains("!DEADLINE_EXCEEDED"));
  // The node lifecycle controller marks a lost node's pods not ready.
  SetReady("web-2-0", false);
  SetReady("web-2-1", false);
  EXPECT_THAT(Keys(Answers({0, 1}, 30)),
              ::testing::ElementsAre("web-0-0", "web-0-1", "web-1-0", "web-1-1"));
}

}  // namespace
}  // namespace orch::network
