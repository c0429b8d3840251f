#include "orch/controller/deployment.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "controller/deployment_util.h"
#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orch/api/v1/apps.pb.h"
#include "orch/api/v1/core.pb.h"
#include "orch/controller/ownership.h"
#include "orch/testing/test_cluster.h"
#include "support/status_matchers.h"

namespace orch::controller {
namespace {

namespace v1 = ::orch::api::v1;
using ::orch::testing::StatusIs;
using ::orch::testing::TestCluster;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

v1::IntOrString IntOrPercent(const std::string& text) {
  v1::IntOrString v;
  if (!text.empty() && text.back() == '%') {
    v.set_str_val(text);
  } else {
    v.set_int_val(std::stoi(text));
  }
  return v;
}

v1::Deployment MakeDeployment(const std::string& name, int replicas, const std::string& image,
                              const std::string& surge = "25%", const std::string& unavailable = "25%") {
  v1::Deployment d;
  d.mutable_metadata()->set_name(name);
  d.mutable_metadata()->set_namespace_("default");
  d.mutable_spec()->set_replicas(replicas);
  (*d.mutable_spec()->mutable_selector()->mutable_match_labels())["app"] = name;
  auto* tmpl = d.mutable_spec()->mutable_template_();
  (*tmpl->mutable_metadata()->mutable_labels())["app"] = name;
  auto* c = tmpl->mutable_spec()->add_containers();
  c->set_name("main");
  c->set_image(image);
  auto* rolling = d.mutable_spec()->mutable_strategy()->mutable_rolling_update();
  *rolling->mutable_max_surge() = IntOrPercent(surge);
  *rolling->mutable_max_unavailable() = IntOrPercent(unavailable);
  return d;
}

class DeploymentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    orch::testing::TestClusterOptions options;
    options.nodes = 4;
    options.node_pods = 200;
    options.node_cpu = "64";
    options.seed = Seed();
    // Exits before it is ever ready, and again after each restart: CrashLoopBackOff.
    options.images["crash"] = {.start_delay = absl::Seconds(1), .never_ready = true,
                               .exit_after = absl::Seconds(3)};
    options.images["unready"] = {.start_delay = absl::Seconds(1), .never_ready = true};
    cluster_ = TestCluster::Start(options).value();
    direct_ = std::make_unique<client::Client>(&cluster_->store(), &api::Scheme::Builtin(),
                                               &cluster_->executor().clock(), /*seed=*/99);
  }

  virtual uint64_t Seed() const { return 1; }
  // The test reads and writes the store directly, past the cluster's FaultStore.
  client::Client& client() { return *direct_; }
  v1::Deployment Get(const std::string& name) {
    return client().Get<v1::Deployment>("default", name).value();
  }
  std::vector<v1::ReplicaSet> Sets() { return client().List<v1::ReplicaSet>("default").value().items; }
  std::vector<v1::Pod> Pods() { return client().List<v1::Pod>("default").value().items; }
  // A copy: callers often pass a temporary.
  std::optional<v1::DeploymentCondition> Condition(const v1::Deployment& d, const std::string& type) {
    const v1::DeploymentCondition* c = internal::FindCondition(d.status(), type);
    return c == nullptr ? std::nullopt : std::optional<v1::DeploymentCondition>(*c);
  }
  bool Complete(const std::string& name) {
    const v1::Deployment d = Get(name);
    auto c = Condition(d, "Progressing");
    return internal::DeploymentComplete(d, d.status()) && c.has_value() &&
           c->reason() == internal::kNewReplicaSetAvailableReason;
  }
  void WaitComplete(const std::string& name, absl::Duration timeout = absl::Minutes(5)) {
    ASSERT_TRUE(cluster_->WaitFor([&] { return Complete(name); }, timeout, name + " complete").ok())
        << Get(name).DebugString();
  }
  void SetImage(const std::string& name, const std::string& image) {
    v1::Deployment d = Get(name);
    d.mutable_spec()->mutable_template_()->mutable_spec()->mutable_containers(0)->set_image(image);
    ASSERT_TRUE(client().Update(d).ok());
  }
  void SetReplicas(const std::string& name, int replicas) {
    v1::Deployment d = Get(name);
    d.mutable_spec()->set_replicas(replicas);
    ASSERT_TRUE(client().Update(d).ok());
  }
  // Active pods by image, and how many of them are ready.
  struct Census {
    int total = 0;
    int ready = 0;
    std::map<std::string, int> by_image;
  };
  Census Count() {
    Census c;
    for (const v1::Pod& p : Pods()) {
      if (p.metadata().has_deletion_timestamp()) continue;
      ++c.total;
      ++c.by_image[p.spec().containers(0).image()];
      for (const auto& cond : p.status().conditions()) {
        if (cond.type() == "Ready" && cond.status() == "True") ++c.ready;
      }
    }
    return c;
  }
  v1::ReplicaSet SetWithImage(const std::string& image) {
    for (v1::ReplicaSet& rs : Sets()) {
      if (rs.spec().template_().spec().containers(0).image() == image) return rs;
    }
    ADD_FAILURE() << "no ReplicaSet runs " << image;
    return {};
  }

