// Tests of a durable MemoryStore (MemoryStoreOptions::data_dir set): what survives a
// reopen, snapshots, damaged files, the directory lock, a failing disk, the log and
// snapshot codecs, and kill -9 of a writing process at random moments. The shared
// conformance suite runs against durable mode too (memory_store_test.cc).
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orch/base/clock.h"
#include "orch/store/keys.h"
#include "orch/store/memory_store.h"
#include "store/log_codec.h"
#include "store/snapshot.h"
#include "store/temp_dir.h"
#include "store/wal_format.h"
#include "store/crash_harness.h"
#include "support/status_matchers.h"

namespace orch::store {
namespace {

using ::orch::store::testing::FilesWithPrefix;
using ::orch::store::testing::ReadBytes;
using ::orch::store::testing::WriteBytes;

namespace fs = std::filesystem;
using ::orch::store::testing::TempDir;
using ::orch::testing::IsOk;
using ::orch::testing::StatusIs;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::SizeIs;

MATCHER_P(HoldsValue, expected, "is OK and holds " + ::testing::PrintToString(expected)) {
  if (!arg.ok()) {
    *result_listener << "status is " << arg.status();
    return false;
  }
  *result_listener << "holds " << ::testing::PrintToString(*arg);
  return *arg == expected;
}

std::string Key(std::string_view name) { return ObjectKey("pods", "ns", name); }

std::string Describe(const KeyValue& kv) {
  return fmt::format("{} = \"{}\" create={} mod={} version={} lease={}", kv.key,
                     kv.value.size() > 40 ? kv.value.str().substr(0, 40) + "..." : kv.value.str(),
                     kv.create_revision, kv.mod_revision, kv.version, kv.lease);
}

// Everything List shows: each key with all its fields, and the revision.
struct Dump {
  int64_t revision = 0;
  std::vector<std::string> items;
};

Dump DumpStore(Store& store) {
  Dump dump;
  absl::StatusOr<ListResult> list = store.List("");
  EXPECT_THAT(list, IsOk());
  if (!list.ok()) return dump;
  dump.revision = list->revision;
  for (const KeyValue& kv : list->items) dump.items.push_back(Describe(kv));
  return dump;
}

void ExpectSameDump(const Dump& actual, const Dump& expected) {
  EXPECT_EQ(actual.revision, expected.revision);
  EXPECT_THAT(actual.items, ElementsAreArray(expected.items));
}

// On the real disk: these tests are about what reaches it.
class DurableStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(root_.path().empty()); }

  MemoryStoreOptions Options() {
    MemoryStoreOptions options;
    options.clock = &clock_;
    options.data_dir = dir();
    return options;
  }

  std::unique_ptr<MemoryStore> Open(const MemoryStoreOptions& options) {
    absl::StatusOr<std::unique_ptr<MemoryStore>> store = MemoryStore::Open(options);
    EXPECT_THAT(store, IsOk());
    return store.ok() ? std::move(store).value() : nullptr;
  }
  std::unique_ptr<MemoryStore> Open() { return Open(Options()); }

  std::string dir() const { return root_.Sub("data"); }

  TempDir root_;
  VirtualClock clock_;
};

TEST_F(DurableStoreTest, AReopenAfterACleanCloseKeepsEverything) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  ORCH_ASSERT_OK_AND_ASSIGN(const int64_t a1, store->Create(Key("a"), "a1"));
  ORCH_ASSERT_OK_AND_ASSIGN(const int64_t a2, store->Update(Key("a"), "a2", a1));
  ORCH_ASSERT_OK_AND_ASSIGN(const int64_t a3, store->Update(Key("a"), "a3", a2));
  ORCH_ASSERT_OK_AND_ASSIGN(const int64_t b1, store->Create(Key("b"), "b1"));
  ORCH_ASSERT_OK_AND_ASSIGN(const KeyValue b_deleted, store->Delete(Key("b"), b1));
  ORCH_ASSERT_OK_AND_ASSIGN(const int64_t b_again, store->Create(Key("b"), "b2"));
  ORCH_ASSERT_OK_AND_ASSIGN(const LeaseId short_lease, store->GrantLease(absl::Seconds(10)));
  ORCH_ASSERT_OK(store->Create(Key("c"), "c1", short_lease));
  ORCH_ASSERT_OK_AND_ASSIGN(const LeaseId idle_lease, store->GrantLease(absl::Seconds(20)));
  ORCH_ASSERT_OK_AND_ASSIGN(const LeaseId revoked, store->GrantLease(absl::Seconds(30)));
  ORCH_ASSERT_OK(store->Create(Key("d"), "d1", revoked));
  ORCH_ASSERT_OK(store->RevokeLease(revoked));
  ORCH_ASSERT_OK_AND_ASSIGN(const int64_t a4, store->Update(Key("a"), "a4", a3));
  ORCH_ASSERT_OK(store->Compact(b_deleted.mod_revision));
  const Dump before = DumpStore(*store);
  ASSERT_THAT(before.items, SizeIs(3));

  store.reset();
  clock_.Advance(absl::Seconds(8));  // time passes while the store is down
  store = Open();
  ASSERT_NE(store, nullptr);
  ExpectSameDump(DumpStore(*store), before);

  ORCH_ASSERT_OK_AND_ASSIGN(KeyValue a, store->Get(Key("a")));
  EXPECT_EQ(a.value, "a4");
  EXPECT_EQ(a.create_revision, a1);
  EXPECT_EQ(a.mod_revision, a4);
  EXPECT_EQ(a.version, 4);
  ORCH_ASSERT_OK_AND_ASSIGN(KeyValue b, store->Get(Key("b")));
  EXPECT_EQ(b.create_revision, b_again);
  EXPECT_EQ(b.version, 1);
  EXPECT_THAT(store->Get(Key("d")), StatusIs(absl::StatusCode::kNotFound));

  // Without a snapshot the log holds all history: the compaction point is where it was,
  // and history after it is readable and watchable again.
  EXPECT_THAT(store->Get(Key("a"), b_deleted.mod_revision - 1),
              StatusIs(absl::StatusCode::kOutOfRange));
  ORCH_ASSERT_OK_AND_ASSIGN(KeyValue a_then, store->Get(Key("a"), b_deleted.mod_revision));
  EXPECT_EQ(a_then.value, "a3");
  EXPECT_THAT(store->Watch("", {.from_revision = b_deleted.mod_revision - 1}),
              StatusIs(absl::StatusCode::kOutOfRange));
  ORCH_ASSERT_OK_AND_ASSIGN(auto watcher,
                            store->Watch("", {.from_revision = b_deleted.mod_revision}));
  std::vector<EventPtr> events;
  ORCH_ASSERT_OK(watcher->Poll(&events));
  ASSERT_EQ(static_cast<int64_t>(events.size()), a4 - b_deleted.mod_revision);
  EXPECT_EQ(events.front()->kv.mod_revision, b_again);
  EXPECT_EQ(events.back()->kv.value, "a4");
  EXPECT_EQ(events.back()->prev_kv->value, "a3");

  // Leases come back with their keys and a full ttl (restarted at Open, as etcd does).
  ORCH_ASSERT_OK_AND_ASSIGN(KeyValue c, store->Get(Key("c")));
  EXPECT_EQ(c.lease, short_lease);
  EXPECT_THAT(store->LeaseTimeToLive(short_lease), HoldsValue(absl::Seconds(10)));
  EXPECT_THAT(store->LeaseTimeToLive(idle_lease), HoldsValue(absl::Seconds(20)));
  EXPECT_THAT(store->LeaseTimeToLive(revoked), StatusIs(absl::StatusCode::kNotFound));
  ORCH_ASSERT_OK_AND_ASSIGN(const LeaseId next, store->GrantLease(absl::Seconds(5)));
  EXPECT_GT(next, revoked);  // ids are never reused
  clock_.Advance(absl::Seconds(11));
  EXPECT_THAT(store->Get(Key("c")), StatusIs(absl::StatusCode::kNotFound));

  // And writes go on where they left off, durably.
  ORCH_ASSERT_OK_AND_ASSIGN(const int64_t e, store->Create(Key("e"), "e1"));
  EXPECT_EQ(e, before.revision + 2);  // after c's expiry
  const Dump after_more = DumpStore(*store);
  store.reset();
  store = Open();
  ExpectSameDump(DumpStore(*store), after_more);
}

