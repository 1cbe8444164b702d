// docker ps --filter: which containers GET /containers/json lists, as dockerd's list decides it,
// over the few facts of each container the filters look at. The bridge lists from its records
// with it; the API's read model lists from its copy of the bridge's views with the same code,
// so both answer alike (docs/containers.md, "Listing").
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/docker_filters.h"

namespace berth::bridge {

// What the filters of a listing look at in one container, taken from its record.
struct ContainerFacts {
  std::string id;
  std::string name;      // with the leading slash
  int64_t created = 0;   // Unix nanoseconds: the listing's order, newest first
  std::string state;     // "created", "running", "paused", "restarting", "removing", "exited", "dead"
  bool running = false;  // listed without all=1 (running, paused or restarting)
  bool started = false;  // has ever been started: exited= needs it, as dockerd's StartedAt
  int exitCode = 0;
  std::string health;    // "none", "starting", "healthy", "unhealthy"
  std::string imageId, imageRef;
  std::map<std::string, std::string> labels;
  // volume=: each mount's destination, and its volume's name (a bind's or tmpfs's source).
  std::vector<std::string> volumes;
  std::vector<std::pair<std::string, std::string>> networks;  // network=: name, network id
  // While it runs (as dockerd 20.10 matches them): publish= its published host ports ("0/tcp"
  // for a port only exposed), expose= its container ports, published or only exposed;
  // "8080/tcp". A container matching either filter is listed.
  std::vector<std::string> published;
  std::vector<std::string> exposed;
};

class ContainerFilter {
 public:
  // The `filters` parameter's JSON (empty: none). Throws invalid with dockerd's message for an
  // unknown key or a value dockerd refuses (status, health, is-task, exited, publish, expose).
  explicit ContainerFilter(const std::string& filtersJson);

  bool empty() const { return empty_; }
  // status= lists stopped containers without all=1, as dockerd (exited=, before= and since=
  // do not).
  bool listsStopped() const { return listsStopped_; }
  // The containers before= and since= name (of several values, the first in order), which the
  // caller resolves to their creation times (setBounds); a reference that resolves to nothing
  // is the caller's "No such container".
  const std::optional<std::string>& beforeRef() const { return beforeRef_; }
  const std::optional<std::string>& sinceRef() const { return sinceRef_; }
  void setBounds(std::optional<int64_t> beforeCreated, std::optional<int64_t> sinceCreated);
  // ancestor= values, which the caller resolves to image ids (setAncestorIds): a container
  // matches by its image id or by the reference it was created from.
  const std::set<std::string>& ancestors() const { return filters_.values("ancestor"); }
  void setAncestorIds(std::set<std::string> ids) { ancestorIds_ = std::move(ids); }

  // id= names a container by a unique prefix of its id, as dockerd's index resolves it (a
  // prefix two containers share names none): `ids` are every listed container's.
  bool wantsIds() const { return !filters_.values("id").empty(); }
  void resolveIds(const std::vector<std::string>& ids);

  // Whether `c` is listed: every filter holds (all=1 and limit are the caller's).
  bool matches(const ContainerFacts& c) const;

 private:
  struct PortRange {
    std::string proto;
    unsigned first = 0, last = 0;
  };
  static std::vector<PortRange> portRanges(const std::string& key, const std::set<std::string>& values);
  static bool anyPortIn(const std::vector<PortRange>& ranges, const std::vector<std::string>& ports);

  DockerFilters filters_;
  bool empty_ = true;
  bool listsStopped_ = false;
  FilterPatterns names_;
  std::set<std::string> idMatches_;
  std::optional<bool> isTask_;
  std::set<int64_t> exited_;
  std::vector<PortRange> publish_, expose_;
  std::optional<std::string> beforeRef_, sinceRef_;
  std::optional<int64_t> beforeCreated_, sinceCreated_;
  std::set<std::string> ancestorIds_;
};

// The listing: of `containers` (any order), the ones `filter` admits, newest first, only running
// ones unless `all` or the filter lists stopped ones, at most `limit` when positive (a limit
// lists stopped ones too, as dockerd).
template <typename Item, typename FactsOf>
std::vector<Item> selectContainers(std::vector<Item> containers, ContainerFilter& filter, bool all, int limit,
                                   FactsOf factsOf) {
  all = all || filter.listsStopped() || limit > 0;
  if (filter.wantsIds()) {
    std::vector<std::string> ids;
    for (const auto& item : containers) ids.push_back(factsOf(item).id);
    filter.resolveIds(ids);
  }
  std::vector<Item> out;
  for (auto& item : containers) {
    const ContainerFacts& c = factsOf(item);
    if ((all || c.running) && filter.matches(c)) out.push_back(std::move(item));
  }
  std::stable_sort(out.begin(), out.end(),
                   [&](const Item& a, const Item& b) { return factsOf(a).created > factsOf(b).created; });
  if (limit > 0 && out.size() > static_cast<size_t>(limit)) out.resize(static_cast<size_t>(limit));
  return out;
}

}  // namespace berth::bridge
