// The node agent on a real containerd (tests/support/containerd_fixture.h), through
// CriRuntime, with the real probes, on the real clock: what a kubelet must do, done to
// busybox containers that really run. One containerd serves the suite; each test gets a
// fresh agent, and its pods are gone before the next test starts. A machine that cannot
// run containerd (not root, packages missing) skips, naming what is missing.
#include <arpa/inet.h>
#include <stdio.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <algorithm>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orch/api/codec.h"
#include "orch/api/scheme.h"
#include "orch/api/v1/core.pb.h"
#include "orch/base/clock.h"
#include "orch/base/executor.h"
#include "orch/base/mutex.h"
#include "orch/client/client.h"
#include "orch/node/node_agent.h"
#include "orch/runtime/cri_runtime.h"
#include "orch/store/memory_store.h"
#include "support/containerd_fixture.h"
#include "support/containerd_test_bed.h"
#include "support/process.h"
#include "support/status_matchers.h"

namespace orch::node {
namespace {

namespace fs = std::filesystem;
namespace v1 = ::orch::api::v1;
namespace cri = ::orch::runtime::cri;
using ::orch::testing::ContainerdFixture;
using ::orch::testing::Await;
using ::orch::testing::ContainerdTestBed;
using ::orch::testing::Eventually;
using ::orch::testing::IsOk;
using ::orch::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kNode[] = "node-cri";

// A pod from YAML, with `$IMAGE` standing for the busybox image.
v1::Pod PodFromYaml(const std::string& yaml) {
  const std::string text =
      absl::StrReplaceAll(yaml, {{"$IMAGE", ContainerdFixture::kBusyboxImage}});
  absl::StatusOr<v1::Pod> pod = api::DecodeObject<v1::Pod>(text, "pod", api::Scheme::Builtin());
  EXPECT_THAT(pod, IsOk());
  return pod.ok() ? *pod : v1::Pod();
}

const v1::ContainerStatus* StatusOf(const v1::Pod& pod, const std::string& container) {
  for (const auto& s : pod.status().container_statuses()) {
    if (s.name() == container) return &s;
  }
  return nullptr;
}

std::string Condition(const v1::Pod& pod, const std::string& type) {
  for (const auto& c : pod.status().conditions()) {
    if (c.type() == type) return c.status();
  }
  return "";
}

// GET http://ip:port/ from the host, over a plain socket; the whole response, or "" when
// nothing answers.
std::string HttpGet(const std::string& ip, int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  timeval timeout{.tv_sec = 5, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  std::string response;
  if (::inet_pton(AF_INET, ip.c_str(), &address.sin_addr) == 1 &&
      ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0) {
    const std::string request = absl::StrCat("GET / HTTP/1.0\r\nHost: ", ip, "\r\n\r\n");
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buffer[4096];
      for (ssize_t n; (n = ::recv(fd, buffer, sizeof(buffer), 0)) > 0;) response.append(buffer, n);
    }
  }
  ::close(fd);
  return response;
}

// The host pids of processes whose command line is exactly `argv`.
std::vector<pid_t> ProcessesRunning(const std::vector<std::string>& argv) {
  std::string wanted;
  for (const std::string& arg : argv) wanted += arg + '\0';
  std::vector<pid_t> pids;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator("/proc", error)) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string cmdline = orch::testing::ReadFile(entry.path() / "cmdline").value_or("");
    if (cmdline == wanted) pids.push_back(std::stoi(name));
  }
  return pids;
}

class NodeAgentOnContainerdTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    bed_ = new absl::StatusOr<std::unique_ptr<ContainerdTestBed>>(
        ContainerdTestBed::Start({.pull_timeout = absl::Seconds(20)}));
  }

  static void TearDownTestSuite() {
    if (bed_->ok()) ORCH_EXPECT_OK(bed().Stop());
    delete bed_;
    bed_ = nullptr;
  }

  void SetUp() override {
    if (absl::IsFailedPrecondition(bed_->status())) GTEST_SKIP() << bed_->status();
    ASSERT_THAT(*bed_, IsOk());
    store_ = store::MemoryStore::Open({}).value();
    client_ = std::make_unique<client::Client>(store_.get(), &api::Scheme::Builtin(), &Clock::Real());
    StartAgent();
  }

  // Deletes the test's pods at once and waits until the agent has removed their sandboxes,
  // so that the next test starts on an empty runtime.
  void TearDown() override {
    if (agent_ == nullptr) return;
    const auto pods = client_->List<v1::Pod>("default");
    ASSERT_THAT(pods, IsOk());
    for (const v1::Pod& pod : pods->items) {
      EXPECT_THAT(client_->Delete<v1::Pod>("default", pod.metadata().name(),
                                           {.grace_period_seconds = 0}),
                  IsOk());
    }
    EXPECT_TRUE(Eventually([&] { return Sandboxes() == 0; }, absl::Seconds(60)))
        << "sandboxes left behind";
    agent_.reset();
  }

  void StartAgent() {
    ORCH_ASSERT_OK_AND_ASSIGN(agent_, NodeAgent::Create({.node_name = kNode,
                                                         .client = client_.get(),
                                                         .executor = &executor_,
                                                         .runtime = &bed().runtime(),
                                                         .cpu = "2",
                                                         .memory = "4Gi",
                                                         .internal_ip = "127.0.0.1",
                                                         .pod_log_directory = bed().log_root()}));
    ASSERT_THAT(agent_->Start(), IsOk());
  }

  v1::Pod Create(const std::string& yaml) {
    v1::Pod pod = PodFromYaml(yaml);
    pod.mutable_spec()->set_node_name(kNode);
    absl::StatusOr<v1::Pod> created = client_->Create(pod);
    EXPECT_THAT(created, IsOk());
    return created.ok() ? *created : pod;
  }

  v1::Pod Get(const std::string& name) {
    absl::StatusOr<v1::Pod> pod = client_->Get<v1::Pod>("default", name);
    return pod.ok() ? *pod : v1::Pod();
  }

  // Waits until pod `name` satisfies `condition`; fails the test with the pod's last
  // status when it does not within `timeout`. Returns the pod as it then was.
  v1::Pod WaitForPod(const std::string& name, const std::function<bool(const v1::Pod&)>& condition,
                     absl::Duration timeout, const std::string& what) {
    v1::Pod pod;
    const bool held = Eventually(
        [&] {
          pod = Get(name);
          return condition(pod);
        },
        timeout);
    EXPECT_TRUE(held) << "pod " << name << " did not get " << what << " within "
                      << absl::FormatDuration(timeout) << "; status: " << pod.status().DebugString();
    return pod;
  }

  // How many sandboxes the runtime has; -1 when it does not answer.
  static int Sandboxes() {
    absl::StatusOr<cri::ListPodSandboxResponse> listed =
        Await(bed().runtime(), &runtime::Runtime::ListPodSandbox, cri::ListPodSandboxRequest(),
              absl::Seconds(30));
    return listed.ok() ? listed->items_size() : -1;
  }

  static bool Ready(const v1::Pod& pod) { return Condition(pod, "Ready") == "True"; }

  static ContainerdTestBed& bed() { return *bed_->value(); }
  static inline absl::StatusOr<std::unique_ptr<ContainerdTestBed>>* bed_ = nullptr;

  ThreadPoolExecutor executor_{2};
  std::unique_ptr<store::MemoryStore> store_;
  std::unique_ptr<client::Client> client_;
  std::unique_ptr<NodeAgent> agent_;
};


