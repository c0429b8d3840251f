// NewProber's real checks: httpGet and tcpSocket against a small HTTP server the test runs
// on 127.0.0.1, exec through a scripted Runtime.
#include "orch/runtime/prober.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orch/base/executor.h"
#include "support/http_test_server.h"

namespace orch::runtime {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

// ---------------------------------------------------------------------------------------
// The shared test HTTP server, answering each request by its path (query left out) from a
// table; 404 for other paths.
class TestHttpServer {
 public:
  using Reply = ::orch::testing::HttpResponse;
  using Request = ::orch::testing::HttpRequest;
  static Reply Answer(int status, std::string body = "ok") {
    return Reply{.status = status, .body = std::move(body)};
  }
  static Reply Redirect(int status, std::string location, std::string body = "moved") {
    return Reply{.status = status, .body = std::move(body), .location = std::move(location)};
  }
  static Reply Slow(absl::Duration delay) {
    return Reply{.status = 200, .body = "ok", .delay = delay};
  }

  int port() const { return server_.port(); }
  void Set(const std::string& path, Reply reply) {
    std::lock_guard lock(mu_);
    replies_[path] = std::move(reply);
  }
  std::vector<Request> requests() const { return server_.requests(); }

 private:
  Reply Lookup(const Request& request) {
    std::lock_guard lock(mu_);
    auto it = replies_.find(request.path);
    return it == replies_.end() ? Answer(404, "not found") : it->second;
  }

  mutable std::mutex mu_;
  std::map<std::string, Reply> replies_;
  ::orch::testing::HttpTestServer server_{[this](const Request& r) { return Lookup(r); }};
};

using ::orch::testing::ClosedPort;

// ---------------------------------------------------------------------------------------
// httpGet and tcpSocket: real sockets, on a thread pool.

class ProberNetworkTest : public ::testing::Test {
 protected:
  ProberNetworkTest()
      : executor_(std::make_unique<ThreadPoolExecutor>(2)),
        prober_(NewProber(/*runtime=*/nullptr, executor_.get())) {}

  void TearDown() override {
    prober_.reset();
    executor_.reset();  // runs or drops whatever is left, then joins
    for (const auto& calls : calls_) EXPECT_EQ(*calls, 1) << "done must run exactly once";
  }

  ProbeRequest Http(int port, const std::string& path = "") {
    ProbeRequest request;
    request.pod_ip = "127.0.0.1";
    request.container.set_name("web");
    request.probe.mutable_http_get()->set_path(path);
    request.probe.mutable_http_get()->mutable_port()->set_int_val(port);
    return request;
  }
  ProbeRequest Tcp(int port) {
    ProbeRequest request;
    request.pod_ip = "127.0.0.1";
    request.container.set_name("web");
    request.probe.mutable_tcp_socket()->mutable_port()->set_int_val(port);
    return request;
  }

  ProbeResult Run(const ProbeRequest& request) {
    auto promise = std::make_shared<std::promise<ProbeResult>>();
    auto calls = std::make_shared<std::atomic<int>>(0);
    calls_.push_back(calls);
    std::future<ProbeResult> result = promise->get_future();
    prober_->Probe(request, [promise, calls](ProbeResult r) {
      if (calls->fetch_add(1) == 0) promise->set_value(std::move(r));
    });
    if (result.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
      ADD_FAILURE() << "the probe never completed";
      return {.success = false, .message = "<never completed>"};
    }
    return result.get();
  }

