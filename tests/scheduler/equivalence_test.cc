// The equivalence cache places every pod exactly where the uncached path does: randomized
// clusters and workloads, scheduled twice from the same seed, must agree pod by pod —
// node, message and all — while the cache really serves most cycles.
#include "scheduler/equivalence.h"

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orch/base/clock.h"
#include "orch/scheduler/config.h"
#include "orch/scheduler/registry.h"
#include "scheduler/algorithm.h"
#include "scheduler/cache.h"
#include "scheduler/cycle.h"
#include "scheduler/profile.h"
#include "scheduler/queue.h"
#include "support/status_matchers.h"
#include "scheduler/test_objects.h"

namespace orch::scheduler::internal {
namespace {

using testing::MakeNode;
using testing::MakePod;

// One scheduler's worth of state: a cache, the default profile over it (or `config` with
// `registry`), an algorithm, and a queue that holds the nominations.
struct SchedulerRun {
  explicit SchedulerRun(bool reuse, uint64_t seed,
                        const v1::KubeSchedulerConfiguration& config = DefaultConfig(),
                        Registry reg = Registry::InTree())
      : registry(std::move(reg)), algorithm(seed, reuse) {
    Profile::Environment environment{&cache, &clock, nullptr, nullptr};
    profile = *Profile::Create(config, 0, "test", registry, environment);
    queue = std::make_unique<SchedulingQueue>(*profile->queue_sort(), clock, PluginEvents());
    profile->set_nominator(queue.get());
  }
  VirtualClock clock;
  Registry registry;
  SchedulerCache cache;
  std::unique_ptr<Profile> profile;
  std::unique_ptr<SchedulingQueue> queue;
  Algorithm algorithm;
};

// A random cluster and a stream of pods drawn from a few shapes, so that shapes repeat.
struct Nomination {
  PodInfoPtr pod;
  std::string node;
};

struct Workload {
  std::vector<api::v1::Node> nodes;
  std::vector<api::v1::Pod> bound;
  std::vector<api::v1::Pod> pending;
  std::vector<Nomination> nominated;  // made and withdrawn as pods are scheduled
};

// Pods spread with DoNotSchedule constraints, over zones (where PodTopologySpread is
// domain-local) or hosts, and with ScheduleAnyway ones (where it scores from inputs it
// names): shapes 7 to 14, drawn mostly by workloads made with `spread`.
constexpr int kFirstSpreadShape = 7;
constexpr int kSpreadShapes = 8;

Workload RandomWorkload(uint64_t seed, int nodes, int pods, bool spread = false) {
  std::mt19937_64 rng(seed);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
  const char* zones[] = {"a", "b", "c"};
  Workload w;
  for (int i = 0; i < nodes; ++i) {
    const std::string name = fmt::format("node-{:03d}", i);
    auto node = MakeNode(name)
                    .Capacity({{"cpu", std::to_string(2 << pick(3))},
                               {"memory", fmt::format("{}Gi", 4 << pick(3))},
                               {"pods", std::to_string(8 + pick(8))}})
                    .Label("kubernetes.io/hostname", name);
    // Half the spread workloads leave some nodes out of every zone.
    if (!spread || seed % 2 == 0 || pick(8) != 0) {
      node.Label("topology.kubernetes.io/zone", zones[pick(3)]);
    }
    if (pick(6) == 0) node.Taint("dedicated", "gpu", "NoSchedule");
    if (pick(5) == 0) node.Taint("spot", "true", "PreferNoSchedule");
    if (pick(3) == 0) node.Label("disk", "ssd");
    if (pick(2) == 0) node.Image({"registry.example/web:v1"}, 300LL << 20);
    w.nodes.push_back(node.Obj());
  }
  // Shapes: requests, selectors, tolerations, preferences, host ports, images; the last
  // two reach across nodes (anti-affinity, spreading), where the cache must step aside.
  auto shape = [&](int s, const std::string& name) {
    auto pod = MakePod(name).Label("app", fmt::format("app-{}", s));
    switch (s) {
      case 0:
        pod.Req({{"cpu", "500m"}, {"memory", "512Mi"}});
        break;
      case 1:
        pod.Req({{"cpu", "1"}, {"memory", "1Gi"}}).NodeSelector("disk", "ssd");
        break;
      case 2:
        pod.Req({{"cpu", "250m"}}).Toleration("dedicated", "Equal", "gpu", "NoSchedule");
        break;
      case 3:
        pod.Req({{"cpu", "100m"}, {"memory", "128Mi"}})
            .SpecYaml(R"(affinity: {nodeAffinity: {preferredDuringSchedulingIgnoredDuringExecution: [
                {weight: 10, preference: {matchExpressions: [{key: topology.kubernetes.io/zone, operator: In, values: [b]}]}}]}})");
        break;
      case 4:
        pod.Req({{"cpu", "200m"}}).HostPort(8080);
        break;
      case 5:
        pod.Req({{"cpu", "300m"}, {"memory", "256Mi"}}).Image("registry.example/web:v1");
        break;
      case 6:
        pod.Req({{"cpu", "100m"}})
            .SpecYaml(R"(affinity: {podAntiAffinity: {requiredDuringSchedulingIgnoredDuringExecution: [
                {labelSelector: {matchLabels: {app: app-6}}, topologyKey: kubernetes.io/hostname}]}})");
        break;
      case 7:
        pod.Req({{"cpu", "100m"}})
            .SpecYaml(R"(topologySpreadConstraints: [{maxSkew: 1, topologyKey: topology.kubernetes.io/zone,
                whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: app-7}}}])");
        break;
      case 8:  // two constraints on one key, one counting another app's pods
        pod.Req({{"cpu", "400m"}, {"memory", "256Mi"}})
            .SpecYaml(R"(topologySpreadConstraints: [
                {maxSkew: 2, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule,
                 labelSelector: {matchLabels: {app: app-8}}},
                {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule,
                 labelSelector: {matchLabels: {app: app-0}}}])");
        break;
      case 9:  // more domains asked for than there are: the minimum counts as 0
        pod.Req({{"cpu", "200m"}})
            .SpecYaml(R"(topologySpreadConstraints: [{maxSkew: 3, minDomains: 4,
                topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule,
                labelSelector: {matchLabels: {app: app-9}}}])");
        break;
      case 10:  // a node selector, with the inclusion policies both ways
        pod.Req({{"cpu", "300m"}})
            .NodeSelector("disk", "ssd")
            .SpecYaml(R"(topologySpreadConstraints: [{maxSkew: 1, topologyKey: topology.kubernetes.io/zone,
                whenUnsatisfiable: DoNotSchedule, nodeAffinityPolicy: Ignore, nodeTaintsPolicy: Honor,
                labelSelector: {matchLabels: {app: app-10}}}])");
        break;
      case 11:  // with a preference to score by, so that failing zones can hold the best node
        pod.Req({{"cpu", "100m"}, {"memory", "64Mi"}})
            .SpecYaml(R"({topologySpreadConstraints: [{maxSkew: 1, topologyKey: topology.kubernetes.io/zone,
                whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: app-11}}}],
                affinity: {nodeAffinity: {preferredDuringSchedulingIgnoredDuringExecution: [
                {weight: 10, preference: {matchExpressions: [{key: disk, operator: In, values: [ssd]}]}}]}}})");
        break;
      case 12:  // preferably spread over hosts: every node's score stands while no other changes
        pod.Req({{"cpu", "100m"}, {"memory", "128Mi"}})
            .SpecYaml(R"(topologySpreadConstraints: [{maxSkew: 1, topologyKey: kubernetes.io/hostname,
                whenUnsatisfiable: ScheduleAnyway, labelSelector: {matchLabels: {app: app-12}}}])");
        break;
      case 13:  // preferably spread over zones and hosts: nodes without a zone are ignored
        pod.Req({{"cpu", "200m"}})
            .SpecYaml(R"(topologySpreadConstraints: [
                {maxSkew: 2, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: ScheduleAnyway,
                 labelSelector: {matchLabels: {app: app-13}}},
                {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: ScheduleAnyway,
                 labelSelector: {matchLabels: {app: app-13}}}])");
        break;
      default:  // one per host
        pod.Req({{"cpu", "100m"}})
            .SpecYaml(R"(topologySpreadConstraints: [{maxSkew: 1, topologyKey: kubernetes.io/hostname,
                whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: app-14}}}])");
        break;
    }
    return pod;
  };
  for (int i = 0; i < nodes; ++i) {
    if (pick(2) == 0) {
      const int s = spread && pick(2) == 0 ? kFirstSpreadShape + pick(kSpreadShapes) : pick(6);
      w.bound.push_back(shape(s, fmt::format("bound-{}", i))
                            .Node(w.nodes[static_cast<size_t>(pick(nodes))].metadata().name())
                            .Uid(fmt::format("bound-{}", i))
                            .Obj());
    }
  }
  for (int i = 0; i < (spread ? 0 : pods / 10); ++i) {
    const std::string name = fmt::format("nominated-{}", i);
    w.nominated.push_back({shape(pick(6), name).Uid(name).Priority(pick(3) - 1).Info(),
                           w.nodes[static_cast<size_t>(pick(nodes))].metadata().name()});
  }
  for (int i = 0; i < pods; ++i) {
    // Mostly the node-local shapes (or, with `spread`, the spread ones), in runs, as
    // ReplicaSets create them.
    const int s = spread       ? (pick(4) == 0 ? pick(6) : kFirstSpreadShape + pick(kSpreadShapes))
                  : pick(10) < 8 ? pick(6)
                                 : 6 + pick(2);
    const int run = 1 + pick(6);
    for (int k = 0; k < run && static_cast<int>(w.pending.size()) < pods; ++k) {
      const std::string name = fmt::format("pod-{}", w.pending.size());
      w.pending.push_back(shape(s, name).Uid(name).Obj());
    }
  }
  return w;
}

