// EtcdCluster: a private etcd cluster (1, 3 or up to 7 members) for tests that need a real
// etcd v3 server, such as EtcdStore's, started and stopped by the test itself, with the
// faults a test of a store client wants: a member killed, frozen, restarted, or the whole
// cluster restarted on its data.
//
// Each member is an etcd process of its own with its own data directory, all under one
// fresh temporary directory, and listens only on 127.0.0.1: a client port and a peer port.
// Ports are taken below the kernel's ephemeral range (net.ipv4.ip_local_port_range), so no
// outgoing connection of this or any program can land on one while a member is down, and
// each is held with a lock file (/tmp/orch-etcd-fixture/port-<port>.lock, flock) for the
// cluster's lifetime, so clusters of parallel test programs never pick the same one.
// Every cluster has its own --initial-cluster-token. Timing is tuned for tests (heartbeat
// 50 ms, election timeout 500 ms, as EtcdClusterOptions says): when the leader dies, a
// new one is elected within about a second.
//
//   ORCH_ASSERT_OK_AND_ASSIGN(auto etcd, EtcdCluster::Start({.members = 3}));
//   auto store = EtcdStore::Connect({.endpoints = etcd->endpoints()});  // "127.0.0.1:21817", ...
//   ORCH_ASSERT_OK_AND_ASSIGN(int leader, etcd->Leader());
//   ORCH_ASSERT_OK(etcd->Kill(leader));
//   ORCH_ASSERT_OK(etcd->WaitForLeader(absl::Seconds(10)).status());
//   ...
//   ORCH_ASSERT_OK(etcd->Restart(leader));  // rejoins with its data
//   // Every member, its data and its ports are gone when `etcd` is destroyed.
//
// Members are numbered 0..size()-1 and named "m0", "m1", ...; the numbers never change,
// whatever happens to the processes.
//
// Stop (and the destructor) leaves the machine as it was: it thaws frozen members, stops
// every member (SIGTERM, the leader last; SIGKILL to what still runs after 5 s), removes
// the directory and gives the ports back (their lock files go too).
//
// Requirements: Linux and etcd 3.4 or later (Debian's etcd-server; scripts/install-deps.sh
// installs it), and openssl for a cluster with TLS. No root.
//
// Thread safety: an instance is driven by one thread at a time: Start, Stop and the faults
// change the members' state. The accessors are const and may be called from any thread
// while none of those runs. Separate instances are independent, in one process or in
// several. Members are started with PR_SET_PDEATHSIG(SIGKILL) so that a test program that
// crashes leaves no etcd behind: call Start, Restart and RestartAll from a thread that
// lives as long as the cluster (a test's own thread does). The directory of a cluster
// whose program died without Stop stays until the next Start on the machine removes it
// (each live cluster holds a lock in its directory; Start removes those no one holds).
// Ownership: the cluster owns its etcd processes, the directory and the ports.
// Errors: absl::Status, never an exception or an abort; each message names the member and
// what failed. kFailedPrecondition when the machine cannot run etcd (not installed, not
// runnable, too old): the message says why, so a test may GTEST_SKIP with it (see
// IsMissingEtcd below). kInvalidArgument for bad options or a member number out of range.
// When members do not become healthy in time, kDeadlineExceeded (or kInternal when one
// exits) with the last lines of their logs.
#ifndef ORCH_TESTS_SUPPORT_ETCD_FIXTURE_H_
#define ORCH_TESTS_SUPPORT_ETCD_FIXTURE_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace orch::testing {

struct EtcdClusterOptions {
  // How many members: 1 to 7 (3 for tests of failover; quorum is a majority).
  int members = 1;
  // Parent of the cluster's temporary directory; empty means /tmp.
  std::string dir;
  // The etcd program, a name on PATH or a path.
  std::string etcd = "etcd";
  // Raft timing. etcd requires election_timeout >= 5 * heartbeat_interval; both are whole
  // milliseconds.
  absl::Duration heartbeat_interval = absl::Milliseconds(50);
  absl::Duration election_timeout = absl::Milliseconds(500);
  // How long Start, Restart and RestartAll wait for the members they start to be healthy.
  absl::Duration start_timeout = absl::Seconds(30);
  // etcd's --log-level: "debug", "info", "warn" or "error".
  std::string log_level = "warn";
  // More flags for every member, each "--flag=value" (say "--auto-compaction-retention=1"
  // or "--quota-backend-bytes=16777216"). They come after the fixture's own.
  std::vector<std::string> extra_flags;
  // Clients must speak TLS and show a certificate: Start makes a CA, a server certificate
  // for 127.0.0.1 and a client certificate (ECDSA P-256, a day long, with the openssl
  // program), and every member serves its clients on https with --client-cert-auth. The
  // files are tls_files(); peers still speak plain http among themselves.
  bool tls = false;
};

