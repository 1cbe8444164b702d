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
const NetworkSummary& networkSummary() {
  static const NetworkSummary m("summary");
  return m;
}
const BridgeSummary& bridgeSummary() {
  static const BridgeSummary m("summary");
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
