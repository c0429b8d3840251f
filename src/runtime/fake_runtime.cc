#include "orch/runtime/fake_runtime.h"

#include <algorithm>
#include <charconv>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/node_hash_map.h"
#include "fmt/format.h"
#include "orch/base/ipv4.h"
#include "orch/base/mutex.h"
#include "orch/base/status.h"
#include "orch/base/string_map.h"

namespace orch::runtime {

namespace {

constexpr int32_t kExitSigkill = 137;
constexpr int32_t kExitSigterm = 143;

int64_t Nanos(absl::Time t) { return absl::ToUnixNanos(t); }

using StringPairs = google::protobuf::Map<std::string, std::string>;

// A config's labels and annotations, kept as plain pairs and copied into the status and
// list answers: a protobuf map per record costs several times what it holds.
struct Tags {
  std::vector<std::pair<std::string, std::string>> labels;
  std::vector<std::pair<std::string, std::string>> annotations;

  static Tags Of(const StringPairs& labels, const StringPairs& annotations) {
    return {{labels.begin(), labels.end()}, {annotations.begin(), annotations.end()}};
  }
  void CopyTo(StringPairs* labels_out, StringPairs* annotations_out) const {
    labels_out->insert(labels.begin(), labels.end());
    annotations_out->insert(annotations.begin(), annotations.end());
  }
  // Whether every label of `selector` is among the labels.
  bool Matches(const StringPairs& selector) const {
    for (const auto& wanted : selector) {
      auto same = [&](const auto& label) {
        return label.first == wanted.first && label.second == wanted.second;
      };
      if (std::none_of(labels.begin(), labels.end(), same)) return false;
    }
    return true;
  }
};

// The status calls' answer for an id the runtime does not hold, as containerd words it.
absl::Status StatusNotFound(std::string_view what, std::string_view id) {
  return absl::NotFoundError(
      fmt::format("an error occurred when try to find {} \"{}\": not found", what, id));
}

// What the status and list calls report of a sandbox, and CreateContainer reads (the log
// directory), but for the labels and annotations (Tags).
cri::PodSandboxConfig KeptSandboxConfig(const cri::PodSandboxConfig& config) {
  cri::PodSandboxConfig kept;
  *kept.mutable_metadata() = config.metadata();
  kept.set_log_directory(config.log_directory());
  return kept;
}

// What the status and list calls report of a container, but for the labels and annotations.
cri::ContainerConfig KeptContainerConfig(const cri::ContainerConfig& config) {
  cri::ContainerConfig kept;
  *kept.mutable_metadata() = config.metadata();
  *kept.mutable_image() = config.image();
  return kept;
}

}  // namespace

struct FakeRuntime::State : std::enable_shared_from_this<State> {
  // A simulation holds one of each per pod on every node: each keeps of its config only
  // what later calls answer with (KeptSandboxConfig, KeptContainerConfig, Tags).
  struct Sandbox {
    cri::PodSandboxConfig config;
    Tags tags;
    cri::PodSandboxState state = cri::SANDBOX_READY;
    int64_t created_at = 0;
    std::string ip;
    std::string runtime_handler;
  };
  struct Container {
    std::string sandbox_id;
    cri::ContainerConfig config;
    Tags tags;
    std::string created_with;  // the whole config, encoded, for FakeRuntime::ContainerConfig
    std::shared_ptr<const FakeImage> behavior;  // shared by the containers of one script
    cri::ContainerState state = cri::CONTAINER_CREATED;
    int64_t created_at = 0;
    int64_t started_at = 0;
    int64_t finished_at = 0;
    int32_t exit_code = 0;
    std::string reason;
    std::string log_path;
    bool starting = false;  // StartContainer called, start_delay not yet over
    TimerId exit_timer = 0;
  };

  explicit State(FakeRuntimeOptions o) : options(std::move(o)), executor(options.executor) {
    for (const std::string& image : options.preloaded) present.insert(image);
  }

  absl::Time Now() const { return executor->clock().Now(); }

  std::shared_ptr<const FakeImage> BehaviorOf(const std::string& image) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    auto it = scripted.find(image);
    return it == scripted.end() ? default_behavior : it->second;
  }

