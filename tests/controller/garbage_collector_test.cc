#include "orch/controller/garbage_collector.h"

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orch/api/scheme.h"
#include "orch/api/v1/apps.pb.h"
#include "orch/api/v1/core.pb.h"
#include "orch/api/v1/meta.pb.h"
#include "orch/base/executor.h"
#include "orch/base/mutex.h"
#include "orch/base/string_map.h"
#include "orch/client/client.h"
#include "orch/client/informer.h"
#include "orch/controller/ownership.h"
#include "orch/store/memory_store.h"
#include "orch/testing/fault_store.h"
#include "controller/fixture.h"
#include "support/status_matchers.h"

namespace orch::controller {
namespace {

namespace v1 = ::orch::api::v1;
using testing::MakeDeployment;
using testing::MakePod;
using testing::MakeReplicaSet;
using ::google::protobuf::Message;
using ::orch::testing::IsOk;
using ::orch::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr char kHold[] = "example.com/hold";

v1::OwnerReference GhostRef(const std::string& api_version, const std::string& kind,
                            const std::string& name, const std::string& uid) {
  v1::OwnerReference ref;
  ref.set_api_version(api_version);
  ref.set_kind(kind);
  ref.set_name(name);
  ref.set_uid(uid);
  ref.set_controller(true);
  ref.set_block_owner_deletion(true);
  return ref;
}

using ::orch::testing::FaultStore;
using Op = FaultStore::Op;

// Keys deleted more than once.
std::vector<std::string> DeletedTwice(const FaultStore& store) {
  std::vector<std::string> out;
  for (const auto& [key, n] : store.SucceededByKey(Op::kDelete)) {
    if (n > 1) out.push_back(key);
  }
  return out;
}

// The collector's Client goes through the FaultStore, the test's own writes (`direct_`)
// straight to the store.
class GarbageCollectorTest : public testing::ControllerEnvTest {
 protected:
  void Reset() override {
    gc_.reset();
    ControllerEnvTest::Reset();
  }

  void Build(const api::Scheme* scheme, GarbageCollectorOptions options = {}) {
    ControllerEnvTest::Build(scheme);
    options.client = client_.get();
    options.informers = informers_.get();
    options.executor = &executor_;
    gc_ = GarbageCollector::Create(std::move(options)).value();
  }
  void SetUp() override { Build(&api::Scheme::Builtin()); }

  void StartCollector() {
    ASSERT_THAT(gc_->Start(), IsOk());
    Settle();
    ASSERT_TRUE(gc_->HasSynced());
  }

  // Runs every task, letting virtual time pass for retries, up to `limit`.
  void Settle(absl::Duration limit = absl::Minutes(10)) {
    const absl::Time end = executor_.clock().Now() + limit;
    executor_.RunUntilIdle();
    while (executor_.NextTimerAt() <= end) executor_.RunNextTimer();
  }

  // Creates `obj` owned by `controller` (a controller reference with blockOwnerDeletion,
  // as controllers set them) and by `others` (plain references).
  template <typename T>
  T Create(T obj, const Message* controller, std::vector<const Message*> others = {},
           std::vector<std::string> finalizers = {}) {
    if (controller != nullptr) {
      EXPECT_THAT(SetControllerReference(*controller, obj, *client_->scheme()), IsOk());
    }
    for (const Message* owner : others) {
      EXPECT_THAT(SetOwnerReference(*owner, obj, *client_->scheme()), IsOk());
    }
    for (const std::string& f : finalizers) obj.mutable_metadata()->add_finalizers(f);
    absl::StatusOr<T> created = direct_->Create(obj);
    EXPECT_THAT(created, IsOk());
    return created.value_or(obj);
  }

