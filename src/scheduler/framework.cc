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

const Status::Details Status::kNoDetails;

Status::Details& Status::Mutable() {
  if (details_ == nullptr) {
    details_ = std::make_shared<Details>();
  } else if (details_.use_count() > 1) {
    details_ = std::make_shared<Details>(*details_);  // shared with a copy: change our own
  }
  return *details_;
}

Status Status::Error(const absl::Status& cause, std::string_view context) {
  Status status(Code::kError, fmt::format("{}: {}", context, cause.ToString()));
  status.Mutable().cause = cause.code();
  return status;
}

std::string Status::Message() const { return absl::StrJoin(reasons(), ", "); }

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

CycleState::Data* CycleState::Find(std::string_view key) const {
  for (const Entry& e : data_) {
    if (e.key == key) return e.data.get();
  }
  return nullptr;
}

void CycleState::Write(std::string_view key, std::unique_ptr<Data> data) {
  for (Entry& e : data_) {
    if (e.key == key) {
      e.data = std::move(data);
      return;
    }
  }
  data_.push_back(Entry{std::string(key), std::move(data)});
}

void CycleState::Delete(std::string_view key) {
  std::erase_if(data_, [key](const Entry& e) { return e.key == key; });
}

std::unique_ptr<CycleState> CycleState::Clone() const {
  auto copy = std::make_unique<CycleState>();
  copy->data_.reserve(data_.size());
  for (const Entry& e : data_) {
    copy->data_.push_back(Entry{e.key, e.data ? e.data->Clone() : nullptr});
  }
  copy->skip_filter = skip_filter;
  copy->skip_score = skip_score;
  copy->filter_runs_ = filter_runs_;
  return copy;
}

Status FilterPlugin::FilterNodes(CycleState& state, const PodInfo& pod,
                                 std::vector<const NodeInfo*>& nodes, NodeFailures& failed) const {
  return KeepFeasible(nodes, failed, [&](const NodeInfo& node) { return Filter(state, pod, node); });
}

Status FilterPlugin::FilterDomain(CycleState& state, const PodInfo& pod,
                                  const std::string* value) const {
  return Status::Error(fmt::format("plugin \"{}\" is not domain-local", Name()));
}

Status ScorePlugin::ScoreNodes(CycleState& state, const PodInfo& pod,
                               absl::Span<const NodeInfo* const> nodes,
                               absl::Span<int64_t> scores) const {
  for (size_t i = 0; i < nodes.size(); ++i) {
    scores[i] = 0;
    Status status = Score(state, pod, *nodes[i], &scores[i]);
    if (!status.ok()) return status;
  }
  return Status();
}

void DefaultNormalizeScore(bool reverse, std::vector<NodeScore>& scores) {
  int64_t max = 0;
  for (const NodeScore& s : scores) max = std::max(max, s.score);
  for (NodeScore& s : scores) s.score = DefaultNormalizedScore(reverse, s.score, max);
}

}  // namespace orch::scheduler
