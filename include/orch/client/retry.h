// RetryOnConflict: orch's one retry helper for read-modify-write loops.
//
//   absl::Status s = client::RetryOnConflict(client::kDefaultRetry, [&]() -> absl::Status {
//     ORCH_ASSIGN_OR_RETURN(v1::Deployment d, c.Get<v1::Deployment>("default", "web"));
//     d.mutable_spec()->set_replicas(3);
//     return c.Update(d).status();      // kAborted if another writer got there first
//   });
//
// `fn` re-reads and re-applies its change on each attempt; attempts stop at the first
// result that is not kAborted, or when the backoff's steps are used up (the last kAborted
// is then returned). Between attempts the caller's Sleeper waits, so tests and
// virtual-time hosts never sleep for real. RetryOnError is the general form that other
// parts of orch use for their own retriable errors (kUnavailable, say); Backoff is also
// the delay schedule of orch's other retry loops (informer re-lists, ...).
//
// Thread safety: the functions are reentrant; a Sleeper's thread safety is its own
// (Real() and None() may be used from any thread).
#ifndef ORCH_CLIENT_RETRY_H_
#define ORCH_CLIENT_RETRY_H_

#include <cstdint>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/time/time.h"

namespace orch::client {

// Kubernetes' wait.Backoff: attempt k (0-based) is followed by a wait of
// min(cap, duration * factor^k), lengthened by up to `jitter` times itself at random.
struct Backoff {
  absl::Duration duration = absl::Milliseconds(10);  // the first wait
  double factor = 1.0;                               // growth per attempt; 1 = constant
  double jitter = 0.0;                               // 0.1 adds up to 10% at random
  int steps = 5;                                     // attempts, at least 1
  absl::Duration cap = absl::InfiniteDuration();     // no wait (before jitter) exceeds it

  // The wait after attempt `attempt` (0-based), without jitter.
  absl::Duration Delay(int attempt) const;
  // Delay(attempt) lengthened by `jitter` * Delay(attempt) * `unit`, unit in [0, 1).
  absl::Duration DelayWithJitter(int attempt, double unit) const;
};

// client-go's retry.DefaultRetry: 5 attempts, 10ms apart, 10% jitter.
inline constexpr Backoff kDefaultRetry{absl::Milliseconds(10), 1.0, 0.1, 5,
                                       absl::InfiniteDuration()};
// client-go's retry.DefaultBackoff: 4 attempts, 10ms then x5 each time, 10% jitter.
inline constexpr Backoff kDefaultBackoff{absl::Milliseconds(10), 5.0, 0.1, 4,
                                         absl::InfiniteDuration()};

// How a retry loop waits between attempts.
class Sleeper {
 public:
  Sleeper() = default;
  Sleeper(const Sleeper&) = delete;
  Sleeper& operator=(const Sleeper&) = delete;
  virtual ~Sleeper() = default;

  virtual void Sleep(absl::Duration duration) = 0;

  // Blocks the calling thread in real time. For code on its own thread or a thread pool.
  static Sleeper& Real();
  // Returns at once. For code running inside a VirtualExecutor task, where blocking
  // cannot let virtual time pass and retrying at once is what the simulation wants.
  static Sleeper& None();
};

// Calls `fn` until it returns something other than kAborted, at most backoff.steps times.
absl::Status RetryOnConflict(const Backoff& backoff, absl::FunctionRef<absl::Status()> fn,
                             Sleeper& sleeper = Sleeper::Real());

// Calls `fn` until it succeeds or returns an error `retriable` rejects, at most
// backoff.steps times; returns the last result.
absl::Status RetryOnError(const Backoff& backoff,
                          absl::FunctionRef<bool(const absl::Status&)> retriable,
                          absl::FunctionRef<absl::Status()> fn,
                          Sleeper& sleeper = Sleeper::Real());

}  // namespace orch::client

#endif  // ORCH_CLIENT_RETRY_H_
