#include "orch/store/store.h"

#include <ostream>

namespace orch::store {

const std::string& SharedBytes::Empty() {
  static const std::string* const empty = new std::string();
  return *empty;
}

std::ostream& operator<<(std::ostream& os, const SharedBytes& bytes) { return os << bytes.str(); }

}  // namespace orch::store
