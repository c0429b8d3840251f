#include "orch/scheduler/framework.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

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

template <typename Fn>
bool PluginNameSet::AnyOf(Fn fn) const {
  const char* at = names_.data();
  const char* const end = at + names_.size();
  while (at < end) {
    uint32_t length = 0;
    std::memcpy(&length, at, sizeof length);
    at += sizeof length;
    if (fn(std::string_view(at, length))) return true;
    at += length;
  }
  return false;
}

uint64_t PluginNameSet::Bit(std::string_view name) {
  const size_t size = name.size();
  const unsigned char first = size == 0 ? 0 : static_cast<unsigned char>(name.front());
  const unsigned char last = size == 0 ? 0 : static_cast<unsigned char>(name.back());
  return uint64_t{1} << ((size * 7 + first * 3 + last) & 63);
}

void PluginNameSet::insert(std::string_view name) {
  if (contains(name)) return;
  const auto length = static_cast<uint32_t>(name.size());
  const size_t at = names_.size();
  names_.resize(at + sizeof length + name.size());
  std::memcpy(names_.data() + at, &length, sizeof length);
  if (!name.empty()) std::memcpy(names_.data() + at + sizeof length, name.data(), name.size());
  bits_ |= Bit(name);
}

bool PluginNameSet::contains(std::string_view name) const {
  if ((bits_ & Bit(name)) == 0) return false;  // most lookups: a name that is not here
  return AnyOf([name](std::string_view n) { return n == name; });
}

size_t PluginNameSet::size() const {
  size_t count = 0;
  AnyOf([&count](std::string_view) { return ++count, false; });
  return count;
}

bool operator==(const PluginNameSet& a, const PluginNameSet& b) {
  if (a.names_ == b.names_) return true;
  return a.size() == b.size() && !a.AnyOf([&b](std::string_view n) { return !b.contains(n); });
}

CycleState::Data* CycleState::Find(std::string_view key) const {
  for (const Entry& e : data_) {
    if (KeyOf(e) == key) return e.data.get();
  }
  return nullptr;
}

void CycleState::Write(std::string_view key, std::unique_ptr<Data> data) {
  for (Entry& e : data_) {
    if (KeyOf(e) == key) {
      e.data = std::move(data);
      return;
    }
  }
  Entry& e = data_.emplace_back();
  e.key_offset = static_cast<uint32_t>(keys_.size());
  e.key_size = static_cast<uint32_t>(key.size());
  e.data = std::move(data);
  keys_.insert(keys_.end(), key.begin(), key.end());
}

void CycleState::Delete(std::string_view key) {
  // The key's bytes stay in keys_ until the state goes: a cycle deletes little.
  data_.erase(std::remove_if(data_.begin(), data_.end(),
                             [&](const Entry& e) { return KeyOf(e) == key; }),
              data_.end());
}

std::unique_ptr<CycleState> CycleState::Clone() const {
  auto copy = std::make_unique<CycleState>();
  copy->keys_ = keys_;
  for (const Entry& e : data_) {
    Entry& c = copy->data_.emplace_back();
    c.key_offset = e.key_offset;
    c.key_size = e.key_size;
    c.data = e.data ? e.data->Clone() : nullptr;
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

void MinMaxReverseNormalizeScore(std::vector<NodeScore>& scores) {
  ScoreExtremes extremes;
  for (const NodeScore& s : scores) extremes.Add(s.score);
  for (NodeScore& s : scores) {
    s.score = MinMaxReverseNormalizedScore(s.score, extremes.min, extremes.max);
  }
}

}  // namespace orch::scheduler
