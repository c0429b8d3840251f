#include "orch/scheduler/node_info.h"

#include <bit>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scheduler/test_objects.h"
#include "support/status_matchers.h"

namespace orch::scheduler {
namespace {

using ::orch::scheduler::testing::FillResources;
using ::orch::scheduler::testing::MakeNode;
using ::orch::scheduler::testing::MakePod;
using ::orch::scheduler::testing::PodBuilder;
using ::orch::scheduler::testing::ResourceList;
using ::orch::testing::IsOk;
using ::orch::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr int64_t kMi = 1024 * 1024;
constexpr int64_t kGi = 1024 * kMi;

absl::StatusOr<Resources> Parse(const ResourceList& list) {
  google::protobuf::Map<std::string, api::v1::Quantity> map;
  FillResources(list, &map);
  return Resources::FromList(map);
}

// ------------------------------------------------------------------ Resources

TEST(ResourcesTest, FromListUsesKubernetesUnits) {
  ORCH_ASSERT_OK_AND_ASSIGN(
      Resources r, Parse({{"cpu", "1.5"},
                          {"memory", "1Gi"},
                          {"ephemeral-storage", "10G"},
                          {"pods", "110"},
                          {"example.com/gpu", "2"},
                          {"hugepages-2Mi", "4Mi"}}));
  EXPECT_EQ(r.milli_cpu, 1500);
  EXPECT_EQ(r.memory, kGi);
  EXPECT_EQ(r.ephemeral_storage, 10'000'000'000);
  EXPECT_EQ(r.pods, 110);
  EXPECT_EQ(r.Get("example.com/gpu"), 2);
  EXPECT_EQ(r.Get("hugepages-2Mi"), 4 * kMi);
}

TEST(ResourcesTest, FromListRoundsUpLikeValueAndMilliValue) {
  ORCH_ASSERT_OK_AND_ASSIGN(
      Resources r, Parse({{"cpu", "1n"}, {"memory", "1.5"}, {"example.com/fpga", "500m"}}));
  EXPECT_EQ(r.milli_cpu, 1);
  EXPECT_EQ(r.memory, 2);
  EXPECT_EQ(r.Get("example.com/fpga"), 1);
}

TEST(ResourcesTest, FromListIgnoresNamesTheSchedulerDoesNotTrack) {
  // Neither native nor extended (no domain): kube-scheduler's Resource.Add skips it.
  ORCH_ASSERT_OK_AND_ASSIGN(Resources r, Parse({{"storage", "1Gi"}, {"cpu", "1"}}));
  EXPECT_THAT(r.scalar, IsEmpty());
  EXPECT_EQ(r.milli_cpu, 1000);
}

TEST(ResourcesTest, FromListNamesTheBadResource) {
  EXPECT_THAT(Parse({{"memory", "lots"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("[memory]: invalid quantity")));
}

TEST(ResourcesTest, GetSetAddSubtract) {
  Resources a;
  EXPECT_TRUE(a.IsZero());
  a.Set("cpu", 100);
  a.Set("memory", 200);
  a.Set("ephemeral-storage", 300);
  a.Set("pods", 4);
  a.Set("example.com/gpu", 5);
  EXPECT_FALSE(a.IsZero());
  EXPECT_EQ(a.Get("cpu"), 100);
  EXPECT_EQ(a.Get("memory"), 200);
  EXPECT_EQ(a.Get("ephemeral-storage"), 300);
  EXPECT_EQ(a.Get("pods"), 4);
  EXPECT_EQ(a.Get("example.com/gpu"), 5);
  EXPECT_EQ(a.Get("example.com/none"), 0);

  Resources b = a;
  b.Add(a);
  EXPECT_EQ(b.milli_cpu, 200);
  EXPECT_EQ(b.Get("example.com/gpu"), 10);
  b.Subtract(a);
  EXPECT_EQ(b, a);
  b.Subtract(a);
  EXPECT_TRUE(b.IsZero());  // a scalar at 0 is still zero
}

TEST(ResourcesTest, SetMaxTakesEachLargerAmount) {
  Resources a;
  a.milli_cpu = 100;
  a.memory = 500;
  a.scalar["example.com/gpu"] = 1;
  Resources b;
  b.milli_cpu = 300;
  b.memory = 200;
  b.scalar["example.com/gpu"] = 3;
  b.scalar["example.com/fpga"] = 2;
  a.SetMax(b);
  EXPECT_EQ(a.milli_cpu, 300);
  EXPECT_EQ(a.memory, 500);
  EXPECT_EQ(a.Get("example.com/gpu"), 3);
  EXPECT_EQ(a.Get("example.com/fpga"), 2);
}

// ------------------------------------------------------------------ HostPort

TEST(HostPortTest, ConflictsAsKubernetesHostPortInfo) {
  struct Case {
    HostPort a, b;
    bool conflict;
  };
  const Case cases[] = {
      {{"127.0.0.1", "TCP", 80}, {"127.0.0.1", "TCP", 80}, true},
      {{"127.0.0.1", "TCP", 80}, {"127.0.0.2", "TCP", 80}, false},
      {{"127.0.0.1", "TCP", 80}, {"127.0.0.1", "UDP", 80}, false},
      {{"127.0.0.1", "TCP", 80}, {"127.0.0.1", "TCP", 81}, false},
      {{"0.0.0.0", "TCP", 80}, {"127.0.0.1", "TCP", 80}, true},
      {{"127.0.0.1", "TCP", 80}, {"0.0.0.0", "TCP", 80}, true},
      {{"", "TCP", 80}, {"10.0.0.1", "TCP", 80}, true},
      {{"0.0.0.0", "UDP", 80}, {"127.0.0.1", "TCP", 80}, false},
      {{"127.0.0.1", "", 80}, {"127.0.0.1", "TCP", 80}, true},  // default protocol TCP
      {{"127.0.0.1", "", 80}, {"127.0.0.1", "SCTP", 80}, false},
      {{"0.0.0.0", "TCP", 0}, {"0.0.0.0", "TCP", 0}, false},  // no host port
  };
  for (const Case& c : cases) {
    EXPECT_EQ(c.a.ConflictsWith(c.b), c.conflict)
        << c.a.ip << "/" << c.a.protocol << "/" << c.a.port << " vs " << c.b.ip << "/"
        << c.b.protocol << "/" << c.b.port;
    EXPECT_EQ(c.b.ConflictsWith(c.a), c.conflict);
  }
}

// ------------------------------------------------------------------ PodInfo requests

TEST(PodInfoTest, RequestsSumContainersAndCountOnePod) {
  PodInfoPtr pod = MakePod("p")
                       .Req({{"cpu", "100m"}, {"memory", "1Gi"}})
                       .Req({{"cpu", "250m"}, {"example.com/gpu", "1"}})
                       .Info();
  EXPECT_EQ(pod->requests().milli_cpu, 350);
  EXPECT_EQ(pod->requests().memory, kGi);
  EXPECT_EQ(pod->requests().pods, 1);
  EXPECT_EQ(pod->requests().Get("example.com/gpu"), 1);
}

TEST(PodInfoTest, InitContainersRaiseRequestsToTheirPeak) {
  // Containers 1 cpu; an init container needs 2 cpu alone, so the pod needs 2.
  PodInfoPtr pod = MakePod("p")
                       .Req({{"cpu", "1"}, {"memory", "1Gi"}})
                       .InitReq({{"cpu", "2"}, {"memory", "100Mi"}})
                       .InitReq({{"cpu", "500m"}, {"memory", "3Gi"}})
                       .Info();
  EXPECT_EQ(pod->requests().milli_cpu, 2000);
  EXPECT_EQ(pod->requests().memory, 3 * kGi);
}

TEST(PodInfoTest, SidecarsAddUpAndCountDuringLaterInitContainers) {
  // Sidecar 1 cpu keeps running: regular containers 1 + sidecar 1 = 2 cpu; the init
  // container after the sidecar needs 2 + 1 = 3 cpu while it runs.
  PodInfoPtr pod = MakePod("p")
                       .Req({{"cpu", "1"}})
                       .SidecarReq({{"cpu", "1"}})
                       .InitReq({{"cpu", "2"}})
                       .Info();
  EXPECT_EQ(pod->requests().milli_cpu, 3000);

  // An init container before the sidecar does not run alongside it.
  PodInfoPtr before = MakePod("p")
                          .Req({{"cpu", "1"}})
                          .InitReq({{"cpu", "2"}})
                          .SidecarReq({{"cpu", "1"}})
                          .Info();
  EXPECT_EQ(before->requests().milli_cpu, 2000);
}

TEST(PodInfoTest, OverheadIsAdded) {
  PodInfoPtr pod = MakePod("p")
                       .Req({{"cpu", "1"}, {"memory", "1Gi"}})
                       .Overhead({{"cpu", "250m"}, {"memory", "120Mi"}})
                       .Info();
  EXPECT_EQ(pod->requests().milli_cpu, 1250);
  EXPECT_EQ(pod->requests().memory, kGi + 120 * kMi);
  EXPECT_EQ(pod->non_zero_requests().milli_cpu, 1250);
}

TEST(PodInfoTest, NonZeroRequestsDefaultMissingCpuAndMemoryPerContainer) {
  PodInfoPtr pod = MakePod("p")
                       .Req({})                                  // both defaulted
                       .Req({{"cpu", "0"}})                      // explicit zero stays
                       .Req({{"memory", "1Gi"}, {"example.com/gpu", "1"}})
                       .Info();
  EXPECT_EQ(pod->requests().milli_cpu, 0);
  EXPECT_EQ(pod->requests().memory, kGi);
  EXPECT_EQ(pod->non_zero_requests().milli_cpu, 2 * kDefaultMilliCpuRequest);
  EXPECT_EQ(pod->non_zero_requests().memory, 2 * kDefaultMemoryRequest + kGi);
  EXPECT_EQ(pod->non_zero_requests().Get("example.com/gpu"), 1);
  EXPECT_EQ(pod->non_zero_requests().pods, 1);
}

TEST(PodInfoTest, PodWithoutContainersRequestsNothingButItself) {
  PodInfoPtr pod = MakePod("p").Info();
  Resources expected;
  expected.pods = 1;
  EXPECT_EQ(pod->requests(), expected);
  EXPECT_EQ(pod->non_zero_requests(), expected);
}

TEST(PodInfoTest, LimitsAloneAreNotRequestsWithoutDefaulting) {
  // The API server's defaulting copies limits into requests (orch/api/defaults.h), as in
  // Kubernetes; the scheduler reads requests only.
  PodInfoPtr raw = MakePod("p").Req({}, {{"cpu", "2"}}).Info();
  EXPECT_EQ(raw->requests().milli_cpu, 0);

  api::v1::Pod pod = testing::ObjectFromYaml<api::v1::Pod>(R"(
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: c
    image: busybox
    resources: {limits: {cpu: "2", memory: 1Gi}}
)");
  ORCH_ASSERT_OK_AND_ASSIGN(PodInfoPtr defaulted,
                            PodInfo::Create(std::make_shared<const api::v1::Pod>(pod)));
  EXPECT_EQ(defaulted->requests().milli_cpu, 2000);
  EXPECT_EQ(defaulted->requests().memory, kGi);
}

TEST(PodInfoTest, BadQuantityNamesTheField) {
  EXPECT_THAT(PodInfo::Create(MakePod("p").Req({{"cpu", "1"}}).Req({{"cpu", "x"}}).Ptr()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("spec.containers[1].resources.requests[cpu]: invalid quantity")));
  EXPECT_THAT(PodInfo::Create(MakePod("p").InitReq({{"memory", "?"}}).Ptr()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("spec.initContainers[0].resources.requests[memory]")));
  EXPECT_THAT(PodInfo::Create(MakePod("p").Overhead({{"cpu", "abc"}}).Ptr()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("spec.overhead[cpu]")));
  EXPECT_THAT(PodInfo::Create(nullptr), StatusIs(absl::StatusCode::kInvalidArgument));
}

// Equal signatures mean equal Filter and Score results, so the signature tells apart
// everything but the pod's name and nodeName: namespace, each label, the spec.
TEST(PodInfoTest, SchedulingSignatureSeparatesWhatPlacementReads) {
  const auto signature = [](const PodBuilder& b) { return b.Info()->scheduling_signature(); };
  const auto base = [] { return MakePod("a").Label("app", "web").Req({{"cpu", "1"}}); };
  EXPECT_EQ(signature(base()), signature(MakePod("b").Label("app", "web").Req({{"cpu", "1"}})));
  // Label order never matters; where a key ends and its value begins always does.
  EXPECT_EQ(signature(MakePod("a").Label("x", "1").Label("y", "2")),
            signature(MakePod("a").Label("y", "2").Label("x", "1")));
  EXPECT_NE(signature(MakePod("a").Label("ab", "c")), signature(MakePod("a").Label("a", "bc")));
  EXPECT_NE(signature(MakePod("a").Label("a", "")), signature(MakePod("a")));
  EXPECT_NE(signature(base()), signature(base().Namespace("other")));
  EXPECT_NE(signature(base()), signature(base().Label("tier", "front")));
  EXPECT_NE(signature(base()), signature(base().Req({{"memory", "1Gi"}})));
  // A bound pod's signature is its pending form's.
  api::v1::Pod bound = base().Obj();
  bound.mutable_spec()->set_node_name("n1");
  ORCH_ASSERT_OK_AND_ASSIGN(PodInfoPtr info,
                            PodInfo::Create(std::make_shared<const api::v1::Pod>(bound)));
  EXPECT_EQ(info->scheduling_signature(), signature(base()));
}

TEST(PodInfoTest, HostPortsOnlyThoseAskingForOneWithDefaults) {
  api::v1::Pod pod = MakePod("p").HostPort(8080, "", "").HostPort(53, "UDP", "10.0.0.1").Obj();
  pod.mutable_spec()->mutable_containers(0)->add_ports()->set_container_port(9090);  // no host port
  ORCH_ASSERT_OK_AND_ASSIGN(PodInfoPtr info,
                            PodInfo::Create(std::make_shared<const api::v1::Pod>(pod)));
  EXPECT_THAT(info->host_ports(), ElementsAre(HostPort{"0.0.0.0", "TCP", 8080},
                                              HostPort{"10.0.0.1", "UDP", 53}));
}

TEST(PodInfoTest, SidecarHostPortsCountButPlainInitContainersDoNot) {
  api::v1::Pod pod = MakePod("p").HostPort(80).SidecarReq({}).InitReq({}).Obj();
  auto* sidecar = pod.mutable_spec()->mutable_init_containers(0)->add_ports();
  sidecar->set_host_port(9000);
  sidecar->set_protocol("UDP");
  pod.mutable_spec()->mutable_init_containers(1)->add_ports()->set_host_port(9001);
  ORCH_ASSERT_OK_AND_ASSIGN(PodInfoPtr info,
                            PodInfo::Create(std::make_shared<const api::v1::Pod>(pod)));
  EXPECT_THAT(info->host_ports(), ElementsAre(HostPort{"0.0.0.0", "UDP", 9000},
                                              HostPort{"0.0.0.0", "TCP", 80}));
}

TEST(PodInfoTest, PriorityAndIdentity) {
  PodInfoPtr pod = MakePod("web").Namespace("prod").Priority(7).Info();
  EXPECT_EQ(pod->name(), "web");
  EXPECT_EQ(pod->namespace_(), "prod");
  EXPECT_EQ(pod->uid(), "prod/web");
  EXPECT_EQ(pod->priority(), 7);
  EXPECT_EQ(MakePod("x").Info()->priority(), 0);
}

// ------------------------------------------------------------------ affinity terms

api::v1::Pod PodIn(std::string ns, std::vector<std::pair<std::string, std::string>> labels) {
  auto builder = MakePod("other").Namespace(std::move(ns));
  for (auto& [k, v] : labels) builder.Label(k, v);
  return builder.Obj();
}

TEST(AffinityTermTest, DefaultsToThePodsOwnNamespace) {
  PodInfoPtr pod = MakePod("p").Namespace("ns1").SpecYaml(R"(
affinity:
  podAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
    - labelSelector: {matchLabels: {app: db}}
      topologyKey: zone
)").Info();
  ASSERT_EQ(pod->required_affinity().size(), 1u);
  const AffinityTerm& term = pod->required_affinity()[0];
  EXPECT_EQ(term.topology_key, "zone");
  EXPECT_THAT(term.namespaces, UnorderedElementsAre("ns1"));
  EXPECT_FALSE(term.namespace_selector.has_value());
  EXPECT_TRUE(term.Matches(PodIn("ns1", {{"app", "db"}}), nullptr));
  EXPECT_FALSE(term.Matches(PodIn("ns2", {{"app", "db"}}), nullptr));
  EXPECT_FALSE(term.Matches(PodIn("ns1", {{"app", "web"}}), nullptr));
  EXPECT_TRUE(pod->has_affinity_terms());
}

TEST(AffinityTermTest, NamespacesListAndNamespaceSelector) {
  PodInfoPtr pod = MakePod("p").Namespace("ns1").SpecYaml(R"(
affinity:
  podAntiAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
    - labelSelector: {}
      namespaces: [ns2]
      topologyKey: zone
    - labelSelector: {}
      namespaces: [ns2]
      namespaceSelector: {matchLabels: {team: a}}
      topologyKey: zone
    - labelSelector: {}
      namespaceSelector: {}
      topologyKey: zone
)").Info();
  ASSERT_EQ(pod->required_anti_affinity().size(), 3u);
  google::protobuf::Map<std::string, std::string> team_a;
  team_a["team"] = "a";
  google::protobuf::Map<std::string, std::string> team_b;
  team_b["team"] = "b";

  const AffinityTerm& listed = pod->required_anti_affinity()[0];
  EXPECT_THAT(listed.namespaces, UnorderedElementsAre("ns2"));
  EXPECT_TRUE(listed.Matches(PodIn("ns2", {}), nullptr));
  EXPECT_FALSE(listed.Matches(PodIn("ns1", {}), nullptr));  // not the own namespace then

  const AffinityTerm& both = pod->required_anti_affinity()[1];
  EXPECT_TRUE(both.Matches(PodIn("ns2", {}), &team_b));
  EXPECT_TRUE(both.Matches(PodIn("ns3", {}), &team_a));
  EXPECT_FALSE(both.Matches(PodIn("ns3", {}), &team_b));
  EXPECT_FALSE(both.Matches(PodIn("ns3", {}), nullptr));

  const AffinityTerm& all = pod->required_anti_affinity()[2];
  EXPECT_THAT(all.namespaces, IsEmpty());
  EXPECT_TRUE(all.Matches(PodIn("anything", {}), &team_b));
  EXPECT_TRUE(all.Matches(PodIn("unknown", {}), nullptr));  // unknown: no labels
}

TEST(AffinityTermTest, MissingLabelSelectorMatchesNothing) {
  PodInfoPtr pod = MakePod("p").SpecYaml(R"(
affinity:
  podAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 5
      podAffinityTerm: {topologyKey: zone}
    - weight: 3
      podAffinityTerm: {topologyKey: zone, labelSelector: {}}
)").Info();
  ASSERT_EQ(pod->preferred_affinity().size(), 2u);
  EXPECT_EQ(pod->preferred_affinity()[0].weight, 5);
  EXPECT_FALSE(pod->preferred_affinity()[0].term.Matches(PodIn("default", {}), nullptr));
  EXPECT_FALSE(
      pod->preferred_affinity()[0].term.Matches(PodIn("default", {{"a", "b"}}), nullptr));
  EXPECT_EQ(pod->preferred_affinity()[1].weight, 3);
  EXPECT_TRUE(pod->preferred_affinity()[1].term.Matches(PodIn("default", {}), nullptr));
}

TEST(AffinityTermTest, MatchLabelKeysAndMismatchLabelKeysUseThePodsLabels) {
  PodInfoPtr pod = MakePod("p")
                       .Label("tenant", "t1")
                       .Label("rev", "r7")
                       .SpecYaml(R"(
affinity:
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 1
      podAffinityTerm:
        labelSelector: {matchLabels: {app: web}}
        matchLabelKeys: [rev, absent]
        mismatchLabelKeys: [tenant]
        topologyKey: host
)")
                       .Info();
  ASSERT_EQ(pod->preferred_anti_affinity().size(), 1u);
  const AffinityTerm& term = pod->preferred_anti_affinity()[0].term;
  EXPECT_TRUE(term.Matches(PodIn("default", {{"app", "web"}, {"rev", "r7"}, {"tenant", "t2"}}),
                           nullptr));
  EXPECT_TRUE(term.Matches(PodIn("default", {{"app", "web"}, {"rev", "r7"}}), nullptr));
  EXPECT_FALSE(term.Matches(PodIn("default", {{"app", "web"}, {"rev", "r6"}}), nullptr));
  EXPECT_FALSE(term.Matches(PodIn("default", {{"app", "web"}, {"rev", "r7"}, {"tenant", "t1"}}),
                            nullptr));
}

TEST(AffinityTermTest, BadSelectorNamesTheTerm) {
  api::v1::Pod pod = MakePod("p").SpecYaml(R"(
affinity:
  podAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
    - labelSelector: {matchExpressions: [{key: app, operator: In}]}
      topologyKey: zone
)").Obj();
  EXPECT_THAT(PodInfo::Create(std::make_shared<const api::v1::Pod>(pod)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("spec.affinity.podAffinity."
                                 "requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector")));
}

TEST(AffinityTermTest, NoTermsWithoutAffinity) {
  PodInfoPtr pod = MakePod("p").NodeSelector("a", "b").Info();
  EXPECT_FALSE(pod->has_affinity_terms());
}

// ------------------------------------------------------------------ images

TEST(NormalizedImageNameTest, AddsLatestOnlyWithoutTagOrDigest) {
  EXPECT_EQ(NormalizedImageName("nginx"), "nginx:latest");
  EXPECT_EQ(NormalizedImageName("nginx:1.25"), "nginx:1.25");
  EXPECT_EQ(NormalizedImageName("registry:5000/team/app"), "registry:5000/team/app:latest");
  EXPECT_EQ(NormalizedImageName("registry:5000/team/app:v2"), "registry:5000/team/app:v2");
  EXPECT_EQ(NormalizedImageName("gcr.io/x/app@sha256:abcd"), "gcr.io/x/app@sha256:abcd");
}

// ------------------------------------------------------------------ NodeInfo

TEST(NodeInfoTest, CreateReadsAllocatableAndImages) {
  NodeInfo node = MakeNode("n1")
                      .Capacity({{"cpu", "4"}, {"memory", "8Gi"}, {"pods", "110"}})
                      .Allocatable({{"cpu", "3500m"}})
                      .Image({"nginx", "docker.io/library/nginx:latest"}, 100 * kMi)
                      .Image({"redis:7"}, 50 * kMi)
                      .Info();
  EXPECT_EQ(node.name(), "n1");
  EXPECT_EQ(node.allocatable().milli_cpu, 3500);
  EXPECT_EQ(node.allocatable().memory, 8 * kGi);
  EXPECT_EQ(node.allocatable().pods, 110);
  EXPECT_TRUE(node.requested().IsZero());
  ASSERT_EQ(node.images().size(), 3u);
  EXPECT_EQ(node.images().at("nginx:latest").size_bytes, 100 * kMi);
  EXPECT_EQ(node.images().at("docker.io/library/nginx:latest").size_bytes, 100 * kMi);
  EXPECT_EQ(node.images().at("redis:7").size_bytes, 50 * kMi);
  EXPECT_EQ(node.images().at("redis:7").num_nodes, 0);
}

TEST(NodeInfoTest, BadAllocatableNamesTheField) {
  auto node = MakeNode("n1").Allocatable({{"cpu", "four"}}).Ptr();
  EXPECT_THAT(NodeInfo::Create(node),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("status.allocatable[cpu]: invalid quantity")));
  EXPECT_THAT(NodeInfo::Create(nullptr), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(NodeInfoTest, AddAndRemovePodsKeepSums) {
  NodeInfo node = MakeNode("n1").Capacity({{"cpu", "4"}, {"pods", "10"}}).Info();
  PodInfoPtr a = MakePod("a").Req({{"cpu", "1"}, {"memory", "1Gi"}}).HostPort(80).Info();
  PodInfoPtr b = MakePod("b").Req({}).HostPort(80, "TCP", "10.0.0.1").Info();
  PodInfoPtr c = MakePod("c")
                     .Req({{"cpu", "500m"}})
                     .SpecYaml(R"(
affinity:
  podAntiAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
    - {labelSelector: {}, topologyKey: zone}
)")
                     .Info();
  node.AddPod(a);
  node.AddPod(b);
  node.AddPod(c);
  EXPECT_EQ(node.pods().size(), 3u);
  EXPECT_EQ(node.requested().milli_cpu, 1500);
  EXPECT_EQ(node.requested().memory, kGi);
  EXPECT_EQ(node.requested().pods, 3);
  EXPECT_EQ(node.non_zero_requested().milli_cpu, 1500 + kDefaultMilliCpuRequest);
  EXPECT_EQ(node.non_zero_requested().memory, kGi + 2 * kDefaultMemoryRequest);
  EXPECT_THAT(node.used_ports(), UnorderedElementsAre(HostPort{"0.0.0.0", "TCP", 80},
                                                      HostPort{"10.0.0.1", "TCP", 80}));
  ASSERT_EQ(node.pods_with_affinity().size(), 1u);
  EXPECT_EQ(node.pods_with_affinity()[0]->name(), "c");
  ASSERT_EQ(node.pods_with_required_anti_affinity().size(), 1u);
  ASSERT_NE(node.FindPod("default/b"), nullptr);
  EXPECT_EQ(node.FindPod("default/b")->name(), "b");

  EXPECT_TRUE(node.RemovePod("default/a"));
  EXPECT_FALSE(node.RemovePod("default/a"));
  EXPECT_EQ(node.FindPod("default/a"), nullptr);
  EXPECT_EQ(node.requested().milli_cpu, 500);
  EXPECT_EQ(node.requested().memory, 0);
  EXPECT_EQ(node.requested().pods, 2);
  EXPECT_THAT(node.used_ports(), ElementsAre(HostPort{"10.0.0.1", "TCP", 80}));

  EXPECT_TRUE(node.RemovePod("default/c"));
  EXPECT_THAT(node.pods_with_affinity(), IsEmpty());
  EXPECT_THAT(node.pods_with_required_anti_affinity(), IsEmpty());
  EXPECT_TRUE(node.RemovePod("default/b"));
  EXPECT_TRUE(node.requested().IsZero());
  EXPECT_TRUE(node.non_zero_requested().IsZero());
  EXPECT_THAT(node.used_ports(), IsEmpty());
}

TEST(NodeInfoTest, RemovePodByPodInfoTakesThatPodInfoOnly) {
  NodeInfo node = MakeNode("n1").Capacity({{"cpu", "4"}, {"pods", "10"}}).Info();
  PodInfoPtr plain = MakePod("a").Req({{"cpu", "1"}}).Info();
  PodInfoPtr anti = MakePod("b")
                        .Req({{"cpu", "500m"}})
                        .SpecYaml(R"(affinity: {podAntiAffinity: {requiredDuringSchedulingIgnoredDuringExecution: [
                            {labelSelector: {}, topologyKey: zone}]}})")
                        .Info();
  node.AddPod(plain);
  node.AddPod(anti);
  // Another PodInfo of the same pod is not the one held.
  EXPECT_FALSE(node.RemovePod(MakePod("a").Req({{"cpu", "1"}}).Info()));
  EXPECT_EQ(node.pods().size(), 2u);
  const int64_t before = node.generation();
  EXPECT_TRUE(node.RemovePod(anti));
  EXPECT_NE(node.generation(), before);
  EXPECT_THAT(node.pods_with_affinity(), IsEmpty());
  EXPECT_THAT(node.pods_with_required_anti_affinity(), IsEmpty());
  EXPECT_EQ(node.requested().milli_cpu, 1000);
  EXPECT_FALSE(node.RemovePod(anti));
  // The entry itself may be what is passed.
  EXPECT_TRUE(node.RemovePod(node.pods()[0]));
  EXPECT_TRUE(node.requested().IsZero());
}

TEST(PodInfoTest, LabelFilterHoldsTheBitsOfItsNamespaceAndEveryPair) {
  PodInfoPtr pod = MakePod("a").Namespace("shop").Label("app", "web").Label("tier", "front").Info();
  const uint64_t filter = pod->label_filter();
  auto has = [&](uint64_t bits) { return (filter & bits) == bits; };
  EXPECT_TRUE(has(PodInfo::NamespaceBits("shop")));
  EXPECT_TRUE(has(PodInfo::LabelBits("app", "web")));
  EXPECT_TRUE(has(PodInfo::LabelBits("tier", "front")));
  EXPECT_EQ(filter, PodInfo::NamespaceBits("shop") | PodInfo::LabelBits("app", "web") |
                        PodInfo::LabelBits("tier", "front"));
  // Two bits a pair.
  EXPECT_LE(std::popcount(PodInfo::LabelBits("app", "web")), 2);
  EXPECT_NE(PodInfo::LabelBits("app", "web"), 0u);

  // A selector requires the bits of its single-valued equalities only.
  auto selector = api::LabelSelector::Parse("app=web,tier in (front),env notin (dev),zone");
  ASSERT_THAT(selector.status(), IsOk());
  EXPECT_EQ(PodInfo::RequiredBits(*selector),
            PodInfo::LabelBits("app", "web") | PodInfo::LabelBits("tier", "front"));
  auto two_values = api::LabelSelector::Parse("tier in (front,back)");
  ASSERT_THAT(two_values.status(), IsOk());
  EXPECT_EQ(PodInfo::RequiredBits(*two_values), 0u);
}

// The filters stay beside their pods through adds, swaps on removal and replacements.
TEST(NodeInfoTest, PodLabelFiltersFollowThePods) {
  NodeInfo node = MakeNode("n1").Capacity({{"cpu", "4"}, {"pods", "10"}}).Info();
  std::vector<PodInfoPtr> pods;
  for (int i = 0; i < 5; ++i) {
    pods.push_back(MakePod("p" + std::to_string(i)).Uid("u" + std::to_string(i))
                       .Label("app", "a" + std::to_string(i)).Info());
    node.AddPod(pods.back());
  }
  auto check = [&] {
    ASSERT_EQ(node.pod_label_filters().size(), node.pods().size());
    for (size_t i = 0; i < node.pods().size(); ++i) {
      EXPECT_EQ(node.pod_label_filters()[i], node.pods()[i]->label_filter()) << i;
    }
  };
  check();
  EXPECT_TRUE(node.RemovePod(pods[1]));  // the last moves into its place
  check();
  EXPECT_TRUE(node.RemovePod("u4"));
  check();
  PodInfoPtr relabelled = MakePod("p2").Uid("u2").Label("app", "other").Info();
  EXPECT_TRUE(node.ReplacePod(pods[2], relabelled));
  check();
  EXPECT_TRUE(node.RemovePod(node.pods().back()));
  check();
  EXPECT_EQ(node.pods().size(), 2u);
}

TEST(NodeInfoTest, RemovingOnePodKeepsAnotherPodsEqualPort) {
  NodeInfo node = MakeNode("n1").Info();
  node.AddPod(MakePod("a").HostPort(80).Info());
  node.AddPod(MakePod("b").HostPort(80).Info());
  EXPECT_TRUE(node.RemovePod("default/a"));
  EXPECT_THAT(node.used_ports(), ElementsAre(HostPort{"0.0.0.0", "TCP", 80}));
}

TEST(NodeInfoTest, GenerationChangesOnEveryMutationAndNeverRepeats) {
  NodeInfo n1 = MakeNode("n1").Image({"nginx"}, 10).Info();
  NodeInfo n2 = MakeNode("n2").Info();
  std::set<int64_t> seen = {n1.generation(), n2.generation()};
  EXPECT_EQ(seen.size(), 2u);
  auto expect_new = [&](const NodeInfo& node) {
    EXPECT_TRUE(seen.insert(node.generation()).second) << node.generation();
  };
  n1.AddPod(MakePod("a").Info());
  expect_new(n1);
  EXPECT_TRUE(n1.RemovePod("default/a"));
  expect_new(n1);
  n1.set_image_num_nodes("nginx:latest", 2);
  expect_new(n1);
  ASSERT_THAT(n1.SetNode(MakeNode("n1").Label("a", "b").Ptr()), IsOk());
  expect_new(n1);

  const int64_t before = n1.generation();
  EXPECT_FALSE(n1.RemovePod("default/none"));
  n1.set_image_num_nodes("unknown:latest", 3);
  EXPECT_EQ(n1.generation(), before);
}

TEST(NodeInfoTest, SetNodeKeepsPodsAndRereadsTheNode) {
  NodeInfo node = MakeNode("n1").Capacity({{"cpu", "2"}}).Image({"a:1"}, 5).Info();
  node.AddPod(MakePod("p").Req({{"cpu", "1"}}).Info());
  node.set_image_num_nodes("a:1", 4);
  ASSERT_THAT(node.SetNode(MakeNode("n1")
                               .Capacity({{"cpu", "8"}})
                               .Label("zone", "z1")
                               .Image({"a:1"}, 6)
                               .Image({"b:1"}, 7)
                               .Ptr()),
              IsOk());
  EXPECT_EQ(node.allocatable().milli_cpu, 8000);
  EXPECT_EQ(node.labels().at("zone"), "z1");
  EXPECT_EQ(node.pods().size(), 1u);
  EXPECT_EQ(node.requested().milli_cpu, 1000);
  EXPECT_EQ(node.images().at("a:1").size_bytes, 6);
  EXPECT_EQ(node.images().at("a:1").num_nodes, 4);
  EXPECT_EQ(node.images().at("b:1").num_nodes, 0);

  // A bad node leaves the NodeInfo as it was.
  const int64_t before = node.generation();
  EXPECT_THAT(node.SetNode(MakeNode("n1").Allocatable({{"memory", "x"}}).Ptr()),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(node.allocatable().milli_cpu, 8000);
  EXPECT_EQ(node.generation(), before);
}

TEST(NodeInfoTest, CopiesAreIndependent) {
  NodeInfo original = MakeNode("n1").Info();
  original.AddPod(MakePod("a").Req({{"cpu", "1"}}).Info());
  NodeInfo copy = original;
  EXPECT_TRUE(copy.RemovePod("default/a"));
  EXPECT_EQ(original.pods().size(), 1u);
  EXPECT_EQ(original.requested().milli_cpu, 1000);
  EXPECT_EQ(copy.requested().milli_cpu, 0);
}

}  // namespace
}  // namespace orch::scheduler
