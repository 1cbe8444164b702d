#include "services/images/public/images_client.h"

#include "ipc/capnp_text.h"
#include "ipc/methods.h"
#include "ipc/rpc_client.h"
#include "services/images/public/image_info_wire.h"

namespace berth::images {

namespace {

void setAuth(ipc::RegistryAuth::Builder out, const RegistryAuth& auth) {
  out.setUsername(auth.username);
  out.setPassword(auth.password);
}

}  // namespace

ImageInfo imageInfoFromWire(ipc::ImageInfo::Reader in) {
  ImageInfo out;
  out.id = in.getId();
  out.repoTags = ipc::texts(in.getRepoTags());
  out.repoDigests = ipc::texts(in.getRepoDigests());
  out.configJson = ipc::text(in.getConfig());
  out.diffIds = ipc::texts(in.getDiffIds());
  out.layerDirs = ipc::texts(in.getLayerDirs());
  for (auto size : in.getLayerSizes()) out.layerSizes.push_back(size);
  out.size = in.getSize();
  out.loadedAtNano = in.getLoadedAtNano();
  out.lastTagTimeNano = in.getLastTagTimeNano();
  return out;
}

ImagesClient::ImagesClient(ipc::RpcClient& rpc) : rpc_(rpc) {}

ImagesClient::ImagesClient(zmq::context_t& context, const std::string& endpoint)
    : owned_(std::make_unique<ipc::RpcClient>(context, endpoint)), rpc_(*owned_) {}

ImagesClient::~ImagesClient() = default;

ImagesSummary ImagesClient::summary(Deadline deadline) {
  auto reply = rpc_.callIdempotent(ipc::methods::imagesSummary(), deadline);
  auto r = reply.get();
  return {r.getImages(), r.getLayers(), r.getStorageDriver(), r.getBackingFilesystem()};
}

std::string ImagesClient::uploadBegin(Deadline deadline, bool loadAhead) {
  return rpc_
      .call(ipc::methods::imagesUploadBegin(), deadline,
            [&](ipc::Images::UploadBeginParams::Builder p) { p.setLoadAhead(loadAhead); })
      .get()
      .getUpload();
}

void ImagesClient::uploadWrite(const std::string& upload, std::string_view data, Deadline deadline) {
  rpc_.callWithBlob(ipc::methods::imagesUploadWrite(), deadline, data.size(),
                    [&](ipc::Images::UploadWriteParams::Builder p) {
                      p.setUpload(upload);
                      p.setData(ipc::bytes(data));
                    });
}

void ImagesClient::uploadDiscard(const std::string& upload, Deadline deadline) {
  rpc_.call(ipc::methods::imagesUploadDiscard(), deadline,
            [&](ipc::Images::UploadDiscardParams::Builder p) { p.setUpload(upload); });
}

LoadResult ImagesClient::load(const std::string& upload, Deadline deadline) {
  auto reply = rpc_.call(ipc::methods::imagesLoad(), deadline, [&](ipc::Images::LoadParams::Builder p) { p.setUpload(upload); });
  LoadResult out;
  out.lines = ipc::texts(reply.get().getLines());
  for (auto layer : reply.get().getLayers()) out.layers.push_back({layer.getDiffId(), layer.getBytes()});
  return out;
}

std::string ImagesClient::importImage(const std::string& upload, const std::string& reference, const std::string& message,
                                      const std::vector<std::string>& changes, Deadline deadline) {
  auto reply = rpc_.call(ipc::methods::imagesImport(), deadline, [&](ipc::Images::ImportParams::Builder p) {
    p.setUpload(upload);
    p.setReference(reference);
    p.setMessage(message);
    ipc::setTexts(p.initChanges(static_cast<unsigned>(changes.size())), changes);
  });
  return reply.get().getId();
}

std::vector<ImageInfo> ImagesClient::list(Deadline deadline) {
  auto reply = rpc_.callIdempotent(ipc::methods::imagesList(), deadline);
  std::vector<ImageInfo> out;
  for (auto image : reply.get().getImages()) out.push_back(imageInfoFromWire(image));
  return out;
}

ImageInfo ImagesClient::inspect(const std::string& ref, Deadline deadline) {
  auto reply = rpc_.callIdempotent(ipc::methods::imagesInspect(), deadline,
                                   [&](ipc::Images::InspectParams::Builder p) { p.setRef(ref); });
  return imageInfoFromWire(reply.get().getImage());
}

void ImagesClient::tag(const std::string& source, const std::string& target, Deadline deadline) {
  rpc_.call(ipc::methods::imagesTag(), deadline, [&](ipc::Images::TagParams::Builder p) {
    p.setSource(source);
    p.setTarget(target);
  });
}

std::vector<RemovedItem> ImagesClient::remove(const std::string& ref, bool force, bool prune, Deadline deadline) {
  auto reply = rpc_.call(ipc::methods::imagesRemove(), deadline, [&](ipc::Images::RemoveParams::Builder p) {
    p.setRef(ref);
    p.setForce(force);
    p.setPrune(prune);
  });
  std::vector<RemovedItem> out;
  for (auto item : reply.get().getItems()) {
    if (item.isUntagged()) out.push_back({item.getUntagged(), ""});
    else out.push_back({"", item.getDeleted()});
  }
  return out;
}

Download ImagesClient::saveBegin(const std::vector<std::string>& refs, Deadline deadline) {
  auto reply = rpc_.call(ipc::methods::imagesSaveBegin(), deadline, [&](ipc::Images::SaveBeginParams::Builder p) {
    ipc::setTexts(p.initRefs(static_cast<unsigned>(refs.size())), refs);
  });
  return {reply.get().getDownload(), reply.get().getSize()};
}

Download ImagesClient::exportBegin(const std::string& container, Deadline deadline) {
  auto reply = rpc_.call(ipc::methods::imagesExportBegin(), deadline,
                         [&](ipc::Images::ExportBeginParams::Builder p) { p.setContainer(container); });
  return {reply.get().getDownload(), reply.get().getSize()};
}

DownloadChunk::DownloadChunk(std::unique_ptr<ipc::MessageIn> reply, std::string_view bytes)
    : reply_(std::move(reply)), bytes_(bytes) {}
DownloadChunk::DownloadChunk(DownloadChunk&&) noexcept = default;
DownloadChunk::~DownloadChunk() = default;

DownloadChunk ImagesClient::downloadRead(const std::string& download, uint64_t offset, uint32_t maxBytes,
                                         Deadline deadline) {
  auto reply = rpc_.call(ipc::methods::imagesDownloadRead(), deadline, [&](ipc::Images::DownloadReadParams::Builder p) {
    p.setDownload(download);
    p.setOffset(offset);
    p.setMaxBytes(maxBytes);
  });
  auto data = reply.get().getData();
  std::string_view bytes(reinterpret_cast<const char*>(data.begin()), data.size());
  return DownloadChunk(std::move(reply).take(), bytes);
}

void ImagesClient::downloadClose(const std::string& download, Deadline deadline) {
  rpc_.call(ipc::methods::imagesDownloadClose(), deadline,
            [&](ipc::Images::DownloadCloseParams::Builder p) { p.setDownload(download); });
}

std::string ImagesClient::pull(const std::string& reference, const RegistryAuth& auth, Deadline deadline) {
  auto reply = rpc_.call(ipc::methods::imagesPull(), deadline, [&](ipc::Images::PullParams::Builder p) {
    p.setReference(reference);
    setAuth(p.initAuth(), auth);
  });
  return reply.get().getOperation();
}

std::string ImagesClient::push(const std::string& reference, const RegistryAuth& auth, Deadline deadline) {
  auto reply = rpc_.call(ipc::methods::imagesPush(), deadline, [&](ipc::Images::PushParams::Builder p) {
    p.setReference(reference);
    setAuth(p.initAuth(), auth);
  });
  return reply.get().getOperation();
}

void ImagesClient::login(const std::string& host, const RegistryAuth& auth, Deadline deadline) {
  rpc_.call(ipc::methods::imagesLogin(), deadline, [&](ipc::Images::LoginParams::Builder p) {
    p.setHost(host);
    setAuth(p.initAuth(), auth);
  });
}

OperationProgress ImagesClient::progress(const std::string& operation, uint32_t from, uint32_t waitMs, Deadline deadline) {
  auto reply = rpc_.call(ipc::methods::imagesProgress(), deadline, [&](ipc::Images::ProgressParams::Builder p) {
    p.setOperation(operation);
    p.setFrom(from);
    p.setWaitMs(waitMs);
  });
  return {ipc::texts(reply.get().getLines()), reply.get().getDone()};
}

PreparedRootfs ImagesClient::prepareRootfs(const std::string& container, const std::string& image, Deadline deadline) {
  auto reply = rpc_.callIdempotent(ipc::methods::imagesPrepareRootfs(), deadline,
                                   [&](ipc::Images::PrepareRootfsParams::Builder p) {
                                     p.setContainer(container);
                                     p.setImage(image);
                                   });
  PreparedRootfs out;
  for (auto m : reply.get().getMounts()) out.mounts.push_back({m.getType(), m.getSource(), ipc::texts(m.getOptions())});
  out.imageId = reply.get().getImageId();
  out.configJson = ipc::text(reply.get().getConfig());
  return out;
}

void ImagesClient::releaseRootfs(const std::string& container, Deadline deadline) {
  rpc_.callIdempotent(ipc::methods::imagesReleaseRootfs(), deadline,
                      [&](ipc::Images::ReleaseRootfsParams::Builder p) { p.setContainer(container); });
}

std::vector<LayerChange> ImagesClient::changes(const std::string& container, Deadline deadline) {
  auto reply = rpc_.callIdempotent(ipc::methods::imagesChanges(), deadline,
                                   [&](ipc::Images::ChangesParams::Builder p) { p.setContainer(container); });
  std::vector<LayerChange> out;
  for (auto c : reply.get().getChanges()) out.push_back({c.getKind(), c.getPath()});
  return out;
}

std::string ImagesClient::commit(const std::string& container, const std::string& configJson,
                                 const std::vector<std::string>& changes, const std::string& reference,
                                 const std::string& message, const std::string& author, Deadline deadline) {
  auto reply = rpc_.call(ipc::methods::imagesCommit(), deadline, [&](ipc::Images::CommitParams::Builder p) {
    p.setContainer(container);
    p.setConfig(ipc::bytes(configJson));
    ipc::setTexts(p.initChanges(static_cast<unsigned>(changes.size())), changes);
    p.setReference(reference);
    p.setMessage(message);
    p.setAuthor(author);
  });
  return reply.get().getId();
}

ContainerSize ImagesClient::containerSize(const std::string& container, Deadline deadline) {
  auto reply = rpc_.callIdempotent(ipc::methods::imagesContainerSize(), deadline,
                                   [&](ipc::Images::ContainerSizeParams::Builder p) { p.setContainer(container); });
  return {reply.get().getRw(), reply.get().getRootFs()};
}

std::map<std::string, ContainerSize> ImagesClient::containerSizes(const std::vector<std::string>& containers,
                                                                  Deadline deadline) {
  auto reply = rpc_.callIdempotent(ipc::methods::imagesContainerSizes(), deadline,
                                   [&](ipc::Images::ContainerSizesParams::Builder p) {
                                     ipc::setTexts(p.initContainers(static_cast<unsigned>(containers.size())), containers);
                                   });
  std::map<std::string, ContainerSize> out;
  for (auto s : reply.get().getSizes()) out[s.getContainer()] = {s.getRw(), s.getRootFs()};
  return out;
}

}  // namespace berth::images
