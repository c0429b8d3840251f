#include "orch/base/clock.h"

#include <cassert>

#include "absl/time/clock.h"

namespace orch {
namespace {

class RealClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

}  // namespace

Clock& Clock::Real() {
  static RealClock* const clock = new RealClock();  // stateless, never destroyed
  return *clock;
}

VirtualClock::VirtualClock(absl::Time start) : now_ns_(absl::ToUnixNanos(start)) {}

absl::Time VirtualClock::Now() const {
  return absl::FromUnixNanos(now_ns_.load(std::memory_order_acquire));
}

void VirtualClock::AdvanceTo(absl::Time t) {
  const int64_t target = absl::ToUnixNanos(t);
  int64_t current = now_ns_.load(std::memory_order_relaxed);
  assert(target >= current && "VirtualClock never moves backwards");
  while (current < target &&
         !now_ns_.compare_exchange_weak(current, target, std::memory_order_release)) {
  }
}

}  // namespace orch
