#include "orch/client/informer.h"

#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orch/base/mutex.h"
#include "orch/store/keys.h"
#include "support/status_matchers.h"

namespace orch::client::testing {
namespace {

using ::orch::testing::IsOk;
using ::orch::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

// Counts Lists and Watches; can fail Lists and break watches on demand.
class FaultyStore : public store::StoreWrapper {
 public:
  using StoreWrapper::StoreWrapper;

  absl::StatusOr<store::ListResult> List(std::string_view prefix,
                                         const store::ListOptions& options) override {
    ++lists;
    if (options.continue_token.empty()) ++list_calls_from_start;
    if (fail_lists > 0) {
      --fail_lists;
      return absl::UnavailableError("list refused");
    }
    return StoreWrapper::List(prefix, options);
  }

  absl::StatusOr<std::unique_ptr<store::Watcher>> Watch(
      std::string_view prefix, const store::WatchOptions& options) override {
    ++watches;
    ORCH_ASSIGN_OR_RETURN(auto inner, StoreWrapper::Watch(prefix, options));
    return std::unique_ptr<store::Watcher>(new BreakableWatcher(std::move(inner), this));
  }

  std::atomic<int> lists{0};
  std::atomic<int> list_calls_from_start{0};
  std::atomic<int> watches{0};
  std::atomic<int> fail_lists{0};
  std::atomic<bool> break_watches{false};

 private:
  class BreakableWatcher : public store::Watcher {
   public:
    BreakableWatcher(std::unique_ptr<store::Watcher> inner, FaultyStore* store)
        : inner_(std::move(inner)), store_(store) {}
    absl::Status Poll(std::vector<store::EventPtr>* events, size_t max) override {
      if (store_->break_watches.exchange(false)) return absl::UnavailableError("watch broke");
      return inner_->Poll(events, max);
    }
    bool Wait(absl::Duration timeout) override { return inner_->Wait(timeout); }
    void SetReadyCallback(std::function<void()> callback) override {
      inner_->SetReadyCallback(std::move(callback));
    }
    int64_t revision() const override { return inner_->revision(); }

   private:
    std::unique_ptr<store::Watcher> inner_;
    FaultyStore* store_;
  };
};

// Records what a handler saw, as "add default/a@5", "update default/a@5->7",
// "delete default/a@9".
class Recorder {
 public:
  EventHandler<v1::Pod> Handler() {
    return {
        .on_add = [this](const auto& obj) { Record("add " + Id(*obj)); },
        .on_update =
            [this](const auto& old_obj, const auto& new_obj) {
              Record("update " + Id(*old_obj) + "->" + new_obj->metadata().resource_version());
            },
        .on_delete = [this](const auto& obj) { Record("delete " + Id(*obj)); },
    };
  }
  std::vector<std::string> Take() {
    MutexLock lock(&mu_);
    return std::exchange(events_, {});
  }

 private:
  static std::string Id(const v1::Pod& pod) {
    return pod.metadata().namespace_() + "/" + pod.metadata().name() + "@" +
           pod.metadata().resource_version();
  }
  void Record(std::string event) {
    MutexLock lock(&mu_);
    events_.push_back(std::move(event));
  }
  Mutex mu_;
  std::vector<std::string> events_ ABSL_GUARDED_BY(mu_);
};

class InformerTest : public ClientTest {
 protected:
  void SetUp() override {
    ClientTest::SetUp();
    faulty_ = std::make_unique<FaultyStore>(store_.get());
    watched_client_ = std::make_unique<Client>(faulty_.get(), &api::Scheme::Builtin(),
                                               &executor_.clock(), 9);
    factory_ = std::make_unique<SharedInformerFactory>(watched_client_.get(), &executor_);
  }
  void TearDown() override { factory_.reset(); }

