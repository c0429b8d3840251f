// The pure rules behind a container's CRI config (src/node/container_config.h): the
// environment with valueFrom, QoS classes, CPU shares and quota, OOM score
// adjustments, as the kubelet computes them.
#include "node/container_config.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orch/api/v1/core.pb.h"
#include "support/status_matchers.h"

namespace orch::node::internal {
namespace {

namespace v1 = ::orch::api::v1;
using ::orch::testing::IsOk;
using ::orch::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr int64_t kGi = int64_t{1} << 30;

void SetResource(v1::Container& c, const std::string& kind, const std::string& name,
                 const std::string& value) {
  auto* list = kind == "limits" ? c.mutable_resources()->mutable_limits()
                                : c.mutable_resources()->mutable_requests();
  (*list)[name].set_value(value);
}

v1::Pod PodWith(std::vector<v1::Container> containers) {
  v1::Pod pod;
  pod.mutable_metadata()->set_name("web");
  pod.mutable_metadata()->set_namespace_("default");
  pod.mutable_metadata()->set_uid("uid-1");
  for (v1::Container& c : containers) *pod.mutable_spec()->add_containers() = std::move(c);
  return pod;
}

v1::Container Named(const std::string& name) {
  v1::Container c;
  c.set_name(name);
  return c;
}

TEST(ContainerEnvironmentTest, ValuesExpandEarlierVariablesOnlyAndRepeatsKeepTheFirstPlace) {
  v1::Container c = Named("main");
  auto add = [&](const std::string& name, const std::string& value) {
    v1::EnvVar* var = c.add_env();
    var->set_name(name);
    var->set_value(value);
  };
  add("X", "one");
  add("A", "a-$(X)");
  add("B", "$(LATER)");
  add("LATER", "late");
  add("X", "two");
  add("EMPTY", "");
  const v1::Pod pod = PodWith({c});
  absl::StatusOr<std::vector<EnvVar>> env = ContainerEnvironment(pod, c, {});
  ASSERT_THAT(env, IsOk());
  std::vector<std::string> lines;
  for (const EnvVar& var : *env) lines.push_back(var.name + "=" + var.value);
  EXPECT_THAT(lines, ::testing::ElementsAre("X=two", "A=a-one", "B=$(LATER)", "LATER=late",
                                            "EMPTY="));
}

TEST(ContainerEnvironmentTest, FieldRefsThatCannotBeResolvedNameTheVariable) {
  v1::Container c = Named("main");
  v1::EnvVar* var = c.add_env();
  var->set_name("PHASE");
  var->mutable_value_from()->mutable_field_ref()->set_field_path("status.phase");
  v1::Pod pod = PodWith({c});
  EXPECT_THAT(ContainerEnvironment(pod, c, {}),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("env variable \"PHASE\""),
                             HasSubstr("unsupported fieldPath: status.phase"))));
  var->mutable_value_from()->mutable_field_ref()->set_field_path("spec.nodeName");
  var->mutable_value_from()->mutable_field_ref()->set_api_version("v2");
  EXPECT_THAT(ContainerEnvironment(pod, c, {}),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("unsupported pod version: v2")));
  var->mutable_value_from()->mutable_field_ref()->set_api_version("v1");
  var->mutable_value_from()->mutable_field_ref()->set_field_path("spec.nodeName['x']");
  EXPECT_THAT(ContainerEnvironment(pod, c, {}),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("field label does not support subscript")));
}

TEST(ContainerEnvironmentTest, WholeLabelsAndAnnotationsAreSortedQuotedLines) {
  v1::Container c = Named("main");
  v1::EnvVar* var = c.add_env();
  var->set_name("LABELS");
  var->mutable_value_from()->mutable_field_ref()->set_field_path("metadata.labels");
  v1::Pod pod = PodWith({c});
  (*pod.mutable_metadata()->mutable_labels())["tier"] = "front";
  (*pod.mutable_metadata()->mutable_labels())["app"] = "say \"hi\"\n";
  absl::StatusOr<std::vector<EnvVar>> env = ContainerEnvironment(pod, c, {});
  ASSERT_THAT(env, IsOk());
  ASSERT_EQ(env->size(), 1u);
  EXPECT_EQ((*env)[0].value, "app=\"say \\\"hi\\\"\\n\"\ntier=\"front\"");
}

