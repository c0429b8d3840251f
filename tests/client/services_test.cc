// Service address allocation by the Client: cluster IPs and node ports.
#include <set>
#include <string>
#include <vector>

#include "fixture.h"
#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orch/client/client.h"
#include "orch/testing/fault_store.h"
#include "support/status_matchers.h"

namespace orch::client::testing {
namespace {

using ::orch::testing::FaultStore;
using ::orch::testing::IsOk;
using ::orch::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

v1::Service MakeService(const std::string& name, const std::string& type = "ClusterIP") {
  v1::Service service;
  service.mutable_metadata()->set_name(name);
  service.mutable_metadata()->set_namespace_("default");
  service.mutable_spec()->set_type(type);
  (*service.mutable_spec()->mutable_selector())["app"] = name;
  v1::ServicePort& port = *service.mutable_spec()->add_ports();
  port.set_name("http");
  port.set_port(80);
  return service;
}

class ServiceAllocationTest : public ClientTest {
 protected:
  void SetUp() override {
    ClientTest::SetUp();
    // 10.0.0.0/29: six usable addresses, .1 to .6.
    ASSERT_THAT(client_->SetServiceRanges({.cluster_ip_range = "10.0.0.0/29",
                                           .node_port_min = 30000,
                                           .node_port_max = 30003}),
                IsOk());
  }
  // The reservation keys in the store.
  std::vector<std::string> Reservations() {
    std::vector<std::string> keys;
    const store::ListResult list = store_->List("/registry/ranges/").value();
    for (const auto& kv : list.items) keys.push_back(kv.key);
    return keys;
  }
};

TEST_F(ServiceAllocationTest, EveryServiceGetsItsOwnAddressUntilTheRangeIsFull) {
  std::set<std::string> ips;
  for (int i = 0; i < 6; ++i) {
    ORCH_ASSERT_OK_AND_ASSIGN(v1::Service s, client_->Create(MakeService(fmt::format("s{}", i))));
    const v1::ServiceSpec& spec = s.spec();
    EXPECT_THAT(spec.cluster_ips(), ElementsAre(spec.cluster_ip()));
    EXPECT_THAT(spec.ip_families(), ElementsAre("IPv4"));
    EXPECT_EQ(spec.ip_family_policy(), "SingleStack");
    ips.insert(spec.cluster_ip());
  }
  EXPECT_EQ(ips, (std::set<std::string>{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4",
                                        "10.0.0.5", "10.0.0.6"}));
  EXPECT_THAT(client_->Create(MakeService("s6")),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("failed to allocate a serviceIP: range is full")));
  // Deleting a Service gives its address back at once.
  const std::string freed = client_->Get<v1::Service>("default", "s3")->spec().cluster_ip();
  ASSERT_THAT(client_->Delete<v1::Service>("default", "s3"), IsOk());
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Service again, client_->Create(MakeService("s6")));
  EXPECT_EQ(again.spec().cluster_ip(), freed);
}

TEST_F(ServiceAllocationTest, ARequestedAddressMustBeInTheRangeAndFree) {
  v1::Service a = MakeService("a");
  a.mutable_spec()->set_cluster_ip("10.0.0.5");
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Service created, client_->Create(a));
  EXPECT_EQ(created.spec().cluster_ip(), "10.0.0.5");
  v1::Service b = MakeService("b");
  b.mutable_spec()->set_cluster_ip("10.0.0.5");
  EXPECT_THAT(client_->Create(b),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("spec.clusterIPs: Invalid value: [\"10.0.0.5\"]: failed to "
                                 "allocate IP 10.0.0.5: provided IP is already allocated")));
  b.mutable_spec()->set_cluster_ip("10.1.0.9");
  EXPECT_THAT(client_->Create(b),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("the provided IP (10.1.0.9) is not in the valid range. The "
                                 "range of valid IPs is 10.0.0.0/29")));
  b.mutable_spec()->set_cluster_ip("10.0.0.7");  // the broadcast address
  EXPECT_THAT(client_->Create(b), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr("not in the valid range")));
  EXPECT_THAT(Reservations(), ElementsAre("/registry/ranges/serviceips/10.0.0.5"));
}