  TestHttpServer server_;
  std::unique_ptr<ThreadPoolExecutor> executor_;
  std::unique_ptr<Prober> prober_;
  std::vector<std::shared_ptr<std::atomic<int>>> calls_;
};

TEST_F(ProberNetworkTest, HttpOkPasses) {
  server_.Set("/", TestHttpServer::Answer(200));
  ProbeResult result = Run(Http(server_.port()));
  EXPECT_TRUE(result.success) << result.message;
  EXPECT_THAT(result.message, IsEmpty());
  ASSERT_EQ(server_.requests().size(), 1u);
  EXPECT_EQ(server_.requests()[0].target, "/");  // the default path
}

TEST_F(ProberNetworkTest, HttpStatusFrom200To399Passes) {
  const std::vector<std::pair<int, bool>> cases = {{200, true},  {204, true},  {299, true},
                                                   {304, true},  {399, true},  {400, false},
                                                   {404, false}, {500, false}, {503, false}};
  for (const auto& [status, passes] : cases) {
    server_.Set("/status", TestHttpServer::Answer(status));
    ProbeResult result = Run(Http(server_.port(), "/status"));
    EXPECT_EQ(result.success, passes) << status << ": " << result.message;
  }
}

TEST_F(ProberNetworkTest, Http500FailsWithTheStatusCode) {
  server_.Set("/healthz", TestHttpServer::Answer(500, "broken"));
  ProbeResult result = Run(Http(server_.port(), "/healthz"));
  EXPECT_FALSE(result.success);
  EXPECT_EQ(result.message, "HTTP probe failed with statuscode: 500");
}

TEST_F(ProberNetworkTest, HttpPathKeepsItsQueryAndGetsALeadingSlash) {
  server_.Set("/healthz", TestHttpServer::Answer(200));
  EXPECT_TRUE(Run(Http(server_.port(), "/healthz?verbose=1&x=2")).success);
  EXPECT_TRUE(Run(Http(server_.port(), "healthz")).success);
  ASSERT_EQ(server_.requests().size(), 2u);
  EXPECT_EQ(server_.requests()[0].target, "/healthz?verbose=1&x=2");
  EXPECT_EQ(server_.requests()[1].target, "/healthz");
}

TEST_F(ProberNetworkTest, HttpRedirectToTheSameHostIsFollowed) {
  server_.Set("/old", TestHttpServer::Redirect(302, "/new"));
  server_.Set("/new", TestHttpServer::Redirect(
                          301, absl::StrCat("http://127.0.0.1:", server_.port(), "/healthz")));
  server_.Set("/healthz", TestHttpServer::Answer(200));
  ProbeRequest request = Http(server_.port(), "/old");
  *request.probe.mutable_http_get()->add_http_headers() = [] {
    api::v1::HTTPHeader h;
    h.set_name("X-Custom");
    h.set_value("kept");
    return h;
  }();
  ProbeResult result = Run(request);
  EXPECT_TRUE(result.success) << result.message;
  EXPECT_THAT(result.message, IsEmpty());
  const std::vector<TestHttpServer::Request> seen = server_.requests();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[1].target, "/new");
  EXPECT_EQ(seen[2].target, "/healthz");
  EXPECT_EQ(seen[2].Header("x-custom"), "kept");  // headers follow the redirect
}

TEST_F(ProberNetworkTest, HttpRedirectWhereTheFollowedAnswerFailsFails) {
  server_.Set("/old", TestHttpServer::Redirect(307, "/down"));
  server_.Set("/down", TestHttpServer::Answer(503));
  ProbeResult result = Run(Http(server_.port(), "/old"));
  EXPECT_FALSE(result.success);
  EXPECT_EQ(result.message, "HTTP probe failed with statuscode: 503");
}

TEST_F(ProberNetworkTest, HttpRedirectToAnotherHostPassesWithAWarning) {
  // "localhost" is another host name than "127.0.0.1", though the same machine: the
  // kubelet compares names, and does not follow.
  server_.Set("/old", TestHttpServer::Redirect(
                          302, absl::StrCat("http://localhost:", server_.port(), "/healthz")));
  ProbeResult result = Run(Http(server_.port(), "/old"));
  EXPECT_TRUE(result.success) << result.message;
  EXPECT_EQ(result.message, "Probe terminated redirects, Response body: moved");
  EXPECT_EQ(server_.requests().size(), 1u);
}

