#include "orch/controller/leader_election.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <deque>
#include <limits>
#include <optional>
#include <random>
#include <string_view>
#include <utility>
#include <vector>

#include "orch/api/time.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "fmt/format.h"
#include "google/protobuf/timestamp.pb.h"
#include "orch/api/defaults.h"
#include "orch/api/v1/coordination.pb.h"
#include "orch/api/validation.h"
#include "orch/base/mutex.h"
#include "orch/base/status.h"

namespace orch::controller {
namespace {

namespace v1 = ::orch::api::v1;

// Electors whose callbacks are running on this thread: Stop from inside one of them must
// not wait for the callbacks to finish.
thread_local std::vector<const void*> running_callbacks;

bool InCallbackOf(const void* state) {
  return std::find(running_callbacks.begin(), running_callbacks.end(), state) !=
         running_callbacks.end();
}


// What an instance compares between two reads of the Lease: any change restarts the
// local wait for the lease to expire.
struct LeaseRecord {
  std::string holder;
  int32_t lease_duration_seconds = 0;
  absl::Time acquire_time;
  absl::Time renew_time;
  int32_t transitions = 0;

  bool operator==(const LeaseRecord&) const = default;
};

LeaseRecord RecordOf(const v1::Lease& lease) {
  const v1::LeaseSpec& spec = lease.spec();
  return {spec.holder_identity(), spec.lease_duration_seconds(),
          api::FromTimestamp(spec.acquire_time()), api::FromTimestamp(spec.renew_time()),
          spec.lease_transitions()};
}

// Rounded up, so others never wait less than the holder's lease_duration.
int64_t CeilSeconds(absl::Duration d) {
  return absl::ToInt64Seconds(absl::Ceil(d, absl::Seconds(1)));
}

uint64_t Fnv1a(std::string_view s) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

v1::Lease InitialLease(const LeaderElectionConfig& config, absl::Time now) {
  v1::Lease lease;
  lease.mutable_metadata()->set_name(config.lease_name);
  lease.mutable_metadata()->set_namespace_(config.lease_namespace);
  v1::LeaseSpec* spec = lease.mutable_spec();
  spec->set_holder_identity(config.identity);
  spec->set_lease_duration_seconds(static_cast<int32_t>(CeilSeconds(config.lease_duration)));
  *spec->mutable_acquire_time() = api::MicroTime(now);
  *spec->mutable_renew_time() = api::MicroTime(now);
  spec->set_lease_transitions(0);
  return lease;
}

absl::Status ValidateConfig(const LeaderElectionConfig& c) {
  if (c.client == nullptr) {
    return absl::InvalidArgumentError("LeaderElectionConfig.client is required");
  }
  if (c.executor == nullptr) {
    return absl::InvalidArgumentError("LeaderElectionConfig.executor is required");
  }
  if (c.lease_name.empty()) {
    return absl::InvalidArgumentError("LeaderElectionConfig.lease_name is required");
  }
  if (c.identity.empty()) return absl::InvalidArgumentError("Lock identity is empty");
  // client-go's checks, in client-go's order.
  if (c.lease_duration <= c.renew_deadline) {
    return absl::InvalidArgumentError("leaseDuration must be greater than renewDeadline");
  }
  if (c.renew_deadline <= c.retry_period * kLeaderElectionJitterFactor) {
    return absl::InvalidArgumentError(
        "renewDeadline must be greater than retryPeriod*JitterFactor");
  }
  if (c.lease_duration <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("leaseDuration must be greater than zero");
  }
  if (c.renew_deadline <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("renewDeadline must be greater than zero");
  }
  if (c.retry_period <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("retryPeriod must be greater than zero");
  }
  if (c.lease_duration > absl::Seconds(std::numeric_limits<int32_t>::max())) {
    return absl::InvalidArgumentError(
        fmt::format("leaseDuration must be at most {}s (leaseDurationSeconds is an int32), "
                    "got {}",
                    std::numeric_limits<int32_t>::max(),
                    absl::FormatDuration(c.lease_duration)));
  }
  v1::Lease lease = InitialLease(c, absl::UnixEpoch());
  api::SetDefaults(lease);
  return Annotate(api::Validate(lease),
                  fmt::format("lease {}/{}", lease.metadata().namespace_(), c.lease_name));
}

}  // namespace

// Shared with the tasks the elector posts, which hold it weakly: a task that runs after
// the elector is gone finds nothing and returns.
struct LeaderElector::State : std::enable_shared_from_this<State> {
  enum class Outcome { kAcquired, kHeld, kFailed };

