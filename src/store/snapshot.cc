#include "store/snapshot.h"

#include <array>

#include "fmt/format.h"
#include "store/crc32c.h"
#include "store/file_io.h"
#include "store/wal_format.h"

namespace orch::store::internal {
namespace {

absl::Status Damaged(const std::string& path, std::string_view why) {
  return absl::DataLossError(fmt::format("snapshot {} is damaged: {}", path, why));
}

}  // namespace

std::string SnapshotFileName(Lsn lsn) {
  return NumberedFileName(kSnapshotPrefix, lsn, kSnapshotSuffix);
}

std::optional<Lsn> ParseSnapshotFileName(std::string_view name) {
  return ParseNumberedFileName(name, kSnapshotPrefix, kSnapshotSuffix);
}

absl::Status WriteSnapshotFile(const std::string& dir, Lsn lsn, std::string_view data,
                               bool sync) {
  std::array<char, kSnapshotHeaderSize> header{};
  kSnapshotMagic.copy(header.data(), kSnapshotMagic.size());
  PutFixed32(header.data() + 8, kFormatVersion);
  PutFixed32(header.data() + 12, 0);
  PutFixed64(header.data() + 16, lsn);
  PutFixed64(header.data() + 24, data.size());
  const std::string_view header_view(header.data(), header.size());
  std::array<char, kSnapshotTrailerSize> trailer{};
  PutFixed32(trailer.data(),
             Crc32cExtend(Crc32c(header_view), data.data(), data.size()));
  const std::array<std::string_view, 3> parts = {
      header_view, data, std::string_view(trailer.data(), trailer.size())};
  return WriteFileAtomically(dir, SnapshotFileName(lsn), parts, sync);
}

absl::StatusOr<WalSnapshot> ReadSnapshotFile(const std::string& path, Lsn expected_lsn) {
  absl::StatusOr<std::string> contents = ReadFile(path);
  if (!contents.ok()) return contents.status();
  const std::string& c = *contents;
  if (c.size() < kSnapshotHeaderSize + kSnapshotTrailerSize) {
    return Damaged(path, fmt::format("only {} bytes", c.size()));
  }
  if (std::string_view(c).substr(0, kSnapshotMagic.size()) != kSnapshotMagic) {
    return Damaged(path, "not an orch snapshot header");
  }
  const uint32_t version = GetFixed32(c.data() + 8);
  if (version > kFormatVersion) {
    return absl::FailedPreconditionError(fmt::format(
        "snapshot {} has format version {}; this orch reads up to {}", path, version,
        kFormatVersion));
  }
  const Lsn lsn = GetFixed64(c.data() + 16);
  const uint64_t length = GetFixed64(c.data() + 24);
  if (length != c.size() - kSnapshotHeaderSize - kSnapshotTrailerSize) {
    return Damaged(path, fmt::format("header says {} data bytes, file holds {}", length,
                                     c.size() - kSnapshotHeaderSize - kSnapshotTrailerSize));
  }
  const size_t trailer_at = c.size() - kSnapshotTrailerSize;
  if (Crc32c(std::string_view(c).substr(0, trailer_at)) != GetFixed32(c.data() + trailer_at)) {
    return Damaged(path, "checksum mismatch");
  }
  if (lsn != expected_lsn) {
    return Damaged(path, fmt::format("holds lsn {} but is named for lsn {}", lsn, expected_lsn));
  }
  WalSnapshot snapshot;
  snapshot.lsn = lsn;
  snapshot.data = c.substr(kSnapshotHeaderSize, length);
  return snapshot;
}

}  // namespace orch::store::internal
