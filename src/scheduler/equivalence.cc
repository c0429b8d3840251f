#include "scheduler/equivalence.h"

#include <algorithm>
#include <cstdint>

#include "fmt/format.h"
#include "orch/base/status.h"
#include "scheduler/algorithm.h"

namespace orch::scheduler::internal {
namespace {

constexpr size_t kMaxSeenOnce = 4096;

// A set of node indices kept in order, in chunks of at most kMaxChunk: adding or removing
// one moves the rest of its chunk, not the rest of the set (the best bucket of a large
// cluster holds thousands of nodes, and every bind moves one out of it).
class OrderedNodes {
 public:
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // REQUIRES: i is not in the set.
  void Insert(int32_t i) {
    ++size_;
    if (chunks_.empty()) {
      chunks_.push_back({i});
      return;
    }
    auto chunk = ChunkFor(i);
    if (chunk == chunks_.end()) --chunk;  // beyond every chunk's last: the last takes it
    chunk->insert(std::lower_bound(chunk->begin(), chunk->end(), i), i);
    if (chunk->size() > kMaxChunk) {
      std::vector<int32_t> upper(chunk->begin() + kMaxChunk / 2, chunk->end());
      chunk->resize(kMaxChunk / 2);
      chunks_.insert(chunk + 1, std::move(upper));
    }
  }
  // REQUIRES: i is in the set.
  void Erase(int32_t i) {
    auto chunk = ChunkFor(i);
    chunk->erase(std::lower_bound(chunk->begin(), chunk->end(), i));
    --size_;
    if (chunk->empty()) chunks_.erase(chunk);
  }
  // The k-th smallest; REQUIRES: k < size().
  int32_t Nth(size_t k) const {
    for (const std::vector<int32_t>& chunk : chunks_) {
      if (k < chunk.size()) return chunk[k];
      k -= chunk.size();
    }
    return -1;  // unreachable under the precondition
  }
  template <typename Pred>
  size_t CountIf(Pred pred) const {
    size_t n = 0;
    for (const std::vector<int32_t>& chunk : chunks_) {
      n += static_cast<size_t>(std::count_if(chunk.begin(), chunk.end(), pred));
    }
    return n;
  }
  // The first member in order for which pred holds; -1 if none.
  template <typename Pred>
  int32_t FindIf(Pred pred) const {
    for (const std::vector<int32_t>& chunk : chunks_) {
      auto it = std::find_if(chunk.begin(), chunk.end(), pred);
      if (it != chunk.end()) return *it;
    }
    return -1;
  }

 private:
  static constexpr size_t kMaxChunk = 256;

  // The first chunk whose last member is not below i.
  std::vector<std::vector<int32_t>>::iterator ChunkFor(int32_t i) {
    return std::lower_bound(chunks_.begin(), chunks_.end(), i,
                            [](const std::vector<int32_t>& c, int32_t v) { return c.back() < v; });
  }

  std::vector<std::vector<int32_t>> chunks_;
  size_t size_ = 0;
};

}  // namespace

struct EquivalenceCache::Class {
  const Profile* profile = nullptr;
  std::list<std::string>::iterator lru;

  // What the remembered results were computed against.
  int64_t node_set_generation = -1;
  int64_t log_position = -1;
  size_t nodes = 0;
  PluginNameSet skip_filter;
  PluginNameSet skip_score;
  std::vector<std::string> score_inputs;  // per score plugin (Profile::KeptScoreInputs)

  // Per node (by index in the snapshot's order).
  std::vector<int64_t> filter_generation;  // -1: never filtered
  // Nodes whose verdict was taken with pods nominated to them: refiltered next cycle
  // whatever their generation, since nominations come and go without changing nodes.
  std::vector<int32_t> nominated;
  std::vector<uint8_t> feasible;
  std::vector<Status> failure;             // why not, when infeasible
  std::vector<int64_t> score_generation;   // -1: holds no score
  std::vector<int64_t> raw;                // node-major, plugins() per node
  std::vector<int64_t> total;

