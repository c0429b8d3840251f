#include "support/etcd_fixture.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/curl.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "orch/base/status.h"
#include "support/process.h"

extern char** environ;

namespace orch::testing {
namespace {

namespace fs = std::filesystem;

// Lock files that reserve ports between every cluster on the machine (see LockPort).
constexpr char kLockDir[] = "/tmp/orch-etcd-fixture";
// The lowest port a cluster takes: below it live the well-known and registered services
// a developer machine tends to run.
constexpr int kLowestPort = 10000;
// How long a stopping member may take to shut down after SIGTERM before SIGKILL.
constexpr absl::Duration kStopGrace = absl::Seconds(5);
// How long a leader whose peers have all stopped may take to count them as gone.
constexpr absl::Duration kPeerLossTimeout = absl::Seconds(2);
// How long SIGSTOP and SIGCONT may take to show (they take microseconds).
constexpr absl::Duration kSignalTimeout = absl::Seconds(5);
// The longest a single request to a member may take while the fixture waits for health
// or asks for the leader; a member that takes longer is asked again. While it waits for
// a member to serve, the first requests get less: a member accepts connections on its
// ports before it serves them, and a request that came too early may never get an answer.
constexpr absl::Duration kFirstProbeTimeout = absl::Milliseconds(250);
constexpr absl::Duration kProbeTimeout = absl::Seconds(2);
constexpr absl::Duration kPollInterval = absl::Milliseconds(10);
// The key the health check reads (linearizably; it need not exist).
constexpr char kHealthKey[] = "orch-etcd-fixture-health";

// ---------------------------------------------------------------------------------------
// Child processes (support/process.h spawns and reaps them)

// Waits up to `timeout` for `pid` to report the change `flag` asks for (WUNTRACED: it has
// stopped; WCONTINUED: it has continued) or to exit. Its wait status, or nullopt on timeout.
std::optional<int> WaitForChange(pid_t pid, int flag, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t waited = WaitPid(pid, &status, flag | WNOHANG);
    if (waited == pid) return status;
    if (waited < 0) return 0;  // reaped elsewhere (SIGCHLD ignored): as if it exited
    if (absl::Now() > deadline) return std::nullopt;
    absl::SleepFor(absl::Milliseconds(1));
  }
}

// ---------------------------------------------------------------------------------------
// Ports. A member's ports must stay its own while it is down (Kill, then Restart), and
// clusters of parallel test programs must not pick the same ones. So ports come from below
// the ephemeral range, where the kernel never puts the local end of an outgoing connection,
// and each is reserved by a lock file that only clusters look at: flock on
// <kLockDir>/port-<P>.lock, dropped by the kernel when the holder dies. The holder removes
// the file while it still holds the lock; whoever opened the file before that and gets the
// lock after sees that the path no longer names the file it locked, and takes another port.

struct PortRange {
  int first;
  int last;
};

PortRange UsablePorts() {
  int ephemeral_first = 32768, ephemeral_last = 60999;  // Linux's defaults
  if (std::optional<std::string> range = ReadFile("/proc/sys/net/ipv4/ip_local_port_range")) {
    std::vector<absl::string_view> fields =
        absl::StrSplit(*range, absl::ByAnyChar(" \t\n"), absl::SkipEmpty());
    int first = 0, last = 0;
    if (fields.size() == 2 && absl::SimpleAtoi(fields[0], &first) &&
        absl::SimpleAtoi(fields[1], &last)) {
      ephemeral_first = first;
      ephemeral_last = last;
    }
  }
  if (ephemeral_first - kLowestPort >= 1000) return {kLowestPort, ephemeral_first - 1};
  if (65535 - ephemeral_last >= 1000) return {ephemeral_last + 1, 65535};
  return {kLowestPort, 65535};  // the ephemeral range is almost everything: take what binds
}

std::string PortLockPath(int port) { return absl::StrFormat("%s/port-%d.lock", kLockDir, port); }

// The descriptor holding the lock on `port`, or -1 when another cluster holds it.
int LockPort(int port) {
  if (::mkdir(kLockDir, 0777) == 0) ::chmod(kLockDir, 01777);  // any user's tests may share it
  const std::string path = PortLockPath(port);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  struct stat locked {};
  struct stat named {};
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0 || ::fstat(fd, &locked) != 0 ||
      ::stat(path.c_str(), &named) != 0 || locked.st_ino != named.st_ino ||
      locked.st_dev != named.st_dev) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void UnlockPort(int port, int fd) {
  if (fd < 0) return;
  ::unlink(PortLockPath(port).c_str());
  ::close(fd);
}

// Whether a listener could bind 127.0.0.1:`port` now. SO_REUSEADDR as Go's net.Listen
// sets it: a connection of an earlier member in TIME_WAIT does not keep a port taken.
bool CanBind(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return bound;
}

struct HeldPort {
  int port = 0;
  int lock_fd = -1;
};

// `count` ports that bind now and that no other cluster holds, each locked.
absl::StatusOr<std::vector<HeldPort>> AcquirePorts(int count) {
  const PortRange range = UsablePorts();
  const int size = range.last - range.first + 1;
  std::random_device random;
  const int start = static_cast<int>(random() % static_cast<unsigned>(size));
  std::vector<HeldPort> held;
  for (int i = 0; i < size && static_cast<int>(held.size()) < count; ++i) {
    const int port = range.first + (start + i) % size;
    const int fd = LockPort(port);
    if (fd < 0) continue;
    if (!CanBind(port)) {
      UnlockPort(port, fd);
      continue;
    }
    held.push_back({port, fd});
  }
  if (static_cast<int>(held.size()) == count) return held;
  for (const HeldPort& port : held) UnlockPort(port.port, port.lock_fd);
  return absl::UnavailableError(
      absl::StrFormat("no %d ports free on 127.0.0.1 in %d-%d: each is in use or held by another "
                      "cluster (lock files in %s)",
                      count, range.first, range.last, kLockDir));
}

// ---------------------------------------------------------------------------------------
// etcd's gRPC JSON gateway, over libcurl

size_t AppendTo(char* data, size_t size, size_t count, void* body) {
  static_cast<std::string*>(body)->append(data, size * count);
  return size * count;
}

struct HttpAnswer {
  long code = 0;
  std::string body;
};

// POSTs `json` to `url`, or GETs `url` when `json` is null. kUnavailable when no answer
// comes within `timeout`; any HTTP answer, error or not, is an HttpAnswer.
absl::StatusOr<HttpAnswer> Http(const EtcdTlsFiles& tls, const std::string& url,
                                const std::string* json, absl::Duration timeout) {
  internal::InitCurlOnce();
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(
      curl_slist_append(nullptr, "Content-Type: application/json"), curl_slist_free_all);
  if (curl == nullptr || headers == nullptr) return absl::InternalError("curl_easy_init failed");
  HttpAnswer answer;
  char error[CURL_ERROR_SIZE] = "";
  CURL* handle = curl.get();
  curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
  curl_easy_setopt(handle, CURLOPT_PROXY, "");  // never through a proxy from the environment
  curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
  if (!tls.ca_file.empty()) {
    curl_easy_setopt(handle, CURLOPT_CAINFO, tls.ca_file.c_str());
    curl_easy_setopt(handle, CURLOPT_SSLCERT, tls.cert_file.c_str());
    curl_easy_setopt(handle, CURLOPT_SSLKEY, tls.key_file.c_str());
  }
  if (json != nullptr) {
    curl_easy_setopt(handle, CURLOPT_POST, 1L);
    curl_easy_setopt(handle, CURLOPT_POSTFIELDS, json->c_str());
    curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE, static_cast<long>(json->size()));
    curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers.get());
  }
  curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(std::max<int64_t>(1, absl::ToInt64Milliseconds(timeout))));
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, AppendTo);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &answer.body);
  curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, error);
  const CURLcode result = curl_easy_perform(handle);
  if (result != CURLE_OK) {
    return absl::UnavailableError(
        absl::StrCat(json != nullptr ? "POST " : "GET ", url, ": ",
                     error[0] != '\0' ? error : curl_easy_strerror(result)));
  }
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &answer.code);
  return answer;
}

