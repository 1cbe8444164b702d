// berth-images: the thin RPC adapter over the image store.
#include <sys/stat.h>

#include "ipc/methods.h"
#include "ipc/service_host.h"
#include "services/images/image_store.h"
#include "services/images/transfers.h"

using namespace berth;

namespace {

void fillInfo(const images::ImageView& v, ipc::ImageInfo::Builder out) {
  out.setId(v.id);
  auto tags = out.initRepoTags(static_cast<unsigned>(v.repoTags.size()));
  for (size_t i = 0; i < v.repoTags.size(); ++i) tags.set(static_cast<unsigned>(i), v.repoTags[i]);
  auto digests = out.initRepoDigests(static_cast<unsigned>(v.repoDigests.size()));
  for (size_t i = 0; i < v.repoDigests.size(); ++i) digests.set(static_cast<unsigned>(i), v.repoDigests[i]);
  out.setConfig(kj::arrayPtr(reinterpret_cast<const kj::byte*>(v.configJson.data()), v.configJson.size()));
  auto diffs = out.initDiffIds(static_cast<unsigned>(v.diffIds.size()));
  for (size_t i = 0; i < v.diffIds.size(); ++i) diffs.set(static_cast<unsigned>(i), v.diffIds[i]);
  auto dirs = out.initLayerDirs(static_cast<unsigned>(v.layerDirs.size()));
  for (size_t i = 0; i < v.layerDirs.size(); ++i) dirs.set(static_cast<unsigned>(i), v.layerDirs[i]);
  auto sizes = out.initLayerSizes(static_cast<unsigned>(v.layerSizes.size()));
  for (size_t i = 0; i < v.layerSizes.size(); ++i) sizes.set(static_cast<unsigned>(i), v.layerSizes[i]);
  out.setSize(v.size);
  out.setLoadedAtNano(v.loadedAtNano);
  out.setLastTagTimeNano(v.lastTagTimeNano);
}

}  // namespace

int main(int argc, char** argv) {
  std::unique_ptr<images::ImageStore> store;
  std::unique_ptr<images::Transfers> transfers;
  return ipc::runService("images", argc, argv, [&](ipc::ServiceHost& host) {
    auto& events = host.events();
    store = std::make_unique<images::ImageStore>(
        host.config().serviceDataDir("images"),
        [&events](const std::string& action, const std::string& id, const auto& attrs) {
          events.publish({"image", action, id, attrs, "local", 0});
        });
    transfers = std::make_unique<images::Transfers>(host.config().serviceDataDir("images") + "/staging/transfers");
    auto& s = host.server();
    using D = ipc::RpcServer::Dispatch;
    s.implements<ipc::Images>();
    s.handle(ipc::methods::imagesSummary(), [&](auto, ipc::Images::SummaryResults::Builder r) {
      auto c = store->counts();
      r.setImages(c.images);
      r.setLayers(c.layers);
      r.setStorageDriver(c.storageDriver);
      r.setBackingFilesystem(c.backingFilesystem);
    });
    s.handle(ipc::methods::imagesUploadBegin(),
             [&](auto, ipc::Images::UploadBeginResults::Builder r) { r.setUpload(transfers->beginUpload()); });
    s.handle(
        ipc::methods::imagesUploadWrite(),
        [&](ipc::Images::UploadWriteParams::Reader p, auto) {
          auto d = p.getData();
          transfers->write(p.getUpload(), std::string_view(reinterpret_cast<const char*>(d.begin()), d.size()));
        },
        D::worker);
    s.handle(ipc::methods::imagesUploadDiscard(),
             [&](ipc::Images::UploadDiscardParams::Reader p, auto) { transfers->discard(p.getUpload()); });
    s.handle(
        ipc::methods::imagesLoad(),
        [&](ipc::Images::LoadParams::Reader p, ipc::Images::LoadResults::Builder r) {
          std::string path = transfers->takeUpload(p.getUpload());
          struct Remove {
            std::string path;
            ~Remove() { ::unlink(path.c_str()); }
          } remove{path};
          auto lines = store->load(path);
          auto out = r.initLines(static_cast<unsigned>(lines.size()));
          for (size_t i = 0; i < lines.size(); ++i) out.set(static_cast<unsigned>(i), lines[i]);
        },
        D::worker);
    s.handle(
        ipc::methods::imagesImport(),
        [&](ipc::Images::ImportParams::Reader p, ipc::Images::ImportResults::Builder r) {
          std::string path = transfers->takeUpload(p.getUpload());
          struct Remove {
            std::string path;
            ~Remove() { ::unlink(path.c_str()); }
          } remove{path};
          std::vector<std::string> changes;
          for (auto c : p.getChanges()) changes.emplace_back(c);
          r.setId(store->importImage(path, p.getReference(), p.getMessage(), changes));
        },
        D::worker);
    s.handle(ipc::methods::imagesList(), [&](auto, ipc::Images::ListResults::Builder r) {
      auto all = store->list();
      auto out = r.initImages(static_cast<unsigned>(all.size()));
      for (size_t i = 0; i < all.size(); ++i) fillInfo(all[i], out[static_cast<unsigned>(i)]);
    });
    s.handle(ipc::methods::imagesInspect(),
             [&](ipc::Images::InspectParams::Reader p, ipc::Images::InspectResults::Builder r) {
               fillInfo(store->get(p.getRef()), r.initImage());
             });
    s.handle(ipc::methods::imagesTag(),
             [&](ipc::Images::TagParams::Reader p, auto) { store->tag(p.getSource(), p.getTarget()); });
    s.handle(ipc::methods::imagesRemove(),
             [&](ipc::Images::RemoveParams::Reader p, ipc::Images::RemoveResults::Builder r) {
               auto items = store->remove(p.getRef(), p.getForce(), p.getPrune());
               auto out = r.initItems(static_cast<unsigned>(items.size()));
               for (size_t i = 0; i < items.size(); ++i) {
                 if (!items[i].untagged.empty()) out[static_cast<unsigned>(i)].setUntagged(items[i].untagged);
                 else out[static_cast<unsigned>(i)].setDeleted(items[i].deleted);
               }
             });
    s.handle(
        ipc::methods::imagesSaveBegin(),
        [&](ipc::Images::SaveBeginParams::Reader p, ipc::Images::SaveBeginResults::Builder r) {
          std::vector<std::string> refs;
          for (auto ref : p.getRefs()) refs.emplace_back(ref);
          if (refs.empty()) throw Error(ErrorKind::invalid, "no images named");
          std::string path = transfers->pathFor("save");
          try {
            store->save(refs, path);
          } catch (...) {
            ::unlink(path.c_str());
            throw;
          }
          struct stat st {};
          ::stat(path.c_str(), &st);
          r.setDownload(transfers->addDownload(path));
          r.setSize(static_cast<uint64_t>(st.st_size));
        },
        D::worker);
    s.handle(
        ipc::methods::imagesDownloadRead(),
        [&](ipc::Images::DownloadReadParams::Reader p, ipc::Images::DownloadReadResults::Builder r) {
          auto data = transfers->read(p.getDownload(), p.getOffset(), p.getMaxBytes());
          r.setData(kj::arrayPtr(reinterpret_cast<const kj::byte*>(data.data()), data.size()));
        },
        D::worker);
    s.handle(ipc::methods::imagesDownloadClose(),
             [&](ipc::Images::DownloadCloseParams::Reader p, auto) { transfers->discard(p.getDownload()); });
  });
}
