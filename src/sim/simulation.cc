#include "orch/sim/simulation.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fnmatch.h>
#include <memory>
#include <set>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "fmt/format.h"
#include "google/protobuf/util/message_differencer.h"
#include "orch/api/v1/apps.pb.h"
#include "orch/api/v1/core.pb.h"
#include "orch/base/json.h"
#include "orch/base/status.h"
#include "orch/client/retry.h"
#include "orch/cluster.h"
#include "orch/controller/deployment.h"
#include "orch/controller/ownership.h"
#include "orch/network/fake_network.h"

namespace orch::sim {

namespace v1 = api::v1;

namespace {

std::string Key(std::string_view ns, std::string_view name) {
  return fmt::format("{}/{}", ns, name);
}

// "0s", "59s", "8m32s".
std::string At(absl::Duration since_start) {
  return since_start == absl::ZeroDuration() ? "0s" : absl::FormatDuration(since_start);
}

// A number for the report: at most three decimals, no trailing zeros ("12", "0.25").
std::string Number(double value) {
  std::string text = fmt::format("{:.3f}", value);
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  return text == "-0" ? "0" : text;
}

// The nearest-rank percentile of sorted `values`; 0 for none.
double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

int32_t RestartsOf(const v1::Pod& pod) {
  int32_t sum = 0;
  for (const v1::ContainerStatus& c : pod.status().container_statuses()) sum += c.restart_count();
  return sum;
}

bool HasCondition(const v1::Pod& pod, std::string_view type, std::string_view reason = "") {
  for (const v1::PodCondition& c : pod.status().conditions()) {
    if (c.type() == type && c.status() == "True" && (reason.empty() || c.reason() == reason)) {
      return true;
    }
  }
  return false;
}

bool Terminating(const v1::Pod& pod) { return pod.metadata().has_deletion_timestamp(); }

// The ReplicaSet that controls `pod`, as "ns/name"; "" for none.
std::string ControllingReplicaSet(const v1::Pod& pod) {
  const v1::OwnerReference* ref = controller::GetControllerOf(pod);
  return ref != nullptr && ref->kind() == "ReplicaSet" ? Key(pod.metadata().namespace_(), ref->name())
                                                       : "";
}

// The Deployment's rollout is done: every replica updated and available, nothing old left.
bool RolloutComplete(const v1::Deployment& d) {
  const v1::DeploymentStatus& s = d.status();
  const int32_t want = d.spec().replicas();
  return s.observed_generation() >= d.metadata().generation() && s.updated_replicas() == want &&
         s.replicas() == want && s.available_replicas() == want;
}

// The id a runtime knows a container by, from the pod status' "<runtime>://<id>".
std::string_view RuntimeContainerId(std::string_view container_id) {
  const size_t scheme = container_id.find("://");
  return scheme == std::string_view::npos ? container_id : container_id.substr(scheme + 3);
}

// What an expectation measures, at one moment (or, for requests, over its window).
struct Measure {
  int32_t ready = 0;
  int32_t available = 0;
  int32_t pods = 0;      // a Deployment's live pods
  int32_t count = 0;     // pods matching
  int32_t restarts = 0;  // their restarts
  int64_t succeeded = 0;  // requests
  int64_t failed = 0;
};

// Why a request failed (simulation.h gives the rule), in the order they are checked.
enum class Failure { kNoService, kNoEndpoint, kPodGone, kNodeDown, kPodTerminating, kPodNotReady,
                     kContainerNotReady };
constexpr std::string_view kFailureNames[] = {"noService",      "noEndpoint",  "podGone",
                                              "nodeDown",       "podTerminating", "podNotReady",
                                              "containerNotReady"};

// The reasons that occurred, with their counts, in the order of the rule.
std::vector<std::pair<std::string_view, int64_t>> FailuresInOrder(const RequestCounts& counts) {
  std::vector<std::pair<std::string_view, int64_t>> out;
  for (std::string_view name : kFailureNames) {
    auto it = counts.failures.find(std::string(name));
    if (it != counts.failures.end()) out.emplace_back(name, it->second);
  }
  return out;
}

void Count(RequestCounts& counts, std::optional<Failure> failure, double at_seconds) {
  ++counts.sent;
  if (!failure.has_value()) {
    ++counts.succeeded;
    return;
  }
  ++counts.failed;
  ++counts.failures[std::string(kFailureNames[static_cast<size_t>(*failure)])];
  if (!counts.first_failure_seconds.has_value()) counts.first_failure_seconds = at_seconds;
  counts.last_failure_seconds = at_seconds;
}

// Whether `m` meets every bound of `e`; `why` names the first bound that fails, or all
// the measured values when it holds.
bool Meets(const Expectation& e, const Measure& m, std::string* why) {
  struct Bound {
    const std::optional<int32_t>& limit;
    const char* name;
    int64_t value;
    int kind;  // 0: ==, 1: >=, 2: <=
  };
  const Bound bounds[] = {
      {e.ready_replicas, "readyReplicas", m.ready, 0}, {e.min_available, "availableReplicas", m.available, 1},
      {e.max_pods, "pods", m.pods, 2},                 {e.count, "count", m.count, 0},
      {e.min_count, "count", m.count, 1},              {e.max_count, "count", m.count, 2},
      {e.min_restarts, "restarts", m.restarts, 1},     {e.max_restarts, "restarts", m.restarts, 2},
      {e.max_failed, "failed", m.failed, 2},
      {e.min_succeeded, "succeeded", m.succeeded, 1},
  };
  std::vector<std::string> seen;
  for (const Bound& b : bounds) {
    if (!b.limit.has_value()) continue;
    const int64_t want = *b.limit;
    const bool ok = b.kind == 0 ? b.value == want : b.kind == 1 ? b.value >= want : b.value <= want;
    const std::string text = fmt::format("{} {}", b.name, b.value);
    if (!ok) {
      *why = fmt::format("{} (needed {}{})", text, b.kind == 0 ? "" : b.kind == 1 ? ">= " : "<= ", want);
      return false;
    }
    if (std::find(seen.begin(), seen.end(), text) == seen.end()) seen.push_back(text);
  }
  *why = fmt::format("{}", fmt::join(seen, ", "));
  return true;
}

class Run {
 public:
  Run(const Scenario& scenario, const RunOptions& options, uint64_t seed, Cluster& cluster)
      : scenario_(scenario), options_(options), cluster_(cluster), start_(cluster.Now()) {
    report_.seed = seed;
    report_.scenario = scenario.source;
  }

