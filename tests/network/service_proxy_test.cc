// ServiceProxy's calls of its Network: one SyncAll once the informers have synced, then the
// Services that changed together in one SyncServices, and a refused Service retried on its
// own without holding up the others.
#include "orch/node/service_proxy.h"

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
#include "orch/network/fake_network.h"
#include "orch/store/memory_store.h"
#include "support/status_matchers.h"

namespace orch::node {
namespace {

namespace v1 = api::v1;
using ::orch::testing::IsOk;

// A FakeNetwork that counts its calls and refuses the Services named in `refuse`.
class CountingNetwork final : public network::Network {
 public:
  explicit CountingNetwork(Clock* clock) : fake_({.clock = clock}) {}

  absl::StatusOr<std::string> AssignPodAddress(std::string_view node,
                                               std::string_view uid) override {
    return fake_.AssignPodAddress(node, uid);
  }
  void ReleasePodAddress(std::string_view node, std::string_view uid) override {
    fake_.ReleasePodAddress(node, uid);
  }
  absl::Status SyncService(const network::ServiceRule& rule) override {
    return SyncServices({.synced = {rule}});
  }
  absl::Status DeleteService(std::string_view ns, std::string_view name) override {
    return SyncServices({.deleted = {{std::string(ns), std::string(name)}}});
  }
  absl::Status SyncServices(const network::ServiceChanges& changes) override {
    ++batches;
    batch_sizes.push_back(changes.synced.size() + changes.deleted.size());
    for (const network::ServiceRule& rule : changes.synced) {
      if (refuse.contains(rule.name)) return absl::InternalError("refused: " + rule.name);
    }
    return fake_.SyncServices(changes);
  }
  absl::Status SyncAll(const std::vector<network::ServiceRule>& rules) override {
    ++full_syncs;
    return fake_.SyncAll(rules);
  }

  network::FakeNetwork fake_;
  std::set<std::string> refuse;
  int batches = 0;
  int full_syncs = 0;
  std::vector<size_t> batch_sizes;
};

class ServiceProxyBatchTest : public ::testing::Test {
 protected:
  ServiceProxyBatchTest() {
    store_ = store::MemoryStore::Open({.clock = &executor_.clock()}).value();
    client_ = std::make_unique<client::Client>(store_.get(), &api::Scheme::Builtin(),
                                               &executor_.clock());
    informers_ = std::make_unique<client::SharedInformerFactory>(client_.get(), &executor_);
  }
  ~ServiceProxyBatchTest() override {
    proxy_.reset();
    informers_.reset();
  }

  void StartProxy() {
    proxy_ = ServiceProxy::Create({.informers = informers_.get(), .network = &network_,
                                   .executor = &executor_,
                                   .retry_delay = absl::Seconds(1)})
                 .value();
    informers_->Start();
    executor_.RunUntilIdle();
  }

  void CreateService(const std::string& name) {
    v1::Service service;
    service.mutable_metadata()->set_name(name);
    service.mutable_metadata()->set_namespace_("default");
    (*service.mutable_spec()->mutable_selector())["app"] = name;
    v1::ServicePort& port = *service.mutable_spec()->add_ports();
    port.set_port(80);
    port.mutable_target_port()->set_int_val(8080);
    ASSERT_THAT(client_->Create(service).status(), IsOk());
  }

  VirtualExecutor executor_;
  std::unique_ptr<store::MemoryStore> store_;
  std::unique_ptr<client::Client> client_;
  std::unique_ptr<client::SharedInformerFactory> informers_;
  CountingNetwork network_{&executor_.clock()};
  std::unique_ptr<ServiceProxy> proxy_;
};

TEST_F(ServiceProxyBatchTest, StartsWithOneSyncAllThatDropsWhatTheStoreNoLongerHas) {
  CreateService("web");
  network::ServiceRule stale{.ns = "default", .name = "gone", .cluster_ip = "10.96.9.9"};
  ASSERT_THAT(network_.fake_.SyncService(stale), IsOk());  // left from before a restart
  StartProxy();
  EXPECT_EQ(network_.full_syncs, 1);
  EXPECT_EQ(network_.batches, 0);  // the Service's add came before the sync: no call of its own
  EXPECT_TRUE(network_.fake_.Rule("default", "web").has_value());
  EXPECT_FALSE(network_.fake_.Rule("default", "gone").has_value());
}

TEST_F(ServiceProxyBatchTest, ServicesThatChangeTogetherGoInOneCall) {
  StartProxy();
  for (int i = 0; i < 20; ++i) CreateService(fmt::format("svc-{}", i));
  executor_.RunUntilIdle();
  EXPECT_EQ(network_.fake_.service_count(), 20u);
  EXPECT_EQ(network_.batches, 1);
  EXPECT_THAT(network_.batch_sizes, ::testing::ElementsAre(20u));
  ASSERT_THAT(client_->Delete<v1::Service>("default", "svc-3"), IsOk());
  executor_.RunUntilIdle();
  EXPECT_EQ(network_.fake_.service_count(), 19u);
}

TEST_F(ServiceProxyBatchTest, ARefusedServiceHoldsUpNoOtherAndIsTriedAgain) {
  StartProxy();
  network_.refuse = {"bad"};
  CreateService("good");
  CreateService("bad");
  CreateService("fine");
  executor_.RunUntilIdle();
  EXPECT_TRUE(network_.fake_.Rule("default", "good").has_value());
  EXPECT_TRUE(network_.fake_.Rule("default", "fine").has_value());
  EXPECT_FALSE(network_.fake_.Rule("default", "bad").has_value());
  EXPECT_EQ(proxy_->failures(), 1);  // counted Service by Service: "bad" alone

  network_.refuse.clear();
  executor_.AdvanceBy(absl::Seconds(1));  // the retry
  executor_.RunUntilIdle();
  EXPECT_TRUE(network_.fake_.Rule("default", "bad").has_value());
  EXPECT_EQ(proxy_->failures(), 1);
}

}  // namespace
}  // namespace orch::node
