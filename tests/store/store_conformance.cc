#include "store/store_conformance.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "fmt/format.h"
#include "gmock/gmock.h"
#include "orch/api/v1/core.pb.h"
#include "orch/api/v1/meta.pb.h"
#include "orch/store/keys.h"
#include "support/status_matchers.h"

namespace orch::store::testing {

// ------------------------------------------------------------------ environment

ConformanceEnv::ConformanceEnv(Time time) : time_(time) {
  if (time == Time::kVirtual) {
    virtual_executor_ = std::make_unique<VirtualExecutor>();
  } else {
    thread_pool_ = std::make_unique<ThreadPoolExecutor>(1);
  }
}

ConformanceEnv::~ConformanceEnv() = default;

Clock& ConformanceEnv::clock() {
  return virtual_executor_ ? virtual_executor_->clock() : Clock::Real();
}

Executor& ConformanceEnv::executor() {
  if (virtual_executor_) return *virtual_executor_;
  return *thread_pool_;
}

void ConformanceEnv::Advance(absl::Duration d) {
  if (virtual_executor_) {
    virtual_executor_->AdvanceBy(d);
  } else {
    absl::SleepFor(d);
  }
}

std::string StoreBackendName(const ::testing::TestParamInfo<StoreBackend>& info) {
  return info.param.name;
}

void StoreConformanceTest::SetUp() {
  env_ = std::make_unique<ConformanceEnv>(GetParam().time);
  store_ = GetParam().make(*env_);
  if (store_ == nullptr && IsSkipped()) return;  // the backend's server cannot run here
  ASSERT_NE(store_, nullptr) << "the backend's factory returned no store";
}

void StoreConformanceTest::TearDown() {
  store_.reset();
  env_.reset();
}

namespace {

using ::orch::testing::IsOk;
using ::orch::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using Labels = std::map<std::string, std::string>;

// ------------------------------------------------------------------ objects and keys

std::string PodKey(std::string_view ns, std::string_view name) {
  return ObjectKey("pods", ns, name);
}

void FillMeta(api::v1::ObjectMeta* meta, std::string_view ns, std::string_view name,
              const Labels& labels) {
  meta->set_name(std::string(name));
  meta->set_namespace_(std::string(ns));
  for (const auto& [k, v] : labels) (*meta->mutable_labels())[k] = v;
}

// A real orch.api.v1 object, serialized as the store holds it.
std::string PodValue(std::string_view ns, std::string_view name, const Labels& labels = {},
                     std::string_view node = "", std::string_view phase = "Pending") {
  api::v1::Pod pod;
  pod.set_api_version("v1");
  pod.set_kind("Pod");
  FillMeta(pod.mutable_metadata(), ns, name, labels);
  pod.mutable_spec()->add_containers()->set_name("main");
  pod.mutable_spec()->set_node_name(std::string(node));
  pod.mutable_status()->set_phase(std::string(phase));
  return pod.SerializeAsString();
}

std::string NameOf(const KeyValue& kv) {
  api::v1::ObjectHeader header;
  EXPECT_TRUE(header.ParseFromString(kv.value.str())) << kv.key;
  return header.metadata().name();
}

std::vector<std::string> KeysOf(const std::vector<KeyValue>& items) {
  std::vector<std::string> keys;
  for (const KeyValue& kv : items) keys.push_back(kv.key);
  return keys;
}

}  // namespace

// Helpers that need the backend's patience live in the fixture's scope.
class StoreConformanceHelpers {
 public:
  // Polls until `n` events arrived or the backend's patience runs out.
  static std::vector<EventPtr> Collect(Watcher& watcher, size_t n, absl::Duration patience) {
    std::vector<EventPtr> events;
    const absl::Time deadline = absl::Now() + patience;
    while (events.size() < n) {
      absl::Status polled = watcher.Poll(&events, n - events.size());
      EXPECT_THAT(polled, IsOk());
      if (!polled.ok() || events.size() >= n) break;
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) break;
      watcher.Wait(std::min(left, absl::Milliseconds(100)));
    }
    return events;
  }

  // Waits until `condition` holds or patience runs out; returns whether it held.
  static bool Eventually(const std::function<bool()>& condition, absl::Duration patience) {
    const absl::Time deadline = absl::Now() + patience;
    while (!condition()) {
      if (absl::Now() > deadline) return false;
      absl::SleepFor(absl::Milliseconds(5));
    }
    return true;
  }
};

