// Layer extraction from untrusted archives: what is extracted, how whiteouts land, and every
// hostile entry refused with nothing written outside the layer.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/errors.h"
#include "services/images/layer_extractor.h"
#include "tests/support/process.h"
#include "tests/support/tar_builder.h"

namespace berth::images {
namespace {

namespace fs = std::filesystem;

class LayerExtractorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    target_ = fs::canonical(dir_.path()).string() + "/layer";
    fs::create_directories(target_);
    fs::create_directories(dir_.path() + "/outside");
  }

  ExtractedLayer extract(const test::TarBuilder& tar, bool gzip = false) {
    std::string path = dir_.path() + (gzip ? "/layer.tar.gz" : "/layer.tar");
    tar.write(path, gzip);
    return extractLayer(path, target_, dir_.path() + "/copy.tar");
  }

  std::string refusal(const test::TarBuilder& tar) {
    try {
      extract(tar);
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::invalid);
      return e.what();
    }
    return "";
  }

  test::TempDir dir_{"berth-layer"};
  std::string target_;
};

TEST_F(LayerExtractorTest, ExtractsFilesDirectoriesAndLinksAndHashesTheTar) {
  test::TarBuilder tar;
  tar.dir("bin").file("bin/busybox", "#!binary", 0755).symlink("bin/sh", "busybox").symlink("bin/abs", "/bin/busybox");
  tar.file("etc/passwd", "root:x:0:0::/root:/bin/sh\n").hardlink("etc/passwd-", "etc/passwd");
  auto r = extract(tar);
  EXPECT_EQ(test::readText(target_ + "/bin/busybox"), "#!binary");
  EXPECT_EQ(fs::status(target_ + "/bin/busybox").permissions() & fs::perms::owner_exec, fs::perms::owner_exec);
  EXPECT_EQ(fs::read_symlink(target_ + "/bin/sh"), "busybox");
  EXPECT_EQ(fs::read_symlink(target_ + "/bin/abs"), "/bin/busybox");
  EXPECT_EQ(fs::hard_link_count(target_ + "/etc/passwd"), 2u);
  EXPECT_EQ(r.diffId, test::sha256File(dir_.path() + "/layer.tar"));
  EXPECT_EQ(r.tarBytes, fs::file_size(dir_.path() + "/layer.tar"));
  EXPECT_EQ(r.contentBytes, 8u + 26u);
  // The copy is the uncompressed stream, byte for byte.
  EXPECT_EQ(test::sha256File(dir_.path() + "/copy.tar"), r.diffId);
}

TEST_F(LayerExtractorTest, AGzipLayersDiffIdIsTheDigestOfItsUncompressedTar) {
  test::TarBuilder tar;
  tar.file("hello.txt", std::string(100000, 'h'));
  tar.write(dir_.path() + "/plain.tar");
  auto r = extract(tar, true);
  EXPECT_EQ(r.diffId, test::sha256File(dir_.path() + "/plain.tar"));
  EXPECT_EQ(test::readText(target_ + "/hello.txt").size(), 100000u);
}

TEST_F(LayerExtractorTest, LongNamesAndXattrsSurvive) {
  std::string deep;
  for (int i = 0; i < 12; ++i) deep += "directory-with-a-long-name-" + std::to_string(i) + "/";
  test::TarBuilder tar;
  tar.file(deep + "file-at-the-bottom.txt", "deep");
  tar.fileWithXattr("ping", "icmp", "user.berth.test", "yes");
  tar.fileWithXattr("sneaky", "x", "trusted.overlay.redirect", "/etc");
  extract(tar);
  EXPECT_EQ(test::readText(target_ + "/" + deep + "file-at-the-bottom.txt"), "deep");
  char value[16] = {};
  EXPECT_EQ(getxattr((target_ + "/ping").c_str(), "user.berth.test", value, sizeof value), 3);
  EXPECT_STREQ(value, "yes");
  EXPECT_LT(getxattr((target_ + "/sneaky").c_str(), "trusted.overlay.redirect", value, sizeof value), 0)
      << "an overlay-steering xattr was applied";
}

