// Protobuf message -> Node tree, by reflection (see orch/api/codec.h for what is omitted).
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "api/codec_internal.h"
#include "fmt/format.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/struct.pb.h"
#include "orch/base/status.h"

namespace orch::api::codec_internal {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

std::shared_ptr<Node> NewNode(Node::Type type) {
  auto node = std::make_shared<Node>();
  node->type = type;
  return node;
}

// Shortest text that reads back as the same double, and as a number (never "inf").
std::string FormatDouble(double value) {
  if (value == 0 && std::signbit(value)) return "-0.0";
  return fmt::format("{}", value);
}

std::string FormatFloat(float value) {
  if (value == 0 && std::signbit(value)) return "-0.0";
  return fmt::format("{}", value);
}

class TreeEncoder {
 public:
  // An object node for `message`, or, for the special scalar types, their scalar; nullptr
  // when a special value is empty (nothing to write).
  absl::StatusOr<NodePtr> EncodeValueMessage(const Message& message) {
    const std::string& type = message.GetDescriptor()->full_name();
    if (type == kQuantityType) return EncodeQuantity(message);
    if (type == kIntOrStringType) return EncodeIntOrString(message);
    if (type == kTimestampType) return EncodeTimestamp(message);
    if (type == kStructType) {
      return EncodeAs<google::protobuf::Struct>(
          message, [&](const google::protobuf::Struct& s) { return EncodeStruct(s); });
    }
    if (type == kValueType) {
      return EncodeAs<google::protobuf::Value>(
          message, [&](const google::protobuf::Value& v) { return EncodeValue(v); });
    }
    if (type == kListValueType) {
      return EncodeAs<google::protobuf::ListValue>(
          message, [&](const google::protobuf::ListValue& l) { return EncodeListValue(l); });
    }
    return EncodeMessage(message);
  }

 private:
  class PathScope {
   public:
    PathScope(TreeEncoder& encoder, std::string_view segment)
        : encoder_(encoder), length_(encoder.path_.size()) {
      encoder_.path_.append(segment);
    }
    ~PathScope() { encoder_.path_.resize(length_); }

   private:
    TreeEncoder& encoder_;
    std::size_t length_;
  };

  // Counts nested objects and arrays, refusing what the reader would refuse (kMaxDepth):
  // free-form values (Struct) can nest without bound.
  class DepthScope {
   public:
    explicit DepthScope(TreeEncoder& encoder) : encoder_(encoder) { ++encoder_.depth_; }
    ~DepthScope() { --encoder_.depth_; }
    absl::Status Check() const {
      if (encoder_.depth_ <= kMaxDepth) return absl::OkStatus();
      return encoder_.Error(fmt::format("nesting deeper than {} levels", kMaxDepth));
    }

   private:
    TreeEncoder& encoder_;
  };

  absl::Status Error(std::string_view problem) const {
    std::string_view path = path_;
    if (!path.empty() && path.front() == '.') path.remove_prefix(1);
    if (path.empty()) return absl::InvalidArgumentError(std::string(problem));
    return absl::InvalidArgumentError(fmt::format("{}: {}", path, problem));
  }

  absl::StatusOr<NodePtr> EncodeMessage(const Message& message) {
    const Reflection& reflection = *message.GetReflection();
    const google::protobuf::Descriptor& descriptor = *message.GetDescriptor();
    DepthScope depth(*this);
    ORCH_RETURN_IF_ERROR(depth.Check());
    auto node = NewNode(Node::Type::kMapping);
    for (int i = 0; i < descriptor.field_count(); ++i) {
      const FieldDescriptor& field = *descriptor.field(i);
      PathScope scope(*this, "." + field.json_name());
      NodePtr value;
      if (field.is_map()) {
        if (reflection.FieldSize(message, &field) == 0) continue;
        ORCH_ASSIGN_OR_RETURN(value, EncodeMap(message, field));
      } else if (field.is_repeated()) {
        if (reflection.FieldSize(message, &field) == 0) continue;
        ORCH_ASSIGN_OR_RETURN(value, EncodeList(message, field));
      } else {
        if (!reflection.HasField(message, &field)) continue;
        if (field.cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
          ORCH_ASSIGN_OR_RETURN(value,
                                EncodeValueMessage(reflection.GetMessage(message, &field)));
          if (value == nullptr) continue;  // an empty Quantity or IntOrString
        } else {
          ORCH_ASSIGN_OR_RETURN(value, EncodeScalar(message, field, -1));
        }
      }
      node->entries.emplace_back(field.json_name(), std::move(value));
    }
    return NodePtr(std::move(node));
  }

  absl::StatusOr<NodePtr> EncodeList(const Message& message, const FieldDescriptor& field) {
    const Reflection& reflection = *message.GetReflection();
    DepthScope depth(*this);
    ORCH_RETURN_IF_ERROR(depth.Check());
    auto node = NewNode(Node::Type::kSequence);
    const int size = reflection.FieldSize(message, &field);
    for (int i = 0; i < size; ++i) {
      PathScope scope(*this, fmt::format("[{}]", i));
      NodePtr item;
      if (field.cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        ORCH_ASSIGN_OR_RETURN(item,
                              EncodeValueMessage(reflection.GetRepeatedMessage(message, &field, i)));
      } else {
        ORCH_ASSIGN_OR_RETURN(item, EncodeScalar(message, field, i));
      }
      node->items.push_back(item ? std::move(item) : MakeNull());
    }
    return NodePtr(std::move(node));
  }