TEST_F(ProberNetworkTest, HttpRedirectLoopFailsAfterTenRedirects) {
  server_.Set("/loop", TestHttpServer::Redirect(302, "/loop"));
  ProbeResult result = Run(Http(server_.port(), "/loop"));
  EXPECT_FALSE(result.success);
  EXPECT_THAT(result.message, HasSubstr("stopped after 10 redirects"));
  EXPECT_EQ(server_.requests().size(), 11u);  // the first request and ten redirects
}

TEST_F(ProberNetworkTest, HttpHeadersArrive) {
  server_.Set("/", TestHttpServer::Answer(200));
  ProbeRequest request = Http(server_.port());
  for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"x-custom-header", "Awesome"}, {"Host", "example.com"}}) {
    api::v1::HTTPHeader* header = request.probe.mutable_http_get()->add_http_headers();
    header->set_name(name);
    header->set_value(value);
  }
  ASSERT_TRUE(Run(request).success);
  ASSERT_EQ(server_.requests().size(), 1u);
  const TestHttpServer::Request seen = server_.requests()[0];
  EXPECT_EQ(seen.Header("x-custom-header"), "Awesome");
  EXPECT_EQ(seen.Header("host"), "example.com");
  EXPECT_EQ(seen.Header("user-agent"), "kube-probe/1.28");
  EXPECT_EQ(seen.Header("accept"), "*/*");
}

TEST_F(ProberNetworkTest, HttpDefaultHostHeaderIsTheAddress) {
  server_.Set("/", TestHttpServer::Answer(200));
  ASSERT_TRUE(Run(Http(server_.port())).success);
  EXPECT_EQ(server_.requests().at(0).Header("host"), absl::StrCat("127.0.0.1:", server_.port()));
}

TEST_F(ProberNetworkTest, HttpUserAgentAndAcceptCanBeReplacedOrDropped) {
  server_.Set("/", TestHttpServer::Answer(200));
  ProbeRequest request = Http(server_.port());
  for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"User-Agent", "my-checker/2"}, {"Accept", ""}}) {
    api::v1::HTTPHeader* header = request.probe.mutable_http_get()->add_http_headers();
    header->set_name(name);
    header->set_value(value);
  }
  ASSERT_TRUE(Run(request).success);
  const TestHttpServer::Request seen = server_.requests().at(0);
  EXPECT_EQ(seen.Header("user-agent"), "my-checker/2");
  EXPECT_EQ(seen.Header("accept"), "<absent>");  // an empty Accept removes the header
}

TEST_F(ProberNetworkTest, HttpProbeHostIsUsedInsteadOfThePodIp) {
  server_.Set("/", TestHttpServer::Answer(200));
  ProbeRequest request = Http(server_.port());
  request.pod_ip = "";
  request.probe.mutable_http_get()->set_host("127.0.0.1");
  EXPECT_TRUE(Run(request).success);
}

TEST_F(ProberNetworkTest, HttpNamedPortResolves) {
  server_.Set("/healthz", TestHttpServer::Answer(200));
  ProbeRequest request = Http(0, "/healthz");
  api::v1::ContainerPort* other = request.container.add_ports();
  other->set_name("metrics");
  other->set_container_port(ClosedPort());
  api::v1::ContainerPort* port = request.container.add_ports();
  port->set_name("http");
  port->set_container_port(server_.port());
  request.probe.mutable_http_get()->mutable_port()->set_str_val("http");
  ProbeResult result = Run(request);
  EXPECT_TRUE(result.success) << result.message;
  EXPECT_EQ(server_.requests().size(), 1u);
}

TEST_F(ProberNetworkTest, HttpPortNumberWrittenAsAStringResolves) {
  server_.Set("/", TestHttpServer::Answer(200));
  ProbeRequest request = Http(0);
  request.probe.mutable_http_get()->mutable_port()->set_str_val(std::to_string(server_.port()));
  EXPECT_TRUE(Run(request).success);
}

