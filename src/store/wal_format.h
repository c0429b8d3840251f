// Internal: the on-disk format of orch's write-ahead log and snapshots.
// docs/reference/durability.md describes it for humans; this file is the definition.
//
// All integers are little-endian. All checksums are CRC-32C (store/crc32c.h).
//
// Segment file "wal-<first lsn, 20 digits>.log":
//   header (32 bytes): magic "orchwal\0" | u32 version | u32 flags (0) | u64 first lsn |
//                      u32 crc of the 24 bytes before it | u32 zero
//   batches, back to back, until the end of the file.
// Batch (one group commit writes one or more):
//   header (24 bytes): u32 body length | u32 record count | u64 lsn of its first record |
//                      u32 crc of the body | u32 crc of the 20 header bytes before it
//   body: per record, u32 payload length | payload.
// Snapshot file "snap-<lsn, 20 digits>.snap":
//   header (32 bytes): magic "orchsnp\0" | u32 version | u32 flags (0) | u64 lsn covered |
//                      u64 data length
//   data | u32 crc of header and data.
#ifndef ORCH_SRC_STORE_WAL_FORMAT_H_
#define ORCH_SRC_STORE_WAL_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fmt/format.h"

namespace orch::store::internal {

inline constexpr uint32_t kFormatVersion = 1;
inline constexpr std::string_view kSegmentMagic{"orchwal\0", 8};
inline constexpr std::string_view kSnapshotMagic{"orchsnp\0", 8};

inline constexpr size_t kSegmentHeaderSize = 32;
inline constexpr size_t kBatchHeaderSize = 24;
inline constexpr size_t kRecordHeaderSize = 4;
inline constexpr size_t kSnapshotHeaderSize = 32;
inline constexpr size_t kSnapshotTrailerSize = 4;

inline constexpr std::string_view kLockFileName = "LOCK";
inline constexpr std::string_view kTempSuffix = ".tmp";
inline constexpr std::string_view kSegmentPrefix = "wal-";
inline constexpr std::string_view kSegmentSuffix = ".log";
inline constexpr std::string_view kSnapshotPrefix = "snap-";
inline constexpr std::string_view kSnapshotSuffix = ".snap";

inline void PutFixed32(char* dst, uint32_t v) {
  for (int i = 0; i < 4; ++i) dst[i] = static_cast<char>(v >> (8 * i));
}
inline void PutFixed64(char* dst, uint64_t v) {
  for (int i = 0; i < 8; ++i) dst[i] = static_cast<char>(v >> (8 * i));
}
inline uint32_t GetFixed32(const char* src) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{static_cast<unsigned char>(src[i])} << (8 * i);
  return v;
}
inline uint64_t GetFixed64(const char* src) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<unsigned char>(src[i])} << (8 * i);
  return v;
}

// "<prefix><n as 20 digits><suffix>": sorts by name in number order.
inline std::string NumberedFileName(std::string_view prefix, uint64_t n, std::string_view suffix) {
  return fmt::format("{}{:020}{}", prefix, n, suffix);
}

// The number in a name made by NumberedFileName, or nullopt for any other name.
inline std::optional<uint64_t> ParseNumberedFileName(std::string_view name,
                                                     std::string_view prefix,
                                                     std::string_view suffix) {
  if (name.size() != prefix.size() + 20 + suffix.size() || !name.starts_with(prefix) ||
      !name.ends_with(suffix)) {
    return std::nullopt;
  }
  uint64_t n = 0;
  for (char c : name.substr(prefix.size(), 20)) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (n > (UINT64_MAX - digit) / 10) return std::nullopt;
    n = n * 10 + digit;
  }
  return n;
}

}  // namespace orch::store::internal

#endif  // ORCH_SRC_STORE_WAL_FORMAT_H_
