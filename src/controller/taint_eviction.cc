// The taint eviction controller (declared in orch/controller/node_lifecycle.h).
#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "controller/nodes.h"
#include "orch/api/time.h"
#include "controller/pods.h"
#include "controller/watches.h"
#include "fmt/format.h"
#include "google/protobuf/util/message_differencer.h"
#include "orch/api/v1/core.pb.h"
#include "orch/base/mutex.h"
#include "orch/base/string_map.h"
#include "orch/client/retry.h"
#include "orch/controller/node_lifecycle.h"

namespace orch::controller {

namespace {

namespace v1 = api::v1;
using google::protobuf::util::MessageDifferencer;
using internal::PodPtr;
using NodePtr = std::shared_ptr<const v1::Node>;

constexpr char kComponent[] = "taint-eviction-controller";

std::vector<v1::Taint> NoExecuteTaints(const v1::Node& node) {
  std::vector<v1::Taint> out;
  for (const v1::Taint& t : node.spec().taints()) {
    if (t.effect() == api::kEffectNoExecute) out.push_back(t);
  }
  return out;
}

bool SameTaints(const std::vector<v1::Taint>& a, const std::vector<v1::Taint>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const v1::Taint& x, const v1::Taint& y) {
                      return MessageDifferencer::Equals(x, y);
                    });
}

bool SameTolerations(const v1::Pod& a, const v1::Pod& b) {
  return std::equal(a.spec().tolerations().begin(), a.spec().tolerations().end(),
                    b.spec().tolerations().begin(), b.spec().tolerations().end(),
                    [](const v1::Toleration& x, const v1::Toleration& y) {
                      return MessageDifferencer::Equals(x, y);
                    });
}

// Kubernetes' DefaultTolerationSeconds admission: whether one of the tolerations already
// covers NoExecute taints with this key (its key is the taint's or empty, its effect
// NoExecute or empty).
bool CoversNoExecute(const internal::Tolerations& tolerations, std::string_view key) {
  return std::any_of(tolerations.begin(), tolerations.end(), [&](const v1::Toleration& t) {
    return (t.key() == key || t.key().empty()) &&
           (t.effect() == api::kEffectNoExecute || t.effect().empty());
  });
}

// When the pod came to its node: its PodScheduled condition's transition, or its creation
// (a pod created with spec.nodeName set).
absl::Time BoundAt(const v1::Pod& pod) {
  for (const v1::PodCondition& c : pod.status().conditions()) {
    if (c.type() == "PodScheduled" && c.status() == "True" && c.has_last_transition_time()) {
      return api::FromTimestamp(c.last_transition_time());
    }
  }
  return api::FromTimestamp(pod.metadata().creation_timestamp());
}

class TaintEvictionReconciler final : public Reconciler {
 public:
  TaintEvictionReconciler(Manager* manager, const TaintEvictionOptions& options,
                          client::Lister<v1::Node> nodes, client::Lister<v1::Pod> pods)
      : client_(manager->client()),
        clock_(&manager->executor()->clock()),
        events_(manager->EventRecorderFor(kComponent)),
        options_(options),
        nodes_(std::move(nodes)),
        pods_(std::move(pods)) {}

  Result Reconcile(const Request& request) override;

  // A change of a node's NoExecute taints looks at every pod on it again.
  void OnNode(const WatchEvent& event, RequestQueue& queue) const {
    const auto& node = static_cast<const v1::Node&>(*event.obj);
    if (event.type == WatchEvent::Type::kUpdate &&
        SameTaints(NoExecuteTaints(static_cast<const v1::Node&>(*event.old_obj)),
                   NoExecuteTaints(node))) {
      return;
    }
    if (event.type == WatchEvent::Type::kCreate && NoExecuteTaints(node).empty()) return;
    for (const PodPtr& pod : internal::PodsOnNode(pods_, node.metadata().name())) {
      queue.Add({pod->metadata().namespace_(), pod->metadata().name()});
    }
  }

  // A pod is looked at when it arrives on a node, moves, changes its tolerations or goes.
  void OnPod(const WatchEvent& event, RequestQueue& queue) const {
    const auto& pod = static_cast<const v1::Pod&>(*event.obj);
    if (event.type == WatchEvent::Type::kUpdate) {
      const auto& old_pod = static_cast<const v1::Pod&>(*event.old_obj);
      if (old_pod.spec().node_name() == pod.spec().node_name() &&
          SameTolerations(old_pod, pod)) {
        return;
      }
    }
    if (event.type != WatchEvent::Type::kDelete && pod.spec().node_name().empty()) return;
    queue.Add({pod.metadata().namespace_(), pod.metadata().name()});
  }

