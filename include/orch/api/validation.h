// Kubernetes validation for the built-in kinds, with Kubernetes' field paths and messages.
//
// Validate(object) checks an object as Kubernetes' API server checks it on create, after
// defaulting (orch/api/defaults.h). It returns OK or kInvalidArgument whose message lists
// EVERY problem found, in field order, joined by "; ", each in Kubernetes' format
// "<field path>: <error type>[: <value>][: <detail>]", for example:
//   metadata.name: Invalid value: "Web": a lowercase RFC 1123 subdomain must consist of
//     lower case alphanumeric characters, '-' or '.', and must start and end with an
//     alphanumeric character (e.g. 'example.com', regex used for validation is ...)
//   spec.replicas: Invalid value: -1: must be greater than or equal to 0
//   spec.template.spec.containers[1].name: Duplicate value: "web"
//   spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"
//   spec.selector: Required value
// Paths are relative to the object (the codec prefixes the document it decoded).
//
// The Scheme wires these as each built-in Kind's `validator`. Update-time rules (immutable
// fields such as a Deployment's selector) are not checked here.
//
// The helpers below are public so that operators' validators produce the same messages.
//
// Thread safety: pure functions; FieldErrors is a plain value (not thread-safe).
#ifndef ORCH_API_VALIDATION_H_
#define ORCH_API_VALIDATION_H_

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "google/protobuf/map.h"
#include "orch/api/v1/apps.pb.h"
#include "orch/api/v1/coordination.pb.h"
#include "orch/api/v1/core.pb.h"
#include "orch/api/v1/discovery.pb.h"
#include "orch/api/v1/meta.pb.h"
#include "orch/api/v1/scheduling.pb.h"

namespace orch::api {

// Per kind. OK, or kInvalidArgument listing every error (see above).
absl::Status Validate(const v1::Namespace& ns);
absl::Status Validate(const v1::Node& node);
absl::Status Validate(const v1::Pod& pod);
absl::Status Validate(const v1::Service& service);
absl::Status Validate(const v1::Event& event);
absl::Status Validate(const v1::ReplicaSet& replica_set);
absl::Status Validate(const v1::Deployment& deployment);
absl::Status Validate(const v1::EndpointSlice& slice);
absl::Status Validate(const v1::Lease& lease);
absl::Status Validate(const v1::PriorityClass& priority_class);

// Field paths in Kubernetes' notation: Child("spec", "replicas") is "spec.replicas",
// Index("spec.containers", 0) is "spec.containers[0]", Key("spec.nodeSelector", "zone")
// is "spec.nodeSelector[zone]". Child of an empty path is the bare name.
std::string Child(std::string_view path, std::string_view name);
std::string Index(std::string_view path, int index);
std::string Key(std::string_view path, std::string_view key);

// Field errors in Kubernetes' wording (k8s.io/apimachinery/pkg/util/validation/field).
// String values print quoted ("web"), integers bare (-1).
class FieldErrors {
 public:
  // "<path>: Invalid value: <value>: <detail>"
  void Invalid(std::string_view path, std::string_view value, std::string_view detail);
  void Invalid(std::string_view path, int64_t value, std::string_view detail);
  // As Invalid, with `printed_value` written as is (for maps, selectors, ...).
  void InvalidPrinted(std::string_view path, std::string_view printed_value,
                      std::string_view detail);
  // "<path>: Required value[: <detail>]"
  void Required(std::string_view path, std::string_view detail = "");
  // "<path>: Duplicate value: <value>"
  void Duplicate(std::string_view path, std::string_view value);
  void Duplicate(std::string_view path, int64_t value);
  // "<path>: Not found: <value>"
  void NotFound(std::string_view path, std::string_view value);
  // "<path>: Unsupported value: <value>: supported values: "a", "b""
  void NotSupported(std::string_view path, std::string_view value,
                    std::initializer_list<std::string_view> supported);
  // "<path>: Forbidden: <detail>"
  void Forbidden(std::string_view path, std::string_view detail);
  // "<path>: Too long: may not be more than <max_bytes> bytes"
  void TooLong(std::string_view path, int64_t max_bytes);
  // "<path>: Too many: <count>: must have at most <max> items"
  void TooMany(std::string_view path, int64_t count, int64_t max);

  bool empty() const { return errors_.empty(); }
  const std::vector<std::string>& errors() const { return errors_; }
  // OK when empty, else kInvalidArgument with every error joined by "; ".
  absl::Status ToStatus() const;

 private:
  std::vector<std::string> errors_;
};

// Kubernetes' name and value checks (k8s.io/apimachinery/pkg/util/validation): each
// returns the problems with `value`, empty when it is valid.
std::vector<std::string> IsDNS1123Label(std::string_view value);      // Namespace names
std::vector<std::string> IsDNS1123Subdomain(std::string_view value);  // most names
std::vector<std::string> IsDNS1035Label(std::string_view value);      // Service names
std::vector<std::string> IsQualifiedName(std::string_view value);     // label keys
std::vector<std::string> IsValidLabelValue(std::string_view value);
std::vector<std::string> IsValidPortNum(int64_t port);
std::vector<std::string> IsValidPortName(std::string_view value);  // IANA_SVC_NAME
std::vector<std::string> IsValidPercent(std::string_view value);    // "25%"
std::vector<std::string> IsValidIP(std::string_view value);

// A name rule for ValidateObjectMeta: one of the Is* functions above.
using NameValidator = std::vector<std::string> (*)(std::string_view);

// metadata: name (or generateName) by `name_rule`, namespace required and a DNS label
// for namespaced kinds and forbidden otherwise, labels, annotations, owner references,
// finalizers.
void ValidateObjectMeta(const v1::ObjectMeta& metadata, bool namespaced,
                        NameValidator name_rule, std::string_view path, FieldErrors& errors);
void ValidateLabels(const google::protobuf::Map<std::string, std::string>& labels,
                    std::string_view path, FieldErrors& errors);
void ValidateAnnotations(const google::protobuf::Map<std::string, std::string>& annotations,
                         std::string_view path, FieldErrors& errors);
void ValidateLabelSelector(const v1::LabelSelector& selector, std::string_view path,
                           FieldErrors& errors);
// A pod spec wherever it appears (a Pod's spec, a template's spec).
void ValidatePodSpec(const v1::PodSpec& spec, std::string_view path, FieldErrors& errors);

}  // namespace orch::api

#endif  // ORCH_API_VALIDATION_H_
