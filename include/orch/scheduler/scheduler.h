// Scheduler: kube-scheduler, embedded. It watches pods and nodes through shared informers,
// queues the pods that name one of its profiles in spec.schedulerName and have no node,
// runs each through its profile's plugins and binds it by writing spec.nodeName to the
// store.
//
//   orch::scheduler::SchedulerOptions options;
//   options.client = &client;
//   options.informers = &informers;
//   options.executor = &executor;
//   ORCH_ASSIGN_OR_RETURN(auto scheduler, orch::scheduler::Scheduler::Create(options));
//   ORCH_RETURN_IF_ERROR(scheduler->Start());
//   informers.Start();
//
// What a user of Kubernetes sees, it does: a pod that fits nowhere gets the condition
// PodScheduled=False (reason Unschedulable) with the "0/N nodes are available: ..." message
// and a FailedScheduling Event, and is retried when a cluster event may help (a node added
// or changed, a pod deleted, ...) and at least every 5 minutes; failed attempts back off
// from 1 s doubling to 10 s; a bound pod gets a Scheduled Event. Events report as the
// pod's profile (source.component and reportingComponent are its schedulerName). A Reserve
// plugin that rejects the pod makes it unschedulable the same way ("0/1 nodes are
// available: <the plugin's reason>."), retried on that plugin's events. Assumed pods count
// on their node from the moment the cycle picks it, and expire if the bind never shows up.
//
// Extenders (config.extenders; extender.h): Create makes them, and the scheduler calls them
// as kube-scheduler does — Filter after the Filter plugins, Prioritize beside the Score
// plugins, and the binding extender interested in a pod binds it instead of the Bind
// plugins (DefaultBinder then writes nothing). A failed extender bind is handled as a failed
// Bind plugin: Unreserve, the assumed pod forgotten, the pod retried after backoff. When a
// non-ignorable extender's Filter fails, so does the cycle: the pod gets PodScheduled=False
// (reason SchedulerError) with the extender's error and is retried after backoff. Calls
// block the executor thread that makes them, each for at most the extender's httpTimeout.
//
// Threading: all work runs on `executor`; one scheduling cycle at a time (an internal lock
// serializes cycles and informer events), binding cycles run as separate tasks.
// Ownership: the client, informers and executor outlive the scheduler. Errors: Create
// returns kInvalidArgument for a bad configuration (naming the field); failures while
// running are reported on the pods (conditions, Events) and in stats().
// The configuration is defaulted and validated as LoadConfig does (DefaultAndValidateConfig),
// so one built in code is held to the same rules as a file.
#ifndef ORCH_SCHEDULER_SCHEDULER_H_
#define ORCH_SCHEDULER_SCHEDULER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "orch/base/executor.h"
#include "orch/client/client.h"
#include "orch/client/informer.h"
#include "orch/scheduler/config.h"
#include "orch/scheduler/registry.h"

namespace orch::scheduler {

struct SchedulerOptions {
  client::Client* client = nullptr;                    // required
  client::SharedInformerFactory* informers = nullptr;  // required; the host starts it
  Executor* executor = nullptr;                        // required
  // Profiles, backoff, extenders. DefaultConfig(): one "default-scheduler" profile.
  v1::KubeSchedulerConfiguration config = DefaultConfig();
  std::string config_source = "scheduler configuration";  // names it in errors
  // Where plugin names are looked up. In-tree plugins by default; add your own.
  Registry registry = Registry::InTree();
  // Seeds tie-breaking among equally scored nodes: same seed, same placements.
  uint64_t seed = 1;
  // How long an assumed pod whose bind finished may stay unconfirmed by the informer.
  absl::Duration assumed_pod_ttl = absl::Seconds(30);
  // Reuse Filter and Score results across pods with the same scheduling signature where
  // that is exact (see docs/reference/scheduler.md); placements are the same either way.
  bool reuse_equivalent_pods = true;
  // Write Scheduled / FailedScheduling Events.
  bool record_events = true;
  // Pods scheduled per executor task before other work (their bindings, informer events)
  // gets a turn. Small batches bind a pod, and take in the informer event that confirms
  // it, while its data are still in the CPU's caches: on one executor thread, 4 schedules
  // a backlog of pods about a fifth faster than 64. Where controllers share the executor,
  // each of their turns reacts to the binds before it, and small batches mean many more
  // turns: orch::Cluster uses 16 (see docs/guides/scheduler.md).
  int batch_size = 4;
};

struct SchedulerStats {
  int64_t attempts = 0;        // scheduling cycles run
  int64_t scheduled = 0;       // pods bound
  int64_t unschedulable = 0;   // cycles that found no node
  int64_t errors = 0;          // cycles or binds that failed with an error
  int64_t bind_conflicts = 0;  // binds refused because the pod changed (retried)
  int64_t preemptions = 0;     // cycles that nominated a node by preempting
  int64_t expired_assumptions = 0;
  int64_t pending = 0;         // pods waiting in the queue now
};

class Scheduler {
 public:
  // kInvalidArgument for a missing required option or a bad configuration, with
  // LoadConfig's messages ("<config_source>: profiles[1].schedulerName: duplicate value
  // \"x\" (also profiles[0].schedulerName)", "<config_source>: extenders[1].urlPrefix:
  // required"). The shared queue sorts with profiles[0]'s QueueSort; every profile must
  // name the same one.
  static absl::StatusOr<std::unique_ptr<Scheduler>> Create(SchedulerOptions options);
  virtual ~Scheduler() = default;
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Subscribes to the informers and starts the periodic work (backoff flush, assumption
  // expiry). Scheduling begins as the informers deliver pods. Idempotent.
  virtual absl::Status Start() = 0;
  // Stops scheduling: no new cycle starts; waiting pods are left pending. Idempotent.
  virtual void Stop() = 0;

  virtual SchedulerStats stats() const = 0;

 protected:
  Scheduler() = default;
};

}  // namespace orch::scheduler

#endif  // ORCH_SCHEDULER_SCHEDULER_H_
