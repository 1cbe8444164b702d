// Copy-up (dockerd's copyExistingContents) and the tree walks of a volume: what is copied and
// how, what is never followed or written, sizes as dockerd counts them, removal that neither
// follows links nor descends into mounts. Ownership to other users needs root and says so.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/errors.h"
#include "common/files.h"
#include "services/volumes/copy_up.h"
#include "services/volumes/directory_tree.h"
#include "tests/support/process.h"
#include "tests/unit/error_checks.h"

namespace berth::volumes {
namespace {

namespace fs = std::filesystem;

void writeText(const std::string& path, const std::string& text, mode_t mode = 0644) {
  std::ofstream(path) << text;
  ASSERT_EQ(::chmod(path.c_str(), mode), 0) << path;
}

std::vector<std::string> directoryEntriesOf(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) throw Error(ErrorKind::notFound, "open " + path);
  return directoryEntries(fd.get(), path);
}

struct stat lstatOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st;
}

class CopyUpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    src_ = dir_.path() + "/rootfs/data";
    dst_ = dir_.path() + "/volume/_data";
    fs::create_directories(src_);
    fs::create_directories(dst_);
  }
  test::TempDir dir_{"berth-copyup"};
  std::string src_, dst_;
};

TEST_F(CopyUpTest, CopiesFilesDirectoriesAndLinksWithModesAndTimes) {
  fs::create_directories(src_ + "/sub/deeper");
  writeText(src_ + "/file", "hello\n", 0640);
  writeText(src_ + "/sub/deeper/x", std::string(100000, 'x'), 0755);
  ASSERT_EQ(::symlink("/etc/passwd", (src_ + "/abs-link").c_str()), 0);
  ASSERT_EQ(::symlink("../file", (src_ + "/sub/rel-link").c_str()), 0);
  ASSERT_EQ(::link((src_ + "/file").c_str(), (src_ + "/sub/hardlink").c_str()), 0);
  ASSERT_EQ(::mkfifo((src_ + "/fifo").c_str(), 0600), 0);
  ASSERT_EQ(::chmod((src_ + "/sub").c_str(), 0750), 0);
  ASSERT_EQ(::chmod(src_.c_str(), 0710), 0);
  timespec old[2] = {{1000000000, 5}, {1000000000, 7}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (src_ + "/file").c_str(), old, AT_SYMLINK_NOFOLLOW), 0);
  ASSERT_EQ(::utimensat(AT_FDCWD, (src_ + "/sub").c_str(), old, 0), 0);

  ASSERT_TRUE(copyUpIfEmpty(src_, dst_));

  EXPECT_EQ(readFile(dst_ + "/file"), "hello\n");
  EXPECT_EQ(readFile(dst_ + "/sub/deeper/x"), std::string(100000, 'x'));
  EXPECT_EQ(lstatOf(dst_ + "/file").st_mode & 07777, 0640u);
  EXPECT_EQ(lstatOf(dst_ + "/sub/deeper/x").st_mode & 07777, 0755u);
  EXPECT_EQ(lstatOf(dst_ + "/sub").st_mode & 07777, 0750u);
  // The volume's root takes the image directory's own mode (dockerd's copyOwnership).
  EXPECT_EQ(lstatOf(dst_).st_mode & 07777, 0710u);
  EXPECT_EQ(lstatOf(dst_ + "/file").st_mtim.tv_sec, 1000000000);
  EXPECT_EQ(lstatOf(dst_ + "/file").st_mtim.tv_nsec, 7);
  EXPECT_EQ(lstatOf(dst_ + "/sub").st_mtim.tv_sec, 1000000000) << "a directory's time is set after its content";
  // Symbolic links stay links, with their targets as written.
  EXPECT_TRUE(S_ISLNK(lstatOf(dst_ + "/abs-link").st_mode));
  EXPECT_EQ(fs::read_symlink(dst_ + "/abs-link"), "/etc/passwd");
  EXPECT_EQ(fs::read_symlink(dst_ + "/sub/rel-link"), "../file");
  EXPECT_TRUE(S_ISFIFO(lstatOf(dst_ + "/fifo").st_mode));
  if (::geteuid() == 0) {
    // Linking by descriptor needs CAP_DAC_READ_SEARCH; without it the twin is a copy.
    EXPECT_EQ(lstatOf(dst_ + "/file").st_ino, lstatOf(dst_ + "/sub/hardlink").st_ino);
  }
  EXPECT_EQ(readFile(dst_ + "/sub/hardlink"), "hello\n");
}

