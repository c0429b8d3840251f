// Reflection helpers shared by the Client and the informers: metadata access, the
// stored encoding, and the error messages every caller sees. Internal to orch.
#ifndef ORCH_SRC_CLIENT_OBJECT_H_
#define ORCH_SRC_CLIENT_OBJECT_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/message.h"
#include "client/string_check.h"
#include "orch/api/scheme.h"
#include "orch/api/v1/meta.pb.h"
#include "orch/store/store.h"

namespace orch::client::internal {

// api::ObjectMetaOf, under the short name the client's code uses.
inline const api::v1::ObjectMeta* Meta(const google::protobuf::Message& object) {
  return api::ObjectMetaOf(object);
}
inline api::v1::ObjectMeta* MutableMeta(google::protobuf::Message* object) {
  return api::MutableObjectMetaOf(object);
}

// The kind's `status` field, or nullptr when the kind has none.
const google::protobuf::FieldDescriptor* StatusField(const google::protobuf::Descriptor& type);

// Sets the apiVersion and kind fields (1 and 2) to the kind's.
void SetTypeFields(const api::Kind& kind, google::protobuf::Message* object);
// The apiVersion and kind fields as written by the caller.
std::string ApiVersionField(const google::protobuf::Message& object);
std::string KindField(const google::protobuf::Message& object);

// Makes *to a copy of `from`, a message of the same type. Message::CopyFrom first walks
// both messages to check that `from` is not part of *to (protobuf's guard against a
// programmer error, which costs more than the copy itself); the objects copied here are
// whole messages of their own.
void CopyObject(const google::protobuf::Message& from, google::protobuf::Message* to);

// The bytes stored for an object: deterministic, without resourceVersion (the store's
// mod_revision is the resourceVersion). `*object` is left as it was. kInvalidArgument,
// naming the field, when a string field is not UTF-8: bytes no reader could parse
// (StringCheck::Check).
absl::StatusOr<store::SharedBytes> Encode(const StringCheck& strings,
                                          google::protobuf::Message* object);

// Parses a stored value into `*out` and sets its resourceVersion to `revision`.
// kDataLoss when the bytes do not parse.
absl::Status Decode(const store::KeyValue& kv, int64_t revision, google::protobuf::Message* out);

// As Decode, into a new message of `prototype`'s type: the object the writer attached to
// these bytes (store::SharedBytes' decoded form, Client::ShareDecoded) when it is of that
// type and stamped with `revision`, else a parse.
absl::StatusOr<std::shared_ptr<const google::protobuf::Message>> DecodeShared(
    const store::KeyValue& kv, int64_t revision, const google::protobuf::Message& prototype);

// "ns/name", or "name" for cluster-scoped objects: the informer cache key.
std::string CacheKey(std::string_view ns, std::string_view name);

// A resourceVersion string as a revision; nullopt for "". kInvalidArgument otherwise.
absl::StatusOr<std::optional<int64_t>> ParseResourceVersion(std::string_view field,
                                                            std::string_view rv);

// Kubernetes-shaped errors.
absl::Status NotFoundError(const api::Kind& kind, std::string_view name);
absl::Status AlreadyExistsError(const api::Kind& kind, std::string_view name);
absl::Status ConflictError(const api::Kind& kind, std::string_view name);

// Name and namespace rules every kind shares (they become store key segments).
absl::Status ValidateName(std::string_view field, std::string_view name);
absl::Status ValidateNamespace(std::string_view field, std::string_view ns);

}  // namespace orch::client::internal

#endif  // ORCH_SRC_CLIENT_OBJECT_H_