TEST_F(NodeAgentOnContainerdTest, TwoContainerPodServesHttpFromItsIpOnceReady) {
  // httpd starts 2 s after its container: until then the readiness probe fails.
  Create(R"(
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: httpd
    image: $IMAGE
    imagePullPolicy: IfNotPresent
    command: [sh, -c, "mkdir -p /www && echo hello from orch > /www/index.html && sleep 2 && exec httpd -f -p 8080 -h /www"]
    ports: [{name: http, containerPort: 8080}]
    readinessProbe:
      httpGet: {path: /, port: http}
      periodSeconds: 1
  - name: sidecar
    image: $IMAGE
    imagePullPolicy: IfNotPresent
    command: [sleep, "3600"]
)");
  const v1::Pod running = WaitForPod(
      "web",
      [](const v1::Pod& p) {
        const v1::ContainerStatus* httpd = StatusOf(p, "httpd");
        return httpd != nullptr && httpd->state().has_running();
      },
      absl::Seconds(30), "httpd running");
  EXPECT_FALSE(Ready(running)) << "ready before httpd listens";

  const v1::Pod ready = WaitForPod("web", Ready, absl::Seconds(30), "Ready");
  EXPECT_EQ(ready.status().phase(), "Running");
  EXPECT_EQ(Condition(ready, "ContainersReady"), "True");
  EXPECT_EQ(Condition(ready, "Initialized"), "True");
  EXPECT_EQ(ready.status().host_ip(), "127.0.0.1");
  ASSERT_THAT(ready.status().pod_ip(), ::testing::StartsWith("10.88."));
  for (const std::string container : {"httpd", "sidecar"}) {
    const v1::ContainerStatus* status = StatusOf(ready, container);
    ASSERT_NE(status, nullptr) << container;
    EXPECT_TRUE(status->ready()) << container;
    EXPECT_EQ(status->restart_count(), 0) << container;
    EXPECT_THAT(status->container_id(), ::testing::StartsWith("containerd://"));
  }
  const std::string response = HttpGet(ready.status().pod_ip(), 8080);
  EXPECT_THAT(response, HasSubstr("200 OK"));
  EXPECT_THAT(response, HasSubstr("hello from orch"));
}

TEST_F(NodeAgentOnContainerdTest, KillNineFromOutsideRestartsTheContainer) {
  Create(R"(
apiVersion: v1
kind: Pod
metadata: {name: sleeper}
spec:
  containers:
  - name: main
    image: $IMAGE
    imagePullPolicy: IfNotPresent
    command: [sleep, "3601"]
)");
  const v1::Pod before = WaitForPod("sleeper", Ready, absl::Seconds(30), "Ready");
  const std::string first_id = StatusOf(before, "main")->container_id();
  const std::vector<pid_t> pids = ProcessesRunning({"sleep", "3601"});
  ASSERT_EQ(pids.size(), 1u);
  ASSERT_EQ(::kill(pids[0], SIGKILL), 0);

  const v1::Pod after = WaitForPod(
      "sleeper",
      [](const v1::Pod& p) {
        const v1::ContainerStatus* main = StatusOf(p, "main");
        return main != nullptr && main->restart_count() == 1 && main->state().has_running();
      },
      absl::Seconds(20), "restarted");
  const v1::ContainerStatus& main = *StatusOf(after, "main");
  EXPECT_NE(main.container_id(), first_id);
  EXPECT_EQ(main.last_state().terminated().exit_code(), 137);
  EXPECT_EQ(main.last_state().terminated().container_id(), first_id);
  EXPECT_EQ(ProcessesRunning({"sleep", "3601"}).size(), 1u);
  WaitForPod("sleeper", Ready, absl::Seconds(10), "Ready again");
}