  size_t feasible_count = 0;
  std::vector<const NodeInfo*> feasible_list;
  bool feasible_list_stale = true;

  // Per score plugin.
  size_t plugins = 0;
  std::vector<Normalization> normalization;
  std::vector<int64_t> max;    // over scored nodes
  std::vector<int32_t> at_max;  // how many scored nodes have it
  std::vector<int64_t> min;     // over scored nodes with a score >= 0 (kMinMaxReverse)
  std::vector<int32_t> at_min;
  bool scores_valid = false;

  // Scored nodes by total, each bucket in node order.
  std::map<int64_t, OrderedNodes> buckets;

  // The domain-local Filter plugin, when there is one (`feasible` and `failure` then hold
  // the other plugins' verdicts).
  int domain_index = -1;
  std::string domain_key;
  std::vector<int32_t> domain;           // per node: its domain (0: no such label)
  std::vector<uint8_t> rejected_before;  // per node: rejected by a plugin before that one
  std::vector<std::string> domain_values;  // per domain: the label value ([0] unused)
  StringMap<int32_t> domain_ids;
  std::vector<int32_t> domain_feasible;  // per domain: nodes feasible but for that plugin
  // This cycle's verdict per domain, and the verdicts feasible_list was made with.
  std::vector<Status> domain_status;
  std::vector<uint8_t> domain_ok;
  std::vector<uint8_t> listed_domain_ok;

  bool Feasible(size_t i) const {
    return feasible[i] && (domain_index < 0 || domain_ok[static_cast<size_t>(domain[i])]);
  }
  // Why node i fails, as the uncached path reports it: the first plugin that rejects it.
  const Status& Failure(size_t i) const {
    if (domain_index < 0 || (!feasible[i] && rejected_before[i])) return failure[i];
    const auto d = static_cast<size_t>(domain[i]);
    return domain_ok[d] ? failure[i] : domain_status[d];
  }
  int32_t DomainOf(const NodeInfo& node) {
    const std::string* value = node.Label(domain_key);
    if (value == nullptr) return 0;
    auto [it, inserted] = domain_ids.try_emplace(*value, static_cast<int32_t>(domain_values.size()));
    if (inserted) {
      domain_values.push_back(*value);
      domain_feasible.push_back(0);
    }
    return it->second;
  }

  void Reset(size_t n) {
    nodes = n;
    filter_generation.assign(n, -1);
    feasible.assign(n, 0);
    failure.assign(n, Status());
    score_generation.assign(n, -1);
    raw.assign(n * plugins, 0);
    total.assign(n, 0);
    feasible_count = 0;
    feasible_list_stale = true;
    scores_valid = false;
    buckets.clear();
    nominated.clear();
    domain.assign(domain_index < 0 ? 0 : n, 0);
    rejected_before.assign(domain_index < 0 ? 0 : n, 0);
    domain_values.assign(1, std::string());
    domain_ids.clear();
    domain_feasible.assign(1, 0);
    listed_domain_ok.clear();
  }

  void Unbucket(int32_t i) {
    auto it = buckets.find(total[static_cast<size_t>(i)]);
    it->second.Erase(i);
    if (it->second.empty()) buckets.erase(it);
  }
  void Bucket(int32_t i) { buckets[total[static_cast<size_t>(i)]].Insert(i); }
};

EquivalenceCache::EquivalenceCache(size_t max_classes) : max_classes_(max_classes) {}
EquivalenceCache::~EquivalenceCache() = default;

EquivalenceCache::Class* EquivalenceCache::Find(const Profile& profile, const PodInfo& pod) {
  // Built in a buffer kept between calls: finding a known class allocates nothing.
  key_.assign(profile.scheduler_name());
  key_ += '\n';
  key_ += pod.scheduling_signature();
  auto it = classes_.find(key_);
  if (it != classes_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second->lru);
    return it->second.get();
  }
  const std::string& key = key_;
  if (!seen_once_.contains(key)) {
    seen_once_.insert(key);
    seen_order_.push_back(key);
    if (seen_order_.size() > kMaxSeenOnce) {
      seen_once_.erase(seen_order_.front());
      seen_order_.pop_front();
    }
    return nullptr;
  }
  if (classes_.size() >= max_classes_) {
    classes_.erase(lru_.back());
    lru_.pop_back();
  }
  auto c = std::make_unique<Class>();
  c->profile = &profile;
  lru_.push_front(key);
  c->lru = lru_.begin();
  Class* raw = c.get();
  classes_.emplace(key, std::move(c));
  return raw;
}

