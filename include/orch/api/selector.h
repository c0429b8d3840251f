// Label and field selectors, with Kubernetes' syntax and semantics. One matcher serves
// the store, the typed client, informers and every controller.
//
// Label selector text: comma-separated requirements, all of which must hold:
//   key=value  key==value  key!=value  key in (a,b)  key notin (a,b)  key  !key
//   key>3  key<3 (integer comparison, as Kubernetes' Gt/Lt)
// Field selector text: comma-separated `path=value`, `path==value` or `path!=value`, where
// path is a dotted JSON field path of the object (metadata.name, spec.nodeName, ...).
//
// Thread safety: a parsed selector is immutable; concurrent Matches calls are safe.
// Errors: Parse and FromProto return kInvalidArgument naming the offending text.
#ifndef ORCH_API_SELECTOR_H_
#define ORCH_API_SELECTOR_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/map.h"
#include "google/protobuf/message.h"
#include "orch/api/v1/meta.pb.h"

namespace orch::api {

class LabelSelector {
 public:
  enum class Operator { kEquals, kNotEquals, kIn, kNotIn, kExists, kDoesNotExist, kGt, kLt };
  struct Requirement {
    std::string key;
    Operator op = Operator::kEquals;
    std::vector<std::string> values;  // sorted; one value for =, !=, >, <
  };

  // The empty selector: matches every set of labels.
  LabelSelector() = default;

  static absl::StatusOr<LabelSelector> Parse(std::string_view text);
  // matchLabels and matchExpressions, as in a Deployment's spec.selector. An empty
  // message matches everything (callers that treat a missing selector as "nothing" check
  // presence themselves, as Kubernetes does).
  static absl::StatusOr<LabelSelector> FromProto(const v1::LabelSelector& selector);
  // Every key=value of `labels` as an equality requirement (a Service's selector).
  static LabelSelector FromMap(const google::protobuf::Map<std::string, std::string>& labels);

  bool Matches(const google::protobuf::Map<std::string, std::string>& labels) const;
  bool empty() const { return requirements_.empty(); }
  const std::vector<Requirement>& requirements() const { return requirements_; }
  // Canonical text form; Parse(ToString()) yields an equal selector.
  std::string ToString() const;

 private:
  std::vector<Requirement> requirements_;  // sorted by key
};

class FieldSelector {
 public:
  struct Requirement {
    std::string path;  // JSON field path, e.g. "spec.nodeName"
    bool equals = true;
    std::string value;
  };

  // The empty selector: matches every object.
  FieldSelector() = default;

  static absl::StatusOr<FieldSelector> Parse(std::string_view text);

  // kInvalidArgument unless every path names a scalar field of `descriptor`'s message
  // ("field label not supported: spec.foo").
  absl::Status Validate(const google::protobuf::Descriptor& descriptor) const;

  // Unset fields compare as their zero value's text ("", "0", "false").
  // REQUIRES: Validate(*object.GetDescriptor()).ok().
  bool Matches(const google::protobuf::Message& object) const;

  bool empty() const { return requirements_.empty(); }
  const std::vector<Requirement>& requirements() const { return requirements_; }
  std::string ToString() const;

 private:
  std::vector<Requirement> requirements_;
};

}  // namespace orch::api

#endif  // ORCH_API_SELECTOR_H_
