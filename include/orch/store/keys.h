// Store keys: `/registry/<resource>/<namespace>/<name>` for namespaced kinds and
// `/registry/<resource>/<name>` for cluster-scoped ones. Pure functions, thread-safe.
#ifndef ORCH_STORE_KEYS_H_
#define ORCH_STORE_KEYS_H_

#include <string>
#include <string_view>

namespace orch::store {

inline constexpr std::string_view kRegistryRoot = "/registry/";

// The key of one object. An empty `ns` gives the cluster-scoped form.
std::string ObjectKey(std::string_view resource, std::string_view ns, std::string_view name);

// The prefix of every object of a resource (empty `ns`), or of one namespace.
std::string ResourcePrefix(std::string_view resource, std::string_view ns = {});

// The smallest key greater than every key starting with `prefix` (an exclusive range end).
std::string PrefixEnd(std::string_view prefix);

}  // namespace orch::store

#endif  // ORCH_STORE_KEYS_H_
