// CriRuntime against a real containerd (tests/support/containerd_fixture.h), or against
// the runtime at ORCH_TEST_CRI_ENDPOINT (CRI-O, ...) when that is set: sandboxes with CNI
// addresses, busybox containers, exec, stop and exit codes, images, errors, and what the
// destructor does to a call in flight. One containerd serves the whole suite. A machine
// that cannot run containerd (not root, packages missing) skips, naming what is missing.
#include "orch/runtime/cri_runtime.h"

#include <stdlib.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orch/base/mutex.h"
#include "support/containerd_fixture.h"
#include "support/containerd_test_bed.h"
#include "support/process.h"
#include "support/status_matchers.h"

namespace orch::runtime {
namespace {

namespace fs = std::filesystem;
using ::orch::testing::ContainerdFixture;
using ::orch::testing::ContainerdTestBed;
using ::orch::testing::Eventually;
using ::orch::testing::IsOk;
using ::orch::testing::StatusIs;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

constexpr absl::Duration kCallTimeout = absl::Seconds(30);
constexpr absl::Duration kPullTimeout = absl::Seconds(20);

// One call, waited for; also checks that the callback did not run on the calling thread,
// as CriRuntime promises.
template <typename Request, typename Response>
absl::StatusOr<Response> Await(Runtime& runtime,
                               void (Runtime::*method)(const Request&, Callback<Response>),
                               const Request& request, absl::Duration timeout = absl::Seconds(60)) {
  std::thread::id thread;
  absl::StatusOr<Response> result =
      orch::testing::Await(runtime, method, request, timeout, &thread);
  if (thread != std::thread::id()) {  // the callback ran
    EXPECT_NE(thread, std::this_thread::get_id()) << "callback ran inside the call";
  }
  return result;
}

std::string ReadFile(const fs::path& path) {
  return orch::testing::ReadFile(path.string()).value_or("");
}

class CriRuntimeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    bed_ = new absl::StatusOr<std::unique_ptr<ContainerdTestBed>>(ContainerdTestBed::Start(
        {.call_timeout = kCallTimeout, .pull_timeout = kPullTimeout}));
  }

  static void TearDownTestSuite() {
    if (bed_->ok()) ORCH_EXPECT_OK(bed().Stop());
    delete bed_;
    bed_ = nullptr;
  }

  // Options as the suite's runtime has them, for another client of the same containerd.
  static CriRuntimeOptions Options() {
    return {.endpoint = bed().containerd().endpoint(),
            .call_timeout = kCallTimeout,
            .pull_timeout = kPullTimeout};
  }

  void SetUp() override {
    if (absl::IsFailedPrecondition(bed_->status())) GTEST_SKIP() << bed_->status();
    ASSERT_THAT(*bed_, IsOk());
  }

  // Removes what the test made (when the runtime is external, nothing else would).
  void TearDown() override {
    for (const std::string& id : sandboxes_) {
      cri::StopPodSandboxRequest stop;
      stop.set_pod_sandbox_id(id);
      EXPECT_THAT(Await(runtime(), &Runtime::StopPodSandbox, stop), IsOk());
      cri::RemovePodSandboxRequest remove;
      remove.set_pod_sandbox_id(id);
      EXPECT_THAT(Await(runtime(), &Runtime::RemovePodSandbox, remove), IsOk());
    }
  }

  static ContainerdTestBed& bed() { return *bed_->value(); }
  static Runtime& runtime() { return bed().runtime(); }

  // The config of a sandbox named after the test, logging under the suite's directory.
  static cri::PodSandboxConfig SandboxConfig(const std::string& suffix = "") {
    const std::string name =
        absl::StrCat(::testing::UnitTest::GetInstance()->current_test_info()->name(), suffix);
    std::string lower;
    for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    cri::PodSandboxConfig config;
    cri::PodSandboxMetadata& metadata = *config.mutable_metadata();
    metadata.set_name(lower);
    metadata.set_uid("uid-" + lower);
    metadata.set_namespace_("orch-test");
    metadata.set_attempt(1);
    config.set_hostname(lower.substr(0, 63));
    config.set_log_directory(absl::StrCat(bed().log_root(), "/orch-test_", lower));
    (*config.mutable_labels())["orch.test/pod"] = lower;
    (*config.mutable_labels())["orch.test/suite"] = "cri-runtime";
    config.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(
        cri::CONTAINER);
    return config;
  }

