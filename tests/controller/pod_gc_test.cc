#include "orch/controller/pod_gc.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orch/api/v1/core.pb.h"
#include "orch/base/executor.h"
#include "orch/client/informer.h"
#include "orch/store/memory_store.h"
#include "orch/testing/test_cluster.h"
#include "support/status_matchers.h"

namespace orch::controller {
namespace {

namespace v1 = ::orch::api::v1;
using ::orch::testing::IsOk;
using ::orch::testing::StatusIs;
using ::orch::testing::TestCluster;
using ::orch::testing::TestClusterOptions;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class PodGcTest : public ::testing::Test {
 protected:
  void Start(TestClusterOptions options = {}) {
    cluster_ = TestCluster::Start(std::move(options)).value();
  }

  client::Client& client() { return cluster_->client(); }

  v1::Pod MakePod(const std::string& name, const std::string& node) {
    v1::Pod pod;
    pod.mutable_metadata()->set_name(name);
    pod.mutable_metadata()->set_namespace_("default");
    pod.mutable_spec()->set_node_name(node);
    auto* c = pod.mutable_spec()->add_containers();
    c->set_name("main");
    c->set_image("nginx");
    return pod;
  }
  void CreatePod(const std::string& name, const std::string& node = "") {
    ASSERT_THAT(client().Create(MakePod(name, node)), IsOk());
  }
  void SetPhase(const std::string& name, const std::string& phase, const std::string& reason = "") {
    v1::Pod pod = client().Get<v1::Pod>("default", name).value();
    pod.mutable_status()->set_phase(phase);
    pod.mutable_status()->set_reason(reason);
    ASSERT_THAT(client().UpdateStatus(pod), IsOk());
  }
  bool Exists(const std::string& name) { return client().Get<v1::Pod>("default", name).ok(); }
  std::vector<std::string> PodNames() {
    std::vector<std::string> out;
    const auto pods = client().List<v1::Pod>("default").value();
    for (const v1::Pod& p : pods.items) {
      out.push_back(p.metadata().name());
    }
    return out;
  }
  bool Running(const std::string& name) {
    auto pod = client().Get<v1::Pod>("default", name);
    return pod.ok() && pod->status().phase() == "Running";
  }

  std::unique_ptr<TestCluster> cluster_;
};

TEST_F(PodGcTest, PodsOfADeletedNodeAreForceDeletedAfterTheQuarantine) {
  Start();
  CreatePod("a", "node-2");
  CreatePod("b", "node-2");
  CreatePod("keep", "node-0");
  ASSERT_THAT(cluster_->WaitFor([&] { return Running("a") && Running("b") && Running("keep"); },
                                absl::Minutes(1), "pods running"),
              IsOk());
  cluster_->RunFor(absl::Seconds(7));
  const absl::Time deleted = cluster_->Now();
  ORCH_ASSERT_OK(client().Delete<v1::Node>("", "node-2"));

  // Nobody serves the pods any more; they stay until the node has been missing for 40 s.
  cluster_->RunFor(absl::Seconds(39));
  EXPECT_TRUE(Running("a"));
  EXPECT_TRUE(Running("b"));
  ASSERT_THAT(cluster_->WaitFor([&] { return !Exists("a") && !Exists("b"); }, absl::Seconds(30),
                                "the orphans gone"),
              IsOk());
  // Within one gc period of the quarantine's end.
  EXPECT_LT(cluster_->Now() - deleted, absl::Seconds(40) + absl::Seconds(20));
  EXPECT_TRUE(Running("keep"));
}

TEST_F(PodGcTest, ANodeThatAppearsDuringTheQuarantineKeepsItsPods) {
  TestClusterOptions options;
  options.scheduler = false;
  options.node_lifecycle = false;  // node-late never heartbeats; only pod GC matters here
  Start(options);
  CreatePod("early", "node-late");  // bound to a node not registered yet
  cluster_->RunFor(absl::Seconds(30));
  v1::Node node;
  node.mutable_metadata()->set_name("node-late");
  ORCH_ASSERT_OK(client().Create(node).status());
  cluster_->RunFor(absl::Minutes(5));
  EXPECT_TRUE(Exists("early"));

  // Gone for good this time.
  ORCH_ASSERT_OK(client().Delete<v1::Node>("", "node-late"));
  ASSERT_THAT(cluster_->WaitFor([&] { return !Exists("early"); }, absl::Minutes(2), "early gone"),
              IsOk());
}

TEST_F(PodGcTest, TerminatedPodsOverTheThresholdGoOldestFirstEvictedBeforeAll) {
  TestClusterOptions options;
  options.scheduler = false;  // the pods stay unbound: only their phase matters here
  options.pod_gc_options.terminated_pod_gc_threshold = 3;
  Start(options);
  for (const char* name : {"t0", "t1", "t2", "t3", "t4", "t5", "evicted", "pending"}) {
    CreatePod(name);
    cluster_->RunFor(absl::Seconds(1));  // distinct creation times
  }
  for (const char* name : {"t0", "t2", "t4"}) SetPhase(name, "Succeeded");
  for (const char* name : {"t1", "t3", "t5"}) SetPhase(name, "Failed");
  SetPhase("evicted", "Failed", "Evicted");
  cluster_->RunFor(absl::Seconds(21));  // a pass
  // 7 terminated, 3 kept: the evicted one first (though newest), then the oldest three.
  EXPECT_THAT(PodNames(), ElementsAre("pending", "t3", "t4", "t5"));
  cluster_->RunFor(absl::Minutes(2));
  EXPECT_THAT(PodNames(), ElementsAre("pending", "t3", "t4", "t5"));
}

TEST_F(PodGcTest, UnscheduledTerminatingPodsAreForceDeleted) {
  TestClusterOptions options;
  options.scheduler = false;
  Start(options);
  CreatePod("stuck");
  CreatePod("fine");
  // An unbound pod that is terminating with a grace period, as the Kubernetes apiserver
  // can leave one; orch's Client deletes unbound pods at once, so write it raw.
  v1::Pod pod = client().Get<v1::Pod>("default", "stuck").value();
  const int64_t revision = std::stoll(pod.metadata().resource_version());
  pod.mutable_metadata()->clear_resource_version();
  *pod.mutable_metadata()->mutable_deletion_timestamp() = pod.metadata().creation_timestamp();
  pod.mutable_metadata()->mutable_deletion_timestamp()->set_seconds(
      pod.metadata().creation_timestamp().seconds() + 3600);
  pod.mutable_metadata()->set_deletion_grace_period_seconds(3600);
  ORCH_ASSERT_OK(
      cluster_->store().Update("/registry/pods/default/stuck", pod.SerializeAsString(), revision).status());
  cluster_->RunFor(absl::Seconds(1));
  ASSERT_TRUE(client().Get<v1::Pod>("default", "stuck")->metadata().has_deletion_timestamp());

  cluster_->RunFor(absl::Seconds(20));  // a pass
  EXPECT_FALSE(Exists("stuck"));
  EXPECT_TRUE(Exists("fine"));
}

TEST_F(PodGcTest, AnUnscheduledPodHeldByAFinalizerIsMarkedFailed) {
  TestClusterOptions options;
  options.scheduler = false;
  Start(options);
  v1::Pod pod = MakePod("held", "");
  pod.mutable_metadata()->add_finalizers("example.com/hold");
  ORCH_ASSERT_OK(client().Create(pod).status());
  ORCH_ASSERT_OK(client().Delete<v1::Pod>("default", "held"));
  cluster_->RunFor(absl::Seconds(21));
  auto held = client().Get<v1::Pod>("default", "held");
  ASSERT_TRUE(held.ok());  // the finalizer holds it
  EXPECT_EQ(held->status().phase(), "Failed");
  held->mutable_metadata()->clear_finalizers();
  ORCH_ASSERT_OK(client().Update(*held).status());
  EXPECT_FALSE(Exists("held"));
}

TEST_F(PodGcTest, TerminatingPodsOnAnOutOfServiceNodeAreForceDeleted) {
  Start();
  CreatePod("a", "node-1");
  CreatePod("b", "node-1");
  ASSERT_THAT(cluster_->WaitFor([&] { return Running("a") && Running("b"); }, absl::Minutes(1),
                                "pods running"),
              IsOk());
  ORCH_ASSERT_OK(cluster_->FailNode("node-1"));
  ASSERT_THAT(cluster_->WaitFor(
                  [&] {
                    auto node = client().Get<v1::Node>("", "node-1").value();
                    for (const auto& c : node.status().conditions()) {
                      if (c.type() == "Ready") return c.status() == "Unknown";
                    }
                    return false;
                  },
                  absl::Minutes(1), "node-1 Unknown"),
              IsOk());
  ORCH_ASSERT_OK(client().Delete<v1::Pod>("default", "a"));
  cluster_->RunFor(absl::Minutes(1));
  // A silent node never finishes a graceful delete.
  ASSERT_TRUE(Exists("a"));

  // The operator says the node is down for good (kubectl taint ... out-of-service).
  v1::Node node = client().Get<v1::Node>("", "node-1").value();
  v1::Taint* taint = node.mutable_spec()->add_taints();
  taint->set_key("node.kubernetes.io/out-of-service");
  taint->set_value("nodeshutdown");
  taint->set_effect("NoExecute");
  ORCH_ASSERT_OK(client().Update(node).status());
  // b is evicted by the taint (gracefully); pod GC then force-deletes both.
  ASSERT_THAT(cluster_->WaitFor([&] { return !Exists("a") && !Exists("b"); }, absl::Seconds(45),
                                "both gone"),
              IsOk());
}

// A store whose Node watch can be held back: a node informer that lags the store.
class LaggingNodesStore : public store::StoreWrapper {
 public:
  using StoreWrapper::StoreWrapper;
  absl::StatusOr<std::unique_ptr<store::Watcher>> Watch(std::string_view prefix,
                                                        const store::WatchOptions& options) override {
    ORCH_ASSIGN_OR_RETURN(auto inner, StoreWrapper::Watch(prefix, options));
    if (prefix != "/registry/nodes/") return inner;
    return std::unique_ptr<store::Watcher>(new Held(std::move(inner), &hold_nodes));
  }
  bool hold_nodes = false;

