#include "orch/store/memory_store.h"

#include <atomic>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orch/api/v1/meta.pb.h"
#include "orch/base/executor.h"
#include "orch/store/keys.h"
#include "store/store_conformance.h"
#include "store/temp_dir.h"
#include "support/status_matchers.h"

namespace orch::store {
namespace {

using ::orch::store::testing::ConformanceEnv;
using ::orch::store::testing::StoreBackend;
using ::orch::store::testing::StoreBackendName;
using ::orch::store::testing::StoreConformanceTest;
using ::orch::store::testing::TempDir;
using ::orch::testing::IsOk;
using ::orch::testing::StatusIs;
using ::testing::HasSubstr;

std::unique_ptr<Store> OpenOnEnv(ConformanceEnv& env) {
  MemoryStoreOptions options;
  options.clock = &env.clock();
  options.executor = &env.executor();
  absl::StatusOr<std::unique_ptr<MemoryStore>> store = MemoryStore::Open(options);
  EXPECT_THAT(store, IsOk());
  return store.ok() ? std::move(store).value() : nullptr;
}

// A durable MemoryStore that owns its data directory and removes it when closed.
class DurableStoreInTempDir final : public StoreWrapper {
 public:
  DurableStoreInTempDir(std::unique_ptr<TempDir> dir, std::unique_ptr<MemoryStore> store)
      : StoreWrapper(store.get()), dir_(std::move(dir)), store_(std::move(store)) {}
  ~DurableStoreInTempDir() override { store_.reset(); }  // before the directory goes

 private:
  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<MemoryStore> store_;
};

// Durable, with fsync on, in a fresh directory per test. On tmpfs when there is one: the
// suite checks the store's behaviour, which is the same on any file system, and
// durable_store_test.cc checks crashes on the real disk.
std::unique_ptr<Store> OpenDurableOnEnv(ConformanceEnv& env) {
  auto dir = std::make_unique<TempDir>(testing::FastTempBase());
  EXPECT_FALSE(dir->path().empty());
  MemoryStoreOptions options;
  options.clock = &env.clock();
  options.executor = &env.executor();
  options.data_dir = dir->Sub("data");
  absl::StatusOr<std::unique_ptr<MemoryStore>> store = MemoryStore::Open(options);
  EXPECT_THAT(store, IsOk());
  if (!store.ok()) return nullptr;
  return std::make_unique<DurableStoreInTempDir>(std::move(dir), std::move(store).value());
}

// Virtual time is what simulations use; real time proves the suite's real-time mode (the
// one etcd runs in) on a backend that needs no server.
INSTANTIATE_TEST_SUITE_P(
    MemoryStore, StoreConformanceTest,
    ::testing::Values(StoreBackend{.name = "VirtualTime",
                                   .time = ConformanceEnv::Time::kVirtual,
                                   .make = OpenOnEnv},
                      StoreBackend{.name = "RealTime",
                                   .time = ConformanceEnv::Time::kReal,
                                   .make = OpenOnEnv,
                                   .lease_ttl = absl::Milliseconds(400)},
                      StoreBackend{.name = "Durable",
                                   .time = ConformanceEnv::Time::kVirtual,
                                   .make = OpenDurableOnEnv}),
    StoreBackendName);

// ------------------------------------------------------------------ MemoryStore specifics

std::unique_ptr<MemoryStore> Open(MemoryStoreOptions options) {
  absl::StatusOr<std::unique_ptr<MemoryStore>> store = MemoryStore::Open(std::move(options));
  EXPECT_THAT(store, IsOk());
  return store.ok() ? std::move(store).value() : nullptr;
}

std::string PodKey(int i) { return ObjectKey("pods", "ns", fmt::format("p{}", i)); }

TEST(MemoryStoreTest, RejectsBadOptions) {
  MemoryStoreOptions no_clock;
  no_clock.clock = nullptr;
  EXPECT_THAT(MemoryStore::Open(no_clock), StatusIs(absl::StatusCode::kInvalidArgument));
  MemoryStoreOptions negative;
  negative.history_limit = -1;
  EXPECT_THAT(MemoryStore::Open(negative),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("history_limit")));
}

TEST(MemoryStoreTest, DurableModeNeedsAPositiveSnapshotInterval) {
  TempDir dir;
  MemoryStoreOptions durable;
  durable.data_dir = dir.Sub("data");
  durable.snapshot_every_bytes = 0;
  EXPECT_THAT(MemoryStore::Open(durable),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("snapshot_every_bytes")));
}

