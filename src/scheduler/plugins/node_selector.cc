#include "scheduler/plugins/node_selector.h"

#include <algorithm>
#include <charconv>
#include <utility>

#include "absl/strings/str_join.h"
#include "fmt/format.h"
#include "orch/api/validation.h"

namespace orch::scheduler::plugins {
namespace {

using Labels = google::protobuf::Map<std::string, std::string>;

constexpr std::string_view kNameField = "metadata.name";

// Go's strconv.ParseInt(s, 10, 64): optional sign, decimal digits, nothing else.
std::optional<int64_t> ParseInt64(std::string_view text) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty() || text.front() == '+') return std::nullopt;
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

absl::Status Invalid(std::string_view path, std::string_view problem) {
  return absl::InvalidArgumentError(fmt::format("{}: {}", path, problem));
}

std::string Joined(const std::vector<std::string>& problems) {
  return absl::StrJoin(problems, "; ");
}

}  // namespace

// ------------------------------------------------------------------ NodeSelectorTerm

absl::StatusOr<NodeSelectorTerm> NodeSelectorTerm::Parse(const api::v1::NodeSelectorTerm& term,
                                                         std::string_view path) {
  NodeSelectorTerm parsed;
  for (int i = 0; i < term.match_expressions_size(); ++i) {
    const api::v1::NodeSelectorRequirement& expression = term.match_expressions(i);
    const std::string where = fmt::format("{}.matchExpressions[{}]", path, i);
    LabelRequirement r;
    r.key = expression.key();
    r.values.assign(expression.values().begin(), expression.values().end());
    const std::string& op = expression.operator_();
    if (op == "In" || op == "NotIn") {
      r.op = op == "In" ? Op::kIn : Op::kNotIn;
      if (r.values.empty()) {
        return Invalid(where + ".values", "for 'in', 'notin' operators, values set can't be empty");
      }
    } else if (op == "Exists" || op == "DoesNotExist") {
      r.op = op == "Exists" ? Op::kExists : Op::kDoesNotExist;
      if (!r.values.empty()) {
        return Invalid(where + ".values",
                       "values set must be empty for exists and does not exist");
      }
    } else if (op == "Gt" || op == "Lt") {
      r.op = op == "Gt" ? Op::kGt : Op::kLt;
      if (r.values.size() != 1) {
        return Invalid(where + ".values",
                       "for 'Gt', 'Lt' operators, exactly one value is required");
      }
      std::optional<int64_t> bound = ParseInt64(r.values[0]);
      if (!bound.has_value()) {
        return Invalid(where + ".values[0]",
                       "for 'Gt', 'Lt' operators, the value must be an integer");
      }
      r.bound = *bound;
    } else {
      return Invalid(where + ".operator",
                     fmt::format("\"{}\" is not a valid node selector operator", op));
    }
    if (std::vector<std::string> problems = api::IsQualifiedName(r.key); !problems.empty()) {
      return Invalid(where + ".key", Joined(problems));
    }
    for (const std::string& value : r.values) {
      if (std::vector<std::string> problems = api::IsValidLabelValue(value); !problems.empty()) {
        return Invalid(where + ".values", Joined(problems));
      }
    }
    std::sort(r.values.begin(), r.values.end());
    parsed.labels_.push_back(std::move(r));
  }
  for (int i = 0; i < term.match_fields_size(); ++i) {
    const api::v1::NodeSelectorRequirement& field = term.match_fields(i);
    const std::string where = fmt::format("{}.matchFields[{}]", path, i);
    const std::string& op = field.operator_();
    if (op != "In" && op != "NotIn") {
      return Invalid(where + ".operator",
                     fmt::format("\"{}\" is not a valid node field selector operator", op));
    }
    if (field.values_size() != 1) {
      return Invalid(where + ".values",
                     fmt::format("unexpected number of value ({}) for node field selector "
                                 "operator \"{}\"",
                                 field.values_size(), op));
    }
    parsed.fields_.push_back(FieldRequirement{field.key(), op == "In", field.values(0)});
  }
  return parsed;
}

