// The network service's IPAM: subnets from dockerd's default pools, addresses handed out
// serially, dockerd's refusals. Expected subnets and messages are moby's (libnetwork ipamutils
// and ipamapi) and the reference engine's (refcheck: the first user network is 172.18.0.0/16
// with gateway 172.18.0.1 while the default bridge holds 172.17.0.0/16).
#include <gtest/gtest.h>

#include "common/errors.h"
#include "services/network/ipam.h"

namespace berth::network {
namespace {

std::string message(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(IpamTest, PrefixesParseFormatAndCompareAsCidrs) {
  auto p = Ipv4Prefix::parse("172.18.3.7/16");
  EXPECT_EQ(p.str(), "172.18.0.0/16");
  EXPECT_EQ(formatIpv4(p.first()), "172.18.0.0");
  EXPECT_EQ(formatIpv4(p.last()), "172.18.255.255");
  EXPECT_TRUE(p.contains(parseIpv4("172.18.200.1")));
  EXPECT_FALSE(p.contains(parseIpv4("172.19.0.1")));
  EXPECT_TRUE(p.overlaps(Ipv4Prefix::parse("172.16.0.0/12")));
  EXPECT_TRUE(Ipv4Prefix::parse("172.16.0.0/12").overlaps(p));
  EXPECT_FALSE(p.overlaps(Ipv4Prefix::parse("172.19.0.0/16")));
  EXPECT_EQ(Ipv4Prefix::parse("0.0.0.0/0").mask(), 0u);
  for (const char* bad : {"172.18.0.0", "172.18.0.0/33", "172.18.0/16", "a.b.c.d/8", "10.0.0.0/", "10.0.0.0/1x"}) {
    EXPECT_EQ(message([&] { Ipv4Prefix::parse(bad); }), std::string("invalid CIDR address: ") + bad) << bad;
  }
  EXPECT_EQ(message([] { parseIpv4("10.0.0.256"); }), "invalid IPv4 address: 10.0.0.256");
}

TEST(IpamTest, NewNetworksTakeTheFirstDefaultPoolThatOverlapsNothing) {
  auto pools = defaultAddressPools();
  // The default bridge first, then user networks, as dockerd hands them out.
  std::vector<Ipv4Prefix> taken;
  auto bridge = nextFreeSubnet(pools, taken);
  ASSERT_TRUE(bridge);
  EXPECT_EQ(bridge->str(), "172.17.0.0/16");
  taken.push_back(*bridge);
  auto first = nextFreeSubnet(pools, taken);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->str(), "172.18.0.0/16");
  // A host route over 172.19/16 (a VPN, another engine's bridge) is skipped.
  taken.push_back(*first);
  taken.push_back(Ipv4Prefix::parse("172.19.128.0/17"));
  EXPECT_EQ(nextFreeSubnet(pools, taken)->str(), "172.20.0.0/16");
  // The /14s are cut into /16s, then 192.168/16 into /20s.
  taken.push_back(Ipv4Prefix::parse("172.16.0.0/12"));
  EXPECT_EQ(nextFreeSubnet(pools, taken)->str(), "192.168.0.0/20");
  taken.push_back(Ipv4Prefix::parse("192.168.0.0/20"));
  EXPECT_EQ(nextFreeSubnet(pools, taken)->str(), "192.168.16.0/20");
  taken.push_back(Ipv4Prefix::parse("192.168.0.0/16"));
  EXPECT_FALSE(nextFreeSubnet(pools, taken));
  // default-address-pools from the daemon's configuration.
  std::vector<AddressPool> configured = {{Ipv4Prefix::parse("10.10.0.0/16"), 24}};
  EXPECT_EQ(nextFreeSubnet(configured, {Ipv4Prefix::parse("10.10.0.0/24")})->str(), "10.10.1.0/24");
}

TEST(IpamTest, AddressesAreHandedOutSeriallySkippingGatewayNetworkAndBroadcast) {
  auto subnet = Ipv4Prefix::parse("172.18.0.0/16");
  SubnetAddresses a(subnet, std::nullopt, SubnetAddresses::defaultGateway(subnet));
  EXPECT_EQ(formatIpv4(a.gateway()), "172.18.0.1");
  EXPECT_EQ(formatIpv4(a.allocate()), "172.18.0.2");
  EXPECT_EQ(formatIpv4(a.allocate()), "172.18.0.3");
  // A released address is not handed out again at once (libnetwork's serial allocation).
  a.release(parseIpv4("172.18.0.2"));
  EXPECT_EQ(formatIpv4(a.allocate()), "172.18.0.4");
  EXPECT_FALSE(a.inUse(parseIpv4("172.18.0.2")));
  a.release(parseIpv4("172.18.0.2"));  // twice: no error

  // A /29: six host addresses, the gateway among them; then it wraps and finds the freed one.
  auto small = Ipv4Prefix::parse("10.0.0.0/29");
  SubnetAddresses s(small, std::nullopt, SubnetAddresses::defaultGateway(small));
  std::vector<std::string> got;
  for (int i = 0; i < 5; ++i) got.push_back(formatIpv4(s.allocate()));
  EXPECT_EQ(got, (std::vector<std::string>{"10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"}));
  EXPECT_EQ(message([&] { s.allocate(); }), "No available addresses on this pool");
  s.release(parseIpv4("10.0.0.3"));
  EXPECT_EQ(formatIpv4(s.allocate()), "10.0.0.3");
}

TEST(IpamTest, ChosenAddressesAndRangesAreCheckedWithDockerdsWords) {
  auto subnet = Ipv4Prefix::parse("10.99.0.0/24");
  SubnetAddresses a(subnet, Ipv4Prefix::parse("10.99.0.128/25"), parseIpv4("10.99.0.254"));
  a.reserve(parseIpv4("10.99.0.10"));  // --ip may lie outside --ip-range, within the subnet
  EXPECT_TRUE(a.inUse(parseIpv4("10.99.0.10")));
  EXPECT_EQ(message([&] { a.reserve(parseIpv4("10.99.0.10")); }), "Address already in use");
  EXPECT_EQ(message([&] { a.reserve(parseIpv4("10.99.0.254")); }), "Address already in use");
  EXPECT_EQ(message([&] { a.reserve(parseIpv4("10.99.1.10")); }), "Requested address is out of range");
  EXPECT_EQ(message([&] { a.reserve(parseIpv4("10.99.0.255")); }), "Requested address is out of range");
  // Allocation stays within the range.
  EXPECT_EQ(formatIpv4(a.allocate()), "10.99.0.128");
  EXPECT_EQ(formatIpv4(a.allocate()), "10.99.0.129");

  // The docker CLI's words for these (it checks before it sends; berth checks what it is sent).
  EXPECT_EQ(message([&] { SubnetAddresses(subnet, std::nullopt, parseIpv4("10.98.0.1")); }),
            "no matching subnet for gateway 10.98.0.1");
  EXPECT_EQ(message([&] { SubnetAddresses(subnet, Ipv4Prefix::parse("10.98.0.0/25"), parseIpv4("10.99.0.1")); }),
            "no matching subnet for range 10.98.0.0/25");
}

}  // namespace
}  // namespace berth::network
