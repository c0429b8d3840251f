// Shared setup for the client tests: a MemoryStore on a VirtualExecutor's clock, a Client
// over the built-in scheme, and builders for valid objects.
#ifndef ORCH_TESTS_CLIENT_FIXTURE_H_
#define ORCH_TESTS_CLIENT_FIXTURE_H_

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "orch/api/scheme.h"
#include "orch/api/v1/apps.pb.h"
#include "orch/api/v1/coordination.pb.h"
#include "orch/api/v1/core.pb.h"
#include "orch/base/executor.h"
#include "orch/client/client.h"
#include "orch/store/memory_store.h"

namespace orch::client::testing {

namespace v1 = ::orch::api::v1;

inline v1::Pod MakePod(const std::string& name, const std::string& node = "",
                       const std::string& ns = "default") {
  v1::Pod pod;
  pod.mutable_metadata()->set_name(name);
  pod.mutable_metadata()->set_namespace_(ns);
  (*pod.mutable_metadata()->mutable_labels())["app"] = "web";
  auto* container = pod.mutable_spec()->add_containers();
  container->set_name("main");
  container->set_image("busybox:1.36");
  pod.mutable_spec()->set_node_name(node);
  return pod;
}

inline v1::Deployment MakeDeployment(const std::string& name, int replicas = 2,
                                     const std::string& ns = "default") {
  v1::Deployment d;
  d.mutable_metadata()->set_name(name);
  d.mutable_metadata()->set_namespace_(ns);
  d.mutable_spec()->set_replicas(replicas);
  (*d.mutable_spec()->mutable_selector()->mutable_match_labels())["app"] = name;
  auto* tmpl = d.mutable_spec()->mutable_template_();
  (*tmpl->mutable_metadata()->mutable_labels())["app"] = name;
  auto* container = tmpl->mutable_spec()->add_containers();
  container->set_name("main");
  container->set_image("nginx:1.25");
  return d;
}

inline v1::Node MakeNode(const std::string& name) {
  v1::Node node;
  node.mutable_metadata()->set_name(name);
  return node;
}

inline v1::Lease MakeLease(const std::string& name, const std::string& ns = "default") {
  v1::Lease lease;
  lease.mutable_metadata()->set_name(name);
  lease.mutable_metadata()->set_namespace_(ns);
  lease.mutable_spec()->set_holder_identity("holder");
  return lease;
}

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::MemoryStoreOptions options;
    options.clock = &executor_.clock();
    options.history_limit = 0;  // tests compact explicitly
    auto store = store::MemoryStore::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    client_ = std::make_unique<Client>(store_.get(), &api::Scheme::Builtin(),
                                       &executor_.clock(), /*seed=*/7);
  }

  int64_t Revision() { return store_->CurrentRevision().value(); }

  VirtualExecutor executor_;
  std::unique_ptr<store::MemoryStore> store_;
  std::unique_ptr<Client> client_;
};

}  // namespace orch::client::testing

#endif  // ORCH_TESTS_CLIENT_FIXTURE_H_
