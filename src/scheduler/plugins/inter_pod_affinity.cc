// InterPodAffinity: kube-scheduler's plugin for pod affinity and anti-affinity.
//
//   PreFilter  counts, per topology pair (key, value), the existing pods whose required
//              anti-affinity terms select the incoming pod, and the existing pods that
//              match the incoming pod's required affinity / anti-affinity terms.
//   Filter     a node passes when its topology pairs satisfy all three (a pod whose
//              affinity selects itself may go first when nothing matches anywhere).
//   PreScore/Score/NormalizeScore  sum the weights of preferred terms (the pod's and, in
//              reverse, the existing pods'; existing pods' required affinity counts with
//              hardPodAffinityWeight) per topology pair, then min-max normalize.
// namespaceSelector terms are matched against the namespace labels in the Snapshot.
#include <algorithm>
#include <climits>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"
#include "fmt/format.h"
#include "orch/api/v1/core.pb.h"
#include "orch/base/status.h"
#include "orch/scheduler/config.pb.h"
#include "orch/scheduler/framework.h"
#include "orch/scheduler/registry.h"
#include "scheduler/plugins/factories.h"

namespace orch::scheduler::plugins {
namespace {

using Labels = google::protobuf::Map<std::string, std::string>;

constexpr std::string_view kReasonExistingAntiAffinityRulesNotMatch =
    "node(s) didn't satisfy existing pods anti-affinity rules";
constexpr std::string_view kReasonAffinityRulesNotMatch = "node(s) didn't match pod affinity rules";
constexpr std::string_view kReasonAntiAffinityRulesNotMatch =
    "node(s) didn't match pod anti-affinity rules";

constexpr std::string_view kPreFilterStateKey = "PreFilterInterPodAffinity";
constexpr std::string_view kPreScoreStateKey = "PreScoreInterPodAffinity";

const Labels& EmptyLabels() {
  static const Labels* const empty = new Labels();
  return *empty;
}

// ------------------------------------------------------------------ topology pairs

struct TopologyPair {
  std::string key;
  std::string value;
};
struct TopologyPairView {
  std::string_view key;
  std::string_view value;
};

// Hash and equality that accept both forms, so Filter looks pairs up without building
// strings.
struct TopologyPairHash {
  using is_transparent = void;
  size_t operator()(TopologyPairView p) const {
    return absl::Hash<std::pair<absl::string_view, absl::string_view>>()(
        {absl::string_view(p.key.data(), p.key.size()),
         absl::string_view(p.value.data(), p.value.size())});
  }
  size_t operator()(const TopologyPair& p) const { return (*this)(View(p)); }
  static TopologyPairView View(const TopologyPair& p) { return {p.key, p.value}; }
};
struct TopologyPairEq {
  using is_transparent = void;
  static TopologyPairView View(TopologyPairView p) { return p; }
  static TopologyPairView View(const TopologyPair& p) { return {p.key, p.value}; }
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    const TopologyPairView x = View(a);
    const TopologyPairView y = View(b);
    return x.key == y.key && x.value == y.value;
  }
};

// Topology pair -> number of matching pods (or terms). Entries that drop to zero are
// removed: an empty map means "nothing matched anywhere".
class TopologyCounts {
 public:
  // Adds `delta` for the pair (key, node's value of key), if the node has that label.
  void Update(const Labels& node_labels, const std::string& key, int64_t delta) {
    auto value = node_labels.find(key);
    if (value == node_labels.end()) return;
    auto it = counts_.find(TopologyPairView{key, value->second});
    if (it == counts_.end()) {
      it = counts_.emplace(TopologyPair{key, value->second}, 0).first;
    }
    it->second += delta;
    if (it->second == 0) counts_.erase(it);
  }

  int64_t Get(std::string_view key, std::string_view value) const {
    auto it = counts_.find(TopologyPairView{key, value});
    return it == counts_.end() ? 0 : it->second;
  }
  bool empty() const { return counts_.empty(); }

