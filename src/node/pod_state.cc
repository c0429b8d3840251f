#include "node/pod_state.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_join.h"
#include "fmt/format.h"
#include "orch/api/time.h"

namespace orch::node::internal {

namespace v1 = ::orch::api::v1;

namespace {

bool Newer(const ContainerRecord& a, const ContainerRecord& b) {
  return std::tie(a.attempt, a.created_at, a.id) > std::tie(b.attempt, b.created_at, b.id);
}

void SetTerminated(const ContainerRecord& c, const StatusContext& context,
                   v1::ContainerStateTerminated* t) {
  t->set_exit_code(c.exit_code);
  t->set_reason(!c.reason.empty() ? c.reason : c.exit_code == 0 ? "Completed" : "Error");
  t->set_message(c.message);
  if (c.started_at != 0) *t->mutable_started_at() = ToTimestamp(c.started_at);
  if (c.finished_at != 0) *t->mutable_finished_at() = ToTimestamp(c.finished_at);
  t->set_container_id(fmt::format("{}://{}", context.runtime_name, c.id));
}

// A container's status: its newest run, the run before it, and what the agent knows.
v1::ContainerStatus StatusOf(const v1::Container& spec, const PodView& view,
                             const StatusContext& context, std::string_view default_waiting) {
  v1::ContainerStatus s;
  s.set_name(spec.name());
  s.set_image(spec.image());
  const ContainerRecord* latest = view.Latest(spec.name());
  const ContainerRecord* previous = view.Previous(spec.name());
  auto waiting_it = view.waiting.find(spec.name());
  const Waiting* waiting = waiting_it == view.waiting.end() ? nullptr : &waiting_it->second;
  auto set_waiting = [&](v1::ContainerStateWaiting* w) {
    w->set_reason(waiting != nullptr ? waiting->reason : std::string(default_waiting));
    if (waiting != nullptr) w->set_message(waiting->message);
  };
  s.set_started(false);
  if (latest == nullptr) {
    set_waiting(s.mutable_state()->mutable_waiting());
    return s;
  }
  s.set_container_id(fmt::format("{}://{}", context.runtime_name, latest->id));
  s.set_image_id(latest->image_ref);
  s.set_restart_count(static_cast<int32_t>(latest->attempt));
  if (latest->running()) {
    *s.mutable_state()->mutable_running()->mutable_started_at() = ToTimestamp(latest->started_at);
    auto started = view.started.find(latest->id);
    const bool has_started = !spec.has_startup_probe() ||
                             (started != view.started.end() && started->second);
    auto ready = view.ready.find(latest->id);
    s.set_started(has_started);
    s.set_ready(has_started && (!spec.has_readiness_probe() ||
                                (ready != view.ready.end() && ready->second)));
    if (previous != nullptr && previous->exited()) {
      SetTerminated(*previous, context, s.mutable_last_state()->mutable_terminated());
    }
  } else if (latest->exited()) {
    if (waiting != nullptr) {
      // Held back (CrashLoopBackOff, a failed create): the run that ended is the last state.
      set_waiting(s.mutable_state()->mutable_waiting());
      SetTerminated(*latest, context, s.mutable_last_state()->mutable_terminated());
    } else {
      SetTerminated(*latest, context, s.mutable_state()->mutable_terminated());
      if (previous != nullptr && previous->exited()) {
        SetTerminated(*previous, context, s.mutable_last_state()->mutable_terminated());
      }
    }
  } else {
    set_waiting(s.mutable_state()->mutable_waiting());
    if (previous != nullptr && previous->exited()) {
      SetTerminated(*previous, context, s.mutable_last_state()->mutable_terminated());
    }
  }
  return s;
}

// Sets condition `type`, keeping its transition time when its status did not change.
void SetCondition(v1::PodStatus& status, const v1::PodStatus& old, std::string_view type,
                  bool value, std::string_view reason, std::string message, absl::Time now) {
  v1::PodCondition* c = status.add_conditions();
  c->set_type(std::string(type));
  c->set_status(value ? "True" : "False");
  if (!value) {
    c->set_reason(std::string(reason));
    c->set_message(std::move(message));
  }
  for (const v1::PodCondition& before : old.conditions()) {
    if (before.type() == type && before.status() == c->status() &&
        before.has_last_transition_time()) {
      *c->mutable_last_transition_time() = before.last_transition_time();
      return;
    }
  }
  *c->mutable_last_transition_time() = api::MetaTime(now);
}

bool TerminalPhase(std::string_view phase) { return phase == "Succeeded" || phase == "Failed"; }

}  // namespace

const SandboxRecord* PodView::Sandbox() const {
  const SandboxRecord* best = nullptr;
  for (const SandboxRecord& s : sandboxes) {
    if (best == nullptr || std::tie(s.attempt, s.created_at) >= std::tie(best->attempt, best->created_at)) {
      best = &s;
    }
  }
  return best;
}

const ContainerRecord* PodView::Latest(const std::string& name) const {
  const ContainerRecord* best = nullptr;
  for (const ContainerRecord& c : containers) {
    if (c.name == name && (best == nullptr || Newer(c, *best))) best = &c;
  }
  return best;
}

const ContainerRecord* PodView::Previous(const std::string& name) const {
  const ContainerRecord* latest = Latest(name);
  const ContainerRecord* best = nullptr;
  for (const ContainerRecord& c : containers) {
    if (c.name == name && &c != latest && (best == nullptr || Newer(c, *best))) best = &c;
  }
  return best;
}

ContainerRecord* PodView::Find(const std::string& id) {
  for (ContainerRecord& c : containers) {
    if (c.id == id) return &c;
  }
  return nullptr;
}

bool InitDone(const v1::PodSpec& spec, const PodView& view) {
  for (const v1::Container& c : spec.init_containers()) {
    const ContainerRecord* latest = view.Latest(c.name());
    if (latest == nullptr || !latest->exited() || latest->exit_code != 0) return false;
  }
  return true;
}

bool ShouldRestart(const std::string& restart_policy, const ContainerRecord& c) {
  if (restart_policy == "Never") return false;
  if (restart_policy == "OnFailure") return c.exit_code != 0;
  return true;  // Always, the default
}

std::string PodPhase(const v1::PodSpec& spec, const v1::PodStatus& status) {
  const std::string policy = spec.restart_policy().empty() ? "Always" : spec.restart_policy();
  bool pending_init = false;
  for (const v1::ContainerStatus& s : status.init_container_statuses()) {
    if (s.state().has_terminated() && s.state().terminated().exit_code() == 0) continue;
    const bool failed = s.state().has_terminated() ||
                        (s.state().has_waiting() && s.last_state().has_terminated());
    if (failed && policy == "Never") return "Failed";
    pending_init = true;
  }
  int running = 0, waiting = 0, stopped = 0, succeeded = 0;
  for (const v1::ContainerStatus& s : status.container_statuses()) {
    if (s.state().has_running()) {
      ++running;
    } else if (s.state().has_terminated()) {
      ++stopped;
      if (s.state().terminated().exit_code() == 0) ++succeeded;
    } else if (s.last_state().has_terminated()) {
      ++stopped;  // waiting to restart after it ran
    } else {
      ++waiting;
    }
  }
  if (pending_init || waiting > 0) return "Pending";
  if (running > 0) return "Running";
  if (stopped > 0) {
    if (policy == "Always") return "Running";
    if (stopped == succeeded) return "Succeeded";
    if (policy == "Never") return "Failed";
    return "Running";  // OnFailure: the failed ones restart
  }
  return "Pending";
}

v1::PodStatus ComputePodStatus(const v1::Pod& pod, const PodView& view,
                               const StatusContext& context) {
  const v1::PodStatus& old = pod.status();
  const v1::PodSpec& spec = pod.spec();
  v1::PodStatus status;
  const bool init_done = InitDone(spec, view);
  for (const v1::Container& c : spec.init_containers()) {
    *status.add_init_container_statuses() = StatusOf(c, view, context, "PodInitializing");
  }
  for (const v1::Container& c : spec.containers()) {
    *status.add_container_statuses() =
        StatusOf(c, view, context, init_done ? "ContainerCreating" : "PodInitializing");
  }
  status.set_phase(TerminalPhase(old.phase()) ? old.phase() : PodPhase(spec, status));

  // Conditions: PodScheduled is the scheduler's; the agent owns the other three.
  for (const v1::PodCondition& c : old.conditions()) {
    if (c.type() == "PodScheduled") *status.add_conditions() = c;
  }
  std::vector<std::string> uninitialized;
  for (const v1::ContainerStatus& s : status.init_container_statuses()) {
    if (!s.state().has_terminated() || s.state().terminated().exit_code() != 0) {
      uninitialized.push_back(s.name());
    }
  }
  std::vector<std::string> unready;
  for (const v1::ContainerStatus& s : status.container_statuses()) {
    if (!s.ready()) unready.push_back(s.name());
  }
  const bool completed = TerminalPhase(status.phase());
  SetCondition(status, old, "Initialized", uninitialized.empty() || completed,
               "ContainersNotInitialized",
               fmt::format("containers with incomplete status: [{}]", absl::StrJoin(uninitialized, " ")),
               context.now);
  const std::string not_ready =
      fmt::format("containers with unready status: [{}]", absl::StrJoin(unready, " "));
  SetCondition(status, old, "ContainersReady", unready.empty() && !completed,
               completed ? "PodCompleted" : "ContainersNotReady", completed ? "" : not_ready,
               context.now);
  bool gates_ready = true;
  std::vector<std::string> missing_gates;
  for (const v1::PodReadinessGate& gate : spec.readiness_gates()) {
    bool ok = false;
    for (const v1::PodCondition& c : old.conditions()) {
      if (c.type() == gate.condition_type()) ok = c.status() == "True";
    }
    if (!ok) missing_gates.push_back(gate.condition_type());
    gates_ready &= ok;
  }
  for (const v1::PodCondition& c : old.conditions()) {
    for (const v1::PodReadinessGate& gate : spec.readiness_gates()) {
      if (c.type() == gate.condition_type()) *status.add_conditions() = c;
    }
  }
  if (completed) {
    SetCondition(status, old, "Ready", false, "PodCompleted", "", context.now);
  } else if (!unready.empty()) {
    SetCondition(status, old, "Ready", false, "ContainersNotReady", not_ready, context.now);
  } else {
    SetCondition(status, old, "Ready", gates_ready, "ReadinessGatesNotReady",
                 fmt::format("the status of pod readiness gate \"{}\" is not \"True\", but False",
                             missing_gates.empty() ? "" : missing_gates.front()),
                 context.now);
  }

  status.set_host_ip(context.host_ip);
  if (!context.host_ip.empty()) status.add_host_ips()->set_ip(context.host_ip);
  const SandboxRecord* sandbox = view.Sandbox();
  if (sandbox != nullptr && sandbox->ready() && !sandbox->ip.empty()) {
    status.set_pod_ip(sandbox->ip);
    status.add_pod_ips()->set_ip(sandbox->ip);
  } else {
    status.set_pod_ip(old.pod_ip());
    *status.mutable_pod_ips() = old.pod_ips();
  }
  if (old.has_start_time()) {
    *status.mutable_start_time() = old.start_time();
  } else if (view.start_time.has_value()) {
    *status.mutable_start_time() = api::MetaTime(*view.start_time);
  }
  status.set_qos_class(old.qos_class());
  status.set_nominated_node_name(old.nominated_node_name());
  return status;
}

google::protobuf::Timestamp ToTimestamp(int64_t nanos) {
  return api::MetaTime(absl::FromUnixNanos(nanos));
}

}  // namespace orch::node::internal
