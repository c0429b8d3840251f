// The scheduling queue against kube-scheduler's PriorityQueue behaviour
// (pkg/scheduler/internal/queue/scheduling_queue_test.go), on a virtual clock.
#include "scheduler/queue.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orch/base/clock.h"
#include "scheduler/test_objects.h"
#include "support/status_matchers.h"

namespace orch::scheduler {
namespace {

using ::orch::scheduler::testing::MakePod;
using ::orch::scheduler::testing::PodBuilder;
using ::orch::testing::IsOk;
using ::orch::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;
using Location = SchedulingQueue::Location;

// Higher priority first, then the earlier queue timestamp: PrioritySort's rule, written here
// so that these tests do not depend on the plugin.
class TestPrioritySort final : public QueueSortPlugin {
 public:
  std::string_view Name() const override { return "TestPrioritySort"; }
  bool Less(const QueuedPodInfo& a, const QueuedPodInfo& b) const override {
    if (a.pod->priority() != b.pod->priority()) return a.pod->priority() > b.pod->priority();
    return a.timestamp < b.timestamp;
  }
};

// What the in-tree plugins register, trimmed to what these tests need. "Silent" registers
// nothing: only the wildcard event or the 5-minute flush moves the pods it rejected.
PluginEvents TestEvents() {
  return PluginEvents{
      {"NodeResourcesFit",
       {ClusterEvent{EventResource::kNode, kAdd | kUpdateNodeAllocatable},
        ClusterEvent{EventResource::kPod, kDelete | kUpdatePodScaleDown}}},
      {"NodeAffinity", {ClusterEvent{EventResource::kNode, kAdd | kUpdateNodeLabel}}},
      {"InterPodAffinity",
       {ClusterEvent{EventResource::kPod, kAll},
        ClusterEvent{EventResource::kNode, kAdd | kUpdateNodeLabel}}},
      {"Silent", {}},
  };
}

const ClusterEvent kNodeAdd{EventResource::kNode, kAdd};
const ClusterEvent kNodeTaintChange{EventResource::kNode, kUpdateNodeTaint};
const ClusterEvent kNodeLabelChange{EventResource::kNode, kUpdateNodeLabel};
const ClusterEvent kPodDelete{EventResource::kPod, kDelete};
const ClusterEvent kServiceAdd{EventResource::kService, kAdd};
const ClusterEvent kWildcard{};

PodInfoPtr Info(const api::v1::Pod& pod) {
  absl::StatusOr<PodInfoPtr> info = PodInfo::Create(std::make_shared<const api::v1::Pod>(pod));
  EXPECT_THAT(info.status(), IsOk());
  return *info;
}

PodInfoPtr Pod(std::string name, int32_t priority = 0) {
  return MakePod(std::move(name)).Priority(priority).Info();
}

PodInfoPtr NominatedPod(std::string name, int32_t priority, std::string node) {
  api::v1::Pod pod = MakePod(std::move(name)).Priority(priority).Obj();
  pod.mutable_status()->set_nominated_node_name(std::move(node));
  return Info(pod);
}

// A pod that may only run next to pods labelled app=db.
PodBuilder WantsDb(std::string name) {
  return MakePod(std::move(name)).SpecYaml(R"(
affinity:
  podAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
    - labelSelector: {matchLabels: {app: db}}
      topologyKey: kubernetes.io/hostname
)");
}

std::string Uid(const PodInfoPtr& pod) { return pod->uid(); }

class QueueTest : public ::testing::Test {
 protected:
  QueueTest() : queue_(sort_, clock_, TestEvents()) {}

  QueuedPodInfo MustPop() {
    std::optional<QueuedPodInfo> popped = queue_.Pop();
    EXPECT_TRUE(popped.has_value());
    return popped.value_or(QueuedPodInfo{});
  }

  // Adds `pod`, pops it and hands it back rejected by `plugins` in the cycle it was popped.
  void AddAndFail(const PodInfoPtr& pod, const absl::flat_hash_set<std::string>& plugins) {
    queue_.Add(pod);
    QueuedPodInfo popped = MustPop();
    ASSERT_EQ(popped.pod->uid(), pod->uid()) << "another pod was at the head";
    ASSERT_THAT(queue_.AddUnschedulableIfNotPresent(popped, plugins, queue_.SchedulingCycle()),
                IsOk());
  }

  std::vector<std::string> PopAll() {
    std::vector<std::string> names;
    while (std::optional<QueuedPodInfo> popped = queue_.Pop()) {
      names.push_back(popped->pod->name());
      queue_.Done(popped->pod->uid());
    }
    return names;
  }

