// What the node agent puts into CreateContainer and does around a container's start and
// stop, on a FakeRuntime in virtual time: cgroup resources by QoS class, env valueFrom and
// $(VAR) expansion, unresolvable references (CreateContainerConfigError), and the
// postStart and preStop lifecycle hooks.
#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orch/api/scheme.h"
#include "orch/api/v1/core.pb.h"
#include "orch/base/executor.h"
#include "orch/client/client.h"
#include "orch/node/node_agent.h"
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
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int64_t kMi = int64_t{1} << 20;
constexpr int64_t kGi = int64_t{1} << 30;

v1::Pod MakePod(const std::string& name, std::vector<std::string> containers,
                const std::string& image = "app:1") {
  v1::Pod pod;
  pod.mutable_metadata()->set_name(name);
  pod.mutable_metadata()->set_namespace_("default");
  pod.mutable_spec()->set_node_name(kNode);
  pod.mutable_spec()->set_restart_policy("Always");
  for (const std::string& container : containers) {
    v1::Container* c = pod.mutable_spec()->add_containers();
    c->set_name(container);
    c->set_image(image);
    c->set_image_pull_policy("IfNotPresent");
  }
  return pod;
}

void SetResource(v1::Container* c, const std::string& kind, const std::string& name,
                 const std::string& value) {
  auto* list = kind == "limits" ? c->mutable_resources()->mutable_limits()
                                : c->mutable_resources()->mutable_requests();
  (*list)[name].set_value(value);
}

v1::EnvVar* AddEnv(v1::Container* c, const std::string& name, const std::string& value = "") {
  v1::EnvVar* var = c->add_env();
  var->set_name(name);
  var->set_value(value);
  return var;
}

void AddFieldRef(v1::Container* c, const std::string& name, const std::string& path) {
  AddEnv(c, name)->mutable_value_from()->mutable_field_ref()->set_field_path(path);
}

void AddResourceRef(v1::Container* c, const std::string& name, const std::string& resource,
                    const std::string& divisor = "", const std::string& container = "") {
  v1::ResourceFieldSelector* ref =
      AddEnv(c, name)->mutable_value_from()->mutable_resource_field_ref();
  ref->set_resource(resource);
  if (!divisor.empty()) ref->mutable_divisor()->set_value(divisor);
  ref->set_container_name(container);
}

std::map<std::string, std::string> EnvOf(const cri::ContainerConfig& config) {
  std::map<std::string, std::string> env;
  for (const cri::KeyValue& kv : config.envs()) env[kv.key()] = kv.value();
  return env;
}

class PodWorkerConfigTest : public AgentOnFakeRuntimeTest {
 protected:
  void SetUp() override {
    AgentOnFakeRuntimeTest::SetUp();
    StartAgent();
  }

  static const v1::ContainerStatus& StatusOf(const v1::Pod& pod, const std::string& container) {
    for (const v1::ContainerStatus& s : pod.status().container_statuses()) {
      if (s.name() == container) return s;
    }
    static const v1::ContainerStatus none;
    ADD_FAILURE() << "no status for container " << container;
    return none;
  }

  // The config the runtime got for the running container `container` of pod `name`.
  cri::ContainerConfig ConfigOf(const std::string& name, const std::string& container) {
    const std::string id = StatusOf(Get(name), container).container_id();
    constexpr std::string_view kPrefix = "fake://";
    if (id.size() <= kPrefix.size()) {
      ADD_FAILURE() << "container " << container << " of pod " << name << " has no id";
      return {};
    }
    std::optional<cri::ContainerConfig> config = runtime_->ContainerConfig(id.substr(kPrefix.size()));
    if (!config.has_value()) {
      ADD_FAILURE() << "the runtime does not hold " << id;
      return {};
    }
    return *config;
  }