  template <typename T>
  absl::StatusOr<T> Get(const std::string& name) {
    return direct_->Get<T>("default", name);
  }
  template <typename T>
  bool Exists(const std::string& name) {
    return Get<T>(name).ok();
  }
  template <typename T>
  void Delete(const std::string& name, std::optional<client::PropagationPolicy> policy = {}) {
    client::DeleteOptions options;
    options.propagation_policy = policy;
    ASSERT_THAT(direct_->Delete<T>("default", name, options), IsOk());
  }
  template <typename T>
  void ClearFinalizers(const std::string& name) {
    ORCH_ASSERT_OK_AND_ASSIGN(T obj, Get<T>(name));
    obj.mutable_metadata()->clear_finalizers();
    ASSERT_THAT(direct_->Update(obj).status(), IsOk());
  }
  template <typename T>
  std::vector<std::string> OwnerUids(const std::string& name) {
    std::vector<std::string> uids;
    absl::StatusOr<T> obj = Get<T>(name);
    if (!obj.ok()) return {"<" + std::string(obj.status().message()) + ">"};
    for (const v1::OwnerReference& ref : obj->metadata().owner_references()) uids.push_back(ref.uid());
    return uids;
  }

  std::unique_ptr<GarbageCollector> gc_;
};

TEST_F(GarbageCollectorTest, CreateRequiresClientInformersAndExecutor) {
  EXPECT_THAT(GarbageCollector::Create({}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(GarbageCollector::Create({.client = client_.get(), .informers = informers_.get()}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(GarbageCollectorTest, BackgroundDeleteRemovesTheWholeChain) {
  const auto d = Create(MakeDeployment("web"), nullptr);
  const auto rs = Create(MakeReplicaSet("web-1"), &d);
  Create(MakePod("web-1-a"), &rs);
  Create(MakePod("web-1-b"), &rs);
  Create(MakePod("bystander"), nullptr);
  StartCollector();
  EXPECT_EQ(gc_->stats().nodes, 5);
  EXPECT_EQ(gc_->stats().deleted, 0);  // owners exist: nothing to do

  Delete<v1::Deployment>("web");
  Settle();
  EXPECT_FALSE(Exists<v1::ReplicaSet>("web-1"));
  EXPECT_FALSE(Exists<v1::Pod>("web-1-a"));
  EXPECT_FALSE(Exists<v1::Pod>("web-1-b"));
  EXPECT_TRUE(Exists<v1::Pod>("bystander"));
  const GarbageCollector::Stats stats = gc_->stats();
  EXPECT_EQ(stats.deleted, 3);
  EXPECT_EQ(stats.errors, 0);
  EXPECT_EQ(stats.nodes, 1);  // the graph forgets what is gone
  EXPECT_EQ(stats.virtual_nodes, 0);
  EXPECT_THAT(DeletedTwice(*faults_), IsEmpty());
}

TEST_F(GarbageCollectorTest, ForegroundDeleteKeepsTheOwnerUntilBlockingDependentsAreGone) {
  const auto d = Create(MakeDeployment("web"), nullptr);
  const auto rs = Create(MakeReplicaSet("web-1"), &d);
  Create(MakePod("web-1-a"), &rs, {}, {kHold});  // stays until its finalizer goes
  StartCollector();

  Delete<v1::Deployment>("web", client::PropagationPolicy::kForeground);
  Settle();
  // The pod is marked deleted and held; everything above it waits, marked too.
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Pod pod, Get<v1::Pod>("web-1-a"));
  EXPECT_TRUE(pod.metadata().has_deletion_timestamp());
  ORCH_ASSERT_OK_AND_ASSIGN(v1::ReplicaSet got_rs, Get<v1::ReplicaSet>("web-1"));
  EXPECT_TRUE(got_rs.metadata().has_deletion_timestamp());
  // It has a dependent of its own, so it was deleted in Foreground too.
  EXPECT_THAT(got_rs.metadata().finalizers(), ElementsAre("foregroundDeletion"));
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Deployment got_d, Get<v1::Deployment>("web"));
  EXPECT_TRUE(got_d.metadata().has_deletion_timestamp());
  EXPECT_THAT(got_d.metadata().finalizers(), ElementsAre("foregroundDeletion"));
  EXPECT_EQ(gc_->stats().deleted, 2);

  ClearFinalizers<v1::Pod>("web-1-a");
  Settle();
  EXPECT_FALSE(Exists<v1::Pod>("web-1-a"));
  EXPECT_FALSE(Exists<v1::ReplicaSet>("web-1"));
  EXPECT_FALSE(Exists<v1::Deployment>("web"));
  const GarbageCollector::Stats stats = gc_->stats();
  EXPECT_EQ(stats.deleted, 2);  // the held pod was not deleted again
  EXPECT_EQ(stats.finalizers_removed, 2);
  EXPECT_EQ(stats.nodes, 0);
}

TEST_F(GarbageCollectorTest, ForegroundIsNotHeldByDependentsWithoutBlockOwnerDeletion) {
  const auto rs = Create(MakeReplicaSet("web-1"), nullptr);
  Create(MakePod("tight"), &rs);                 // blockOwnerDeletion: true
  Create(MakePod("loose"), nullptr, {&rs}, {kHold});  // a plain reference, and held
  StartCollector();

  Delete<v1::ReplicaSet>("web-1", client::PropagationPolicy::kForeground);
  Settle();
  EXPECT_FALSE(Exists<v1::ReplicaSet>("web-1"));
  EXPECT_FALSE(Exists<v1::Pod>("tight"));
  // Deleted along with it, but it did not hold the owner back.
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Pod loose, Get<v1::Pod>("loose"));
  EXPECT_TRUE(loose.metadata().has_deletion_timestamp());
  EXPECT_THAT(loose.metadata().finalizers(), ElementsAre(kHold));
  EXPECT_EQ(gc_->stats().deleted, 2);
}

TEST_F(GarbageCollectorTest, OrphanDeleteKeepsDependentsAndRemovesTheirReferences) {
  const auto d = Create(MakeDeployment("web"), nullptr);
  const auto rs = Create(MakeReplicaSet("web-1"), &d);
  Create(MakePod("web-1-a"), &rs);
  StartCollector();

  Delete<v1::Deployment>("web", client::PropagationPolicy::kOrphan);
  Settle();
  EXPECT_FALSE(Exists<v1::Deployment>("web"));
  ORCH_ASSERT_OK_AND_ASSIGN(v1::ReplicaSet got_rs, Get<v1::ReplicaSet>("web-1"));
  EXPECT_THAT(got_rs.metadata().owner_references(), IsEmpty());
  EXPECT_FALSE(got_rs.metadata().has_deletion_timestamp());
  EXPECT_THAT(OwnerUids<v1::Pod>("web-1-a"), ElementsAre(rs.metadata().uid()));
  const GarbageCollector::Stats stats = gc_->stats();
  EXPECT_EQ(stats.orphaned, 1);
  EXPECT_EQ(stats.finalizers_removed, 1);
  EXPECT_EQ(stats.deleted, 0);
}

TEST_F(GarbageCollectorTest, ADependentIsDeletedWithThePropagationItsFinalizersAskFor) {
  const auto d = Create(MakeDeployment("web"), nullptr);
  // Asks for Foreground: it waits for its held pod.
  const auto fg = Create(MakeReplicaSet("fg"), &d, {}, {"foregroundDeletion"});
  Create(MakePod("fg-a"), &fg, {}, {kHold});
  // Asks for Orphan: its pod stays, without the reference.
  const auto orphan = Create(MakeReplicaSet("orphan"), nullptr, {&d}, {"orphan"});
  Create(MakePod("orphan-a"), &orphan);
  StartCollector();
  EXPECT_TRUE(Exists<v1::ReplicaSet>("fg"));  // finalizers alone do nothing

  Delete<v1::Deployment>("web");
  Settle();
  ORCH_ASSERT_OK_AND_ASSIGN(v1::ReplicaSet waiting, Get<v1::ReplicaSet>("fg"));
  EXPECT_TRUE(waiting.metadata().has_deletion_timestamp());
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Pod held, Get<v1::Pod>("fg-a"));
  EXPECT_TRUE(held.metadata().has_deletion_timestamp());
  EXPECT_FALSE(Exists<v1::ReplicaSet>("orphan"));
  EXPECT_THAT(OwnerUids<v1::Pod>("orphan-a"), IsEmpty());

  ClearFinalizers<v1::Pod>("fg-a");
  Settle();
  EXPECT_FALSE(Exists<v1::ReplicaSet>("fg"));
  EXPECT_TRUE(Exists<v1::Pod>("orphan-a"));
}

TEST_F(GarbageCollectorTest, ADependentWithTwoOwnersOutlivesTheFirstAndGoesWithTheSecond) {
  const auto first = Create(MakeReplicaSet("first"), nullptr);
  const auto second = Create(MakeReplicaSet("second"), nullptr);
  Create(MakePod("shared"), &first, {&second});
  StartCollector();

  Delete<v1::ReplicaSet>("first");
  Settle();
  // Kept, and the reference to the absent owner removed.
  EXPECT_THAT(OwnerUids<v1::Pod>("shared"), ElementsAre(second.metadata().uid()));
  EXPECT_EQ(gc_->stats().references_removed, 1);
  EXPECT_EQ(gc_->stats().deleted, 0);

  Delete<v1::ReplicaSet>("second");
  Settle();
  EXPECT_FALSE(Exists<v1::Pod>("shared"));
}

TEST_F(GarbageCollectorTest, AReferenceToAnOwnerThatNeverExistedMakesTheDependentGo) {
  v1::Pod early = MakePod("early");
  *early.mutable_metadata()->add_owner_references() =
      GhostRef("apps/v1", "ReplicaSet", "ghost", "no-such-uid-1");
  Create(early, nullptr);
  StartCollector();
  EXPECT_FALSE(Exists<v1::Pod>("early"));

  v1::Pod late = MakePod("late");  // seen on the watch rather than the first list
  *late.mutable_metadata()->add_owner_references() =
      GhostRef("apps/v1", "ReplicaSet", "ghost", "no-such-uid-2");
  Create(late, nullptr);
  v1::Pod cluster_owned = MakePod("cluster-owned");  // a cluster-scoped owner, by name only
  *cluster_owned.mutable_metadata()->add_owner_references() =
      GhostRef("v1", "Node", "ghost-node", "no-such-uid-3");
  Create(cluster_owned, nullptr);
  Settle();
  EXPECT_FALSE(Exists<v1::Pod>("late"));
  EXPECT_FALSE(Exists<v1::Pod>("cluster-owned"));
  EXPECT_EQ(gc_->stats().deleted, 3);
  EXPECT_EQ(gc_->stats().nodes, 0);  // the virtual owners are gone from the graph too
}

TEST_F(GarbageCollectorTest, ExistingOwnersThatAreNotWatchedStillProtect) {
  // A Node exists but is only referenced (Scheme::Builtin watches nodes, so ignore them).
  Build(&api::Scheme::Builtin(), {.ignored_resources = {"events", "nodes"}});
  v1::Node node;
  node.mutable_metadata()->set_name("node-1");
  const auto created = Create(node, nullptr);
  Create(MakePod("on-node"), nullptr, {&created});
  StartCollector();
  Settle();
  EXPECT_TRUE(Exists<v1::Pod>("on-node"));
  EXPECT_EQ(gc_->stats().virtual_nodes, 1);  // known from the reference and a live read
  EXPECT_EQ(gc_->stats().deleted, 0);
}

TEST_F(GarbageCollectorTest, ReferencesToKindsTheSchemeLacksAreLeftAlone) {
  const auto rs = Create(MakeReplicaSet("web-1"), nullptr);
  v1::Pod pod = MakePod("gizmo-owned");
  *pod.mutable_metadata()->add_owner_references() =
      GhostRef("example.com/v1", "Gizmo", "g", "gizmo-uid");
  Create(pod, nullptr, {&rs});
  StartCollector();
  EXPECT_TRUE(Exists<v1::Pod>("gizmo-owned"));

  // Its other owner goes: the unknown owner cannot be shown absent, so it still holds.
  Delete<v1::ReplicaSet>("web-1");
  Settle();
  EXPECT_THAT(OwnerUids<v1::Pod>("gizmo-owned"), ElementsAre("gizmo-uid"));
  EXPECT_EQ(gc_->stats().errors, 0);
}

TEST_F(GarbageCollectorTest, AnOwnerRecreatedUnderTheSameNameDoesNotProtectDependentsOfTheOldOne) {
  const auto old_rs = Create(MakeReplicaSet("web-1"), nullptr);
  Create(MakePod("old-pod"), &old_rs);
  // Replaced while no collector ran: same name, new uid.
  Delete<v1::ReplicaSet>("web-1");
  const auto new_rs = Create(MakeReplicaSet("web-1"), nullptr);
  ASSERT_NE(new_rs.metadata().uid(), old_rs.metadata().uid());
  Create(MakePod("new-pod"), &new_rs);
  StartCollector();

  EXPECT_FALSE(Exists<v1::Pod>("old-pod"));
  EXPECT_TRUE(Exists<v1::Pod>("new-pod"));
  ORCH_ASSERT_OK_AND_ASSIGN(v1::ReplicaSet got, Get<v1::ReplicaSet>("web-1"));
  EXPECT_EQ(got.metadata().uid(), new_rs.metadata().uid());
  EXPECT_EQ(gc_->stats().deleted, 1);
}

TEST_F(GarbageCollectorTest, ADependentReplacedUnderTheSameNameIsNeverDeleted) {
  const auto rs = Create(MakeReplicaSet("web-1"), nullptr);
  const auto pod = Create(MakePod("web-1-a"), &rs);
  StartCollector();

  // Between the collector's decision and its delete, the pod is replaced by a new one
  // of the same name that has no owner.
  std::string replacement_uid;
  faults_->Before(Op::kDelete, "/registry/pods/default/web-1-a", [&] {
    ASSERT_THAT(direct_->Delete<v1::Pod>("default", "web-1-a"), IsOk());
    ORCH_ASSERT_OK_AND_ASSIGN(v1::Pod fresh, direct_->Create(MakePod("web-1-a")));
    replacement_uid = fresh.metadata().uid();
  });
  Delete<v1::ReplicaSet>("web-1");
  Settle();
  ASSERT_FALSE(replacement_uid.empty());
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Pod got, Get<v1::Pod>("web-1-a"));
  EXPECT_EQ(got.metadata().uid(), replacement_uid);
  EXPECT_NE(got.metadata().uid(), pod.metadata().uid());
  EXPECT_EQ(gc_->stats().deleted, 0);
}

TEST_F(GarbageCollectorTest, OtherFinalizersAreLeftAlone) {
  const auto background = Create(MakeReplicaSet("background"), nullptr, {}, {kHold});
  Create(MakePod("background-pod"), &background);
  const auto foreground = Create(MakeReplicaSet("foreground"), nullptr, {}, {kHold});
  Create(MakePod("foreground-pod"), &foreground);
  const auto orphan = Create(MakeReplicaSet("orphan"), nullptr, {}, {kHold});
  Create(MakePod("orphan-pod"), &orphan);
  StartCollector();

  Delete<v1::ReplicaSet>("background");
  Delete<v1::ReplicaSet>("foreground", client::PropagationPolicy::kForeground);
  Delete<v1::ReplicaSet>("orphan", client::PropagationPolicy::kOrphan);
  Settle();
  // Held by someone else's finalizer, an owner still exists for its dependents ...
  ORCH_ASSERT_OK_AND_ASSIGN(v1::ReplicaSet held, Get<v1::ReplicaSet>("background"));
  EXPECT_TRUE(held.metadata().has_deletion_timestamp());
  EXPECT_THAT(held.metadata().finalizers(), ElementsAre(kHold));
  EXPECT_THAT(OwnerUids<v1::Pod>("background-pod"), ElementsAre(background.metadata().uid()));
  // ... while Foreground and Orphan handling go ahead and leave that finalizer be.
  EXPECT_FALSE(Exists<v1::Pod>("foreground-pod"));
  ORCH_ASSERT_OK_AND_ASSIGN(held, Get<v1::ReplicaSet>("foreground"));
  EXPECT_THAT(held.metadata().finalizers(), ElementsAre(kHold));
  EXPECT_THAT(OwnerUids<v1::Pod>("orphan-pod"), IsEmpty());
  ORCH_ASSERT_OK_AND_ASSIGN(held, Get<v1::ReplicaSet>("orphan"));
  EXPECT_THAT(held.metadata().finalizers(), ElementsAre(kHold));

  // Once the finalizer's owner lets go, the owner is gone and its dependent follows.
  ClearFinalizers<v1::ReplicaSet>("background");
  Settle();
  EXPECT_FALSE(Exists<v1::ReplicaSet>("background"));
  EXPECT_FALSE(Exists<v1::Pod>("background-pod"));
}

TEST_F(GarbageCollectorTest, CustomKindsTakePart) {
  api::Scheme scheme = api::Scheme::Builtin();
  api::Kind widget;
  widget.group = "example.com";
  widget.version = "v1";
  widget.kind = "Widget";
  widget.plural = "widgets";
  widget.prototype = &v1::ObjectHeader::default_instance();
  ASSERT_THAT(scheme.Register(widget), IsOk());
  Build(&scheme);

  // ReplicaSet -> Widget -> Pod.
  const auto rs = Create(MakeReplicaSet("web-1"), nullptr);
  v1::ObjectHeader w;
  w.mutable_metadata()->set_name("w");
  w.mutable_metadata()->set_namespace_("default");
  const auto created = Create(w, &rs);
  Create(MakePod("widget-pod"), &created);
  StartCollector();
  EXPECT_EQ(gc_->stats().nodes, 3);

  Delete<v1::ReplicaSet>("web-1");
  Settle();
  EXPECT_FALSE(Exists<v1::ObjectHeader>("w"));
  EXPECT_FALSE(Exists<v1::Pod>("widget-pod"));
  EXPECT_EQ(gc_->stats().deleted, 2);
  gc_.reset();  // before `scheme` goes
  informers_.reset();
}

TEST_F(GarbageCollectorTest, IgnoredResourcesAreNotCollected) {
  Build(&api::Scheme::Builtin(), {.ignored_resources = {"events", "pods"}});
  const auto rs = Create(MakeReplicaSet("web-1"), nullptr);
  Create(MakePod("web-1-a"), &rs);
  v1::Event event;
  event.mutable_metadata()->set_name("web-1.started");
  event.mutable_metadata()->set_namespace_("default");
  event.set_reason("Started");
  Create(event, &rs);
  StartCollector();

  Delete<v1::ReplicaSet>("web-1");
  Settle();
  EXPECT_TRUE(Exists<v1::Pod>("web-1-a"));
  EXPECT_TRUE(Exists<v1::Event>("web-1.started"));
  EXPECT_EQ(gc_->stats().deleted, 0);
}

TEST_F(GarbageCollectorTest, NothingIsDoneBeforeEveryWatchedInformerHasSynced) {
  // That informer lists again after 1 s.
  faults_->FailNext(Op::kList, "/registry/replicasets/", 1, absl::UnavailableError("injected"));
  v1::Pod pod = MakePod("dangling");
  *pod.mutable_metadata()->add_owner_references() =
      GhostRef("apps/v1", "ReplicaSet", "ghost", "no-such-uid");
  Create(pod, nullptr);
  ASSERT_THAT(gc_->Start(), IsOk());
  executor_.RunUntilIdle();
  EXPECT_FALSE(gc_->HasSynced());
  EXPECT_TRUE(Exists<v1::Pod>("dangling"));

  executor_.AdvanceBy(absl::Seconds(1));
  Settle();
  EXPECT_TRUE(gc_->HasSynced());
  EXPECT_FALSE(Exists<v1::Pod>("dangling"));
}

TEST_F(GarbageCollectorTest, StoreFaultsAreRetriedToTheSameEndState) {
  const auto d = Create(MakeDeployment("web"), nullptr);
  const auto rs = Create(MakeReplicaSet("web-1"), &d);
  Create(MakePod("web-1-a"), &rs);
  Create(MakePod("web-1-b"), &rs);
  const auto keeper = Create(MakeReplicaSet("keeper"), nullptr);
  Create(MakePod("shared"), &keeper, {&d});  // loses its reference to web
  const auto fg = Create(MakeReplicaSet("fg"), nullptr);
  Create(MakePod("fg-a"), &fg);
  const auto orphaner = Create(MakeDeployment("orphaner"), nullptr);
  Create(MakeReplicaSet("orphan-rs"), &orphaner);
  StartCollector();

  // Only the collector writes through it.
  faults_->FailNext(Op::kDelete, "", 3, absl::UnavailableError("injected: delete refused"));
  faults_->FailNext(Op::kUpdate, "", 3, absl::UnavailableError("injected: update refused"));
  Delete<v1::Deployment>("web");
  Delete<v1::ReplicaSet>("fg", client::PropagationPolicy::kForeground);
  Delete<v1::Deployment>("orphaner", client::PropagationPolicy::kOrphan);
  Settle();
  EXPECT_EQ(faults_->Injected(), 6);
  EXPECT_FALSE(Exists<v1::ReplicaSet>("web-1"));
  EXPECT_FALSE(Exists<v1::Pod>("web-1-a"));
  EXPECT_FALSE(Exists<v1::Pod>("web-1-b"));
  EXPECT_THAT(OwnerUids<v1::Pod>("shared"), ElementsAre(keeper.metadata().uid()));
  EXPECT_FALSE(Exists<v1::ReplicaSet>("fg"));
  EXPECT_FALSE(Exists<v1::Pod>("fg-a"));
  EXPECT_FALSE(Exists<v1::Deployment>("orphaner"));
  EXPECT_THAT(OwnerUids<v1::ReplicaSet>("orphan-rs"), IsEmpty());
  const GarbageCollector::Stats stats = gc_->stats();
  EXPECT_EQ(stats.errors, 6);
  EXPECT_THAT(stats.last_error, ::testing::HasSubstr("injected"));
  EXPECT_EQ(stats.deleted, 4);  // web-1, its two pods, fg-a: none twice
  EXPECT_THAT(DeletedTwice(*faults_), IsEmpty());
}

TEST_F(GarbageCollectorTest, NothingIsCollectedAfterStop) {
  const auto rs = Create(MakeReplicaSet("web-1"), nullptr);
  Create(MakePod("web-1-a"), &rs);
  StartCollector();
  gc_->Stop();
  gc_->Stop();  // idempotent
  EXPECT_THAT(gc_->Start(), StatusIs(absl::StatusCode::kFailedPrecondition));

  Delete<v1::ReplicaSet>("web-1");
  Settle();
  EXPECT_TRUE(Exists<v1::Pod>("web-1-a"));
}

// With real threads: Stop returns only once the attempt in progress has finished.
TEST(GarbageCollectorThreadsTest, StopWaitsForTheRunningAttempt) {
  std::unique_ptr<store::MemoryStore> store = store::MemoryStore::Open().value();
  FaultStore faulty(store.get());
  client::Client client(&faulty, &api::Scheme::Builtin(), &Clock::Real());
  ThreadPoolExecutor executor(4);
  client::SharedInformerFactory informers(&client, &executor);
  ORCH_ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<GarbageCollector> gc,
      GarbageCollector::Create({.client = &client, .informers = &informers, .executor = &executor,
                                .workers = 2}));

