#include "scheduler/profile.h"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "fmt/format.h"
#include "google/protobuf/struct.pb.h"
#include "orch/base/status.h"
#include "orch/scheduler/extender.h"
#include "scheduler/plugins/factories.h"
#include "scheduler/queue.h"

namespace orch::scheduler::internal {
namespace {

template <typename T>
bool Implements(Plugin* plugin) {
  return dynamic_cast<T*>(plugin) != nullptr;
}

bool ImplementsPoint(Plugin* plugin, ExtensionPoint point) {
  switch (point) {
    case ExtensionPoint::kQueueSort:
      return Implements<QueueSortPlugin>(plugin);
    case ExtensionPoint::kPreFilter:
      return Implements<PreFilterPlugin>(plugin);
    case ExtensionPoint::kFilter:
      return Implements<FilterPlugin>(plugin);
    case ExtensionPoint::kPostFilter:
      return Implements<PostFilterPlugin>(plugin);
    case ExtensionPoint::kPreScore:
      return Implements<PreScorePlugin>(plugin);
    case ExtensionPoint::kScore:
      return Implements<ScorePlugin>(plugin);
    case ExtensionPoint::kReserve:
      return Implements<ReservePlugin>(plugin);
    case ExtensionPoint::kPermit:
      return Implements<PermitPlugin>(plugin);
    case ExtensionPoint::kPreBind:
      return Implements<PreBindPlugin>(plugin);
    case ExtensionPoint::kBind:
      return Implements<BindPlugin>(plugin);
    case ExtensionPoint::kPostBind:
      return Implements<PostBindPlugin>(plugin);
  }
  return false;
}

// The pluginConfig args of `name` in profile `index`, or empty args.
PluginArgs ArgsOf(const v1::KubeSchedulerConfiguration& config, int index,
                  std::string_view source, const std::string& name) {
  if (index < config.profiles_size()) {
    const v1::KubeSchedulerProfile& profile = config.profiles(index);
    for (int i = 0; i < profile.plugin_config_size(); ++i) {
      if (profile.plugin_config(i).name() == name) {
        return PluginArgs(profile.plugin_config(i).args(),
                          fmt::format("{}: profiles[{}].pluginConfig[{}].args", source, index, i));
      }
    }
  }
  return PluginArgs({}, fmt::format("{}: profiles[{}].pluginConfig[{}]", source, index, name));
}

// NodeResourcesFit's args with `resources` added to ignoredResources: the resources that
// extenders manage with ignoredByScheduler, which they account for themselves. (kube-scheduler
// replaces the profile's ignoredResources with them; orch keeps both.) Args whose
// ignoredResources is not a list are left for the plugin to refuse.
PluginArgs IgnoringResources(const PluginArgs& args, const std::vector<std::string>& resources) {
  google::protobuf::Struct raw = args.raw();
  google::protobuf::Value& ignored = (*raw.mutable_fields())["ignoredResources"];
  if (ignored.kind_case() == google::protobuf::Value::KIND_NOT_SET ||
      ignored.kind_case() == google::protobuf::Value::kNullValue) {
    ignored.mutable_list_value();
  }
  if (ignored.kind_case() != google::protobuf::Value::kListValue) return args;
  google::protobuf::ListValue& list = *ignored.mutable_list_value();
  for (const std::string& resource : resources) {
    const bool listed = std::any_of(list.values().begin(), list.values().end(),
                                    [&](const auto& v) { return v.string_value() == resource; });
    if (!listed) list.add_values()->set_string_value(resource);
  }
  return PluginArgs(std::move(raw), args.source());
}

}  // namespace

absl::StatusOr<std::unique_ptr<Profile>> Profile::Create(
    const v1::KubeSchedulerConfiguration& config, int index, std::string_view source,
    const Registry& registry, const Environment& environment) {
  auto profile = std::unique_ptr<Profile>(new Profile(ResolvedProfile{}, environment));
  const std::vector<std::string> extender_resources = ExtenderIgnoredResources(config);
  for (const std::string& name : ProfilePluginNames(config, index)) {
    if (profile->instances_.contains(name)) continue;
    const PluginFactory* factory = registry.Find(name);
    if (factory == nullptr) {
      return absl::InvalidArgumentError(
          fmt::format("{}: profiles[{}]: unknown plugin \"{}\"", source, index, name));
    }
    PluginArgs args = ArgsOf(config, index, source, name);
    if (name == plugins::kNodeResourcesFit && !extender_resources.empty()) {
      args = IgnoringResources(args, extender_resources);
    }
    absl::StatusOr<std::unique_ptr<Plugin>> plugin = (*factory)(args, *profile);
    if (!plugin.ok()) return plugin.status();
    if (*plugin == nullptr) {
      return absl::InternalError(fmt::format("plugin \"{}\": factory returned nothing", name));
    }
    profile->instances_.emplace(name, *std::move(plugin));
  }
  const auto& instances = profile->instances_;
  ImplementsFn implements = [&instances](std::string_view name, ExtensionPoint point) {
    auto it = instances.find(name);
    return it != instances.end() && ImplementsPoint(it->second.get(), point);
  };
  absl::StatusOr<ResolvedProfile> resolved = ResolveProfile(config, index, source, implements);
  if (!resolved.ok()) return resolved.status();
  profile->resolved_ = *std::move(resolved);
  if (environment.client != nullptr) {
    profile->recorder_ = std::make_unique<client::EventRecorder>(
        environment.client, profile->resolved_.scheduler_name);
  }
  ORCH_RETURN_IF_ERROR(profile->Assign(source));
  return profile;
}

absl::Status Profile::Assign(std::string_view source) {
  auto fill = [&](const std::vector<PluginRef>& refs, auto& out, std::string_view point) {
    using Entry = typename std::remove_reference_t<decltype(out)>::value_type;
    for (const PluginRef& ref : refs) {
      auto it = instances_.find(ref.name);
      auto* plugin = it == instances_.end()
                         ? nullptr
                         : dynamic_cast<decltype(Entry::plugin)>(it->second.get());
      if (plugin == nullptr) {
        return absl::InvalidArgumentError(fmt::format(
            "{}: profile \"{}\": plugin \"{}\" does not implement {}", source,
            resolved_.scheduler_name, ref.name, point));
      }
      out.push_back(Entry{plugin, ref.name});
    }
    return absl::OkStatus();
  };
  ORCH_RETURN_IF_ERROR(fill(resolved_.pre_filter, pre_filter_, "preFilter"));
  ORCH_RETURN_IF_ERROR(fill(resolved_.filter, filter_, "filter"));
  ORCH_RETURN_IF_ERROR(fill(resolved_.post_filter, post_filter_, "postFilter"));
  ORCH_RETURN_IF_ERROR(fill(resolved_.pre_score, pre_score_, "preScore"));
  ORCH_RETURN_IF_ERROR(fill(resolved_.reserve, reserve_, "reserve"));
  ORCH_RETURN_IF_ERROR(fill(resolved_.permit, permit_, "permit"));
  ORCH_RETURN_IF_ERROR(fill(resolved_.pre_bind, pre_bind_, "preBind"));
  ORCH_RETURN_IF_ERROR(fill(resolved_.bind, bind_, "bind"));
  ORCH_RETURN_IF_ERROR(fill(resolved_.post_bind, post_bind_, "postBind"));
  std::vector<Named<ScorePlugin>> score;
  ORCH_RETURN_IF_ERROR(fill(resolved_.score, score, "score"));
  for (size_t i = 0; i < score.size(); ++i) {
    score_.push_back({score[i].plugin, resolved_.score[i].weight, score[i].name});
  }
  std::vector<Named<QueueSortPlugin>> sort;
  ORCH_RETURN_IF_ERROR(fill(resolved_.queue_sort, sort, "queueSort"));
  queue_sort_ = sort.front().plugin;  // ResolveProfile requires exactly one, and a binder
  return absl::OkStatus();
}

absl::flat_hash_map<std::string, std::vector<ClusterEvent>> Profile::RegisteredEvents() const {
  absl::flat_hash_map<std::string, std::vector<ClusterEvent>> events;
  for (const auto& [name, plugin] : instances_) {
    if (auto* ext = dynamic_cast<const EnqueueExtensions*>(plugin.get())) {
      events[name] = ext->EventsToRegister();
    }
  }
  return events;
}

bool Profile::ReusableFilters(const CycleState& state, DomainFilter* domain) const {
  *domain = DomainFilter();
  for (size_t i = 0; i < filter_.size(); ++i) {
    const FilterPlugin& f = *filter_[i].plugin;
    if (!FilterRuns(state, i) || f.NodeLocalThisCycle(state)) continue;
    std::optional<std::string_view> key = f.FilterDomainKey(state);
    if (!key.has_value() || domain->index >= 0) return false;
    *domain = {static_cast<int>(i), *key};
  }
  return true;
}

bool Profile::KeptScoreInputs(const CycleState& state, std::vector<std::string>* inputs) const {
  inputs->resize(score_.size());
  for (size_t i = 0; i < score_.size(); ++i) {
    const WeightedScorePlugin& s = score_[i];
    std::string& in = (*inputs)[i];
    in.clear();
    if (state.skip_score.contains(s.name) || s.plugin->NodeLocalThisCycle(state)) continue;
    if (!s.plugin->ScoreInputs(state, &in)) return false;
    in.insert(in.begin(), '+');  // never "", whatever the plugin wrote
  }
  return true;
}

// ------------------------------------------------------------------ scheduling cycle

Status Profile::RunPreFilter(CycleState& state, const PodInfo& pod, PreFilterResult* result) {
  *result = PreFilterResult{};
  Status status = PreFilterPlugins(state, pod, result);
  // The Filter plan: each Filter plugin's skip decided once, not per node.
  state.filter_runs_.resize(filter_.size());
  for (size_t i = 0; i < filter_.size(); ++i) {
    state.filter_runs_[i] = !state.skip_filter.contains(filter_[i].name);
  }
  return status;
}

Status Profile::PreFilterPlugins(CycleState& state, const PodInfo& pod, PreFilterResult* result) {
  for (const auto& p : pre_filter_) {
    PreFilterResult narrowed;
    Status status = p.plugin->PreFilter(state, pod, &narrowed);
    if (status.IsSkip()) {
      state.skip_filter.insert(p.name);
      continue;
    }
    if (!status.ok()) return status.WithPlugin(p.name);
    if (!narrowed.all_nodes) {
      if (result->all_nodes) {
        *result = std::move(narrowed);
      } else {
        absl::erase_if(result->node_names,
                       [&](const std::string& n) { return !narrowed.node_names.contains(n); });
      }
      if (result->node_names.empty()) {
        return Status::Unresolvable(
                   "node(s) didn't satisfy plugin(s) [" + p.name + "] simultaneously")
            .WithPlugin(p.name);
      }
    }
  }
  return Status();
}

bool Profile::HasNominatedPods() const {
  return nominator_ != nullptr && nominator_->HasNominatedPods();
}

// Kubernetes' RunFilterPluginsWithNominatedPods: the pods nominated to `node` with at
// least `pod`'s priority count as if they were there (so a preemptor's freed room is not
// taken by a pod of lower priority), and when some were added the filters must also pass
// without them (an affinity they alone satisfy may never come true).
Status Profile::RunFilterPlugins(CycleState& state, const PodInfo& pod,
                                 const NodeInfo& node) const {
  if (!HasNominatedPods()) return RunFilters(state, pod, node);
  return RunFilterPluginsWithNominated(state, pod, node,
                                       nominator_->NominatedPodsForNode(node.name()));
}

StringMap<std::vector<PodInfoPtr>> Profile::NominatedPodsByNode() const {
  if (nominator_ == nullptr) return {};
  return nominator_->NominatedPodsByNode();
}

Status Profile::RunFilterPluginsWithNominated(CycleState& state, const PodInfo& pod,
                                              const NodeInfo& node,
                                              std::vector<PodInfoPtr> nominated) const {
  std::erase_if(nominated, [&pod](const PodInfoPtr& other) {
    return other->priority() < pod.priority() || other->uid() == pod.uid();
  });
  if (nominated.empty()) return RunFilters(state, pod, node);
  NodeInfo with_nominated = node;
  std::unique_ptr<CycleState> with_state = state.Clone();
  for (const PodInfoPtr& other : nominated) {
    with_nominated.AddPod(other);
    Status added = RunPreFilterAddPod(*with_state, pod, *other, with_nominated);
    if (!added.ok()) return added;
  }
  Status status = RunFilters(*with_state, pod, with_nominated);
  if (!status.ok()) return status;
  return RunFilters(state, pod, node);
}

bool Profile::FilterRuns(const CycleState& state, size_t i) const {
  if (state.filter_runs_.size() == filter_.size()) return state.filter_runs_[i];
  return state.skip_filter.empty() || !state.skip_filter.contains(filter_[i].name);
}

namespace {

// A Filter plugin's rejection as the cycle records it (Error: wrapped, naming the plugin).
Status FilterFailure(Status status, const std::string& plugin) {
  if (status.code() == Code::kError) {
    return Status::Error(fmt::format("running \"{}\" filter plugin: {}", plugin, status.Message()))
        .WithPlugin(plugin);
  }
  return std::move(status.WithPlugin(plugin));
}

}  // namespace

Status Profile::RunFilters(CycleState& state, const PodInfo& pod, const NodeInfo& node) const {
  return RunFiltersExcept(state, pod, node, /*except=*/-1, /*rejected_by=*/nullptr);
}

Status Profile::RunFiltersExcept(CycleState& state, const PodInfo& pod, const NodeInfo& node,
                                 int except, int* rejected_by) const {
  for (size_t i = 0; i < filter_.size(); ++i) {
    if (!FilterRuns(state, i) || static_cast<int>(i) == except) continue;
    Status status = filter_[i].plugin->Filter(state, pod, node);
    if (!status.ok()) {
      if (rejected_by != nullptr) *rejected_by = static_cast<int>(i);
      return FilterFailure(std::move(status), filter_[i].name);
    }
  }
  if (rejected_by != nullptr) *rejected_by = -1;
  return Status();
}

Status Profile::RunFilterDomain(CycleState& state, const PodInfo& pod, int index,
                                const std::string* value) const {
  const auto& f = filter_[static_cast<size_t>(index)];
  Status status = f.plugin->FilterDomain(state, pod, value);
  if (status.ok()) return status;
  return FilterFailure(std::move(status), f.name);
}

Status Profile::FilterNodes(CycleState& state, const PodInfo& pod,
                            std::vector<const NodeInfo*>& nodes, NodeFailures& failed) const {
  for (size_t i = 0; i < filter_.size() && !nodes.empty(); ++i) {
    if (!FilterRuns(state, i)) continue;
    const size_t before = failed.size();
    Status status = filter_[i].plugin->FilterNodes(state, pod, nodes, failed);
    if (status.code() == Code::kError) return FilterFailure(std::move(status), filter_[i].name);
    for (size_t k = before; k < failed.size(); ++k) {
      failed[k].second = FilterFailure(std::move(failed[k].second), filter_[i].name);
      if (failed[k].second.code() == Code::kError) return failed[k].second;
    }
  }
  return Status();
}

Status Profile::RunPreFilterAddPod(CycleState& state, const PodInfo& pod, const PodInfo& added,
                                   const NodeInfo& node) const {
  for (const auto& p : pre_filter_) {
    if (state.skip_filter.contains(p.name)) continue;
    Status status = p.plugin->AddPod(state, pod, added, node);
    if (!status.ok()) return status.WithPlugin(p.name);
  }
  return Status();
}

Status Profile::RunPreFilterRemovePod(CycleState& state, const PodInfo& pod,
                                      const PodInfo& removed, const NodeInfo& node) const {
  for (const auto& p : pre_filter_) {
    if (state.skip_filter.contains(p.name)) continue;
    Status status = p.plugin->RemovePod(state, pod, removed, node);
    if (!status.ok()) return status.WithPlugin(p.name);
  }
  return Status();
}

bool Profile::AllowWaitingPod(std::string_view uid, std::string_view plugin) {
  return waiting_ != nullptr && waiting_->Allow(uid, plugin);
}

bool Profile::RejectWaitingPod(std::string_view uid, std::string_view plugin,
                               std::string_view message) {
  return waiting_ != nullptr && waiting_->Reject(uid, plugin, message);
}

Status Profile::RunPostFilter(CycleState& state, const PodInfo& pod,
                              const NodeToStatus& filtered, PostFilterResult* result) {
  // The first plugin that succeeds (or errs) decides; rejections are collected.
  std::vector<std::string> reasons;
  for (const auto& p : post_filter_) {
    Status status = p.plugin->PostFilter(state, pod, filtered, result);
    if (status.ok() || status.code() == Code::kError) return status.WithPlugin(p.name);
    for (const std::string& r : status.reasons()) reasons.push_back(r);
  }
  return Status(Code::kUnschedulable, std::move(reasons));
}

Status Profile::RunPreScore(CycleState& state, const PodInfo& pod,
                            const std::vector<const NodeInfo*>& feasible) {
  for (const auto& p : pre_score_) {
    Status status = p.plugin->PreScore(state, pod, feasible);
    if (status.IsSkip()) {
      state.skip_score.insert(p.name);
      continue;
    }
    if (!status.ok()) return status.WithPlugin(p.name);
  }
  return Status();
}

// ------------------------------------------------------------------ binding cycle

Status Profile::RunReserve(CycleState& state, const PodInfo& pod, const std::string& node) {
  for (const auto& p : reserve_) {
    Status status = p.plugin->Reserve(state, pod, node);
    if (!status.ok()) return status.WithPlugin(p.name);
  }
  return Status();
}

void Profile::RunUnreserve(CycleState& state, const PodInfo& pod, const std::string& node) {
  for (auto it = reserve_.rbegin(); it != reserve_.rend(); ++it) {
    it->plugin->Unreserve(state, pod, node);
  }
}

Status Profile::RunPermit(CycleState& state, const PodInfo& pod, const std::string& node,
                          absl::Duration* timeout, std::vector<std::string>* waiting_plugins) {
  *timeout = absl::ZeroDuration();
  waiting_plugins->clear();
  for (const auto& p : permit_) {
    absl::Duration wait = absl::ZeroDuration();
    Status status = p.plugin->Permit(state, pod, node, &wait);
    if (status.code() == Code::kWait) {
      // Kubernetes caps a permit wait at 15 minutes.
      *timeout = std::max(*timeout, std::min(wait, absl::Minutes(15)));
      waiting_plugins->push_back(p.name);
      continue;
    }
    if (!status.ok()) return status.WithPlugin(p.name);
  }
  return waiting_plugins->empty() ? Status() : Status::Wait();
}

Status Profile::RunPreBind(CycleState& state, const PodInfo& pod, const std::string& node) {
  for (const auto& p : pre_bind_) {
    Status status = p.plugin->PreBind(state, pod, node);
    if (!status.ok()) return status.WithPlugin(p.name);
  }
  return Status();
}

Status Profile::RunBind(CycleState& state, const PodInfo& pod, const std::string& node) {
  for (const auto& p : bind_) {
    Status status = p.plugin->Bind(state, pod, node);
    if (status.IsSkip()) continue;
    return status.WithPlugin(p.name);
  }
  return Status::Error("no bind plugin bound the pod");
}

void Profile::RunPostBind(CycleState& state, const PodInfo& pod, const std::string& node) {
  for (const auto& p : post_bind_) p.plugin->PostBind(state, pod, node);
}

}  // namespace orch::scheduler::internal
