#include "services/containerd-bridge/public/container_filter.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "common/errors.h"

namespace berth::bridge {

namespace {

// dockerd's acceptedPsFilterTags: no label! (only the prune takes it).
const std::set<std::string> kAccepted = {"id",       "name",      "label",   "status", "exited",
                                         "ancestor", "before",    "since",   "volume", "health",
                                         "network",  "isolation", "publish", "expose", "is-task"};

// dockerd's container states (IsValidStateString) and health states (IsValidHealthString).
const std::set<std::string> kStates = {"created", "running", "paused", "restarting", "removing", "exited", "dead"};
const std::set<std::string> kHealth = {"starting", "healthy", "unhealthy", "none"};

// Go's strconv.ParseUint(text, 10, 16), with its error text.
unsigned parsePortNumber(const std::string& text) {
  auto fail = [&](const char* why) {
    return Error(ErrorKind::invalid, "strconv.ParseUint: parsing \"" + text + "\": " + why);
  };
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) throw fail("invalid syntax");
  unsigned long value = 0;
  for (char c : text) {
    value = value * 10 + static_cast<unsigned long>(c - '0');
    if (value > 65535) throw fail("value out of range");
  }
  return static_cast<unsigned>(value);
}

// "80/tcp" (a key of PortBindings or ExposedPorts) as its number and protocol.
std::optional<std::pair<unsigned, std::string>> portKey(const std::string& key) {
  auto slash = key.find('/');
  std::string number = key.substr(0, slash);
  if (number.empty() || number.size() > 5 || number.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  std::string proto = slash == std::string::npos || slash + 1 == key.size() ? "tcp" : key.substr(slash + 1);
  return std::make_pair(static_cast<unsigned>(std::stoul(number)), proto);
}

}  // namespace

ContainerFilter::ContainerFilter(const std::string& filtersJson)
    : filters_(DockerFilters::parse(filtersJson, kAccepted)),
      names_(filters_.values("name")) {
  for (const auto& key : kAccepted) empty_ = empty_ && !filters_.contains(key);
  for (const auto& value : filters_.values("exited")) {
    // Go's strconv.Atoi (64 bits here), with its error text.
    char* end = nullptr;
    errno = 0;
    long long code = std::strtoll(value.c_str(), &end, 10);
    bool digits = !value.empty() && value.find_first_not_of("+-0123456789") == std::string::npos && *end == '\0';
    if (!digits) throw Error(ErrorKind::invalid, "strconv.Atoi: parsing \"" + value + "\": invalid syntax");
    if (errno == ERANGE) throw Error(ErrorKind::invalid, "strconv.Atoi: parsing \"" + value + "\": value out of range");
    exited_.insert(static_cast<int64_t>(code));
  }
  for (const auto& value : filters_.values("status")) {
    if (!kStates.count(value)) throw Error(ErrorKind::invalid, "invalid filter 'status=" + value + "'");
  }
  if (filters_.contains("is-task")) {
    // moby's ExactMatch: a key given with no value matches any.
    if (filters_.exactMatch("is-task", "true")) {
      isTask_ = true;
    } else if (filters_.exactMatch("is-task", "false")) {
      isTask_ = false;
    } else {
      throw Error(ErrorKind::invalid, invalidFilterValue("is-task", filters_.values("is-task")));
    }
  }
  for (const auto& value : filters_.values("health")) {
    if (!kHealth.count(value)) throw Error(ErrorKind::invalid, "Unrecognised filter value for health: " + value);
  }
  publish_ = portRanges("publish", filters_.values("publish"));
  expose_ = portRanges("expose", filters_.values("expose"));
  if (const auto& v = filters_.values("before"); !v.empty()) beforeRef_ = *v.begin();
  if (const auto& v = filters_.values("since"); !v.empty()) sinceRef_ = *v.begin();
  // Only status= does (moby's foldFilter sets All for it alone): dockerd 20.10 lists no stopped
  // container for exited=, before= or since= without all=1.
  listsStopped_ = !filters_.values("status").empty();
}

// moby's portOp over go-connections' nat: <port>[/<proto>] or <first>-<last>[/<proto>], tcp
// when no protocol is given (SplitProtoPort and ParsePortRange, which read only the first two
// parts of each split).
std::vector<ContainerFilter::PortRange> ContainerFilter::portRanges(const std::string& key,
                                                                    const std::set<std::string>& values) {
  auto split = [](const std::string& text, char at) {
    std::vector<std::string> parts;
    size_t from = 0;
    for (size_t to; (to = text.find(at, from)) != std::string::npos; from = to + 1) parts.push_back(text.substr(from, to - from));
    parts.push_back(text.substr(from));
    return parts;
  };
  std::vector<PortRange> out;
  for (const auto& value : values) {
    if (value.find(':') != std::string::npos) {
      throw Error(ErrorKind::invalid, "filter for '" + key + "' should not contain ':': " + value);
    }
    auto parts = split(value, '/');
    std::string ports = parts[0];
    std::string proto = parts.size() == 1 || parts[1].empty() ? "tcp" : parts[1];
    try {
      if (ports.empty()) throw Error(ErrorKind::invalid, "Empty string specified for ports.");
      PortRange r{proto, 0, 0};
      if (ports.find('-') == std::string::npos) {
        r.first = r.last = parsePortNumber(ports);
      } else {
        auto range = split(ports, '-');
        r.first = parsePortNumber(range[0]);
        r.last = parsePortNumber(range[1]);
        if (r.last < r.first) throw Error(ErrorKind::invalid, "Invalid range specified for the Port: " + ports);
      }
      out.push_back(std::move(r));
    } catch (const Error& e) {
      throw Error(ErrorKind::invalid, "error while looking up for " + key + " " + value + ": " + e.what());
    }
  }
  return out;
}

bool ContainerFilter::anyPortIn(const std::vector<PortRange>& ranges, const std::vector<std::string>& ports) {
  for (const auto& key : ports) {
    auto port = portKey(key);
    if (!port) continue;
    for (const auto& r : ranges) {
      if (port->second == r.proto && port->first >= r.first && port->first <= r.last) return true;
    }
  }
  return false;
}

void ContainerFilter::resolveIds(const std::vector<std::string>& ids) {
  idMatches_.clear();
  std::vector<std::string> sorted = ids;
  std::sort(sorted.begin(), sorted.end());
  for (const auto& prefix : filters_.values("id")) {
    if (prefix.empty()) continue;
    auto it = std::lower_bound(sorted.begin(), sorted.end(), prefix);
    if (it == sorted.end() || it->rfind(prefix, 0) != 0) continue;
    if (auto next = std::next(it); next != sorted.end() && next->rfind(prefix, 0) == 0) continue;  // ambiguous
    idMatches_.insert(*it);
  }
}

void ContainerFilter::setBounds(std::optional<int64_t> beforeCreated, std::optional<int64_t> sinceCreated) {
  beforeCreated_ = beforeCreated;
  sinceCreated_ = sinceCreated;
}

bool ContainerFilter::matches(const ContainerFacts& c) const {
  if (empty_) return true;
  if (beforeCreated_ && c.created >= *beforeCreated_) return false;
  if (sinceCreated_ && c.created <= *sinceCreated_) return false;
  // dockerd 20.10 matches a name with and without its slash: "^web$" and "^/web$" both list /web.
  if (!names_.match(c.name) && !names_.match(c.name.substr(c.name.rfind('/', 0) == 0 ? 1 : 0))) return false;
  if (wantsIds() && !idMatches_.count(c.id)) return false;
  // No berth container is a swarm task.
  if (isTask_ && *isTask_) return false;
  if (!filters_.matchKeyValues("label", c.labels)) return false;
  if (!exited_.empty() && (c.running || !c.started || !exited_.count(c.exitCode))) return false;
  // dockerd Matches status (a map form's false still lists) and ExactMatches health.
  if (!filters_.anyEquals("status", c.state)) return false;
  if (!filters_.exactMatch("health", c.health)) return false;
  // volume=, ancestor= and network= given with no value ({"volume":null}) match no container,
  // as dockerd 20.10 answers (each walks the values for a match).
  if (const auto& wanted = filters_.values("volume"); filters_.contains("volume")) {
    bool any = false;
    for (const auto& v : c.volumes) any = any || wanted.count(v);
    if (!any) return false;
  }
  if (const auto& wanted = filters_.values("ancestor"); filters_.contains("ancestor")) {
    if (!ancestorIds_.count(c.imageId) && !wanted.count(c.imageRef)) return false;
  }
  if (const auto& wanted = filters_.values("network"); filters_.contains("network")) {
    bool any = false;
    for (const auto& value : wanted) {
      for (const auto& [name, id] : c.networks) any = any || name == value || (!id.empty() && id.rfind(value, 0) == 0);
    }
    if (!any) return false;
  }
  // dockerd 20.10 lists a container that matches either of the two (checked against it).
  if ((!publish_.empty() || !expose_.empty()) && !anyPortIn(publish_, c.published) && !anyPortIn(expose_, c.exposed)) {
    return false;
  }
  return true;
}

}  // namespace berth::bridge
