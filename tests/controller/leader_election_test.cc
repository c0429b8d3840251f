#include "orch/controller/leader_election.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orch/api/v1/coordination.pb.h"
#include "orch/base/executor.h"
#include "orch/base/mutex.h"
#include "orch/store/memory_store.h"
#include "support/status_matchers.h"

namespace orch::controller {
namespace {

namespace v1 = ::orch::api::v1;
using ::orch::testing::IsOk;
using ::orch::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr absl::Duration kStep = absl::Milliseconds(100);
constexpr absl::Duration kLeaseDuration = absl::Seconds(15);
constexpr absl::Duration kRenewDeadline = absl::Seconds(10);
constexpr absl::Duration kRetryPeriod = absl::Seconds(2);
// The longest a candidate waits between attempts: retry_period × (1 + JitterFactor).
constexpr absl::Duration kMaxCandidateWait = absl::Milliseconds(4400);

absl::Time TimeOf(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

// An Executor that forwards to another, except while frozen: tasks that come due then
// are held back and run, in order, after Thaw — a process stalled while time moves on.
// `after_task` runs after every task it ran (the tests check invariants there).
class FreezableExecutor : public Executor {
 public:
  explicit FreezableExecutor(Executor* target)
      : target_(target), shared_(std::make_shared<Shared>()) {}

  void Post(Task task) override { target_->Post(Wrap(std::move(task))); }
  TimerId PostAfter(absl::Duration delay, Task task) override {
    return target_->PostAfter(delay, Wrap(std::move(task)));
  }
  bool Cancel(TimerId id) override { return target_->Cancel(id); }
  Clock& clock() override { return target_->clock(); }

  void Freeze() {
    MutexLock lock(&shared_->mu);
    shared_->frozen = true;
  }
  void Thaw() {
    std::deque<Task> held;
    {
      MutexLock lock(&shared_->mu);
      shared_->frozen = false;
      held.swap(shared_->held);
    }
    for (Task& task : held) target_->Post(Wrap(std::move(task)));
  }
  size_t held() const {
    MutexLock lock(&shared_->mu);
    return shared_->held.size();
  }
  void set_after_task(std::function<void()> f) { shared_->after_task = std::move(f); }

 private:
  // Shared with the wrapped tasks, so one that runs after this wrapper is gone is safe.
  struct Shared {
    mutable Mutex mu;
    bool frozen ABSL_GUARDED_BY(mu) = false;
    std::deque<Task> held ABSL_GUARDED_BY(mu);
    std::function<void()> after_task;
  };

  Task Wrap(Task task) {
    return [shared = shared_, task = std::move(task)]() mutable {
      {
        MutexLock lock(&shared->mu);
        if (shared->frozen) {
          shared->held.push_back(std::move(task));
          return;
        }
      }
      std::move(task)();
      if (shared->after_task) shared->after_task();
    };
  }

  Executor* const target_;
  std::shared_ptr<Shared> shared_;
};

// One instance's view of the store: records its reads of the Lease (when, and which
// revision it saw) and injects faults into its writes.
class InstanceStore : public store::StoreWrapper {
 public:
  struct Read {
    absl::Time at;
    int64_t revision;  // 0: the read failed (no lease yet)
  };

  InstanceStore(store::Store* target, Clock* clock) : StoreWrapper(target), clock_(clock) {}

  absl::StatusOr<store::KeyValue> Get(std::string_view key, int64_t revision = 0) override {
    absl::StatusOr<store::KeyValue> kv = StoreWrapper::Get(key, revision);
    if (key.find("/leases/") != std::string_view::npos) {
      reads.push_back({clock_->Now(), kv.ok() ? kv->mod_revision : 0});
    }
    return kv;
  }
  absl::StatusOr<int64_t> Update(std::string_view key, store::SharedBytes value,
                                 int64_t expected_revision, store::LeaseId lease = 0) override {
    if (fail_updates) return absl::UnavailableError("injected: store unavailable");
    if (before_update) std::exchange(before_update, nullptr)();
    return StoreWrapper::Update(key, value, expected_revision, lease);
  }

  // The time of the first read that returned `revision`.
  absl::Time FirstReadOf(int64_t revision) const {
    for (const Read& read : reads) {
      if (read.revision == revision) return read.at;
    }
    return absl::InfiniteFuture();
  }

  std::vector<Read> reads;
  std::atomic<bool> fail_updates{false};
  std::function<void()> before_update;  // runs once, before the next Update goes through

 private:
  Clock* const clock_;
};

// An elector with everything it runs on, recording its callbacks as "started",
// "stopped" and "new:<identity>".
struct Candidate {
  ~Candidate() {
    elector.reset();  // its Stop may still call back into `events`
    if (on_destroy) on_destroy();
  }
  LeaderElector* operator->() const { return elector.get(); }
  void Record(std::string event) {
    events.push_back(std::move(event));
    event_times.push_back(executor->clock().Now());
  }
  int Count(std::string_view event) const {
    return static_cast<int>(std::count(events.begin(), events.end(), event));
  }

  std::unique_ptr<InstanceStore> store;
  std::unique_ptr<client::Client> client;
  std::unique_ptr<FreezableExecutor> executor;
  std::vector<std::string> events;
  std::vector<absl::Time> event_times;
  std::function<void()> on_destroy;
  std::unique_ptr<LeaderElector> elector;
};

class LeaderElectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::MemoryStoreOptions options;
    options.clock = &executor_.clock();
    store_ = store::MemoryStore::Open(options).value();
    client_ = std::make_unique<client::Client>(store_.get(), &api::Scheme::Builtin(),
                                               &executor_.clock());
    start_ = Now();
  }