 private:
  struct Scheduled {
    std::string uid;
    absl::Time start;  // the toleration is counted from here
  };

  // The pod's tolerations with the DefaultTolerationSeconds ones it lacks.
  internal::Tolerations EffectiveTolerations(const v1::Pod& pod) const;
  // Drops the pending eviction of `request`, with an Event if there was one.
  void Cancel(const Request& request, const v1::Pod* pod);
  absl::Status Evict(const v1::Pod& pod);

  client::Client* const client_;
  Clock* const clock_;
  client::EventRecorder* const events_;
  const TaintEvictionOptions options_;
  const client::Lister<v1::Node> nodes_;
  const client::Lister<v1::Pod> pods_;

  Mutex mu_;
  StringMap<Scheduled> scheduled_ ABSL_GUARDED_BY(mu_);  // by Request key
};

internal::Tolerations TaintEvictionReconciler::EffectiveTolerations(const v1::Pod& pod) const {
  internal::Tolerations tolerations = pod.spec().tolerations();
  for (auto [key, seconds] :
       {std::pair{api::kTaintNodeNotReady, options_.default_not_ready_toleration_seconds},
        std::pair{api::kTaintNodeUnreachable,
                  options_.default_unreachable_toleration_seconds}}) {
    if (CoversNoExecute(pod.spec().tolerations(), key)) continue;
    v1::Toleration& t = *tolerations.Add();
    t.set_key(std::string(key));
    t.set_operator_("Exists");
    t.set_effect(std::string(api::kEffectNoExecute));
    t.set_toleration_seconds(seconds);
  }
  return tolerations;
}

Result TaintEvictionReconciler::Reconcile(const Request& request) {
  absl::StatusOr<PodPtr> cached = pods_.Get(request.ns, request.name);
  if (absl::IsNotFound(cached.status())) {
    Cancel(request, nullptr);
    return {};
  }
  ORCH_RETURN_IF_ERROR(cached.status());
  const v1::Pod& pod = **cached;
  if (pod.metadata().has_deletion_timestamp()) {
    MutexLock lock(&mu_);
    scheduled_.erase(request.Key());  // on its way out already
    return {};
  }
  const std::string& node_name = pod.spec().node_name();
  std::vector<v1::Taint> taints;
  if (!node_name.empty()) {
    absl::StatusOr<NodePtr> node = nodes_.Get("", node_name);
    if (node.ok()) {
      taints = NoExecuteTaints(**node);
    } else if (!absl::IsNotFound(node.status())) {
      return node.status();
    }
  }
  if (taints.empty()) {
    Cancel(request, &pod);
    return {};
  }

  // Kubernetes' GetMatchingTolerations: the first toleration of each taint.
  const internal::Tolerations tolerations = EffectiveTolerations(pod);
  std::optional<int64_t> min_seconds;  // unset: tolerated forever
  for (const v1::Taint& taint : taints) {
    auto used = std::find_if(tolerations.begin(), tolerations.end(),
                             [&](const v1::Toleration& t) { return api::Tolerates(t, taint); });
    if (used == tolerations.end()) {
      return Evict(pod);  // not tolerated: at once
    }
    if (used->has_toleration_seconds()) {
      const int64_t seconds = std::max<int64_t>(used->toleration_seconds(), 0);
      min_seconds = std::min(min_seconds.value_or(seconds), seconds);
    }
  }
  if (!min_seconds.has_value()) {
    Cancel(request, &pod);
    return {};
  }

  const absl::Time now = clock_->Now();
  absl::Time start;
  {
    MutexLock lock(&mu_);
    auto [it, fresh] = scheduled_.try_emplace(request.Key());
    if (fresh || it->second.uid != pod.metadata().uid()) {
      // The earliest taint's timeAdded (now when unset), not before the pod came, never
      // after now.
      absl::Time tainted = now;
      for (const v1::Taint& taint : taints) {
        if (taint.has_time_added()) {
          tainted = std::min(tainted, api::FromTimestamp(taint.time_added()));
        }
      }
      it->second = {pod.metadata().uid(), std::min(std::max(tainted, BoundAt(pod)), now)};
    }
    start = it->second.start;
  }
  const absl::Time deadline = start + absl::Seconds(*min_seconds);
  if (now >= deadline) return Evict(pod);
  return Result::RequeueAfter(deadline - now);
}

