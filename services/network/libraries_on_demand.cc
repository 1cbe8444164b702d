// libnl (links, addresses, routes) and libnftables (the firewall), opened at the first call into
// them rather than linked. Linked, they and what they bring (libnftnl, libmnl, libxtables,
// libgmp, libjansson) are set up in every berth-network at its start, 1.1 MB of PSS, while an
// engine with no bridge network (--bridge none, until its first `network create`) never calls
// them (docs/performance.md, "Network libraries opened when first needed").
//
// Each function berth calls is defined here under the library's own name and signature
// (BERTH_FORWARD_TO, common/shared_library.h): the code in links.cc and firewall.cc, and the
// tests that read nftables themselves, are written and compiled as for linked libraries.
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>
#include <nftables/libnftables.h>

#include "common/shared_library.h"

namespace {

// Each opened once per process, by whichever thread calls first; a failure (an `unavailable`
// Error naming the library and dlerror's text) reaches that caller, and the next call tries
// again.
const berth::SharedLibrary& libnl() {
  static const berth::SharedLibrary library("libnl-3.so.200");
  return library;
}

const berth::SharedLibrary& libnlRoute() {
  static const berth::SharedLibrary library("libnl-route-3.so.200");
  return library;
}

const berth::SharedLibrary& libnftables() {
  static const berth::SharedLibrary library("libnftables.so.1");
  return library;
}

}  // namespace