  absl::Time Now() { return executor_.clock().Now(); }

  // A candidate for lease "default/ctrl" on `base` (default: executor_), with the
  // default durations unless `tweak` changes them.
  std::unique_ptr<Candidate> MakeCandidate(
      const std::string& identity, Executor* base = nullptr,
      const std::function<void(LeaderElectionConfig&)>& tweak = {}) {
    if (base == nullptr) base = &executor_;
    auto c = std::make_unique<Candidate>();
    Candidate* raw = c.get();
    c->store = std::make_unique<InstanceStore>(store_.get(), &base->clock());
    c->client = std::make_unique<client::Client>(c->store.get(), &api::Scheme::Builtin(),
                                                 &base->clock());
    c->executor = std::make_unique<FreezableExecutor>(base);
    c->executor->set_after_task([this] { CheckAtMostOneLeader(); });
    LeaderElectionConfig config;
    config.client = c->client.get();
    config.executor = c->executor.get();
    config.lease_name = "ctrl";
    config.identity = identity;
    config.lease_duration = kLeaseDuration;
    config.renew_deadline = kRenewDeadline;
    config.retry_period = kRetryPeriod;
    config.on_started_leading = [raw] { raw->Record("started"); };
    config.on_stopped_leading = [raw] { raw->Record("stopped"); };
    config.on_new_leader = [raw](const std::string& id) { raw->Record("new:" + id); };
    if (tweak) tweak(config);
    absl::StatusOr<std::unique_ptr<LeaderElector>> elector =
        LeaderElector::Create(std::move(config));
    EXPECT_THAT(elector, IsOk());
    if (elector.ok()) c->elector = *std::move(elector);
    live_.push_back(raw);
    c->on_destroy = [this, raw] { live_.erase(std::find(live_.begin(), live_.end(), raw)); };
    return c;
  }

  // The safety property every test holds to: never two leaders at once.
  void CheckAtMostOneLeader() {
    int leaders = 0;
    std::string who;
    for (Candidate* c : live_) {
      if (c->elector != nullptr && (*c)->IsLeader()) {
        ++leaders;
        who += " " + (*c)->identity();
      }
    }
    if (leaders > 1) {
      ADD_FAILURE() << "two leaders at once at +" << absl::FormatDuration(Now() - start_)
                    << ":" << who;
    }
  }

  // Moves time forward by `step`, on executor_ and every executor in `lockstep_`.
  void Step(absl::Duration step = kStep) {
    executor_.AdvanceBy(step);
    for (VirtualExecutor* other : lockstep_) other->AdvanceBy(step);
    CheckAtMostOneLeader();
  }
  void Run(absl::Duration d) {
    const absl::Time end = Now() + d;
    while (Now() < end) Step();
  }
  // Steps until `done` holds (returns the time it first held) or `limit` has passed
  // (returns InfiniteFuture).
  absl::Time RunUntil(absl::Duration limit, const std::function<bool()>& done) {
    const absl::Time end = Now() + limit;
    while (!done()) {
      if (Now() >= end) return absl::InfiniteFuture();
      Step();
    }
    return Now();
  }

  v1::Lease ReadLease() {
    absl::StatusOr<v1::Lease> lease = client_->Get<v1::Lease>("default", "ctrl");
    EXPECT_THAT(lease, IsOk());
    return lease.value_or(v1::Lease());
  }
  int64_t LeaseRevision() { return std::stoll(ReadLease().metadata().resource_version()); }

