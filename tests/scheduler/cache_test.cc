// SchedulerCache's facts about hostnames and anti-affinity terms (Snapshot's
// HostnameLabelsAreNodeNames and AntiAffinityIsPerHostname), kept up to date as nodes and
// pods come, change and go: after every step of a random history they must equal what a
// look at every node and pod finds.
#include "scheduler/cache.h"

#include <algorithm>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "gtest/gtest.h"
#include "scheduler/test_objects.h"

namespace orch::scheduler::internal {
namespace {

using testing::MakeNode;
using testing::MakePod;

// The facts as a full scan of the cache finds them.
bool HostnamesAreNamesByScan(const SchedulerCache& cache) {
  for (const NodeInfo* node : cache.nodes()) {
    const std::string* hostname = node->Label(kLabelHostname);
    if (hostname != nullptr && *hostname != node->name()) return false;
  }
  return true;
}

bool AntiAffinityPerHostnameByScan(const SchedulerCache& cache) {
  for (const NodeInfo* node : cache.nodes()) {
    for (const PodInfoPtr& pod : node->pods()) {
      for (const AffinityTerm& t : pod->required_anti_affinity()) {
        if (t.topology_key != kLabelHostname || t.namespace_selector.has_value()) return false;
      }
    }
  }
  return true;
}

TEST(SchedulerCacheTest, HostnameAndAntiAffinityFactsFollowEveryChange) {
  int wide_seen = 0;
  int foreign_seen = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    std::mt19937_64 rng(seed);
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
    SchedulerCache cache;
    std::vector<std::string> pods;  // uids the cache may hold
    for (int step = 0; step < 300; ++step) {
      const std::string node = fmt::format("node-{}", pick(6));
      switch (pick(7)) {
        case 0:
        case 1: {  // a node comes or changes: its hostname label is its name, another, or none
          auto builder = MakeNode(node).Capacity({{"cpu", "8"}, {"pods", "110"}});
          const int hostname = pick(4);
          if (hostname == 1) builder.Label(std::string(kLabelHostname), node);
          if (hostname == 2) builder.Label(std::string(kLabelHostname), fmt::format("node-{}", pick(6)));
          ASSERT_TRUE(cache.AddOrUpdateNode(builder.Ptr()).ok());
          break;
        }
        case 2:
          cache.RemoveNode(node);
          break;
        case 3:
        case 4: {  // a pod is bound (or rebound) or assumed, with or without wide terms
          const std::string uid = fmt::format("pod-{}", pick(12));
          auto builder = MakePod(uid).Uid(uid).Node(node);
          const int terms = pick(4);
          if (terms == 1) {
            builder.SpecYaml(R"(affinity: {podAntiAffinity: {requiredDuringSchedulingIgnoredDuringExecution: [
                {labelSelector: {matchLabels: {app: x}}, topologyKey: kubernetes.io/hostname}]}})");
          } else if (terms == 2) {
            builder.SpecYaml(R"(affinity: {podAntiAffinity: {requiredDuringSchedulingIgnoredDuringExecution: [
                {labelSelector: {matchLabels: {app: x}}, topologyKey: zone}]}})");
          } else if (terms == 3) {
            builder.SpecYaml(R"(affinity: {podAntiAffinity: {requiredDuringSchedulingIgnoredDuringExecution: [
                {labelSelector: {matchLabels: {app: x}}, topologyKey: kubernetes.io/hostname,
                 namespaceSelector: {}}]}})");
          }
          if (cache.PodOf(uid) == nullptr && pick(2) == 0 && cache.Get(node) != nullptr) {
            cache.AssumePod(builder.Info(), node);
          } else {
            cache.AddOrUpdatePod(builder.Info());
          }
          pods.push_back(uid);
          break;
        }
        case 5:
          if (!pods.empty()) cache.RemovePod(pods[static_cast<size_t>(pick(static_cast<int>(pods.size())))]);
          break;
        default:
          if (!pods.empty()) cache.ForgetPod(pods[static_cast<size_t>(pick(static_cast<int>(pods.size())))]);
          break;
      }
      ASSERT_EQ(cache.HostnameLabelsAreNodeNames(), HostnamesAreNamesByScan(cache))
          << "seed " << seed << ", step " << step;
      ASSERT_EQ(cache.AntiAffinityIsPerHostname(), AntiAffinityPerHostnameByScan(cache))
          << "seed " << seed << ", step " << step;
      wide_seen += cache.AntiAffinityIsPerHostname() ? 0 : 1;
      foreign_seen += cache.HostnameLabelsAreNodeNames() ? 0 : 1;
    }
  }
  // Not vacuous: both facts were false often, and true often.
  EXPECT_GT(wide_seen, 500);
  EXPECT_GT(foreign_seen, 500);
  EXPECT_LT(wide_seen, 20 * 300 - 500);
  EXPECT_LT(foreign_seen, 20 * 300 - 500);
}

