// libcurl's process-wide setup, done once for every part of orch that speaks HTTP
// (scheduler extenders, probes). Internal.
#ifndef ORCH_SRC_BASE_CURL_H_
#define ORCH_SRC_BASE_CURL_H_

namespace orch::internal {

// curl_global_init, the first time it is called; thread-safe.
void InitCurlOnce();

}  // namespace orch::internal

#endif  // ORCH_SRC_BASE_CURL_H_
