#include "orch/api/defaults.h"

#include <string>

#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "orch/api/validation.h"
#include "support/status_matchers.h"

namespace orch::api {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::orch::testing::IsOk;

v1::Container MakeContainer(std::string name, std::string image) {
  v1::Container c;
  c.set_name(std::move(name));
  c.set_image(std::move(image));
  return c;
}

v1::Pod MakePod() {
  v1::Pod pod;
  pod.mutable_metadata()->set_name("web");
  *pod.mutable_spec()->add_containers() = MakeContainer("web", "nginx:1.25");
  return pod;
}

v1::Deployment MakeDeployment() {
  v1::Deployment d;
  d.mutable_metadata()->set_name("web");
  (*d.mutable_spec()->mutable_selector()->mutable_match_labels())["app"] = "web";
  auto* tmpl = d.mutable_spec()->mutable_template_();
  (*tmpl->mutable_metadata()->mutable_labels())["app"] = "web";
  *tmpl->mutable_spec()->add_containers() = MakeContainer("web", "nginx:1.25");
  return d;
}

// --- image pull policy ----------------------------------------------------------------

TEST(DefaultImagePullPolicyTest, FollowsTheTag) {
  EXPECT_EQ(DefaultImagePullPolicy("nginx"), "Always");
  EXPECT_EQ(DefaultImagePullPolicy("nginx:latest"), "Always");
  EXPECT_EQ(DefaultImagePullPolicy("docker.io/library/nginx:latest"), "Always");
  EXPECT_EQ(DefaultImagePullPolicy("nginx:1.25"), "IfNotPresent");
  EXPECT_EQ(DefaultImagePullPolicy("registry.example.com:5000/team/app"), "Always");
  EXPECT_EQ(DefaultImagePullPolicy("registry.example.com:5000/team/app:v2"), "IfNotPresent");
  EXPECT_EQ(DefaultImagePullPolicy("localhost:5000/app:latest"), "Always");
  EXPECT_EQ(DefaultImagePullPolicy(
                "nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
            "IfNotPresent");
  EXPECT_EQ(DefaultImagePullPolicy("nginx:latest@sha256:0123"), "Always");
  EXPECT_EQ(DefaultImagePullPolicy("nginx:1.25@sha256:0123"), "IfNotPresent");
}

// --- pods -----------------------------------------------------------------------------

TEST(PodDefaultsTest, FillsPodSpecAndContainerDefaults) {
  v1::Pod pod = MakePod();
  auto* port = pod.mutable_spec()->mutable_containers(0)->add_ports();
  port->set_container_port(80);
  SetDefaults(pod);

  EXPECT_EQ(pod.metadata().namespace_(), "default");
  const v1::PodSpec& spec = pod.spec();
  EXPECT_EQ(spec.restart_policy(), "Always");
  ASSERT_TRUE(spec.has_termination_grace_period_seconds());
  EXPECT_EQ(spec.termination_grace_period_seconds(), 30);
  EXPECT_EQ(spec.dns_policy(), "ClusterFirst");
  EXPECT_EQ(spec.scheduler_name(), "default-scheduler");
  ASSERT_TRUE(spec.has_enable_service_links());
  EXPECT_TRUE(spec.enable_service_links());
  const v1::Container& c = spec.containers(0);
  EXPECT_EQ(c.image_pull_policy(), "IfNotPresent");
  EXPECT_EQ(c.termination_message_path(), "/dev/termination-log");
  EXPECT_EQ(c.termination_message_policy(), "File");
  EXPECT_EQ(c.ports(0).protocol(), "TCP");
  EXPECT_EQ(c.ports(0).host_port(), 0);  // only with hostNetwork
}

TEST(PodDefaultsTest, KeepsWhatTheManifestSet) {
  v1::Pod pod = MakePod();
  v1::PodSpec& spec = *pod.mutable_spec();
  pod.mutable_metadata()->set_namespace_("team-a");
  spec.set_restart_policy("Never");
  spec.set_termination_grace_period_seconds(0);  // explicit zero is kept
  spec.set_dns_policy("Default");
  spec.set_scheduler_name("my-scheduler");
  spec.set_enable_service_links(false);
  v1::Container& c = *spec.mutable_containers(0);
  c.set_image_pull_policy("Never");
  c.set_termination_message_policy("FallbackToLogsOnError");
  c.add_ports()->set_protocol("UDP");
  SetDefaults(pod);

  EXPECT_EQ(pod.metadata().namespace_(), "team-a");
  EXPECT_EQ(spec.restart_policy(), "Never");
  EXPECT_EQ(spec.termination_grace_period_seconds(), 0);
  EXPECT_EQ(spec.dns_policy(), "Default");
  EXPECT_EQ(spec.scheduler_name(), "my-scheduler");
  EXPECT_FALSE(spec.enable_service_links());
  EXPECT_EQ(c.image_pull_policy(), "Never");
  EXPECT_EQ(c.termination_message_policy(), "FallbackToLogsOnError");
  EXPECT_EQ(c.ports(0).protocol(), "UDP");
}

TEST(PodDefaultsTest, DefaultingIsIdempotent) {
  v1::Pod pod = MakePod();
  pod.mutable_spec()->mutable_containers(0)->mutable_liveness_probe()->mutable_http_get();
  (*pod.mutable_spec()->mutable_containers(0)->mutable_resources()->mutable_limits())["cpu"]
      .set_value("1500m");
  SetDefaults(pod);
  v1::Pod again = pod;
  SetDefaults(again);
  EXPECT_TRUE(MessageDifferencer::Equals(pod, again)) << again.DebugString();
}

TEST(PodDefaultsTest, ImagePullPolicyByTagForEveryContainer) {
  v1::Pod pod = MakePod();
  *pod.mutable_spec()->add_containers() = MakeContainer("b", "busybox");
  *pod.mutable_spec()->add_containers() = MakeContainer("c", "busybox:latest");
  *pod.mutable_spec()->add_init_containers() = MakeContainer("init", "busybox");
  SetDefaults(pod);
  EXPECT_EQ(pod.spec().containers(0).image_pull_policy(), "IfNotPresent");
  EXPECT_EQ(pod.spec().containers(1).image_pull_policy(), "Always");
  EXPECT_EQ(pod.spec().containers(2).image_pull_policy(), "Always");
  EXPECT_EQ(pod.spec().init_containers(0).image_pull_policy(), "Always");
  EXPECT_EQ(pod.spec().init_containers(0).termination_message_path(), "/dev/termination-log");
}

TEST(PodDefaultsTest, ProbeDefaults) {
  v1::Pod pod = MakePod();
  v1::Container& c = *pod.mutable_spec()->mutable_containers(0);
  c.mutable_liveness_probe()->mutable_http_get()->mutable_port()->set_int_val(8080);
  c.mutable_readiness_probe()->mutable_tcp_socket()->mutable_port()->set_int_val(8080);
  c.mutable_readiness_probe()->set_period_seconds(3);
  c.mutable_startup_probe()->mutable_exec()->add_command("true");
  c.mutable_startup_probe()->set_failure_threshold(0);  // 0 means unset in Kubernetes
  SetDefaults(pod);

  const v1::Probe& live = c.liveness_probe();
  EXPECT_EQ(live.timeout_seconds(), 1);
  EXPECT_EQ(live.period_seconds(), 10);
  EXPECT_EQ(live.success_threshold(), 1);
  EXPECT_EQ(live.failure_threshold(), 3);
  EXPECT_EQ(live.initial_delay_seconds(), 0);
  EXPECT_EQ(live.http_get().path(), "/");
  EXPECT_EQ(live.http_get().scheme(), "HTTP");
  EXPECT_EQ(c.readiness_probe().period_seconds(), 3);
  EXPECT_EQ(c.readiness_probe().timeout_seconds(), 1);
  EXPECT_EQ(c.startup_probe().failure_threshold(), 3);
  EXPECT_FALSE(c.startup_probe().has_termination_grace_period_seconds());
}

TEST(PodDefaultsTest, LifecycleHttpGetDefaults) {
  v1::Pod pod = MakePod();
  v1::Container& c = *pod.mutable_spec()->mutable_containers(0);
  c.mutable_lifecycle()->mutable_pre_stop()->mutable_http_get()->set_path("/drain");
  c.mutable_lifecycle()->mutable_post_start()->mutable_http_get();
  SetDefaults(pod);
  EXPECT_EQ(c.lifecycle().pre_stop().http_get().path(), "/drain");
  EXPECT_EQ(c.lifecycle().pre_stop().http_get().scheme(), "HTTP");
  EXPECT_EQ(c.lifecycle().post_start().http_get().path(), "/");
}

TEST(PodDefaultsTest, RequestsDefaultToLimitsOnPodsOnly) {
  v1::Pod pod = MakePod();
  auto* resources = pod.mutable_spec()->mutable_containers(0)->mutable_resources();
  (*resources->mutable_limits())["cpu"].set_value("2");
  (*resources->mutable_limits())["memory"].set_value("1Gi");
  (*resources->mutable_requests())["cpu"].set_value("500m");
  SetDefaults(pod);
  EXPECT_EQ(resources->requests().at("cpu").value(), "500m");  // kept
  EXPECT_EQ(resources->requests().at("memory").value(), "1Gi");  // from the limit

  v1::Deployment d = MakeDeployment();
  auto* tmpl_resources =
      d.mutable_spec()->mutable_template_()->mutable_spec()->mutable_containers(0)->mutable_resources();
  (*tmpl_resources->mutable_limits())["memory"].set_value("1Gi");
  SetDefaults(d);
  EXPECT_FALSE(tmpl_resources->requests().contains("memory"));  // templates keep as written
}

TEST(PodDefaultsTest, ResourceListsAreRoundedUpToMilli) {
  v1::Pod pod = MakePod();
  auto* resources = pod.mutable_spec()->mutable_containers(0)->mutable_resources();
  (*resources->mutable_requests())["cpu"].set_value("1n");
  (*resources->mutable_limits())["cpu"].set_value("1.0001");
  (*pod.mutable_spec()->mutable_overhead())["cpu"].set_value("250u");
  SetDefaults(pod);
  EXPECT_EQ(resources->requests().at("cpu").value(), "1m");
  EXPECT_EQ(resources->limits().at("cpu").value(), "1001m");
  EXPECT_EQ(pod.spec().overhead().at("cpu").value(), "1m");
}

TEST(PodDefaultsTest, HostNetworkCopiesContainerPortsToHostPorts) {
  v1::Pod pod = MakePod();
  pod.mutable_spec()->set_host_network(true);
  auto* c = pod.mutable_spec()->mutable_containers(0);
  c->add_ports()->set_container_port(8080);
  auto* explicit_port = c->add_ports();
  explicit_port->set_container_port(9090);
  explicit_port->set_host_port(9091);
  SetDefaults(pod);
  EXPECT_EQ(c->ports(0).host_port(), 8080);
  EXPECT_EQ(c->ports(1).host_port(), 9091);
}

TEST(PodDefaultsTest, VolumeDefaults) {
  v1::Pod pod = MakePod();
  v1::PodSpec& spec = *pod.mutable_spec();
  spec.add_volumes()->set_name("scratch");  // no source: emptyDir
  auto* secret = spec.add_volumes();
  secret->set_name("creds");
  secret->mutable_secret()->set_secret_name("creds");
  auto* config = spec.add_volumes();
  config->set_name("config");
  config->mutable_config_map()->set_name("app");
  config->mutable_config_map()->set_default_mode(0400);
  auto* host = spec.add_volumes();
  host->set_name("logs");
  host->mutable_host_path()->set_path("/var/log");
  auto* projected = spec.add_volumes();
  projected->set_name("token");
  projected->mutable_projected()->add_sources()->mutable_service_account_token()->set_path("t");
  SetDefaults(pod);

  EXPECT_TRUE(spec.volumes(0).has_empty_dir());
  EXPECT_EQ(spec.volumes(1).secret().default_mode(), 420);
  EXPECT_EQ(spec.volumes(2).config_map().default_mode(), 0400);
  EXPECT_TRUE(spec.volumes(3).host_path().has_type());
  EXPECT_EQ(spec.volumes(3).host_path().type(), "");
  EXPECT_EQ(spec.volumes(4).projected().default_mode(), 420);
  EXPECT_EQ(spec.volumes(4).projected().sources(0).service_account_token().expiration_seconds(),
            3600);
}

TEST(PodDefaultsTest, EnvFieldRefApiVersion) {
  v1::Pod pod = MakePod();
  auto* env = pod.mutable_spec()->mutable_containers(0)->add_env();
  env->set_name("POD_NAME");
  env->mutable_value_from()->mutable_field_ref()->set_field_path("metadata.name");
  SetDefaults(pod);
  EXPECT_EQ(env->value_from().field_ref().api_version(), "v1");
}

TEST(PodDefaultsTest, TolerationsAndPriorityAreNotDefaulted) {
  v1::Pod pod = MakePod();
  auto* t = pod.mutable_spec()->add_tolerations();
  t->set_key("dedicated");
  pod.mutable_spec()->set_priority_class_name("high");
  SetDefaults(pod);
  EXPECT_EQ(t->operator_(), "");
  EXPECT_EQ(t->effect(), "");
  EXPECT_FALSE(t->has_toleration_seconds());
  EXPECT_FALSE(pod.spec().has_priority());
}

// --- workloads ------------------------------------------------------------------------

TEST(DeploymentDefaultsTest, KubernetesAppsV1Defaults) {
  v1::Deployment d = MakeDeployment();
  SetDefaults(d);
  const v1::DeploymentSpec& spec = d.spec();
  EXPECT_EQ(d.metadata().namespace_(), "default");
  ASSERT_TRUE(spec.has_replicas());
  EXPECT_EQ(spec.replicas(), 1);
  EXPECT_EQ(spec.strategy().type(), "RollingUpdate");
  EXPECT_EQ(spec.strategy().rolling_update().max_unavailable().str_val(), "25%");
  EXPECT_EQ(spec.strategy().rolling_update().max_surge().str_val(), "25%");
  EXPECT_EQ(spec.revision_history_limit(), 10);
  EXPECT_EQ(spec.progress_deadline_seconds(), 600);
  EXPECT_EQ(spec.min_ready_seconds(), 0);
  EXPECT_FALSE(spec.paused());
  // The template's pod spec is defaulted like a pod's.
  EXPECT_EQ(spec.template_().spec().restart_policy(), "Always");
  EXPECT_EQ(spec.template_().spec().termination_grace_period_seconds(), 30);
  EXPECT_EQ(spec.template_().spec().containers(0).image_pull_policy(), "IfNotPresent");
  // Not a Pod: no enableServiceLinks, no namespace on the template.
  EXPECT_FALSE(spec.template_().spec().has_enable_service_links());
  EXPECT_EQ(spec.template_().metadata().namespace_(), "");
  EXPECT_THAT(Validate(d), IsOk());
}

TEST(DeploymentDefaultsTest, KeepsExplicitValuesIncludingZero) {
  v1::Deployment d = MakeDeployment();
  v1::DeploymentSpec& spec = *d.mutable_spec();
  spec.set_replicas(0);
  spec.set_revision_history_limit(0);
  spec.set_progress_deadline_seconds(30);
  spec.mutable_strategy()->mutable_rolling_update()->mutable_max_surge()->set_int_val(0);
  SetDefaults(d);
  EXPECT_EQ(spec.replicas(), 0);
  EXPECT_EQ(spec.revision_history_limit(), 0);
  EXPECT_EQ(spec.progress_deadline_seconds(), 30);
  EXPECT_EQ(spec.strategy().type(), "RollingUpdate");
  EXPECT_EQ(spec.strategy().rolling_update().max_surge().int_val(), 0);
  EXPECT_EQ(spec.strategy().rolling_update().max_unavailable().str_val(), "25%");
}

TEST(DeploymentDefaultsTest, RecreateGetsNoRollingUpdate) {
  v1::Deployment d = MakeDeployment();
  d.mutable_spec()->mutable_strategy()->set_type("Recreate");
  SetDefaults(d);
  EXPECT_FALSE(d.spec().strategy().has_rolling_update());
  EXPECT_THAT(Validate(d), IsOk());
}

TEST(DeploymentDefaultsTest, SelectorIsNotDefaultedFromTemplateLabels) {
  v1::Deployment d = MakeDeployment();
  d.mutable_spec()->clear_selector();
  SetDefaults(d);
  EXPECT_FALSE(d.spec().has_selector());
}

TEST(ReplicaSetDefaultsTest, ReplicasAndTemplate) {
  v1::ReplicaSet rs;
  rs.mutable_metadata()->set_name("web-1");
  *rs.mutable_spec()->mutable_template_()->mutable_spec()->add_containers() =
      MakeContainer("web", "nginx");
  SetDefaults(rs);
  EXPECT_EQ(rs.metadata().namespace_(), "default");
  EXPECT_EQ(rs.spec().replicas(), 1);
  EXPECT_FALSE(rs.spec().has_selector());
  EXPECT_EQ(rs.spec().template_().spec().containers(0).image_pull_policy(), "Always");
  EXPECT_EQ(rs.spec().template_().spec().dns_policy(), "ClusterFirst");
}

// --- services -------------------------------------------------------------------------

TEST(ServiceDefaultsTest, ClusterIPDefaults) {
  v1::Service svc;
  svc.mutable_metadata()->set_name("web");
  auto* port = svc.mutable_spec()->add_ports();
  port->set_port(80);
  auto* named = svc.mutable_spec()->add_ports();
  named->set_port(443);
  named->mutable_target_port()->set_str_val("https");
  SetDefaults(svc);
  const v1::ServiceSpec& spec = svc.spec();
  EXPECT_EQ(svc.metadata().namespace_(), "default");
  EXPECT_EQ(spec.type(), "ClusterIP");
  EXPECT_EQ(spec.session_affinity(), "None");
  EXPECT_FALSE(spec.has_session_affinity_config());
  EXPECT_EQ(spec.ports(0).protocol(), "TCP");
  EXPECT_EQ(spec.ports(0).target_port().int_val(), 80);
  EXPECT_EQ(spec.ports(1).target_port().str_val(), "https");
  EXPECT_EQ(spec.internal_traffic_policy(), "Cluster");
  EXPECT_EQ(spec.external_traffic_policy(), "");  // not externally accessible
  EXPECT_FALSE(spec.has_allocate_load_balancer_node_ports());
}

TEST(ServiceDefaultsTest, TargetPortZeroOrEmptyMeansUnset) {
  v1::Service svc;
  auto* zero = svc.mutable_spec()->add_ports();
  zero->set_port(8080);
  zero->mutable_target_port()->set_int_val(0);
  auto* empty = svc.mutable_spec()->add_ports();
  empty->set_port(9090);
  empty->mutable_target_port()->set_str_val("");
  SetDefaults(svc);
  EXPECT_EQ(svc.spec().ports(0).target_port().int_val(), 8080);
  EXPECT_EQ(svc.spec().ports(1).target_port().int_val(), 9090);
}

TEST(ServiceDefaultsTest, LoadBalancerAndClientIP) {
  v1::Service svc;
  svc.mutable_spec()->set_type("LoadBalancer");
  svc.mutable_spec()->set_session_affinity("ClientIP");
  svc.mutable_status()->mutable_load_balancer()->add_ingress()->set_ip("203.0.113.7");
  SetDefaults(svc);
  const v1::ServiceSpec& spec = svc.spec();
  EXPECT_EQ(spec.external_traffic_policy(), "Cluster");
  EXPECT_EQ(spec.internal_traffic_policy(), "Cluster");
  EXPECT_TRUE(spec.allocate_load_balancer_node_ports());
  EXPECT_EQ(spec.session_affinity_config().client_ip().timeout_seconds(), 10800);
  EXPECT_EQ(svc.status().load_balancer().ingress(0).ip_mode(), "VIP");
}

TEST(ServiceDefaultsTest, ExternalNameHasNoTrafficPolicies) {
  v1::Service svc;
  svc.mutable_spec()->set_type("ExternalName");
  svc.mutable_spec()->set_external_name("db.example.com");
  SetDefaults(svc);
  EXPECT_FALSE(svc.spec().has_internal_traffic_policy());
  EXPECT_EQ(svc.spec().external_traffic_policy(), "");
}

// --- other kinds ----------------------------------------------------------------------

TEST(OtherDefaultsTest, NamespaceGetsPhaseAndNameLabel) {
  v1::Namespace ns;
  ns.mutable_metadata()->set_name("team-a");
  SetDefaults(ns);
  EXPECT_EQ(ns.status().phase(), "Active");
  EXPECT_EQ(ns.metadata().labels().at("kubernetes.io/metadata.name"), "team-a");
  EXPECT_EQ(ns.metadata().namespace_(), "");  // cluster-scoped
}

TEST(OtherDefaultsTest, NodeAllocatableDefaultsToCapacity) {
  v1::Node node;
  node.mutable_metadata()->set_name("n1");
  (*node.mutable_status()->mutable_capacity())["cpu"].set_value("4");
  (*node.mutable_status()->mutable_capacity())["memory"].set_value("8Gi");
  SetDefaults(node);
  EXPECT_EQ(node.status().allocatable().at("cpu").value(), "4");
  EXPECT_EQ(node.status().allocatable().at("memory").value(), "8Gi");
  EXPECT_EQ(node.metadata().namespace_(), "");

  (*node.mutable_status()->mutable_capacity())["pods"].set_value("110");
  SetDefaults(node);  // allocatable already set: not replaced
  EXPECT_FALSE(node.status().allocatable().contains("pods"));
}

TEST(OtherDefaultsTest, EndpointSlicePorts) {
  v1::EndpointSlice slice;
  slice.add_ports()->set_port(80);
  auto* udp = slice.add_ports();
  udp->set_protocol("UDP");
  udp->set_name("dns");
  SetDefaults(slice);
  EXPECT_EQ(slice.metadata().namespace_(), "default");
  EXPECT_TRUE(slice.ports(0).has_name());
  EXPECT_EQ(slice.ports(0).name(), "");
  EXPECT_EQ(slice.ports(0).protocol(), "TCP");
  EXPECT_EQ(slice.ports(1).protocol(), "UDP");
  EXPECT_EQ(slice.ports(1).name(), "dns");
}

TEST(OtherDefaultsTest, PriorityClassPreemptionPolicy) {
  v1::PriorityClass pc;
  SetDefaults(pc);
  EXPECT_EQ(pc.preemption_policy(), "PreemptLowerPriority");
  v1::PriorityClass never;
  never.set_preemption_policy("Never");
  SetDefaults(never);
  EXPECT_EQ(never.preemption_policy(), "Never");
}

TEST(OtherDefaultsTest, LeaseAndEventOnlyGetANamespace) {
  v1::Lease lease;
  SetDefaults(lease);
  EXPECT_EQ(lease.metadata().namespace_(), "default");
  EXPECT_FALSE(lease.spec().has_lease_duration_seconds());
  v1::Event event;
  event.mutable_metadata()->set_namespace_("kube-system");
  SetDefaults(event);
  EXPECT_EQ(event.metadata().namespace_(), "kube-system");
}

}  // namespace
}  // namespace orch::api
