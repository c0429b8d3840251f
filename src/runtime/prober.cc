// NewProber: the kubelet's probe checks (pkg/probe/{exec,http,tcp} and
// pkg/kubelet/prober/prober.go), with the kubelet's defaults and messages.
//
// exec goes through the runtime and is asynchronous; httpGet and tcpSocket block, so they
// run as one executor task each. `done` is always posted to the executor, never run
// inside Probe or inside a runtime callback.
#include "orch/runtime/prober.h"

#include <curl/curl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/expansion.h"
#include "base/curl.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fmt/format.h"

namespace orch::runtime {

namespace {

// What the kubelet sends unless the probe names its own User-Agent ("kube-probe/<major>.<minor>").
constexpr char kUserAgent[] = "kube-probe/1.28";
// The kubelet keeps at most this much of an HTTP body or of an exec's output.
constexpr size_t kMaxOutputBytes = 10 * 1024;
// The kubelet (Go's http.Client) follows at most this many redirects, to the same host only.
constexpr int kMaxRedirects = 10;
// Kubernetes' default for timeoutSeconds.
constexpr int32_t kDefaultTimeoutSeconds = 1;

ProbeResult Success(std::string message = "") {
  return {.success = true, .message = std::move(message)};
}
ProbeResult Failure(std::string message) {
  return {.success = false, .message = std::move(message)};
}

// timeoutSeconds, defaulted as the API server defaults it (unset, 0 or, never valid,
// negative: 1 second).
int32_t TimeoutSeconds(const api::v1::Probe& probe) {
  if (!probe.has_timeout_seconds() || probe.timeout_seconds() <= 0) return kDefaultTimeoutSeconds;
  return probe.timeout_seconds();
}

// ---------------------------------------------------------------------------------------
// Ports and addresses

std::optional<int> ParsePortNumber(std::string_view text) {
  int value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// probe.ResolveContainerPort: a number, or the name of one of the container's ports, or
// (last try) a number written as a string.
absl::StatusOr<int> ResolvePort(const api::v1::IntOrString& port,
                                const api::v1::Container& container) {
  int number = 0;
  switch (port.value_case()) {
    case api::v1::IntOrString::kIntVal:
      number = port.int_val();
      break;
    case api::v1::IntOrString::kStrVal: {
      const std::string& name = port.str_val();
      bool found = false;
      for (const api::v1::ContainerPort& candidate : container.ports()) {
        if (candidate.name() == name) {
          number = candidate.container_port();
          found = true;
          break;
        }
      }
      if (found) break;
      if (std::optional<int> parsed = ParsePortNumber(name); parsed.has_value()) {
        number = *parsed;
        break;
      }
      return absl::NotFoundError(
          fmt::format("port \"{}\" not found in container \"{}\"'s ports", name, container.name()));
    }
    case api::v1::IntOrString::VALUE_NOT_SET:
      return absl::InvalidArgumentError("invalid port number: 0 (the probe names no port)");
  }
  if (number <= 0 || number >= 65536) {
    return absl::InvalidArgumentError(fmt::format("invalid port number: {}", number));
  }
  return number;
}

// net.JoinHostPort: brackets around an IPv6 address.
std::string JoinHostPort(std::string_view host, int port) {
  if (host.find(':') != std::string_view::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

// The probe's host, else the pod's address.
absl::StatusOr<std::string> ProbeHost(const std::string& host, const ProbeRequest& request) {
  if (!host.empty()) return host;
  if (!request.pod_ip.empty()) return request.pod_ip;
  return absl::FailedPreconditionError(
      "no address to probe: the probe names no host and the pod has no IP");
}

// An errno as Go prints it ("connection refused").
std::string ErrnoText(int error) {
  char buffer[256];
  // GNU strerror_r returns the message (maybe a static string, maybe `buffer`).
  std::string text = strerror_r(error, buffer, sizeof(buffer));
  if (!text.empty()) text[0] = absl::ascii_tolower(static_cast<unsigned char>(text[0]));
  return text;
}

// ---------------------------------------------------------------------------------------
// exec

// A probe's command with $(VAR) references expanded from the container's env, as the
// kubelet does for probes (ExpandContainerCommandOnlyStatic: only `value`s, not
// `valueFrom`).
std::vector<std::string> ExpandCommand(
    const api::v1::Container& container,
    const google::protobuf::RepeatedPtrField<std::string>& command) {
  absl::flat_hash_map<std::string, std::string> env;
  for (const api::v1::EnvVar& var : container.env()) env[var.name()] = var.value();
  std::vector<std::string> expanded;
  expanded.reserve(command.size());
  for (const std::string& arg : command) expanded.push_back(api::internal::ExpandVariables(arg, env));
  return expanded;
}

// Go's %q, near enough: quotes, with quotes, backslashes and control bytes escaped.
std::string Quoted(std::string_view text) {
  return fmt::format("\"{}\"", absl::CEscape(absl::string_view(text.data(), text.size())));
}

ProbeResult ExecResult(const std::vector<std::string>& cmd, int32_t timeout_seconds,
                       const absl::StatusOr<cri::ExecSyncResponse>& response) {
  const std::string command = Quoted(absl::StrJoin(cmd, " "));
  if (!response.ok()) {
    if (response.status().code() == absl::StatusCode::kDeadlineExceeded) {
      return Failure(fmt::format("command {} timed out after {}s", command, timeout_seconds));
    }
    return Failure(
        fmt::format("exec of command {} failed: {}", command, response.status().ToString()));
  }
  if (response->exit_code() == 0) return Success();
  // stdout then stderr, as the kubelet collects them, and no more than it keeps.
  std::string output = response->stdout();
  output.append(response->stderr());
  if (output.size() > kMaxOutputBytes) output.resize(kMaxOutputBytes);
  while (!output.empty() && absl::ascii_isspace(static_cast<unsigned char>(output.back()))) {
    output.pop_back();
  }
  std::string message = fmt::format("command {} exited with {}", command, response->exit_code());
  if (!output.empty()) message += ": " + output;
  return Failure(std::move(message));
}

// ---------------------------------------------------------------------------------------
// httpGet

struct CurlDeleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
  void operator()(CURLU* url) const { curl_url_cleanup(url); }
};
using CurlHandle = std::unique_ptr<CURL, CurlDeleter>;
using CurlList = std::unique_ptr<curl_slist, CurlDeleter>;
using CurlUrl = std::unique_ptr<CURLU, CurlDeleter>;

// One part of a URL ("" when it has none, or the URL does not parse).
std::string UrlPart(const std::string& url, CURLUPart part, unsigned int flags = 0) {
  CurlUrl handle(curl_url());
  if (handle == nullptr || curl_url_set(handle.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) {
    return "";
  }
  char* value = nullptr;
  if (curl_url_get(handle.get(), part, &value, flags) != CURLUE_OK || value == nullptr) return "";
  std::string out = value;
  curl_free(value);
  return out;
}

// The path as Go's url.URL prints it: "/" when empty, a leading "/" added, query kept;
// spaces and control bytes escaped (curl refuses them raw).
std::string RequestPath(std::string_view path) {
  std::string out;
  if (path.empty() || path.front() != '/') out.push_back('/');
  for (const char c : path) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte >= 0x7f) {
      out += fmt::format("%{:02X}", byte);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

bool IsTokenChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// textproto.CanonicalMIMEHeaderKey: "x-custom-header" -> "X-Custom-Header".
std::string CanonicalHeaderName(std::string_view name) {
  std::string out(name);
  bool upper = true;
  for (char& c : out) {
    c = upper ? absl::ascii_toupper(static_cast<unsigned char>(c))
              : absl::ascii_tolower(static_cast<unsigned char>(c));
    upper = c == '-';
  }
  return out;
}

// The request's headers, as the kubelet builds them: the probe's own, then User-Agent
// "kube-probe/1.28" and Accept "*/*" unless given (an empty Accept drops the header); a
// Host header names the virtual host instead of the URL's.
struct RequestHeaders {
  std::vector<std::string> lines;  // for CURLOPT_HTTPHEADER
  std::string host;                // the Host header's value, "" for the URL's host
};

absl::StatusOr<RequestHeaders> BuildHeaders(const api::v1::HTTPGetAction& action) {
  // Go's http.Header.Get reads a name's first value: the first Host and the first Accept
  // decide.
  std::optional<std::string> host;
  std::optional<std::string> accept;
  bool user_agent = false;
  for (const api::v1::HTTPHeader& header : action.http_headers()) {
    if (header.name().empty() ||
        !std::all_of(header.name().begin(), header.name().end(), IsTokenChar)) {
      return absl::InvalidArgumentError(
          fmt::format("invalid header field name {}", Quoted(header.name())));
    }
    if (header.value().find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      return absl::InvalidArgumentError(
          fmt::format("invalid header field value for {}", Quoted(header.name())));
    }
    const std::string name = CanonicalHeaderName(header.name());
    if (name == "Host" && !host.has_value()) host = header.value();
    if (name == "Accept" && !accept.has_value()) accept = header.value();
    if (name == "User-Agent") user_agent = true;
  }

  RequestHeaders out;
  out.host = host.value_or("");  // empty: the URL's host, as Go does
  for (const api::v1::HTTPHeader& header : action.http_headers()) {
    const std::string name = CanonicalHeaderName(header.name());
    if (name == "Host") continue;                       // sent once, from out.host
    if (name == "Accept" && accept->empty()) continue;  // an empty Accept drops the header
    if (name == "User-Agent" && header.value().empty()) continue;  // Go sends none then
    // curl drops a header written "Name:"; "Name;" sends it with an empty value.
    out.lines.push_back(header.value().empty() ? name + ";" : name + ": " + header.value());
  }
  if (!user_agent) out.lines.push_back(std::string("User-Agent: ") + kUserAgent);
  if (!accept.has_value()) {
    out.lines.push_back("Accept: */*");
  } else if (accept->empty()) {
    out.lines.push_back("Accept:");  // keeps curl from adding its own "Accept: */*"
  }
  return out;
}

// One GET, no redirects followed.
struct HttpResponse {
  long status = 0;
  std::string body;                // at most kMaxOutputBytes
  std::string redirect_url;        // absolute, when a redirect status names a Location
  bool location_absolute = false;  // the Location header carried a scheme
};

size_t KeepBody(char* data, size_t size, size_t count, void* user) {
  auto* body = static_cast<std::string*>(user);
  const size_t bytes = size * count;
  const size_t room = kMaxOutputBytes - std::min(kMaxOutputBytes, body->size());
  body->append(data, std::min(bytes, room));
  // Returning less than was given stops the transfer: the kubelet, too, stops reading
  // past its limit; the status is already known.
  return bytes <= room ? bytes : 0;
}

bool IsFollowedRedirect(long status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

// The message of a request that got no response, in the shape of Go's net/http errors
// where they have one.
std::string TransportError(CURL* handle, CURLcode code, const char* error_buffer,
                           const std::string& url, absl::Duration timeout) {
  const std::string prefix = fmt::format("Get {}: ", Quoted(url));
  const std::string host = UrlPart(url, CURLUPART_HOST);
  const std::string port = UrlPart(url, CURLUPART_PORT, CURLU_DEFAULT_PORT);
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return prefix + fmt::format("timed out after {}", absl::FormatDuration(timeout));
    case CURLE_COULDNT_CONNECT: {
      long os_errno = 0;
      curl_easy_getinfo(handle, CURLINFO_OS_ERRNO, &os_errno);
      if (os_errno != 0) {
        return prefix + fmt::format("dial tcp {}:{}: connect: {}", host, port,
                                    ErrnoText(static_cast<int>(os_errno)));
      }
      break;
    }
    case CURLE_COULDNT_RESOLVE_HOST:
      return prefix + fmt::format("dial tcp: lookup {}: no such host", host);
    default:
      break;
  }
  return prefix + (error_buffer[0] != '\0' ? std::string(error_buffer) : curl_easy_strerror(code));
}

absl::StatusOr<HttpResponse> HttpGetOnce(const std::string& url,
                                         const std::vector<std::string>& lines,
                                         absl::Duration remaining, absl::Duration timeout) {
  CurlHandle handle(curl_easy_init());
  if (handle == nullptr) return absl::ResourceExhaustedError("cannot create a curl handle");
  CurlList headers;
  for (const std::string& line : lines) {
    curl_slist* appended = curl_slist_append(headers.get(), line.c_str());
    if (appended == nullptr) return absl::ResourceExhaustedError("out of memory building headers");
    headers.release();
    headers.reset(appended);
  }
  HttpResponse response;
  char error[CURL_ERROR_SIZE] = "";
  const long timeout_ms =
      static_cast<long>(std::max<int64_t>(1, absl::ToInt64Milliseconds(remaining)));
  CURL* h = handle.get();
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);      // followed here, by the kubelet's rule
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);  // connecting included
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);            // threads: no SIGALRM for timeouts
  curl_easy_setopt(h, CURLOPT_NOPROXY, "*");            // probes go straight to the pod
  curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);        // as the kubelet: no keep-alive
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);      // the kubelet skips verification
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &KeepBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
  const CURLcode code = curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
  // A body cut at the limit is a complete answer: the status line came first.
  const bool cut = code == CURLE_WRITE_ERROR && response.body.size() >= kMaxOutputBytes;
  if (code != CURLE_OK && !cut) {
    return absl::UnavailableError(TransportError(h, code, error, url, timeout));
  }
  if (IsFollowedRedirect(response.status)) {
    char* redirect = nullptr;
    if (curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &redirect) == CURLE_OK && redirect != nullptr) {
      response.redirect_url = redirect;
    }
    curl_header* location = nullptr;
    if (curl_easy_header(h, "Location", 0, CURLH_HEADER, -1, &location) == CURLHE_OK &&
        location != nullptr) {
      response.location_absolute = !UrlPart(location->value, CURLUPART_SCHEME).empty();
    }
  }
  return response;
}