TEST_F(DurableStoreTest, AReopenAfterASnapshotAndMoreWritesKeepsEverything) {
  MemoryStoreOptions options = Options();
  options.snapshot_every_bytes = 8 << 10;
  auto store = Open(options);
  ASSERT_NE(store, nullptr);
  ORCH_ASSERT_OK_AND_ASSIGN(const LeaseId lease, store->GrantLease(absl::Seconds(60)));
  int writes = 1;
  for (int i = 0; i < 20; ++i, ++writes) {
    ORCH_ASSERT_OK(store->Create(Key(fmt::format("k{}", i)), std::string(500, 'a' + i % 26),
                                 i % 3 == 0 ? lease : 0));
  }
  ASSERT_THAT(FilesWithPrefix(dir(), "snap-"), SizeIs(1));
  for (int i = 0; i < 5; ++i, ++writes) {
    ORCH_ASSERT_OK(store->Update(Key(fmt::format("k{}", i)), "after the snapshot", 0));
  }
  ORCH_ASSERT_OK(store->Delete(Key("k19")));
  ++writes;
  const std::vector<std::string> snapshots = FilesWithPrefix(dir(), "snap-");
  ASSERT_THAT(snapshots, SizeIs(1));
  const std::optional<uint64_t> snapshot_lsn = internal::ParseSnapshotFileName(
      fs::path(snapshots[0]).filename().string());
  ASSERT_TRUE(snapshot_lsn.has_value());
  ASSERT_LT(*snapshot_lsn, static_cast<uint64_t>(writes));  // records follow the snapshot
  const Dump before = DumpStore(*store);

  store.reset();
  store = Open(options);
  ASSERT_NE(store, nullptr);
  ExpectSameDump(DumpStore(*store), before);
  ORCH_ASSERT_OK_AND_ASSIGN(KeyValue k0, store->Get(Key("k0")));
  EXPECT_EQ(k0.version, 2);
  EXPECT_EQ(k0.lease, 0);  // the update detached it
  ORCH_ASSERT_OK_AND_ASSIGN(KeyValue k3, store->Get(Key("k3")));
  EXPECT_EQ(k3.lease, 0);
  ORCH_ASSERT_OK_AND_ASSIGN(KeyValue k6, store->Get(Key("k6")));
  EXPECT_EQ(k6.lease, lease);
  // A snapshot holds no history: it starts at the snapshot's revision.
  EXPECT_THAT(store->Watch("", {.from_revision = 1}), StatusIs(absl::StatusCode::kOutOfRange));
  ORCH_ASSERT_OK(store->RevokeLease(lease));
  EXPECT_THAT(store->Get(Key("k6")), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store->Get(Key("k9")), StatusIs(absl::StatusCode::kNotFound));
}

