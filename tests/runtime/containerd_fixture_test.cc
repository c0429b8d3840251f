// ContainerdFixture against the real thing: it starts a containerd that serves both test
// images, and its Stop leaves nothing behind, whether containerd stopped its containers
// itself or died first. Needs root and the packages of scripts/install-deps.sh; a machine
// without them skips, naming what is missing.
#include "support/containerd_fixture.h"

#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/process.h"
#include "support/status_matchers.h"

namespace orch::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;
using ::testing::Not;
using ::testing::SizeIs;
using ::testing::StartsWith;

// Starts a private containerd into `lhs`, or skips the test when the machine cannot run one.
#define START_CONTAINERD_OR_SKIP(lhs)                                           \
  auto lhs##_started = ContainerdFixture::Start();                              \
  if (lhs##_started.status().code() == absl::StatusCode::kFailedPrecondition) { \
    GTEST_SKIP() << lhs##_started.status();                                     \
  }                                                                             \
  ASSERT_TRUE(lhs##_started.ok()) << lhs##_started.status();                    \
  std::unique_ptr<ContainerdFixture> lhs = std::move(lhs##_started).value()

struct Shell {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs `command` with sh; the fixture's paths need no quoting (mkdtemp names).
Shell Sh(const std::string& command) {
  Shell result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t n;
  while ((n = ::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, n);
  const int status = ::pclose(pipe);
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  return result;
}

std::string Ctr(const ContainerdFixture& containerd, const std::string& args) {
  return absl::StrCat("ctr -a ", containerd.socket_path(), " -n ", ContainerdFixture::kNamespace,
                      " ", args);
}

std::vector<std::string> ImageNames(const ContainerdFixture& containerd) {
  Shell listed = Sh(Ctr(containerd, "images ls -q"));
  EXPECT_EQ(listed.exit_code, 0) << listed.output;
  return absl::StrSplit(listed.output, '\n', absl::SkipWhitespace());
}

std::string ReadIpForward() {
  return ReadFile("/proc/sys/net/ipv4/ip_forward").value_or("");
}

void WriteIpForward(const std::string& value) {
  std::ofstream("/proc/sys/net/ipv4/ip_forward") << value;
}

bool InterfaceExists(const std::string& name) { return fs::exists("/sys/class/net/" + name); }


struct Container {
  std::string id;
  pid_t pid = 0;  // on the host
};

// Runs `sleep 600` from the busybox image in a container of `containerd`, made with ctr
// (not CRI). The id, which also names the container's cgroup (/k8s.io/<id>), is made
// unique to the instance.
std::optional<Container> RunSleepContainer(const ContainerdFixture& containerd,
                                           const std::string& name) {
  Container container{.id = absl::StrCat(name, "-", containerd.bridge_name())};
  const std::string pid_file = absl::StrCat(containerd.dir(), "/", container.id, ".pid");
  Shell run = Sh(
      Ctr(containerd, absl::StrCat("run -d --null-io --runc-root ", containerd.runc_root(),
                                   " --pid-file ", pid_file, " ", ContainerdFixture::kBusyboxImage,
                                   " ", container.id, " sleep 600")));
  EXPECT_EQ(run.exit_code, 0) << run.output;
  std::ifstream in(pid_file);
  if (!(in >> container.pid) || container.pid <= 0) return std::nullopt;
  return container;
}

// The socket containerd 1.6 gives the shim of `container`, outside the instance's
// directory: /run/containerd/s/<sha256 of "<containerd socket>/<namespace>/<id>">.
std::string ShimSocket(const ContainerdFixture& containerd, const Container& container) {
  Shell hash = Sh(absl::StrCat("printf '%s' ", containerd.socket_path(), "/",
                               ContainerdFixture::kNamespace, "/", container.id, " | sha256sum"));
  return "/run/containerd/s/" + hash.output.substr(0, 64);
}

class ContainerdFixtureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::getenv("ORCH_TEST_CRI_ENDPOINT") != nullptr) {
      GTEST_SKIP() << "ORCH_TEST_CRI_ENDPOINT is set: these tests are of the private containerd";
    }
  }
};

TEST_F(ContainerdFixtureTest, StartsContainerdWithBothImages) {
  START_CONTAINERD_OR_SKIP(containerd);

  EXPECT_FALSE(containerd->external());
  EXPECT_EQ(containerd->endpoint(), "unix://" + containerd->socket_path());
  EXPECT_THAT(containerd->socket_path(), StartsWith(containerd->dir() + "/"));
  struct stat info {};
  ASSERT_EQ(::stat(containerd->socket_path().c_str(), &info), 0) << containerd->socket_path();
  EXPECT_TRUE(S_ISSOCK(info.st_mode));
  EXPECT_TRUE(fs::exists(containerd->log_path()));
  ASSERT_GT(containerd->pid(), 0);
  EXPECT_TRUE(Running(containerd->pid()));
  EXPECT_THAT(containerd->bridge_name(), MatchesRegex("orch[0-9a-f]{6}"));
  EXPECT_FALSE(InterfaceExists(containerd->bridge_name()));  // made with the first pod
  EXPECT_THAT(containerd->subnet(), MatchesRegex("10\\.88\\.[0-9]+\\.0/24"));

  const std::vector<std::string> images = ImageNames(*containerd);
  EXPECT_THAT(images, Contains(std::string(ContainerdFixture::kPauseImage)));
  EXPECT_THAT(images, Contains(std::string(ContainerdFixture::kBusyboxImage)));
}

TEST_F(ContainerdFixtureTest, RunsAContainerFromTheBusyboxImage) {
  START_CONTAINERD_OR_SKIP(containerd);

  Shell run = Sh(Ctr(*containerd, absl::StrCat("run --rm --runc-root ", containerd->runc_root(),
                                               " ", ContainerdFixture::kBusyboxImage, " echo-",
                                               containerd->bridge_name(),
                                               " sh -c 'echo hello from busybox; true'")));
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("hello from busybox"));
}

