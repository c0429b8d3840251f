// Leader election: one active instance among several, with a coordination.k8s.io Lease
// as the lock (client-go's tools/leaderelection with a LeaseLock).
//
//   ORCH_ASSIGN_OR_RETURN(auto elector, controller::LeaderElector::Create({
//       .client = &client,
//       .executor = &executor,
//       .lease_name = "my-operator",
//       .identity = hostname + "_" + pid,
//       .on_started_leading = [&] { StartLeaderOnlyWork(); },
//       .on_stopped_leading = [&] { StopLeaderOnlyWork(); },
//   }));
//   elector->Start();
//   ...
//   if (elector->IsLeader()) { /* act as leader */ }
//
// How an instance gets and keeps the lease (client-go's tryAcquireOrRenew):
//   - Each attempt reads the Lease. A missing Lease is created with this instance as
//     holder (leaseTransitions 0). Otherwise, whenever the record (holder, duration,
//     acquire and renew times, transitions) differs from the one seen last, the instance
//     notes the time it saw the change on its OWN clock; the times written in the record
//     are never trusted, so clock skew between instances does not matter, only their
//     clocks' rates. A record held by another identity counts as held until
//     leaseDurationSeconds (the record's; this config's lease_duration when absent) have
//     passed since that local observation. A free or expired lease is taken with an
//     Update that is a compare-and-swap on its resourceVersion, so of several candidates
//     exactly one wins a round. Taking it from someone else (or after a release) sets
//     acquireTime = now and leaseTransitions + 1; renewing one's own keeps both.
//   - A candidate retries every retry_period × (1 + 1.2·u), u in [0, 1) drawn from a
//     generator seeded by the identity (client-go's JitterFactor, made reproducible: the
//     same identities on a VirtualExecutor give the same run every time).
//   - The leader renews every retry_period. A renewal that fails (an error, a conflict)
//     is retried every retry_period until renew_deadline has passed since the last
//     successful one; then the leadership term is over. It is over at once when an
//     attempt finds another identity holding the lease.
//   - After a term ends (but not after Stop) the instance is a candidate again and may
//     begin a new term later, with a new on_started_leading.
//
// The guarantee (stronger than client-go's): IsLeader() is true only while
//     now < (start of the last successful acquire or renew) + renew_deadline
// on the executor's clock. It is a pure clock check: an instance whose executor stopped
// running its tasks (a stalled process, a long GC-like pause, a frozen VM) answers false
// the moment it could be superseded, without any of its timers having run. Another
// instance can acquire only lease_duration after it observed that renewal, which is
// later than the renewal started, and renew_deadline < lease_duration, so — with clocks
// that run at the same rate — an instance's IsLeader() turns false strictly before any
// other can acquire the lease. Components that act as leader should check IsLeader()
// before each action (or at least each reconcile) rather than rely on the callbacks
// alone: a callback needs a running executor to be delivered, the clock check does not.
//
// When the elector itself notices a term ended: its timer fires at the renewal deadline
// (or at the first moment its executor runs tasks again, after a stall), and every
// attempt checks the deadline first; IsLeader() has no side effects. It then posts
// on_stopped_leading.
//
// Callbacks (all optional):
//   on_new_leader(identity)  each time the observed holder changes to a non-empty
//                            identity (this instance's own included).
//   on_started_leading()     once at the start of each term.
//   on_stopped_leading()     once at the end of each term, always after that term's
//                            on_started_leading.
// They run on the executor, one at a time, in the order the events happened, never under
// the elector's lock: a callback may call IsLeader, GetLeader and Stop (Stop from inside a
// callback returns without waiting for the callbacks still to come; they run after the
// current one returns). Callbacks still pending when Stop is called from outside a
// callback — including the final on_stopped_leading — run inside Stop on its caller's
// thread, so once Stop returns none is running or will run again.
//
// Thread safety: every method may be called from any thread, including from callbacks.
// Attempts are never concurrent with each other: one timer at a time drives them.
// Ownership: the Client and Executor are not owned and must outlive the elector.
// Destroying the elector stops it (see Stop).
// Errors: Create reports a bad config as kInvalidArgument, with client-go's messages where
// client-go has one. Failed reads and writes of the Lease are retried, never reported:
// they show as not (or no longer) leading.
#ifndef ORCH_CONTROLLER_LEADER_ELECTION_H_
#define ORCH_CONTROLLER_LEADER_ELECTION_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "orch/base/executor.h"
#include "orch/client/client.h"