  absl::Status Start() {
    ORCH_ASSIGN_OR_RETURN(auto pods, cluster_.informers().InformerFor<v1::Pod>());
    ORCH_ASSIGN_OR_RETURN(auto sets, cluster_.informers().InformerFor<v1::ReplicaSet>());
    ORCH_ASSIGN_OR_RETURN(auto deployments, cluster_.informers().InformerFor<v1::Deployment>());
    pods_ = pods.lister();
    ORCH_RETURN_IF_ERROR(StartTraffic());
    sets.AddEventHandler({.on_add = [this](const auto& rs) { OnReplicaSet(*rs); },
                          .on_update = [this](const auto&, const auto& rs) { OnReplicaSet(*rs); }});
    pods.AddEventHandler({
        .on_add = [this](const auto& pod) { OnPod(nullptr, pod.get()); },
        .on_update = [this](const auto& old, const auto& pod) { OnPod(old.get(), pod.get()); },
        .on_delete = [this](const auto& pod) { OnPod(pod.get(), nullptr); },
    });
    deployments.AddEventHandler({
        .on_add = [this](const auto& d) { OnDeployment(nullptr, d.get()); },
        .on_update = [this](const auto& old, const auto& d) { OnDeployment(old.get(), d.get()); },
        .on_delete = [this](const auto& d) { OnDeploymentGone(*d); },
    });
    // Expectations first, so that one at T sees the state before the actions at T.
    results_.resize(scenario_.expect.size());
    for (size_t i = 0; i < scenario_.expect.size(); ++i) ScheduleExpectation(i);
    for (size_t i = 0; i < scenario_.timeline.size(); ++i) {
      const Action& action = scenario_.timeline[i];
      After(action.at, [this, i] { RunAction(scenario_.timeline[i]); });
    }
    for (absl::Duration t; t <= scenario_.run_until; t += scenario_.sample_every) {
      After(t, [this] { Sample(); });
    }
    return absl::OkStatus();
  }

  void Drive() {
    VirtualExecutor& executor = *cluster_.virtual_executor();
    const absl::Time end = start_ + scenario_.run_until;
    const auto wall_start = std::chrono::steady_clock::now();
    auto last_progress = wall_start;
    // A step ends at each request's instant, so that it is sent once that instant's work
    // is done; otherwise every second.
    for (absl::Time next = executor.clock().Now();;) {
      executor.AdvanceTo(next);
      SendDueRequests();
      const auto now = std::chrono::steady_clock::now();
      if (options_.progress && now - last_progress >= absl::ToChronoSeconds(options_.progress_every)) {
        last_progress = now;
        options_.progress(CurrentProgress());
      }
      if (executor.clock().Now() >= end) break;
      next = std::min({end, executor.clock().Now() + absl::Seconds(1), NextRequestAt()});
    }
    if (options_.progress) options_.progress(CurrentProgress());
    report_.wall_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  }

