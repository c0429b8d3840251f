// What Client::Bind writes: a stored pod with spec.nodeName set and its PodScheduled
// condition True, and nothing else changed.
//
// The bound pod's bytes are made from the stored bytes themselves (SpliceBinding): the
// fields that change are rewritten, everything else is copied through as it is, with no
// parse of the pod into a message and no encoding of one. Stored pods are deterministic
// encodings (fields in ascending number), and the splice keeps them so: its output is the
// deterministic encoding of the bound pod, byte for byte.
#ifndef ORCH_SRC_CLIENT_BINDING_H_
#define ORCH_SRC_CLIENT_BINDING_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "orch/api/v1/core.pb.h"

namespace orch::client::internal {

// The binding as a change to a decoded pod: spec.nodeName = `node_name`; the last
// PodScheduled condition (one is appended if there is none), unless already True, becomes
// True with its reason and message cleared and lastTransitionTime at `now_seconds`.
// REQUIRES: the pod is not assigned.
void ApplyBinding(std::string_view node_name, int64_t now_seconds, api::v1::Pod* pod);

struct SplicedBinding {
  // The bound pod's bytes; empty when the pod is already assigned.
  std::string bytes;
  // The stored pod's spec.nodeName ("" when it is pending) and metadata.uid: views into
  // the stored bytes.
  std::string_view assigned_node;
  std::string_view uid;
};

// ApplyBinding done on the encoding `stored` of a pod. nullopt when the bytes are not in
// ascending field order where the splice rewrites them (a pod encoded by something other
// than a deterministic serializer): the caller decodes, applies and encodes instead.
// kDataLoss when `stored` is not a well-formed encoding there.
absl::StatusOr<std::optional<SplicedBinding>> SpliceBinding(std::string_view stored,
                                                            std::string_view node_name,
                                                            int64_t now_seconds);

}  // namespace orch::client::internal

#endif  // ORCH_SRC_CLIENT_BINDING_H_
