// The `filters` of GET /events, with dockerd's semantics: every given key must match; within a
// key any value may match.
#pragma once

#include <map>
#include <set>
#include <string>

#include "ipc/events.h"

namespace berth::api {

class EventFilter {
 public:
  // Parses Docker's filters JSON ({"type":{"container":true}} or {"type":["container"]}).
  // Throws an invalid Error naming an unknown filter or a malformed document.
  static EventFilter parse(const std::string& json);

  bool matches(const ipc::EngineEvent& event) const;

 private:
  bool exact(const std::string& key, const std::string& value) const;
  std::map<std::string, std::set<std::string>> values_;
};

}  // namespace berth::api