absl::Status EquivalenceCache::Schedule(Profile& profile, CycleState& state, const PodInfo& pod,
                                        const SchedulerCache& cache,
                                        const Profile::DomainFilter& domain, std::mt19937_64& rng,
                                        ScheduleResult* result, bool* served) {
  *served = false;
  // A pod nominated to a node changes the domain plugin's verdict on that node alone.
  if (domain.index >= 0 && profile.HasNominatedPods()) return absl::OkStatus();
  const auto& plugins = profile.score_plugins();
  Class* c = Find(profile, pod);
  if (c == nullptr) return absl::OkStatus();
  if (c->plugins != plugins.size()) {
    c->plugins = plugins.size();
    c->normalization.clear();
    for (const WeightedScorePlugin& p : plugins) c->normalization.push_back(p.plugin->normalization());
    c->score_inputs.assign(plugins.size(), std::string());  // what node-local plugins name
    c->nodes = 0;  // forces a reset
  }
  ORCH_RETURN_IF_ERROR(Refresh(*c, profile, state, pod, cache, domain));
  size_t feasible_count = c->feasible_count;
  bool all_domains_pass = true;
  if (c->domain_index >= 0) {
    ORCH_ASSIGN_OR_RETURN(feasible_count, FilterDomains(*c, profile, state, pod, &all_domains_pass));
    if (c->domain_ok != c->listed_domain_ok) c->feasible_list_stale = true;
  }

  const std::vector<const NodeInfo*>& nodes = cache.nodes();
  result->all_nodes = static_cast<int>(nodes.size());
  result->evaluated_nodes = static_cast<int>(nodes.size());
  result->feasible_nodes = static_cast<int>(feasible_count);
  // Until the scores are brought up to date below, they are not to be trusted: an early
  // return leaves them for a full recomputation.
  const bool scores_were_valid = c->scores_valid;
  c->scores_valid = false;
  if (feasible_count == 0) {
    for (size_t i = 0; i < nodes.size(); ++i) result->failed.emplace(nodes[i]->name(), c->Failure(i));
    *served = true;
    ++served_cycles_;
    return absl::OkStatus();
  }
  if (c->feasible_list_stale) {
    c->feasible_list.clear();
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (c->Feasible(i)) c->feasible_list.push_back(nodes[i]);
    }
    c->listed_domain_ok = c->domain_ok;
    c->feasible_list_stale = false;
  }
  if (feasible_count == 1) {  // as the uncached path: no scoring, no draw
    result->node = c->feasible_list[0]->name();
    *served = true;
    ++served_cycles_;
    return absl::OkStatus();
  }

  Status pre = profile.RunPreScore(state, pod, c->feasible_list);
  if (!pre.ok()) return PluginError(pre);
  if (!profile.KeptScoreInputs(state, &score_inputs_)) return absl::OkStatus();
  // A plugin that normalizes over the whole list its own way cannot be kept up to date
  // node by node.
  for (const WeightedScorePlugin& p : plugins) {
    if (p.plugin->normalization() == Normalization::kCustom && !state.skip_score.contains(p.name)) {
      return absl::OkStatus();
    }
  }
  c->scores_valid = scores_were_valid;
  // Kept scores stand while the plugins that ran and what they read beyond each node do.
  if (c->skip_score != state.skip_score || c->score_inputs != score_inputs_) {
    const bool inputs_changed = c->score_inputs != score_inputs_;
    c->skip_score = state.skip_score;
    c->score_inputs = score_inputs_;
    c->scores_valid = false;
    // Inputs that change every cycle (zone counts, as pods land in zones) would have every
    // node scored afresh each time, which the uncached path does faster: it serves until
    // the inputs hold still for a cycle.
    if (inputs_changed) return absl::OkStatus();
  }

  // Scores of the feasible nodes whose state changed; everything when nothing is valid.
  const size_t P = c->plugins;
  auto score_node = [&](size_t i) -> absl::Status {
    ++node_evaluations_;
    for (size_t p = 0; p < P; ++p) {
      int64_t score = 0;
      if (!c->skip_score.contains(plugins[p].name)) {
        Status status = plugins[p].plugin->Score(state, pod, *nodes[i], &score);
        if (!status.ok()) return PluginError(status.WithPlugin(plugins[p].name));
      }
      c->raw[i * P + p] = score;
    }
    c->score_generation[i] = nodes[i]->generation();
    return absl::OkStatus();
  };
  auto compute_total = [&](size_t i) -> absl::Status {
    int64_t total = 0;
    for (size_t p = 0; p < P; ++p) {
      if (c->skip_score.contains(plugins[p].name)) continue;
      const int64_t score =
          NormalizedScore(c->normalization[p], c->raw[i * P + p], c->max[p], c->min[p]);
      if (score < kMinNodeScore || score > kMaxNodeScore) {
        return InvalidScoreError(plugins[p].name, score);
      }
      total += score * plugins[p].weight;
    }
    c->total[i] = total;
    return absl::OkStatus();
  };
  auto rebuild_extremes = [&](size_t p) {
    int64_t max = 0;
    int32_t count = 0;
    int64_t min = INT64_MAX;
    int32_t min_count = 0;
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (c->score_generation[i] < 0) continue;
      const int64_t v = c->raw[i * P + p];
      if (v > max) {
        max = v;
        count = 1;
      } else if (v == max) {
        ++count;
      }
      if (v < 0) continue;
      if (v < min) {
        min = v;
        min_count = 1;
      } else if (v == min) {
        ++min_count;
      }
    }
    c->max[p] = max;
    c->at_max[p] = count;
    c->min[p] = min;
    c->at_min[p] = min_count;
  };
  // Whether plugin p's normalization reads the smallest score.
  auto uses_min = [&](size_t p) { return c->normalization[p] == Normalization::kMinMaxReverse; };
  auto rebuild_all = [&]() -> absl::Status {
    c->buckets.clear();
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (c->score_generation[i] < 0) continue;
      ORCH_RETURN_IF_ERROR(compute_total(i));
      c->Bucket(static_cast<int32_t>(i));
    }
    return absl::OkStatus();
  };

  if (!c->scores_valid) {
    std::fill(c->score_generation.begin(), c->score_generation.end(), -1);
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (c->feasible[i]) ORCH_RETURN_IF_ERROR(score_node(i));
    }
    c->max.assign(P, 0);
    c->at_max.assign(P, 0);
    c->min.assign(P, INT64_MAX);
    c->at_min.assign(P, 0);
    for (size_t p = 0; p < P; ++p) rebuild_extremes(p);
    ORCH_RETURN_IF_ERROR(rebuild_all());
    c->scores_valid = true;
  } else {
    bool extremes_changed = false;
    std::vector<int32_t> updated;
    // Nodes whose score is stale: feasible with an old score generation, or scored but no
    // longer feasible. Refresh() recorded them.
    for (int32_t i : dirty_) {
      const size_t n = static_cast<size_t>(i);
      const bool had = c->score_generation[n] >= 0;
      if (had) {
        c->Unbucket(i);
        for (size_t p = 0; p < P; ++p) {
          const int64_t v = c->raw[n * P + p];
          if (v == c->max[p] && --c->at_max[p] == 0) extremes_changed = true;
          if (v >= 0 && v == c->min[p] && --c->at_min[p] == 0 && uses_min(p)) {
            extremes_changed = true;
          }
        }
        c->score_generation[n] = -1;
      }
      if (c->feasible[n]) {
        ORCH_RETURN_IF_ERROR(score_node(n));
        for (size_t p = 0; p < P; ++p) {
          const int64_t v = c->raw[n * P + p];
          if (v > c->max[p]) {
            c->max[p] = v;
            c->at_max[p] = 1;
            extremes_changed = true;
          } else if (v == c->max[p]) {
            ++c->at_max[p];
          }
          if (v < 0) continue;
          if (v < c->min[p]) {
            c->min[p] = v;
            c->at_min[p] = 1;
            extremes_changed |= uses_min(p);
          } else if (v == c->min[p]) {
            ++c->at_min[p];
          }
        }
        updated.push_back(i);
      }
    }
    if (extremes_changed) {
      for (size_t p = 0; p < P; ++p) rebuild_extremes(p);
      ORCH_RETURN_IF_ERROR(rebuild_all());
    } else {
      for (int32_t i : updated) {
        ORCH_RETURN_IF_ERROR(compute_total(static_cast<size_t>(i)));
        c->Bucket(i);
      }
    }
  }
  dirty_.clear();

  // The scores are kept over the nodes that pass every plugin but the domain-local one.
  // When some of those fail it, the draw is among the best of the rest — exact only if the
  // rest still hold each normalizing plugin's extreme raw scores.
  if (!all_domains_pass) {
    for (size_t p = 0; p < P; ++p) {
      // A largest score of 0 is at least every node's, so the rest's too; a smallest score
      // matters only with a largest one above 0.
      if (c->normalization[p] == Normalization::kNone || c->max[p] == 0 ||
          c->skip_score.contains(plugins[p].name)) {
        continue;
      }
      int64_t max = 0;
      int64_t min = INT64_MAX;
      for (size_t i = 0; i < nodes.size(); ++i) {
        if (c->score_generation[i] < 0 || !c->Feasible(i)) continue;
        const int64_t v = c->raw[i * P + p];
        max = std::max(max, v);
        if (v >= 0) min = std::min(min, v);
      }
      if (max != c->max[p] || (uses_min(p) && min != c->min[p])) return absl::OkStatus();
    }
  }
  auto passes = [&](int32_t i) { return all_domains_pass || c->Feasible(static_cast<size_t>(i)); };
  for (auto bucket = c->buckets.rbegin(); bucket != c->buckets.rend(); ++bucket) {
    const OrderedNodes& members = bucket->second;
    const size_t passing = all_domains_pass ? members.size() : members.CountIf(passes);
    if (passing == 0) continue;
    size_t pick = PickTie(rng, passing);
    const int32_t chosen =
        all_domains_pass ? members.Nth(pick)
                         : members.FindIf([&](int32_t i) { return passes(i) && pick-- == 0; });
    result->node = nodes[static_cast<size_t>(chosen)]->name();
    break;
  }
  *served = true;
  ++served_cycles_;
  return absl::OkStatus();
}

