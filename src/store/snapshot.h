// Internal: snapshot files of the write-ahead log (format in store/wal_format.h).
#ifndef ORCH_SRC_STORE_SNAPSHOT_H_
#define ORCH_SRC_STORE_SNAPSHOT_H_

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "store/wal.h"

namespace orch::store::internal {

// "snap-<lsn, 20 digits>.snap"
std::string SnapshotFileName(Lsn lsn);
std::optional<Lsn> ParseSnapshotFileName(std::string_view name);

// Writes dir/SnapshotFileName(lsn) atomically (temp file, fdatasync, rename, directory
// fsync; no syncs when `sync` is false).
absl::Status WriteSnapshotFile(const std::string& dir, Lsn lsn, std::string_view data,
                               bool sync);

// Reads and checks a snapshot file named for `expected_lsn`.
// kDataLoss if it is damaged (short, bad magic, bad checksum, wrong LSN);
// kFailedPrecondition if a newer format version wrote it; I/O errors as they come.
absl::StatusOr<WalSnapshot> ReadSnapshotFile(const std::string& path, Lsn expected_lsn);

}  // namespace orch::store::internal

#endif  // ORCH_SRC_STORE_SNAPSHOT_H_
