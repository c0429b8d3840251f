// The scheduler's taint filter, on orch/api/taints.h's matching. Shared by TaintToleration
// and NodeUnschedulable; any plugin that honours taints (PodTopologySpread's
// nodeTaintsPolicy) may use it.
#ifndef ORCH_SRC_SCHEDULER_PLUGINS_TAINTS_H_
#define ORCH_SRC_SCHEDULER_PLUGINS_TAINTS_H_

#include "google/protobuf/repeated_ptr_field.h"
#include "orch/api/taints.h"
#include "orch/api/v1/core.pb.h"

namespace orch::scheduler::plugins {

using api::AnyTolerates;
using api::kEffectNoExecute;
using api::kEffectNoSchedule;
using api::kEffectPreferNoSchedule;
using api::Tolerates;

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
