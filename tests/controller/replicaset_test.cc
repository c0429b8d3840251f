#include "orch/controller/replicaset.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "controller/pods.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orch/api/v1/apps.pb.h"
#include "orch/api/v1/core.pb.h"
#include "orch/base/executor.h"
#include "orch/client/informer.h"
#include "orch/controller/ownership.h"
#include "orch/store/memory_store.h"
#include "orch/testing/fault_store.h"
#include "controller/fixture.h"
#include "support/status_matchers.h"

namespace orch::controller {
namespace {

namespace v1 = ::orch::api::v1;
using ::orch::testing::StatusIs;
using Op = ::orch::testing::FaultStore::Op;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

v1::ReplicaSet MakeReplicaSet(const std::string& name, int replicas) {
  v1::ReplicaSet rs;
  rs.mutable_metadata()->set_name(name);
  rs.mutable_metadata()->set_namespace_("default");
  rs.mutable_spec()->set_replicas(replicas);
  (*rs.mutable_spec()->mutable_selector()->mutable_match_labels())["app"] = name;
  auto* tmpl = rs.mutable_spec()->mutable_template_();
  (*tmpl->mutable_metadata()->mutable_labels())["app"] = name;
  (*tmpl->mutable_metadata()->mutable_labels())["tier"] = "front";
  (*tmpl->mutable_metadata()->mutable_annotations())["note"] = "from the template";
  auto* c = tmpl->mutable_spec()->add_containers();
  c->set_name("main");
  c->set_image("nginx:1.25");
  return rs;
}

class ReplicaSetTest : public testing::ControllerEnvTest {
 protected:
  Controller* Start(ReplicaSetControllerOptions options = {}) {
    Controller* c = AddReplicaSetController(manager_.get(), options).value();
    EXPECT_TRUE(manager_->Start().ok());
    executor_.RunUntilIdle();
    return c;
  }

  std::vector<v1::Pod> Pods() { return client_->List<v1::Pod>("default").value().items; }
  v1::ReplicaSet Get(const std::string& name) {
    return client_->Get<v1::ReplicaSet>("default", name).value();
  }
  void Scale(const std::string& name, int replicas) {
    v1::ReplicaSet rs = Get(name);
    rs.mutable_spec()->set_replicas(replicas);
    ASSERT_TRUE(client_->Update(rs).ok());
  }
  std::vector<std::string> EventsWithReason(const std::string& reason) {
    std::vector<std::string> out;
    const auto events = client_->List<v1::Event>("default").value();
    for (const v1::Event& e : events.items) {
      if (e.reason() == reason) out.push_back(e.message());
    }
    return out;
  }
  // Marks a pod Running and Ready now (as a node agent would).
  void MakeReady(const std::string& name) {
    v1::Pod pod = client_->Get<v1::Pod>("default", name).value();
    pod.mutable_status()->set_phase("Running");
    v1::PodCondition* ready = pod.mutable_status()->add_conditions();
    ready->set_type("Ready");
    ready->set_status("True");
    ready->mutable_last_transition_time()->set_seconds(absl::ToUnixSeconds(executor_.clock().Now()));
    ASSERT_TRUE(client_->UpdateStatus(pod).ok());
  }

