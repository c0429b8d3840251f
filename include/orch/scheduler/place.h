// Place: "where would these pods go, and why not there" — scheduling without a cluster.
//
// Given nodes, the pods already bound to them and pending pods, Place runs each pending pod
// through a profile's plugins, in order, exactly as the Scheduler would, and assumes it on
// the chosen node before the next one. Nothing is written anywhere; no clock or thread is
// involved. `orchctl place` is a thin shell over it, and it is how orch's placements are
// compared with kube-scheduler's.
//
// Differences from a running Scheduler: no queue (pods go in the given order), no
// preemption victims are evicted (PostFilter may still nominate a node; the pod stays
// unplaced), and plugins that read other kinds through informers (default topology
// spreading by Service/ReplicaSet selectors) see none.
//
// Extenders in the configuration are called as the Scheduler calls them (extender.h):
// their Filter and Prioritize shape the placements, over HTTP, while Place runs; nothing is
// bound, so a binding extender's bind verb is never called.
//
// Thread safety: reentrant. Errors: kInvalidArgument for a bad configuration, a pod whose
// schedulerName no profile serves, or objects the scheduler cannot read (a quantity that
// does not parse), naming the object; kInternal when a plugin fails; a non-ignorable
// extender's error (kUnavailable, naming its URL) when its Filter fails.
#ifndef ORCH_SCHEDULER_PLACE_H_
#define ORCH_SCHEDULER_PLACE_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "orch/api/v1/core.pb.h"
#include "orch/scheduler/config.h"
#include "orch/scheduler/registry.h"

namespace orch::scheduler {

struct PlaceInput {
  std::vector<api::v1::Node> nodes;
  std::vector<api::v1::Pod> bound;    // spec.nodeName set
  std::vector<api::v1::Pod> pending;  // scheduled in this order
  std::vector<api::v1::Namespace> namespaces;  // for namespaceSelector terms
};

struct PlaceOptions {
  v1::KubeSchedulerConfiguration config = DefaultConfig();
  std::string config_source = "scheduler configuration";
  Registry registry = Registry::InTree();
  uint64_t seed = 1;         // tie-breaking, as SchedulerOptions::seed
  bool keep_scores = false;  // fill PodPlacement::scores and plugin_scores
  // As SchedulerOptions::reuse_equivalent_pods (ignored with keep_scores).
  bool reuse_equivalent_pods = true;
};

struct PodPlacement {
  std::string pod;      // "namespace/name"
  std::string node;     // empty: fits nowhere
  std::string message;  // why not, when `node` is empty ("0/3 nodes are available: ...")
  // With keep_scores: every feasible node's total (the sum of weight × normalized score,
  // plus what extenders' Prioritize added) and each score plugin's normalized score, in
  // node name order.
  std::vector<std::pair<std::string, int64_t>> scores;
  std::vector<std::pair<std::string, std::vector<std::pair<std::string, int64_t>>>>
      plugin_scores;
};

absl::StatusOr<std::vector<PodPlacement>> Place(const PlaceInput& input,
                                                const PlaceOptions& options = {});

}  // namespace orch::scheduler

#endif  // ORCH_SCHEDULER_PLACE_H_
