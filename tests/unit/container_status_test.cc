// The container state machine, one case per row: each user operation against each status (go
// ahead, already done, or dockerd's refusal word for word), each lifecycle event from each
// status, and dockerd's State flags. Expected messages are dockerd's (observed on the reference
// engine, or moby's source where dockerd 20.10 and API 1.43 differ).
#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "common/errors.h"
#include "services/containerd-bridge/container_status.h"
#include "tests/unit/error_checks.h"

namespace berth::bridge {
namespace {

using S = ContainerStatus;
using O = Operation;

const Subject kSubject{"0123abcd", "/web", "web"};

// "" : proceeds; "304" : already done; anything else: the conflict message.
struct AdmissionRow {
  O op;
  S status;
  std::string expected;
};

std::string nameOf(O op) {
  switch (op) {
    case O::start: return "start";
    case O::stop: return "stop";
    case O::kill: return "kill";
    case O::pause: return "pause";
    case O::unpause: return "unpause";
    case O::remove: return "remove";
    case O::removeForce: return "removeForce";
    case O::exec: return "exec";
    case O::resize: return "resize";
    case O::top: return "top";
    case O::update: return "update";
    case O::copy: return "copy";
  }
  return "?";
}

void PrintTo(const AdmissionRow& row, std::ostream* os) {
  *os << nameOf(row.op) << " in " << statusName(row.status) << " -> \"" << row.expected << "\"";
}

const std::string kNotRunning = "Container 0123abcd is not running";
const std::string kRestarting = "Container 0123abcd is restarting, wait until the container is running";
const std::string kMarked = "container is marked for removal and cannot be started";
const std::string kInProgress = "removal of container web is already in progress";

std::vector<AdmissionRow> admissionTable() {
  std::vector<AdmissionRow> rows = {
      // start
      {O::start, S::created, ""},
      {O::start, S::running, "304"},
      {O::start, S::paused, "cannot start a paused container, try unpause instead"},
      {O::start, S::restarting, "304"},
      {O::start, S::removing, kMarked},
      {O::start, S::exited, ""},
      {O::start, S::dead, kMarked},
      // stop
      {O::stop, S::created, "304"},
      {O::stop, S::running, ""},
      {O::stop, S::paused, ""},
      {O::stop, S::restarting, ""},
      {O::stop, S::removing, "304"},
      {O::stop, S::exited, "304"},
      {O::stop, S::dead, "304"},
      // kill
      {O::kill, S::created, "Cannot kill container: web: " + kNotRunning},
      {O::kill, S::running, ""},
      {O::kill, S::paused, ""},
      {O::kill, S::restarting, ""},
      {O::kill, S::removing, "Cannot kill container: web: " + kNotRunning},
      {O::kill, S::exited, "Cannot kill container: web: " + kNotRunning},
      {O::kill, S::dead, "Cannot kill container: web: " + kNotRunning},
      // pause
      {O::pause, S::created, kNotRunning},
      {O::pause, S::running, ""},
      {O::pause, S::paused, "Container 0123abcd is already paused"},
      {O::pause, S::restarting, kRestarting},
      {O::pause, S::removing, kNotRunning},
      {O::pause, S::exited, kNotRunning},
      {O::pause, S::dead, kNotRunning},
      // unpause
      {O::unpause, S::created, "Container 0123abcd is not paused"},
      {O::unpause, S::running, "Container 0123abcd is not paused"},
      {O::unpause, S::paused, ""},
      {O::unpause, S::restarting, "Container 0123abcd is not paused"},
      {O::unpause, S::removing, "Container 0123abcd is not paused"},
      {O::unpause, S::exited, "Container 0123abcd is not paused"},
      {O::unpause, S::dead, "Container 0123abcd is not paused"},
      // remove
      {O::remove, S::created, ""},
      {O::remove, S::running,
       "cannot remove container \"/web\": container is running: stop the container before removing or force remove"},
      {O::remove, S::paused,
       "cannot remove container \"/web\": container is paused: stop the container before removing or force remove"},
      {O::remove, S::restarting,
       "cannot remove container \"/web\": container is restarting: stop the container before removing or force remove"},
      {O::remove, S::removing, kInProgress},
      {O::remove, S::exited, ""},
      {O::remove, S::dead, ""},
      // remove -f
      {O::removeForce, S::created, ""},
      {O::removeForce, S::running, ""},
      {O::removeForce, S::paused, ""},
      {O::removeForce, S::restarting, ""},
      {O::removeForce, S::removing, kInProgress},
      {O::removeForce, S::exited, ""},
      {O::removeForce, S::dead, ""},
      // exec (dockerd names a paused container as the client did)
      {O::exec, S::created, kNotRunning},
      {O::exec, S::running, ""},
      {O::exec, S::paused, "Container web is paused, unpause the container before exec"},
      {O::exec, S::restarting, kRestarting},
      {O::exec, S::removing, kNotRunning},
      {O::exec, S::exited, kNotRunning},
      {O::exec, S::dead, kNotRunning},
      // resize
      {O::resize, S::created, kNotRunning},
      {O::resize, S::running, ""},
      {O::resize, S::paused, ""},
      {O::resize, S::restarting, kNotRunning},
      {O::resize, S::removing, kNotRunning},
      {O::resize, S::exited, kNotRunning},
      {O::resize, S::dead, kNotRunning},
      // top
      {O::top, S::created, kNotRunning},
      {O::top, S::running, ""},
      {O::top, S::paused, ""},
      {O::top, S::restarting, kRestarting},
      {O::top, S::removing, kNotRunning},
      {O::top, S::exited, kNotRunning},
      {O::top, S::dead, kNotRunning},
      // update
      {O::update, S::created, ""},
      {O::update, S::running, ""},
      {O::update, S::paused, ""},
      {O::update, S::restarting, ""},
      {O::update, S::removing, "Container 0123abcd is marked for removal and cannot be \"update\""},
      {O::update, S::exited, ""},
      {O::update, S::dead, "Container 0123abcd is marked for removal and cannot be \"update\""},
      // docker cp
      {O::copy, S::created, ""},
      {O::copy, S::running, ""},
      {O::copy, S::paused, ""},
      {O::copy, S::restarting, ""},
      {O::copy, S::removing, "You cannot copy files of container 0123abcd while its removal is in progress"},
      {O::copy, S::exited, ""},
      {O::copy, S::dead, ""},
  };
  return rows;
}

class AdmissionTest : public ::testing::TestWithParam<AdmissionRow> {};

TEST_P(AdmissionTest, EachOperationInEachStatusProceedsIsAlreadyDoneOrGetsDockerdsRefusal) {
  const auto& row = GetParam();
  std::string got;
  try {
    got = admit(row.op, row.status, kSubject) == Verdict::alreadyDone ? "304" : "";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::conflict);
    got = e.what();
  }
  EXPECT_EQ(got, row.expected);
}

INSTANTIATE_TEST_SUITE_P(Rows, AdmissionTest, ::testing::ValuesIn(admissionTable()),
                         [](const ::testing::TestParamInfo<AdmissionRow>& info) {
                           return nameOf(info.param.op) + "_" + std::string(statusName(info.param.status));
                         });

TEST(AdmissionTableTest, CoversEveryOperationInEveryStatus) {
  EXPECT_EQ(admissionTable().size(), 12u * 7u);
}

struct TransitionRow {
  LifecycleEvent event;
  std::string name;
  // The next status from each of created, running, paused, restarting, removing, exited, dead
  // ("-": the event does not apply and must leave the container alone).
  std::vector<std::string> next;
};

std::vector<TransitionRow> transitionTable() {
  using E = LifecycleEvent;
  return {
      {E::taskStarted, "taskStarted", {"running", "-", "-", "running", "-", "running", "-"}},
      {E::startFailed, "startFailed", {"created", "-", "-", "created", "-", "created", "-"}},
      {E::paused, "paused", {"-", "paused", "-", "-", "-", "-", "-"}},
      {E::unpaused, "unpaused", {"-", "-", "running", "-", "-", "-", "-"}},
      {E::exited, "exited", {"-", "exited", "exited", "-", "-", "-", "-"}},
      {E::exitedToRestart, "exitedToRestart", {"-", "restarting", "restarting", "-", "-", "-", "-"}},
      {E::restartAbandoned, "restartAbandoned", {"-", "-", "-", "exited", "-", "-", "-"}},
      {E::removalBegun, "removalBegun", {"removing", "-", "-", "removing", "-", "removing", "removing"}},
      {E::removalFailed, "removalFailed", {"-", "-", "-", "-", "dead", "-", "-"}},
      {E::removalInterrupted, "removalInterrupted", {"-", "-", "-", "-", "dead", "-", "-"}},
      {E::reattachedRunning, "reattachedRunning", {"-", "running", "running", "-", "-", "-", "-"}},
      {E::reattachedPaused, "reattachedPaused", {"-", "paused", "paused", "-", "-", "-", "-"}},
  };
}

void PrintTo(const TransitionRow& row, std::ostream* os) { *os << row.name; }

class TransitionTest : public ::testing::TestWithParam<TransitionRow> {};

TEST_P(TransitionTest, EachEventLeadsFromEachStatusToItsNextOrLeavesItAlone) {
  const auto& row = GetParam();
  const S from[] = {S::created, S::running, S::paused, S::restarting, S::removing, S::exited, S::dead};
  ASSERT_EQ(row.next.size(), 7u);
  for (size_t i = 0; i < 7; ++i) {
    auto to = next(from[i], row.event);
    EXPECT_EQ(to ? std::string(statusName(*to)) : "-", row.next[i]) << row.name << " from " << statusName(from[i]);
  }
}

INSTANTIATE_TEST_SUITE_P(Rows, TransitionTest, ::testing::ValuesIn(transitionTable()),
                         [](const ::testing::TestParamInfo<TransitionRow>& info) { return info.param.name; });

TEST(TransitionTableTest, AFailedStartLeavesAContainerThatRanBeforeExitedNotCreated) {
  EXPECT_EQ(next(S::exited, LifecycleEvent::startFailed, true), S::exited);
  EXPECT_EQ(next(S::restarting, LifecycleEvent::startFailed, true), S::exited);
  EXPECT_EQ(next(S::created, LifecycleEvent::startFailed, false), S::created);
}

TEST(StateFlagsTest, RunningIsTrueWhileRunningPausedOrRestartingAsInDockerd) {
  struct Row {
    S status;
    bool running, paused, restarting, dead;
  };
  for (const auto& r : std::vector<Row>{{S::created, false, false, false, false},
                                        {S::running, true, false, false, false},
                                        {S::paused, true, true, false, false},
                                        {S::restarting, true, false, true, false},
                                        {S::removing, false, false, false, false},
                                        {S::exited, false, false, false, false},
                                        {S::dead, false, false, false, true}}) {
    auto f = flagsOf(r.status);
    EXPECT_EQ(f.running, r.running) << statusName(r.status);
    EXPECT_EQ(f.paused, r.paused) << statusName(r.status);
    EXPECT_EQ(f.restarting, r.restarting) << statusName(r.status);
    EXPECT_EQ(f.dead, r.dead) << statusName(r.status);
  }
}

TEST(StatusNamesTest, EveryStatusRoundTripsThroughItsNameAndOtherWordsAreRefused) {
  for (S s : {S::created, S::running, S::paused, S::restarting, S::removing, S::exited, S::dead}) {
    EXPECT_EQ(parseStatus(statusName(s)), s);
  }
  EXPECT_EQ(test::thrownMessage([] { parseStatus("sleeping"); }), "unknown container status \"sleeping\"");
}

}  // namespace
}  // namespace berth::bridge
