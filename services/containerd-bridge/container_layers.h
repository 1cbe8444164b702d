// What the containers core needs of the images service for the work done on a container's
// writable layer once it exists: docker diff, export and commit, and the sizes of ps -s and
// inspect -s. (Making and dropping the layer is ImageLayers', image_layers.h.) The images
// service's public client implements it in berth-containerd-bridge
// (container_layers_client.h); unit tests implement it in memory. Its values are the plain types
// of that client's header, which carries no IPC.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/deadline.h"
#include "services/images/public/images_client.h"

namespace berth::bridge {

class ContainerLayers {
 public:
  virtual ~ContainerLayers() = default;

  // The images service's own values (its public client's plain types).
  using Change = images::LayerChange;
  using Size = images::ContainerSize;
  using Download = images::Download;  // staged there; the API reads it from there
  struct Commit {
    nlohmann::json config;             // the new image's Config, before `changes`
    std::vector<std::string> changes;  // the client's Dockerfile instructions, applied by images
    std::string reference;             // "repo:tag", or empty
    std::string message;
    std::string author;
  };

  // Each takes the container's full id. notFound when it has no layer.
  virtual std::vector<Change> changes(const std::string& container, Deadline deadline) = 0;
  virtual Download exportBegin(const std::string& container, Deadline deadline) = 0;
  // The new image's id.
  virtual std::string commit(const std::string& container, const Commit& commit, Deadline deadline) = 0;
  // By container id; a container without a layer is left out.
  virtual std::map<std::string, Size> sizes(const std::vector<std::string>& containers, Deadline deadline) = 0;
};

}  // namespace berth::bridge
