// Cluster: the composition root. One object holds a whole orch cluster — a Store, the
// typed client and shared informers, the scheduler, the built-in controllers and one
// NodeAgent per node on its container runtime — built with no setup by default and with
// every part replaceable.
//
//   ORCH_ASSIGN_OR_RETURN(std::unique_ptr<orch::Cluster> cluster,
//                         orch::Cluster::Builder()
//                             .WithNodes({.count = 3, .cpu = "4", .memory = "8Gi"})
//                             .WithImage("web:v1", {.start_delay = absl::Seconds(2)})
//                             .Build());
//   ORCH_RETURN_IF_ERROR(cluster->Apply(manifest_yaml, "web.yaml").status());
//   ORCH_RETURN_IF_ERROR(cluster->WaitFor(
//       [&] { return cluster->ReadyReplicas("default", "web") == 3; }, absl::Minutes(1),
//       "web to be ready"));
//   ORCH_RETURN_IF_ERROR(cluster->FailNode("node-1"));
//   cluster->RunFor(absl::Minutes(6));  // evicted after 300 s, replaced elsewhere
//
// The defaults: a MemoryStore in memory (durable under WithDataDir, or any Store the host
// gives), a virtual clock (time moves only inside WaitFor and RunFor, the same way every
// run for a seed), the default scheduler profile (placing 16 pods per executor task, where
// the scheduler alone places 4: see SchedulerOptions::batch_size), the ReplicaSet,
// Deployment, node lifecycle (heartbeats, taints, eviction), EndpointSlice and pod GC
// controllers plus the garbage collector, and a FakeRuntime per node whose images behave
// as WithImage says. A live cluster takes WithRealTime (a thread pool on the real clock)
// and, for real containers, WithRuntime (a CriRuntime on containerd per node, say).
//
// Nodes. Each node is a NodeAgent with its own runtime, all sharing the cluster's informers
// through one PodRouter. Nodes are named "<namePrefix>-<i>", numbered across the cluster's
// life per prefix (a group added later continues the numbers). Pod addresses come from the
// runtime: a FakeRuntime hands out 10.<64 + n/256>.<n % 256>.0/24 for the n-th node made;
// a CRI runtime from its CNI network.
// - FailNode: the machine is lost. Its agent stops (no heartbeat, no status) and its
//   containers are gone. The node lifecycle controller marks it Unknown after the lease
//   runs out (40 s), taints it, and evicts its pods 300 s later (their default
//   toleration); controllers replace them elsewhere.
// - RecoverNode: the machine comes back empty (a reboot): a new runtime (for the default
//   runtime: a fresh FakeRuntime; for WithRuntime: the factory is called again) and a new
//   agent, which registers the node again and renews its lease.
// - RemoveNode: the agent stops and the Node object is deleted; pod GC deletes its pods.
//
// Thread safety. Virtual time: the cluster is driven by one thread; every part runs on
// that thread inside WaitFor, RunFor and Build (a VirtualExecutor). Real time: the parts
// run on the cluster's thread pool; every method may be called from any thread, except
// that the destructor must not race with other calls. Several clusters may live in one
// process: the library holds no global state.
// Ownership: the cluster owns everything it made; references it hands out live as long as
// it does. A Store, Scheme, Registry entries or Runtimes given to the Builder stay the
// host's (runtimes from a factory become the cluster's) and must outlive the cluster.
// Errors: Build fails with kInvalidArgument naming the option (a negative node count, a
// bad scheduler configuration, a bad quantity), or as a part fails to start.
// Apply returns the decoder's error (`SOURCE: document N: FIELD.PATH: problem`) and then
// writes nothing; a store error part way through names the object, and the objects before
// it stay written. Node methods return kNotFound for a name that is no node of the
// cluster. WaitFor returns kDeadlineExceeded "timed out after 1m waiting for <what>".
#ifndef ORCH_CLUSTER_H_
#define ORCH_CLUSTER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "orch/api/scheme.h"
#include "orch/api/selector.h"
#include "orch/api/v1/core.pb.h"
#include "orch/base/executor.h"
#include "orch/client/client.h"
#include "orch/client/informer.h"
#include "orch/controller/controller.h"
#include "orch/controller/endpointslice.h"
#include "orch/controller/node_lifecycle.h"
#include "orch/controller/pod_gc.h"
#include "orch/network/fake_network.h"
#include "orch/network/network.h"
#include "orch/node/node_agent.h"
#include "orch/runtime/fake_runtime.h"
#include "orch/runtime/runtime.h"
#include "orch/scheduler/registry.h"
#include "orch/scheduler/scheduler.h"
#include "orch/store/store.h"

