// The images service as its callers see it (the API, and the containerd-bridge for root
// filesystems): one typed method per method of ipc/schema/images.capnp, taking and returning
// plain C++ values. The schema states each method's contract; this client hides the Cap'n
// Proto messages, so no caller builds or reads them itself.
//
// This is the public part of the images service: it includes nothing of the service's private
// implementation (services/images/CMakeLists.txt checks), and the service's core does not
// depend on it.
//
// Every method takes the caller's deadline. Methods that are safe to repeat (summary, list,
// inspect, prepareRootfs, releaseRootfs, changes, containerSize, containerSizes) retry while the
// service restarts, until
// the deadline; the others fail `unavailable` at once when it goes away (ipc/rpc_client.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace zmq {
class context_t;
}

namespace berth::ipc {
class MessageIn;
class RpcClient;
}

namespace berth::images {

using Deadline = std::chrono::steady_clock::time_point;

struct ImagesSummary {
  uint32_t images = 0;
  uint32_t layers = 0;
  std::string storageDriver;
  std::string backingFilesystem;
};

struct ImageInfo {
  std::string id;                        // "sha256:<hex>", the digest of the config
  std::vector<std::string> repoTags;     // "name:tag", familiar form
  std::vector<std::string> repoDigests;  // "name@sha256:..."
  std::string configJson;                // the image config exactly as stored
  std::vector<std::string> diffIds;      // bottom layer first
  std::vector<std::string> layerDirs;    // extracted layers, bottom first
  std::vector<int64_t> layerSizes;       // bytes of file content per layer, bottom first
  int64_t size = 0;                      // the sum of layerSizes
  int64_t loadedAtNano = 0;
  int64_t lastTagTimeNano = 0;           // 0 when never tagged
};

struct LoadedLayer {
  std::string diffId;
  uint64_t bytes = 0;  // the uncompressed tar's length
};

struct LoadResult {
  std::vector<std::string> lines;  // dockerd's ("Loaded image: busybox:latest")
  std::vector<LoadedLayer> layers;
};

struct RegistryAuth {
  std::string username;  // empty: anonymous
  std::string password;
};

// One line of rmi's answer: exactly one of the two is set.
struct RemovedItem {
  std::string untagged;  // a reference that was removed
  std::string deleted;   // an image id or layer chain id that was deleted
};

// A file the service staged for reading with downloadRead.
struct Download {
  std::string id;
  uint64_t size = 0;
};

// One read of a download: its bytes where the reply brought them, so a chunk on its way to a
// client is not copied again. Empty at the end of the download.
class DownloadChunk {
 public:
  DownloadChunk(std::unique_ptr<ipc::MessageIn> reply, std::string_view bytes);
  DownloadChunk(DownloadChunk&&) noexcept;
  ~DownloadChunk();
  std::string_view bytes() const { return bytes_; }

 private:
  std::unique_ptr<ipc::MessageIn> reply_;
  std::string_view bytes_;
};

struct OperationProgress {
  std::vector<std::string> lines;  // dockerd's JSON progress messages
  bool done = false;
};

struct RootfsMount {
  std::string type;  // "overlay"
  std::string source;
  std::vector<std::string> options;
};

struct PreparedRootfs {
  std::vector<RootfsMount> mounts;
  std::string imageId;
  std::string configJson;  // the image config document
};

struct LayerChange {
  uint8_t kind = 0;  // 0 modified, 1 added, 2 deleted (Docker's numbering)
  std::string path;
};

struct ContainerSize {
  int64_t rw = 0;      // SizeRw
  int64_t rootFs = 0;  // SizeRootFs
};

class ImagesClient {
 public:
  // Over an RPC client the caller owns and keeps alive (the API shares it with its event hub).
  explicit ImagesClient(ipc::RpcClient& rpc);
  // With an RPC client of its own to `endpoint`.
  ImagesClient(zmq::context_t& context, const std::string& endpoint);
  ~ImagesClient();
  ImagesClient(const ImagesClient&) = delete;
  ImagesClient& operator=(const ImagesClient&) = delete;

  ImagesSummary summary(Deadline deadline);

  // Uploads: a client's request body (docker load, docker import) staged in the service.
  // With `loadAhead`, the upload is loaded as it arrives; load() then waits for that load.
  std::string uploadBegin(Deadline deadline, bool loadAhead = false);
  void uploadWrite(const std::string& upload, std::string_view data, Deadline deadline);
  void uploadDiscard(const std::string& upload, Deadline deadline);

  LoadResult load(const std::string& upload, Deadline deadline);
  std::string importImage(const std::string& upload, const std::string& reference, const std::string& message,
                          const std::vector<std::string>& changes, Deadline deadline);
  std::vector<ImageInfo> list(Deadline deadline);
  ImageInfo inspect(const std::string& ref, Deadline deadline);
  void tag(const std::string& source, const std::string& target, Deadline deadline);
  std::vector<RemovedItem> remove(const std::string& ref, bool force, bool prune, Deadline deadline);

  // Downloads: docker save and docker export, read piece by piece.
  Download saveBegin(const std::vector<std::string>& refs, Deadline deadline);
  Download exportBegin(const std::string& container, Deadline deadline);
  DownloadChunk downloadRead(const std::string& download, uint64_t offset, uint32_t maxBytes, Deadline deadline);
  void downloadClose(const std::string& download, Deadline deadline);

  // Registries: pull and push start an operation whose progress is read with `progress`.
  std::string pull(const std::string& reference, const RegistryAuth& auth, Deadline deadline);
  std::string push(const std::string& reference, const RegistryAuth& auth, Deadline deadline);
  void login(const std::string& host, const RegistryAuth& auth, Deadline deadline);
  OperationProgress progress(const std::string& operation, uint32_t from, uint32_t waitMs, Deadline deadline);

  // A container's writable layer.
  PreparedRootfs prepareRootfs(const std::string& container, const std::string& image, Deadline deadline);
  void releaseRootfs(const std::string& container, Deadline deadline);
  std::vector<LayerChange> changes(const std::string& container, Deadline deadline);
  // `changes`: the client's Dockerfile instructions, applied to `configJson` by the service.
  std::string commit(const std::string& container, const std::string& configJson, const std::vector<std::string>& changes,
                     const std::string& reference, const std::string& message, const std::string& author,
                     Deadline deadline);
  ContainerSize containerSize(const std::string& container, Deadline deadline);
  // By container id; containers without a layer are left out.
  std::map<std::string, ContainerSize> containerSizes(const std::vector<std::string>& containers, Deadline deadline);

 private:
  std::unique_ptr<ipc::RpcClient> owned_;
  ipc::RpcClient& rpc_;
};

}  // namespace berth::images
