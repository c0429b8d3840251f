// RunScenario: runs a Scenario on an orch::Cluster in virtual time and reports what
// happened — whether each expectation held and what was observed, how each Deployment
// fared, pod and scheduling figures, and a time series of ready pods. orch-sim is a thin
// command line over it (docs/guides/simulator.md).
//
//   ORCH_ASSIGN_OR_RETURN(orch::sim::Scenario scenario, orch::sim::ParseScenario(text, path, dir));
//   ORCH_ASSIGN_OR_RETURN(orch::sim::Report report, orch::sim::RunScenario(scenario));
//   std::cout << report.ToJson();
//   return report.ok() ? 0 : 1;
//
// The run. A Cluster is built from the scenario (its node groups, scheduler configuration,
// images on the fake runtime, the seed) with every built-in controller. Each timeline
// action runs at its virtual time; expectations are checked as their form says (`at` at
// that instant, before the actions of the same instant; `during` at its start and at every
// change of what it measures until its end; `within` at every change until it first holds
// or its window closes; a `requests` one over the requests sent in its window). The run
// stops at runUntil.
//
// Traffic. Each stream of `traffic:` sends its requests at their virtual instants, each
// once all the work due at that instant has run: a request sees the cluster as that
// instant leaves it. A request is the cluster's FakeNetwork::Connect from the stream's
// client address (198.18.0.1 for the first stream, 198.18.0.2 for the second, ...) to the
// Service's cluster IP and port, so it goes where the programmed rules send it. It fails
// for the first of these reasons that applies, and succeeds otherwise:
//   noService          the Service is not in the cluster's cache, has no cluster IP or no
//                      such port, or no rule listens there (Connect: kNotFound)
//   noEndpoint         the rule has no candidate backend (Connect: kUnavailable)
//   podGone            the backend's pod is not in the pod cache, or no longer has the
//                      backend's address
//   nodeDown           the pod's node is failed or removed: the simulation's own record,
//                      not the Node's status (which lags by the node monitor's grace period)
//   podTerminating     the pod is being deleted (metadata.deletionTimestamp is set)
//   podNotReady        the pod's Ready condition is not True
//   containerNotReady  a container in the pod's status is not running on the node's
//                      runtime, or would fail its readiness check there (FakeRuntime::Ready)
// The backend's recorded `ready` flag is not consulted: the count is of the requests the
// rules, lagging the cluster, sent where nothing could serve them. Pods and Services are
// read from the cluster's informer caches, which by then hold every write of the instant;
// each check is a lookup (no store read, no copy).
//
// Determinism. The same scenario and seed give the same report, byte for byte, except
// `wallSeconds`: the cluster runs on one thread in virtual time, and the report is written
// in a fixed order.
//
// Actions that fail at run time (a Deployment that does not exist, a node name that is no
// node) do not stop the run: the report lists them under `actions` with their error, and
// the run is not ok.
//
// Thread safety: RunScenario may run on several threads at once (each run has its own
// Cluster); a Report is a value. Errors: kInvalidArgument when the cluster cannot be built
// from the scenario (a bad node group or scheduler configuration the parser let through).
#ifndef ORCH_SIM_SIMULATION_H_
#define ORCH_SIM_SIMULATION_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "orch/sim/scenario.h"

namespace orch::sim {

// Where a run is, for a progress display.
struct Progress {
  absl::Duration virtual_time;  // since the start
  absl::Duration run_until;
  int64_t pods_running = 0;     // phase Running, not terminating
  int64_t pods = 0;             // every pod object
};

struct RunOptions {
  // Overrides the scenario's seed.
  std::optional<uint64_t> seed;
  // Called with the run's progress about every `progress_every` of wall time (and once at
  // the end); nullptr: never. Runs on the calling thread.
  std::function<void(const Progress&)> progress;
  absl::Duration progress_every = absl::Seconds(1);
};

struct ExpectationResult {
  std::string path;      // "expect[2]"
  std::string text;      // as written
  bool ok = false;
  std::string observed;  // "readyReplicas was 4 at 59s", "minAvailable 3 at 512s (needed 4)"
};

struct ActionResult {
  std::string path;     // "timeline[3]"
  double at_seconds = 0;
  std::string action;   // "failNode node-2"
  bool ok = true;
  std::string error;
};

struct Rollout {
  double start_seconds = 0;
  std::optional<double> complete_seconds;  // unset: not complete by the end
};

struct DeploymentReport {
  int32_t desired = 0;          // spec.replicas at the end
  int32_t ready_at_end = 0;     // status.readyReplicas at the end
  // The least status.availableReplicas seen once the Deployment first had all its
  // replicas available (before that: null in JSON).
  std::optional<int32_t> min_available;
  int32_t max_pods = 0;         // most live (not terminating) pods at one time
  std::vector<Rollout> rollouts;  // its creation's, then one per template change
};

// Requests of a traffic stream: all of them, or those of one expectation's window.
struct RequestCounts {
  int64_t sent = 0;
  int64_t succeeded = 0;
  int64_t failed = 0;
  std::map<std::string, int64_t> failures;  // by reason ("nodeDown"), those that occurred
  std::optional<double> first_failure_seconds;  // virtual time of the first failure
  std::optional<double> last_failure_seconds;

  // "sent 700, succeeded 655, failed 45 (nodeDown 40, podGone 5); failures from 1m0.1s to
  // 1m44.5s" (the reasons in the order of the rule above).
  std::string Summary() const;
};

struct TrafficReport {
  std::string service;  // "ns/name:port" as the stream names it ("ns/name" without a port)
  RequestCounts requests;
};

struct Report {
  uint64_t seed = 0;
  std::string scenario;   // its source
  double virtual_seconds = 0;
  double wall_seconds = 0;
  std::vector<ExpectationResult> expectations;
  std::vector<ActionResult> actions;
  std::map<std::string, DeploymentReport> deployments;  // by "ns/name"
  struct Pods {
    int64_t created = 0;
    int64_t scheduled = 0;   // bound to a node
    int64_t restarts = 0;    // container restarts, summed
    int64_t evictions = 0;   // marked for deletion by taint eviction
    int64_t pending_at_end = 0;
  } pods;
  struct Scheduling {
    double latency_p50_ms = 0;  // creation to binding, virtual time
    double latency_p99_ms = 0;
    int64_t attempts = 0;
    int64_t unschedulable = 0;
    int64_t preemptions = 0;  // cycles that made room by preempting
  } scheduling;
  std::map<std::string, TrafficReport> traffic;  // by stream name
  // Ready pods per Deployment every sampleEvery, from 0 to runUntil.
  std::vector<double> series_seconds;
  std::map<std::string, std::vector<int32_t>> series_ready;  // by "ns/name"

  // Every expectation held and every action ran.
  bool ok() const;
  // The report as JSON (two-space indented, keys in a fixed order, a trailing newline).
  std::string ToJson() const;
  // The series as CSV: "seconds,<ns/name>,..." then one row per sample.
  std::string SeriesCsv() const;
};

absl::StatusOr<Report> RunScenario(const Scenario& scenario, const RunOptions& options = {});

}  // namespace orch::sim

#endif  // ORCH_SIM_SIMULATION_H_
