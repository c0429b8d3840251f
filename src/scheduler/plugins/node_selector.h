// Node selectors as Kubernetes' component-helpers (scheduling/corev1/nodeaffinity) match
// them: node selector terms ORed, the requirements of a term ANDed, matchExpressions
// against the node's labels (In, NotIn, Exists, DoesNotExist, Gt, Lt) and matchFields
// against metadata.name. Parsed once per pod (or per plugin for args), matched per node
// without allocating.
//
// Thread safety: immutable after parsing; Matches may run concurrently.
#ifndef ORCH_SRC_SCHEDULER_PLUGINS_NODE_SELECTOR_H_
#define ORCH_SRC_SCHEDULER_PLUGINS_NODE_SELECTOR_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "orch/api/v1/core.pb.h"

namespace orch::scheduler::plugins {

// One NodeSelectorTerm. A term with neither expressions nor fields matches no node.
class NodeSelectorTerm {
 public:
  // kInvalidArgument "PATH.matchExpressions[1]: problem" for a requirement Kubernetes
  // refuses (unknown operator, wrong number of values, a bad key or value).
  static absl::StatusOr<NodeSelectorTerm> Parse(const api::v1::NodeSelectorTerm& term,
                                                std::string_view path);

  bool Matches(const api::v1::Node& node) const;
  bool empty() const { return labels_.empty() && fields_.empty(); }

 private:
  enum class Op { kIn, kNotIn, kExists, kDoesNotExist, kGt, kLt };
  struct LabelRequirement {
    std::string key;
    Op op = Op::kIn;
    std::vector<std::string> values;  // sorted, for In and NotIn
    int64_t bound = 0;                // for Gt and Lt
  };
  struct FieldRequirement {
    std::string key;
    bool equals = true;
    std::string value;
  };

  static bool LabelMatches(const LabelRequirement& r,
                           const google::protobuf::Map<std::string, std::string>& labels);

  std::vector<LabelRequirement> labels_;
  std::vector<FieldRequirement> fields_;
};

// A v1.NodeSelector (required node affinity): matches when any term matches.
class NodeSelector {
 public:
  // Strict, for scheduler configuration: the first bad term is the error.
  static absl::StatusOr<NodeSelector> Parse(const api::v1::NodeSelector& selector,
                                            std::string_view path);
  // Lenient, for pods (Kubernetes' LazyErrorNodeSelector): a term that does not parse,
  // like an empty term, matches no node; the others still count.
  static NodeSelector ParseLenient(const api::v1::NodeSelector& selector);

  bool Matches(const api::v1::Node& node) const;

 private:
  std::vector<NodeSelectorTerm> terms_;
};

// Preferred scheduling terms: a node's score is the sum of the weights of the terms it
// matches. Terms with weight 0 or no requirements are dropped, as in Kubernetes.
class PreferredSchedulingTerms {
 public:
  // kInvalidArgument for any term that does not parse.
  static absl::StatusOr<PreferredSchedulingTerms> Parse(
      const google::protobuf::RepeatedPtrField<api::v1::PreferredSchedulingTerm>& terms,
      std::string_view path);

  int64_t Score(const api::v1::Node& node) const;
  bool empty() const { return terms_.empty(); }

 private:
  struct Weighted {
    NodeSelectorTerm term;
    int64_t weight = 0;
  };
  std::vector<Weighted> terms_;
};

// What a pod requires of a node's labels: spec.nodeSelector and the required terms of
// spec.affinity.nodeAffinity (Kubernetes' RequiredNodeAffinity). A required affinity with
// no terms matches no node.
class RequiredNodeAffinity {
 public:
  // REQUIRES: `pod` outlives this object (its nodeSelector is read in place).
  explicit RequiredNodeAffinity(const api::v1::Pod& pod);

  bool Matches(const api::v1::Node& node) const;

 private:
  const google::protobuf::Map<std::string, std::string>* node_selector_;  // in the pod
  std::optional<NodeSelector> affinity_;
};

}  // namespace orch::scheduler::plugins

#endif  // ORCH_SRC_SCHEDULER_PLUGINS_NODE_SELECTOR_H_
