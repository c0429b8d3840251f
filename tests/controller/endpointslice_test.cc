#include "orch/controller/endpointslice.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "fixture.h"
#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orch/api/v1/discovery.pb.h"
#include "support/status_matchers.h"

namespace orch::controller {
namespace {

namespace v1 = ::orch::api::v1;
using ::orch::testing::FaultStore;
using ::orch::testing::IsOk;
using ::orch::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr char kSlices[] = "/registry/endpointslices/";

class EndpointSliceTest : public testing::ControllerEnvTest {
 protected:
  void Start(EndpointSliceOptions options = {}) {
    ASSERT_THAT(AddEndpointSliceController(manager_.get(), options), IsOk());
    ASSERT_THAT(manager_->Start(), IsOk());
    executor_.RunUntilIdle();
  }

  // A Service selecting app=web with port 80 -> `target_port` (a name, or a number).
  v1::Service MakeService(const std::string& target_port = "8080") {
    v1::Service service;
    service.mutable_metadata()->set_name("web");
    service.mutable_metadata()->set_namespace_("default");
    (*service.mutable_metadata()->mutable_labels())["tier"] = "front";
    (*service.mutable_spec()->mutable_selector())["app"] = "web";
    v1::ServicePort& port = *service.mutable_spec()->add_ports();
    port.set_name("http");
    port.set_port(80);
    int number = 0;
    if (absl::SimpleAtoi(target_port, &number)) {
      port.mutable_target_port()->set_int_val(number);
    } else {
      port.mutable_target_port()->set_str_val(target_port);
    }
    return service;
  }
  void CreateService(const v1::Service& service) {
    ASSERT_THAT(direct_->Create(service), IsOk());
    executor_.RunUntilIdle();
  }

  // A pod app=web bound to `node`, with address `ip` ("" for none yet) and Ready as given;
  // its container declares port `http` = `http_port`.
  void CreatePod(const std::string& name, const std::string& ip, bool ready,
                 const std::string& node = "node-a", int http_port = 8080) {
    v1::Pod pod = testing::MakePod(name);
    (*pod.mutable_metadata()->mutable_labels())["app"] = "web";
    pod.mutable_spec()->set_node_name(node);
    v1::ContainerPort& port = *pod.mutable_spec()->mutable_containers(0)->add_ports();
    port.set_name("http");
    port.set_container_port(http_port);
    ASSERT_THAT(direct_->Create(pod), IsOk());
    SetPodStatus(name, ip, ready);
  }
  void SetPodStatus(const std::string& name, const std::string& ip, bool ready) {
    v1::Pod pod = direct_->Get<v1::Pod>("default", name).value();
    pod.mutable_status()->set_phase("Running");
    pod.mutable_status()->set_pod_ip(ip);
    pod.mutable_status()->clear_pod_ips();
    if (!ip.empty()) pod.mutable_status()->add_pod_ips()->set_ip(ip);
    pod.mutable_status()->clear_conditions();
    v1::PodCondition& c = *pod.mutable_status()->add_conditions();
    c.set_type("Ready");
    c.set_status(ready ? "True" : "False");
    ASSERT_THAT(direct_->UpdateStatus(pod), IsOk());
    executor_.RunUntilIdle();
  }
  void CreateNode(const std::string& name, const std::string& zone) {
    v1::Node node;
    node.mutable_metadata()->set_name(name);
    if (!zone.empty()) (*node.mutable_metadata()->mutable_labels())["topology.kubernetes.io/zone"] = zone;
    ASSERT_THAT(direct_->Create(node), IsOk());
    executor_.RunUntilIdle();
  }

