#include "orch/store/memory_store.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/strings/escaping.h"
#include "orch/base/mutex.h"
#include "fmt/format.h"
#include "orch/base/status.h"
#include "store/common.h"
#include "store/list_filter.h"
#include "store/log_codec.h"
#include "store/mutation.h"
#include "store/store_state.h"
#include "store/wal.h"

namespace orch::store {
namespace {

using internal::CheckKey;
using internal::CheckRevisionArgument;
using internal::ContinueToken;
using internal::EncodeContinueToken;
using internal::HasPrefix;
using internal::KeyHistory;
using internal::KeyNotFound;
using internal::LeaseNotFound;
using internal::Mutation;
using internal::ReadyCursors;
using internal::StoreState;
using internal::Version;

constexpr int64_t kNoExpiry = std::numeric_limits<int64_t>::max();

// Log segments are deleted whole once a snapshot covers them, so a segment of half a
// snapshot interval keeps the log on disk within about two intervals (recovery may fall
// back one snapshot) plus a segment, while segment files stay few.
int64_t SegmentBytesFor(int64_t snapshot_every_bytes) {
  return std::clamp<int64_t>(snapshot_every_bytes / 2, 64 << 10, 64 << 20);
}

// The precondition of Update and Delete: the key exists and, when `expected` is non-zero,
// was last modified at that revision.
absl::Status CheckExpected(const StoreState& state, std::string_view key, int64_t expected) {
  const KeyHistory* history = state.Find(key);
  const Version* current = history ? history->Current() : nullptr;
  if (current == nullptr) return KeyNotFound(key);
  if (expected == 0 || current->mod_revision == expected) return absl::OkStatus();
  return internal::RevisionConflict(key, expected, current->mod_revision);
}

// A version as Get returns it. For the newest version (nearly every Get) it is built from
// what the lookup already read — the history, its key, `latest` — and the value's shared
// reference, without touching the Event: each dependent cache miss avoided is ~100 ns on a store
// larger than the cache.
KeyValue CopyOut(const KeyHistory& history, const Version& version) {
  KeyValue out;
  out.key = std::string(history.key());
  out.mod_revision = version.mod_revision;
  if (&version == &history.versions().back()) {
    const internal::LatestFields& latest = history.latest();
    out.value = latest.value;
    out.create_revision = latest.create_revision;
    out.version = latest.version;
    out.lease = latest.lease;
  } else {
    const KeyValue& stored = version.kv();
    out.value = stored.value;
    out.create_revision = stored.create_revision;
    out.version = stored.version;
    out.lease = stored.lease;
  }
  return out;
}

// ------------------------------------------------------------------ watchers

// What the store and its watchers share. Watchers hold it too, so a watcher that outlives
// its store (a contract breach) reads kCancelled instead of freed memory.
struct Shared {
  explicit Shared(int64_t history_limit) : state(history_limit) {}
  Mutex mu;
  StoreState state ABSL_GUARDED_BY(mu);
  bool closed ABSL_GUARDED_BY(mu) = false;
  // Durable mode: not OK once writing the log failed; every later write fails with it.
  absl::Status refusal ABSL_GUARDED_BY(mu);
};

// One watcher's cursor plus how to wake its consumer.
struct WatchState : internal::WatchCursor, std::enable_shared_from_this<WatchState> {
  // Set when a matching event arrives for an armed cursor; Wait sleeps until it is.
  std::atomic<bool> signaled{false};
  Mutex callback_mu;
  std::function<void()> callback ABSL_GUARDED_BY(callback_mu);

  // REQUIRES: no store lock held. Runs the callback under callback_mu, so that clearing
  // the callback waits for a running one to return.
  void Notify() {
    signaled.store(true);
    MutexLock lock(&callback_mu);  // also wakes Wait
    if (callback) callback();
  }
};

using Wakeups = absl::InlinedVector<std::shared_ptr<WatchState>, 8>;

// REQUIRES: the store lock is held (so every registered cursor is alive).
Wakeups ToWakeups(const ReadyCursors& ready) {
  Wakeups wakeups;
  for (internal::WatchCursor* cursor : ready) {
    wakeups.push_back(static_cast<WatchState*>(cursor)->shared_from_this());
  }
  return wakeups;
}

void Deliver(const Wakeups& wakeups) {
  for (const auto& state : wakeups) state->Notify();
}

class MemoryWatcher final : public Watcher {
 public:
  MemoryWatcher(std::shared_ptr<Shared> shared, std::shared_ptr<WatchState> state,
                int64_t start_revision)
      : shared_(std::move(shared)), state_(std::move(state)), revision_(start_revision) {}

