// The Scheduler end to end: a MemoryStore, the typed client, shared informers and the
// scheduler on one virtual executor. Pods are created in the store and must come back
// bound, or with Kubernetes' condition, message and Events when they cannot be.
#include "orch/scheduler/scheduler.h"

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orch/api/scheme.h"
#include "orch/api/v1/core.pb.h"
#include "orch/base/executor.h"
#include "orch/client/client.h"
#include "orch/client/informer.h"
#include "orch/store/memory_store.h"
#include "scheduler/test_objects.h"
#include "support/status_matchers.h"

namespace orch::scheduler {
namespace {

using ::testing::HasSubstr;
using testing::MakeNode;
using testing::MakePod;

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::MemoryStoreOptions store_options;
    store_options.clock = &executor_.clock();
    store_ = store::MemoryStore::Open(store_options).value();
    client_ = std::make_unique<client::Client>(store_.get(), &api::Scheme::Builtin(),
                                               &executor_.clock());
    informers_ = std::make_unique<client::SharedInformerFactory>(client_.get(), &executor_);
    SchedulerOptions options;
    options.client = client_.get();
    options.informers = informers_.get();
    options.executor = &executor_;
    ORCH_ASSERT_OK_AND_ASSIGN(scheduler_, Scheduler::Create(std::move(options)));
    ASSERT_THAT(scheduler_->Start(), ::orch::testing::IsOk());
    informers_->Start();
    executor_.RunUntilIdle();
  }
  void TearDown() override {
    scheduler_.reset();
    informers_.reset();
  }

  void AddNode(const std::string& name, const std::string& cpu) {
    ASSERT_TRUE(client_
                    ->Create(MakeNode(name)
                                 .Capacity({{"cpu", cpu}, {"memory", "16Gi"}, {"pods", "110"}})
                                 .Label("kubernetes.io/hostname", name)
                                 .Obj())
                    .ok());
  }
  // The builder's pod as a user would create it: the store assigns the uid.
  void AddPod(testing::PodBuilder builder) {
    api::v1::Pod pod = builder.Obj();
    pod.mutable_metadata()->clear_uid();
    if (pod.spec().containers().empty()) {
      pod.mutable_spec()->add_containers()->set_name("c0");
    }
    for (auto& c : *pod.mutable_spec()->mutable_containers()) c.set_image("registry.example/app:v1");
    absl::StatusOr<api::v1::Pod> created = client_->Create(pod);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
  }
  api::v1::Pod Get(const std::string& name) {
    return client_->Get<api::v1::Pod>("default", name).value();
  }
  std::vector<std::string> EventsFor(const std::string& pod, const std::string& reason) {
    std::vector<std::string> messages;
    const auto events = client_->List<api::v1::Event>("default").value();
    for (const api::v1::Event& e : events.items) {
      if (e.involved_object().name() == pod && e.reason() == reason) messages.push_back(e.message());
    }
    return messages;
  }
  const api::v1::PodCondition* Condition(const api::v1::Pod& pod, const std::string& type) {
    for (const auto& c : pod.status().conditions()) {
      if (c.type() == type) return &c;
    }
    return nullptr;
  }

  VirtualExecutor executor_;
  std::unique_ptr<store::MemoryStore> store_;
  std::unique_ptr<client::Client> client_;
  std::unique_ptr<client::SharedInformerFactory> informers_;
  std::unique_ptr<Scheduler> scheduler_;
};

TEST_F(SchedulerTest, BindsPendingPodsThroughTheStoreAndSaysSo) {
  AddNode("node-a", "4");
  AddNode("node-b", "4");
  for (int i = 0; i < 6; ++i) AddPod(MakePod("web-" + std::to_string(i)).Req({{"cpu", "1"}}));
  executor_.RunUntilIdle();

  int on_a = 0;
  for (int i = 0; i < 6; ++i) {
    const api::v1::Pod pod = Get("web-" + std::to_string(i));
    ASSERT_FALSE(pod.spec().node_name().empty()) << pod.metadata().name();
    on_a += pod.spec().node_name() == "node-a";
    EXPECT_THAT(EventsFor(pod.metadata().name(), "Scheduled"),
                ::testing::ElementsAre("Successfully assigned default/" + pod.metadata().name() +
                                       " to " + pod.spec().node_name()));
  }
  EXPECT_EQ(on_a, 3);  // LeastAllocated balances two equal nodes
  const SchedulerStats stats = scheduler_->stats();
  EXPECT_EQ(stats.scheduled, 6);
  EXPECT_EQ(stats.pending, 0);
}

TEST_F(SchedulerTest, UnschedulablePodIsToldWhyAndPlacedWhenANodeArrives) {
  AddNode("small", "1");
  AddPod(MakePod("big").Req({{"cpu", "3"}}));
  executor_.RunUntilIdle();

  api::v1::Pod pod = Get("big");
  EXPECT_EQ(pod.spec().node_name(), "");
  const api::v1::PodCondition* scheduled = Condition(pod, "PodScheduled");
  ASSERT_NE(scheduled, nullptr);
  EXPECT_EQ(scheduled->status(), "False");
  EXPECT_EQ(scheduled->reason(), "Unschedulable");
  EXPECT_THAT(scheduled->message(), ::testing::StartsWith(
                                        "0/1 nodes are available: 1 Insufficient cpu."));
  EXPECT_THAT(EventsFor("big", "FailedScheduling"),
              ::testing::ElementsAre(scheduled->message()));
  EXPECT_EQ(scheduler_->stats().pending, 1);

  AddNode("large", "8");  // a node event: the pod leaves unschedulablePods
  executor_.RunUntilIdle();
  executor_.AdvanceBy(absl::Seconds(2));  // past its 1 s backoff
  executor_.RunUntilIdle();
  EXPECT_EQ(Get("big").spec().node_name(), "large");
}

