#include "orch/store/keys.h"

#include <initializer_list>


namespace orch::store {

namespace {

std::string Join(std::initializer_list<std::string_view> parts) {
  size_t size = 0;
  for (std::string_view p : parts) size += p.size();
  std::string out;
  out.reserve(size);
  for (std::string_view p : parts) out.append(p);
  return out;
}

}  // namespace

std::string ObjectKey(std::string_view resource, std::string_view ns, std::string_view name) {
  if (ns.empty()) return Join({kRegistryRoot, resource, "/", name});
  return Join({kRegistryRoot, resource, "/", ns, "/", name});
}

std::string ResourcePrefix(std::string_view resource, std::string_view ns) {
  if (ns.empty()) return Join({kRegistryRoot, resource, "/"});
  return Join({kRegistryRoot, resource, "/", ns, "/"});
}

std::string PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    if (static_cast<unsigned char>(end.back()) != 0xff) {
      end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
      return end;
    }
    end.pop_back();
  }
  return end;  // every key is below the "no end" marker
}

}  // namespace orch::store
