// Hash maps and sets keyed by std::string that can be looked up with a std::string_view
// without building a std::string.
//
// Debian 12's Abseil is built without std aliases, so absl::string_view is not
// std::string_view and absl::flat_hash_map<std::string, V>::find(std::string_view) does not
// compile. These aliases give the heterogeneous lookup back.
#ifndef ORCH_BASE_STRING_MAP_H_
#define ORCH_BASE_STRING_MAP_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"

namespace orch {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return absl::Hash<std::string_view>()(s); }
};

struct StringEq {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const { return a == b; }
};

template <typename V>
using StringMap = absl::flat_hash_map<std::string, V, StringHash, StringEq>;
using StringSet = absl::flat_hash_set<std::string, StringHash, StringEq>;

}  // namespace orch

#endif  // ORCH_BASE_STRING_MAP_H_
