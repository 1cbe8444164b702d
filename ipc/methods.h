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
using ImagesUploadBegin = Method<Images, Images::UploadBeginParams, Images::UploadBeginResults>;
using ImagesUploadWrite = Method<Images, Images::UploadWriteParams, Images::UploadWriteResults>;
using ImagesUploadDiscard = Method<Images, Images::UploadDiscardParams, Images::UploadDiscardResults>;
using ImagesLoad = Method<Images, Images::LoadParams, Images::LoadResults>;
using ImagesList = Method<Images, Images::ListParams, Images::ListResults>;
using ImagesInspect = Method<Images, Images::InspectParams, Images::InspectResults>;
using ImagesTag = Method<Images, Images::TagParams, Images::TagResults>;
using ImagesRemove = Method<Images, Images::RemoveParams, Images::RemoveResults>;
using ImagesSaveBegin = Method<Images, Images::SaveBeginParams, Images::SaveBeginResults>;
using ImagesDownloadRead = Method<Images, Images::DownloadReadParams, Images::DownloadReadResults>;
using ImagesDownloadClose = Method<Images, Images::DownloadCloseParams, Images::DownloadCloseResults>;
using ImagesImport = Method<Images, Images::ImportParams, Images::ImportResults>;
using ImagesPull = Method<Images, Images::PullParams, Images::PullResults>;
using ImagesPush = Method<Images, Images::PushParams, Images::PushResults>;
using ImagesLogin = Method<Images, Images::LoginParams, Images::LoginResults>;
using ImagesProgress = Method<Images, Images::ProgressParams, Images::ProgressResults>;
using ImagesPrepareRootfs = Method<Images, Images::PrepareRootfsParams, Images::PrepareRootfsResults>;
using ImagesReleaseRootfs = Method<Images, Images::ReleaseRootfsParams, Images::ReleaseRootfsResults>;
using ImagesChanges = Method<Images, Images::ChangesParams, Images::ChangesResults>;
using ImagesExportBegin = Method<Images, Images::ExportBeginParams, Images::ExportBeginResults>;
using ImagesCommit = Method<Images, Images::CommitParams, Images::CommitResults>;
using VolumesSummary = Method<Volumes, Volumes::SummaryParams, Volumes::SummaryResults>;
using VolumesCreate = Method<Volumes, Volumes::CreateParams, Volumes::CreateResults>;
using VolumesInspect = Method<Volumes, Volumes::InspectParams, Volumes::InspectResults>;
using VolumesList = Method<Volumes, Volumes::ListParams, Volumes::ListResults>;
using VolumesRemove = Method<Volumes, Volumes::RemoveParams, Volumes::RemoveResults>;
using VolumesPrune = Method<Volumes, Volumes::PruneParams, Volumes::PruneResults>;
using VolumesReference = Method<Volumes, Volumes::ReferenceParams, Volumes::ReferenceResults>;
using VolumesRelease = Method<Volumes, Volumes::ReleaseParams, Volumes::ReleaseResults>;
using VolumesMount = Method<Volumes, Volumes::MountParams, Volumes::MountResults>;
using VolumesUnmount = Method<Volumes, Volumes::UnmountParams, Volumes::UnmountResults>;
using VolumesReconcile = Method<Volumes, Volumes::ReconcileParams, Volumes::ReconcileResults>;
using VolumesPopulate = Method<Volumes, Volumes::PopulateParams, Volumes::PopulateResults>;
using VolumesVolumeViews = Method<Volumes, Volumes::VolumeViewsParams, Volumes::VolumeViewsResults>;
using NetworkSummary = Method<Network, Network::SummaryParams, Network::SummaryResults>;
using NetworkAttach = Method<Network, Network::AttachParams, Network::AttachResults>;
using NetworkDetach = Method<Network, Network::DetachParams, Network::DetachResults>;
using NetworkReconcile = Method<Network, Network::ReconcileParams, Network::ReconcileResults>;
using NetworkCreate = Method<Network, Network::CreateParams, Network::CreateResults>;
using NetworkInspect = Method<Network, Network::InspectParams, Network::InspectResults>;
using NetworkList = Method<Network, Network::ListParams, Network::ListResults>;
using NetworkRemove = Method<Network, Network::RemoveParams, Network::RemoveResults>;
using NetworkPrune = Method<Network, Network::PruneParams, Network::PruneResults>;
using NetworkConnect = Method<Network, Network::ConnectParams, Network::ConnectResults>;
using NetworkDisconnect = Method<Network, Network::DisconnectParams, Network::DisconnectResults>;
using NetworkNetworkViews = Method<Network, Network::NetworkViewsParams, Network::NetworkViewsResults>;
using BridgeSummary = Method<ContainerdBridge, ContainerdBridge::SummaryParams, ContainerdBridge::SummaryResults>;
using BridgeCreate = Method<ContainerdBridge, ContainerdBridge::CreateParams, ContainerdBridge::CreateResults>;
using BridgeStart = Method<ContainerdBridge, ContainerdBridge::StartParams, ContainerdBridge::StartResults>;
using BridgeStop = Method<ContainerdBridge, ContainerdBridge::StopParams, ContainerdBridge::StopResults>;
using BridgeRestart = Method<ContainerdBridge, ContainerdBridge::RestartParams, ContainerdBridge::RestartResults>;
using BridgeKill = Method<ContainerdBridge, ContainerdBridge::KillParams, ContainerdBridge::KillResults>;
using BridgePause = Method<ContainerdBridge, ContainerdBridge::PauseParams, ContainerdBridge::PauseResults>;
using BridgeUnpause = Method<ContainerdBridge, ContainerdBridge::UnpauseParams, ContainerdBridge::UnpauseResults>;
using BridgeWait = Method<ContainerdBridge, ContainerdBridge::WaitParams, ContainerdBridge::WaitResults>;
using BridgeRemove = Method<ContainerdBridge, ContainerdBridge::RemoveParams, ContainerdBridge::RemoveResults>;
using BridgeRename = Method<ContainerdBridge, ContainerdBridge::RenameParams, ContainerdBridge::RenameResults>;
using BridgeInspect = Method<ContainerdBridge, ContainerdBridge::InspectParams, ContainerdBridge::InspectResults>;
using BridgeList = Method<ContainerdBridge, ContainerdBridge::ListParams, ContainerdBridge::ListResults>;
using BridgeTop = Method<ContainerdBridge, ContainerdBridge::TopParams, ContainerdBridge::TopResults>;
using BridgeResize = Method<ContainerdBridge, ContainerdBridge::ResizeParams, ContainerdBridge::ResizeResults>;
using BridgeExecCreate = Method<ContainerdBridge, ContainerdBridge::ExecCreateParams, ContainerdBridge::ExecCreateResults>;
using BridgeExecInspect = Method<ContainerdBridge, ContainerdBridge::ExecInspectParams, ContainerdBridge::ExecInspectResults>;
using BridgeExecResize = Method<ContainerdBridge, ContainerdBridge::ExecResizeParams, ContainerdBridge::ExecResizeResults>;
using BridgePrune = Method<ContainerdBridge, ContainerdBridge::PruneParams, ContainerdBridge::PruneResults>;
using BridgeShutdown = Method<ContainerdBridge, ContainerdBridge::ShutdownParams, ContainerdBridge::ShutdownResults>;
using ImagesContainerSize = Method<Images, Images::ContainerSizeParams, Images::ContainerSizeResults>;
using ImagesContainerSizes = Method<Images, Images::ContainerSizesParams, Images::ContainerSizesResults>;
using ImagesImageViews = Method<Images, Images::ImageViewsParams, Images::ImageViewsResults>;
using BridgeStats = Method<ContainerdBridge, ContainerdBridge::StatsParams, ContainerdBridge::StatsResults>;
using BridgeUpdate = Method<ContainerdBridge, ContainerdBridge::UpdateParams, ContainerdBridge::UpdateResults>;
using BridgeInspectWithSize =
    Method<ContainerdBridge, ContainerdBridge::InspectWithSizeParams, ContainerdBridge::InspectWithSizeResults>;
