// docker save and docker export streamed while they are written: the archive read from a growing
// download is the one written to a file, an unknown name fails before anything is written, a
// download closed early stops its writer and leaves nothing, and a container removed during its
// export keeps its layers until the export ends.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/errors.h"
#include "services/images/image_store.h"
#include "services/images/transfers.h"
#include "services/images/writes_ahead.h"
#include "tests/support/process.h"
#include "tests/support/tar_builder.h"
#include "tests/unit/error_checks.h"
#include "tests/unit/overlay_mount.h"

namespace berth::images {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class WritesAheadTest : public ::testing::Test {
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
    writes_ = std::make_unique<WritesAhead>(*transfers_, [this] { reported(); });
  }

  // What the images service does for a save and an export: resolve, then write on a thread.
  std::string startSave(const std::vector<std::string>& refs) {
    auto plan = std::make_shared<ImageStore::SavePlan>(store_->planSave(refs));
    return writes_->start("save", [this, plan](int fd, const std::string& path, const auto& written) {
      store_->writeSave(*plan, fd, path, written);
    });
  }
  // `letGoAfter`: the writer's hold on the layers goes that long after its writing ended, so
  // that a reader who saw the end before the hold went would see the layers still there.
  std::string startExport(const std::string& container, std::chrono::milliseconds letGoAfter = 0ms) {
    struct SlowHold {
      SlowHold(ImageStore::ExportPlan p, std::chrono::milliseconds a) : plan(std::move(p)), after(a) {}
      SlowHold(const SlowHold&) = delete;
      ~SlowHold() {
        std::this_thread::sleep_for(after);
        plan.hold.reset();
      }
      ImageStore::ExportPlan plan;
      std::chrono::milliseconds after;
    };
    auto hold = std::make_shared<SlowHold>(store_->planExport(container), letGoAfter);
    return writes_->start("export", [this, hold](int fd, const std::string& path, const auto& written) {
      store_->writeExport(hold->plan, fd, path, written);
    });
  }
  // A container over app:1 whose writable layer adds a file.
  std::string makeContainer() {
    std::string container(64, 'c'), imageId;
    store_->prepareContainerLayer(container, "app:1", imageId);
    std::ofstream(containerDir(container) + "/upper/added.txt") << "added\n";
    return container;
  }
  std::string containerDir(const std::string& container) const { return dir_.path() + "/store/rw/" + container; }
  bool waitUntilWritersEnded() {
    auto until = std::chrono::steady_clock::now() + 10s;
    while (writes_->running() > 0 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(10ms);
    return writes_->running() == 0;
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
  std::unique_ptr<WritesAhead> writes_;
};

TEST_F(WritesAheadTest, TheStreamedArchiveHasTheBytesOfASaveToAFile) {
  store_->save({"app:1"}, dir_.path() + "/saved.tar");
  std::string expected = test::readText(dir_.path() + "/saved.tar");
  ASSERT_GT(expected.size(), 3u << 20);
  std::string download = startSave({"app:1"});
  std::string streamed = readAll(download);
  EXPECT_EQ(streamed.size(), expected.size());
  EXPECT_TRUE(streamed == expected) << "the streamed archive differs from the saved file";
  transfers_->discard(download);
  EXPECT_TRUE(transfersDirEmpty());
}

TEST_F(WritesAheadTest, AnUnknownNameFailsBeforeAnythingIsWritten) {
  try {
    startSave({"app:1", "nope:1"});
    FAIL() << "a save of an unknown image began";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::notFound);
    EXPECT_STREQ(e.what(), "No such image: nope:1");
  }
  EXPECT_EQ(writes_->running(), 0u);
  EXPECT_TRUE(transfersDirEmpty());
}

TEST_F(WritesAheadTest, ADownloadClosedAfterItsFirstBytesEndsItsSaveAndLeavesNothing) {
  hold_ = true;  // the save waits after its first report until the download is closed
  std::string download = startSave({"app:1"});
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
  EXPECT_TRUE(waitUntilWritersEnded()) << "the save went on after its download was closed";
  // A whole archive of 3 MiB would have been reported about twelve times.
  EXPECT_EQ(reports(), 2) << "the save did not stop at its next report";
  EXPECT_TRUE(transfersDirEmpty());
}

TEST_F(WritesAheadTest, ShuttingDownStopsASaveStillWritingAndItsReaderFailsNeverSeeingACutArchiveEnd) {
  hold_ = true;
  std::string download = startSave({"app:1"});
  ASSERT_TRUE(waitUntilHeld());
  std::thread shutdown([&] { writes_.reset(); });  // waits for the held save's thread
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
TEST_F(WritesAheadTest, ASaveThatFailsHalfwayLeavesNoArchiveThatReadsWhole) {
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

TEST_F(WritesAheadTest, TheStreamedExportHasTheBytesOfAnExportToAFile) {
  std::string container = makeContainer();
  store_->exportContainer(container, dir_.path() + "/exported.tar");
  std::string expected = test::readText(dir_.path() + "/exported.tar");
  ASSERT_GT(expected.size(), 3u << 20);
  auto listed = test::run({"tar", "-tf", dir_.path() + "/exported.tar"});
  ASSERT_EQ(listed.exitCode, 0) << listed.err;
  EXPECT_NE(listed.out.find("added.txt"), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("data/blob"), std::string::npos) << listed.out;
  std::string download = startExport(container);
  std::string streamed = readAll(download);
  EXPECT_EQ(streamed.size(), expected.size());
  EXPECT_TRUE(streamed == expected) << "the streamed export differs from the exported file";
  transfers_->discard(download);
  EXPECT_TRUE(transfersDirEmpty());
}

// The export walks the layers itself, writing as it goes; what it lists, and what each file
// holds, must be what the kernel's overlay shows of the same layers. Three image layers: the
// middle one whites out a file of the bottom one and adds to its directory, the top one puts a
// file where the bottom one has a directory, and a directory over the middle one's file (which
// hides the bottom one's directory of that name). Over them the writable layer adds to a directory
// of the layers below (merged), makes another opaque, whites out a file of the image, and adds
// a new tree.
TEST_F(WritesAheadTest, TheExportListsWhatTheKernelsOverlayShowsOfTheSameLayers) {
  test::TarBuilder()
      .file("m/keep", "bottom\n")
      .file("m/drop", "dropped\n")
      .file("m/deep/x", "x\n")
      .file("f/inner", "hidden by a file above\n")
      .file("o/hidden", "hidden by an opaque dir above\n")
      .file("w/gone", "whited out by the container\n")
      .file("h/old", "below a file\n")
      .write(dir_.path() + "/l1.tar");
  test::TarBuilder().file("m/.wh.drop", "").file("m/mid", "middle\n").file("h", "a file between\n").write(dir_.path() + "/l2.tar");
  test::TarBuilder().file("f", "a file now\n").file("h/new", "top\n").write(dir_.path() + "/l3.tar");
  test::makeDockerArchive(dir_.path() + "/merge.tar", {dir_.path() + "/l1.tar", dir_.path() + "/l2.tar", dir_.path() + "/l3.tar"},
                          {"merge:1"}, dir_.path());
  store_->load(dir_.path() + "/merge.tar");
  std::string container(64, 'e'), imageId;
  auto mounts = store_->prepareContainerLayer(container, "merge:1", imageId);
  ASSERT_EQ(mounts.size(), 1u);
  std::string upper = containerDir(container) + "/upper";
  fs::create_directories(upper + "/m");  // not opaque: merged with m/ below
  std::ofstream(upper + "/m/up") << "upper\n";
  std::ofstream(upper + "/m/keep") << "replaced above\n";
  fs::create_directories(upper + "/o");
  ASSERT_EQ(::setxattr((upper + "/o").c_str(), "trusted.overlay.opaque", "y", 1, 0), 0) << strerror(errno);
  std::ofstream(upper + "/o/new") << "new\n";
  fs::create_directories(upper + "/w");
  ASSERT_EQ(::mknod((upper + "/w/gone").c_str(), S_IFCHR | 0600, makedev(0, 0)), 0) << strerror(errno);
  fs::create_directories(upper + "/dir/sub");
  std::ofstream(upper + "/dir/sub/file") << "deep\n";
  std::ofstream(upper + "/a-b") << "sorts between a and a/\n";
  std::string merged = dir_.path() + "/merged";
  test::OverlayMount overlay(mounts[0], merged);
  ASSERT_TRUE(overlay.mounted()) << overlay.error();
  // Every entry with its type, and every file's content.
  std::string show = "find . -mindepth 1 | sed 's|^\\./||' | sort | while read p; do "
                     "if [ -f \"$p\" ]; then echo \"$p: $(cat \"$p\")\"; else echo \"$p/\"; fi; done";
  auto shown = test::run({"sh", "-c", "cd " + merged + " && " + show});
  ASSERT_EQ(shown.exitCode, 0) << shown.err;
  ASSERT_TRUE(overlay.unmount()) << strerror(errno);
  EXPECT_EQ(shown.out,
            "a-b: sorts between a and a/\ndir/\ndir/sub/\ndir/sub/file: deep\nf: a file now\nh/\nh/new: top\nm/\nm/deep/\nm/deep/x: x\n"
            "m/keep: replaced above\nm/mid: middle\nm/up: upper\no/\no/new: new\nw/\n")
      << "the kernel's view is not the one this test was written for";

  std::string download = startExport(container);
  std::string out = dir_.path() + "/exported";
  fs::create_directories(out);
  std::ofstream(dir_.path() + "/exported.tar", std::ios::binary) << readAll(download);
  transfers_->discard(download);
  auto unpacked = test::run({"tar", "-xf", dir_.path() + "/exported.tar", "-C", out});
  ASSERT_EQ(unpacked.exitCode, 0) << unpacked.err;
  auto exported = test::run({"sh", "-c", "cd " + out + " && " + show});
  ASSERT_EQ(exported.exitCode, 0) << exported.err;
  EXPECT_EQ(exported.out, shown.out);
}

// A kernel configured to redirect renamed directories and to copy up metadata alone would
// write an upper directory the merge cannot read: a renamed lower directory as an empty
// directory naming its origin in an xattr, a chmod of a lower file as a file with no data. Such
// defaults are stood in for by the same options put before the container's own (overlay takes
// the last value of an option), so no setting of the host's is touched. The container's mount
// turns both off, so the export still shows what the container saw.
TEST_F(WritesAheadTest, AnExportShowsWhatTheContainerSawWhateverTheKernelsOverlayDefaults) {
  test::TarBuilder().file("d/x", "moved with its directory\n").file("f", "data kept below\n", 0644).write(dir_.path() + "/l.tar");
  test::makeDockerArchive(dir_.path() + "/defaults.tar", {dir_.path() + "/l.tar"}, {"defaults:1"}, dir_.path());
  store_->load(dir_.path() + "/defaults.tar");
  std::string container(64, 'd'), imageId;
  auto mounts = store_->prepareContainerLayer(container, "defaults:1", imageId);
  ASSERT_EQ(mounts.size(), 1u);
  auto withDefaultsOn = mounts[0];
  withDefaultsOn.options.insert(withDefaultsOn.options.begin(), {"redirect_dir=on", "metacopy=on"});
  std::string merged = dir_.path() + "/merged";
  auto overlay = std::make_unique<test::OverlayMount>(withDefaultsOn, merged);
  ASSERT_TRUE(overlay->mounted()) << overlay->error();
  auto changed = test::run({"sh", "-c", "cd " + merged + " && mv d e && chmod 600 f"});
  ASSERT_EQ(changed.exitCode, 0) << changed.err;
  std::string show = "find . -mindepth 1 | sed 's|^\\./||' | sort | while read p; do "
                     "if [ -f \"$p\" ]; then echo \"$p $(stat -c %a \"$p\"): $(cat \"$p\")\"; else echo \"$p/\"; fi; done";
  auto shown = test::run({"sh", "-c", "cd " + merged + " && " + show});
  ASSERT_EQ(shown.exitCode, 0) << shown.err;
  ASSERT_TRUE(overlay->unmount()) << strerror(errno);
  EXPECT_EQ(shown.out, "e/\ne/x 644: moved with its directory\nf 600: data kept below\n")
      << "the kernel's view is not the one this test was written for";

  std::string download = startExport(container);
  std::ofstream(dir_.path() + "/exported.tar", std::ios::binary) << readAll(download);
  transfers_->discard(download);
  std::string out = dir_.path() + "/exported";
  fs::create_directories(out);
  auto unpacked = test::run({"tar", "-xpf", dir_.path() + "/exported.tar", "-C", out});
  ASSERT_EQ(unpacked.exitCode, 0) << unpacked.err;
  auto exported = test::run({"sh", "-c", "cd " + out + " && " + show});
  ASSERT_EQ(exported.exitCode, 0) << exported.err;
  EXPECT_EQ(exported.out, shown.out);
}

// The walk keeps no directory open on its way down: a tree deeper than the descriptors left
// to the process exports whole (berth-images runs with the default limit of 1,024).
TEST_F(WritesAheadTest, AnExportOfADeepTreeNeedsNoDescriptorPerLevel) {
  std::string container = makeContainer();
  std::string path = containerDir(container) + "/upper";
  std::string rel;
  for (int i = 0; i < 60; ++i) rel += "/d" + std::to_string(i);
  fs::create_directories(path + rel);
  std::ofstream(path + rel + "/bottom") << "deep\n";
  std::string download;
  std::string streamed;
  {
    rlimit saved{};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
    size_t open = 0;
    for (auto it = fs::directory_iterator("/proc/self/fd"); it != fs::directory_iterator(); ++it) ++open;
    rlimit tight = saved;
    tight.rlim_cur = open + 24;  // the export's own few, not one a level
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &tight), 0);
    struct Restore {
      rlimit limit;
      ~Restore() { ::setrlimit(RLIMIT_NOFILE, &limit); }
    } restore{saved};
    download = startExport(container);
    streamed = readAll(download);
  }
  transfers_->discard(download);
  std::string tar = dir_.path() + "/deep.tar";
  std::ofstream(tar, std::ios::binary) << streamed;
  EXPECT_EQ(test::run({"tar", "-xOf", tar, rel.substr(1) + "/bottom"}).out, "deep\n");
}

TEST_F(WritesAheadTest, AnExportOfAContainerWithNoLayerFailsBeforeAnythingIsWritten) {
  try {
    startExport(std::string(64, 'd'));
    FAIL() << "an export of an unknown container began";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::notFound);
    EXPECT_EQ(std::string(e.what()), "no layer for container " + std::string(64, 'd'));
  }
  EXPECT_EQ(writes_->running(), 0u);
  EXPECT_TRUE(transfersDirEmpty());
}