// PEM files a client of a cluster started with `tls` uses: the CA that signed the
// members' certificates, and a certificate and key the members accept.
struct EtcdTlsFiles {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
};

class EtcdCluster {
 public:
  // Starts options.members members as a new cluster and waits until it is healthy: every
  // member answers a linearizable read (so a leader exists and every member follows it).
  // Takes 0.2 to 0.6 s, for one member or three, on an idle machine. On error nothing is
  // left behind.
  static absl::StatusOr<std::unique_ptr<EtcdCluster>> Start(EtcdClusterOptions options = {});

  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;
  // Stops, as Stop does, ignoring its status.
  ~EtcdCluster();

  // Stops every member and removes everything (see above). Safe to call twice: the second
  // call does nothing and returns OK. Every step runs even when one fails; the status
  // reports the first failure. After Stop, the faults below fail with kFailedPrecondition.
  absl::Status Stop();

  // --- where the members are ----------------------------------------------------------
  int size() const { return static_cast<int>(members_.size()); }
  // Every member's client endpoint, "127.0.0.1:<port>", in member order (stopped members
  // included: a client is given the whole cluster).
  std::vector<std::string> endpoints() const;

  // The accessors below return "", 0 or false for a member out of range.
  // Member i's client endpoint, "127.0.0.1:<port>", and as a URL, "http://127.0.0.1:<port>"
  // ("https://..." with tls).
  std::string endpoint(int i) const;
  std::string client_url(int i) const;
  // Member i's peer URL, "http://127.0.0.1:<port>".
  std::string peer_url(int i) const;
  // "m<i>".
  std::string name(int i) const { return member(i).name; }
  // Member i's raft id, as etcd's responses name it (header.member_id, leader); learned
  // when the member first became healthy.
  uint64_t member_id(int i) const { return member(i).id; }
  // Member i's process id while it runs (frozen or not); 0 once killed or stopped.
  pid_t pid(int i) const { return member(i).pid; }
  // Whether member i is frozen (Freeze, and no Thaw since).
  bool frozen(int i) const { return member(i).frozen; }
  // Member i's --data-dir, under dir(); kept across Kill, Restart, StopAll and RestartAll.
  std::string data_dir(int i) const { return member(i).data_dir; }
  // Member i's stdout and stderr (etcd logs there), appended to by every restart.
  std::string log_path(int i) const { return member(i).log_path; }
  // The last `lines` lines of that log, for error messages.
  std::string LogTail(int i, int lines = 10) const;
  // The cluster's temporary directory (its name is kept after Stop removes it).
  std::string dir() const { return dir_; }
  // The --initial-cluster-token, unique to this cluster.
  std::string token() const { return token_; }
  // With options.tls, the client's files (in dir(), gone after Stop); otherwise empty.
  const EtcdTlsFiles& tls_files() const { return tls_; }

  // --- faults -------------------------------------------------------------------------
  // Each returns kInvalidArgument for a member out of range and kFailedPrecondition when
  // the cluster is stopped or the member is not in a state the fault applies to.

  // SIGKILL to member i, and waits until it has exited. Its data dir stays. REQUIRES: it
  // runs (frozen or not).
  absl::Status Kill(int i);
  // SIGSTOP to member i: it holds its ports and answers nothing, as a hung machine would.
  // Freezing a frozen member does nothing. REQUIRES: it runs.
  absl::Status Freeze(int i);
  // SIGCONT to a frozen member i; a member that is not frozen is left alone.
  absl::Status Thaw(int i);
  // Starts member i again on its data dir and ports, with --initial-cluster-state
  // existing, and waits until it is healthy (it answers a linearizable read, so it has
  // rejoined a leader with a quorum). A member that runs is stopped first, as Stop stops
  // one. Takes start_timeout at most; needs a quorum of members running.
  absl::Status Restart(int i);
  // Stops every member as Stop does (followers first, then the leader, so that it does not
  // wait to hand its leadership over) and keeps their data dirs and ports: the cluster is
  // down, as in a planned outage. (Kill each member for a power cut.)
  absl::Status StopAll();
  // Stops what still runs, starts every member again on its data dir and ports, and waits
  // until all are healthy: the data written before survives. About 0.3 s for three
  // members; up to a second for one, which waits out an election timeout before it leads.
  absl::Status RestartAll();

