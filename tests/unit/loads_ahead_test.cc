// Loads that begin with their upload: a streamed upload read while it is written, layers
// extracted before the archive's last byte, and uploads abandoned or refused halfway.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <optional>
#include <thread>

#include "common/errors.h"
#include "common/files.h"
#include "services/images/early_extractions.h"
#include "services/images/image_store.h"
#include "services/images/loads_ahead.h"
#include "services/images/transfers.h"
#include "tests/support/process.h"
#include "tests/support/tar_builder.h"

namespace berth::images {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A streamed upload with its reader.
class TransfersTest : public ::testing::Test {
 protected:
  test::TempDir dir{"berth-transfers"};
  Transfers transfers{dir.path() + "/t"};
  std::string id = transfers.beginUpload(true);
  std::unique_ptr<Transfers::Reader> reader = transfers.reader(id);
};

TEST_F(TransfersTest, AStreamedUploadsReaderGetsItsBytesInOrderWaitsForMoreAndEndsWhenItIsTaken) {
  transfers.write(id, "hello ");
  transfers.write(id, "big ");
  char buffer[64];
  ASSERT_EQ(reader->read(buffer, 8), 8u);
  EXPECT_EQ(std::string(buffer, 8), "hello bi");
  ASSERT_EQ(reader->read(buffer, sizeof buffer), 2u);
  EXPECT_EQ(std::string(buffer, 2), "g ");

  // Nothing more yet: the read waits until the writer adds some.
  std::atomic<size_t> got{0};
  std::thread waiting([&] { got = reader->read(buffer, sizeof buffer); });
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(got.load(), 0u);
  transfers.write(id, "world");
  waiting.join();
  ASSERT_EQ(got.load(), 5u);
  EXPECT_EQ(std::string(buffer, 5), "world");

  EXPECT_EQ(transfers.takeUpload(id), "");
  EXPECT_EQ(reader->read(buffer, sizeof buffer), 0u);
  EXPECT_TRUE(fs::is_empty(dir.path() + "/t")) << "a streamed upload wrote a file";
  EXPECT_THROW(transfers.reader(id), Error);
}

TEST_F(TransfersTest, AWriteWaitsWhileTheStreamsBufferIsFullAndIsDroppedOnceTheReaderIsGone) {
  EXPECT_THROW(transfers.reader(id), Error);  // one reader only
  std::string chunk(1 << 20, 'c');
  for (size_t i = 0; i < Transfers::kStreamBuffer / chunk.size(); ++i) transfers.write(id, chunk);
  std::atomic<bool> written{false};
  std::thread writer([&] {
    transfers.write(id, chunk);
    written = true;
  });
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(written.load()) << "a write past the buffer did not wait";
  std::vector<char> buffer(chunk.size());
  ASSERT_EQ(reader->read(buffer.data(), buffer.size()), chunk.size());
  writer.join();
  EXPECT_TRUE(written.load());

  reader.reset();
  for (int i = 0; i < 20; ++i) transfers.write(id, chunk);  // would wait forever if kept
  EXPECT_EQ(transfers.takeUpload(id), "");
}

TEST_F(TransfersTest, AReaderFailsOnceItsUploadIsDiscardedEvenWithBytesUnread) {
  transfers.write(id, "unread");
  transfers.discard(id);
  char buffer[16];
  try {
    reader->read(buffer, sizeof buffer);
    ADD_FAILURE() << "a read of a discarded upload returned";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "the upload was abandoned");
  }
  EXPECT_FALSE(transfers.has(id));
  EXPECT_THROW(transfers.write(id, "late"), Error);
}

