#include "services/api/images_routes.h"

#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <set>

#include "common/errors.h"
#include "common/time_format.h"
#include "ipc/methods.h"
#include "services/api/event_filter.h"
#include "services/api/query_params.h"

namespace berth::api {

using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr size_t kChunk = 1 << 20;

std::vector<std::string> texts(capnp::List<capnp::Text>::Reader list) {
  std::vector<std::string> out;
  for (auto t : list) out.emplace_back(t);
  return out;
}

json configOf(ipc::ImageInfo::Reader info) {
  auto bytes = info.getConfig();
  auto j = json::parse(std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size()), nullptr, false);
  return j.is_object() ? j : json::object();
}

std::string rfc3339(int64_t nanos) { return nanos == 0 ? "0001-01-01T00:00:00Z" : rfc3339Nano(nanos); }

// Docker's image filters for GET /images/json.
struct ImageFilter {
  std::map<std::string, std::set<std::string>> values;

  // The keys dockerd accepts for GET /images/json and for POST /images/prune.
  static const std::set<std::string>& listKeys() {
    static const std::set<std::string> keys = {"dangling", "label", "before", "since", "reference"};
    return keys;
  }
  static const std::set<std::string>& pruneKeys() {
    static const std::set<std::string> keys = {"dangling", "label", "label!", "until"};
    return keys;
  }

  static ImageFilter parse(const std::string& text, const std::set<std::string>& keys = listKeys()) {
    ImageFilter f;
    if (text.empty()) return f;
    auto doc = json::parse(text, nullptr, false);
    if (!doc.is_object()) throw Error(ErrorKind::invalid, "invalid filter: " + text);
    for (auto it = doc.begin(); it != doc.end(); ++it) {
      if (!keys.count(it.key())) throw Error(ErrorKind::invalid, "invalid filter '" + it.key() + "'");
      auto& set = f.values[it.key()];
      if (it->is_object()) {
        for (auto v = it->begin(); v != it->end(); ++v) set.insert(v.key());
      } else if (it->is_array()) {
        for (const auto& v : *it) set.insert(v.get<std::string>());
      }
    }
    if (f.values.count("dangling")) {
      for (const auto& v : f.values["dangling"]) {
        if (v != "true" && v != "false" && v != "1" && v != "0") {
          throw Error(ErrorKind::invalid, "invalid filter 'dangling=" + v + "'");
        }
      }
    }
    return f;
  }
};

