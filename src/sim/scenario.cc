// The scenario parser (orch/sim/scenario.h).
//
// The text is read by the manifest codec's YAML reader, so a scenario gets the same
// hardening and the same scalar typing as a manifest: nesting is bounded, aliases are
// shared rather than copied, quoted scalars are strings and plain ones are typed as
// Kubernetes' go-yaml types them. Every mapping goes through Fields (unknown and repeated
// keys are errors naming their path) and every scalar through one Read overload per type.
// Errors are built as "FIELD.PATH: problem"; ParseScenario prefixes the source.
#include "orch/sim/scenario.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <exception>
#include <fstream>
#include <iterator>
#include <limits>
#include <memory>
#include <new>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/types/span.h"
#include "api/codec_internal.h"
#include "fmt/format.h"
#include "orch/api/codec.h"
#include "orch/api/quantity.h"
#include "orch/api/scheme.h"
#include "orch/api/taints.h"
#include "orch/api/validation.h"
#include "orch/base/status.h"
#include "orch/scheduler/registry.h"

namespace orch::sim {
namespace {

using api::codec_internal::AliasBudget;
using api::codec_internal::Node;
using api::codec_internal::NodePtr;
using api::codec_internal::PlainValue;
using api::codec_internal::QuoteForMessage;

// A manifest file bigger than this is refused before it is read whole.
constexpr std::streamsize kMaxManifestBytes = 16 << 20;

// "PATH: problem"; just the problem for the top level (empty path).
absl::Status Invalid(std::string_view path, std::string_view problem) {
  if (path.empty()) return absl::InvalidArgumentError(std::string(problem));
  return absl::InvalidArgumentError(fmt::format("{}: {}", path, problem));
}

bool IsNull(const Node& node) {
  return node.type == Node::Type::kNull ||
         (node.type == Node::Type::kScalar && node.plain &&
          api::codec_internal::ResolvePlain(node.text).type == PlainValue::Type::kNull);
}

// The YAML type of a scalar: a quoted one is a string, a plain one as go-yaml types it.
PlainValue Resolve(const Node& node) {
  if (node.type != Node::Type::kScalar || !node.plain) return PlainValue{};
  return api::codec_internal::ResolvePlain(node.text);
}

bool IsScalarOf(const Node& node, std::initializer_list<PlainValue::Type> types) {
  if (node.type != Node::Type::kScalar) return false;
  const PlainValue::Type type = Resolve(node).type;
  return std::find(types.begin(), types.end(), type) != types.end();
}

// What a value is, for "must be X, not Y".
std::string Describe(const Node& node) {
  if (IsNull(node)) return "null";
  if (node.type == Node::Type::kMapping) return "a mapping";
  if (node.type == Node::Type::kSequence) return "a list";
  if (Resolve(node).type == PlainValue::Type::kString) return QuoteForMessage(node.text);
  return api::codec_internal::AbbreviateNumber(node.text);
}

absl::Status Expected(const Node& node, std::string_view path, std::string_view what) {
  return Invalid(path, fmt::format("must be {}, not {}", what, Describe(node)));
}

// The first problem a Kubernetes name or value check reports, as an error.
absl::Status CheckName(api::NameValidator check, std::string_view value, std::string_view path) {
  const std::vector<std::string> problems = check(value);
  if (problems.empty()) return absl::OkStatus();
  return Invalid(path, fmt::format("invalid value {}: {}", QuoteForMessage(value), problems[0]));
}

// A non-negative number of seconds (an image's startSeconds, ...), fractions allowed.
struct Seconds {
  absl::Duration value;
};

// ---------------------------------------------------------------------------------------
// Typed scalars: one overload per type, each naming `path` in its error.

absl::Status Read(const Node& node, const std::string& path, std::string& out) {
  if (!IsScalarOf(node, {PlainValue::Type::kString})) return Expected(node, path, "a string");
  out = node.text;
  return absl::OkStatus();
}

absl::Status Read(const Node& node, const std::string& path, bool& out) {
  if (!IsScalarOf(node, {PlainValue::Type::kBool})) return Expected(node, path, "true or false");
  out = Resolve(node).bool_value;
  return absl::OkStatus();
}

absl::Status Read(const Node& node, const std::string& path, uint64_t& out) {
  const PlainValue value = Resolve(node);
  if (node.type != Node::Type::kScalar || value.type != PlainValue::Type::kInt ||
      value.int_overflow || (value.int_negative && value.int_magnitude != 0)) {
    return Expected(node, path, "a non-negative integer");
  }
  out = value.int_magnitude;
  return absl::OkStatus();
}

absl::Status Read(const Node& node, const std::string& path, int32_t& out) {
  uint64_t value = 0;
  ORCH_RETURN_IF_ERROR(Read(node, path, value));
  if (value > static_cast<uint64_t>(std::numeric_limits<int32_t>::max())) {
    return Expected(node, path, "a non-negative integer of at most 2147483647");
  }
  out = static_cast<int32_t>(value);
  return absl::OkStatus();
}

absl::Status Read(const Node& node, const std::string& path, Seconds& out) {
  const PlainValue value = Resolve(node);
  const bool number = node.type == Node::Type::kScalar &&
                      (value.type == PlainValue::Type::kInt ||
                       value.type == PlainValue::Type::kFloat);
  if (!number || !std::isfinite(value.float_value) || value.float_value < 0) {
    return Expected(node, path, "a non-negative number of seconds");
  }
  out.value = absl::Seconds(value.float_value);
  if (out.value == absl::InfiniteDuration()) return Invalid(path, "too large");
  return absl::OkStatus();
}

absl::Status Read(const Node& node, const std::string& path, absl::Duration& out) {
  if (!IsScalarOf(node, {PlainValue::Type::kString, PlainValue::Type::kInt,
                         PlainValue::Type::kFloat})) {
    return Expected(node, path, "a duration (90s, 5m, 1h30m) or a number of seconds");
  }
  ORCH_ASSIGN_OR_RETURN(out, ParseScenarioDuration(node.text, path));
  return absl::OkStatus();
}

absl::Status Read(const Node& node, const std::string& path, api::LabelSelector& out) {
  std::string text;
  ORCH_RETURN_IF_ERROR(Read(node, path, text));
  absl::StatusOr<api::LabelSelector> selector = api::LabelSelector::Parse(text);
  if (!selector.ok()) return Invalid(path, std::string(selector.status().message()));
  out = *std::move(selector);
  return absl::OkStatus();
}

// "ns/name" or "name" (namespace "default").
absl::Status Read(const Node& node, const std::string& path, ObjectName& out) {
  std::string text;
  ORCH_RETURN_IF_ERROR(Read(node, path, text));
  const std::size_t slash = text.find('/');
  if (slash == std::string::npos) {
    out.name = text;
  } else {
    out.namespace_ = text.substr(0, slash);
    out.name = text.substr(slash + 1);
    ORCH_RETURN_IF_ERROR(CheckName(api::IsDNS1123Label, out.namespace_, path));
  }
  return CheckName(api::IsDNS1123Subdomain, out.name, path);
}

template <typename T>
absl::Status Read(const Node& node, const std::string& path, std::optional<T>& out) {
  T value{};
  ORCH_RETURN_IF_ERROR(Read(node, path, value));
  out = std::move(value);
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------
// Mappings.

// A mapping checked against the keys its place allows: an unknown or repeated key is an
// error naming its path, as Kubernetes' strict decoding does.
class Fields {
 public:
  // `known`: the allowed keys.
  static absl::StatusOr<Fields> Of(const Node& node, std::string path,
                                   absl::Span<const std::string_view> known) {
    return Make(node, std::move(path), known, /*any_key=*/false);
  }
  // A free-form mapping (labels, images): any key, each once.
  static absl::StatusOr<Fields> Map(const Node& node, std::string path) {
    return Make(node, std::move(path), {}, /*any_key=*/true);
  }

  const std::string& path() const { return path_; }
  const Node& node() const { return *node_; }
  std::string PathOf(std::string_view key) const { return api::Child(path_, key); }

  // Whether `key` is written (even as null).
  bool Has(std::string_view key) const { return Lookup(key) != nullptr; }
  // The value of `key`; nullptr when absent or null.
  const Node* Find(std::string_view key) const {
    const Node* value = Lookup(key);
    return value == nullptr || IsNull(*value) ? nullptr : value;
  }

  // Reads `key` into `out` when it has a value; otherwise `out` keeps its default.
  template <typename T>
  absl::Status Optional(std::string_view key, T& out) const {
    const Node* value = Find(key);
    return value == nullptr ? absl::OkStatus() : Read(*value, PathOf(key), out);
  }
  template <typename T>
  absl::Status Required(std::string_view key, T& out) const {
    const Node* value = Find(key);
    return value == nullptr ? Invalid(PathOf(key), "required") : Read(*value, PathOf(key), out);
  }

 private:
  Fields(const Node& node, std::string path) : node_(&node), path_(std::move(path)) {}

  static absl::StatusOr<Fields> Make(const Node& node, std::string path,
                                     absl::Span<const std::string_view> known, bool any_key) {
    if (node.type != Node::Type::kMapping) return Expected(node, path, "a mapping");
    Fields fields(node, std::move(path));
    absl::flat_hash_set<std::string_view> seen;
    for (const auto& [key, value] : node.entries) {
      const bool allowed = any_key || std::find(known.begin(), known.end(), key) != known.end();
      const bool repeated = !seen.insert(key).second;
      if (allowed && !repeated) continue;
      const std::string_view problem = allowed ? "duplicate field" : "unknown field";
      if (api::codec_internal::PathKey(key)[0] == '.') return Invalid(fields.PathOf(key), problem);
      return Invalid(fields.path_, fmt::format("{} {}", problem, QuoteForMessage(key)));
    }
    return fields;
  }

  const Node* Lookup(std::string_view key) const {
    for (const auto& [entry_key, value] : node_->entries) {
      if (entry_key == key) return value.get();
    }
    return nullptr;
  }

  const Node* node_;
  std::string path_;
};

// A list's items (null: none).
absl::StatusOr<std::vector<const Node*>> Items(const Node* node, const std::string& path) {
  std::vector<const Node*> items;
  if (node == nullptr) return items;
  if (node->type != Node::Type::kSequence) return Expected(*node, path, "a list");
  for (const NodePtr& item : node->items) items.push_back(item.get());
  return items;
}

// ---------------------------------------------------------------------------------------
// Text of nodes.

// Whether a plain scalar reads back the same when written plain inside flow YAML: a
// number, boolean or null, or a string of name-like characters.
bool FlowSafe(const Node& node) {
  if (Resolve(node).type != PlainValue::Type::kString) return true;
  const auto name_like = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '/' || c == '-';
  };
  return !node.text.empty() && name_like(node.text[0]) && node.text[0] != '-' &&
         std::all_of(node.text.begin(), node.text.end(), name_like);
}

// `node` as one line of flow YAML: keys in order, plain scalars as written where that is
// safe, others double-quoted. Only for validated nodes (bounded: scalars and small
// collections).
void AppendFlow(const Node& node, std::string& out) {
  switch (node.type) {
    case Node::Type::kNull:
      out += "null";
      return;
    case Node::Type::kScalar:
      if (node.plain && FlowSafe(node)) {
        out += node.text;
      } else {
        // JSON's string escapes are YAML's too.
        out += api::codec_internal::WriteJson(*api::codec_internal::MakeScalar(node.text, false),
                                              /*pretty=*/false);
      }
      return;
    case Node::Type::kSequence:
      out += '[';
      for (std::size_t i = 0; i < node.items.size(); ++i) {
        if (i > 0) out += ", ";
        AppendFlow(*node.items[i], out);
      }
      out += ']';
      return;
    case Node::Type::kMapping:
      out += '{';
      for (std::size_t i = 0; i < node.entries.size(); ++i) {
        if (i > 0) out += ", ";
        out += node.entries[i].first;  // a known field name
        out += ": ";
        AppendFlow(*node.entries[i].second, out);
      }
      out += '}';
      return;
  }
}

// A copy of `node` fit for the codec's YAML writer, aliases expanded within `budget`:
// plain scalars that are strings become quoted ones, so the writer quotes them as needed
// (a plain scalar folded over lines would not survive being written plain).
absl::StatusOr<std::shared_ptr<Node>> Detach(const Node& node, const std::string& path,
                                             AliasBudget& budget) {
  if (!budget.Spend()) return Invalid(path, "excessive aliasing");
  auto copy = std::make_shared<Node>();
  copy->type = node.type;
  copy->text = node.text;
  copy->plain = node.plain && Resolve(node).type != PlainValue::Type::kString;
  for (const NodePtr& item : node.items) {
    ORCH_ASSIGN_OR_RETURN(std::shared_ptr<Node> detached, Detach(*item, path, budget));
    copy->items.push_back(std::move(detached));
  }
  for (const auto& [key, value] : node.entries) {
    ORCH_ASSIGN_OR_RETURN(std::shared_ptr<Node> detached, Detach(*value, path, budget));
    copy->entries.emplace_back(key, std::move(detached));
  }
  return copy;
}

// ---------------------------------------------------------------------------------------
// The scenario.

constexpr std::string_view kTopKeys[] = {"seed",    "nodes",  "scheduler", "images",     "timeline",
                                         "traffic", "expect", "runUntil",  "sampleEvery"};
constexpr std::string_view kGroupKeys[] = {"count", "namePrefix", "capacity", "labels",
                                           "taints"};
constexpr std::string_view kImageKeys[] = {
    "startSeconds", "pullSeconds", "pullError", "exitAfterSeconds", "exitCode",
    "readinessFails", "livenessFailsAfterSeconds", "ignoreSigterm", "stopSeconds"};

// Timeline actions, by key, in Action::Kind order; an entry is `at` and one of them.
constexpr std::string_view kActionKeys[] = {
    "apply",    "failNode", "recoverNode", "removeNode", "addNodes",
    "setImage", "rollback", "scale",       "deletePod",  "crashContainer"};
constexpr std::string_view kTimelineKeys[] = {
    "at",       "apply",    "failNode", "recoverNode", "removeNode",     "addNodes",
    "setImage", "rollback", "scale",    "deletePod",   "crashContainer"};

constexpr std::string_view kStreamKeys[] = {"name", "service", "port", "rate", "during"};

// An expectation: a form, a subject, measures.
constexpr std::string_view kExpectKeys[] = {
    "at",       "during",        "within",       "after",     "deployment",  "pods",
    "requests", "readyReplicas", "minAvailable", "maxPods",   "count",       "minCount",
    "maxCount", "minRestarts",   "maxRestarts",  "maxFailed", "minSucceeded"};
constexpr std::string_view kDeploymentMeasures[] = {"readyReplicas", "minAvailable", "maxPods"};
constexpr std::string_view kPodMeasures[] = {"count", "minCount", "maxCount", "minRestarts",
                                             "maxRestarts"};
constexpr std::string_view kRequestMeasures[] = {"maxFailed", "minSucceeded"};

// The subjects, each with its measures and how a message names it.
struct SubjectKind {
  std::string_view key;
  absl::Span<const std::string_view> measures;
  std::string_view described;  // "a deployment"
};
constexpr SubjectKind kSubjects[] = {
    {"deployment", kDeploymentMeasures, "a deployment"},
    {"pods", kPodMeasures, "pods"},
    {"requests", kRequestMeasures, "requests"},
};
constexpr std::string_view kPhases[] = {"Pending", "Running", "Succeeded", "Failed"};

std::string JoinKeys(absl::Span<const std::string_view> keys) {
  return fmt::format("{}", fmt::join(keys, ", "));
}

class Parser {
 public:
  Parser(std::string_view source, std::string_view base_dir, std::size_t parsed_nodes)
      : source_(source), base_dir_(base_dir), budget_(parsed_nodes) {}