TEST(EarlyExtractionsTest, OnlyLayerLikeFilesAreTakenForLayers) {
  test::TempDir dir("berth-early");
  test::TarBuilder().file("a", "x").write(dir.path() + "/plain");
  test::TarBuilder().file("a", "x").write(dir.path() + "/gzip", true);
  writeFileAtomic(dir.path() + "/config", R"({"rootfs":{}})", 0600);
  EXPECT_TRUE(looksLikeLayer("0123abcd/layer.tar", dir.path() + "/config"));
  EXPECT_TRUE(looksLikeLayer("blobs/sha256/aa", dir.path() + "/plain"));
  EXPECT_TRUE(looksLikeLayer("blobs/sha256/aa", dir.path() + "/gzip"));
  EXPECT_FALSE(looksLikeLayer("blobs/sha256/aa", dir.path() + "/config"));
  EXPECT_FALSE(looksLikeLayer("manifest.json", dir.path() + "/plain"));
}

TEST(EarlyExtractionsTest, OneExtractionGoesToOneTakerWhenTwoLayersAreTheSameFile) {
  test::TempDir dir("berth-early");
  std::string layer = dir.path() + "/blob";
  test::TarBuilder().file("big", std::string(30 << 20, 'z')).write(layer);
  for (int round = 0; round < 3; ++round) {
    std::string work = dir.path() + "/work-" + std::to_string(round);
    makeDirectories(work, 0700);
    EarlyExtractions early(work, 2);
    early.submit(layer);
    // Both wait for the same running extraction, as two load workers do for an OCI blob that is
    // two layers of one image.
    std::optional<EarlyExtractions::Done> first, second;
    std::thread a([&] { first = early.take(layer); });
    std::thread b([&] { second = early.take(layer); });
    a.join();
    b.join();
    ASSERT_NE(first.has_value(), second.has_value()) << "round " << round;
    const auto& done = first ? *first : *second;
    EXPECT_TRUE(done.error.empty()) << done.error;
    EXPECT_EQ(done.layer.diffId, test::sha256File(layer));
    EXPECT_EQ(fs::file_size(done.dir + "/diff/big"), 30u << 20);
  }
}

TEST(EarlyExtractionsTest, AnExtractionNoLongerNeededStopsAndIsNotHandedOut) {
  test::TempDir dir("berth-early");
  std::string tar = dir.path() + "/blob.tar";
  test::TarBuilder().file("big", std::string(60 << 20, 'z')).write(tar);
  // The layer arrives through a fifo whose writer sends the rest only once the extraction is
  // no longer needed, so the extraction cannot have finished before (a test thread held off the
  // CPU for as long as a 60 MB extraction took let it finish, and the test failed).
  std::string layer = dir.path() + "/blob";
  ASSERT_EQ(::mkfifo(layer.c_str(), 0600), 0);
  std::promise<void> cancelled;
  std::thread writer([&, cancelledFuture = cancelled.get_future()] {
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);  // a write after the reader left fails with EPIPE
    std::string data = test::readText(tar);
    int fd = ::open(layer.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return;
    size_t off = 0, first = 4u << 20;
    auto send = [&](size_t until) {
      while (off < until) {
        ssize_t n = ::write(fd, data.data() + off, until - off);
        if (n <= 0) return false;
        off += static_cast<size_t>(n);
      }
      return true;
    };
    if (send(first)) {
      cancelledFuture.wait();
      send(data.size());
    }
    ::close(fd);
  });
  std::string work = dir.path() + "/work";
  makeDirectories(work, 0700);
  EarlyExtractions early(work, 1);
  early.submit(layer);
  // Bytes on disk, not the length: libarchive sets a file it leaves unfinished to its full length.
  auto written = [&] {
    struct stat st {};
    return ::stat((work + "/early-0/diff/big").c_str(), &st) == 0 ? static_cast<uintmax_t>(st.st_blocks) * 512 : 0;
  };
  // Under way: some of the file is written.
  for (int i = 0; i < 1000 && written() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_GT(written(), 0u) << "the extraction never started";
  early.keepOnly({});
  cancelled.set_value();
  EXPECT_FALSE(early.take(layer).has_value());
  // A writer still waiting for a reader (the extraction never opened the fifo) is let go.
  int unblock = ::open(layer.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (unblock >= 0) ::close(unblock);
  writer.join();
  EXPECT_GT(written(), 0u);
  EXPECT_LT(written(), 60u << 20) << "the cancelled extraction ran to its end";
}

class LoadsAheadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    test::TarBuilder base;
    base.dir("bin").file("bin/busybox", std::string(200000, 'b'), 0755);
    base.write(dir_.path() + "/base.tar");
    test::TarBuilder().file("app/run.sh", "echo hello\n", 0755).write(dir_.path() + "/app.tar", true);
    archivePath_ = dir_.path() + "/image.tar";
    id_ = test::makeDockerArchive(archivePath_, {dir_.path() + "/base.tar", dir_.path() + "/app.tar"}, {"app:1"},
                                  dir_.path());
    archive_ = test::readText(archivePath_);
    store_ = std::make_unique<ImageStore>(dir_.path() + "/store");
    transfers_ = std::make_unique<Transfers>(dir_.path() + "/transfers");
    loads_ = std::make_unique<LoadsAhead>(*transfers_, *store_);
  }

  // Where the manifest's tar header begins: everything before it is the config and the layers.
  size_t beforeManifest() const {
    size_t at = archive_.find("manifest.json");
    EXPECT_NE(at, std::string::npos);
    return at / 512 * 512;
  }

  // Every early extraction's directory in the store's staging area.
  std::vector<std::string> earlyDirs() const {
    std::vector<std::string> found;
    std::error_code ec;
    for (const auto& load : fs::directory_iterator(dir_.path() + "/store/staging", ec)) {
      for (const auto& e : fs::directory_iterator(load.path(), ec)) {
        if (e.path().filename().string().rfind("early-", 0) == 0 && e.is_directory()) found.push_back(e.path());
      }
    }
    return found;
  }

  test::TempDir dir_{"berth-loads-ahead"};
  std::string archivePath_, archive_, id_;
  std::unique_ptr<ImageStore> store_;
  std::unique_ptr<Transfers> transfers_;
  std::unique_ptr<LoadsAhead> loads_;
};

