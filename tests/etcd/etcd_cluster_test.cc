// EtcdStore on a real three-member etcd cluster, broken on purpose: the leader killed in
// the middle of writes, a member frozen, the whole cluster restarted, compaction by
// several stores at once, leader election and node heartbeats through a failover. Each
// test starts its own cluster (about a second).
#include <signal.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orch/api/scheme.h"
#include "orch/api/v1/coordination.pb.h"
#include "orch/base/clock.h"
#include "orch/base/executor.h"
#include "orch/client/client.h"
#include "orch/controller/leader_election.h"
#include "orch/node/node_agent.h"
#include "orch/runtime/fake_runtime.h"
#include "orch/store/etcd_store.h"
#include "support/etcd_fixture.h"
#include "support/status_matchers.h"

namespace orch::store {
namespace {

using ::orch::testing::EtcdCluster;
using ::orch::testing::IsMissingEtcd;
using ::orch::testing::IsOk;
using ::orch::testing::StatusIs;
using ::testing::HasSubstr;

constexpr absl::Duration kRequestTimeout = absl::Seconds(2);

class EtcdClusterStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<EtcdCluster>> etcd = EtcdCluster::Start({.members = 3});
    if (IsMissingEtcd(etcd.status())) GTEST_SKIP() << etcd.status();
    ASSERT_THAT(etcd, IsOk());
    etcd_ = *std::move(etcd);
    store_ = Connect();
    ASSERT_NE(store_, nullptr);
  }

  std::unique_ptr<EtcdStore> Connect(EtcdStoreOptions options = {}) {
    options.endpoints = etcd_->endpoints();
    options.key_prefix = "/orch";
    options.request_timeout = kRequestTimeout;
    absl::StatusOr<std::unique_ptr<EtcdStore>> store = EtcdStore::Connect(options);
    EXPECT_THAT(store, IsOk());
    return store.ok() ? *std::move(store) : nullptr;
  }

  // The index of the member `store` talks to now.
  int CurrentMember(const EtcdStore& store) const {
    for (int i = 0; i < etcd_->size(); ++i) {
      if (etcd_->endpoint(i) == store.current_endpoint()) return i;
    }
    return -1;
  }

  std::unique_ptr<EtcdCluster> etcd_;
  std::unique_ptr<EtcdStore> store_;
};

std::string Key(int i) { return fmt::format("/registry/things/default/k{:05}", i); }

// Creates then updates keys one after another for `duration`, as a controller would,
// retrying a failed write until it is decided: a write that failed with kUnavailable may
// have been applied, which the retry finds out (kAlreadyExists, kAborted). Returns the
// number of writes acknowledged per key.
std::map<std::string, int> WriteLoop(Store& store, absl::Duration duration) {
  std::map<std::string, int> acknowledged;
  const absl::Time end = absl::Now() + duration;
  for (int i = 0; absl::Now() < end; ++i) {
    const std::string key = Key(i);
    absl::StatusOr<int64_t> created;
    do {
      created = store.Create(key, "v1");
    } while (absl::IsUnavailable(created.status()) && absl::Now() < end + absl::Seconds(30));
    if (created.ok()) {
      ++acknowledged[key];
    } else if (!absl::IsAlreadyExists(created.status())) {
      ADD_FAILURE() << key << ": " << created.status();
      break;
    }
    // The key exists now (by this write or one whose answer was lost): update it on the
    // revision it has.
    absl::StatusOr<int64_t> updated;
    do {
      absl::StatusOr<KeyValue> current = store.Get(key);
      if (!current.ok()) {
        updated = current.status();
        continue;
      }
      if (current->value == "v2") break;  // an update whose answer was lost
      updated = store.Update(key, "v2", current->mod_revision);
    } while (!updated.ok() && absl::Now() < end + absl::Seconds(30));
    if (updated.ok()) ++acknowledged[key];
  }
  return acknowledged;
}