  absl::Status Parse(const Node& root, Scenario& scenario) {
    if (root.type != Node::Type::kMapping) {
      return Invalid("", fmt::format("a scenario must be a mapping, not {}",
                                     IsNull(root) ? "empty" : Describe(root)));
    }
    ORCH_ASSIGN_OR_RETURN(Fields top, Fields::Of(root, "", kTopKeys));
    ORCH_RETURN_IF_ERROR(top.Optional("seed", scenario.seed));
    ORCH_ASSIGN_OR_RETURN(std::vector<const Node*> groups, Items(top.Find("nodes"), "nodes"));
    for (std::size_t i = 0; i < groups.size(); ++i) {
      NodeGroup group;
      ORCH_RETURN_IF_ERROR(Group(*groups[i], api::Index("nodes", i), group));
      scenario.nodes.push_back(std::move(group));
    }
    if (const Node* scheduler = top.Find("scheduler")) {
      ORCH_ASSIGN_OR_RETURN(scenario.scheduler, Scheduler(*scheduler));
    }
    if (const Node* images = top.Find("images")) {
      ORCH_RETURN_IF_ERROR(Images(*images, scenario.images));
    }
    ORCH_ASSIGN_OR_RETURN(std::vector<const Node*> timeline,
                          Items(top.Find("timeline"), "timeline"));
    for (std::size_t i = 0; i < timeline.size(); ++i) {
      Action action;
      action.path = api::Index("timeline", i);
      ORCH_RETURN_IF_ERROR(TimelineEntry(*timeline[i], action));
      scenario.timeline.push_back(std::move(action));
    }
    std::stable_sort(scenario.timeline.begin(), scenario.timeline.end(),
                     [](const Action& a, const Action& b) { return a.at < b.at; });
    ORCH_ASSIGN_OR_RETURN(std::vector<const Node*> traffic, Items(top.Find("traffic"), "traffic"));
    for (std::size_t i = 0; i < traffic.size(); ++i) {
      RequestStream stream;
      stream.path = api::Index("traffic", i);
      ORCH_RETURN_IF_ERROR(Stream(*traffic[i], scenario.traffic, stream));
      scenario.traffic.push_back(std::move(stream));
    }
    ORCH_ASSIGN_OR_RETURN(std::vector<const Node*> expect, Items(top.Find("expect"), "expect"));
    for (std::size_t i = 0; i < expect.size(); ++i) {
      Expectation expectation;
      expectation.path = api::Index("expect", i);
      ORCH_RETURN_IF_ERROR(ExpectEntry(*expect[i], scenario.traffic, expectation));
      scenario.expect.push_back(std::move(expectation));
    }
    ORCH_RETURN_IF_ERROR(top.Required("runUntil", scenario.run_until));
    if (scenario.run_until <= absl::ZeroDuration()) {
      return Invalid("runUntil", "must be greater than 0");
    }
    for (RequestStream& stream : scenario.traffic) {
      if (stream.until == absl::InfiniteDuration()) stream.until = scenario.run_until;
    }
    ORCH_RETURN_IF_ERROR(top.Optional("sampleEvery", scenario.sample_every));
    if (scenario.sample_every <= absl::ZeroDuration()) {
      return Invalid("sampleEvery", "must be greater than 0");
    }
    return CheckTimes(scenario);
  }