 private:
  absl::flat_hash_map<TopologyPair, int64_t, TopologyPairHash, TopologyPairEq> counts_;
};

// ------------------------------------------------------------------ states

class FilterState : public CycleState::Data {
 public:
  // Existing pods' required anti-affinity terms that select the incoming pod.
  TopologyCounts existing_anti_affinity;
  // Existing pods that match all of the incoming pod's required affinity terms.
  TopologyCounts affinity;
  // Existing pods that match each of the incoming pod's required anti-affinity terms.
  TopologyCounts anti_affinity;
  // Whether the incoming pod matches all its own required affinity terms.
  bool matches_own_affinity = false;
  // The incoming pod's namespace labels (empty when the namespace is unknown).
  Labels namespace_labels;

  std::unique_ptr<Data> Clone() const override { return std::make_unique<FilterState>(*this); }
};

// Topology key -> value -> summed weights.
using ScoreMap = absl::flat_hash_map<std::string, absl::flat_hash_map<std::string, int64_t>>;

class ScoreState : public CycleState::Data {
 public:
  std::shared_ptr<const ScoreMap> topology_score;

  std::unique_ptr<Data> Clone() const override { return std::make_unique<ScoreState>(*this); }
};

// ------------------------------------------------------------------ the plugin

// Stateless between calls (its args are constant), so it needs no lock. Per-pod work happens
// in PreFilter and PreScore; Filter and Score look topology pairs up without allocating.
class InterPodAffinity final : public PreFilterPlugin,
                               public FilterPlugin,
                               public PreScorePlugin,
                               public ScorePlugin,
                               public EnqueueExtensions {
 public:
  InterPodAffinity(Handle& handle, int32_t hard_pod_affinity_weight,
                   bool ignore_preferred_terms_of_existing_pods)
      : handle_(handle),
        hard_pod_affinity_weight_(hard_pod_affinity_weight),
        ignore_preferred_terms_of_existing_pods_(ignore_preferred_terms_of_existing_pods) {}

  std::string_view Name() const override { return kInterPodAffinity; }
  bool NodeLocal() const override { return false; }

  std::vector<ClusterEvent> EventsToRegister() const override {
    return {
        {EventResource::kPod, kAdd | kUpdatePodLabel | kDelete},
        {EventResource::kNode, kAdd | kUpdateNodeLabel | kUpdateNodeTaint},
    };
  }

  Status PreFilter(CycleState& state, const PodInfo& pod, PreFilterResult* result) override;
  Status AddPod(CycleState& state, const PodInfo& pod, const PodInfo& other,
                const NodeInfo& node) const override {
    return UpdateWithPod(state, pod, other, node, 1);
  }
  Status RemovePod(CycleState& state, const PodInfo& pod, const PodInfo& other,
                   const NodeInfo& node) const override {
    return UpdateWithPod(state, pod, other, node, -1);
  }
  Status Filter(CycleState& state, const PodInfo& pod, const NodeInfo& node) const override;

  Status PreScore(CycleState& state, const PodInfo& pod,
                  const std::vector<const NodeInfo*>& feasible) override;
  Status Score(CycleState& state, const PodInfo& pod, const NodeInfo& node,
               int64_t* score) const override;
  Normalization normalization() const override { return Normalization::kCustom; }
  Status NormalizeScore(CycleState& state, const PodInfo& pod,
                        std::vector<NodeScore>& scores) const override;

 private:
  // Whether a term of the incoming pod selects `other`. Kubernetes resolves the incoming
  // pod's namespaceSelector into the namespaces that exist and match it (an empty selector
  // stays "every namespace"); looking up `other`'s namespace labels is the same test.
  bool IncomingTermMatches(const AffinityTerm& term, const api::v1::Pod& other) const {
    if (!term.namespace_selector.has_value()) return term.Matches(other, nullptr);
    const std::string& ns = other.metadata().namespace_();
    const Labels* labels = handle_.snapshot().NamespaceLabels(ns);
    if (labels != nullptr) return term.Matches(other, labels);
    if (term.namespace_selector->empty()) return term.Matches(other, &EmptyLabels());
    // A namespace the snapshot does not know is never among the ones a non-empty
    // namespaceSelector resolves to: only the term's namespace list can admit it.
    return term.namespaces.contains(ns) && term.selector.Matches(other.metadata().labels());
  }
  bool MatchesAllIncomingTerms(const std::vector<AffinityTerm>& terms,
                               const api::v1::Pod& other) const {
    if (terms.empty()) return false;
    return std::all_of(terms.begin(), terms.end(),
                       [&](const AffinityTerm& t) { return IncomingTermMatches(t, other); });
  }
  // Counts `other` (on `node`) against the incoming pod's required terms.
  void CountIncomingTerms(FilterState& s, const PodInfo& pod, const api::v1::Pod& other,
                          const Labels& node_labels, int64_t delta) const {
    if (MatchesAllIncomingTerms(pod.required_affinity(), other)) {
      for (const AffinityTerm& t : pod.required_affinity()) {
        s.affinity.Update(node_labels, t.topology_key, delta);
      }
    }
    for (const AffinityTerm& t : pod.required_anti_affinity()) {
      if (IncomingTermMatches(t, other)) s.anti_affinity.Update(node_labels, t.topology_key, delta);
    }
  }
  // Counts `other`'s required anti-affinity terms that select the incoming pod.
  // `namespace_labels` are those of the incoming pod's namespace.
  static void CountExistingAntiAffinity(FilterState& s, const PodInfo& other,
                                        const api::v1::Pod& pod, const Labels& namespace_labels,
                                        const Labels& node_labels, int64_t delta) {
    for (const AffinityTerm& t : other.required_anti_affinity()) {
      if (t.Matches(pod, &namespace_labels)) {
        s.existing_anti_affinity.Update(node_labels, t.topology_key, delta);
      }
    }
  }

  Status UpdateWithPod(CycleState& state, const PodInfo& pod, const PodInfo& other,
                       const NodeInfo& node, int64_t delta) const;

  void ScoreExistingPod(ScoreMap& scores, const PodInfo& pod, const Labels& namespace_labels,
                        const PodInfo& existing, const Labels& node_labels) const;

  Handle& handle_;
  const int32_t hard_pod_affinity_weight_;
  const bool ignore_preferred_terms_of_existing_pods_;
};

Status InterPodAffinity::PreFilter(CycleState& state, const PodInfo& pod_info,
                                   PreFilterResult* result) {
  const Snapshot& snapshot = handle_.snapshot();
  const api::v1::Pod& pod = pod_info.pod();
  const Labels* ns_labels = snapshot.NamespaceLabels(pod_info.namespace_());
  const Labels& namespace_labels = ns_labels != nullptr ? *ns_labels : EmptyLabels();

  auto s = std::make_unique<FilterState>();
  for (const NodeInfo* node : snapshot.nodes_with_required_anti_affinity_pods()) {
    for (const PodInfoPtr& existing : node->pods_with_required_anti_affinity()) {
      CountExistingAntiAffinity(*s, *existing, pod, namespace_labels, node->labels(), 1);
    }
  }
  const bool has_required_terms =
      !pod_info.required_affinity().empty() || !pod_info.required_anti_affinity().empty();
  if (s->existing_anti_affinity.empty() && !has_required_terms) return Status::Skip();
  s->namespace_labels = namespace_labels;  // kept for AddPod/RemovePod

  if (has_required_terms) {
    for (const NodeInfo* node : snapshot.nodes()) {
      for (const PodInfoPtr& existing : node->pods()) {
        CountIncomingTerms(*s, pod_info, existing->pod(), node->labels(), 1);
      }
    }
  }
  s->matches_own_affinity = MatchesAllIncomingTerms(pod_info.required_affinity(), pod);
  state.Write(kPreFilterStateKey, std::move(s));
  return Status();
}

Status InterPodAffinity::UpdateWithPod(CycleState& state, const PodInfo& pod,
                                       const PodInfo& other, const NodeInfo& node,
                                       int64_t delta) const {
  auto* s = state.Read<FilterState>(kPreFilterStateKey);
  if (s == nullptr) {
    // Skipped at PreFilter: nothing to count for this pod.
    if (state.skip_filter.contains(kInterPodAffinity)) return Status();
    return Status::Error(fmt::format("reading \"{}\" from cycleState: not found", kPreFilterStateKey));
  }
  CountExistingAntiAffinity(*s, other, pod.pod(), s->namespace_labels, node.labels(), delta);
  CountIncomingTerms(*s, pod, other.pod(), node.labels(), delta);
  return Status();
}

Status InterPodAffinity::Filter(CycleState& state, const PodInfo& pod,
                                const NodeInfo& node) const {
  const auto* s = state.Read<FilterState>(kPreFilterStateKey);
  if (s == nullptr) {
    return Status::Error(fmt::format("reading \"{}\" from cycleState: not found", kPreFilterStateKey));
  }
  const Labels& labels = node.labels();

  // The pod's affinity: every term's topology must exist on the node and hold a match.
  bool pods_exist = true;
  for (const AffinityTerm& term : pod.required_affinity()) {
    auto value = labels.find(term.topology_key);
    if (value == labels.end()) return Status::Unresolvable(std::string(kReasonAffinityRulesNotMatch));
    if (s->affinity.Get(term.topology_key, value->second) <= 0) pods_exist = false;
  }
  // The first of a group of pods with affinity to each other may go anywhere its terms'
  // topologies exist, as long as no pod matches anywhere and it matches itself.
  if (!pods_exist && !(s->affinity.empty() && s->matches_own_affinity)) {
    return Status::Unresolvable(std::string(kReasonAffinityRulesNotMatch));
  }

  if (!s->anti_affinity.empty()) {
    for (const AffinityTerm& term : pod.required_anti_affinity()) {
      auto value = labels.find(term.topology_key);
      if (value != labels.end() && s->anti_affinity.Get(term.topology_key, value->second) > 0) {
        return Status::Unschedulable(std::string(kReasonAntiAffinityRulesNotMatch));
      }
    }
  }

  if (!s->existing_anti_affinity.empty()) {
    for (const auto& [key, value] : labels) {
      if (s->existing_anti_affinity.Get(key, value) > 0) {
        return Status::Unschedulable(std::string(kReasonExistingAntiAffinityRulesNotMatch));
      }
    }
  }
  return Status();
}

// Adds weight * multiplier to the pair (term's topology key, the node's value of it) when
// the term matched and the node has that label.
void AddTermScore(ScoreMap& scores, const AffinityTerm& term, int32_t weight, int32_t multiplier,
                  bool matches, const Labels& node_labels) {
  if (!matches) return;
  auto value = node_labels.find(term.topology_key);
  if (value == node_labels.end()) return;
  scores[term.topology_key][value->second] += static_cast<int64_t>(weight * multiplier);
}

void InterPodAffinity::ScoreExistingPod(ScoreMap& scores, const PodInfo& pod,
                                        const Labels& namespace_labels, const PodInfo& existing,
                                        const Labels& node_labels) const {
  if (node_labels.empty()) return;
  const api::v1::Pod& incoming = pod.pod();
  // The incoming pod's preferences about `existing`.
  for (const WeightedAffinityTerm& t : pod.preferred_affinity()) {
    AddTermScore(scores, t.term, t.weight, 1, IncomingTermMatches(t.term, existing.pod()),
                 node_labels);
  }
  for (const WeightedAffinityTerm& t : pod.preferred_anti_affinity()) {
    AddTermScore(scores, t.term, t.weight, -1, IncomingTermMatches(t.term, existing.pod()),
                 node_labels);
  }
  // `existing`'s rules about the incoming pod.
  if (hard_pod_affinity_weight_ > 0) {
    for (const AffinityTerm& t : existing.required_affinity()) {
      AddTermScore(scores, t, hard_pod_affinity_weight_, 1, t.Matches(incoming, &namespace_labels),
                   node_labels);
    }
  }
  for (const WeightedAffinityTerm& t : existing.preferred_affinity()) {
    AddTermScore(scores, t.term, t.weight, 1, t.term.Matches(incoming, &namespace_labels),
                 node_labels);
  }
  for (const WeightedAffinityTerm& t : existing.preferred_anti_affinity()) {
    AddTermScore(scores, t.term, t.weight, -1, t.term.Matches(incoming, &namespace_labels),
                 node_labels);
  }
}

Status InterPodAffinity::PreScore(CycleState& state, const PodInfo& pod,
                                  const std::vector<const NodeInfo*>& feasible) {
  const bool has_preferences = !pod.preferred_affinity().empty() || !pod.preferred_anti_affinity().empty();
  if (ignore_preferred_terms_of_existing_pods_ && !has_preferences) return Status::Skip();

  const Snapshot& snapshot = handle_.snapshot();
  const Labels* ns_labels = snapshot.NamespaceLabels(pod.namespace_());
  const Labels& namespace_labels = ns_labels != nullptr ? *ns_labels : EmptyLabels();
  // Unless the pod has preferences of its own, only pods with affinity terms can score.
  const std::vector<const NodeInfo*>& nodes =
      has_preferences ? snapshot.nodes() : snapshot.nodes_with_affinity_pods();
  ScoreMap scores;
  for (const NodeInfo* node : nodes) {
    const std::vector<PodInfoPtr>& pods = has_preferences ? node->pods() : node->pods_with_affinity();
    for (const PodInfoPtr& existing : pods) {
      ScoreExistingPod(scores, pod, namespace_labels, *existing, node->labels());
    }
  }
  if (scores.empty()) return Status::Skip();
  auto s = std::make_unique<ScoreState>();
  s->topology_score = std::make_shared<const ScoreMap>(std::move(scores));
  state.Write(kPreScoreStateKey, std::move(s));
  return Status();
}

Status InterPodAffinity::Score(CycleState& state, const PodInfo& pod, const NodeInfo& node,
                               int64_t* score) const {
  const auto* s = state.Read<ScoreState>(kPreScoreStateKey);
  if (s == nullptr) {
    return Status::Error(fmt::format("reading \"{}\" from cycleState: not found", kPreScoreStateKey));
  }
  const Labels& labels = node.labels();
  int64_t total = 0;
  for (const auto& [key, values] : *s->topology_score) {
    auto value = labels.find(key);
    if (value == labels.end()) continue;
    if (auto it = values.find(value->second); it != values.end()) total += it->second;
  }
  *score = total;
  return Status();
}

Status InterPodAffinity::NormalizeScore(CycleState& state, const PodInfo& pod,
                                        std::vector<NodeScore>& scores) const {
  const auto* s = state.Read<ScoreState>(kPreScoreStateKey);
  if (s == nullptr) {
    return Status::Error(fmt::format("reading \"{}\" from cycleState: not found", kPreScoreStateKey));
  }
  if (s->topology_score->empty()) return Status();
  int64_t min_count = INT64_MAX;
  int64_t max_count = INT64_MIN;
  for (const NodeScore& ns : scores) {
    min_count = std::min(min_count, ns.score);
    max_count = std::max(max_count, ns.score);
  }
  const int64_t diff = max_count - min_count;
  for (NodeScore& ns : scores) {
    double normalized = 0;
    if (diff > 0) {
      normalized = static_cast<double>(kMaxNodeScore) *
                   (static_cast<double>(ns.score - min_count) / static_cast<double>(diff));
    }
    ns.score = static_cast<int64_t>(normalized);
  }
  return Status();
}

}  // namespace

FactoryResult NewInterPodAffinity(const PluginArgs& args, Handle& handle) {
  orch::scheduler::v1::InterPodAffinityArgs decoded;
  ORCH_RETURN_IF_ERROR(args.DecodeInto(decoded));
  const int32_t weight = decoded.has_hard_pod_affinity_weight() ? decoded.hard_pod_affinity_weight() : 1;
  if (weight < 0 || weight > 100) {
    return args.Invalid("hardPodAffinityWeight",
                        fmt::format("Invalid value: {}: not in valid range [0, 100]", weight));
  }
  return std::make_unique<InterPodAffinity>(handle, weight,
                                            decoded.ignore_preferred_terms_of_existing_pods());
}

}  // namespace orch::scheduler::plugins
