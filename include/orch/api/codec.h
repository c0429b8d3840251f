// The manifest codec: Kubernetes-shaped YAML and JSON to and from the Scheme's protobuf
// messages, strictly, with errors that name the document and the field path.
//
// Decoding walks each message by protobuf reflection. Field names are the JSON names of
// the proto fields (`containerPort`, `podIP`); apiVersion + kind pick the message from the
// Scheme. JSON is read by the same YAML parser (JSON is YAML's flow style), so one reader
// serves `kubectl apply -f` style files of either syntax, several documents per file.
//
// Value mapping (the same in both directions):
//   string, bool, integers, float/double   YAML/JSON scalars of that type; enums by name
//   bytes                                  base64 string
//   repeated / map<string, V>              array / object
//   orch.api.v1.Quantity                   a string or a number ("500m", 0.5, 2Gi); stored
//                                          canonical (orch/api/quantity.h): 0.5 -> "500m"
//   orch.api.v1.IntOrString                an integer (int32) or a string; keeps which
//   google.protobuf.Timestamp              RFC 3339 string in UTC; fractional seconds up to
//                                          nanoseconds (metav1.Time and MicroTime alike)
//   google.protobuf.Struct                 any object (free-form data such as a plugin's
//                                          args); Value: any value; ListValue: any array.
//                                          Scalars are typed as below; numbers become
//                                          doubles; null in a Value is null_value (kept,
//                                          written back as null). A Value with no kind set
//                                          is written as null.
//   other messages                         objects
//   null                                   unset (an element of a list or map: zero value)
//
// Typing follows Kubernetes, which reads YAML through go-yaml (YAML 1.1 scalar types) and
// then strict JSON decoding:
//   - an unquoted scalar has the type YAML gives it; a quoted one is always a string. So
//     `replicas: "3"` is an error (expected integer, got string "3") and so is a label
//     value `version: 1.0` (expected string, got number 1.0): quote it.
//   - booleans are true/false in any case (true, True, TRUE) and, as YAML 1.1 and
//     Kubernetes, also y/yes/on and n/no/off (Y, Yes, YES, ...). The flip side matches
//     Kubernetes too: an unquoted `no` or `on` where a string is expected is an error.
//   - integers may be written decimal, 0x hex, 0o or leading-0 octal (`defaultMode: 0644`
//     is 420) or 0b binary, with `_` separators; they must fit the field's type.
//   - map keys are taken as written (`1: x` has the key "1").
//   - YAML merge keys (`<<`) are not supported.
//
// Strictness: an unknown field, a duplicate field or map key, a value of the wrong type, a
// bad quantity or timestamp, two members of one oneof, or a missing/unknown apiVersion or
// kind is kInvalidArgument. Then, if requested, the Kind's defaulter and validator run
// (a missing required field is the validator's error). Messages have the shape
//   SOURCE: document N (Kind "name"): FIELD.PATH: problem
//   web.yaml: document 2 (Deployment "web"): spec.template.spec.containers[0].resources.limits.cpu: invalid quantity "two" ...
//   web.yaml: document 3: apiVersion: required
//   web.yaml: document 1 (Deployment "web"): spec: unknown field "replica"
//   web.yaml: document 4: line 7, column 3: end of map not found
// Documents are numbered from 1, counting only non-empty documents (a stray `---` or a
// comment-only document is skipped and takes no number). The parenthesis shows the kind
// and metadata.name as written, once the kind is known; an item of a `kind: List` shows as
// `document N, items[I] (Kind "name")`. A field path is dotted JSON names with [i] for list
// indexes; a map key is `.key`, or `[key]` when it holds anything but letters, digits, '_'
// and '-' (metadata.labels[app.kubernetes.io/name]). YAML syntax errors give the 1-based
// line and column.
//
// Limits (so that no input crashes or hangs): nesting deeper than 100 levels is refused
// (both ways: a Struct built in code may nest deeper than any manifest can);
// anchors and aliases are allowed but a document may expand to at most 10,000 plus ten
// times its own number of nodes ("excessive aliasing"); recursive aliases are refused; a
// map key longer than 1000 characters (quoted) is refused both ways, since YAML parsers
// cannot read such keys back; strings must be UTF-8.
//
// Encoding writes apiVersion and kind first (fields 1 and 2 of every kind) and then the
// fields in proto declaration order, omitting what Kubernetes' omitempty omits: unset
// messages, empty lists and maps, and scalars at their zero value, except proto3
// `optional` (and oneof) scalars, which are written whenever present (`replicas: 0`). A
// present but empty message is written as {}. Map keys are sorted. For every message M that
// Decode* produced (including defaulting), decoding Encode*(M) yields M again.
//
// Thread safety: every function here is reentrant; concurrent calls are safe provided the
// Scheme is not being modified. Errors: nothing throws; all failures are absl::Status.
#ifndef ORCH_API_CODEC_H_
#define ORCH_API_CODEC_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/message.h"
#include "orch/api/scheme.h"

