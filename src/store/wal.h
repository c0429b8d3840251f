// Internal: the write-ahead log and snapshots that make a MemoryStore durable.
//
// Not public API: MemoryStore's durable mode is built on it. docs/reference/durability.md
// describes the files and the guarantees; store/wal_format.h defines the bytes.
//
// A Wal owns one data directory. It stores opaque records, numbered 1, 2, 3, ... in the
// order they were enqueued (the LSN, log sequence number), and snapshots: opaque bytes
// from the caller that stand for every record up to an LSN. Recovery hands back the
// newest valid snapshot and every record after it, in order.
//
// Durability. A record is durable once Sync (or Append) returned OK for its LSN or a
// later one: it is then on disk (fdatasync) and survives kill -9 and power loss on a
// disk that honours fsync. Concurrent writers share fsyncs (group commit): one waiting
// writer at a time leads a group, writing and syncing everything enqueued so far in one
// write and one fdatasync; records enqueued meanwhile go into the next group, whose
// leader first waits briefly for the writers just acknowledged to come back
// (WalOptions::gather_group).
// With WalOptions::sync false nothing is ever synced: the log then survives kill -9 of
// the process (the kernel still has the data) but NOT power loss or an OS crash. For
// tests only.
//
// Failure. A failed write or sync poisons the log: that call and every later write call
// fail kFailedPrecondition naming the cause, because after a failed fsync the kernel may
// have dropped the data and retrying could report a write durable that is not. Reopen
// (e.g. restart the process) to recover from what is on disk. The records of the failed
// group were never acknowledged; after a reopen each of them is either wholly there or
// wholly absent (like any write whose outcome the caller never learned).
//
// Typical use by a store (log order = revision order, fsync outside the store lock):
//
//   ORCH_ASSIGN_OR_RETURN(std::unique_ptr<Wal> wal, Wal::Open({.dir = data_dir}));
//   if (std::optional<WalSnapshot> s = wal->TakeRecoveredSnapshot()) Restore(s->data);
//   ORCH_RETURN_IF_ERROR(wal->Replay([&](Lsn, std::string_view r) { return Apply(r); }));
//   ...
//   Lsn lsn;
//   { MutexLock l(&mu_);  ORCH_ASSIGN_OR_RETURN(lsn, wal->Enqueue(record));
//     apply the write in memory; }
//   ORCH_RETURN_IF_ERROR(wal->Sync(lsn));   // now acknowledge
//   ...
//   if (wal->bytes_since_snapshot() > limit) {
//     { MutexLock l(&mu_);  data = Serialize();  lsn = wal->last_lsn(); }
//     ORCH_RETURN_IF_ERROR(wal->WriteSnapshot(lsn, data));
//   }
//
// Thread safety: Enqueue, Sync, Append, WriteSnapshot and the accessors may be called
// concurrently from any threads. TakeRecoveredSnapshot and Replay are for recovery: call
// them after Open and before WriteSnapshot, not concurrently with each other.
// Ownership: the caller owns the Wal; destroying it flushes enqueued records (best
// effort), closes the files and releases the directory. REQUIRES: no call in progress.
#ifndef ORCH_SRC_STORE_WAL_H_
#define ORCH_SRC_STORE_WAL_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "orch/base/mutex.h"