TEST_F(EtcdClusterStoreTest, KillingTheLeaderLosesNoAcknowledgedWriteAndAppliesNoneTwice) {
  // A watcher from before the first write sees every change exactly once.
  ORCH_ASSERT_OK_AND_ASSIGN(const int64_t start, store_->CurrentRevision());
  ORCH_ASSERT_OK_AND_ASSIGN(auto watcher, store_->Watch("/registry/", {.from_revision = start}));

  std::map<std::string, int> acknowledged;
  std::thread writer([&] { acknowledged = WriteLoop(*store_, absl::Seconds(6)); });
  absl::SleepFor(absl::Seconds(2));
  ORCH_ASSERT_OK_AND_ASSIGN(const int leader, etcd_->Leader());
  ASSERT_THAT(etcd_->Kill(leader), IsOk());
  writer.join();
  ASSERT_GE(acknowledged.size(), 10u) << "too few writes to mean anything";

  ORCH_ASSERT_OK_AND_ASSIGN(ListResult list, store_->List("/registry/"));
  std::map<std::string, int64_t> versions;
  for (const KeyValue& kv : list.items) versions[kv.key] = kv.version;
  for (const auto& [key, count] : acknowledged) {
    ASSERT_TRUE(versions.contains(key)) << key << " was acknowledged and is gone";
    EXPECT_GE(versions[key], count) << key;
  }
  for (const auto& [key, version] : versions) {
    EXPECT_LE(version, 2) << key << " was written more often than the loop wrote it";
  }

  // Every change, once, in order.
  std::vector<EventPtr> events;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  int64_t writes = 0;
  for (const auto& [key, version] : versions) writes += version;
  while (static_cast<int64_t>(events.size()) < writes && absl::Now() < deadline) {
    watcher->Wait(absl::Milliseconds(200));
    ASSERT_THAT(watcher->Poll(&events), IsOk());
  }
  ASSERT_EQ(static_cast<int64_t>(events.size()), writes);
  std::set<std::pair<std::string, int64_t>> seen;
  int64_t last = start;
  for (const EventPtr& e : events) {
    EXPECT_GT(e->kv.mod_revision, last) << "out of order or repeated";
    last = e->kv.mod_revision;
    EXPECT_TRUE(seen.insert({e->kv.key, e->kv.version}).second) << e->kv.key << " twice";
  }
}

TEST_F(EtcdClusterStoreTest, AFrozenMemberStallsNoCallBeyondItsTimeout) {
  ASSERT_THAT(store_->Create(Key(1), "v"), IsOk());
  const int member = CurrentMember(*store_);
  ASSERT_GE(member, 0);
  ASSERT_THAT(etcd_->Freeze(member), IsOk());

  absl::Time started = absl::Now();
  ORCH_ASSERT_OK_AND_ASSIGN(KeyValue got, store_->Get(Key(1)));
  EXPECT_EQ(got.value, "v");
  EXPECT_LT(absl::Now() - started, kRequestTimeout + absl::Seconds(2));
  EXPECT_NE(CurrentMember(*store_), member);

  // Writes and watches go on through the others.
  started = absl::Now();
  EXPECT_THAT(store_->Create(Key(2), "v"), IsOk());
  ORCH_ASSERT_OK_AND_ASSIGN(auto watcher, store_->Watch("/registry/"));
  ASSERT_THAT(store_->Create(Key(3), "v"), IsOk());
  EXPECT_TRUE(watcher->Wait(absl::Seconds(5)));
  EXPECT_LT(absl::Now() - started, absl::Seconds(10));
  ASSERT_THAT(etcd_->Thaw(member), IsOk());
}

TEST_F(EtcdClusterStoreTest, AWholeClusterRestartLosesNothing) {
  for (int i = 0; i < 50; ++i) ASSERT_THAT(store_->Create(Key(i), fmt::format("v{}", i)), IsOk());
  ORCH_ASSERT_OK_AND_ASSIGN(const int64_t before, store_->CurrentRevision());
  ASSERT_THAT(etcd_->StopAll(), IsOk());
  EXPECT_THAT(store_->Get(Key(0)), StatusIs(absl::StatusCode::kUnavailable));
  ASSERT_THAT(etcd_->RestartAll(), IsOk());

  // The same store finds the cluster again.
  absl::StatusOr<ListResult> list;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  do {
    list = store_->List("/registry/");
  } while (!list.ok() && absl::Now() < deadline);
  ASSERT_THAT(list, IsOk());
  ASSERT_EQ(list->items.size(), 50u);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(list->items[i].value, fmt::format("v{}", i));
  EXPECT_GE(list->revision, before);
}

