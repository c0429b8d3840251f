// ContainerdFixture: a private containerd 1.6 for tests that need a real container
// runtime behind a CRI socket, started and stopped by the test itself.
//
// Everything of one instance lives in a fresh temporary directory: containerd's root,
// state, socket, opt path and runc root, its log, the CNI configuration and the IP
// allocations. The daemon runs in a private mount namespace in which that directory is
// bound over /var/lib, so libcni's cache and every mount of a container stay out of the
// host's view. Its CNI network is a bridge with a name and a /24 (10.88.X.0/24) no other
// live instance on the machine uses, so instances in parallel test programs do not
// collide. The images kPauseImage (the sandbox image) and kBusyboxImage are built once
// per machine by scripts/build-test-images.sh into a cache directory and imported into
// the k8s.io namespace, where CRI looks for them. No registry is needed.
//
//   ORCH_ASSERT_OK_AND_ASSIGN(auto containerd, ContainerdFixture::Start());
//   auto runtime = MakeCriRuntime(containerd->endpoint());  // "unix:///tmp/.../containerd.sock"
//   ...
//   // containerd, its containers, mounts and bridge are gone when `containerd` is destroyed.
//
// When the environment variable ORCH_TEST_CRI_ENDPOINT is set (for example to
// "unix:///var/run/crio/crio.sock"), Start starts nothing and hands out that endpoint as
// is, expecting both images to be present there: that is how the same tests run against
// CRI-O or a containerd the machine already has. external() then says so, and Stop leaves
// that runtime alone.
//
// Stop (and the destructor) leaves the machine as it was: it removes every task through
// containerd, stops containerd (SIGTERM, then SIGKILL), kills whatever is still running
// under this instance (shims and container processes, even when containerd died first),
// unmounts what is left mounted under the directory, deletes the bridge, restores
// net.ipv4.ip_forward (which the CNI bridge plugin turns on) once the last live instance
// on the machine stops, and removes the directory.
//
// Requirements: root (containerd, mount namespaces, bridges), Linux, and the packages
// scripts/install-deps.sh installs: containerd, runc, containernetworking-plugins (in
// /usr/lib/cni), iproute2, util-linux, umoci, busybox-static, gcc and libc6-dev.
//
// Thread safety: Start and Stop may be called from any thread; the accessors are const and
// may be called from any thread, but not while Stop runs on the same instance. Separate
// instances are independent, in one process or in several. containerd is started with
// PR_SET_PDEATHSIG(SIGKILL) so that a test program that crashes leaves no daemon behind
// (running containers and their shims do stay, with the directory): call Start from a
// thread that lives as long as the fixture (a test's own thread does).
// Ownership: the fixture owns the daemon, everything started under it and the directory.
// Errors: absl::Status, never an exception or an abort. kFailedPrecondition when the
// machine lacks something (not root, a program or package missing); the message names it,
// so a test may GTEST_SKIP with it. Other codes when containerd fails to start or to
// import the images; the message carries the last lines of its log.
#ifndef ORCH_TESTS_SUPPORT_CONTAINERD_FIXTURE_H_
#define ORCH_TESTS_SUPPORT_CONTAINERD_FIXTURE_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace orch::testing {

struct ContainerdFixtureOptions {
  // Parent of the instance's temporary directory; empty means /tmp. The socket path
  // (<dir>/orch-containerd-XXXXXX/containerd.sock) must fit in a sockaddr_un.
  std::string dir;
  // Where scripts/build-test-images.sh keeps the image tarballs between runs; empty means
  // $ORCH_TEST_IMAGE_DIR, or /tmp/orch-test-images when that is unset.
  std::string image_dir;
  // How long Start waits for containerd to open its socket.
  absl::Duration socket_timeout = absl::Seconds(20);
};

class ContainerdFixture {
 public:
  // The images every instance holds, under the names CRI resolves them by. (char arrays
  // rather than std::string_view: Debian 12's Abseil has its own string_view, which
  // absl::StrCat takes and std::string_view does not convert to.)
  static constexpr char kPauseImage[] = "localhost/pause:3.6";
  static constexpr char kBusyboxImage[] = "localhost/busybox:latest";
  // The containerd namespace CRI works in.
  static constexpr char kNamespace[] = "k8s.io";

  // Starts a private containerd as described above, or adopts ORCH_TEST_CRI_ENDPOINT.
  // Takes about 1 s once the images are cached (the first Start on a machine builds them:
  // 1-2 s more). On error nothing is left behind.
  static absl::StatusOr<std::unique_ptr<ContainerdFixture>> Start(
      ContainerdFixtureOptions options = {});

  ContainerdFixture(const ContainerdFixture&) = delete;
  ContainerdFixture& operator=(const ContainerdFixture&) = delete;
  // Stops, as Stop does, ignoring its status.
  ~ContainerdFixture();

  // Stops containerd and undoes everything Start and the containers did (see above).
  // Safe to call twice: the second call does nothing and returns OK. Every cleanup step
  // runs even when an earlier one fails; the status reports the first failure.
  absl::Status Stop();

  // The CRI endpoint, "unix:///path/to/containerd.sock", or ORCH_TEST_CRI_ENDPOINT as is.
  std::string endpoint() const { return endpoint_; }
  // The socket's file path (the endpoint without "unix://").
  std::string socket_path() const { return socket_path_; }
  // True when the runtime is ORCH_TEST_CRI_ENDPOINT's rather than started here; then
  // dir(), log_path(), bridge_name(), subnet() and runc_root() are empty and pid() is 0.
  bool external() const { return external_; }

  // The instance's temporary directory (its name is kept after Stop removes it).
  std::string dir() const { return dir_; }
  // containerd's stdout and stderr.
  std::string log_path() const { return log_path_; }
  // The last `lines` lines of that log, for error messages.
  std::string LogTail(int lines = 10) const;
  // containerd's process id while it runs; 0 once stopped.
  pid_t pid() const { return pid_; }
  // The CNI bridge pods get attached to (created by the bridge plugin with the first pod),
  // and its subnet, "10.88.X.0/24"; pods get addresses from .2 up, the bridge has .1.
  std::string bridge_name() const { return bridge_name_; }
  std::string subnet() const { return subnet_; }
  // runc's root as configured for CRI; pass it to `ctr run --runc-root` so containers
  // made with ctr live under this instance too.
  std::string runc_root() const { return dir_.empty() ? "" : dir_ + "/runc"; }

 private:
  ContainerdFixture() = default;

  absl::Status StartPrivate(const ContainerdFixtureOptions& options);
  absl::Status WriteConfig() const;
  absl::Status SpawnContainerd();
  absl::Status WaitForSocket(absl::Duration timeout);
  absl::Status ImportImages(const std::string& image_dir) const;

  // Stop's steps, in order.
  void RemoveTasks() const;
  void StopContainerd();  // SIGTERM, and SIGKILL after 10 s
  void DeleteRuncContainers() const;
  absl::Status KillLeftoverProcesses() const;
  void RemoveShimSockets() const;
  absl::Status UnmountUnderDir() const;
  absl::Status DeleteBridge() const;

  bool external_ = false;
  bool stopped_ = false;
  std::string endpoint_;
  std::string socket_path_;
  std::string dir_;
  std::string log_path_;
  std::string bridge_name_;
  std::string subnet_;
  int subnet_octet_ = -1;    // X in 10.88.X.0/24
  int subnet_lock_fd_ = -1;  // flock held while this instance uses the subnet
  pid_t pid_ = 0;
};

}  // namespace orch::testing

#endif  // ORCH_TESTS_SUPPORT_CONTAINERD_FIXTURE_H_
