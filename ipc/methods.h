// The typed method references of every berth interface, resolved once. Callers pass these to
// RpcClient::call and servers to RpcServer::handle, so a method is named in one place.
#pragma once

#include "ipc/method.h"
#include "ipc/schema/containerd_bridge.capnp.h"
#include "ipc/schema/events.capnp.h"
#include "ipc/schema/images.capnp.h"
#include "ipc/schema/network.capnp.h"
#include "ipc/schema/service.capnp.h"
#include "ipc/schema/supervisor.capnp.h"
#include "ipc/schema/volumes.capnp.h"

namespace berth::ipc::methods {

using Health = Method<Service, Service::HealthParams, Service::HealthResults>;
using Recent = Method<EventSource, EventSource::RecentParams, EventSource::RecentResults>;
using ImagesSummary = Method<Images, Images::SummaryParams, Images::SummaryResults>;
using VolumesSummary = Method<Volumes, Volumes::SummaryParams, Volumes::SummaryResults>;
using NetworkSummary = Method<Network, Network::SummaryParams, Network::SummaryResults>;
using BridgeSummary = Method<ContainerdBridge, ContainerdBridge::SummaryParams, ContainerdBridge::SummaryResults>;
using SupervisorStatus = Method<Supervisor, Supervisor::StatusParams, Supervisor::StatusResults>;
using SupervisorRestart = Method<Supervisor, Supervisor::RestartParams, Supervisor::RestartResults>;

const Health& health();
const Recent& recent();
const ImagesSummary& imagesSummary();
const VolumesSummary& volumesSummary();
const NetworkSummary& networkSummary();
const BridgeSummary& bridgeSummary();
const SupervisorStatus& supervisorStatus();
const SupervisorRestart& supervisorRestart();

}  // namespace berth::ipc::methods
