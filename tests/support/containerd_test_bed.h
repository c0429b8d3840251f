// ContainerdTestBed: what a suite of tests on a real runtime shares — a private containerd
// (containerd_fixture.h), a CriRuntime connected to it, and a temporary directory for pod
// and container logs. A suite starts one in SetUpTestSuite and stops it in
// TearDownTestSuite:
//
//   static void SetUpTestSuite() { bed_ = new auto(ContainerdTestBed::Start({...})); }
//   void SetUp() override {
//     if (absl::IsFailedPrecondition(bed_->status())) GTEST_SKIP() << bed_->status();
//     ASSERT_THAT(*bed_, IsOk());
//   }
//   static void TearDownTestSuite() { EXPECT_THAT((**bed_)->Stop(), IsOk()); delete bed_; }
//
// Await (one runtime call, waited for) and Eventually (polling) serve the tests on it.
//
// Thread safety: as ContainerdFixture and CriRuntime. Ownership: the bed owns all three.
// Errors: Start fails as the fixture does (kFailedPrecondition when this machine cannot
// run containerd, so a suite skips), as CriRuntime::Connect does, or kInternal when the log
// directory cannot be made; nothing is left running then.
#ifndef ORCH_TESTS_SUPPORT_CONTAINERD_TEST_BED_H_
#define ORCH_TESTS_SUPPORT_CONTAINERD_TEST_BED_H_

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "orch/base/mutex.h"
#include "orch/base/status.h"
#include "orch/runtime/cri_runtime.h"
#include "support/containerd_fixture.h"

namespace orch::testing {

class ContainerdTestBed {
 public:
  // Starts containerd and connects to it with `options` (their endpoint is filled in).
  static absl::StatusOr<std::unique_ptr<ContainerdTestBed>> Start(
      runtime::CriRuntimeOptions options = {}) {
    auto bed = std::unique_ptr<ContainerdTestBed>(new ContainerdTestBed());
    ORCH_ASSIGN_OR_RETURN(bed->containerd_, ContainerdFixture::Start());
    options.endpoint = bed->containerd_->endpoint();
    ORCH_ASSIGN_OR_RETURN(bed->runtime_, runtime::CriRuntime::Connect(options));
    char log_root[] = "/tmp/orch-pod-logs-XXXXXX";
    if (::mkdtemp(log_root) == nullptr) {
      return absl::InternalError("mkdtemp for the pod logs failed");
    }
    bed->log_root_ = log_root;
    return bed;
  }

  ContainerdTestBed(const ContainerdTestBed&) = delete;
  ContainerdTestBed& operator=(const ContainerdTestBed&) = delete;
  ~ContainerdTestBed() { Stop().IgnoreError(); }

  // Closes the runtime, stops containerd (returning what its Stop returned) and removes
  // the logs. Safe to call twice.
  absl::Status Stop() {
    runtime_.reset();
    absl::Status stopped = containerd_ != nullptr ? containerd_->Stop() : absl::OkStatus();
    if (!log_root_.empty()) std::filesystem::remove_all(log_root_);
    log_root_.clear();
    return stopped;
  }

  ContainerdFixture& containerd() const { return *containerd_; }
  runtime::CriRuntime& runtime() const { return *runtime_; }
  // Where pods' logs go: pass it as NodeAgentOptions::pod_log_directory, or build
  // sandboxes' log_directory under it.
  const std::string& log_root() const { return log_root_; }

 private:
  ContainerdTestBed() = default;

  std::unique_ptr<ContainerdFixture> containerd_;
  std::unique_ptr<runtime::CriRuntime> runtime_;
  std::string log_root_;
};

// Makes one runtime call and blocks until its callback ran, or `timeout` passed (then
// kInternal, a code no runtime call returns). `callback_thread`, when given, receives the
// thread the callback ran on.
template <typename Request, typename Response>
absl::StatusOr<Response> Await(
    runtime::Runtime& runtime,
    void (runtime::Runtime::*method)(const Request&, runtime::Callback<Response>),
    const Request& request, absl::Duration timeout = absl::Seconds(60),
    std::thread::id* callback_thread = nullptr) {
  struct Outcome {
    Notification done;
    std::optional<absl::StatusOr<Response>> result;
    std::thread::id thread;
  };
  auto outcome = std::make_shared<Outcome>();
  (runtime.*method)(request, [outcome](absl::StatusOr<Response> result) {
    outcome->result = std::move(result);
    outcome->thread = std::this_thread::get_id();
    outcome->done.Notify();
  });
  if (!outcome->done.WaitForNotificationWithTimeout(timeout)) {
    return absl::InternalError(
        absl::StrCat("Await: no callback within ", absl::FormatDuration(timeout)));
  }
  if (callback_thread != nullptr) *callback_thread = outcome->thread;
  return *std::move(outcome->result);
}

// Polls `condition` every 50 ms for up to `timeout`; whether it came to hold.
template <typename Condition>
bool Eventually(Condition condition, absl::Duration timeout = absl::Seconds(10)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return true;
}

}  // namespace orch::testing

#endif  // ORCH_TESTS_SUPPORT_CONTAINERD_TEST_BED_H_
