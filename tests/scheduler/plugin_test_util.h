// Running one plugin the way the framework would, for plugin tests: make it from its
// factory with YAML args, run PreFilter + Filter on a node, or PreScore + Score + the
// plugin's normalization over a list of nodes.
#ifndef ORCH_TESTS_SCHEDULER_PLUGIN_TEST_UTIL_H_
#define ORCH_TESTS_SCHEDULER_PLUGIN_TEST_UTIL_H_

#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "google/protobuf/struct.pb.h"
#include "gtest/gtest.h"
#include "orch/scheduler/framework.h"
#include "orch/scheduler/registry.h"
#include "scheduler/test_objects.h"

namespace orch::scheduler::testing {

// Plugin args written as YAML (the pluginConfig `args:` object).
inline PluginArgs ArgsFromYaml(std::string_view yaml) {
  return PluginArgs(FromYaml<google::protobuf::Struct>(yaml), "test args");
}

// The plugin a factory makes, or nullptr (with a test failure) if it refused the args.
inline std::unique_ptr<Plugin> MakePlugin(const PluginFactory& factory, Handle& handle,
                                          const PluginArgs& args = PluginArgs()) {
  absl::StatusOr<std::unique_ptr<Plugin>> plugin = factory(args, handle);
  if (!plugin.ok()) {
    ADD_FAILURE() << plugin.status();
    return nullptr;
  }
  return *std::move(plugin);
}

template <typename Interface>
Interface& As(Plugin& plugin) {
  auto* p = dynamic_cast<Interface*>(&plugin);
  if (p == nullptr) {
    ADD_FAILURE() << plugin.Name() << " does not implement the interface";
    std::abort();
  }
  return *p;
}

// PreFilter (when the plugin has one; Skip means every node passes) and then Filter.
// FilterNodes, the batch form the scheduler filters through, must agree, and so must
// FilterDomain on the node's domain when the plugin is domain-local for the pod.
inline Status RunFilter(Plugin& plugin, const PodInfo& pod, const NodeInfo& node) {
  CycleState state;
  if (auto* pre = dynamic_cast<PreFilterPlugin*>(&plugin)) {
    PreFilterResult result;
    Status status = pre->PreFilter(state, pod, &result);
    if (status.IsSkip()) return Status();
    if (!status.ok()) return status;
  }
  Status status = As<FilterPlugin>(plugin).Filter(state, pod, node);
  std::vector<const NodeInfo*> nodes = {&node};
  NodeFailures failed;
  Status batch = As<FilterPlugin>(plugin).FilterNodes(state, pod, nodes, failed);
  if (status.code() == Code::kError) {
    EXPECT_EQ(batch.code(), Code::kError) << plugin.Name() << ": FilterNodes hid an Error";
  } else if (status.ok()) {
    EXPECT_TRUE(batch.ok() && nodes.size() == 1 && failed.empty())
        << plugin.Name() << ": FilterNodes rejected a node Filter passes";
  } else {
    EXPECT_TRUE(batch.ok() && nodes.empty() && failed.size() == 1 &&
                failed[0].second.code() == status.code() &&
                failed[0].second.reasons() == status.reasons())
        << plugin.Name() << ": FilterNodes differs from Filter";
  }
  if (std::optional<std::string_view> key = As<FilterPlugin>(plugin).FilterDomainKey(state)) {
    Status domain = As<FilterPlugin>(plugin).FilterDomain(state, pod, node.Label(*key));
    EXPECT_TRUE(domain.code() == status.code() && domain.reasons() == status.reasons())
        << plugin.Name() << ": FilterDomain differs from Filter on " << node.name();
  }
  return status;
}

struct ScoreResult {
  bool skipped = false;          // PreScore returned Skip: Score was not run
  std::vector<int64_t> raw;      // Score, per node
  std::vector<int64_t> normalized;
};

// PreScore over `nodes`, Score on each, then the plugin's normalization.
inline ScoreResult RunScore(Plugin& plugin, const PodInfo& pod,
                            const std::vector<const NodeInfo*>& nodes) {
  ScoreResult result;
  CycleState state;
  if (auto* pre = dynamic_cast<PreScorePlugin*>(&plugin)) {
    Status status = pre->PreScore(state, pod, nodes);
    if (status.IsSkip()) {
      result.skipped = true;
      return result;
    }
    EXPECT_TRUE(status.ok()) << status.Message();
  }
  auto& scorer = As<ScorePlugin>(plugin);
  std::vector<NodeScore> scores;
  for (const NodeInfo* node : nodes) {
    int64_t score = 0;
    Status status = scorer.Score(state, pod, *node, &score);
    EXPECT_TRUE(status.ok()) << status.Message();
    scores.push_back({node, score});
    result.raw.push_back(score);
  }
  // The batch form the scheduler scores through must give each node what Score gives it.
  std::vector<int64_t> batch(nodes.size(), -1);
  Status batch_status = scorer.ScoreNodes(state, pod, nodes, absl::MakeSpan(batch));
  EXPECT_TRUE(batch_status.ok()) << batch_status.Message();
  EXPECT_EQ(batch, result.raw) << plugin.Name() << ": ScoreNodes differs from Score";
  switch (scorer.normalization()) {
    case Normalization::kNone:
      break;
    case Normalization::kDefault:
    case Normalization::kDefaultReverse:
      DefaultNormalizeScore(scorer.normalization() == Normalization::kDefaultReverse, scores);
      break;
    case Normalization::kMinMaxReverse:
      MinMaxReverseNormalizeScore(scores);
      break;
    case Normalization::kCustom: {
      Status status = scorer.NormalizeScore(state, pod, scores);
      EXPECT_TRUE(status.ok()) << status.Message();
      break;
    }
  }
  for (const NodeScore& s : scores) result.normalized.push_back(s.score);
  return result;
}

// Every node of a snapshot, in its order (by name).
inline std::vector<const NodeInfo*> AllNodes(const Snapshot& snapshot) { return snapshot.nodes(); }

}  // namespace orch::scheduler::testing

#endif  // ORCH_TESTS_SCHEDULER_PLUGIN_TEST_UTIL_H_
