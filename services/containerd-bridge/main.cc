// berth-containerd-bridge: the thin RPC adapter over the container store.
#include "ipc/methods.h"
#include "ipc/service_host.h"
#include "services/containerd-bridge/container_store.h"

using namespace berth;

int main(int argc, char** argv) {
  std::unique_ptr<bridge::ContainerStore> store;
  return ipc::runService("containerd-bridge", argc, argv, [&](ipc::ServiceHost& host) {
    store = std::make_unique<bridge::ContainerStore>(host.config().serviceDataDir("containers"));
    std::string socket = host.config().containerdSocket();
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
          r.setContainerdReachable(bridge::containerdReachable(socket));
        });
  });
}
