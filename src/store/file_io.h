// Internal: the few POSIX file operations the write-ahead log needs, as absl::Status.
//
// Every error names the operation and the path ("fdatasync /data/wal-...log: Input/output
// error") and carries the code absl::ErrnoToStatus gives the errno. Nothing throws.
#ifndef ORCH_SRC_STORE_FILE_IO_H_
#define ORCH_SRC_STORE_FILE_IO_H_

#include <sys/types.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace orch::store::internal {

// "`op` `path`: <strerror(err)>" with the code of `err`.
absl::Status PosixError(std::string_view op, const std::string& path, int err);

std::string JoinPath(std::string_view dir, std::string_view name);

// An open file descriptor; closes it when destroyed. Movable, not copyable.
class File {
 public:
  File() = default;
  File(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  File(File&& other) noexcept;
  File& operator=(File&& other) noexcept;
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  ~File();

  bool is_open() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }

  // Writes all of `parts`, in order, at the file position (retrying short writes and
  // EINTR). On error an unknown prefix may have been written.
  absl::Status Write(std::span<const std::string_view> parts);
  absl::Status Write(std::string_view data) { return Write(std::span(&data, 1)); }
  // fdatasync: the data written so far, and the size, are on disk.
  absl::Status DataSync();
  absl::Status Truncate(uint64_t size);
  absl::StatusOr<uint64_t> Size() const;
  void Close();

 private:
  int fd_ = -1;
  std::string path_;
};

// open(2) with O_CLOEXEC added.
absl::StatusOr<File> OpenFile(const std::string& path, int flags, mode_t mode = 0644);
absl::StatusOr<std::string> ReadFile(const std::string& path);
// Makes the directory's entries (creations, renames) durable.
absl::Status SyncDir(const std::string& dir);
// Names in `dir`, without "." and "..", in no particular order.
absl::StatusOr<std::vector<std::string>> ListDir(const std::string& dir);
absl::Status RenameFile(const std::string& from, const std::string& to);
absl::Status RemoveFile(const std::string& path);

// Creates dir/name holding `parts` so that after a crash it is either absent or whole:
// writes dir/name.tmp, fdatasyncs it, renames it into place and fsyncs the directory.
// With `sync` false the syncs are skipped (not durable). An existing dir/name is replaced.
absl::Status WriteFileAtomically(const std::string& dir, const std::string& name,
                                 std::span<const std::string_view> parts, bool sync);

}  // namespace orch::store::internal

#endif  // ORCH_SRC_STORE_FILE_IO_H_
