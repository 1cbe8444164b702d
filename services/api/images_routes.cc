#include "services/api/images_routes.h"

#include <nettle/base64.h>
#include <strings.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <cstring>
#include <set>

#include "common/docker_filters.h"
#include "common/errors.h"
#include "common/time_format.h"
#include "services/api/event_filter.h"
#include "services/api/query_params.h"
#include "common/json_text.h"

namespace berth::api {

using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr size_t kChunk = 1 << 20;

json configOf(const images::ImageInfo& info) {
  auto j = parseJsonOrDiscarded(info.configJson);
  return j.is_object() ? j : json::object();
}

std::string rfc3339(int64_t nanos) { return nanos == 0 ? "0001-01-01T00:00:00Z" : rfc3339Nano(nanos); }

// One entry of rmi's answer, as dockerd writes it.
json removedItemJson(const images::RemovedItem& item) {
  return item.untagged.empty() ? json{{"Deleted", item.deleted}} : json{{"Untagged", item.untagged}};
}

// The keys dockerd accepts for GET /images/json and for POST /images/prune; both read Docker's
// two forms and refusals as for volumes and networks (DockerFilters).
const std::set<std::string> kImageListFilterKeys = {"dangling", "label", "before", "since", "reference"};
const std::set<std::string> kImagePruneFilterKeys = {"dangling", "label", "label!", "until"};

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
  std::string raw(BASE64_DECODE_LENGTH(b64.size()), '\0');
  base64_decode_ctx ctx;
  base64_decode_init(&ctx);
  size_t n = raw.size();
  if (base64_decode_update(&ctx, &n, reinterpret_cast<uint8_t*>(raw.data()), b64.size(), b64.data()) != 1 ||
      base64_decode_final(&ctx) != 1) {
    return {};
  }
  raw.resize(n);
  auto j = parseJsonOrDiscarded(raw);
  if (!j.is_object()) return {};
  auto names = [](const std::string& key, const char* field) {
    return key.size() == std::strlen(field) && ::strncasecmp(key.data(), field, key.size()) == 0;
  };
  std::pair<std::string, std::string> credentials;
  for (const auto& [key, value] : j.items()) {
    std::string* field = names(key, "username")   ? &credentials.first
                         : names(key, "password") ? &credentials.second
                                                  : nullptr;
    if (!field || value.is_null()) continue;
    if (!value.is_string()) return {};  // Go's decode fails: no credentials at all
    *field = value.get<std::string>();
  }
  return credentials;
}

int64_t parseRfc3339(const std::string& text) { return parseRfc3339Nanos(text) / 1000000000; }

namespace {

json labelsOf(const json& config) {
  return config.contains("config") && config["config"].is_object() ? config["config"].value("Labels", json(nullptr))
                                                                   : json(nullptr);
}

}  // namespace

json imageSummaryJson(const images::ImageInfo& i) {
  auto config = configOf(i);
  return imageSummaryJson(i, parseRfc3339(config.value("created", "")), labelsOf(config));
}

json imageSummaryJson(const images::ImageInfo& i, int64_t created, const json& labels) {
  return {{"Containers", -1},
          {"Created", created},
          {"Id", i.id},
          {"Labels", labels},
          {"ParentId", ""},
          {"RepoDigests", json(i.repoDigests)},
          {"RepoTags", i.repoTags},
          {"SharedSize", -1},
          {"Size", i.size},
          {"VirtualSize", i.size}};
}

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

// Streams the request body into a new upload in the images service; returns its id. With
// `loadAhead`, the service loads the archive while it arrives.
std::string ImagesRoutes::upload(http::Request& req, bool loadAhead) {
  auto& images = backends_.images;
  std::string upload = images.uploadBegin(ipc::deadlineIn(5s), loadAhead);
  try {
    std::vector<char> buf(kChunk);
    while (size_t n = req.readBody(buf.data(), buf.size())) {
      images.uploadWrite(upload, std::string_view(buf.data(), n), ipc::deadlineIn(60s));
    }
  } catch (...) {
    try {
      images.uploadDiscard(upload, ipc::deadlineIn(5s));
    } catch (const std::exception& e) {
      spdlog::warn("discarding upload {}: {}", upload, e.what());
    }
    throw;
  }
  return upload;
}