  // The messages of the events of `reason`.
  std::vector<std::string> Events(const std::string& reason) {
    std::vector<std::string> messages;
    const auto events = client_->List<v1::Event>("default");
    EXPECT_THAT(events, IsOk());
    if (!events.ok()) return messages;
    for (const v1::Event& e : events->items) {
      if (e.reason() == reason) messages.push_back(e.message());
    }
    return messages;
  }
};

// ---------------------------------------------------------------- resources

TEST_F(PodWorkerConfigTest, GuaranteedContainersGetTheirLimitsAndTheLowestOomScore) {
  v1::Pod pod = MakePod("guaranteed", {"main", "limits-only"});
  v1::Container* main = pod.mutable_spec()->mutable_containers(0);
  for (const char* kind : {"requests", "limits"}) {
    SetResource(main, kind, "cpu", "500m");
    SetResource(main, kind, "memory", "256Mi");
  }
  // Only limits: the requests are the limits, as the API server defaults them.
  v1::Container* limits_only = pod.mutable_spec()->mutable_containers(1);
  SetResource(limits_only, "limits", "cpu", "1");
  SetResource(limits_only, "limits", "memory", "1Gi");
  Create(pod);
  Run(absl::Seconds(3));
  ASSERT_EQ(Get("guaranteed").status().phase(), "Running");

  const cri::LinuxContainerResources r = ConfigOf("guaranteed", "main").linux().resources();
  EXPECT_EQ(r.cpu_shares(), 512);
  EXPECT_EQ(r.cpu_period(), 100000);
  EXPECT_EQ(r.cpu_quota(), 50000);
  EXPECT_EQ(r.memory_limit_in_bytes(), 256 * kMi);
  EXPECT_EQ(r.oom_score_adj(), -997);
  const cri::LinuxContainerResources l = ConfigOf("guaranteed", "limits-only").linux().resources();
  EXPECT_EQ(l.cpu_shares(), 1024);
  EXPECT_EQ(l.cpu_quota(), 100000);
  EXPECT_EQ(l.memory_limit_in_bytes(), 1 * kGi);
  EXPECT_EQ(l.oom_score_adj(), -997);
}

TEST_F(PodWorkerConfigTest, BurstableOomScoresAreRelativeToTheNodesMemory) {
  v1::Pod pod = MakePod("burstable", {"main", "bare"});
  v1::Container* main = pod.mutable_spec()->mutable_containers(0);
  SetResource(main, "requests", "cpu", "250m");
  SetResource(main, "requests", "memory", "1Gi");
  SetResource(main, "limits", "memory", "2Gi");
  Create(pod);
  Run(absl::Seconds(3));
  ASSERT_EQ(Get("burstable").status().phase(), "Running");

  const cri::LinuxContainerResources r = ConfigOf("burstable", "main").linux().resources();
  EXPECT_EQ(r.cpu_shares(), 256);
  EXPECT_EQ(r.cpu_period(), 100000);
  EXPECT_EQ(r.cpu_quota(), 0);  // no CPU limit
  EXPECT_EQ(r.memory_limit_in_bytes(), 2 * kGi);
  EXPECT_EQ(r.oom_score_adj(), 875);  // 1000 - 1000 * 1Gi / 8Gi
  // A container without requests in a Burstable pod: just below BestEffort.
  const cri::LinuxContainerResources bare = ConfigOf("burstable", "bare").linux().resources();
  EXPECT_EQ(bare.cpu_shares(), 0);  // the runtime's default: no kubepods cgroup to share in
  EXPECT_EQ(bare.memory_limit_in_bytes(), 0);
  EXPECT_EQ(bare.oom_score_adj(), 999);
}

TEST_F(PodWorkerConfigTest, BestEffortContainersGetDefaultSharesAndTheHighestOomScore) {
  Create(MakePod("besteffort", {"main"}));
  Run(absl::Seconds(3));
  ASSERT_EQ(Get("besteffort").status().phase(), "Running");
  const cri::LinuxContainerResources r = ConfigOf("besteffort", "main").linux().resources();
  EXPECT_EQ(r.cpu_shares(), 0);
  EXPECT_EQ(r.cpu_period(), 100000);
  EXPECT_EQ(r.cpu_quota(), 0);
  EXPECT_EQ(r.memory_limit_in_bytes(), 0);
  EXPECT_EQ(r.oom_score_adj(), 1000);
}

