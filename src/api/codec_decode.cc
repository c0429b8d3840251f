// Node tree -> protobuf message, by reflection, strictly (see orch/api/codec.h).
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "api/codec_internal.h"
#include "fmt/format.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/reflection.h"
#include "google/protobuf/struct.pb.h"
#include "orch/api/quantity.h"
#include "orch/base/status.h"

namespace orch::api::codec_internal {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumValueDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::OneofDescriptor;
using google::protobuf::Reflection;

bool IsNull(const Node& node) {
  return node.type == Node::Type::kNull ||
         (node.type == Node::Type::kScalar && node.plain &&
          ResolvePlain(node.text).type == PlainValue::Type::kNull);
}

// A google.protobuf.Value field (or element) stores null as null_value instead of leaving
// itself unset, so that `key: null` inside free-form data survives a round trip.
bool HoldsNull(const FieldDescriptor& field) {
  return field.cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
         field.message_type()->full_name() == kValueType;
}

const FieldDescriptor* FindFieldByJsonName(const Descriptor& descriptor, std::string_view name) {
  for (int i = 0; i < descriptor.field_count(); ++i) {
    const FieldDescriptor* field = descriptor.field(i);
    if (field->json_name() == name) return field;
  }
  return nullptr;
}

class TreeDecoder {
 public:
  explicit TreeDecoder(AliasBudget& budget) : budget_(budget) {}

  // The document's root: an object, or any value for the JSON value types.
  absl::Status DecodeRoot(const Node& node, Message& message) {
    const std::string& type = message.GetDescriptor()->full_name();
    if (type == kStructType || type == kValueType || type == kListValueType) {
      return DecodeValueMessage(node, message);
    }
    return DecodeMessage(node, message);
  }

  absl::Status DecodeMessage(const Node& node, Message& message) {
    ORCH_RETURN_IF_ERROR(Visit());
    if (node.type != Node::Type::kMapping) return ExpectedGot("object", node);
    const Descriptor& descriptor = *message.GetDescriptor();
    absl::flat_hash_set<const FieldDescriptor*> seen;
    absl::flat_hash_map<const OneofDescriptor*, const FieldDescriptor*> oneof_members;
    for (const auto& [key, value] : node.entries) {
      const FieldDescriptor* field = FindFieldByJsonName(descriptor, key);
      if (field == nullptr) {
        if (key == "<<") return Error("YAML merge keys (\"<<\") are not supported");
        return Error(fmt::format("unknown field {}", QuoteForMessage(key)));
      }
      if (!seen.insert(field).second) {
        return Error(fmt::format("duplicate field {}", QuoteForMessage(key)));
      }
      const OneofDescriptor* oneof = field->real_containing_oneof();
      if (oneof != nullptr && !IsNull(*value)) {
        auto [it, inserted] = oneof_members.emplace(oneof, field);
        if (!inserted) {
          return Error(fmt::format("fields \"{}\" and \"{}\" may not both be set",
                                   it->second->json_name(), field->json_name()));
        }
      }
      PathScope scope(*this, "." + key);
      ORCH_RETURN_IF_ERROR(DecodeField(*value, message, *field));
    }
    return absl::OkStatus();
  }

 private:
  // Appends a segment to the field path for the lifetime of the scope.
  class PathScope {
   public:
    PathScope(TreeDecoder& decoder, std::string_view segment)
        : decoder_(decoder), length_(decoder.path_.size()) {
      decoder_.path_.append(segment);
    }
    ~PathScope() { decoder_.path_.resize(length_); }

   private:
    TreeDecoder& decoder_;
    std::size_t length_;
  };

  absl::Status Visit() {
    if (!budget_.Spend()) return Error("excessive aliasing (the document expands too far)");
    return absl::OkStatus();
  }

