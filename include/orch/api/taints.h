// Taints and tolerations: whether a pod's toleration covers a node's taint, as Kubernetes'
// corev1 helpers define it (Toleration.ToleratesTaint). The scheduler's TaintToleration
// and NodeUnschedulable plugins and the taint eviction controller all decide with these.
//
// Thread safety: pure functions. Errors: none; an unknown operator tolerates nothing
// (validation refuses one before it is stored).
#ifndef ORCH_API_TAINTS_H_
#define ORCH_API_TAINTS_H_

#include <algorithm>
#include <string>
#include <string_view>
#include <type_traits>

#include "orch/api/v1/core.pb.h"

namespace orch::api {

// Taint keys the control plane and node agents manage (Kubernetes' well_known_taints.go).
inline constexpr std::string_view kTaintNodeNotReady = "node.kubernetes.io/not-ready";
inline constexpr std::string_view kTaintNodeUnreachable = "node.kubernetes.io/unreachable";
inline constexpr std::string_view kTaintNodeUnschedulable = "node.kubernetes.io/unschedulable";
inline constexpr std::string_view kTaintNodeMemoryPressure = "node.kubernetes.io/memory-pressure";
inline constexpr std::string_view kTaintNodeDiskPressure = "node.kubernetes.io/disk-pressure";
inline constexpr std::string_view kTaintNodePIDPressure = "node.kubernetes.io/pid-pressure";
inline constexpr std::string_view kTaintNodeNetworkUnavailable =
    "node.kubernetes.io/network-unavailable";
inline constexpr std::string_view kTaintNodeOutOfService = "node.kubernetes.io/out-of-service";

inline constexpr std::string_view kEffectNoSchedule = "NoSchedule";
inline constexpr std::string_view kEffectPreferNoSchedule = "PreferNoSchedule";
inline constexpr std::string_view kEffectNoExecute = "NoExecute";

// Whether `toleration` tolerates a taint with this key, value and effect. An empty effect
// or key in the toleration matches any; an empty operator means Equal; Exists ignores the
// value.
inline bool Tolerates(const v1::Toleration& toleration, std::string_view key,
                      std::string_view value, std::string_view effect) {
  if (!toleration.effect().empty() && toleration.effect() != effect) return false;
  if (!toleration.key().empty() && toleration.key() != key) return false;
  const std::string& op = toleration.operator_();
  if (op.empty() || op == "Equal") return toleration.value() == value;
  return op == "Exists";
}

inline bool Tolerates(const v1::Toleration& toleration, const v1::Taint& taint) {
  return Tolerates(toleration, taint.key(), taint.value(), taint.effect());
}

// Whether any of `tolerations` (a container of Toleration or of pointers to them)
// tolerates the taint.
template <typename Tolerations>
bool AnyTolerates(const Tolerations& tolerations, std::string_view key, std::string_view value,
                  std::string_view effect) {
  return std::any_of(tolerations.begin(), tolerations.end(), [&](const auto& t) {
    if constexpr (std::is_pointer_v<std::decay_t<decltype(t)>>) {
      return Tolerates(*t, key, value, effect);
    } else {
      return Tolerates(t, key, value, effect);
    }
  });
}

}  // namespace orch::api

#endif  // ORCH_API_TAINTS_H_
