#include "services/network/network_core.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cctype>

#include "common/docker_filters.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/random.h"
#include "common/time_format.h"
#include "services/network/public/network_filter.h"

namespace berth::network {

using json = nlohmann::json;

namespace {

constexpr const char* kBridgeNameOption = "com.docker.network.bridge.name";
constexpr const char* kIccOption = "com.docker.network.bridge.enable_icc";
constexpr const char* kMasqueradeOption = "com.docker.network.bridge.enable_ip_masquerade";
constexpr const char* kMtuOption = "com.docker.network.driver.mtu";


// dockerd's MAC for an address: 02:42 and the four bytes of the IPv4 address.
std::string macFor(uint32_t address) {
  char text[18];
  std::snprintf(text, sizeof text, "02:42:%02x:%02x:%02x:%02x", (address >> 24) & 0xff, (address >> 16) & 0xff,
                (address >> 8) & 0xff, address & 0xff);
  return text;
}

bool validMac(const std::string& mac) {
  if (mac.size() != 17) return false;
  for (size_t i = 0; i < mac.size(); ++i) {
    if (i % 3 == 2 ? mac[i] != ':' : !std::isxdigit(static_cast<unsigned char>(mac[i]))) return false;
  }
  return true;
}

bool validLinkName(const std::string& name) {
  if (name.empty() || name.size() > 15) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

// libnetwork's rule for network names.
bool validNetworkName(const std::string& name) {
  if (name.empty() || !std::isalnum(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

bool parseBool(const std::string& key, const std::string& text) {
  if (auto b = parseGoBool(text)) return *b;
  throw Error(ErrorKind::invalid, "invalid value for " + key + ": " + text);
}

std::map<std::string, std::string> stringMap(const json& j, const std::string& what) {
  std::map<std::string, std::string> out;
  if (j.is_null()) return out;
  if (!j.is_object()) throw Error(ErrorKind::invalid, what + " must be an object of strings");
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!it->is_string()) throw Error(ErrorKind::invalid, what + " must be an object of strings");
    out[it.key()] = it->get<std::string>();
  }
  return out;
}

std::string stringOf(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return "";
  if (!j[key].is_string()) throw Error(ErrorKind::invalid, std::string(key) + " must be a string");
  return j[key].get<std::string>();
}

// "80/tcp" (or "80") to its number and protocol.
std::pair<uint16_t, std::string> parsePortKey(const std::string& key) {
  auto slash = key.find('/');
  std::string number = key.substr(0, slash);
  std::string protocol = slash == std::string::npos ? "tcp" : key.substr(slash + 1);
  if (protocol != "tcp" && protocol != "udp" && protocol != "sctp") {
    throw Error(ErrorKind::invalid, "invalid proto: " + protocol);
  }
  if (protocol == "sctp") throw Error(ErrorKind::invalid, "berth does not publish sctp ports");
  int n = 0;
  try {
    size_t used = 0;
    n = std::stoi(number, &used);
    if (used != number.size()) n = 0;
  } catch (const std::exception&) {
  }
  if (n < 1 || n > 65535) throw Error(ErrorKind::invalid, "invalid port: " + key);
  return {static_cast<uint16_t>(n), protocol};
}

// A HostPort: "" (any), "8080", or a range "8000-8010".
std::pair<uint16_t, uint16_t> parseHostPorts(const std::string& text) {
  if (text.empty()) return {0, 0};
  auto parse = [&](const std::string& s) {
    int n = 0;
    try {
      size_t used = 0;
      n = std::stoi(s, &used);
      if (used != s.size()) n = -1;
    } catch (const std::exception&) {
      n = -1;
    }
    if (n < 0 || n > 65535) throw Error(ErrorKind::invalid, "invalid hostPort: " + text);
    return static_cast<uint16_t>(n);
  };
  auto dash = text.find('-');
  if (dash == std::string::npos) {
    auto p = parse(text);
    return {p, p};
  }
  auto first = parse(text.substr(0, dash)), last = parse(text.substr(dash + 1));
  if (first > last) throw Error(ErrorKind::invalid, "invalid hostPort: " + text);
  return {first, last};
}

bool overlappingHostIps(uint32_t a, uint32_t b) { return a == 0 || b == 0 || a == b; }

}  // namespace

NetworkCore::NetworkCore(NetworkOptions options, Plumbing& plumbing, EventSink events)
    : options_(std::move(options)), plumbing_(plumbing), events_(std::move(events)), files_(options_.dataDir) {
  if (options_.pools.empty()) options_.pools = defaultAddressPools();
}

// Declared after the lock guard of a public call that changes anything, so it ends first: the
// observer is told while the lock is still held, whether the call returns or throws.
class NetworkCore::ViewsScope {
 public:
  explicit ViewsScope(NetworkCore& core) : core_(core) {}
  // The change is numbered before its events leave: an event carries the network views' stamp
  // as it is when it is published, and a reader that learns of the change from the event must
  // find it in the API's copy.
  ~ViewsScope() {
    core_.tellViewsLocked();
    core_.publishEventsLocked();
  }
  ViewsScope(const ViewsScope&) = delete;
  ViewsScope& operator=(const ViewsScope&) = delete;

 private:
  NetworkCore& core_;
};

void NetworkCore::putNetworkLocked(const NetworkRecord& n) {
  networks_[n.id] = n;
  touched_.insert(n.id);
}

void NetworkCore::eraseNetworkLocked(std::string id) {
  // By value: callers pass the id of the record erased here.
  networks_.erase(id);
  touched_.insert(std::move(id));
}

void NetworkCore::putContainerLocked(const ContainerRecord& c) {
  // The networks it was on and those it is on now.
  if (auto it = containers_.find(c.id); it != containers_.end()) {
    for (const auto& e : it->second.endpoints) touched_.insert(e.network);
  }
  for (const auto& e : c.endpoints) touched_.insert(e.network);
  containers_[c.id] = c;
}

void NetworkCore::eraseContainerLocked(std::string id) {
  if (auto it = containers_.find(id); it != containers_.end()) {
    for (const auto& e : it->second.endpoints) touched_.insert(e.network);
    containers_.erase(it);
  }
}

void NetworkCore::tellViewsLocked() noexcept {
  if (touched_.empty()) return;
  try {
    std::vector<std::string> changed(touched_.begin(), touched_.end());
    touched_.clear();
    if (!viewsObserver_) return;
    viewsObserver_(changed, [this](const std::string& id) -> std::optional<View> {
      auto it = networks_.find(id);
      if (it == networks_.end()) return std::nullopt;
      return View{networkJson(it->second, true), it->second.predefined};
    });
  } catch (const std::exception& e) {
    // The observer spends its number before it renders (network_view_feed.cc): a copy sees the gap.
    spdlog::error("network: telling the views of a change failed: {}", e.what());
  } catch (...) {
    spdlog::error("network: telling the views of a change failed");
  }
  touched_.clear();
}

void NetworkCore::eventLocked(const std::string& action, const std::string& id, Attributes attributes) {
  pendingEvents_.push_back({action, id, std::move(attributes)});
}

void NetworkCore::publishEventsLocked() noexcept {
  auto events = std::move(pendingEvents_);
  pendingEvents_.clear();
  for (const auto& e : events) {
    try {
      events_(e.action, e.id, e.attributes);
    } catch (const std::exception& err) {
      spdlog::error("network: publishing the {} event of network {} failed: {}", e.action, shortId(e.id), err.what());
    } catch (...) {
      spdlog::error("network: publishing the {} event of network {} failed", e.action, shortId(e.id));
    }
  }
}

void NetworkCore::visitViews(const std::function<void(const std::vector<View>&)>& visit) const {
  std::lock_guard lock(mutex_);
  std::vector<View> all;
  all.reserve(networks_.size());
  for (const auto& [id, n] : networks_) all.push_back({networkJson(n, true), n.predefined});
  visit(all);
}

void NetworkCore::start() {
  std::lock_guard lock(mutex_);
  ViewsScope views(*this);
  // The first table steers names where the last process left them, so a restart moves no query.
  resolverPort_ = plumbing_.resolverPort();
  for (auto& n : files_.loadNetworks()) {
    if (n.creating) {
      // A create a kill cut: its client never got the id. Undone, link first.
      spdlog::info("network: undoing the interrupted create of network {} ({})", n.name, shortId(n.id));
      if (n.isBridge() && !n.predefined) plumbing_.removeBridge(n.bridge);
      files_.removeNetwork(n.id);
      continue;
    }
    putNetworkLocked(n);
  }
  for (auto& c : files_.loadContainers()) putContainerLocked(c);
  ensurePredefinedLocked();
  for (const auto& [id, n] : networks_) {
    if (!n.isBridge()) continue;
    addresses_.emplace(id, SubnetAddresses(n.subnet, n.ipRange, n.gateway));
  }
  for (const auto& [id, c] : containers_) {
    for (const auto& e : c.endpoints) {
      try {
        addressesOf(e.network).reserve(e.address);
      } catch (const Error& err) {
        spdlog::error("network: container {} keeps {} on network {}: {}", shortId(id), formatIpv4(e.address),
                      shortId(e.network), err.what());
      }
    }
  }
  for (const auto& [id, n] : networks_) {
    if (n.isBridge()) applyNetworkLocked(n);
  }
  // Finish interrupted attaches (a record whose veth is missing, its namespace still there)
  // and undo the rest (veths on berth's bridges that no record names).
  auto namespaces = plumbing_.namespaces();
  std::set<std::string> withNamespace(namespaces.begin(), namespaces.end());
  std::set<std::string> known;
  for (const auto& [id, c] : containers_) {
    for (size_t i = 0; i < c.endpoints.size(); ++i) {
      known.insert(c.endpoints[i].hostVeth);
      if (!withNamespace.count(id) || plumbing_.linkExists(c.endpoints[i].hostVeth)) continue;
      try {
        plugLocked(plumbing_.ensureNamespace(id), c.endpoints[i], i == 0);
        spdlog::info("network: plugged {} of container {} again", c.endpoints[i].hostVeth, shortId(id));
      } catch (const Error& e) {
        spdlog::error("network: plugging {} of container {}: {}", c.endpoints[i].hostVeth, shortId(id), e.what());
      }
    }
  }
  for (const auto& [id, n] : networks_) {
    if (!n.isBridge()) continue;
    for (const auto& port : plumbing_.bridgePorts(n.bridge)) {
      if (known.count(port)) continue;
      spdlog::info("network: removing {} from {}: no container has it", port, n.bridge);
      plumbing_.unplugEndpoint(port);
    }
  }
  applyFiltersLocked();
  applyResolverLocked();
}

void NetworkCore::ensurePredefinedLocked() {
  auto byName = [&](const std::string& name) -> NetworkRecord* {
    for (auto& [id, n] : networks_) {
      if (n.predefined && n.name == name) return &n;
    }
    return nullptr;
  };
  for (auto [name, driver] : {std::pair{"none", "null"}, {"host", "host"}}) {
    if (byName(name)) continue;
    NetworkRecord n;
    n.id = randomHex(32);
    n.name = name;
    n.driver = driver;
    n.created = rfc3339Nano(nowUnixNanos());
    n.predefined = true;
    n.ipamOptionsNull = true;
    files_.save(n);
    putNetworkLocked(n);
  }
  NetworkRecord* existing = byName("bridge");
  if (options_.defaultBridge == "none") {
    if (!existing) return;
    bool used = false;
    for (const auto& [cid, c] : containers_) {
      for (const auto& e : c.endpoints) used = used || e.network == existing->id;
    }
    if (used) return;  // kept until its last container goes
    plumbing_.removeBridge(existing->bridge);
    files_.removeNetwork(existing->id);
    eraseNetworkLocked(existing->id);
    return;
  }
  NetworkRecord n = makeDefaultBridge(existing);
  if (existing && existing->toJson() == n.toJson()) return;
  if (existing && existing->bridge != n.bridge) plumbing_.removeBridge(existing->bridge);
  files_.save(n);
  putNetworkLocked(n);
}

NetworkRecord NetworkCore::makeDefaultBridge(const NetworkRecord* existing) {
  NetworkRecord n;
  if (existing) n = *existing;
  if (!existing) {
    n.id = randomHex(32);
    n.created = rfc3339Nano(nowUnixNanos());
  }
  n.name = "bridge";
  n.driver = "bridge";
  n.predefined = true;
  n.ipamOptionsNull = true;
  n.gatewayShown = false;  // dockerd's default bridge shows its subnet only
  n.bridge = options_.defaultBridge;
  n.icc = options_.icc;
  n.masquerade = options_.ipMasq;
  n.mtu = options_.mtu;
  n.options = {{"com.docker.network.bridge.default_bridge", "true"},
               {kIccOption, options_.icc ? "true" : "false"},
               {kMasqueradeOption, options_.ipMasq ? "true" : "false"},
               {"com.docker.network.bridge.host_binding_ipv4", "0.0.0.0"},
               {kBridgeNameOption, options_.defaultBridge},
               {kMtuOption, std::to_string(options_.mtu)}};
  if (!options_.bip.empty()) {
    // --bip names the gateway's address and the prefix.
    auto slash = options_.bip.find('/');
    n.gateway = parseIpv4(options_.bip.substr(0, slash));
    n.subnet = Ipv4Prefix::parse(options_.bip);
  } else if (!existing || existing->subnet.bits == 0) {
    std::vector<Ipv4Prefix> taken;
    for (const auto& [id, other] : networks_) {
      if (other.isBridge() && other.name != "bridge") taken.push_back(other.subnet);
    }
    for (const auto& route : plumbing_.hostRoutes()) taken.push_back(route);
    auto subnet = nextFreeSubnet(options_.pools, taken);
    if (!subnet) {
      throw Error(ErrorKind::unavailable,
                  "could not find an available, non-overlapping IPv4 address pool among the defaults to assign "
                  "to the default bridge network");
    }
    n.subnet = *subnet;
    n.gateway = SubnetAddresses::defaultGateway(*subnet);
  }
  return n;
}

unsigned NetworkCore::count() const {
  std::lock_guard lock(mutex_);
  return static_cast<unsigned>(networks_.size());
}

SubnetAddresses& NetworkCore::addressesOf(const std::string& network) {
  auto it = addresses_.find(network);
  if (it == addresses_.end()) throw Error(ErrorKind::notFound, "network " + network + " not found");
  return it->second;
}

void NetworkCore::applyNetworkLocked(const NetworkRecord& n) {
  plumbing_.ensureBridge({n.bridge, n.subnet, n.gateway, n.mtu});
}

void NetworkCore::plugLocked(const std::string& netns, const EndpointRecord& e, bool defaultRoute) {
  const NetworkRecord& n = networks_.at(e.network);
  plumbing_.plugEndpoint({e.hostVeth, n.bridge, netns, e.ifName, e.address, n.subnet.bits,
                          defaultRoute && !n.internal ? n.gateway : 0, e.mac, n.mtu});
}

const NetworkRecord& NetworkCore::resolveLocked(const std::string& ref) const {
  if (auto it = networks_.find(ref); it != networks_.end()) return it->second;
  const NetworkRecord* byName = nullptr;
  for (const auto& [id, n] : networks_) {
    if (n.name == ref) byName = &n;
  }
  if (byName) return *byName;
  const NetworkRecord* byPrefix = nullptr;
  if (!ref.empty()) {
    for (const auto& [id, n] : networks_) {
      if (id.rfind(ref, 0) != 0) continue;
      if (byPrefix) throw Error(ErrorKind::invalid, "network " + ref + " is ambiguous");
      byPrefix = &n;
    }
  }
  if (!byPrefix) throw Error(ErrorKind::notFound, "network " + ref + " not found");
  return *byPrefix;
}

EndpointRecord NetworkCore::newEndpointLocked(const NetworkRecord& n, const json& config, size_t index) {
  EndpointRecord e;
  e.network = n.id;
  e.endpointId = randomHex(32);
  e.ifName = "eth" + std::to_string(index);
  std::string requested;
  if (config.is_object() && config.contains("IPAMConfig") && config["IPAMConfig"].is_object()) {
    requested = stringOf(config["IPAMConfig"], "IPv4Address");
  }
  auto& addresses = addressesOf(n.id);
  if (!requested.empty()) {
    if (n.predefined) throw Error(ErrorKind::invalid, "user specified IP address is supported on user defined networks only");
    e.address = parseIpv4(requested);
    addresses.reserve(e.address);
    e.requestedAddress = true;
  } else {
    e.address = addresses.allocate();
  }
  std::string mac = stringOf(config, "MacAddress");
  if (!mac.empty() && !validMac(mac)) {
    addresses.release(e.address);
    throw Error(ErrorKind::invalid, mac + " is not a valid mac address");
  }
  e.mac = mac.empty() ? macFor(e.address) : mac;
  for (int attempt = 0;; ++attempt) {
    e.hostVeth = "veth" + randomHex(4).substr(0, 7);
    if (!plumbing_.linkExists(e.hostVeth) || attempt > 8) break;
  }
  if (config.is_object() && config.contains("Aliases") && config["Aliases"].is_array()) {
    for (const auto& a : config["Aliases"]) {
      if (a.is_string() && !a.get<std::string>().empty()) e.aliases.push_back(a.get<std::string>());
    }
  }
  return e;
}

std::vector<PortRecord> NetworkCore::portsFor(const ContainerRecord& container, const json& request) {
  std::vector<PortRecord> out;
  const json& bindings = request.contains("PortBindings") && request["PortBindings"].is_object()
                             ? request["PortBindings"]
                             : json::object();
  auto used = [&](const std::string& protocol, uint32_t ip, uint16_t port) {
    for (const auto& p : out) {
      if (p.protocol == protocol && p.hostPort == port && overlappingHostIps(p.hostIp, ip)) return true;
    }
    for (const auto& [id, c] : containers_) {
      for (const auto& p : c.ports) {
        if (p.protocol == protocol && p.hostPort == port && overlappingHostIps(p.hostIp, ip)) return true;
      }
    }
    return false;
  };
  auto refusal = [&](const std::string& why) {
    std::string endpoint = container.endpoints.empty() ? "" : container.endpoints[0].endpointId;
    return Error(ErrorKind::invalid, "driver failed programming external connectivity on endpoint " + container.name +
                                         " (" + endpoint + "): " + why);
  };
  auto publish = [&](const std::string& protocol, uint16_t containerPort, uint32_t hostIp, uint16_t first,
                     uint16_t last) {
    std::string ipText = formatIpv4(hostIp);
    if (first == 0) {
      first = options_.ephemeralPorts.first;
      last = options_.ephemeralPorts.second;
    }
    for (uint32_t port = first; port <= last; ++port) {
      if (used(protocol, hostIp, static_cast<uint16_t>(port))) {
        if (first == last) throw refusal("Bind for " + ipText + ":" + std::to_string(port) + " failed: port is already allocated");
        continue;
      }
      if (!plumbing_.hostPortFree(protocol, hostIp, static_cast<uint16_t>(port))) {
        if (first == last) {
          throw refusal("Error starting userland proxy: listen " + protocol + "4 " + ipText + ":" + std::to_string(port) +
                        ": bind: address already in use");
        }
        continue;
      }
      out.push_back({protocol, hostIp, static_cast<uint16_t>(port), containerPort});
      return;
    }
    throw refusal("Bind for " + ipText + ":" + std::to_string(first) + "-" + std::to_string(last) +
                  " failed: port is already allocated");
  };
  for (auto it = bindings.begin(); it != bindings.end(); ++it) {
    auto [containerPort, protocol] = parsePortKey(it.key());
    if (!it->is_array() || it->empty()) {
      // An exposed port with no binding: published only by -P.
      continue;
    }
    for (const auto& b : *it) {
      std::string ip = stringOf(b, "HostIp");
      if (ip.find(':') != std::string::npos) continue;  // IPv6: berth's networks are IPv4 only
      uint32_t hostIp = ip.empty() ? 0 : parseIpv4(ip);
      auto [first, last] = parseHostPorts(stringOf(b, "HostPort"));
      publish(protocol, containerPort, hostIp, first, last);
    }
  }
  if (request.value("PublishAllPorts", false) && request.contains("ExposedPorts") && request["ExposedPorts"].is_object()) {
    for (auto it = request["ExposedPorts"].begin(); it != request["ExposedPorts"].end(); ++it) {
      if (bindings.contains(it.key()) && bindings[it.key()].is_array() && !bindings[it.key()].empty()) continue;
      auto [containerPort, protocol] = parsePortKey(it.key());
      publish(protocol, containerPort, 0, 0, 0);
    }
  }
  return out;
}

NetworkCore::Attached NetworkCore::attach(const std::string& container, const json& request) {
  std::lock_guard lock(mutex_);
  ViewsScope views(*this);
  auto began = std::chrono::steady_clock::now();
  auto ms = [](std::chrono::steady_clock::time_point from) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - from).count();
  };
  std::string netns = plumbing_.ensureNamespace(container);
  double namespaceMs = ms(began);
  if (auto it = containers_.find(container); it != containers_.end()) {
    // A later start, or the first one again after an interrupted attach: plug what is missing.
    for (size_t i = 0; i < it->second.endpoints.size(); ++i) {
      const auto& e = it->second.endpoints[i];
      if (!plumbing_.linkExists(e.hostVeth)) plugLocked(netns, e, i == 0);
    }
    return {netns, settingsOf(it->second)};
  }
  std::string mode = stringOf(request, "NetworkMode");
  if (mode.empty() || mode == "default") mode = "bridge";
  ContainerRecord record;
  record.id = container;
  record.name = stringOf(request, "Name");
  if (!record.name.empty() && record.name[0] == '/') record.name.erase(0, 1);
  record.hostname = stringOf(request, "Hostname");
  bool noNetwork = mode == "none" || (mode == "bridge" && options_.defaultBridge == "none");
  if (noNetwork) return {netns, settingsOf(record)};
  // The mode's network first (it has the default route and the published ports), then any
  // other network the create asked for.
  std::vector<const NetworkRecord*> wanted = {&resolveLocked(mode)};
  json endpointsConfig = request.contains("EndpointsConfig") && request["EndpointsConfig"].is_object()
                             ? request["EndpointsConfig"]
                             : json::object();
  auto networkOf = [&](const std::string& key) -> const NetworkRecord& {
    return resolveLocked(key == "default" ? "bridge" : key);
  };
  for (auto it = endpointsConfig.begin(); it != endpointsConfig.end(); ++it) {
    const NetworkRecord& n = networkOf(it.key());
    if (std::none_of(wanted.begin(), wanted.end(), [&](const NetworkRecord* w) { return w->id == n.id; })) {
      wanted.push_back(&n);
    }
  }
  for (const auto* n : wanted) {
    if (!n->isBridge()) {
      throw Error(ErrorKind::invalid, "container cannot be connected to network " + n->name + " and to other networks");
    }
  }
  auto configFor = [&](const NetworkRecord& n) -> json {
    for (auto it = endpointsConfig.begin(); it != endpointsConfig.end(); ++it) {
      if (networkOf(it.key()).id == n.id) return *it;
    }
    return json::object();
  };
  try {
    for (size_t i = 0; i < wanted.size(); ++i) {
      auto e = newEndpointLocked(*wanted[i], configFor(*wanted[i]), i);
      if (!wanted[i]->predefined) e.aliases.push_back(shortId(container));
      record.endpoints.push_back(e);
    }
    record.ports = portsFor(record, request);
  } catch (...) {
    for (const auto& e : record.endpoints) addressesOf(e.network).release(e.address);
    throw;
  }
  // Recorded before the host is touched: a crash from here on is finished by the next start.
  auto recorded = std::chrono::steady_clock::now();
  files_.save(record);
  putContainerLocked(record);
  auto plugged = std::chrono::steady_clock::now();
  try {
    for (size_t i = 0; i < record.endpoints.size(); ++i) plugLocked(netns, record.endpoints[i], i == 0);
  } catch (...) {
    releaseLocked(record);
    throw;
  }
  double plugMs = ms(plugged);
  auto applied = std::chrono::steady_clock::now();
  if (!record.ports.empty()) applyFiltersLocked();
  applyResolverLocked();
  spdlog::debug("network: attach {}: namespace {:.1f} ms, record {:.1f} ms, veths {:.1f} ms, rules and names {:.1f} ms",
                shortId(container), namespaceMs, std::chrono::duration<double, std::milli>(plugged - recorded).count(),
                plugMs, ms(applied));
  for (const auto& e : record.endpoints) {
    const auto& n = networks_.at(e.network);
    eventLocked("connect", n.id, {{"container", container}, {"name", n.name}, {"type", n.driver}});
  }
  return {netns, settingsOf(record)};
}

json NetworkCore::connect(const std::string& container, const std::string& network, const json& config) {
  std::lock_guard lock(mutex_);
  ViewsScope views(*this);
  auto it = containers_.find(container);
  if (it == containers_.end()) throw Error(ErrorKind::notFound, "container " + container + " has no network to add to");
  const NetworkRecord& n = resolveLocked(network == "default" ? "bridge" : network);
  if (!n.isBridge()) {
    throw Error(ErrorKind::forbidden, "container cannot be disconnected from host network or connected to host network");
  }
  ContainerRecord record = it->second;
  int next = 0;
  for (const auto& e : record.endpoints) {
    if (e.network == n.id) {
      throw Error(ErrorKind::forbidden, "endpoint with name " + record.name + " already exists in network " + n.name);
    }
    next = std::max(next, std::atoi(e.ifName.c_str() + 3) + 1);
  }
  auto e = newEndpointLocked(n, config, static_cast<size_t>(next));
  if (!n.predefined) e.aliases.push_back(shortId(container));
  record.endpoints.push_back(e);
  files_.save(record);
  putContainerLocked(record);
  try {
    plugLocked(plumbing_.ensureNamespace(container), e, false);
  } catch (...) {
    record.endpoints.pop_back();
    files_.save(record);
    putContainerLocked(record);
    addressesOf(n.id).release(e.address);
    throw;
  }
  applyResolverLocked();
  eventLocked("connect", n.id, {{"container", container}, {"name", n.name}, {"type", n.driver}});
  return settingsOf(record);
}

json NetworkCore::disconnect(const std::string& container, const std::string& network) {
  std::lock_guard lock(mutex_);
  ViewsScope views(*this);
  auto it = containers_.find(container);
  const NetworkRecord& n = resolveLocked(network == "default" ? "bridge" : network);
  auto notConnected = [&] {
    return Error(ErrorKind::forbidden, "container " + container + " is not connected to network " + network);
  };
  if (it == containers_.end()) throw notConnected();
  ContainerRecord record = it->second;
  auto e = std::find_if(record.endpoints.begin(), record.endpoints.end(), [&](const EndpointRecord& x) { return x.network == n.id; });
  if (e == record.endpoints.end()) throw notConnected();
  EndpointRecord gone = *e;
  bool first = e == record.endpoints.begin();
  record.endpoints.erase(e);
  // The published ports are the first network's: they go with it.
  bool hadPorts = first && !record.ports.empty();
  if (first) record.ports.clear();
  files_.save(record);
  putContainerLocked(record);
  plumbing_.unplugEndpoint(gone.hostVeth);
  addressesOf(n.id).release(gone.address);
  if (hadPorts) applyFiltersLocked();
  applyResolverLocked();
  eventLocked("disconnect", n.id, {{"container", container}, {"name", n.name}, {"type", n.driver}});
  return settingsOf(record);
}

void NetworkCore::releaseLocked(const ContainerRecord& record, bool unplug) {
  files_.removeContainer(record.id);
  eraseContainerLocked(record.id);
  for (const auto& e : record.endpoints) {
    if (unplug) plumbing_.unplugEndpoint(e.hostVeth);
    if (auto it = addresses_.find(e.network); it != addresses_.end()) it->second.release(e.address);
  }
  if (!record.ports.empty()) applyFiltersLocked();
  applyResolverLocked();
}

void NetworkCore::detachLocked(const std::string& container) {
  if (auto it = containers_.find(container); it != containers_.end()) {
    ContainerRecord record = it->second;
    // The veths are not deleted one by one: deleting a veth whose peer is in another namespace
    // waits for the kernel's RCU grace periods (about 10 ms here, on the removal's path). The
    // namespace's removal below drops its last reference (the container's processes are gone),
    // and the kernel then deletes its links, the veths' both ends with them. A veth that
    // outlives that (a kill -9 right here) is removed by the next start's scan of the bridges.
    releaseLocked(record, false);
    for (const auto& e : record.endpoints) {
      if (auto n = networks_.find(e.network); n != networks_.end()) {
        eventLocked("disconnect", n->first, {{"container", container}, {"name", n->second.name}, {"type", n->second.driver}});
      }
    }
  }
  plumbing_.removeNamespace(container);
}

void NetworkCore::detach(const std::string& container) {
  std::lock_guard lock(mutex_);
  ViewsScope views(*this);
  auto began = std::chrono::steady_clock::now();
  detachLocked(container);
  spdlog::debug("network: detach {}: {:.1f} ms", shortId(container),
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - began).count());
}

