// The image endpoints of the Docker API: load, save, list, inspect, history, tag, remove,
// prune. Each asks the images service (through its typed client, services/images/public),
// which owns every answer; this file only translates between Docker's JSON and its replies.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <mutex>
#include <unordered_map>

#include "services/api/backends.h"
#include "services/api/router.h"

namespace berth::api {

class ImagesRoutes {
 public:
  explicit ImagesRoutes(Backends& backends) : backends_(backends) {}
  void registerOn(Router& router);

 private:
  void load(http::Request& req, http::ResponseWriter& out);
  void create(http::Request& req, http::ResponseWriter& out);
  void pull(http::Request& req, http::ResponseWriter& out);
  void push(http::Request& req, http::ResponseWriter& out);
  void auth(http::Request& req, http::ResponseWriter& out);
  std::string upload(http::Request& req, bool loadAhead = false);
  void save(http::Request& req, http::ResponseWriter& out);
  void list(http::Request& req, http::ResponseWriter& out);
  void inspect(http::Request& req, http::ResponseWriter& out);
  void history(http::Request& req, http::ResponseWriter& out);
  void tag(http::Request& req, http::ResponseWriter& out);
  void remove(http::Request& req, http::ResponseWriter& out);
  void prune(http::Request& req, http::ResponseWriter& out);
  void streamSave(const std::vector<std::string>& refs, http::ResponseWriter& out);
  // The image `name` names, from the API's copy of the images when it can answer, else from
  // the service (which answers "No such image" and malformed names).
  std::shared_ptr<const images::ImageInfo> find(const std::string& name);

  // What a listing takes from an image's config: its creation time and labels. Parsing every
  // config on every GET /images/json was most of its time (200 images: 9 ms, about 85 % of it
  // in berth-api's JSON parser); a config never changes (its digest is the image's id), so each
  // is parsed once and kept while the image is listed.
  struct ConfigFacts {
    int64_t created = 0;  // Unix seconds
    nlohmann::json labels;
  };
  std::shared_ptr<const ConfigFacts> configFacts(const images::ImageInfo& info);
  // Drops what no image of `listed` has.
  void forgetConfigFacts(const std::vector<std::shared_ptr<const images::ImageInfo>>& listed);

  // GET /images/{name}/json's body for an image record of the API's copy, rendered once: the
  // copy never changes a record it holds (a change of the image replaces it), so a rendering
  // is current while the copy answers with the record it was made from. Renderings of records
  // the copy let go are swept once more than kRenderedKept are kept.
  std::string renderedInspect(const std::shared_ptr<const images::ImageInfo>& image);
  struct Rendered {
    std::weak_ptr<const images::ImageInfo> of;
    std::string body;
  };
  static constexpr size_t kRenderedKept = 256;
  std::mutex renderedMutex_;
  std::unordered_map<std::string, Rendered> rendered_;  // by image id

  Backends& backends_;
  std::mutex configFactsMutex_;
  std::unordered_map<std::string, std::shared_ptr<const ConfigFacts>> configFacts_;  // by image id
};

// The credentials in an X-Registry-Auth header (base64url JSON, padding optional); empty when
// absent, "{}", or not such a document: dockerd decodes the header into its AuthConfig and, for
// a pull or a push, goes on without credentials when that fails. As Go's decoder does, a key
// names a field whatever its case and a null leaves the field empty. Never throws.
std::pair<std::string, std::string> registryAuth(const std::string& header);

// Streams a download of the images service (a saved archive, an exported container) as a
// chunked application/x-tar response, and closes it.
void streamDownload(images::ImagesClient& images, const images::Download& download, http::ResponseWriter& out);

// GET /images/{name}/json's document, as dockerd writes it.
nlohmann::json imageInspectJson(const images::ImageInfo& info);

// Every image, from the API's copy of the images when it is current, else from the service.
std::vector<std::shared_ptr<const images::ImageInfo>> allImages(Backends& backends);

// One entry of GET /images/json as dockerd writes it, with Containers and SharedSize -1 (not
// counted; /system/df counts them).
nlohmann::json imageSummaryJson(const images::ImageInfo& info);
// The same with its config's creation time (Unix seconds) and labels already read.
nlohmann::json imageSummaryJson(const images::ImageInfo& info, int64_t created, const nlohmann::json& labels);

// Unix seconds of an RFC 3339 time ("2026-11-01T00:00:00.5Z", "...+02:00"); 0 when unparsable.
int64_t parseRfc3339(const std::string& text);

}  // namespace berth::api
