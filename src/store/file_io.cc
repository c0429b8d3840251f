#include "store/file_io.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace orch::store::internal {

absl::Status PosixError(std::string_view op, const std::string& path, int err) {
  return absl::ErrnoToStatus(err, absl::StrCat(absl::string_view(op.data(), op.size()), " ", path));
}

std::string JoinPath(std::string_view dir, std::string_view name) {
  std::string out(dir);
  if (!out.empty() && out.back() != '/') out.push_back('/');
  out.append(name);
  return out;
}

File::File(File&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)) {}

File& File::operator=(File&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
  }
  return *this;
}

File::~File() { Close(); }

void File::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

absl::Status File::Write(std::span<const std::string_view> parts) {
  std::vector<iovec> iov;
  iov.reserve(parts.size());
  for (std::string_view p : parts) {
    if (!p.empty()) iov.push_back({const_cast<char*>(p.data()), p.size()});
  }
  size_t next = 0;  // first iovec not fully written
  while (next < iov.size()) {
    const int count = static_cast<int>(std::min<size_t>(iov.size() - next, IOV_MAX));
    const ssize_t n = ::writev(fd_, &iov[next], count);
    if (n < 0) {
      if (errno == EINTR) continue;
      return PosixError("write", path_, errno);
    }
    size_t left = static_cast<size_t>(n);
    while (next < iov.size() && left >= iov[next].iov_len) left -= iov[next++].iov_len;
    if (left > 0) {
      iov[next].iov_base = static_cast<char*>(iov[next].iov_base) + left;
      iov[next].iov_len -= left;
    }
  }
  return absl::OkStatus();
}

absl::Status File::DataSync() {
  while (::fdatasync(fd_) != 0) {
    if (errno != EINTR) return PosixError("fdatasync", path_, errno);
  }
  return absl::OkStatus();
}

absl::Status File::Truncate(uint64_t size) {
  while (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
    if (errno != EINTR) return PosixError("ftruncate", path_, errno);
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> File::Size() const {
  struct stat st;
  if (::fstat(fd_, &st) != 0) return PosixError("fstat", path_, errno);
  return static_cast<uint64_t>(st.st_size);
}

absl::StatusOr<File> OpenFile(const std::string& path, int flags, mode_t mode) {
  int fd;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return PosixError("open", path, errno);
  return File(fd, path);
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  absl::StatusOr<File> file = OpenFile(path, O_RDONLY);
  if (!file.ok()) return file.status();
  absl::StatusOr<uint64_t> size = file->Size();
  if (!size.ok()) return size.status();
  std::string out;
  out.resize(*size);
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::pread(file->fd(), out.data() + done, out.size() - done,
                              static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return PosixError("read", path, errno);
    }
    if (n == 0) break;  // the file shrank under us: return what is there
    done += static_cast<size_t>(n);
  }
  out.resize(done);
  return out;
}

absl::Status SyncDir(const std::string& dir) {
  absl::StatusOr<File> d = OpenFile(dir, O_RDONLY | O_DIRECTORY);
  if (!d.ok()) return d.status();
  while (::fsync(d->fd()) != 0) {
    if (errno != EINTR) return PosixError("fsync", dir, errno);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> ListDir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return PosixError("opendir", dir, errno);
  std::vector<std::string> names;
  errno = 0;
  while (const dirent* entry = ::readdir(d)) {
    std::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  const int err = errno;
  ::closedir(d);
  if (err != 0) return PosixError("readdir", dir, err);
  return names;
}

absl::Status RenameFile(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    return PosixError("rename", absl::StrCat(from, " to ", to), errno);
  }
  return absl::OkStatus();
}

absl::Status RemoveFile(const std::string& path) {
  if (::unlink(path.c_str()) != 0) return PosixError("unlink", path, errno);
  return absl::OkStatus();
}

absl::Status WriteFileAtomically(const std::string& dir, const std::string& name,
                                 std::span<const std::string_view> parts, bool sync) {
  const std::string path = JoinPath(dir, name);
  const std::string temp = path + ".tmp";
  absl::StatusOr<File> file = OpenFile(temp, O_WRONLY | O_CREAT | O_TRUNC);
  if (!file.ok()) return file.status();
  absl::Status status = file->Write(parts);
  if (status.ok() && sync) status = file->DataSync();
  file->Close();
  if (status.ok()) status = RenameFile(temp, path);
  if (!status.ok()) {
    ::unlink(temp.c_str());
    return status;
  }
  return sync ? SyncDir(dir) : absl::OkStatus();
}

}  // namespace orch::store::internal
