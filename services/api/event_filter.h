// The `filters` of GET /events, with dockerd's semantics: every given key must match; within a
// key any value may match.
#pragma once

#include <map>
#include <set>
#include <string>

#include "common/docker_filters.h"
#include "ipc/events.h"

namespace berth::api {

class EventFilter {
 public:
  // Parses Docker's filters JSON ({"type":{"container":true}} or {"type":["container"]}).
  // Throws an invalid Error naming an unknown filter or a malformed document.
  static EventFilter parse(const std::string& json);

  bool matches(const ipc::EngineEvent& event) const;

 private:
  DockerFilters filters_;
};

}  // namespace berth::api
