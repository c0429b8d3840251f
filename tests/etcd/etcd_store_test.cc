// EtcdStore on a real etcd (tests/support/etcd_fixture.h): the Store conformance suite,
// unchanged, on one member; then what only a real cluster shows. A machine without etcd
// skips, naming what is missing.
#include "orch/store/etcd_store.h"

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orch/store/keys.h"
#include "store/store_conformance.h"
#include "support/etcd_fixture.h"
#include "support/status_matchers.h"

namespace orch::store {
namespace {

using ::orch::store::testing::ConformanceEnv;
using ::orch::store::testing::StoreBackend;
using ::orch::store::testing::StoreBackendName;
using ::orch::store::testing::StoreConformanceTest;
using ::orch::testing::EtcdCluster;
using ::orch::testing::IsOk;
using ::orch::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

// One single-member etcd for the whole program, started on first use and stopped (its
// directory removed) when the program's tests are done.
absl::StatusOr<std::unique_ptr<EtcdCluster>>* shared_etcd = nullptr;

class SharedEtcdEnvironment : public ::testing::Environment {
 public:
  void TearDown() override {
    delete shared_etcd;
    shared_etcd = nullptr;
  }
};
[[maybe_unused]] ::testing::Environment* const shared_etcd_environment =
    ::testing::AddGlobalTestEnvironment(new SharedEtcdEnvironment);

absl::StatusOr<EtcdCluster*> SharedEtcd() {
  if (shared_etcd == nullptr) {
    shared_etcd =
        new absl::StatusOr<std::unique_ptr<EtcdCluster>>(EtcdCluster::Start({.members = 1}));
  }
  if (!shared_etcd->ok()) return shared_etcd->status();
  return shared_etcd->value().get();
}

// Each test its own key prefix on the shared etcd, so each starts empty.
std::unique_ptr<Store> ConnectOnEnv(ConformanceEnv&) {
  static std::atomic<int> next{0};
  absl::StatusOr<EtcdCluster*> etcd = SharedEtcd();
  if (!etcd.ok()) {
    if (absl::IsFailedPrecondition(etcd.status())) {
      [&] { GTEST_SKIP() << etcd.status(); }();
      return nullptr;
    }
    ADD_FAILURE() << etcd.status();
    return nullptr;
  }
  absl::StatusOr<std::unique_ptr<EtcdStore>> store = EtcdStore::Connect(
      {.endpoints = (*etcd)->endpoints(), .key_prefix = fmt::format("/test-{}", next++)});
  EXPECT_THAT(store, IsOk());
  return store.ok() ? std::move(store).value() : nullptr;
}

INSTANTIATE_TEST_SUITE_P(EtcdStore, StoreConformanceTest,
                         ::testing::Values(StoreBackend{.name = "OneMember",
                                                        .time = ConformanceEnv::Time::kReal,
                                                        .make = ConnectOnEnv,
                                                        // etcd counts a lease's time
                                                        // to live in whole seconds
                                                        .lease_ttl = absl::Seconds(4)}),
                         StoreBackendName);

}  // namespace
}  // namespace orch::store

namespace orch::store {
namespace {

// etcd with authentication on: a user's password buys a token that EtcdStore sends with
// every call and renews when etcd lets it expire (here after a second).
TEST(EtcdStoreAuthTest, AuthenticatesRenewsItsTokenAndNamesBadCredentials) {
  absl::StatusOr<std::unique_ptr<EtcdCluster>> etcd =
      EtcdCluster::Start({.members = 1, .extra_flags = {"--auth-token-ttl=1"}});
  if (orch::testing::IsMissingEtcd(etcd.status())) GTEST_SKIP() << etcd.status();
  ASSERT_THAT(etcd, IsOk());
  // root (with the root role) must exist before etcd turns authentication on. "cm9vdA=="
  // is base64 for "root" (the gateway takes bytes as base64, names as strings).
  for (const auto& [path, body] : std::vector<std::pair<std::string, std::string>>{
           {"/v3/auth/role/add", R"({"name": "root"})"},
           {"/v3/auth/user/add", R"({"name": "root", "password": "s3cret"})"},
           {"/v3/auth/user/grant", R"({"user": "root", "role": "root"})"},
           {"/v3/auth/enable", "{}"}}) {
    ASSERT_THAT((*etcd)->GatewayPost(0, path, body), IsOk()) << path;
  }

  EXPECT_THAT(EtcdStore::Connect({.endpoints = (*etcd)->endpoints()}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("user name is empty")));
  EXPECT_THAT(EtcdStore::Connect(
                  {.endpoints = (*etcd)->endpoints(), .username = "root", .password = "wrong"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("authentication failed")));

  ORCH_ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<EtcdStore> store,
      EtcdStore::Connect(
          {.endpoints = (*etcd)->endpoints(), .username = "root", .password = "s3cret"}));
  ORCH_ASSERT_OK_AND_ASSIGN(const int64_t created, store->Create("/registry/things/a", "v"));
  ORCH_ASSERT_OK_AND_ASSIGN(auto watcher, store->Watch("/registry/", {.from_revision = created}));
  absl::SleepFor(absl::Seconds(3));  // the token expires
  ORCH_ASSERT_OK_AND_ASSIGN(KeyValue got, store->Get("/registry/things/a"));
  EXPECT_EQ(got.value, "v");
  ASSERT_THAT(store->Update("/registry/things/a", "v2", got.mod_revision), IsOk());
  EXPECT_TRUE(watcher->Wait(absl::Seconds(10)));
  std::vector<EventPtr> events;
  ASSERT_THAT(watcher->Poll(&events), IsOk());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]->kv.value, "v2");
}

