#include "tests/support/tar_builder.h"

#include "common/digest.h"

#include <archive.h>
#include <archive_entry.h>
#include <zlib.h>

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <sys/sysmacros.h>
#include <stdexcept>

namespace berth::test {

TarBuilder::Entry TarBuilder::makeEntry(const std::string& name, const std::string& content, const std::string& link,
                                        int type, int mode) {
  Entry e;
  e.name = name;
  e.content = content;
  e.link = link;
  e.type = type;
  e.mode = mode;
  return e;
}

TarBuilder& TarBuilder::file(const std::string& name, const std::string& content, int mode) {
  entries_.push_back(makeEntry(name, content, "", AE_IFREG, mode));
  return *this;
}
TarBuilder& TarBuilder::dir(const std::string& name, int mode) {
  entries_.push_back(makeEntry(name, "", "", AE_IFDIR, mode));
  return *this;
}
TarBuilder& TarBuilder::symlink(const std::string& name, const std::string& target) {
  entries_.push_back(makeEntry(name, "", target, AE_IFLNK, 0777));
  return *this;
}
TarBuilder& TarBuilder::hardlink(const std::string& name, const std::string& target) {
  Entry e = makeEntry(name, "", target, AE_IFREG, 0644);
  e.hard = true;
  entries_.push_back(e);
  return *this;
}
TarBuilder& TarBuilder::charDevice(const std::string& name, int major, int minor) {
  Entry e = makeEntry(name, "", "", AE_IFCHR, 0666);
  e.major = major;
  e.minor = minor;
  entries_.push_back(e);
  return *this;
}
TarBuilder& TarBuilder::fileOwned(const std::string& name, const std::string& content, int mode, int uid, int gid,
                                  const std::string& uname, const std::string& gname) {
  Entry e = makeEntry(name, content, "", AE_IFREG, mode);
  e.uid = uid;
  e.gid = gid;
  e.uname = uname;
  e.gname = gname;
  entries_.push_back(e);
  return *this;
}

TarBuilder& TarBuilder::fileWithXattr(const std::string& name, const std::string& content, const std::string& xattr,
                                      const std::string& value) {
  Entry e = makeEntry(name, content, "", AE_IFREG, 0644);
  e.xattr = xattr;
  e.xvalue = value;
  entries_.push_back(e);
  return *this;
}

void TarBuilder::write(const std::string& path, bool gzip) const {
  std::unique_ptr<archive, decltype(&archive_write_free)> a(archive_write_new(), archive_write_free);
  archive_write_set_format_pax_restricted(a.get());
  if (gzip) archive_write_add_filter_gzip(a.get());
  if (archive_write_open_filename(a.get(), path.c_str()) != ARCHIVE_OK) throw std::runtime_error("open " + path);
  for (const auto& e : entries_) {
    std::unique_ptr<archive_entry, decltype(&archive_entry_free)> en(archive_entry_new(), archive_entry_free);
    archive_entry_set_pathname(en.get(), e.name.c_str());
    archive_entry_set_filetype(en.get(), static_cast<unsigned>(e.type));
    archive_entry_set_perm(en.get(), static_cast<mode_t>(e.mode));
    archive_entry_set_mtime(en.get(), 1700000000, 0);
    archive_entry_set_uid(en.get(), e.uid);
    archive_entry_set_gid(en.get(), e.gid);
    if (!e.uname.empty()) archive_entry_set_uname(en.get(), e.uname.c_str());
    if (!e.gname.empty()) archive_entry_set_gname(en.get(), e.gname.c_str());
    if (e.type == AE_IFLNK) archive_entry_set_symlink(en.get(), e.link.c_str());
    if (e.hard) archive_entry_set_hardlink(en.get(), e.link.c_str());
    if (e.type == AE_IFCHR) archive_entry_set_rdev(en.get(), makedev(e.major, e.minor));
    if (!e.xattr.empty()) archive_entry_xattr_add_entry(en.get(), e.xattr.c_str(), e.xvalue.data(), e.xvalue.size());
    if (e.type == AE_IFREG && !e.hard) archive_entry_set_size(en.get(), static_cast<la_int64_t>(e.content.size()));
    if (archive_write_header(a.get(), en.get()) != ARCHIVE_OK) {
      throw std::runtime_error("tar entry " + e.name + ": " + archive_error_string(a.get()));
    }
    if (!e.content.empty() &&
        archive_write_data(a.get(), e.content.data(), e.content.size()) != static_cast<la_ssize_t>(e.content.size())) {
      throw std::runtime_error("tar data of " + e.name + ": " + archive_error_string(a.get()));
    }
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK) throw std::runtime_error("close " + path + ": " + archive_error_string(a.get()));
}

std::string sha256File(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return "sha256:" + sha256Hex(ss.str());
}

std::string sha256Uncompressed(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");  // reads plain files as they are
  if (!f) throw std::runtime_error("open " + path);
  Sha256 hash;
  char buf[65536];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) hash.update(buf, static_cast<size_t>(n));
  gzclose(f);
  return hash.digest();
}

std::string makeDockerArchive(const std::string& path, const std::vector<std::string>& layerTars,
                              const std::vector<std::string>& tags, const std::string& workDir,
                              const std::vector<std::string>& diffIdOverride, const std::string& cmd) {
  nlohmann::json diffIds = nlohmann::json::array();
  for (size_t i = 0; i < layerTars.size(); ++i) {
    diffIds.push_back(i < diffIdOverride.size() ? diffIdOverride[i] : sha256Uncompressed(layerTars[i]));
  }
  nlohmann::json config = {
      {"architecture", "amd64"},
      {"os", "linux"},
      {"created", "2026-11-01T00:00:00Z"},
      {"config", {{"Cmd", {cmd}}, {"Env", {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}}}},
      {"rootfs", {{"type", "layers"}, {"diff_ids", diffIds}}},
      {"history", nlohmann::json::array({{{"created", "2026-11-01T00:00:00Z"}, {"created_by", "berth test"}}})}};
  std::string configText = config.dump();
  std::string configPath = workDir + "/config.json";
  std::ofstream(configPath) << configText;
  std::string id = sha256File(configPath);
  TarBuilder outer;
  outer.file(id.substr(7) + ".json", configText);
  nlohmann::json layers = nlohmann::json::array();
  for (size_t i = 0; i < layerTars.size(); ++i) {
    std::ifstream in(layerTars[i], std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string name = "layer" + std::to_string(i) + "/layer.tar";
    outer.file(name, ss.str());
    layers.push_back(name);
  }
  outer.file("manifest.json",
             nlohmann::json::array({{{"Config", id.substr(7) + ".json"}, {"RepoTags", tags}, {"Layers", layers}}}).dump());
  outer.write(path);
  return id;
}

}  // namespace berth::test