TEST_F(NodeAgentOnContainerdTest, FailingLivenessProbeRestartsTheContainer) {
  // Healthy for 3 s after each start, then the probe's file is gone.
  Create(R"(
apiVersion: v1
kind: Pod
metadata: {name: liveness}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: $IMAGE
    imagePullPolicy: IfNotPresent
    command: [sh, -c, "mkdir -p /tmp && touch /tmp/healthy && sleep 3 && rm /tmp/healthy && sleep 3600"]
    livenessProbe:
      exec: {command: [cat, /tmp/healthy]}
      periodSeconds: 1
      failureThreshold: 2
)");
  const v1::Pod pod = WaitForPod(
      "liveness",
      [](const v1::Pod& p) {
        const v1::ContainerStatus* main = StatusOf(p, "main");
        return main != nullptr && main->restart_count() >= 1 && main->state().has_running();
      },
      absl::Seconds(30), "restarted by its liveness probe");
  const v1::ContainerStatus& main = *StatusOf(pod, "main");
  EXPECT_TRUE(main.last_state().has_terminated());
  // Started again at once: the first restart is not backed off.
  const int64_t ran = main.last_state().terminated().finished_at().seconds() -
                      main.last_state().terminated().started_at().seconds();
  EXPECT_GE(ran, 3);
  EXPECT_LE(main.state().running().started_at().seconds() -
                main.last_state().terminated().finished_at().seconds(),
            3);
}

TEST_F(NodeAgentOnContainerdTest, CrashingContainerBacksOffWithGrowingDelays) {
  Create(R"(
apiVersion: v1
kind: Pod
metadata: {name: crasher}
spec:
  containers:
  - name: main
    image: $IMAGE
    imagePullPolicy: IfNotPresent
    command: [sh, -c, "exit 3"]
)");
  // Each run's start, from lastState as its exit is reported (one entry per container id:
  // runs 1 and 2 start within the same second), and the back-off messages shown between.
  std::map<int64_t, std::string> runs;  // started_at (ns) -> container id
  std::set<std::string> backoffs;
  WaitForPod(
      "crasher",
      [&](const v1::Pod& p) {
        const v1::ContainerStatus* main = StatusOf(p, "main");
        if (main == nullptr || !main->last_state().has_terminated()) return false;
        const v1::ContainerStateTerminated& last = main->last_state().terminated();
        runs[last.started_at().seconds() * 1000000000 + last.started_at().nanos()] =
            last.container_id();
        if (main->state().waiting().reason() == "CrashLoopBackOff") {
          backoffs.insert(main->state().waiting().message());
        }
        // The third back-off (40 s) shows once the fourth run (20 s after the third) exited.
        return std::any_of(backoffs.begin(), backoffs.end(), [](const std::string& m) {
          return m.rfind("back-off 40s", 0) == 0;
        });
      },
      absl::Seconds(90), "three growing back-offs");
  const v1::Pod pod = Get("crasher");
  const v1::ContainerStatus& main = *StatusOf(pod, "main");
  EXPECT_EQ(main.last_state().terminated().exit_code(), 3);
  EXPECT_EQ(main.last_state().terminated().reason(), "Error");
  // Back-off messages as the kubelet writes them, the delay doubling.
  std::vector<std::string> delays;
  for (const std::string& message : backoffs) {
    EXPECT_THAT(message, HasSubstr("restarting failed container=main pod=crasher_default("));
    delays.push_back(message.substr(0, message.find(' ', sizeof("back-off"))));
  }
  EXPECT_THAT(delays, ::testing::IsSupersetOf({"back-off 10s", "back-off 20s", "back-off 40s"}));
  // And the runs really wait: run 3 -> 4 took 20 s, longer than run 2 -> 3 (10 s).
  std::vector<int64_t> starts;
  for (const auto& [started, id] : runs) starts.push_back(started / 1000000000);
  ASSERT_GE(starts.size(), 3u);
  const size_t n = starts.size();
  EXPECT_GE(starts[n - 1] - starts[n - 2], 19) << "the second back-off";
  EXPECT_GT(starts[n - 1] - starts[n - 2], starts[n - 2] - starts[n - 3]) << "delays do not grow";
  EXPECT_EQ(pod.status().phase(), "Running");
}

