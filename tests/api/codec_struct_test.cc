// The codec's free-form JSON types: google.protobuf.Struct, Value and ListValue.
#include <limits>
#include <memory>
#include <string>

#include "fmt/format.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "orch/api/codec.h"
#include "support/status_matchers.h"

namespace orch::api {
namespace {

using ::google::protobuf::ListValue;
using ::google::protobuf::Message;
using ::google::protobuf::Struct;
using ::google::protobuf::Value;
using ::google::protobuf::util::MessageDifferencer;
using ::orch::testing::IsOk;
using ::orch::testing::StatusIs;
using ::testing::Eq;
using ::testing::HasSubstr;

constexpr absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;

const Value& Field(const Struct& s, const std::string& key) {
  static const Value* const missing = new Value();
  auto it = s.fields().find(key);
  return it == s.fields().end() ? *missing : it->second;
}

TEST(CodecStructTest, DecodesEveryYamlValueKind) {
  Struct s;
  ASSERT_THAT(DecodeMessage(R"(
none: null
tilde: ~
empty:
count: 3
hex: 0x10
ratio: 0.25
on: yes
off: False
name: web
quoted: "3"
single: 'true'
nested: {a: {b: [1, two, null]}}
emptyMap: {}
emptyList: []
)",
                            "args.yaml", s),
              IsOk());
  EXPECT_EQ(Field(s, "none").kind_case(), Value::kNullValue);
  EXPECT_EQ(Field(s, "tilde").kind_case(), Value::kNullValue);
  EXPECT_EQ(Field(s, "empty").kind_case(), Value::kNullValue);
  EXPECT_EQ(Field(s, "count").number_value(), 3);
  EXPECT_EQ(Field(s, "hex").number_value(), 16);
  EXPECT_EQ(Field(s, "ratio").number_value(), 0.25);
  EXPECT_EQ(Field(s, "on").kind_case(), Value::kBoolValue);
  EXPECT_TRUE(Field(s, "on").bool_value());
  EXPECT_EQ(Field(s, "off").kind_case(), Value::kBoolValue);
  EXPECT_FALSE(Field(s, "off").bool_value());
  EXPECT_EQ(Field(s, "name").string_value(), "web");
  EXPECT_EQ(Field(s, "quoted").string_value(), "3");  // quoted: always a string
  EXPECT_EQ(Field(s, "single").string_value(), "true");
  const ListValue& list =
      Field(Field(Field(s, "nested").struct_value(), "a").struct_value(), "b").list_value();
  ASSERT_EQ(list.values_size(), 3);
  EXPECT_EQ(list.values(0).number_value(), 1);
  EXPECT_EQ(list.values(1).string_value(), "two");
  EXPECT_EQ(list.values(2).kind_case(), Value::kNullValue);
  EXPECT_EQ(Field(s, "emptyMap").kind_case(), Value::kStructValue);
  EXPECT_TRUE(Field(s, "emptyMap").struct_value().fields().empty());
  EXPECT_EQ(Field(s, "emptyList").kind_case(), Value::kListValue);
  EXPECT_EQ(s.fields_size(), 14);
}

TEST(CodecStructTest, JsonAndYamlGiveTheSameStruct) {
  Struct from_yaml;
  Struct from_json;
  ASSERT_THAT(DecodeMessage("a: [1, 2.5, \"x\", true, null]\nb: {c: -4}\n", "y", from_yaml),
              IsOk());
  ASSERT_THAT(DecodeMessage(R"({"b": {"c": -4}, "a": [1, 2.5, "x", true, null]})", "j", from_json),
              IsOk());
  EXPECT_TRUE(MessageDifferencer::Equals(from_yaml, from_json));
}

TEST(CodecStructTest, EncodesBackAndRoundTrips) {
  Struct s;
  ASSERT_THAT(DecodeMessage(R"(
zeta: [1, 2.5, "yes", true, null, {}, []]
alpha: {"app.kubernetes.io/name": web, n: -0.0, big: 1e21}
mid: "012"
)",
                            "args.yaml", s),
              IsOk());
  ORCH_ASSERT_OK_AND_ASSIGN(std::string json, EncodeJson(s));
  // Keys sorted; strings that would read as something else are quoted.
  EXPECT_EQ(json, R"({"alpha":{"app.kubernetes.io/name":"web","big":1e+21,"n":-0.0},"mid":"012",)"
                  R"("zeta":[1,2.5,"yes",true,null,{},[]]})");
  for (bool yaml : {false, true}) {
    absl::StatusOr<std::string> text = yaml ? EncodeYaml(s) : EncodeJson(s, /*pretty=*/true);
    ASSERT_THAT(text, IsOk());
    Struct back;
    ASSERT_THAT(DecodeMessage(*text, "again", back), IsOk()) << *text;
    EXPECT_TRUE(MessageDifferencer::Equals(s, back)) << *text;
  }
}