TEST_F(ProberNetworkTest, HttpUnknownPortNameFails) {
  ProbeRequest request = Http(0);
  request.probe.mutable_http_get()->mutable_port()->set_str_val("metrics");
  ProbeResult result = Run(request);
  EXPECT_FALSE(result.success);
  EXPECT_EQ(result.message, "port \"metrics\" not found in container \"web\"'s ports");
  EXPECT_THAT(server_.requests(), IsEmpty());
}

TEST_F(ProberNetworkTest, HttpMissingOrInvalidPortFails) {
  ProbeRequest request = Http(0);
  request.probe.mutable_http_get()->clear_port();
  EXPECT_THAT(Run(request).message, HasSubstr("invalid port number: 0"));
  request.probe.mutable_http_get()->mutable_port()->set_int_val(70000);
  EXPECT_EQ(Run(request).message, "invalid port number: 70000");
  request.probe.mutable_http_get()->mutable_port()->set_int_val(-1);
  EXPECT_EQ(Run(request).message, "invalid port number: -1");
}

TEST_F(ProberNetworkTest, HttpWithNoAddressFails) {
  ProbeRequest request = Http(server_.port());
  request.pod_ip = "";
  ProbeResult result = Run(request);
  EXPECT_FALSE(result.success);
  EXPECT_THAT(result.message, HasSubstr("no address to probe"));
}

TEST_F(ProberNetworkTest, HttpSlowerThanTheTimeoutFails) {
  server_.Set("/slow", TestHttpServer::Slow(absl::Seconds(5)));
  ProbeRequest request = Http(server_.port(), "/slow");
  request.probe.set_timeout_seconds(1);
  const absl::Time start = absl::Now();
  ProbeResult result = Run(request);
  const absl::Duration took = absl::Now() - start;
  EXPECT_FALSE(result.success);
  EXPECT_EQ(result.message,
            absl::StrCat("Get \"http://127.0.0.1:", server_.port(), "/slow\": timed out after 1s"));
  EXPECT_GE(took, absl::Milliseconds(900));
  EXPECT_LT(took, absl::Seconds(3));
}

TEST_F(ProberNetworkTest, HttpTimeoutDefaultsToOneSecond) {
  server_.Set("/slow", TestHttpServer::Slow(absl::Seconds(5)));
  for (int timeout : {0, -3}) {
    ProbeRequest request = Http(server_.port(), "/slow");
    request.probe.set_timeout_seconds(timeout);
    const absl::Time start = absl::Now();
    ProbeResult result = Run(request);
    EXPECT_FALSE(result.success);
    EXPECT_THAT(result.message, HasSubstr("timed out after 1s")) << timeout;
    EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  }
}

TEST_F(ProberNetworkTest, HttpConnectionRefusedFails) {
  const int port = ClosedPort();
  ProbeResult result = Run(Http(port, "/healthz"));
  EXPECT_FALSE(result.success);
  EXPECT_EQ(result.message,
            absl::StrCat("Get \"http://127.0.0.1:", port, "/healthz\": dial tcp 127.0.0.1:", port,
                         ": connect: connection refused"));
}

TEST_F(ProberNetworkTest, HttpBigBodyIsCutAndStillPasses) {
  server_.Set("/big", TestHttpServer::Answer(200, std::string(1 << 20, 'x')));
  ProbeResult result = Run(Http(server_.port(), "/big"));
  EXPECT_TRUE(result.success) << result.message;
}

TEST_F(ProberNetworkTest, HttpsIsSpokenWhenAsked) {
  // The test server speaks no TLS: the handshake fails, which shows HTTPS was attempted.
  server_.Set("/", TestHttpServer::Answer(200));
  ProbeRequest request = Http(server_.port());
  request.probe.mutable_http_get()->set_scheme("HTTPS");
  ProbeResult result = Run(request);
  EXPECT_FALSE(result.success);
  EXPECT_THAT(result.message, StartsWith(absl::StrCat("Get \"https://127.0.0.1:", server_.port())));
}

