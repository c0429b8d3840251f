// Taint and toleration matching, as Kubernetes' component-helpers (corev1 helpers) define
// it. Shared by TaintToleration and NodeUnschedulable; any plugin that honours taints
// (PodTopologySpread's nodeTaintsPolicy) may use it.
#ifndef ORCH_SRC_SCHEDULER_PLUGINS_TAINTS_H_
#define ORCH_SRC_SCHEDULER_PLUGINS_TAINTS_H_

#include <algorithm>
#include <string_view>
#include <type_traits>

#include "google/protobuf/repeated_ptr_field.h"
#include "orch/api/v1/core.pb.h"

namespace orch::scheduler::plugins {

inline constexpr std::string_view kEffectNoSchedule = "NoSchedule";
inline constexpr std::string_view kEffectPreferNoSchedule = "PreferNoSchedule";
inline constexpr std::string_view kEffectNoExecute = "NoExecute";

// Whether `toleration` tolerates a taint with this key, value and effect. An empty effect or
// key in the toleration matches any; an empty operator means Equal.
inline bool Tolerates(const api::v1::Toleration& toleration, std::string_view key,
                      std::string_view value, std::string_view effect) {
  if (!toleration.effect().empty() && toleration.effect() != effect) return false;
  if (!toleration.key().empty() && toleration.key() != key) return false;
  const std::string& op = toleration.operator_();
  if (op.empty() || op == "Equal") return toleration.value() == value;
  return op == "Exists";
}

inline bool Tolerates(const api::v1::Toleration& toleration, const api::v1::Taint& taint) {
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

// The first NoSchedule or NoExecute taint none of `tolerations` tolerates, or nullptr
// (Kubernetes' FindMatchingUntoleratedTaint with DoNotScheduleTaintsFilterFunc).
inline const api::v1::Taint* FindUntoleratedScheduleTaint(
    const google::protobuf::RepeatedPtrField<api::v1::Taint>& taints,
    const google::protobuf::RepeatedPtrField<api::v1::Toleration>& tolerations) {
  for (const api::v1::Taint& taint : taints) {
    if (taint.effect() != kEffectNoSchedule && taint.effect() != kEffectNoExecute) continue;
    if (!AnyTolerates(tolerations, taint.key(), taint.value(), taint.effect())) return &taint;
  }
  return nullptr;
}

}  // namespace orch::scheduler::plugins

#endif  // ORCH_SRC_SCHEDULER_PLUGINS_TAINTS_H_