// Schedules the workload on `run`; one line per pod: "name -> node | message".
std::vector<std::string> Schedule(SchedulerRun& run, const Workload& w) {
  for (const auto& node : w.nodes) {
    EXPECT_TRUE(run.cache.AddOrUpdateNode(std::make_shared<api::v1::Node>(node)).ok());
  }
  for (const auto& pod : w.bound) {
    run.cache.AddOrUpdatePod(*PodInfo::Create(std::make_shared<api::v1::Pod>(pod)));
  }
  std::vector<std::string> lines;
  for (size_t i = 0; i < w.pending.size(); ++i) {
    PodInfoPtr pod = *PodInfo::Create(std::make_shared<api::v1::Pod>(w.pending[i]));
    CycleState state;
    absl::StatusOr<CycleOutcome> outcome =
        RunSchedulingCycle(*run.profile, run.algorithm, run.cache, state, pod, false);
    EXPECT_TRUE(outcome.ok()) << outcome.status();
    if (!outcome.ok()) break;
    lines.push_back(fmt::format("{} -> {} | {}", pod->name(), outcome->node, outcome->message));
    // Now and then a bound pod goes away, as pods finish: the freed node must be seen.
    if (i % 17 == 16 && !w.bound.empty()) {
      run.cache.RemovePod(w.bound[i % w.bound.size()].metadata().uid());
    }
    // Nominations come and go (as preemption makes them): some pods count on some nodes
    // before they are bound, for pods of their priority or lower.
    if (i % 5 == 4 && !w.nominated.empty()) {
      const Nomination& n = w.nominated[(i / 5) % w.nominated.size()];
      run.queue->AddNominatedPod(n.pod, n.node);
      if (i % 3 == 0) run.queue->DeleteNominatedPod(w.nominated[(i / 3) % w.nominated.size()].pod->uid());
    }
  }
  return lines;
}

