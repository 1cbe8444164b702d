// berth-network: the thin RPC adapter over the network store and the containers' network
// namespaces (container_namespaces.h).
#include <spdlog/spdlog.h>

#include <mutex>

#include "ipc/capnp_text.h"
#include "ipc/methods.h"
#include "ipc/service_host.h"
#include "services/network/container_namespaces.h"
#include "services/network/network_store.h"

using namespace berth;

int main(int argc, char** argv) {
  std::unique_ptr<network::NetworkStore> store;
  std::unique_ptr<network::ContainerNamespaces> namespaces;
  std::mutex namespacesMutex;  // one namespace change at a time: they are few and short
  return ipc::runService("network", argc, argv, [&](ipc::ServiceHost& host) {
    store = std::make_unique<network::NetworkStore>(host.config().serviceDataDir("network"));
    namespaces = std::make_unique<network::ContainerNamespaces>(host.config().execRoot + "/netns");
    auto& s = host.server();
    using D = ipc::RpcServer::Dispatch;
    s.implements<ipc::Network>();
    s.handle(ipc::methods::networkSummary(),
             [&](ipc::Network::SummaryParams::Reader, ipc::Network::SummaryResults::Builder r) {
               r.setNetworks(store->count());
             });
    s.handle(
        ipc::methods::networkAttach(),
        [&](ipc::Network::AttachParams::Reader p, ipc::Network::AttachResults::Builder r) {
          std::lock_guard lock(namespacesMutex);
          r.setNetnsPath(namespaces->ensure(p.getContainer()));
        },
        D::worker);
    s.handle(
        ipc::methods::networkDetach(),
        [&](ipc::Network::DetachParams::Reader p, auto) {
          std::lock_guard lock(namespacesMutex);
          namespaces->remove(p.getContainer());
        },
        D::worker);
    s.handle(
        ipc::methods::networkReconcile(),
        [&](ipc::Network::ReconcileParams::Reader p, auto) {
          auto ids = ipc::texts(p.getContainers());
          std::lock_guard lock(namespacesMutex);
          for (const auto& id : namespaces->prune({ids.begin(), ids.end()})) {
            spdlog::info("network: removed the namespace of container {}, which the bridge no longer has", id);
          }
        },
        D::worker);
  });
}