// dockerd answers load and import as a JSON stream (chunked), and a load that fails after the
// archive was sent as that stream's error message, with status 200: clients branch on both (the
// Docker SDK for Python raises its ImageLoadError from the stream's error).
static void sendJsonStream(http::ResponseWriter& out, const std::string& lines) {
  out.startStream(200, "application/json");
  out.writeChunk(lines);
  out.endStream();
}

void ImagesRoutes::load(http::Request& req, http::ResponseWriter& out) {
  std::string id = upload(req, true);
  images::LoadResult loaded;
  try {
    loaded = backends_.images.load(id, ipc::deadlineIn(30min));
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::unavailable || e.kind() == ErrorKind::deadlineExceeded) throw;
    sendJsonStream(out, json{{"errorDetail", {{"message", e.what()}}}, {"error", e.what()}}.dump() + "\n");
    return;
  }
  std::string body;
  if (!boolParam(req, "quiet")) {
    // What a terminal shows: each extracted layer as a finished progress bar, as dockerd does.
    for (const auto& layer : loaded.layers) {
      std::string id = layer.diffId.substr(7, 12);
      auto bytes = static_cast<int64_t>(layer.bytes);
      body += json{{"status", "Loading layer"},
                   {"progressDetail", {{"current", bytes}, {"total", bytes}}},
                   {"id", id}}.dump() + "\n";
    }
  }
  for (const auto& line : loaded.lines) body += json{{"stream", line + "\n"}}.dump() + "\n";
  sendJsonStream(out, body);
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
  std::string imageId =
      backends_.images.importImage(id, reference, req.queryValue("message").value_or(""), changes, ipc::deadlineIn(30min));
  sendJsonStream(out, json{{"status", imageId}}.dump() + "\n");
}

