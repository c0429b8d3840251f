#include "store/store_state.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <utility>

#include "fmt/format.h"

namespace orch::store::internal {
namespace {

bool HasPrefix(const std::string& key, std::string_view prefix) {
  return key.size() >= prefix.size() && std::string_view(key).substr(0, prefix.size()) == prefix;
}

}  // namespace

// ------------------------------------------------------------------ Version, KeyHistory

Version Version::Of(EventPtr event) {
  Version v;
  v.mod_revision = event->kv.mod_revision;
  v.deleted = event->type == Event::Type::kDelete;
  v.event = std::move(event);
  return v;
}

KeyHistory::Ptr KeyHistory::Create(std::string_view key) {
  void* memory = ::operator new(sizeof(KeyHistory) + key.size());
  auto* history = new (memory) KeyHistory(key.size());
  if (!key.empty()) std::memcpy(reinterpret_cast<char*>(history + 1), key.data(), key.size());
  return Ptr(history);
}

void KeyHistory::SetLatest(const Event& event) {
  latest_ = {event.kv.create_revision, event.kv.version, event.kv.lease, event.kv.value};
}

void KeyHistory::Push(EventPtr event) {
  SetLatest(*event);
  versions_.push_back(Version::Of(std::move(event)));
}

bool KeyHistory::Forget(const EventPtr& event, int64_t revision) {
  auto superseded = std::find_if(versions_.begin(), versions_.end(),
                                 [&](const Version& v) { return v.mod_revision >= revision; });
  versions_.erase(versions_.begin(), superseded);
  if (!versions_.empty() && versions_.front().mod_revision == revision &&
      versions_.front().deleted) {
    versions_.erase(versions_.begin());
  }
  if (versions_.empty()) return false;
  // A value nobody overwrote within the history keeps only what reads need: the event
  // without the previous value it carried for watchers.
  Version& only = versions_.front();
  if (versions_.size() == 1 && only.event == event && only.event->prev_kv) {
    if (only.event.use_count() == 2) {
      // Held by this version and the history entry being dropped only: no reader can see
      // it change (readers copy events out of the history under the state's lock), so it
      // loses the previous value in place, with no copy of its key and value.
      const_cast<Event&>(*only.event).prev_kv.reset();
    } else {
      auto slim = std::make_shared<Event>();
      slim->type = Event::Type::kPut;
      slim->kv = only.event->kv;
      SetLatest(*slim);
      only = Version::Of(std::move(slim));
    }
  }
  return true;
}

void KeyHistory::Deleter::operator()(KeyHistory* history) const {
  history->~KeyHistory();
  ::operator delete(history);
}

const Version* KeyHistory::At(int64_t revision) const {
  for (auto it = versions_.rbegin(); it != versions_.rend(); ++it) {
    if (it->mod_revision <= revision) return it->deleted ? nullptr : &*it;
  }
  return nullptr;
}

const Version* KeyHistory::Current() const {
  if (versions_.empty() || versions_.back().deleted) return nullptr;
  return &versions_.back();
}

// ------------------------------------------------------------------ applying mutations

void StoreState::Apply(Mutation m, const Clock& clock, ReadyCursors* ready) {
  switch (m.kind) {
    case Mutation::Kind::kPut:
      Put(std::move(m.key), std::move(m.value), m.lease, ready);
      break;
    case Mutation::Kind::kDelete:
      Delete(m.key, ready);
      break;
    case Mutation::Kind::kGrantLease: {
      Lease& lease = leases_[m.lease];
      lease.ttl = absl::Nanoseconds(m.ttl_nanos);
      SetExpiry(m.lease, lease, clock.Now() + lease.ttl);
      next_lease_id_ = std::max(next_lease_id_, m.lease + 1);
      break;
    }
    case Mutation::Kind::kKeepAlive: {
      auto it = leases_.find(m.lease);
      if (it != leases_.end()) SetExpiry(m.lease, it->second, clock.Now() + it->second.ttl);
      break;
    }
    case Mutation::Kind::kRevokeLease:
      RevokeLease(m.lease, ready);
      break;
    case Mutation::Kind::kCompact:
      Compact(std::min(m.revision, revision_), ready);
      break;
  }
}

void StoreState::Put(std::string key, SharedBytes value, LeaseId lease, ReadyCursors* ready) {
  KeyHistory* history = FindMutable(key);
  if (history == nullptr) {
    KeyHistory::Ptr owned = KeyHistory::Create(key);
    history = owned.get();
    index_.insert(std::move(owned));
    keys_.emplace(history->key(), history);
  }
  const Version* current = history->Current();

  auto event = std::make_shared<Event>();
  event->type = Event::Type::kPut;
  KeyValue& kv = event->kv;
  kv.key = std::move(key);
  kv.value = std::move(value);
  kv.mod_revision = revision_ + 1;
  kv.create_revision = current ? current->kv().create_revision : kv.mod_revision;
  kv.version = current ? current->kv().version + 1 : 1;
  kv.lease = lease;
  if (current) {
    event->prev_kv = current->kv();
    if (current->kv().lease != lease) Detach(current->kv().lease, kv.key);
  }
  if (lease != 0) {
    auto lease_it = leases_.find(lease);
    if (lease_it != leases_.end()) lease_it->second.keys.insert(kv.key);
  }
  Append(std::move(event), history, ready);
}

void StoreState::Delete(std::string_view key, ReadyCursors* ready) {
  KeyHistory* history = FindMutable(key);
  const Version* current = history ? history->Current() : nullptr;
  if (current == nullptr) return;

  auto event = std::make_shared<Event>();
  event->type = Event::Type::kDelete;
  event->kv.key = current->kv().key;
  event->kv.mod_revision = revision_ + 1;
  event->prev_kv = current->kv();
  Detach(current->kv().lease, event->kv.key);
  Append(std::move(event), history, ready);
}

void StoreState::RevokeLease(LeaseId id, ReadyCursors* ready) {
  auto it = leases_.find(id);
  if (it == leases_.end()) return;
  // Deleting detaches each key from the lease, so walk a copy of the set.
  const absl::btree_set<std::string> keys = std::move(it->second.keys);
  expiries_.erase({it->second.expiry, id});
  leases_.erase(it);
  for (const std::string& key : keys) Delete(key, ready);
}

void StoreState::SetExpiry(LeaseId id, Lease& lease, absl::Time expiry) {
  expiries_.erase({lease.expiry, id});
  lease.expiry = expiry;
  expiries_.insert({expiry, id});
}

void StoreState::Detach(LeaseId lease, const std::string& key) {
  if (lease == 0) return;
  auto it = leases_.find(lease);
  if (it != leases_.end()) it->second.keys.erase(key);
}

// Records a put or delete at the next revision and keeps history within its limit.
void StoreState::Append(EventPtr event, KeyHistory* key, ReadyCursors* ready) {
  ++revision_;
  key->Push(event);
  history_.push_back({std::move(event), key});
  if (history_limit_ > 0 && revision_ - compacted_revision_ > history_limit_) {
    Compact(revision_ - history_limit_, ready);
  }
}

void StoreState::Publish(int64_t revision, ReadyCursors* ready) {
  revision = std::min(revision, revision_);
  for (int64_t r = published_revision_ + 1; r <= revision && !cursors_.empty(); ++r) {
    const std::string& key = history_[IndexOf(r)].event->kv.key;
    for (WatchCursor* cursor : cursors_) {
      // A cursor that starts after r (a watch from an applied, unpublished revision)
      // does not want r.
      if (!cursor->armed || cursor->compacted || cursor->next_revision > r) continue;
      if (HasPrefix(key, cursor->prefix)) {
        cursor->armed = false;
        ready->push_back(cursor);
      } else if (cursor->next_revision == r) {
        // Idle and nothing for it: it moves past r now, while r's key is at hand, so
        // neither its next read nor compaction (ReleaseCursors) looks at r again.
        cursor->next_revision = r + 1;
      }
    }
  }
  published_revision_ = std::max(published_revision_, revision);
}

// ------------------------------------------------------------------ snapshots

StateImage StoreState::Image() const {
  StateImage image;
  image.revision = revision_;
  image.next_lease_id = next_lease_id_;
  image.leases.reserve(leases_.size());
  for (const auto& [id, lease] : leases_) {
    image.leases.push_back({id, absl::ToInt64Nanoseconds(lease.ttl)});
  }
  std::sort(image.leases.begin(), image.leases.end(),
            [](const StateImage::LeaseEntry& a, const StateImage::LeaseEntry& b) {
              return a.id < b.id;
            });
  image.live.reserve(keys_.size());
  for (const auto& [key, history] : keys_) {
    if (const Version* current = history->Current()) image.live.push_back(current->event);
  }
  return image;
}

void StoreState::Restore(const StateImage& image, const Clock& clock) {
  revision_ = image.revision;
  compacted_revision_ = image.revision;
  published_revision_ = image.revision;
  next_lease_id_ = image.next_lease_id;
  const absl::Time now = clock.Now();
  for (const StateImage::LeaseEntry& entry : image.leases) {
    Lease& lease = leases_[entry.id];
    lease.ttl = absl::Nanoseconds(entry.ttl_nanos);
    SetExpiry(entry.id, lease, now + lease.ttl);
  }
  for (const EventPtr& event : image.live) {
    KeyHistory::Ptr owned = KeyHistory::Create(event->kv.key);
    KeyHistory* history = owned.get();
    index_.insert(std::move(owned));
    keys_.emplace(history->key(), history);
    history->Push(event);
    if (event->kv.lease != 0) leases_[event->kv.lease].keys.insert(event->kv.key);
  }
}

// ------------------------------------------------------------------ compaction

void StoreState::Compact(int64_t revision, ReadyCursors* ready) {
  if (revision <= compacted_revision_) return;
  ReleaseCursors(revision, ready);
  // History is dense: the oldest event is at compacted_revision_ + 1, so the loop needs
  // no look at the events themselves (each long out of the CPU's caches).
  while (compacted_revision_ < revision && !history_.empty()) {
    DropOldestEvent(compacted_revision_ + 1);
    ++compacted_revision_;
  }
  compacted_revision_ = revision;
  // Events compacted before they were published reach no watcher: ReleaseCursors finished
  // every cursor that needed one.
  published_revision_ = std::max(published_revision_, revision);
}

// A watcher still positioned at or before `revision` either had nothing to see there (it
// moves past the compacted span) or misses an event it needed (it is finished, and told).
void StoreState::ReleaseCursors(int64_t revision, ReadyCursors* ready) {
  for (WatchCursor* cursor : cursors_) {
    if (cursor->compacted || cursor->next_revision > revision) continue;
    bool needed = false;
    for (int64_t r = cursor->next_revision; r <= revision && !needed; ++r) {
      needed = HasPrefix(history_[IndexOf(r)].event->kv.key, cursor->prefix);
    }
    if (!needed) {
      cursor->next_revision = revision + 1;
      continue;
    }
    cursor->compacted = true;
    if (cursor->armed) {
      cursor->armed = false;
      ready->push_back(cursor);
    }
  }
}

void StoreState::DropOldestEvent(int64_t revision) {
  HistoryEntry entry = std::move(history_.front());
  history_.pop_front();
  if (!entry.key->Forget(entry.event, revision)) Erase(entry.key);
}

// ------------------------------------------------------------------ reads

absl::Status StoreState::CheckReadable(int64_t revision) const {
  if (revision < compacted_revision_) {
    return absl::OutOfRangeError(
        fmt::format("revision {} has been compacted (history starts at {})", revision,
                    compacted_revision_));
  }
  if (revision > revision_) {
    return absl::InvalidArgumentError(
        fmt::format("revision {} is newer than the current revision {}", revision, revision_));
  }
  return absl::OkStatus();
}

const KeyHistory* StoreState::Find(std::string_view key) const {
  auto it = index_.find(key);
  return it == index_.end() ? nullptr : it->get();
}

KeyHistory* StoreState::FindMutable(std::string_view key) {
  auto it = index_.find(key);
  return it == index_.end() ? nullptr : it->get();
}

void StoreState::Erase(KeyHistory* key) {
  const std::string_view name = key->key();
  keys_.erase(name);
  index_.erase(name);  // destroys *key: `name` is not used after this
}

const Lease* StoreState::FindLease(LeaseId id) const {
  auto it = leases_.find(id);
  return it == leases_.end() ? nullptr : &it->second;
}

absl::Time StoreState::NextExpiry() const {
  return expiries_.empty() ? absl::InfiniteFuture() : expiries_.begin()->first;
}

std::vector<LeaseId> StoreState::ExpiredLeases(absl::Time now) const {
  std::vector<LeaseId> expired;
  for (const auto& [expiry, id] : expiries_) {
    if (expiry > now) break;
    expired.push_back(id);
  }
  return expired;
}

// ------------------------------------------------------------------ watch cursors

void StoreState::ReadEvents(WatchCursor& cursor, size_t max, std::vector<EventPtr>* out) const {
  const size_t end = PublishedEnd();
  size_t index = IndexOf(cursor.next_revision);
  size_t taken = 0;
  for (; index < end && taken < max; ++index) {
    const EventPtr& event = history_[index].event;
    if (HasPrefix(event->kv.key, cursor.prefix)) {
      out->push_back(event);
      ++taken;
    }
  }
  const bool drained = index >= end;
  cursor.armed = drained;
  if (drained) {
    cursor.next_revision = std::max(cursor.next_revision, published_revision_ + 1);
  } else {
    cursor.next_revision = compacted_revision_ + 1 + static_cast<int64_t>(index);
  }
}

bool StoreState::SkipToPending(WatchCursor& cursor) const {
  const size_t end = PublishedEnd();
  size_t index = IndexOf(cursor.next_revision);
  for (; index < end; ++index) {
    if (HasPrefix(history_[index].event->kv.key, cursor.prefix)) {
      cursor.next_revision = compacted_revision_ + 1 + static_cast<int64_t>(index);
      return true;
    }
  }
  cursor.next_revision = std::max(cursor.next_revision, published_revision_ + 1);
  return false;
}

bool StoreState::HasPending(const WatchCursor& cursor) const {
  const size_t end = PublishedEnd();
  for (size_t index = IndexOf(cursor.next_revision); index < end; ++index) {
    if (HasPrefix(history_[index].event->kv.key, cursor.prefix)) return true;
  }
  return false;
}

void StoreState::AllCursors(ReadyCursors* out) const {
  for (WatchCursor* cursor : cursors_) out->push_back(cursor);
}

}  // namespace orch::store::internal
