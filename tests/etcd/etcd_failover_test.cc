// EtcdStore's failover rules, against members that answer exactly what a test scripts:
// the answers etcd gives while it elects a leader ("etcdserver: leader changed",
// "etcdserver: no leader") for as many calls as the test says. Which calls wait, which are
// repeated and which never are can be counted here; on a real cluster an election's timing
// decides (etcd_cluster_test.cc breaks real ones).
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/server_context.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orch/store/etcd/rpc.grpc.pb.h"
#include "orch/store/etcd_store.h"
#include "support/status_matchers.h"

namespace orch::store {
namespace {

namespace pb = ::etcdserverpb;
using ::orch::testing::IsOk;
using ::orch::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr int64_t kRevision = 7;

// What every member answers: the first `*_failures` calls (counted over all members) fail
// with `*_error`, later ones succeed.
struct Script {
  std::atomic<int> range_failures{0};
  std::string range_error = "etcdserver: leader changed";
  std::atomic<int> txn_failures{0};
  std::string txn_error = "etcdserver: leader changed";
  std::atomic<int> ranges{0};  // calls taken, failed or not
  std::atomic<int> txns{0};
};

class ScriptedKV final : public pb::KV::Service {
 public:
  explicit ScriptedKV(Script* script) : script_(script) {}

  grpc::Status Range(grpc::ServerContext*, const pb::RangeRequest* request,
                     pb::RangeResponse* response) override {
    if (script_->ranges.fetch_add(1) < script_->range_failures.load()) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, script_->range_error);
    }
    response->mutable_header()->set_revision(kRevision);
    if (!request->count_only()) {
      ::mvccpb::KeyValue* kv = response->add_kvs();
      kv->set_key(request->key());
      kv->set_value("v");
      kv->set_create_revision(kRevision);
      kv->set_mod_revision(kRevision);
      kv->set_version(1);
    }
    return grpc::Status::OK;
  }

  grpc::Status Txn(grpc::ServerContext*, const pb::TxnRequest*,
                   pb::TxnResponse* response) override {
    if (script_->txns.fetch_add(1) < script_->txn_failures.load()) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, script_->txn_error);
    }
    response->mutable_header()->set_revision(kRevision + 1);
    response->set_succeeded(true);
    return grpc::Status::OK;
  }

 private:
  Script* script_;
};

class EtcdFailoverTest : public ::testing::Test {
 protected:
  static constexpr int kMembers = 3;

  void SetUp() override {
    for (int i = 0; i < kMembers; ++i) {
      auto service = std::make_unique<ScriptedKV>(&script_);
      grpc::ServerBuilder builder;
      int port = 0;
      builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
      builder.RegisterService(service.get());
      std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
      ASSERT_NE(server, nullptr);
      ASSERT_GT(port, 0);
      endpoints_.push_back(fmt::format("127.0.0.1:{}", port));
      services_.push_back(std::move(service));
      servers_.push_back(std::move(server));
    }
  }

  void TearDown() override {
    for (auto& server : servers_) server->Shutdown(absl::ToChronoTime(absl::Now()));
  }

  absl::StatusOr<std::unique_ptr<EtcdStore>> Connect(absl::Duration request_timeout) {
    return EtcdStore::Connect({.endpoints = endpoints_, .request_timeout = request_timeout});
  }

  Script script_;
  std::vector<std::string> endpoints_;
  std::vector<std::unique_ptr<ScriptedKV>> services_;
  std::vector<std::unique_ptr<grpc::Server>> servers_;
};

TEST_F(EtcdFailoverTest, ReadsWaitOutAnElectionWhileEveryMemberAnswersLeaderChanged) {
  // Twice around the members and more: round one alone would give up.
  script_.range_failures = 2 * kMembers + 1;
  const absl::Time started = absl::Now();
  ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<EtcdStore> store, Connect(absl::Seconds(5)));
  EXPECT_EQ(script_.ranges.load(), 2 * kMembers + 2);
  EXPECT_LT(absl::Now() - started, absl::Seconds(5));

  script_.ranges = 0;
  script_.range_failures = kMembers + 1;
  script_.range_error = "etcdserver: no leader";
  ORCH_ASSERT_OK_AND_ASSIGN(KeyValue got, store->Get("/registry/pods/default/a"));
  EXPECT_EQ(got.value, "v");
  EXPECT_EQ(script_.ranges.load(), kMembers + 2);
}

TEST_F(EtcdFailoverTest, AWriteWhoseFateIsUnknownFailsAndIsNeverRepeated) {
  ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<EtcdStore> store, Connect(absl::Seconds(5)));
  // "leader changed" may come after the write was proposed: it may yet be applied.
  script_.txn_failures = 1000;
  EXPECT_THAT(store->Create("/registry/pods/default/a", "v"),
              StatusIs(absl::StatusCode::kUnavailable,
                       AllOf(HasSubstr("leader changed"),
                             HasSubstr("it may or may not have been applied"))));
  EXPECT_EQ(script_.txns.load(), 1);
}

TEST_F(EtcdFailoverTest, AWriteNoMemberTookIsRetriedUntilThereIsALeader) {
  ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<EtcdStore> store, Connect(absl::Seconds(5)));
  // "no leader": the member refused the write before proposing it.
  script_.txn_error = "etcdserver: no leader";
  script_.txn_failures = 2 * kMembers;
  ORCH_ASSERT_OK_AND_ASSIGN(const int64_t revision,
                            store->Create("/registry/pods/default/a", "v"));
  EXPECT_EQ(revision, kRevision + 1);
  EXPECT_EQ(script_.txns.load(), 2 * kMembers + 1);  // applied once, by the last
}

TEST_F(EtcdFailoverTest, AClusterThatElectsNoLeaderIsUnavailableAfterOneMoreTimeout) {
  const absl::Duration timeout = absl::Seconds(1);
  ORCH_ASSERT_OK_AND_ASSIGN(std::unique_ptr<EtcdStore> store, Connect(timeout));
  script_.range_failures = 1 << 30;
  const absl::Time started = absl::Now();
  absl::Status status = store->Get("/registry/pods/default/a").status();
  const absl::Duration took = absl::Now() - started;
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kUnavailable,
                               AllOf(HasSubstr(endpoints_[0] + ": etcdserver: leader changed"),
                                     HasSubstr(endpoints_[1]), HasSubstr(endpoints_[2]))));
  // Round one answers at once; round two waits one request timeout, pausing between
  // members, and then gives up.
  EXPECT_GE(took, timeout);
  EXPECT_LT(took, timeout + absl::Seconds(1));
  EXPECT_GT(script_.ranges.load(), kMembers + 2);
}

}  // namespace
}  // namespace orch::store
