// Exec processes are deleted from containerd once they end, whatever happens in between: a
// deletion containerd does not answer is made again, and the processes a dead bridge left are
// deleted by the next one (when they end, if they still run). Before, the shim kept such a
// process, its state and its stdio pipes, for the container's whole life.
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace berth::bridge
