#include "orch/client/client.h"

#include <functional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "client/binding.h"
#include "fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orch/api/v1/discovery.pb.h"
#include "orch/api/v1/scheduling.pb.h"
#include "orch/api/encoding.h"
#include "orch/store/keys.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "orch/client/events.h"
#include "support/status_matchers.h"

namespace orch::client::testing {
namespace {

using ::orch::testing::IsOk;
using ::orch::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

int64_t Rv(const std::string& rv) { return std::stoll(rv); }

template <typename T>
std::vector<std::string> Names(const ObjectList<T>& list) {
  std::vector<std::string> names;
  for (const T& item : list.items) names.push_back(item.metadata().name());
  return names;
}

// Counts creates and can refuse the first few with kAlreadyExists.
class CreateRefusingStore : public store::StoreWrapper {
 public:
  CreateRefusingStore(store::Store* target, int refuse) : StoreWrapper(target), refuse_(refuse) {}
  absl::StatusOr<int64_t> Create(std::string_view key, store::SharedBytes value,
                                 store::LeaseId lease) override {
    keys.emplace_back(key);
    if (refuse_-- > 0) return absl::AlreadyExistsError("taken");
    return StoreWrapper::Create(key, value, lease);
  }
  std::vector<std::string> keys;

 private:
  int refuse_;
};

// ---------------------------------------------------------------- create

TEST_F(ClientTest, CreateFillsServerSideFields) {
  executor_.AdvanceBy(absl::Milliseconds(1500));
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Deployment d, client_->Create(MakeDeployment("web")));
  const v1::ObjectMeta& meta = d.metadata();
  EXPECT_EQ(d.api_version(), "apps/v1");
  EXPECT_EQ(d.kind(), "Deployment");
  EXPECT_TRUE(std::regex_match(
      meta.uid(), std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")))
      << meta.uid();
  EXPECT_EQ(meta.creation_timestamp().seconds(), 1767225601);  // whole seconds, as Kubernetes
  EXPECT_EQ(meta.creation_timestamp().nanos(), 0);
  EXPECT_EQ(meta.generation(), 1);
  EXPECT_EQ(Rv(meta.resource_version()), Revision());
  EXPECT_FALSE(meta.has_deletion_timestamp());

  // The stored bytes carry no resourceVersion; a Get returns the store's revision.
  ORCH_ASSERT_OK_AND_ASSIGN(store::KeyValue kv,
                            store_->Get(store::ObjectKey("deployments", "default", "web")));
  v1::Deployment stored;
  ASSERT_TRUE(stored.ParseFromString(kv.value.str()));
  EXPECT_EQ(stored.metadata().resource_version(), "");
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Deployment got, client_->Get<v1::Deployment>("default", "web"));
  EXPECT_EQ(got.metadata().resource_version(), std::to_string(kv.mod_revision));
  EXPECT_EQ(got.metadata().uid(), meta.uid());
}

// Priority admission: a pod's priority and preemption policy come from its PriorityClass,
// or from the global default class, or are 0; a pod may not bring its own.
TEST_F(ClientTest, CreateTakesAPodsPriorityFromItsPriorityClass) {
  auto priority_class = [&](const std::string& name, int32_t value, bool global_default,
                            const std::string& policy = "") {
    v1::PriorityClass pc;
    pc.mutable_metadata()->set_name(name);
    pc.set_value(value);
    pc.set_global_default(global_default);
    if (!policy.empty()) pc.set_preemption_policy(policy);
    ASSERT_THAT(client_->Create(pc), IsOk());
  };
  auto pod = [](const std::string& name, const std::string& class_name) {
    v1::Pod p = MakePod(name);
    p.mutable_spec()->set_priority_class_name(class_name);
    return p;
  };
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Pod plain, client_->Create(pod("plain", "")));
  EXPECT_EQ(plain.spec().priority(), 0);
  EXPECT_EQ(plain.spec().priority_class_name(), "");

  priority_class("high", 1000, false, "Never");
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Pod high, client_->Create(pod("high", "high")));
  EXPECT_EQ(high.spec().priority(), 1000);
  EXPECT_EQ(high.spec().preemption_policy(), "Never");
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Pod critical, client_->Create(pod("critical", "system-node-critical")));
  EXPECT_EQ(critical.spec().priority(), 2000001000);

  EXPECT_THAT(client_->Create(pod("lost", "gold")),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "pods \"lost\" is forbidden: no PriorityClass with name gold was found"));
  v1::Pod own = pod("own", "high");
  own.mutable_spec()->set_priority(5);
  EXPECT_THAT(client_->Create(own),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("the integer value of priority (5) must not be provided in pod "
                                 "spec; priority admission controller computed 1000")));
  v1::Pod preempting = pod("preempting", "high");
  preempting.mutable_spec()->set_preemption_policy("PreemptLowerPriority");
  EXPECT_THAT(client_->Create(preempting),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("PreemptionPolicy")));
  EXPECT_THAT(client_->Get<v1::Pod>("default", "own"), StatusIs(absl::StatusCode::kNotFound));

  priority_class("everyday", 7, true);
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Pod defaulted, client_->Create(pod("defaulted", "")));
  EXPECT_EQ(defaulted.spec().priority_class_name(), "everyday");
  EXPECT_EQ(defaulted.spec().priority(), 7);
  EXPECT_EQ(defaulted.spec().preemption_policy(), "PreemptLowerPriority");
}

TEST_F(ClientTest, CreateIgnoresCallerUidAndDeletionFields) {
  v1::Deployment d = MakeDeployment("web");
  d.mutable_metadata()->set_uid("mine");
  d.mutable_metadata()->set_generation(9);
  d.mutable_metadata()->mutable_deletion_timestamp()->set_seconds(5);
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Deployment out, client_->Create(d));
  EXPECT_NE(out.metadata().uid(), "mine");
  EXPECT_EQ(out.metadata().generation(), 1);
  EXPECT_FALSE(out.metadata().has_deletion_timestamp());
}

TEST_F(ClientTest, UidsAndGeneratedNamesAreDeterministicForASeed) {
  auto run = [](uint64_t seed) {
    VirtualExecutor executor;
    store::MemoryStoreOptions options;
    options.clock = &executor.clock();
    auto store = store::MemoryStore::Open(options).value();
    Client client(store.get(), &api::Scheme::Builtin(), &executor.clock(), seed);
    v1::Pod pod = MakePod("");
    pod.mutable_metadata()->set_generate_name("web-");
    v1::Pod out = client.Create(pod).value();
    return out.metadata().name() + "/" + out.metadata().uid();
  };
  EXPECT_EQ(run(11), run(11));
  EXPECT_NE(run(11), run(12));
}

TEST_F(ClientTest, CreateRejectsResourceVersion) {
  v1::Deployment d = MakeDeployment("web");
  d.mutable_metadata()->set_resource_version("3");
  EXPECT_THAT(client_->Create(d),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("metadata.resourceVersion")));
}

