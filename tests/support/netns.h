// Hosts of a test's own, made of Linux network namespaces on this machine: "nodes" joined
// by a switch (a bridge in a namespace of its own), each with a bridge for its "pods",
// which are namespaces too, answering HTTP with their name from a thread of the test. No
// traffic leaves these namespaces. Test-only; needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN)
// and iproute2.
//
//   ORCH_ASSIGN_OR_RETURN(auto bed, NetnsTestBed::Create(/*nodes=*/3));
//   ORCH_ASSIGN_OR_RETURN(PodHost pod, bed->AddPod(/*node=*/0, "web-0", 8080));
//   absl::StatusOr<std::string> who = bed->HttpGet(bed->node_netns(1), "10.96.0.10", 80);
//
// Addresses: node i is 192.168.77.(10 + i)/24 on the switch, its pods are 10.64.i.0/24
// (gateway 10.64.i.1, the node's pod bridge), and every node routes each other node's pod
// range to that node. Namespace names carry the test's pid, so test programs run side by
// side; every namespace is deleted with the bed.
//
// Thread safety: AddPod, SetLink and the destructor from one thread; HttpGet from any.
// Errors: absl::Status naming the command that failed and its output.
#ifndef ORCH_TESTS_SUPPORT_NETNS_H_
#define ORCH_TESTS_SUPPORT_NETNS_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace orch::testing {

// Runs `args` (a command and its arguments) and fails with its output when it exits
// non-zero; with `netns`, inside that namespace (`ip netns exec`).
absl::Status RunIn(const std::string& netns, const std::vector<std::string>& args);

// Whether this process may make network namespaces and program them: root, `ip` and `nft`
// on the path. When not, why not.
absl::Status NetnsAvailable();

// A listening TCP server in a namespace that answers every request with `body` and closes.
class HttpResponder {
 public:
  static absl::StatusOr<std::unique_ptr<HttpResponder>> Start(const std::string& netns,
                                                              const std::string& address,
                                                              int port, std::string body);
  ~HttpResponder();
  int64_t requests() const { return requests_.load(); }

 private:
  HttpResponder(int listen_fd, int stop_fd, std::string body);
  void Serve();

  const int listen_fd_;
  const int stop_fd_;  // an eventfd: written to stop Serve
  const std::string body_;
  std::atomic<int64_t> requests_{0};
  std::thread thread_;
};

struct PodHost {
  std::string netns;
  std::string address;
};

// A TCP connection made from a namespace, for tests that hold one open across a change.
class Connection {
 public:
  static absl::StatusOr<Connection> Open(const std::string& netns, const std::string& address,
                                         int port, absl::Duration timeout);
  Connection(Connection&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  ~Connection();
  // Sends one HTTP request and returns the response's body (the responder's name).
  absl::StatusOr<std::string> Get(absl::Duration timeout);

 private:
  explicit Connection(int fd) : fd_(fd) {}
  int fd_;
};

class NetnsTestBed {
 public:
  static absl::StatusOr<std::unique_ptr<NetnsTestBed>> Create(int nodes);
  ~NetnsTestBed();

  const std::string& node_netns(int node) const { return nodes_[node]; }
  std::string node_address(int node) const;
  std::string pod_cidr(int node) const;

  // A pod namespace on `node` at the next free address of its range, answering HTTP on
  // `port` with `name`.
  absl::StatusOr<PodHost> AddPod(int node, const std::string& name, int port);
  // Cuts node `node` off the switch (its link down), or joins it again.
  absl::Status SetLink(int node, bool up);

  // One HTTP GET from `netns` to address:port on a new connection: the body, kUnavailable
  // when refused or unreachable, kDeadlineExceeded when nothing answers within `timeout`.
  static absl::StatusOr<std::string> HttpGet(const std::string& netns, const std::string& address,
                                             int port,
                                             absl::Duration timeout = absl::Seconds(2));

 private:
  NetnsTestBed() = default;
  absl::Status AddNamespace(const std::string& name);

  std::string prefix_;
  std::string switch_;
  std::vector<std::string> nodes_;
  std::vector<int> next_pod_;  // per node: the next host number
  std::vector<std::string> namespaces_;
  std::vector<std::unique_ptr<HttpResponder>> responders_;
};

}  // namespace orch::testing

#endif  // ORCH_TESTS_SUPPORT_NETNS_H_
