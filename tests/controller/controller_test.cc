#include "orch/controller/controller.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/descriptor.pb.h"
#include "gtest/gtest.h"
#include "orch/api/v1/apps.pb.h"
#include "orch/api/v1/core.pb.h"
#include "orch/base/executor.h"
#include "orch/base/mutex.h"
#include "orch/base/string_map.h"
#include "orch/client/informer.h"
#include "orch/store/memory_store.h"
#include "controller/fixture.h"
#include "support/status_matchers.h"

namespace orch::controller {
namespace {

namespace v1 = ::orch::api::v1;
using testing::MakePod;
using testing::MakeReplicaSet;
using ::orch::testing::IsOk;
using ::orch::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

v1::OwnerReference Ref(const std::string& api_version, const std::string& kind,
                       const std::string& name, bool controller) {
  v1::OwnerReference ref;
  ref.set_api_version(api_version);
  ref.set_kind(kind);
  ref.set_name(name);
  ref.set_uid("uid-" + name);
  if (controller) ref.set_controller(true);
  return ref;
}

// A reconciler that records its requests and answers with a scripted outcome.
class RecordingReconciler : public Reconciler {
 public:
  Result Reconcile(const Request& request) override {
    MutexLock lock(&mu_);
    requests_.push_back(request.Key());
    times_.push_back(now_ ? absl::ToInt64Milliseconds(now_() - start_) : 0);
    if (outcome_) return outcome_(request);
    return Result{};
  }
  std::vector<std::string> Take() {
    MutexLock lock(&mu_);
    times_.clear();
    return std::exchange(requests_, {});
  }
  std::vector<int64_t> times() {
    MutexLock lock(&mu_);
    return times_;
  }
  std::function<Result(const Request&)> outcome_;
  std::function<absl::Time()> now_;
  absl::Time start_;

 private:
  Mutex mu_;
  std::vector<std::string> requests_ ABSL_GUARDED_BY(mu_);
  std::vector<int64_t> times_ ABSL_GUARDED_BY(mu_);
};

class ControllerTest : public testing::ControllerEnvTest {
 protected:
  void SetUp() override {
    ControllerEnvTest::SetUp();
    reconciler_.now_ = [this] { return executor_.clock().Now(); };
    reconciler_.start_ = executor_.clock().Now();
  }

  v1::ReplicaSet CreateReplicaSet(const std::string& name) {
    return client_->Create(MakeReplicaSet(name)).value();
  }

