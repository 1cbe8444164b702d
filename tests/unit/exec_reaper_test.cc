// Exec processes are deleted from containerd once they end, whatever happens in between: a
// deletion containerd does not answer is made again, and the processes a dead bridge left are
// deleted by the next one (when they end, if they still run). Before, the shim kept such a
// process, its state and its stdio pipes, for the container's whole life.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/core_fixture.h"

namespace berth::bridge {
namespace {

using namespace std::chrono_literals;

class ExecReaperTest : public CoreFixture {
 protected:
  std::string startExec(const std::string& id) {
    std::string exec = core_->execCreate(id, {{"Cmd", {"sleep", "5"}}});
    core_->execStart(exec, nullptr, soon());
    return exec;
  }
  std::string marker(const std::string& id, const std::string& exec) {
    return dir_.path() + "/run/" + id + "/process-" + exec;
  }
  bool markerExists(const std::string& id, const std::string& exec) { return std::filesystem::exists(marker(id, exec)); }
  std::string fifo(const std::string& id, const std::string& exec, const std::string& stream) {
    return dir_.path() + "/run/" + id + "/exec-" + exec + "-" + stream;
  }
  static bool makeFifo(const std::string& path) { return ::mkfifo(path.c_str(), 0600) == 0; }
  // Someone holds the fifo for reading: a writer's open that does not wait succeeds (ENXIO
  // without a reader).
  static bool heldOpen(const std::string& path) {
    int fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return false;
    ::close(fd);
    return true;
  }
  // The exec's stdout and stderr fifos are there and held while its process runs in containerd;
  // once it ends it is deleted, and then they go.
  void expectHeldUntilDeletedThenRemoved(const std::string& id, const std::string& exec) {
    for (const char* stream : {"stdout", "stderr"}) {
      EXPECT_TRUE(heldOpen(fifo(id, exec, stream))) << stream << " is not there, or not held, while the process runs";
    }
    fake_.endExec(id, exec);
    ASSERT_TRUE(waitUntil([&] { return fake_.processes().empty(); }, 10s)) << "the ended exec stayed in containerd";
    for (const char* stream : {"stdout", "stderr"}) {
      EXPECT_TRUE(waitUntil([&] { return !std::filesystem::exists(fifo(id, exec, stream)); }, 10s))
          << stream << " outlived the process";
    }
  }
  // What a bridge that died between recording an exec and Tasks.Exec leaves.
  bool writeMarker(const std::string& id, const std::string& exec) {
    std::ofstream out(marker(id, exec));
    return static_cast<bool>(out);
  }
};

TEST_F(ExecReaperTest, AnExecIsDeletedOnceItEndsAndItsMarkerGoes) {
  std::string id = run();
  std::string exec = startExec(id);
  EXPECT_TRUE(markerExists(id, exec));
  EXPECT_EQ(fake_.processes(), std::vector<std::string>{id + "/" + exec});
  EXPECT_EQ(core_->execFinish(exec), 0);
  EXPECT_EQ(fake_.processes(), std::vector<std::string>{});
  EXPECT_FALSE(markerExists(id, exec));
}

TEST_F(ExecReaperTest, ADeletionContainerdDoesNotAnswerIsMadeAgainInTheBackground) {
  std::string id = run();
  std::string exec = startExec(id);
  fake_.failProcessDeletions(2);
  EXPECT_EQ(core_->execFinish(exec), 0);
  ASSERT_TRUE(waitUntil([&] { return fake_.processes().empty(); }, 10s)) << "the process stayed in containerd";
  EXPECT_EQ(fake_.count("Tasks.DeleteProcess"), 3u);
  // The marker goes just after containerd's answer, on the reaper's thread.
  EXPECT_TRUE(waitUntil([&] { return !markerExists(id, exec); }, 10s)) << "the marker outlived the deletion";
}

TEST_F(ExecReaperTest, AnExecStillRunningWhenTheBridgeDiedIsDeletedByTheNextBridgeWhenItEnds) {
  std::string id = run();
  fake_.holdExecs(true);
  std::string exec = startExec(id);
  restartBridge();  // the exec's record dies with the bridge; the process runs on
  // The next bridge's deletion is refused (it runs), and then it waits rather than asking again.
  ASSERT_TRUE(waitUntil([&] { return fake_.count("Tasks.DeleteProcess") >= 1; }));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(fake_.count("Tasks.DeleteProcess"), 1u);
  EXPECT_EQ(fake_.processes(), std::vector<std::string>{id + "/" + exec}) << "a running exec is left to run";
  EXPECT_EQ(status(id), ContainerStatus::running);
  fake_.endExec(id, exec);
  ASSERT_TRUE(waitUntil([&] { return fake_.processes().empty(); }, 10s)) << "the ended exec stayed in containerd";
  EXPECT_TRUE(waitUntil([&] { return !markerExists(id, exec); }, 10s)) << "the marker outlived the deletion";
}

TEST_F(ExecReaperTest, AProcessThatCouldNotBeDeletedIsLeftToTheNextBridgeByItsMarker) {
  std::string id = run();
  std::string exec = startExec(id);
  fake_.failProcessDeletions(1000000);
  EXPECT_EQ(core_->execFinish(exec), 0);
  crashBridge();  // retries end with the bridge
  EXPECT_EQ(fake_.processes(), std::vector<std::string>{id + "/" + exec});
  EXPECT_TRUE(markerExists(id, exec));
  fake_.failProcessDeletions(0);
  openCore();
  core_->restore();
  ASSERT_TRUE(waitUntil([&] { return fake_.processes().empty(); }, 10s)) << "the next bridge did not delete it";
  EXPECT_TRUE(waitUntil([&] { return !markerExists(id, exec); }, 10s)) << "the marker outlived the deletion";
}

TEST_F(ExecReaperTest, AMarkerWhoseProcessNeverStartedIsForgottenAtTheNextRestore) {
  std::string id = run();
  std::string exec = "0123456789abcdef";
  ASSERT_TRUE(writeMarker(id, exec));
  restartBridge();
  ASSERT_TRUE(waitUntil([&] { return !markerExists(id, exec); }, 10s));
  EXPECT_EQ(fake_.processes(), std::vector<std::string>{});
  EXPECT_EQ(status(id), ContainerStatus::running);
}

// The fifos of an exec whose Tasks.Start failed (containerd's death cut it) while its shim may
// still be opening them: they stay, held open, until the process is deleted, then go. (Before,
// the bridge removed them at once: a shim between opening stdout's and checking for stderr's
// kept the ends it had opened for the container's life.) Its client was told it did not start,
// so a process the shim started after all is killed, not left to run.
TEST_F(ExecReaperTest, TheFifosOfAStartThatFailedStayHeldUntilTheProcessIsKilledAndDeleted) {
  std::string id = run();
  fake_.holdExecs(true);
  fake_.failExecStarts(true);
  fake_.failProcessDeletions(1000000);
  std::string exec = core_->execCreate(id, {{"Cmd", {"cat"}}});
  ExecIo io;
  io.stdinFifo = fifo(id, exec, "stdin");
  io.stdoutFifo = fifo(id, exec, "stdout");
  io.stderrFifo = fifo(id, exec, "stderr");
  for (const auto& path : {io.stdinFifo, io.stdoutFifo, io.stderrFifo}) ASSERT_TRUE(makeFifo(path));
  EXPECT_THROW(core_->execStart(exec, &io, soon()), Error);
  // The caller no longer owns them: it would remove them while the shim may open them.
  EXPECT_EQ(io.stdinFifo + io.stdoutFifo + io.stderrFifo, "");
  ASSERT_TRUE(waitUntil([&] { return fake_.count("Tasks.DeleteProcess") >= 2; })) << "no deletion made again";
  for (const char* stream : {"stdin", "stdout", "stderr"}) {
    EXPECT_TRUE(heldOpen(fifo(id, exec, stream))) << stream << " is not there, or not held, while the process is";
  }
  EXPECT_EQ(fake_.processes(), std::vector<std::string>{id + "/" + exec});
  fake_.failProcessDeletions(0);  // the next deletion is refused: it runs
  ASSERT_TRUE(waitUntil([&] { return fake_.processes().empty(); }, 10s)) << "the process stayed in containerd";
  EXPECT_GE(fake_.count("Tasks.Kill 9"), 1u) << "deleted without being killed: it had ended on its own?";
  for (const char* stream : {"stdin", "stdout", "stderr"}) {
    EXPECT_TRUE(waitUntil([&] { return !std::filesystem::exists(fifo(id, exec, stream)); }, 10s))
        << stream << " outlived the process";
  }
}

// A dead bridge's exec fifos (a start of the shim's may wait in open() for the bridge's end): the
// next bridge holds them, deletes their process once it ends, and then removes them.
TEST_F(ExecReaperTest, ADeadBridgesExecFifosAreHeldUntilTheirProcessIsDeletedThenRemoved) {
  std::string id = run();
  std::string exec = "feedfacefeedface";
  fake_.holdExecs(true);
  fake_.exec(id, exec);  // no marker: known by its fifos only
  ASSERT_TRUE(makeFifo(fifo(id, exec, "stdout")));
  ASSERT_TRUE(makeFifo(fifo(id, exec, "stderr")));
  restartBridge();
  ASSERT_TRUE(waitUntil([&] { return fake_.count("Tasks.DeleteProcess") >= 1; }))
      << "the next bridge did not find the process by its fifos";
  expectHeldUntilDeletedThenRemoved(id, exec);
}

}  // namespace
}  // namespace berth::bridge