TEST_F(SchedulerTest, PodsOfAnotherSchedulerAreLeftAlone) {
  AddNode("node-a", "4");
  AddPod(MakePod("theirs").SchedulerName("other-scheduler"));
  executor_.RunUntilIdle();
  const api::v1::Pod pod = Get("theirs");
  EXPECT_EQ(pod.spec().node_name(), "");
  EXPECT_EQ(Condition(pod, "PodScheduled"), nullptr);
  EXPECT_EQ(scheduler_->stats().attempts, 0);
}

TEST_F(SchedulerTest, HigherPriorityPodPreemptsTheLeastImportantVictims) {
  AddNode("node-a", "2");
  AddPod(MakePod("low-1").Req({{"cpu", "1"}}).Priority(1));
  AddPod(MakePod("low-2").Req({{"cpu", "1"}}).Priority(5));
  executor_.RunUntilIdle();
  ASSERT_EQ(Get("low-1").spec().node_name(), "node-a");
  ASSERT_EQ(Get("low-2").spec().node_name(), "node-a");

  AddPod(MakePod("high").Req({{"cpu", "1"}}).Priority(100));
  executor_.RunUntilIdle();
  // One cpu is enough: only the lower of the two goes, gracefully (it is marked deleted
  // and stays until it has stopped).
  EXPECT_TRUE(Get("low-1").metadata().has_deletion_timestamp());
  EXPECT_FALSE(Get("low-2").metadata().has_deletion_timestamp());
  EXPECT_THAT(EventsFor("low-1", "Preempted"), ::testing::ElementsAre(HasSubstr("on node node-a")));
  EXPECT_EQ(Get("high").status().nominated_node_name(), "node-a");
  EXPECT_EQ(Get("high").spec().node_name(), "");
  EXPECT_EQ(scheduler_->stats().preemptions, 1);

  // The victim stops (as its node agent would report): the preemptor takes its place.
  client::DeleteOptions now;
  now.grace_period_seconds = 0;
  ASSERT_TRUE(client_->Delete<api::v1::Pod>("default", "low-1", now).ok());
  executor_.RunUntilIdle();
  executor_.AdvanceBy(absl::Seconds(2));
  executor_.RunUntilIdle();
  EXPECT_EQ(Get("high").spec().node_name(), "node-a");
}

TEST_F(SchedulerTest, RoomFreedForANominatedPodIsNotTakenByALowerPriorityPod) {
  AddNode("node-a", "2");
  AddPod(MakePod("low-1").Req({{"cpu", "1"}}).Priority(1));
  AddPod(MakePod("low-2").Req({{"cpu", "1"}}).Priority(5));
  executor_.RunUntilIdle();
  AddPod(MakePod("high").Req({{"cpu", "1"}}).Priority(100));
  executor_.RunUntilIdle();
  ASSERT_EQ(Get("high").status().nominated_node_name(), "node-a");

  // The victim is gone while the preemptor waits out its backoff; a pod of lower priority
  // than the preemptor arrives and must not take the freed cpu.
  client::DeleteOptions now;
  now.grace_period_seconds = 0;
  ASSERT_TRUE(client_->Delete<api::v1::Pod>("default", "low-1", now).ok());
  AddPod(MakePod("late").Req({{"cpu", "1"}}).Priority(0));
  executor_.RunUntilIdle();
  EXPECT_EQ(Get("late").spec().node_name(), "");
  EXPECT_THAT(Condition(Get("late"), "PodScheduled")->message(),
              ::testing::StartsWith("0/1 nodes are available: 1 Insufficient cpu."));

  executor_.AdvanceBy(absl::Seconds(2));
  executor_.RunUntilIdle();
  EXPECT_EQ(Get("high").spec().node_name(), "node-a");
  EXPECT_EQ(Get("late").spec().node_name(), "");
}

TEST_F(SchedulerTest, PreemptionPolicyNeverWaitsInsteadOfEvicting) {
  AddNode("node-a", "1");
  AddPod(MakePod("low").Req({{"cpu", "1"}}).Priority(1));
  executor_.RunUntilIdle();
  AddPod(MakePod("polite").Req({{"cpu", "1"}}).Priority(100).SpecYaml("preemptionPolicy: Never"));
  executor_.RunUntilIdle();
  EXPECT_FALSE(Get("low").metadata().has_deletion_timestamp());
  EXPECT_THAT(Condition(Get("polite"), "PodScheduled")->message(),
              HasSubstr("preemption: not eligible due to preemptionPolicy=Never."));
}

TEST(SchedulerCreateTest, RefusesMissingDependencies) {
  EXPECT_THAT(Scheduler::Create(SchedulerOptions{}),
              ::orch::testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                        HasSubstr("client, informers and executor")));
}

}  // namespace
}  // namespace orch::scheduler
