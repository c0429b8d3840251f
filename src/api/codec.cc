// The codec's entry points: documents and kinds around the tree walkers (codec_*.cc).
#include "orch/api/codec.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "api/codec_internal.h"
#include "fmt/format.h"
#include "orch/base/status.h"

namespace orch::api {
namespace {

using codec_internal::AliasBudget;
using codec_internal::DescribeNode;
using codec_internal::Node;
using codec_internal::QuoteForMessage;

const Node* Lookup(const Node& mapping, std::string_view key) {
  for (const auto& [entry_key, value] : mapping.entries) {
    if (entry_key == key) return value.get();
  }
  return nullptr;
}

// The text of a scalar at `node`, if it is one (for labelling errors, any scalar will do).
std::optional<std::string> ScalarText(const Node* node) {
  if (node == nullptr || node->type != Node::Type::kScalar || node->text.empty()) {
    return std::nullopt;
  }
  return node->text;
}

bool IsNullNode(const Node* node) {
  return node == nullptr || node->type == Node::Type::kNull ||
         (node->type == Node::Type::kScalar && node->plain &&
          codec_internal::ResolvePlain(node->text).type ==
              codec_internal::PlainValue::Type::kNull);
}

absl::Status WithPrefix(const absl::Status& status, std::string_view prefix) {
  return Annotate(status, prefix);
}

// Decodes the documents of one manifest stream, appending objects to `out`.
class ManifestDecoder {
 public:
  ManifestDecoder(std::string_view source, const Scheme& scheme, const DecodeOptions& options,
                  std::vector<DecodedObject>& out)
      : source_(source), scheme_(scheme), options_(options), out_(out) {}

  absl::Status DecodeStream(std::string_view text) {
    codec_internal::YamlDocuments documents(text);
    int document = 0;
    while (true) {
      absl::StatusOr<std::optional<codec_internal::Document>> next = documents.Next();
      if (!next.ok()) {
        return WithPrefix(next.status(), fmt::format("{}: document {}", source_, document + 1));
      }
      if (!next->has_value()) return absl::OkStatus();
      const codec_internal::Document& parsed = **next;
      if (IsNullNode(parsed.root.get())) continue;  // an empty document takes no number
      ++document;
      AliasBudget budget(parsed.node_count);
      ORCH_RETURN_IF_ERROR(DecodeObject(*parsed.root, document, -1, budget));
    }
  }

 private:
  // One object: `item` is its index in a List's items, or -1 for a whole document.
  absl::Status DecodeObject(const Node& root, int document, int item, AliasBudget& budget) {
    std::string where = fmt::format("{}: document {}", source_, document);
    if (item >= 0) where += fmt::format(", items[{}]", item);
    if (root.type != Node::Type::kMapping) {
      return absl::InvalidArgumentError(
          fmt::format("{}: expected an object, got {}", where, DescribeNode(root)));
    }
    const std::string prefix = where + Label(root);

    ORCH_ASSIGN_OR_RETURN(std::string api_version,
                          RequiredString(Lookup(root, "apiVersion"), "apiVersion", prefix));
    ORCH_ASSIGN_OR_RETURN(std::string kind_name,
                          RequiredString(Lookup(root, "kind"), "kind", prefix));
    if (item < 0 && api_version == "v1" && kind_name == "List" &&
        scheme_.Find("v1", "List") == nullptr) {
      return DecodeList(root, document, prefix, budget);
    }
    const Kind* kind = scheme_.Find(api_version, kind_name);
    if (kind == nullptr) return UnknownKind(api_version, kind_name, prefix);

    std::unique_ptr<google::protobuf::Message> object(kind->prototype->New());
    ORCH_RETURN_IF_ERROR(WithPrefix(codec_internal::DecodeTree(root, *object, budget), prefix));
    if (options_.apply_defaults && kind->defaulter) kind->defaulter(*object);
    if (options_.validate && kind->validator) {
      ORCH_RETURN_IF_ERROR(WithPrefix(kind->validator(*object), prefix));
    }
    out_.push_back(DecodedObject{kind, std::move(object), document});
    return absl::OkStatus();
  }

  // kubectl's `kind: List`: apiVersion, kind, metadata (ignored) and items.
  absl::Status DecodeList(const Node& root, int document, const std::string& prefix,
                          AliasBudget& budget) {
    const Node* items = nullptr;
    absl::flat_hash_set<std::string_view> seen;
    for (const auto& [key, value] : root.entries) {
      if (!seen.insert(key).second) {
        return absl::InvalidArgumentError(
            fmt::format("{}: duplicate field {}", prefix, QuoteForMessage(key)));
      }
      if (key == "items") {
        items = value.get();
      } else if (key == "metadata") {
        if (!IsNullNode(value.get()) && value->type != Node::Type::kMapping) {
          return absl::InvalidArgumentError(
              fmt::format("{}: metadata: expected object, got {}", prefix, DescribeNode(*value)));
        }
      } else if (key != "apiVersion" && key != "kind") {
        return absl::InvalidArgumentError(
            fmt::format("{}: unknown field {}", prefix, QuoteForMessage(key)));
      }
    }
    if (IsNullNode(items)) return absl::OkStatus();
    if (items->type != Node::Type::kSequence) {
      return absl::InvalidArgumentError(
          fmt::format("{}: items: expected array, got {}", prefix, DescribeNode(*items)));
    }
    for (std::size_t i = 0; i < items->items.size(); ++i) {
      if (!budget.Spend()) {
        return absl::InvalidArgumentError(
            fmt::format("{}: excessive aliasing (the document expands too far)", prefix));
      }
      ORCH_RETURN_IF_ERROR(DecodeObject(*items->items[i], document, static_cast<int>(i), budget));
    }
    return absl::OkStatus();
  }