std::vector<std::string> NetworkCore::reconcile(const std::set<std::string>& keep) {
  std::lock_guard lock(mutex_);
  ViewsScope views(*this);
  std::set<std::string> gone;
  for (const auto& [id, c] : containers_) {
    if (!keep.count(id)) gone.insert(id);
  }
  for (const auto& id : plumbing_.namespaces()) {
    if (!keep.count(id)) gone.insert(id);
  }
  for (const auto& id : gone) detachLocked(id);
  return {gone.begin(), gone.end()};
}

void NetworkCore::applyFiltersLocked() {
  FirewallState state;
  for (const auto& [id, n] : networks_) {
    // Names are served on user networks only (applyResolverLocked).
    if (n.isBridge()) {
      state.bridges.push_back({n.bridge, n.subnet, n.masquerade, n.internal, n.icc, n.predefined ? 0u : n.gateway});
    }
  }
  state.resolverPort = resolverPort_;
  state.resolverStandbyPort = kResolverStandbyPort;
  // The marker says this engine's table is on the host: without any bridge network (an engine
  // with --bridge none and no user network) the table goes, and an engine that never had one
  // leaves the host's nftables untouched.
  std::string marker = options_.dataDir + "/firewall-applied";
  if (state.bridges.empty()) {
    if (readFileIfExists(marker)) {
      plumbing_.removeFirewall();
      removeAll(marker);
    }
    return;
  }
  if (!readFileIfExists(marker)) writeFileAtomic(marker, "ip berth\n", 0600);
  for (const auto& [id, c] : containers_) {
    if (c.endpoints.empty() || c.ports.empty()) continue;
    const auto& e = c.endpoints[0];
    auto n = networks_.find(e.network);
    if (n == networks_.end()) continue;
    for (const auto& p : c.ports) {
      state.ports.push_back({p.protocol, p.hostIp, p.hostPort, e.address, p.containerPort, n->second.bridge});
    }
  }
  plumbing_.applyFirewall(state);
}

