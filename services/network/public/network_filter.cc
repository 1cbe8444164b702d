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
  // As dockerd 20.10 (its words): one value, of the four it names.
  const auto& dangling = filters_.values("dangling");
  if (dangling.size() > 1) throw Error(ErrorKind::invalid, "got more than one value for filter key \"dangling\"");
  if (!dangling.empty()) {
    const auto& d = *dangling.begin();
    if (d != "0" && d != "false" && d != "1" && d != "true") {
      throw Error(ErrorKind::invalid,
                  "invalid value for filter 'dangling', must be \"true\" (or \"1\"), or \"false\" (or \"0\")");
    }
    dangling_ = d == "1" || d == "true";
  }
}

bool NetworkListFilter::matches(const Facts& n) const {
  if (!filters_.exactMatch("driver", n.driver) || !names_.match(n.name) || !ids_.match(n.id) ||
      !filters_.exactMatch("scope", "local") || !filters_.matchKeyValues("label", n.labels) ||
      !filters_.anyEquals("type", n.predefined ? "builtin" : "custom")) {
    return false;
  }
  // type= with no value ({"type":null}) lists nothing, as dockerd 20.10 (it gathers the
  // networks of each type given).
  if (filters_.containsNoValue("type")) return false;
  return !dangling_ || *dangling_ == (!n.predefined && !n.used);
}

}  // namespace berth::network
