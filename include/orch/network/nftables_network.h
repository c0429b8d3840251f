// NftablesNetwork: the Network of a real Linux node. It programs the kernel's packet rules
// with nftables, as kube-proxy does in its nftables mode, so that a connection to a
// Service's cluster IP and port (from the node itself, or routed through it from its pods
// or from elsewhere) is DNATed to one of the port's ready endpoints, and a connection to a
// node port on any of the node's own addresses likewise.
//
//   ORCH_ASSIGN_OR_RETURN(auto net, network::NftablesNetwork::Create(
//       {.cluster_cidr = "10.64.0.0/16"}));
//   node::ServiceProxy::Create({.informers = &informers, .network = net.get(), ...});
//
// What it programs (one nftables table of family ip, `table`, which it owns alone):
//   - map service-ips, ClusterIP . protocol . port -> the Service port's chain, and map
//     service-nodeports, protocol . node port -> its external chain; chains nat-prerouting
//     and nat-output look both up.
//   - per Service port: chain service-NS/NAME/PROTO/PORT DNATs to an endpoint picked at
//     random among the candidates (the ready endpoints; when none is ready, the serving
//     ones that are terminating, as kube-proxy falls back), with one rule: no chain per
//     endpoint, so a change costs little however many endpoints the table holds.
//   - sessionAffinity ClientIP: a chain per endpoint, and a set per endpoint that
//     remembers for the affinity timeout the clients it was picked for; a client found in
//     one goes to that endpoint again.
//   - masquerade (SNAT to the node's address) for traffic from outside `cluster_cidr` (all
//     of it when `cluster_cidr` is empty), for every node-port connection, and for an
//     endpoint reaching its own Service (it may land on itself: hairpin), marked with
//     `masquerade_mark`.
//   - a Service port with no candidate endpoint rejects new connections (ICMP port
//     unreachable: the client sees "connection refused" at once, not a timeout).
//
// Each change is one nftables transaction (`nft -f -`), applied whole or not at all:
// SyncService replaces one Service's rules, SyncAll all of them. Connections already
// established keep their endpoint (the kernel's connection tracking holds the translation)
// while rules change, across a restart of the host too: Create reads what the table holds
// and keeps it, so traffic flows on until the host's ServiceProxy syncs again, and the
// first SyncAll removes what is no longer wanted. The table is left in place when the
// network is destroyed; Cleanup removes it.
//
// Pod addresses: with `pod_cidr` set, AssignPodAddress hands out addresses from that range
// for pods of `node_name` (as FakeNetwork does); without it, pods get their addresses from
// the runtime's CNI and AssignPodAddress returns kFailedPrecondition.
//
// Requirements: Linux with nf_tables, the `nft` program (Debian package nftables) on PATH,
// and CAP_NET_ADMIN in the network namespace programmed (`netns`, or the process's own).
//
// Thread safety: every method may be called from any thread; transactions are applied one
// at a time. Ownership: the caller owns the network. Errors: Create returns
// kInvalidArgument for a bad option (naming it), kFailedPrecondition when nft cannot be run
// or refuses the table (its message quoted); SyncService returns kInvalidArgument for a
// rule that cannot be programmed (a cluster IP that is not an IPv4 address, a port out of
// range, an unknown protocol, a bad backend) naming the field, and kInternal when nft
// refuses a transaction; in every error case the kernel's rules are as they were.
#ifndef ORCH_NETWORK_NFTABLES_NETWORK_H_
#define ORCH_NETWORK_NFTABLES_NETWORK_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "orch/base/ipv4.h"
#include "orch/base/mutex.h"
#include "orch/network/network.h"
#include "orch/network/pod_addresses.h"

namespace orch::network {

struct NftablesNetworkOptions {
  std::string table = "orch";  // the table's name (family ip): letters, digits, '-', '_'
  // The network namespace programmed: "" for the process's own, else a name under
  // /run/netns (`ip netns add NAME`); nft then runs under `ip netns exec NAME`.
  std::string netns;
  std::string nft = "nft";    // the nft program
  std::string cluster_cidr;   // the pods' addresses, e.g. "10.64.0.0/16"; "" masquerades all
  uint32_t masquerade_mark = 0x4000;  // one bit of the packet mark, kube-proxy's default
  // Pod addressing, optional: this node's name and its pod range ("10.64.3.0/24").
  std::string node_name;
  std::string pod_cidr;
  absl::Duration timeout = absl::Seconds(30);  // for one nft run
};

}  // namespace orch::network

namespace orch::internal {

// What an NftablesNetwork's table holds for one Service: its chains, its affinity sets
// (with their timeouts in seconds; 0 when read back from the table) and its elements of
// each map ("KEY : VERDICT").
struct NftablesObjects {
  std::set<std::string> chains;
  std::map<std::string, int32_t> sets;
  std::map<std::string, std::set<std::string>> elements;
};

}  // namespace orch::internal

namespace orch::network {

class NftablesNetwork final : public Network {
 public:
  // Checks the options, reads the table as it is (keeping what it holds) and adds what is
  // missing of its fixed part: the hooks, maps and chains every Service uses.
  static absl::StatusOr<std::unique_ptr<NftablesNetwork>> Create(NftablesNetworkOptions options);

  absl::StatusOr<std::string> AssignPodAddress(std::string_view node,
                                               std::string_view pod_uid) override;
  void ReleasePodAddress(std::string_view node, std::string_view pod_uid) override;
  absl::Status SyncService(const ServiceRule& rule) override;
  absl::Status DeleteService(std::string_view ns, std::string_view name) override;
  absl::Status SyncServices(const ServiceChanges& changes) override;
  // One transaction that also rewrites the fixed part.
  absl::Status SyncAll(const std::vector<ServiceRule>& rules) override;

  // Deletes the table and everything in it; the network is empty afterwards (a later
  // SyncService adds the table again).
  absl::Status Cleanup();

  // The table as nft lists it, for people and tests.
  absl::StatusOr<std::string> ListTable() const;
  // Transactions applied so far (Create's included), and the last one's text.
  int64_t transactions() const;
  std::string last_transaction() const;

 private:
  explicit NftablesNetwork(NftablesNetworkOptions options);
  absl::Status ReadTable() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Apply(const std::string& transaction) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs nft with `args` (in options_.netns) and `input`: its output, or kInternal naming
  // the command and quoting nft's errors.
  absl::StatusOr<std::string> Nft(std::vector<std::string> args, std::string_view input) const;
  std::string FixedPart(bool flush_maps) const;

  const NftablesNetworkOptions options_;
  std::optional<IPv4Cidr> cluster_cidr_;
  mutable Mutex mu_;
  // By "ns/name".
  std::map<std::string, internal::NftablesObjects, std::less<>> services_ ABSL_GUARDED_BY(mu_);
  std::optional<PodAddresses> pod_addresses_ ABSL_GUARDED_BY(mu_);
  bool have_fixed_ ABSL_GUARDED_BY(mu_) = false;  // the fixed part is in the table
  int64_t transactions_ ABSL_GUARDED_BY(mu_) = 0;
  std::string last_transaction_ ABSL_GUARDED_BY(mu_);
};

}  // namespace orch::network

#endif  // ORCH_NETWORK_NFTABLES_NETWORK_H_