  // Runs a sandbox (removed again by TearDown); its id, or "" after a failed assertion.
  std::string RunSandbox(const cri::PodSandboxConfig& config) {
    cri::RunPodSandboxRequest request;
    *request.mutable_config() = config;
    absl::StatusOr<cri::RunPodSandboxResponse> response =
        Await(runtime(), &Runtime::RunPodSandbox, request);
    EXPECT_THAT(response, IsOk());
    if (!response.ok()) return "";
    sandboxes_.push_back(response->pod_sandbox_id());
    return response->pod_sandbox_id();
  }

  static cri::CreateContainerRequest BusyboxContainer(const std::string& sandbox_id,
                                                      const cri::PodSandboxConfig& sandbox,
                                                      const std::string& name,
                                                      const std::string& script) {
    cri::CreateContainerRequest request;
    request.set_pod_sandbox_id(sandbox_id);
    *request.mutable_sandbox_config() = sandbox;
    cri::ContainerConfig& config = *request.mutable_config();
    config.mutable_metadata()->set_name(name);
    config.mutable_image()->set_image(ContainerdFixture::kBusyboxImage);
    config.add_command("sh");
    config.add_command("-c");
    config.add_command(script);
    config.set_log_path(name + "/0.log");
    (*config.mutable_labels())["orch.test/container"] = name;
    // Its own PID namespace, as the kubelet gives (without shareProcessNamespace): the
    // script's shell is PID 1 there and so ignores SIGTERM.
    config.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(
        cri::CONTAINER);
    return request;
  }

  // Creates and starts a container; its id, or "" after a failed assertion.
  static std::string RunContainer(const cri::CreateContainerRequest& create) {
    absl::StatusOr<cri::CreateContainerResponse> created =
        Await(runtime(), &Runtime::CreateContainer, create);
    EXPECT_THAT(created, IsOk());
    if (!created.ok()) return "";
    cri::StartContainerRequest start;
    start.set_container_id(created->container_id());
    EXPECT_THAT(Await(runtime(), &Runtime::StartContainer, start), IsOk());
    return created->container_id();
  }

  static absl::StatusOr<cri::ContainerStatus> StatusOf(const std::string& container_id) {
    cri::ContainerStatusRequest request;
    request.set_container_id(container_id);
    absl::StatusOr<cri::ContainerStatusResponse> response =
        Await(runtime(), &Runtime::ContainerStatus, request);
    if (!response.ok()) return response.status();
    return response->status();
  }

  static absl::StatusOr<cri::ExecSyncResponse> Exec(const std::string& container_id,
                                                    std::vector<std::string> cmd,
                                                    int64_t timeout_seconds) {
    cri::ExecSyncRequest request;
    request.set_container_id(container_id);
    for (std::string& arg : cmd) request.add_cmd(std::move(arg));
    request.set_timeout(timeout_seconds);
    return Await(runtime(), &Runtime::ExecSync, request);
  }

  static inline absl::StatusOr<std::unique_ptr<ContainerdTestBed>>* bed_ = nullptr;

  std::vector<std::string> sandboxes_;
};

TEST_F(CriRuntimeTest, VersionAndStatus) {
  ORCH_ASSERT_OK_AND_ASSIGN(cri::VersionResponse version,
                            Await(runtime(), &Runtime::Version, cri::VersionRequest()));
  if (!bed().containerd().external()) {
    EXPECT_EQ(version.runtime_name(), "containerd");
  }
  EXPECT_EQ(version.runtime_api_version(), "v1");
  EXPECT_THAT(version.runtime_version(), Not(IsEmpty()));
  EXPECT_EQ(bed().runtime().version().runtime_name(), version.runtime_name());
  EXPECT_THAT(bed().runtime().endpoint(), StartsWith("unix:///"));

  ORCH_ASSERT_OK_AND_ASSIGN(cri::StatusResponse status,
                            Await(runtime(), &Runtime::Status, cri::StatusRequest()));
  std::map<std::string, bool> conditions;
  for (const cri::RuntimeCondition& condition : status.status().conditions()) {
    conditions[condition.type()] = condition.status();
  }
  EXPECT_TRUE(conditions["RuntimeReady"]);
  EXPECT_TRUE(conditions["NetworkReady"]);
}