  // Delivers `result` on the executor after the call delay plus `extra`.
  template <typename T>
  void Respond(Callback<T> done, absl::StatusOr<T> result,
               absl::Duration extra = absl::ZeroDuration()) {
    absl::Duration delay;
    {
      MutexLock lock(&mu);
      delay = call_delay + extra;
    }
    executor->PostAfter(delay, [done = std::move(done), result = std::move(result)]() mutable {
      done(std::move(result));
    });
  }

  // Delivers what `read` finds when the call completes, after the call delay. The calls
  // that only look (statuses, lists) answer so, as a runtime replies with what it holds
  // when it replies: no copy of a record waits on the executor meanwhile (a simulation's
  // thousands of nodes relisting in one instant would hold all of theirs at once).
  template <typename T>
  void RespondWith(Callback<T> done, std::function<absl::StatusOr<T>(State&)> read) {
    absl::Duration delay;
    {
      MutexLock lock(&mu);
      delay = call_delay;
    }
    executor->PostAfter(delay, [weak = weak_from_this(), done = std::move(done),
                                read = std::move(read)]() mutable {
      if (std::shared_ptr<State> self = weak.lock()) done(read(*self));
    });
  }

  // The common gate of every call: counts it, and refuses it while unavailable.
  absl::Status Admit() {
    MutexLock lock(&mu);
    ++calls;
    if (unavailable) return absl::UnavailableError("fake runtime is unavailable");
    return absl::OkStatus();
  }

  // Ends a container's run (exit, kill or stop). REQUIRES: it is running or starting.
  void Exit(Container& c, int32_t exit_code, std::string_view reason)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (c.exit_timer != 0) executor->Cancel(c.exit_timer);
    c.exit_timer = 0;
    c.state = cri::CONTAINER_EXITED;
    c.starting = false;
    c.finished_at = Nanos(Now());
    c.exit_code = exit_code;
    c.reason = std::string(reason);
  }

  // Runs `fn` with the lock held after `delay`, if the state still lives.
  void After(absl::Duration delay, std::function<void(State&)> fn, TimerId* timer = nullptr)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    const TimerId id = executor->PostAfter(delay, [weak = weak_from_this(), fn = std::move(fn)] {
      if (auto self = weak.lock()) {
        MutexLock lock(&self->mu);
        fn(*self);
      }
    });
    if (timer != nullptr) *timer = id;
  }

  void ScheduleExit(const std::string& id, Container& c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (!c.behavior->exit_after.has_value()) return;
    After(
        *c.behavior->exit_after,
        [id](State& s) ABSL_NO_THREAD_SAFETY_ANALYSIS {
          auto it = s.containers.find(id);
          if (it == s.containers.end() || it->second.state != cri::CONTAINER_RUNNING) return;
          it->second.exit_timer = 0;
          const int32_t code = it->second.behavior->exit_code;
          s.Exit(it->second, code, code == 0 ? "Completed" : "Error");
        },
        &c.exit_timer);
  }

  void KillAll(const std::string& sandbox_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    for (auto& [id, c] : containers) {
      if (c.sandbox_id != sandbox_id) continue;
      if (c.state == cri::CONTAINER_RUNNING || c.starting) Exit(c, kExitSigkill, "Error");
    }
  }

  cri::ContainerStatus StatusOf(const std::string& id, const Container& c) const {
    cri::ContainerStatus s;
    s.set_id(id);
    *s.mutable_metadata() = c.config.metadata();
    s.set_state(c.state);
    s.set_created_at(c.created_at);
    s.set_started_at(c.started_at);
    s.set_finished_at(c.finished_at);
    s.set_exit_code(c.exit_code);
    *s.mutable_image() = c.config.image();
    s.set_image_ref(c.config.image().image());
    s.set_reason(c.reason);
    c.tags.CopyTo(s.mutable_labels(), s.mutable_annotations());
    s.set_log_path(c.log_path);
    return s;
  }

  const FakeRuntimeOptions options;
  Executor* const executor;
  mutable Mutex mu;
  // Records in nodes of their own: an empty slot of a flat map would cost a whole record.
  template <typename V>
  using RecordMap = absl::node_hash_map<std::string, V, StringHash, StringEq>;
  RecordMap<Sandbox> sandboxes ABSL_GUARDED_BY(mu);
  RecordMap<Container> containers ABSL_GUARDED_BY(mu);
  const std::shared_ptr<const FakeImage> default_behavior =
      std::make_shared<const FakeImage>(options.default_image);
  std::map<std::string, std::shared_ptr<const FakeImage>> scripted ABSL_GUARDED_BY(mu);
  StringSet present ABSL_GUARDED_BY(mu);
  IPv4Pool addresses ABSL_GUARDED_BY(mu);  // no range: the runtime gives no addresses
  bool unavailable ABSL_GUARDED_BY(mu) = false;
  absl::Duration call_delay ABSL_GUARDED_BY(mu) = absl::ZeroDuration();
  int64_t calls ABSL_GUARDED_BY(mu) = 0;
  int64_t next_id ABSL_GUARDED_BY(mu) = 0;
};