// POSTs `json` to `url`; the body of a 200 answer.
absl::StatusOr<std::string> PostJson(const EtcdTlsFiles& tls, const std::string& url,
                                     const std::string& json, absl::Duration timeout) {
  ORCH_ASSIGN_OR_RETURN(HttpAnswer answer, Http(tls, url, &json, timeout));
  if (answer.code == 200) return std::move(answer.body);
  std::string message =
      absl::StrCat("POST ", url, ": HTTP ", answer.code, ": ", Tail(answer.body, 3));
  // A request etcd cannot parse or serve as asked will not do better when repeated.
  if (answer.code >= 400 && answer.code < 500 && answer.code != 408 && answer.code != 429) {
    return absl::InvalidArgumentError(message);
  }
  return absl::UnavailableError(message);
}

// A number at `path` in `object`; 0 when absent (the gateway leaves out zeros). The
// gateway writes 64-bit numbers as strings.
uint64_t NumberAt(const google::protobuf::Struct& object, std::vector<std::string> path) {
  const google::protobuf::Struct* current = &object;
  for (size_t i = 0; i < path.size(); ++i) {
    auto field = current->fields().find(path[i]);
    if (field == current->fields().end()) return 0;
    const google::protobuf::Value& value = field->second;
    if (i + 1 < path.size()) {
      if (!value.has_struct_value()) return 0;
      current = &value.struct_value();
      continue;
    }
    uint64_t number = 0;
    if (value.has_string_value() && absl::SimpleAtoi(value.string_value(), &number)) return number;
    if (value.has_number_value() && value.number_value() >= 0) {
      return static_cast<uint64_t>(value.number_value());
    }
  }
  return 0;
}

struct RaftStatus {
  uint64_t member_id = 0;  // of the member that answered
  uint64_t leader = 0;     // 0: it knows of none
  uint64_t term = 0;
};

