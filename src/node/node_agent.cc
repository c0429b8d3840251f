#include "orch/node/node_agent.h"

#include <fstream>
#include <map>
#include <set>
#include <thread>
#include <utility>

#include "orch/api/labels.h"
#include "orch/api/time.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "fmt/format.h"
#include "orch/api/v1/coordination.pb.h"
#include "orch/client/retry.h"
#include "node/pod_state.h"
#include "node/pod_worker.h"

namespace orch::node {

namespace v1 = ::orch::api::v1;
using internal::AgentContext;
using internal::ContainerRecord;
using internal::PodWorker;
using internal::SandboxRecord;
namespace cri = ::orch::runtime::cri;

namespace {

constexpr char kNodeLeaseNamespace[] = "kube-node-lease";

// The host's memory, as the kubelet reports it (MemTotal, in Ki).
std::string HostMemory() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  int64_t kib = 0;
  std::string unit;
  while (meminfo >> key >> kib >> unit) {
    if (key == "MemTotal:") return fmt::format("{}Ki", kib);
  }
  return "0";
}

std::string HostCpus() {
  const unsigned n = std::thread::hardware_concurrency();
  return std::to_string(n == 0 ? 1 : n);
}

const std::string* Label(const google::protobuf::Map<std::string, std::string>& labels,
                         const char* key) {
  auto it = labels.find(key);
  return it == labels.end() ? nullptr : &it->second;
}

class NodeAgentImpl final : public NodeAgent, public std::enable_shared_from_this<NodeAgentImpl> {
 public:
  explicit NodeAgentImpl(NodeAgentOptions options)
      : context_(std::make_shared<AgentContext>()), options_(context_->options) {
    options_ = std::move(options);
    context_->client = options_.client;
    // From here on the agent's tasks run, and it reaches the runtime and the prober, only
    // through the gate. The informers it makes for itself are not the agent's work: they
    // run on the host's executor, and Stop shuts them down.
    Executor* const host_executor = options_.executor;
    context_->gate = std::make_unique<internal::AgentGate>(options_.runtime, options_.prober,
                                                           options_.executor);
    options_.runtime = context_->gate.get();
    options_.executor = context_->gate.get();
    context_->runtime = options_.runtime;
    context_->executor = options_.executor;
    context_->host_ip = options_.internal_ip;
    context_->allocatable = DesiredNode().status().allocatable();
    if (options_.prober == nullptr) {
      context_->own_prober = runtime::NewProber(options_.runtime, options_.executor);
      context_->prober = context_->own_prober.get();
    } else {
      options_.prober = context_->gate.get();
      context_->prober = options_.prober;
    }
    if (options_.events == nullptr) {
      context_->own_events =
          std::make_unique<client::EventRecorder>(options_.client, kNodeAgentComponent);
    }
    context_->events =
        options_.events != nullptr ? options_.events : context_->own_events.get();
    if (options_.informers == nullptr && options_.pod_router == nullptr) {
      own_informers_ =
          std::make_unique<client::SharedInformerFactory>(options_.client, host_executor);
    }
  }

  ~NodeAgentImpl() override { Stop(); }

  absl::Status Start() override {
    {
      MutexLock lock(&mu_);
      if (started_) return absl::OkStatus();
      started_ = true;
    }
    ORCH_RETURN_IF_ERROR(RegisterNode());
    RenewLease();
    ScheduleNodeStatus();
    const std::string node = options_.node_name;
    client::EventHandler<v1::Pod> handler{
        .on_add = [this, node](const auto& pod) {
          if (pod->spec().node_name() == node) WorkerFor(pod->metadata().uid())->UpdatePod(pod);
        },
        .on_update = [this, node](const auto&, const auto& pod) {
          if (pod->spec().node_name() == node) WorkerFor(pod->metadata().uid())->UpdatePod(pod);
        },
        .on_delete = [this, node](const auto& pod) {
          if (pod->spec().node_name() != node) return;
          if (auto w = Existing(pod->metadata().uid())) w->UpdatePod(nullptr);
        },
        .on_synced = [this] {
          MutexLock lock(&mu_);
          synced_ = true;
        },
    };
    if (options_.pod_router != nullptr) {
      handler_ = options_.pod_router->Add(node, std::move(handler));
    } else {
      client::SharedInformerFactory* informers =
          options_.informers != nullptr ? options_.informers : own_informers_.get();
      ORCH_ASSIGN_OR_RETURN(auto pods, informers->InformerFor<v1::Pod>());
      pods_ = pods;
      handler_ = pods.AddEventHandler(std::move(handler));
    }
    if (own_informers_ != nullptr) own_informers_->Start();
    // The runtime's name (for container ids), then the first relist: it adopts what runs.
    auto self = shared_from_this();
    options_.runtime->Version(cri::VersionRequest(),
                              [this, self](absl::StatusOr<cri::VersionResponse> out) {
                                options_.executor->Post([this, self, out = std::move(out)] {
                                  {
                                    MutexLock lock(&mu_);
                                    if (stopped_) return;
                                    context_->runtime_name =
                                        out.ok() ? out->runtime_name() : "unknown";
                                  }
                                  Relist();
                                });
                              });
    return absl::OkStatus();
  }