TEST_F(CopyUpTest, CopiesOwnershipWhenRunAsRoot) {
  if (::geteuid() != 0) GTEST_SKIP() << "chown to another user needs root";
  writeText(src_ + "/owned", "x");
  ASSERT_EQ(::lchown((src_ + "/owned").c_str(), 1234, 5678), 0);
  ASSERT_EQ(::chmod((src_ + "/owned").c_str(), 04755), 0);
  ASSERT_EQ(::symlink("owned", (src_ + "/link").c_str()), 0);
  ASSERT_EQ(::lchown((src_ + "/link").c_str(), 42, 43), 0);
  ASSERT_EQ(::chown(src_.c_str(), 999, 998), 0);
  ASSERT_TRUE(copyUpIfEmpty(src_, dst_));
  EXPECT_EQ(lstatOf(dst_ + "/owned").st_uid, 1234u);
  EXPECT_EQ(lstatOf(dst_ + "/owned").st_gid, 5678u);
  EXPECT_EQ(lstatOf(dst_ + "/owned").st_mode & 07777, 04755u) << "the set-uid bit survives the chown";
  EXPECT_EQ(lstatOf(dst_ + "/link").st_uid, 42u);
  EXPECT_EQ(lstatOf(dst_).st_uid, 999u);
  EXPECT_EQ(lstatOf(dst_).st_gid, 998u);
}

TEST_F(CopyUpTest, CopiesNothingIntoAVolumeThatHasContent) {
  writeText(src_ + "/image-file", "from the image");
  writeText(dst_ + "/existing", "mine");
  EXPECT_FALSE(copyUpIfEmpty(src_, dst_));
  EXPECT_FALSE(fs::exists(dst_ + "/image-file"));
  EXPECT_EQ(readFile(dst_ + "/existing"), "mine");
}

TEST_F(CopyUpTest, CopiesNothingFromAMissingPathAFileOrASymlink) {
  EXPECT_FALSE(copyUpIfEmpty(src_ + "/absent", dst_));
  writeText(src_ + "/plain", "x");
  EXPECT_FALSE(copyUpIfEmpty(src_ + "/plain", dst_));
  // The image's path is a link to a host directory: it is not followed.
  std::string hostDir = dir_.path() + "/host-secrets";
  fs::create_directories(hostDir);
  writeText(hostDir + "/secret", "host only");
  ASSERT_EQ(::symlink(hostDir.c_str(), (src_ + "/escape").c_str()), 0);
  EXPECT_FALSE(copyUpIfEmpty(src_ + "/escape", dst_));
  EXPECT_TRUE(directoryEntriesOf(dst_).empty());
}

TEST_F(CopyUpTest, NeverFollowsLinksInsideTheTreeNorWritesThroughThem) {
  // Links in the image that point at host paths are copied as links: their targets are not
  // read, and nothing is written through them.
  std::string hostDir = dir_.path() + "/host";
  fs::create_directories(hostDir);
  writeText(hostDir + "/secret", "host only");
  ASSERT_EQ(::symlink(hostDir.c_str(), (src_ + "/dir-link").c_str()), 0);
  ASSERT_EQ(::symlink((hostDir + "/secret").c_str(), (src_ + "/file-link").c_str()), 0);
  ASSERT_TRUE(copyUpIfEmpty(src_, dst_));
  EXPECT_TRUE(S_ISLNK(lstatOf(dst_ + "/dir-link").st_mode));
  EXPECT_TRUE(S_ISLNK(lstatOf(dst_ + "/file-link").st_mode));
  EXPECT_EQ(readFile(hostDir + "/secret"), "host only");
  EXPECT_EQ(directoryEntriesOf(hostDir), std::vector<std::string>{"secret"});
}

TEST_F(CopyUpTest, RefusesToWriteThroughATargetThatIsASymlink) {
  std::string outside = dir_.path() + "/outside";
  fs::create_directories(outside);
  writeText(src_ + "/f", "x");
  std::string linkTarget = dir_.path() + "/volume/link-data";
  ASSERT_EQ(::symlink(outside.c_str(), linkTarget.c_str()), 0);
  // The target is opened with O_NOFOLLOW | O_DIRECTORY: the link itself is refused (ENOTDIR),
  // never followed.
  EXPECT_EQ(test::thrownMessage([&] { copyUpIfEmpty(src_, linkTarget); }), "open " + linkTarget + ": Not a directory");
  EXPECT_TRUE(directoryEntriesOf(outside).empty());
}