  std::unique_ptr<TestCluster> cluster_;
  std::unique_ptr<client::Client> direct_;
};

TEST_F(DeploymentTest, ANewDeploymentRollsOutOneHashedReplicaSet) {
  const v1::Deployment created = client().Create(MakeDeployment("web", 3, "nginx:1")).value();
  WaitComplete("web");
  const std::vector<v1::ReplicaSet> sets = Sets();
  ASSERT_THAT(sets, SizeIs(1));
  const v1::ReplicaSet& rs = sets[0];
  const std::string hash = rs.spec().template_().metadata().labels().at("pod-template-hash");
  EXPECT_EQ(rs.metadata().name(), "web-" + hash);
  EXPECT_EQ(rs.spec().selector().match_labels().at("pod-template-hash"), hash);
  EXPECT_EQ(rs.metadata().labels().at("pod-template-hash"), hash);
  EXPECT_EQ(GetControllerOf(rs)->uid(), created.metadata().uid());
  EXPECT_EQ(rs.metadata().annotations().at(internal::kRevisionAnnotation), "1");
  EXPECT_EQ(rs.metadata().annotations().at(internal::kDesiredReplicasAnnotation), "3");
  EXPECT_EQ(rs.metadata().annotations().at(internal::kMaxReplicasAnnotation), "4");

  const v1::Deployment d = Get("web");
  EXPECT_EQ(d.metadata().annotations().at(internal::kRevisionAnnotation), "1");
  EXPECT_EQ(d.status().observed_generation(), d.metadata().generation());
  EXPECT_EQ(d.status().replicas(), 3);
  EXPECT_EQ(d.status().updated_replicas(), 3);
  EXPECT_EQ(d.status().ready_replicas(), 3);
  EXPECT_EQ(d.status().available_replicas(), 3);
  EXPECT_EQ(d.status().unavailable_replicas(), 0);
  ASSERT_TRUE(Condition(d, "Available").has_value());
  EXPECT_EQ(Condition(d, "Available")->status(), "True");
  EXPECT_EQ(Condition(d, "Available")->reason(), "MinimumReplicasAvailable");
  EXPECT_EQ(Condition(d, "Progressing")->status(), "True");
  EXPECT_EQ(Condition(d, "Progressing")->message(),
            fmt::format("ReplicaSet \"{}\" has successfully progressed.", rs.metadata().name()));
  EXPECT_THAT(Count().by_image, ElementsAre(std::pair<const std::string, int>("nginx:1", 3)));
}

// The table: every maxSurge/maxUnavailable combination rolls out in virtual time
// with the bounds holding at every pod change the cluster goes through.
struct RolloutCase {
  int replicas;
  std::string surge;
  std::string unavailable;
};

class RolloutTableTest : public DeploymentTest,
                         public ::testing::WithParamInterface<RolloutCase> {};

TEST_P(RolloutTableTest, BoundsHoldAtEveryStepAndTheRolloutCompletes) {
  const RolloutCase& c = GetParam();
  ASSERT_TRUE(client().Create(MakeDeployment("web", c.replicas, "v1", c.surge, c.unavailable)).ok());
  WaitComplete("web");
  const v1::Deployment d = Get("web");
  const int32_t max_surge = internal::MaxSurge(d);
  const int32_t max_unavailable = internal::MaxUnavailable(d);

  int checks = 0;
  std::string violation;
  auto pods = cluster_->informers().InformerFor<v1::Pod>().value();
  auto check = [&] {
    ++checks;
    int total = 0, available = 0;
    for (const auto& p : pods.lister().List()) {
      if (p->metadata().has_deletion_timestamp()) continue;
      ++total;
      for (const auto& cond : p->status().conditions()) {
        if (cond.type() == "Ready" && cond.status() == "True") ++available;
      }
    }
    if (violation.empty() && total > c.replicas + max_surge) {
      violation = fmt::format("{} pods, more than {} + {}", total, c.replicas, max_surge);
    }
    if (violation.empty() && available < c.replicas - max_unavailable) {
      violation = fmt::format("{} available, fewer than {} - {}", available, c.replicas,
                              max_unavailable);
    }
  };
  pods.AddEventHandler({.on_add = [&](const auto&) { check(); },
                        .on_update = [&](const auto&, const auto&) { check(); },
                        .on_delete = [&](const auto&) { check(); }});
  SetImage("web", "v2");
  WaitComplete("web");
  EXPECT_EQ(violation, "") << "surge " << max_surge << ", unavailable " << max_unavailable;
  EXPECT_GT(checks, 0);
  Census census = Count();
  EXPECT_EQ(census.total, c.replicas);
  EXPECT_EQ(census.by_image["v2"], c.replicas);
  EXPECT_EQ(SetWithImage("v1").spec().replicas(), 0);
}

