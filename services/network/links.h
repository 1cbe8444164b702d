// The links of berth's bridge networks, made through netlink in process (libnl-route-3): the
// bridges, one veth pair per container endpoint (its container end made directly inside the
// container's network namespace), the addresses, routes and MTU on both ends, and the few
// sysctls a bridge network needs. No `ip` process runs on a container's start path.
//
// Every operation can be repeated: a bridge that exists is completed, not refused; a veth whose
// plugging was interrupted is made again. That is what lets the network service finish or undo
// an interrupted attach at its next start (docs/network.md).
//
// The host side is the network namespace of the calling thread. Failures are internal errors
// naming the step, the link and libnl's text (which for some kernel errors, e.g. ENETUNREACH
// from a route, is only "Unspecific failure").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "services/network/ipam.h"

namespace berth::network {

struct BridgeLink {
  std::string name;   // at most 15 characters
  Ipv4Prefix subnet;  // the gateway's address is gateway/subnet.bits
  uint32_t gateway = 0;
  int mtu = 1500;
};

struct EndpointLink {
  std::string hostVeth;   // the host end, enslaved to `bridge`
  std::string bridge;
  std::string netnsPath;  // a bind-mounted network namespace (container_namespaces.h)
  std::string ifName;     // the container end's name inside it: eth0, eth1, …
  uint32_t address = 0;
  int prefixLen = 0;
  uint32_t gateway = 0;   // the default route inside the namespace; 0 for none
  std::string mac;        // "02:42:ac:11:00:02"
  int mtu = 1500;
};

// Creates the bridge when there is none; gives it the gateway address when it lacks it (other
// addresses are kept), sets the MTU and brings it up.
void ensureBridge(const BridgeLink& bridge);
// Deletes the bridge; no error when there is none.
void removeBridge(const std::string& name);

// Creates the pair (any earlier link named hostVeth is deleted first), the host end enslaved to
// the bridge and up, the container end inside the namespace as ifName with its MAC address,
// address and MTU, up, and the default route through `gateway` when it is not 0 (and the
// namespace's loopback up, should it not be). A failure after the pair exists deletes it.
void plugEndpoint(const EndpointLink& endpoint);
// Deletes the pair (both ends go together); no error when there is none.
void unplugEndpoint(const std::string& hostVeth);

// The names of the links enslaved to `bridge` (the host ends of its endpoints).
std::vector<std::string> bridgePorts(const std::string& bridge);
bool linkExists(const std::string& name);

// Writes a sysctl under /proc/sys ("net/ipv4/ip_forward", "1").
void writeSysctl(const std::string& key, const std::string& value);

}  // namespace berth::network
