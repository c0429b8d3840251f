#include "orch/node/pod_router.h"

#include <deque>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "orch/base/mutex.h"
#include "orch/base/status.h"

namespace orch::node {

namespace {

namespace v1 = ::orch::api::v1;
using PodPtr = std::shared_ptr<const v1::Pod>;

// Concurrency. The informer calls the router's handler one event at a time; Add and
// Remove come from any thread. Every event and every add owed to a new handler is put,
// under mu_, on one queue, in the order the router's view changed; whichever thread finds
// nobody delivering (delivering_) empties it, calling handlers without mu_. So each
// handler sees its node's changes in order, once, and never two handlers run at once.
class PodRouterImpl final : public PodRouter {
 public:
  explicit PodRouterImpl(client::Informer<v1::Pod> pods) : pods_(std::move(pods)) {}
  ~PodRouterImpl() override {
    if (subscription_ != 0) pods_.RemoveEventHandler(subscription_);
  }

  // Adds the router's one handler to the informer; after construction, as the informer
  // may call it at once on another thread.
  void Subscribe() {
    subscription_ = pods_.AddEventHandler({
        .on_add = [this](const PodPtr& pod) { OnAdd(pod); },
        .on_update = [this](const PodPtr& old_pod, const PodPtr& pod) { OnUpdate(old_pod, pod); },
        .on_delete = [this](const PodPtr& pod) { OnDelete(pod); },
        .on_synced = [this] { OnSynced(); },
    });
  }

  client::HandlerId Add(std::string node_name,
                        client::EventHandler<v1::Pod> handler) override {
    client::HandlerId id;
    {
      MutexLock lock(&mu_);
      id = next_id_++;
      auto registration = std::make_shared<Registration>();
      registration->id = id;
      registration->node = std::move(node_name);
      registration->fns = std::move(handler);
      Node& node = nodes_[registration->node];
      node.handlers.push_back(registration);
      registrations_.emplace(id, registration);
      for (const auto& [key, pod] : node.pods) {
        queue_.push_back({registration, Change::kAdd, nullptr, pod});
      }
      if (synced_) queue_.push_back({registration, Change::kSynced, nullptr, nullptr});
    }
    DeliverQueued();
    return id;
  }

  void Remove(client::HandlerId id) override {
    MutexLock lock(&mu_);
    auto it = registrations_.find(id);
    if (it == registrations_.end()) return;
    const std::shared_ptr<Registration> registration = std::move(it->second);
    registrations_.erase(it);
    registration->removed = true;
    auto node = nodes_.find(registration->node);
    std::erase(node->second.handlers, registration);
    if (node->second.handlers.empty() && node->second.pods.empty()) nodes_.erase(node);
    if (delivering_ && delivering_thread_ == std::this_thread::get_id()) return;  // from a handler
    struct Wait {
      PodRouterImpl* self;
      const Registration* registration;
    } wait{this, registration.get()};
    mu_.Await(absl::Condition(
        +[](Wait* w) ABSL_NO_THREAD_SAFETY_ANALYSIS {
          return w->self->calling_ != w->registration;
        },
        &wait));
  }

 private:
  enum class Change { kAdd, kUpdate, kDelete, kSynced };
  struct Registration {
    client::HandlerId id = 0;
    std::string node;
    client::EventHandler<v1::Pod> fns;  // set before the registration is shared
    bool removed = false;               // guarded by the router's mu_
  };
  struct Delivery {
    std::shared_ptr<Registration> to;
    Change change = Change::kSynced;
    PodPtr old_pod;
    PodPtr pod;
  };
  // What the router holds for one node name: its pods (for the adds a handler registered
  // later is owed, in key order as the informer gives them) and its handlers.
  struct Node {
    absl::btree_map<std::string, PodPtr> pods;  // by "namespace/name"
    std::vector<std::shared_ptr<Registration>> handlers;
  };

  static std::string Key(const v1::Pod& pod) {
    return pod.metadata().namespace_() + "/" + pod.metadata().name();
  }

  // ---- the informer's events

  void OnAdd(const PodPtr& pod) {
    {
      MutexLock lock(&mu_);
      Arrive(pod);
    }
    DeliverQueued();
  }

  void OnUpdate(const PodPtr& old_pod, const PodPtr& pod) {
    {
      MutexLock lock(&mu_);
      if (old_pod->spec().node_name() == pod->spec().node_name()) {
        nodes_[pod->spec().node_name()].pods[Key(*pod)] = pod;
        Route(pod->spec().node_name(), Change::kUpdate, old_pod, pod);
      } else {
        Leave(old_pod);
        Arrive(pod);
      }
    }
    DeliverQueued();
  }

