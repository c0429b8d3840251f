// PluginArgs: a plugin's free-form args (a Struct) into its typed message, through the
// codec, so that args are exactly as strict as any manifest.
#include <string>
#include <string_view>

#include "fmt/format.h"
#include "google/protobuf/descriptor.h"
#include "orch/api/codec.h"
#include "orch/base/status.h"
#include "orch/scheduler/config.h"
#include "orch/scheduler/registry.h"

namespace orch::scheduler {
namespace {

constexpr std::string_view kDefaultSource = "plugin args";

bool HasField(const google::protobuf::Message& message, std::string_view json_name) {
  const google::protobuf::Descriptor& descriptor = *message.GetDescriptor();
  for (int i = 0; i < descriptor.field_count(); ++i) {
    if (descriptor.field(i)->json_name() == json_name) return true;
  }
  return false;
}

}  // namespace

absl::Status PluginArgs::DecodeInto(google::protobuf::Message& message) const {
  message.Clear();
  if (args_.fields().empty()) return absl::OkStatus();
  const std::string_view source = source_.empty() ? kDefaultSource : std::string_view(source_);
  // kube-scheduler lets args carry their own type (apiVersion, kind: NodeResourcesFitArgs);
  // the plugin's message is the type, so they are checked and dropped, not decoded.
  google::protobuf::Struct args = args_;
  auto& fields = *args.mutable_fields();
  if (auto kind = fields.find("kind"); kind != fields.end() && !HasField(message, "kind")) {
    const std::string& want = message.GetDescriptor()->name();
    if (kind->second.string_value() != want) {
      return Invalid("kind", fmt::format("expected \"{}\" (or no kind)", want));
    }
    fields.erase(kind);
  }
  if (auto version = fields.find("apiVersion");
      version != fields.end() && !HasField(message, "apiVersion")) {
    if (version->second.kind_case() != google::protobuf::Value::kStringValue) {
      return Invalid("apiVersion", "expected a string");
    }
    fields.erase(version);
  }
  absl::StatusOr<std::string> json = api::EncodeJson(args);
  if (!json.ok()) return Annotate(json.status(), source);
  return api::DecodeMessage(*json, source, message);
}

absl::Status PluginArgs::Invalid(std::string_view field, std::string_view problem) const {
  const std::string_view source = source_.empty() ? kDefaultSource : std::string_view(source_);
  if (field.empty()) return absl::InvalidArgumentError(fmt::format("{}: {}", source, problem));
  return absl::InvalidArgumentError(fmt::format("{}: {}: {}", source, field, problem));
}

}  // namespace orch::scheduler
