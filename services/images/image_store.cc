#include "services/images/image_store.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <filesystem>
#include <set>
#include <unordered_map>
#include <string_view>
#include <thread>

#include "common/digest.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/time_format.h"
#include "common/dockerfile/changes.h"
#include "services/images/early_extractions.h"
#include "services/images/layer_extractor.h"
#include "common/image_reference.h"
#include "services/images/tar_out.h"
#include "common/json_text.h"

namespace berth::images {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

std::string hexOf(const std::string& digest) { return digest.rfind("sha256:", 0) == 0 ? digest.substr(7) : digest; }

std::string filesystemName(long type) {
  switch (static_cast<unsigned long>(type)) {
    case 0xEF53: return "extfs";
    case 0x58465342: return "xfs";
    case 0x9123683E: return "btrfs";
    case 0x01021994: return "tmpfs";
    case 0x794c7630: return "overlayfs";
    default: return "unknown";
  }
}

[[noreturn]] void badArchive(const std::string& what) { throw Error(ErrorKind::invalid, "invalid archive: " + what); }

// libarchive's reason for a failed read, in dockerd's words where they differ: an archive cut
// short is Go's "unexpected EOF" there.
std::string readFailure(archive* a) {
  const char* reason = archive_error_string(a);
  if (reason == nullptr || std::string_view(reason).find("Truncated") != std::string_view::npos) return "unexpected EOF";
  return reason;
}

// Manifests, indexes and configs are small; a bigger file is refused before it is read whole.
constexpr uintmax_t kMaxMetadataBytes = 8 << 20;

std::string readMetadata(const std::string& path, const std::string& what) {
  if (fs::file_size(path) > kMaxMetadataBytes) badArchive(what + " is larger than 8 MiB");
  return readFile(path);
}

json parseJson(const std::string& text, const std::string& what) {
  auto j = parseJsonOrDiscarded(text);
  if (j.is_discarded()) badArchive(what + " is not valid JSON");
  return j;
}

// One image found in an archive, before it is verified.
struct ArchiveImage {
  std::string configPath;
  std::vector<std::string> layerPaths;
  std::vector<std::string> repoTags;
};

// An archive's image, its config read and checked once: what the load needs of it, or why it
// is refused (raised when the load reaches that image, as before any was read ahead).
struct PlannedImage {
  std::string configText;
  std::string id;
  std::vector<std::string> diffIds;
  std::vector<std::string> chains;  // chains[i]: the chain id of layers 0..i
  std::exception_ptr refusal;
};

PlannedImage planImage(const ArchiveImage& ai) {
  PlannedImage plan;
  auto refuse = [&](const std::string& what) {
    plan.refusal = std::make_exception_ptr(Error(ErrorKind::invalid, "invalid archive: " + what));
    plan.chains.clear();
    return plan;
  };
  try {
    plan.configText = readMetadata(ai.configPath, "image config");
  } catch (const Error&) {
    plan.refusal = std::current_exception();
    return plan;
  }
  plan.id = "sha256:" + sha256Hex(plan.configText);
  json config = parseJsonOrDiscarded(plan.configText);
  if (config.is_discarded()) return refuse("image config is not valid JSON");
  if (!config.is_object() || !config.contains("rootfs") || !config["rootfs"].is_object() ||
      !config["rootfs"].value("diff_ids", json()).is_array()) {
    return refuse("image config " + plan.id + " has no rootfs.diff_ids");
  }
  const auto& diffIds = config["rootfs"]["diff_ids"];
  if (diffIds.size() != ai.layerPaths.size()) {
    return refuse("image " + plan.id + " lists " + std::to_string(diffIds.size()) +
                  " layers in its config but the archive has " + std::to_string(ai.layerPaths.size()));
  }
  std::string chain;
  for (const auto& d : diffIds) {
    if (!d.is_string()) return refuse("image config " + plan.id + " has a diff id that is not a string");
    std::string diff = d;
    if (!isFullImageId(diff) || diff.rfind("sha256:", 0) != 0) return refuse("bad diff id " + diff);
    chain = chainIdOf(chain, diff);
    plan.diffIds.push_back(diff);
    plan.chains.push_back(chain);
  }
  return plan;
}

}  // namespace

std::string chainIdOf(const std::string& parentChain, const std::string& diffId) {
  if (parentChain.empty()) return diffId;
  return "sha256:" + sha256Hex(parentChain + " " + diffId);
}

ImageStore::ImageStore(std::string root, EventSink events) : events_(std::move(events)) {
  makeDirectories(root, 0700);
  // Extraction refuses paths through symlinks, so the store's own path must have none.
  root_ = fs::canonical(root).string();
  for (const char* d : {"blobs/sha256", "imagedb/content/sha256", "layerdb/sha256", "layers", "staging", "rw"}) {
    makeDirectories(root_ + "/" + d, 0700);
  }
  recover();
}

