#include "orch/api/scheme.h"

#include <memory>
#include <string>
#include <typeinfo>
#include <utility>

#include "absl/status/status.h"
#include "fmt/format.h"
#include "google/protobuf/descriptor.h"
#include "orch/api/defaults.h"
#include "orch/api/v1/apps.pb.h"
#include "orch/api/v1/coordination.pb.h"
#include "orch/api/v1/core.pb.h"
#include "orch/api/v1/discovery.pb.h"
#include "orch/api/v1/meta.pb.h"
#include "orch/api/v1/scheduling.pb.h"
#include "orch/api/validation.h"
#include "orch/base/status.h"

namespace orch::api {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

std::string ApiVersionKindKey(std::string_view api_version, std::string_view kind) {
  return fmt::format("{}\n{}", api_version, kind);
}

// kInvalidArgument unless field `number` of `message` is a singular field called `name`
// of the given type (and, for a message field, of the message type `message_type`).
absl::Status CheckHeaderField(const Descriptor& message, int number, std::string_view name,
                              FieldDescriptor::Type type,
                              const Descriptor* message_type = nullptr) {
  const FieldDescriptor* field = message.FindFieldByNumber(number);
  const bool ok = field != nullptr && field->name() == name && field->type() == type &&
                  !field->is_repeated() &&
                  (message_type == nullptr || field->message_type() == message_type);
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(fmt::format(
      "message {} is not a kind: field {} must be `{}` of type {}", message.full_name(),
      number, name,
      message_type != nullptr ? message_type->full_name()
                              : std::string(FieldDescriptor::TypeName(type))));
}

absl::Status CheckObjectHeader(const Descriptor& message) {
  ORCH_RETURN_IF_ERROR(CheckHeaderField(message, 1, "api_version", FieldDescriptor::TYPE_STRING));
  ORCH_RETURN_IF_ERROR(CheckHeaderField(message, 2, "kind", FieldDescriptor::TYPE_STRING));
  return CheckHeaderField(message, 3, "metadata", FieldDescriptor::TYPE_MESSAGE,
                          v1::ObjectMeta::descriptor());
}

// Adapts a typed defaulter and validator to Kind's message-generic signatures. A message
// of another type (which a correct caller never passes) is left alone by the defaulter and
// rejected by the validator rather than crashing.
template <typename T>
Kind BuiltinKind(std::string group, std::string kind, std::string plural, bool namespaced) {
  Kind k;
  k.group = std::move(group);
  k.version = "v1";
  k.kind = std::move(kind);
  k.plural = std::move(plural);
  k.namespaced = namespaced;
  k.prototype = &T::default_instance();
  k.defaulter = [](google::protobuf::Message& message) {
    if (T* typed = google::protobuf::DynamicCastToGenerated<T>(&message)) SetDefaults(*typed);
  };
  k.validator = [](const google::protobuf::Message& message) -> absl::Status {
    const T* typed = google::protobuf::DynamicCastToGenerated<T>(&message);
    if (typed == nullptr) {
      return absl::InvalidArgumentError(fmt::format("expected a {}, got a {}",
                                                    T::descriptor()->full_name(),
                                                    message.GetDescriptor()->full_name()));
    }
    return Validate(*typed);
  };
  return k;
}

Scheme MakeBuiltinScheme() {
  Scheme scheme;
  Kind kinds[] = {
      BuiltinKind<v1::Namespace>("", "Namespace", "namespaces", false),
      BuiltinKind<v1::Node>("", "Node", "nodes", false),
      BuiltinKind<v1::Pod>("", "Pod", "pods", true),
      BuiltinKind<v1::Service>("", "Service", "services", true),
      BuiltinKind<v1::Event>("", "Event", "events", true),
      BuiltinKind<v1::ReplicaSet>("apps", "ReplicaSet", "replicasets", true),
      BuiltinKind<v1::Deployment>("apps", "Deployment", "deployments", true),
      BuiltinKind<v1::EndpointSlice>("discovery.k8s.io", "EndpointSlice", "endpointslices",
                                     true),
      BuiltinKind<v1::Lease>("coordination.k8s.io", "Lease", "leases", true),
      BuiltinKind<v1::PriorityClass>("scheduling.k8s.io", "PriorityClass", "priorityclasses",
                                     false),
  };
  for (Kind& kind : kinds) {
    // The built-in table is fixed and distinct, so registration cannot fail.
    absl::Status status = scheme.Register(std::move(kind));
    (void)status;
  }
  return scheme;
}

}  // namespace

std::string Kind::api_version() const {
  return group.empty() ? version : fmt::format("{}/{}", group, version);
}

const Scheme& Scheme::Builtin() {
  static const Scheme* const builtin = new Scheme(MakeBuiltinScheme());
  return *builtin;
}

