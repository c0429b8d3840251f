#include "orch/testing/test_cluster.h"

#include <utility>

#include "fmt/format.h"
#include "orch/controller/deployment.h"
#include "orch/controller/replicaset.h"
#include "orch/controller/garbage_collector.h"
#include "orch/scheduler/scheduler.h"
#include "testing/fake_nodes.h"

namespace orch::testing {

// Declared in the order they are built; destroyed in reverse, the executor last.
struct TestCluster::Parts {
  VirtualExecutor executor;
  std::unique_ptr<store::MemoryStore> store;
  std::unique_ptr<FaultStore> faults;
  std::unique_ptr<client::Client> client;
  std::unique_ptr<client::SharedInformerFactory> informers;
  std::unique_ptr<controller::Manager> manager;
  std::unique_ptr<scheduler::Scheduler> scheduler;
  std::unique_ptr<internal::FakeNodes> nodes;
  std::unique_ptr<controller::GarbageCollector> gc;

  ~Parts() {
    // Stop everything that reacts before tearing anything down.
    if (gc) gc->Stop();
    if (nodes) nodes->Stop();
    if (scheduler) scheduler->Stop();
    if (manager) manager->Stop();
    if (informers) informers->Shutdown();
  }
};

absl::StatusOr<std::unique_ptr<TestCluster>> TestCluster::Start(TestClusterOptions options) {
  auto parts = std::make_unique<Parts>();
  store::MemoryStoreOptions store_options;
  store_options.clock = &parts->executor.clock();
  ORCH_ASSIGN_OR_RETURN(parts->store, store::MemoryStore::Open(store_options));
  parts->faults = std::make_unique<FaultStore>(parts->store.get(), FaultStoreOptions{options.seed});
  parts->client = std::make_unique<client::Client>(parts->faults.get(), options.scheme,
                                                   &parts->executor.clock(), options.seed);
  parts->informers =
      std::make_unique<client::SharedInformerFactory>(parts->client.get(), &parts->executor);
  ORCH_ASSIGN_OR_RETURN(parts->manager, controller::Manager::Create({
                                            .client = parts->client.get(),
                                            .informers = parts->informers.get(),
                                            .executor = &parts->executor,
                                        }));
  if (options.builtin_controllers) {
    ORCH_RETURN_IF_ERROR(controller::AddReplicaSetController(parts->manager.get()).status());
    ORCH_RETURN_IF_ERROR(controller::AddDeploymentController(parts->manager.get()).status());
  }
  if (options.node_lifecycle) {
    ORCH_RETURN_IF_ERROR(controller::AddNodeLifecycleController(parts->manager.get(),
                                                                options.node_lifecycle_options)
                             .status());
  }
  if (options.pod_gc) {
    ORCH_RETURN_IF_ERROR(
        controller::AddPodGcController(parts->manager.get(), options.pod_gc_options).status());
  }
  if (options.scheduler) {
    scheduler::SchedulerOptions scheduler_options;
    scheduler_options.client = parts->client.get();
    scheduler_options.informers = parts->informers.get();
    scheduler_options.executor = &parts->executor;
    scheduler_options.seed = options.seed;
    ORCH_ASSIGN_OR_RETURN(parts->scheduler, scheduler::Scheduler::Create(std::move(scheduler_options)));
    ORCH_RETURN_IF_ERROR(parts->scheduler->Start());
  }
  parts->nodes = std::make_unique<internal::FakeNodes>(parts->client.get(), &parts->executor, options);
  ORCH_RETURN_IF_ERROR(parts->nodes->Start(*parts->informers));
  ORCH_RETURN_IF_ERROR(parts->manager->Start());
  if (options.garbage_collector) {
    ORCH_ASSIGN_OR_RETURN(parts->gc, controller::GarbageCollector::Create({
                                         .client = parts->client.get(),
                                         .informers = parts->informers.get(),
                                         .executor = &parts->executor,
                                     }));
    ORCH_RETURN_IF_ERROR(parts->gc->Start());
  }
  parts->executor.RunUntilIdle();
  return std::unique_ptr<TestCluster>(new TestCluster(std::move(parts)));
}

TestCluster::TestCluster(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}
TestCluster::~TestCluster() = default;

client::Client& TestCluster::client() { return *parts_->client; }
client::SharedInformerFactory& TestCluster::informers() { return *parts_->informers; }
controller::Manager& TestCluster::manager() { return *parts_->manager; }
VirtualExecutor& TestCluster::executor() { return parts_->executor; }
store::MemoryStore& TestCluster::store() { return *parts_->store; }
FaultStore& TestCluster::faults() { return *parts_->faults; }
absl::Time TestCluster::Now() { return parts_->executor.clock().Now(); }

void TestCluster::SetImageBehavior(std::string image, ImageBehavior behavior) {
  parts_->nodes->SetImageBehavior(std::move(image), behavior);
}

absl::Status TestCluster::FailNode(std::string_view name) { return parts_->nodes->Fail(name); }

absl::Status TestCluster::RecoverNode(std::string_view name) {
  return parts_->nodes->Recover(name);
}

absl::Status TestCluster::WaitFor(const std::function<bool()>& condition, absl::Duration timeout,
                                  std::string_view what) {
  VirtualExecutor& executor = parts_->executor;
  const absl::Time deadline = executor.clock().Now() + timeout;
  executor.RunUntilIdle();
  while (!condition()) {
    if (executor.NextTimerAt() > deadline) {
      executor.AdvanceTo(deadline);
      if (condition()) break;
      return absl::DeadlineExceededError(fmt::format("timed out after {} waiting for {}",
                                                     absl::FormatDuration(timeout), what));
    }
    executor.RunNextTimer();
  }
  return absl::OkStatus();
}

void TestCluster::RunFor(absl::Duration duration) { parts_->executor.AdvanceBy(duration); }

}  // namespace orch::testing