  Report Finish() {
    report_.virtual_seconds = SecondsNow();
    for (size_t i = 0; i < scenario_.expect.size(); ++i) {
      if (scenario_.expect[i].subject.kind == Subject::Kind::kRequests) JudgeRequests(i);
      // A window that reaches past the run's end closes with it.
      if (results_[i].active) Close(i);
      const Expectation& e = scenario_.expect[i];
      report_.expectations.push_back({.path = e.path,
                                      .text = e.text,
                                      .ok = results_[i].ok,
                                      .observed = results_[i].observed});
    }
    for (const StreamState& stream : streams_) {
      report_.traffic[stream.spec->name] = {.service = stream.service, .requests = stream.counts};
    }
    for (auto& [key, d] : deployments_) {
      DeploymentReport& out = report_.deployments[key];
      out.desired = d.gone ? 0 : d.last.spec().replicas();
      out.ready_at_end = d.gone ? 0 : d.last.status().ready_replicas();
      out.min_available = d.min_available;
      out.max_pods = d.max_pods;
      out.rollouts = d.rollouts;
    }
    for (const auto& pod : pods_->List()) {
      if (pod->status().phase() == "Pending" && !Terminating(*pod)) ++report_.pods.pending_at_end;
    }
    std::sort(latencies_ms_.begin(), latencies_ms_.end());
    report_.scheduling.latency_p50_ms = Percentile(latencies_ms_, 50);
    report_.scheduling.latency_p99_ms = Percentile(latencies_ms_, 99);
    if (scheduler::Scheduler* s = cluster_.scheduler()) {
      const scheduler::SchedulerStats stats = s->stats();
      report_.scheduling.attempts = stats.attempts;
      report_.scheduling.unschedulable = stats.unschedulable;
      report_.scheduling.preemptions = stats.preemptions;
    }
    return std::move(report_);
  }

 private:
  struct DeploymentState {
    v1::Deployment last;
    bool gone = false;
    bool fully_available = false;  // has had every replica available
    std::optional<int32_t> min_available;
    std::set<std::string> replica_sets;
    int32_t live_pods = 0;
    int32_t max_pods = 0;
    std::vector<Rollout> rollouts;
  };
  struct PodState {
    absl::Time seen;  // when the informer first had it: scheduling latency counts from here
    std::string replica_set;
    bool live = false;
    bool running = false;
  };
  struct StreamState {
    const RequestStream* spec = nullptr;
    std::string service;    // "ns/name:port" or "ns/name"
    std::string client_ip;
    int64_t next = 0;       // the next request's number
    absl::Time next_at;     // and its instant; InfiniteFuture when the stream is done
    RequestCounts counts;
    std::vector<size_t> expectations;  // indices of the `requests` expectations on it
  };
  struct ExpectationState {
    bool active = false;
    bool ok = false;
    bool failed = false;  // during: a moment that did not meet it
    std::string observed;
    std::string last;  // during/within: the last measure's description
    RequestCounts requests;  // a `requests` expectation: those sent in its window
  };

  void After(absl::Duration at, Task task) {
    cluster_.executor().PostAfter(start_ + at - cluster_.Now(), std::move(task));
  }
  // Virtual time since the run started.
  absl::Duration Since() const { return cluster_.Now() - start_; }
  double SecondsNow() const { return absl::ToDoubleSeconds(Since()); }

  Progress CurrentProgress() const {
    return {.virtual_time = Since(),
            .run_until = scenario_.run_until,
            .pods_running = running_,
            .pods = static_cast<int64_t>(pod_states_.size())};
  }

  // --- observing ------------------------------------------------------------------------

  void OnReplicaSet(const v1::ReplicaSet& rs) {
    for (const v1::OwnerReference& ref : rs.metadata().owner_references()) {
      if (!ref.controller() || ref.kind() != "Deployment") continue;
      const std::string rs_key = Key(rs.metadata().namespace_(), rs.metadata().name());
      const std::string owner = Key(rs.metadata().namespace_(), ref.name());
      if (!rs_owner_.emplace(rs_key, owner).second) return;
      deployments_[owner].replica_sets.insert(rs_key);
      Recount(owner);
    }
  }

  void OnPod(const v1::Pod* old, const v1::Pod* pod) {
    const v1::Pod& any = pod != nullptr ? *pod : *old;
    const std::string& uid = any.metadata().uid();
    if (pod == nullptr) {
      auto it = pod_states_.find(uid);
      if (it != pod_states_.end()) {
        SetLive(it->second, false);
        SetRunning(it->second, false);
        pod_states_.erase(it);
      }
      Changed();
      return;
    }
    PodState& state = pod_states_[uid];
    if (old == nullptr) {
      ++report_.pods.created;
      state.seen = cluster_.Now();
      state.replica_set = ControllingReplicaSet(*pod);
      if (!pod->spec().node_name().empty()) ++report_.pods.scheduled;
    } else {
      if (old->spec().node_name().empty() && !pod->spec().node_name().empty()) {
        ++report_.pods.scheduled;
        latencies_ms_.push_back(absl::ToDoubleMilliseconds(cluster_.Now() - state.seen));
      }
      report_.pods.restarts += std::max(0, RestartsOf(*pod) - RestartsOf(*old));
      if (HasCondition(*pod, "DisruptionTarget", "DeletionByTaintManager") &&
          !HasCondition(*old, "DisruptionTarget", "DeletionByTaintManager")) {
        ++report_.pods.evictions;
      }
    }
    SetLive(state, !Terminating(*pod));
    SetRunning(state, !Terminating(*pod) && pod->status().phase() == "Running");
    Changed();
  }