  VirtualExecutor executor_;
  std::vector<VirtualExecutor*> lockstep_;
  std::unique_ptr<store::MemoryStore> store_;
  std::unique_ptr<client::Client> client_;  // the test's own view of the store
  std::vector<Candidate*> live_;
  absl::Time start_;
};

// ------------------------------------------------------------------ Create

TEST_F(LeaderElectionTest, CreateRejectsInvalidConfigsWithClientGoMessages) {
  const LeaderElectionConfig valid{.client = client_.get(),
                                   .executor = &executor_,
                                   .lease_name = "ctrl",
                                   .identity = "a"};
  EXPECT_THAT(LeaderElector::Create(valid), IsOk());

  struct Case {
    std::string name;
    std::function<void(LeaderElectionConfig&)> change;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"no client", [](auto& c) { c.client = nullptr; }, "LeaderElectionConfig.client"},
      {"no executor", [](auto& c) { c.executor = nullptr; }, "LeaderElectionConfig.executor"},
      {"no lease name", [](auto& c) { c.lease_name = ""; }, "LeaderElectionConfig.lease_name"},
      {"no identity", [](auto& c) { c.identity = ""; }, "Lock identity is empty"},
      {"lease not longer than renew",
       [](auto& c) { c.lease_duration = c.renew_deadline; },
       "leaseDuration must be greater than renewDeadline"},
      {"renew not longer than retry*1.2",
       [](auto& c) {
         c.retry_period = absl::Seconds(2);
         c.renew_deadline = absl::Milliseconds(2400);
       },
       "renewDeadline must be greater than retryPeriod*JitterFactor"},
      {"lease not positive",
       [](auto& c) {
         c.lease_duration = absl::Seconds(-1);
         c.renew_deadline = absl::Seconds(-2);
         c.retry_period = absl::Seconds(-5);
       },
       "leaseDuration must be greater than zero"},
      {"renew not positive",
       [](auto& c) {
         c.renew_deadline = absl::ZeroDuration();
         c.retry_period = absl::Seconds(-1);
       },
       "renewDeadline must be greater than zero"},
      {"retry zero", [](auto& c) { c.retry_period = absl::ZeroDuration(); },
       "retryPeriod must be greater than zero"},
      {"retry negative", [](auto& c) { c.retry_period = absl::Seconds(-1); },
       "retryPeriod must be greater than zero"},
      {"lease beyond int32 seconds",
       [](auto& c) { c.lease_duration = absl::Hours(24 * 365 * 100); },
       "leaseDuration must be at most 2147483647s"},
      {"lease name not an object name", [](auto& c) { c.lease_name = "Bad_Name"; },
       "metadata.name"},
      {"namespace not a namespace name", [](auto& c) { c.lease_namespace = "No/Such"; },
       "metadata.namespace"},
  };
  for (const Case& c : cases) {
    LeaderElectionConfig config = valid;
    c.change(config);
    EXPECT_THAT(LeaderElector::Create(config),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.message)))
        << c.name;
  }
  // Just above retryPeriod*JitterFactor is fine.
  LeaderElectionConfig tight = valid;
  tight.renew_deadline = absl::Milliseconds(2401);
  EXPECT_THAT(LeaderElector::Create(tight), IsOk());
}

// ------------------------------------------------------------------ one instance

TEST_F(LeaderElectionTest, SingleInstanceAcquiresAtOnceAndCreatesTheLease) {
  auto a = MakeCandidate("a");
  EXPECT_FALSE((*a)->IsLeader());  // before Start
  (*a)->Start();
  executor_.RunUntilIdle();

  EXPECT_TRUE((*a)->IsLeader());
  EXPECT_EQ((*a)->GetLeader(), "a");
  EXPECT_THAT(a->events, ElementsAre("new:a", "started"));
  const v1::Lease lease = ReadLease();
  EXPECT_EQ(lease.spec().holder_identity(), "a");
  EXPECT_EQ(lease.spec().lease_duration_seconds(), 15);
  EXPECT_EQ(TimeOf(lease.spec().acquire_time()), start_);
  EXPECT_EQ(TimeOf(lease.spec().renew_time()), start_);
  EXPECT_TRUE(lease.spec().has_lease_transitions());
  EXPECT_EQ(lease.spec().lease_transitions(), 0);
}

TEST_F(LeaderElectionTest, LeaseDurationSecondsIsRoundedUp) {
  auto a = MakeCandidate("a", nullptr, [](LeaderElectionConfig& c) {
    c.lease_duration = absl::Milliseconds(10500);
  });
  (*a)->Start();
  executor_.RunUntilIdle();
  EXPECT_EQ(ReadLease().spec().lease_duration_seconds(), 11);
}