void ImageStore::recover() {
  removeAll(root_ + "/staging");
  makeDirectories(root_ + "/staging", 0700);
  // Layers: a directory without its record is an interrupted commit.
  for (const auto& e : fs::directory_iterator(root_ + "/layerdb/sha256")) {
    if (e.path().extension() != ".json") {
      fs::remove(e.path());
      continue;
    }
    auto j = parseJsonOrDiscarded(readFile(e.path()));
    if (j.is_discarded()) {
      spdlog::warn("images: dropping unreadable layer record {}", e.path().string());
      fs::remove(e.path());
      continue;
    }
    LayerRecord r{j.value("chainId", ""), j.value("diffId", ""), j.value("parent", ""),
                  j.value("contentBytes", uint64_t{0}), j.value("tarBytes", uint64_t{0})};
    if (fs::is_directory(root_ + "/layers/" + hexOf(r.chainId) + "/diff") &&
        fs::exists(root_ + "/blobs/sha256/" + hexOf(r.diffId))) {
      layers_[r.chainId] = r;
    } else {
      fs::remove(e.path());
    }
  }
  for (const auto& e : fs::directory_iterator(root_ + "/layers")) {
    if (!layers_.count("sha256:" + e.path().filename().string())) removeAll(e.path());
  }
  // Images: each needs all its layers.
  for (const auto& e : fs::directory_iterator(root_ + "/imagedb/content/sha256")) {
    std::string hex = e.path().filename();
    std::string text = readFile(e.path());
    if (sha256Hex(text) != hex) {
      spdlog::warn("images: dropping image {} whose config does not match its digest", hex);
      fs::remove(e.path());
      continue;
    }
    auto config = parseJsonOrDiscarded(text);
    if (!config.is_object() || !config.contains("rootfs") || !config["rootfs"].is_object() ||
        !config["rootfs"].value("diff_ids", json()).is_array()) {
      spdlog::warn("images: dropping image {} whose config has no rootfs", hex);
      fs::remove(e.path());
      continue;
    }
    Image img;
    img.id = "sha256:" + hex;
    img.configJson = text;
    img.loadedAtNano = static_cast<int64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(fs::last_write_time(e.path()).time_since_epoch()).count());
    std::string chain;
    bool complete = !config.is_discarded();
    if (complete) {
      for (const auto& d : config["rootfs"]["diff_ids"]) {
        if (!d.is_string()) {
          complete = false;
          break;
        }
        chain = chainIdOf(chain, d.get<std::string>());
        img.diffIds.push_back(d.get<std::string>());
        img.chainIds.push_back(chain);
        complete = complete && layers_.count(chain);
      }
    }
    if (!complete) {
      spdlog::warn("images: dropping image {} with missing layers", img.id);
      fs::remove(e.path());
      continue;
    }
    images_[img.id] = img;
  }
  // References to images that are gone are dropped.
  if (auto text = readFileIfExists(root_ + "/references.json")) {
    auto j = parseJsonOrDiscarded(*text);
    if (j.is_object()) {
      json refs = j.value("references", json::object()), times = j.value("tagTimes", json::object());
      for (auto it = refs.begin(); it != refs.end(); ++it) {
        if (it.value().is_string() && images_.count(it.value().get<std::string>())) references_[it.key()] = it.value();
      }
      for (auto it = times.begin(); it != times.end(); ++it) {
        if (it.value().is_number_integer()) tagTimes_[it.key()] = it.value();
      }
    }
  }
  // Containers' writable layers, and the images they hold on to.
  for (const auto& e : fs::directory_iterator(root_ + "/rw")) {
    if (fs::exists(e.path() / kReleasedMarker)) {  // released during an export this process did not finish
      try {
        removeAll(e.path());
      } catch (const std::exception& err) {
        spdlog::warn("images: removing the released layer {}: {}; trying again at the next start", e.path().string(),
                     err.what());
      }
      continue;
    }
    auto image = readFileIfExists(e.path().string() + "/image");
    if (image && images_.count(*image)) {
      containerImages_[e.path().filename().string()] = *image;
    } else {
      spdlog::warn("images: container layer {} has no image; keeping it for its container to release",
                   e.path().filename().string());
    }
  }
  // Layers no image uses are leftovers of an interrupted load or remove.
  std::set<std::string> used;
  for (const auto& [id, img] : images_) used.insert(img.chainIds.begin(), img.chainIds.end());
  for (auto it = layers_.begin(); it != layers_.end();) {
    if (used.count(it->first)) {
      ++it;
      continue;
    }
    fs::remove(root_ + "/layerdb/sha256/" + hexOf(it->first) + ".json");
    removeAll(root_ + "/layers/" + hexOf(it->first));
    bool blobShared = false;
    for (const auto& [c, l] : layers_) blobShared = blobShared || (c != it->first && l.diffId == it->second.diffId);
    if (!blobShared) fs::remove(root_ + "/blobs/sha256/" + hexOf(it->second.diffId));
    it = layers_.erase(it);
  }
  // Blobs nothing refers to (a tar renamed in before its layer record, the config of a dropped
  // image) and temp files of interrupted atomic writes.
  std::set<std::string> wanted;
  for (const auto& [id, img] : images_) wanted.insert(hexOf(id));
  for (const auto& [c, l] : layers_) wanted.insert(hexOf(l.diffId));
  for (const auto& e : fs::directory_iterator(root_ + "/blobs/sha256")) {
    if (!wanted.count(e.path().filename().string())) fs::remove(e.path());
  }
  for (const char* dir : {"", "/imagedb/content/sha256", "/layerdb/sha256"}) {
    for (const auto& e : fs::directory_iterator(root_ + dir)) {
      if (e.path().filename().string().find(".tmp-") != std::string::npos) fs::remove(e.path());
    }
  }
  spdlog::info("images: {} images, {} layers", images_.size(), layers_.size());
}

