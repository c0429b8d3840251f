#include "orch/controller/node_lifecycle.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "orch/api/labels.h"
#include "orch/api/time.h"
#include "controller/nodes.h"
#include "controller/pods.h"
#include "controller/token_bucket.h"
#include "controller/watches.h"
#include "fmt/format.h"
#include "orch/api/v1/coordination.pb.h"
#include "orch/api/v1/core.pb.h"
#include "orch/base/mutex.h"
#include "orch/base/string_map.h"
#include "orch/client/retry.h"

namespace orch::controller {

namespace {

namespace v1 = api::v1;
using google::protobuf::Timestamp;
using internal::PodPtr;
using NodePtr = std::shared_ptr<const v1::Node>;

constexpr char kComponent[] = "node-controller";
// The name of the periodic pass's Request: ':' never appears in a node's name.
constexpr std::string_view kMonitorName = "node-lifecycle:monitor";

constexpr std::string_view kRegionLabel = "topology.kubernetes.io/region";
constexpr std::string_view kBetaRegionLabel = "failure-domain.beta.kubernetes.io/region";
constexpr std::string_view kBetaZoneLabel = "failure-domain.beta.kubernetes.io/zone";
constexpr std::string_view kExcludeDisruptionLabel = "node.kubernetes.io/exclude-disruption";

// What a silent node's conditions become (NetworkUnavailable is the control plane's own
// and stays).
constexpr std::string_view kSilencedConditions[] = {"Ready", "MemoryPressure", "DiskPressure",
                                                    "PIDPressure"};
// NoSchedule taints this controller owns (taint-node-by-condition).
constexpr std::string_view kConditionTaintKeys[] = {
    api::kTaintNodeNotReady,       api::kTaintNodeUnreachable,
    api::kTaintNodeMemoryPressure, api::kTaintNodeDiskPressure,
    api::kTaintNodePIDPressure,    api::kTaintNodeNetworkUnavailable,
    api::kTaintNodeUnschedulable};

bool SameTime(const std::optional<Timestamp>& a, const std::optional<Timestamp>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a.has_value() || (a->seconds() == b->seconds() && a->nanos() == b->nanos());
}

std::string LabelOr(const v1::Node& node, std::string_view key, std::string_view fallback) {
  const auto& labels = node.metadata().labels();
  auto it = labels.find(std::string(key));
  if (it != labels.end()) return it->second;
  it = labels.find(std::string(fallback));
  return it == labels.end() ? std::string() : it->second;
}

// Kubernetes' GetZoneKey: region and zone, "" for a node with neither.
std::string ZoneOf(const v1::Node& node) {
  const std::string region = LabelOr(node, kRegionLabel, kBetaRegionLabel);
  const std::string zone = LabelOr(node, api::kLabelTopologyZone, kBetaZoneLabel);
  if (region.empty() && zone.empty()) return "";
  return region + std::string(":\0:", 3) + zone;
}

// The NoSchedule taint keys the node's conditions and spec.unschedulable call for.
std::vector<std::string_view> ConditionTaintKeys(const v1::Node& node) {
  std::vector<std::string_view> keys;
  for (const v1::NodeCondition& c : node.status().conditions()) {
    const std::string& type = c.type();
    const std::string& status = c.status();
    if (type == "Ready") {
      if (status == "False") keys.push_back(api::kTaintNodeNotReady);
      if (status == "Unknown") keys.push_back(api::kTaintNodeUnreachable);
    } else if (status == "True") {
      if (type == "MemoryPressure") keys.push_back(api::kTaintNodeMemoryPressure);
      if (type == "DiskPressure") keys.push_back(api::kTaintNodeDiskPressure);
      if (type == "PIDPressure") keys.push_back(api::kTaintNodePIDPressure);
      if (type == "NetworkUnavailable") keys.push_back(api::kTaintNodeNetworkUnavailable);
    }
  }
  if (node.spec().unschedulable()) keys.push_back(api::kTaintNodeUnschedulable);
  return keys;
}

// Brings the node's condition NoSchedule taints in line with ConditionTaintKeys. Returns
// true if the taints changed.
bool ReconcileConditionTaints(v1::Node& node, absl::Time now) {
  const std::vector<std::string_view> want = ConditionTaintKeys(node);
  auto wanted = [&](std::string_view key) {
    return std::find(want.begin(), want.end(), key) != want.end();
  };
  internal::Taints& taints = *node.mutable_spec()->mutable_taints();
  bool changed = false;
  for (std::string_view key : kConditionTaintKeys) {
    if (!wanted(key)) changed |= internal::RemoveTaint(taints, key, api::kEffectNoSchedule);
  }
  for (std::string_view key : want) {
    if (internal::HasTaint(taints, key, api::kEffectNoSchedule)) continue;
    v1::Taint& taint = *taints.Add();
    taint.set_key(std::string(key));
    taint.set_effect(std::string(api::kEffectNoSchedule));
    *taint.mutable_time_added() = api::MetaTime(now);
    changed = true;
  }
  return changed;
}

enum class ZoneState { kInitial, kNormal, kPartialDisruption, kFullDisruption };

// A token bucket that holds at most one token (Kubernetes' EvictionRateLimiterBurst) and
// starts full. An infinite rate never limits; a rate of 0 never accepts.
class TokenBucket {
 public:
  TokenBucket(double rate, absl::Time now) : rate_(rate), balance_{1.0, now} {}

