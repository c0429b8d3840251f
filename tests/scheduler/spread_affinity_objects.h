// Helpers shared by the PodTopologySpread and InterPodAffinity tests: plugins whose answers
// depend on pods across nodes, so their tests build whole clusters and run every node.
//
//   snapshot.Reset(BuildCluster({MakeNode("a"), MakeNode("b")}, {pod_on_a, pod_on_b}));
//   EXPECT_EQ(FilterOutcome(status), kFits);
#ifndef ORCH_TESTS_SCHEDULER_SPREAD_AFFINITY_OBJECTS_H_
#define ORCH_TESTS_SCHEDULER_SPREAD_AFFINITY_OBJECTS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "orch/api/v1/core.pb.h"
#include "orch/scheduler/framework.h"
#include "orch/scheduler/node_info.h"
#include "orch/scheduler/registry.h"
#include "scheduler/fake_handle.h"
#include "scheduler/test_objects.h"

namespace orch::scheduler::testing {

// A Filter outcome as text: "" when the node fits, otherwise "<code>: <reasons>".
inline constexpr char kFits[] = "";

inline std::string FilterOutcome(const Status& status) {
  if (status.ok()) return kFits;
  return std::string(CodeName(status.code())) + ": " + status.Message();
}

// The PodInfo of a pod built by hand (a test failure if it does not parse).
inline PodInfoPtr InfoOf(api::v1::Pod pod) {
  absl::StatusOr<PodInfoPtr> info = PodInfo::Create(std::make_shared<const api::v1::Pod>(std::move(pod)));
  if (!info.ok()) {
    ADD_FAILURE() << info.status();
    return nullptr;
  }
  return *std::move(info);
}

// A pod being deleted (metadata.deletionTimestamp set).
inline PodInfoPtr Terminating(const PodBuilder& builder) {
  api::v1::Pod pod = builder.Obj();
  pod.mutable_metadata()->mutable_deletion_timestamp()->set_seconds(1);
  return InfoOf(std::move(pod));
}

// Plugin args written as JSON, as a config file's pluginConfig args would hold them.
inline google::protobuf::Struct JsonStruct(const std::string& json) {
  google::protobuf::Struct s;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &s).ok()) << json;
  return s;
}


// A fixture for a plugin that runs at PreFilter, Filter, PreScore and Score with its own
// normalization, over a FakeSnapshot the test fills with SetCluster.
class CrossNodePluginTest : public ::testing::Test {
 protected:
  using Factory = absl::StatusOr<std::unique_ptr<Plugin>> (*)(const PluginArgs&, Handle&);

  // (Re)creates the plugin from `factory` with args given as JSON ("" for none).
  void CreatePlugin(Factory factory, const std::string& args_json) {
    PluginArgs args = args_json.empty() ? PluginArgs() : PluginArgs(JsonStruct(args_json), "test");
    absl::StatusOr<std::unique_ptr<Plugin>> plugin = factory(args, handle_);
    ASSERT_TRUE(plugin.ok()) << plugin.status();
    plugin_ = *std::move(plugin);
    pre_filter_ = dynamic_cast<PreFilterPlugin*>(plugin_.get());
    filter_ = dynamic_cast<FilterPlugin*>(plugin_.get());
    pre_score_ = dynamic_cast<PreScorePlugin*>(plugin_.get());
    score_ = dynamic_cast<ScorePlugin*>(plugin_.get());
    ASSERT_NE(pre_filter_, nullptr);
    ASSERT_NE(filter_, nullptr);
    ASSERT_NE(pre_score_, nullptr);
    ASSERT_NE(score_, nullptr);
  }

  // Puts each pod on the node its spec.nodeName names.
  void SetCluster(const std::vector<NodeBuilder>& nodes, const std::vector<PodInfoPtr>& pods) {
    snapshot_.Reset(BuildCluster(nodes, pods));
  }

  const NodeInfo& Node(const std::string& name) const {
    const NodeInfo* node = snapshot_.Get(name);
    EXPECT_NE(node, nullptr) << name;
    return *node;
  }

