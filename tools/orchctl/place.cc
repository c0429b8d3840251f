// orchctl place -f STATE.yaml [--config SCHEDULER.yaml] [--scores] [--seed N]: where the
// scheduler would put each pending pod, and why not elsewhere.
#include <charconv>
#include <iostream>
#include <string>
#include <vector>

#include "command.h"
#include "fmt/format.h"
#include "manifest_files.h"
#include "orch/api/codec.h"
#include "orch/api/scheme.h"
#include "orch/api/v1/core.pb.h"
#include "orch/base/json.h"
#include "orch/scheduler/config.h"
#include "orch/scheduler/place.h"

namespace orch::orchctl {
namespace {

constexpr std::string_view kUsage = R"(usage: orchctl place -f STATE.yaml [--config SCHEDULER.yaml] [--scores] [--seed N]

Answers "where would these pods go?" without a cluster. STATE.yaml holds Kubernetes
manifests: Nodes, Pods already bound (spec.nodeName set), pending Pods (no nodeName) and
optionally Namespaces. The pending pods are scheduled one after another, in the order they
appear, with the profile their spec.schedulerName names (Kubernetes' default plugins and
weights unless --config gives a KubeSchedulerConfiguration); each is assumed on its node
before the next. One JSON object per pending pod is printed, a line each:

  {"pod": "ns/name", "node": "node-1", "message": "Successfully assigned ns/name to node-1"}
  {"pod": "ns/big", "node": null, "message": "0/3 nodes are available: 3 Insufficient cpu."}

With --scores each line also has "scores" (every feasible node's final score: the sum of
weight x normalized score over the score plugins) and "plugins" (each node's normalized
score per plugin). Exits 0 once every pod has an answer, 1 on a bad file or
configuration, 2 on a usage error.

Flags:
  -f, --filename PATH   the state: a file, a directory of manifests, or - for stdin
                        (repeatable; objects are read in order)
      --config PATH     a KubeSchedulerConfiguration (YAML or JSON)
      --scores          print each feasible node's scores
      --seed N          seed for breaking ties between equal scores (default 1)
  -h, --help            print this help
)";

struct Flags {
  std::vector<std::string> paths;
  std::string config;
  bool scores = false;
  uint64_t seed = 1;
  bool help = false;
};

// The value of a flag given as "--name VALUE" or "--name=VALUE", advancing `i`.
bool FlagValue(std::span<const std::string> args, size_t& i, std::string_view name,
               std::string& value, std::string& error) {
  const std::string& arg = args[i];
  if (arg.size() > name.size() && arg.compare(0, name.size(), name) == 0 &&
      arg[name.size()] == '=') {
    value = arg.substr(name.size() + 1);
  } else if (i + 1 < args.size()) {
    value = args[++i];
  } else {
    error = fmt::format("flag {} needs a value", name);
    return false;
  }
  if (value.empty()) {
    error = fmt::format("flag {} needs a non-empty value", name);
    return false;
  }
  return true;
}

bool Is(const std::string& arg, std::string_view name) {
  return arg == name || (arg.size() > name.size() && arg.compare(0, name.size(), name) == 0 &&
                         arg[name.size()] == '=');
}

bool ParseFlags(std::span<const std::string> args, Flags& flags, std::string& error) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    std::string value;
    if (arg == "-h" || arg == "--help") {
      flags.help = true;
    } else if (arg == "--scores") {
      flags.scores = true;
    } else if (Is(arg, "-f") || Is(arg, "--filename")) {
      if (!FlagValue(args, i, arg.rfind("--", 0) == 0 ? "--filename" : "-f", value, error)) {
        return false;
      }
      flags.paths.push_back(value);
    } else if (Is(arg, "--config")) {
      if (!FlagValue(args, i, "--config", value, error)) return false;
      flags.config = value;
    } else if (Is(arg, "--seed")) {
      if (!FlagValue(args, i, "--seed", value, error)) return false;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), flags.seed);
      if (ec != std::errc() || end != value.data() + value.size()) {
        error = fmt::format("flag --seed: \"{}\" is not a non-negative integer", value);
        return false;
      }
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
  return true;
}

