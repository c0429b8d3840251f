// Internal: CRC-32C (Castagnoli), the checksum of orch's write-ahead log and snapshots.
//
// The same polynomial as iSCSI, ext4 metadata and LevelDB. Uses the SSE4.2 crc32
// instruction when the CPU has it, otherwise a table (slicing by 8). Debian 12's Abseil
// predates absl/crc, hence this file.
#ifndef ORCH_SRC_STORE_CRC32C_H_
#define ORCH_SRC_STORE_CRC32C_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace orch::store::internal {

// The CRC-32C of `crc`'s input followed by `data[0, n)`. Start with crc = 0.
uint32_t Crc32cExtend(uint32_t crc, const char* data, size_t n);

inline uint32_t Crc32c(std::string_view data) {
  return Crc32cExtend(0, data.data(), data.size());
}

}  // namespace orch::store::internal

#endif  // ORCH_SRC_STORE_CRC32C_H_