  absl::Status Error(std::string_view problem) const {
    // The path starts with '.' (every segment does); the message shows it without.
    std::string_view path = path_;
    if (!path.empty() && path.front() == '.') path.remove_prefix(1);
    if (path.empty()) return absl::InvalidArgumentError(std::string(problem));
    return absl::InvalidArgumentError(fmt::format("{}: {}", path, problem));
  }

  absl::Status ExpectedGot(std::string_view expected, const Node& node) const {
    return Error(fmt::format("expected {}, got {}", expected, DescribeNode(node)));
  }

  absl::Status DecodeField(const Node& value, Message& message, const FieldDescriptor& field) {
    const Reflection& reflection = *message.GetReflection();
    if (IsNull(value) && !HoldsNull(field)) {
      reflection.ClearField(&message, &field);
      return Visit();
    }
    if (field.is_map()) return DecodeMap(value, message, field);
    if (field.is_repeated()) return DecodeList(value, message, field);
    if (field.cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      return DecodeValueMessage(value, *reflection.MutableMessage(&message, &field));
    }
    return DecodeScalar(value, message, field);
  }

  absl::Status DecodeList(const Node& value, Message& message, const FieldDescriptor& field) {
    ORCH_RETURN_IF_ERROR(Visit());
    if (value.type != Node::Type::kSequence) return ExpectedGot("array", value);
    const Reflection& reflection = *message.GetReflection();
    reflection.ClearField(&message, &field);
    for (std::size_t i = 0; i < value.items.size(); ++i) {
      PathScope scope(*this, fmt::format("[{}]", i));
      const Node& item = *value.items[i];
      if (field.cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        Message& element = *reflection.AddMessage(&message, &field);
        // A null element is the zero value, as in Kubernetes' JSON decoding.
        if (IsNull(item) && !HoldsNull(field)) {
          ORCH_RETURN_IF_ERROR(Visit());
          continue;
        }
        ORCH_RETURN_IF_ERROR(DecodeValueMessage(item, element));
      } else {
        ORCH_RETURN_IF_ERROR(DecodeScalar(item, message, field));
      }
    }
    return absl::OkStatus();
  }

  absl::Status DecodeMap(const Node& value, Message& message, const FieldDescriptor& field) {
    ORCH_RETURN_IF_ERROR(Visit());
    if (value.type != Node::Type::kMapping) return ExpectedGot("object", value);
    const Reflection& reflection = *message.GetReflection();
    reflection.ClearField(&message, &field);
    const FieldDescriptor& key_field = *field.message_type()->map_key();
    const FieldDescriptor& value_field = *field.message_type()->map_value();
    absl::flat_hash_set<std::string_view> seen;
    for (const auto& [key, item] : value.entries) {
      if (!seen.insert(key).second) {
        return Error(fmt::format("duplicate key {}", QuoteForMessage(key)));
      }
      PathScope scope(*this, PathKey(key));
      Message& entry = *reflection.AddMessage(&message, &field);
      // A key is text; a non-string key type reads it as YAML would an unquoted scalar.
      NodePtr key_node = MakeScalar(key, key_field.type() != FieldDescriptor::TYPE_STRING);
      ORCH_RETURN_IF_ERROR(DecodeScalar(*key_node, entry, key_field));
      if (IsNull(*item) && !HoldsNull(value_field)) {
        ORCH_RETURN_IF_ERROR(Visit());
        continue;  // the zero value
      }
      ORCH_RETURN_IF_ERROR(DecodeField(*item, entry, value_field));
    }
    return absl::OkStatus();
  }

  // A message-typed value: the special scalar types, or an object.
  absl::Status DecodeValueMessage(const Node& value, Message& message) {
    const std::string& type = message.GetDescriptor()->full_name();
    if (type == kQuantityType) return DecodeQuantity(value, message);
    if (type == kIntOrStringType) return DecodeIntOrString(value, message);
    if (type == kTimestampType) return DecodeTimestamp(value, message);
    if (type == kStructType) {
      return DecodeAs<google::protobuf::Struct>(message, [&](google::protobuf::Struct& s) {
        return DecodeStruct(value, s);
      });
    }
    if (type == kValueType) {
      return DecodeAs<google::protobuf::Value>(message, [&](google::protobuf::Value& v) {
        return DecodeValue(value, v);
      });
    }
    if (type == kListValueType) {
      return DecodeAs<google::protobuf::ListValue>(message, [&](google::protobuf::ListValue& l) {
        return DecodeListValue(value, l);
      });
    }
    return DecodeMessage(value, message);
  }