  explicit State(LeaderElectionConfig c)
      : config(std::move(c)),
        executor(config.executor),
        clock(config.executor->clock()),
        lease_duration_seconds(static_cast<int32_t>(CeilSeconds(config.lease_duration))),
        jitter(Fnv1a(config.identity)) {}

  // ---- the attempt loop

  void Start() ABSL_LOCKS_EXCLUDED(mu) {
    MutexLock lock(&mu);
    if (started || stopped) return;
    started = true;
    executor->Post([weak = weak_from_this()] {
      if (std::shared_ptr<State> self = weak.lock()) self->Tick();
    });
  }

  void Tick() ABSL_LOCKS_EXCLUDED(mu) {
    absl::Time now;
    {
      MutexLock lock(&mu);
      timer = 0;
      if (stopped) return;
      attempt_running = true;
      now = clock.Now();
      // After a stall this is the first chance to notice the term ran out.
      if (leading && now >= DeadlineLocked()) EndTermLocked();
    }
    const Outcome outcome = TryAcquireOrRenew(now);
    MutexLock lock(&mu);
    attempt_running = false;
    if (stopped) return;  // Stop, waiting for this attempt, takes it from here
    const absl::Time end = clock.Now();
    // The deadline may have passed while the attempt was reading and writing: IsLeader()
    // has been false since, so that term is over even if this renewal succeeded.
    if (leading && end >= DeadlineLocked()) EndTermLocked();
    if (outcome == Outcome::kHeld && leading) EndTermLocked();
    ReportLeaderLocked();
    if (outcome == Outcome::kAcquired) {
      last_renew = now;
      if (!leading && end < DeadlineLocked()) StartTermLocked();
    }
    ScheduleLocked(end);
  }

  void ScheduleLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    absl::Duration delay;
    if (leading) {
      // Wake at the deadline at the latest, so the term ends on time when renewals fail.
      delay = std::min(config.retry_period, DeadlineLocked() - now);
    } else {
      const double unit = static_cast<double>(jitter() >> 11) * 0x1.0p-53;
      // Whole microseconds: a Duration from a double can carry fractions of a
      // nanosecond, which a clock counting nanoseconds never reaches.
      delay = absl::Trunc(config.retry_period * (1.0 + kLeaderElectionJitterFactor * unit),
                          absl::Microseconds(1));
    }
    timer = executor->PostAfter(delay, [weak = weak_from_this()] {
      if (std::shared_ptr<State> self = weak.lock()) self->Tick();
    });
  }

  // client-go's tryAcquireOrRenew. `now` is read before the Lease: the renewal this
  // attempt writes is counted from then, never from later.
  Outcome TryAcquireOrRenew(absl::Time now) ABSL_LOCKS_EXCLUDED(mu) {
    client::Client& client = *config.client;
    absl::StatusOr<v1::Lease> got =
        client.Get<v1::Lease>(config.lease_namespace, config.lease_name);
    if (!got.ok()) {
      if (got.status().code() != absl::StatusCode::kNotFound) return Outcome::kFailed;
      absl::StatusOr<v1::Lease> created = client.Create(InitialLease(config, now));
      if (!created.ok()) return Outcome::kFailed;  // kAlreadyExists: another got there first
      MutexLock lock(&mu);
      ObserveLocked(*created);
      return Outcome::kAcquired;
    }
    v1::Lease lease = *std::move(got);
    bool renewing;
    {
      MutexLock lock(&mu);
      ObserveLocked(lease);
      const LeaseRecord& record = observed_record;
      if (!record.holder.empty() && record.holder != config.identity &&
          observed_time + HeldForLocked(record) > now) {
        return Outcome::kHeld;
      }
      renewing = record.holder == config.identity;
    }
    v1::LeaseSpec* spec = lease.mutable_spec();
    spec->set_holder_identity(config.identity);
    spec->set_lease_duration_seconds(lease_duration_seconds);
    *spec->mutable_renew_time() = api::MicroTime(now);
    if (!renewing) {
      *spec->mutable_acquire_time() = api::MicroTime(now);
      spec->set_lease_transitions(spec->lease_transitions() + 1);
    }
    // A compare-and-swap on the resourceVersion just read: kAborted means another
    // instance wrote first and won this round.
    absl::StatusOr<v1::Lease> updated = client.Update(lease);
    if (!updated.ok()) return Outcome::kFailed;
    MutexLock lock(&mu);
    ObserveLocked(*updated);
    return Outcome::kAcquired;
  }