ImageCounts ImageStore::counts() const {
  std::lock_guard lock(mutex_);
  ImageCounts c;
  c.images = static_cast<unsigned>(images_.size());
  c.layers = static_cast<unsigned>(layers_.size());
  struct statfs st {};
  c.backingFilesystem = statfs(root_.c_str(), &st) == 0 ? filesystemName(st.f_type) : "unknown";
  return c;
}

std::string ImageStore::stagingPath(const std::string& prefix) {
  std::lock_guard lock(mutex_);
  return root_ + "/staging/" + prefix + "-" + std::to_string(getpid()) + "-" + std::to_string(++stagingCounter_);
}

void ImageStore::emit(const std::string& action, const std::string& id,
                      const std::vector<std::pair<std::string, std::string>>& attrs) {
  if (events_) events_(action, id, attrs);
}

std::string ImageStore::commitLayer(const std::string& stagedDir, const std::string& stagedTar,
                                    const LayerRecord& record) {
  std::lock_guard commit(layerCommitMutex_);
  {
    std::lock_guard lock(mutex_);
    if (layers_.count(record.chainId)) return record.chainId;  // another load got here first
  }
  std::string blob = root_ + "/blobs/sha256/" + hexOf(record.diffId);
  if (!fs::exists(blob) && ::rename(stagedTar.c_str(), blob.c_str()) != 0) throwSystemError("rename", blob);
  std::string dir = root_ + "/layers/" + hexOf(record.chainId);
  removeAll(dir);
  makeDirectories(dir, 0700);
  if (::rename(stagedDir.c_str(), (dir + "/diff").c_str()) != 0) throwSystemError("rename", dir + "/diff");
  json j = {{"chainId", record.chainId}, {"diffId", record.diffId}, {"parent", record.parent},
            {"contentBytes", record.contentBytes}, {"tarBytes", record.tarBytes}};
  writeFileAtomic(root_ + "/layerdb/sha256/" + hexOf(record.chainId) + ".json", j.dump(), 0600);
  std::lock_guard lock(mutex_);
  layers_[record.chainId] = record;
  return record.chainId;
}

