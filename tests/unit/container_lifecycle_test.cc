// The containers core driven through its fakes (fake_containerd.h): no root, no containerd, no
// images service. Starts, stops, exits, restart policies and their backoff, auto-removal,
// waits, restore after a bridge crash between any two steps, the races a stop, kill, pause or
// removal can run into with an exit, and the rule that an unknown task state is never an exit.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>

#include "common/errors.h"
#include "common/files.h"
#include "tests/unit/core_fixture.h"
#include "tests/unit/error_checks.h"

namespace berth::bridge {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

class LifecycleTest : public CoreFixture {
 protected:
  // Runs a container and waits until the check that the first subscription brings (its start
  // had none in place) has listed the tasks: from then on only an event, or a check the test
  // makes, tells of an exit.
  // Empty when that check did not come.
  std::string runWithTheCheckOfTheFirstSubscriptionDone() {
    std::string id = run();
    if (!waitUntil([&] { return fake_.count("Events.Subscribe") >= 1 && fake_.count("Tasks.List") >= 1; })) return "";
    return id;
  }
};

TEST_F(LifecycleTest, CreateMakesARecordAndALayerAndStartRunsTheTaskOnTheMountedLayer) {
  std::string id = create();
  EXPECT_EQ(status(id), ContainerStatus::created);
  EXPECT_TRUE(images_.hasLayer(id));
  EXPECT_FALSE(fake_.hasContainer(id));
  EXPECT_TRUE(core_->start(id, soon()));
  auto r = record(id);
  EXPECT_EQ(r.state.status, ContainerStatus::running);
  EXPECT_EQ(r.state.pid, static_cast<int>(fake_.task(id)->pid));
  EXPECT_TRUE(r.hasBeenStarted);
  EXPECT_TRUE(host_.mounted(dir_.path() + "/run/" + id + "/rootfs"));
  // One images call for the whole run (at create), and no clean-up calls on a fresh container.
  EXPECT_EQ(images_.prepares(), 1);
  EXPECT_EQ(fake_.count("Containers.Delete"), 0u);
  EXPECT_EQ(fake_.count("Tasks.Delete"), 0u);
  EXPECT_EQ(events(), (std::vector<std::string>{"create", "start"}));
}

TEST_F(LifecycleTest, StartingARunningContainerIsAlreadyDoneAndAPausedOneIsRefused) {
  std::string id = run();
  EXPECT_FALSE(core_->start(id, soon()));
  core_->pause(id, soon());
  EXPECT_EQ(refusal([&] { core_->start(id, soon()); }), "cannot start a paused container, try unpause instead");
  core_->unpause(id, soon());
  EXPECT_EQ(status(id), ContainerStatus::running);
}

TEST_F(LifecycleTest, AnExitIsRecordedWithItsCodeAfterTheTaskAndThenTheContainerObjectAreDeleted) {
  std::string id = run();
  auto exits = record(id).exits;
  fake_.exitTask(id, 3);
  ASSERT_TRUE(waitForStatus(id, ContainerStatus::exited));
  auto r = record(id);
  EXPECT_EQ(r.state.exitCode, 3);
  EXPECT_EQ(r.exits, exits + 1);
  EXPECT_FALSE(fake_.task(id).has_value());
  EXPECT_FALSE(fake_.hasContainer(id));
  EXPECT_FALSE(host_.mounted(dir_.path() + "/run/" + id + "/rootfs"));
  EXPECT_TRUE(fake_.violations().empty()) << fake_.violations().front();
  // The record shows the exit a moment before its recorder says "die".
  EXPECT_TRUE(waitUntil([&] { return !events().empty() && events().back() == "die 3"; })) << events().back();
}

TEST_F(LifecycleTest, StopSignalsThenKillsAfterTheTimeoutAndAStartAfterwardsRunsAgain) {
  std::string id = run();
  fake_.ignoreSignal(id, SIGTERM);  // PID 1 without a handler
  EXPECT_TRUE(core_->stop(id, 0, "", soon()));
  auto r = record(id);
  EXPECT_EQ(r.state.status, ContainerStatus::exited);
  EXPECT_EQ(r.state.exitCode, 128 + SIGKILL);
  EXPECT_TRUE(r.manuallyStopped);
  // dockerd's order: kill, then die (recorded by the exit's monitor, so it may come before the
  // second kill event), then stop.
  auto e = events();
  ASSERT_GE(e.size(), 4u);
  EXPECT_EQ(e[e.size() - 4], "kill 15");
  EXPECT_TRUE((e[e.size() - 3] == "kill 9" && e[e.size() - 2] == "die 137") ||
              (e[e.size() - 3] == "die 137" && e[e.size() - 2] == "kill 9"));
  EXPECT_EQ(e.back(), "stop");
  EXPECT_FALSE(core_->stop(id, 0, "", soon()));  // 304
  EXPECT_TRUE(core_->start(id, soon()));
  EXPECT_FALSE(record(id).manuallyStopped) << "a start clears it, as dockerd's does";
}

TEST_F(LifecycleTest, AStopSaysStopOnlyAfterTheDieOfTheExitItWaitedFor) {
  std::string id = run();
  dieEventDelay_ = 300ms;  // the exit is in the record well before "die" is said
  EXPECT_TRUE(core_->stop(id, 10, "", soon()));
  auto e = events();
  ASSERT_GE(e.size(), 3u);
  EXPECT_EQ(std::vector<std::string>(e.end() - 3, e.end()), (std::vector<std::string>{"kill 15", "die 143", "stop"}));
}

TEST_F(LifecycleTest, OnFailureRestartsUpToItsLimitWithADoublingDelay) {
  std::string id = run({{"RestartPolicy", {{"Name", "on-failure"}, {"MaximumRetryCount", 2}}}});
  for (int round = 1; round <= 2; ++round) {
    fake_.exitTask(id, 1);
    ASSERT_TRUE(waitForStatus(id, ContainerStatus::restarting)) << round;
    ASSERT_TRUE(waitUntil([&] { return scheduler_.delays().size() == static_cast<size_t>(round); }));
    EXPECT_EQ(scheduler_.fireTimers(), 1u);
    EXPECT_EQ(status(id), ContainerStatus::running) << round;
    EXPECT_EQ(record(id).restartCount, round);
  }
  EXPECT_EQ(scheduler_.delays(), (std::vector<std::chrono::milliseconds>{100ms, 200ms}));
  fake_.exitTask(id, 1);
  ASSERT_TRUE(waitForStatus(id, ContainerStatus::exited));
  EXPECT_EQ(scheduler_.fireTimers(), 0u) << "the limit of two retries was reached";
  EXPECT_EQ(record(id).state.exitCode, 1);
}

TEST_F(LifecycleTest, TheRestartDelayStartsOverAfterARunOfTenSecondsAndIsCappedAtAMinute) {
  RestartBackoff backoff;
  std::vector<long> delays;
  for (int i = 0; i < 12; ++i) delays.push_back(backoff.next("c", 1s).count());
  EXPECT_EQ(delays, (std::vector<long>{100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000}));
  EXPECT_EQ(backoff.next("c", 10s).count(), 100);
  EXPECT_EQ(backoff.next("other", 1s).count(), 100);
}

TEST_F(LifecycleTest, AStopWhileRestartingCallsTheRestartOffAndTheTimerThenDoesNothing) {
  std::string id = run({{"RestartPolicy", {{"Name", "always"}}}});
  fake_.exitTask(id, 0);
  ASSERT_TRUE(waitForScheduledRestart(id));
  EXPECT_TRUE(core_->stop(id, 10, "", soon()));
  EXPECT_EQ(status(id), ContainerStatus::exited);
  scheduler_.fireTimers();
  EXPECT_EQ(status(id), ContainerStatus::exited);
  EXPECT_EQ(fake_.count("Tasks.Start"), 1u);
}

TEST_F(LifecycleTest, AnAutoRemoveContainerIsRemovedAfterItsExitAndWaitRemovedGetsItsCode) {
  std::string id = run({{"AutoRemove", true}});
  auto first = core_->wait(id, "removed", -1, 0ms);
  EXPECT_FALSE(first.done);
  fake_.exitTask(id, 6);
  auto removed = core_->wait(id, "removed", first.exits, 3s);
  EXPECT_TRUE(removed.done);
  EXPECT_EQ(removed.statusCode, 6);
  EXPECT_EQ(test::thrownKind([&] { store_->get(id); }), "notFound");
  EXPECT_FALSE(images_.hasLayer(id));
  EXPECT_FALSE(fake_.hasContainer(id));
  EXPECT_EQ(events().back(), "destroy");
  // The removal after the exit asks containerd nothing more: the exit had torn it all down.
  EXPECT_EQ(fake_.count("Containers.Delete"), 1u);
  EXPECT_EQ(fake_.count("Tasks.Delete"), 1u);
}

// The creator of a container is watched only while it might leave an unstarted --rm container
// behind: once the container was started, is not --rm, or is gone, it is forgotten, even though
// the API that created it still runs (it was kept for every container made through a live API).
TEST_F(LifecycleTest, ACreatorIsForgottenOnceItsContainerStartedOrWentAwayAndWatchedWhileAnRmOneWaits) {
  json rm = {{"AutoRemove", true}};
  auto make = [&](const json& hostConfig) {
    json body = {{"Image", kImage}, {"Cmd", {"sleep", "1000"}}, {"HostConfig", hostConfig}};
    return core_->create("", body, soon(), "", getpid()).id;  // this process: a creator that runs
  };
  std::string started = make(rm);
  std::string waiting = make(rm);
  std::string plain = make(json::object());
  std::string removed = make(json::object());
  ASSERT_EQ(core_->creatorsWatched(), 4u);
  ASSERT_TRUE(core_->start(started, soon()));
  core_->remove(removed, true, false, soon());
  core_->removeAbandoned();
  EXPECT_EQ(core_->creatorsWatched(), 1u) << "only the unstarted --rm container's creator is still watched";
  EXPECT_EQ(status(waiting), ContainerStatus::created) << "removed while its creator runs";
  ASSERT_TRUE(core_->start(waiting, soon()));
  core_->removeAbandoned();
  EXPECT_EQ(core_->creatorsWatched(), 0u);
  EXPECT_EQ(status(plain), ContainerStatus::created);
}

TEST_F(LifecycleTest, WaitNotRunningAnswersAtOnceForAStoppedContainerAndNextExitWaitsForTheNextOne) {
  std::string id = run();
  fake_.exitTask(id, 4);
  ASSERT_TRUE(waitForStatus(id, ContainerStatus::exited));
  auto now = core_->wait(id, "not-running", -1, 0ms);
  EXPECT_TRUE(now.done);
  EXPECT_EQ(now.statusCode, 4);
  auto next = core_->wait(id, "next-exit", -1, 50ms);
  EXPECT_FALSE(next.done);
  ASSERT_TRUE(core_->start(id, soon()));
  fake_.exitTask(id, 9);
  auto answered = core_->wait(id, "next-exit", next.exits, 3s);
  EXPECT_TRUE(answered.done);
  EXPECT_EQ(answered.statusCode, 9);
  EXPECT_EQ(refusal([&] { core_->wait(id, "sometime", -1, 0ms); }), "invalid condition: \"sometime\"");
}

TEST_F(LifecycleTest, RemoveRefusesARunningContainerAndForceKillsItFirst) {
  std::string id = run();
  EXPECT_EQ(refusal([&] { core_->remove(id, false, false, soon()); }),
            "cannot remove container \"" + record(id).name +
                "\": container is running: stop the container before removing or force remove");
  core_->remove(id, true, false, soon());
  EXPECT_EQ(test::thrownKind([&] { store_->get(id); }), "notFound");
  EXPECT_FALSE(fake_.hasContainer(id));
  EXPECT_FALSE(fake_.task(id).has_value());
  EXPECT_TRUE(fake_.violations().empty()) << fake_.violations().front();
}

// The defect found in a kill -9 storm: containerd's state call timed out during restore, the
// timeout was taken for an exit, and rm -f deleted containerd's container under the live task.
TEST_F(LifecycleTest, AnUnknownTaskStateAtRestoreIsNeverAnExitAndRmForceStillKillsBeforeDeleting) {
  std::string id = run();
  uint32_t pid = fake_.task(id)->pid;
  crashBridge();
  fake_.stateUnknown(true);
  openCore();
  core_->restore();
  EXPECT_EQ(status(id), ContainerStatus::running);
  EXPECT_EQ(record(id).state.pid, static_cast<int>(pid));
  EXPECT_EQ(fake_.task(id)->status, TaskStatus::running);
  EXPECT_TRUE(fake_.hasContainer(id));
  // exec still works on it, and once containerd answers again its exit is recorded normally.
  EXPECT_FALSE(core_->execCreate(id, {{"Cmd", {"true"}}}).empty());
  fake_.stateUnknown(false);
  core_->remove(id, true, false, soon());
  EXPECT_FALSE(fake_.task(id).has_value());
  EXPECT_FALSE(fake_.hasContainer(id));
  EXPECT_TRUE(fake_.violations().empty()) << fake_.violations().front();
}

// A container keeps its newest 128 finished execs for inspect; older ones are forgotten rather
// than kept until the container's removal (a health check execs every interval).
TEST_F(LifecycleTest, OnlyTheNewestFinishedExecsAreKept) {
  std::string id = run();
  std::vector<std::string> execs;
  for (size_t i = 0; i < ExecProcesses::kKeptFinishedExecs + 20; ++i) {
    std::string exec = core_->execCreate(id, {{"Cmd", {"true"}}});
    core_->execStart(exec, nullptr, soon());
    EXPECT_EQ(core_->execFinish(exec), 0);
    execs.push_back(exec);
  }
  // The next create prunes: the oldest finished ones are gone, the newest answer.
  std::string next = core_->execCreate(id, {{"Cmd", {"true"}}});
  EXPECT_EQ(test::thrownKind([&] { core_->execInspect(execs.front()); }), "notFound");
  EXPECT_EQ(test::thrownKind([&] { core_->execInspect(execs[19]); }), "notFound");
  EXPECT_EQ(core_->execInspect(execs[20])["ExitCode"], 0);
  EXPECT_EQ(core_->execInspect(execs.back())["ExitCode"], 0);
  EXPECT_EQ(core_->execInspect(next)["Running"], false);
}

TEST_F(LifecycleTest, AnEventStreamThatEndsOrAContainerdThatGoesAwayIsNotAnExit) {
  std::string id = run();
  fake_.stateUnknown(true);
  ASSERT_TRUE(waitUntil([&] { return fake_.count("Events.Subscribe") >= 1; })) << "exits are followed through containerd's events";
  size_t subscribes = fake_.count("Events.Subscribe");
  fake_.down(true);
  // The stream ends and subscribing again fails, several times; nothing is taken for an exit.
  ASSERT_TRUE(waitUntil([&] { return fake_.count("Events.Subscribe") >= subscribes + 3; }))
      << "the bridge stopped subscribing";
  EXPECT_EQ(status(id), ContainerStatus::running);
  size_t lists = fake_.count("Tasks.List");
  fake_.down(false);
  // Back: subscribed again, the tasks are listed (it runs), still no exit.
  subscribes = fake_.count("Events.Subscribe");
  ASSERT_TRUE(waitUntil([&] { return fake_.count("Events.Subscribe") > subscribes; })) << "no subscription after containerd came back";
  ASSERT_TRUE(waitUntil([&] { return fake_.count("Tasks.List") > lists; })) << "the watched tasks were not listed";
  EXPECT_EQ(status(id), ContainerStatus::running);
  fake_.stateUnknown(false);
  fake_.exitTask(id, 2);
  ASSERT_TRUE(waitForStatus(id, ContainerStatus::exited));
  EXPECT_EQ(record(id).state.exitCode, 2);
}

// An exit while containerd is down comes as no event: the check after subscribing again finds it.
TEST_F(LifecycleTest, AnExitWhileContainerdWasDownIsFoundWhenItIsBack) {
  std::string id = run();
  ASSERT_TRUE(waitUntil([&] { return fake_.count("Events.Subscribe") >= 1; }));
  fake_.down(true);
  fake_.exitTask(id, 3);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(status(id), ContainerStatus::running) << "containerd could not say yet";
  fake_.down(false);
  ASSERT_TRUE(waitForStatus(id, ContainerStatus::exited));
  EXPECT_EQ(record(id).state.exitCode, 3);
}

// An event that names another pid (a late one of an earlier run) or none (containerd's
// cleanup after a dead shim) is not taken for this run's exit: only the task's state decides.
TEST_F(LifecycleTest, AnExitEventOfAnotherPidOrOfNoPidIsNotThisRunsExit) {
  // Loggers that drain: an exit other than 255 is recorded before containerd deletes the task,
  // so no refused deletion would catch a wrong one.
  host_.loggersDrain(true);
  std::string id = run();
  ASSERT_TRUE(waitUntil([&] { return fake_.count("Events.Subscribe") >= 1; }));
  uint32_t pid = fake_.task(id)->pid;
  size_t lists = fake_.count("Tasks.List");
  fake_.publishExit(id, pid + 1, 9);
  fake_.publishExit(id, 0, 137);
  // The pid-less one has the states asked for: the task runs.
  ASSERT_TRUE(waitUntil([&] { return fake_.count("Tasks.List") > lists; })) << "no check after an exit without a pid";
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(status(id), ContainerStatus::running);
  fake_.exitTask(id, 4);
  ASSERT_TRUE(waitForStatus(id, ContainerStatus::exited));
  EXPECT_EQ(record(id).state.exitCode, 4);
}

// containerd's cleanup after a shim died: the task is gone from its list, and the exit event it
// publishes may name no pid. The task's state (none) decides: the exit is recorded at once with
// 255, as dockerd records a container whose shim died, not left to the periodic check.
TEST_F(LifecycleTest, AnExitEventWithoutAPidForATaskContainerdRemovedIsRecordedAt255) {
  ASSERT_FALSE(runWithTheCheckOfTheFirstSubscriptionDone().empty()) << "no check after the first subscription";
  std::string id = run();
  fake_.loseTask(id);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(status(id), ContainerStatus::running) << "nothing told the bridge yet";
  // The event's own code is not the exit's (only a pid ties an event to a run): 255 comes from
  // the task being gone with no exit kept for it.
  fake_.publishExit(id, 0, 137);
  ASSERT_TRUE(waitForStatus(id, ContainerStatus::exited));
  EXPECT_EQ(record(id).state.exitCode, 255);
  EXPECT_FALSE(fake_.hasContainer(id)) << "the container object outlived the task";
  EXPECT_TRUE(fake_.violations().empty()) << fake_.violations().front();
}

// An exit whose event never came (lost while the subscription was made again) is found by the
// check of the watched tasks (which the restore's loop makes every 30 s), with containerd's
// code; a check that finds every task alive changes nothing.
TEST_F(LifecycleTest, AnExitWhoseEventWasLostIsFoundByCheckingTheWatchedTasks) {
  std::string alive = runWithTheCheckOfTheFirstSubscriptionDone();
  ASSERT_FALSE(alive.empty()) << "no check after the first subscription";
  std::string lost = run();
  EXPECT_TRUE(core_->checkExitsNow());
  EXPECT_EQ(status(lost), ContainerStatus::running);
  fake_.exitTaskUnannounced(lost, 6);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_EQ(status(lost), ContainerStatus::running) << "something other than the check found the exit";
  EXPECT_TRUE(core_->checkExitsNow());
  ASSERT_TRUE(waitForStatus(lost, ContainerStatus::exited));
  EXPECT_EQ(record(lost).state.exitCode, 6);
  EXPECT_EQ(status(alive), ContainerStatus::running);
  // containerd away: the check says it had no answer, and records nothing.
  fake_.down(true);
  EXPECT_FALSE(core_->checkExitsNow());
  fake_.down(false);
  EXPECT_EQ(status(alive), ContainerStatus::running);
}

// The check of the watched tasks runs when its interval has passed, not before, and at the next
// call (not an interval later) after a check that got no certain answer.
TEST_F(LifecycleTest, TheCheckOfTheWatchedTasksRunsWhenDueAndAgainAtOnceAfterAnUncertainOne) {
  // Wide enough that a stalled machine between the first check and the next call below does
  // not make that call due.
  exitCheckInterval_ = std::chrono::milliseconds(1000);
  crashBridge();  // the fixture's bridge, which has not started following exits yet
  openCore();
  std::string id = runWithTheCheckOfTheFirstSubscriptionDone();
  ASSERT_FALSE(id.empty()) << "no check after the first subscription";
  fake_.exitTaskUnannounced(id, 2);
  size_t lists = fake_.count("Tasks.List");
  core_->checkExitsIfDue();  // the first subscription's check has just run
  EXPECT_EQ(fake_.count("Tasks.List"), lists) << "checked before the interval passed";
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  core_->checkExitsIfDue();
  EXPECT_EQ(fake_.count("Tasks.List"), lists + 1) << "no check once the interval passed";
  ASSERT_TRUE(waitForStatus(id, ContainerStatus::exited));
  EXPECT_EQ(record(id).state.exitCode, 2);

  // containerd lists a stopped task but cannot say its state: no certain answer.
  std::string other = run();
  fake_.exitTaskUnannounced(other, 3);
  fake_.stateUnknown(true);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  core_->checkExitsIfDue();
  EXPECT_EQ(status(other), ContainerStatus::running) << "recorded without containerd's word";
  fake_.stateUnknown(false);
  core_->checkExitsIfDue();  // at once
  ASSERT_TRUE(waitForStatus(other, ContainerStatus::exited));
  EXPECT_EQ(record(other).state.exitCode, 3);
}

// The engine's shutdown stops the running containers and records their exits (the events are
// still followed while it waits for them).
TEST_F(LifecycleTest, ShutdownStopsTheRunningContainersAndRecordsTheirExits) {
  std::string id = run();
  core_->shutdown(std::chrono::seconds(1));
  EXPECT_EQ(status(id), ContainerStatus::exited);
  EXPECT_EQ(record(id).state.exitCode, 143);
}

// A task that exits before Tasks.Start has returned: its event reaches the bridge before the
// container is watched, and is kept for that watch (matched by pid).
TEST_F(LifecycleTest, AnExitBeforeTheStartReturnedIsRecorded) {
  std::string first = run();
  ASSERT_TRUE(waitUntil([&] { return fake_.count("Events.Subscribe") >= 1; }));
  // Subscribed: the next exit comes only as an event.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  fake_.exitOnNextStart(7);
  std::string id = run();
  ASSERT_TRUE(waitForStatus(id, ContainerStatus::exited));
  EXPECT_EQ(record(id).state.exitCode, 7);
  EXPECT_EQ(status(first), ContainerStatus::running);
}

TEST_F(LifecycleTest, NothingDeletesAContainerObjectWhileItsTaskRunsEvenWhenTheRecordSaysItStopped) {
  // A task runs that the record does not know of (the bridge died between Tasks.Start and the
  // record's update): rm -f kills it first.
  std::string id = create();
  fake_.addRunningTask(id, 4242);
  EXPECT_EQ(status(id), ContainerStatus::created);
  EXPECT_EQ(refusal([&] { core_->remove(id, false, false, soon()); }).find("still has a running task") != std::string::npos, true);
  EXPECT_EQ(status(id), ContainerStatus::dead) << "a removal that could not finish leaves it dead, as dockerd";
  core_->remove(id, true, false, soon());
  EXPECT_EQ(test::thrownKind([&] { store_->get(id); }), "notFound");
  EXPECT_FALSE(fake_.task(id).has_value());
  EXPECT_TRUE(fake_.violations().empty()) << fake_.violations().front();
}

TEST_F(LifecycleTest, RestoreReattachesToALiveTaskAndStillRecordsItsLaterExit) {
  std::string id = run();
  restartBridge();
  EXPECT_EQ(status(id), ContainerStatus::running);
  fake_.exitTask(id, 5);
  ASSERT_TRUE(waitForStatus(id, ContainerStatus::exited));
  EXPECT_EQ(record(id).state.exitCode, 5);
}

TEST_F(LifecycleTest, RestoreRecordsAnExitThatHappenedWhileTheBridgeWasDownWithContainerdsCodeAndTime) {
  std::string id = run();
  crashBridge();
  fake_.exitTask(id, 7);
  auto exitedAt = fake_.task(id)->exit.exitedAtNanos;
  openCore();
  core_->restore();
  auto r = record(id);
  EXPECT_EQ(r.state.status, ContainerStatus::exited);
  EXPECT_EQ(r.state.exitCode, 7);
  EXPECT_EQ(parseRfc3339Nanos(r.state.finishedAt), exitedAt);
  EXPECT_FALSE(fake_.hasContainer(id));
}

TEST_F(LifecycleTest, RestoreRecordsExit255WhenContainerdHasNoTaskAtAll) {
  std::string id = run();
  crashBridge();
  fake_.exitTask(id, 0);
  fake_.tasks().remove(id, soon());  // containerd lost it (a reboot)
  openCore();
  core_->restore();
  EXPECT_EQ(status(id), ContainerStatus::exited);
  EXPECT_EQ(record(id).state.exitCode, 255);
}

TEST_F(LifecycleTest, RestoreTurnsAnInterruptedRemovalIntoADeadContainerThatCanBeRemoved) {
  std::string id = run();
  fake_.exitTask(id, 0);
  ASSERT_TRUE(waitForStatus(id, ContainerStatus::exited));
  // The bridge died right after marking the removal.
  store_->update(id, [](ContainerRecord& r) { r.state.status = *next(r.state.status, LifecycleEvent::removalBegun); });
  restartBridge();
  EXPECT_EQ(status(id), ContainerStatus::dead);
  core_->remove(id, false, false, soon());
  EXPECT_EQ(test::thrownKind([&] { store_->get(id); }), "notFound");
}

TEST_F(LifecycleTest, RestoreRestartsAContainerThatWasWaitingForItsRestart) {
  std::string id = run({{"RestartPolicy", {{"Name", "always"}}}});
  fake_.exitTask(id, 0);
  ASSERT_TRUE(waitForStatus(id, ContainerStatus::restarting));
  restartBridge();
  EXPECT_GE(scheduler_.fireTimers(), 1u);
  EXPECT_EQ(status(id), ContainerStatus::running);
}

TEST_F(LifecycleTest, RestoreKillsATaskUnderAStoppedRecordAndATaskWithNoRecord) {
  // The bridge died between Tasks.Start and the record's update, and a task whose container
  // is unknown to berth is left from an earlier data root.
  std::string id = create();
  fake_.addRunningTask(id, 4243);
  std::string stranger(64, 'f');
  fake_.addRunningTask(stranger, 4244);
  restartBridge();
  // The tasks go first, then (in the background) their container objects.
  ASSERT_TRUE(waitUntil([&] {
    return !fake_.task(id) && !fake_.task(stranger) && !fake_.hasContainer(id) && !fake_.hasContainer(stranger);
  })) << "a task or a container object stayed";
  EXPECT_EQ(status(id), ContainerStatus::created);
  EXPECT_TRUE(fake_.violations().empty()) << fake_.violations().front();
  // And it starts cleanly afterwards.
  EXPECT_TRUE(core_->start(id, soon()));
}

// A removal whose run directory a late writer kept (the logger's done mark, written after a
// bridge kill cut a start) goes on without it; the next restore removes what no record or task
// stands for, unmounting a root filesystem first, and keeps everything else.
TEST_F(LifecycleTest, RestoreRemovesTheRunDirectoriesNoContainerOrTaskStandsFor) {
  std::string running = run();
  std::string run = dir_.path() + "/run/";
  std::string left(64, 'a'), mounted(64, 'b'), stranger(64, 'f');
  for (const auto& id : {left, mounted, stranger}) {
    std::filesystem::create_directories(run + id);
    writeFileAtomic(run + id + "/logger.done", "done\n");
  }
  host_.mountRootfs({}, run + mounted + "/rootfs");
  fake_.addRunningTask(stranger, 4244);
  std::filesystem::create_directories(run + ".kept/x");
  std::filesystem::create_directories(run + "not-an-id");
  restartBridge();
  // The sweep runs in the background, as the stray task's removal does: both are awaited.
  ASSERT_TRUE(waitUntil([&] { return !std::filesystem::exists(run + left) && !std::filesystem::exists(run + mounted); }));
  ASSERT_TRUE(waitUntil([&] { return !fake_.task(stranger); }));
  EXPECT_FALSE(host_.mounted(run + mounted + "/rootfs"));
  EXPECT_TRUE(std::filesystem::exists(run + stranger + "/logger.done"));  // its task was listed
  EXPECT_TRUE(host_.mounted(run + running + "/rootfs"));
  EXPECT_TRUE(std::filesystem::exists(run + ".kept/x"));
  EXPECT_TRUE(std::filesystem::exists(run + "not-an-id"));
  EXPECT_EQ(status(running), ContainerStatus::running);
}

TEST_F(LifecycleTest, AStartThatStoppedHalfWayIsCleanedUpByTheNextStart) {
  // The bridge died after containerd's container object was made, before its task.
  std::string id = create();
  fake_.containers().create(id, "{}", soon());
  restartBridge();
  EXPECT_TRUE(core_->start(id, soon()));
  EXPECT_EQ(status(id), ContainerStatus::running);
  EXPECT_TRUE(fake_.violations().empty()) << fake_.violations().front();
}

TEST_F(LifecycleTest, AFailedStartRecordsDockerdsExitCodeAndLeavesNothingInContainerd) {
  std::string id = create();
  fake_.failNextStarts("exec: \"/no/such\": stat /no/such: no such file or directory: unknown");
  EXPECT_NE(refusal([&] { core_->start(id, soon()); }).find("stat /no/such: no such file or directory"), std::string::npos);
  auto r = record(id);
  EXPECT_EQ(r.state.status, ContainerStatus::created);
  EXPECT_EQ(r.state.exitCode, 127);
  EXPECT_FALSE(fake_.hasContainer(id));
  EXPECT_FALSE(fake_.task(id).has_value());
  EXPECT_FALSE(host_.mounted(dir_.path() + "/run/" + id + "/rootfs"));
}

// ---- races ----

TEST_F(LifecycleTest, AStopThatRacesTheContainersOwnExitSucceedsWithTheExitItFound) {
  std::string id = run();
  fake_.exitTask(id, 0);  // exits on its own; the stop's signal finds no process
  EXPECT_TRUE(core_->stop(id, 5, "", soon()) || status(id) == ContainerStatus::exited);
  ASSERT_TRUE(waitForStatus(id, ContainerStatus::exited));
  EXPECT_EQ(record(id).state.exitCode, 0);
}

TEST_F(LifecycleTest, AKillThatRacesTheExitIsNoError) {
  std::string id = runWithTheCheckOfTheFirstSubscriptionDone();
  ASSERT_FALSE(id.empty()) << "no check after the first subscription";
  uint32_t pid = fake_.task(id)->pid;
  // The process has exited and its event is still on its way: the record says running. (Once
  // the exit is recorded a kill is refused "is not running", as dockerd refuses it.)
  fake_.exitTaskUnannounced(id, 0);
  EXPECT_NO_THROW(core_->kill(id, "TERM", soon()));
  fake_.publishExit(id, pid, 0);
  ASSERT_TRUE(waitForStatus(id, ContainerStatus::exited));
  EXPECT_EQ(record(id).state.exitCode, 0);
}

TEST_F(LifecycleTest, ARemovalWhileARestartIsPendingWinsAndTheTimerFindsNothing) {
  std::string id = run({{"RestartPolicy", {{"Name", "always"}}}});
  fake_.exitTask(id, 0);
  ASSERT_TRUE(waitForScheduledRestart(id));
  core_->remove(id, true, false, soon());
  EXPECT_EQ(test::thrownKind([&] { store_->get(id); }), "notFound");
  scheduler_.fireTimers();
  EXPECT_EQ(fake_.count("Tasks.Start"), 1u);
  EXPECT_FALSE(fake_.hasContainer(id));
}

TEST_F(LifecycleTest, APauseThatRacesAnExitNeverWritesTheContainerBackToPaused) {
  std::string id = run();
  fake_.exitTask(id, 1);
  ASSERT_TRUE(waitForStatus(id, ContainerStatus::exited));
  // The record is exited: the pause is refused and changes nothing.
  EXPECT_EQ(refusal([&] { core_->pause(id, soon()); }), "Container " + id + " is not running");
  EXPECT_EQ(status(id), ContainerStatus::exited);
  // And a pause whose task exits between containerd's pause and the record's update leaves the
  // exit standing (the transition from exited does not apply).
  EXPECT_FALSE(next(ContainerStatus::exited, LifecycleEvent::paused).has_value());
}

TEST_F(LifecycleTest, KillOfARestartingContainerCallsTheRestartOff) {
  std::string id = run({{"RestartPolicy", {{"Name", "always"}}}});
  fake_.exitTask(id, 0);
  ASSERT_TRUE(waitForScheduledRestart(id));
  core_->kill(id, "", soon());
  EXPECT_EQ(status(id), ContainerStatus::exited);
  scheduler_.fireTimers();
  EXPECT_EQ(status(id), ContainerStatus::exited);
}

// dockerd: a wait for not-running (or next-exit) ends at the exit even when the restart policy
// brings the container back, with that exit's code; rm without force refuses a restarting
// container.
TEST_F(LifecycleTest, AWaitEndsAtTheExitARestartPolicyFollowsAndRmRefusesTheRestartingContainer) {
  std::string id = run({{"RestartPolicy", {{"Name", "always"}}}});
  auto pending = core_->wait(id, "not-running", -1, 0ms);
  EXPECT_FALSE(pending.done);
  auto pendingNext = core_->wait(id, "next-exit", -1, 0ms);
  fake_.exitTask(id, 3);
  ASSERT_TRUE(waitForScheduledRestart(id));
  auto answered = core_->wait(id, "not-running", pending.exits, 3s);
  EXPECT_TRUE(answered.done);
  EXPECT_EQ(answered.statusCode, 3);
  // moby 23+'s words, as for running and paused (dockerd 20.10: "You cannot remove a restarting
  // container ID. Stop the container before attempting removal or force remove").
  EXPECT_EQ(refusal([&] { core_->remove(id, false, false, soon()); }),
            "cannot remove container \"" + record(id).name +
                "\": container is restarting: stop the container before removing or force remove");
  // The restart has happened by the time this waiter looks: still that exit's code.
  scheduler_.fireTimers();
  ASSERT_TRUE(waitForStatus(id, ContainerStatus::running));
  auto late = core_->wait(id, "next-exit", pendingNext.exits, 3s);
  EXPECT_TRUE(late.done);
  EXPECT_EQ(late.statusCode, 3);
}

}  // namespace
}  // namespace berth::bridge