ProbeResult HttpGetCheck(const ProbeRequest& request) {
  const api::v1::HTTPGetAction& action = request.probe.http_get();
  std::string scheme = absl::AsciiStrToLower(action.scheme());
  if (scheme.empty()) scheme = "http";
  absl::StatusOr<std::string> host = ProbeHost(action.host(), request);
  if (!host.ok()) return Failure(std::string(host.status().message()));
  absl::StatusOr<int> port = ResolvePort(action.port(), request.container);
  if (!port.ok()) return Failure(std::string(port.status().message()));
  std::string url =
      fmt::format("{}://{}{}", scheme, JoinHostPort(*host, *port), RequestPath(action.path()));
  if (scheme != "http" && scheme != "https") {
    return Failure(
        fmt::format("Get {}: unsupported protocol scheme {}", Quoted(url), Quoted(scheme)));
  }
  absl::StatusOr<RequestHeaders> headers = BuildHeaders(action);
  if (!headers.ok()) return Failure(std::string(headers.status().message()));

  ::orch::internal::InitCurlOnce();
  const absl::Duration timeout = absl::Seconds(TimeoutSeconds(request.probe));
  const absl::Time deadline = absl::Now() + timeout;
  const std::string first_host = UrlPart(url, CURLUPART_HOST);
  std::string virtual_host = headers->host;
  HttpResponse response;
  for (int redirects = 0;; ++redirects) {
    std::vector<std::string> lines = headers->lines;
    if (!virtual_host.empty()) lines.push_back("Host: " + virtual_host);
    const absl::Duration remaining = deadline - absl::Now();
    absl::StatusOr<HttpResponse> got =
        remaining <= absl::ZeroDuration()
            ? absl::StatusOr<HttpResponse>(absl::DeadlineExceededError(fmt::format(
                  "Get {}: timed out after {}", Quoted(url), absl::FormatDuration(timeout))))
            : HttpGetOnce(url, lines, remaining, timeout);
    if (!got.ok()) return Failure(std::string(got.status().message()));
    response = *std::move(got);
    if (response.redirect_url.empty()) break;
    // The kubelet follows a redirect only to the host it asked (the port may change);
    // elsewhere it stops and judges the redirect itself.
    if (UrlPart(response.redirect_url, CURLUPART_HOST) != first_host) break;
    if (redirects == kMaxRedirects) {
      return Failure(fmt::format("Get {}: stopped after {} redirects",
                                 Quoted(response.redirect_url), kMaxRedirects));
    }
    // Go keeps a custom Host across a redirect only when the Location is relative.
    if (response.location_absolute) virtual_host.clear();
    url = response.redirect_url;
  }

  if (response.status >= 200 && response.status < 400) {
    if (response.status >= 300) {
      // A success with a warning: the kubelet records a ProbeWarning event.
      return Success(fmt::format("Probe terminated redirects, Response body: {}", response.body));
    }
    return Success();
  }
  return Failure(fmt::format("HTTP probe failed with statuscode: {}", response.status));
}

