#include "orch/scheduler/framework.h"

#include <algorithm>

#include "absl/strings/str_join.h"
#include "fmt/format.h"

namespace orch::scheduler {

std::string_view CodeName(Code code) {
  switch (code) {
    case Code::kSuccess:
      return "Success";
    case Code::kError:
      return "Error";
    case Code::kUnschedulable:
      return "Unschedulable";
    case Code::kUnschedulableAndUnresolvable:
      return "UnschedulableAndUnresolvable";
    case Code::kWait:
      return "Wait";
    case Code::kSkip:
      return "Skip";
  }
  return "Unknown";
}

Status Status::Error(const absl::Status& cause, std::string_view context) {
  Status status(Code::kError, fmt::format("{}: {}", context, cause.ToString()));
  status.cause_ = cause.code();
  return status;
}

std::string Status::Message() const { return absl::StrJoin(reasons_, ", "); }

absl::Status Status::ToAbsl() const {
  switch (code_) {
    case Code::kSuccess:
    case Code::kSkip:
      return absl::OkStatus();
    case Code::kError:
      return absl::InternalError(Message());
    default:
      return absl::FailedPreconditionError(Message());
  }
}

void CycleState::Write(std::string_view key, std::unique_ptr<Data> data) {
  data_[key] = std::move(data);
}

void CycleState::Delete(std::string_view key) {
  auto it = data_.find(key);
  if (it != data_.end()) data_.erase(it);
}

std::unique_ptr<CycleState> CycleState::Clone() const {
  auto copy = std::make_unique<CycleState>();
  for (const auto& [key, data] : data_) copy->data_[key] = data ? data->Clone() : nullptr;
  copy->skip_filter = skip_filter;
  copy->skip_score = skip_score;
  return copy;
}

int64_t DefaultNormalizedScore(bool reverse, int64_t score, int64_t max) {
  if (max == 0) return reverse ? kMaxNodeScore : score;
  const int64_t scaled = kMaxNodeScore * score / max;
  return reverse ? kMaxNodeScore - scaled : scaled;
}

void DefaultNormalizeScore(bool reverse, std::vector<NodeScore>& scores) {
  int64_t max = 0;
  for (const NodeScore& s : scores) max = std::max(max, s.score);
  for (NodeScore& s : scores) s.score = DefaultNormalizedScore(reverse, s.score, max);
}

}  // namespace orch::scheduler
