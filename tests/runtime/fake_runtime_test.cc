#include "orch/runtime/fake_runtime.h"

#include <optional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orch/base/executor.h"
#include "orch/base/status.h"
#include "support/status_matchers.h"

namespace orch::runtime {
namespace {

using ::orch::testing::IsOk;
using ::orch::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class FakeRuntimeTest : public ::testing::Test {
 protected:
  FakeRuntimeTest()
      : runtime_({.executor = &executor_, .preloaded = {"pause:3.6"}, .pod_cidr = "10.244.7.0/24"}) {}

  // Makes a call and runs the executor (timers included) until it completes.
  template <typename Request, typename Response>
  absl::StatusOr<Response> Call(void (FakeRuntime::*method)(const Request&, Callback<Response>),
                                const Request& request) {
    std::optional<absl::StatusOr<Response>> out;
    (runtime_.*method)(request, [&](absl::StatusOr<Response> r) { out = std::move(r); });
    executor_.RunUntilIdle();
    while (!out.has_value() && executor_.NextTimerAt() != absl::InfiniteFuture()) {
      executor_.RunNextTimer();
    }
    EXPECT_TRUE(out.has_value()) << "the call never completed";
    return out.value_or(absl::InternalError("never completed"));
  }

  std::string RunSandbox(const std::string& name, std::map<std::string, std::string> labels = {}) {
    cri::RunPodSandboxRequest request;
    cri::PodSandboxMetadata& meta = *request.mutable_config()->mutable_metadata();
    meta.set_name(name);
    meta.set_namespace_("default");
    meta.set_uid("uid-" + name);
    request.mutable_config()->set_log_directory("/var/log/pods/default_" + name);
    for (const auto& [k, v] : labels) (*request.mutable_config()->mutable_labels())[k] = v;
    auto out = Call(&FakeRuntime::RunPodSandbox, request);
    EXPECT_THAT(out.status(), IsOk());
    return out.ok() ? out->pod_sandbox_id() : "";
  }
  cri::PodSandboxStatus SandboxStatus(const std::string& id) {
    cri::PodSandboxStatusRequest request;
    request.set_pod_sandbox_id(id);
    return Call(&FakeRuntime::PodSandboxStatus, request).value().status();
  }
  absl::Status Pull(const std::string& image) {
    cri::PullImageRequest request;
    request.mutable_image()->set_image(image);
    return Call(&FakeRuntime::PullImage, request).status();
  }
  absl::StatusOr<std::string> Create(const std::string& sandbox, const std::string& name,
                                     const std::string& image) {
    cri::CreateContainerRequest request;
    request.set_pod_sandbox_id(sandbox);
    request.mutable_config()->mutable_metadata()->set_name(name);
    request.mutable_config()->mutable_image()->set_image(image);
    request.mutable_config()->set_log_path(name + "/0.log");
    ORCH_ASSIGN_OR_RETURN(auto out, Call(&FakeRuntime::CreateContainer, request));
    return out.container_id();
  }
  absl::Status Start(const std::string& id) {
    cri::StartContainerRequest request;
    request.set_container_id(id);
    return Call(&FakeRuntime::StartContainer, request).status();
  }
  absl::Status Stop(const std::string& id, int64_t timeout) {
    cri::StopContainerRequest request;
    request.set_container_id(id);
    request.set_timeout(timeout);
    return Call(&FakeRuntime::StopContainer, request).status();
  }
  cri::ContainerStatus Status(const std::string& id) {
    cri::ContainerStatusRequest request;
    request.set_container_id(id);
    return Call(&FakeRuntime::ContainerStatus, request).value().status();
  }
  // A running container of `image` in a new sandbox.
  std::string Running(const std::string& image) {
    const std::string sandbox = RunSandbox("p" + std::to_string(++pods_));
    EXPECT_THAT(Pull(image), IsOk());
    const std::string id = Create(sandbox, "main", image).value();
    EXPECT_THAT(Start(id), IsOk());
    return id;
  }
  absl::Time Now() { return executor_.clock().Now(); }

  VirtualExecutor executor_;
  FakeRuntime runtime_;
  int pods_ = 0;
};

TEST_F(FakeRuntimeTest, SandboxesGetAddressesAndGoThroughTheirStates) {
  const std::string a = RunSandbox("a", {{"app", "web"}});
  const std::string b = RunSandbox("b");
  cri::PodSandboxStatus status = SandboxStatus(a);
  EXPECT_EQ(status.state(), cri::SANDBOX_READY);
  EXPECT_EQ(status.metadata().name(), "a");
  EXPECT_EQ(status.network().ip(), "10.244.7.2");
  EXPECT_EQ(status.created_at(), absl::ToUnixNanos(Now()));
  EXPECT_EQ(SandboxStatus(b).network().ip(), "10.244.7.3");

  cri::ListPodSandboxRequest by_label;
  (*by_label.mutable_filter()->mutable_label_selector())["app"] = "web";
  auto listed = Call(&FakeRuntime::ListPodSandbox, by_label).value();
  ASSERT_EQ(listed.items_size(), 1);
  EXPECT_EQ(listed.items(0).id(), a);

  cri::StopPodSandboxRequest stop;
  stop.set_pod_sandbox_id(a);
  ASSERT_THAT(Call(&FakeRuntime::StopPodSandbox, stop).status(), IsOk());
  ASSERT_THAT(Call(&FakeRuntime::StopPodSandbox, stop).status(), IsOk());  // idempotent
  EXPECT_EQ(SandboxStatus(a).state(), cri::SANDBOX_NOTREADY);
  EXPECT_EQ(SandboxStatus(a).network().ip(), "");
  EXPECT_EQ(SandboxStatus(RunSandbox("c")).network().ip(), "10.244.7.2");  // reused

  cri::ListPodSandboxRequest ready;
  ready.mutable_filter()->mutable_state()->set_state(cri::SANDBOX_READY);
  EXPECT_EQ(Call(&FakeRuntime::ListPodSandbox, ready)->items_size(), 2);

  cri::RemovePodSandboxRequest remove;
  remove.set_pod_sandbox_id(a);
  ASSERT_THAT(Call(&FakeRuntime::RemovePodSandbox, remove).status(), IsOk());
  ASSERT_THAT(Call(&FakeRuntime::RemovePodSandbox, remove).status(), IsOk());  // idempotent
  cri::PodSandboxStatusRequest gone;
  gone.set_pod_sandbox_id(a);
  EXPECT_THAT(Call(&FakeRuntime::PodSandboxStatus, gone), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(FakeRuntimeTest, ImagesMustBePulledAndPullsTakeTheirTimeOrFail) {
  runtime_.SetImage("web:slow", {.pull_delay = absl::Seconds(30)});
  runtime_.SetImage("web:missing", {.pull_error = "not found"});
  const std::string sandbox = RunSandbox("a");
  EXPECT_THAT(Create(sandbox, "main", "web:slow"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("image \"web:slow\": not found")));

  const absl::Time before = Now();
  ASSERT_THAT(Pull("web:slow"), IsOk());
  EXPECT_EQ(Now() - before, absl::Seconds(30));
  EXPECT_THAT(Create(sandbox, "main", "web:slow"), IsOk());

  EXPECT_THAT(Pull("web:missing"),
              StatusIs(absl::StatusCode::kUnknown,
                       HasSubstr("failed to pull and unpack image \"web:missing\": not found")));
  cri::ImageStatusRequest status;
  status.mutable_image()->set_image("web:missing");
  EXPECT_FALSE(Call(&FakeRuntime::ImageStatus, status)->has_image());
  status.mutable_image()->set_image("web:slow");
  EXPECT_EQ(Call(&FakeRuntime::ImageStatus, status)->image().repo_tags(0), "web:slow");

  auto images = Call(&FakeRuntime::ListImages, cri::ListImagesRequest()).value();
  std::vector<std::string> tags;
  for (const auto& image : images.images()) tags.push_back(image.repo_tags(0));
  EXPECT_THAT(tags, ElementsAre("pause:3.6", "web:slow"));

  cri::RemoveImageRequest remove;
  remove.mutable_image()->set_image("web:slow");
  EXPECT_THAT(Call(&FakeRuntime::RemoveImage, remove).status(), IsOk());
  EXPECT_THAT(Call(&FakeRuntime::RemoveImage, remove).status(), IsOk());
  EXPECT_FALSE(Call(&FakeRuntime::ImageStatus, status)->has_image());
}

TEST_F(FakeRuntimeTest, ContainersStartAfterTheirDelayAndExitAsScripted) {
  runtime_.SetImage("crash:1", {.start_delay = absl::Seconds(2),
                                .exit_after = absl::Seconds(5), .exit_code = 3});
  const std::string sandbox = RunSandbox("a");
  ASSERT_THAT(Pull("crash:1"), IsOk());
  const std::string id = Create(sandbox, "main", "crash:1").value();
  EXPECT_EQ(Status(id).state(), cri::CONTAINER_CREATED);
  EXPECT_EQ(Status(id).log_path(), "/var/log/pods/default_a/main/0.log");

  const absl::Time start = Now();
  ASSERT_THAT(Start(id), IsOk());
  EXPECT_EQ(Now() - start, absl::Seconds(2));
  cri::ContainerStatus status = Status(id);
  EXPECT_EQ(status.state(), cri::CONTAINER_RUNNING);
  EXPECT_EQ(status.started_at(), absl::ToUnixNanos(Now()));
  EXPECT_THAT(Start(id), StatusIs(absl::StatusCode::kFailedPrecondition));

  executor_.AdvanceBy(absl::Seconds(5));
  status = Status(id);
  EXPECT_EQ(status.state(), cri::CONTAINER_EXITED);
  EXPECT_EQ(status.exit_code(), 3);
  EXPECT_EQ(status.reason(), "Error");
  EXPECT_EQ(status.finished_at() - status.started_at(), absl::ToInt64Nanoseconds(absl::Seconds(5)));
  EXPECT_EQ(runtime_.stats().running_containers, 0);
}

TEST_F(FakeRuntimeTest, StopHonoursSigtermOrWaitsOutTheTimeout) {
  runtime_.SetImage("stubborn:1", {.ignore_sigterm = true});
  runtime_.SetImage("slow-exit:1", {.stop_delay = absl::Seconds(3)});
  const std::string polite = Running("web:1");
  const std::string stubborn = Running("stubborn:1");
  const std::string slow = Running("slow-exit:1");

  absl::Time before = Now();
  ASSERT_THAT(Stop(polite, 30), IsOk());
  EXPECT_EQ(Now(), before);
  EXPECT_EQ(Status(polite).exit_code(), 143);

  before = Now();
  ASSERT_THAT(Stop(stubborn, 10), IsOk());
  EXPECT_EQ(Now() - before, absl::Seconds(10));
  EXPECT_EQ(Status(stubborn).exit_code(), 137);

  before = Now();
  ASSERT_THAT(Stop(slow, 30), IsOk());
  EXPECT_EQ(Now() - before, absl::Seconds(3));
  EXPECT_EQ(Status(slow).exit_code(), 143);
  ASSERT_THAT(Stop(slow, 30), IsOk());  // idempotent
}

TEST_F(FakeRuntimeTest, KillFromOutsideAndProbesFollowTheScript) {
  runtime_.SetImage("unready:1", {.never_ready = true});
  runtime_.SetImage("rots:1", {.unhealthy_after = absl::Seconds(60)});
  const std::string web = Running("web:1");
  const std::string unready = Running("unready:1");
  const std::string rots = Running("rots:1");
  EXPECT_TRUE(runtime_.Ready(web));
  EXPECT_FALSE(runtime_.Ready(unready));
  EXPECT_TRUE(runtime_.Live(unready));
  EXPECT_TRUE(runtime_.Live(rots));
  executor_.AdvanceBy(absl::Seconds(60));
  EXPECT_FALSE(runtime_.Live(rots));

  std::optional<ProbeResult> probed;
  runtime_.Probe({.kind = ProbeKind::kReadiness, .container_id = unready},
                 [&](ProbeResult r) { probed = r; });
  executor_.RunUntilIdle();
  ASSERT_TRUE(probed.has_value());
  EXPECT_FALSE(probed->success);

  ASSERT_THAT(runtime_.KillContainer(web), IsOk());
  EXPECT_EQ(Status(web).state(), cri::CONTAINER_EXITED);
  EXPECT_EQ(Status(web).exit_code(), 137);
  EXPECT_FALSE(runtime_.Ready(web));
  EXPECT_THAT(runtime_.KillContainer(web), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(runtime_.KillContainer("nope"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(FakeRuntimeTest, ExecAnswersAsScriptedOnlyInRunningContainers) {
  runtime_.SetImage("exec:1", {.exec = [](const std::vector<std::string>& cmd) {
                                 cri::ExecSyncResponse out;
                                 out.set_stdout("ran " + cmd[0]);
                                 out.set_exit_code(cmd[0] == "false" ? 1 : 0);
                                 return out;
                               }});
  const std::string id = Running("exec:1");
  cri::ExecSyncRequest request;
  request.set_container_id(id);
  request.add_cmd("false");
  auto out = Call(&FakeRuntime::ExecSync, request).value();
  EXPECT_EQ(out.exit_code(), 1);
  EXPECT_EQ(out.stdout(), "ran false");
  ASSERT_THAT(Stop(id, 0), IsOk());
  EXPECT_THAT(Call(&FakeRuntime::ExecSync, request),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("is not running")));
}

TEST_F(FakeRuntimeTest, TheRuntimeItselfCanBeUnavailableOrSlow) {
  runtime_.SetUnavailable(true);
  cri::RunPodSandboxRequest request;
  request.mutable_config()->mutable_metadata()->set_name("a");
  EXPECT_THAT(Call(&FakeRuntime::RunPodSandbox, request),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("fake runtime is unavailable")));
  EXPECT_EQ(runtime_.stats().sandboxes, 0);
  runtime_.SetUnavailable(false);
  runtime_.SetCallDelay(absl::Milliseconds(250));
  const absl::Time before = Now();
  EXPECT_THAT(Call(&FakeRuntime::Version, cri::VersionRequest()).status(), IsOk());
  EXPECT_EQ(Now() - before, absl::Milliseconds(250));
}

TEST_F(FakeRuntimeTest, ReadsAnswerWithWhatTheRuntimeHoldsWhenTheyComplete) {
  const std::string id = Running("web:1");
  const std::string gone = RunSandbox("gone");
  runtime_.SetCallDelay(absl::Milliseconds(250));
  std::optional<absl::StatusOr<cri::ContainerStatusResponse>> status;
  std::optional<absl::StatusOr<cri::ListContainersResponse>> running;
  std::optional<absl::StatusOr<cri::PodSandboxStatusResponse>> sandbox;
  cri::ContainerStatusRequest status_request;
  status_request.set_container_id(id);
  runtime_.ContainerStatus(status_request, [&](auto r) { status = std::move(r); });
  cri::ListContainersRequest list;
  list.mutable_filter()->mutable_state()->set_state(cri::CONTAINER_RUNNING);
  runtime_.ListContainers(list, [&](auto r) { running = std::move(r); });
  cri::PodSandboxStatusRequest sandbox_request;
  sandbox_request.set_pod_sandbox_id(gone);
  runtime_.PodSandboxStatus(sandbox_request, [&](auto r) { sandbox = std::move(r); });

  // Before the answers are due, the container dies and the sandbox is removed.
  ASSERT_THAT(runtime_.KillContainer(id, 137), IsOk());
  cri::RemovePodSandboxRequest remove;
  remove.set_pod_sandbox_id(gone);
  bool removed = false;
  runtime_.RemovePodSandbox(remove, [&](auto r) { removed = r.ok(); });
  executor_.RunUntilIdle();
  EXPECT_FALSE(status.has_value()) << "answered before the call delay";
  executor_.RunNextTimer();
  executor_.RunUntilIdle();

  ASSERT_TRUE(status.has_value() && running.has_value() && sandbox.has_value());
  EXPECT_TRUE(removed);
  ASSERT_THAT(status->status(), IsOk());
  EXPECT_EQ((*status)->status().state(), cri::CONTAINER_EXITED);
  EXPECT_EQ((*status)->status().exit_code(), 137);
  ASSERT_THAT(running->status(), IsOk());
  EXPECT_EQ((*running)->containers_size(), 0);
  EXPECT_THAT(sandbox->status(), StatusIs(absl::StatusCode::kNotFound, HasSubstr(gone)));
}

TEST_F(FakeRuntimeTest, RemovingASandboxTakesItsContainers) {
  const std::string sandbox = RunSandbox("a");
  ASSERT_THAT(Pull("web:1"), IsOk());
  const std::string one = Create(sandbox, "one", "web:1").value();
  const std::string two = Create(sandbox, "two", "web:1").value();
  ASSERT_THAT(Start(one), IsOk());
  cri::ListContainersRequest list;
  list.mutable_filter()->set_pod_sandbox_id(sandbox);
  EXPECT_EQ(Call(&FakeRuntime::ListContainers, list)->containers_size(), 2);
  list.mutable_filter()->mutable_state()->set_state(cri::CONTAINER_RUNNING);
  auto running = Call(&FakeRuntime::ListContainers, list).value();
  ASSERT_EQ(running.containers_size(), 1);
  EXPECT_EQ(running.containers(0).id(), one);
  EXPECT_EQ(running.containers(0).metadata().name(), "one");

  cri::RemovePodSandboxRequest remove;
  remove.set_pod_sandbox_id(sandbox);
  ASSERT_THAT(Call(&FakeRuntime::RemovePodSandbox, remove).status(), IsOk());
  EXPECT_EQ(runtime_.stats().containers, 0);
  cri::ContainerStatusRequest status;
  status.set_container_id(two);
  EXPECT_THAT(Call(&FakeRuntime::ContainerStatus, status), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace orch::runtime
