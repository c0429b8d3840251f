#include "orch/cluster.h"

#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orch/api/v1/apps.pb.h"
#include "orch/api/v1/core.pb.h"
#include "orch/api/v1/discovery.pb.h"
#include "orch/store/memory_store.h"
#include "support/status_matchers.h"

namespace orch {
namespace {

namespace v1 = api::v1;
using ::orch::testing::IsOk;
using ::orch::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kWeb[] = R"(
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {team: shop}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: web:v1
        resources: {requests: {cpu: 500m, memory: 256Mi}}
)";

std::unique_ptr<Cluster> Build(Cluster::Builder& builder) {
  absl::StatusOr<std::unique_ptr<Cluster>> cluster = builder.Build();
  EXPECT_THAT(cluster, IsOk());
  return cluster.ok() ? *std::move(cluster) : nullptr;
}

std::string Condition(const v1::Node& node, const std::string& type) {
  for (const v1::NodeCondition& c : node.status().conditions()) {
    if (c.type() == type) return c.status();
  }
  return "";
}

bool Ready(const v1::Pod& pod) {
  for (const v1::PodCondition& c : pod.status().conditions()) {
    if (c.type() == "Ready") return c.status() == "True";
  }
  return false;
}

// Live (not terminating) pods of app=web, by name -> node.
std::map<std::string, std::string> WebPods(Cluster& cluster) {
  std::map<std::string, std::string> out;
  const std::vector<v1::Pod> pods = cluster.List<v1::Pod>("default", "app=web").value();
  for (const v1::Pod& pod : pods) {
    if (!pod.metadata().has_deletion_timestamp()) {
      out[pod.metadata().name()] = pod.spec().node_name();
    }
  }
  return out;
}

// Runs `cluster` until web has `ready` ready replicas, for at most `timeout`.
absl::Status WaitWebReady(Cluster& cluster, int ready, absl::Duration timeout = absl::Minutes(1),
                          std::string_view what = "web to be ready") {
  return cluster.WaitFor([&] { return cluster.ReadyReplicas("default", "web") == ready; },
                         timeout, what);
}

TEST(ClusterTest, DefaultsGiveAWorkingClusterThatRunsADeployment) {
  std::unique_ptr<Cluster> cluster =
      Build(Cluster::Builder()
                .WithNodes({.count = 3})
                .WithImage("web:v1", {.start_delay = absl::Seconds(2)}));
  ASSERT_NE(cluster, nullptr);
  EXPECT_NE(cluster->virtual_executor(), nullptr);
  EXPECT_NE(cluster->scheduler(), nullptr);
  EXPECT_THAT(cluster->NodeNames(), ElementsAre("node-0", "node-1", "node-2"));
  for (const std::string& name : cluster->NodeNames()) {
    ORCH_ASSERT_OK_AND_ASSIGN(v1::Node node, cluster->Get<v1::Node>("", name));
    EXPECT_EQ(Condition(node, "Ready"), "True") << name;
    EXPECT_EQ(node.status().capacity().at("cpu").value(), "4") << name;
  }

  const absl::Time start = cluster->Now();
  ORCH_ASSERT_OK_AND_ASSIGN(std::vector<AppliedObject> applied, cluster->Apply(kWeb, "web.yaml"));
  ASSERT_EQ(applied.size(), 1u);
  EXPECT_EQ(applied[0].kind, "Deployment");
  EXPECT_EQ(applied[0].namespace_, "default");
  EXPECT_TRUE(applied[0].created);
  ASSERT_THAT(WaitWebReady(*cluster, 3), IsOk());
  // The image takes 2 s to start, and nothing else takes long.
  EXPECT_GE(cluster->Now() - start, absl::Seconds(2));
  EXPECT_LT(cluster->Now() - start, absl::Seconds(10));
  // Spread by the default scheduler's scoring: one per node.
  std::set<std::string> nodes;
  for (const auto& [pod, node] : WebPods(*cluster)) nodes.insert(node);
  EXPECT_EQ(nodes.size(), 3u);
  // Pods have addresses from their node's pod CIDR, and the node's address.
  const std::vector<v1::Pod> pods = cluster->List<v1::Pod>("default", "app=web").value();
  for (const v1::Pod& pod : pods) {
    EXPECT_THAT(pod.status().pod_ip(), ::testing::StartsWith("10.64.")) << pod.metadata().name();
    EXPECT_THAT(pod.status().host_ip(), ::testing::StartsWith("172.16.0.")) << pod.metadata().name();
  }
}

TEST(ClusterTest, ApplyCreatesThenUpdatesKeepingWhatOthersWrote) {
  std::unique_ptr<Cluster> cluster = Build(Cluster::Builder().WithNodes({.count = 2}));
  ASSERT_NE(cluster, nullptr);
  ASSERT_THAT(cluster->Apply(kWeb, "web.yaml"), IsOk());
  ASSERT_THAT(WaitWebReady(*cluster, 3), IsOk());
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Deployment before, cluster->Get<v1::Deployment>("default", "web"));