  ~MemoryWatcher() override {
    {
      MutexLock lock(&shared_->mu);
      shared_->state.Unregister(state_.get());
    }
    MutexLock lock(&state_->callback_mu);  // waits for a callback in flight
    state_->callback = nullptr;
  }

  absl::Status Poll(std::vector<EventPtr>* events, size_t max) override {
    if (events == nullptr) return absl::InvalidArgumentError("events: must not be null");
    ReaderMutexLock lock(&shared_->mu);
    ORCH_RETURN_IF_ERROR(CheckUsable());
    const size_t before = events->size();
    shared_->state.ReadEvents(*state_, max, events);
    if (events->size() > before) revision_ = events->back()->kv.mod_revision;
    return absl::OkStatus();
  }

  bool Wait(absl::Duration timeout) override {
    {
      ReaderMutexLock lock(&shared_->mu);
      if (!CheckUsable().ok() || shared_->state.SkipToPending(*state_)) return true;
      // Arm before releasing the lock, so no event appended from here on goes unreported.
      state_->signaled.store(false);
      state_->armed = true;
    }
    MutexLock lock(&state_->callback_mu);
    return state_->callback_mu.AwaitWithTimeout(
        absl::Condition(+[](WatchState* s) { return s->signaled.load(); }, state_.get()),
        timeout);
  }

  void SetReadyCallback(std::function<void()> callback) override {
    {
      MutexLock lock(&state_->callback_mu);
      state_->callback = std::move(callback);
      if (!state_->callback) return;
    }
    bool pending;
    {
      ReaderMutexLock lock(&shared_->mu);
      pending = !CheckUsable().ok() || shared_->state.HasPending(*state_);
    }
    if (pending) {
      MutexLock lock(&state_->callback_mu);
      if (state_->callback) state_->callback();
    }
  }

  int64_t revision() const override { return revision_; }

 private:
  // OK while the watch can deliver: not cancelled by closing, not overtaken by compaction.
  absl::Status CheckUsable() const ABSL_SHARED_LOCKS_REQUIRED(shared_->mu) {
    if (shared_->closed) return absl::CancelledError("the store was closed");
    const int64_t compacted = shared_->state.compacted_revision();
    if (state_->compacted || state_->next_revision <= compacted) {
      return absl::OutOfRangeError(fmt::format(
          "watch of \"{}\": revision {} was compacted before it was delivered (history "
          "starts at {}); re-list and watch again",
          state_->prefix, state_->next_revision, compacted));
    }
    return absl::OkStatus();
  }

  const std::shared_ptr<Shared> shared_;
  const std::shared_ptr<WatchState> state_;
  int64_t revision_;  // the consumer's
};

// ------------------------------------------------------------------ the store

class MemoryStoreImpl final : public MemoryStore {
 public:
  MemoryStoreImpl(const MemoryStoreOptions& options, std::unique_ptr<internal::Wal> wal)
      : options_(options),
        shared_(std::make_shared<Shared>(options.history_limit)),
        wal_(std::move(wal)),
        snapshot_due_bytes_(options.snapshot_every_bytes),
        timer_guard_(std::make_shared<TimerGuard>(this)) {}

  // Durable mode: loads the newest snapshot and applies the log after it, as the store
  // applied it the first time. History is rebuilt from the log records after the
  // snapshot; the snapshot itself carries none, so history starts at its revision.
  absl::Status Recover() {
    {
      MutexLock lock(&shared_->mu);
      StoreState& state = shared_->state;
      const Clock& clock = *options_.clock;
      if (std::optional<internal::WalSnapshot> snapshot = wal_->TakeRecoveredSnapshot()) {
        absl::StatusOr<internal::StateImage> image = internal::DecodeSnapshot(snapshot->data);
        if (!image.ok()) {
          return Annotate(image.status(),
                          fmt::format("data directory {}: snapshot at lsn {}", options_.data_dir,
                                      snapshot->lsn));
        }
        state.Restore(*image, clock);
      }
      ReadyCursors none;  // no watcher exists yet
      ORCH_RETURN_IF_ERROR(wal_->Replay([&](internal::Lsn lsn, std::string_view record) {
        absl::StatusOr<Mutation> mutation = internal::DecodeMutation(record);
        if (!mutation.ok()) {
          return Annotate(mutation.status(), fmt::format("data directory {}: log record {}",
                                                         options_.data_dir, lsn));
        }
        state.Apply(std::move(mutation).value(), clock, &none);
        return absl::OkStatus();
      }));
      state.Publish(state.revision(), &none);
      published_revision_.store(state.published_revision());
      log_bytes_since_snapshot_.store(wal_->bytes_since_snapshot());
      const absl::Time next = state.NextExpiry();
      next_expiry_nanos_.store(next == absl::InfiniteFuture() ? kNoExpiry
                                                               : absl::ToUnixNanos(next));
    }
    ScheduleLeaseTimer();
    return absl::OkStatus();
  }

