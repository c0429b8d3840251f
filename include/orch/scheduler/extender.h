// Scheduler extenders: services outside the scheduler that filter nodes, score them and
// bind pods, called over HTTP with kube-scheduler's extender protocol
// (KubeSchedulerConfiguration.extenders, config.proto's Extender).
//
// Where extenders run in a scheduling cycle, as in kube-scheduler:
//   Filter      after the Filter plugins, on the nodes that passed them, one extender after
//               another, each seeing only the nodes the previous ones kept
//               (FilterWithExtenders).
//   Prioritize  next to the Score plugins: an extender's scores (0..kMaxExtenderPriority)
//               times its weight, scaled to the plugins' 0..kMaxNodeScore range, are added
//               to each node's total (PrioritizeWithExtenders).
//   Bind        the first interested extender that binds does it instead of the Bind
//               plugins (BindWithExtenders).
// The extenders run in MakeExtenders' order (the ignorable ones last). A node an extender
// filters out counts in the pod's "0/N nodes are available: ..." message with the
// extender's reason, and the EquivalenceCache is off while extenders are configured. An
// extender with managedResources only sees pods that request (or limit) one of those
// resources (IsInterested); the others skip it. Resources it manages with
// ignoredByScheduler are not checked by NodeResourcesFit (ExtenderIgnoredResources).
//
// Who calls them: the Scheduler (scheduler.h) makes its extenders from
// SchedulerOptions::config at Create and runs all three steps; Place (place.h) makes them
// from PlaceOptions::config and runs Filter and Prioritize, never Bind. Preemption does not
// consult extenders (preemptVerb is not called).
//
// Failures: a failed Filter or Bind of an ignorable extender is skipped; of any other it is
// the cycle's error. A failed Prioritize is always skipped (the other scores decide).
// HttpExtender reports every failed call — connection, timeout, an HTTP status other than
// 200, an "error" in the reply, a reply that does not parse — as kUnavailable naming the
// URL, e.g.
//   extender http://127.0.0.1:8888/filter: Operation timed out after 30000 milliseconds
//   with 0 bytes received (httpTimeout 30s)
//
// The wire format is kube-scheduler's (k8s.io/kube-scheduler/extender/v1): requests carry
// the Go field names as kube-scheduler sends them ("Pod", "Nodes", "NodeNames", "PodName",
// "PodNamespace", "PodUID", "Node"), pods and nodes as Kubernetes JSON; replies are read as
// Go reads them, matching field names without regard to case ("nodenames", "NodeNames")
// and ignoring unknown fields.
//
// Thread safety: every method of Extender may be called concurrently (the scheduling
// cycle filters and scores while an earlier pod's binding cycle binds). Ownership: the
// scheduler owns its extenders; the node pointers passed in are borrowed for the call.
#ifndef ORCH_SCHEDULER_EXTENDER_H_
#define ORCH_SCHEDULER_EXTENDER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "orch/api/v1/core.pb.h"
#include "orch/base/string_map.h"
#include "orch/scheduler/config.pb.h"
#include "orch/scheduler/framework.h"
#include "orch/scheduler/node_info.h"

namespace orch::scheduler {

// The highest score an extender gives a node (kube-scheduler's MaxExtenderPriority).
inline constexpr int64_t kMaxExtenderPriority = 10;
// httpTimeout when the configuration gives none.
inline constexpr absl::Duration kDefaultExtenderTimeout = absl::Seconds(30);

struct ExtenderFilterResult {
  // The nodes the pod may run on: a subset of the nodes passed in, in the extender's order.
  std::vector<const NodeInfo*> feasible;
  // Nodes ruled out, by name, with the extender's reason. The scheduler records the first
  // as Unschedulable (preemption may help), the second as UnschedulableAndUnresolvable.
  std::map<std::string, std::string> failed;
  std::map<std::string, std::string> failed_and_unresolvable;
};

struct HostPriority {
  std::string host;
  int64_t score = 0;  // 0..kMaxExtenderPriority
};

struct ExtenderPriorities {
  std::vector<HostPriority> hosts;
  int64_t weight = 0;
};

// What one extender score adds to a node's total: score × weight × (kMaxNodeScore /
// kMaxExtenderPriority), as kube-scheduler scales it.
inline int64_t ExtenderScoreContribution(int64_t score, int64_t weight) {
  return score * weight * (kMaxNodeScore / kMaxExtenderPriority);
}

class Extender {
 public:
  Extender() = default;
  Extender(const Extender&) = delete;
  Extender& operator=(const Extender&) = delete;
  virtual ~Extender() = default;

  // Identifies the extender in messages (an HttpExtender's urlPrefix).
  virtual std::string_view Name() const = 0;

  // Which of `nodes` can run `pod`. An extender without a filter verb keeps every node.
  virtual absl::StatusOr<ExtenderFilterResult> Filter(
      const api::v1::Pod& pod, const std::vector<const NodeInfo*>& nodes) = 0;
  // Scores for `nodes` and this extender's weight. Without a prioritize verb: every node
  // 0, weight 0.
  virtual absl::StatusOr<ExtenderPriorities> Prioritize(
      const api::v1::Pod& pod, const std::vector<const NodeInfo*>& nodes) = 0;
  // Binds the pod to `node`. REQUIRES: IsBinder().
  virtual absl::Status Bind(std::string_view pod_uid, std::string_view pod_name,
                            std::string_view pod_namespace, std::string_view node) = 0;