  // --- raft state ---------------------------------------------------------------------
  // The member that leads: of the running, unfrozen members, the one whose status
  // (POST /v3/maintenance/status) names itself as leader, in the highest raft term if
  // more than one does (a leader just thawed believes it leads until it hears of the next
  // term). kUnavailable when none does, with what each member said.
  absl::StatusOr<int> Leader() const;
  // Leader(), asked until it answers or `timeout` passes (kDeadlineExceeded, with its last
  // error).
  absl::StatusOr<int> WaitForLeader(absl::Duration timeout) const;

  // POSTs `json` to `path` (say "/v3/kv/range") of member i's gRPC JSON gateway and
  // returns the response's body: etcd's v3 API without a gRPC client, for tests that check
  // through another path what a client wrote. Keys and values are base64 in that JSON,
  // 64-bit numbers strings. kInvalidArgument when etcd rejects the request (HTTP 4xx);
  // kUnavailable when the member does not answer within `timeout` or fails it otherwise.
  // The message carries the HTTP status and etcd's answer.
  absl::StatusOr<std::string> GatewayPost(int i, const std::string& path, const std::string& json,
                                          absl::Duration timeout = absl::Seconds(5)) const;

 private:
  struct Member {
    std::string name;
    int client_port = 0;
    int peer_port = 0;
    int client_lock_fd = -1;  // hold the ports (see LockPort in the .cc)
    int peer_lock_fd = -1;
    std::string data_dir;
    std::string log_path;
    uint64_t id = 0;
    pid_t pid = 0;
    bool frozen = false;
  };

  explicit EtcdCluster(EtcdClusterOptions options) : options_(std::move(options)) {}

  // Member i, or an empty Member when there is none.
  const Member& member(int i) const;

  absl::Status StartNew();
  // Writes the CA, the server's and the client's keys and certificates into dir_/tls.
  absl::Status MakeCertificates();
  absl::Status CheckMember(int i) const;
  absl::Status CheckRunning(int i) const;
  absl::Status Spawn(int i, const char* initial_cluster_state);
  // Member i's exit, if it has exited, as an error with its log.
  absl::Status CheckNotExited(int i);
  absl::Status WaitServingPeers(int i, absl::Time deadline);
  absl::Status WaitHealthy(const std::vector<int>& members, absl::Time deadline);
  // Reaps members that exited by themselves; their pid becomes 0.
  void ReapExited();
  // Thaws them, SIGTERM (followers before the leader: see the .cc), and SIGKILL to what
  // still runs after `grace`; returns once every one has exited.
  void StopMembers(const std::vector<int>& members, absl::Duration grace);
  // SIGTERM, then SIGKILL to what still runs at `deadline`; waits for all to exit.
  void Terminate(const std::vector<int>& members, absl::Time deadline);
  std::vector<int> AllMembers() const;

  EtcdClusterOptions options_;
  std::vector<Member> members_;
  std::string dir_;
  int owner_lock_fd_ = -1;  // flock on <dir_>/owner.lock while the cluster lives
  std::string token_;
  std::string initial_cluster_;  // "m0=http://127.0.0.1:P0,m1=..."
  EtcdTlsFiles tls_;              // empty without options_.tls
  std::string server_cert_file_;  // with options_.tls: the members' certificate and key
  std::string server_key_file_;
  bool stopped_ = false;
};

// Whether `status` (from EtcdCluster::Start) says this machine cannot run etcd at all,
// rather than that etcd failed: a test then skips with it.
//   auto etcd = EtcdCluster::Start();
//   if (IsMissingEtcd(etcd.status())) GTEST_SKIP() << etcd.status();
inline bool IsMissingEtcd(const absl::Status& status) {
  return status.code() == absl::StatusCode::kFailedPrecondition;
}

}  // namespace orch::testing

#endif  // ORCH_TESTS_SUPPORT_ETCD_FIXTURE_H_
