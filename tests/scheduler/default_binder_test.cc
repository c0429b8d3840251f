// DefaultBinder: binds through the client with a compare-and-swap on the pod's version,
// and tells the scheduler which version its bind wrote.
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orch/api/scheme.h"
#include "orch/base/executor.h"
#include "orch/client/client.h"
#include "orch/store/memory_store.h"
#include "scheduler/fake_handle.h"
#include "scheduler/plugin_test_util.h"
#include "scheduler/plugins/factories.h"
#include "scheduler/test_objects.h"

namespace orch::scheduler {
namespace {

using testing::MakePod;

class DefaultBinderTest : public ::testing::Test {
 protected:
  DefaultBinderTest() : handle_(&snapshot_, &executor_.clock()) {
    store::MemoryStoreOptions options;
    options.clock = &executor_.clock();
    store_ = store::MemoryStore::Open(options).value();
    client_ = std::make_unique<client::Client>(store_.get(), &api::Scheme::Builtin(),
                                               &executor_.clock());
    handle_.set_client(client_.get());
    plugin_ = testing::MakePlugin(&plugins::NewDefaultBinder, handle_);
  }

  // The pod as stored: with its uid and resourceVersion.
  PodInfoPtr Stored(const std::string& name) {
    absl::StatusOr<api::v1::Pod> pod = client_->Create(MakePod(name).Image("web:v1").Obj());
    EXPECT_TRUE(pod.ok()) << pod.status();
    return *PodInfo::Create(std::make_shared<const api::v1::Pod>(*pod));
  }

  VirtualExecutor executor_;
  std::unique_ptr<store::MemoryStore> store_;
  std::unique_ptr<client::Client> client_;
  testing::FakeSnapshot snapshot_;
  testing::FakeHandle handle_;
  std::unique_ptr<Plugin> plugin_;
};

TEST_F(DefaultBinderTest, BindsAndNotesTheVersionItWrote) {
  PodInfoPtr pod = Stored("web");
  CycleState state;
  ASSERT_TRUE(testing::As<BindPlugin>(*plugin_).Bind(state, *pod, "n1").ok());
  absl::StatusOr<api::v1::Pod> bound = client_->Get<api::v1::Pod>("default", "web");
  ASSERT_TRUE(bound.ok()) << bound.status();
  EXPECT_EQ(bound->spec().node_name(), "n1");
  const auto* written = state.Read<plugins::BoundVersion>(plugins::kBoundVersionKey);
  ASSERT_NE(written, nullptr);
  EXPECT_EQ(written->resource_version, bound->metadata().resource_version());
  EXPECT_NE(written->resource_version, pod->pod().metadata().resource_version());
}

TEST_F(DefaultBinderTest, ABindWithoutTheVersionNotesNothing) {
  api::v1::Pod pod = Stored("web")->pod();
  pod.mutable_metadata()->clear_resource_version();  // binds whatever is stored
  CycleState state;
  ASSERT_TRUE(testing::As<BindPlugin>(*plugin_)
                  .Bind(state, *PodInfo::Create(std::make_shared<const api::v1::Pod>(pod)).value(), "n1")
                  .ok());
  EXPECT_EQ(state.Read<plugins::BoundVersion>(plugins::kBoundVersionKey), nullptr);
}

TEST_F(DefaultBinderTest, AStaleVersionIsAConflictAndNotesNothing) {
  PodInfoPtr pod = Stored("web");
  api::v1::Pod changed = pod->pod();
  (*changed.mutable_metadata()->mutable_labels())["tier"] = "gold";
  ASSERT_TRUE(client_->Update(changed).ok());
  CycleState state;
  Status status = testing::As<BindPlugin>(*plugin_).Bind(state, *pod, "n1");
  EXPECT_EQ(status.code(), Code::kError);
  EXPECT_EQ(status.cause(), absl::StatusCode::kAborted);
  EXPECT_EQ(state.Read<plugins::BoundVersion>(plugins::kBoundVersionKey), nullptr);
}

}  // namespace
}  // namespace orch::scheduler