  Location Where(const PodInfoPtr& pod) const { return queue_.Locate(pod->uid()); }

  VirtualClock clock_;
  TestPrioritySort sort_;
  SchedulingQueue queue_;
};

// ------------------------------------------------------------------ activeQ

TEST_F(QueueTest, PopsByPriorityThenTimestamp) {
  queue_.Add(Pod("low", 0));
  clock_.Advance(absl::Seconds(1));
  queue_.Add(Pod("high", 1000));
  clock_.Advance(absl::Seconds(1));
  queue_.Add(Pod("mid", 500));
  clock_.Advance(absl::Seconds(1));
  queue_.Add(Pod("high-later", 1000));
  EXPECT_EQ(queue_.counts().active, 4u);

  EXPECT_THAT(PopAll(), ElementsAre("high", "high-later", "mid", "low"));
  EXPECT_FALSE(queue_.Pop().has_value());
}

TEST_F(QueueTest, EqualPodsComeOutInTheOrderTheyWereAdded) {
  for (const char* name : {"c", "a", "d", "b", "e"}) queue_.Add(Pod(name));
  EXPECT_THAT(PopAll(), ElementsAre("c", "a", "d", "b", "e"));
}

TEST_F(QueueTest, PopCountsAttemptsAndCycles) {
  const absl::Time added = clock_.Now();
  queue_.Add(Pod("p"));
  EXPECT_EQ(queue_.SchedulingCycle(), 0);
  clock_.Advance(absl::Seconds(3));

  QueuedPodInfo first = MustPop();
  EXPECT_EQ(first.attempts, 1);
  EXPECT_EQ(first.timestamp, added);
  EXPECT_EQ(first.initial_attempt, clock_.Now());
  EXPECT_EQ(queue_.SchedulingCycle(), 1);
  EXPECT_EQ(queue_.counts().in_flight, 1u);
  EXPECT_EQ(Where(first.pod), Location::kInFlight);

  ASSERT_THAT(queue_.AddUnschedulableIfNotPresent(first, {}, queue_.SchedulingCycle()), IsOk());
  clock_.Advance(absl::Seconds(1));
  queue_.Flush();
  QueuedPodInfo second = MustPop();
  EXPECT_EQ(second.attempts, 2);
  EXPECT_EQ(second.initial_attempt, first.initial_attempt);
  EXPECT_EQ(queue_.SchedulingCycle(), 2);

  queue_.Done(second.pod->uid());
  EXPECT_EQ(Where(second.pod), Location::kAbsent);
  EXPECT_EQ(queue_.counts().in_flight, 0u);
}

// ------------------------------------------------------------------ backoff

TEST_F(QueueTest, BackoffDoublesFromOneSecondToTen) {
  EXPECT_EQ(queue_.BackoffDuration(1), absl::Seconds(1));
  EXPECT_EQ(queue_.BackoffDuration(2), absl::Seconds(2));
  EXPECT_EQ(queue_.BackoffDuration(3), absl::Seconds(4));
  EXPECT_EQ(queue_.BackoffDuration(4), absl::Seconds(8));
  EXPECT_EQ(queue_.BackoffDuration(5), absl::Seconds(10));
  EXPECT_EQ(queue_.BackoffDuration(6), absl::Seconds(10));
  EXPECT_EQ(queue_.BackoffDuration(1000), absl::Seconds(10));
}

TEST_F(QueueTest, BackoffFlowOfOnePodFailingAgainAndAgain) {
  const PodInfoPtr pod = Pod("p");
  queue_.Add(pod);
  const absl::Duration want[] = {absl::Seconds(1), absl::Seconds(2), absl::Seconds(4),
                                 absl::Seconds(8), absl::Seconds(10), absl::Seconds(10)};
  for (int i = 0; i < 6; ++i) {
    SCOPED_TRACE(i);
    QueuedPodInfo popped = MustPop();
    EXPECT_EQ(popped.attempts, i + 1);
    ASSERT_THAT(queue_.AddUnschedulableIfNotPresent(popped, {"NodeResourcesFit"},
                                                    queue_.SchedulingCycle()),
                IsOk());
    EXPECT_EQ(Where(pod), Location::kUnschedulable);
    queue_.MoveAllToActiveOrBackoffQueue(kNodeAdd);  // helps, but the pod is backing off
    EXPECT_EQ(Where(pod), Location::kBackoff);

    clock_.Advance(want[i] - absl::Milliseconds(1));
    queue_.Flush();
    EXPECT_EQ(Where(pod), Location::kBackoff);
    clock_.Advance(absl::Milliseconds(1));
    queue_.Flush();
    EXPECT_EQ(Where(pod), Location::kActive);
  }
}

TEST_F(QueueTest, BackoffQueueReleasesPodsInExpiryOrder) {
  // b fails twice (2 s backoff), a once (1 s): a expires first although b failed first.
  const PodInfoPtr a = Pod("a", 10), b = Pod("b", 0);
  queue_.Add(b);
  QueuedPodInfo b1 = MustPop();
  ASSERT_THAT(queue_.AddUnschedulableIfNotPresent(b1, {}, queue_.SchedulingCycle()), IsOk());
  clock_.Advance(absl::Seconds(1));
  queue_.Flush();
  QueuedPodInfo b2 = MustPop();
  ASSERT_THAT(queue_.AddUnschedulableIfNotPresent(b2, {}, queue_.SchedulingCycle()), IsOk());
  queue_.Add(a);
  QueuedPodInfo a1 = MustPop();
  ASSERT_THAT(queue_.AddUnschedulableIfNotPresent(a1, {}, queue_.SchedulingCycle()), IsOk());
  EXPECT_EQ(queue_.counts().backoff, 2u);

  clock_.Advance(absl::Seconds(1));
  queue_.Flush();
  EXPECT_EQ(Where(a), Location::kActive);
  EXPECT_EQ(Where(b), Location::kBackoff);
  clock_.Advance(absl::Seconds(1));
  queue_.Flush();
  EXPECT_EQ(Where(b), Location::kActive);
}

TEST_F(QueueTest, OptionsChangeTheBackoff) {
  SchedulingQueue queue(sort_, clock_, TestEvents(),
                        SchedulingQueueOptions{.pod_initial_backoff = absl::Milliseconds(100),
                                               .pod_max_backoff = absl::Milliseconds(250)});
  EXPECT_EQ(queue.BackoffDuration(1), absl::Milliseconds(100));
  EXPECT_EQ(queue.BackoffDuration(2), absl::Milliseconds(200));
  EXPECT_EQ(queue.BackoffDuration(3), absl::Milliseconds(250));
}

// ------------------------------------------------------------------ failures

TEST_F(QueueTest, RejectedPodWaitsInUnschedulablePods) {
  const PodInfoPtr pod = Pod("p");
  AddAndFail(pod, {"NodeResourcesFit"});
  EXPECT_EQ(Where(pod), Location::kUnschedulable);
  EXPECT_EQ(queue_.counts().unschedulable, 1u);
  // Backoff alone does not bring it back: it waits for an event.
  clock_.Advance(absl::Seconds(20));
  queue_.Flush();
  EXPECT_EQ(Where(pod), Location::kUnschedulable);
}

TEST_F(QueueTest, PodFailedWithoutRejectingPluginIsRetriedAfterBackoff) {
  const PodInfoPtr pod = Pod("p");
  AddAndFail(pod, {});
  EXPECT_EQ(Where(pod), Location::kBackoff);
  clock_.Advance(absl::Seconds(1));
  queue_.Flush();
  EXPECT_EQ(Where(pod), Location::kActive);
}

TEST_F(QueueTest, EventDuringTheCycleSendsTheFailedPodToBackoff) {
  const PodInfoPtr pod = Pod("p");
  queue_.Add(pod);
  QueuedPodInfo popped = MustPop();
  const int64_t cycle = queue_.SchedulingCycle();
  // A node arrives while the pod is being scheduled: the failure must not park it.
  queue_.MoveAllToActiveOrBackoffQueue(kNodeAdd);
  ASSERT_THAT(queue_.AddUnschedulableIfNotPresent(popped, {"NodeResourcesFit"}, cycle), IsOk());
  EXPECT_EQ(Where(pod), Location::kBackoff);
}

TEST_F(QueueTest, EventBeforeTheCycleDoesNotCount) {
  const PodInfoPtr first = Pod("first", 10), second = Pod("second", 0);
  queue_.Add(first);
  queue_.Add(second);
  QueuedPodInfo popped_first = MustPop();
  queue_.MoveAllToActiveOrBackoffQueue(kNodeAdd);  // during cycle 1
  queue_.Done(popped_first.pod->uid());
  QueuedPodInfo popped_second = MustPop();  // cycle 2 starts after the event
  ASSERT_THAT(queue_.AddUnschedulableIfNotPresent(popped_second, {"NodeResourcesFit"},
                                                  queue_.SchedulingCycle()),
              IsOk());
  EXPECT_EQ(Where(second), Location::kUnschedulable);
}

TEST_F(QueueTest, EventNoPluginRegisteredIsNotAMoveRequest) {
  const PodInfoPtr pod = Pod("p");
  queue_.Add(pod);
  QueuedPodInfo popped = MustPop();
  queue_.MoveAllToActiveOrBackoffQueue(kServiceAdd);
  ASSERT_THAT(queue_.AddUnschedulableIfNotPresent(popped, {"NodeResourcesFit"},
                                                  queue_.SchedulingCycle()),
              IsOk());
  EXPECT_EQ(Where(pod), Location::kUnschedulable);
}

TEST_F(QueueTest, AddUnschedulableRefusesAPodAlreadyQueued) {
  const PodInfoPtr pod = Pod("p");
  queue_.Add(pod);
  QueuedPodInfo fake;
  fake.pod = pod;
  fake.attempts = 1;
  EXPECT_THAT(queue_.AddUnschedulableIfNotPresent(fake, {"NodeResourcesFit"}, 0),
              StatusIs(absl::StatusCode::kAlreadyExists,
                       ::testing::HasSubstr("already present in the active queue")));
  EXPECT_EQ(Where(pod), Location::kActive);
  EXPECT_EQ(queue_.counts().unschedulable, 0u);
}

TEST_F(QueueTest, AddUnschedulableAcceptsAPodItNeverPopped) {
  const PodInfoPtr pod = Pod("p");
  QueuedPodInfo info;
  info.pod = pod;
  info.attempts = 3;
  ASSERT_THAT(queue_.AddUnschedulableIfNotPresent(info, {"NodeAffinity"}, 0), IsOk());
  EXPECT_EQ(Where(pod), Location::kUnschedulable);
  clock_.Advance(absl::Seconds(3));
  queue_.MoveAllToActiveOrBackoffQueue(kNodeLabelChange);
  EXPECT_EQ(Where(pod), Location::kBackoff);  // 3 attempts: 4 s of backoff
  clock_.Advance(absl::Seconds(1));
  queue_.Flush();
  EXPECT_EQ(MustPop().attempts, 4);
}

// ------------------------------------------------------------------ events

TEST_F(QueueTest, EventMovesOnlyThePodsItMayHelp) {
  const PodInfoPtr fit = Pod("fit"), affinity = Pod("affinity"), silent = Pod("silent"),
                   custom = Pod("custom");
  AddAndFail(fit, {"NodeResourcesFit"});
  AddAndFail(affinity, {"NodeAffinity"});
  AddAndFail(silent, {"Silent"});
  AddAndFail(custom, {"OutOfTreePlugin"});  // not in the map: cares about every event
  clock_.Advance(absl::Seconds(2));         // every backoff is over

  queue_.MoveAllToActiveOrBackoffQueue(kNodeTaintChange);
  EXPECT_EQ(Where(fit), Location::kUnschedulable);
  EXPECT_EQ(Where(affinity), Location::kUnschedulable);
  EXPECT_EQ(Where(custom), Location::kActive);

  queue_.MoveAllToActiveOrBackoffQueue(kNodeLabelChange);
  EXPECT_EQ(Where(fit), Location::kUnschedulable);
  EXPECT_EQ(Where(affinity), Location::kActive);

  queue_.MoveAllToActiveOrBackoffQueue(kPodDelete);
  EXPECT_EQ(Where(fit), Location::kActive);
  EXPECT_EQ(Where(silent), Location::kUnschedulable);

  queue_.MoveAllToActiveOrBackoffQueue(kWildcard);
  EXPECT_EQ(Where(silent), Location::kActive);
  EXPECT_EQ(queue_.counts().unschedulable, 0u);
}

TEST_F(QueueTest, PodRejectedByTwoPluginsMovesOnEitherPluginsEvent) {
  const PodInfoPtr pod = Pod("p");
  AddAndFail(pod, {"NodeResourcesFit", "NodeAffinity"});
  clock_.Advance(absl::Seconds(2));
  queue_.MoveAllToActiveOrBackoffQueue(kNodeLabelChange);
  EXPECT_EQ(Where(pod), Location::kActive);
}

TEST_F(QueueTest, MovedPodStillBackingOffGoesToBackoffQueue) {
  const PodInfoPtr early = Pod("early"), late = Pod("late");
  AddAndFail(early, {"NodeResourcesFit"});
  clock_.Advance(absl::Milliseconds(1500));
  AddAndFail(late, {"NodeResourcesFit"});
  queue_.MoveAllToActiveOrBackoffQueue(kNodeAdd);
  EXPECT_EQ(Where(early), Location::kActive);  // failed 1.5 s ago: 1 s backoff is over
  EXPECT_EQ(Where(late), Location::kBackoff);
}

TEST_F(QueueTest, PreEnqueueCheckKeepsPodsBack) {
  const PodInfoPtr big = Pod("big"), small = Pod("small");
  AddAndFail(big, {"NodeResourcesFit"});
  AddAndFail(small, {"NodeResourcesFit"});
  clock_.Advance(absl::Seconds(2));
  queue_.MoveAllToActiveOrBackoffQueue(
      kNodeAdd, [](const PodInfo& pod) { return pod.name() == "small"; });
  EXPECT_EQ(Where(small), Location::kActive);
  EXPECT_EQ(Where(big), Location::kUnschedulable);
}

TEST_F(QueueTest, AssignedPodMovesPodsWhoseAffinitySelectsIt) {
  const PodInfoPtr wants_db = WantsDb("wants-db").Info();
  const PodInfoPtr plain = Pod("plain");
  AddAndFail(wants_db, {"InterPodAffinity"});
  AddAndFail(plain, {"InterPodAffinity"});
  clock_.Advance(absl::Seconds(2));

  queue_.AssignedPodAdded(*MakePod("web").Label("app", "web").Node("n1").Info());
  EXPECT_EQ(Where(wants_db), Location::kUnschedulable);

  queue_.AssignedPodAdded(*MakePod("db").Label("app", "db").Node("n1").Info());
  EXPECT_EQ(Where(wants_db), Location::kActive);
  EXPECT_EQ(Where(plain), Location::kUnschedulable);  // no affinity: the new pod cannot help
}

TEST_F(QueueTest, AssignedPodAddedIgnoresPodsWaitingForOtherPlugins) {
  const PodInfoPtr wants_db = WantsDb("wants-db").Info();
  AddAndFail(wants_db, {"NodeAffinity"});  // NodeAffinity does not register pod events
  clock_.Advance(absl::Seconds(2));
  queue_.AssignedPodAdded(*MakePod("db").Label("app", "db").Node("n1").Info());
  EXPECT_EQ(Where(wants_db), Location::kUnschedulable);
}

TEST_F(QueueTest, AssignedPodUpdatedWithNewLabelsMovesAffinityPods) {
  const PodInfoPtr wants_db = WantsDb("wants-db").Info();
  AddAndFail(wants_db, {"InterPodAffinity"});
  clock_.Advance(absl::Seconds(2));
  const PodInfoPtr before = MakePod("x").Label("app", "web").Node("n1").Info();
  const PodInfoPtr after = MakePod("x").Label("app", "db").Node("n1").Info();
  queue_.AssignedPodUpdated(*after, *before);  // db -> web: selects nothing now
  EXPECT_EQ(Where(wants_db), Location::kUnschedulable);
  queue_.AssignedPodUpdated(*before, *after);
  EXPECT_EQ(Where(wants_db), Location::kActive);
}

TEST_F(QueueTest, AssignedPodScaledDownMovesPodsWaitingForResources) {
  const PodInfoPtr needs_cpu = Pod("needs-cpu");
  const PodInfoPtr needs_label = Pod("needs-label");
  AddAndFail(needs_cpu, {"NodeResourcesFit"});
  AddAndFail(needs_label, {"NodeAffinity"});
  clock_.Advance(absl::Seconds(2));
  const PodInfoPtr big = MakePod("x").Node("n1").Req({{"cpu", "2"}}).Info();
  const PodInfoPtr small = MakePod("x").Node("n1").Req({{"cpu", "1"}}).Info();
  queue_.AssignedPodUpdated(*small, *big);  // grew: helps no one
  EXPECT_EQ(Where(needs_cpu), Location::kUnschedulable);
  queue_.AssignedPodUpdated(*big, *small);
  EXPECT_EQ(Where(needs_cpu), Location::kActive);
  EXPECT_EQ(Where(needs_label), Location::kUnschedulable);
}

// ------------------------------------------------------------------ the 5-minute flush

TEST_F(QueueTest, PodsLeaveUnschedulablePodsAfterFiveMinutes) {
  const PodInfoPtr old_pod = Pod("old"), young_pod = Pod("young");
  AddAndFail(old_pod, {"Silent"});
  const absl::Time parked = clock_.Now();
  // The scheduler flushes every second.
  bool young_added = false;
  while (Where(old_pod) == Location::kUnschedulable) {
    ASSERT_LT(clock_.Now() - parked, absl::Minutes(6)) << "never flushed";
    clock_.Advance(kFlushPeriod);
    queue_.Flush();
    if (!young_added && clock_.Now() - parked >= absl::Minutes(4)) {
      AddAndFail(young_pod, {"Silent"});
      young_added = true;
    }
  }
  const absl::Duration waited = clock_.Now() - parked;
  EXPECT_GT(waited, absl::Minutes(5));
  EXPECT_LE(waited, absl::Minutes(5) + kUnschedulablePodsFlushPeriod);
  EXPECT_EQ(Where(old_pod), Location::kActive);  // its backoff is long over
  EXPECT_EQ(Where(young_pod), Location::kUnschedulable);
}

// ------------------------------------------------------------------ update and delete

TEST_F(QueueTest, UpdateInActiveQueueResorts) {
  queue_.Add(Pod("a", 1));
  queue_.Add(Pod("b", 5));
  const api::v1::Pod old_a = MakePod("a").Priority(1).Obj();
  queue_.Update(old_a, Pod("a", 10));
  EXPECT_EQ(queue_.counts().active, 2u);
  QueuedPodInfo head = MustPop();
  EXPECT_EQ(head.pod->name(), "a");
  EXPECT_EQ(head.pod->priority(), 10);
}

TEST_F(QueueTest, UpdateInBackoffQueueKeepsTheBackoff) {
  const PodInfoPtr pod = Pod("p");
  AddAndFail(pod, {});
  const PodInfoPtr newer = MakePod("p").Label("v", "2").Info();
  queue_.Update(pod->pod(), newer);
  EXPECT_EQ(Where(pod), Location::kBackoff);
  EXPECT_THAT(queue_.PendingPods(), ElementsAre(newer));
  clock_.Advance(absl::Seconds(1));
  queue_.Flush();
  EXPECT_EQ(MustPop().pod, newer);
}

TEST_F(QueueTest, UpdateThatMayHelpMovesPodOutOfUnschedulablePods) {
  const PodInfoPtr backing_off = Pod("backing-off"), ready = Pod("ready");
  AddAndFail(ready, {"NodeAffinity"});
  clock_.Advance(absl::Seconds(2));
  AddAndFail(backing_off, {"NodeAffinity"});

  queue_.Update(ready->pod(), MakePod("ready").NodeSelector("zone", "a").Info());
  queue_.Update(backing_off->pod(), MakePod("backing-off").Label("x", "y").Info());
  EXPECT_EQ(Where(ready), Location::kActive);
  EXPECT_EQ(Where(backing_off), Location::kBackoff);
}

TEST_F(QueueTest, StatusOnlyUpdateLeavesPodInUnschedulablePods) {
  const PodInfoPtr pod = Pod("p");
  AddAndFail(pod, {"NodeAffinity"});
  api::v1::Pod written = pod->pod();
  written.mutable_metadata()->set_resource_version("42");
  api::v1::PodCondition* condition = written.mutable_status()->add_conditions();
  condition->set_type("PodScheduled");
  condition->set_status("False");
  condition->set_reason("Unschedulable");
  const PodInfoPtr newer = Info(written);
  queue_.Update(pod->pod(), newer);
  EXPECT_EQ(Where(pod), Location::kUnschedulable);
  EXPECT_THAT(queue_.PendingPods(), ElementsAre(newer));
  // Still waiting for the same plugin's events.
  clock_.Advance(absl::Seconds(2));
  queue_.MoveAllToActiveOrBackoffQueue(kNodeLabelChange);
  EXPECT_EQ(Where(pod), Location::kActive);
}

TEST_F(QueueTest, UpdateOfAnUnknownPodAddsIt) {
  const PodInfoPtr pod = Pod("p");
  queue_.Update(pod->pod(), pod);
  EXPECT_EQ(Where(pod), Location::kActive);
}

TEST_F(QueueTest, UpdateDuringTheCycleRetriesAtOnce) {
  const PodInfoPtr pod = Pod("p");
  queue_.Add(pod);
  QueuedPodInfo popped = MustPop();
  const PodInfoPtr newer = MakePod("p").Label("fixed", "yes").Info();
  queue_.Update(pod->pod(), newer);
  EXPECT_EQ(Where(pod), Location::kInFlight);
  ASSERT_THAT(queue_.AddUnschedulableIfNotPresent(popped, {"NodeAffinity"},
                                                  queue_.SchedulingCycle()),
              IsOk());
  EXPECT_EQ(Where(pod), Location::kActive);
  EXPECT_EQ(MustPop().pod, newer);
}

TEST_F(QueueTest, StatusUpdateDuringTheCycleChangesNothing) {
  const PodInfoPtr pod = Pod("p");
  queue_.Add(pod);
  QueuedPodInfo popped = MustPop();
  api::v1::Pod written = pod->pod();
  written.mutable_metadata()->set_resource_version("7");
  queue_.Update(pod->pod(), Info(written));
  ASSERT_THAT(queue_.AddUnschedulableIfNotPresent(popped, {"NodeAffinity"},
                                                  queue_.SchedulingCycle()),
              IsOk());
  EXPECT_EQ(Where(pod), Location::kUnschedulable);
}

TEST_F(QueueTest, DeleteFromEverySubQueue) {
  const PodInfoPtr active = Pod("active"), backoff = Pod("backoff"),
                   unschedulable = Pod("unschedulable");
  AddAndFail(backoff, {});
  AddAndFail(unschedulable, {"NodeAffinity"});
  queue_.Add(active);
  EXPECT_EQ(queue_.PendingPods().size(), 3u);

  queue_.Delete(active->uid());
  queue_.Delete(backoff->uid());
  queue_.Delete(unschedulable->uid());
  queue_.Delete("never-seen");
  EXPECT_EQ(Where(active), Location::kAbsent);
  EXPECT_EQ(Where(backoff), Location::kAbsent);
  EXPECT_EQ(Where(unschedulable), Location::kAbsent);
  const SchedulingQueue::Counts counts = queue_.counts();
  EXPECT_EQ(counts.active + counts.backoff + counts.unschedulable + counts.in_flight, 0u);
  EXPECT_TRUE(queue_.PendingPods().empty());
  // Nothing left behind to move or flush.
  clock_.Advance(absl::Minutes(10));
  queue_.MoveAllToActiveOrBackoffQueue(kWildcard);
  queue_.Flush();
  EXPECT_FALSE(queue_.Pop().has_value());
}

TEST_F(QueueTest, PodDeletedDuringTheCycleIsNotRequeued) {
  const PodInfoPtr pod = Pod("p");
  queue_.Add(pod);
  QueuedPodInfo popped = MustPop();
  queue_.Delete(pod->uid());
  EXPECT_EQ(Where(pod), Location::kAbsent);
  EXPECT_THAT(queue_.AddUnschedulableIfNotPresent(popped, {"NodeAffinity"},
                                                  queue_.SchedulingCycle()),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(queue_.counts().in_flight, 0u);
  EXPECT_TRUE(queue_.PendingPods().empty());
}

TEST_F(QueueTest, AddOfAQueuedPodStartsItAfresh) {
  const PodInfoPtr pod = Pod("p");
  AddAndFail(pod, {"NodeAffinity"});
  queue_.Add(pod);
  EXPECT_EQ(Where(pod), Location::kActive);
  EXPECT_EQ(queue_.counts().unschedulable, 0u);
  EXPECT_EQ(MustPop().attempts, 1);
}

// ------------------------------------------------------------------ nominated pods

TEST_F(QueueTest, NominatedPodsComeHighestPriorityFirst) {
  EXPECT_FALSE(queue_.HasNominatedPods());
  const PodInfoPtr low = Pod("low", 1), high = Pod("high", 100), mid = Pod("mid", 50),
                   mid2 = Pod("mid2", 50);
  queue_.AddNominatedPod(low, "n1");
  queue_.AddNominatedPod(mid, "n1");
  queue_.AddNominatedPod(high, "n1");
  queue_.AddNominatedPod(mid2, "n1");
  EXPECT_TRUE(queue_.HasNominatedPods());
  EXPECT_THAT(queue_.NominatedPodsForNode("n1"), ElementsAre(high, mid, mid2, low));
  EXPECT_TRUE(queue_.NominatedPodsForNode("n2").empty());

  queue_.AddNominatedPod(mid, "n2");  // a pod is nominated to one node at a time
  EXPECT_THAT(queue_.NominatedPodsForNode("n1"), ElementsAre(high, mid2, low));
  EXPECT_THAT(queue_.NominatedPodsForNode("n2"), ElementsAre(mid));

  queue_.DeleteNominatedPod(high->uid());
  queue_.AddNominatedPod(low, "");  // an empty node clears
  EXPECT_THAT(queue_.NominatedPodsForNode("n1"), ElementsAre(mid2));
}

TEST_F(QueueTest, StatusNominatedNodeNameNominatesQueuedPods) {
  const PodInfoPtr pod = NominatedPod("p", 10, "n1");
  queue_.Add(pod);
  EXPECT_THAT(queue_.NominatedPodsForNode("n1"), ElementsAre(pod));
  // Still nominated while being scheduled and after failing.
  QueuedPodInfo popped = MustPop();
  ASSERT_THAT(queue_.AddUnschedulableIfNotPresent(popped, {"NodeResourcesFit"},
                                                  queue_.SchedulingCycle()),
              IsOk());
  EXPECT_THAT(queue_.NominatedPodsForNode("n1"), ElementsAre(pod));
  queue_.Delete(pod->uid());
  EXPECT_TRUE(queue_.NominatedPodsForNode("n1").empty());
  EXPECT_FALSE(queue_.HasNominatedPods());
}

TEST_F(QueueTest, AddNominatedPodWithoutNodeUsesTheStatus) {
  const PodInfoPtr pod = NominatedPod("p", 10, "n3");
  queue_.AddNominatedPod(pod, std::nullopt);
  EXPECT_THAT(queue_.NominatedPodsForNode("n3"), ElementsAre(pod));
  queue_.AddNominatedPod(Pod("q"), std::nullopt);  // no status: nothing to nominate
  EXPECT_THAT(queue_.NominatedPodsForNode("n3"), ElementsAre(pod));
}

TEST_F(QueueTest, UpdateKeepsTheSchedulersNominationUntilTheStatusSaysOtherwise) {
  const PodInfoPtr pod = Pod("p", 10);
  queue_.Add(pod);
  queue_.AddNominatedPod(pod, "n1");  // preemption chose n1; the status write is in flight
  const PodInfoPtr relabelled = MakePod("p").Priority(10).Label("a", "b").Info();
  queue_.Update(pod->pod(), relabelled);
  EXPECT_THAT(queue_.NominatedPodsForNode("n1"), ElementsAre(relabelled));

  const PodInfoPtr written = NominatedPod("p", 10, "n2");
  queue_.Update(relabelled->pod(), written);
  EXPECT_TRUE(queue_.NominatedPodsForNode("n1").empty());
  EXPECT_THAT(queue_.NominatedPodsForNode("n2"), ElementsAre(written));
}

TEST_F(QueueTest, BoundPodIsNeverNominated) {
  api::v1::Pod pod = MakePod("p").Node("n1").Obj();
  pod.mutable_status()->set_nominated_node_name("n2");
  queue_.AddNominatedPod(Info(pod), std::nullopt);
  queue_.AddNominatedPod(Info(pod), "n2");
  EXPECT_FALSE(queue_.HasNominatedPods());
}

// ------------------------------------------------------------------ threads

TEST_F(QueueTest, ConcurrentProducersAndOneScheduler) {
  constexpr int kProducers = 4;
  constexpr int kPodsEach = 500;
  std::atomic<int> produced{0};
  std::vector<std::thread> producers;
  for (int t = 0; t < kProducers; ++t) {
    producers.emplace_back([&, t] {
      for (int i = 0; i < kPodsEach; ++i) {
        queue_.Add(Pod("p" + std::to_string(t) + "-" + std::to_string(i), i % 7));
        produced.fetch_add(1);
        if (i % 50 == 0) queue_.MoveAllToActiveOrBackoffQueue(kNodeAdd);
      }
    });
  }
  int scheduled = 0;
  while (scheduled < kProducers * kPodsEach) {
    std::optional<QueuedPodInfo> popped = queue_.Pop();
    if (!popped.has_value()) {
      std::this_thread::yield();
      continue;
    }
    if (popped->attempts == 1 && scheduled % 3 == 0) {
      // Fail it once; an event brings it back.
      EXPECT_THAT(queue_.AddUnschedulableIfNotPresent(*popped, {"NodeResourcesFit"},
                                                      queue_.SchedulingCycle()),
                  IsOk());
      clock_.Advance(absl::Seconds(1));
      queue_.MoveAllToActiveOrBackoffQueue(kNodeAdd);
      queue_.Flush();
      continue;
    }
    queue_.Done(popped->pod->uid());
    ++scheduled;
  }
  for (std::thread& t : producers) t.join();
  EXPECT_EQ(produced.load(), kProducers * kPodsEach);
  const SchedulingQueue::Counts counts = queue_.counts();
  EXPECT_EQ(counts.active + counts.backoff + counts.unschedulable + counts.in_flight, 0u);
}

}  // namespace
}  // namespace orch::scheduler
