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
#include "absl/container/inlined_vector.h"
#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"
#include "fmt/format.h"
#include "orch/api/v1/core.pb.h"
#include "orch/base/status.h"
#include "orch/scheduler/config.pb.h"
#include "orch/scheduler/framework.h"
#include "orch/scheduler/registry.h"
#include "scheduler/plugins/factories.h"
#include "scheduler/plugins/node_memo.h"

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

// A topology pair as views: the key of a pod's term, the value of a node's label. Both
// outlive the cycle's state (the pods and nodes are the snapshot's, which does not change
// during a cycle), so pairs are counted without copying strings.
struct TopologyPair {
  std::string_view key;
  std::string_view value;

  bool operator==(const TopologyPair& other) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const TopologyPair& p) {
    return H::combine(std::move(h), absl::string_view(p.key.data(), p.key.size()),
                      absl::string_view(p.value.data(), p.value.size()));
  }
};

// Topology pair -> number of matching pods (or terms). Entries that drop to zero are
// removed: an empty map means "nothing matched anywhere".
class TopologyCounts {
 public:
  // Adds `delta` for the pair (key, node's value of key), if the node has that label.
  void Update(const NodeInfo& node, const std::string& key, int64_t delta) {
    const std::string* value = node.Label(key);
    if (value == nullptr) return;
    auto [it, inserted] = counts_.try_emplace(TopologyPair{key, *value}, 0);
    if (inserted) ++KeyEntry(key);
    it->second += delta;
    if (it->second == 0) {
      counts_.erase(it);
      if (--KeyEntry(key) == 0) {
        std::erase_if(keys_, [&key](const auto& e) { return *e.first == key; });
      }
    }
  }

  int64_t Get(std::string_view key, std::string_view value) const {
    auto it = counts_.find(TopologyPair{key, value});
    return it == counts_.end() ? 0 : it->second;
  }
  bool empty() const { return counts_.empty(); }
  // Whether any pair of the node's labels has a count: only the keys counted are looked up.
  bool AnyOn(const NodeInfo& node) const {
    for (const auto& [key, pairs] : keys_) {
      const std::string* value = node.Label(*key);
      if (value != nullptr && Get(*key, *value) > 0) return true;
    }
    return false;
  }

 private:
  // How many pairs are counted with `key` (an entry is made at 0 when missing). A scan:
  // terms use one or two topology keys, and the same string most of the time.
  int64_t& KeyEntry(const std::string& key) {
    for (auto& [k, n] : keys_) {
      if (k == &key || *k == key) return n;
    }
    return keys_.emplace_back(&key, 0).second;
  }

  absl::flat_hash_map<TopologyPair, int64_t> counts_;
  // Topology key (a term's, which outlives the state) -> pairs counted with it.
  std::vector<std::pair<const std::string*, int64_t>> keys_;
};

// ------------------------------------------------------------------ remembered per node

// What one node's pods contribute, by topology key (pointing into the node's pods' terms,
// which live as long as the node state the entry was computed at).
using KeyCounts = absl::InlinedVector<std::pair<const std::string*, int64_t>, 2>;
// Counts per term of the incoming pod, by the term's position.
using TermCounts = absl::InlinedVector<int64_t, 2>;

void AddKeyCount(KeyCounts& counts, const std::string& key, int64_t delta) {
  for (auto& [k, v] : counts) {
    if (*k == key) {
      v += delta;
      return;
    }
  }
  counts.emplace_back(&key, delta);
}

// Labels as an unambiguous string (length-prefixed, in key order).
void AppendLabels(std::string& out, const Labels& labels) {
  std::vector<std::pair<std::string_view, std::string_view>> sorted(labels.begin(), labels.end());
  std::sort(sorted.begin(), sorted.end());
  out += std::to_string(sorted.size());
  for (const auto& [key, value] : sorted) {
    out += fmt::format(";{}:{}{}:{}", key.size(), key, value.size(), value);
  }
  out += '|';
}

