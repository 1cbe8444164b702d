// The network core's Plumbing on the real host: netlink (links.h), nftables (firewall.h),
// aardvark-dns (resolver.h) and the containers' namespaces (container_namespaces.h), plus the
// sysctls bridge networks need (ip_forward unless --ip-forward=false; route_localnet on each
// bridge, so that a published port answers on 127.0.0.1), and, on a host whose iptables FORWARD
// policy is DROP, the accept rules each bridge's traffic needs there (docs/network.md).
#pragma once

#include "services/network/container_namespaces.h"
#include "services/network/plumbing.h"

namespace berth::network {

class HostPlumbing : public Plumbing {
 public:
  HostPlumbing(ContainerNamespaces& namespaces, Firewall& firewall, Resolver& resolver, bool ipForward)
      : namespaces_(namespaces), firewall_(firewall), resolver_(resolver), ipForward_(ipForward) {}

  std::string ensureNamespace(const std::string& container) override { return namespaces_.ensure(container); }
  void removeNamespace(const std::string& container) override { namespaces_.remove(container); }
  std::vector<std::string> namespaces() override { return namespaces_.list(); }

  void ensureBridge(const BridgeLink& bridge) override;
  void removeBridge(const std::string& name) override;
  void plugEndpoint(const EndpointLink& endpoint) override { network::plugEndpoint(endpoint); }
  void unplugEndpoint(const std::string& hostVeth) override { network::unplugEndpoint(hostVeth); }
  std::vector<std::string> bridgePorts(const std::string& bridge) override { return network::bridgePorts(bridge); }
  bool linkExists(const std::string& name) override { return network::linkExists(name); }

  void applyFirewall(const FirewallState& state) override { firewall_.apply(state); }
  void removeFirewall() override { firewall_.remove(); }
  uint16_t updateResolver(const std::vector<ResolverNetwork>& networks) override { return resolver_.update(networks); }
  uint16_t resolverPort() override { return resolver_.servingPort(); }
  bool hostPortFree(const std::string& protocol, uint32_t hostIp, uint16_t port) override;
  std::vector<Ipv4Prefix> hostRoutes() override;

 private:
  ContainerNamespaces& namespaces_;
  Firewall& firewall_;
  Resolver& resolver_;
  bool ipForward_;
};

// The host's ephemeral port range (net.ipv4.ip_local_port_range), where -p without a host port
// takes its port; dockerd's defaults when it cannot be read.
std::pair<uint16_t, uint16_t> ephemeralPortRange();

}  // namespace berth::network
