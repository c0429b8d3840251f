// A one-thread HTTP/1.1 server on 127.0.0.1 for extender tests: one request per connection
// ("Connection: close"), every request recorded, answered by the test's handler (called on
// the server's thread).
#ifndef ORCH_TESTS_SCHEDULER_HTTP_TEST_SERVER_H_
#define ORCH_TESTS_SCHEDULER_HTTP_TEST_SERVER_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fmt/format.h"
#include "gtest/gtest.h"
#include "orch/base/mutex.h"

namespace orch::scheduler::testing {

struct HttpRequest {
  std::string method;
  std::string path;
  std::string host;          // the Host header
  std::string content_type;  // the Content-Type header
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string body;
  absl::Duration delay = absl::ZeroDuration();  // before answering
};

class TestServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  explicit TestServer(Handler handler) : handler_(std::move(handler)) {
    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;  // the kernel picks
    socklen_t length = sizeof(address);
    if (listener_ < 0 || bind(listener_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        listen(listener_, 16) != 0 ||
        getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      ADD_FAILURE() << "cannot listen on 127.0.0.1";
      return;
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }

  ~TestServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (listener_ >= 0) close(listener_);
  }

  std::string url() const { return fmt::format("http://127.0.0.1:{}", port_); }
  int port() const { return port_; }

  std::vector<HttpRequest> requests() const {
    MutexLock lock(&mu_);
    return requests_;
  }

 private:
  void Serve() {
    while (!stop_) {
      pollfd ready{listener_, POLLIN, 0};
      if (poll(&ready, 1, 20) <= 0) continue;
      const int connection = accept(listener_, nullptr, nullptr);
      if (connection < 0) continue;
      HandleConnection(connection);
      close(connection);
    }
  }

  // Reads up to "\r\n\r\n" and a Content-Length body; false on EOF, timeout or stop.
  bool ReadRequest(int connection, HttpRequest& request) {
    std::string data;
    std::size_t header_end = std::string::npos;
    std::size_t content_length = 0;
    while (!stop_) {
      if (header_end != std::string::npos && data.size() >= header_end + 4 + content_length) {
        request.body = data.substr(header_end + 4, content_length);
        return true;
      }
      pollfd ready{connection, POLLIN, 0};
      if (poll(&ready, 1, 20) <= 0) continue;
      char buffer[65536];
      const ssize_t n = read(connection, buffer, sizeof(buffer));
      if (n <= 0) return false;
      data.append(buffer, static_cast<std::size_t>(n));
      if (header_end == std::string::npos &&
          (header_end = data.find("\r\n\r\n")) != std::string::npos) {
        ParseHeaders(data.substr(0, header_end), request, content_length);
      }
    }
    return false;
  }

  static void ParseHeaders(const std::string& head, HttpRequest& request,
                           std::size_t& content_length) {
    std::vector<std::string> lines;
    std::size_t start = 0;
    while (start <= head.size()) {
      std::size_t end = head.find("\r\n", start);
      if (end == std::string::npos) end = head.size();
      lines.push_back(head.substr(start, end - start));
      start = end + 2;
    }
    const std::string& first = lines.front();
    request.method = first.substr(0, first.find(' '));
    const std::size_t path_start = first.find(' ') + 1;
    request.path = first.substr(path_start, first.find(' ', path_start) - path_start);
    for (std::size_t i = 1; i < lines.size(); ++i) {
      const std::size_t colon = lines[i].find(':');
      if (colon == std::string::npos) continue;
      const std::string name = absl::AsciiStrToLower(lines[i].substr(0, colon));
      std::string value(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
      if (name == "content-length") {
        uint64_t length = 0;
        if (absl::SimpleAtoi(value, &length)) content_length = length;
      } else if (name == "host") {
        request.host = value;
      } else if (name == "content-type") {
        request.content_type = value;
      }
    }
  }

  void HandleConnection(int connection) {
    HttpRequest request;
    if (!ReadRequest(connection, request)) return;
    {
      MutexLock lock(&mu_);
      requests_.push_back(request);
    }
    const HttpResponse response = handler_(request);
    const absl::Time until = absl::Now() + response.delay;
    while (!stop_ && absl::Now() < until) absl::SleepFor(absl::Milliseconds(10));
    if (stop_) return;
    const std::string reply = fmt::format(
        "HTTP/1.1 {} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n"
        "Connection: close\r\n\r\n{}",
        response.status, response.body.size(), response.body);
    std::size_t sent = 0;
    while (sent < reply.size()) {
      const ssize_t n = send(connection, reply.data() + sent, reply.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<std::size_t>(n);
    }
  }

  Handler handler_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable Mutex mu_;
  std::vector<HttpRequest> requests_ ABSL_GUARDED_BY(mu_);
};

// A port nothing listens on (bound, then released).
inline int ClosedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  bind(fd, reinterpret_cast<sockaddr*>(&address), length);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

}  // namespace orch::scheduler::testing

#endif  // ORCH_TESTS_SCHEDULER_HTTP_TEST_SERVER_H_