  ~MemoryStoreImpl() override {
    {
      MutexLock lock(&timer_guard_->mu);  // waits for a lease timer in flight
      timer_guard_->store = nullptr;
    }
    {
      MutexLock lock(&timer_mu_);
      if (timer_id_ != 0) options_.executor->Cancel(timer_id_);
    }
    Wakeups wakeups;
    {
      MutexLock lock(&shared_->mu);
      shared_->closed = true;
      ReadyCursors all;
      shared_->state.AllCursors(&all);
      wakeups = ToWakeups(all);
    }
    Deliver(wakeups);
  }

  absl::StatusOr<int64_t> Create(std::string_view key, SharedBytes value,
                                 LeaseId lease) override {
    ORCH_RETURN_IF_ERROR(CheckKey(key));
    ExpireLeases();
    PreparedMutation put = Prepare(Mutation::Put(std::string(key), std::move(value), lease));
    int64_t revision = 0;
    ORCH_RETURN_IF_ERROR(Write([&](WriteScope& write) -> absl::Status {
      const StoreState& state = write.state();
      const KeyHistory* history = state.Find(key);
      if (history != nullptr && history->Current() != nullptr) {
        return absl::AlreadyExistsError(fmt::format("key \"{}\" already exists", key));
      }
      if (lease != 0 && state.FindLease(lease) == nullptr) return LeaseNotFound(lease);
      ORCH_RETURN_IF_ERROR(write.Commit(std::move(put)));
      revision = state.revision();
      return absl::OkStatus();
    }));
    return revision;
  }

  absl::StatusOr<int64_t> Update(std::string_view key, SharedBytes value,
                                 int64_t expected_revision, LeaseId lease) override {
    ORCH_RETURN_IF_ERROR(CheckKey(key));
    ORCH_RETURN_IF_ERROR(CheckRevisionArgument(expected_revision, "expected_revision"));
    ExpireLeases();
    PreparedMutation put = Prepare(Mutation::Put(std::string(key), std::move(value), lease));
    int64_t revision = 0;
    ORCH_RETURN_IF_ERROR(Write([&](WriteScope& write) -> absl::Status {
      const StoreState& state = write.state();
      ORCH_RETURN_IF_ERROR(CheckExpected(state, key, expected_revision));
      if (lease != 0 && state.FindLease(lease) == nullptr) return LeaseNotFound(lease);
      ORCH_RETURN_IF_ERROR(write.Commit(std::move(put)));
      revision = state.revision();
      return absl::OkStatus();
    }));
    return revision;
  }

  absl::StatusOr<KeyValue> Delete(std::string_view key, int64_t expected_revision) override {
    ORCH_RETURN_IF_ERROR(CheckKey(key));
    ORCH_RETURN_IF_ERROR(CheckRevisionArgument(expected_revision, "expected_revision"));
    ExpireLeases();
    KeyValue deleted;
    ORCH_RETURN_IF_ERROR(Write([&](WriteScope& write) -> absl::Status {
      const StoreState& state = write.state();
      ORCH_RETURN_IF_ERROR(CheckExpected(state, key, expected_revision));
      ORCH_RETURN_IF_ERROR(write.Commit(Mutation::Delete(std::string(key))));
      const Event& deletion = *state.last_event();
      deleted = *deletion.prev_kv;
      deleted.mod_revision = deletion.kv.mod_revision;
      return absl::OkStatus();
    }));
    return deleted;
  }

