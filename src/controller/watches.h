// How the built-in controllers wire their watches to their reconciler's handlers.
// Internal.
#ifndef ORCH_SRC_CONTROLLER_WATCHES_H_
#define ORCH_SRC_CONTROLLER_WATCHES_H_

#include "orch/controller/controller.h"

namespace orch::controller::internal {

// A watch of kind T whose every event goes to `r`'s handler `on`.
template <typename T, typename R, typename On>
WatchSpec HandledBy(R* r, On on) {
  return {T::descriptor(), nullptr,
          [r, on](const WatchEvent& e, RequestQueue& q) { (r->*on)(e, q); }, {}};
}

}  // namespace orch::controller::internal

#endif  // ORCH_SRC_CONTROLLER_WATCHES_H_
