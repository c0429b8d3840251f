#include "orch/cluster.h"

#include <algorithm>
#include <utility>

#include "fmt/format.h"
#include "orch/api/codec.h"
#include "orch/api/v1/apps.pb.h"
#include "orch/base/mutex.h"
#include "orch/base/status.h"
#include "orch/base/string_map.h"
#include "orch/client/retry.h"
#include "orch/controller/deployment.h"
#include "orch/controller/garbage_collector.h"
#include "orch/controller/replicaset.h"
#include "orch/node/pod_router.h"
#include "orch/node/service_proxy.h"
#include "orch/scheduler/config.h"
#include "orch/store/memory_store.h"

namespace orch {

namespace v1 = api::v1;

struct Cluster::Builder::Options {
  bool real_time = false;
  absl::Time start = absl::FromUnixSeconds(1767225600);
  int threads = 2;
  store::Store* store = nullptr;
  std::string data_dir;
  const api::Scheme* scheme = &api::Scheme::Builtin();
  uint64_t seed = 1;
  client::ServiceRanges service_ranges;
  std::vector<NodeGroup> nodes;
  std::vector<std::function<void(node::NodeAgentOptions&)>> adjust_agent;
  RuntimeFactory runtime;
  runtime::FakeImage default_image;
  std::map<std::string, runtime::FakeImage> images;
  bool scheduler = true;
  scheduler::v1::KubeSchedulerConfiguration scheduler_config = scheduler::DefaultConfig();
  std::optional<scheduler::Registry> registry;
  ClusterControllers controllers;
  network::Network* network = nullptr;
};

namespace {

// One node: its runtime and its agent, while the machine is up.
struct NodeEntry {
  std::string name;
  NodeGroup group;   // count unused
  int index = 0;     // the n-th node the cluster made: its pod CIDR
  NodeRuntime runtime;
  runtime::FakeRuntime* fake = nullptr;  // runtime.runtime, when it is the default
  std::unique_ptr<node::NodeAgent> agent;
  bool failed = false;
};

}  // namespace

// Declared in the order they are built; the destructor halts everything that reacts,
// then the members go in reverse order.
struct Cluster::Parts {
  Builder::Options options;
  std::unique_ptr<VirtualExecutor> virtual_executor;
  std::unique_ptr<ThreadPoolExecutor> pool;
  Executor* executor = nullptr;
  std::unique_ptr<store::MemoryStore> own_store;
  store::Store* store = nullptr;
  std::unique_ptr<client::Client> client;
  std::unique_ptr<client::SharedInformerFactory> informers;
  std::unique_ptr<node::PodRouter> router;
  // Every node agent's Events: one recorder remembering recent Events, not one per node.
  std::unique_ptr<client::EventRecorder> kubelet_events;
  std::unique_ptr<controller::Manager> manager;
  std::unique_ptr<scheduler::Scheduler> scheduler;
  std::unique_ptr<controller::GarbageCollector> gc;
  std::unique_ptr<network::FakeNetwork> own_network;
  network::Network* network = nullptr;
  std::unique_ptr<node::ServiceProxy> proxy;

  mutable Mutex mu;  // guards what follows (real time: methods from any thread)
  std::vector<std::unique_ptr<NodeEntry>> nodes ABSL_GUARDED_BY(mu);  // in the order added
  StringMap<NodeEntry*> nodes_by_name ABSL_GUARDED_BY(mu);
  std::map<std::string, int> next_index_by_prefix ABSL_GUARDED_BY(mu);
  int nodes_made ABSL_GUARDED_BY(mu) = 0;
  std::map<std::string, runtime::FakeImage> images ABSL_GUARDED_BY(mu);
  // Agents and runtimes of lost machines: kept (stopped) until the cluster goes, since
  // work already queued on the executor may still point at them.
  std::vector<std::unique_ptr<node::NodeAgent>> retired_agents ABSL_GUARDED_BY(mu);
  std::vector<std::unique_ptr<runtime::Runtime>> retired_runtimes ABSL_GUARDED_BY(mu);

  ~Parts() {
    if (gc) gc->Stop();
    std::vector<node::NodeAgent*> agents;
    {
      MutexLock lock(&mu);
      for (auto& n : nodes) {
        if (n->agent) agents.push_back(n->agent.get());
      }
    }
    for (node::NodeAgent* agent : agents) agent->Stop();
    if (scheduler) scheduler->Stop();
    if (manager) manager->Stop();
    proxy.reset();
    if (informers) informers->Shutdown();
    // No task runs after this (a thread pool joins its threads; a virtual executor runs
    // nothing by itself).
    pool.reset();
    MutexLock lock(&mu);
    nodes_by_name.clear();
    nodes.clear();
    retired_agents.clear();
  }