  absl::StatusOr<KeyValue> Get(std::string_view key, int64_t revision) override {
    ORCH_RETURN_IF_ERROR(CheckKey(key));
    ORCH_RETURN_IF_ERROR(CheckRevisionArgument(revision, "revision"));
    ExpireLeases();
    ReaderMutexLock lock(&shared_->mu);
    const StoreState& state = shared_->state;
    if (revision != 0) ORCH_RETURN_IF_ERROR(state.CheckReadable(revision));
    const KeyHistory* history = state.Find(key);
    const Version* version =
        history ? history->At(revision != 0 ? revision : state.revision()) : nullptr;
    if (version == nullptr) return KeyNotFound(key);
    return CopyOut(*history, *version);
  }

  absl::StatusOr<ListResult> List(std::string_view prefix, const ListOptions& options) override {
    if (options.limit < 0) return absl::InvalidArgumentError("limit: must not be negative");
    ORCH_RETURN_IF_ERROR(CheckRevisionArgument(options.revision, "revision"));
    ORCH_ASSIGN_OR_RETURN(internal::ListFilter filter, internal::ListFilter::Create(options));
    ORCH_ASSIGN_OR_RETURN(std::optional<ContinueToken> token,
                          internal::ContinueFrom(prefix, options));
    ExpireLeases();

    // Under the lock only collect the candidates (shared, immutable events); decoding for
    // selectors and copying values happen after it is released.
    std::vector<EventPtr> candidates;
    int64_t revision = 0;
    {
      ReaderMutexLock lock(&shared_->mu);
      const StoreState& state = shared_->state;
      revision = token ? token->revision : options.revision;
      if (revision != 0) {
        ORCH_RETURN_IF_ERROR(state.CheckReadable(revision));
      } else {
        revision = state.revision();
      }
      const size_t wanted = filter.empty() && options.limit > 0
                                ? static_cast<size_t>(options.limit) + 1
                                : std::numeric_limits<size_t>::max();
      auto it = token ? state.keys().upper_bound(token->last_key)
                      : state.keys().lower_bound(prefix);
      for (; it != state.keys().end() && candidates.size() < wanted; ++it) {
        if (!HasPrefix(it->first, prefix)) break;
        const Version* version = it->second->At(revision);
        if (version != nullptr) candidates.push_back(version->event);
      }
    }

    ListResult result;
    result.revision = revision;
    for (const EventPtr& event : candidates) {
      if (!filter.Matches(event->kv.value)) continue;
      if (options.limit > 0 && result.items.size() == static_cast<size_t>(options.limit)) {
        result.continue_token = EncodeContinueToken(revision, result.items.back().key);
        break;
      }
      result.items.push_back(event->kv);
    }
    return result;
  }

  absl::StatusOr<std::unique_ptr<Watcher>> Watch(std::string_view prefix,
                                                 const WatchOptions& options) override {
    ORCH_RETURN_IF_ERROR(
        CheckRevisionArgument(options.from_revision.value_or(0), "from_revision"));
    ExpireLeases();
    auto watch = std::make_shared<WatchState>();
    watch->prefix = std::string(prefix);
    int64_t start = 0;
    {
      MutexLock lock(&shared_->mu);
      StoreState& state = shared_->state;
      start = options.from_revision.value_or(state.revision());
      if (start < state.compacted_revision()) {
        return absl::OutOfRangeError(fmt::format(
            "from_revision {} has been compacted (history starts at {}); re-list and watch "
            "from the list's revision",
            start, state.compacted_revision()));
      }
      watch->next_revision = start + 1;
      state.Register(watch.get());
    }
    return std::make_unique<MemoryWatcher>(shared_, std::move(watch), start);
  }

  absl::StatusOr<int64_t> CurrentRevision() override {
    ExpireLeases();
    ReaderMutexLock lock(&shared_->mu);
    return shared_->state.revision();
  }

  absl::Status Compact(int64_t revision) override {
    ExpireLeases();
    return Write([&](WriteScope& write) -> absl::Status {
      const StoreState& state = write.state();
      if (revision > state.revision()) {
        return absl::InvalidArgumentError(fmt::format(
            "revision: {} is newer than the current revision {}", revision, state.revision()));
      }
      if (revision <= state.compacted_revision()) return absl::OkStatus();
      return write.Commit(Mutation::Compact(revision));
    });
  }

  absl::StatusOr<LeaseId> GrantLease(absl::Duration ttl) override {
    if (ttl <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError("ttl: must be positive");
    }
    ExpireLeases();
    LeaseId id = 0;
    ORCH_RETURN_IF_ERROR(Write([&](WriteScope& write) -> absl::Status {
      id = write.state().NextLeaseId();
      return write.Commit(Mutation::GrantLease(id, absl::ToInt64Nanoseconds(ttl)));
    }));
    return id;
  }

