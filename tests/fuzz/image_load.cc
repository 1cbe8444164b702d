// docker load (ImageStore::load) on archives made from the input: a `docker save` archive's
// manifest.json or an OCI layout's index.json, the manifests and configs they name, RepoTags and
// image names, digests and diff ids, and the layer they point at; the load extracts it as a
// pull would. Each run loads into a fresh store.
//
// Input: up to six parts cut at NULs. Part 0 is the archive's manifest.json when it opens with
// '[', else its index.json. Every later part k is in the archive twice, as "k.json" and as
// "blobs/sha256/<its sha256>". In any part, "@k" stands for the sha256 hex of the later part k
// and "@L" for that of the one layer every archive holds ("layer.tar" and its blob), so a
// mutated config is still found by the digest that names it.
//
// As root, with every mount but its own directories read-only (confine_writes.h).
#include <archive.h>
#include <archive_entry.h>

#include <map>
#include <memory>

#include "common/digest.h"
#include "common/errors.h"
#include "common/files.h"
#include "services/images/image_store.h"
#include "tests/fuzz/confine_writes.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

berth::fuzz::ScratchDir* scratch;
std::string layerTar;  // one file, "hello", made once

using Archive = std::unique_ptr<archive, decltype(&archive_write_free)>;

void addFile(archive* a, const std::string& name, const std::string& content) {
  std::unique_ptr<archive_entry, decltype(&archive_entry_free)> e(archive_entry_new(), archive_entry_free);
  archive_entry_set_pathname(e.get(), name.c_str());
  archive_entry_set_filetype(e.get(), AE_IFREG);
  archive_entry_set_perm(e.get(), 0644);
  archive_entry_set_size(e.get(), static_cast<la_int64_t>(content.size()));
  archive_entry_set_mtime(e.get(), 1700000000, 0);
  if (archive_write_header(a, e.get()) != ARCHIVE_OK ||
      archive_write_data(a, content.data(), content.size()) != static_cast<la_ssize_t>(content.size())) {
    berth::fuzz::invariantBroken(std::string("cannot write the test archive: ") + archive_error_string(a));
  }
}

// A tar of `files`, in memory.
std::string makeTar(const std::vector<std::pair<std::string, std::string>>& files) {
  size_t room = 1 << 16;  // the end blocks and a pax header per entry, at most
  for (const auto& [name, content] : files) room += 2 * name.size() + content.size() + 4096;
  std::vector<char> buffer(room);
  size_t used = 0;
  Archive a(archive_write_new(), archive_write_free);
  archive_write_set_format_pax_restricted(a.get());
  if (archive_write_open_memory(a.get(), buffer.data(), buffer.size(), &used) != ARCHIVE_OK) {
    berth::fuzz::invariantBroken("cannot open the test archive");
  }
  for (const auto& [name, content] : files) addFile(a.get(), name, content);
  if (archive_write_close(a.get()) != ARCHIVE_OK) berth::fuzz::invariantBroken("cannot close the test archive");
  return std::string(buffer.data(), used);
}

void replaceAll(std::string& text, const std::string& token, const std::string& with) {
  for (size_t at = 0; (at = text.find(token, at)) != std::string::npos; at += with.size()) text.replace(at, token.size(), with);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  berth::fuzz::quietLogs();
  scratch = new berth::fuzz::ScratchDir("load");
  berth::fuzz::confineWrites(scratch->path());
  layerTar = makeTar({{"hello", "hi\n"}});
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto parts = berth::fuzz::splitInput(data, size, 6);
  const std::string layerHex = berth::sha256Hex(layerTar);
  std::vector<std::string> hex(parts.size());
  for (size_t k = parts.size(); k-- > 0;) {
    for (size_t later = k + 1; later < parts.size(); ++later) replaceAll(parts[k], "@" + std::to_string(later), hex[later]);
    replaceAll(parts[k], "@L", layerHex);
    hex[k] = berth::sha256Hex(parts[k]);
  }
  std::vector<std::pair<std::string, std::string>> files;
  files.emplace_back(!parts[0].empty() && parts[0][0] == '[' ? "manifest.json" : "index.json", parts[0]);
  for (size_t k = 1; k < parts.size(); ++k) {
    if (parts[k].empty()) continue;
    files.emplace_back(std::to_string(k) + ".json", parts[k]);
    files.emplace_back("blobs/sha256/" + hex[k], parts[k]);
  }
  files.emplace_back("layer.tar", layerTar);
  files.emplace_back("blobs/sha256/" + layerHex, layerTar);

  const std::string run = scratch->path() + "/run";
  berth::removeAll(run);
  berth::makeDirectories(run, 0700);
  berth::writeFileAtomic(run + "/archive.tar", makeTar(files), 0600);
  try {
    berth::images::ImageStore store(run + "/store");
    store.load(run + "/archive.tar");
    for (const auto& image : store.list()) store.get(image.id);
  } catch (const berth::Error& e) {
    if (e.kind() != berth::ErrorKind::invalid) berth::fuzz::invariantBroken(std::string("refused as ") + e.what());
  } catch (const nlohmann::json::type_error&) {
    // The RPC server answers a value of the wrong JSON type as invalid.
  }
  return 0;
}