// The bound pod its own bind wrote confirms the assumption in place: the node holds the
// new object, with the requests taken over, and keeps its generation; any other version is
// left to AddOrUpdatePod.
TEST(SchedulerCacheTest, ConfirmOwnBindTakesTheWrittenVersionInPlace) {
  SchedulerCache cache;
  ASSERT_TRUE(cache.AddOrUpdateNode(MakeNode("n1").Capacity({{"cpu", "4"}, {"pods", "10"}}).Ptr()).ok());
  ASSERT_TRUE(cache.AddOrUpdateNode(MakeNode("n2").Capacity({{"cpu", "4"}, {"pods", "10"}}).Ptr()).ok());
  auto pending = MakePod("web").Uid("u1").Req({{"cpu", "1"}}).SpecYaml(
      R"(affinity: {podAntiAffinity: {requiredDuringSchedulingIgnoredDuringExecution: [
          {labelSelector: {matchLabels: {app: x}}, topologyKey: kubernetes.io/hostname}]}})");
  cache.AssumePod(pending.Info(), "n1");
  auto bound = [&](const std::string& node, const std::string& version) {
    api::v1::Pod pod = pending.Obj();
    pod.mutable_spec()->set_node_name(node);
    pod.mutable_metadata()->set_resource_version(version);
    return std::make_shared<const api::v1::Pod>(std::move(pod));
  };

  // Not finished, or finished without a version: nothing to confirm by.
  EXPECT_EQ(cache.ConfirmOwnBind(bound("n1", "7")), nullptr);
  cache.FinishBinding("u1", absl::UnixEpoch());
  EXPECT_EQ(cache.ConfirmOwnBind(bound("n1", "7")), nullptr);
  cache.FinishBinding("u1", absl::UnixEpoch(), "7");
  // Another version, or another node: not what the bind wrote.
  EXPECT_EQ(cache.ConfirmOwnBind(bound("n1", "8")), nullptr);
  EXPECT_EQ(cache.ConfirmOwnBind(bound("n2", "7")), nullptr);
  EXPECT_TRUE(cache.IsAssumed("u1"));

  const NodeInfo* n1 = cache.Get("n1");
  const int64_t generation = n1->generation();
  const int64_t log_end = cache.log_end();
  std::shared_ptr<const api::v1::Pod> written = bound("n1", "7");
  PodInfoPtr confirmed = cache.ConfirmOwnBind(written);
  ASSERT_NE(confirmed, nullptr);
  EXPECT_FALSE(cache.IsAssumed("u1"));
  EXPECT_EQ(cache.PodOf("u1"), confirmed);
  EXPECT_EQ(&confirmed->pod(), written.get());
  EXPECT_EQ(confirmed->requests().milli_cpu, 1000);
  EXPECT_EQ(confirmed->required_anti_affinity().size(), 1u);
  EXPECT_EQ(n1->generation(), generation);
  EXPECT_EQ(cache.log_end(), log_end);
  ASSERT_EQ(n1->pods().size(), 1u);
  EXPECT_EQ(n1->pods()[0], confirmed);
  ASSERT_EQ(n1->pods_with_required_anti_affinity().size(), 1u);
  EXPECT_EQ(n1->pods_with_required_anti_affinity()[0], confirmed);
  EXPECT_EQ(n1->requested().milli_cpu, 1000);
  // Confirmed once: the same version again is an ordinary update.
  EXPECT_EQ(cache.ConfirmOwnBind(written), nullptr);
  // And it goes like any bound pod.
  cache.RemovePod("u1");
  EXPECT_TRUE(n1->pods().empty());
  EXPECT_TRUE(n1->pods_with_affinity().empty());
  EXPECT_EQ(n1->requested().milli_cpu, 0);
}

