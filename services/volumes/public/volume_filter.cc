#include "services/volumes/public/volume_filter.h"

#include "common/errors.h"

namespace berth::volumes {

VolumeListFilter::VolumeListFilter(const std::string& filtersText)
    : filters_(DockerFilters::parse(filtersText, {"dangling", "name", "driver", "label"})),
      names_(filters_.values("name")) {
  if (!filters_.contains("dangling")) return;
  if (filters_.exactMatch("dangling", "true") || filters_.exactMatch("dangling", "1")) dangling_ = true;
  else if (filters_.exactMatch("dangling", "false") || filters_.exactMatch("dangling", "0")) dangling_ = false;
  else throw Error(ErrorKind::invalid, invalidFilterValue("dangling", filters_.values("dangling")));
}

bool VolumeListFilter::matches(const std::string& name, const std::string& driver,
                               const std::map<std::string, std::string>& labels) const {
  return filters_.anyEquals("driver", driver) && names_.match(name) && filters_.matchKeyValues("label", labels);
}

}  // namespace berth::volumes