namespace {

using H = StoreConformanceHelpers;

#define COLLECT(watcher, n) H::Collect((watcher), (n), backend().patience)
#define EVENTUALLY(condition) H::Eventually([&] { return (condition); }, backend().patience)

// Nothing more arrives within a short settling time (longer for asynchronous backends).
void ExpectNoMoreEvents(Watcher& watcher, ConformanceEnv& env) {
  watcher.Wait(env.time() == ConformanceEnv::Time::kReal ? absl::Milliseconds(100)
                                                         : absl::Milliseconds(1));
  std::vector<EventPtr> extra;
  ASSERT_THAT(watcher.Poll(&extra), IsOk());
  EXPECT_TRUE(extra.empty()) << extra.size() << " unexpected event(s), first at revision "
                             << extra.front()->kv.mod_revision;
}

// ================================================================== revisions and writes

TEST_P(StoreConformanceTest, EveryWriteIncrementsTheGlobalRevisionByOne) {
  ORCH_ASSERT_OK_AND_ASSIGN(int64_t start, store().CurrentRevision());
  ORCH_ASSERT_OK_AND_ASSIGN(int64_t created, store().Create(PodKey("ns", "a"), PodValue("ns", "a")));
  EXPECT_EQ(created, start + 1);
  ORCH_ASSERT_OK_AND_ASSIGN(int64_t other, store().Create(PodKey("ns", "b"), PodValue("ns", "b")));
  EXPECT_EQ(other, start + 2);
  ORCH_ASSERT_OK_AND_ASSIGN(int64_t updated, store().Update(PodKey("ns", "a"), "v2", created));
  EXPECT_EQ(updated, start + 3);
  ORCH_ASSERT_OK_AND_ASSIGN(KeyValue deleted, store().Delete(PodKey("ns", "b")));
  EXPECT_EQ(deleted.mod_revision, start + 4);
  EXPECT_EQ(store().CurrentRevision().value_or(-1), start + 4);
}

TEST_P(StoreConformanceTest, FailedWritesLeaveTheRevisionAlone) {
  ORCH_ASSERT_OK_AND_ASSIGN(int64_t rev, store().Create(PodKey("ns", "a"), "v1"));
  EXPECT_THAT(store().Create(PodKey("ns", "a"), "v2"), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(store().Update(PodKey("ns", "a"), "v2", rev + 7), StatusIs(absl::StatusCode::kAborted));
  EXPECT_THAT(store().Delete(PodKey("ns", "missing")), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(store().CurrentRevision().value_or(-1), rev);
}

TEST_P(StoreConformanceTest, ModRevisionIsTheResourceVersionAndVersionCountsWrites) {
  const std::string key = PodKey("ns", "web");
  ORCH_ASSERT_OK_AND_ASSIGN(int64_t created, store().Create(key, PodValue("ns", "web")));
  ORCH_ASSERT_OK_AND_ASSIGN(KeyValue first, store().Get(key));
  EXPECT_EQ(first.key, key);
  EXPECT_EQ(first.value, PodValue("ns", "web"));
  EXPECT_EQ(first.create_revision, created);
  EXPECT_EQ(first.mod_revision, created);
  EXPECT_EQ(first.version, 1);
  EXPECT_EQ(first.lease, 0);

  ORCH_ASSERT_OK(store().Create(PodKey("ns", "other"), "x"));  // moves the global revision
  ORCH_ASSERT_OK_AND_ASSIGN(int64_t updated,
                            store().Update(key, PodValue("ns", "web", {{"v", "2"}}), created));
  ORCH_ASSERT_OK_AND_ASSIGN(KeyValue second, store().Get(key));
  EXPECT_EQ(second.create_revision, created);
  EXPECT_EQ(second.mod_revision, updated);
  EXPECT_EQ(second.version, 2);
  ORCH_ASSERT_OK_AND_ASSIGN(ListResult list, store().List(ResourcePrefix("pods", "ns")));
  ASSERT_EQ(list.items.size(), 2u);
  EXPECT_EQ(list.items[1].key, key);
  EXPECT_EQ(list.items[1].mod_revision, updated);
}

TEST_P(StoreConformanceTest, CreateOfAnExistingKeyFailsAndChangesNothing) {
  const std::string key = PodKey("ns", "a");
  ORCH_ASSERT_OK_AND_ASSIGN(int64_t rev, store().Create(key, "original"));
  EXPECT_THAT(store().Create(key, "replacement"), StatusIs(absl::StatusCode::kAlreadyExists));
  ORCH_ASSERT_OK_AND_ASSIGN(KeyValue kv, store().Get(key));
  EXPECT_EQ(kv.value, "original");
  EXPECT_EQ(kv.mod_revision, rev);
  EXPECT_EQ(kv.version, 1);
}

TEST_P(StoreConformanceTest, UpdateWithAStaleRevisionAbortsAndChangesNothing) {
  const std::string key = PodKey("ns", "a");
  ORCH_ASSERT_OK_AND_ASSIGN(int64_t v1, store().Create(key, "one"));
  ORCH_ASSERT_OK_AND_ASSIGN(int64_t v2, store().Update(key, "two", v1));
  EXPECT_THAT(store().Update(key, "lost update", v1),
              StatusIs(absl::StatusCode::kAborted, HasSubstr(key)));
  ORCH_ASSERT_OK_AND_ASSIGN(KeyValue kv, store().Get(key));
  EXPECT_EQ(kv.value, "two");
  EXPECT_EQ(kv.mod_revision, v2);
  EXPECT_EQ(kv.version, 2);
  // Expected revision 0 means unconditional.
  ORCH_ASSERT_OK_AND_ASSIGN(int64_t v3, store().Update(key, "three", 0));
  EXPECT_GT(v3, v2);
}

TEST_P(StoreConformanceTest, DeleteWithAStaleRevisionAbortsAndChangesNothing) {
  const std::string key = PodKey("ns", "a");
  ORCH_ASSERT_OK_AND_ASSIGN(int64_t v1, store().Create(key, "one"));
  ORCH_ASSERT_OK_AND_ASSIGN(int64_t v2, store().Update(key, "two", v1));
  EXPECT_THAT(store().Delete(key, v1), StatusIs(absl::StatusCode::kAborted));
  ORCH_ASSERT_OK_AND_ASSIGN(KeyValue kv, store().Get(key));
  EXPECT_EQ(kv.value, "two");
  EXPECT_EQ(store().CurrentRevision().value_or(-1), v2);

  ORCH_ASSERT_OK_AND_ASSIGN(KeyValue deleted, store().Delete(key, v2));
  EXPECT_EQ(deleted.key, key);
  EXPECT_EQ(deleted.value, "two");
  EXPECT_EQ(deleted.create_revision, v1);
  EXPECT_EQ(deleted.version, 2);
  EXPECT_EQ(deleted.mod_revision, v2 + 1);  // the revision of the deletion
  EXPECT_THAT(store().Get(key), StatusIs(absl::StatusCode::kNotFound));
}

TEST_P(StoreConformanceTest, UpdateGetAndDeleteOfAMissingKeyAreNotFound) {
  const std::string key = PodKey("ns", "ghost");
  EXPECT_THAT(store().Get(key), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store().Update(key, "v", 0), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store().Update(key, "v", 5), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store().Delete(key), StatusIs(absl::StatusCode::kNotFound));
  ORCH_ASSERT_OK(store().Create(key, "v"));
  ORCH_ASSERT_OK(store().Delete(key));
  EXPECT_THAT(store().Update(key, "again", 0), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store().Delete(key), StatusIs(absl::StatusCode::kNotFound));
}

TEST_P(StoreConformanceTest, ADeletedKeyIsCreatedAfreshWithNewRevisions) {
  const std::string key = PodKey("ns", "phoenix");
  ORCH_ASSERT_OK_AND_ASSIGN(int64_t first, store().Create(key, "one"));
  ORCH_ASSERT_OK(store().Update(key, "two", first));
  ORCH_ASSERT_OK(store().Delete(key));
  ORCH_ASSERT_OK_AND_ASSIGN(int64_t again, store().Create(key, "reborn"));
  ORCH_ASSERT_OK_AND_ASSIGN(KeyValue kv, store().Get(key));
  EXPECT_EQ(kv.create_revision, again);
  EXPECT_EQ(kv.version, 1);
  EXPECT_EQ(kv.value, "reborn");
}

TEST_P(StoreConformanceTest, EmptyKeysAreInvalid) {
  EXPECT_THAT(store().Create("", "v"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store().Get(""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store().Update("", "v", 0), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store().Delete(""), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_P(StoreConformanceTest, GetAtAnOlderRevisionSeesThatState) {
  const std::string key = PodKey("ns", "a");
  ORCH_ASSERT_OK_AND_ASSIGN(int64_t before, store().Create(PodKey("ns", "z"), "unrelated"));
  ORCH_ASSERT_OK_AND_ASSIGN(int64_t v1, store().Create(key, "one"));
  ORCH_ASSERT_OK_AND_ASSIGN(int64_t v2, store().Update(key, "two", v1));
  ORCH_ASSERT_OK_AND_ASSIGN(int64_t unrelated, store().Update(PodKey("ns", "z"), "u2", before));
  ORCH_ASSERT_OK_AND_ASSIGN(KeyValue deleted, store().Delete(key));

  EXPECT_THAT(store().Get(key, before), StatusIs(absl::StatusCode::kNotFound));
  ORCH_ASSERT_OK_AND_ASSIGN(KeyValue at_v1, store().Get(key, v1));
  EXPECT_EQ(at_v1.value, "one");
  EXPECT_EQ(at_v1.mod_revision, v1);
  EXPECT_EQ(at_v1.version, 1);
  ORCH_ASSERT_OK_AND_ASSIGN(KeyValue at_unrelated, store().Get(key, unrelated));
  EXPECT_EQ(at_unrelated.value, "two");
  EXPECT_EQ(at_unrelated.mod_revision, v2);
  EXPECT_THAT(store().Get(key, deleted.mod_revision), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store().Get(key), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store().Get(key, deleted.mod_revision + 100),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// ================================================================== list

TEST_P(StoreConformanceTest, ListIsOrderedByKeyAndPrefixesDoNotLeak) {
  for (const std::string& key :
       {PodKey("ns2", "c"), PodKey("ns1", "ab"), PodKey("ns10", "a"), PodKey("ns1", "a"),
        ObjectKey("podtemplates", "ns1", "a"), ObjectKey("nodes", "", "n1")}) {
    ORCH_ASSERT_OK(store().Create(key, "v"));
  }
  ORCH_ASSERT_OK_AND_ASSIGN(int64_t now, store().CurrentRevision());

  ORCH_ASSERT_OK_AND_ASSIGN(ListResult ns1, store().List(ResourcePrefix("pods", "ns1")));
  EXPECT_THAT(KeysOf(ns1.items), ElementsAre(PodKey("ns1", "a"), PodKey("ns1", "ab")));
  EXPECT_EQ(ns1.revision, now);
  EXPECT_TRUE(ns1.continue_token.empty());

  ORCH_ASSERT_OK_AND_ASSIGN(ListResult pods, store().List(ResourcePrefix("pods")));
  EXPECT_THAT(KeysOf(pods.items), ElementsAre(PodKey("ns1", "a"), PodKey("ns1", "ab"),
                                              PodKey("ns10", "a"), PodKey("ns2", "c")));

  // A prefix is a byte prefix: "/registry/pods/ns1/a" also covers ".../ab".
  ORCH_ASSERT_OK_AND_ASSIGN(ListResult raw, store().List(PodKey("ns1", "a")));
  EXPECT_THAT(KeysOf(raw.items), ElementsAre(PodKey("ns1", "a"), PodKey("ns1", "ab")));

  ORCH_ASSERT_OK_AND_ASSIGN(ListResult none, store().List(ResourcePrefix("services")));
  EXPECT_TRUE(none.items.empty());
  EXPECT_EQ(none.revision, now);

  ORCH_ASSERT_OK_AND_ASSIGN(ListResult all, store().List(kRegistryRoot));
  EXPECT_EQ(all.items.size(), 6u);
  EXPECT_TRUE(std::is_sorted(all.items.begin(), all.items.end(),
                             [](const KeyValue& a, const KeyValue& b) { return a.key < b.key; }));
}

TEST_P(StoreConformanceTest, ListAtARevisionSeesThatState) {
  ORCH_ASSERT_OK_AND_ASSIGN(int64_t a, store().Create(PodKey("ns", "a"), "a1"));
  ORCH_ASSERT_OK(store().Create(PodKey("ns", "b"), "b1"));
  ORCH_ASSERT_OK_AND_ASSIGN(int64_t then, store().CurrentRevision());
  ORCH_ASSERT_OK(store().Update(PodKey("ns", "a"), "a2", a));
  ORCH_ASSERT_OK(store().Delete(PodKey("ns", "b")));
  ORCH_ASSERT_OK(store().Create(PodKey("ns", "c"), "c1"));

  ListOptions at_then;
  at_then.revision = then;
  ORCH_ASSERT_OK_AND_ASSIGN(ListResult old, store().List(ResourcePrefix("pods"), at_then));
  EXPECT_EQ(old.revision, then);
  ASSERT_THAT(KeysOf(old.items), ElementsAre(PodKey("ns", "a"), PodKey("ns", "b")));
  EXPECT_EQ(old.items[0].value, "a1");
  EXPECT_EQ(old.items[1].value, "b1");

  ORCH_ASSERT_OK_AND_ASSIGN(ListResult now, store().List(ResourcePrefix("pods")));
  ASSERT_THAT(KeysOf(now.items), ElementsAre(PodKey("ns", "a"), PodKey("ns", "c")));
  EXPECT_EQ(now.items[0].value, "a2");

  ListOptions future;
  future.revision = now.revision + 10;
  EXPECT_THAT(store().List(ResourcePrefix("pods"), future),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_P(StoreConformanceTest, ListFiltersByLabelSelector) {
  ORCH_ASSERT_OK(store().Create(PodKey("ns", "web-1"),
                                PodValue("ns", "web-1", {{"app", "web"}, {"tier", "front"}})));
  ORCH_ASSERT_OK(store().Create(PodKey("ns", "web-2"),
                                PodValue("ns", "web-2", {{"app", "web"}, {"tier", "back"}})));
  ORCH_ASSERT_OK(store().Create(PodKey("ns", "db-1"), PodValue("ns", "db-1", {{"app", "db"}})));
  ORCH_ASSERT_OK(store().Create(PodKey("ns", "bare"), PodValue("ns", "bare")));

  auto names = [&](std::string_view selector) {
    ListOptions options;
    options.labels = *api::LabelSelector::Parse(selector);
    absl::StatusOr<ListResult> list = store().List(ResourcePrefix("pods"), options);
    EXPECT_THAT(list, IsOk());
    std::vector<std::string> out;
    if (list.ok()) {
      for (const KeyValue& kv : list->items) out.push_back(NameOf(kv));
    }
    return out;
  };
  EXPECT_THAT(names("app=web"), ElementsAre("web-1", "web-2"));
  EXPECT_THAT(names("app=web,tier!=back"), ElementsAre("web-1"));
  EXPECT_THAT(names("tier!=back"), ElementsAre("bare", "db-1", "web-1"));
  EXPECT_THAT(names("app in (db,cache)"), ElementsAre("db-1"));
  EXPECT_THAT(names("!app"), ElementsAre("bare"));
  EXPECT_THAT(names("app"), ElementsAre("db-1", "web-1", "web-2"));
  EXPECT_THAT(names("app notin (web)"), ElementsAre("bare", "db-1"));
  EXPECT_THAT(names(""), ElementsAre("bare", "db-1", "web-1", "web-2"));
}

TEST_P(StoreConformanceTest, ListFiltersByFieldSelector) {
  ORCH_ASSERT_OK(store().Create(PodKey("a", "p1"), PodValue("a", "p1", {}, "node-1", "Running")));
  ORCH_ASSERT_OK(store().Create(PodKey("a", "p2"), PodValue("a", "p2", {}, "", "Pending")));
  ORCH_ASSERT_OK(store().Create(PodKey("b", "p1"),
                                PodValue("b", "p1", {{"app", "web"}}, "node-2", "Running")));
  ORCH_ASSERT_OK(store().Create(PodKey("b", "p3"), PodValue("b", "p3", {}, "node-1", "Failed")));

  auto keys = [&](std::string_view fields, std::string_view labels = "") {
    ListOptions options;
    options.fields = *api::FieldSelector::Parse(fields);
    options.labels = *api::LabelSelector::Parse(labels);
    options.prototype = &api::v1::Pod::default_instance();
    absl::StatusOr<ListResult> list = store().List(ResourcePrefix("pods"), options);
    EXPECT_THAT(list, IsOk());
    return list.ok() ? KeysOf(list->items) : std::vector<std::string>{};
  };
  EXPECT_THAT(keys("metadata.name=p1"), ElementsAre(PodKey("a", "p1"), PodKey("b", "p1")));
  EXPECT_THAT(keys("metadata.namespace=b"), ElementsAre(PodKey("b", "p1"), PodKey("b", "p3")));
  EXPECT_THAT(keys("metadata.name=p1,metadata.namespace!=a"), ElementsAre(PodKey("b", "p1")));
  EXPECT_THAT(keys("spec.nodeName=node-1"), ElementsAre(PodKey("a", "p1"), PodKey("b", "p3")));
  EXPECT_THAT(keys("spec.nodeName="), ElementsAre(PodKey("a", "p2")));  // unscheduled
  EXPECT_THAT(keys("status.phase=Running"), ElementsAre(PodKey("a", "p1"), PodKey("b", "p1")));
  EXPECT_THAT(keys("status.phase!=Running,spec.nodeName!="), ElementsAre(PodKey("b", "p3")));
  EXPECT_THAT(keys("status.phase=Running", "app=web"), ElementsAre(PodKey("b", "p1")));
}

TEST_P(StoreConformanceTest, FieldSelectorsNeedAPrototypeWithThoseFields) {
  ORCH_ASSERT_OK(store().Create(PodKey("a", "p1"), PodValue("a", "p1")));
  ListOptions no_prototype;
  no_prototype.fields = *api::FieldSelector::Parse("metadata.name=p1");
  EXPECT_THAT(store().List(ResourcePrefix("pods"), no_prototype),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("prototype")));

  ListOptions unknown_field;
  unknown_field.fields = *api::FieldSelector::Parse("spec.flavor=large");
  unknown_field.prototype = &api::v1::Pod::default_instance();
  EXPECT_THAT(store().List(ResourcePrefix("pods"), unknown_field),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("spec.flavor")));

  ListOptions header_only;  // ObjectHeader has metadata but no spec
  header_only.fields = *api::FieldSelector::Parse("spec.nodeName=x");
  header_only.prototype = &api::v1::ObjectHeader::default_instance();
  EXPECT_THAT(store().List(ResourcePrefix("pods"), header_only),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// Reads every page of a list, checking each page's revision.
std::vector<KeyValue> ReadAllPages(Store& store, std::string_view prefix, ListOptions options,
                                   int64_t* revision, int* pages,
                                   const std::function<void(int page)>& between_pages = {}) {
  std::vector<KeyValue> items;
  *pages = 0;
  *revision = 0;
  while (true) {
    absl::StatusOr<ListResult> page = store.List(prefix, options);
    EXPECT_THAT(page, IsOk());
    if (!page.ok()) break;
    ++*pages;
    if (*revision == 0) *revision = page->revision;
    EXPECT_EQ(page->revision, *revision) << "page " << *pages;
    EXPECT_LE(page->items.size(), static_cast<size_t>(options.limit));
    items.insert(items.end(), page->items.begin(), page->items.end());
    if (page->continue_token.empty()) break;
    if (between_pages) between_pages(*pages);
    options.continue_token = page->continue_token;
    if (*pages > 100) {
      ADD_FAILURE() << "pagination does not end";
      break;
    }
  }
  return items;
}

TEST_P(StoreConformanceTest, PaginationIsConsistentAtTheFirstPagesRevision) {
  for (int i = 0; i < 10; ++i) {
    ORCH_ASSERT_OK(store().Create(PodKey("ns", fmt::format("p{:02d}", i)), fmt::format("v{}", i)));
  }
  ORCH_ASSERT_OK(store().Create(PodKey("other", "x"), "not in the list"));
  ORCH_ASSERT_OK_AND_ASSIGN(ListResult whole, store().List(ResourcePrefix("pods", "ns")));

  ListOptions options;
  options.limit = 3;
  int64_t revision = 0;
  int pages = 0;
  // Between pages, change keys that later pages will cover: the list must not notice.
  std::vector<KeyValue> items = ReadAllPages(
      store(), ResourcePrefix("pods", "ns"), options, &revision, &pages, [&](int page) {
        if (page == 1) {
          ASSERT_THAT(store().Update(PodKey("ns", "p05"), "changed", 0), IsOk());
          ASSERT_THAT(store().Delete(PodKey("ns", "p07")), IsOk());
          ASSERT_THAT(store().Create(PodKey("ns", "p05a"), "new"), IsOk());
        }
        if (page == 2) ASSERT_THAT(store().Create(PodKey("ns", "p99"), "new"), IsOk());
      });
  EXPECT_EQ(pages, 4);
  EXPECT_EQ(revision, whole.revision);
  ASSERT_EQ(items.size(), 10u);
  for (size_t i = 0; i < items.size(); ++i) {
    EXPECT_EQ(items[i].key, whole.items[i].key);
    EXPECT_EQ(items[i].value, whole.items[i].value);
    EXPECT_EQ(items[i].mod_revision, whole.items[i].mod_revision);
  }

  // A fresh list sees the writes.
  ORCH_ASSERT_OK_AND_ASSIGN(ListResult after, store().List(ResourcePrefix("pods", "ns")));
  EXPECT_EQ(after.items.size(), 11u);
}

TEST_P(StoreConformanceTest, PaginationCountsOnlyMatchingItems) {
  for (int i = 0; i < 12; ++i) {
    ORCH_ASSERT_OK(store().Create(
        PodKey("ns", fmt::format("p{:02d}", i)),
        PodValue("ns", fmt::format("p{:02d}", i), {{"even", i % 2 == 0 ? "yes" : "no"}})));
  }
  ListOptions options;
  options.limit = 2;
  options.labels = *api::LabelSelector::Parse("even=yes");
  int64_t revision = 0;
  int pages = 0;
  std::vector<KeyValue> items =
      ReadAllPages(store(), ResourcePrefix("pods"), options, &revision, &pages);
  EXPECT_EQ(pages, 3);  // 6 matches, 2 per page, and no empty page at the end
  std::vector<std::string> names;
  for (const KeyValue& kv : items) names.push_back(NameOf(kv));
  EXPECT_THAT(names, ElementsAre("p00", "p02", "p04", "p06", "p08", "p10"));
}

TEST_P(StoreConformanceTest, LimitWithoutMoreItemsGivesNoContinueToken) {
  ORCH_ASSERT_OK(store().Create(PodKey("ns", "a"), "v"));
  ORCH_ASSERT_OK(store().Create(PodKey("ns", "b"), "v"));
  ListOptions options;
  options.limit = 2;
  ORCH_ASSERT_OK_AND_ASSIGN(ListResult list, store().List(ResourcePrefix("pods"), options));
  EXPECT_EQ(list.items.size(), 2u);
  EXPECT_TRUE(list.continue_token.empty());
  options.limit = 1;
  ORCH_ASSERT_OK_AND_ASSIGN(ListResult first, store().List(ResourcePrefix("pods"), options));
  EXPECT_EQ(first.items.size(), 1u);
  EXPECT_FALSE(first.continue_token.empty());
}

TEST_P(StoreConformanceTest, MalformedOrForeignContinueTokensAreInvalid) {
  for (int i = 0; i < 3; ++i) ORCH_ASSERT_OK(store().Create(PodKey("ns", fmt::format("p{}", i)), "v"));
  ListOptions options;
  options.limit = 1;
  ORCH_ASSERT_OK_AND_ASSIGN(ListResult first, store().List(ResourcePrefix("pods", "ns"), options));
  ASSERT_FALSE(first.continue_token.empty());

  for (const std::string& bad : std::vector<std::string>{"not base64 at all!", "AAAA",
                                                         first.continue_token + "x"}) {
    ListOptions malformed = options;
    malformed.continue_token = bad;
    EXPECT_THAT(store().List(ResourcePrefix("pods", "ns"), malformed),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << bad;
  }
  ListOptions foreign = options;
  foreign.continue_token = first.continue_token;
  EXPECT_THAT(store().List(ResourcePrefix("services"), foreign),
              StatusIs(absl::StatusCode::kInvalidArgument));
  ListOptions negative;
  negative.limit = -1;
  EXPECT_THAT(store().List(ResourcePrefix("pods"), negative),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// ================================================================== compaction

TEST_P(StoreConformanceTest, CompactionForgetsOlderRevisionsButKeepsTheState) {
  const std::string key = PodKey("ns", "a");
  ORCH_ASSERT_OK_AND_ASSIGN(int64_t v1, store().Create(key, "one"));
  ORCH_ASSERT_OK_AND_ASSIGN(int64_t v2, store().Update(key, "two", v1));
  ORCH_ASSERT_OK_AND_ASSIGN(int64_t v3, store().Update(key, "three", v2));
  ORCH_ASSERT_OK(store().Create(PodKey("ns", "b"), "b"));
  ORCH_ASSERT_OK_AND_ASSIGN(KeyValue gone, store().Delete(PodKey("ns", "b")));
  const int64_t gone_at = gone.mod_revision;

  ORCH_ASSERT_OK(store().Create(PodKey("ns", "c"), "c"));
  ListOptions first_page;
  first_page.limit = 1;
  ORCH_ASSERT_OK_AND_ASSIGN(ListResult page, store().List(ResourcePrefix("pods"), first_page));
  ASSERT_FALSE(page.continue_token.empty());
  ORCH_ASSERT_OK(store().Update(PodKey("ns", "c"), "c2", 0));
  ORCH_ASSERT_OK_AND_ASSIGN(int64_t now, store().CurrentRevision());

  ORCH_ASSERT_OK(store().Compact(v3));
  EXPECT_THAT(store().Get(key, v1), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(store().Get(key, v2), StatusIs(absl::StatusCode::kOutOfRange));
  ORCH_ASSERT_OK_AND_ASSIGN(KeyValue at_v3, store().Get(key, v3));  // the compacted revision
  EXPECT_EQ(at_v3.value, "three");
  ORCH_ASSERT_OK_AND_ASSIGN(KeyValue current, store().Get(key));
  EXPECT_EQ(current.value, "three");
  EXPECT_EQ(current.create_revision, v1);
  EXPECT_EQ(current.version, 3);
  EXPECT_THAT(store().Get(PodKey("ns", "b"), gone_at), StatusIs(absl::StatusCode::kNotFound));

  ListOptions old;
  old.revision = v2;
  EXPECT_THAT(store().List(ResourcePrefix("pods"), old), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(store().Watch(ResourcePrefix("pods"), WatchOptions{.from_revision = v1}),
              StatusIs(absl::StatusCode::kOutOfRange));
  ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watcher> from_compacted,
                            store().Watch(ResourcePrefix("pods"), WatchOptions{.from_revision = v3}));
  std::vector<EventPtr> events = COLLECT(*from_compacted, now - v3);
  ASSERT_EQ(events.size(), static_cast<size_t>(now - v3));
  EXPECT_EQ(events.front()->kv.mod_revision, v3 + 1);
  EXPECT_EQ(events.back()->kv.mod_revision, now);

  // The page was read at a revision that is still kept: continuing works.
  ListOptions next = first_page;
  next.continue_token = page.continue_token;
  ORCH_ASSERT_OK_AND_ASSIGN(ListResult second, store().List(ResourcePrefix("pods"), next));
  ASSERT_EQ(second.items.size(), 1u);
  EXPECT_EQ(second.items[0].value, "c");  // as of the first page, not "c2"
  ORCH_ASSERT_OK(store().Compact(now));
  ListOptions stale = first_page;
  stale.continue_token = page.continue_token;
  EXPECT_THAT(store().List(ResourcePrefix("pods"), stale),
              StatusIs(absl::StatusCode::kOutOfRange));

  EXPECT_THAT(store().Compact(v2), IsOk());  // already compacted: fine
  EXPECT_THAT(store().Compact(now + 5), StatusIs(absl::StatusCode::kInvalidArgument));
  ORCH_ASSERT_OK_AND_ASSIGN(ListResult list, store().List(ResourcePrefix("pods")));
  EXPECT_THAT(KeysOf(list.items), ElementsAre(key, PodKey("ns", "c")));
}

TEST_P(StoreConformanceTest, AWatchFromTheCompactedRevisionMissesNothing) {
  ORCH_ASSERT_OK(store().Create(PodKey("ns", "a"), "v"));
  ORCH_ASSERT_OK_AND_ASSIGN(int64_t now, store().CurrentRevision());
  ORCH_ASSERT_OK(store().Compact(now));
  // List-then-watch after compacting everything must still work.
  ORCH_ASSERT_OK_AND_ASSIGN(ListResult list, store().List(ResourcePrefix("pods")));
  ORCH_ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<Watcher> watcher,
      store().Watch(ResourcePrefix("pods"), WatchOptions{.from_revision = list.revision}));
  ORCH_ASSERT_OK(store().Create(PodKey("ns", "b"), "v"));
  std::vector<EventPtr> events = COLLECT(*watcher, 1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]->kv.key, PodKey("ns", "b"));
}

// ================================================================== watch

// List, a change, then a watch from the list's revision: the watch sees the change. On a
// fresh MemoryStore the list is at revision 0, which is a revision like any other, not
// "from now".
TEST_P(StoreConformanceTest, WatchFromAnEmptyListsRevisionSeesTheChangesAfterIt) {
  ORCH_ASSERT_OK_AND_ASSIGN(ListResult list, store().List(ResourcePrefix("pods")));
  ASSERT_TRUE(list.items.empty());
  ORCH_ASSERT_OK(store().Create(PodKey("ns", "a"), "v"));
  ORCH_ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<Watcher> watcher,
      store().Watch(ResourcePrefix("pods"), WatchOptions{.from_revision = list.revision}));
  std::vector<EventPtr> events = COLLECT(*watcher, 1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]->kv.key, PodKey("ns", "a"));
  EXPECT_EQ(events[0]->type, Event::Type::kPut);
}

TEST_P(StoreConformanceTest, WatchFromNowDeliversEveryChangeOnceInOrderWithPrevKv) {
  ORCH_ASSERT_OK(store().Create(PodKey("ns", "before"), "not delivered"));
  ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watcher> watcher, store().Watch(ResourcePrefix("pods")));
  ORCH_ASSERT_OK_AND_ASSIGN(int64_t start, store().CurrentRevision());
  EXPECT_EQ(watcher->revision(), start);

  const std::string key = PodKey("ns", "a");
  ORCH_ASSERT_OK_AND_ASSIGN(int64_t created, store().Create(key, "one"));
  ORCH_ASSERT_OK_AND_ASSIGN(int64_t updated, store().Update(key, "two", created));
  ORCH_ASSERT_OK_AND_ASSIGN(KeyValue deleted, store().Delete(key));

  std::vector<EventPtr> events = COLLECT(*watcher, 3);
  ASSERT_EQ(events.size(), 3u);
  const Event& put = *events[0];
  EXPECT_EQ(put.type, Event::Type::kPut);
  EXPECT_EQ(put.kv.key, key);
  EXPECT_EQ(put.kv.value, "one");
  EXPECT_EQ(put.kv.mod_revision, created);
  EXPECT_EQ(put.kv.create_revision, created);
  EXPECT_EQ(put.kv.version, 1);
  EXPECT_FALSE(put.prev_kv.has_value());

  const Event& update = *events[1];
  EXPECT_EQ(update.type, Event::Type::kPut);
  EXPECT_EQ(update.kv.value, "two");
  EXPECT_EQ(update.kv.mod_revision, updated);
  EXPECT_EQ(update.kv.version, 2);
  ASSERT_TRUE(update.prev_kv.has_value());
  EXPECT_EQ(update.prev_kv->value, "one");
  EXPECT_EQ(update.prev_kv->mod_revision, created);

  const Event& removal = *events[2];
  EXPECT_EQ(removal.type, Event::Type::kDelete);
  EXPECT_EQ(removal.kv.key, key);
  EXPECT_EQ(removal.kv.mod_revision, deleted.mod_revision);
  EXPECT_TRUE(removal.kv.value.empty());
  ASSERT_TRUE(removal.prev_kv.has_value());
  EXPECT_EQ(removal.prev_kv->value, "two");
  EXPECT_EQ(removal.prev_kv->mod_revision, updated);

  EXPECT_EQ(watcher->revision(), deleted.mod_revision);
  ExpectNoMoreEvents(*watcher, env());
}

TEST_P(StoreConformanceTest, WatchFromAPastRevisionReplaysWhatCameAfter) {
  ORCH_ASSERT_OK_AND_ASSIGN(int64_t r1, store().Create(PodKey("ns", "a"), "a"));
  ORCH_ASSERT_OK_AND_ASSIGN(int64_t r2, store().Create(PodKey("ns", "b"), "b"));
  ORCH_ASSERT_OK_AND_ASSIGN(int64_t r3, store().Update(PodKey("ns", "a"), "a2", r1));
  ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watcher> watcher,
                            store().Watch(ResourcePrefix("pods"), WatchOptions{.from_revision = r1}));
  EXPECT_EQ(watcher->revision(), r1);
  ORCH_ASSERT_OK_AND_ASSIGN(int64_t r4, store().Create(PodKey("ns", "c"), "c"));
  std::vector<EventPtr> events = COLLECT(*watcher, 3);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0]->kv.mod_revision, r2);
  EXPECT_EQ(events[1]->kv.mod_revision, r3);
  EXPECT_EQ(events[1]->prev_kv->value, "a");
  EXPECT_EQ(events[2]->kv.mod_revision, r4);
  ExpectNoMoreEvents(*watcher, env());
}

TEST_P(StoreConformanceTest, WatchSeesOnlyItsPrefix) {
  ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watcher> ns1, store().Watch(ResourcePrefix("pods", "ns1")));
  ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watcher> nodes, store().Watch(ResourcePrefix("nodes")));
  ORCH_ASSERT_OK(store().Create(PodKey("ns10", "a"), "v"));
  ORCH_ASSERT_OK(store().Create(ObjectKey("podtemplates", "ns1", "a"), "v"));
  ORCH_ASSERT_OK(store().Create(PodKey("ns1", "a"), "v"));
  ORCH_ASSERT_OK(store().Create(ObjectKey("nodes", "", "n1"), "v"));
  ORCH_ASSERT_OK(store().Create(PodKey("ns1", "b"), "v"));

  std::vector<EventPtr> pod_events = COLLECT(*ns1, 2);
  ASSERT_EQ(pod_events.size(), 2u);
  EXPECT_EQ(pod_events[0]->kv.key, PodKey("ns1", "a"));
  EXPECT_EQ(pod_events[1]->kv.key, PodKey("ns1", "b"));
  ExpectNoMoreEvents(*ns1, env());
  std::vector<EventPtr> node_events = COLLECT(*nodes, 1);
  ASSERT_EQ(node_events.size(), 1u);
  EXPECT_EQ(node_events[0]->kv.key, ObjectKey("nodes", "", "n1"));
  ExpectNoMoreEvents(*nodes, env());
}

TEST_P(StoreConformanceTest, ManyWatchersEachSeeEveryEvent) {
  constexpr int kWatchers = 40;
  constexpr int kWrites = 25;
  std::vector<std::unique_ptr<Watcher>> watchers;
  for (int i = 0; i < kWatchers; ++i) {
    ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watcher> w, store().Watch(ResourcePrefix("pods")));
    watchers.push_back(std::move(w));
  }
  ORCH_ASSERT_OK_AND_ASSIGN(int64_t start, store().CurrentRevision());
  for (int i = 0; i < kWrites; ++i) {
    ORCH_ASSERT_OK(store().Create(PodKey("ns", fmt::format("p{}", i)), "v"));
  }
  for (auto& watcher : watchers) {
    std::vector<EventPtr> events = COLLECT(*watcher, kWrites);
    ASSERT_EQ(events.size(), static_cast<size_t>(kWrites));
    for (int i = 0; i < kWrites; ++i) EXPECT_EQ(events[i]->kv.mod_revision, start + 1 + i);
  }
}

TEST_P(StoreConformanceTest, WatchersCanComeAndGoWhileWritesHappen) {
  ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watcher> steady, store().Watch(ResourcePrefix("pods")));
  ORCH_ASSERT_OK_AND_ASSIGN(int64_t start, store().CurrentRevision());
  constexpr int kWrites = 300;
  std::atomic<bool> writer_failed{false};
  std::thread writer([&] {
    for (int i = 0; i < kWrites; ++i) {
      if (!store().Create(PodKey("ns", fmt::format("p{}", i)), "v").ok()) writer_failed = true;
    }
  });
  for (int i = 0; i < 50; ++i) {
    absl::StatusOr<std::unique_ptr<Watcher>> transient = store().Watch(ResourcePrefix("pods"));
    ASSERT_THAT(transient, IsOk());
    (*transient)->SetReadyCallback([] {});
    std::vector<EventPtr> some;
    EXPECT_THAT((*transient)->Poll(&some), IsOk());
    // Destroyed here, possibly while the writer is notifying it.
  }
  writer.join();
  EXPECT_FALSE(writer_failed);
  std::vector<EventPtr> events = COLLECT(*steady, kWrites);
  ASSERT_EQ(events.size(), static_cast<size_t>(kWrites));
  for (int i = 0; i < kWrites; ++i) ASSERT_EQ(events[i]->kv.mod_revision, start + 1 + i);
}

TEST_P(StoreConformanceTest, ReadyCallbackFiresWhenEventsArriveAfterADrain) {
  ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watcher> watcher, store().Watch(ResourcePrefix("pods")));
  std::atomic<int> calls{0};
  watcher->SetReadyCallback([&] { ++calls; });
  EXPECT_EQ(calls.load(), 0);  // nothing pending yet

  ORCH_ASSERT_OK(store().Create(PodKey("ns", "a"), "v"));
  EXPECT_TRUE(EVENTUALLY(calls.load() >= 1));
  ASSERT_EQ(COLLECT(*watcher, 1).size(), 1u);
  const int after_first = calls.load();

  ORCH_ASSERT_OK(store().Create(PodKey("ns", "b"), "v"));
  EXPECT_TRUE(EVENTUALLY(calls.load() > after_first));
  ASSERT_EQ(COLLECT(*watcher, 1).size(), 1u);

  // Events that are pending when a callback is set trigger it right away.
  ORCH_ASSERT_OK(store().Create(PodKey("ns", "c"), "v"));
  ASSERT_TRUE(watcher->Wait(backend().patience));
  std::atomic<int> late_calls{0};
  watcher->SetReadyCallback([&] { ++late_calls; });
  EXPECT_TRUE(EVENTUALLY(late_calls.load() >= 1));

  // A cleared callback is not called.
  ASSERT_EQ(COLLECT(*watcher, 1).size(), 1u);
  watcher->SetReadyCallback(nullptr);
  const int before_clear = late_calls.load();
  ORCH_ASSERT_OK(store().Create(PodKey("ns", "d"), "v"));
  ASSERT_TRUE(watcher->Wait(backend().patience));
  EXPECT_EQ(late_calls.load(), before_clear);
}

TEST_P(StoreConformanceTest, WaitTimesOutWhenNothingHappens) {
  ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watcher> watcher, store().Watch(ResourcePrefix("pods")));
  ORCH_ASSERT_OK(store().Create(ObjectKey("nodes", "", "n1"), "elsewhere"));
  EXPECT_FALSE(watcher->Wait(absl::Milliseconds(20)));
  std::vector<EventPtr> none;
  ASSERT_THAT(watcher->Poll(&none), IsOk());
  EXPECT_TRUE(none.empty());
  ORCH_ASSERT_OK(store().Create(PodKey("ns", "a"), "v"));
  EXPECT_TRUE(watcher->Wait(backend().patience));
}

TEST_P(StoreConformanceTest, PollRespectsMax) {
  ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watcher> watcher, store().Watch(ResourcePrefix("pods")));
  for (int i = 0; i < 5; ++i) ORCH_ASSERT_OK(store().Create(PodKey("ns", fmt::format("p{}", i)), "v"));
  std::vector<EventPtr> events = COLLECT(*watcher, 2);
  ASSERT_EQ(events.size(), 2u);
  std::vector<EventPtr> rest = COLLECT(*watcher, 3);
  ASSERT_EQ(rest.size(), 3u);
  EXPECT_EQ(rest.front()->kv.mod_revision, events.back()->kv.mod_revision + 1);
}