TEST_F(ServiceAllocationTest, HeadlessAndExternalNameServicesTakeNoAddress) {
  v1::Service headless = MakeService("headless");
  headless.mutable_spec()->set_cluster_ip("None");
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Service h, client_->Create(headless));
  EXPECT_THAT(h.spec().cluster_ips(), ElementsAre("None"));
  v1::Service external = MakeService("external", "ExternalName");
  external.mutable_spec()->clear_ports();
  external.mutable_spec()->set_external_name("db.example.com");
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Service e, client_->Create(external));
  EXPECT_EQ(e.spec().cluster_ip(), "");
  EXPECT_THAT(e.spec().cluster_ips(), IsEmpty());
  EXPECT_THAT(Reservations(), IsEmpty());
}

TEST_F(ServiceAllocationTest, NodePortsAreAllocatedRequestedAndRefusedWhenTaken) {
  v1::Service np = MakeService("np", "NodePort");
  np.mutable_spec()->add_ports()->set_port(443);
  np.mutable_spec()->mutable_ports(1)->set_name("https");
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Service created, client_->Create(np));
  const int32_t first = created.spec().ports(0).node_port();
  const int32_t second = created.spec().ports(1).node_port();
  EXPECT_GE(first, 30000);
  EXPECT_LE(first, 30003);
  EXPECT_GE(second, 30000);
  EXPECT_LE(second, 30003);
  EXPECT_NE(first, second);

  v1::Service clash = MakeService("clash", "NodePort");
  clash.mutable_spec()->mutable_ports(0)->set_node_port(first);
  EXPECT_THAT(client_->Create(clash),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(fmt::format("spec.ports[0].nodePort: Invalid value: {}: provided "
                                             "port is already allocated",
                                             first))));
  clash.mutable_spec()->mutable_ports(0)->set_node_port(31000);
  EXPECT_THAT(client_->Create(clash),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("provided port is not in the valid range. The range of valid "
                                 "ports is 30000-30003")));
  // The refused creates reserved nothing: np's address and two ports only.
  EXPECT_EQ(Reservations().size(), 3u);
}

TEST_F(ServiceAllocationTest, UpdatesKeepWhatWasAllocatedAndAllocateNewNodePorts) {
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Service s, client_->Create(MakeService("web")));
  const std::string ip = s.spec().cluster_ip();
  // An update that leaves the address out keeps it.
  v1::Service update = s;
  update.mutable_spec()->clear_cluster_ip();
  update.mutable_spec()->clear_cluster_ips();
  update.mutable_spec()->set_type("NodePort");
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Service np, client_->Update(update));
  EXPECT_EQ(np.spec().cluster_ip(), ip);
  const int32_t node_port = np.spec().ports(0).node_port();
  EXPECT_NE(node_port, 0);
  // ... as does one that leaves the node port out.
  update = np;
  update.mutable_spec()->mutable_ports(0)->set_node_port(0);
  (*update.mutable_metadata()->mutable_labels())["tier"] = "front";
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Service labelled, client_->Update(update));
  EXPECT_EQ(labelled.spec().ports(0).node_port(), node_port);
  // The address may not change.
  update = labelled;
  update.mutable_spec()->set_cluster_ip("10.0.0.6");
  update.mutable_spec()->clear_cluster_ips();
  EXPECT_THAT(client_->Update(update),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("spec.clusterIPs[0]: Invalid value: \"10.0.0.6\": may not "
                                 "change once set")));
  // Back to ClusterIP: the node port is free for another Service at once.
  update = labelled;
  update.mutable_spec()->set_type("ClusterIP");
  update.mutable_spec()->mutable_ports(0)->set_node_port(0);
  update.mutable_spec()->clear_external_traffic_policy();
  ASSERT_THAT(client_->Update(update), IsOk());
  v1::Service other = MakeService("other", "NodePort");
  other.mutable_spec()->mutable_ports(0)->set_node_port(node_port);
  EXPECT_THAT(client_->Create(other), IsOk());
}

