// ImageStore's registry side: docker pull, push and login against a distribution v2 registry.
// A pull verifies every manifest, config and blob digest and every layer's diff id, and
// commits like a load (all or nothing). A push gzips each layer tar (deterministically, so the
// same layer always has the same digest), skips blobs the registry has, mounts blobs it has in
// another repository, and uploads the rest.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>

#include "common/digest.h"
#include "common/errors.h"
#include "common/files.h"
#include "services/images/image_manifest.h"
#include "services/images/image_store.h"
#include "services/images/layer_extractor.h"
#include "common/image_reference.h"
#include "common/json_text.h"

namespace berth::images {
namespace {

using json = nlohmann::json;

std::string hexOf(const std::string& digest) { return digest.rfind("sha256:", 0) == 0 ? digest.substr(7) : digest; }
std::string shortDigest(const std::string& digest) { return hexOf(digest).substr(0, 12); }

std::string progress(const std::string& status, const std::string& id = "") {
  json j = {{"status", status}};
  if (!id.empty()) {
    j["id"] = id;
    j["progressDetail"] = json::object();
  }
  return j.dump();
}

struct Compressed {
  std::string digest;
  uint64_t size = 0;
};

// gzip of `source` into `target` at a fixed level, so a layer always compresses to the same bytes.
Compressed gzipFile(const std::string& source, const std::string& target) {
  UniqueFd in(::open(source.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in) throwSystemError("open", source);
  UniqueFd out(::open(target.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!out) throwSystemError("open", target);
  z_stream z{};
  if (deflateInit2(&z, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw Error(ErrorKind::internal, "deflateInit2 failed");
  }
  Sha256 hash;
  std::vector<char> ibuf(1 << 20), obuf(1 << 20);
  Compressed c;
  bool done = false;
  while (!done) {
    ssize_t n = ::read(in.get(), ibuf.data(), ibuf.size());
    if (n < 0) throwSystemError("read", source);
    z.next_in = reinterpret_cast<Bytef*>(ibuf.data());
    z.avail_in = static_cast<uInt>(n);
    int flush = n == 0 ? Z_FINISH : Z_NO_FLUSH;
    do {
      z.next_out = reinterpret_cast<Bytef*>(obuf.data());
      z.avail_out = static_cast<uInt>(obuf.size());
      int rc = deflate(&z, flush);
      if (rc == Z_STREAM_ERROR) throw Error(ErrorKind::internal, "deflate failed");
      size_t have = obuf.size() - z.avail_out;
      if (have && ::write(out.get(), obuf.data(), have) != static_cast<ssize_t>(have)) throwSystemError("write", target);
      hash.update(obuf.data(), have);
      c.size += have;
      if (rc == Z_STREAM_END) done = true;
    } while (z.avail_out == 0);
  }
  deflateEnd(&z);
  c.digest = hash.digest();
  return c;
}

}  // namespace

void ImageStore::login(const std::string& host, const RegistryCredentials& credentials, bool plainHttp) {
  RegistryClient(host, plainHttp, credentials).ping();
}

void ImageStore::pull(const std::string& text, const RegistryCredentials& credentials, bool plainHttp,
                      const Progress& report) {
  Reference ref = parseReference(text);
  std::string host = ref.domain(), repo = ref.path();
  RegistryClient registry(host, plainHttp, credentials);
  struct Out {
    const Progress& report;
    void push_back(const std::string& line) { report(line); }
  } out{report};
  std::string wanted = ref.digest.empty() ? ref.tag : ref.digest;
  out.push_back(progress("Pulling from " + repo, ref.digest.empty() ? ref.tag : ref.digest));

  auto manifest = registry.getManifest(repo, wanted);
  if (!ref.digest.empty() && manifest.digest != ref.digest) {
    throw Error(ErrorKind::invalid, "manifest digest " + manifest.digest + " does not match " + ref.digest);
  }
  auto doc = parseJsonOrDiscarded(manifest.body);
  if (!doc.is_object()) throw Error(ErrorKind::invalid, "manifest for " + text + " is not valid JSON");
  if (isManifestList(manifest.mediaType, doc)) {
    std::string chosen = linuxAmd64Manifest(doc);
    auto platform = registry.getManifest(repo, chosen);
    if (platform.digest != chosen) throw Error(ErrorKind::invalid, "manifest " + chosen + " does not match its digest");
    doc = parseJsonOrDiscarded(platform.body);
    if (!doc.is_object()) throw Error(ErrorKind::invalid, "manifest " + chosen + " is not valid JSON");
  }
  ImageManifest image = readImageManifest(doc, text);

  std::string work = stagingPath("pull");
  makeDirectories(work, 0700);
  ScopedRemove cleanup{work};

  registry.fetchBlob(repo, image.config.digest, work + "/config", image.config.size);
  std::string configText = readFile(work + "/config");
  std::string id = "sha256:" + sha256Hex(configText);
  auto diffIds = configDiffIds(parseJsonOrDiscarded(configText), id, image.layers.size(), text);
  std::vector<std::string> chains, diffs;
  std::string chain;
  for (size_t i = 0; i < image.layers.size(); ++i) {
    const std::string& diff = diffIds[i];
    const std::string& blobDigest = image.layers[i].digest;
    std::string parent = chain;
    chain = chainIdOf(chain, diff);
    chains.push_back(chain);
    diffs.push_back(diff);
    bool have;
    {
      std::lock_guard lock(mutex_);
      have = layers_.count(chain) > 0;
      blobRepos_[blobDigest].insert(host + "/" + repo);
    }
    if (have) {
      out.push_back(progress("Already exists", shortDigest(blobDigest)));
      continue;
    }
    out.push_back(progress("Pulling fs layer", shortDigest(blobDigest)));
    std::string blob = work + "/blob-" + std::to_string(i);
    registry.fetchBlob(repo, blobDigest, blob, image.layers[i].size);
    out.push_back(progress("Download complete", shortDigest(blobDigest)));
    std::string dir = work + "/layer-" + std::to_string(i);
    makeDirectories(dir + "/diff", 0755);
    auto x = extractLayer(blob, dir + "/diff", dir + ".tar");
    ::unlink(blob.c_str());
    if (x.diffId != diff) {
      throw Error(ErrorKind::invalid, "layer " + blobDigest + " has diff id " + x.diffId + " but the config expects " + diff);
    }
    commitLayer(dir + "/diff", dir + ".tar", LayerRecord{chain, diff, parent, x.contentBytes, x.tarBytes});
    out.push_back(progress("Pull complete", shortDigest(blobDigest)));
  }
  std::vector<std::string> refs = {Reference{ref.name, "", manifest.digest}.familiar()};
  if (!ref.tag.empty()) refs.push_back(Reference{ref.name, ref.tag, ""}.familiar());
  registerImage(id, configText, diffs, chains, refs);
  emit("pull", id, {{"name", ref.familiar()}});
  out.push_back(progress("Digest: " + manifest.digest));
  out.push_back(progress("Status: Downloaded newer image for " + ref.familiar()));
}

void ImageStore::push(const std::string& text, const RegistryCredentials& credentials, bool plainHttp,
                      const Progress& report) {
  Reference ref = parseReference(text);
  if (!ref.digest.empty()) throw Error(ErrorKind::invalid, "cannot push a digest reference");
  std::string host = ref.domain(), repo = ref.path();
  std::string id, configText;
  std::vector<std::string> diffIds;
  {
    std::lock_guard lock(mutex_);
    auto it = references_.find(ref.familiar());
    if (it == references_.end()) throw Error(ErrorKind::notFound, "An image does not exist locally with the tag: " + ref.name);
    id = it->second;
    configText = images_.at(id).configJson;
    diffIds = images_.at(id).diffIds;
  }
  RegistryClient registry(host, plainHttp, credentials);
  struct Out {
    const Progress& report;
    void push_back(const std::string& line) { report(line); }
  } out{report};
  out.push_back(progress("The push refers to repository [" + ref.name + "]"));
  std::string work = stagingPath("push");
  makeDirectories(work, 0700);
  ScopedRemove cleanup{work};

  json layers = json::array();
  for (size_t i = 0; i < diffIds.size(); ++i) {
    std::string gz = work + "/layer-" + std::to_string(i) + ".gz";
    auto c = gzipFile(root_ + "/blobs/sha256/" + hexOf(diffIds[i]), gz);
    layers.push_back({{"mediaType", "application/vnd.docker.image.rootfs.diff.tar.gzip"}, {"size", c.size},
                      {"digest", c.digest}});
    std::string status;
    if (registry.blobExists(repo, c.digest)) {
      status = "Layer already exists";
    } else {
      std::set<std::string> sources;
      {
        std::lock_guard lock(mutex_);
        sources = blobRepos_[c.digest];
      }
      for (const auto& s : sources) {
        std::string fromRepo = s.substr(s.find('/') + 1);
        if (s.substr(0, s.find('/')) == host && fromRepo != repo && registry.mountBlob(repo, c.digest, fromRepo)) {
          status = "Mounted from " + fromRepo;
          break;
        }
      }
      if (status.empty()) {
        registry.uploadBlob(repo, c.digest, gz);
        status = "Pushed";
      }
    }
    {
      std::lock_guard lock(mutex_);
      blobRepos_[c.digest].insert(host + "/" + repo);
    }
    out.push_back(progress(status, shortDigest(c.digest)));
  }
  std::string configDigest = "sha256:" + sha256Hex(configText);
  if (!registry.blobExists(repo, configDigest)) {
    std::string path = work + "/config";
    writeFileAtomic(path, configText, 0600);
    registry.uploadBlob(repo, configDigest, path);
  }
  json manifest = {{"schemaVersion", 2},
                   {"mediaType", "application/vnd.docker.distribution.manifest.v2+json"},
                   {"config", {{"mediaType", "application/vnd.docker.container.image.v1+json"},
                               {"size", configText.size()}, {"digest", configDigest}}},
                   {"layers", layers}};
  std::string body = manifest.dump(3);
  std::string digest = registry.putManifest(repo, ref.tag, "application/vnd.docker.distribution.manifest.v2+json", body);
  if (digest.empty()) digest = "sha256:" + sha256Hex(body);
  {
    std::lock_guard lock(mutex_);
    // The image was deleted while it was pushed: the registry has it, no local name points at
    // nothing.
    if (images_.count(id)) {
      std::string pushed = Reference{ref.name, "", digest}.familiar();
      Touched touched(*this);
      touched.add(id);
      touched.addOwnerOf(pushed);
      references_[pushed] = id;
      writeReferencesLocked();
    }
  }
  emit("push", id, {{"name", ref.familiar()}});
  out.push_back(progress(ref.tag + ": digest: " + digest + " size: " + std::to_string(body.size())));
  out.push_back(json{{"progressDetail", json::object()},
                     {"aux", {{"Tag", ref.tag}, {"Digest", digest}, {"Size", body.size()}}}}.dump());
}

}  // namespace berth::images