  RecordingReconciler reconciler_;
};

TEST_F(ControllerTest, ReconcilesEveryObjectOfThePrimaryKindAndEachChange) {
  CreateReplicaSet("a");
  CreateReplicaSet("b");
  ORCH_ASSERT_OK_AND_ASSIGN(Controller * c,
                            Builder<v1::ReplicaSet>(manager_.get()).Complete(&reconciler_));
  EXPECT_EQ(c->name(), "replicaset");
  ORCH_ASSERT_OK(manager_->Start());
  executor_.RunUntilIdle();
  EXPECT_TRUE(c->Started());
  EXPECT_THAT(reconciler_.Take(), ElementsAre("default/a", "default/b"));

  v1::ReplicaSet a = client_->Get<v1::ReplicaSet>("default", "a").value();
  a.mutable_spec()->set_replicas(3);
  ORCH_ASSERT_OK(client_->Update(a).status());
  CreateReplicaSet("c");
  ORCH_ASSERT_OK(client_->Delete<v1::ReplicaSet>("default", "b"));
  executor_.RunUntilIdle();
  EXPECT_THAT(reconciler_.Take(), ElementsAre("default/a", "default/c", "default/b"));
  EXPECT_EQ(c->stats().reconciles, 5);
}

TEST_F(ControllerTest, NothingIsReconciledBeforeEveryWatchedInformerHasSynced) {
  CreateReplicaSet("a");
  // The pod informer syncs only after its retry, 1 s later.
  faults_->FailNext(orch::testing::FaultStore::Op::kList, "/registry/pods/", 1,
                    absl::UnavailableError("list refused"));
  ORCH_ASSERT_OK_AND_ASSIGN(
      Controller * c,
      Builder<v1::ReplicaSet>(manager_.get()).Owns<v1::Pod>().Complete(&reconciler_));
  ORCH_ASSERT_OK(manager_->Start());
  executor_.RunUntilIdle();
  EXPECT_FALSE(c->Started());
  EXPECT_THAT(reconciler_.Take(), IsEmpty());
  EXPECT_EQ(c->stats().queue_depth, 1);  // default/a waits
  executor_.AdvanceBy(absl::Seconds(1));
  EXPECT_TRUE(c->Started());
  EXPECT_THAT(reconciler_.Take(), ElementsAre("default/a"));
}

TEST_F(ControllerTest, OwnedObjectsReconcileTheirControllerByGroupAndKind) {
  ORCH_ASSERT_OK(
      Builder<v1::ReplicaSet>(manager_.get()).Owns<v1::Pod>().Complete(&reconciler_).status());
  ORCH_ASSERT_OK(manager_->Start());
  executor_.RunUntilIdle();

  struct Case {
    std::string pod;
    v1::OwnerReference ref;
  };
  const std::vector<Case> cases = {
      {"owned", Ref("apps/v1", "ReplicaSet", "web", true)},
      {"other-version", Ref("apps/v1beta2", "ReplicaSet", "web2", true)},  // group matches
      {"not-controller", Ref("apps/v1", "ReplicaSet", "x", false)},
      {"other-group", Ref("v1", "ReplicaSet", "y", true)},
      {"other-kind", Ref("apps/v1", "Deployment", "z", true)},
  };
  for (const Case& c : cases) {
    v1::Pod pod = MakePod(c.pod);
    *pod.mutable_metadata()->add_owner_references() = c.ref;
    ORCH_ASSERT_OK(client_->Create(pod).status());
  }
  ORCH_ASSERT_OK(client_->Create(MakePod("orphan")).status());
  executor_.RunUntilIdle();
  EXPECT_THAT(reconciler_.Take(), ElementsAre("default/web", "default/web2"));

  // An update that moves the pod to another owner reconciles both.
  v1::Pod pod = client_->Get<v1::Pod>("default", "owned").value();
  *pod.mutable_metadata()->mutable_owner_references(0) = Ref("apps/v1", "ReplicaSet", "new", true);
  ORCH_ASSERT_OK(client_->Update(pod).status());
  executor_.RunUntilIdle();
  EXPECT_THAT(reconciler_.Take(), UnorderedElementsAre("default/web", "default/new"));

  ORCH_ASSERT_OK(client_->Delete<v1::Pod>("default", "owned"));
  executor_.RunUntilIdle();
  EXPECT_THAT(reconciler_.Take(), ElementsAre("default/new"));
}

TEST_F(ControllerTest, WatchesMapsAnyKindToRequests) {
  ORCH_ASSERT_OK(Builder<v1::ReplicaSet>(manager_.get())
                     .Watches<v1::Node>([](const v1::Node& node) {
                       return std::vector<Request>{{"default", "for-" + node.metadata().name()},
                                                   {"default", "all-nodes"}};
                     })
                     .Complete(&reconciler_)
                     .status());
  ORCH_ASSERT_OK(manager_->Start());
  v1::Node node;
  node.mutable_metadata()->set_name("n1");
  ORCH_ASSERT_OK(client_->Create(node).status());
  node.mutable_metadata()->set_name("n2");
  ORCH_ASSERT_OK(client_->Create(node).status());
  executor_.RunUntilIdle();
  // all-nodes is queued once while it waits.
  EXPECT_THAT(reconciler_.Take(), ElementsAre("default/for-n1", "default/all-nodes",
                                              "default/for-n2"));
}

TEST_F(ControllerTest, WatchesWithSeesTheWholeEventAndMayDelay) {
  std::vector<std::string> events;
  ORCH_ASSERT_OK(
      Builder<v1::ReplicaSet>(manager_.get())
          .WatchesWith<v1::Pod>([&events](const WatchEvent& e, RequestQueue& queue) {
            const std::string& name = api::ObjectMetaOf(*e.obj)->name();
            switch (e.type) {
              case WatchEvent::Type::kCreate:
                events.push_back("create " + name);
                queue.Add({"default", "now"});
                break;
              case WatchEvent::Type::kUpdate:
                events.push_back("update " + api::ObjectMetaOf(*e.old_obj)->resource_version() +
                                 "->" + api::ObjectMetaOf(*e.obj)->resource_version());
                queue.AddAfter({"default", "later"}, absl::Seconds(5));
                break;
              case WatchEvent::Type::kDelete:
                events.push_back("delete " + name);
                break;
            }
          })
          .Complete(&reconciler_)
          .status());
  ORCH_ASSERT_OK(manager_->Start());
  executor_.RunUntilIdle();
  v1::Pod pod = client_->Create(MakePod("p")).value();
  const std::string rv1 = pod.metadata().resource_version();
  (*pod.mutable_metadata()->mutable_labels())["x"] = "y";
  pod = client_->Update(pod).value();
  ORCH_ASSERT_OK(client_->Delete<v1::Pod>("default", "p"));
  executor_.RunUntilIdle();
  EXPECT_THAT(events, ElementsAre("create p", "update " + rv1 + "->" + pod.metadata().resource_version(),
                                  "delete p"));
  EXPECT_THAT(reconciler_.Take(), ElementsAre("default/now"));
  executor_.AdvanceBy(absl::Seconds(5));
  EXPECT_THAT(reconciler_.Take(), ElementsAre("default/later"));
}

TEST_F(ControllerTest, PredicatesFilterEvents) {
  ORCH_ASSERT_OK(Builder<v1::ReplicaSet>(manager_.get())
                     .WithEventFilter(GenerationChanged())
                     .Complete(&reconciler_)
                     .status());
  ORCH_ASSERT_OK(manager_->Start());
  v1::ReplicaSet rs = CreateReplicaSet("a");
  executor_.RunUntilIdle();
  EXPECT_THAT(reconciler_.Take(), ElementsAre("default/a"));

  rs.mutable_status()->set_replicas(1);  // status only: generation unchanged
  ORCH_ASSERT_OK_AND_ASSIGN(rs, client_->UpdateStatus(rs));
  (*rs.mutable_metadata()->mutable_labels())["x"] = "y";  // metadata only
  ORCH_ASSERT_OK_AND_ASSIGN(rs, client_->Update(rs));
  executor_.RunUntilIdle();
  EXPECT_THAT(reconciler_.Take(), IsEmpty());

  rs.mutable_spec()->set_replicas(2);
  ORCH_ASSERT_OK(client_->Update(rs).status());
  executor_.RunUntilIdle();
  EXPECT_THAT(reconciler_.Take(), ElementsAre("default/a"));
}

TEST_F(ControllerTest, PrimaryPredicatesLeaveOtherWatchesAlone) {
  Predicate no_creates;
  no_creates.on_create = [](const google::protobuf::Message&) { return false; };
  ORCH_ASSERT_OK(Builder<v1::ReplicaSet>(manager_.get())
                     .WithPredicates(no_creates)
                     .Owns<v1::Pod>()
                     .Complete(&reconciler_)
                     .status());
  ORCH_ASSERT_OK(manager_->Start());
  CreateReplicaSet("web");
  v1::Pod pod = MakePod("p");
  *pod.mutable_metadata()->add_owner_references() = Ref("apps/v1", "ReplicaSet", "web", true);
  ORCH_ASSERT_OK(client_->Create(pod).status());
  executor_.RunUntilIdle();
  EXPECT_THAT(reconciler_.Take(), ElementsAre("default/web"));  // from the pod only
  EXPECT_EQ(manager_->informers()->HasSynced(), true);
}

TEST_F(ControllerTest, ErrorsAreRetriedWithPerKeyBackoffAndTerminalErrorsAreNot) {
  int calls = 0;
  reconciler_.outcome_ = [&](const Request& r) -> Result {
    if (r.name == "flaky" && ++calls <= 3) return absl::UnavailableError("store busy");
    if (r.name == "bad") return TerminalError(absl::InvalidArgumentError("spec is wrong"));
    return Result{};
  };
  ORCH_ASSERT_OK_AND_ASSIGN(Controller * c,
                            Builder<v1::ReplicaSet>(manager_.get()).Complete(&reconciler_));
  ORCH_ASSERT_OK(manager_->Start());
  CreateReplicaSet("bad");
  executor_.RunUntilIdle();
  reconciler_.Take();
  CreateReplicaSet("flaky");
  executor_.RunUntilIdle();
  executor_.AdvanceBy(absl::Seconds(10));
  // 5, 10, 20 ms apart; "bad" once only.
  EXPECT_THAT(reconciler_.times(), ElementsAre(0, 5, 15, 35));
  EXPECT_THAT(reconciler_.Take(), ElementsAre("default/flaky", "default/flaky", "default/flaky",
                                              "default/flaky"));
  const ControllerStats stats = c->stats();
  EXPECT_EQ(stats.errors, 3);
  EXPECT_EQ(stats.terminal_errors, 1);
  EXPECT_EQ(stats.last_error, "default/flaky: store busy");
  EXPECT_TRUE(IsTerminalError(TerminalError(absl::InvalidArgumentError("x"))));
  EXPECT_FALSE(IsTerminalError(absl::InvalidArgumentError("x")));
  EXPECT_THAT(TerminalError(absl::InvalidArgumentError("x")),
              StatusIs(absl::StatusCode::kInvalidArgument, "x"));
}

TEST_F(ControllerTest, RequeueAfterAndRequeue) {
  int calls = 0;
  reconciler_.outcome_ = [&](const Request&) -> Result {
    ++calls;
    if (calls == 1) return Result::RequeueAfter(absl::Seconds(30));
    if (calls == 2) return Result::Requeue();
    return Result{};
  };
  ORCH_ASSERT_OK_AND_ASSIGN(Controller * c,
                            Builder<v1::ReplicaSet>(manager_.get()).Complete(&reconciler_));
  ORCH_ASSERT_OK(manager_->Start());
  CreateReplicaSet("a");
  executor_.RunUntilIdle();
  executor_.AdvanceBy(absl::Minutes(5));
  EXPECT_THAT(reconciler_.times(), ElementsAre(0, 30000, 30005));
  EXPECT_EQ(c->stats().requeues, 2);
}

TEST(ResultTest, ConvertsFromAStatusAndSaysWhatComesNext) {
  const Result done;
  EXPECT_TRUE(done.ok());
  EXPECT_FALSE(done.requeue());
  const Result ok_status = absl::OkStatus();  // `return status;` with an OK status: done
  EXPECT_TRUE(ok_status.ok());
  EXPECT_FALSE(ok_status.requeue());
  const Result error = absl::UnavailableError("busy");
  EXPECT_THAT(error.status(), StatusIs(absl::StatusCode::kUnavailable, "busy"));
  EXPECT_TRUE(Result::Requeue().requeue());
  EXPECT_EQ(Result::Requeue().requeue_after(), absl::ZeroDuration());
  EXPECT_EQ(Result::RequeueAfter(absl::Seconds(3)).requeue_after(), absl::Seconds(3));
  EXPECT_EQ(Result::RequeueAfter(absl::Seconds(-3)).requeue_after(), absl::ZeroDuration());
  EXPECT_EQ(Request::FromKey("default/web"), (Request{"default", "web"}));
  EXPECT_EQ(Request::FromKey("n1"), (Request{"", "n1"}));
  EXPECT_EQ((Request{"default", "web"}).Key(), "default/web");
}

TEST_F(ControllerTest, EnqueueReconcilesOnRequest) {
  ORCH_ASSERT_OK_AND_ASSIGN(Controller * c,
                            Builder<v1::Node>(manager_.get()).Named("nodes").Complete(&reconciler_));
  ORCH_ASSERT_OK(manager_->Start());
  c->Enqueue({"", "n1"});
  executor_.RunUntilIdle();
  EXPECT_THAT(reconciler_.Take(), ElementsAre("n1"));  // cluster-scoped: no namespace
}

TEST_F(ControllerTest, BadControllersAreRefusedWithTheirReason) {
  ORCH_ASSERT_OK(Builder<v1::ReplicaSet>(manager_.get()).Complete(&reconciler_).status());
  EXPECT_THAT(Builder<v1::ReplicaSet>(manager_.get()).Complete(&reconciler_).status(),
              StatusIs(absl::StatusCode::kAlreadyExists,
                       "controller with name \"replicaset\" already exists"));
  EXPECT_THAT(Builder<v1::ReplicaSet>(manager_.get()).Named("x").Complete(nullptr).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "controller \"x\": reconciler: must not be null"));
  EXPECT_THAT(manager_->NewController({.name = "y"}, &reconciler_).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "controller \"y\": watches: must name at least one kind"));
  ControllerSpec unknown{.name = "z"};
  unknown.watches.push_back(
      {google::protobuf::FileDescriptorProto::descriptor(), internal::SelfMap(api::Kind{}), nullptr,
       {}});
  EXPECT_THAT(manager_->NewController(std::move(unknown), &reconciler_).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("controller \"z\": watches[0].type: ")));
  ControllerSpec both{.name = "w"};
  both.watches.push_back({v1::Pod::descriptor(), internal::SelfMap(api::Kind{}),
                          [](const WatchEvent&, RequestQueue&) {}, {}});
  EXPECT_THAT(manager_->NewController(std::move(both), &reconciler_).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "controller \"w\": watches[0]: exactly one of map and handle is required"));
  EXPECT_THAT(Manager::Create({}).status(), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(ControllerTest, AControllerAddedToARunningManagerStartsAtOnce) {
  CreateReplicaSet("a");
  ORCH_ASSERT_OK(manager_->Start());
  executor_.RunUntilIdle();
  ORCH_ASSERT_OK(Builder<v1::ReplicaSet>(manager_.get()).Complete(&reconciler_).status());
  executor_.RunUntilIdle();
  EXPECT_THAT(reconciler_.Take(), ElementsAre("default/a"));
}

TEST_F(ControllerTest, StopEndsReconcilingForGood) {
  ORCH_ASSERT_OK_AND_ASSIGN(Controller * c,
                            Builder<v1::ReplicaSet>(manager_.get()).Complete(&reconciler_));
  ORCH_ASSERT_OK(manager_->Start());
  executor_.RunUntilIdle();
  manager_->Stop();
  CreateReplicaSet("a");
  c->Enqueue({"default", "b"});
  executor_.AdvanceBy(absl::Seconds(1));
  EXPECT_THAT(reconciler_.Take(), IsEmpty());
  EXPECT_THAT(manager_->Start(), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(Builder<v1::Pod>(manager_.get()).Complete(&reconciler_).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(ControllerTest, EventRecordersAreMadeOncePerComponent) {
  client::EventRecorder* a = manager_->EventRecorderFor("replicaset-controller");
  EXPECT_EQ(manager_->EventRecorderFor("replicaset-controller"), a);
  EXPECT_NE(manager_->EventRecorderFor("deployment-controller"), a);
  v1::ReplicaSet rs = CreateReplicaSet("web");
  ORCH_ASSERT_OK(a->Record(rs, client::kEventNormal, "SuccessfulCreate", "Created pod: web-1"));
  auto events = client_->List<v1::Event>("default").value();
  ASSERT_EQ(events.items.size(), 1u);
  EXPECT_EQ(events.items[0].source().component(), "replicaset-controller");
}

// On a thread pool with four concurrent reconciles: never one Request twice at once.
TEST(ControllerThreadsTest, ConcurrentReconcilesNeverShareARequest) {
  ThreadPoolExecutor executor(4);
  store::MemoryStoreOptions options;
  auto store = store::MemoryStore::Open(options).value();
  client::Client client(store.get(), &api::Scheme::Builtin(), &Clock::Real());
  client::SharedInformerFactory informers(&client, &executor);
  auto manager =
      Manager::Create({.client = &client, .informers = &informers, .executor = &executor}).value();
  Mutex mu;
  StringMap<int> active;
  bool overlap = false;
  std::atomic<int> reconciles{0};
  FuncReconciler reconciler([&](const Request& r) -> Result {
    {
      MutexLock lock(&mu);
      if (++active[r.Key()] > 1) overlap = true;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    {
      MutexLock lock(&mu);
      --active[r.Key()];
    }
    ++reconciles;
    return Result{};
  });
  ORCH_ASSERT_OK(Builder<v1::ReplicaSet>(manager.get())
                     .WithOptions({.max_concurrent_reconciles = 4})
                     .Complete(&reconciler)
                     .status());
  ORCH_ASSERT_OK(manager->Start());
  for (int i = 0; i < 20; ++i) {
    ORCH_ASSERT_OK(client.Create(MakeReplicaSet("rs-" + std::to_string(i))).status());
  }
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 20; ++i) {
      auto rs = client.Get<v1::ReplicaSet>("default", "rs-" + std::to_string(i)).value();
      rs.mutable_spec()->set_replicas(round + 2);
      ORCH_ASSERT_OK(client.Update(rs).status());
    }
  }
  for (int i = 0; i < 5000 && reconciles.load() < 20; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  manager->Stop();
  EXPECT_GE(reconciles.load(), 20);
  MutexLock lock(&mu);
  EXPECT_FALSE(overlap);
}

}  // namespace
}  // namespace orch::controller