TEST_F(ClientTest, CreateRequiresNameOrGenerateName) {
  const int64_t before = Revision();
  EXPECT_THAT(client_->Create(MakeDeployment("")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("metadata.name: Required value")));
  EXPECT_EQ(Revision(), before);
}

TEST_F(ClientTest, GenerateNameAppendsFiveRandomCharacters) {
  std::set<std::string> names;
  for (int i = 0; i < 20; ++i) {
    v1::Pod pod = MakePod("");
    pod.mutable_metadata()->set_generate_name("web-");
    ORCH_ASSERT_OK_AND_ASSIGN(v1::Pod out, client_->Create(pod));
    EXPECT_TRUE(std::regex_match(out.metadata().name(),
                                 std::regex("web-[bcdfghjklmnpqrstvwxz2456789]{5}")))
        << out.metadata().name();
    EXPECT_EQ(out.metadata().generate_name(), "web-");
    names.insert(out.metadata().name());
  }
  EXPECT_EQ(names.size(), 20u);
}

TEST_F(ClientTest, GenerateNameRetriesOnCollision) {
  CreateRefusingStore refusing(store_.get(), /*refuse=*/2);
  Client client(&refusing, &api::Scheme::Builtin(), &executor_.clock(), 3);
  v1::Pod pod = MakePod("");
  pod.mutable_metadata()->set_generate_name("web-");
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Pod out, client.Create(pod));
  ASSERT_EQ(refusing.keys.size(), 3u);
  EXPECT_EQ(std::set<std::string>(refusing.keys.begin(), refusing.keys.end()).size(), 3u);
  EXPECT_EQ(refusing.keys.back(), store::ObjectKey("pods", "default", out.metadata().name()));
}

TEST_F(ClientTest, GenerateNameGivesUpAfterRepeatedCollisions) {
  CreateRefusingStore refusing(store_.get(), /*refuse=*/1000);
  Client client(&refusing, &api::Scheme::Builtin(), &executor_.clock(), 3);
  v1::Pod pod = MakePod("");
  pod.mutable_metadata()->set_generate_name("web-");
  EXPECT_THAT(client.Create(pod), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(refusing.keys.size(), 8u);
}

TEST_F(ClientTest, CreateOfExistingNameIsAlreadyExists) {
  ORCH_ASSERT_OK(client_->Create(MakeDeployment("web")).status());
  EXPECT_THAT(client_->Create(MakeDeployment("web")),
              StatusIs(absl::StatusCode::kAlreadyExists, "deployments \"web\" already exists"));
}

TEST_F(ClientTest, CreateOverAnObjectBeingDeletedSaysSo) {
  v1::Deployment d = MakeDeployment("web");
  d.mutable_metadata()->add_finalizers("example.com/hold");
  ORCH_ASSERT_OK(client_->Create(d).status());
  ORCH_ASSERT_OK(client_->Delete<v1::Deployment>("default", "web"));
  EXPECT_THAT(client_->Create(MakeDeployment("web")),
              StatusIs(absl::StatusCode::kAlreadyExists,
                       "object is being deleted: deployments \"web\" already exists"));
}

TEST_F(ClientTest, CreateResetsStatusExceptForNodes) {
  v1::Deployment d = MakeDeployment("web");
  d.mutable_status()->set_replicas(5);
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Deployment out, client_->Create(d));
  EXPECT_EQ(out.status().replicas(), 0);

  v1::Pod pod = MakePod("p");
  pod.mutable_status()->set_phase("Running");
  pod.mutable_status()->set_pod_ip("10.0.0.1");
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Pod pod_out, client_->Create(pod));
  EXPECT_EQ(pod_out.status().phase(), "Pending");
  EXPECT_EQ(pod_out.status().pod_ip(), "");

  v1::Node node = MakeNode("n1");
  (*node.mutable_status()->mutable_capacity())["cpu"].set_value("4");
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Node node_out, client_->Create(node));
  EXPECT_EQ(node_out.status().capacity().at("cpu").value(), "4");
}

TEST_F(ClientTest, CreateRunsTheKindsDefaulter) {
  v1::Deployment d = MakeDeployment("web");
  d.mutable_spec()->clear_replicas();
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Deployment out, client_->Create(d));
  EXPECT_TRUE(out.spec().has_replicas());
  EXPECT_EQ(out.spec().replicas(), 1);
  EXPECT_EQ(out.spec().strategy().type(), "RollingUpdate");
}

TEST_F(ClientTest, CreateRunsTheKindsValidatorAndWritesNothingOnError) {
  v1::Deployment d = MakeDeployment("web");
  d.mutable_spec()->set_replicas(-1);
  const int64_t before = Revision();
  EXPECT_THAT(client_->Create(d),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("spec.replicas")));
  EXPECT_EQ(Revision(), before);
  EXPECT_THAT(client_->Get<v1::Deployment>("default", "web"),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(ClientTest, NamespacedKindsDefaultToTheDefaultNamespace) {
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Deployment out, client_->Create(MakeDeployment("web", 1, "")));
  EXPECT_EQ(out.metadata().namespace_(), "default");
  ORCH_EXPECT_OK(client_->Get<v1::Deployment>("", "web").status());
}

TEST_F(ClientTest, NamespacesAreNotRequiredToExist) {
  ORCH_EXPECT_OK(client_->Create(MakeDeployment("web", 1, "team-a")).status());
}

