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
