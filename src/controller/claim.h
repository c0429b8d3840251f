// Claiming: which of the objects a selector matches a controller object may call its own
// (Kubernetes' ControllerRefManager.ClaimObject), for the ReplicaSet controller's pods
// and the Deployment controller's ReplicaSets. Internal.
//
// For each candidate:
//   controlled by `owner`      kept if the selector matches; otherwise released (the
//                              reference removed), unless the owner is being deleted.
//   controlled by another      left alone.
//   orphan                     adopted (a controller reference added) if the selector
//                              matches and neither the owner nor the candidate is being
//                              deleted — once `can_adopt` (a fresh read of the owner) says
//                              the owner is still there.
// Writes are compare-and-swap Updates of the cached object; a candidate gone meanwhile is
// skipped. Errors of the others are joined into one kAborted (the caller retries).
#ifndef ORCH_SRC_CONTROLLER_CLAIM_H_
#define ORCH_SRC_CONTROLLER_CLAIM_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fmt/format.h"
#include "fmt/ranges.h"
#include "orch/api/selector.h"
#include "orch/client/client.h"
#include "orch/controller/ownership.h"

namespace orch::controller::internal {

// A fresh read of `owner`: OK when it still exists with the same uid and is not being
// deleted (Kubernetes' RecheckDeletionTimestamp).
template <typename Owner>
absl::Status RecheckOwner(client::Client& client, const Owner& owner, std::string_view kind) {
  const api::v1::ObjectMeta& meta = owner.metadata();
  ORCH_ASSIGN_OR_RETURN(Owner fresh, client.Get<Owner>(meta.namespace_(), meta.name()));
  if (fresh.metadata().uid() != meta.uid()) {
    return absl::AbortedError(fmt::format("original {} {}/{} is gone: got uid {}, wanted {}", kind,
                                          meta.namespace_(), meta.name(), fresh.metadata().uid(),
                                          meta.uid()));
  }
  if (fresh.metadata().has_deletion_timestamp()) {
    return absl::AbortedError(
        fmt::format("{} {}/{} has just been deleted", kind, meta.namespace_(), meta.name()));
  }
  return absl::OkStatus();
}

template <typename Owner, typename T>
absl::StatusOr<std::vector<std::shared_ptr<const T>>> Claim(
    client::Client& client, const Owner& owner, std::string_view owner_kind,
    const api::LabelSelector& selector, std::vector<std::shared_ptr<const T>> candidates) {
  std::vector<std::shared_ptr<const T>> claimed;
  std::vector<std::string> errors;
  std::optional<absl::Status> can_adopt;
  const bool owner_deleting = owner.metadata().has_deletion_timestamp();
  for (std::shared_ptr<const T>& candidate : candidates) {
    const api::v1::OwnerReference* ref = GetControllerOf(*candidate);
    const bool matches = selector.Matches(candidate->metadata().labels());
    if (ref != nullptr) {
      if (ref->uid() != owner.metadata().uid()) continue;
      if (matches) {
        claimed.push_back(std::move(candidate));
        continue;
      }
      if (owner_deleting) continue;
      T released = *candidate;
      ORCH_RETURN_IF_ERROR(RemoveOwnerReference(owner, released, *client.scheme()).status());
      absl::Status status = client.Update(released).status();
      if (!status.ok() && !absl::IsNotFound(status)) errors.push_back(std::string(status.message()));
      continue;
    }
    if (owner_deleting || !matches || candidate->metadata().has_deletion_timestamp()) continue;
    if (!can_adopt.has_value()) can_adopt = RecheckOwner(client, owner, owner_kind);
    if (!can_adopt->ok()) {
      errors.push_back(std::string(can_adopt->message()));
      break;
    }
    T adopted = *candidate;
    ORCH_RETURN_IF_ERROR(SetControllerReference(owner, adopted, *client.scheme()));
    absl::StatusOr<T> written = client.Update(adopted);
    if (written.ok()) {
      claimed.push_back(std::make_shared<const T>(*std::move(written)));
    } else if (!absl::IsNotFound(written.status())) {
      errors.push_back(std::string(written.status().message()));
    }
  }
  if (!errors.empty()) return absl::AbortedError(fmt::format("{}", fmt::join(errors, "; ")));
  return claimed;
}

}  // namespace orch::controller::internal

#endif  // ORCH_SRC_CONTROLLER_CLAIM_H_