  // Runs `decode` on `message` as the generated type T. A message of T's type from another
  // descriptor pool (a DynamicMessage) gets the result through the wire format, since
  // CopyFrom across pools would abort.
  template <typename T, typename Decode>
  absl::Status DecodeAs(Message& message, Decode decode) {
    if (auto* typed = dynamic_cast<T*>(&message)) {
      typed->Clear();
      return decode(*typed);
    }
    T decoded;
    ORCH_RETURN_IF_ERROR(decode(decoded));
    if (!message.ParseFromString(decoded.SerializeAsString())) {
      return Error(fmt::format("cannot store a value of type {}", T::descriptor()->full_name()));
    }
    return absl::OkStatus();
  }

  absl::Status DecodeStruct(const Node& node, google::protobuf::Struct& out) {
    ORCH_RETURN_IF_ERROR(Visit());
    if (node.type != Node::Type::kMapping) return ExpectedGot("object", node);
    auto& fields = *out.mutable_fields();
    for (const auto& [key, item] : node.entries) {
      if (fields.find(key) != fields.end()) {
        return Error(fmt::format("duplicate key {}", QuoteForMessage(key)));
      }
      PathScope scope(*this, PathKey(key));
      ORCH_RETURN_IF_ERROR(DecodeValue(*item, fields[key]));
    }
    return absl::OkStatus();
  }

  absl::Status DecodeListValue(const Node& node, google::protobuf::ListValue& out) {
    ORCH_RETURN_IF_ERROR(Visit());
    if (node.type != Node::Type::kSequence) return ExpectedGot("array", node);
    for (std::size_t i = 0; i < node.items.size(); ++i) {
      PathScope scope(*this, fmt::format("[{}]", i));
      ORCH_RETURN_IF_ERROR(DecodeValue(*node.items[i], *out.add_values()));
    }
    return absl::OkStatus();
  }

  // Any node, typed as Kubernetes types free-form JSON: YAML's scalar types, numbers as
  // doubles.
  absl::Status DecodeValue(const Node& node, google::protobuf::Value& out) {
    switch (node.type) {
      case Node::Type::kMapping:
        return DecodeStruct(node, *out.mutable_struct_value());
      case Node::Type::kSequence:
        return DecodeListValue(node, *out.mutable_list_value());
      case Node::Type::kNull:
        ORCH_RETURN_IF_ERROR(Visit());
        out.set_null_value(google::protobuf::NULL_VALUE);
        return absl::OkStatus();
      case Node::Type::kScalar:
        break;
    }
    ORCH_RETURN_IF_ERROR(Visit());
    if (!node.plain) {
      out.set_string_value(node.text);
      return absl::OkStatus();
    }
    const PlainValue plain = ResolvePlain(node.text);
    switch (plain.type) {
      case PlainValue::Type::kNull:
        out.set_null_value(google::protobuf::NULL_VALUE);
        break;
      case PlainValue::Type::kBool:
        out.set_bool_value(plain.bool_value);
        break;
      case PlainValue::Type::kInt:
      case PlainValue::Type::kFloat:
        if (!std::isfinite(plain.float_value)) return ExpectedGot("finite number", node);
        out.set_number_value(plain.float_value);
        break;
      case PlainValue::Type::kString:
        out.set_string_value(node.text);
        break;
    }
    return absl::OkStatus();
  }