  std::string scaled = kWeb;
  scaled.replace(scaled.find("replicas: 3"), 11, "replicas: 5");
  scaled.replace(scaled.find("{team: shop}"), 12, "{tier: front}");
  ORCH_ASSERT_OK_AND_ASSIGN(std::vector<AppliedObject> applied, cluster->Apply(scaled, "web.yaml"));
  ASSERT_EQ(applied.size(), 1u);
  EXPECT_FALSE(applied[0].created);
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Deployment after, cluster->Get<v1::Deployment>("default", "web"));
  EXPECT_EQ(after.spec().replicas(), 5);
  EXPECT_EQ(after.metadata().uid(), before.metadata().uid());
  EXPECT_EQ(applied[0].resource_version, after.metadata().resource_version());
  // Labels merged; the controller's revision annotation and the status survive.
  EXPECT_EQ(after.metadata().labels().at("team"), "shop");
  EXPECT_EQ(after.metadata().labels().at("tier"), "front");
  EXPECT_EQ(after.metadata().annotations().at("deployment.kubernetes.io/revision"), "1");
  EXPECT_EQ(after.status().ready_replicas(), 3);
  ASSERT_THAT(WaitWebReady(*cluster, 5, absl::Minutes(1), "web to scale"), IsOk());
}

TEST(ClusterTest, ApplyOfABadDocumentWritesNothing) {
  std::unique_ptr<Cluster> cluster = Build(Cluster::Builder().WithNodes({.count = 1}));
  ASSERT_NE(cluster, nullptr);
  const std::string manifests = absl::StrCat(kWeb, R"(---
apiVersion: v1
kind: Pod
metadata: {name: broken}
spec:
  containers:
  - name: main
    image: web:v1
    resources: {requests: {cpu: lots}}
)");
  EXPECT_THAT(cluster->Apply(manifests, "two.yaml"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::AllOf(HasSubstr("two.yaml"), HasSubstr("document 2"),
                                        HasSubstr("spec.containers[0].resources.requests"))));
  EXPECT_THAT(cluster->Get<v1::Deployment>("default", "web"),
              StatusIs(absl::StatusCode::kNotFound));
  // An object the store refuses is named, and the objects before it are written.
  ASSERT_THAT(cluster->Apply(R"(
apiVersion: v1
kind: Pod
metadata: {name: p}
spec: {containers: [{name: main, image: web:v1}]}
)"),
              IsOk());
  const std::string refused = R"(
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Pod
metadata: {name: p, uid: not-the-stored-one}
spec: {containers: [{name: main, image: web:v2}]}
)";
  EXPECT_THAT(cluster->Apply(refused, "uid.yaml"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::AllOf(HasSubstr("uid.yaml: document 2: Pod p"),
                                        HasSubstr("metadata.uid"))));
  EXPECT_THAT(cluster->Get<v1::Namespace>("", "shop"), IsOk());
  EXPECT_EQ(cluster->Get<v1::Pod>("default", "p")->spec().containers(0).image(), "web:v1");
}

