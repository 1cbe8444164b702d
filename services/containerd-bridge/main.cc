// berth-containerd-bridge: the thin RPC adapter over the container store.
#include "ipc/methods.h"
#include "ipc/service_host.h"
#include "services/containerd-bridge/container_store.h"
#include "services/containerd-bridge/containerd_client.h"

using namespace berth;

int main(int argc, char** argv) {
  std::unique_ptr<bridge::ContainerStore> store;
  std::unique_ptr<bridge::ContainerdClient> containerd;
  bridge::RuncVersion runc;
  return ipc::runService("containerd-bridge", argc, argv, [&](ipc::ServiceHost& host) {
    store = std::make_unique<bridge::ContainerStore>(host.config().serviceDataDir("containers"));
    std::string socket = host.config().containerdSocket();
    containerd = std::make_unique<bridge::ContainerdClient>(socket);
    runc = bridge::readRuncVersion();
    host.server().implements<ipc::ContainerdBridge>();
    host.server().handle(
        ipc::methods::bridgeSummary(),
        [&, socket](ipc::ContainerdBridge::SummaryParams::Reader, ipc::ContainerdBridge::SummaryResults::Builder r) {
          auto c = store->counts();
          r.setContainers(c.total);
          r.setRunning(c.running);
          r.setPaused(c.paused);
          r.setStopped(c.stopped);
          r.setContainerdAddress(socket);
          try {
            auto v = containerd->version(std::chrono::milliseconds(500));
            r.setContainerdReachable(true);
            r.setContainerdVersion(v.version);
            r.setContainerdRevision(v.revision);
          } catch (const Error&) {
            r.setContainerdReachable(false);
          }
          r.setRuncVersion(runc.version);
          r.setRuncCommit(runc.commit);
        });
  });
}
