// What the network service persists (<data-root>/network): one file per network and one per
// container with endpoints, each written atomically. Everything else the service holds (the
// address allocations, the nft table, the resolver's files, the veths) is derived from these at
// start, which is what makes a restart of the service (or a kill -9 between two steps of an
// attach) safe: docs/network.md gives the argument.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "services/network/ipam.h"

namespace berth::network {

struct NetworkRecord {
  std::string id;       // 64 hex
  std::string name;
  std::string driver;   // "bridge", "host" or "null"
  std::string created;  // RFC 3339 with nanoseconds
  bool predefined = false;  // bridge, host, none: made by the engine, never removed by users
  bool internal = false;
  bool attachable = false;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> options;  // as given (the default bridge's: dockerd's set)
  // The bridge driver's link and addresses.
  std::string bridge;
  Ipv4Prefix subnet;
  uint32_t gateway = 0;
  std::optional<Ipv4Prefix> ipRange;
  bool gatewayShown = true;  // IPAM.Config lists the gateway (not for a --subnet without --gateway)
  bool ipamOptionsNull = false;  // predefined networks show "Options": null, as dockerd's
  bool icc = true;
  bool masquerade = true;
  int mtu = 1500;
  // Written before the network's link is made, cleared once the create is done: a record that
  // still says so at start is a create a kill cut, whose client never got the network's id;
  // the next start removes its link and record, so a cut create leaves nothing.
  bool creating = false;

  bool isBridge() const { return driver == "bridge"; }
  nlohmann::json toJson() const;
  static NetworkRecord fromJson(const nlohmann::json& j);
};

struct EndpointRecord {
  std::string network;     // network id
  std::string endpointId;  // 64 hex
  uint32_t address = 0;
  std::string mac;
  std::string ifName;      // inside the container: eth0, eth1, …
  std::string hostVeth;    // the host end, on the network's bridge
  std::vector<std::string> aliases;   // --network-alias (and compose's service names)
  bool requestedAddress = false;      // --ip: shown as IPAMConfig

  nlohmann::json toJson() const;
  static EndpointRecord fromJson(const nlohmann::json& j);
};

struct PortRecord {
  std::string protocol;     // tcp, udp
  uint32_t hostIp = 0;      // 0: every address
  uint16_t hostPort = 0;
  uint16_t containerPort = 0;

  nlohmann::json toJson() const;
  static PortRecord fromJson(const nlohmann::json& j);
};

struct ContainerRecord {
  std::string id;
  std::string name;      // without the leading slash
  std::string hostname;
  std::vector<EndpointRecord> endpoints;  // the first one has the default route and the ports
  std::vector<PortRecord> ports;

  nlohmann::json toJson() const;
  static ContainerRecord fromJson(const nlohmann::json& j);
};

class RecordFiles {
 public:
  explicit RecordFiles(std::string root);

  std::vector<NetworkRecord> loadNetworks() const;
  std::vector<ContainerRecord> loadContainers() const;
  void save(const NetworkRecord& network);
  void save(const ContainerRecord& container);
  void removeNetwork(const std::string& id);
  void removeContainer(const std::string& id);

 private:
  std::string root_;
};

}  // namespace berth::network