absl::Status Scheme::Register(Kind kind) {
  if (kind.prototype == nullptr) {
    return absl::InvalidArgumentError(
        fmt::format("kind \"{}\" has no prototype message", kind.kind));
  }
  if (kind.version.empty() || kind.kind.empty() || kind.plural.empty()) {
    return absl::InvalidArgumentError(fmt::format(
        "kind \"{}\" of {}: version, kind and plural must be non-empty", kind.kind,
        kind.prototype->GetDescriptor()->full_name()));
  }
  const Descriptor* descriptor = kind.prototype->GetDescriptor();
  ORCH_RETURN_IF_ERROR(CheckObjectHeader(*descriptor));

  const std::string key = ApiVersionKindKey(kind.api_version(), kind.kind);
  if (by_api_version_kind_.contains(key)) {
    return absl::AlreadyExistsError(
        fmt::format("kind {} {} is already registered", kind.api_version(), kind.kind));
  }
  if (by_resource_.contains(kind.plural)) {
    return absl::AlreadyExistsError(
        fmt::format("resource \"{}\" is already registered", kind.plural));
  }
  if (by_message_.contains(descriptor)) {
    return absl::AlreadyExistsError(fmt::format("message {} is already registered as a kind",
                                                descriptor->full_name()));
  }
  auto stored = std::make_shared<const Kind>(std::move(kind));
  by_api_version_kind_.emplace(key, stored.get());
  by_resource_.emplace(stored->plural, stored.get());
  by_message_.emplace(descriptor, stored.get());
  kinds_.push_back(std::move(stored));
  return absl::OkStatus();
}

const Kind* Scheme::Find(std::string_view api_version, std::string_view kind) const {
  auto it = by_api_version_kind_.find(ApiVersionKindKey(api_version, kind));
  return it == by_api_version_kind_.end() ? nullptr : it->second;
}

const Kind* Scheme::FindByResource(std::string_view plural) const {
  auto it = by_resource_.find(std::string(plural));
  return it == by_resource_.end() ? nullptr : it->second;
}

const Kind* Scheme::FindByMessage(const Descriptor& descriptor) const {
  auto it = by_message_.find(&descriptor);
  return it == by_message_.end() ? nullptr : it->second;
}

std::vector<const Kind*> Scheme::kinds() const {
  std::vector<const Kind*> out;
  out.reserve(kinds_.size());
  for (const auto& kind : kinds_) out.push_back(kind.get());
  return out;
}

namespace {
const google::protobuf::FieldDescriptor* MetadataField(const google::protobuf::Descriptor& type) {
  const google::protobuf::FieldDescriptor* field = type.FindFieldByNumber(3);
  if (field == nullptr || field->is_repeated() ||
      field->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE ||
      field->message_type() != v1::ObjectMeta::descriptor()) {
    return nullptr;
  }
  return field;
}

// The metadata of the built-in kinds, read without reflection: one type check per kind
// (its type_info's address; the most read first) costs far less than the descriptor
// lookups, and metadata is read many times over for every object the clients and
// informers pass on. Null for any other type, which then goes through reflection.
template <typename... Kinds>
struct BuiltinMeta {
  static const v1::ObjectMeta* Of(const google::protobuf::Message& object) {
    const std::type_info* type = &typeid(object);
    const v1::ObjectMeta* meta = nullptr;
    (void)((type == &typeid(Kinds) &&
            (meta = &static_cast<const Kinds&>(object).metadata(), true)) ||
           ...);
    return meta;
  }
  static v1::ObjectMeta* MutableOf(google::protobuf::Message* object) {
    const std::type_info* type = &typeid(*object);
    v1::ObjectMeta* meta = nullptr;
    (void)((type == &typeid(Kinds) &&
            (meta = static_cast<Kinds*>(object)->mutable_metadata(), true)) ||
           ...);
    return meta;
  }
  static TypeFieldsView TypeFields(const google::protobuf::Message& object) {
    const std::type_info* type = &typeid(object);
    TypeFieldsView view;
    (void)((type == &typeid(Kinds) &&
            (view = {&static_cast<const Kinds&>(object).api_version(),
                     &static_cast<const Kinds&>(object).kind()},
             true)) ||
           ...);
    return view;
  }
  static bool SetTypeFields(google::protobuf::Message* object, std::string_view api_version,
                            std::string_view kind) {
    const std::type_info* type = &typeid(*object);
    return ((type == &typeid(Kinds) &&
             (static_cast<Kinds*>(object)->mutable_api_version()->assign(api_version),
              static_cast<Kinds*>(object)->mutable_kind()->assign(kind), true)) ||
            ...);
  }
};
using Builtins = BuiltinMeta<v1::Pod, v1::Event, v1::Node, v1::ReplicaSet, v1::Deployment,
                             v1::EndpointSlice, v1::Service, v1::Lease, v1::Namespace,
                             v1::PriorityClass>;

}  // namespace

const v1::ObjectMeta* ObjectMetaOf(const google::protobuf::Message& object) {
  if (const v1::ObjectMeta* meta = Builtins::Of(object)) return meta;
  const google::protobuf::FieldDescriptor* field = MetadataField(*object.GetDescriptor());
  if (field == nullptr) return nullptr;
  return google::protobuf::DynamicCastToGenerated<v1::ObjectMeta>(
      &object.GetReflection()->GetMessage(object, field));
}

v1::ObjectMeta* MutableObjectMetaOf(google::protobuf::Message* object) {
  if (v1::ObjectMeta* meta = Builtins::MutableOf(object)) return meta;
  const google::protobuf::FieldDescriptor* field = MetadataField(*object->GetDescriptor());
  if (field == nullptr) return nullptr;
  return google::protobuf::DynamicCastToGenerated<v1::ObjectMeta>(
      object->GetReflection()->MutableMessage(object, field));
}

TypeFieldsView BuiltinTypeFields(const google::protobuf::Message& object) {
  return Builtins::TypeFields(object);
}

bool SetBuiltinTypeFields(google::protobuf::Message* object, std::string_view api_version,
                          std::string_view kind) {
  return Builtins::SetTypeFields(object, api_version, kind);
}

}  // namespace orch::api
