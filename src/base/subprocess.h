// Running a program to completion with text on its standard input: how orch drives the
// command-line tools of the host it runs on (nft for the kernel's packet rules). Internal.
//
// Thread safety: RunProgram may be called from any thread at once; the child is started
// with posix_spawn, so it is safe in a multi-threaded process. Errors: kNotFound when the
// program is not on PATH, kDeadlineExceeded when it outlives `timeout` (it is killed),
// kInternal when a pipe or the spawn fails. A program that runs and exits non-zero is not
// an error here: the caller reads `exit_code`.
#ifndef ORCH_SRC_BASE_SUBPROCESS_H_
#define ORCH_SRC_BASE_SUBPROCESS_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace orch::internal {

struct ProgramResult {
  int exit_code = 0;   // 128 + N when killed by signal N
  std::string output;  // standard output
  std::string errors;  // standard error
};

// Runs `args` (args[0] looked up on PATH), writes `input` to its standard input and closes
// it, and collects both outputs until it exits.
absl::StatusOr<ProgramResult> RunProgram(const std::vector<std::string>& args,
                                         std::string_view input,
                                         absl::Duration timeout = absl::Seconds(30));

}  // namespace orch::internal

#endif  // ORCH_SRC_BASE_SUBPROCESS_H_
