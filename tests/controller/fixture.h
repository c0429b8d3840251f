// Shared setup for the controller tests: valid objects, and a store, client, informers and
// manager on a VirtualExecutor's clock, with a FaultStore between the client and the store.
#ifndef ORCH_TESTS_CONTROLLER_FIXTURE_H_
#define ORCH_TESTS_CONTROLLER_FIXTURE_H_

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "orch/api/scheme.h"
#include "orch/api/v1/apps.pb.h"
#include "orch/api/v1/core.pb.h"
#include "orch/base/executor.h"
#include "orch/client/client.h"
#include "orch/client/informer.h"
#include "orch/controller/controller.h"
#include "orch/store/memory_store.h"
#include "orch/testing/fault_store.h"

namespace orch::controller::testing {

namespace v1 = ::orch::api::v1;

// An unbound pod (no spec.nodeName), so a delete removes it at once.
inline v1::Pod MakePod(const std::string& name) {
  v1::Pod pod;
  pod.mutable_metadata()->set_name(name);
  pod.mutable_metadata()->set_namespace_("default");
  auto* c = pod.mutable_spec()->add_containers();
  c->set_name("main");
  c->set_image("busybox:1.36");
  return pod;
}

// A Deployment or ReplicaSet selecting app=<name>, with one busybox container.
template <typename T>
T MakeWorkload(const std::string& name, int replicas = 1) {
  T obj;
  obj.mutable_metadata()->set_name(name);
  obj.mutable_metadata()->set_namespace_("default");
  obj.mutable_spec()->set_replicas(replicas);
  (*obj.mutable_spec()->mutable_selector()->mutable_match_labels())["app"] = name;
  auto* tmpl = obj.mutable_spec()->mutable_template_();
  (*tmpl->mutable_metadata()->mutable_labels())["app"] = name;
  auto* c = tmpl->mutable_spec()->add_containers();
  c->set_name("main");
  c->set_image("busybox:1.36");
  return obj;
}
inline v1::ReplicaSet MakeReplicaSet(const std::string& name, int replicas = 1) {
  return MakeWorkload<v1::ReplicaSet>(name, replicas);
}
inline v1::Deployment MakeDeployment(const std::string& name, int replicas = 1) {
  return MakeWorkload<v1::Deployment>(name, replicas);
}

// `client_` (what controllers use) reaches `store_` through `faults_`; `direct_` writes
// to `store_` itself. `informers_` and `manager_` run on `executor_`. Build() again starts
// over with a fresh store.
class ControllerEnvTest : public ::testing::Test {
 protected:
  void SetUp() override { Build(); }
  void TearDown() override { Reset(); }

  virtual void Reset() {
    manager_.reset();
    informers_.reset();
  }

  void Build(const api::Scheme* scheme = &api::Scheme::Builtin()) {
    Reset();
    store::MemoryStoreOptions options;
    options.clock = &executor_.clock();
    store_ = store::MemoryStore::Open(options).value();
    faults_ = std::make_unique<orch::testing::FaultStore>(store_.get());
    client_ = std::make_unique<client::Client>(faults_.get(), scheme, &executor_.clock(), 1);
    direct_ = std::make_unique<client::Client>(store_.get(), scheme, &executor_.clock(), 2);
    informers_ = std::make_unique<client::SharedInformerFactory>(client_.get(), &executor_);
    manager_ = Manager::Create({.client = client_.get(),
                                .informers = informers_.get(),
                                .executor = &executor_})
                   .value();
  }

  VirtualExecutor executor_;
  std::unique_ptr<store::MemoryStore> store_;
  std::unique_ptr<orch::testing::FaultStore> faults_;
  std::unique_ptr<client::Client> client_;
  std::unique_ptr<client::Client> direct_;
  std::unique_ptr<client::SharedInformerFactory> informers_;
  std::unique_ptr<Manager> manager_;
};

}  // namespace orch::controller::testing

#endif  // ORCH_TESTS_CONTROLLER_FIXTURE_H_