TEST_F(EtcdClusterStoreTest, AWatcherResumesOnAnotherMemberWhenItsMemberDies) {
  ORCH_ASSERT_OK_AND_ASSIGN(auto watcher, store_->Watch("/registry/"));
  ASSERT_THAT(store_->Create(Key(1), "v"), IsOk());
  const int member = CurrentMember(*store_);
  ASSERT_THAT(etcd_->Kill(member), IsOk());
  // Written through another store, so this one's calls do not move it on first.
  std::unique_ptr<EtcdStore> other = Connect();
  ASSERT_NE(other, nullptr);
  for (int i = 2; i <= 5; ++i) ASSERT_THAT(other->Create(Key(i), "v"), IsOk());

  std::vector<EventPtr> events;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (events.size() < 5 && absl::Now() < deadline) {
    watcher->Wait(absl::Milliseconds(200));
    ASSERT_THAT(watcher->Poll(&events), IsOk());
  }
  ASSERT_EQ(events.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(events[i]->kv.key, Key(i + 1));
}

// While the survivors elect a new leader they answer reads "etcdserver: leader changed"
// (or make them wait). A read waits the election out, within its timeout: neither a
// store connecting nor one already connected sees an error.
TEST_F(EtcdClusterStoreTest, ReadsWaitOutALeaderElection) {
  ASSERT_THAT(store_->Create(Key(1), "v"), IsOk());
  ORCH_ASSERT_OK_AND_ASSIGN(const int leader, etcd_->Leader());
  ASSERT_THAT(etcd_->Kill(leader), IsOk());

  // Readers on every member, from the moment the leader is gone until well after the
  // election: each connects (Connect reads the revision), then reads on. The first error a
  // reader sees fails the test, and that reader stops.
  const absl::Time end = absl::Now() + absl::Seconds(3);
  auto read_on = [&](EtcdStore* store) {
    while (store != nullptr && absl::Now() < end) {
      const absl::Status status = store->Get(Key(1)).status();
      EXPECT_THAT(status, IsOk());
      if (!status.ok()) return;
    }
  };
  std::vector<std::thread> readers;
  for (int r = 0; r < 6; ++r) readers.emplace_back([&] { read_on(Connect().get()); });
  read_on(store_.get());
  for (std::thread& t : readers) t.join();
}

TEST_F(EtcdClusterStoreTest, NoMemberAnsweringIsUnavailableWithinTheTimeouts) {
  ASSERT_THAT(etcd_->StopAll(), IsOk());
  const absl::Time started = absl::Now();
  EXPECT_THAT(store_->Create(Key(1), "v"),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("127.0.0.1:")));
  EXPECT_THAT(store_->Get(Key(1)), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_LT(absl::Now() - started, 3 * kRequestTimeout * 2);
  EXPECT_THAT(EtcdStore::Connect({.endpoints = etcd_->endpoints(),
                                  .request_timeout = absl::Milliseconds(500)}),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("etcd is unreachable over plain text")));
}

TEST_F(EtcdClusterStoreTest, TwoCompactingStoresKeepAWindowAndCompactOncePerInterval) {
  std::unique_ptr<EtcdStore> a = Connect({.compaction_interval = absl::Seconds(1)});
  std::unique_ptr<EtcdStore> b = Connect({.compaction_interval = absl::Seconds(1)});
  ASSERT_THAT(store_->Create(Key(1), "v1"), IsOk());
  ORCH_ASSERT_OK_AND_ASSIGN(const int64_t first, store_->Update(Key(1), "v2", 0));
  // Within the first intervals nothing is compacted yet: one interval of history stays.
  EXPECT_THAT(store_->Get(Key(1), first), IsOk());
  const absl::Time deadline = absl::Now() + absl::Seconds(15);
  absl::Status old = absl::OkStatus();
  while (old.ok() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(200));
    old = store_->Get(Key(1), first).status();
  }
  EXPECT_THAT(old, StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(store_->Get(Key(1)), IsOk());  // the state itself stays
}