// dockerd's export holds a reference of its own to the container's layer: a removal meanwhile
// succeeds and the export reads on to the end; the layer goes after it.
TEST_F(WritesAheadTest, AContainerRemovedDuringItsExportKeepsItsLayersUntilTheExportEnds) {
  std::string container = makeContainer();
  store_->exportContainer(container, dir_.path() + "/exported.tar");
  std::string expected = test::readText(dir_.path() + "/exported.tar");
  hold_ = true;
  std::string download = startExport(container, 200ms);
  ASSERT_TRUE(waitUntilHeld());
  store_->releaseContainerLayer(container);  // the bridge removes the container
  EXPECT_TRUE(fs::exists(containerDir(container) + "/upper/added.txt")) << "removed under the export";
  std::string imageId;
  EXPECT_EQ(test::thrownKind([&] { store_->prepareContainerLayer(container, "app:1", imageId); }), "conflict")
      << "a released layer taken up again, to be removed under its new user when the export ends";
  release();
  std::string streamed = readAll(download);
  EXPECT_TRUE(streamed == expected) << "the export did not read on to its end";
  // Let go before the reader saw the end: nothing to wait for.
  EXPECT_FALSE(fs::exists(containerDir(container))) << "the layer stayed after the export";
  EXPECT_EQ(test::thrownKind([&] { store_->planExport(container); }), "notFound");
  // And the image is free to go: no container holds it any more.
  store_->remove("app:1", false, true);
  EXPECT_EQ(test::thrownKind([&] { store_->get("app:1"); }), "notFound");
  transfers_->discard(download);
  EXPECT_TRUE(transfersDirEmpty());
}