ImageStore::LoadResult ImageStore::load(const std::string& archivePath) {
  UniqueFd fd(::open(archivePath.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throwSystemError("open", archivePath);
  return load([&](char* buffer, size_t size) {
    for (;;) {
      ssize_t n = ::read(fd.get(), buffer, size);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throwSystemError("read", archivePath);
      return static_cast<size_t>(n);
    }
  });
}

namespace {

struct SourceReader {
  const ImageStore::ArchiveSource& source;
  std::vector<char> buffer = std::vector<char>(1 << 20);
};

la_ssize_t readSource(archive* a, void* data, const void** buffer) {
  auto* reader = static_cast<SourceReader*>(data);
  try {
    *buffer = reader->buffer.data();
    return static_cast<la_ssize_t>(reader->source(reader->buffer.data(), reader->buffer.size()));
  } catch (const std::exception& e) {
    archive_set_error(a, EIO, "%s", e.what());
    return -1;
  }
}

}  // namespace

ImageStore::LoadResult ImageStore::load(const ArchiveSource& source) {
  auto t0 = std::chrono::steady_clock::now();
  auto ms = [&] { return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count(); };
  std::string work = stagingPath("load");
  ScopedRemove cleanup{work};
  makeDirectories(work + "/files", 0700);
  size_t threads = std::max(2u, std::thread::hardware_concurrency());
  // Declared after `cleanup`, so its extractions have stopped before the directory goes.
  EarlyExtractions early(work, threads);

  // Unpack the outer archive's regular files as flat, numbered files: no name from the archive
  // ever becomes a path on disk. Each file that looks like a layer is extracted at once, while
  // the rest arrives.
  std::map<std::string, std::string> files;
  {
    SourceReader reader{source};
    std::unique_ptr<archive, decltype(&archive_read_free)> a(archive_read_new(), archive_read_free);
    archive_read_support_format_tar(a.get());
    archive_read_support_format_gnutar(a.get());
    archive_read_support_filter_gzip(a.get());
    if (archive_read_open(a.get(), &reader, nullptr, readSource, nullptr) != ARCHIVE_OK) {
      badArchive(archive_error_string(a.get()) ?: "unreadable");
    }
    archive_entry* e;
    int n = 0;
    for (;;) {
      int rc = archive_read_next_header(a.get(), &e);
      if (rc == ARCHIVE_EOF) break;
      if (rc < ARCHIVE_WARN) badArchive(readFailure(a.get()));
      if (archive_entry_filetype(e) != AE_IFREG) continue;
      std::string name = cleanEntryName(archive_entry_pathname(e) ?: "");
      std::string path = work + "/files/" + std::to_string(n++);
      UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
      if (!fd) throwSystemError("open", path);
      if (archive_read_data_into_fd(a.get(), fd.get()) != ARCHIVE_OK) {
        badArchive("entry " + name + ": " + readFailure(a.get()));
      }
      fd.reset();
      files[name] = path;
      if (looksLikeLayer(name, path)) early.submit(path);
    }
    // libarchive stops at the tar's end marker. Read the source to its end before anything
    // becomes visible: a streamed upload ends only when the client's body has (and throws if
    // it was abandoned meanwhile), so an image never appears for a request that failed.
    for (char rest[1 << 16]; source(rest, sizeof rest) > 0;) {
    }
  }
  spdlog::debug("load: unpacked the outer archive in {} ms, {} layer(s) begun on the way", ms(), early.submitted());
  auto fileFor = [&](const std::string& name, const std::string& what) {
    auto it = files.find(cleanEntryName(name));
    if (it == files.end()) badArchive(what + " " + name + " is missing");
    return it->second;
  };

  std::vector<ArchiveImage> found;
  if (files.count("manifest.json")) {
    auto manifest = parseJson(readMetadata(files["manifest.json"], "manifest.json"), "manifest.json");
    if (!manifest.is_array()) badArchive("manifest.json is not a list");
    for (const auto& m : manifest) {
      ArchiveImage ai;
      if (!m.contains("Config") || !m["Config"].is_string()) badArchive("manifest.json names no Config");
      ai.configPath = fileFor(m["Config"], "config");
      for (const auto& l : m.value("Layers", json::array())) ai.layerPaths.push_back(fileFor(l.get<std::string>(), "layer"));
      for (const auto& t : m.value("RepoTags", json::array())) {
        if (t.is_string()) ai.repoTags.push_back(t);
      }
      found.push_back(ai);
    }
  } else if (files.count("index.json")) {
    // An OCI image layout: index -> manifests -> config and layers, all by verified digest.
    auto blob = [&](const std::string& digest) {
      if (!isFullImageId(digest) || digest.rfind("sha256:", 0) != 0) badArchive("bad digest " + digest);
      std::string path = fileFor("blobs/sha256/" + hexOf(digest), "blob");
      return path;
    };
    auto verified = [&](const std::string& digest) {
      std::string path = blob(digest);
      if (sha256Hex(readMetadata(path, "blob " + digest)) != hexOf(digest)) {
        badArchive("blob " + digest + " does not match its digest");
      }
      return path;
    };
    auto index = parseJson(readMetadata(files["index.json"], "index.json"), "index.json");
    for (const auto& d : index.value("manifests", json::array())) {
      auto manifest = parseJson(readFile(verified(d.value("digest", ""))), "manifest " + d.value("digest", ""));
      if (manifest.contains("manifests")) badArchive("nested image indexes are not supported");
      ArchiveImage ai;
      ai.configPath = verified(manifest["config"].value("digest", ""));
      for (const auto& l : manifest.value("layers", json::array())) ai.layerPaths.push_back(blob(l.value("digest", "")));
      auto annotations = d.value("annotations", json::object());
      std::string name = annotations.value("io.containerd.image.name", "");
      std::string refName = annotations.value("org.opencontainers.image.ref.name", "");
      if (!name.empty()) ai.repoTags.push_back(name);
      else if (!refName.empty() && refName.find(':') != std::string::npos) ai.repoTags.push_back(refName);
      found.push_back(ai);
    }
  } else {
    badArchive("neither manifest.json nor index.json found");
  }
  if (found.empty()) badArchive("no images in the archive");
  std::vector<PlannedImage> plans;
  for (const auto& ai : found) {
    plans.push_back(planImage(ai));
  }
  if (early.submitted() > 0) {
    // The files this store lacks as layers: every other early extraction stops.
    std::set<std::string> needed;
    std::lock_guard lock(mutex_);
    for (size_t image = 0; image < found.size(); ++image) {
      const auto& chains = plans[image].chains;
      for (size_t i = 0; i < chains.size(); ++i) {
        if (!layers_.count(chains[i])) needed.insert(found[image].layerPaths[i]);
      }
    }
    early.keepOnly(needed);
  }

  LoadResult result;
  auto& lines = result.lines;
  for (size_t image = 0; image < found.size(); ++image) {
    auto& ai = found[image];
    const auto& plan = plans[image];
    if (plan.refusal) std::rethrow_exception(plan.refusal);
    const std::string& id = plan.id;
    const std::string& configText = plan.configText;
    std::vector<std::string> repoTags;
    for (const auto& t : ai.repoTags) repoTags.push_back(parseReference(t).familiar());

    // Extract the layers this store lacks, in parallel, verifying each diff id.
    struct Job {
      size_t index;
      LayerRecord record;
      std::string dir;  // <dir>/diff and <dir>.tar, once extracted
    };
    std::vector<Job> jobs;
    const auto& chains = plan.chains;
    {
      std::lock_guard lock(mutex_);
      for (size_t i = 0; i < chains.size(); ++i) {
        if (!layers_.count(chains[i])) {
          jobs.push_back({i, LayerRecord{chains[i], plan.diffIds[i], i > 0 ? chains[i - 1] : "", 0, 0}, {}});
        }
      }
    }
    std::atomic<size_t> next{0};
    std::mutex failMutex;
    std::string failure;
    auto worker = [&] {
      for (size_t j; (j = next++) < jobs.size();) {
        auto& job = jobs[j];
        try {
          ExtractedLayer x;
          if (auto done = early.take(ai.layerPaths[job.index])) {
            if (!done->error.empty()) throw Error(ErrorKind::invalid, done->error);
            job.dir = done->dir;
            x = done->layer;
          } else {
            job.dir = work + "/layer-" + std::to_string(image) + "-" + std::to_string(job.index);
            makeDirectories(job.dir + "/diff", 0755);
            x = extractLayer(ai.layerPaths[job.index], job.dir + "/diff", job.dir + ".tar");
          }
          if (x.diffId != job.record.diffId) {
            badArchive("layer " + std::to_string(job.index + 1) + " of image " + id + " has diff id " + x.diffId +
                       " but the config expects " + job.record.diffId);
          }
          job.record.contentBytes = x.contentBytes;
          job.record.tarBytes = x.tarBytes;
        } catch (const std::exception& e) {
          std::lock_guard lock(failMutex);
          if (failure.empty()) failure = e.what();
        }
      }
    };
    std::vector<std::thread> pool;
    for (size_t t = 1; t < std::min(jobs.size(), threads); ++t) pool.emplace_back(worker);
    worker();
    for (auto& t : pool) t.join();
    if (!failure.empty()) throw Error(ErrorKind::invalid, failure);
    spdlog::debug("load: extracted {} layers by {} ms", jobs.size(), ms());
    for (const auto& job : jobs) {
      commitLayer(job.dir + "/diff", job.dir + ".tar", job.record);
      result.extracted.emplace_back(job.record.diffId, job.record.tarBytes);
    }

    for (const auto& r : registerImage(id, configText, plan.diffIds, chains, repoTags)) {
      lines.push_back(r);
    }
    // dockerd's image events name the image by its ID for load, untag, delete and save, and a
    // load sets its tags without a tag event.
    emit("load", id, {{"name", id}});
    for (const auto& t : repoTags) lines.push_back("Loaded image: " + t);
    if (repoTags.empty()) lines.push_back("Loaded image ID: " + id);
  }
  spdlog::info("loaded {} image(s) in {} ms", found.size(), ms());
  return result;
}

std::vector<std::string> ImageStore::registerImage(const std::string& id, const std::string& configText,
                                                   const std::vector<std::string>& diffIds,
                                                   const std::vector<std::string>& chainIds,
                                                   const std::vector<std::string>& refs) {
  // The image becomes visible with its imagedb record, then its references.
  writeFileAtomic(root_ + "/blobs/sha256/" + hexOf(id), configText, 0600);
  writeFileAtomic(root_ + "/imagedb/content/sha256/" + hexOf(id), configText, 0600);
  std::vector<std::string> renamed;
  std::lock_guard lock(mutex_);
  // A concurrent removal may have deleted a shared layer this image found present: then the
  // image must not become visible.
  for (const auto& c : chainIds) {
    if (!layers_.count(c)) {
      if (!images_.count(id)) fs::remove(root_ + "/imagedb/content/sha256/" + hexOf(id));
      throw Error(ErrorKind::conflict, "layer " + c + " was removed while image " + id + " was being added; try again");
    }
  }
  Touched touched(*this);
  touched.add(id);
  for (const auto& t : refs) touched.addOwnerOf(t);
  images_[id] = Image{id, configText, diffIds, chainIds, nowUnixNanos()};
  for (const auto& t : refs) {
    auto old = references_.find(t);
    if (old != references_.end() && old->second != id && t.find('@') == std::string::npos) {
      renamed.push_back("The image " + t + " already exists, renaming the old one with ID " + old->second +
                        " to empty string");
    }
    references_[t] = id;
  }
  if (!refs.empty()) tagTimes_[id] = nowUnixNanos();
  writeReferencesLocked();
  return renamed;
}

std::string ImageStore::importImage(const std::string& tarPath, const std::string& reference,
                                    const std::string& message, const std::vector<std::string>& changes) {
  // Validate everything cheap before touching the disk.
  std::string familiar = reference.empty() ? "" : parseReference(reference).familiar();
  json config = json::object();
  dockerfile::applyChanges(config, changes);

  std::string work = stagingPath("import");
  ScopedRemove cleanup{work};
  makeDirectories(work + "/diff", 0755);
  auto x = extractLayer(tarPath, work + "/diff", work + "/layer.tar");
  commitLayer(work + "/diff", work + "/layer.tar", LayerRecord{x.diffId, x.diffId, "", x.contentBytes, x.tarBytes});

  time_t now = time(nullptr);
  tm utc{};
  gmtime_r(&now, &utc);
  char created[32];
  strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &utc);
  std::string comment = message.empty() ? "Imported from -" : message;
  json image = {{"architecture", "amd64"},
                {"os", "linux"},
                {"created", created},
                {"comment", message},
                {"config", config},
                {"rootfs", {{"type", "layers"}, {"diff_ids", {x.diffId}}}},
                {"history", json::array({{{"created", created}, {"comment", comment}}})}};
  std::string configText = image.dump();
  std::string id = "sha256:" + sha256Hex(configText);
  registerImage(id, configText, {x.diffId}, {x.diffId}, familiar.empty() ? std::vector<std::string>{}
                                                                          : std::vector<std::string>{familiar});
  if (!familiar.empty()) emit("tag", id, {{"name", familiar}});
  emit("import", id, {{"name", id}});
  return id;
}

void ImageStore::writeReferencesLocked() {
  json refs = json::object(), times = json::object();
  for (const auto& [k, v] : references_) refs[k] = v;
  for (const auto& [k, v] : tagTimes_) {
    if (images_.count(k)) times[k] = v;
  }
  writeFileAtomic(root_ + "/references.json", json{{"references", refs}, {"tagTimes", times}}.dump(), 0600);
}

std::vector<std::string> ImageStore::refsOfLocked(const std::string& id) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : references_) {
    if (v == id) out.push_back(k);
  }
  return out;
}