  void SetRunning(PodState& state, bool running) {
    if (state.running == running) return;
    state.running = running;
    running_ += running ? 1 : -1;
  }

  void SetLive(PodState& state, bool live) {
    if (state.live == live) return;
    state.live = live;
    if (state.replica_set.empty()) return;
    rs_live_[state.replica_set] += live ? 1 : -1;
    auto owner = rs_owner_.find(state.replica_set);
    if (owner != rs_owner_.end()) Recount(owner->second);
  }

  void Recount(const std::string& deployment) {
    DeploymentState& d = deployments_[deployment];
    int32_t live = 0;
    for (const std::string& rs : d.replica_sets) {
      auto it = rs_live_.find(rs);
      if (it != rs_live_.end()) live += it->second;
    }
    d.live_pods = live;
    d.max_pods = std::max(d.max_pods, live);
  }

  void OnDeployment(const v1::Deployment* old, const v1::Deployment* now) {
    DeploymentState& d = deployments_[Key(now->metadata().namespace_(), now->metadata().name())];
    d.last = *now;
    d.gone = false;
    if (old == nullptr ||
        !google::protobuf::util::MessageDifferencer::Equals(old->spec().template_(),
                                                            now->spec().template_())) {
      d.rollouts.push_back({.start_seconds = SecondsNow()});
    }
    if (!d.rollouts.empty() && !d.rollouts.back().complete_seconds.has_value() &&
        RolloutComplete(*now)) {
      d.rollouts.back().complete_seconds = SecondsNow();
    }
    const int32_t available = now->status().available_replicas();
    if (!d.fully_available && available >= now->spec().replicas() && now->spec().replicas() > 0) {
      d.fully_available = true;
    }
    if (d.fully_available) d.min_available = std::min(d.min_available.value_or(available), available);
    Changed();
  }

  void OnDeploymentGone(const v1::Deployment& gone) {
    deployments_[Key(gone.metadata().namespace_(), gone.metadata().name())].gone = true;
    Changed();
  }

  void Sample() {
    const size_t index = report_.series_seconds.size();
    report_.series_seconds.push_back(SecondsNow());
    for (const auto& [key, d] : deployments_) {
      std::vector<int32_t>& series = report_.series_ready[key];
      series.resize(index, 0);  // before it existed
      series.push_back(d.gone ? 0 : d.last.status().ready_replicas());
    }
  }

  // --- expectations ---------------------------------------------------------------------

  Measure Take(const Subject& subject) const {
    Measure m;
    if (subject.kind == Subject::Kind::kDeployment) {
      auto it = deployments_.find(subject.deployment.ToString());
      if (it == deployments_.end() || it->second.gone) return m;
      m.ready = it->second.last.status().ready_replicas();
      m.available = it->second.last.status().available_replicas();
      m.pods = it->second.live_pods;
      return m;
    }
    const auto pods = subject.pod_namespace.empty()
                          ? pods_->List(subject.selector)
                          : pods_->ListInNamespace(subject.pod_namespace, subject.selector);
    for (const auto& pod : pods) {
      if (Terminating(*pod)) continue;
      if (subject.phase.has_value() && pod->status().phase() != *subject.phase) continue;
      if (subject.node.has_value() && pod->spec().node_name() != *subject.node) continue;
      if (subject.ready.has_value() && HasCondition(*pod, "Ready") != *subject.ready) continue;
      ++m.count;
      m.restarts += RestartsOf(*pod);
    }
    return m;
  }

  void ScheduleExpectation(size_t i) {
    const Expectation& e = scenario_.expect[i];
    if (e.subject.kind == Subject::Kind::kRequests) return;  // counted as requests are sent
    switch (e.when) {
      case Expectation::When::kAt:
        After(e.at, [this, i] {
          std::string why;
          results_[i].ok = Meets(scenario_.expect[i], Take(scenario_.expect[i].subject), &why);
          results_[i].observed = fmt::format("{} at {}", why, At(Since()));
        });
        return;
      case Expectation::When::kDuring:
      case Expectation::When::kWithin:
        After(e.at, [this, i] {
          results_[i].active = true;
          Check(i);
        });
        After(e.until, [this, i] { Close(i); });
        return;
    }
  }

  // An open window: looks at the measure now.
  void Check(size_t i) {
    ExpectationState& r = results_[i];
    const Expectation& e = scenario_.expect[i];
    std::string why;
    const bool meets = Meets(e, Take(e.subject), &why);
    r.last = why;
    if (e.when == Expectation::When::kWithin) {
      if (meets) {
        r.ok = true;
        r.active = false;
        r.observed = fmt::format("{} at {}", why, At(Since()));
      }
      return;
    }
    if (!meets && !r.failed) {
      r.failed = true;
      r.observed = fmt::format("{} at {}", why, At(Since()));
    }
  }

