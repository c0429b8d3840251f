// PodTopologySpread: kube-scheduler's plugin that keeps pods matching a label selector
// evenly spread over topology domains (zones, nodes, ...).
//
//   PreFilter  for each DoNotSchedule constraint, counts the matching pods per domain over
//              the nodes the constraint applies to (node inclusion policies), and keeps the
//              smallest count (the "critical path").
//   Filter     rejects a node when placing the pod there would make its domain exceed the
//              global minimum by more than maxSkew.
//   PreScore/Score  for ScheduleAnyway constraints, prefer nodes whose domains hold fewer
//              matching pods, with Kubernetes' weighting and normalization (kMinMaxReverse).
// A pod without constraints of its own gets the default constraints (System or List
// defaulting) with a selector built from the Services and ReplicaSets that select it.
#include <algorithm>
#include <array>
#include <climits>
#include <cmath>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "fmt/format.h"
#include "orch/api/labels.h"
#include "orch/api/selector.h"
#include "orch/api/v1/apps.pb.h"
#include "orch/api/v1/core.pb.h"
#include "orch/base/mutex.h"
#include "orch/base/status.h"
#include "orch/base/string_map.h"
#include "orch/client/informer.h"
#include "orch/scheduler/config.pb.h"
#include "orch/scheduler/framework.h"
#include "orch/scheduler/registry.h"
#include "scheduler/plugins/factories.h"
#include "scheduler/plugins/node_memo.h"
#include "scheduler/plugins/node_selector.h"
#include "scheduler/plugins/taints.h"

namespace orch::scheduler::plugins {
namespace {

namespace v1 = ::orch::api::v1;
using Labels = google::protobuf::Map<std::string, std::string>;

constexpr std::string_view kReasonConstraintsNotMatch =
    "node(s) didn't match pod topology spread constraints";
constexpr std::string_view kReasonNodeLabelNotMatch =
    "node(s) didn't match pod topology spread constraints (missing required label)";

constexpr std::string_view kPreFilterStateKey = "PreFilterPodTopologySpread";
constexpr std::string_view kPreScoreStateKey = "PreScorePodTopologySpread";

constexpr std::string_view kDoNotSchedule = "DoNotSchedule";
constexpr std::string_view kScheduleAnyway = "ScheduleAnyway";
constexpr std::string_view kHonor = "Honor";
constexpr std::string_view kSystemDefaulting = "System";
constexpr std::string_view kListDefaulting = "List";

// ------------------------------------------------------------------ constraints

// A label selector that can also match nothing, as an unset labelSelector does.
struct SpreadSelector {
  bool nothing = true;
  api::LabelSelector selector;
  // The selector message it was parsed from, serialized deterministically: equal keys,
  // equal selectors (what the match counts are remembered by).
  std::string key;
  // PodInfo::RequiredBits of the selector: what a matching pod's label filter must hold.
  uint64_t bits = 0;