TEST_F(CriRuntimeTest, SandboxRunsWithAnAddressAndIsListedByLabel) {
  const cri::PodSandboxConfig config = SandboxConfig();
  const std::string id = RunSandbox(config);
  ASSERT_THAT(id, Not(IsEmpty()));

  cri::PodSandboxStatusRequest status_request;
  status_request.set_pod_sandbox_id(id);
  ORCH_ASSERT_OK_AND_ASSIGN(cri::PodSandboxStatusResponse status,
                            Await(runtime(), &Runtime::PodSandboxStatus, status_request));
  EXPECT_EQ(status.status().id(), id);
  EXPECT_EQ(status.status().state(), cri::SANDBOX_READY);
  EXPECT_EQ(status.status().metadata().name(), config.metadata().name());
  EXPECT_EQ(status.status().metadata().attempt(), 1u);
  EXPECT_GT(status.status().created_at(), 0);
  const std::string& ip = status.status().network().ip();
  EXPECT_THAT(ip, Not(IsEmpty()));
  if (!bed().containerd().external()) {
    // "10.88.X.0/24" -> "10.88.X."
    const std::string prefix =
        bed().containerd().subnet().substr(0, bed().containerd().subnet().rfind('.') + 1);
    EXPECT_THAT(ip, StartsWith(prefix)) << bed().containerd().subnet();
  }

  cri::ListPodSandboxRequest list;
  (*list.mutable_filter()->mutable_label_selector())["orch.test/pod"] = config.metadata().name();
  ORCH_ASSERT_OK_AND_ASSIGN(cri::ListPodSandboxResponse listed,
                            Await(runtime(), &Runtime::ListPodSandbox, list));
  ASSERT_EQ(listed.items_size(), 1);
  EXPECT_EQ(listed.items(0).id(), id);
  EXPECT_EQ(listed.items(0).labels().at("orch.test/suite"), "cri-runtime");

  (*list.mutable_filter()->mutable_label_selector())["orch.test/pod"] = "no-such-pod";
  ORCH_ASSERT_OK_AND_ASSIGN(listed, Await(runtime(), &Runtime::ListPodSandbox, list));
  EXPECT_EQ(listed.items_size(), 0);

  // Stop and remove are idempotent.
  cri::StopPodSandboxRequest stop;
  stop.set_pod_sandbox_id(id);
  EXPECT_THAT(Await(runtime(), &Runtime::StopPodSandbox, stop), IsOk());
  ORCH_ASSERT_OK_AND_ASSIGN(status, Await(runtime(), &Runtime::PodSandboxStatus, status_request));
  EXPECT_EQ(status.status().state(), cri::SANDBOX_NOTREADY);
  EXPECT_THAT(Await(runtime(), &Runtime::StopPodSandbox, stop), IsOk());
  cri::RemovePodSandboxRequest remove;
  remove.set_pod_sandbox_id(id);
  EXPECT_THAT(Await(runtime(), &Runtime::RemovePodSandbox, remove), IsOk());
  EXPECT_THAT(Await(runtime(), &Runtime::RemovePodSandbox, remove), IsOk());
  EXPECT_THAT(Await(runtime(), &Runtime::PodSandboxStatus, status_request),
              StatusIs(absl::StatusCode::kNotFound));
  // containerd 1.6 answers NOT_FOUND to a stop of a removed sandbox; Runtime says OK.
  EXPECT_THAT(Await(runtime(), &Runtime::StopPodSandbox, stop), IsOk());
}

