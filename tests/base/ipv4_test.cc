// IPv4Pool: a node's pod addresses — lowest given back first, never the network, gateway
// or broadcast address, and nothing from outside the range.
#include <optional>
#include <set>
#include <string>

#include "gtest/gtest.h"
#include "orch/base/ipv4.h"

namespace orch {
namespace {

TEST(IPv4PoolTest, HandsOutTheRangeThenWhatIsGivenBackLowestFirst) {
  IPv4Pool pool(ParseIPv4Cidr("10.244.1.0/29", "cidr").value());  // .0 to .7
  std::set<std::string> seen;
  for (std::optional<uint32_t> ip; (ip = pool.Take()).has_value();) seen.insert(FormatIPv4(*ip));
  // .0 network, .1 gateway, .7 broadcast are never handed out.
  EXPECT_EQ(seen, (std::set<std::string>{"10.244.1.2", "10.244.1.3", "10.244.1.4",
                                         "10.244.1.5", "10.244.1.6"}));
  pool.Give(*ParseIPv4("10.244.1.5"));
  pool.Give(*ParseIPv4("10.244.1.3"));
  pool.Give(*ParseIPv4("10.244.9.3"));  // not ours: ignored
  pool.Give(*ParseIPv4("10.244.1.7"));  // never handed out: ignored
  EXPECT_EQ(FormatIPv4(*pool.Take()), "10.244.1.3");
  EXPECT_EQ(FormatIPv4(*pool.Take()), "10.244.1.5");
  EXPECT_FALSE(pool.Take().has_value());
}

TEST(IPv4PoolTest, WithoutARangeNothingIsHandedOut) {
  IPv4Pool pool;
  EXPECT_FALSE(pool.has_range());
  EXPECT_FALSE(pool.Take().has_value());
  pool.Give(*ParseIPv4("10.0.0.2"));
  EXPECT_FALSE(pool.Take().has_value());
}

}  // namespace
}  // namespace orch
