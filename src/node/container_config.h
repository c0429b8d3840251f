// The parts of a container's CRI config that the kubelet derives rather than copies from
// the pod spec: its environment (valueFrom resolved, $(VAR) references expanded), its
// command and args (expanded against that environment) and its Linux resources (CFS
// shares and quota, memory limit, OOM score adjustment by QoS class). Pure functions of
// the pod and what the node knows; internal to the node agent.
//
// Each follows the kubelet function named in its comment, with its formulas and, where it
// has them, its error messages; where orch lacks what the kubelet reads (ConfigMaps,
// Secrets, service links) the difference is said there.
#ifndef ORCH_SRC_NODE_CONTAINER_CONFIG_H_
#define ORCH_SRC_NODE_CONTAINER_CONFIG_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/map.h"
#include "orch/api/v1/core.pb.h"
#include "orch/runtime/runtime.h"

namespace orch::node::internal {

namespace cri = ::orch::runtime::cri;

// What a container's config needs from outside the pod object.
struct ContainerInputs {
  std::string pod_ip;   // the sandbox's address; "" when it has none
  std::string host_ip;  // the node's InternalIP; "" when none was given
  // The node's allocatable as the agent registered it (orch's capacity is the same): its
  // "cpu" and "memory" stand in for limits a container does not set (resourceFieldRef),
  // and "memory" is the capacity a Burstable container's OOM score is relative to. May be
  // nullptr (then nothing stands in, and the capacity is unknown).
  const google::protobuf::Map<std::string, api::v1::Quantity>* allocatable = nullptr;
};

struct EnvVar {
  std::string name;
  std::string value;
};

// The kubelet's makeEnvironmentVariables: the container's env in declaration order (a name
// declared twice appears once, where first declared, with the later value). A `value`
// expands $(VAR) references to variables declared before it; a `valueFrom` (when `value`
// is empty) reads fieldRef (metadata.name, .namespace, .uid, .labels, .annotations and
// their ['key'] subscripts, spec.nodeName, spec.serviceAccountName,
// spec.terminationGracePeriodSeconds, status.hostIP(s), status.podIP(s)) or
// resourceFieldRef (limits/requests of cpu, memory, ephemeral-storage and hugepages-*,
// divided by `divisor` and rounded up; a missing limit is the node's allocatable).
// orch has no ConfigMap or Secret objects: a configMapKeyRef or secretKeyRef (and an
// envFrom source) marked `optional: true` is skipped, as the kubelet skips a missing one.
// Errors: kFailedPrecondition naming the variable for a reference that cannot be
// resolved (a non-optional ConfigMap or Secret, an unsupported field path, an unknown
// container or resource); the kubelet reports these as CreateContainerConfigError.
absl::StatusOr<std::vector<EnvVar>> ContainerEnvironment(const api::v1::Pod& pod,
                                                         const api::v1::Container& container,
                                                         const ContainerInputs& inputs);

// The pod's QoS class as Kubernetes computes it (GetPodQOS over cpu and memory, requests
// defaulted from limits as the API server defaults them); status.qosClass when set.
std::string PodQosClass(const api::v1::Pod& pod);

// helpers_linux.go: cpu.shares for a CPU request (2 for none, at most 262144) and the CFS
// quota for a CPU limit over `period` microseconds (0 for none, at least 1000).
int64_t MilliCpuToShares(int64_t milli_cpu);
int64_t MilliCpuToQuota(int64_t milli_cpu, int64_t period);
inline constexpr int64_t kCpuPeriod = 100000;  // 100 ms, the kubelet's default

// qos/policy.go GetContainerOOMScoreAdjust: -997 for Guaranteed (and node-critical) pods,
// 1000 for BestEffort, 1000 - 1000 * memoryRequest / memoryCapacity for Burstable ones,
// clamped to [3, 999] (a sidecar's no higher than the pod's smallest regular container's).
// An unknown capacity (<= 0) counts as a request of nothing.
int64_t OomScoreAdjust(const api::v1::Pod& pod, const api::v1::Container& container,
                       int64_t memory_capacity);

// kuberuntime_container_linux.go generateLinuxContainerResources: cpu_shares from the CPU
// request (the limit when only a limit is set; none without either: orch has no kubepods
// cgroup for the kubelet's 2 shares to be relative to), cpu_period 100000 and cpu_quota from the
// CPU limit, memory_limit_in_bytes from the memory limit, oom_score_adj as above.
// Errors: kFailedPrecondition for a quantity of the pod that does not parse.
absl::StatusOr<cri::LinuxContainerResources> LinuxResources(const api::v1::Pod& pod,
                                                            const api::v1::Container& container,
                                                            const ContainerInputs& inputs);

// Fills `config`'s envs, command and args (kubecontainer.ExpandContainerCommandAndArgs:
// $(VAR) against the whole environment) and linux.resources. Errors: those of
// ContainerEnvironment and LinuxResources; `config` is then partly filled.
absl::Status ApplyContainerConfig(const api::v1::Pod& pod, const api::v1::Container& container,
                                  const ContainerInputs& inputs, cri::ContainerConfig* config);

}  // namespace orch::node::internal

#endif  // ORCH_SRC_NODE_CONTAINER_CONFIG_H_
