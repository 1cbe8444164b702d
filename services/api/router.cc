#include "services/api/router.h"

#include <kj/exception.h>
#include <spdlog/spdlog.h>


#include "common/errors.h"
#include "common/json_text.h"

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
    case ErrorKind::unauthorized: return 401;
  }
  return 500;
}

void Router::add(const std::string& method, const std::string& pattern, http::Handler handler, bool streamBody) {
  auto segments = splitPath(pattern);
  size_t greedy = segments.size();
  for (size_t i = 0; i < segments.size(); ++i) {
    if (segments[i].size() > 3 && segments[i].front() == '{' && segments[i].ends_with("*}")) greedy = i;
  }
  routes_.push_back(Route{method, std::move(segments), std::move(handler), streamBody, greedy});
}

namespace {

// Strips "/vX.Y" into `version`; returns the rest of the path. Parsed by hand: no regex runs
// on a path a client chose.
std::string stripVersion(const std::string& path, std::string& version) {
  version.clear();
  if (path.size() < 3 || path[0] != '/' || path[1] != 'v') return path;
  size_t i = 2;
  while (i < path.size() && (std::isdigit(static_cast<unsigned char>(path[i])) || path[i] == '.')) ++i;
  if (i == 2 || i >= path.size() || path[i] != '/' || !std::isdigit(static_cast<unsigned char>(path[2])) ||
      path[i - 1] == '.' || path.find("..", 2) < i) {
    return path;
  }
  version = path.substr(2, i - 2);
  return path.substr(i);
}

bool isParam(const std::string& s) { return s.size() > 2 && s.front() == '{' && s.back() == '}'; }

}  // namespace

const Router::Route* Router::match(const std::string& method, const std::string& rawPath,
                                   std::map<std::string, std::string>& params) const {
  std::string path = rawPath;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  auto segments = splitPath(path);
  for (const auto& route : routes_) {
    if (route.method != method) continue;
    const auto& rs = route.segments;
    size_t greedy = route.greedy;
    if (greedy == rs.size() ? segments.size() != rs.size() : segments.size() < rs.size()) continue;
    std::map<std::string, std::string> found;
    bool ok = true;
    // Segments before the greedy one align from the front, those after it from the back.
    for (size_t i = 0; i < rs.size() && ok; ++i) {
      if (i == greedy) continue;
      size_t j = i < greedy ? i : segments.size() - (rs.size() - i);
      if (isParam(rs[i])) {
        if (segments[j].empty()) ok = false;
        else found[rs[i].substr(1, rs[i].size() - 2)] = segments[j];
      } else {
        ok = rs[i] == segments[j];
      }
    }
    if (!ok) continue;
    if (greedy != rs.size()) {
      size_t from = greedy, to = segments.size() - (rs.size() - greedy - 1);
      std::string joined;
      for (size_t j = from; j < to; ++j) joined += (j == from ? "" : "/") + segments[j];
      if (joined.empty()) continue;
      found[rs[greedy].substr(1, rs[greedy].size() - 3)] = joined;
    }
    params = std::move(found);
    return &route;
  }
  return nullptr;
}

bool Router::streamsBody(http::Request& req) const {
  std::string version;
  const Route* r = match(req.method, stripVersion(req.path, version), req.params);
  if (!r) return false;
  req.routeIndex = static_cast<size_t>(r - routes_.data());
  return r->streamBody;
}

void Router::dispatch(http::Request& req, http::ResponseWriter& out) const {
  std::string version;
  std::string path = stripVersion(req.path, version);
  req.apiVersion = kApiVersion;
  if (!version.empty()) {
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
  const Route* route = req.routeIndex && *req.routeIndex < routes_.size() ? &routes_[*req.routeIndex]
                                                                          : match(req.method, path, req.params);
  if (!route) {
    // dockerd answers unknown paths and known paths with the wrong method alike.
    out.error(404, "page not found");
    return;
  }
  // A buffered body is JSON wherever Docker's API takes one: one nesting deeper than any JSON
  // berth reads is refused here, whatever the route, before anything copies it.
  if (!route->streamBody && nestsTooDeep(req.body)) {
    out.error(400, "invalid JSON: nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    return;
  }
  try {
    route->handler(req, out);
  } catch (const Error& e) {
    if (out.started()) throw;
    int status = httpStatus(e.kind());
    if (status >= 500) spdlog::warn("{} {}: {}", req.method, req.path, e.what());
    out.error(status, e.what());
  } catch (const kj::Exception& e) {
    // Cap'n Proto's error (no std::exception) from a malformed reply read in a handler: a 500,
    // not the end of the API process.
    if (out.started()) throw std::runtime_error(e.getDescription().cStr());
    spdlog::error("{} {}: malformed reply from a service: {}", req.method, req.path, e.getDescription().cStr());
    out.error(500, std::string("malformed reply from a service: ") + e.getDescription().cStr());
  } catch (const nlohmann::json::type_error& e) {
    // A value of the wrong JSON type where the API expects another (a string for a bool, an
    // object for a list): the client's mistake, 400 as moby 23+ answers, not a server error.
    if (out.started()) throw;
    out.error(400, std::string("invalid JSON: ") + e.what());
  }
}

}  // namespace berth::api