TEST_F(ClientTest, ClusterScopedKindsRejectANamespace) {
  v1::Node node = MakeNode("n1");
  node.mutable_metadata()->set_namespace_("default");
  EXPECT_THAT(client_->Create(node),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("metadata.namespace")));
  EXPECT_THAT(client_->Get<v1::Node>("default", "n1"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(client_->List<v1::Node>("default"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(ClientTest, BadNamesAndNamespacesAreRejectedBeforeTheStore) {
  EXPECT_THAT(client_->Create(MakeDeployment("a/b")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("metadata.name")));
  EXPECT_THAT(client_->Create(MakeDeployment("web", 1, "Bad_NS")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("metadata.namespace")));
  EXPECT_THAT(client_->Get<v1::Deployment>("default", ".."),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(ClientTest, MismatchedApiVersionOrKindIsRejected) {
  v1::Deployment d = MakeDeployment("web");
  d.set_api_version("extensions/v1beta1");
  EXPECT_THAT(client_->Create(d),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("apiVersion")));
  d = MakeDeployment("web");
  d.set_kind("ReplicaSet");
  EXPECT_THAT(client_->Create(d), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("kind")));
}

TEST_F(ClientTest, MessagesThatAreNotKindsAreRejected) {
  EXPECT_THAT(client_->Get<v1::PodSpec>("default", "x"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("orch.api.v1.PodSpec")));
  EXPECT_THAT(client_->Create(v1::ObjectMeta()), StatusIs(absl::StatusCode::kInvalidArgument));
}

// ---------------------------------------------------------------- get / list

TEST_F(ClientTest, GetOfMissingObjectIsNotFound) {
  EXPECT_THAT(client_->Get<v1::Deployment>("default", "web"),
              StatusIs(absl::StatusCode::kNotFound, "deployments \"web\" not found"));
}

TEST_F(ClientTest, ListFiltersByNamespaceLabelsAndFields) {
  ORCH_ASSERT_OK(client_->Create(MakePod("a", "node-1")).status());
  ORCH_ASSERT_OK(client_->Create(MakePod("b", "node-2")).status());
  v1::Pod c = MakePod("c", "node-1", "other");
  (*c.mutable_metadata()->mutable_labels())["app"] = "db";
  ORCH_ASSERT_OK(client_->Create(c).status());

  ORCH_ASSERT_OK_AND_ASSIGN(auto all, client_->List<v1::Pod>(""));
  EXPECT_THAT(Names(all), ElementsAre("a", "b", "c"));
  EXPECT_EQ(Rv(all.resource_version), Revision());
  EXPECT_EQ(all.items[0].metadata().resource_version(),
            client_->Get<v1::Pod>("default", "a")->metadata().resource_version());

  ORCH_ASSERT_OK_AND_ASSIGN(auto in_default, client_->List<v1::Pod>("default"));
  EXPECT_THAT(Names(in_default), ElementsAre("a", "b"));

  ListOptions by_label;
  by_label.label_selector = api::LabelSelector::Parse("app=db").value();
  ORCH_ASSERT_OK_AND_ASSIGN(auto dbs, client_->List<v1::Pod>("", by_label));
  EXPECT_THAT(Names(dbs), ElementsAre("c"));

  ListOptions by_field;
  by_field.field_selector = api::FieldSelector::Parse("spec.nodeName=node-1").value();
  ORCH_ASSERT_OK_AND_ASSIGN(auto on_node, client_->List<v1::Pod>("", by_field));
  EXPECT_THAT(Names(on_node), ElementsAre("a", "c"));

  ListOptions bad_field;
  bad_field.field_selector = api::FieldSelector::Parse("spec.nope=x").value();
  EXPECT_THAT(client_->List<v1::Pod>("", bad_field), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(ClientTest, ListPagesWithLimitAndContinue) {
  for (const char* name : {"a", "b", "c", "d", "e"}) {
    ORCH_ASSERT_OK(client_->Create(MakePod(name)).status());
  }
  ListOptions options;
  options.limit = 2;
  std::vector<std::string> seen;
  std::string first_rv;
  int pages = 0;
  do {
    ORCH_ASSERT_OK_AND_ASSIGN(auto page, client_->List<v1::Pod>("default", options));
    if (first_rv.empty()) first_rv = page.resource_version;
    EXPECT_EQ(page.resource_version, first_rv);
    EXPECT_LE(page.items.size(), 2u);
    for (const auto& name : Names(page)) seen.push_back(name);
    options.continue_token = page.continue_token;
    if (pages == 0) ORCH_ASSERT_OK(client_->Create(MakePod("f")).status());  // not in this list
    ++pages;
  } while (!options.continue_token.empty());
  EXPECT_EQ(pages, 3);
  EXPECT_THAT(seen, ElementsAre("a", "b", "c", "d", "e"));
}

TEST_F(ClientTest, ListAtAnOlderResourceVersion) {
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Pod a, client_->Create(MakePod("a")));
  ORCH_ASSERT_OK(client_->Create(MakePod("b")).status());
  ListOptions options;
  options.resource_version = a.metadata().resource_version();
  ORCH_ASSERT_OK_AND_ASSIGN(auto old, client_->List<v1::Pod>("default", options));
  EXPECT_THAT(Names(old), ElementsAre("a"));
  EXPECT_EQ(old.resource_version, a.metadata().resource_version());

  options.resource_version = "abc";
  EXPECT_THAT(client_->List<v1::Pod>("default", options),
              StatusIs(absl::StatusCode::kInvalidArgument));

  ORCH_ASSERT_OK(store_->Compact(Revision()));
  options.resource_version = a.metadata().resource_version();
  EXPECT_THAT(client_->List<v1::Pod>("default", options), StatusIs(absl::StatusCode::kOutOfRange));
}

// ---------------------------------------------------------------- update

TEST_F(ClientTest, UpdateWithStaleResourceVersionConflicts) {
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Deployment first, client_->Create(MakeDeployment("web")));
  v1::Deployment second = first;
  first.mutable_spec()->set_replicas(3);
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Deployment updated, client_->Update(first));
  EXPECT_GT(Rv(updated.metadata().resource_version()), Rv(first.metadata().resource_version()));

  second.mutable_spec()->set_replicas(4);
  const int64_t before = Revision();
  EXPECT_THAT(client_->Update(second),
              StatusIs(absl::StatusCode::kAborted,
                       "Operation cannot be fulfilled on deployments \"web\": the object has been "
                       "modified; please apply your changes to the latest version and try again"));
  EXPECT_EQ(Revision(), before);
  EXPECT_EQ(client_->Get<v1::Deployment>("default", "web")->spec().replicas(), 3);
}

TEST_F(ClientTest, UpdateWithoutResourceVersionIsUnconditional) {
  ORCH_ASSERT_OK(client_->Create(MakeDeployment("web")).status());
  ORCH_ASSERT_OK(client_->Update(MakeDeployment("web", 3)).status());  // a stale view
  v1::Deployment blind = MakeDeployment("web", 5);
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Deployment out, client_->Update(blind));
  EXPECT_EQ(out.spec().replicas(), 5);
  EXPECT_EQ(Rv(out.metadata().resource_version()), Revision());
}

TEST_F(ClientTest, UpdateOfMissingObjectIsNotFound) {
  EXPECT_THAT(client_->Update(MakeDeployment("web")),
              StatusIs(absl::StatusCode::kNotFound, "deployments \"web\" not found"));
}

TEST_F(ClientTest, UpdateKeepsUidAndCreationTimestamp) {
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Deployment d, client_->Create(MakeDeployment("web")));
  const v1::ObjectMeta original = d.metadata();
  d.mutable_metadata()->clear_uid();  // empty: taken from the stored object
  d.mutable_metadata()->mutable_creation_timestamp()->set_seconds(1);  // ignored
  d.mutable_metadata()->set_generation(42);                            // ignored
  (*d.mutable_metadata()->mutable_labels())["tier"] = "front";
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Deployment out, client_->Update(d));
  EXPECT_EQ(out.metadata().uid(), original.uid());
  EXPECT_EQ(out.metadata().creation_timestamp().seconds(), original.creation_timestamp().seconds());
  EXPECT_EQ(out.metadata().generation(), 1);
  EXPECT_EQ(out.metadata().labels().at("tier"), "front");

  out.mutable_metadata()->set_uid("someone-else");
  EXPECT_THAT(client_->Update(out),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("metadata.uid")));
}

