// libarchive opened at the first call (services/images/libarchive_on_demand.cc). This program
// links the forwarders and not libarchive, as berth-images does: it maps no libarchive until
// the first call, a tar written and read back through the forwarders is what GNU tar and
// libarchive itself make of it, and the library closes once no archive or entry is alive and
// opens again for the next.
#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <cerrno>
#include <atomic>
#include <chrono>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "services/images/libarchive_on_demand.h"
#include "tests/support/process.h"

namespace berth::test {
namespace {

la_ssize_t appendTo(struct archive*, void* out, const void* data, size_t size) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(data), size);
  return static_cast<la_ssize_t>(size);
}

struct Source {
  std::string bytes;
  bool delivered = false;
  bool failing = false;
};

la_ssize_t readFrom(struct archive* a, void* in, const void** data) {
  auto* source = static_cast<Source*>(in);
  if (source->failing) {
    archive_set_error(a, EIO, "short read at %d of %s (%zu bytes)", 7, "layer", source->bytes.size());
    return -1;
  }
  if (source->delivered) return 0;
  source->delivered = true;
  *data = source->bytes.data();
  return static_cast<la_ssize_t>(source->bytes.size());
}

// A tar with a file (mode, xattr, contents), a hard link to it and a symlink.
std::string writeTar() {
  std::string out;
  struct archive* w = archive_write_new();
  EXPECT_EQ(archive_write_set_format_pax_restricted(w), ARCHIVE_OK);
  EXPECT_EQ(archive_write_set_bytes_in_last_block(w, 1), ARCHIVE_OK);
  EXPECT_EQ(archive_write_open2(w, &out, nullptr, appendTo, nullptr, nullptr), ARCHIVE_OK) << archive_error_string(w);
  struct archive_entry* e = archive_entry_new();
  archive_entry_set_pathname(e, "dir/file");
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, 0640);
  archive_entry_set_size(e, 5);
  archive_entry_xattr_add_entry(e, "user.berth", "on demand", 9);
  EXPECT_EQ(archive_write_header(w, e), ARCHIVE_OK) << archive_error_string(w);
  EXPECT_EQ(archive_write_data(w, "hello", 5), 5);
  EXPECT_EQ(archive_write_finish_entry(w), ARCHIVE_OK);
  archive_entry_free(e);
  e = archive_entry_new();
  archive_entry_set_pathname(e, "dir/link");
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_hardlink(e, "dir/file");
  archive_entry_set_nlink(e, 2);
  EXPECT_EQ(archive_write_header(w, e), ARCHIVE_OK) << archive_error_string(w);
  archive_entry_free(e);
  e = archive_entry_new();
  archive_entry_set_pathname(e, "dir/sym");
  archive_entry_set_filetype(e, AE_IFLNK);
  archive_entry_set_perm(e, 0777);
  archive_entry_copy_symlink(e, "file");
  archive_entry_copy_uname(e, "berth");
  EXPECT_EQ(archive_write_header(w, e), ARCHIVE_OK) << archive_error_string(w);
  archive_entry_free(e);
  EXPECT_EQ(archive_write_close(w), ARCHIVE_OK);
  EXPECT_EQ(archive_write_free(w), ARCHIVE_OK);
  return out;
}

// The paths of a tar, read through the forwarders.
std::vector<std::string> pathsIn(const std::string& tar) {
  Source source{tar};
  struct archive* r = archive_read_new();
  EXPECT_EQ(archive_read_support_format_tar(r), ARCHIVE_OK);
  EXPECT_EQ(archive_read_open(r, &source, nullptr, readFrom, nullptr), ARCHIVE_OK) << archive_error_string(r);
  std::vector<std::string> paths;
  struct archive_entry* e = nullptr;
  while (archive_read_next_header(r, &e) == ARCHIVE_OK) paths.push_back(archive_entry_pathname(e));
  EXPECT_EQ(archive_read_free(r), ARCHIVE_OK);
  return paths;
}

const std::vector<std::string> kPaths = {"dir/file", "dir/link", "dir/sym"};

