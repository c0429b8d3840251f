// NodeName, with the cases of kube-scheduler's node_name_test.go.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scheduler/fake_handle.h"
#include "scheduler/plugin_test_util.h"
#include "scheduler/plugins/factories.h"
#include "scheduler/test_objects.h"

namespace orch::scheduler {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;
using testing::MakeNode;
using testing::MakePod;

class NodeNameTest : public ::testing::Test {
 protected:
  NodeNameTest() : handle_(&snapshot_) {
    plugin_ = testing::MakePlugin(&plugins::NewNodeName, handle_);
  }
  testing::FakeSnapshot snapshot_;
  testing::FakeHandle handle_;
  std::unique_ptr<Plugin> plugin_;
};

TEST_F(NodeNameTest, PodWithoutNodeNameFitsAnywhere) {
  EXPECT_TRUE(testing::RunFilter(*plugin_, *MakePod("p").Info(), MakeNode("foo").Info()).ok());
  // And PreFilter says Filter need not run at all.
  CycleState state;
  PreFilterResult result;
  EXPECT_TRUE(testing::As<PreFilterPlugin>(*plugin_)
                  .PreFilter(state, *MakePod("p").Info(), &result)
                  .IsSkip());
  EXPECT_TRUE(result.all_nodes);
}

TEST_F(NodeNameTest, PodFitsItsNamedNode) {
  EXPECT_TRUE(
      testing::RunFilter(*plugin_, *MakePod("p").Node("foo").Info(), MakeNode("foo").Info()).ok());
}

TEST_F(NodeNameTest, PodDoesNotFitAnotherNode) {
  Status status =
      testing::RunFilter(*plugin_, *MakePod("p").Node("bar").Info(), MakeNode("foo").Info());
  EXPECT_EQ(status.code(), Code::kUnschedulableAndUnresolvable);
  EXPECT_THAT(status.reasons(), ElementsAre("node(s) didn't match the requested node name"));
}

TEST_F(NodeNameTest, PreFilterNarrowsToTheNamedNode) {
  CycleState state;
  PreFilterResult result;
  ASSERT_TRUE(testing::As<PreFilterPlugin>(*plugin_)
                  .PreFilter(state, *MakePod("p").Node("foo").Info(), &result)
                  .ok());
  EXPECT_FALSE(result.all_nodes);
  EXPECT_THAT(result.node_names, UnorderedElementsAre("foo"));
}

TEST_F(NodeNameTest, RegistersNodeAdd) {
  auto events = testing::As<EnqueueExtensions>(*plugin_).EventsToRegister();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(events[0].Matches({EventResource::kNode, kAdd}));
  EXPECT_FALSE(events[0].Matches({EventResource::kNode, kUpdateNodeLabel}));
}

}  // namespace
}  // namespace orch::scheduler
