// DefaultPreemption: when a pod fits nowhere, find a node where evicting lower-priority
// pods would make it fit, evict the fewest and least important of them, and nominate the
// node (kube-scheduler's default PostFilter).
//
// For each node where preemption might help (its Filter failure was not Unresolvable), a
// dry run removes every pod of lower priority, checks that the pod then fits, and adds the
// removed pods back one by one, most important first, keeping each that still leaves room:
// what stays removed are that node's victims. Among the nodes with victims the choice
// follows Kubernetes: fewest PodDisruptionBudget violations (orch has no budgets: none),
// lowest highest-victim priority, lowest sum of victim priorities, fewest victims, latest
// start among the highest-priority victims, then node order. Victims are deleted through
// the client with their grace period (graceful termination); the pod is retried and lands
// once they are gone.
//
// Departures from Kubernetes: the dry run starts at the first candidate node rather than
// a random offset (placements stay deterministic for a seed), and lower-priority pods
// nominated to the chosen node keep their nomination.
#include <algorithm>
#include <climits>
#include <map>
#include <memory>
#include <tuple>

#include "fmt/format.h"
#include "orch/client/client.h"
#include "orch/base/status.h"
#include "orch/client/events.h"
#include "orch/scheduler/config.pb.h"
#include "scheduler/plugins/factories.h"

namespace orch::scheduler::plugins {
namespace {

constexpr std::string_view kNoVictims = "No preemption victims found for incoming pod";
constexpr std::string_view kNotHelpful = "Preemption is not helpful for scheduling";

absl::Time StartTime(const PodInfo& pod, absl::Time now) {
  const auto& status = pod.pod().status();
  if (!status.has_start_time()) return now;  // not started yet: as if it started now
  return absl::FromUnixSeconds(status.start_time().seconds()) +
         absl::Nanoseconds(status.start_time().nanos());
}

// Kubernetes' MoreImportantPod: higher priority, then the one that started earlier.
bool MoreImportant(const PodInfo& a, const PodInfo& b, absl::Time now) {
  if (a.priority() != b.priority()) return a.priority() > b.priority();
  return StartTime(a, now) < StartTime(b, now);
}

// The dry run's answers, node by node, in the FitError shape: "0/3 nodes are available:
// 1 ..., 2 ...".
class FitHistogram {
 public:
  // One node, for these reasons.
  void Add(const std::vector<std::string>& reasons) {
    ++nodes_;
    for (const std::string& reason : reasons) ++count_[reason];
  }
  // `nodes` nodes, each for `reason` alone.
  void Add(std::string_view reason, size_t nodes) {
    if (nodes == 0) return;
    nodes_ += nodes;
    count_[std::string(reason)] += static_cast<int>(nodes);
  }
  std::string Message() const {
    std::vector<std::string> counted;
    for (const auto& [reason, count] : count_) counted.push_back(fmt::format("{} {}", count, reason));
    std::sort(counted.begin(), counted.end());  // as strings, as Kubernetes sorts them
    return fmt::format("0/{} nodes are available: {}.", nodes_, fmt::join(counted, ", "));
  }

 private:
  size_t nodes_ = 0;
  std::map<std::string, int> count_;
};

struct Candidate {
  const NodeInfo* node = nullptr;
  std::vector<PodInfoPtr> victims;  // most important first
};

class DefaultPreemption final : public PostFilterPlugin {
 public:
  DefaultPreemption(Handle& handle, int32_t min_percentage, int32_t min_absolute)
      : handle_(handle), min_percentage_(min_percentage), min_absolute_(min_absolute) {}

  std::string_view Name() const override { return kDefaultPreemption; }

  // Every answer but success reads "preemption: ...", as Kubernetes words it.
  Status PostFilter(CycleState& state, const PodInfo& pod, const NodeToStatus& filtered,
                    PostFilterResult* result) override {
    Status status = Preempt(state, pod, filtered, result);
    if (status.ok() || status.reasons().empty()) return status;
    std::vector<std::string> reasons = status.reasons();
    reasons.front() = "preemption: " + reasons.front();
    return Status(status.code(), std::move(reasons));
  }

