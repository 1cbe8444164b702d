#include "services/api/event_filter.h"

#include "common/docker_filters.h"

namespace berth::api {
namespace {

const std::set<std::string> kKeys = {"config", "container", "daemon", "event",  "image",   "label",  "network",
                                     "node",   "plugin",    "scope",  "secret", "service", "type",   "volume"};

std::string attribute(const ipc::EngineEvent& e, const std::string& key) {
  for (const auto& [k, v] : e.attributes) {
    if (k == key) return v;
  }
  return {};
}

}  // namespace

EventFilter EventFilter::parse(const std::string& text) {
  EventFilter f;
  f.filters_ = DockerFilters::parse(text, kKeys);
  return f;
}

bool EventFilter::matches(const ipc::EngineEvent& e) const {
  if (!filters_.exactMatch("type", e.type) || !filters_.exactMatch("scope", e.scope)) return false;
  if (const auto& wanted = filters_.values("event"); !wanted.empty()) {
    // "exec_start: sh -c ..." matches the filter "exec_start" (moby's FuzzyMatch for those, which
    // a value given false still satisfies; the whole action only exactly).
    std::string action = e.action.substr(0, e.action.find(':'));
    if (!filters_.exactMatch("event", e.action) && (action == e.action || !wanted.count(action))) return false;
  }
  // Object filters: the actor's id (or a prefix of it) or its name, for events of that type.
  for (const char* type : {"container", "image", "volume", "network", "daemon", "plugin", "node", "service",
                           "secret", "config"}) {
    const auto& wanted = filters_.values(type);
    if (wanted.empty()) continue;
    bool hit = false;
    std::string name = attribute(e, "name");
    for (const auto& v : wanted) {
      if (e.type == type && (v == e.actorId || v == name || (!v.empty() && e.actorId.rfind(v, 0) == 0))) hit = true;
      if (std::string(type) == "image" && e.type == "container" && attribute(e, "image") == v) hit = true;
    }
    if (!hit) return false;
  }
  for (const auto& want : filters_.values("label")) {
    auto eq = want.find('=');
    std::string key = want.substr(0, eq);
    bool found = false;
    for (const auto& [k, v] : e.attributes) {
      if (k == key && (eq == std::string::npos || v == want.substr(eq + 1))) found = true;
    }
    if (!found) return false;
  }
  return true;
}

}  // namespace berth::api
