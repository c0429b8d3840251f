// Internal: the bytes a durable MemoryStore puts in its write-ahead log and snapshots.
//
// A log record is one Mutation; a snapshot is one StateImage. Both are compact binary:
// unsigned LEB128 varints (shortest form) for integers, a varint length before each
// string. The WAL's checksums protect the bytes; these decoders still treat their input
// as untrusted and return kDataLoss (never crash, never hand back an inconsistent value)
// for anything they did not write, so a bug or a damaged file surfaces as an error at
// Open.
//
//   mutation: u8 kind (Mutation::Kind) then, by kind,
//     kPut          key, value, lease
//     kDelete       key
//     kGrantLease   lease, ttl_nanos
//     kKeepAlive    lease
//     kRevokeLease  lease
//     kCompact      revision
//   snapshot: u8 format (1), revision, next_lease_id,
//     lease count, per lease (ascending id): id, ttl_nanos,
//     key count, per live key (ascending key): key, value, create_revision, mod_revision,
//       version, lease
#ifndef ORCH_SRC_STORE_LOG_CODEC_H_
#define ORCH_SRC_STORE_LOG_CODEC_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "store/mutation.h"
#include "store/store_state.h"

namespace orch::store::internal {

std::string EncodeMutation(const Mutation& mutation);
// kDataLoss if `record` is not a mutation EncodeMutation could have written.
absl::StatusOr<Mutation> DecodeMutation(std::string_view record);

std::string EncodeSnapshot(const StateImage& image);
// kDataLoss if `data` is not a consistent image (keys in order and below the revision,
// leases known, ...); kFailedPrecondition if a newer orch wrote it.
absl::StatusOr<StateImage> DecodeSnapshot(std::string_view data);

}  // namespace orch::store::internal

#endif  // ORCH_SRC_STORE_LOG_CODEC_H_