FakeRuntime::FakeRuntime(FakeRuntimeOptions options)
    : state_(std::make_shared<State>(std::move(options))) {
  MutexLock lock(&state_->mu);
  if (!state_->options.pod_cidr.empty()) {
    // A bad CIDR leaves sandboxes without addresses; the agent reports none.
    if (auto cidr = ParseIPv4Cidr(state_->options.pod_cidr, "pod_cidr", 8, 30); cidr.ok()) {
      state_->addresses = IPv4Pool(*cidr);
    }
  }
  for (const auto& [image, behavior] : state_->options.images) {
    state_->scripted[image] = std::make_shared<const FakeImage>(behavior);
  }
}

FakeRuntime::~FakeRuntime() {
  MutexLock lock(&state_->mu);
  for (auto& [id, c] : state_->containers) {
    if (c.exit_timer != 0) state_->executor->Cancel(c.exit_timer);
  }
}

void FakeRuntime::SetImage(std::string image, FakeImage behavior) {
  MutexLock lock(&state_->mu);
  state_->scripted[std::move(image)] = std::make_shared<const FakeImage>(std::move(behavior));
}

void FakeRuntime::SetUnavailable(bool unavailable) {
  MutexLock lock(&state_->mu);
  state_->unavailable = unavailable;
}

void FakeRuntime::SetCallDelay(absl::Duration delay) {
  MutexLock lock(&state_->mu);
  state_->call_delay = delay;
}

absl::Status FakeRuntime::KillContainer(std::string_view container_id, int32_t exit_code) {
  MutexLock lock(&state_->mu);
  auto it = state_->containers.find(container_id);
  if (it == state_->containers.end()) {
    return absl::NotFoundError(fmt::format("container \"{}\" not found", container_id));
  }
  if (it->second.state != cri::CONTAINER_RUNNING) {
    return absl::FailedPreconditionError(
        fmt::format("container \"{}\" is not running", container_id));
  }
  state_->Exit(it->second, exit_code, "Error");
  return absl::OkStatus();
}

bool FakeRuntime::Ready(std::string_view container_id) const {
  MutexLock lock(&state_->mu);
  auto it = state_->containers.find(container_id);
  return it != state_->containers.end() && it->second.state == cri::CONTAINER_RUNNING &&
         !it->second.behavior->never_ready;
}

bool FakeRuntime::Live(std::string_view container_id) const {
  MutexLock lock(&state_->mu);
  auto it = state_->containers.find(container_id);
  if (it == state_->containers.end() || it->second.state != cri::CONTAINER_RUNNING) return false;
  const auto& unhealthy_after = it->second.behavior->unhealthy_after;
  const absl::Time started = absl::FromUnixNanos(it->second.started_at);
  return !unhealthy_after.has_value() || state_->Now() - started < *unhealthy_after;
}

void FakeRuntime::Probe(const ProbeRequest& request, std::function<void(ProbeResult)> done) {
  ProbeResult result;
  switch (request.kind) {
    case ProbeKind::kLiveness:
      result.success = Live(request.container_id);
      break;
    case ProbeKind::kReadiness:
      result.success = Ready(request.container_id);
      break;
    case ProbeKind::kStartup: {
      MutexLock lock(&state_->mu);
      auto it = state_->containers.find(request.container_id);
      result.success =
          it != state_->containers.end() && it->second.state == cri::CONTAINER_RUNNING;
      break;
    }
  }
  if (!result.success) result.message = "fake probe failed: as the image is scripted";
  state_->Respond<ProbeResult>(
      [done = std::move(done)](absl::StatusOr<ProbeResult> r) { done(*std::move(r)); },
      std::move(result));
}