  absl::Status DecodeQuantity(const Node& value, Message& message) {
    ORCH_RETURN_IF_ERROR(Visit());
    if (value.type != Node::Type::kScalar) return ExpectedGot("quantity", value);
    std::string text = value.text;
    if (value.plain) {
      PlainValue plain = ResolvePlain(value.text);
      if (plain.type == PlainValue::Type::kBool) return ExpectedGot("quantity", value);
      if (plain.type == PlainValue::Type::kInt && !plain.int_overflow) {
        // Written in any YAML integer form (0x10, 0644, 1_000): the number it denotes.
        text = fmt::format("{}{}", plain.int_negative ? "-" : "", plain.int_magnitude);
      } else if (plain.type == PlainValue::Type::kInt || plain.type == PlainValue::Type::kFloat) {
        text = plain.number_text;
      }
    }
    absl::StatusOr<Quantity> quantity = Quantity::Parse(text);
    if (!quantity.ok()) return Error(std::string(quantity.status().message()));
    const FieldDescriptor& field = *message.GetDescriptor()->FindFieldByNumber(1);
    message.GetReflection()->SetString(&message, &field, quantity->ToString());
    return absl::OkStatus();
  }

  absl::Status DecodeIntOrString(const Node& value, Message& message) {
    ORCH_RETURN_IF_ERROR(Visit());
    if (value.type != Node::Type::kScalar) return ExpectedGot("integer or string", value);
    const Descriptor& descriptor = *message.GetDescriptor();
    const Reflection& reflection = *message.GetReflection();
    if (value.plain) {
      PlainValue plain = ResolvePlain(value.text);
      if (plain.type == PlainValue::Type::kInt) {
        ORCH_ASSIGN_OR_RETURN(__int128 number,
                              Integer(value, std::numeric_limits<int32_t>::min(),
                                      std::numeric_limits<int32_t>::max(), "int32"));
        reflection.SetInt32(&message, descriptor.FindFieldByNumber(1),
                            static_cast<int32_t>(number));
        return absl::OkStatus();
      }
      if (plain.type != PlainValue::Type::kString) {
        return ExpectedGot("integer or string", value);
      }
    }
    reflection.SetString(&message, descriptor.FindFieldByNumber(2), value.text);
    return absl::OkStatus();
  }

  absl::Status DecodeTimestamp(const Node& value, Message& message) {
    ORCH_RETURN_IF_ERROR(Visit());
    if (value.type != Node::Type::kScalar ||
        (value.plain && ResolvePlain(value.text).type != PlainValue::Type::kString)) {
      return ExpectedGot("timestamp string", value);
    }
    std::optional<TimestampValue> time = ParseRfc3339(value.text);
    if (!time) {
      return Error(fmt::format(
          "invalid timestamp {}: want RFC 3339 between years 0001 and 9999, such as "
          "\"2006-01-02T15:04:05Z\"",
          QuoteForMessage(value.text)));
    }
    const Descriptor& descriptor = *message.GetDescriptor();
    const Reflection& reflection = *message.GetReflection();
    reflection.SetInt64(&message, descriptor.FindFieldByNumber(1), time->seconds);
    reflection.SetInt32(&message, descriptor.FindFieldByNumber(2), time->nanos);
    return absl::OkStatus();
  }

  // An integer of any YAML form within [min, max]; `type` names the range in errors.
  absl::StatusOr<__int128> Integer(const Node& value, __int128 min, __int128 max,
                                   std::string_view type) const {
    if (value.type != Node::Type::kScalar || !value.plain) return ExpectedGot("integer", value);
    PlainValue plain = ResolvePlain(value.text);
    if (plain.type != PlainValue::Type::kInt) return ExpectedGot("integer", value);
    __int128 number = plain.int_magnitude;
    if (plain.int_negative) number = -number;
    if (plain.int_overflow || number < min || number > max) {
      return Error(fmt::format("integer {} is out of range for {}", AbbreviateNumber(value.text),
                               type));
    }
    return number;
  }

