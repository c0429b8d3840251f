// The fixture of the node agent's tests: a NodeAgent for node kNode on a FakeRuntime (pod
// CIDR 10.244.1.0/24, also its prober), over a MemoryStore and Client, all in virtual
// time on one VirtualExecutor. A test starts the agent with StartAgent (after scripting
// images, or with its own Options()), creates pods and runs time forward.
#ifndef ORCH_TESTS_NODE_AGENT_TEST_FIXTURE_H_
#define ORCH_TESTS_NODE_AGENT_TEST_FIXTURE_H_

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "orch/api/scheme.h"
#include "orch/api/v1/core.pb.h"
#include "orch/base/executor.h"
#include "orch/client/client.h"
#include "orch/node/node_agent.h"
#include "orch/runtime/fake_runtime.h"
#include "orch/store/memory_store.h"
#include "support/status_matchers.h"

namespace orch::node {

inline constexpr char kNode[] = "node-a";

class AgentOnFakeRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::MemoryStoreOptions options;
    options.clock = &executor_.clock();
    store_ = store::MemoryStore::Open(options).value();
    client_ = std::make_unique<client::Client>(store_.get(), &api::Scheme::Builtin(),
                                               &executor_.clock());
    runtime_ = std::make_unique<runtime::FakeRuntime>(runtime::FakeRuntimeOptions{
        .executor = &executor_, .pod_cidr = "10.244.1.0/24"});
  }
  void TearDown() override { agent_.reset(); }

  NodeAgentOptions Options() {
    return {.node_name = kNode,
            .client = client_.get(),
            .executor = &executor_,
            .runtime = runtime_.get(),
            .prober = runtime_.get(),
            .cpu = "4",
            .memory = "8Gi",
            .internal_ip = "10.0.0.1",
            .pod_log_directory = ""};
  }
  void StartAgent() {
    ORCH_ASSERT_OK_AND_ASSIGN(agent_, NodeAgent::Create(Options()));
    ASSERT_THAT(agent_->Start(), ::orch::testing::IsOk());
    executor_.RunUntilIdle();
  }
  api::v1::Pod Get(const std::string& name) {
    return client_->Get<api::v1::Pod>("default", name).value();
  }
  api::v1::Pod Create(const api::v1::Pod& pod) { return client_->Create(pod).value(); }
  // Runs the cluster for `d` of virtual time.
  void Run(absl::Duration d) { executor_.AdvanceBy(d); }
  // The status of the pod's condition `type` ("True", "False"), or "" without one.
  static std::string Condition(const api::v1::Pod& pod, const std::string& type) {
    for (const auto& c : pod.status().conditions()) {
      if (c.type() == type) return c.status();
    }
    return "";
  }

  VirtualExecutor executor_;
  std::unique_ptr<store::MemoryStore> store_;
  std::unique_ptr<client::Client> client_;
  std::unique_ptr<runtime::FakeRuntime> runtime_;
  std::unique_ptr<NodeAgent> agent_;
};

}  // namespace orch::node

#endif  // ORCH_TESTS_NODE_AGENT_TEST_FIXTURE_H_