  bool TryAccept(absl::Time now) {
    if (rate_ <= 0) return false;
    Refill(now);
    if (balance_.tokens < kWhole) return false;
    balance_.tokens = std::max(0.0, balance_.tokens - 1.0);
    return true;
  }
  // How long until TryAccept succeeds; infinite at rate 0.
  absl::Duration UntilNext(absl::Time now) {
    if (rate_ <= 0) return absl::InfiniteDuration();
    Refill(now);
    if (balance_.tokens >= kWhole) return absl::ZeroDuration();
    return absl::Seconds((1.0 - balance_.tokens) / rate_);
  }
  // Kubernetes' SwapLimiter: a new bucket, empty unless the old one had a token to give
  // (so coming back from rate 0 waits a full interval).
  void SetRate(double rate, absl::Time now) {
    if (rate == rate_) return;
    Refill(now);
    const bool had_token = rate_ > 0 && balance_.tokens >= kWhole;
    rate_ = rate;
    balance_ = {had_token ? 1.0 : 0.0, now};
  }

 private:
  // Rounding must not leave a token a hair short after waiting UntilNext.
  static constexpr double kWhole = 1.0 - 1e-9;

  void Refill(absl::Time now) { balance_.Refill(now, rate_, 1.0); }

  double rate_;
  internal::TokenBalance balance_;
};

// Nodes of one zone waiting for their NoExecute taint, first come first served.
struct Tainter {
  explicit Tainter(double rate, absl::Time now) : bucket(rate, now) {}
  TokenBucket bucket;
  std::deque<std::string> queue;
  StringSet queued;
};

// What the controller knows of one node's heartbeats.
struct Health {
  absl::Time probe;                   // when it last heard from the node (its own clock)
  std::optional<Timestamp> heartbeat;  // the Ready condition's lastHeartbeatTime seen last
  std::optional<Timestamp> renew;      // the Lease's renewTime seen last
  std::string ready;                   // the Ready status the last pass left ("" before)
  bool mark_pods_retry = false;        // marking its pods not ready failed: try again
};

class NodeLifecycleReconciler final : public Reconciler {
 public:
  NodeLifecycleReconciler(Manager* manager, const NodeLifecycleOptions& options,
                          client::Lister<v1::Node> nodes, client::Lister<v1::Pod> pods)
      : client_(manager->client()),
        clock_(&manager->executor()->clock()),
        events_(manager->EventRecorderFor(kComponent)),
        options_(options),
        nodes_(std::move(nodes)),
        pods_(std::move(pods)) {}

  static Request MonitorRequest() { return {"", std::string(kMonitorName)}; }

  Result Reconcile(const Request& request) override {
    if (request.ns.empty() && request.name == kMonitorName) return MonitorNodeHealth();
    if (!request.ns.empty()) return ProcessPod(request);
    return SyncConditionTaints(request.name);
  }

