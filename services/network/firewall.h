// berth's packet filtering and NAT: one nftables table of its own (`ip <table>`, "berth" unless
// the daemon's configuration names another), written whole from the network service's state in
// one nftables transaction per change, through libnftables in process. Writing the whole table
// each time is what makes a restart safe: the service renders the table from its persisted
// state and replaces whatever an earlier process left, so no rule is ever duplicated or
// orphaned. No other table, chain or rule on the host is read or changed.
//
// What the table does, per bridge network (dockerd's behaviour, docs/network.md):
// - outbound traffic from a network's subnet leaving by any other interface is masqueraded
//   (unless the network has ip-masq off or is internal);
// - an internal network's traffic never leaves its bridge;
// - containers on one bridge reach each other unless icc is off; two berth bridges never reach
//   each other directly, only through published ports;
// - published ports: traffic to a local address (or the one host address given) at the host
//   port is DNATed to the container, from other hosts, from the host itself (127.0.0.1
//   included: the bridge gets route_localnet, and such traffic is masqueraded) and from
//   containers through the host's address (hairpin: masqueraded so replies come back the same
//   way).
//
// - names: a container asks its user network's gateway, port 53, for names (resolver.h). When
//   the aardvark that serves listens on another port, the queries are steered there and the
//   replies from it (from the standby's port, whichever serves) leave as from port 53. Both
//   rewrites are stateless and the queries and replies untracked whichever port serves, so a
//   change of port applies to the very next packet, a long-lived socket's too (nginx's
//   resolver keeps one): a conntrack-based redirect would keep such a flow on the slot it first
//   reached. Untracked, a query is never taken by a port 53/udp a container publishes either
//   (dockerd's resolver lives in the container's namespace, where no published port reaches).
//   UDP only: aardvark 1.4 answers no TCP.
//
// Rule order in the forward chain: every bridge's drops (internal, icc off, isolation) come
// before any bridge's accepts, since an accept ends the chain; then per bridge: replies and
// published ports in, everything out (and container to container), nothing else in. With icc
// off a container cannot reach a port published on its own bridge either (as in dockerd). The
// chain runs at priority filter with policy accept: a foreign table's forward chain with
// policy drop (iptables' `-P FORWARD DROP`) still drops what this table accepts.
//
// An empty state still gives the table with its base chains and no rule (one shape to read and
// test); remove() is what deletes the table.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "services/network/ipam.h"

namespace berth::network {

struct FirewallBridge {
  std::string bridge;
  Ipv4Prefix subnet;
  bool masquerade = true;  // com.docker.network.bridge.enable_ip_masquerade / --ip-masq
  bool internal = false;   // --internal
  bool icc = true;         // com.docker.network.bridge.enable_icc / --icc
  uint32_t resolver = 0;   // the gateway its containers ask for names; 0: none (the default bridge)
};

struct PublishedPort {
  std::string protocol;    // "tcp", "udp" or "sctp"
  uint32_t hostIp = 0;     // 0: every local address
  uint16_t hostPort = 0;
  uint32_t containerIp = 0;
  uint16_t containerPort = 0;
  std::string bridge;      // the bridge the container's address is on (the rules do not need it)
};

struct FirewallState {
  std::vector<FirewallBridge> bridges;
  std::vector<PublishedPort> ports;
  uint16_t resolverPort = 53;        // where the serving resolver listens on each gateway
  uint16_t resolverStandbyPort = 0;  // the other resolver's port, whose replies leave as port 53; 0: none
};

// The nft script that replaces table `table` with the one `state` needs, as one transaction
// (the table is created, deleted and defined again, so the script works whether or not an
// earlier table exists). Pure: unit tests read it.
//
// Names are the only text that enters the script, so they are checked before anything is
// written: invalid unless the table name is a letter followed by [A-Za-z0-9_.-] and each bridge
// name is 1 to 15 of [A-Za-z0-9_.-] and listed once; invalid for a protocol other than the three
// above. Numbers (prefix lengths included) are nftables' to judge: apply() reports what it refuses.
std::string renderRuleset(const std::string& table, const FirewallState& state);

// berth's table in the network namespace of the thread that constructed it, whichever thread
// calls it later (tests construct it in a thread that has unshared its own namespace). Each
// apply() and remove() makes a libnftables context and frees it when done: a context keeps its
// cache of the tables it last listed, hash tables of 128 KiB each (four per table listed, one
// for the context), 0.6 MiB held for nothing between two changes, which are rare. libnftables
// 1.0.6 opens its netlink socket in nft_ctx_new, in the caller's namespace, so a call from a
// thread in another namespace makes its context on a short-lived thread that enters the
// Firewall's. Use one Firewall from one thread at a time.
class Firewall {
 public:
  // Invalid for a bad table name (as renderRuleset); a system error when the thread's
  // namespace cannot be opened.
  explicit Firewall(std::string table);
  ~Firewall();
  Firewall(const Firewall&) = delete;
  Firewall& operator=(const Firewall&) = delete;

  // Replaces the table with the one `state` needs, atomically; internal with nft's own message
  // when nftables refuses it (the old table then stays as it was).
  void apply(const FirewallState& state);
  // Deletes the table; no error when there is none.
  void remove();

 private:
  void run(const std::string& script);

  std::string table_;
  int namespaceFd_;  // the constructing thread's /proc/thread-self/ns/net
};

}  // namespace berth::network