// What existing pods' terms say about an incoming pod depends on its namespace, its labels
// and its namespace's labels.
std::string IncomingPodQuery(const PodInfo& pod, const Labels& namespace_labels) {
  std::string query = fmt::format("{}:{}", pod.namespace_().size(), pod.namespace_());
  AppendLabels(query, pod.pod().metadata().labels());
  AppendLabels(query, namespace_labels);
  return query;
}

// What the incoming pod's terms say about existing pods depends on the pod (its signature),
// and, for terms with a namespaceSelector, on other namespaces' labels: those pods' answers
// are not remembered.
bool TermsUseNamespaceSelector(const PodInfo& pod) {
  auto uses = [](const AffinityTerm& t) { return t.namespace_selector.has_value(); };
  auto weighted_uses = [](const WeightedAffinityTerm& t) { return t.term.namespace_selector.has_value(); };
  return std::any_of(pod.required_affinity().begin(), pod.required_affinity().end(), uses) ||
         std::any_of(pod.required_anti_affinity().begin(), pod.required_anti_affinity().end(), uses) ||
         std::any_of(pod.preferred_affinity().begin(), pod.preferred_affinity().end(), weighted_uses) ||
         std::any_of(pod.preferred_anti_affinity().begin(), pod.preferred_anti_affinity().end(),
                     weighted_uses);
}

// Whether every node can be judged by its own pods for `pod`: the pod has no affinity
// terms, its anti-affinity terms and every bound pod's are per hostname without
// namespaceSelector, and hostnames are node names. A node then rejects the pod exactly
// when one of its own pods matches the pod's anti-affinity or has an anti-affinity term
// matching the pod: what counting over the cluster would find, since each hostname domain
// is one node.
bool PerNode(const Snapshot& snapshot, const PodInfo& pod) {
  if (!pod.required_affinity().empty()) return false;
  for (const AffinityTerm& t : pod.required_anti_affinity()) {
    if (t.topology_key != kLabelHostname || t.namespace_selector.has_value()) return false;
  }
  return snapshot.HostnameLabelsAreNodeNames() && snapshot.AntiAffinityIsPerHostname();
}

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
  // Each node is judged by its own pods (PerNode): the counts above are not kept.
  bool per_node = false;
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

