// The API's view of the other processes: one client per service, typed where the service has a
// public client (images: services/images/public; volumes: services/volumes/public; network: services/network/public; the
// containerd-bridge: services/containerd-bridge/public), else its RPC client. Holds no state of its own but the
// read model of containers (a copy of the bridge's views); each handler asks the service that
// owns the answer, or that copy when it is current.
#pragma once

#include <string>
#include <utility>
#include <vector>
#include <zmq.hpp>

#include "common/config.h"
#include "ipc/rpc_client.h"
#include "services/containerd-bridge/public/bridge_client.h"
#include "services/containerd-bridge/public/container_read_model.h"
#include "services/images/public/images_client.h"
#include "services/network/public/network_client.h"
#include "services/volumes/public/volumes_client.h"

namespace berth::api {

struct Backends {
  Backends(zmq::context_t& context, const Config& config)
      : imagesRpc(context, config.serviceEndpoint("images")),
        volumesRpc(context, config.serviceEndpoint("volumes")),
        networkRpc(context, config.serviceEndpoint("network")),
        bridgeRpc(context, config.serviceEndpoint("containerd-bridge")),
        supervisor(context, config.supervisorEndpoint()),
        images(imagesRpc),
        volumes(volumesRpc),
        network(context, config.serviceEndpoint("network")),
        bridge(bridgeRpc),
        containers(context, config.viewsEndpoint("containerd-bridge"), bridgeRpc) {}

  // The services that publish engine events, with their names.
  std::vector<std::pair<std::string, ipc::RpcClient*>> eventSources() {
    return {{"images", &imagesRpc}, {"volumes", &volumesRpc}, {"network", &networkRpc}, {"containerd-bridge", &bridgeRpc}};
  }

  ipc::RpcClient imagesRpc;  // for its events; its methods through `images`
  ipc::RpcClient volumesRpc;  // for its events; its methods through `volumes`
  ipc::RpcClient networkRpc;  // for its events and summary; its methods through `network`
  ipc::RpcClient bridgeRpc;  // for its events; its methods through `bridge`
  ipc::RpcClient supervisor;
  images::ImagesClient images;
  volumes::VolumesClient volumes;
  network::NetworkClient network;
  bridge::BridgeClient bridge;
  // Answers container reads while it is current; observes every reply of bridgeRpc.
  bridge::ContainerReadModel containers;
};

}  // namespace berth::api