TEST(ContainerEnvironmentTest, ResourceFieldRefsRoundUpAndUnknownOnesFail) {
  v1::Container c = Named("main");
  SetResource(c, "requests", "cpu", "1500m");
  SetResource(c, "limits", "memory", "1.5Gi");
  auto add = [&](const std::string& name, const std::string& resource, const std::string& divisor) {
    v1::EnvVar* var = c.add_env();
    var->set_name(name);
    v1::ResourceFieldSelector* ref = var->mutable_value_from()->mutable_resource_field_ref();
    ref->set_resource(resource);
    if (!divisor.empty()) ref->mutable_divisor()->set_value(divisor);
  };
  add("CPU", "requests.cpu", "");
  add("CPU_M", "requests.cpu", "1m");
  add("CPU_ZERO_DIVISOR", "requests.cpu", "0");
  add("MEM_GI", "limits.memory", "1Gi");
  add("MEM_REQ_MI", "requests.memory", "1Mi");  // defaulted from the limit
  add("MEM_LIMIT_NODE", "limits.memory", "");   // set: the node's does not count
  add("CPU_LIMIT_NODE", "limits.cpu", "1m");    // unset: the node's
  add("STORAGE", "requests.ephemeral-storage", "");
  const v1::Pod pod = PodWith({c});
  google::protobuf::Map<std::string, v1::Quantity> allocatable;
  allocatable["cpu"].set_value("3");
  allocatable["memory"].set_value("4Gi");
  absl::StatusOr<std::vector<EnvVar>> env =
      ContainerEnvironment(pod, c, {.allocatable = &allocatable});
  ASSERT_THAT(env, IsOk());
  std::vector<std::string> lines;
  for (const EnvVar& var : *env) lines.push_back(var.name + "=" + var.value);
  EXPECT_THAT(lines, ::testing::ElementsAre("CPU=2", "CPU_M=1500", "CPU_ZERO_DIVISOR=2",
                                            "MEM_GI=2", "MEM_REQ_MI=1536",
                                            "MEM_LIMIT_NODE=1610612736", "CPU_LIMIT_NODE=3000",
                                            "STORAGE=0"));

  c.clear_env();
  add("GPU", "limits.nvidia.com/gpu", "");
  EXPECT_THAT(ContainerEnvironment(PodWith({c}), c, {}),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("\"GPU\""),
                             HasSubstr("unsupported container resource : limits.nvidia.com/gpu"))));
  c.clear_env();
  add("OTHER", "limits.cpu", "");
  c.mutable_env(0)->mutable_value_from()->mutable_resource_field_ref()->set_container_name("nope");
  EXPECT_THAT(ContainerEnvironment(PodWith({c}), c, {}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("container nope not found")));
}

TEST(ContainerEnvironmentTest, ConfigMapsAndSecretsAreSkippedWhenOptionalElseFail) {
  v1::Container c = Named("main");
  v1::EnvVar* maybe = c.add_env();
  maybe->set_name("MAYBE");
  maybe->mutable_value_from()->mutable_secret_key_ref()->set_name("creds");
  maybe->mutable_value_from()->mutable_secret_key_ref()->set_key("token");
  maybe->mutable_value_from()->mutable_secret_key_ref()->set_optional(true);
  v1::EnvFromSource* from = c.add_env_from();
  from->mutable_config_map_ref()->set_name("settings");
  from->mutable_config_map_ref()->set_optional(true);
  absl::StatusOr<std::vector<EnvVar>> env = ContainerEnvironment(PodWith({c}), c, {});
  ASSERT_THAT(env, IsOk());
  EXPECT_TRUE(env->empty());

  maybe->mutable_value_from()->mutable_secret_key_ref()->set_optional(false);
  EXPECT_THAT(ContainerEnvironment(PodWith({c}), c, {}),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("env variable \"MAYBE\""),
                             HasSubstr("Secret default/creds can't be resolved"))));
  maybe->mutable_value_from()->mutable_secret_key_ref()->set_optional(true);
  from->mutable_config_map_ref()->clear_optional();
  EXPECT_THAT(ContainerEnvironment(PodWith({c}), c, {}),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("envFrom ConfigMap default/settings can't be resolved")));
}