absl::StatusOr<size_t> EquivalenceCache::FilterDomains(Class& c, Profile& profile,
                                                       CycleState& state, const PodInfo& pod,
                                                       bool* all_pass) {
  *all_pass = true;
  size_t feasible = 0;
  const size_t domains = c.domain_values.size();
  c.domain_status.resize(domains);
  c.domain_ok.resize(domains);
  for (size_t d = 0; d < domains; ++d) {
    Status status =
        profile.RunFilterDomain(state, pod, c.domain_index, d == 0 ? nullptr : &c.domain_values[d]);
    if (status.code() == Code::kError) return PluginError(status);
    c.domain_ok[d] = status.ok();
    if (status.ok()) {
      feasible += static_cast<size_t>(c.domain_feasible[d]);
    } else if (c.domain_feasible[d] > 0) {
      *all_pass = false;
    }
    c.domain_status[d] = std::move(status);
  }
  return feasible;
}

// Brings the class's Filter verdicts up to date with the cache, and notes in dirty_ the
// nodes whose scores must be recomputed.
absl::Status EquivalenceCache::Refresh(Class& c, Profile& profile, CycleState& state,
                                       const PodInfo& pod, const SchedulerCache& cache,
                                       const Profile::DomainFilter& domain) {
  const std::vector<const NodeInfo*>& nodes = cache.nodes();
  dirty_.clear();
  const bool reset = c.nodes != nodes.size() ||
                     c.node_set_generation != cache.node_set_generation() ||
                     c.log_position < cache.log_begin() || c.skip_filter != state.skip_filter ||
                     c.domain_index != domain.index || c.domain_key != domain.key;
  if (reset) {
    c.domain_index = domain.index;
    c.domain_key = domain.key;
    c.Reset(nodes.size());
    c.node_set_generation = cache.node_set_generation();
    c.skip_filter = state.skip_filter;
  }
  // The pods nominated to each node (few nodes have any): a node holding some is
  // filtered with them every cycle, as is one that held some last cycle.
  StringMap<std::vector<PodInfoPtr>> nominated;
  if (profile.HasNominatedPods()) nominated = profile.NominatedPodsByNode();
  auto refilter = [&](size_t i, bool force) -> absl::Status {
    const NodeInfo& node = *nodes[i];
    if (!force && c.filter_generation[i] == node.generation()) return absl::OkStatus();
    ++node_evaluations_;
    Status status;
    int rejected_by = -1;
    if (c.domain_index < 0) {
      auto pods = nominated.find(node.name());
      status = profile.RunFilterPluginsWithNominated(
          state, pod, node, pods == nominated.end() ? std::vector<PodInfoPtr>() : pods->second);
    } else {  // no nominations (Schedule made sure)
      status = profile.RunFiltersExcept(state, pod, node, c.domain_index, &rejected_by);
    }
    if (status.code() == Code::kError) {
      c.nodes = 0;  // half refreshed: start over next time
      return PluginError(status);
    }
    const bool now_feasible = status.ok();
    if (c.domain_index >= 0) {
      c.rejected_before[i] = rejected_by >= 0 && rejected_by < c.domain_index;
      const int32_t d = c.DomainOf(node);
      if (c.feasible[i]) --c.domain_feasible[static_cast<size_t>(c.domain[i])];
      if (now_feasible) ++c.domain_feasible[static_cast<size_t>(d)];
      if (d != c.domain[i]) c.feasible_list_stale = true;
      c.domain[i] = d;
    }
    if (now_feasible != static_cast<bool>(c.feasible[i])) {
      c.feasible_count += now_feasible ? 1 : -1;
      c.feasible[i] = now_feasible;
      c.feasible_list_stale = true;
    }
    c.failure[i] = now_feasible ? Status() : std::move(status);
    c.filter_generation[i] = node.generation();
    if (c.scores_valid && (now_feasible || c.score_generation[i] >= 0)) {
      dirty_.push_back(static_cast<int32_t>(i));
    }
    return absl::OkStatus();
  };
  if (reset) {
    for (size_t i = 0; i < nodes.size(); ++i) ORCH_RETURN_IF_ERROR(refilter(i, false));
  } else {
    const NodeInfo* const* changed = cache.LogFrom(c.log_position);
    const int64_t count = cache.log_end() - c.log_position;
    for (int64_t k = 0; k < count; ++k) {
      const int i = cache.IndexOf(changed[k]);
      if (i >= 0) ORCH_RETURN_IF_ERROR(refilter(static_cast<size_t>(i), false));
    }
    for (int32_t i : c.nominated) {
      if (nominated.contains(nodes[static_cast<size_t>(i)]->name())) continue;  // just below
      ORCH_RETURN_IF_ERROR(refilter(static_cast<size_t>(i), true));
    }
  }
  c.nominated.clear();
  for (const auto& [name, pods] : nominated) {
    const NodeInfo* node = cache.Get(name);
    const int i = node == nullptr ? -1 : cache.IndexOf(node);
    if (i < 0) continue;
    ORCH_RETURN_IF_ERROR(refilter(static_cast<size_t>(i), true));
    c.nominated.push_back(i);
  }
  c.log_position = cache.log_end();
  std::sort(dirty_.begin(), dirty_.end());
  dirty_.erase(std::unique(dirty_.begin(), dirty_.end()), dirty_.end());
  return absl::OkStatus();
}

}  // namespace orch::scheduler::internal
