// Scheme: the kinds orch knows, by apiVersion/kind, by resource name and by message type.
//
// The built-in kinds (Namespace, Node, Pod, ReplicaSet, Deployment, Service,
// EndpointSlice, Lease, Event, PriorityClass) come from Scheme::Builtin(). An operator
// registers its own protobuf message as a kind on a Scheme it owns, and then gets the same
// codec, defaulting, validation, store keys, typed client and informers as built-in kinds.
//
// A kind's message must have `string api_version = 1; string kind = 2;
// orch.api.v1.ObjectMeta metadata = 3;` (orch.api.v1.ObjectHeader), and usually `spec`
// and `status` fields.
//
// Thread safety: registration is not thread-safe; register every kind before sharing the
// Scheme, after which all const methods may be called concurrently.
// Ownership: a Scheme does not own prototypes (they are default instances, which live for
// the whole process).
#ifndef ORCH_API_SCHEME_H_
#define ORCH_API_SCHEME_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "google/protobuf/message.h"
#include "orch/api/v1/meta.pb.h"

namespace orch::api {

struct Kind {
  std::string group;    // "" for the core group, "apps", "discovery.k8s.io", ...
  std::string version;  // "v1"
  std::string kind;     // "Deployment"
  std::string plural;   // "deployments": the resource name in store keys
  bool namespaced = true;
  // The message type, as its default instance. REQUIRED.
  const google::protobuf::Message* prototype = nullptr;
  // Fills defaults in place (Kubernetes defaulting). May be empty.
  std::function<void(google::protobuf::Message&)> defaulter;
  // Checks an object of this kind after defaulting; kInvalidArgument naming the field
  // path (relative to the object, e.g. "spec.replicas: must be ≥ 0"). May be empty.
  std::function<absl::Status(const google::protobuf::Message&)> validator;

  // "v1" for the core group, otherwise "group/version".
  std::string api_version() const;
};

class Scheme {
 public:
  // An empty scheme.
  Scheme() = default;
  Scheme(const Scheme&) = default;
  Scheme& operator=(const Scheme&) = default;

  // The built-in kinds. Immutable and shared by everyone; copy it to add kinds.
  static const Scheme& Builtin();

  // Adds a kind. kAlreadyExists if its apiVersion/kind, plural or message type is taken;
  // kInvalidArgument if the message lacks the ObjectHeader fields or a name is empty.
  absl::Status Register(Kind kind);

  // nullptr when unknown.
  const Kind* Find(std::string_view api_version, std::string_view kind) const;
  const Kind* FindByResource(std::string_view plural) const;
  const Kind* FindByMessage(const google::protobuf::Descriptor& descriptor) const;

  // Every kind, in registration order.
  std::vector<const Kind*> kinds() const;

 private:
  std::vector<std::shared_ptr<const Kind>> kinds_;
  absl::flat_hash_map<std::string, const Kind*> by_api_version_kind_;
  absl::flat_hash_map<std::string, const Kind*> by_resource_;
  absl::flat_hash_map<const google::protobuf::Descriptor*, const Kind*> by_message_;
};

// The metadata of a kind's message (field 3, a generated orch.api.v1.ObjectMeta), for
// code that handles objects of kinds it does not know at compile time. nullptr when the
// message carries no generated ObjectMeta there (a dynamic message, say).
const v1::ObjectMeta* ObjectMetaOf(const google::protobuf::Message& object);
v1::ObjectMeta* MutableObjectMetaOf(google::protobuf::Message* object);

// apiVersion and kind (fields 1 and 2) of a message of a built-in kind, read and written
// without reflection (every write checks and sets them). Null pointers, and false, for a
// message of any other type: reflection serves those.
struct TypeFieldsView {
  const std::string* api_version = nullptr;
  const std::string* kind = nullptr;
};
TypeFieldsView BuiltinTypeFields(const google::protobuf::Message& object);
bool SetBuiltinTypeFields(google::protobuf::Message* object, std::string_view api_version,
                          std::string_view kind);

}  // namespace orch::api

#endif  // ORCH_API_SCHEME_H_
