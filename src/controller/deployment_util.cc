#include "controller/deployment_util.h"

#include <algorithm>
#include <charconv>
#include <climits>
#include <cmath>

#include "orch/api/time.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/message_differencer.h"

namespace orch::controller::internal {

namespace {

namespace v1 = api::v1;

// Kubernetes' rand.SafeEncodeString alphabet: no vowels, no look-alikes.
constexpr std::string_view kSafeAlphabet = "bcdfghjklmnpqrstvwxz2456789";

template <typename Int>
std::optional<Int> ParseInt(std::string_view text) {
  Int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<int32_t> IntAnnotation(const v1::ReplicaSet& rs, const char* key) {
  auto it = rs.metadata().annotations().find(key);
  if (it == rs.metadata().annotations().end()) return std::nullopt;
  return ParseInt<int32_t>(it->second);
}


bool Skipped(std::string_view annotation) {
  return annotation == kRevisionAnnotation || annotation == kRevisionHistoryAnnotation ||
         annotation == kDesiredReplicasAnnotation || annotation == kMaxReplicasAnnotation ||
         annotation == "kubectl.kubernetes.io/last-applied-configuration" ||
         annotation == "deprecated.deployment.rollback.to";
}

template <typename Get>
int32_t Sum(const std::vector<RsPtr>& sets, Get get) {
  int32_t total = 0;
  for (const RsPtr& rs : sets) {
    if (rs != nullptr) total += get(*rs);
  }
  return total;
}

}  // namespace

int32_t Replicas(const v1::Deployment& d) {
  return d.spec().has_replicas() ? d.spec().replicas() : 1;
}
int32_t Replicas(const v1::ReplicaSet& rs) {
  return rs.spec().has_replicas() ? rs.spec().replicas() : 1;
}

int32_t ScaledValue(const v1::IntOrString& value, int32_t total, bool round_up) {
  if (value.value_case() == v1::IntOrString::kIntVal) return value.int_val();
  std::string_view text = value.str_val();
  if (text.empty() || text.back() != '%') return 0;
  std::optional<int32_t> percent = ParseInt<int32_t>(text.substr(0, text.size() - 1));
  if (!percent.has_value()) return 0;
  const double scaled = static_cast<double>(*percent) * total / 100.0;
  return static_cast<int32_t>(round_up ? std::ceil(scaled) : std::floor(scaled));
}

bool IsRollingUpdate(const v1::Deployment& d) { return d.spec().strategy().type() == "RollingUpdate"; }

std::pair<int32_t, int32_t> ResolveFenceposts(const v1::Deployment& d) {
  const v1::RollingUpdateDeployment& rolling = d.spec().strategy().rolling_update();
  const int32_t surge = ScaledValue(rolling.max_surge(), Replicas(d), true);
  int32_t unavailable = ScaledValue(rolling.max_unavailable(), Replicas(d), false);
  if (surge == 0 && unavailable == 0) unavailable = 1;  // or nothing could ever move
  return {surge, unavailable};
}

int32_t MaxSurge(const v1::Deployment& d) {
  return IsRollingUpdate(d) ? ResolveFenceposts(d).first : 0;
}

int32_t MaxUnavailable(const v1::Deployment& d) {
  if (!IsRollingUpdate(d) || Replicas(d) == 0) return 0;
  return std::min(ResolveFenceposts(d).second, Replicas(d));
}

int32_t SpecReplicas(const std::vector<RsPtr>& sets) {
  return Sum(sets, [](const v1::ReplicaSet& rs) { return Replicas(rs); });
}
int32_t ActualReplicas(const std::vector<RsPtr>& sets) {
  return Sum(sets, [](const v1::ReplicaSet& rs) { return rs.status().replicas(); });
}
int32_t ReadyReplicas(const std::vector<RsPtr>& sets) {
  return Sum(sets, [](const v1::ReplicaSet& rs) { return rs.status().ready_replicas(); });
}
int32_t AvailableReplicas(const std::vector<RsPtr>& sets) {
  return Sum(sets, [](const v1::ReplicaSet& rs) { return rs.status().available_replicas(); });
}

std::vector<RsPtr> Active(const std::vector<RsPtr>& sets) {
  std::vector<RsPtr> out;
  for (const RsPtr& rs : sets) {
    if (rs != nullptr && Replicas(*rs) > 0) out.push_back(rs);
  }
  return out;
}

void SortByCreation(std::vector<RsPtr>& sets) {
  std::stable_sort(sets.begin(), sets.end(), [](const RsPtr& a, const RsPtr& b) {
    const auto& ta = a->metadata().creation_timestamp();
    const auto& tb = b->metadata().creation_timestamp();
    if (ta.seconds() != tb.seconds()) return ta.seconds() < tb.seconds();
    if (ta.nanos() != tb.nanos()) return ta.nanos() < tb.nanos();
    return a->metadata().name() < b->metadata().name();
  });
}

bool EqualIgnoringHash(const v1::PodTemplateSpec& a, const v1::PodTemplateSpec& b) {
  v1::PodTemplateSpec x = a, y = b;
  x.mutable_metadata()->mutable_labels()->erase(kPodTemplateHashLabel);
  y.mutable_metadata()->mutable_labels()->erase(kPodTemplateHashLabel);
  return google::protobuf::util::MessageDifferencer::Equals(x, y);
}

RsPtr FindNewReplicaSet(const v1::Deployment& d, std::vector<RsPtr> sets) {
  SortByCreation(sets);
  for (const RsPtr& rs : sets) {
    if (EqualIgnoringHash(rs->spec().template_(), d.spec().template_())) return rs;
  }
  return nullptr;
}

int64_t Revision(const v1::ObjectMeta& meta) {
  auto it = meta.annotations().find(kRevisionAnnotation);
  if (it == meta.annotations().end()) return 0;
  return ParseInt<int64_t>(it->second).value_or(0);
}

int64_t MaxRevision(const std::vector<RsPtr>& sets) {
  int64_t most = 0;
  for (const RsPtr& rs : sets) most = std::max(most, Revision(rs->metadata()));
  return most;
}

std::string ComputeHash(const v1::PodTemplateSpec& tmpl, std::optional<int32_t> collision_count) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream out(&bytes);
    google::protobuf::io::CodedOutputStream coded(&out);
    coded.SetSerializationDeterministic(true);
    tmpl.SerializeToCodedStream(&coded);
  }
  if (collision_count.has_value()) {
    const uint32_t c = static_cast<uint32_t>(*collision_count);
    for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<char>((c >> (8 * i)) & 0xff));
  }
  uint32_t hash = 2166136261u;  // FNV-32a
  for (unsigned char b : bytes) {
    hash ^= b;
    hash *= 16777619u;
  }
  std::string out = std::to_string(hash);
  for (char& c : out) c = kSafeAlphabet[static_cast<unsigned char>(c) % kSafeAlphabet.size()];
  return out;
}