  // ---- watch handlers: note heartbeats as they arrive.

  void OnNode(const WatchEvent& event, RequestQueue& queue) {
    const auto& node = static_cast<const v1::Node&>(*event.obj);
    const std::string& name = node.metadata().name();
    if (event.type == WatchEvent::Type::kDelete) {
      MutexLock lock(&mu_);
      health_.erase(name);
      return;
    }
    const v1::NodeCondition* ready = internal::FindNodeCondition(node.status(), "Ready");
    std::optional<Timestamp> heartbeat;
    if (ready != nullptr) heartbeat = ready->last_heartbeat_time();
    {
      MutexLock lock(&mu_);
      auto [it, fresh] = health_.try_emplace(name);
      if (fresh || !SameTime(it->second.heartbeat, heartbeat)) it->second.probe = clock_->Now();
      it->second.heartbeat = std::move(heartbeat);
    }
    queue.Add({"", name});  // its NoSchedule taints
  }

  void OnLease(const WatchEvent& event, RequestQueue&) {
    const auto& lease = static_cast<const v1::Lease&>(*event.obj);
    if (event.type == WatchEvent::Type::kDelete ||
        lease.metadata().namespace_() != internal::kNodeLeaseNamespace ||
        !lease.spec().has_renew_time()) {
      return;
    }
    MutexLock lock(&mu_);
    auto it = health_.find(lease.metadata().name());
    if (it == health_.end()) return;  // its node is not known yet (seeing it counts then)
    std::optional<Timestamp> renew = lease.spec().renew_time();
    if (!SameTime(it->second.renew, renew)) it->second.probe = clock_->Now();
    it->second.renew = std::move(renew);
  }

  // A pod bound to a node that is not Ready is marked not ready too (Kubernetes'
  // podUpdated/processPod).
  void OnPod(const WatchEvent& event, RequestQueue& queue) {
    if (event.type == WatchEvent::Type::kDelete) return;
    const auto& pod = static_cast<const v1::Pod&>(*event.obj);
    if (pod.spec().node_name().empty()) return;
    if (event.type == WatchEvent::Type::kUpdate &&
        static_cast<const v1::Pod&>(*event.old_obj).spec().node_name() == pod.spec().node_name()) {
      return;
    }
    queue.Add({pod.metadata().namespace_(), pod.metadata().name()});
  }

 private:
  Result MonitorNodeHealth();
  // One node of the pass: its health, taints and pods. Adds its Ready status to
  // `zone_ready` and `ready_now` unless the status could not be written.
  void MonitorNode(const v1::Node& node, absl::Time now,
                   std::map<std::string, std::vector<bool>>& zone_ready,
                   StringMap<std::string>& ready_now);
  // Sets the silent node's conditions to Unknown. Returns the Ready status now.
  absl::StatusOr<std::string> MarkNodeUnknown(const v1::Node& node, absl::Time now);
  void ProcessTaintBasedEviction(const v1::Node& node, const std::string& ready, absl::Time now);
  void MarkNodeReachable(const v1::Node& node);
  void HandleDisruption(const std::map<std::string, std::vector<bool>>& zone_ready,
                        const std::vector<NodePtr>& nodes, absl::Time now);
  // Works the tainting queues as their tokens allow. Returns how long until a queue that
  // waits for a token gets one (infinite when none waits).
  absl::Duration ProcessTaintQueues(const StringMap<std::string>& ready_now, absl::Time now);

  Result ProcessPod(const Request& request);
  Result SyncConditionTaints(const std::string& name);

  absl::Status MarkPodsNotReady(const std::vector<PodPtr>& pods, const std::string& node);
  absl::Status MarkPodNotReady(const v1::Pod& cached, const std::string& node);
  // Read-modify-write of the node's spec: `change` returns whether it changed anything.
  absl::Status UpdateNode(const std::string& name, const std::function<bool(v1::Node&)>& change);
  // Adds the NoExecute taint `add` (if not empty) and removes the ones in `remove`.
  absl::Status SwapNoExecuteTaints(const std::string& name, std::string_view add,
                                   std::vector<std::string_view> remove);