void NetworkCore::applyResolverLocked() {
  // User networks only: on the default bridge containers resolve through the host's servers,
  // as dockerd's do.
  std::map<std::string, ResolverNetwork> byNetwork;
  for (const auto& [id, c] : containers_) {
    for (const auto& e : c.endpoints) {
      auto n = networks_.find(e.network);
      if (n == networks_.end() || n->second.predefined) continue;
      auto& r = byNetwork[n->first];
      r.id = n->first;
      r.gateway = n->second.gateway;
      ResolverEntry entry{id, e.address, {}};
      if (!c.name.empty()) entry.names.push_back(c.name);
      for (const auto& a : e.aliases) {
        if (std::find(entry.names.begin(), entry.names.end(), a) == entry.names.end()) entry.names.push_back(a);
      }
      r.entries.push_back(entry);
    }
  }
  std::vector<ResolverNetwork> networks;
  for (auto& [id, r] : byNetwork) networks.push_back(std::move(r));
  try {
    uint16_t port = plumbing_.updateResolver(networks);
    if (port != resolverPort_) {
      // Another aardvark serves now: queries go to its port from the next packet on. Kept
      // only once the table says so, so that a refused table is written again next time.
      uint16_t before = resolverPort_;
      resolverPort_ = port;
      try {
        applyFiltersLocked();
      } catch (...) {
        resolverPort_ = before;
        throw;
      }
    }
  } catch (const Error& e) {
    // Names stop resolving, nothing else does: the next change tries again.
    spdlog::error("network: updating the resolver: {}", e.what());
  }
}