int32_t NewReplicaSetReplicas(const v1::Deployment& d, const std::vector<RsPtr>& all,
                              const v1::ReplicaSet& new_rs) {
  if (!IsRollingUpdate(d)) return Replicas(d);  // Recreate
  const int32_t surge = ScaledValue(d.spec().strategy().rolling_update().max_surge(), Replicas(d), true);
  const int32_t current = SpecReplicas(all);
  const int32_t max_total = Replicas(d) + surge;
  if (current >= max_total) return Replicas(new_rs);  // no room to grow
  const int32_t grow = std::min(max_total - current, Replicas(d) - Replicas(new_rs));
  return Replicas(new_rs) + grow;
}

std::optional<int32_t> DesiredReplicasAnnotation(const v1::ReplicaSet& rs) {
  return IntAnnotation(rs, kDesiredReplicasAnnotation);
}

bool IsSaturated(const v1::Deployment& d, const v1::ReplicaSet* new_rs) {
  if (new_rs == nullptr) return false;
  std::optional<int32_t> desired = DesiredReplicasAnnotation(*new_rs);
  return desired.has_value() && Replicas(*new_rs) == Replicas(d) && *desired == Replicas(d) &&
         new_rs->status().available_replicas() == Replicas(d);
}

RsPtr FindActiveOrLatest(const RsPtr& new_rs, std::vector<RsPtr> old_sets) {
  if (new_rs == nullptr && old_sets.empty()) return nullptr;
  SortByCreation(old_sets);
  std::reverse(old_sets.begin(), old_sets.end());  // newest first
  std::vector<RsPtr> all = old_sets;
  all.push_back(new_rs);
  std::vector<RsPtr> active = Active(all);
  if (active.size() == 1) return active[0];
  if (!active.empty()) return nullptr;
  return new_rs != nullptr ? new_rs : old_sets[0];
}

