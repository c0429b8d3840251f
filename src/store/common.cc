#include "store/common.h"

#include <charconv>

#include "absl/strings/escaping.h"
#include "fmt/format.h"

namespace orch::store::internal {
namespace {

absl::StatusOr<ContinueToken> DecodeContinueToken(std::string_view token) {
  const absl::Status malformed = absl::InvalidArgumentError("continue: malformed continue token");
  std::string raw;
  if (!absl::WebSafeBase64Unescape(absl::string_view(token.data(), token.size()), &raw)) {
    return malformed;
  }
  // The decoder forgives stray trailing bits; only a token a store could have made passes.
  std::string canonical;
  absl::WebSafeBase64Escape(raw, &canonical);
  if (canonical != token) return malformed;
  // "<revision>:<key length>:<key>": the length catches a token cut short or extended.
  ContinueToken decoded;
  const size_t colon = raw.find(':');
  if (colon == std::string::npos || colon == 0) return malformed;
  auto [end, ec] = std::from_chars(raw.data(), raw.data() + colon, decoded.revision);
  if (ec != std::errc() || end != raw.data() + colon || decoded.revision <= 0) return malformed;
  const size_t second = raw.find(':', colon + 1);
  if (second == std::string::npos || second == colon + 1) return malformed;
  size_t length = 0;
  auto [length_end, length_ec] = std::from_chars(raw.data() + colon + 1, raw.data() + second, length);
  if (length_ec != std::errc() || length_end != raw.data() + second || length == 0 ||
      raw.size() - second - 1 != length) {
    return malformed;
  }
  decoded.last_key = raw.substr(second + 1);
  return decoded;
}

}  // namespace

absl::Status CheckKey(std::string_view key) {
  if (key.empty()) return absl::InvalidArgumentError("key: must not be empty");
  return absl::OkStatus();
}

absl::Status CheckRevisionArgument(int64_t revision, std::string_view field) {
  if (revision < 0) {
    return absl::InvalidArgumentError(fmt::format("{}: must not be negative", field));
  }
  return absl::OkStatus();
}

absl::Status KeyNotFound(std::string_view key) {
  return absl::NotFoundError(fmt::format("key \"{}\" not found", key));
}

absl::Status LeaseNotFound(LeaseId lease) {
  return absl::NotFoundError(fmt::format("lease {} not found (expired or revoked)", lease));
}

absl::Status RevisionConflict(std::string_view key, int64_t expected, int64_t found) {
  return absl::AbortedError(fmt::format(
      "key \"{}\" was modified: expected revision {}, found {}; re-read and retry", key,
      expected, found));
}

std::string EncodeContinueToken(int64_t revision, std::string_view last_key) {
  std::string raw = fmt::format("{}:{}:{}", revision, last_key.size(), last_key);
  std::string token;
  absl::WebSafeBase64Escape(raw, &token);
  return token;
}

absl::StatusOr<std::optional<ContinueToken>> ContinueFrom(std::string_view prefix,
                                                         const ListOptions& options) {
  if (options.continue_token.empty()) return std::nullopt;
  absl::StatusOr<ContinueToken> token = DecodeContinueToken(options.continue_token);
  if (!token.ok()) return token.status();
  if (!HasPrefix(token->last_key, prefix)) {
    return absl::InvalidArgumentError(fmt::format(
        "continue: the token belongs to a list of another prefix than \"{}\"", prefix));
  }
  if (options.revision != 0 && options.revision != token->revision) {
    return absl::InvalidArgumentError(
        "revision: must be 0 or the continue token's revision when continuing a list");
  }
  return *std::move(token);
}

}  // namespace orch::store::internal
