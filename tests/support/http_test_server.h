// An HTTP/1.1 server on 127.0.0.1 for tests of orch's HTTP clients (scheduler extenders,
// httpGet probes): one request per connection ("Connection: close"), a thread per
// connection (a slow answer delays no other), every request recorded, each answered by
// the test's handler (called on the connection's thread). A client that connects and
// closes without a request (a TCP probe) is fine.
#ifndef ORCH_TESTS_SUPPORT_HTTP_TEST_SERVER_H_
#define ORCH_TESTS_SUPPORT_HTTP_TEST_SERVER_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "fmt/format.h"
#include "gtest/gtest.h"

namespace orch::testing {

struct HttpRequest {
  std::string method;
  std::string target;  // as sent: "/healthz?x=1"
  std::string path;    // the target without its query: "/healthz"
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;    // Content-Length bytes

  // A header's value, "<absent>" when it was not sent.
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "<absent>" : it->second;
  }
};

struct HttpResponse {
  int status = 200;
  std::string body;
  absl::Duration delay = absl::ZeroDuration();  // before answering
  std::string location;                          // a Location header, when set
};

class HttpTestServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  explicit HttpTestServer(Handler handler) : handler_(std::move(handler)) {
    listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (listener_ < 0 || bind(listener_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        listen(listener_, 64) != 0 ||
        getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      ADD_FAILURE() << "cannot listen on 127.0.0.1";
      return;
    }
    port_ = ntohs(address.sin_port);
    acceptor_ = std::thread([this] { Accept(); });
  }

  ~HttpTestServer() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    stop_.notify_all();
    if (acceptor_.joinable()) acceptor_.join();
    std::vector<std::thread> connections;
    {
      std::lock_guard lock(mu_);
      connections.swap(connections_);
    }
    for (std::thread& t : connections) t.join();
    if (listener_ >= 0) close(listener_);
  }

  int port() const { return port_; }
  std::string url() const { return fmt::format("http://127.0.0.1:{}", port_); }

  std::vector<HttpRequest> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  void Accept() {
    for (;;) {
      {
        std::lock_guard lock(mu_);
        if (stopping_) return;
      }
      pollfd waiting{.fd = listener_, .events = POLLIN, .revents = 0};
      if (poll(&waiting, 1, 20) <= 0) continue;
      const int fd = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      std::lock_guard lock(mu_);
      connections_.emplace_back([this, fd] {
        Serve(fd);
        close(fd);
      });
    }
  }

  void Serve(int fd) {
    HttpRequest request;
    if (!Read(fd, request)) return;
    {
      std::lock_guard lock(mu_);
      requests_.push_back(request);
    }
    const HttpResponse response = handler_(request);
    if (response.delay > absl::ZeroDuration()) {
      std::unique_lock lock(mu_);
      stop_.wait_for(lock, absl::ToChronoMilliseconds(response.delay), [this] { return stopping_; });
      if (stopping_) return;
    }
    std::string answer = absl::StrCat("HTTP/1.1 ", response.status,
                                      " Status\r\nContent-Type: application/json\r\nContent-Length: ",
                                      response.body.size(), "\r\nConnection: close\r\n");
    if (!response.location.empty()) absl::StrAppend(&answer, "Location: ", response.location, "\r\n");
    absl::StrAppend(&answer, "\r\n", response.body);
    for (size_t sent = 0; sent < answer.size();) {
      const ssize_t n = send(fd, answer.data() + sent, answer.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;  // the client gave up (timeout, or enough of the body)
      sent += static_cast<size_t>(n);
    }
  }

  // Reads the head and a Content-Length body; false when the client closes first.
  static bool Read(int fd, HttpRequest& request) {
    timeval five_seconds{.tv_sec = 5, .tv_usec = 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &five_seconds, sizeof(five_seconds));
    std::string data;
    size_t head_end = std::string::npos;
    size_t content_length = 0;
    char buffer[65536];
    for (;;) {
      if (head_end != std::string::npos && data.size() >= head_end + 4 + content_length) {
        request.body = data.substr(head_end + 4, content_length);
        return true;
      }
      const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
      if (n <= 0) return false;
      data.append(buffer, static_cast<size_t>(n));
      if (head_end == std::string::npos && (head_end = data.find("\r\n\r\n")) != std::string::npos) {
        ParseHead(data.substr(0, head_end), request);
        uint64_t length = 0;
        if (absl::SimpleAtoi(request.Header("content-length"), &length)) content_length = length;
      }
    }
  }

  static void ParseHead(const std::string& head, HttpRequest& request) {
    size_t line_end = head.find("\r\n");
    const std::string first = head.substr(0, line_end);  // GET <target> HTTP/1.1
    const size_t space = first.find(' ');
    request.method = first.substr(0, space);
    request.target = first.substr(space + 1, first.rfind(' ') - space - 1);
    request.path = request.target.substr(0, request.target.find('?'));
    while (line_end != std::string::npos) {
      const size_t start = line_end + 2;
      line_end = head.find("\r\n", start);
      const std::string line = head.substr(start, line_end - start);
      const size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string value = line.substr(colon + 1);
      absl::StripAsciiWhitespace(&value);
      request.headers[absl::AsciiStrToLower(line.substr(0, colon))] = value;
    }
  }

  const Handler handler_;
  int listener_ = -1;
  int port_ = 0;
  std::thread acceptor_;
  mutable std::mutex mu_;
  std::condition_variable stop_;
  bool stopping_ = false;
  std::vector<HttpRequest> requests_;
  std::vector<std::thread> connections_;
};

// A port on 127.0.0.1 where nothing listens (it was free a moment ago).
inline int ClosedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  bind(fd, reinterpret_cast<sockaddr*>(&address), length);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

}  // namespace orch::testing

#endif  // ORCH_TESTS_SUPPORT_HTTP_TEST_SERVER_H_
