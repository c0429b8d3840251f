// IPv4 addresses and CIDR ranges as numbers: what address pools (pod addresses, Service
// cluster IPs) are computed with, and IPv4Pool, the pod addresses of one range.
//
// Thread safety: values; every function is pure. Errors: ParseIPv4Cidr returns
// kInvalidArgument naming `field` and the text.
#ifndef ORCH_BASE_IPV4_H_
#define ORCH_BASE_IPV4_H_

#include <charconv>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "fmt/format.h"

namespace orch {

// A dotted-quad address ("10.96.0.1") as a number; nullopt for anything else.
inline std::optional<uint32_t> ParseIPv4(std::string_view text) {
  uint32_t ip = 0;
  for (int i = 0; i < 4; ++i) {
    uint32_t octet = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), octet);
    if (error != std::errc() || octet > 255 || end == text.data()) return std::nullopt;
    ip = ip << 8 | octet;
    text.remove_prefix(static_cast<size_t>(end - text.data()));
    if (i < 3) {
      if (text.empty() || text.front() != '.') return std::nullopt;
      text.remove_prefix(1);
    }
  }
  if (!text.empty()) return std::nullopt;
  return ip;
}

inline std::string FormatIPv4(uint32_t ip) {
  return fmt::format("{}.{}.{}.{}", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
}

// An IPv4 range "10.96.0.0/12": its first address (host bits cleared) and its size.
struct IPv4Cidr {
  uint32_t base = 0;
  uint32_t prefix_length = 0;

  uint64_t size() const { return uint64_t{1} << (32 - prefix_length); }
  bool Contains(uint32_t ip) const { return ip - base < size(); }
  std::string ToString() const { return fmt::format("{}/{}", FormatIPv4(base), prefix_length); }
};

// Parses "a.b.c.d/n" with `min_length` <= n <= `max_length`. kInvalidArgument:
// `<field>: Invalid value: "<text>": must be an IPv4 CIDR with a prefix length from <min>
// to <max>`.
inline absl::StatusOr<IPv4Cidr> ParseIPv4Cidr(std::string_view text, std::string_view field,
                                              uint32_t min_length = 0, uint32_t max_length = 32) {
  const size_t slash = text.find('/');
  std::optional<uint32_t> ip;
  uint32_t length = 0;
  bool ok = slash != std::string_view::npos;
  if (ok) {
    ip = ParseIPv4(text.substr(0, slash));
    const std::string_view digits = text.substr(slash + 1);
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
    ok = ip.has_value() && error == std::errc() && end == digits.data() + digits.size() &&
         !digits.empty() && length >= min_length && length <= max_length;
  }
  if (!ok) {
    return absl::InvalidArgumentError(fmt::format(
        "{}: Invalid value: \"{}\": must be an IPv4 CIDR with a prefix length from {} to {}",
        field, text, min_length, max_length));
  }
  const uint32_t mask = length == 0 ? 0 : ~uint32_t{0} << (32 - length);
  return IPv4Cidr{*ip & mask, length};
}

// The pod addresses of one range, as a node's IPAM hands them out: the lowest address
// given back first, else the next never used, counting up from `first` (the gateway and
// the network address come before it); never the range's last (broadcast) address.
// Not thread-safe: a value its owner guards.
class IPv4Pool {
 public:
  IPv4Pool() = default;  // no range: Take always fails
  explicit IPv4Pool(IPv4Cidr cidr, uint32_t first = 2)
      : cidr_(cidr), has_range_(true), next_(first) {}

  const IPv4Cidr& cidr() const { return cidr_; }
  bool has_range() const { return has_range_; }

  // A free address, or nullopt when every one is taken.
  std::optional<uint32_t> Take() {
    if (!free_.empty()) {
      const uint32_t host = *free_.begin();
      free_.erase(free_.begin());
      return cidr_.base + host;
    }
    if (!has_range_ || next_ + 1 >= cidr_.size()) return std::nullopt;
    return cidr_.base + next_++;
  }
  // Gives back an address Take handed out; others are ignored.
  void Give(uint32_t ip) {
    if (has_range_ && cidr_.Contains(ip) && ip - cidr_.base < next_) free_.insert(ip - cidr_.base);
  }

 private:
  IPv4Cidr cidr_;
  bool has_range_ = false;
  uint32_t next_ = 2;
  std::set<uint32_t> free_;  // host numbers given back
};

}  // namespace orch

#endif  // ORCH_BASE_IPV4_H_