  // Pod creates that reached the store.
  int PodCreates() const { return faults_->Succeeded(Op::kCreate, "/registry/pods/"); }
  void FailPodCreates(int n) {
    faults_->FailNext(Op::kCreate, "/registry/pods/", n, absl::UnavailableError("etcd is on fire"));
  }
};

TEST_F(ReplicaSetTest, CreatesTheMissingPodsFromTheTemplateWithAControllerReference) {
  Start();
  const v1::ReplicaSet rs = client_->Create(MakeReplicaSet("web", 3)).value();
  executor_.RunUntilIdle();
  const std::vector<v1::Pod> pods = Pods();
  ASSERT_THAT(pods, SizeIs(3));
  for (const v1::Pod& pod : pods) {
    EXPECT_EQ(pod.metadata().name().rfind("web-", 0), 0u) << pod.metadata().name();
    EXPECT_EQ(pod.metadata().labels().at("tier"), "front");
    EXPECT_EQ(pod.metadata().annotations().at("note"), "from the template");
    EXPECT_EQ(pod.spec().containers(0).image(), "nginx:1.25");
    const v1::OwnerReference* ref = GetControllerOf(pod);
    ASSERT_NE(ref, nullptr);
    EXPECT_EQ(ref->api_version(), "apps/v1");
    EXPECT_EQ(ref->kind(), "ReplicaSet");
    EXPECT_EQ(ref->name(), "web");
    EXPECT_EQ(ref->uid(), rs.metadata().uid());
    EXPECT_TRUE(ref->block_owner_deletion());
  }
  EXPECT_THAT(EventsWithReason("SuccessfulCreate"), SizeIs(3));
  EXPECT_THAT(EventsWithReason("SuccessfulCreate")[0], HasSubstr("Created pod: web-"));
  const v1::ReplicaSet after = Get("web");
  EXPECT_EQ(after.status().replicas(), 3);
  EXPECT_EQ(after.status().fully_labeled_replicas(), 3);
  EXPECT_EQ(after.status().ready_replicas(), 0);
  EXPECT_EQ(after.status().available_replicas(), 0);
  EXPECT_EQ(after.status().observed_generation(), after.metadata().generation());
}

TEST_F(ReplicaSetTest, ReplacesDeletedPodsAndPodsBeingDeleted) {
  Start();
  ASSERT_TRUE(client_->Create(MakeReplicaSet("web", 2)).ok());
  executor_.RunUntilIdle();
  std::vector<v1::Pod> pods = Pods();
  ASSERT_THAT(pods, SizeIs(2));
  // One deleted outright, one bound and so deleted gracefully (it stays, terminating).
  ASSERT_TRUE(client_->Bind(pods[1], "node-1").ok());
  ASSERT_TRUE(client_->Delete<v1::Pod>("default", pods[0].metadata().name()).ok());
  ASSERT_TRUE(client_->Delete<v1::Pod>("default", pods[1].metadata().name()).ok());
  executor_.RunUntilIdle();
  pods = Pods();
  int active = 0, terminating = 0;
  for (const v1::Pod& p : pods) (p.metadata().has_deletion_timestamp() ? terminating : active)++;
  EXPECT_EQ(active, 2);
  EXPECT_EQ(terminating, 1);
  EXPECT_EQ(Get("web").status().replicas(), 2);  // terminating pods do not count
}

TEST_F(ReplicaSetTest, ScalingDownDeletesInKubernetesOrder) {
  Start();
  ASSERT_TRUE(client_->Create(MakeReplicaSet("web", 4)).ok());
  executor_.RunUntilIdle();
  std::vector<v1::Pod> pods = Pods();
  ASSERT_THAT(pods, SizeIs(4));
  // pods[0] stays unscheduled; pods[1] bound, Pending; pods[2] bound, Running, not ready;
  // pods[3] bound, Running and Ready.
  for (int i = 1; i < 4; ++i) ASSERT_TRUE(client_->Bind(pods[i], "node-" + std::to_string(i)).ok());
  for (int i = 2; i < 4; ++i) {
    v1::Pod p = client_->Get<v1::Pod>("default", pods[i].metadata().name()).value();
    p.mutable_status()->set_phase("Running");
    ASSERT_TRUE(client_->UpdateStatus(p).ok());
  }
  MakeReady(pods[3].metadata().name());
  executor_.RunUntilIdle();

  Scale("web", 3);
  executor_.RunUntilIdle();
  EXPECT_THAT(EventsWithReason("SuccessfulDelete"),
              ElementsAre("Deleted pod: " + pods[0].metadata().name()));
  Scale("web", 2);
  executor_.RunUntilIdle();
  Scale("web", 1);
  executor_.RunUntilIdle();
  std::vector<v1::Pod> left;
  for (v1::Pod& p : Pods()) {
    if (!p.metadata().has_deletion_timestamp()) left.push_back(std::move(p));
  }
  ASSERT_THAT(left, SizeIs(1));
  EXPECT_EQ(left[0].metadata().name(), pods[3].metadata().name());  // the ready one survives
}

TEST_F(ReplicaSetTest, AdoptsMatchingOrphansAndReleasesPodsThatStopMatching) {
  // An orphan that matches, and one owned by another controller, exist first.
  v1::Pod orphan;
  orphan.mutable_metadata()->set_name("orphan");
  (*orphan.mutable_metadata()->mutable_labels())["app"] = "web";
  orphan.mutable_spec()->add_containers()->set_name("main");
  orphan.mutable_spec()->mutable_containers(0)->set_image("nginx:1.25");
  ASSERT_TRUE(client_->Create(orphan).ok());
  v1::Pod foreign = orphan;
  foreign.mutable_metadata()->set_name("foreign");
  v1::OwnerReference* ref = foreign.mutable_metadata()->add_owner_references();
  ref->set_api_version("apps/v1");
  ref->set_kind("ReplicaSet");
  ref->set_name("other");
  ref->set_uid("other-uid");
  ref->set_controller(true);
  ASSERT_TRUE(client_->Create(foreign).ok());

  Start();
  const v1::ReplicaSet rs = client_->Create(MakeReplicaSet("web", 2)).value();
  executor_.RunUntilIdle();
  v1::Pod adopted = client_->Get<v1::Pod>("default", "orphan").value();
  ASSERT_NE(GetControllerOf(adopted), nullptr);
  EXPECT_EQ(GetControllerOf(adopted)->uid(), rs.metadata().uid());
  EXPECT_NE(GetControllerOf(client_->Get<v1::Pod>("default", "foreign").value())->uid(),
            rs.metadata().uid());
  EXPECT_THAT(Pods(), SizeIs(3));  // orphan (adopted), foreign, one created
  EXPECT_THAT(EventsWithReason("SuccessfulCreate"), SizeIs(1));

  // The adopted pod's labels change: released, and replaced.
  (*adopted.mutable_metadata()->mutable_labels())["app"] = "elsewhere";
  ASSERT_TRUE(client_->Update(adopted).ok());
  executor_.RunUntilIdle();
  EXPECT_EQ(GetControllerOf(client_->Get<v1::Pod>("default", "orphan").value()), nullptr);
  EXPECT_THAT(EventsWithReason("SuccessfulCreate"), SizeIs(2));
  EXPECT_EQ(Get("web").status().replicas(), 2);
}

// The pod watch lags the store: the controller has created its pods but cannot see them.
// Expectations keep a second sync from creating them again.
TEST_F(ReplicaSetTest, ExpectationsKeepALaggingCacheFromCreatingTwice) {
  Controller* c = Start();
  faults_->HoldWatches("/registry/pods/");
  ASSERT_TRUE(client_->Create(MakeReplicaSet("web", 3)).ok());
  executor_.RunUntilIdle();
  EXPECT_EQ(PodCreates(), 3);
  c->Enqueue({"default", "web"});
  c->Enqueue({"default", "web"});
  executor_.RunUntilIdle();
  executor_.AdvanceBy(absl::Seconds(30));
  EXPECT_EQ(PodCreates(), 3);
  faults_->ReleaseWatches();
  executor_.RunUntilIdle();
  EXPECT_EQ(PodCreates(), 3);
  EXPECT_THAT(Pods(), SizeIs(3));
  EXPECT_EQ(Get("web").status().replicas(), 3);
}

TEST_F(ReplicaSetTest, FailedCreatesSlowStartAndSetReplicaFailureUntilTheyStop) {
  Controller* c = Start();
  // Two failures: the sync, and the one its status write triggers at once.
  FailPodCreates(2);
  ASSERT_TRUE(client_->Create(MakeReplicaSet("web", 10)).ok());
  executor_.RunUntilIdle();
  // Each sync's first batch (one pod) failed: nothing more was attempted.
  EXPECT_EQ(faults_->Injected(), 2);
  EXPECT_EQ(PodCreates(), 0);
  v1::ReplicaSet rs = Get("web");
  ASSERT_EQ(rs.status().conditions_size(), 1);
  EXPECT_EQ(rs.status().conditions(0).type(), "ReplicaFailure");
  EXPECT_EQ(rs.status().conditions(0).status(), "True");
  EXPECT_EQ(rs.status().conditions(0).reason(), "FailedCreate");
  EXPECT_THAT(rs.status().conditions(0).message(), HasSubstr("etcd is on fire"));
  EXPECT_THAT(EventsWithReason("FailedCreate"), ElementsAre(HasSubstr("Error creating: ")));
  EXPECT_EQ(c->stats().errors, 2);

  // The retry (after the rate limiter's delay) creates them in batches 1, 2, 4, 3.
  executor_.AdvanceBy(absl::Seconds(1));
  EXPECT_EQ(PodCreates(), 10);
  EXPECT_THAT(Pods(), SizeIs(10));
  rs = Get("web");
  EXPECT_EQ(rs.status().conditions_size(), 0);
  EXPECT_EQ(rs.status().replicas(), 10);
}

TEST_F(ReplicaSetTest, BurstReplicasBoundsOneSync) {
  Start({.burst_replicas = 4});
  ASSERT_TRUE(client_->Create(MakeReplicaSet("web", 10)).ok());
  executor_.RunUntilIdle();
  EXPECT_THAT(Pods(), SizeIs(10));  // 4 + 4 + 2, each sync after the last one's were seen
  EXPECT_EQ(PodCreates(), 10);
}

TEST_F(ReplicaSetTest, AvailabilityWaitsForMinReadySeconds) {
  Start();
  v1::ReplicaSet rs = MakeReplicaSet("web", 2);
  rs.mutable_spec()->set_min_ready_seconds(10);
  ASSERT_TRUE(client_->Create(rs).ok());
  executor_.RunUntilIdle();
  for (const v1::Pod& p : Pods()) MakeReady(p.metadata().name());
  executor_.RunUntilIdle();
  EXPECT_EQ(Get("web").status().ready_replicas(), 2);
  EXPECT_EQ(Get("web").status().available_replicas(), 0);
  executor_.AdvanceBy(absl::Seconds(12));  // no event: the controller looks again itself
  EXPECT_EQ(Get("web").status().available_replicas(), 2);
}

TEST_F(ReplicaSetTest, AReplicaSetBeingDeletedCreatesNothing) {
  Start();
  v1::ReplicaSet rs = MakeReplicaSet("web", 0);
  rs.mutable_metadata()->add_finalizers("example.orch.dev/hold");
  ASSERT_TRUE(client_->Create(rs).ok());
  executor_.RunUntilIdle();
  ASSERT_TRUE(client_->Delete<v1::ReplicaSet>("default", "web").ok());  // held by the finalizer
  rs = Get("web");
  ASSERT_TRUE(rs.metadata().has_deletion_timestamp());
  rs.mutable_spec()->set_replicas(3);
  ASSERT_TRUE(client_->Update(rs).ok());
  executor_.RunUntilIdle();
  EXPECT_THAT(Pods(), IsEmpty());
}

// Random scale changes while pod creates fail now and then and the pod watch lags: the
// controller converges to exactly spec.replicas pods and, while it only scales up, never
// has more pods than asked for.
TEST_F(ReplicaSetTest, ConvergesUnderFaultsWithoutDuplicates) {
  Controller* c = Start();
  std::mt19937 rng(11);
  ASSERT_TRUE(client_->Create(MakeReplicaSet("web", 1)).ok());
  int replicas = 1;
  for (int round = 0; round < 30; ++round) {
    replicas = std::min(40, replicas + static_cast<int>(rng() % 4));
    Scale("web", replicas);
    faults_->ClearFaults();
    FailPodCreates(static_cast<int>(rng() % 3));
    if (rng() % 3 == 0) faults_->HoldWatches("/registry/pods/");
    for (int step = 0; step < 5; ++step) {
      executor_.RunUntilIdle();
      int active = 0;
      for (const v1::Pod& p : Pods()) active += p.metadata().has_deletion_timestamp() ? 0 : 1;
      ASSERT_LE(active, replicas) << "round " << round;
      if (step == 2) faults_->ReleaseWatches();
      executor_.AdvanceBy(absl::Milliseconds(200));
    }
  }
  faults_->ReleaseWatches();
  executor_.AdvanceBy(absl::Minutes(1));
  EXPECT_THAT(Pods(), SizeIs(replicas));
  EXPECT_EQ(Get("web").status().replicas(), replicas);
  EXPECT_GT(c->stats().errors, 0);  // the faults did bite
}

// ---- the deletion order, rule by rule (Kubernetes' ActivePodsWithRanks).

class DeletionOrderTest : public ::testing::Test {
 protected:
  static internal::PodPtr Pod(const std::string& name, std::function<void(v1::Pod&)> set = nullptr) {
    v1::Pod pod;
    pod.mutable_metadata()->set_name(name);
    pod.mutable_metadata()->set_uid("uid-" + name);
    pod.mutable_metadata()->mutable_creation_timestamp()->set_seconds(1000);
    pod.mutable_spec()->set_node_name("n1");
    pod.mutable_status()->set_phase("Running");
    if (set) set(pod);
    return std::make_shared<const v1::Pod>(std::move(pod));
  }
  static void Ready(v1::Pod& pod, int64_t since) {
    auto* c = pod.mutable_status()->add_conditions();
    c->set_type("Ready");
    c->set_status("True");
    c->mutable_last_transition_time()->set_seconds(since);
  }
  // The names in deletion order.
  static std::vector<std::string> Order(std::vector<internal::PodPtr> pods,
                                        std::vector<internal::PodPtr> related = {}) {
    internal::SortForDeletion(pods, related, absl::FromUnixSeconds(1'000'000));
    std::vector<std::string> names;
    for (const auto& p : pods) names.push_back(p->metadata().name());
    return names;
  }
};

TEST_F(DeletionOrderTest, EachRuleDecidesWhenTheOnesBeforeItTie) {
  // 1. unscheduled first.
  EXPECT_THAT(Order({Pod("a"), Pod("b", [](v1::Pod& p) { p.mutable_spec()->clear_node_name(); })}),
              ElementsAre("b", "a"));
  // 2. Pending < Unknown < Running.
  EXPECT_THAT(Order({Pod("run"), Pod("unk", [](v1::Pod& p) { p.mutable_status()->set_phase("Unknown"); }),
                     Pod("pen", [](v1::Pod& p) { p.mutable_status()->set_phase("Pending"); })}),
              ElementsAre("pen", "unk", "run"));
  // 3. not ready first.
  EXPECT_THAT(Order({Pod("ready", [](v1::Pod& p) { Ready(p, 2000); }), Pod("not")}),
              ElementsAre("not", "ready"));
  // 4. lower deletion cost first (malformed counts as 0).
  auto cost = [](const std::string& v) {
    return [v](v1::Pod& p) {
      (*p.mutable_metadata()->mutable_annotations())["controller.kubernetes.io/pod-deletion-cost"] = v;
    };
  };
  EXPECT_THAT(Order({Pod("high", cost("10")), Pod("low", cost("-5")), Pod("bad", cost("x"))}),
              ElementsAre("low", "bad", "high"));
  // 5. more related pods on the node first.
  const auto on = [](const std::string& node) {
    return [node](v1::Pod& p) { p.mutable_spec()->set_node_name(node); };
  };
  EXPECT_THAT(Order({Pod("alone", on("n2")), Pod("crowded", on("n1"))},
                    {Pod("x", on("n1")), Pod("y", on("n1")), Pod("z", on("n2"))}),
              ElementsAre("crowded", "alone"));
  // 6. ready for less time first, on a log scale: 100 s and 200 s differ; 600,000 s and
  //    700,000 s share a log2 rank, and then the uid decides (before restarts would).
  EXPECT_THAT(Order({Pod("old", [](v1::Pod& p) { Ready(p, 1'000'000 - 200); }),
                     Pod("new", [](v1::Pod& p) { Ready(p, 1'000'000 - 100); })}),
              ElementsAre("new", "old"));
  auto restarts = [](int n) {
    return [n](v1::Pod& p) { p.mutable_status()->add_container_statuses()->set_restart_count(n); };
  };
  EXPECT_THAT(Order({Pod("b", [&](v1::Pod& p) {
                       Ready(p, 300'000);
                       restarts(3)(p);
                     }),
                     Pod("a", [&](v1::Pod& p) { Ready(p, 400'000); })}),
              ElementsAre("a", "b"));
  // 7. more restarts first.
  EXPECT_THAT(Order({Pod("calm", restarts(1)), Pod("crashy", restarts(5))}),
              ElementsAre("crashy", "calm"));
  // 8. newer first; on a log-scale tie, by uid.
  const auto created = [](int64_t s) {
    return [s](v1::Pod& p) { p.mutable_metadata()->mutable_creation_timestamp()->set_seconds(s); };
  };
  EXPECT_THAT(Order({Pod("older", created(1'000'000 - 5000)), Pod("newer", created(1'000'000 - 10))}),
              ElementsAre("newer", "older"));
  EXPECT_THAT(Order({Pod("b", created(1'000'000 - 600'000)), Pod("a", created(1'000'000 - 700'000))}),
              ElementsAre("a", "b"));
}

}  // namespace
}  // namespace orch::controller
