#include "services/network/network_records.h"

#include <dirent.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>

#include "common/errors.h"
#include "common/files.h"
#include "common/json_text.h"

namespace berth::network {

using json = nlohmann::json;

json NetworkRecord::toJson() const {
  json j = {{"Id", id},
            {"Name", name},
            {"Driver", driver},
            {"Created", created},
            {"Predefined", predefined},
            {"Internal", internal},
            {"Attachable", attachable},
            {"Labels", labels},
            {"Options", options},
            {"Bridge", bridge},
            {"GatewayShown", gatewayShown},
            {"IpamOptionsNull", ipamOptionsNull},
            {"Icc", icc},
            {"Masquerade", masquerade},
            {"Mtu", mtu}};
  if (creating) j["Creating"] = true;
  if (isBridge()) {
    j["Subnet"] = subnet.str();
    j["Gateway"] = formatIpv4(gateway);
    if (ipRange) j["IPRange"] = ipRange->str();
  }
  return j;
}

NetworkRecord NetworkRecord::fromJson(const json& j) {
  NetworkRecord r;
  r.id = j.at("Id").get<std::string>();
  r.name = j.at("Name").get<std::string>();
  r.driver = j.at("Driver").get<std::string>();
  r.created = j.value("Created", "");
  r.predefined = j.value("Predefined", false);
  r.internal = j.value("Internal", false);
  r.attachable = j.value("Attachable", false);
  r.labels = j.value("Labels", std::map<std::string, std::string>{});
  r.options = j.value("Options", std::map<std::string, std::string>{});
  r.bridge = j.value("Bridge", "");
  r.gatewayShown = j.value("GatewayShown", true);
  r.ipamOptionsNull = j.value("IpamOptionsNull", false);
  r.icc = j.value("Icc", true);
  r.masquerade = j.value("Masquerade", true);
  r.mtu = j.value("Mtu", 1500);
  r.creating = j.value("Creating", false);
  if (r.isBridge()) {
    r.subnet = Ipv4Prefix::parse(j.at("Subnet").get<std::string>());
    r.gateway = parseIpv4(j.at("Gateway").get<std::string>());
    if (j.contains("IPRange")) r.ipRange = Ipv4Prefix::parse(j["IPRange"].get<std::string>());
  }
  return r;
}

json EndpointRecord::toJson() const {
  return {{"Network", network}, {"EndpointID", endpointId}, {"Address", formatIpv4(address)},
          {"Mac", mac},         {"IfName", ifName},         {"HostVeth", hostVeth},
          {"Aliases", aliases}, {"RequestedAddress", requestedAddress}};
}

EndpointRecord EndpointRecord::fromJson(const json& j) {
  EndpointRecord e;
  e.network = j.at("Network").get<std::string>();
  e.endpointId = j.at("EndpointID").get<std::string>();
  e.address = parseIpv4(j.at("Address").get<std::string>());
  e.mac = j.at("Mac").get<std::string>();
  e.ifName = j.at("IfName").get<std::string>();
  e.hostVeth = j.at("HostVeth").get<std::string>();
  e.aliases = j.value("Aliases", std::vector<std::string>{});
  e.requestedAddress = j.value("RequestedAddress", false);
  return e;
}

json PortRecord::toJson() const {
  return {{"Protocol", protocol}, {"HostIp", formatIpv4(hostIp)}, {"HostPort", hostPort}, {"ContainerPort", containerPort}};
}

PortRecord PortRecord::fromJson(const json& j) {
  PortRecord p;
  p.protocol = j.at("Protocol").get<std::string>();
  p.hostIp = parseIpv4(j.at("HostIp").get<std::string>());
  p.hostPort = j.at("HostPort").get<uint16_t>();
  p.containerPort = j.at("ContainerPort").get<uint16_t>();
  return p;
}

json ContainerRecord::toJson() const {
  json eps = json::array(), ps = json::array();
  for (const auto& e : endpoints) eps.push_back(e.toJson());
  for (const auto& p : ports) ps.push_back(p.toJson());
  return {{"Id", id}, {"Name", name}, {"Hostname", hostname}, {"Endpoints", eps}, {"Ports", ps}};
}

ContainerRecord ContainerRecord::fromJson(const json& j) {
  ContainerRecord c;
  c.id = j.at("Id").get<std::string>();
  c.name = j.value("Name", "");
  c.hostname = j.value("Hostname", "");
  for (const auto& e : j.value("Endpoints", json::array())) c.endpoints.push_back(EndpointRecord::fromJson(e));
  for (const auto& p : j.value("Ports", json::array())) c.ports.push_back(PortRecord::fromJson(p));
  return c;
}

namespace {

std::vector<std::string> jsonFiles(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    if (errno == ENOENT) return out;
    throwSystemError("opendir", dir);
  }
  while (auto* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.size() > 5 && name.substr(name.size() - 5) == ".json") out.push_back(dir + "/" + name);
  }
  ::closedir(d);
  return out;
}

template <typename Record>
std::vector<Record> loadAll(const std::string& dir) {
  std::vector<Record> out;
  for (const auto& path : jsonFiles(dir)) {
    try {
      out.push_back(Record::fromJson(parseJson(readFile(path))));
    } catch (const std::exception& e) {
      // Written atomically, so only a damaged disk gets here: keep the rest of the state.
      spdlog::error("network: ignoring {}, which cannot be read: {}", path, e.what());
    }
  }
  return out;
}

void removeFile(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) throwSystemError("unlink", path);
}

}  // namespace

RecordFiles::RecordFiles(std::string root) : root_(std::move(root)) {
  makeDirectories(root_ + "/networks", 0700);
  makeDirectories(root_ + "/containers", 0700);
}

std::vector<NetworkRecord> RecordFiles::loadNetworks() const { return loadAll<NetworkRecord>(root_ + "/networks"); }

std::vector<ContainerRecord> RecordFiles::loadContainers() const {
  return loadAll<ContainerRecord>(root_ + "/containers");
}

void RecordFiles::save(const NetworkRecord& n) {
  writeFileAtomic(root_ + "/networks/" + n.id + ".json", n.toJson().dump(), 0600);
}

void RecordFiles::save(const ContainerRecord& c) {
  writeFileAtomic(root_ + "/containers/" + c.id + ".json", c.toJson().dump(), 0600);
}

void RecordFiles::removeNetwork(const std::string& id) { removeFile(root_ + "/networks/" + id + ".json"); }

void RecordFiles::removeContainer(const std::string& id) { removeFile(root_ + "/containers/" + id + ".json"); }

}  // namespace berth::network