  void Close(size_t i) {
    ExpectationState& r = results_[i];
    if (!r.active) return;
    r.active = false;
    const Expectation& e = scenario_.expect[i];
    if (e.when == Expectation::When::kWithin) {
      r.ok = false;
      r.observed = fmt::format("not met by {}; last {}", At(Since()), r.last);
      return;
    }
    r.ok = !r.failed;
    if (r.ok) r.observed = fmt::format("held from {} to {}", At(e.at), At(Since()));
  }

  // Something measured may have changed: open windows look again.
  void Changed() {
    for (size_t i = 0; i < results_.size(); ++i) {
      if (results_[i].active) Check(i);
    }
  }

  // --- traffic --------------------------------------------------------------------------

  absl::Status StartTraffic() {
    if (scenario_.traffic.empty()) return absl::OkStatus();
    if (cluster_.fake_network() == nullptr) {
      // RunScenario's cluster always has its own.
      return absl::InternalError(
          fmt::format("{}: traffic: the cluster has no FakeNetwork", scenario_.source));
    }
    ORCH_ASSIGN_OR_RETURN(auto services, cluster_.informers().InformerFor<v1::Service>());
    services_ = services.lister();
    for (size_t i = 0; i < scenario_.traffic.size(); ++i) {
      const RequestStream& spec = scenario_.traffic[i];
      StreamState& stream = streams_.emplace_back();
      stream.spec = &spec;
      stream.service = spec.port.has_value()
                           ? fmt::format("{}:{}", spec.service.ToString(), *spec.port)
                           : spec.service.ToString();
      stream.client_ip = fmt::format("198.18.{}.{}", (i + 1) / 256, (i + 1) % 256);
      stream.next_at = start_ + spec.from;
      for (size_t e = 0; e < scenario_.expect.size(); ++e) {
        const Subject& subject = scenario_.expect[e].subject;
        if (subject.kind == Subject::Kind::kRequests && subject.stream == spec.name) {
          stream.expectations.push_back(e);
        }
      }
    }
    return absl::OkStatus();
  }

  absl::Time NextRequestAt() const {
    absl::Time next = absl::InfiniteFuture();
    for (const StreamState& stream : streams_) next = std::min(next, stream.next_at);
    return next;
  }

  // Sends every request due by now, stream by stream in file order.
  void SendDueRequests() {
    const absl::Time now = cluster_.Now();
    for (StreamState& stream : streams_) {
      while (stream.next_at <= now) {
        const absl::Duration at = stream.next_at - start_;
        const double at_seconds = absl::ToDoubleSeconds(at);
        const std::optional<Failure> failure = Send(stream);
        // Counted for the stream, and for each `requests` expectation whose window holds it.
        Count(stream.counts, failure, at_seconds);
        for (size_t e : stream.expectations) {
          const Expectation& expectation = scenario_.expect[e];
          if (expectation.at <= at && at <= expectation.until) {
            Count(results_[e].requests, failure, at_seconds);
          }
        }
        const RequestStream& spec = *stream.spec;
        const absl::Duration next = spec.from + ++stream.next * (absl::Seconds(1) / spec.rate);
        stream.next_at = next < spec.until ? start_ + next : absl::InfiniteFuture();
      }
    }
  }

  // One request of `stream`: why it failed, or nullopt when it reached a pod able to serve.
  std::optional<Failure> Send(const StreamState& stream) {
    const ObjectName& name = stream.spec->service;
    absl::StatusOr<std::shared_ptr<const v1::Service>> service =
        services_->Get(name.namespace_, name.name);
    if (!service.ok()) return Failure::kNoService;
    const v1::ServiceSpec& spec = (*service)->spec();
    if (spec.cluster_ip().empty() || spec.cluster_ip() == "None") return Failure::kNoService;
    if (!stream.spec->port.has_value() && spec.ports().empty()) return Failure::kNoService;
    const int32_t port = stream.spec->port.has_value() ? *stream.spec->port : spec.ports(0).port();
    absl::StatusOr<network::Connection> connection =
        cluster_.fake_network()->Connect(stream.client_ip, spec.cluster_ip(), port);
    if (!connection.ok()) {
      return absl::IsUnavailable(connection.status()) ? Failure::kNoEndpoint : Failure::kNoService;
    }
    return BackendFails(connection->backend);
  }