TEST(MemoryStoreTest, HistoryBeyondTheLimitIsCompactedAutomatically) {
  MemoryStoreOptions options;
  options.history_limit = 10;
  auto store = Open(options);
  ORCH_ASSERT_OK_AND_ASSIGN(int64_t rev, store->Create(PodKey(0), "v0"));
  for (int i = 1; i < 30; ++i) {
    ORCH_ASSERT_OK_AND_ASSIGN(rev, store->Update(PodKey(0), fmt::format("v{}", i), rev));
  }
  ASSERT_EQ(rev, 30);
  // The last `history_limit` revisions stay readable, and the state at the oldest kept one.
  ORCH_ASSERT_OK_AND_ASSIGN(KeyValue at_20, store->Get(PodKey(0), 20));
  EXPECT_EQ(at_20.value, "v19");
  EXPECT_THAT(store->Get(PodKey(0), 19), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(store->Watch("", WatchOptions{.from_revision = 19}),
              StatusIs(absl::StatusCode::kOutOfRange));
  ORCH_ASSERT_OK_AND_ASSIGN(auto watcher, store->Watch("", WatchOptions{.from_revision = 20}));
  std::vector<EventPtr> events;
  ORCH_ASSERT_OK(watcher->Poll(&events));
  ASSERT_EQ(events.size(), 10u);
  EXPECT_EQ(events.front()->kv.mod_revision, 21);
  EXPECT_EQ(events.front()->prev_kv->value, "v19");
}

// Compaction drops the previous value that an update's event carried once nothing older
// can be read. An event a watcher has already taken is not changed under it: the watcher
// still sees the previous value, and a read of the key still sees the current one.
TEST(MemoryStoreTest, CompactionLeavesTheEventsAWatcherHoldsAlone) {
  MemoryStoreOptions options;
  options.history_limit = 4;
  auto store = Open(options);
  ORCH_ASSERT_OK_AND_ASSIGN(auto watcher, store->Watch(PodKey(0)));
  ORCH_ASSERT_OK_AND_ASSIGN(int64_t rev, store->Create(PodKey(0), "v0"));
  ORCH_ASSERT_OK(store->Update(PodKey(0), "v1", rev));  // held below
  ORCH_ASSERT_OK_AND_ASSIGN(rev, store->Create(PodKey(1), "w0"));
  ORCH_ASSERT_OK(store->Update(PodKey(1), "w1", rev));  // nobody holds it once polled
  std::vector<EventPtr> held;
  ORCH_ASSERT_OK(watcher->Poll(&held));
  ASSERT_EQ(held.size(), 2u);
  const EventPtr update = held[1];
  for (int i = 0; i < 10; ++i) ORCH_ASSERT_OK(store->Create(PodKey(10 + i), "x"));
  ASSERT_TRUE(update->prev_kv.has_value());
  EXPECT_EQ(update->prev_kv->value, "v0");
  EXPECT_EQ(update->kv.value, "v1");
  for (int key : {0, 1}) {
    ORCH_ASSERT_OK_AND_ASSIGN(KeyValue current, store->Get(PodKey(key)));
    EXPECT_EQ(current.value, key == 0 ? "v1" : "w1");
    EXPECT_EQ(current.version, 2);
  }
}

TEST(MemoryStoreTest, HistoryLimitZeroKeepsEverythingUntilCompact) {
  MemoryStoreOptions options;
  options.history_limit = 0;
  auto store = Open(options);
  ORCH_ASSERT_OK_AND_ASSIGN(int64_t rev, store->Create(PodKey(0), "v0"));
  for (int i = 1; i < 200; ++i) {
    ORCH_ASSERT_OK_AND_ASSIGN(rev, store->Update(PodKey(0), "v", 0));
  }
  EXPECT_EQ(rev, 200);
  EXPECT_THAT(store->Get(PodKey(0), 1), IsOk());
  ORCH_ASSERT_OK(store->Compact(100));
  EXPECT_THAT(store->Get(PodKey(0), 99), StatusIs(absl::StatusCode::kOutOfRange));
}

TEST(MemoryStoreTest, ASlowWatcherWhoseNextEventIsCompactedIsFinished) {
  MemoryStoreOptions options;
  options.history_limit = 5;
  auto store = Open(options);
  ORCH_ASSERT_OK_AND_ASSIGN(auto slow, store->Watch(ResourcePrefix("pods")));
  ORCH_ASSERT_OK_AND_ASSIGN(auto fast, store->Watch(ResourcePrefix("pods")));
  std::atomic<int> woken{0};
  slow->SetReadyCallback([&] { ++woken; });
  for (int i = 0; i < 20; ++i) {
    ORCH_ASSERT_OK(store->Create(PodKey(i), "v"));
    std::vector<EventPtr> drained;
    ORCH_ASSERT_OK(fast->Poll(&drained));
    ASSERT_EQ(drained.size(), 1u);
  }
  EXPECT_GE(woken.load(), 1);
  std::vector<EventPtr> events;
  EXPECT_THAT(slow->Poll(&events),
              StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("re-list")));
  EXPECT_TRUE(events.empty());
  EXPECT_TRUE(slow->Wait(absl::ZeroDuration()));  // the error is "something pending"
  ORCH_ASSERT_OK(store->Create(PodKey(100), "v"));
  EXPECT_THAT(slow->Poll(&events), StatusIs(absl::StatusCode::kOutOfRange));  // stays finished
  ORCH_ASSERT_OK(fast->Poll(&events));
  EXPECT_EQ(events.size(), 1u);
}

