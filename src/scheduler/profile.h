// Profile: one scheduling profile's plugins, instantiated and ordered per extension point,
// and the framework calls that run them in Kubernetes' order with its rules (stop at the
// first rejecting Filter, Skip bookkeeping, unreserve in reverse order, the first Bind
// that does not Skip wins). It is the Handle its plugins receive.
//
// Not thread-safe by itself: the scheduler runs a profile's scheduling cycles one at a time
// (see framework.h for which calls may overlap).
#ifndef ORCH_SRC_SCHEDULER_PROFILE_H_
#define ORCH_SRC_SCHEDULER_PROFILE_H_

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "orch/client/events.h"
#include "orch/scheduler/config.h"
#include "orch/scheduler/framework.h"
#include "orch/scheduler/registry.h"

namespace orch::scheduler::internal {

}  // namespace orch::scheduler::internal
namespace orch::scheduler {
class SchedulingQueue;
}  // namespace orch::scheduler
namespace orch::scheduler::internal {

struct WeightedScorePlugin {
  ScorePlugin* plugin = nullptr;
  int32_t weight = 1;
  std::string name;
};

class Profile : public Handle {
 public:
  // What the profile's Handle serves. Pointers must outlive the profile; client and
  // informers may be null (a what-if run).
  struct Environment {
    const Snapshot* snapshot = nullptr;
    Clock* clock = nullptr;
    client::Client* client = nullptr;
    client::SharedInformerFactory* informers = nullptr;
  };

  // Instantiates profile `index` of `config`. NodeResourcesFit also ignores the resources
  // the config's extenders manage with ignoredByScheduler (ExtenderIgnoredResources).
  // kInvalidArgument (naming the field) for an unknown plugin, a plugin at a point it does
  // not implement, or bad plugin args.
  static absl::StatusOr<std::unique_ptr<Profile>> Create(
      const v1::KubeSchedulerConfiguration& config, int index, std::string_view source,
      const Registry& registry, const Environment& environment);

  const std::string& scheduler_name() const { return resolved_.scheduler_name; }
  int32_t percentage_of_nodes_to_score() const {
    return resolved_.percentage_of_nodes_to_score;
  }
  QueueSortPlugin* queue_sort() const { return queue_sort_; }
  const std::vector<WeightedScorePlugin>& score_plugins() const { return score_; }
  // Every plugin's registered events, by plugin name (for the queue).
  absl::flat_hash_map<std::string, std::vector<ClusterEvent>> RegisteredEvents() const;
  bool HasPostFilter() const { return !post_filter_.empty(); }

  // Whether the cycle's results may be reused across node states: every Filter plugin
  // that did not Skip at PreFilter is NodeLocal, or all but one, which is domain-local
  // (FilterPlugin::FilterDomainKey) and then described in `*domain` (ReusableFilters);
  // every Score plugin that did not Skip at PreScore is NodeLocal, or names the inputs it
  // read beyond the node (ScorePlugin::ScoreInputs), given per Score plugin in `*inputs`
  // ("" for a node-local or skipped one) (KeptScoreInputs).
  struct DomainFilter {
    int index = -1;        // position among the Filter plugins; -1: none
    std::string_view key;  // the label whose value is the domain
  };
  bool ReusableFilters(const CycleState& state, DomainFilter* domain) const;
  bool KeptScoreInputs(const CycleState& state, std::vector<std::string>* inputs) const;

  Status RunPreFilter(CycleState& state, const PodInfo& pod, PreFilterResult* result);
  Status RunPostFilter(CycleState& state, const PodInfo& pod, const NodeToStatus& filtered,
                       PostFilterResult* result);
  Status RunPreScore(CycleState& state, const PodInfo& pod,
                     const std::vector<const NodeInfo*>& feasible);
  Status RunReserve(CycleState& state, const PodInfo& pod, const std::string& node);
  void RunUnreserve(CycleState& state, const PodInfo& pod, const std::string& node);
  // Success, a rejection, or Wait with the longest timeout any waiting plugin asked for.
  Status RunPermit(CycleState& state, const PodInfo& pod, const std::string& node,
                   absl::Duration* timeout, std::vector<std::string>* waiting_plugins);
  Status RunPreBind(CycleState& state, const PodInfo& pod, const std::string& node);
  Status RunBind(CycleState& state, const PodInfo& pod, const std::string& node);
  void RunPostBind(CycleState& state, const PodInfo& pod, const std::string& node);

