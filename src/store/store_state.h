// StoreState: MemoryStore's data, and the one function that changes it.
//
// Each key has a KeyHistory: the versions that reads at retained revisions need. A hash
// index finds it for point operations, a btree orders keys for List. A version is the
// Event that produced it, shared: the watch history, every watcher that polls it and every
// old-revision read point at the same immutable Event, so a value is stored once however
// many watchers see it.
//
// History is dense: every revision from compacted_revision()+1 to revision() has exactly
// one Event. Watchers read it through their own WatchCursor. Compacting revision r drops the
// Event of r and the versions it superseded, so the state at compacted_revision() and later
// stays readable while older versions go.
//
// Publishing. Reads see every applied change at once; watchers see changes only up to
// published_revision(). An in-memory store publishes each change as it applies it; a
// durable one publishes once the change's log record is on disk, so no watcher acts on a
// change that a crash could take back.
//
// Not thread-safe: MemoryStore guards it with one mutex.
#ifndef ORCH_SRC_STORE_STORE_STATE_H_
#define ORCH_SRC_STORE_STORE_STATE_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "absl/hash/hash.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "orch/base/clock.h"
#include "orch/store/store.h"
#include "store/mutation.h"

namespace orch::store::internal {

// One state of a key: a kPut Event holds its value, a kDelete Event marks it deleted.
struct Version {
  static Version Of(EventPtr event);

  int64_t mod_revision = 0;
  bool deleted = false;  // event->type == kDelete, kept here so lookups touch no Event
  EventPtr event;

  const KeyValue& kv() const { return event->kv; }
};

// The newest version's fields as a read returns them, so a Get at the current revision
// touches neither the Event nor anything but the history and the value's reference count.
struct LatestFields {
  int64_t create_revision = 0;
  int64_t version = 0;
  LeaseId lease = 0;
  SharedBytes value;
};

// A key's versions. One allocation holds the history and the key's bytes, so a lookup
// touches one place; the maps of StoreState view the key, so a KeyHistory never moves.
class KeyHistory {
 public:
  struct Deleter {
    void operator()(KeyHistory* history) const;
  };
  using Ptr = std::unique_ptr<KeyHistory, Deleter>;

  static Ptr Create(std::string_view key);
  KeyHistory(const KeyHistory&) = delete;
  KeyHistory& operator=(const KeyHistory&) = delete;

  std::string_view key() const {
    return {reinterpret_cast<const char*>(this + 1), key_size_};
  }

  // The live version as of `revision`, or nullptr if the key did not exist then.
  const Version* At(int64_t revision) const;
  const Version* Current() const;

  // Ascending mod_revision; the last one is the key's current state.
  const absl::InlinedVector<Version, 2>& versions() const { return versions_; }
  // Mirrors versions().back(); see LatestFields.
  const LatestFields& latest() const { return latest_; }

  // Adds the newest version.
  void Push(EventPtr event);
  // Compaction of the event at `revision` (which produced one of these versions): versions
  // it superseded can no longer be read, and its deletion marker is not needed once nothing
  // older remains. Returns false when no version is left (the key can go).
  bool Forget(const EventPtr& event, int64_t revision);

 private:
  explicit KeyHistory(size_t key_size) : key_size_(key_size) {}
  ~KeyHistory() = default;
  void SetLatest(const Event& event);

  absl::InlinedVector<Version, 2> versions_;
  LatestFields latest_;
  const size_t key_size_;  // the key's bytes follow the object
};

struct Lease {
  absl::Duration ttl;
  absl::Time expiry;
  absl::btree_set<std::string> keys;
};

// Where one watcher is in the history. Owned by the watcher; registered with StoreState
// while the watch lasts. The owner's consumer reads and advances it with the state's lock
// held (shared is enough: one consumer per watcher); everything else needs it exclusively.
struct WatchCursor {
  std::string prefix;
  int64_t next_revision = 1;  // the first revision not yet examined
  // Report the next matching event: the consumer drained everything and is idle. Atomic
  // because a consumer sets it under the shared lock.
  std::atomic<bool> armed{true};
  bool compacted = false;     // an event this watcher needed was compacted away: finished
};

// Cursors that became ready (armed and a matching event was published, or compacted)
// under the lock. Their owners are told once the lock is released.
using ReadyCursors = absl::InlinedVector<WatchCursor*, 8>;

// A consistent copy of a StoreState's data, cheap to take under the lock (the live
// versions are the shared, immutable Events), written out as a snapshot afterwards. It
// holds no history: a state restored from it starts with history at `revision`.
struct StateImage {
  struct LeaseEntry {
    LeaseId id = 0;
    int64_t ttl_nanos = 0;
  };
  int64_t revision = 0;
  LeaseId next_lease_id = 1;
  std::vector<LeaseEntry> leases;  // ascending id
  std::vector<EventPtr> live;      // each live key's current version (a kPut), ascending key
};

class StoreState {
 public:
  // Keys in order, for List. Point lookups go through a hash index instead: a btree of
  // ~50-byte keys costs a cache miss per comparison.
  using KeyMap = absl::btree_map<std::string_view, KeyHistory*>;

  // `history_limit` > 0: after every change, history older than that many revisions is
  // compacted automatically. 0 keeps history until Compact.
  explicit StoreState(int64_t history_limit) : history_limit_(history_limit) {}
  StoreState(const StoreState&) = delete;
  StoreState& operator=(const StoreState&) = delete;