std::optional<cri::ContainerConfig> FakeRuntime::ContainerConfig(
    std::string_view container_id) const {
  MutexLock lock(&state_->mu);
  auto it = state_->containers.find(container_id);
  if (it == state_->containers.end()) return std::nullopt;
  cri::ContainerConfig config;
  if (!config.ParseFromString(it->second.created_with)) return std::nullopt;  // never: we wrote it
  return config;
}

FakeRuntime::Stats FakeRuntime::stats() const {
  MutexLock lock(&state_->mu);
  Stats s;
  s.sandboxes = static_cast<int64_t>(state_->sandboxes.size());
  s.containers = static_cast<int64_t>(state_->containers.size());
  for (const auto& [id, c] : state_->containers) {
    if (c.state == cri::CONTAINER_RUNNING) ++s.running_containers;
  }
  s.calls = state_->calls;
  return s;
}

// ---------------------------------------------------------------- runtime

void FakeRuntime::Version(const cri::VersionRequest& request, Callback<cri::VersionResponse> done) {
  if (absl::Status s = state_->Admit(); !s.ok()) return state_->Respond(std::move(done), {s});
  cri::VersionResponse out;
  out.set_version("0.1.0");
  out.set_runtime_name("fake");
  out.set_runtime_version("0.1.0");
  out.set_runtime_api_version("v1");
  state_->Respond(std::move(done), {std::move(out)});
}

void FakeRuntime::Status(const cri::StatusRequest& request, Callback<cri::StatusResponse> done) {
  if (absl::Status s = state_->Admit(); !s.ok()) return state_->Respond(std::move(done), {s});
  cri::StatusResponse out;
  for (const char* type : {"RuntimeReady", "NetworkReady"}) {
    cri::RuntimeCondition* c = out.mutable_status()->add_conditions();
    c->set_type(type);
    c->set_status(true);
  }
  state_->Respond(std::move(done), {std::move(out)});
}

// ---------------------------------------------------------------- sandboxes

void FakeRuntime::RunPodSandbox(const cri::RunPodSandboxRequest& request,
                                Callback<cri::RunPodSandboxResponse> done) {
  if (absl::Status s = state_->Admit(); !s.ok()) return state_->Respond(std::move(done), {s});
  if (!request.has_config() || request.config().metadata().name().empty()) {
    return state_->Respond<cri::RunPodSandboxResponse>(
        std::move(done), absl::InvalidArgumentError("sandbox config metadata name is empty"));
  }
  cri::RunPodSandboxResponse out;
  {
    MutexLock lock(&state_->mu);
    const std::string id = fmt::format("fakesb{:010d}", ++state_->next_id);
    State::Sandbox& sb = state_->sandboxes[id];
    sb.config = KeptSandboxConfig(request.config());
    sb.tags = Tags::Of(request.config().labels(), request.config().annotations());
    sb.created_at = Nanos(state_->Now());
    sb.runtime_handler = request.runtime_handler();
    if (std::optional<uint32_t> ip = state_->addresses.Take()) sb.ip = FormatIPv4(*ip);
    out.set_pod_sandbox_id(id);
  }
  state_->Respond(std::move(done), {std::move(out)});
}

void FakeRuntime::StopPodSandbox(const cri::StopPodSandboxRequest& request,
                                 Callback<cri::StopPodSandboxResponse> done) {
  if (absl::Status s = state_->Admit(); !s.ok()) return state_->Respond(std::move(done), {s});
  {
    MutexLock lock(&state_->mu);
    auto it = state_->sandboxes.find(request.pod_sandbox_id());
    if (it != state_->sandboxes.end() && it->second.state == cri::SANDBOX_READY) {
      state_->KillAll(it->first);
      it->second.state = cri::SANDBOX_NOTREADY;
      if (std::optional<uint32_t> ip = ParseIPv4(it->second.ip)) state_->addresses.Give(*ip);
    }
  }
  state_->Respond(std::move(done), {cri::StopPodSandboxResponse()});
}