TEST_P(StoreConformanceTest, ConcurrentWritersProduceAGapFreeRevisionSequence) {
  ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watcher> all, store().Watch(kRegistryRoot));
  ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watcher> pods, store().Watch(ResourcePrefix("pods")));
  ORCH_ASSERT_OK_AND_ASSIGN(int64_t start, store().CurrentRevision());
  constexpr int kThreads = 4;
  constexpr int kPerThread = 100;
  std::vector<std::vector<int64_t>> returned(kThreads);
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      // Each thread creates and then CAS-updates its own keys, half pods, half nodes.
      for (int i = 0; i < kPerThread / 2; ++i) {
        const std::string key = t % 2 == 0 ? PodKey("ns", fmt::format("t{}-{}", t, i))
                                           : ObjectKey("nodes", "", fmt::format("t{}-{}", t, i));
        absl::StatusOr<int64_t> created = store().Create(key, "v1");
        if (!created.ok()) continue;
        returned[t].push_back(*created);
        absl::StatusOr<int64_t> updated = store().Update(key, "v2", *created);
        if (updated.ok()) returned[t].push_back(*updated);
      }
    });
  }
  for (std::thread& w : writers) w.join();

  std::set<int64_t> unique;
  for (const auto& revisions : returned) {
    EXPECT_EQ(revisions.size(), static_cast<size_t>(kPerThread));
    EXPECT_TRUE(std::is_sorted(revisions.begin(), revisions.end()));
    unique.insert(revisions.begin(), revisions.end());
  }
  ASSERT_EQ(unique.size(), static_cast<size_t>(kThreads * kPerThread));

  std::vector<EventPtr> events = COLLECT(*all, kThreads * kPerThread);
  ASSERT_EQ(events.size(), static_cast<size_t>(kThreads * kPerThread));
  for (size_t i = 0; i < events.size(); ++i) {
    ASSERT_EQ(events[i]->kv.mod_revision, start + 1 + static_cast<int64_t>(i));
    ASSERT_TRUE(unique.count(events[i]->kv.mod_revision));
  }
  std::vector<EventPtr> pod_events = COLLECT(*pods, kThreads * kPerThread / 2);
  ASSERT_EQ(pod_events.size(), static_cast<size_t>(kThreads * kPerThread / 2));
  for (size_t i = 1; i < pod_events.size(); ++i) {
    EXPECT_LT(pod_events[i - 1]->kv.mod_revision, pod_events[i]->kv.mod_revision);
  }
}

