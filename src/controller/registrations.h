// HandlerRegistrations: the event handlers one component installed on shared informers,
// removed together when it stops. Internal to orch's controllers.
//
// Thread safety: Add and RemoveAll may be called from any thread. RemoveAll waits, as
// Informer::RemoveEventHandler does, for calls of each handler in progress to finish.
#ifndef ORCH_SRC_CONTROLLER_REGISTRATIONS_H_
#define ORCH_SRC_CONTROLLER_REGISTRATIONS_H_

#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "google/protobuf/message.h"
#include "orch/base/mutex.h"
#include "orch/client/informer.h"

namespace orch::controller::internal {

class HandlerRegistrations {
 public:
  using Informer = client::Informer<google::protobuf::Message>;

  void Add(Informer informer, client::HandlerId id) {
    MutexLock lock(&mu_);
    added_.emplace_back(std::move(informer), id);
  }

  // Removes every handler added so far (outside the lock: a handler may be running).
  void RemoveAll() {
    std::vector<std::pair<Informer, client::HandlerId>> added;
    {
      MutexLock lock(&mu_);
      added.swap(added_);
    }
    for (auto& [informer, id] : added) informer.RemoveEventHandler(id);
  }

 private:
  Mutex mu_;
  std::vector<std::pair<Informer, client::HandlerId>> added_ ABSL_GUARDED_BY(mu_);
};

}  // namespace orch::controller::internal

#endif  // ORCH_SRC_CONTROLLER_REGISTRATIONS_H_