// Leader election and node heartbeats ride on Lease objects through the client: on etcd
// as on MemoryStore, and on through the loss of etcd's leader.
TEST_F(EtcdClusterStoreTest, LeaderElectionAndNodeHeartbeatsCarryOnAcrossAnEtcdLeaderLoss) {
  ThreadPoolExecutor executor(2);
  client::Client client(store_.get(), &api::Scheme::Builtin(), &Clock::Real());
  auto elector = [&](const std::string& identity) {
    return controller::LeaderElector::Create({.client = &client,
                                              .executor = &executor,
                                              .lease_name = "orch-controllers",
                                              .identity = identity,
                                              .lease_duration = absl::Seconds(4),
                                              .renew_deadline = absl::Seconds(3),
                                              .retry_period = absl::Milliseconds(500)});
  };
  ORCH_ASSERT_OK_AND_ASSIGN(auto a, elector("a"));
  ORCH_ASSERT_OK_AND_ASSIGN(auto b, elector("b"));
  auto eventually = [](const std::function<bool()>& condition, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (!condition()) {
      if (absl::Now() > deadline) return false;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return true;
  };
  a->Start();
  ASSERT_TRUE(eventually([&] { return a->IsLeader(); }, absl::Seconds(10)));
  b->Start();
  absl::SleepFor(absl::Seconds(1));
  EXPECT_FALSE(b->IsLeader());
  EXPECT_EQ(b->GetLeader(), "a");

  // A node agent heartbeats through the same store.
  runtime::FakeRuntime runtime({.executor = &executor});
  ORCH_ASSERT_OK_AND_ASSIGN(auto agent,
                            node::NodeAgent::Create({.node_name = "node-1",
                                                     .client = &client,
                                                     .executor = &executor,
                                                     .runtime = &runtime,
                                                     .prober = &runtime,
                                                     .cpu = "2",
                                                     .memory = "4Gi",
                                                     .lease_duration = absl::Seconds(4),
                                                     .pod_log_directory = ""}));
  ASSERT_THAT(agent->Start(), IsOk());
  auto renewed = [&] {
    absl::StatusOr<api::v1::Lease> lease = client.Get<api::v1::Lease>("kube-node-lease", "node-1");
    return lease.ok() ? lease->spec().renew_time().seconds() : int64_t{0};
  };
  ASSERT_TRUE(eventually([&] { return renewed() > 0; }, absl::Seconds(10)));

  ORCH_ASSERT_OK_AND_ASSIGN(const int leader, etcd_->Leader());
  ASSERT_THAT(etcd_->Kill(leader), IsOk());
  const int64_t before = renewed();
  EXPECT_TRUE(eventually([&] { return renewed() > before + 1; }, absl::Seconds(15)))
      << "the node's Lease was not renewed after etcd lost its leader";
  EXPECT_TRUE(eventually([&] { return a->IsLeader(); }, absl::Seconds(10)))
      << "the elected leader lost its term to etcd's failover";
  EXPECT_FALSE(b->IsLeader());

  a->Stop();  // releases the Lease: b takes it at once
  EXPECT_TRUE(eventually([&] { return b->IsLeader(); }, absl::Seconds(5)));
  agent->Stop();
  b->Stop();
}

TEST(EtcdStoreOptionsTest, BadOptionsAreRefusedNamingTheField) {
  EXPECT_THAT(EtcdStore::Connect({}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("endpoints")));
  EXPECT_THAT(EtcdStore::Connect({.endpoints = {"127.0.0.1:1"}, .key_prefix = "orch"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("key_prefix")));
  EXPECT_THAT(EtcdStore::Connect({.endpoints = {"127.0.0.1:1"}, .key_prefix = "/orch/"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("key_prefix")));
  EXPECT_THAT(EtcdStore::Connect({.endpoints = {"127.0.0.1:1"},
                                  .request_timeout = absl::ZeroDuration()}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("request_timeout")));
  EXPECT_THAT(EtcdStore::Connect({.endpoints = {"127.0.0.1:1"}, .cert_file = "/x"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("key_file")));
  EXPECT_THAT(EtcdStore::Connect({.endpoints = {"127.0.0.1:1"}, .ca_file = "/no/such/ca.pem"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ca_file")));
  EXPECT_THAT(EtcdStore::Connect({.endpoints = {"127.0.0.1:1"},
                                  .request_timeout = absl::Milliseconds(300)}),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("127.0.0.1:1")));
}

}  // namespace
}  // namespace orch::store