TEST_F(LeaderElectionTest, LeaderRenewsEveryRetryPeriod) {
  auto a = MakeCandidate("a");
  (*a)->Start();
  executor_.RunUntilIdle();
  const std::string first_version = ReadLease().metadata().resource_version();

  executor_.AdvanceBy(absl::Seconds(1));
  EXPECT_EQ(TimeOf(ReadLease().spec().renew_time()), start_);  // not before retry_period
  EXPECT_EQ(ReadLease().metadata().resource_version(), first_version);
  for (int i = 1; i <= 5; ++i) {
    executor_.AdvanceTo(start_ + i * kRetryPeriod);
    const v1::Lease lease = ReadLease();
    EXPECT_EQ(TimeOf(lease.spec().renew_time()), start_ + i * kRetryPeriod) << i;
    EXPECT_EQ(TimeOf(lease.spec().acquire_time()), start_) << i;
    EXPECT_EQ(lease.spec().lease_transitions(), 0) << i;
    EXPECT_EQ(lease.spec().holder_identity(), "a") << i;
    EXPECT_TRUE((*a)->IsLeader()) << i;
  }
  EXPECT_THAT(a->events, ElementsAre("new:a", "started"));  // one term throughout
}

TEST_F(LeaderElectionTest, StopReleasesTheLeaseAndANewInstanceAcquiresAtOnce) {
  auto a = MakeCandidate("a");
  (*a)->Start();
  executor_.AdvanceBy(absl::Seconds(3));  // renewed once, at +2s
  (*a)->Stop();
  // on_stopped_leading has run by the time Stop returns.
  EXPECT_THAT(a->events, ElementsAre("new:a", "started", "stopped"));
  EXPECT_FALSE((*a)->IsLeader());
  EXPECT_EQ((*a)->GetLeader(), "");
  v1::Lease lease = ReadLease();
  EXPECT_EQ(lease.spec().holder_identity(), "");
  EXPECT_EQ(lease.spec().lease_duration_seconds(), 1);
  EXPECT_EQ(TimeOf(lease.spec().renew_time()), start_ + absl::Seconds(3));
  EXPECT_EQ(TimeOf(lease.spec().acquire_time()), start_ + absl::Seconds(3));
  EXPECT_EQ(lease.spec().lease_transitions(), 0);

  auto b = MakeCandidate("b");
  (*b)->Start();
  executor_.RunUntilIdle();  // no time passes
  EXPECT_TRUE((*b)->IsLeader());
  lease = ReadLease();
  EXPECT_EQ(lease.spec().holder_identity(), "b");
  EXPECT_EQ(lease.spec().lease_duration_seconds(), 15);
  EXPECT_EQ(TimeOf(lease.spec().acquire_time()), start_ + absl::Seconds(3));
  EXPECT_EQ(lease.spec().lease_transitions(), 1);

  // Nothing more from a after Stop: no attempt, no callback.
  const int64_t reads = static_cast<int64_t>(a->store->reads.size());
  Run(absl::Seconds(20));
  EXPECT_EQ(static_cast<int64_t>(a->store->reads.size()), reads);
  EXPECT_THAT(a->events, ElementsAre("new:a", "started", "stopped"));
}

TEST_F(LeaderElectionTest, StartAndStopAreIdempotentAndStopIsFinal) {
  auto a = MakeCandidate("a");
  (*a)->Start();
  (*a)->Start();
  executor_.RunUntilIdle();
  // One attempt (a read that found no lease, then a create), not two.
  EXPECT_EQ(a->store->reads.size(), 1u);
  Run(absl::Seconds(3));
  EXPECT_EQ(a->store->reads.size(), 3u);  // + one renewal: its read, and Update's own
  (*a)->Stop();
  (*a)->Stop();
  EXPECT_EQ(a->Count("stopped"), 1);
  (*a)->Start();
  Run(absl::Seconds(10));
  EXPECT_FALSE((*a)->IsLeader());
  EXPECT_EQ(a->Count("started"), 1);
  EXPECT_EQ(ReadLease().spec().holder_identity(), "");
}

TEST_F(LeaderElectionTest, DestroyingTheElectorStopsAndReleases) {
  auto a = MakeCandidate("a");
  (*a)->Start();
  executor_.RunUntilIdle();
  a->elector.reset();
  EXPECT_THAT(a->events, ElementsAre("new:a", "started", "stopped"));
  EXPECT_EQ(ReadLease().spec().holder_identity(), "");
  Run(absl::Seconds(5));  // its posted tasks find nothing
}

TEST_F(LeaderElectionTest, StopWithoutReleaseOnStopLeavesTheLeaseHeld) {
  auto a = MakeCandidate("a", nullptr, [](auto& c) { c.release_on_stop = false; });
  (*a)->Start();
  executor_.RunUntilIdle();
  (*a)->Stop();
  EXPECT_THAT(a->events, ElementsAre("new:a", "started", "stopped"));
  EXPECT_FALSE((*a)->IsLeader());
  EXPECT_EQ(ReadLease().spec().holder_identity(), "a");
  EXPECT_EQ(ReadLease().spec().lease_duration_seconds(), 15);
}

// ------------------------------------------------------------------ two instances