// etcd that serves its clients only on TLS and wants a client certificate: with the CA
// and the certificate, every kind of call works (a write, a read, a watch, a lease); a
// client that cannot complete the handshake gets kUnavailable within its deadline, and
// files that are not there or not PEM are named.
TEST(EtcdStoreTlsTest, WorksWithTheCertificatesAndRefusesWithoutThem) {
  absl::StatusOr<std::unique_ptr<EtcdCluster>> etcd =
      EtcdCluster::Start({.members = 1, .tls = true});
  if (orch::testing::IsMissingEtcd(etcd.status())) GTEST_SKIP() << etcd.status();
  ASSERT_THAT(etcd, IsOk());
  const orch::testing::EtcdTlsFiles& tls = (*etcd)->tls_files();
  EXPECT_TRUE(absl::StartsWith((*etcd)->client_url(0), "https://"));

  ORCH_ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<EtcdStore> store,
      EtcdStore::Connect({.endpoints = (*etcd)->endpoints(),
                          .ca_file = tls.ca_file,
                          .cert_file = tls.cert_file,
                          .key_file = tls.key_file}));
  ORCH_ASSERT_OK_AND_ASSIGN(auto watcher, store->Watch("/registry/"));
  ORCH_ASSERT_OK_AND_ASSIGN(const LeaseId lease, store->GrantLease(absl::Seconds(30)));
  ORCH_ASSERT_OK_AND_ASSIGN(const int64_t created,
                            store->Create("/registry/things/a", "v", lease));
  ORCH_ASSERT_OK_AND_ASSIGN(KeyValue got, store->Get("/registry/things/a"));
  EXPECT_EQ(got.value, "v");
  EXPECT_EQ(got.mod_revision, created);
  EXPECT_TRUE(watcher->Wait(absl::Seconds(10)));
  std::vector<EventPtr> events;
  ASSERT_THAT(watcher->Poll(&events), IsOk());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]->kv.value, "v");
  // What the store wrote, read back over etcd's own gateway (the fixture's TLS client).
  ORCH_ASSERT_OK_AND_ASSIGN(
      std::string range,
      (*etcd)->GatewayPost(0, "/v3/kv/range",
                           absl::StrCat(R"({"key":")", absl::Base64Escape("/registry/things/a"),
                                        R"("})")));
  EXPECT_THAT(range, HasSubstr(absl::Base64Escape("v")));

  const absl::Duration timeout = absl::Seconds(2);
  struct Refused {
    std::string what;  // as the error says how the store connected
    EtcdStoreOptions options;
  };
  for (const Refused& refused : std::vector<Refused>{
           {"over plain text", {.endpoints = (*etcd)->endpoints(), .request_timeout = timeout}},
           {"over TLS without a client certificate",
            {.endpoints = (*etcd)->endpoints(), .request_timeout = timeout,
             .ca_file = tls.ca_file}},
           // A certificate that is no CA verifies nothing the members show.
           {"over TLS with a client certificate",
            {.endpoints = (*etcd)->endpoints(), .request_timeout = timeout,
             .ca_file = tls.cert_file, .cert_file = tls.cert_file, .key_file = tls.key_file}}}) {
    const absl::Time start = absl::Now();
    EXPECT_THAT(EtcdStore::Connect(refused.options),
                StatusIs(absl::StatusCode::kUnavailable,
                         AllOf(HasSubstr(refused.what), HasSubstr((*etcd)->endpoint(0)))))
        << refused.what;
    EXPECT_LT(absl::Now() - start, 3 * timeout) << refused.what;
  }
  EXPECT_THAT(EtcdStore::Connect({.endpoints = (*etcd)->endpoints(),
                                  .ca_file = (*etcd)->dir() + "/tls/missing.crt"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ca_file")));
  EXPECT_THAT(EtcdStore::Connect({.endpoints = (*etcd)->endpoints(),
                                  .ca_file = tls.ca_file,
                                  .cert_file = tls.cert_file,
                                  .key_file = (*etcd)->dir() + "/tls/client.ext"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("key_file")));
}

}  // namespace
}  // namespace orch::store
