// Docker's filters (the `filters` query parameter, JSON) as moby's filters.Args reads and
// matches them, for the list and prune endpoints of volumes and networks: parsed with the keys an endpoint accepts
// ("invalid filter 'x'" for any other), then ExactMatch, Match (exact, else an unanchored
// regular expression) and MatchKVList (label=key[=value], every one must hold).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace berth {

// The values of one key, compiled once for matching many sources as moby's Match does: a value
// equal to the source, else one that, as a regular expression, is found in it (a value that is
// not a valid expression only matches exactly, as Go skips it). A value without a regular
// expression's special characters (a project or volume name: the usual case) is found by a plain
// substring search, which is what its expression would match, at a fraction of std::regex's cost.
class FilterPatterns {
 public:
  explicit FilterPatterns(const std::set<std::string>& values);
  bool empty() const { return exact_.empty(); }
  // True when there is no value, or one matches `source`.
  bool match(const std::string& source) const;

 private:
  std::set<std::string> exact_;
  std::vector<std::string> literal_;  // patterns that are plain text
  std::vector<std::regex> floating_;  // the others, each wrapped to be found anywhere
};

class DockerFilters {
 public:
  // Both of Docker's forms: {"key":{"value":true}} and the older {"key":["value"]}, one per
  // document. Empty text and `null` are no filter; {"key":null} has the key with no values.
  // Throws invalid.
  static DockerFilters parse(const std::string& json, const std::set<std::string>& accepted);
  // The same reading with every key taken, for an endpoint dockerd does not validate (/events).
  static DockerFilters parseAnyKeys(const std::string& json);

  bool contains(const std::string& key) const { return values_.count(key) > 0; }
  // The key is there with no value ({"key":null}, {"key":[]}, {"key":{}}).
  bool containsNoValue(const std::string& key) const { return contains(key) && values(key).empty(); }
  const std::map<std::string, std::set<std::string>>& all() const { return values_; }
  // The values of `key` (empty when absent).
  const std::set<std::string>& values(const std::string& key) const;
  void add(const std::string& key, const std::string& value) {
    values_[key].insert(value);
    if (auto it = falses_.find(key); it != falses_.end()) it->second.erase(value);
  }

  // True when `key` has no values or one of them is `source`, as Go's ExactMatch: a value the map
  // form gave `false` (or null, Go's zero) is one of the key's values, which the other matches
  // and values() count, but matches nothing exactly.
  bool exactMatch(const std::string& key, const std::string& source) const;
  // True when `key` has no values or `source` is one of them, whatever the map form's boolean:
  // the filters moby reads by walking Get (a volume's driver, a network's type) or with Match
  // over values that are plain words (a container's status).
  bool anyEquals(const std::string& key, const std::string& source) const;
  // exactMatch, else any value that is a regular expression found in `source`.
  bool match(const std::string& key, const std::string& source) const;
  // True when `key` has no values; otherwise every value "k" or "k=v" holds in `labels`.
  bool matchKeyValues(const std::string& key, const std::map<std::string, std::string>& labels) const;

  // What every prune asks of an object's labels, as moby's matchLabels: each label=k[=v] holds,
  // and not every label!=k[=v] does (so label! with no value excludes everything: MatchKVList
  // holds for a key without values).
  bool matchLabels(const std::map<std::string, std::string>& labels) const;
  // A prune's until= as Unix nanoseconds, nullopt without the key, read as moby's
  // getUntilFromPruneFilters. Throws invalid, with dockerd's messages, for more than one value
  // and for one that is neither a time nor a duration (dockerd 20.10 answers both with a 500),
  // and for the key with no value (dockerd fails on it; berth refuses rather than prune without
  // a limit).
  std::optional<int64_t> pruneUntil(int64_t nowNanos) const;

 private:
  std::map<std::string, std::set<std::string>> values_;
  std::map<std::string, std::set<std::string>> falses_;  // the map form's values given false or null
};

// moby's invalidFilter text for a key with values: "invalid filter 'key=[a b]'".
std::string invalidFilterValue(const std::string& key, const std::set<std::string>& values);

// Go's strconv.ParseBool; nullopt for anything else.
std::optional<bool> parseGoBool(const std::string& text);

}  // namespace berth