// A small snapshot interval: snapshots every few writes, the log trimmed behind them, and
// reopens in between. The state always comes back exactly.
TEST_F(DurableStoreTest, FrequentSnapshotsKeepTheLogShortAndLoseNothing) {
  MemoryStoreOptions options = Options();
  options.snapshot_every_bytes = 2 << 10;
  options.history_limit = 50;
  auto store = Open(options);
  ASSERT_NE(store, nullptr);
  std::mt19937 random(7);
  std::map<std::string, int64_t> revisions;
  std::vector<LeaseId> leases;
  int64_t bytes_written = 0;
  for (int cycle = 0; cycle < 5; ++cycle) {
    for (int op = 0; op < 250; ++op) {
      const std::string key = Key(fmt::format("k{}", random() % 40));
      const std::string value(100 + random() % 400, static_cast<char>('a' + op % 26));
      bytes_written += static_cast<int64_t>(value.size());
      auto it = revisions.find(key);
      const uint32_t choice = random() % 10;
      if (choice == 0) {
        ORCH_ASSERT_OK_AND_ASSIGN(LeaseId lease, store->GrantLease(absl::Seconds(100)));
        leases.push_back(lease);
      } else if (choice == 1 && leases.size() > 2) {
        ORCH_ASSERT_OK(store->RevokeLease(leases.front()));
        leases.erase(leases.begin());
        for (auto r = revisions.begin(); r != revisions.end();) {
          r = store->Get(r->first).ok() ? std::next(r) : revisions.erase(r);
        }
      } else if (it == revisions.end()) {
        const LeaseId lease = !leases.empty() && choice < 4 ? leases.back() : 0;
        ORCH_ASSERT_OK_AND_ASSIGN(revisions[key], store->Create(key, value, lease));
      } else if (choice < 4) {
        ORCH_ASSERT_OK(store->Delete(key, it->second));
        revisions.erase(it);
      } else {
        ORCH_ASSERT_OK_AND_ASSIGN(it->second, store->Update(key, value, it->second));
      }
    }
    const Dump before = DumpStore(*store);
    std::vector<std::pair<LeaseId, absl::Duration>> ttls;
    for (LeaseId lease : leases) {
      ORCH_ASSERT_OK_AND_ASSIGN(absl::Duration ttl, store->LeaseTimeToLive(lease));
      ttls.emplace_back(lease, ttl);
    }
    EXPECT_THAT(FilesWithPrefix(dir(), "snap-"), SizeIs(::testing::AllOf(::testing::Ge(1u),
                                                                          ::testing::Le(2u))));
    // Segments (64 KiB here, the smallest) go once a snapshot covers them: the log
    // holds about two snapshot intervals and two segments, however much was written.
    int64_t log_bytes = 0;
    for (const std::string& segment : FilesWithPrefix(dir(), "wal-")) {
      log_bytes += static_cast<int64_t>(fs::file_size(segment));
    }
    EXPECT_LT(log_bytes, 150 << 10) << "after " << bytes_written << " bytes of values";

    store.reset();
    store = Open(options);
    ASSERT_NE(store, nullptr);
    ExpectSameDump(DumpStore(*store), before);
    for (const auto& [lease, ttl] : ttls) {
      EXPECT_THAT(store->LeaseTimeToLive(lease), HoldsValue(ttl)) << lease;
    }
  }
  EXPECT_GT(bytes_written, 300 << 10);
}

TEST_F(DurableStoreTest, ATornFinalWriteIsCutAndEveryAcknowledgedWriteRemains) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  for (int i = 0; i < 20; ++i) ORCH_ASSERT_OK(store->Create(Key(fmt::format("k{}", i)), "v"));
  const Dump before = DumpStore(*store);
  store.reset();

  // The first bytes of a batch that never finished: a header claiming more than follows.
  const std::vector<std::string> segments = FilesWithPrefix(dir(), "wal-");
  ASSERT_FALSE(segments.empty());
  std::string bytes = ReadBytes(segments.back());
  const size_t acknowledged_size = bytes.size();
  bytes += std::string("\x40\x00\x00\x00\x01\x00\x00\x00\x15\x00\x00", 11);
  WriteBytes(segments.back(), bytes);

  store = Open();
  ASSERT_NE(store, nullptr);
  ExpectSameDump(DumpStore(*store), before);
  EXPECT_EQ(fs::file_size(segments.back()), acknowledged_size);
  ORCH_ASSERT_OK_AND_ASSIGN(const int64_t next, store->Create(Key("after"), "v"));
  EXPECT_EQ(next, before.revision + 1);
  store.reset();
  store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_THAT(store->Get(Key("after")), IsOk());
}

TEST_F(DurableStoreTest, DamageInsideTheLogIsDataLoss) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  for (int i = 0; i < 20; ++i) ORCH_ASSERT_OK(store->Create(Key(fmt::format("k{}", i)), "v"));
  store.reset();
  const std::vector<std::string> segments = FilesWithPrefix(dir(), "wal-");
  ASSERT_FALSE(segments.empty());
  std::string bytes = ReadBytes(segments.back());
  bytes[bytes.size() / 2] ^= 0x5a;
  WriteBytes(segments.back(), bytes);
  EXPECT_THAT(MemoryStore::Open(Options()),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr(segments.back())));
}

// The snapshot file is whole (its checksum holds) but its contents are not a state this
// store wrote: Open refuses rather than serve it.
TEST_F(DurableStoreTest, ASnapshotWhoseStateDoesNotDecodeIsDataLoss) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  for (int i = 0; i < 3; ++i) ORCH_ASSERT_OK(store->Create(Key(fmt::format("k{}", i)), "v"));
  store.reset();
  ORCH_ASSERT_OK(internal::WriteSnapshotFile(dir(), 3, "\x01\x03\x01\x05garbage", true));
  EXPECT_THAT(MemoryStore::Open(Options()),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("malformed snapshot")));
}

TEST_F(DurableStoreTest, OnlyOneStoreMayUseADirectory) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_THAT(MemoryStore::Open(Options()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("in use")));

  std::fflush(stdout);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    MemoryStoreOptions options;
    options.data_dir = dir();
    absl::StatusOr<std::unique_ptr<MemoryStore>> second = MemoryStore::Open(options);
    ::_exit(!second.ok() && second.status().code() == absl::StatusCode::kFailedPrecondition
                ? 0
                : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;

  store.reset();
  EXPECT_THAT(MemoryStore::Open(Options()), IsOk());
}