 private:
  Status Preempt(CycleState& state, const PodInfo& pod, const NodeToStatus& filtered,
                 PostFilterResult* result) {
    if (pod.pod().spec().preemption_policy() == "Never") {
      return Status::Unschedulable("not eligible due to preemptionPolicy=Never.");
    }
    if (TerminatingVictimOnNominatedNode(pod)) {
      return Status::Unschedulable("not eligible due to a terminating pod on the nominated node.");
    }
    // Why each node cannot help, counted by reason as the message reports it.
    FitHistogram why;
    std::vector<const NodeInfo*> potential;
    size_t hopeless = 0;
    for (const NodeInfo* node : handle_.snapshot().nodes()) {
      auto it = filtered.find(node->name());
      if (it != filtered.end() && it->second.code() == Code::kUnschedulableAndUnresolvable) {
        ++hopeless;
      } else {
        potential.push_back(node);
      }
    }
    why.Add(kNotHelpful, hopeless);

    std::vector<Candidate> candidates;
    const size_t wanted = CandidatesToFind(potential.size());
    for (const NodeInfo* node : potential) {
      if (candidates.size() >= wanted) break;
      Candidate candidate{node, {}};
      Status status = SelectVictims(state, pod, *node, &candidate.victims);
      if (status.code() == Code::kError) return status;
      if (status.ok()) {
        candidates.push_back(std::move(candidate));
      } else {
        why.Add(status.reasons());
      }
    }
    if (candidates.empty()) return Status::Unschedulable(why.Message());

    const Candidate& chosen = Pick(candidates);
    Evict(pod, chosen);
    result->nominated_node_name = chosen.node->name();
    return Status();
  }

  // Kubernetes' calculateNumCandidates.
  size_t CandidatesToFind(size_t nodes) const {
    size_t n = nodes * static_cast<size_t>(min_percentage_) / 100;
    n = std::max(n, static_cast<size_t>(min_absolute_));
    return std::min(n, nodes);
  }

  // A pod already nominated somewhere, where a lower-priority pod is still terminating,
  // waits for that pod rather than preempting again.
  bool TerminatingVictimOnNominatedNode(const PodInfo& pod) const {
    const std::string& nominated = pod.pod().status().nominated_node_name();
    if (nominated.empty()) return false;
    const NodeInfo* node = handle_.snapshot().Get(nominated);
    if (node == nullptr) return false;
    for (const PodInfoPtr& other : node->pods()) {
      if (other->pod().metadata().has_deletion_timestamp() && other->priority() < pod.priority()) {
        return true;
      }
    }
    return false;
  }

  // Kubernetes' SelectVictimsOnNode on a copy of `node` and of `state`.
  Status SelectVictims(CycleState& state, const PodInfo& pod, const NodeInfo& node,
                       std::vector<PodInfoPtr>* victims) const {
    NodeInfo trial = node;
    std::unique_ptr<CycleState> trial_state = state.Clone();
    std::vector<PodInfoPtr> lower;
    for (const PodInfoPtr& other : node.pods()) {
      if (other->priority() < pod.priority()) lower.push_back(other);
    }
    for (const PodInfoPtr& other : lower) {
      trial.RemovePod(other->uid());
      Status status = handle_.RunPreFilterRemovePod(*trial_state, pod, *other, trial);
      if (!status.ok()) return status;
    }
    if (lower.empty()) return Status::Unresolvable(std::string(kNoVictims));
    Status fits = handle_.RunFilterPlugins(*trial_state, pod, trial);
    if (!fits.ok()) return fits;

    const absl::Time now = handle_.clock().Now();
    std::sort(lower.begin(), lower.end(), [now](const PodInfoPtr& a, const PodInfoPtr& b) {
      return MoreImportant(*a, *b, now);
    });
    // Give back what can be given back, most important first.
    for (const PodInfoPtr& other : lower) {
      trial.AddPod(other);
      Status added = handle_.RunPreFilterAddPod(*trial_state, pod, *other, trial);
      if (!added.ok()) return added;
      if (handle_.RunFilterPlugins(*trial_state, pod, trial).ok()) continue;  // reprieved
      trial.RemovePod(other->uid());
      Status removed = handle_.RunPreFilterRemovePod(*trial_state, pod, *other, trial);
      if (!removed.ok()) return removed;
      victims->push_back(other);
    }
    return Status();
  }

