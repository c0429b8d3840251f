#include "orch/node/pod_router.h"

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orch/api/scheme.h"
#include "orch/api/v1/core.pb.h"
#include "orch/base/executor.h"
#include "orch/base/mutex.h"
#include "orch/client/client.h"
#include "orch/client/informer.h"
#include "orch/store/memory_store.h"
#include "support/status_matchers.h"

namespace orch::node {
namespace {

namespace v1 = ::orch::api::v1;
using ::orch::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

v1::Pod MakePod(const std::string& name, const std::string& node) {
  v1::Pod pod;
  pod.mutable_metadata()->set_name(name);
  pod.mutable_metadata()->set_namespace_("default");
  pod.mutable_spec()->set_node_name(node);
  v1::Container* c = pod.mutable_spec()->add_containers();
  c->set_name("main");
  c->set_image("web:1");
  return pod;
}

// What one handler heard: "add web@<node>", "update web@<node>", "delete web@<node>",
// "synced" (the node is the pod's spec.nodeName in the object handed over).
class Recorder {
 public:
  client::EventHandler<v1::Pod> Handler() {
    return {
        .on_add = [this](const auto& pod) { Record("add " + Id(*pod)); },
        .on_update =
            [this](const auto& old_pod, const auto& pod) {
              EXPECT_EQ(old_pod->spec().node_name(), pod->spec().node_name());
              Record("update " + Id(*pod));
            },
        .on_delete = [this](const auto& pod) { Record("delete " + Id(*pod)); },
        .on_synced = [this] { Record("synced"); },
    };
  }
  std::vector<std::string> Take() {
    MutexLock lock(&mu_);
    return std::exchange(events_, {});
  }

 private:
  static std::string Id(const v1::Pod& pod) {
    return pod.metadata().name() + "@" + pod.spec().node_name();
  }
  void Record(std::string event) {
    MutexLock lock(&mu_);
    events_.push_back(std::move(event));
  }
  Mutex mu_;
  std::vector<std::string> events_ ABSL_GUARDED_BY(mu_);
};

class PodRouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::MemoryStoreOptions options;
    options.clock = &executor_.clock();
    store_ = store::MemoryStore::Open(options).value();
    client_ = std::make_unique<client::Client>(store_.get(), &api::Scheme::Builtin(),
                                               &executor_.clock());
    informers_ = std::make_unique<client::SharedInformerFactory>(client_.get(), &executor_);
    router_ = PodRouter::Create(informers_.get()).value();
  }
  void TearDown() override {
    for (client::HandlerId id : ids_) router_->Remove(id);
    router_.reset();
    informers_.reset();
  }

  client::HandlerId Add(const std::string& node, Recorder& recorder) {
    const client::HandlerId id = router_->Add(node, recorder.Handler());
    ids_.push_back(id);
    return id;
  }
  void Start() {
    informers_->Start();
    executor_.RunUntilIdle();
  }
  void Create(const v1::Pod& pod) { ASSERT_TRUE(client_->Create(pod).ok()); }
  void Label(const std::string& name) {
    v1::Pod pod = client_->Get<v1::Pod>("default", name).value();
    (*pod.mutable_metadata()->mutable_labels())["touched"] = "yes";
    ASSERT_TRUE(client_->Update(pod).ok());
  }
  void Bind(const std::string& name, const std::string& node) {
    v1::Pod pod = client_->Get<v1::Pod>("default", name).value();
    pod.mutable_spec()->set_node_name(node);
    ASSERT_TRUE(client_->Update(pod).ok());
  }

  VirtualExecutor executor_;
  std::unique_ptr<store::MemoryStore> store_;
  std::unique_ptr<client::Client> client_;
  std::unique_ptr<client::SharedInformerFactory> informers_;
  std::unique_ptr<PodRouter> router_;
  std::vector<client::HandlerId> ids_;
};

TEST_F(PodRouterTest, EachNodesHandlersHearOnlyThatNodesPods) {
  Recorder a, a2, b, c;
  Add("node-a", a);
  Add("node-a", a2);
  Add("node-b", b);
  Add("node-c", c);
  Create(MakePod("a1", "node-a"));
  Create(MakePod("b1", "node-b"));
  Create(MakePod("pending", ""));
  Start();
  EXPECT_THAT(a.Take(), ElementsAre("add a1@node-a", "synced"));
  EXPECT_THAT(a2.Take(), ElementsAre("add a1@node-a", "synced"));
  EXPECT_THAT(b.Take(), ElementsAre("add b1@node-b", "synced"));
  EXPECT_THAT(c.Take(), ElementsAre("synced"));

  Create(MakePod("a2", "node-a"));
  Label("b1");
  Label("a1");
  Label("pending");
  executor_.RunUntilIdle();
  EXPECT_THAT(a.Take(), ElementsAre("add a2@node-a", "update a1@node-a"));
  EXPECT_THAT(a2.Take(), ElementsAre("add a2@node-a", "update a1@node-a"));
  EXPECT_THAT(b.Take(), ElementsAre("update b1@node-b"));
  EXPECT_THAT(c.Take(), IsEmpty());
}

