#include "services/api/disk_usage_routes.h"

#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "common/errors.h"
#include "common/json_text.h"
#include "services/api/images_routes.h"
#include "services/api/query_params.h"
#include "services/api/volumes_routes.h"

namespace berth::api {

using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

// Docker's filters JSON with only `keys`; dockerd's words for any other key.
void checkFilterKeys(const std::string& text, const std::set<std::string>& keys, const std::string& prefix = "") {
  if (text.empty()) return;
  auto doc = parseJsonOrDiscarded(text);
  if (!doc.is_object()) throw Error(ErrorKind::invalid, prefix + "invalid filter: " + text);
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    if (!keys.count(it.key())) throw Error(ErrorKind::invalid, prefix + "invalid filter '" + it.key() + "'");
  }
}

}  // namespace

void DiskUsageRoutes::registerOn(Router& router) {
  router.add("GET", "/system/df", [this](http::Request& req, http::ResponseWriter& out) { diskUsage(req, out); });
  router.add("POST", "/build/prune", [this](http::Request& req, http::ResponseWriter& out) { pruneBuildCache(req, out); });
}

void DiskUsageRoutes::pruneBuildCache(http::Request& req, http::ResponseWriter& out) {
  checkFilterKeys(filtersParam(req),
                  {"until", "unused-for", "id", "parent", "type", "description", "inuse", "shared", "private"},
                  "failed to prune build cache: ");
  out.json(200, {{"CachesDeleted", nullptr}, {"SpaceReclaimed", 0}});
}

void DiskUsageRoutes::diskUsage(http::Request& req, http::ResponseWriter& out) {
  // API 1.42 lets a client ask for some parts (type=container|image|volume|build-cache).
  bool containers = true, images = true, volumes = true, buildCache = true;
  bool newApi = compareApiVersions(req.apiVersion, "1.42") >= 0;
  std::vector<std::string> types;
  for (const auto& [k, v] : req.query) {
    if (k == "type") types.push_back(v);
  }
  if (newApi && !types.empty()) {
    containers = images = volumes = buildCache = false;
    for (const auto& t : types) {
      if (t == "container") containers = true;
      else if (t == "image") images = true;
      else if (t == "volume") volumes = true;
      else if (t == "build-cache") buildCache = true;
      else throw Error(ErrorKind::invalid, "unknown object type: " + t);
    }
  }

  // The volumes' sizes are measured on disk by their service, the containers' by the bridge and
  // the images service: the two run at once. The images come from the API's copy when current.
  // (A failure of the bridge's part is answered once the volumes' walk is over: the future
  // joins its call.)
  std::future<std::vector<volumes::VolumeInfo>> volumesListed;
  if (volumes) {
    volumesListed =
        std::async(std::launch::async, [this] { return backends_.volumes.list("", true, ipc::deadlineIn(10min)); });
  }

  // The containers' list is the bridge's text, written into the answer as it came. The images'
  // container counts come from the API's copy of the container views when it is current, so
  // that text is not parsed (100 containers are 65 KB); else from the list itself. The list is
  // asked first: its reply's view stamp then holds the copy to at least the list's state, so
  // the counts are never older than the list beside them.
  std::optional<std::string> containerList;
  std::optional<std::map<std::string, int64_t>> containersPerImage;
  if (containers) {
    containerList = backends_.bridge.listJson({true, -1, "", true}, ipc::deadlineIn(60s));
    if (containerList->empty() || containerList->front() != '[' || containerList->back() != ']') {
      throw Error(ErrorKind::internal, "the containerd-bridge's list is not a JSON array");
    }
  }
  if (images) containersPerImage = backends_.containers.containersPerImage();
  if (images && !containersPerImage) {
    if (!containerList) containerList = backends_.bridge.listJson({true, -1, "", false}, ipc::deadlineIn(60s));
    auto listed = parseJsonOrDiscarded(*containerList);
    if (!listed.is_array()) throw Error(ErrorKind::internal, "the containerd-bridge's list is not a JSON array");
    containersPerImage.emplace();
    for (const auto& c : listed) {
      if (c.contains("ImageID") && c["ImageID"].is_string()) ++(*containersPerImage)[c["ImageID"].get<std::string>()];
    }
  }

  json imageList = nullptr;
  int64_t layersSize = 0;
  if (images) {
    auto all = allImages(backends_);
    // A layer is its chain (the diff ids up to it): images that share a chain share its bytes.
    auto chains = [](const images::ImageInfo& i) {
      std::vector<std::string> out;
      std::string chain;
      for (const auto& d : i.diffIds) out.push_back(chain += d + "/");
      return out;
    };
    std::map<std::string, int> users;
    std::map<std::string, int64_t> sizes;
    for (const auto& i : all) {
      auto c = chains(*i);
      for (size_t k = 0; k < c.size(); ++k) {
        ++users[c[k]];
        sizes[c[k]] = k < i->layerSizes.size() ? i->layerSizes[k] : 0;
      }
    }
    for (const auto& [chain, size] : sizes) layersSize += size;
    imageList = json::array();
    for (const auto& i : all) {
      int64_t shared = 0;
      auto c = chains(*i);
      for (size_t k = 0; k < c.size() && k < i->layerSizes.size(); ++k) {
        if (users[c[k]] > 1) shared += i->layerSizes[k];
      }
      json entry = imageSummaryJson(*i);
      auto counted = containersPerImage->find(i->id);
      entry["Containers"] = counted != containersPerImage->end() ? counted->second : 0;
      entry["SharedSize"] = shared;
      imageList.push_back(std::move(entry));
    }
  }

  json volumeList = nullptr;
  if (volumes) {
    volumeList = json::array();
    for (const auto& v : volumesListed.get()) {
      // As dockerd: volumes with options (a tmpfs, a bind, a device) are not local disk usage.
      if (!v.options.empty()) continue;
      volumeList.push_back(volumeJson(v, true));
    }
  }

  json body = {{"LayersSize", layersSize},
               {"Images", std::move(imageList)},
               {"Containers", nullptr},
               {"Volumes", std::move(volumeList)},
               {"BuildCache", buildCache ? json::array() : json(nullptr)}};
  // Deprecated in API 1.38 and left out (omitempty) from 1.42 on.
  if (!newApi) body["BuilderSize"] = 0;
  if (!containers) {
    out.json(200, body);
    return;
  }
  body.erase("Containers");
  std::string text = body.dump();  // an object with members: "{...}"
  text.insert(1, "\"Containers\":" + *containerList + ",");
  out.send(200, "application/json", text + "\n");
}

}  // namespace berth::api