TEST_F(ProberNetworkTest, HttpUnsupportedSchemeFails) {
  ProbeRequest request = Http(server_.port());
  request.probe.mutable_http_get()->set_scheme("FTP");
  ProbeResult result = Run(request);
  EXPECT_FALSE(result.success);
  EXPECT_THAT(result.message, HasSubstr("unsupported protocol scheme \"ftp\""));
}

TEST_F(ProberNetworkTest, HttpHeaderWithALineBreakFails) {
  server_.Set("/", TestHttpServer::Answer(200));
  ProbeRequest request = Http(server_.port());
  api::v1::HTTPHeader* header = request.probe.mutable_http_get()->add_http_headers();
  header->set_name("X-Evil");
  header->set_value("a\r\nInjected: yes");
  ProbeResult result = Run(request);
  EXPECT_FALSE(result.success);
  EXPECT_EQ(result.message, "invalid header field value for \"X-Evil\"");
  EXPECT_THAT(server_.requests(), IsEmpty());
}

TEST_F(ProberNetworkTest, TcpListeningPortPasses) {
  ProbeResult result = Run(Tcp(server_.port()));
  EXPECT_TRUE(result.success) << result.message;
  EXPECT_THAT(result.message, IsEmpty());
}

TEST_F(ProberNetworkTest, TcpClosedPortFails) {
  const int port = ClosedPort();
  ProbeResult result = Run(Tcp(port));
  EXPECT_FALSE(result.success);
  EXPECT_EQ(result.message,
            absl::StrCat("dial tcp 127.0.0.1:", port, ": connect: connection refused"));
}

TEST_F(ProberNetworkTest, TcpConnectSlowerThanTheTimeoutFails) {
  // A listener whose accept queue (backlog 0: one connection) is full drops new SYNs, so
  // the probe's connect hangs until its timeout.
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), length), 0);
  ASSERT_EQ(listen(listener, 0), 0);
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const int filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(connect(filler, reinterpret_cast<sockaddr*>(&address), length), 0);
  const int port = ntohs(address.sin_port);

  const absl::Time start = absl::Now();
  ProbeResult result = Run(Tcp(port));
  const absl::Duration took = absl::Now() - start;
  close(filler);
  close(listener);
  EXPECT_FALSE(result.success);
  EXPECT_EQ(result.message, absl::StrCat("dial tcp 127.0.0.1:", port, ": i/o timeout"));
  EXPECT_GE(took, absl::Milliseconds(900));
  EXPECT_LT(took, absl::Seconds(3));
}

TEST_F(ProberNetworkTest, TcpNamedPortAndHost) {
  ProbeRequest request = Tcp(0);
  request.pod_ip = "";
  request.probe.mutable_tcp_socket()->set_host("127.0.0.1");
  api::v1::ContainerPort* port = request.container.add_ports();
  port->set_name("db");
  port->set_container_port(server_.port());
  request.probe.mutable_tcp_socket()->mutable_port()->set_str_val("db");
  EXPECT_TRUE(Run(request).success);
  request.probe.mutable_tcp_socket()->mutable_port()->set_str_val("cache");
  EXPECT_EQ(Run(request).message, "port \"cache\" not found in container \"web\"'s ports");
}

TEST_F(ProberNetworkTest, TcpUnknownHostFails) {
  ProbeRequest request = Tcp(80);
  request.probe.mutable_tcp_socket()->set_host("no-such-host.invalid");
  ProbeResult result = Run(request);
  EXPECT_FALSE(result.success);
  EXPECT_THAT(result.message, StartsWith("dial tcp: lookup no-such-host.invalid: "));
}

TEST_F(ProberNetworkTest, ProbeWithNoHandlerFails) {
  ProbeRequest request;
  request.container.set_name("web");
  ProbeResult result = Run(request);
  EXPECT_FALSE(result.success);
  EXPECT_EQ(result.message, "missing probe handler for container \"web\"");
}

TEST_F(ProberNetworkTest, ExecWithoutARuntimeFails) {
  ProbeRequest request;
  request.probe.mutable_exec()->add_command("true");
  EXPECT_FALSE(Run(request).success);
}