TEST_F(CopyUpTest, FailsCleanlyOnATreeDeeperThanItsLimit) {
  std::string path = src_;
  for (int i = 0; i < 450; ++i) {
    path += "/d";
    ASSERT_EQ(::mkdir(path.c_str(), 0755), 0) << i;
  }
  try {
    copyUpIfEmpty(src_, dst_);
    FAIL() << "copied a tree 450 levels deep";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("deeper than 400 levels"), std::string::npos) << e.what();
  }
}

TEST(TreeSize, CountsEveryNonDirectoryOnceAsDockerd) {
  test::TempDir dir("berth-size");
  std::string root = dir.path();
  fs::create_directories(root + "/a/b");
  writeText(root + "/one", std::string(1000, 'x'));
  writeText(root + "/a/b/two", std::string(234, 'y'));
  writeText(root + "/empty", "");
  ASSERT_EQ(::link((root + "/one").c_str(), (root + "/a/same").c_str()), 0);
  ASSERT_EQ(::symlink("one", (root + "/ln").c_str()), 0);  // counts its own 3 bytes
  EXPECT_EQ(treeSize(root), 1000 + 234 + 3);
  EXPECT_EQ(test::thrownKind([&] { treeSize(root + "/missing"); }), "notFound");
}

TEST(RemoveTree, RemovesWithoutFollowingLinks) {
  test::TempDir dir("berth-remove");
  std::string outside = dir.path() + "/outside";
  fs::create_directories(outside);
  writeText(outside + "/keep", "keep");
  std::string victim = dir.path() + "/trash/vol";
  fs::create_directories(victim + "/_data/sub");
  writeText(victim + "/_data/sub/f", "x", 0444);
  ASSERT_EQ(::chmod((victim + "/_data/sub").c_str(), 0555), 0);
  ASSERT_EQ(::symlink(outside.c_str(), (victim + "/_data/link").c_str()), 0);
  UniqueFd trash(::open((dir.path() + "/trash").c_str(), O_RDONLY | O_DIRECTORY));
  removeTreeAt(trash.get(), "vol");
  EXPECT_FALSE(fs::exists(victim));
  EXPECT_EQ(readFile(outside + "/keep"), "keep");
}

TEST(RemoveTree, FlattensAVeryDeepTree) {
  test::TempDir dir("berth-remove");
  std::string top = dir.path() + "/trash";
  std::string path = top + "/vol";
  ASSERT_EQ(::mkdir(top.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(path.c_str(), 0755), 0);
  UniqueFd cursor(::open(path.c_str(), O_RDONLY | O_DIRECTORY));
  for (int i = 0; i < 3000; ++i) {  // deeper than PATH_MAX allows as one path
    ASSERT_EQ(::mkdirat(cursor.get(), "d", 0755), 0) << i;
    cursor.reset(::openat(cursor.get(), "d", O_RDONLY | O_DIRECTORY));
    ASSERT_TRUE(cursor) << i;
  }
  cursor.reset();
  UniqueFd trash(::open(top.c_str(), O_RDONLY | O_DIRECTORY));
  removeTreeAt(trash.get(), "vol");
  EXPECT_TRUE(directoryEntriesOf(top).empty());
}

TEST(RemoveTree, NeverDescendsIntoAMount) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting a tmpfs needs root";
  test::TempDir dir("berth-remove");
  std::string data = dir.path() + "/trash/vol/_data";
  fs::create_directories(data);
  ASSERT_EQ(::mount("tmpfs", data.c_str(), "tmpfs", 0, "size=1m"), 0);
  struct Unmount {
    std::string path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{data};
  writeText(data + "/precious", "on the mount");
  UniqueFd trash(::open((dir.path() + "/trash").c_str(), O_RDONLY | O_DIRECTORY));
  try {
    removeTreeAt(trash.get(), "vol");
    FAIL() << "removed a tree with a mount in it";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("a filesystem is mounted there"), std::string::npos) << e.what();
  }
  EXPECT_EQ(readFile(data + "/precious"), "on the mount");
}

}  // namespace
}  // namespace berth::volumes
