#include "testing/fake_nodes.h"

#include <algorithm>
#include <utility>

#include "fmt/format.h"
#include "orch/client/retry.h"

namespace orch::testing::internal {

namespace {

namespace v1 = api::v1;

// Kubernetes' first CrashLoopBackOff delay.
constexpr absl::Duration kRestartDelay = absl::Seconds(10);

google::protobuf::Timestamp Stamp(absl::Time t) {
  google::protobuf::Timestamp out;
  out.set_seconds(absl::ToUnixSeconds(t));
  return out;
}

void SetCondition(v1::PodStatus& status, const std::string& type, bool value, absl::Time now) {
  const std::string text = value ? "True" : "False";
  for (v1::PodCondition& c : *status.mutable_conditions()) {
    if (c.type() != type) continue;
    if (c.status() != text) {
      c.set_status(text);
      *c.mutable_last_transition_time() = Stamp(now);
    }
    return;
  }
  v1::PodCondition& c = *status.add_conditions();
  c.set_type(type);
  c.set_status(text);
  *c.mutable_last_transition_time() = Stamp(now);
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
    *ready->mutable_last_heartbeat_time() = Stamp(executor_->clock().Now());
    *ready->mutable_last_transition_time() = Stamp(executor_->clock().Now());
    v1::NodeAddress* address = node.mutable_status()->add_addresses();
    address->set_type("InternalIP");
    address->set_address(fmt::format("10.0.0.{}", i + 1));
    ORCH_RETURN_IF_ERROR(client_->Create(node).status());
    node_index_[name] = i;
  }
  ORCH_ASSIGN_OR_RETURN(informer_, informers.InformerFor<v1::Pod>());
  handler_ = informer_->AddEventHandler({
      .on_add = [this](const auto& pod) { OnPod(*pod); },
      .on_update = [this](const auto&, const auto& pod) { OnPod(*pod); },
      .on_delete = [this](const auto& pod) { OnPodGone(*pod); },
  });
  return absl::OkStatus();
}

void FakeNodes::Stop() {
  if (informer_.has_value() && handler_ != 0) informer_->RemoveEventHandler(handler_);
  handler_ = 0;
  *alive_ = false;
  for (auto& [uid, running] : pods_) {
    if (running.timer != 0) executor_->Cancel(running.timer);
  }
}

void FakeNodes::SetImageBehavior(std::string image, ImageBehavior behavior) {
  images_[std::move(image)] = behavior;
}

ImageBehavior FakeNodes::BehaviorOf(const v1::Pod& pod) const {
  ImageBehavior out;
  out.start_delay = absl::ZeroDuration();
  for (const v1::Container& c : pod.spec().containers()) {
    auto it = images_.find(c.image());
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
  if (!node_index_.contains(pod.spec().node_name())) return;
  const std::string& uid = pod.metadata().uid();
  auto [it, fresh] = pods_.try_emplace(uid);
  Running& running = it->second;
  if (fresh) {
    running.ns = pod.metadata().namespace_();
    running.name = pod.metadata().name();
  }
  if (pod.metadata().has_deletion_timestamp()) {
    if (running.deleting) return;
    running.deleting = true;
    if (running.timer != 0) executor_->Cancel(running.timer);
    // The containers stop at once: finish the graceful deletion.
    running.timer = executor_->PostAfter(absl::ZeroDuration(), [this, uid, alive = alive_] {
      if (!*alive) return;
      auto found = pods_.find(uid);
      if (found == pods_.end()) return;
      client::DeleteOptions options;
      options.grace_period_seconds = 0;
      options.preconditions.uid = uid;
      (void)client_->Delete<v1::Pod>(found->second.ns, found->second.name, options);
    });
    return;
  }
  if (fresh) After(uid, BehaviorOf(pod).start_delay, &FakeNodes::StartContainers);
}

void FakeNodes::OnPodGone(const v1::Pod& pod) {
  auto it = pods_.find(pod.metadata().uid());
  if (it == pods_.end()) return;
  if (it->second.timer != 0) executor_->Cancel(it->second.timer);
  pods_.erase(it);
}

void FakeNodes::After(const std::string& uid, absl::Duration delay,
                      void (FakeNodes::*step)(const std::string&)) {
  auto it = pods_.find(uid);
  if (it == pods_.end() || it->second.deleting) return;
  it->second.timer = executor_->PostAfter(delay, [this, uid, step, alive = alive_] {
    if (*alive) (this->*step)(uid);
  });
}

void FakeNodes::WriteStatus(const std::string& uid, const std::function<void(v1::Pod&)>& change) {
  auto it = pods_.find(uid);
  if (it == pods_.end() || it->second.deleting) return;
  const Running& running = it->second;
  (void)client::RetryOnConflict(
      client::kDefaultRetry,
      [&]() -> absl::Status {
        ORCH_ASSIGN_OR_RETURN(v1::Pod pod, client_->Get<v1::Pod>(running.ns, running.name));
        if (pod.metadata().uid() != uid || pod.metadata().has_deletion_timestamp()) {
          return absl::OkStatus();
        }
        change(pod);
        return client_->UpdateStatus(pod).status();
      },
      client::Sleeper::None());
}

void FakeNodes::StartContainers(const std::string& uid) {
  const absl::Time now = executor_->clock().Now();
  ImageBehavior behavior;
  WriteStatus(uid, [&](v1::Pod& pod) {
    behavior = BehaviorOf(pod);
    v1::PodStatus& status = *pod.mutable_status();
    const int node = node_index_.at(pod.spec().node_name());
    status.set_phase("Running");
    status.set_host_ip(fmt::format("10.0.0.{}", node + 1));
    status.clear_host_ips();
    status.add_host_ips()->set_ip(status.host_ip());
    if (status.pod_ip().empty()) {
      status.set_pod_ip(fmt::format("10.244.{}.{}", node, ++next_ip_[pod.spec().node_name()]));
      status.add_pod_ips()->set_ip(status.pod_ip());
    }
    if (!status.has_start_time()) *status.mutable_start_time() = Stamp(now);
    const bool ready = !behavior.never_ready;
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
      *cs.mutable_state()->mutable_running()->mutable_started_at() = Stamp(now);
    }
    SetCondition(status, "Initialized", true, now);
    SetCondition(status, "ContainersReady", ready, now);
    SetCondition(status, "Ready", ready, now);
  });
  if (behavior.exit_after.has_value()) After(uid, *behavior.exit_after, &FakeNodes::Crash);
}

void FakeNodes::Crash(const std::string& uid) {
  const absl::Time now = executor_->clock().Now();
  WriteStatus(uid, [&](v1::Pod& pod) {
    const ImageBehavior behavior = BehaviorOf(pod);
    v1::PodStatus& status = *pod.mutable_status();
    for (v1::ContainerStatus& cs : *status.mutable_container_statuses()) {
      v1::ContainerStateTerminated& last = *cs.mutable_last_state()->mutable_terminated();
      last.set_exit_code(behavior.exit_code);
      last.set_reason("Error");
      last.mutable_started_at()->CopyFrom(cs.state().running().started_at());
      *last.mutable_finished_at() = Stamp(now);
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
