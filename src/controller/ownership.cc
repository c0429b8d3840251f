#include "orch/controller/ownership.h"

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "fmt/format.h"
#include "orch/base/status.h"

namespace orch::controller {
namespace {

using ::google::protobuf::Message;
using ::orch::api::v1::ObjectMeta;
using ::orch::api::v1::OwnerReference;

// What an empty namespace means on an object of a namespaced kind: the Client's Create
// fills it in (client::kDefaultNamespace), so validate as if it already had.
constexpr std::string_view kDefaultNamespace = "default";

absl::Status NoMetadata(const Message& object) {
  return absl::InvalidArgumentError(
      fmt::format("{} has no metadata: field 3 must be a generated orch.api.v1.ObjectMeta",
                  object.GetDescriptor()->full_name()));
}

absl::StatusOr<const ObjectMeta*> MetaOf(const Message& object) {
  const ObjectMeta* meta = api::ObjectMetaOf(object);
  if (meta == nullptr) return NoMetadata(object);
  return meta;
}

absl::StatusOr<ObjectMeta*> MutableMetaOf(Message& object) {
  ObjectMeta* meta = api::MutableObjectMetaOf(&object);
  if (meta == nullptr) return NoMetadata(object);
  return meta;
}

absl::StatusOr<const api::Kind*> KindOf(const Message& object, const api::Scheme& scheme) {
  const api::Kind* kind = scheme.FindByMessage(*object.GetDescriptor());
  if (kind == nullptr) {
    return absl::InvalidArgumentError(
        fmt::format("no kind is registered for the type {} in the scheme",
                    object.GetDescriptor()->full_name()));
  }
  return kind;
}

// The namespace `meta` lives in as far as ownership goes: "" for cluster-scoped kinds.
std::string_view EffectiveNamespace(const api::Kind& kind, const ObjectMeta& meta) {
  if (!kind.namespaced) return {};
  return meta.namespace_().empty() ? kDefaultNamespace : std::string_view(meta.namespace_());
}

// The group of an apiVersion ("" for "v1", "apps" for "apps/v1"), as apimachinery's
// ParseGroupVersion; nullopt when malformed (more than one '/').
std::optional<std::string_view> GroupOf(std::string_view api_version) {
  const size_t slash = api_version.find('/');
  if (slash == std::string_view::npos) return std::string_view();
  if (api_version.find('/', slash + 1) != std::string_view::npos) return std::nullopt;
  return api_version.substr(0, slash);
}

// controller-runtime's referSameObject: same group (any version), kind and name.
bool ReferSameObject(const OwnerReference& a, const OwnerReference& b) {
  const std::optional<std::string_view> a_group = GroupOf(a.api_version());
  const std::optional<std::string_view> b_group = GroupOf(b.api_version());
  return a_group && b_group && *a_group == *b_group && a.kind() == b.kind() && a.name() == b.name();
}

// A reference to `owner` carrying apiVersion, kind and name (and uid when it has one),
// without the controller flags. kInvalidArgument unless the owner has metadata, a name
// and a kind in `scheme`.
absl::StatusOr<OwnerReference> BareReferenceTo(const Message& owner, const api::Scheme& scheme) {
  ORCH_ASSIGN_OR_RETURN(const ObjectMeta* meta, MetaOf(owner));
  ORCH_ASSIGN_OR_RETURN(const api::Kind* kind, KindOf(owner, scheme));
  if (meta->name().empty()) {
    return absl::InvalidArgumentError(fmt::format(
        "owner {}: metadata.name: Required value: an owner reference needs the owner's name",
        kind->kind));
  }
  OwnerReference ref;
  ref.set_api_version(kind->api_version());
  ref.set_kind(kind->kind);
  ref.set_name(meta->name());
  ref.set_uid(meta->uid());
  return ref;
}

// controller-runtime's validateOwner, with scopes taken from the Scheme. Returns the
// object's namespace ("" when cluster-scoped), which points into `object` or is a constant.
absl::StatusOr<std::string_view> ValidateOwner(const Message& owner, const Message& object,
                                               const api::Scheme& scheme) {
  ORCH_ASSIGN_OR_RETURN(const ObjectMeta* owner_meta, MetaOf(owner));
  ORCH_ASSIGN_OR_RETURN(const ObjectMeta* object_meta, MetaOf(object));
  ORCH_ASSIGN_OR_RETURN(const api::Kind* owner_kind, KindOf(owner, scheme));
  ORCH_ASSIGN_OR_RETURN(const api::Kind* object_kind, KindOf(object, scheme));
  const std::string_view owner_ns = EffectiveNamespace(*owner_kind, *owner_meta);
  const std::string_view object_ns = EffectiveNamespace(*object_kind, *object_meta);
  if (owner_ns.empty()) return object_ns;
  if (object_ns.empty()) {
    return absl::InvalidArgumentError(fmt::format(
        "cluster-scoped resource must not have a namespace-scoped owner, owner's namespace {}",
        owner_ns));
  }
  if (owner_ns != object_ns) {
    return absl::InvalidArgumentError(
        fmt::format("cross-namespace owner references are disallowed, owner's namespace {}, obj's "
                    "namespace {}",
                    owner_ns, object_ns));
  }
  return object_ns;
}

struct ValidatedOwner {
  OwnerReference ref;                 // without the controller flags
  std::string_view object_namespace;  // "" when the object is cluster-scoped
};

// What SetControllerReference and SetOwnerReference check before writing anything: the
// owner's reference, with its uid required (a reference without one never matches the
// owner in the garbage collector), and the namespace rule.
absl::StatusOr<ValidatedOwner> Validate(const Message& owner, const Message& object,
                                        const api::Scheme& scheme) {
  ORCH_ASSIGN_OR_RETURN(OwnerReference ref, BareReferenceTo(owner, scheme));
  if (ref.uid().empty()) {
    return absl::InvalidArgumentError(
        fmt::format("owner {} \"{}\": metadata.uid: Required value: the owner must have been "
                    "created before it can own anything",
                    ref.kind(), ref.name()));
  }
  ORCH_ASSIGN_OR_RETURN(std::string_view object_ns, ValidateOwner(owner, object, scheme));
  return ValidatedOwner{std::move(ref), object_ns};
}

// controller-runtime's upsertOwnerRef: writes `ref` over the first reference to the same
// owner, or appends it.
void UpsertOwnerReference(OwnerReference ref, ObjectMeta& meta) {
  for (OwnerReference& existing : *meta.mutable_owner_references()) {
    if (ReferSameObject(existing, ref)) {
      existing = std::move(ref);
      return;
    }
  }
  *meta.add_owner_references() = std::move(ref);
}

}  // namespace

absl::StatusOr<bool> AddFinalizer(Message& object, std::string_view finalizer) {
  ORCH_ASSIGN_OR_RETURN(const ObjectMeta* meta, MetaOf(object));
  if (finalizer.empty()) {
    return absl::InvalidArgumentError(
        "metadata.finalizers: Invalid value: \"\": a finalizer "
        "name must be non-empty");
  }
  if (ContainsFinalizer(object, finalizer)) return false;
  if (meta->has_deletion_timestamp()) {
    return absl::FailedPreconditionError(
        fmt::format("metadata.finalizers: Forbidden: no new finalizers can be added if the "
                    "object is being deleted, found new finalizers [\"{}\"]",
                    finalizer));
  }
  ORCH_ASSIGN_OR_RETURN(ObjectMeta * mutable_meta, MutableMetaOf(object));
  mutable_meta->add_finalizers(std::string(finalizer));
  return true;
}

absl::StatusOr<bool> RemoveFinalizer(Message& object, std::string_view finalizer) {
  ORCH_RETURN_IF_ERROR(MetaOf(object).status());
  if (!ContainsFinalizer(object, finalizer)) return false;
  ORCH_ASSIGN_OR_RETURN(ObjectMeta * mutable_meta, MutableMetaOf(object));
  auto* finalizers = mutable_meta->mutable_finalizers();
  finalizers->erase(std::remove(finalizers->begin(), finalizers->end(), finalizer),
                    finalizers->end());
  return true;
}

bool ContainsFinalizer(const Message& object, std::string_view finalizer) {
  const ObjectMeta* meta = api::ObjectMetaOf(object);
  if (meta == nullptr) return false;
  return std::find(meta->finalizers().begin(), meta->finalizers().end(), finalizer) !=
         meta->finalizers().end();
}

absl::Status SetControllerReference(const Message& owner, Message& object,
                                    const api::Scheme& scheme) {
  ORCH_ASSIGN_OR_RETURN(ValidatedOwner validated, Validate(owner, object, scheme));
  OwnerReference& ref = validated.ref;
  ref.set_controller(true);
  ref.set_block_owner_deletion(true);
  if (const OwnerReference* existing = GetControllerOf(object);
      existing != nullptr && !ReferSameObject(*existing, ref)) {
    // controller-runtime's AlreadyOwnedError, without the leading "/" of a cluster-scoped
    // object.
    const std::string& name = api::ObjectMetaOf(object)->name();
    return absl::AlreadyExistsError(fmt::format(
        "Object {} is already owned by another {} controller {}",
        validated.object_namespace.empty() ? name
                                           : fmt::format("{}/{}", validated.object_namespace, name),
        existing->kind(), existing->name()));
  }
  ORCH_ASSIGN_OR_RETURN(ObjectMeta * meta, MutableMetaOf(object));
  UpsertOwnerReference(std::move(ref), *meta);
  return absl::OkStatus();
}

absl::Status SetOwnerReference(const Message& owner, Message& object, const api::Scheme& scheme) {
  ORCH_ASSIGN_OR_RETURN(ValidatedOwner validated, Validate(owner, object, scheme));
  ORCH_ASSIGN_OR_RETURN(ObjectMeta * meta, MutableMetaOf(object));
  UpsertOwnerReference(std::move(validated.ref), *meta);
  return absl::OkStatus();
}

absl::StatusOr<bool> RemoveOwnerReference(const Message& owner, Message& object,
                                          const api::Scheme& scheme) {
  ORCH_ASSIGN_OR_RETURN(const ObjectMeta* meta, MetaOf(object));
  ORCH_ASSIGN_OR_RETURN(const OwnerReference ref, BareReferenceTo(owner, scheme));
  const auto refers_to_owner = [&ref](const OwnerReference& r) { return ReferSameObject(r, ref); };
  if (std::none_of(meta->owner_references().begin(), meta->owner_references().end(),
                   refers_to_owner)) {
    return false;
  }
  ORCH_ASSIGN_OR_RETURN(ObjectMeta * mutable_meta, MutableMetaOf(object));
  auto* refs = mutable_meta->mutable_owner_references();
  refs->erase(std::remove_if(refs->begin(), refs->end(), refers_to_owner), refs->end());
  return true;
}

const OwnerReference* GetControllerOf(const Message& object) {
  const ObjectMeta* meta = api::ObjectMetaOf(object);
  if (meta == nullptr) return nullptr;
  for (const OwnerReference& ref : meta->owner_references()) {
    if (ref.has_controller() && ref.controller()) return &ref;
  }
  return nullptr;
}

bool IsOwnedBy(const Message& object, const Message& owner) {
  const ObjectMeta* object_meta = api::ObjectMetaOf(object);
  const ObjectMeta* owner_meta = api::ObjectMetaOf(owner);
  if (object_meta == nullptr || owner_meta == nullptr || owner_meta->uid().empty()) {
    return false;
  }
  return std::any_of(
      object_meta->owner_references().begin(), object_meta->owner_references().end(),
      [owner_meta](const OwnerReference& ref) { return ref.uid() == owner_meta->uid(); });
}

}  // namespace orch::controller
