// The scheduling algorithm of one cycle: find the feasible nodes (Filter, then the
// extenders' Filter), score them (PreScore, Score, normalization, weights, then the
// extenders' Prioritize) and pick the best, as kube-scheduler's schedulePod does.
//
// Extenders (extender.h) run as kube-scheduler runs them: each interested one filters, in
// order, the nodes the Filter plugins and the previous extenders kept; the nodes it rules
// out join ScheduleResult::failed with its reason (Unschedulable, or
// UnschedulableAndUnresolvable when it says so). An ignorable extender's failed call is
// skipped; any other ends the cycle with the extender's error. When more than one node is
// left, every interested extender that prioritizes adds ExtenderScoreContribution(score,
// weight) to each node's total; a failed Prioritize is skipped. With extenders configured
// the EquivalenceCache is not used: their answers depend on state outside the snapshot.
//
// Tie-breaking. Among the nodes with the highest total score the choice is uniform: one
// draw from the algorithm's seeded generator picks an index into the tied nodes in name
// order. (kube-scheduler picks uniformly too, by reservoir sampling over its iteration
// order.) The same seed, snapshot and pods give the same placements.
//
// Not thread-safe: one cycle at a time.
#ifndef ORCH_SRC_SCHEDULER_ALGORITHM_H_
#define ORCH_SRC_SCHEDULER_ALGORITHM_H_

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "orch/scheduler/extender.h"
#include "orch/scheduler/framework.h"
#include "scheduler/cache.h"
#include "scheduler/equivalence.h"
#include "scheduler/profile.h"

namespace orch::scheduler::internal {

// One feasible node's scores: the total (the sum of weight × normalized score over the
// score plugins, plus extender_score), each score plugin's normalized score (in
// Profile::score_plugins() order, 0 for a plugin that skipped), and what the extenders
// added.
struct NodeScoreDetail {
  const NodeInfo* node = nullptr;
  int64_t total = 0;
  std::vector<int64_t> plugin_scores;
  int64_t extender_score = 0;
};

struct ScheduleResult {
  std::string node;  // the chosen node; empty when none fits
  int evaluated_nodes = 0;
  int feasible_nodes = 0;
  int all_nodes = 0;
  // Why the pod fits nowhere: PreFilter's rejection, or each failed node's status (kept
  // only when no node fits, or when extenders are configured).
  Status pre_filter_status;
  NodeToStatus failed;
  // Every feasible node's scores, when asked for (ScheduleOptions::keep_scores).
  std::vector<NodeScoreDetail> scores;

  // Kubernetes' FitError message: "0/5 nodes are available: 3 Insufficient cpu, 2 node(s)
  // had untolerated taint {dedicated: gpu}." plus " <postfilter message>." when given.
  std::string FitErrorMessage(std::string_view post_filter_message = {}) const;
};

struct ScheduleOptions {
  // Fill ScheduleResult::scores, scoring even a single feasible node (totals include the
  // extenders' contributions, also given apart as NodeScoreDetail::extender_score).
  bool keep_scores = false;
};

// The pick among `ties` equally scored nodes: one draw when there is a choice, none
// otherwise. Both the uncached path and the EquivalenceCache select through it, which is
// what keeps their placements identical.
size_t PickTie(std::mt19937_64& rng, size_t ties);

// A plugin's Error as the cycle reports it, and a normalized score out of range.
absl::Status PluginError(const Status& status);
absl::Status InvalidScoreError(std::string_view plugin, int64_t score);
// One plugin's score after the rule the framework applies (every kind but kCustom), from
// its raw score and the extremes of the list's raw scores: the largest, and the smallest
// that is not negative (kMinMaxReverse only). kNone and kCustom scores are returned as
// they are.
inline int64_t NormalizedScore(Normalization kind, int64_t raw, int64_t max, int64_t min) {
  switch (kind) {
    case Normalization::kDefault:
    case Normalization::kDefaultReverse:
      return DefaultNormalizedScore(kind == Normalization::kDefaultReverse, raw, max);
    case Normalization::kMinMaxReverse:
      return MinMaxReverseNormalizedScore(raw, min, max);
    default:
      return raw;
  }
}

// The extenders a scheduler owns, as the Algorithm borrows them.
std::vector<Extender*> BorrowExtenders(const std::vector<std::unique_ptr<Extender>>& extenders);

class Algorithm {
 public:
  // `reuse_equivalent`: serve pods through the EquivalenceCache where it is exact (never
  // with extenders). `extenders` are borrowed and must outlive the algorithm.
  explicit Algorithm(uint64_t seed, bool reuse_equivalent = true,
                     std::vector<Extender*> extenders = {})
      : rng_(seed), reuse_equivalent_(reuse_equivalent), extenders_(std::move(extenders)) {}

  // Runs PreFilter through selection for `pod` on the cache's nodes. kInternal for a
  // plugin Error; the extender's error (kUnavailable, naming its URL) when the Filter of an
  // extender that is not ignorable fails; otherwise a result with a node, or without one
  // and the reasons.
  absl::StatusOr<ScheduleResult> Schedule(Profile& profile, CycleState& state,
                                          const PodInfo& pod, const SchedulerCache& cache,
                                          const ScheduleOptions& options = {});

  const EquivalenceCache& equivalence() const { return equivalence_; }

 private:
  absl::Status FindFeasible(Profile& profile, CycleState& state, const PodInfo& pod,
                            const std::vector<const NodeInfo*>& candidates,
                            std::vector<const NodeInfo*>* feasible, ScheduleResult* result);
  // Each feasible node's total into `totals`; with `details`, also every node's scores
  // plugin by plugin (as Place reports them).
  absl::Status ScoreNodes(Profile& profile, CycleState& state, const PodInfo& pod,
                          const std::vector<const NodeInfo*>& feasible,
                          std::vector<int64_t>* totals, std::vector<NodeScoreDetail>* details);
  // The index of the node chosen among the highest totals.
  size_t Select(const std::vector<int64_t>& totals);

  std::mt19937_64 rng_;
  const bool reuse_equivalent_;
  const std::vector<Extender*> extenders_;
  EquivalenceCache equivalence_;
  size_t next_start_index_ = 0;  // where sampling (percentageOfNodesToScore) resumes
};

}  // namespace orch::scheduler::internal

#endif  // ORCH_SRC_SCHEDULER_ALGORITHM_H_
