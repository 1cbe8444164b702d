// Layers extracted while the rest of their archive still arrives (docs/images.md, "Loading").
//
// A load learns which of an archive's files are layers, and which of those the store lacks,
// only from the manifest and the configs, and `docker save` writes those last. So every file
// that looks like a layer (see looksLikeLayer) is extracted as soon as it is complete, on a
// small pool, while the outer archive is still being read; the load then takes the extractions
// it needs and cancels the rest. Each extraction is verified by the load like any other (its
// diff id against the config); nothing here makes anything visible.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "services/images/layer_extractor.h"

namespace berth::images {

// Whether the file `path`, unpacked from an archive under `name`, is worth extracting before
// the manifest says what it is: docker's `<id>/layer.tar`, or an OCI blob whose first bytes
// are gzip's or a tar header's (configs and manifests, JSON, are not).
bool looksLikeLayer(const std::string& name, const std::string& path);

class EarlyExtractions {
 public:
  struct Done {
    std::string dir;  // <dir>/diff is the extracted layer, <dir>.tar its uncompressed tar
    ExtractedLayer layer;
    std::string error;  // set when the extraction failed; then `layer` is empty
  };

  // Extractions go to numbered directories under `workDir`, at most `threads` at once.
  EarlyExtractions(std::string workDir, size_t threads);
  ~EarlyExtractions();  // cancels what is left and waits for it

  void submit(const std::string& file);
  // Cancels every extraction whose file is not in `needed`.
  void keepOnly(const std::set<std::string>& needed);
  // Waits for the extraction of `file` and hands it over; nullopt when none was submitted, it
  // was cancelled, or it was taken already (one file can be two layers of an image).
  std::optional<Done> take(const std::string& file);

  size_t submitted() const;

 private:
  struct Job {
    std::string file;
    std::string dir;
    std::atomic<bool> cancel{false};
    bool started = false, done = false, taken = false;
    Done result;
  };
  void work();

  std::string workDir_;
  size_t maxThreads_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, std::unique_ptr<Job>> jobs_;
  std::deque<Job*> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace berth::images
