// Scenario: what orch-sim runs — a cluster (node groups, scheduler configuration, how
// images behave on the fake runtime), a timeline of actions at virtual times, and the
// expectations the run must meet. docs/reference/scenario.md describes the file format;
// examples/scenarios/ holds examples.
//
//   ORCH_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
//   ORCH_ASSIGN_OR_RETURN(orch::sim::Scenario scenario,
//                         orch::sim::ParseScenario(text, path, /*base_dir=*/dir_of(path)));
//
// Parsing reads everything a run needs: the manifests that `apply` names by file are read
// (relative to `base_dir`) and decoded, the scheduler configuration is validated, every
// duration, selector and quantity is checked. A scenario that parses runs without input
// errors.
//
// Thread safety: ParseScenario is a pure function. Errors: kInvalidArgument, reading
// `SOURCE: FIELD.PATH: problem` (e.g. "web.scenario.yaml: timeline[3].scale.replicas:
// must be a non-negative integer, not \"ten\""); a manifest's own errors carry its file
// name and document. Never throws.
#ifndef ORCH_SIM_SCENARIO_H_
#define ORCH_SIM_SCENARIO_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "orch/api/selector.h"
#include "orch/cluster.h"
#include "orch/runtime/fake_runtime.h"
#include "orch/scheduler/config.h"

namespace orch::sim {

// A namespaced name, "ns/name" in the file ("name" alone means namespace "default").
struct ObjectName {
  std::string namespace_ = "default";
  std::string name;
  std::string ToString() const { return namespace_ + "/" + name; }
};

// One timeline entry: at `at`, do `action`.
struct Action {
  enum class Kind {
    kApply,           // apply: {file: F} or {manifest: {...}} (one or more objects)
    kFailNode,        // failNode: NAME
    kRecoverNode,     // recoverNode: NAME
    kRemoveNode,      // removeNode: NAME
    kAddNodes,        // addNodes: {count, namePrefix, capacity, labels, taints} (a node group)
    kSetImage,        // setImage: {deployment: NS/NAME, container: C, image: I}
    kRollback,        // rollback: {deployment: NS/NAME}  (to the previous revision)
    kScale,           // scale: {deployment: NS/NAME, replicas: N}
    kDeletePod,       // deletePod: {selector: S, count: N, namespace: NS (default "default")}
    kCrashContainer,  // crashContainer: {pod: "NS/NAME-GLOB", container: C, exitCode: N (1)}
  };
  absl::Duration at;
  Kind kind = Kind::kApply;
  std::string path;  // "timeline[3]": where it is in the file, for run-time messages

