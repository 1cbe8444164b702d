// The exit recorded before containerd deletes the task (RuntimeTeardown::beginDeferred): once
// the container's logger confirms its log whole, the exit, the --rm removal and whoever waits
// for them do not wait for Tasks.Delete; a new start does; a bridge that dies before the
// deletion ends leaves nothing the next restore does not delete.
#include <gtest/gtest.h>

#include <thread>

#include "common/errors.h"
#include "tests/unit/core_fixture.h"
#include "tests/unit/error_checks.h"

namespace berth::bridge {
namespace {

using namespace std::chrono_literals;

class DeferredTeardownTest : public CoreFixture {
 protected:
  DeferredTeardownTest() { host_.loggersDrain(true); }
  ~DeferredTeardownTest() override { fake_.holdTaskDeletes(false); }
  std::string rootfsOf(const std::string& id) { return dir_.path() + "/run/" + id + "/rootfs"; }
};

TEST_F(DeferredTeardownTest, AnAutoRemoveContainerIsRemovedWhileContainerdStillDeletesItsTask) {
  fake_.holdTaskDeletes(true);
  std::string id = run({{"AutoRemove", true}});
  auto first = core_->wait(id, "removed", -1, 0ms);
  fake_.exitTask(id, 6);
  auto removed = core_->wait(id, "removed", first.exits, 3s);
  ASSERT_TRUE(removed.done);
  EXPECT_EQ(removed.statusCode, 6);
  EXPECT_EQ(test::thrownKind([&] { store_->get(id); }), "notFound");
  EXPECT_FALSE(images_.hasLayer(id));
  EXPECT_FALSE(host_.mounted(rootfsOf(id)));
  // containerd is still deleting it: the removal did not wait.
  ASSERT_TRUE(fake_.task(id).has_value());
  EXPECT_EQ(fake_.task(id)->status, TaskStatus::stopped);
  EXPECT_TRUE(fake_.hasContainer(id));

  fake_.holdTaskDeletes(false);
  EXPECT_TRUE(waitUntil([&] { return !fake_.task(id) && !fake_.hasContainer(id); }));
  EXPECT_EQ(fake_.count("Tasks.Delete"), 1u);
  EXPECT_TRUE(fake_.violations().empty()) << fake_.violations().front();
}

TEST_F(DeferredTeardownTest, WithoutTheLoggersWordTheExitWaitsForTheTasksDeletionAsBefore) {
  host_.loggersDrain(false);
  fake_.holdTaskDeletes(true);
  std::string id = run();
  fake_.exitTask(id, 2);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(status(id), ContainerStatus::running);  // the log is whole only once the task is deleted
  fake_.holdTaskDeletes(false);
  ASSERT_TRUE(waitForStatus(id, ContainerStatus::exited));
  EXPECT_FALSE(fake_.task(id).has_value());
  EXPECT_EQ(record(id).state.exitCode, 2);
}

TEST_F(DeferredTeardownTest, AStartAfterTheExitWaitsUntilTheLastRunsTaskIsDeleted) {
  fake_.holdTaskDeletes(true);
  std::string id = run();
  fake_.exitTask(id, 0);
  ASSERT_TRUE(waitForStatus(id, ContainerStatus::exited));
  EXPECT_TRUE(fake_.task(id).has_value());
  std::atomic<bool> started{false};
  std::thread start([&] { started = core_->start(id, soon()); });
  std::this_thread::sleep_for(150ms);
  EXPECT_FALSE(started);
  EXPECT_EQ(fake_.count("Tasks.Create"), 1u);  // the first run's only
  fake_.holdTaskDeletes(false);
  start.join();
  EXPECT_TRUE(started);
  EXPECT_EQ(status(id), ContainerStatus::running);
  EXPECT_EQ(fake_.count("Tasks.Create"), 2u);
  EXPECT_TRUE(host_.mounted(rootfsOf(id)));
  EXPECT_TRUE(fake_.violations().empty()) << fake_.violations().front();
}

TEST_F(DeferredTeardownTest, ARestoreDeletesAStoppedTaskUnderAnExitedRecordAndObjectsNoRecordStandsFor) {
  fake_.holdTaskDeletes(true);
  std::string id = run();
  fake_.exitTask(id, 1);
  ASSERT_TRUE(waitForStatus(id, ContainerStatus::exited));
  // The bridge dies within the deletion: the stopped task stays, under a record that says exited.
  crashBridge();
  fake_.holdTaskDeletes(false);
  ASSERT_TRUE(fake_.task(id).has_value());
  // And an earlier one died between the task's deletion and its container object's, after the
  // removal of its record.
  std::string orphan(64, 'f');
  fake_.containers().create(orphan, "{}", soon());
  openCore();
  core_->restore();
  EXPECT_TRUE(waitUntil([&] { return !fake_.task(id) && !fake_.hasContainer(id) && !fake_.hasContainer(orphan); }));
  EXPECT_EQ(status(id), ContainerStatus::exited);
  EXPECT_EQ(record(id).state.exitCode, 1);
  ASSERT_TRUE(core_->start(id, soon()));
  EXPECT_EQ(status(id), ContainerStatus::running);
  EXPECT_TRUE(fake_.violations().empty()) << fake_.violations().front();
}

TEST_F(DeferredTeardownTest, ARestartByPolicyAfterABridgeDiedWithinTheDeletionRunsOnItsOwnMounts) {
  fake_.holdTaskDeletes(true);
  std::string id = run({{"RestartPolicy", {{"Name", "always"}}}});
  fake_.exitTask(id, 1);
  ASSERT_TRUE(waitForStatus(id, ContainerStatus::restarting));
  crashBridge();  // the last run's task stays, stopped
  fake_.holdTaskDeletes(false);
  ASSERT_TRUE(fake_.task(id).has_value());
  openCore();
  core_->restore();
  ASSERT_TRUE(waitUntil([&] { return scheduler_.pendingTimers() > 0; }));
  scheduler_.fireTimers();
  // The restart met the stopped task in its way and deleted it, keeping the mounts it had made.
  ASSERT_TRUE(waitForStatus(id, ContainerStatus::running));
  EXPECT_TRUE(host_.mounted(rootfsOf(id)));
  EXPECT_EQ(fake_.task(id)->status, TaskStatus::running);
  EXPECT_TRUE(fake_.violations().empty()) << fake_.violations().front();
}

}  // namespace
}  // namespace berth::bridge