// Assumptions expire only when their bind finished more than the ttl ago and nothing
// settled them since: after every step of a random history of assuming, finishing,
// confirming, updating, removing and forgetting pods, CleanupExpired drops exactly the pods
// a model of each pod's state says it should, and every other pod keeps its state.
TEST(SchedulerCacheTest, CleanupExpiresExactlyTheFinishedAssumptionsPastTheirTtl) {
  constexpr absl::Duration kTtl = absl::Seconds(30);
  struct Model {
    bool assumed = false;
    bool finished = false;
    absl::Time deadline;
  };
  int expired_seen = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    std::mt19937_64 rng(seed);
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
    SchedulerCache cache(kTtl);
    ASSERT_TRUE(cache.AddOrUpdateNode(MakeNode("n1").Capacity({{"cpu", "64"}, {"pods", "110"}}).Ptr()).ok());
    std::map<std::string, Model> model;  // the pods the cache holds
    absl::Time now = absl::UnixEpoch();
    for (int step = 0; step < 400; ++step) {
      const std::string uid = fmt::format("pod-{}", pick(10));
      auto pod = MakePod(uid).Uid(uid).Node("n1");
      const bool held = model.count(uid) > 0;
      switch (pick(6)) {
        case 0:  // a cycle assumes a pod the cache does not hold
          if (!held) {
            cache.AssumePod(pod.Info(), "n1");
            model[uid] = {.assumed = true};
          }
          break;
        case 1:  // its bind finishes
          cache.FinishBinding(uid, now, "7");
          if (held && model[uid].assumed) model[uid] = {true, true, now + kTtl};
          break;
        case 2:  // the bound pod arrives from the informer: confirmed, or an ordinary update
          cache.AddOrUpdatePod(pod.Info());
          model[uid] = {};
          break;
        case 3:
          cache.RemovePod(uid);
          model.erase(uid);
          break;
        case 4:
          cache.ForgetPod(uid);
          if (held && model[uid].assumed) model.erase(uid);
          break;
        default: {  // time passes and the scheduler cleans up
          now += absl::Seconds(pick(20));
          int expected = 0;
          for (auto it = model.begin(); it != model.end();) {
            const Model& m = it->second;
            if (m.assumed && m.finished && m.deadline <= now) {
              ++expected;
              it = model.erase(it);
            } else {
              ++it;
            }
          }
          ASSERT_EQ(cache.CleanupExpired(now), expected) << "seed " << seed << ", step " << step;
          expired_seen += expected;
          break;
        }
      }
      for (int i = 0; i < 10; ++i) {
        const std::string other = fmt::format("pod-{}", i);
        auto it = model.find(other);
        ASSERT_EQ(cache.PodOf(other) != nullptr, it != model.end())
            << other << ", seed " << seed << ", step " << step;
        ASSERT_EQ(cache.IsAssumed(other), it != model.end() && it->second.assumed)
            << other << ", seed " << seed << ", step " << step;
      }
      ASSERT_EQ(cache.pod_count(), model.size());
    }
  }
  EXPECT_GT(expired_seen, 30);  // not vacuous: many assumptions did expire
}

