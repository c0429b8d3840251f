#include "netns.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "fmt/format.h"
#include "process.h"

namespace orch::testing {

namespace {

constexpr absl::Duration kCommandTimeout = absl::Seconds(30);

// A socket of `netns` ("" for this process's own): made on a thread that has joined that
// namespace, since a socket belongs to the namespace it was made in.
absl::StatusOr<int> SocketIn(const std::string& netns) {
  int fd = -1;
  std::string error;
  std::thread maker([&] {
    if (!netns.empty()) {
      const int ns = ::open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
      if (ns < 0 || ::setns(ns, CLONE_NEWNET) != 0) {
        error = absl::StrCat("join network namespace ", netns, ": ", std::strerror(errno));
        if (ns >= 0) ::close(ns);
        return;
      }
      ::close(ns);
    }
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) error = absl::StrCat("socket in ", netns, ": ", std::strerror(errno));
  });
  maker.join();
  if (fd < 0) return absl::InternalError(error);
  return fd;
}

absl::StatusOr<sockaddr_in> Address(const std::string& address, int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, address.c_str(), &addr.sin_addr) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("not an IPv4 address: ", address));
  }
  return addr;
}

void SetTimeouts(int fd, absl::Duration timeout) {
  const timeval tv = absl::ToTimeval(timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

}  // namespace

absl::Status RunIn(const std::string& netns, const std::vector<std::string>& args) {
  std::vector<std::string> command;
  if (!netns.empty()) command = {"ip", "netns", "exec", netns};
  command.insert(command.end(), args.begin(), args.end());
  absl::StatusOr<CommandResult> result = Run(command, kCommandTimeout);
  if (!result.ok()) return result.status();
  if (!result->ok()) return absl::InternalError(DescribeFailure(command, *result));
  return absl::OkStatus();
}

absl::Status NetnsAvailable() {
  if (::geteuid() != 0) return absl::FailedPreconditionError("network namespaces need root");
  for (const char* program : {"ip", "nft"}) {
    if (FindProgram(program).empty()) {
      return absl::FailedPreconditionError(absl::StrCat(program, " is not installed"));
    }
  }
  return absl::OkStatus();
}

HttpResponder::HttpResponder(int listen_fd, int stop_fd, std::string body)
    : listen_fd_(listen_fd), stop_fd_(stop_fd), body_(std::move(body)) {
  thread_ = std::thread([this] { Serve(); });
}

absl::StatusOr<std::unique_ptr<HttpResponder>> HttpResponder::Start(const std::string& netns,
                                                                     const std::string& address,
                                                                     int port, std::string body) {
  absl::StatusOr<sockaddr_in> addr = Address(address, port);
  if (!addr.ok()) return addr.status();
  absl::StatusOr<int> fd = SocketIn(netns);
  if (!fd.ok()) return fd.status();
  const int one = 1;
  ::setsockopt(*fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(*fd, reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr) != 0 ||
      ::listen(*fd, 64) != 0) {
    const std::string error = std::strerror(errno);
    ::close(*fd);
    return absl::InternalError(
        fmt::format("listen on {}:{} in {}: {}", address, port, netns, error));
  }
  const int stop = ::eventfd(0, EFD_CLOEXEC);
  return std::unique_ptr<HttpResponder>(new HttpResponder(*fd, stop, std::move(body)));
}

HttpResponder::~HttpResponder() {
  const uint64_t one = 1;
  (void)!::write(stop_fd_, &one, sizeof one);
  thread_.join();
  ::close(listen_fd_);
  ::close(stop_fd_);
}

void HttpResponder::Serve() {
  const std::string response =
      fmt::format("HTTP/1.0 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                  body_.size(), body_);
  while (true) {
    pollfd fds[2] = {{.fd = listen_fd_, .events = POLLIN, .revents = 0},
                     {.fd = stop_fd_, .events = POLLIN, .revents = 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) return;
    if (fds[1].revents != 0) return;
    if (fds[0].revents == 0) continue;
    const int conn = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) continue;
    SetTimeouts(conn, absl::Seconds(5));
    std::string request;
    char buffer[4096];
    while (request.find("\r\n\r\n") == std::string::npos) {
      const ssize_t got = ::read(conn, buffer, sizeof buffer);
      if (got <= 0) break;
      request.append(buffer, static_cast<size_t>(got));
    }
    if (request.find("\r\n\r\n") != std::string::npos) {
      ++requests_;
      (void)!::send(conn, response.data(), response.size(), MSG_NOSIGNAL);
    }
    ::close(conn);
  }
}

absl::StatusOr<Connection> Connection::Open(const std::string& netns, const std::string& address,
                                            int port, absl::Duration timeout) {
  absl::StatusOr<sockaddr_in> addr = Address(address, port);
  if (!addr.ok()) return addr.status();
  absl::StatusOr<int> fd = SocketIn(netns);
  if (!fd.ok()) return fd.status();
  Connection connection(*fd);
  const int flags = ::fcntl(*fd, F_GETFL);
  ::fcntl(*fd, F_SETFL, flags | O_NONBLOCK);
  const std::string where = fmt::format("connect to {}:{} from {}", address, port, netns);
  if (::connect(*fd, reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr) != 0) {
    if (errno != EINPROGRESS) {
      return absl::UnavailableError(absl::StrCat(where, ": ", std::strerror(errno)));
    }
    pollfd p = {.fd = *fd, .events = POLLOUT, .revents = 0};
    if (::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout))) == 0) {
      return absl::DeadlineExceededError(
          absl::StrCat(where, ": no answer within ", absl::FormatDuration(timeout)));
    }
    int error = 0;
    socklen_t length = sizeof error;
    ::getsockopt(*fd, SOL_SOCKET, SO_ERROR, &error, &length);
    if (error != 0) return absl::UnavailableError(absl::StrCat(where, ": ", std::strerror(error)));
  }
  ::fcntl(*fd, F_SETFL, flags);
  return connection;
}

