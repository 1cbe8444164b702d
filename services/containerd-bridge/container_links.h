// Legacy links (`--link name[:alias]`) on the default bridge, as dockerd makes them: at create
// each linked container must exist and the links are kept as dockerd shows them
// ("/db:/web/alias"); at each start each linked container must be running, and the container
// gets its address in its hosts file ("IP\talias hostname name") and its ports and
// environment as variables (ALIAS_PORT, ALIAS_PORT_80_TCP…, ALIAS_NAME, ALIAS_ENV_…).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "services/containerd-bridge/container_store.h"

namespace berth::bridge {

struct ContainerLink {
  std::string alias;     // the name it is linked as
  std::string linkName;  // "/web/alias", dockerd's Link.Name
  std::string childName;  // without the slash
  std::string hostname;
  std::string address;    // on the default bridge
  nlohmann::json exposedPorts = nlohmann::json::object();
  std::vector<std::string> env;
};

// HostConfig.Links as given ("db", "db:alias", or dockerd's own "/db:/web/alias") to dockerd's
// form. invalid "could not get container for X: No such container: X" for one that does not
// exist, "Cannot link to self" for the container itself.
std::vector<std::string> normaliseLinks(const nlohmann::json& links, const std::string& parentName,
                                        const std::string& parentId, const ContainerStore& store);

// The linked containers as they are now; conflict "Cannot link to a non running container:
// /db AS /web/alias" for one that is not running.
std::vector<ContainerLink> resolveLinks(const ContainerRecord& parent, const ContainerStore& store);

// The hosts file's lines for the links.
std::string linkHosts(const std::vector<ContainerLink>& links);
// The variables dockerd's links.ToEnv gives each link (single ports; no _START/_END ranges).
std::vector<std::string> linkEnv(const std::vector<ContainerLink>& links);

}  // namespace berth::bridge