json NetworkCore::settingsOf(const ContainerRecord& c) const {
  json networks = json::object(), ports = json::object(), nameservers = json::array();
  for (const auto& e : c.endpoints) {
    const auto& n = networks_.at(e.network);
    json aliases = json();
    if (!e.aliases.empty()) aliases = e.aliases;
    networks[n.name] = {{"IPAMConfig", e.requestedAddress ? json{{"IPv4Address", formatIpv4(e.address)}} : json()},
                        {"Links", json()},
                        {"Aliases", aliases},
                        {"NetworkID", n.id},
                        {"EndpointID", e.endpointId},
                        {"Gateway", n.internal ? "" : formatIpv4(n.gateway)},
                        {"IPAddress", formatIpv4(e.address)},
                        {"IPPrefixLen", n.subnet.bits},
                        {"IPv6Gateway", ""},
                        {"GlobalIPv6Address", ""},
                        {"GlobalIPv6PrefixLen", 0},
                        {"MacAddress", e.mac},
                        {"DriverOpts", json()}};
    if (!n.predefined && nameservers.empty()) nameservers.push_back(formatIpv4(n.gateway));
  }
  for (const auto& p : c.ports) {
    ports[std::to_string(p.containerPort) + "/" + p.protocol].push_back(
        {{"HostIp", formatIpv4(p.hostIp)}, {"HostPort", std::to_string(p.hostPort)}});
  }
  // --add-host NAME:host-gateway: dockerd's default host-gateway-ip, the default bridge's
  // gateway (whatever network the container is on).
  std::string hostGateway;
  for (const auto& [id, n] : networks_) {
    if (n.predefined && n.isBridge()) hostGateway = formatIpv4(n.gateway);
  }
  return {{"Networks", networks}, {"Ports", ports}, {"Nameservers", nameservers}, {"HostGateway", hostGateway}};
}