// The client goes away: its download's close returns once the export stopped and let the layers
// of its removed container go (a removal and an rmi right after it find nothing held).
TEST_F(WritesAheadTest, ClosingAnUnfinishedExportReturnsOnceItsLayersAreLetGo) {
  std::string container = makeContainer();
  hold_ = true;
  std::string download = startExport(container);
  ASSERT_TRUE(waitUntilHeld());
  store_->releaseContainerLayer(container);
  std::atomic<bool> closed{false};
  std::thread client([&] {
    writes_->close(download);
    closed = true;
  });
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(closed) << "the close did not wait for the writer held at its report";
  release();
  client.join();
  EXPECT_FALSE(fs::exists(containerDir(container))) << "the layer was still held when the close returned";
  EXPECT_EQ(reports(), 2) << "the export did not stop at its next report";
  EXPECT_EQ(writes_->running(), 0u);
  EXPECT_TRUE(transfersDirEmpty());
  writes_->close(download);  // a second close: nothing left, nothing waited for
}

// The images service dies with the export unfinished: the layer its removal left for the export
// goes at the next start.
TEST_F(WritesAheadTest, ALayerLeftForAnExportThatNeverEndedGoesAtTheNextStart) {
  std::string container = makeContainer();
  auto plan = store_->planExport(container);
  store_->releaseContainerLayer(container);
  ASSERT_TRUE(fs::exists(containerDir(container) + "/upper/added.txt"));
  EXPECT_EQ(test::thrownKind([&] { store_->planExport(container); }), "notFound") << "a second export of a removed container";
  ImageStore restarted(dir_.path() + "/store");
  EXPECT_FALSE(fs::exists(containerDir(container))) << "the layer outlived the process that held it";
  EXPECT_EQ(test::thrownKind([&] { restarted.planExport(container); }), "notFound");
  restarted.remove("app:1", false, true);  // no container holds the image
  EXPECT_EQ(test::thrownKind([&] { restarted.get("app:1"); }), "notFound");
}

}  // namespace
}  // namespace berth::images