TEST_F(NodeAgentOnContainerdTest, MissingImageShowsPullErrorsAndDisturbsNothingElse) {
  Create(R"(
apiVersion: v1
kind: Pod
metadata: {name: healthy}
spec:
  containers:
  - {name: main, image: $IMAGE, imagePullPolicy: IfNotPresent, command: [sleep, "3600"]}
)");
  const v1::Pod healthy = WaitForPod("healthy", Ready, absl::Seconds(30), "Ready");
  const std::string healthy_id = StatusOf(healthy, "main")->container_id();
  Create(R"(
apiVersion: v1
kind: Pod
metadata: {name: missing}
spec:
  containers:
  - {name: main, image: localhost/no-such-image:1, imagePullPolicy: IfNotPresent}
)");
  bool saw_err_image_pull = false;
  const v1::Pod missing = WaitForPod(
      "missing",
      [&](const v1::Pod& p) {
        const v1::ContainerStatus* main = StatusOf(p, "main");
        if (main == nullptr) return false;
        if (main->state().waiting().reason() == "ErrImagePull") {
          saw_err_image_pull = true;
          EXPECT_THAT(main->state().waiting().message(), HasSubstr("localhost/no-such-image:1"));
        }
        return saw_err_image_pull && main->state().waiting().reason() == "ImagePullBackOff";
      },
      absl::Seconds(40), "ErrImagePull, then ImagePullBackOff");
  EXPECT_EQ(missing.status().phase(), "Pending");
  EXPECT_EQ(StatusOf(missing, "main")->state().waiting().message(),
            "Back-off pulling image \"localhost/no-such-image:1\"");
  const v1::Pod still = Get("healthy");
  EXPECT_TRUE(Ready(still));
  EXPECT_EQ(StatusOf(still, "main")->container_id(), healthy_id);
  EXPECT_EQ(StatusOf(still, "main")->restart_count(), 0);
}

TEST_F(NodeAgentOnContainerdTest, GracefulDeleteWaitsTheGracePeriodThenKills) {
  // A process without a SIGTERM handler, as PID 1, ignores SIGTERM: only the kill after the
  // grace period stops it. (busybox sh -c execs a lone command.)
  Create(R"(
apiVersion: v1
kind: Pod
metadata: {name: stubborn}
spec:
  terminationGracePeriodSeconds: 3
  containers:
  - {name: main, image: $IMAGE, imagePullPolicy: IfNotPresent, command: [sh, -c, "sleep 3602"]}
)");
  WaitForPod("stubborn", Ready, absl::Seconds(30), "Ready");
  ASSERT_EQ(ProcessesRunning({"sleep", "3602"}).size(), 1u);
  const absl::Time deleted = absl::Now();
  ASSERT_THAT(client_->Delete<v1::Pod>("default", "stubborn"), IsOk());
  ASSERT_TRUE(Eventually(
      [&] { return absl::IsNotFound(client_->Get<v1::Pod>("default", "stubborn").status()); },
      absl::Seconds(20)));
  const absl::Duration took = absl::Now() - deleted;
  EXPECT_GE(took, absl::Milliseconds(2900)) << "the grace period was cut short";
  EXPECT_LE(took, absl::Seconds(10));
  EXPECT_TRUE(ProcessesRunning({"sleep", "3602"}).empty())
      << "the pod object went before its container";
}

