// orchctl validate -f PATH: decode, default and validate manifests; list their objects.
#include <iostream>
#include <string>
#include <vector>

#include "command.h"
#include "fmt/format.h"
#include "google/protobuf/message.h"
#include "manifest_files.h"
#include "orch/api/codec.h"
#include "orch/api/scheme.h"
#include "orch/api/v1/meta.pb.h"

namespace orch::orchctl {
namespace {

constexpr std::string_view kUsage = R"(usage: orchctl validate -f PATH [-f PATH]...

Decodes, defaults and validates every object in the manifests at each PATH: a file, a
directory (its *.yaml, *.yml and *.json files, sorted by name, not recursive), or - for
standard input. Prints one line per object, "Kind namespace/name" ("Kind name" for a
cluster-scoped kind), and exits 0. At the first bad document it prints the error and
exits 1. Usage errors exit 2.

Flags:
  -f, --filename PATH   a manifest file, a directory of them, or - for stdin (repeatable)
  -h, --help            print this help
)";

struct Flags {
  std::vector<std::string> paths;
  bool help = false;
};

// Parses -f PATH, -f=PATH, --filename PATH, --filename=PATH, -h, --help.
bool ParseFlags(std::span<const std::string> args, Flags& flags, std::string& error) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") {
      flags.help = true;
    } else if (arg == "-f" || arg == "--filename") {
      if (i + 1 == args.size()) {
        error = fmt::format("flag {} needs a value", arg);
        return false;
      }
      flags.paths.push_back(args[++i]);
    } else if (arg.rfind("-f=", 0) == 0 || arg.rfind("--filename=", 0) == 0) {
      flags.paths.push_back(arg.substr(arg.find('=') + 1));
    } else if (arg.size() > 1 && arg[0] == '-') {
      error = fmt::format("unknown flag {}", arg);
      return false;
    } else {
      error = fmt::format("unexpected argument \"{}\"", arg);
      return false;
    }
  }
  if (!flags.help && flags.paths.empty()) {
    error = "flag -f is required";
    return false;
  }
  for (const std::string& path : flags.paths) {
    if (path.empty()) {
      error = "flag -f needs a non-empty value";
      return false;
    }
  }
  return true;
}

// "Deployment default/web", or "Namespace dev" for a cluster-scoped kind.
std::string DescribeObject(const api::DecodedObject& decoded) {
  const google::protobuf::Message& object = *decoded.object;
  // Every kind's field 3 is its ObjectMeta (the Scheme checks this at registration).
  const auto* metadata_field = object.GetDescriptor()->FindFieldByNumber(3);
  const auto* metadata = google::protobuf::DynamicCastToGenerated<api::v1::ObjectMeta>(
      &object.GetReflection()->GetMessage(object, metadata_field));
  std::string name = metadata == nullptr ? "" : metadata->name();
  if (name.empty() && metadata != nullptr && !metadata->generate_name().empty()) {
    name = metadata->generate_name() + "*";
  }
  if (!decoded.kind->namespaced) return fmt::format("{} {}", decoded.kind->kind, name);
  std::string ns = metadata == nullptr ? "" : metadata->namespace_();
  return fmt::format("{} {}/{}", decoded.kind->kind, ns.empty() ? "default" : ns, name);
}

}  // namespace

int RunValidate(std::span<const std::string> args, std::ostream& out, std::ostream& err) {
  Flags flags;
  std::string error;
  if (!ParseFlags(args, flags, error)) {
    err << "error: " << error << "\n\n" << kUsage;
    return kExitUsage;
  }
  if (flags.help) {
    out << kUsage;
    return kExitOk;
  }
  int objects = 0;
  for (const std::string& path : flags.paths) {
    absl::StatusOr<std::vector<ManifestFile>> files = ReadManifestFiles(path, std::cin);
    if (!files.ok()) {
      err << "error: " << files.status().message() << "\n";
      return kExitFailure;
    }
    for (const ManifestFile& file : *files) {
      absl::StatusOr<std::vector<api::DecodedObject>> decoded =
          api::DecodeManifests(file.text, file.source, api::Scheme::Builtin());
      if (!decoded.ok()) {
        err << "error: " << decoded.status().message() << "\n";
        return kExitFailure;
      }
      for (const api::DecodedObject& object : *decoded) {
        out << DescribeObject(object) << "\n";
        ++objects;
      }
    }
  }
  if (objects == 0) {
    err << "error: no objects found\n";
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace orch::orchctl
