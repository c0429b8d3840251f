// PrioritySort, with the cases of kube-scheduler's priority_sort_test.go.
#include "gtest/gtest.h"
#include "scheduler/fake_handle.h"
#include "scheduler/plugin_test_util.h"
#include "scheduler/plugins/factories.h"
#include "scheduler/test_objects.h"

namespace orch::scheduler {
namespace {

using testing::MakePod;

QueuedPodInfo Queued(std::optional<int32_t> priority, absl::Time timestamp) {
  testing::PodBuilder pod = MakePod("p");
  if (priority.has_value()) pod.Priority(*priority);
  return QueuedPodInfo{pod.Info(), timestamp};
}

TEST(PrioritySortTest, HigherPriorityFirstThenEarlierTimestamp) {
  testing::FakeSnapshot snapshot;
  testing::FakeHandle handle(&snapshot);
  std::unique_ptr<Plugin> plugin = testing::MakePlugin(&plugins::NewPrioritySort, handle);
  auto& sort = testing::As<QueueSortPlugin>(*plugin);
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  const absl::Time t1 = t0 + absl::Seconds(1);

  // p1.priority greater than p2.priority
  EXPECT_TRUE(sort.Less(Queued(100, t0), Queued(50, t0)));
  // p1.priority less than p2.priority
  EXPECT_FALSE(sort.Less(Queued(50, t0), Queued(100, t0)));
  // equal priority: p1 added to the queue before p2
  EXPECT_TRUE(sort.Less(Queued(100, t0), Queued(100, t1)));
  // equal priority: p2 added before p1
  EXPECT_FALSE(sort.Less(Queued(100, t1), Queued(100, t0)));
  // equal everything: neither is less (a strict weak order)
  EXPECT_FALSE(sort.Less(Queued(100, t0), Queued(100, t0)));
  // no priority counts as 0, below positive and above negative priorities
  EXPECT_TRUE(sort.Less(Queued(1, t1), Queued(std::nullopt, t0)));
  EXPECT_TRUE(sort.Less(Queued(std::nullopt, t1), Queued(-1, t0)));
  EXPECT_EQ(plugin->Name(), "PrioritySort");
}

}  // namespace
}  // namespace orch::scheduler