  absl::Status KeepAlive(LeaseId lease) override {
    ExpireLeases();
    return Write([&](WriteScope& write) -> absl::Status {
      if (write.state().FindLease(lease) == nullptr) return LeaseNotFound(lease);
      return write.Commit(Mutation::KeepAlive(lease));
    });
  }

  absl::Status RevokeLease(LeaseId lease) override {
    ExpireLeases();
    return Write([&](WriteScope& write) -> absl::Status {
      if (write.state().FindLease(lease) == nullptr) return LeaseNotFound(lease);
      return write.Commit(Mutation::RevokeLease(lease));
    });
  }

  absl::StatusOr<absl::Duration> LeaseTimeToLive(LeaseId lease) override {
    ExpireLeases();
    ReaderMutexLock lock(&shared_->mu);
    const internal::Lease* found = shared_->state.FindLease(lease);
    if (found == nullptr) return LeaseNotFound(lease);
    return std::max(found->expiry - options_.clock->Now(), absl::ZeroDuration());
  }

 private:
  // A mutation and, in durable mode, its log record. A put is prepared before the lock is
  // taken (its bytes are known before its preconditions are checked), so the lock is not
  // held while a value is copied and encoded.
  struct PreparedMutation {
    Mutation mutation;
    std::string record;  // empty when not durable
  };
  PreparedMutation Prepare(Mutation mutation) const {
    std::string record = wal_ ? internal::EncodeMutation(mutation) : std::string();
    return {std::move(mutation), std::move(record)};
  }

  // One write call: holds the store lock (exclusively) from construction to Finish.
  class WriteScope {
   public:
    explicit WriteScope(MemoryStoreImpl* store) : store_(store) { store_->shared_->mu.Lock(); }
    ~WriteScope() {
      if (locked_) Finish().IgnoreError();
    }
    WriteScope(const WriteScope&) = delete;
    WriteScope& operator=(const WriteScope&) = delete;

    StoreState& state() ABSL_NO_THREAD_SAFETY_ANALYSIS { return store_->shared_->state; }

    // OK, or why this store takes no more writes (see Refuse).
    absl::Status CheckWritable() const ABSL_NO_THREAD_SAFETY_ANALYSIS {
      return store_->shared_->refusal;
    }

    // Applies one mutation: the single place where a MemoryStore's state changes. In
    // durable mode the mutation is first put in the log's order (log order is revision
    // order); Finish waits for it to be on disk.
    absl::Status Commit(Mutation mutation) {
      return Commit(store_->Prepare(std::move(mutation)));
    }
    absl::Status Commit(PreparedMutation prepared) ABSL_NO_THREAD_SAFETY_ANALYSIS {
      Mutation& mutation = prepared.mutation;
      if (internal::Wal* wal = store_->wal_.get()) {
        absl::StatusOr<internal::Lsn> lsn = wal->Enqueue(prepared.record);
        if (!lsn.ok()) {
          if (lsn.status().code() == absl::StatusCode::kInvalidArgument) {
            return absl::InvalidArgumentError(
                fmt::format("value: too large for the write-ahead log: {}",
                            std::string(lsn.status().message())));
          }
          return store_->RefuseLocked(lsn.status());
        }
        lsn_ = *lsn;
        store_->log_bytes_since_snapshot_.fetch_add(static_cast<int64_t>(prepared.record.size()));
      }
      const bool lease_kind = mutation.kind != Mutation::Kind::kPut &&
                              mutation.kind != Mutation::Kind::kDelete &&
                              mutation.kind != Mutation::Kind::kCompact;
      state().Apply(std::move(mutation), *store_->options_.clock, &ready_);
      if (store_->wal_ == nullptr) state().Publish(state().revision(), &ready_);
      committed_ = true;
      if (lease_kind) {
        leases_changed_ = true;
        const absl::Time next = state().NextExpiry();
        store_->next_expiry_nanos_.store(next == absl::InfiniteFuture() ? kNoExpiry
                                                                         : absl::ToUnixNanos(next));
      }
      return absl::OkStatus();
    }

