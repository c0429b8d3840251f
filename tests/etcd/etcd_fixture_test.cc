// EtcdCluster against the real etcd: clusters of one and three members that serve reads and
// writes, elect a new leader when theirs is killed or frozen, take a restarted member
// back, keep their data across a whole-cluster restart, and leave nothing behind. Reads
// and writes go through etcd's JSON gateway, as the fixture's own checks do. A machine
// without etcd (scripts/install-deps.sh installs etcd-server) skips, saying so.
#include "support/etcd_fixture.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "orch/base/status.h"
#include "support/process.h"
#include "support/status_matchers.h"

namespace orch::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;

// `arg`, what Get returned, is OK and holds `value`.
MATCHER_P(Holds, value, absl::StrCat("is OK and holds \"", value, "\"")) {
  if (!arg.ok()) {
    *result_listener << "status is " << arg.status();
    return false;
  }
  if (!arg->has_value()) {
    *result_listener << "holds no value";
    return false;
  }
  *result_listener << "holds \"" << **arg << "\"";
  return **arg == value;
}

// `arg`, what Get returned, is OK and holds no value: the key does not exist.
MATCHER(HoldsNothing, "is OK and holds no value") {
  if (!arg.ok()) {
    *result_listener << "status is " << arg.status();
    return false;
  }
  if (arg->has_value()) *result_listener << "holds \"" << **arg << "\"";
  return !arg->has_value();
}

