// NodeResourcesFit: the node must have room for the pod's requests, and nodes are scored by
// how allocated they would be.
//
//   Filter  fails with one reason per short resource ("Too many pods", "Insufficient cpu",
//           "Insufficient example.com/gpu"), Unschedulable, or Unresolvable when the pod
//           asks for more than the node's whole allocatable (no preemption can help).
//           ignoredResources / ignoredResourceGroups exempt extended resources.
//   Score   LeastAllocated (default), MostAllocated or RequestedToCapacityRatio over the
//           configured resources and weights; cpu and memory count containers without
//           requests at the non-zero defaults. Scores are 0..100 already.
#include <algorithm>
#include <cmath>
#include <string>
#include <variant>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "fmt/format.h"
#include "orch/api/validation.h"
#include "orch/base/status.h"
#include "orch/scheduler/config.pb.h"
#include "scheduler/plugins/factories.h"
#include "scheduler/plugins/resource_allocation.h"

namespace orch::scheduler::plugins {
namespace {

namespace cfg = ::orch::scheduler::v1;

constexpr std::string_view kPreFilterStateKey = "PreFilterNodeResourcesFit";
constexpr std::string_view kPreScoreStateKey = "PreScoreNodeResourcesFit";

constexpr std::string_view kLeastAllocated = "LeastAllocated";
constexpr std::string_view kMostAllocated = "MostAllocated";
constexpr std::string_view kRequestedToCapacityRatio = "RequestedToCapacityRatio";

// The shape's scores run 0..10; scheduler scores 0..100.
constexpr int64_t kMaxCustomPriorityScore = 10;
constexpr int64_t kMaxUtilization = 100;

// Kubernetes' IsExtendedResourceName: a domain-prefixed name outside kubernetes.io (the
// only ones ignoredResources and ignoredResourceGroups can exempt).
bool IsExtendedResourceName(std::string_view name) {
  return name.find('/') != std::string_view::npos &&
         name.find("kubernetes.io/") == std::string_view::npos &&
         !name.starts_with("requests.");
}

// The pod's scalar requests the Filter checks (not zero, not ignored), by name.
using Scalars = std::vector<std::pair<const std::string*, int64_t>>;

// Scalars, computed once per pod.
struct PreFilterState final : CycleState::Data {
  Scalars scalars;
  std::unique_ptr<Data> Clone() const override { return std::make_unique<PreFilterState>(*this); }
};

struct PreScoreState final : CycleState::Data {
  ResourceAmounts pod_requests;
  std::unique_ptr<Data> Clone() const override { return std::make_unique<PreScoreState>(*this); }
};

// ------------------------------------------------------------------ scorers

int64_t LeastRequestedScore(int64_t requested, int64_t capacity) {
  if (capacity == 0 || requested > capacity) return 0;
  return (capacity - requested) * kMaxNodeScore / capacity;
}

int64_t MostRequestedScore(int64_t requested, int64_t capacity) {
  if (capacity == 0) return 0;
  // Requests may exceed capacity: pods without requests count at the non-zero defaults.
  requested = std::min(requested, capacity);
  return requested * kMaxNodeScore / capacity;
}

// The weighted mean of a per-resource score over the resources the node has: the scorer
// of LeastAllocated and MostAllocated.
template <int64_t (*PerResource)(int64_t requested, int64_t capacity)>
class WeightedMean {
 public:
  explicit WeightedMean(const std::vector<ScoredResource>& resources) {
    int64_t total = 0;
    for (const ScoredResource& r : resources) {
      weights_.push_back(r.weight);
      total += r.weight;
    }
    // The weights of the default (1 and 1) sum to a power of two: a node that has every
    // resource then needs a shift, not a division (the scores are not negative).
    if (total > 0 && (total & (total - 1)) == 0) {
      all_weights_ = total;
      while ((int64_t{1} << shift_) < total) ++shift_;
    }
  }
  [[gnu::always_inline]] int64_t operator()(Amounts requested, Amounts allocatable) const {
    int64_t node_score = 0;
    int64_t weight_sum = 0;
    const int64_t* weights = weights_.data();
    for (size_t i = 0; i < requested.size(); ++i) {
      if (allocatable[i] == 0) continue;
      node_score += PerResource(requested[i], allocatable[i]) * weights[i];
      weight_sum += weights[i];
    }
    if (weight_sum == all_weights_) return node_score >> shift_;
    return weight_sum == 0 ? 0 : node_score / weight_sum;
  }