// A write the log cannot take (here the file size limit, EFBIG, stands in for a failing
// disk) fails, and so does every later write: the state in memory may hold it while the
// disk does not. Reads go on; watchers never see the failed write. A reopen recovers.
TEST_F(DurableStoreTest, AFailedLogWriteMakesTheStoreRefuseWrites) {
  enum Check : int {
    kAllHeld = 0,
    kOpenFailed = 2,
    kWrongFailure = 3,
    kLaterWriteAccepted = 4,
    kReadFailed = 5,
    kWatcherSawTooMuch = 6,
  };
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::fflush(stdout);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(fds[0]);
    ::signal(SIGXFSZ, SIG_IGN);
    const rlimit limit = {64 << 10, 64 << 10};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    MemoryStoreOptions options;
    options.data_dir = dir();
    absl::StatusOr<std::unique_ptr<MemoryStore>> opened = MemoryStore::Open(options);
    if (!opened.ok()) ::_exit(kOpenFailed);
    MemoryStore& store = **opened;
    std::unique_ptr<Watcher> watcher = store.Watch("").value();
    int acknowledged = 0;
    absl::Status failure;
    while (acknowledged < 1000) {
      absl::StatusOr<int64_t> created =
          store.Create(Key(fmt::format("k{}", acknowledged)), std::string(1000, 'x'));
      if (!created.ok()) {
        failure = created.status();
        break;
      }
      ++acknowledged;
    }
    (void)!::write(fds[1], &acknowledged, sizeof acknowledged);
    const std::string_view message(failure.message().data(), failure.message().size());
    if (failure.code() != absl::StatusCode::kFailedPrecondition ||
        message.find(dir()) == std::string_view::npos) {
      ::_exit(kWrongFailure);
    }
    const absl::Status later = store.Create(Key("later"), "v").status();
    if (later.code() != absl::StatusCode::kFailedPrecondition ||
        later.message().find("reopened") == absl::string_view::npos ||
        store.GrantLease(absl::Seconds(1)).status().code() !=
            absl::StatusCode::kFailedPrecondition) {
      ::_exit(kLaterWriteAccepted);
    }
    if (!store.Get(Key("k0")).ok() || !store.List("").ok()) ::_exit(kReadFailed);
    std::vector<EventPtr> events;
    if (!watcher->Poll(&events).ok() || static_cast<int>(events.size()) != acknowledged) {
      ::_exit(kWatcherSawTooMuch);
    }
    ::_exit(kAllHeld);
  }
  ::close(fds[1]);
  int acknowledged = -1;
  ASSERT_EQ(::read(fds[0], &acknowledged, sizeof acknowledged),
            static_cast<ssize_t>(sizeof acknowledged));
  ::close(fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), kAllHeld);
  EXPECT_GT(acknowledged, 10);
  EXPECT_LT(acknowledged, 70);  // 64 KB of ~1 KB records

  auto store = Open();
  ASSERT_NE(store, nullptr);
  for (int i = 0; i < acknowledged; ++i) {
    EXPECT_THAT(store->Get(Key(fmt::format("k{}", i))), IsOk()) << i;
  }
  ORCH_EXPECT_OK(store->Create(Key("after the reopen"), "v"));
}

// Watchers see changes only once they are durable, published by whichever acknowledged
// writer gets there first. Consumers that wait and poll while writers run, one of them
// starting mid-way from "now", still get every event once, in order.
TEST_F(DurableStoreTest, WatchersWaitingDuringConcurrentWritesMissNothing) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  constexpr int kWriters = 4;
  constexpr int kPerWriter = 100;
  constexpr int64_t kTotal = kWriters * kPerWriter;
  ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watcher> from_start, store->Watch(""));
  std::atomic<int> written{0};

  // Polls until it has seen revision `last` (or gives up), checking there is no gap.
  auto consume = [](Watcher& watcher, int64_t first, std::atomic<int64_t>& last,
                    std::vector<int64_t>* seen) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    int64_t next = first;
    while (absl::Now() < deadline) {
      const int64_t want = last.load();
      if (want != 0 && next > want) return;
      watcher.Wait(absl::Milliseconds(100));
      std::vector<EventPtr> events;
      if (!watcher.Poll(&events).ok()) return;
      for (const EventPtr& event : events) {
        seen->push_back(event->kv.mod_revision);
        next = event->kv.mod_revision + 1;
      }
    }
  };
  std::atomic<int64_t> last{0};
  std::vector<int64_t> seen_from_start;
  std::vector<int64_t> seen_from_middle;
  int64_t middle = 0;
  std::thread consumer([&] { consume(*from_start, 1, last, &seen_from_start); });
  std::thread late_consumer([&] {
    while (written.load() < kTotal / 2) std::this_thread::yield();
    absl::StatusOr<std::unique_ptr<Watcher>> watcher = store->Watch("");
    ASSERT_THAT(watcher, IsOk());
    middle = (*watcher)->revision();
    consume(**watcher, middle + 1, last, &seen_from_middle);
  });
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kPerWriter; ++i) {
        EXPECT_THAT(store->Create(Key(fmt::format("w{}-{}", w, i)), "v"), IsOk());
        ++written;
      }
    });
  }
  for (std::thread& writer : writers) writer.join();
  last.store(kTotal);
  consumer.join();
  late_consumer.join();

  ASSERT_THAT(seen_from_start, SizeIs(kTotal));
  for (int64_t i = 0; i < kTotal; ++i) EXPECT_EQ(seen_from_start[i], i + 1);
  ASSERT_GT(middle, 0);
  ASSERT_THAT(seen_from_middle, SizeIs(kTotal - middle));
  for (size_t i = 0; i < seen_from_middle.size(); ++i) {
    EXPECT_EQ(seen_from_middle[i], middle + 1 + static_cast<int64_t>(i));
  }
}

// ------------------------------------------------------------------ codecs

using internal::DecodeMutation;
using internal::DecodeSnapshot;
using internal::EncodeMutation;
using internal::EncodeSnapshot;
using internal::Mutation;
using internal::StateImage;

void ExpectSameMutation(const Mutation& a, const Mutation& b) {
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.key, b.key);
  EXPECT_EQ(a.value, b.value);
  EXPECT_EQ(a.lease, b.lease);
  EXPECT_EQ(a.ttl_nanos, b.ttl_nanos);
  EXPECT_EQ(a.revision, b.revision);
}

std::vector<Mutation> OneOfEachKind() {
  return {Mutation::Put("/registry/pods/ns/a", std::string(300, '\0') + "bytes", 7),
          Mutation::Put("/k", "", 0),
          Mutation::Delete("/registry/pods/ns/a"),
          Mutation::GrantLease(int64_t{1} << 40, int64_t{10} * 1000 * 1000 * 1000),
          Mutation::KeepAlive(3),
          Mutation::RevokeLease(int64_t{1} << 62),
          Mutation::Compact(123456789)};
}

TEST(LogCodecTest, EveryMutationKindRoundTrips) {
  for (const Mutation& m : OneOfEachKind()) {
    ORCH_ASSERT_OK_AND_ASSIGN(Mutation decoded, DecodeMutation(EncodeMutation(m)));
    ExpectSameMutation(decoded, m);
  }
}