TEST_F(LeaderElectionTest, ExactlyOneLeadsAndTheFollowerWaitsLeaseDurationFromItsOwnObservation) {
  auto a = MakeCandidate("a", nullptr, [](auto& c) { c.release_on_stop = false; });
  auto b = MakeCandidate("b");
  (*a)->Start();
  executor_.RunUntilIdle();
  (*b)->Start();
  executor_.RunUntilIdle();
  EXPECT_EQ((*b)->GetLeader(), "a");
  EXPECT_THAT(b->events, ElementsAre("new:a"));

  // While a renews, b never takes over.
  for (int i = 0; i < 600; ++i) {
    Step();
    ASSERT_TRUE((*a)->IsLeader()) << i;
    ASSERT_FALSE((*b)->IsLeader()) << i;
  }

  // a stops renewing (and does not release).
  (*a)->Stop();
  const int64_t last_revision = LeaseRevision();
  const absl::Time last_renewal = TimeOf(ReadLease().spec().renew_time());
  const absl::Time acquired = RunUntil(absl::Minutes(1), [&] { return (*b)->IsLeader(); });
  ASSERT_NE(acquired, absl::InfiniteFuture());

  const absl::Time observed = b->store->FirstReadOf(last_revision);
  ASSERT_NE(observed, absl::InfiniteFuture());
  EXPECT_GE(observed, last_renewal);  // b saw it on a later poll...
  const v1::Lease lease = ReadLease();
  const absl::Time acquire_time = TimeOf(lease.spec().acquire_time());
  // ... and waited lease_duration from then, on its own clock, but no poll longer.
  EXPECT_GE(acquire_time, observed + kLeaseDuration);
  EXPECT_LE(acquire_time, observed + kLeaseDuration + kMaxCandidateWait);
  EXPECT_EQ(lease.spec().holder_identity(), "b");
  EXPECT_EQ(lease.spec().lease_transitions(), 1);
  EXPECT_EQ(TimeOf(lease.spec().renew_time()), acquire_time);
  EXPECT_THAT(b->events, ElementsAre("new:a", "new:b", "started"));
}

TEST_F(LeaderElectionTest, LeaseTransitionsCountHandoversAndOnNewLeaderReportsEach) {
  auto a = MakeCandidate("a");
  auto b = MakeCandidate("b");
  auto c = MakeCandidate("c");
  (*a)->Start();
  executor_.RunUntilIdle();
  (*b)->Start();
  (*c)->Start();
  Run(absl::Seconds(5));
  EXPECT_EQ(ReadLease().spec().lease_transitions(), 0);

  // a releases: one of the waiting candidates takes over on its next poll.
  (*a)->Stop();
  absl::Time t = RunUntil(kMaxCandidateWait + kStep,
                          [&] { return (*b)->IsLeader() || (*c)->IsLeader(); });
  ASSERT_NE(t, absl::InfiniteFuture());
  Candidate* second = (*b)->IsLeader() ? b.get() : c.get();
  Candidate* third = second == b.get() ? c.get() : b.get();
  const std::string second_id = (*second)->identity();
  const std::string third_id = (*third)->identity();
  EXPECT_EQ(ReadLease().spec().lease_transitions(), 1);
  Run(absl::Seconds(5));

  (*second)->Stop();
  t = RunUntil(kMaxCandidateWait + kStep, [&] { return (*third)->IsLeader(); });
  ASSERT_NE(t, absl::InfiniteFuture());
  EXPECT_EQ(ReadLease().spec().lease_transitions(), 2);
  EXPECT_EQ(ReadLease().spec().holder_identity(), third_id);

  EXPECT_THAT(a->events, ElementsAre("new:a", "started", "stopped"));
  EXPECT_THAT(second->events,
              ElementsAre("new:a", "new:" + second_id, "started", "stopped"));
  EXPECT_THAT(third->events,
              ElementsAre("new:a", "new:" + second_id, "new:" + third_id, "started"));
}

TEST_F(LeaderElectionTest, NeverTrustsTheHoldersTimestamps) {
  // a's clock is an hour behind: every renewTime it writes looks an hour old to b.
  VirtualExecutor behind(executor_.clock().Now() - absl::Hours(1));
  lockstep_.push_back(&behind);
  auto a = MakeCandidate("a", &behind, [](auto& c) { c.release_on_stop = false; });
  auto b = MakeCandidate("b");
  (*a)->Start();
  behind.RunUntilIdle();
  (*b)->Start();
  executor_.RunUntilIdle();
  ASSERT_TRUE((*a)->IsLeader());
  EXPECT_EQ(TimeOf(ReadLease().spec().renew_time()), Now() - absl::Hours(1));

  for (int i = 0; i < 300; ++i) {
    Step();
    ASSERT_TRUE((*a)->IsLeader()) << i;
    ASSERT_FALSE((*b)->IsLeader()) << i;
  }
  (*a)->Stop();
  const absl::Time stopped = Now();
  const absl::Time acquired = RunUntil(absl::Minutes(1), [&] { return (*b)->IsLeader(); });
  ASSERT_NE(acquired, absl::InfiniteFuture());
  EXPECT_GE(acquired, stopped + kLeaseDuration - kRetryPeriod);
  lockstep_.clear();
}