// Schedules random workloads with and without the cache; returns the cycles served and run.
// Seeds 1..`seeds`, the n-th on `nodes` + 5n nodes.
std::pair<int64_t, int64_t> CompareRandomWorkloads(bool spread, uint64_t seeds = 12,
                                                   int nodes = 30, int pods = 250) {
  int64_t served = 0;
  int64_t cycles = 0;
  for (uint64_t seed = 1; seed <= seeds; ++seed) {
    const Workload w =
        RandomWorkload(seed, nodes + static_cast<int>(seed) * 5, pods, spread);
    SchedulerRun cached(/*reuse=*/true, seed);
    SchedulerRun uncached(/*reuse=*/false, seed);
    const std::vector<std::string> a = Schedule(cached, w);
    const std::vector<std::string> b = Schedule(uncached, w);
    EXPECT_EQ(a.size(), w.pending.size());
    for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
      if (a[i] != b[i]) {
        ADD_FAILURE() << "seed " << seed << ", pod " << i << ":\n" << a[i] << "\n" << b[i];
        return {served, cycles};
      }
    }
    EXPECT_EQ(uncached.algorithm.equivalence().served_cycles(), 0);
    served += cached.algorithm.equivalence().served_cycles();
    cycles += static_cast<int64_t>(a.size());
  }
  return {served, cycles};
}