TEST(MemoryStoreTest, AQuietWatcherSurvivesCompactionOfOtherKeys) {
  MemoryStoreOptions options;
  options.history_limit = 5;
  auto store = Open(options);
  ORCH_ASSERT_OK_AND_ASSIGN(auto nodes, store->Watch(ResourcePrefix("nodes")));
  for (int i = 0; i < 50; ++i) ORCH_ASSERT_OK(store->Create(PodKey(i), "v"));
  ORCH_ASSERT_OK_AND_ASSIGN(int64_t node_rev,
                            store->Create(ObjectKey("nodes", "", "n1"), "node"));
  std::vector<EventPtr> events;
  ORCH_ASSERT_OK(nodes->Poll(&events));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]->kv.mod_revision, node_rev);
}

// A watcher sees every event under its prefix, in order, however many events of other keys
// come between and are compacted — unless one of its own was compacted before it read it,
// which finishes it. A random interleaving of writes to its prefix and to others, with
// reads now and then, checked against that rule after every read.
TEST(MemoryStoreTest, AWatcherGetsEveryEventOfItsPrefixUntilOneIsCompacted) {
  constexpr int64_t kLimit = 5;
  int delivered = 0, finished = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    std::mt19937_64 rng(seed);
    MemoryStoreOptions options;
    options.history_limit = kLimit;
    auto store = Open(options);
    ORCH_ASSERT_OK_AND_ASSIGN(auto pods, store->Watch(ResourcePrefix("pods")));
    const auto put = [&](const std::string& key) {
      absl::StatusOr<int64_t> rev = store->Create(key, "v");
      return absl::IsAlreadyExists(rev.status()) ? store->Update(key, "w", 0) : rev;
    };
    std::vector<int64_t> unread;  // revisions of pod events not yet read
    bool gone = false;            // one of them was compacted
    for (int step = 0; step < 200; ++step) {
      const uint64_t action = rng() % 10;
      if (action < 8) {  // a write: to its prefix, or (more often) to another
        const bool own = action < 3;
        const int i = static_cast<int>(rng() % 4);
        ORCH_ASSERT_OK_AND_ASSIGN(
            int64_t rev, put(own ? PodKey(i) : ObjectKey("nodes", "", fmt::format("n{}", i))));
        if (own) unread.push_back(rev);
        // Writing `rev` compacts every revision up to rev - kLimit.
        if (!unread.empty() && unread.front() <= rev - kLimit) gone = true;
        continue;
      }
      std::vector<EventPtr> events;
      const absl::Status polled = pods->Poll(&events);
      if (gone) {  // finished: it watches again from now on, as an informer re-lists
        ASSERT_THAT(polled, StatusIs(absl::StatusCode::kOutOfRange)) << "seed " << seed;
        ++finished;
        ORCH_ASSERT_OK_AND_ASSIGN(pods, store->Watch(ResourcePrefix("pods")));
        unread.clear();
        gone = false;
        continue;
      }
      ORCH_ASSERT_OK(polled);
      std::vector<int64_t> got;
      for (const EventPtr& e : events) got.push_back(e->kv.mod_revision);
      ASSERT_EQ(got, unread) << "seed " << seed << ", step " << step;
      delivered += static_cast<int>(got.size());
      unread.clear();
    }
  }
  // Not vacuous: many events were delivered, and many watchers were finished.
  EXPECT_GT(delivered, 200);
  EXPECT_GT(finished, 20);
}