  // The node, or nullptr.
  NodeEntry* Find(std::string_view name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    auto it = nodes_by_name.find(name);
    return it == nodes_by_name.end() ? nullptr : it->second;
  }
  // The node, or kNotFound naming it.
  absl::StatusOr<NodeEntry*> Get(std::string_view name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    NodeEntry* node = Find(name);
    if (node == nullptr) {
      return absl::NotFoundError(fmt::format("node {}: no such node in the cluster", name));
    }
    return node;
  }

  // Makes the node's runtime and agent (not started).
  absl::Status MakeMachine(NodeEntry& node) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (options.runtime) {
      ORCH_ASSIGN_OR_RETURN(node.runtime, options.runtime(node.name, *executor));
      if (node.runtime.runtime == nullptr) {
        return absl::InvalidArgumentError(
            fmt::format("runtime factory: returned no runtime for node {}", node.name));
      }
      node.fake = nullptr;
    } else {
      auto fake = std::make_unique<runtime::FakeRuntime>(runtime::FakeRuntimeOptions{
          .executor = executor,
          .default_image = options.default_image,
          .images = images,
          .pod_cidr = fmt::format("10.{}.{}.0/24", 64 + node.index / 256, node.index % 256)});
      node.fake = fake.get();
      node.runtime.prober = fake.get();
      node.runtime.runtime = std::move(fake);
    }
    node::NodeAgentOptions agent{.node_name = node.name,
                                 .client = client.get(),
                                 .executor = executor,
                                 .runtime = node.runtime.runtime.get(),
                                 .prober = node.runtime.prober,
                                 .informers = informers.get(),
                                 .pod_router = router.get(),
                                 .events = kubelet_events.get(),
                                 .cpu = node.group.cpu,
                                 .memory = node.group.memory,
                                 .pods = node.group.pods,
                                 .labels = node.group.labels,
                                 .taints = node.group.taints};
    if (!options.runtime) {
      agent.internal_ip = fmt::format("172.16.{}.{}", node.index / 250, node.index % 250 + 1);
    }
    for (const auto& adjust : options.adjust_agent) adjust(agent);
    ORCH_ASSIGN_OR_RETURN(node.agent, node::NodeAgent::Create(std::move(agent)));
    return absl::OkStatus();
  }

  // The machine is gone: its agent stops, its runtime (and with it every container) is
  // retired.
  void LoseMachine(NodeEntry& node) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (node.agent) {
      node.agent->Stop();
      retired_agents.push_back(std::move(node.agent));
    }
    if (node.runtime.runtime) retired_runtimes.push_back(std::move(node.runtime.runtime));
    node.runtime.prober = nullptr;
    node.fake = nullptr;
  }

  // Runs until `condition` holds or `timeout` passes; see Cluster::WaitFor.
  absl::Status WaitFor(const std::function<bool()>& condition, absl::Duration timeout,
                       std::string_view what) {
    const auto timed_out = [&] {
      return absl::DeadlineExceededError(fmt::format("timed out after {} waiting for {}",
                                                     absl::FormatDuration(timeout), what));
    };
    if (virtual_executor == nullptr) {
      const absl::Time deadline = absl::Now() + timeout;
      while (!condition()) {
        if (absl::Now() >= deadline) return timed_out();
        absl::SleepFor(absl::Milliseconds(10));
      }
      return absl::OkStatus();
    }
    VirtualExecutor& run = *virtual_executor;
    const absl::Time deadline = run.clock().Now() + timeout;
    run.RunUntilIdle();
    while (!condition()) {
      if (run.NextTimerAt() > deadline) {
        run.AdvanceTo(deadline);
        if (condition()) break;
        return timed_out();
      }
      run.RunNextTimer();
    }
    return absl::OkStatus();
  }
};

// --- Builder ---------------------------------------------------------------------------

Cluster::Builder::Builder() : options_(std::make_unique<Options>()) {}
Cluster::Builder::~Builder() = default;
Cluster::Builder::Builder(Builder&&) noexcept = default;
Cluster::Builder& Cluster::Builder::operator=(Builder&&) noexcept = default;