 private:
  absl::Status Group(const Node& node, const std::string& path, NodeGroup& group) {
    ORCH_ASSIGN_OR_RETURN(Fields fields, Fields::Of(node, path, kGroupKeys));
    ORCH_RETURN_IF_ERROR(fields.Required("count", group.count));
    ORCH_RETURN_IF_ERROR(fields.Optional("namePrefix", group.name_prefix));
    ORCH_RETURN_IF_ERROR(
        CheckName(api::IsDNS1123Subdomain, group.name_prefix, fields.PathOf("namePrefix")));
    if (const Node* capacity = fields.Find("capacity")) {
      ORCH_ASSIGN_OR_RETURN(Fields resources, Fields::Of(*capacity, fields.PathOf("capacity"),
                                                         {"cpu", "memory", "pods"}));
      ORCH_RETURN_IF_ERROR(Capacity(resources, "cpu", group.cpu));
      ORCH_RETURN_IF_ERROR(Capacity(resources, "memory", group.memory));
      ORCH_RETURN_IF_ERROR(Capacity(resources, "pods", group.pods));
    }
    if (const Node* labels = fields.Find("labels")) {
      ORCH_ASSIGN_OR_RETURN(Fields map, Fields::Map(*labels, fields.PathOf("labels")));
      for (const auto& [key, value] : map.node().entries) {
        const std::string key_path = api::Key(map.path(), key);
        ORCH_RETURN_IF_ERROR(CheckName(api::IsQualifiedName, key, key_path));
        ORCH_RETURN_IF_ERROR(Read(*value, key_path, group.labels[key]));
        ORCH_RETURN_IF_ERROR(CheckName(api::IsValidLabelValue, group.labels[key], key_path));
      }
    }
    ORCH_ASSIGN_OR_RETURN(std::vector<const Node*> taints,
                          Items(fields.Find("taints"), fields.PathOf("taints")));
    for (std::size_t i = 0; i < taints.size(); ++i) {
      ORCH_ASSIGN_OR_RETURN(Fields taint,
                            Fields::Of(*taints[i], api::Index(fields.PathOf("taints"), i),
                                       {"key", "value", "effect"}));
      std::string key, value, effect;
      ORCH_RETURN_IF_ERROR(taint.Required("key", key));
      ORCH_RETURN_IF_ERROR(CheckName(api::IsQualifiedName, key, taint.PathOf("key")));
      ORCH_RETURN_IF_ERROR(taint.Optional("value", value));
      ORCH_RETURN_IF_ERROR(CheckName(api::IsValidLabelValue, value, taint.PathOf("value")));
      ORCH_RETURN_IF_ERROR(taint.Required("effect", effect));
      if (effect != api::kEffectNoSchedule && effect != api::kEffectPreferNoSchedule &&
          effect != api::kEffectNoExecute) {
        return Invalid(taint.PathOf("effect"),
                       fmt::format("unsupported value {}: supported values: NoSchedule, "
                                   "PreferNoSchedule, NoExecute",
                                   QuoteForMessage(effect)));
      }
      api::v1::Taint& added = group.taints.emplace_back();
      added.set_key(key);
      added.set_value(value);
      added.set_effect(effect);
    }
    return absl::OkStatus();
  }

