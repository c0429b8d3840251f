// The Scheduler end to end, as its tests set it up: a MemoryStore, the typed client and
// shared informers on one VirtualExecutor, and a Scheduler created over them. Pods are
// created in the store as a user would create them; the helpers read back what the
// scheduler wrote (the pod, its conditions, its Events).
//
//   class SchedulerGpuTest : public SchedulerFixture {
//     void Configure(SchedulerOptions& options) override { /* another configuration */ }
//   };
//
// Everything runs on the test's thread: nothing happens until the test runs the executor.
#ifndef ORCH_TESTS_SCHEDULER_SCHEDULER_FIXTURE_H_
#define ORCH_TESTS_SCHEDULER_SCHEDULER_FIXTURE_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "orch/api/scheme.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "orch/api/v1/core.pb.h"
#include "orch/api/v1/scheduling.pb.h"
#include "orch/base/executor.h"
#include "orch/client/client.h"
#include "orch/client/informer.h"
#include "orch/scheduler/scheduler.h"
#include "orch/store/memory_store.h"
#include "scheduler/test_objects.h"
#include "support/status_matchers.h"

namespace orch::scheduler::testing {

class SchedulerFixture : public ::testing::Test {
 protected:
  // The store, client and informers; no scheduler yet.
  SchedulerFixture() {
    store::MemoryStoreOptions store_options;
    store_options.clock = &executor_.clock();
    store_ = store::MemoryStore::Open(store_options).value();
    client_ = std::make_unique<client::Client>(store_.get(), &api::Scheme::Builtin(),
                                               &executor_.clock());
    informers_ = std::make_unique<client::SharedInformerFactory>(client_.get(), &executor_);
  }

  // A fixture whose configuration is known only in the test body overrides SetUp and calls
  // StartScheduler from the test.
  void SetUp() override { StartScheduler(); }
  // The scheduler goes before the informers it watches through.
  void TearDown() override {
    scheduler_.reset();
    informers_.reset();
  }

  // For fixtures that run another configuration or registry.
  virtual void Configure(SchedulerOptions& options) {}

  // Options naming this fixture's client, informers and executor, and nothing else.
  SchedulerOptions Options() {
    SchedulerOptions options;
    options.client = client_.get();
    options.informers = informers_.get();
    options.executor = &executor_;
    return options;
  }

  // Creates scheduler_ from Options() as Configure leaves them, starts it and the
  // informers, and runs until idle.
  void StartScheduler() {
    SchedulerOptions options = Options();
    Configure(options);
    if (HasFatalFailure()) return;
    ORCH_ASSERT_OK_AND_ASSIGN(scheduler_, Scheduler::Create(std::move(options)));
    ASSERT_THAT(scheduler_->Start(), ::orch::testing::IsOk());
    informers_->Start();
    executor_.RunUntilIdle();
  }

  // A node with `cpu` cores, 16Gi of memory and room for 110 pods, labelled with its
  // hostname.
  void AddNode(const std::string& name, const std::string& cpu) {
    ASSERT_TRUE(client_
                    ->Create(MakeNode(name)
                                 .Capacity({{"cpu", cpu}, {"memory", "16Gi"}, {"pods", "110"}})
                                 .Label("kubernetes.io/hostname", name)
                                 .Obj())
                    .ok());
  }
  // The builder's pod as a user would create it: the store assigns the uid.
  void AddPod(PodBuilder builder) {
    api::v1::Pod pod = builder.Obj();
    pod.mutable_metadata()->clear_uid();
    if (pod.spec().containers().empty()) {
      pod.mutable_spec()->add_containers()->set_name("c0");
    }
    for (auto& c : *pod.mutable_spec()->mutable_containers()) c.set_image("registry.example/app:v1");
    // A priority and a preemption policy come from a PriorityClass (Priority admission):
    // one per value and policy.
    if (pod.spec().has_priority()) {
      api::v1::PriorityClass priority_class;
      const std::string policy = pod.spec().preemption_policy();
      priority_class.mutable_metadata()->set_name(absl::AsciiStrToLower(
          absl::StrCat("priority-", pod.spec().priority(), policy.empty() ? "" : "-", policy)));
      priority_class.set_value(pod.spec().priority());
      if (!policy.empty()) priority_class.set_preemption_policy(policy);
      absl::Status made = client_->Create(priority_class).status();
      ASSERT_TRUE(made.ok() || absl::IsAlreadyExists(made)) << made;
      pod.mutable_spec()->set_priority_class_name(priority_class.metadata().name());
      pod.mutable_spec()->clear_priority();
    }
    absl::StatusOr<api::v1::Pod> created = client_->Create(pod);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
  }

  // The pod `name` of the default namespace as the store has it now.
  api::v1::Pod Get(const std::string& name) {
    return client_->Get<api::v1::Pod>("default", name).value();
  }
  // The pod's condition of `type`; nullptr when it has none. Points into `pod`.
  static const api::v1::PodCondition* Condition(const api::v1::Pod& pod, const std::string& type) {
    for (const auto& c : pod.status().conditions()) {
      if (c.type() == type) return &c;
    }
    return nullptr;
  }
  // The Events about `pod` with `reason`, oldest first.
  std::vector<api::v1::Event> Events(const std::string& pod, const std::string& reason) {
    std::vector<api::v1::Event> found;
    const auto events = client_->List<api::v1::Event>("default").value();
    for (const api::v1::Event& e : events.items) {
      if (e.involved_object().name() == pod && e.reason() == reason) found.push_back(e);
    }
    return found;
  }
  // Their messages.
  std::vector<std::string> EventsFor(const std::string& pod, const std::string& reason) {
    std::vector<std::string> messages;
    for (const api::v1::Event& e : Events(pod, reason)) messages.push_back(e.message());
    return messages;
  }

  VirtualExecutor executor_;
  std::unique_ptr<store::MemoryStore> store_;
  std::unique_ptr<client::Client> client_;
  std::unique_ptr<client::SharedInformerFactory> informers_;
  std::unique_ptr<Scheduler> scheduler_;
};

}  // namespace orch::scheduler::testing

#endif  // ORCH_TESTS_SCHEDULER_SCHEDULER_FIXTURE_H_
