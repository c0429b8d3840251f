// The Store conformance suite: one set of tests every Store backend must pass.
//
// A backend's own test file registers itself with a factory:
//
//   INSTANTIATE_TEST_SUITE_P(
//       MyStore, StoreConformanceTest,
//       ::testing::Values(StoreBackend{
//           .name = "my_store",
//           .time = ConformanceEnv::Time::kReal,
//           .make = [](ConformanceEnv& env) { return MakeMyStore(&env.clock()); },
//           .lease_ttl = absl::Seconds(2)}),
//       StoreBackendName);
//
// Time. A backend that takes its clock and executor from the env runs in virtual time:
// the suite moves a VirtualExecutor's clock, leases expire exactly when the test says, and
// lease tests take no wall time. A backend with its own notion of time (etcd) runs in real
// time: the suite sleeps instead, with the backend's `lease_ttl`, and waits (up to
// `patience`) for effects that arrive asynchronously, such as watch events.
//
// Isolation. `make` runs once per test and must return an empty store; a backend on a
// shared server clears its key space there (or gives each test its own). A backend whose
// server cannot run on this machine calls GTEST_SKIP() in `make` and returns nullptr. Assertions are relative to the store's
// revision when the test starts, so a backend may start above revision 0.
#ifndef ORCH_TESTS_STORE_STORE_CONFORMANCE_H_
#define ORCH_TESTS_STORE_STORE_CONFORMANCE_H_

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "orch/base/clock.h"
#include "orch/base/executor.h"
#include "orch/store/store.h"

namespace orch::store::testing {

// The time a backend under test lives in, and the means to let time pass.
class ConformanceEnv {
 public:
  enum class Time { kVirtual, kReal };

  explicit ConformanceEnv(Time time);
  ConformanceEnv(const ConformanceEnv&) = delete;
  ConformanceEnv& operator=(const ConformanceEnv&) = delete;
  ~ConformanceEnv();

  Time time() const { return time_; }
  // A VirtualExecutor's clock in virtual time, the real clock otherwise.
  Clock& clock();
  // A VirtualExecutor in virtual time; a one-thread ThreadPoolExecutor in real time.
  Executor& executor();

  // Lets `d` pass on clock(): virtual time jumps (running the timers that fall due), real
  // time sleeps.
  void Advance(absl::Duration d);

 private:
  const Time time_;
  std::unique_ptr<VirtualExecutor> virtual_executor_;
  std::unique_ptr<ThreadPoolExecutor> thread_pool_;
};

struct StoreBackend {
  std::string name;  // the test name suffix: letters, digits and '_'
  ConformanceEnv::Time time = ConformanceEnv::Time::kVirtual;
  // A new, empty store for one test. The env outlives the store.
  std::function<std::unique_ptr<Store>(ConformanceEnv&)> make;
  // The ttl lease tests grant. Real-time backends choose one their server accepts.
  absl::Duration lease_ttl = absl::Seconds(10);
  // The longest the suite waits in real time for an asynchronous effect.
  absl::Duration patience = absl::Seconds(5);
};

// For INSTANTIATE_TEST_SUITE_P's name generator.
std::string StoreBackendName(const ::testing::TestParamInfo<StoreBackend>& info);

// gtest prints parameters of failing tests; a std::function has no useful bytes.
inline void PrintTo(const StoreBackend& backend, std::ostream* os) { *os << backend.name; }

class StoreConformanceTest : public ::testing::TestWithParam<StoreBackend> {
 protected:
  void SetUp() override;
  void TearDown() override;

  Store& store() { return *store_; }
  ConformanceEnv& env() { return *env_; }
  const StoreBackend& backend() const { return GetParam(); }

 private:
  std::unique_ptr<ConformanceEnv> env_;
  std::unique_ptr<Store> store_;  // destroyed before the env
};

}  // namespace orch::store::testing

#endif  // ORCH_TESTS_STORE_STORE_CONFORMANCE_H_