  // A capacity entry: a Kubernetes quantity, written as a string or a number.
  static absl::Status Capacity(const Fields& resources, std::string_view key, std::string& out) {
    const Node* value = resources.Find(key);
    if (value == nullptr) return absl::OkStatus();
    const std::string path = resources.PathOf(key);
    if (!IsScalarOf(*value, {PlainValue::Type::kString, PlainValue::Type::kInt,
                             PlainValue::Type::kFloat})) {
      return Expected(*value, path, "a quantity");
    }
    absl::StatusOr<api::Quantity> quantity = api::Quantity::Parse(value->text);
    if (!quantity.ok()) return Invalid(path, std::string(quantity.status().message()));
    if (quantity->Sign() < 0) return Invalid(path, "must not be negative");
    out = value->text;
    return absl::OkStatus();
  }

  absl::StatusOr<scheduler::v1::KubeSchedulerConfiguration> Scheduler(const Node& node) {
    ORCH_ASSIGN_OR_RETURN(Fields fields, Fields::Map(node, "scheduler"));
    ORCH_ASSIGN_OR_RETURN(std::shared_ptr<Node> framed, Detach(node, "scheduler", budget_));
    // apiVersion and kind frame a configuration file; here they may be left out.
    if (!fields.Has("kind")) {
      framed->entries.insert(framed->entries.begin(),
                             {"kind", api::codec_internal::MakeScalar(
                                          "KubeSchedulerConfiguration", false)});
    }
    if (!fields.Has("apiVersion")) {
      framed->entries.insert(
          framed->entries.begin(),
          {"apiVersion",
           api::codec_internal::MakeScalar(std::string(scheduler::kConfigApiVersion), false)});
    }
    absl::StatusOr<scheduler::v1::KubeSchedulerConfiguration> config =
        scheduler::LoadConfig(api::codec_internal::WriteYaml(*framed), "scheduler",
                              scheduler::Registry::InTree());
    if (config.ok()) return config;
    // "scheduler: profiles[0]...: problem" -> "scheduler.profiles[0]...: problem".
    std::string message(config.status().message());
    const std::size_t path_end = message.find(": ", 11);
    if (message.rfind("scheduler: ", 0) == 0 && path_end != std::string::npos &&
        message.find(' ', 11) == path_end + 1) {
      message.replace(9, 2, ".");
    }
    return absl::InvalidArgumentError(message);
  }

