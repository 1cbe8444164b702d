// A Plumbing that keeps the host's state in memory, for tests of the network core without
// root or netlink: namespaces, bridges, veths (by bridge), the last firewall state and resolver
// networks, and host ports held by other processes.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/errors.h"
#include "services/network/plumbing.h"

namespace berth::network {

class FakePlumbing : public Plumbing {
 public:
  std::string ensureNamespace(const std::string& c) override {
    if (c.size() != 64) throw Error(ErrorKind::invalid, "invalid container id");
    netns.insert(c);
    return "/netns/" + c;
  }
  void removeNamespace(const std::string& c) override {
    netns.erase(c);
    // The kernel deletes a destroyed namespace's veths.
    for (auto& [bridge, ports] : veths) {
      for (auto it = ports.begin(); it != ports.end();) {
        if (owner[*it] == c) it = ports.erase(it);
        else ++it;
      }
    }
  }
  std::vector<std::string> namespaces() override { return {netns.begin(), netns.end()}; }
  void ensureBridge(const BridgeLink& b) override {
    bridges[b.name] = b;
    if (afterBridge) afterBridge(b);
  }
  void removeBridge(const std::string& name) override {
    bridges.erase(name);
    veths.erase(name);
  }
  void plugEndpoint(const EndpointLink& e) override {
    if (!bridges.count(e.bridge)) throw Error(ErrorKind::internal, "no such bridge " + e.bridge);
    veths[e.bridge].insert(e.hostVeth);
    owner[e.hostVeth] = e.netnsPath.substr(7);
    ++plugs;
  }
  void unplugEndpoint(const std::string& v) override {
    for (auto& [bridge, ports] : veths) ports.erase(v);
  }
  std::vector<std::string> bridgePorts(const std::string& bridge) override {
    auto it = veths.find(bridge);
    return it == veths.end() ? std::vector<std::string>{} : std::vector<std::string>(it->second.begin(), it->second.end());
  }
  bool linkExists(const std::string& name) override {
    if (bridges.count(name)) return true;
    for (auto& [bridge, ports] : veths) {
      if (ports.count(name)) return true;
    }
    return false;
  }
  void applyFirewall(const FirewallState& s) override {
    if (firewallRefusals > 0) {
      --firewallRefusals;
      throw Error(ErrorKind::internal, "nftables refused the table");
    }
    firewall = s;
    ++firewallApplies;
    resolverPortsApplied.push_back(s.resolverPort);
  }
  void removeFirewall() override { firewall.reset(); }
  uint16_t updateResolver(const std::vector<ResolverNetwork>& n) override {
    resolver = n;
    // As the real one: with no network left, the primary's port.
    return n.empty() ? kResolverPort : resolverPortAnswer;
  }
  uint16_t resolverPort() override { return resolverPortAnswer; }
  bool hostPortFree(const std::string&, uint32_t, uint16_t port) override { return !heldPorts.count(port); }
  std::vector<Ipv4Prefix> hostRoutes() override { return routes; }

  std::set<std::string> netns;
  std::map<std::string, BridgeLink> bridges;
  std::map<std::string, std::set<std::string>> veths;  // bridge -> host ends
  std::map<std::string, std::string> owner;            // host end -> container
  std::optional<FirewallState> firewall;
  std::vector<ResolverNetwork> resolver;
  uint16_t resolverPortAnswer = kResolverPort;  // the port the "serving resolver" listens on
  std::vector<uint16_t> resolverPortsApplied;   // each applied table's resolverPort
  int firewallRefusals = 0;                     // applies that throw before one succeeds
  std::set<uint16_t> heldPorts;
  std::vector<Ipv4Prefix> routes;
  int plugs = 0;
  int firewallApplies = 0;
  std::function<void(const BridgeLink&)> afterBridge;  // a test's look at the moment a link is made
};

}  // namespace berth::network
