// What the bridge keeps of removed containers for `docker wait --condition removed`
// (services/containerd-bridge/exit_watch.h): the last 1,000 removals, the oldest forgotten
// first with its file, kept across a bridge restart; and no last exit of a removed container.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "common/errors.h"
#include "common/files.h"
#include "services/containerd-bridge/container_store.h"
#include "services/containerd-bridge/exit_watch.h"
#include "tests/support/process.h"

namespace berth::bridge {
namespace {

using namespace std::chrono_literals;

// A 64-digit id made of `i`.
std::string idOf(int i) {
  std::string digits = std::to_string(i);
  return std::string(64 - digits.size(), 'a') + digits;
}

size_t filesIn(const std::string& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

class ExitWatchTest : public ::testing::Test {
 protected:
  test::TempDir dir_{"berth-exit-watch"};
  ContainerStore store_{dir_.path() + "/store"};
  std::string removedDir_ = dir_.path() + "/removed";

  bool answers(const ExitWatch& watch, int i, int code) {
    auto r = watch.wait(idOf(i), "removed", -1, 0ms);
    return r.done && r.statusCode == code;
  }
  bool forgot(const ExitWatch& watch, int i) {
    try {
      watch.wait(idOf(i), "removed", -1, 0ms);
      return false;
    } catch (const Error& e) {
      return e.kind() == ErrorKind::notFound;
    }
  }
};

TEST_F(ExitWatchTest, TheLast1000RemovalsAreAnsweredAndTheOldestIsForgottenFirstWithItsFile) {
  ExitWatch watch(store_, removedDir_);
  for (int i = 0; i < 1100; ++i) watch.removed(idOf(i), i % 200);
  EXPECT_TRUE(forgot(watch, 0));
  EXPECT_TRUE(forgot(watch, 99));
  EXPECT_TRUE(answers(watch, 100, 100));
  EXPECT_TRUE(answers(watch, 1099, 99));
  EXPECT_EQ(filesIn(removedDir_), ExitWatch::kRemovedKept);
  EXPECT_FALSE(std::filesystem::exists(removedDir_ + "/" + idOf(99)));
  EXPECT_TRUE(std::filesystem::exists(removedDir_ + "/" + idOf(100)));
  // A wait for another condition does not answer from them.
  EXPECT_THROW(watch.wait(idOf(1099), "not-running", -1, 0ms), Error);
}

TEST_F(ExitWatchTest, ANewBridgeAnswersThePreviousOnesRemovalsAndKeepsNoMoreThan1000) {
  {
    ExitWatch before(store_, removedDir_);
    for (int i = 0; i < 1000; ++i) before.removed(idOf(i), i % 7);
  }
  ExitWatch after(store_, removedDir_);
  EXPECT_TRUE(answers(after, 0, 0));
  EXPECT_TRUE(answers(after, 999, 999 % 7));
  after.removed(idOf(5000), 42);
  EXPECT_TRUE(answers(after, 5000, 42));
  EXPECT_EQ(filesIn(removedDir_), ExitWatch::kRemovedKept);
}

// A write a crash cut short (writeFileReplacing's temporary, a longer name) is no removal: the
// next bridge deletes it and it takes no slot.
TEST_F(ExitWatchTest, ATemporaryACrashLeftInTheDirectoryIsDeletedAndTakesNoSlot) {
  std::filesystem::create_directories(removedDir_);
  writeFileAtomic(removedDir_ + "/" + idOf(1), "3");
  writeFileAtomic(removedDir_ + "/" + idOf(2) + ".tmp-77-1", "4");
  ExitWatch watch(store_, removedDir_);
  EXPECT_TRUE(answers(watch, 1, 3));
  EXPECT_TRUE(forgot(watch, 2));
  EXPECT_FALSE(std::filesystem::exists(removedDir_ + "/" + idOf(2) + ".tmp-77-1"));
  for (int i = 100; i < 100 + static_cast<int>(ExitWatch::kRemovedKept) - 1; ++i) watch.removed(idOf(i), 0);
  EXPECT_TRUE(answers(watch, 1, 3)) << "the temporary took a slot";
}

TEST_F(ExitWatchTest, ARemovedContainersLastExitIsNoLongerKept) {
  ExitWatch watch(store_, removedDir_);
  watch.exited(idOf(1), 1, 3);
  watch.exited(idOf(2), 1, 4);
  EXPECT_EQ(watch.lastExitsKept(), 2u);
  watch.removed(idOf(1), 3);
  EXPECT_EQ(watch.lastExitsKept(), 1u);
  EXPECT_TRUE(answers(watch, 1, 3));
}

}  // namespace
}  // namespace berth::bridge