void TaintEvictionReconciler::Cancel(const Request& request, const v1::Pod* pod) {
  std::optional<Scheduled> dropped;
  {
    MutexLock lock(&mu_);
    auto it = scheduled_.find(request.Key());
    if (it == scheduled_.end()) return;
    dropped = std::move(it->second);
    scheduled_.erase(it);
  }
  v1::Pod ref;
  if (pod != nullptr) {
    ref = *pod;
  } else {
    ref.mutable_metadata()->set_namespace_(request.ns);
    ref.mutable_metadata()->set_name(request.name);
    ref.mutable_metadata()->set_uid(dropped->uid);
  }
  (void)events_->Record(ref, client::kEventNormal, "TaintManagerEviction",
                        fmt::format("Cancelling deletion of Pod {}", request.Key()));
}

// Kubernetes' addConditionAndDeletePod: DisruptionTarget on the pod, then a graceful
// delete of exactly that pod.
absl::Status TaintEvictionReconciler::Evict(const v1::Pod& pod) {
  const std::string& ns = pod.metadata().namespace_();
  const std::string& name = pod.metadata().name();
  const std::string& uid = pod.metadata().uid();
  {
    MutexLock lock(&mu_);
    scheduled_.erase(internal::PodKey(pod));
  }
  (void)events_->Record(pod, client::kEventNormal, "TaintManagerEviction",
                        fmt::format("Marking for deletion Pod {}/{}", ns, name));
  const absl::Time now = clock_->Now();
  absl::Status status = client::RetryOnConflict(
      client::kDefaultRetry,
      [&]() -> absl::Status {
        ORCH_ASSIGN_OR_RETURN(v1::Pod current, client_->Get<v1::Pod>(ns, name));
        if (current.metadata().uid() != uid) return absl::OkStatus();
        v1::PodStatus& status = *current.mutable_status();
        auto it = std::find_if(status.mutable_conditions()->begin(),
                               status.mutable_conditions()->end(),
                               [](const v1::PodCondition& c) { return c.type() == "DisruptionTarget"; });
        v1::PodCondition* c = it == status.mutable_conditions()->end() ? status.add_conditions() : &*it;
        if (c->status() == "True" && c->reason() == "DeletionByTaintManager") return absl::OkStatus();
        c->set_type("DisruptionTarget");
        if (c->status() != "True") *c->mutable_last_transition_time() = api::MetaTime(now);
        c->set_status("True");
        c->set_reason("DeletionByTaintManager");
        c->set_message("Taint manager: deleting due to NoExecute taint");
        return client_->UpdateStatus(current).status();
      },
      client::Sleeper::None());
  if (absl::IsNotFound(status)) return absl::OkStatus();
  ORCH_RETURN_IF_ERROR(status);
  client::DeleteOptions options;
  options.preconditions.uid = uid;
  status = client_->Delete<v1::Pod>(ns, name, options);
  if (absl::IsNotFound(status) || absl::IsFailedPrecondition(status)) return absl::OkStatus();
  return status;
}

}  // namespace

absl::StatusOr<Controller*> AddTaintEvictionController(Manager* manager,
                                                       TaintEvictionOptions options) {
  client::SharedInformerFactory& informers = *manager->informers();
  ORCH_ASSIGN_OR_RETURN(auto nodes, informers.InformerFor<v1::Node>());
  ORCH_ASSIGN_OR_RETURN(auto pods, informers.InformerFor<v1::Pod>());
  ORCH_RETURN_IF_ERROR(internal::AddPodNodeNameIndex(pods));
  auto reconciler =
      std::make_unique<TaintEvictionReconciler>(manager, options, nodes.lister(), pods.lister());
  TaintEvictionReconciler* r = reconciler.get();
  ControllerSpec spec{.name = "taint-eviction"};
  spec.watches.push_back(internal::HandledBy<v1::Node>(r, &TaintEvictionReconciler::OnNode));
  spec.watches.push_back(internal::HandledBy<v1::Pod>(r, &TaintEvictionReconciler::OnPod));
  spec.options.max_concurrent_reconciles = options.concurrent_syncs;
  return manager->NewController(std::move(spec), std::move(reconciler));
}

}  // namespace orch::controller