  bool Matches(const Labels& labels) const { return !nothing && selector.Matches(labels); }
};

// A topology spread constraint with its selector parsed, for one pod.
struct Constraint {
  int32_t max_skew = 1;
  std::string topology_key;
  SpreadSelector selector;
  int32_t min_domains = 1;
  bool honor_node_affinity = true;  // nodeAffinityPolicy, default Honor
  bool honor_node_taints = false;   // nodeTaintsPolicy, default Ignore
  bool is_hostname = false;
};

using Constraints = std::vector<Constraint>;

// Adds `key In (value)` requirements to a selector message: how matchLabelKeys and the
// owners' selectors are ANDed with a selector without merging maps (which would let one
// value replace another instead of requiring both).
void AddEqualityRequirement(v1::LabelSelector& selector, const std::string& key,
                            const std::string& value) {
  v1::LabelSelectorRequirement* r = selector.add_match_expressions();
  r->set_key(key);
  r->set_operator_("In");
  r->add_values(value);
}

// Appends `message` to `out`, serialized deterministically (map entries in key order):
// equal messages, equal bytes.
void AppendDeterministic(const google::protobuf::MessageLite& message, std::string* out) {
  google::protobuf::io::StringOutputStream stream(out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  message.SerializeToCodedStream(&coded);
  coded.Trim();  // `out` ends where the message does
}

std::string SelectorKey(const v1::LabelSelector& selector) {
  std::string key;
  AppendDeterministic(selector, &key);
  return key;
}

absl::StatusOr<SpreadSelector> ConstraintSelector(const v1::TopologySpreadConstraint& c,
                                                  const Labels& pod_labels) {
  SpreadSelector out;
  if (!c.has_label_selector()) return out;  // matches nothing, whatever matchLabelKeys say
  v1::LabelSelector merged = c.label_selector();
  for (const std::string& key : c.match_label_keys()) {
    auto it = pod_labels.find(key);
    if (it != pod_labels.end()) AddEqualityRequirement(merged, key, it->second);
  }
  ORCH_ASSIGN_OR_RETURN(out.selector, api::LabelSelector::FromProto(merged));
  out.nothing = false;
  out.key = SelectorKey(merged);
  out.bits = PodInfo::RequiredBits(out.selector);
  return out;
}

// The constraints among `constraints` with the given whenUnsatisfiable action.
absl::StatusOr<Constraints> ParseConstraints(
    const google::protobuf::RepeatedPtrField<v1::TopologySpreadConstraint>& constraints,
    const Labels& pod_labels, std::string_view action) {
  Constraints out;
  for (const v1::TopologySpreadConstraint& c : constraints) {
    if (c.when_unsatisfiable() != action) continue;
    Constraint parsed;
    parsed.max_skew = c.max_skew();
    parsed.topology_key = c.topology_key();
    parsed.is_hostname = c.topology_key() == kLabelHostname;
    ORCH_ASSIGN_OR_RETURN(parsed.selector, ConstraintSelector(c, pod_labels));
    parsed.min_domains = c.has_min_domains() ? c.min_domains() : 1;
    if (c.has_node_affinity_policy()) parsed.honor_node_affinity = c.node_affinity_policy() == kHonor;
    if (c.has_node_taints_policy()) parsed.honor_node_taints = c.node_taints_policy() == kHonor;
    out.push_back(std::move(parsed));
  }
  return out;
}

bool NodeHasAllTopologyKeys(const NodeInfo& node, const Constraints& constraints) {
  for (const Constraint& c : constraints) {
    if (node.Label(c.topology_key) == nullptr) return false;
  }
  return true;
}

// Matching pods on a node for a constraint: same namespace as the incoming pod, not
// terminating, labels selected. The pods' label filters rule out most without reading them.
int64_t CountMatchingPods(const NodeInfo& node, const SpreadSelector& selector,
                          const std::string& ns) {
  if (selector.nothing) return 0;
  const uint64_t need = selector.bits | PodInfo::NamespaceBits(ns);
  const std::vector<uint64_t>& filters = node.pod_label_filters();
  int64_t count = 0;
  for (size_t i = 0; i < filters.size(); ++i) {
    if ((filters[i] & need) != need) continue;
    const v1::Pod& pod = node.pods()[i]->pod();
    if (pod.metadata().has_deletion_timestamp() || pod.metadata().namespace_() != ns) continue;
    if (selector.selector.Matches(pod.metadata().labels())) ++count;
  }
  return count;
}

// Matching pods on a node for each constraint, remembered per node state (NodeMemo) under
// a query naming the namespace and the constraints' selectors.
using MatchCounts = absl::InlinedVector<int64_t, 2>;

std::string CountsQuery(const std::string& ns, const Constraints& constraints) {
  std::string query = ns;
  for (const Constraint& c : constraints) {
    query += '\0';
    query += c.selector.nothing ? "-" : "+";
    query += c.selector.key;
  }
  return query;
}

// What a tally depends on: the namespace, each constraint's selector, topology key and
// inclusion policies, and what those policies read of the pod (its required node
// affinity, its tolerations).
std::string TallyQuery(const v1::Pod& pod, const Constraints& constraints) {
  std::string query = CountsQuery(pod.metadata().namespace_(), constraints);
  bool honor_affinity = false;
  bool honor_taints = false;
  for (const Constraint& c : constraints) {
    query += '\0';
    query += c.topology_key;
    query += c.honor_node_affinity ? "A" : "-";
    query += c.honor_node_taints ? "T" : "-";
    honor_affinity |= c.honor_node_affinity;
    honor_taints |= c.honor_node_taints;
  }
  if (!honor_affinity && !honor_taints) return query;
  v1::PodSpec reads;
  if (honor_affinity) {
    *reads.mutable_node_selector() = pod.spec().node_selector();
    const v1::NodeAffinity& affinity = pod.spec().affinity().node_affinity();
    if (affinity.has_required_during_scheduling_ignored_during_execution()) {
      *reads.mutable_affinity()->mutable_node_affinity()->mutable_required_during_scheduling_ignored_during_execution() =
          affinity.required_during_scheduling_ignored_during_execution();
    }
  }
  if (honor_taints) *reads.mutable_tolerations() = pod.spec().tolerations();
  AppendDeterministic(reads, &query);
  return query;
}

MatchCounts CountAll(const NodeInfo& node, const Constraints& constraints, const std::string& ns) {
  MatchCounts counts(constraints.size(), 0);
  for (size_t i = 0; i < constraints.size(); ++i) {
    counts[i] = CountMatchingPods(node, constraints[i].selector, ns);
  }
  return counts;
}

// Whether a node counts for a constraint, per its node inclusion policies. `affinity_ok`
// and `taints_ok` are computed once per node and shared by the pod's constraints.
struct NodeInclusion {
  bool affinity_ok = true;
  bool taints_ok = true;

  NodeInclusion(const v1::Node& node, const v1::Pod& pod, const RequiredNodeAffinity& affinity,
                const Constraints& constraints) {
    bool need_affinity = false;
    bool need_taints = false;
    for (const Constraint& c : constraints) {
      need_affinity |= c.honor_node_affinity;
      need_taints |= c.honor_node_taints;
    }
    if (need_affinity) affinity_ok = affinity.Matches(node);
    if (need_taints) {
      taints_ok = FindUntoleratedScheduleTaint(node.spec().taints(), pod.spec().tolerations()) == nullptr;
    }
  }

  bool Includes(const Constraint& c) const {
    return (!c.honor_node_affinity || affinity_ok) && (!c.honor_node_taints || taints_ok);
  }
};

// ------------------------------------------------------------------ filter state

// The topology domains of one constraint, numbered in the order first met: the ids index
// the per-domain counts. Shared between the kept tally and the cycle states made from it;
// whoever adds a domain to a shared index copies it first.
struct DomainIndex {
  StringMap<int32_t> ids;

  int32_t Find(std::string_view value) const {
    auto it = ids.find(value);
    return it == ids.end() ? -1 : it->second;
  }
  int32_t Add(std::string_view value) {
    return ids.try_emplace(value, static_cast<int32_t>(ids.size())).first->second;
  }
};

// The id of `value` in `index`, added (copying a shared index) when new.
int32_t DomainId(std::shared_ptr<const DomainIndex>& index, std::string_view value) {
  const int32_t id = index->Find(value);
  if (id >= 0) return id;
  auto copy = std::make_shared<DomainIndex>(*index);
  const int32_t added = copy->Add(value);
  index = std::move(copy);
  return added;
}

// The two smallest match counts of a constraint's domains. paths[0] always holds the
// minimum; paths[1] is >= paths[0] but not necessarily the second smallest. Enough for
// preemption, which changes one node (one domain) at a time on its own copy of the state.
struct CriticalPath {
  int32_t domain = -1;
  int64_t match_num = INT32_MAX;
};

class CriticalPaths {
 public:
  void Update(int32_t domain, int64_t num) {
    int i = domain == paths_[0].domain ? 0 : domain == paths_[1].domain ? 1 : -1;
    if (i >= 0) {
      paths_[i].match_num = num;
      if (paths_[0].match_num > paths_[1].match_num) std::swap(paths_[0], paths_[1]);
    } else if (num < paths_[0].match_num) {
      paths_[1] = paths_[0];
      paths_[0] = {domain, num};
    } else if (num < paths_[1].match_num) {
      paths_[1] = {domain, num};
    }
  }
  int64_t min() const { return paths_[0].match_num; }

 private:
  std::array<CriticalPath, 2> paths_;
};

// Matching pods per domain of one constraint, over the nodes it applies to. A domain
// holding no such node is not eligible: it counts neither for the minimum nor for
// minDomains.
constexpr int64_t kNotEligible = INT64_MIN;

struct DomainCounts {
  std::shared_ptr<const DomainIndex> index;
  std::vector<int64_t> match_num;  // by domain id; kNotEligible
  int64_t eligible = 0;            // domains that are
  CriticalPaths paths;

  int64_t MatchNum(const std::string& value) const {
    const int32_t id = index->Find(value);
    if (id < 0) return 0;
    const int64_t num = match_num[static_cast<size_t>(id)];
    return num == kNotEligible ? 0 : num;
  }
  void Add(const std::string& value, int64_t delta) {
    const auto id = static_cast<size_t>(DomainId(index, value));
    if (id >= match_num.size()) match_num.resize(id + 1, kNotEligible);
    int64_t& num = match_num[id];
    if (num == kNotEligible) {
      num = 0;
      ++eligible;
    }
    num += delta;
    paths.Update(static_cast<int32_t>(id), num);
  }
};

class FilterState : public CycleState::Data {
 public:
  std::shared_ptr<const Constraints> constraints;
  // Whether the incoming pod matches each constraint's selector.
  std::vector<bool> self_match;
  std::vector<DomainCounts> domains;  // per constraint

  std::unique_ptr<Data> Clone() const override { return std::make_unique<FilterState>(*this); }

  // The global minimum that skew is measured against: 0 while fewer domains than
  // minDomains are eligible.
  int64_t MinMatchNum(size_t i) const {
    if (domains[i].eligible < (*constraints)[i].min_domains) return 0;
    return domains[i].paths.min();
  }

  // Filter's verdict for constraint i on a node whose topology value is `value`.
  Status Check(size_t i, const std::string* value) const {
    if (value == nullptr) return Status::Unresolvable(std::string(kReasonNodeLabelNotMatch));
    // 'existing matching num' + 'self match (1 or 0)' - 'global minimum' <= 'maxSkew'
    const int64_t skew = domains[i].MatchNum(*value) + (self_match[i] ? 1 : 0) - MinMatchNum(i);
    if (skew > (*constraints)[i].max_skew) {
      return Status::Unschedulable(std::string(kReasonConstraintsNotMatch));
    }
    return Status();
  }
};

// Matching pods per domain for one query (a namespace, the constraints, and what node
// inclusion reads of the pod), kept across cycles: each PreFilter revisits only the nodes
// whose state changed since the last one (by NodeInfo generation), by their position in
// the snapshot, and moves their contribution. Not thread-safe.
class Tally {
 public:
  explicit Tally(size_t constraints)
      : k_(constraints),
        index_(constraints, std::make_shared<const DomainIndex>()),
        total_(constraints),
        nodes_(constraints) {}

  // Brings the tally up to `nodes`. `visit(node, domains, matching)` fills, per
  // constraint, the node's domain value (nullptr: the constraint does not count the node)
  // and its matching pods.
  template <typename Visit>
  void Update(const std::vector<const NodeInfo*>& nodes, Visit&& visit) {
    for (size_t p = 0; p < nodes.size(); ++p) {
      const NodeInfo* node = nodes[p];
      if (p < node_.size()) {
        if (node_[p] == node && generation_[p] == node->generation()) continue;
        Move(p, -1);
      } else {
        node_.push_back(nullptr);
        generation_.push_back(0);
        domain_.resize(domain_.size() + k_, -1);
        matching_.resize(matching_.size() + k_, 0);
      }
      node_[p] = node;
      generation_[p] = node->generation();
      values_.assign(k_, nullptr);
      counts_.assign(k_, 0);
      visit(*node, values_, counts_);
      for (size_t i = 0; i < k_; ++i) {
        domain_[p * k_ + i] = values_[i] == nullptr ? -1 : DomainId(index_[i], *values_[i]);
        matching_[p * k_ + i] = counts_[i];
      }
      Move(p, 1);
    }
    for (size_t p = nodes.size(); p < node_.size(); ++p) Move(p, -1);
    node_.resize(nodes.size());
    generation_.resize(nodes.size());
    domain_.resize(nodes.size() * k_);
    matching_.resize(nodes.size() * k_);
  }

  // Matching pods in constraint i's domain `value`, over the nodes counted (0 if none).
  int64_t Total(size_t i, std::string_view value) const {
    const int32_t id = index_[i]->Find(value);
    if (id < 0 || static_cast<size_t>(id) >= total_[i].size()) return 0;
    return total_[i][static_cast<size_t>(id)];
  }

  // The counts, for a cycle's state.
  std::vector<DomainCounts> Counts() const {
    std::vector<DomainCounts> out(k_);
    for (size_t i = 0; i < k_; ++i) {
      DomainCounts& c = out[i];
      c.index = index_[i];
      c.match_num.assign(total_[i].size(), kNotEligible);
      for (size_t d = 0; d < total_[i].size(); ++d) {
        if (nodes_[i][d] == 0) continue;
        c.match_num[d] = total_[i][d];
        ++c.eligible;
        c.paths.Update(static_cast<int32_t>(d), total_[i][d]);
      }
    }
    return out;
  }

 private:
  // Adds (sign 1) or takes away (-1) what the node at position p contributes.
  void Move(size_t p, int64_t sign) {
    for (size_t i = 0; i < k_; ++i) {
      const int32_t d = domain_[p * k_ + i];
      if (d < 0) continue;
      const auto id = static_cast<size_t>(d);
      if (id >= total_[i].size()) {
        total_[i].resize(id + 1, 0);
        nodes_[i].resize(id + 1, 0);
      }
      total_[i][id] += sign * matching_[p * k_ + i];
      nodes_[i][id] += static_cast<int32_t>(sign);
    }
  }

  const size_t k_;
  // Per snapshot position: the node and generation counted, and per constraint (k_ per
  // node) its domain id (-1: not counted) and matching pods.
  std::vector<const NodeInfo*> node_;
  std::vector<int64_t> generation_;
  std::vector<int32_t> domain_;
  std::vector<int64_t> matching_;
  // Per constraint: the domains, and per domain the matching pods and counted nodes.
  std::vector<std::shared_ptr<const DomainIndex>> index_;
  std::vector<std::vector<int64_t>> total_;
  std::vector<std::vector<int32_t>> nodes_;
  // Update's buffers.
  std::vector<const std::string*> values_;
  std::vector<int64_t> counts_;
};

// Tallies by query, the least recently used dropped past a bound. Thread-safe: callers
// hold mu() while they use a tally.
class Tallies {
 public:
  explicit Tallies(size_t max) : max_(max) {}

  Mutex* mu() { return &mu_; }

  // The kept tally for `query`, made (with `constraints` entries) when new.
  Tally& For(const std::string& query, size_t constraints) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (auto it = tallies_.find(query); it != tallies_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second.lru);
      return *it->second.tally;
    }
    if (tallies_.size() >= max_) {
      tallies_.erase(lru_.back());
      lru_.pop_back();
    }
    lru_.push_front(query);
    Entry& entry = tallies_[query];
    entry.tally = std::make_unique<Tally>(constraints);
    entry.lru = lru_.begin();
    return *entry.tally;
  }

