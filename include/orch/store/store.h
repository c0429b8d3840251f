// Store: where all of orch's desired and observed state lives.
//
// Every hand-off between orch's components is an object written to or watched from a
// Store. Keys are `/registry/<resource>/<namespace>/<name>` (cluster-scoped kinds omit the
// namespace, see orch/store/keys.h); values are serialized protobuf messages whose fields
// 1-3 are api_version, kind and metadata (orch.api.v1.ObjectHeader).
//
// Revisions. The store has one global revision, incremented by every successful write
// (Create, Update, Delete) and by the removal of a lease's keys when it expires or is
// revoked: MemoryStore removes them one revision per key, etcd all in one revision (their
// delete events then share it). A key's mod_revision is the revision of its last write:
// that is the object's resourceVersion.
//
// Errors (absl::Status codes, by what the caller should do):
//   kAlreadyExists  Create of an existing key.
//   kNotFound       Get/Update/Delete of a missing key; an expired or unknown lease.
//   kAborted        Update/Delete whose expected revision is not the key's mod_revision:
//                   re-read and retry.
//   kOutOfRange     a List or Watch at a revision that has been compacted: re-list.
//   kInvalidArgument a malformed key, selector, continue token or option.
//   kUnavailable    the backend cannot be reached right now (etcd): retry the call.
// A failed call changes nothing.
//
// Thread safety: every method of every Store may be called concurrently from any thread.
// Ownership: a Store outlives its Watchers (destroy watchers first).
#ifndef ORCH_STORE_STORE_H_
#define ORCH_STORE_STORE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "orch/api/selector.h"

namespace orch::store {

// A lease: keys attached to it are deleted when it expires or is revoked. 0 means none.
using LeaseId = int64_t;

// An immutable byte string shared by reference. Copying one copies a pointer, so Get, List,
// every watcher and every old-revision read hand out the bytes the store holds instead of
// copying a ~1 KB object each time. The bytes never change while any copy lives.
//
// The decoded form. A writer in this process may attach the message it encoded these
// bytes from (AttachDecoded), after its write succeeded; the first reader that wants the
// message takes it (TakeDecoded) instead of parsing the bytes. That is how an informer on a
// MemoryStore skips one decode per write made through a Client of the same process. Stores
// never read it: EtcdStore drops it with the bytes it sends, and values read back from etcd
// have none. What the message holds beyond the parse of the bytes is the attaching layer's
// contract with the taking one (orch's Client sets metadata.resourceVersion to the write's
// revision, and its readers check that before using it); the taker must check. The bytes
// remember, without keeping it alive, which message they handed out (IsTakenAs): a writer
// handed that very message back knows it is these bytes' decoded form without comparing.
//
// Thread safety: a SharedBytes may be copied and read from any number of threads at once;
// AttachDecoded, TakeDecoded and IsTakenAs may race with each other and with reads (the
// message changes hands atomically, taken at most once).
class SharedBytes {
 public:
  SharedBytes() = default;
  // Takes the bytes over (no copy when `bytes` is an rvalue).
  SharedBytes(std::string bytes)  // NOLINT(google-explicit-constructor): a value type
      : blob_(bytes.empty() ? nullptr : std::make_shared<const Blob>(std::move(bytes))) {}
  SharedBytes(std::string_view bytes) : SharedBytes(std::string(bytes)) {}  // NOLINT
  SharedBytes(const char* bytes) : SharedBytes(std::string(bytes)) {}       // NOLINT

  // The bytes; valid while this SharedBytes (or a copy of it) lives.
  const std::string& str() const { return blob_ ? blob_->bytes : Empty(); }
  operator std::string_view() const { return str(); }  // NOLINT: reads like a string
  const char* data() const { return str().data(); }
  size_t size() const { return blob_ ? blob_->bytes.size() : 0; }
  bool empty() const { return size() == 0; }

  // Gives `decoded` to the first TakeDecoded of these bytes (through any copy of this
  // SharedBytes). Dropped when a message was attached before, when a TakeDecoded came
  // first (that reader parsed; nobody would take it), or when the bytes are empty.
  void AttachDecoded(std::unique_ptr<google::protobuf::Message> decoded) const;
  // The attached message, once: null if none was attached or another reader took it.
  std::shared_ptr<const google::protobuf::Message> TakeDecoded() const;
  // Whether `object` is the message TakeDecoded handed out, still alive. Identity, not
  // content: a copy of that message, however equal, is not it.
  bool IsTakenAs(const google::protobuf::Message& object) const;
  // Whether a message is attached and not taken yet.
  bool HoldsDecoded() const;