void FakeRuntime::RemovePodSandbox(const cri::RemovePodSandboxRequest& request,
                                   Callback<cri::RemovePodSandboxResponse> done) {
  if (absl::Status s = state_->Admit(); !s.ok()) return state_->Respond(std::move(done), {s});
  {
    MutexLock lock(&state_->mu);
    auto it = state_->sandboxes.find(request.pod_sandbox_id());
    if (it != state_->sandboxes.end()) {
      state_->KillAll(it->first);
      if (it->second.state == cri::SANDBOX_READY && !it->second.ip.empty()) {
        if (std::optional<uint32_t> ip = ParseIPv4(it->second.ip)) state_->addresses.Give(*ip);
      }
      absl::erase_if(state_->containers,
                     [&](const auto& entry) { return entry.second.sandbox_id == it->first; });
      state_->sandboxes.erase(it);
    }
  }
  state_->Respond(std::move(done), {cri::RemovePodSandboxResponse()});
}

void FakeRuntime::PodSandboxStatus(const cri::PodSandboxStatusRequest& request,
                                   Callback<cri::PodSandboxStatusResponse> done) {
  if (absl::Status s = state_->Admit(); !s.ok()) return state_->Respond(std::move(done), {s});
  state_->RespondWith<cri::PodSandboxStatusResponse>(
      std::move(done),
      [id = request.pod_sandbox_id()](State& state)
          -> absl::StatusOr<cri::PodSandboxStatusResponse> {
        MutexLock lock(&state.mu);
        auto it = state.sandboxes.find(id);
        if (it == state.sandboxes.end()) {
          return StatusNotFound("sandbox", id);
        }
        cri::PodSandboxStatusResponse out;
        cri::PodSandboxStatus& s = *out.mutable_status();
        s.set_id(it->first);
        *s.mutable_metadata() = it->second.config.metadata();
        s.set_state(it->second.state);
        s.set_created_at(it->second.created_at);
        if (it->second.state == cri::SANDBOX_READY) s.mutable_network()->set_ip(it->second.ip);
        it->second.tags.CopyTo(s.mutable_labels(), s.mutable_annotations());
        s.set_runtime_handler(it->second.runtime_handler);
        return out;
      });
}

void FakeRuntime::ListPodSandbox(const cri::ListPodSandboxRequest& request,
                                 Callback<cri::ListPodSandboxResponse> done) {
  if (absl::Status s = state_->Admit(); !s.ok()) return state_->Respond(std::move(done), {s});
  state_->RespondWith<cri::ListPodSandboxResponse>(
      std::move(done),
      [f = request.filter()](State& state) -> absl::StatusOr<cri::ListPodSandboxResponse> {
        cri::ListPodSandboxResponse out;
        MutexLock lock(&state.mu);
        for (const auto& [id, sb] : state.sandboxes) {
          if (!f.id().empty() && f.id() != id) continue;
          if (f.has_state() && f.state().state() != sb.state) continue;
          if (!sb.tags.Matches(f.label_selector())) continue;
          cri::PodSandbox* item = out.add_items();
          item->set_id(id);
          *item->mutable_metadata() = sb.config.metadata();
          item->set_state(sb.state);
          item->set_created_at(sb.created_at);
          sb.tags.CopyTo(item->mutable_labels(), item->mutable_annotations());
          item->set_runtime_handler(sb.runtime_handler);
        }
        std::sort(out.mutable_items()->begin(), out.mutable_items()->end(),
                  [](const auto& a, const auto& b) { return a.id() < b.id(); });
        return out;
      });
}

// ---------------------------------------------------------------- containers

