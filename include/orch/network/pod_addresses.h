// PodAddresses: the addresses one node hands out to its pods from its pod range, each pod
// keeping its address until it gives it back: how FakeNetwork and NftablesNetwork address
// pods, for a host's own Network to use too.
//
// Thread safety: none; a value its owner guards. Errors: Assign returns kResourceExhausted
// when the range is full.
#ifndef ORCH_NETWORK_POD_ADDRESSES_H_
#define ORCH_NETWORK_POD_ADDRESSES_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "fmt/format.h"
#include "orch/base/ipv4.h"

namespace orch::network {

class PodAddresses {
 public:
  explicit PodAddresses(IPv4Cidr cidr) : pool_(cidr) {}

  // The pod's address: the one it holds, else a free one. kResourceExhausted when the range
  // is full ("node NODE: pod range CIDR is full").
  absl::StatusOr<std::string> Assign(std::string_view node, std::string_view pod_uid) {
    if (auto held = by_pod_.find(pod_uid); held != by_pod_.end()) return held->second;
    const std::optional<uint32_t> ip = pool_.Take();
    if (!ip.has_value()) {
      return absl::ResourceExhaustedError(
          fmt::format("node {}: pod range {} is full", node, pool_.cidr().ToString()));
    }
    return by_pod_.emplace(std::string(pod_uid), FormatIPv4(*ip)).first->second;
  }

  // Gives the pod's address back; an unknown pod is ignored.
  void Release(std::string_view pod_uid) {
    auto held = by_pod_.find(pod_uid);
    if (held == by_pod_.end()) return;
    if (std::optional<uint32_t> ip = ParseIPv4(held->second)) pool_.Give(*ip);
    by_pod_.erase(held);
  }

 private:
  IPv4Pool pool_;
  std::map<std::string, std::string, std::less<>> by_pod_;  // uid -> address
};

}  // namespace orch::network

#endif  // ORCH_NETWORK_POD_ADDRESSES_H_
