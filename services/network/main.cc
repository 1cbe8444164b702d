// berth-network: the thin RPC adapter over the network store.
#include "ipc/methods.h"
#include "ipc/service_host.h"
#include "services/network/network_store.h"

using namespace berth;

int main(int argc, char** argv) {
  std::unique_ptr<network::NetworkStore> store;
  return ipc::runService("network", argc, argv, [&](ipc::ServiceHost& host) {
    store = std::make_unique<network::NetworkStore>(host.config().serviceDataDir("network"));
    host.server().implements<ipc::Network>();
    host.server().handle(ipc::methods::networkSummary(),
                         [&](ipc::Network::SummaryParams::Reader, ipc::Network::SummaryResults::Builder r) {
                           r.setNetworks(store->count());
                         });
  });
}