using BridgeChanges = Method<ContainerdBridge, ContainerdBridge::ChangesParams, ContainerdBridge::ChangesResults>;
using BridgeExportBegin = Method<ContainerdBridge, ContainerdBridge::ExportBeginParams, ContainerdBridge::ExportBeginResults>;
using BridgeCommit = Method<ContainerdBridge, ContainerdBridge::CommitParams, ContainerdBridge::CommitResults>;
using BridgeSetNetwork = Method<ContainerdBridge, ContainerdBridge::SetNetworkParams, ContainerdBridge::SetNetworkResults>;
using BridgeContainerViews =
    Method<ContainerdBridge, ContainerdBridge::ContainerViewsParams, ContainerdBridge::ContainerViewsResults>;
using SupervisorStatus = Method<Supervisor, Supervisor::StatusParams, Supervisor::StatusResults>;
using SupervisorRestart = Method<Supervisor, Supervisor::RestartParams, Supervisor::RestartResults>;

const Health& health();
const Recent& recent();
const ImagesSummary& imagesSummary();
const ImagesUploadBegin& imagesUploadBegin();
const ImagesUploadWrite& imagesUploadWrite();
const ImagesUploadDiscard& imagesUploadDiscard();
const ImagesLoad& imagesLoad();
const ImagesList& imagesList();
const ImagesInspect& imagesInspect();
const ImagesTag& imagesTag();
const ImagesRemove& imagesRemove();
const ImagesSaveBegin& imagesSaveBegin();
const ImagesDownloadRead& imagesDownloadRead();
const ImagesDownloadClose& imagesDownloadClose();
const ImagesImport& imagesImport();
const ImagesPull& imagesPull();
const ImagesPush& imagesPush();
const ImagesLogin& imagesLogin();
const ImagesProgress& imagesProgress();
const ImagesPrepareRootfs& imagesPrepareRootfs();
const ImagesReleaseRootfs& imagesReleaseRootfs();
const ImagesChanges& imagesChanges();
const ImagesExportBegin& imagesExportBegin();
const ImagesCommit& imagesCommit();
const VolumesSummary& volumesSummary();
const VolumesCreate& volumesCreate();
const VolumesInspect& volumesInspect();
const VolumesList& volumesList();
const VolumesRemove& volumesRemove();
const VolumesPrune& volumesPrune();
const VolumesReference& volumesReference();
const VolumesRelease& volumesRelease();
const VolumesMount& volumesMount();
const VolumesUnmount& volumesUnmount();
const VolumesReconcile& volumesReconcile();
const VolumesPopulate& volumesPopulate();
const VolumesVolumeViews& volumesVolumeViews();
const NetworkSummary& networkSummary();
const NetworkAttach& networkAttach();
const NetworkDetach& networkDetach();
const NetworkReconcile& networkReconcile();
const NetworkCreate& networkCreate();
const NetworkInspect& networkInspect();
const NetworkList& networkList();
const NetworkRemove& networkRemove();
const NetworkPrune& networkPrune();
const NetworkConnect& networkConnect();
const NetworkDisconnect& networkDisconnect();
const NetworkNetworkViews& networkNetworkViews();
const BridgeSummary& bridgeSummary();
const BridgeCreate& bridgeCreate();
const BridgeStart& bridgeStart();
const BridgeStop& bridgeStop();
const BridgeRestart& bridgeRestart();
const BridgeKill& bridgeKill();
const BridgePause& bridgePause();
const BridgeUnpause& bridgeUnpause();
const BridgeWait& bridgeWait();
const BridgeRemove& bridgeRemove();
const BridgeRename& bridgeRename();
const BridgeInspect& bridgeInspect();
const BridgeList& bridgeList();
const BridgeTop& bridgeTop();
const BridgeResize& bridgeResize();
const BridgeExecCreate& bridgeExecCreate();
const BridgeExecInspect& bridgeExecInspect();
const BridgeExecResize& bridgeExecResize();
const BridgePrune& bridgePrune();
const BridgeShutdown& bridgeShutdown();
const BridgeStats& bridgeStats();
const ImagesContainerSize& imagesContainerSize();
const ImagesContainerSizes& imagesContainerSizes();
const ImagesImageViews& imagesImageViews();
const BridgeUpdate& bridgeUpdate();
const BridgeInspectWithSize& bridgeInspectWithSize();
const BridgeChanges& bridgeChanges();
const BridgeExportBegin& bridgeExportBegin();
const BridgeCommit& bridgeCommit();
const BridgeSetNetwork& bridgeSetNetwork();
const BridgeContainerViews& bridgeContainerViews();
const SupervisorStatus& supervisorStatus();
const SupervisorRestart& supervisorRestart();

}  // namespace berth::ipc::methods