    // Releases the lock; in durable mode waits until the log holds everything this call
    // saw (its own mutations and every one applied before them, so even a failed
    // precondition was decided on durable state), then lets watchers see it. Afterwards
    // wakes the ready watchers, re-arms the lease timer and writes a snapshot when one is
    // due. Returns the error that makes the call's outcome unknown, if any.
    absl::Status Finish() ABSL_NO_THREAD_SAFETY_ANALYSIS {
      internal::Wal* wal = store_->wal_.get();
      const bool sync = wal != nullptr && CheckWritable().ok();
      const internal::Lsn sync_to = !sync ? 0 : committed_ ? lsn_ : wal->last_lsn();
      const int64_t publish_to = state().revision();
      Wakeups wakeups = ToWakeups(ready_);
      store_->shared_->mu.Unlock();
      locked_ = false;
      absl::Status status;
      if (sync) {
        status = wal->Sync(sync_to);
        if (status.ok()) {
          store_->PublishDurable(publish_to, &wakeups);
        } else {
          status = store_->Refuse(status);
        }
      }
      Deliver(wakeups);
      if (leases_changed_) store_->ScheduleLeaseTimer();
      if (wal != nullptr) store_->MaybeSnapshot();
      return status;
    }

   private:
    MemoryStoreImpl* const store_;
    bool locked_ = true;
    bool committed_ = false;
    internal::Lsn lsn_ = 0;  // of the last mutation committed
    ReadyCursors ready_;
    bool leases_changed_ = false;
  };

  // Runs `decide` under the store lock: it checks preconditions and commits mutations.
  // Returns its outcome once everything it saw is durable.
  absl::Status Write(absl::FunctionRef<absl::Status(WriteScope&)> decide) {
    WriteScope write(this);
    absl::Status outcome = write.CheckWritable();
    if (outcome.ok()) outcome = decide(write);
    ORCH_RETURN_IF_ERROR(write.Finish());
    return outcome;
  }

  // Lets watchers see the durable changes up to `revision`. Writers acknowledged by one
  // group commit all call this; the first one publishes for all.
  void PublishDurable(int64_t revision, Wakeups* wakeups) {
    if (revision <= published_revision_.load()) return;
    MutexLock lock(&shared_->mu);
    ReadyCursors ready;
    shared_->state.Publish(revision, &ready);
    published_revision_.store(shared_->state.published_revision());
    for (auto& wakeup : ToWakeups(ready)) wakeups->push_back(std::move(wakeup));
  }

  // After the log failed, the state in memory may hold writes the disk does not: serving
  // further writes on top of it could acknowledge what a restart loses. Reads go on.
  // Returns the refusal every later write gets.
  absl::Status Refuse(const absl::Status& cause) {
    MutexLock lock(&shared_->mu);
    return RefuseLocked(cause);
  }
  absl::Status RefuseLocked(const absl::Status& cause) ABSL_NO_THREAD_SAFETY_ANALYSIS {
    if (shared_->refusal.ok()) {
      shared_->refusal = absl::FailedPreconditionError(fmt::format(
          "MemoryStore in {} takes no more writes until it is reopened, because writing its "
          "log failed: {}",
          options_.data_dir, std::string(cause.message())));
      refusing_writes_.store(true);
    }
    return shared_->refusal;
  }

  // Lets a lease timer reach the store only while it exists.
  struct TimerGuard {
    explicit TimerGuard(MemoryStoreImpl* s) : store(s) {}
    Mutex mu;
    MemoryStoreImpl* store ABSL_GUARDED_BY(mu);
  };

  // Deletes the keys of every lease that has expired. Cheap when none has: one atomic load,
  // and a clock read only while leases exist. Its writes are logged like any other; a
  // store that refuses writes expires nothing.
  void ExpireLeases() {
    const int64_t next = next_expiry_nanos_.load();
    if (next == kNoExpiry || refusing_writes_.load()) return;
    const absl::Time now = options_.clock->Now();
    if (absl::ToUnixNanos(now) < next) return;
    Write([&](WriteScope& write) -> absl::Status {
      for (LeaseId id : write.state().ExpiredLeases(now)) {
        ORCH_RETURN_IF_ERROR(write.Commit(Mutation::RevokeLease(id)));
      }
      return absl::OkStatus();
    }).IgnoreError();  // the caller's own call reports a failed log
  }

