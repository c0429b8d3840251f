// MemoryStore: the embedded default Store, in memory, optionally durable to a directory.
//
// Implements every contract of orch/store/store.h. State is kept as a multi-version map
// so Get/List at an older revision and paginated lists are consistent; watch history is
// kept until compacted (explicitly, or automatically beyond `history_limit` revisions).
//
// Durability: with a non-empty `data_dir`, every write is appended to a write-ahead log
// and acknowledged only once the log is on disk (fsync, with group commit: concurrent
// writers share one fsync). Snapshots bound recovery time. After a crash at any moment
// (kill -9, power loss with a disk that honours fsync), Open recovers every acknowledged
// write and no partial one. In durable mode:
//   - A write returns, with its result or with an error such as kAborted, only once the
//     state it was decided on is durable. Watchers see a change only once it is durable,
//     so no component acts on a change a crash could take back; Get, List and
//     CurrentRevision may show a change a moment earlier, while its writer still waits
//     for the disk.
//   - Lease expiries are logged like any write; after a restart every lease starts its
//     ttl again (as etcd does), and lease ids are never reused.
//   - History is rebuilt from the log after the newest snapshot; a snapshot holds none.
//     After a restart, reads and watches at revisions before the snapshot's revision fail
//     kOutOfRange: treat a restart like a compaction (re-list).
//   - If writing the log fails (an fsync error, a full disk), that write fails and every
//     later write fails kFailedPrecondition naming the directory and the cause: memory
//     may then hold a write the disk does not, and building on it could acknowledge what
//     a restart loses. Reads go on; reopen the store to recover what is on disk.
// docs/reference/durability.md has the files, the formats and measured throughput.
//
// Thread safety: all methods may be called concurrently (see Store).
// Leases expire on `clock`; expiry is checked on every call and, when `executor` is
// given, by a timer, so keys vanish on time even when nobody calls the store.
#ifndef ORCH_STORE_MEMORY_STORE_H_
#define ORCH_STORE_MEMORY_STORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "orch/base/clock.h"
#include "orch/base/executor.h"
#include "orch/store/store.h"

namespace orch::store {

struct MemoryStoreOptions {
  // Time for leases. Not owned; must outlive the store.
  Clock* clock = &Clock::Real();
  // Runs lease-expiry timers when set. Not owned; must outlive the store.
  Executor* executor = nullptr;
  // Empty: in memory only. Otherwise the directory holding the log and snapshots
  // (created if missing). Only one MemoryStore may use a directory at a time.
  std::string data_dir;
  // History kept for watches and old-revision reads before automatic compaction.
  // 0 keeps everything until Compact is called.
  int64_t history_limit = 100000;
  // Durable mode: a snapshot is written once the log has grown by this many bytes, by the
  // write that crosses the mark (after its own record is durable, before it returns).
  // Recovery replays at most about this much log; the log on disk stays within about two
  // intervals. Must be positive.
  int64_t snapshot_every_bytes = 64 << 20;
};

class MemoryStore : public Store {
 public:
  // Opens a store; in durable mode, recovers the directory's state first.
  // kInvalidArgument for a null clock, a negative history_limit or (durable) a
  // snapshot_every_bytes below 1; kFailedPrecondition if the directory is in use (by this
  // or another process) or its files are not orch's; kDataLoss if a log or snapshot is
  // corrupt beyond a torn final write.
  static absl::StatusOr<std::unique_ptr<MemoryStore>> Open(MemoryStoreOptions options = {});

  ~MemoryStore() override = default;

 protected:
  MemoryStore() = default;
};

}  // namespace orch::store

#endif  // ORCH_STORE_MEMORY_STORE_H_
