// services/images/layer_extractor on arbitrary bytes, as a pull or a load hands it a layer:
// plain tar or gzip, every entry type, whiteouts and opaque directories, hard links,
// symlinks, xattrs, PAX and GNU extensions. Each run extracts into a fresh directory; then,
// whether the layer was accepted or refused:
//   - nothing exists beside that directory but what the target itself made (the tar copy: a
//     gzip layer's is written as it is inflated, a plain one's is linked only once it was read
//     whole, so a refused layer may leave none), and the empty directory `outside` next to it
//     is still empty (an entry that climbed out would be there);
//   - no file in it is a hard link to a file outside it;
//   - an accepted layer's diff id and size are those of the tar copy it wrote.
// It runs as root, as berth-images does (owners, whiteout devices and trusted xattrs need it),
// with every mount but its own directories read-only (confine_writes.h).
#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <set>

#include "common/digest.h"
#include "common/errors.h"
#include "common/files.h"
#include "services/images/layer_extractor.h"
#include "tests/fuzz/confine_writes.h"
#include "tests/fuzz/fuzz_support.h"

namespace fs = std::filesystem;
using berth::fuzz::invariantBroken;

namespace {

berth::fuzz::ScratchDir* scratch;

// Every inode under `root` with more links than `root` holds has a name outside it.
void requireNoHardLinkOut(const std::string& root) {
  std::map<std::pair<dev_t, ino_t>, std::pair<nlink_t, nlink_t>> seen;  // links: found, total
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root, fs::directory_options::none, ec), end; !ec && it != end;
       it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0 || S_ISDIR(st.st_mode)) continue;
    auto& entry = seen[{st.st_dev, st.st_ino}];
    ++entry.first;
    entry.second = st.st_nlink;
  }
  if (ec) invariantBroken("cannot walk " + root + ": " + ec.message());
  for (const auto& [inode, links] : seen) {
    if (links.first != links.second) {
      invariantBroken("a file in the layer has " + std::to_string(links.second) + " links, only " +
                      std::to_string(links.first) + " of them in the layer");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  berth::fuzz::quietLogs();
  scratch = new berth::fuzz::ScratchDir("layer");
  berth::fuzz::confineWrites(scratch->path());
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string run = scratch->path() + "/run";
  berth::removeAll(run);
  berth::makeDirectories(run + "/root", 0755);
  berth::makeDirectories(run + "/outside", 0755);
  berth::writeFileAtomic(run + "/layer", std::string_view(reinterpret_cast<const char*>(data), size), 0600);

  std::optional<berth::images::ExtractedLayer> layer;
  try {
    layer = berth::images::extractLayer(run + "/layer", run + "/root", run + "/copy.tar");
  } catch (const berth::Error& e) {
    if (e.kind() != berth::ErrorKind::invalid) {
      // A system call that failed on the layer's behalf (setxattr, mknod) is internal; the
      // layer is refused either way. Anything but that is a finding.
      if (e.kind() != berth::ErrorKind::internal) invariantBroken(std::string("refused as ") + e.what());
    }
  }

  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(run)) names.insert(e.path().filename());
  if (!layer) names.insert("copy.tar");  // present or not
  if (names != std::set<std::string>{"copy.tar", "layer", "outside", "root"}) {
    std::string list;
    for (const auto& n : names) list += " " + n;
    invariantBroken("extraction left something beside its directory:" + list);
  }
  if (!fs::is_empty(run + "/outside")) invariantBroken("extraction wrote into the directory beside its own");
  requireNoHardLinkOut(run + "/root");
  if (layer) {
    std::string copy = berth::readFile(run + "/copy.tar");
    if (layer->diffId != "sha256:" + berth::sha256Hex(copy) || layer->tarBytes != copy.size()) {
      invariantBroken("the diff id or size is not that of the tar copy");
    }
  }
  return 0;
}