namespace {

// Relays a pull or push's progress lines as they come, in dockerd's JSON progress stream. An
// error before any line is the response's status; after that it is the stream's last line.
void streamOperation(images::ImagesClient& images, const std::string& operation, http::ResponseWriter& out) {
  uint32_t from = 0;
  for (;;) {
    try {
      auto chunk = images.progress(operation, from, 1000, ipc::deadlineIn(10s));
      const auto& lines = chunk.lines;
      if (!out.started() && (!lines.empty() || chunk.done)) out.startStream(200, "application/json");
      for (const auto& line : lines) {
        if (!out.writeChunk(line + "\r\n")) return;
      }
      from += static_cast<uint32_t>(lines.size());
      if (chunk.done && lines.empty()) {
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
  std::string operation = backends_.images.pull(reference, {user, password}, ipc::deadlineIn(30s));
  streamOperation(backends_.images, operation, out);
}

void ImagesRoutes::push(http::Request& req, http::ResponseWriter& out) {
  std::string reference = req.params["name"];
  std::string tag = req.queryValue("tag").value_or("");
  if (!tag.empty()) reference += ":" + tag;
  auto [user, password] = registryAuth(req.header("x-registry-auth"));
  std::string operation = backends_.images.push(reference, {user, password}, ipc::deadlineIn(30s));
  streamOperation(backends_.images, operation, out);
}

void ImagesRoutes::auth(http::Request& req, http::ResponseWriter& out) {
  auto j = parseJsonOrDiscarded(req.body);
  if (!j.is_object()) throw Error(ErrorKind::invalid, "invalid JSON body");
  std::string host = j.value("serveraddress", "");
  for (std::string scheme : {"https://", "http://"}) {
    if (host.rfind(scheme, 0) == 0) host = host.substr(scheme.size());
  }
  host = host.substr(0, host.find('/'));
  if (host.empty() || host == "index.docker.io" || host == "docker.io") {
    throw Error(ErrorKind::invalid, "logging in to Docker Hub is not supported here; name a registry host");
  }
  backends_.images.login(host, {j.value("username", ""), j.value("password", "")}, ipc::deadlineIn(60s));
  out.json(200, {{"Status", "Login Succeeded"}, {"IdentityToken", ""}});
}

void ImagesRoutes::streamSave(const std::vector<std::string>& refs, http::ResponseWriter& out) {
  auto& images = backends_.images;
  streamDownload(images, images.saveBegin(refs, ipc::deadlineIn(30min)), out);
}

void streamDownload(images::ImagesClient& images, const images::Download& download, http::ResponseWriter& out) {
  struct Close {
    images::ImagesClient& images;
    std::string id;
    ~Close() {
      try {
        images.downloadClose(id, ipc::deadlineIn(5s));
      } catch (const std::exception& e) {
        spdlog::warn("closing download {}: {}", id, e.what());
      }
    }
  } close{images, download.id};
  out.startStream(200, "application/x-tar");
  for (uint64_t offset = 0; offset < download.size;) {
    auto chunk = images.downloadRead(download.id, offset, kChunk, ipc::deadlineIn(60s));
    if (chunk.bytes().empty()) break;
    if (!out.writeChunk(chunk.bytes())) return;
    offset += chunk.bytes().size();
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

std::shared_ptr<const ImagesRoutes::ConfigFacts> ImagesRoutes::configFacts(const images::ImageInfo& info) {
  {
    std::lock_guard lock(configFactsMutex_);
    if (auto it = configFacts_.find(info.id); it != configFacts_.end()) return it->second;
  }
  auto config = configOf(info);
  auto facts = std::make_shared<ConfigFacts>();
  facts->created = parseRfc3339(config.value("created", ""));
  facts->labels = labelsOf(config);
  std::lock_guard lock(configFactsMutex_);
  return configFacts_.emplace(info.id, std::move(facts)).first->second;
}

std::shared_ptr<const images::ImageInfo> ImagesRoutes::find(const std::string& name) {
  if (auto image = backends_.imageViews.inspect(name)) return image;
  return std::make_shared<const images::ImageInfo>(backends_.images.inspect(name, ipc::deadlineIn(10s)));
}

std::vector<std::shared_ptr<const images::ImageInfo>> allImages(Backends& backends) {
  if (auto listed = backends.imageViews.list()) return std::move(*listed);
  std::vector<std::shared_ptr<const images::ImageInfo>> out;
  for (auto& image : backends.images.list(ipc::deadlineIn(10s))) {
    out.push_back(std::make_shared<const images::ImageInfo>(std::move(image)));
  }
  return out;
}

void ImagesRoutes::forgetConfigFacts(const std::vector<std::shared_ptr<const images::ImageInfo>>& listed) {
  std::lock_guard lock(configFactsMutex_);
  if (configFacts_.size() <= listed.size() + 64) return;  // a few removed images' facts cost less than a sweep
  std::unordered_map<std::string, std::shared_ptr<const ConfigFacts>> kept;
  for (const auto& i : listed) {
    if (auto it = configFacts_.find(i->id); it != configFacts_.end()) kept.insert(*it);
  }
  configFacts_.swap(kept);
}

void ImagesRoutes::list(http::Request& req, http::ResponseWriter& out) {
  auto filter = DockerFilters::parse(filtersParam(req), kImageListFilterKeys);
  // As moby's Images: dangling= is true or false, read with ExactMatch (so with no value,
  // {"dangling":null}, it is true; "1" and a map form's false are refused).
  std::optional<bool> wantDangling;
  if (filter.contains("dangling")) {
    if (filter.exactMatch("dangling", "true")) {
      wantDangling = true;
    } else if (filter.exactMatch("dangling", "false")) {
      wantDangling = false;
    } else {
      throw Error(ErrorKind::invalid, invalidFilterValue("dangling", filter.values("dangling")));
    }
  }
  auto listed = allImages(backends_);
  forgetConfigFacts(listed);

  auto created = [&](const images::ImageInfo& i) { return configFacts(i)->created; };
  auto resolveTime = [&](const std::string& key) -> std::optional<int64_t> {
    if (filter.values(key).empty()) return std::nullopt;
    const std::string& ref = *filter.values(key).begin();
    for (const auto& image : listed) {
      const auto& i = *image;
      const auto& tags = i.repoTags;
      const std::string& id = i.id;
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
  for (const auto& image : listed) {
    const auto& i = *image;
    const auto& tags = i.repoTags;
    auto facts = configFacts(i);
    // As moby's Images: dangling=true lists the images without a tag; dangling=false leaves out
    // only those with neither a tag nor a digest (one pulled by digest alone is listed by both).
    if (wantDangling && *wantDangling && !tags.empty()) continue;
    if (wantDangling && !*wantDangling && tags.empty() && i.repoDigests.empty()) continue;
    // reference= with no value matches no reference, as dockerd 20.10 answers (the reference
    // filter walks the values for a match).
    // As dockerd: an image is listed when one of its references matches, with only the
    // references that match (so `docker images REPO:TAG` prints that row alone). A reference
    // matches a pattern by its whole text or by its name (reference.FamiliarMatch).
    std::vector<std::string> repoTags = tags, repoDigests = i.repoDigests;
    if (filter.contains("reference")) {
      auto matching = [&](const std::vector<std::string>& refs, char separator) {
        std::vector<std::string> kept;
        for (const auto& ref : refs) {
          std::string name = ref.substr(0, ref.rfind(separator));
          for (const auto& pattern : filter.values("reference")) {
            if (globMatch(pattern, ref) || globMatch(pattern, name)) {
              kept.push_back(ref);
              break;
            }
          }
        }
        return kept;
      };
      repoTags = matching(tags, ':');
      repoDigests = matching(i.repoDigests, '@');
      if (repoTags.empty() && repoDigests.empty()) continue;
    }
    const json& labels = facts->labels;
    if (filter.contains("label") && !filter.matchKeyValues("label", stringEntries(labels))) continue;
    int64_t c = facts->created;
    if (before && c >= *before) continue;
    if (since && c <= *since) continue;
    auto summary = imageSummaryJson(i, c, labels);
    summary["RepoTags"] = repoTags;
    summary["RepoDigests"] = repoDigests;
    result.push_back(std::move(summary));
  }
  std::stable_sort(result.begin(), result.end(),
                   [](const json& a, const json& b) { return a["Created"].get<int64_t>() > b["Created"].get<int64_t>(); });
  out.json(200, result);
}

void ImagesRoutes::inspect(http::Request& req, http::ResponseWriter& out) {
  const std::string& name = req.params["name"];
  if (auto image = backends_.imageViews.inspect(name)) {
    out.send(200, "application/json", renderedInspect(image));
    return;
  }
  out.json(200, imageInspectJson(backends_.images.inspect(name, ipc::deadlineIn(10s))));
}

std::string ImagesRoutes::renderedInspect(const std::shared_ptr<const images::ImageInfo>& image) {
  {
    std::lock_guard lock(renderedMutex_);
    if (auto it = rendered_.find(image->id); it != rendered_.end() && it->second.of.lock() == image) {
      return it->second.body;
    }
  }
  std::string body = imageInspectJson(*image).dump() + "\n";
  std::lock_guard lock(renderedMutex_);
  if (rendered_.size() >= kRenderedKept) {
    for (auto it = rendered_.begin(); it != rendered_.end();) {
      it = it->second.of.expired() ? rendered_.erase(it) : std::next(it);
    }
  }
  rendered_[image->id] = Rendered{image, body};
  return body;
}

json imageInspectJson(const images::ImageInfo& i) {
  auto config = configOf(i);
  const auto& dirs = i.layerDirs;
  json graph = {{"Name", "overlay2"}, {"Data", json::object()}};
  if (!dirs.empty()) {
    std::string lower;
    for (size_t k = dirs.size() - 1; k-- > 0;) lower += (lower.empty() ? "" : ":") + dirs[k];
    std::string top = dirs.back();
    std::string base = top.substr(0, top.rfind('/'));
    graph["Data"] = {{"MergedDir", base + "/merged"}, {"UpperDir", top}, {"WorkDir", base + "/work"}};
    if (!lower.empty()) graph["Data"]["LowerDir"] = lower;
  }
  return json{{"Id", i.id},
              {"RepoTags", i.repoTags},
              {"RepoDigests", i.repoDigests},
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
              {"Size", i.size},
              {"VirtualSize", i.size},
              {"GraphDriver", graph},
              {"RootFS", {{"Type", "layers"}, {"Layers", i.diffIds}}},
              {"Metadata", {{"LastTagTime", rfc3339(i.lastTagTimeNano)}}}};
}

void ImagesRoutes::history(http::Request& req, http::ResponseWriter& out) {
  auto image = find(req.params["name"]);
  const auto& i = *image;
  auto config = configOf(i);
  const auto& sizes = i.layerSizes;
  json entries = json::array();
  size_t layer = 0;
  for (const auto& h : config.value("history", json::array())) {
    bool empty = h.value("empty_layer", false);
    int64_t size = 0;
    if (!empty && layer < sizes.size()) size = sizes[layer++];
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
                       {"CreatedBy", ""}, {"Tags", nullptr}, {"Size", sizes[layer]},
                       {"Comment", ""}});
  }
  std::reverse(entries.begin(), entries.end());
  if (!entries.empty()) {
    entries[0]["Id"] = i.id;
    entries[0]["Tags"] = i.repoTags.empty() ? json(nullptr) : json(i.repoTags);
  }
  out.json(200, entries);
}

void ImagesRoutes::tag(http::Request& req, http::ResponseWriter& out) {
  std::string repo = req.queryValue("repo").value_or("");
  std::string tag = req.queryValue("tag").value_or("");
  if (repo.empty()) throw Error(ErrorKind::invalid, "repository name must have at least one component");
  std::string target = tag.empty() ? repo : repo + ":" + tag;
  backends_.images.tag(req.params["name"], target, ipc::deadlineIn(10s));
  out.send(201, "", "");
}

void ImagesRoutes::remove(http::Request& req, http::ResponseWriter& out) {
  auto removed =
      backends_.images.remove(req.params["name"], boolParam(req, "force"), !boolParam(req, "noprune"), ipc::deadlineIn(60s));
  json items = json::array();
  for (const auto& item : removed) items.push_back(removedItemJson(item));
  out.json(200, items);
}

void ImagesRoutes::prune(http::Request& req, http::ResponseWriter& out) {
  auto filter = DockerFilters::parse(filtersParam(req), kImagePruneFilterKeys);
  // As moby's ImagesPrune: dangling= false or 0 prunes every unused image, true or 1 the
  // dangling ones, read with ExactMatch (a map form's false matches neither: refused). With no
  // value ({"dangling":null}) ExactMatch holds for "false" and moby would prune every unused
  // image; berth prunes the dangling ones only.
  bool all = false;
  if (filter.contains("dangling") && !filter.containsNoValue("dangling")) {
    if (filter.exactMatch("dangling", "false") || filter.exactMatch("dangling", "0")) {
      all = true;
    } else if (!filter.exactMatch("dangling", "true") && !filter.exactMatch("dangling", "1")) {
      throw Error(ErrorKind::invalid, invalidFilterValue("dangling", filter.values("dangling")));
    }
  }
  // until: only images created before the time (dockerd compares the image config's created).
  auto until = filter.pruneUntil(nowUnixNanos());
  json deleted = json::array();
  int64_t reclaimed = 0;
  for (const auto& i : backends_.images.list(ipc::deadlineIn(10s))) {
    if (!all && !i.repoTags.empty()) continue;
    json config = configOf(i);
    if (!filter.matchLabels(stringEntries(labelsOf(config)))) continue;
    if (until && parseRfc3339Nanos(config.value("created", "")) > *until) continue;
    try {
      for (const auto& item : backends_.images.remove(i.id, true, true, ipc::deadlineIn(60s))) {
        deleted.push_back(removedItemJson(item));
      }
      reclaimed += i.size;
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::notFound && e.kind() != ErrorKind::conflict) throw;
    }
  }
  out.json(200, {{"ImagesDeleted", deleted.empty() ? json(nullptr) : deleted}, {"SpaceReclaimed", reclaimed}});
}

}  // namespace berth::api