  void Stop() override {
    std::vector<std::shared_ptr<PodWorker>> workers;
    {
      MutexLock lock(&mu_);
      if (stopped_) return;
      stopped_ = true;
      context_->stopped = true;
      for (TimerId* t : {&lease_timer_, &status_timer_, &relist_timer_}) {
        if (*t != 0) options_.executor->Cancel(*t);
        *t = 0;
      }
      for (auto& [uid, w] : workers_) workers.push_back(w);
    }
    if (handler_ != 0) {
      if (options_.pod_router != nullptr) {
        options_.pod_router->Remove(handler_);
      } else if (pods_.has_value()) {
        pods_->RemoveEventHandler(handler_);
      }
    }
    handler_ = 0;
    for (auto& w : workers) w->Stop();
    if (own_informers_ != nullptr) own_informers_->Shutdown();
    // Work that began before (on a thread pool, or a runtime's threads) has returned, and
    // none starts once this returns: the host may destroy what the agent uses.
    context_->gate->Close();
  }

  Stats stats() const override {
    Stats s;
    MutexLock lock(&mu_);
    s.pods = static_cast<int64_t>(workers_.size());
    for (const auto& [uid, w] : workers_) s.running_containers += w->running_containers();
    s.syncs = context_->syncs.load();
    s.runtime_errors = context_->runtime_errors.load();
    s.adopted_containers = adopted_;
    return s;
  }

 private:
  std::shared_ptr<PodWorker> WorkerFor(const std::string& uid) {
    MutexLock lock(&mu_);
    auto& w = workers_[uid];
    if (w == nullptr) w = std::make_shared<PodWorker>(context_, uid);
    return w;
  }
  std::shared_ptr<PodWorker> Existing(const std::string& uid) {
    MutexLock lock(&mu_);
    auto it = workers_.find(uid);
    return it == workers_.end() ? nullptr : it->second;
  }

  // ---- the Node object and its heartbeats

  v1::Node DesiredNode() const {
    v1::Node node;
    node.mutable_metadata()->set_name(options_.node_name);
    auto& labels = *node.mutable_metadata()->mutable_labels();
    labels[api::kLabelHostname] = options_.node_name;
    labels["kubernetes.io/os"] = "linux";
    for (const auto& [k, v] : options_.labels) labels[k] = v;
    for (const v1::Taint& t : options_.taints) *node.mutable_spec()->add_taints() = t;
    const std::string cpu = options_.cpu.empty() ? HostCpus() : options_.cpu;
    const std::string memory = options_.memory.empty() ? HostMemory() : options_.memory;
    for (auto* list : {node.mutable_status()->mutable_capacity(),
                       node.mutable_status()->mutable_allocatable()}) {
      (*list)["cpu"].set_value(cpu);
      (*list)["memory"].set_value(memory);
      (*list)["pods"].set_value(options_.pods);
    }
    if (!options_.internal_ip.empty()) {
      v1::NodeAddress* a = node.mutable_status()->add_addresses();
      a->set_type("InternalIP");
      a->set_address(options_.internal_ip);
    }
    v1::NodeAddress* host = node.mutable_status()->add_addresses();
    host->set_type("Hostname");
    host->set_address(options_.node_name);
    node.mutable_status()->mutable_node_info()->set_operating_system("linux");
    node.mutable_status()->mutable_node_info()->set_kubelet_version("orch");
    return node;
  }

