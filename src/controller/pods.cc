#include "controller/pods.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "absl/container/flat_hash_map.h"
#include "orch/api/encoding.h"
#include "orch/api/time.h"
#include "orch/controller/ownership.h"

namespace orch::controller::internal {

namespace {

namespace v1 = api::v1;

constexpr char kDeletionCostAnnotation[] = "controller.kubernetes.io/pod-deletion-cost";

const v1::PodCondition* ReadyCondition(const v1::Pod& pod) {
  for (const v1::PodCondition& c : pod.status().conditions()) {
    if (c.type() == "Ready") return &c;
  }
  return nullptr;
}

bool IsZero(absl::Time t) { return t == absl::UnixEpoch(); }

absl::Time ReadyTime(const v1::Pod& pod) {
  const v1::PodCondition* ready = ReadyCondition(pod);
  if (ready == nullptr || ready->status() != "True") return absl::UnixEpoch();
  return api::FromTimestamp(ready->last_transition_time());
}

int PhaseOrdinal(const std::string& phase) {
  if (phase == "Unknown") return 1;
  if (phase == "Running") return 2;
  return 0;  // Pending, and anything else
}

// The annotation's int32, or 0 when absent or malformed.
int32_t DeletionCost(const v1::Pod& pod) {
  auto it = pod.metadata().annotations().find(kDeletionCostAnnotation);
  if (it == pod.metadata().annotations().end()) return 0;
  int32_t cost = 0;
  const std::string& text = it->second;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), cost);
  return ec == std::errc() && end == text.data() + text.size() ? cost : 0;
}

int32_t MaxRestarts(const v1::Pod& pod) {
  int32_t most = 0;
  for (const auto& status : pod.status().container_statuses()) {
    most = std::max(most, status.restart_count());
  }
  return most;
}

// floor(log2(age in ns)), -1 for no age.
int64_t LogRank(absl::Time t, absl::Time now) {
  const int64_t age = absl::ToInt64Nanoseconds(now - t);
  return age > 0 ? static_cast<int64_t>(std::log2(static_cast<double>(age))) : -1;
}

// True if time `a` ranks its pod first: the younger (or unset) one, on a log2 scale of
// age, ties broken by uid.
bool YoungerFirst(absl::Time a, absl::Time b, absl::Time now, const v1::Pod& pa,
                  const v1::Pod& pb) {
  if (IsZero(a) || IsZero(b)) return IsZero(a);
  const int64_t diff = LogRank(a, now) - LogRank(b, now);
  if (diff == 0) return pa.metadata().uid() < pb.metadata().uid();
  return diff < 0;
}

struct Ranked {
  PodPtr pod;
  int rank = 0;
};

}  // namespace

absl::Status AddPodsByControllerIndex(client::Informer<v1::Pod>& pods) {
  absl::Status added = pods.AddIndexer(kPodsByController, [](const v1::Pod& pod) {
    const v1::OwnerReference* ref = GetControllerOf(pod);
    return std::vector<std::string>{ref != nullptr ? ref->uid() : pod.metadata().namespace_() + "/"};
  });
  return absl::IsAlreadyExists(added) ? absl::OkStatus() : added;
}

std::vector<PodPtr> PodsControlledBy(const client::Lister<v1::Pod>& pods, const std::string& uid) {
  absl::StatusOr<std::vector<PodPtr>> found = pods.ByIndex(kPodsByController, uid);
  return found.ok() ? *std::move(found) : std::vector<PodPtr>{};
}

std::vector<PodPtr> PodsForController(const client::Lister<v1::Pod>& pods,
                                      const v1::ObjectMeta& owner) {
  std::vector<PodPtr> out = PodsControlledBy(pods, owner.uid());
  std::vector<PodPtr> orphans = PodsControlledBy(pods, owner.namespace_() + "/");
  const auto middle = out.insert(out.end(), std::make_move_iterator(orphans.begin()),
                                 std::make_move_iterator(orphans.end()));
  // Both runs are in the index's order (by name, all in one namespace): one by name.
  std::inplace_merge(out.begin(), middle, out.end(), [](const PodPtr& a, const PodPtr& b) {
    return a->metadata().name() < b->metadata().name();
  });
  return out;
}

bool IsPodActive(const v1::Pod& pod) {
  const std::string& phase = pod.status().phase();
  return phase != "Succeeded" && phase != "Failed" && !pod.metadata().has_deletion_timestamp();
}

bool IsPodReady(const v1::Pod& pod) {
  const v1::PodCondition* ready = ReadyCondition(pod);
  return ready != nullptr && ready->status() == "True";
}

bool IsPodAvailable(const v1::Pod& pod, int32_t min_ready_seconds, absl::Time now) {
  if (!IsPodReady(pod)) return false;
  if (min_ready_seconds == 0) return true;
  const absl::Time since = ReadyTime(pod);
  return !IsZero(since) && since + absl::Seconds(min_ready_seconds) < now;
}

bool SameLabels(const v1::ObjectMeta& a, const v1::ObjectMeta& b) {
  return api::SameStringMap(a.labels(), b.labels());
}

std::string PodKey(const v1::Pod& pod) {
  return pod.metadata().namespace_() + "/" + pod.metadata().name();
}

void SortForDeletion(std::vector<PodPtr>& pods, const std::vector<PodPtr>& related,
                     absl::Time now) {
  absl::flat_hash_map<std::string, int> on_node;
  for (const PodPtr& pod : related) {
    if (IsPodActive(*pod)) ++on_node[pod->spec().node_name()];
  }
  std::vector<Ranked> ranked;
  ranked.reserve(pods.size());
  for (PodPtr& pod : pods) {
    auto it = on_node.find(pod->spec().node_name());
    ranked.push_back({std::move(pod), it == on_node.end() ? 0 : it->second});
  }
  std::stable_sort(ranked.begin(), ranked.end(), [now](const Ranked& x, const Ranked& y) {
    const v1::Pod& a = *x.pod;
    const v1::Pod& b = *y.pod;
    const std::string& node_a = a.spec().node_name();
    const std::string& node_b = b.spec().node_name();
    if (node_a != node_b && (node_a.empty() || node_b.empty())) return node_a.empty();
    if (PhaseOrdinal(a.status().phase()) != PhaseOrdinal(b.status().phase())) {
      return PhaseOrdinal(a.status().phase()) < PhaseOrdinal(b.status().phase());
    }
    const bool ready_a = IsPodReady(a), ready_b = IsPodReady(b);
    if (ready_a != ready_b) return !ready_a;
    if (DeletionCost(a) != DeletionCost(b)) return DeletionCost(a) < DeletionCost(b);
    if (x.rank != y.rank) return x.rank > y.rank;
    if (ready_a && ready_b && ReadyTime(a) != ReadyTime(b)) {
      return YoungerFirst(ReadyTime(a), ReadyTime(b), now, a, b);
    }
    if (MaxRestarts(a) != MaxRestarts(b)) return MaxRestarts(a) > MaxRestarts(b);
    const absl::Time created_a = api::FromTimestamp(a.metadata().creation_timestamp());
    const absl::Time created_b = api::FromTimestamp(b.metadata().creation_timestamp());
    if (created_a != created_b) return YoungerFirst(created_a, created_b, now, a, b);
    return false;
  });
  for (size_t i = 0; i < pods.size(); ++i) pods[i] = std::move(ranked[i].pod);
}

}  // namespace orch::controller::internal
