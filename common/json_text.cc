#include "common/json_text.h"

#include "common/errors.h"

namespace berth {

bool nestsTooDeep(std::string_view text, int maxDepth) {
  int depth = 0;
  bool inString = false, escaped = false;
  for (char c : text) {
    if (inString) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') inString = false;
      continue;
    }
    switch (c) {
      case '"': inString = true; break;
      case '[':
      case '{':
        if (++depth > maxDepth) return true;
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default: break;
    }
  }
  return false;
}

nlohmann::json parseJson(std::string_view text) {
  if (nestsTooDeep(text)) {
    throw Error(ErrorKind::invalid, "invalid JSON: nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  }
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    // parse_error for malformed text; out_of_range for a number no double holds ("1e400").
    throw Error(ErrorKind::invalid, std::string("invalid JSON: ") + e.what());
  }
}

nlohmann::json parseJsonOrDiscarded(std::string_view text) {
  if (nestsTooDeep(text)) return nlohmann::json(nlohmann::json::value_t::discarded);
  return nlohmann::json::parse(text, nullptr, false);
}

std::map<std::string, std::string> stringEntries(const nlohmann::json& object) {
  std::map<std::string, std::string> out;
  if (!object.is_object()) return out;
  for (auto it = object.begin(); it != object.end(); ++it) {
    if (it->is_string()) out.emplace(it.key(), it->get<std::string>());
  }
  return out;
}

}  // namespace berth