// ---------------------------------------------------------------------------------------
// exec: a Runtime whose ExecSync answers from a script, at once (inside the call), so the
// tests also see that `done` waits for the executor.

class ScriptedExecRuntime final : public Runtime {
 public:
  using Script = std::function<absl::StatusOr<cri::ExecSyncResponse>(const cri::ExecSyncRequest&)>;
  explicit ScriptedExecRuntime(Script script) : script_(std::move(script)) {}

  std::vector<cri::ExecSyncRequest> execs;

  void ExecSync(const cri::ExecSyncRequest& request,
                Callback<cri::ExecSyncResponse> done) override {
    execs.push_back(request);
    done(script_(request));
  }

#define ORCH_UNIMPLEMENTED(Call)                                                      \
  void Call(const cri::Call##Request&, Callback<cri::Call##Response> done) override { \
    done(absl::UnimplementedError(#Call));                                            \
  }
  ORCH_UNIMPLEMENTED(Version)
  ORCH_UNIMPLEMENTED(Status)
  ORCH_UNIMPLEMENTED(RunPodSandbox)
  ORCH_UNIMPLEMENTED(StopPodSandbox)
  ORCH_UNIMPLEMENTED(RemovePodSandbox)
  ORCH_UNIMPLEMENTED(PodSandboxStatus)
  ORCH_UNIMPLEMENTED(ListPodSandbox)
  ORCH_UNIMPLEMENTED(CreateContainer)
  ORCH_UNIMPLEMENTED(StartContainer)
  ORCH_UNIMPLEMENTED(StopContainer)
  ORCH_UNIMPLEMENTED(RemoveContainer)
  ORCH_UNIMPLEMENTED(ListContainers)
  ORCH_UNIMPLEMENTED(ContainerStatus)
  ORCH_UNIMPLEMENTED(ListImages)
  ORCH_UNIMPLEMENTED(ImageStatus)
  ORCH_UNIMPLEMENTED(PullImage)
  ORCH_UNIMPLEMENTED(RemoveImage)
#undef ORCH_UNIMPLEMENTED

 private:
  Script script_;
};

cri::ExecSyncResponse Exited(int32_t code, std::string out = "", std::string err = "") {
  cri::ExecSyncResponse response;
  response.set_exit_code(code);
  response.set_stdout(std::move(out));
  response.set_stderr(std::move(err));
  return response;
}

class ProberExecTest : public ::testing::Test {
 protected:
  ProbeRequest Exec(std::vector<std::string> command) {
    ProbeRequest request;
    request.kind = ProbeKind::kLiveness;
    request.container_id = "c-1";
    request.container.set_name("app");
    for (std::string& arg : command) request.probe.mutable_exec()->add_command(std::move(arg));
    return request;
  }

  // Probes with `script` answering; the result comes only once the executor runs.
  ProbeResult Run(const ProbeRequest& request, ScriptedExecRuntime::Script script) {
    runtime_ = std::make_unique<ScriptedExecRuntime>(std::move(script));
    std::unique_ptr<Prober> prober = NewProber(runtime_.get(), &executor_);
    int calls = 0;
    ProbeResult result;
    prober->Probe(request, [&](ProbeResult r) {
      ++calls;
      result = std::move(r);
    });
    EXPECT_EQ(calls, 0) << "done ran inside Probe, not on the executor";
    executor_.RunUntilIdle();
    EXPECT_EQ(calls, 1);
    return result;
  }

  VirtualExecutor executor_;
  std::unique_ptr<ScriptedExecRuntime> runtime_;
};

TEST_F(ProberExecTest, ExitZeroPasses) {
  ProbeResult result =
      Run(Exec({"cat", "/tmp/healthy"}), [](auto&) { return Exited(0, "fine\n"); });
  EXPECT_TRUE(result.success);
  EXPECT_THAT(result.message, IsEmpty());
  ASSERT_EQ(runtime_->execs.size(), 1u);
  const cri::ExecSyncRequest& exec = runtime_->execs[0];
  EXPECT_EQ(exec.container_id(), "c-1");
  EXPECT_THAT(exec.cmd(), ElementsAre("cat", "/tmp/healthy"));
  EXPECT_EQ(exec.timeout(), 1);  // timeoutSeconds' default
}

TEST_F(ProberExecTest, TimeoutSecondsIsPassedOn) {
  ProbeRequest request = Exec({"true"});
  request.probe.set_timeout_seconds(7);
  Run(request, [](auto&) { return Exited(0); });
  EXPECT_EQ(runtime_->execs.at(0).timeout(), 7);
  request.probe.set_timeout_seconds(-2);  // never valid: the default
  Run(request, [](auto&) { return Exited(0); });
  EXPECT_EQ(runtime_->execs.at(0).timeout(), 1);
}

TEST_F(ProberExecTest, NonZeroExitFailsWithTheCodeAndOutput) {
  ProbeResult result = Run(Exec({"cat", "/tmp/healthy"}), [](auto&) {
    return Exited(1, "", "cat: can't open '/tmp/healthy': No such file or directory\n");
  });
  EXPECT_FALSE(result.success);
  EXPECT_EQ(result.message,
            "command \"cat /tmp/healthy\" exited with 1: "
            "cat: can't open '/tmp/healthy': No such file or directory");
}

TEST_F(ProberExecTest, OutputIsStdoutThenStderrCutAt10KiB) {
  ProbeResult result =
      Run(Exec({"check"}), [](auto&) { return Exited(3, "out;", std::string(20000, 'e')); });
  EXPECT_FALSE(result.success);
  const std::string prefix = "command \"check\" exited with 3: out;";
  EXPECT_THAT(result.message, StartsWith(prefix));
  EXPECT_EQ(result.message.size(), prefix.size() - 4 + 10 * 1024);
  ProbeResult silent = Run(Exec({"false"}), [](auto&) { return Exited(1); });
  EXPECT_EQ(silent.message, "command \"false\" exited with 1");
}

TEST_F(ProberExecTest, DeadlineExceededFailsAsATimeout) {
  ProbeRequest request = Exec({"sleep", "10"});
  request.probe.set_timeout_seconds(2);
  ProbeResult result = Run(request, [](auto&) {
    return absl::StatusOr<cri::ExecSyncResponse>(absl::DeadlineExceededError("deadline"));
  });
  EXPECT_FALSE(result.success);
  EXPECT_EQ(result.message, "command \"sleep 10\" timed out after 2s");
}

TEST_F(ProberExecTest, OtherErrorsFailWithTheirMessage) {
  ProbeResult result = Run(Exec({"true"}), [](auto&) {
    return absl::StatusOr<cri::ExecSyncResponse>(
        absl::NotFoundError("container \"c-1\" not found"));
  });
  EXPECT_FALSE(result.success);
  EXPECT_THAT(result.message,
              AllOf(HasSubstr("command \"true\""), HasSubstr("container \"c-1\" not found")));
}

TEST_F(ProberExecTest, CommandExpandsTheContainersEnv) {
  ProbeRequest request = Exec({"check", "--port=$(PORT)", "$$(PORT)", "$(UNSET)", "$(PORT", "a$b"});
  api::v1::EnvVar* env = request.container.add_env();
  env->set_name("PORT");
  env->set_value("8080");
  Run(request, [](auto&) { return Exited(0); });
  EXPECT_THAT(runtime_->execs.at(0).cmd(),
              ElementsAre("check", "--port=8080", "$(PORT)", "$(UNSET)", "$(PORT", "a$b"));
}

TEST_F(ProberExecTest, EmptyCommandFailsWithoutExec) {
  ProbeRequest request = Exec({});
  request.probe.mutable_exec();
  ProbeResult result = Run(request, [](auto&) { return Exited(0); });
  EXPECT_FALSE(result.success);
  EXPECT_EQ(result.message, "exec probe has no command");
  EXPECT_THAT(runtime_->execs, IsEmpty());
}

}  // namespace
}  // namespace orch::runtime
