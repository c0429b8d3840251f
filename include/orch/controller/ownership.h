// Finalizers and owner references: controller-runtime's controllerutil helpers.
//
//   ORCH_ASSIGN_OR_RETURN(bool added, controller::AddFinalizer(rs, "example.com/cleanup"));
//   ORCH_RETURN_IF_ERROR(controller::SetControllerReference(deployment, rs, scheme));
//   if (added) { ORCH_ASSIGN_OR_RETURN(rs, client.Update(rs)); }
//
// Every function works on the message of any kind: a google::protobuf::Message whose field
// 3 is a generated orch.api.v1.ObjectMeta (see api::ObjectMetaOf). They edit the message
// in memory only; writing it back (Client::Update) is the caller's job.
//
// Owner references follow controller-runtime (pkg/controller/controllerutil):
//   - The reference's apiVersion and kind come from the Scheme, by the owner's message type
//     (Scheme::FindByMessage), never from the owner's own apiVersion/kind fields, which are
//     often empty on objects built in code.
//   - Two references refer to the same owner when their group (not version), kind and name
//     match (controller-runtime's referSameObject): a reference written as apps/v1beta1
//     is the same owner as apps/v1, and setting it again rewrites it in place (apiVersion,
//     uid and flags) instead of adding a second one.
//   - validateOwner: a cluster-scoped object cannot have a namespaced owner, and a
//     namespaced owner must be in the object's namespace. Scope comes from the Scheme (both
//     kinds must be registered), and an empty namespace on an object of a namespaced kind
//     counts as "default", as the Client's Create fills it. A cluster-scoped owner may own
//     anything.
// Finalizers follow controller-runtime too, plus the apiserver's rule that no finalizer
// can be added to an object being deleted, so the refusal comes here rather than from a
// later Update.
//
// Errors (absl::Status). Every function leaves the object unchanged when it fails:
//   kInvalidArgument    the message has no metadata; a kind is not in the Scheme; the
//                       owner has no name or uid; the namespace rule above; an empty
//                       finalizer name.
//   kAlreadyExists      SetControllerReference on an object controlled by someone else:
//                       `Object default/web-abc is already owned by another ReplicaSet
//                       controller web` (controller-runtime's AlreadyOwnedError). Remove
//                       that reference first if taking over is really meant.
//   kFailedPrecondition AddFinalizer of a new finalizer on an object being deleted.
//
// Thread safety: the functions are reentrant. They read `owner` and the Scheme and write
// `object`; the caller must not touch `object` from another thread meanwhile.
// Ownership: nothing is retained; GetControllerOf returns a pointer into `object`.
#ifndef ORCH_CONTROLLER_OWNERSHIP_H_
#define ORCH_CONTROLLER_OWNERSHIP_H_

#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/message.h"
#include "orch/api/scheme.h"
#include "orch/api/v1/meta.pb.h"

namespace orch::controller {

// ---- Finalizers ----------------------------------------------------------------------

// Appends `finalizer` to metadata.finalizers unless it is already there. Returns whether
// the object changed. An object whose deletionTimestamp is set takes no new finalizer:
// kFailedPrecondition, `metadata.finalizers: Forbidden: no new finalizers can be added if
// the object is being deleted, found new finalizers ["x"]` (one already present is fine:
// false). kInvalidArgument for an empty finalizer.
absl::StatusOr<bool> AddFinalizer(google::protobuf::Message& object, std::string_view finalizer);

// Removes every occurrence of `finalizer`. Returns whether the object changed.
absl::StatusOr<bool> RemoveFinalizer(google::protobuf::Message& object, std::string_view finalizer);

// Whether metadata.finalizers holds `finalizer`; false for a message without metadata.
bool ContainsFinalizer(const google::protobuf::Message& object, std::string_view finalizer);

// ---- Owner references ----------------------------------------------------------------

// Makes `owner` the controller of `object`: a reference with controller=true and
// blockOwnerDeletion=true, added, or written over an existing reference to the same owner.
// kAlreadyExists when another owner's reference already has controller=true.
absl::Status SetControllerReference(const google::protobuf::Message& owner,
                                    google::protobuf::Message& object, const api::Scheme& scheme);

// Adds a plain reference to `owner`, or writes over an existing reference to the same
// owner. As in controller-runtime the written reference has neither controller nor
// blockOwnerDeletion set, so this turns a controller reference to the same owner into a
// plain one; use SetControllerReference to keep it.
absl::Status SetOwnerReference(const google::protobuf::Message& owner,
                               google::protobuf::Message& object, const api::Scheme& scheme);

// Removes every reference to `owner` (same group, kind and name; its uid is not compared).
// Returns whether the object changed; unlike controller-runtime, an object that does not
// reference `owner` is not an error but `false`. The owner's kind must be in the Scheme
// and it must have a name; the namespace rule is not checked.
absl::StatusOr<bool> RemoveOwnerReference(const google::protobuf::Message& owner,
                                          google::protobuf::Message& object,
                                          const api::Scheme& scheme);

// Kubernetes' metav1.GetControllerOf: the first reference with controller=true, or nullptr
// (also for a message without metadata). The pointer is into `object` and is valid until
// its owner references change.
const api::v1::OwnerReference* GetControllerOf(const google::protobuf::Message& object);

// Whether any of `object`'s owner references carries `owner`'s uid. False when `owner`
// has no uid or either message has no metadata.
bool IsOwnedBy(const google::protobuf::Message& object, const google::protobuf::Message& owner);

}  // namespace orch::controller

#endif  // ORCH_CONTROLLER_OWNERSHIP_H_
