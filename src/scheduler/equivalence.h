// Reuse across equivalent pods (Borg's equivalence classes, with score caching).
//
// Pods with the same scheduling signature (PodInfo::scheduling_signature: namespace, labels
// and spec) get the same Filter verdict and the same raw scores on a node in the same state,
// as long as every plugin that runs is NodeLocal. So for each class this keeps, per node,
// the verdict and raw scores it last computed with that node's generation, and on the next
// pod of the class recomputes only the nodes that changed since (the cache's change log):
// after one pod is bound, that is one node, not 5,000.
//
// The rest of the cycle is kept incremental too: the feasible list, each plugin's
// normalization input (the maximum raw score, for kDefault and kDefaultReverse), the
// weighted totals, and buckets of nodes by total, so that the best nodes and their count
// are at hand. Selection then draws exactly as Algorithm::Select does (one draw among the
// tied nodes in name order; none when one node is feasible), so a pod lands where the
// uncached path would put it — the randomized test in tests/scheduler proves it.
//
// Pods nominated to a node (by preemption) change its verdict without changing the node:
// the nodes holding nominations are filtered afresh, with those pods, every cycle, and
// once more the cycle after they lose them.
//
// One Filter plugin may be domain-local instead (FilterPlugin::FilterDomainKey: its verdict
// is the same for every node with the same value of one label, as PodTopologySpread's on a
// zone). The class then keeps the other plugins' verdicts and each node's domain, asks
// that plugin once per domain each cycle, and draws among the best nodes of the domains
// that pass — provided those still hold the largest raw score of each plugin that
// normalizes by it, so that the scores stand as kept.
//
// A Score plugin may read more than the node, too, if it names what (ScorePlugin::ScoreInputs:
// PodTopologySpread's weights and zone counts): the class keeps its raw scores while those
// inputs stay the same, and scores every node afresh when they change.
//
// It serves a cycle only when it can be exact: every plugin that did not Skip is NodeLocal
// (but for that one domain-local Filter plugin, and then no pod is nominated, and the Score
// plugins that name their inputs) and none of them normalizes with kCustom, PreFilter did
// not narrow the nodes and the profile does not sample; otherwise the caller takes the
// uncached path.
//
// Not thread-safe: owned by one Algorithm.
#ifndef ORCH_SRC_SCHEDULER_EQUIVALENCE_H_
#define ORCH_SRC_SCHEDULER_EQUIVALENCE_H_

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "orch/base/string_map.h"
#include "orch/scheduler/framework.h"
#include "scheduler/cache.h"
#include "scheduler/profile.h"

namespace orch::scheduler::internal {

struct ScheduleResult;

class EquivalenceCache {
 public:
  // `max_classes`: classes remembered (least recently used go first).
  explicit EquivalenceCache(size_t max_classes = 64);
  ~EquivalenceCache();

  // Schedules `pod` (PreFilter already ran on `state`; `domain` is what
  // Profile::ReusableFilters found) if it can do so exactly; sets `*served` to say whether
  // it did. kInternal when a plugin fails.
  absl::Status Schedule(Profile& profile, CycleState& state, const PodInfo& pod,
                        const SchedulerCache& cache, const Profile::DomainFilter& domain,
                        std::mt19937_64& rng, ScheduleResult* result, bool* served);

  size_t classes() const { return classes_.size(); }
  // Cycles served, and node evaluations done (Filter + Score of one node), for tests and
  // benchmarks.
  int64_t served_cycles() const { return served_cycles_; }
  int64_t node_evaluations() const { return node_evaluations_; }

 private:
  struct Class;

  Class* Find(const Profile& profile, const PodInfo& pod);
  absl::Status Refresh(Class& c, Profile& profile, CycleState& state, const PodInfo& pod,
                       const SchedulerCache& cache, const Profile::DomainFilter& domain);
  // Asks the domain-local plugin about every domain; returns how many nodes pass all the
  // plugins, and sets `*all_pass` when no domain holding a node-locally feasible node fails.
  absl::StatusOr<size_t> FilterDomains(Class& c, Profile& profile, CycleState& state,
                                       const PodInfo& pod, bool* all_pass);

  const size_t max_classes_;
  // Signatures seen once: a class is built on its second pod, so one-off pods (a
  // heterogeneous workload) pay nothing for the cache.
  StringSet seen_once_;
  std::list<std::string> seen_order_;
  StringMap<std::unique_ptr<Class>> classes_;
  std::list<std::string> lru_;
  std::vector<int32_t> dirty_;  // nodes whose scores Refresh found stale
  std::vector<std::string> score_inputs_;  // this cycle's, kept to reuse the buffers
  std::string key_;             // Find's key, kept to reuse its buffer
  int64_t served_cycles_ = 0;
  int64_t node_evaluations_ = 0;
};

}  // namespace orch::scheduler::internal

#endif  // ORCH_SRC_SCHEDULER_EQUIVALENCE_H_