  absl::Status Images(const Node& node, std::map<std::string, runtime::FakeImage>& images) {
    ORCH_ASSIGN_OR_RETURN(Fields map, Fields::Map(node, "images"));
    for (const auto& [reference, value] : map.node().entries) {
      const std::string path = api::Key("images", reference);
      if (reference.empty()) return Invalid(path, "an image reference must not be empty");
      runtime::FakeImage& image = images[reference];
      if (IsNull(*value)) continue;
      ORCH_ASSIGN_OR_RETURN(Fields fields, Fields::Of(*value, path, kImageKeys));
      Seconds start{image.start_delay}, pull{image.pull_delay}, stop{image.stop_delay};
      std::optional<Seconds> exit_after, unhealthy_after;
      ORCH_RETURN_IF_ERROR(fields.Optional("startSeconds", start));
      ORCH_RETURN_IF_ERROR(fields.Optional("pullSeconds", pull));
      ORCH_RETURN_IF_ERROR(fields.Optional("pullError", image.pull_error));
      ORCH_RETURN_IF_ERROR(fields.Optional("exitAfterSeconds", exit_after));
      ORCH_RETURN_IF_ERROR(fields.Optional("exitCode", image.exit_code));
      ORCH_RETURN_IF_ERROR(CheckExitCode(fields, "exitCode", image.exit_code));
      ORCH_RETURN_IF_ERROR(fields.Optional("readinessFails", image.never_ready));
      ORCH_RETURN_IF_ERROR(fields.Optional("livenessFailsAfterSeconds", unhealthy_after));
      ORCH_RETURN_IF_ERROR(fields.Optional("ignoreSigterm", image.ignore_sigterm));
      ORCH_RETURN_IF_ERROR(fields.Optional("stopSeconds", stop));
      image.start_delay = start.value;
      image.pull_delay = pull.value;
      image.stop_delay = stop.value;
      if (exit_after) image.exit_after = exit_after->value;
      if (unhealthy_after) image.unhealthy_after = unhealthy_after->value;
    }
    return absl::OkStatus();
  }

  static absl::Status CheckExitCode(const Fields& fields, std::string_view key, int32_t code) {
    if (code <= 255) return absl::OkStatus();
    return Invalid(fields.PathOf(key), fmt::format("must be from 0 to 255, not {}", code));
  }

  absl::Status TimelineEntry(const Node& node, Action& action) {
    ORCH_ASSIGN_OR_RETURN(Fields fields, Fields::Of(node, action.path, kTimelineKeys));
    ORCH_RETURN_IF_ERROR(fields.Required("at", action.at));
    std::vector<std::string_view> written;
    for (std::size_t kind = 0; kind < std::size(kActionKeys); ++kind) {
      if (!fields.Has(kActionKeys[kind])) continue;
      written.push_back(kActionKeys[kind]);
      action.kind = static_cast<Action::Kind>(kind);
    }
    if (written.empty()) {
      return Invalid(action.path, fmt::format("no action (one of {})", JoinKeys(kActionKeys)));
    }
    if (written.size() > 1) {
      return Invalid(action.path,
                     fmt::format("more than one action ({}); write one per entry",
                                 JoinKeys(written)));
    }
    const std::string_view key = written.front();
    const std::string path = fields.PathOf(key);
    const Node* value = fields.Find(key);
    if (value == nullptr) return Invalid(path, "required");
    switch (action.kind) {
      case Action::Kind::kApply:
        return Apply(*value, path, action);
      case Action::Kind::kFailNode:
      case Action::Kind::kRecoverNode:
      case Action::Kind::kRemoveNode:
        ORCH_RETURN_IF_ERROR(fields.Required(key, action.node));
        return CheckName(api::IsDNS1123Subdomain, action.node, path);
      case Action::Kind::kAddNodes:
        return Group(*value, path, action.nodes);
      case Action::Kind::kSetImage: {
        ORCH_ASSIGN_OR_RETURN(Fields set, Fields::Of(*value, path,
                                                     {"deployment", "container", "image"}));
        ORCH_RETURN_IF_ERROR(set.Required("deployment", action.deployment));
        ORCH_RETURN_IF_ERROR(Container(set, action.container));
        return NonEmpty(set, "image", action.image);
      }
      case Action::Kind::kRollback: {
        ORCH_ASSIGN_OR_RETURN(Fields rollback, Fields::Of(*value, path, {"deployment"}));
        return rollback.Required("deployment", action.deployment);
      }
      case Action::Kind::kScale: {
        ORCH_ASSIGN_OR_RETURN(Fields scale, Fields::Of(*value, path, {"deployment", "replicas"}));
        ORCH_RETURN_IF_ERROR(scale.Required("deployment", action.deployment));
        return scale.Required("replicas", action.replicas);
      }
      case Action::Kind::kDeletePod: {
        ORCH_ASSIGN_OR_RETURN(Fields del,
                              Fields::Of(*value, path, {"selector", "count", "namespace"}));
        ORCH_RETURN_IF_ERROR(del.Required("selector", action.selector));
        ORCH_RETURN_IF_ERROR(del.Optional("count", action.count));
        if (action.count < 1) return Invalid(del.PathOf("count"), "must be at least 1");
        return Namespace(del, action.pod_namespace, /*all_allowed=*/false);
      }
      case Action::Kind::kCrashContainer: {
        ORCH_ASSIGN_OR_RETURN(Fields crash,
                              Fields::Of(*value, path, {"pod", "container", "exitCode"}));
        ORCH_RETURN_IF_ERROR(NonEmpty(crash, "pod", action.pod_glob));
        // A glob without a namespace means the "default" one, as a name without one does.
        if (action.pod_glob.find('/') == std::string::npos) {
          action.pod_glob = "default/" + action.pod_glob;
        }
        ORCH_RETURN_IF_ERROR(Container(crash, action.container));
        ORCH_RETURN_IF_ERROR(crash.Optional("exitCode", action.exit_code));
        return CheckExitCode(crash, "exitCode", action.exit_code);
      }
    }
    return absl::OkStatus();
  }