  Informer<v1::Pod> Pods() { return factory_->InformerFor<v1::Pod>().value(); }
  std::string Rv(const std::string& name, const std::string& ns = "default") {
    return client_->Get<v1::Pod>(ns, name)->metadata().resource_version();
  }
  void LabelPod(const std::string& name, const std::string& value) {
    v1::Pod pod = client_->Get<v1::Pod>("default", name).value();
    (*pod.mutable_metadata()->mutable_labels())["v"] = value;
    ASSERT_TRUE(client_->Update(pod).ok());
  }

  std::unique_ptr<FaultyStore> faulty_;
  std::unique_ptr<Client> watched_client_;
  std::unique_ptr<SharedInformerFactory> factory_;
};

TEST_F(InformerTest, ListsThenWatchesAndDeliversEveryChangeInOrder) {
  ORCH_ASSERT_OK(client_->Create(MakePod("a")).status());
  ORCH_ASSERT_OK(client_->Create(MakePod("b")).status());
  const std::string a1 = Rv("a"), b1 = Rv("b");

  Recorder recorder;
  Informer<v1::Pod> pods = Pods();
  pods.AddEventHandler(recorder.Handler());
  EXPECT_FALSE(pods.HasSynced());
  factory_->Start();
  EXPECT_FALSE(pods.HasSynced());  // nothing runs until the executor does
  EXPECT_EQ(pods.LastSyncResourceVersion(), "");
  executor_.RunUntilIdle();
  EXPECT_TRUE(pods.HasSynced());
  EXPECT_TRUE(factory_->HasSynced());
  EXPECT_EQ(pods.LastSyncResourceVersion(), std::to_string(Revision()));
  EXPECT_THAT(recorder.Take(), ElementsAre("add default/a@" + a1, "add default/b@" + b1));

  LabelPod("a", "1");
  const std::string a2 = Rv("a");
  ORCH_ASSERT_OK(client_->Delete<v1::Pod>("default", "b"));
  const std::string b_deleted = std::to_string(Revision());
  ORCH_ASSERT_OK(client_->Create(MakePod("c")).status());
  const std::string c1 = Rv("c");
  LabelPod("a", "2");
  const std::string a3 = Rv("a");
  executor_.RunUntilIdle();
  EXPECT_THAT(recorder.Take(),
              ElementsAre("update default/a@" + a1 + "->" + a2,
                          "delete default/b@" + b_deleted,  // stamped with the deletion
                          "add default/c@" + c1, "update default/a@" + a2 + "->" + a3));
  EXPECT_EQ(pods.LastSyncResourceVersion(), std::to_string(Revision()));
}

TEST_F(InformerTest, OnSyncedFollowsTheFirstListOnceAndLateHandlersAfterTheirAdds) {
  ORCH_ASSERT_OK(client_->Create(MakePod("a")).status());
  ORCH_ASSERT_OK(client_->Create(MakePod("b")).status());
  std::vector<std::string> seen;
  auto handler = [&seen](const std::string& who) {
    return EventHandler<v1::Pod>{
        .on_add = [&seen, who](const auto& obj) { seen.push_back(who + " add " + obj->metadata().name()); },
        .on_synced = [&seen, who] { seen.push_back(who + " synced"); },
    };
  };
  Informer<v1::Pod> pods = Pods();
  pods.AddEventHandler(handler("early"));
  faulty_->fail_lists = 1;  // the first list fails: no sync until one succeeds
  factory_->Start();
  executor_.RunUntilIdle();
  EXPECT_THAT(seen, IsEmpty());
  executor_.AdvanceBy(absl::Seconds(1));
  EXPECT_THAT(seen, ElementsAre("early add a", "early add b", "early synced"));

  seen.clear();
  pods.AddEventHandler(handler("late"));
  executor_.RunUntilIdle();
  EXPECT_THAT(seen, ElementsAre("late add a", "late add b", "late synced"));

  // A later re-list (the watch broke) delivers changes, not another sync.
  seen.clear();
  faulty_->break_watches = true;
  ORCH_ASSERT_OK(client_->Create(MakePod("c")).status());
  executor_.RunUntilIdle();
  executor_.AdvanceBy(absl::Seconds(2));
  EXPECT_THAT(seen, UnorderedElementsAre("early add c", "late add c"));
}

TEST_F(InformerTest, DeleteDeliversTheLastState) {
  Informer<v1::Pod> pods = Pods();
  std::shared_ptr<const v1::Pod> deleted;
  pods.AddEventHandler({.on_delete = [&](const auto& obj) { deleted = obj; }});
  factory_->Start();
  ORCH_ASSERT_OK(client_->Create(MakePod("a")).status());
  LabelPod("a", "last");
  executor_.RunUntilIdle();
  ORCH_ASSERT_OK(client_->Delete<v1::Pod>("default", "a"));
  executor_.RunUntilIdle();
  ASSERT_NE(deleted, nullptr);
  EXPECT_EQ(deleted->metadata().labels().at("v"), "last");
  EXPECT_EQ(deleted->metadata().resource_version(), std::to_string(Revision()));
}

TEST_F(InformerTest, OneInformerAndOneWatchPerKindHoweverManyAsk) {
  ORCH_ASSERT_OK(client_->Create(MakePod("a")).status());
  Recorder first, second;
  ORCH_ASSERT_OK_AND_ASSIGN(Informer<v1::Pod> p1, factory_->InformerFor<v1::Pod>());
  ORCH_ASSERT_OK_AND_ASSIGN(Informer<v1::Pod> p2, factory_->InformerFor<v1::Pod>());
  ORCH_ASSERT_OK_AND_ASSIGN(auto untyped, factory_->InformerForType(*v1::Pod::descriptor()));
  ORCH_ASSERT_OK(factory_->InformerFor<v1::Deployment>().status());
  p1.AddEventHandler(first.Handler());
  p2.AddEventHandler(second.Handler());
  factory_->Start();
  executor_.RunUntilIdle();
  EXPECT_EQ(faulty_->watches.load(), 2);  // pods and deployments
  EXPECT_EQ(faulty_->list_calls_from_start.load(), 2);
  EXPECT_TRUE(untyped.HasSynced());
  EXPECT_EQ(untyped.lister().List().size(), 1u);
  EXPECT_EQ(first.Take().size(), 1u);
  EXPECT_EQ(second.Take().size(), 1u);

  ORCH_ASSERT_OK(client_->Create(MakePod("b")).status());
  executor_.RunUntilIdle();
  EXPECT_EQ(first.Take().size(), 1u);
  EXPECT_EQ(second.Take().size(), 1u);
  EXPECT_EQ(faulty_->watches.load(), 2);
}

TEST_F(InformerTest, UnknownKindsAreRejected) {
  EXPECT_THAT(factory_->InformerFor<v1::PodSpec>(), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(InformerTest, InformersCreatedAfterStartStartAtOnce) {
  factory_->Start();
  ORCH_ASSERT_OK(client_->Create(MakeNode("n1")).status());
  ORCH_ASSERT_OK_AND_ASSIGN(Informer<v1::Node> nodes, factory_->InformerFor<v1::Node>());
  executor_.RunUntilIdle();
  EXPECT_TRUE(nodes.HasSynced());
  ORCH_ASSERT_OK_AND_ASSIGN(auto n1, nodes.lister().Get("", "n1"));
  EXPECT_EQ(n1->metadata().name(), "n1");
}

TEST_F(InformerTest, ListerReadsTheCache) {
  ORCH_ASSERT_OK(client_->Create(MakePod("a")).status());
  v1::Pod b = MakePod("b");
  (*b.mutable_metadata()->mutable_labels())["app"] = "db";
  ORCH_ASSERT_OK(client_->Create(b).status());
  ORCH_ASSERT_OK(client_->Create(MakePod("c", "", "other")).status());
  Informer<v1::Pod> pods = Pods();
  factory_->Start();
  executor_.RunUntilIdle();

  Lister<v1::Pod> lister = pods.lister();
  ORCH_ASSERT_OK_AND_ASSIGN(auto a, lister.Get("default", "a"));
  EXPECT_EQ(a->metadata().resource_version(), Rv("a"));
  ORCH_EXPECT_OK(lister.Get("", "a").status());  // "" is "default"
  EXPECT_THAT(lister.Get("default", "zzz"),
              StatusIs(absl::StatusCode::kNotFound, "pods \"zzz\" not found"));
  auto names = [](const std::vector<std::shared_ptr<const v1::Pod>>& pods) {
    std::vector<std::string> out;
    for (const auto& p : pods) out.push_back(p->metadata().name());
    return out;
  };
  EXPECT_THAT(names(lister.List()), ElementsAre("a", "b", "c"));
  EXPECT_THAT(names(lister.List(api::LabelSelector::Parse("app=web").value())),
              ElementsAre("a", "c"));
  EXPECT_THAT(names(lister.ListInNamespace("default")), ElementsAre("a", "b"));
  EXPECT_THAT(names(lister.ListInNamespace("default", api::LabelSelector::Parse("app=web").value())),
              ElementsAre("a"));
  EXPECT_THAT(names(lister.ListInNamespace("nope")), IsEmpty());
  ORCH_ASSERT_OK_AND_ASSIGN(auto in_other, lister.ByIndex(kNamespaceIndex, "other"));
  EXPECT_THAT(names(in_other), ElementsAre("c"));
}

// A writer's object attached to the stored bytes (store::SharedBytes' decoded form) is what
// the cache holds, without a decode; one of another revision or type is parsed around.
TEST_F(InformerTest, TheCacheHoldsTheWritersObjectWhenItMatchesTheRevision) {
  Informer<v1::Pod> pods = Pods();
  factory_->Start();
  executor_.RunUntilIdle();
  auto write = [&](const std::string& name, std::unique_ptr<google::protobuf::Message> attach,
                   int64_t stamp_offset) -> const google::protobuf::Message* {
    std::string bytes;
    EXPECT_TRUE(MakePod(name).SerializeToString(&bytes));
    const store::SharedBytes shared(std::move(bytes));
    absl::StatusOr<int64_t> revision =
        store_->Create(store::ObjectKey("pods", "default", name), shared);
    EXPECT_THAT(revision, IsOk());
    api::MutableObjectMetaOf(attach.get())
        ->set_resource_version(std::to_string(revision.value_or(0) + stamp_offset));
    const google::protobuf::Message* attached = attach.get();
    shared.AttachDecoded(std::move(attach));
    return attached;
  };
  auto impostor = [](const std::string& name) {
    auto pod = std::make_unique<v1::Pod>(MakePod(name));
    (*pod->mutable_metadata()->mutable_labels())["app"] = "impostor";
    return pod;
  };

  const google::protobuf::Message* same =
      write("same", std::make_unique<v1::Pod>(MakePod("same")), 0);
  write("stale", impostor("stale"), -1);
  auto node = std::make_unique<v1::Node>(MakeNode("other-type"));
  node->mutable_metadata()->set_namespace_("default");
  write("other-type", std::move(node), 0);
  executor_.RunUntilIdle();

  ORCH_ASSERT_OK_AND_ASSIGN(auto got_same, pods.lister().Get("default", "same"));
  EXPECT_EQ(got_same.get(), same);
  for (const char* name : {"stale", "other-type"}) {
    ORCH_ASSERT_OK_AND_ASSIGN(auto got, pods.lister().Get("default", name));
    EXPECT_EQ(got->metadata().labels().at("app"), "web") << name;
    EXPECT_EQ(got->metadata().resource_version(), Rv(name)) << name;
  }
}

TEST_F(InformerTest, CustomIndexersFollowChanges) {
  ORCH_ASSERT_OK(client_->Create(MakePod("a", "node-1")).status());
  ORCH_ASSERT_OK(client_->Create(MakePod("b", "node-2")).status());
  Informer<v1::Pod> pods = Pods();
  ORCH_ASSERT_OK(pods.AddIndexer("spec.nodeName", [](const v1::Pod& pod) {
    return std::vector<std::string>{pod.spec().node_name()};
  }));
  factory_->Start();
  executor_.RunUntilIdle();

  auto on = [&](const std::string& index, const std::string& value) {
    std::vector<std::string> out;
    const auto found = pods.lister().ByIndex(index, value).value();
    for (const auto& p : found) out.push_back(p->metadata().name());
    return out;
  };
  EXPECT_THAT(on("spec.nodeName", "node-1"), ElementsAre("a"));
  EXPECT_THAT(on("spec.nodeName", "node-2"), ElementsAre("b"));

  // An index added after the sync is built over the cache; both then follow updates.
  ORCH_ASSERT_OK(pods.AddIndexer("label.v", [](const v1::Pod& pod) {
    std::vector<std::string> values;
    if (auto it = pod.metadata().labels().find("v"); it != pod.metadata().labels().end()) {
      values.push_back(it->second);
    }
    return values;
  }));
  LabelPod("a", "x");
  LabelPod("b", "x");
  ORCH_ASSERT_OK(client_->Create(MakePod("c", "node-1")).status());
  ORCH_ASSERT_OK(client_->Delete<v1::Pod>("default", "b", {.grace_period_seconds = 0}));
  executor_.RunUntilIdle();
  EXPECT_THAT(on("spec.nodeName", "node-1"), ElementsAre("a", "c"));
  EXPECT_THAT(on("spec.nodeName", "node-2"), IsEmpty());
  EXPECT_THAT(on("label.v", "x"), ElementsAre("a"));

  EXPECT_THAT(pods.AddIndexer("spec.nodeName", {}), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(pods.AddIndexer(std::string(kNamespaceIndex), {}),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(pods.lister().ByIndex("nope", "x"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(InformerTest, LateHandlerGetsSyntheticAddsThenEvents) {
  ORCH_ASSERT_OK(client_->Create(MakePod("a")).status());
  ORCH_ASSERT_OK(client_->Create(MakePod("b")).status());
  Informer<v1::Pod> pods = Pods();
  Recorder early, late;
  pods.AddEventHandler(early.Handler());
  factory_->Start();
  executor_.RunUntilIdle();
  EXPECT_EQ(early.Take().size(), 2u);

  pods.AddEventHandler(late.Handler());
  LabelPod("a", "1");  // happens before the late handler is installed
  executor_.RunUntilIdle();
  const std::string a2 = Rv("a");
  // The late handler's snapshot and the update are delivered in some order, each once, and
  // its final view matches the store.
  std::vector<std::string> late_events = late.Take();
  EXPECT_EQ(early.Take().size(), 1u);
  std::map<std::string, std::string> view;
  for (const std::string& e : late_events) {
    if (e.rfind("add ", 0) == 0) view[e.substr(4, e.find('@') - 4)] = e.substr(e.find('@') + 1);
    if (e.rfind("update ", 0) == 0) view[e.substr(7, e.find('@') - 7)] = e.substr(e.find("->") + 2);
  }
  EXPECT_EQ(view["default/a"], a2);
  EXPECT_EQ(view["default/b"], Rv("b"));
  EXPECT_LE(late_events.size(), 3u);

  ORCH_ASSERT_OK(client_->Create(MakePod("c")).status());
  executor_.RunUntilIdle();
  EXPECT_THAT(late.Take(), ElementsAre("add default/c@" + Rv("c")));
  EXPECT_THAT(early.Take(), ElementsAre("add default/c@" + Rv("c")));
}

TEST_F(InformerTest, HandlersSeeTheCacheAlreadyUpdated) {
  Informer<v1::Pod> pods = Pods();
  std::vector<std::string> checks;
  pods.AddEventHandler({
      .on_add =
          [&](const auto& obj) {
            auto cached = pods.lister().Get("default", obj->metadata().name());
            checks.push_back(cached.ok() && *cached == obj ? "add-cached" : "add-missing");
          },
      .on_delete =
          [&](const auto& obj) {
            checks.push_back(pods.lister().Get("default", obj->metadata().name()).ok()
                                 ? "delete-still-cached"
                                 : "delete-gone");
          },
  });
  factory_->Start();
  ORCH_ASSERT_OK(client_->Create(MakePod("a")).status());
  executor_.RunUntilIdle();
  ORCH_ASSERT_OK(client_->Delete<v1::Pod>("default", "a"));
  executor_.RunUntilIdle();
  EXPECT_THAT(checks, ElementsAre("add-cached", "delete-gone"));
}

TEST_F(InformerTest, RemovedHandlersAreNotCalledAgain) {
  Informer<v1::Pod> pods = Pods();
  Recorder kept, removed;
  pods.AddEventHandler(kept.Handler());
  HandlerId id = pods.AddEventHandler(removed.Handler());
  factory_->Start();
  ORCH_ASSERT_OK(client_->Create(MakePod("a")).status());
  executor_.RunUntilIdle();
  EXPECT_EQ(removed.Take().size(), 1u);
  pods.RemoveEventHandler(id);
  ORCH_ASSERT_OK(client_->Create(MakePod("b")).status());
  executor_.RunUntilIdle();
  EXPECT_THAT(removed.Take(), IsEmpty());
  EXPECT_EQ(kept.Take().size(), 2u);
}

TEST_F(InformerTest, AHandlerMayRemoveItself) {
  Informer<v1::Pod> pods = Pods();
  int calls = 0;
  HandlerId id = 0;
  id = pods.AddEventHandler({.on_add = [&](const auto&) {
    ++calls;
    pods.RemoveEventHandler(id);
  }});
  factory_->Start();
  ORCH_ASSERT_OK(client_->Create(MakePod("a")).status());
  ORCH_ASSERT_OK(client_->Create(MakePod("b")).status());
  executor_.RunUntilIdle();
  EXPECT_EQ(calls, 1);
}

TEST_F(InformerTest, ShutdownStopsDeliveryButKeepsTheCacheReadable) {
  Informer<v1::Pod> pods = Pods();
  Recorder recorder;
  pods.AddEventHandler(recorder.Handler());
  factory_->Start();
  ORCH_ASSERT_OK(client_->Create(MakePod("a")).status());
  executor_.RunUntilIdle();
  EXPECT_EQ(recorder.Take().size(), 1u);
  factory_->Shutdown();
  ORCH_ASSERT_OK(client_->Create(MakePod("b")).status());
  executor_.RunUntilIdle();
  EXPECT_THAT(recorder.Take(), IsEmpty());
  EXPECT_EQ(pods.lister().List().size(), 1u);
  EXPECT_THAT(factory_->InformerFor<v1::Pod>(), StatusIs(absl::StatusCode::kFailedPrecondition));
}

// The informer is stalled while the store changes and compacts its history past the
// informer's watch position: the informer re-lists and delivers exactly the difference.
TEST_F(InformerTest, RelistAfterCompactionDeliversTheDifferenceOnce) {
  for (int i = 0; i < 8; ++i) {
    ORCH_ASSERT_OK(client_->Create(MakePod("p" + std::to_string(i))).status());
  }
  Informer<v1::Pod> pods = Pods();
  Recorder recorder;
  pods.AddEventHandler(recorder.Handler());
  factory_->Start();
  executor_.RunUntilIdle();
  EXPECT_EQ(recorder.Take().size(), 8u);
  const std::string p1 = Rv("p1"), p2 = Rv("p2"), p3 = Rv("p3");

  // Stalled: the executor does not run while all of this happens.
  LabelPod("p1", "a");
  ORCH_ASSERT_OK(client_->Delete<v1::Pod>("default", "p2"));
  LabelPod("p3", "a");
  LabelPod("p3", "b");
  ORCH_ASSERT_OK(client_->Create(MakePod("p8")).status());
  ORCH_ASSERT_OK(client_->Create(MakePod("p9")).status());
  ORCH_ASSERT_OK(client_->Delete<v1::Pod>("default", "p9"));  // born and gone unseen
  ORCH_ASSERT_OK(store_->Compact(Revision()));

  executor_.RunUntilIdle();
  EXPECT_EQ(faulty_->list_calls_from_start.load(), 2);  // the watch could not catch up
  EXPECT_THAT(recorder.Take(),
              ElementsAre("update default/p1@" + p1 + "->" + Rv("p1"),
                          "delete default/p2@" + p2,  // the last state the cache held
                          "update default/p3@" + p3 + "->" + Rv("p3"),
                          "add default/p8@" + Rv("p8")));
  EXPECT_EQ(pods.LastSyncResourceVersion(), std::to_string(Revision()));

  // Watching resumed from the new list.
  LabelPod("p5", "a");
  executor_.RunUntilIdle();
  std::vector<std::string> after = recorder.Take();
  ASSERT_EQ(after.size(), 1u);
  EXPECT_THAT(after[0], ::testing::StartsWith("update default/p5@"));
  EXPECT_THAT(after[0], ::testing::EndsWith("->" + Rv("p5")));
  EXPECT_EQ(faulty_->list_calls_from_start.load(), 2);
}

TEST_F(InformerTest, BrokenWatchRelistsAfterBackoff) {
  Informer<v1::Pod> pods = Pods();
  Recorder recorder;
  pods.AddEventHandler(recorder.Handler());
  factory_->Start();
  ORCH_ASSERT_OK(client_->Create(MakePod("a")).status());
  executor_.RunUntilIdle();
  EXPECT_EQ(recorder.Take().size(), 1u);

  faulty_->break_watches = true;
  ORCH_ASSERT_OK(client_->Create(MakePod("b")).status());
  LabelPod("a", "x");
  executor_.RunUntilIdle();
  EXPECT_THAT(recorder.Take(), IsEmpty());  // waiting out the backoff
  executor_.AdvanceBy(absl::Seconds(1));
  EXPECT_THAT(recorder.Take(), UnorderedElementsAre(::testing::StartsWith("update default/a@"),
                                                    "add default/b@" + Rv("b")));
  EXPECT_EQ(faulty_->watches.load(), 2);
  ORCH_ASSERT_OK(client_->Create(MakePod("c")).status());
  executor_.RunUntilIdle();
  EXPECT_THAT(recorder.Take(), ElementsAre("add default/c@" + Rv("c")));
}

TEST_F(InformerTest, FailedListsAreRetriedWithGrowingBackoff) {
  faulty_->fail_lists = 2;
  ORCH_ASSERT_OK(client_->Create(MakePod("a")).status());
  Informer<v1::Pod> pods = Pods();
  factory_->Start();
  executor_.RunUntilIdle();
  EXPECT_FALSE(pods.HasSynced());
  executor_.AdvanceBy(absl::Seconds(1));  // second attempt fails too; next in 2s
  EXPECT_FALSE(pods.HasSynced());
  executor_.AdvanceBy(absl::Milliseconds(1999));
  EXPECT_FALSE(pods.HasSynced());
  executor_.AdvanceBy(absl::Milliseconds(1));
  EXPECT_TRUE(pods.HasSynced());
  EXPECT_EQ(pods.lister().List().size(), 1u);
}

TEST_F(InformerTest, ManyObjects) {
  constexpr int kPods = 2000;
  for (int i = 0; i < kPods; ++i) {
    ORCH_ASSERT_OK(client_->Create(MakePod("p" + std::to_string(i), "node-" + std::to_string(i % 10)))
                       .status());
  }
  Informer<v1::Pod> pods = Pods();
  ORCH_ASSERT_OK(pods.AddIndexer("spec.nodeName", [](const v1::Pod& pod) {
    return std::vector<std::string>{pod.spec().node_name()};
  }));
  int adds = 0, updates = 0;
  pods.AddEventHandler({.on_add = [&](const auto&) { ++adds; },
                        .on_update = [&](const auto&, const auto&) { ++updates; }});
  factory_->Start();
  executor_.RunUntilIdle();
  EXPECT_EQ(adds, kPods);
  EXPECT_EQ(faulty_->lists.load(), kPods / 500 + (kPods % 500 != 0));  // paged
  for (int i = 0; i < kPods; ++i) LabelPod("p" + std::to_string(i), "1");
  executor_.RunUntilIdle();
  EXPECT_EQ(updates, kPods);
  EXPECT_EQ(pods.lister().List().size(), static_cast<size_t>(kPods));
  EXPECT_EQ(pods.lister().ByIndex("spec.nodeName", "node-3")->size(), static_cast<size_t>(kPods / 10));
  EXPECT_EQ(pods.LastSyncResourceVersion(), std::to_string(Revision()));
}

// Real threads: writers race the informer; the handlers' view converges to the store.
TEST(InformerThreadsTest, ConvergesUnderConcurrentWritersOnAThreadPool) {
  auto store = store::MemoryStore::Open().value();
  Client client(store.get(), &api::Scheme::Builtin(), &Clock::Real(), 5);
  ThreadPoolExecutor executor(2);
  Mutex mu;
  std::map<std::string, std::string> view;  // name -> resourceVersion, from handlers
  std::atomic<int> in_handler{0};
  std::atomic<bool> overlapped{false};
  {
    SharedInformerFactory factory(&client, &executor);
    Informer<v1::Pod> pods = factory.InformerFor<v1::Pod>().value();
    auto enter = [&](const std::string& name, const std::string& rv, bool erase) {
      if (in_handler.fetch_add(1) != 0) overlapped = true;
      {
        MutexLock lock(&mu);
        if (erase) {
          view.erase(name);
        } else {
          view[name] = rv;
        }
      }
      in_handler.fetch_sub(1);
    };
    pods.AddEventHandler({
        .on_add = [&](const auto& p) {
          enter(p->metadata().name(), p->metadata().resource_version(), false);
        },
        .on_update = [&](const auto&, const auto& p) {
          enter(p->metadata().name(), p->metadata().resource_version(), false);
        },
        .on_delete = [&](const auto& p) { enter(p->metadata().name(), "", true); },
    });
    factory.Start();
    ASSERT_TRUE(factory.WaitForCacheSync(absl::Seconds(10)));

    std::vector<std::thread> writers;
    for (int w = 0; w < 2; ++w) {
      writers.emplace_back([&client, w] {
        for (int i = 0; i < 100; ++i) {
          const std::string name = "w" + std::to_string(w) + "-" + std::to_string(i);
          ASSERT_TRUE(client.Create(MakePod(name)).ok());
          v1::Pod pod = client.Get<v1::Pod>("default", name).value();
          (*pod.mutable_metadata()->mutable_labels())["v"] = "1";
          ASSERT_TRUE(client.Update(pod).ok());
          if (i % 3 == 0) ASSERT_TRUE(client.Delete<v1::Pod>("default", name).ok());
        }
      });
    }
    for (auto& t : writers) t.join();

    std::map<std::string, std::string> expected;
    const ObjectList<v1::Pod> listed = client.List<v1::Pod>("default").value();
    for (const v1::Pod& p : listed.items) {
      expected[p.metadata().name()] = p.metadata().resource_version();
    }
    const std::string want_rv = std::to_string(store->CurrentRevision().value());
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (pods.LastSyncResourceVersion() != want_rv && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(2));
    }
    EXPECT_EQ(pods.LastSyncResourceVersion(), want_rv);
    factory.Shutdown();
    MutexLock lock(&mu);
    EXPECT_EQ(view, expected);
    EXPECT_FALSE(overlapped.load());  // one informer's handlers never overlap
    EXPECT_EQ(pods.lister().List().size(), expected.size());
  }
}

}  // namespace
}  // namespace orch::client::testing
