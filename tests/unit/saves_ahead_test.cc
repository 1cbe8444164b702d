// docker save streamed while it is written: the archive read from a growing download is the one
// a save to a file writes, an unknown name fails before anything is written, and a download
// closed early stops its save and leaves nothing.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
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
    saves_ = std::make_unique<SavesAhead>(*transfers_, *store_, [this] { reported(); });
  }

  void TearDown() override { release(); }  // a test that ended early leaves no save held

  // The save's thread after each report: counted, and held at the first while `hold_` is set.
  void reported() {
    std::unique_lock lock(hookMutex_);
    ++reports_;
    if (reports_ == 1 && hold_) {
      held_ = true;
      hookChanged_.notify_all();
      hookChanged_.wait(lock, [&] { return !hold_; });
    }
  }
  bool waitUntilHeld() {
    std::unique_lock lock(hookMutex_);
    return hookChanged_.wait_for(lock, 10s, [&] { return held_; });
  }
  void release() {
    {
      std::lock_guard lock(hookMutex_);
      hold_ = false;
    }
    hookChanged_.notify_all();
  }
  int reports() {
    std::lock_guard lock(hookMutex_);
    return reports_;
  }
  std::mutex hookMutex_;
  std::condition_variable hookChanged_;
  bool hold_ = false, held_ = false;
  int reports_ = 0;

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
  hold_ = true;  // the save waits after its first report until the download is closed
  std::string download = saves_->start({"app:1"});
  ASSERT_TRUE(waitUntilHeld());
  std::string first;
  transfers_->read(download, 0, 4096, [&](size_t n) {
    first.assign(n, '\0');
    return first.data();
  });
  ASSERT_EQ(first.size(), 4096u) << "the first bytes were not readable while the save was held";
  EXPECT_NE(first.substr(0, 100).find(".json"), std::string::npos) << "not the archive's first header (the config's)";
  transfers_->discard(download);
  release();
  auto until = std::chrono::steady_clock::now() + 10s;
  while (saves_->running() > 0 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(saves_->running(), 0u) << "the save went on after its download was closed";
  // A whole archive of 3 MiB would have been reported about twelve times.
  EXPECT_EQ(reports(), 2) << "the save did not stop at its next report";
  EXPECT_TRUE(transfersDirEmpty());
}

TEST_F(SavesAheadTest, ShuttingDownStopsASaveStillWritingAndItsReaderFailsNeverSeeingACutArchiveEnd) {
  hold_ = true;
  std::string download = saves_->start({"app:1"});
  ASSERT_TRUE(waitUntilHeld());
  std::thread shutdown([&] { saves_.reset(); });  // waits for the held save's thread
  std::this_thread::sleep_for(100ms);
  release();
  shutdown.join();
  EXPECT_EQ(reports(), 2) << "the save did not stop at its next report";
  try {
    readAll(download);
    ADD_FAILURE() << "a stopped save read as a whole archive";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::internal);
    EXPECT_STREQ(e.what(), "the images service is stopping");
  }
  transfers_->discard(download);
  EXPECT_TRUE(transfersDirEmpty());
}

// A layer that cannot be read once its entry began (here a directory where the second layer's
// blob was: its header is written, then read() fails): the file ends where the writing stopped,
// not padded with zeros and closed with the tar's end marker into an archive that reads whole.
TEST_F(SavesAheadTest, ASaveThatFailsHalfwayLeavesNoArchiveThatReadsWhole) {
  auto layer = store_->get("app:1").diffIds.at(1);
  std::string blob = dir_.path() + "/store/blobs/sha256/" + layer.substr(layer.find(':') + 1);
  ASSERT_TRUE(fs::remove(blob)) << blob;
  ASSERT_TRUE(fs::create_directory(blob));
  std::string out = dir_.path() + "/failed.tar";
  try {
    store_->save({"app:1"}, out);
    FAIL() << "a save with an unreadable layer succeeded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("read"), std::string::npos) << e.what();
  }
  EXPECT_GT(fs::file_size(out), 2u << 20) << "the first layer, written before the failure, is not in the file";
  auto listed = test::run({"tar", "-tf", out});
  EXPECT_NE(listed.exitCode, 0) << "the cut archive reads as whole:\n" << listed.out;
}

}  // namespace
}  // namespace berth::images
