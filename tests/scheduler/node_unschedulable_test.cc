// NodeUnschedulable, with the cases of kube-scheduler's node_unschedulable_test.go.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scheduler/fake_handle.h"
#include "scheduler/plugin_test_util.h"
#include "scheduler/plugins/factories.h"
#include "scheduler/test_objects.h"

namespace orch::scheduler {
namespace {

using ::testing::ElementsAre;
using testing::MakeNode;
using testing::MakePod;

class NodeUnschedulableTest : public ::testing::Test {
 protected:
  NodeUnschedulableTest() : handle_(&snapshot_) {
    plugin_ = testing::MakePlugin(&plugins::NewNodeUnschedulable, handle_);
  }
  Status Filter(const testing::PodBuilder& pod, bool unschedulable) {
    return testing::RunFilter(*plugin_, *pod.Info(),
                              MakeNode("n").Unschedulable(unschedulable).Info());
  }
  testing::FakeSnapshot snapshot_;
  testing::FakeHandle handle_;
  std::unique_ptr<Plugin> plugin_;
};

TEST_F(NodeUnschedulableTest, CordonedNodeRejectsPod) {
  Status status = Filter(MakePod("p"), true);
  EXPECT_EQ(status.code(), Code::kUnschedulableAndUnresolvable);
  EXPECT_THAT(status.reasons(), ElementsAre("node(s) were unschedulable"));
}

TEST_F(NodeUnschedulableTest, SchedulableNodeAcceptsPod) {
  EXPECT_TRUE(Filter(MakePod("p"), false).ok());
}

TEST_F(NodeUnschedulableTest, PodToleratingTheUnschedulableTaintFits) {
  EXPECT_TRUE(Filter(MakePod("p").Toleration("node.kubernetes.io/unschedulable", "Exists", "",
                                              "NoSchedule"),
                     true)
                  .ok());
  // Any toleration that covers key node.kubernetes.io/unschedulable, value "", NoSchedule.
  EXPECT_TRUE(Filter(MakePod("p").Toleration("", "Exists", "", ""), true).ok());
  EXPECT_TRUE(
      Filter(MakePod("p").Toleration("node.kubernetes.io/unschedulable", "", "", ""), true).ok());
}

TEST_F(NodeUnschedulableTest, TolerationOfAnotherEffectOrValueDoesNotHelp) {
  EXPECT_FALSE(Filter(MakePod("p").Toleration("node.kubernetes.io/unschedulable", "Exists", "",
                                               "NoExecute"),
                      true)
                   .ok());
  EXPECT_FALSE(Filter(MakePod("p").Toleration("node.kubernetes.io/unschedulable", "Equal", "yes",
                                               "NoSchedule"),
                      true)
                   .ok());
}

TEST_F(NodeUnschedulableTest, RegistersNodeAddAndTaintChanges) {
  auto events = testing::As<EnqueueExtensions>(*plugin_).EventsToRegister();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(events[0].Matches({EventResource::kNode, kAdd}));
  EXPECT_TRUE(events[0].Matches({EventResource::kNode, kUpdateNodeTaint}));
  EXPECT_FALSE(events[0].Matches({EventResource::kPod, kDelete}));
}

}  // namespace
}  // namespace orch::scheduler