 private:
  ResourceAmounts weights_;
  int64_t all_weights_ = -1;  // their sum when a power of two
  int shift_ = 0;             // its log2
};
using LeastAllocated = WeightedMean<&LeastRequestedScore>;
using MostAllocated = WeightedMean<&MostRequestedScore>;

struct ShapePoint {
  int64_t utilization = 0;
  int64_t score = 0;  // already scaled to 0..100
};

// Kubernetes' broken linear function: the first point's score below it, the last point's
// above, and integer linear interpolation between neighbours.
int64_t BrokenLinear(const std::vector<ShapePoint>& shape, int64_t p) {
  for (size_t i = 0; i < shape.size(); ++i) {
    if (p <= shape[i].utilization) {
      if (i == 0) return shape[0].score;
      const ShapePoint& a = shape[i - 1];
      const ShapePoint& b = shape[i];
      return a.score + (b.score - a.score) * (p - a.utilization) / (b.utilization - a.utilization);
    }
  }
  return shape.back().score;
}

// The scorer of RequestedToCapacityRatio: the shape's score of each resource's
// utilization, weighted.
class RequestedToCapacityRatio {
 public:
  RequestedToCapacityRatio(const std::vector<ScoredResource>& resources,
                           std::vector<ShapePoint> shape)
      : shape_(std::move(shape)) {
    for (const ScoredResource& r : resources) weights_.push_back(r.weight);
  }
  [[gnu::always_inline]] int64_t operator()(Amounts requested, Amounts allocatable) const {
    int64_t node_score = 0;
    int64_t weight_sum = 0;
    for (size_t i = 0; i < requested.size(); ++i) {
      if (allocatable[i] == 0) continue;
      const int64_t utilization = requested[i] > allocatable[i]
                                      ? kMaxUtilization
                                      : requested[i] * kMaxUtilization / allocatable[i];
      const int64_t score = BrokenLinear(shape_, utilization);
      // Resources scoring 0 do not count in the mean, as in Kubernetes.
      if (score > 0) {
        node_score += score * weights_[i];
        weight_sum += weights_[i];
      }
    }
    if (weight_sum == 0) return int64_t{0};
    return static_cast<int64_t>(
        std::round(static_cast<double>(node_score) / static_cast<double>(weight_sum)));
  }