// ================================================================== leases

TEST_P(StoreConformanceTest, LeaseTimeToLiveCountsDown) {
  const absl::Duration ttl = backend().lease_ttl;
  ORCH_ASSERT_OK_AND_ASSIGN(LeaseId lease, store().GrantLease(ttl));
  EXPECT_NE(lease, 0);
  ORCH_ASSERT_OK_AND_ASSIGN(absl::Duration left, store().LeaseTimeToLive(lease));
  EXPECT_GT(left, absl::ZeroDuration());
  EXPECT_LE(left, ttl);
  env().Advance(ttl / 4);
  ORCH_ASSERT_OK_AND_ASSIGN(absl::Duration later, store().LeaseTimeToLive(lease));
  EXPECT_LT(later, left);
  ORCH_ASSERT_OK_AND_ASSIGN(LeaseId other, store().GrantLease(ttl));
  EXPECT_NE(other, lease);
}

TEST_P(StoreConformanceTest, ExpiredLeaseDeletesItsKeysWithDeleteEvents) {
  const absl::Duration ttl = backend().lease_ttl;
  ORCH_ASSERT_OK_AND_ASSIGN(LeaseId lease, store().GrantLease(ttl));
  ORCH_ASSERT_OK_AND_ASSIGN(int64_t a, store().Create(PodKey("ns", "a"), "a", lease));
  ORCH_ASSERT_OK(store().Create(PodKey("ns", "b"), "b", lease));
  ORCH_ASSERT_OK(store().Create(PodKey("ns", "keep"), "stays"));
  ORCH_ASSERT_OK_AND_ASSIGN(KeyValue attached, store().Get(PodKey("ns", "a")));
  EXPECT_EQ(attached.lease, lease);
  ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watcher> watcher, store().Watch(ResourcePrefix("pods")));
  ORCH_ASSERT_OK_AND_ASSIGN(int64_t before, store().CurrentRevision());

  env().Advance(ttl + ttl / 2);
  EXPECT_TRUE(EVENTUALLY(!store().Get(PodKey("ns", "a")).ok()));
  EXPECT_THAT(store().Get(PodKey("ns", "a")), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store().Get(PodKey("ns", "b")), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store().Get(PodKey("ns", "keep")), IsOk());
  EXPECT_THAT(store().Get(PodKey("ns", "a"), a), IsOk());  // history still has it

  std::vector<EventPtr> events = COLLECT(*watcher, 2);
  ASSERT_EQ(events.size(), 2u);
  std::set<std::string> deleted_keys;
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i]->type, Event::Type::kDelete);
    // One revision per key (MemoryStore) or one for all of the lease's keys (etcd).
    EXPECT_GT(events[i]->kv.mod_revision, before);
    if (i > 0) EXPECT_GE(events[i]->kv.mod_revision, events[i - 1]->kv.mod_revision);
    ASSERT_TRUE(events[i]->prev_kv.has_value());
    EXPECT_EQ(events[i]->prev_kv->lease, lease);
    deleted_keys.insert(events[i]->kv.key);
  }
  EXPECT_THAT(deleted_keys, ElementsAre(PodKey("ns", "a"), PodKey("ns", "b")));
  ExpectNoMoreEvents(*watcher, env());

  EXPECT_THAT(store().KeepAlive(lease), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store().LeaseTimeToLive(lease), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store().Create(PodKey("ns", "late"), "v", lease),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_P(StoreConformanceTest, KeepAliveExtendsALease) {
  const absl::Duration ttl = backend().lease_ttl;
  ORCH_ASSERT_OK_AND_ASSIGN(LeaseId lease, store().GrantLease(ttl));
  ORCH_ASSERT_OK(store().Create(PodKey("ns", "a"), "a", lease));
  env().Advance(ttl / 2);
  ORCH_ASSERT_OK(store().KeepAlive(lease));
  env().Advance(ttl / 2 + ttl / 5);  // past the original expiry, within the renewed one
  EXPECT_THAT(store().Get(PodKey("ns", "a")), IsOk());
  ORCH_ASSERT_OK_AND_ASSIGN(absl::Duration left, store().LeaseTimeToLive(lease));
  EXPECT_GT(left, absl::ZeroDuration());
  env().Advance(ttl);
  EXPECT_TRUE(EVENTUALLY(!store().Get(PodKey("ns", "a")).ok()));
  EXPECT_THAT(store().Get(PodKey("ns", "a")), StatusIs(absl::StatusCode::kNotFound));
}

TEST_P(StoreConformanceTest, RevokeDeletesTheLeasesKeysAtOnce) {
  ORCH_ASSERT_OK_AND_ASSIGN(LeaseId lease, store().GrantLease(backend().lease_ttl));
  ORCH_ASSERT_OK(store().Create(PodKey("ns", "a"), "a", lease));
  ORCH_ASSERT_OK(store().Create(PodKey("ns", "b"), "b", lease));
  ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watcher> watcher, store().Watch(ResourcePrefix("pods")));
  ORCH_ASSERT_OK(store().RevokeLease(lease));
  EXPECT_THAT(store().Get(PodKey("ns", "a")), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store().Get(PodKey("ns", "b")), StatusIs(absl::StatusCode::kNotFound));
  std::vector<EventPtr> events = COLLECT(*watcher, 2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0]->type, Event::Type::kDelete);
  EXPECT_EQ(events[1]->type, Event::Type::kDelete);
  EXPECT_THAT(store().RevokeLease(lease), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store().KeepAlive(lease), StatusIs(absl::StatusCode::kNotFound));
}

