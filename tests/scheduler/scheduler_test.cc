// The Scheduler end to end: a MemoryStore, the typed client, shared informers and the
// scheduler on one virtual executor. Pods are created in the store and must come back
// bound, or with Kubernetes' condition, message and Events when they cannot be.
#include "orch/scheduler/scheduler.h"

#include <memory>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orch/api/v1/core.pb.h"
#include "orch/client/client.h"
#include "orch/client/informer.h"
#include "scheduler/scheduler_fixture.h"
#include "scheduler/test_objects.h"
#include "support/status_matchers.h"

namespace orch::scheduler {
namespace {

using ::testing::HasSubstr;
using testing::MakePod;

using SchedulerTest = testing::SchedulerFixture;

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

// node-a (2 cpu) holds low-1 (priority 1) and low-2 (priority 5), one cpu each.
class PreemptionTest : public SchedulerTest {
 protected:
  void FillNodeA() {
    AddNode("node-a", "2");
    AddPod(MakePod("low-1").Req({{"cpu", "1"}}).Priority(1));
    AddPod(MakePod("low-2").Req({{"cpu", "1"}}).Priority(5));
    executor_.RunUntilIdle();
  }
  // FillNodeA, then "high" (priority 100, one cpu) preempts low-1 and is nominated.
  void NominateHighOnNodeA() {
    FillNodeA();
    AddPod(MakePod("high").Req({{"cpu", "1"}}).Priority(100));
    executor_.RunUntilIdle();
    ASSERT_EQ(Get("high").status().nominated_node_name(), "node-a");
  }
  // The pod stops at once (as its node agent would report it).
  void DeleteNow(const std::string& name) {
    client::DeleteOptions now;
    now.grace_period_seconds = 0;
    ASSERT_TRUE(client_->Delete<api::v1::Pod>("default", name, now).ok());
  }
};

TEST_F(PreemptionTest, HigherPriorityPodPreemptsTheLeastImportantVictims) {
  FillNodeA();
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
  DeleteNow("low-1");
  executor_.RunUntilIdle();
  executor_.AdvanceBy(absl::Seconds(2));
  executor_.RunUntilIdle();
  EXPECT_EQ(Get("high").spec().node_name(), "node-a");
}

TEST_F(PreemptionTest, RoomFreedForANominatedPodIsNotTakenByALowerPriorityPod) {
  NominateHighOnNodeA();
  if (HasFatalFailure()) return;

  // The victim is gone while the preemptor waits out its backoff; a pod of lower priority
  // than the preemptor arrives and must not take the freed cpu.
  DeleteNow("low-1");
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

TEST_F(PreemptionTest, NominationsHoldOnlyAgainstLowerPriorityPods) {
  NominateHighOnNodeA();
  if (HasFatalFailure()) return;
  DeleteNow("low-1");
  AddNode("node-b", "2");
  AddPod(MakePod("filler").Req({{"cpu", "1500m"}}).Priority(1000));
  executor_.RunUntilIdle();
  ASSERT_EQ(Get("filler").spec().node_name(), "node-b");

  // A pod above the preemptor's priority sees node-a without the nomination, as feasible
  // as node-b, and scores it higher (less of it would be used).
  AddPod(MakePod("vip").Req({{"cpu", "500m"}}).Priority(200));
  executor_.RunUntilIdle();
  EXPECT_EQ(Get("vip").spec().node_name(), "node-a");
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

// ---------------------------------------------------------------------------------------
// A configuration built in code is held to LoadConfig's rules, with its messages.

// A QueueSort plugin that says which instance sorted: instances are numbered as they are
// made, and every Less call appends its instance's number to `*calls`.
class TaggedSort final : public QueueSortPlugin {
 public:
  TaggedSort(int id, std::vector<int>* calls) : id_(id), calls_(calls) {}
  std::string_view Name() const override { return "TaggedSort"; }
  bool Less(const QueuedPodInfo& a, const QueuedPodInfo& b) const override {
    calls_->push_back(id_);
    return a.pod->name() < b.pod->name();
  }

 private:
  const int id_;
  std::vector<int>* const calls_;
};

PluginFactory TaggedSortFactory(std::vector<int>* calls) {
  auto made = std::make_shared<int>(0);
  return [calls, made](const PluginArgs&, Handle&) -> absl::StatusOr<std::unique_ptr<Plugin>> {
    return std::make_unique<TaggedSort>((*made)++, calls);
  };
}

void UseTaggedSort(v1::KubeSchedulerProfile& profile) {
  v1::PluginSet& sort = *profile.mutable_plugins()->mutable_queue_sort();
  sort.add_disabled()->set_name("*");
  sort.add_enabled()->set_name("TaggedSort");
}

// Creates schedulers itself, from configurations built in code.
class SchedulerCreateConfigTest : public testing::SchedulerFixture {
 protected:
  SchedulerCreateConfigTest() {
    EXPECT_THAT(registry_.Register("TaggedSort", TaggedSortFactory(&sort_calls_)),
                ::orch::testing::IsOk());
  }
  void SetUp() override {}

  // A configuration as a host builds it in code: no apiVersion, kind or defaults.
  absl::StatusOr<std::unique_ptr<Scheduler>> Create(v1::KubeSchedulerConfiguration config) {
    SchedulerOptions options = Options();
    options.config = std::move(config);
    options.config_source = "sched";
    options.registry = registry_;
    return Scheduler::Create(std::move(options));
  }
  static v1::KubeSchedulerConfiguration Named(std::vector<std::string> names) {
    v1::KubeSchedulerConfiguration config;
    for (const std::string& name : names) config.add_profiles()->set_scheduler_name(name);
    return config;
  }

  Registry registry_ = Registry::InTree();
  std::vector<int> sort_calls_;
};

using ::orch::testing::StatusIs;
using ::testing::Eq;
constexpr absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;

TEST_F(SchedulerCreateConfigTest, AcceptsAConfigurationBuiltInCode) {
  EXPECT_THAT(Create(v1::KubeSchedulerConfiguration()), ::orch::testing::IsOk());
  EXPECT_THAT(Create(Named({"a", "b"})), ::orch::testing::IsOk());
}

TEST_F(SchedulerCreateConfigTest, RefusesDuplicateSchedulerNames) {
  EXPECT_THAT(Create(Named({"x", "y", "x"})),
              StatusIs(kInvalid, Eq("sched: profiles[2].schedulerName: duplicate value \"x\" "
                                    "(also profiles[0].schedulerName)")));
  // Only a lone profile is named default-scheduler for you.
  EXPECT_THAT(Create(Named({"", ""})),
              StatusIs(kInvalid, Eq("sched: profiles[0].schedulerName: required")));
}

TEST_F(SchedulerCreateConfigTest, RefusesWeightsOutOfKubernetesBounds) {
  v1::KubeSchedulerConfiguration config = Named({"x"});
  v1::Plugin& plugin =
      *config.mutable_profiles(0)->mutable_plugins()->mutable_score()->add_enabled();
  plugin.set_name("ImageLocality");
  plugin.set_weight(101);
  EXPECT_THAT(Create(config),
              StatusIs(kInvalid, Eq("sched: profiles[0].plugins.score.enabled[0].weight: "
                                    "invalid value 101: must be in the range [1-100]")));
  plugin.set_weight(0);
  EXPECT_THAT(Create(config), StatusIs(kInvalid, HasSubstr("invalid value 0")));
}

TEST_F(SchedulerCreateConfigTest, RefusesBadBackoff) {
  v1::KubeSchedulerConfiguration config;
  config.set_pod_initial_backoff_seconds(0);
  EXPECT_THAT(Create(config), StatusIs(kInvalid, Eq("sched: podInitialBackoffSeconds: invalid "
                                                    "value 0: must be greater than 0")));
  config.set_pod_initial_backoff_seconds(20);
  config.set_pod_max_backoff_seconds(5);
  EXPECT_THAT(Create(config),
              StatusIs(kInvalid, Eq("sched: podMaxBackoffSeconds: invalid value 5: must be "
                                    "greater than or equal to podInitialBackoffSeconds")));
}

TEST_F(SchedulerCreateConfigTest, RefusesProfilesThatSortTheQueueDifferently) {
  v1::KubeSchedulerConfiguration config = Named({"a", "b"});
  UseTaggedSort(*config.mutable_profiles(1));
  EXPECT_THAT(Create(config), StatusIs(kInvalid, Eq("sched: profiles[1].plugins.queueSort: "
                                                    "must be the same for all profiles")));
}

TEST_F(SchedulerCreateConfigTest, QueueSortsWithTheFirstProfilesPlugin) {
  // Many profiles, so that no hash order happens to put profiles[0] first.
  std::vector<std::string> names;
  for (int i = 0; i < 12; ++i) names.push_back(fmt::format("profile-{}", i));
  v1::KubeSchedulerConfiguration config = Named(names);
  for (v1::KubeSchedulerProfile& profile : *config.mutable_profiles()) UseTaggedSort(profile);
  ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Scheduler> scheduler, Create(config));
  ASSERT_THAT(scheduler->Start(), ::orch::testing::IsOk());
  informers_->Start();
  executor_.RunUntilIdle();
  // Pods that fit nowhere wait together in the queue, which sorts them.
  for (int i = 0; i < 4; ++i) {
    ASSERT_NO_FATAL_FAILURE(AddPod(MakePod(fmt::format("p{}", i)).SchedulerName(names[i * 3])));
  }
  executor_.RunUntilIdle();
  ASSERT_FALSE(sort_calls_.empty());
  // Instance 0 is profiles[0]'s: profiles are made in their order.
  EXPECT_THAT(sort_calls_, ::testing::Each(0));
  scheduler.reset();
}

// ---------------------------------------------------------------------------------------
// Events report as the pod's profile.

class SchedulerProfileEventsTest : public SchedulerTest {
 protected:
  void Configure(SchedulerOptions& options) override {
    options.config = v1::KubeSchedulerConfiguration();
    options.config.add_profiles()->set_scheduler_name("default-scheduler");
    options.config.add_profiles()->set_scheduler_name("gpu-scheduler");
  }
  static void ExpectReportedBy(const std::vector<api::v1::Event>& events,
                               const std::string& component) {
    ASSERT_FALSE(events.empty());
    for (const api::v1::Event& event : events) {
      EXPECT_EQ(event.source().component(), component) << event.reason();
      EXPECT_EQ(event.reporting_component(), component) << event.reason();
    }
  }
};

TEST_F(SchedulerProfileEventsTest, EventsNameTheProfileThatScheduledThePod) {
  AddNode("node-a", "2");
  AddPod(MakePod("low").Req({{"cpu", "2"}}).Priority(1).SchedulerName("gpu-scheduler"));
  AddPod(MakePod("plain").SchedulerName("default-scheduler"));
  executor_.RunUntilIdle();
  ASSERT_EQ(Get("low").spec().node_name(), "node-a");
  ExpectReportedBy(Events("low", "Scheduled"), "gpu-scheduler");
  ExpectReportedBy(Events("plain", "Scheduled"), "default-scheduler");

  AddPod(MakePod("high").Req({{"cpu", "2"}}).Priority(100).SchedulerName("gpu-scheduler"));
  AddPod(MakePod("huge").Req({{"cpu", "64"}}).SchedulerName("gpu-scheduler"));
  executor_.RunUntilIdle();
  ExpectReportedBy(Events("huge", "FailedScheduling"), "gpu-scheduler");
  ExpectReportedBy(Events("high", "FailedScheduling"), "gpu-scheduler");
  ExpectReportedBy(Events("low", "Preempted"), "gpu-scheduler");  // by high's profile
}

// ---------------------------------------------------------------------------------------
// A Reserve plugin that rejects makes the pod unschedulable, not an error.

// Rejects every pod while closed; a node added may open it (it registers that event).
class Ledger final : public ReservePlugin, public EnqueueExtensions {
 public:
  explicit Ledger(const bool* open, int* unreserved) : open_(open), unreserved_(unreserved) {}
  std::string_view Name() const override { return "Ledger"; }
  Status Reserve(CycleState&, const PodInfo&, const std::string&) override {
    return *open_ ? Status() : Status::Unschedulable("ledger is closed");
  }
  void Unreserve(CycleState&, const PodInfo&, const std::string&) override { ++*unreserved_; }
  std::vector<ClusterEvent> EventsToRegister() const override {
    return {{EventResource::kNode, kAdd}};
  }

 private:
  const bool* const open_;
  int* const unreserved_;
};

class SchedulerReserveTest : public SchedulerTest {
 protected:
  void Configure(SchedulerOptions& options) override {
    ASSERT_THAT(options.registry.Register(
                    "Ledger",
                    [this](const PluginArgs&, Handle&) -> absl::StatusOr<std::unique_ptr<Plugin>> {
                      return std::make_unique<Ledger>(&open_, &unreserved_);
                    }),
                ::orch::testing::IsOk());
    options.config.mutable_profiles(0)->mutable_plugins()->mutable_reserve()->add_enabled()
        ->set_name("Ledger");
  }
  bool open_ = false;
  int unreserved_ = 0;
};

TEST_F(SchedulerReserveTest, RejectingReserveMakesThePodUnschedulableUntilItsEvent) {
  AddNode("node-a", "4");
  AddNode("node-b", "4");
  AddPod(MakePod("web").Req({{"cpu", "1"}}));
  executor_.RunUntilIdle();

  api::v1::Pod pod = Get("web");
  EXPECT_EQ(pod.spec().node_name(), "");
  const api::v1::PodCondition* scheduled = Condition(pod, "PodScheduled");
  ASSERT_NE(scheduled, nullptr);
  EXPECT_EQ(scheduled->reason(), "Unschedulable");
  // Kubernetes' FitError over the one node Reserve ran on.
  EXPECT_EQ(scheduled->message(), "0/1 nodes are available: 1 ledger is closed.");
  EXPECT_THAT(EventsFor("web", "FailedScheduling"), ::testing::ElementsAre(scheduled->message()));
  EXPECT_EQ(unreserved_, 1);
  EXPECT_EQ(scheduler_->stats().unschedulable, 1);
  EXPECT_EQ(scheduler_->stats().errors, 0);

  // It waits for the Ledger's event, not for a backoff.
  open_ = true;
  executor_.AdvanceBy(absl::Seconds(15));
  executor_.RunUntilIdle();
  EXPECT_EQ(Get("web").spec().node_name(), "");
  AddNode("node-c", "4");
  executor_.RunUntilIdle();
  executor_.AdvanceBy(absl::Seconds(2));
  executor_.RunUntilIdle();
  EXPECT_FALSE(Get("web").spec().node_name().empty());
  EXPECT_EQ(scheduler_->stats().scheduled, 1);
}


// ---------------------------------------------------------------------------------------
// Permit with Wait holds a reserved pod until a plugin allows or rejects it, or its
// timeout passes; PreBind runs before the bind and can fail it; PostBind runs after it.

// Holds every pod at Permit for 10 s; fails PreBind for pods named in `refuse`.
class Gate final : public PermitPlugin, public PreBindPlugin, public PostBindPlugin {
 public:
  struct Calls {
    std::vector<std::string> pre_bind, post_bind;  // "pod@node"
    std::vector<std::string> refuse;               // pod names whose PreBind fails
  };
  explicit Gate(Calls* calls) : calls_(calls) {}
  std::string_view Name() const override { return "Gate"; }
  Status Permit(CycleState&, const PodInfo&, const std::string&,
                absl::Duration* timeout) override {
    *timeout = absl::Seconds(10);
    return Status::Wait();
  }
  Status PreBind(CycleState&, const PodInfo& pod, const std::string& node) override {
    calls_->pre_bind.push_back(pod.name() + "@" + node);
    for (const std::string& name : calls_->refuse) {
      if (name == pod.name()) return Status::Error("volume not attached");
    }
    return Status();
  }
  void PostBind(CycleState&, const PodInfo& pod, const std::string& node) override {
    calls_->post_bind.push_back(pod.name() + "@" + node);
  }

 private:
  Calls* const calls_;
};

class SchedulerPermitTest : public SchedulerTest {
 protected:
  void Configure(SchedulerOptions& options) override {
    ASSERT_THAT(options.registry.Register(
                    "Gate",
                    [this](const PluginArgs&, Handle& handle)
                        -> absl::StatusOr<std::unique_ptr<Plugin>> {
                      handle_ = &handle;
                      return std::make_unique<Gate>(&calls_);
                    }),
                ::orch::testing::IsOk());
    v1::Plugins& plugins = *options.config.mutable_profiles(0)->mutable_plugins();
    for (v1::PluginSet* set :
         {plugins.mutable_permit(), plugins.mutable_pre_bind(), plugins.mutable_post_bind()}) {
      set->add_enabled()->set_name("Gate");
    }
  }
  std::string Uid(const std::string& pod) { return Get(pod).metadata().uid(); }

  Handle* handle_ = nullptr;
  Gate::Calls calls_;
};

TEST_F(SchedulerPermitTest, AWaitingPodBindsOnlyOnceAllowedThenPostBindRuns) {
  AddNode("node-a", "4");
  AddPod(MakePod("web").Req({{"cpu", "1"}}));
  executor_.RunUntilIdle();
  ASSERT_NE(handle_, nullptr);
  EXPECT_EQ(Get("web").spec().node_name(), "");
  EXPECT_TRUE(calls_.pre_bind.empty());
  EXPECT_FALSE(handle_->AllowWaitingPod(Uid("web"), "OtherPlugin"));  // not waiting on it

  EXPECT_TRUE(handle_->AllowWaitingPod(Uid("web"), "Gate"));
  executor_.RunUntilIdle();
  EXPECT_EQ(Get("web").spec().node_name(), "node-a");
  EXPECT_THAT(calls_.pre_bind, ::testing::ElementsAre("web@node-a"));
  EXPECT_THAT(calls_.post_bind, ::testing::ElementsAre("web@node-a"));
  EXPECT_FALSE(handle_->AllowWaitingPod(Uid("web"), "Gate"));  // no longer waiting
  EXPECT_EQ(scheduler_->stats().scheduled, 1);

  // The timer of an allowed pod is cancelled: nothing happens to it when it would fire.
  executor_.AdvanceBy(absl::Seconds(11));
  executor_.RunUntilIdle();
  EXPECT_EQ(Get("web").spec().node_name(), "node-a");
  EXPECT_EQ(scheduler_->stats().unschedulable, 0);
}

TEST_F(SchedulerPermitTest, AWaitingPodIsRejectedAtItsTimeoutOrByAPlugin) {
  AddNode("node-a", "4");
  AddPod(MakePod("slow").Req({{"cpu", "1"}}));
  AddPod(MakePod("refused").Req({{"cpu", "1"}}));
  executor_.RunUntilIdle();

  EXPECT_TRUE(handle_->RejectWaitingPod(Uid("refused"), "Gate", "quota exhausted"));
  executor_.RunUntilIdle();
  const api::v1::Pod refused = Get("refused");
  const api::v1::PodCondition* condition = Condition(refused, "PodScheduled");
  ASSERT_NE(condition, nullptr);
  EXPECT_EQ(condition->reason(), "Unschedulable");
  EXPECT_EQ(condition->message(), "quota exhausted");  // the rejecting plugin's words
  EXPECT_EQ(Get("slow").spec().node_name(), "");  // still waiting

  executor_.AdvanceBy(absl::Seconds(10));
  executor_.RunUntilIdle();
  const api::v1::Pod slow = Get("slow");
  condition = Condition(slow, "PodScheduled");
  ASSERT_NE(condition, nullptr);
  EXPECT_EQ(condition->reason(), "Unschedulable");
  EXPECT_THAT(condition->message(),
              HasSubstr("rejected due to timeout after waiting 10s at plugin Gate"));
  EXPECT_THAT(EventsFor("slow", "FailedScheduling"),
              ::testing::Contains(HasSubstr("rejected due to timeout")));
  EXPECT_TRUE(calls_.pre_bind.empty());
  EXPECT_EQ(slow.spec().node_name(), "");
  EXPECT_EQ(refused.spec().node_name(), "");
}

TEST_F(SchedulerPermitTest, AFailingPreBindLeavesThePodUnboundAndSaysWhy) {
  calls_.refuse = {"db"};
  AddNode("node-a", "4");
  AddPod(MakePod("db").Req({{"cpu", "1"}}));
  executor_.RunUntilIdle();
  ASSERT_TRUE(handle_->AllowWaitingPod(Uid("db"), "Gate"));
  executor_.RunUntilIdle();

  EXPECT_THAT(calls_.pre_bind, ::testing::ElementsAre("db@node-a"));
  EXPECT_TRUE(calls_.post_bind.empty());
  EXPECT_EQ(Get("db").spec().node_name(), "");
  EXPECT_THAT(EventsFor("db", "FailedScheduling"),
              ::testing::Contains(HasSubstr("volume not attached")));
  EXPECT_EQ(scheduler_->stats().errors, 1);
  EXPECT_EQ(scheduler_->stats().scheduled, 0);
}

}  // namespace
}  // namespace orch::scheduler