// ---------------------------------------------------------------- env

TEST_F(PodWorkerConfigTest, FieldRefsResolveToThePodTheNodeAndTheSandboxAddress) {
  v1::Pod pod = MakePod("downward", {"main"});
  (*pod.mutable_metadata()->mutable_labels())["app"] = "web";
  (*pod.mutable_metadata()->mutable_labels())["tier"] = "front";
  (*pod.mutable_metadata()->mutable_annotations())["owner"] = "team a";
  pod.mutable_spec()->set_service_account_name("robot");
  v1::Container* c = pod.mutable_spec()->mutable_containers(0);
  AddFieldRef(c, "MY_NAME", "metadata.name");
  AddFieldRef(c, "MY_NAMESPACE", "metadata.namespace");
  AddFieldRef(c, "MY_UID", "metadata.uid");
  AddFieldRef(c, "MY_APP", "metadata.labels['app']");
  AddFieldRef(c, "MY_MISSING_LABEL", "metadata.labels['nope']");
  AddFieldRef(c, "MY_OWNER", "metadata.annotations['owner']");
  AddFieldRef(c, "MY_LABELS", "metadata.labels");
  AddFieldRef(c, "MY_NODE", "spec.nodeName");
  AddFieldRef(c, "MY_SERVICE_ACCOUNT", "spec.serviceAccountName");
  AddFieldRef(c, "MY_HOST_IP", "status.hostIP");
  AddFieldRef(c, "MY_POD_IP", "status.podIP");
  AddFieldRef(c, "MY_POD_IPS", "status.podIPs");
  const v1::Pod created = Create(pod);
  Run(absl::Seconds(3));
  const v1::Pod running = Get("downward");
  ASSERT_EQ(running.status().phase(), "Running");
  ASSERT_EQ(running.status().pod_ip(), "10.244.1.2");

  const std::map<std::string, std::string> env = EnvOf(ConfigOf("downward", "main"));
  const std::map<std::string, std::string> want = {
      {"MY_NAME", "downward"},
      {"MY_NAMESPACE", "default"},
      {"MY_UID", created.metadata().uid()},
      {"MY_APP", "web"},
      {"MY_MISSING_LABEL", ""},
      {"MY_OWNER", "team a"},
      {"MY_LABELS", "app=\"web\"\ntier=\"front\""},
      {"MY_NODE", kNode},
      {"MY_SERVICE_ACCOUNT", "robot"},
      {"MY_HOST_IP", "10.0.0.1"},
      {"MY_POD_IP", "10.244.1.2"},
      {"MY_POD_IPS", "10.244.1.2"},
  };
  EXPECT_EQ(env, want);
  EXPECT_FALSE(created.metadata().uid().empty());
}

