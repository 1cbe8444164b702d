// GET /volumes' filters as dockerd applies them (dangling, driver, label, name), parsed once and
// matched against many volumes: one definition for the volumes service's listing and berth-api's
// copy, so both answer alike.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "common/docker_filters.h"

namespace berth::volumes {

class VolumeListFilter {
 public:
  // The `filters` query parameter's text (empty: none). Throws invalid in dockerd's words for a
  // filter it does not know or a dangling that is none of true, 1, false, 0.
  explicit VolumeListFilter(const std::string& filtersText);

  // Every filter but dangling.
  bool matches(const std::string& name, const std::string& driver, const std::map<std::string, std::string>& labels) const;
  // dangling, for a volume no container uses (`unused`) or one some container does.
  bool matchesUse(bool unused) const { return !dangling_ || *dangling_ == unused; }

 private:
  DockerFilters filters_;
  FilterPatterns names_;  // compiled once, not per volume
  std::optional<bool> dangling_;
};

}  // namespace berth::volumes