TEST_P(StoreConformanceTest, KeysLeaveALeaseWhenUpdatedWithoutItOrDeleted) {
  const absl::Duration ttl = backend().lease_ttl;
  ORCH_ASSERT_OK_AND_ASSIGN(LeaseId lease, store().GrantLease(ttl));
  ORCH_ASSERT_OK_AND_ASSIGN(int64_t a, store().Create(PodKey("ns", "a"), "a", lease));
  ORCH_ASSERT_OK(store().Create(PodKey("ns", "b"), "b", lease));
  ORCH_ASSERT_OK(store().Create(PodKey("ns", "c"), "c"));
  // Update without a lease detaches (as etcd's put does); update with one attaches.
  ORCH_ASSERT_OK(store().Update(PodKey("ns", "a"), "a2", a, /*lease=*/0));
  ORCH_ASSERT_OK(store().Update(PodKey("ns", "c"), "c2", 0, lease));
  ORCH_ASSERT_OK(store().Delete(PodKey("ns", "b")));
  ORCH_ASSERT_OK(store().Create(PodKey("ns", "b"), "b again"));
  ORCH_ASSERT_OK_AND_ASSIGN(KeyValue c, store().Get(PodKey("ns", "c")));
  EXPECT_EQ(c.lease, lease);

  ORCH_ASSERT_OK(store().RevokeLease(lease));
  ORCH_ASSERT_OK_AND_ASSIGN(KeyValue kept, store().Get(PodKey("ns", "a")));
  EXPECT_EQ(kept.lease, 0);
  EXPECT_THAT(store().Get(PodKey("ns", "b")), IsOk());
  EXPECT_THAT(store().Get(PodKey("ns", "c")), StatusIs(absl::StatusCode::kNotFound));
}

TEST_P(StoreConformanceTest, UnknownLeasesAreNotFound) {
  const LeaseId unknown = 987654321;
  EXPECT_THAT(store().Create(PodKey("ns", "a"), "v", unknown), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store().Get(PodKey("ns", "a")), StatusIs(absl::StatusCode::kNotFound));
  ORCH_ASSERT_OK(store().Create(PodKey("ns", "a"), "v"));
  EXPECT_THAT(store().Update(PodKey("ns", "a"), "v2", 0, unknown),
              StatusIs(absl::StatusCode::kNotFound));
  ORCH_ASSERT_OK_AND_ASSIGN(KeyValue unchanged, store().Get(PodKey("ns", "a")));
  EXPECT_EQ(unchanged.value, "v");
  EXPECT_THAT(store().KeepAlive(unknown), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store().RevokeLease(unknown), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store().LeaseTimeToLive(unknown), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store().GrantLease(absl::ZeroDuration()),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace orch::store::testing