  absl::StatusOr<NodePtr> EncodeMap(const Message& message, const FieldDescriptor& field) {
    const Reflection& reflection = *message.GetReflection();
    const FieldDescriptor& key_field = *field.message_type()->map_key();
    const FieldDescriptor& value_field = *field.message_type()->map_value();
    DepthScope depth(*this);
    ORCH_RETURN_IF_ERROR(depth.Check());
    auto node = NewNode(Node::Type::kMapping);
    const int size = reflection.FieldSize(message, &field);
    for (int i = 0; i < size; ++i) {
      const Message& entry = reflection.GetRepeatedMessage(message, &field, i);
      ORCH_ASSIGN_OR_RETURN(NodePtr key, EncodeScalar(entry, key_field, -1));
      PathScope scope(*this, PathKey(key->text));
      if (!KeyFitsYaml(key->text)) {
        return Error(fmt::format("map key longer than {} characters", kMaxKeyLength));
      }
      NodePtr value;
      if (value_field.cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        ORCH_ASSIGN_OR_RETURN(
            value, EncodeValueMessage(entry.GetReflection()->GetMessage(entry, &value_field)));
      } else {
        ORCH_ASSIGN_OR_RETURN(value, EncodeScalar(entry, value_field, -1));
      }
      node->entries.emplace_back(key->text, value ? std::move(value) : MakeNull());
    }
    // Map order is unspecified in protobuf; sorted keys make the output deterministic.
    std::sort(node->entries.begin(), node->entries.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    return NodePtr(std::move(node));
  }

  // The value of a scalar field (`index` >= 0: an element of a repeated field).
  absl::StatusOr<NodePtr> EncodeScalar(const Message& message, const FieldDescriptor& field,
                                       int index) {
    const Reflection& r = *message.GetReflection();
    const bool repeated = index >= 0;
    switch (field.cpp_type()) {
      case FieldDescriptor::CPPTYPE_STRING: {
        std::string text = repeated ? r.GetRepeatedString(message, &field, index)
                                    : r.GetString(message, &field);
        if (field.type() == FieldDescriptor::TYPE_BYTES) {
          return MakeScalar(absl::Base64Escape(text), false);
        }
        if (!IsValidUtf8(text)) return Error("string is not valid UTF-8");
        return MakeScalar(std::move(text), false);
      }
      case FieldDescriptor::CPPTYPE_BOOL: {
        bool value = repeated ? r.GetRepeatedBool(message, &field, index)
                              : r.GetBool(message, &field);
        return MakeScalar(value ? "true" : "false", true);
      }
      case FieldDescriptor::CPPTYPE_INT32:
        return MakeScalar(fmt::format("{}", repeated ? r.GetRepeatedInt32(message, &field, index)
                                                     : r.GetInt32(message, &field)),
                          true);
      case FieldDescriptor::CPPTYPE_INT64:
        return MakeScalar(fmt::format("{}", repeated ? r.GetRepeatedInt64(message, &field, index)
                                                     : r.GetInt64(message, &field)),
                          true);
      case FieldDescriptor::CPPTYPE_UINT32:
        return MakeScalar(fmt::format("{}", repeated ? r.GetRepeatedUInt32(message, &field, index)
                                                     : r.GetUInt32(message, &field)),
                          true);
      case FieldDescriptor::CPPTYPE_UINT64:
        return MakeScalar(fmt::format("{}", repeated ? r.GetRepeatedUInt64(message, &field, index)
                                                     : r.GetUInt64(message, &field)),
                          true);
      case FieldDescriptor::CPPTYPE_DOUBLE: {
        double value = repeated ? r.GetRepeatedDouble(message, &field, index)
                                : r.GetDouble(message, &field);
        if (!std::isfinite(value)) return Error("number is not finite");
        return MakeScalar(FormatDouble(value), true);
      }
      case FieldDescriptor::CPPTYPE_FLOAT: {
        float value = repeated ? r.GetRepeatedFloat(message, &field, index)
                               : r.GetFloat(message, &field);
        if (!std::isfinite(value)) return Error("number is not finite");
        return MakeScalar(FormatFloat(value), true);
      }
      case FieldDescriptor::CPPTYPE_ENUM: {
        int number = repeated ? r.GetRepeatedEnumValue(message, &field, index)
                              : r.GetEnumValue(message, &field);
        if (const auto* value = field.enum_type()->FindValueByNumber(number)) {
          return MakeScalar(value->name(), false);
        }
        return MakeScalar(fmt::format("{}", number), true);
      }
      case FieldDescriptor::CPPTYPE_MESSAGE:
        break;
    }
    return Error("unsupported field type");
  }

  // Runs `encode` on `message` as the generated type T (through the wire format for a
  // DynamicMessage of T's type).
  template <typename T, typename Encode>
  absl::StatusOr<NodePtr> EncodeAs(const Message& message, Encode encode) {
    if (const auto* typed = dynamic_cast<const T*>(&message)) return encode(*typed);
    T copy;
    if (!copy.ParseFromString(message.SerializeAsString())) {
      return Error(fmt::format("cannot read a value of type {}", T::descriptor()->full_name()));
    }
    return encode(copy);
  }

  absl::StatusOr<NodePtr> EncodeStruct(const google::protobuf::Struct& value) {
    DepthScope depth(*this);
    ORCH_RETURN_IF_ERROR(depth.Check());
    auto node = NewNode(Node::Type::kMapping);
    for (const auto& [key, item] : value.fields()) {
      PathScope scope(*this, PathKey(key));
      if (!IsValidUtf8(key)) return Error("key is not valid UTF-8");
      if (!KeyFitsYaml(key)) {
        return Error(fmt::format("map key longer than {} characters", kMaxKeyLength));
      }
      ORCH_ASSIGN_OR_RETURN(NodePtr encoded, EncodeValue(item));
      node->entries.emplace_back(key, std::move(encoded));
    }
    std::sort(node->entries.begin(), node->entries.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    return NodePtr(std::move(node));
  }

  absl::StatusOr<NodePtr> EncodeListValue(const google::protobuf::ListValue& value) {
    DepthScope depth(*this);
    ORCH_RETURN_IF_ERROR(depth.Check());
    auto node = NewNode(Node::Type::kSequence);
    for (int i = 0; i < value.values_size(); ++i) {
      PathScope scope(*this, fmt::format("[{}]", i));
      ORCH_ASSIGN_OR_RETURN(NodePtr encoded, EncodeValue(value.values(i)));
      node->items.push_back(std::move(encoded));
    }
    return NodePtr(std::move(node));
  }

  // A Value with no kind set is written as null, as is null_value.
  absl::StatusOr<NodePtr> EncodeValue(const google::protobuf::Value& value) {
    switch (value.kind_case()) {
      case google::protobuf::Value::kNumberValue:
        if (!std::isfinite(value.number_value())) return Error("number is not finite");
        return MakeScalar(FormatDouble(value.number_value()), true);
      case google::protobuf::Value::kStringValue:
        if (!IsValidUtf8(value.string_value())) return Error("string is not valid UTF-8");
        return MakeScalar(value.string_value(), false);
      case google::protobuf::Value::kBoolValue:
        return MakeScalar(value.bool_value() ? "true" : "false", true);
      case google::protobuf::Value::kStructValue:
        return EncodeStruct(value.struct_value());
      case google::protobuf::Value::kListValue:
        return EncodeListValue(value.list_value());
      case google::protobuf::Value::kNullValue:
      case google::protobuf::Value::KIND_NOT_SET:
        break;
    }
    return MakeNull();
  }

  absl::StatusOr<NodePtr> EncodeQuantity(const Message& message) {
    const FieldDescriptor& value = *message.GetDescriptor()->FindFieldByNumber(1);
    std::string text = message.GetReflection()->GetString(message, &value);
    if (text.empty()) return NodePtr();
    if (!IsValidUtf8(text)) return Error("quantity is not valid UTF-8");
    return MakeScalar(std::move(text), false);
  }

  absl::StatusOr<NodePtr> EncodeIntOrString(const Message& message) {
    const Reflection& reflection = *message.GetReflection();
    const FieldDescriptor& int_val = *message.GetDescriptor()->FindFieldByNumber(1);
    const FieldDescriptor& str_val = *message.GetDescriptor()->FindFieldByNumber(2);
    if (reflection.HasField(message, &int_val)) {
      return MakeScalar(fmt::format("{}", reflection.GetInt32(message, &int_val)), true);
    }
    if (reflection.HasField(message, &str_val)) {
      std::string text = reflection.GetString(message, &str_val);
      if (!IsValidUtf8(text)) return Error("string is not valid UTF-8");
      return MakeScalar(std::move(text), false);
    }
    return NodePtr();
  }

  absl::StatusOr<NodePtr> EncodeTimestamp(const Message& message) {
    const Reflection& reflection = *message.GetReflection();
    const auto& descriptor = *message.GetDescriptor();
    std::optional<std::string> text =
        FormatRfc3339(reflection.GetInt64(message, descriptor.FindFieldByNumber(1)),
                      reflection.GetInt32(message, descriptor.FindFieldByNumber(2)));
    if (!text) return Error("timestamp is outside years 0001-9999");
    return MakeScalar(std::move(*text), false);
  }

  std::string path_;
  int depth_ = 0;
};

}  // namespace

absl::StatusOr<NodePtr> EncodeTree(const Message& message) {
  TreeEncoder encoder;
  ORCH_ASSIGN_OR_RETURN(NodePtr node, encoder.EncodeValueMessage(message));
  if (node == nullptr) return MakeNull();
  return node;
}

}  // namespace orch::api::codec_internal
