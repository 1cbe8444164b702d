#include "services/api/volumes_routes.h"

#include <time.h>

#include "common/errors.h"
#include "services/api/query_params.h"
#include "common/json_text.h"

namespace berth::api {

using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

// Docker writes an empty map as null.
json mapOrNull(const std::map<std::string, std::string>& m) { return m.empty() ? json(nullptr) : json(m); }

// A JSON object of strings from a request body's field; absent or null is empty.
std::map<std::string, std::string> stringMap(const json& body, const char* key) {
  std::map<std::string, std::string> out;
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return out;
  if (!it->is_object()) throw Error(ErrorKind::invalid, std::string("invalid JSON: ") + key + " must be an object of strings");
  for (auto kv = it->begin(); kv != it->end(); ++kv) {
    if (!kv->is_string()) throw Error(ErrorKind::invalid, std::string("invalid JSON: ") + key + " must be an object of strings");
    out[kv.key()] = kv->get<std::string>();
  }
  return out;
}

std::string stringField(const json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return "";
  if (!it->is_string()) throw Error(ErrorKind::invalid, std::string("invalid JSON: ") + key + " must be a string");
  return it->get<std::string>();
}

}  // namespace

std::string rfc3339Local(int64_t unixNanos) {
  time_t secs = static_cast<time_t>(unixNanos / 1000000000);
  tm local{};
  localtime_r(&secs, &local);
  char buf[64];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &local);
  std::string out = buf;
  long offset = local.tm_gmtoff;
  if (offset == 0) return out + "Z";
  int minutes = static_cast<int>(std::labs(offset) / 60 % (24 * 60));
  char zone[16];
  std::snprintf(zone, sizeof zone, "%c%02d:%02d", offset < 0 ? '-' : '+', minutes / 60, minutes % 60);
  return out + zone;
}

json volumeJson(const volumes::VolumeInfo& v, bool usage) {
  json j = {{"CreatedAt", rfc3339Local(v.createdAtNano)},
            {"Driver", v.driver},
            {"Labels", mapOrNull(v.labels)},
            {"Mountpoint", v.mountpoint},
            {"Name", v.name},
            {"Options", mapOrNull(v.options)},
            {"Scope", "local"}};
  if (usage) j["UsageData"] = {{"RefCount", v.users.size()}, {"Size", v.sizeBytes}};
  return j;
}

void VolumesRoutes::registerOn(Router& router) {
  auto bind = [this](void (VolumesRoutes::*fn)(http::Request&, http::ResponseWriter&)) {
    return [this, fn](http::Request& req, http::ResponseWriter& out) { (this->*fn)(req, out); };
  };
  router.add("GET", "/volumes", bind(&VolumesRoutes::list));
  router.add("POST", "/volumes/create", bind(&VolumesRoutes::create));
  router.add("POST", "/volumes/prune", bind(&VolumesRoutes::prune));
  router.add("GET", "/volumes/{name}", bind(&VolumesRoutes::inspect));
  router.add("DELETE", "/volumes/{name}", bind(&VolumesRoutes::remove));
}

namespace {

// volumeJson(v).dump() written straight as text, keys in the same (sorted) order: building a
// JSON object per volume and freeing it again was most of a listing of 1,000 volumes (malloc
// and free about 40 % of berth-api's samples).
void appendVolumeText(std::string& out, const volumes::VolumeInfo& v) {
  auto string = [&](const std::string& text) {
    // ASCII escaped here as nlohmann's dump does (its short escapes, \u00xx for other control
    // characters); anything else, rare in volume names and labels, through dump itself.
    for (unsigned char c : text) {
      if (c >= 0x80) {
        out += json(text).dump();
        return;
      }
    }
    out += '"';
    for (unsigned char c : text) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\b': out += "\\b"; break;
        case '\t': out += "\\t"; break;
        case '\n': out += "\\n"; break;
        case '\f': out += "\\f"; break;
        case '\r': out += "\\r"; break;
        default:
          if (c < 0x20) {
            static const char* hex = "0123456789abcdef";
            out += "\\u00";
            out += hex[c >> 4];
            out += hex[c & 15];
          } else {
            out += static_cast<char>(c);
          }
      }
    }
    out += '"';
  };
  auto map = [&](const std::map<std::string, std::string>& m) {
    if (m.empty()) {
      out += "null";
      return;
    }
    out += '{';
    bool first = true;
    for (const auto& [key, value] : m) {
      if (!first) out += ',';
      first = false;
      string(key);
      out += ':';
      string(value);
    }
    out += '}';
  };
  out += "{\"CreatedAt\":";
  string(rfc3339Local(v.createdAtNano));
  out += ",\"Driver\":";
  string(v.driver);
  out += ",\"Labels\":";
  map(v.labels);
  out += ",\"Mountpoint\":";
  string(v.mountpoint);
  out += ",\"Name\":";
  string(v.name);
  out += ",\"Options\":";
  map(v.options);
  out += ",\"Scope\":\"local\"}";
}

}  // namespace