// The guarantee this elector exists for: a leader whose executor stalls stops answering
// IsLeader() true before anyone else can take the lease, and on waking it steps down.
TEST_F(LeaderElectionTest, FrozenLeaderStopsBeingLeaderBeforeAnotherAcquires) {
  auto a = MakeCandidate("a");
  auto b = MakeCandidate("b");
  (*a)->Start();
  executor_.RunUntilIdle();
  (*b)->Start();
  Run(absl::Seconds(5));  // a renewed at +2s and +4s
  ASSERT_TRUE((*a)->IsLeader());
  const absl::Time last_renewal = TimeOf(ReadLease().spec().renew_time());
  ASSERT_EQ(last_renewal, start_ + absl::Seconds(4));

  a->executor->Freeze();
  absl::Time a_lost = absl::InfiniteFuture();
  absl::Time b_leads = absl::InfiniteFuture();
  while (Now() < start_ + absl::Minutes(1) && b_leads == absl::InfiniteFuture()) {
    Step();  // checks "never two leaders" after every step and every task
    if (a_lost == absl::InfiniteFuture() && !(*a)->IsLeader()) a_lost = Now();
    if ((*b)->IsLeader()) b_leads = Now();
    if (Now() < last_renewal + kRenewDeadline) {
      ASSERT_TRUE((*a)->IsLeader()) << "lost early at +" << absl::FormatDuration(Now() - start_);
    }
  }
  ASSERT_NE(b_leads, absl::InfiniteFuture());
  EXPECT_GT(a->executor->held(), 0u);  // a's renewals really did not run
  EXPECT_LE(a_lost, last_renewal + kRenewDeadline);
  EXPECT_LT(a_lost, b_leads);
  const absl::Time b_acquired = TimeOf(ReadLease().spec().acquire_time());
  EXPECT_LT(a_lost, b_acquired);
  EXPECT_GE(b_acquired, last_renewal + kLeaseDuration);
  EXPECT_EQ(ReadLease().spec().lease_transitions(), 1);
  // Frozen, a could not have called back: its answer came from the clock alone.
  EXPECT_THAT(a->events, ElementsAre("new:a", "started"));

  // On thaw, a notices, steps down once, and leaves the lease to b while b renews.
  a->executor->Thaw();
  executor_.RunUntilIdle();
  EXPECT_THAT(a->events, ElementsAre("new:a", "started", "stopped", "new:b"));
  EXPECT_FALSE((*a)->IsLeader());
  EXPECT_EQ((*a)->GetLeader(), "b");
  for (int i = 0; i < 600; ++i) {
    Step();
    ASSERT_FALSE((*a)->IsLeader()) << i;
    ASSERT_TRUE((*b)->IsLeader()) << i;
  }
  EXPECT_EQ(ReadLease().spec().holder_identity(), "b");
  EXPECT_EQ(ReadLease().spec().lease_transitions(), 1);
  EXPECT_EQ(a->Count("started"), 1);
  EXPECT_EQ(a->Count("stopped"), 1);
}

// A stall shorter than renew_deadline is survived: the lease is still a's, so it renews
// its own lease and the term goes on.
TEST_F(LeaderElectionTest, LeaderFrozenForLessThanRenewDeadlineKeepsLeading) {
  auto a = MakeCandidate("a");
  auto b = MakeCandidate("b");
  (*a)->Start();
  executor_.RunUntilIdle();
  (*b)->Start();
  Run(absl::Seconds(1));
  a->executor->Freeze();
  Run(absl::Seconds(8));
  EXPECT_TRUE((*a)->IsLeader());
  a->executor->Thaw();
  Run(absl::Seconds(30));
  EXPECT_TRUE((*a)->IsLeader());
  EXPECT_THAT(a->events, ElementsAre("new:a", "started"));
  EXPECT_FALSE((*b)->IsLeader());
}

// ------------------------------------------------------------------ faults

