// A Manager with leader election: two instances of an operator share a store; only the
// leader reconciles, and when it loses the lease it stops before the other takes over.
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orch/api/v1/apps.pb.h"
#include "orch/base/executor.h"
#include "orch/controller/controller.h"
#include "orch/store/memory_store.h"
#include "support/status_matchers.h"

namespace orch::controller {
namespace {

namespace v1 = ::orch::api::v1;

// Fails writes of Leases while `cut` is set: an instance that can no longer renew.
class LeaseCutStore : public store::StoreWrapper {
 public:
  using StoreWrapper::StoreWrapper;
  absl::StatusOr<int64_t> Update(std::string_view key, store::SharedBytes value, int64_t expected,
                                 store::LeaseId lease) override {
    if (cut && key.rfind("/registry/leases/", 0) == 0) return absl::UnavailableError("cut off");
    return StoreWrapper::Update(key, value, expected, lease);
  }
  bool cut = false;
};

v1::ReplicaSet MakeReplicaSet(const std::string& name) {
  v1::ReplicaSet rs;
  rs.mutable_metadata()->set_name(name);
  rs.mutable_spec()->set_replicas(0);
  (*rs.mutable_spec()->mutable_selector()->mutable_match_labels())["app"] = name;
  auto* tmpl = rs.mutable_spec()->mutable_template_();
  (*tmpl->mutable_metadata()->mutable_labels())["app"] = name;
  auto* c = tmpl->mutable_spec()->add_containers();
  c->set_name("main");
  c->set_image("busybox");
  return rs;
}

struct Instance {
  std::unique_ptr<LeaseCutStore> store;
  std::unique_ptr<client::Client> client;
  std::unique_ptr<client::SharedInformerFactory> informers;
  std::unique_ptr<Manager> manager;
  std::unique_ptr<FuncReconciler> reconciler;
  std::vector<absl::Time> reconciled;  // when this instance reconciled
  bool stopped_leading = false;
};

class ManagerLeaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::MemoryStoreOptions options;
    options.clock = &executor_.clock();
    memory_ = store::MemoryStore::Open(options).value();
  }
  void TearDown() override {
    for (auto& i : instances_) {
      i->manager.reset();
      i->informers.reset();
    }
  }

  Instance& Make(const std::string& identity) {
    auto i = std::make_unique<Instance>();
    Instance* raw = i.get();
    i->store = std::make_unique<LeaseCutStore>(memory_.get());
    i->client = std::make_unique<client::Client>(i->store.get(), &api::Scheme::Builtin(),
                                                 &executor_.clock(), instances_.size() + 1);
    i->informers = std::make_unique<client::SharedInformerFactory>(i->client.get(), &executor_);
    ManagerOptions options{.client = i->client.get(), .informers = i->informers.get(),
                           .executor = &executor_};
    options.leader_election = LeaderElectionConfig{
        .lease_name = "operator",
        .identity = identity,
        .on_stopped_leading = [raw] { raw->stopped_leading = true; },
    };
    i->manager = Manager::Create(std::move(options)).value();
    i->reconciler = std::make_unique<FuncReconciler>([this, raw](const Request&) -> Result {
      raw->reconciled.push_back(executor_.clock().Now());
      return {};
    });
    EXPECT_TRUE(Builder<v1::ReplicaSet>(i->manager.get()).Complete(i->reconciler.get()).ok());
    instances_.push_back(std::move(i));
    return *raw;
  }

  VirtualExecutor executor_;
  std::unique_ptr<store::MemoryStore> memory_;
  std::vector<std::unique_ptr<Instance>> instances_;
};

TEST_F(ManagerLeaderTest, OnlyTheLeaderReconcilesAndItStopsBeforeTheOtherTakesOver) {
  Instance& a = Make("a");
  Instance& b = Make("b");
  ORCH_ASSERT_OK(a.manager->Start());
  executor_.RunUntilIdle();
  ORCH_ASSERT_OK(b.manager->Start());
  executor_.RunUntilIdle();
  EXPECT_TRUE(a.manager->IsLeader());
  EXPECT_FALSE(b.manager->IsLeader());

  ORCH_ASSERT_OK(a.client->Create(MakeReplicaSet("x")).status());
  executor_.RunUntilIdle();
  EXPECT_EQ(a.reconciled.size(), 1u);
  EXPECT_TRUE(b.reconciled.empty());

  // A can no longer renew. Keep changing things, a second at a time.
  a.store->cut = true;
  const absl::Time cut_at = executor_.clock().Now();
  absl::Time a_lost;
  for (int s = 0; s < 40; ++s) {
    v1::ReplicaSet rs = a.client->Get<v1::ReplicaSet>("default", "x").value();
    rs.mutable_spec()->set_replicas(s % 3);
    ORCH_ASSERT_OK(b.client->Update(rs).status());
    executor_.AdvanceBy(absl::Seconds(1));
    if (a_lost == absl::Time() && !a.manager->IsLeader()) a_lost = executor_.clock().Now();
    ASSERT_FALSE(a.manager->IsLeader() && b.manager->IsLeader()) << "two leaders at " << s << "s";
  }
  ASSERT_NE(a_lost, absl::Time());
  EXPECT_LE(a_lost - cut_at, absl::Seconds(11));  // renew_deadline (10 s), checked each second
  EXPECT_TRUE(a.stopped_leading);
  EXPECT_TRUE(b.manager->IsLeader());
  ASSERT_FALSE(b.reconciled.empty());
  // Every reconcile by A happened before B's first.
  EXPECT_LT(a.reconciled.back(), b.reconciled.front());
  // A stopped for good: more changes reach only B.
  const size_t a_count = a.reconciled.size();
  ORCH_ASSERT_OK(b.client->Create(MakeReplicaSet("y")).status());
  executor_.AdvanceBy(absl::Seconds(5));
  EXPECT_EQ(a.reconciled.size(), a_count);
  EXPECT_THAT(a.manager->Start(), orch::testing::StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(ManagerLeaderTest, StoppingTheLeaderHandsOverAtOnce) {
  Instance& a = Make("a");
  Instance& b = Make("b");
  ORCH_ASSERT_OK(a.manager->Start());
  executor_.RunUntilIdle();
  ORCH_ASSERT_OK(b.manager->Start());
  ORCH_ASSERT_OK(a.client->Create(MakeReplicaSet("x")).status());
  executor_.RunUntilIdle();
  a.manager->Stop();  // releases the lease
  const absl::Time stopped = executor_.clock().Now();
  while (!b.manager->IsLeader() && executor_.clock().Now() - stopped < absl::Minutes(1)) {
    executor_.AdvanceBy(absl::Milliseconds(500));
  }
  EXPECT_TRUE(b.manager->IsLeader());
  EXPECT_LT(executor_.clock().Now() - stopped, absl::Seconds(15));  // not a whole lease_duration
  EXPECT_FALSE(b.reconciled.empty());  // B reconciles everything once it leads
}

}  // namespace
}  // namespace orch::controller