TEST(LibarchiveOnDemandTest, NothingIsMappedUntilTheFirstCallAndATarRoundTrips) {
  // Before any call: ctest runs each test of this program in a process of its own (run
  // together, this one must come first).
  EXPECT_FALSE(mapsLibrary(getpid(), "libarchive.so")) << "libarchive mapped before any call into it";
  std::string tar = writeTar();
  EXPECT_TRUE(mapsLibrary(getpid(), "libarchive.so")) << "the first call did not open libarchive";
  ASSERT_GT(tar.size(), 1024u);

  // GNU tar reads what the forwarders wrote.
  TempDir dir("berth-libarchive-on-demand");
  {
    std::ofstream file(dir.path() + "/t.tar", std::ios::binary);
    file << tar;
  }
  auto listing = run({"tar", "-tvf", dir.path() + "/t.tar"});
  ASSERT_EQ(listing.exitCode, 0) << listing.err;
  EXPECT_NE(listing.out.find("-rw-r----- 0/0               5 "), std::string::npos) << listing.out;
  EXPECT_NE(listing.out.find(" dir/file\n"), std::string::npos) << listing.out;
  EXPECT_NE(listing.out.find("dir/link link to dir/file"), std::string::npos) << listing.out;
  EXPECT_NE(listing.out.find("dir/sym -> file"), std::string::npos) << listing.out;

  // And libarchive, through the forwarders, reads back every field.
  Source source{tar};
  struct archive* r = archive_read_new();
  ASSERT_EQ(archive_read_support_format_tar(r), ARCHIVE_OK);
  ASSERT_EQ(archive_read_support_format_gnutar(r), ARCHIVE_OK);
  ASSERT_EQ(archive_read_support_filter_gzip(r), ARCHIVE_OK);
  ASSERT_EQ(archive_read_open(r, &source, nullptr, readFrom, nullptr), ARCHIVE_OK) << archive_error_string(r);
  struct archive_entry* e = nullptr;
  ASSERT_EQ(archive_read_next_header(r, &e), ARCHIVE_OK) << archive_error_string(r);
  EXPECT_STREQ(archive_entry_pathname(e), "dir/file");
  EXPECT_EQ(archive_entry_filetype(e), static_cast<__LA_MODE_T>(AE_IFREG));
  EXPECT_EQ(archive_entry_size(e), 5);
  // pax carries the attribute twice (LIBARCHIVE.xattr and SCHILY.xattr); each read names it.
  EXPECT_GE(archive_entry_xattr_reset(e), 1);
  const char* name = nullptr;
  const void* value = nullptr;
  size_t size = 0;
  std::set<std::string> attributes;
  while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
    attributes.insert(std::string(name) + "=" + std::string(static_cast<const char*>(value), size));
  }
  EXPECT_EQ(attributes, std::set<std::string>{"user.berth=on demand"});
  const void* block = nullptr;
  la_int64_t offset = -1;
  ASSERT_EQ(archive_read_data_block(r, &block, &size, &offset), ARCHIVE_OK);
  EXPECT_EQ(std::string(static_cast<const char*>(block), size), "hello");
  EXPECT_EQ(offset, 0);
  ASSERT_EQ(archive_read_next_header(r, &e), ARCHIVE_OK) << archive_error_string(r);
  EXPECT_STREQ(archive_entry_pathname(e), "dir/link");
  EXPECT_STREQ(archive_entry_hardlink(e), "dir/file");
  ASSERT_EQ(archive_read_next_header(r, &e), ARCHIVE_OK) << archive_error_string(r);
  EXPECT_STREQ(archive_entry_pathname(e), "dir/sym");
  EXPECT_EQ(archive_entry_filetype(e), static_cast<__LA_MODE_T>(AE_IFLNK));
  EXPECT_EQ(archive_read_next_header(r, &e), ARCHIVE_EOF);
  EXPECT_EQ(archive_read_free(r), ARCHIVE_OK);
}

TEST(LibarchiveOnDemandTest, AnErrorSetInACallbackIsFormattedAndReported) {
  Source source{std::string(1024, '\0')};
  source.failing = true;
  struct archive* r = archive_read_new();
  ASSERT_EQ(archive_read_support_format_tar(r), ARCHIVE_OK);
  EXPECT_EQ(archive_read_open(r, &source, nullptr, readFrom, nullptr), ARCHIVE_FATAL);
  ASSERT_NE(archive_error_string(r), nullptr);
  EXPECT_STREQ(archive_error_string(r), "short read at 7 of layer (1024 bytes)");
  EXPECT_EQ(archive_read_free(r), ARCHIVE_OK);
}

