// File helpers of common/files.h that have behaviour of their own to specify.
#include "common/files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>

#include "common/signal_safe.h"
#include "tests/support/process.h"

namespace berth {
namespace {

// Sets PATH (or unsets it, for nullopt) for one test and restores it after.
class PathOverride {
 public:
  explicit PathOverride(const std::optional<std::string>& path) {
    if (const char* old = std::getenv("PATH")) saved_ = old;
    if (path) ::setenv("PATH", path->c_str(), 1);
    else ::unsetenv("PATH");
  }
  ~PathOverride() {
    if (saved_) ::setenv("PATH", saved_->c_str(), 1);
    else ::unsetenv("PATH");
  }

 private:
  std::optional<std::string> saved_;
};

void makeFile(const std::string& path, mode_t mode) {
  writeFileAtomic(path, "#!/bin/sh\n", mode);
  ASSERT_EQ(::chmod(path.c_str(), mode), 0);
}

TEST(FindInPathTest, TheFirstExecutableAlongPathWins) {
  test::TempDir dir;
  makeDirectories(dir.path() + "/a", 0755);
  makeDirectories(dir.path() + "/b", 0755);
  makeDirectories(dir.path() + "/c", 0755);
  makeFile(dir.path() + "/a/tool", 0644);  // not executable: passed over
  makeFile(dir.path() + "/b/tool", 0755);
  makeFile(dir.path() + "/c/tool", 0755);
  PathOverride path("::" + dir.path() + "/a:" + dir.path() + "/b:" + dir.path() + "/c");
  EXPECT_EQ(findInPath("tool"), dir.path() + "/b/tool");
  EXPECT_EQ(findInPath("missing-tool"), std::nullopt);
}

TEST(FindInPathTest, WithoutPathTheDefaultDirectoriesAreSearched) {
  test::TempDir dir;
  makeFile(dir.path() + "/tool", 0755);
  PathOverride path(std::nullopt);
  EXPECT_EQ(findInPath("tool", dir.path()), dir.path() + "/tool");
  EXPECT_EQ(findInPath("tool", "/nonexistent-berth-dir"), std::nullopt);
}

// A staged record: made with its content and exact mode whatever the umask, never over a file
// that is already there (that one keeps its content), and no temp file left beside it.
TEST(WriteNewFileDurablyTest, MakesTheFileWithItsModeAndNeverReplacesOne) {
  test::TempDir dir;
  std::string path = dir.path() + "/record.json";
  {
    struct UmaskFor {
      mode_t old = ::umask(0077);
      ~UmaskFor() { ::umask(old); }
    } umask;
    writeNewFileDurably(path, "{\"Name\":\"v\"}", 0644);
  }
  EXPECT_EQ(readFile(path), "{\"Name\":\"v\"}");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);

  try {
    writeNewFileDurably(path, "other", 0600);
    FAIL() << "an existing file was replaced";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("File exists"), std::string::npos) << e.what();
  }
  EXPECT_EQ(readFile(path), "{\"Name\":\"v\"}");
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  EXPECT_THROW(writeNewFileDurably(dir.path() + "/missing-dir/record.json", "x", 0600), std::exception);
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 1);
}

// The writer the supervisor and the tests use between fork and exec, and the seccomp handler in
// its signal: every digit, in order, within the room it is given and never past it.
TEST(SignalSafeTest, FormatDecimalWritesEveryDigitAndStaysWithinItsRoom) {
  char out[24];
  EXPECT_EQ(formatDecimal(out, sizeof out, 0), 1u);
  EXPECT_STREQ(out, "0");
  EXPECT_EQ(formatDecimal(out, sizeof out, 4194304), 7u);
  EXPECT_STREQ(out, "4194304");
  EXPECT_EQ(formatDecimal(out, sizeof out, 18446744073709551615ul), 20u);
  EXPECT_STREQ(out, "18446744073709551615");
  std::memset(out, '#', sizeof out);
  EXPECT_EQ(formatDecimal(out, 4, 12345), 0u);  // 5 digits and a NUL need 6
  EXPECT_EQ(out[0], '#');
  EXPECT_EQ(formatDecimal(out, 6, 12345), 5u);
  EXPECT_STREQ(out, "12345");
}

}  // namespace
}  // namespace berth