void FakeRuntime::CreateContainer(const cri::CreateContainerRequest& request,
                                  Callback<cri::CreateContainerResponse> done) {
  if (absl::Status s = state_->Admit(); !s.ok()) return state_->Respond(std::move(done), {s});
  absl::StatusOr<cri::CreateContainerResponse> out;
  {
    MutexLock lock(&state_->mu);
    const std::string& image = request.config().image().image();
    auto sb = state_->sandboxes.find(request.pod_sandbox_id());
    if (request.config().metadata().name().empty()) {
      out = absl::InvalidArgumentError("container config metadata name is empty");
    } else if (sb == state_->sandboxes.end()) {
      out = absl::NotFoundError(
          fmt::format("failed to get sandbox \"{}\": not found", request.pod_sandbox_id()));
    } else if (sb->second.state != cri::SANDBOX_READY) {
      out = absl::FailedPreconditionError(
          fmt::format("sandbox \"{}\" is not ready", request.pod_sandbox_id()));
    } else if (!state_->present.contains(image)) {
      out = absl::NotFoundError(fmt::format(
          "failed to get image \"{}\": image \"{}\": not found", image, image));
    } else {
      const std::string id = fmt::format("fakectr{:010d}", ++state_->next_id);
      State::Container& c = state_->containers[id];
      c.sandbox_id = sb->first;
      c.config = KeptContainerConfig(request.config());
      c.tags = Tags::Of(request.config().labels(), request.config().annotations());
      c.created_with = request.config().SerializeAsString();
      c.behavior = state_->BehaviorOf(image);
      c.created_at = Nanos(state_->Now());
      if (!request.config().log_path().empty()) {
        c.log_path = sb->second.config.log_directory() + "/" + request.config().log_path();
      }
      out.emplace().set_container_id(id);
    }
  }
  state_->Respond(std::move(done), std::move(out));
}

void FakeRuntime::StartContainer(const cri::StartContainerRequest& request,
                                 Callback<cri::StartContainerResponse> done) {
  if (absl::Status s = state_->Admit(); !s.ok()) return state_->Respond(std::move(done), {s});
  absl::Status refused;
  absl::Duration delay;
  {
    MutexLock lock(&state_->mu);
    auto it = state_->containers.find(request.container_id());
    if (it == state_->containers.end()) {
      refused = absl::NotFoundError(
          fmt::format("container \"{}\" not found", request.container_id()));
    } else if (it->second.state != cri::CONTAINER_CREATED || it->second.starting) {
      refused = absl::FailedPreconditionError(fmt::format(
          "container \"{}\" is not in created state", request.container_id()));
    } else {
      it->second.starting = true;
      delay = it->second.behavior->start_delay;
    }
  }
  if (!refused.ok()) return state_->Respond<cri::StartContainerResponse>(std::move(done), refused);
  // The container runs once the start delay is over; the call completes then.
  MutexLock lock(&state_->mu);
  state_->After(delay, [id = request.container_id(), done = std::move(done)](State& s)
                           ABSL_NO_THREAD_SAFETY_ANALYSIS {
    auto it = s.containers.find(id);
    if (it == s.containers.end() || !it->second.starting) {
      // Removed or killed while starting.
      s.executor->Post([done] {
        done(absl::UnknownError("failed to start container: it was stopped while starting"));
      });
      return;
    }
    State::Container& c = it->second;
    c.starting = false;
    c.state = cri::CONTAINER_RUNNING;
    c.started_at = Nanos(s.Now());
    s.ScheduleExit(id, c);
    s.executor->PostAfter(s.call_delay, [done] { done(cri::StartContainerResponse()); });
  });
}

void FakeRuntime::StopContainer(const cri::StopContainerRequest& request,
                                Callback<cri::StopContainerResponse> done) {
  if (absl::Status s = state_->Admit(); !s.ok()) return state_->Respond(std::move(done), {s});
  absl::Duration wait = absl::ZeroDuration();
  {
    MutexLock lock(&state_->mu);
    auto it = state_->containers.find(request.container_id());
    if (it != state_->containers.end()) {
      State::Container& c = it->second;
      if (c.starting) {
        state_->Exit(c, kExitSigkill, "Error");
      } else if (c.state == cri::CONTAINER_RUNNING) {
        const absl::Duration timeout = absl::Seconds(std::max<int64_t>(0, request.timeout()));
        const bool killed = c.behavior->ignore_sigterm || c.behavior->stop_delay > timeout;
        wait = killed ? timeout : c.behavior->stop_delay;
        const int32_t code = killed ? kExitSigkill : kExitSigterm;
        if (wait <= absl::ZeroDuration()) {
          state_->Exit(c, code, "Error");
        } else {
          // Exits when the wait is over; the call completes then.
          state_->After(wait, [id = it->first, code](State& s) ABSL_NO_THREAD_SAFETY_ANALYSIS {
            auto found = s.containers.find(id);
            if (found != s.containers.end() && found->second.state == cri::CONTAINER_RUNNING) {
              s.Exit(found->second, code, "Error");
            }
          });
        }
      } else if (c.state == cri::CONTAINER_CREATED) {
        c.state = cri::CONTAINER_EXITED;
        c.finished_at = Nanos(state_->Now());
      }
    }
  }
  state_->Respond(std::move(done), {cri::StopContainerResponse()}, wait);
}