  friend bool operator==(const SharedBytes& a, const SharedBytes& b) {
    return a.blob_ == b.blob_ || a.str() == b.str();
  }
  friend bool operator==(const SharedBytes& a, std::string_view b) { return a.str() == b; }
  friend bool operator==(const SharedBytes& a, const std::string& b) { return a.str() == b; }
  friend bool operator==(const SharedBytes& a, const char* b) { return a.str() == b; }
  friend std::ostream& operator<<(std::ostream& os, const SharedBytes& bytes);

 private:
  struct Blob {
    explicit Blob(std::string b) : bytes(std::move(b)) {}
    Blob(const Blob&) = delete;
    Blob& operator=(const Blob&) = delete;
    ~Blob();
    const std::string bytes;
    // nullptr until attached; then the attached message (owned); once a reader took it,
    // its address with the lowest bit set while it lives (not owned: see HandedOut); else
    // kTaken (a reader looked when nothing was attached, or what it took is gone).
    mutable std::atomic<google::protobuf::Message*> decoded{nullptr};
  };
  struct HandedOut;  // deletes a message TakeDecoded handed out (store.cc)
  static const std::string& Empty();
  std::shared_ptr<const Blob> blob_;
};

struct KeyValue {
  std::string key;
  SharedBytes value;  // shared with the store: copying a KeyValue does not copy the value
  int64_t create_revision = 0;  // revision of the Create
  int64_t mod_revision = 0;     // revision of the last write: the resourceVersion
  int64_t version = 0;          // writes since Create, starting at 1
  LeaseId lease = 0;
};

struct Event {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  // kPut: the key's new state. kDelete: key, and mod_revision = the revision of the
  // deletion; value empty.
  KeyValue kv;
  // The key's state before this event; always present for kDelete, absent for the kPut
  // of a Create.
  std::optional<KeyValue> prev_kv;
};
using EventPtr = std::shared_ptr<const Event>;

struct ListOptions {
  // Only objects whose labels match. Empty matches everything.
  api::LabelSelector labels;
  // Only objects whose fields match (metadata.name, metadata.namespace, spec.nodeName,
  // status.phase, or any scalar field path). Empty matches everything.
  api::FieldSelector fields;
  // The message type values decode to. REQUIRED when `fields` is not empty.
  const google::protobuf::Message* prototype = nullptr;
  // At most this many items per call; 0 means all. When more remain, ListResult carries
  // a continue token.
  int64_t limit = 0;
  // From a previous ListResult: continues that list at that list's revision.
  std::string continue_token;
  // List the state as of this revision (0 = the current one). kOutOfRange if compacted.
  int64_t revision = 0;
};

struct ListResult {
  std::vector<KeyValue> items;  // ordered by key
  int64_t revision = 0;         // the revision this list is consistent at
  std::string continue_token;   // empty when this is the last page
};

// The receiving end of Store::Watch. Delivers every change under the watched prefix with
// a revision greater than the starting revision, exactly once, in revision order.
//
// Thread safety: Poll, Wait and revision() may be called from one consumer thread at a
// time; the ready callback may run on any thread.
class Watcher {
 public:
  Watcher() = default;
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;
  // Stops the watch. Never blocks on the ready callback of another thread for long.
  virtual ~Watcher() = default;

  // Appends up to `max` pending events to `*events` without blocking; returns OK with
  // nothing appended when none is pending. kOutOfRange when the next event this watcher
  // needs has been compacted away (the watcher is then finished: re-list, watch again).
  // kUnavailable when the watch broke and could not resume; kCancelled after the store
  // was closed.
  virtual absl::Status Poll(std::vector<EventPtr>* events, size_t max = SIZE_MAX) = 0;

  // Blocks (in real time) until Poll would return something, or `timeout` passes.
  // Returns true if something is pending.
  virtual bool Wait(absl::Duration timeout) = 0;

  // `callback` runs each time events become pending after a Poll had drained everything
  // (and once right away if some already are). It runs on the writer's thread with no
  // store lock held, so it must be quick and must not call Poll: post work to an
  // Executor instead. Replaces any earlier callback; an empty function clears it.
  virtual void SetReadyCallback(std::function<void()> callback) = 0;

  // The revision of the last event returned by Poll (or the starting revision).
  virtual int64_t revision() const = 0;
};

struct WatchOptions {
  // Deliver changes with revision > from_revision (0: every change the store has kept).
  // Unset means "from now": changes after the current revision. A client that lists and
  // then watches passes the list's revision, even 0 (an empty store), so that a change
  // made between the two is not missed.
  std::optional<int64_t> from_revision;
};

class Store {
 public:
  Store() = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;
  virtual ~Store() = default;

  // Creates `key`. Returns the new revision (the object's resourceVersion).
  // kAlreadyExists if the key exists. `lease` (if non-zero) must be a live lease.
  virtual absl::StatusOr<int64_t> Create(std::string_view key, SharedBytes value,
                                         LeaseId lease = 0) = 0;