  // The only way state changes. Lease ttls start at clock.Now(). REQUIRES: the mutation's
  // preconditions hold (see mutation.h). Adds the cursors that compaction finished to
  // `*ready`; changes reach watchers when published.
  void Apply(Mutation mutation, const Clock& clock, ReadyCursors* ready);

  // Lets watchers see every change up to `revision` (at most revision()), adding the
  // armed cursors that a newly published event concerns to `*ready`. An armed cursor
  // waiting at an event that does not concern it moves past it.
  void Publish(int64_t revision, ReadyCursors* ready);

  // The state as a snapshot stores it.
  StateImage Image() const;
  // Loads an image into an empty state (none applied or restored yet): keys, leases (each
  // ttl starting again at clock.Now()) and the revision, with history starting there.
  // REQUIRES: the image is consistent (DecodeSnapshot checks it).
  void Restore(const StateImage& image, const Clock& clock);

  int64_t revision() const { return revision_; }
  // Watchers see events up to here. compacted_revision() <= this <= revision().
  int64_t published_revision() const { return published_revision_; }
  // Reads at revisions below this fail; watches must start at or after it.
  int64_t compacted_revision() const { return compacted_revision_; }
  // The Event of the last put or delete applied. REQUIRES: one was applied.
  const EventPtr& last_event() const { return history_.back().event; }

  // OK when the state at `revision` is still known: kOutOfRange below
  // compacted_revision(), kInvalidArgument above revision().
  absl::Status CheckReadable(int64_t revision) const;

  const KeyHistory* Find(std::string_view key) const;
  const KeyMap& keys() const { return keys_; }

  // Leases. NextLeaseId is the id the next grant should use.
  LeaseId NextLeaseId() const { return next_lease_id_; }
  const Lease* FindLease(LeaseId id) const;
  // The earliest lease expiry, or absl::InfiniteFuture().
  absl::Time NextExpiry() const;
  // Leases whose expiry is at or before `now`, earliest first.
  std::vector<LeaseId> ExpiredLeases(absl::Time now) const;

  // Watch cursors. Register starts reporting to `cursor`; Unregister stops (before the
  // cursor is destroyed).
  void Register(WatchCursor* cursor) { cursors_.insert(cursor); }
  void Unregister(WatchCursor* cursor) { cursors_.erase(cursor); }
  // Appends up to `max` published events matching the cursor's prefix and advances it.
  // Arms the cursor when it reaches the end of the published history.
  void ReadEvents(WatchCursor& cursor, size_t max, std::vector<EventPtr>* out) const;
  // Advances the cursor over events that do not match; true if a matching one remains.
  bool SkipToPending(WatchCursor& cursor) const;
  // Whether a matching event is waiting for the cursor, without moving it.
  bool HasPending(const WatchCursor& cursor) const;
  // Every registered cursor (to wake them all when the store closes).
  void AllCursors(ReadyCursors* out) const;

 private:
  struct HistoryEntry {
    EventPtr event;
    KeyHistory* key;  // stable: a key's history is erased only after its last event goes
  };

  KeyHistory* FindMutable(std::string_view key);
  void Put(std::string key, SharedBytes value, LeaseId lease, ReadyCursors* ready);
  void Delete(std::string_view key, ReadyCursors* ready);
  void Erase(KeyHistory* key);
  void RevokeLease(LeaseId id, ReadyCursors* ready);
  void SetExpiry(LeaseId id, Lease& lease, absl::Time expiry);
  void Detach(LeaseId lease, const std::string& key);
  void Append(EventPtr event, KeyHistory* key, ReadyCursors* ready);
  void Compact(int64_t revision, ReadyCursors* ready);
  void ReleaseCursors(int64_t revision, ReadyCursors* ready);
  // Drops history_.front(), the event of `revision` (compacted_revision_ + 1).
  void DropOldestEvent(int64_t revision);
  size_t IndexOf(int64_t revision) const {
    return static_cast<size_t>(revision - compacted_revision_ - 1);
  }
  // One past the index of the last published event.
  size_t PublishedEnd() const { return IndexOf(published_revision_ + 1); }

  const int64_t history_limit_;
  int64_t revision_ = 0;
  int64_t compacted_revision_ = 0;
  int64_t published_revision_ = 0;
  // Owns the histories. A set of pointers hashed by key keeps the probed array small (8
  // bytes a key) and compares keys where the history itself lives.
  struct ByKey {
    using is_transparent = void;
    static std::string_view Key(std::string_view key) { return key; }
    static std::string_view Key(const KeyHistory::Ptr& history) { return history->key(); }
    template <typename T>
    size_t operator()(const T& t) const {
      return absl::Hash<std::string_view>()(Key(t));
    }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return Key(a) == Key(b);
    }
  };
  absl::flat_hash_set<KeyHistory::Ptr, ByKey, ByKey> index_;
  KeyMap keys_;
  std::deque<HistoryEntry> history_;

  LeaseId next_lease_id_ = 1;
  absl::flat_hash_map<LeaseId, Lease> leases_;
  absl::btree_set<std::pair<absl::Time, LeaseId>> expiries_;

  absl::flat_hash_set<WatchCursor*> cursors_;
};

}  // namespace orch::store::internal

#endif  // ORCH_SRC_STORE_STORE_STATE_H_
