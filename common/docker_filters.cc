#include "common/docker_filters.h"

#include <nlohmann/json.hpp>
#include <optional>
#include <regex>

#include "common/errors.h"
#include "common/json_text.h"
#include "common/time_format.h"

namespace berth {

DockerFilters DockerFilters::parse(const std::string& text, const std::set<std::string>& accepted) {
  auto f = parseAnyKeys(text);
  for (const auto& [key, values] : f.values_) {
    if (!accepted.count(key)) throw Error(ErrorKind::invalid, "invalid filter '" + key + "'");
  }
  return f;
}

DockerFilters DockerFilters::parseAnyKeys(const std::string& text) {
  DockerFilters f;
  if (text.empty()) return f;
  auto doc = parseJsonOrDiscarded(text);
  // As moby's filters.FromJSON reads it with Go's encoding/json: `null` is no filter; a key whose
  // value is null is there with no values (each endpoint reads such a key its own way); a null
  // where a value's string or boolean goes leaves Go's zero value (""; the map form keeps its
  // keys whatever the boolean). The whole document is one form: a map of maps of booleans, else
  // the older map of lists of strings.
  if (doc.is_null()) return f;
  if (!doc.is_object()) throw Error(ErrorKind::invalid, "invalid filter: " + text);
  bool maps = true, lists = true;
  for (const auto& [key, value] : doc.items()) {
    if (value.is_object()) {
      for (const auto& v : value) maps = maps && (v.is_boolean() || v.is_null());
      lists = false;
    } else if (value.is_array()) {
      for (const auto& v : value) lists = lists && (v.is_string() || v.is_null());
      maps = false;
    } else if (!value.is_null()) {
      maps = lists = false;
    }
  }
  if (!maps && !lists) throw Error(ErrorKind::invalid, "invalid filter: " + text);
  for (const auto& [key, value] : doc.items()) {
    auto& set = f.values_[key];
    if (value.is_object()) {
      for (const auto& v : value.items()) {
        set.insert(v.key());
        if (!v.value().is_boolean() || !v.value().get<bool>()) f.falses_[key].insert(v.key());
      }
    } else if (value.is_array()) {
      for (const auto& v : value) set.insert(v.is_null() ? "" : v.get<std::string>());
    }
  }
  return f;
}

const std::set<std::string>& DockerFilters::values(const std::string& key) const {
  static const std::set<std::string> none;
  auto it = values_.find(key);
  return it == values_.end() ? none : it->second;
}

bool DockerFilters::exactMatch(const std::string& key, const std::string& source) const {
  const auto& v = values(key);
  if (v.empty()) return true;
  if (!v.count(source)) return false;
  auto it = falses_.find(key);
  return it == falses_.end() || !it->second.count(source);
}

bool DockerFilters::anyEquals(const std::string& key, const std::string& source) const {
  const auto& v = values(key);
  return v.empty() || v.count(source) > 0;
}

bool DockerFilters::match(const std::string& key, const std::string& source) const {
  return FilterPatterns(values(key)).match(source);
}

FilterPatterns::FilterPatterns(const std::set<std::string>& values) : exact_(values) {
  // Go's regexp is linear in the text. std::regex's default executor backtracks, exponentially
  // for a pattern such as ".**x" (minutes on a 45-character name); libstdc++'s breadth-first
  // executor (its __polynomial option) does not, and refuses back-references as Go does. One
  // regex_match of the pattern wrapped to float anywhere is linear in the source, where
  // regex_search would start again at every character.
  const auto polynomial = std::regex::ECMAScript | std::regex_constants::__polynomial;
  for (const auto& pattern : values) {
    if (pattern.find_first_of("\\^$.|?*+()[]{}") == std::string::npos) {
      literal_.push_back(pattern);  // a regular expression of plain characters: itself, anywhere
      continue;
    }
    if (pattern.size() > 256) continue;
    try {
      std::regex(pattern, polynomial);  // the pattern alone must compile, or it is skipped
      floating_.emplace_back("[\\s\\S]*(?:" + pattern + ")[\\s\\S]*", polynomial);
    } catch (const std::regex_error&) {
      // Go skips a pattern that does not compile.
    }
  }
}

bool FilterPatterns::match(const std::string& source) const {
  if (exact_.empty() || exact_.count(source)) return true;
  for (const auto& text : literal_) {
    if (source.find(text) != std::string::npos) return true;
  }
  for (const auto& re : floating_) {
    if (std::regex_match(source, re)) return true;
  }
  return false;
}

bool DockerFilters::matchKeyValues(const std::string& key, const std::map<std::string, std::string>& labels) const {
  const auto& wanted = values(key);
  if (wanted.empty()) return true;
  if (labels.empty()) return false;
  for (const auto& want : wanted) {
    auto eq = want.find('=');
    auto it = labels.find(want.substr(0, eq));
    if (it == labels.end()) return false;
    if (eq != std::string::npos && it->second != want.substr(eq + 1)) return false;
  }
  return true;
}

bool DockerFilters::matchLabels(const std::map<std::string, std::string>& labels) const {
  if (!matchKeyValues("label", labels)) return false;
  return !(contains("label!") && matchKeyValues("label!", labels));
}

std::optional<int64_t> DockerFilters::pruneUntil(int64_t nowNanos) const {
  if (!contains("until")) return std::nullopt;
  const auto& texts = values("until");
  if (texts.empty()) throw Error(ErrorKind::invalid, invalidFilterValue("until", {}));
  if (texts.size() > 1) throw Error(ErrorKind::invalid, "more than one until filter specified");
  const auto& text = *texts.begin();
  auto t = parseDockerTime(text, nowNanos);
  if (!t) throw Error(ErrorKind::invalid, "failed to parse value as time or duration: \"" + text + "\"");
  return t;
}

std::string invalidFilterValue(const std::string& key, const std::set<std::string>& values) {
  std::string list;
  for (const auto& v : values) list += (list.empty() ? "" : " ") + v;
  return "invalid filter '" + key + "=[" + list + "]'";
}

std::optional<bool> parseGoBool(const std::string& text) {
  if (text == "1" || text == "t" || text == "T" || text == "TRUE" || text == "true" || text == "True") return true;
  if (text == "0" || text == "f" || text == "F" || text == "FALSE" || text == "false" || text == "False") return false;
  return std::nullopt;
}

}  // namespace berth