  // Filter for every node of the snapshot, after PreFilter on `state`. FilterNodes, the
  // batch form the scheduler filters through, must give the same verdicts.
  std::map<std::string, std::string> FilterAll(CycleState& state, const PodInfo& pod) const {
    std::map<std::string, std::string> out;
    for (const NodeInfo* node : snapshot_.nodes()) {
      out[node->name()] = FilterOutcome(filter_->Filter(state, pod, *node));
    }
    std::vector<const NodeInfo*> nodes = snapshot_.nodes();
    NodeFailures failed;
    if (filter_->FilterNodes(state, pod, nodes, failed).ok()) {
      std::map<std::string, std::string> batch;
      for (const NodeInfo* node : nodes) batch[node->name()] = FilterOutcome(Status());
      for (const auto& [node, status] : failed) batch[node->name()] = FilterOutcome(status);
      EXPECT_EQ(batch, out) << "FilterNodes differs from Filter";
    }
    // A domain-local plugin gives each domain what Filter gives its nodes.
    if (std::optional<std::string_view> key = filter_->FilterDomainKey(state)) {
      for (const NodeInfo* node : snapshot_.nodes()) {
        EXPECT_EQ(FilterOutcome(filter_->FilterDomain(state, pod, node->Label(*key))),
                  out[node->name()])
            << "FilterDomain differs from Filter on " << node->name();
      }
    }
    return out;
  }
  std::map<std::string, std::string> RunFilter(const PodInfo& pod) {
    CycleState state;
    PreFilterResult result;
    Status status = pre_filter_->PreFilter(state, pod, &result);
    EXPECT_TRUE(status.ok()) << CodeName(status.code()) << " " << status.Message();
    return FilterAll(state, pod);
  }
  bool PreFilterSkips(const PodInfo& pod) {
    CycleState state;
    PreFilterResult result;
    return pre_filter_->PreFilter(state, pod, &result).IsSkip();
  }

  // PreScore over the feasible nodes (all of the snapshot's by default), Score and
  // NormalizeScore: node -> normalized score.
  std::map<std::string, int64_t> RunScore(const PodInfo& pod,
                                          std::vector<std::string> feasible_names = {}) {
    std::vector<const NodeInfo*> feasible;
    if (feasible_names.empty()) {
      feasible = snapshot_.nodes();
    } else {
      for (const std::string& name : feasible_names) feasible.push_back(&Node(name));
    }
    CycleState state;
    Status status = pre_score_->PreScore(state, pod, feasible);
    EXPECT_TRUE(status.ok()) << CodeName(status.code()) << " " << status.Message();
    std::vector<NodeScore> scores;
    for (const NodeInfo* node : feasible) {
      NodeScore s{node, 0};
      Status scored = score_->Score(state, pod, *node, &s.score);
      EXPECT_TRUE(scored.ok()) << scored.Message();
      scores.push_back(s);
    }
    if (score_->normalization() == Normalization::kMinMaxReverse) {
      MinMaxReverseNormalizeScore(scores);
    } else {
      EXPECT_EQ(score_->normalization(), Normalization::kCustom);
      Status normalized = score_->NormalizeScore(state, pod, scores);
      EXPECT_TRUE(normalized.ok()) << normalized.Message();
    }
    std::map<std::string, int64_t> out;
    for (const NodeScore& s : scores) out[s.node->name()] = s.score;
    return out;
  }
  bool PreScoreSkips(const PodInfo& pod) {
    CycleState state;
    return pre_score_->PreScore(state, pod, snapshot_.nodes()).IsSkip();
  }

  FakeSnapshot snapshot_;
  FakeHandle handle_{&snapshot_};
  std::unique_ptr<Plugin> plugin_;
  PreFilterPlugin* pre_filter_ = nullptr;
  FilterPlugin* filter_ = nullptr;
  PreScorePlugin* pre_score_ = nullptr;
  ScorePlugin* score_ = nullptr;
};

}  // namespace orch::scheduler::testing

#endif  // ORCH_TESTS_SCHEDULER_SPREAD_AFFINITY_OBJECTS_H_
