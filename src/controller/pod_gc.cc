#include "orch/controller/pod_gc.h"

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "orch/api/time.h"
#include "controller/nodes.h"
#include "controller/pods.h"
#include "fmt/format.h"
#include "orch/api/v1/core.pb.h"
#include "orch/base/mutex.h"
#include "orch/base/string_map.h"
#include "orch/client/retry.h"

namespace orch::controller {

namespace {

namespace v1 = api::v1;
using internal::PodPtr;
using NodePtr = std::shared_ptr<const v1::Node>;

// The name of the periodic pass's Request.
constexpr std::string_view kPassName = "pod-gc:pass";

bool IsTerminated(const v1::Pod& pod) {
  return pod.status().phase() == "Succeeded" || pod.status().phase() == "Failed";
}

bool IsEvicted(const v1::Pod& pod) {
  return pod.status().phase() == "Failed" && pod.status().reason() == "Evicted";
}

// Kubernetes' byEvictionAndCreationTimestamp.
bool DeleteFirst(const PodPtr& a, const PodPtr& b) {
  if (IsEvicted(*a) != IsEvicted(*b)) return IsEvicted(*a);
  const absl::Time ta = api::FromTimestamp(a->metadata().creation_timestamp());
  const absl::Time tb = api::FromTimestamp(b->metadata().creation_timestamp());
  if (ta != tb) return ta < tb;
  return a->metadata().name() < b->metadata().name();
}

struct Condition {
  std::string_view reason;
  std::string_view message;
};

class PodGcReconciler final : public Reconciler {
 public:
  PodGcReconciler(Manager* manager, const PodGcOptions& options, client::Lister<v1::Node> nodes,
                  client::Lister<v1::Pod> pods)
      : client_(manager->client()),
        clock_(&manager->executor()->clock()),
        options_(options),
        nodes_(std::move(nodes)),
        pods_(std::move(pods)) {}

  static Request PassRequest() { return {"", std::string(kPassName)}; }

  Result Reconcile(const Request& request) override {
    if (request.name != kPassName) return {};
    const std::vector<PodPtr> pods = pods_.List();
    const std::vector<NodePtr> nodes = nodes_.List();
    if (options_.terminated_pod_gc_threshold > 0) GcTerminated(pods);
    GcTerminatingOutOfService(pods);
    GcOrphaned(pods, nodes);
    GcUnscheduledTerminating(pods);
    // Failed deletes wait for the next pass, as in Kubernetes: the pass is periodic
    // whatever happened.
    return Result::RequeueAfter(options_.gc_period);
  }

 private:
  void GcTerminated(const std::vector<PodPtr>& pods);
  void GcTerminatingOutOfService(const std::vector<PodPtr>& pods);
  void GcOrphaned(const std::vector<PodPtr>& pods, const std::vector<NodePtr>& nodes);
  void GcUnscheduledTerminating(const std::vector<PodPtr>& pods);
  // The node names (among `missing`) whose quarantine is over and that a live read says
  // are gone.
  StringSet ConfirmDeleted(const StringSet& missing, absl::Time now);
  // Kubernetes' markFailedAndDeletePod.
  absl::Status ForceDelete(const v1::Pod& pod, std::optional<Condition> condition);

  client::Client* const client_;
  Clock* const clock_;
  const PodGcOptions options_;
  const client::Lister<v1::Node> nodes_;
  const client::Lister<v1::Pod> pods_;

