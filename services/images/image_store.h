// The image store under <data-root>/images, owned by berth-images alone (docs/images.md):
//
//   blobs/sha256/<hex>                 verified content: image configs and the uncompressed tar
//                                      of every layer (what `docker save` hands back)
//   imagedb/content/sha256/<hex>       one file per image (its config): the set of images
//   layerdb/sha256/<chain hex>.json    one file per committed layer: diff id, parent, sizes
//   layers/<chain hex>/diff/           the extracted layer, an overlay lower directory
//   references.json                    tags and digests -> image id
//   staging/                           work in progress; emptied at every start
//
// Crash safety: everything is built in staging/ and renamed into place, and the record that
// makes an object visible is written last (a layer's layerdb file after its directory and blob,
// an image's imagedb file after its layers, references after the image). At start, layer
// directories without a record, layers no image uses and references to missing images are
// removed, so a crash at any point leaves no partial image, tag or layer visible.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/digest.h"
#include "services/images/registry_client.h"

namespace berth::images {

struct ImageCounts {
  unsigned images = 0;
  unsigned layers = 0;
  std::string storageDriver = "overlay2";
  std::string backingFilesystem;  // e.g. "extfs", "xfs", "tmpfs"
};

struct LayerRecord {
  std::string chainId;
  std::string diffId;
  std::string parent;  // chain id of the layer below, empty for a base layer
  uint64_t contentBytes = 0;
  uint64_t tarBytes = 0;
};

struct ImageView {
  std::string id;                        // "sha256:<hex>", the digest of the config
  std::string configJson;                // the config as stored
  std::vector<std::string> repoTags;     // "name:tag", sorted
  std::vector<std::string> repoDigests;  // "name@sha256:...", sorted
  std::vector<std::string> diffIds;
  std::vector<std::string> layerDirs;    // extracted layers, bottom first
  std::vector<int64_t> layerSizes;       // bytes of file content per layer, bottom first
  int64_t size = 0;                      // bytes of file content in all layers
  int64_t loadedAtNano = 0;
  int64_t lastTagTimeNano = 0;
};

struct DeleteItem {
  std::string untagged;  // set for an untag
  std::string deleted;   // set for a deleted image or layer
};

class ImageStore {
 public:
  // action ("load", "tag", "untag", "delete", "save"), actor id, attributes
  using EventSink =
      std::function<void(const std::string&, const std::string&, const std::vector<std::pair<std::string, std::string>>&)>;

  // Opens (and repairs) the store under `root`.
  ImageStore(std::string root, EventSink events = {});

  ImageCounts counts() const;

  // A fresh path in staging/ for an upload; removed by the caller or at the next start.
  std::string stagingPath(const std::string& prefix);

  // Loads a `docker save` archive (manifest.json) or an OCI image layout (index.json), plain or
  // gzip. Returns dockerd's lines: "Loaded image: name:tag" or "Loaded image ID: sha256:...".
  // Nothing becomes visible unless the whole image verified.
  struct LoadResult {
    std::vector<std::string> lines;
    std::vector<std::pair<std::string, uint64_t>> extracted;  // diff id, tar bytes
  };
  LoadResult load(const std::string& archivePath);
  // The same from a stream: `source` fills up to `size` bytes and returns how many, 0 at the
  // archive's end, and throws to abandon the load. Layers are extracted as they arrive.
  using ArchiveSource = std::function<size_t(char* buffer, size_t size)>;
  LoadResult load(const ArchiveSource& source);

  // Makes a one-layer image from a root filesystem tarball (docker import): `changes` are
  // Dockerfile instructions for the config, `message` its comment, `reference` an optional
  // name[:tag]. Returns the new image's id.
  std::string importImage(const std::string& tarPath, const std::string& reference, const std::string& message,
                          const std::vector<std::string>& changes);

  // docker pull / push / login against a distribution v2 registry. Progress comes back as
  // dockerd's JSON progress messages, one per line. A pull is all or nothing like a load.
  using Progress = std::function<void(const std::string&)>;
  void pull(const std::string& reference, const RegistryCredentials& credentials, bool plainHttp,
            const Progress& progress);
  void push(const std::string& reference, const RegistryCredentials& credentials, bool plainHttp,
            const Progress& progress);
  void login(const std::string& host, const RegistryCredentials& credentials, bool plainHttp);

