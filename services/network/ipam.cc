#include "services/network/ipam.h"

#include <arpa/inet.h>

#include "common/errors.h"

namespace berth::network {

uint32_t parseIpv4(const std::string& text) {
  in_addr a{};
  // inet_pton takes only the dotted quad (no short forms, no leading zeros beyond one digit).
  if (inet_pton(AF_INET, text.c_str(), &a) != 1) throw Error(ErrorKind::invalid, "invalid IPv4 address: " + text);
  return ntohl(a.s_addr);
}

std::string formatIpv4(uint32_t address) {
  in_addr a{htonl(address)};
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a, buf, sizeof buf);
  return buf;
}

Ipv4Prefix Ipv4Prefix::parse(const std::string& text) {
  auto slash = text.find('/');
  auto bad = [&] { return Error(ErrorKind::invalid, "invalid CIDR address: " + text); };
  if (slash == std::string::npos || slash + 1 == text.size() || text.size() - slash > 3) throw bad();
  int bits = 0;
  for (size_t i = slash + 1; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') throw bad();
    bits = bits * 10 + (text[i] - '0');
  }
  if (bits > 32) throw bad();
  uint32_t address = 0;
  try {
    address = parseIpv4(text.substr(0, slash));
  } catch (const Error&) {
    throw bad();
  }
  Ipv4Prefix p;
  p.bits = bits;
  p.base = address & p.mask();
  return p;
}

std::string Ipv4Prefix::str() const { return formatIpv4(base) + "/" + std::to_string(bits); }

std::vector<AddressPool> defaultAddressPools() {
  return {
      {Ipv4Prefix::parse("172.17.0.0/16"), 16}, {Ipv4Prefix::parse("172.18.0.0/16"), 16},
      {Ipv4Prefix::parse("172.19.0.0/16"), 16}, {Ipv4Prefix::parse("172.20.0.0/14"), 16},
      {Ipv4Prefix::parse("172.24.0.0/14"), 16}, {Ipv4Prefix::parse("172.28.0.0/14"), 16},
      {Ipv4Prefix::parse("192.168.0.0/16"), 20},
  };
}

std::optional<Ipv4Prefix> nextFreeSubnet(const std::vector<AddressPool>& pools, const std::vector<Ipv4Prefix>& taken) {
  for (const auto& pool : pools) {
    if (pool.size < pool.base.bits || pool.size > 32) continue;
    uint64_t step = uint64_t{1} << (32 - pool.size);
    for (uint64_t at = pool.base.first(); at <= pool.base.last(); at += step) {
      Ipv4Prefix candidate{static_cast<uint32_t>(at), pool.size};
      bool free = true;
      for (const auto& t : taken) {
        if (candidate.overlaps(t)) {
          free = false;
          break;
        }
      }
      if (free) return candidate;
    }
  }
  return std::nullopt;
}

SubnetAddresses::SubnetAddresses(Ipv4Prefix subnet, std::optional<Ipv4Prefix> range, uint32_t gateway)
    : subnet_(subnet), range_(range.value_or(subnet)), gateway_(gateway) {
  if (range_.bits < subnet_.bits || !subnet_.contains(range_.base)) {
    throw Error(ErrorKind::invalid, "no matching subnet for range " + range_.str());
  }
  if (!subnet_.contains(gateway_)) {
    throw Error(ErrorKind::invalid, "no matching subnet for gateway " + formatIpv4(gateway_));
  }
  last_ = range_.last();  // so the first candidate is the range's first address
}

uint32_t SubnetAddresses::defaultGateway(const Ipv4Prefix& subnet) {
  return subnet.bits >= 31 ? subnet.first() : subnet.first() + 1;
}

bool SubnetAddresses::usable(uint32_t address) const {
  if (address == gateway_ || used_.count(address)) return false;
  // /31 and /32 have no network or broadcast address (RFC 3021).
  if (subnet_.bits < 31 && (address == subnet_.first() || address == subnet_.last())) return false;
  return true;
}

uint32_t SubnetAddresses::allocate() {
  uint64_t size = uint64_t{range_.last()} - range_.first() + 1;
  uint64_t offset = uint64_t{last_} - range_.first();
  for (uint64_t i = 1; i <= size; ++i) {
    auto candidate = static_cast<uint32_t>(range_.first() + (offset + i) % size);
    if (usable(candidate)) {
      used_.insert(candidate);
      last_ = candidate;
      return candidate;
    }
  }
  throw Error(ErrorKind::unavailable, "No available addresses on this pool");
}

void SubnetAddresses::reserve(uint32_t address) {
  if (!subnet_.contains(address)) throw Error(ErrorKind::invalid, "Requested address is out of range");
  if (used_.count(address) || address == gateway_) throw Error(ErrorKind::conflict, "Address already in use");
  if (!usable(address)) throw Error(ErrorKind::invalid, "Requested address is out of range");
  used_.insert(address);
}

void SubnetAddresses::release(uint32_t address) { used_.erase(address); }

}  // namespace berth::network