INSTANTIATE_TEST_SUITE_P(
    Combinations, RolloutTableTest,
    ::testing::Values(RolloutCase{3, "25%", "25%"}, RolloutCase{10, "25%", "25%"},
                      RolloutCase{10, "0", "1"}, RolloutCase{10, "1", "0"},
                      RolloutCase{10, "3", "2"}, RolloutCase{5, "100%", "0"},
                      RolloutCase{5, "0", "100%"}, RolloutCase{4, "50%", "50%"},
                      RolloutCase{1, "0", "1"}, RolloutCase{1, "1", "0"},
                      RolloutCase{1, "25%", "25%"},  // surge rounds up to 1, unavailable down to 0
                      RolloutCase{2, "0%", "1%"},    // both round to 0: unavailable becomes 1
                      RolloutCase{7, "30%", "10%"}, RolloutCase{20, "10%", "15%"}),
    [](const ::testing::TestParamInfo<RolloutCase>& info) {
      std::string name = fmt::format("r{}_s{}_u{}", info.param.replicas, info.param.surge,
                                     info.param.unavailable);
      std::replace(name.begin(), name.end(), '%', 'p');
      return name;
    });

TEST_F(DeploymentTest, ACrashingRolloutStopsWithinBudgetTimesOutAndRollsBack) {
  v1::Deployment d = MakeDeployment("web", 4, "v1", "1", "1");
  d.mutable_spec()->set_progress_deadline_seconds(30);
  ASSERT_TRUE(client().Create(d).ok());
  WaitComplete("web");
  SetImage("web", "crash");
  ASSERT_TRUE(cluster_->WaitFor(
                  [&] {
                    auto c = Condition(Get("web"), "Progressing");
                    return c.has_value() && c->reason() == "ProgressDeadlineExceeded";
                  },
                  absl::Minutes(5), "ProgressDeadlineExceeded")
                  .ok());
  auto c = Condition(Get("web"), "Progressing");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->status(), "False");
  EXPECT_THAT(c->message(), HasSubstr("has timed out progressing."));
  // Within the budget: at most 1 surge pod, at most 1 unavailable.
  Census census = Count();
  EXPECT_LE(census.total, 5);
  EXPECT_EQ(census.by_image["v1"], 3);
  EXPECT_EQ(census.by_image["crash"], 2);

  ORCH_ASSERT_OK_AND_ASSIGN(v1::Deployment rolled, RollbackDeployment(client(), "default", "web"));
  EXPECT_EQ(rolled.spec().template_().spec().containers(0).image(), "v1");
  EXPECT_EQ(rolled.spec().template_().metadata().labels().count("pod-template-hash"), 0u);
  WaitComplete("web");
  census = Count();
  EXPECT_EQ(census.by_image["v1"], 4);
  EXPECT_EQ(census.by_image["crash"], 0);
  // The old ReplicaSet came back under a new revision, remembering its first.
  const v1::ReplicaSet v1_set = SetWithImage("v1");
  EXPECT_EQ(v1_set.metadata().annotations().at(internal::kRevisionAnnotation), "3");
  EXPECT_EQ(v1_set.metadata().annotations().at(internal::kRevisionHistoryAnnotation), "1");
  EXPECT_EQ(Get("web").metadata().annotations().at(internal::kRevisionAnnotation), "3");
  EXPECT_THAT(Sets(), SizeIs(2));
}