// Starts a cluster with `options` into `lhs`, or skips the test when the machine cannot
// run etcd.
#define START_ETCD_OR_SKIP(lhs, options)                     \
  auto lhs##_started = EtcdCluster::Start(options);          \
  if (IsMissingEtcd(lhs##_started.status())) {               \
    GTEST_SKIP() << lhs##_started.status();                  \
  }                                                          \
  ASSERT_TRUE(lhs##_started.ok()) << lhs##_started.status(); \
  std::unique_ptr<EtcdCluster> lhs = std::move(lhs##_started).value()

EtcdClusterOptions Members(int members) {
  EtcdClusterOptions options;
  options.members = members;
  return options;
}

absl::StatusOr<google::protobuf::Struct> ParseJson(const std::string& json) {
  google::protobuf::Struct parsed;
  if (!google::protobuf::util::JsonStringToMessage(json, &parsed).ok()) {
    return absl::InternalError(absl::StrCat("not JSON: ", json));
  }
  return parsed;
}

absl::Status Put(const EtcdCluster& etcd, int member, const std::string& key,
                 const std::string& value) {
  return etcd
      .GatewayPost(member, "/v3/kv/put",
                   absl::StrCat(R"({"key":")", absl::Base64Escape(key), R"(","value":")",
                                absl::Base64Escape(value), R"("})"))
      .status();
}

// A linearizable read of `key` through `member`: its value, or nullopt when it has none.
absl::StatusOr<std::optional<std::string>> Get(const EtcdCluster& etcd, int member,
                                               const std::string& key,
                                               absl::Duration timeout = absl::Seconds(5)) {
  ORCH_ASSIGN_OR_RETURN(
      std::string body,
      etcd.GatewayPost(member, "/v3/kv/range",
                       absl::StrCat(R"({"key":")", absl::Base64Escape(key), R"("})"), timeout));
  ORCH_ASSIGN_OR_RETURN(google::protobuf::Struct response, ParseJson(body));
  auto kvs = response.fields().find("kvs");
  if (kvs == response.fields().end() || kvs->second.list_value().values().empty()) {
    return std::nullopt;
  }
  const auto& kv = kvs->second.list_value().values(0).struct_value().fields();
  auto value = kv.find("value");
  std::string decoded;
  if (value != kv.end() && !absl::Base64Unescape(value->second.string_value(), &decoded)) {
    return absl::InternalError(absl::StrCat("value is not base64: ", body));
  }
  return decoded;
}

// Get, asked again until it succeeds or `timeout` passes: for a member that has just come
// back and may still be catching up.
absl::StatusOr<std::optional<std::string>> EventuallyGet(const EtcdCluster& etcd, int member,
                                                         const std::string& key,
                                                         absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    absl::StatusOr<std::optional<std::string>> value = Get(etcd, member, key, absl::Seconds(1));
    if (value.ok() || absl::Now() > deadline) return value;
    absl::SleepFor(absl::Milliseconds(50));
  }
}

// The names in the cluster's member list, as `member` sees it, each with its client URL:
// "m0 http://127.0.0.1:P".
std::vector<std::string> MemberList(const EtcdCluster& etcd, int member) {
  absl::StatusOr<std::string> body = etcd.GatewayPost(member, "/v3/cluster/member/list", "{}");
  EXPECT_TRUE(body.ok()) << body.status();
  if (!body.ok()) return {};
  absl::StatusOr<google::protobuf::Struct> response = ParseJson(*body);
  EXPECT_TRUE(response.ok()) << response.status();
  if (!response.ok()) return {};
  std::vector<std::string> members;
  for (const auto& entry : response->fields().at("members").list_value().values()) {
    const auto& fields = entry.struct_value().fields();
    std::string url;
    if (auto urls = fields.find("clientURLs");
        urls != fields.end() && !urls->second.list_value().values().empty()) {
      url = urls->second.list_value().values(0).string_value();
    }
    members.push_back(absl::StrCat(fields.at("name").string_value(), " ", url));
  }
  return members;
}

// Whether `pid` is stopped (SIGSTOP).
bool Stopped(pid_t pid) { return ProcessState(pid) == 'T'; }

int PortOf(const std::string& endpoint) {
  int port = 0;
  EXPECT_TRUE(absl::SimpleAtoi(endpoint.substr(endpoint.rfind(':') + 1), &port)) << endpoint;
  return port;
}

bool CanListenOn(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
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

std::string PortLockFile(int port) {
  return absl::StrCat("/tmp/orch-etcd-fixture/port-", port, ".lock");
}

// A fresh directory to start clusters in, so a test can see that one left nothing there.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (fs::temp_directory_path() / "orch-etcd-fixture-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir() {
    std::error_code ignored;
    if (!path_.empty()) fs::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(EtcdClusterTest, OneMemberServesWritesAndStopLeavesNothing) {
  START_ETCD_OR_SKIP(etcd, Members(1));
  ASSERT_EQ(etcd->size(), 1);
  EXPECT_THAT(etcd->endpoints(), ElementsAre(etcd->endpoint(0)));
  EXPECT_THAT(etcd->endpoint(0), MatchesRegex("127\\.0\\.0\\.1:[0-9]+"));
  EXPECT_EQ(etcd->client_url(0), "http://" + etcd->endpoint(0));
  EXPECT_THAT(etcd->peer_url(0), MatchesRegex("http://127\\.0\\.0\\.1:[0-9]+"));
  EXPECT_EQ(etcd->name(0), "m0");
  EXPECT_THAT(etcd->dir(), StartsWith("/tmp/orch-etcd-"));
  EXPECT_THAT(etcd->data_dir(0), StartsWith(etcd->dir() + "/"));
  EXPECT_TRUE(fs::is_directory(etcd->data_dir(0) + "/member"));  // etcd's own layout
  EXPECT_TRUE(fs::exists(etcd->log_path(0)));
  EXPECT_NE(etcd->member_id(0), 0u);
  const pid_t pid = etcd->pid(0);
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(Running(pid));
  EXPECT_FALSE(etcd->frozen(0));
  EXPECT_THAT(etcd->Leader(), IsOk());
  EXPECT_EQ(etcd->Leader().value_or(-1), 0);

  ORCH_ASSERT_OK(Put(*etcd, 0, "/registry/pods/default/a", "first"));
  EXPECT_THAT(Get(*etcd, 0, "/registry/pods/default/a"), Holds("first"));
  EXPECT_THAT(Get(*etcd, 0, "/registry/pods/default/none"), HoldsNothing());

  const std::string dir = etcd->dir();
  const int client_port = PortOf(etcd->endpoint(0));
  const int peer_port = PortOf(etcd->peer_url(0));
  EXPECT_FALSE(CanListenOn(client_port));
  EXPECT_TRUE(fs::exists(PortLockFile(client_port)));

  ORCH_EXPECT_OK(etcd->Stop());

  EXPECT_EQ(etcd->pid(0), 0);
  EXPECT_FALSE(Running(pid));
  EXPECT_THAT(ProcessesMentioning(dir), IsEmpty());
  EXPECT_FALSE(fs::exists(dir));
  for (int port : {client_port, peer_port}) {
    EXPECT_TRUE(CanListenOn(port)) << port;
    EXPECT_FALSE(fs::exists(PortLockFile(port))) << port;
  }
  EXPECT_THAT(Get(*etcd, 0, "/registry/pods/default/a"), StatusIs(absl::StatusCode::kUnavailable));
  ORCH_EXPECT_OK(etcd->Stop());  // twice is fine
  EXPECT_THAT(etcd->Kill(0), StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("stopped")));
  EXPECT_THAT(etcd->RestartAll(), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(EtcdClusterTest, ThreeMembersFormOneClusterWithALeader) {
  START_ETCD_OR_SKIP(etcd, Members(3));
  ASSERT_EQ(etcd->size(), 3);
  EXPECT_EQ(etcd->endpoints(),
            (std::vector<std::string>{etcd->endpoint(0), etcd->endpoint(1), etcd->endpoint(2)}));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(etcd->name(i), absl::StrCat("m", i));
    EXPECT_TRUE(Running(etcd->pid(i))) << i;
    EXPECT_NE(etcd->member_id(i), 0u) << i;
    // Every member sees the same three, with the client URLs the fixture hands out.
    EXPECT_THAT(MemberList(*etcd, i),
                UnorderedElementsAre("m0 " + etcd->client_url(0), "m1 " + etcd->client_url(1),
                                     "m2 " + etcd->client_url(2)));
  }
  EXPECT_NE(etcd->data_dir(0), etcd->data_dir(1));
  EXPECT_NE(etcd->log_path(1), etcd->log_path(2));
  ORCH_ASSERT_OK_AND_ASSIGN(int leader, etcd->Leader());
  EXPECT_GE(leader, 0);
  EXPECT_LT(leader, 3);

  // A write through one member is read through every other.
  ORCH_ASSERT_OK(Put(*etcd, 2, "k", "v"));
  for (int i = 0; i < 3; ++i) EXPECT_THAT(Get(*etcd, i, "k"), Holds("v"));
}

TEST(EtcdClusterTest, KilledLeaderIsReplacedAndRejoinsWhenRestarted) {
  START_ETCD_OR_SKIP(etcd, Members(3));
  ORCH_ASSERT_OK_AND_ASSIGN(const int old_leader, etcd->Leader());
  ORCH_ASSERT_OK(Put(*etcd, old_leader, "before", "1"));
  const pid_t old_pid = etcd->pid(old_leader);

  const absl::Time killed_at = absl::Now();
  ORCH_ASSERT_OK(etcd->Kill(old_leader));
  EXPECT_EQ(etcd->pid(old_leader), 0);
  EXPECT_FALSE(Running(old_pid));
  ORCH_ASSERT_OK_AND_ASSIGN(const int new_leader, etcd->WaitForLeader(absl::Seconds(15)));
  const absl::Duration failover = absl::Now() - killed_at;
  EXPECT_NE(new_leader, old_leader);
  EXPECT_LT(failover, absl::Seconds(10));

  // Both survivors serve writes (a follower forwards its own to the leader) and reads.
  const int follower = 3 - old_leader - new_leader;
  ORCH_ASSERT_OK(Put(*etcd, follower, "after", "2"));
  ORCH_ASSERT_OK(Put(*etcd, new_leader, "after-leader", "3"));
  EXPECT_THAT(Get(*etcd, new_leader, "after"), Holds("2"));
  EXPECT_THAT(Get(*etcd, follower, "before"), Holds("1"));
  EXPECT_THAT(Get(*etcd, old_leader, "before", absl::Milliseconds(500)),
              StatusIs(absl::StatusCode::kUnavailable));

  // Back on its data dir and ports, it catches up with what it missed.
  const std::string endpoint = etcd->endpoint(old_leader);
  const uint64_t id = etcd->member_id(old_leader);
  ORCH_ASSERT_OK(etcd->Restart(old_leader));
  EXPECT_GT(etcd->pid(old_leader), 0);
  EXPECT_NE(etcd->pid(old_leader), old_pid);
  EXPECT_EQ(etcd->endpoint(old_leader), endpoint);
  EXPECT_EQ(etcd->member_id(old_leader), id);  // the same member, not a new one
  EXPECT_THAT(Get(*etcd, old_leader, "after"), Holds("2"));
  EXPECT_THAT(Get(*etcd, old_leader, "after-leader"), Holds("3"));
  EXPECT_THAT(MemberList(*etcd, old_leader), ::testing::SizeIs(3));
  ORCH_EXPECT_OK(etcd->WaitForLeader(absl::Seconds(10)).status());
  EXPECT_THAT(etcd->LogTail(old_leader, 100), HasSubstr("--initial-cluster-state existing"));
}

TEST(EtcdClusterTest, FrozenLeaderIsReplacedAndCatchesUpWhenThawed) {
  START_ETCD_OR_SKIP(etcd, Members(3));
  ORCH_ASSERT_OK_AND_ASSIGN(const int frozen, etcd->Leader());

  ORCH_ASSERT_OK(etcd->Freeze(frozen));
  EXPECT_TRUE(etcd->frozen(frozen));
  EXPECT_TRUE(Stopped(etcd->pid(frozen)));
  ORCH_EXPECT_OK(etcd->Freeze(frozen));  // again: nothing changes
  // It holds its port but answers nothing.
  EXPECT_FALSE(CanListenOn(PortOf(etcd->endpoint(frozen))));
  EXPECT_THAT(Get(*etcd, frozen, "k", absl::Milliseconds(300)),
              StatusIs(absl::StatusCode::kUnavailable));

  ORCH_ASSERT_OK_AND_ASSIGN(const int new_leader, etcd->WaitForLeader(absl::Seconds(15)));
  EXPECT_NE(new_leader, frozen);
  ORCH_ASSERT_OK(Put(*etcd, new_leader, "while-frozen", "x"));

  ORCH_ASSERT_OK(etcd->Thaw(frozen));
  EXPECT_FALSE(etcd->frozen(frozen));
  EXPECT_FALSE(Stopped(etcd->pid(frozen)));
  ORCH_EXPECT_OK(etcd->Thaw(frozen));  // again: nothing changes
  // It learns of the new term and catches up; a linearizable read through it sees the
  // write it slept through.
  EXPECT_THAT(EventuallyGet(*etcd, frozen, "while-frozen", absl::Seconds(15)), Holds("x"));
  ORCH_ASSERT_OK_AND_ASSIGN(const int leader, etcd->WaitForLeader(absl::Seconds(10)));
  EXPECT_NE(leader, -1);
}

TEST(EtcdClusterTest, WholeClusterRestartKeepsTheData) {
  START_ETCD_OR_SKIP(etcd, Members(3));
  ORCH_ASSERT_OK(Put(*etcd, 0, "/registry/nodes/n1", "node one"));
  const std::vector<std::string> endpoints = etcd->endpoints();
  std::vector<uint64_t> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(etcd->member_id(i));

  ORCH_ASSERT_OK(etcd->StopAll());
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(etcd->pid(i), 0) << i;
    EXPECT_TRUE(fs::is_directory(etcd->data_dir(i))) << i;
    EXPECT_THAT(Get(*etcd, i, "/registry/nodes/n1", absl::Milliseconds(500)),
                StatusIs(absl::StatusCode::kUnavailable));
  }
  EXPECT_THAT(etcd->Leader(),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("m0: not running")));
  EXPECT_THAT(etcd->Kill(1), StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("m1")));

  ORCH_ASSERT_OK(etcd->RestartAll());
  EXPECT_EQ(etcd->endpoints(), endpoints);
  for (int i = 0; i < 3; ++i) {
    EXPECT_GT(etcd->pid(i), 0) << i;
    EXPECT_EQ(etcd->member_id(i), ids[i]) << i;
    EXPECT_THAT(Get(*etcd, i, "/registry/nodes/n1"), Holds("node one"));
  }
  ORCH_EXPECT_OK(etcd->WaitForLeader(absl::Seconds(10)).status());
}

