#include "support/containerd_fixture.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "orch/base/status.h"
#include "support/process.h"

#ifndef ORCH_SOURCE_DIR
#error "ORCH_SOURCE_DIR must name the source tree (tests/CMakeLists.txt defines it)"
#endif

extern char** environ;

namespace orch::testing {
namespace {

namespace fs = std::filesystem;

constexpr char kImageScript[] = ORCH_SOURCE_DIR "/scripts/build-test-images.sh";
constexpr char kDefaultImageDir[] = "/tmp/orch-test-images";
constexpr char kCniBinDir[] = "/usr/lib/cni";
constexpr char kIpForward[] = "/proc/sys/net/ipv4/ip_forward";
// Where containerd 1.6's shims put their sockets, whatever the daemon's state dir.
constexpr char kShimSocketDir[] = "/run/containerd/s";
// Host-wide bookkeeping shared by every instance on the machine (see HostRegistry).
constexpr char kRegistryDir[] = "/tmp/orch-containerd-fixture";

// ---------------------------------------------------------------------------------------
// Files and programs

bool Exists(const std::string& path) {
  std::error_code ignored;
  return fs::exists(path, ignored);
}

std::vector<std::string> Subdirectories(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    if (entry.is_directory(error)) names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// ---------------------------------------------------------------------------------------
// Processes, from /proc

struct ProcessInfo {
  pid_t ppid = 0;
  char state = '?';
};

std::optional<ProcessInfo> ReadProcessInfo(pid_t pid) {
  std::optional<std::string> stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  if (!stat) return std::nullopt;
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so parse after the
  // last ')'.
  const size_t paren = stat->rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream rest(stat->substr(paren + 1));
  ProcessInfo info;
  rest >> info.state >> info.ppid;
  if (!rest) return std::nullopt;
  return info;
}

std::map<pid_t, ProcessInfo> AllProcesses() {
  std::map<pid_t, ProcessInfo> processes;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator("/proc", error)) {
    int pid = 0;
    if (!absl::SimpleAtoi(entry.path().filename().string(), &pid)) continue;
    if (std::optional<ProcessInfo> info = ReadProcessInfo(pid)) processes[pid] = *info;
  }
  return processes;
}

// A zombie has exited; it only waits for its parent (often init) to reap it.
// Live processes whose command line names a path under `dir` (containerd, its shims
// ("-address <dir>/containerd.sock"), runc ("--root <dir>/runc/...")), and all their
// descendants: the containers, which name nothing of ours.
std::set<pid_t> ProcessesUnder(const std::string& dir) {
  const std::map<pid_t, ProcessInfo> processes = AllProcesses();
  const std::string needle = dir + "/";
  std::set<pid_t> found;
  for (const auto& [pid, info] : processes) {
    if (pid == ::getpid() || info.state == 'Z') continue;
    std::optional<std::string> cmdline = ReadFile(absl::StrCat("/proc/", pid, "/cmdline"));
    if (cmdline && absl::StrContains(*cmdline, needle)) found.insert(pid);
  }
  for (bool grew = true; grew;) {
    grew = false;
    for (const auto& [pid, info] : processes) {
      if (info.state != 'Z' && !found.contains(pid) && found.contains(info.ppid)) {
        found.insert(pid);
        grew = true;
      }
    }
  }
  return found;
}

// A mount point as /proc/self/mountinfo writes it: space, tab, newline and backslash
// as octal escapes (a space is "\040").
std::string UnescapeMountPoint(absl::string_view escaped) {
  auto octal = [](char c) { return c >= '0' && c <= '7'; };
  std::string point;
  for (size_t i = 0; i < escaped.size(); ++i) {
    if (escaped[i] == '\\' && i + 3 < escaped.size() && octal(escaped[i + 1]) &&
        octal(escaped[i + 2]) && octal(escaped[i + 3])) {
      point.push_back(static_cast<char>((escaped[i + 1] - '0') * 64 + (escaped[i + 2] - '0') * 8 +
                                        (escaped[i + 3] - '0')));
      i += 3;
    } else {
      point.push_back(escaped[i]);
    }
  }
  return point;
}

// ---------------------------------------------------------------------------------------
// HostRegistry: what live instances on one machine share, under kRegistryDir.
//   registry.lock    held while an instance joins or leaves
//   subnet-<X>.lock  held (flock) by the live instance that uses 10.88.X.0/24; the kernel
//                    drops it when that process dies, so a crashed test frees its subnet
//   ip_forward       net.ipv4.ip_forward before the first of the live instances started
// The bridge plugin sets ip_forward and never clears it. Instances overlap (parallel test
// programs), so the last one to leave restores the value from before the first one came.

// Holds registry.lock for its lifetime.
class RegistryLock {
 public:
  RegistryLock() {
    ::mkdir(kRegistryDir, 0755);
    fd_ = ::open(absl::StrCat(kRegistryDir, "/registry.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC,
                 0644);
    if (fd_ >= 0 && ::flock(fd_, LOCK_EX) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  RegistryLock(const RegistryLock&) = delete;
  RegistryLock& operator=(const RegistryLock&) = delete;
  ~RegistryLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  absl::Status status() const {
    if (fd_ >= 0) return absl::OkStatus();
    return absl::InternalError(absl::StrCat("cannot lock ", kRegistryDir, "/registry.lock"));
  }

 private:
  int fd_ = -1;
};

std::string SubnetLockPath(int octet) {
  return absl::StrFormat("%s/subnet-%d.lock", kRegistryDir, octet);
}
std::string SavedIpForwardPath() { return absl::StrCat(kRegistryDir, "/ip_forward"); }

// Takes the lock on `path` without waiting; the descriptor holding it, or -1.
int TryLock(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return fd;
  ::close(fd);
  return -1;
}

// Whether some instance, in this process or another, holds a subnet lock. REQUIRES: the
// registry lock, so the probe (which takes each free lock for a moment) races no one.
bool AnyLiveInstance() {
  for (int octet = 1; octet <= 254; ++octet) {
    const std::string path = SubnetLockPath(octet);
    if (!Exists(path)) continue;
    const int fd = TryLock(path);
    if (fd < 0) return true;
    ::close(fd);
  }
  return false;
}

// Whether a route of this host (other than the default route) overlaps 10.88.X.0/24:
// a bridge of another runtime, or of an instance that crashed and left its bridge.
bool RouteOverlaps(int octet) {
  in_addr candidate{};
  ::inet_pton(AF_INET, absl::StrFormat("10.88.%d.0", octet).c_str(), &candidate);
  in_addr candidate_mask{};
  ::inet_pton(AF_INET, "255.255.255.0", &candidate_mask);
  std::optional<std::string> table = ReadFile("/proc/net/route");
  if (!table) return false;
  // Lines: Iface Destination Gateway Flags RefCnt Use Metric Mask ...; addresses in hex as
  // the bytes lie in memory, the same order as in_addr::s_addr.
  for (absl::string_view line : absl::StrSplit(*table, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    uint32_t destination = 0, mask = 0;
    if (fields.size() < 8 || !absl::SimpleHexAtoi(fields[1], &destination) ||
        !absl::SimpleHexAtoi(fields[7], &mask) || mask == 0) {
      continue;  // the header, or the default route
    }
    const uint32_t common = mask & candidate_mask.s_addr;  // the shorter prefix's mask
    if ((destination & common) == (candidate.s_addr & common)) return true;
  }
  return false;
}

struct SubnetLease {
  int octet = -1;
  int lock_fd = -1;
};

// Picks a free 10.88.X.0/24 and, if this is the first live instance, saves ip_forward.
absl::StatusOr<SubnetLease> JoinHost() {
  RegistryLock lock;
  ORCH_RETURN_IF_ERROR(lock.status());
  // A saved value with no live instance is from an instance that crashed: it still is the
  // value from before the tests, so it is kept.
  if (!AnyLiveInstance() && !Exists(SavedIpForwardPath())) {
    std::optional<std::string> value = ReadFile(kIpForward);
    if (!value) return absl::FailedPreconditionError(absl::StrCat("cannot read ", kIpForward));
    ORCH_RETURN_IF_ERROR(WriteFile(SavedIpForwardPath(), *value));
  }
  // Instances in different processes start at different subnets, and so do instances of
  // one process.
  static std::atomic<int> instances{0};
  const int start = static_cast<int>((::getpid() + 17 * instances++) % 254);
  for (int i = 0; i < 254; ++i) {
    const int octet = (start + i) % 254 + 1;
    if (RouteOverlaps(octet)) continue;
    const int fd = TryLock(SubnetLockPath(octet));
    if (fd >= 0) return SubnetLease{octet, fd};
  }
  return absl::UnavailableError(
      "no subnet 10.88.X.0/24 is free: each is held by a live instance or overlaps a route of "
      "this host (see `ip -4 route`; a leftover cni0 with 10.88.0.0/16 takes them all)");
}

// Gives the subnet back; the last live instance restores ip_forward.
absl::Status LeaveHost(int lock_fd) {
  RegistryLock lock;
  ::close(lock_fd);  // even without the registry lock: the subnet is free either way
  ORCH_RETURN_IF_ERROR(lock.status());
  if (AnyLiveInstance()) return absl::OkStatus();
  std::optional<std::string> saved = ReadFile(SavedIpForwardPath());
  if (!saved) return absl::OkStatus();
  if (ReadFile(kIpForward) != saved) ORCH_RETURN_IF_ERROR(WriteFile(kIpForward, *saved));
  ::unlink(SavedIpForwardPath().c_str());
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------
// Start's pieces

// What this machine lacks to run the fixture, by package; OK when nothing.
absl::Status CheckPrerequisites() {
  if (::geteuid() != 0) {
    return absl::FailedPreconditionError(
        "the containerd fixture must run as root (containerd, mount namespaces, bridges)");
  }
  std::vector<std::string> missing;
  const std::pair<const char*, const char*> programs[] = {{"containerd", "containerd"},
                                                          {"ctr", "containerd"},
                                                          {"containerd-shim-runc-v2", "containerd"},
                                                          {"runc", "runc"},
                                                          {"unshare", "util-linux"},
                                                          {"mount", "mount"},
                                                          {"ip", "iproute2"},
                                                          {"sh", "dash"},
                                                          {"bash", "bash"},
                                                          {"sha256sum", "coreutils"}};
  for (const auto& [program, package] : programs) {
    if (FindProgram(program).empty()) {
      missing.push_back(absl::StrCat(program, " (package ", package, ")"));
    }
  }
  for (const char* plugin : {"bridge", "host-local", "loopback"}) {
    const std::string path = absl::StrCat(kCniBinDir, "/", plugin);
    if (::access(path.c_str(), X_OK) != 0) {
      missing.push_back(absl::StrCat(path, " (package containernetworking-plugins)"));
    }
  }
  if (missing.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("the containerd fixture needs ", absl::StrJoin(missing, ", "),
                   ", missing on this machine; scripts/install-deps.sh installs them"));
}

std::string ImageDir(const ContainerdFixtureOptions& options) {
  if (!options.image_dir.empty()) return options.image_dir;
  const char* env = std::getenv("ORCH_TEST_IMAGE_DIR");
  return env != nullptr && *env != '\0' ? env : kDefaultImageDir;
}

// Builds the image tarballs into `image_dir` unless they are there already.
absl::Status BuildImages(const std::string& image_dir) {
  ORCH_ASSIGN_OR_RETURN(CommandResult result,
                        Run({"bash", kImageScript, image_dir}, absl::Minutes(5)));
  if (result.ok()) return absl::OkStatus();
  std::string message = absl::StrCat("building the test images into ", image_dir,
                                     " failed: ", Tail(result.output, 10));
  // The script exits 2 when a tool is missing.
  if (result.exit_code == 2) return absl::FailedPreconditionError(message);
  return absl::InternalError(message);
}

absl::StatusOr<std::string> MakeTempDir(const ContainerdFixtureOptions& options) {
  std::error_code error;
  fs::path base =
      options.dir.empty() ? fs::path("/tmp") : fs::absolute(options.dir, error).lexically_normal();
  std::string pattern = (base / "orch-containerd-XXXXXX").string();
  // sockaddr_un holds 108 bytes, terminator included.
  if (pattern.size() + std::string_view("/containerd.sock").size() >= 108) {
    return absl::InvalidArgumentError(
        absl::StrCat("dir ", base.string(), " is too long for a unix socket path under it"));
  }
  if (::mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp ", pattern, ": ", std::strerror(errno)));
  }
  return pattern;
}

// A name no interface has, "orch" + 6 hex digits (interface names hold 15 characters).
std::string NewBridgeName() {
  std::random_device random;
  for (;;) {
    std::string name = absl::StrFormat("orch%06x", random() & 0xffffff);
    if (!Exists("/sys/class/net/" + name)) return name;
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------
// ContainerdFixture

absl::StatusOr<std::unique_ptr<ContainerdFixture>> ContainerdFixture::Start(
    ContainerdFixtureOptions options) {
  std::unique_ptr<ContainerdFixture> fixture(new ContainerdFixture());
  if (const char* endpoint = std::getenv("ORCH_TEST_CRI_ENDPOINT");
      endpoint != nullptr && *endpoint != '\0') {
    fixture->external_ = true;
    fixture->endpoint_ = endpoint;
    absl::string_view path = endpoint;
    if (absl::ConsumePrefix(&path, "unix://")) {
      fixture->socket_path_ = std::string(path);
      struct stat info {};
      if (::stat(fixture->socket_path_.c_str(), &info) != 0 || !S_ISSOCK(info.st_mode)) {
        return absl::FailedPreconditionError(absl::StrCat("ORCH_TEST_CRI_ENDPOINT is ", endpoint,
                                                          " but there is no socket at ", path));
      }
    }
    return fixture;
  }
  if (absl::Status status = fixture->StartPrivate(options); !status.ok()) {
    fixture->Stop().IgnoreError();  // the status that matters is why it did not start
    return status;
  }
  return fixture;
}

ContainerdFixture::~ContainerdFixture() { Stop().IgnoreError(); }

absl::Status ContainerdFixture::StartPrivate(const ContainerdFixtureOptions& options) {
  ORCH_RETURN_IF_ERROR(CheckPrerequisites());
  const std::string image_dir = ImageDir(options);
  ORCH_RETURN_IF_ERROR(BuildImages(image_dir));

  ORCH_ASSIGN_OR_RETURN(dir_, MakeTempDir(options));
  socket_path_ = dir_ + "/containerd.sock";
  endpoint_ = "unix://" + socket_path_;
  log_path_ = dir_ + "/containerd.log";
  for (const char* sub : {"root", "state", "opt", "runc", "net.d", "cni-ipam", "varlib/cni"}) {
    std::error_code error;
    if (!fs::create_directories(absl::StrCat(dir_, "/", sub), error) && error) {
      return absl::InternalError(
          absl::StrCat("cannot create ", dir_, "/", sub, ": ", error.message()));
    }
  }

  ORCH_ASSIGN_OR_RETURN(SubnetLease lease, JoinHost());
  subnet_octet_ = lease.octet;
  subnet_lock_fd_ = lease.lock_fd;
  subnet_ = absl::StrFormat("10.88.%d.0/24", subnet_octet_);
  bridge_name_ = NewBridgeName();

  ORCH_RETURN_IF_ERROR(WriteConfig());
  ORCH_RETURN_IF_ERROR(SpawnContainerd());
  ORCH_RETURN_IF_ERROR(WaitForSocket(options.socket_timeout));
  return ImportImages(image_dir);
}

absl::Status ContainerdFixture::WriteConfig() const {
  // Every path containerd writes to is under dir_, so instances never share state.
  // restrict_oom_score_adj is required where root lacks CAP_SYS_RESOURCE (containers,
  // CI): runc cannot give the sandbox oom_score_adj -998, and every RunPodSandbox fails
  // with "can't get final child's PID from pipe: EOF".
  const std::string config = absl::StrFormat(R"(version = 2
root = "%1$s/root"
state = "%1$s/state"

[grpc]
  address = "%2$s"

[plugins."io.containerd.internal.v1.opt"]
  path = "%1$s/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "%3$s"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "%4$s"
    conf_dir = "%1$s/net.d"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "%1$s/runc"
)",
                                             dir_, socket_path_, kPauseImage, kCniBinDir);
  ORCH_RETURN_IF_ERROR(WriteFile(dir_ + "/config.toml", config));

  // The bridge plugin creates the bridge, gives it .1 and, as isGateway, turns on
  // ip_forward; host-local hands out the rest of the subnet and keeps its records here.
  const std::string conflist = absl::StrFormat(
      R"({"cniVersion": "1.0.0", "name": "orch-test", "plugins": [{
  "type": "bridge", "bridge": "%s", "isGateway": true, "ipMasq": false, "hairpinMode": true,
  "ipam": {"type": "host-local", "ranges": [[{"subnet": "%s"}]],
           "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "%s/cni-ipam"}}]}
)",
      bridge_name_, subnet_, dir_);
  return WriteFile(dir_ + "/net.d/10-orch-test.conflist", conflist);
}

absl::Status ContainerdFixture::SpawnContainerd() {
  const int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    return absl::InternalError(
        absl::StrCat("cannot create ", log_path_, ": ", std::strerror(errno)));
  }
  // In a private mount namespace, dir_/varlib is bound over /var/lib: libcni caches there,
  // and every mount containerd and its shims make (rootfs, netns) stays in that namespace,
  // gone when its last process is. unshare and sh exec, so the pid is containerd's.
  const std::vector<std::string> args = {
      "unshare",
      "-m",
      "--propagation",
      "private",
      "sh",
      "-c",
      "mount --bind \"$1\" /var/lib && exec \"$2\" --config \"$3\"",
      "sh",
      dir_ + "/varlib",
      FindProgram("containerd"),
      dir_ + "/config.toml"};
  absl::StatusOr<pid_t> pid =
      Spawn(args, {.output_fd = log_fd, .new_session = true, .die_with_parent = true});
  ::close(log_fd);
  if (!pid.ok()) return pid.status();
  pid_ = *pid;
  return absl::OkStatus();
}

absl::Status ContainerdFixture::WaitForSocket(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    int status = 0;
    if (WaitPid(pid_, &status, WNOHANG) == pid_) {
      pid_ = 0;
      return absl::InternalError(absl::StrCat("containerd exited (", DescribeExit(status),
                                              ") before it opened its socket; its log:\n",
                                              LogTail()));
    }
    struct stat info {};
    if (::stat(socket_path_.c_str(), &info) == 0 && S_ISSOCK(info.st_mode)) return absl::OkStatus();
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("containerd did not open its socket within ",
                                                      absl::FormatDuration(timeout), "; its log:\n",
                                                      LogTail()));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
}

absl::Status ContainerdFixture::ImportImages(const std::string& image_dir) const {
  const std::pair<std::string, std::string> images[] = {{"pause", kPauseImage},
                                                        {"busybox", kBusyboxImage}};
  for (const auto& [file, name] : images) {
    // The tar's only reference is the tag; --base-name makes it localhost/<file>:<tag>.
    const std::vector<std::string> args = {"ctr",
                                           "-a",
                                           socket_path_,
                                           "-n",
                                           kNamespace,
                                           "images",
                                           "import",
                                           "--base-name",
                                           absl::StrCat("localhost/", file),
                                           absl::StrCat(image_dir, "/", file, ".tar")};
    ORCH_ASSIGN_OR_RETURN(CommandResult result, Run(args, absl::Minutes(2)));
    if (!result.ok()) {
      return absl::InternalError(
          absl::StrCat(DescribeFailure(args, result), "\ncontainerd's log:\n", LogTail()));
    }
  }
  const std::vector<std::string> list = {"ctr",      "-a",     socket_path_, "-n",
                                         kNamespace, "images", "ls",         "-q"};
  ORCH_ASSIGN_OR_RETURN(CommandResult listed, Run(list, absl::Minutes(1)));
  if (!listed.ok()) return absl::InternalError(DescribeFailure(list, listed));
  std::vector<std::string> names = absl::StrSplit(listed.output, '\n', absl::SkipWhitespace());
  for (const auto& [file, name] : images) {
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      return absl::InternalError(
          absl::StrCat("containerd does not list ", name,
                       " after importing it; it lists: ", absl::StrJoin(names, ", ")));
    }
  }
  return absl::OkStatus();
}

std::string ContainerdFixture::LogTail(int lines) const {
  if (log_path_.empty()) return "";
  std::optional<std::string> log = ReadFile(log_path_);
  if (!log) return absl::StrCat("(cannot read ", log_path_, ")");
  return log->empty() ? "(empty)" : Tail(*log, lines);
}

// ---------------------------------------------------------------------------------------
// Stop

absl::Status ContainerdFixture::Stop() {
  if (stopped_ || external_) {
    stopped_ = true;
    return absl::OkStatus();
  }
  stopped_ = true;
  absl::Status first_error;
  auto keep = [&first_error](absl::Status status) {
    if (first_error.ok()) first_error = std::move(status);
  };
  // While containerd runs, it is asked to delete every task: each shim then kills its
  // container, unmounts it, removes its cgroup and socket, and exits. The steps after
  // StopContainerd catch what an orderly stop could not (containerd crashed or hung, a
  // shim did not answer).
  if (pid_ > 0) RemoveTasks();
  StopContainerd();
  if (!dir_.empty()) {
    DeleteRuncContainers();
    keep(KillLeftoverProcesses());
    RemoveShimSockets();
    keep(UnmountUnderDir());
  }
  keep(DeleteBridge());
  if (subnet_lock_fd_ >= 0) {
    keep(LeaveHost(subnet_lock_fd_));
    subnet_lock_fd_ = -1;
  }
  if (!dir_.empty()) {
    std::error_code error;
    fs::remove_all(dir_, error);
    if (error) {
      keep(absl::InternalError(absl::StrCat("cannot remove ", dir_, ": ", error.message())));
    }
  }
  return first_error;
}

void ContainerdFixture::RemoveTasks() const {
  const absl::Duration timeout = absl::Seconds(30);
  auto ctr = [this](std::vector<std::string> args) {
    args.insert(args.begin(), {"ctr", "-a", socket_path_});
    return args;
  };
  absl::StatusOr<CommandResult> namespaces = Run(ctr({"namespaces", "ls", "-q"}), timeout);
  if (!namespaces.ok() || !namespaces->ok()) return;
  for (absl::string_view ns : absl::StrSplit(namespaces->output, '\n', absl::SkipWhitespace())) {
    absl::StatusOr<CommandResult> tasks =
        Run(ctr({"-n", std::string(ns), "tasks", "ls", "-q"}), timeout);
    if (!tasks.ok() || !tasks->ok()) continue;
    for (absl::string_view id : absl::StrSplit(tasks->output, '\n', absl::SkipWhitespace())) {
      // -f: SIGKILL first if it runs. A failure here is left to the steps that follow.
      Run(ctr({"-n", std::string(ns), "tasks", "rm", "-f", std::string(id)}), timeout)
          .IgnoreError();
    }
  }
}

void ContainerdFixture::StopContainerd() {
  if (pid_ <= 0) return;
  const pid_t pid = pid_;
  pid_ = 0;
  ::kill(pid, SIGTERM);
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  int status = 0;
  while (absl::Now() < deadline) {
    const pid_t waited = WaitPid(pid, &status, WNOHANG);
    if (waited == pid || waited < 0) return;  // < 0: already reaped
    absl::SleepFor(absl::Milliseconds(20));
  }
  ::kill(pid, SIGKILL);
  WaitPid(pid, &status, 0);
}

// runc keeps a state directory per container under its root (runc/<namespace>/<id>);
// `runc delete --force` kills what still runs there and removes its cgroups. Only
// containers containerd could not delete are left by now.
void ContainerdFixture::DeleteRuncContainers() const {
  for (const std::string& ns : Subdirectories(runc_root())) {
    const std::string root = absl::StrCat(runc_root(), "/", ns);
    for (const std::string& id : Subdirectories(root)) {
      Run({"runc", "--root", root, "delete", "--force", id}, absl::Seconds(20)).IgnoreError();
    }
  }
}

absl::Status ContainerdFixture::KillLeftoverProcesses() const {
  std::set<pid_t> left;
  for (int round = 0; round < 3; ++round) {
    left = ProcessesUnder(dir_);
    if (left.empty()) return absl::OkStatus();
    for (pid_t pid : left) ::kill(pid, SIGKILL);
    const absl::Time deadline = absl::Now() + absl::Seconds(5);
    while (absl::Now() < deadline &&
           std::any_of(left.begin(), left.end(), [](pid_t pid) { return Running(pid); })) {
      absl::SleepFor(absl::Milliseconds(20));
    }
  }
  left = ProcessesUnder(dir_);
  if (left.empty()) return absl::OkStatus();
  return absl::InternalError(
      absl::StrCat("processes under ", dir_, " survive SIGKILL: ", absl::StrJoin(left, " ")));
}

// A shim that was killed rather than shut down leaves its socket in kShimSocketDir, named
// (containerd 1.6, runtime/v2/shim/util_unix.go) by the sha256 of
// "<containerd socket>/<namespace>/<id>". Its bundle, state/io.containerd.runtime.v2.task/
// <namespace>/<id>, is still there to say which.
void ContainerdFixture::RemoveShimSockets() const {
  const std::string tasks = dir_ + "/state/io.containerd.runtime.v2.task";
  const std::string key_file = dir_ + "/shim-socket-key";
  for (const std::string& ns : Subdirectories(tasks)) {
    for (const std::string& id : Subdirectories(absl::StrCat(tasks, "/", ns))) {
      if (!WriteFile(key_file, absl::StrCat(socket_path_, "/", ns, "/", id)).ok()) continue;
      absl::StatusOr<CommandResult> hash = Run({"sha256sum", key_file}, absl::Seconds(10));
      if (!hash.ok() || !hash->ok() || hash->output.size() < 64) continue;
      ::unlink(absl::StrCat(kShimSocketDir, "/", hash->output.substr(0, 64)).c_str());
    }
  }
}

absl::Status ContainerdFixture::UnmountUnderDir() const {
  std::optional<std::string> mountinfo = ReadFile("/proc/self/mountinfo");
  if (!mountinfo) return absl::InternalError("cannot read /proc/self/mountinfo");
  std::vector<std::string> mounts;
  for (absl::string_view line : absl::StrSplit(*mountinfo, '\n', absl::SkipEmpty())) {
    // Field 5 is the mount point.
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ');
    if (fields.size() < 5) continue;
    const std::string point = UnescapeMountPoint(fields[4]);
    if (point == dir_ || absl::StartsWith(point, dir_ + "/")) mounts.push_back(point);
  }
  // Deepest first, each detached so a busy one cannot block the rest.
  std::sort(mounts.begin(), mounts.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  absl::Status first_error;
  for (const std::string& point : mounts) {
    if (::umount2(point.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT &&
        first_error.ok()) {
      first_error = absl::InternalError(absl::StrCat("umount ", point, ": ", std::strerror(errno)));
    }
  }
  return first_error;
}

absl::Status ContainerdFixture::DeleteBridge() const {
  if (bridge_name_.empty() || !Exists("/sys/class/net/" + bridge_name_)) return absl::OkStatus();
  const std::vector<std::string> args = {"ip", "link", "del", bridge_name_};
  ORCH_ASSIGN_OR_RETURN(CommandResult result, Run(args, absl::Seconds(20)));
  if (!result.ok() && Exists("/sys/class/net/" + bridge_name_)) {
    return absl::InternalError(DescribeFailure(args, result));
  }
  return absl::OkStatus();
}

}  // namespace orch::testing
