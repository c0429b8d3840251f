// NftablesNetwork on a real kernel. The example makes a network namespace of its own (so the
// machine's own rules are untouched), gives it two "pod" addresses on a veth interface
// with a listener each, and programs a Service at 10.96.0.10:80 over both. It connects 20
// times and prints who answered, turns one backend not ready, connects again, and removes
// everything. Needs root, iproute2 and nft (Debian: nftables).
//
// Exits 0 when the Service answered from both backends, then from the ready one only.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_join.h"
#include "orch/network/nftables_network.h"

namespace network = orch::network;

namespace {

// Runs a shell command line; false when it fails.
bool Sh(const std::string& command) { return std::system(command.c_str()) == 0; }

// A TCP socket of namespace `ns`: made on a thread that joined it (a socket belongs to the
// namespace it was made in, whichever thread uses it later).
int SocketIn(const std::string& ns) {
  int fd = -1;
  std::thread([&] {
    const int handle = open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    if (handle >= 0 && setns(handle, CLONE_NEWNET) == 0) fd = socket(AF_INET, SOCK_STREAM, 0);
    if (handle >= 0) close(handle);
  }).join();
  return fd;
}

sockaddr_in Address(const char* ip, int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, ip, &addr.sin_addr);
  return addr;
}

// A "pod": answers each connection with its name, until the listening socket is shut down.
std::thread Serve(int listener, std::string name) {
  return std::thread([listener, name] {
    while (true) {
      const int conn = accept(listener, nullptr, nullptr);
      if (conn < 0) return;
      (void)!write(conn, name.data(), name.size());
      close(conn);
    }
  });
}

// Who answers `count` connections to address:port from namespace `ns`.
std::set<std::string> Ask(const std::string& ns, const char* address, int port, int count) {
  std::set<std::string> answers;
  for (int i = 0; i < count; ++i) {
    const int fd = SocketIn(ns);
    const sockaddr_in addr = Address(address, port);
    char buffer[64];
    if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) {
      const ssize_t got = read(fd, buffer, sizeof buffer);
      if (got > 0) answers.insert(std::string(buffer, static_cast<size_t>(got)));
    } else {
      answers.insert("(refused)");
    }
    close(fd);
  }
  return answers;
}

}  // namespace

int main() {
  const std::string ns = "orch-example-" + std::to_string(getpid());
  const std::string in = "ip -n " + ns + " ";
  if (!Sh("ip netns add " + ns) ||
      !Sh(in + "link set lo up && " + in + "link add pods type veth peer name pods-peer && " + in +
          "addr add 10.64.0.2/24 dev pods && " + in + "addr add 10.64.0.3/24 dev pods && " + in +
          "link set pods up && " + in + "link set pods-peer up && " + in +
          "route add 10.96.0.0/12 dev pods")) {
    std::fprintf(stderr, "cannot make network namespace %s (root and iproute2 needed)\n",
                 ns.c_str());
    Sh("ip netns del " + ns + " 2>/dev/null");
    return 1;
  }

  // The two pods' listeners, inside the namespace.
  std::vector<int> listeners;
  std::vector<std::thread> pods;
  for (auto [ip, name] : {std::pair{"10.64.0.2", "web-a"}, std::pair{"10.64.0.3", "web-b"}}) {
    const int fd = SocketIn(ns);
    const sockaddr_in addr = Address(ip, 8080);
    if (bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
        listen(fd, 16) != 0) {
      std::perror("listen");
      return 1;
    }
    listeners.push_back(fd);
    pods.push_back(Serve(fd, name));
  }

  int exit_code = 1;
  absl::StatusOr<std::unique_ptr<network::NftablesNetwork>> net =
      network::NftablesNetwork::Create({.netns = ns});
  if (!net.ok()) {
    std::fprintf(stderr, "%s\n", std::string(net.status().message()).c_str());
  } else {
    network::ServiceRule web{.ns = "default", .name = "web", .cluster_ip = "10.96.0.10"};
    web.ports.push_back({.name = "http", .port = 80,
                         .backends = {{.address = "10.64.0.2", .port = 8080, .ready = true},
                                      {.address = "10.64.0.3", .port = 8080, .ready = true}}});
    absl::Status status = (*net)->SyncService(web);
    const std::set<std::string> both = Ask(ns, "10.96.0.10", 80, 20);
    std::printf("answered by: %s\n", absl::StrJoin(both, ", ").c_str());

    web.ports[0].backends[0].ready = false;  // web-a is no longer ready
    if (status.ok()) status = (*net)->SyncService(web);
    const std::set<std::string> one = Ask(ns, "10.96.0.10", 80, 20);
    std::printf("answered by: %s\n", absl::StrJoin(one, ", ").c_str());

    if (status.ok()) status = (*net)->Cleanup();
    if (status.ok()) std::printf("table orch removed\n");
    if (!status.ok()) std::fprintf(stderr, "%s\n", std::string(status.message()).c_str());
    const bool as_expected = both == std::set<std::string>{"web-a", "web-b"} &&
                             one == std::set<std::string>{"web-b"};
    exit_code = status.ok() && as_expected ? 0 : 1;
  }

  for (int fd : listeners) shutdown(fd, SHUT_RDWR);
  for (std::thread& t : pods) t.join();
  for (int fd : listeners) close(fd);
  Sh("ip netns del " + ns);
  return exit_code;
}