  ORCH_ASSERT_OK_AND_ASSIGN(v1::ReplicaSet rs, client.Create(MakeReplicaSet("web-1")));
  v1::Pod pod = MakePod("web-1-a");
  ASSERT_THAT(SetControllerReference(rs, pod, api::Scheme::Builtin()), IsOk());
  ASSERT_THAT(client.Create(pod).status(), IsOk());
  ASSERT_THAT(gc->Start(), IsOk());
  ASSERT_TRUE(informers.WaitForCacheSync(absl::Seconds(10)));
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!gc->HasSynced() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  ASSERT_TRUE(gc->HasSynced());

  // The collector's delete of the pod blocks until released.
  Notification entered;
  Notification release;
  faulty.Before(Op::kDelete, "/registry/pods/default/web-1-a", [&] {
    entered.Notify();
    release.WaitForNotification();
  });
  ASSERT_THAT(client.Delete<v1::ReplicaSet>("default", "web-1"), IsOk());
  ASSERT_TRUE(entered.WaitForNotificationWithTimeout(absl::Seconds(10)));
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    gc->Stop();
    stopped = true;
  });
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_FALSE(stopped.load());
  release.Notify();
  stopper.join();
  EXPECT_TRUE(stopped.load());
  gc.reset();
  informers.Shutdown();
}

}  // namespace
}  // namespace orch::controller