TEST(CodecStructTest, ValueAndListValueAtTheRoot) {
  Value value;
  ASSERT_THAT(DecodeMessage("42\n", "v", value), IsOk());
  EXPECT_EQ(value.number_value(), 42);
  ASSERT_THAT(DecodeMessage("\"42\"\n", "v", value), IsOk());
  EXPECT_EQ(value.string_value(), "42");
  ASSERT_THAT(DecodeMessage("[a, {b: c}]\n", "v", value), IsOk());
  ASSERT_EQ(value.list_value().values_size(), 2);
  EXPECT_EQ(Field(value.list_value().values(1).struct_value(), "b").string_value(), "c");
  ORCH_ASSERT_OK_AND_ASSIGN(std::string json, EncodeJson(value));
  EXPECT_EQ(json, R"(["a",{"b":"c"}])");

  ListValue list;
  ASSERT_THAT(DecodeMessage("- 1\n- x\n", "l", list), IsOk());
  ASSERT_EQ(list.values_size(), 2);
  EXPECT_EQ(list.values(1).string_value(), "x");
  EXPECT_THAT(DecodeMessage("a: 1\n", "l", list),
              StatusIs(kInvalid, Eq("l: expected array, got object")));

  Value unset;  // no kind: written as null
  ORCH_ASSERT_OK_AND_ASSIGN(json, EncodeJson(unset));
  EXPECT_EQ(json, "null");
}

TEST(CodecStructTest, StrictErrorsNameThePath) {
  Struct s;
  EXPECT_THAT(DecodeMessage("[1, 2]\n", "args.yaml", s),
              StatusIs(kInvalid, Eq("args.yaml: expected object, got array")));
  EXPECT_THAT(DecodeMessage("a: 1\na: 2\n", "args.yaml", s),
              StatusIs(kInvalid, Eq(R"(args.yaml: duplicate key "a")")));
  EXPECT_THAT(DecodeMessage("a: {b: [1, .nan]}\n", "args.yaml", s),
              StatusIs(kInvalid, Eq("args.yaml: a.b[1]: expected finite number, got number .nan")));
  EXPECT_THAT(DecodeMessage("x: {example.com/gpu: {n: 1, n: 2}}\n", "args.yaml", s),
              StatusIs(kInvalid, Eq(R"(args.yaml: x[example.com/gpu]: duplicate key "n")")));
  EXPECT_THAT(DecodeMessage("a: -.inf\n", "args.yaml", s),
              StatusIs(kInvalid, HasSubstr("a: expected finite number")));
  EXPECT_THAT(DecodeMessage("a: 1\n---\nb: 2\n", "args.yaml", s),
              StatusIs(kInvalid, HasSubstr("single document")));
  EXPECT_THAT(DecodeMessage("a: !!binary aGk=\n", "args.yaml", s),
              StatusIs(kInvalid, HasSubstr("unsupported tag")));
}