TEST_F(PodWorkerConfigTest, ResourceFieldRefsDivideRoundUpAndFallBackToTheNode) {
  v1::Pod pod = MakePod("resources", {"main", "side"});
  v1::Container* main = pod.mutable_spec()->mutable_containers(0);
  SetResource(main, "requests", "cpu", "250m");
  SetResource(main, "requests", "memory", "64Mi");
  SetResource(main, "limits", "memory", "128Mi");
  SetResource(pod.mutable_spec()->mutable_containers(1), "limits", "cpu", "2");
  AddResourceRef(main, "CPU_REQUEST_MILLI", "requests.cpu", "1m");
  AddResourceRef(main, "CPU_REQUEST_CORES", "requests.cpu");  // 0.25 rounds up to 1
  AddResourceRef(main, "CPU_LIMIT", "limits.cpu");            // none: the node's 4
  AddResourceRef(main, "CPU_LIMIT_MILLI", "limits.cpu", "1m");
  AddResourceRef(main, "MEMORY_LIMIT_MI", "limits.memory", "1Mi");
  AddResourceRef(main, "MEMORY_LIMIT_GI", "limits.memory", "1Gi");  // 1/8 rounds up to 1
  AddResourceRef(main, "MEMORY_REQUEST", "requests.memory");
  AddResourceRef(main, "SIDE_CPU_LIMIT_MILLI", "limits.cpu", "1m", "side");
  Create(pod);
  Run(absl::Seconds(3));
  ASSERT_EQ(Get("resources").status().phase(), "Running");

  const std::map<std::string, std::string> env = EnvOf(ConfigOf("resources", "main"));
  const std::map<std::string, std::string> want = {
      {"CPU_REQUEST_MILLI", "250"}, {"CPU_REQUEST_CORES", "1"},
      {"CPU_LIMIT", "4"},           {"CPU_LIMIT_MILLI", "4000"},
      {"MEMORY_LIMIT_MI", "128"},   {"MEMORY_LIMIT_GI", "1"},
      {"MEMORY_REQUEST", "67108864"}, {"SIDE_CPU_LIMIT_MILLI", "2000"},
  };
  EXPECT_EQ(env, want);
}

TEST_F(PodWorkerConfigTest, VariablesExpandInEnvCommandAndArgsWithDollarEscapes) {
  v1::Pod pod = MakePod("expand", {"main"});
  v1::Container* c = pod.mutable_spec()->mutable_containers(0);
  AddEnv(c, "GREETING", "hello");
  AddFieldRef(c, "POD", "metadata.name");
  AddEnv(c, "MESSAGE", "$(GREETING) from $(POD)");
  AddEnv(c, "ESCAPED", "$$(GREETING)");
  AddEnv(c, "UNDEFINED", "$(NOT_DEFINED)");
  AddEnv(c, "FORWARD", "$(LATER)");  // LATER is declared after it: left as is
  AddEnv(c, "LATER", "late");
  AddEnv(c, "UNCLOSED", "$(GREETING");
  c->add_command("/bin/$(GREETING)");
  c->add_args("$(MESSAGE)");
  c->add_args("$$(GREETING)");
  c->add_args("$(NOT_DEFINED)");
  c->add_args("$(LATER)");  // command and args see the whole environment
  c->add_args("cost: 5$");
  Create(pod);
  Run(absl::Seconds(3));
  ASSERT_EQ(Get("expand").status().phase(), "Running");

  const cri::ContainerConfig config = ConfigOf("expand", "main");
  std::vector<std::string> env;
  for (const cri::KeyValue& kv : config.envs()) env.push_back(kv.key() + "=" + kv.value());
  EXPECT_THAT(env, ElementsAre("GREETING=hello", "POD=expand", "MESSAGE=hello from expand",
                               "ESCAPED=$(GREETING)", "UNDEFINED=$(NOT_DEFINED)",
                               "FORWARD=$(LATER)", "LATER=late", "UNCLOSED=$(GREETING"));
  EXPECT_THAT(config.command(), ElementsAre("/bin/hello"));
  EXPECT_THAT(config.args(), ElementsAre("hello from expand", "$(GREETING)", "$(NOT_DEFINED)",
                                         "late", "cost: 5$"));
}