TEST_F(ClientTest, UpdateIgnoresStatusAndUpdateStatusTakesOnlyStatus) {
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Deployment d, client_->Create(MakeDeployment("web")));
  d.mutable_status()->set_replicas(7);
  d.mutable_spec()->set_replicas(3);
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Deployment updated, client_->Update(d));
  EXPECT_EQ(updated.status().replicas(), 0);
  EXPECT_EQ(updated.spec().replicas(), 3);

  updated.mutable_status()->set_replicas(7);
  updated.mutable_spec()->set_replicas(9);                         // ignored
  (*updated.mutable_metadata()->mutable_labels())["x"] = "y";      // ignored
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Deployment status_updated, client_->UpdateStatus(updated));
  EXPECT_EQ(status_updated.status().replicas(), 7);
  EXPECT_EQ(status_updated.spec().replicas(), 3);
  EXPECT_FALSE(status_updated.metadata().labels().contains("x"));
  EXPECT_EQ(status_updated.metadata().generation(), 2);  // status never bumps it

  ORCH_ASSERT_OK_AND_ASSIGN(v1::Deployment stored, client_->Get<v1::Deployment>("default", "web"));
  EXPECT_EQ(stored.status().replicas(), 7);
  EXPECT_EQ(stored.spec().replicas(), 3);
}

TEST_F(ClientTest, UpdateStatusChecksResourceVersion) {
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Deployment d, client_->Create(MakeDeployment("web")));
  ORCH_ASSERT_OK(client_->Update(MakeDeployment("web", 4)).status());
  d.mutable_status()->set_replicas(1);
  EXPECT_THAT(client_->UpdateStatus(d), StatusIs(absl::StatusCode::kAborted));
}

TEST_F(ClientTest, UpdateStatusOfKindWithoutStatusIsInvalid) {
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Lease lease, client_->Create(MakeLease("l")));
  EXPECT_THAT(client_->UpdateStatus(lease),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("leases have no status")));
}

TEST_F(ClientTest, GenerationBumpsOnlyWhenSpecChanges) {
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Deployment d, client_->Create(MakeDeployment("web")));
  (*d.mutable_metadata()->mutable_annotations())["note"] = "hi";
  ORCH_ASSERT_OK_AND_ASSIGN(d, client_->Update(d));
  EXPECT_EQ(d.metadata().generation(), 1);
  d.mutable_spec()->set_replicas(5);
  ORCH_ASSERT_OK_AND_ASSIGN(d, client_->Update(d));
  EXPECT_EQ(d.metadata().generation(), 2);
  d.mutable_spec()->set_paused(true);
  ORCH_ASSERT_OK_AND_ASSIGN(d, client_->Update(d));
  EXPECT_EQ(d.metadata().generation(), 3);
  d.mutable_status()->set_observed_generation(3);
  ORCH_ASSERT_OK_AND_ASSIGN(d, client_->UpdateStatus(d));
  EXPECT_EQ(d.metadata().generation(), 3);
}

TEST_F(ClientTest, DefaultingIsAppliedBeforeComparingSpecs) {
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Deployment d, client_->Create(MakeDeployment("web")));
  // Sending the object without its defaulted fields changes nothing after defaulting.
  d.mutable_spec()->clear_strategy();
  d.mutable_spec()->clear_revision_history_limit();
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Deployment out, client_->Update(d));
  EXPECT_EQ(out.metadata().generation(), 1);
}

TEST_F(ClientTest, NoOpUpdateWritesNothing) {
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Deployment d, client_->Create(MakeDeployment("web")));
  const int64_t before = Revision();
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Deployment out, client_->Update(d));
  EXPECT_EQ(Revision(), before);
  EXPECT_EQ(out.metadata().resource_version(), d.metadata().resource_version());
}

TEST_F(ClientTest, UpdateValidatesTheResult) {
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Deployment d, client_->Create(MakeDeployment("web")));
  d.mutable_spec()->set_replicas(-3);
  const int64_t before = Revision();
  EXPECT_THAT(client_->Update(d),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("spec.replicas")));
  EXPECT_EQ(Revision(), before);
}

// ---------------------------------------------------------------- UTF-8

// Protobuf writes any bytes into a string field but will not parse a string that is not
// UTF-8: such an object would be stored and then never read again.
constexpr char kNotUtf8[] = "\xff\xfe";

TEST_F(ClientTest, CreateRefusesStringsThatAreNotUtf8AndWritesNothing) {
  struct Case {
    std::string path;
    std::function<void(v1::Pod&)> spoil;
  };
  const std::vector<Case> cases = {
      {"metadata.annotations[a]",
       [](v1::Pod& p) { (*p.mutable_metadata()->mutable_annotations())["a"] = kNotUtf8; }},
      {"spec.containers[0].args[1]",
       [](v1::Pod& p) {
         p.mutable_spec()->mutable_containers(0)->add_args("--ok");
         p.mutable_spec()->mutable_containers(0)->add_args(std::string("--bad=") + kNotUtf8);
       }},
      {"spec.containers[0].env[0].value",
       [](v1::Pod& p) {
         v1::EnvVar& env = *p.mutable_spec()->mutable_containers(0)->add_env();
         env.set_name("GREETING");
         env.set_value(kNotUtf8);
       }},
      {"spec.containers[0].workingDir",
       [](v1::Pod& p) { p.mutable_spec()->mutable_containers(0)->set_working_dir(kNotUtf8); }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.path);
    v1::Pod pod = MakePod("p");
    c.spoil(pod);
    const int64_t before = Revision();
    EXPECT_THAT(client_->Create(pod),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         c.path + ": Invalid value: must be valid UTF-8"));
    EXPECT_EQ(Revision(), before);
    EXPECT_THAT(client_->Get<v1::Pod>("default", "p"), StatusIs(absl::StatusCode::kNotFound));
  }
}

TEST_F(ClientTest, AMapKeyThatIsNotUtf8IsNamedWithItsBytesEscaped) {
  v1::EndpointSlice slice;
  slice.mutable_metadata()->set_name("web");
  slice.set_address_type("IPv4");
  v1::Endpoint& endpoint = *slice.add_endpoints();
  endpoint.add_addresses("10.0.0.1");
  (*endpoint.mutable_deprecated_topology())[std::string("zone-") + kNotUtf8] = "a";
  const int64_t before = Revision();
  EXPECT_THAT(client_->Create(slice),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "endpoints[0].deprecatedTopology[zone-\\xff\\xfe]: Invalid value: must be "
                       "valid UTF-8"));
  EXPECT_EQ(Revision(), before);
}

TEST_F(ClientTest, UpdateRefusesStringsThatAreNotUtf8AndWritesNothing) {
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Pod pod, client_->Create(MakePod("p")));
  (*pod.mutable_metadata()->mutable_annotations())["note"] = kNotUtf8;
  const int64_t before = Revision();
  EXPECT_THAT(client_->Update(pod),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "metadata.annotations[note]: Invalid value: must be valid UTF-8"));
  EXPECT_EQ(Revision(), before);
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Pod stored, client_->Get<v1::Pod>("default", "p"));
  EXPECT_THAT(stored.metadata().annotations(), IsEmpty());
}