TEST_F(LoadsAheadTest, LayersAreExtractedBeforeTheArchiveEndsAndTheImageAppearsWhenItIsComplete) {
  std::string upload = transfers_->beginUpload(true);
  loads_->start(upload);
  size_t cut = beforeManifest();
  transfers_->write(upload, std::string_view(archive_).substr(0, cut));
  // Both layers are out, while the manifest (which says they are layers) has not arrived.
  bool extracted = test::waitFor(
      [&] {
        int files = 0;
        for (const auto& d : earlyDirs()) {
          files += fs::exists(d + "/diff/bin/busybox") + fs::exists(d + "/diff/app/run.sh");
        }
        return files == 2;
      },
      10s);
  EXPECT_TRUE(extracted) << "the layers were not extracted before the archive's end";
  EXPECT_TRUE(store_->list().empty());

  transfers_->write(upload, std::string_view(archive_).substr(cut));
  auto loaded = loads_->finish(upload);
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->lines, std::vector<std::string>{"Loaded image: app:1"});
  EXPECT_EQ(loaded->extracted.size(), 2u);
  auto image = store_->get("app:1");
  EXPECT_EQ(image.id, id_);
  ASSERT_EQ(image.layerDirs.size(), 2u);
  EXPECT_EQ(fs::file_size(image.layerDirs[0] + "/bin/busybox"), 200000u);
  EXPECT_EQ(test::readText(image.layerDirs[1] + "/app/run.sh"), "echo hello\n");
  EXPECT_FALSE(transfers_->has(upload));
  EXPECT_TRUE(fs::is_empty(dir_.path() + "/transfers"));
  EXPECT_TRUE(earlyDirs().empty());
  EXPECT_EQ(loads_->running(), 0u);
}

TEST_F(LoadsAheadTest, TheImageAppearsOnlyOnceTheUploadEndsAndNotAtAllWhenItIsDiscardedAfterTheLastByte) {
  for (bool complete : {false, true}) {
    std::string upload = transfers_->beginUpload(true);
    loads_->start(upload);
    transfers_->write(upload, archive_);  // every byte of the archive, its end marker included
    std::this_thread::sleep_for(300ms);
    EXPECT_TRUE(store_->list().empty()) << "the image appeared before the upload ended";
    if (!complete) {
      loads_->discard(upload);
      EXPECT_TRUE(store_->list().empty()) << "a discarded upload's image appeared";
      EXPECT_EQ(store_->counts().layers, 0u);
    } else {
      auto loaded = loads_->finish(upload);
      ASSERT_TRUE(loaded.has_value());
      EXPECT_EQ(store_->get("app:1").id, id_);
    }
  }
}