TEST_F(PodWorkerConfigTest, OptionalConfigMapRefsAreSkippedAndOthersFailTheCreate) {
  v1::Pod pod = MakePod("refs", {"main"});
  v1::Container* c = pod.mutable_spec()->mutable_containers(0);
  AddEnv(c, "PLAIN", "yes");
  v1::ConfigMapKeySelector* optional =
      AddEnv(c, "OPTIONAL_SETTING")->mutable_value_from()->mutable_config_map_key_ref();
  optional->set_name("settings");
  optional->set_key("level");
  optional->set_optional(true);
  Create(pod);

  v1::Pod broken = MakePod("broken", {"main"});
  v1::ConfigMapKeySelector* required = AddEnv(broken.mutable_spec()->mutable_containers(0),
                                              "DATABASE_URL")
                                           ->mutable_value_from()
                                           ->mutable_config_map_key_ref();
  required->set_name("db");
  required->set_key("url");
  Create(broken);
  Run(absl::Seconds(3));

  ASSERT_EQ(Get("refs").status().phase(), "Running");
  EXPECT_EQ(EnvOf(ConfigOf("refs", "main")),
            (std::map<std::string, std::string>{{"PLAIN", "yes"}}));

  const v1::Pod failed = Get("broken");
  EXPECT_EQ(failed.status().phase(), "Pending");
  const v1::ContainerStatus& status = StatusOf(failed, "main");
  EXPECT_EQ(status.state().waiting().reason(), "CreateContainerConfigError");
  EXPECT_THAT(status.state().waiting().message(),
              AllOf(HasSubstr("env variable \"DATABASE_URL\""), HasSubstr("ConfigMap default/db"),
                    HasSubstr("can't be resolved")));
  EXPECT_TRUE(status.container_id().empty());
  EXPECT_EQ(runtime_->stats().containers, 1);  // refs' only: nothing was made for broken
  EXPECT_THAT(Events("Failed"),
              ::testing::Contains(AllOf(HasSubstr("Error: "), HasSubstr("DATABASE_URL"))));
}

// ---------------------------------------------------------------- lifecycle hooks

TEST_F(PodWorkerConfigTest, PreStopTimeComesOutOfTheGracePeriod) {
  // The hook takes 5 s; the container ignores SIGTERM, so its stop lasts the whole timeout
  // it is given: 30 - 5 = 25 s. The pod object goes ~30 s after the delete, not 35 s.
  int hooks_run = 0;
  runtime_->SetImage("stubborn:1", {.ignore_sigterm = true,
                                    .exec = [&](const std::vector<std::string>& cmd) {
                                      if (cmd == std::vector<std::string>{"/bin/drain"}) {
                                        ++hooks_run;
                                        executor_.virtual_clock().Advance(absl::Seconds(5));
                                      }
                                      return cri::ExecSyncResponse();
                                    }});
  v1::Pod pod = MakePod("draining", {"main"}, "stubborn:1");
  pod.mutable_spec()->set_termination_grace_period_seconds(30);
  pod.mutable_spec()->mutable_containers(0)->mutable_lifecycle()->mutable_pre_stop()->mutable_exec()->add_command(
      "/bin/drain");
  Create(pod);
  Run(absl::Seconds(3));
  ASSERT_EQ(Get("draining").status().phase(), "Running");
  EXPECT_EQ(hooks_run, 0);

  ASSERT_THAT(client_->Delete<v1::Pod>("default", "draining"), IsOk());
  Run(absl::Seconds(29));
  EXPECT_EQ(hooks_run, 1);
  EXPECT_TRUE(client_->Get<v1::Pod>("default", "draining").ok()) << "stopped before the grace";
  Run(absl::Seconds(3));
  EXPECT_THAT(client_->Get<v1::Pod>("default", "draining"), StatusIs(absl::StatusCode::kNotFound))
      << "the hook's time was not taken out of the grace period";
  EXPECT_TRUE(Events("FailedPreStopHook").empty());
}

