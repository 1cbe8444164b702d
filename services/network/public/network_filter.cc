#include "services/network/public/network_filter.h"

#include "common/errors.h"

namespace berth::network {

NetworkListFilter::NetworkListFilter(const std::string& filtersText)
    : filters_(DockerFilters::parse(filtersText, {"driver", "id", "label", "name", "scope", "type", "dangling"})),
      names_(filters_.values("name")),
      ids_(filters_.values("id")) {
  for (const auto& t : filters_.values("type")) {
    if (t != "custom" && t != "builtin") throw Error(ErrorKind::invalid, "invalid filter: 'type'='" + t + "'");
  }
  for (const auto& d : filters_.values("dangling")) {
    auto b = parseGoBool(d);
    if (!b) throw Error(ErrorKind::invalid, "invalid filter 'dangling=[" + d + "]'");
    dangling_ = *b;
  }
}

bool NetworkListFilter::matches(const Facts& n) const {
  if (!filters_.exactMatch("driver", n.driver) || !names_.match(n.name) || !ids_.match(n.id) ||
      !filters_.exactMatch("scope", "local") || !filters_.matchKeyValues("label", n.labels) ||
      !filters_.exactMatch("type", n.predefined ? "builtin" : "custom")) {
    return false;
  }
  // type= with no value ({"type":null}) lists nothing, as dockerd 20.10 (it gathers the
  // networks of each type given).
  if (filters_.containsNoValue("type")) return false;
  return !dangling_ || *dangling_ == (!n.predefined && !n.used);
}

}  // namespace berth::network
