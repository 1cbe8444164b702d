#include "services/api/router.h"

#include <spdlog/spdlog.h>

#include <regex>

#include "common/errors.h"

namespace berth::api {
namespace {

std::vector<std::string> splitPath(const std::string& path) {
  std::vector<std::string> out;
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    out.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace

int compareApiVersions(const std::string& a, const std::string& b) {
  auto parse = [](const std::string& v) {
    std::vector<int> parts;
    size_t start = 0;
    while (start <= v.size()) {
      size_t dot = v.find('.', start);
      std::string p = v.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      parts.push_back(p.empty() ? 0 : std::atoi(p.c_str()));
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    return parts;
  };
  auto pa = parse(a), pb = parse(b);
  for (size_t i = 0; i < std::max(pa.size(), pb.size()); ++i) {
    int x = i < pa.size() ? pa[i] : 0, y = i < pb.size() ? pb[i] : 0;
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

int httpStatus(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::invalid: return 400;
    case ErrorKind::notFound: return 404;
    case ErrorKind::conflict: return 409;
    case ErrorKind::forbidden: return 403;
    case ErrorKind::unavailable: return 503;
    case ErrorKind::deadlineExceeded: return 504;
    case ErrorKind::tooLarge: return 413;
    case ErrorKind::internal: return 500;
  }
  return 500;
}

void Router::add(const std::string& method, const std::string& pattern, http::Handler handler) {
  routes_.push_back(Route{method, splitPath(pattern), std::move(handler)});
}

void Router::dispatch(http::Request& req, http::ResponseWriter& out) const {
  static const std::regex versioned(R"(^/v([0-9]+(?:\.[0-9]+)*)(/.*)$)");
  std::smatch m;
  std::string path = req.path;
  req.apiVersion = kApiVersion;
  if (std::regex_match(path, m, versioned)) {
    std::string version = m[1];
    path = m[2];
    if (compareApiVersions(version, kApiVersion) > 0) {
      out.error(400, "client version " + version + " is too new. Maximum supported API version is " + kApiVersion);
      return;
    }
    if (compareApiVersions(version, kMinApiVersion) < 0) {
      out.error(400, "client version " + version + " is too old. Minimum supported API version is " +
                         kMinApiVersion + ", please upgrade your client to a newer version");
      return;
    }
    req.apiVersion = version;
  }
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  auto segments = splitPath(path);
  for (const auto& route : routes_) {
    if (route.method != req.method || route.segments.size() != segments.size()) continue;
    std::map<std::string, std::string> params;
    bool match = true;
    for (size_t i = 0; i < segments.size() && match; ++i) {
      const auto& s = route.segments[i];
      if (s.size() > 2 && s.front() == '{' && s.back() == '}') {
        if (segments[i].empty()) match = false;
        else params[s.substr(1, s.size() - 2)] = segments[i];
      } else {
        match = s == segments[i];
      }
    }
    if (!match) continue;
    req.params = std::move(params);
    try {
      route.handler(req, out);
    } catch (const Error& e) {
      if (out.started()) throw;
      int status = httpStatus(e.kind());
      if (status >= 500) spdlog::warn("{} {}: {}", req.method, req.path, e.what());
      out.error(status, e.what());
    }
    return;
  }
  // dockerd answers unknown paths and known paths with the wrong method alike.
  out.error(404, "page not found");
}

}  // namespace berth::api
