// YAML text -> Node trees, one document at a time, through yaml-cpp's event parser.
//
// The event interface (rather than YAML::Load) is what lets the codec be strict and safe:
// it sees quoting (plain scalars are typed, quoted ones are strings), duplicate keys, and
// aliases (shared, never copied), and it stops at kMaxDepth before yaml-cpp's recursive
// descent can exhaust the stack.
#include <exception>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "api/codec_internal.h"
#include "fmt/format.h"
#include "yaml-cpp/eventhandler.h"
#include "yaml-cpp/exceptions.h"
#include "yaml-cpp/mark.h"
#include "yaml-cpp/parser.h"

namespace orch::api::codec_internal {
namespace {

constexpr std::string_view kStrTag = "tag:yaml.org,2002:str";
constexpr std::string_view kYamlTagPrefix = "tag:yaml.org,2002:";

// Thrown from inside the event handler (through yaml-cpp, which is exception-safe) and
// caught in YamlDocuments::Next.
class TreeError : public std::runtime_error {
 public:
  TreeError(const YAML::Mark& mark, const std::string& message)
      : std::runtime_error(message), mark_(mark) {}
  const YAML::Mark& mark() const { return mark_; }

 private:
  YAML::Mark mark_;
};

bool PlainTypeMatchesTag(const PlainValue& value, std::string_view type_tag) {
  using T = PlainValue::Type;
  if (type_tag == "int") return value.type == T::kInt;
  if (type_tag == "float") return value.type == T::kInt || value.type == T::kFloat;
  if (type_tag == "bool") return value.type == T::kBool;
  if (type_tag == "null") return value.type == T::kNull;
  return false;
}

class TreeBuilder : public YAML::EventHandler {
 public:
  // Where the last document began.
  const YAML::Mark& start() const { return start_; }

  Document TakeDocument() {
    Document document{root_ ? root_ : MakeNull(), node_count_};
    root_.reset();
    node_count_ = 0;
    anchors_.clear();
    stack_.clear();
    return document;
  }

  void OnDocumentStart(const YAML::Mark& mark) override { start_ = mark; }
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    ++node_count_;
    Add(MakeNull(), mark, anchor);
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (anchor >= anchors_.size() || anchors_[anchor] == nullptr) {
      // yaml-cpp registers an anchor before parsing its content, so `&a [*a]` reaches here.
      throw TreeError(mark, "alias refers to a node that contains it (recursive alias)");
    }
    ++node_count_;
    Add(anchors_[anchor], mark, YAML::NullAnchor);
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    ++node_count_;
    if (!IsValidUtf8(value)) throw TreeError(mark, "invalid UTF-8");
    bool plain;
    if (tag == "?") {
      plain = true;
    } else if (tag == "!" || tag == kStrTag) {
      plain = false;
    } else if (tag.rfind(kYamlTagPrefix, 0) == 0 &&
               PlainTypeMatchesTag(ResolvePlain(value),
                                   std::string_view(tag).substr(kYamlTagPrefix.size()))) {
      plain = true;
    } else {
      throw TreeError(mark, fmt::format("unsupported tag {} on {}", QuoteForMessage(tag),
                                        QuoteForMessage(value)));
    }
    Add(MakeScalar(value, plain), mark, anchor);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    Open(Node::Type::kSequence, mark, tag, "seq", anchor);
  }
  void OnSequenceEnd() override { Close(); }

  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    Open(Node::Type::kMapping, mark, tag, "map", anchor);
  }
  void OnMapEnd() override { Close(); }

 private:
  struct Frame {
    std::shared_ptr<Node> node;
    YAML::Mark mark;
    YAML::anchor_t anchor;
    std::optional<std::string> pending_key;  // a mapping's key awaiting its value
  };

