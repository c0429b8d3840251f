// The deterministic protobuf encoding of messages, and equality by it.
//
// Deterministic: map entries in key order, so equal messages give equal bytes (what the
// store holds, and what signatures and comparisons are made of). Comparing encodings is
// much cheaper than a reflective comparison; the two agree field for field.
//
// Thread safety: both functions only read their arguments (a message's cached sizes are
// safe to compute concurrently). Nothing here fails.
#ifndef ORCH_API_ENCODING_H_
#define ORCH_API_ENCODING_H_

#include <string>

#include "google/protobuf/map.h"
#include "google/protobuf/message.h"

namespace orch::api {

// The message's deterministic encoding, in one allocation.
std::string DeterministicBytes(const google::protobuf::Message& message);

// Whether `a` and `b` are of one type and have the same deterministic encoding.
bool SameMessage(const google::protobuf::Message& a, const google::protobuf::Message& b);

// Whether two string maps (labels, annotations) hold the same pairs; no allocation.
bool SameStringMap(const google::protobuf::Map<std::string, std::string>& a,
                   const google::protobuf::Map<std::string, std::string>& b);

}  // namespace orch::api

#endif  // ORCH_API_ENCODING_H_
