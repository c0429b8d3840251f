// LoadConfig, ResolveProfile and PluginArgs: kube-scheduler's configuration semantics.
#include "orch/scheduler/config.h"

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "orch/api/codec.h"
#include "orch/scheduler/registry.h"
#include "support/status_matchers.h"

namespace orch::scheduler {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::orch::testing::IsOk;
using ::orch::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::Pair;

constexpr absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;
using P = ExtensionPoint;

// Which points each plugin implements, as Kubernetes' plugins do (the real answer comes
// from the instances; these tests need no instances).
const std::map<std::string, std::set<P>>& Points() {
  static const auto* const points = new std::map<std::string, std::set<P>>{
      {"PrioritySort", {P::kQueueSort}},
      {"NodeUnschedulable", {P::kFilter}},
      {"NodeName", {P::kFilter}},
      {"TaintToleration", {P::kFilter, P::kPreScore, P::kScore}},
      {"NodeAffinity", {P::kPreFilter, P::kFilter, P::kPreScore, P::kScore}},
      {"NodePorts", {P::kPreFilter, P::kFilter}},
      {"NodeResourcesFit", {P::kPreFilter, P::kFilter, P::kScore}},
      {"PodTopologySpread", {P::kPreFilter, P::kFilter, P::kPreScore, P::kScore}},
      {"InterPodAffinity", {P::kPreFilter, P::kFilter, P::kPreScore, P::kScore}},
      {"DefaultPreemption", {P::kPostFilter}},
      {"NodeResourcesBalancedAllocation", {P::kPreScore, P::kScore}},
      {"ImageLocality", {P::kScore}},
      {"DefaultBinder", {P::kBind}},
      // Out-of-tree plugins of the tests.
      {"MyPlugin", {P::kPreFilter, P::kFilter, P::kPreScore, P::kScore}},
      {"MyCustomPluginA", {P::kScore}},
      {"MyCustomPluginB", {P::kScore}},
      {"GangPermit", {P::kPermit, P::kReserve}},
      {"CustomSort", {P::kQueueSort}},
  };
  return *points;
}

bool Implements(std::string_view name, ExtensionPoint point) {
  auto it = Points().find(std::string(name));
  return it != Points().end() && it->second.contains(point);
}

Registry TestRegistry() {
  Registry registry = Registry::InTree();
  for (const char* name :
       {"MyPlugin", "MyCustomPluginA", "MyCustomPluginB", "GangPermit", "CustomSort"}) {
    EXPECT_THAT(registry.Register(
                    name,
                    [](const PluginArgs&, Handle&) -> absl::StatusOr<std::unique_ptr<Plugin>> {
                      return absl::UnimplementedError("not built in these tests");
                    }),
                IsOk());
  }
  return registry;
}

absl::StatusOr<v1::KubeSchedulerConfiguration> Load(std::string_view yaml) {
  return LoadConfig(yaml, "sched.yaml", TestRegistry());
}

absl::StatusOr<ResolvedProfile> Resolve(const v1::KubeSchedulerConfiguration& config,
                                        int index = 0) {
  return ResolveProfile(config, index, "sched.yaml", &Implements);
}

// A profile from YAML with the header every file needs.
absl::StatusOr<ResolvedProfile> ResolveYaml(std::string_view body, int index = 0) {
  absl::StatusOr<v1::KubeSchedulerConfiguration> config =
      Load(std::string(
               "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n") +
           std::string(body));
  if (!config.ok()) return config.status();
  return Resolve(*config, index);
}

std::vector<std::string> Names(const std::vector<PluginRef>& refs) {
  std::vector<std::string> names;
  for (const PluginRef& ref : refs) names.push_back(ref.name);
  return names;
}

std::vector<std::pair<std::string, int32_t>> Weighted(const std::vector<PluginRef>& refs) {
  std::vector<std::pair<std::string, int32_t>> out;
  for (const PluginRef& ref : refs) out.emplace_back(ref.name, ref.weight);
  return out;
}

constexpr char kHeader[] =
    "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n";

// ---------------------------------------------------------------------------------------
// Defaults.

TEST(ConfigTest, DefaultProfileHasKubernetesDefaultPluginsAndWeights) {
  ORCH_ASSERT_OK_AND_ASSIGN(ResolvedProfile profile, Resolve(DefaultConfig()));
  EXPECT_EQ(profile.scheduler_name, "default-scheduler");
  EXPECT_EQ(profile.percentage_of_nodes_to_score, 0);
  EXPECT_THAT(Names(profile.queue_sort), ElementsAre("PrioritySort"));
  EXPECT_THAT(Names(profile.pre_filter),
              ElementsAre("NodeAffinity", "NodePorts", "NodeResourcesFit", "PodTopologySpread",
                          "InterPodAffinity"));
  EXPECT_THAT(Names(profile.filter), ElementsAre("NodeUnschedulable", "NodeName", "TaintToleration",
                                                 "NodeAffinity", "NodePorts", "NodeResourcesFit",
                                                 "PodTopologySpread", "InterPodAffinity"));
  EXPECT_THAT(Names(profile.post_filter), ElementsAre("DefaultPreemption"));
  EXPECT_THAT(Names(profile.pre_score),
              ElementsAre("TaintToleration", "NodeAffinity", "PodTopologySpread",
                          "InterPodAffinity", "NodeResourcesBalancedAllocation"));
  EXPECT_THAT(
      Weighted(profile.score),
      ElementsAre(Pair("TaintToleration", 3), Pair("NodeAffinity", 2), Pair("NodeResourcesFit", 1),
                  Pair("PodTopologySpread", 2), Pair("InterPodAffinity", 2),
                  Pair("NodeResourcesBalancedAllocation", 1), Pair("ImageLocality", 1)));
  EXPECT_TRUE(profile.reserve.empty());
  EXPECT_TRUE(profile.permit.empty());
  EXPECT_THAT(Names(profile.bind), ElementsAre("DefaultBinder"));
  // Every plugin once, in first-use order, with empty args.
  std::vector<std::string> plugins;
  for (const auto& [name, args] : profile.plugins) {
    plugins.push_back(name);
    EXPECT_TRUE(args.raw().fields().empty()) << name;
  }
  EXPECT_THAT(plugins,
              ElementsAre("PrioritySort", "NodeAffinity", "NodePorts", "NodeResourcesFit",
                          "PodTopologySpread", "InterPodAffinity", "NodeUnschedulable", "NodeName",
                          "TaintToleration", "DefaultPreemption", "NodeResourcesBalancedAllocation",
                          "ImageLocality", "DefaultBinder"));
}

TEST(ConfigTest, MinimalFileEqualsDefaultConfig) {
  ORCH_ASSERT_OK_AND_ASSIGN(v1::KubeSchedulerConfiguration config, Load(kHeader));
  EXPECT_TRUE(MessageDifferencer::Equals(config, DefaultConfig())) << config.DebugString();
  EXPECT_EQ(config.parallelism(), 16);
  EXPECT_EQ(config.profiles_size(), 1);
  EXPECT_EQ(InitialBackoff(config), absl::Seconds(1));
  EXPECT_EQ(MaxBackoff(config), absl::Seconds(10));
  EXPECT_EQ(InitialBackoff(v1::KubeSchedulerConfiguration()), absl::Seconds(1));
  EXPECT_EQ(MaxBackoff(v1::KubeSchedulerConfiguration()), absl::Seconds(10));

  ORCH_ASSERT_OK_AND_ASSIGN(
      config, Load(std::string(kHeader) + "podInitialBackoffSeconds: 2\npodMaxBackoffSeconds: 60\n"
                                          "percentageOfNodesToScore: 40\n"));
  EXPECT_EQ(InitialBackoff(config), absl::Seconds(2));
  EXPECT_EQ(MaxBackoff(config), absl::Seconds(60));
  ORCH_ASSERT_OK_AND_ASSIGN(ResolvedProfile profile, Resolve(config));
  EXPECT_EQ(profile.percentage_of_nodes_to_score, 40);  // the profile inherits it
}

TEST(ConfigTest, ProfileDefaultsOnlyForALoneProfile) {
  ORCH_ASSERT_OK_AND_ASSIGN(
      v1::KubeSchedulerConfiguration config,
      Load(std::string(kHeader) + "profiles:\n- percentageOfNodesToScore: 5\n"));
  EXPECT_EQ(config.profiles(0).scheduler_name(), "default-scheduler");
  EXPECT_THAT(Load(std::string(kHeader) + "profiles:\n- schedulerName: a\n- {}\n"),
              StatusIs(kInvalid, Eq("sched.yaml: profiles[1].schedulerName: required")));
}

// ---------------------------------------------------------------------------------------
// Disabling, re-weighting, multiPoint.

TEST(ConfigTest, DisablingOnePluginAtOnePoint) {
  ORCH_ASSERT_OK_AND_ASSIGN(ResolvedProfile profile, ResolveYaml(R"(
profiles:
- plugins:
    score:
      disabled:
      - name: ImageLocality
      - name: VolumeBinding     # kube-scheduler files disable plugins orch lacks
    filter:
      disabled:
      - name: NodePorts
)"));
  EXPECT_THAT(
      Names(profile.score),
      ElementsAre("TaintToleration", "NodeAffinity", "NodeResourcesFit", "PodTopologySpread",
                  "InterPodAffinity", "NodeResourcesBalancedAllocation"));
  EXPECT_THAT(Names(profile.filter),
              ElementsAre("NodeUnschedulable", "NodeName", "TaintToleration", "NodeAffinity",
                          "NodeResourcesFit", "PodTopologySpread", "InterPodAffinity"));
  // Disabled at filter only: NodePorts still runs its PreFilter.
  EXPECT_THAT(Names(profile.pre_filter), ::testing::Contains("NodePorts"));
}

TEST(ConfigTest, DisablingEverythingAtAPointKeepsOnlyItsOwnEnabledList) {
  ORCH_ASSERT_OK_AND_ASSIGN(ResolvedProfile profile, ResolveYaml(R"(
profiles:
- plugins:
    score:
      disabled: [{name: '*'}]
      enabled: [{name: ImageLocality, weight: 4}, {name: NodeAffinity}]
    preScore:
      disabled: [{name: '*'}]
)"));
  EXPECT_THAT(Weighted(profile.score),
              ElementsAre(Pair("ImageLocality", 4), Pair("NodeAffinity", 1)));
  EXPECT_TRUE(profile.pre_score.empty());
  EXPECT_EQ(profile.filter.size(), 8u);
}

TEST(ConfigTest, ReweightingMovesThePluginFirstAndKeepsTheRest) {
  ORCH_ASSERT_OK_AND_ASSIGN(ResolvedProfile profile, ResolveYaml(R"(
profiles:
- plugins:
    score:
      enabled:
      - name: NodeResourcesFit
        weight: 5
      - name: TaintToleration     # named without a weight: 1, as in kube-scheduler
)"));
  EXPECT_THAT(
      Weighted(profile.score),
      ElementsAre(Pair("NodeResourcesFit", 5), Pair("TaintToleration", 1), Pair("NodeAffinity", 2),
                  Pair("PodTopologySpread", 2), Pair("InterPodAffinity", 2),
                  Pair("NodeResourcesBalancedAllocation", 1), Pair("ImageLocality", 1)));
  // Other points are untouched.
  EXPECT_EQ(profile.filter.size(), 8u);

  // Re-weighting through multiPoint keeps the default's place.
  ORCH_ASSERT_OK_AND_ASSIGN(profile, ResolveYaml(R"(
profiles:
- plugins:
    multiPoint:
      enabled: [{name: ImageLocality, weight: 7}]
)"));
  EXPECT_EQ(profile.score.back().name, "ImageLocality");
  EXPECT_EQ(profile.score.back().weight, 7);
  EXPECT_EQ(profile.score.size(), 7u);
}

TEST(ConfigTest, MultiPointEnablesAPluginAtEveryPointItImplements) {
  ORCH_ASSERT_OK_AND_ASSIGN(ResolvedProfile profile, ResolveYaml(R"(
profiles:
- schedulerName: multipoint-scheduler
  plugins:
    multiPoint:
      enabled:
      - name: MyPlugin
        weight: 3
      - name: GangPermit
    preScore:
      disabled:
      - name: MyPlugin
)"));
  EXPECT_EQ(profile.scheduler_name, "multipoint-scheduler");
  EXPECT_EQ(profile.pre_filter.back().name, "MyPlugin");  // after the defaults
  EXPECT_EQ(profile.filter.back().name, "MyPlugin");
  EXPECT_EQ(profile.score.back().name, "MyPlugin");
  EXPECT_EQ(profile.score.back().weight, 3);
  EXPECT_THAT(Names(profile.pre_score), ::testing::Not(::testing::Contains("MyPlugin")));
  EXPECT_THAT(Names(profile.permit), ElementsAre("GangPermit"));
  EXPECT_THAT(Names(profile.reserve), ElementsAre("GangPermit"));
  EXPECT_THAT(Names(profile.queue_sort), ElementsAre("PrioritySort"));
}

TEST(ConfigTest, MultiPointDisableAllLeavesOnlyWhatIsNamed) {
  ORCH_ASSERT_OK_AND_ASSIGN(ResolvedProfile profile, ResolveYaml(R"(
profiles:
- plugins:
    multiPoint:
      disabled: [{name: '*'}]
      enabled: [{name: PrioritySort}, {name: NodeName}, {name: DefaultBinder}]
)"));
  EXPECT_THAT(Names(profile.queue_sort), ElementsAre("PrioritySort"));
  EXPECT_THAT(Names(profile.filter), ElementsAre("NodeName"));
  EXPECT_TRUE(profile.score.empty());
  EXPECT_TRUE(profile.pre_filter.empty());
  EXPECT_TRUE(profile.post_filter.empty());
  EXPECT_THAT(Names(profile.bind), ElementsAre("DefaultBinder"));
  EXPECT_EQ(profile.plugins.size(), 3u);

  ORCH_ASSERT_OK_AND_ASSIGN(
      v1::KubeSchedulerConfiguration config,
      Load(std::string(kHeader) +
           "profiles:\n- plugins:\n    multiPoint:\n      disabled: [{name: DefaultPreemption}]\n"
           "    score:\n      enabled: [{name: MyPlugin}]\n"));
  std::vector<std::string> names = ProfilePluginNames(config, 0);
  EXPECT_THAT(names, ::testing::Not(::testing::Contains("DefaultPreemption")));
  EXPECT_THAT(names, ::testing::Contains("MyPlugin"));
  EXPECT_EQ(names.size(), 13u);  // 12 defaults left + MyPlugin
}

TEST(ConfigTest, PointOverridesMultiPointAndRunsFirst) {
  // The docs' precedence example, with the in-tree plugins in the roles of its defaults.
  ORCH_ASSERT_OK_AND_ASSIGN(ResolvedProfile profile, ResolveYaml(R"(
profiles:
- plugins:
    multiPoint:
      enabled:
      - name: CustomSort
      - name: MyPlugin
        weight: 3
      disabled:
      - name: PrioritySort
    filter:
      disabled:
      - name: TaintToleration
    score:
      enabled:
      - name: ImageLocality
)"));
  EXPECT_THAT(Names(profile.queue_sort), ElementsAre("CustomSort"));
  EXPECT_THAT(Names(profile.filter), ::testing::Not(::testing::Contains("TaintToleration")));
  EXPECT_EQ(profile.filter.back().name, "MyPlugin");
  EXPECT_EQ(profile.score.front().name, "ImageLocality");
  EXPECT_EQ(profile.score.back().name, "MyPlugin");
  EXPECT_EQ(profile.score.back().weight, 3);
}

TEST(ConfigTest, ArgsReachTheResolvedProfile) {
  ORCH_ASSERT_OK_AND_ASSIGN(ResolvedProfile profile, ResolveYaml(R"(
profiles:
- pluginConfig:
  - name: InterPodAffinity
    args:
      hardPodAffinityWeight: 5
)"));
  const PluginArgs* args = nullptr;
  for (const auto& [name, plugin_args] : profile.plugins) {
    if (name == "InterPodAffinity") args = &plugin_args;
  }
  ASSERT_NE(args, nullptr);
  EXPECT_EQ(args->source(), "sched.yaml: profiles[0].pluginConfig[0].args");
  v1::InterPodAffinityArgs decoded;
  ASSERT_THAT(args->DecodeInto(decoded), IsOk());
  EXPECT_EQ(decoded.hard_pod_affinity_weight(), 5);
}

// ---------------------------------------------------------------------------------------
// Errors.

TEST(ConfigTest, UnknownPluginNamesItsField) {
  EXPECT_THAT(ResolveYaml("profiles:\n- plugins:\n    score:\n      enabled:\n"
                          "      - name: ImageLocality\n      - name: Foo\n"),
              StatusIs(kInvalid, Eq("sched.yaml: profiles[0].plugins.score.enabled[1].name: "
                                    "unknown plugin \"Foo\"")));
  EXPECT_THAT(ResolveYaml("profiles:\n- pluginConfig:\n  - name: Foo\n"),
              StatusIs(kInvalid, Eq("sched.yaml: profiles[0].pluginConfig[0].name: "
                                    "unknown plugin \"Foo\"")));
  EXPECT_THAT(ResolveYaml("profiles:\n- plugins:\n    multiPoint:\n      enabled: [{name: ''}]\n"),
              StatusIs(kInvalid, Eq("sched.yaml: profiles[0].plugins.multiPoint.enabled[0].name: "
                                    "required")));
}

TEST(ConfigTest, PluginAtAPointItDoesNotImplement) {
  EXPECT_THAT(
      ResolveYaml("profiles:\n- plugins:\n    filter:\n      enabled: [{name: ImageLocality}]\n"),
      StatusIs(kInvalid, Eq("sched.yaml: profiles[0].plugins.filter.enabled[0].name: plugin "
                            "\"ImageLocality\" does not implement the filter extension point")));
  EXPECT_THAT(
      ResolveYaml("profiles:\n- plugins:\n    preEnqueue:\n      enabled: [{name: NodeName}]\n"),
      StatusIs(kInvalid, HasSubstr("preEnqueue.enabled[0].name: plugin \"NodeName\" does not "
                                   "implement the preEnqueue extension point")));
  // Two queue sorts (the default one was not disabled), or no binder.
  EXPECT_THAT(
      ResolveYaml("profiles:\n- plugins:\n    queueSort:\n      enabled: [{name: CustomSort}]\n"),
      StatusIs(kInvalid, Eq("sched.yaml: profiles[0].plugins.queueSort: exactly one queue "
                            "sort plugin must be enabled, found 2")));
  EXPECT_THAT(ResolveYaml("profiles:\n- plugins:\n    bind:\n      disabled: [{name: '*'}]\n"),
              StatusIs(kInvalid, Eq("sched.yaml: profiles[0].plugins.bind: at least one bind "
                                    "plugin is needed")));
  EXPECT_THAT(ResolveProfile(DefaultConfig(), 1, "x", &Implements),
              StatusIs(kInvalid, HasSubstr("profiles[1]: no such profile")));
}

TEST(RegistryTest, ANameIsRegisteredOnceAndBadEntriesAreRefused) {
  Registry registry = TestRegistry();
  const PluginFactory factory = [](const PluginArgs&,
                                   Handle&) -> absl::StatusOr<std::unique_ptr<Plugin>> {
    return absl::UnimplementedError("not built in these tests");
  };
  EXPECT_THAT(registry.Register("MyPlugin", factory),
              StatusIs(absl::StatusCode::kAlreadyExists,
                       Eq("a plugin named \"MyPlugin\" already exists in the registry")));
  // An in-tree name is taken too: an out-of-tree plugin cannot stand in for a default one.
  EXPECT_THAT(registry.Register("NodeResourcesFit", factory),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("\"NodeResourcesFit\"")));
  EXPECT_THAT(registry.Register("", factory),
              StatusIs(kInvalid, Eq("plugin name: must not be empty")));
  EXPECT_THAT(registry.Register("Empty", PluginFactory()),
              StatusIs(kInvalid, Eq("plugin \"Empty\": factory is empty")));
  // What was refused left the registry as it was: the first MyPlugin still loads.
  EXPECT_THAT(Load(std::string(kHeader) + "profiles:\n- plugins:\n    score:\n      enabled:\n"
                                          "      - name: MyPlugin\n"),
              IsOk());
}

TEST(ConfigTest, DuplicatesAreRefused) {
  EXPECT_THAT(Load(std::string(kHeader) + "profiles:\n- schedulerName: a\n- schedulerName: b\n"
                                          "- schedulerName: a\n"),
              StatusIs(kInvalid, Eq("sched.yaml: profiles[2].schedulerName: duplicate value \"a\" "
                                    "(also profiles[0].schedulerName)")));
  EXPECT_THAT(Load(std::string(kHeader) + "profiles:\n- pluginConfig:\n  - name: NodeAffinity\n"
                                          "  - name: NodeAffinity\n"),
              StatusIs(kInvalid, Eq("sched.yaml: profiles[0].pluginConfig[1].name: duplicate value "
                                    "\"NodeAffinity\" (also profiles[0].pluginConfig[0])")));
  EXPECT_THAT(
      Load(std::string(kHeader) + "profiles:\n- plugins:\n    score:\n      enabled:\n"
                                  "      - name: ImageLocality\n      - name: ImageLocality\n"),
      StatusIs(kInvalid, Eq("sched.yaml: profiles[0].plugins.score.enabled[1].name: "
                            "duplicate plugin \"ImageLocality\" (also enabled[0])")));
}

TEST(ConfigTest, BadArgsShape) {
  EXPECT_THAT(
      Load(std::string(kHeader) +
           "profiles:\n- pluginConfig:\n  - name: NodeResourcesFit\n    args: [1, 2]\n"),
      StatusIs(kInvalid, Eq("sched.yaml: profiles[0].pluginConfig[0].args: expected object, "
                            "got array")));
  EXPECT_THAT(Load(std::string(kHeader) + R"(profiles:
- pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: MostAllocated
        resourcez: []
)"),
              StatusIs(kInvalid, Eq("sched.yaml: profiles[0].pluginConfig[0].args: "
                                    "scoringStrategy: unknown field \"resourcez\"")));
  EXPECT_THAT(Load(std::string(kHeader) + R"(profiles:
- pluginConfig:
  - name: InterPodAffinity
    args: {hardPodAffinityWeight: "5"}
)"),
              StatusIs(kInvalid, Eq("sched.yaml: profiles[0].pluginConfig[0].args: "
                                    "hardPodAffinityWeight: expected integer, got string \"5\"")));
  EXPECT_THAT(Load(std::string(kHeader) + R"(profiles:
- pluginConfig:
  - name: DefaultPreemption
    args: {kind: InterPodAffinityArgs}
)"),
              StatusIs(kInvalid, HasSubstr("args: kind: expected \"DefaultPreemptionArgs\"")));
  // Args may name their own type, as kube-scheduler files often do.
  EXPECT_THAT(Load(std::string(kHeader) + R"(profiles:
- pluginConfig:
  - name: DefaultPreemption
    args:
      apiVersion: kubescheduler.config.k8s.io/v1
      kind: DefaultPreemptionArgs
      minCandidateNodesPercentage: 20
)"),
              IsOk());
}

TEST(ConfigTest, FieldValidation) {
  auto load = [](std::string_view body) { return Load(std::string(kHeader) + std::string(body)); };
  EXPECT_THAT(LoadConfig("kind: KubeSchedulerConfiguration\n", "sched.yaml", TestRegistry()),
              StatusIs(kInvalid, Eq("sched.yaml: apiVersion: required")));
  EXPECT_THAT(
      LoadConfig(
          "apiVersion: kubescheduler.config.k8s.io/v1beta3\nkind: KubeSchedulerConfiguration\n",
          "sched.yaml", TestRegistry()),
      StatusIs(kInvalid, HasSubstr("apiVersion: unsupported version")));
  EXPECT_THAT(LoadConfig("apiVersion: kubescheduler.config.k8s.io/v1\nkind: Pod\n", "sched.yaml",
                         TestRegistry()),
              StatusIs(kInvalid, HasSubstr("kind: unsupported kind \"Pod\"")));
  EXPECT_THAT(load("profilez: []\n"),
              StatusIs(kInvalid, Eq("sched.yaml: unknown field \"profilez\"")));
  EXPECT_THAT(load("percentageOfNodesToScore: 101\n"),
              StatusIs(kInvalid, Eq("sched.yaml: percentageOfNodesToScore: invalid value 101: not "
                                    "in valid range [0-100]")));
  EXPECT_THAT(
      load("profiles:\n- percentageOfNodesToScore: -1\n"),
      StatusIs(kInvalid, HasSubstr("profiles[0].percentageOfNodesToScore: invalid value -1")));
  EXPECT_THAT(load("parallelism: 0\n"),
              StatusIs(kInvalid, HasSubstr("parallelism: invalid value 0")));
  EXPECT_THAT(
      load("podInitialBackoffSeconds: 0\n"),
      StatusIs(kInvalid, Eq("sched.yaml: podInitialBackoffSeconds: invalid value 0: must be "
                            "greater than 0")));
  EXPECT_THAT(load("podInitialBackoffSeconds: 20\n"),  // above the default max of 10
              StatusIs(kInvalid, HasSubstr("podMaxBackoffSeconds: invalid value 10: must be "
                                           "greater than or equal to podInitialBackoffSeconds")));
  EXPECT_THAT(
      load(
          "profiles:\n- plugins:\n    score:\n      enabled: [{name: ImageLocality, weight: 0}]\n"),
      StatusIs(kInvalid, Eq("sched.yaml: profiles[0].plugins.score.enabled[0].weight: "
                            "invalid value 0: must be in the range [1-100]")));
  EXPECT_THAT(load("profiles:\n- plugins:\n    score:\n      enabled: [{name: ImageLocality, "
                   "weight: 101}]\n"),
              StatusIs(kInvalid, HasSubstr("invalid value 101")));
  EXPECT_THAT(load("profiles:\n- schedulerName: a\n- schedulerName: b\n  plugins:\n    queueSort:\n"
                   "      disabled: [{name: '*'}]\n      enabled: [{name: CustomSort}]\n"),
              StatusIs(kInvalid, Eq("sched.yaml: profiles[1].plugins.queueSort: must be the same "
                                    "for all profiles")));
}

TEST(ConfigTest, ExtenderValidation) {
  auto load = [](std::string_view extenders) {
    return Load(std::string(kHeader) + "extenders:\n" + std::string(extenders));
  };
  ORCH_ASSERT_OK_AND_ASSIGN(
      v1::KubeSchedulerConfiguration config,
      load(
          "- urlPrefix: http://127.0.0.1:8888/sched\n  filterVerb: filter\n  prioritizeVerb: prio\n"
          "  weight: 2\n  enableHTTPS: false\n  httpTimeout: 1m30s\n  nodeCacheCapable: true\n"
          "  managedResources:\n  - name: example.com/gpu\n    ignoredByScheduler: true\n"
          "  ignorable: true\n  tlsConfig: {insecure: true, caFile: /etc/ca.pem}\n"));
  EXPECT_EQ(config.extenders(0).weight(), 2);
  EXPECT_EQ(config.extenders(0).tls_config().ca_file(), "/etc/ca.pem");
  EXPECT_THAT(load("- filterVerb: filter\n"),
              StatusIs(kInvalid, Eq("sched.yaml: extenders[0].urlPrefix: required")));
  EXPECT_THAT(load("- urlPrefix: http://a\n  prioritizeVerb: prio\n"),
              StatusIs(kInvalid, Eq("sched.yaml: extenders[0].weight: invalid value 0: must have a "
                                    "positive weight applied to it")));
  EXPECT_THAT(
      load("- urlPrefix: http://a\n  bindVerb: bind\n- urlPrefix: http://b\n  bindVerb: bind\n"),
      StatusIs(kInvalid, Eq("sched.yaml: extenders: found 2 extenders implementing bind: "
                            "only one extender can implement bind")));
  EXPECT_THAT(load("- urlPrefix: http://a\n  httpTimeout: soon\n"),
              StatusIs(kInvalid, HasSubstr("extenders[0].httpTimeout: invalid duration \"soon\"")));
  EXPECT_THAT(load("- urlPrefix: http://a\n  httpTimeout: -1s\n"),
              StatusIs(kInvalid, HasSubstr("must not be negative")));
  EXPECT_THAT(
      load("- urlPrefix: http://a\n  managedResources: [{name: cpu}]\n"),
      StatusIs(kInvalid, Eq("sched.yaml: extenders[0].managedResources[0].name: invalid value "
                            "\"cpu\": is an invalid extended resource name")));
  EXPECT_THAT(load("- urlPrefix: http://a\n  managedResources: [{name: example.com/gpu}]\n"
                   "- urlPrefix: http://b\n  managedResources: [{name: example.com/gpu}]\n"),
              StatusIs(kInvalid,
                       HasSubstr("extenders[1].managedResources[0].name: invalid value "
                                 "\"example.com/gpu\": duplicate extender managed resource name")));
}

// ---------------------------------------------------------------------------------------
// Files from the Kubernetes documentation (kubernetes.io/docs/reference/scheduling/config),
// unchanged.

TEST(ConfigTest, KubernetesDocsFilesLoadUnchanged) {
  // "A minimal configuration".
  ORCH_ASSERT_OK_AND_ASSIGN(v1::KubeSchedulerConfiguration minimal,
                            Load(R"(apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: /etc/srv/kubernetes/kube-scheduler/kubeconfig
)"));
  ORCH_ASSERT_OK_AND_ASSIGN(ResolvedProfile profile, Resolve(minimal));
  EXPECT_EQ(profile.score.size(), 7u);

  // "Multiple profiles".
  ORCH_ASSERT_OK_AND_ASSIGN(v1::KubeSchedulerConfiguration two,
                            Load(R"(apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
  - schedulerName: default-scheduler
  - schedulerName: no-scoring-scheduler
    plugins:
      preScore:
        disabled:
        - name: '*'
      score:
        disabled:
        - name: '*'
)"));
  ORCH_ASSERT_OK_AND_ASSIGN(ResolvedProfile first, Resolve(two, 0));
  ORCH_ASSERT_OK_AND_ASSIGN(ResolvedProfile second, Resolve(two, 1));
  EXPECT_EQ(first.score.size(), 7u);
  EXPECT_EQ(second.scheduler_name, "no-scoring-scheduler");
  EXPECT_TRUE(second.score.empty());
  EXPECT_TRUE(second.pre_score.empty());
  EXPECT_EQ(Names(second.filter), Names(first.filter));

  // "Extension points", with its two custom plugins registered by the host.
  ORCH_ASSERT_OK_AND_ASSIGN(v1::KubeSchedulerConfiguration custom,
                            Load(R"(apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
  - plugins:
      score:
        disabled:
        - name: PodTopologySpread
        enabled:
        - name: MyCustomPluginA
          weight: 2
        - name: MyCustomPluginB
          weight: 1
)"));
  ORCH_ASSERT_OK_AND_ASSIGN(profile, Resolve(custom));
  EXPECT_THAT(Weighted(profile.score),
              ElementsAre(Pair("TaintToleration", 3), Pair("NodeAffinity", 2),
                          Pair("NodeResourcesFit", 1), Pair("InterPodAffinity", 2),
                          Pair("NodeResourcesBalancedAllocation", 1), Pair("ImageLocality", 1),
                          Pair("MyCustomPluginA", 2), Pair("MyCustomPluginB", 1)));

  // A typical production file: leader election and args with their own type.
  ORCH_ASSERT_OK_AND_ASSIGN(v1::KubeSchedulerConfiguration full,
                            Load(R"(apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
leaderElection:
  leaderElect: true
  resourceNamespace: kube-system
enableProfiling: false
profiles:
  - schedulerName: default-scheduler
    pluginConfig:
      - name: NodeResourcesFit
        args:
          scoringStrategy:
            type: MostAllocated
            resources:
              - name: cpu
                weight: 1
              - name: memory
                weight: 1
      - name: PodTopologySpread
        args:
          defaultingType: List
          defaultConstraints:
            - maxSkew: 1
              topologyKey: topology.kubernetes.io/zone
              whenUnsatisfiable: ScheduleAnyway
)"));
  ORCH_ASSERT_OK_AND_ASSIGN(profile, Resolve(full));
  for (const auto& [name, args] : profile.plugins) {
    if (name != "PodTopologySpread") continue;
    v1::PodTopologySpreadArgs spread;
    ASSERT_THAT(args.DecodeInto(spread), IsOk());
    EXPECT_EQ(spread.defaulting_type(), "List");
    ASSERT_EQ(spread.default_constraints_size(), 1);
    EXPECT_EQ(spread.default_constraints(0).max_skew(), 1);
    EXPECT_EQ(spread.default_constraints(0).topology_key(), "topology.kubernetes.io/zone");
  }
}

// ---------------------------------------------------------------------------------------
// PluginArgs.

TEST(PluginArgsTest, DecodeIntoAndInvalid) {
  google::protobuf::Struct raw;
  ASSERT_THAT(api::DecodeMessage(R"({"scoringStrategy": {"type": "RequestedToCapacityRatio",
      "resources": [{"name": "cpu", "weight": 3}],
      "requestedToCapacityRatio": {"shape": [{"utilization": 0, "score": 10}]}}})",
                                 "raw", raw),
              IsOk());
  PluginArgs args(raw, "sched.yaml: profiles[0].pluginConfig[2].args");
  v1::NodeResourcesFitArgs fit;
  fit.add_ignored_resources("stale");  // cleared first
  ASSERT_THAT(args.DecodeInto(fit), IsOk());
  EXPECT_TRUE(fit.ignored_resources().empty());
  EXPECT_EQ(fit.scoring_strategy().type(), "RequestedToCapacityRatio");
  EXPECT_EQ(fit.scoring_strategy().resources(0).weight(), 3);
  EXPECT_EQ(fit.scoring_strategy().requested_to_capacity_ratio().shape(0).score(), 10);

  v1::InterPodAffinityArgs wrong_type;
  EXPECT_THAT(args.DecodeInto(wrong_type),
              StatusIs(kInvalid, Eq("sched.yaml: profiles[0].pluginConfig[2].args: unknown field "
                                    "\"scoringStrategy\"")));
  EXPECT_THAT(
      args.Invalid("scoringStrategy.resources[0].weight", "must be in the range [1-100]"),
      StatusIs(kInvalid, Eq("sched.yaml: profiles[0].pluginConfig[2].args: "
                            "scoringStrategy.resources[0].weight: must be in the range [1-100]")));

  PluginArgs none;
  v1::DefaultPreemptionArgs preemption;
  preemption.set_min_candidate_nodes_absolute(3);
  ASSERT_THAT(none.DecodeInto(preemption), IsOk());
  EXPECT_FALSE(preemption.has_min_candidate_nodes_absolute());
  EXPECT_THAT(none.Invalid("x", "bad"), StatusIs(kInvalid, Eq("plugin args: x: bad")));
}

}  // namespace
}  // namespace orch::scheduler