// Keeps nothing between calls but its args and what it counted per node state (NodeMemo,
// locked), so it needs no lock of its own. Per-pod work happens in PreFilter and PreScore,
// recounting only the nodes that changed since an equal pod was counted; Filter and Score
// look topology pairs up without allocating.
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
  // Node-local for a pod whose nodes are judged by their own pods, unless it is scored.
  bool NodeLocalThisCycle(const CycleState& state) const override {
    const auto* s = state.Read<FilterState>(kPreFilterStateKey);
    return s != nullptr && s->per_node && state.Read<ScoreState>(kPreScoreStateKey) == nullptr;
  }

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
                          const NodeInfo& node, int64_t delta) const {
    if (MatchesAllIncomingTerms(pod.required_affinity(), other)) {
      for (const AffinityTerm& t : pod.required_affinity()) {
        s.affinity.Update(node, t.topology_key, delta);
      }
    }
    for (const AffinityTerm& t : pod.required_anti_affinity()) {
      if (IncomingTermMatches(t, other)) s.anti_affinity.Update(node, t.topology_key, delta);
    }
  }
  // Counts `other`'s required anti-affinity terms that select the incoming pod.
  // `namespace_labels` are those of the incoming pod's namespace.
  static void CountExistingAntiAffinity(FilterState& s, const PodInfo& other,
                                        const api::v1::Pod& pod, const Labels& namespace_labels,
                                        const NodeInfo& node, int64_t delta) {
    for (const AffinityTerm& t : other.required_anti_affinity()) {
      if (t.Matches(pod, &namespace_labels)) {
        s.existing_anti_affinity.Update(node, t.topology_key, delta);
      }
    }
  }

  Status UpdateWithPod(CycleState& state, const PodInfo& pod, const PodInfo& other,
                       const NodeInfo& node, int64_t delta) const;

  // The pods on `node` that match the incoming pod's required terms: [0] those matching
  // every affinity term, [1 + j] those matching anti-affinity term j.
  TermCounts IncomingTermCounts(const PodInfo& pod, const NodeInfo& node) const {
    const std::vector<AffinityTerm>& anti = pod.required_anti_affinity();
    TermCounts c(1 + anti.size(), 0);
    for (const PodInfoPtr& existing : node.pods()) {
      if (MatchesAllIncomingTerms(pod.required_affinity(), existing->pod())) ++c[0];
      for (size_t j = 0; j < anti.size(); ++j) {
        if (IncomingTermMatches(anti[j], existing->pod())) ++c[1 + j];
      }
    }
    return c;
  }
  // The required anti-affinity terms of `node`'s pods that select the incoming `pod`, by
  // topology key. `namespace_labels` are those of `pod`'s namespace.
  static KeyCounts ExistingAntiAffinityOn(const NodeInfo& node, const api::v1::Pod& pod,
                                          const Labels& namespace_labels) {
    KeyCounts c;
    for (const PodInfoPtr& existing : node.pods_with_required_anti_affinity()) {
      for (const AffinityTerm& t : existing->required_anti_affinity()) {
        if (t.Matches(pod, &namespace_labels)) AddKeyCount(c, t.topology_key, 1);
      }
    }
    return c;
  }

  // Filter when each node is judged by its own pods (PerNode), in Filter's order: the
  // pod's anti-affinity, then the existing pods'. (Every term involved is per hostname
  // without namespaceSelector, so namespace labels play no part.)
  Status FilterByOwnPods(const PodInfo& pod, const NodeInfo& node) const {
    if (node.Label(kLabelHostname) == nullptr) return Status();  // in no hostname domain
    const TermCounts incoming = IncomingTermCounts(pod, node);
    if (std::any_of(incoming.begin() + 1, incoming.end(), [](int64_t n) { return n > 0; })) {
      return Status::Unschedulable(std::string(kReasonAntiAffinityRulesNotMatch));
    }
    if (!ExistingAntiAffinityOn(node, pod.pod(), EmptyLabels()).empty()) {
      return Status::Unschedulable(std::string(kReasonExistingAntiAffinityRulesNotMatch));
    }
    return Status();
  }

  // Adds `existing`'s terms that select the incoming pod, weighted, by topology key.
  void ScoreExistingTerms(KeyCounts& weights, const api::v1::Pod& incoming,
                          const Labels& namespace_labels, const PodInfo& existing) const;

  Handle& handle_;
  const int32_t hard_pod_affinity_weight_;
  const bool ignore_preferred_terms_of_existing_pods_;
  // Per node state, what PreFilter and PreScore count (see node_memo.h).
  NodeMemo<KeyCounts> existing_anti_affinity_;
  NodeMemo<TermCounts> incoming_terms_;
  NodeMemo<KeyCounts> existing_scores_;
  NodeMemo<TermCounts> incoming_scores_;
};