void FakeRuntime::RemoveContainer(const cri::RemoveContainerRequest& request,
                                  Callback<cri::RemoveContainerResponse> done) {
  if (absl::Status s = state_->Admit(); !s.ok()) return state_->Respond(std::move(done), {s});
  {
    MutexLock lock(&state_->mu);
    auto it = state_->containers.find(request.container_id());
    if (it != state_->containers.end()) {
      if (it->second.exit_timer != 0) state_->executor->Cancel(it->second.exit_timer);
      state_->containers.erase(it);
    }
  }
  state_->Respond(std::move(done), {cri::RemoveContainerResponse()});
}

void FakeRuntime::ListContainers(const cri::ListContainersRequest& request,
                                 Callback<cri::ListContainersResponse> done) {
  if (absl::Status s = state_->Admit(); !s.ok()) return state_->Respond(std::move(done), {s});
  state_->RespondWith<cri::ListContainersResponse>(
      std::move(done),
      [f = request.filter()](State& state) -> absl::StatusOr<cri::ListContainersResponse> {
        cri::ListContainersResponse out;
        MutexLock lock(&state.mu);
        for (const auto& [id, c] : state.containers) {
          if (!f.id().empty() && f.id() != id) continue;
          if (!f.pod_sandbox_id().empty() && f.pod_sandbox_id() != c.sandbox_id) continue;
          if (f.has_state() && f.state().state() != c.state) continue;
          if (!c.tags.Matches(f.label_selector())) continue;
          cri::Container* item = out.add_containers();
          item->set_id(id);
          item->set_pod_sandbox_id(c.sandbox_id);
          *item->mutable_metadata() = c.config.metadata();
          *item->mutable_image() = c.config.image();
          item->set_image_ref(c.config.image().image());
          item->set_state(c.state);
          item->set_created_at(c.created_at);
          c.tags.CopyTo(item->mutable_labels(), item->mutable_annotations());
        }
        std::sort(out.mutable_containers()->begin(), out.mutable_containers()->end(),
                  [](const auto& a, const auto& b) { return a.id() < b.id(); });
        return out;
      });
}

void FakeRuntime::ContainerStatus(const cri::ContainerStatusRequest& request,
                                  Callback<cri::ContainerStatusResponse> done) {
  if (absl::Status s = state_->Admit(); !s.ok()) return state_->Respond(std::move(done), {s});
  state_->RespondWith<cri::ContainerStatusResponse>(
      std::move(done),
      [id = request.container_id()](State& state) -> absl::StatusOr<cri::ContainerStatusResponse> {
        MutexLock lock(&state.mu);
        auto it = state.containers.find(id);
        if (it == state.containers.end()) {
          return StatusNotFound("container", id);
        }
        cri::ContainerStatusResponse out;
        *out.mutable_status() = state.StatusOf(it->first, it->second);
        return out;
      });
}

