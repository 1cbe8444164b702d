// GET /networks' filters as dockerd applies them (driver, id, label, name, scope, type,
// dangling), parsed once and matched against many networks: one definition for the network
// service's listing and berth-api's copy, so both answer alike.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "common/docker_filters.h"

namespace berth::network {

class NetworkListFilter {
 public:
  // The `filters` query parameter's text (empty: none). Throws invalid in dockerd's words for
  // a filter it does not know, a type other than custom or builtin, a dangling that is no bool.
  explicit NetworkListFilter(const std::string& filtersText);

  // What the filters look at in a network.
  struct Facts {
    const std::string& id;
    const std::string& name;
    const std::string& driver;
    const std::map<std::string, std::string>& labels;
    bool predefined;  // bridge, host, none: type builtin, never dangling
    bool used;        // a container has an endpoint on it
  };
  bool matches(const Facts& network) const;

 private:
  DockerFilters filters_;
  FilterPatterns names_, ids_;  // compiled once, not per network
  std::optional<bool> dangling_;
};

}  // namespace berth::network
