// Downloads: a file its writer appends to, read in pieces into the buffer its reader supplies.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <future>
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
  // A download whose writer wrote `content` and finished.
  std::string offer(const std::string& content) {
    std::string path = transfers.pathFor("save");
    std::string id = transfers.beginGrowingDownload(path);
    UniqueFd out(::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
    EXPECT_TRUE(out && ::write(out.get(), content.data(), content.size()) == static_cast<ssize_t>(content.size()));
    transfers.finished(id);
    return id;
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
  auto id = transfers.beginGrowingDownload(path);
  {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    ASSERT_TRUE(fd);
    ASSERT_EQ(::ftruncate(fd.get(), Transfers::kMaxRead + 4096), 0);  // sparse: reads as zeros
  }
  transfers.finished(id);
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

// A growing download (docker save while it is written): what the writer appended to the file.
class GrowingDownloadTest : public DownloadsTest {
 protected:
  void SetUp() override {
    path = transfers.pathFor("save");
    id = transfers.beginGrowingDownload(path);
    out = UniqueFd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
    ASSERT_TRUE(out);
  }
  // Appends `bytes` and reports how much of the file is whole; false when the download is gone.
  bool append(const std::string& bytes) {
    whole += bytes.size();
    EXPECT_EQ(::write(out.get(), bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    return transfers.written(id, whole);
  }
  // A read begun on another thread, to see whether it waits.
  std::future<std::string> readLater(uint64_t offset, uint32_t maxBytes) {
    return std::async(std::launch::async, [this, offset, maxBytes] { return read(id, offset, maxBytes); });
  }
  static bool waiting(std::future<std::string>& f) { return f.wait_for(std::chrono::milliseconds(200)) == std::future_status::timeout; }

  std::string path, id;
  UniqueFd out;
  uint64_t whole = 0;
};

TEST_F(GrowingDownloadTest, AReadGetsWhatIsWrittenWaitsForWhatIsNotAndEndsOnceFinished) {
  EXPECT_TRUE(append("abc"));
  EXPECT_EQ(read(id, 0, 10), "abc") << "a read returns what is written, without waiting for the rest";
  auto next = readLater(3, 10);
  EXPECT_TRUE(waiting(next)) << "a read past what is written waits";
  EXPECT_TRUE(append("de"));
  EXPECT_EQ(next.get(), "de");
  // Bytes in the file but not yet reported whole are not read.
  ASSERT_EQ(::write(out.get(), "f", 1), 1);
  auto end = readLater(5, 10);
  EXPECT_TRUE(waiting(end));
  transfers.finished(id);
  EXPECT_EQ(end.get(), "f") << "finished: the file is whole as it is";
  EXPECT_EQ(read(id, 6, 10), "") << "the end, once finished";
  EXPECT_EQ(transfers.readable(id, 0, 100), 6u);
}

// A reply is sized by readable() before its read: grown in between, the read still gives what
// the reply was sized for, and the rest comes with the next read.
TEST_F(GrowingDownloadTest, AReadGivesWhatItsReplyWasSizedForThoughTheFileGrewSince) {
  EXPECT_TRUE(append("abc"));
  EXPECT_EQ(transfers.readable(id, 0, 100), 3u);
  EXPECT_TRUE(append("de"));
  EXPECT_EQ(read(id, 0, 100), "abc");
  EXPECT_EQ(read(id, 3, 100), "de") << "a read with no sizing before it gives what is written";
}

TEST_F(GrowingDownloadTest, TheWritersFailureFailsTheReadsWithItsWords) {
  EXPECT_TRUE(append("abc"));
  auto waitingRead = readLater(3, 10);
  EXPECT_TRUE(waiting(waitingRead));
  transfers.failed(id, "reading layer 1: Input/output error");
  try {
    waitingRead.get();
    ADD_FAILURE() << "a read of a failed download returned";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::internal);
    EXPECT_STREQ(e.what(), "reading layer 1: Input/output error");
  }
  EXPECT_EQ(test::thrownKind([&] { read(id, 0, 3); }), "internal") << "even what was written: the archive is cut";
  EXPECT_FALSE(append("de")) << "the writer is told to stop";
}

TEST_F(GrowingDownloadTest, ADiscardStopsTheWriterAndFailsAWaitingRead) {
  EXPECT_TRUE(append("abc"));
  auto waitingRead = readLater(3, 10);
  EXPECT_TRUE(waiting(waitingRead));
  transfers.discard(id);
  EXPECT_EQ(test::thrownKind([&] { waitingRead.get(); }), "notFound");
  EXPECT_FALSE(append("de")) << "the writer is told to stop";
  EXPECT_FALSE(std::filesystem::exists(path));
  transfers.finished(id);  // a writer's end after the discard changes nothing
  EXPECT_FALSE(transfers.has(id));
}

}  // namespace
}  // namespace berth::images
