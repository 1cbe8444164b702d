#include "services/api/event_filter.h"

#include "common/docker_filters.h"
#include "common/errors.h"
#include "common/image_reference.h"

namespace berth::api {
namespace {

std::string attribute(const ipc::EngineEvent& e, const std::string& key) {
  for (const auto& [k, v] : e.attributes) {
    if (k == key) return v;
  }
  return {};
}

// moby's stripTag: a reference's familiar name, without tag or digest ("busybox:1" is
// "busybox"); the text itself when it is no reference.
std::string withoutTag(const std::string& text) {
  if (text.empty()) return text;
  try {
    return images::parseReference(text, "").name;
  } catch (const Error&) {
    return text;
  }
}

}  // namespace

EventFilter EventFilter::parse(const std::string& text) {
  EventFilter f;
  // dockerd 20.10 validates no key here: one it does not know filters nothing (the reference
  // engine streamed every event for {"colour":["red"]}).
  f.filters_ = DockerFilters::parseAnyKeys(text);
  return f;
}

bool EventFilter::matches(const ipc::EngineEvent& e) const {
  if (!filters_.exactMatch("type", e.type) || !filters_.exactMatch("scope", e.scope)) return false;
  if (const auto& wanted = filters_.values("event"); !wanted.empty()) {
    // As moby's matchEvent: when one value is exec_create, exec_start or health_status (whose
    // actions go on, "exec_start: sh -c ..."), an action matches a value exactly or begins with
    // any value (FuzzyMatch, whatever a map form's boolean); otherwise exactly (ExactMatch).
    bool fuzzy = wanted.count("exec_create") || wanted.count("exec_start") || wanted.count("health_status");
    bool hit = filters_.exactMatch("event", e.action);
    for (const auto& v : wanted) hit = hit || (fuzzy && e.action.rfind(v, 0) == 0);
    if (!hit) return false;
  }
  // Object filters, as moby's fuzzyMatchName: the actor's id, or its name, is a value or begins
  // with one, whatever the event's type (moby does not look at it).
  for (const char* type :
       {"container", "volume", "network", "daemon", "plugin", "node", "service", "secret", "config"}) {
    const auto& wanted = filters_.values(type);
    if (wanted.empty()) continue;
    bool hit = false;
    std::string name = attribute(e, "name");
    for (const auto& v : wanted) {
      if (e.actorId.rfind(v, 0) == 0 || name.rfind(v, 0) == 0) hit = true;
    }
    if (!hit) return false;
  }
  // image=, as moby's matchImage: exactly the actor's id or its image (an image event's name, a
  // container event's image attribute), each also without its tag.
  if (!filters_.values("image").empty()) {
    std::string image = attribute(e, e.type == "image" ? "name" : "image");
    if (!filters_.exactMatch("image", e.actorId) && !filters_.exactMatch("image", image) &&
        !filters_.exactMatch("image", withoutTag(e.actorId)) && !filters_.exactMatch("image", withoutTag(image))) {
      return false;
    }
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
