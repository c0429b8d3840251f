#include "node/pod_worker.h"

#include <algorithm>
#include <utility>

#include "fmt/format.h"
#include "node/container_config.h"
#include "orch/api/encoding.h"
#include "orch/client/retry.h"

namespace orch::node::internal {

namespace v1 = ::orch::api::v1;

namespace {

constexpr absl::Duration kBackoffInitial = absl::Seconds(10);
constexpr absl::Duration kBackoffMax = absl::Minutes(5);
// A backoff entry unused this long starts over; a container that ran this long is
// forgiven its earlier crashes.
constexpr absl::Duration kBackoffForget = absl::Minutes(10);
constexpr int64_t kDefaultGraceSeconds = 30;
// What a container is left to stop in after its preStop hook took the rest of the grace
// period (the kubelet's minimumGracePeriodInSeconds).
constexpr int64_t kMinimumGraceSeconds = 2;
// How long a failed pull shows as ErrImagePull before ImagePullBackOff.
constexpr absl::Duration kImagePullErrorShown = absl::Seconds(1);

// Pull policy as Kubernetes defaults it: Always for :latest or no tag, else IfNotPresent.
std::string PullPolicy(const v1::Container& c) {
  if (!c.image_pull_policy().empty()) return c.image_pull_policy();
  const std::string& image = c.image();
  const size_t slash = image.rfind('/');
  const size_t colon = image.rfind(':');
  const bool tagged = colon != std::string::npos && (slash == std::string::npos || colon > slash);
  const bool latest = !tagged || image.substr(colon + 1) == "latest";
  return latest && image.find('@') == std::string::npos ? "Always" : "IfNotPresent";
}

int32_t Seconds(const std::optional<int32_t>& value, int32_t fallback) {
  return value.has_value() && *value > 0 ? *value : fallback;
}

// The grace a pod's containers get to stop.
int64_t GraceSeconds(const v1::Pod* pod) {
  if (pod == nullptr) return 0;
  if (pod->metadata().has_deletion_grace_period_seconds()) {
    return std::max<int64_t>(0, pod->metadata().deletion_grace_period_seconds());
  }
  if (pod->spec().has_termination_grace_period_seconds()) {
    return std::max<int64_t>(0, pod->spec().termination_grace_period_seconds());
  }
  return kDefaultGraceSeconds;
}

bool SharesPids(const v1::Pod& pod) {
  return pod.spec().has_share_process_namespace() && pod.spec().share_process_namespace();
}

std::string PodRef(const v1::Pod& pod) {
  return fmt::format("{}_{}({})", pod.metadata().name(), pod.metadata().namespace_(),
                     pod.metadata().uid());
}

int StateRank(cri::ContainerState s) {
  switch (s) {
    case cri::CONTAINER_CREATED:
      return 0;
    case cri::CONTAINER_RUNNING:
      return 1;
    case cri::CONTAINER_EXITED:
      return 2;
    default:
      return 3;
  }
}

const v1::Container* FindContainer(const v1::PodSpec& spec, const std::string& name) {
  for (const auto& c : spec.containers()) {
    if (c.name() == name) return &c;
  }
  for (const auto& c : spec.init_containers()) {
    if (c.name() == name) return &c;
  }
  return nullptr;
}

// The pod's sandbox config, as RunPodSandbox and every CreateContainer of the pod take it.
cri::PodSandboxConfig SandboxConfig(const v1::Pod& pod, uint32_t attempt,
                                    const std::string& log_root) {
  cri::PodSandboxConfig config;
  cri::PodSandboxMetadata& meta = *config.mutable_metadata();
  meta.set_name(pod.metadata().name());
  meta.set_namespace_(pod.metadata().namespace_());
  meta.set_uid(pod.metadata().uid());
  meta.set_attempt(attempt);
  config.set_hostname(pod.spec().hostname().empty() ? pod.metadata().name() : pod.spec().hostname());
  if (!log_root.empty()) {
    config.set_log_directory(fmt::format("{}/{}_{}_{}", log_root, pod.metadata().namespace_(),
                                         pod.metadata().name(), pod.metadata().uid()));
  }
  for (const auto& [k, v] : pod.metadata().labels()) (*config.mutable_labels())[k] = v;
  (*config.mutable_labels())[kPodNameLabel] = pod.metadata().name();
  (*config.mutable_labels())[kPodNamespaceLabel] = pod.metadata().namespace_();
  (*config.mutable_labels())[kPodUidLabel] = pod.metadata().uid();
  for (const auto& [k, v] : pod.metadata().annotations()) (*config.mutable_annotations())[k] = v;
  for (const v1::Container& c : pod.spec().containers()) {
    for (const v1::ContainerPort& port : c.ports()) {
      if (port.host_port() == 0) continue;
      cri::PortMapping* mapping = config.add_port_mappings();
      mapping->set_container_port(port.container_port());
      mapping->set_host_port(port.host_port());
      mapping->set_host_ip(port.host_ip());
      mapping->set_protocol(port.protocol() == "UDP"    ? cri::UDP
                            : port.protocol() == "SCTP" ? cri::SCTP
                                                        : cri::TCP);
    }
  }
  // Each container has its own PID namespace (its process is PID 1, as in Kubernetes)
  // unless the pod shares one.
  cri::NamespaceOption& namespaces =
      *config.mutable_linux()->mutable_security_context()->mutable_namespace_options();
  namespaces.set_pid(SharesPids(pod) ? cri::POD : cri::CONTAINER);
  if (pod.spec().host_network()) namespaces.set_network(cri::NODE);
  return config;
}

}  // namespace

// ---------------------------------------------------------------- Backoff

std::string AgentContext::PodAddress(const std::string& runtime_ip, const std::string& uid) {
  if (!runtime_ip.empty() || options.network == nullptr) return runtime_ip;
  absl::StatusOr<std::string> address = options.network->AssignPodAddress(options.node_name, uid);
  if (!address.ok()) {
    ++runtime_errors;
    return "";
  }
  return *address;
}

std::optional<absl::Time> Backoff::HeldUntil(const std::string& key, absl::Time failed_at,
                                             absl::Time now) const {
  auto it = entries_.find(key);
  if (it == entries_.end() || now - it->second.updated > kBackoffForget) return std::nullopt;
  const absl::Time until = failed_at + it->second.delay;
  if (now < until) return until;
  return std::nullopt;
}

void Backoff::Next(const std::string& key, absl::Time now) {
  auto [it, fresh] = entries_.try_emplace(key, Entry{kBackoffInitial, now});
  if (!fresh) {
    it->second.delay = now - it->second.updated > kBackoffForget
                           ? kBackoffInitial
                           : std::min(kBackoffMax, it->second.delay * 2);
    it->second.updated = now;
  }
}

absl::Duration Backoff::Delay(const std::string& key) const {
  auto it = entries_.find(key);
  return it == entries_.end() ? absl::ZeroDuration() : it->second.delay;
}

// ---------------------------------------------------------------- PodWorker

PodWorker::PodWorker(std::shared_ptr<AgentContext> context, std::string uid)
    : context_(std::move(context)), uid_(std::move(uid)) {}

PodWorker::~PodWorker() = default;

absl::Time PodWorker::Now() const { return context_->executor->clock().Now(); }

void PodWorker::UpdatePod(std::shared_ptr<const v1::Pod> pod) {
  std::vector<std::shared_ptr<HookRun>> abandoned;
  {
    MutexLock lock(&mu_);
    const bool terminating = pod == nullptr || pod->metadata().has_deletion_timestamp();
    if (pod == nullptr) {
      pod_gone_ = true;
    } else {
      pod_ = std::move(pod);
      pod_gone_ = false;
      if (!view_.start_time.has_value()) view_.start_time = Now();
    }
    // A pod being killed does not wait for its postStart hooks (the kubelet cancels them).
    if (terminating) {
      for (auto& [id, run] : post_starts_) abandoned.push_back(run);
    }
  }
  for (auto& run : abandoned) run->Abandon();
  Kick();
}

void PodWorker::Observe(std::vector<SandboxRecord> sandboxes,
                        std::vector<ContainerRecord> containers, uint64_t generation) {
  bool changed = false;
  {
    MutexLock lock(&mu_);
    generation_ = std::max(generation_, generation);
    auto merge = [&](auto& mine, auto& listed, auto newer) {
      std::map<std::string, size_t> index;
      for (size_t i = 0; i < listed.size(); ++i) index[listed[i].id] = i;
      // Drop what the relist no longer shows, if it was known before the relist began.
      for (auto it = mine.begin(); it != mine.end();) {
        auto since = known_since_.find(it->id);
        if (!index.contains(it->id) && since != known_since_.end() && since->second < generation) {
          known_since_.erase(since);
          it = mine.erase(it);
          changed = true;
        } else {
          ++it;
        }
      }
      for (auto& record : listed) {
        auto it = std::find_if(mine.begin(), mine.end(),
                               [&](const auto& m) { return m.id == record.id; });
        if (it == mine.end()) {
          known_since_[record.id] = generation;
          mine.push_back(std::move(record));
          changed = true;
        } else if (newer(record, *it)) {
          *it = std::move(record);
          changed = true;
        }
      }
    };
    merge(view_.sandboxes, sandboxes, [](const SandboxRecord& a, const SandboxRecord& b) {
      return a.state != b.state || (a.ip != b.ip && !a.ip.empty());
    });
    merge(view_.containers, containers, [](const ContainerRecord& a, const ContainerRecord& b) {
      // States only move forward; a later list never undoes what a call reported.
      if (StateRank(a.state) != StateRank(b.state)) return StateRank(a.state) > StateRank(b.state);
      return a.detailed && !b.detailed;
    });
    // A container that ran long enough is forgiven its earlier crashes.
    for (const ContainerRecord& c : view_.containers) {
      if (c.exited() && c.started_at != 0 &&
          absl::Nanoseconds(c.finished_at - c.started_at) >= kBackoffForget) {
        crash_backoff_.Reset(c.name);
      }
    }
  }
  if (changed) Kick();
}

void PodWorker::Kick() {
  {
    MutexLock lock(&mu_);
    if (stopped_) return;
    if (busy_) {
      dirty_ = true;
      return;
    }
    busy_ = true;
  }
  context_->executor->Post([weak = weak_from_this()] {
    if (auto self = weak.lock()) self->RunSync();
  });
}

void PodWorker::KickAt(absl::Time when) {
  if (when >= kick_at_) return;
  if (kick_timer_ != 0) context_->executor->Cancel(kick_timer_);
  kick_at_ = when;
  kick_timer_ = context_->executor->PostAfter(when - Now(), [weak = weak_from_this()] {
    if (auto self = weak.lock()) {
      {
        MutexLock lock(&self->mu_);
        self->kick_timer_ = 0;
        self->kick_at_ = absl::InfiniteFuture();
      }
      self->Kick();
    }
  });
}

void PodWorker::RetryLater() {
  retry_at_ = Now() + absl::Seconds(1);
  KickAt(retry_at_);
}

void PodWorker::Stop() {
  MutexLock lock(&mu_);
  stopped_ = true;
  if (kick_timer_ != 0) context_->executor->Cancel(kick_timer_);
  kick_timer_ = 0;
  for (Probe& p : probes_) {
    if (p.timer != 0) context_->executor->Cancel(p.timer);
  }
  probes_.clear();
}

bool PodWorker::Finished() const {
  MutexLock lock(&mu_);
  return pod_gone_ && !busy_ && view_.sandboxes.empty() && view_.containers.empty();
}

std::map<std::string, cri::ContainerState> PodWorker::KnownStates() const {
  MutexLock lock(&mu_);
  std::map<std::string, cri::ContainerState> out;
  for (const ContainerRecord& c : view_.containers) {
    // An exit the worker made itself (a stop) still wants its details from the runtime.
    out[c.id] = c.exited() && !c.detailed ? cri::CONTAINER_UNKNOWN : c.state;
  }
  return out;
}

int64_t PodWorker::running_containers() const {
  MutexLock lock(&mu_);
  return std::count_if(view_.containers.begin(), view_.containers.end(),
                       [](const ContainerRecord& c) { return c.running(); });
}

void PodWorker::RunSync() {
  ++context_->syncs;
  Action action;
  std::shared_ptr<const v1::Pod> pod;
  PodView view;
  {
    MutexLock lock(&mu_);
    dirty_ = false;
    if (stopped_ || context_->stopped.load() || !context_->adopted.load()) {
      busy_ = false;  // the agent kicks every worker once it has adopted what runs
      return;
    }
    // After a failed call, the next try waits a second (the runtime or the store may be
    // down: no tight loop).
    if (Now() < retry_at_) {
      busy_ = false;
      return;
    }
    action = Decide();
    // The status as the runtime shows it now; before an action only once the pod has a
    // status of ours, so that what happened (a container that exited) is published before
    // the agent reacts (restarts it), as the kubelet's status manager does: a restart
    // then shows as not ready, and the Ready condition's transition time moves.
    if (!action || written_.has_value()) {
      pod = pod_gone_ || deleted_object_ ? nullptr : pod_;
      view = view_;
    }
  }
  if (pod != nullptr) WriteStatus(*pod, view);
  if (action) {
    action();  // its completion syncs again
    return;
  }
  bool again = false;
  {
    MutexLock lock(&mu_);
    again = dirty_ && !stopped_;
    dirty_ = false;
    busy_ = again;
  }
  if (again) {
    context_->executor->Post([weak = weak_from_this()] {
      if (auto self = weak.lock()) self->RunSync();
    });
  }
}

void PodWorker::Done(std::function<void()> apply) {
  context_->executor->Post([weak = weak_from_this(), apply = std::move(apply)] {
    auto self = weak.lock();
    if (self == nullptr) return;
    {
      MutexLock lock(&self->mu_);
      if (apply) apply();
    }
    self->RunSync();
  });
}

PodWorker::Action PodWorker::Decide() {
  const v1::Pod* pod = pod_gone_ ? nullptr : pod_.get();
  if (pod == nullptr && view_.sandboxes.empty() && view_.containers.empty()) return nullptr;
  const bool terminating = pod == nullptr || pod->metadata().has_deletion_timestamp() ||
                           pod->status().phase() == "Succeeded" ||
                           pod->status().phase() == "Failed";
  if (terminating) return DecideTerminating(pod);
  if (Action a = DecideRunning(*pod)) return a;
  return DecideGarbage();
}

// ---------------------------------------------------------------- running pods

PodWorker::Action PodWorker::DecideRunning(const v1::Pod& pod) {
  const SandboxRecord* sandbox = view_.Sandbox();
  if (sandbox == nullptr || !sandbox->ready()) {
    // Containers of a sandbox that is gone die with it; a new sandbox starts them again.
    if (sandbox != nullptr) {
      std::vector<std::string> running;
      for (const ContainerRecord& c : view_.containers) {
        if (c.running() || c.state == cri::CONTAINER_CREATED) running.push_back(c.id);
      }
      if (!running.empty()) return StopContainers(running, 0);
    }
    if (auto until = sandbox_backoff_.HeldUntil("sandbox", failed_at_["sandbox"], Now())) {
      KickAt(*until);
      return nullptr;
    }
    return RunSandbox(pod);
  }
  // Init containers, one after another.
  for (const v1::Container& c : pod.spec().init_containers()) {
    const ContainerRecord* latest = view_.Latest(c.name());
    const bool in_sandbox = latest != nullptr && latest->sandbox_id == sandbox->id;
    if (in_sandbox && latest->exited() && latest->exit_code == 0) continue;
    return DecideContainer(pod, c);
  }
  for (const v1::Container& c : pod.spec().containers()) {
    if (Action a = DecideContainer(pod, c)) return a;
  }
  return nullptr;
}

PodWorker::Action PodWorker::DecideContainer(const v1::Pod& pod, const v1::Container& c) {
  const SandboxRecord* sandbox = view_.Sandbox();
  const ContainerRecord* latest = view_.Latest(c.name());
  // A run from an earlier sandbox does not count: the container starts over, restart
  // count going on.
  const bool current = latest != nullptr && latest->sandbox_id == sandbox->id;
  if (current && latest->running()) {
    if (!kill_.contains(latest->id)) return nullptr;
    return StopContainers({latest->id}, GraceSeconds(&pod));
  }
  if (current && latest->state == cri::CONTAINER_CREATED) {
    // Made but never started (its start failed): remove it; the next sync retries.
    return RemoveContainer(latest->id);
  }
  if (current && latest->exited()) {
    if (!latest->detailed) return nullptr;  // its exit code is on the way
    const std::string policy =
        pod.spec().restart_policy().empty() ? "Always" : pod.spec().restart_policy();
    if (!ShouldRestart(policy, *latest)) return nullptr;
    const absl::Time finished = absl::FromUnixNanos(latest->finished_at);
    if (auto until = crash_backoff_.HeldUntil(c.name(), finished, Now())) {
      view_.waiting[c.name()] = {
          "CrashLoopBackOff",
          fmt::format("back-off {} restarting failed container={} pod={}",
                      absl::FormatDuration(crash_backoff_.Delay(c.name())), c.name(),
                      PodRef(pod))};
      KickAt(*until);
      return nullptr;
    }
    if (ImageHeld(c)) return nullptr;
    crash_backoff_.Next(c.name(), Now());
    return StartContainer(pod, c, latest->attempt + 1);
  }
  // Never ran in this sandbox: the first run, or the next after an earlier sandbox's.
  const uint32_t attempt = latest == nullptr ? 0 : latest->attempt + 1;
  auto held = failed_at_.find("start/" + c.name());
  if (held != failed_at_.end()) {
    if (auto until = crash_backoff_.HeldUntil(c.name(), held->second, Now())) {
      KickAt(*until);
      return nullptr;
    }
  }
  if (ImageHeld(c)) return nullptr;
  return StartContainer(pod, c, attempt);
}

// Whether pulls of `c`'s image are held back after a failed one (ImagePullBackOff).
bool PodWorker::ImageHeld(const v1::Container& c) {
  const std::string key = "image/" + c.image();
  auto failed = failed_at_.find(key);
  if (failed == failed_at_.end()) return false;
  auto until = image_backoff_.HeldUntil(key, failed->second, Now());
  if (!until.has_value()) return false;
  // The failure itself shows as ErrImagePull for a moment; the syncs held back after it
  // show ImagePullBackOff.
  const absl::Time backoff_shown = failed->second + kImagePullErrorShown;
  if (Now() >= backoff_shown) {
    view_.waiting[c.name()] = {"ImagePullBackOff",
                               fmt::format("Back-off pulling image \"{}\"", c.image())};
  } else {
    KickAt(std::min(backoff_shown, *until));
  }
  KickAt(*until);
  return true;
}

// ---------------------------------------------------------------- terminating pods

PodWorker::Action PodWorker::DecideTerminating(const v1::Pod* pod) {
  std::vector<std::string> running;
  for (const ContainerRecord& c : view_.containers) {
    if (c.running() || c.state == cri::CONTAINER_CREATED) running.push_back(c.id);
  }
  if (!running.empty()) {
    return StopContainers(running, GraceSeconds(pod));
  }
  for (const SandboxRecord& s : view_.sandboxes) {
    if (s.ready()) return StopSandbox(s.id);
  }
  if (pod != nullptr && pod->metadata().has_deletion_timestamp() && !deleted_object_) {
    return DeletePodObject(*pod);
  }
  if (pod == nullptr || deleted_object_) {
    for (const ContainerRecord& c : view_.containers) return RemoveContainer(c.id);
    for (const SandboxRecord& s : view_.sandboxes) return RemoveSandbox(s.id);
  }
  return nullptr;
}

// Dead containers beyond the newest `dead_containers_per_container` of each name, and
// sandboxes that are neither the newest nor holding a container.
PodWorker::Action PodWorker::DecideGarbage() {
  const int keep = std::max(0, context_->options.dead_containers_per_container);
  std::map<std::string, std::vector<const ContainerRecord*>> dead;
  for (const ContainerRecord& c : view_.containers) {
    if (c.exited() && view_.Latest(c.name) != &c) dead[c.name].push_back(&c);
  }
  for (auto& [name, list] : dead) {
    if (static_cast<int>(list.size()) <= keep) continue;
    std::sort(list.begin(), list.end(), [](const auto* a, const auto* b) {
      return a->attempt < b->attempt;
    });
    return RemoveContainer(list.front()->id);
  }
  const SandboxRecord* newest = view_.Sandbox();
  for (const SandboxRecord& s : view_.sandboxes) {
    if (&s == newest) continue;
    const bool holds = std::any_of(view_.containers.begin(), view_.containers.end(),
                                   [&](const ContainerRecord& c) { return c.sandbox_id == s.id; });
    if (s.ready()) return StopSandbox(s.id);
    if (!holds) return RemoveSandbox(s.id);
  }
  return nullptr;
}

// ---------------------------------------------------------------- actions

PodWorker::Action PodWorker::RunSandbox(const v1::Pod& pod) {
  const SandboxRecord* previous = view_.Sandbox();
  const uint32_t attempt = previous == nullptr ? 0 : previous->attempt + 1;
  cri::RunPodSandboxRequest request;
  *request.mutable_config() = SandboxConfig(pod, attempt, context_->options.pod_log_directory);
  return [this, self = shared_from_this(), request = std::move(request), attempt] {
    context_->runtime->RunPodSandbox(request, [this, self, attempt](
                                                  absl::StatusOr<cri::RunPodSandboxResponse> out) {
      if (!out.ok()) {
        ++context_->runtime_errors;
        Event(client::kEventWarning, "FailedCreatePodSandBox",
              fmt::format("Failed to create pod sandbox: {}", std::string(out.status().message())));
        return Done([this] {
          failed_at_["sandbox"] = Now();
          sandbox_backoff_.Next("sandbox", Now());
        });
      }
      // Its address comes with its status.
      cri::PodSandboxStatusRequest status;
      status.set_pod_sandbox_id(out->pod_sandbox_id());
      context_->runtime->PodSandboxStatus(
          status, [this, self, attempt, id = out->pod_sandbox_id()](
                      absl::StatusOr<cri::PodSandboxStatusResponse> st) {
            Done([this, attempt, id, st = std::move(st)] {
              SandboxRecord record;
              record.id = id;
              record.attempt = attempt;
              record.state = cri::SANDBOX_READY;
              if (st.ok()) {
                record.state = st->status().state();
                record.created_at = st->status().created_at();
                record.ip = context_->PodAddress(st->status().network().ip(), uid_);
              }
              known_since_[id] = generation_ + 1;
              view_.sandboxes.push_back(std::move(record));
            });
          });
    });
  };
}

PodWorker::Action PodWorker::StopSandbox(const std::string& id) {
  for (const ContainerRecord& c : view_.containers) {
    if (c.sandbox_id == id) StopProbes(c.id);
  }
  return [this, self = shared_from_this(), id] {
    cri::StopPodSandboxRequest request;
    request.set_pod_sandbox_id(id);
    context_->runtime->StopPodSandbox(
        request, [this, self, id](absl::StatusOr<cri::StopPodSandboxResponse> out) {
          if (!out.ok()) ++context_->runtime_errors;
          Done([this, id, ok = out.ok()] {
            if (!ok) return RetryLater();
            for (SandboxRecord& s : view_.sandboxes) {
              if (s.id == id) s.state = cri::SANDBOX_NOTREADY;
            }
            const int64_t now = absl::ToUnixNanos(Now());
            for (ContainerRecord& c : view_.containers) {
              if (c.sandbox_id != id || c.exited()) continue;
              c.state = cri::CONTAINER_EXITED;
              c.detailed = false;  // the exit code comes with the next relist
              c.finished_at = now;
            }
          });
        });
  };
}

PodWorker::Action PodWorker::RemoveSandbox(const std::string& id) {
  return [this, self = shared_from_this(), id] {
    cri::RemovePodSandboxRequest request;
    request.set_pod_sandbox_id(id);
    context_->runtime->RemovePodSandbox(
        request, [this, self, id](absl::StatusOr<cri::RemovePodSandboxResponse> out) {
          if (!out.ok()) ++context_->runtime_errors;
          Done([this, id, ok = out.ok()] {
            if (!ok) return RetryLater();
            std::erase_if(view_.containers, [&](const ContainerRecord& c) { return c.sandbox_id == id; });
            std::erase_if(view_.sandboxes, [&](const SandboxRecord& s) { return s.id == id; });
          });
        });
  };
}

PodWorker::Action PodWorker::StartContainer(const v1::Pod& pod, const v1::Container& c,
                                            uint32_t attempt) {
  return [this, self = shared_from_this(), pod = pod_, c, attempt, sandbox = *view_.Sandbox()] {
    PullThenCreate(pod, c, attempt, sandbox);
  };
}

void PodWorker::PullThenCreate(std::shared_ptr<const v1::Pod> pod, v1::Container c,
                               uint32_t attempt, SandboxRecord sandbox) {
  auto self = shared_from_this();
  const std::string policy = PullPolicy(c);
  const std::string image = c.image();
  auto pull = [this, self, pod, c, attempt, sandbox, image] {
    Event(client::kEventNormal, "Pulling", fmt::format("Pulling image \"{}\"", image));
    const absl::Time started = Now();
    cri::PullImageRequest request;
    request.mutable_image()->set_image(image);
    context_->runtime->PullImage(request, [this, self, pod, c, attempt, sandbox, image,
                                           started](absl::StatusOr<cri::PullImageResponse> out) {
      if (!out.ok()) {
        ++context_->runtime_errors;
        const std::string message = std::string(out.status().message());
        Event(client::kEventWarning, "Failed",
              fmt::format("Failed to pull image \"{}\": {}", image, message));
        return Done([this, c, image, message] {
          const std::string key = "image/" + image;
          failed_at_[key] = Now();
          image_backoff_.Next(key, Now());
          view_.waiting[c.name()] = {"ErrImagePull", message};
        });
      }
      Event(client::kEventNormal, "Pulled",
            fmt::format("Successfully pulled image \"{}\" in {}", image,
                        absl::FormatDuration(Now() - started)));
      {
        MutexLock lock(&mu_);
        image_backoff_.Reset("image/" + image);
      }
      Create(pod, c, attempt, sandbox);
    });
  };
  if (policy == "Always") return pull();
  cri::ImageStatusRequest request;
  request.mutable_image()->set_image(image);
  context_->runtime->ImageStatus(request, [this, self, pod, c, attempt, sandbox, image, policy,
                                           pull](absl::StatusOr<cri::ImageStatusResponse> out) {
    if (out.ok() && out->has_image()) {
      Event(client::kEventNormal, "Pulled",
            fmt::format("Container image \"{}\" already present on machine", image));
      return Create(pod, c, attempt, sandbox);
    }
    if (policy == "Never") {
      const std::string message = fmt::format(
          "Container image \"{}\" is not present with pull policy of Never", image);
      Event(client::kEventWarning, "ErrImageNeverPull", message);
      return Done([this, c, message] {
        failed_at_["start/" + c.name()] = Now();
        crash_backoff_.Next(c.name(), Now());
        view_.waiting[c.name()] = {"ErrImageNeverPull", message};
      });
    }
    pull();
  });
}

void PodWorker::Create(std::shared_ptr<const v1::Pod> pod, v1::Container c, uint32_t attempt,
                       SandboxRecord sandbox) {
  auto self = shared_from_this();
  cri::CreateContainerRequest request;
  request.set_pod_sandbox_id(sandbox.id);
  cri::ContainerConfig& config = *request.mutable_config();
  config.mutable_metadata()->set_name(c.name());
  config.mutable_metadata()->set_attempt(attempt);
  config.mutable_image()->set_image(c.image());
  config.set_working_dir(c.working_dir());
  // Env (valueFrom resolved), command and args ($(VAR) expanded), cgroup resources.
  const ContainerInputs inputs{.pod_ip = sandbox.ip,
                               .host_ip = context_->host_ip,
                               .allocatable = &context_->allocatable};
  if (absl::Status configured = ApplyContainerConfig(*pod, c, inputs, &config); !configured.ok()) {
    const std::string message = std::string(configured.message());
    Event(client::kEventWarning, "Failed", fmt::format("Error: {}", message));
    return Done([this, c, message] {
      failed_at_["start/" + c.name()] = Now();
      crash_backoff_.Next(c.name(), Now());
      view_.waiting[c.name()] = {"CreateContainerConfigError", message};
    });
  }
  (*config.mutable_labels())[kContainerNameLabel] = c.name();
  (*config.mutable_labels())[kPodNameLabel] = pod->metadata().name();
  (*config.mutable_labels())[kPodNamespaceLabel] = pod->metadata().namespace_();
  (*config.mutable_labels())[kPodUidLabel] = pod->metadata().uid();
  (*config.mutable_annotations())["io.kubernetes.container.restartCount"] = std::to_string(attempt);
  if (!context_->options.pod_log_directory.empty()) {
    config.set_log_path(fmt::format("{}/{}.log", c.name(), attempt));
  }
  config.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_pid(
      SharesPids(*pod) ? cri::POD : cri::CONTAINER);
  config.set_tty(c.tty());
  config.set_stdin(c.stdin());
  config.set_stdin_once(c.stdin_once());
  // The sandbox's config is part of the request, as the kubelet sends it.
  *request.mutable_sandbox_config() =
      SandboxConfig(*pod, sandbox.attempt, context_->options.pod_log_directory);
  context_->runtime->CreateContainer(request, [this, self, pod, c, attempt, sandbox_id = sandbox.id,
                                                pod_ip = sandbox.ip](
                                                  absl::StatusOr<cri::CreateContainerResponse> out) {
    if (!out.ok()) {
      ++context_->runtime_errors;
      const std::string message = std::string(out.status().message());
      Event(client::kEventWarning, "Failed", fmt::format("Error: {}", message));
      return Done([this, c, message] {
        failed_at_["start/" + c.name()] = Now();
        crash_backoff_.Next(c.name(), Now());
        view_.waiting[c.name()] = {"CreateContainerError", message};
      });
    }
    const std::string id = out->container_id();
    Event(client::kEventNormal, "Created", fmt::format("Created container {}", c.name()));
    {
      MutexLock lock(&mu_);
      ContainerRecord record;
      record.id = id;
      record.sandbox_id = sandbox_id;
      record.name = c.name();
      record.attempt = attempt;
      record.state = cri::CONTAINER_CREATED;
      record.created_at = absl::ToUnixNanos(Now());
      record.image = c.image();
      known_since_[id] = generation_ + 1;
      view_.containers.push_back(std::move(record));
    }
    cri::StartContainerRequest start;
    start.set_container_id(id);
    context_->runtime->StartContainer(start, [this, self, pod, c, id, pod_ip](
                                                 absl::StatusOr<cri::StartContainerResponse> r) {
      if (!r.ok()) {
        ++context_->runtime_errors;
        const std::string message = std::string(r.status().message());
        Event(client::kEventWarning, "Failed", fmt::format("Error: {}", message));
        return Done([this, c, message] {
          failed_at_["start/" + c.name()] = Now();
          crash_backoff_.Next(c.name(), Now());
          view_.waiting[c.name()] = {"RunContainerError", message};
        });
      }
      Event(client::kEventNormal, "Started", fmt::format("Started container {}", c.name()));
      AfterStart(pod, c, id, pod_ip);
    });
  });
}

void PodWorker::AfterStart(std::shared_ptr<const v1::Pod> pod, v1::Container c, std::string id,
                           std::string pod_ip) {
  const int64_t started_at = absl::ToUnixNanos(Now());
  // Ends the start action: the container runs (unless it has exited meanwhile), its probes
  // start, or, after a failed postStart hook, it is killed and restarts per policy.
  auto started = [this, c, id, started_at](bool hook_failed) {
    view_.waiting.erase(c.name());
    failed_at_.erase("start/" + c.name());
    ContainerRecord* record = view_.Find(id);
    if (record == nullptr || record->exited()) return;
    record->state = cri::CONTAINER_RUNNING;
    record->started_at = started_at;
    if (hook_failed) {
      kill_.insert(id);
    } else {
      StartProbes(c, id);
    }
  };
  if (!c.has_lifecycle() || !c.lifecycle().has_post_start()) {
    return Done([started] { started(false); });
  }
  HookRequest request;
  request.handler = c.lifecycle().post_start();
  request.container = c;
  request.container_id = id;
  request.pod_ip = std::move(pod_ip);
  request.pod_ref = PodRef(*pod);
  auto self = shared_from_this();
  auto run = std::make_shared<HookRun>(
      context_->executor, [this, self, id, started](HookResult result) {
        const bool failed = !result.ok && !result.abandoned;
        if (failed) Event(client::kEventWarning, "FailedPostStartHook", result.message);
        Done([this, id, started, failed] {
          post_starts_.erase(id);
          started(failed);
        });
      });
  bool terminating = false;
  {
    MutexLock lock(&mu_);
    terminating = pod_gone_ || (pod_ != nullptr && pod_->metadata().has_deletion_timestamp());
    post_starts_[id] = run;
  }
  if (terminating) return run->Abandon();
  StartHook(Hooks(), request, std::move(run));
}

HookServices PodWorker::Hooks() const {
  return {.runtime = context_->runtime, .prober = context_->prober, .executor = context_->executor};
}

PodWorker::Action PodWorker::StopContainers(std::vector<std::string> ids, int64_t grace_seconds) {
  for (const std::string& id : ids) StopProbes(id);
  for (const std::string& id : ids) kill_.erase(id);
  // The preStop hooks to run first: those of running containers whose spec has one, when
  // there is grace to run them in (as the kubelet's killContainer).
  std::vector<std::optional<HookRequest>> pre_stops(ids.size());
  for (size_t i = 0; i < ids.size() && grace_seconds > 0 && pod_ != nullptr; ++i) {
    const ContainerRecord* record = view_.Find(ids[i]);
    if (record == nullptr || !record->running()) continue;
    const v1::Container* spec = FindContainer(pod_->spec(), record->name);
    if (spec == nullptr || !spec->lifecycle().has_pre_stop()) continue;
    HookRequest& request = pre_stops[i].emplace();
    request.handler = spec->lifecycle().pre_stop();
    request.container = *spec;
    request.container_id = ids[i];
    for (const SandboxRecord& s : view_.sandboxes) {
      if (s.id == record->sandbox_id) request.pod_ip = s.ip;
    }
    request.pod_ref = PodRef(*pod_);
    request.limit = absl::Seconds(grace_seconds);
  }
  return [this, self = shared_from_this(), ids = std::move(ids), pre_stops = std::move(pre_stops),
          grace_seconds] {
    // In parallel, as the kubelet kills a pod's containers; done when all have stopped.
    auto pending = std::make_shared<std::atomic<size_t>>(ids.size());
    auto failed = std::make_shared<std::atomic<bool>>(false);
    for (size_t i = 0; i < ids.size(); ++i) {
      auto stop = [this, self, ids, pending, failed, id = ids[i]](int64_t timeout) {
        cri::StopContainerRequest request;
        request.set_container_id(id);
        request.set_timeout(timeout);
        context_->runtime->StopContainer(
            request, [this, self, ids, pending, failed](absl::StatusOr<cri::StopContainerResponse> out) {
              if (!out.ok()) {
                ++context_->runtime_errors;
                failed->store(true);
              }
              if (pending->fetch_sub(1) != 1) return;
              Done([this, ids, failed] {
                if (failed->load()) return RetryLater();
                const int64_t now = absl::ToUnixNanos(Now());
                for (const std::string& id : ids) {
                  ContainerRecord* c = view_.Find(id);
                  if (c == nullptr || c->exited()) continue;
                  c->state = cri::CONTAINER_EXITED;
                  c->finished_at = now;
                  c->detailed = false;  // its exit code comes with the next relist
                }
              });
            });
      };
      if (!pre_stops[i].has_value()) {
        stop(grace_seconds);
        continue;
      }
      // A failed hook is reported and the stop goes on; the time the hook took (whole
      // seconds, as the kubelet counts it) comes out of the grace period.
      StartHook(Hooks(), *pre_stops[i],
                std::make_shared<HookRun>(context_->executor, [this, self, stop, grace_seconds](
                                                                  HookResult result) {
                  if (!result.ok) Event(client::kEventWarning, "FailedPreStopHook", result.message);
                  stop(std::max(kMinimumGraceSeconds,
                                grace_seconds - absl::ToInt64Seconds(result.took)));
                }));
    }
  };
}

PodWorker::Action PodWorker::RemoveContainer(const std::string& id) {
  StopProbes(id);
  return [this, self = shared_from_this(), id] {
    cri::RemoveContainerRequest request;
    request.set_container_id(id);
    context_->runtime->RemoveContainer(
        request, [this, self, id](absl::StatusOr<cri::RemoveContainerResponse> out) {
          if (!out.ok()) ++context_->runtime_errors;
          Done([this, id, ok = out.ok()] {
            if (!ok) return RetryLater();
            std::erase_if(view_.containers, [&](const ContainerRecord& c) { return c.id == id; });
          });
        });
  };
}

// The containers are gone: the pod object goes (grace 0, only this pod's uid).
PodWorker::Action PodWorker::DeletePodObject(const v1::Pod& pod) {
  return [this, self = shared_from_this(), pod = pod_] {
    // The final statuses first, as the kubelet's status manager does.
    PodView view;
    {
      MutexLock lock(&mu_);
      view = view_;
    }
    WriteStatus(*pod, view);
    client::DeleteOptions options;
    options.grace_period_seconds = 0;
    options.preconditions.uid = pod->metadata().uid();
    const absl::Status status =
        context_->client->Delete<v1::Pod>(pod->metadata().namespace_(), pod->metadata().name(), options);
    Done([this, status] {
      if (status.ok() || absl::IsNotFound(status) || absl::IsFailedPrecondition(status) ||
          absl::IsAborted(status)) {
        deleted_object_ = status.ok() || absl::IsNotFound(status);
        if (!deleted_object_) RetryLater();
      } else {
        RetryLater();
      }
    });
  };
}

// ---------------------------------------------------------------- status

void PodWorker::WriteStatus(const v1::Pod& pod, const PodView& view) {
  StatusContext context{context_->runtime_name, context_->host_ip, Now()};
  v1::PodStatus status = ComputePodStatus(pod, view, context);
  std::string bytes = api::DeterministicBytes(status);
  {
    MutexLock lock(&mu_);
    if (written_.has_value() && *written_ == bytes) return;
  }
  if (api::DeterministicBytes(pod.status()) == bytes) {
    MutexLock lock(&mu_);
    written_ = std::move(bytes);
    return;
  }
  const absl::Status written = client::RetryOnConflict(
      client::kDefaultRetry,
      [&]() -> absl::Status {
        ORCH_ASSIGN_OR_RETURN(v1::Pod current, context_->client->Get<v1::Pod>(
                                                   pod.metadata().namespace_(), pod.metadata().name()));
        if (current.metadata().uid() != pod.metadata().uid()) return absl::OkStatus();
        *current.mutable_status() = ComputePodStatus(current, view, context);
        return context_->client->UpdateObjectStatus(&current);  // in place: no copy back
      },
      client::Sleeper::None());
  MutexLock lock(&mu_);
  if (written.ok()) {
    written_ = std::move(bytes);
  } else if (!absl::IsNotFound(written)) {
    ++context_->runtime_errors;
    KickAt(Now() + absl::Seconds(1));  // the store refused: try again
  }
}

// ---------------------------------------------------------------- probes

void PodWorker::StartProbes(const v1::Container& c, const std::string& id) {
  auto add = [&](runtime::ProbeKind kind, const v1::Probe& spec) {
    Probe p;
    p.kind = kind;
    p.spec = spec;
    p.container_id = id;
    p.container_name = c.name();
    p.result = kind == runtime::ProbeKind::kLiveness;  // liveness passes until it fails
    probes_.push_back(std::move(p));
    ScheduleProbe(probes_.size() - 1, absl::Seconds(spec.initial_delay_seconds()));
  };
  if (c.has_startup_probe()) add(runtime::ProbeKind::kStartup, c.startup_probe());
  if (c.has_liveness_probe()) add(runtime::ProbeKind::kLiveness, c.liveness_probe());
  if (c.has_readiness_probe()) add(runtime::ProbeKind::kReadiness, c.readiness_probe());
}

void PodWorker::StopProbes(const std::string& container_id) {
  for (Probe& p : probes_) {
    if (p.container_id == container_id && p.timer != 0) context_->executor->Cancel(p.timer);
  }
  std::erase_if(probes_, [&](const Probe& p) { return p.container_id == container_id; });
  view_.ready.erase(container_id);
  view_.started.erase(container_id);
}

void PodWorker::ScheduleProbe(size_t index, absl::Duration delay) {
  Probe& p = probes_[index];
  p.timer = context_->executor->PostAfter(
      delay, [weak = weak_from_this(), id = p.container_id, kind = p.kind] {
        if (auto self = weak.lock()) self->RunProbe(id, kind);
      });
}

void PodWorker::RunProbe(std::string container_id, runtime::ProbeKind kind) {
  runtime::ProbeRequest request;
  {
    MutexLock lock(&mu_);
    auto it = std::find_if(probes_.begin(), probes_.end(), [&](const Probe& p) {
      return p.container_id == container_id && p.kind == kind;
    });
    if (it == probes_.end() || stopped_) return;
    it->timer = 0;
    // Liveness and readiness wait for the startup probe to pass.
    auto started = view_.started.find(container_id);
    const bool has_startup = std::any_of(probes_.begin(), probes_.end(), [&](const Probe& p) {
      return p.container_id == container_id && p.kind == runtime::ProbeKind::kStartup;
    });
    if (kind != runtime::ProbeKind::kStartup && has_startup &&
        (started == view_.started.end() || !started->second)) {
      ScheduleProbe(static_cast<size_t>(it - probes_.begin()),
                    absl::Seconds(Seconds(it->spec.period_seconds(), 10)));
      return;
    }
    request.kind = kind;
    request.probe = it->spec;
    request.container_id = container_id;
    if (const SandboxRecord* s = view_.Sandbox(); s != nullptr) request.pod_ip = s->ip;
    if (pod_ != nullptr) {
      if (const v1::Container* c = FindContainer(pod_->spec(), it->container_name)) {
        request.container = *c;
      }
    }
  }
  context_->prober->Probe(request, [weak = weak_from_this(), container_id,
                                    kind](runtime::ProbeResult result) {
    auto self = weak.lock();
    if (self == nullptr) return;
    bool changed = false;
    {
      MutexLock lock(&self->mu_);
      auto it = std::find_if(self->probes_.begin(), self->probes_.end(), [&](const Probe& p) {
        return p.container_id == container_id && p.kind == kind;
      });
      if (it == self->probes_.end() || self->stopped_) return;
      Probe& p = *it;
      if (result.success) {
        p.failures = 0;
        ++p.successes;
      } else {
        p.successes = 0;
        ++p.failures;
      }
      const int success_threshold =
          kind == runtime::ProbeKind::kReadiness ? Seconds(p.spec.success_threshold(), 1) : 1;
      const int failure_threshold = Seconds(p.spec.failure_threshold(), 3);
      bool next = p.result;
      if (result.success && p.successes >= success_threshold) next = true;
      if (!result.success && p.failures >= failure_threshold) next = false;
      changed = next != p.result;
      p.result = next;
      switch (kind) {
        case runtime::ProbeKind::kReadiness:
          self->view_.ready[container_id] = p.result;
          break;
        case runtime::ProbeKind::kStartup:
          if (p.result) {
            self->view_.started[container_id] = true;
            // Its job is done: no more startup checks.
            self->probes_.erase(it);
            return self->context_->executor->Post([self] { self->Kick(); });
          }
          if (!result.success && p.failures >= failure_threshold) {
            self->kill_.insert(container_id);
            changed = true;
          }
          break;
        case runtime::ProbeKind::kLiveness:
          if (!p.result) {
            self->kill_.insert(container_id);
          }
          break;
      }
      self->ScheduleProbe(static_cast<size_t>(it - self->probes_.begin()),
                          absl::Seconds(Seconds(p.spec.period_seconds(), 10)));
    }
    if (!result.success) {
      self->Event(client::kEventWarning, "Unhealthy",
                  fmt::format("{} probe failed: {}",
                              kind == runtime::ProbeKind::kLiveness    ? "Liveness"
                              : kind == runtime::ProbeKind::kReadiness ? "Readiness"
                                                                       : "Startup",
                              result.message));
    }
    if (changed) self->Kick();
  });
}

void PodWorker::Event(std::string_view type, std::string_view reason, std::string message) {
  if (context_->events == nullptr) return;
  std::shared_ptr<const v1::Pod> pod;
  {
    MutexLock lock(&mu_);
    pod = pod_;
  }
  if (pod != nullptr) (void)context_->events->Record(*pod, type, reason, message);
}

}  // namespace orch::node::internal