TEST(LibarchiveOnDemandTest, TheLibraryClosesOnlyWhenNoArchiveOrEntryIsAliveAndOpensAgainForTheNext) {
  ASSERT_EQ(pathsIn(writeTar()), kPaths);
  ASSERT_TRUE(mapsLibrary(getpid(), "libarchive.so"));
  ASSERT_TRUE(mapsLibrary(getpid(), "libxml2.so")) << "libarchive no longer brings libxml2: the test shows less";
  // Not before the idle time has passed since the last archive was freed.
  EXPECT_FALSE(images::closeLibarchiveIfIdle(std::chrono::hours(1)));
  EXPECT_TRUE(mapsLibrary(getpid(), "libarchive.so"));

  // An archive alive holds it, and so does an entry of its own.
  struct archive* r = archive_read_new();
  ASSERT_NE(r, nullptr);
  EXPECT_FALSE(images::closeLibarchiveIfIdle(std::chrono::seconds(0)));
  struct archive_entry* e = archive_entry_new();
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(archive_read_free(r), ARCHIVE_OK);
  EXPECT_FALSE(images::closeLibarchiveIfIdle(std::chrono::seconds(0)));
  EXPECT_TRUE(images::libarchiveIsOpen());
  archive_entry_set_pathname(e, "still/usable");
  EXPECT_STREQ(archive_entry_pathname(e), "still/usable");
  archive_entry_free(e);

  // Freed, it closes, with what it brought in.
  EXPECT_TRUE(images::closeLibarchiveIfIdle(std::chrono::seconds(0)));
  EXPECT_FALSE(images::libarchiveIsOpen());
  EXPECT_FALSE(mapsLibrary(getpid(), "libarchive.so"));
  EXPECT_FALSE(mapsLibrary(getpid(), "libxml2.so"));
  EXPECT_FALSE(mapsLibrary(getpid(), "libicuuc.so"));
  EXPECT_FALSE(images::closeLibarchiveIfIdle(std::chrono::seconds(0))) << "closed twice";

  // Null objects are libarchive's no-ops and hold nothing.
  EXPECT_EQ(archive_read_free(nullptr), ARCHIVE_OK);
  EXPECT_EQ(archive_write_free(nullptr), ARCHIVE_OK);
  archive_entry_free(nullptr);
  EXPECT_FALSE(images::libarchiveIsOpen());

  // The next archive opens it again, every function looked up anew: a tar round-trips.
  ASSERT_EQ(pathsIn(writeTar()), kPaths);
  EXPECT_TRUE(mapsLibrary(getpid(), "libarchive.so"));
  Source failing{std::string(1024, '\0')};
  failing.failing = true;
  r = archive_read_new();
  ASSERT_EQ(archive_read_support_format_tar(r), ARCHIVE_OK);
  EXPECT_EQ(archive_read_open(r, &failing, nullptr, readFrom, nullptr), ARCHIVE_FATAL);
  EXPECT_STREQ(archive_error_string(r), "short read at 7 of layer (1024 bytes)");
  EXPECT_EQ(archive_read_free(r), ARCHIVE_OK);
  EXPECT_TRUE(images::closeLibarchiveIfIdle(std::chrono::seconds(0)));
}

// Closes tried over and over while four threads write and read tars: none reaches a closed
// library (which would crash the process) and every tar is whole.
TEST(LibarchiveOnDemandTest, ClosesTriedWhileOtherThreadsUseTheLibraryNeverCloseItUnderThem) {
  std::atomic<bool> done{false};
  std::atomic<int> closes{0};
  std::thread closer([&] {
    while (!done.load()) {
      if (images::closeLibarchiveIfIdle(std::chrono::seconds(0))) ++closes;
      std::this_thread::yield();
    }
  });
  // Each user pauses between its tars, a different time each, so that at moments none holds the
  // library; they go on past 150 tars each until it has closed 20 times (or 20 s have passed).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::atomic<int> tars{0};
  std::atomic<int> whole{0};
  std::vector<std::thread> users;
  for (int t = 0; t < 4; ++t) {
    users.emplace_back([&, t] {
      for (int i = 0; i < 150 || (closes.load() < 20 && std::chrono::steady_clock::now() < deadline); ++i) {
        ++tars;
        if (pathsIn(writeTar()) == kPaths) ++whole;
        std::this_thread::sleep_for(std::chrono::microseconds(50 * (t + 1)));
      }
    });
  }
  for (auto& u : users) u.join();
  done = true;
  closer.join();
  EXPECT_GE(tars.load(), 600);
  EXPECT_EQ(whole.load(), tars.load());
  EXPECT_GE(closes.load(), 5) << "the library seldom closed between uses: the test showed little";
  images::closeLibarchiveIfIdle(std::chrono::seconds(0));
  EXPECT_FALSE(mapsLibrary(getpid(), "libarchive.so"));
}

}  // namespace
}  // namespace berth::test