  // Kubernetes' pickOneNodeForPreemption.
  const Candidate& Pick(const std::vector<Candidate>& candidates) const {
    const absl::Time now = handle_.clock().Now();
    auto highest = [](const Candidate& c) {
      return c.victims.empty() ? INT_MIN : c.victims.front()->priority();
    };
    auto sum = [](const Candidate& c) {
      int64_t total = 0;  // shifted so that negative priorities still add up upwards
      for (const PodInfoPtr& v : c.victims) total += int64_t{v->priority()} + INT32_MAX + 1;
      return total;
    };
    // The earliest start among the victims of the highest priority.
    auto earliest_start = [&](const Candidate& c) {
      absl::Time earliest = absl::InfiniteFuture();
      for (const PodInfoPtr& v : c.victims) {
        if (v->priority() == highest(c)) earliest = std::min(earliest, StartTime(*v, now));
      }
      return earliest;
    };
    for (const Candidate& c : candidates) {
      if (c.victims.empty()) return c;
    }
    const Candidate* best = &candidates.front();
    for (const Candidate& c : candidates) {
      if (&c == best) continue;
      auto key = [&](const Candidate& x) {
        return std::make_tuple(highest(x), sum(x), x.victims.size());
      };
      if (key(c) < key(*best) ||
          (key(c) == key(*best) && earliest_start(c) > earliest_start(*best))) {
        best = &c;
      }
    }
    return *best;
  }

  // Deletes the victims gracefully and says why on each.
  void Evict(const PodInfo& preemptor, const Candidate& chosen) const {
    client::Client* client = handle_.client();
    if (client == nullptr) return;  // a what-if run: nothing is evicted
    for (const PodInfoPtr& victim : chosen.victims) {
      client::DeleteOptions options;
      options.preconditions.uid = victim->uid();  // never a namesake created since
      absl::Status deleted =
          client->Delete<api::v1::Pod>(victim->namespace_(), victim->name(), options);
      if (!deleted.ok()) continue;  // gone already, or it will be retried next cycle
      if (client::EventRecorder* recorder = handle_.event_recorder()) {
        (void)recorder->Record(victim->pod(), client::kEventNormal, "Preempted",
                               fmt::format("Preempted by pod {} on node {}", preemptor.uid(),
                                           chosen.node->name()));
      }
    }
  }

  Handle& handle_;
  const int32_t min_percentage_;
  const int32_t min_absolute_;
};

}  // namespace

FactoryResult NewDefaultPreemption(const PluginArgs& args, Handle& handle) {
  v1::DefaultPreemptionArgs decoded;
  ORCH_RETURN_IF_ERROR(args.DecodeInto(decoded));
  const int32_t percentage =
      decoded.has_min_candidate_nodes_percentage() ? decoded.min_candidate_nodes_percentage() : 10;
  const int32_t absolute =
      decoded.has_min_candidate_nodes_absolute() ? decoded.min_candidate_nodes_absolute() : 100;
  if (percentage < 0 || percentage > 100) {
    return args.Invalid("minCandidateNodesPercentage",
                        fmt::format("Invalid value: {}: not in valid range [0, 100]", percentage));
  }
  if (absolute < 0) {
    return args.Invalid("minCandidateNodesAbsolute",
                        fmt::format("Invalid value: {}: not in valid range [0, inf)", absolute));
  }
  if (percentage == 0 && absolute == 0) {
    return args.Invalid("minCandidateNodesPercentage",
                        "Invalid value: 0: cannot be zero at the same time as "
                        "minCandidateNodesAbsolute");
  }
  return std::make_unique<DefaultPreemption>(handle, percentage, absolute);
}

}  // namespace orch::scheduler::plugins