TEST_F(LeaderElectionTest, UpdatesFailingLongerThanRenewDeadlineMakeTheLeaderStepDown) {
  // 9 s, so the deadline falls between two renewal attempts.
  constexpr absl::Duration kDeadline = absl::Seconds(9);
  auto a = MakeCandidate("a", nullptr, [&](auto& c) { c.renew_deadline = kDeadline; });
  (*a)->Start();
  Run(absl::Seconds(3));
  const absl::Time last_renewal = start_ + absl::Seconds(2);
  ASSERT_EQ(TimeOf(ReadLease().spec().renew_time()), last_renewal);

  a->store->fail_updates = true;
  const absl::Time lost = RunUntil(absl::Minutes(1), [&] { return !(*a)->IsLeader(); });
  EXPECT_EQ(lost, last_renewal + kDeadline);
  // The elector notices at the deadline itself (+11 s), not on the next attempt (+12 s).
  ASSERT_THAT(a->events, ElementsAre("new:a", "started", "stopped"));
  EXPECT_EQ(a->event_times.back(), last_renewal + kDeadline);

  Run(absl::Seconds(30));  // still failing: no new term
  EXPECT_FALSE((*a)->IsLeader());
  EXPECT_EQ(a->Count("started"), 1);

  // The store recovers; the lease is still a's, so a takes it back with a new term.
  a->store->fail_updates = false;
  const absl::Time back = RunUntil(kMaxCandidateWait + kStep, [&] { return (*a)->IsLeader(); });
  ASSERT_NE(back, absl::InfiniteFuture());
  EXPECT_THAT(a->events, ElementsAre("new:a", "started", "stopped", "started"));
  EXPECT_EQ(TimeOf(ReadLease().spec().acquire_time()), start_);  // renewed, not re-acquired
  EXPECT_EQ(ReadLease().spec().lease_transitions(), 0);
}

TEST_F(LeaderElectionTest, UpdatesFailingForLessThanRenewDeadlineAreRidden) {
  auto a = MakeCandidate("a");
  (*a)->Start();
  Run(absl::Seconds(3));
  a->store->fail_updates = true;
  Run(absl::Seconds(6));  // renewals at +4, +6, +8 fail; +10 is before the +12 deadline
  EXPECT_TRUE((*a)->IsLeader());
  a->store->fail_updates = false;
  Run(absl::Seconds(20));
  EXPECT_TRUE((*a)->IsLeader());
  EXPECT_THAT(a->events, ElementsAre("new:a", "started"));
}

// A renewal counts from when its attempt started, not from when its write landed: others
// may have read the lease, and started their wait, any time in between.
TEST_F(LeaderElectionTest, ARenewalCountsFromWhenItsAttemptStarted) {
  auto a = MakeCandidate("a");
  (*a)->Start();
  executor_.RunUntilIdle();
  // The renewal that starts at +2 s takes 3 s to write; every later write fails.
  a->store->before_update = [&] {
    executor_.virtual_clock().Advance(absl::Seconds(3));
    a->store->fail_updates = true;
  };
  Run(absl::Seconds(6));
  ASSERT_EQ(TimeOf(ReadLease().spec().renew_time()), start_ + absl::Seconds(2));
  ASSERT_TRUE((*a)->IsLeader());
  const absl::Time lost = RunUntil(absl::Minutes(1), [&] { return !(*a)->IsLeader(); });
  EXPECT_EQ(lost, start_ + absl::Seconds(2) + kRenewDeadline);
  EXPECT_THAT(a->events, ElementsAre("new:a", "started", "stopped"));
  EXPECT_EQ(a->event_times.back(), lost);
}

// A renewal whose write lands after the term's deadline cannot extend that term:
// IsLeader() has been false since the deadline. The term ends; a later renewal starts a
// new one.
TEST_F(LeaderElectionTest, ARenewalLandingAfterTheDeadlineDoesNotReviveTheTerm) {
  auto a = MakeCandidate("a");
  (*a)->Start();
  executor_.RunUntilIdle();
  bool leader_while_writing = true;
  a->store->before_update = [&] {  // the renewal at +2 s lands at +13 s
    executor_.virtual_clock().Advance(absl::Seconds(11));
    leader_while_writing = (*a)->IsLeader();
  };
  executor_.AdvanceBy(absl::Seconds(2));
  EXPECT_FALSE(leader_while_writing);
  EXPECT_EQ(Now(), start_ + absl::Seconds(13));
  EXPECT_FALSE((*a)->IsLeader());
  EXPECT_THAT(a->events, ElementsAre("new:a", "started", "stopped"));
  EXPECT_EQ(TimeOf(ReadLease().spec().renew_time()), start_ + absl::Seconds(2));

  const absl::Time back = RunUntil(kMaxCandidateWait + kStep, [&] { return (*a)->IsLeader(); });
  ASSERT_NE(back, absl::InfiniteFuture());
  EXPECT_THAT(a->events, ElementsAre("new:a", "started", "stopped", "started"));
}

