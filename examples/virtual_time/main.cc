// Hours of timers in microseconds of wall time: a heartbeat every 10 s and a lease that
// expires after 40 s without one, on a VirtualExecutor. The same run prints the same
// lines every time; nothing sleeps.
#include <cstdio>

#include "absl/time/time.h"
#include "orch/base/executor.h"

int main() {
  orch::VirtualExecutor executor;
  const absl::Time start = executor.clock().Now();
  auto elapsed = [&] { return absl::FormatDuration(executor.clock().Now() - start); };

  int beats = 0;
  absl::Time last_beat = start;
  orch::TimerId expiry = 0;
  std::function<void()> arm_expiry = [&] {
    if (expiry != 0) executor.Cancel(expiry);
    expiry = executor.PostAfter(absl::Seconds(40), [&] {
      std::printf("%s lease expired (last heartbeat at %s)\n", elapsed().c_str(),
                  absl::FormatDuration(last_beat - start).c_str());
    });
  };
  std::function<void()> heartbeat = [&] {
    ++beats;
    last_beat = executor.clock().Now();
    arm_expiry();
    if (beats < 30) executor.PostAfter(absl::Seconds(10), [&] { heartbeat(); });  // then stop
  };
  executor.Post([&] { heartbeat(); });

  executor.AdvanceBy(absl::Hours(2));
  std::printf("%s: %d heartbeats, executor idle: %s\n", elapsed().c_str(), beats,
              executor.Idle() ? "yes" : "no");
  return beats == 30 && executor.Idle() ? 0 : 1;
}