TEST_F(PodWorkerConfigTest, AFailingPreStopHookIsReportedAndTheStopGoesOn) {
  runtime_->SetImage("failing-hook:1", {.exec = [](const std::vector<std::string>& cmd) {
                       cri::ExecSyncResponse out;
                       out.set_exit_code(7);
                       out.set_stderr("cannot drain");
                       return out;
                     }});
  v1::Pod pod = MakePod("hookfail", {"main"}, "failing-hook:1");
  pod.mutable_spec()->set_termination_grace_period_seconds(10);
  v1::ExecAction* exec =
      pod.mutable_spec()->mutable_containers(0)->mutable_lifecycle()->mutable_pre_stop()->mutable_exec();
  exec->add_command("/bin/drain");
  exec->add_command("--now");
  Create(pod);
  Run(absl::Seconds(3));
  ASSERT_EQ(Get("hookfail").status().phase(), "Running");

  ASSERT_THAT(client_->Delete<v1::Pod>("default", "hookfail"), IsOk());
  Run(absl::Seconds(3));
  EXPECT_THAT(client_->Get<v1::Pod>("default", "hookfail"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Events("FailedPreStopHook"),
              ElementsAre(AllOf(HasSubstr("Exec lifecycle hook ([/bin/drain --now]) for Container "
                                          "\"main\" in Pod \"hookfail_default("),
                                HasSubstr("command '/bin/drain --now' exited with 7: cannot drain"))));
  Run(absl::Seconds(2));
  EXPECT_EQ(runtime_->stats().containers, 0);
}

TEST_F(PodWorkerConfigTest, AFailedPostStartHookKillsTheContainerAndItRestartsByPolicy) {
  int hooks_run = 0;
  runtime_->SetImage("bad-init:1", {.exec = [&](const std::vector<std::string>& cmd) {
                       ++hooks_run;
                       cri::ExecSyncResponse out;
                       out.set_exit_code(1);
                       return out;
                     }});
  v1::Pod pod = MakePod("poststart", {"main"}, "bad-init:1");
  pod.mutable_spec()->mutable_containers(0)->mutable_lifecycle()->mutable_post_start()->mutable_exec()->add_command(
      "/bin/setup");
  Create(pod);
  Run(absl::Seconds(3));

  // Started, hook failed, killed (SIGTERM: 143), started again at once (the first restart
  // is not held back), failed again: now in CrashLoopBackOff.
  const v1::Pod failed = Get("poststart");
  const v1::ContainerStatus& main = StatusOf(failed, "main");
  EXPECT_EQ(main.restart_count(), 1);
  EXPECT_EQ(main.last_state().terminated().exit_code(), 143);
  EXPECT_EQ(main.state().waiting().reason(), "CrashLoopBackOff");
  EXPECT_EQ(hooks_run, 2);
  const std::vector<std::string> events = Events("FailedPostStartHook");
  ASSERT_FALSE(events.empty());
  EXPECT_THAT(events[0], HasSubstr("Exec lifecycle hook ([/bin/setup]) for Container \"main\""));
  Run(absl::Seconds(12));  // back-off 10 s: a third run
  EXPECT_EQ(StatusOf(Get("poststart"), "main").restart_count(), 2);
  EXPECT_EQ(hooks_run, 3);
}

TEST_F(PodWorkerConfigTest, APostStartHookThatPassesLeavesTheContainerRunning) {
  std::vector<std::vector<std::string>> ran;
  runtime_->SetImage("good-init:1", {.exec = [&](const std::vector<std::string>& cmd) {
                       ran.push_back(cmd);
                       return cri::ExecSyncResponse();
                     }});
  v1::Pod pod = MakePod("setup", {"main"}, "good-init:1");
  v1::Container* c = pod.mutable_spec()->mutable_containers(0);
  AddEnv(c, "WHO", "me");
  v1::ExecAction* exec = c->mutable_lifecycle()->mutable_post_start()->mutable_exec();
  exec->add_command("/bin/setup");
  exec->add_command("$(WHO)");  // hooks run as written, as the kubelet runs them
  Create(pod);
  Run(absl::Seconds(3));
  const v1::Pod running = Get("setup");
  EXPECT_EQ(running.status().phase(), "Running");
  EXPECT_TRUE(StatusOf(running, "main").ready());
  EXPECT_EQ(StatusOf(running, "main").restart_count(), 0);
  EXPECT_THAT(ran, ElementsAre(ElementsAre("/bin/setup", "$(WHO)")));
  EXPECT_TRUE(Events("FailedPostStartHook").empty());
}

// The hooks on a thread pool (runtime callbacks, hook ends and syncs on different threads),
// for the sanitizers: postStart and preStop of several pods, some abandoned by a delete
// that comes while their postStart runs.
TEST(PodWorkerHooksThreadsTest, HooksOfManyPodsOnAThreadPool) {
  constexpr int kPods = 12;
  ThreadPoolExecutor executor(3);
  store::MemoryStoreOptions options;
  options.clock = &executor.clock();
  auto store = store::MemoryStore::Open(options).value();
  client::Client client(store.get(), &api::Scheme::Builtin(), &executor.clock());
  std::atomic<int> post_starts{0};
  std::atomic<int> pre_stops{0};
  FakeRuntime runtime({.executor = &executor, .pod_cidr = "10.244.1.0/24"});
  runtime.SetImage("hooked:1", {.exec = [&](const std::vector<std::string>& cmd) {
                      (cmd[0] == "/bin/post-start" ? post_starts : pre_stops)++;
                      cri::ExecSyncResponse out;
                      out.set_exit_code(cmd[0] == "/bin/post-start" && cmd.size() > 1 ? 1 : 0);
                      return out;
                    }});
  ORCH_ASSERT_OK_AND_ASSIGN(
      auto agent, NodeAgent::Create({.node_name = kNode,
                                     .client = &client,
                                     .executor = &executor,
                                     .runtime = &runtime,
                                     .prober = &runtime,
                                     .cpu = "4",
                                     .memory = "8Gi",
                                     .relist_period = absl::Milliseconds(50),
                                     .pod_log_directory = ""}));
  ASSERT_THAT(agent->Start(), IsOk());
  for (int i = 0; i < kPods; ++i) {
    v1::Pod pod = MakePod("p" + std::to_string(i), {"main", "side"}, "hooked:1");
    pod.mutable_spec()->set_termination_grace_period_seconds(1);
    for (v1::Container& c : *pod.mutable_spec()->mutable_containers()) {
      v1::Lifecycle* lifecycle = c.mutable_lifecycle();
      lifecycle->mutable_post_start()->mutable_exec()->add_command("/bin/post-start");
      if (i % 4 == 0) lifecycle->mutable_post_start()->mutable_exec()->add_command("--fail");
      lifecycle->mutable_pre_stop()->mutable_exec()->add_command("/bin/pre-stop");
      SetResource(&c, "limits", "memory", "64Mi");
    }
    ASSERT_THAT(client.Create(pod), IsOk());
    // Every third pod is deleted at once: its postStart hooks may be under way.
    if (i % 3 == 0) ASSERT_THAT(client.Delete<v1::Pod>("default", pod.metadata().name()), IsOk());
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  auto running = [&] {
    int count = 0;
    const client::ObjectList<v1::Pod> pods = client.List<v1::Pod>("default").value();
    for (const v1::Pod& pod : pods.items) count += pod.status().phase() == "Running" ? 1 : 0;
    return count;
  };
  while (absl::Now() < deadline && running() < kPods - kPods / 3) absl::SleepFor(absl::Milliseconds(20));
  EXPECT_EQ(running(), kPods - kPods / 3);
  EXPECT_GE(post_starts.load(), 2 * (kPods - kPods / 3));
  const client::ObjectList<v1::Pod> left = client.List<v1::Pod>("default").value();
  for (const v1::Pod& pod : left.items) {
    ASSERT_THAT(client.Delete<v1::Pod>("default", pod.metadata().name()), IsOk());
  }
  while (absl::Now() < deadline &&
         (!client.List<v1::Pod>("default").value().items.empty() || runtime.stats().containers > 0)) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_TRUE(client.List<v1::Pod>("default").value().items.empty());
  EXPECT_EQ(runtime.stats().containers, 0);
  // Containers of the pods whose postStart fails may be down (backing off) when deleted.
  EXPECT_GE(pre_stops.load(), 2 * (kPods - kPods / 3 - 2));
  agent->Stop();
  agent.reset();
}

}  // namespace
}  // namespace orch::node