  // Remembers `lease` (its resourceVersion is what a release compares against) and,
  // when its record changed, when this instance saw the change — on its own clock.
  void ObserveLocked(const v1::Lease& lease) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    observed_lease = lease;
    LeaseRecord record = RecordOf(lease);
    if (!observed_lease_valid || record != observed_record) {
      observed_record = std::move(record);
      observed_time = clock.Now();
    }
    observed_lease_valid = true;
  }

  absl::Duration HeldForLocked(const LeaseRecord& record) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return record.lease_duration_seconds > 0 ? absl::Seconds(record.lease_duration_seconds)
                                             : config.lease_duration;
  }

  absl::Time DeadlineLocked() const ABSL_SHARED_LOCKS_REQUIRED(mu) {
    return last_renew + config.renew_deadline;
  }

  // ---- terms and callbacks

  void StartTermLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    leading = true;
    EnqueueLocked([this] {
      if (config.on_started_leading) config.on_started_leading();
    });
  }

  void EndTermLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    leading = false;
    EnqueueLocked([this] {
      if (config.on_stopped_leading) config.on_stopped_leading();
    });
  }

  void ReportLeaderLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (!observed_lease_valid || observed_record.holder == reported_leader) return;
    reported_leader = observed_record.holder;
    if (reported_leader.empty()) return;
    EnqueueLocked([this, leader = reported_leader] {
      if (config.on_new_leader) config.on_new_leader(leader);
    });
  }

  // Callbacks run one at a time, in order, with `mu` released: a posted Drain, or the
  // thread already draining, or Stop runs them.
  void EnqueueLocked(std::function<void()> callback) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (callbacks_closed) return;
    callbacks.push_back(std::move(callback));
    if (draining || drain_posted) return;
    drain_posted = true;
    executor->Post([weak = weak_from_this()] {
      if (std::shared_ptr<State> self = weak.lock()) self->Drain();
    });
  }

  void Drain() ABSL_LOCKS_EXCLUDED(mu) {
    mu.Lock();
    drain_posted = false;
    RunCallbacksLocked();
    mu.Unlock();
  }

  void RunCallbacksLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (draining) return;  // the thread draining now runs them
    draining = true;
    running_callbacks.push_back(this);
    while (!callbacks.empty()) {
      std::function<void()> callback = std::move(callbacks.front());
      callbacks.pop_front();
      mu.Unlock();
      callback();
      mu.Lock();
    }
    running_callbacks.pop_back();
    draining = false;
  }

  // ---- Stop

  void Stop() ABSL_LOCKS_EXCLUDED(mu) {
    const bool in_callback = InCallbackOf(this);
    mu.Lock();
    if (!stopped) {
      stopped = true;
      if (timer != 0) executor->Cancel(timer);
      timer = 0;
      mu.Await(absl::Condition(
          +[](State* s) ABSL_NO_THREAD_SAFETY_ANALYSIS { return !s->attempt_running; }, this));
      const bool was_leading = std::exchange(leading, false);
      std::optional<v1::Lease> to_release;
      if (config.release_on_stop && observed_lease_valid &&
          observed_record.holder == config.identity) {
        to_release = observed_lease;
      }
      mu.Unlock();
      std::optional<v1::Lease> released;
      if (to_release.has_value()) released = Release(*std::move(to_release));
      mu.Lock();
      if (released.has_value()) ObserveLocked(*released);
      if (was_leading) EndTermLocked();
      callbacks_closed = true;
      stop_done = true;
    }
    if (!in_callback) {
      // Wait for a Stop in progress elsewhere and for a callback running elsewhere, then
      // run what is left here.
      mu.Await(absl::Condition(
          +[](State* s) ABSL_NO_THREAD_SAFETY_ANALYSIS { return s->stop_done && !s->draining; },
          this));
      RunCallbacksLocked();
    }
    mu.Unlock();
  }

  // client-go's release: holder "", leaseDurationSeconds 1, transitions kept; compared
  // against the version last seen, so a lease taken since is left alone.
  std::optional<v1::Lease> Release(v1::Lease lease) ABSL_LOCKS_EXCLUDED(mu) {
    const absl::Time now = clock.Now();
    v1::LeaseSpec* spec = lease.mutable_spec();
    spec->set_holder_identity("");
    spec->set_lease_duration_seconds(1);
    *spec->mutable_acquire_time() = api::MicroTime(now);
    *spec->mutable_renew_time() = api::MicroTime(now);
    absl::StatusOr<v1::Lease> released = config.client->Update(lease);
    if (!released.ok()) return std::nullopt;
    return *std::move(released);
  }

  // ---- queries

  bool IsLeader() const ABSL_LOCKS_EXCLUDED(mu) {
    ReaderMutexLock lock(&mu);
    return leading && clock.Now() < DeadlineLocked();
  }

  std::string GetLeader() const ABSL_LOCKS_EXCLUDED(mu) {
    ReaderMutexLock lock(&mu);
    return observed_lease_valid ? observed_record.holder : std::string();
  }

  const LeaderElectionConfig config;
  Executor* const executor;
  Clock& clock;
  const int32_t lease_duration_seconds;

  mutable Mutex mu;
  bool started ABSL_GUARDED_BY(mu) = false;
  bool stopped ABSL_GUARDED_BY(mu) = false;
  bool stop_done ABSL_GUARDED_BY(mu) = false;
  TimerId timer ABSL_GUARDED_BY(mu) = 0;
  bool attempt_running ABSL_GUARDED_BY(mu) = false;
  std::mt19937_64 jitter ABSL_GUARDED_BY(mu);

  // The Lease as last read or written, and when its record last changed (local clock).
  bool observed_lease_valid ABSL_GUARDED_BY(mu) = false;
  v1::Lease observed_lease ABSL_GUARDED_BY(mu);
  LeaseRecord observed_record ABSL_GUARDED_BY(mu);
  absl::Time observed_time ABSL_GUARDED_BY(mu);
  std::string reported_leader ABSL_GUARDED_BY(mu);

  // A term is open while `leading`; it lasts until last_renew + renew_deadline unless
  // renewed (last_renew is the start of the attempt whose write succeeded).
  bool leading ABSL_GUARDED_BY(mu) = false;
  absl::Time last_renew ABSL_GUARDED_BY(mu) = absl::InfinitePast();

  std::deque<std::function<void()>> callbacks ABSL_GUARDED_BY(mu);
  bool draining ABSL_GUARDED_BY(mu) = false;
  bool drain_posted ABSL_GUARDED_BY(mu) = false;
  bool callbacks_closed ABSL_GUARDED_BY(mu) = false;
};

absl::StatusOr<std::unique_ptr<LeaderElector>> LeaderElector::Create(
    LeaderElectionConfig config) {
  if (config.lease_namespace.empty()) config.lease_namespace = client::kDefaultNamespace;
  ORCH_RETURN_IF_ERROR(ValidateConfig(config));
  return std::unique_ptr<LeaderElector>(
      new LeaderElector(std::make_shared<State>(std::move(config))));
}

LeaderElector::LeaderElector(std::shared_ptr<State> state) : state_(std::move(state)) {}

LeaderElector::~LeaderElector() { Stop(); }

void LeaderElector::Start() { state_->Start(); }

void LeaderElector::Stop() { state_->Stop(); }

bool LeaderElector::IsLeader() const { return state_->IsLeader(); }

std::string LeaderElector::GetLeader() const { return state_->GetLeader(); }

const std::string& LeaderElector::identity() const { return state_->config.identity; }

}  // namespace orch::controller