  std::vector<v1::EndpointSlice> Slices() {
    return direct_->List<v1::EndpointSlice>("default").value().items;
  }
  // Every endpoint's address across the slices, with its ready condition ("10.0.0.1+").
  std::vector<std::string> Addresses() {
    std::vector<std::string> out;
    for (const v1::EndpointSlice& s : Slices()) {
      for (const v1::Endpoint& e : s.endpoints()) {
        out.push_back(e.addresses(0) + (e.conditions().ready() ? "+" : "-"));
      }
    }
    return out;
  }
};

TEST_F(EndpointSliceTest, PodsBecomeEndpointsWithConditionsPortsAndTopology) {
  Start();
  CreateNode("node-a", "zone-1");
  CreateService(MakeService("http"));
  CreatePod("web-1", "10.64.0.2", true);
  CreatePod("web-2", "10.64.0.3", false);
  CreatePod("pending", "", false);  // no address yet: no endpoint

  std::vector<v1::EndpointSlice> slices = Slices();
  ASSERT_EQ(slices.size(), 1u);
  const v1::EndpointSlice& slice = slices[0];
  const v1::Service service = direct_->Get<v1::Service>("default", "web").value();
  EXPECT_THAT(slice.metadata().name(), HasSubstr("web-"));
  EXPECT_EQ(slice.address_type(), "IPv4");
  EXPECT_EQ(slice.metadata().labels().at(kServiceNameLabel), "web");
  EXPECT_EQ(slice.metadata().labels().at(kManagedByLabel), kEndpointSliceControllerName);
  EXPECT_EQ(slice.metadata().labels().at("tier"), "front");  // the Service's own labels
  ASSERT_EQ(slice.metadata().owner_references_size(), 1);
  EXPECT_EQ(slice.metadata().owner_references(0).uid(), service.metadata().uid());
  EXPECT_TRUE(slice.metadata().owner_references(0).controller());
  ASSERT_EQ(slice.ports_size(), 1);
  EXPECT_EQ(slice.ports(0).name(), "http");
  EXPECT_EQ(slice.ports(0).protocol(), "TCP");
  EXPECT_EQ(slice.ports(0).port(), 8080);  // the named container port
  ASSERT_EQ(slice.endpoints_size(), 2);
  const v1::Endpoint& ready = slice.endpoints(0);
  EXPECT_THAT(ready.addresses(), ElementsAre("10.64.0.2"));
  EXPECT_TRUE(ready.conditions().ready());
  EXPECT_TRUE(ready.conditions().serving());
  EXPECT_FALSE(ready.conditions().terminating());
  EXPECT_EQ(ready.node_name(), "node-a");
  EXPECT_EQ(ready.zone(), "zone-1");
  EXPECT_EQ(ready.target_ref().kind(), "Pod");
  EXPECT_EQ(ready.target_ref().name(), "web-1");
  const v1::Endpoint& unready = slice.endpoints(1);
  EXPECT_FALSE(unready.conditions().ready());
  EXPECT_FALSE(unready.conditions().serving());
  EXPECT_TRUE(unready.conditions().has_ready());  // false, not unknown
}

TEST_F(EndpointSliceTest, TerminatingPodsServeButAreNotReady) {
  Start();
  CreateService(MakeService());
  CreatePod("web-1", "10.64.0.2", true);
  ASSERT_THAT(direct_->Delete<v1::Pod>("default", "web-1", {.grace_period_seconds = 30}), IsOk());
  executor_.RunUntilIdle();
  ASSERT_THAT(Addresses(), ElementsAre("10.64.0.2-"));
  const v1::Endpoint e = Slices()[0].endpoints(0);
  EXPECT_TRUE(e.conditions().serving());
  EXPECT_TRUE(e.conditions().terminating());
  // Gone for good: the endpoint goes, and the Service keeps an empty slice.
  ASSERT_THAT(direct_->Delete<v1::Pod>("default", "web-1", {.grace_period_seconds = 0}), IsOk());
  executor_.RunUntilIdle();
  EXPECT_THAT(Addresses(), IsEmpty());
  ASSERT_EQ(Slices().size(), 1u);
  EXPECT_EQ(Slices()[0].ports_size(), 0);  // the placeholder has no ports
}

TEST_F(EndpointSliceTest, PublishNotReadyAddressesMakesEveryEndpointReady) {
  Start();
  v1::Service service = MakeService();
  service.mutable_spec()->set_publish_not_ready_addresses(true);
  service.mutable_spec()->set_cluster_ip("None");
  CreateService(service);
  CreatePod("web-1", "10.64.0.2", false);
  EXPECT_THAT(Addresses(), ElementsAre("10.64.0.2+"));
  EXPECT_EQ(Slices()[0].metadata().labels().count("service.kubernetes.io/headless"), 1u);
}

TEST_F(EndpointSliceTest, NamedPortsResolvePerPodIntoSeparateSlices) {
  Start();
  CreateService(MakeService("http"));
  CreatePod("web-1", "10.64.0.2", true, "node-a", 8080);
  CreatePod("web-2", "10.64.0.3", true, "node-a", 9090);
  std::map<int, std::vector<std::string>> by_port;
  for (const v1::EndpointSlice& s : Slices()) {
    ASSERT_EQ(s.ports_size(), 1);
    for (const v1::Endpoint& e : s.endpoints()) by_port[s.ports(0).port()].push_back(e.addresses(0));
  }
  EXPECT_THAT(by_port[8080], ElementsAre("10.64.0.2"));
  EXPECT_THAT(by_port[9090], ElementsAre("10.64.0.3"));
}

TEST_F(EndpointSliceTest, SlicesHoldAtMostTheLimitAndEndpointsStayWhereTheyAre) {
  Start({.max_endpoints_per_slice = 3});
  CreateService(MakeService());
  for (int i = 0; i < 7; ++i) CreatePod(fmt::format("web-{}", i), fmt::format("10.64.0.{}", 10 + i), true);
  std::vector<v1::EndpointSlice> slices = Slices();
  ASSERT_EQ(slices.size(), 3u);
  std::map<std::string, std::string> slice_of;  // pod -> slice name
  std::vector<int> sizes;
  for (const v1::EndpointSlice& s : slices) {
    sizes.push_back(s.endpoints_size());
    for (const v1::Endpoint& e : s.endpoints()) slice_of[e.target_ref().name()] = s.metadata().name();
  }
  EXPECT_THAT(sizes, UnorderedElementsAre(3, 3, 1));

  // Two pods go, one comes: the newcomer fills a slice with room, nobody else moves.
  ASSERT_THAT(direct_->Delete<v1::Pod>("default", "web-0", {.grace_period_seconds = 0}), IsOk());
  ASSERT_THAT(direct_->Delete<v1::Pod>("default", "web-1", {.grace_period_seconds = 0}), IsOk());
  executor_.RunUntilIdle();
  CreatePod("web-9", "10.64.0.99", true);
  slices = Slices();
  EXPECT_EQ(slices.size(), 3u);
  int endpoints = 0;
  for (const v1::EndpointSlice& s : slices) {
    EXPECT_LE(s.endpoints_size(), 3);
    for (const v1::Endpoint& e : s.endpoints()) {
      ++endpoints;
      const std::string& pod = e.target_ref().name();
      if (pod != "web-9") EXPECT_EQ(slice_of[pod], s.metadata().name()) << pod << " moved";
    }
  }
  EXPECT_EQ(endpoints, 6);
}

TEST_F(EndpointSliceTest, ReadinessChangeUpdatesTheSliceInPlace) {
  Start();
  CreateService(MakeService());
  CreatePod("web-1", "10.64.0.2", false);
  const std::string name = Slices()[0].metadata().name();
  const int creates = faults_->Succeeded(FaultStore::Op::kCreate, kSlices);
  SetPodStatus("web-1", "10.64.0.2", true);
  EXPECT_THAT(Addresses(), ElementsAre("10.64.0.2+"));
  EXPECT_EQ(Slices()[0].metadata().name(), name);
  EXPECT_EQ(faults_->Succeeded(FaultStore::Op::kCreate, kSlices), creates);
  // A status write that changes nothing an endpoint shows writes nothing.
  const int updates = faults_->Succeeded(FaultStore::Op::kUpdate, kSlices);
  v1::Pod pod = direct_->Get<v1::Pod>("default", "web-1").value();
  pod.mutable_status()->set_message("still fine");
  ASSERT_THAT(direct_->UpdateStatus(pod), IsOk());
  executor_.RunUntilIdle();
  EXPECT_EQ(faults_->Succeeded(FaultStore::Op::kUpdate, kSlices), updates);
}

TEST_F(EndpointSliceTest, ServicesWithoutSelectorOrExternalNameGetNoSlices) {
  Start();
  v1::Service manual = MakeService();
  manual.mutable_metadata()->set_name("manual");
  manual.mutable_spec()->clear_selector();
  CreateService(manual);
  v1::Service external;
  external.mutable_metadata()->set_name("external");
  external.mutable_metadata()->set_namespace_("default");
  external.mutable_spec()->set_type("ExternalName");
  external.mutable_spec()->set_external_name("db.example.com");
  (*external.mutable_spec()->mutable_selector())["app"] = "web";
  CreateService(external);
  CreatePod("web-1", "10.64.0.2", true);
  EXPECT_THAT(Slices(), IsEmpty());
}

TEST_F(EndpointSliceTest, PodsLeavingTheSelectorLeaveTheSlice) {
  Start();
  CreateService(MakeService());
  CreatePod("web-1", "10.64.0.2", true);
  CreatePod("web-2", "10.64.0.3", true);
  v1::Pod pod = direct_->Get<v1::Pod>("default", "web-2").value();
  (*pod.mutable_metadata()->mutable_labels())["app"] = "debug";
  ASSERT_THAT(direct_->Update(pod), IsOk());
  executor_.RunUntilIdle();
  EXPECT_THAT(Addresses(), ElementsAre("10.64.0.2+"));
}

TEST_F(EndpointSliceTest, PodChangesWithinTheBatchPeriodAreWrittenOnce) {
  Start({.batch_period = absl::Seconds(1)});
  CreateService(MakeService());
  executor_.AdvanceBy(absl::Seconds(2));
  const int before = faults_->Succeeded(FaultStore::Op::kCreate, kSlices) +
                     faults_->Succeeded(FaultStore::Op::kUpdate, kSlices);
  for (int i = 0; i < 10; ++i) CreatePod(fmt::format("web-{}", i), fmt::format("10.64.0.{}", 10 + i), true);
  EXPECT_EQ(Addresses().size(), 0u);  // within the batch period: nothing written yet
  executor_.AdvanceBy(absl::Seconds(2));
  EXPECT_EQ(Addresses().size(), 10u);
  const int after = faults_->Succeeded(FaultStore::Op::kCreate, kSlices) +
                    faults_->Succeeded(FaultStore::Op::kUpdate, kSlices);
  EXPECT_EQ(after - before, 1);  // the placeholder updated once with all ten
}

TEST_F(EndpointSliceTest, ALaggingSliceCacheNeverMakesASecondSlice) {
  Start();
  CreateService(MakeService());
  ASSERT_EQ(Slices().size(), 1u);  // the placeholder, seen by the cache
  faults_->HoldWatches(kSlices);
  CreatePod("web-1", "10.64.0.2", true);  // the placeholder is updated; the cache lags
  CreatePod("web-2", "10.64.0.3", true);  // must wait for the cache, not write on old state
  EXPECT_EQ(Slices().size(), 1u);
  faults_->ReleaseWatches();
  executor_.RunUntilIdle();
  ASSERT_EQ(Slices().size(), 1u);
  EXPECT_THAT(Addresses(), UnorderedElementsAre("10.64.0.2+", "10.64.0.3+"));
}

TEST_F(EndpointSliceTest, FailedWritesAreRetriedAndReported) {
  Start();
  CreateService(MakeService());
  faults_->FailNext(FaultStore::Op::kUpdate, kSlices, 2, absl::UnavailableError("etcd is down"));
  CreatePod("web-1", "10.64.0.2", true);
  EXPECT_THAT(Addresses(), IsEmpty());  // refused, nothing half written
  executor_.AdvanceBy(absl::Seconds(5));  // the work queue's backoff
  EXPECT_THAT(Addresses(), ElementsAre("10.64.0.2+"));
  bool reported = false;
  const auto events = direct_->List<v1::Event>("default").value();
  for (const v1::Event& e : events.items) {
    if (e.reason() == "FailedToUpdateEndpointSlices") {
      reported = true;
      EXPECT_THAT(e.message(), HasSubstr("Error updating Endpoint Slices for Service default/web"));
      EXPECT_THAT(e.message(), HasSubstr("etcd is down"));
    }
  }
  EXPECT_TRUE(reported);
}

TEST_F(EndpointSliceTest, ANodesNewZoneReachesItsEndpoints) {
  Start();
  CreateNode("node-a", "zone-1");
  CreateNode("node-b", "zone-1");
  CreateService(MakeService());
  CreatePod("web-1", "10.64.0.2", true, "node-a");
  CreatePod("web-2", "10.64.0.3", true, "node-b");
  v1::Node node = direct_->Get<v1::Node>("", "node-a").value();
  (*node.mutable_metadata()->mutable_labels())["topology.kubernetes.io/zone"] = "zone-2";
  ASSERT_THAT(direct_->Update(node), IsOk());
  executor_.RunUntilIdle();
  std::map<std::string, std::string> zones;
  const std::vector<v1::EndpointSlice> slices = Slices();
  ASSERT_EQ(slices.size(), 1u);
  for (const v1::Endpoint& e : slices[0].endpoints()) zones[e.target_ref().name()] = e.zone();
  EXPECT_EQ(zones, (std::map<std::string, std::string>{{"web-1", "zone-2"}, {"web-2", "zone-1"}}));
}

TEST_F(EndpointSliceTest, BadOptionsAreRefused) {
  EXPECT_THAT(AddEndpointSliceController(manager_.get(), {.max_endpoints_per_slice = 0}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_endpoints_per_slice")));
  EXPECT_THAT(AddEndpointSliceController(manager_.get(), {.max_endpoints_per_slice = 1001}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("between 1 and 1000")));
  EXPECT_THAT(AddEndpointSliceController(manager_.get(), {.concurrent_syncs = 0}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("concurrent_syncs")));
  EXPECT_THAT(AddEndpointSliceController(manager_.get(), {.batch_period = absl::Seconds(-1)}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("batch_period")));
}

}  // namespace
}  // namespace orch::controller
