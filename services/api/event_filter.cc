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
  f.values_ = DockerFilters::parse(text, kKeys).all();
  return f;
}

bool EventFilter::exact(const std::string& key, const std::string& value) const {
  auto it = values_.find(key);
  return it == values_.end() || it->second.empty() || it->second.count(value);
}

bool EventFilter::matches(const ipc::EngineEvent& e) const {
  if (!exact("type", e.type) || !exact("scope", e.scope)) return false;
  if (auto it = values_.find("event"); it != values_.end() && !it->second.empty()) {
    // "exec_start: sh -c ..." matches the filter "exec_start".
    std::string action = e.action.substr(0, e.action.find(':'));
    if (!it->second.count(e.action) && !it->second.count(action)) return false;
  }
  // Object filters: the actor's id (or a prefix of it) or its name, for events of that type.
  for (const char* type : {"container", "image", "volume", "network", "daemon", "plugin", "node", "service",
                           "secret", "config"}) {
    auto it = values_.find(type);
    if (it == values_.end() || it->second.empty()) continue;
    bool hit = false;
    std::string name = attribute(e, "name");
    for (const auto& v : it->second) {
      if (e.type == type && (v == e.actorId || v == name || (!v.empty() && e.actorId.rfind(v, 0) == 0))) hit = true;
      if (std::string(type) == "image" && e.type == "container" && attribute(e, "image") == v) hit = true;
    }
    if (!hit) return false;
  }
  if (auto it = values_.find("label"); it != values_.end()) {
    for (const auto& want : it->second) {
      auto eq = want.find('=');
      std::string key = want.substr(0, eq);
      bool found = false;
      for (const auto& [k, v] : e.attributes) {
        if (k == key && (eq == std::string::npos || v == want.substr(eq + 1))) found = true;
      }
      if (!found) return false;
    }
  }
  return true;
}

}  // namespace berth::api