TEST(LogCodecTest, ATruncatedOrExtendedRecordIsDataLoss) {
  for (const Mutation& m : OneOfEachKind()) {
    const std::string bytes = EncodeMutation(m);
    for (size_t n = 0; n < bytes.size(); ++n) {
      EXPECT_THAT(DecodeMutation(bytes.substr(0, n)), StatusIs(absl::StatusCode::kDataLoss))
          << "kind " << static_cast<int>(m.kind) << " cut at " << n;
    }
    EXPECT_THAT(DecodeMutation(bytes + "x"), StatusIs(absl::StatusCode::kDataLoss));
  }
  EXPECT_THAT(DecodeMutation(std::string(1, '\x07')),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("unknown kind 7")));
  EXPECT_THAT(DecodeMutation(EncodeMutation(Mutation::Delete(""))),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("empty key")));
  // A varint longer than 64 bits.
  EXPECT_THAT(DecodeMutation(std::string("\x05\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 11)),
              StatusIs(absl::StatusCode::kDataLoss));
}

TEST(LogCodecTest, RandomBytesNeverCrashTheDecoders) {
  std::mt19937 random(42);
  int decoded = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string bytes(random() % 24, '\0');
    for (char& c : bytes) c = static_cast<char>(random());
    if (!bytes.empty() && i % 2 == 0) bytes[0] = static_cast<char>(1 + random() % 6);
    absl::StatusOr<Mutation> m = DecodeMutation(bytes);
    if (m.ok()) {
      ++decoded;
      EXPECT_EQ(EncodeMutation(*m), bytes);  // only canonical bytes decode
    } else {
      EXPECT_EQ(m.status().code(), absl::StatusCode::kDataLoss);
    }
    absl::StatusOr<StateImage> image = DecodeSnapshot(bytes);
    if (!image.ok()) {
      EXPECT_THAT(image.status().code(), ::testing::AnyOf(absl::StatusCode::kDataLoss,
                                                          absl::StatusCode::kFailedPrecondition));
    }
  }
  EXPECT_GT(decoded, 0);
}

