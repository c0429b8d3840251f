#include "node/agent_gate.h"

#include <atomic>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "orch/base/executor.h"
#include "orch/runtime/fake_runtime.h"

namespace orch::node::internal {
namespace {

// A prober whose Probe blocks until released: a call under way for as long as the test
// wants.
class BlockingProber final : public runtime::Prober {
 public:
  void Probe(const runtime::ProbeRequest&,
             std::function<void(runtime::ProbeResult)> done) override {
    calls.fetch_add(1);
    entered.Notify();
    release.WaitForNotification();
    done({.success = true});
  }
  std::atomic<int> calls{0};
  absl::Notification entered;
  absl::Notification release;
};

// Returns once `closed` has stayed false for 50 ms, failing if it turned true: Close is
// waiting.
void ExpectStillWaiting(const std::atomic<bool>& closed, const char* what) {
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_FALSE(closed.load()) << "Close returned while " << what << " was under way";
}

TEST(AgentGateTest, CallsPassWhileOpenAndNoneStartsOnceClosed) {
  VirtualExecutor executor;
  runtime::FakeRuntime fake({.executor = &executor});
  AgentGate gate(&fake, nullptr, &executor);
  int answered = 0;
  gate.Version(cri::VersionRequest(), [&](absl::StatusOr<cri::VersionResponse> out) {
    EXPECT_TRUE(out.ok());
    ++answered;
  });
  executor.RunUntilIdle();
  EXPECT_EQ(answered, 1);

  gate.Close();
  gate.Version(cri::VersionRequest(),
               [&](absl::StatusOr<cri::VersionResponse>) { ++answered; });
  gate.ListContainers(cri::ListContainersRequest(),
                      [&](absl::StatusOr<cri::ListContainersResponse>) { ++answered; });
  executor.RunUntilIdle();
  EXPECT_EQ(answered, 1) << "a closed gate calls nothing and never calls back";
  gate.Close();  // idempotent
}

TEST(AgentGateTest, ACallbackThatArrivesAfterCloseIsDropped) {
  VirtualExecutor executor;  // the fake runtime answers through it
  runtime::FakeRuntime fake({.executor = &executor});
  AgentGate gate(&fake, nullptr, &executor);
  bool answered = false;
  gate.Version(cri::VersionRequest(),
               [&](absl::StatusOr<cri::VersionResponse>) { answered = true; });
  gate.Close();
  executor.RunUntilIdle();
  EXPECT_FALSE(answered) << "the agent's callback ran after Stop";
}

TEST(AgentGateTest, TasksRunWhileOpenAndAreDroppedOnceClosed) {
  VirtualExecutor executor;
  AgentGate gate(nullptr, nullptr, &executor);
  int ran = 0;
  gate.Post([&] { ++ran; });
  gate.PostAfter(absl::Seconds(1), [&] { ++ran; });
  executor.AdvanceBy(absl::Seconds(1));
  EXPECT_EQ(ran, 2);

  gate.Post([&] { ++ran; });                          // queued before Close
  gate.PostAfter(absl::Seconds(1), [&] { ++ran; });   // due after it
  const TimerId cancelled = gate.PostAfter(absl::Seconds(1), [&] { ++ran; });
  EXPECT_TRUE(gate.Cancel(cancelled));
  gate.Close();
  gate.Post([&] { ++ran; });  // after Close
  executor.AdvanceBy(absl::Seconds(2));
  EXPECT_EQ(ran, 2) << "a task of the agent ran after Stop";
  EXPECT_EQ(&gate.clock(), &executor.clock());
}

TEST(AgentGateTest, CloseWaitsForTheProbeUnderWay) {
  BlockingProber prober;
  VirtualExecutor executor;
  runtime::FakeRuntime fake({.executor = &executor});
  AgentGate gate(&fake, &prober, &executor);
  std::atomic<bool> probed{false};
  std::thread caller([&] {
    gate.Probe(runtime::ProbeRequest(), [&](runtime::ProbeResult) { probed = true; });
  });
  prober.entered.WaitForNotification();
  std::atomic<bool> closed{false};
  std::thread closer([&] {
    gate.Close();
    closed = true;
  });
  ExpectStillWaiting(closed, "a probe");
  prober.release.Notify();
  closer.join();
  caller.join();
  EXPECT_TRUE(closed.load());
  EXPECT_TRUE(probed.load()) << "the probe's answer came before Close returned";

  gate.Probe(runtime::ProbeRequest(), [&](runtime::ProbeResult) { probed = false; });
  EXPECT_EQ(prober.calls.load(), 1) << "no probe starts once the gate is closed";
  EXPECT_TRUE(probed.load());
}

TEST(AgentGateTest, CloseWaitsForATaskRunningOnAPoolThread) {
  ThreadPoolExecutor pool(2);
  AgentGate gate(nullptr, nullptr, &pool);
  absl::Notification entered, release;
  std::atomic<bool> finished{false};
  gate.Post([&] {
    entered.Notify();
    release.WaitForNotification();
    finished = true;
  });
  entered.WaitForNotification();
  std::atomic<bool> closed{false};
  std::thread closer([&] {
    gate.Close();
    closed = true;
  });
  ExpectStillWaiting(closed, "a task");
  release.Notify();
  closer.join();
  EXPECT_TRUE(finished.load()) << "Close returned before the task did";
}

TEST(AgentGateTest, CloseFromInsideTheGatesOwnWorkDoesNotWaitForItself) {
  VirtualExecutor executor;
  AgentGate gate(nullptr, nullptr, &executor);
  bool closed_inside = false;
  int later = 0;
  gate.Post([&] {
    gate.Post([&] { ++later; });
    gate.Close();  // as Stop called by the agent's own work
    closed_inside = true;
  });
  executor.RunUntilIdle();
  EXPECT_TRUE(closed_inside);
  EXPECT_EQ(later, 0) << "a task posted before Close ran after it";
}

}  // namespace
}  // namespace orch::node::internal