  // Sets the agent's conditions: Ready True, no pressure. Keeps transition times.
  void SetConditions(v1::NodeStatus& status, const v1::NodeStatus& old) const {
    const absl::Time now = options_.executor->clock().Now();
    struct Want {
      const char* type;
      const char* value;
      const char* reason;
      const char* message;
    };
    const Want wants[] = {
        {"MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"},
        {"DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"},
        {"PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"},
        {"Ready", "True", "KubeletReady", "kubelet is posting ready status"},
    };
    status.clear_conditions();
    for (const Want& want : wants) {
      v1::NodeCondition* c = status.add_conditions();
      c->set_type(want.type);
      c->set_status(want.value);
      c->set_reason(want.reason);
      c->set_message(want.message);
      *c->mutable_last_heartbeat_time() = api::MetaTime(now);
      *c->mutable_last_transition_time() = api::MetaTime(now);
      for (const v1::NodeCondition& before : old.conditions()) {
        if (before.type() == want.type && before.status() == want.value) {
          *c->mutable_last_transition_time() = before.last_transition_time();
        }
      }
    }
  }

  absl::Status RegisterNode() {
    const v1::Node desired = DesiredNode();
    absl::StatusOr<v1::Node> existing = options_.client->Get<v1::Node>("", options_.node_name);
    if (absl::IsNotFound(existing.status())) {
      v1::Node node = desired;
      SetConditions(*node.mutable_status(), {});
      absl::StatusOr<v1::Node> created = options_.client->Create(node);
      if (created.ok() || !absl::IsAlreadyExists(created.status())) return created.status();
    } else if (!existing.ok()) {
      return existing.status();
    }
    // Take the existing object over: labels and status are the agent's; taints and
    // unschedulable stay as others set them.
    return client::RetryOnConflict(
        client::kDefaultRetry,
        [&]() -> absl::Status {
          ORCH_ASSIGN_OR_RETURN(v1::Node node, options_.client->Get<v1::Node>("", options_.node_name));
          for (const auto& [k, v] : desired.metadata().labels()) {
            (*node.mutable_metadata()->mutable_labels())[k] = v;
          }
          ORCH_ASSIGN_OR_RETURN(node, options_.client->Update(node));
          v1::NodeStatus status = desired.status();
          SetConditions(status, node.status());
          *node.mutable_status() = std::move(status);
          return options_.client->UpdateStatus(node).status();
        },
        client::Sleeper::None());
  }

  void RenewLease() {
    const absl::Time now = options_.executor->clock().Now();
    const int32_t seconds = static_cast<int32_t>(absl::ToInt64Seconds(options_.lease_duration));
    absl::Status status = client::RetryOnConflict(
        client::kDefaultRetry,
        [&]() -> absl::Status {
          absl::StatusOr<v1::Lease> lease =
              options_.client->Get<v1::Lease>(kNodeLeaseNamespace, options_.node_name);
          if (absl::IsNotFound(lease.status())) {
            ORCH_ASSIGN_OR_RETURN(v1::Node node, options_.client->Get<v1::Node>("", options_.node_name));
            v1::Lease fresh;
            fresh.mutable_metadata()->set_name(options_.node_name);
            fresh.mutable_metadata()->set_namespace_(kNodeLeaseNamespace);
            v1::OwnerReference* owner = fresh.mutable_metadata()->add_owner_references();
            owner->set_api_version("v1");
            owner->set_kind("Node");
            owner->set_name(options_.node_name);
            owner->set_uid(node.metadata().uid());
            fresh.mutable_spec()->set_holder_identity(options_.node_name);
            fresh.mutable_spec()->set_lease_duration_seconds(seconds);
            *fresh.mutable_spec()->mutable_renew_time() = api::MicroTime(now);
            return options_.client->Create(fresh).status();
          }
          ORCH_RETURN_IF_ERROR(lease.status());
          lease->mutable_spec()->set_holder_identity(options_.node_name);
          lease->mutable_spec()->set_lease_duration_seconds(seconds);
          *lease->mutable_spec()->mutable_renew_time() = api::MicroTime(now);
          return options_.client->Update(*lease).status();
        },
        client::Sleeper::None());
    (void)status;  // a failed renewal is tried again at the next one
    MutexLock lock(&mu_);
    if (stopped_) return;
    lease_timer_ = options_.executor->PostAfter(options_.lease_duration / 4,
                                                [weak = weak_from_this()] {
                                                  if (auto self = weak.lock()) self->RenewLease();
                                                });
  }

