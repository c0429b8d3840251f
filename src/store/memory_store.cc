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
#include "absl/strings/escaping.h"
#include "orch/base/mutex.h"
#include "fmt/format.h"
#include "orch/base/status.h"
#include "store/list_filter.h"
#include "store/mutation.h"
#include "store/store_state.h"

namespace orch::store {
namespace {

using internal::KeyHistory;
using internal::Mutation;
using internal::ReadyCursors;
using internal::StoreState;
using internal::Version;

constexpr int64_t kNoExpiry = std::numeric_limits<int64_t>::max();

bool HasPrefix(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

absl::Status CheckKey(std::string_view key) {
  if (key.empty()) return absl::InvalidArgumentError("key: must not be empty");
  return absl::OkStatus();
}

absl::Status CheckRevisionArgument(int64_t revision, std::string_view field) {
  if (revision < 0) {
    return absl::InvalidArgumentError(fmt::format("{}: must not be negative", field));
  }
  return absl::OkStatus();
}

absl::Status KeyNotFound(std::string_view key) {
  return absl::NotFoundError(fmt::format("key \"{}\" not found", key));
}

absl::Status LeaseNotFound(LeaseId lease) {
  return absl::NotFoundError(fmt::format("lease {} not found (expired or revoked)", lease));
}

absl::Status CheckExpected(std::string_view key, const Version& current, int64_t expected) {
  if (expected == 0 || current.mod_revision == expected) return absl::OkStatus();
  return absl::AbortedError(fmt::format(
      "key \"{}\" was modified: expected revision {}, found {}; re-read and retry", key,
      expected, current.mod_revision));
}

// A version as Get returns it. For the newest version (nearly every Get) it is built from
// what the lookup already read — the history, its key, `latest` — and the value's bytes,
// without touching the Event: each dependent cache miss avoided is ~100 ns on a store
// larger than the cache.
KeyValue CopyOut(const KeyHistory& history, const Version& version) {
  KeyValue out;
  out.key = std::string(history.key());
  out.mod_revision = version.mod_revision;
  if (&version == &history.versions().back()) {
    const internal::LatestFields& latest = history.latest();
    out.value = std::string(latest.value);
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

// ------------------------------------------------------------------ continue tokens
// Opaque to callers: web-safe base64 of "<revision>:<last key returned>".

std::string EncodeContinueToken(int64_t revision, std::string_view last_key) {
  std::string raw = fmt::format("{}:{}", revision, last_key);
  std::string token;
  absl::WebSafeBase64Escape(raw, &token);
  return token;
}

struct ContinueToken {
  int64_t revision = 0;
  std::string last_key;
};

absl::StatusOr<ContinueToken> DecodeContinueToken(std::string_view token) {
  const absl::Status malformed = absl::InvalidArgumentError("continue: malformed continue token");
  std::string raw;
  if (!absl::WebSafeBase64Unescape(absl::string_view(token.data(), token.size()), &raw)) {
    return malformed;
  }
  // The decoder forgives stray trailing bits; only a token this store could have made passes.
  std::string canonical;
  absl::WebSafeBase64Escape(raw, &canonical);
  if (canonical != token) return malformed;
  const size_t colon = raw.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == raw.size()) return malformed;
  ContinueToken decoded;
  auto [end, ec] = std::from_chars(raw.data(), raw.data() + colon, decoded.revision);
  if (ec != std::errc() || end != raw.data() + colon || decoded.revision <= 0) return malformed;
  decoded.last_key = raw.substr(colon + 1);
  return decoded;
}

// ------------------------------------------------------------------ watchers

// What the store and its watchers share. Watchers hold it too, so a watcher that outlives
// its store (a contract breach) reads kCancelled instead of freed memory.
struct Shared {
  explicit Shared(int64_t history_limit) : state(history_limit) {}
  Mutex mu;
  StoreState state ABSL_GUARDED_BY(mu);
  bool closed ABSL_GUARDED_BY(mu) = false;
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
  explicit MemoryStoreImpl(const MemoryStoreOptions& options)
      : options_(options),
        shared_(std::make_shared<Shared>(options.history_limit)),
        timer_guard_(std::make_shared<TimerGuard>(this)) {}

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

  absl::StatusOr<int64_t> Create(std::string_view key, std::string_view value,
                                 LeaseId lease) override {
    ORCH_RETURN_IF_ERROR(CheckKey(key));
    ExpireLeases();
    WriteScope write(this);
    const StoreState& state = write.state();
    const KeyHistory* history = state.Find(key);
    if (history != nullptr && history->Current() != nullptr) {
      return absl::AlreadyExistsError(fmt::format("key \"{}\" already exists", key));
    }
    if (lease != 0 && state.FindLease(lease) == nullptr) return LeaseNotFound(lease);
    write.Commit(Mutation::Put(std::string(key), std::string(value), lease));
    return state.revision();
  }

  absl::StatusOr<int64_t> Update(std::string_view key, std::string_view value,
                                 int64_t expected_revision, LeaseId lease) override {
    ORCH_RETURN_IF_ERROR(CheckKey(key));
    ORCH_RETURN_IF_ERROR(CheckRevisionArgument(expected_revision, "expected_revision"));
    ExpireLeases();
    WriteScope write(this);
    const StoreState& state = write.state();
    const KeyHistory* history = state.Find(key);
    const Version* current = history ? history->Current() : nullptr;
    if (current == nullptr) return KeyNotFound(key);
    ORCH_RETURN_IF_ERROR(CheckExpected(key, *current, expected_revision));
    if (lease != 0 && state.FindLease(lease) == nullptr) return LeaseNotFound(lease);
    write.Commit(Mutation::Put(std::string(key), std::string(value), lease));
    return state.revision();
  }

  absl::StatusOr<KeyValue> Delete(std::string_view key, int64_t expected_revision) override {
    ORCH_RETURN_IF_ERROR(CheckKey(key));
    ORCH_RETURN_IF_ERROR(CheckRevisionArgument(expected_revision, "expected_revision"));
    ExpireLeases();
    WriteScope write(this);
    const StoreState& state = write.state();
    const KeyHistory* history = state.Find(key);
    const Version* current = history ? history->Current() : nullptr;
    if (current == nullptr) return KeyNotFound(key);
    ORCH_RETURN_IF_ERROR(CheckExpected(key, *current, expected_revision));
    write.Commit(Mutation::Delete(std::string(key)));
    const Event& deletion = *state.last_event();
    KeyValue deleted = *deletion.prev_kv;
    deleted.mod_revision = deletion.kv.mod_revision;
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
    std::optional<ContinueToken> token;
    if (!options.continue_token.empty()) {
      ORCH_ASSIGN_OR_RETURN(token, DecodeContinueToken(options.continue_token));
      if (!HasPrefix(token->last_key, prefix)) {
        return absl::InvalidArgumentError(
            fmt::format("continue: the token belongs to a list of another prefix than \"{}\"",
                        prefix));
      }
      if (options.revision != 0 && options.revision != token->revision) {
        return absl::InvalidArgumentError(
            "revision: must be 0 or the continue token's revision when continuing a list");
      }
    }
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
    ORCH_RETURN_IF_ERROR(CheckRevisionArgument(options.from_revision, "from_revision"));
    ExpireLeases();
    auto watch = std::make_shared<WatchState>();
    watch->prefix = std::string(prefix);
    int64_t start = options.from_revision;
    {
      MutexLock lock(&shared_->mu);
      StoreState& state = shared_->state;
      if (start == 0) start = state.revision();
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
    WriteScope write(this);
    const StoreState& state = write.state();
    if (revision > state.revision()) {
      return absl::InvalidArgumentError(fmt::format(
          "revision: {} is newer than the current revision {}", revision, state.revision()));
    }
    if (revision <= state.compacted_revision()) return absl::OkStatus();
    write.Commit(Mutation::Compact(revision));
    return absl::OkStatus();
  }

  absl::StatusOr<LeaseId> GrantLease(absl::Duration ttl) override {
    if (ttl <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError("ttl: must be positive");
    }
    ExpireLeases();
    WriteScope write(this);
    const LeaseId id = write.state().NextLeaseId();
    write.Commit(Mutation::GrantLease(id, absl::ToInt64Nanoseconds(ttl)));
    return id;
  }

  absl::Status KeepAlive(LeaseId lease) override {
    ExpireLeases();
    WriteScope write(this);
    if (write.state().FindLease(lease) == nullptr) return LeaseNotFound(lease);
    write.Commit(Mutation::KeepAlive(lease));
    return absl::OkStatus();
  }

  absl::Status RevokeLease(LeaseId lease) override {
    ExpireLeases();
    WriteScope write(this);
    if (write.state().FindLease(lease) == nullptr) return LeaseNotFound(lease);
    write.Commit(Mutation::RevokeLease(lease));
    return absl::OkStatus();
  }

  absl::StatusOr<absl::Duration> LeaseTimeToLive(LeaseId lease) override {
    ExpireLeases();
    ReaderMutexLock lock(&shared_->mu);
    const internal::Lease* found = shared_->state.FindLease(lease);
    if (found == nullptr) return LeaseNotFound(lease);
    return std::max(found->expiry - options_.clock->Now(), absl::ZeroDuration());
  }

 private:
  // One write: holds the store lock from construction to destruction; afterwards (lock
  // released) wakes the watchers the write made ready and re-arms the lease timer.
  class WriteScope {
   public:
    explicit WriteScope(MemoryStoreImpl* store) : store_(store) { store_->shared_->mu.Lock(); }
    ~WriteScope() {
      Wakeups wakeups = ToWakeups(ready_);
      store_->shared_->mu.Unlock();
      Deliver(wakeups);
      if (leases_changed_) store_->ScheduleLeaseTimer();
    }
    WriteScope(const WriteScope&) = delete;
    WriteScope& operator=(const WriteScope&) = delete;

    StoreState& state() ABSL_NO_THREAD_SAFETY_ANALYSIS { return store_->shared_->state; }

    // Applies one mutation: the single place where a MemoryStore's state changes.
    //
    // Durability hooks here: append `mutation` to the write-ahead log before Apply (the
    // caller acknowledges after the log is synced, once the lock is released); replay on
    // Open applies logged mutations through StoreState::Apply in order.
    void Commit(Mutation mutation) ABSL_NO_THREAD_SAFETY_ANALYSIS {
      const bool lease_kind = mutation.kind != Mutation::Kind::kPut &&
                              mutation.kind != Mutation::Kind::kDelete &&
                              mutation.kind != Mutation::Kind::kCompact;
      state().Apply(std::move(mutation), *store_->options_.clock, &ready_);
      if (lease_kind) {
        leases_changed_ = true;
        const absl::Time next = state().NextExpiry();
        store_->next_expiry_nanos_.store(next == absl::InfiniteFuture() ? kNoExpiry
                                                                         : absl::ToUnixNanos(next));
      }
    }

   private:
    MemoryStoreImpl* const store_;
    ReadyCursors ready_;
    bool leases_changed_ = false;
  };

  // Lets a lease timer reach the store only while it exists.
  struct TimerGuard {
    explicit TimerGuard(MemoryStoreImpl* s) : store(s) {}
    Mutex mu;
    MemoryStoreImpl* store ABSL_GUARDED_BY(mu);
  };

  // Deletes the keys of every lease that has expired. Cheap when none has: one atomic load,
  // and a clock read only while leases exist.
  void ExpireLeases() {
    const int64_t next = next_expiry_nanos_.load();
    if (next == kNoExpiry) return;
    const absl::Time now = options_.clock->Now();
    if (absl::ToUnixNanos(now) < next) return;
    WriteScope write(this);
    for (LeaseId id : write.state().ExpiredLeases(now)) {
      write.Commit(Mutation::RevokeLease(id));
    }
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
  if (!options.data_dir.empty()) {
    return absl::FailedPreconditionError("durable MemoryStore not available yet");
  }
  return std::unique_ptr<MemoryStore>(new MemoryStoreImpl(options));
}

}  // namespace orch::store