int32_t Proportion(const v1::ReplicaSet& rs, const v1::Deployment& d, int32_t to_add,
                   int32_t added) {
  if (Replicas(rs) == 0 || to_add == 0 || to_add == added) return 0;
  int32_t fraction;
  if (Replicas(d) == 0) {
    fraction = -Replicas(rs);  // scaling to zero: all of it
  } else {
    const int32_t max_now = Replicas(d) + MaxSurge(d);
    int32_t max_before = IntAnnotation(rs, kMaxReplicasAnnotation).value_or(0);
    if (max_before == 0) max_before = d.status().replicas();
    if (max_before == 0) return 0;
    const double size = static_cast<double>(Replicas(rs)) * max_now / max_before;
    fraction = static_cast<int32_t>(std::lround(size)) - Replicas(rs);
  }
  const int32_t allowed = to_add - added;
  return to_add > 0 ? std::min(fraction, allowed) : std::max(fraction, allowed);
}

bool ReplicasAnnotationsNeedUpdate(const v1::ReplicaSet& rs, int32_t desired, int32_t max) {
  return IntAnnotation(rs, kDesiredReplicasAnnotation) != desired ||
         IntAnnotation(rs, kMaxReplicasAnnotation) != max;
}

bool SetReplicasAnnotations(v1::ReplicaSet& rs, int32_t desired, int32_t max) {
  if (!ReplicasAnnotationsNeedUpdate(rs, desired, max)) return false;
  auto& annotations = *rs.mutable_metadata()->mutable_annotations();
  annotations[kDesiredReplicasAnnotation] = std::to_string(desired);
  annotations[kMaxReplicasAnnotation] = std::to_string(max);
  return true;
}

bool SetNewReplicaSetAnnotations(const v1::Deployment& d, v1::ReplicaSet& rs,
                                 const std::string& revision, bool exists) {
  auto& annotations = *rs.mutable_metadata()->mutable_annotations();
  bool changed = false;
  for (const auto& [key, value] : d.metadata().annotations()) {
    if (Skipped(key)) continue;
    auto it = annotations.find(key);
    if (it != annotations.end() && it->second == value) continue;
    annotations[key] = value;
    changed = true;
  }
  auto old_it = annotations.find(kRevisionAnnotation);
  const bool had_revision = old_it != annotations.end();
  const std::string old_revision = had_revision ? old_it->second : "";
  std::optional<int64_t> old_number =
      old_revision.empty() ? std::optional<int64_t>(0) : ParseInt<int64_t>(old_revision);
  std::optional<int64_t> new_number = ParseInt<int64_t>(revision);
  if (!old_number.has_value() || !new_number.has_value()) return false;  // malformed: leave it
  if (*old_number < *new_number) {
    annotations[kRevisionAnnotation] = revision;
    changed = true;
    // This ReplicaSet had a revision before: it is being rolled back to. Keep the old
    // numbers, within the history's length limit.
    if (had_revision) {
      const std::string history = annotations[kRevisionHistoryAnnotation];
      std::vector<std::string> entries;
      if (!history.empty()) entries = absl::StrSplit(history, ',');
      size_t length = history.empty() ? 0 : history.size() + 1;
      length += old_revision.size();
      size_t start = 0;
      while (length > kMaxRevisionHistoryLength && start < entries.size()) {
        length -= entries[start].size() + 1;
        ++start;
      }
      if (length <= kMaxRevisionHistoryLength) {
        std::vector<std::string> kept(entries.begin() + static_cast<long>(start), entries.end());
        kept.push_back(old_revision);
        annotations[kRevisionHistoryAnnotation] = absl::StrJoin(kept, ",");
      }
    }
  }
  if (!exists && SetReplicasAnnotations(rs, Replicas(d), Replicas(d) + MaxSurge(d))) changed = true;
  return changed;
}

