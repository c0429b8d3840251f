#include "orch/node/node_agent.h"

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orch/api/scheme.h"
#include "orch/api/v1/coordination.pb.h"
#include "orch/api/v1/core.pb.h"
#include "orch/base/executor.h"
#include "orch/client/client.h"
#include "orch/client/informer.h"
#include "orch/network/fake_network.h"
#include "orch/node/pod_router.h"
#include "orch/runtime/fake_runtime.h"
#include "orch/store/memory_store.h"
#include "node/agent_test_fixture.h"
#include "support/status_matchers.h"

namespace orch::node {
namespace {

namespace v1 = ::orch::api::v1;
namespace cri = ::orch::runtime::cri;
using ::orch::runtime::FakeImage;
using ::orch::runtime::FakeRuntime;
using ::orch::testing::IsOk;
using ::orch::testing::StatusIs;
using ::testing::HasSubstr;

v1::Pod MakePod(const std::string& name, std::vector<std::string> images,
                std::string restart_policy = "Always") {
  v1::Pod pod;
  pod.mutable_metadata()->set_name(name);
  pod.mutable_metadata()->set_namespace_("default");
  pod.mutable_spec()->set_node_name(kNode);
  pod.mutable_spec()->set_restart_policy(restart_policy);
  for (size_t i = 0; i < images.size(); ++i) {
    v1::Container* c = pod.mutable_spec()->add_containers();
    c->set_name(i == 0 ? "main" : "side" + std::to_string(i));
    c->set_image(images[i]);
    c->set_image_pull_policy("IfNotPresent");
  }
  return pod;
}

class NodeAgentTest : public AgentOnFakeRuntimeTest {
 protected:
  static const v1::ContainerStatus& Main(const v1::Pod& pod) {
    return pod.status().container_statuses(0);
  }
};

TEST_F(NodeAgentTest, RegistersTheNodeAndRenewsItsLease) {
  StartAgent();
  const v1::Node node = client_->Get<v1::Node>("", kNode).value();
  EXPECT_EQ(node.status().capacity().at("cpu").value(), "4");
  EXPECT_EQ(node.status().allocatable().at("memory").value(), "8Gi");
  EXPECT_EQ(node.status().capacity().at("pods").value(), "110");
  EXPECT_EQ(node.metadata().labels().at("kubernetes.io/hostname"), kNode);
  bool ready = false;
  for (const auto& c : node.status().conditions()) ready |= c.type() == "Ready" && c.status() == "True";
  EXPECT_TRUE(ready);
  EXPECT_EQ(node.status().addresses(0).address(), "10.0.0.1");

  const v1::Lease first = client_->Get<v1::Lease>("kube-node-lease", kNode).value();
  EXPECT_EQ(first.spec().lease_duration_seconds(), 40);
  EXPECT_EQ(first.metadata().owner_references(0).uid(), node.metadata().uid());
  Run(absl::Seconds(10));
  const v1::Lease second = client_->Get<v1::Lease>("kube-node-lease", kNode).value();
  EXPECT_EQ(second.spec().renew_time().seconds() - first.spec().renew_time().seconds(), 10);
}

TEST_F(NodeAgentTest, RunsABoundPodAndReportsItRunningAndReady) {
  StartAgent();
  Create(MakePod("web", {"web:1", "log:1"}));
  Create([] {
    v1::Pod other = MakePod("elsewhere", {"web:1"});
    other.mutable_spec()->set_node_name("node-b");
    return other;
  }());
  Run(absl::Seconds(3));
  const v1::Pod pod = Get("web");
  EXPECT_EQ(pod.status().phase(), "Running");
  EXPECT_EQ(Condition(pod, "Initialized"), "True");
  EXPECT_EQ(Condition(pod, "ContainersReady"), "True");
  EXPECT_EQ(Condition(pod, "Ready"), "True");
  EXPECT_EQ(pod.status().pod_ip(), "10.244.1.2");
  EXPECT_EQ(pod.status().host_ip(), "10.0.0.1");
  ASSERT_EQ(pod.status().container_statuses_size(), 2);
  for (const auto& s : pod.status().container_statuses()) {
    EXPECT_TRUE(s.state().has_running()) << s.DebugString();
    EXPECT_TRUE(s.ready());
    EXPECT_EQ(s.restart_count(), 0);
    EXPECT_THAT(s.container_id(), HasSubstr("fake://"));
  }
  EXPECT_TRUE(pod.status().has_start_time());
  // Only its own pod: one sandbox, two containers.
  EXPECT_EQ(runtime_->stats().sandboxes, 1);
  EXPECT_EQ(runtime_->stats().running_containers, 2);
  EXPECT_EQ(Get("elsewhere").status().container_statuses_size(), 0);
}

TEST_F(NodeAgentTest, InitContainersRunOneAfterAnotherBeforeTheApp) {
  runtime_->SetImage("init:1", {.exit_after = absl::Seconds(2), .exit_code = 0});
  StartAgent();
  v1::Pod pod = MakePod("web", {"web:1"});
  for (const char* name : {"first", "second"}) {
    v1::Container* c = pod.mutable_spec()->add_init_containers();
    c->set_name(name);
    c->set_image("init:1");
  }
  Create(pod);
  Run(absl::Seconds(1));
  pod = Get("web");
  EXPECT_EQ(pod.status().phase(), "Pending");
  EXPECT_EQ(Condition(pod, "Initialized"), "False");
  EXPECT_TRUE(pod.status().init_container_statuses(0).state().has_running());
  EXPECT_EQ(pod.status().init_container_statuses(1).state().waiting().reason(), "PodInitializing");
  EXPECT_EQ(Main(pod).state().waiting().reason(), "PodInitializing");
  Run(absl::Seconds(2));
  pod = Get("web");
  EXPECT_TRUE(pod.status().init_container_statuses(0).state().has_terminated());
  EXPECT_TRUE(pod.status().init_container_statuses(1).state().has_running());
  Run(absl::Seconds(4));
  pod = Get("web");
  EXPECT_EQ(pod.status().phase(), "Running");
  EXPECT_EQ(Condition(pod, "Initialized"), "True");
  EXPECT_EQ(pod.status().init_container_statuses(1).state().terminated().reason(), "Completed");
  EXPECT_TRUE(Main(pod).state().has_running());
}

TEST_F(NodeAgentTest, ACrashingContainerBacksOffTenSecondsDoublingInCrashLoopBackOff) {
  runtime_->SetImage("crash:1", {.exit_after = absl::Seconds(1), .exit_code = 2});
  StartAgent();
  Create(MakePod("web", {"crash:1"}));
  std::vector<int> restart_counts;
  std::vector<int64_t> seen_at;
  int last = -1;
  for (int t = 0; t < 120; ++t) {
    Run(absl::Seconds(1));
    const v1::Pod pod = Get("web");
    if (pod.status().container_statuses_size() == 0) continue;
    const int count = Main(pod).restart_count();
    if (count != last) {
      restart_counts.push_back(count);
      seen_at.push_back(t + 1);
      last = count;
    }
  }
  // The first restart follows the first crash (at 1 s) at once; then each waits 10 s
  // doubling after its crash (1 s after its start).
  ASSERT_GE(restart_counts.size(), 4u);
  EXPECT_EQ(restart_counts[0], 1);
  EXPECT_EQ(seen_at[0], 1);
  EXPECT_EQ(seen_at[1] - seen_at[0], 11);
  EXPECT_EQ(seen_at[2] - seen_at[1], 21);
  EXPECT_EQ(seen_at[3] - seen_at[2], 41);
  Run(absl::Seconds(5));
  const v1::Pod pod = Get("web");
  const v1::ContainerStatus& s = Main(pod);
  if (s.state().has_waiting()) {
    EXPECT_EQ(s.state().waiting().reason(), "CrashLoopBackOff");
    EXPECT_THAT(s.state().waiting().message(), HasSubstr("restarting failed container=main"));
  }
  EXPECT_EQ(s.last_state().terminated().exit_code(), 2);
  EXPECT_EQ(s.last_state().terminated().reason(), "Error");
  EXPECT_EQ(pod.status().phase(), "Running");
  EXPECT_EQ(Condition(pod, "Ready"), "False");
  // Dead containers are collected: at most the newest dead one is kept besides the current.
  EXPECT_LE(runtime_->stats().containers, 2);
}

// A container that exits is restarted at once the first time, yet the exit is published
// before the restart: Ready goes False and, once the new container runs, True again with a
// later transition time (what minReadySeconds counts from).
TEST_F(NodeAgentTest, AnExitIsPublishedBeforeTheRestartThatFollowsIt) {
  runtime_->SetImage("crash:1", {.start_delay = absl::Seconds(2), .exit_after = absl::Seconds(5)});
  StartAgent();
  Create(MakePod("web", {"crash:1"}));
  std::vector<std::string> ready;  // each change of the Ready condition, "True@<seconds>"
  const absl::Time start = executor_.clock().Now();
  for (int t = 0; t < 12; ++t) {
    Run(absl::Seconds(1));
    const v1::Pod pod = Get("web");
    for (const v1::PodCondition& c : pod.status().conditions()) {
      if (c.type() != "Ready") continue;
      const std::string seen = absl::StrCat(
          c.status(), "@", c.last_transition_time().seconds() - absl::ToUnixSeconds(start));
      if (ready.empty() || ready.back() != seen) ready.push_back(seen);
    }
  }
  // Running at 2 s, exits at 7 s (seen by the relist then), running again 2 s after the
  // restart.
  EXPECT_THAT(ready, ::testing::ElementsAre("True@2", "False@7", "True@9"));
  EXPECT_EQ(Main(Get("web")).restart_count(), 1);
}

TEST_F(NodeAgentTest, RestartPolicyDecidesTheEndOfPodsThatExit) {
  runtime_->SetImage("fail:1", {.exit_after = absl::Seconds(1), .exit_code = 1});
  runtime_->SetImage("done:1", {.exit_after = absl::Seconds(1), .exit_code = 0});
  StartAgent();
  Create(MakePod("never", {"fail:1"}, "Never"));
  Create(MakePod("onfailure", {"done:1"}, "OnFailure"));
  Create(MakePod("onfailure-fails", {"fail:1"}, "OnFailure"));
  Run(absl::Seconds(5));
  EXPECT_EQ(Get("never").status().phase(), "Failed");
  EXPECT_EQ(Main(Get("never")).state().terminated().exit_code(), 1);
  EXPECT_EQ(Main(Get("never")).restart_count(), 0);
  EXPECT_EQ(Get("onfailure").status().phase(), "Succeeded");
  EXPECT_EQ(Condition(Get("onfailure"), "Ready"), "False");
  EXPECT_EQ(Get("onfailure-fails").status().phase(), "Running");
  EXPECT_GE(Main(Get("onfailure-fails")).restart_count(), 1);
}

TEST_F(NodeAgentTest, AnImageThatCannotBePulledIsErrImagePullThenImagePullBackOff) {
  runtime_->SetImage("nope:1", {.pull_error = "not found"});
  StartAgent();
  Create(MakePod("broken", {"nope:1"}));
  Create(MakePod("fine", {"web:1"}));
  Run(absl::Milliseconds(500));
  v1::Pod pod = Get("broken");
  EXPECT_EQ(pod.status().phase(), "Pending");
  EXPECT_EQ(Main(pod).state().waiting().reason(), "ErrImagePull");
  EXPECT_THAT(Main(pod).state().waiting().message(),
              HasSubstr("failed to pull and unpack image \"nope:1\": not found"));
  Run(absl::Seconds(2));
  pod = Get("broken");
  EXPECT_EQ(Main(pod).state().waiting().reason(), "ImagePullBackOff");
  EXPECT_EQ(Main(pod).state().waiting().message(), "Back-off pulling image \"nope:1\"");
  EXPECT_EQ(Get("fine").status().phase(), "Running");
}

TEST_F(NodeAgentTest, AFailingLivenessProbeRestartsTheContainer) {
  runtime_->SetImage("rots:1", {.unhealthy_after = absl::Seconds(30)});
  StartAgent();
  v1::Pod pod = MakePod("web", {"rots:1"});
  v1::Probe* probe = pod.mutable_spec()->mutable_containers(0)->mutable_liveness_probe();
  probe->mutable_http_get()->set_path("/healthz");
  probe->mutable_http_get()->mutable_port()->set_int_val(8080);
  probe->set_period_seconds(10);
  probe->set_failure_threshold(3);
  Create(pod);
  Run(absl::Seconds(45));
  EXPECT_EQ(Main(Get("web")).restart_count(), 0);
  // Unhealthy from 30 s: failures at 30/40/50 s (probes every 10 s) → restart at ~50 s.
  Run(absl::Seconds(15));
  pod = Get("web");
  EXPECT_EQ(Main(pod).restart_count(), 1);
  EXPECT_TRUE(Main(pod).state().has_running());
  EXPECT_EQ(Main(pod).last_state().terminated().exit_code(), 143);
}

TEST_F(NodeAgentTest, ReadinessProbesDecideReadiness) {
  runtime_->SetImage("unready:1", {.never_ready = true});
  StartAgent();
  v1::Pod pod = MakePod("web", {"unready:1"});
  v1::Probe* probe = pod.mutable_spec()->mutable_containers(0)->mutable_readiness_probe();
  probe->mutable_tcp_socket()->mutable_port()->set_int_val(80);
  Create(pod);
  Run(absl::Seconds(30));
  pod = Get("web");
  EXPECT_EQ(pod.status().phase(), "Running");
  EXPECT_FALSE(Main(pod).ready());
  EXPECT_EQ(Condition(pod, "ContainersReady"), "False");
  EXPECT_EQ(Condition(pod, "Ready"), "False");
}

TEST_F(NodeAgentTest, GracefulDeletionWaitsForTheContainersBeforeTheObjectGoes) {
  runtime_->SetImage("stubborn:1", {.ignore_sigterm = true});
  StartAgent();
  v1::Pod pod = MakePod("web", {"stubborn:1"});
  pod.mutable_spec()->set_termination_grace_period_seconds(20);
  Create(pod);
  Run(absl::Seconds(2));
  ASSERT_EQ(Get("web").status().phase(), "Running");
  ASSERT_THAT(client_->Delete<v1::Pod>("default", "web"), IsOk());
  Run(absl::Seconds(19));
  EXPECT_TRUE(client_->Get<v1::Pod>("default", "web").ok());  // still stopping
  Run(absl::Seconds(3));
  EXPECT_THAT(client_->Get<v1::Pod>("default", "web"), StatusIs(absl::StatusCode::kNotFound));
  Run(absl::Seconds(2));
  EXPECT_EQ(runtime_->stats().sandboxes, 0);
  EXPECT_EQ(runtime_->stats().containers, 0);
}

TEST_F(NodeAgentTest, PodsTakeTheNetworksAddressWhereTheRuntimeGivesNone) {
  runtime_ = std::make_unique<FakeRuntime>(runtime::FakeRuntimeOptions{.executor = &executor_});
  network::FakeNetwork network({.clock = &executor_.clock()});
  ASSERT_THAT(network.AddNode(kNode, "10.64.7.0/24"), IsOk());
  NodeAgentOptions options = Options();
  options.network = &network;
  ORCH_ASSERT_OK_AND_ASSIGN(agent_, NodeAgent::Create(options));
  ASSERT_THAT(agent_->Start(), IsOk());
  Create(MakePod("web", {"web:1"}));
  Create(MakePod("api", {"web:1"}));
  Run(absl::Seconds(3));
  const v1::Pod web = Get("web");
  const v1::Pod api = Get("api");
  EXPECT_EQ(std::set<std::string>({web.status().pod_ip(), api.status().pod_ip()}),
            std::set<std::string>({"10.64.7.2", "10.64.7.3"}));
  // The pod keeps its address: asking again for it gives the same.
  EXPECT_EQ(network.AssignPodAddress(kNode, web.metadata().uid()).value(), web.status().pod_ip());

  // Once nothing of web is left, its address goes back and the next pod takes it.
  ASSERT_THAT(client_->Delete<v1::Pod>("default", "web"), IsOk());
  Run(absl::Seconds(40));
  ASSERT_THAT(client_->Get<v1::Pod>("default", "web"), StatusIs(absl::StatusCode::kNotFound));
  Create(MakePod("db", {"web:1"}));
  Run(absl::Seconds(3));
  EXPECT_EQ(Get("db").status().pod_ip(), web.status().pod_ip());
  EXPECT_EQ(agent_->stats().runtime_errors, 0);
}

TEST_F(NodeAgentTest, ARestartedAgentAdoptsWhatRunsAndRemovesOrphans) {
  StartAgent();
  Create(MakePod("web", {"web:1", "log:1"}));
  Run(absl::Seconds(3));
  ASSERT_EQ(Get("web").status().phase(), "Running");
  const FakeRuntime::Stats before = runtime_->stats();
  agent_->Stop();
  agent_.reset();
  // While the agent is down, a sandbox appears that belongs to no pod.
  cri::RunPodSandboxRequest orphan;
  orphan.mutable_config()->mutable_metadata()->set_name("ghost");
  (*orphan.mutable_config()->mutable_labels())["io.kubernetes.pod.uid"] = "no-such-uid";
  runtime_->RunPodSandbox(orphan, [](auto) {});
  executor_.RunUntilIdle();
  ASSERT_EQ(runtime_->stats().sandboxes, 2);

  StartAgent();
  Run(absl::Seconds(5));
  EXPECT_EQ(agent_->stats().adopted_containers, 2);
  const FakeRuntime::Stats after = runtime_->stats();
  EXPECT_EQ(after.running_containers, before.running_containers);
  EXPECT_EQ(after.sandboxes, 1);  // the orphan is gone, the pod's kept
  const v1::Pod pod = Get("web");
  EXPECT_EQ(pod.status().phase(), "Running");
  EXPECT_EQ(Main(pod).restart_count(), 0);
}

TEST_F(NodeAgentTest, NothingOfTheAgentRunsOnceStopHasReturned) {
  StartAgent();
  // Calls answer a second later, and fail: the answer to RunPodSandbox would write a
  // FailedCreatePodSandBox Event.
  runtime_->SetCallDelay(absl::Seconds(1));
  runtime_->SetUnavailable(true);
  Create(MakePod("web", {"web:1"}));
  executor_.RunUntilIdle();  // the agent takes the pod and asks for its sandbox
  ASSERT_EQ(runtime_->stats().sandboxes, 0);
  agent_->Stop();
  const int64_t stopped_at = store_->CurrentRevision().value();

  Run(absl::Minutes(2));  // the answer, and what would be the agent's timers, come due
  EXPECT_EQ(store_->CurrentRevision().value(), stopped_at)
      << "the agent wrote to the store after Stop";
  ORCH_ASSERT_OK_AND_ASSIGN(const client::ObjectList<api::v1::Event> events,
                            client_->List<api::v1::Event>("default"));
  for (const api::v1::Event& event : events.items) {
    EXPECT_NE(event.reason(), "FailedCreatePodSandBox");
  }
}

// A host's prober that stops the agent from inside the first probe the agent asks of it.
class ProberThatStopsTheAgent final : public runtime::Prober {
 public:
  explicit ProberThatStopsTheAgent(runtime::Prober* inner) : inner_(inner) {}
  void Probe(const runtime::ProbeRequest& request,
             std::function<void(runtime::ProbeResult)> done) override {
    ++probes;
    if (probes == 1) agent->Stop();  // must not wait for this very call
    inner_->Probe(request, std::move(done));
  }
  NodeAgent* agent = nullptr;
  int probes = 0;