  void ScheduleNodeStatus() {
    MutexLock lock(&mu_);
    if (stopped_) return;
    status_timer_ = options_.executor->PostAfter(
        options_.node_status_report_frequency, [weak = weak_from_this()] {
          auto self = weak.lock();
          if (self == nullptr) return;
          (void)client::RetryOnConflict(
              client::kDefaultRetry,
              [&]() -> absl::Status {
                ORCH_ASSIGN_OR_RETURN(v1::Node node,
                                      self->options_.client->Get<v1::Node>("", self->options_.node_name));
                v1::NodeStatus status = node.status();
                self->SetConditions(status, node.status());
                *node.mutable_status() = std::move(status);
                return self->options_.client->UpdateStatus(node).status();
              },
              client::Sleeper::None());
          self->ScheduleNodeStatus();
        });
  }

  // ---- relist: what the runtime holds, handed to the pods' workers

  // What one relist found, grouped by pod. The runtime's callbacks build it from its list
  // answers, so that only these records wait for the executor: a simulation's nodes relist
  // in the same instant, and their whole answers (every item's labels and annotations)
  // waiting at once were a tenth of a 500-node simulation's peak memory.
  struct Listed {
    struct Pod {
      std::vector<SandboxRecord> sandboxes;
      std::vector<ContainerRecord> containers;
    };
    std::map<std::string, Pod> by_uid;
    absl::flat_hash_set<std::string> ready_sandboxes;
    bool ok = true;  // both lists answered

    void Add(const absl::StatusOr<cri::ListPodSandboxResponse>& sandboxes) {
      if (!sandboxes.ok()) {
        ok = false;
        return;
      }
      for (const cri::PodSandbox& s : sandboxes->items()) {
        const std::string* uid = Label(s.labels(), internal::kPodUidLabel);
        if (uid == nullptr) continue;  // not made by a node agent
        if (s.state() == cri::SANDBOX_READY) ready_sandboxes.insert(s.id());
        SandboxRecord r;
        r.id = s.id();
        r.attempt = s.metadata().attempt();
        r.state = s.state();
        r.created_at = s.created_at();
        by_uid[*uid].sandboxes.push_back(std::move(r));
      }
    }
    void Add(const absl::StatusOr<cri::ListContainersResponse>& containers) {
      if (!containers.ok()) {
        ok = false;
        return;
      }
      for (const cri::Container& c : containers->containers()) {
        const std::string* uid = Label(c.labels(), internal::kPodUidLabel);
        if (uid == nullptr) continue;
        ContainerRecord r;
        r.id = c.id();
        r.sandbox_id = c.pod_sandbox_id();
        r.name = c.metadata().name();
        r.attempt = c.metadata().attempt();
        r.state = c.state();
        r.created_at = c.created_at();
        r.image = c.image().image();
        r.image_ref = c.image_ref();
        by_uid[*uid].containers.push_back(std::move(r));
      }
    }
  };

  void Relist() {
    uint64_t generation;
    {
      MutexLock lock(&mu_);
      if (stopped_) return;
      generation = ++generation_;
    }
    auto self = shared_from_this();
    options_.runtime->ListPodSandbox(
        cri::ListPodSandboxRequest(),
        [this, self, generation](absl::StatusOr<cri::ListPodSandboxResponse> sandboxes) {
          Listed listed;
          listed.Add(sandboxes);
          options_.runtime->ListContainers(
              cri::ListContainersRequest(),
              [this, self, generation, listed = std::move(listed)](
                  absl::StatusOr<cri::ListContainersResponse> containers) mutable {
                listed.Add(containers);
                options_.executor->Post(
                    [this, self, generation, listed = std::move(listed)]() mutable {
                      if (listed.ok) {
                        Deliver(generation, std::move(listed));
                      } else {
                        ++context_->runtime_errors;
                        ScheduleRelist();
                      }
                    });
              });
        });
  }