TEST(EquivalenceCacheTest, PlacesEveryPodWhereTheUncachedPathDoes) {
  auto [served, cycles] = CompareRandomWorkloads(/*spread=*/false);
  // Not a vacuous comparison: most cycles were served from the cache.
  EXPECT_GT(served, cycles / 2) << served << " of " << cycles;
}

// PodTopologySpread judges whole zones: the cache asks it once per zone and keeps the
// other plugins' verdicts and scores, and must still agree pod by pod.
TEST(EquivalenceCacheTest, PlacesZoneSpreadPodsWhereTheUncachedPathDoes) {
  auto [served, cycles] = CompareRandomWorkloads(/*spread=*/true);
  EXPECT_GT(served, cycles / 2) << served << " of " << cycles;
}

// The cache keeps the nodes of equal score in order, in chunks of a few hundred: on a
// thousand nodes a class's best score is shared by several chunks' worth, which split and
// empty as pods land.
TEST(EquivalenceCacheTest, PlacesPodsOnAThousandNodesWhereTheUncachedPathDoes) {
  for (bool spread : {false, true}) {
    auto [served, cycles] = CompareRandomWorkloads(spread, /*seeds=*/2, /*nodes=*/1100,
                                                   /*pods=*/400);
    EXPECT_GT(served, cycles / 2) << served << " of " << cycles;
  }
}

// `nodes` equal nodes (4 cpu, 8Gi, each labelled with its hostname), then `pods` pods from
// `make(name)`, each scheduled and assumed on its node; returns the nodes chosen.
std::vector<std::string> ScheduleOnEqualNodes(
    SchedulerRun& run, int nodes, int pods,
    const std::function<PodInfoPtr(const std::string&)>& make) {
  for (int i = 0; i < nodes; ++i) {
    const std::string name = fmt::format("node-{:03d}", i);
    EXPECT_TRUE(run.cache
                    .AddOrUpdateNode(MakeNode(name)
                                         .Capacity({{"cpu", "4"}, {"memory", "8Gi"}, {"pods", "110"}})
                                         .Label("kubernetes.io/hostname", name)
                                         .Ptr())
                    .ok());
  }
  std::vector<std::string> chosen;
  for (int i = 0; i < pods; ++i) {
    CycleState state;
    absl::StatusOr<CycleOutcome> outcome = RunSchedulingCycle(
        *run.profile, run.algorithm, run.cache, state, make(fmt::format("pod-{}", i)), false);
    EXPECT_TRUE(outcome.ok()) << outcome.status();
    if (!outcome.ok()) break;
    chosen.push_back(outcome->node);
  }
  return chosen;
}