  // Whether the pod behind `backend` can serve now, by the cluster's own state.
  std::optional<Failure> BackendFails(const network::Backend& backend) {
    const size_t slash = backend.pod.find('/');
    if (slash == std::string::npos) return Failure::kPodGone;
    absl::StatusOr<std::shared_ptr<const v1::Pod>> found =
        pods_->Get(std::string_view(backend.pod).substr(0, slash),
                   std::string_view(backend.pod).substr(slash + 1));
    if (!found.ok() || (*found)->status().pod_ip() != backend.address) return Failure::kPodGone;
    const v1::Pod& pod = **found;
    runtime::FakeRuntime* runtime = pod.spec().node_name().empty()
                                        ? nullptr
                                        : cluster_.FakeRuntimeOf(pod.spec().node_name());
    if (runtime == nullptr) return Failure::kNodeDown;  // failed or removed
    if (Terminating(pod)) return Failure::kPodTerminating;
    if (!HasCondition(pod, "Ready")) return Failure::kPodNotReady;
    if (pod.status().container_statuses().empty()) return Failure::kContainerNotReady;
    for (const v1::ContainerStatus& c : pod.status().container_statuses()) {
      if (!runtime->Ready(RuntimeContainerId(c.container_id()))) return Failure::kContainerNotReady;
    }
    return std::nullopt;
  }

  // A `requests` expectation, once its window has closed (or the run ended).
  void JudgeRequests(size_t i) {
    const Expectation& e = scenario_.expect[i];
    ExpectationState& r = results_[i];
    const RequestCounts& counts = r.requests;
    std::string why;
    r.ok = Meets(e, {.succeeded = counts.succeeded, .failed = counts.failed}, &why);
    r.observed = fmt::format("{} from {} to {}: {}", r.ok ? "held" : why, At(e.at), At(e.until),
                             counts.Summary());
  }

  // --- actions --------------------------------------------------------------------------

  void RunAction(const Action& action) {
    ActionResult result;
    result.path = action.path;
    result.at_seconds = SecondsNow();
    absl::Status status = Do(action, &result.action);
    if (!status.ok()) {
      result.ok = false;
      result.error = std::string(status.message());
    }
    report_.actions.push_back(std::move(result));
  }

  // Retries a read-modify-write of a Deployment on conflicts.
  absl::Status UpdateDeployment(const ObjectName& name,
                                const std::function<absl::Status(v1::Deployment&)>& change) {
    return client::RetryOnConflict(
        client::kDefaultRetry,
        [&]() -> absl::Status {
          ORCH_ASSIGN_OR_RETURN(v1::Deployment d,
                                cluster_.Get<v1::Deployment>(name.namespace_, name.name));
          ORCH_RETURN_IF_ERROR(change(d));
          return cluster_.client().Update(d).status();
        },
        client::Sleeper::None());
  }

  absl::Status Do(const Action& a, std::string* text) {
    using Kind = Action::Kind;
    switch (a.kind) {
      case Kind::kApply:
        *text = fmt::format("apply {}", a.manifests_source);
        return cluster_.Apply(a.manifests, a.manifests_source).status();
      case Kind::kFailNode:
        *text = "failNode " + a.node;
        return cluster_.FailNode(a.node);
      case Kind::kRecoverNode:
        *text = "recoverNode " + a.node;
        return cluster_.RecoverNode(a.node);
      case Kind::kRemoveNode:
        *text = "removeNode " + a.node;
        return cluster_.RemoveNode(a.node);
      case Kind::kAddNodes: {
        *text = fmt::format("addNodes {} {}", a.nodes.count, a.nodes.name_prefix);
        return cluster_.AddNodes(a.nodes).status();
      }
      case Kind::kSetImage:
        *text = fmt::format("setImage {} {}={}", a.deployment.ToString(), a.container, a.image);
        return UpdateDeployment(a.deployment, [&](v1::Deployment& d) -> absl::Status {
          for (v1::Container& c : *d.mutable_spec()->mutable_template_()->mutable_spec()->mutable_containers()) {
            if (c.name() == a.container) {
              c.set_image(a.image);
              return absl::OkStatus();
            }
          }
          return absl::NotFoundError(fmt::format("deployment {} has no container \"{}\"",
                                                 a.deployment.ToString(), a.container));
        });
      case Kind::kRollback:
        *text = "rollback " + a.deployment.ToString();
        return client::RetryOnConflict(
            client::kDefaultRetry,
            [&] {
              return controller::RollbackDeployment(cluster_.client(), a.deployment.namespace_,
                                                    a.deployment.name)
                  .status();
            },
            client::Sleeper::None());
      case Kind::kScale:
        *text = fmt::format("scale {} to {}", a.deployment.ToString(), a.replicas);
        return UpdateDeployment(a.deployment, [&](v1::Deployment& d) {
          d.mutable_spec()->set_replicas(a.replicas);
          return absl::OkStatus();
        });
      case Kind::kDeletePod: {
        *text = fmt::format("deletePod {} in {} ({})", a.count, a.pod_namespace, a.selector.ToString());
        std::vector<std::string> names;  // by name
        for (const auto& pod : pods_->ListInNamespace(a.pod_namespace, a.selector)) {
          if (!Terminating(*pod)) names.push_back(pod->metadata().name());
        }
        if (names.empty()) {
          return absl::NotFoundError(fmt::format("no pod in {} matches {}", a.pod_namespace,
                                                 a.selector.ToString()));
        }
        names.resize(std::min<size_t>(names.size(), static_cast<size_t>(a.count)));
        for (const std::string& name : names) {
          ORCH_RETURN_IF_ERROR(cluster_.client().Delete<v1::Pod>(a.pod_namespace, name));
        }
        return absl::OkStatus();
      }
      case Kind::kCrashContainer: {
        *text = fmt::format("crashContainer {} {}", a.pod_glob, a.container);
        int crashed = 0;
        for (const auto& pod : pods_->List()) {  // by namespace, then name
          const std::string key = Key(pod->metadata().namespace_(), pod->metadata().name());
          if (Terminating(*pod) || fnmatch(a.pod_glob.c_str(), key.c_str(), 0) != 0) continue;
          runtime::FakeRuntime* fake = cluster_.FakeRuntimeOf(pod->spec().node_name());
          if (fake == nullptr) continue;
          for (const v1::ContainerStatus& c : pod->status().container_statuses()) {
            if (c.name() != a.container || !c.state().has_running()) continue;
            if (fake->KillContainer(RuntimeContainerId(c.container_id()), a.exit_code).ok()) {
              ++crashed;
            }
          }
        }
        if (crashed == 0) {
          return absl::NotFoundError(fmt::format(
              "no running container \"{}\" in a pod matching {}", a.container, a.pod_glob));
        }
        return absl::OkStatus();
      }
    }
    return absl::InternalError("unknown action");
  }