absl::StatusOr<RaftStatus> StatusAt(const EtcdTlsFiles& tls, const std::string& client_url,
                                     absl::Duration timeout) {
  ORCH_ASSIGN_OR_RETURN(std::string body,
                        PostJson(tls, client_url + "/v3/maintenance/status", "{}", timeout));
  google::protobuf::Struct parsed;
  if (!google::protobuf::util::JsonStringToMessage(body, &parsed).ok()) {
    return absl::InternalError(
        absl::StrCat(client_url, "/v3/maintenance/status answered what is not JSON: ", body));
  }
  RaftStatus status{.member_id = NumberAt(parsed, {"header", "member_id"}),
                    .leader = NumberAt(parsed, {"leader"}),
                    .term = NumberAt(parsed, {"raftTerm"})};
  if (status.member_id == 0) {
    return absl::InternalError(
        absl::StrCat(client_url, "/v3/maintenance/status names no member: ", body));
  }
  return status;
}

// A member is healthy when it knows a leader and serves a linearizable read: that read
// goes through the leader (ReadIndex), which needs a quorum, and waits until the member
// has applied everything committed before it. Returns the member's id.
absl::StatusOr<uint64_t> CheckHealthAt(const EtcdTlsFiles& tls, const std::string& client_url,
                                       absl::Duration timeout) {
  ORCH_ASSIGN_OR_RETURN(RaftStatus status, StatusAt(tls, client_url, timeout));
  if (status.leader == 0) return absl::UnavailableError("it knows no leader");
  const std::string read = absl::StrCat(R"({"key":")", absl::Base64Escape(kHealthKey), R"("})");
  ORCH_RETURN_IF_ERROR(PostJson(tls, client_url + "/v3/kv/range", read, timeout).status());
  return status.member_id;
}

// How many peers the member at `client_url` counts as active (connected), from its
// metrics: etcd_network_active_peers{Local="..",Remote=".."} is 1 for each.
absl::StatusOr<int> ActivePeers(const EtcdTlsFiles& tls, const std::string& client_url,
                                absl::Duration timeout) {
  ORCH_ASSIGN_OR_RETURN(HttpAnswer answer, Http(tls, client_url + "/metrics", nullptr, timeout));
  if (answer.code != 200) {
    return absl::UnavailableError(absl::StrCat("GET ", client_url, "/metrics: HTTP ", answer.code));
  }
  int active = 0;
  for (absl::string_view line : absl::StrSplit(answer.body, '\n')) {
    if (!absl::StartsWith(line, "etcd_network_active_peers{")) continue;
    double value = 0;
    if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &value) && value > 0) ++active;
  }
  return active;
}

// Waits until the member at `client_url` counts no peer as active, or until `deadline`.
// Its peers have stopped; it notices when it next fails to reach one, within milliseconds.
void WaitUntilNoActivePeers(const EtcdTlsFiles& tls, const std::string& client_url,
                            absl::Time deadline) {
  while (absl::Now() < deadline) {
    absl::StatusOr<int> active = ActivePeers(tls, client_url, kProbeTimeout);
    if (!active.ok() || *active == 0) return;
    absl::SleepFor(absl::Milliseconds(5));
  }
}

// ---------------------------------------------------------------------------------------
// Start's pieces

absl::Status ValidateOptions(const EtcdClusterOptions& options) {
  if (options.members < 1 || options.members > 7) {
    return absl::InvalidArgumentError(
        absl::StrCat("members: ", options.members, " is not between 1 and 7"));
  }
  const int64_t heartbeat_ms = absl::ToInt64Milliseconds(options.heartbeat_interval);
  const int64_t election_ms = absl::ToInt64Milliseconds(options.election_timeout);
  if (heartbeat_ms < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("heartbeat_interval: ", absl::FormatDuration(options.heartbeat_interval),
                     " is less than 1ms"));
  }
  // etcd's own limits (etcdmain/config.go, embed/config.go).
  if (election_ms < 5 * heartbeat_ms || election_ms > 50000) {
    return absl::InvalidArgumentError(
        absl::StrCat("election_timeout: ", absl::FormatDuration(options.election_timeout),
                     " is not between 5 heartbeat intervals (",
                     absl::FormatDuration(5 * options.heartbeat_interval), ") and 50s"));
  }
  const char* const levels[] = {"debug", "info", "warn", "error"};
  if (std::find(std::begin(levels), std::end(levels), options.log_level) == std::end(levels)) {
    return absl::InvalidArgumentError(
        absl::StrCat("log_level: \"", options.log_level, "\" is not debug, info, warn or error"));
  }
  return absl::OkStatus();
}

// The path of the etcd to run, once it has said it is 3.4 or later.
absl::StatusOr<std::string> FindEtcd(const std::string& program) {
  const std::string path = FindProgram(program);
  if (path.empty()) {
    const char* search = std::getenv("PATH");
    return absl::FailedPreconditionError(absl::StrCat(
        "etcd is not installed: no program ", program, " on PATH (",
        search != nullptr ? search : "", "); scripts/install-deps.sh installs it (etcd-server)"));
  }
  ORCH_ASSIGN_OR_RETURN(CommandResult result,
                        Run({path, "--version"}, absl::Seconds(20)));
  if (result.exit_code != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("etcd does not run: ", path, " --version failed (exit code ", result.exit_code,
                     "): ", Tail(result.output, 5)));
  }
  // "etcd Version: 3.4.23\nGit SHA: ..."
  int major = 0, minor = 0;
  const size_t at = result.output.find("etcd Version: ");
  std::vector<absl::string_view> numbers;
  if (at != std::string::npos) {
    const std::string rest = result.output.substr(at + std::strlen("etcd Version: "));
    const std::string version = rest.substr(0, rest.find_first_of(" \n"));
    numbers = absl::StrSplit(version, '.');
    if (numbers.size() < 2 || !absl::SimpleAtoi(numbers[0], &major) ||
        !absl::SimpleAtoi(numbers[1], &minor)) {
      major = 0;
    }
  }
  if (major == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " --version names no etcd version: ", Tail(result.output, 5)));
  }
  if (major < 3 || (major == 3 && minor < 4)) {
    return absl::FailedPreconditionError(
        absl::StrFormat("%s is etcd %d.%d; the fixture needs 3.4 or later (its /v3 JSON gateway)",
                        path, major, minor));
  }
  return path;
}