TEST_F(PodRouterTest, ABindingIsAnAddForTheNewNodeAndADeleteForTheUnbound) {
  Recorder a, unbound;
  Add("node-a", a);
  Add("", unbound);
  Start();
  a.Take();
  unbound.Take();

  Create(MakePod("web", ""));
  executor_.RunUntilIdle();
  EXPECT_THAT(a.Take(), IsEmpty());
  EXPECT_THAT(unbound.Take(), ElementsAre("add web@"));

  Bind("web", "node-a");
  executor_.RunUntilIdle();
  EXPECT_THAT(a.Take(), ElementsAre("add web@node-a"));
  EXPECT_THAT(unbound.Take(), ElementsAre("delete web@"));  // its last state there

  // Not something Kubernetes allows, but routed the same way: it leaves one node for
  // another.
  Recorder b;
  Add("node-b", b);
  Bind("web", "node-b");
  executor_.RunUntilIdle();
  EXPECT_THAT(a.Take(), ElementsAre("delete web@node-a"));
  EXPECT_THAT(b.Take(), ElementsAre("synced", "add web@node-b"));
}

TEST_F(PodRouterTest, ADeleteReachesTheNodesHandlersWithTheLastState) {
  Recorder a, b;
  Add("node-a", a);
  Add("node-b", b);
  Create(MakePod("web", "node-a"));
  Start();
  a.Take();
  b.Take();
  ASSERT_TRUE(
      client_->Delete<v1::Pod>("default", "web", {.grace_period_seconds = 0}).ok());
  executor_.RunUntilIdle();
  EXPECT_THAT(a.Take(), ElementsAre("delete web@node-a"));
  EXPECT_THAT(b.Take(), IsEmpty());

  // Gone from the router too: a handler registered now is owed nothing for it.
  Recorder late;
  Add("node-a", late);
  EXPECT_THAT(late.Take(), ElementsAre("synced"));
}

TEST_F(PodRouterTest, ARemovedHandlerHearsNothingMore) {
  Recorder kept, removed;
  Add("node-a", kept);
  const client::HandlerId id = router_->Add("node-a", removed.Handler());
  Start();
  kept.Take();
  removed.Take();
  router_->Remove(id);
  router_->Remove(id);      // again: ignored
  router_->Remove(424242);  // unknown: ignored
  Create(MakePod("web", "node-a"));
  executor_.RunUntilIdle();
  EXPECT_THAT(kept.Take(), ElementsAre("add web@node-a"));
  EXPECT_THAT(removed.Take(), IsEmpty());
}

TEST_F(PodRouterTest, AHandlerMayRemoveItselfAndAddAnother) {
  Recorder second;
  std::vector<std::string> first;
  client::HandlerId first_id = 0;
  first_id = router_->Add(
      "node-a", {.on_add = [&](const auto& pod) {
        first.push_back(pod->metadata().name());
        router_->Remove(first_id);
        // Its owed adds come after this handler returns, from the same delivery.
        ids_.push_back(router_->Add("node-a", second.Handler()));
      }});
  Create(MakePod("one", "node-a"));
  Start();
  EXPECT_THAT(first, ElementsAre("one"));
  EXPECT_THAT(second.Take(), ElementsAre("add one@node-a", "synced"));
  Create(MakePod("two", "node-a"));
  executor_.RunUntilIdle();
  EXPECT_THAT(first, ElementsAre("one"));
  EXPECT_THAT(second.Take(), ElementsAre("add two@node-a"));
}

TEST_F(PodRouterTest, SyncedFollowsTheFirstListsAddsOnceForEveryHandler) {
  Recorder a, empty;
  Add("node-a", a);
  Add("node-empty", empty);
  Create(MakePod("a1", "node-a"));
  Create(MakePod("a2", "node-a"));
  informers_->Start();
  EXPECT_THAT(a.Take(), IsEmpty());  // nothing before the executor runs the informer
  executor_.RunUntilIdle();
  EXPECT_THAT(a.Take(), ElementsAre("add a1@node-a", "add a2@node-a", "synced"));
  EXPECT_THAT(empty.Take(), ElementsAre("synced"));
  Create(MakePod("a3", "node-a"));
  executor_.RunUntilIdle();
  EXPECT_THAT(a.Take(), ElementsAre("add a3@node-a"));  // no second sync
  EXPECT_THAT(empty.Take(), IsEmpty());
}