// ---------------------------------------------------------------------------------------
// tcpSocket

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// Connects to one address before `deadline`: 0, or the errno why not (ETIMEDOUT when the
// deadline passed).
int ConnectBefore(const addrinfo& address, absl::Time deadline) {
  FileDescriptor fd(socket(address.ai_family, address.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                           address.ai_protocol));
  if (fd.get() < 0) return errno;
  if (connect(fd.get(), address.ai_addr, address.ai_addrlen) == 0) return 0;
  if (errno != EINPROGRESS) return errno;
  for (;;) {
    const int64_t wait_ms =
        absl::ToInt64Milliseconds(absl::Ceil(deadline - absl::Now(), absl::Milliseconds(1)));
    if (wait_ms <= 0) return ETIMEDOUT;
    pollfd waiting{.fd = fd.get(), .events = POLLOUT, .revents = 0};
    const int ready = poll(&waiting, 1, static_cast<int>(std::min<int64_t>(wait_ms, 1 << 30)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return errno;
    if (ready == 0) continue;  // re-checks the deadline
    int error = 0;
    socklen_t length = sizeof(error);
    if (getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0) return errno;
    return error;
  }
}

// net.DialTimeout("tcp", host:port, timeout), with Go's messages.
ProbeResult TcpCheck(const ProbeRequest& request) {
  const api::v1::TCPSocketAction& action = request.probe.tcp_socket();
  absl::StatusOr<int> port = ResolvePort(action.port(), request.container);
  if (!port.ok()) return Failure(std::string(port.status().message()));
  absl::StatusOr<std::string> host = ProbeHost(action.host(), request);
  if (!host.ok()) return Failure(std::string(host.status().message()));
  const std::string address = JoinHostPort(*host, *port);
  const absl::Time deadline = absl::Now() + absl::Seconds(TimeoutSeconds(request.probe));

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(*port);
  if (const int error = getaddrinfo(host->c_str(), service.c_str(), &hints, &found); error != 0) {
    return Failure(fmt::format("dial tcp: lookup {}: {}", *host,
                               error == EAI_NONAME ? "no such host" : gai_strerror(error)));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> addresses(found, &freeaddrinfo);
  int last_error = EHOSTUNREACH;
  for (const addrinfo* candidate = found; candidate != nullptr; candidate = candidate->ai_next) {
    last_error = ConnectBefore(*candidate, deadline);
    if (last_error == 0) return Success();
    if (last_error == ETIMEDOUT && absl::Now() >= deadline) {
      return Failure(fmt::format("dial tcp {}: i/o timeout", address));
    }
  }
  return Failure(fmt::format("dial tcp {}: connect: {}", address, ErrnoText(last_error)));
}

// ---------------------------------------------------------------------------------------

class RealProber final : public Prober {
 public:
  RealProber(Runtime* runtime, Executor* executor) : runtime_(runtime), executor_(executor) {}

  void Probe(const ProbeRequest& request, std::function<void(ProbeResult)> done) override {
    const api::v1::Probe& probe = request.probe;
    if (probe.has_exec()) {
      Exec(request, std::move(done));
    } else if (probe.has_http_get()) {
      Block(&HttpGetCheck, request, std::move(done));
    } else if (probe.has_tcp_socket()) {
      Block(&TcpCheck, request, std::move(done));
    } else if (probe.has_grpc()) {
      Reply(Failure("grpc probes are not supported"), std::move(done));
    } else {
      Reply(Failure(fmt::format("missing probe handler for container \"{}\"",
                                request.container.name())),
            std::move(done));
    }
  }

 private:
  // An answer known at once still reaches `done` through the executor.
  void Reply(ProbeResult result, std::function<void(ProbeResult)> done) {
    executor_->Post([result = std::move(result), done = std::move(done)]() mutable {
      if (done) done(std::move(result));
    });
  }

  // A blocking check runs as one executor task, `done` at its end.
  void Block(ProbeResult (*check)(const ProbeRequest&), const ProbeRequest& request,
             std::function<void(ProbeResult)> done) {
    executor_->Post([check, request, done = std::move(done)]() mutable {
      ProbeResult result = check(request);
      if (done) done(std::move(result));
    });
  }

  void Exec(const ProbeRequest& request, std::function<void(ProbeResult)> done) {
    if (request.probe.exec().command().empty()) {
      Reply(Failure("exec probe has no command"), std::move(done));
      return;
    }
    if (runtime_ == nullptr) {
      Reply(Failure("no container runtime to exec the probe in"), std::move(done));
      return;
    }
    const int32_t timeout_seconds = TimeoutSeconds(request.probe);
    cri::ExecSyncRequest exec;
    exec.set_container_id(request.container_id);
    std::vector<std::string> cmd = ExpandCommand(request.container, request.probe.exec().command());
    for (const std::string& arg : cmd) exec.add_cmd(arg);
    exec.set_timeout(timeout_seconds);
    Executor* executor = executor_;
    runtime_->ExecSync(
        exec, [executor, cmd = std::move(cmd), timeout_seconds,
               done = std::move(done)](absl::StatusOr<cri::ExecSyncResponse> response) mutable {
          // Runtime callbacks must be quick, and `done` belongs on the executor.
          executor->Post([result = ExecResult(cmd, timeout_seconds, response),
                          done = std::move(done)]() mutable {
            if (done) done(std::move(result));
          });
        });
  }

  Runtime* const runtime_;
  Executor* const executor_;
};

}  // namespace

std::unique_ptr<Prober> NewProber(Runtime* runtime, Executor* executor) {
  return std::make_unique<RealProber>(runtime, executor);
}

}  // namespace orch::runtime
