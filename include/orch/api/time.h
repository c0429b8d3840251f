// Times in API objects: google.protobuf.Timestamp in the shapes Kubernetes gives them.
//   metav1.Time       whole seconds (creationTimestamp, condition transition times, ...)
//   metav1.MicroTime  microseconds (a Lease's acquire and renew times, an Event's eventTime)
// An unset Timestamp reads as absl::UnixEpoch().
//
// Thread safety: pure functions.
#ifndef ORCH_API_TIME_H_
#define ORCH_API_TIME_H_

#include <cstdint>

#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"

namespace orch::api {

inline google::protobuf::Timestamp MetaTime(absl::Time t) {
  google::protobuf::Timestamp out;
  out.set_seconds(absl::ToUnixSeconds(t));
  return out;
}

inline google::protobuf::Timestamp MicroTime(absl::Time t) {
  const int64_t micros = absl::ToUnixMicros(t);
  google::protobuf::Timestamp out;
  out.set_seconds(micros / 1000000);
  out.set_nanos(static_cast<int32_t>(micros % 1000000) * 1000);
  if (out.nanos() < 0) {  // before 1970: nanos stay in [0, 1e9)
    out.set_seconds(out.seconds() - 1);
    out.set_nanos(out.nanos() + 1000000000);
  }
  return out;
}

inline absl::Time FromTimestamp(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

}  // namespace orch::api

#endif  // ORCH_API_TIME_H_