TEST(QosTest, ClassesFollowRequestsAndLimitsAcrossAllContainers) {
  v1::Container full = Named("full");
  SetResource(full, "limits", "cpu", "1");
  SetResource(full, "limits", "memory", "1Gi");  // requests default to the limits
  v1::Container none = Named("none");
  v1::Container cpu_only = Named("cpu-only");
  SetResource(cpu_only, "requests", "cpu", "100m");

  EXPECT_EQ(PodQosClass(PodWith({full})), "Guaranteed");
  EXPECT_EQ(PodQosClass(PodWith({none})), "BestEffort");
  EXPECT_EQ(PodQosClass(PodWith({cpu_only})), "Burstable");
  EXPECT_EQ(PodQosClass(PodWith({full, none})), "Burstable");
  v1::Pod with_init = PodWith({full});
  *with_init.mutable_spec()->add_init_containers() = cpu_only;
  EXPECT_EQ(PodQosClass(with_init), "Burstable");
  v1::Container unequal = full;
  SetResource(unequal, "requests", "memory", "512Mi");
  EXPECT_EQ(PodQosClass(PodWith({unequal})), "Burstable");
  v1::Pod stated = PodWith({none});
  stated.mutable_status()->set_qos_class("Guaranteed");
  EXPECT_EQ(PodQosClass(stated), "Guaranteed");
}

TEST(CpuTest, SharesAndQuotaAsHelpersLinux) {
  EXPECT_EQ(MilliCpuToShares(0), 2);
  EXPECT_EQ(MilliCpuToShares(1), 2);
  EXPECT_EQ(MilliCpuToShares(100), 102);
  EXPECT_EQ(MilliCpuToShares(250), 256);
  EXPECT_EQ(MilliCpuToShares(1000), 1024);
  EXPECT_EQ(MilliCpuToShares(1000000), 262144);
  EXPECT_EQ(MilliCpuToQuota(0, kCpuPeriod), 0);
  EXPECT_EQ(MilliCpuToQuota(1, kCpuPeriod), 1000);
  EXPECT_EQ(MilliCpuToQuota(5, kCpuPeriod), 1000);
  EXPECT_EQ(MilliCpuToQuota(250, kCpuPeriod), 25000);
  EXPECT_EQ(MilliCpuToQuota(1500, kCpuPeriod), 150000);
}

TEST(OomScoreTest, BurstableIsRelativeToCapacityAndClamped) {
  v1::Container burst = Named("burst");
  SetResource(burst, "requests", "memory", "1Gi");
  EXPECT_EQ(OomScoreAdjust(PodWith({burst}), burst, 8 * kGi), 875);
  EXPECT_EQ(OomScoreAdjust(PodWith({burst}), burst, 1 * kGi), 3);  // all of it: above -997's 3
  EXPECT_EQ(OomScoreAdjust(PodWith({burst}), burst, 0), 999);     // unknown capacity
  v1::Container cpu_only = Named("cpu-only");
  SetResource(cpu_only, "requests", "cpu", "1");
  EXPECT_EQ(OomScoreAdjust(PodWith({cpu_only}), cpu_only, 8 * kGi), 999);  // below BestEffort
  v1::Container none = Named("none");
  EXPECT_EQ(OomScoreAdjust(PodWith({none}), none, 8 * kGi), 1000);
  v1::Pod critical = PodWith({none});
  critical.mutable_spec()->set_priority_class_name("system-node-critical");
  EXPECT_EQ(OomScoreAdjust(critical, none, 8 * kGi), -997);

  // A sidecar (restartable init container) is killed no sooner than the regular container
  // that asks least.
  v1::Container sidecar = Named("sidecar");
  sidecar.set_restart_policy("Always");
  SetResource(sidecar, "requests", "memory", "64Mi");
  v1::Pod pod = PodWith({burst});
  *pod.mutable_spec()->add_init_containers() = sidecar;
  EXPECT_EQ(OomScoreAdjust(pod, sidecar, 8 * kGi), 875);
}

TEST(LinuxResourcesTest, BadQuantitiesNameTheContainerAndField) {
  v1::Container c = Named("main");
  SetResource(c, "limits", "memory", "lots");
  EXPECT_THAT(LinuxResources(PodWith({c}), c, {}),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("container \"main\": resources.limits[memory]"),
                             HasSubstr("\"lots\""))));
}

}  // namespace
}  // namespace orch::node::internal
