// Expectations: what a controller has asked the store to do and not yet seen through
// its informers (Kubernetes' UIDTrackingControllerExpectations). A controller that
// created 5 pods must not create them again because its cache does not show them yet:
// it syncs only once the informer has reported those 5 creations (or the deletions it
// asked for), or after 5 minutes, in case an event was lost. Internal.
//
// Thread safety: every method may be called from any thread.
#ifndef ORCH_SRC_CONTROLLER_EXPECTATIONS_H_
#define ORCH_SRC_CONTROLLER_EXPECTATIONS_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "orch/base/clock.h"
#include "orch/base/mutex.h"
#include "orch/base/string_map.h"

namespace orch::controller::internal {

class Expectations {
 public:
  // Kubernetes' ExpectationsTimeout.
  static constexpr absl::Duration kTimeout = absl::Minutes(5);

  explicit Expectations(Clock* clock) : clock_(clock) {}

  // True when the controller of `key` may act: nothing is expected, everything expected
  // has been seen, or the expectations are older than kTimeout.
  bool Satisfied(std::string_view key) const;

  // Replaces the expectations of `key`: `count` creations.
  void ExpectCreations(std::string_view key, int count);
  // Replaces the expectations of `key`: the deletion of each pod in `pod_keys`.
  void ExpectDeletions(std::string_view key, const std::vector<std::string>& pod_keys);

  // One expected creation seen (or abandoned: a create that was never attempted).
  void CreationObserved(std::string_view key);
  // The deletion of `pod_key` seen (or abandoned); a pod not expected is ignored, so a
  // deletion seen twice (deletionTimestamp, then the delete) counts once.
  void DeletionObserved(std::string_view key, std::string_view pod_key);

  // Forgets `key` (its controller object is gone).
  void Delete(std::string_view key);

 private:
  struct Record {
    int creations = 0;
    StringSet deletions;
    absl::Time set_at;
  };

  Clock* const clock_;
  mutable Mutex mu_;
  StringMap<Record> records_ ABSL_GUARDED_BY(mu_);
};

}  // namespace orch::controller::internal

#endif  // ORCH_SRC_CONTROLLER_EXPECTATIONS_H_