// ---------------------------------------------------------------------------------------
// The cluster's directory. A test program that dies without Stop (a crash, a timeout's
// SIGKILL, a cluster never destroyed) leaves it behind, and etcd preallocates 64 MB of
// log per member in it. So each live cluster holds a lock on <dir>/owner.lock, and every
// Start first removes the directories of clusters whose owner is gone.

constexpr char kDirPrefix[] = "orch-etcd-";
constexpr char kOwnerLock[] = "owner.lock";

std::string DirParent(const std::string& parent) {
  std::error_code error;
  return parent.empty() ? "/tmp" : fs::absolute(parent, error).string();
}

// Makes the cluster's directory and locks it as this process's: the path and the lock.
absl::StatusOr<std::pair<std::string, int>> MakeClusterDir(const std::string& parent) {
  std::string dir = absl::StrCat(parent, "/", kDirPrefix, "XXXXXX");
  if (::mkdtemp(dir.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp ", dir, ": ", std::strerror(errno)));
  }
  // Locked before it has its name, so that no one finds the lock and takes it first.
  const std::string unnamed = absl::StrCat(dir, "/", kOwnerLock, ".new");
  const int fd = ::open(unnamed.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0 || ::flock(fd, LOCK_EX) != 0 ||
      ::rename(unnamed.c_str(), absl::StrCat(dir, "/", kOwnerLock).c_str()) != 0) {
    const std::string message =
        absl::StrCat("cannot lock ", dir, "/", kOwnerLock, ": ", std::strerror(errno));
    if (fd >= 0) ::close(fd);
    std::error_code ignored;
    fs::remove_all(dir, ignored);
    return absl::InternalError(message);
  }
  return std::make_pair(dir, fd);
}

// Removes every cluster directory in `parent` whose owner is gone, and the port lock files
// no one holds.
void RemoveAbandonedClusters(const std::string& parent) {
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(parent, error)) {
    const std::string name = entry.path().filename().string();
    // mkdtemp's names only: orch-etcd-XXXXXX.
    if (!absl::StartsWith(name, kDirPrefix) || name.size() != std::strlen(kDirPrefix) + 6 ||
        !entry.is_directory(error)) {
      continue;
    }
    const std::string lock = absl::StrCat(entry.path().string(), "/", kOwnerLock);
    const int fd = ::open(lock.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      // No lock: made a moment ago and about to be locked, or older than the lock is.
      const auto age = fs::file_time_type::clock::now() - entry.last_write_time(error);
      if (!error && age > std::chrono::minutes(10)) fs::remove_all(entry.path(), error);
      continue;
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) fs::remove_all(entry.path(), error);
    ::close(fd);
  }
  for (const auto& entry : fs::directory_iterator(kLockDir, error)) {
    int port = 0;
    const std::string file = entry.path().filename().string();
    absl::string_view name = file;
    if (!absl::ConsumePrefix(&name, "port-") || !absl::ConsumeSuffix(&name, ".lock") ||
        !absl::SimpleAtoi(name, &port)) {
      continue;
    }
    const int fd = LockPort(port);
    if (fd >= 0) UnlockPort(port, fd);
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------
// EtcdCluster

absl::StatusOr<std::unique_ptr<EtcdCluster>> EtcdCluster::Start(EtcdClusterOptions options) {
  ORCH_RETURN_IF_ERROR(ValidateOptions(options));
  std::unique_ptr<EtcdCluster> cluster(new EtcdCluster(std::move(options)));
  if (absl::Status status = cluster->StartNew(); !status.ok()) {
    cluster->Stop().IgnoreError();  // the status that matters is why it did not start
    return status;
  }
  return cluster;
}

EtcdCluster::~EtcdCluster() { Stop().IgnoreError(); }

absl::Status EtcdCluster::StartNew() {
  ORCH_ASSIGN_OR_RETURN(options_.etcd, FindEtcd(options_.etcd));
  const std::string parent = DirParent(options_.dir);
  RemoveAbandonedClusters(parent);
  ORCH_ASSIGN_OR_RETURN(std::tie(dir_, owner_lock_fd_), MakeClusterDir(parent));
  std::random_device random;
  token_ = absl::StrFormat("%s-%08x", fs::path(dir_).filename().string(), random());
  if (options_.tls) ORCH_RETURN_IF_ERROR(MakeCertificates());
  ORCH_ASSIGN_OR_RETURN(std::vector<HeldPort> ports, AcquirePorts(2 * options_.members));
  std::vector<std::string> peers;
  for (int i = 0; i < options_.members; ++i) {
    Member member;
    member.name = absl::StrCat("m", i);
    member.client_port = ports[2 * i].port;
    member.client_lock_fd = ports[2 * i].lock_fd;
    member.peer_port = ports[2 * i + 1].port;
    member.peer_lock_fd = ports[2 * i + 1].lock_fd;
    member.data_dir = absl::StrCat(dir_, "/", member.name, ".etcd");
    member.log_path = absl::StrCat(dir_, "/", member.name, ".log");
    members_.push_back(std::move(member));
    peers.push_back(absl::StrCat(members_.back().name, "=", peer_url(i)));
  }
  initial_cluster_ = absl::StrJoin(peers, ",");
  // One after another. A new member first asks every other one's peer port whether it has
  // been bootstrapped already, and gives each a second to answer; a member that listens
  // but does not serve yet (it is busy asking the same) costs that whole second. Started
  // once the one before serves its peers, none waits: the others refuse at once or answer.
  const absl::Time deadline = absl::Now() + options_.start_timeout;
  for (int i = 0; i < size(); ++i) {
    ORCH_RETURN_IF_ERROR(Spawn(i, "new"));
    if (i + 1 < size()) ORCH_RETURN_IF_ERROR(WaitServingPeers(i, deadline));
  }
  return WaitHealthy(AllMembers(), deadline);
}

absl::Status EtcdCluster::MakeCertificates() {
  const std::string openssl = FindProgram("openssl");
  if (openssl.empty()) {
    return absl::FailedPreconditionError(
        "a cluster with tls needs the openssl program, and it is not on PATH; "
        "scripts/install-deps.sh installs it (openssl)");
  }
  const std::string tls_dir = dir_ + "/tls";
  if (::mkdir(tls_dir.c_str(), 0700) != 0) {
    return absl::InternalError(absl::StrCat("mkdir ", tls_dir, ": ", std::strerror(errno)));
  }
  auto file = [&](const std::string& name) { return absl::StrCat(tls_dir, "/", name); };
  auto openssl_run = [&](std::vector<std::string> args) -> absl::Status {
    args.insert(args.begin(), openssl);
    ORCH_ASSIGN_OR_RETURN(CommandResult result, Run(args, absl::Seconds(30)));
    if (result.exit_code == 0) return absl::OkStatus();
    return absl::InternalError(absl::StrCat(absl::StrJoin(args, " "), " failed (exit code ",
                                            result.exit_code, "): ", Tail(result.output, 5)));
  };
  const std::vector<std::string> new_key = {"-newkey", "ec", "-pkeyopt",
                                            "ec_paramgen_curve:prime256v1", "-nodes"};
  // The CA, self-signed.
  std::vector<std::string> ca = {"req", "-x509", "-days", "1", "-subj", "/CN=orch etcd test CA",
                                 "-keyout", file("ca.key"), "-out", file("ca.crt")};
  ca.insert(ca.begin() + 1, new_key.begin(), new_key.end());
  ORCH_RETURN_IF_ERROR(openssl_run(ca));
  // A key and a certificate signed by the CA, for the members or for the client.
  auto leaf = [&](const std::string& name, const std::string& subject,
                  const std::string& extensions) -> absl::Status {
    const std::string ext_file = file(name + ".ext");
    ORCH_RETURN_IF_ERROR(WriteFile(ext_file, extensions));
    std::vector<std::string> request = {"req", "-subj", subject, "-keyout", file(name + ".key"),
                                        "-out", file(name + ".csr")};
    request.insert(request.begin() + 1, new_key.begin(), new_key.end());
    ORCH_RETURN_IF_ERROR(openssl_run(request));
    return openssl_run({"x509", "-req", "-days", "1", "-in", file(name + ".csr"), "-CA",
                        file("ca.crt"), "-CAkey", file("ca.key"), "-set_serial",
                        name == "server" ? "1" : "2", "-extfile", ext_file, "-out",
                        file(name + ".crt")});
  };
  ORCH_RETURN_IF_ERROR(leaf("server", "/CN=127.0.0.1",
                            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n"));
  ORCH_RETURN_IF_ERROR(leaf("client", "/CN=orch-test-client", "extendedKeyUsage=clientAuth\n"));
  server_cert_file_ = file("server.crt");
  server_key_file_ = file("server.key");
  tls_ = {.ca_file = file("ca.crt"), .cert_file = file("client.crt"), .key_file = file("client.key")};
  return absl::OkStatus();
}

absl::Status EtcdCluster::Spawn(int i, const char* initial_cluster_state) {
  Member& member = members_[i];
  const int log_fd =
      ::open(member.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    return absl::InternalError(
        absl::StrCat("cannot open ", member.log_path, ": ", std::strerror(errno)));
  }
  // A line of our own between runs, so a reader of the log sees where each begins.
  const std::string banner =
      absl::StrCat("--- orch etcd fixture: starting ", member.name, " (--initial-cluster-state ",
                   initial_cluster_state, ") at ", absl::FormatTime(absl::Now()), "\n");
  if (::write(log_fd, banner.data(), banner.size()) != static_cast<ssize_t>(banner.size())) {
    const int write_errno = errno;
    ::close(log_fd);
    return absl::InternalError(
        absl::StrCat("cannot write to ", member.log_path, ": ", std::strerror(write_errno)));
  }
  std::vector<std::string> args = {
      options_.etcd,
      absl::StrCat("--name=", member.name),
      absl::StrCat("--data-dir=", member.data_dir),
      absl::StrCat("--listen-client-urls=", client_url(i)),
      absl::StrCat("--advertise-client-urls=", client_url(i)),
      absl::StrCat("--listen-peer-urls=", peer_url(i)),
      absl::StrCat("--initial-advertise-peer-urls=", peer_url(i)),
      absl::StrCat("--initial-cluster=", initial_cluster_),
      absl::StrCat("--initial-cluster-state=", initial_cluster_state),
      absl::StrCat("--initial-cluster-token=", token_),
      absl::StrCat("--heartbeat-interval=", absl::ToInt64Milliseconds(options_.heartbeat_interval)),
      absl::StrCat("--election-timeout=", absl::ToInt64Milliseconds(options_.election_timeout)),
      "--logger=zap",
      "--log-outputs=stderr",  // into log_fd, with whatever the Go runtime writes on a crash
      absl::StrCat("--log-level=", options_.log_level)};
  if (options_.tls) {
    args.insert(args.end(), {absl::StrCat("--cert-file=", server_cert_file_),
                             absl::StrCat("--key-file=", server_key_file_),
                             absl::StrCat("--trusted-ca-file=", tls_.ca_file),
                             "--client-cert-auth"});
  }
  args.insert(args.end(), options_.extra_flags.begin(), options_.extra_flags.end());
  absl::StatusOr<pid_t> pid =
      orch::testing::Spawn(args, {.output_fd = log_fd,
                                  .new_session = true,
                                  .die_with_parent = true,
                                  .drop_env_prefix = "ETCD_"});
  ::close(log_fd);
  if (!pid.ok()) return Annotate(pid.status(), absl::StrCat("starting etcd member ", member.name));
  member.pid = *pid;
  member.frozen = false;
  return absl::OkStatus();
}

absl::Status EtcdCluster::CheckNotExited(int i) {
  Member& member = members_[i];
  int status = 0;
  if (member.pid <= 0 || WaitPid(member.pid, &status, WNOHANG) != member.pid) {
    return absl::OkStatus();
  }
  member.pid = 0;
  return absl::InternalError(absl::StrCat("etcd member ", member.name, " exited (",
                                          DescribeExit(status),
                                          ") before it was healthy; its log:\n", LogTail(i)));
}

absl::Status EtcdCluster::WaitServingPeers(int i, absl::Time deadline) {
  absl::Duration probe_timeout = kFirstProbeTimeout;
  std::string last_error = "not asked yet";
  for (;;) {
    ORCH_RETURN_IF_ERROR(CheckNotExited(i));
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(
          absl::StrCat("etcd member ", members_[i].name, " did not serve its peers within ",
                       absl::FormatDuration(options_.start_timeout), ": ", last_error,
                       "; its log:\n", LogTail(i)));
    }
    const absl::Duration timeout = std::min(left, probe_timeout);
    const absl::Time asked = absl::Now();
    // Any answer will do: it serves.
    absl::StatusOr<HttpAnswer> answer = Http(EtcdTlsFiles{}, peer_url(i) + "/version", nullptr, timeout);
    if (answer.ok()) return absl::OkStatus();
    last_error = std::string(answer.status().message());
    if (absl::Now() - asked >= timeout) {
      probe_timeout = std::min(2 * probe_timeout, kProbeTimeout);
    }
    absl::SleepFor(kPollInterval);
  }
}

absl::Status EtcdCluster::WaitHealthy(const std::vector<int>& members, absl::Time deadline) {
  std::vector<int> waiting = members;
  std::vector<std::string> last_error(members_.size(), "not asked yet");
  std::vector<absl::Duration> probe_timeout(members_.size(), kFirstProbeTimeout);
  for (;;) {
    for (int i : waiting) ORCH_RETURN_IF_ERROR(CheckNotExited(i));
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) break;
    std::vector<int> still_waiting;
    for (int i : waiting) {
      const absl::Duration timeout = std::min(left, probe_timeout[i]);
      const absl::Time asked = absl::Now();
      absl::StatusOr<uint64_t> id = CheckHealthAt(tls_, client_url(i), timeout);
      if (id.ok()) {
        members_[i].id = *id;
        continue;
      }
      last_error[i] = std::string(id.status().message());
      still_waiting.push_back(i);
      // Out of time rather than refused: maybe a slow machine, so the next try waits longer.
      if (absl::Now() - asked >= timeout) {
        probe_timeout[i] = std::min(2 * probe_timeout[i], kProbeTimeout);
      }
    }
    waiting = std::move(still_waiting);
    if (waiting.empty()) return absl::OkStatus();
    absl::SleepFor(kPollInterval);
  }
  std::vector<std::string> names, reports;
  for (int i : waiting) {
    names.push_back(members_[i].name);
    reports.push_back(
        absl::StrCat(members_[i].name, ": ", last_error[i], "; its log:\n", LogTail(i)));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("etcd member", names.size() > 1 ? "s " : " ", absl::StrJoin(names, ", "),
                   " not healthy within ", absl::FormatDuration(options_.start_timeout), "\n",
                   absl::StrJoin(reports, "\n")));
}

void EtcdCluster::ReapExited() {
  for (Member& member : members_) {
    if (member.pid <= 0) continue;
    int status = 0;
    const pid_t waited = WaitPid(member.pid, &status, WNOHANG);
    if (waited == member.pid || waited < 0) {  // < 0: reaped elsewhere (SIGCHLD ignored)
      member.pid = 0;
      member.frozen = false;
    }
  }
}

void EtcdCluster::StopMembers(const std::vector<int>& members, absl::Duration grace) {
  std::vector<int> running;
  for (int i : members) {
    Member& member = members_[i];
    if (member.pid <= 0) continue;
    if (member.frozen) ::kill(member.pid, SIGCONT);
    member.frozen = false;
    running.push_back(i);
  }
  // A leader asked to stop first hands its leadership to the peer it has been connected to
  // longest, and waits for that to happen: up to 5 s and two election timeouts when that
  // peer is stopping too. So it stops last, once it counts no peer as active any more, and
  // exits at once for want of anyone to hand over to.
  int leader = -1;
  if (running.size() > 1) {
    if (absl::StatusOr<int> found = Leader();
        found.ok() && std::find(running.begin(), running.end(), *found) != running.end()) {
      leader = *found;
      std::erase(running, leader);
    }
  }
  Terminate(running, absl::Now() + grace);
  if (leader < 0) return;
  const bool alone = std::all_of(members_.begin(), members_.end(), [&](const Member& member) {
    return &member == &members_[leader] || member.pid <= 0;
  });
  if (alone) WaitUntilNoActivePeers(tls_, client_url(leader), absl::Now() + kPeerLossTimeout);
  Terminate({leader}, absl::Now() + grace);
}

void EtcdCluster::Terminate(const std::vector<int>& members, absl::Time deadline) {
  for (int i : members) ::kill(members_[i].pid, SIGTERM);
  std::vector<int> stopping = members;
  while (!stopping.empty() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
    std::erase_if(stopping, [this](int i) {
      int status = 0;
      return WaitPid(members_[i].pid, &status, WNOHANG) != 0;  // exited, or reaped elsewhere
    });
  }
  for (int i : stopping) {
    ::kill(members_[i].pid, SIGKILL);
    int status = 0;
    WaitPid(members_[i].pid, &status, 0);
  }
  for (int i : members) members_[i].pid = 0;
}

std::vector<int> EtcdCluster::AllMembers() const {
  std::vector<int> all;
  for (int i = 0; i < size(); ++i) all.push_back(i);
  return all;
}

absl::Status EtcdCluster::Stop() {
  if (stopped_) return absl::OkStatus();
  stopped_ = true;
  StopMembers(AllMembers(), kStopGrace);
  for (Member& member : members_) {
    UnlockPort(member.client_port, member.client_lock_fd);
    UnlockPort(member.peer_port, member.peer_lock_fd);
    member.client_lock_fd = member.peer_lock_fd = -1;
  }
  if (dir_.empty()) return absl::OkStatus();
  std::error_code error;
  fs::remove_all(dir_, error);
  if (owner_lock_fd_ >= 0) ::close(owner_lock_fd_);  // after: no one else removes it
  owner_lock_fd_ = -1;
  if (error) {
    return absl::InternalError(absl::StrCat("cannot remove ", dir_, ": ", error.message()));
  }
  return absl::OkStatus();
}

// --- accessors --------------------------------------------------------------------------

const EtcdCluster::Member& EtcdCluster::member(int i) const {
  static const Member* const kNone = new Member();
  return i >= 0 && i < size() ? members_[i] : *kNone;
}

std::vector<std::string> EtcdCluster::endpoints() const {
  std::vector<std::string> all;
  for (int i = 0; i < size(); ++i) all.push_back(endpoint(i));
  return all;
}

std::string EtcdCluster::endpoint(int i) const {
  if (i < 0 || i >= size()) return "";
  return absl::StrCat("127.0.0.1:", members_[i].client_port);
}

std::string EtcdCluster::client_url(int i) const {
  if (i < 0 || i >= size()) return "";
  return (options_.tls ? "https://" : "http://") + endpoint(i);
}

std::string EtcdCluster::peer_url(int i) const {
  if (i < 0 || i >= size()) return "";
  return absl::StrCat("http://127.0.0.1:", members_[i].peer_port);
}

std::string EtcdCluster::LogTail(int i, int lines) const {
  if (i < 0 || i >= size()) return "";
  const std::string& path = members_[i].log_path;
  std::optional<std::string> log = ReadFile(path);
  if (!log) return absl::StrCat("(cannot read ", path, ")");
  const std::string tail = Tail(*log, lines);
  return tail.empty() ? "(empty)" : tail;
}

// --- faults -----------------------------------------------------------------------------

absl::Status EtcdCluster::CheckMember(int i) const {
  if (i < 0 || i >= size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no etcd member ", i, ": the cluster has ", size()));
  }
  if (stopped_) return absl::FailedPreconditionError("the etcd cluster is stopped");
  return absl::OkStatus();
}

absl::Status EtcdCluster::CheckRunning(int i) const {
  ORCH_RETURN_IF_ERROR(CheckMember(i));
  if (members_[i].pid <= 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("etcd member ", members_[i].name, " does not run (killed or stopped)"));
  }
  return absl::OkStatus();
}

absl::Status EtcdCluster::Kill(int i) {
  ReapExited();
  ORCH_RETURN_IF_ERROR(CheckRunning(i));
  Member& member = members_[i];
  ::kill(member.pid, SIGKILL);  // a stopped process dies of it too
  int status = 0;
  WaitPid(member.pid, &status, 0);
  member.pid = 0;
  member.frozen = false;
  return absl::OkStatus();
}

absl::Status EtcdCluster::Freeze(int i) {
  ReapExited();
  ORCH_RETURN_IF_ERROR(CheckRunning(i));
  Member& member = members_[i];
  if (member.frozen) return absl::OkStatus();
  ::kill(member.pid, SIGSTOP);
  // Returns once the kernel has stopped it, so the test's next step finds it frozen.
  const std::optional<int> status = WaitForChange(member.pid, WUNTRACED, kSignalTimeout);
  if (!status) {
    return absl::InternalError(absl::StrCat("etcd member ", member.name, " did not stop within ",
                                            absl::FormatDuration(kSignalTimeout), " of SIGSTOP"));
  }
  if (!WIFSTOPPED(*status)) {
    member.pid = 0;
    return absl::InternalError(absl::StrCat("etcd member ", member.name, " exited (",
                                            DescribeExit(*status), ") as it was frozen; its log:\n",
                                            LogTail(i)));
  }
  member.frozen = true;
  return absl::OkStatus();
}

absl::Status EtcdCluster::Thaw(int i) {
  ReapExited();
  ORCH_RETURN_IF_ERROR(CheckMember(i));
  Member& member = members_[i];
  if (!member.frozen) return absl::OkStatus();
  ::kill(member.pid, SIGCONT);
  const std::optional<int> status = WaitForChange(member.pid, WCONTINUED, kSignalTimeout);
  if (!status) {
    return absl::InternalError(absl::StrCat("etcd member ", member.name,
                                            " did not continue within ",
                                            absl::FormatDuration(kSignalTimeout), " of SIGCONT"));
  }
  member.frozen = false;
  if (!WIFCONTINUED(*status)) {
    member.pid = 0;
    return absl::InternalError(absl::StrCat("etcd member ", member.name, " exited (",
                                            DescribeExit(*status), ") as it was thawed; its log:\n",
                                            LogTail(i)));
  }
  return absl::OkStatus();
}

absl::Status EtcdCluster::Restart(int i) {
  ReapExited();
  ORCH_RETURN_IF_ERROR(CheckMember(i));
  StopMembers({i}, kStopGrace);
  ORCH_RETURN_IF_ERROR(Spawn(i, "existing"));
  return WaitHealthy({i}, absl::Now() + options_.start_timeout);
}

absl::Status EtcdCluster::StopAll() {
  if (stopped_) return absl::FailedPreconditionError("the etcd cluster is stopped");
  StopMembers(AllMembers(), kStopGrace);
  return absl::OkStatus();
}

absl::Status EtcdCluster::RestartAll() {
  ORCH_RETURN_IF_ERROR(StopAll());
  // Together this time: members with data ask no one whether they were bootstrapped.
  for (int i = 0; i < size(); ++i) ORCH_RETURN_IF_ERROR(Spawn(i, "existing"));
  return WaitHealthy(AllMembers(), absl::Now() + options_.start_timeout);
}

// --- raft state -------------------------------------------------------------------------

absl::StatusOr<int> EtcdCluster::Leader() const {
  int leader = -1;
  uint64_t leader_term = 0;
  std::vector<std::string> said;
  for (int i = 0; i < size(); ++i) {
    const Member& member = members_[i];
    if (member.pid <= 0 || member.frozen) {
      said.push_back(absl::StrCat(member.name, ": ", member.frozen ? "frozen" : "not running"));
      continue;
    }
    absl::StatusOr<RaftStatus> status = StatusAt(tls_, client_url(i), kProbeTimeout);
    if (!status.ok()) {
      said.push_back(absl::StrCat(member.name, ": ", status.status().message()));
    } else if (status->leader != status->member_id) {
      said.push_back(absl::StrFormat(
          "%s: follows %s in term %d", member.name,
          status->leader == 0 ? "no leader" : absl::StrCat(status->leader), status->term));
    } else if (leader < 0 || status->term > leader_term) {
      leader = i;
      leader_term = status->term;
    }
  }
  if (leader >= 0) return leader;
  return absl::UnavailableError(absl::StrCat("no etcd member leads: ", absl::StrJoin(said, "; ")));
}

absl::StatusOr<int> EtcdCluster::WaitForLeader(absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    absl::StatusOr<int> leader = Leader();
    if (leader.ok()) return leader;
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("no etcd leader within ",
                                                      absl::FormatDuration(timeout), ": ",
                                                      leader.status().message()));
    }
    absl::SleepFor(kPollInterval);
  }
}

absl::StatusOr<std::string> EtcdCluster::GatewayPost(int i, const std::string& path,
                                                     const std::string& json,
                                                     absl::Duration timeout) const {
  if (i < 0 || i >= size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no etcd member ", i, ": the cluster has ", size()));
  }
  return PostJson(tls_, client_url(i) + path, json, timeout);
}

}  // namespace orch::testing