bool SetDeploymentRevision(v1::Deployment& d, const std::string& revision) {
  auto& annotations = *d.mutable_metadata()->mutable_annotations();
  auto it = annotations.find(kRevisionAnnotation);
  if (it != annotations.end() && it->second == revision) return false;
  annotations[kRevisionAnnotation] = revision;
  return true;
}

const v1::DeploymentCondition* FindCondition(const v1::DeploymentStatus& status,
                                             std::string_view type) {
  for (const v1::DeploymentCondition& c : status.conditions()) {
    if (c.type() == type) return &c;
  }
  return nullptr;
}

v1::DeploymentCondition NewCondition(std::string_view type, std::string_view status,
                                     std::string_view reason, std::string message, absl::Time now) {
  v1::DeploymentCondition c;
  c.set_type(std::string(type));
  c.set_status(std::string(status));
  c.set_reason(std::string(reason));
  c.set_message(std::move(message));
  *c.mutable_last_update_time() = api::MetaTime(now);
  *c.mutable_last_transition_time() = api::MetaTime(now);
  return c;
}

void SetCondition(v1::DeploymentStatus& status, v1::DeploymentCondition condition) {
  const v1::DeploymentCondition* current = FindCondition(status, condition.type());
  if (current != nullptr && current->status() == condition.status() &&
      current->reason() == condition.reason()) {
    return;
  }
  if (current != nullptr && current->status() == condition.status()) {
    *condition.mutable_last_transition_time() = current->last_transition_time();
  }
  RemoveCondition(status, condition.type());
  *status.add_conditions() = std::move(condition);
}

void RemoveCondition(v1::DeploymentStatus& status, std::string_view type) {
  auto* conditions = status.mutable_conditions();
  conditions->erase(std::remove_if(conditions->begin(), conditions->end(),
                                   [type](const auto& c) { return c.type() == type; }),
                    conditions->end());
}

bool HasProgressDeadline(const v1::Deployment& d) {
  return d.spec().has_progress_deadline_seconds() &&
         d.spec().progress_deadline_seconds() != INT32_MAX;
}

bool DeploymentComplete(const v1::Deployment& d, const v1::DeploymentStatus& status) {
  return status.updated_replicas() == Replicas(d) && status.replicas() == Replicas(d) &&
         status.available_replicas() == Replicas(d) &&
         status.observed_generation() >= d.metadata().generation();
}

bool DeploymentProgressing(const v1::Deployment& d, const v1::DeploymentStatus& status) {
  const v1::DeploymentStatus& before = d.status();
  const int32_t old_before = before.replicas() - before.updated_replicas();
  const int32_t old_now = status.replicas() - status.updated_replicas();
  return status.updated_replicas() > before.updated_replicas() || old_now < old_before ||
         status.ready_replicas() > before.ready_replicas() ||
         status.available_replicas() > before.available_replicas();
}

bool DeploymentTimedOut(const v1::Deployment& d, const v1::DeploymentStatus& status,
                        absl::Time now) {
  if (!HasProgressDeadline(d)) return false;
  const v1::DeploymentCondition* c = FindCondition(status, "Progressing");
  if (c == nullptr || c->reason() == kNewReplicaSetAvailableReason) return false;
  if (c->reason() == kTimedOutReason) return true;
  return api::FromTimestamp(c->last_update_time()) + absl::Seconds(d.spec().progress_deadline_seconds()) < now;
}

}  // namespace orch::controller::internal
