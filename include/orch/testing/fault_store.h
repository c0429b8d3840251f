// FaultStore: a Store that misbehaves on purpose, for testing what runs on top of it.
//
// It forwards every call to another Store and, as the test asks, refuses some of them
// the way a real backend does: kAborted as if another writer got there first (a
// conflict), kUnavailable as if etcd could not be reached, any status the test names.
// It can hold watches back (a cache that lags the store) and break them with kOutOfRange
// as a compaction does, so informers must list again and learn of deletions they never
// saw. A refused call changes nothing, as the Store contract says: faults are injected
// before the call reaches the store.
//
//   FaultStore faults(&memory_store, {.seed = 7});
//   faults.SetRandomFaults({.conflict_rate = 0.2, .unavailable_rate = 0.1});
//   faults.FailNext(FaultStore::Op::kCreate, "/registry/pods/", 3,
//                   absl::UnavailableError("etcd is down"));
//   faults.BreakWatches();   // every open watch: kOutOfRange, events not yet polled lost
//   ...
//   EXPECT_EQ(faults.Succeeded(FaultStore::Op::kCreate, "/registry/pods/"), 5);
//
// Random faults are drawn from a generator seeded by `seed`, one draw per call that
// could fail, so a test on a VirtualExecutor sees the same faults on every run.
//
// Thread safety: every method may be called from any thread, as on any Store; the
// counters are exact under concurrency. Ownership: the target must outlive the
// FaultStore, and the FaultStore its watchers.
// Errors: only the injected ones, and whatever the target returns.
#ifndef ORCH_TESTING_FAULT_STORE_H_
#define ORCH_TESTING_FAULT_STORE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "orch/base/mutex.h"
#include "orch/store/store.h"

namespace orch::testing {

struct FaultStoreOptions {
  uint64_t seed = 1;  // the generator behind random faults
};

class FaultStore : public store::StoreWrapper {
 public:
  // The calls faults apply to. Leases are left alone: heartbeats and leader election
  // have their own tests of a lost lease.
  enum class Op { kCreate, kUpdate, kDelete, kGet, kList, kWatch };
  static constexpr int kOps = 6;

  // Faults drawn at random, per call on a key under `prefix` (empty: every key).
  struct RandomFaults {
    // Update and Delete refused with kAborted, as when another writer got there first
    // (a Create has no revision to conflict with).
    double conflict_rate = 0;
    // Any call refused with kUnavailable.
    double unavailable_rate = 0;
    std::string prefix;
  };

  // `target` must outlive the FaultStore.
  explicit FaultStore(store::Store* target, FaultStoreOptions options = {});
  ~FaultStore() override;

  // Replaces the random faults (all rates 0 turns them off).
  void SetRandomFaults(RandomFaults faults);
  // The next `count` calls of `op` on keys under `prefix` fail with `status` (which must
  // not be OK), before any random fault is drawn. Adds to rules already set.
  void FailNext(Op op, std::string prefix, int count, absl::Status status);
  // `hook` runs once, just before the next call of `op` on exactly `key` reaches the
  // target (after fault checks passed), with no FaultStore lock held: a test uses it to
  // race a write of its own against the one in flight.
  void Before(Op op, std::string key, std::function<void()> hook);
  // Turns off random faults and drops pending FailNext rules and hooks.
  void ClearFaults();

  // While held, watches under `prefix` (a watch whose prefix starts with it) deliver
  // nothing; events wait in the target's watcher. Releasing wakes the consumers.
  void HoldWatches(std::string prefix);
  void ReleaseWatches();
  // Every watch open now fails its next Poll with `status` (kOutOfRange, as a compacted
  // history does, unless another is given); what it had not yet delivered is lost.
  void BreakWatches(absl::Status status = absl::OutOfRangeError(
                        "watch: the required revision has been compacted"));

  // Successful calls of `op` on keys under `prefix` (a List or Watch counts once, on its
  // prefix).
  int Succeeded(Op op, std::string_view prefix = "") const;
  // Successful calls of `op` per key.
  std::map<std::string, int> SucceededByKey(Op op) const;
  // Calls refused by an injected fault, of any kind.
  int Injected() const;

  absl::StatusOr<int64_t> Create(std::string_view key, store::SharedBytes value,
                                 store::LeaseId lease = 0) override;
  absl::StatusOr<int64_t> Update(std::string_view key, store::SharedBytes value,
                                 int64_t expected_revision, store::LeaseId lease = 0) override;
  absl::StatusOr<store::KeyValue> Delete(std::string_view key,
                                         int64_t expected_revision = 0) override;
  absl::StatusOr<store::KeyValue> Get(std::string_view key, int64_t revision = 0) override;
  absl::StatusOr<store::ListResult> List(std::string_view prefix,
                                         const store::ListOptions& options = {}) override;
  absl::StatusOr<std::unique_ptr<store::Watcher>> Watch(
      std::string_view prefix, const store::WatchOptions& options = {}) override;

 private:
  class FaultyWatcher;
  struct Rule {
    Op op;
    std::string prefix;
    int remaining;
    absl::Status status;
  };
  struct Hook {
    Op op;
    std::string key;
    std::function<void()> run;
  };

  // OK, or the fault this call gets. Runs a matching hook (outside the lock) when the
  // call goes ahead.
  absl::Status Check(Op op, std::string_view key);
  void Count(Op op, std::string_view key);
  // The fault check, then `call` (to the target), then the count of a success.
  template <typename Call>
  auto Forward(Op op, std::string_view key, const Call& call) -> decltype(call()) {
    if (absl::Status fault = Check(op, key); !fault.ok()) return fault;
    auto out = call();
    if (out.ok()) Count(op, key);
    return out;
  }
  bool Held(const std::string& watch_prefix) const;
  void Forget(FaultyWatcher* watcher);

  mutable Mutex mu_;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
  RandomFaults random_ ABSL_GUARDED_BY(mu_);
  std::vector<Rule> rules_ ABSL_GUARDED_BY(mu_);
  std::vector<Hook> hooks_ ABSL_GUARDED_BY(mu_);
  int injected_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, int> succeeded_[kOps] ABSL_GUARDED_BY(mu_);  // per Op, per key
  bool holding_ ABSL_GUARDED_BY(mu_) = false;
  std::string hold_prefix_ ABSL_GUARDED_BY(mu_);
  std::vector<FaultyWatcher*> watchers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace orch::testing

#endif  // ORCH_TESTING_FAULT_STORE_H_
