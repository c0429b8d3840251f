#include "base/curl.h"

#include <mutex>

#include <curl/curl.h>

namespace orch::internal {

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace orch::internal