  Tainter& TainterFor(const std::string& zone, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SetLimiter(const std::string& zone, size_t size, ZoneState state, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  ZoneState ComputeZoneState(const std::vector<bool>& ready) const;

  client::Client* const client_;
  Clock* const clock_;
  client::EventRecorder* const events_;
  const NodeLifecycleOptions options_;
  const client::Lister<v1::Node> nodes_;
  const client::Lister<v1::Pod> pods_;

  Mutex mu_;
  StringMap<Health> health_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, ZoneState> zone_states_ ABSL_GUARDED_BY(mu_);
  // Never removed (a zone's bucket must survive its nodes flapping out of the count).
  std::map<std::string, Tainter> tainters_ ABSL_GUARDED_BY(mu_);
};

Result NodeLifecycleReconciler::MonitorNodeHealth() {
  const absl::Time now = clock_->Now();
  const std::vector<NodePtr> nodes = nodes_.List();
  std::map<std::string, std::vector<bool>> zone_ready;
  StringMap<std::string> ready_now;
  for (const NodePtr& node : nodes) MonitorNode(*node, now, zone_ready, ready_now);
  {
    // Forget nodes the cache no longer holds (a delete raced with this pass).
    StringSet listed;
    for (const NodePtr& node : nodes) listed.insert(node->metadata().name());
    MutexLock lock(&mu_);
    for (auto it = health_.begin(); it != health_.end();) {
      if (listed.contains(it->first)) {
        ++it;
      } else {
        health_.erase(it++);
      }
    }
  }
  HandleDisruption(zone_ready, nodes, now);
  const absl::Duration token_wait = ProcessTaintQueues(ready_now, now);
  return Result::RequeueAfter(std::min(options_.node_monitor_period, token_wait));
}

void NodeLifecycleReconciler::MonitorNode(const v1::Node& node, absl::Time now,
                                          std::map<std::string, std::vector<bool>>& zone_ready,
                                          StringMap<std::string>& ready_now) {
  const std::string& name = node.metadata().name();
  Health health;
  {
    MutexLock lock(&mu_);
    auto [it, fresh] = health_.try_emplace(name);
    if (fresh) it->second.probe = now;
    health = it->second;
  }
  std::string ready = internal::ReadyStatus(node);
  const absl::Duration grace =
      ready.empty() ? options_.node_startup_grace_period : options_.node_monitor_grace_period;
  if (now - health.probe > grace) {
    absl::StatusOr<std::string> marked = MarkNodeUnknown(node, now);
    if (!marked.ok()) return;  // no decision on a status not written; the next pass retries
    ready = *std::move(marked);
  }
  ready_now[name] = ready;
  if (!node.metadata().labels().contains(std::string(kExcludeDisruptionLabel))) {
    zone_ready[ZoneOf(node)].push_back(ready == "True");
  }
  ProcessTaintBasedEviction(node, ready, now);

  const bool not_ready = !ready.empty() && ready != "True";
  const bool became_not_ready = not_ready && health.ready == "True";
  bool retry = false;
  if (became_not_ready || (not_ready && health.mark_pods_retry)) {
    if (became_not_ready) {
      (void)events_->Record(node, client::kEventNormal, "NodeNotReady",
                            fmt::format("Node {} status is now: NodeNotReady", name));
    }
    retry = !MarkPodsNotReady(internal::PodsOnNode(pods_, name), name).ok();
  }
  MutexLock lock(&mu_);
  auto it = health_.find(name);
  if (it == health_.end()) return;
  it->second.ready = ready;
  it->second.mark_pods_retry = retry;
}

absl::StatusOr<std::string> NodeLifecycleReconciler::MarkNodeUnknown(const v1::Node& node,
                                                                     absl::Time now) {
  v1::Node updated = node;
  v1::NodeStatus& status = *updated.mutable_status();
  bool changed = false;
  for (std::string_view type : kSilencedConditions) {
    v1::NodeCondition* c = internal::FindNodeCondition(status, type);
    if (c == nullptr) {
      if (type != "Ready") continue;  // only Ready is added when missing
      c = status.add_conditions();
      c->set_type("Ready");
      c->set_status("Unknown");
      c->set_reason("NodeStatusNeverUpdated");
      c->set_message("Kubelet never posted node status.");
      *c->mutable_last_heartbeat_time() = node.metadata().creation_timestamp();
      *c->mutable_last_transition_time() = api::MetaTime(now);
      changed = true;
      continue;
    }
    if (c->status() == "Unknown") continue;
    c->set_status("Unknown");
    c->set_reason("NodeStatusUnknown");
    c->set_message("Kubelet stopped posting node status.");
    *c->mutable_last_transition_time() = api::MetaTime(now);
    changed = true;
  }
  // Written against the revision the decision was made on: a heartbeat that arrived
  // meanwhile makes this fail, and the next pass sees the node alive.
  if (changed) ORCH_RETURN_IF_ERROR(client_->UpdateStatus(updated).status());
  return std::string("Unknown");
}

void NodeLifecycleReconciler::ProcessTaintBasedEviction(const v1::Node& node,
                                                        const std::string& ready, absl::Time now) {
  const std::string& name = node.metadata().name();
  const internal::Taints& taints = node.spec().taints();
  std::string_view want, opposite;
  if (ready == "False") {
    want = api::kTaintNodeNotReady;
    opposite = api::kTaintNodeUnreachable;
  } else if (ready == "Unknown") {
    want = api::kTaintNodeUnreachable;
    opposite = api::kTaintNodeNotReady;
  } else if (ready == "True") {
    MarkNodeReachable(node);
    return;
  } else {
    return;  // no Ready condition yet: within its startup grace
  }
  if (internal::HasTaint(taints, opposite, api::kEffectNoExecute)) {
    // Flipping between the two is not an eviction decision: at once, never rate limited.
    (void)SwapNoExecuteTaints(name, want, {opposite});
    return;
  }
  if (internal::HasTaint(taints, want, api::kEffectNoExecute)) return;
  MutexLock lock(&mu_);
  Tainter& tainter = TainterFor(ZoneOf(node), now);
  if (tainter.queued.insert(name).second) tainter.queue.push_back(name);
}

void NodeLifecycleReconciler::MarkNodeReachable(const v1::Node& node) {
  const std::string& name = node.metadata().name();
  const internal::Taints& taints = node.spec().taints();
  if (internal::HasTaint(taints, api::kTaintNodeUnreachable, api::kEffectNoExecute) ||
      internal::HasTaint(taints, api::kTaintNodeNotReady, api::kEffectNoExecute)) {
    (void)SwapNoExecuteTaints(name, "",
                              {api::kTaintNodeUnreachable, api::kTaintNodeNotReady});
  }
  MutexLock lock(&mu_);
  for (auto& [zone, tainter] : tainters_) {
    if (tainter.queued.erase(name) == 0) continue;
    tainter.queue.erase(std::find(tainter.queue.begin(), tainter.queue.end(), name));
  }
}

ZoneState NodeLifecycleReconciler::ComputeZoneState(const std::vector<bool>& ready) const {
  const auto ready_nodes = std::count(ready.begin(), ready.end(), true);
  const auto not_ready = static_cast<int64_t>(ready.size()) - ready_nodes;
  if (ready_nodes == 0 && not_ready > 0) return ZoneState::kFullDisruption;
  if (not_ready > 2 && static_cast<double>(not_ready) / static_cast<double>(ready.size()) >=
                           options_.unhealthy_zone_threshold) {
    return ZoneState::kPartialDisruption;
  }
  return ZoneState::kNormal;
}

Tainter& NodeLifecycleReconciler::TainterFor(const std::string& zone, absl::Time now) {
  return tainters_.try_emplace(zone, options_.node_eviction_rate, now).first->second;
}

void NodeLifecycleReconciler::SetLimiter(const std::string& zone, size_t size, ZoneState state,
                                         absl::Time now) {
  double rate = options_.node_eviction_rate;
  if (state == ZoneState::kPartialDisruption) {
    rate = size > static_cast<size_t>(options_.large_cluster_size_threshold)
               ? options_.secondary_node_eviction_rate
               : 0.0;
  }
  TainterFor(zone, now).bucket.SetRate(rate, now);
}

void NodeLifecycleReconciler::HandleDisruption(
    const std::map<std::string, std::vector<bool>>& zone_ready, const std::vector<NodePtr>& nodes,
    absl::Time now) {
  std::map<std::string, ZoneState> next;
  bool all_full_now = true;
  for (const auto& [zone, ready] : zone_ready) {
    next[zone] = ComputeZoneState(ready);
    if (next[zone] != ZoneState::kFullDisruption) all_full_now = false;
  }
  bool entering_full_disruption = false;
  {
    MutexLock lock(&mu_);
    for (const auto& [zone, state] : next) zone_states_.try_emplace(zone, ZoneState::kInitial);
    bool all_were_full = true;
    for (auto it = zone_states_.begin(); it != zone_states_.end();) {
      if (!next.contains(it->first)) {
        it = zone_states_.erase(it);
        continue;
      }
      if (it->second != ZoneState::kFullDisruption) all_were_full = false;
      ++it;
    }
    if (all_full_now && all_were_full) return;
    if (all_full_now) {
      // No node answers anywhere: more likely this controller is cut off than every node
      // dead. Stop evicting: no NoExecute taint stays or is added.
      for (auto& [zone, state] : zone_states_) {
        TainterFor(zone, now).bucket.SetRate(0, now);
        state = ZoneState::kFullDisruption;
      }
      entering_full_disruption = true;
    } else {
      if (all_were_full) {
        // Back from full disruption: every node gets a fresh grace period.
        for (const NodePtr& node : nodes) {
          auto it = health_.find(node->metadata().name());
          if (it != health_.end()) it->second.probe = now;
        }
      }
      for (auto& [zone, state] : zone_states_) {
        if (!all_were_full && state == next[zone]) continue;
        SetLimiter(zone, zone_ready.at(zone).size(), next[zone], now);
        state = next[zone];
      }
    }
  }
  if (entering_full_disruption) {
    for (const NodePtr& node : nodes) MarkNodeReachable(*node);
  }
}

absl::Duration NodeLifecycleReconciler::ProcessTaintQueues(const StringMap<std::string>& ready_now,
                                                           absl::Time now) {
  absl::Duration wait = absl::InfiniteDuration();
  std::vector<std::string> zones;
  {
    MutexLock lock(&mu_);
    for (const auto& [zone, tainter] : tainters_) zones.push_back(zone);
  }
  for (const std::string& zone : zones) {
    while (true) {
      std::string name;
      {
        MutexLock lock(&mu_);
        Tainter& tainter = tainters_.at(zone);
        // Nodes gone, or not decided on in this pass, leave without spending a token.
        while (!tainter.queue.empty() && !ready_now.contains(tainter.queue.front())) {
          tainter.queued.erase(tainter.queue.front());
          tainter.queue.pop_front();
        }
        if (tainter.queue.empty()) break;
        if (!tainter.bucket.TryAccept(now)) {
          wait = std::min(wait, tainter.bucket.UntilNext(now));
          break;
        }
        name = std::move(tainter.queue.front());
        tainter.queue.pop_front();
        tainter.queued.erase(name);
      }
      const std::string& ready = ready_now.at(name);
      absl::Status status;
      if (ready == "False") {
        status = SwapNoExecuteTaints(name, api::kTaintNodeNotReady,
                                     {api::kTaintNodeUnreachable});
      } else if (ready == "Unknown") {
        status = SwapNoExecuteTaints(name, api::kTaintNodeUnreachable,
                                     {api::kTaintNodeNotReady});
      }  // Ready again: nothing to taint.
      if (!status.ok() && !absl::IsNotFound(status)) {
        MutexLock lock(&mu_);
        Tainter& tainter = tainters_.at(zone);
        if (tainter.queued.insert(name).second) tainter.queue.push_front(name);
        break;  // the next pass tries again
      }
    }
  }
  return wait;
}

Result NodeLifecycleReconciler::ProcessPod(const Request& request) {
  absl::StatusOr<PodPtr> pod = pods_.Get(request.ns, request.name);
  if (absl::IsNotFound(pod.status())) return {};
  ORCH_RETURN_IF_ERROR(pod.status());
  const std::string& node_name = (*pod)->spec().node_name();
  if (node_name.empty()) return {};
  {
    MutexLock lock(&mu_);
    if (!health_.contains(node_name)) return {};  // not looked at yet: its pass decides
  }
  absl::StatusOr<NodePtr> node = nodes_.Get("", node_name);
  if (absl::IsNotFound(node.status())) return {};
  ORCH_RETURN_IF_ERROR(node.status());
  const std::string ready = internal::ReadyStatus(**node);
  if (ready.empty() || ready == "True") return {};
  return MarkPodNotReady(**pod, node_name);
}

Result NodeLifecycleReconciler::SyncConditionTaints(const std::string& name) {
  absl::StatusOr<NodePtr> cached = nodes_.Get("", name);
  if (absl::IsNotFound(cached.status())) return {};
  ORCH_RETURN_IF_ERROR(cached.status());
  const absl::Time now = clock_->Now();
  v1::Node probe = **cached;
  if (!ReconcileConditionTaints(probe, now)) return {};
  absl::Status status =
      UpdateNode(name, [&](v1::Node& node) { return ReconcileConditionTaints(node, now); });
  if (absl::IsNotFound(status)) return {};
  return status;
}

absl::Status NodeLifecycleReconciler::MarkPodsNotReady(const std::vector<PodPtr>& pods,
                                                       const std::string& node) {
  absl::Status first_error;
  for (const PodPtr& pod : pods) {
    absl::Status status = MarkPodNotReady(*pod, node);
    if (!status.ok() && first_error.ok()) first_error = std::move(status);
  }
  return first_error;
}

absl::Status NodeLifecycleReconciler::MarkPodNotReady(const v1::Pod& cached,
                                                      const std::string& node) {
  const absl::Time now = clock_->Now();
  int attempt = 0;
  bool written = false;
  std::optional<v1::Pod> last;
  absl::Status status = client::RetryOnConflict(
      client::kDefaultRetry,
      [&]() -> absl::Status {
        v1::Pod pod = cached;
        if (attempt++ > 0) {
          ORCH_ASSIGN_OR_RETURN(pod, client_->Get<v1::Pod>(cached.metadata().namespace_(),
                                                           cached.metadata().name()));
          if (pod.metadata().uid() != cached.metadata().uid()) return absl::OkStatus();
        }
        if (pod.spec().node_name() != node) return absl::OkStatus();
        written = false;
        for (v1::PodCondition& c : *pod.mutable_status()->mutable_conditions()) {
          if (c.type() != "Ready") continue;
          if (c.status() == "False") return absl::OkStatus();
          c.set_status("False");
          *c.mutable_last_transition_time() = api::MetaTime(now);
          ORCH_ASSIGN_OR_RETURN(last, client_->UpdateStatus(pod));
          written = true;
          break;
        }
        return absl::OkStatus();
      },
      client::Sleeper::None());
  if (absl::IsNotFound(status)) return absl::OkStatus();
  if (status.ok() && written) {
    (void)events_->Record(*last, client::kEventWarning, "NodeNotReady", "Node is not ready");
  }
  return status;
}

absl::Status NodeLifecycleReconciler::UpdateNode(const std::string& name,
                                                 const std::function<bool(v1::Node&)>& change) {
  return client::RetryOnConflict(
      client::kDefaultRetry,
      [&]() -> absl::Status {
        ORCH_ASSIGN_OR_RETURN(v1::Node node, client_->Get<v1::Node>("", name));
        if (!change(node)) return absl::OkStatus();
        return client_->Update(node).status();
      },
      client::Sleeper::None());
}

absl::Status NodeLifecycleReconciler::SwapNoExecuteTaints(const std::string& name,
                                                          std::string_view add,
                                                          std::vector<std::string_view> remove) {
  const absl::Time now = clock_->Now();
  return UpdateNode(name, [&](v1::Node& node) {
    internal::Taints& taints = *node.mutable_spec()->mutable_taints();
    bool changed = false;
    for (std::string_view key : remove) {
      changed |= internal::RemoveTaint(taints, key, api::kEffectNoExecute);
    }
    if (!add.empty() && !internal::HasTaint(taints, add, api::kEffectNoExecute)) {
      v1::Taint& taint = *taints.Add();
      taint.set_key(std::string(add));
      taint.set_effect(std::string(api::kEffectNoExecute));
      *taint.mutable_time_added() = api::MetaTime(now);
      changed = true;
    }
    return changed;
  });
}

absl::Status ValidateOptions(const NodeLifecycleOptions& o) {
  auto positive = [](absl::Duration d, std::string_view field) {
    return d > absl::ZeroDuration()
               ? absl::OkStatus()
               : absl::InvalidArgumentError(fmt::format("{}: must be positive, not {}", field,
                                                        absl::FormatDuration(d)));
  };
  ORCH_RETURN_IF_ERROR(positive(o.node_monitor_period, "node_monitor_period"));
  ORCH_RETURN_IF_ERROR(positive(o.node_monitor_grace_period, "node_monitor_grace_period"));
  ORCH_RETURN_IF_ERROR(positive(o.node_startup_grace_period, "node_startup_grace_period"));
  for (auto [rate, field] : {std::pair{o.node_eviction_rate, "node_eviction_rate"},
                             std::pair{o.secondary_node_eviction_rate,
                                       "secondary_node_eviction_rate"}}) {
    if (!(rate >= 0)) {
      return absl::InvalidArgumentError(fmt::format("{}: must not be negative, not {}", field, rate));
    }
  }
  if (o.large_cluster_size_threshold < 0) {
    return absl::InvalidArgumentError(fmt::format(
        "large_cluster_size_threshold: must not be negative, not {}", o.large_cluster_size_threshold));
  }
  if (!(o.unhealthy_zone_threshold >= 0 && o.unhealthy_zone_threshold <= 1)) {
    return absl::InvalidArgumentError(fmt::format(
        "unhealthy_zone_threshold: must be within [0, 1], not {}", o.unhealthy_zone_threshold));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Controller*> AddNodeLifecycleController(Manager* manager,
                                                       NodeLifecycleOptions options) {
  ORCH_RETURN_IF_ERROR(ValidateOptions(options));
  client::SharedInformerFactory& informers = *manager->informers();
  ORCH_ASSIGN_OR_RETURN(auto nodes, informers.InformerFor<v1::Node>());
  ORCH_ASSIGN_OR_RETURN(auto pods, informers.InformerFor<v1::Pod>());
  ORCH_RETURN_IF_ERROR(internal::AddPodNodeNameIndex(pods));
  auto reconciler =
      std::make_unique<NodeLifecycleReconciler>(manager, options, nodes.lister(), pods.lister());
  NodeLifecycleReconciler* r = reconciler.get();
  ControllerSpec spec{.name = "node-lifecycle"};
  spec.watches.push_back(internal::HandledBy<v1::Node>(r, &NodeLifecycleReconciler::OnNode));
  spec.watches.push_back(internal::HandledBy<v1::Lease>(r, &NodeLifecycleReconciler::OnLease));
  spec.watches.push_back(internal::HandledBy<v1::Pod>(r, &NodeLifecycleReconciler::OnPod));
  spec.options.max_concurrent_reconciles = options.concurrent_syncs;
  ORCH_ASSIGN_OR_RETURN(Controller * controller,
                        manager->NewController(std::move(spec), std::move(reconciler)));
  // The periodic pass: a Request that requeues itself; it waits, like every Request, for
  // the informers to sync.
  controller->Enqueue(NodeLifecycleReconciler::MonitorRequest());
  if (options.taint_eviction) {
    ORCH_RETURN_IF_ERROR(
        AddTaintEvictionController(manager, options.taint_eviction_options).status());
  }
  return controller;
}

}  // namespace orch::controller