StateImage SampleImage() {
  StateImage image;
  image.revision = 40;
  image.next_lease_id = 9;
  image.leases = {{2, 5'000'000'000}, {8, 1}};
  auto put = [](std::string key, std::string value, int64_t create, int64_t mod,
                int64_t version, LeaseId lease) {
    auto event = std::make_shared<Event>();
    event->kv = {std::move(key), std::move(value), create, mod, version, lease};
    return EventPtr(std::move(event));
  };
  image.live = {put("/a", "one", 3, 10, 4, 0), put("/b", std::string(1000, 'b'), 11, 11, 1, 8),
                put("/c", "", 40, 40, 1, 2)};
  return image;
}

TEST(LogCodecTest, SnapshotsRoundTrip) {
  const StateImage image = SampleImage();
  ORCH_ASSERT_OK_AND_ASSIGN(StateImage decoded, DecodeSnapshot(EncodeSnapshot(image)));
  EXPECT_EQ(decoded.revision, 40);
  EXPECT_EQ(decoded.next_lease_id, 9);
  ASSERT_THAT(decoded.leases, SizeIs(2));
  EXPECT_EQ(decoded.leases[1].id, 8);
  EXPECT_EQ(decoded.leases[0].ttl_nanos, 5'000'000'000);
  ASSERT_THAT(decoded.live, SizeIs(3));
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(Describe(decoded.live[i]->kv), Describe(image.live[i]->kv));
    EXPECT_EQ(decoded.live[i]->type, Event::Type::kPut);
  }
}

TEST(LogCodecTest, TruncatedOrInconsistentSnapshotsAreRefused) {
  const std::string bytes = EncodeSnapshot(SampleImage());
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_THAT(DecodeSnapshot(bytes.substr(0, n)), StatusIs(absl::StatusCode::kDataLoss))
        << "cut at " << n;
  }
  EXPECT_THAT(DecodeSnapshot(bytes + "x"), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(DecodeSnapshot("\x02"), StatusIs(absl::StatusCode::kFailedPrecondition));

  auto refused = [](StateImage image, std::string_view why) {
    EXPECT_THAT(DecodeSnapshot(EncodeSnapshot(image)),
                StatusIs(absl::StatusCode::kDataLoss, HasSubstr(why)));
  };
  StateImage unknown_lease = SampleImage();
  unknown_lease.leases.pop_back();
  refused(unknown_lease, "unknown lease 8");
  StateImage out_of_order = SampleImage();
  std::swap(out_of_order.live[0], out_of_order.live[1]);
  refused(out_of_order, "out of order");
  StateImage future = SampleImage();
  future.revision = 39;
  refused(future, "at revision 39");
  StateImage reused_id = SampleImage();
  reused_id.next_lease_id = 8;
  refused(reused_id, "not below the next id");
}

// ------------------------------------------------------------------ kill -9

// A child process opens a durable store and writes from several threads, each with its
// own keys: Create, Update and Delete with the expected revision, lease grants, keys on a
// lease and revocations. Before each call a thread reports what it is about to do, after
// it what was acknowledged. The parent kills the child at a random moment, reopens the
// store and checks it against the reports: every acknowledged write is there (at its
// revision, or superseded by a later acknowledged one), each thread's one call in flight
// either happened whole or not at all, the revision sequence has no gap and every value
// is whole. Then the next child goes on from there.

constexpr int kCrashThreads = 4;
constexpr int kKeysPerThread = 6;
constexpr int kLeasedKey = -1;
constexpr int64_t kCrashSnapshotBytes = 16 << 10;
constexpr std::string_view kCrashPrefix = "/registry/crash/";

std::string CrashKey(int thread, int key) {
  return key == kLeasedKey ? fmt::format("{}t{}-leased", kCrashPrefix, thread)
                           : fmt::format("{}t{}-k{}", kCrashPrefix, thread, key);
}

uint64_t Fnv1a(std::string_view bytes) {
  uint64_t hash = 14695981039346656037ull;
  for (char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ull;
  }
  return hash;
}

// "<key>#<n>|" and filler bytes derived from both, 50 to 2,000 bytes in all: a torn or
// mixed-up value does not decode.
std::string CrashValue(std::string_view key, uint64_t n) {
  std::string out = fmt::format("{}#{}|", key, n);
  std::mt19937_64 bytes(Fnv1a(out));
  const size_t size = 50 + bytes() % 1950;
  while (out.size() < size) out.push_back(static_cast<char>(bytes()));
  return out;
}

bool IsCrashValueOf(std::string_view key, std::string_view value) {
  const size_t hash_mark = value.find('#');
  const size_t bar = value.find('|');
  if (hash_mark != key.size() || value.substr(0, key.size()) != key || bar == std::string::npos ||
      bar < hash_mark) {
    return false;
  }
  uint64_t n = 0;
  for (char c : value.substr(hash_mark + 1, bar - hash_mark - 1)) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return CrashValue(key, n) == value;
}

enum class CrashOp : uint8_t { kCreate, kUpdate, kDelete, kGrant, kRevoke };

// One line of a child's report, written whole to a pipe (smaller than PIPE_BUF).
struct Report {
  uint8_t acknowledged = 0;  // 0: about to call; 1: the call returned OK
  CrashOp op = CrashOp::kCreate;
  uint16_t thread = 0;
  int32_t key = 0;        // key index or kLeasedKey
  int64_t revision = 0;   // acknowledged puts and deletes: the revision it returned
  LeaseId lease = 0;      // the lease granted, revoked or put on the key
  uint64_t value_hash = 0;
};
static_assert(sizeof(Report) <= PIPE_BUF);

void Send(int fd, const Report& report) {
  if (::write(fd, &report, sizeof report) != static_cast<ssize_t>(sizeof report)) ::_exit(5);
}

// One writer thread of the child. Learns its keys' state from the store, then writes in a
// loop until killed.
void CrashWriter(MemoryStore& store, int fd, uint32_t round, int thread, uint32_t seed) {
  std::mt19937 random(seed);
  std::vector<int64_t> revisions(kKeysPerThread, 0);  // 0: absent
  for (int k = 0; k < kKeysPerThread; ++k) {
    absl::StatusOr<KeyValue> kv = store.Get(CrashKey(thread, k));
    if (kv.ok()) revisions[k] = kv->mod_revision;
    if (!kv.ok() && kv.status().code() != absl::StatusCode::kNotFound) ::_exit(10);
  }
  LeaseId lease = 0;
  bool leased_key = false;
  if (absl::StatusOr<KeyValue> kv = store.Get(CrashKey(thread, kLeasedKey)); kv.ok()) {
    lease = kv->lease;
    leased_key = true;
  }
  for (uint64_t n = uint64_t{round} * 1'000'000;; ++n) {
    Report report;
    report.thread = static_cast<uint16_t>(thread);
    if (random() % 8 == 0) {  // the thread's lease: grant, put a key on it, revoke
      report.key = kLeasedKey;
      report.lease = lease;
      const std::string key = CrashKey(thread, kLeasedKey);
      const std::string value = CrashValue(key, n);
      report.op = lease == 0 ? CrashOp::kGrant : leased_key ? CrashOp::kRevoke : CrashOp::kCreate;
      if (report.op == CrashOp::kCreate) report.value_hash = Fnv1a(value);
      Send(fd, report);
      if (report.op == CrashOp::kGrant) {
        absl::StatusOr<LeaseId> granted = store.GrantLease(absl::Hours(1));
        if (!granted.ok()) ::_exit(11);
        report.lease = lease = *granted;
      } else if (report.op == CrashOp::kCreate) {
        absl::StatusOr<int64_t> created = store.Create(key, value, lease);
        if (!created.ok()) ::_exit(12);
        report.revision = *created;
        leased_key = true;
      } else {
        if (!store.RevokeLease(lease).ok()) ::_exit(13);
        lease = 0;
        leased_key = false;
      }
    } else {
      const int k = static_cast<int>(random() % kKeysPerThread);
      const std::string key = CrashKey(thread, k);
      const std::string value = CrashValue(key, n);
      report.key = k;
      report.op = revisions[k] == 0      ? CrashOp::kCreate
                  : random() % 4 == 0    ? CrashOp::kDelete
                                         : CrashOp::kUpdate;
      if (report.op != CrashOp::kDelete) report.value_hash = Fnv1a(value);
      Send(fd, report);
      if (report.op == CrashOp::kCreate) {
        absl::StatusOr<int64_t> created = store.Create(key, value);
        if (!created.ok()) ::_exit(14);
        report.revision = revisions[k] = *created;
      } else if (report.op == CrashOp::kUpdate) {
        absl::StatusOr<int64_t> updated = store.Update(key, value, revisions[k]);
        if (!updated.ok()) ::_exit(15);
        report.revision = revisions[k] = *updated;
      } else {
        absl::StatusOr<KeyValue> deleted = store.Delete(key, revisions[k]);
        if (!deleted.ok()) ::_exit(16);
        report.revision = deleted->mod_revision;
        revisions[k] = 0;
      }
    }
    report.acknowledged = 1;
    Send(fd, report);
  }
}

MemoryStoreOptions CrashOptions(const std::string& dir) {
  MemoryStoreOptions options;
  options.data_dir = dir;
  options.snapshot_every_bytes = kCrashSnapshotBytes;
  return options;
}

[[noreturn]] void CrashChild(const std::string& dir, int fd, uint32_t round, uint32_t seed) {
  ::alarm(20);  // never outlive a parent that died
  absl::StatusOr<std::unique_ptr<MemoryStore>> store = MemoryStore::Open(CrashOptions(dir));
  if (!store.ok()) {
    std::fprintf(stderr, "child open: %s\n", store.status().ToString().c_str());
    ::_exit(2);
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < kCrashThreads; ++t) {
    threads.emplace_back(CrashWriter, std::ref(**store), fd, round, t, seed + 7919 * t);
  }
  for (std::thread& thread : threads) thread.join();  // never: the writers loop
  ::_exit(3);
}

// What the parent knows of one key: nullopt while absent.
struct KnownKey {
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;
  uint64_t value_hash = 0;
  LeaseId lease = 0;
  bool operator==(const KnownKey&) const = default;
};
using KnownState = std::map<std::string, KnownKey>;

KnownKey Known(const KeyValue& kv) {
  return {kv.create_revision, kv.mod_revision, kv.version, Fnv1a(kv.value), kv.lease};
}

std::string KeyOf(const Report& r) { return CrashKey(r.thread, r.key); }

// The state after an acknowledged report, on top of `state`.
void ApplyAcknowledged(const Report& r, KnownState& state, std::set<LeaseId>& live_leases,
                       std::set<LeaseId>& revoked_leases) {
  const std::string key = KeyOf(r);
  switch (r.op) {
    case CrashOp::kCreate:
      ASSERT_FALSE(state.contains(key)) << "acknowledged Create of existing " << key;
      state[key] = {r.revision, r.revision, 1, r.value_hash, r.lease};
      break;
    case CrashOp::kUpdate: {
      ASSERT_TRUE(state.contains(key)) << "acknowledged Update of absent " << key;
      KnownKey& known = state[key];
      known = {known.create_revision, r.revision, known.version + 1, r.value_hash, 0};
      break;
    }
    case CrashOp::kDelete:
      ASSERT_EQ(state.erase(key), 1u) << "acknowledged Delete of absent " << key;
      break;
    case CrashOp::kGrant:
      live_leases.insert(r.lease);
      break;
    case CrashOp::kRevoke:
      live_leases.erase(r.lease);
      revoked_leases.insert(r.lease);
      state.erase(key);  // the leased key went with its lease
      break;
  }
}

// The one change a call in flight may have made to its key: `recovered` is either what
// the acknowledged reports say (`expected`) or exactly that call's effect.
void CheckInFlight(const Report& r, const std::optional<KnownKey>& expected,
                   const std::optional<KnownKey>& recovered, int64_t thread_last_revision) {
  SCOPED_TRACE(fmt::format("call in flight: op {} on {}", static_cast<int>(r.op), KeyOf(r)));
  switch (r.op) {
    case CrashOp::kCreate:
    case CrashOp::kUpdate: {
      ASSERT_TRUE(recovered.has_value()) << "the key vanished";
      EXPECT_EQ(recovered->value_hash, r.value_hash) << "a value from no call";
      EXPECT_GT(recovered->mod_revision, thread_last_revision);
      EXPECT_EQ(recovered->lease, r.op == CrashOp::kCreate ? r.lease : 0);
      if (r.op == CrashOp::kCreate) {
        EXPECT_FALSE(expected.has_value());
        EXPECT_EQ(recovered->version, 1);
        EXPECT_EQ(recovered->create_revision, recovered->mod_revision);
      } else {
        ASSERT_TRUE(expected.has_value());
        EXPECT_EQ(recovered->version, expected->version + 1);
        EXPECT_EQ(recovered->create_revision, expected->create_revision);
      }
      break;
    }
    case CrashOp::kDelete:
    case CrashOp::kRevoke:
      EXPECT_FALSE(recovered.has_value()) << "the key changed but was not deleted";
      break;
    case CrashOp::kGrant:
      ADD_FAILURE() << "a grant changed a key";
      break;
  }
}

std::optional<KnownKey> Find(const KnownState& state, const std::string& key) {
  auto it = state.find(key);
  return it == state.end() ? std::nullopt : std::optional<KnownKey>(it->second);
}

// The oldest revision a watch may start from: history before it was compacted or left
// behind in a snapshot. At least 1 (a watch from 0 means "from now").
int64_t FirstWatchableRevision(Store& store, int64_t current) {
  int64_t low = 1;
  int64_t high = current;  // watchable
  while (low < high) {
    const int64_t mid = low + (high - low) / 2;
    if (store.Watch("", {.from_revision = mid}).ok()) {
      high = mid;
    } else {
      low = mid + 1;
    }
  }
  return low;
}

struct CrashTotals {
  size_t acknowledged = 0;
  int in_flight_landed = 0;
  int rounds_with_snapshot = 0;
  size_t events_checked = 0;
};

// Checks the recovered `store` against the state known before the round and the round's
// reports; returns the recovered state, the next round's starting point.
void CheckRecovery(Store& store, const std::vector<Report>& reports, KnownState& known,
                   std::set<LeaseId>& live_leases, std::set<LeaseId>& revoked_leases,
                   CrashTotals& totals) {
  KnownState expected = known;
  std::map<int, Report> in_flight;           // thread -> its call that did not return
  std::map<int, int64_t> last_revision;      // thread -> its last acknowledged revision
  std::map<int64_t, Report> by_revision;     // acknowledged puts and deletes
  for (const Report& r : reports) {
    if (!r.acknowledged) {
      in_flight[r.thread] = r;
      continue;
    }
    in_flight.erase(r.thread);
    ++totals.acknowledged;
    ApplyAcknowledged(r, expected, live_leases, revoked_leases);
    if (r.revision != 0) {
      ASSERT_GT(r.revision, last_revision[r.thread]) << "a thread's revisions went backwards";
      last_revision[r.thread] = r.revision;
      ASSERT_TRUE(by_revision.emplace(r.revision, r).second)
          << "two writes acknowledged at revision " << r.revision;
    }
  }

  ORCH_ASSERT_OK_AND_ASSIGN(ListResult list, store.List(std::string(kCrashPrefix)));
  KnownState recovered;
  for (const KeyValue& kv : list.items) {
    ASSERT_TRUE(IsCrashValueOf(kv.key, kv.value)) << "partial or foreign value: " << Describe(kv);
    recovered[kv.key] = Known(kv);
  }

  // Each key is as acknowledged, or changed by its thread's call in flight.
  std::set<std::string> keys;
  for (const auto& [key, k] : expected) keys.insert(key);
  for (const auto& [key, k] : recovered) keys.insert(key);
  for (const std::string& key : keys) {
    const std::optional<KnownKey> want = Find(expected, key);
    const std::optional<KnownKey> got = Find(recovered, key);
    if (want == got) continue;
    const Report* call = nullptr;
    for (const auto& [thread, r] : in_flight) {
      if (KeyOf(r) == key && r.op != CrashOp::kGrant) call = &r;
    }
    ASSERT_NE(call, nullptr) << key << ": acknowledged state lost or a write appeared from "
                             << "nowhere (want " << (want ? want->mod_revision : 0) << ", got "
                             << (got ? got->mod_revision : 0) << ")";
    ++totals.in_flight_landed;
    CheckInFlight(*call, want, got, last_revision[call->thread]);
    if (call->op == CrashOp::kRevoke) {  // the lease went with its key
      live_leases.erase(call->lease);
      revoked_leases.insert(call->lease);
    }
  }

  // Leases: acknowledged grants live, acknowledged revocations gone, and a key's lease live.
  for (const auto& [thread, r] : in_flight) {
    if (r.op == CrashOp::kRevoke && recovered.contains(KeyOf(r))) {
      EXPECT_THAT(store.LeaseTimeToLive(r.lease), IsOk()) << "lease revoked without its key";
    }
  }
  for (LeaseId lease : live_leases) {
    EXPECT_THAT(store.LeaseTimeToLive(lease), IsOk()) << "acknowledged lease " << lease;
  }
  for (LeaseId lease : revoked_leases) {
    EXPECT_THAT(store.LeaseTimeToLive(lease), StatusIs(absl::StatusCode::kNotFound)) << lease;
  }

  // The history the store kept has one event per revision, each whole, and every
  // acknowledged write in it is at its revision.
  ORCH_ASSERT_OK_AND_ASSIGN(const int64_t current, store.CurrentRevision());
  const int64_t first = FirstWatchableRevision(store, current);
  if (first > 1) ++totals.rounds_with_snapshot;
  ORCH_ASSERT_OK_AND_ASSIGN(auto watcher, store.Watch("", {.from_revision = first}));
  std::vector<EventPtr> events;
  ORCH_ASSERT_OK(watcher->Poll(&events));
  ASSERT_EQ(static_cast<int64_t>(events.size()), current - first);
  for (size_t i = 0; i < events.size(); ++i) {
    const Event& event = *events[i];
    ASSERT_EQ(event.kv.mod_revision, first + 1 + static_cast<int64_t>(i)) << "revision gap";
    if (event.type == Event::Type::kPut && event.kv.key.starts_with(kCrashPrefix)) {
      ASSERT_TRUE(IsCrashValueOf(event.kv.key, event.kv.value)) << Describe(event.kv);
    }
  }
  for (const auto& [revision, r] : by_revision) {
    ASSERT_LE(revision, current) << "acknowledged revision " << revision << " lost";
    if (revision <= first) continue;
    const Event& event = *events[static_cast<size_t>(revision - first - 1)];
    EXPECT_EQ(event.kv.key, KeyOf(r)) << "at revision " << revision;
    EXPECT_EQ(event.type, r.op == CrashOp::kDelete ? Event::Type::kDelete : Event::Type::kPut);
    if (r.op != CrashOp::kDelete) EXPECT_EQ(Fnv1a(event.kv.value), r.value_hash);
    ++totals.events_checked;
  }
  known = std::move(recovered);
}

TEST(DurableStoreCrashTest, NoAcknowledgedWriteIsLostAndNoPartialWriteAppearsAfterKillDashNine) {
  constexpr uint32_t kRounds = 30;
  uint32_t seed = std::random_device{}();
  if (const char* env = std::getenv("ORCH_DURABLE_CRASH_SEED")) {
    seed = static_cast<uint32_t>(std::strtoul(env, nullptr, 10));
  }
  std::printf("durable store crash test seed %u (rerun with ORCH_DURABLE_CRASH_SEED=%u)\n", seed,
              seed);
  std::mt19937 random(seed);
  TempDir root;  // the real disk
  ASSERT_FALSE(root.path().empty());
  const std::string dir = root.Sub("data");
  KnownState known;
  std::set<LeaseId> live_leases;
  std::set<LeaseId> revoked_leases;
  CrashTotals totals;
  {  // revision 1, so that a watch from it sees every child's write
    absl::StatusOr<std::unique_ptr<MemoryStore>> store = MemoryStore::Open(CrashOptions(dir));
    ASSERT_THAT(store, IsOk());
    ORCH_ASSERT_OK((*store)->Create("/registry/parent/start", "ok"));
  }

  for (uint32_t round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(fmt::format("round {} seed {}", round, seed));
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    const uint32_t child_seed = static_cast<uint32_t>(random());
    const int delay_ms = std::uniform_int_distribution(1, 60)(random);
    std::fflush(stdout);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ::close(fds[0]);
      CrashChild(dir, fds[1], round, child_seed);
    }
    ::close(fds[1]);

    // Collect reports until the chosen moment, kill -9, then take what was written
    // before the kill. Even rounds count the moment from the fork (a kill may land in
    // recovery or before the first write); odd rounds, over a longer span, from the first
    // acknowledged write, so a slow build (a sanitizer's) still gets writes to check.
    ORCH_ASSERT_OK_AND_ASSIGN(
        std::string bytes,
        ::orch::store::testing::KillChildAfter(
            child, fds[0], std::chrono::milliseconds(delay_ms * (round % 2 == 1 ? 4 : 1)),
            /*from_first_report=*/round % 2 == 1));
    ASSERT_EQ(bytes.size() % sizeof(Report), 0u);
    std::vector<Report> reports(bytes.size() / sizeof(Report));
    if (!reports.empty()) std::memcpy(reports.data(), bytes.data(), bytes.size());

    // Recover as the next process would, check, and write.
    absl::StatusOr<std::unique_ptr<MemoryStore>> store = MemoryStore::Open(CrashOptions(dir));
    ASSERT_THAT(store, IsOk());
    CheckRecovery(**store, reports, known, live_leases, revoked_leases, totals);
    if (::testing::Test::HasFatalFailure()) return;
    ORCH_ASSERT_OK((*store)->Create(fmt::format("/registry/parent/round-{}", round), "ok"));
  }
  std::printf(
      "durable store crash test: %zu acknowledged writes checked over %u kills (%d calls in "
      "flight had landed, %d recoveries started from a snapshot, %zu checked at their "
      "revision in the history)\n",
      totals.acknowledged, kRounds, totals.in_flight_landed, totals.rounds_with_snapshot,
      totals.events_checked);
  EXPECT_GT(totals.acknowledged, kRounds * 2);
  EXPECT_GT(totals.rounds_with_snapshot, 0);
}

}  // namespace
}  // namespace orch::store
