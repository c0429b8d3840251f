// Clock: the one source of time in orch.
//
// Every timer, backoff, heartbeat, lease, probe period and deadline in orch reads time
// through an injected Clock, never from the system directly. A simulation runs on a
// VirtualClock and is deterministic: time moves only when the host advances it.
//
// Thread safety: every method of every Clock may be called from any thread.
// Ownership: whoever hands a Clock* to a component keeps it alive longer than the component.
#ifndef ORCH_BASE_CLOCK_H_
#define ORCH_BASE_CLOCK_H_

#include <atomic>

#include "absl/time/time.h"

namespace orch {

class Clock {
 public:
  Clock() = default;
  Clock(const Clock&) = delete;
  Clock& operator=(const Clock&) = delete;
  virtual ~Clock() = default;

  // The current time on this clock.
  virtual absl::Time Now() const = 0;

  // The wall clock. Stateless; the returned object lives for the whole process.
  static Clock& Real();
};

// A clock that moves only when told to. Starts at `start` (default: 2026-01-01T00:00:00Z,
// so timestamps in simulations look like real ones and are the same every run).
class VirtualClock : public Clock {
 public:
  explicit VirtualClock(absl::Time start = absl::FromUnixSeconds(1767225600));

  absl::Time Now() const override;

  // Moves time forward to `t`. REQUIRES: t >= Now(). Most hosts advance time through
  // VirtualExecutor, which also runs the timers that fall due.
  void AdvanceTo(absl::Time t);
  void Advance(absl::Duration d) { AdvanceTo(Now() + d); }

 private:
  std::atomic<int64_t> now_ns_;
};

}  // namespace orch

#endif  // ORCH_BASE_CLOCK_H_