TEST(EtcdClusterTest, OneMemberKilledAndRestartedKeepsTheData) {
  START_ETCD_OR_SKIP(etcd, Members(1));
  ORCH_ASSERT_OK(Put(*etcd, 0, "k", "kept"));
  ORCH_ASSERT_OK(etcd->Kill(0));
  EXPECT_THAT(etcd->Leader(), StatusIs(absl::StatusCode::kUnavailable));
  ORCH_ASSERT_OK(etcd->Restart(0));
  EXPECT_THAT(Get(*etcd, 0, "k"), Holds("kept"));
  // Restart of a member that runs stops it first.
  const pid_t pid = etcd->pid(0);
  ORCH_ASSERT_OK(etcd->Restart(0));
  EXPECT_NE(etcd->pid(0), pid);
  EXPECT_FALSE(Running(pid));
  EXPECT_THAT(Get(*etcd, 0, "k"), Holds("kept"));
}

TEST(EtcdClusterTest, StopStopsFrozenAndKilledMembersToo) {
  START_ETCD_OR_SKIP(etcd, Members(3));
  const std::vector<pid_t> pids = {etcd->pid(0), etcd->pid(1), etcd->pid(2)};
  ORCH_ASSERT_OK(etcd->Freeze(0));
  ORCH_ASSERT_OK(etcd->Kill(1));
  const std::string dir = etcd->dir();

  ORCH_EXPECT_OK(etcd->Stop());

  for (pid_t pid : pids) EXPECT_FALSE(Running(pid)) << pid;
  EXPECT_THAT(ProcessesMentioning(dir), IsEmpty());
  EXPECT_FALSE(fs::exists(dir));
}

