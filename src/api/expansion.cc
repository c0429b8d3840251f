#include "api/expansion.h"

namespace orch::api::internal {

std::string ExpandVariables(std::string_view input,
                            const absl::flat_hash_map<std::string, std::string>& vars) {
  std::string out;
  out.reserve(input.size());
  size_t i = 0;
  while (i < input.size()) {
    // A "$" with nothing after it is literal, as everything that is not a "$".
    if (input[i] != '$' || i + 1 == input.size()) {
      out.push_back(input[i++]);
      continue;
    }
    const char next = input[i + 1];
    if (next == '$') {  // "$$": an escaped "$"
      out.push_back('$');
      i += 2;
    } else if (next == '(') {
      const size_t close = input.find(')', i + 2);
      if (close == std::string_view::npos) {  // never closed: "$(" stays, the rest is read on
        out.append("$(");
        i += 2;
        continue;
      }
      const std::string name(input.substr(i + 2, close - i - 2));
      auto it = vars.find(name);
      out.append(it != vars.end() ? it->second : "$(" + name + ")");
      i = close + 1;
    } else {  // "$x": not an expression
      out.push_back('$');
      out.push_back(next);
      i += 2;
    }
  }
  return out;
}

}  // namespace orch::api::internal