  void OnDelete(const PodPtr& pod) {
    {
      MutexLock lock(&mu_);
      Leave(pod);
    }
    DeliverQueued();
  }

  void OnSynced() {
    {
      MutexLock lock(&mu_);
      synced_ = true;
      for (const auto& [id, registration] : registrations_) {
        queue_.push_back({registration, Change::kSynced, nullptr, nullptr});
      }
    }
    DeliverQueued();
  }

  // `pod` is now on its node: an add there.
  void Arrive(const PodPtr& pod) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    nodes_[pod->spec().node_name()].pods[Key(*pod)] = pod;
    Route(pod->spec().node_name(), Change::kAdd, nullptr, pod);
  }

  // `pod` (its last state on its node) is no longer there: a delete there.
  void Leave(const PodPtr& pod) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto node = nodes_.find(pod->spec().node_name());
    if (node == nodes_.end()) return;
    node->second.pods.erase(Key(*pod));
    Route(pod->spec().node_name(), Change::kDelete, nullptr, pod);
    if (node->second.handlers.empty() && node->second.pods.empty()) nodes_.erase(node);
  }

  void Route(const std::string& node_name, Change change, const PodPtr& old_pod,
             const PodPtr& pod) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto node = nodes_.find(node_name);
    if (node == nodes_.end()) return;
    for (const auto& registration : node->second.handlers) {
      queue_.push_back({registration, change, old_pod, pod});
    }
  }

  // ---- delivery

  // Makes the queued deliveries, unless another thread is making them (it will make these
  // too, after the ones before them).
  void DeliverQueued() {
    {
      MutexLock lock(&mu_);
      if (delivering_ || queue_.empty()) return;
      delivering_ = true;
      delivering_thread_ = std::this_thread::get_id();
    }
    Delivery next;
    while (TakeNext(&next)) Call(next);
  }

  // The next delivery to make; false, and this thread no longer delivering, when there is
  // none.
  bool TakeNext(Delivery* next) {
    MutexLock lock(&mu_);
    calling_ = nullptr;
    while (!queue_.empty()) {
      *next = std::move(queue_.front());
      queue_.pop_front();
      if (next->to->removed) continue;
      calling_ = next->to.get();
      return true;
    }
    *next = Delivery();
    delivering_ = false;
    delivering_thread_ = std::thread::id();
    return false;
  }

  static void Call(const Delivery& d) {
    const client::EventHandler<v1::Pod>& fns = d.to->fns;
    switch (d.change) {
      case Change::kAdd:
        if (fns.on_add) fns.on_add(d.pod);
        break;
      case Change::kUpdate:
        if (fns.on_update) fns.on_update(d.old_pod, d.pod);
        break;
      case Change::kDelete:
        if (fns.on_delete) fns.on_delete(d.pod);
        break;
      case Change::kSynced:
        if (fns.on_synced) fns.on_synced();
        break;
    }
  }

  client::Informer<v1::Pod> pods_;
  client::HandlerId subscription_ = 0;

  Mutex mu_;
  absl::flat_hash_map<std::string, Node> nodes_ ABSL_GUARDED_BY(mu_);  // by node name
  // By id: on_synced reaches the handlers in the order they were registered.
  absl::btree_map<client::HandlerId, std::shared_ptr<Registration>> registrations_
      ABSL_GUARDED_BY(mu_);
  client::HandlerId next_id_ ABSL_GUARDED_BY(mu_) = 1;
  bool synced_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<Delivery> queue_ ABSL_GUARDED_BY(mu_);
  bool delivering_ ABSL_GUARDED_BY(mu_) = false;
  std::thread::id delivering_thread_ ABSL_GUARDED_BY(mu_);
  const Registration* calling_ ABSL_GUARDED_BY(mu_) = nullptr;  // its handler is running
};

}  // namespace

absl::StatusOr<std::unique_ptr<PodRouter>> PodRouter::Create(
    client::SharedInformerFactory* informers) {
  if (informers == nullptr) return absl::InvalidArgumentError("informers: Required value");
  ORCH_ASSIGN_OR_RETURN(client::Informer<v1::Pod> pods, informers->InformerFor<v1::Pod>());
  auto router = std::make_unique<PodRouterImpl>(std::move(pods));
  router->Subscribe();
  return std::unique_ptr<PodRouter>(std::move(router));
}

}  // namespace orch::node
