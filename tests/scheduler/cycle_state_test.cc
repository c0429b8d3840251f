// CycleState and PluginNameSet: the per-cycle data plugins share, kept in place so a cycle
// costs few allocations — and still behaving as a map and a set.
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "orch/scheduler/framework.h"

namespace orch::scheduler {
namespace {

struct Number final : CycleState::Data {
  explicit Number(int v) : value(v) {}
  std::unique_ptr<Data> Clone() const override { return std::make_unique<Number>(value); }
  int value;
};

int ValueAt(const CycleState& state, const std::string& key) {
  const Number* n = state.Read<Number>(key);
  return n == nullptr ? -1 : n->value;
}

TEST(PluginNameSetTest, InsertsOnceAndFindsExactNames) {
  PluginNameSet set;
  EXPECT_TRUE(set.empty());
  set.insert("NodeResourcesBalancedAllocation");
  set.insert("PodTopologySpread");
  set.insert("NodeResourcesBalancedAllocation");
  EXPECT_EQ(set.size(), 2u);
  EXPECT_TRUE(set.contains("PodTopologySpread"));
  EXPECT_TRUE(set.contains("NodeResourcesBalancedAllocation"));
  EXPECT_FALSE(set.contains("PodTopology"));          // a prefix is not a name
  EXPECT_FALSE(set.contains("PodTopologySpreadX"));   // nor is a longer one
  EXPECT_FALSE(set.contains(""));
}

TEST(PluginNameSetTest, EqualityIgnoresOrder) {
  PluginNameSet a, b, c;
  for (const char* name : {"InterPodAffinity", "PodTopologySpread", "TaintToleration"}) a.insert(name);
  for (const char* name : {"TaintToleration", "InterPodAffinity", "PodTopologySpread"}) b.insert(name);
  for (const char* name : {"TaintToleration", "InterPodAffinity"}) c.insert(name);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  c.insert("NodePorts");
  EXPECT_NE(a, c);  // same size, different names
  EXPECT_EQ(PluginNameSet(), PluginNameSet());
}

TEST(CycleStateTest, WritesReadsOverwritesAndDeletesByKey) {
  CycleState state;
  // More keys, and longer, than the state keeps in place: they must spill over unharmed.
  for (int i = 0; i < 40; ++i) {
    state.Write("PreFilterSomePluginWithALongName/" + std::to_string(i), std::make_unique<Number>(i));
  }
  for (int i = 0; i < 40; ++i) {
    EXPECT_EQ(ValueAt(state, "PreFilterSomePluginWithALongName/" + std::to_string(i)), i);
  }
  state.Write("PreFilterSomePluginWithALongName/7", std::make_unique<Number>(700));
  EXPECT_EQ(ValueAt(state, "PreFilterSomePluginWithALongName/7"), 700);
  state.Delete("PreFilterSomePluginWithALongName/3");
  EXPECT_EQ(ValueAt(state, "PreFilterSomePluginWithALongName/3"), -1);
  EXPECT_EQ(ValueAt(state, "PreFilterSomePluginWithALongName/4"), 4);
  EXPECT_EQ(ValueAt(state, "PreFilterSomePluginWithALongName/"), -1);  // a prefix of keys
  state.Write("PreFilterSomePluginWithALongName/3", std::make_unique<Number>(33));
  EXPECT_EQ(ValueAt(state, "PreFilterSomePluginWithALongName/3"), 33);
}

TEST(CycleStateTest, CloneCopiesDataAndSkipsIndependently) {
  CycleState state;
  state.Write("a", std::make_unique<Number>(1));
  state.Write("b", std::make_unique<Number>(2));
  state.Delete("a");
  state.skip_filter.insert("NodePorts");
  state.skip_score.insert("ImageLocality");
  std::unique_ptr<CycleState> copy = state.Clone();
  EXPECT_EQ(ValueAt(*copy, "a"), -1);
  EXPECT_EQ(ValueAt(*copy, "b"), 2);
  EXPECT_TRUE(copy->skip_filter.contains("NodePorts"));
  EXPECT_TRUE(copy->skip_score.contains("ImageLocality"));
  copy->Write("b", std::make_unique<Number>(20));
  copy->skip_filter.insert("NodeAffinity");
  EXPECT_EQ(ValueAt(state, "b"), 2);
  EXPECT_FALSE(state.skip_filter.contains("NodeAffinity"));
}

}  // namespace
}  // namespace orch::scheduler