TEST(EtcdClusterTest, TwoClustersAtOnceShareNothing) {
  START_ETCD_OR_SKIP(first, Members(1));
  START_ETCD_OR_SKIP(second, Members(1));
  EXPECT_NE(first->endpoint(0), second->endpoint(0));
  EXPECT_NE(first->peer_url(0), second->peer_url(0));
  EXPECT_NE(first->dir(), second->dir());
  EXPECT_NE(first->token(), second->token());

  ORCH_ASSERT_OK(Put(*first, 0, "only-in-first", "1"));
  EXPECT_THAT(Get(*second, 0, "only-in-first"), HoldsNothing());
  EXPECT_TRUE(fs::is_directory(first->dir()));  // the second's Start left it alone
  ORCH_EXPECT_OK(first->Stop());
  EXPECT_TRUE(Running(second->pid(0)));
  ORCH_EXPECT_OK(Put(*second, 0, "still", "serving"));
}

TEST(EtcdClusterTest, StartRemovesWhatAProgramThatDiedWithoutStopLeft) {
  ScratchDir scratch;
  EtcdClusterOptions options;
  options.dir = scratch.path();
  // A test program that ends without stopping its cluster: its etcd dies with it
  // (PR_SET_PDEATHSIG), its directory stays.
  const pid_t program = ::fork();
  if (program == 0) {
    absl::StatusOr<std::unique_ptr<EtcdCluster>> etcd = EtcdCluster::Start(options);
    if (!etcd.ok()) ::_exit(IsMissingEtcd(etcd.status()) ? 2 : 1);
    etcd->release();
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(program, &status, 0), program);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 2) GTEST_SKIP() << "no etcd: " << EtcdCluster::Start().status();
  ASSERT_EQ(WEXITSTATUS(status), 0);
  std::vector<std::string> left;
  for (const auto& entry : fs::directory_iterator(scratch.path())) {
    left.push_back(entry.path().string());
  }
  ASSERT_EQ(left.size(), 1u);
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!ProcessesMentioning(left[0]).empty() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_THAT(ProcessesMentioning(left[0]), IsEmpty());

  START_ETCD_OR_SKIP(etcd, options);
  EXPECT_FALSE(fs::exists(left[0]));
  EXPECT_TRUE(fs::is_directory(etcd->dir()));
  ORCH_EXPECT_OK(etcd->Stop());
  EXPECT_TRUE(fs::is_empty(scratch.path()));
}