namespace orch::api {

struct DecodeOptions {
  // Run Kind::defaulter on each object (Kubernetes' defaulting).
  bool apply_defaults = true;
  // Run Kind::validator on each object, after defaulting.
  bool validate = true;
};

struct DecodedObject {
  const Kind* kind = nullptr;                       // points into the Scheme
  std::unique_ptr<google::protobuf::Message> object;  // of kind->prototype's type
  int document = 0;                                 // 1-based, as in error messages
};

// Decodes every object in `text` (YAML or JSON, one or more documents; `kind: List` with
// `items` as kubectl accepts), in order. `source` names the input in error messages (a file
// name, "<stdin>"). Fails on the first bad document, returning no objects.
absl::StatusOr<std::vector<DecodedObject>> DecodeManifests(std::string_view text,
                                                           std::string_view source,
                                                           const Scheme& scheme,
                                                           const DecodeOptions& options = {});

// Decodes one YAML/JSON document into `message`, which may be of any type (a
// configuration message, a nested value): the same strict field mapping, but no
// apiVersion/kind lookup, defaulting or validation. `message` is cleared first. An input
// with no document leaves it empty; more than one document is an error. Errors read
// `SOURCE: FIELD.PATH: problem`.
absl::Status DecodeMessage(std::string_view text, std::string_view source,
                           google::protobuf::Message& message);

// Decodes exactly one object of message type T (e.g. v1::Deployment): a typed shortcut
// over DecodeManifests for tests and hosts that load one manifest.
template <typename T>
absl::StatusOr<T> DecodeObject(std::string_view text, std::string_view source,
                               const Scheme& scheme, const DecodeOptions& options = {});

// YAML: block style, two-space indentation, one document without a `---` marker.
absl::StatusOr<std::string> EncodeYaml(const google::protobuf::Message& message);
// JSON: compact on one line, or indented by two spaces when `pretty`; no trailing newline.
absl::StatusOr<std::string> EncodeJson(const google::protobuf::Message& message,
                                       bool pretty = false);
// Encoding fails (kInvalidArgument naming the field) only for values no manifest can
// hold: a string that is not UTF-8, a NaN or infinite float, a Timestamp outside years
// 0001-9999, a map key over the limit above, nesting deeper than 100 levels.

// ---------------------------------------------------------------------------------------
// Implementation details.

namespace codec_internal {
// OK when `objects` holds exactly one object whose message type is `descriptor`.
absl::Status CheckSingleObject(const std::vector<DecodedObject>& objects,
                               std::string_view source,
                               const google::protobuf::Descriptor& descriptor);
}  // namespace codec_internal

template <typename T>
absl::StatusOr<T> DecodeObject(std::string_view text, std::string_view source,
                               const Scheme& scheme, const DecodeOptions& options) {
  absl::StatusOr<std::vector<DecodedObject>> objects =
      DecodeManifests(text, source, scheme, options);
  if (!objects.ok()) return objects.status();
  absl::Status single =
      codec_internal::CheckSingleObject(*objects, source, *T::descriptor());
  if (!single.ok()) return single;
  T result;
  result.CopyFrom(*objects->front().object);
  return result;
}

}  // namespace orch::api

#endif  // ORCH_API_CODEC_H_