  absl::StatusOr<double> Number(const Node& value, bool single_precision) const {
    if (value.type != Node::Type::kScalar || !value.plain) return ExpectedGot("number", value);
    PlainValue plain = ResolvePlain(value.text);
    if (plain.type != PlainValue::Type::kInt && plain.type != PlainValue::Type::kFloat) {
      return ExpectedGot("number", value);
    }
    if (!std::isfinite(plain.float_value)) return ExpectedGot("finite number", value);
    if (single_precision && std::fabs(plain.float_value) > std::numeric_limits<float>::max()) {
      return Error(fmt::format("number {} is out of range for float", AbbreviateNumber(value.text)));
    }
    return plain.float_value;
  }

  absl::StatusOr<bool> Boolean(const Node& value) const {
    if (value.type == Node::Type::kScalar && value.plain) {
      PlainValue plain = ResolvePlain(value.text);
      if (plain.type == PlainValue::Type::kBool) return plain.bool_value;
    }
    return ExpectedGot("boolean", value);
  }

  absl::StatusOr<std::string> String(const Node& value, bool bytes) const {
    if (value.type != Node::Type::kScalar ||
        (value.plain && ResolvePlain(value.text).type != PlainValue::Type::kString)) {
      return ExpectedGot("string", value);
    }
    if (!bytes) return value.text;
    std::string decoded;
    if (!absl::Base64Unescape(value.text, &decoded)) {
      return Error(fmt::format("invalid base64 {}", QuoteForMessage(value.text)));
    }
    return decoded;
  }

  absl::StatusOr<int> EnumNumber(const Node& value, const FieldDescriptor& field) const {
    const google::protobuf::EnumDescriptor& type = *field.enum_type();
    if (value.type == Node::Type::kScalar) {
      if (value.plain && ResolvePlain(value.text).type == PlainValue::Type::kInt) {
        ORCH_ASSIGN_OR_RETURN(__int128 number,
                              Integer(value, std::numeric_limits<int32_t>::min(),
                                      std::numeric_limits<int32_t>::max(), "enum"));
        // proto3 enums are open: any int32 is a value.
        if (type.FindValueByNumber(static_cast<int>(number)) != nullptr ||
            type.file()->syntax() == google::protobuf::FileDescriptor::SYNTAX_PROTO3) {
          return static_cast<int>(number);
        }
      } else if (const EnumValueDescriptor* named = type.FindValueByName(value.text)) {
        return named->number();
      }
    }
    std::string names;
    for (int i = 0; i < type.value_count(); ++i) {
      names += (i == 0 ? "" : ", ") + type.value(i)->name();
    }
    return Error(fmt::format("expected one of {}, got {}", names, DescribeNode(value)));
  }