Connection::~Connection() {
  if (fd_ >= 0) ::close(fd_);
}

absl::StatusOr<std::string> Connection::Get(absl::Duration timeout) {
  SetTimeouts(fd_, timeout);
  const std::string request = "GET / HTTP/1.0\r\nHost: test\r\n\r\n";
  if (::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) < 0) {
    return absl::UnavailableError(absl::StrCat("send: ", std::strerror(errno)));
  }
  std::string response;
  char buffer[4096];
  while (true) {
    const ssize_t got = ::read(fd_, buffer, sizeof buffer);
    if (got == 0) break;
    if (got < 0) {
      if (errno == EAGAIN) return absl::DeadlineExceededError("no response in time");
      return absl::UnavailableError(absl::StrCat("read: ", std::strerror(errno)));
    }
    response.append(buffer, static_cast<size_t>(got));
  }
  const size_t body = response.find("\r\n\r\n");
  if (body == std::string::npos) {
    return absl::UnavailableError(absl::StrCat("not an HTTP response: \"", response, "\""));
  }
  return response.substr(body + 4);
}

absl::StatusOr<std::string> NetnsTestBed::HttpGet(const std::string& netns,
                                                  const std::string& address, int port,
                                                  absl::Duration timeout) {
  absl::StatusOr<Connection> connection = Connection::Open(netns, address, port, timeout);
  if (!connection.ok()) return connection.status();
  return connection->Get(timeout);
}

absl::Status NetnsTestBed::AddNamespace(const std::string& name) {
  if (absl::Status s = RunIn("", {"ip", "netns", "add", name}); !s.ok()) return s;
  namespaces_.push_back(name);
  return RunIn("", {"ip", "-n", name, "link", "set", "lo", "up"});
}

std::string NetnsTestBed::node_address(int node) const {
  return fmt::format("192.168.77.{}", 10 + node);
}

std::string NetnsTestBed::pod_cidr(int node) const { return fmt::format("10.64.{}.0/24", node); }