TEST(EtcdClusterTest, FaultsCheckTheirMember) {
  START_ETCD_OR_SKIP(etcd, Members(1));
  EXPECT_THAT(etcd->Kill(1), StatusIs(absl::StatusCode::kInvalidArgument,
                                      HasSubstr("no etcd member 1: the cluster has 1")));
  EXPECT_THAT(etcd->Freeze(-1), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(etcd->Restart(5), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(etcd->GatewayPost(2, "/v3/kv/range", "{}"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(etcd->pid(1), 0);
  EXPECT_EQ(etcd->name(-1), "");
  EXPECT_EQ(etcd->endpoint(1), "");
  EXPECT_EQ(etcd->LogTail(1), "");
  ORCH_EXPECT_OK(etcd->Thaw(0));  // not frozen: nothing to do
  ORCH_ASSERT_OK(etcd->Kill(0));
  EXPECT_THAT(etcd->Kill(0),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("m0 does not run")));
  EXPECT_THAT(etcd->Freeze(0), StatusIs(absl::StatusCode::kFailedPrecondition));
  // A request etcd cannot parse is the caller's mistake, not etcd's unavailability.
  ORCH_ASSERT_OK(etcd->Restart(0));
  EXPECT_THAT(etcd->GatewayPost(0, "/v3/kv/put", "{not json"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("HTTP 400")));
}

TEST(EtcdClusterTest, MemberThatCannotStartIsAnErrorWithItsLogAndLeavesNothing) {
  ScratchDir scratch;
  EtcdClusterOptions options;
  options.dir = scratch.path();
  // Later flags win: this member's data dir cannot be made.
  options.extra_flags = {"--data-dir=/proc/orch-no-such-dir"};
  absl::StatusOr<std::unique_ptr<EtcdCluster>> started = EtcdCluster::Start(options);
  if (IsMissingEtcd(started.status())) GTEST_SKIP() << started.status();
  EXPECT_THAT(started, StatusIs(absl::StatusCode::kInternal,
                                AllOf(HasSubstr("etcd member m0 exited (exit status 1)"),
                                      HasSubstr("mkdir /proc/orch-no-such-dir"))));
  EXPECT_TRUE(fs::is_empty(scratch.path()));
  EXPECT_THAT(ProcessesMentioning(scratch.path()), IsEmpty());
}

TEST(EtcdClusterTest, TooSlowIsDeadlineExceededWithTheLogsAndLeavesNothing) {
  ScratchDir scratch;
  EtcdClusterOptions options;
  options.dir = scratch.path();
  options.start_timeout = absl::ZeroDuration();
  // One member: it never gets to answer.
  absl::StatusOr<std::unique_ptr<EtcdCluster>> started = EtcdCluster::Start(options);
  if (IsMissingEtcd(started.status())) GTEST_SKIP() << started.status();
  EXPECT_THAT(started, StatusIs(absl::StatusCode::kDeadlineExceeded,
                                AllOf(HasSubstr("etcd member m0 not healthy within 0\nm0: "),
                                      HasSubstr("its log:\n--- orch etcd fixture: starting m0"))));
  // Three: the first never gets to serve the others.
  options.members = 3;
  EXPECT_THAT(EtcdCluster::Start(options),
              StatusIs(absl::StatusCode::kDeadlineExceeded,
                       AllOf(HasSubstr("etcd member m0 did not serve its peers within 0"),
                             HasSubstr("its log:\n--- orch etcd fixture: starting m0"))));
  EXPECT_TRUE(fs::is_empty(scratch.path()));
  EXPECT_THAT(ProcessesMentioning(scratch.path()), IsEmpty());
}

TEST(EtcdClusterTest, MissingEtcdIsAFailedPrecondition) {
  EtcdClusterOptions options;
  options.etcd = "/nonexistent/etcd";
  EXPECT_THAT(EtcdCluster::Start(options),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("etcd is not installed"), HasSubstr("/nonexistent/etcd"))));
  options.etcd = "orch-no-such-etcd";
  EXPECT_THAT(EtcdCluster::Start(options),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("etcd is not installed")));
}