TEST_F(ClientTest, UpdateStatusRefusesStringsThatAreNotUtf8AndWritesNothing) {
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Pod pod, client_->Create(MakePod("p")));
  pod.mutable_status()->set_message(kNotUtf8);
  const int64_t before = Revision();
  EXPECT_THAT(client_->UpdateStatus(pod),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "status.message: Invalid value: must be valid UTF-8"));
  pod.mutable_status()->clear_message();
  v1::PodCondition& condition = *pod.mutable_status()->add_conditions();
  condition.set_type("Ready");
  condition.set_status("False");
  condition.set_reason(kNotUtf8);
  EXPECT_THAT(client_->UpdateStatus(pod),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "status.conditions[0].reason: Invalid value: must be valid UTF-8"));
  EXPECT_EQ(Revision(), before);
  EXPECT_EQ(client_->Get<v1::Pod>("default", "p")->status().message(), "");
}

TEST_F(ClientTest, BindWritesNothingOfTheCallersCopyButItsIdentity) {
  // Bind takes the pod's namespace, name, resourceVersion and uid from the caller; what it
  // binds is the pod as stored, so changes made only to the caller's copy (here an
  // annotation that is not even UTF-8) are not written.
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Pod pod, client_->Create(MakePod("p")));
  v1::Pod spoiled = pod;
  (*spoiled.mutable_metadata()->mutable_annotations())["a"] = kNotUtf8;
  spoiled.mutable_spec()->mutable_containers(0)->set_image("other:1");
  ORCH_ASSERT_OK(client_->Bind(spoiled, "node-1").status());
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Pod stored, client_->Get<v1::Pod>("default", "p"));
  EXPECT_EQ(stored.spec().node_name(), "node-1");
  EXPECT_FALSE(stored.metadata().annotations().contains("a"));
  EXPECT_EQ(stored.spec().containers(0).image(), pod.spec().containers(0).image());
}

// A scheduler binds the object its informer took from the stored bytes: Bind knows it for
// their decoded form by identity and writes the splice, which is exactly the encoding of
// that pod bound; the bound pod goes on to the next reader, stamped with the new revision.
TEST_F(ClientTest, BindOfTheObjectTakenFromTheStoredBytesWritesItBound) {
  ORCH_ASSERT_OK(client_->Create(MakePod("p")).status());
  const std::string key = store::ObjectKey("pods", "default", "p");
  ORCH_ASSERT_OK_AND_ASSIGN(store::KeyValue kv, store_->Get(key));
  const std::shared_ptr<const google::protobuf::Message> taken = kv.value.TakeDecoded();
  ASSERT_NE(taken, nullptr);
  const auto& pod = static_cast<const v1::Pod&>(*taken);
  ASSERT_TRUE(kv.value.IsTakenAs(pod));

  ORCH_ASSERT_OK_AND_ASSIGN(std::string written, client_->Bind(pod, "node-1"));
  v1::Pod expected = pod;
  expected.mutable_metadata()->clear_resource_version();
  internal::ApplyBinding("node-1", absl::ToUnixSeconds(executor_.clock().Now()), &expected);
  ORCH_ASSERT_OK_AND_ASSIGN(kv, store_->Get(key));
  EXPECT_EQ(kv.value.str(), api::DeterministicBytes(expected));
  EXPECT_EQ(std::to_string(kv.mod_revision), written);
  const std::shared_ptr<const google::protobuf::Message> bound = kv.value.TakeDecoded();
  ASSERT_NE(bound, nullptr);
  expected.mutable_metadata()->set_resource_version(written);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*bound, expected))
      << bound->ShortDebugString();
}

TEST_F(ClientTest, BindOfStoredBytesInAnotherFieldOrderDecodesThem) {
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Pod pod, client_->Create(MakePod("p")));
  const std::string key = store::ObjectKey("pods", "default", "p");
  ORCH_ASSERT_OK_AND_ASSIGN(store::KeyValue kv, store_->Get(key));
  // An empty status first: the same pod, in an order no deterministic serializer writes.
  ORCH_ASSERT_OK_AND_ASSIGN(
      int64_t rev, store_->Update(key, std::string("\x2a\x00", 2) + kv.value.str(), kv.mod_revision));
  pod.mutable_metadata()->set_resource_version(std::to_string(rev));
  ORCH_ASSERT_OK(client_->Bind(pod, "node-1").status());
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Pod stored, client_->Get<v1::Pod>("default", "p"));
  EXPECT_EQ(stored.spec().node_name(), "node-1");
  ASSERT_EQ(stored.status().conditions_size(), 1);
  EXPECT_EQ(stored.status().conditions(0).status(), "True");
  ORCH_ASSERT_OK_AND_ASSIGN(kv, store_->Get(key));
  v1::Pod expected = stored;
  expected.mutable_metadata()->clear_resource_version();  // kept beside the bytes, not in them
  EXPECT_EQ(kv.value.str(), api::DeterministicBytes(expected));  // in a serializer's order again
}

TEST_F(ClientTest, BindOfAPodWithAnotherUidIsAConflict) {
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Pod pod, client_->Create(MakePod("p")));
  v1::Pod other = pod;
  other.mutable_metadata()->set_uid("9c6f1a2e-0000-4000-8000-000000000000");
  other.mutable_metadata()->clear_resource_version();  // no revision to catch it
  const int64_t before = Revision();
  EXPECT_THAT(client_->Bind(other, "node-1").status(),
              StatusIs(absl::StatusCode::kAborted,
                       HasSubstr("Precondition failed: UID in precondition: "
                                 "9c6f1a2e-0000-4000-8000-000000000000, UID in object meta: " +
                                 pod.metadata().uid())));
  EXPECT_EQ(Revision(), before);
}

TEST_F(ClientTest, MultiByteUtf8IsWrittenAndReadBack) {
  v1::Pod pod = MakePod("p");
  (*pod.mutable_metadata()->mutable_annotations())["greeting"] = "héllo";
  (*pod.mutable_metadata()->mutable_annotations())["mixed"] = "a\u00e9\u65e5\U0001F600z";
  pod.mutable_spec()->mutable_containers(0)->add_args("日本");
  pod.mutable_spec()->mutable_containers(0)->add_args("\U0001F680 \U0010FFFF \uFFFD");
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Pod created, client_->Create(pod));
  created.mutable_status()->set_message("démarré \U0001F44D");
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Pod updated, client_->UpdateStatus(created));
  ORCH_ASSERT_OK_AND_ASSIGN(std::string version, client_->Bind(updated, "node-1"));
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Pod stored, client_->Get<v1::Pod>("default", "p"));
  EXPECT_EQ(stored.metadata().resource_version(), version);
  EXPECT_EQ(stored.metadata().annotations().at("greeting"), "héllo");
  EXPECT_EQ(stored.metadata().annotations().at("mixed"), "a\u00e9\u65e5\U0001F600z");
  EXPECT_THAT(stored.spec().containers(0).args(),
              ElementsAre("日本", "\U0001F680 \U0010FFFF \uFFFD"));
  EXPECT_EQ(stored.status().message(), "démarré \U0001F44D");
}