std::vector<Ipv4Prefix> NetworkCore::takenSubnetsLocked() const {
  std::vector<Ipv4Prefix> taken;
  for (const auto& [id, n] : networks_) {
    if (n.isBridge()) taken.push_back(n.subnet);
  }
  return taken;
}

std::string NetworkCore::create(const json& request) {
  if (!request.is_object()) throw Error(ErrorKind::invalid, "invalid network create request");
  std::string name = stringOf(request, "Name");
  if (name.empty()) throw Error(ErrorKind::invalid, "network name must not be empty");
  if (!validNetworkName(name)) {
    throw Error(ErrorKind::invalid, "invalid network name \"" + name + "\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
  }
  std::string driver = stringOf(request, "Driver");
  if (driver.empty()) driver = "bridge";
  if (driver == "host" || driver == "null") {
    throw Error(ErrorKind::forbidden, "only one instance of \"" + driver + "\" network is allowed");
  }
  if (driver != "bridge") {
    throw Error(ErrorKind::notFound, "plugin \"" + driver + "\" not found");
  }
  if (request.value("EnableIPv6", false)) throw Error(ErrorKind::invalid, "berth does not support IPv6 networks");
  if (request.value("Ingress", false)) throw Error(ErrorKind::invalid, "berth does not support ingress networks");
  NetworkRecord n;
  n.name = name;
  n.driver = driver;
  n.internal = request.value("Internal", false);
  n.attachable = request.value("Attachable", false);
  n.labels = stringMap(request.value("Labels", json()), "Labels");
  n.options = stringMap(request.value("Options", json()), "Options");
  n.mtu = options_.mtu;
  for (const auto& [key, value] : n.options) {
    if (key == kIccOption) n.icc = parseBool(key, value);
    else if (key == kMasqueradeOption) n.masquerade = parseBool(key, value);
    else if (key == kMtuOption) {
      try {
        n.mtu = std::stoi(value);
      } catch (const std::exception&) {
        n.mtu = 0;
      }
      if (n.mtu < 68 || n.mtu > 65535) throw Error(ErrorKind::invalid, "invalid MTU number: " + value);
    }
  }
  json ipam = request.value("IPAM", json::object());
  if (!ipam.is_object()) throw Error(ErrorKind::invalid, "IPAM must be an object");
  std::string ipamDriver = stringOf(ipam, "Driver");
  if (!ipamDriver.empty() && ipamDriver != "default") throw Error(ErrorKind::notFound, "plugin \"" + ipamDriver + "\" not found");
  json configs = ipam.value("Config", json::array());
  if (!configs.is_array() && !configs.is_null()) throw Error(ErrorKind::invalid, "IPAM.Config must be a list");
  std::lock_guard lock(mutex_);
  ViewsScope views(*this);
  for (const auto& [id, other] : networks_) {
    if (other.name == name) throw Error(ErrorKind::conflict, "network with name " + name + " already exists");
  }
  n.id = randomHex(32);
  n.created = rfc3339Nano(nowUnixNanos());
  auto bridgeName = n.options.find(kBridgeNameOption);
  n.bridge = bridgeName != n.options.end() ? bridgeName->second : "br-" + shortId(n.id);
  if (!validLinkName(n.bridge)) throw Error(ErrorKind::invalid, "invalid bridge name: " + n.bridge);
  for (const auto& [id, other] : networks_) {
    if (other.isBridge() && other.bridge == n.bridge) {
      throw Error(ErrorKind::conflict, "bridge name " + n.bridge + " is in use by network " + other.name);
    }
  }
  bool haveSubnet = false;
  for (const auto& c : configs.is_array() ? configs : json::array()) {
    std::string subnet = stringOf(c, "Subnet");
    if (subnet.empty() || subnet.find(':') != std::string::npos) continue;  // IPv6 entries: not supported
    if (haveSubnet) throw Error(ErrorKind::invalid, "berth supports one IPv4 subnet per network");
    haveSubnet = true;
    n.subnet = Ipv4Prefix::parse(subnet);
    std::string range = stringOf(c, "IPRange"), gateway = stringOf(c, "Gateway");
    if (!range.empty()) n.ipRange = Ipv4Prefix::parse(range);
    n.gateway = gateway.empty() ? SubnetAddresses::defaultGateway(n.subnet) : parseIpv4(gateway);
    n.gatewayShown = !gateway.empty();
    for (const auto& taken : takenSubnetsLocked()) {
      if (taken.overlaps(n.subnet)) {
        throw Error(ErrorKind::forbidden, "Pool overlaps with other one on this address space");
      }
    }
  }
  if (!haveSubnet) {
    auto taken = takenSubnetsLocked();
    for (const auto& route : plumbing_.hostRoutes()) taken.push_back(route);
    auto subnet = nextFreeSubnet(options_.pools, taken);
    if (!subnet) {
      throw Error(ErrorKind::forbidden,
                  "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the "
                  "network");
    }
    n.subnet = *subnet;
    n.gateway = SubnetAddresses::defaultGateway(*subnet);
  }
  SubnetAddresses addresses(n.subnet, n.ipRange, n.gateway);  // validates range and gateway
  // Recorded as being created before the link is made, and as made once the link and the
  // rules are: a kill in between leaves a record that the next start undoes, link and all
  // (before, a cut create could leave a bridge behind; found by the chaos test).
  n.creating = true;
  files_.save(n);
  putNetworkLocked(n);
  addresses_.emplace(n.id, addresses);
  try {
    applyNetworkLocked(n);
    applyFiltersLocked();
    n.creating = false;
    files_.save(n);
    putNetworkLocked(n);
  } catch (...) {
    // The link before the record, as in remove: a kill in between leaves the record to undo.
    eraseNetworkLocked(n.id);
    addresses_.erase(n.id);
    plumbing_.removeBridge(n.bridge);
    files_.removeNetwork(n.id);
    try {
      applyFiltersLocked();
    } catch (const Error&) {
    }
    throw;
  }
  eventLocked("create", n.id, {{"name", n.name}, {"type", n.driver}});
  return n.id;
}

json NetworkCore::networkJson(const NetworkRecord& n, bool withContainers) const {
  json config = json::array();
  if (n.isBridge()) {
    json c = {{"Subnet", n.subnet.str()}};
    if (n.ipRange) c["IPRange"] = n.ipRange->str();
    if (n.gatewayShown) c["Gateway"] = formatIpv4(n.gateway);
    config.push_back(c);
  }
  json containers = json::object();
  if (withContainers) {
    for (const auto& [id, c] : containers_) {
      for (const auto& e : c.endpoints) {
        if (e.network != n.id) continue;
        containers[id] = {{"Name", c.name},
                          {"EndpointID", e.endpointId},
                          {"MacAddress", e.mac},
                          {"IPv4Address", formatIpv4(e.address) + "/" + std::to_string(n.subnet.bits)},
                          {"IPv6Address", ""}};
      }
    }
  }
  return {{"Name", n.name},
          {"Id", n.id},
          {"Created", n.created},
          {"Scope", "local"},
          {"Driver", n.driver},
          {"EnableIPv6", false},
          {"IPAM", {{"Driver", "default"}, {"Options", n.ipamOptionsNull ? json() : json::object()}, {"Config", config}}},
          {"Internal", n.internal},
          {"Attachable", n.attachable},
          {"Ingress", false},
          {"ConfigFrom", {{"Network", ""}}},
          {"ConfigOnly", false},
          {"Containers", containers},
          {"Options", n.options},
          {"Labels", n.labels}};
}

json NetworkCore::inspect(const std::string& ref) const {
  std::lock_guard lock(mutex_);
  return networkJson(resolveLocked(ref), true);
}

json NetworkCore::list(const json& filtersJson) const {
  NetworkListFilter filter(filtersJson.is_null() ? "" : filtersJson.dump());
  std::lock_guard lock(mutex_);
  std::set<std::string> used;
  for (const auto& [id, c] : containers_) {
    for (const auto& e : c.endpoints) used.insert(e.network);
  }
  json out = json::array();
  for (const auto& [id, n] : networks_) {
    if (!filter.matches({n.id, n.name, n.driver, n.labels, n.predefined, used.count(id) > 0})) continue;
    out.push_back(networkJson(n, false));
  }
  return out;
}

void NetworkCore::remove(const std::string& ref) {
  std::lock_guard lock(mutex_);
  ViewsScope views(*this);
  NetworkRecord n = resolveLocked(ref);
  if (n.predefined) throw Error(ErrorKind::forbidden, n.name + " is a pre-defined network and cannot be removed");
  for (const auto& [id, c] : containers_) {
    for (const auto& e : c.endpoints) {
      if (e.network == n.id) {
        throw Error(ErrorKind::forbidden, "error while removing network: network " + n.name + " id " + n.id +
                                              " has active endpoints");
      }
    }
  }
  // The link goes before the record: a service killed in between finds the network still
  // recorded and makes its link again (the remove did not happen); the other order left a link
  // no record stood for (found by the chaos test).
  plumbing_.removeBridge(n.bridge);
  files_.removeNetwork(n.id);
  eraseNetworkLocked(n.id);
  addresses_.erase(n.id);
  applyFiltersLocked();
  eventLocked("destroy", n.id, {{"name", n.name}, {"type", n.driver}});
}

std::vector<std::string> NetworkCore::prune(const json& filtersJson) {
  // As moby's NetworksPrune: label and label! as matchLabels reads them, until= at most once.
  auto filters = DockerFilters::parse(filtersJson.is_null() ? "" : filtersJson.dump(), {"label", "label!", "until"});
  auto until = filters.pruneUntil(nowUnixNanos());
  std::vector<std::string> candidates;
  {
    std::lock_guard lock(mutex_);
    std::set<std::string> used;
    for (const auto& [id, c] : containers_) {
      for (const auto& e : c.endpoints) used.insert(e.network);
    }
    for (const auto& [id, n] : networks_) {
      if (n.predefined || used.count(id) || !filters.matchLabels(n.labels)) continue;
      if (until && parseRfc3339Nanos(n.created) > *until) continue;
      candidates.push_back(id);
    }
  }
  std::vector<std::string> removed;
  for (const auto& id : candidates) {
    std::string name;
    {
      std::lock_guard lock(mutex_);
      auto it = networks_.find(id);
      if (it == networks_.end()) continue;
      name = it->second.name;
    }
    try {
      remove(id);
      removed.push_back(name);
    } catch (const Error& e) {
      // Connected meanwhile: kept, as dockerd's prune skips a network it cannot remove.
      spdlog::info("network: prune kept {}: {}", name, e.what());
    }
  }
  return removed;
}

}  // namespace berth::network
