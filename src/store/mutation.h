// Mutation: one state change of a MemoryStore, as a plain value.
//
// Every change to a MemoryStore's state — put, delete, lease grant, keep-alive, revoke or
// expiry, explicit compaction — is built as a Mutation and applied by StoreState::Apply, and
// by nothing else. That makes durability a matter of two hooks: append each Mutation to a
// write-ahead log before applying it, and on startup apply the logged Mutations again in
// order. Applying the same sequence of Mutations to an empty StoreState always yields the
// same keys, revisions and leases (lease expiry times are measured from when each grant or
// keep-alive is applied, so a replay renews every lease, as etcd does on restart).
//
// Preconditions (the key exists, the expected revision matches, the lease is live) are
// checked before a Mutation is built; the log only ever holds Mutations that succeeded, and
// applying one never fails.
#ifndef ORCH_SRC_STORE_MUTATION_H_
#define ORCH_SRC_STORE_MUTATION_H_

#include <cstdint>
#include <string>
#include <utility>

#include "orch/store/store.h"

namespace orch::store::internal {

struct Mutation {
  // Values are stable: a log may store them.
  enum class Kind : uint8_t {
    kPut = 1,          // create `key` or replace its value; attach it to `lease` (0: none)
    kDelete = 2,       // delete `key`
    kGrantLease = 3,   // create lease `lease` with `ttl_nanos`
    kKeepAlive = 4,    // restart the ttl of `lease`
    kRevokeLease = 5,  // delete every key attached to `lease` (each at its own revision),
                       // then the lease: both RevokeLease and expiry
    kCompact = 6,      // forget history before `revision` (StoreState::Compact)
  };

  Kind kind = Kind::kPut;
  std::string key;        // kPut, kDelete
  SharedBytes value;      // kPut: the writer's bytes, shared (no copy)
  LeaseId lease = 0;      // kPut, kGrantLease, kKeepAlive, kRevokeLease
  int64_t ttl_nanos = 0;  // kGrantLease
  int64_t revision = 0;   // kCompact

  static Mutation Put(std::string key, SharedBytes value, LeaseId lease) {
    Mutation m;
    m.kind = Kind::kPut;
    m.key = std::move(key);
    m.value = std::move(value);
    m.lease = lease;
    return m;
  }
  static Mutation Delete(std::string key) {
    Mutation m;
    m.kind = Kind::kDelete;
    m.key = std::move(key);
    return m;
  }
  static Mutation GrantLease(LeaseId lease, int64_t ttl_nanos) {
    Mutation m;
    m.kind = Kind::kGrantLease;
    m.lease = lease;
    m.ttl_nanos = ttl_nanos;
    return m;
  }
  static Mutation KeepAlive(LeaseId lease) { return OfLease(Kind::kKeepAlive, lease); }
  static Mutation RevokeLease(LeaseId lease) { return OfLease(Kind::kRevokeLease, lease); }
  static Mutation Compact(int64_t revision) {
    Mutation m;
    m.kind = Kind::kCompact;
    m.revision = revision;
    return m;
  }

 private:
  static Mutation OfLease(Kind kind, LeaseId lease) {
    Mutation m;
    m.kind = kind;
    m.lease = lease;
    return m;
  }
};

}  // namespace orch::store::internal

#endif  // ORCH_SRC_STORE_MUTATION_H_
