#include "orch/api/scheme.h"

#include <set>
#include <string>

#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"
#include "orch/api/v1/apps.pb.h"
#include "orch/api/v1/coordination.pb.h"
#include "orch/api/v1/core.pb.h"
#include "orch/api/v1/discovery.pb.h"
#include "orch/api/v1/meta.pb.h"
#include "orch/api/v1/scheduling.pb.h"
#include "support/status_matchers.h"

namespace orch::api {
namespace {

using ::orch::testing::IsOk;
using ::orch::testing::StatusIs;
using ::testing::Not;
using ::testing::HasSubstr;

TEST(SchemeTest, BuiltinHasEveryKindByApiVersionResourceAndMessage) {
  const Scheme& scheme = Scheme::Builtin();
  struct Expect {
    const char* api_version;
    const char* kind;
    const char* plural;
    bool namespaced;
    const google::protobuf::Descriptor* descriptor;
  } expected[] = {
      {"v1", "Namespace", "namespaces", false, v1::Namespace::descriptor()},
      {"v1", "Node", "nodes", false, v1::Node::descriptor()},
      {"v1", "Pod", "pods", true, v1::Pod::descriptor()},
      {"v1", "Service", "services", true, v1::Service::descriptor()},
      {"v1", "Event", "events", true, v1::Event::descriptor()},
      {"apps/v1", "ReplicaSet", "replicasets", true, v1::ReplicaSet::descriptor()},
      {"apps/v1", "Deployment", "deployments", true, v1::Deployment::descriptor()},
      {"discovery.k8s.io/v1", "EndpointSlice", "endpointslices", true,
       v1::EndpointSlice::descriptor()},
      {"coordination.k8s.io/v1", "Lease", "leases", true, v1::Lease::descriptor()},
      {"scheduling.k8s.io/v1", "PriorityClass", "priorityclasses", false,
       v1::PriorityClass::descriptor()},
  };
  ASSERT_EQ(scheme.kinds().size(), std::size(expected));
  for (const Expect& e : expected) {
    const Kind* kind = scheme.Find(e.api_version, e.kind);
    ASSERT_NE(kind, nullptr) << e.kind;
    EXPECT_EQ(kind->api_version(), e.api_version);
    EXPECT_EQ(kind->plural, e.plural);
    EXPECT_EQ(kind->namespaced, e.namespaced) << e.kind;
    EXPECT_EQ(kind->prototype->GetDescriptor(), e.descriptor);
    EXPECT_TRUE(kind->defaulter) << e.kind;
    EXPECT_TRUE(kind->validator) << e.kind;
    EXPECT_EQ(scheme.FindByResource(e.plural), kind);
    EXPECT_EQ(scheme.FindByMessage(*e.descriptor), kind);
  }
}

TEST(SchemeTest, UnknownNamesFindNothing) {
  const Scheme& scheme = Scheme::Builtin();
  EXPECT_EQ(scheme.Find("v1", "Deployment"), nullptr);  // wrong group
  EXPECT_EQ(scheme.Find("apps/v1", "Pod"), nullptr);
  EXPECT_EQ(scheme.Find("v1", "pod"), nullptr);  // kinds are case-sensitive
  EXPECT_EQ(scheme.FindByResource("pod"), nullptr);
  EXPECT_EQ(scheme.FindByMessage(*v1::PodSpec::descriptor()), nullptr);
}

TEST(SchemeTest, BuiltinIsOneSharedInstance) {
  EXPECT_EQ(&Scheme::Builtin(), &Scheme::Builtin());
}

TEST(SchemeTest, BuiltinDefaulterAndValidatorAreWired) {
  const Kind* kind = Scheme::Builtin().Find("apps/v1", "Deployment");
  ASSERT_NE(kind, nullptr);
  v1::Deployment deployment;
  deployment.mutable_metadata()->set_name("web");
  (*deployment.mutable_spec()->mutable_selector()->mutable_match_labels())["app"] = "web";
  auto* tmpl = deployment.mutable_spec()->mutable_template_();
  (*tmpl->mutable_metadata()->mutable_labels())["app"] = "web";
  auto* container = tmpl->mutable_spec()->add_containers();
  container->set_name("web");
  container->set_image("nginx:1.25");

  EXPECT_THAT(kind->validator(deployment), Not(IsOk()));  // not defaulted yet
  kind->defaulter(deployment);
  EXPECT_EQ(deployment.spec().replicas(), 1);
  EXPECT_EQ(deployment.metadata().namespace_(), "default");
  EXPECT_THAT(kind->validator(deployment), IsOk());

  deployment.mutable_spec()->set_replicas(-1);
  EXPECT_THAT(kind->validator(deployment),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("spec.replicas: Invalid value: -1")));
}

TEST(SchemeTest, BuiltinHooksRejectAMessageOfAnotherType) {
  const Kind* kind = Scheme::Builtin().Find("v1", "Pod");
  ASSERT_NE(kind, nullptr);
  v1::Service service;
  kind->defaulter(service);  // ignored, no crash
  EXPECT_EQ(service.ByteSizeLong(), 0u);
  EXPECT_THAT(kind->validator(service), StatusIs(absl::StatusCode::kInvalidArgument,
                                                 HasSubstr("expected a orch.api.v1.Pod")));
}

Kind OperatorKind(const google::protobuf::Message& prototype, std::string kind,
                  std::string plural) {
  Kind k;
  k.group = "example.com";
  k.version = "v1";
  k.kind = std::move(kind);
  k.plural = std::move(plural);
  k.prototype = &prototype;
  return k;
}

TEST(SchemeTest, RegisterAddsAKindToACopy) {
  Scheme scheme = Scheme::Builtin();
  // Any message with the ObjectHeader fields is a kind; ObjectHeader itself is the
  // smallest one.
  ASSERT_THAT(scheme.Register(OperatorKind(v1::ObjectHeader::default_instance(), "Widget",
                                           "widgets")),
              IsOk());
  const Kind* widget = scheme.Find("example.com/v1", "Widget");
  ASSERT_NE(widget, nullptr);
  EXPECT_EQ(scheme.FindByResource("widgets"), widget);
  EXPECT_EQ(scheme.FindByMessage(*v1::ObjectHeader::descriptor()), widget);
  EXPECT_EQ(scheme.kinds().size(), Scheme::Builtin().kinds().size() + 1);
  EXPECT_EQ(scheme.kinds().back(), widget);
  EXPECT_EQ(Scheme::Builtin().Find("example.com/v1", "Widget"), nullptr);
  // Built-in kinds still resolve in the copy.
  EXPECT_NE(scheme.Find("v1", "Pod"), nullptr);
}

TEST(SchemeTest, RegisterRefusesDuplicates) {
  Scheme scheme;
  ASSERT_THAT(scheme.Register(OperatorKind(v1::ObjectHeader::default_instance(), "Widget",
                                           "widgets")),
              IsOk());
  EXPECT_THAT(scheme.Register(OperatorKind(v1::Pod::default_instance(), "Widget", "gadgets")),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("Widget")));
  EXPECT_THAT(scheme.Register(OperatorKind(v1::Pod::default_instance(), "Gadget", "widgets")),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("widgets")));
  EXPECT_THAT(
      scheme.Register(OperatorKind(v1::ObjectHeader::default_instance(), "Gadget", "gadgets")),
      StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("orch.api.v1.ObjectHeader")));
  EXPECT_EQ(scheme.kinds().size(), 1u);
}