TEST_F(LoadsAheadTest, AReloadOfAPresentImageCommitsNoLayerAndLeavesNoWorkBehind) {
  ASSERT_EQ(store_->load(archivePath_).extracted.size(), 2u);
  auto before = store_->get("app:1").layerDirs;
  std::string upload = transfers_->beginUpload(true);
  loads_->start(upload);
  transfers_->write(upload, archive_);
  auto loaded = loads_->finish(upload);
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->lines, std::vector<std::string>{"Loaded image: app:1"});
  EXPECT_TRUE(loaded->extracted.empty());
  EXPECT_EQ(store_->get("app:1").layerDirs, before);
  EXPECT_EQ(store_->counts().layers, 2u);
  EXPECT_TRUE(earlyDirs().empty());
}

TEST_F(LoadsAheadTest, ADiscardedUploadEndsItsLoadAndLeavesNothing) {
  std::string upload = transfers_->beginUpload(true);
  loads_->start(upload);
  transfers_->write(upload, std::string_view(archive_).substr(0, beforeManifest()));
  ASSERT_TRUE(test::waitFor([&] { return !earlyDirs().empty(); }, 10s));
  loads_->discard(upload);
  EXPECT_EQ(loads_->running(), 0u);
  EXPECT_TRUE(store_->list().empty());
  EXPECT_EQ(store_->counts().layers, 0u);
  EXPECT_TRUE(fs::is_empty(dir_.path() + "/store/staging"));
  EXPECT_TRUE(fs::is_empty(dir_.path() + "/transfers"));
  EXPECT_FALSE(loads_->finish(upload).has_value());
}

TEST_F(LoadsAheadTest, AnArchiveRefusedHalfwayIsReportedWhenTheUploadCompletes) {
  std::string upload = transfers_->beginUpload(true);
  loads_->start(upload);
  transfers_->write(upload, std::string(4096, 'x'));  // no tar at all
  transfers_->write(upload, std::string(4096, 'y'));
  try {
    loads_->finish(upload);
    ADD_FAILURE() << "a load of garbage succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::invalid);
    EXPECT_NE(std::string(e.what()).find("invalid archive"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(store_->list().empty());
  EXPECT_TRUE(fs::is_empty(dir_.path() + "/transfers"));
  EXPECT_EQ(loads_->running(), 0u);
}

TEST_F(LoadsAheadTest, AtMostTheBoundOfLoadsRunAtOnce) {
  std::vector<std::string> uploads;
  for (size_t i = 0; i < 10 * LoadsAhead::kMaxRunning && !loads_->full(); ++i) {
    uploads.push_back(transfers_->beginUpload(true));
    loads_->start(uploads.back());
  }
  EXPECT_EQ(uploads.size(), LoadsAhead::kMaxRunning);
  loads_->discard(uploads.back());
  EXPECT_FALSE(loads_->full());
  uploads.pop_back();
  for (const auto& u : uploads) loads_->discard(u);
  EXPECT_EQ(loads_->running(), 0u);
}

TEST_F(LoadsAheadTest, ShuttingDownAbandonsALoadStillWaitingForItsUpload) {
  std::string upload = transfers_->beginUpload(true);
  loads_->start(upload);
  transfers_->write(upload, std::string_view(archive_).substr(0, 1024));
  loads_.reset();  // returns only once the load's thread ended
  EXPECT_TRUE(store_->list().empty());
  EXPECT_FALSE(transfers_->has(upload));
  EXPECT_TRUE(fs::is_empty(dir_.path() + "/store/staging"));
}

}  // namespace
}  // namespace berth::images
