// JSON text helpers for hosts and tools that write JSON by hand (reports, JSON lines).
//
// Thread safety: pure functions. Errors: none; never throws.
#ifndef ORCH_BASE_JSON_H_
#define ORCH_BASE_JSON_H_

#include <string>
#include <string_view>

namespace orch {

// `text` as a JSON string literal, quotes included: '"' and '\' escaped, \n and \t as
// such, other control characters as \u00XX. Bytes >= 0x80 pass through (UTF-8 stays UTF-8).
std::string JsonQuote(std::string_view text);

}  // namespace orch

#endif  // ORCH_BASE_JSON_H_
