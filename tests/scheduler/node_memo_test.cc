// What InterPodAffinity and PodTopologySpread remember between cycles (NodeMemo) must never
// change an answer: on a randomized cluster that changes between rounds, plugins that have
// seen every query before give the same Filter verdicts and scores as fresh plugins, which
// count everything anew.
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "gtest/gtest.h"
#include "orch/scheduler/framework.h"
#include "scheduler/fake_handle.h"
#include "scheduler/plugin_test_util.h"
#include "scheduler/plugins/factories.h"
#include "scheduler/spread_affinity_objects.h"
#include "scheduler/test_objects.h"

namespace orch::scheduler {
namespace {

using ::orch::scheduler::testing::FakeHandle;
using ::orch::scheduler::testing::FakeSnapshot;
using ::orch::scheduler::testing::FilterOutcome;
using ::orch::scheduler::testing::MakeNode;
using ::orch::scheduler::testing::MakePlugin;
using ::orch::scheduler::testing::MakePod;
using ::orch::scheduler::testing::NodeBuilder;
using ::orch::scheduler::testing::PodBuilder;
using ::orch::scheduler::testing::RunFilter;
using ::orch::scheduler::testing::RunScore;

constexpr int kNodes = 24;

// Incoming pods: each kind of term and constraint whose counts are remembered.
std::vector<PodInfoPtr> IncomingPods() {
  const std::vector<std::pair<std::string, std::string>> shapes = {
      {"web", R"(affinity: {podAntiAffinity: {requiredDuringSchedulingIgnoredDuringExecution: [
          {labelSelector: {matchLabels: {app: web}}, topologyKey: kubernetes.io/hostname}]}})"},
      {"db", R"(affinity: {podAffinity: {requiredDuringSchedulingIgnoredDuringExecution: [
          {labelSelector: {matchLabels: {app: db}}, topologyKey: topology.kubernetes.io/zone}]}})"},
      {"web", R"(affinity: {podAffinity: {preferredDuringSchedulingIgnoredDuringExecution: [
          {weight: 50, podAffinityTerm: {labelSelector: {matchLabels: {app: web}},
           topologyKey: topology.kubernetes.io/zone}}]},
          podAntiAffinity: {preferredDuringSchedulingIgnoredDuringExecution: [
          {weight: 30, podAffinityTerm: {labelSelector: {matchLabels: {team: a}},
           topologyKey: kubernetes.io/hostname}}]}})"},
      {"web", R"(topologySpreadConstraints: [{maxSkew: 1, topologyKey: topology.kubernetes.io/zone,
          whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: web}}}])"},
      {"db", R"(topologySpreadConstraints: [
          {maxSkew: 2, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: ScheduleAnyway,
           labelSelector: {matchLabels: {app: db}}},
          {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: ScheduleAnyway,
           labelSelector: {matchExpressions: [{key: app, operator: In, values: [db, cache]}]}}])"},
      {"web", "{}"},
  };
  std::vector<PodInfoPtr> pods;
  for (size_t i = 0; i < shapes.size(); ++i) {
    pods.push_back(MakePod(fmt::format("incoming-{}", i))
                       .Label("app", shapes[i].first)
                       .Label("team", "a")
                       .SpecYaml(shapes[i].second)
                       .Info());
  }
  return pods;
}