TEST(MemoryStoreTest, WatchersShareOneEventObject) {
  auto store = Open({});
  ORCH_ASSERT_OK_AND_ASSIGN(auto a, store->Watch(""));
  ORCH_ASSERT_OK_AND_ASSIGN(auto b, store->Watch(ResourcePrefix("pods")));
  ORCH_ASSERT_OK(store->Create(PodKey(1), std::string(1024, 'x')));
  std::vector<EventPtr> from_a, from_b;
  ORCH_ASSERT_OK(a->Poll(&from_a));
  ORCH_ASSERT_OK(b->Poll(&from_b));
  ASSERT_EQ(from_a.size(), 1u);
  ASSERT_EQ(from_b.size(), 1u);
  EXPECT_EQ(from_a[0].get(), from_b[0].get());
}

// The bytes a writer hands over are the ones readers get (no copy), and the decoded form
// it attaches goes to the first reader that takes it, once.
TEST(MemoryStoreTest, ReadersGetTheWritersBytesAndItsDecodedFormOnce) {
  auto store = Open({});
  ORCH_ASSERT_OK_AND_ASSIGN(auto watcher, store->Watch(""));
  const SharedBytes bytes(std::string("\x0a\x02v1"));  // ObjectHeader{api_version: "v1"}
  ORCH_ASSERT_OK(store->Create(PodKey(1), bytes));
  auto decoded = std::make_unique<api::v1::ObjectHeader>();
  decoded->set_api_version("v1");
  const google::protobuf::Message* attached = decoded.get();
  bytes.AttachDecoded(std::move(decoded));

  std::vector<EventPtr> events;
  ORCH_ASSERT_OK(watcher->Poll(&events));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]->kv.value.data(), bytes.data());
  ORCH_ASSERT_OK_AND_ASSIGN(KeyValue got, store->Get(PodKey(1)));
  std::shared_ptr<const google::protobuf::Message> taken = got.value.TakeDecoded();
  EXPECT_EQ(taken.get(), attached);
  EXPECT_EQ(events[0]->kv.value.TakeDecoded(), nullptr);  // taken already

  // The bytes know the message they handed out, through every copy, and nothing else,
  // however equal to it.
  EXPECT_TRUE(got.value.IsTakenAs(*taken));
  EXPECT_TRUE(events[0]->kv.value.IsTakenAs(*taken));
  api::v1::ObjectHeader copy;
  copy.CopyFrom(*taken);
  EXPECT_FALSE(got.value.IsTakenAs(copy));
  EXPECT_FALSE(SharedBytes(bytes.str()).IsTakenAs(*taken));  // equal bytes, not these
  // Once the message is gone, an object at its address is another one.
  const void* address = taken.get();
  taken.reset();
  std::vector<std::unique_ptr<api::v1::ObjectHeader>> others;
  bool reused = false;
  for (int i = 0; i < 64 && !reused; ++i) {
    others.push_back(std::make_unique<api::v1::ObjectHeader>());
    reused = others.back().get() == address;
    EXPECT_FALSE(got.value.IsTakenAs(*others.back()));
  }

  // A reader that looked before the writer attached parsed the bytes itself: attaching
  // afterwards keeps nothing alive for nobody.
  const SharedBytes late(std::string("\x0a\x02v2"));
  ORCH_ASSERT_OK(store->Update(PodKey(1), late, 0));
  ORCH_ASSERT_OK_AND_ASSIGN(KeyValue now, store->Get(PodKey(1)));
  EXPECT_EQ(now.value.TakeDecoded(), nullptr);
  late.AttachDecoded(std::make_unique<api::v1::ObjectHeader>());
  EXPECT_EQ(now.value.TakeDecoded(), nullptr);

  // Empty bytes have nothing to carry it.
  const SharedBytes empty;
  empty.AttachDecoded(std::make_unique<api::v1::ObjectHeader>());
  EXPECT_EQ(empty.TakeDecoded(), nullptr);
}