  // Handle.
  const Snapshot& snapshot() const override { return *environment_.snapshot; }
  Clock& clock() const override { return *environment_.clock; }
  client::Client* client() const override { return environment_.client; }
  client::SharedInformerFactory* informers() const override { return environment_.informers; }
  // Non-null whenever the environment has a client.
  client::EventRecorder* event_recorder() const override { return recorder_.get(); }
  // The Filter plugins over many nodes, plugin by plugin: `nodes` keeps, in order, those
  // that pass every plugin; each that fails goes into `failed` with the status of the first
  // plugin that rejected it — what RunFilterPlugins gives node by node, when no pod is
  // nominated to any of `nodes`. A plugin's Error stops it and is returned.
  Status FilterNodes(CycleState& state, const PodInfo& pod, std::vector<const NodeInfo*>& nodes,
                     NodeFailures& failed) const;
  Status RunFilterPlugins(CycleState& state, const PodInfo& pod,
                          const NodeInfo& node) const override;
  // The Filter plugins on `node` as it is (no nominated pods) except the one at position
  // `except` (-1: none); `*rejected_by`, when given, is the position of the plugin that
  // rejected it (-1: none did).
  Status RunFiltersExcept(CycleState& state, const PodInfo& pod, const NodeInfo& node,
                          int except, int* rejected_by) const;
  // The domain-local Filter plugin at `index` on the nodes whose label has `value`.
  Status RunFilterDomain(CycleState& state, const PodInfo& pod, int index,
                         const std::string* value) const;
  // RunFilterPlugins with the pods nominated to `node` given (as NominatedPodsByNode has
  // them), for searches that read the nominations once.
  Status RunFilterPluginsWithNominated(CycleState& state, const PodInfo& pod, const NodeInfo& node,
                                       std::vector<PodInfoPtr> nominated) const;
  // The nominator's NominatedPodsByNode (empty without a nominator).
  StringMap<std::vector<PodInfoPtr>> NominatedPodsByNode() const;
  Status RunPreFilterAddPod(CycleState& state, const PodInfo& pod, const PodInfo& added,
                            const NodeInfo& node) const override;
  Status RunPreFilterRemovePod(CycleState& state, const PodInfo& pod, const PodInfo& removed,
                               const NodeInfo& node) const override;
  bool AllowWaitingPod(std::string_view uid, std::string_view plugin) override;
  bool RejectWaitingPod(std::string_view uid, std::string_view plugin,
                        std::string_view message) override;

  // Where Allow/RejectWaitingPod go (the scheduler's waiting pods); null: nothing waits.
  class WaitingPods {
   public:
    virtual ~WaitingPods() = default;
    virtual bool Allow(std::string_view uid, std::string_view plugin) = 0;
    virtual bool Reject(std::string_view uid, std::string_view plugin,
                        std::string_view message) = 0;
  };
  void set_waiting_pods(WaitingPods* waiting) { waiting_ = waiting; }

  // Where RunFilterPlugins finds the pods nominated to a node (the scheduler's queue);
  // null: none are. Must outlive the profile's cycles.
  void set_nominator(const scheduler::SchedulingQueue* nominator) { nominator_ = nominator; }
  bool HasNominatedPods() const;

 private:
  template <typename T>
  struct Named {
    T* plugin = nullptr;
    std::string name;
  };

  Profile(ResolvedProfile resolved, const Environment& environment)
      : resolved_(std::move(resolved)), environment_(environment) {}
  absl::Status Instantiate(const Registry& registry, std::string_view source,
                           const std::vector<std::pair<std::string, PluginArgs>>& plugins);
  absl::Status Assign(std::string_view source);
  // The Filter plugins on `node` as it is, without nominated pods.
  Status RunFilters(CycleState& state, const PodInfo& pod, const NodeInfo& node) const;
  // Whether Filter plugin `i` runs this cycle (it did not Skip at PreFilter).
  bool FilterRuns(const CycleState& state, size_t i) const;
  // RunPreFilter's plugins, before the Filter plan is written.
  Status PreFilterPlugins(CycleState& state, const PodInfo& pod, PreFilterResult* result);

  ResolvedProfile resolved_;
  Environment environment_;
  std::unique_ptr<client::EventRecorder> recorder_;  // reports as the schedulerName
  WaitingPods* waiting_ = nullptr;
  const scheduler::SchedulingQueue* nominator_ = nullptr;
  StringMap<std::unique_ptr<Plugin>> instances_;
  QueueSortPlugin* queue_sort_ = nullptr;
  std::vector<Named<PreFilterPlugin>> pre_filter_;
  std::vector<Named<FilterPlugin>> filter_;
  std::vector<Named<PostFilterPlugin>> post_filter_;
  std::vector<Named<PreScorePlugin>> pre_score_;
  std::vector<WeightedScorePlugin> score_;
  std::vector<Named<ReservePlugin>> reserve_;
  std::vector<Named<PermitPlugin>> permit_;
  std::vector<Named<PreBindPlugin>> pre_bind_;
  std::vector<Named<BindPlugin>> bind_;
  std::vector<Named<PostBindPlugin>> post_bind_;
};

}  // namespace orch::scheduler::internal

#endif  // ORCH_SRC_SCHEDULER_PROFILE_H_
