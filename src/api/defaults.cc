#include "orch/api/defaults.h"

#include <string>
#include <string_view>

#include "google/protobuf/map.h"
#include "orch/api/quantity.h"

namespace orch::api {
namespace {

using ResourceList = google::protobuf::Map<std::string, v1::Quantity>;

constexpr int32_t kDefaultVolumeMode = 0644;  // 420, as Kubernetes
constexpr std::string_view kDefaultMaxUnavailable = "25%";
constexpr std::string_view kDefaultMaxSurge = "25%";

void DefaultNamespace(v1::ObjectMeta& metadata) {
  if (metadata.namespace_().empty()) metadata.set_namespace_("default");
}

// Kubernetes rounds every resource list up to milli precision when defaulting. A value
// that does not parse is left for validation to report.
void RoundResourceList(ResourceList& list) {
  for (auto& [name, value] : list) {
    absl::StatusOr<Quantity> quantity = Quantity::FromProto(value);
    if (!quantity.ok()) continue;
    quantity->RoundUp(-3);
    quantity->ToProto(&value);
  }
}

void SetHttpGetDefaults(v1::HTTPGetAction& action) {
  if (action.path().empty()) action.set_path("/");
  if (action.scheme().empty()) action.set_scheme("HTTP");
}

void SetLifecycleHandlerDefaults(v1::LifecycleHandler& handler) {
  if (handler.has_http_get()) SetHttpGetDefaults(*handler.mutable_http_get());
}

void SetVolumeDefaults(v1::Volume& volume) {
  const bool has_source = volume.has_empty_dir() || volume.has_host_path() ||
                          volume.has_config_map() || volume.has_secret() ||
                          volume.has_persistent_volume_claim() || volume.has_downward_api() ||
                          volume.has_projected() || volume.has_nfs();
  if (!has_source) volume.mutable_empty_dir();
  if (volume.has_host_path() && !volume.host_path().has_type()) {
    volume.mutable_host_path()->set_type("");
  }
  if (volume.has_secret() && !volume.secret().has_default_mode()) {
    volume.mutable_secret()->set_default_mode(kDefaultVolumeMode);
  }
  if (volume.has_config_map() && !volume.config_map().has_default_mode()) {
    volume.mutable_config_map()->set_default_mode(kDefaultVolumeMode);
  }
  if (volume.has_downward_api() && !volume.downward_api().has_default_mode()) {
    volume.mutable_downward_api()->set_default_mode(kDefaultVolumeMode);
  }
  if (volume.has_downward_api()) {
    for (auto& item : *volume.mutable_downward_api()->mutable_items()) {
      if (item.has_field_ref() && item.field_ref().api_version().empty()) {
        item.mutable_field_ref()->set_api_version("v1");
      }
    }
  }
  if (volume.has_projected()) {
    v1::ProjectedVolumeSource& projected = *volume.mutable_projected();
    if (!projected.has_default_mode()) projected.set_default_mode(kDefaultVolumeMode);
    for (auto& source : *projected.mutable_sources()) {
      if (source.has_service_account_token() &&
          !source.service_account_token().has_expiration_seconds()) {
        source.mutable_service_account_token()->set_expiration_seconds(3600);
      }
    }
  }
}

// Kubernetes' SetDefaults_Pod, for Pods only: a limit without a request becomes the
// request too.
void DefaultRequestsFromLimits(v1::Container& container) {
  if (!container.has_resources()) return;
  v1::ResourceRequirements& resources = *container.mutable_resources();
  for (const auto& [name, limit] : resources.limits()) {
    if (!resources.requests().contains(name)) (*resources.mutable_requests())[name] = limit;
  }
}

void DefaultHostNetworkPorts(v1::Container& container) {
  for (auto& port : *container.mutable_ports()) {
    if (port.host_port() == 0) port.set_host_port(port.container_port());
  }
}

template <typename Spec>
void SetWorkloadTemplateDefaults(Spec& spec) {
  if (!spec.has_replicas()) spec.set_replicas(1);
  if (spec.has_template_()) SetPodSpecDefaults(*spec.mutable_template_()->mutable_spec());
}

bool IntOrStringUnset(const v1::IntOrString& value) {
  switch (value.value_case()) {
    case v1::IntOrString::kIntVal:
      return value.int_val() == 0;
    case v1::IntOrString::kStrVal:
      return value.str_val().empty();
    case v1::IntOrString::VALUE_NOT_SET:
      return true;
  }
  return true;
}

}  // namespace

std::string DefaultImagePullPolicy(std::string_view image) {
  // The tag is after the last ':' of the last path component, before any digest; a ':'
  // in an earlier component is a registry port ("localhost:5000/app").
  const size_t at = image.find('@');
  const bool has_digest = at != std::string_view::npos;
  std::string_view name = image.substr(0, at);
  const size_t slash = name.rfind('/');
  std::string_view last = slash == std::string_view::npos ? name : name.substr(slash + 1);
  const size_t colon = last.rfind(':');
  std::string_view tag = colon == std::string_view::npos ? "" : last.substr(colon + 1);
  if (tag == "latest" || (tag.empty() && !has_digest)) return "Always";
  return "IfNotPresent";
}

void SetProbeDefaults(v1::Probe& probe) {
  if (probe.timeout_seconds() == 0) probe.set_timeout_seconds(1);
  if (probe.period_seconds() == 0) probe.set_period_seconds(10);
  if (probe.success_threshold() == 0) probe.set_success_threshold(1);
  if (probe.failure_threshold() == 0) probe.set_failure_threshold(3);
  if (probe.has_http_get()) SetHttpGetDefaults(*probe.mutable_http_get());
}

void SetContainerDefaults(v1::Container& container) {
  if (container.image_pull_policy().empty()) {
    container.set_image_pull_policy(DefaultImagePullPolicy(container.image()));
  }
  if (container.termination_message_path().empty()) {
    container.set_termination_message_path("/dev/termination-log");
  }
  if (container.termination_message_policy().empty()) {
    container.set_termination_message_policy("File");
  }
  for (auto& port : *container.mutable_ports()) {
    if (port.protocol().empty()) port.set_protocol("TCP");
  }
  for (auto& env : *container.mutable_env()) {
    if (env.has_value_from() && env.value_from().has_field_ref() &&
        env.value_from().field_ref().api_version().empty()) {
      env.mutable_value_from()->mutable_field_ref()->set_api_version("v1");
    }
  }
  if (container.has_liveness_probe()) SetProbeDefaults(*container.mutable_liveness_probe());
  if (container.has_readiness_probe()) SetProbeDefaults(*container.mutable_readiness_probe());
  if (container.has_startup_probe()) SetProbeDefaults(*container.mutable_startup_probe());
  if (container.has_lifecycle()) {
    v1::Lifecycle& lifecycle = *container.mutable_lifecycle();
    if (lifecycle.has_post_start()) SetLifecycleHandlerDefaults(*lifecycle.mutable_post_start());
    if (lifecycle.has_pre_stop()) SetLifecycleHandlerDefaults(*lifecycle.mutable_pre_stop());
  }
  if (container.has_resources()) {
    RoundResourceList(*container.mutable_resources()->mutable_requests());
    RoundResourceList(*container.mutable_resources()->mutable_limits());
  }
}

void SetPodSpecDefaults(v1::PodSpec& spec) {
  if (spec.dns_policy().empty()) spec.set_dns_policy("ClusterFirst");
  if (spec.restart_policy().empty()) spec.set_restart_policy("Always");
  if (!spec.has_termination_grace_period_seconds()) {
    spec.set_termination_grace_period_seconds(30);
  }
  if (spec.scheduler_name().empty()) spec.set_scheduler_name("default-scheduler");
  for (auto& volume : *spec.mutable_volumes()) SetVolumeDefaults(volume);
  for (auto& container : *spec.mutable_init_containers()) SetContainerDefaults(container);
  for (auto& container : *spec.mutable_containers()) SetContainerDefaults(container);
  RoundResourceList(*spec.mutable_overhead());
}

void SetDefaults(v1::Pod& pod) {
  DefaultNamespace(*pod.mutable_metadata());
  v1::PodSpec& spec = *pod.mutable_spec();
  for (auto& container : *spec.mutable_init_containers()) DefaultRequestsFromLimits(container);
  for (auto& container : *spec.mutable_containers()) DefaultRequestsFromLimits(container);
  if (!spec.has_enable_service_links()) spec.set_enable_service_links(true);
  if (spec.host_network()) {
    for (auto& container : *spec.mutable_init_containers()) DefaultHostNetworkPorts(container);
    for (auto& container : *spec.mutable_containers()) DefaultHostNetworkPorts(container);
  }
  SetPodSpecDefaults(spec);
}

void SetDefaults(v1::ReplicaSet& replica_set) {
  DefaultNamespace(*replica_set.mutable_metadata());
  SetWorkloadTemplateDefaults(*replica_set.mutable_spec());
}

void SetDefaults(v1::Deployment& deployment) {
  DefaultNamespace(*deployment.mutable_metadata());
  v1::DeploymentSpec& spec = *deployment.mutable_spec();
  SetWorkloadTemplateDefaults(spec);
  v1::DeploymentStrategy& strategy = *spec.mutable_strategy();
  if (strategy.type().empty()) strategy.set_type("RollingUpdate");
  if (strategy.type() == "RollingUpdate") {
    v1::RollingUpdateDeployment& rolling = *strategy.mutable_rolling_update();
    if (!rolling.has_max_unavailable()) {
      rolling.mutable_max_unavailable()->set_str_val(std::string(kDefaultMaxUnavailable));
    }
    if (!rolling.has_max_surge()) {
      rolling.mutable_max_surge()->set_str_val(std::string(kDefaultMaxSurge));
    }
  }
  if (!spec.has_revision_history_limit()) spec.set_revision_history_limit(10);
  if (!spec.has_progress_deadline_seconds()) spec.set_progress_deadline_seconds(600);
}

void SetDefaults(v1::Service& service) {
  DefaultNamespace(*service.mutable_metadata());
  v1::ServiceSpec& spec = *service.mutable_spec();
  if (spec.session_affinity().empty()) spec.set_session_affinity("None");
  if (spec.session_affinity() == "None") spec.clear_session_affinity_config();
  if (spec.session_affinity() == "ClientIP" &&
      !spec.session_affinity_config().client_ip().has_timeout_seconds()) {
    spec.mutable_session_affinity_config()->mutable_client_ip()->set_timeout_seconds(10800);
  }
  if (spec.type().empty()) spec.set_type("ClusterIP");
  for (auto& port : *spec.mutable_ports()) {
    if (port.protocol().empty()) port.set_protocol("TCP");
    if (IntOrStringUnset(port.target_port())) port.mutable_target_port()->set_int_val(port.port());
  }
  const bool externally_accessible =
      spec.type() == "NodePort" || spec.type() == "LoadBalancer" ||
      (spec.type() == "ClusterIP" && spec.external_ips_size() > 0);
  if (externally_accessible && spec.external_traffic_policy().empty()) {
    spec.set_external_traffic_policy("Cluster");
  }
  if (!spec.has_internal_traffic_policy() &&
      (spec.type() == "ClusterIP" || spec.type() == "NodePort" ||
       spec.type() == "LoadBalancer")) {
    spec.set_internal_traffic_policy("Cluster");
  }
  if (spec.type() == "LoadBalancer") {
    if (!spec.has_allocate_load_balancer_node_ports()) {
      spec.set_allocate_load_balancer_node_ports(true);
    }
    for (auto& ingress : *service.mutable_status()->mutable_load_balancer()->mutable_ingress()) {
      if (!ingress.ip().empty() && !ingress.has_ip_mode()) ingress.set_ip_mode("VIP");
    }
  }
}

void SetDefaults(v1::Namespace& ns) {
  if (!ns.metadata().name().empty()) {
    (*ns.mutable_metadata()->mutable_labels())["kubernetes.io/metadata.name"] =
        ns.metadata().name();
  }
  if (ns.status().phase().empty()) ns.mutable_status()->set_phase("Active");
}

void SetDefaults(v1::Node& node) {
  v1::NodeStatus& status = *node.mutable_status();
  RoundResourceList(*status.mutable_capacity());
  RoundResourceList(*status.mutable_allocatable());
  if (status.allocatable().empty()) *status.mutable_allocatable() = status.capacity();
}

void SetDefaults(v1::Event& event) { DefaultNamespace(*event.mutable_metadata()); }

void SetDefaults(v1::EndpointSlice& slice) {
  DefaultNamespace(*slice.mutable_metadata());
  for (auto& port : *slice.mutable_ports()) {
    if (!port.has_name()) port.set_name("");
    if (!port.has_protocol()) port.set_protocol("TCP");
  }
}

void SetDefaults(v1::Lease& lease) { DefaultNamespace(*lease.mutable_metadata()); }

void SetDefaults(v1::PriorityClass& priority_class) {
  if (!priority_class.has_preemption_policy()) {
    priority_class.set_preemption_policy("PreemptLowerPriority");
  }
}

}  // namespace orch::api
