// Crafts tar archives for tests, including the hostile ones (names with "..", absolute paths,
// links out of the layer, device nodes) that archive-safety tests need. Uses libarchive's writer.
#pragma once

#include <string>
#include <vector>

namespace berth::test {

class TarBuilder {
 public:
  TarBuilder& file(const std::string& name, const std::string& content, int mode = 0644);
  TarBuilder& dir(const std::string& name, int mode = 0755);
  TarBuilder& symlink(const std::string& name, const std::string& target);
  TarBuilder& hardlink(const std::string& name, const std::string& target);
  TarBuilder& charDevice(const std::string& name, int major, int minor);
  // A file whose header carries numeric ids and (possibly different) user and group names.
  TarBuilder& fileOwned(const std::string& name, const std::string& content, int mode, int uid, int gid,
                        const std::string& uname, const std::string& gname);
  TarBuilder& fileWithXattr(const std::string& name, const std::string& content, const std::string& xattr,
                            const std::string& value);
  // Writes a pax tar (gzip-compressed when `gzip`) to `path`.
  void write(const std::string& path, bool gzip = false) const;

 private:
  struct Entry {
    std::string name, content, link;
    int type = 0;  // AE_IF*
    int mode = 0;
    bool hard = false;
    int major = 0, minor = 0;
    std::string xattr, xvalue;
    int uid = 0, gid = 0;
    std::string uname, gname;
  };
  static Entry makeEntry(const std::string& name, const std::string& content, const std::string& link, int type,
                         int mode);
  std::vector<Entry> entries_;
};

std::string sha256File(const std::string& path);          // "sha256:<hex>" of the bytes
std::string sha256Uncompressed(const std::string& path);  // of the gunzipped bytes (plain files as they are)

// A `docker save`-style archive of one image built from `layers` (tar files), tagged `tags`;
// returns the image id. The config's diff ids are the layers' real digests unless overridden.
std::string makeDockerArchive(const std::string& path, const std::vector<std::string>& layerTars,
                              const std::vector<std::string>& tags, const std::string& workDir,
                              const std::vector<std::string>& diffIdOverride = {}, const std::string& cmd = "sh");

}  // namespace berth::test
