#include "object.h"

#include <utility>

#include "fmt/format.h"
#include "orch/api/encoding.h"
#include "orch/base/status.h"
#include "google/protobuf/descriptor.h"

namespace orch::client::internal {

namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

constexpr int kApiVersionField = 1;
constexpr int kKindField = 2;

const FieldDescriptor* StringField(const Descriptor& type, int number) {
  const FieldDescriptor* field = type.FindFieldByNumber(number);
  if (field == nullptr || field->cpp_type() != FieldDescriptor::CPPTYPE_STRING ||
      field->is_repeated()) {
    return nullptr;
  }
  return field;
}

std::string GetStringField(const Message& object, int number) {
  if (const api::TypeFieldsView builtin = api::BuiltinTypeFields(object);
      builtin.api_version != nullptr) {
    return number == kApiVersionField ? *builtin.api_version : *builtin.kind;
  }
  const FieldDescriptor* field = StringField(*object.GetDescriptor(), number);
  return field == nullptr ? std::string() : object.GetReflection()->GetString(object, field);
}

bool IsDnsLabelChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

}  // namespace

const FieldDescriptor* StatusField(const Descriptor& type) {
  const FieldDescriptor* field = type.FindFieldByName("status");
  if (field == nullptr || field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE ||
      field->is_repeated()) {
    return nullptr;
  }
  return field;
}

void SetTypeFields(const api::Kind& kind, Message* object) {
  if (api::SetBuiltinTypeFields(object, kind.api_version(), kind.kind)) return;
  const Descriptor& type = *object->GetDescriptor();
  const auto* reflection = object->GetReflection();
  if (const FieldDescriptor* f = StringField(type, kApiVersionField)) {
    reflection->SetString(object, f, kind.api_version());
  }
  if (const FieldDescriptor* f = StringField(type, kKindField)) {
    reflection->SetString(object, f, kind.kind);
  }
}

std::string ApiVersionField(const Message& object) {
  return GetStringField(object, kApiVersionField);
}

std::string KindField(const Message& object) { return GetStringField(object, kKindField); }

void CopyObject(const Message& from, Message* to) {
  to->Clear();
  to->MergeFrom(from);
}

absl::StatusOr<store::SharedBytes> Encode(const StringCheck& strings, Message* object) {
  api::v1::ObjectMeta* meta = MutableMeta(object);
  std::string resource_version;
  if (meta != nullptr) resource_version = std::exchange(*meta->mutable_resource_version(), "");
  std::string bytes = api::DeterministicBytes(*object);
  absl::Status checked = strings.Check(*object, bytes);
  if (meta != nullptr) *meta->mutable_resource_version() = std::move(resource_version);
  if (!checked.ok()) return checked;
  return store::SharedBytes(std::move(bytes));
}

absl::Status Decode(const store::KeyValue& kv, int64_t revision, Message* out) {
  out->Clear();
  if (!out->ParseFromString(kv.value.str())) {
    return absl::DataLossError(
        fmt::format("stored object at {} does not parse as {}", kv.key,
                    out->GetDescriptor()->full_name()));
  }
  if (api::v1::ObjectMeta* meta = MutableMeta(out)) {
    meta->set_resource_version(std::to_string(revision));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const Message>> DecodeShared(const store::KeyValue& kv,
                                                            int64_t revision,
                                                            const Message& prototype) {
  if (std::shared_ptr<const Message> shared = kv.value.TakeDecoded();
      shared != nullptr && shared->GetDescriptor() == prototype.GetDescriptor()) {
    const api::v1::ObjectMeta* meta = Meta(*shared);
    if (meta == nullptr || meta->resource_version() == std::to_string(revision)) return shared;
  }
  std::unique_ptr<Message> out(prototype.New());
  ORCH_RETURN_IF_ERROR(Decode(kv, revision, out.get()));
  return std::shared_ptr<const Message>(std::move(out));
}

std::string CacheKey(std::string_view ns, std::string_view name) {
  if (ns.empty()) return std::string(name);
  std::string key;
  key.reserve(ns.size() + 1 + name.size());
  key.append(ns).append("/").append(name);
  return key;
}

absl::StatusOr<std::optional<int64_t>> ParseResourceVersion(std::string_view field,
                                                            std::string_view rv) {
  if (rv.empty()) return std::optional<int64_t>();
  int64_t value = 0;
  for (char c : rv) {
    if (c < '0' || c > '9' || value > (INT64_MAX - 9) / 10) {
      return absl::InvalidArgumentError(
          fmt::format("{}: Invalid value: \"{}\": must be a decimal revision", field, rv));
    }
    value = value * 10 + (c - '0');
  }
  return std::optional<int64_t>(value);
}

absl::Status NotFoundError(const api::Kind& kind, std::string_view name) {
  return absl::NotFoundError(fmt::format("{} \"{}\" not found", kind.plural, name));
}

absl::Status AlreadyExistsError(const api::Kind& kind, std::string_view name) {
  return absl::AlreadyExistsError(fmt::format("{} \"{}\" already exists", kind.plural, name));
}

absl::Status ConflictError(const api::Kind& kind, std::string_view name) {
  return absl::AbortedError(fmt::format(
      "Operation cannot be fulfilled on {} \"{}\": the object has been modified; please "
      "apply your changes to the latest version and try again",
      kind.plural, name));
}

absl::Status ValidateName(std::string_view field, std::string_view name) {
  if (name.empty()) {
    return absl::InvalidArgumentError(fmt::format("{}: Required value: name is required", field));
  }
  if (name.size() > 253) {
    return absl::InvalidArgumentError(
        fmt::format("{}: Invalid value: \"{}\": must be no more than 253 characters", field,
                    name));
  }
  if (name == "." || name == "..") {
    return absl::InvalidArgumentError(
        fmt::format("{}: Invalid value: \"{}\": may not be '.' or '..'", field, name));
  }
  for (char c : name) {
    if (c == '/' || c == '%' || static_cast<unsigned char>(c) < 0x20) {
      return absl::InvalidArgumentError(fmt::format(
          "{}: Invalid value: \"{}\": may not contain '/', '%' or control characters", field,
          name));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateNamespace(std::string_view field, std::string_view ns) {
  bool ok = !ns.empty() && ns.size() <= 63 && IsDnsLabelChar(ns.front()) &&
            IsDnsLabelChar(ns.back());
  for (char c : ns) ok = ok && (IsDnsLabelChar(c) || c == '-');
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(fmt::format(
      "{}: Invalid value: \"{}\": a lowercase RFC 1123 label must consist of lower case "
      "alphanumeric characters or '-', and must start and end with an alphanumeric character",
      field, ns));
}

}  // namespace orch::client::internal