TEST_F(LayerExtractorTest, WhiteoutsBecomeOverlayWhiteoutsAndOpaqueDirectories) {
  test::TarBuilder tar;
  tar.file(".wh.removed-file", "").dir("etc").file("etc/.wh..wh..opq", "");
  extract(tar);
  struct stat st {};
  ASSERT_EQ(lstat((target_ + "/removed-file").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(0, 0));
  EXPECT_FALSE(fs::exists(target_ + "/.wh.removed-file"));
  char value[4] = {};
  EXPECT_EQ(getxattr((target_ + "/etc").c_str(), "trusted.overlay.opaque", value, sizeof value), 1);
  EXPECT_EQ(value[0], 'y');
}

TEST_F(LayerExtractorTest, WhiteoutsOfDotOrDotDotAreRefused) {
  auto msg = refusal(test::TarBuilder().dir("d").file("d/.wh..", ""));
  EXPECT_NE(msg.find("names nothing"), std::string::npos) << msg;
  msg = refusal(test::TarBuilder().dir("d").file("d/.wh...", ""));
  EXPECT_NE(msg.find("names nothing"), std::string::npos) << msg;
}

// The tar's user and group names are never looked up on the host: dockerd extracts by numeric
// id, so "uid 1000, uname root" is owned by 1000, and a setuid bit stays on a file 1000 owns.
TEST_F(LayerExtractorTest, OwnersComeFromTheNumericIdsNeverFromTheNames) {
  if (::geteuid() != 0) GTEST_SKIP() << "chown to other users needs root";
  extract(test::TarBuilder()
              .fileOwned("suid", "x", 04755, 1000, 1000, "root", "root")
              .fileOwned("named", "y", 0644, 0, 0, "nobody", "nogroup"));
  struct stat st {};
  ASSERT_EQ(::lstat((target_ + "/suid").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1000u);
  EXPECT_EQ(st.st_gid, 1000u);
  ASSERT_EQ(::lstat((target_ + "/named").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_gid, 0u);
}

TEST_F(LayerExtractorTest, DeviceNodesAreNotCreated) {
  test::TarBuilder tar;
  tar.charDevice("dev/mem", 1, 1).file("ok", "fine");
  extract(tar);
  // The archive does carry the device: GNU tar lists it as a character device 1,1.
  auto listing = test::run({"tar", "-tvf", dir_.path() + "/layer.tar"});
  ASSERT_EQ(listing.exitCode, 0) << listing.err;
  EXPECT_EQ(listing.out.rfind("crw", 0), 0u) << listing.out;
  EXPECT_NE(listing.out.find(" 1,1 "), std::string::npos) << listing.out;
  EXPECT_FALSE(fs::exists(target_ + "/dev/mem"));
  EXPECT_TRUE(fs::exists(target_ + "/ok"));
}

TEST_F(LayerExtractorTest, DotDotAndAbsoluteNamesAreRefused) {
  auto msg = refusal(test::TarBuilder().file("../outside/evil", "x"));
  EXPECT_NE(msg.find("climbs out of the layer"), std::string::npos) << msg;
  msg = refusal(test::TarBuilder().file("a/../../outside/evil", "x"));
  EXPECT_NE(msg.find("climbs out"), std::string::npos) << msg;
  msg = refusal(test::TarBuilder().file("/tmp/berth-absolute-evil", "x"));
  EXPECT_NE(msg.find("absolute path"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(dir_.path() + "/outside/evil"));
  EXPECT_FALSE(fs::exists("/tmp/berth-absolute-evil"));
}

TEST_F(LayerExtractorTest, HardLinksOutOfTheLayerAreRefused) {
  auto msg = refusal(test::TarBuilder().hardlink("shadow", "../outside/secret"));
  EXPECT_NE(msg.find("climbs out"), std::string::npos) << msg;
  msg = refusal(test::TarBuilder().hardlink("passwd", "/etc/passwd"));
  EXPECT_NE(msg.find("absolute path"), std::string::npos) << msg;
  msg = refusal(test::TarBuilder().hardlink("nothing", "not-here"));
  EXPECT_NE(msg.find("not a file in this layer"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(target_ + "/passwd"));
}

TEST_F(LayerExtractorTest, EntriesThroughASymlinkedParentAreRefused) {
  std::string outside = fs::canonical(dir_.path()).string() + "/outside";
  auto msg = refusal(test::TarBuilder().symlink("escape", outside).file("escape/pwned", "x"));
  EXPECT_NE(msg.find("passes through the symlink escape"), std::string::npos) << msg;
  msg = refusal(test::TarBuilder().symlink("up", "..").file("up/outside/pwned2", "x"));
  EXPECT_NE(msg.find("symlink"), std::string::npos) << msg;
  msg = refusal(test::TarBuilder().symlink("w", outside).file("w/.wh.victim", ""));
  EXPECT_NE(msg.find("symlink"), std::string::npos) << msg;
  EXPECT_TRUE(fs::is_empty(outside)) << "something was written outside the layer";
}

TEST_F(LayerExtractorTest, CorruptGzipAndTruncatedTarsAreRefused) {
  test::TarBuilder tar;
  tar.file("big", std::string(200000, 'z'));
  tar.write(dir_.path() + "/good.tar.gz", true);
  std::string gz = test::readText(dir_.path() + "/good.tar.gz");
  gz[gz.size() / 2] ^= 0x55;
  gz[gz.size() / 2 + 1] ^= 0x55;
  { std::ofstream(dir_.path() + "/bad.tar.gz", std::ios::binary) << gz; }
  EXPECT_THROW(extractLayer(dir_.path() + "/bad.tar.gz", target_, dir_.path() + "/c1"), Error);
  tar.write(dir_.path() + "/good.tar");
  std::string t = test::readText(dir_.path() + "/good.tar");
  { std::ofstream(dir_.path() + "/cut.tar", std::ios::binary) << t.substr(0, 100000); }
  fs::remove_all(target_);
  fs::create_directories(target_);
  EXPECT_THROW(extractLayer(dir_.path() + "/cut.tar", target_, dir_.path() + "/c2"), Error);
}

}  // namespace
}  // namespace berth::images