Cluster::Builder& Cluster::Builder::WithVirtualTime(absl::Time start) {
  options_->real_time = false;
  options_->start = start;
  return *this;
}
Cluster::Builder& Cluster::Builder::WithRealTime(int threads) {
  options_->real_time = true;
  options_->threads = threads;
  return *this;
}
Cluster::Builder& Cluster::Builder::WithStore(store::Store* store) {
  options_->store = store;
  return *this;
}
Cluster::Builder& Cluster::Builder::WithDataDir(std::string dir) {
  options_->data_dir = std::move(dir);
  return *this;
}
Cluster::Builder& Cluster::Builder::WithScheme(const api::Scheme* scheme) {
  options_->scheme = scheme;
  return *this;
}
Cluster::Builder& Cluster::Builder::WithSeed(uint64_t seed) {
  options_->seed = seed;
  return *this;
}
Cluster::Builder& Cluster::Builder::WithNetwork(network::Network* network) {
  options_->network = network;
  return *this;
}
Cluster::Builder& Cluster::Builder::WithServiceRanges(client::ServiceRanges ranges) {
  options_->service_ranges = std::move(ranges);
  return *this;
}
Cluster::Builder& Cluster::Builder::WithNodes(NodeGroup group) {
  options_->nodes.push_back(std::move(group));
  return *this;
}
Cluster::Builder& Cluster::Builder::WithNodeAgentOptions(
    std::function<void(node::NodeAgentOptions&)> adjust) {
  options_->adjust_agent.push_back(std::move(adjust));
  return *this;
}
Cluster::Builder& Cluster::Builder::WithRuntime(RuntimeFactory factory) {
  options_->runtime = std::move(factory);
  return *this;
}
Cluster::Builder& Cluster::Builder::WithImage(std::string image, runtime::FakeImage behavior) {
  options_->images[std::move(image)] = std::move(behavior);
  return *this;
}
Cluster::Builder& Cluster::Builder::WithDefaultImage(runtime::FakeImage behavior) {
  options_->default_image = std::move(behavior);
  return *this;
}
Cluster::Builder& Cluster::Builder::WithSchedulerConfig(
    scheduler::v1::KubeSchedulerConfiguration config) {
  options_->scheduler_config = std::move(config);
  return *this;
}
Cluster::Builder& Cluster::Builder::WithSchedulerRegistry(scheduler::Registry registry) {
  options_->registry = std::move(registry);
  return *this;
}
Cluster::Builder& Cluster::Builder::WithoutScheduler() {
  options_->scheduler = false;
  return *this;
}
Cluster::Builder& Cluster::Builder::WithControllers(ClusterControllers controllers) {
  options_->controllers = std::move(controllers);
  return *this;
}

