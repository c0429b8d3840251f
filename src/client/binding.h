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
#include <string>
#include <string_view>

#include "absl/container/inlined_vector.h"
#include "absl/status/statusor.h"
#include "orch/api/v1/core.pb.h"

namespace orch::client::internal {

// The binding as a change to a decoded pod: spec.nodeName = `node_name`; the last
// PodScheduled condition (one is appended if there is none), unless already True, becomes
// True with its reason and message cleared and lastTransitionTime at `now_seconds`.
// REQUIRES: the pod is not assigned.
void ApplyBinding(std::string_view node_name, int64_t now_seconds, api::v1::Pod* pod);

// A bound pod's encoding as pieces: views into the stored bytes and into this object.
// Neither copied nor moved (the views point into it); valid while the stored bytes live.
class SplicedBinding {
 public:
  SplicedBinding() = default;
  SplicedBinding(const SplicedBinding&) = delete;
  SplicedBinding& operator=(const SplicedBinding&) = delete;

  // The stored pod's spec.nodeName: "" when it is pending. The rest needs it empty.
  std::string_view assigned_node() const { return assigned_node_; }
  // Whether `bytes` are the bound pod's encoding, compared piece by piece.
  bool Equals(std::string_view bytes) const;
  // The bound pod's encoding.
  std::string Bytes() const;
  // The stored pod's metadata.uid (read from the stored bytes when asked).
  absl::StatusOr<std::string_view> StoredUid() const;

 private:
  friend absl::StatusOr<bool> SpliceBinding(std::string_view, std::string_view, int64_t,
                                            SplicedBinding*);
  using Pieces = absl::InlinedVector<std::string_view, 24>;

  std::string_view metadata_;  // the stored pod's metadata field's payload
  std::string_view assigned_node_;
  std::string node_;           // the spec.nodeName field
  std::string new_condition_;  // the new PodScheduled element's payload, if rewritten
  char condition_header_[16] = {};
  char spec_header_[16] = {};
  char status_header_[16] = {};
  Pieces pieces_;
  size_t size_ = 0;
};

// ApplyBinding done on the encoding `stored` of a pod, into `*out` (a fresh one). False
// when the bytes are not in ascending field order where the splice rewrites them (a pod
// encoded by something other than a deterministic serializer): the caller decodes, applies
// and encodes instead. kDataLoss when `stored` is not a well-formed encoding there.
absl::StatusOr<bool> SpliceBinding(std::string_view stored, std::string_view node_name,
                                   int64_t now_seconds, SplicedBinding* out);

}  // namespace orch::client::internal

#endif  // ORCH_SRC_CLIENT_BINDING_H_