  void ScheduleRelist() {
    MutexLock lock(&mu_);
    if (stopped_) return;
    relist_timer_ = options_.executor->PostAfter(options_.relist_period, [weak = weak_from_this()] {
      if (auto self = weak.lock()) self->Relist();
    });
  }

  // Asks for the details of containers whose state moved, and hands each pod's records to
  // its worker.
  void Deliver(uint64_t generation, Listed listed) {
    using Pod = Listed::Pod;
    std::map<std::string, Pod>& by_uid = listed.by_uid;
    const absl::flat_hash_set<std::string>& ready_sandboxes = listed.ready_sandboxes;
    bool synced;
    std::vector<std::shared_ptr<PodWorker>> everyone;
    {
      MutexLock lock(&mu_);
      synced = synced_;
      for (auto& [uid, w] : workers_) everyone.push_back(w);
      absl::erase_if(sandbox_ips_,
                     [&](const auto& entry) { return !ready_sandboxes.contains(entry.first); });
    }
    // Sandbox addresses and container details come from status calls: only for what is
    // new or changed since the worker last knew it.
    bool adopting = false;
    {
      MutexLock lock(&mu_);
      adopting = synced && !first_relist_done_;
      if (synced) first_relist_done_ = true;
    }
    // Once every worker has its view: the next relist, and after the first one that saw
    // the pods listed, the go-ahead for workers to act.
    auto pending = std::make_shared<std::atomic<int>>(1);
    auto finish = [this, self = shared_from_this(), pending, adopting] {
      if (pending->fetch_sub(1) != 1) return;
      if (adopting) {
        context_->adopted = true;
        std::vector<std::shared_ptr<PodWorker>> workers;
        {
          MutexLock lock(&mu_);
          for (auto& [uid, w] : workers_) workers.push_back(w);
        }
        for (auto& w : workers) w->Kick();
      }
      ScheduleRelist();
    };
    for (auto& [uid, pod] : by_uid) {
      std::shared_ptr<PodWorker> worker = Existing(uid);
      if (worker == nullptr) {
        // Not (yet) a pod of this node: once the pods are listed, it is an orphan.
        if (!synced) continue;
        worker = WorkerFor(uid);
        worker->UpdatePod(nullptr);
      }
      const std::map<std::string, cri::ContainerState> known = worker->KnownStates();
      auto shared = std::make_shared<Pod>(std::move(pod));
      auto details = std::make_shared<std::atomic<int>>(1);
      auto deliver = [this, worker, shared, generation, details, finish] {
        if (details->fetch_sub(1) != 1) return;
        options_.executor->Post([this, worker, shared, generation, finish] {
          worker->Observe(std::move(shared->sandboxes), std::move(shared->containers), generation);
          finish();
        });
      };
      pending->fetch_add(1);
      for (size_t i = 0; i < shared->containers.size(); ++i) {
        ContainerRecord& r = shared->containers[i];
        auto it = known.find(r.id);
        if (it != known.end() && it->second == r.state) {
          // Unchanged: the worker keeps what it has.
          continue;
        }
        if (adopting && it == known.end() && r.state == cri::CONTAINER_RUNNING) {
          MutexLock lock(&mu_);
          ++adopted_;
        }
        details->fetch_add(1);
        cri::ContainerStatusRequest request;
        request.set_container_id(r.id);
        options_.runtime->ContainerStatus(
            request, [shared, i, deliver](absl::StatusOr<cri::ContainerStatusResponse> out) {
              if (out.ok()) {
                ContainerRecord& r = shared->containers[i];
                const cri::ContainerStatus& s = out->status();
                r.state = s.state();
                r.started_at = s.started_at();
                r.finished_at = s.finished_at();
                r.exit_code = s.exit_code();
                r.reason = s.reason();
                r.message = s.message();
                r.image_ref = s.image_ref();
                r.detailed = true;
              }
              deliver();
            });
      }
      for (size_t i = 0; i < shared->sandboxes.size(); ++i) {
        SandboxRecord& sandbox = shared->sandboxes[i];
        if (sandbox.state != cri::SANDBOX_READY) continue;
        {
          MutexLock lock(&mu_);
          auto known = sandbox_ips_.find(sandbox.id);
          if (known != sandbox_ips_.end()) {
            sandbox.ip = known->second;
            continue;
          }
        }
        details->fetch_add(1);
        cri::PodSandboxStatusRequest request;
        request.set_pod_sandbox_id(sandbox.id);
        options_.runtime->PodSandboxStatus(
            request,
            [this, shared, i, deliver, pod_uid = uid](
                absl::StatusOr<cri::PodSandboxStatusResponse> out) {
              if (out.ok()) {
                SandboxRecord& sandbox = shared->sandboxes[i];
                sandbox.ip = context_->PodAddress(out->status().network().ip(), pod_uid);
                MutexLock lock(&mu_);
                sandbox_ips_[sandbox.id] = sandbox.ip;
              }
              deliver();
            });
      }
      deliver();
    }
    // Workers whose pod has nothing on the runtime any more learn it from an empty view.
    for (auto& worker : everyone) {
      if (by_uid.contains(worker->uid())) continue;
      pending->fetch_add(1);
      options_.executor->Post([worker, generation, finish] {
        worker->Observe({}, {}, generation);
        finish();
      });
    }
    {
      MutexLock lock(&mu_);
      absl::erase_if(workers_, [this](const auto& entry) {
        if (!entry.second->Finished()) return false;
        // Nothing of the pod is left: its address goes back.
        if (options_.network != nullptr) {
          options_.network->ReleasePodAddress(options_.node_name, entry.second->uid());
        }
        return true;
      });
    }
    finish();
  }