namespace orch::store::internal {

class File;  // store/file_io.h

// Log sequence number: records are numbered from 1; 0 means "before the first record".
using Lsn = uint64_t;

struct WalOptions {
  // The data directory; created (with parents) if missing.
  std::string dir;
  // A group that starts when the current segment holds at least this many bytes starts a
  // new segment file, so a segment may exceed it by one group.
  int64_t segment_bytes = 64 << 20;
  // false: never fsync. NOT durable against power loss or an OS crash; for tests only.
  bool sync = true;
  // A new group's leader first waits for the writers the previous group acknowledged to
  // come back with their next record (at most a quarter of the recent group time), so
  // steady concurrent writers share one sync instead of alternating between two groups.
  // A lone writer never waits; nor does anyone without `sync`. false: a leader writes
  // at once.
  bool gather_group = true;
};

// A snapshot: the caller's bytes, standing for every record with LSN <= lsn.
struct WalSnapshot {
  Lsn lsn = 0;
  std::string data;
};

// What Open found and repaired, for logs and tests.
struct WalRecoveryInfo {
  std::string snapshot_file;  // the snapshot recovered from; empty if none
  // Snapshots newer than that one that were skipped because they are invalid, each as
  // "path: reason".
  std::vector<std::string> skipped_snapshots;
  // A torn final write removed from the end of the last segment (never acknowledged).
  std::string truncated_file;  // empty if nothing was truncated
  uint64_t truncated_at = 0;   // offset the file was cut at
  uint64_t truncated_bytes = 0;
  std::string truncated_reason;
  Lsn last_lsn = 0;  // the last record in the log after recovery
};

// Counters since Open, for benchmarks and metrics.
struct WalStats {
  uint64_t groups = 0;   // group commits: one write and (with sync) one fdatasync each
  uint64_t records = 0;  // records they carried
  uint64_t bytes = 0;    // bytes they wrote, framing included
};

class Wal {
 public:
  // Largest record Enqueue accepts.
  static constexpr size_t kMaxRecordBytes = size_t{1} << 30;

  // Opens `options.dir`: locks it, loads the newest valid snapshot, checks every segment
  // after it and cuts a torn final write off the last one. Errors:
  //   kInvalidArgument    bad options (the message names the field)
  //   kFailedPrecondition the directory is in use by another process or Wal ("data
  //                       directory /x is in use by another process"), holds files that
  //                       are not orch's, or was written by a newer format version
  //   kDataLoss           a segment is corrupt other than by a torn final write, or records
  //                       between the snapshot and the log are missing (file and offset
  //                       in the message)
  //   others              I/O errors, with the path
  static absl::StatusOr<std::unique_ptr<Wal>> Open(WalOptions options);

  Wal(const Wal&) = delete;
  Wal& operator=(const Wal&) = delete;
  ~Wal();

  // ---- recovery ----

  // The snapshot Open recovered (nullopt if none); hands the bytes over, so a second
  // call returns nullopt.
  std::optional<WalSnapshot> TakeRecoveredSnapshot();

  // Calls `callback` for each record after the recovered snapshot (all records if there
  // is none), in LSN order, including records appended since Open. Stops at and returns
  // the first error of `callback`; kDataLoss if a segment changed under the Wal.
  // The string_view is valid only during the call. `callback` must not call this Wal's
  // write methods (writes wait for Replay to finish).
  using RecordCallback = absl::FunctionRef<absl::Status(Lsn lsn, std::string_view record)>;
  absl::Status Replay(RecordCallback callback);

  // ---- writing ----

  // Puts `record` in the log's order and returns its LSN, without waiting for the disk:
  // the record is NOT durable until Sync(lsn) returns OK. Cheap and non-blocking, so a
  // store can call it under its own lock to make log order equal its write order.
  // kInvalidArgument if the record exceeds kMaxRecordBytes; kFailedPrecondition once
  // poisoned.
  absl::StatusOr<Lsn> Enqueue(std::string_view record);

  // Returns once every record up to `lsn` is durable, leading a group commit if no other
  // writer is. kInvalidArgument if `lsn` was never enqueued; kFailedPrecondition once
  // poisoned (unless `lsn` was already durable before that).
  absl::Status Sync(Lsn lsn);

  // Enqueue + Sync: returns the record's LSN once it is durable.
  absl::StatusOr<Lsn> Append(std::string_view record);

  // Writes a snapshot standing for every record up to `lsn` (first making the log durable
  // up to `lsn`), atomically: a crash leaves either the new snapshot or none of it.
  // Then deletes the snapshots older than the one before it and the segments whose
  // records that older one covers, so recovery can fall back one snapshot.
  // kInvalidArgument if `lsn` is beyond last_lsn() or before the newest snapshot.
  // Slow (writes and syncs `data`), but does not block Enqueue or Sync meanwhile;
  // concurrent WriteSnapshot calls run one at a time.
  absl::Status WriteSnapshot(Lsn lsn, std::string_view data);

  // ---- state ----