namespace orch {

// A group of identical nodes.
struct NodeGroup {
  int count = 1;
  std::string name_prefix = "node";  // nodes "<name_prefix>-<i>"
  // Capacity (= allocatable), as Kubernetes quantities.
  std::string cpu = "4";
  std::string memory = "8Gi";
  std::string pods = "110";
  std::map<std::string, std::string> labels;  // plus kubernetes.io/hostname and /os
  std::vector<api::v1::Taint> taints;
};

// Which of the built-in controllers run, and their options.
struct ClusterControllers {
  bool replica_set = true;
  bool deployment = true;
  bool node_lifecycle = true;
  controller::NodeLifecycleOptions node_lifecycle_options;
  bool pod_gc = true;
  controller::PodGcOptions pod_gc_options;
  bool garbage_collector = true;
  bool endpoint_slice = true;
  controller::EndpointSliceOptions endpoint_slice_options;
};

// What one node runs containers with: the runtime, and what checks its probes (nullptr:
// the real checks, runtime::NewProber; a FakeRuntime is its own prober).
struct NodeRuntime {
  std::unique_ptr<runtime::Runtime> runtime;
  runtime::Prober* prober = nullptr;  // owned by `runtime` or outliving the cluster
};
// Called for each node as it is made (and again when it recovers). The cluster's
// executor is passed for runtimes that run on it.
using RuntimeFactory =
    std::function<absl::StatusOr<NodeRuntime>(std::string_view node_name, Executor& executor)>;

// One applied object: what Apply did with it.
struct AppliedObject {
  std::string kind;       // "Deployment"
  std::string namespace_;  // "" for cluster-scoped kinds
  std::string name;
  bool created = false;  // false: it existed and was updated
  std::string resource_version;
};

class Cluster {
 public:
  class Builder;

  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // --- parts ---------------------------------------------------------------------------
  client::Client& client();
  client::SharedInformerFactory& informers();
  // Add your controllers here (they start at once: the manager is running).
  controller::Manager& manager();
  Executor& executor();
  // The virtual executor, or nullptr in real time.
  VirtualExecutor* virtual_executor();
  store::Store& store();
  // The Network the cluster's ServiceProxy programs from Services and their
  // EndpointSlices: the host's (WithNetwork) or the cluster's own FakeNetwork, which
  // fake_network() returns (nullptr when the host gave its own). Pod addresses still come
  // from the runtimes.
  network::Network& network();
  network::FakeNetwork* fake_network();
  // nullptr when built WithoutScheduler.
  scheduler::Scheduler* scheduler();
  absl::Time Now();

  // --- nodes ---------------------------------------------------------------------------
  // Adds `group.count` nodes; returns their names. Their agents start at once.
  absl::StatusOr<std::vector<std::string>> AddNodes(const NodeGroup& group);
  absl::Status RemoveNode(std::string_view name);
  absl::Status FailNode(std::string_view name);     // OK if failed already
  absl::Status RecoverNode(std::string_view name);  // OK if not failed
  // Every node's name, failed or not, in the order they were added.
  std::vector<std::string> NodeNames() const;
  bool NodeFailed(std::string_view name) const;
  // The node's FakeRuntime (to kill a container, say), or nullptr for a node on another
  // runtime, a failed node, or no node.
  runtime::FakeRuntime* FakeRuntimeOf(std::string_view name);
  // Scripts an image on every FakeRuntime, now and for nodes made later (for containers
  // started from now on).
  void SetImage(const std::string& image, const runtime::FakeImage& behavior);