  static absl::Status NonEmpty(const Fields& fields, std::string_view key, std::string& out) {
    ORCH_RETURN_IF_ERROR(fields.Required(key, out));
    return out.empty() ? Invalid(fields.PathOf(key), "must not be empty") : absl::OkStatus();
  }

  static absl::Status Container(const Fields& fields, std::string& out) {
    ORCH_RETURN_IF_ERROR(fields.Required("container", out));
    return CheckName(api::IsDNS1123Label, out, fields.PathOf("container"));
  }

  // `namespace`: a namespace name; "" (every namespace) only where `all_allowed`.
  static absl::Status Namespace(const Fields& fields, std::string& out, bool all_allowed) {
    ORCH_RETURN_IF_ERROR(fields.Optional("namespace", out));
    if (all_allowed && out.empty()) return absl::OkStatus();
    return CheckName(api::IsDNS1123Label, out, fields.PathOf("namespace"));
  }

  // apply: {file: F} or {manifest: OBJECT or [OBJECT, ...]}; decoded and validated now.
  absl::Status Apply(const Node& node, const std::string& path, Action& action) {
    ORCH_ASSIGN_OR_RETURN(Fields apply, Fields::Of(node, path, {"file", "manifest"}));
    const bool file = apply.Has("file"), manifest = apply.Has("manifest");
    if (file == manifest) return Invalid(path, "needs exactly one of file and manifest");
    std::string source;
    if (file) {
      std::string name;
      ORCH_RETURN_IF_ERROR(NonEmpty(apply, "file", name));
      ORCH_ASSIGN_OR_RETURN(action.manifests, ReadManifestFile(name, apply.PathOf("file")));
      action.manifests_source = name;
      source = name;
    } else {
      const std::string manifest_path = apply.PathOf("manifest");
      const Node* value = apply.Find("manifest");
      if (value == nullptr) return Invalid(manifest_path, "required");
      // One object, or a list of them.
      const bool list = value->type == Node::Type::kSequence;
      std::vector<const Node*> objects{value};
      if (list) {
        ORCH_ASSIGN_OR_RETURN(objects, Items(value, manifest_path));
      }
      for (std::size_t i = 0; i < objects.size(); ++i) {
        const std::string object_path = list ? api::Index(manifest_path, i) : manifest_path;
        if (objects[i]->type != Node::Type::kMapping) {
          return Expected(*objects[i], object_path, "an object (a manifest)");
        }
        ORCH_ASSIGN_OR_RETURN(std::shared_ptr<Node> copy,
                              Detach(*objects[i], object_path, budget_));
        if (i > 0) action.manifests += "---\n";
        action.manifests += api::codec_internal::WriteYaml(*copy);
      }
      action.manifests_source = fmt::format("{}: {}", source_, manifest_path);
      source = manifest_path;  // the error gets the scenario's name once, at the top
    }
    absl::StatusOr<std::vector<api::DecodedObject>> objects =
        api::DecodeManifests(action.manifests, source, api::Scheme::Builtin());
    if (!objects.ok()) {
      return file ? Annotate(objects.status(), apply.PathOf("file")) : objects.status();
    }
    if (objects->empty()) return Invalid(file ? apply.PathOf("file") : path, "no objects");
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> ReadManifestFile(const std::string& name, const std::string& path) {
    std::string full = name;
    if (!base_dir_.empty() && name.front() != '/') {
      full = base_dir_.back() == '/' ? base_dir_ + name : base_dir_ + "/" + name;
    }
    const auto cannot_read = [&](std::string_view why) {
      return Invalid(path, fmt::format("cannot read {}: {}", QuoteForMessage(full), why));
    };
    struct stat info {};
    if (stat(full.c_str(), &info) != 0) return cannot_read(std::strerror(errno));
    if (!S_ISREG(info.st_mode)) return cannot_read("not a regular file");
    if (info.st_size > kMaxManifestBytes) {
      return cannot_read(fmt::format("larger than {} bytes", kMaxManifestBytes));
    }
    std::ifstream in(full, std::ios::binary);
    if (!in) return cannot_read(std::strerror(errno));
    std::string text(static_cast<std::size_t>(info.st_size), '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    if (in.bad()) return cannot_read("read error");
    text.resize(static_cast<std::size_t>(in.gcount()));
    return text;
  }

  // A traffic stream. Without `during` it ends at runUntil, which the caller fills in for
  // the InfiniteDuration left here (no duration written reads as infinite).
  static absl::Status Stream(const Node& node, const std::vector<RequestStream>& before,
                             RequestStream& stream) {
    ORCH_ASSIGN_OR_RETURN(Fields fields, Fields::Of(node, stream.path, kStreamKeys));
    ORCH_RETURN_IF_ERROR(fields.Required("name", stream.name));
    ORCH_RETURN_IF_ERROR(CheckName(api::IsDNS1123Label, stream.name, fields.PathOf("name")));
    for (const RequestStream& other : before) {
      if (other.name == stream.name) {
        return Invalid(fields.PathOf("name"),
                       fmt::format("{} is {}'s name already", QuoteForMessage(stream.name),
                                   other.path));
      }
    }
    ORCH_RETURN_IF_ERROR(fields.Required("service", stream.service));
    ORCH_RETURN_IF_ERROR(fields.Optional("port", stream.port));
    if (stream.port && (*stream.port < 1 || *stream.port > 65535)) {
      return Invalid(fields.PathOf("port"),
                     fmt::format("must be from 1 to 65535, not {}", *stream.port));
    }
    ORCH_RETURN_IF_ERROR(Rate(fields, stream.rate));
    if (!fields.Has("during")) {
      stream.until = absl::InfiniteDuration();
      return absl::OkStatus();
    }
    const std::string path = fields.PathOf("during");
    ORCH_RETURN_IF_ERROR(Window(fields.Find("during"), path, stream.from, stream.until));
    if (stream.until == stream.from) return Invalid(path, "is empty: it ends where it starts");
    return absl::OkStatus();
  }

  // `rate`: requests per second, a number > 0 and at most kMaxRequestRate.
  static absl::Status Rate(const Fields& fields, double& out) {
    const Node* value = fields.Find("rate");
    const std::string path = fields.PathOf("rate");
    if (value == nullptr) return Invalid(path, "required");
    const PlainValue number = Resolve(*value);
    if (value->type != Node::Type::kScalar ||
        (number.type != PlainValue::Type::kInt && number.type != PlainValue::Type::kFloat) ||
        !std::isfinite(number.float_value) || number.float_value <= 0) {
      return Expected(*value, path, "a number of requests per second greater than 0");
    }
    if (number.float_value > kMaxRequestRate) {
      return Invalid(path, fmt::format("at most {} requests per second, not {}",
                                       kMaxRequestRate, value->text));
    }
    out = number.float_value;
    return absl::OkStatus();
  }

  absl::Status ExpectEntry(const Node& node, const std::vector<RequestStream>& traffic,
                           Expectation& expectation) {
    ORCH_ASSIGN_OR_RETURN(Fields fields, Fields::Of(node, expectation.path, kExpectKeys));
    ORCH_RETURN_IF_ERROR(When(fields, expectation));
    ORCH_RETURN_IF_ERROR(Measures(fields, expectation));
    ORCH_RETURN_IF_ERROR(Target(fields, traffic, expectation));
    std::string text;
    AppendFlow(node, text);
    expectation.text = std::move(text);
    return absl::OkStatus();
  }

  static absl::Status When(const Fields& fields, Expectation& expectation) {
    const int forms = fields.Has("at") + fields.Has("during") + fields.Has("within");
    if (forms != 1) {
      return Invalid(fields.path(), "needs exactly one of at, during and within");
    }
    if (fields.Has("after") && !fields.Has("within")) {
      return Invalid(fields.PathOf("after"), "only with within");
    }
    if (fields.Has("at")) {
      expectation.when = Expectation::When::kAt;
      ORCH_RETURN_IF_ERROR(fields.Required("at", expectation.at));
      expectation.until = expectation.at;
    } else if (fields.Has("during")) {
      expectation.when = Expectation::When::kDuring;
      ORCH_RETURN_IF_ERROR(Window(fields.Find("during"), fields.PathOf("during"), expectation.at,
                                  expectation.until));
    } else {
      expectation.when = Expectation::When::kWithin;
      absl::Duration within;
      ORCH_RETURN_IF_ERROR(fields.Required("within", within));
      ORCH_RETURN_IF_ERROR(fields.Required("after", expectation.at));
      expectation.until = expectation.at + within;
    }
    return absl::OkStatus();
  }

  // `during: [FROM, TO]`, FROM <= TO.
  static absl::Status Window(const Node* during, const std::string& path, absl::Duration& from,
                             absl::Duration& to) {
    if (during == nullptr || during->type != Node::Type::kSequence || during->items.size() != 2) {
      return Expected(during == nullptr ? *api::codec_internal::MakeNull() : *during, path,
                      "a list [FROM, TO]");
    }
    ORCH_RETURN_IF_ERROR(Read(*during->items[0], api::Index(path, 0), from));
    ORCH_RETURN_IF_ERROR(Read(*during->items[1], api::Index(path, 1), to));
    if (to < from) return Invalid(path, "ends before it starts");
    return absl::OkStatus();
  }

  // What is measured: bounds that fit the subject's kind, at least one.
  static absl::Status Measures(const Fields& fields, Expectation& expectation) {
    const SubjectKind* subject = nullptr;
    int subjects = 0;
    for (const SubjectKind& kind : kSubjects) {
      if (!fields.Has(kind.key)) continue;
      ++subjects;
      subject = &kind;
    }
    if (subjects != 1) {
      return Invalid(fields.path(), "needs exactly one of deployment, pods and requests");
    }
    for (const SubjectKind& other : kSubjects) {
      if (&other == subject) continue;
      for (std::string_view measure : other.measures) {
        if (fields.Has(measure)) {
          return Invalid(fields.PathOf(measure), fmt::format("applies to {}, not {}",
                                                             other.described, subject->described));
        }
      }
    }
    ORCH_RETURN_IF_ERROR(fields.Optional("readyReplicas", expectation.ready_replicas));
    ORCH_RETURN_IF_ERROR(fields.Optional("minAvailable", expectation.min_available));
    ORCH_RETURN_IF_ERROR(fields.Optional("maxPods", expectation.max_pods));
    ORCH_RETURN_IF_ERROR(fields.Optional("count", expectation.count));
    ORCH_RETURN_IF_ERROR(fields.Optional("minCount", expectation.min_count));
    ORCH_RETURN_IF_ERROR(fields.Optional("maxCount", expectation.max_count));
    ORCH_RETURN_IF_ERROR(fields.Optional("minRestarts", expectation.min_restarts));
    ORCH_RETURN_IF_ERROR(fields.Optional("maxRestarts", expectation.max_restarts));
    ORCH_RETURN_IF_ERROR(fields.Optional("maxFailed", expectation.max_failed));
    ORCH_RETURN_IF_ERROR(fields.Optional("minSucceeded", expectation.min_succeeded));
    // A measure written as null is absent, and then none may be left.
    for (const auto* bound : {&expectation.ready_replicas, &expectation.min_available,
                              &expectation.max_pods, &expectation.count, &expectation.min_count,
                              &expectation.max_count, &expectation.min_restarts,
                              &expectation.max_restarts, &expectation.max_failed,
                              &expectation.min_succeeded}) {
      if (bound->has_value()) return absl::OkStatus();
    }
    return Invalid(fields.path(),
                   fmt::format("needs at least one of {}", JoinKeys(subject->measures)));
  }

  static absl::Status Target(const Fields& fields, const std::vector<RequestStream>& traffic,
                             Expectation& expectation) {
    Subject& subject = expectation.subject;
    if (fields.Has("requests")) {
      subject.kind = Subject::Kind::kRequests;
      const std::string path = fields.PathOf("requests");
      if (expectation.when != Expectation::When::kDuring) {
        return Invalid(path, "only with during: requests are counted over a window");
      }
      ORCH_RETURN_IF_ERROR(fields.Required("requests", subject.stream));
      for (const RequestStream& stream : traffic) {
        if (stream.name == subject.stream) return absl::OkStatus();
      }
      return Invalid(path, fmt::format("no stream {} in traffic", QuoteForMessage(subject.stream)));
    }
    if (fields.Has("deployment")) {
      subject.kind = Subject::Kind::kDeployment;
      return fields.Required("deployment", subject.deployment);
    }
    subject.kind = Subject::Kind::kPods;
    const Node* pods = fields.Find("pods");
    if (pods == nullptr) return absl::OkStatus();  // `pods:` with nothing: every pod
    ORCH_ASSIGN_OR_RETURN(Fields filter,
                          Fields::Of(*pods, fields.PathOf("pods"),
                                     {"selector", "namespace", "phase", "node", "ready"}));
    ORCH_RETURN_IF_ERROR(filter.Optional("selector", subject.selector));
    ORCH_RETURN_IF_ERROR(Namespace(filter, subject.pod_namespace, /*all_allowed=*/true));
    ORCH_RETURN_IF_ERROR(filter.Optional("phase", subject.phase));
    if (subject.phase &&
        std::find(std::begin(kPhases), std::end(kPhases), *subject.phase) == std::end(kPhases)) {
      return Invalid(filter.PathOf("phase"),
                     fmt::format("unsupported value {}: supported values: {}",
                                 QuoteForMessage(*subject.phase), JoinKeys(kPhases)));
    }
    ORCH_RETURN_IF_ERROR(filter.Optional("node", subject.node));
    return filter.Optional("ready", subject.ready);
  }

  // Every time named must fall within the run.
  static absl::Status CheckTimes(const Scenario& scenario) {
    const std::string run_until = absl::FormatDuration(scenario.run_until);
    const auto check = [&](absl::Duration time, const std::string& path, std::string_view what) {
      if (time <= scenario.run_until) return absl::OkStatus();
      return Invalid(path, fmt::format("{} {}, after runUntil ({})", what,
                                       absl::FormatDuration(time), run_until));
    };
    for (const Action& action : scenario.timeline) {
      ORCH_RETURN_IF_ERROR(check(action.at, action.path + ".at", "is"));
    }
    for (const RequestStream& stream : scenario.traffic) {
      ORCH_RETURN_IF_ERROR(check(stream.until, stream.path + ".during", "ends at"));
    }
    for (const Expectation& e : scenario.expect) {
      switch (e.when) {
        case Expectation::When::kAt:
          ORCH_RETURN_IF_ERROR(check(e.at, e.path + ".at", "is"));
          break;
        case Expectation::When::kDuring:
          ORCH_RETURN_IF_ERROR(check(e.until, e.path + ".during", "ends at"));
          break;
        case Expectation::When::kWithin:
          ORCH_RETURN_IF_ERROR(check(e.until, e.path + ".within", "ends (after + within) at"));
          break;
      }
    }
    return absl::OkStatus();
  }

  const std::string source_;
  const std::string base_dir_;
  AliasBudget budget_;  // shared by every subtree the parser copies out
};

bool IsDecimal(std::string_view text) {
  const std::size_t dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  const std::string_view fraction = dot == std::string_view::npos ? "" : text.substr(dot + 1);
  const auto digits = [](std::string_view part) {
    return std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  return !(whole.empty() && fraction.empty()) && digits(whole) && digits(fraction);
}

absl::StatusOr<Scenario> ParseOrError(std::string_view text, std::string_view source,
                                      std::string_view base_dir) {
  // One document; empty ones (a stray "---", only comments) do not count.
  api::codec_internal::YamlDocuments documents(text);
  NodePtr root = api::codec_internal::MakeNull();
  std::size_t parsed_nodes = 0;
  while (true) {
    absl::StatusOr<std::optional<api::codec_internal::Document>> next = documents.Next();
    if (!next.ok()) return next.status();
    if (!next->has_value()) break;
    if (IsNull(*(*next)->root)) continue;
    if (!IsNull(*root)) return Invalid("", "more than one YAML document");
    root = (*next)->root;
    parsed_nodes = (*next)->node_count;
  }
  Scenario scenario;
  scenario.source = std::string(source);
  ORCH_RETURN_IF_ERROR(Parser(source, base_dir, parsed_nodes).Parse(*root, scenario));
  return scenario;
}

}  // namespace

absl::StatusOr<absl::Duration> ParseScenarioDuration(std::string_view text,
                                                     std::string_view path) {
  // A plain number is seconds ("-5" too, to be refused below as negative).
  std::string spec(text);
  if (IsDecimal(text.substr(!text.empty() && (text[0] == '-' || text[0] == '+')))) spec += 's';
  absl::Duration duration;
  if (!absl::ParseDuration(spec, &duration) || duration == absl::InfiniteDuration() ||
      duration == -absl::InfiniteDuration()) {
    return Invalid(path, fmt::format("invalid duration {}: want a number of seconds or a "
                                     "sequence of numbers with units ns, us, ms, s, m, h "
                                     "(90s, 1h30m, 1.5s)",
                                     QuoteForMessage(text)));
  }
  if (duration < absl::ZeroDuration()) {
    return Invalid(path, fmt::format("must not be negative, not {}", QuoteForMessage(text)));
  }
  return duration;
}

absl::StatusOr<Scenario> ParseScenario(std::string_view text, std::string_view source,
                                       std::string_view base_dir) {
  try {
    absl::StatusOr<Scenario> scenario = ParseOrError(text, source, base_dir);
    if (!scenario.ok()) return Annotate(scenario.status(), source);
    return scenario;
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(
        fmt::format("{}: out of memory while parsing the scenario", source));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(fmt::format("{}: {}", source, e.what()));
  }
}

}  // namespace orch::sim