absl::StatusOr<std::unique_ptr<NetnsTestBed>> NetnsTestBed::Create(int nodes) {
  if (absl::Status s = NetnsAvailable(); !s.ok()) return s;
  auto bed = std::unique_ptr<NetnsTestBed>(new NetnsTestBed());
  bed->prefix_ = fmt::format("orch{}", ::getpid());
  bed->switch_ = bed->prefix_ + "-sw";
  const std::string& sw = bed->switch_;
  std::vector<std::vector<std::string>> commands;
  if (absl::Status s = bed->AddNamespace(sw); !s.ok()) return s;
  commands.push_back({"ip", "-n", sw, "link", "add", "br0", "type", "bridge"});
  commands.push_back({"ip", "-n", sw, "link", "set", "br0", "up"});
  for (int i = 0; i < nodes; ++i) {
    const std::string node = fmt::format("{}-n{}", bed->prefix_, i);
    if (absl::Status s = bed->AddNamespace(node); !s.ok()) return s;
    bed->nodes_.push_back(node);
    bed->next_pod_.push_back(2);
    const std::string port = fmt::format("n{}", i);
    for (std::vector<std::string> c : std::vector<std::vector<std::string>>{
             {"ip", "-n", sw, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns",
              node},
             {"ip", "-n", sw, "link", "set", port, "master", "br0", "up"},
             {"ip", "-n", node, "addr", "add", bed->node_address(i) + "/24", "dev", "eth0"},
             {"ip", "-n", node, "link", "set", "eth0", "up"},
             // As on a real host, a default route: a socket's first route lookup for a
             // Service's address (before the DNAT picks its pod) must find one.
             {"ip", "-n", node, "route", "add", "default", "dev", "eth0"},
             {"ip", "-n", node, "link", "add", "cbr0", "type", "bridge"},
             {"ip", "-n", node, "addr", "add", fmt::format("10.64.{}.1/24", i), "dev", "cbr0"},
             {"ip", "-n", node, "link", "set", "cbr0", "up"},
             {"ip", "netns", "exec", node, "sysctl", "-qw", "net.ipv4.ip_forward=1"}}) {
      commands.push_back(std::move(c));
    }
  }
  for (int i = 0; i < nodes; ++i) {
    for (int k = 0; k < nodes; ++k) {
      if (k == i) continue;
      commands.push_back({"ip", "-n", bed->nodes_[i], "route", "add", bed->pod_cidr(k), "via",
                          bed->node_address(k)});
    }
  }
  for (const auto& c : commands) {
    if (absl::Status s = RunIn("", c); !s.ok()) return s;
  }
  return bed;
}

NetnsTestBed::~NetnsTestBed() {
  responders_.clear();
  for (auto it = namespaces_.rbegin(); it != namespaces_.rend(); ++it) {
    (void)RunIn("", {"ip", "netns", "del", *it});
  }
}

absl::StatusOr<PodHost> NetnsTestBed::AddPod(int node, const std::string& name, int port) {
  const int host = next_pod_[node]++;
  PodHost pod{.netns = fmt::format("{}-p{}-{}", prefix_, node, host),
              .address = fmt::format("10.64.{}.{}", node, host)};
  if (absl::Status s = AddNamespace(pod.netns); !s.ok()) return s;
  const std::string veth = fmt::format("v{}", host);
  const std::string& n = nodes_[node];
  for (const std::vector<std::string>& c : std::vector<std::vector<std::string>>{
           {"ip", "-n", n, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns",
            pod.netns},
           {"ip", "-n", n, "link", "set", veth, "master", "cbr0", "up"},
           // As a CNI bridge with hairpinMode: where br_netfilter makes the bridge itself
           // DNAT, a pod's packet to its own Service goes back out the port it came in by.
           {"ip", "-n", n, "link", "set", veth, "type", "bridge_slave", "hairpin", "on"},
           {"ip", "-n", pod.netns, "addr", "add", pod.address + "/24", "dev", "eth0"},
           {"ip", "-n", pod.netns, "link", "set", "eth0", "up"},
           {"ip", "-n", pod.netns, "route", "add", "default", "via",
            fmt::format("10.64.{}.1", node)}}) {
    if (absl::Status s = RunIn("", c); !s.ok()) return s;
  }
  absl::StatusOr<std::unique_ptr<HttpResponder>> responder =
      HttpResponder::Start(pod.netns, pod.address, port, name);
  if (!responder.ok()) return responder.status();
  responders_.push_back(std::move(*responder));
  return pod;
}

absl::Status NetnsTestBed::SetLink(int node, bool up) {
  return RunIn("", {"ip", "-n", switch_, "link", "set", fmt::format("n{}", node),
                    up ? "up" : "down"});
}

}  // namespace orch::testing
