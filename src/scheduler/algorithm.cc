#include "scheduler/algorithm.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <utility>

#include "absl/strings/str_join.h"
#include "fmt/format.h"
#include "orch/base/status.h"

namespace orch::scheduler::internal {
namespace {

// kube-scheduler's floor on how many feasible nodes a sampled search looks for.
constexpr int kMinFeasibleNodesToFind = 100;

// How many feasible nodes to look for: all of them unless the profile samples.
int NodesToFind(int32_t percentage, int all_nodes) {
  if (percentage <= 0 || percentage >= 100 || all_nodes < kMinFeasibleNodesToFind) {
    return all_nodes;
  }
  const int n = static_cast<int>(static_cast<int64_t>(all_nodes) * percentage / 100);
  return std::max(n, kMinFeasibleNodesToFind);
}

}  // namespace

std::vector<Extender*> BorrowExtenders(const std::vector<std::unique_ptr<Extender>>& extenders) {
  std::vector<Extender*> borrowed;
  borrowed.reserve(extenders.size());
  for (const auto& extender : extenders) borrowed.push_back(extender.get());
  return borrowed;
}

size_t PickTie(std::mt19937_64& rng, size_t ties) {
  return ties > 1 ? static_cast<size_t>(rng() % ties) : 0;
}

absl::Status PluginError(const Status& status) {
  return absl::InternalError(
      fmt::format("plugin \"{}\": {}", status.plugin(), status.Message()));
}

absl::Status InvalidScoreError(std::string_view plugin, int64_t score) {
  return absl::InternalError(fmt::format(
      "plugin \"{}\" returns an invalid score {}, it should in the range of [{}, {}] "
      "after normalizing",
      plugin, score, kMinNodeScore, kMaxNodeScore));
}

std::string ScheduleResult::FitErrorMessage(std::string_view post_filter_message) const {
  if (all_nodes == 0) return "no nodes available to schedule pods";  // Kubernetes' ErrNoNodesAvailable
  std::string message = fmt::format("0/{} nodes are available:", all_nodes);
  if (pre_filter_status.IsRejected()) {
    message += fmt::format(" {}.", pre_filter_status.Message());
  } else {
    std::map<std::string, int> histogram;
    for (const auto& [node, status] : failed) {
      for (const std::string& reason : status.reasons()) ++histogram[reason];
    }
    std::vector<std::string> counted;
    counted.reserve(histogram.size());
    for (const auto& [reason, count] : histogram) {
      counted.push_back(fmt::format("{} {}", count, reason));
    }
    std::sort(counted.begin(), counted.end());  // as strings, as Kubernetes sorts them
    if (!counted.empty()) message += fmt::format(" {}.", absl::StrJoin(counted, ", "));
  }
  if (!post_filter_message.empty()) message += fmt::format(" {}.", post_filter_message);
  return message;
}

absl::StatusOr<ScheduleResult> Algorithm::Schedule(Profile& profile, CycleState& state,
                                                   const PodInfo& pod, const SchedulerCache& cache,
                                                   const ScheduleOptions& options) {
  ScheduleResult result;
  const std::vector<const NodeInfo*>& all = cache.nodes();
  result.all_nodes = static_cast<int>(all.size());
  if (all.empty()) return result;

  PreFilterResult narrowed;
  Status pre = profile.RunPreFilter(state, pod, &narrowed);
  if (pre.code() == Code::kError) return PluginError(pre);
  if (!pre.ok()) {
    result.pre_filter_status = std::move(pre);
    return result;
  }

  // A pod nominated by an earlier preemption tries that node first, alone (Kubernetes'
  // evaluateNominatedNode): its victims made room there, and likely nowhere else.
  const std::string& nominated = pod.pod().status().nominated_node_name();
  const NodeInfo* nominated_node = nominated.empty() ? nullptr : cache.Get(nominated);
  if (nominated_node != nullptr) {
    Status status = profile.RunFilterPlugins(state, pod, *nominated_node);
    if (status.code() == Code::kError) return PluginError(status);
    std::vector<const NodeInfo*> feasible;
    if (status.ok()) feasible.push_back(nominated_node);
    if (!extenders_.empty() && !feasible.empty()) {
      NodeToStatus ignored;  // the full search below records every node's status
      ORCH_ASSIGN_OR_RETURN(feasible,
                            FilterWithExtenders(extenders_, pod.pod(), std::move(feasible), ignored));
    }
    if (!feasible.empty()) {
      result.evaluated_nodes = 1;
      result.feasible_nodes = 1;
      result.node = nominated_node->name();
      if (options.keep_scores) {
        std::vector<int64_t> totals;
        ORCH_RETURN_IF_ERROR(ScoreNodes(profile, state, pod, feasible, &totals, &result.scores));
      }
      return result;
    }
  }

  const int32_t percentage = profile.percentage_of_nodes_to_score();
  Profile::DomainFilter domain;
  if (reuse_equivalent_ && extenders_.empty() && narrowed.all_nodes && !options.keep_scores &&
      (percentage <= 0 || percentage >= 100) && profile.ReusableFilters(state, &domain)) {
    bool served = false;
    ORCH_RETURN_IF_ERROR(
        equivalence_.Schedule(profile, state, pod, cache, domain, rng_, &result, &served));
    if (served) return result;
    result = ScheduleResult();
    result.all_nodes = static_cast<int>(all.size());
  }

  std::vector<const NodeInfo*> candidates;
  const std::vector<const NodeInfo*>* search = &all;
  if (!narrowed.all_nodes) {
    for (const NodeInfo* node : all) {
      if (narrowed.node_names.contains(node->name())) candidates.push_back(node);
    }
    search = &candidates;
  }

  std::vector<const NodeInfo*> feasible;
  ORCH_RETURN_IF_ERROR(FindFeasible(profile, state, pod, *search, &feasible, &result));
  if (!extenders_.empty() && !feasible.empty()) {
    ORCH_ASSIGN_OR_RETURN(feasible, FilterWithExtenders(extenders_, pod.pod(),
                                                        std::move(feasible), result.failed));
    // Scores and ties are taken in name order whatever order the extenders answered in.
    std::sort(feasible.begin(), feasible.end(),
              [](const NodeInfo* a, const NodeInfo* b) { return a->name() < b->name(); });
  }
  result.feasible_nodes = static_cast<int>(feasible.size());
  if (feasible.empty()) return result;

  // One feasible node needs no scores (Kubernetes skips scoring then), unless asked.
  if (feasible.size() == 1 && !options.keep_scores) {
    result.node = feasible[0]->name();
    return result;
  }
  std::vector<int64_t> totals;
  ORCH_RETURN_IF_ERROR(ScoreNodes(profile, state, pod, feasible, &totals,
                                  options.keep_scores ? &result.scores : nullptr));
  result.node = feasible[Select(totals)]->name();
  return result;
}

absl::Status Algorithm::FindFeasible(Profile& profile, CycleState& state, const PodInfo& pod,
                                     const std::vector<const NodeInfo*>& candidates,
                                     std::vector<const NodeInfo*>* feasible,
                                     ScheduleResult* result) {
  const int n = static_cast<int>(candidates.size());
  const int to_find = NodesToFind(profile.percentage_of_nodes_to_score(), n);
  if (to_find == n) {
    // Every node is evaluated: plugin by plugin over the nodes still feasible, which keeps
    // each plugin's code and data at hand and gives the same verdicts as node by node.
    // Nodes with pods nominated to them are filtered one by one, with those pods.
    NodeFailures failures;
    StringMap<std::vector<PodInfoPtr>> nominated;
    if (profile.HasNominatedPods()) nominated = profile.NominatedPodsByNode();
    std::vector<const NodeInfo*> plain;
    std::vector<const NodeInfo*> with_nominated;  // those that passed
    if (nominated.empty()) {
      plain = candidates;
    } else {
      plain.reserve(candidates.size());
      for (const NodeInfo* node : candidates) {
        auto it = nominated.find(node->name());
        if (it == nominated.end()) {
          plain.push_back(node);
          continue;
        }
        Status status = profile.RunFilterPluginsWithNominated(state, pod, *node, it->second);
        if (status.ok()) {
          with_nominated.push_back(node);
        } else if (status.code() == Code::kError) {
          return PluginError(status);
        } else {
          failures.emplace_back(node, std::move(status));
        }
      }
    }
    Status status = profile.FilterNodes(state, pod, plain, failures);
    if (status.code() == Code::kError) return PluginError(status);
    result->evaluated_nodes = n;
    // Why nodes failed matters only when none fits (the message, PostFilter) or to the
    // extenders, which add theirs.
    if ((plain.empty() && with_nominated.empty()) || !extenders_.empty()) {
      for (auto& [node, failure] : failures) result->failed.emplace(node->name(), std::move(failure));
    }
    if (with_nominated.empty()) {
      *feasible = std::move(plain);
      return absl::OkStatus();
    }
    // Both lists keep the candidates' order: merge them back into it.
    feasible->reserve(plain.size() + with_nominated.size());
    size_t a = 0;
    size_t b = 0;
    for (const NodeInfo* node : candidates) {
      if (a < plain.size() && plain[a] == node) {
        feasible->push_back(plain[a++]);
      } else if (b < with_nominated.size() && with_nominated[b] == node) {
        feasible->push_back(with_nominated[b++]);
      }
    }
    return absl::OkStatus();
  }
  const size_t start = to_find < n ? next_start_index_ % static_cast<size_t>(n) : 0;
  feasible->reserve(static_cast<size_t>(to_find));
  int processed = 0;
  for (int i = 0; i < n && static_cast<int>(feasible->size()) < to_find; ++i) {
    const NodeInfo* node = candidates[(start + static_cast<size_t>(i)) % static_cast<size_t>(n)];
    ++processed;
    Status status = profile.RunFilterPlugins(state, pod, *node);
    if (status.ok()) {
      feasible->push_back(node);
    } else if (status.code() == Code::kError) {
      return PluginError(status);
    } else {
      result->failed.emplace(node->name(), std::move(status));
    }
  }
  if (to_find < n) {
    next_start_index_ = (start + static_cast<size_t>(processed)) % static_cast<size_t>(n);
    // Scores and ties are taken in name order whatever node the search started at.
    std::sort(feasible->begin(), feasible->end(),
              [](const NodeInfo* a, const NodeInfo* b) { return a->name() < b->name(); });
  }
  result->evaluated_nodes = processed;
  return absl::OkStatus();
}

absl::Status Algorithm::ScoreNodes(Profile& profile, CycleState& state, const PodInfo& pod,
                                   const std::vector<const NodeInfo*>& feasible,
                                   std::vector<int64_t>* totals,
                                   std::vector<NodeScoreDetail>* details) {
  Status pre = profile.RunPreScore(state, pod, feasible);
  if (!pre.ok()) return PluginError(pre);

  const auto& plugins = profile.score_plugins();
  const size_t n = feasible.size();
  totals->assign(n, 0);
  if (details != nullptr) {
    details->resize(n);
    for (size_t i = 0; i < n; ++i) {
      (*details)[i].node = feasible[i];
      (*details)[i].plugin_scores.assign(plugins.size(), 0);
    }
  }
  std::vector<int64_t> raw(n);
  std::vector<NodeScore> custom;  // for plugins that normalize their own way
  for (size_t p = 0; p < plugins.size(); ++p) {
    const WeightedScorePlugin& plugin = plugins[p];
    if (state.skip_score.contains(plugin.name)) continue;
    Status status = plugin.plugin->ScoreNodes(state, pod, feasible, absl::MakeSpan(raw));
    if (!status.ok()) return PluginError(status.WithPlugin(plugin.name));
    const Normalization normalization = plugin.plugin->normalization();
    // The framework's rules are applied in the loop below, with the extreme scores.
    ScoreExtremes extremes;
    if (normalization == Normalization::kDefault ||
        normalization == Normalization::kDefaultReverse ||
        normalization == Normalization::kMinMaxReverse) {
      for (int64_t score : raw) extremes.Add(score);
    } else if (normalization == Normalization::kCustom) {
      custom.resize(n);
      for (size_t i = 0; i < n; ++i) custom[i] = {feasible[i], raw[i]};
      status = plugin.plugin->NormalizeScore(state, pod, custom);
      if (!status.ok()) return PluginError(status.WithPlugin(plugin.name));
      for (size_t i = 0; i < n; ++i) raw[i] = custom[i].score;
    }
    // A plugin that scored every node 0 (no node has what it looks for: taints, images)
    // adds one and the same normalized score to every total.
    if (std::all_of(raw.begin(), raw.end(), [](int64_t score) { return score == 0; })) {
      const int64_t score = NormalizedScore(normalization, 0, extremes.max, extremes.min);
      if (score != 0) {
        for (int64_t& total : *totals) total += score * plugin.weight;
      }
      if (details != nullptr) {
        for (NodeScoreDetail& detail : *details) detail.plugin_scores[p] = score;
      }
      continue;
    }
    // One loop per rule, so that the rule is not chosen again for every node.
    const auto add = [&](auto normalized) -> absl::Status {
      for (size_t i = 0; i < n; ++i) {
        const int64_t score = normalized(raw[i]);
        if (score < kMinNodeScore || score > kMaxNodeScore) {
          return InvalidScoreError(plugin.name, score);
        }
        (*totals)[i] += score * plugin.weight;
        if (details != nullptr) (*details)[i].plugin_scores[p] = score;
      }
      return absl::OkStatus();
    };
    absl::Status added;
    switch (normalization) {
      case Normalization::kDefault:
        added = add(
            [&](int64_t score) { return DefaultNormalizedScore(false, score, extremes.max); });
        break;
      case Normalization::kDefaultReverse:
        added = add(
            [&](int64_t score) { return DefaultNormalizedScore(true, score, extremes.max); });
        break;
      case Normalization::kMinMaxReverse:
        added = add([&](int64_t score) {
          return MinMaxReverseNormalizedScore(score, extremes.min, extremes.max);
        });
        break;
      default:  // kNone, and kCustom normalized above
        added = add([](int64_t score) { return score; });
        break;
    }
    if (!added.ok()) return added;
  }
  if (!extenders_.empty()) {
    const absl::flat_hash_map<std::string, int64_t> added =
        PrioritizeWithExtenders(extenders_, pod.pod(), feasible);
    for (size_t i = 0; i < n; ++i) {
      auto it = added.find(feasible[i]->name());
      if (it == added.end()) continue;
      (*totals)[i] += it->second;
      if (details != nullptr) (*details)[i].extender_score = it->second;
    }
  }
  if (details != nullptr) {
    for (size_t i = 0; i < n; ++i) (*details)[i].total = (*totals)[i];
  }
  return absl::OkStatus();
}

size_t Algorithm::Select(const std::vector<int64_t>& totals) {
  int64_t best = totals[0];
  size_t ties = 0;
  for (int64_t total : totals) {
    if (total > best) {
      best = total;
      ties = 1;
    } else if (total == best) {
      ++ties;
    }
  }
  size_t pick = PickTie(rng_, ties);
  for (size_t i = 0; i < totals.size(); ++i) {
    if (totals[i] == best && pick-- == 0) return i;
  }
  return 0;
}

}  // namespace orch::scheduler::internal
