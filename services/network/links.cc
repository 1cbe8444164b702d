// Bridges, veth pairs, addresses and routes through libnl-route-3. Host-side work uses a
// netlink socket opened in the calling thread's network namespace; work inside a container's
// namespace uses a socket opened there by a short-lived thread (a netlink socket acts on the
// namespace it was created in), so no thread of the service outlives a visit to a container.
#include "services/network/links.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>
#include <sched.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <thread>

#include "common/errors.h"
#include "common/files.h"

namespace berth::network {

namespace {

struct SocketFree {
  void operator()(nl_sock* s) const { nl_socket_free(s); }
};
struct LinkPut {
  void operator()(rtnl_link* l) const { rtnl_link_put(l); }
};
struct AddrPut {
  void operator()(nl_addr* a) const { nl_addr_put(a); }
};
struct RtAddrPut {
  void operator()(rtnl_addr* a) const { rtnl_addr_put(a); }
};
struct RoutePut {
  void operator()(rtnl_route* r) const { rtnl_route_put(r); }
};
struct CacheFree {
  void operator()(nl_cache* c) const { nl_cache_free(c); }
};
using Socket = std::unique_ptr<nl_sock, SocketFree>;
using Link = std::unique_ptr<rtnl_link, LinkPut>;
using Addr = std::unique_ptr<nl_addr, AddrPut>;
using RtAddr = std::unique_ptr<rtnl_addr, RtAddrPut>;
using Route = std::unique_ptr<rtnl_route, RoutePut>;
using Cache = std::unique_ptr<nl_cache, CacheFree>;

// libnl returns 0 or a negative NLE_* code.
[[noreturn]] void throwNetlink(std::string_view operation, std::string_view link, int err) {
  throw Error(ErrorKind::internal,
              std::string(operation) + " " + std::string(link) + ": " + nl_geterror(err));
}

[[noreturn]] void throwOutOfMemory(std::string_view operation, std::string_view link) {
  throw Error(ErrorKind::internal, std::string(operation) + " " + std::string(link) + ": out of memory");
}

// A NETLINK_ROUTE socket acting on the calling thread's network namespace (SOCK_CLOEXEC: libnl
// sets it, so the processes berth starts never inherit it).
Socket openRouteSocket(std::string_view link) {
  Socket sock(nl_socket_alloc());
  if (!sock) throwOutOfMemory("allocate netlink socket for", link);
  if (int err = nl_connect(sock.get(), NETLINK_ROUTE); err < 0) throwNetlink("connect netlink socket for", link, err);
  return sock;
}

// The link named `name`, or nothing when there is none (the kernel's ENODEV comes back as
// NLE_OBJ_NOTFOUND).
Link findLink(nl_sock* sock, const std::string& name) {
  rtnl_link* link = nullptr;
  int err = rtnl_link_get_kernel(sock, 0, name.c_str(), &link);
  if (err == -NLE_OBJ_NOTFOUND || err == -NLE_NODEV) return nullptr;
  if (err < 0) throwNetlink("look up link", name, err);
  return Link(link);
}

Link requireLink(nl_sock* sock, const std::string& name) {
  Link link = findLink(sock, name);
  if (!link) throw Error(ErrorKind::internal, "look up link " + name + ": no such link");
  return link;
}

// Deletes the link named `name` (a veth takes its peer with it); no error when there is none.
void deleteLinkIfPresent(nl_sock* sock, const std::string& name) {
  Link link = findLink(sock, name);
  if (!link) return;
  int err = rtnl_link_delete(sock, link.get());
  if (err < 0 && err != -NLE_OBJ_NOTFOUND && err != -NLE_NODEV) throwNetlink("delete link", name, err);
}

// Sets the MTU (when given) and IFF_UP on an existing link in one request.
void setUp(nl_sock* sock, rtnl_link* link, std::optional<int> mtu) {
  Link change(rtnl_link_alloc());
  if (!change) throwOutOfMemory("bring up", rtnl_link_get_name(link));
  if (mtu) rtnl_link_set_mtu(change.get(), static_cast<unsigned>(*mtu));
  rtnl_link_set_flags(change.get(), IFF_UP);
  if (int err = rtnl_link_change(sock, link, change.get(), 0); err < 0) {
    throwNetlink("bring up", rtnl_link_get_name(link), err);
  }
}

Addr ipv4Addr(uint32_t hostOrder, int prefixLen, std::string_view link) {
  uint32_t wire = htonl(hostOrder);
  Addr addr(nl_addr_build(AF_INET, &wire, sizeof wire));
  if (!addr) throwOutOfMemory("build address for", link);
  nl_addr_set_prefixlen(addr.get(), prefixLen);
  return addr;
}

// Gives the link address/prefixLen with its broadcast address; an address that is already
// there is kept (the kernel's EEXIST).
void addIpv4Address(nl_sock* sock, rtnl_link* link, uint32_t address, int prefixLen) {
  std::string name = rtnl_link_get_name(link);
  std::string text = formatIpv4(address) + "/" + std::to_string(prefixLen);
  RtAddr ra(rtnl_addr_alloc());
  if (!ra) throwOutOfMemory("add address " + text + " to", name);
  rtnl_addr_set_ifindex(ra.get(), rtnl_link_get_ifindex(link));
  Addr local = ipv4Addr(address, prefixLen, name);
  if (int err = rtnl_addr_set_local(ra.get(), local.get()); err < 0) {
    throwNetlink("add address " + text + " to", name, err);
  }
  // /31 and /32 have no broadcast address (RFC 3021).
  if (prefixLen < 31) {
    uint32_t mask = prefixLen == 0 ? 0 : ~uint32_t{0} << (32 - prefixLen);
    Addr broadcast = ipv4Addr(address | ~mask, 32, name);
    if (int err = rtnl_addr_set_broadcast(ra.get(), broadcast.get()); err < 0) {
      throwNetlink("add address " + text + " to", name, err);
    }
  }
  int err = rtnl_addr_add(sock, ra.get(), NLM_F_EXCL);
  if (err < 0 && err != -NLE_EXIST) throwNetlink("add address " + text + " to", name, err);
}

// The default route through `gateway` on `link`; an existing default route is kept.
void addDefaultRoute(nl_sock* sock, rtnl_link* link, uint32_t gateway) {
  std::string name = rtnl_link_get_name(link);
  std::string what = "add default route via " + formatIpv4(gateway) + " on";
  Route route(rtnl_route_alloc());
  if (!route) throwOutOfMemory(what, name);
  rtnl_route_set_family(route.get(), AF_INET);
  Addr anywhere = ipv4Addr(0, 0, name);
  if (int err = rtnl_route_set_dst(route.get(), anywhere.get()); err < 0) throwNetlink(what, name, err);
  rtnl_nexthop* hop = rtnl_route_nh_alloc();
  if (!hop) throwOutOfMemory(what, name);
  Addr via = ipv4Addr(gateway, 32, name);
  rtnl_route_nh_set_gateway(hop, via.get());
  rtnl_route_nh_set_ifindex(hop, rtnl_link_get_ifindex(link));
  rtnl_route_add_nexthop(route.get(), hop);  // the route owns the hop from here
  int err = rtnl_route_add(sock, route.get(), NLM_F_EXCL);
  if (err < 0 && err != -NLE_EXIST) throwNetlink(what, name, err);
}

// The container side of an endpoint, through a socket opened inside the namespace: the
// address, the link up, the default route, and the loopback up should it not be.
void configureInside(const EndpointLink& endpoint) {
  Socket sock = openRouteSocket(endpoint.ifName);
  Link link = requireLink(sock.get(), endpoint.ifName);
  addIpv4Address(sock.get(), link.get(), endpoint.address, endpoint.prefixLen);
  setUp(sock.get(), link.get(), std::nullopt);
  if (endpoint.gateway != 0) addDefaultRoute(sock.get(), link.get(), endpoint.gateway);
  Link lo = requireLink(sock.get(), "lo");
  if (!(rtnl_link_get_flags(lo.get()) & IFF_UP)) setUp(sock.get(), lo.get(), std::nullopt);
}

// Runs configureInside on a thread of its own that enters the namespace and then ends: setns
// moves only the calling thread, and a thread that has been in a container's namespace must
// never go back to serving the service.
void configureInsideNamespace(int netnsFd, const EndpointLink& endpoint) {
  std::exception_ptr failed;
  std::thread([&] {
    try {
      if (::setns(netnsFd, CLONE_NEWNET) != 0) throwSystemError("setns(CLONE_NEWNET)", endpoint.netnsPath);
      configureInside(endpoint);
    } catch (...) {
      failed = std::current_exception();
    }
  }).join();
  if (failed) std::rethrow_exception(failed);
}

Addr parseMac(const std::string& text, std::string_view link) {
  nl_addr* parsed = nullptr;
  int err = nl_addr_parse(text.c_str(), AF_LLC, &parsed);
  Addr mac(parsed);
  if (err < 0 || nl_addr_get_len(mac.get()) != 6) {
    throw Error(ErrorKind::internal, "set MAC address of " + std::string(link) + ": invalid MAC address " + text);
  }
  return mac;
}

// Pins the bridge's MAC address. A bridge whose address was never set takes the lowest of its
// ports' addresses (each veth's host end has a random one), so a container coming or going can
// change it; every container's ARP entry for the gateway then names an address the bridge no
// longer takes frames for, and their traffic to the gateway (names, the way out, replies from
// published ports) is dropped until the entry is probed again, seconds later. dockerd gives its
// bridges a fixed address for the same reason. Setting the current address (a new bridge's is
// random) marks it as set and the kernel keeps it; the kernel also flushes the bridge's
// neighbour entries then, which costs the next packet to each container an ARP request, so this
// runs when a bridge is made and when the service starts, not on each attach.
void pinAddress(nl_sock* sock, rtnl_link* link) {
  std::string name = rtnl_link_get_name(link);
  unsigned char bytes[6] = {};
  nl_addr* current = rtnl_link_get_addr(link);
  bool usable = current != nullptr && nl_addr_get_len(current) == sizeof bytes;
  if (usable) std::memcpy(bytes, nl_addr_get_binary_addr(current), sizeof bytes);
  usable = usable && (bytes[0] & 1) == 0 && std::any_of(bytes, bytes + 6, [](unsigned char b) { return b != 0; });
  if (!usable) {
    // A locally administered unicast address, as the kernel makes for a new bridge.
    if (::getrandom(bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes)) throwSystemError("getrandom", name);
    bytes[0] = static_cast<unsigned char>((bytes[0] & 0xfe) | 0x02);
  }
  Addr mac(nl_addr_build(AF_LLC, bytes, sizeof bytes));
  Link change(rtnl_link_alloc());
  if (!mac || !change) throwOutOfMemory("set the address of", name);
  rtnl_link_set_addr(change.get(), mac.get());
  if (int err = rtnl_link_change(sock, link, change.get(), 0); err < 0) throwNetlink("set the address of", name, err);
}

}  // namespace

void ensureBridge(const BridgeLink& bridge) {
  Socket sock = openRouteSocket(bridge.name);
  Link link = findLink(sock.get(), bridge.name);
  if (!link) {
    Link created(rtnl_link_bridge_alloc());
    if (!created) throwOutOfMemory("create bridge", bridge.name);
    rtnl_link_set_name(created.get(), bridge.name.c_str());
    rtnl_link_set_mtu(created.get(), static_cast<unsigned>(bridge.mtu));
    // EXCL, and EEXIST tolerated: a bridge made by a racing caller is as good as ours.
    int err = rtnl_link_add(sock.get(), created.get(), NLM_F_CREATE | NLM_F_EXCL);
    if (err < 0 && err != -NLE_EXIST) throwNetlink("create bridge", bridge.name, err);
    link = requireLink(sock.get(), bridge.name);
  }
  pinAddress(sock.get(), link.get());
  addIpv4Address(sock.get(), link.get(), bridge.gateway, bridge.subnet.bits);
  setUp(sock.get(), link.get(), bridge.mtu);
}

void removeBridge(const std::string& name) {
  Socket sock = openRouteSocket(name);
  deleteLinkIfPresent(sock.get(), name);
}

void plugEndpoint(const EndpointLink& endpoint) {
  Socket sock = openRouteSocket(endpoint.hostVeth);
  deleteLinkIfPresent(sock.get(), endpoint.hostVeth);
  Link bridge = findLink(sock.get(), endpoint.bridge);
  if (!bridge) {
    throw Error(ErrorKind::internal, "plug " + endpoint.hostVeth + " into bridge " + endpoint.bridge + ": no such bridge");
  }
  Addr mac = parseMac(endpoint.mac, endpoint.ifName);
  UniqueFd netns(::open(endpoint.netnsPath.c_str(), O_RDONLY | O_CLOEXEC));
  if (!netns) throwSystemError("open", endpoint.netnsPath);

  {
    Link host(rtnl_link_veth_alloc());
    if (!host) throwOutOfMemory("create veth", endpoint.hostVeth);
    Link peer(rtnl_link_veth_get_peer(host.get()));  // a reference of our own, put before host's
    rtnl_link_set_name(host.get(), endpoint.hostVeth.c_str());
    rtnl_link_set_master(host.get(), rtnl_link_get_ifindex(bridge.get()));
    rtnl_link_set_mtu(host.get(), static_cast<unsigned>(endpoint.mtu));
    rtnl_link_set_flags(host.get(), IFF_UP);
    rtnl_link_set_name(peer.get(), endpoint.ifName.c_str());
    rtnl_link_set_mtu(peer.get(), static_cast<unsigned>(endpoint.mtu));
    rtnl_link_set_addr(peer.get(), mac.get());
    // Made directly inside the container's namespace: it is never visible on the host.
    rtnl_link_set_ns_fd(peer.get(), netns.get());
    int err = rtnl_link_add(sock.get(), host.get(), NLM_F_CREATE | NLM_F_EXCL);
    if (err < 0) throwNetlink("create veth " + endpoint.hostVeth + " with peer " + endpoint.ifName + " in", endpoint.netnsPath, err);
  }

  try {
    configureInsideNamespace(netns.get(), endpoint);
  } catch (...) {
    // Half a plug is no plug: the pair goes, and the caller sees the first failure (a failed
    // delete here leaves a pair that the next plug deletes first).
    try {
      deleteLinkIfPresent(sock.get(), endpoint.hostVeth);
    } catch (const Error&) {
    }
    throw;
  }
}

void unplugEndpoint(const std::string& hostVeth) {
  Socket sock = openRouteSocket(hostVeth);
  deleteLinkIfPresent(sock.get(), hostVeth);
}

std::vector<std::string> bridgePorts(const std::string& bridge) {
  Socket sock = openRouteSocket(bridge);
  Link link = findLink(sock.get(), bridge);
  if (!link) return {};
  int master = rtnl_link_get_ifindex(link.get());
  nl_cache* raw = nullptr;
  if (int err = rtnl_link_alloc_cache(sock.get(), AF_UNSPEC, &raw); err < 0) throwNetlink("list ports of", bridge, err);
  Cache cache(raw);
  std::vector<std::string> ports;
  for (nl_object* o = nl_cache_get_first(cache.get()); o; o = nl_cache_get_next(o)) {
    auto* port = reinterpret_cast<rtnl_link*>(o);
    if (rtnl_link_get_master(port) == master) ports.emplace_back(rtnl_link_get_name(port));
  }
  std::sort(ports.begin(), ports.end());
  return ports;
}

bool linkExists(const std::string& name) {
  Socket sock = openRouteSocket(name);
  return findLink(sock.get(), name) != nullptr;
}

void writeSysctl(const std::string& key, const std::string& value) {
  std::string path = "/proc/sys/" + key;
  UniqueFd file(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!file) throwSystemError("open", path);
  ssize_t n = ::write(file.get(), value.data(), value.size());
  if (n < 0) throwSystemError("write", path);
  if (static_cast<size_t>(n) != value.size()) throwSystemError("write", path, EIO);
}

}  // namespace berth::network