TEST_F(CriRuntimeTest, BusyboxContainerRunsLogsExecsAndStops) {
  const cri::PodSandboxConfig sandbox = SandboxConfig();
  const std::string sandbox_id = RunSandbox(sandbox);
  ASSERT_THAT(sandbox_id, Not(IsEmpty()));
  const std::string id =
      RunContainer(BusyboxContainer(sandbox_id, sandbox, "busybox", "echo hello; sleep 3600"));
  ASSERT_THAT(id, Not(IsEmpty()));

  ORCH_ASSERT_OK_AND_ASSIGN(cri::ContainerStatus status, StatusOf(id));
  EXPECT_EQ(status.state(), cri::CONTAINER_RUNNING);
  EXPECT_GT(status.started_at(), 0);
  EXPECT_EQ(status.finished_at(), 0);
  EXPECT_EQ(status.metadata().name(), "busybox");
  const fs::path log = fs::path(sandbox.log_directory()) / "busybox" / "0.log";
  EXPECT_EQ(status.log_path(), log.string());
  // CRI's log format: "<RFC 3339 time> stdout F hello".
  EXPECT_TRUE(Eventually([&] { return absl::StrContains(ReadFile(log), "hello"); }))
      << log << ": " << ReadFile(log);

  cri::ListContainersRequest list;
  list.mutable_filter()->set_pod_sandbox_id(sandbox_id);
  ORCH_ASSERT_OK_AND_ASSIGN(cri::ListContainersResponse listed,
                            Await(runtime(), &Runtime::ListContainers, list));
  ASSERT_EQ(listed.containers_size(), 1);
  EXPECT_EQ(listed.containers(0).id(), id);
  EXPECT_EQ(listed.containers(0).state(), cri::CONTAINER_RUNNING);

  ORCH_ASSERT_OK_AND_ASSIGN(cri::ExecSyncResponse exec,
                            Exec(id, {"sh", "-c", "echo hi; exit 3"}, /*timeout_seconds=*/10));
  EXPECT_EQ(exec.exit_code(), 3);
  EXPECT_EQ(exec.stdout(), "hi\n");
  EXPECT_EQ(exec.stderr(), "");

  // containerd 1.6 kills the command when its timeout is over and fails the call with
  // DEADLINE_EXCEEDED "failed to exec in container: timeout 1s exceeded: context deadline
  // exceeded": what the Runtime interface promises, and what the kubelet's exec prober
  // counts as a timed-out probe (it checks for exactly that code).
  const absl::Time exec_start = absl::Now();
  EXPECT_THAT(Exec(id, {"sleep", "5"}, /*timeout_seconds=*/1),
              StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("timeout")));
  EXPECT_LT(absl::Now() - exec_start, absl::Seconds(4));

  // sh as PID 1 ignores SIGTERM: the stop waits out its timeout, then SIGKILL.
  cri::StopContainerRequest stop;
  stop.set_container_id(id);
  stop.set_timeout(2);
  const absl::Time stop_start = absl::Now();
  EXPECT_THAT(Await(runtime(), &Runtime::StopContainer, stop), IsOk());
  const absl::Duration stop_took = absl::Now() - stop_start;
  EXPECT_GE(stop_took, absl::Seconds(2));
  EXPECT_LT(stop_took, absl::Seconds(10));
  ORCH_ASSERT_OK_AND_ASSIGN(status, StatusOf(id));
  EXPECT_EQ(status.state(), cri::CONTAINER_EXITED);
  EXPECT_EQ(status.exit_code(), 137);
  EXPECT_GT(status.finished_at(), status.started_at());
  EXPECT_THAT(Await(runtime(), &Runtime::StopContainer, stop), IsOk());  // idempotent

  cri::RemoveContainerRequest remove;
  remove.set_container_id(id);
  EXPECT_THAT(Await(runtime(), &Runtime::RemoveContainer, remove), IsOk());
  EXPECT_THAT(Await(runtime(), &Runtime::RemoveContainer, remove), IsOk());
  EXPECT_THAT(StatusOf(id), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Await(runtime(), &Runtime::StopContainer, stop), IsOk());  // gone: still OK
}

