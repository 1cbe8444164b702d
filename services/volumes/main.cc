// berth-volumes: the thin RPC adapter over the volume store.
#include "ipc/methods.h"
#include "ipc/service_host.h"
#include "services/volumes/volume_store.h"

using namespace berth;

int main(int argc, char** argv) {
  std::unique_ptr<volumes::VolumeStore> store;
  return ipc::runService("volumes", argc, argv, [&](ipc::ServiceHost& host) {
    store = std::make_unique<volumes::VolumeStore>(host.config().serviceDataDir("volumes"));
    host.server().implements<ipc::Volumes>();
    host.server().handle(ipc::methods::volumesSummary(),
                         [&](ipc::Volumes::SummaryParams::Reader, ipc::Volumes::SummaryResults::Builder r) {
                           r.setVolumes(store->count());
                         });
  });
}