 private:
  struct Entry {
    std::unique_ptr<Tally> tally;
    std::list<std::string>::iterator lru;
  };
  const size_t max_;
  Mutex mu_;
  StringMap<Entry> tallies_ ABSL_GUARDED_BY(mu_);
  std::list<std::string> lru_ ABSL_GUARDED_BY(mu_);
};

// ------------------------------------------------------------------ score domains

// What PreScore reads of the feasible nodes' labels: the nodes lacking a topology key
// that must be there, and per constraint (not for hostname constraints) the domains, each
// with a count of 0 for PreScore to fill.
struct Domains {
  size_t ignored = 0;
  bool has_domains = false;
  std::vector<StringMap<int64_t>> pod_counts;
  // Per constraint: whether a node has the key with the empty value.
  std::vector<uint8_t> empty_value;
};

Domains ScanDomains(const std::vector<const NodeInfo*>& nodes, const Constraints& cs,
                    bool require_all) {
  Domains out;
  out.pod_counts.resize(cs.size());
  out.empty_value.resize(cs.size());
  for (const NodeInfo* node : nodes) {
    if (require_all && !NodeHasAllTopologyKeys(*node, cs)) {
      ++out.ignored;
      continue;
    }
    for (size_t i = 0; i < cs.size(); ++i) {
      if (cs[i].is_hostname) continue;
      const std::string* value = node->Label(cs[i].topology_key);
      const std::string_view domain = value == nullptr ? std::string_view() : *value;
      if (!out.pod_counts[i].contains(domain)) out.pod_counts[i].emplace(domain, 0);
      if (value != nullptr && value->empty()) out.empty_value[i] = 1;
      out.has_domains = true;
    }
  }
  return out;
}

// The domains of all nodes, per set of topology keys, kept under the snapshot's
// node_labels_generation: a scan of every node's labels once per label change rather than
// once per pod. Thread-safe.
class DomainMemo {
 public:
  std::shared_ptr<const Domains> Get(const Constraints& cs, bool require_all, int64_t labels,
                                     const std::vector<const NodeInfo*>& nodes) {
    std::string key(require_all ? "A" : "-");
    for (const Constraint& c : cs) {
      key += '\0';
      key += c.topology_key;
    }
    MutexLock lock(&mu_);
    auto [it, inserted] = kept_.try_emplace(key);
    if (inserted || it->second.first != labels) {
      if (kept_.size() > kMaxKept) {  // rare: pods spreading over many sets of keys
        kept_.clear();
        it = kept_.try_emplace(key).first;
      }
      it->second = {labels, std::make_shared<const Domains>(ScanDomains(nodes, cs, require_all))};
    }
    return it->second.second;
  }