TEST_F(CriRuntimeTest, ContainerThatExitsOnItsOwnIsExitedWithItsCode) {
  const cri::PodSandboxConfig sandbox = SandboxConfig();
  const std::string sandbox_id = RunSandbox(sandbox);
  ASSERT_THAT(sandbox_id, Not(IsEmpty()));
  const std::string id =
      RunContainer(BusyboxContainer(sandbox_id, sandbox, "quitter", "echo bye; exit 7"));
  ASSERT_THAT(id, Not(IsEmpty()));

  absl::StatusOr<cri::ContainerStatus> status;
  EXPECT_TRUE(Eventually([&] {
    status = StatusOf(id);
    return !status.ok() || status->state() == cri::CONTAINER_EXITED;
  }));
  ASSERT_THAT(status, IsOk());
  EXPECT_EQ(status->state(), cri::CONTAINER_EXITED);
  EXPECT_EQ(status->exit_code(), 7);
  EXPECT_GT(status->started_at(), 0);
  // Not finished_at >= started_at: containerd 1.6 stamps started_at after the start
  // returns, and the shim stamps the exit, so a process this quick can seem to finish
  // before it started.
  EXPECT_GT(status->finished_at(), 0);
}

TEST_F(CriRuntimeTest, CreateContainerMakesTheLogDirectoryOrFailsNamingIt) {
  const cri::PodSandboxConfig sandbox = SandboxConfig();
  const std::string sandbox_id = RunSandbox(sandbox);
  ASSERT_THAT(sandbox_id, Not(IsEmpty()));
  const std::string id =
      RunContainer(BusyboxContainer(sandbox_id, sandbox, "logger", "sleep 3600"));
  ASSERT_THAT(id, Not(IsEmpty()));
  EXPECT_TRUE(fs::is_directory(fs::path(sandbox.log_directory()) / "logger"));

  // A log directory that cannot be made (under a regular file): nothing reaches the
  // runtime, the call fails naming the directory.
  cri::PodSandboxConfig blocked = sandbox;
  const fs::path file = fs::path(bed().log_root()) / "a-file";
  std::ofstream(file) << "not a directory";
  blocked.set_log_directory(file.string());
  EXPECT_THAT(Await(runtime(), &Runtime::CreateContainer,
                    BusyboxContainer(sandbox_id, blocked, "unlogged", "true")),
              StatusIs(absl::StatusCode::kInternal, HasSubstr(file.string() + "/unlogged")));
}

TEST_F(CriRuntimeTest, PullOfAMissingImageFailsNamingIt) {
  // No registry is reachable: containerd asks http://localhost/v2/nope/manifests/1 (plain
  // HTTP for localhost), is refused, and fails at once with UNKNOWN "failed to pull and
  // unpack image "localhost/nope:1": failed to resolve reference "localhost/nope:1": failed
  // to do request: Head ...: connect: connection refused".
  cri::PullImageRequest pull;
  pull.mutable_image()->set_image("localhost/nope:1");
  const absl::Time start = absl::Now();
  absl::StatusOr<cri::PullImageResponse> pulled = Await(runtime(), &Runtime::PullImage, pull);
  EXPECT_LT(absl::Now() - start, kPullTimeout);
  EXPECT_THAT(pulled, Not(IsOk()));
  EXPECT_THAT(pulled.status().message(), HasSubstr("localhost/nope:1"));
  if (!bed().containerd().external()) {
    EXPECT_THAT(pulled,
                StatusIs(absl::StatusCode::kUnknown, HasSubstr("failed to pull and unpack image")));
  }
}

TEST_F(CriRuntimeTest, ImageStatusOfPresentAndMissingImages) {
  cri::ImageStatusRequest request;
  request.mutable_image()->set_image(ContainerdFixture::kBusyboxImage);
  ORCH_ASSERT_OK_AND_ASSIGN(cri::ImageStatusResponse present,
                            Await(runtime(), &Runtime::ImageStatus, request));
  ASSERT_TRUE(present.has_image());
  EXPECT_THAT(present.image().repo_tags(), Contains(std::string(ContainerdFixture::kBusyboxImage)));
  EXPECT_THAT(present.image().id(), Not(IsEmpty()));

  ORCH_ASSERT_OK_AND_ASSIGN(cri::ListImagesResponse listed,
                            Await(runtime(), &Runtime::ListImages, cri::ListImagesRequest()));
  EXPECT_GE(listed.images_size(), 2);

  request.mutable_image()->set_image("localhost/nope:1");
  ORCH_ASSERT_OK_AND_ASSIGN(cri::ImageStatusResponse missing,
                            Await(runtime(), &Runtime::ImageStatus, request));
  EXPECT_FALSE(missing.has_image());
}

