#include "testing/fake_nodes.h"

#include <algorithm>
#include <utility>

#include "orch/api/time.h"
#include "fmt/format.h"
#include "orch/client/retry.h"

namespace orch::testing::internal {

namespace {

namespace v1 = api::v1;

// Kubernetes' first CrashLoopBackOff delay.
constexpr absl::Duration kRestartDelay = absl::Seconds(10);
// The kubelet's node lease: 40 s long, renewed every quarter of that.
constexpr int32_t kLeaseDurationSeconds = 40;
constexpr absl::Duration kLeaseRenewInterval = absl::Seconds(10);
// The kubelet posts an unchanged node status this often (nodeStatusReportFrequency).
constexpr absl::Duration kNodeStatusReportInterval = absl::Minutes(5);
constexpr char kNodeLeaseNamespace[] = "kube-node-lease";
// A status write or final delete the store refused is tried again this much later.
constexpr absl::Duration kWriteRetryDelay = absl::Seconds(1);

v1::Lease NewLease(const v1::Node& node, absl::Time now) {
  v1::Lease lease;
  const std::string& name = node.metadata().name();
  lease.mutable_metadata()->set_name(name);
  lease.mutable_metadata()->set_namespace_(kNodeLeaseNamespace);
  // Owned by its Node, as the kubelet makes it: the garbage collector removes it with it.
  v1::OwnerReference* owner = lease.mutable_metadata()->add_owner_references();
  owner->set_api_version("v1");
  owner->set_kind("Node");
  owner->set_name(name);
  owner->set_uid(node.metadata().uid());
  lease.mutable_spec()->set_holder_identity(name);
  lease.mutable_spec()->set_lease_duration_seconds(kLeaseDurationSeconds);
  *lease.mutable_spec()->mutable_renew_time() = api::MicroTime(now);
  return lease;
}

void SetCondition(v1::PodStatus& status, const std::string& type, bool value, absl::Time now) {
  const std::string text = value ? "True" : "False";
  for (v1::PodCondition& c : *status.mutable_conditions()) {
    if (c.type() != type) continue;
    if (c.status() != text) {
      c.set_status(text);
      *c.mutable_last_transition_time() = api::MetaTime(now);
    }
    return;
  }
  v1::PodCondition& c = *status.add_conditions();
  c.set_type(type);
  c.set_status(text);
  *c.mutable_last_transition_time() = api::MetaTime(now);
}

}  // namespace

FakeNodes::FakeNodes(client::Client* client, Executor* executor, const TestClusterOptions& options)
    : client_(client), executor_(executor), options_(options), images_(options.images) {}

FakeNodes::~FakeNodes() { Stop(); }

absl::Status FakeNodes::Start(client::SharedInformerFactory& informers) {
  for (int i = 0; i < options_.nodes; ++i) {
    v1::Node node;
    const std::string name = fmt::format("node-{}", i);
    node.mutable_metadata()->set_name(name);
    (*node.mutable_metadata()->mutable_labels())["kubernetes.io/hostname"] = name;
    for (auto* list : {node.mutable_status()->mutable_capacity(),
                       node.mutable_status()->mutable_allocatable()}) {
      (*list)["cpu"].set_value(options_.node_cpu);
      (*list)["memory"].set_value(options_.node_memory);
      (*list)["pods"].set_value(std::to_string(options_.node_pods));
    }
    v1::NodeCondition* ready = node.mutable_status()->add_conditions();
    ready->set_type("Ready");
    ready->set_status("True");
    ready->set_reason("KubeletReady");
    ready->set_message("kubelet is posting ready status");
    *ready->mutable_last_heartbeat_time() = api::MetaTime(executor_->clock().Now());
    *ready->mutable_last_transition_time() = api::MetaTime(executor_->clock().Now());
    v1::NodeAddress* address = node.mutable_status()->add_addresses();
    address->set_type("InternalIP");
    address->set_address(fmt::format("10.0.0.{}", i + 1));
    ORCH_ASSIGN_OR_RETURN(v1::Node created, client_->Create(node));
    ORCH_ASSIGN_OR_RETURN(v1::Lease lease,
                          client_->Create(NewLease(created, executor_->clock().Now())));
    Node& state = nodes_[name];
    state.index = i;
    state.lease = std::move(lease);
    state.lease_timer = executor_->PostAfter(kLeaseRenewInterval, [this, name, alive = alive_] {
      if (*alive) RenewLease(name);
    });
    state.status_timer =
        executor_->PostAfter(kNodeStatusReportInterval, [this, name, alive = alive_] {
          if (*alive) PostNodeStatus(name);
        });
  }
  ORCH_ASSIGN_OR_RETURN(pod_informer_, informers.InformerFor<v1::Pod>());
  pod_handler_ = pod_informer_->AddEventHandler({
      .on_add = [this](const auto& pod) { OnPod(*pod); },
      .on_update = [this](const auto&, const auto& pod) { OnPod(*pod); },
      .on_delete = [this](const auto& pod) { OnPodGone(*pod); },
  });
  ORCH_ASSIGN_OR_RETURN(node_informer_, informers.InformerFor<v1::Node>());
  node_handler_ = node_informer_->AddEventHandler({
      .on_delete = [this](const auto& node) { OnNodeGone(*node); },
  });
  return absl::OkStatus();
}

void FakeNodes::Stop() {
  if (pod_informer_.has_value() && pod_handler_ != 0) pod_informer_->RemoveEventHandler(pod_handler_);
  if (node_informer_.has_value() && node_handler_ != 0) {
    node_informer_->RemoveEventHandler(node_handler_);
  }
  pod_handler_ = 0;
  node_handler_ = 0;
  *alive_ = false;
  for (auto& [uid, running] : pods_) CancelTimers(running);
  for (auto& [name, node] : nodes_) StopNode(node);
}

absl::StatusOr<FakeNodes::Node*> FakeNodes::Find(std::string_view name) {
  auto it = nodes_.find(name);
  if (it == nodes_.end()) {
    return absl::NotFoundError(fmt::format("node \"{}\" is not a fake node of this cluster", name));
  }
  if (it->second.gone) {
    return absl::FailedPreconditionError(
        fmt::format("node \"{}\" was deleted: its fake node is gone for good", name));
  }
  return &it->second;
}

bool FakeNodes::Serving(const std::string& node) const {
  auto it = nodes_.find(node);
  return it != nodes_.end() && !it->second.failed && !it->second.gone;
}

// Cancels the node's heartbeat timers (its pods' timers are the caller's).
void FakeNodes::StopNode(Node& node) {
  if (node.lease_timer != 0) executor_->Cancel(node.lease_timer);
  if (node.status_timer != 0) executor_->Cancel(node.status_timer);
  node.lease_timer = 0;
  node.status_timer = 0;
}

absl::Status FakeNodes::Fail(std::string_view name) {
  ORCH_ASSIGN_OR_RETURN(Node * node, Find(name));
  if (node->failed) return absl::OkStatus();
  node->failed = true;
  StopNode(*node);
  for (auto& [uid, running] : pods_) {
    if (running.node == name) CancelTimers(running);
  }
  return absl::OkStatus();
}

absl::Status FakeNodes::Recover(std::string_view name) {
  ORCH_ASSIGN_OR_RETURN(Node * node, Find(name));
  if (!node->failed) return absl::OkStatus();
  node->failed = false;
  const std::string node_name(name);
  RenewLease(node_name);
  PostNodeStatus(node_name);
  std::vector<std::string> uids;
  for (const auto& [uid, running] : pods_) {
    if (running.node == name) uids.push_back(uid);
  }
  std::sort(uids.begin(), uids.end());  // the same order every run
  for (const std::string& uid : uids) {
    Running& running = pods_.at(uid);
    if (running.deleting) {
      running.timer = executor_->PostAfter(absl::ZeroDuration(), [this, uid, alive = alive_] {
        if (*alive) FinishDeletion(uid);
      });
    } else if (running.started) {
      ReportRunning(uid);
    } else {
      After(uid, running.start_delay, &FakeNodes::StartContainers);
    }
  }
  return absl::OkStatus();
}

void FakeNodes::RenewLease(const std::string& name) {
  Node& node = nodes_.at(name);
  node.lease_timer = 0;
  if (node.failed || node.gone) return;
  const absl::Time now = executor_->clock().Now();
  absl::StatusOr<v1::Lease> written = absl::UnknownError("not written");
  if (node.lease.has_value()) {
    v1::Lease lease = *node.lease;
    *lease.mutable_spec()->mutable_renew_time() = api::MicroTime(now);
    written = client_->Update(lease);
  }
  if (!written.ok()) {
    // Someone else wrote or deleted it: renew what is stored, or make it again.
    absl::StatusOr<v1::Lease> stored = client_->Get<v1::Lease>(kNodeLeaseNamespace, name);
    if (stored.ok()) {
      *stored->mutable_spec()->mutable_renew_time() = api::MicroTime(now);
      written = client_->Update(*stored);
    } else if (absl::IsNotFound(stored.status())) {
      absl::StatusOr<v1::Node> object = client_->Get<v1::Node>("", name);
      if (object.ok()) written = client_->Create(NewLease(*object, now));
    }
  }
  if (written.ok()) node.lease = *std::move(written);
  node.lease_timer = executor_->PostAfter(kLeaseRenewInterval, [this, name, alive = alive_] {
    if (*alive) RenewLease(name);
  });
}

void FakeNodes::PostNodeStatus(const std::string& name) {
  Node& node = nodes_.at(name);
  node.status_timer = 0;
  if (node.failed || node.gone) return;
  const absl::Time now = executor_->clock().Now();
  (void)client::RetryOnConflict(
      client::kDefaultRetry,
      [&]() -> absl::Status {
        ORCH_ASSIGN_OR_RETURN(v1::Node object, client_->Get<v1::Node>("", name));
        v1::NodeCondition* ready = nullptr;
        for (v1::NodeCondition& c : *object.mutable_status()->mutable_conditions()) {
          if (c.type() == "Ready") ready = &c;
        }
        if (ready == nullptr) {
          ready = object.mutable_status()->add_conditions();
          ready->set_type("Ready");
        }
        if (ready->status() != "True") {
          ready->set_status("True");
          *ready->mutable_last_transition_time() = api::MetaTime(now);
        }
        ready->set_reason("KubeletReady");
        ready->set_message("kubelet is posting ready status");
        *ready->mutable_last_heartbeat_time() = api::MetaTime(now);
        return client_->UpdateStatus(object).status();
      },
      client::Sleeper::None());
  node.status_timer = executor_->PostAfter(kNodeStatusReportInterval, [this, name, alive = alive_] {
    if (*alive) PostNodeStatus(name);
  });
}

void FakeNodes::OnNodeGone(const v1::Node& object) {
  auto it = nodes_.find(object.metadata().name());
  if (it == nodes_.end()) return;
  it->second.gone = true;
  StopNode(it->second);
  for (auto& [uid, running] : pods_) {
    if (running.node == object.metadata().name()) CancelTimers(running);
  }
}

void FakeNodes::SetImageBehavior(std::string image, ImageBehavior behavior) {
  images_[std::move(image)] = behavior;
}

ImageBehavior FakeNodes::BehaviorOf(const Running& pod) const {
  ImageBehavior out;
  out.start_delay = absl::ZeroDuration();
  for (const std::string& image : pod.images) {
    auto it = images_.find(image);
    const ImageBehavior& b = it == images_.end() ? options_.default_image : it->second;
    out.start_delay = std::max(out.start_delay, b.start_delay);
    out.never_ready |= b.never_ready;
    if (b.exit_after.has_value() && (!out.exit_after || *b.exit_after < *out.exit_after)) {
      out.exit_after = b.exit_after;
      out.exit_code = b.exit_code;
    }
  }
  return out;
}

void FakeNodes::OnPod(const v1::Pod& pod) {
  const std::string& node = pod.spec().node_name();
  if (!nodes_.contains(node)) return;
  const std::string& uid = pod.metadata().uid();
  auto [it, fresh] = pods_.try_emplace(uid);
  Running& running = it->second;
  if (fresh) {
    running.ns = pod.metadata().namespace_();
    running.name = pod.metadata().name();
    running.node = node;
    for (const v1::Container& c : pod.spec().containers()) running.images.push_back(c.image());
    running.start_delay = BehaviorOf(running).start_delay;
  }
  if (pod.metadata().has_deletion_timestamp()) {
    if (running.deleting) return;
    running.deleting = true;
    if (running.timer != 0) executor_->Cancel(running.timer);
    running.timer = 0;
    // The containers stop at once: finish the graceful deletion (a failed node does when
    // it recovers).
    if (!Serving(node)) return;
    running.timer = executor_->PostAfter(absl::ZeroDuration(), [this, uid, alive = alive_] {
      if (*alive) FinishDeletion(uid);
    });
    return;
  }
  if (fresh && Serving(node)) After(uid, running.start_delay, &FakeNodes::StartContainers);
}

void FakeNodes::FinishDeletion(const std::string& uid) {
  auto found = pods_.find(uid);
  if (found == pods_.end()) return;
  found->second.timer = 0;
  if (!Serving(found->second.node)) return;
  client::DeleteOptions options;
  options.grace_period_seconds = 0;
  options.preconditions.uid = uid;
  const absl::Status status =
      client_->Delete<v1::Pod>(found->second.ns, found->second.name, options);
  if (absl::IsUnavailable(status) || absl::IsAborted(status)) {
    found->second.timer = executor_->PostAfter(kWriteRetryDelay, [this, uid, alive = alive_] {
      if (*alive) FinishDeletion(uid);
    });
  }
}

void FakeNodes::OnPodGone(const v1::Pod& pod) {
  auto it = pods_.find(pod.metadata().uid());
  if (it == pods_.end()) return;
  CancelTimers(it->second);
  pods_.erase(it);
}

void FakeNodes::CancelTimers(Running& pod) {
  for (TimerId* timer : {&pod.timer, &pod.flush_timer}) {
    if (*timer != 0) executor_->Cancel(*timer);
    *timer = 0;
  }
}

void FakeNodes::After(const std::string& uid, absl::Duration delay,
                      void (FakeNodes::*step)(const std::string&)) {
  auto it = pods_.find(uid);
  if (it == pods_.end() || it->second.deleting || !Serving(it->second.node)) return;
  it->second.timer = executor_->PostAfter(delay, [this, uid, step, alive = alive_] {
    if (*alive) (this->*step)(uid);
  });
}

void FakeNodes::WriteStatus(const std::string& uid, std::function<void(v1::Pod&)> change) {
  auto it = pods_.find(uid);
  if (it == pods_.end()) return;
  it->second.unwritten.push_back(std::move(change));
  FlushStatus(uid);
}

void FakeNodes::FlushStatus(const std::string& uid) {
  auto it = pods_.find(uid);
  if (it == pods_.end()) return;
  Running& running = it->second;
  running.flush_timer = 0;
  if (running.deleting || !Serving(running.node) || running.unwritten.empty()) return;
  const absl::Status status = client::RetryOnConflict(
      client::kDefaultRetry,
      [&]() -> absl::Status {
        ORCH_ASSIGN_OR_RETURN(v1::Pod pod, client_->Get<v1::Pod>(running.ns, running.name));
        if (pod.metadata().uid() != uid || pod.metadata().has_deletion_timestamp()) {
          return absl::OkStatus();
        }
        for (const auto& change : running.unwritten) change(pod);
        return client_->UpdateStatus(pod).status();
      },
      client::Sleeper::None());
  if (status.ok() || absl::IsNotFound(status)) {
    running.unwritten.clear();
    return;
  }
  running.flush_timer = executor_->PostAfter(kWriteRetryDelay, [this, uid, alive = alive_] {
    if (*alive) FlushStatus(uid);
  });
}

void FakeNodes::StartContainers(const std::string& uid) {
  auto it = pods_.find(uid);
  if (it == pods_.end()) return;
  Running& running = it->second;
  running.timer = 0;
  running.started = true;
  const int node = nodes_.at(running.node).index;
  if (running.pod_ip.empty()) {
    running.pod_ip = fmt::format("10.244.{}.{}", node, ++next_ip_[running.node]);
  }
  const ImageBehavior behavior = BehaviorOf(running);
  WriteStatus(uid, [now = executor_->clock().Now(), node, pod_ip = running.pod_ip,
                    ready = !behavior.never_ready](v1::Pod& pod) {
    v1::PodStatus& status = *pod.mutable_status();
    status.set_phase("Running");
    status.set_host_ip(fmt::format("10.0.0.{}", node + 1));
    status.clear_host_ips();
    status.add_host_ips()->set_ip(status.host_ip());
    if (status.pod_ip().empty()) {
      status.set_pod_ip(pod_ip);
      status.add_pod_ips()->set_ip(pod_ip);
    }
    if (!status.has_start_time()) *status.mutable_start_time() = api::MetaTime(now);
    std::vector<v1::ContainerStatus> previous(status.container_statuses().begin(),
                                              status.container_statuses().end());
    status.clear_container_statuses();
    for (int i = 0; i < pod.spec().containers_size(); ++i) {
      const v1::Container& c = pod.spec().containers(i);
      v1::ContainerStatus& cs = *status.add_container_statuses();
      if (static_cast<size_t>(i) < previous.size()) cs = previous[static_cast<size_t>(i)];
      cs.set_name(c.name());
      cs.set_image(c.image());
      cs.set_ready(ready);
      cs.set_started(true);
      cs.mutable_state()->Clear();
      *cs.mutable_state()->mutable_running()->mutable_started_at() = api::MetaTime(now);
    }
    SetCondition(status, "Initialized", true, now);
    SetCondition(status, "ContainersReady", ready, now);
    SetCondition(status, "Ready", ready, now);
  });
  if (behavior.exit_after.has_value()) After(uid, *behavior.exit_after, &FakeNodes::Crash);
}

void FakeNodes::ReportRunning(const std::string& uid) {
  auto it = pods_.find(uid);
  if (it == pods_.end()) return;
  const ImageBehavior behavior = BehaviorOf(it->second);
  WriteStatus(uid, [now = executor_->clock().Now(), ready = !behavior.never_ready](v1::Pod& pod) {
    v1::PodStatus& status = *pod.mutable_status();
    for (v1::ContainerStatus& cs : *status.mutable_container_statuses()) cs.set_ready(ready);
    SetCondition(status, "ContainersReady", ready, now);
    SetCondition(status, "Ready", ready, now);
  });
  if (behavior.exit_after.has_value()) After(uid, *behavior.exit_after, &FakeNodes::Crash);
}

void FakeNodes::Crash(const std::string& uid) {
  auto it = pods_.find(uid);
  if (it == pods_.end()) return;
  it->second.timer = 0;
  WriteStatus(uid, [now = executor_->clock().Now(),
                    exit_code = BehaviorOf(it->second).exit_code](v1::Pod& pod) {
    v1::PodStatus& status = *pod.mutable_status();
    for (v1::ContainerStatus& cs : *status.mutable_container_statuses()) {
      v1::ContainerStateTerminated& last = *cs.mutable_last_state()->mutable_terminated();
      last.set_exit_code(exit_code);
      last.set_reason("Error");
      last.mutable_started_at()->CopyFrom(cs.state().running().started_at());
      *last.mutable_finished_at() = api::MetaTime(now);
      cs.set_restart_count(cs.restart_count() + 1);
      cs.set_ready(false);
      cs.set_started(false);
      cs.mutable_state()->Clear();
      cs.mutable_state()->mutable_waiting()->set_reason("CrashLoopBackOff");
    }
    SetCondition(status, "ContainersReady", false, now);
    SetCondition(status, "Ready", false, now);
  });
  After(uid, kRestartDelay, &FakeNodes::StartContainers);
}

}  // namespace orch::testing::internal