  const std::shared_ptr<AgentContext> context_;
  NodeAgentOptions& options_;  // context_->options
  std::unique_ptr<client::SharedInformerFactory> own_informers_;
  std::optional<client::Informer<v1::Pod>> pods_;
  client::HandlerId handler_ = 0;

  mutable Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  bool synced_ ABSL_GUARDED_BY(mu_) = false;
  bool first_relist_done_ ABSL_GUARDED_BY(mu_) = false;
  int64_t adopted_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  TimerId lease_timer_ ABSL_GUARDED_BY(mu_) = 0;
  TimerId status_timer_ ABSL_GUARDED_BY(mu_) = 0;
  TimerId relist_timer_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, std::shared_ptr<PodWorker>> workers_ ABSL_GUARDED_BY(mu_);
  // Addresses of the sandboxes listed ready, by sandbox id. A sandbox keeps its address
  // while ready, so PodSandboxStatus is asked once per sandbox, not at every relist (as the
  // kubelet's PLEG asks only about pods whose containers changed).
  absl::flat_hash_map<std::string, std::string> sandbox_ips_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<NodeAgent>> NodeAgent::Create(NodeAgentOptions options) {
  if (options.node_name.empty()) return absl::InvalidArgumentError("node_name: Required value");
  if (options.client == nullptr) return absl::InvalidArgumentError("client: Required value");
  if (options.executor == nullptr) return absl::InvalidArgumentError("executor: Required value");
  if (options.runtime == nullptr) return absl::InvalidArgumentError("runtime: Required value");
  if (options.lease_duration < absl::Seconds(4)) {
    return absl::InvalidArgumentError(
        fmt::format("lease_duration: Invalid value: {}: must be at least 4s",
                    absl::FormatDuration(options.lease_duration)));
  }
  if (options.relist_period <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("relist_period: Invalid value: must be positive");
  }
  // The agent hands weak references of itself to its timers and callbacks.
  auto agent = std::make_shared<NodeAgentImpl>(std::move(options));
  struct Holder final : NodeAgent {
    explicit Holder(std::shared_ptr<NodeAgentImpl> impl) : impl(std::move(impl)) {}
    ~Holder() override { impl->Stop(); }
    absl::Status Start() override { return impl->Start(); }
    void Stop() override { impl->Stop(); }
    Stats stats() const override { return impl->stats(); }
    std::shared_ptr<NodeAgentImpl> impl;
  };
  return std::unique_ptr<NodeAgent>(new Holder(std::move(agent)));
}

}  // namespace orch::node
