// EtcdStore: the Store on a real etcd cluster (etcd v3 API over gRPC; tested on 3.4).
//
// Every contract of orch/store/store.h holds, with etcd doing the work:
//   - Keys are the Store's keys under `key_prefix` ("/orch" + "/registry/pods/ns/name");
//     a key's mod_revision is the object's resourceVersion, etcd's global revision the
//     store's.
//   - Create is a Txn on mod_revision(key) == 0; Update and Delete are Txns on
//     mod_revision(key) == expected (kAborted on a conflict, kNotFound for a missing key);
//     an Update or Delete without an expected revision reads the key first and then writes
//     on that revision, so no write of this store is ever applied twice, whatever fails.
//   - Get and List read at one revision (a List's pages all at its first page's), in
//     chunks of at most `list_chunk` keys per etcd request, filtered on this side.
//   - Watch is a Watch stream with prev_kv and progress notifications. When the stream
//     breaks (a member dies, the network blips) the watcher resumes on another member from
//     the revision after the last event it delivered: nothing is lost or repeated. When that
//     revision has been compacted meanwhile, Poll returns kOutOfRange (re-list).
//   - Leases are etcd leases: GrantLease rounds the ttl up to whole seconds (etcd may
//     raise it to its minimum); KeepAlive and LeaseTimeToLive answer kNotFound for an
//     expired or revoked lease.
//   - Compact compacts etcd. With `compaction_interval` set, the store also compacts on
//     its own: every interval it compacts to the revision it saw one interval earlier, so
//     at least one interval of history stays. Several orch processes on one etcd
//     coordinate through one key (<key_prefix>/compact_rev_key), as Kubernetes' API
//     servers do: per interval one of them compacts.
//
// Members and failures. `endpoints` lists the members; calls go to one at a time. A read
// that finds it unreachable, leaderless or silent (no answer within `request_timeout`)
// moves to the next and tries again, once around the list. Unless some member was silent,
// it then goes on around the list for one more `request_timeout`, waiting for a member to
// come back and pausing while the members elect a leader ("etcdserver: leader changed"):
// a restart or a leader's loss costs a read time, not an error. A write is retried on
// another member, and waits out an election the same way, only when it surely was not
// applied (the member refused the connection, or had no leader); a write whose fate is
// unknown (the member died, went silent or lost its leader after taking it) fails
// kUnavailable saying so, and the next call goes to another member. Nothing waits without
// a deadline: an unreachable cluster gives kUnavailable naming every endpoint tried, after
// at most about `request_timeout` per endpoint, plus one.
//
// Security: TLS when `ca_file` is set (plus a client certificate with `cert_file` and
// `key_file`); user/password authentication when `username` is set (the token is renewed
// when etcd says it expired).
//
// Thread safety: every method may be called concurrently from any thread. Each Watcher
// runs one thread of its own, reading its stream. Ownership: the store must outlive its
// watchers (destroy watchers first); the destructor stops the compactor and waits for it.
// Errors: as Store says, plus kInvalidArgument from Connect for bad options (naming the
// field), kUnavailable when no member answers, and etcd's own errors with its message:
// kInvalidArgument "etcdserver: authentication failed, invalid user ID or password" for
// bad credentials, "etcdserver: user name is empty" for none where etcd wants some;
// kPermissionDenied for a user whose roles do not cover the keys.
#ifndef ORCH_STORE_ETCD_STORE_H_
#define ORCH_STORE_ETCD_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "orch/store/store.h"

namespace orch::store {

struct EtcdStoreOptions {
  // REQUIRED: the members' client addresses, "127.0.0.1:2379" or "http://host:2379"
  // ("https://..." when TLS is on).
  std::vector<std::string> endpoints;
  // Prepended to every key: several orch clusters (or tests) can share one etcd. Empty, or
  // starting with '/' and not ending with one.
  std::string key_prefix;
  // Deadline of each request to one member (and of Connect's first contact with each).
  absl::Duration request_timeout = absl::Seconds(5);
  // Keys per etcd Range request while listing.
  int64_t list_chunk = 1000;

  // TLS: PEM files. Setting `ca_file` turns TLS on; `cert_file` and `key_file` (both or
  // neither) authenticate this client.
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  // etcd authentication; empty `username`: none.
  std::string username;
  std::string password;

  // Automatic compaction (see above); zero: none.
  absl::Duration compaction_interval = absl::ZeroDuration();
};

class EtcdStore : public Store {
 public:
  // Checks the options and that some member answers (within request_timeout each).
  static absl::StatusOr<std::unique_ptr<EtcdStore>> Connect(EtcdStoreOptions options);

  // The endpoint calls go to now (it changes when a member fails).
  virtual std::string current_endpoint() const = 0;
};

}  // namespace orch::store

#endif  // ORCH_STORE_ETCD_STORE_H_
