// Internals of the manifest codec (orch/api/codec.h): a small YAML value tree shared by the
// reader and the writers, scalar typing, and the reflection walkers.
//
//   text --YamlDocuments--> Node tree --TreeDecoder--> Message
//   Message --EncodeTree--> Node tree --WriteYaml / WriteJson--> text
//
// Both directions go through the same tree and the same scalar rules (ResolvePlain), which
// is what makes decode(encode(x)) == x hold by construction rather than by luck.
#ifndef ORCH_SRC_API_CODEC_INTERNAL_H_
#define ORCH_SRC_API_CODEC_INTERNAL_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "api/utf8.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

namespace YAML {
class Parser;
}

namespace orch::api::codec_internal {

// Message types the codec writes as one JSON value of their own (a quantity's string, a
// time's RFC 3339 text, an int or a string, free-form JSON), not as an object of their
// fields: their fields add no name to a field path.
inline constexpr std::string_view kQuantityType = "orch.api.v1.Quantity";
inline constexpr std::string_view kIntOrStringType = "orch.api.v1.IntOrString";
inline constexpr std::string_view kTimestampType = "google.protobuf.Timestamp";
// JSON's own data model: any object, any value, any array.
inline constexpr std::string_view kStructType = "google.protobuf.Struct";
inline constexpr std::string_view kValueType = "google.protobuf.Value";
inline constexpr std::string_view kListValueType = "google.protobuf.ListValue";
inline bool IsJsonValueType(const google::protobuf::Descriptor& type) {
  const std::string_view name = type.full_name();
  return name == kQuantityType || name == kIntOrStringType || name == kTimestampType ||
         name == kStructType || name == kValueType || name == kListValueType;
}

// Nesting deeper than this is refused (Kubernetes objects nest about 15 deep).
inline constexpr int kMaxDepth = 100;

// YAML parsers (yaml-cpp included) refuse implicit keys longer than 1024 characters, so a
// key whose quoted form is longer could be written but not read back: both directions
// refuse it. (Kubernetes label and annotation keys are at most 317 characters.)
inline constexpr std::size_t kMaxKeyLength = 1000;
bool KeyFitsYaml(std::string_view key);

// One YAML/JSON value. Aliases share subtrees, so a tree is a DAG: walkers must bound
// their work by node visits (see AliasBudget), not trust the text size.
struct Node {
  enum class Type { kNull, kScalar, kSequence, kMapping };
  Type type = Type::kNull;
  // kScalar. `plain` scalars get YAML typing (null/bool/number/string by their text);
  // quoted ones, and those tagged !!str, are strings. The writers use `plain` for raw
  // tokens (numbers, booleans) and !plain for strings they must quote when needed.
  std::string text;
  bool plain = false;
  std::vector<std::shared_ptr<const Node>> items;                            // kSequence
  std::vector<std::pair<std::string, std::shared_ptr<const Node>>> entries;  // kMapping
};
using NodePtr = std::shared_ptr<const Node>;

NodePtr MakeScalar(std::string text, bool plain);
NodePtr MakeNull();

// ---------------------------------------------------------------------------------------
// Reading.

struct Document {
  NodePtr root;             // kNull for an empty document
  std::size_t node_count;   // nodes parsed (aliases not expanded)
};

// Splits a YAML stream into documents, lazily, so that an early bad document is reported
// before a later syntax error. Errors are kInvalidArgument "line L, column C: message".
class YamlDocuments {
 public:
  explicit YamlDocuments(std::string_view text);
  ~YamlDocuments();
  YamlDocuments(const YamlDocuments&) = delete;
  YamlDocuments& operator=(const YamlDocuments&) = delete;

  // The next document, or nullopt after the last one. After an error, stays failed.
  absl::StatusOr<std::optional<Document>> Next();

 private:
  std::istringstream input_;
  std::unique_ptr<YAML::Parser> parser_;
  int last_document_start_ = -1;  // yaml-cpp's character position
  absl::Status failed_;
};

// ---------------------------------------------------------------------------------------
// Scalars.

// The YAML type of a plain scalar, as go-yaml (YAML 1.1) resolves it.
struct PlainValue {
  enum class Type { kNull, kBool, kInt, kFloat, kString };
  Type type = Type::kString;
  bool bool_value = false;
  // kInt: the value, unless it does not fit 64 bits (int_overflow).
  bool int_negative = false;
  uint64_t int_magnitude = 0;
  bool int_overflow = false;
  // kFloat (also set for kInt): the value as a double.
  double float_value = 0;
  // kInt/kFloat: the text without '_' separators.
  std::string number_text;
};
PlainValue ResolvePlain(std::string_view text);

// Describes a node for "expected X, got Y" messages: `string "abc"`, `number 3.5`,
// `boolean yes`, `null`, `array`, `object`.
std::string DescribeNode(const Node& node);
// `"text"` with control characters escaped and long text cut short.
std::string QuoteForMessage(std::string_view text);
// A number's text for a message, cut short if long.
std::string AbbreviateNumber(std::string_view text);

using internal::IsValidUtf8;

// RFC 3339 ("2024-01-02T15:04:05Z", "2024-01-02T17:04:05.5+02:00") to seconds and nanos
// since the Unix epoch. nullopt unless the text is valid and within years 0001-9999 UTC.
struct TimestampValue {
  int64_t seconds;
  int32_t nanos;
};
std::optional<TimestampValue> ParseRfc3339(std::string_view text);
// UTC, with 0, 6 or 9 fractional digits (as few as represent `nanos` exactly). nullopt
// when out of the range above.
std::optional<std::string> FormatRfc3339(int64_t seconds, int32_t nanos);

// ---------------------------------------------------------------------------------------
// Decoding (tree -> message).

// Caps the node visits of one document, against alias bombs.
class AliasBudget {
 public:
  explicit AliasBudget(std::size_t parsed_nodes)
      : remaining_(10'000 + 10 * parsed_nodes) {}
  // false once the document has expanded past its allowance.
  bool Spend() { return remaining_ > 0 && (--remaining_, true); }

 private:
  std::size_t remaining_;
};

// Decodes a mapping node into `message` (any node for google.protobuf.Value, a sequence
// for ListValue), strictly. Errors are kInvalidArgument "FIELD.PATH: problem" relative to
// `message`.
absl::Status DecodeTree(const Node& node, google::protobuf::Message& message,
                        AliasBudget& budget);

// The text of `key` in a path: ".key" or "[key]".
std::string PathKey(std::string_view key);

// ---------------------------------------------------------------------------------------
// Encoding (message -> tree -> text).

absl::StatusOr<NodePtr> EncodeTree(const google::protobuf::Message& message);
std::string WriteYaml(const Node& root);
std::string WriteJson(const Node& root, bool pretty);

}  // namespace orch::api::codec_internal

#endif  // ORCH_SRC_API_CODEC_INTERNAL_H_