  // Durable mode: once the log has grown by snapshot_every_bytes, one caller at a time
  // writes a snapshot of the state (taken under the lock with the log position it stands
  // for, written outside it). A failed snapshot is tried again after as many more bytes.
  void MaybeSnapshot() {
    if (log_bytes_since_snapshot_.load() < snapshot_due_bytes_.load()) return;
    if (snapshotting_.exchange(true)) return;
    internal::StateImage image;
    internal::Lsn lsn = 0;
    {
      ReaderMutexLock lock(&shared_->mu);  // Enqueue needs it exclusively
      image = shared_->state.Image();
      lsn = wal_->last_lsn();
      log_bytes_since_snapshot_.store(0);
    }
    const absl::Status written = wal_->WriteSnapshot(lsn, internal::EncodeSnapshot(image));
    if (written.ok()) {
      snapshot_due_bytes_.store(options_.snapshot_every_bytes);
    } else {
      snapshot_due_bytes_.fetch_add(options_.snapshot_every_bytes);
      if (!wal_->status().ok()) Refuse(wal_->status()).IgnoreError();
    }
    snapshotting_.store(false);
  }

  // Keeps one executor timer set for the earliest lease expiry.
  void ScheduleLeaseTimer() {
    if (options_.executor == nullptr) return;
    const int64_t next_nanos = next_expiry_nanos_.load();
    if (next_nanos == kNoExpiry) return;
    const absl::Time next = absl::FromUnixNanos(next_nanos);
    MutexLock lock(&timer_mu_);
    if (timer_id_ != 0 && timer_at_ <= next) return;
    if (timer_id_ != 0) options_.executor->Cancel(timer_id_);
    timer_at_ = next;
    timer_id_ = options_.executor->PostAfter(next - options_.clock->Now(),
                                             [guard = timer_guard_] {
                                               MutexLock lock(&guard->mu);
                                               if (guard->store) guard->store->OnLeaseTimer();
                                             });
  }

  void OnLeaseTimer() {
    {
      MutexLock lock(&timer_mu_);
      timer_id_ = 0;
      timer_at_ = absl::InfiniteFuture();
    }
    ExpireLeases();
    ScheduleLeaseTimer();
  }

  const MemoryStoreOptions options_;
  const std::shared_ptr<Shared> shared_;
  // Durable mode only (null otherwise): the log, and the revision watchers see
  // (mirrors the state's published_revision(), so most acknowledged writers skip the lock).
  const std::unique_ptr<internal::Wal> wal_;
  std::atomic<int64_t> published_revision_{0};
  std::atomic<bool> refusing_writes_{false};
  // Log bytes enqueued since the state of the last snapshot was taken (approximate), and
  // how many make the next one due.
  std::atomic<int64_t> log_bytes_since_snapshot_{0};
  std::atomic<int64_t> snapshot_due_bytes_;
  std::atomic<bool> snapshotting_{false};
  // The earliest lease expiry in Unix nanoseconds, kNoExpiry without leases; lets every
  // call skip expiry without taking the lock.
  std::atomic<int64_t> next_expiry_nanos_{kNoExpiry};

  const std::shared_ptr<TimerGuard> timer_guard_;
  Mutex timer_mu_;
  TimerId timer_id_ ABSL_GUARDED_BY(timer_mu_) = 0;
  absl::Time timer_at_ ABSL_GUARDED_BY(timer_mu_) = absl::InfiniteFuture();
};

}  // namespace

absl::StatusOr<std::unique_ptr<MemoryStore>> MemoryStore::Open(MemoryStoreOptions options) {
  if (options.clock == nullptr) return absl::InvalidArgumentError("clock: must not be null");
  if (options.history_limit < 0) {
    return absl::InvalidArgumentError("history_limit: must not be negative");
  }
  if (options.data_dir.empty()) {
    return std::unique_ptr<MemoryStore>(new MemoryStoreImpl(options, nullptr));
  }
  if (options.snapshot_every_bytes <= 0) {
    return absl::InvalidArgumentError("snapshot_every_bytes: must be positive");
  }
  ORCH_ASSIGN_OR_RETURN(
      std::unique_ptr<internal::Wal> wal,
      internal::Wal::Open({.dir = options.data_dir,
                           .segment_bytes = SegmentBytesFor(options.snapshot_every_bytes)}));
  auto store = std::make_unique<MemoryStoreImpl>(options, std::move(wal));
  ORCH_RETURN_IF_ERROR(store->Recover());
  return std::unique_ptr<MemoryStore>(std::move(store));
}

}  // namespace orch::store