TEST(EquivalenceCacheTest, EvaluatesOnlyChangedNodesForRepeatedPods) {
  SchedulerRun run(/*reuse=*/true, 1);
  auto make = [](const std::string& name) {
    return MakePod(name).Uid(name).Req({{"cpu", "100m"}, {"memory", "100Mi"}}).Info();
  };
  const std::vector<std::string> chosen = ScheduleOnEqualNodes(run, 200, 100, make);
  EXPECT_EQ(chosen.size(), 100u);
  EXPECT_THAT(chosen, ::testing::Each(::testing::Not(::testing::IsEmpty())));
  const EquivalenceCache& cache = run.algorithm.equivalence();
  // The first pod is scheduled uncached (a class is built on its second pod), the second
  // evaluates all 200 nodes (filter + score), each later one about one node.
  EXPECT_EQ(cache.served_cycles(), 99);
  EXPECT_LT(cache.node_evaluations(), 2 * 200 + 99 * 4);
}

// PodTopologySpread's scores read other nodes (its weights, its zone counts), but it names
// what it read: while that stays the same, a class keeps its scores as for node-local
// plugins, and each later pod costs about one node.
TEST(EquivalenceCacheTest, KeepsSpreadScoresWhileTheirInputsHold) {
  SchedulerRun run(/*reuse=*/true, 1);
  auto make = [](const std::string& name) {
    return MakePod(name)
        .Uid(name)
        .Label("app", "web")
        .Req({{"cpu", "100m"}, {"memory", "100Mi"}})
        .SpecYaml(R"(topologySpreadConstraints: [{maxSkew: 1, topologyKey: kubernetes.io/hostname,
            whenUnsatisfiable: ScheduleAnyway, labelSelector: {matchLabels: {app: web}}}])")
        .Info();
  };
  const std::vector<std::string> chosen = ScheduleOnEqualNodes(run, 200, 100, make);
  std::map<std::string, int> per_node;
  for (const std::string& node : chosen) ++per_node[node];
  // Spread: no node got a second pod while 100 others had none.
  EXPECT_EQ(chosen.size(), 100u);
  EXPECT_EQ(per_node.size(), 100u);
  const EquivalenceCache& cache = run.algorithm.equivalence();
  // The first pod is scheduled uncached, as is the second: its class meets the inputs for
  // the first time (inputs seen once may be changing every cycle). From the third on, the
  // class serves, about one node each.
  EXPECT_EQ(cache.served_cycles(), 98);
  EXPECT_LT(cache.node_evaluations(), 2 * 200 + 98 * 4);
}

// A plugin written against the public API alone, as an operator would: at most `quota`
// pods labelled team=quota per zone. It counts over every node, so it is not node-local,
// but it judges a zone as a whole, so it says so (FilterDomainKey), and the cache must
// serve its pods, once per zone, exactly as the uncached path places them.
class ZoneQuota final : public PreFilterPlugin, public FilterPlugin {
 public:
  static constexpr char kName[] = "ZoneQuota";
  static constexpr char kZone[] = "topology.kubernetes.io/zone";
  ZoneQuota(Handle& handle, int64_t quota) : handle_(handle), quota_(quota) {}

  std::string_view Name() const override { return kName; }
  bool NodeLocal() const override { return false; }

  struct Counts final : CycleState::Data {
    std::map<std::string, int64_t> per_zone;
    std::unique_ptr<Data> Clone() const override { return std::make_unique<Counts>(*this); }
  };