TEST_F(NodeAgentOnContainerdTest, RestartedAgentAdoptsRunningContainersAndRemovesOrphans) {
  Create(R"(
apiVersion: v1
kind: Pod
metadata: {name: steady}
spec:
  containers:
  - {name: a, image: $IMAGE, imagePullPolicy: IfNotPresent, command: [sleep, "3603"]}
  - {name: b, image: $IMAGE, imagePullPolicy: IfNotPresent, command: [sleep, "3604"]}
)");
  const v1::Pod before = WaitForPod("steady", Ready, absl::Seconds(30), "Ready");
  const std::vector<pid_t> a = ProcessesRunning({"sleep", "3603"});
  const std::vector<pid_t> b = ProcessesRunning({"sleep", "3604"});
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  agent_->Stop();
  agent_.reset();

  // While no agent runs, a sandbox appears that belongs to no pod.
  cri::RunPodSandboxRequest orphan;
  cri::PodSandboxConfig& config = *orphan.mutable_config();
  config.mutable_metadata()->set_name("ghost");
  config.mutable_metadata()->set_namespace_("default");
  config.mutable_metadata()->set_uid("no-such-uid");
  (*config.mutable_labels())["io.kubernetes.pod.uid"] = "no-such-uid";
  config.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(
      cri::CONTAINER);
  ASSERT_THAT(Await(bed().runtime(), &runtime::Runtime::RunPodSandbox, orphan, absl::Seconds(30)),
              IsOk());
  ASSERT_EQ(Sandboxes(), 2);

  StartAgent();
  EXPECT_TRUE(Eventually([&] { return Sandboxes() == 1; }, absl::Seconds(30)))
      << "the orphan sandbox was not removed";
  EXPECT_TRUE(Eventually([&] { return agent_->stats().adopted_containers == 2; },
                         absl::Seconds(10)));
  absl::SleepFor(absl::Seconds(3));  // a few relists and syncs
  EXPECT_EQ(ProcessesRunning({"sleep", "3603"}), a);
  EXPECT_EQ(ProcessesRunning({"sleep", "3604"}), b);
  const v1::Pod after = Get("steady");
  EXPECT_TRUE(Ready(after));
  for (const std::string container : {"a", "b"}) {
    EXPECT_EQ(StatusOf(after, container)->container_id(),
              StatusOf(before, container)->container_id());
    EXPECT_EQ(StatusOf(after, container)->restart_count(), 0);
  }
}

#ifdef NODE_AGENT_EXAMPLE_PATH
// examples/node_agent in its real mode: the guide's program, on this containerd.
TEST_F(NodeAgentOnContainerdTest, TheExampleRunsItsPodsOnContainerd) {
  agent_.reset();  // the example's agent would take this one's pods for orphans, and back
  const std::string command =
      absl::StrCat(NODE_AGENT_EXAMPLE_PATH, " --cri ", bed().containerd().endpoint(), " --image ",
                   ContainerdFixture::kBusyboxImage, " --duration 20s 2>&1");
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0;) output.append(buffer, n);
  EXPECT_EQ(::pclose(pipe), 0) << output;
  EXPECT_THAT(output, ::testing::ContainsRegex("web +Running ready=True restarts=0 ip=10\\.88\\."));
  EXPECT_THAT(output, ::testing::ContainsRegex("crasher +Running ready=(True|False) restarts=[1-9]"));
  EXPECT_TRUE(Eventually([&] { return Sandboxes() == 0; }, absl::Seconds(30)))
      << "the example left sandboxes behind";
}
#endif

// Runs `cmd` in container `id` ("containerd://..." as the status names it) and returns its
// stdout; a failed exec fails the test and returns "".
std::string ExecIn(runtime::CriRuntime* runtime, const std::string& id,
                   const std::vector<std::string>& cmd) {
  cri::ExecSyncRequest request;
  request.set_container_id(id.substr(id.find("://") == std::string::npos ? 0 : id.find("://") + 3));
  for (const std::string& arg : cmd) request.add_cmd(arg);
  request.set_timeout(10);
  absl::StatusOr<cri::ExecSyncResponse> out =
      Await(*runtime, &runtime::Runtime::ExecSync, request, absl::Seconds(30));
  EXPECT_THAT(out, IsOk());
  if (!out.ok()) return "";
  EXPECT_EQ(out->exit_code(), 0) << out->stderr();
  return out->stdout();
}