TEST(EtcdClusterTest, EtcdThatDoesNotRunIsAFailedPrecondition) {
  EtcdClusterOptions options;
  options.etcd = "false";
  EXPECT_THAT(EtcdCluster::Start(options),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("false --version failed")));
  options.etcd = "true";  // runs, but is no etcd
  EXPECT_THAT(EtcdCluster::Start(options),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("names no etcd version")));
}

TEST(EtcdClusterTest, BadOptionsAreInvalidArgument) {
  EXPECT_THAT(EtcdCluster::Start(Members(0)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("members: 0")));
  EXPECT_THAT(EtcdCluster::Start(Members(8)), StatusIs(absl::StatusCode::kInvalidArgument));
  EtcdClusterOptions options;
  options.heartbeat_interval = absl::Milliseconds(100);
  options.election_timeout = absl::Milliseconds(400);
  EXPECT_THAT(EtcdCluster::Start(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("election_timeout: 400ms")));
  options = {};
  options.heartbeat_interval = absl::ZeroDuration();
  EXPECT_THAT(EtcdCluster::Start(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("heartbeat_interval")));
  options = {};
  options.log_level = "loud";
  EXPECT_THAT(EtcdCluster::Start(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("log_level")));
}

}  // namespace
}  // namespace orch::testing