  Status PreFilter(CycleState& state, const PodInfo& pod, PreFilterResult*) override {
    if (!Counted(pod)) return Status::Skip();
    auto counts = std::make_unique<Counts>();
    for (const NodeInfo* node : handle_.snapshot().nodes()) {
      const std::string* zone = node->Label(kZone);
      if (zone == nullptr) continue;
      for (const PodInfoPtr& p : node->pods()) counts->per_zone[*zone] += Counted(*p) ? 1 : 0;
    }
    state.Write(kName, std::move(counts));
    return Status();
  }
  Status AddPod(CycleState& state, const PodInfo&, const PodInfo& other,
                const NodeInfo& node) const override {
    return Move(state, other, node, 1);
  }
  Status RemovePod(CycleState& state, const PodInfo&, const PodInfo& other,
                   const NodeInfo& node) const override {
    return Move(state, other, node, -1);
  }
  Status Filter(CycleState& state, const PodInfo& pod, const NodeInfo& node) const override {
    return FilterDomain(state, pod, node.Label(kZone));
  }
  std::optional<std::string_view> FilterDomainKey(const CycleState&) const override {
    return std::string_view(kZone);
  }
  Status FilterDomain(CycleState& state, const PodInfo&, const std::string* zone) const override {
    const auto* counts = state.Read<Counts>(kName);
    if (counts == nullptr) return Status::Error("no counts");
    if (zone == nullptr) return Status::Unresolvable("node(s) had no zone");
    auto it = counts->per_zone.find(*zone);
    if (it != counts->per_zone.end() && it->second >= quota_) {
      return Status::Unschedulable("zone(s) had used up the team quota");
    }
    return Status();
  }

 private:
  static bool Counted(const PodInfo& pod) {
    auto it = pod.pod().metadata().labels().find("team");
    return it != pod.pod().metadata().labels().end() && it->second == "quota";
  }
  Status Move(CycleState& state, const PodInfo& other, const NodeInfo& node, int64_t delta) const {
    auto* counts = state.Read<Counts>(kName);
    const std::string* zone = node.Label(kZone);
    if (counts != nullptr && zone != nullptr && Counted(other)) counts->per_zone[*zone] += delta;
    return Status();
  }

  Handle& handle_;
  const int64_t quota_;
};

TEST(EquivalenceCacheTest, ServesAThirdPartyDomainLocalPluginExactly) {
  Registry registry = Registry::InTree();
  ASSERT_TRUE(registry
                  .Register(ZoneQuota::kName,
                            [](const PluginArgs&, Handle& handle) -> absl::StatusOr<std::unique_ptr<Plugin>> {
                              return std::make_unique<ZoneQuota>(handle, 20);
                            })
                  .ok());
  absl::StatusOr<v1::KubeSchedulerConfiguration> config = LoadConfig(R"(apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- schedulerName: default-scheduler
  plugins:
    preFilter: {enabled: [{name: ZoneQuota}]}
    filter: {enabled: [{name: ZoneQuota}]}
)", "quota.yaml", registry);
  ASSERT_TRUE(config.ok()) << config.status();

  int64_t served = 0;
  int64_t rejected = 0;
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    Workload w = RandomWorkload(seed, /*nodes=*/20 + static_cast<int>(seed) * 5, /*pods=*/120,
                                /*spread=*/true);
    // Two thirds of the pods count against the quota. Their spread constraints go, so that
    // ZoneQuota is the one plugin judging zones.
    for (size_t i = 0; i < w.pending.size(); ++i) {
      w.pending[i].mutable_spec()->clear_topology_spread_constraints();
      if (i % 3 != 2) (*w.pending[i].mutable_metadata()->mutable_labels())["team"] = "quota";
    }
    SchedulerRun cached(/*reuse=*/true, seed, *config, registry);
    SchedulerRun uncached(/*reuse=*/false, seed, *config, registry);
    const std::vector<std::string> a = Schedule(cached, w);
    const std::vector<std::string> b = Schedule(uncached, w);
    ASSERT_EQ(a, b) << "seed " << seed;
    served += cached.algorithm.equivalence().served_cycles();
    for (const std::string& line : a) rejected += line.find("team quota") != std::string::npos;
  }
  EXPECT_GT(served, 200);
  EXPECT_GT(rejected, 20);  // the quota ran out, and the messages say so
}

}  // namespace
}  // namespace orch::scheduler::internal
