#include "services/containerd-bridge/container_layers_client.h"

namespace berth::bridge {

std::vector<ContainerLayers::Change> ContainerLayersClient::changes(const std::string& container, Deadline deadline) {
  return images_.changes(container, deadline);
}

ContainerLayers::Download ContainerLayersClient::exportBegin(const std::string& container, Deadline deadline) {
  return images_.exportBegin(container, deadline);
}

std::string ContainerLayersClient::commit(const std::string& container, const Commit& commit, Deadline deadline) {
  return images_.commit(container, commit.config.dump(), commit.changes, commit.reference, commit.message, commit.author,
                        deadline);
}

std::map<std::string, ContainerLayers::Size> ContainerLayersClient::sizes(const std::vector<std::string>& containers,
                                                                          Deadline deadline) {
  return images_.containerSizes(containers, deadline);
}

}  // namespace berth::bridge