std::string Line(const scheduler::PodPlacement& p, bool scores) {
  std::string message =
      p.node.empty() ? p.message : fmt::format("Successfully assigned {} to {}", p.pod, p.node);
  std::string line = fmt::format("{{\"pod\": {}, \"node\": {}, \"message\": {}", JsonQuote(p.pod),
                                 p.node.empty() ? "null" : JsonQuote(p.node),
                                 JsonQuote(message));
  if (scores) {
    line += ", \"scores\": {";
    for (size_t i = 0; i < p.scores.size(); ++i) {
      line += fmt::format("{}{}: {}", i == 0 ? "" : ", ", JsonQuote(p.scores[i].first),
                          p.scores[i].second);
    }
    line += "}, \"plugins\": {";
    for (size_t i = 0; i < p.plugin_scores.size(); ++i) {
      line += fmt::format("{}{}: {{", i == 0 ? "" : ", ", JsonQuote(p.plugin_scores[i].first));
      const auto& plugins = p.plugin_scores[i].second;
      for (size_t j = 0; j < plugins.size(); ++j) {
        line += fmt::format("{}{}: {}", j == 0 ? "" : ", ", JsonQuote(plugins[j].first),
                            plugins[j].second);
      }
      line += "}";
    }
    line += "}";
  }
  return line + "}";
}

// Sorts the decoded objects into the input of Place. kInvalidArgument for a kind that
// has no place in a scheduling state.
absl::Status Collect(std::vector<api::DecodedObject>& objects, const std::string& source,
                     scheduler::PlaceInput& input) {
  for (api::DecodedObject& object : objects) {
    google::protobuf::Message& message = *object.object;
    if (auto* node = google::protobuf::DynamicCastToGenerated<api::v1::Node>(&message)) {
      input.nodes.push_back(std::move(*node));
    } else if (auto* pod = google::protobuf::DynamicCastToGenerated<api::v1::Pod>(&message)) {
      (pod->spec().node_name().empty() ? input.pending : input.bound).push_back(std::move(*pod));
    } else if (auto* ns = google::protobuf::DynamicCastToGenerated<api::v1::Namespace>(&message)) {
      input.namespaces.push_back(std::move(*ns));
    } else {
      return absl::InvalidArgumentError(fmt::format(
          "{}: document {}: kind {}: a scheduling state holds only Nodes, Pods and Namespaces",
          source, object.document, object.kind->kind));
    }
  }
  return absl::OkStatus();
}

}  // namespace

int RunPlace(std::span<const std::string> args, std::ostream& out, std::ostream& err) {
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
  scheduler::PlaceOptions options;
  options.seed = flags.seed;
  options.keep_scores = flags.scores;
  if (!flags.config.empty()) {
    absl::StatusOr<ManifestFile> file = ReadManifestFile(flags.config);
    if (!file.ok()) {
      err << "error: " << file.status().message() << "\n";
      return kExitFailure;
    }
    absl::StatusOr<scheduler::v1::KubeSchedulerConfiguration> config =
        scheduler::LoadConfig(file->text, file->source, options.registry);
    if (!config.ok()) {
      err << "error: " << config.status().message() << "\n";
      return kExitFailure;
    }
    options.config = *std::move(config);
    options.config_source = flags.config;
  }

  scheduler::PlaceInput input;
  for (const std::string& path : flags.paths) {
    absl::StatusOr<std::vector<ManifestFile>> files = ReadManifestFiles(path, std::cin);
    if (!files.ok()) {
      err << "error: " << files.status().message() << "\n";
      return kExitFailure;
    }
    for (const ManifestFile& file : *files) {
      absl::StatusOr<std::vector<api::DecodedObject>> decoded =
          api::DecodeManifests(file.text, file.source, api::Scheme::Builtin());
      absl::Status collected = decoded.ok() ? Collect(*decoded, file.source, input)
                                            : decoded.status();
      if (!collected.ok()) {
        err << "error: " << collected.message() << "\n";
        return kExitFailure;
      }
    }
  }
  absl::StatusOr<std::vector<scheduler::PodPlacement>> placements =
      scheduler::Place(input, options);
  if (!placements.ok()) {
    err << "error: " << placements.status().message() << "\n";
    return kExitFailure;
  }
  for (const scheduler::PodPlacement& placement : *placements) {
    out << Line(placement, flags.scores) << "\n";
  }
  return kExitOk;
}

}  // namespace orch::orchctl
