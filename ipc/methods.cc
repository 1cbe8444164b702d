#include "ipc/methods.h"

namespace berth::ipc::methods {

const Health& health() {
  static const Health m("health");
  return m;
}
const Recent& recent() {
  static const Recent m("recent");
  return m;
}
const ImagesSummary& imagesSummary() {
  static const ImagesSummary m("summary");
  return m;
}
const ImagesUploadBegin& imagesUploadBegin() {
  static const ImagesUploadBegin m("uploadBegin");
  return m;
}
const ImagesUploadWrite& imagesUploadWrite() {
  static const ImagesUploadWrite m("uploadWrite");
  return m;
}
const ImagesUploadDiscard& imagesUploadDiscard() {
  static const ImagesUploadDiscard m("uploadDiscard");
  return m;
}
const ImagesLoad& imagesLoad() {
  static const ImagesLoad m("load");
  return m;
}
const ImagesList& imagesList() {
  static const ImagesList m("list");
  return m;
}
const ImagesInspect& imagesInspect() {
  static const ImagesInspect m("inspect");
  return m;
}
const ImagesTag& imagesTag() {
  static const ImagesTag m("tag");
  return m;
}
const ImagesRemove& imagesRemove() {
  static const ImagesRemove m("remove");
  return m;
}
const ImagesSaveBegin& imagesSaveBegin() {
  static const ImagesSaveBegin m("saveBegin");
  return m;
}
const ImagesDownloadRead& imagesDownloadRead() {
  static const ImagesDownloadRead m("downloadRead");
  return m;
}
const ImagesDownloadClose& imagesDownloadClose() {
  static const ImagesDownloadClose m("downloadClose");
  return m;
}
const ImagesImport& imagesImport() {
  static const ImagesImport m("import");
  return m;
}
const ImagesPull& imagesPull() {
  static const ImagesPull m("pull");
  return m;
}
const ImagesPush& imagesPush() {
  static const ImagesPush m("push");
  return m;
}
const ImagesLogin& imagesLogin() {
  static const ImagesLogin m("login");
  return m;
}
const ImagesProgress& imagesProgress() {
  static const ImagesProgress m("progress");
  return m;
}
const ImagesPrepareRootfs& imagesPrepareRootfs() {
  static const ImagesPrepareRootfs m("prepareRootfs");
  return m;
}
const ImagesReleaseRootfs& imagesReleaseRootfs() {
  static const ImagesReleaseRootfs m("releaseRootfs");
  return m;
}
const ImagesChanges& imagesChanges() {
  static const ImagesChanges m("changes");
  return m;
}
const ImagesExportBegin& imagesExportBegin() {
  static const ImagesExportBegin m("exportBegin");
  return m;
}
const ImagesCommit& imagesCommit() {
  static const ImagesCommit m("commit");
  return m;
}
const VolumesSummary& volumesSummary() {
  static const VolumesSummary m("summary");
  return m;
}
const VolumesCreate& volumesCreate() {
  static const VolumesCreate m("create");
  return m;
}
const VolumesInspect& volumesInspect() {
  static const VolumesInspect m("inspect");
  return m;
}
const VolumesList& volumesList() {
  static const VolumesList m("list");
  return m;
}
const VolumesRemove& volumesRemove() {
  static const VolumesRemove m("remove");
  return m;
}
const VolumesPrune& volumesPrune() {
  static const VolumesPrune m("prune");
  return m;
}
const VolumesReference& volumesReference() {
  static const VolumesReference m("reference");
  return m;
}
const VolumesRelease& volumesRelease() {
  static const VolumesRelease m("release");
  return m;
}
const VolumesMount& volumesMount() {
  static const VolumesMount m("mount");
  return m;
}
const VolumesUnmount& volumesUnmount() {
  static const VolumesUnmount m("unmount");
  return m;
}
const VolumesReconcile& volumesReconcile() {
  static const VolumesReconcile m("reconcile");
  return m;
}
const VolumesVolumeViews& volumesVolumeViews() {
  static const VolumesVolumeViews m("volumeViews");
  return m;
}
const VolumesPopulate& volumesPopulate() {
  static const VolumesPopulate m("populate");
  return m;
}
const NetworkSummary& networkSummary() {
  static const NetworkSummary m("summary");
  return m;
}
const NetworkAttach& networkAttach() {
  static const NetworkAttach m("attach");
  return m;
}
const NetworkDetach& networkDetach() {
  static const NetworkDetach m("detach");
  return m;
}
const NetworkReconcile& networkReconcile() {
  static const NetworkReconcile m("reconcile");
  return m;
}
const NetworkCreate& networkCreate() {
  static const NetworkCreate m("create");
  return m;
}
const NetworkInspect& networkInspect() {
  static const NetworkInspect m("inspect");
  return m;
}
const NetworkList& networkList() {
  static const NetworkList m("list");
  return m;
}
const NetworkRemove& networkRemove() {
  static const NetworkRemove m("remove");
  return m;
}
const NetworkPrune& networkPrune() {
  static const NetworkPrune m("prune");
  return m;
}
const NetworkConnect& networkConnect() {
  static const NetworkConnect m("connect");
  return m;
}
const NetworkDisconnect& networkDisconnect() {
  static const NetworkDisconnect m("disconnect");
  return m;
}
const NetworkNetworkViews& networkNetworkViews() {
  static const NetworkNetworkViews m("networkViews");
  return m;
}
const BridgeSummary& bridgeSummary() {
  static const BridgeSummary m("summary");
  return m;
}
const BridgeCreate& bridgeCreate() {
  static const BridgeCreate m("create");
  return m;
}

const BridgeStart& bridgeStart() {
  static const BridgeStart m("start");
  return m;
}

const BridgeStop& bridgeStop() {
  static const BridgeStop m("stop");
  return m;
}

const BridgeRestart& bridgeRestart() {
  static const BridgeRestart m("restart");
  return m;
}

const BridgeKill& bridgeKill() {
  static const BridgeKill m("kill");
  return m;
}

const BridgePause& bridgePause() {
  static const BridgePause m("pause");
  return m;
}

const BridgeUnpause& bridgeUnpause() {
  static const BridgeUnpause m("unpause");
  return m;
}

const BridgeWait& bridgeWait() {
  static const BridgeWait m("wait");
  return m;
}

const BridgeRemove& bridgeRemove() {
  static const BridgeRemove m("remove");
  return m;
}

const BridgeRename& bridgeRename() {
  static const BridgeRename m("rename");
  return m;
}

const BridgeInspect& bridgeInspect() {
  static const BridgeInspect m("inspect");
  return m;
}

const BridgeList& bridgeList() {
  static const BridgeList m("list");
  return m;
}

const BridgeTop& bridgeTop() {
  static const BridgeTop m("top");
  return m;
}

const BridgeResize& bridgeResize() {
  static const BridgeResize m("resize");
  return m;
}

const BridgeExecCreate& bridgeExecCreate() {
  static const BridgeExecCreate m("execCreate");
  return m;
}

const BridgeExecInspect& bridgeExecInspect() {
  static const BridgeExecInspect m("execInspect");
  return m;
}

const BridgeExecResize& bridgeExecResize() {
  static const BridgeExecResize m("execResize");
  return m;
}

const BridgePrune& bridgePrune() {
  static const BridgePrune m("prune");
  return m;
}

const BridgeShutdown& bridgeShutdown() {
  static const BridgeShutdown m("shutdown");
  return m;
}

const ImagesContainerSize& imagesContainerSize() {
  static const ImagesContainerSize m("containerSize");
  return m;
}

const ImagesContainerSizes& imagesContainerSizes() {
  static const ImagesContainerSizes m("containerSizes");
  return m;
}
const ImagesImageViews& imagesImageViews() {
  static const ImagesImageViews m("imageViews");
  return m;
}

const BridgeStats& bridgeStats() {
  static const BridgeStats m("stats");
  return m;
}

const BridgeUpdate& bridgeUpdate() {
  static const BridgeUpdate m("update");
  return m;
}

const BridgeInspectWithSize& bridgeInspectWithSize() {
  static const BridgeInspectWithSize m("inspectWithSize");
  return m;
}

const BridgeChanges& bridgeChanges() {
  static const BridgeChanges m("changes");
  return m;
}

const BridgeExportBegin& bridgeExportBegin() {
  static const BridgeExportBegin m("exportBegin");
  return m;
}

const BridgeContainerViews& bridgeContainerViews() {
  static const BridgeContainerViews m("containerViews");
  return m;
}

const BridgeCommit& bridgeCommit() {
  static const BridgeCommit m("commit");
  return m;
}
const BridgeSetNetwork& bridgeSetNetwork() {
  static const BridgeSetNetwork m("setNetwork");
  return m;
}

const SupervisorStatus& supervisorStatus() {
  static const SupervisorStatus m("status");
  return m;
}
const SupervisorRestart& supervisorRestart() {
  static const SupervisorRestart m("restart");
  return m;
}

}  // namespace berth::ipc::methods
