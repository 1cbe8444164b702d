#include "services/network/host_plumbing.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "common/errors.h"
#include "common/files.h"

namespace berth::network {

void HostPlumbing::ensureBridge(const BridgeLink& bridge) {
  network::ensureBridge(bridge);
  if (ipForward_) writeSysctl("net/ipv4/ip_forward", "1");
  // Lets traffic from 127.0.0.1 be routed to the bridge once DNATed to a container: what makes
  // a published port answer on the host's loopback without a proxy process.
  writeSysctl("net/ipv4/conf/" + bridge.name + "/route_localnet", "1");
}

bool HostPlumbing::hostPortFree(const std::string& protocol, uint32_t hostIp, uint16_t port) {
  int fd = ::socket(AF_INET, (protocol == "udp" ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
  if (fd < 0) return true;  // cannot tell: the DNAT rule is installed anyway
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(hostIp);
  bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 || errno != EADDRINUSE;
  ::close(fd);
  return free;
}

std::vector<Ipv4Prefix> HostPlumbing::hostRoutes() {
  // /proc/net/route: destination and mask in network byte order, as hex.
  std::vector<Ipv4Prefix> out;
  std::ifstream in("/proc/net/route");
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string iface, dest, gateway, flags, refcnt, use, metric, mask;
    if (!(fields >> iface >> dest >> gateway >> flags >> refcnt >> use >> metric >> mask)) continue;
    uint32_t d = ntohl(static_cast<uint32_t>(std::stoul(dest, nullptr, 16)));
    uint32_t m = ntohl(static_cast<uint32_t>(std::stoul(mask, nullptr, 16)));
    if (m == 0) continue;  // the default route overlaps everything and is not a subnet in use
    int bits = __builtin_popcount(m);
    out.push_back({d & m, bits});
  }
  return out;
}

std::pair<uint16_t, uint16_t> ephemeralPortRange() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int first = 0, last = 0;
  if (in >> first >> last && first > 0 && last >= first && last <= 65535) {
    return {static_cast<uint16_t>(first), static_cast<uint16_t>(last)};
  }
  return {49153, 65535};
}

}  // namespace berth::network