namespace {

// Pods the cluster's scheduler places per executor task: 16, not the scheduler's own 4.
// Here the controllers share the executor, and each of their turns reacts to the binds of
// the turn before: a ReplicaSet's reconcile reads every one of its pods. At 500 nodes /
// 15,000 pods (bench/sim_bench) 4 a task cost 4,071 ReplicaSet reconciles and 21.6 G
// instructions; 16 cost 1,283 and 16.8 G (64: 583 and 15.7 G), and ran as fast as 64.
constexpr int kSchedulerBatchSize = 16;

absl::Status CheckOptions(const Cluster::Builder::Options& options) {
  if (options.scheme == nullptr) return absl::InvalidArgumentError("scheme: must not be null");
  if (options.real_time && options.threads < 1) {
    return absl::InvalidArgumentError(
        fmt::format("threads: {} is not a positive number of threads", options.threads));
  }
  if (options.store != nullptr && !options.data_dir.empty()) {
    return absl::InvalidArgumentError(
        "data_dir: applies to the cluster's own MemoryStore, not to a store given with "
        "WithStore");
  }
  for (size_t i = 0; i < options.nodes.size(); ++i) {
    if (options.nodes[i].count < 0) {
      return absl::InvalidArgumentError(
          fmt::format("nodes[{}].count: {} is negative", i, options.nodes[i].count));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Cluster>> Cluster::Builder::Build() {
  ORCH_RETURN_IF_ERROR(CheckOptions(*options_));
  auto parts = std::make_unique<Parts>();
  parts->options = std::move(*options_);
  options_ = std::make_unique<Options>();
  Options& options = parts->options;
  if (options.real_time) {
    parts->pool = std::make_unique<ThreadPoolExecutor>(options.threads);
    parts->executor = parts->pool.get();
  } else {
    parts->virtual_executor = std::make_unique<VirtualExecutor>(options.start);
    parts->executor = parts->virtual_executor.get();
  }
  Clock& clock = parts->executor->clock();
  if (options.store != nullptr) {
    parts->store = options.store;
  } else {
    store::MemoryStoreOptions store_options;
    store_options.clock = &clock;
    store_options.data_dir = options.data_dir;
    ORCH_ASSIGN_OR_RETURN(parts->own_store, store::MemoryStore::Open(store_options));
    parts->store = parts->own_store.get();
  }
  parts->client =
      std::make_unique<client::Client>(parts->store, options.scheme, &clock, options.seed);
  ORCH_RETURN_IF_ERROR(parts->client->SetServiceRanges(options.service_ranges));
  parts->informers =
      std::make_unique<client::SharedInformerFactory>(parts->client.get(), parts->executor);
  ORCH_ASSIGN_OR_RETURN(parts->router, node::PodRouter::Create(parts->informers.get()));
  parts->kubelet_events =
      std::make_unique<client::EventRecorder>(parts->client.get(), node::kNodeAgentComponent);
  parts->network = options.network;
  if (parts->network == nullptr) {
    parts->own_network = std::make_unique<network::FakeNetwork>(
        network::FakeNetworkOptions{.clock = &clock});
    parts->network = parts->own_network.get();
  }
  ORCH_ASSIGN_OR_RETURN(parts->proxy, node::ServiceProxy::Create({
                                          .informers = parts->informers.get(),
                                          .network = parts->network,
                                          .executor = parts->executor,
                                      }));
  ORCH_ASSIGN_OR_RETURN(parts->manager, controller::Manager::Create({
                                            .client = parts->client.get(),
                                            .informers = parts->informers.get(),
                                            .executor = parts->executor,
                                        }));
  const ClusterControllers& controllers = options.controllers;
  controller::Manager* manager = parts->manager.get();
  if (controllers.replica_set) {
    ORCH_RETURN_IF_ERROR(controller::AddReplicaSetController(manager).status());
  }
  if (controllers.deployment) {
    ORCH_RETURN_IF_ERROR(controller::AddDeploymentController(manager).status());
  }
  if (controllers.node_lifecycle) {
    ORCH_RETURN_IF_ERROR(
        controller::AddNodeLifecycleController(manager, controllers.node_lifecycle_options)
            .status());
  }
  if (controllers.endpoint_slice) {
    ORCH_RETURN_IF_ERROR(
        controller::AddEndpointSliceController(manager, controllers.endpoint_slice_options)
            .status());
  }
  if (controllers.pod_gc) {
    ORCH_RETURN_IF_ERROR(
        controller::AddPodGcController(manager, controllers.pod_gc_options).status());
  }
  if (options.scheduler) {
    scheduler::SchedulerOptions scheduler_options;
    scheduler_options.client = parts->client.get();
    scheduler_options.informers = parts->informers.get();
    scheduler_options.executor = parts->executor;
    scheduler_options.seed = options.seed;
    scheduler_options.batch_size = kSchedulerBatchSize;
    scheduler_options.config = options.scheduler_config;
    if (options.registry.has_value()) scheduler_options.registry = *options.registry;
    ORCH_ASSIGN_OR_RETURN(parts->scheduler,
                          scheduler::Scheduler::Create(std::move(scheduler_options)));
    ORCH_RETURN_IF_ERROR(parts->scheduler->Start());
  }
  ORCH_RETURN_IF_ERROR(parts->manager->Start());
  if (controllers.garbage_collector) {
    ORCH_ASSIGN_OR_RETURN(parts->gc, controller::GarbageCollector::Create({
                                         .client = parts->client.get(),
                                         .informers = parts->informers.get(),
                                         .executor = parts->executor,
                                     }));
    ORCH_RETURN_IF_ERROR(parts->gc->Start());
  }
  {
    MutexLock lock(&parts->mu);
    parts->images = options.images;
  }
  std::unique_ptr<Cluster> cluster(new Cluster(std::move(parts)));
  Parts& made = *cluster->parts_;
  for (size_t i = 0; i < made.options.nodes.size(); ++i) {
    absl::StatusOr<std::vector<std::string>> added = cluster->AddNodes(made.options.nodes[i]);
    if (!added.ok()) {
      return absl::Status(added.status().code(),
                          fmt::format("nodes[{}]: {}", i, std::string(added.status().message())));
    }
  }
  made.informers->Start();
  if (made.virtual_executor != nullptr) {
    made.virtual_executor->RunUntilIdle();
  } else if (!made.informers->WaitForCacheSync(absl::Seconds(30))) {
    return absl::DeadlineExceededError("the cluster's informers did not sync within 30s");
  }
  return cluster;
}

// --- Cluster -----------------------------------------------------------------------------

Cluster::Cluster(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}
Cluster::~Cluster() = default;

client::Client& Cluster::client() { return *parts_->client; }
client::SharedInformerFactory& Cluster::informers() { return *parts_->informers; }
controller::Manager& Cluster::manager() { return *parts_->manager; }
Executor& Cluster::executor() { return *parts_->executor; }
VirtualExecutor* Cluster::virtual_executor() { return parts_->virtual_executor.get(); }
network::Network& Cluster::network() { return *parts_->network; }
network::FakeNetwork* Cluster::fake_network() { return parts_->own_network.get(); }
store::Store& Cluster::store() { return *parts_->store; }
scheduler::Scheduler* Cluster::scheduler() { return parts_->scheduler.get(); }
absl::Time Cluster::Now() { return parts_->executor->clock().Now(); }

absl::StatusOr<std::vector<std::string>> Cluster::AddNodes(const NodeGroup& group) {
  if (group.count < 0) {
    return absl::InvalidArgumentError(fmt::format("count: {} is negative", group.count));
  }
  if (group.name_prefix.empty()) return absl::InvalidArgumentError("namePrefix: must not be empty");
  std::vector<std::string> names;
  std::vector<node::NodeAgent*> agents;
  {
    MutexLock lock(&parts_->mu);
    int& next = parts_->next_index_by_prefix[group.name_prefix];
    for (int i = 0; i < group.count; ++i) {
      names.push_back(fmt::format("{}-{}", group.name_prefix, next + i));
      if (parts_->Find(names.back()) != nullptr) {
        return absl::AlreadyExistsError(fmt::format("node {} exists", names.back()));
      }
    }
    for (int i = 0; i < group.count; ++i) {
      auto node = std::make_unique<NodeEntry>();
      node->name = names[i];
      node->group = group;
      node->index = parts_->nodes_made + i;
      ORCH_RETURN_IF_ERROR(parts_->MakeMachine(*node));
      agents.push_back(node->agent.get());
      parts_->nodes_by_name[node->name] = node.get();
      parts_->nodes.push_back(std::move(node));
    }
    next += group.count;
    parts_->nodes_made += group.count;
  }
  for (size_t i = 0; i < agents.size(); ++i) {
    if (absl::Status started = agents[i]->Start(); !started.ok()) {
      return absl::Status(started.code(),
                          fmt::format("node {}: {}", names[i], std::string(started.message())));
    }
  }
  return names;
}

absl::Status Cluster::RemoveNode(std::string_view name) {
  {
    MutexLock lock(&parts_->mu);
    ORCH_ASSIGN_OR_RETURN(NodeEntry * node, parts_->Get(name));
    parts_->LoseMachine(*node);
    parts_->nodes_by_name.erase(node->name);
    std::erase_if(parts_->nodes, [&](const auto& n) { return n.get() == node; });
  }
  absl::Status deleted = client().Delete<v1::Node>("", name);
  if (absl::IsNotFound(deleted)) return absl::OkStatus();
  return deleted;
}

absl::Status Cluster::FailNode(std::string_view name) {
  MutexLock lock(&parts_->mu);
  ORCH_ASSIGN_OR_RETURN(NodeEntry * node, parts_->Get(name));
  if (node->failed) return absl::OkStatus();
  node->failed = true;
  parts_->LoseMachine(*node);
  return absl::OkStatus();
}

absl::Status Cluster::RecoverNode(std::string_view name) {
  node::NodeAgent* agent = nullptr;
  {
    MutexLock lock(&parts_->mu);
    ORCH_ASSIGN_OR_RETURN(NodeEntry * node, parts_->Get(name));
    if (!node->failed) return absl::OkStatus();
    ORCH_RETURN_IF_ERROR(parts_->MakeMachine(*node));
    node->failed = false;
    agent = node->agent.get();
  }
  return agent->Start();
}

std::vector<std::string> Cluster::NodeNames() const {
  MutexLock lock(&parts_->mu);
  std::vector<std::string> names;
  for (const auto& n : parts_->nodes) names.push_back(n->name);
  return names;
}

bool Cluster::NodeFailed(std::string_view name) const {
  MutexLock lock(&parts_->mu);
  const NodeEntry* node = parts_->Find(name);
  return node != nullptr && node->failed;
}

runtime::FakeRuntime* Cluster::FakeRuntimeOf(std::string_view name) {
  MutexLock lock(&parts_->mu);
  NodeEntry* node = parts_->Find(name);
  return node == nullptr ? nullptr : node->fake;
}

void Cluster::SetImage(const std::string& image, const runtime::FakeImage& behavior) {
  MutexLock lock(&parts_->mu);
  parts_->images[image] = behavior;
  for (auto& n : parts_->nodes) {
    if (n->fake != nullptr) n->fake->SetImage(image, behavior);
  }
}

namespace {

// The stored object updated to what `applied` says: its spec and the rest of its content,
// with metadata merged (labels and annotations added to, owner references and finalizers
// kept unless the manifest names its own) and status kept (Update keeps it anyway). A uid
// in the manifest must be the stored one (Update refuses another).
void MergeForApply(const google::protobuf::Message& current, google::protobuf::Message* applied) {
  const v1::ObjectMeta& old_meta = *api::ObjectMetaOf(current);
  v1::ObjectMeta& meta = *api::MutableObjectMetaOf(applied);
  for (const auto& [key, value] : old_meta.labels()) meta.mutable_labels()->insert({key, value});
  for (const auto& [key, value] : old_meta.annotations()) {
    meta.mutable_annotations()->insert({key, value});
  }
  if (meta.owner_references().empty()) {
    *meta.mutable_owner_references() = old_meta.owner_references();
  }
  if (meta.finalizers().empty()) *meta.mutable_finalizers() = old_meta.finalizers();
}

}  // namespace

absl::StatusOr<std::vector<AppliedObject>> Cluster::Apply(std::string_view manifests,
                                                          std::string_view source) {
  ORCH_ASSIGN_OR_RETURN(std::vector<api::DecodedObject> objects,
                        api::DecodeManifests(manifests, source, *parts_->options.scheme));
  std::vector<AppliedObject> applied;
  for (api::DecodedObject& decoded : objects) {
    google::protobuf::Message* object = decoded.object.get();
    const v1::ObjectMeta& meta = *api::ObjectMetaOf(*object);
    AppliedObject result{.kind = decoded.kind->kind,
                         .namespace_ = meta.namespace_(),
                         .name = meta.name()};
    const auto failed = [&](const absl::Status& status) {
      return absl::Status(status.code(),
                          fmt::format("{}: document {}: {} {}: {}", source, decoded.document,
                                      result.kind, result.name, std::string(status.message())));
    };
    std::unique_ptr<google::protobuf::Message> written(object->New());
    written->CopyFrom(*object);
    absl::Status created = client().CreateObject(written.get());
    if (created.ok()) {
      result.created = true;
    } else if (absl::IsAlreadyExists(created)) {
      absl::Status updated = client::RetryOnConflict(client::kDefaultRetry, [&]() -> absl::Status {
        std::unique_ptr<google::protobuf::Message> current(object->New());
        ORCH_RETURN_IF_ERROR(client().GetObject(meta.namespace_(), meta.name(), current.get()));
        written->CopyFrom(*object);
        MergeForApply(*current, written.get());
        api::MutableObjectMetaOf(written.get())
            ->set_resource_version(api::ObjectMetaOf(*current)->resource_version());
        return client().UpdateObject(written.get());
      }, parts_->virtual_executor != nullptr ? client::Sleeper::None() : client::Sleeper::Real());
      if (!updated.ok()) return failed(updated);
    } else {
      return failed(created);
    }
    const v1::ObjectMeta& stored = *api::ObjectMetaOf(*written);
    result.namespace_ = stored.namespace_();
    result.resource_version = stored.resource_version();
    applied.push_back(std::move(result));
  }
  return applied;
}

int32_t Cluster::ReadyReplicas(std::string_view ns, std::string_view deployment) {
  absl::StatusOr<v1::Deployment> got = client().Get<v1::Deployment>(ns, deployment);
  return got.ok() ? got->status().ready_replicas() : 0;
}

absl::Status Cluster::WaitFor(const std::function<bool()>& condition, absl::Duration timeout,
                              std::string_view what) {
  return parts_->WaitFor(condition, timeout, what);
}

void Cluster::RunFor(absl::Duration duration) {
  if (parts_->virtual_executor != nullptr) {
    parts_->virtual_executor->AdvanceBy(duration);
  } else {
    absl::SleepFor(duration);
  }
}

}  // namespace orch