TEST(CodecStructTest, LimitsHoldBothWays) {
  // Reading: the reader's nesting limit and the alias budget apply inside a Struct.
  std::string deep;
  for (int i = 0; i < 120; ++i) deep += "{a: ";
  deep += "1";
  for (int i = 0; i < 120; ++i) deep += "}";
  Struct s;
  EXPECT_THAT(DecodeMessage(deep, "deep", s),
              StatusIs(kInvalid, HasSubstr("nesting deeper than 100")));

  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'h'; ++c) {
    char prev = static_cast<char>(c - 1);
    bomb += fmt::format("{}: &{} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n", c,
                        c, fmt::arg("p", prev));
  }
  EXPECT_THAT(DecodeMessage(bomb, "bomb", s), StatusIs(kInvalid, HasSubstr("excessive aliasing")));

  // Writing: a Struct built in code may nest without bound; what cannot be read back is refused.
  auto nest = [](int levels) {
    Struct root;
    Struct* at = &root;
    for (int i = 1; i < levels; ++i) at = (*at->mutable_fields())["a"].mutable_struct_value();
    (*at->mutable_fields())["leaf"].set_number_value(1);
    return root;
  };
  ORCH_ASSERT_OK_AND_ASSIGN(std::string json, EncodeJson(nest(100)));
  ASSERT_THAT(DecodeMessage(json, "back", s), IsOk());
  EXPECT_TRUE(MessageDifferencer::Equals(s, nest(100)));
  EXPECT_THAT(EncodeJson(nest(101)),
              StatusIs(kInvalid, HasSubstr("nesting deeper than 100 levels")));
  EXPECT_THAT(EncodeYaml(nest(5000)),
              StatusIs(kInvalid, HasSubstr("nesting deeper than 100 levels")));

  Struct bad;
  (*bad.mutable_fields())["n"].set_number_value(std::numeric_limits<double>::infinity());
  EXPECT_THAT(EncodeJson(bad), StatusIs(kInvalid, Eq("n: number is not finite")));
  bad.Clear();
  (*bad.mutable_fields())["list"].mutable_list_value()->add_values()->set_string_value("\xff");
  EXPECT_THAT(EncodeJson(bad), StatusIs(kInvalid, Eq("list[0]: string is not valid UTF-8")));
  bad.Clear();
  (*bad.mutable_fields())[std::string(1001, 'k')].set_bool_value(true);
  EXPECT_THAT(EncodeYaml(bad), StatusIs(kInvalid, HasSubstr("map key longer than 1000")));
}

// A message holding the JSON types as fields, built at run time: in a pool layered on the
// generated one (its Struct fields are generated messages), or in a pool of its own (they
// are DynamicMessages too).
constexpr char kHolderFile[] = R"pb(
  name: "holder.proto"
  package: "test"
  dependency: "google/protobuf/struct.proto"
  syntax: "proto3"
  message_type {
    name: "Holder"
    field {
      name: "args"
      number: 1
      label: LABEL_OPTIONAL
      type: TYPE_MESSAGE
      type_name: ".google.protobuf.Struct"
    }
    field {
      name: "value"
      number: 2
      label: LABEL_OPTIONAL
      type: TYPE_MESSAGE
      type_name: ".google.protobuf.Value"
    }
    field {
      name: "values"
      number: 3
      label: LABEL_REPEATED
      type: TYPE_MESSAGE
      type_name: ".google.protobuf.Value"
    }
    field {
      name: "by_name"
      number: 4
      label: LABEL_REPEATED
      type: TYPE_MESSAGE
      type_name: ".test.Holder.ByNameEntry"
    }
    field { name: "name" number: 5 label: LABEL_OPTIONAL type: TYPE_STRING }
    nested_type {
      name: "ByNameEntry"
      field { name: "key" number: 1 label: LABEL_OPTIONAL type: TYPE_STRING }
      field {
        name: "value"
        number: 2
        label: LABEL_OPTIONAL
        type: TYPE_MESSAGE
        type_name: ".google.protobuf.Value"
      }
      options { map_entry: true }
    }
  }
)pb";

class HolderTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    const bool own_pool = GetParam();
    if (own_pool) {
      pool_ = std::make_unique<google::protobuf::DescriptorPool>();
      google::protobuf::FileDescriptorProto struct_file;
      Struct::descriptor()->file()->CopyTo(&struct_file);
      ASSERT_NE(pool_->BuildFile(struct_file), nullptr);
    } else {
      pool_ = std::make_unique<google::protobuf::DescriptorPool>(
          google::protobuf::DescriptorPool::generated_pool());
    }
    google::protobuf::FileDescriptorProto holder_file;
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(kHolderFile, &holder_file));
    ASSERT_NE(pool_->BuildFile(holder_file), nullptr);
    factory_ = std::make_unique<google::protobuf::DynamicMessageFactory>(pool_.get());
    factory_->SetDelegateToGeneratedFactory(!own_pool);
    holder_.reset(factory_->GetPrototype(pool_->FindMessageTypeByName("test.Holder"))->New());
  }

  // A field of the holder, read as the generated type T (through the wire format).
  template <typename T>
  T Get(const std::string& name, int index = -1) const {
    const auto* field = holder_->GetDescriptor()->FindFieldByName(name);
    const auto* reflection = holder_->GetReflection();
    const Message& message = index < 0 ? reflection->GetMessage(*holder_, field)
                                       : reflection->GetRepeatedMessage(*holder_, field, index);
    T typed;
    EXPECT_TRUE(typed.ParseFromString(message.SerializeAsString()));
    return typed;
  }

  std::unique_ptr<google::protobuf::DescriptorPool> pool_;
  std::unique_ptr<google::protobuf::DynamicMessageFactory> factory_;
  std::unique_ptr<Message> holder_;
};

TEST_P(HolderTest, FieldsOfJsonTypesDecodeAndRoundTrip) {
  ASSERT_THAT(DecodeMessage(R"(
name: x
args: {weight: 2, resources: [{name: cpu}]}
value: null
values: [1, null, [true]]
byName: {a: null, b: {c: d}}
)",
                            "h.yaml", *holder_),
              IsOk());
  Struct args = Get<Struct>("args");
  EXPECT_EQ(Field(args, "weight").number_value(), 2);
  EXPECT_EQ(
      Field(Field(args, "resources").list_value().values(0).struct_value(), "name").string_value(),
      "cpu");
  // null in a Value is null_value, wherever the Value sits.
  EXPECT_EQ(Get<Value>("value").kind_case(), Value::kNullValue);
  EXPECT_EQ(Get<Value>("values", 0).number_value(), 1);
  EXPECT_EQ(Get<Value>("values", 1).kind_case(), Value::kNullValue);
  EXPECT_TRUE(Get<Value>("values", 2).list_value().values(0).bool_value());
  ORCH_ASSERT_OK_AND_ASSIGN(std::string json, EncodeJson(*holder_));
  EXPECT_EQ(json, R"({"args":{"resources":[{"name":"cpu"}],"weight":2},"value":null,)"
                  R"("values":[1,null,[true]],"byName":{"a":null,"b":{"c":"d"}},"name":"x"})");
  std::unique_ptr<Message> back(holder_->New());
  ASSERT_THAT(DecodeMessage(json, "again", *back), IsOk());
  EXPECT_TRUE(MessageDifferencer::Equals(*holder_, *back));

  // A null Struct is unset, like any other message; an empty one is kept.
  ASSERT_THAT(DecodeMessage("args: null\n", "h.yaml", *holder_), IsOk());
  const auto* args_field = holder_->GetDescriptor()->FindFieldByName("args");
  EXPECT_FALSE(holder_->GetReflection()->HasField(*holder_, args_field));
  ASSERT_THAT(DecodeMessage("args: {}\n", "h.yaml", *holder_), IsOk());
  EXPECT_TRUE(holder_->GetReflection()->HasField(*holder_, args_field));
  ORCH_ASSERT_OK_AND_ASSIGN(json, EncodeJson(*holder_));
  EXPECT_EQ(json, R"({"args":{}})");
}

TEST_P(HolderTest, ErrorsInsideFieldsNameTheFullPath) {
  EXPECT_THAT(DecodeMessage("args: [1]\n", "h.yaml", *holder_),
              StatusIs(kInvalid, Eq("h.yaml: args: expected object, got array")));
  EXPECT_THAT(
      DecodeMessage("values: [1, {a: {b: .inf}}]\n", "h.yaml", *holder_),
      StatusIs(kInvalid, Eq("h.yaml: values[1].a.b: expected finite number, got number .inf")));
  EXPECT_THAT(DecodeMessage("byName: {k: {x: 1, x: 2}}\n", "h.yaml", *holder_),
              StatusIs(kInvalid, Eq(R"(h.yaml: byName.k: duplicate key "x")")));
}

INSTANTIATE_TEST_SUITE_P(Pools, HolderTest, ::testing::Bool(), [](const auto& info) {
  return info.param ? "OwnPool" : "GeneratedTypes";
});

}  // namespace
}  // namespace orch::api
