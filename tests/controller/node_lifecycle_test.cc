#include "orch/controller/node_lifecycle.h"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orch/api/v1/apps.pb.h"
#include "orch/api/v1/coordination.pb.h"
#include "orch/api/v1/core.pb.h"
#include "orch/testing/test_cluster.h"
#include "support/status_matchers.h"

namespace orch::controller {
namespace {

namespace v1 = ::orch::api::v1;
using ::orch::testing::StatusIs;
using ::orch::testing::TestCluster;
using ::orch::testing::TestClusterOptions;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kUnreachable[] = "node.kubernetes.io/unreachable";
constexpr char kNotReady[] = "node.kubernetes.io/not-ready";

absl::Time TimeOf(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

google::protobuf::Timestamp Stamp(absl::Time t) {
  google::protobuf::Timestamp out;
  out.set_seconds(absl::ToUnixSeconds(t));
  return out;
}

v1::Toleration Toleration(const std::string& key, const std::string& op,
                          std::optional<int64_t> seconds, const std::string& value = "") {
  v1::Toleration t;
  t.set_key(key);
  t.set_operator_(op);
  t.set_value(value);
  t.set_effect("NoExecute");
  if (seconds.has_value()) t.set_toleration_seconds(*seconds);
  return t;
}

class NodeLifecycleTest : public ::testing::Test {
 protected:
  void Start(TestClusterOptions options = {}) {
    cluster_ = TestCluster::Start(std::move(options)).value();
  }

  client::Client& client() { return cluster_->client(); }

  v1::Node Node(const std::string& name) { return client().Get<v1::Node>("", name).value(); }

  std::optional<v1::NodeCondition> ReadyCondition(const std::string& node) {
    const v1::Node object = Node(node);
    for (const v1::NodeCondition& c : object.status().conditions()) {
      if (c.type() == "Ready") return c;
    }
    return std::nullopt;
  }
  std::string Ready(const std::string& node) {
    auto c = ReadyCondition(node);
    return c.has_value() ? c->status() : "";
  }

  std::optional<v1::Taint> Taint(const std::string& node, const std::string& key,
                                 const std::string& effect) {
    const v1::Node object = Node(node);
    for (const v1::Taint& t : object.spec().taints()) {
      if (t.key() == key && t.effect() == effect) return t;
    }
    return std::nullopt;
  }
  // The node's not-ready and unreachable taints, both effects, as "key:effect".
  std::vector<std::string> HealthTaints(const std::string& node) {
    std::vector<std::string> out;
    const v1::Node object = Node(node);
    for (const v1::Taint& t : object.spec().taints()) {
      if (t.key() == kUnreachable || t.key() == kNotReady) out.push_back(t.key() + ":" + t.effect());
    }
    return out;
  }

  // A bare pod bound to `node` directly (no scheduler), running once the node starts it.
  void CreatePod(const std::string& name, const std::string& node,
                 std::vector<v1::Toleration> tolerations = {}) {
    v1::Pod pod;
    pod.mutable_metadata()->set_name(name);
    pod.mutable_metadata()->set_namespace_("default");
    pod.mutable_spec()->set_node_name(node);
    auto* c = pod.mutable_spec()->add_containers();
    c->set_name("main");
    c->set_image("nginx");
    for (v1::Toleration& t : tolerations) *pod.mutable_spec()->add_tolerations() = std::move(t);
    ASSERT_THAT(client().Create(pod), ::orch::testing::IsOk());
  }

  std::optional<v1::Pod> Pod(const std::string& name) {
    absl::StatusOr<v1::Pod> pod = client().Get<v1::Pod>("default", name);
    if (!pod.ok()) return std::nullopt;
    return *pod;
  }
  bool PodReady(const std::string& name) {
    auto pod = Pod(name);
    if (!pod.has_value()) return false;
    for (const v1::PodCondition& c : pod->status().conditions()) {
      if (c.type() == "Ready") return c.status() == "True";
    }
    return false;
  }
  // Deleted, or on its way (the failed node does not finish graceful deletions).
  bool Evicted(const std::string& name) {
    auto pod = Pod(name);
    return !pod.has_value() || pod->metadata().has_deletion_timestamp();
  }

  void WaitPodsReady(const std::vector<std::string>& names) {
    ASSERT_THAT(cluster_->WaitFor(
                    [&] {
                      for (const std::string& n : names) {
                        if (!PodReady(n)) return false;
                      }
                      return true;
                    },
                    absl::Minutes(1), "pods ready"),
                ::orch::testing::IsOk());
  }

  // Fails `node` and runs until it carries the unreachable NoExecute taint; returns the
  // taint's timeAdded.
  absl::Time FailAndWaitForTaint(const std::string& node) {
    EXPECT_THAT(cluster_->FailNode(node), ::orch::testing::IsOk());
    EXPECT_THAT(cluster_->WaitFor([&] { return Taint(node, kUnreachable, "NoExecute").has_value(); },
                                  absl::Minutes(2), "the unreachable taint"),
                ::orch::testing::IsOk());
    auto taint = Taint(node, kUnreachable, "NoExecute");
    return taint.has_value() ? TimeOf(taint->time_added()) : absl::InfinitePast();
  }

  void RunUntil(absl::Time t) {
    ASSERT_GE(t, cluster_->Now());
    cluster_->RunFor(t - cluster_->Now());
  }

  absl::Time LastRenew(const std::string& node) {
    return TimeOf(client().Get<v1::Lease>("kube-node-lease", node).value().spec().renew_time());
  }

  bool HasEvent(const std::string& object, const std::string& reason, const std::string& message) {
    const auto events = client().List<v1::Event>("").value();
    for (const v1::Event& e : events.items) {
      if (e.involved_object().name() == object && e.reason() == reason &&
          e.message() == message) {
        return true;
      }
    }
    return false;
  }

  std::unique_ptr<TestCluster> cluster_;
};

TEST_F(NodeLifecycleTest, FakeNodesRenewTheirLeaseEveryTenSeconds) {
  Start();
  const absl::Time start = cluster_->Now();
  v1::Lease lease = client().Get<v1::Lease>("kube-node-lease", "node-0").value();
  EXPECT_EQ(lease.spec().holder_identity(), "node-0");
  EXPECT_EQ(lease.spec().lease_duration_seconds(), 40);
  ASSERT_EQ(lease.metadata().owner_references_size(), 1);
  EXPECT_EQ(lease.metadata().owner_references(0).kind(), "Node");
  EXPECT_EQ(TimeOf(lease.spec().renew_time()), start);
  cluster_->RunFor(absl::Seconds(25));
  EXPECT_EQ(LastRenew("node-0"), start + absl::Seconds(20));
  // The Ready condition's heartbeat is posted every 5 minutes.
  cluster_->RunFor(absl::Minutes(5));
  EXPECT_EQ(TimeOf(ReadyCondition("node-0")->last_heartbeat_time()), start + absl::Minutes(5));
  EXPECT_EQ(TimeOf(ReadyCondition("node-0")->last_transition_time()), start);
}

TEST_F(NodeLifecycleTest, AFailedNodeBecomesUnknownAfterTheGracePeriodNotBefore) {
  Start();
  cluster_->RunFor(absl::Seconds(63));
  const absl::Time renewed = LastRenew("node-1");
  const v1::NodeCondition before = *ReadyCondition("node-1");
  ORCH_ASSERT_OK(cluster_->FailNode("node-1"));

  // A pass runs exactly 40 s after the last renewal: silent for 40 s is not yet too long.
  RunUntil(renewed + absl::Seconds(40));
  EXPECT_EQ(Ready("node-1"), "True");
  EXPECT_THAT(HealthTaints("node-1"), IsEmpty());

  RunUntil(renewed + absl::Seconds(45));  // the next pass
  const v1::NodeCondition after = *ReadyCondition("node-1");
  EXPECT_EQ(after.status(), "Unknown");
  EXPECT_EQ(after.reason(), "NodeStatusUnknown");
  EXPECT_EQ(after.message(), "Kubelet stopped posting node status.");
  EXPECT_EQ(after.last_heartbeat_time().seconds(), before.last_heartbeat_time().seconds());
  EXPECT_EQ(TimeOf(after.last_transition_time()), renewed + absl::Seconds(45));
  EXPECT_EQ(Ready("node-0"), "True");
  EXPECT_EQ(Ready("node-2"), "True");
}

TEST_F(NodeLifecycleTest, HeartbeatsCountWhenTheyChangeWhateverClockWroteThem) {
  Start();
  cluster_->RunFor(absl::Seconds(3));
  ORCH_ASSERT_OK(cluster_->FailNode("node-1"));
  // Someone renews node-1's Lease with a clock an hour behind: still a heartbeat.
  for (int i = 0; i < 12; ++i) {
    cluster_->RunFor(absl::Seconds(10));
    v1::Lease lease = client().Get<v1::Lease>("kube-node-lease", "node-1").value();
    *lease.mutable_spec()->mutable_renew_time() = Stamp(cluster_->Now() - absl::Hours(1));
    ORCH_ASSERT_OK(client().Update(lease).status());
  }
  EXPECT_EQ(Ready("node-1"), "True");
  cluster_->RunFor(absl::Seconds(46));  // the renewals stop
  EXPECT_EQ(Ready("node-1"), "Unknown");
}

TEST_F(NodeLifecycleTest, AnUnreachableNodeIsTaintedAndItsPodsMarkedNotReady) {
  Start();
  CreatePod("a", "node-1");
  CreatePod("b", "node-1");
  CreatePod("c", "node-0");
  WaitPodsReady({"a", "b", "c"});
  ORCH_ASSERT_OK(cluster_->FailNode("node-1"));
  ASSERT_THAT(cluster_->WaitFor([&] { return Ready("node-1") == "Unknown"; }, absl::Minutes(1),
                                "node-1 Unknown"),
              ::orch::testing::IsOk());
  const absl::Time unknown_at = cluster_->Now();

  // Taint-based eviction and taint-node-by-condition, in the pass that found it silent.
  auto no_execute = Taint("node-1", kUnreachable, "NoExecute");
  ASSERT_TRUE(no_execute.has_value());
  EXPECT_EQ(TimeOf(no_execute->time_added()), unknown_at);
  EXPECT_TRUE(Taint("node-1", kUnreachable, "NoSchedule").has_value());
  EXPECT_FALSE(Taint("node-1", kNotReady, "NoExecute").has_value());
  EXPECT_THAT(HealthTaints("node-0"), IsEmpty());

  EXPECT_FALSE(PodReady("a"));
  EXPECT_FALSE(PodReady("b"));
  EXPECT_TRUE(PodReady("c"));
  EXPECT_TRUE(HasEvent("a", "NodeNotReady", "Node is not ready"));
  EXPECT_TRUE(HasEvent("node-1", "NodeNotReady", "Node node-1 status is now: NodeNotReady"));
  // Marked, not evicted: the default toleration gives them 300 s.
  EXPECT_FALSE(Evicted("a"));
}

TEST_F(NodeLifecycleTest, PodsWithoutTolerationsAreEvictedAfterTheDefault300Seconds) {
  Start();
  CreatePod("plain", "node-1");
  // A toleration of something else: the defaults still apply.
  v1::Toleration gpu;
  gpu.set_key("gpu");
  gpu.set_operator_("Exists");
  gpu.set_effect("NoSchedule");
  CreatePod("gpu", "node-1", {gpu});
  CreatePod("elsewhere", "node-2");
  WaitPodsReady({"plain", "gpu", "elsewhere"});
  const absl::Time tainted = FailAndWaitForTaint("node-1");

  RunUntil(tainted + absl::Seconds(299));
  EXPECT_FALSE(Evicted("plain"));
  EXPECT_FALSE(Evicted("gpu"));

  RunUntil(tainted + absl::Seconds(300));
  EXPECT_TRUE(Evicted("plain"));
  EXPECT_TRUE(Evicted("gpu"));
  EXPECT_FALSE(Evicted("elsewhere"));
  // A graceful delete: the pod waits for its (silent) node, marked as a disruption.
  auto plain = Pod("plain");
  ASSERT_TRUE(plain.has_value());
  bool disruption = false;
  for (const v1::PodCondition& c : plain->status().conditions()) {
    disruption |= c.type() == "DisruptionTarget" && c.status() == "True" &&
                  c.reason() == "DeletionByTaintManager";
  }
  EXPECT_TRUE(disruption);
  EXPECT_TRUE(HasEvent("plain", "TaintManagerEviction", "Marking for deletion Pod default/plain"));
}

TEST_F(NodeLifecycleTest, PodsOwnTolerationsDecideWhenTheyGo) {
  Start();
  CreatePod("short", "node-1", {Toleration(kUnreachable, "Exists", 60)});
  CreatePod("forever", "node-1", {Toleration(kUnreachable, "Exists", std::nullopt)});
  CreatePod("zero", "node-1", {Toleration(kUnreachable, "Exists", 0)});
  // Covers the unreachable key (so no default is added) but only for value "yes": the
  // taint is not tolerated at all.
  CreatePod("mismatch", "node-1", {Toleration(kUnreachable, "Equal", 3600, "yes")});
  WaitPodsReady({"short", "forever", "zero", "mismatch"});
  const absl::Time tainted = FailAndWaitForTaint("node-1");

  EXPECT_TRUE(Evicted("mismatch"));  // at once
  EXPECT_TRUE(Evicted("zero"));
  EXPECT_FALSE(Evicted("short"));
  RunUntil(tainted + absl::Seconds(59));
  EXPECT_FALSE(Evicted("short"));
  RunUntil(tainted + absl::Seconds(60));
  EXPECT_TRUE(Evicted("short"));
  cluster_->RunFor(absl::Hours(1));
  EXPECT_FALSE(Evicted("forever"));
}

TEST_F(NodeLifecycleTest, AHealthyNodesNoExecuteTaintEvictsPodsThatDoNotTolerateIt) {
  Start();
  CreatePod("web", "node-2");
  v1::Toleration db;
  db.set_key("dedicated");
  db.set_operator_("Equal");
  db.set_value("db");
  db.set_effect("NoExecute");
  CreatePod("db", "node-2", {db});
  WaitPodsReady({"web", "db"});
  v1::Node node = Node("node-2");
  v1::Taint* taint = node.mutable_spec()->add_taints();
  taint->set_key("dedicated");
  taint->set_value("db");
  taint->set_effect("NoExecute");
  ORCH_ASSERT_OK(client().Update(node).status());
  cluster_->RunFor(absl::Seconds(1));
  EXPECT_FALSE(Pod("web").has_value());  // the node finished the graceful delete at once
  cluster_->RunFor(absl::Hours(1));
  EXPECT_TRUE(PodReady("db"));
}

TEST_F(NodeLifecycleTest, ANodeBackBeforeTheTolerationEndsKeepsItsPods) {
  Start();
  CreatePod("a", "node-1");
  CreatePod("b", "node-1");
  WaitPodsReady({"a", "b"});
  FailAndWaitForTaint("node-1");
  cluster_->RunFor(absl::Seconds(200));
  EXPECT_FALSE(PodReady("a"));
  ORCH_ASSERT_OK(cluster_->RecoverNode("node-1"));

  ASSERT_THAT(cluster_->WaitFor([&] { return Ready("node-1") == "True" && HealthTaints("node-1").empty(); },
                                absl::Seconds(10), "node-1 Ready and untainted"),
              ::orch::testing::IsOk());
  cluster_->RunFor(absl::Minutes(10));
  EXPECT_FALSE(Evicted("a"));
  EXPECT_FALSE(Evicted("b"));
  EXPECT_TRUE(PodReady("a"));
  EXPECT_TRUE(PodReady("b"));
  EXPECT_THAT(HealthTaints("node-1"), IsEmpty());
  EXPECT_TRUE(HasEvent("a", "TaintManagerEviction", "Cancelling deletion of Pod default/a"));

  // And it can fail again: the count starts over.
  const absl::Time tainted = FailAndWaitForTaint("node-1");
  RunUntil(tainted + absl::Seconds(299));
  EXPECT_FALSE(Evicted("a"));
  RunUntil(tainted + absl::Seconds(300));
  EXPECT_TRUE(Evicted("a"));
}

TEST_F(NodeLifecycleTest, NotReadySwapsTheTaintButKeepsTheEvictionClock) {
  Start();
  CreatePod("p", "node-1");
  WaitPodsReady({"p"});
  const absl::Time tainted = FailAndWaitForTaint("node-1");
  cluster_->RunFor(absl::Seconds(100));

  // The node's agent is back but reports NotReady.
  v1::Node node = Node("node-1");
  for (v1::NodeCondition& c : *node.mutable_status()->mutable_conditions()) {
    if (c.type() != "Ready") continue;
    c.set_status("False");
    c.set_reason("KubeletNotReady");
    *c.mutable_last_heartbeat_time() = Stamp(cluster_->Now());
    *c.mutable_last_transition_time() = Stamp(cluster_->Now());
  }
  ORCH_ASSERT_OK(client().UpdateStatus(node).status());
  ASSERT_THAT(cluster_->WaitFor(
                  [&] {
                    return HealthTaints("node-1") ==
                           std::vector<std::string>{std::string(kNotReady) + ":NoExecute",
                                                    std::string(kNotReady) + ":NoSchedule"} ||
                           HealthTaints("node-1") ==
                               std::vector<std::string>{std::string(kNotReady) + ":NoSchedule",
                                                        std::string(kNotReady) + ":NoExecute"};
                  },
                  absl::Seconds(10), "not-ready taints only"),
              ::orch::testing::IsOk());
  EXPECT_EQ(TimeOf(Taint("node-1", kNotReady, "NoExecute")->time_added()), cluster_->Now());

  RunUntil(tainted + absl::Seconds(299));
  EXPECT_FALSE(Evicted("p"));
  RunUntil(tainted + absl::Seconds(300));
  EXPECT_TRUE(Evicted("p"));
}

TEST_F(NodeLifecycleTest, ADeploymentsPodsAreReplacedOnTheOtherNodesAfterEviction) {
  Start();
  v1::Deployment d;
  d.mutable_metadata()->set_name("web");
  d.mutable_metadata()->set_namespace_("default");
  d.mutable_spec()->set_replicas(6);
  (*d.mutable_spec()->mutable_selector()->mutable_match_labels())["app"] = "web";
  auto* tmpl = d.mutable_spec()->mutable_template_();
  (*tmpl->mutable_metadata()->mutable_labels())["app"] = "web";
  auto* c = tmpl->mutable_spec()->add_containers();
  c->set_name("web");
  c->set_image("nginx");
  ORCH_ASSERT_OK(client().Create(d).status());

  auto pods = [&] { return client().List<v1::Pod>("default").value().items; };
  // Ready, active pods by node.
  auto ready_by_node = [&] {
    std::map<std::string, int> out;
    for (const v1::Pod& p : pods()) {
      if (p.metadata().has_deletion_timestamp()) continue;
      for (const v1::PodCondition& cond : p.status().conditions()) {
        if (cond.type() == "Ready" && cond.status() == "True") ++out[p.spec().node_name()];
      }
    }
    return out;
  };
  auto total = [](const std::map<std::string, int>& m) {
    int n = 0;
    for (const auto& [node, count] : m) n += count;
    return n;
  };
  ASSERT_THAT(cluster_->WaitFor([&] { return total(ready_by_node()) == 6; }, absl::Minutes(2),
                                "6 ready"),
              ::orch::testing::IsOk());
  const std::string victim = ready_by_node().begin()->first;
  const int on_victim = ready_by_node()[victim];
  ASSERT_GT(on_victim, 0);
  const absl::Time failed = cluster_->Now();
  ORCH_ASSERT_OK(cluster_->FailNode(victim));

  ASSERT_THAT(cluster_->WaitFor(
                  [&] {
                    auto ready = ready_by_node();
                    return total(ready) == 6 && !ready.contains(victim);
                  },
                  absl::Minutes(10), "6 ready pods off the failed node"),
              ::orch::testing::IsOk());
  // Not before the eviction: 40-45 s to notice, 300 s of toleration.
  EXPECT_GE(cluster_->Now() - failed, absl::Seconds(340));
  int terminating = 0;
  for (const v1::Pod& p : pods()) {
    if (p.spec().node_name() == victim) {
      EXPECT_TRUE(p.metadata().has_deletion_timestamp()) << p.metadata().name();
      ++terminating;
    }
  }
  EXPECT_EQ(terminating, on_victim);
}

TEST_F(NodeLifecycleTest, TaintingIsRateLimitedPerZone) {
  TestClusterOptions options;
  options.nodes = 5;
  Start(options);
  cluster_->RunFor(absl::Seconds(1));
  ORCH_ASSERT_OK(cluster_->FailNode("node-1"));
  ORCH_ASSERT_OK(cluster_->FailNode("node-2"));
  ASSERT_THAT(cluster_->WaitFor(
                  [&] {
                    return Taint("node-1", kUnreachable, "NoExecute").has_value() &&
                           Taint("node-2", kUnreachable, "NoExecute").has_value();
                  },
                  absl::Minutes(2), "both tainted"),
              ::orch::testing::IsOk());
  const absl::Time first = TimeOf(Taint("node-1", kUnreachable, "NoExecute")->time_added());
  const absl::Time second = TimeOf(Taint("node-2", kUnreachable, "NoExecute")->time_added());
  EXPECT_EQ(second - first, absl::Seconds(10));  // node_eviction_rate 0.1 per second
  // Both went Unknown in the same pass; NoSchedule taints are not limited.
  EXPECT_EQ(TimeOf(Taint("node-2", kUnreachable, "NoSchedule")->time_added()), first);
}

TEST_F(NodeLifecycleTest, WhenEveryNodeIsSilentNothingIsEvicted) {
  Start();
  CreatePod("a", "node-0");
  WaitPodsReady({"a"});
  for (const char* node : {"node-0", "node-1", "node-2"}) ORCH_ASSERT_OK(cluster_->FailNode(node));
  cluster_->RunFor(absl::Minutes(10));
  for (const char* node : {"node-0", "node-1", "node-2"}) {
    EXPECT_EQ(Ready(node), "Unknown") << node;
    EXPECT_FALSE(Taint(node, kUnreachable, "NoExecute").has_value()) << node;
  }
  EXPECT_FALSE(Evicted("a"));
  // One node answering again ends it: the others are tainted and their pods' time runs.
  ORCH_ASSERT_OK(cluster_->RecoverNode("node-2"));
  ASSERT_THAT(cluster_->WaitFor([&] { return Taint("node-0", kUnreachable, "NoExecute").has_value(); },
                                absl::Minutes(2), "node-0 tainted"),
              ::orch::testing::IsOk());
  ASSERT_THAT(cluster_->WaitFor([&] { return Evicted("a"); }, absl::Minutes(6), "a evicted"),
              ::orch::testing::IsOk());
}

TEST_F(NodeLifecycleTest, BadOptionsAreRejected) {
  Start();
  NodeLifecycleOptions options;
  options.node_monitor_grace_period = absl::ZeroDuration();
  EXPECT_THAT(AddNodeLifecycleController(&cluster_->manager(), options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("node_monitor_grace_period")));
  options = {};
  options.unhealthy_zone_threshold = 1.5;
  EXPECT_THAT(AddNodeLifecycleController(&cluster_->manager(), options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unhealthy_zone_threshold")));
  EXPECT_THAT(cluster_->FailNode("node-9"), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace orch::controller