  // Replaces the value of an existing key. If `expected_revision` is non-zero it must
  // equal the key's mod_revision, else kAborted. Returns the new revision. The key's lease
  // becomes `lease`: 0 detaches it from any lease, as etcd's put does.
  virtual absl::StatusOr<int64_t> Update(std::string_view key, SharedBytes value,
                                         int64_t expected_revision, LeaseId lease = 0) = 0;

  // Deletes an existing key, with the same precondition as Update. Returns the deleted
  // state, with mod_revision set to the revision of the deletion.
  virtual absl::StatusOr<KeyValue> Delete(std::string_view key,
                                          int64_t expected_revision = 0) = 0;

  // The key's state now, or at `revision` (kOutOfRange if compacted).
  virtual absl::StatusOr<KeyValue> Get(std::string_view key, int64_t revision = 0) = 0;

  // Keys starting with `prefix`, filtered and paginated as `options` say; every page of
  // one list is consistent at the first page's revision.
  virtual absl::StatusOr<ListResult> List(std::string_view prefix,
                                          const ListOptions& options = {}) = 0;

  // Watches keys starting with `prefix`. kOutOfRange if options.from_revision has been
  // compacted.
  virtual absl::StatusOr<std::unique_ptr<Watcher>> Watch(std::string_view prefix,
                                                         const WatchOptions& options = {}) = 0;

  // The current global revision.
  virtual absl::StatusOr<int64_t> CurrentRevision() = 0;

  // Forgets history before `revision` (not the current state): later reads at older
  // revisions and watches from older revisions fail kOutOfRange. The state at `revision`
  // stays readable and a watch from `revision` misses nothing, so list-then-watch works
  // right after compacting everything (etcd's semantics). Compacting an already compacted
  // revision is OK; one newer than the current revision is kInvalidArgument.
  virtual absl::Status Compact(int64_t revision) = 0;

  // Leases, on the store's clock. A lease expires `ttl` after its grant or last
  // KeepAlive; its keys are then deleted (delete events are delivered as for Delete).
  virtual absl::StatusOr<LeaseId> GrantLease(absl::Duration ttl) = 0;
  virtual absl::Status KeepAlive(LeaseId lease) = 0;  // kNotFound if expired or revoked
  virtual absl::Status RevokeLease(LeaseId lease) = 0;
  // Time left before the lease expires; kNotFound if expired or revoked.
  virtual absl::StatusOr<absl::Duration> LeaseTimeToLive(LeaseId lease) = 0;
};

// Forwards every call to another Store. Derive from it to override only what a test
// double needs (fault injection, counting, latency).
class StoreWrapper : public Store {
 public:
  // `target` must outlive the wrapper.
  explicit StoreWrapper(Store* target) : target_(target) {}

  absl::StatusOr<int64_t> Create(std::string_view key, SharedBytes value,
                                 LeaseId lease = 0) override {
    return target_->Create(key, std::move(value), lease);
  }
  absl::StatusOr<int64_t> Update(std::string_view key, SharedBytes value,
                                 int64_t expected_revision, LeaseId lease = 0) override {
    return target_->Update(key, std::move(value), expected_revision, lease);
  }
  absl::StatusOr<KeyValue> Delete(std::string_view key, int64_t expected_revision = 0) override {
    return target_->Delete(key, expected_revision);
  }
  absl::StatusOr<KeyValue> Get(std::string_view key, int64_t revision = 0) override {
    return target_->Get(key, revision);
  }
  absl::StatusOr<ListResult> List(std::string_view prefix, const ListOptions& options = {}) override {
    return target_->List(prefix, options);
  }
  absl::StatusOr<std::unique_ptr<Watcher>> Watch(std::string_view prefix,
                                                 const WatchOptions& options = {}) override {
    return target_->Watch(prefix, options);
  }
  absl::StatusOr<int64_t> CurrentRevision() override { return target_->CurrentRevision(); }
  absl::Status Compact(int64_t revision) override { return target_->Compact(revision); }
  absl::StatusOr<LeaseId> GrantLease(absl::Duration ttl) override { return target_->GrantLease(ttl); }
  absl::Status KeepAlive(LeaseId lease) override { return target_->KeepAlive(lease); }
  absl::Status RevokeLease(LeaseId lease) override { return target_->RevokeLease(lease); }
  absl::StatusOr<absl::Duration> LeaseTimeToLive(LeaseId lease) override {
    return target_->LeaseTimeToLive(lease);
  }

 protected:
  Store* target() const { return target_; }

 private:
  Store* const target_;
};

}  // namespace orch::store

#endif  // ORCH_STORE_STORE_H_