 private:
  runtime::Prober* const inner_;
};

TEST_F(NodeAgentTest, StopCalledFromInsideTheAgentsOwnCallReturns) {
  ProberThatStopsTheAgent prober(runtime_.get());
  NodeAgentOptions options = Options();
  options.prober = &prober;
  ORCH_ASSERT_OK_AND_ASSIGN(agent_, NodeAgent::Create(options));
  prober.agent = agent_.get();
  ASSERT_THAT(agent_->Start(), IsOk());
  v1::Pod pod = MakePod("web", {"web:1"});
  v1::Probe* probe = pod.mutable_spec()->mutable_containers(0)->mutable_readiness_probe();
  probe->mutable_tcp_socket()->mutable_port()->set_int_val(80);
  probe->set_period_seconds(1);
  Create(pod);
  Run(absl::Seconds(10));  // returns: the Stop inside the probe did not wait for itself
  EXPECT_EQ(prober.probes, 1) << "the agent probed again after Stop";
  EXPECT_FALSE(Main(Get("web")).ready()) << "the stopped agent reported the probe's answer";
}

TEST_F(NodeAgentTest, AKilledContainerIsRestartedAndCounted) {
  StartAgent();
  Create(MakePod("web", {"web:1"}));
  Run(absl::Seconds(2));
  const std::string id = Main(Get("web")).container_id().substr(std::string("fake://").size());
  ASSERT_THAT(runtime_->KillContainer(id), IsOk());
  Run(absl::Seconds(3));
  const v1::Pod pod = Get("web");
  EXPECT_EQ(Main(pod).restart_count(), 1);
  EXPECT_TRUE(Main(pod).state().has_running());
  EXPECT_EQ(Main(pod).last_state().terminated().exit_code(), 137);
}

TEST_F(NodeAgentTest, BadOptionsAreRefusedNamingTheField) {
  NodeAgentOptions options = Options();
  options.node_name.clear();
  EXPECT_THAT(NodeAgent::Create(options), StatusIs(absl::StatusCode::kInvalidArgument,
                                                   HasSubstr("node_name: Required value")));
  options = Options();
  options.runtime = nullptr;
  EXPECT_THAT(NodeAgent::Create(options), StatusIs(absl::StatusCode::kInvalidArgument,
                                                   HasSubstr("runtime: Required value")));
  options = Options();
  options.lease_duration = absl::Seconds(1);
  EXPECT_THAT(NodeAgent::Create(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("lease_duration")));
}

TEST_F(NodeAgentTest, AgentsSharingAPodRouterEachRunOnlyTheirOwnPods) {
  client::SharedInformerFactory informers(client_.get(), &executor_);
  ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<PodRouter> router, PodRouter::Create(&informers));
  FakeRuntime runtime_b({.executor = &executor_, .pod_cidr = "10.244.2.0/24"});
  NodeAgentOptions options_a = Options();
  options_a.pod_router = router.get();
  NodeAgentOptions options_b = Options();
  options_b.node_name = "node-b";
  options_b.runtime = &runtime_b;
  options_b.prober = &runtime_b;
  options_b.internal_ip = "10.0.0.2";
  options_b.pod_router = router.get();
  ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<NodeAgent> agent_a, NodeAgent::Create(options_a));
  ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<NodeAgent> agent_b, NodeAgent::Create(options_b));
  ASSERT_THAT(agent_a->Start(), IsOk());
  ASSERT_THAT(agent_b->Start(), IsOk());
  informers.Start();

  Create(MakePod("web", {"web:1"}));
  v1::Pod api = MakePod("api", {"api:1", "log:1"});
  api.mutable_spec()->clear_node_name();  // bound below, as a scheduler would
  Create(api);
  Run(absl::Seconds(1));
  EXPECT_EQ(runtime_b.stats().sandboxes, 0);  // unbound: no agent runs it
  api = Get("api");
  api.mutable_spec()->set_node_name("node-b");
  ASSERT_TRUE(client_->Update(api).ok());
  Run(absl::Seconds(3));

  const v1::Pod web = Get("web");
  EXPECT_EQ(web.status().phase(), "Running");
  EXPECT_EQ(Condition(web, "Ready"), "True");
  EXPECT_EQ(web.status().host_ip(), "10.0.0.1");
  EXPECT_EQ(web.status().pod_ip(), "10.244.1.2");
  api = Get("api");
  EXPECT_EQ(api.status().phase(), "Running");
  EXPECT_EQ(Condition(api, "Ready"), "True");
  EXPECT_EQ(api.status().host_ip(), "10.0.0.2");
  EXPECT_EQ(api.status().pod_ip(), "10.244.2.2");
  EXPECT_EQ(agent_a->stats().pods, 1);
  EXPECT_EQ(agent_b->stats().pods, 1);
  EXPECT_EQ(runtime_->stats().sandboxes, 1);
  EXPECT_EQ(runtime_->stats().running_containers, 1);
  EXPECT_EQ(runtime_b.stats().sandboxes, 1);
  EXPECT_EQ(runtime_b.stats().running_containers, 2);

  // A deletion reaches only its node's agent.
  ASSERT_THAT(client_->Delete<v1::Pod>("default", "web"), IsOk());
  Run(absl::Seconds(3));
  EXPECT_THAT(client_->Get<v1::Pod>("default", "web"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(runtime_->stats().sandboxes, 0);
  EXPECT_EQ(runtime_b.stats().running_containers, 2);
  EXPECT_EQ(Get("api").status().phase(), "Running");
  agent_a->Stop();
  agent_b->Stop();
}

TEST_F(NodeAgentTest, ARelistOfPodsThatDidNotChangeOnlyListsTheRuntime) {
  StartAgent();
  Create(MakePod("web", {"web:1", "log:1"}));
  Run(absl::Seconds(3));
  ASSERT_EQ(Get("web").status().phase(), "Running");
  // Each relist (every second) lists sandboxes and containers; the sandbox's address is
  // asked for once, not again at every relist.
  const int64_t before = runtime_->stats().calls;
  Run(absl::Seconds(10));
  EXPECT_EQ(runtime_->stats().calls - before, 10 * 2);
  EXPECT_EQ(Get("web").status().pod_ip(), "10.244.1.2");
}

}  // namespace
}  // namespace orch::node