// ---------------------------------------------------------------- finalizers

TEST_F(ClientTest, DeleteOfObjectWithFinalizersMarksIt) {
  v1::Deployment d = MakeDeployment("web");
  d.mutable_metadata()->add_finalizers("example.com/cleanup");
  ORCH_ASSERT_OK(client_->Create(d).status());
  executor_.AdvanceBy(absl::Seconds(10));
  ORCH_ASSERT_OK(client_->Delete<v1::Deployment>("default", "web"));
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Deployment marked, client_->Get<v1::Deployment>("default", "web"));
  EXPECT_EQ(marked.metadata().deletion_timestamp().seconds(), 1767225610);
  EXPECT_EQ(marked.metadata().deletion_grace_period_seconds(), 0);
  EXPECT_EQ(marked.metadata().generation(), 2);

  // A second delete changes nothing.
  const int64_t before = Revision();
  ORCH_ASSERT_OK(client_->Delete<v1::Deployment>("default", "web"));
  EXPECT_EQ(Revision(), before);
}

TEST_F(ClientTest, FinalizersCannotBeAddedOnceDeleting) {
  v1::Deployment d = MakeDeployment("web");
  d.mutable_metadata()->add_finalizers("a");
  ORCH_ASSERT_OK(client_->Create(d).status());
  ORCH_ASSERT_OK(client_->Delete<v1::Deployment>("default", "web"));
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Deployment marked, client_->Get<v1::Deployment>("default", "web"));
  marked.mutable_metadata()->add_finalizers("b");
  EXPECT_THAT(client_->Update(marked),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("metadata.finalizers: Forbidden: no new finalizers")));
  // Nor can an update clear the deletion timestamp.
  marked.mutable_metadata()->clear_finalizers();
  marked.mutable_metadata()->add_finalizers("a");
  marked.mutable_metadata()->clear_deletion_timestamp();
  (*marked.mutable_metadata()->mutable_labels())["still"] = "here";
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Deployment out, client_->Update(marked));
  EXPECT_TRUE(out.metadata().has_deletion_timestamp());
}