 private:
  std::vector<ShapePoint> shape_;
  ResourceAmounts weights_;
};

// The configured scoring strategy.
using Strategy = std::variant<LeastAllocated, MostAllocated, RequestedToCapacityRatio>;

// ------------------------------------------------------------------ the plugin

class NodeResourcesFit final : public PreFilterPlugin,
                               public FilterPlugin,
                               public PreScorePlugin,
                               public ScorePlugin,
                               public EnqueueExtensions {
 public:
  NodeResourcesFit(absl::flat_hash_set<std::string> ignored_resources,
                   absl::flat_hash_set<std::string> ignored_groups,
                   std::vector<ScoredResource> resources, Strategy strategy)
      : ignored_resources_(std::move(ignored_resources)),
        ignored_groups_(std::move(ignored_groups)),
        allocation_(std::move(resources), /*use_requested=*/false),
        strategy_(std::move(strategy)) {}

  std::string_view Name() const override { return kNodeResourcesFit; }

  Status PreFilter(CycleState& state, const PodInfo& pod, PreFilterResult* result) override {
    auto data = std::make_unique<PreFilterState>();
    data->scalars = CheckedScalars(pod);
    state.Write(kPreFilterStateKey, std::move(data));
    return Status();
  }

  Status Filter(CycleState& state, const PodInfo& pod, const NodeInfo& node) const override {
    const PreFilterState* s = state.Read<PreFilterState>(kPreFilterStateKey);
    if (s != nullptr) return Fits(pod, s->scalars, node);
    return Fits(pod, CheckedScalars(pod), node);
  }

  Status FilterNodes(CycleState& state, const PodInfo& pod, std::vector<const NodeInfo*>& nodes,
                     NodeFailures& failed) const override {
    const PreFilterState* s = state.Read<PreFilterState>(kPreFilterStateKey);
    if (s == nullptr) return FilterPlugin::FilterNodes(state, pod, nodes, failed);
    return KeepFeasible(
        nodes, failed,
        [&](const NodeInfo& node) { return !Shortfall::Of(pod, s->scalars, node).any(); },
        [&](const NodeInfo& node) { return Fits(pod, s->scalars, node); });
  }

  Status PreScore(CycleState& state, const PodInfo& pod,
                  const std::vector<const NodeInfo*>& feasible) override {
    auto data = std::make_unique<PreScoreState>();
    data->pod_requests = allocation_.PodRequests(pod);
    state.Write(kPreScoreStateKey, std::move(data));
    return Status();
  }

  Status Score(CycleState& state, const PodInfo& pod, const NodeInfo& node,
               int64_t* score) const override {
    const PreScoreState* s = state.Read<PreScoreState>(kPreScoreStateKey);
    const ResourceAmounts requests = s != nullptr ? s->pod_requests : allocation_.PodRequests(pod);
    *score = std::visit(
        [&](const auto& scorer) { return allocation_.Score(node, requests, scorer); }, strategy_);
    return Status();
  }

  Status ScoreNodes(CycleState& state, const PodInfo& pod, absl::Span<const NodeInfo* const> nodes,
                    absl::Span<int64_t> scores) const override {
    const PreScoreState* s = state.Read<PreScoreState>(kPreScoreStateKey);
    const ResourceAmounts requests = s != nullptr ? s->pod_requests : allocation_.PodRequests(pod);
    std::visit([&](const auto& scorer) { allocation_.ScoreNodes(nodes, requests, scores, scorer); },
               strategy_);
    return Status();
  }

  std::vector<ClusterEvent> EventsToRegister() const override {
    return {{EventResource::kPod, kDelete | kUpdatePodScaleDown},
            {EventResource::kNode, kAdd | kUpdateNodeAllocatable}};
  }

 private:
  bool Ignored(const std::string& name) const {
    if (!IsExtendedResourceName(name)) return false;
    if (ignored_resources_.contains(name)) return true;
    if (ignored_groups_.empty()) return false;
    return ignored_groups_.contains(name.substr(0, name.find('/')));
  }

  Scalars CheckedScalars(const PodInfo& pod) const {
    Scalars scalars;
    for (const auto& [name, amount] : pod.requests().scalar) {
      if (amount != 0 && !Ignored(name)) scalars.emplace_back(&name, amount);
    }
    return scalars;
  }

  // What the node lacks for the pod, resource by resource.
  struct Shortfall {
    bool pods = false;
    bool cpu = false;
    bool memory = false;
    bool storage = false;
    bool scalar = false;
    bool any() const { return pods || cpu || memory || storage || scalar; }

    static Shortfall Of(const PodInfo& pod, const Scalars& scalars, const NodeInfo& node) {
      const Resources& want = pod.requests();
      const Resources& alloc = node.allocatable();
      const Resources& used = node.requested();
      Shortfall s;
      s.pods = static_cast<int64_t>(node.pods().size()) + 1 > alloc.pods;
      s.cpu = want.milli_cpu > 0 && want.milli_cpu > alloc.milli_cpu - used.milli_cpu;
      s.memory = want.memory > 0 && want.memory > alloc.memory - used.memory;
      s.storage = want.ephemeral_storage > 0 &&
                  want.ephemeral_storage > alloc.ephemeral_storage - used.ephemeral_storage;
      for (const auto& [name, amount] : scalars) {
        if (amount > ScalarOf(alloc, *name) - ScalarOf(used, *name)) s.scalar = true;
      }
      return s;
    }
  };

  // Kubernetes' fitsRequest. Success allocates nothing; reasons are built on failure only.
  static Status Fits(const PodInfo& pod, const Scalars& scalars, const NodeInfo& node) {
    const Shortfall short_of = Shortfall::Of(pod, scalars, node);
    if (!short_of.any()) return Status();

    const Resources& want = pod.requests();
    const Resources& alloc = node.allocatable();
    const Resources& used = node.requested();
    std::vector<std::string> reasons;
    bool unresolvable = false;
    if (short_of.pods) reasons.emplace_back("Too many pods");
    if (short_of.cpu) {
      reasons.emplace_back("Insufficient cpu");
      unresolvable |= want.milli_cpu > alloc.milli_cpu;
    }
    if (short_of.memory) {
      reasons.emplace_back("Insufficient memory");
      unresolvable |= want.memory > alloc.memory;
    }
    if (short_of.storage) {
      reasons.emplace_back("Insufficient ephemeral-storage");
      unresolvable |= want.ephemeral_storage > alloc.ephemeral_storage;
    }
    for (const auto& [name, amount] : scalars) {
      const int64_t capacity = ScalarOf(alloc, *name);
      if (amount > capacity - ScalarOf(used, *name)) {
        reasons.push_back("Insufficient " + *name);
        unresolvable |= amount > capacity;
      }
    }
    return Status(unresolvable ? Code::kUnschedulableAndUnresolvable : Code::kUnschedulable,
                  std::move(reasons));
  }

  static int64_t ScalarOf(const Resources& resources, const std::string& name) {
    auto it = resources.scalar.find(name);
    return it == resources.scalar.end() ? 0 : it->second;
  }

  const absl::flat_hash_set<std::string> ignored_resources_;
  const absl::flat_hash_set<std::string> ignored_groups_;
  const ResourceAllocation allocation_;
  const Strategy strategy_;
};

// ------------------------------------------------------------------ args

absl::Status ValidateResources(const PluginArgs& args,
                               const std::vector<ScoredResource>& resources) {
  for (size_t i = 0; i < resources.size(); ++i) {
    if (resources[i].weight <= 0 || resources[i].weight > 100) {
      return args.Invalid(
          fmt::format("scoringStrategy.resources[{}].weight", i),
          fmt::format("Invalid value: {}: resource weight of {} not in valid range (0, 100]",
                      resources[i].weight, resources[i].name));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ShapePoint>> ValidatedShape(
    const PluginArgs& args, const google::protobuf::RepeatedPtrField<cfg::UtilizationShapePoint>& shape) {
  if (shape.empty()) {
    return args.Invalid("scoringStrategy.shape",
                        "Required value: at least one point must be specified");
  }
  for (int i = 1; i < shape.size(); ++i) {
    if (shape[i - 1].utilization() >= shape[i].utilization()) {
      return args.Invalid(fmt::format("scoringStrategy.shape[{}].utilization", i),
                          fmt::format("Invalid value: {}: values must be sorted in increasing order",
                                      shape[i].utilization()));
    }
  }
  std::vector<ShapePoint> points;
  for (int i = 0; i < shape.size(); ++i) {
    const cfg::UtilizationShapePoint& p = shape[i];
    if (p.utilization() < 0 || p.utilization() > kMaxUtilization) {
      return args.Invalid(fmt::format("scoringStrategy.shape[{}].utilization", i),
                          fmt::format("Invalid value: {}: not in valid range [0, 100]",
                                      p.utilization()));
    }
    if (p.score() < 0 || p.score() > kMaxCustomPriorityScore) {
      return args.Invalid(fmt::format("scoringStrategy.shape[{}].score", i),
                          fmt::format("Invalid value: {}: not in valid range [0, 10]", p.score()));
    }
    points.push_back({p.utilization(), p.score() * (kMaxNodeScore / kMaxCustomPriorityScore)});
  }
  return points;
}

absl::Status ValidateLabelNames(const PluginArgs& args, std::string_view field,
                                const google::protobuf::RepeatedPtrField<std::string>& names,
                                bool is_group) {
  for (int i = 0; i < names.size(); ++i) {
    const std::string path = fmt::format("{}[{}]", field, i);
    if (is_group && names[i].find('/') != std::string::npos) {
      return args.Invalid(path, fmt::format("Invalid value: \"{}\": resource group name can't "
                                            "contain '/'",
                                            names[i]));
    }
    if (std::vector<std::string> problems = api::IsQualifiedName(names[i]); !problems.empty()) {
      return args.Invalid(path, fmt::format("Invalid value: \"{}\": {}", names[i], problems[0]));
    }
  }
  return absl::OkStatus();
}

}  // namespace

FactoryResult NewNodeResourcesFit(const PluginArgs& args, Handle& handle) {
  cfg::NodeResourcesFitArgs parsed;
  ORCH_RETURN_IF_ERROR(args.DecodeInto(parsed));
  ORCH_RETURN_IF_ERROR(
      ValidateLabelNames(args, "ignoredResources", parsed.ignored_resources(), false));
  ORCH_RETURN_IF_ERROR(
      ValidateLabelNames(args, "ignoredResourceGroups", parsed.ignored_resource_groups(), true));

  // Kubernetes' defaults: LeastAllocated over cpu and memory; weight 0 means 1.
  std::string type(kLeastAllocated);
  std::vector<ScoredResource> resources = DefaultScoredResources();
  if (parsed.has_scoring_strategy()) {
    const cfg::ScoringStrategy& strategy = parsed.scoring_strategy();
    type = strategy.type();
    if (type != kLeastAllocated && type != kMostAllocated && type != kRequestedToCapacityRatio) {
      return args.Invalid("scoringStrategy.type",
                          fmt::format("Unsupported value: \"{}\": supported values: "
                                      "\"LeastAllocated\", \"MostAllocated\", "
                                      "\"RequestedToCapacityRatio\"",
                                      type));
    }
    if (!strategy.resources().empty()) resources = ToScoredResources(strategy.resources());
    for (ScoredResource& r : resources) {
      if (r.weight == 0) r.weight = 1;
    }
  }
  ORCH_RETURN_IF_ERROR(ValidateResources(args, resources));

  // The shape is checked whenever given, and required by RequestedToCapacityRatio.
  std::vector<ShapePoint> shape;
  const cfg::ScoringStrategy& strategy = parsed.scoring_strategy();
  if (strategy.has_requested_to_capacity_ratio() || type == kRequestedToCapacityRatio) {
    ORCH_ASSIGN_OR_RETURN(shape,
                          ValidatedShape(args, strategy.requested_to_capacity_ratio().shape()));
  }
  Strategy scorer = LeastAllocated(resources);
  if (type == kMostAllocated) {
    scorer = MostAllocated(resources);
  } else if (type == kRequestedToCapacityRatio) {
    scorer = RequestedToCapacityRatio(resources, std::move(shape));
  }
  absl::flat_hash_set<std::string> ignored(parsed.ignored_resources().begin(),
                                           parsed.ignored_resources().end());
  absl::flat_hash_set<std::string> groups(parsed.ignored_resource_groups().begin(),
                                          parsed.ignored_resource_groups().end());
  return std::make_unique<NodeResourcesFit>(
      std::move(ignored), std::move(groups),
      std::move(resources), std::move(scorer));
}

}  // namespace orch::scheduler::plugins