void FakeRuntime::ExecSync(const cri::ExecSyncRequest& request,
                           Callback<cri::ExecSyncResponse> done) {
  if (absl::Status s = state_->Admit(); !s.ok()) return state_->Respond(std::move(done), {s});
  absl::StatusOr<cri::ExecSyncResponse> out;
  std::function<cri::ExecSyncResponse(const std::vector<std::string>&)> exec;
  {
    MutexLock lock(&state_->mu);
    auto it = state_->containers.find(request.container_id());
    if (it == state_->containers.end()) {
      out = absl::NotFoundError(
          fmt::format("container \"{}\" not found", request.container_id()));
    } else if (it->second.state != cri::CONTAINER_RUNNING) {
      out = absl::FailedPreconditionError(
          fmt::format("container \"{}\" is not running", request.container_id()));
    } else {
      exec = it->second.behavior->exec;
      out.emplace();
    }
  }
  if (out.ok() && exec) {
    out = exec(std::vector<std::string>(request.cmd().begin(), request.cmd().end()));
  }
  state_->Respond(std::move(done), std::move(out));
}

// ---------------------------------------------------------------- images

namespace {

cri::Image ImageRecord(const std::string& ref, const FakeImage& behavior) {
  cri::Image image;
  image.set_id("sha256:" + fmt::format("{:064x}", std::hash<std::string>()(ref)));
  image.add_repo_tags(ref);
  image.set_size(behavior.size_bytes);
  image.mutable_spec()->set_image(ref);
  return image;
}

}  // namespace

void FakeRuntime::ListImages(const cri::ListImagesRequest& request,
                             Callback<cri::ListImagesResponse> done) {
  if (absl::Status s = state_->Admit(); !s.ok()) return state_->Respond(std::move(done), {s});
  cri::ListImagesResponse out;
  {
    MutexLock lock(&state_->mu);
    std::vector<std::string> refs(state_->present.begin(), state_->present.end());
    std::sort(refs.begin(), refs.end());
    const std::string& wanted = request.filter().image().image();
    for (const std::string& ref : refs) {
      if (!wanted.empty() && wanted != ref) continue;
      *out.add_images() = ImageRecord(ref, *state_->BehaviorOf(ref));
    }
  }
  state_->Respond(std::move(done), {std::move(out)});
}

void FakeRuntime::ImageStatus(const cri::ImageStatusRequest& request,
                              Callback<cri::ImageStatusResponse> done) {
  if (absl::Status s = state_->Admit(); !s.ok()) return state_->Respond(std::move(done), {s});
  cri::ImageStatusResponse out;
  {
    MutexLock lock(&state_->mu);
    const std::string& ref = request.image().image();
    if (state_->present.contains(ref)) {
      *out.mutable_image() = ImageRecord(ref, *state_->BehaviorOf(ref));
    }
  }
  state_->Respond(std::move(done), {std::move(out)});
}

void FakeRuntime::PullImage(const cri::PullImageRequest& request,
                            Callback<cri::PullImageResponse> done) {
  if (absl::Status s = state_->Admit(); !s.ok()) return state_->Respond(std::move(done), {s});
  const std::string ref = request.image().image();
  if (ref.empty()) {
    return state_->Respond<cri::PullImageResponse>(std::move(done),
                                                   absl::InvalidArgumentError("image is empty"));
  }
  std::shared_ptr<const FakeImage> behavior;
  {
    MutexLock lock(&state_->mu);
    behavior = state_->BehaviorOf(ref);
  }
  // The image is there (or the pull has failed) once the pull delay is over.
  MutexLock lock(&state_->mu);
  state_->After(behavior->pull_delay, [ref, behavior, done = std::move(done)](State& s)
                                         ABSL_NO_THREAD_SAFETY_ANALYSIS {
    absl::StatusOr<cri::PullImageResponse> out;
    if (behavior->pull_error.has_value()) {
      out = absl::UnknownError(fmt::format("failed to pull and unpack image \"{}\": {}", ref,
                                           *behavior->pull_error));
    } else {
      s.present.insert(ref);
      out.emplace().set_image_ref(ImageRecord(ref, *behavior).id());
    }
    s.executor->PostAfter(s.call_delay, [done, out = std::move(out)] { done(out); });
  });
}

void FakeRuntime::RemoveImage(const cri::RemoveImageRequest& request,
                              Callback<cri::RemoveImageResponse> done) {
  if (absl::Status s = state_->Admit(); !s.ok()) return state_->Respond(std::move(done), {s});
  {
    MutexLock lock(&state_->mu);
    state_->present.erase(request.image().image());
  }
  state_->Respond(std::move(done), {cri::RemoveImageResponse()});
}

}  // namespace orch::runtime