TEST(ClusterTest, ALostNodesPodsAreEvictedAndReplacedAndItRejoinsWhenItRecovers) {
  std::unique_ptr<Cluster> cluster = Build(Cluster::Builder().WithNodes({.count = 3}));
  ASSERT_NE(cluster, nullptr);
  ASSERT_THAT(cluster->Apply(kWeb), IsOk());
  ASSERT_THAT(WaitWebReady(*cluster, 3), IsOk());
  const std::map<std::string, std::string> before = WebPods(*cluster);
  const std::string lost = before.begin()->second;

  const absl::Time failed_at = cluster->Now();
  ASSERT_THAT(cluster->FailNode(lost), IsOk());
  EXPECT_TRUE(cluster->NodeFailed(lost));
  EXPECT_EQ(cluster->FakeRuntimeOf(lost), nullptr);
  // Unknown once its lease has run out (40 s), not before.
  ASSERT_THAT(cluster->WaitFor(
                  [&] {
                    return Condition(cluster->Get<v1::Node>("", lost).value(), "Ready") ==
                           "Unknown";
                  },
                  absl::Minutes(2), "the node to be Unknown"),
              IsOk());
  EXPECT_GE(cluster->Now() - failed_at, absl::Seconds(40));
  EXPECT_LE(cluster->ReadyReplicas("default", "web"), 2);
  // Evicted 300 s after the taint, and replaced on the others.
  ASSERT_THAT(cluster->WaitFor(
                  [&] {
                    std::map<std::string, std::string> pods = WebPods(*cluster);
                    for (const auto& [pod, node] : pods) {
                      if (node == lost) return false;
                    }
                    return pods.size() == 3 && cluster->ReadyReplicas("default", "web") == 3;
                  },
                  absl::Minutes(10), "web to be back on the other nodes"),
              IsOk());
  EXPECT_GE(cluster->Now() - failed_at, absl::Seconds(340));

  ASSERT_THAT(cluster->RecoverNode(lost), IsOk());
  EXPECT_FALSE(cluster->NodeFailed(lost));
  EXPECT_NE(cluster->FakeRuntimeOf(lost), nullptr);
  ASSERT_THAT(cluster->WaitFor(
                  [&] {
                    v1::Node node = cluster->Get<v1::Node>("", lost).value();
                    return Condition(node, "Ready") == "True" && node.spec().taints().empty();
                  },
                  absl::Minutes(1), "the node to be Ready and untainted"),
              IsOk());
  EXPECT_THAT(cluster->FailNode("node-9"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(cluster->RecoverNode("node-9"), StatusIs(absl::StatusCode::kNotFound));
}

// The ready endpoints of Service web ("10.64.0.2" ...), across its slices.
std::set<std::string> ReadyEndpoints(Cluster& cluster) {
  std::set<std::string> out;
  const std::vector<v1::EndpointSlice> slices =
      cluster.List<v1::EndpointSlice>("default", "kubernetes.io/service-name=web").value();
  for (const v1::EndpointSlice& slice : slices) {
    for (const v1::Endpoint& e : slice.endpoints()) {
      if (e.conditions().ready()) out.insert(e.addresses(0));
    }
  }
  return out;
}

// The addresses of the live, ready pods of app=web.
std::set<std::string> ReadyPodAddresses(Cluster& cluster) {
  std::set<std::string> out;
  const std::vector<v1::Pod> pods = cluster.List<v1::Pod>("default", "app=web").value();
  for (const v1::Pod& pod : pods) {
    if (!pod.metadata().has_deletion_timestamp() && Ready(pod)) out.insert(pod.status().pod_ip());
  }
  return out;
}

TEST(ClusterTest, AServicesEndpointsFollowItsReadyPodsThroughANodeLoss) {
  std::unique_ptr<Cluster> cluster = Build(Cluster::Builder().WithNodes({.count = 3}));
  ASSERT_NE(cluster, nullptr);
  ASSERT_THAT(cluster->Apply(absl::StrCat(kWeb, R"(---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
)")),
              IsOk());
  ASSERT_THAT(WaitWebReady(*cluster, 3), IsOk());
  ASSERT_THAT(cluster->WaitFor([&] { return ReadyEndpoints(*cluster).size() == 3; },
                               absl::Seconds(10), "three ready endpoints"),
              IsOk());
  EXPECT_EQ(ReadyEndpoints(*cluster), ReadyPodAddresses(*cluster));
  // The cluster's own FakeNetwork has been programmed: connections reach the ready pods.
  const std::string ip = cluster->Get<v1::Service>("default", "web")->spec().cluster_ip();
  ASSERT_NE(cluster->fake_network(), nullptr);
  std::set<std::string> reached;
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<network::Connection> c = cluster->fake_network()->Connect("10.0.0.1", ip, 80);
    ASSERT_THAT(c, IsOk());
    reached.insert(c->backend.address);
  }
  EXPECT_EQ(reached, ReadyPodAddresses(*cluster));

  const std::string lost = WebPods(*cluster).begin()->second;
  ASSERT_THAT(cluster->FailNode(lost), IsOk());
  // The node's pods are marked not ready once it is Unknown; their endpoints stop being
  // ready then, and the replacements' become ready.
  auto endpoints_are_ready_pods = [&](size_t n) {
    return [&cluster, n] {
      return ReadyEndpoints(*cluster).size() == n &&
             ReadyEndpoints(*cluster) == ReadyPodAddresses(*cluster);
    };
  };
  ASSERT_THAT(cluster->WaitFor(endpoints_are_ready_pods(2), absl::Minutes(2),
                               "the lost node's endpoints to be not ready"),
              IsOk());
  ASSERT_THAT(cluster->WaitFor(endpoints_are_ready_pods(3), absl::Minutes(10),
                               "three ready endpoints again"),
              IsOk());
}

TEST(ClusterTest, AddAndRemoveNodes) {
  std::unique_ptr<Cluster> cluster = Build(Cluster::Builder().WithNodes({.count = 1}));
  ASSERT_NE(cluster, nullptr);
  ORCH_ASSERT_OK_AND_ASSIGN(
      std::vector<std::string> added,
      cluster->AddNodes({.count = 2, .name_prefix = "gpu", .labels = {{"accel", "gpu"}}}));
  EXPECT_THAT(added, ElementsAre("gpu-0", "gpu-1"));
  cluster->RunFor(absl::Seconds(1));
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Node gpu, cluster->Get<v1::Node>("", "gpu-1"));
  EXPECT_EQ(gpu.metadata().labels().at("accel"), "gpu");
  EXPECT_EQ(gpu.metadata().labels().at("kubernetes.io/hostname"), "gpu-1");

  ASSERT_THAT(cluster->Apply(kWeb), IsOk());
  ASSERT_THAT(WaitWebReady(*cluster, 3), IsOk());
  ASSERT_THAT(cluster->RemoveNode("node-0"), IsOk());
  EXPECT_THAT(cluster->NodeNames(), ElementsAre("gpu-0", "gpu-1"));
  EXPECT_THAT(cluster->Get<v1::Node>("", "node-0"), StatusIs(absl::StatusCode::kNotFound));
  // Pod GC deletes the pods of a node that is gone; the ReplicaSet replaces them.
  ASSERT_THAT(cluster->WaitFor(
                  [&] {
                    std::map<std::string, std::string> pods = WebPods(*cluster);
                    for (const auto& [pod, node] : pods) {
                      if (node == "node-0") return false;
                    }
                    return cluster->ReadyReplicas("default", "web") == 3;
                  },
                  absl::Minutes(2), "web to leave node-0"),
              IsOk());
  EXPECT_THAT(cluster->RemoveNode("node-0"), StatusIs(absl::StatusCode::kNotFound));
  // Numbers continue per prefix.
  ORCH_ASSERT_OK_AND_ASSIGN(added, cluster->AddNodes({.count = 1, .name_prefix = "gpu"}));
  EXPECT_THAT(added, ElementsAre("gpu-2"));
}

TEST(ClusterTest, AContainerKilledOnItsFakeRuntimeIsRestarted) {
  std::unique_ptr<Cluster> cluster = Build(Cluster::Builder().WithNodes({.count = 1}));
  ASSERT_NE(cluster, nullptr);
  ASSERT_THAT(cluster->Apply(R"(
apiVersion: v1
kind: Pod
metadata: {name: p}
spec: {containers: [{name: main, image: web:v1}]}
)"),
              IsOk());
  ASSERT_THAT(cluster->WaitFor([&] { return Ready(cluster->Get<v1::Pod>("default", "p").value()); },
                               absl::Minutes(1), "p to be ready"),
              IsOk());
  v1::Pod pod = cluster->Get<v1::Pod>("default", "p").value();
  ASSERT_EQ(pod.status().container_statuses_size(), 1);
  std::string id = pod.status().container_statuses(0).container_id();
  id = id.substr(id.find("://") + 3);
  runtime::FakeRuntime* fake = cluster->FakeRuntimeOf("node-0");
  ASSERT_NE(fake, nullptr);
  ASSERT_THAT(fake->KillContainer(id), IsOk());
  ASSERT_THAT(cluster->WaitFor(
                  [&] {
                    v1::Pod now = cluster->Get<v1::Pod>("default", "p").value();
                    return now.status().container_statuses(0).restart_count() == 1 && Ready(now);
                  },
                  absl::Minutes(1), "p to restart"),
              IsOk());
  pod = cluster->Get<v1::Pod>("default", "p").value();
  EXPECT_EQ(pod.status().container_statuses(0).last_state().terminated().exit_code(), 137);
}

// Two clusters in one process, built alike with one seed: the same names and placements.
TEST(ClusterTest, SameSeedSameClusterAndClustersAreIndependent) {
  auto run = [](uint64_t seed) {
    std::unique_ptr<Cluster> cluster =
        Build(Cluster::Builder().WithSeed(seed).WithNodes({.count = 5}));
    EXPECT_NE(cluster, nullptr);
    EXPECT_THAT(cluster->Apply(kWeb), IsOk());
    EXPECT_THAT(WaitWebReady(*cluster, 3), IsOk());
    return std::make_pair(std::move(cluster), WebPods(*cluster));
  };
  auto [a, pods_a] = run(7);
  auto [b, pods_b] = run(7);
  auto [c, pods_c] = run(8);
  EXPECT_EQ(pods_a, pods_b);
  EXPECT_NE(pods_a, pods_c);
  // Work in one does not show in another.
  ASSERT_THAT(a->FailNode("node-0"), IsOk());
  EXPECT_FALSE(b->NodeFailed("node-0"));
  ORCH_ASSERT_OK(b->client().Delete<v1::Deployment>("default", "web"));
  EXPECT_THAT(a->Get<v1::Deployment>("default", "web"), IsOk());
}

TEST(ClusterTest, BadOptionsAreNamed) {
  EXPECT_THAT(Cluster::Builder().WithNodes({.count = -1}).Build(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("nodes[0].count")));
  EXPECT_THAT(Cluster::Builder().WithNodes({.count = 1}).WithNodes({.count = 1, .cpu = "lots"}).Build(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::AllOf(HasSubstr("nodes[1]"), HasSubstr("lots"))));
  std::unique_ptr<store::MemoryStore> store = store::MemoryStore::Open({}).value();
  EXPECT_THAT(Cluster::Builder().WithStore(store.get()).WithDataDir("/tmp/x").Build(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("data_dir")));
  EXPECT_THAT(Cluster::Builder().WithRealTime(0).Build(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("threads")));
  scheduler::v1::KubeSchedulerConfiguration config = scheduler::DefaultConfig();
  config.mutable_profiles(0)->mutable_plugins()->mutable_score()->add_enabled()->set_name(
      "NoSuchPlugin");
  EXPECT_THAT(Cluster::Builder().WithSchedulerConfig(config).Build(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("NoSuchPlugin")));
  EXPECT_THAT(Cluster::Builder()
                  .WithRuntime([](std::string_view, Executor&) -> absl::StatusOr<NodeRuntime> {
                    return NodeRuntime{};
                  })
                  .WithNodes({.count = 1})
                  .Build(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("returned no runtime")));
}

TEST(ClusterTest, ARuntimeFactoryIsAskedPerNodeAndAgainOnRecovery) {
  std::vector<std::string> asked;
  std::unique_ptr<Cluster> cluster = Build(
      Cluster::Builder()
          .WithRuntime([&](std::string_view node, Executor& executor) -> absl::StatusOr<NodeRuntime> {
            asked.emplace_back(node);
            auto fake = std::make_unique<runtime::FakeRuntime>(
                runtime::FakeRuntimeOptions{.executor = &executor, .pod_cidr = "10.9.9.0/24"});
            runtime::Prober* prober = fake.get();
            return NodeRuntime{.runtime = std::move(fake), .prober = prober};
          })
          .WithNodes({.count = 2}));
  ASSERT_NE(cluster, nullptr);
  EXPECT_THAT(asked, ElementsAre("node-0", "node-1"));
  EXPECT_EQ(cluster->FakeRuntimeOf("node-0"), nullptr);  // not the cluster's own
  ASSERT_THAT(cluster->FailNode("node-1"), IsOk());
  ASSERT_THAT(cluster->RecoverNode("node-1"), IsOk());
  EXPECT_THAT(asked, ElementsAre("node-0", "node-1", "node-1"));
  ASSERT_THAT(cluster->Apply(kWeb), IsOk());
  ASSERT_THAT(WaitWebReady(*cluster, 3), IsOk());
  const std::vector<v1::Pod> pods = cluster->List<v1::Pod>("default", "app=web").value();
  for (const v1::Pod& pod : pods) {
    EXPECT_THAT(pod.status().pod_ip(), ::testing::StartsWith("10.9.9."));
  }
}

TEST(ClusterTest, ADurableClusterKeepsItsObjectsAcrossARestart) {
  const std::string dir = ::testing::TempDir() + "/orch-cluster-durable";
  std::filesystem::remove_all(dir);
  {
    std::unique_ptr<Cluster> cluster =
        Build(Cluster::Builder().WithDataDir(dir).WithNodes({.count = 2}));
    ASSERT_NE(cluster, nullptr);
    ASSERT_THAT(cluster->Apply(kWeb), IsOk());
    ASSERT_THAT(WaitWebReady(*cluster, 3), IsOk());
  }
  std::unique_ptr<Cluster> again =
      Build(Cluster::Builder().WithDataDir(dir).WithNodes({.count = 2}));
  ASSERT_NE(again, nullptr);
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Deployment web, again->Get<v1::Deployment>("default", "web"));
  EXPECT_EQ(web.spec().replicas(), 3);
  // The same nodes register again; the pods they ran are gone with the old runtimes, so
  // they are replaced.
  ASSERT_THAT(WaitWebReady(*again, 3, absl::Minutes(10), "web to be ready again"), IsOk());
  std::filesystem::remove_all(dir);
}

TEST(ClusterTest, RealTimeClusterRunsAPod) {
  std::unique_ptr<Cluster> cluster =
      Build(Cluster::Builder().WithRealTime(2).WithNodes({.count = 1}));
  ASSERT_NE(cluster, nullptr);
  EXPECT_EQ(cluster->virtual_executor(), nullptr);
  const absl::Time start = absl::Now();
  ASSERT_THAT(cluster->Apply(R"(
apiVersion: v1
kind: Pod
metadata: {name: p}
spec: {containers: [{name: main, image: web:v1}]}
)"),
              IsOk());
  ASSERT_THAT(cluster->WaitFor(
                  [&] {
                    absl::StatusOr<v1::Pod> pod = cluster->Get<v1::Pod>("default", "p");
                    return pod.ok() && Ready(*pod);
                  },
                  absl::Seconds(30), "p to be ready"),
              IsOk());
  EXPECT_LT(absl::Now() - start, absl::Seconds(30));
  EXPECT_THAT(cluster->WaitFor([] { return false; }, absl::Milliseconds(50), "nothing"),
              StatusIs(absl::StatusCode::kDeadlineExceeded,
                       HasSubstr("timed out after 50ms waiting for nothing")));
}

}  // namespace
}  // namespace orch