  // --- convenience ---------------------------------------------------------------------
  // Creates each object of `manifests` (YAML or JSON, one or more documents) or, when it
  // exists, updates it to the manifest's spec (metadata labels and annotations merged,
  // status kept), as `kubectl apply` would for objects it manages. Every document is
  // decoded, defaulted and validated before anything is written. `source` names the
  // input in errors.
  absl::StatusOr<std::vector<AppliedObject>> Apply(std::string_view manifests,
                                                   std::string_view source = "<manifest>");
  template <typename T>
  absl::StatusOr<T> Get(std::string_view ns, std::string_view name) {
    return client().Get<T>(ns, name);
  }
  // Objects of kind T in `ns` ("" for all namespaces, and for cluster-scoped kinds)
  // matching a label selector ("app=web,tier!=db"; "" for all).
  template <typename T>
  absl::StatusOr<std::vector<T>> List(std::string_view ns, std::string_view selector = "") {
    client::ListOptions options;
    if (!selector.empty()) {
      absl::StatusOr<api::LabelSelector> parsed = api::LabelSelector::Parse(selector);
      if (!parsed.ok()) return parsed.status();
      options.label_selector = *std::move(parsed);
    }
    absl::StatusOr<client::ObjectList<T>> list = client().List<T>(ns, options);
    if (!list.ok()) return list.status();
    return std::move(list->items);
  }
  // The Deployment's status.readyReplicas; 0 when it does not exist.
  int32_t ReadyReplicas(std::string_view ns, std::string_view deployment);

  // Runs the cluster until `condition` holds or `timeout` passes (virtual or real time):
  // kDeadlineExceeded "timed out after 1m waiting for <what>". In virtual time the
  // condition is checked after every burst of work and timer; in real time every 10 ms.
  // Returns at once when it holds already.
  absl::Status WaitFor(const std::function<bool()>& condition, absl::Duration timeout,
                       std::string_view what);
  // Runs the cluster for `duration`: virtual time moves on, or the caller sleeps.
  void RunFor(absl::Duration duration);

 private:
  struct Parts;
  explicit Cluster(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

class Cluster::Builder {
 public:
  Builder();
  ~Builder();
  Builder(Builder&&) noexcept;
  Builder& operator=(Builder&&) noexcept;

  // Time (default: virtual, starting 2026-01-01T00:00:00Z).
  Builder& WithVirtualTime(absl::Time start = absl::FromUnixSeconds(1767225600));
  Builder& WithRealTime(int threads = 2);
  // Store (default: a MemoryStore of the cluster's own, in memory). Not owned.
  Builder& WithStore(store::Store* store);
  // The cluster's own MemoryStore, durable in `dir` (see MemoryStoreOptions::data_dir).
  Builder& WithDataDir(std::string dir);
  // Kinds the client knows (default: Scheme::Builtin()). Not owned.
  Builder& WithScheme(const api::Scheme* scheme);
  // Seeds uids, generated names and the scheduler's tie-breaking. Default 1.
  Builder& WithSeed(uint64_t seed);
  // Where Services get cluster IPs and node ports (client::ServiceRanges; default
  // 10.96.0.0/12 and 30000-32767). A bad range fails Build with kInvalidArgument.
  Builder& WithServiceRanges(client::ServiceRanges ranges);
  // The Network Services are programmed into (default: a FakeNetwork of the cluster's
  // own). Not owned; it must outlive the cluster.
  Builder& WithNetwork(network::Network* network);
  // Nodes: added at Build, in order. May be called more than once.
  Builder& WithNodes(NodeGroup group);
  // Every NodeAgent's options pass through `adjust` before the agent is made (timing,
  // log directory, an internal IP).
  Builder& WithNodeAgentOptions(std::function<void(node::NodeAgentOptions&)> adjust);
  // Runtimes (default: a FakeRuntime per node).
  Builder& WithRuntime(RuntimeFactory factory);
  // Fake runtime behaviour of one image, and of images not named.
  Builder& WithImage(std::string image, runtime::FakeImage behavior);
  Builder& WithDefaultImage(runtime::FakeImage behavior);
  // Scheduler (default: scheduler::DefaultConfig(), the in-tree registry).
  Builder& WithSchedulerConfig(scheduler::v1::KubeSchedulerConfiguration config);
  Builder& WithSchedulerRegistry(scheduler::Registry registry);
  Builder& WithoutScheduler();
  Builder& WithControllers(ClusterControllers controllers);

  // Builds and starts everything. In virtual time it then runs until the informers have
  // synced and the nodes registered; in real time it returns once they have.
  absl::StatusOr<std::unique_ptr<Cluster>> Build();

  struct Options;  // what the With* calls collected; internal

 private:
  std::unique_ptr<Options> options_;
};

}  // namespace orch

#endif  // ORCH_CLUSTER_H_
