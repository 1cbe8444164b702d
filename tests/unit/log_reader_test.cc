// Where a resumed attach finds a container's log: at its own place, or where an auto-removal
// keeps it (the removal of a --rm container may be under way when the attach resumes).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "services/containerd-bridge/container_store.h"
#include "services/containerd-bridge/log_reader.h"
#include "tests/support/process.h"

namespace berth::bridge {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

void appendLine(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::app) << R"({"log":")" << text << R"(\n","stream":"stdout","time":"2026-12-05T12:00:00.000000001Z"})"
                                     << "\n";
}

std::string textsOf(const std::vector<LogEntry>& entries) {
  std::string out;
  for (const auto& e : entries) out += e.text;
  return out;
}

uint64_t inodeOf(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

class LogReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(live_.parent_path());
    appendLine(live_, "line-1");
    JsonLogReader first(live_);
    first.seek({});
    auto read = first.readNew();
    ASSERT_EQ(textsOf(read), "line-1\n");
    cut_ = read.back().end;  // where a bridge's death cut the stream
    appendLine(live_, "line-2");
    appendLine(live_, "line-3");
  }
  test::TempDir dir_{"berth-log-reader"};
  fs::path live_ = fs::path(dir_.path()) / "c" / "c-json.log";
  fs::path kept_ = fs::path(dir_.path()) / ".removed-logs" / "c" / "c-json.log";
  LogPosition cut_;
};

TEST_F(LogReaderTest, AResumeFindsTheLogWhereTheRemovalKeepsItOnceItsOwnPlaceIsGone) {
  // The removal's steps: the files linked where they are kept, the container's directory gone.
  fs::create_directories(kept_.parent_path());
  fs::create_hard_link(live_, kept_);
  fs::remove_all(live_.parent_path());
  EXPECT_FALSE(JsonLogReader(live_).seek(cut_));  // the record's own path alone has nothing

  auto reader = readerAt({live_, kept_}, cut_);
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(reader->path(), kept_.string());
  EXPECT_EQ(textsOf(reader->readNew()), "line-2\nline-3\n");
}

// The logger of a container being removed may write its last lines after the removal linked
// the log where it is kept (the same file): the resumed attach reads them too.
TEST_F(LogReaderTest, AKeptLogIsReadUntilItsLoggerHasBeenQuietAWhile) {
  fs::create_directories(kept_.parent_path());
  fs::create_hard_link(live_, kept_);
  std::ofstream logger(live_, std::ios::app);  // the logger's open file
  fs::remove_all(live_.parent_path());
  auto reader = readerAt({live_, kept_}, cut_);
  ASSERT_NE(reader, nullptr);
  std::thread late([&] {
    std::this_thread::sleep_for(100ms);
    logger << R"({"log":"line-4\n","stream":"stdout","time":"2026-12-05T12:00:00.000000001Z"})" << "\n" << std::flush;
  });
  std::string read;
  auto start = std::chrono::steady_clock::now();
  bool whole = readUntilQuiet(
      *reader,
      [&](const std::vector<LogEntry>& entries) {
        read += textsOf(entries);
        return true;
      },
      1s, 5s);
  auto took = std::chrono::steady_clock::now() - start;
  late.join();
  EXPECT_TRUE(whole);
  EXPECT_EQ(read, "line-2\nline-3\nline-4\n");
  EXPECT_GE(took, 1100ms);  // the late line, then a second without one
  EXPECT_LT(took, 5s);      // ended by the quiet, not by the limit
  // A reader told to stop stops.
  appendLine(kept_, "line-5");
  EXPECT_FALSE(readUntilQuiet(*reader, [](const std::vector<LogEntry>&) { return false; }, 300ms, 2s));
}

TEST_F(LogReaderTest, AResumeReadsTheLogAtItsOwnPlaceWhileItIsThere) {
  fs::create_directories(kept_.parent_path());
  fs::create_hard_link(live_, kept_);
  auto reader = readerAt({live_, kept_}, cut_);
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(reader->path(), live_.string());
  EXPECT_EQ(textsOf(reader->readNew()), "line-2\nline-3\n");
}

