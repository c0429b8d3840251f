#include "orch/controller/ownership.h"

#include <string>
#include <string_view>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "orch/api/scheme.h"
#include "orch/api/v1/apps.pb.h"
#include "orch/api/v1/core.pb.h"
#include "orch/api/v1/meta.pb.h"
#include "support/status_matchers.h"

namespace orch::controller {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::orch::api::v1::Deployment;
using ::orch::api::v1::LabelSelector;
using ::orch::api::v1::Namespace;
using ::orch::api::v1::Node;
using ::orch::api::v1::ObjectHeader;
using ::orch::api::v1::OwnerReference;
using ::orch::api::v1::Pod;
using ::orch::api::v1::ReplicaSet;
using ::orch::testing::IsOk;
using ::orch::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

const api::Scheme& Builtin() { return api::Scheme::Builtin(); }

template <typename T>
T Make(std::string_view ns, std::string_view name, std::string_view uid) {
  T object;
  object.mutable_metadata()->set_namespace_(std::string(ns));
  object.mutable_metadata()->set_name(std::string(name));
  object.mutable_metadata()->set_uid(std::string(uid));
  return object;
}

OwnerReference Ref(std::string_view api_version, std::string_view kind, std::string_view name,
                   std::string_view uid, bool controller = false) {
  OwnerReference ref;
  ref.set_api_version(std::string(api_version));
  ref.set_kind(std::string(kind));
  ref.set_name(std::string(name));
  ref.set_uid(std::string(uid));
  if (controller) {
    ref.set_controller(true);
    ref.set_block_owner_deletion(true);
  }
  return ref;
}

template <typename T>
void AddRef(T& object, OwnerReference ref) {
  *object.mutable_metadata()->add_owner_references() = std::move(ref);
}

MATCHER_P(EqualsProto, expected, "equals " + expected.ShortDebugString()) {
  *result_listener << "is " << arg.ShortDebugString();
  return MessageDifferencer::Equals(arg, expected);
}

std::vector<std::string> Finalizers(const google::protobuf::Message& object) {
  const auto& f = api::ObjectMetaOf(object)->finalizers();
  return {f.begin(), f.end()};
}

// ---- Finalizers ----------------------------------------------------------------------

TEST(OwnershipFinalizerTest, AddFinalizerAppendsOnceAndReportsWhetherItChanged) {
  Pod pod = Make<Pod>("default", "web-abc", "u-pod");
  ORCH_ASSERT_OK_AND_ASSIGN(bool changed, AddFinalizer(pod, "example.com/a"));
  EXPECT_TRUE(changed);
  ORCH_ASSERT_OK_AND_ASSIGN(changed, AddFinalizer(pod, "example.com/a"));
  EXPECT_FALSE(changed);
  ORCH_ASSERT_OK_AND_ASSIGN(changed, AddFinalizer(pod, "example.com/b"));
  EXPECT_TRUE(changed);
  EXPECT_THAT(Finalizers(pod), ElementsAre("example.com/a", "example.com/b"));
}

TEST(OwnershipFinalizerTest, AddFinalizerRefusesANewFinalizerOnAnObjectBeingDeleted) {
  Pod pod = Make<Pod>("default", "web-abc", "u-pod");
  pod.mutable_metadata()->add_finalizers("keep");
  pod.mutable_metadata()->mutable_deletion_timestamp()->set_seconds(1000);
  const Pod before = pod;
  EXPECT_THAT(AddFinalizer(pod, "x"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       Eq("metadata.finalizers: Forbidden: no new finalizers can be added if "
                          "the object is being deleted, found new finalizers [\"x\"]")));
  EXPECT_THAT(pod, EqualsProto(before));
}

TEST(OwnershipFinalizerTest, AddFinalizerAlreadyPresentOnAnObjectBeingDeletedIsNoChange) {
  Pod pod = Make<Pod>("default", "web-abc", "u-pod");
  pod.mutable_metadata()->add_finalizers("x");
  pod.mutable_metadata()->mutable_deletion_timestamp()->set_seconds(1000);
  ORCH_ASSERT_OK_AND_ASSIGN(bool changed, AddFinalizer(pod, "x"));
  EXPECT_FALSE(changed);
  EXPECT_THAT(Finalizers(pod), ElementsAre("x"));
}

TEST(OwnershipFinalizerTest, AddFinalizerRefusesAnEmptyName) {
  Pod pod = Make<Pod>("default", "web-abc", "u-pod");
  EXPECT_THAT(AddFinalizer(pod, ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("metadata.finalizers")));
  EXPECT_THAT(Finalizers(pod), IsEmpty());
}

TEST(OwnershipFinalizerTest, RemoveFinalizerRemovesEveryOccurrenceAndReportsWhetherItChanged) {
  Pod pod = Make<Pod>("default", "web-abc", "u-pod");
  for (const char* f : {"a", "x", "b", "x", "xy"}) pod.mutable_metadata()->add_finalizers(f);
  ORCH_ASSERT_OK_AND_ASSIGN(bool changed, RemoveFinalizer(pod, "x"));
  EXPECT_TRUE(changed);
  EXPECT_THAT(Finalizers(pod), ElementsAre("a", "b", "xy"));
  ORCH_ASSERT_OK_AND_ASSIGN(changed, RemoveFinalizer(pod, "x"));
  EXPECT_FALSE(changed);
  EXPECT_THAT(Finalizers(pod), ElementsAre("a", "b", "xy"));
}

TEST(OwnershipFinalizerTest, RemoveFinalizerWorksOnAnObjectBeingDeleted) {
  Pod pod = Make<Pod>("default", "web-abc", "u-pod");
  pod.mutable_metadata()->add_finalizers("x");
  pod.mutable_metadata()->mutable_deletion_timestamp()->set_seconds(1000);
  ORCH_ASSERT_OK_AND_ASSIGN(bool changed, RemoveFinalizer(pod, "x"));
  EXPECT_TRUE(changed);
  EXPECT_THAT(Finalizers(pod), IsEmpty());
}

TEST(OwnershipFinalizerTest, ContainsFinalizerMatchesWholeNames) {
  Pod pod = Make<Pod>("default", "web-abc", "u-pod");
  EXPECT_FALSE(ContainsFinalizer(pod, "x"));
  pod.mutable_metadata()->add_finalizers("xy");
  EXPECT_FALSE(ContainsFinalizer(pod, "x"));
  pod.mutable_metadata()->add_finalizers("x");
  EXPECT_TRUE(ContainsFinalizer(pod, "x"));
  EXPECT_TRUE(ContainsFinalizer(pod, "xy"));
}

TEST(OwnershipFinalizerTest, WorksOnClusterScopedKinds) {
  Node node = Make<Node>("", "node-1", "u-node");
  ORCH_ASSERT_OK_AND_ASSIGN(bool changed, AddFinalizer(node, "x"));
  EXPECT_TRUE(changed);
  EXPECT_TRUE(ContainsFinalizer(node, "x"));
  ORCH_ASSERT_OK_AND_ASSIGN(changed, RemoveFinalizer(node, "x"));
  EXPECT_TRUE(changed);
  EXPECT_FALSE(ContainsFinalizer(node, "x"));
}

TEST(OwnershipFinalizerTest, MessageWithoutMetadataIsInvalid) {
  LabelSelector not_a_kind;
  (*not_a_kind.mutable_match_labels())["app"] = "web";
  const LabelSelector before = not_a_kind;
  EXPECT_THAT(AddFinalizer(not_a_kind, "x"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("orch.api.v1.LabelSelector has no metadata")));
  EXPECT_THAT(RemoveFinalizer(not_a_kind, "x"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("orch.api.v1.LabelSelector has no metadata")));
  EXPECT_FALSE(ContainsFinalizer(not_a_kind, "x"));
  EXPECT_THAT(not_a_kind, EqualsProto(before));
}

// ---- SetControllerReference ----------------------------------------------------------

TEST(OwnershipControllerReferenceTest, SetsControllerAndBlockOwnerDeletionWithTheSchemesKind) {
  ReplicaSet rs = Make<ReplicaSet>("default", "web", "u-rs");
  // The owner's own apiVersion/kind fields are ignored: the Scheme decides.
  rs.set_api_version("bogus/v9");
  rs.set_kind("Bogus");
  Pod pod = Make<Pod>("default", "web-abc", "u-pod");
  ASSERT_THAT(SetControllerReference(rs, pod, Builtin()), IsOk());
  ASSERT_THAT(pod.metadata().owner_references(), SizeIs(1));
  const OwnerReference& ref = pod.metadata().owner_references(0);
  EXPECT_THAT(ref, EqualsProto(Ref("apps/v1", "ReplicaSet", "web", "u-rs", true)));
  EXPECT_TRUE(ref.has_controller());
  EXPECT_TRUE(ref.has_block_owner_deletion());
  EXPECT_EQ(GetControllerOf(pod), &ref);
}

TEST(OwnershipControllerReferenceTest, CoreGroupOwnerGetsApiVersionV1) {
  Pod owner = Make<Pod>("default", "owner", "u-owner");
  Pod pod = Make<Pod>("default", "owned", "u-pod");
  ASSERT_THAT(SetControllerReference(owner, pod, Builtin()), IsOk());
  ASSERT_THAT(pod.metadata().owner_references(), SizeIs(1));
  EXPECT_THAT(pod.metadata().owner_references(0),
              EqualsProto(Ref("v1", "Pod", "owner", "u-owner", true)));
}

TEST(OwnershipControllerReferenceTest, IsIdempotent) {
  ReplicaSet rs = Make<ReplicaSet>("default", "web", "u-rs");
  Pod pod = Make<Pod>("default", "web-abc", "u-pod");
  ASSERT_THAT(SetControllerReference(rs, pod, Builtin()), IsOk());
  const Pod once = pod;
  ASSERT_THAT(SetControllerReference(rs, pod, Builtin()), IsOk());
  EXPECT_THAT(pod, EqualsProto(once));
  EXPECT_THAT(pod.metadata().owner_references(), SizeIs(1));
}

TEST(OwnershipControllerReferenceTest, UpdatesAnExistingReferenceToTheSameOwnerInPlace) {
  ReplicaSet rs = Make<ReplicaSet>("default", "web", "u-new");
  Pod pod = Make<Pod>("default", "web-abc", "u-pod");
  AddRef(pod, Ref("apps/v1", "Deployment", "web", "u-dep"));
  AddRef(pod, Ref("apps/v1beta2", "ReplicaSet", "web", "u-old"));  // plain, older version
  AddRef(pod, Ref("v1", "Pod", "other", "u-other"));
  ASSERT_THAT(SetControllerReference(rs, pod, Builtin()), IsOk());
  EXPECT_THAT(pod.metadata().owner_references(),
              ElementsAre(EqualsProto(Ref("apps/v1", "Deployment", "web", "u-dep")),
                          EqualsProto(Ref("apps/v1", "ReplicaSet", "web", "u-new", true)),
                          EqualsProto(Ref("v1", "Pod", "other", "u-other"))));
}

TEST(OwnershipControllerReferenceTest, ComparesGroupNotVersion) {
  ReplicaSet rs = Make<ReplicaSet>("default", "web", "u-rs");
  {
    // Same group, other version: the same owner, so no conflict and one reference.
    Pod pod = Make<Pod>("default", "web-abc", "u-pod");
    AddRef(pod, Ref("apps/v1beta1", "ReplicaSet", "web", "u-rs", true));
    ASSERT_THAT(SetControllerReference(rs, pod, Builtin()), IsOk());
    EXPECT_THAT(pod.metadata().owner_references(),
                ElementsAre(EqualsProto(Ref("apps/v1", "ReplicaSet", "web", "u-rs", true))));
  }
  for (const char* other_group_version : {"extensions/v1beta1", "v1"}) {
    // Same kind and name in another group: another owner.
    SCOPED_TRACE(other_group_version);
    Pod pod = Make<Pod>("default", "web-abc", "u-pod");
    AddRef(pod, Ref(other_group_version, "ReplicaSet", "web", "u-rs", true));
    const Pod before = pod;
    EXPECT_THAT(SetControllerReference(rs, pod, Builtin()),
                StatusIs(absl::StatusCode::kAlreadyExists));
    EXPECT_THAT(pod, EqualsProto(before));
  }
}

TEST(OwnershipControllerReferenceTest, MalformedApiVersionNeverRefersToTheOwner) {
  ReplicaSet rs = Make<ReplicaSet>("default", "web", "u-rs");
  Pod pod = Make<Pod>("default", "web-abc", "u-pod");
  AddRef(pod, Ref("apps/v1/extra", "ReplicaSet", "web", "u-rs", true));
  EXPECT_THAT(SetControllerReference(rs, pod, Builtin()),
              StatusIs(absl::StatusCode::kAlreadyExists));
}

TEST(OwnershipControllerReferenceTest, RefusesAnObjectControlledByAnotherOwner) {
  ReplicaSet rs = Make<ReplicaSet>("default", "web", "u-rs");
  Pod pod = Make<Pod>("default", "web-abc", "u-pod");
  AddRef(pod, Ref("apps/v1", "ReplicaSet", "other", "u-other", true));
  const Pod before = pod;
  EXPECT_THAT(SetControllerReference(rs, pod, Builtin()),
              StatusIs(absl::StatusCode::kAlreadyExists,
                       Eq("Object default/web-abc is already owned by another ReplicaSet "
                          "controller other")));
  EXPECT_THAT(pod, EqualsProto(before));
}

TEST(OwnershipControllerReferenceTest, AnotherKindWithTheSameNameIsAnotherOwner) {
  ReplicaSet rs = Make<ReplicaSet>("default", "web", "u-rs");
  Pod pod = Make<Pod>("default", "web-abc", "u-pod");
  AddRef(pod, Ref("apps/v1", "Deployment", "web", "u-dep", true));
  EXPECT_THAT(SetControllerReference(rs, pod, Builtin()),
              StatusIs(absl::StatusCode::kAlreadyExists,
                       Eq("Object default/web-abc is already owned by another Deployment "
                          "controller web")));
}

TEST(OwnershipControllerReferenceTest, AlreadyOwnedMessageNamesTheObjectAsTheClientWould) {
  ReplicaSet rs = Make<ReplicaSet>("", "web", "u-rs");
  Pod pod = Make<Pod>("", "web-abc", "u-pod");  // namespaced: empty means "default"
  AddRef(pod, Ref("apps/v1", "ReplicaSet", "other", "u-other", true));
  EXPECT_THAT(SetControllerReference(rs, pod, Builtin()),
              StatusIs(absl::StatusCode::kAlreadyExists,
                       Eq("Object default/web-abc is already owned by another ReplicaSet "
                          "controller other")));

  Node owner = Make<Node>("", "node-0", "u-node-0");
  Node node = Make<Node>("", "node-1", "u-node-1");  // cluster-scoped: no namespace
  AddRef(node, Ref("v1", "Namespace", "team", "u-ns", true));
  EXPECT_THAT(SetControllerReference(owner, node, Builtin()),
              StatusIs(absl::StatusCode::kAlreadyExists,
                       Eq("Object node-1 is already owned by another Namespace controller "
                          "team")));
}

TEST(OwnershipControllerReferenceTest, ControllerFalseDoesNotCountAsAController) {
  ReplicaSet rs = Make<ReplicaSet>("default", "web", "u-rs");
  Pod pod = Make<Pod>("default", "web-abc", "u-pod");
  AddRef(pod, Ref("apps/v1", "ReplicaSet", "plain", "u-plain"));
  OwnerReference explicitly_not = Ref("apps/v1", "ReplicaSet", "not", "u-not");
  explicitly_not.set_controller(false);
  AddRef(pod, explicitly_not);
  ASSERT_THAT(SetControllerReference(rs, pod, Builtin()), IsOk());
  EXPECT_THAT(pod.metadata().owner_references(), SizeIs(3));
  ASSERT_NE(GetControllerOf(pod), nullptr);
  EXPECT_EQ(GetControllerOf(pod)->name(), "web");
}

TEST(OwnershipControllerReferenceTest, OwnerMustHaveANameAndAUid) {
  Pod pod = Make<Pod>("default", "web-abc", "u-pod");
  const Pod before = pod;
  EXPECT_THAT(SetControllerReference(Make<ReplicaSet>("default", "", "u-rs"), pod, Builtin()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("ReplicaSet: metadata.name: Required value")));
  EXPECT_THAT(SetControllerReference(Make<ReplicaSet>("default", "web", ""), pod, Builtin()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("ReplicaSet \"web\": metadata.uid: Required value")));
  EXPECT_THAT(pod, EqualsProto(before));
}

TEST(OwnershipControllerReferenceTest, KindsMustBeInTheScheme) {
  ObjectHeader unknown = Make<ObjectHeader>("default", "thing", "u-thing");
  Pod pod = Make<Pod>("default", "web-abc", "u-pod");
  const Pod before = pod;
  EXPECT_THAT(SetControllerReference(unknown, pod, Builtin()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("no kind is registered for the type orch.api.v1.ObjectHeader")));
  EXPECT_THAT(pod, EqualsProto(before));

  ReplicaSet rs = Make<ReplicaSet>("default", "web", "u-rs");
  const ObjectHeader unknown_before = unknown;
  EXPECT_THAT(SetControllerReference(rs, unknown, Builtin()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("no kind is registered for the type orch.api.v1.ObjectHeader")));
  EXPECT_THAT(unknown, EqualsProto(unknown_before));

  // Only the Scheme passed in counts.
  EXPECT_THAT(SetControllerReference(rs, pod, api::Scheme()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("orch.api.v1.ReplicaSet")));
  EXPECT_THAT(pod, EqualsProto(before));
}

TEST(OwnershipControllerReferenceTest, MessagesWithoutMetadataAreInvalid) {
  LabelSelector not_a_kind;
  ReplicaSet rs = Make<ReplicaSet>("default", "web", "u-rs");
  Pod pod = Make<Pod>("default", "web-abc", "u-pod");
  EXPECT_THAT(SetControllerReference(not_a_kind, pod, Builtin()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("has no metadata")));
  EXPECT_THAT(SetControllerReference(rs, not_a_kind, Builtin()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("has no metadata")));
  EXPECT_THAT(SetOwnerReference(rs, not_a_kind, Builtin()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("has no metadata")));
  EXPECT_THAT(RemoveOwnerReference(rs, not_a_kind, Builtin()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("has no metadata")));
  EXPECT_THAT(RemoveOwnerReference(not_a_kind, pod, Builtin()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("has no metadata")));
  EXPECT_EQ(GetControllerOf(not_a_kind), nullptr);
  EXPECT_FALSE(IsOwnedBy(not_a_kind, rs));
  EXPECT_FALSE(IsOwnedBy(pod, not_a_kind));
  EXPECT_THAT(not_a_kind, EqualsProto(LabelSelector()));
  EXPECT_THAT(pod.metadata().owner_references(), IsEmpty());
}

// ---- The namespace rule (validateOwner) ----------------------------------------------

TEST(OwnershipNamespaceRuleTest, CrossNamespaceOwnerIsRefused) {
  ReplicaSet rs = Make<ReplicaSet>("a", "web", "u-rs");
  Pod pod = Make<Pod>("b", "web-abc", "u-pod");
  const Pod before = pod;
  const std::string message =
      "cross-namespace owner references are disallowed, owner's namespace a, obj's namespace b";
  EXPECT_THAT(SetControllerReference(rs, pod, Builtin()),
              StatusIs(absl::StatusCode::kInvalidArgument, Eq(message)));
  EXPECT_THAT(SetOwnerReference(rs, pod, Builtin()),
              StatusIs(absl::StatusCode::kInvalidArgument, Eq(message)));
  EXPECT_THAT(pod, EqualsProto(before));
}

TEST(OwnershipNamespaceRuleTest, EmptyNamespaceOfANamespacedKindIsDefault) {
  ReplicaSet in_default = Make<ReplicaSet>("default", "web", "u-rs");
  ReplicaSet unset = Make<ReplicaSet>("", "web2", "u-rs2");
  Pod pod_unset = Make<Pod>("", "web-abc", "u-pod");
  Pod pod_in_default = Make<Pod>("default", "web-def", "u-pod2");
  EXPECT_THAT(SetOwnerReference(in_default, pod_unset, Builtin()), IsOk());
  EXPECT_THAT(SetOwnerReference(unset, pod_in_default, Builtin()), IsOk());
  EXPECT_THAT(SetOwnerReference(unset, pod_unset, Builtin()), IsOk());

  Pod pod_in_a = Make<Pod>("a", "web-ghi", "u-pod3");
  EXPECT_THAT(SetOwnerReference(unset, pod_in_a, Builtin()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Eq("cross-namespace owner references are disallowed, owner's "
                          "namespace default, obj's namespace a")));
  EXPECT_THAT(pod_in_a.metadata().owner_references(), IsEmpty());
}

TEST(OwnershipNamespaceRuleTest, ClusterScopedObjectCannotHaveANamespacedOwner) {
  ReplicaSet rs = Make<ReplicaSet>("", "web", "u-rs");
  // A stray namespace on a cluster-scoped object does not make it namespaced: the Scheme
  // decides scope.
  for (const char* node_namespace : {"", "default"}) {
    SCOPED_TRACE(node_namespace);
    Node node = Make<Node>(node_namespace, "node-1", "u-node");
    const Node before = node;
    const std::string message =
        "cluster-scoped resource must not have a namespace-scoped owner, owner's namespace "
        "default";
    EXPECT_THAT(SetControllerReference(rs, node, Builtin()),
                StatusIs(absl::StatusCode::kInvalidArgument, Eq(message)));
    EXPECT_THAT(SetOwnerReference(rs, node, Builtin()),
                StatusIs(absl::StatusCode::kInvalidArgument, Eq(message)));
    EXPECT_THAT(node, EqualsProto(before));
  }
}

TEST(OwnershipNamespaceRuleTest, ClusterScopedOwnerMayOwnAnything) {
  // A stray namespace on a cluster-scoped owner is ignored likewise.
  Node node = Make<Node>("elsewhere", "node-1", "u-node");
  Pod pod = Make<Pod>("a", "web-abc", "u-pod");
  ASSERT_THAT(SetControllerReference(node, pod, Builtin()), IsOk());
  EXPECT_THAT(pod.metadata().owner_references(),
              ElementsAre(EqualsProto(Ref("v1", "Node", "node-1", "u-node", true))));

  Namespace ns = Make<Namespace>("", "team", "u-ns");
  Node owned = Make<Node>("", "node-2", "u-node-2");
  ASSERT_THAT(SetOwnerReference(ns, owned, Builtin()), IsOk());
  EXPECT_THAT(owned.metadata().owner_references(),
              ElementsAre(EqualsProto(Ref("v1", "Namespace", "team", "u-ns"))));
}

// ---- SetOwnerReference ---------------------------------------------------------------

TEST(OwnershipOwnerReferenceTest, AddsAPlainReferenceWithoutControllerFields) {
  Deployment dep = Make<Deployment>("default", "web", "u-dep");
  ReplicaSet rs = Make<ReplicaSet>("default", "web-1", "u-rs");
  ASSERT_THAT(SetOwnerReference(dep, rs, Builtin()), IsOk());
  ASSERT_THAT(rs.metadata().owner_references(), SizeIs(1));
  const OwnerReference& ref = rs.metadata().owner_references(0);
  EXPECT_THAT(ref, EqualsProto(Ref("apps/v1", "Deployment", "web", "u-dep")));
  EXPECT_FALSE(ref.has_controller());
  EXPECT_FALSE(ref.has_block_owner_deletion());
  EXPECT_EQ(GetControllerOf(rs), nullptr);
}

TEST(OwnershipOwnerReferenceTest, AccumulatesOwnersAndIsIdempotent) {
  Deployment dep = Make<Deployment>("default", "web", "u-dep");
  Pod other = Make<Pod>("default", "other", "u-other");
  ReplicaSet rs = Make<ReplicaSet>("default", "web-1", "u-rs");
  ASSERT_THAT(SetOwnerReference(dep, rs, Builtin()), IsOk());
  ASSERT_THAT(SetOwnerReference(other, rs, Builtin()), IsOk());
  const ReplicaSet twice = rs;
  ASSERT_THAT(SetOwnerReference(dep, rs, Builtin()), IsOk());
  ASSERT_THAT(SetOwnerReference(other, rs, Builtin()), IsOk());
  EXPECT_THAT(rs, EqualsProto(twice));
  EXPECT_THAT(rs.metadata().owner_references(),
              ElementsAre(EqualsProto(Ref("apps/v1", "Deployment", "web", "u-dep")),
                          EqualsProto(Ref("v1", "Pod", "other", "u-other"))));
}

TEST(OwnershipOwnerReferenceTest, RewritesAReferenceToTheSameOwnerWithoutControllerFields) {
  // controller-runtime's upsertOwnerRef replaces the whole reference.
  Deployment dep = Make<Deployment>("default", "web", "u-new");
  ReplicaSet rs = Make<ReplicaSet>("default", "web-1", "u-rs");
  AddRef(rs, Ref("v1", "Pod", "first", "u-first"));
  AddRef(rs, Ref("apps/v1beta2", "Deployment", "web", "u-old", true));
  ASSERT_THAT(SetOwnerReference(dep, rs, Builtin()), IsOk());
  EXPECT_THAT(rs.metadata().owner_references(),
              ElementsAre(EqualsProto(Ref("v1", "Pod", "first", "u-first")),
                          EqualsProto(Ref("apps/v1", "Deployment", "web", "u-new"))));
  EXPECT_EQ(GetControllerOf(rs), nullptr);
}

TEST(OwnershipOwnerReferenceTest, AnotherControllerDoesNotBlockAPlainOwner) {
  Deployment dep = Make<Deployment>("default", "web", "u-dep");
  ReplicaSet rs = Make<ReplicaSet>("default", "web-1", "u-rs");
  AddRef(rs, Ref("apps/v1", "Deployment", "boss", "u-boss", true));
  ASSERT_THAT(SetOwnerReference(dep, rs, Builtin()), IsOk());
  EXPECT_THAT(rs.metadata().owner_references(), SizeIs(2));
  ASSERT_NE(GetControllerOf(rs), nullptr);
  EXPECT_EQ(GetControllerOf(rs)->name(), "boss");
}

TEST(OwnershipOwnerReferenceTest, OwnerMustHaveANameAUidAndAKnownKind) {
  ReplicaSet rs = Make<ReplicaSet>("default", "web-1", "u-rs");
  const ReplicaSet before = rs;
  EXPECT_THAT(SetOwnerReference(Make<Deployment>("default", "", "u-dep"), rs, Builtin()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("metadata.name")));
  EXPECT_THAT(SetOwnerReference(Make<Deployment>("default", "web", ""), rs, Builtin()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("metadata.uid")));
  EXPECT_THAT(SetOwnerReference(Make<ObjectHeader>("default", "web", "u"), rs, Builtin()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ObjectHeader")));
  EXPECT_THAT(rs, EqualsProto(before));
}

// ---- RemoveOwnerReference ------------------------------------------------------------

TEST(OwnershipRemoveOwnerReferenceTest, RemovesEveryReferenceToTheOwnerByGroupKindAndName) {
  ReplicaSet rs = Make<ReplicaSet>("default", "web", "u-rs");
  Pod pod = Make<Pod>("default", "web-abc", "u-pod");
  AddRef(pod, Ref("apps/v1beta1", "ReplicaSet", "web", "u-stale", true));  // uid ignored
  AddRef(pod, Ref("apps/v1", "Deployment", "web", "u-dep"));
  AddRef(pod, Ref("extensions/v1beta1", "ReplicaSet", "web", "u-rs"));  // other group
  AddRef(pod, Ref("apps/v1", "ReplicaSet", "web-2", "u-rs2"));
  AddRef(pod, Ref("apps/v1", "ReplicaSet", "web", "u-rs"));
  ORCH_ASSERT_OK_AND_ASSIGN(bool changed, RemoveOwnerReference(rs, pod, Builtin()));
  EXPECT_TRUE(changed);
  EXPECT_THAT(pod.metadata().owner_references(),
              ElementsAre(EqualsProto(Ref("apps/v1", "Deployment", "web", "u-dep")),
                          EqualsProto(Ref("extensions/v1beta1", "ReplicaSet", "web", "u-rs")),
                          EqualsProto(Ref("apps/v1", "ReplicaSet", "web-2", "u-rs2"))));
  ORCH_ASSERT_OK_AND_ASSIGN(changed, RemoveOwnerReference(rs, pod, Builtin()));
  EXPECT_FALSE(changed);
  EXPECT_THAT(pod.metadata().owner_references(), SizeIs(3));
}

TEST(OwnershipRemoveOwnerReferenceTest, NotReferencedIsNoChangeNotAnError) {
  ReplicaSet rs = Make<ReplicaSet>("default", "web", "u-rs");
  Pod pod = Make<Pod>("default", "web-abc", "u-pod");
  ORCH_ASSERT_OK_AND_ASSIGN(bool changed, RemoveOwnerReference(rs, pod, Builtin()));
  EXPECT_FALSE(changed);
  AddRef(pod, Ref("apps/v1", "Deployment", "web", "u-dep"));
  const Pod before = pod;
  ORCH_ASSERT_OK_AND_ASSIGN(changed, RemoveOwnerReference(rs, pod, Builtin()));
  EXPECT_FALSE(changed);
  EXPECT_THAT(pod, EqualsProto(before));
}

TEST(OwnershipRemoveOwnerReferenceTest, NeedsTheOwnersNameAndKindButNotItsUid) {
  Pod pod = Make<Pod>("default", "web-abc", "u-pod");
  AddRef(pod, Ref("apps/v1", "ReplicaSet", "web", "u-rs", true));
  const Pod before = pod;
  EXPECT_THAT(RemoveOwnerReference(Make<ReplicaSet>("default", "", "u-rs"), pod, Builtin()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("metadata.name")));
  EXPECT_THAT(RemoveOwnerReference(Make<ReplicaSet>("default", "web", "u-rs"), pod, api::Scheme()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("orch.api.v1.ReplicaSet")));
  EXPECT_THAT(pod, EqualsProto(before));

  ORCH_ASSERT_OK_AND_ASSIGN(
      bool changed, RemoveOwnerReference(Make<ReplicaSet>("default", "web", ""), pod, Builtin()));
  EXPECT_TRUE(changed);
  EXPECT_THAT(pod.metadata().owner_references(), IsEmpty());
}

TEST(OwnershipRemoveOwnerReferenceTest, FreesTheObjectForAnotherController) {
  ReplicaSet old_rs = Make<ReplicaSet>("default", "old", "u-old");
  ReplicaSet new_rs = Make<ReplicaSet>("default", "new", "u-new");
  Pod pod = Make<Pod>("default", "web-abc", "u-pod");
  ASSERT_THAT(SetControllerReference(old_rs, pod, Builtin()), IsOk());
  ASSERT_THAT(SetControllerReference(new_rs, pod, Builtin()),
              StatusIs(absl::StatusCode::kAlreadyExists));
  ORCH_ASSERT_OK_AND_ASSIGN(bool changed, RemoveOwnerReference(old_rs, pod, Builtin()));
  EXPECT_TRUE(changed);
  ASSERT_THAT(SetControllerReference(new_rs, pod, Builtin()), IsOk());
  EXPECT_THAT(pod.metadata().owner_references(),
              ElementsAre(EqualsProto(Ref("apps/v1", "ReplicaSet", "new", "u-new", true))));
}

// ---- GetControllerOf and IsOwnedBy ---------------------------------------------------

TEST(OwnershipQueryTest, GetControllerOfReturnsTheFirstControllerReference) {
  Pod pod = Make<Pod>("default", "web-abc", "u-pod");
  EXPECT_EQ(GetControllerOf(pod), nullptr);
  AddRef(pod, Ref("apps/v1", "ReplicaSet", "plain", "u-plain"));
  OwnerReference explicitly_not = Ref("apps/v1", "ReplicaSet", "not", "u-not");
  explicitly_not.set_controller(false);
  AddRef(pod, explicitly_not);
  EXPECT_EQ(GetControllerOf(pod), nullptr);
  AddRef(pod, Ref("apps/v1", "ReplicaSet", "first", "u-first", true));
  AddRef(pod, Ref("apps/v1", "ReplicaSet", "second", "u-second", true));
  EXPECT_EQ(GetControllerOf(pod), &pod.metadata().owner_references(2));
}

TEST(OwnershipQueryTest, IsOwnedByComparesUids) {
  ReplicaSet rs = Make<ReplicaSet>("default", "web", "u-rs");
  Pod pod = Make<Pod>("default", "web-abc", "u-pod");
  EXPECT_FALSE(IsOwnedBy(pod, rs));
  AddRef(pod, Ref("apps/v1", "ReplicaSet", "web", "u-other"));  // same name, other uid
  EXPECT_FALSE(IsOwnedBy(pod, rs));
  AddRef(pod, Ref("v1", "Something", "renamed", "u-rs"));  // uid alone decides
  EXPECT_TRUE(IsOwnedBy(pod, rs));
}

TEST(OwnershipQueryTest, AnOwnerWithoutUidOwnsNothing) {
  ReplicaSet rs = Make<ReplicaSet>("default", "web", "");
  Pod pod = Make<Pod>("default", "web-abc", "u-pod");
  AddRef(pod, Ref("apps/v1", "ReplicaSet", "web", ""));
  EXPECT_FALSE(IsOwnedBy(pod, rs));
}

TEST(OwnershipQueryTest, SetReferencesAreSeenByIsOwnedBy) {
  ReplicaSet rs = Make<ReplicaSet>("default", "web", "u-rs");
  Deployment dep = Make<Deployment>("default", "web", "u-dep");
  Pod pod = Make<Pod>("default", "web-abc", "u-pod");
  ASSERT_THAT(SetControllerReference(rs, pod, Builtin()), IsOk());
  ASSERT_THAT(SetOwnerReference(dep, pod, Builtin()), IsOk());
  EXPECT_TRUE(IsOwnedBy(pod, rs));
  EXPECT_TRUE(IsOwnedBy(pod, dep));
  EXPECT_FALSE(IsOwnedBy(pod, Make<ReplicaSet>("default", "web", "u-someone-else")));
}

// ---- Kinds an operator registers -----------------------------------------------------

api::Kind WidgetKind(bool namespaced) {
  api::Kind kind;
  kind.group = "example.com";
  kind.version = "v1alpha1";
  kind.kind = "Widget";
  kind.plural = "widgets";
  kind.namespaced = namespaced;
  kind.prototype = &ObjectHeader::default_instance();
  return kind;
}

TEST(OwnershipCustomKindTest, ARegisteredKindOwnsAndIsOwned) {
  api::Scheme scheme = api::Scheme::Builtin();
  ASSERT_THAT(scheme.Register(WidgetKind(/*namespaced=*/true)), IsOk());

  ObjectHeader widget = Make<ObjectHeader>("team", "w", "u-widget");
  Pod pod = Make<Pod>("team", "w-abc", "u-pod");
  ASSERT_THAT(SetControllerReference(widget, pod, scheme), IsOk());
  EXPECT_THAT(
      pod.metadata().owner_references(),
      ElementsAre(EqualsProto(Ref("example.com/v1alpha1", "Widget", "w", "u-widget", true))));
  EXPECT_TRUE(IsOwnedBy(pod, widget));

  Deployment dep = Make<Deployment>("team", "web", "u-dep");
  ASSERT_THAT(SetOwnerReference(dep, widget, scheme), IsOk());
  ORCH_ASSERT_OK_AND_ASSIGN(bool changed, AddFinalizer(widget, "example.com/cleanup"));
  EXPECT_TRUE(changed);
  EXPECT_TRUE(ContainsFinalizer(widget, "example.com/cleanup"));

  ORCH_ASSERT_OK_AND_ASSIGN(changed, RemoveOwnerReference(widget, pod, scheme));
  EXPECT_TRUE(changed);
  EXPECT_THAT(pod.metadata().owner_references(), IsEmpty());
}

TEST(OwnershipCustomKindTest, ScopeOfARegisteredKindComesFromItsRegistration) {
  api::Scheme scheme = api::Scheme::Builtin();
  ASSERT_THAT(scheme.Register(WidgetKind(/*namespaced=*/false)), IsOk());
  ObjectHeader widget = Make<ObjectHeader>("", "w", "u-widget");
  ReplicaSet rs = Make<ReplicaSet>("team", "web", "u-rs");
  EXPECT_THAT(SetOwnerReference(rs, widget, scheme),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Eq("cluster-scoped resource must not have a namespace-scoped owner, "
                          "owner's namespace team")));
  EXPECT_THAT(SetOwnerReference(widget, rs, scheme), IsOk());
}

}  // namespace
}  // namespace orch::controller