TEST_F(LeaderElectionTest, LeaderStepsDownAtOnceWhenAnotherHolderIsObserved) {
  auto a = MakeCandidate("a");
  (*a)->Start();
  Run(absl::Seconds(3));
  // Someone else writes itself in as holder (another elector with a skewed view, an
  // operator's kubectl edit...).
  v1::Lease lease = ReadLease();
  lease.mutable_spec()->set_holder_identity("x");
  ORCH_ASSERT_OK(client_->Update(lease).status());
  const absl::Time written = Now();

  const absl::Time lost = RunUntil(kRetryPeriod + kStep, [&] { return !(*a)->IsLeader(); });
  ASSERT_NE(lost, absl::InfiniteFuture());
  EXPECT_THAT(a->events, ElementsAre("new:a", "started", "stopped", "new:x"));
  EXPECT_EQ((*a)->GetLeader(), "x");

  // x never renews; a takes the lease only lease_duration after it saw x's write.
  const absl::Time back = RunUntil(absl::Minutes(1), [&] { return (*a)->IsLeader(); });
  ASSERT_NE(back, absl::InfiniteFuture());
  EXPECT_GE(back, written + kLeaseDuration);
  EXPECT_EQ(ReadLease().spec().lease_transitions(), 1);
  EXPECT_EQ(a->Count("started"), 2);
}

TEST_F(LeaderElectionTest, AConflictingWriteMeansAnotherInstanceWonTheRound) {
  auto a = MakeCandidate("a");
  (*a)->Start();
  executor_.RunUntilIdle();
  (*a)->Stop();  // the lease now exists, released
  auto b = MakeCandidate("b");
  // Between b's read and b's write, c takes the free lease.
  b->store->before_update = [&] {
    v1::Lease lease = ReadLease();
    lease.mutable_spec()->set_holder_identity("c");
    lease.mutable_spec()->set_lease_duration_seconds(15);
    ASSERT_THAT(client_->Update(lease), IsOk());
  };
  (*b)->Start();
  executor_.RunUntilIdle();
  EXPECT_FALSE((*b)->IsLeader());
  EXPECT_EQ(ReadLease().spec().holder_identity(), "c");
  EXPECT_THAT(b->events, ElementsAre());  // c's write not read yet
  Step(kMaxCandidateWait);
  EXPECT_EQ((*b)->GetLeader(), "c");
  EXPECT_THAT(b->events, ElementsAre("new:c"));
  EXPECT_FALSE((*b)->IsLeader());
}

// ------------------------------------------------------------------ callbacks

TEST_F(LeaderElectionTest, CallbacksMayCallIsLeaderAndStopWithoutDeadlock) {
  std::vector<std::string> seen;
  LeaderElector* elector = nullptr;
  auto a = MakeCandidate("a", nullptr, [&](LeaderElectionConfig& c) {
    c.on_started_leading = [&] {
      seen.push_back(elector->IsLeader() ? "started as leader" : "started, not leader");
      elector->Stop();
      seen.push_back(elector->IsLeader() ? "still leader" : "stopped");
    };
    c.on_stopped_leading = [&] {
      seen.push_back("on_stopped_leading");
      elector->Stop();  // again, from inside the callback Stop's own call scheduled
    };
  });
  elector = a->elector.get();
  (*a)->Start();
  executor_.RunUntilIdle();
  EXPECT_THAT(seen, ElementsAre("started as leader", "stopped", "on_stopped_leading"));
  EXPECT_EQ(ReadLease().spec().holder_identity(), "");
}

TEST_F(LeaderElectionTest, RunsOnAThreadPool) {
  store::MemoryStoreOptions options;
  auto real_store = store::MemoryStore::Open(options).value();
  client::Client client(real_store.get(), &api::Scheme::Builtin(), &Clock::Real());
  ThreadPoolExecutor pool(2);
  Notification started;
  std::atomic<int> stopped{0};
  LeaderElector* elector = nullptr;
  std::atomic<bool> leader_in_callback{false};
  ORCH_ASSERT_OK_AND_ASSIGN(
      auto owned,
      LeaderElector::Create({.client = &client,
                             .executor = &pool,
                             .lease_name = "ctrl",
                             .identity = "a",
                             .lease_duration = absl::Seconds(2),
                             .renew_deadline = absl::Seconds(1),
                             .retry_period = absl::Milliseconds(50),
                             .on_started_leading =
                                 [&] {
                                   leader_in_callback = elector->IsLeader();
                                   started.Notify();
                                 },
                             .on_stopped_leading = [&] { ++stopped; }}));
  elector = owned.get();
  elector->Start();
  ASSERT_TRUE(started.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_TRUE(leader_in_callback);
  absl::SleepFor(absl::Milliseconds(200));  // a few renewals on the pool
  EXPECT_TRUE(elector->IsLeader());
  elector->Stop();
  EXPECT_EQ(stopped, 1);
  EXPECT_FALSE(elector->IsLeader());
  EXPECT_EQ(client.Get<v1::Lease>("default", "ctrl").value().spec().holder_identity(), "");
}

}  // namespace
}  // namespace orch::controller