TEST_F(ServiceAllocationTest, ClientsSharingAStoreNeverHandOutOneAddressTwice) {
  Client second(store_.get(), &api::Scheme::Builtin(), &executor_.clock(), 99);
  ASSERT_THAT(second.SetServiceRanges({.cluster_ip_range = "10.0.0.0/29"}), IsOk());
  std::set<std::string> ips;
  for (int i = 0; i < 6; ++i) {
    Client& client = i % 2 == 0 ? *client_ : second;
    ORCH_ASSERT_OK_AND_ASSIGN(v1::Service s, client.Create(MakeService(fmt::format("s{}", i))));
    EXPECT_TRUE(ips.insert(s.spec().cluster_ip()).second) << s.spec().cluster_ip();
  }
}

TEST_F(ServiceAllocationTest, AFailedCreateLeavesNoReservation) {
  FaultStore faults(store_.get());
  Client client(&faults, &api::Scheme::Builtin(), &executor_.clock(), 5);
  ASSERT_THAT(client.SetServiceRanges({.cluster_ip_range = "10.0.0.0/29"}), IsOk());
  faults.FailNext(FaultStore::Op::kCreate, "/registry/services/", 1,
                  absl::UnavailableError("etcd is down"));
  EXPECT_THAT(client.Create(MakeService("web", "NodePort")),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(Reservations(), IsEmpty());
  EXPECT_THAT(client.Create(MakeService("web", "NodePort")), IsOk());
  EXPECT_EQ(Reservations().size(), 2u);
}

TEST_F(ServiceAllocationTest, AWriteRefusedForItsStringsLeavesNoReservation) {
  // Addresses are reserved before the object is encoded, and its strings checked.
  v1::Service service = MakeService("web", "NodePort");
  (*service.mutable_metadata()->mutable_annotations())["a"] = "\xff";
  EXPECT_THAT(client_->Create(service),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "metadata.annotations[a]: Invalid value: must be valid UTF-8"));
  EXPECT_THAT(Reservations(), IsEmpty());
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Service created, client_->Create(MakeService("web")));
  ASSERT_EQ(Reservations().size(), 1u);  // its cluster IP
  v1::Service update = created;
  update.mutable_spec()->set_type("NodePort");
  (*update.mutable_metadata()->mutable_annotations())["a"] = "\xff";
  EXPECT_THAT(client_->Update(update), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(Reservations().size(), 1u);
}

TEST_F(ServiceAllocationTest, AReservationLeftBehindIsFreeAfterAMinute) {
  // A writer that stopped between reserving 10.0.0.4 and creating its Service.
  ASSERT_THAT(store_->Create("/registry/ranges/serviceips/10.0.0.4",
                             fmt::format("default/ghost/0000-uid/{}",
                                         absl::ToUnixNanos(executor_.clock().Now()))),
              IsOk());
  v1::Service web = MakeService("web");
  web.mutable_spec()->set_cluster_ip("10.0.0.4");
  EXPECT_THAT(client_->Create(web), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("provided IP is already allocated")));
  executor_.AdvanceBy(absl::Seconds(61));
  ORCH_ASSERT_OK_AND_ASSIGN(v1::Service created, client_->Create(web));
  EXPECT_EQ(created.spec().cluster_ip(), "10.0.0.4");
}

TEST_F(ServiceAllocationTest, BadRangesAreNamed) {
  EXPECT_THAT(client_->SetServiceRanges({.cluster_ip_range = "10.0.0.0"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("cluster_ip_range: Invalid value: \"10.0.0.0\"")));
  EXPECT_THAT(client_->SetServiceRanges({.cluster_ip_range = "10.0.0.0/31"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("from 8 to 30")));
  EXPECT_THAT(client_->SetServiceRanges({.node_port_min = 40000, .node_port_max = 30000}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("node_port_min")));
}

}  // namespace
}  // namespace orch::client::testing