Status InterPodAffinity::PreFilter(CycleState& state, const PodInfo& pod_info,
                                   PreFilterResult* result) {
  const Snapshot& snapshot = handle_.snapshot();
  const api::v1::Pod& pod = pod_info.pod();
  const Labels* ns_labels = snapshot.NamespaceLabels(pod_info.namespace_());
  const Labels& namespace_labels = ns_labels != nullptr ? *ns_labels : EmptyLabels();

  auto s = std::make_unique<FilterState>();
  if (PerNode(snapshot, pod_info)) {
    if (pod_info.required_anti_affinity().empty() &&
        snapshot.nodes_with_required_anti_affinity_pods().empty()) {
      return Status::Skip();
    }
    s->per_node = true;
    state.Write(kPreFilterStateKey, std::move(s));
    return Status();
  }
  const size_t all_nodes = snapshot.nodes().size();
  {
    auto memo = existing_anti_affinity_.Begin(IncomingPodQuery(pod_info, namespace_labels), all_nodes);
    for (const NodeInfo* node : snapshot.nodes_with_required_anti_affinity_pods()) {
      const KeyCounts counts = memo.Get(*node, [&](const NodeInfo& n) {
        return ExistingAntiAffinityOn(n, pod, namespace_labels);
      });
      for (const auto& [key, count] : counts) {
        s->existing_anti_affinity.Update(*node, *key, count);
      }
    }
  }
  const bool has_required_terms =
      !pod_info.required_affinity().empty() || !pod_info.required_anti_affinity().empty();
  if (s->existing_anti_affinity.empty() && !has_required_terms) return Status::Skip();
  s->namespace_labels = namespace_labels;  // kept for AddPod/RemovePod

  if (has_required_terms) {
    const std::vector<AffinityTerm>& affinity = pod_info.required_affinity();
    const std::vector<AffinityTerm>& anti = pod_info.required_anti_affinity();
    auto memo = TermsUseNamespaceSelector(pod_info)
                    ? incoming_terms_.Uncached()
                    : incoming_terms_.Begin(pod_info.scheduling_signature(), all_nodes);
    for (const NodeInfo* node : snapshot.nodes()) {
      const TermCounts counts =
          memo.Get(*node, [&](const NodeInfo& n) { return IncomingTermCounts(pod_info, n); });
      if (counts[0] > 0) {
        for (const AffinityTerm& t : affinity) s->affinity.Update(*node, t.topology_key, counts[0]);
      }
      for (size_t j = 0; j < anti.size(); ++j) {
        if (counts[1 + j] > 0) s->anti_affinity.Update(*node, anti[j].topology_key, counts[1 + j]);
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
    return MissingState(kPreFilterStateKey);
  }
  if (s->per_node) return Status();  // Filter reads the node's pods, added ones included
  CountExistingAntiAffinity(*s, other, pod.pod(), s->namespace_labels, node, delta);
  CountIncomingTerms(*s, pod, other.pod(), node, delta);
  return Status();
}

Status InterPodAffinity::Filter(CycleState& state, const PodInfo& pod,
                                const NodeInfo& node) const {
  const auto* s = state.Read<FilterState>(kPreFilterStateKey);
  if (s == nullptr) {
    return MissingState(kPreFilterStateKey);
  }
  if (s->per_node) return FilterByOwnPods(pod, node);
  // The pod's affinity: every term's topology must exist on the node and hold a match.
  bool pods_exist = true;
  for (const AffinityTerm& term : pod.required_affinity()) {
    const std::string* value = node.Label(term.topology_key);
    if (value == nullptr) return Status::Unresolvable(std::string(kReasonAffinityRulesNotMatch));
    if (s->affinity.Get(term.topology_key, *value) <= 0) pods_exist = false;
  }
  // The first of a group of pods with affinity to each other may go anywhere its terms'
  // topologies exist, as long as no pod matches anywhere and it matches itself.
  if (!pods_exist && !(s->affinity.empty() && s->matches_own_affinity)) {
    return Status::Unresolvable(std::string(kReasonAffinityRulesNotMatch));
  }

  if (!s->anti_affinity.empty()) {
    for (const AffinityTerm& term : pod.required_anti_affinity()) {
      const std::string* value = node.Label(term.topology_key);
      if (value != nullptr && s->anti_affinity.Get(term.topology_key, *value) > 0) {
        return Status::Unschedulable(std::string(kReasonAntiAffinityRulesNotMatch));
      }
    }
  }

  if (s->existing_anti_affinity.AnyOn(node)) {
    return Status::Unschedulable(std::string(kReasonExistingAntiAffinityRulesNotMatch));
  }
  return Status();
}

void InterPodAffinity::ScoreExistingTerms(KeyCounts& weights, const api::v1::Pod& incoming,
                                          const Labels& namespace_labels,
                                          const PodInfo& existing) const {
  auto add = [&](const AffinityTerm& t, int64_t weight) {
    if (t.Matches(incoming, &namespace_labels)) AddKeyCount(weights, t.topology_key, weight);
  };
  if (hard_pod_affinity_weight_ > 0) {
    for (const AffinityTerm& t : existing.required_affinity()) add(t, hard_pod_affinity_weight_);
  }
  for (const WeightedAffinityTerm& t : existing.preferred_affinity()) add(t.term, t.weight);
  for (const WeightedAffinityTerm& t : existing.preferred_anti_affinity()) add(t.term, -t.weight);
}

Status InterPodAffinity::PreScore(CycleState& state, const PodInfo& pod,
                                  const std::vector<const NodeInfo*>& feasible) {
  const bool has_preferences = !pod.preferred_affinity().empty() || !pod.preferred_anti_affinity().empty();
  if (ignore_preferred_terms_of_existing_pods_ && !has_preferences) return Status::Skip();

  const Snapshot& snapshot = handle_.snapshot();
  const Labels* ns_labels = snapshot.NamespaceLabels(pod.namespace_());
  const Labels& namespace_labels = ns_labels != nullptr ? *ns_labels : EmptyLabels();
  const size_t all_nodes = snapshot.nodes().size();
  ScoreMap scores;
  // Existing pods' terms about the incoming pod: only pods with affinity terms have any.
  {
    auto memo = existing_scores_.Begin(IncomingPodQuery(pod, namespace_labels), all_nodes);
    for (const NodeInfo* node : snapshot.nodes_with_affinity_pods()) {
      const Labels& labels = node->labels();
      if (labels.empty()) continue;
      const KeyCounts weights = memo.Get(*node, [&](const NodeInfo& n) {
        KeyCounts c;
        for (const PodInfoPtr& existing : n.pods_with_affinity()) {
          ScoreExistingTerms(c, pod.pod(), namespace_labels, *existing);
        }
        return c;
      });
      for (const auto& [key, weight] : weights) {
        if (auto value = labels.find(*key); value != labels.end()) scores[*key][value->second] += weight;
      }
    }
  }
  // The incoming pod's preferences about existing pods, term by term.
  if (has_preferences) {
    const std::vector<WeightedAffinityTerm>& preferred = pod.preferred_affinity();
    const std::vector<WeightedAffinityTerm>& avoided = pod.preferred_anti_affinity();
    auto memo = TermsUseNamespaceSelector(pod) ? incoming_scores_.Uncached()
                                               : incoming_scores_.Begin(pod.scheduling_signature(), all_nodes);
    for (const NodeInfo* node : snapshot.nodes()) {
      const Labels& labels = node->labels();
      if (labels.empty()) continue;
      // Per term (preferred, then avoided): the summed weight of the pods it matches.
      const TermCounts weights = memo.Get(*node, [&](const NodeInfo& n) {
        TermCounts c(preferred.size() + avoided.size(), 0);
        for (const PodInfoPtr& existing : n.pods()) {
          for (size_t j = 0; j < preferred.size(); ++j) {
            if (IncomingTermMatches(preferred[j].term, existing->pod())) c[j] += preferred[j].weight;
          }
          for (size_t j = 0; j < avoided.size(); ++j) {
            if (IncomingTermMatches(avoided[j].term, existing->pod())) {
              c[preferred.size() + j] -= avoided[j].weight;
            }
          }
        }
        return c;
      });
      for (size_t j = 0; j < weights.size(); ++j) {
        if (weights[j] == 0) continue;  // no pod matched the term (weights are positive)
        const AffinityTerm& term =
            j < preferred.size() ? preferred[j].term : avoided[j - preferred.size()].term;
        if (auto value = labels.find(term.topology_key); value != labels.end()) {
          scores[term.topology_key][value->second] += weights[j];
        }
      }
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
    return MissingState(kPreScoreStateKey);
  }
  int64_t total = 0;
  for (const auto& [key, values] : *s->topology_score) {
    const std::string* value = node.Label(key);
    if (value == nullptr) continue;
    if (auto it = values.find(*value); it != values.end()) total += it->second;
  }
  *score = total;
  return Status();
}

Status InterPodAffinity::NormalizeScore(CycleState& state, const PodInfo& pod,
                                        std::vector<NodeScore>& scores) const {
  const auto* s = state.Read<ScoreState>(kPreScoreStateKey);
  if (s == nullptr) {
    return MissingState(kPreScoreStateKey);
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
