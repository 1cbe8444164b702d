// What the network core does to the host, behind one small interface: links (links.h), the nft
// table (firewall.h), the resolver (resolver.h) and the containers' namespaces
// (container_namespaces.h). host_plumbing.h is the real one; unit tests of the core record
// calls instead.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "services/network/firewall.h"
#include "services/network/links.h"
#include "services/network/resolver.h"

namespace berth::network {

class Plumbing {
 public:
  virtual ~Plumbing() = default;

  virtual std::string ensureNamespace(const std::string& container) = 0;
  virtual void removeNamespace(const std::string& container) = 0;
  virtual std::vector<std::string> namespaces() = 0;

  virtual void ensureBridge(const BridgeLink& bridge) = 0;
  virtual void removeBridge(const std::string& name) = 0;
  virtual void plugEndpoint(const EndpointLink& endpoint) = 0;
  virtual void unplugEndpoint(const std::string& hostVeth) = 0;
  virtual std::vector<std::string> bridgePorts(const std::string& bridge) = 0;
  virtual bool linkExists(const std::string& name) = 0;

  virtual void applyFirewall(const FirewallState& state) = 0;
  virtual void removeFirewall() = 0;
  // Serves exactly `networks`' names; returns the port the serving resolver listens on.
  virtual uint16_t updateResolver(const std::vector<ResolverNetwork>& networks) = 0;
  // That port as the last process left it (kResolverPort when none).
  virtual uint16_t resolverPort() = 0;
  // Whether a process on the host holds `port` (bind test): published ports never shadow one.
  virtual bool hostPortFree(const std::string& protocol, uint32_t hostIp, uint16_t port) = 0;
  // The host's IPv4 routes, which new networks' subnets avoid.
  virtual std::vector<Ipv4Prefix> hostRoutes() = 0;
};

}  // namespace berth::network