  void Open(Node::Type type, const YAML::Mark& mark, const std::string& tag,
            std::string_view collection_tag, YAML::anchor_t anchor) {
    if (!(tag == "?" || tag == "!" || tag.empty() ||
          (tag.rfind(kYamlTagPrefix, 0) == 0 &&
           std::string_view(tag).substr(kYamlTagPrefix.size()) == collection_tag))) {
      throw TreeError(mark, fmt::format("unsupported tag {}", QuoteForMessage(tag)));
    }
    if (static_cast<int>(stack_.size()) >= kMaxDepth) {
      throw TreeError(mark, fmt::format("nesting deeper than {} levels", kMaxDepth));
    }
    auto node = std::make_shared<Node>();
    node->type = type;
    ++node_count_;
    stack_.push_back(Frame{std::move(node), mark, anchor, std::nullopt});
  }

  void Close() {
    Frame frame = std::move(stack_.back());
    stack_.pop_back();
    Add(std::move(frame.node), frame.mark, frame.anchor);
  }

  void Add(NodePtr node, const YAML::Mark& mark, YAML::anchor_t anchor) {
    if (anchor != YAML::NullAnchor) {
      if (anchor >= anchors_.size()) anchors_.resize(anchor + 1);
      anchors_[anchor] = node;
    }
    if (stack_.empty()) {
      root_ = std::move(node);
      return;
    }
    Frame& parent = stack_.back();
    Node& collection = *parent.node;
    if (collection.type == Node::Type::kSequence) {
      collection.items.push_back(std::move(node));
    } else if (!parent.pending_key) {
      if (node->type != Node::Type::kScalar) {
        throw TreeError(mark, "mapping keys must be strings");
      }
      if (!KeyFitsYaml(node->text)) {
        throw TreeError(mark, fmt::format("mapping key longer than {} characters",
                                          kMaxKeyLength));
      }
      parent.pending_key = node->text;
    } else {
      collection.entries.emplace_back(std::move(*parent.pending_key), std::move(node));
      parent.pending_key.reset();
    }
  }

  NodePtr root_;
  YAML::Mark start_;
  std::size_t node_count_ = 0;
  std::vector<Frame> stack_;
  std::vector<NodePtr> anchors_;  // by yaml-cpp's anchor id; null until the node is complete
};

absl::Status SyntaxError(const YAML::Mark& mark, std::string_view message) {
  if (mark.is_null()) return absl::InvalidArgumentError(std::string(message));
  return absl::InvalidArgumentError(
      fmt::format("line {}, column {}: {}", mark.line + 1, mark.column + 1, message));
}

}  // namespace

NodePtr MakeScalar(std::string text, bool plain) {
  auto node = std::make_shared<Node>();
  node->type = Node::Type::kScalar;
  node->text = std::move(text);
  node->plain = plain;
  return node;
}

NodePtr MakeNull() {
  static const NodePtr* const null_node = new NodePtr(std::make_shared<const Node>());
  return *null_node;
}

YamlDocuments::YamlDocuments(std::string_view text)
    : input_(std::string(text)), parser_(std::make_unique<YAML::Parser>(input_)) {}

YamlDocuments::~YamlDocuments() = default;

absl::StatusOr<std::optional<Document>> YamlDocuments::Next() {
  if (!failed_.ok()) return failed_;
  TreeBuilder builder;
  try {
    if (!parser_->HandleNextDocument(builder)) return std::optional<Document>();
    // yaml-cpp 0.7 yields empty documents forever, consuming nothing, at a stray ','
    // where a document should start: every document must begin past the previous one.
    if (builder.start().pos <= last_document_start_) {
      failed_ = SyntaxError(builder.start(), "no document can start here (a stray ',')");
      return failed_;
    }
    last_document_start_ = builder.start().pos;
    return std::optional<Document>(builder.TakeDocument());
  } catch (const TreeError& e) {
    failed_ = SyntaxError(e.mark(), e.what());
  } catch (const YAML::Exception& e) {
    failed_ = SyntaxError(e.mark, e.msg);
  } catch (const std::bad_alloc&) {
    failed_ = absl::ResourceExhaustedError("out of memory while parsing YAML");
  } catch (const std::exception& e) {
    failed_ = absl::InvalidArgumentError(fmt::format("YAML parser error: {}", e.what()));
  }
  return failed_;
}

}  // namespace orch::api::codec_internal
