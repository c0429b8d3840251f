// NodePorts, with the cases of kube-scheduler's node_ports_test.go.
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scheduler/fake_handle.h"
#include "scheduler/plugin_test_util.h"
#include "scheduler/plugins/factories.h"
#include "scheduler/test_objects.h"
#include "support/status_matchers.h"

namespace orch::scheduler {
namespace {

using ::testing::ElementsAre;
using testing::MakeNode;
using testing::MakePod;
using testing::PodBuilder;

// A pod with host ports written "PROTOCOL/IP/PORT".
PodBuilder PodWithPorts(const std::string& name, const std::vector<std::string>& ports) {
  PodBuilder pod = MakePod(name);
  for (const std::string& p : ports) {
    std::vector<std::string> parts = absl::StrSplit(p, '/');
    int port = 0;
    EXPECT_TRUE(absl::SimpleAtoi(parts[2], &port)) << p;
    pod.HostPort(port, parts[0], parts[1]);
  }
  return pod;
}

struct Case {
  std::string name;
  std::vector<std::string> wanted;
  std::vector<std::string> used;  // by a pod already on the node
  bool fits;
};

class NodePortsTest : public ::testing::TestWithParam<Case> {};

TEST_P(NodePortsTest, Filter) {
  const Case& c = GetParam();
  testing::FakeSnapshot snapshot;
  testing::FakeHandle handle(&snapshot);
  std::unique_ptr<Plugin> plugin = testing::MakePlugin(&plugins::NewNodePorts, handle);
  NodeInfo node = MakeNode("m1").Info({PodWithPorts("existing", c.used).Node("m1").Info()});
  Status status = testing::RunFilter(*plugin, *PodWithPorts("pod", c.wanted).Info(), node);
  if (c.fits) {
    EXPECT_TRUE(status.ok()) << status.Message();
  } else {
    EXPECT_EQ(status.code(), Code::kUnschedulable);
    EXPECT_THAT(status.reasons(),
                ElementsAre("node(s) didn't have free ports for the requested pod ports"));
  }
}

INSTANTIATE_TEST_SUITE_P(
    KubeSchedulerCases, NodePortsTest,
    ::testing::Values(
        Case{"OtherPort", {"UDP/127.0.0.1/8080"}, {"UDP/127.0.0.1/9090"}, true},
        Case{"SameUdpPort", {"UDP/127.0.0.1/8080"}, {"UDP/127.0.0.1/8080"}, false},
        Case{"SameTcpPort", {"TCP/127.0.0.1/8080"}, {"TCP/127.0.0.1/8080"}, false},
        Case{"DifferentHostIp", {"TCP/127.0.0.1/8080"}, {"TCP/127.0.0.2/8080"}, true},
        Case{"DifferentProtocol", {"UDP/127.0.0.1/8080"}, {"TCP/127.0.0.1/8080"}, true},
        Case{"SecondUdpPortConflict",
             {"UDP/127.0.0.1/8000", "UDP/127.0.0.1/8080"},
             {"UDP/127.0.0.1/8080"},
             false},
        Case{"FirstTcpPortConflict",
             {"TCP/127.0.0.1/8001", "UDP/127.0.0.1/8080"},
             {"TCP/127.0.0.1/8001", "UDP/127.0.0.1/8081"},
             false},
        Case{"WildcardWantedConflicts", {"TCP/0.0.0.0/8001"}, {"TCP/127.0.0.1/8001"}, false},
        Case{"WildcardAmongWantedConflicts",
             {"TCP/10.0.10.10/8001", "TCP/0.0.0.0/8001"},
             {"TCP/127.0.0.1/8001"},
             false},
        Case{"WildcardUsedConflicts", {"TCP/127.0.0.1/8001"}, {"TCP/0.0.0.0/8001"}, false},
        Case{"WildcardOtherProtocol", {"UDP/127.0.0.1/8001"}, {"TCP/0.0.0.0/8001"}, true},
        Case{"WildcardUdpConflicts",
             {"UDP/127.0.0.1/8001"},
             {"TCP/0.0.0.0/8001", "UDP/0.0.0.0/8001"},
             false},
        Case{"EmptyIpMeansEveryAddress", {"TCP//8001"}, {"TCP/10.1.1.1/8001"}, false},
        Case{"EmptyProtocolMeansTcp", {"/127.0.0.1/8001"}, {"TCP/127.0.0.1/8001"}, false}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(NodePortsPluginTest, PodWithoutHostPortsSkipsFilter) {
  testing::FakeSnapshot snapshot;
  testing::FakeHandle handle(&snapshot);
  std::unique_ptr<Plugin> plugin = testing::MakePlugin(&plugins::NewNodePorts, handle);
  CycleState state;
  PreFilterResult result;
  // A container port without a host port does not count.
  api::v1::Pod pod = MakePod("p").Req({}).Obj();
  pod.mutable_spec()->mutable_containers(0)->add_ports()->set_container_port(80);
  ORCH_ASSERT_OK_AND_ASSIGN(PodInfoPtr info,
                            PodInfo::Create(std::make_shared<const api::v1::Pod>(pod)));
  EXPECT_TRUE(testing::As<PreFilterPlugin>(*plugin).PreFilter(state, *info, &result).IsSkip());
  EXPECT_TRUE(result.all_nodes);
  EXPECT_TRUE(testing::As<PreFilterPlugin>(*plugin)
                  .PreFilter(state, *MakePod("q").HostPort(80).Info(), &result)
                  .ok());
}

TEST(NodePortsPluginTest, RegistersPodDeleteAndNodeAdd) {
  testing::FakeSnapshot snapshot;
  testing::FakeHandle handle(&snapshot);
  std::unique_ptr<Plugin> plugin = testing::MakePlugin(&plugins::NewNodePorts, handle);
  auto events = testing::As<EnqueueExtensions>(*plugin).EventsToRegister();
  auto matches = [&](ClusterEvent happened) {
    return std::any_of(events.begin(), events.end(),
                       [&](const ClusterEvent& e) { return e.Matches(happened); });
  };
  EXPECT_TRUE(matches({EventResource::kPod, kDelete}));
  EXPECT_TRUE(matches({EventResource::kNode, kAdd}));
  EXPECT_FALSE(matches({EventResource::kPod, kAdd}));
  EXPECT_FALSE(matches({EventResource::kNode, kUpdateNodeLabel}));
}

}  // namespace
}  // namespace orch::scheduler
