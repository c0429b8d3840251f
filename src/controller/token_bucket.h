// The balance of a token bucket as golang.org/x/time/rate keeps it: tokens as of `last`,
// brought up to date (capped) when read. One rule for every bucket in the controllers
// (the work queue's overall limiter, the node lifecycle's eviction limiters). Internal;
// not thread-safe (its owner locks).
#ifndef ORCH_SRC_CONTROLLER_TOKEN_BUCKET_H_
#define ORCH_SRC_CONTROLLER_TOKEN_BUCKET_H_

#include <algorithm>
#include <cmath>

#include "absl/time/time.h"

namespace orch::controller::internal {

struct TokenBalance {
  double tokens = 0;  // may go below zero: reservations already promised
  absl::Time last;

  // Adds what `rate` tokens per second earned since `last`, up to `capacity`. An
  // infinite rate fills the bucket; a clock that stepped back refills nothing.
  void Refill(absl::Time now, double rate, double capacity) {
    if (std::isinf(rate)) {
      tokens = capacity;
      last = std::max(last, now);
      return;
    }
    if (now <= last) {
      last = std::min(last, now);
      return;
    }
    if (rate > 0) tokens = std::min(capacity, tokens + rate * absl::ToDoubleSeconds(now - last));
    last = now;
  }
};

}  // namespace orch::controller::internal

#endif  // ORCH_SRC_CONTROLLER_TOKEN_BUCKET_H_
