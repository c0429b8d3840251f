#include "support/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace orch::testing {

namespace {

// Appends to `out` what `fd` has, waiting up to `wait_ms` for it. Returns the number of
// bytes read, 0 at end of file, -1 when there was nothing yet.
ssize_t ReadSome(int fd, int wait_ms, std::string* out) {
  pollfd readable{.fd = fd, .events = POLLIN, .revents = 0};
  if (::poll(&readable, 1, wait_ms) <= 0) return -1;
  char buffer[4096];
  const ssize_t n = ::read(fd, buffer, sizeof buffer);
  if (n > 0) out->append(buffer, static_cast<size_t>(n));
  if (n < 0 && errno != EINTR && errno != EAGAIN) return 0;  // unreadable: as good as closed
  return n;
}

}  // namespace

std::optional<std::string> ReadFile(const std::string& path) {
  // read(2), not an ifstream: libstdc++'s filebuf throws when a read fails, and a file of
  // /proc fails with ESRCH when its process exits while it is read.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string content;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(fd, buffer, sizeof buffer)) != 0) {
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      return std::nullopt;
    }
    content.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return content;
}

absl::Status WriteFile(const std::string& path, std::string_view content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

std::string SearchPath() {
  const char* path = std::getenv("PATH");
  std::string result = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  for (const char* dir : {"/usr/local/sbin", "/usr/sbin", "/sbin"}) {
    std::vector<std::string> dirs = absl::StrSplit(result, ':');
    if (std::find(dirs.begin(), dirs.end(), dir) == dirs.end()) absl::StrAppend(&result, ":", dir);
  }
  return result;
}

std::string FindProgram(const std::string& name) {
  if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : "";
  for (absl::string_view dir : absl::StrSplit(SearchPath(), ':', absl::SkipEmpty())) {
    std::string candidate = absl::StrCat(dir, "/", name);
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

std::string Tail(const std::string& text, int lines) {
  std::vector<absl::string_view> all = absl::StrSplit(text, '\n', absl::SkipWhitespace());
  size_t first = all.size() > static_cast<size_t>(lines) ? all.size() - lines : 0;
  std::vector<std::string> kept;
  for (size_t i = first; i < all.size(); ++i) {
    absl::string_view line = all[i];
    kept.push_back(line.size() > 400 ? absl::StrCat(line.substr(0, 400), "...")
                                     : std::string(line));
  }
  return absl::StrJoin(kept, "\n");
}

absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& args, const SpawnOptions& options) {
  const std::string program = FindProgram(args.at(0));
  if (program.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(args[0], " is not installed (not on ", SearchPath(), ")"));
  }
  // Everything the child needs is built before fork.
  std::vector<char*> argv;
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  const std::string path_entry = "PATH=" + SearchPath();
  std::vector<char*> envp;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "PATH=", 5) == 0) continue;
    if (!options.drop_env_prefix.empty() &&
        std::strncmp(*e, options.drop_env_prefix.c_str(), options.drop_env_prefix.size()) == 0) {
      continue;
    }
    envp.push_back(*e);
  }
  envp.push_back(const_cast<char*>(path_entry.c_str()));
  envp.push_back(nullptr);
  const int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd < 0) {
    return absl::InternalError(absl::StrCat("open /dev/null: ", std::strerror(errno)));
  }
  const int output_fd = options.output_fd >= 0 ? options.output_fd : null_fd;
  const pid_t parent = ::getpid();

  const pid_t pid = ::fork();
  if (pid == 0) {
    if (options.new_session) ::setsid();
    if (options.die_with_parent) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);  // the parent died before prctl
    }
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);  // gRPC ignores SIGPIPE; a child should not inherit that
    ::dup2(null_fd, STDIN_FILENO);
    ::dup2(output_fd, STDOUT_FILENO);
    ::dup2(output_fd, STDERR_FILENO);
    ::close_range(3, ~0U, 0);  // no descriptor of the test leaks into the child
    ::execve(program.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  const int fork_errno = errno;
  ::close(null_fd);
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", std::strerror(fork_errno)));
  return pid;
}

pid_t WaitPid(pid_t pid, int* status, int flags) {
  pid_t result;
  do {
    result = ::waitpid(pid, status, flags);
  } while (result < 0 && errno == EINTR);
  return result;
}

std::string DescribeExit(int status) {
  if (WIFEXITED(status)) return absl::StrCat("exit status ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return absl::StrCat("killed by signal ", WTERMSIG(status));
  return absl::StrCat("wait status ", status);
}

absl::StatusOr<CommandResult> Run(const std::vector<std::string>& args, absl::Duration timeout) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  absl::StatusOr<pid_t> pid = Spawn(args, {.output_fd = pipe_fds[1]});
  ::close(pipe_fds[1]);
  if (!pid.ok()) {
    ::close(pipe_fds[0]);
    return pid.status();
  }
  CommandResult result;
  const absl::Time deadline = absl::Now() + timeout;
  bool open = true;  // no end of file yet
  int status = 0;
  pid_t waited = 0;
  while (waited == 0) {
    if (open) {
      open = ReadSome(pipe_fds[0], 50, &result.output) != 0;
    } else {
      absl::SleepFor(absl::Milliseconds(20));
    }
    waited = WaitPid(*pid, &status, WNOHANG);
    if (waited == 0 && absl::Now() > deadline) {
      ::kill(*pid, SIGKILL);
      WaitPid(*pid, &status, 0);
      ::close(pipe_fds[0]);
      absl::StrAppend(&result.output, "\n(killed after ", absl::FormatDuration(timeout), ")");
      return result;
    }
  }
  // It has exited: take what it wrote last, but do not wait for an end of file that a
  // grandchild holding the pipe could put off forever.
  while (open && ReadSome(pipe_fds[0], 0, &result.output) > 0) {
  }
  ::close(pipe_fds[0]);
  if (waited != *pid) {  // someone else reaped it (SIGCHLD ignored?)
    absl::StrAppend(&result.output, "\n(exit status lost: ", std::strerror(errno), ")");
  } else if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  }
  return result;
}

std::string DescribeFailure(const std::vector<std::string>& args, const CommandResult& result) {
  return absl::StrCat(absl::StrJoin(args, " "), " failed (exit code ", result.exit_code,
                      "): ", Tail(result.output, 10));
}

std::optional<char> ProcessState(pid_t pid) {
  std::optional<std::string> stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  if (!stat) return std::nullopt;
  // "pid (comm) state ...": comm may hold spaces and parentheses.
  const size_t paren = stat->rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat->size()) return std::nullopt;
  return (*stat)[paren + 2];
}

bool Running(pid_t pid) {
  const std::optional<char> state = ProcessState(pid);
  return state.has_value() && *state != 'Z';
}

std::vector<std::string> ProcessesMentioning(const std::string& text) {
  std::vector<std::string> found;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", error)) {
    int pid = 0;
    if (!absl::SimpleAtoi(entry.path().filename().string(), &pid) || pid == ::getpid()) continue;
    const std::string cmdline = ReadFile(entry.path() / "cmdline").value_or("");
    if (absl::StrContains(cmdline, text) && Running(pid)) {
      found.push_back(absl::StrCat(pid, ": ", cmdline));
    }
  }
  return found;
}

}  // namespace orch::testing