TEST_F(DeploymentTest, RecreateStopsEveryOldPodBeforeStartingNewOnes) {
  v1::Deployment d = MakeDeployment("web", 3, "v1");
  d.mutable_spec()->mutable_strategy()->set_type("Recreate");
  d.mutable_spec()->mutable_strategy()->clear_rolling_update();
  ASSERT_TRUE(client().Create(d).ok());
  WaitComplete("web");
  bool mixed = false;
  auto pods = cluster_->informers().InformerFor<v1::Pod>().value();
  pods.AddEventHandler({.on_add = [&](const auto&) {
    Census census = Count();
    if (census.by_image["v1"] > 0 && census.by_image["v2"] > 0) mixed = true;
  }});
  SetImage("web", "v2");
  WaitComplete("web");
  EXPECT_FALSE(mixed);
  EXPECT_EQ(Count().by_image["v2"], 3);
}

TEST_F(DeploymentTest, ScalingDuringARolloutIsProportional) {
  // Kubernetes' documented example: 10 replicas, maxSurge 3, maxUnavailable 2, a rollout
  // stuck on a bad image holds 8 old and 5 new; scaled to 15, 5 more are shared 3 to the
  // old ReplicaSet and 2 to the new one.
  ASSERT_TRUE(client().Create(MakeDeployment("web", 10, "v1", "3", "2")).ok());
  WaitComplete("web");
  SetImage("web", "unready");
  ASSERT_TRUE(cluster_->WaitFor(
                  [&] {
                    return SetWithImage("v1").spec().replicas() == 8 &&
                           SetWithImage("unready").spec().replicas() == 5;
                  },
                  absl::Minutes(1), "8 old and 5 new")
                  .ok());
  cluster_->RunFor(absl::Seconds(10));
  SetReplicas("web", 15);
  ASSERT_TRUE(cluster_->WaitFor(
                  [&] {
                    return SetWithImage("v1").spec().replicas() + SetWithImage("unready").spec().replicas() == 18;
                  },
                  absl::Minutes(1), "18 replicas")
                  .ok());
  EXPECT_EQ(SetWithImage("v1").spec().replicas(), 11);
  EXPECT_EQ(SetWithImage("unready").spec().replicas(), 7);
}

TEST_F(DeploymentTest, APausedDeploymentScalesButDoesNotRollOut) {
  ASSERT_TRUE(client().Create(MakeDeployment("web", 2, "v1")).ok());
  WaitComplete("web");
  v1::Deployment d = Get("web");
  d.mutable_spec()->set_paused(true);
  d.mutable_spec()->mutable_template_()->mutable_spec()->mutable_containers(0)->set_image("v2");
  d.mutable_spec()->set_replicas(4);
  ASSERT_TRUE(client().Update(d).ok());
  cluster_->RunFor(absl::Minutes(1));
  EXPECT_THAT(Sets(), SizeIs(1));
  EXPECT_EQ(Count().by_image["v1"], 4);
  auto c = Condition(Get("web"), "Progressing");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->status(), "Unknown");
  EXPECT_EQ(c->reason(), "DeploymentPaused");

  EXPECT_THAT(RollbackDeployment(client(), "default", "web").status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("resume it first")));
  d = Get("web");
  d.mutable_spec()->set_paused(false);
  ASSERT_TRUE(client().Update(d).ok());
  WaitComplete("web");
  EXPECT_EQ(Count().by_image["v2"], 4);
}

TEST_F(DeploymentTest, RevisionHistoryLimitDeletesTheOldestScaledDownSets) {
  v1::Deployment d = MakeDeployment("web", 1, "v1");
  d.mutable_spec()->set_revision_history_limit(2);
  ASSERT_TRUE(client().Create(d).ok());
  WaitComplete("web");
  for (int v = 2; v <= 5; ++v) {
    SetImage("web", fmt::format("v{}", v));
    WaitComplete("web");
    cluster_->RunFor(absl::Seconds(5));
  }
  std::vector<std::string> revisions;
  for (const v1::ReplicaSet& rs : Sets()) {
    revisions.push_back(rs.metadata().annotations().at(internal::kRevisionAnnotation));
  }
  std::sort(revisions.begin(), revisions.end());
  EXPECT_THAT(revisions, ElementsAre("3", "4", "5"));

  EXPECT_THAT(RollbackDeployment(client(), "default", "web", 1).status(),
              StatusIs(absl::StatusCode::kNotFound, "unable to find specified revision 1 in history"));
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Deployment rolled, RollbackDeployment(client(), "default", "web", 3));
  EXPECT_EQ(rolled.spec().template_().spec().containers(0).image(), "v3");
}

