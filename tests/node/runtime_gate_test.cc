#include "node/runtime_gate.h"

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

TEST(RuntimeGateTest, CallsPassWhileOpenAndNoneStartsOnceClosed) {
  VirtualExecutor executor;
  runtime::FakeRuntime fake({.executor = &executor});
  RuntimeGate gate(&fake, nullptr);
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

TEST(RuntimeGateTest, CloseWaitsForTheCallUnderWay) {
  BlockingProber prober;
  VirtualExecutor executor;
  runtime::FakeRuntime fake({.executor = &executor});
  RuntimeGate gate(&fake, &prober);
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
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_FALSE(closed.load()) << "Close returned while a probe was under way";
  prober.release.Notify();
  closer.join();
  caller.join();
  EXPECT_TRUE(closed.load());
  EXPECT_TRUE(probed.load());

  gate.Probe(runtime::ProbeRequest(), [&](runtime::ProbeResult) { probed = false; });
  EXPECT_EQ(prober.calls.load(), 1) << "no probe starts once the gate is closed";
  EXPECT_TRUE(probed.load());
}

}  // namespace
}  // namespace orch::node::internal