std::string ImageStore::resolveLocked(const std::string& ref) const {
  return resolveImage(ref, images_, references_);
}

ImageView ImageStore::viewLocked(const Image& image) const { return viewLocked(image, refsOfLocked(image.id)); }

ImageView ImageStore::viewLocked(const Image& image, const std::vector<std::string>& refs) const {
  ImageView v;
  v.id = image.id;
  v.configJson = image.configJson;
  v.diffIds = image.diffIds;
  for (const auto& r : refs) (r.find('@') != std::string::npos ? v.repoDigests : v.repoTags).push_back(r);
  for (const auto& c : image.chainIds) {
    v.layerDirs.push_back(root_ + "/layers/" + hexOf(c) + "/diff");
    int64_t bytes = 0;
    if (auto it = layers_.find(c); it != layers_.end()) bytes = static_cast<int64_t>(it->second.contentBytes);
    v.layerSizes.push_back(bytes);
    v.size += bytes;
  }
  v.loadedAtNano = image.loadedAtNano;
  if (auto it = tagTimes_.find(image.id); it != tagTimes_.end()) v.lastTagTimeNano = it->second;
  return v;
}

std::vector<ImageView> ImageStore::list() const {
  std::lock_guard lock(mutex_);
  return listLocked();
}

void ImageStore::withAll(const std::function<void(const std::vector<ImageView>&)>& with) const {
  std::lock_guard lock(mutex_);
  with(listLocked());
}