TEST_F(NodeAgentOnContainerdTest, ContainersGetTheirEnvExpandedArgsMemoryLimitAndPostStartHook) {
  const v1::Pod created = Create(R"yaml(
apiVersion: v1
kind: Pod
metadata: {name: configured}
spec:
  containers:
  - name: main
    image: $IMAGE
    imagePullPolicy: IfNotPresent
    command: [sh, -c]
    args: ["echo 'args: node=$(MY_NODE) greeting=$(GREETING) kept=$$(MY_NODE)'; exec sleep 3605"]
    env:
    - name: MY_POD_IP
      valueFrom: {fieldRef: {fieldPath: status.podIP}}
    - name: MY_NODE
      valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
    - {name: GREETING, value: "hello-$(MY_NODE)"}
    - name: MY_MEMORY_LIMIT_MI
      valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}
    resources:
      requests: {cpu: 100m, memory: 32Mi}
      limits: {memory: 64Mi}
    lifecycle:
      postStart:
        exec: {command: [sh, -c, "mkdir -p /tmp && echo started > /tmp/post-start"]}
)yaml");
  const v1::Pod pod = WaitForPod("configured", Ready, absl::Seconds(30), "Ready");
  ASSERT_NE(StatusOf(pod, "main"), nullptr);
  const std::string id = StatusOf(pod, "main")->container_id();
  const std::string pod_ip = pod.status().pod_ip();
  ASSERT_THAT(pod_ip, ::testing::StartsWith("10.88."));

  EXPECT_EQ(ExecIn(&bed().runtime(), id, {"sh", "-c", "echo $MY_POD_IP $MY_NODE $GREETING $MY_MEMORY_LIMIT_MI"}),
            absl::StrCat(pod_ip, " ", kNode, " hello-", kNode, " 64\n"));
  // The memory limit reached the container's cgroup: v1's memory.limit_in_bytes, else v2's
  // memory.max.
  EXPECT_EQ(ExecIn(&bed().runtime(), id,
                   {"sh", "-c",
                    "f=/sys/fs/cgroup/memory/memory.limit_in_bytes; "
                    "[ -f $f ] || f=/sys/fs/cgroup/memory.max; cat $f"}),
            "67108864\n");
  EXPECT_EQ(ExecIn(&bed().runtime(), id, {"cat", "/tmp/post-start"}), "started\n");

  // The args were expanded before the container ran: its first line of output says so.
  const fs::path log = fs::path(bed().log_root()) /
                       absl::StrCat("default_configured_", created.metadata().uid()) / "main" /
                       "0.log";
  std::string text;
  EXPECT_TRUE(Eventually(
      [&] {
        text = orch::testing::ReadFile(log.string()).value_or("");
        return text.find("args: ") != std::string::npos;
      },
      absl::Seconds(10)))
      << "no output in " << log;
  EXPECT_THAT(text, HasSubstr(absl::StrCat("args: node=", kNode, " greeting=hello-", kNode,
                                           " kept=$(MY_NODE)")));
}

TEST_F(NodeAgentOnContainerdTest, PreStopHookRunsBeforeTheContainerIsStopped) {
  // The container exits at once on SIGTERM; its preStop hook takes 2 s, and deletion waits
  // for it.
  Create(R"yaml(
apiVersion: v1
kind: Pod
metadata: {name: prestop}
spec:
  terminationGracePeriodSeconds: 10
  containers:
  - name: main
    image: $IMAGE
    imagePullPolicy: IfNotPresent
    command: [sh, -c, "trap 'exit 0' TERM; while true; do sleep 0.1; done"]
    lifecycle:
      preStop:
        exec: {command: [sleep, "2"]}
)yaml");
  WaitForPod("prestop", Ready, absl::Seconds(30), "Ready");
  const absl::Time deleted = absl::Now();
  ASSERT_THAT(client_->Delete<v1::Pod>("default", "prestop"), IsOk());
  ASSERT_TRUE(Eventually(
      [&] { return absl::IsNotFound(client_->Get<v1::Pod>("default", "prestop").status()); },
      absl::Seconds(20)));
  const absl::Duration took = absl::Now() - deleted;
  EXPECT_GE(took, absl::Seconds(2)) << "the preStop hook did not run first";
  EXPECT_LE(took, absl::Seconds(8)) << "the container did not stop on SIGTERM after the hook";
}

}  // namespace
}  // namespace orch::node