TEST_F(PodRouterTest, AHandlerRegisteredAfterSyncGetsItsNodesPodsThenSyncedBeforeAddReturns) {
  Create(MakePod("b1", "node-b"));
  Create(MakePod("a2", "node-a"));
  Create(MakePod("a1", "node-a"));
  Start();
  Recorder late;
  Add("node-a", late);
  // No executor run: delivered inside Add, in key order, then on_synced.
  EXPECT_THAT(late.Take(), ElementsAre("add a1@node-a", "add a2@node-a", "synced"));
  Label("a2");
  Label("b1");
  executor_.RunUntilIdle();
  EXPECT_THAT(late.Take(), ElementsAre("update a2@node-a"));
}

TEST_F(PodRouterTest, CreateRefusesAMissingOrShutDownFactory) {
  EXPECT_THAT(PodRouter::Create(nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("informers")));
  client::SharedInformerFactory closed(client_.get(), &executor_);
  closed.Shutdown();
  EXPECT_THAT(PodRouter::Create(&closed), StatusIs(absl::StatusCode::kFailedPrecondition));
}

// Handlers registered and removed on the test thread while the informer delivers on a
// thread pool: each sees its node's pods exactly once, and ends with what the store holds.
TEST(PodRouterThreadsTest, HandlersAddedWhileEventsFlowSeeEveryPodOnce) {
  constexpr int kNodes = 4;
  constexpr int kPods = 200;
  ThreadPoolExecutor executor(2);
  store::MemoryStoreOptions options;
  options.clock = &executor.clock();
  auto store = store::MemoryStore::Open(options).value();
  client::Client client(store.get(), &api::Scheme::Builtin(), &executor.clock());
  client::SharedInformerFactory informers(&client, &executor);
  auto router = PodRouter::Create(&informers).value();
  informers.Start();

  struct View {
    Mutex mu;
    std::map<std::string, int> pods ABSL_GUARDED_BY(mu);  // name -> adds minus deletes
    bool duplicate ABSL_GUARDED_BY(mu) = false;
  };
  std::vector<std::unique_ptr<View>> views;
  std::vector<client::HandlerId> ids;
  auto add_view = [&](const std::string& node) {
    auto view = std::make_unique<View>();
    View* v = view.get();
    ids.push_back(router->Add(
        node, {.on_add =
                   [v](const auto& pod) {
                     MutexLock lock(&v->mu);
                     if (v->pods[pod->metadata().name()]++ != 0) v->duplicate = true;
                   },
               .on_delete =
                   [v](const auto& pod) {
                     MutexLock lock(&v->mu);
                     if (--v->pods[pod->metadata().name()] != 0) v->duplicate = true;
                     v->pods.erase(pod->metadata().name());
                   }}));
    views.push_back(std::move(view));
  };
  // A handler that comes and goes: removed, it is never called again.
  std::atomic<bool> removed{false};
  std::atomic<bool> called_after_removal{false};
  const client::HandlerId transient = router->Add(
      "node-0", {.on_add = [&](const auto&) { called_after_removal = removed.load(); }});
  for (int i = 0; i < kPods; ++i) {
    if (i % 50 == 0) add_view(fmt::format("node-{}", (i / 50) % kNodes));
    if (i == 100) {
      router->Remove(transient);
      removed = true;
    }
    const v1::Pod pod = MakePod(fmt::format("p{}", i), fmt::format("node-{}", i % kNodes));
    ASSERT_TRUE(client.Create(pod).ok());
    if (i % 3 == 0 && i > 0) {
      ASSERT_TRUE(client.Delete<v1::Pod>("default", fmt::format("p{}", i - 1),
                                         {.grace_period_seconds = 0})
                      .ok());
    }
  }
  auto expected = [&](const std::string& node) {
    std::map<std::string, int> pods;
    const client::ObjectList<v1::Pod> list = client.List<v1::Pod>("default").value();
    for (const v1::Pod& pod : list.items) {
      if (pod.spec().node_name() == node) pods[pod.metadata().name()] = 1;
    }
    return pods;
  };
  auto converged = [&] {
    for (size_t i = 0; i < views.size(); ++i) {
      MutexLock lock(&views[i]->mu);
      if (views[i]->pods != expected(fmt::format("node-{}", i % kNodes))) return false;
    }
    return true;
  };
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (!converged() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  EXPECT_TRUE(converged());
  for (auto& view : views) {
    MutexLock lock(&view->mu);
    EXPECT_FALSE(view->duplicate);
  }
  EXPECT_FALSE(called_after_removal.load());
  for (client::HandlerId id : ids) router->Remove(id);
  router.reset();
  informers.Shutdown();
}

}  // namespace
}  // namespace orch::node