TEST(MemoryStoreTest, CompactionReleasesWhatOnlyHistoryHeld) {
  MemoryStoreOptions options;
  options.history_limit = 0;
  auto store = Open(options);
  ORCH_ASSERT_OK_AND_ASSIGN(auto watcher, store->Watch(""));
  ORCH_ASSERT_OK(store->Create(PodKey(1), "one"));
  ORCH_ASSERT_OK(store->Update(PodKey(1), "two", 0));
  ORCH_ASSERT_OK(store->Create(PodKey(2), "doomed"));
  ORCH_ASSERT_OK_AND_ASSIGN(KeyValue deleted, store->Delete(PodKey(2)));
  std::vector<EventPtr> events;
  ORCH_ASSERT_OK(watcher->Poll(&events));
  ASSERT_EQ(events.size(), 4u);
  for (const EventPtr& e : events) EXPECT_GT(e.use_count(), 1) << e->kv.mod_revision;

  ORCH_ASSERT_OK(store->Compact(deleted.mod_revision));
  // Superseded versions, the deleted key and the history are gone; the current value of
  // key 1 is kept in a copy without the previous value its event carried.
  for (const EventPtr& e : events) EXPECT_EQ(e.use_count(), 1) << e->kv.mod_revision;
  ORCH_ASSERT_OK_AND_ASSIGN(KeyValue current, store->Get(PodKey(1)));
  EXPECT_EQ(current.value, "two");
  EXPECT_EQ(current.version, 2);
  ORCH_ASSERT_OK_AND_ASSIGN(KeyValue at_compacted, store->Get(PodKey(1), deleted.mod_revision));
  EXPECT_EQ(at_compacted.value, "two");
  EXPECT_THAT(store->Get(PodKey(2), deleted.mod_revision), StatusIs(absl::StatusCode::kNotFound));
  ORCH_ASSERT_OK_AND_ASSIGN(int64_t again, store->Create(PodKey(2), "reborn"));
  ORCH_ASSERT_OK_AND_ASSIGN(KeyValue reborn, store->Get(PodKey(2)));
  EXPECT_EQ(reborn.create_revision, again);
  EXPECT_EQ(reborn.version, 1);
  ORCH_ASSERT_OK_AND_ASSIGN(ListResult list, store->List(""));
  EXPECT_EQ(list.items.size(), 2u);
}