extern "C" {

BERTH_FORWARD_TO(libnl, struct nl_addr*, nl_addr_build, (int family, const void* buf, size_t size), (family, buf, size))
BERTH_FORWARD_TO(libnl, void*, nl_addr_get_binary_addr, (const struct nl_addr* a), (a))
BERTH_FORWARD_TO(libnl, unsigned int, nl_addr_get_len, (const struct nl_addr* a), (a))
BERTH_FORWARD_TO(libnl, int, nl_addr_parse, (const char* text, int family, struct nl_addr** out), (text, family, out))
BERTH_FORWARD_TO(libnl, void, nl_addr_put, (struct nl_addr * a), (a))
BERTH_FORWARD_TO(libnl, void, nl_addr_set_prefixlen, (struct nl_addr * a, int prefix), (a, prefix))
BERTH_FORWARD_TO(libnl, void, nl_cache_free, (struct nl_cache * c), (c))
BERTH_FORWARD_TO(libnl, struct nl_object*, nl_cache_get_first, (struct nl_cache * c), (c))
BERTH_FORWARD_TO(libnl, struct nl_object*, nl_cache_get_next, (struct nl_object * o), (o))
BERTH_FORWARD_TO(libnl, int, nl_connect, (struct nl_sock * sk, int protocol), (sk, protocol))
BERTH_FORWARD_TO(libnl, const char*, nl_geterror, (int error), (error))
BERTH_FORWARD_TO(libnl, struct nl_sock*, nl_socket_alloc, (void), ())
BERTH_FORWARD_TO(libnl, void, nl_socket_free, (struct nl_sock * sk), (sk))

BERTH_FORWARD_TO(libnlRoute, int, rtnl_addr_add, (struct nl_sock * sk, struct rtnl_addr* a, int flags), (sk, a, flags))
BERTH_FORWARD_TO(libnlRoute, struct rtnl_addr*, rtnl_addr_alloc, (void), ())
BERTH_FORWARD_TO(libnlRoute, void, rtnl_addr_put, (struct rtnl_addr * a), (a))
BERTH_FORWARD_TO(libnlRoute, int, rtnl_addr_set_broadcast, (struct rtnl_addr * a, struct nl_addr* b), (a, b))
BERTH_FORWARD_TO(libnlRoute, void, rtnl_addr_set_ifindex, (struct rtnl_addr * a, int index), (a, index))
BERTH_FORWARD_TO(libnlRoute, int, rtnl_addr_set_local, (struct rtnl_addr * a, struct nl_addr* l), (a, l))
BERTH_FORWARD_TO(libnlRoute, int, rtnl_link_add, (struct nl_sock * sk, struct rtnl_link* l, int flags), (sk, l, flags))
BERTH_FORWARD_TO(libnlRoute, struct rtnl_link*, rtnl_link_alloc, (void), ())
BERTH_FORWARD_TO(libnlRoute, int, rtnl_link_alloc_cache, (struct nl_sock * sk, int family, struct nl_cache** out),
                 (sk, family, out))
BERTH_FORWARD_TO(libnlRoute, struct rtnl_link*, rtnl_link_bridge_alloc, (void), ())
BERTH_FORWARD_TO(libnlRoute, int, rtnl_link_change,
                 (struct nl_sock * sk, struct rtnl_link* orig, struct rtnl_link* changes, int flags),
                 (sk, orig, changes, flags))
BERTH_FORWARD_TO(libnlRoute, int, rtnl_link_delete, (struct nl_sock * sk, const struct rtnl_link* l), (sk, l))
BERTH_FORWARD_TO(libnlRoute, struct nl_addr*, rtnl_link_get_addr, (struct rtnl_link * l), (l))
BERTH_FORWARD_TO(libnlRoute, unsigned int, rtnl_link_get_flags, (struct rtnl_link * l), (l))
BERTH_FORWARD_TO(libnlRoute, int, rtnl_link_get_ifindex, (struct rtnl_link * l), (l))
BERTH_FORWARD_TO(libnlRoute, int, rtnl_link_get_kernel,
                 (struct nl_sock * sk, int index, const char* name, struct rtnl_link** out), (sk, index, name, out))
BERTH_FORWARD_TO(libnlRoute, int, rtnl_link_get_master, (struct rtnl_link * l), (l))
BERTH_FORWARD_TO(libnlRoute, char*, rtnl_link_get_name, (struct rtnl_link * l), (l))
BERTH_FORWARD_TO(libnlRoute, void, rtnl_link_put, (struct rtnl_link * l), (l))
BERTH_FORWARD_TO(libnlRoute, void, rtnl_link_set_addr, (struct rtnl_link * l, struct nl_addr* a), (l, a))
BERTH_FORWARD_TO(libnlRoute, void, rtnl_link_set_flags, (struct rtnl_link * l, unsigned int flags), (l, flags))
BERTH_FORWARD_TO(libnlRoute, void, rtnl_link_set_master, (struct rtnl_link * l, int master), (l, master))
BERTH_FORWARD_TO(libnlRoute, void, rtnl_link_set_mtu, (struct rtnl_link * l, unsigned int mtu), (l, mtu))
BERTH_FORWARD_TO(libnlRoute, void, rtnl_link_set_name, (struct rtnl_link * l, const char* name), (l, name))
BERTH_FORWARD_TO(libnlRoute, void, rtnl_link_set_ns_fd, (struct rtnl_link * l, int fd), (l, fd))
BERTH_FORWARD_TO(libnlRoute, struct rtnl_link*, rtnl_link_veth_alloc, (void), ())
BERTH_FORWARD_TO(libnlRoute, struct rtnl_link*, rtnl_link_veth_get_peer, (struct rtnl_link * l), (l))
BERTH_FORWARD_TO(libnlRoute, int, rtnl_route_add, (struct nl_sock * sk, struct rtnl_route* r, int flags),
                 (sk, r, flags))
BERTH_FORWARD_TO(libnlRoute, void, rtnl_route_add_nexthop, (struct rtnl_route * r, struct rtnl_nexthop* nh), (r, nh))
BERTH_FORWARD_TO(libnlRoute, struct rtnl_route*, rtnl_route_alloc, (void), ())
BERTH_FORWARD_TO(libnlRoute, struct rtnl_nexthop*, rtnl_route_nh_alloc, (void), ())
BERTH_FORWARD_TO(libnlRoute, void, rtnl_route_nh_set_gateway, (struct rtnl_nexthop * nh, struct nl_addr* a), (nh, a))
BERTH_FORWARD_TO(libnlRoute, void, rtnl_route_nh_set_ifindex, (struct rtnl_nexthop * nh, int index), (nh, index))
BERTH_FORWARD_TO(libnlRoute, void, rtnl_route_put, (struct rtnl_route * r), (r))
BERTH_FORWARD_TO(libnlRoute, int, rtnl_route_set_dst, (struct rtnl_route * r, struct nl_addr* a), (r, a))
BERTH_FORWARD_TO(libnlRoute, int, rtnl_route_set_family, (struct rtnl_route * r, uint8_t family), (r, family))

BERTH_FORWARD_TO(libnftables, int, nft_ctx_buffer_error, (struct nft_ctx * ctx), (ctx))
BERTH_FORWARD_TO(libnftables, int, nft_ctx_buffer_output, (struct nft_ctx * ctx), (ctx))
BERTH_FORWARD_TO(libnftables, void, nft_ctx_free, (struct nft_ctx * ctx), (ctx))
BERTH_FORWARD_TO(libnftables, const char*, nft_ctx_get_error_buffer, (struct nft_ctx * ctx), (ctx))
BERTH_FORWARD_TO(libnftables, const char*, nft_ctx_get_output_buffer, (struct nft_ctx * ctx), (ctx))  // tests
BERTH_FORWARD_TO(libnftables, struct nft_ctx*, nft_ctx_new, (uint32_t flags), (flags))
BERTH_FORWARD_TO(libnftables, int, nft_run_cmd_from_buffer, (struct nft_ctx * nft, const char* buf), (nft, buf))

}  // extern "C"