TEST_F(CriRuntimeTest, UnknownContainerIsNotFound) {
  // containerd: NOT_FOUND "an error occurred when try to find container ...: not found".
  EXPECT_THAT(StatusOf("0123456789abcdef-no-such-container"),
              StatusIs(absl::StatusCode::kNotFound));
  cri::StartContainerRequest start;
  start.set_container_id("0123456789abcdef-no-such-container");
  EXPECT_THAT(Await(runtime(), &Runtime::StartContainer, start), Not(IsOk()));
}

TEST_F(CriRuntimeTest, DestroyingTheRuntimeCancelsACallInFlight) {
  const cri::PodSandboxConfig sandbox = SandboxConfig();
  const std::string sandbox_id = RunSandbox(sandbox);
  ASSERT_THAT(sandbox_id, Not(IsEmpty()));
  const std::string id =
      RunContainer(BusyboxContainer(sandbox_id, sandbox, "stubborn", "sleep 3600"));
  ASSERT_THAT(id, Not(IsEmpty()));

  ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<CriRuntime> doomed, CriRuntime::Connect(Options()));
  Notification called;
  absl::Status seen;
  cri::StopContainerRequest stop;
  stop.set_container_id(id);
  stop.set_timeout(30);  // sh ignores SIGTERM: the call would take 30 s
  doomed->StopContainer(stop, [&](absl::StatusOr<cri::StopContainerResponse> result) {
    seen = result.status();
    called.Notify();
  });
  absl::SleepFor(absl::Milliseconds(300));  // the call reaches containerd
  ASSERT_FALSE(called.HasBeenNotified());

  const absl::Time start = absl::Now();
  doomed.reset();
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_TRUE(called.HasBeenNotified());
  EXPECT_THAT(seen, StatusIs(absl::StatusCode::kCancelled, HasSubstr("destroyed")));
}

// Connecting needs no runtime; these run on any machine.
TEST(CriRuntimeConnectTest, MissingSocketIsUnavailableWithinTheConnectTimeout) {
  const absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<CriRuntime>> runtime = CriRuntime::Connect(
      {.endpoint = "unix:///tmp/orch-no-such-dir/cri.sock", .connect_timeout = absl::Seconds(1)});
  const absl::Duration took = absl::Now() - start;
  EXPECT_THAT(runtime,
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("CRI runtime at unix:///tmp/orch-no-such-dir/cri.sock is not "
                                 "reachable")));
  EXPECT_LT(took, absl::Milliseconds(1500));
}

TEST(CriRuntimeConnectTest, PlainPathIsAUnixSocket) {
  EXPECT_THAT(
      CriRuntime::Connect({.endpoint = "/tmp/orch-no-such-dir/cri.sock",
                           .connect_timeout = absl::Milliseconds(200)}),
      StatusIs(absl::StatusCode::kUnavailable, HasSubstr("unix:///tmp/orch-no-such-dir/cri.sock")));
}

TEST(CriRuntimeConnectTest, BadOptionsAreInvalidArguments) {
  EXPECT_THAT(CriRuntime::Connect({.endpoint = ""}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("endpoint")));
  EXPECT_THAT(CriRuntime::Connect({.endpoint = "tcp://127.0.0.1:1234"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("tcp://127.0.0.1:1234")));
  EXPECT_THAT(CriRuntime::Connect({.endpoint = "unix://relative.sock"}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(CriRuntime::Connect({.endpoint = "/x.sock", .call_timeout = absl::ZeroDuration()}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("call_timeout")));
}

}  // namespace
}  // namespace orch::runtime