TEST_F(DeploymentTest, RollbackWithoutHistoryIsNotFound) {
  ASSERT_TRUE(client().Create(MakeDeployment("web", 1, "v1")).ok());
  WaitComplete("web");
  EXPECT_THAT(RollbackDeployment(client(), "default", "web").status(),
              StatusIs(absl::StatusCode::kNotFound,
                       "no rollout history found for deployment \"web\""));
  EXPECT_THAT(RollbackDeployment(client(), "default", "nope").status(),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(DeploymentTest, AHashCollisionBumpsCollisionCount) {
  v1::Deployment d = MakeDeployment("web", 1, "v1");
  // Someone else's ReplicaSet already has the name the first template hashes to.
  const std::string hash = internal::ComputeHash(
      client().Create(d).value().spec().template_(), std::nullopt);
  ASSERT_TRUE(client().Delete<v1::Deployment>("default", "web").ok());
  cluster_->RunFor(absl::Seconds(1));
  for (const v1::ReplicaSet& rs : Sets()) {
    ASSERT_TRUE(client().Delete<v1::ReplicaSet>("default", rs.metadata().name()).ok());
  }
  v1::ReplicaSet squatter;
  squatter.mutable_metadata()->set_name("web-" + hash);
  squatter.mutable_metadata()->set_namespace_("default");
  squatter.mutable_spec()->set_replicas(0);
  (*squatter.mutable_spec()->mutable_selector()->mutable_match_labels())["other"] = "x";
  (*squatter.mutable_spec()->mutable_template_()->mutable_metadata()->mutable_labels())["other"] = "x";
  auto* c = squatter.mutable_spec()->mutable_template_()->mutable_spec()->add_containers();
  c->set_name("main");
  c->set_image("other");
  ASSERT_TRUE(client().Create(squatter).ok());
  cluster_->RunFor(absl::Seconds(1));

  ASSERT_TRUE(client().Create(d).ok());
  WaitComplete("web");
  EXPECT_EQ(Get("web").status().collision_count(), 1);
  EXPECT_NE(SetWithImage("v1").metadata().name(), "web-" + hash);
}

TEST_F(DeploymentTest, DeletingADeploymentTakesItsReplicaSetsAndPods) {
  ASSERT_TRUE(client().Create(MakeDeployment("web", 3, "v1")).ok());
  WaitComplete("web");
  SetImage("web", "v2");
  WaitComplete("web");
  ASSERT_THAT(Sets(), SizeIs(2));
  ASSERT_TRUE(client().Delete<v1::Deployment>("default", "web").ok());
  ASSERT_TRUE(cluster_->WaitFor([&] { return Sets().empty() && Pods().empty(); }, absl::Minutes(1),
                                "the garbage collector")
                  .ok());
}

// Conflicts and outages on every kind of call, caches held back and watches broken as a
// compaction breaks them, through a first rollout and an update: the bounds hold against
// the store's own state at every step, the Deployment converges once the faults stop,
// and no pod or ReplicaSet is created beyond what the rollouts need. Every part of the
// cluster (scheduler, controllers, fake nodes) runs through the faults.
class StoreFaultsTest : public DeploymentTest, public ::testing::WithParamInterface<uint64_t> {
 protected:
  uint64_t Seed() const override { return GetParam(); }
};

TEST_P(StoreFaultsTest, ConvergesWithinBoundsWithoutDuplicates) {
  using Op = orch::testing::FaultStore::Op;
  orch::testing::FaultStore& faults = cluster_->faults();
  constexpr int kReplicas = 12;
  ASSERT_TRUE(client().Create(MakeDeployment("web", kReplicas, "v1", "3", "2")).ok());
  std::string violation;
  // Checked after every burst of work, on the store's own state rather than a cache's:
  // the ReplicaSets never ask for more than the surge allows, and no more pods are
  // unready than maxUnavailable allows.
  auto bounds_hold = [&](int max_total, int min_available) {
    int asked = 0;
    for (const v1::ReplicaSet& rs : Sets()) asked += rs.spec().replicas();
    const int ready = Count().ready;
    if (violation.empty() && asked > max_total) {
      violation = fmt::format("ReplicaSets ask for {} pods at {}", asked,
                              absl::FormatTime(cluster_->Now()));
    }
    if (violation.empty() && ready < min_available) {
      violation = fmt::format("{} pods ready at {}", ready, absl::FormatTime(cluster_->Now()));
    }
  };
  // Faults for a while, then none until `done`.
  auto run_with_faults = [&](const std::function<bool()>& done, int max_total,
                             int min_available) {
    faults.SetRandomFaults({.conflict_rate = 0.3, .unavailable_rate = 0.15});
    for (int round = 0; round < 24; ++round) {
      if (round % 5 == 2) faults.BreakWatches();
      if (round == 8) faults.HoldWatches("/registry/pods/");
      if (round == 14) faults.ReleaseWatches();
      (void)cluster_->WaitFor([&] { bounds_hold(max_total, min_available); return false; },
                              absl::Seconds(2), "a round of faults");
    }
    faults.ClearFaults();
    ASSERT_TRUE(cluster_->WaitFor([&] { bounds_hold(max_total, min_available); return done(); },
                                  absl::Minutes(10), "convergence")
                    .ok())
        << Get("web").DebugString();
  };

  run_with_faults([&] { return Complete("web"); }, kReplicas, 0);
  EXPECT_EQ(violation, "");
  EXPECT_EQ(faults.Succeeded(Op::kCreate, "/registry/pods/"), kReplicas);
  EXPECT_EQ(faults.Succeeded(Op::kDelete, "/registry/pods/"), 0);

  SetImage("web", "v2");
  run_with_faults([&] { return Complete("web") && Count().total == kReplicas; }, kReplicas + 3,
                  kReplicas - 2);
  EXPECT_EQ(violation, "");
  EXPECT_GT(faults.Injected(), 50);
  Census census = Count();
  EXPECT_EQ(census.by_image["v2"], kReplicas);
  EXPECT_EQ(census.ready, kReplicas);
  EXPECT_EQ(faults.Succeeded(Op::kCreate, "/registry/pods/"), 2 * kReplicas);
  EXPECT_EQ(faults.Succeeded(Op::kCreate, "/registry/replicasets/"), 2);
  EXPECT_THAT(Sets(), SizeIs(2));
  EXPECT_EQ(SetWithImage("v1").spec().replicas(), 0);
  const v1::Deployment d = Get("web");
  EXPECT_EQ(d.status().observed_generation(), d.metadata().generation());
  EXPECT_EQ(d.status().updated_replicas(), kReplicas);
  EXPECT_EQ(d.status().available_replicas(), kReplicas);
}

// Each seed draws other faults at other moments.
INSTANTIATE_TEST_SUITE_P(Seeds, StoreFaultsTest, ::testing::Range<uint64_t>(1, 9));

TEST(DeploymentUtilTest, FencepostsRoundSurgeUpAndUnavailableDown) {
  v1::Deployment d = MakeDeployment("web", 10, "v1", "25%", "25%");
  d.mutable_spec()->mutable_strategy()->set_type("RollingUpdate");
  EXPECT_EQ(internal::MaxSurge(d), 3);        // 2.5 up
  EXPECT_EQ(internal::MaxUnavailable(d), 2);  // 2.5 down
  d = MakeDeployment("web", 2, "v1", "0%", "1%");
  d.mutable_spec()->mutable_strategy()->set_type("RollingUpdate");
  EXPECT_EQ(internal::MaxSurge(d), 0);
  EXPECT_EQ(internal::MaxUnavailable(d), 1);  // both 0 would never move
  d = MakeDeployment("web", 3, "v1", "0", "10");
  d.mutable_spec()->mutable_strategy()->set_type("RollingUpdate");
  EXPECT_EQ(internal::MaxUnavailable(d), 3);  // never more than replicas
  d.mutable_spec()->mutable_strategy()->set_type("Recreate");
  EXPECT_EQ(internal::MaxSurge(d), 0);
  EXPECT_EQ(internal::MaxUnavailable(d), 0);
}

TEST(DeploymentUtilTest, HashesDifferByTemplateAndCollisionCountAndUseTheSafeAlphabet) {
  v1::PodTemplateSpec a;
  a.mutable_spec()->add_containers()->set_image("v1");
  v1::PodTemplateSpec b = a;
  b.mutable_spec()->mutable_containers(0)->set_image("v2");
  const std::string ha = internal::ComputeHash(a, std::nullopt);
  EXPECT_EQ(ha, internal::ComputeHash(a, std::nullopt));
  EXPECT_NE(ha, internal::ComputeHash(b, std::nullopt));
  EXPECT_NE(ha, internal::ComputeHash(a, 1));
  EXPECT_EQ(ha.find_first_not_of("bcdfghjklmnpqrstvwxz2456789"), std::string::npos);
}

}  // namespace
}  // namespace orch::controller
