#include "services/containerd-bridge/container_links.h"

#include <algorithm>
#include <cctype>

#include "common/errors.h"
#include "services/containerd-bridge/container_status.h"

namespace berth::bridge {

using json = nlohmann::json;

namespace {

// "db:alias" → {db, alias}; dockerd's stored "/db:/web/alias" → {db, alias}.
std::pair<std::string, std::string> splitLink(const std::string& link) {
  auto colon = link.find(':');
  std::string name = link.substr(0, colon);
  std::string alias = colon == std::string::npos ? name : link.substr(colon + 1);
  if (!name.empty() && name[0] == '/') name.erase(0, 1);
  auto slash = alias.find_last_of('/');
  if (slash != std::string::npos) alias = alias.substr(slash + 1);
  return {name, alias};
}

std::string withoutSlash(const std::string& name) { return !name.empty() && name[0] == '/' ? name.substr(1) : name; }

struct Port {
  int number = 0;
  std::string protocol;
};

}  // namespace

std::vector<std::string> normaliseLinks(const json& links, const std::string& parentName, const std::string& parentId,
                                        const ContainerStore& store) {
  std::vector<std::string> out;
  if (!links.is_array()) return out;
  for (const auto& l : links) {
    if (!l.is_string()) throw Error(ErrorKind::invalid, "invalid link: links must be strings");
    auto [name, alias] = splitLink(l.get<std::string>());
    if (name.empty() || alias.empty()) throw Error(ErrorKind::invalid, "invalid link: " + l.get<std::string>());
    ContainerRecord child;
    try {
      child = store.get(name);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::notFound) throw;
      throw Error(ErrorKind::invalid, "could not get container for " + name + ": " + e.what());
    }
    if (child.id == parentId) throw Error(ErrorKind::invalid, "Cannot link to self: " + name);
    out.push_back(child.name + ":" + parentName + "/" + alias);
  }
  return out;
}

std::vector<ContainerLink> resolveLinks(const ContainerRecord& parent, const ContainerStore& store) {
  std::vector<ContainerLink> out;
  for (const auto& l : parent.hostConfig.value("Links", json::array())) {
    if (!l.is_string()) continue;
    auto [name, alias] = splitLink(l.get<std::string>());
    auto child = store.get(name);
    ContainerLink link;
    link.alias = alias;
    link.linkName = parent.name + "/" + alias;
    link.childName = withoutSlash(child.name);
    if (child.state.status != ContainerStatus::running) {
      throw Error(ErrorKind::conflict, "Cannot link to a non running container: " + child.name + " AS " + link.linkName);
    }
    link.hostname = child.config.value("Hostname", child.id.substr(0, 12));
    if (child.networkSettings.is_object()) {
      link.address = child.networkSettings.value("Networks", json::object()).value("bridge", json::object()).value("IPAddress", "");
    }
    if (link.address.empty()) throw Error(ErrorKind::conflict, "container " + child.id + " not attached to default bridge network");
    link.exposedPorts = child.config.value("ExposedPorts", json::object());
    for (const auto& e : child.config.value("Env", json::array())) {
      if (e.is_string()) link.env.push_back(e.get<std::string>());
    }
    out.push_back(link);
  }
  return out;
}

std::string linkHosts(const std::vector<ContainerLink>& links) {
  std::string out;
  for (const auto& l : links) {
    // dockerd: the alias and the hostname, and the name when the alias differs from it.
    std::string names = l.alias + " " + l.hostname;
    if (l.alias != l.childName) names += " " + l.childName;
    out += l.address + "\t" + names + "\n";
  }
  return out;
}

std::vector<std::string> linkEnv(const std::vector<ContainerLink>& links) {
  std::vector<std::string> env;
  for (const auto& l : links) {
    std::string alias = l.alias;
    for (auto& c : alias) c = c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    std::vector<Port> ports;
    if (l.exposedPorts.is_object()) {
      for (auto it = l.exposedPorts.begin(); it != l.exposedPorts.end(); ++it) {
        auto slash = it.key().find('/');
        ports.push_back({std::atoi(it.key().substr(0, slash).c_str()),
                         slash == std::string::npos ? "tcp" : it.key().substr(slash + 1)});
      }
    }
    // The lowest port first, tcp before udp at the same number (nat.Sort's order).
    std::sort(ports.begin(), ports.end(), [](const Port& a, const Port& b) {
      return a.number != b.number ? a.number < b.number : (a.protocol == "tcp") > (b.protocol == "tcp");
    });
    if (!ports.empty()) {
      env.push_back(alias + "_PORT=" + ports[0].protocol + "://" + l.address + ":" + std::to_string(ports[0].number));
    }
    for (const auto& p : ports) {
      std::string upper = p.protocol;
      for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      std::string prefix = alias + "_PORT_" + std::to_string(p.number) + "_" + upper;
      env.push_back(prefix + "=" + p.protocol + "://" + l.address + ":" + std::to_string(p.number));
      env.push_back(prefix + "_ADDR=" + l.address);
      env.push_back(prefix + "_PORT=" + std::to_string(p.number));
      env.push_back(prefix + "_PROTO=" + p.protocol);
    }
    env.push_back(alias + "_NAME=" + l.linkName);
    for (const auto& v : l.env) {
      auto eq = v.find('=');
      if (eq == std::string::npos) continue;
      std::string key = v.substr(0, eq);
      if (key == "HOME" || key == "PATH") continue;
      env.push_back(alias + "_ENV_" + key + "=" + v.substr(eq + 1));
    }
  }
  return env;
}

}  // namespace berth::bridge
