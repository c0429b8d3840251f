// RateLimiter: how long a work queue waits before handing a failed key out again.
//
//   std::unique_ptr<RateLimiter> limiter = DefaultControllerRateLimiter(&clock);
//   absl::Status s = Reconcile(key);
//   if (s.ok()) {
//     limiter->Forget(key);                       // success: its backoff starts over
//   } else {
//     queue.AddAfter(key, limiter->When(key));    // failure: retry later, later each time
//   }
//
// These are client-go's workqueue rate limiters, with the same figures:
//   - ItemExponentialFailure: per key, base * 2^(failures so far), capped at max.
//   - Bucket: one token bucket shared by all keys (golang.org/x/time/rate), so a burst of
//     failures across many keys is spread out in time.
//   - MaxOf: the longest delay any of several limiters asks for.
//   - DefaultControllerRateLimiter: MaxOf(exponential 5ms..1000s, bucket 10 qps burst 100).
//
// Thread safety: every method of every limiter made here may be called from any thread;
// each limiter locks its own state. A RateLimiter implemented elsewhere should do the same,
// since work-queue workers call it concurrently.
// Ownership: the caller owns the returned limiter. A Clock handed to a factory is not
// owned and must outlive the limiter. MaxOf owns the limiters it is given.
// Errors: none. The factories document their preconditions as REQUIRES; an argument that
// breaks one is clamped to the nearest valid value (see each factory), never a crash.
#ifndef ORCH_CONTROLLER_RATE_LIMITER_H_
#define ORCH_CONTROLLER_RATE_LIMITER_H_

#include <memory>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "orch/base/clock.h"

namespace orch::controller {

class RateLimiter {
 public:
  RateLimiter() = default;
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;
  virtual ~RateLimiter() = default;

  // The delay before `key` is processed again; counts one more failure of `key`.
  // Never negative.
  virtual absl::Duration When(std::string_view key) = 0;

  // Drops what the limiter remembers of `key` (it succeeded, or is gone). Forgetting a key
  // the limiter does not know is a no-op.
  virtual void Forget(std::string_view key) = 0;

  // Failures of `key` counted since it was last forgotten.
  virtual int NumRequeues(std::string_view key) const = 0;
};

// client-go's ItemExponentialFailureRateLimiter. The n-th When(key) since key was last
// forgotten (n = 1, 2, ...) returns min(max, base * 2^(n-1)): with base 5ms that is 5ms,
// 10ms, 20ms, ... until the cap, which it then keeps, however many failures follow.
// Keys are independent; the limiter remembers every key until it is forgotten.
// REQUIRES: base > 0, max >= base. (base <= 0 is taken as a zero delay for every call;
// max < base is raised to base.)
std::unique_ptr<RateLimiter> NewItemExponentialFailureRateLimiter(absl::Duration base,
                                                                  absl::Duration max);

// client-go's BucketRateLimiter: one token bucket for all keys, with
// golang.org/x/time/rate's Limiter.Reserve().Delay() semantics. The bucket starts full
// with `burst` tokens and refills at `qps` tokens per second (read from `clock`), never
// holding more than `burst`. Each When takes one token and returns how long until that
// token is there (rounded to the nanosecond): 0 while tokens remain; otherwise the balance
// goes negative, so calls in the same instant wait 1/qps, 2/qps, ... longer and longer.
// The key is ignored: NumRequeues is always 0 and Forget does nothing.
// An infinite qps never delays.
// REQUIRES: qps > 0, burst >= 1, clock != nullptr and outlives the limiter.
// (qps <= 0 or NaN is taken as one token in about 30 years; burst < 1 as 1; a null clock
// as Clock::Real().)
std::unique_ptr<RateLimiter> NewBucketRateLimiter(double qps, int burst, Clock* clock);

// client-go's MaxOfRateLimiter. When asks every limiter (so each counts the failure) and
// returns the longest delay; NumRequeues is the largest count; Forget forwards to all.
// With no limiters When returns 0. Null entries are ignored.
std::unique_ptr<RateLimiter> NewMaxOfRateLimiter(
    std::vector<std::unique_ptr<RateLimiter>> limiters);

// client-go's DefaultControllerRateLimiter: MaxOf(ItemExponentialFailure(5ms, 1000s),
// Bucket(10 qps, burst 100)). One key failing over and over backs off 5ms, 10ms, ...,
// 1000s; many keys failing at once are let through 10 per second after the first 100.
// REQUIRES: clock != nullptr and outlives the limiter (null is taken as Clock::Real()).
std::unique_ptr<RateLimiter> DefaultControllerRateLimiter(Clock* clock);

}  // namespace orch::controller

#endif  // ORCH_CONTROLLER_RATE_LIMITER_H_