 private:
  static constexpr size_t kMaxKept = 16;
  Mutex mu_;
  StringMap<std::pair<int64_t, std::shared_ptr<const Domains>>> kept_ ABSL_GUARDED_BY(mu_);
};

// ------------------------------------------------------------------ score state

class ScoreState : public CycleState::Data {
 public:
  struct Computed {
    Constraints constraints;
    // Only when true do nodes lacking a topology key get score 0 (Kubernetes' IgnoredNodes).
    bool require_all_topologies = true;
    // Per constraint: domain -> matching pods (not for hostname constraints: Score reads a
    // node's own count from the remembered counts, for the nodes it scores).
    std::vector<StringMap<int64_t>> pod_counts;
    // Per constraint: whether a feasible node has the key with the empty value, so that
    // Score reads the count of the domain "" (which nodes without the key also count in).
    std::vector<uint8_t> empty_value;
    std::vector<double> normalizing_weight;
    // The pod's namespace, and the remembered counts' query.
    std::string ns;
    std::string counts_query;
    bool has_hostname = false;
  };
  std::shared_ptr<const Computed> data;

  std::unique_ptr<Data> Clone() const override {
    return std::make_unique<ScoreState>(*this);
  }

  bool Ignored(const NodeInfo& node) const {
    return data->require_all_topologies &&
           !NodeHasAllTopologyKeys(node, data->constraints);
  }
};

// Kubernetes' weight for a topology with `size` domains: smaller topologies count more.
double TopologyNormalizingWeight(size_t size) { return std::log(static_cast<double>(size + 2)); }

double ScoreForCount(int64_t count, int32_t max_skew, double weight) {
  return static_cast<double>(count) * weight + static_cast<double>(max_skew - 1);
}

// ------------------------------------------------------------------ the plugin

// Keeps nothing between calls but the Service and ReplicaSet listers (thread-safe) and the
// remembered match counts (NodeMemo, locked), so concurrent profiles and binding cycles
// need no lock of their own. Per-pod work happens in PreFilter and PreScore, and touches
// only the nodes that changed since the same selectors were last counted; Filter allocates
// nothing when the node fits.
class PodTopologySpread final : public PreFilterPlugin,
                                public FilterPlugin,
                                public PreScorePlugin,
                                public ScorePlugin,
                                public EnqueueExtensions {
 public:
  PodTopologySpread(Handle& handle, std::vector<v1::TopologySpreadConstraint> defaults,
                    bool system_defaulted)
      : handle_(handle), system_defaulted_(system_defaulted) {
    for (v1::TopologySpreadConstraint& c : defaults) *default_constraints_.Add() = std::move(c);
    if (!default_constraints_.empty() && handle.informers() != nullptr) SetListers(*handle.informers());
  }

  std::string_view Name() const override { return kPodTopologySpread; }
  bool NodeLocal() const override { return false; }

  std::vector<ClusterEvent> EventsToRegister() const override {
    return {
        {EventResource::kPod, kAdd | kUpdatePodLabel | kDelete},
        {EventResource::kNode, kAdd | kDelete | kUpdateNodeLabel | kUpdateNodeTaint},
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
  Status FilterNodes(CycleState& state, const PodInfo& pod, std::vector<const NodeInfo*>& nodes,
                     NodeFailures& failed) const override;
  // Domain-local when the pod's DoNotSchedule constraints share one topology key.
  std::optional<std::string_view> FilterDomainKey(const CycleState& state) const override;
  Status FilterDomain(CycleState& state, const PodInfo& pod,
                      const std::string* value) const override;

  Status PreScore(CycleState& state, const PodInfo& pod,
                  const std::vector<const NodeInfo*>& feasible) override;
  Status Score(CycleState& state, const PodInfo& pod, const NodeInfo& node,
               int64_t* score) const override;
  Status ScoreNodes(CycleState& state, const PodInfo& pod,
                    absl::Span<const NodeInfo* const> nodes,
                    absl::Span<int64_t> scores) const override;
  // Ignored nodes (Kubernetes' IgnoredNodes) score -1: 0 once normalized, and outside the
  // minimum and maximum.
  Normalization normalization() const override { return Normalization::kMinMaxReverse; }
  bool ScoreInputs(const CycleState& state, std::string* inputs) const override;

 private:
  static Status FilterWith(const FilterState& s, const NodeInfo& node);

  void SetListers(client::SharedInformerFactory& informers) {
    // Kinds the scheme lacks (or a factory already shut down) leave that source out.
    if (auto services = informers.InformerFor<v1::Service>(); services.ok()) {
      services_.emplace(services->lister());
    }
    if (auto replica_sets = informers.InformerFor<v1::ReplicaSet>(); replica_sets.ok()) {
      replica_sets_.emplace(replica_sets->lister());
    }
  }

  // The pod's own constraints with `action`, or the default ones if it has none.
  absl::StatusOr<Constraints> GetConstraints(const v1::Pod& pod, std::string_view action) const;
  absl::StatusOr<Constraints> BuildDefaultConstraints(const v1::Pod& pod,
                                                      std::string_view action) const;
  // The selector of the Services and the ReplicaSet that select the pod (empty if none).
  std::optional<SpreadSelector> DefaultSelector(const v1::Pod& pod) const;
  // `proto` parsed (nullopt when invalid), `key` its SelectorKey. Remembered: the pods of
  // one ReplicaSet parse their default selector once, not twice a cycle each.
  std::optional<api::LabelSelector> ParseRemembered(const v1::LabelSelector& proto,
                                                    const std::string& key) const;

  Status UpdateWithPod(CycleState& state, const PodInfo& pod, const PodInfo& other,
                       const NodeInfo& node, int64_t delta) const;
  // Score's sum for `node` under the cycle's `d`; `counts` gives the node's own matching
  // pods (hostname constraints).
  static int64_t ScoreWith(const ScoreState::Computed& d, const NodeInfo& node,
                           NodeMemo<MatchCounts>::Lookup& counts);

  Handle& handle_;
  google::protobuf::RepeatedPtrField<v1::TopologySpreadConstraint> default_constraints_;
  const bool system_defaulted_;
  std::optional<client::Lister<v1::Service>> services_;
  std::optional<client::Lister<v1::ReplicaSet>> replica_sets_;
  // One query per namespace and selectors: per ReplicaSet under the system defaults, so room
  // for the many Deployments a large cluster schedules at once. Locked inside; Score reads
  // it too.
  mutable NodeMemo<MatchCounts> counts_{256};
  // PreFilter's tallies; PreScore's (per ReplicaSet under the system defaults, as above).
  Tallies filter_tallies_{8};
  Tallies score_tallies_{256};
  DomainMemo domains_;
  // ParseRemembered's selectors by key; cleared when it holds kMaxParsed.
  static constexpr size_t kMaxParsed = 4096;
  mutable Mutex parsed_mu_;
  mutable StringMap<std::optional<api::LabelSelector>> parsed_ ABSL_GUARDED_BY(parsed_mu_);
};

absl::StatusOr<Constraints> PodTopologySpread::GetConstraints(const v1::Pod& pod,
                                                              std::string_view action) const {
  if (!pod.spec().topology_spread_constraints().empty()) {
    return ParseConstraints(pod.spec().topology_spread_constraints(), pod.metadata().labels(),
                            action);
  }
  return BuildDefaultConstraints(pod, action);
}

absl::StatusOr<Constraints> PodTopologySpread::BuildDefaultConstraints(
    const v1::Pod& pod, std::string_view action) const {
  // The selector first: a pod that no Service or ReplicaSet selects (most, in a what-if or
  // a benchmark) costs no parsing.
  // Nor for an action no default constraint takes (Filter's, under the system defaults,
  // which all say ScheduleAnyway).
  if (std::none_of(default_constraints_.begin(), default_constraints_.end(),
                   [action](const v1::TopologySpreadConstraint& c) {
                     return c.when_unsatisfiable() == action;
                   })) {
    return Constraints{};
  }
  std::optional<SpreadSelector> selector = DefaultSelector(pod);
  if (!selector.has_value() || selector->selector.empty()) return Constraints{};
  ORCH_ASSIGN_OR_RETURN(Constraints constraints,
                        ParseConstraints(default_constraints_, pod.metadata().labels(), action));
  for (Constraint& c : constraints) c.selector = *selector;
  return constraints;
}

std::optional<SpreadSelector> PodTopologySpread::DefaultSelector(const v1::Pod& pod) const {
  const std::string& ns = pod.metadata().namespace_();
  const Labels& labels = pod.metadata().labels();
  v1::LabelSelector merged;
  if (services_.has_value()) {
    for (const auto& service : services_->ListInNamespace(ns)) {
      const Labels& selector = service->spec().selector();
      // A Service without a selector selects nothing, not everything.
      if (selector.empty() || !api::LabelSelector::FromMap(selector).Matches(labels)) continue;
      for (const auto& [key, value] : selector) (*merged.mutable_match_labels())[key] = value;
    }
  }
  // ReplicationControllers and StatefulSets are not kinds of orch's scheme; of the
  // controllers Kubernetes consults, only a ReplicaSet owner contributes here.
  const v1::OwnerReference* controller = nullptr;
  for (const v1::OwnerReference& ref : pod.metadata().owner_references()) {
    if (ref.controller()) {
      controller = &ref;
      break;
    }
  }
  if (controller != nullptr && controller->api_version() == "apps/v1" &&
      controller->kind() == "ReplicaSet" && replica_sets_.has_value()) {
    auto rs = replica_sets_->Get(ns, controller->name());
    if (rs.ok() && (*rs)->spec().has_selector()) {
      const v1::LabelSelector& rs_selector = (*rs)->spec().selector();
      if (ParseRemembered(rs_selector, SelectorKey(rs_selector)).has_value()) {
        for (const auto& [key, value] : rs_selector.match_labels()) {
          AddEqualityRequirement(merged, key, value);
        }
        for (const auto& expression : rs_selector.match_expressions()) {
          *merged.add_match_expressions() = expression;
        }
      }
    }
  }
  // Selected by nothing: the empty selector, without parsing one.
  if (merged.match_labels().empty() && merged.match_expressions().empty()) {
    return SpreadSelector{.nothing = false};
  }
  std::string key = SelectorKey(merged);
  std::optional<api::LabelSelector> selector = ParseRemembered(merged, key);
  if (!selector.has_value()) return std::nullopt;
  const uint64_t bits = PodInfo::RequiredBits(*selector);
  return SpreadSelector{
      .nothing = false, .selector = *std::move(selector), .key = std::move(key), .bits = bits};
}

std::optional<api::LabelSelector> PodTopologySpread::ParseRemembered(
    const v1::LabelSelector& proto, const std::string& key) const {
  {
    MutexLock lock(&parsed_mu_);
    if (auto it = parsed_.find(key); it != parsed_.end()) return it->second;
  }
  absl::StatusOr<api::LabelSelector> parsed = api::LabelSelector::FromProto(proto);
  std::optional<api::LabelSelector> result;
  if (parsed.ok()) result = *std::move(parsed);
  MutexLock lock(&parsed_mu_);
  if (parsed_.size() >= kMaxParsed) parsed_.clear();
  parsed_.try_emplace(key, result);
  return result;
}

Status PodTopologySpread::PreFilter(CycleState& state, const PodInfo& pod_info,
                                    PreFilterResult* result) {
  const v1::Pod& pod = pod_info.pod();
  auto constraints = GetConstraints(pod, kDoNotSchedule);
  if (!constraints.ok()) {
    return Status::Error(
        fmt::format("get constraints from pod: {}", std::string(constraints.status().message())));
  }
  if (constraints->empty()) return Status::Skip();

  auto s = std::make_unique<FilterState>();
  s->constraints = std::make_shared<const Constraints>(*std::move(constraints));
  const Constraints& cs = *s->constraints;
  for (const Constraint& c : cs) s->self_match.push_back(c.selector.Matches(pod.metadata().labels()));

  const RequiredNodeAffinity affinity(pod);
  const std::string& ns = pod.metadata().namespace_();
  {
    MutexLock lock(filter_tallies_.mu());
    Tally& tally = filter_tallies_.For(TallyQuery(pod, cs), cs.size());
    tally.Update(handle_.snapshot().nodes(), [&](const NodeInfo& node,
                                                 std::vector<const std::string*>& values,
                                                 std::vector<int64_t>& matching) {
      if (!NodeHasAllTopologyKeys(node, cs)) return;
      const NodeInclusion inclusion(node.node(), pod, affinity, cs);
      for (size_t i = 0; i < cs.size(); ++i) {
        if (!inclusion.Includes(cs[i])) continue;
        // An eligible domain counts even with no matching pod: it may hold the minimum.
        values[i] = node.Label(cs[i].topology_key);
        matching[i] = CountMatchingPods(node, cs[i].selector, ns);
      }
    });
    s->domains = tally.Counts();
  }
  state.Write(kPreFilterStateKey, std::move(s));
  return Status();
}

Status PodTopologySpread::UpdateWithPod(CycleState& state, const PodInfo& pod_info,
                                        const PodInfo& other, const NodeInfo& node,
                                        int64_t delta) const {
  auto* s = state.Read<FilterState>(kPreFilterStateKey);
  if (s == nullptr) {
    // Skipped at PreFilter: the pod has no constraints, so there is nothing to update.
    if (state.skip_filter.contains(kPodTopologySpread)) return Status();
    return MissingState(kPreFilterStateKey);
  }
  const v1::Pod& pod = pod_info.pod();
  if (other.namespace_() != pod_info.namespace_()) return Status();
  const Constraints& cs = *s->constraints;
  if (!NodeHasAllTopologyKeys(node, cs)) return Status();
  const RequiredNodeAffinity affinity(pod);
  const NodeInclusion inclusion(node.node(), pod, affinity, cs);
  for (size_t i = 0; i < cs.size(); ++i) {
    if (!cs[i].selector.Matches(other.pod().metadata().labels())) continue;
    if (!inclusion.Includes(cs[i])) continue;
    s->domains[i].Add(*node.Label(cs[i].topology_key), delta);
  }
  return Status();
}

Status PodTopologySpread::Filter(CycleState& state, const PodInfo& pod,
                                 const NodeInfo& node) const {
  const auto* s = state.Read<FilterState>(kPreFilterStateKey);
  if (s == nullptr) {
    return MissingState(kPreFilterStateKey);
  }
  return FilterWith(*s, node);
}

Status PodTopologySpread::FilterNodes(CycleState& state, const PodInfo& pod,
                                      std::vector<const NodeInfo*>& nodes,
                                      NodeFailures& failed) const {
  const auto* s = state.Read<FilterState>(kPreFilterStateKey);
  if (s == nullptr) return FilterPlugin::FilterNodes(state, pod, nodes, failed);
  return KeepFeasible(nodes, failed, [s](const NodeInfo& node) { return FilterWith(*s, node); });
}

Status PodTopologySpread::FilterWith(const FilterState& s, const NodeInfo& node) {
  for (size_t i = 0; i < s.constraints->size(); ++i) {
    Status status = s.Check(i, node.Label((*s.constraints)[i].topology_key));
    if (!status.ok()) return status;
  }
  return Status();
}

std::optional<std::string_view> PodTopologySpread::FilterDomainKey(const CycleState& state) const {
  const auto* s = state.Read<FilterState>(kPreFilterStateKey);
  if (s == nullptr) return std::nullopt;
  const Constraints& cs = *s->constraints;
  for (const Constraint& c : cs) {
    if (c.topology_key != cs[0].topology_key) return std::nullopt;
  }
  return cs[0].topology_key;
}

Status PodTopologySpread::FilterDomain(CycleState& state, const PodInfo& pod,
                                       const std::string* value) const {
  const auto* s = state.Read<FilterState>(kPreFilterStateKey);
  if (s == nullptr) {
    return MissingState(kPreFilterStateKey);
  }
  for (size_t i = 0; i < s->constraints->size(); ++i) {
    Status status = s->Check(i, value);
    if (!status.ok()) return status;
  }
  return Status();
}

Status PodTopologySpread::PreScore(CycleState& state, const PodInfo& pod_info,
                                   const std::vector<const NodeInfo*>& feasible) {
  const std::vector<const NodeInfo*>& all_nodes = handle_.snapshot().nodes();
  if (all_nodes.empty()) return Status::Skip();
  const v1::Pod& pod = pod_info.pod();

  auto data = std::make_shared<ScoreState::Computed>();
  auto constraints = GetConstraints(pod, kScheduleAnyway);
  if (!constraints.ok()) {
    return Status::Error(fmt::format("calculating preScoreState: {}", std::string(constraints.status().message())));
  }
  if (constraints->empty()) return Status::Skip();
  data->constraints = *std::move(constraints);
  const Constraints& cs = data->constraints;
  // Only non-system-default constraints need every topology key on a node: nodes without
  // a zone label still get hostname spreading from the system defaults.
  data->require_all_topologies =
      !pod.spec().topology_spread_constraints().empty() || !system_defaulted_;

  // The domains of the feasible nodes (hostname constraints: one per node, counted later).
  // When every node is feasible they are those of all nodes, kept while no label changes.
  const int64_t labels = handle_.snapshot().node_labels_generation();
  const bool require_all = data->require_all_topologies;
  const std::shared_ptr<const Domains> domains =
      labels != 0 && feasible.size() == all_nodes.size()
          ? domains_.Get(cs, require_all, labels, all_nodes)
          : std::make_shared<const Domains>(ScanDomains(feasible, cs, require_all));
  data->pod_counts = domains->pod_counts;
  data->empty_value = domains->empty_value;
  const size_t ignored = domains->ignored;
  const bool has_domains = domains->has_domains;
  for (size_t i = 0; i < cs.size(); ++i) {
    const size_t size = cs[i].is_hostname ? feasible.size() - ignored : data->pod_counts[i].size();
    data->normalizing_weight.push_back(TopologyNormalizingWeight(size));
    data->has_hostname |= cs[i].is_hostname;
  }

  // Matching pods per domain, over every node the constraint applies to: a kept tally,
  // which revisits only the nodes that changed since the same query last ran.
  const std::string& ns = pod.metadata().namespace_();
  if (has_domains) {
    static const std::string kNoValue;  // a node without the key: the domain ""
    const RequiredNodeAffinity affinity(pod);
    MutexLock lock(score_tallies_.mu());
    Tally& tally = score_tallies_.For(
        absl::StrCat(require_all ? "all:" : "any:", TallyQuery(pod, cs)), cs.size());
    tally.Update(all_nodes, [&](const NodeInfo& node, std::vector<const std::string*>& values,
                                std::vector<int64_t>& matching) {
      if (require_all && !NodeHasAllTopologyKeys(node, cs)) return;
      const NodeInclusion inclusion(node.node(), pod, affinity, cs);
      for (size_t i = 0; i < cs.size(); ++i) {
        if (cs[i].is_hostname || !inclusion.Includes(cs[i])) continue;
        const std::string* value = node.Label(cs[i].topology_key);
        values[i] = value == nullptr ? &kNoValue : value;
        matching[i] = CountMatchingPods(node, cs[i].selector, ns);
      }
    });
    for (size_t i = 0; i < cs.size(); ++i) {
      for (auto& [domain, count] : data->pod_counts[i]) count = tally.Total(i, domain);
    }
  }
  data->ns = ns;
  data->counts_query = CountsQuery(ns, cs);

  auto s = std::make_unique<ScoreState>();
  s->data = std::move(data);
  state.Write(kPreScoreStateKey, std::move(s));
  return Status();
}

int64_t PodTopologySpread::ScoreWith(const ScoreState::Computed& d, const NodeInfo& node,
                                     NodeMemo<MatchCounts>::Lookup& counts) {
  std::optional<MatchCounts> own;  // the node's own matching pods, read once
  double total = 0;
  for (size_t i = 0; i < d.constraints.size(); ++i) {
    const Constraint& c = d.constraints[i];
    const std::string* value = node.Label(c.topology_key);
    if (value == nullptr) continue;
    int64_t count = 0;
    if (c.is_hostname) {
      if (!own.has_value()) {
        own = counts.Get(node, [&](const NodeInfo& n) { return CountAll(n, d.constraints, d.ns); });
      }
      count = (*own)[i];
    } else if (auto it = d.pod_counts[i].find(*value); it != d.pod_counts[i].end()) {
      count = it->second;
    }
    total += ScoreForCount(count, c.max_skew, d.normalizing_weight[i]);
  }
  return static_cast<int64_t>(std::round(total));
}

Status PodTopologySpread::Score(CycleState& state, const PodInfo& pod, const NodeInfo& node,
                                int64_t* score) const {
  const NodeInfo* const one = &node;
  return ScoreNodes(state, pod, absl::MakeConstSpan(&one, 1), absl::MakeSpan(score, 1));
}

Status PodTopologySpread::ScoreNodes(CycleState& state, const PodInfo& pod,
                                     absl::Span<const NodeInfo* const> nodes,
                                     absl::Span<int64_t> scores) const {
  const auto* s = state.Read<ScoreState>(kPreScoreStateKey);
  if (s == nullptr) return MissingState(kPreScoreStateKey);
  const ScoreState::Computed& d = *s->data;
  // One lookup of the remembered counts for the whole batch.
  auto counts = d.has_hostname ? counts_.Begin(d.counts_query, handle_.snapshot().nodes().size())
                               : counts_.Uncached();
  for (size_t k = 0; k < nodes.size(); ++k) {
    scores[k] = s->Ignored(*nodes[k]) ? -1 : ScoreWith(d, *nodes[k], counts);
  }
  return Status();
}

// A node's raw score reads the node itself (its labels, its own matching pods) and the
// cycle's constraints, normalizing weights and counts per zone-like domain: those last
// three are the inputs. The domain "" of nodes without the key is read by no node unless
// one has the key with the empty value.
bool PodTopologySpread::ScoreInputs(const CycleState& state, std::string* inputs) const {
  const auto* s = state.Read<ScoreState>(kPreScoreStateKey);
  if (s == nullptr) return false;
  const ScoreState::Computed& d = *s->data;
  inputs->assign(d.counts_query);
  inputs->push_back(d.require_all_topologies ? 'A' : '-');
  for (size_t i = 0; i < d.constraints.size(); ++i) {
    const Constraint& c = d.constraints[i];
    absl::StrAppend(inputs, "|", c.topology_key, "|", c.max_skew, "|");
    inputs->append(reinterpret_cast<const char*>(&d.normalizing_weight[i]), sizeof(double));
    std::vector<std::pair<std::string_view, int64_t>> domains(d.pod_counts[i].begin(),
                                                              d.pod_counts[i].end());
    std::sort(domains.begin(), domains.end());
    for (const auto& [domain, count] : domains) {
      if (domain.empty() && !d.empty_value[i]) continue;
      inputs->append(domain);
      absl::StrAppend(inputs, "=", count, "|");
    }
  }
  return true;
}

// ------------------------------------------------------------------ args

std::vector<v1::TopologySpreadConstraint> SystemDefaultConstraints() {
  std::vector<v1::TopologySpreadConstraint> out(2);
  out[0].set_topology_key(std::string(kLabelHostname));
  out[0].set_when_unsatisfiable(std::string(kScheduleAnyway));
  out[0].set_max_skew(3);
  out[1].set_topology_key(api::kLabelTopologyZone);
  out[1].set_when_unsatisfiable(std::string(kScheduleAnyway));
  out[1].set_max_skew(5);
  return out;
}

// Kubernetes' ValidatePodTopologySpreadArgs; the first problem found is reported.
absl::Status ValidateArgs(const PluginArgs& args, const orch::scheduler::v1::PodTopologySpreadArgs& a) {
  const std::string& type = a.defaulting_type();
  if (type != kSystemDefaulting && type != kListDefaulting) {
    return args.Invalid("defaultingType",
                        fmt::format("Unsupported value: \"{}\": supported values: \"System\", \"List\"", type));
  }
  if (type == kSystemDefaulting && !a.default_constraints().empty()) {
    return args.Invalid("defaultingType",
                        "Invalid value: \"System\": when .defaultConstraints are not empty");
  }
  for (int i = 0; i < a.default_constraints_size(); ++i) {
    const v1::TopologySpreadConstraint& c = a.default_constraints(i);
    const std::string path = fmt::format("defaultConstraints[{}]", i);
    if (c.max_skew() <= 0) {
      return args.Invalid(path + ".maxSkew",
                          fmt::format("Invalid value: {}: not in valid range (0, inf)", c.max_skew()));
    }
    if (c.topology_key().empty()) {
      return args.Invalid(path + ".topologyKey", "Required value: can not be empty");
    }
    if (c.when_unsatisfiable().empty()) {
      return args.Invalid(path + ".whenUnsatisfiable", "Required value: can not be empty");
    }
    if (c.when_unsatisfiable() != kDoNotSchedule && c.when_unsatisfiable() != kScheduleAnyway) {
      return args.Invalid(path + ".whenUnsatisfiable",
                          fmt::format("Unsupported value: \"{}\": supported values: "
                                      "\"DoNotSchedule\", \"ScheduleAnyway\"",
                                      c.when_unsatisfiable()));
    }
    if (c.has_label_selector()) {
      return args.Invalid(path + ".labelSelector",
                          "Forbidden: constraint must not define a selector, as they deduced for "
                          "each pod");
    }
    for (int j = 0; j < i; ++j) {
      const v1::TopologySpreadConstraint& other = a.default_constraints(j);
      if (other.topology_key() == c.topology_key() &&
          other.when_unsatisfiable() == c.when_unsatisfiable()) {
        return args.Invalid(path, fmt::format("Duplicate value: \"{{{}, {}}}\"", c.topology_key(),
                                              c.when_unsatisfiable()));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

FactoryResult NewPodTopologySpread(const PluginArgs& args, Handle& handle) {
  orch::scheduler::v1::PodTopologySpreadArgs decoded;
  ORCH_RETURN_IF_ERROR(args.DecodeInto(decoded));
  if (decoded.defaulting_type().empty()) decoded.set_defaulting_type(std::string(kSystemDefaulting));
  ORCH_RETURN_IF_ERROR(ValidateArgs(args, decoded));
  const bool system = decoded.defaulting_type() == kSystemDefaulting;
  std::vector<v1::TopologySpreadConstraint> defaults =
      system ? SystemDefaultConstraints()
             : std::vector<v1::TopologySpreadConstraint>(decoded.default_constraints().begin(),
                                                         decoded.default_constraints().end());
  return std::make_unique<PodTopologySpread>(handle, std::move(defaults), system);
}

}  // namespace orch::scheduler::plugins