// An existing pod of random labels and namespace, some with terms of their own.
PodInfoPtr RandomPod(std::mt19937& rng, int serial) {
  const std::vector<std::string> apps = {"web", "db", "cache"};
  PodBuilder pod = MakePod(fmt::format("p-{}", serial));
  pod.Uid(fmt::format("uid-{}", serial))
      .Namespace(rng() % 4 == 0 ? "other" : "default")
      .Label("app", apps[rng() % apps.size()])
      .Label("team", rng() % 2 == 0 ? "a" : "b");
  switch (rng() % 4) {
    case 0:
      pod.SpecYaml(R"(affinity: {podAntiAffinity: {requiredDuringSchedulingIgnoredDuringExecution: [
          {labelSelector: {matchLabels: {app: web}}, topologyKey: kubernetes.io/hostname}]}})");
      break;
    case 1:
      pod.SpecYaml(R"(affinity: {podAffinity: {preferredDuringSchedulingIgnoredDuringExecution: [
          {weight: 20, podAffinityTerm: {labelSelector: {matchLabels: {team: a}},
           topologyKey: topology.kubernetes.io/zone}}]}})");
      break;
    default:
      break;
  }
  return pod.Info();
}

std::vector<NodeInfo> Nodes() {
  const std::vector<std::string> zones = {"z1", "z2", "z3"};
  std::vector<NodeInfo> nodes;
  for (int i = 0; i < kNodes; ++i) {
    const std::string name = fmt::format("node-{:02d}", i);
    NodeBuilder node = MakeNode(name);
    node.Label("kubernetes.io/hostname", name);
    if (i % 7 != 6) node.Label("topology.kubernetes.io/zone", zones[static_cast<size_t>(i) % 3]);
    nodes.push_back(node.Info());
  }
  return nodes;
}

// Every node's Filter verdict and the normalized scores, as one comparable string.
std::string Answers(Plugin& plugin, const PodInfo& pod, const Snapshot& snapshot) {
  std::string out;
  for (const NodeInfo* node : snapshot.nodes()) {
    out += fmt::format("{}={};", node->name(), FilterOutcome(RunFilter(plugin, pod, *node)));
  }
  const testing::ScoreResult scores = RunScore(plugin, pod, snapshot.nodes());
  out += scores.skipped ? "skipped" : fmt::format("{}", fmt::join(scores.normalized, ","));
  return out;
}

TEST(NodeMemoTest, RememberedCountsEqualFreshCountsAsTheClusterChanges) {
  std::mt19937 rng(20261203);
  FakeSnapshot snapshot(Nodes());
  FakeHandle handle(&snapshot);
  const std::vector<PluginFactory> factories = {plugins::NewInterPodAffinity,
                                                plugins::NewPodTopologySpread};
  std::vector<std::unique_ptr<Plugin>> warm;
  for (const PluginFactory& factory : factories) warm.push_back(MakePlugin(factory, handle));
  const std::vector<PodInfoPtr> incoming = IncomingPods();

  std::vector<std::pair<size_t, std::string>> placed;  // (node index, uid)
  int serial = 0;
  int compared = 0;
  for (int round = 0; round < 60; ++round) {
    for (const PodInfoPtr& pod : incoming) {
      for (size_t p = 0; p < factories.size(); ++p) {
        std::unique_ptr<Plugin> fresh = MakePlugin(factories[p], handle);
        ASSERT_EQ(Answers(*warm[p], *pod, snapshot), Answers(*fresh, *pod, snapshot))
            << warm[p]->Name() << " for " << pod->name() << " in round " << round;
        ++compared;
      }
    }
    // Change a few nodes in place: pods come and go.
    for (int change = 0; change < 3; ++change) {
      if (placed.empty() || rng() % 3 != 0) {
        const size_t node = rng() % kNodes;
        PodInfoPtr pod = RandomPod(rng, serial++);
        placed.emplace_back(node, pod->uid());
        snapshot.mutable_node(node).AddPod(std::move(pod));
      } else {
        const size_t victim = rng() % placed.size();
        ASSERT_TRUE(snapshot.mutable_node(placed[victim].first).RemovePod(placed[victim].second));
        placed.erase(placed.begin() + static_cast<std::ptrdiff_t>(victim));
      }
    }
    snapshot.Reindex();
  }
  EXPECT_EQ(compared, 60 * 6 * 2);
  EXPECT_GT(placed.size(), 20u);  // the cluster did grow
}

}  // namespace
}  // namespace orch::scheduler
