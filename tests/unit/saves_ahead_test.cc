// docker save streamed while it is written: the archive read from a growing download is the one
// a save to a file writes, an unknown name fails before anything is written, and a download
// closed early stops its save and leaves nothing.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "common/errors.h"
#include "services/images/image_store.h"
#include "services/images/saves_ahead.h"
#include "services/images/transfers.h"
#include "tests/support/process.h"
#include "tests/support/tar_builder.h"

namespace berth::images {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class SavesAheadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A layer of a few MiB that does not repeat, so the archive spans many blocks and reports.
    std::string data(3 << 20, '\0');
    uint32_t x = 2463534242u;
    for (auto& c : data) {
      x ^= x << 13, x ^= x >> 17, x ^= x << 5;
      c = static_cast<char>(x);
    }
    test::TarBuilder().dir("data").file("data/blob", data, 0644).write(dir_.path() + "/base.tar");
    test::TarBuilder().file("app/run.sh", "echo hello\n", 0755).write(dir_.path() + "/app.tar");
    std::string archive = dir_.path() + "/image.tar";
    test::makeDockerArchive(archive, {dir_.path() + "/base.tar", dir_.path() + "/app.tar"}, {"app:1"}, dir_.path());
    store_ = std::make_unique<ImageStore>(dir_.path() + "/store");
    store_->load(archive);
    transfers_ = std::make_unique<Transfers>(dir_.path() + "/transfers");
    saves_ = std::make_unique<SavesAhead>(*transfers_, *store_);
  }

  // The whole download, read in pieces as the API reads it: to the empty chunk.
  std::string readAll(const std::string& download) {
    std::string all, chunk;
    for (;;) {
      transfers_->read(download, all.size(), 64 << 10, [&](size_t n) {
        chunk.assign(n, '\0');
        return chunk.data();
      });
      if (chunk.empty()) return all;
      all += chunk;
    }
  }
  bool transfersDirEmpty() const { return fs::is_empty(dir_.path() + "/transfers"); }

  test::TempDir dir_{"berth-saves-ahead"};
  std::unique_ptr<ImageStore> store_;
  std::unique_ptr<Transfers> transfers_;
  std::unique_ptr<SavesAhead> saves_;
};

TEST_F(SavesAheadTest, TheStreamedArchiveHasTheBytesOfASaveToAFile) {
  store_->save({"app:1"}, dir_.path() + "/saved.tar");
  std::string expected = test::readText(dir_.path() + "/saved.tar");
  ASSERT_GT(expected.size(), 3u << 20);
  std::string download = saves_->start({"app:1"});
  std::string streamed = readAll(download);
  EXPECT_EQ(streamed.size(), expected.size());
  EXPECT_TRUE(streamed == expected) << "the streamed archive differs from the saved file";
  transfers_->discard(download);
  EXPECT_TRUE(transfersDirEmpty());
}

TEST_F(SavesAheadTest, AnUnknownNameFailsBeforeAnythingIsWritten) {
  try {
    saves_->start({"app:1", "nope:1"});
    FAIL() << "a save of an unknown image began";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::notFound);
    EXPECT_STREQ(e.what(), "No such image: nope:1");
  }
  EXPECT_EQ(saves_->running(), 0u);
  EXPECT_TRUE(transfersDirEmpty());
}

TEST_F(SavesAheadTest, ADownloadClosedAfterItsFirstBytesEndsItsSaveAndLeavesNothing) {
  std::string download = saves_->start({"app:1"});
  std::string first;
  transfers_->read(download, 0, 4096, [&](size_t n) {
    first.assign(n, '\0');
    return first.data();
  });
  EXPECT_FALSE(first.empty());
  transfers_->discard(download);
  auto until = std::chrono::steady_clock::now() + 10s;
  while (saves_->running() > 0 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(saves_->running(), 0u) << "the save went on after its download was closed";
  EXPECT_TRUE(transfersDirEmpty());
}

TEST_F(SavesAheadTest, ShuttingDownWaitsForTheSaveAndItsReaderSeesTheEndOrAFailureNeverACutArchive) {
  std::string download = saves_->start({"app:1"});
  saves_.reset();
  std::string expected;
  store_->save({"app:1"}, dir_.path() + "/saved.tar");
  expected = test::readText(dir_.path() + "/saved.tar");
  try {
    EXPECT_TRUE(readAll(download) == expected) << "a stopped save read as a shorter archive";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::internal) << e.what();
  }
}

}  // namespace
}  // namespace berth::images