  Lsn last_lsn() const;     // the last record enqueued (0 if none)
  Lsn durable_lsn() const;  // every record up to this one is durable
  // Log bytes enqueued since the last snapshot written or recovered (approximate): for
  // deciding when to write the next snapshot.
  int64_t bytes_since_snapshot() const;
  // OK, or the error that poisoned the log.
  absl::Status status() const;
  WalStats stats() const;
  const WalRecoveryInfo& recovery_info() const { return recovery_; }
  const std::string& dir() const { return options_.dir; }

 private:
  struct Segment {
    Lsn first_lsn = 0;
    std::string path;
  };
  // Records enqueued together, written as one batch: `bytes` starts with room for the
  // batch header, then the record frames.
  struct Batch {
    Lsn first_lsn = 0;
    uint32_t count = 0;
    std::string bytes;
  };

  Wal(WalOptions options, std::unique_ptr<File> lock_file);

  absl::Status Recover();
  absl::Status RecoverSegments(std::vector<Segment> segments);
  void LeadGroup() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void GatherGroup() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status WriteGroup(std::vector<Batch>& group) ABSL_EXCLUSIVE_LOCKS_REQUIRED(io_mu_);
  absl::Status StartSegment(Lsn first_lsn) ABSL_EXCLUSIVE_LOCKS_REQUIRED(io_mu_);
  void RemoveFilesBefore(std::optional<Lsn> previous_snapshot, Lsn newest_snapshot);

  const WalOptions options_;
  std::unique_ptr<File> lock_file_;  // holds the flock while open

  // Set by Open; then read-only (the snapshot data is handed over once).
  WalRecoveryInfo recovery_;
  std::optional<WalSnapshot> recovered_snapshot_;
  Lsn replay_after_ = 0;

  // Enqueueing and group commit.
  mutable Mutex mu_;
  std::vector<Batch> pending_ ABSL_GUARDED_BY(mu_);  // enqueued, not yet taken by a leader
  Lsn next_lsn_ ABSL_GUARDED_BY(mu_) = 1;
  Lsn durable_lsn_ ABSL_GUARDED_BY(mu_) = 0;
  bool leader_active_ ABSL_GUARDED_BY(mu_) = false;
  // Writers wait on group_done_[g % 2] for group g: a finished group wakes its own
  // writers and one writer of the next group (to lead it), not everyone.
  CondVar group_done_[2];
  uint64_t groups_started_ ABSL_GUARDED_BY(mu_) = 0;
  Lsn in_flight_last_ ABSL_GUARDED_BY(mu_) = 0;  // last LSN of the latest group started
  // Group gathering (WalOptions::gather_group): threads waiting in Sync, how many of them
  // the last group acknowledged, how many have come to Sync since, and the recent time
  // one group took to write and sync. A gathering leader waits on gathered_.
  CondVar gathered_;
  bool gathering_ ABSL_GUARDED_BY(mu_) = false;
  int waiters_ ABSL_GUARDED_BY(mu_) = 0;
  int last_group_writers_ ABSL_GUARDED_BY(mu_) = 0;
  int arrivals_since_group_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Duration group_time_ ABSL_GUARDED_BY(mu_);
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  int64_t bytes_since_snapshot_ ABSL_GUARDED_BY(mu_) = 0;
  WalStats stats_ ABSL_GUARDED_BY(mu_);

  // The segment files. Held by the one group leader while it writes (never together
  // with mu_), by Replay, and briefly by WriteSnapshot.
  Mutex io_mu_;
  std::vector<Segment> segments_ ABSL_GUARDED_BY(io_mu_);  // by LSN; back() is active
  std::unique_ptr<File> active_ ABSL_GUARDED_BY(io_mu_);
  uint64_t active_size_ ABSL_GUARDED_BY(io_mu_) = 0;
  bool active_has_records_ ABSL_GUARDED_BY(io_mu_) = false;

  // Serializes WriteSnapshot.
  Mutex snapshot_mu_;
  std::optional<Lsn> newest_snapshot_ ABSL_GUARDED_BY(snapshot_mu_);
  std::optional<Lsn> previous_snapshot_ ABSL_GUARDED_BY(snapshot_mu_);
};

}  // namespace orch::store::internal

#endif  // ORCH_SRC_STORE_WAL_H_