  // ` (Kind "name")` from the manifest's own text, or ` (Kind)`, or nothing without a kind.
  static std::string Label(const Node& root) {
    std::optional<std::string> kind = ScalarText(Lookup(root, "kind"));
    if (!kind) return "";
    const Node* metadata = Lookup(root, "metadata");
    std::optional<std::string> name;
    if (metadata != nullptr && metadata->type == Node::Type::kMapping) {
      name = ScalarText(Lookup(*metadata, "name"));
    }
    if (!name) return fmt::format(" ({})", *kind);
    return fmt::format(" ({} {})", *kind, QuoteForMessage(*name));
  }

  static absl::StatusOr<std::string> RequiredString(const Node* node, std::string_view field,
                                                    const std::string& prefix) {
    if (IsNullNode(node) || (node->type == Node::Type::kScalar && node->text.empty())) {
      return absl::InvalidArgumentError(fmt::format("{}: {}: required", prefix, field));
    }
    if (node->type != Node::Type::kScalar ||
        (node->plain && codec_internal::ResolvePlain(node->text).type !=
                            codec_internal::PlainValue::Type::kString)) {
      return absl::InvalidArgumentError(fmt::format("{}: {}: expected string, got {}", prefix,
                                                    field, DescribeNode(*node)));
    }
    return node->text;
  }

  absl::Status UnknownKind(const std::string& api_version, const std::string& kind,
                           const std::string& prefix) const {
    for (const Kind* known : scheme_.kinds()) {
      if (known->api_version() == api_version) {
        return absl::InvalidArgumentError(
            fmt::format("{}: kind: no kind {} is registered for version {}", prefix,
                        QuoteForMessage(kind), QuoteForMessage(api_version)));
      }
    }
    return absl::InvalidArgumentError(
        fmt::format("{}: apiVersion: no kinds are registered for version {}", prefix,
                    QuoteForMessage(api_version)));
  }

  std::string_view source_;
  const Scheme& scheme_;
  const DecodeOptions& options_;
  std::vector<DecodedObject>& out_;
};

}  // namespace

absl::StatusOr<std::vector<DecodedObject>> DecodeManifests(std::string_view text,
                                                           std::string_view source,
                                                           const Scheme& scheme,
                                                           const DecodeOptions& options) {
  std::vector<DecodedObject> objects;
  ManifestDecoder decoder(source, scheme, options, objects);
  ORCH_RETURN_IF_ERROR(decoder.DecodeStream(text));
  return objects;
}

absl::Status DecodeMessage(std::string_view text, std::string_view source,
                           google::protobuf::Message& message) {
  message.Clear();
  codec_internal::YamlDocuments documents(text);
  bool decoded = false;
  while (true) {
    absl::StatusOr<std::optional<codec_internal::Document>> next = documents.Next();
    if (!next.ok()) return WithPrefix(next.status(), source);
    if (!next->has_value()) return absl::OkStatus();
    const codec_internal::Document& parsed = **next;
    if (IsNullNode(parsed.root.get())) continue;
    if (decoded) {
      return absl::InvalidArgumentError(
          fmt::format("{}: expected a single document, found more", source));
    }
    decoded = true;
    AliasBudget budget(parsed.node_count);
    ORCH_RETURN_IF_ERROR(
        WithPrefix(codec_internal::DecodeTree(*parsed.root, message, budget), source));
  }
}

absl::StatusOr<std::string> EncodeYaml(const google::protobuf::Message& message) {
  ORCH_ASSIGN_OR_RETURN(codec_internal::NodePtr tree, codec_internal::EncodeTree(message));
  return codec_internal::WriteYaml(*tree);
}

absl::StatusOr<std::string> EncodeJson(const google::protobuf::Message& message, bool pretty) {
  ORCH_ASSIGN_OR_RETURN(codec_internal::NodePtr tree, codec_internal::EncodeTree(message));
  return codec_internal::WriteJson(*tree, pretty);
}

namespace codec_internal {

absl::Status CheckSingleObject(const std::vector<DecodedObject>& objects,
                               std::string_view source,
                               const google::protobuf::Descriptor& descriptor) {
  if (objects.size() != 1) {
    return absl::InvalidArgumentError(
        fmt::format("{}: expected exactly one object, found {}", source, objects.size()));
  }
  const DecodedObject& object = objects.front();
  if (object.object->GetDescriptor() != &descriptor) {
    return absl::InvalidArgumentError(
        fmt::format("{}: document {}: expected a {}, got kind {}", source, object.document,
                    descriptor.name(), QuoteForMessage(object.kind->kind)));
  }
  return absl::OkStatus();
}

}  // namespace codec_internal
}  // namespace orch::api
