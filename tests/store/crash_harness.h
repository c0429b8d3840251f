// Shared by the crash tests: kill -9 a writing child at a chosen moment and keep exactly
// what it reported before it died.
#ifndef ORCH_TESTS_STORE_CRASH_HARNESS_H_
#define ORCH_TESTS_STORE_CRASH_HARNESS_H_

#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace orch::store::testing {

// Reads what `child` writes to `read_fd` until `delay` has passed, SIGKILLs it, then reads
// the rest it wrote before dying. Closes `read_fd` and reaps the child. kInternal if the
// child ended any other way (it must still be writing when killed). The delay counts from
// now, or with `from_first_report` from the child's first report — so that on a slow
// machine (a sanitizer build) the child has written something before it dies.
inline absl::StatusOr<std::string> KillChildAfter(pid_t child, int read_fd,
                                                  std::chrono::milliseconds delay,
                                                  bool from_first_report = false) {
  auto kill_at = from_first_report ? std::chrono::steady_clock::time_point::max()
                                   : std::chrono::steady_clock::now() + delay;
  std::string bytes;
  bool killed = false;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        kill_at - std::chrono::steady_clock::now());
    if (!killed && left.count() <= 0) {
      ::kill(child, SIGKILL);
      killed = true;
    }
    pollfd p = {read_fd, POLLIN, 0};
    const int64_t wait_ms = kill_at == std::chrono::steady_clock::time_point::max()
                                ? 1000
                                : std::max<int64_t>(left.count(), 0);
    ::poll(&p, 1, killed ? 1000 : static_cast<int>(wait_ms));
    if (p.revents == 0) continue;
    char buffer[4096];
    const ssize_t n = ::read(read_fd, buffer, sizeof buffer);
    if (n <= 0) break;  // the child is gone
    if (bytes.empty() && from_first_report) kill_at = std::chrono::steady_clock::now() + delay;
    bytes.append(buffer, static_cast<size_t>(n));
  }
  ::close(read_fd);
  int status = 0;
  if (::waitpid(child, &status, 0) != child) return absl::InternalError("waitpid failed");
  if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
    return absl::InternalError("the child stopped by itself, status " + std::to_string(status));
  }
  return bytes;
}

}  // namespace orch::store::testing

#endif  // ORCH_TESTS_STORE_CRASH_HARNESS_H_