  Mutex mu_;
  // Nodes pods are bound to that the cache does not hold, and since when.
  std::map<std::string, absl::Time> quarantine_ ABSL_GUARDED_BY(mu_);
};

void PodGcReconciler::GcTerminated(const std::vector<PodPtr>& pods) {
  std::vector<PodPtr> terminated;
  for (const PodPtr& pod : pods) {
    if (IsTerminated(*pod)) terminated.push_back(pod);
  }
  const int64_t surplus =
      static_cast<int64_t>(terminated.size()) - options_.terminated_pod_gc_threshold;
  if (surplus <= 0) return;
  std::sort(terminated.begin(), terminated.end(), DeleteFirst);
  for (int64_t i = 0; i < surplus; ++i) (void)ForceDelete(*terminated[i], std::nullopt);
}

void PodGcReconciler::GcTerminatingOutOfService(const std::vector<PodPtr>& pods) {
  for (const PodPtr& pod : pods) {
    if (!pod->metadata().has_deletion_timestamp() || pod->spec().node_name().empty()) continue;
    absl::StatusOr<NodePtr> node = nodes_.Get("", pod->spec().node_name());
    if (!node.ok() || internal::ReadyStatus(**node) == "True") continue;
    const bool out_of_service = std::any_of(
        (*node)->spec().taints().begin(), (*node)->spec().taints().end(),
        [](const v1::Taint& t) { return t.key() == api::kTaintNodeOutOfService; });
    if (out_of_service) (void)ForceDelete(*pod, std::nullopt);
  }
}

void PodGcReconciler::GcOrphaned(const std::vector<PodPtr>& pods,
                                 const std::vector<NodePtr>& nodes) {
  StringSet existing;
  for (const NodePtr& node : nodes) existing.insert(node->metadata().name());
  StringSet missing;
  for (const PodPtr& pod : pods) {
    const std::string& node = pod->spec().node_name();
    if (!node.empty() && !existing.contains(node)) missing.insert(node);
  }
  const StringSet deleted = ConfirmDeleted(missing, clock_->Now());
  if (deleted.empty()) return;
  for (const PodPtr& pod : pods) {
    if (!deleted.contains(pod->spec().node_name())) continue;
    (void)ForceDelete(*pod, Condition{"DeletionByPodGC", "PodGC: node no longer exists"});
  }
}

StringSet PodGcReconciler::ConfirmDeleted(const StringSet& missing, absl::Time now) {
  std::vector<std::string> due;
  {
    MutexLock lock(&mu_);
    for (auto it = quarantine_.begin(); it != quarantine_.end();) {
      if (missing.contains(it->first)) {
        ++it;
      } else {
        it = quarantine_.erase(it);  // back in the cache, or no pod points at it any more
      }
    }
    for (const std::string& node : missing) quarantine_.try_emplace(node, now);
    for (const auto& [node, since] : quarantine_) {
      if (now - since >= options_.quarantine) due.push_back(node);
    }
    for (const std::string& node : due) quarantine_.erase(node);
  }
  StringSet deleted;
  for (const std::string& node : due) {
    // The cache may lag: only the store says a node is gone. A node that exists, or a read
    // that failed, starts a new quarantine at the next pass if still missing.
    absl::Status status = client_->Get<v1::Node>("", node).status();
    if (absl::IsNotFound(status)) deleted.insert(node);
  }
  return deleted;
}

void PodGcReconciler::GcUnscheduledTerminating(const std::vector<PodPtr>& pods) {
  for (const PodPtr& pod : pods) {
    if (!pod->metadata().has_deletion_timestamp() || !pod->spec().node_name().empty()) continue;
    (void)ForceDelete(*pod, std::nullopt);
  }
}

absl::Status PodGcReconciler::ForceDelete(const v1::Pod& cached, std::optional<Condition> condition) {
  const std::string& ns = cached.metadata().namespace_();
  const std::string& name = cached.metadata().name();
  const std::string& uid = cached.metadata().uid();
  if (!IsTerminated(cached)) {
    // A pod whose node is gone would stay Running forever: nobody else will say it failed.
    const absl::Time now = clock_->Now();
    int attempt = 0;
    absl::Status status = client::RetryOnConflict(
        client::kDefaultRetry,
        [&]() -> absl::Status {
          v1::Pod pod = cached;
          if (attempt++ > 0) {
            ORCH_ASSIGN_OR_RETURN(pod, client_->Get<v1::Pod>(ns, name));
            if (pod.metadata().uid() != uid) return absl::OkStatus();
            if (IsTerminated(pod)) return absl::OkStatus();
          }
          v1::PodStatus& status = *pod.mutable_status();
          status.set_phase("Failed");
          if (condition.has_value()) {
            auto it = std::find_if(status.mutable_conditions()->begin(),
                                   status.mutable_conditions()->end(),
                                   [](const v1::PodCondition& c) { return c.type() == "DisruptionTarget"; });
            v1::PodCondition* c =
                it == status.mutable_conditions()->end() ? status.add_conditions() : &*it;
            if (c->status() != "True") *c->mutable_last_transition_time() = api::MetaTime(now);
            c->set_type("DisruptionTarget");
            c->set_status("True");
            c->set_reason(std::string(condition->reason));
            c->set_message(std::string(condition->message));
          }
          return client_->UpdateStatus(pod).status();
        },
        client::Sleeper::None());
    if (absl::IsNotFound(status)) return absl::OkStatus();
    ORCH_RETURN_IF_ERROR(status);
  }
  client::DeleteOptions options;
  options.grace_period_seconds = 0;
  options.preconditions.uid = uid;
  absl::Status status = client_->Delete<v1::Pod>(ns, name, options);
  if (absl::IsNotFound(status) || absl::IsFailedPrecondition(status)) return absl::OkStatus();
  return status;
}

}  // namespace

absl::StatusOr<Controller*> AddPodGcController(Manager* manager, PodGcOptions options) {
  if (options.gc_period <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(fmt::format("gc_period: must be positive, not {}",
                                                  absl::FormatDuration(options.gc_period)));
  }
  if (options.quarantine < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(fmt::format("quarantine: must not be negative, not {}",
                                                  absl::FormatDuration(options.quarantine)));
  }
  client::SharedInformerFactory& informers = *manager->informers();
  ORCH_ASSIGN_OR_RETURN(auto nodes, informers.InformerFor<v1::Node>());
  ORCH_ASSIGN_OR_RETURN(auto pods, informers.InformerFor<v1::Pod>());
  auto reconciler =
      std::make_unique<PodGcReconciler>(manager, options, nodes.lister(), pods.lister());
  // The pass reads the caches; the watches only hold it back until both have synced.
  auto ignore = [](const WatchEvent&, RequestQueue&) {};
  ControllerSpec spec{.name = "pod-gc"};
  spec.watches.push_back({v1::Pod::descriptor(), nullptr, ignore, {}});
  spec.watches.push_back({v1::Node::descriptor(), nullptr, ignore, {}});
  ORCH_ASSIGN_OR_RETURN(Controller * controller,
                        manager->NewController(std::move(spec), std::move(reconciler)));
  controller->Enqueue(PodGcReconciler::PassRequest());
  return controller;
}

}  // namespace orch::controller