void ImageStore::Touched::addOwnerOf(const std::string& reference) {
  if (auto it = store_.references_.find(reference); it != store_.references_.end()) ids_.insert(it->second);
}

ImageStore::Touched::~Touched() {
  if (!store_.observer_ || ids_.empty()) return;
  store_.observer_(ids_, [this](const std::string& id) -> std::optional<ImageView> {
    auto it = store_.images_.find(id);
    if (it == store_.images_.end()) return std::nullopt;
    return store_.viewLocked(it->second);
  });
}

std::vector<ImageView> ImageStore::listLocked() const {
  // Each image's references from one pass over them (asking refsOfLocked per image was a scan
  // of every reference per image: 40,000 comparisons for 200 images).
  std::unordered_map<std::string, std::vector<std::string>> refsById;
  for (const auto& [ref, id] : references_) refsById[id].push_back(ref);
  static const std::vector<std::string> none;
  std::vector<ImageView> out;
  out.reserve(images_.size());
  for (const auto& [id, img] : images_) {
    auto refs = refsById.find(id);
    out.push_back(viewLocked(img, refs == refsById.end() ? none : refs->second));
  }
  return out;
}

ImageView ImageStore::get(const std::string& ref) const {
  std::lock_guard lock(mutex_);
  return viewLocked(images_.at(resolveLocked(ref)));
}

