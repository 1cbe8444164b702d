// The API's view of the other processes: one client per service, typed where the service has a
// public client (images: services/images/public; volumes: services/volumes/public; network:
// services/network/public; the containerd-bridge: services/containerd-bridge/public), else its
// RPC client. Holds no state of its own but the read models of containers, volumes, images and
// networks (copies of the bridge's, the volumes service's, the images service's and the network
// service's views); each handler asks the service that owns the answer, or that copy when it is
// current.
#pragma once

#include <atomic>
#include <string>
#include <utility>
#include <vector>
#include <zmq.hpp>

#include "common/config.h"
#include "ipc/rpc_client.h"
#include "services/containerd-bridge/public/bridge_client.h"
#include "services/containerd-bridge/public/container_read_model.h"
#include "services/images/public/image_read_model.h"
#include "services/images/public/images_client.h"
#include "services/network/public/network_client.h"
#include "services/network/public/network_read_model.h"
#include "services/volumes/public/volume_read_model.h"
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
        network(networkRpc),
        bridge(bridgeRpc),
        volumeViews(context, config.viewsEndpoint("volumes"), volumesRpc),
        imageViews(context, config.viewsEndpoint("images"), imagesRpc),
        networkViews(context, config.viewsEndpoint("network"), networkRpc),
        containers(context, config.viewsEndpoint("containerd-bridge"), bridgeRpc) {
    routing_.store(true, std::memory_order_release);
  }
  ~Backends() { routing_.store(false, std::memory_order_release); }

  // A view stamp a reply or an event carried: the read model of its kind must reach it before
  // it answers again.
  void require(ipc::ViewKind kind, ipc::ViewStamp stamp) {
    switch (kind) {
      case ipc::ViewKind::containers: containers.require(stamp); break;
      case ipc::ViewKind::volumes: volumeViews.require(stamp); break;
      case ipc::ViewKind::images: imageViews.require(stamp); break;
      case ipc::ViewKind::networks: networkViews.require(stamp); break;
    }
  }

  // The services that publish engine events, with their names.
  std::vector<std::pair<std::string, ipc::RpcClient*>> eventSources() {
    return {{"images", &imagesRpc}, {"volumes", &volumesRpc}, {"network", &networkRpc}, {"containerd-bridge", &bridgeRpc}};
  }

  // Stamps go to the read models once all are made. Until then only their own snapshot
  // calls are made, whose replies carry the sequence they answer at.
  std::atomic<bool> routing_{false};
  ipc::RpcClient imagesRpc;  // for its events; its methods through `images`
  ipc::RpcClient volumesRpc;  // for its events; its methods through `volumes`
  ipc::RpcClient networkRpc;  // for its events; its methods through `network`
  ipc::RpcClient bridgeRpc;  // for its events; its methods through `bridge`
  ipc::RpcClient supervisor;
  // Any service's reply may carry a stamp of any kind: the bridge passes on the volumes
  // service's (it makes and removes anonymous volumes), the images service's (it commits) and
  // the network service's (it connects and disconnects its containers).
  // Set before the read models' threads start calling.
  bool stampsRouted_ = [this] {
    for (ipc::RpcClient* rpc : {&imagesRpc, &volumesRpc, &networkRpc, &bridgeRpc}) {
      rpc->onViewStamp([this](ipc::ViewKind kind, ipc::ViewStamp stamp) {
        if (routing_.load(std::memory_order_acquire)) require(kind, stamp);
      });
    }
    // A call that went away mid-way (the service died with it) may have changed what the
    // service's copy holds without its channel saying so: e.g. a volume removed, then the
    // service killed before it published and replied. That copy answers again only from the
    // service's next run.
    imagesRpc.onWentAway([this](uint64_t sentAt) {
      if (routing_.load(std::memory_order_acquire)) imageViews.requireRunAfter(sentAt);
    });
    volumesRpc.onWentAway([this](uint64_t sentAt) {
      if (routing_.load(std::memory_order_acquire)) volumeViews.requireRunAfter(sentAt);
    });
    networkRpc.onWentAway([this](uint64_t sentAt) {
      if (routing_.load(std::memory_order_acquire)) networkViews.requireRunAfter(sentAt);
    });
    bridgeRpc.onWentAway([this](uint64_t sentAt) {
      if (routing_.load(std::memory_order_acquire)) containers.requireRunAfter(sentAt);
    });
    return true;
  }();
  images::ImagesClient images;
  volumes::VolumesClient volumes;
  network::NetworkClient network;
  bridge::BridgeClient bridge;
  // Answer container, volume, image and network reads while they are current (docs/ipc.md,
  // "Container views", "Volume views", "Image views" and "Network views"). The volumes',
  // images' and networks' copies are made before the containers' and ended after it: the
  // bridge's replies, which the containers' copy takes snapshots with, carry their stamps too.
  volumes::VolumeReadModel volumeViews;
  images::ImageReadModel imageViews;
  network::NetworkReadModel networkViews;
  bridge::ContainerReadModel containers;
};

}  // namespace berth::api