  // A container's writable layer over an image (docs/images.md, "Container layers"). The
  // store records which image each container uses, so that image cannot be deleted under it.
  struct Mount {
    std::string type;
    std::string source;
    std::vector<std::string> options;
  };
  struct Change {
    int kind;  // 0 modified, 1 added, 2 deleted (Docker's numbering)
    std::string path;
  };
  // Creates the writable layer of `container` over the image `imageRef` names and returns the
  // overlay mount that assembles its root filesystem (the caller, containerd, mounts it).
  // Idempotent for the same container and image. Returns the image id through `imageId`.
  std::vector<Mount> prepareContainerLayer(const std::string& container, const std::string& imageRef,
                                           std::string& imageId);
  void releaseContainerLayer(const std::string& container);
  std::vector<Change> containerChanges(const std::string& container) const;
  struct ContainerSize {
    int64_t rw = 0;      // file content in the writable layer
    int64_t rootFs = 0;  // and in the image below it
  };
  // notFound when the container has no layer.
  ContainerSize containerSize(const std::string& container) const;
  // The sizes of those of `containers` that have a layer, by container id.
  std::map<std::string, ContainerSize> containerSizes(const std::vector<std::string>& containers) const;
  // The container's merged filesystem as a tar (docker export), built from the layers without
  // mounting anything.
  void exportContainer(const std::string& container, const std::string& outPath);
  // The same in two steps, so that a streamed export answers an unknown container before its
  // first byte: the container's layers, held (notFound "no layer for container ID" when it has
  // none), then their tar written to `fd` (the file `name`, for errors), telling `written` as
  // writeSave does. While a plan is alive, releaseContainerLayer leaves the layers for the
  // export to finish reading (dockerd's export holds a reference of its own to the container's
  // layer): they are removed when the last plan goes, or at the next start if this process
  // dies first.
  struct ExportPlan {
    std::vector<std::string> layers;  // top first: the writable layer's upper dir, then the image's
    std::shared_ptr<void> hold;
  };
  ExportPlan planExport(const std::string& container);
  void writeExport(const ExportPlan& plan, int fd, const std::string& name,
                   const std::function<bool(uint64_t)>& written = nullptr) const;
  // A new image from the container's writable layer over its image (docker commit). `config`
  // is the new image's "config" object before `changes` (Dockerfile instructions, as for
  // import) are applied to it; `reference` may be empty. Bad changes or a bad reference fail
  // with invalid before anything is written.
  std::string commitContainer(const std::string& container, const nlohmann::json& config, const std::string& reference,
                              const std::string& message, const std::string& author,
                              const std::vector<std::string>& changes = {});

  // Told of every change of what list() answers, under the store's lock and so in the order
  // the changes are made: the ids of the images the change touched, and `viewOf(id)`, the
  // image as it is now (nullopt: deleted), to be called during the call only. It must not
  // throw or call back into the store (the images' views channel, image_view_feed.h).
  using ViewOf = std::function<std::optional<ImageView>(const std::string& id)>;
  using ChangeObserver = std::function<void(const std::set<std::string>& ids, const ViewOf& viewOf)>;
  void onChange(ChangeObserver observer) {
    std::lock_guard lock(mutex_);
    observer_ = std::move(observer);
  }
  // Calls `with(every image, as list() answers)` under the store's lock: no change is made or
  // told meanwhile.
  void withAll(const std::function<void(const std::vector<ImageView>&)>& with) const;

