// Reconciler: the level-based heart of a controller (controller-runtime's
// reconcile.Reconciler).
//
// A controller calls Reconcile with the name of an object whose state may differ from
// what it should be — never with the change that caused it. The Reconciler reads the
// current state (from informer caches or the client), acts to move it towards the
// desired state, and says what should happen next:
//
//   class WebReconciler : public controller::Reconciler {
//     controller::Result Reconcile(const controller::Request& req) override {
//       auto web = lister_.Get(req.ns, req.name);
//       if (absl::IsNotFound(web.status())) return {};              // gone: done
//       ORCH_RETURN_IF_ERROR(web.status());                         // an error: retried
//       if (waiting_for_something) return controller::Result::RequeueAfter(absl::Seconds(5));
//       return client_->Update(changed).status();                   // OK: done
//     }
//   };
//
// A Result is an absl::Status (it converts from one implicitly, so ORCH_RETURN_IF_ERROR
// and `return status;` work) or, when OK, a wish to be reconciled again. What the
// controller does with it:
//   OK (Result{})                done; the key's failure count is reset.
//   RequeueAfter(d)              reconciled again after `d`; failures reset.
//   Requeue()                    reconciled again after the rate limiter's delay.
//   an error                     reconciled again after the rate limiter's delay (5 ms
//                                doubling per consecutive failure up to 1,000 s, plus the
//                                controller-wide token bucket).
//   TerminalError(...)           not retried: retrying cannot help (bad input, say). The
//                                next change to a watched object reconciles it again.
//
// Thread safety: a controller never calls Reconcile for the same Request twice at once,
// but with max_concurrent_reconciles > 1 calls for different Requests run concurrently.
#ifndef ORCH_CONTROLLER_RECONCILER_H_
#define ORCH_CONTROLLER_RECONCILER_H_

#include <algorithm>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace orch::controller {

// The object to reconcile: namespace (empty for cluster-scoped kinds) and name.
struct Request {
  std::string ns;
  std::string name;

  // "ns/name", or "name" for a cluster-scoped object: the work-queue key.
  std::string Key() const { return ns.empty() ? name : ns + "/" + name; }
  // The inverse of Key (names never hold '/').
  static Request FromKey(std::string_view key);

  friend bool operator==(const Request&, const Request&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const Request& r) {
    return H::combine(std::move(h), r.ns, r.name);
  }
};

class Result {
 public:
  // Done.
  Result() = default;
  // `status`: an error, or done when OK.
  Result(absl::Status status) : status_(std::move(status)) {}  // NOLINT: implicit on purpose
  // Reconcile again after the rate limiter's delay.
  static Result Requeue() {
    Result r;
    r.requeue_ = true;
    return r;
  }
  // Reconcile again after `delay` (a non-positive delay is Requeue()).
  static Result RequeueAfter(absl::Duration delay) {
    Result r;
    r.requeue_ = true;
    r.requeue_after_ = std::max(delay, absl::ZeroDuration());
    return r;
  }

  bool ok() const { return status_.ok(); }
  const absl::Status& status() const { return status_; }
  bool requeue() const { return requeue_; }
  // Zero unless made by RequeueAfter with a positive delay.
  absl::Duration requeue_after() const { return requeue_after_; }

 private:
  absl::Status status_;
  bool requeue_ = false;
  absl::Duration requeue_after_ = absl::ZeroDuration();
};

class Reconciler {
 public:
  Reconciler() = default;
  Reconciler(const Reconciler&) = delete;
  Reconciler& operator=(const Reconciler&) = delete;
  virtual ~Reconciler() = default;

  virtual Result Reconcile(const Request& request) = 0;
};

// A Reconciler made of a function, for small controllers and tests.
class FuncReconciler final : public Reconciler {
 public:
  using Fn = std::function<Result(const Request&)>;
  explicit FuncReconciler(Fn fn) : fn_(std::move(fn)) {}
  Result Reconcile(const Request& request) override { return fn_(request); }

 private:
  Fn fn_;
};

// Marks an error as terminal: the controller records it and does not retry. `cause` must
// not be OK (an OK cause gives kUnknown "terminal error without a cause").
absl::Status TerminalError(absl::Status cause);
bool IsTerminalError(const absl::Status& status);

}  // namespace orch::controller

#endif  // ORCH_CONTROLLER_RECONCILER_H_