TEST(MemoryStoreTest, ExecutorTimersExpireLeasesInVirtualTime) {
  VirtualExecutor executor;
  MemoryStoreOptions options;
  options.clock = &executor.clock();
  options.executor = &executor;
  auto store = Open(options);
  const absl::Time granted = executor.clock().Now();
  ORCH_ASSERT_OK_AND_ASSIGN(LeaseId lease, store->GrantLease(absl::Seconds(10)));
  ORCH_ASSERT_OK(store->Create(ObjectKey("leases", "kube-node-lease", "n1"), "hb", lease));
  ORCH_ASSERT_OK_AND_ASSIGN(auto watcher, store->Watch(""));
  std::vector<absl::Time> woken_at;
  watcher->SetReadyCallback([&] { woken_at.push_back(executor.clock().Now()); });

  // Nobody calls the store: only the executor's timer can expire the lease.
  executor.AdvanceBy(absl::Seconds(9));
  EXPECT_TRUE(woken_at.empty());
  executor.AdvanceBy(absl::Seconds(5));
  ASSERT_EQ(woken_at.size(), 1u);
  EXPECT_EQ(woken_at[0], granted + absl::Seconds(10));
  std::vector<EventPtr> events;
  ORCH_ASSERT_OK(watcher->Poll(&events));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]->type, Event::Type::kDelete);
  EXPECT_TRUE(executor.Idle());  // no timer left once no lease remains
}

TEST(MemoryStoreTest, KeepAliveMovesTheExpiryTimer) {
  VirtualExecutor executor;
  MemoryStoreOptions options;
  options.clock = &executor.clock();
  options.executor = &executor;
  auto store = Open(options);
  ORCH_ASSERT_OK_AND_ASSIGN(LeaseId lease, store->GrantLease(absl::Seconds(10)));
  ORCH_ASSERT_OK(store->Create(PodKey(1), "v", lease));
  ORCH_ASSERT_OK_AND_ASSIGN(auto watcher, store->Watch(""));
  for (int i = 0; i < 5; ++i) {
    executor.AdvanceBy(absl::Seconds(6));
    ORCH_ASSERT_OK(store->KeepAlive(lease));
  }
  std::vector<EventPtr> events;
  ORCH_ASSERT_OK(watcher->Poll(&events));
  EXPECT_TRUE(events.empty());
  executor.AdvanceBy(absl::Seconds(11));
  ORCH_ASSERT_OK(watcher->Poll(&events));
  EXPECT_EQ(events.size(), 1u);
}

TEST(MemoryStoreTest, WithoutAnExecutorLeasesExpireOnTheNextCall) {
  VirtualClock clock;
  MemoryStoreOptions options;
  options.clock = &clock;
  auto store = Open(options);
  ORCH_ASSERT_OK_AND_ASSIGN(LeaseId lease, store->GrantLease(absl::Seconds(10)));
  ORCH_ASSERT_OK(store->Create(PodKey(1), "v", lease));
  ORCH_ASSERT_OK_AND_ASSIGN(auto watcher, store->Watch(""));
  clock.Advance(absl::Seconds(30));
  std::vector<EventPtr> events;
  ORCH_ASSERT_OK(watcher->Poll(&events));
  EXPECT_TRUE(events.empty());  // nothing ran yet
  ORCH_ASSERT_OK_AND_ASSIGN(int64_t revision, store->CurrentRevision());
  ORCH_ASSERT_OK(watcher->Poll(&events));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]->kv.mod_revision, revision);
}

TEST(MemoryStoreTest, AWatcherThatOutlivesItsStoreIsCancelled) {
  std::unique_ptr<Watcher> watcher;
  {
    auto store = Open({});
    ORCH_ASSERT_OK_AND_ASSIGN(watcher, store->Watch(""));
  }
  std::vector<EventPtr> events;
  EXPECT_THAT(watcher->Poll(&events), StatusIs(absl::StatusCode::kCancelled));
  EXPECT_TRUE(watcher->Wait(absl::Seconds(1)));
}

}  // namespace
}  // namespace orch::store