  // kApply: the manifests' text (YAML; an inline manifest re-encoded) and where it came
  // from (the file name, or "SOURCE: timeline[3].apply.manifest").
  std::string manifests;
  std::string manifests_source;
  // kFailNode, kRecoverNode, kRemoveNode.
  std::string node;
  // kAddNodes.
  NodeGroup nodes;
  // kSetImage, kRollback, kScale.
  ObjectName deployment;
  std::string container;  // kSetImage, kCrashContainer
  std::string image;      // kSetImage
  int32_t replicas = 0;   // kScale
  // kDeletePod: pods of `pod_namespace` matching `selector`, the first `count` by name.
  api::LabelSelector selector;
  std::string pod_namespace = "default";
  int32_t count = 1;
  // kCrashContainer: every pod whose "ns/name" matches this glob ('*' any run of
  // characters, '?' one), its container `container` killed with `exit_code`.
  std::string pod_glob;
  int32_t exit_code = 1;
};

// One stream of requests (an entry of `traffic:`): `rate` requests per second of virtual
// time to a Service's cluster IP and port, the first at `from`, then one every 1/rate
// until `until` (excluded), each from the stream's own client address. RunScenario says
// when one fails.
struct RequestStream {
  std::string name;  // a DNS label, unique in the scenario; what expectations name
  ObjectName service;
  std::optional<int32_t> port;  // the Service's port; unset: its first port
  double rate = 0;              // > 0, at most kMaxRequestRate
  absl::Duration from;          // `during: [FROM, TO]`; default [0s, runUntil]
  absl::Duration until;
  std::string path;  // "traffic[0]"
};
// A stream sends at most this many requests per second (each is an event of the run).
inline constexpr double kMaxRequestRate = 1000;

// What is checked about the cluster.
struct Subject {
  enum class Kind {
    kDeployment,  // deployment: NS/NAME
    kPods,        // pods: {selector, namespace, phase, node, ready}
    kRequests,    // requests: STREAM (a name in `traffic:`); only with `during`
  };
  Kind kind = Kind::kDeployment;
  ObjectName deployment;
  std::string stream;  // kRequests
  // kPods: pods of `pod_namespace` ("" = every namespace) matching all that is set.
  api::LabelSelector selector;
  std::string pod_namespace = "default";
  std::optional<std::string> phase;  // "Pending", "Running", "Succeeded", "Failed"
  std::optional<std::string> node;   // spec.nodeName
  std::optional<bool> ready;         // the Ready condition
};

// One expectation. Its form:
//   at: T                 the measure holds at virtual time T
//   during: [A, B]        it holds at every moment from A to B (sampled at every change)
//   within: D, after: T   it holds at some moment in [T, T + D]
// and what it measures (every bound given must hold):
//   readyReplicas: N      status.readyReplicas == N
//   minAvailable: N       status.availableReplicas >= N
//   maxPods: N            the Deployment's pods (live, not terminating) <= N
//   count: N, minCount: N, maxCount: N     how many pods match
//   minRestarts: N, maxRestarts: N         their containers' restarts, summed
//   maxFailed: N, minSucceeded: N          of the stream's requests sent from A to B
//                                          (both included)
struct Expectation {
  enum class When { kAt, kDuring, kWithin };
  When when = When::kAt;
  absl::Duration at;      // kAt; kWithin: `after`
  absl::Duration until;   // kDuring: B (A is `at`); kWithin: T + D
  Subject subject;
  std::optional<int32_t> ready_replicas;
  std::optional<int32_t> min_available;
  std::optional<int32_t> max_pods;
  std::optional<int32_t> count;
  std::optional<int32_t> min_count;
  std::optional<int32_t> max_count;
  std::optional<int32_t> min_restarts;
  std::optional<int32_t> max_restarts;
  std::optional<int32_t> max_failed;
  std::optional<int32_t> min_succeeded;
  std::string path;  // "expect[2]"
  // The expectation as one line of flow YAML, as written (keys in the file's order):
  // "{within: 30s, after: 850s, deployment: default/web, readyReplicas: 10}".
  std::string text;
};

struct Scenario {
  std::string source;  // the file's name, as given to ParseScenario
  uint64_t seed = 1;
  std::vector<NodeGroup> nodes;
  // `scheduler:` (KubeSchedulerConfiguration-shaped, validated); default profile if absent.
  scheduler::v1::KubeSchedulerConfiguration scheduler = scheduler::DefaultConfig();
  // `images:` by reference: startSeconds, pullSeconds, pullError, exitAfterSeconds,
  // exitCode, readinessFails, livenessFailsAfterSeconds, ignoreSigterm, stopSeconds.
  std::map<std::string, runtime::FakeImage> images;
  std::vector<Action> timeline;  // sorted by `at` (stable: file order among equals)
  std::vector<RequestStream> traffic;  // in file order
  std::vector<Expectation> expect;
  absl::Duration run_until;      // `runUntil`; REQUIRED, > 0, >= every time named
  // `sampleEvery` (default 10s): the report's time series step.
  absl::Duration sample_every = absl::Seconds(10);
};

// Parses a scenario (YAML). `base_dir` resolves `apply: {file: ...}` (empty: the current
// directory). See the errors above.
absl::StatusOr<Scenario> ParseScenario(std::string_view text, std::string_view source,
                                       std::string_view base_dir = "");

// "90s", "5m", "1h30m", "250ms", "1.5s" (Go's time.ParseDuration units ns, us, ms, s, m, h),
// or a plain number of seconds. kInvalidArgument naming `path` otherwise, or if negative.
absl::StatusOr<absl::Duration> ParseScenarioDuration(std::string_view text, std::string_view path);

}  // namespace orch::sim

#endif  // ORCH_SIM_SCENARIO_H_
