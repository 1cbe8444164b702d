// Downloads: a staged file read in pieces into the buffer its reader supplies.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <unistd.h>

#include <string>

#include "common/errors.h"
#include "common/files.h"
#include "services/images/transfers.h"
#include "tests/support/process.h"
#include "tests/unit/error_checks.h"

namespace berth::images {
namespace {

class DownloadsTest : public ::testing::Test {
 protected:
  // A download holding `content`.
  std::string offer(const std::string& content) {
    std::string path = transfers.pathFor("save");
    writeFileAtomic(path, content);
    return transfers.addDownload(path);
  }
  // What one read returns, and the size it asked its buffer for.
  std::string read(const std::string& id, uint64_t offset, uint32_t maxBytes) {
    std::string out;
    transfers.read(id, offset, maxBytes, [&](size_t n) {
      out.assign(n, '\0');
      return out.data();
    });
    return out;
  }
  test::TempDir dir{"berth-downloads"};
  Transfers transfers{dir.path() + "/t"};
};

TEST_F(DownloadsTest, ReadsGiveTheBytesFromTheirOffsetUpToWhatTheyAskAndNothingPastTheEnd) {
  auto id = offer("0123456789");
  EXPECT_EQ(read(id, 0, 4), "0123");
  EXPECT_EQ(read(id, 4, 4), "4567");
  EXPECT_EQ(read(id, 8, 4), "89");
  EXPECT_EQ(read(id, 10, 4), "");
  EXPECT_EQ(read(id, 1000, 4), "");
  EXPECT_EQ(read(id, 3, 0), "");
}

// What a reply is sized by before the read: the same count the read then fills.
TEST_F(DownloadsTest, WhatIsReadableIsWhatTheReadThenGives) {
  auto id = offer("0123456789");
  EXPECT_EQ(transfers.readable(id, 0, 4), 4u);
  EXPECT_EQ(transfers.readable(id, 8, 4), 2u);
  EXPECT_EQ(transfers.readable(id, 10, 4), 0u);
  EXPECT_EQ(transfers.readable(id, 1000, 4), 0u);
  EXPECT_EQ(transfers.readable(id, 0, UINT32_MAX), 10u);
  transfers.discard(id);
  EXPECT_EQ(test::thrownKind([&] { transfers.readable(id, 0, 4); }), "notFound");
}

// The file is read without the table's lock: a discard while a read is under way (here, from
// its own buffer call) neither waits for it nor takes the bytes from under it.
TEST_F(DownloadsTest, ADiscardDuringAReadLetsTheReadFinishWhole) {
  auto id = offer("0123456789");
  std::string buffer;
  transfers.read(id, 2, 6, [&](size_t n) {
    transfers.discard(id);
    buffer.assign(n, 'x');
    return buffer.data();
  });
  EXPECT_EQ(buffer, "234567");
  EXPECT_FALSE(transfers.has(id));
}

TEST_F(DownloadsTest, AReadAsksForNoMoreThanTheMostOneReadReturnsWhateverTheCallerAsks) {
  std::string path = transfers.pathFor("save");
  {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
    ASSERT_TRUE(fd);
    ASSERT_EQ(::ftruncate(fd.get(), Transfers::kMaxRead + 4096), 0);  // sparse: reads as zeros
  }
  auto id = transfers.addDownload(path);
  size_t asked = 0;
  std::string buffer;
  transfers.read(id, 0, UINT32_MAX, [&](size_t n) {
    asked = n;
    buffer.assign(n, 'x');
    return buffer.data();
  });
  EXPECT_EQ(asked, Transfers::kMaxRead);
  EXPECT_EQ(buffer, std::string(Transfers::kMaxRead, '\0'));
}

TEST_F(DownloadsTest, ReadingAnUnknownOrDiscardedDownloadIsNotFoundAndAsksForNoBuffer) {
  auto id = offer("abc");
  transfers.discard(id);
  bool asked = false;
  auto readIt = [&](const std::string& which) {
    transfers.read(which, 0, 3, [&](size_t) -> char* {
      asked = true;
      return nullptr;
    });
  };
  EXPECT_EQ(test::thrownKind([&] { readIt(id); }), "notFound");
  EXPECT_EQ(test::thrownKind([&] { readIt("no-such-download"); }), "notFound");
  EXPECT_FALSE(asked);
}

}  // namespace
}  // namespace berth::images