  std::vector<ImageView> list() const;
  // By full id, name[:tag], name@digest or unambiguous id prefix. notFound: "No such image: REF".
  ImageView get(const std::string& ref) const;
  void tag(const std::string& source, const std::string& target);
  std::vector<DeleteItem> remove(const std::string& ref, bool force, bool prune);
  // Writes a docker-archive tar (manifest.json, repositories, configs, layer tars) of `refs`.
  void save(const std::vector<std::string>& refs, const std::string& outPath);
  // The same in two steps, so that a streamed save answers an unknown name before its first
  // byte: what `refs` name (notFound as get()), then the archive of it written to `fd` (the
  // file `name`, for errors) sequentially. `written`, when given, is told how many bytes of the
  // file are whole as they are written; returning false stops the write (the archive's reader
  // is gone).
  struct SavePlan {
    struct Entry {
      std::string id;
      std::vector<std::string> tags;
      std::vector<std::string> diffIds;
      std::string config;
    };
    std::vector<Entry> entries;
  };
  SavePlan planSave(const std::vector<std::string>& refs) const;
  void writeSave(const SavePlan& plan, int fd, const std::string& name,
                 const std::function<bool(uint64_t)>& written = nullptr);

 private:
  // The sizes of the container's layer; nullopt when it has none.
  std::optional<ContainerSize> layerSizeOf(const std::string& container) const;

  struct Image {
    std::string id;
    std::string configJson;
    std::vector<std::string> diffIds;
    std::vector<std::string> chainIds;
    int64_t loadedAtNano = 0;
  };

  void recover();
  std::vector<ImageView> listLocked() const;
  // The images one change under the lock touches; tells the observer about them when it goes
  // out of scope (before the lock is released), whether the change completed or threw.
  class Touched {
   public:
    explicit Touched(const ImageStore& store) : store_(store) {}
    ~Touched();
    Touched(const Touched&) = delete;
    Touched& operator=(const Touched&) = delete;
    void add(const std::string& id) { ids_.insert(id); }
    // The image `reference` points at now, if any: it loses the reference.
    void addOwnerOf(const std::string& reference);

   private:
    const ImageStore& store_;
    std::set<std::string> ids_;
  };
  std::string containerDir(const std::string& container) const;
  std::vector<std::string> imageLayerDirsLocked(const std::string& imageId) const;
  // Makes a verified image visible and points `refs` at it; returns dockerd's "renaming"
  // notices for tags taken from another image.
  std::vector<std::string> registerImage(const std::string& id, const std::string& configText,
                                         const std::vector<std::string>& diffIds,
                                         const std::vector<std::string>& chainIds, const std::vector<std::string>& refs);
  std::string resolveLocked(const std::string& ref) const;  // image id, or throws notFound
  ImageView viewLocked(const Image& image) const;
  ImageView viewLocked(const Image& image, const std::vector<std::string>& refs) const;  // refs: refsOfLocked(image.id)
  void writeReferencesLocked();
  std::vector<std::string> refsOfLocked(const std::string& id) const;
  void deleteImageLocked(const std::string& id, std::vector<DeleteItem>& out);
  std::string commitLayer(const std::string& stagedDir, const std::string& stagedTar, const LayerRecord& record);
  void emit(const std::string& action, const std::string& id,
            const std::vector<std::pair<std::string, std::string>>& attrs = {});

  std::string root_;
  EventSink events_;
  ChangeObserver observer_;
  mutable std::mutex mutex_;
  std::map<std::string, Image> images_;          // id -> image
  std::map<std::string, LayerRecord> layers_;    // chain id -> layer
  std::map<std::string, std::string> references_;  // familiar reference -> image id
  std::map<std::string, int64_t> tagTimes_;      // image id -> last tag time
  std::mutex layerCommitMutex_;                  // serialises commits of the same chain
  uint64_t stagingCounter_ = 0;
  std::map<std::string, std::set<std::string>> blobRepos_;
  static constexpr const char* kReleasedMarker = "released";  // in rw/<id>: released while exported
  std::map<std::string, int> exports_;         // container id -> export plans alive
  std::set<std::string> releasedWhileExported_;  // their layers go with the last plan
  void endExport(const std::string& container);
  std::map<std::string, std::string> containerImages_;  // container id -> image id (rw/<id>/image)  // compressed digest -> "host/repo"s known to hold it
};

std::string chainIdOf(const std::string& parentChain, const std::string& diffId);

}  // namespace berth::images
