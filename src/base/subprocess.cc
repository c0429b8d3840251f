#include "base/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

extern char** environ;

namespace orch::internal {

namespace {

// Closes what it holds when it goes out of scope.
class Fd {
 public:
  Fd() = default;
  ~Fd() { Reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int* out() { return &fd_; }
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

absl::Status Pipe(Fd& read_end, Fd& write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  *read_end.out() = fds[0];
  *write_end.out() = fds[1];
  return absl::OkStatus();
}

int ExitCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

}  // namespace

absl::StatusOr<ProgramResult> RunProgram(const std::vector<std::string>& args,
                                         std::string_view input, absl::Duration timeout) {
  if (args.empty()) return absl::InvalidArgumentError("run program: no program given");
  Fd in_read, in_write, out_read, out_write, err_read, err_write;
  // The input goes through a socket pair, not a pipe: send(MSG_NOSIGNAL) to a child that
  // has stopped reading fails with EPIPE instead of raising SIGPIPE in the host.
  int in_fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_fds) != 0) {
    return absl::InternalError(absl::StrCat("socketpair: ", std::strerror(errno)));
  }
  *in_read.out() = in_fds[0];
  *in_write.out() = in_fds[1];
  for (auto [r, w] : {std::pair{&out_read, &out_write}, std::pair{&err_read, &err_write}}) {
    if (absl::Status s = Pipe(*r, *w); !s.ok()) return s;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_read.get(), STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out_write.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_write.get(), STDERR_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // A host (gRPC among others) may ignore SIGPIPE or block signals; the child starts clean.
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> argv;
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = ::posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  in_read.Reset();
  out_write.Reset();
  err_write.Reset();
  if (spawned == ENOENT) {
    return absl::NotFoundError(absl::StrCat(args[0], ": program not found on PATH"));
  }
  if (spawned != 0) {
    return absl::InternalError(absl::StrCat("spawn ", args[0], ": ", std::strerror(spawned)));
  }

  ProgramResult result;
  if (input.empty()) in_write.Reset();
  const absl::Time deadline = absl::Now() + timeout;
  bool timed_out = false;
  while (out_read.get() >= 0 || err_read.get() >= 0) {
    std::array<pollfd, 3> fds{};
    nfds_t n = 0;
    for (Fd* fd : {&out_read, &err_read}) {
      if (fd->get() >= 0) fds[n++] = {.fd = fd->get(), .events = POLLIN, .revents = 0};
    }
    if (in_write.get() >= 0) fds[n++] = {.fd = in_write.get(), .events = POLLOUT, .revents = 0};
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      timed_out = true;
      break;
    }
    const int ready = ::poll(fds.data(), n, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (ready < 0 && errno != EINTR) break;
    for (nfds_t i = 0; i < n && ready > 0; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == in_write.get()) {
        const ssize_t written =
            ::send(in_write.get(), input.data(), input.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (written > 0) input.remove_prefix(static_cast<size_t>(written));
        if (input.empty() || (written < 0 && errno != EAGAIN && errno != EINTR)) {
          in_write.Reset();  // all written, or the child closed its input (EPIPE)
        }
        continue;
      }
      Fd& fd = fds[i].fd == out_read.get() ? out_read : err_read;
      std::string& sink = &fd == &out_read ? result.output : result.errors;
      char buffer[16384];
      const ssize_t got = ::read(fd.get(), buffer, sizeof buffer);
      if (got > 0) {
        sink.append(buffer, static_cast<size_t>(got));
      } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
        fd.Reset();
      }
    }
  }
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    return absl::DeadlineExceededError(absl::StrCat(
        args[0], " did not finish within ", absl::FormatDuration(timeout), " (killed)"));
  }
  result.exit_code = ExitCode(status);
  return result;
}

}  // namespace orch::internal
