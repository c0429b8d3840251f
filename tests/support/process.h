// Child processes and small file helpers for the test fixtures that run real daemons
// (containerd_fixture.h, etcd_fixture.h). Test-only.
//
// Spawn forks and execs with nothing but async-signal-safe calls in between, since a test
// program has threads (gRPC's, executors'). Children get /dev/null as stdin, the given
// descriptor (or /dev/null) as stdout and stderr, an empty signal mask, SIGPIPE back to
// its default, no other descriptor of the test (a daemon holding one of the fixture's
// lock files would keep it locked after Stop), and PATH = SearchPath().
//
// Thread safety: every function may be called from any thread. Errors: absl::Status,
// never an exception; kFailedPrecondition names a program that is not installed.
#ifndef ORCH_TESTS_SUPPORT_PROCESS_H_
#define ORCH_TESTS_SUPPORT_PROCESS_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace orch::testing {

// The whole file, or nullopt when it cannot be read (never an exception, even for a file
// of /proc whose process exits meanwhile).
std::optional<std::string> ReadFile(const std::string& path);
// Writes `content` as the whole file at `path` (made or truncated); kInternal naming the
// path when it cannot.
absl::Status WriteFile(const std::string& path, std::string_view content);
// The last `lines` non-blank lines of `text`, each cut to a readable length.
std::string Tail(const std::string& text, int lines);

// PATH plus the sbin directories, which a non-login root shell may lack but where Debian
// puts runc, ip and mount's helpers.
std::string SearchPath();
// The absolute path of program `name` on SearchPath() (or `name` itself when it is a path
// and executable), or empty.
std::string FindProgram(const std::string& name);

struct SpawnOptions {
  int output_fd = -1;            // the child's stdout and stderr; -1 means /dev/null
  bool new_session = false;      // setsid: terminal signals to the test do not reach it
  bool die_with_parent = false;  // SIGKILL when the spawning thread exits
  // Environment variables starting with this are left out of the child's ("ETCD_": etcd
  // refuses a flag given both on its command line and in its environment).
  std::string drop_env_prefix;
};

// Starts `args` (args[0] a program name or path). Returns the child's pid.
absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& args, const SpawnOptions& options);

// waitpid, retried on EINTR: the pid, 0 (WNOHANG and no change) or -1 (errno says why).
pid_t WaitPid(pid_t pid, int* status, int flags);
// "exit status 1", "killed by signal 9".
std::string DescribeExit(int status);

struct CommandResult {
  int exit_code = -1;  // -1 when killed by a signal, or when it ran out of time
  std::string output;  // stdout and stderr, interleaved
  bool ok() const { return exit_code == 0; }
};

// Runs `args` to completion, or until `timeout` when it is killed ("(killed after ...)"
// ends its output). Errors only when it cannot run at all; a failing command is a
// CommandResult.
absl::StatusOr<CommandResult> Run(const std::vector<std::string>& args, absl::Duration timeout);
// "<args> failed (exit code N): <the last lines of its output>".
std::string DescribeFailure(const std::vector<std::string>& args, const CommandResult& result);

// The state letter of process `pid` in /proc/<pid>/stat ('R', 'S', 'T' stopped, 'Z'
// zombie, ...), or nullopt when there is no such process.
std::optional<char> ProcessState(pid_t pid);
// Whether `pid` is a process that has not exited (a zombie has).
bool Running(pid_t pid);
// "<pid>: <command line>" of every running process but this one whose command line
// mentions `text`.
std::vector<std::string> ProcessesMentioning(const std::string& text);

}  // namespace orch::testing

#endif  // ORCH_TESTS_SUPPORT_PROCESS_H_
