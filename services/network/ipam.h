// IPv4 address management as dockerd's default IPAM does it (libnetwork's ipams/defaultipam and
// ipamutils): subnets for new networks come from the default address pools (or the daemon's
// `default-address-pools`), the first candidate that overlaps neither another network nor a
// route of the host; a network's addresses are handed out serially (the next free address
// after the last one handed out, wrapping around, as libnetwork does for bridge networks, so a
// just-released address is not reused at once), never the network address, the broadcast
// address or the gateway.
//
// Plain values, no I/O: the network service persists what it allocated and rebuilds these from
// it at start. Errors carry dockerd's words with their domain kind.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace berth::network {

// "a.b.c.d" to a host-order address; invalid otherwise.
uint32_t parseIpv4(const std::string& text);
std::string formatIpv4(uint32_t address);

struct Ipv4Prefix {
  uint32_t base = 0;  // host order, with the host bits clear
  int bits = 0;       // 0..32

  // "a.b.c.d/n"; invalid for anything else. Host bits that are set are cleared, as Go's
  // ParseCIDR-then-Masked does in dockerd's checks.
  static Ipv4Prefix parse(const std::string& text);
  std::string str() const;
  uint32_t mask() const { return bits == 0 ? 0 : ~uint32_t{0} << (32 - bits); }
  uint32_t first() const { return base; }
  uint32_t last() const { return base | ~mask(); }
  bool contains(uint32_t address) const { return (address & mask()) == base; }
  bool overlaps(const Ipv4Prefix& other) const { return contains(other.base) || other.contains(base); }
  bool operator==(const Ipv4Prefix& other) const = default;
};

// A base prefix cut into subnets of `size` bits (dockerd's `default-address-pools` entries).
struct AddressPool {
  Ipv4Prefix base;
  int size = 0;
};

// dockerd's local-scope defaults: 172.17–172.19 as /16s, 172.20/14, 172.24/14 and 172.28/14 cut
// into /16s, and 192.168.0.0/16 cut into /20s.
std::vector<AddressPool> defaultAddressPools();

// The first subnet, in pool order, that overlaps none of `taken` (other networks' subnets and
// the host's routes); nullopt when every candidate is taken.
std::optional<Ipv4Prefix> nextFreeSubnet(const std::vector<AddressPool>& pools, const std::vector<Ipv4Prefix>& taken);

// The addresses of one network's subnet.
class SubnetAddresses {
 public:
  // `range` (--ip-range) limits what allocate() hands out and must lie within `subnet`;
  // `gateway` must lie within `subnet` and is never handed out. Invalid otherwise, with the
  // docker CLI's words ("no matching subnet for gateway/range X"), which users see first.
  SubnetAddresses(Ipv4Prefix subnet, std::optional<Ipv4Prefix> range, uint32_t gateway);

  // The first host address of the subnet: dockerd's gateway when none is given.
  static uint32_t defaultGateway(const Ipv4Prefix& subnet);

  // The next free address after the last one handed out (serially, wrapping around within the
  // range); unavailable "no available IPv4 addresses" when none is left.
  uint32_t allocate();
  // A chosen address (--ip), anywhere in the subnet but the network, broadcast or gateway
  // address: conflict "Address already in use" when taken; invalid when outside the subnet.
  void reserve(uint32_t address);
  // Releasing an address that is not in use is no error (a repeated release after a crash).
  void release(uint32_t address);
  bool inUse(uint32_t address) const { return used_.count(address) != 0; }

  const Ipv4Prefix& subnet() const { return subnet_; }
  uint32_t gateway() const { return gateway_; }

 private:
  bool usable(uint32_t address) const;

  Ipv4Prefix subnet_;
  Ipv4Prefix range_;
  uint32_t gateway_;
  std::set<uint32_t> used_;
  uint32_t last_;  // the last address handed out (or the one before the range's first)
};

}  // namespace berth::network
