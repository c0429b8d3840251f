// The Client's last check before a write: every `string` field of the object holds valid
// UTF-8. Protobuf writes any bytes into a string field but its parser refuses a proto3
// string that is not UTF-8, so such an object would be stored and then never read back:
// every Get of it and every informer of its kind would fail. Internal to orch.
#ifndef ORCH_SRC_CLIENT_STRING_CHECK_H_
#define ORCH_SRC_CLIENT_STRING_CHECK_H_

#include <memory>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "orch/api/scheme.h"

namespace orch::client::internal {

// What the walk of one message type's encoding checks, by field number (string_check.cc).
struct StringTable;

// Checks an object's strings on its encoding, the bytes about to be written, without
// reflection: only a byte that is not ASCII can make a string bad, and the walk reads the
// wire format only on the way to such bytes, guided by a table per message type (which
// field numbers are strings, which are messages to enter). Only an object that fails is
// walked by reflection, to name the field.
//
// Thread safety: immutable once constructed; any number of threads may call it.
// Ownership: holds the Scheme's descriptors, which live for the whole process (as the
// Scheme's prototypes do).
class StringCheck {
 public:
  // Builds the tables of every kind of `scheme` and of every message type they contain.
  explicit StringCheck(const api::Scheme& scheme);
  ~StringCheck();
  StringCheck(const StringCheck&) = delete;
  StringCheck& operator=(const StringCheck&) = delete;

  // OK when every `string` field of `object` is valid UTF-8 (api::internal::IsValidUtf8),
  // at any depth: nested messages, repeated fields, map keys and values. Otherwise
  // kInvalidArgument naming the first such field, in field-number order (map entries in
  // key order), in Kubernetes' words:
  //   spec.containers[0].args[1]: Invalid value: must be valid UTF-8
  // `encoding` is `object`'s encoding, which decides; reflection only names the field. An
  // object whose encoding the walk cannot follow (Walk: kUnknown) is checked by reflection.
  absl::Status Check(const google::protobuf::Message& object, std::string_view encoding) const;

  // What a walk of `encoding`, an encoding of a `type` message, finds: kValid when every
  // `string` field in it is valid UTF-8, kNotUtf8 when one is not (in a proto3 type,
  // protobuf's parser would refuse the bytes; proto2 strings are held to it too, as the
  // codec holds them), kUnknown when the walk cannot tell: bytes that are not a
  // well-formed encoding, nesting deeper than the parser reads, or a type not in the
  // Scheme. Never reads outside `encoding`.
  enum class Strings { kValid, kNotUtf8, kUnknown };
  Strings Walk(const google::protobuf::Descriptor& type, std::string_view encoding) const;

 private:
  StringTable* Build(const google::protobuf::Descriptor& type);
  void Link();

  absl::flat_hash_map<const google::protobuf::Descriptor*, std::unique_ptr<StringTable>> tables_;
};

}  // namespace orch::client::internal

#endif  // ORCH_SRC_CLIENT_STRING_CHECK_H_