 private:
  class Held : public store::Watcher {
   public:
    Held(std::unique_ptr<store::Watcher> inner, const bool* hold)
        : inner_(std::move(inner)), hold_(hold) {}
    absl::Status Poll(std::vector<store::EventPtr>* events, size_t max) override {
      return *hold_ ? absl::OkStatus() : inner_->Poll(events, max);
    }
    bool Wait(absl::Duration timeout) override { return inner_->Wait(timeout); }
    void SetReadyCallback(std::function<void()> callback) override {
      inner_->SetReadyCallback(std::move(callback));
    }
    int64_t revision() const override { return inner_->revision(); }

   private:
    std::unique_ptr<store::Watcher> inner_;
    const bool* hold_;
  };
};

TEST(PodGcLiveReadTest, ANodeTheCacheHasNotSeenIsConfirmedWithALiveRead) {
  VirtualExecutor executor;
  store::MemoryStoreOptions store_options;
  store_options.clock = &executor.clock();
  auto memory = store::MemoryStore::Open(store_options).value();
  LaggingNodesStore store(memory.get());
  client::Client client(&store, &api::Scheme::Builtin(), &executor.clock());
  client::SharedInformerFactory informers(&client, &executor);
  auto manager =
      Manager::Create({.client = &client, .informers = &informers, .executor = &executor}).value();
  ORCH_ASSERT_OK(AddPodGcController(manager.get()).status());
  ORCH_ASSERT_OK(manager->Start());
  executor.RunUntilIdle();

  store.hold_nodes = true;  // the node informer will not see n1
  v1::Node node;
  node.mutable_metadata()->set_name("n1");
  ORCH_ASSERT_OK(client.Create(node).status());
  v1::Pod pod;
  pod.mutable_metadata()->set_name("p");
  pod.mutable_spec()->set_node_name("n1");
  pod.mutable_spec()->add_containers()->set_name("main");
  pod.mutable_spec()->mutable_containers(0)->set_image("nginx");
  ORCH_ASSERT_OK(client.Create(pod).status());
  executor.AdvanceBy(absl::Minutes(3));
  EXPECT_TRUE(client.Get<v1::Pod>("default", "p").ok());  // the store knows n1

  ORCH_ASSERT_OK(client.Delete<v1::Node>("", "n1"));
  executor.AdvanceBy(absl::Seconds(61));
  EXPECT_FALSE(client.Get<v1::Pod>("default", "p").ok());
  manager->Stop();
  informers.Shutdown();
}

TEST_F(PodGcTest, BadOptionsAreRejected) {
  Start();
  PodGcOptions options;
  options.gc_period = absl::ZeroDuration();
  EXPECT_THAT(AddPodGcController(&cluster_->manager(), options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("gc_period")));
}

}  // namespace
}  // namespace orch::controller
