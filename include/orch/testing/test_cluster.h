// TestCluster: an in-process cluster for operator authors' tests (orch::testing).
//
// A MemoryStore, a Client, shared informers, the scheduler, the built-in controllers
// (ReplicaSet, Deployment, node lifecycle with taint eviction, pod GC, and whatever the
// host adds to manager()), the garbage collector and fake nodes, all on one
// VirtualExecutor: time moves only when the test says, so a test of minutes of cluster
// time runs in milliseconds, the same way every run. Starting one takes well under 10 ms.
//
//   auto cluster = orch::testing::TestCluster::Start({.nodes = 3}).value();
//   ORCH_ASSERT_OK(cluster->client().Create(MakeDeployment("web", 3)).status());
//   ORCH_ASSERT_OK(cluster->WaitFor([&] { return ReadyReplicas("web") == 3; },
//                                   absl::Minutes(1), "web to be ready"));
//
// Fake nodes stand in for node agents: Node objects (Ready, with the configured capacity)
// whose bound pods go Running and Ready after their image's start delay, stay not ready
// for images scripted so, crash and restart for images scripted to exit, and are removed
// once deleted (their containers stop at once). Pod IPs come from 10.244.<node>.0/24.
// Each fake node heartbeats as a kubelet does: it creates its Lease
// (kube-node-lease/<node>, 40 s) and renews it every 10 s, and posts its Ready condition
// with a fresh lastHeartbeatTime every 5 minutes. FailNode silences a node (a crash or a
// network partition: its pods are neither served nor removed by it) until RecoverNode; a
// deleted Node object stops its fake node for good (its pods are pod GC's then).
//
// With the node lifecycle controller on, a failed node is Unknown 40-45 s after its last
// heartbeat and tainted unreachable:NoExecute; its pods are marked not ready and deleted
// 300 s later (the default toleration) unless it recovers first. Failing every node at
// once evicts nothing: the controller takes that for its own partition.
//
// Store faults: every part reaches the store through faults(), so a test can refuse
// writes, break watches and hold caches back, then check that its controllers still
// converge. client() goes through it too: write what the test needs first, or retry.
//
// Thread safety: not thread-safe; one test thread drives it (as a VirtualExecutor is
// driven). Ownership: the cluster owns everything it made; the references it hands out
// live as long as it does. Errors: Start fails as the parts it creates do
// (kInvalidArgument for a bad scheduler configuration or controller option); WaitFor
// returns kDeadlineExceeded naming what it waited for; FailNode and RecoverNode return
// kNotFound for a name that is not a fake node and kFailedPrecondition for one whose Node
// object was deleted.
#ifndef ORCH_TESTING_TEST_CLUSTER_H_
#define ORCH_TESTING_TEST_CLUSTER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "orch/api/scheme.h"
#include "orch/base/executor.h"
#include "orch/client/client.h"
#include "orch/client/informer.h"
#include "orch/controller/controller.h"
#include "orch/controller/node_lifecycle.h"
#include "orch/controller/pod_gc.h"
#include "orch/store/memory_store.h"
#include "orch/testing/fault_store.h"

namespace orch::testing {

// How a fake node runs containers of one image.
struct ImageBehavior {
  // From bound to Running (and Ready).
  absl::Duration start_delay = absl::Seconds(1);
  // Runs but never passes readiness.
  bool never_ready = false;
  // Exits this long after each start, with `exit_code`, and is restarted 10 s later
  // (restartCount grows; not ready in between).
  std::optional<absl::Duration> exit_after;
  int32_t exit_code = 1;
};

struct TestClusterOptions {
  int nodes = 3;              // named node-0, node-1, ...
  std::string node_cpu = "4";
  std::string node_memory = "8Gi";
  int node_pods = 110;
  // The kinds the client knows; register custom kinds on a copy of Scheme::Builtin().
  // Must outlive the cluster.
  const api::Scheme* scheme = &api::Scheme::Builtin();
  bool scheduler = true;             // the default scheduler binds pods
  bool builtin_controllers = true;   // ReplicaSet and Deployment controllers
  uint64_t seed = 1;                 // uids, generated names, tie-breaking
  // Behaviour of images not in `images`.
  ImageBehavior default_image;
  std::map<std::string, ImageBehavior> images;
  // The node lifecycle controller (heartbeats, taints, taint eviction) and its options.
  bool node_lifecycle = true;
  controller::NodeLifecycleOptions node_lifecycle_options;
  // The pod garbage collector and its options.
  bool pod_gc = true;
  controller::PodGcOptions pod_gc_options;
  // The garbage collector (dependents go with their owners, as ownerReferences say).
  bool garbage_collector = true;
};

class TestCluster {
 public:
  // Builds and starts everything, and runs until the informers have synced.
  static absl::StatusOr<std::unique_ptr<TestCluster>> Start(TestClusterOptions options = {});
  ~TestCluster();
  TestCluster(const TestCluster&) = delete;
  TestCluster& operator=(const TestCluster&) = delete;

  client::Client& client();
  client::SharedInformerFactory& informers();
  // Add your controllers here (they start at once: the manager is running).
  controller::Manager& manager();
  VirtualExecutor& executor();
  // The store itself: reads and writes here bypass faults().
  store::MemoryStore& store();
  // Every part of the cluster, and client(), reaches store() through this FaultStore;
  // it injects nothing until told to (see orch/testing/fault_store.h).
  FaultStore& faults();
  absl::Time Now();

  // Scripts an image (for pods started from now on).
  void SetImageBehavior(std::string image, ImageBehavior behavior);

  // The node stops heartbeating (Lease and status) and stops serving its pods: they keep
  // their last status, do not start, and are not removed by the node when deleted. OK if
  // it has failed already.
  absl::Status FailNode(std::string_view name);
  // Heartbeats resume at once and the node reports Ready again; its pods are served again
  // (running ones reported ready, deletions finished, new ones started). OK if it has not
  // failed.
  absl::Status RecoverNode(std::string_view name);

  // Runs the cluster until `condition` holds (checked after every burst of work and every
  // timer) or `timeout` of virtual time has passed: kDeadlineExceeded "timed out after 1m
  // waiting for <what>". Returns at once when it holds already.
  absl::Status WaitFor(const std::function<bool()>& condition, absl::Duration timeout,
                       std::string_view what);
  // Runs the cluster for `duration` of virtual time.
  void RunFor(absl::Duration duration);

 private:
  struct Parts;
  explicit TestCluster(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

}  // namespace orch::testing

#endif  // ORCH_TESTING_TEST_CLUSTER_H_