TEST(SchemeTest, RegisterRefusesMessagesWithoutTheObjectHeader) {
  Scheme scheme;
  // PodSpec has no api_version/kind/metadata.
  EXPECT_THAT(scheme.Register(OperatorKind(v1::PodSpec::default_instance(), "A", "as")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is not a kind")));
  // OwnerReference has api_version=1 and kind=2, but field 3 is `name`, a string.
  EXPECT_THAT(scheme.Register(OperatorKind(v1::OwnerReference::default_instance(), "B", "bs")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("field 3 must be `metadata`")));
  // ObjectReference's field 1 is `kind`.
  EXPECT_THAT(scheme.Register(OperatorKind(v1::ObjectReference::default_instance(), "C", "cs")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("field 1")));
  EXPECT_TRUE(scheme.kinds().empty());
}

TEST(SchemeTest, RegisterRefusesMissingNames) {
  Scheme scheme;
  Kind no_prototype = OperatorKind(v1::ObjectHeader::default_instance(), "A", "as");
  no_prototype.prototype = nullptr;
  EXPECT_THAT(scheme.Register(no_prototype), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(scheme.Register(OperatorKind(v1::ObjectHeader::default_instance(), "", "as")),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(scheme.Register(OperatorKind(v1::ObjectHeader::default_instance(), "A", "")),
              StatusIs(absl::StatusCode::kInvalidArgument));
  Kind no_version = OperatorKind(v1::ObjectHeader::default_instance(), "A", "as");
  no_version.version.clear();
  EXPECT_THAT(scheme.Register(no_version), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(SchemeTest, EveryBuiltinKindHasTheObjectHeaderAndSpecStatusShape) {
  for (const Kind* kind : Scheme::Builtin().kinds()) {
    const google::protobuf::Descriptor* d = kind->prototype->GetDescriptor();
    EXPECT_EQ(d->FindFieldByNumber(1)->json_name(), "apiVersion") << kind->kind;
    EXPECT_EQ(d->FindFieldByNumber(2)->json_name(), "kind") << kind->kind;
    EXPECT_EQ(d->FindFieldByNumber(3)->json_name(), "metadata") << kind->kind;
  }
  for (const google::protobuf::Descriptor* d :
       {v1::Pod::descriptor(), v1::Node::descriptor(), v1::Service::descriptor(),
        v1::Namespace::descriptor(), v1::Deployment::descriptor(),
        v1::ReplicaSet::descriptor()}) {
    EXPECT_EQ(d->FindFieldByNumber(4)->name(), "spec") << d->full_name();
    EXPECT_EQ(d->FindFieldByNumber(5)->name(), "status") << d->full_name();
  }
}

// The codec writes FieldDescriptor::json_name(); these are the names where Kubernetes
// capitalises an initialism and protobuf's lowerCamelCase would not.
TEST(SchemeTest, JsonNamesMatchKubernetes) {
  auto json = [](const google::protobuf::Descriptor* d, const char* field) {
    const google::protobuf::FieldDescriptor* f = d->FindFieldByName(field);
    return f == nullptr ? std::string("<missing>") : f->json_name();
  };
  EXPECT_EQ(json(v1::PodStatus::descriptor(), "pod_ip"), "podIP");
  EXPECT_EQ(json(v1::PodStatus::descriptor(), "pod_ips"), "podIPs");
  EXPECT_EQ(json(v1::PodStatus::descriptor(), "host_ip"), "hostIP");
  EXPECT_EQ(json(v1::PodStatus::descriptor(), "host_ips"), "hostIPs");
  EXPECT_EQ(json(v1::PodStatus::descriptor(), "qos_class"), "qosClass");
  EXPECT_EQ(json(v1::ContainerPort::descriptor(), "host_ip"), "hostIP");
  EXPECT_EQ(json(v1::ContainerStatus::descriptor(), "container_id"), "containerID");
  EXPECT_EQ(json(v1::ContainerStatus::descriptor(), "image_id"), "imageID");
  EXPECT_EQ(json(v1::ContainerStateTerminated::descriptor(), "container_id"), "containerID");
  EXPECT_EQ(json(v1::ServiceSpec::descriptor(), "cluster_ip"), "clusterIP");
  EXPECT_EQ(json(v1::ServiceSpec::descriptor(), "cluster_ips"), "clusterIPs");
  EXPECT_EQ(json(v1::ServiceSpec::descriptor(), "external_ips"), "externalIPs");
  EXPECT_EQ(json(v1::ServiceSpec::descriptor(), "load_balancer_ip"), "loadBalancerIP");
  EXPECT_EQ(json(v1::SessionAffinityConfig::descriptor(), "client_ip"), "clientIP");
  EXPECT_EQ(json(v1::NodeSpec::descriptor(), "pod_cidr"), "podCIDR");
  EXPECT_EQ(json(v1::NodeSpec::descriptor(), "pod_cidrs"), "podCIDRs");
  EXPECT_EQ(json(v1::NodeSpec::descriptor(), "provider_id"), "providerID");
  EXPECT_EQ(json(v1::NodeSystemInfo::descriptor(), "machine_id"), "machineID");
  EXPECT_EQ(json(v1::NodeSystemInfo::descriptor(), "system_uuid"), "systemUUID");
  EXPECT_EQ(json(v1::NodeSystemInfo::descriptor(), "boot_id"), "bootID");
  EXPECT_EQ(json(v1::PodSpec::descriptor(), "host_pid"), "hostPID");
  EXPECT_EQ(json(v1::PodSpec::descriptor(), "host_ipc"), "hostIPC");
  EXPECT_EQ(json(v1::PodSpec::descriptor(), "set_hostname_as_fqdn"), "setHostnameAsFQDN");
  EXPECT_EQ(json(v1::Volume::descriptor(), "downward_api"), "downwardAPI");
  // Ordinary names are protobuf's lowerCamelCase.
  EXPECT_EQ(json(v1::PodSpec::descriptor(), "termination_grace_period_seconds"),
            "terminationGracePeriodSeconds");
  EXPECT_EQ(json(v1::NodeAffinity::descriptor(),
                 "required_during_scheduling_ignored_during_execution"),
            "requiredDuringSchedulingIgnoredDuringExecution");
  EXPECT_EQ(json(v1::Probe::descriptor(), "http_get"), "httpGet");
  EXPECT_EQ(json(v1::Event::descriptor(), "involved_object"), "involvedObject");
}

// Fields whose absence matters for defaulting carry presence.
TEST(SchemeTest, DefaultedScalarsHavePresence) {
  auto has_presence = [](const google::protobuf::Descriptor* d, const char* field) {
    const google::protobuf::FieldDescriptor* f = d->FindFieldByName(field);
    return f != nullptr && f->has_presence();
  };
  EXPECT_TRUE(has_presence(v1::DeploymentSpec::descriptor(), "replicas"));
  EXPECT_TRUE(has_presence(v1::DeploymentSpec::descriptor(), "revision_history_limit"));
  EXPECT_TRUE(has_presence(v1::DeploymentSpec::descriptor(), "progress_deadline_seconds"));
  EXPECT_TRUE(has_presence(v1::ReplicaSetSpec::descriptor(), "replicas"));
  EXPECT_TRUE(has_presence(v1::PodSpec::descriptor(), "termination_grace_period_seconds"));
  EXPECT_TRUE(has_presence(v1::PodSpec::descriptor(), "priority"));
  EXPECT_TRUE(has_presence(v1::Probe::descriptor(), "timeout_seconds"));
  EXPECT_TRUE(has_presence(v1::Toleration::descriptor(), "toleration_seconds"));
  EXPECT_TRUE(has_presence(v1::OwnerReference::descriptor(), "controller"));
  EXPECT_TRUE(has_presence(v1::EndpointConditions::descriptor(), "ready"));
  EXPECT_TRUE(has_presence(v1::EndpointPort::descriptor(), "port"));
}

}  // namespace
}  // namespace orch::api