namespace orch::controller {

// client-go's JitterFactor: candidates wait up to this much longer than retry_period
// between attempts, and renew_deadline must exceed retry_period times it.
inline constexpr double kLeaderElectionJitterFactor = 1.2;

struct LeaderElectionConfig {
  client::Client* client = nullptr;  // required
  // Required. Runs the elector's timers and callbacks; its clock() is the elector's time.
  Executor* executor = nullptr;
  std::string lease_namespace = "default";
  std::string lease_name;  // required; a valid object name
  std::string identity;    // required; unique per instance (say, hostname + "_" + a uid)

  // How long others wait, from when they saw the last renewal, before taking the lease.
  // Written to the Lease as leaseDurationSeconds, rounded up to whole seconds.
  absl::Duration lease_duration = absl::Seconds(15);
  // How long the leader keeps leading without a successful renewal. Must be less than
  // lease_duration; the margin absorbs differences in clock rates.
  absl::Duration renew_deadline = absl::Seconds(10);
  // Time between attempts. renew_deadline must exceed retry_period × 1.2.
  absl::Duration retry_period = absl::Seconds(2);
  // Stop() gives the lease up (holder "", leaseDurationSeconds 1) so another instance
  // can take it at once instead of after lease_duration (client-go's ReleaseOnCancel).
  bool release_on_stop = true;

  std::function<void()> on_started_leading;
  std::function<void()> on_stopped_leading;
  std::function<void(const std::string& identity)> on_new_leader;
};

class LeaderElector {
 public:
  // kInvalidArgument for a missing client, executor, lease_name or identity ("Lock
  // identity is empty"), for durations client-go rejects ("leaseDuration must be greater
  // than renewDeadline", "renewDeadline must be greater than retryPeriod*JitterFactor",
  // "leaseDuration must be greater than zero", "renewDeadline must be greater than zero",
  // "retryPeriod must be greater than zero"), for a lease_duration beyond what
  // leaseDurationSeconds can hold, and for a lease name or namespace the API rejects
  // (the message names the field).
  static absl::StatusOr<std::unique_ptr<LeaderElector>> Create(LeaderElectionConfig config);

  // Stop().
  ~LeaderElector();
  LeaderElector(const LeaderElector&) = delete;
  LeaderElector& operator=(const LeaderElector&) = delete;

  // Begins trying to acquire the lease: the first attempt is posted at once. Idempotent;
  // does nothing after Stop.
  void Start();

  // Stops for good: no attempt runs after Stop returns (it waits for one in progress on
  // another thread). IsLeader() is false from the moment Stop is called. When the last
  // observed holder is this instance and release_on_stop is set, releases the lease (on
  // the caller's thread; a compare-and-swap against the last version this instance saw,
  // so it never clears a lease someone else has taken since). If a term was open, its
  // on_stopped_leading follows. See the header comment for where pending callbacks run.
  // Idempotent: a second call waits for the first to finish, unless made from a callback.
  void Stop();

  // True only while a term is open and now < last successful renewal's start +
  // renew_deadline on the executor's clock (see the guarantee above). False before
  // Start and after Stop.
  bool IsLeader() const;

  // The holder in the Lease as last read or written by this instance ("" if none or
  // released).
  std::string GetLeader() const;

  const std::string& identity() const;

 private:
  struct State;
  explicit LeaderElector(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace orch::controller

#endif  // ORCH_CONTROLLER_LEADER_ELECTION_H_