  virtual bool IsBinder() const = 0;
  // Whether scheduling goes on without this extender when a call to it fails.
  virtual bool IsIgnorable() const = 0;
  // Whether this extender takes part in scheduling `pod`: always, unless it manages
  // resources, and then only if a container or init container requests or limits one.
  virtual bool IsInterested(const api::v1::Pod& pod) const = 0;
};

// An Extender over HTTP/HTTPS through libcurl: POST {urlPrefix}/{verb} with a JSON body.
// httpTimeout bounds each call, connection included. TLS (https URLs): tlsConfig's caFile
// verifies the server (the system's CAs without it), certFile/keyFile authenticate the
// client, insecure skips verification, serverName is the name the certificate must carry
// (the connection still goes to the URL's host). As in kube-scheduler, enableHTTPS without
// a caFile does not verify the server.
class HttpExtender : public Extender {
 public:
  // kInvalidArgument for a configuration LoadConfig would refuse (no urlPrefix, a bad
  // httpTimeout, a prioritize verb without a positive weight).
  static absl::StatusOr<std::unique_ptr<HttpExtender>> Create(const v1::Extender& config);
  ~HttpExtender() override;

  std::string_view Name() const override { return url_prefix_; }
  absl::StatusOr<ExtenderFilterResult> Filter(const api::v1::Pod& pod,
                                              const std::vector<const NodeInfo*>& nodes) override;
  absl::StatusOr<ExtenderPriorities> Prioritize(const api::v1::Pod& pod,
                                                const std::vector<const NodeInfo*>& nodes) override;
  absl::Status Bind(std::string_view pod_uid, std::string_view pod_name,
                    std::string_view pod_namespace, std::string_view node) override;
  bool IsBinder() const override { return !config_.bind_verb().empty(); }
  bool IsIgnorable() const override { return config_.ignorable(); }
  bool IsInterested(const api::v1::Pod& pod) const override;

 private:
  class Transport;
  HttpExtender(v1::Extender config, std::string request_prefix,
               std::unique_ptr<Transport> transport);
  // kube-scheduler's ExtenderArgs for `pod` and `nodes`, as JSON.
  absl::StatusOr<std::string> ArgsJson(const api::v1::Pod& pod,
                                       const std::vector<const NodeInfo*>& nodes) const;
  // POSTs `body` to {urlPrefix}/{verb}: the reply body. `*url` is set to the URL that
  // messages name.
  absl::StatusOr<std::string> Call(std::string_view verb, const std::string& body,
                                   std::string* url) const;

  const v1::Extender config_;
  const std::string url_prefix_;      // as configured, without trailing '/'
  const std::string request_prefix_;  // what curl asks for (the host is serverName's)
  const StringSet managed_resources_;
  const std::unique_ptr<Transport> transport_;
};

// Every extender of `config`: the ones that are not ignorable in configuration order, then
// the ignorable ones in configuration order (kube-scheduler's order). kInvalidArgument
// naming extenders[i] as Create.
absl::StatusOr<std::vector<std::unique_ptr<Extender>>> MakeExtenders(
    const v1::KubeSchedulerConfiguration& config);

// The resources extenders manage with ignoredByScheduler. The extender accounts for them, so
// every profile's NodeResourcesFit ignores them, on top of its own ignoredResources (the
// Scheduler and Place do this when they build their profiles; kube-scheduler instead
// replaces the profiles' ignoredResources with them).
std::vector<std::string> ExtenderIgnoredResources(const v1::KubeSchedulerConfiguration& config);

// An extender's httpTimeout: a Go duration ("30s", "1m30s", "500ms"); empty or zero means
// kDefaultExtenderTimeout. kInvalidArgument for anything else.
absl::StatusOr<absl::Duration> ExtenderHttpTimeout(const v1::Extender& config);

// ---------------------------------------------------------------------------------------
// The scheduler's use of its extenders, as kube-scheduler runs them.

// Runs each interested extender's Filter in order on the nodes the previous ones kept
// (stopping once none is left) and returns the nodes that passed them all. Each node an
// extender rules out gets its reason appended to `statuses` (Unresolvable when the
// extender says so, which wins over a plain failure). A failing ignorable extender is
// skipped; any other failure is returned.
absl::StatusOr<std::vector<const NodeInfo*>> FilterWithExtenders(
    const std::vector<Extender*>& extenders, const api::v1::Pod& pod,
    std::vector<const NodeInfo*> nodes, NodeToStatus& statuses);

// The extenders' contribution to each node's total score, by node name (nodes no extender
// scored are absent). Runs each interested extender's Prioritize in turn; a failed one is
// left out.
absl::flat_hash_map<std::string, int64_t> PrioritizeWithExtenders(
    const std::vector<Extender*>& extenders, const api::v1::Pod& pod,
    const std::vector<const NodeInfo*>& nodes);

// Binds through the first extender that binds and is interested in the pod. true when an
// extender bound it; false when none is a binder for it (the Bind plugins then bind). A
// failing ignorable binder is skipped; any other failure is returned.
absl::StatusOr<bool> BindWithExtenders(const std::vector<Extender*>& extenders,
                                       const api::v1::Pod& pod, std::string_view node);

}  // namespace orch::scheduler

#endif  // ORCH_SCHEDULER_EXTENDER_H_