// Shell-style match of a reference against a pattern with '*' (docker's reference filter uses
// path.Match); enough for "name", "name:tag", "name:*", "*/app".
bool globMatch(const std::string& pattern, const std::string& text) {
  size_t p = 0, t = 0, star = std::string::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == text[t] || pattern[p] == '?') && pattern[p] != '*') {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (star != std::string::npos && text[mark] != '/') {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace

std::pair<std::string, std::string> registryAuth(const std::string& header) {
  if (header.empty()) return {};
  std::string b64 = header;
  for (auto& c : b64) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  while (b64.size() % 4) b64 += '=';
  std::string raw(b64.size(), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(raw.data()), reinterpret_cast<const unsigned char*>(b64.data()),
                          static_cast<int>(b64.size()));
  if (n < 0) throw Error(ErrorKind::invalid, "invalid X-Registry-Auth header");
  raw.resize(static_cast<size_t>(n));
  while (!raw.empty() && raw.back() == '\0') raw.pop_back();
  auto j = json::parse(raw, nullptr, false);
  if (!j.is_object()) throw Error(ErrorKind::invalid, "invalid X-Registry-Auth header");
  return {j.value("username", ""), j.value("password", "")};
}

int64_t parseRfc3339(const std::string& text) { return parseRfc3339Nanos(text) / 1000000000; }

void ImagesRoutes::registerOn(Router& router) {
  auto bind = [this](void (ImagesRoutes::*fn)(http::Request&, http::ResponseWriter&)) {
    return [this, fn](http::Request& req, http::ResponseWriter& out) { (this->*fn)(req, out); };
  };
  router.add("POST", "/images/load", bind(&ImagesRoutes::load), true);
  router.add("POST", "/images/create", bind(&ImagesRoutes::create), true);
  router.add("GET", "/images/get", bind(&ImagesRoutes::save));
  router.add("GET", "/images/json", bind(&ImagesRoutes::list));
  router.add("POST", "/images/prune", bind(&ImagesRoutes::prune));
  router.add("GET", "/images/{name*}/get", bind(&ImagesRoutes::save));
  router.add("GET", "/images/{name*}/json", bind(&ImagesRoutes::inspect));
  router.add("GET", "/images/{name*}/history", bind(&ImagesRoutes::history));
  router.add("POST", "/images/{name*}/tag", bind(&ImagesRoutes::tag));
  router.add("DELETE", "/images/{name*}", bind(&ImagesRoutes::remove));
  router.add("POST", "/images/{name*}/push", bind(&ImagesRoutes::push));
  router.add("POST", "/auth", bind(&ImagesRoutes::auth));
}

// Streams the request body into a new upload in the images service; returns its id.
std::string ImagesRoutes::upload(http::Request& req) {
  auto& images = backends_.images;
  auto begin = images.call(ipc::methods::imagesUploadBegin(), ipc::deadlineIn(5s));
  std::string upload = begin.get().getUpload();
  try {
    std::vector<char> buf(kChunk);
    while (size_t n = req.readBody(buf.data(), buf.size())) {
      images.call(ipc::methods::imagesUploadWrite(), ipc::deadlineIn(60s), [&](ipc::Images::UploadWriteParams::Builder p) {
        p.setUpload(upload);
        p.setData(kj::arrayPtr(reinterpret_cast<const kj::byte*>(buf.data()), n));
      });
    }
  } catch (...) {
    try {
      images.call(ipc::methods::imagesUploadDiscard(), ipc::deadlineIn(5s),
                  [&](ipc::Images::UploadDiscardParams::Builder p) { p.setUpload(upload); });
    } catch (const std::exception& e) {
      spdlog::warn("discarding upload {}: {}", upload, e.what());
    }
    throw;
  }
  return upload;
}

void ImagesRoutes::load(http::Request& req, http::ResponseWriter& out) {
  std::string id = upload(req);
  auto reply = backends_.images.call(ipc::methods::imagesLoad(), ipc::deadlineIn(30min),
                                     [&](ipc::Images::LoadParams::Builder p) { p.setUpload(id); });
  std::string body;
  if (!boolParam(req, "quiet")) {
    // What a terminal shows: each extracted layer as a finished progress bar, as dockerd does.
    for (auto layer : reply.get().getLayers()) {
      std::string id = std::string(layer.getDiffId()).substr(7, 12);
      auto bytes = static_cast<int64_t>(layer.getBytes());
      body += json{{"status", "Loading layer"},
                   {"progressDetail", {{"current", bytes}, {"total", bytes}}},
                   {"id", id}}.dump() + "\n";
    }
  }
  for (auto line : reply.get().getLines()) body += json{{"stream", std::string(line) + "\n"}}.dump() + "\n";
  out.send(200, "application/json", body);
}

// POST /images/create: `docker import` (fromSrc=-, the body is a rootfs tarball) or
// `docker pull` (fromImage, tag).
void ImagesRoutes::create(http::Request& req, http::ResponseWriter& out) {
  auto fromSrc = req.queryValue("fromSrc");
  if (!fromSrc) {
    pull(req, out);
    return;
  }
  if (*fromSrc != "-") throw Error(ErrorKind::invalid, "importing from a URL is not supported; pipe the file to docker import");
  std::string repo = req.queryValue("repo").value_or("");
  std::string tag = req.queryValue("tag").value_or("");
  std::string reference = repo.empty() ? "" : (tag.empty() ? repo : repo + ":" + tag);
  std::vector<std::string> changes;
  for (const auto& [k, v] : req.query) {
    if (k == "changes") changes.push_back(v);
  }
  std::string id = upload(req);
  auto reply = backends_.images.call(ipc::methods::imagesImport(), ipc::deadlineIn(30min),
                                     [&](ipc::Images::ImportParams::Builder p) {
                                       p.setUpload(id);
                                       p.setReference(reference);
                                       p.setMessage(req.queryValue("message").value_or(""));
                                       auto list = p.initChanges(static_cast<unsigned>(changes.size()));
                                       for (size_t i = 0; i < changes.size(); ++i) list.set(static_cast<unsigned>(i), changes[i]);
                                     });
  out.send(200, "application/json", json{{"status", std::string(reply.get().getId())}}.dump() + "\n");
}

namespace {

// Relays a pull or push's progress lines as they come, in dockerd's JSON progress stream. An
// error before any line is the response's status; after that it is the stream's last line.
void streamOperation(ipc::RpcClient& images, const std::string& operation, http::ResponseWriter& out) {
  uint32_t from = 0;
  for (;;) {
    try {
      auto chunk = images.call(ipc::methods::imagesProgress(), ipc::deadlineIn(10s),
                               [&](ipc::Images::ProgressParams::Builder p) {
                                 p.setOperation(operation);
                                 p.setFrom(from);
                                 p.setWaitMs(1000);
                               });
      auto lines = chunk.get().getLines();
      if (!out.started() && (lines.size() > 0 || chunk.get().getDone())) out.startStream(200, "application/json");
      for (auto line : lines) {
        if (!out.writeChunk(std::string(line) + "\r\n")) return;
      }
      from += lines.size();
      if (chunk.get().getDone() && lines.size() == 0) {
        out.endStream();
        return;
      }
      if (out.clientGone()) return;
    } catch (const Error& e) {
      if (!out.started()) throw;
      out.writeChunk(json{{"errorDetail", {{"message", e.what()}}}, {"error", e.what()}}.dump() + "\r\n");
      out.endStream();
      return;
    }
  }
}

}  // namespace

void ImagesRoutes::pull(http::Request& req, http::ResponseWriter& out) {
  std::string image = req.queryValue("fromImage").value_or("");
  std::string tag = req.queryValue("tag").value_or("");
  if (image.empty()) throw Error(ErrorKind::invalid, "fromImage or fromSrc is required");
  std::string reference = image;
  if (!tag.empty()) reference += (tag.rfind("sha256:", 0) == 0 ? "@" : ":") + tag;
  auto [user, password] = registryAuth(req.header("x-registry-auth"));
  auto reply = backends_.images.call(ipc::methods::imagesPull(), ipc::deadlineIn(30s), [&](ipc::Images::PullParams::Builder p) {
    p.setReference(reference);
    p.initAuth().setUsername(user);
    p.getAuth().setPassword(password);
  });
  streamOperation(backends_.images, reply.get().getOperation(), out);
}

void ImagesRoutes::push(http::Request& req, http::ResponseWriter& out) {
  std::string reference = req.params["name"];
  std::string tag = req.queryValue("tag").value_or("");
  if (!tag.empty()) reference += ":" + tag;
  auto [user, password] = registryAuth(req.header("x-registry-auth"));
  auto reply = backends_.images.call(ipc::methods::imagesPush(), ipc::deadlineIn(30s), [&](ipc::Images::PushParams::Builder p) {
    p.setReference(reference);
    p.initAuth().setUsername(user);
    p.getAuth().setPassword(password);
  });
  streamOperation(backends_.images, reply.get().getOperation(), out);
}

void ImagesRoutes::auth(http::Request& req, http::ResponseWriter& out) {
  auto j = json::parse(req.body, nullptr, false);
  if (!j.is_object()) throw Error(ErrorKind::invalid, "invalid JSON body");
  std::string host = j.value("serveraddress", "");
  for (std::string scheme : {"https://", "http://"}) {
    if (host.rfind(scheme, 0) == 0) host = host.substr(scheme.size());
  }
  host = host.substr(0, host.find('/'));
  if (host.empty() || host == "index.docker.io" || host == "docker.io") {
    throw Error(ErrorKind::invalid, "logging in to Docker Hub is not supported here; name a registry host");
  }
  backends_.images.call(ipc::methods::imagesLogin(), ipc::deadlineIn(60s), [&](ipc::Images::LoginParams::Builder p) {
    p.setHost(host);
    p.initAuth().setUsername(j.value("username", ""));
    p.getAuth().setPassword(j.value("password", ""));
  });
  out.json(200, {{"Status", "Login Succeeded"}, {"IdentityToken", ""}});
}

void ImagesRoutes::streamSave(const std::vector<std::string>& refs, http::ResponseWriter& out) {
  auto& images = backends_.images;
  auto begin = images.call(ipc::methods::imagesSaveBegin(), ipc::deadlineIn(30min),
                           [&](ipc::Images::SaveBeginParams::Builder p) {
                             auto list = p.initRefs(static_cast<unsigned>(refs.size()));
                             for (size_t i = 0; i < refs.size(); ++i) list.set(static_cast<unsigned>(i), refs[i]);
                           });
  streamDownload(images, begin.get().getDownload(), begin.get().getSize(), out);
}

void streamDownload(ipc::RpcClient& images, const std::string& download, uint64_t size, http::ResponseWriter& out) {
  struct Close {
    ipc::RpcClient& images;
    std::string id;
    ~Close() {
      try {
        images.call(ipc::methods::imagesDownloadClose(), ipc::deadlineIn(5s),
                    [&](ipc::Images::DownloadCloseParams::Builder p) { p.setDownload(id); });
      } catch (const std::exception& e) {
        spdlog::warn("closing download {}: {}", id, e.what());
      }
    }
  } close{images, download};
  out.startStream(200, "application/x-tar");
  for (uint64_t offset = 0; offset < size;) {
    auto chunk = images.call(ipc::methods::imagesDownloadRead(), ipc::deadlineIn(60s),
                             [&](ipc::Images::DownloadReadParams::Builder p) {
                               p.setDownload(download);
                               p.setOffset(offset);
                               p.setMaxBytes(kChunk);
                             });
    auto data = chunk.get().getData();
    if (data.size() == 0) break;
    if (!out.writeChunk(std::string_view(reinterpret_cast<const char*>(data.begin()), data.size()))) return;
    offset += data.size();
  }
  out.endStream();
}

void ImagesRoutes::save(http::Request& req, http::ResponseWriter& out) {
  std::vector<std::string> refs;
  if (req.params.count("name")) {
    refs.push_back(req.params["name"]);
  } else {
    for (const auto& [k, v] : req.query) {
      if (k == "names") refs.push_back(v);
    }
  }
  if (refs.empty()) throw Error(ErrorKind::invalid, "no images named");
  streamSave(refs, out);
}

void ImagesRoutes::list(http::Request& req, http::ResponseWriter& out) {
  auto filter = ImageFilter::parse(req.queryValue("filters").value_or(""));
  auto reply = backends_.images.callIdempotent(ipc::methods::imagesList(), ipc::deadlineIn(10s));
  auto images = reply.get().getImages();

  auto created = [](ipc::ImageInfo::Reader i) { return parseRfc3339(configOf(i).value("created", "")); };
  auto resolveTime = [&](const std::string& key) -> std::optional<int64_t> {
    auto it = filter.values.find(key);
    if (it == filter.values.end() || it->second.empty()) return std::nullopt;
    const std::string& ref = *it->second.begin();
    for (auto i : images) {
      auto tags = texts(i.getRepoTags());
      std::string id = i.getId();
      if (id == ref || id.substr(7).rfind(ref, 0) == 0 || std::find(tags.begin(), tags.end(), ref) != tags.end() ||
          std::find(tags.begin(), tags.end(), ref + ":latest") != tags.end()) {
        return created(i);
      }
    }
    throw Error(ErrorKind::notFound, "No such image: " + ref);
  };
  auto before = resolveTime("before");
  auto since = resolveTime("since");

  json result = json::array();
  for (auto i : images) {
    auto tags = texts(i.getRepoTags());
    auto config = configOf(i);
    if (auto it = filter.values.find("dangling"); it != filter.values.end() && !it->second.empty()) {
      bool wantDangling = it->second.count("true") || it->second.count("1");
      if (wantDangling != tags.empty()) continue;
    }
    if (auto it = filter.values.find("reference"); it != filter.values.end() && !it->second.empty()) {
      bool hit = false;
      for (const auto& pattern : it->second) {
        for (const auto& t : tags) {
          std::string name = t.substr(0, t.rfind(':'));
          hit = hit || globMatch(pattern, t) || globMatch(pattern, name);
        }
      }
      if (!hit) continue;
    }
    auto labels = config.contains("config") && config["config"].is_object()
                      ? config["config"].value("Labels", json(nullptr))
                      : json(nullptr);
    if (auto it = filter.values.find("label"); it != filter.values.end()) {
      bool all = true;
      for (const auto& want : it->second) {
        auto eq = want.find('=');
        std::string key = want.substr(0, eq);
        bool ok = labels.is_object() && labels.contains(key) &&
                  (eq == std::string::npos || labels[key] == want.substr(eq + 1));
        all = all && ok;
      }
      if (!all) continue;
    }
    int64_t c = created(i);
    if (before && c >= *before) continue;
    if (since && c <= *since) continue;
    json digestsJson = json::array();
    for (auto d : i.getRepoDigests()) digestsJson.push_back(std::string(d));
    result.push_back({{"Containers", -1},
                      {"Created", c},
                      {"Id", std::string(i.getId())},
                      {"Labels", labels},
                      {"ParentId", ""},
                      {"RepoDigests", digestsJson},
                      {"RepoTags", tags},
                      {"SharedSize", -1},
                      {"Size", i.getSize()},
                      {"VirtualSize", i.getSize()}});
  }
  std::stable_sort(result.begin(), result.end(),
                   [](const json& a, const json& b) { return a["Created"].get<int64_t>() > b["Created"].get<int64_t>(); });
  out.json(200, result);
}

void ImagesRoutes::inspect(http::Request& req, http::ResponseWriter& out) {
  auto reply = backends_.images.callIdempotent(ipc::methods::imagesInspect(), ipc::deadlineIn(10s),
                                               [&](ipc::Images::InspectParams::Builder p) { p.setRef(req.params["name"]); });
  auto i = reply.get().getImage();
  auto config = configOf(i);
  auto dirs = texts(i.getLayerDirs());
  json graph = {{"Name", "overlay2"}, {"Data", json::object()}};
  if (!dirs.empty()) {
    std::string lower;
    for (size_t k = dirs.size() - 1; k-- > 0;) lower += (lower.empty() ? "" : ":") + dirs[k];
    std::string top = dirs.back();
    std::string base = top.substr(0, top.rfind('/'));
    graph["Data"] = {{"MergedDir", base + "/merged"}, {"UpperDir", top}, {"WorkDir", base + "/work"}};
    if (!lower.empty()) graph["Data"]["LowerDir"] = lower;
  }
  out.json(200, {{"Id", std::string(i.getId())},
                 {"RepoTags", texts(i.getRepoTags())},
                 {"RepoDigests", texts(i.getRepoDigests())},
                 {"Parent", ""},
                 {"Comment", config.value("comment", "")},
                 {"Created", config.value("created", "")},
                 {"Container", config.value("container", "")},
                 {"ContainerConfig", config.value("container_config", json::object())},
                 {"DockerVersion", config.value("docker_version", "")},
                 {"Author", config.value("author", "")},
                 {"Config", config.value("config", json::object())},
                 {"Architecture", config.value("architecture", "")},
                 {"Variant", config.value("variant", "")},
                 {"Os", config.value("os", "")},
                 {"Size", i.getSize()},
                 {"VirtualSize", i.getSize()},
                 {"GraphDriver", graph},
                 {"RootFS", {{"Type", "layers"}, {"Layers", texts(i.getDiffIds())}}},
                 {"Metadata", {{"LastTagTime", rfc3339(i.getLastTagTimeNano())}}}});
}

void ImagesRoutes::history(http::Request& req, http::ResponseWriter& out) {
  auto reply = backends_.images.callIdempotent(ipc::methods::imagesInspect(), ipc::deadlineIn(10s),
                                               [&](ipc::Images::InspectParams::Builder p) { p.setRef(req.params["name"]); });
  auto i = reply.get().getImage();
  auto config = configOf(i);
  auto sizes = i.getLayerSizes();
  json entries = json::array();
  size_t layer = 0;
  for (const auto& h : config.value("history", json::array())) {
    bool empty = h.value("empty_layer", false);
    int64_t size = 0;
    if (!empty && layer < sizes.size()) size = sizes[static_cast<unsigned>(layer++)];
    entries.push_back({{"Id", "<missing>"},
                       {"Created", parseRfc3339(h.value("created", ""))},
                       {"CreatedBy", h.value("created_by", "")},
                       {"Tags", nullptr},
                       {"Size", size},
                       {"Comment", h.value("comment", "")}});
  }
  // Layers without history entries (imported images) still show.
  for (; layer < sizes.size(); ++layer) {
    entries.push_back({{"Id", "<missing>"}, {"Created", parseRfc3339(config.value("created", ""))},
                       {"CreatedBy", ""}, {"Tags", nullptr}, {"Size", sizes[static_cast<unsigned>(layer)]},
                       {"Comment", ""}});
  }
  std::reverse(entries.begin(), entries.end());
  if (!entries.empty()) {
    entries[0]["Id"] = std::string(i.getId());
    auto tags = texts(i.getRepoTags());
    entries[0]["Tags"] = tags.empty() ? json(nullptr) : json(tags);
  }
  out.json(200, entries);
}

void ImagesRoutes::tag(http::Request& req, http::ResponseWriter& out) {
  std::string repo = req.queryValue("repo").value_or("");
  std::string tag = req.queryValue("tag").value_or("");
  if (repo.empty()) throw Error(ErrorKind::invalid, "repository name must have at least one component");
  std::string target = tag.empty() ? repo : repo + ":" + tag;
  backends_.images.call(ipc::methods::imagesTag(), ipc::deadlineIn(10s), [&](ipc::Images::TagParams::Builder p) {
    p.setSource(req.params["name"]);
    p.setTarget(target);
  });
  out.send(201, "", "");
}

void ImagesRoutes::remove(http::Request& req, http::ResponseWriter& out) {
  auto reply = backends_.images.call(ipc::methods::imagesRemove(), ipc::deadlineIn(60s),
                                     [&](ipc::Images::RemoveParams::Builder p) {
                                       p.setRef(req.params["name"]);
                                       p.setForce(boolParam(req, "force"));
                                       p.setPrune(!boolParam(req, "noprune"));
                                     });
  json items = json::array();
  for (auto item : reply.get().getItems()) {
    if (item.isUntagged()) items.push_back({{"Untagged", std::string(item.getUntagged())}});
    else items.push_back({{"Deleted", std::string(item.getDeleted())}});
  }
  out.json(200, items);
}

namespace {

// Whether an image's labels satisfy label=k[=v] (every one) and label!=k[=v] (none).
bool labelsMatch(const json& labels, const ImageFilter& filter) {
  auto has = [&](const std::string& want) {
    auto eq = want.find('=');
    std::string key = want.substr(0, eq);
    return labels.is_object() && labels.contains(key) && (eq == std::string::npos || labels[key] == want.substr(eq + 1));
  };
  if (auto it = filter.values.find("label"); it != filter.values.end()) {
    for (const auto& want : it->second) {
      if (!has(want)) return false;
    }
  }
  if (auto it = filter.values.find("label!"); it != filter.values.end()) {
    for (const auto& want : it->second) {
      if (has(want)) return false;
    }
  }
  return true;
}

}  // namespace

void ImagesRoutes::prune(http::Request& req, http::ResponseWriter& out) {
  auto filter = ImageFilter::parse(req.queryValue("filters").value_or(""), ImageFilter::pruneKeys());
  bool all = false;
  if (auto it = filter.values.find("dangling"); it != filter.values.end()) {
    all = it->second.count("false") || it->second.count("0");
  }
  // until: only images created before the time (dockerd compares the image config's created).
  std::optional<int64_t> until;
  if (auto it = filter.values.find("until"); it != filter.values.end()) {
    for (const auto& text : it->second) {
      auto t = parseDockerTime(text, nowUnixNanos());
      if (!t) throw Error(ErrorKind::invalid, "failed to parse value as time or duration: \"" + text + "\"");
      until = until ? std::min(*until, *t) : *t;
    }
  }
  auto reply = backends_.images.callIdempotent(ipc::methods::imagesList(), ipc::deadlineIn(10s));
  json deleted = json::array();
  int64_t reclaimed = 0;
  for (auto i : reply.get().getImages()) {
    if (!all && i.getRepoTags().size() > 0) continue;
    json config = configOf(i);
    auto labels = config.contains("config") ? config["config"].value("Labels", json(nullptr)) : json(nullptr);
    if (!labelsMatch(labels, filter)) continue;
    if (until && parseRfc3339Nanos(config.value("created", "")) > *until) continue;
    std::string id = i.getId();
    int64_t size = i.getSize();
    try {
      auto r = backends_.images.call(ipc::methods::imagesRemove(), ipc::deadlineIn(60s),
                                     [&](ipc::Images::RemoveParams::Builder p) {
                                       p.setRef(id);
                                       p.setForce(true);
                                       p.setPrune(true);
                                     });
      for (auto item : r.get().getItems()) {
        if (item.isUntagged()) deleted.push_back({{"Untagged", std::string(item.getUntagged())}});
        else deleted.push_back({{"Deleted", std::string(item.getDeleted())}});
      }
      reclaimed += size;
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::notFound && e.kind() != ErrorKind::conflict) throw;
    }
  }
  out.json(200, {{"ImagesDeleted", deleted.empty() ? json(nullptr) : deleted}, {"SpaceReclaimed", reclaimed}});
}

}  // namespace berth::api