// A resume from the log's start (the cut came before any line was relayed) holds at every
// place, even one with no file: the place with the log is the one taken.
TEST_F(LogReaderTest, AResumeFromTheLogsStartTakesThePlaceThatHasTheLog) {
  fs::create_directories(kept_.parent_path());
  fs::create_hard_link(live_, kept_);
  fs::remove_all(live_.parent_path());
  auto reader = readerAt({live_, kept_}, {});
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(reader->path(), kept_.string());
  EXPECT_EQ(textsOf(reader->readNew()), "line-1\nline-2\nline-3\n");
}

// The container's directory half removed: its rotated file, with the position, still there,
// the live file gone. The kept place has both, and the newest lines are read from it.
TEST_F(LogReaderTest, AResumeTakesTheKeptLogOverAHalfRemovedOne) {
  fs::rename(live_, live_.string() + ".1");  // rotated: the position is in .1 now
  appendLine(live_, "line-4");
  fs::create_directories(kept_.parent_path());
  fs::create_hard_link(live_.string() + ".1", kept_.string() + ".1");
  fs::create_hard_link(live_, kept_);
  fs::remove(live_);  // the removal's remove_all, half done
  auto reader = readerAt({live_, kept_}, cut_);
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(reader->path(), kept_.string());
  EXPECT_EQ(textsOf(reader->readNew()), "line-2\nline-3\nline-4\n");
}

// A rotation's moment without a live file, and no removal: the container's own place is read,
// and the live file once it is back.
TEST_F(LogReaderTest, AResumeInARotationsGapReadsOnOnceTheLiveFileIsBack) {
  fs::rename(live_, live_.string() + ".1");
  auto reader = readerAt({live_, kept_}, cut_);
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(reader->path(), live_.string());
  appendLine(live_, "line-4");
  EXPECT_EQ(textsOf(reader->readNew()), "line-2\nline-3\nline-4\n");
}

TEST_F(LogReaderTest, APositionInAFileNoPlaceHoldsAnyMoreFindsNothing) {
  // A rotation that dropped the file: the live log is a new file (made before the old one
  // goes, so it cannot take the old inode) at both places.
  appendLine(live_.string() + ".new", "line-9");
  fs::rename(live_.string() + ".new", live_);
  fs::create_directories(kept_.parent_path());
  fs::create_hard_link(live_, kept_);
  EXPECT_EQ(readerAt({live_, kept_}, cut_), nullptr);
}

// remove(id, keepLog) keeps every file of the log, the live one and the rotated ones, as the
// same files (a reader's position names a file by its inode), also over what a removal a
// crash cut left at the kept place.
TEST(ContainerStoreKeptLogTest, AnAutoRemovalKeepsEveryFileOfTheLogAsTheSameFiles) {
  test::TempDir dir("berth-kept-log");
  std::string root = dir.path() + "/containers";
  ContainerStore store(root);
  auto r = store.reserve("rm-me");
  r.image = "sha256:" + std::string(64, 'a');
  r.config = {{"Cmd", {"sh"}}};
  r.logPath = root + "/" + r.id + "/" + r.id + "-json.log";
  store.add(r);
  appendLine(r.logPath + ".1", "old");
  appendLine(r.logPath, "new");
  uint64_t live = inodeOf(r.logPath), rotated = inodeOf(r.logPath + ".1");
  std::string kept = store.keptLogPath(r.id);
  fs::create_directories(fs::path(kept).parent_path());
  appendLine(kept, "stale");  // an earlier removal's, cut by a crash after its links

  store.remove(r.id, true);
  EXPECT_FALSE(fs::exists(root + "/" + r.id));
  EXPECT_EQ(store.removedLogOf(r.id), kept);
  EXPECT_EQ(inodeOf(kept), live);
  EXPECT_EQ(inodeOf(kept + ".1"), rotated);
  JsonLogReader reader(kept);
  std::string all;
  reader.forEach(-1, [&](const LogEntry& e) {
    all += e.text;
    return true;
  });
  EXPECT_EQ(all, "old\nnew\n");
}

}  // namespace
}  // namespace berth::bridge