TEST_F(ContainerdFixtureTest, StopLeavesNothingBehind) {
  const std::string ip_forward_before = ReadIpForward();
  START_CONTAINERD_OR_SKIP(containerd);
  const pid_t containerd_pid = containerd->pid();
  const std::string dir = containerd->dir();
  const std::string bridge = containerd->bridge_name();

  // What a pod does to the host: the bridge plugin creates the bridge and, as gateway,
  // turns on forwarding. And a container that runs until it is killed.
  Shell add = Sh("ip link add " + bridge + " type bridge");
  ASSERT_EQ(add.exit_code, 0) << add.output;
  WriteIpForward("1\n");
  std::optional<Container> sleeper = RunSleepContainer(*containerd, "sleeper");
  ASSERT_TRUE(sleeper.has_value());
  EXPECT_TRUE(Running(sleeper->pid));
  const std::string shim_socket = ShimSocket(*containerd, *sleeper);
  EXPECT_TRUE(fs::exists(shim_socket)) << shim_socket;

  ORCH_EXPECT_OK(containerd->Stop());

  EXPECT_EQ(containerd->pid(), 0);
  EXPECT_EQ(::kill(containerd_pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
  EXPECT_FALSE(Running(sleeper->pid));
  EXPECT_THAT(ProcessesMentioning(dir), IsEmpty());
  EXPECT_FALSE(fs::exists(dir));
  EXPECT_FALSE(InterfaceExists(bridge));
  EXPECT_EQ(ReadIpForward(), ip_forward_before);
  EXPECT_FALSE(fs::exists(shim_socket));

  ORCH_EXPECT_OK(containerd->Stop());  // twice is fine
}

TEST_F(ContainerdFixtureTest, StopCleansUpAfterContainerdDied) {
  START_CONTAINERD_OR_SKIP(containerd);
  const std::string dir = containerd->dir();
  std::optional<Container> sleeper = RunSleepContainer(*containerd, "orphan");
  ASSERT_TRUE(sleeper.has_value());
  const std::string shim_socket = ShimSocket(*containerd, *sleeper);
  EXPECT_TRUE(fs::exists(shim_socket)) << shim_socket;

  // containerd dies; its shim and the container run on, reparented to init.
  ASSERT_EQ(::kill(containerd->pid(), SIGKILL), 0);
  ASSERT_THAT(ProcessesMentioning(dir), Not(IsEmpty()));

  ORCH_EXPECT_OK(containerd->Stop());

  EXPECT_FALSE(Running(sleeper->pid));
  EXPECT_THAT(ProcessesMentioning(dir), IsEmpty());
  EXPECT_FALSE(fs::exists(dir));
  EXPECT_FALSE(fs::exists(shim_socket));  // a killed shim leaves it; Stop removes it
}

TEST_F(ContainerdFixtureTest, TwoInstancesOneAfterTheOther) {
  std::string first_dir;
  {
    START_CONTAINERD_OR_SKIP(first);
    first_dir = first->dir();
    EXPECT_THAT(ImageNames(*first), Contains(std::string(ContainerdFixture::kBusyboxImage)));
  }
  EXPECT_FALSE(fs::exists(first_dir));
  START_CONTAINERD_OR_SKIP(second);
  EXPECT_NE(second->dir(), first_dir);
  EXPECT_THAT(ImageNames(*second), Contains(std::string(ContainerdFixture::kBusyboxImage)));
  ORCH_EXPECT_OK(second->Stop());
  EXPECT_FALSE(fs::exists(second->dir()));
}

TEST_F(ContainerdFixtureTest, TwoInstancesAtOnceShareNothing) {
  START_CONTAINERD_OR_SKIP(first);
  START_CONTAINERD_OR_SKIP(second);
  EXPECT_NE(first->socket_path(), second->socket_path());
  EXPECT_NE(first->bridge_name(), second->bridge_name());
  EXPECT_NE(first->subnet(), second->subnet());
  EXPECT_THAT(ImageNames(*first), Contains(std::string(ContainerdFixture::kPauseImage)));
  EXPECT_THAT(ImageNames(*second), Contains(std::string(ContainerdFixture::kPauseImage)));

  // Stopping one leaves the other serving.
  ORCH_EXPECT_OK(first->Stop());
  EXPECT_TRUE(Running(second->pid()));
  EXPECT_THAT(ImageNames(*second), Contains(std::string(ContainerdFixture::kBusyboxImage)));
}

TEST_F(ContainerdFixtureTest, ContainerdTooSlowIsAnErrorWithItsLogAndLeavesNothing) {
  std::string base = (fs::temp_directory_path() / "orch-fixture-test-XXXXXX").string();
  ASSERT_NE(::mkdtemp(base.data()), nullptr);
  ContainerdFixtureOptions options;
  options.dir = base;
  options.socket_timeout = absl::ZeroDuration();
  absl::StatusOr<std::unique_ptr<ContainerdFixture>> started = ContainerdFixture::Start(options);
  if (started.status().code() == absl::StatusCode::kFailedPrecondition) {
    fs::remove(base);
    GTEST_SKIP() << started.status();
  }
  EXPECT_THAT(started,
              StatusIs(absl::StatusCode::kDeadlineExceeded,
                       HasSubstr("containerd did not open its socket within 0; its log:")));
  EXPECT_TRUE(fs::is_empty(base));  // the instance's directory is gone
  EXPECT_THAT(ProcessesMentioning(base), IsEmpty());
  fs::remove(base);
}

TEST_F(ContainerdFixtureTest, ImagesThatCannotBeBuiltAreAnError) {
  ContainerdFixtureOptions options;
  options.image_dir = "/proc/orch-no-such-dir/images";
  EXPECT_THAT(ContainerdFixture::Start(options),
              StatusIs(absl::StatusCode::kInternal,
                       HasSubstr("building the test images into /proc/orch-no-such-dir/images")));
}

// Restores an environment variable to what it was when this was made.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST_F(ContainerdFixtureTest, AdoptsTheEndpointFromTheEnvironment) {
  START_CONTAINERD_OR_SKIP(own);
  {
    ScopedEnv endpoint("ORCH_TEST_CRI_ENDPOINT", own->endpoint());
    ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<ContainerdFixture> adopted,
                              ContainerdFixture::Start());
    EXPECT_TRUE(adopted->external());
    EXPECT_EQ(adopted->endpoint(), own->endpoint());
    EXPECT_EQ(adopted->socket_path(), own->socket_path());
    EXPECT_EQ(adopted->pid(), 0);
    EXPECT_THAT(adopted->dir(), IsEmpty());
    ORCH_EXPECT_OK(adopted->Stop());
  }
  EXPECT_TRUE(Running(own->pid()));  // the adopted runtime was left alone
  EXPECT_THAT(ImageNames(*own), SizeIs(::testing::Ge(2)));
}

TEST_F(ContainerdFixtureTest, EndpointFromTheEnvironmentMustExist) {
  ScopedEnv endpoint("ORCH_TEST_CRI_ENDPOINT", "unix:///nonexistent/crio.sock");
  EXPECT_THAT(ContainerdFixture::Start(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("/nonexistent/crio.sock")));
}

TEST_F(ContainerdFixtureTest, MissingContainerdIsAFailedPrecondition) {
  // /usr/bin, where containerd and ctr live, is off the path (the sbin directories, which
  // the fixture always searches, hold no containerd).
  ScopedEnv path("PATH", "/nonexistent");
  EXPECT_THAT(ContainerdFixture::Start(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                                   HasSubstr("containerd (package containerd)")));
}

}  // namespace
}  // namespace orch::testing
