#include "services/api/query_params.h"

#include <stdexcept>

#include "common/errors.h"
#include "common/time_format.h"

namespace berth::api {

bool boolParam(const http::Request& req, const std::string& name, bool fallback) {
  auto v = req.queryValue(name);
  if (!v || v->empty()) return fallback;
  return *v == "1" || *v == "true" || *v == "True";
}

int intParam(const http::Request& req, const std::string& name, int fallback) {
  auto v = req.queryValue(name);
  if (!v || v->empty()) return fallback;
  try {
    size_t used = 0;
    int n = std::stoi(*v, &used);
    if (used != v->size()) throw std::invalid_argument(*v);
    return n;
  } catch (const std::exception&) {
    throw Error(ErrorKind::invalid, "invalid value for " + name + ": " + *v);
  }
}

std::string filtersParam(const http::Request& req) {
  auto v = req.queryValue("filters");
  if (!v) return "";
  constexpr const char* kJsonSpace = " \t\n\r";
  auto first = v->find_first_not_of(kJsonSpace);
  if (first == std::string::npos) return *v;  // "" (no filter) or only whitespace (refused)
  auto last = v->find_last_not_of(kJsonSpace);
  if (v->compare(first, last - first + 1, "null") == 0) return "";
  return *v;
}

int64_t parseTimestamp(const std::string& name, const std::string& value) {
  auto t = parseDockerTime(value, nowUnixNanos());
  if (!t) throw Error(ErrorKind::invalid, "invalid value for " + name + ": " + value);
  return *t;
}

int64_t timeParam(const http::Request& req, const std::string& name) {
  auto v = req.queryValue(name);
  if (!v || v->empty() || *v == "0") return 0;
  return parseTimestamp(name, *v);
}

}  // namespace berth::api