void ImageStore::tag(const std::string& source, const std::string& target) {
  std::string id;
  std::string familiar;
  {
    std::lock_guard lock(mutex_);
    id = resolveLocked(source);
    auto r = parseReference(target);
    if (!r.digest.empty()) throw Error(ErrorKind::invalid, "refusing to create a tag with a digest reference");
    familiar = r.familiar();
    Touched touched(*this);
    touched.add(id);
    touched.addOwnerOf(familiar);
    references_[familiar] = id;
    tagTimes_[id] = nowUnixNanos();
    writeReferencesLocked();
  }
  emit("tag", id, {{"name", familiar}});
}

void ImageStore::deleteImageLocked(const std::string& id, std::vector<DeleteItem>& out) {
  Image img = images_.at(id);
  fs::remove(root_ + "/imagedb/content/sha256/" + hexOf(id));
  images_.erase(id);
  tagTimes_.erase(id);
  out.push_back({"", id});
  std::set<std::string> used;
  for (const auto& [other, im] : images_) used.insert(im.chainIds.begin(), im.chainIds.end());
  for (auto it = img.chainIds.rbegin(); it != img.chainIds.rend(); ++it) {
    if (used.count(*it) || !layers_.count(*it)) continue;
    auto record = layers_[*it];
    fs::remove(root_ + "/layerdb/sha256/" + hexOf(*it) + ".json");
    removeAll(root_ + "/layers/" + hexOf(*it));
    layers_.erase(*it);
    bool blobShared = false;
    for (const auto& [c, l] : layers_) blobShared = blobShared || l.diffId == record.diffId;
    if (!blobShared) fs::remove(root_ + "/blobs/sha256/" + hexOf(record.diffId));
    out.push_back({"", *it});
  }
  fs::remove(root_ + "/blobs/sha256/" + hexOf(id));
}

std::vector<DeleteItem> ImageStore::remove(const std::string& ref, bool force, bool prune) {
  std::vector<DeleteItem> out;
  std::vector<std::pair<std::string, std::string>> untagEvents;
  std::string deletedId;
  {
    std::lock_guard lock(mutex_);
    auto savedReferences = references_;
    std::string id = resolveLocked(ref);
    Touched touched(*this);  // only this image's references and record change
    touched.add(id);
    auto refs = refsOfLocked(id);
    bool byName = false;
    try {
      auto r = parseReference(ref);
      byName = references_.count(r.familiar()) && references_[r.familiar()] == id;
      if (byName) {
        references_.erase(r.familiar());
        out.push_back({r.familiar(), ""});
        untagEvents.push_back({r.familiar(), id});
        // As dockerd: when no tag of that repository is left on the image, its digest
        // references in the repository go too.
        bool tagLeft = false;
        for (const auto& other : refsOfLocked(id)) {
          if (other.find('@') == std::string::npos && parseReference(other).name == r.name) tagLeft = true;
        }
        if (!tagLeft) {
          for (const auto& other : refsOfLocked(id)) {
            if (other.find('@') != std::string::npos && parseReference(other).name == r.name) {
              references_.erase(other);
              out.push_back({other, ""});
              untagEvents.push_back({other, id});
            }
          }
        }
      }
    } catch (const Error&) {
    }
    std::string user;
    for (const auto& [c, image] : containerImages_) {
      if (image == id) user = c;
    }
    if (!user.empty() && !force && (byName ? refsOfLocked(id).empty() : true)) {
      // As dockerd: a container's image keeps its last name, and is never deleted under it.
      references_ = savedReferences;  // nothing changes
      if (byName) {
        throw Error(ErrorKind::conflict, "conflict: unable to remove repository reference \"" + ref +
                                             "\" (must force) - container " + user.substr(0, 12) +
                                             " is using its referenced image " + hexOf(id).substr(0, 12));
      }
      throw Error(ErrorKind::conflict, "conflict: unable to delete " + hexOf(id).substr(0, 12) +
                                           " (must be forced) - image is being used by stopped container " +
                                           user.substr(0, 12));
    }
    if (!byName) {
      // As dockerd: references all in one repository with at most one tag count as one.
      std::set<std::string> repos;
      int tags = 0;
      for (const auto& r : refs) {
        repos.insert(parseReference(r).name);
        if (r.find('@') == std::string::npos) ++tags;
      }
      bool single = repos.size() <= 1 && tags <= 1;
      if (!single && !force) {
        throw Error(ErrorKind::conflict, "conflict: unable to delete " + hexOf(id).substr(0, 12) +
                                             " (must be forced) - image is referenced in multiple repositories");
      }
      for (const auto& r : refs) {
        references_.erase(r);
        out.push_back({r, ""});
        untagEvents.push_back({r, id});
      }
    }
    // `prune` (noprune=false) would also remove untagged parent images; berth records no parent
    // chain between images, so there is nothing more to prune.
    (void)prune;
    if (refsOfLocked(id).empty() && user.empty()) {
      deleteImageLocked(id, out);
      deletedId = id;
    }
    writeReferencesLocked();
  }
  for (const auto& [name, id] : untagEvents) emit("untag", id, {{"name", id}});
  if (!deletedId.empty()) emit("delete", deletedId, {{"name", deletedId}});
  return out;
}