TEST(SchedulerCacheTest, AStatusOnlyUpdateKeepsTheNodesGeneration) {
  SchedulerCache cache;
  ASSERT_TRUE(cache.AddOrUpdateNode(MakeNode("n1").Capacity({{"cpu", "4"}, {"pods", "10"}}).Ptr()).ok());
  ASSERT_TRUE(cache.AddOrUpdateNode(MakeNode("n2").Capacity({{"cpu", "4"}, {"pods", "10"}}).Ptr()).ok());
  const api::v1::Pod base = MakePod("web").Uid("u1").Label("app", "web").Req({{"cpu", "1"}}).Node("n1").Obj();
  cache.AddOrUpdatePod(MakePod("web").Uid("u1").Label("app", "web").Req({{"cpu", "1"}}).Node("n1").Info());
  const NodeInfo* n1 = cache.Get("n1");
  auto version = [&](auto change) {
    api::v1::Pod pod = base;
    change(pod);
    return std::make_shared<const api::v1::Pod>(std::move(pod));
  };

  // What a node agent writes as the pod starts: held in place, the generation kept.
  const int64_t generation = n1->generation();
  auto running = version([](api::v1::Pod& p) {
    p.mutable_status()->set_phase("Running");
    p.mutable_metadata()->set_resource_version("9");
  });
  PodInfoPtr updated = cache.UpdateStatusOnly(running);
  ASSERT_NE(updated, nullptr);
  EXPECT_EQ(&updated->pod(), running.get());
  EXPECT_EQ(updated->requests().milli_cpu, 1000);
  EXPECT_EQ(cache.PodOf("u1"), updated);
  ASSERT_EQ(n1->pods().size(), 1u);
  EXPECT_EQ(n1->pods()[0], updated);
  EXPECT_EQ(n1->generation(), generation);

  // Anything a plugin reads: not in place.
  EXPECT_EQ(cache.UpdateStatusOnly(version([](api::v1::Pod& p) {
              (*p.mutable_metadata()->mutable_labels())["app"] = "db";
            })), nullptr);
  EXPECT_EQ(cache.UpdateStatusOnly(version([](api::v1::Pod& p) {
              p.mutable_metadata()->mutable_deletion_timestamp()->set_seconds(5);
            })), nullptr);
  EXPECT_EQ(cache.UpdateStatusOnly(version([](api::v1::Pod& p) {
              p.mutable_spec()->add_tolerations()->set_key("k");
            })), nullptr);
  EXPECT_EQ(cache.UpdateStatusOnly(version([](api::v1::Pod& p) {
              p.mutable_spec()->set_node_name("n2");
            })), nullptr);
  EXPECT_EQ(cache.UpdateStatusOnly(version([](api::v1::Pod& p) {
              p.mutable_metadata()->set_uid("u2");  // a pod the cache does not hold
            })), nullptr);
  EXPECT_EQ(n1->generation(), generation);
  EXPECT_EQ(cache.PodOf("u1"), updated);

  // An assumed pod is the bind's to confirm.
  cache.AssumePod(MakePod("db").Uid("u3").Req({{"cpu", "1"}}).Info(), "n2");
  EXPECT_EQ(cache.UpdateStatusOnly(MakePod("db").Uid("u3").Req({{"cpu", "1"}}).Node("n2").Ptr()),
            nullptr);
}

TEST(SchedulerCacheTest, TheLabelsGenerationMovesWithNodesAndTheirLabelsOnly) {
  SchedulerCache cache;
  std::vector<int64_t> seen = {cache.node_labels_generation()};
  auto moved = [&] {
    const int64_t now = cache.node_labels_generation();
    const bool is_new = std::find(seen.begin(), seen.end(), now) == seen.end();
    seen.push_back(now);
    return is_new;
  };
  ASSERT_TRUE(cache.AddOrUpdateNode(MakeNode("n1").Label("zone", "a").Ptr()).ok());
  EXPECT_TRUE(moved());
  ASSERT_TRUE(cache.AddOrUpdateNode(MakeNode("n2").Label("zone", "a").Ptr()).ok());
  EXPECT_TRUE(moved());
  // A status change (here: capacity) leaves the labels as they were.
  ASSERT_TRUE(cache.AddOrUpdateNode(
      MakeNode("n1").Label("zone", "a").Capacity({{"cpu", "8"}}).Ptr()).ok());
  EXPECT_EQ(cache.node_labels_generation(), seen.back());
  // Pods come and go without it.
  cache.AddOrUpdatePod(MakePod("web").Uid("u1").Node("n1").Info());
  cache.RemovePod("u1");
  EXPECT_EQ(cache.node_labels_generation(), seen.back());
  ASSERT_TRUE(cache.AddOrUpdateNode(MakeNode("n1").Label("zone", "b").Ptr()).ok());
  EXPECT_TRUE(moved());
  ASSERT_TRUE(cache.AddOrUpdateNode(MakeNode("n1").Label("zone", "b").Label("disk", "ssd").Ptr()).ok());
  EXPECT_TRUE(moved());
  cache.RemoveNode("n2");
  EXPECT_TRUE(moved());
}

}  // namespace
}  // namespace orch::scheduler::internal
