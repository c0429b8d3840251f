// What every Store backend checks and says the same way: argument checks, the errors of
// the Store contract, and List's continue tokens. Internal.
#ifndef ORCH_SRC_STORE_COMMON_H_
#define ORCH_SRC_STORE_COMMON_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "orch/store/store.h"

namespace orch::store::internal {

inline bool HasPrefix(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// kInvalidArgument "key: must not be empty".
absl::Status CheckKey(std::string_view key);
// kInvalidArgument "<field>: must not be negative".
absl::Status CheckRevisionArgument(int64_t revision, std::string_view field);

// kNotFound `key "<key>" not found`.
absl::Status KeyNotFound(std::string_view key);
// kNotFound "lease <id> not found (expired or revoked)".
absl::Status LeaseNotFound(LeaseId lease);
// kAborted: an Update or Delete expected `expected` and found `found`.
absl::Status RevisionConflict(std::string_view key, int64_t expected, int64_t found);

// A List's continue token: the revision of the list and the last key it returned. Opaque
// to callers (web-safe base64 of "<revision>:<key length>:<last key>").
struct ContinueToken {
  int64_t revision = 0;
  std::string last_key;
};
std::string EncodeContinueToken(int64_t revision, std::string_view last_key);
// Where a List of `prefix` continues: nullopt without a token. kInvalidArgument
// "continue: malformed continue token" for anything EncodeContinueToken did not make, and
// for a token of a list of another prefix, or a revision other than 0 or the token's.
absl::StatusOr<std::optional<ContinueToken>> ContinueFrom(std::string_view prefix,
                                                         const ListOptions& options);

}  // namespace orch::store::internal

#endif  // ORCH_SRC_STORE_COMMON_H_
