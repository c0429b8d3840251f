// NodeResourcesBalancedAllocation: prefers nodes whose resources would be used evenly with
// the pod placed: score = (1 - standard deviation of the requested/allocatable fractions)
// × 100, over the configured resources (cpu and memory by default). Pods that request none
// of them are not scored (Skip), so that best-effort pods do not all pile onto one node.
#include <cmath>

#include "absl/container/flat_hash_set.h"
#include "fmt/format.h"
#include "orch/base/status.h"
#include "orch/scheduler/config.pb.h"
#include "scheduler/plugins/factories.h"
#include "scheduler/plugins/resource_allocation.h"

namespace orch::scheduler::plugins {
namespace {

constexpr std::string_view kPreScoreStateKey = "PreScoreNodeResourcesBalancedAllocation";

struct PreScoreState final : CycleState::Data {
  ResourceAmounts pod_requests;
  std::unique_ptr<Data> Clone() const override { return std::make_unique<PreScoreState>(*this); }
};

// Kubernetes' balancedResourceScorer, in the same floating-point steps. Always inlined, so
// that with the default two resources the loops below unroll in the loop over the nodes.
struct BalancedScore {
  [[gnu::always_inline]] int64_t operator()(Amounts requested, Amounts allocatable) const {
    // The requested/allocatable fraction of each resource the node has, capped at 1.
    auto fraction = [&](size_t i) {
      const double f = static_cast<double>(requested[i]) / static_cast<double>(allocatable[i]);
      return f > 1 ? 1.0 : f;
    };
    size_t count = 0;
    double total = 0;
    double first = 0;
    double second = 0;
    for (size_t i = 0; i < requested.size(); ++i) {
      if (allocatable[i] == 0) continue;
      const double f = fraction(i);
      total += f;
      (count == 0 ? first : second) = f;
      ++count;
    }
    double std_dev = 0;
    if (count == 2) {
      // The two-resource case, as Kubernetes simplifies it.
      std_dev = std::abs((first - second) / 2);
    } else if (count > 2) {
      const double mean = total / static_cast<double>(count);
      double sum = 0;
      for (size_t i = 0; i < requested.size(); ++i) {
        if (allocatable[i] == 0) continue;
        sum = sum + (fraction(i) - mean) * (fraction(i) - mean);
      }
      std_dev = std::sqrt(sum / static_cast<double>(count));
    }
    return static_cast<int64_t>((1 - std_dev) * static_cast<double>(kMaxNodeScore));
  }
};

bool RequestsNothing(const ResourceAmounts& requests) {
  for (int64_t r : requests) {
    if (r != 0) return false;
  }
  return true;
}

class BalancedAllocation final : public PreScorePlugin, public ScorePlugin {
 public:
  explicit BalancedAllocation(std::vector<ScoredResource> resources)
      : allocation_(std::move(resources), /*use_requested=*/true) {}

  std::string_view Name() const override { return kBalancedAllocation; }

  Status PreScore(CycleState& state, const PodInfo& pod,
                  const std::vector<const NodeInfo*>& feasible) override {
    ResourceAmounts requests = allocation_.PodRequests(pod);
    if (RequestsNothing(requests)) return Status::Skip();
    auto data = std::make_unique<PreScoreState>();
    data->pod_requests = std::move(requests);
    state.Write(kPreScoreStateKey, std::move(data));
    return Status();
  }

  Status Score(CycleState& state, const PodInfo& pod, const NodeInfo& node,
               int64_t* score) const override {
    const PreScoreState* s = state.Read<PreScoreState>(kPreScoreStateKey);
    if (s != nullptr) {
      *score = allocation_.Score(node, s->pod_requests, BalancedScore{});
      return Status();
    }
    ResourceAmounts requests = allocation_.PodRequests(pod);
    *score = RequestsNothing(requests) ? 0 : allocation_.Score(node, requests, BalancedScore{});
    return Status();
  }

  Status ScoreNodes(CycleState& state, const PodInfo& pod, absl::Span<const NodeInfo* const> nodes,
                    absl::Span<int64_t> scores) const override {
    const PreScoreState* s = state.Read<PreScoreState>(kPreScoreStateKey);
    if (s != nullptr) {
      allocation_.ScoreNodes(nodes, s->pod_requests, scores, BalancedScore{});
      return Status();
    }
    return ScorePlugin::ScoreNodes(state, pod, nodes, scores);
  }

 private:
  const ResourceAllocation allocation_;
};

}  // namespace

FactoryResult NewBalancedAllocation(const PluginArgs& args, Handle& handle) {
  ::orch::scheduler::v1::NodeResourcesBalancedAllocationArgs parsed;
  ORCH_RETURN_IF_ERROR(args.DecodeInto(parsed));
  // Kubernetes' defaults (cpu and memory; weight 0 means 1) and validation: each resource
  // once, and weight 1 (the standard deviation is unweighted).
  std::vector<ScoredResource> resources = parsed.resources().empty()
                                              ? DefaultScoredResources()
                                              : ToScoredResources(parsed.resources());
  absl::flat_hash_set<std::string> seen;
  for (size_t i = 0; i < resources.size(); ++i) {
    ScoredResource& r = resources[i];
    if (r.weight == 0) r.weight = 1;
    if (!seen.insert(r.name).second) {
      return args.Invalid(fmt::format("resources[{}].name", i),
                          fmt::format("Duplicate value: \"{}\"", r.name));
    }
    if (r.weight != 1) {
      return args.Invalid(fmt::format("resources[{}].weight", i),
                          fmt::format("Invalid value: {}: must be 1", r.weight));
    }
  }
  return std::make_unique<BalancedAllocation>(std::move(resources));
}

}  // namespace orch::scheduler::plugins
