// berth-images: the thin RPC adapter over the image store.
#include "ipc/methods.h"
#include "ipc/service_host.h"
#include "services/images/image_store.h"

using namespace berth;

int main(int argc, char** argv) {
  std::unique_ptr<images::ImageStore> store;
  return ipc::runService("images", argc, argv, [&](ipc::ServiceHost& host) {
    store = std::make_unique<images::ImageStore>(host.config().serviceDataDir("images"));
    host.server().implements<ipc::Images>();
    host.server().handle(ipc::methods::imagesSummary(),
                         [&](ipc::Images::SummaryParams::Reader, ipc::Images::SummaryResults::Builder r) {
                           auto c = store->counts();
                           r.setImages(c.images);
                           r.setLayers(c.layers);
                           r.setStorageDriver(c.storageDriver);
                           r.setBackingFilesystem(c.backingFilesystem);
                         });
  });
}