  const Scenario& scenario_;
  const RunOptions& options_;
  Cluster& cluster_;
  const absl::Time start_;
  std::optional<client::Lister<v1::Pod>> pods_;  // set by Start
  std::optional<client::Lister<v1::Service>> services_;  // set by Start, with traffic
  std::vector<StreamState> streams_;
  Report report_;
  std::map<std::string, DeploymentState> deployments_;
  std::map<std::string, std::string> rs_owner_;  // ReplicaSet -> its Deployment
  absl::flat_hash_map<std::string, int32_t> rs_live_;
  absl::flat_hash_map<std::string, PodState> pod_states_;  // by uid
  int64_t running_ = 0;
  std::vector<double> latencies_ms_;
  std::vector<ExpectationState> results_;
};

}  // namespace

std::string RequestCounts::Summary() const {
  std::string text = fmt::format("sent {}, succeeded {}, failed {}", sent, succeeded, failed);
  std::vector<std::string> reasons;
  for (const auto& [name, n] : FailuresInOrder(*this)) {
    reasons.push_back(fmt::format("{} {}", name, n));
  }
  if (!reasons.empty()) text += fmt::format(" ({})", fmt::join(reasons, ", "));
  if (first_failure_seconds.has_value()) {
    text += fmt::format("; failures from {} to {}", At(absl::Seconds(*first_failure_seconds)),
                        At(absl::Seconds(*last_failure_seconds)));
  }
  return text;
}

bool Report::ok() const {
  for (const ExpectationResult& e : expectations) {
    if (!e.ok) return false;
  }
  for (const ActionResult& a : actions) {
    if (!a.ok) return false;
  }
  return true;
}

std::string Report::ToJson() const {
  std::string out = "{\n";
  out += fmt::format("  \"seed\": {},\n", seed);
  out += fmt::format("  \"scenario\": {},\n", JsonQuote(scenario));
  out += fmt::format("  \"ok\": {},\n", ok() ? "true" : "false");
  out += fmt::format("  \"virtualSeconds\": {},\n", Number(virtual_seconds));
  out += fmt::format("  \"wallSeconds\": {},\n", Number(wall_seconds));
  out += "  \"expectations\": [";
  for (size_t i = 0; i < expectations.size(); ++i) {
    const ExpectationResult& e = expectations[i];
    out += fmt::format("{}\n    {{\"path\": {}, \"text\": {}, \"ok\": {}, \"observed\": {}}}",
                       i == 0 ? "" : ",", JsonQuote(e.path), JsonQuote(e.text),
                       e.ok ? "true" : "false", JsonQuote(e.observed));
  }
  out += expectations.empty() ? "],\n" : "\n  ],\n";
  out += "  \"actions\": [";
  for (size_t i = 0; i < actions.size(); ++i) {
    const ActionResult& a = actions[i];
    out += fmt::format("{}\n    {{\"path\": {}, \"atSeconds\": {}, \"action\": {}, \"ok\": {}{}}}",
                       i == 0 ? "" : ",", JsonQuote(a.path), Number(a.at_seconds),
                       JsonQuote(a.action), a.ok ? "true" : "false",
                       a.ok ? "" : fmt::format(", \"error\": {}", JsonQuote(a.error)));
  }
  out += actions.empty() ? "],\n" : "\n  ],\n";
  out += "  \"deployments\": {";
  bool first = true;
  for (const auto& [name, d] : deployments) {
    std::vector<std::string> rollouts;
    for (const Rollout& r : d.rollouts) {
      rollouts.push_back(fmt::format(
          "{{\"startSeconds\": {}, \"completeSeconds\": {}}}", Number(r.start_seconds),
          r.complete_seconds.has_value() ? Number(*r.complete_seconds) : "null"));
    }
    out += fmt::format(
        "{}\n    {}: {{\"desired\": {}, \"readyAtEnd\": {}, \"minAvailable\": {}, \"maxPods\": {}, "
        "\"rollouts\": [{}]}}",
        first ? "" : ",", JsonQuote(name), d.desired, d.ready_at_end,
        d.min_available.has_value() ? std::to_string(*d.min_available) : "null", d.max_pods,
        fmt::join(rollouts, ", "));
    first = false;
  }
  out += deployments.empty() ? "},\n" : "\n  },\n";
  out += fmt::format(
      "  \"pods\": {{\"created\": {}, \"scheduled\": {}, \"restarts\": {}, \"evictions\": {}, "
      "\"pendingAtEnd\": {}}},\n",
      pods.created, pods.scheduled, pods.restarts, pods.evictions, pods.pending_at_end);
  out += fmt::format(
      "  \"scheduling\": {{\"latencyP50Ms\": {}, \"latencyP99Ms\": {}, \"attempts\": {}, "
      "\"unschedulable\": {}, \"preemptions\": {}}},\n",
      Number(scheduling.latency_p50_ms), Number(scheduling.latency_p99_ms), scheduling.attempts,
      scheduling.unschedulable, scheduling.preemptions);
  out += "  \"traffic\": {";
  first = true;
  for (const auto& [name, t] : traffic) {
    const RequestCounts& r = t.requests;
    std::vector<std::string> failures;
    for (const auto& [reason, n] : FailuresInOrder(r)) {
      failures.push_back(fmt::format("{}: {}", JsonQuote(reason), n));
    }
    const auto seconds = [](const std::optional<double>& s) { return s ? Number(*s) : "null"; };
    out += fmt::format(
        "{}\n    {}: {{\"service\": {}, \"sent\": {}, \"succeeded\": {}, \"failed\": {}, "
        "\"failures\": {{{}}}, \"firstFailureSeconds\": {}, \"lastFailureSeconds\": {}}}",
        first ? "" : ",", JsonQuote(name), JsonQuote(t.service), r.sent, r.succeeded, r.failed,
        fmt::join(failures, ", "), seconds(r.first_failure_seconds),
        seconds(r.last_failure_seconds));
    first = false;
  }
  out += traffic.empty() ? "},\n" : "\n  },\n";
  std::vector<std::string> seconds;
  for (double s : series_seconds) seconds.push_back(Number(s));
  out += fmt::format("  \"series\": {{\n    \"seconds\": [{}],\n    \"ready\": {{", fmt::join(seconds, ", "));
  first = true;
  for (const auto& [name, values] : series_ready) {
    std::vector<int32_t> padded = values;
    padded.resize(series_seconds.size(), 0);
    out += fmt::format("{}\n      {}: [{}]", first ? "" : ",", JsonQuote(name), fmt::join(padded, ", "));
    first = false;
  }
  out += series_ready.empty() ? "}\n  }\n}\n" : "\n    }\n  }\n}\n";
  return out;
}

std::string Report::SeriesCsv() const {
  std::string out = "seconds";
  for (const auto& [name, values] : series_ready) out += "," + name;
  out += "\n";
  for (size_t i = 0; i < series_seconds.size(); ++i) {
    out += Number(series_seconds[i]);
    for (const auto& [name, values] : series_ready) {
      out += fmt::format(",{}", i < values.size() ? values[i] : 0);
    }
    out += "\n";
  }
  return out;
}

absl::StatusOr<Report> RunScenario(const Scenario& scenario, const RunOptions& options) {
  const uint64_t seed = options.seed.value_or(scenario.seed);
  if (scenario.run_until <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(fmt::format("{}: runUntil: must be positive", scenario.source));
  }
  if (scenario.sample_every <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        fmt::format("{}: sampleEvery: must be positive", scenario.source));
  }
  Cluster::Builder builder;
  builder.WithSeed(seed).WithSchedulerConfig(scenario.scheduler);
  for (const NodeGroup& group : scenario.nodes) builder.WithNodes(group);
  for (const auto& [image, behavior] : scenario.images) builder.WithImage(image, behavior);
  absl::StatusOr<std::unique_ptr<Cluster>> cluster = builder.Build();
  if (!cluster.ok()) {
    return absl::Status(cluster.status().code(),
                        fmt::format("{}: {}", scenario.source, std::string(cluster.status().message())));
  }
  Run run(scenario, options, seed, **cluster);
  ORCH_RETURN_IF_ERROR(run.Start());
  run.Drive();
  return run.Finish();
}

}  // namespace orch::sim
