// EventRecorder: Kubernetes Events (core/v1 Event) about objects, as components report
// what they did ("Scheduled", "FailedScheduling", "SuccessfulCreate", ...).
//
// Like Kubernetes' recorder it aggregates: the same (object, type, reason, message) seen
// again within 10 minutes bumps count and lastTimestamp of the Event already written
// instead of writing another. It remembers at least the last 4,096 such keys it recorded,
// as Kubernetes' recorder does, and at most twice as many. Events are best-effort: a
// failed write is reported to the caller but changes nothing else.
//
// Thread safety: every method may be called from any thread. Ownership: `client` must
// outlive the recorder.
#ifndef ORCH_CLIENT_EVENTS_H_
#define ORCH_CLIENT_EVENTS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "google/protobuf/message.h"
#include "orch/base/mutex.h"
#include "orch/client/client.h"

namespace orch::client {

inline constexpr std::string_view kEventNormal = "Normal";
inline constexpr std::string_view kEventWarning = "Warning";

class EventRecorder {
 public:
  // `component` is source.component and reportingComponent ("default-scheduler").
  EventRecorder(Client* client, std::string component);
  EventRecorder(const EventRecorder&) = delete;
  EventRecorder& operator=(const EventRecorder&) = delete;
  ~EventRecorder();

  // Records an Event in `object`'s namespace (default for cluster-scoped objects).
  // `object` is a message of a kind of the client's Scheme (kInvalidArgument otherwise);
  // involvedObject names it with the kind and apiVersion the Scheme gives its type, so
  // an object whose own type fields are empty is named all the same. `type` is
  // kEventNormal or kEventWarning. Bytes of `reason` or `message` that are not UTF-8 are
  // written as U+FFFD. Other errors are the client's.
  absl::Status Record(const google::protobuf::Message& object, std::string_view type,
                      std::string_view reason, std::string_view message);

 private:
  class Remembered;  // the Events written lately, by aggregation key (events.cc)

  Client* const client_;
  const std::string component_;
  Mutex mu_;
  const std::unique_ptr<Remembered> remembered_ ABSL_PT_GUARDED_BY(mu_);
  uint64_t sequence_ ABSL_GUARDED_BY(mu_) = 0;
  api::v1::Event scratch_ ABSL_GUARDED_BY(mu_);  // the Event being written
};

}  // namespace orch::client

#endif  // ORCH_CLIENT_EVENTS_H_
