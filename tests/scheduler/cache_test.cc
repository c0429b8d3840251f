// SchedulerCache's facts about hostnames and anti-affinity terms (Snapshot's
// HostnameLabelsAreNodeNames and AntiAffinityIsPerHostname), kept up to date as nodes and
// pods come, change and go: after every step of a random history they must equal what a
// look at every node and pod finds.
#include "scheduler/cache.h"

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

}  // namespace
}  // namespace orch::scheduler::internal