namespace {

template <typename Volumes, typename Entry>
std::string listText(const Volumes& all, Entry entry) {
  std::string text = "{\"Volumes\":[";
  text.reserve(all.size() * 256 + 32);
  for (size_t i = 0; i < all.size(); ++i) {
    if (i > 0) text += ',';
    appendVolumeText(text, entry(all[i]));
  }
  text += "],\"Warnings\":null}";
  return text;
}

}  // namespace

std::string volumesListText(const std::vector<volumes::VolumeInfo>& all) {
  return listText(all, [](const volumes::VolumeInfo& v) -> const volumes::VolumeInfo& { return v; });
}

std::string volumesListText(const std::vector<std::shared_ptr<const volumes::VolumeInfo>>& all) {
  return listText(all, [](const auto& v) -> const volumes::VolumeInfo& { return *v; });
}

void VolumesRoutes::list(http::Request& req, http::ResponseWriter& out) {
  auto filters = filtersParam(req);
  // From the API's copy when it is current, with the service's own filter (volume_filter.h),
  // dangling= too (the copy knows whether a volume is in use); a copy behind goes to the service.
  if (auto held = backends_.volumeViews.list(filters)) {
    out.send(200, "application/json", volumesListText(*held) + "\n");
    return;
  }
  auto all = backends_.volumes.list(filters, false, ipc::deadlineIn(30s));
  out.send(200, "application/json", volumesListText(all) + "\n");
}

void VolumesRoutes::create(http::Request& req, http::ResponseWriter& out) {
  json body = json::object();
  if (!req.body.empty()) {
    body = parseJsonOrDiscarded(req.body);
    if (body.is_discarded() || !body.is_object()) throw Error(ErrorKind::invalid, "invalid JSON: the request body is not a JSON object");
  }
  volumes::VolumeCreate request;
  request.name = stringField(body, "Name");
  request.driver = stringField(body, "Driver");
  request.labels = stringMap(body, "Labels");
  request.options = stringMap(body, "DriverOpts");
  // moby 23+: a volume created without a name is anonymous (labelled so, pruned by default).
  request.anonymous = request.name.empty();
  auto created = backends_.volumes.create(request, ipc::deadlineIn(60s));
  out.json(201, volumeJson(created.volume));
}

void VolumesRoutes::inspect(http::Request& req, http::ResponseWriter& out) {
  const std::string& name = req.params["name"];
  if (auto held = backends_.volumeViews.inspect(name)) {
    out.json(200, volumeJson(*held));
    return;
  }
  out.json(200, volumeJson(backends_.volumes.inspect(name, ipc::deadlineIn(10s))));
}

void VolumesRoutes::remove(http::Request& req, http::ResponseWriter& out) {
  backends_.volumes.remove(req.params["name"], boolParam(req, "force"), ipc::deadlineIn(10min));
  out.send(204, "", "");
}

void VolumesRoutes::prune(http::Request& req, http::ResponseWriter& out) {
  // Before API 1.42 a prune removes every unused volume, named ones too (moby adds all=true).
  bool all = compareApiVersions(req.apiVersion, "1.42") < 0;
  auto pruned = backends_.volumes.prune(filtersParam(req), all, ipc::deadlineIn(30min));
  out.json(200, {{"VolumesDeleted", pruned.removed}, {"SpaceReclaimed", pruned.reclaimedBytes}});
}

}  // namespace berth::api
