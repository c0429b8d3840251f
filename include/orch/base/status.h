// Status helpers shared by every part of orch.
//
// orch reports every error as an absl::Status; nothing in the public API throws. Codes are
// chosen by what the caller should do next (see DESIGN.md, "Errors"):
//   kInvalidArgument    bad input; the message names the field path
//   kNotFound           the object or key does not exist
//   kAlreadyExists      create of an existing object
//   kAborted            revision conflict: re-read and retry the read-modify-write
//   kUnavailable        transient: retry the same call
//   kFailedPrecondition do not retry until the state is fixed
//   kOutOfRange         watch history is gone: re-list
//
// The Abseil in Debian 12 has no status macros, so orch defines its own here, once.
#ifndef ORCH_BASE_STATUS_H_
#define ORCH_BASE_STATUS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define ORCH_STATUS_CONCAT_INNER_(a, b) a##b
#define ORCH_STATUS_CONCAT_(a, b) ORCH_STATUS_CONCAT_INNER_(a, b)

// Returns from the enclosing function when `expr` (an absl::Status) is not OK.
#define ORCH_RETURN_IF_ERROR(expr)                          \
  do {                                                      \
    ::absl::Status orch_status_ = (expr);                   \
    if (!orch_status_.ok()) return orch_status_;            \
  } while (false)

// `ORCH_ASSIGN_OR_RETURN(auto x, F());` evaluates F() (an absl::StatusOr<T>); on error
// returns its status from the enclosing function, otherwise moves the value into `lhs`.
#define ORCH_ASSIGN_OR_RETURN(lhs, expr) \
  ORCH_ASSIGN_OR_RETURN_IMPL_(ORCH_STATUS_CONCAT_(orch_statusor_, __LINE__), lhs, expr)
#define ORCH_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return std::move(tmp).status();    \
  lhs = std::move(tmp).value()

namespace orch {

// Prefixes `status`'s message with `context` ("context: message"), keeping its code.
// An OK status is returned unchanged.
absl::Status Annotate(const absl::Status& status, std::string_view context);

}  // namespace orch

#endif  // ORCH_BASE_STATUS_H_