  // A scalar-typed field: singular, an element of a repeated field, or a map entry's key.
  absl::Status DecodeScalar(const Node& scalar, Message& message, const FieldDescriptor& field) {
    ORCH_RETURN_IF_ERROR(Visit());
    const Reflection& reflection = *message.GetReflection();
    const bool repeated = field.is_repeated();
    if (IsNull(scalar)) {
      // Only list elements reach here: the zero value.
      if (repeated) AddZero(message, field);
      return absl::OkStatus();
    }
    switch (field.cpp_type()) {
      case FieldDescriptor::CPPTYPE_STRING: {
        ORCH_ASSIGN_OR_RETURN(std::string text,
                              String(scalar, field.type() == FieldDescriptor::TYPE_BYTES));
        repeated ? reflection.AddString(&message, &field, std::move(text))
                 : reflection.SetString(&message, &field, std::move(text));
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_BOOL: {
        ORCH_ASSIGN_OR_RETURN(bool flag, Boolean(scalar));
        repeated ? reflection.AddBool(&message, &field, flag)
                 : reflection.SetBool(&message, &field, flag);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_INT32: {
        ORCH_ASSIGN_OR_RETURN(__int128 number,
                              Integer(scalar, std::numeric_limits<int32_t>::min(),
                                      std::numeric_limits<int32_t>::max(), "int32"));
        repeated ? reflection.AddInt32(&message, &field, static_cast<int32_t>(number))
                 : reflection.SetInt32(&message, &field, static_cast<int32_t>(number));
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_INT64: {
        ORCH_ASSIGN_OR_RETURN(__int128 number,
                              Integer(scalar, std::numeric_limits<int64_t>::min(),
                                      std::numeric_limits<int64_t>::max(), "int64"));
        repeated ? reflection.AddInt64(&message, &field, static_cast<int64_t>(number))
                 : reflection.SetInt64(&message, &field, static_cast<int64_t>(number));
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_UINT32: {
        ORCH_ASSIGN_OR_RETURN(__int128 number,
                              Integer(scalar, 0, std::numeric_limits<uint32_t>::max(), "uint32"));
        repeated ? reflection.AddUInt32(&message, &field, static_cast<uint32_t>(number))
                 : reflection.SetUInt32(&message, &field, static_cast<uint32_t>(number));
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_UINT64: {
        ORCH_ASSIGN_OR_RETURN(__int128 number,
                              Integer(scalar, 0, std::numeric_limits<uint64_t>::max(), "uint64"));
        repeated ? reflection.AddUInt64(&message, &field, static_cast<uint64_t>(number))
                 : reflection.SetUInt64(&message, &field, static_cast<uint64_t>(number));
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_DOUBLE: {
        ORCH_ASSIGN_OR_RETURN(double number, Number(scalar, false));
        repeated ? reflection.AddDouble(&message, &field, number)
                 : reflection.SetDouble(&message, &field, number);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_FLOAT: {
        ORCH_ASSIGN_OR_RETURN(double number, Number(scalar, true));
        repeated ? reflection.AddFloat(&message, &field, static_cast<float>(number))
                 : reflection.SetFloat(&message, &field, static_cast<float>(number));
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_ENUM: {
        ORCH_ASSIGN_OR_RETURN(int number, EnumNumber(scalar, field));
        repeated ? reflection.AddEnumValue(&message, &field, number)
                 : reflection.SetEnumValue(&message, &field, number);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_MESSAGE:
        break;
    }
    return Error("unsupported field type");
  }

  static void AddZero(Message& message, const FieldDescriptor& field) {
    const Reflection& reflection = *message.GetReflection();
    switch (field.cpp_type()) {
      case FieldDescriptor::CPPTYPE_STRING: reflection.AddString(&message, &field, ""); break;
      case FieldDescriptor::CPPTYPE_BOOL: reflection.AddBool(&message, &field, false); break;
      case FieldDescriptor::CPPTYPE_INT32: reflection.AddInt32(&message, &field, 0); break;
      case FieldDescriptor::CPPTYPE_INT64: reflection.AddInt64(&message, &field, 0); break;
      case FieldDescriptor::CPPTYPE_UINT32: reflection.AddUInt32(&message, &field, 0); break;
      case FieldDescriptor::CPPTYPE_UINT64: reflection.AddUInt64(&message, &field, 0); break;
      case FieldDescriptor::CPPTYPE_DOUBLE: reflection.AddDouble(&message, &field, 0); break;
      case FieldDescriptor::CPPTYPE_FLOAT: reflection.AddFloat(&message, &field, 0); break;
      case FieldDescriptor::CPPTYPE_ENUM: reflection.AddEnumValue(&message, &field, 0); break;
      case FieldDescriptor::CPPTYPE_MESSAGE: reflection.AddMessage(&message, &field); break;
    }
  }

  std::string path_;
  AliasBudget& budget_;
};

}  // namespace

absl::Status DecodeTree(const Node& node, Message& message, AliasBudget& budget) {
  TreeDecoder decoder(budget);
  return decoder.DecodeRoot(node, message);
}

}  // namespace orch::api::codec_internal