bool NodeSelectorTerm::LabelMatches(const LabelRequirement& r, const Labels& labels) {
  auto it = labels.find(r.key);
  const bool has = it != labels.end();
  switch (r.op) {
    case Op::kIn:
      return has && std::binary_search(r.values.begin(), r.values.end(), it->second);
    case Op::kNotIn:
      return !has || !std::binary_search(r.values.begin(), r.values.end(), it->second);
    case Op::kExists:
      return has;
    case Op::kDoesNotExist:
      return !has;
    case Op::kGt:
    case Op::kLt: {
      if (!has) return false;
      std::optional<int64_t> value = ParseInt64(it->second);
      if (!value.has_value()) return false;
      return r.op == Op::kGt ? *value > r.bound : *value < r.bound;
    }
  }
  return false;
}

bool NodeSelectorTerm::Matches(const api::v1::Node& node) const {
  if (empty()) return false;
  for (const LabelRequirement& r : labels_) {
    if (!LabelMatches(r, node.metadata().labels())) return false;
  }
  // The only node field is metadata.name; a node without a name has no fields, and then
  // Kubernetes does not apply the field requirements at all.
  const std::string& name = node.metadata().name();
  if (name.empty()) return true;
  for (const FieldRequirement& f : fields_) {
    const std::string_view actual = f.key == kNameField ? std::string_view(name) : "";
    if ((actual == f.value) != f.equals) return false;
  }
  return true;
}

// ------------------------------------------------------------------ NodeSelector

absl::StatusOr<NodeSelector> NodeSelector::Parse(const api::v1::NodeSelector& selector,
                                                 std::string_view path) {
  NodeSelector parsed;
  for (int i = 0; i < selector.node_selector_terms_size(); ++i) {
    absl::StatusOr<NodeSelectorTerm> term = NodeSelectorTerm::Parse(
        selector.node_selector_terms(i), fmt::format("{}.nodeSelectorTerms[{}]", path, i));
    if (!term.ok()) return term.status();
    if (!term->empty()) parsed.terms_.push_back(*std::move(term));
  }
  return parsed;
}

NodeSelector NodeSelector::ParseLenient(const api::v1::NodeSelector& selector) {
  NodeSelector parsed;
  for (const api::v1::NodeSelectorTerm& t : selector.node_selector_terms()) {
    absl::StatusOr<NodeSelectorTerm> term = NodeSelectorTerm::Parse(t, "");
    if (term.ok() && !term->empty()) parsed.terms_.push_back(*std::move(term));
  }
  return parsed;
}

bool NodeSelector::Matches(const api::v1::Node& node) const {
  return std::any_of(terms_.begin(), terms_.end(),
                     [&](const NodeSelectorTerm& term) { return term.Matches(node); });
}

// ------------------------------------------------------------------ preferred terms

absl::StatusOr<PreferredSchedulingTerms> PreferredSchedulingTerms::Parse(
    const google::protobuf::RepeatedPtrField<api::v1::PreferredSchedulingTerm>& terms,
    std::string_view path) {
  PreferredSchedulingTerms parsed;
  for (int i = 0; i < terms.size(); ++i) {
    const api::v1::PreferredSchedulingTerm& t = terms[i];
    if (t.weight() == 0) continue;
    absl::StatusOr<NodeSelectorTerm> term =
        NodeSelectorTerm::Parse(t.preference(), fmt::format("{}[{}].preference", path, i));
    if (!term.ok()) return term.status();
    if (term->empty()) continue;
    parsed.terms_.push_back(Weighted{*std::move(term), t.weight()});
  }
  return parsed;
}

int64_t PreferredSchedulingTerms::Score(const api::v1::Node& node) const {
  int64_t score = 0;
  for (const Weighted& w : terms_) {
    if (w.term.Matches(node)) score += w.weight;
  }
  return score;
}

// ------------------------------------------------------------------ RequiredNodeAffinity

RequiredNodeAffinity::RequiredNodeAffinity(const api::v1::Pod& pod)
    : node_selector_(&pod.spec().node_selector()) {
  const api::v1::PodSpec& spec = pod.spec();
  if (spec.has_affinity() && spec.affinity().has_node_affinity() &&
      spec.affinity().node_affinity().has_required_during_scheduling_ignored_during_execution()) {
    affinity_ = NodeSelector::ParseLenient(
        spec.affinity().node_affinity().required_during_scheduling_ignored_during_execution());
  }
}

bool RequiredNodeAffinity::Matches(const api::v1::Node& node) const {
  const Labels& labels = node.metadata().labels();
  for (const auto& [key, value] : *node_selector_) {
    auto it = labels.find(key);
    if (it == labels.end() || it->second != value) return false;
  }
  return !affinity_.has_value() || affinity_->Matches(node);
}

}  // namespace orch::scheduler::plugins