TEST_F(ClientTest, RemovingTheLastFinalizerDeletesTheObject) {
  v1::Deployment d = MakeDeployment("web");
  d.mutable_metadata()->add_finalizers("a");
  d.mutable_metadata()->add_finalizers("b");
  ORCH_ASSERT_OK(client_->Create(d).status());
  ORCH_ASSERT_OK(client_->Delete<v1::Deployment>("default", "web"));

  ORCH_ASSERT_OK_AND_ASSIGN(v1::Deployment marked, client_->Get<v1::Deployment>("default", "web"));
  marked.mutable_metadata()->mutable_finalizers()->RemoveLast();
  ORCH_ASSERT_OK_AND_ASSIGN(marked, client_->Update(marked));
  EXPECT_THAT(marked.metadata().finalizers(), ElementsAre("a"));
  ORCH_EXPECT_OK(client_->Get<v1::Deployment>("default", "web").status());

  marked.mutable_metadata()->clear_finalizers();
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Deployment last, client_->Update(marked));
  EXPECT_THAT(last.metadata().finalizers(), IsEmpty());
  EXPECT_EQ(Rv(last.metadata().resource_version()), Revision());
  EXPECT_THAT(client_->Get<v1::Deployment>("default", "web"),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(ClientTest, RemovingFinalizersOfAnObjectNotBeingDeletedKeepsIt) {
  v1::Deployment d = MakeDeployment("web");
  d.mutable_metadata()->add_finalizers("a");
  ORCH_ASSERT_OK_AND_ASSIGN(d, client_->Create(d));
  d.mutable_metadata()->clear_finalizers();
  ORCH_ASSERT_OK(client_->Update(d).status());
  ORCH_EXPECT_OK(client_->Get<v1::Deployment>("default", "web").status());
}

// ---------------------------------------------------------------- delete

TEST_F(ClientTest, DeleteRemovesAnObjectWithoutFinalizers) {
  ORCH_ASSERT_OK(client_->Create(MakeDeployment("web")).status());
  ORCH_ASSERT_OK(client_->Delete<v1::Deployment>("default", "web"));
  EXPECT_THAT(client_->Get<v1::Deployment>("default", "web"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(client_->Delete<v1::Deployment>("default", "web"),
              StatusIs(absl::StatusCode::kNotFound, "deployments \"web\" not found"));
}

TEST_F(ClientTest, PropagationPoliciesSetTheGarbageCollectorsFinalizers) {
  ORCH_ASSERT_OK(client_->Create(MakeDeployment("fg")).status());
  DeleteOptions foreground;
  foreground.propagation_policy = PropagationPolicy::kForeground;
  ORCH_ASSERT_OK(client_->Delete<v1::Deployment>("default", "fg", foreground));
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Deployment fg, client_->Get<v1::Deployment>("default", "fg"));
  EXPECT_THAT(fg.metadata().finalizers(), ElementsAre("foregroundDeletion"));
  EXPECT_TRUE(fg.metadata().has_deletion_timestamp());

  ORCH_ASSERT_OK(client_->Create(MakeDeployment("orphan")).status());
  DeleteOptions orphan;
  orphan.propagation_policy = PropagationPolicy::kOrphan;
  ORCH_ASSERT_OK(client_->Delete<v1::Deployment>("default", "orphan", orphan));
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Deployment o, client_->Get<v1::Deployment>("default", "orphan"));
  EXPECT_THAT(o.metadata().finalizers(), ElementsAre("orphan"));

  // Background on an object held only by "orphan" lets it go.
  DeleteOptions background;
  background.propagation_policy = PropagationPolicy::kBackground;
  ORCH_ASSERT_OK(client_->Delete<v1::Deployment>("default", "orphan", background));
  EXPECT_THAT(client_->Get<v1::Deployment>("default", "orphan"),
              StatusIs(absl::StatusCode::kNotFound));

  ORCH_ASSERT_OK(client_->Create(MakeDeployment("bg")).status());
  ORCH_ASSERT_OK(client_->Delete<v1::Deployment>("default", "bg", background));
  EXPECT_THAT(client_->Get<v1::Deployment>("default", "bg"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(ClientTest, DeletePreconditions) {
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Deployment stale, client_->Create(MakeDeployment("web")));
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Deployment d, client_->Update(MakeDeployment("web", 5)));
  DeleteOptions wrong_uid;
  wrong_uid.preconditions.uid = "not-it";
  EXPECT_THAT(client_->Delete<v1::Deployment>("default", "web", wrong_uid),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("Precondition failed: UID in precondition: not-it")));
  DeleteOptions old_rv;
  old_rv.preconditions.resource_version = stale.metadata().resource_version();
  EXPECT_THAT(client_->Delete<v1::Deployment>("default", "web", old_rv),
              StatusIs(absl::StatusCode::kAborted,
                       HasSubstr("Precondition failed: ResourceVersion in precondition: " +
                                 stale.metadata().resource_version())));
  ORCH_EXPECT_OK(client_->Get<v1::Deployment>("default", "web").status());

  DeleteOptions exact;
  exact.preconditions.uid = d.metadata().uid();
  exact.preconditions.resource_version = d.metadata().resource_version();
  ORCH_ASSERT_OK(client_->Delete<v1::Deployment>("default", "web", exact));
  EXPECT_THAT(client_->Get<v1::Deployment>("default", "web"),
              StatusIs(absl::StatusCode::kNotFound));
}

// ---------------------------------------------------------------- pod graceful deletion

TEST_F(ClientTest, BoundPodIsDeletedGracefully) {
  ORCH_ASSERT_OK(client_->Create(MakePod("p", "node-1")).status());
  ORCH_ASSERT_OK(client_->Delete<v1::Pod>("default", "p"));
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Pod marked, client_->Get<v1::Pod>("default", "p"));
  // terminationGracePeriodSeconds defaults to 30.
  EXPECT_EQ(marked.metadata().deletion_timestamp().seconds(), 1767225600 + 30);
  EXPECT_EQ(marked.metadata().deletion_grace_period_seconds(), 30);

  // Asking again with the same or a longer grace changes nothing.
  const int64_t before = Revision();
  ORCH_ASSERT_OK(client_->Delete<v1::Pod>("default", "p"));
  DeleteOptions longer;
  longer.grace_period_seconds = 60;
  ORCH_ASSERT_OK(client_->Delete<v1::Pod>("default", "p", longer));
  EXPECT_EQ(Revision(), before);

  // A shorter grace shortens it.
  executor_.AdvanceBy(absl::Seconds(2));
  DeleteOptions shorter;
  shorter.grace_period_seconds = 5;
  ORCH_ASSERT_OK(client_->Delete<v1::Pod>("default", "p", shorter));
  ORCH_ASSERT_OK_AND_ASSIGN(marked, client_->Get<v1::Pod>("default", "p"));
  EXPECT_EQ(marked.metadata().deletion_timestamp().seconds(), 1767225602 + 5);
  EXPECT_EQ(marked.metadata().deletion_grace_period_seconds(), 5);

  // The node agent finishes it with grace 0.
  DeleteOptions now;
  now.grace_period_seconds = 0;
  ORCH_ASSERT_OK(client_->Delete<v1::Pod>("default", "p", now));
  EXPECT_THAT(client_->Get<v1::Pod>("default", "p"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(ClientTest, PodGraceComesFromTheOptionOrTheSpec) {
  v1::Pod pod = MakePod("p", "node-1");
  pod.mutable_spec()->set_termination_grace_period_seconds(12);
  ORCH_ASSERT_OK(client_->Create(pod).status());
  ORCH_ASSERT_OK(client_->Delete<v1::Pod>("default", "p"));
  EXPECT_EQ(client_->Get<v1::Pod>("default", "p")->metadata().deletion_grace_period_seconds(), 12);

  ORCH_ASSERT_OK(client_->Create(MakePod("q", "node-1")).status());
  DeleteOptions options;
  options.grace_period_seconds = -4;  // as Kubernetes: negative means 1
  ORCH_ASSERT_OK(client_->Delete<v1::Pod>("default", "q", options));
  EXPECT_EQ(client_->Get<v1::Pod>("default", "q")->metadata().deletion_grace_period_seconds(), 1);
}

TEST_F(ClientTest, UnboundAndTerminalPodsAreDeletedAtOnce) {
  ORCH_ASSERT_OK(client_->Create(MakePod("unbound")).status());
  ORCH_ASSERT_OK(client_->Delete<v1::Pod>("default", "unbound"));
  EXPECT_THAT(client_->Get<v1::Pod>("default", "unbound"), StatusIs(absl::StatusCode::kNotFound));

  ORCH_ASSERT_OK_AND_ASSIGN(v1::Pod done, client_->Create(MakePod("done", "node-1")));
  done.mutable_status()->set_phase("Succeeded");
  ORCH_ASSERT_OK(client_->UpdateStatus(done).status());
  ORCH_ASSERT_OK(client_->Delete<v1::Pod>("default", "done"));
  EXPECT_THAT(client_->Get<v1::Pod>("default", "done"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(ClientTest, GracefulPodWithFinalizerWaitsForBoth) {
  v1::Pod pod = MakePod("p", "node-1");
  pod.mutable_metadata()->add_finalizers("example.com/x");
  ORCH_ASSERT_OK(client_->Create(pod).status());
  ORCH_ASSERT_OK(client_->Delete<v1::Pod>("default", "p"));

  // Removing the finalizer while the grace period runs does not delete the pod ...
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Pod marked, client_->Get<v1::Pod>("default", "p"));
  marked.mutable_metadata()->clear_finalizers();
  ORCH_ASSERT_OK(client_->Update(marked).status());
  ORCH_ASSERT_OK_AND_ASSIGN(marked, client_->Get<v1::Pod>("default", "p"));
  EXPECT_EQ(marked.metadata().deletion_grace_period_seconds(), 30);

  // ... the final delete with grace 0 does.
  DeleteOptions now;
  now.grace_period_seconds = 0;
  ORCH_ASSERT_OK(client_->Delete<v1::Pod>("default", "p", now));
  EXPECT_THAT(client_->Get<v1::Pod>("default", "p"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(ClientTest, ForcedPodDeleteWithFinalizerWaitsForTheFinalizer) {
  v1::Pod pod = MakePod("p", "node-1");
  pod.mutable_metadata()->add_finalizers("example.com/x");
  ORCH_ASSERT_OK(client_->Create(pod).status());
  DeleteOptions now;
  now.grace_period_seconds = 0;
  ORCH_ASSERT_OK(client_->Delete<v1::Pod>("default", "p", now));
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Pod marked, client_->Get<v1::Pod>("default", "p"));
  EXPECT_EQ(marked.metadata().deletion_grace_period_seconds(), 0);
  marked.mutable_metadata()->clear_finalizers();
  ORCH_ASSERT_OK(client_->Update(marked).status());
  EXPECT_THAT(client_->Get<v1::Pod>("default", "p"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(ClientTest, GracePeriodIsIgnoredForOtherKinds) {
  ORCH_ASSERT_OK(client_->Create(MakeDeployment("web")).status());
  DeleteOptions options;
  options.grace_period_seconds = 30;
  ORCH_ASSERT_OK(client_->Delete<v1::Deployment>("default", "web", options));
  EXPECT_THAT(client_->Get<v1::Deployment>("default", "web"),
              StatusIs(absl::StatusCode::kNotFound));
}

// ---------------------------------------------------------------- untyped core

TEST_F(ClientTest, UntypedCoreWorksOnAnyKindsMessage) {
  std::unique_ptr<google::protobuf::Message> node(v1::Node::default_instance().New());
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString("metadata { name: 'n1' }", node.get()));
  ORCH_ASSERT_OK(client_->CreateObject(node.get()));
  EXPECT_EQ(static_cast<v1::Node&>(*node).kind(), "Node");

  std::vector<std::unique_ptr<google::protobuf::Message>> items;
  ORCH_ASSERT_OK_AND_ASSIGN(
      ListMeta meta, client_->ListObjects(v1::Node::default_instance(), "", {}, [&items] {
        items.emplace_back(v1::Node::default_instance().New());
        return items.back().get();
      }));
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(meta.resource_version, std::to_string(Revision()));
  ORCH_ASSERT_OK(client_->DeleteObject(*v1::Node::descriptor(), "", "n1"));
  EXPECT_THAT(client_->Get<v1::Node>("", "n1"), StatusIs(absl::StatusCode::kNotFound));
}

// ---------------------------------------------------------------- pods/binding

// Every write hands this process's first reader of its bytes (an informer) the object
// written (store::SharedBytes' decoded form): exactly what decoding the stored bytes gives.
TEST_F(ClientTest, WritesShareTheObjectTheirBytesDecodeTo) {
  const std::string key = store::ObjectKey("pods", "default", "p");
  auto expect_shared = [&](const std::string& write) {
    ORCH_ASSERT_OK_AND_ASSIGN(store::KeyValue kv, store_->Get(key));
    std::shared_ptr<const google::protobuf::Message> shared = kv.value.TakeDecoded();
    ASSERT_NE(shared, nullptr) << write;
    ORCH_ASSERT_OK_AND_ASSIGN(v1::Pod decoded, client_->Get<v1::Pod>("default", "p"));
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*shared, decoded))
        << write << ": shared " << shared->ShortDebugString() << "\ndecoded "
        << decoded.ShortDebugString();
    EXPECT_EQ(kv.value.TakeDecoded(), nullptr) << write << ": taken once";
  };
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Pod pod, client_->Create(MakePod("p")));
  expect_shared("create");
  (*pod.mutable_metadata()->mutable_labels())["tier"] = "front";
  ORCH_ASSERT_OK_AND_ASSIGN(pod, client_->Update(pod));
  expect_shared("update");
  pod.mutable_status()->set_message("waiting for a node");
  ORCH_ASSERT_OK_AND_ASSIGN(pod, client_->UpdateStatus(pod));
  expect_shared("update status");
  ORCH_ASSERT_OK(client_->Bind(pod, "node-1").status());
  expect_shared("bind");
  ORCH_ASSERT_OK(client_->Delete<v1::Pod>("default", "p"));  // bound: graceful, an update
  expect_shared("graceful delete");

  // Events keep their bytes only: nobody in the process watches them as a rule.
  EventRecorder recorder(client_.get(), "test");
  ORCH_ASSERT_OK(recorder.Record(pod, "Normal", "Tested", "shared or not"));
  ORCH_ASSERT_OK_AND_ASSIGN(store::ListResult events,
                            store_->List(store::ResourcePrefix("events")));
  ASSERT_EQ(events.items.size(), 1u);
  EXPECT_EQ(events.items[0].value.TakeDecoded(), nullptr);
}

// Objects nobody takes are memory: past kMaxWaitingUpdated updates, the oldest waiting
// object is taken back (its reader would decode), the newest still waits.
TEST_F(ClientTest, AtMostSoManyUpdatedObjectsWaitForAReader) {
  const std::string key = store::ObjectKey("pods", "default", "p");
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Pod pod, client_->Create(MakePod("p")));
  std::vector<int64_t> revisions;
  for (size_t i = 0; i <= Client::kMaxWaitingUpdated; ++i) {
    (*pod.mutable_metadata()->mutable_labels())["n"] = std::to_string(i);
    ORCH_ASSERT_OK_AND_ASSIGN(pod, client_->Update(pod));
    revisions.push_back(Revision());
  }
  auto holds = [&](int64_t revision) {
    absl::StatusOr<store::KeyValue> kv = store_->Get(key, revision);
    return kv.ok() && kv->value.HoldsDecoded();
  };
  EXPECT_FALSE(holds(revisions.front()));
  EXPECT_TRUE(holds(revisions[1]));
  EXPECT_TRUE(holds(revisions.back()));
}

TEST_F(ClientTest, BindSetsNodeNameAndPodScheduledWithACompareAndSwap) {
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Pod pod, client_->Create(MakePod("web")));
  ORCH_ASSERT_OK_AND_ASSIGN(std::string version, client_->Bind(pod, "node-1"));
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Pod stored, client_->Get<v1::Pod>("default", "web"));
  EXPECT_EQ(stored.spec().node_name(), "node-1");
  ASSERT_EQ(stored.status().conditions_size(), 1);
  EXPECT_EQ(stored.status().conditions(0).type(), "PodScheduled");
  EXPECT_EQ(stored.status().conditions(0).status(), "True");
  EXPECT_EQ(stored.metadata().resource_version(), version);
  EXPECT_EQ(stored.metadata().resource_version(), std::to_string(Revision()));
  EXPECT_EQ(stored.metadata().uid(), pod.metadata().uid());
  // Only nodeName and the condition changed: the rest is the pod as created.
  stored.mutable_spec()->clear_node_name();
  stored.mutable_status()->clear_conditions();
  stored.mutable_metadata()->set_resource_version(pod.metadata().resource_version());
  pod.mutable_status()->clear_conditions();
  EXPECT_EQ(stored.DebugString(), pod.DebugString());
}

TEST_F(ClientTest, BindOfAChangedPodIsAConflict) {
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Pod pod, client_->Create(MakePod("web")));
  v1::Pod changed = pod;
  (*changed.mutable_metadata()->mutable_labels())["v"] = "2";
  ASSERT_THAT(client_->Update(changed).status(), IsOk());
  EXPECT_THAT(client_->Bind(pod, "node-1").status(),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("the object has been modified")));
  EXPECT_EQ(client_->Get<v1::Pod>("default", "web")->spec().node_name(), "");
}

TEST_F(ClientTest, BindRefusesAnAssignedPodAMissingPodAndABadNodeName) {
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Pod pod, client_->Create(MakePod("web")));
  ORCH_ASSERT_OK(client_->Bind(pod, "node-1").status());
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Pod bound, client_->Get<v1::Pod>("default", "web"));
  EXPECT_THAT(client_->Bind(bound, "node-2").status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("already assigned to node \"node-1\"")));
  EXPECT_THAT(client_->Bind(MakePod("ghost"), "node-1").status(),
              StatusIs(absl::StatusCode::kNotFound));
  v1::Pod other = *client_->Create(MakePod("other"));
  EXPECT_THAT(client_->Bind(other, "Not_A_Node").status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace orch::client::testing