void ImageStore::save(const std::vector<std::string>& refs, const std::string& outPath) {
  auto plan = planSave(refs);
  UniqueFd out(::open(outPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!out) throwSystemError("open", outPath);
  writeSave(plan, out.get(), outPath);
}

ImageStore::SavePlan ImageStore::planSave(const std::vector<std::string>& refs) const {
  SavePlan plan;
  auto& entries = plan.entries;
  {
    std::lock_guard lock(mutex_);
    std::map<std::string, size_t> byId;
    for (const auto& ref : refs) {
      std::string id = resolveLocked(ref);
      if (!byId.count(id)) {
        byId[id] = entries.size();
        const auto& image = images_.at(id);
        entries.push_back({id, {}, image.diffIds, image.configJson});
      }
      // A name saves that tag; an id saves every tag of the image.
      std::vector<std::string> tags;
      try {
        auto r = parseReference(ref);
        if (references_.count(r.familiar()) && r.digest.empty()) tags.push_back(r.familiar());
      } catch (const Error&) {
      }
      if (tags.empty() && isIdPrefix(ref)) {
        for (const auto& t : refsOfLocked(id)) {
          if (t.find('@') == std::string::npos) tags.push_back(t);
        }
      }
      auto& e = entries[byId[id]];
      for (const auto& t : tags) {
        if (std::find(e.tags.begin(), e.tags.end(), t) == e.tags.end()) e.tags.push_back(t);
      }
    }
  }
  return plan;
}

void ImageStore::writeSave(const SavePlan& plan, int fd, const std::string& outPath,
                           const std::function<bool(uint64_t)>& written) {
  const auto& entries = plan.entries;
  TarOut out(fd, outPath, written);
  archive* a = out.get();
  std::set<std::string> saved;
  auto addBytes = [&](const std::string& name, const std::string& data) {
    std::unique_ptr<archive_entry, decltype(&archive_entry_free)> e(archive_entry_new(), archive_entry_free);
    archive_entry_set_pathname(e.get(), name.c_str());
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), 0644);
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(data.size()));
    if (archive_write_header(a, e.get()) != ARCHIVE_OK) out.fail();
    out.data(data.data(), data.size());
  };
  auto addFile = [&](const std::string& name, const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throwSystemError("open", path);
    struct stat st {};
    fstat(fd.get(), &st);
    std::unique_ptr<archive_entry, decltype(&archive_entry_free)> e(archive_entry_new(), archive_entry_free);
    archive_entry_set_pathname(e.get(), name.c_str());
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), 0644);
    archive_entry_set_size(e.get(), st.st_size);
    if (archive_write_header(a, e.get()) != ARCHIVE_OK) out.fail();
    std::vector<char> buf(1 << 20);
    for (;;) {
      ssize_t n = ::read(fd.get(), buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throwSystemError("read", path);
      if (n == 0) break;
      out.data(buf.data(), static_cast<size_t>(n));
    }
  };
  json manifest = json::array(), repositories = json::object();
  for (const auto& e : entries) {
    std::string configName = hexOf(e.id) + ".json";
    if (saved.insert(configName).second) addBytes(configName, e.config);
    json layers = json::array();
    for (const auto& d : e.diffIds) {
      std::string name = hexOf(d) + "/layer.tar";
      if (saved.insert(name).second) addFile(name, root_ + "/blobs/sha256/" + hexOf(d));
      layers.push_back(name);
    }
    manifest.push_back({{"Config", configName}, {"RepoTags", e.tags.empty() ? json(nullptr) : json(e.tags)},
                        {"Layers", layers}});
    for (const auto& t : e.tags) {
      auto colon = t.rfind(':');
      repositories[t.substr(0, colon)][t.substr(colon + 1)] = hexOf(e.diffIds.empty() ? e.id : e.diffIds.back());
    }
  }
  addBytes("manifest.json", manifest.dump());
  if (!repositories.empty()) addBytes("repositories", repositories.dump());
  out.close();
  for (const auto& e : entries) emit("save", e.id, {{"name", e.id}});
}

}  // namespace berth::images
