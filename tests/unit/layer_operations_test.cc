// docker diff, export, commit and sizes as the bridge orchestrates them (layer_operations.h):
// the container resolved and held, paused for a commit, and the images service asked, here
// through a fake that records what it was asked and whether the container's lock was held.
#include <gtest/gtest.h>

#include <functional>
#include <future>
#include <set>

#include "common/errors.h"
#include "services/containerd-bridge/layer_operations.h"
#include "tests/support/process.h"

namespace berth::bridge {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

class FakeContainerLayers final : public ContainerLayers {
 public:
  explicit FakeContainerLayers(OperationLocks& locks) : locks_(locks) {}

  std::vector<Change> changes(const std::string& container, Deadline) override {
    record("changes", container);
    return {{1, "/made"}};
  }
  Download exportBegin(const std::string& container, Deadline) override {
    record("export", container);
    return {"download-1", 42};
  }
  std::string commit(const std::string& container, const Commit& commit, Deadline) override {
    record("commit", container);
    committed = commit;
    if (failCommit) throw Error(ErrorKind::invalid, "RUN is not a valid change command");
    return "sha256:new";
  }
  std::map<std::string, Size> sizes(const std::vector<std::string>& containers, Deadline) override {
    ++sizeCalls;
    std::map<std::string, Size> out;
    for (const auto& c : containers) {
      if (withLayer.count(c)) out[c] = {100, 5100};
    }
    return out;
  }

  std::vector<std::string> calls;  // "commit locked", "export locked", ...
  Commit committed;
  bool failCommit = false;
  int sizeCalls = 0;
  std::set<std::string> withLayer;

 private:
  void record(const std::string& what, const std::string& container) {
    auto lock = locks_.of(container);
    bool held = !lock->try_lock();
    if (!held) lock->unlock();
    calls.push_back(what + (held ? " locked" : " unlocked"));
  }
  OperationLocks& locks_;
};

class LayerOperationsTest : public ::testing::Test {
 protected:
  LayerOperationsTest() {
    auto r = store_.reserve("web");
    r.image = "sha256:" + std::string(64, 'a');
    r.config = {{"Cmd", {"sh"}}, {"Env", {"PATH=/bin"}}, {"Hostname", "abc"}, {"Tty", true}, {"Image", "busybox"}};
    store_.add(r);
    id_ = r.id;
  }

  LayerOperations::Pausing pausing() {
    return {[this](const std::string& id, Deadline) {
              if (refusePause_) throw Error(ErrorKind::conflict, "Container " + id + " is not running");
              layers_.calls.push_back("pause");
            },
            [this](const std::string&, Deadline d) {
              unpauseDeadline_ = d;
              layers_.calls.push_back("unpause");
            }};
  }

  LayerOperations::CommitRequest commitRequest(bool pause = true) {
    LayerOperations::CommitRequest request;
    request.changes = {"ENV A=b"};
    request.reference = "app:committed";
    request.pause = pause;
    return request;
  }

  test::TempDir dir_{"berth-layer-ops"};
  ContainerStore store_{dir_.path() + "/containers"};
  OperationLocks locks_;
  FakeContainerLayers layers_{locks_};
  bool refusePause_ = false;
  Deadline unpauseDeadline_{};
  LayerOperations ops_{store_, &layers_, locks_, pausing()};
  std::string id_;
};

TEST_F(LayerOperationsTest, ACommitPausesTheContainerAndUnpausesItOnceTheImageIsWrittenUnderItsLock) {
  EXPECT_EQ(ops_.commit("web", commitRequest(), deadlineIn(5s)), "sha256:new");
  // The lifecycle's pause and unpause take the lock themselves: it is free when they run.
  EXPECT_EQ(layers_.calls, (std::vector<std::string>{"pause", "commit locked", "unpause"}));
  EXPECT_EQ(layers_.committed.reference, "app:committed");
  EXPECT_EQ(layers_.committed.changes, std::vector<std::string>{"ENV A=b"});
}

TEST_F(LayerOperationsTest, ACommitWithoutPauseLeavesTheContainerRunning) {
  ops_.commit(id_.substr(0, 12), commitRequest(false), deadlineIn(5s));
  EXPECT_EQ(layers_.calls, std::vector<std::string>{"commit locked"});
}

TEST_F(LayerOperationsTest, AContainerThatCannotBePausedIsCommittedAsItIsAndNotUnpaused) {
  refusePause_ = true;  // stopped, restarting or paused already: dockerd ignores the error too
  ops_.commit("web", commitRequest(), deadlineIn(5s));
  EXPECT_EQ(layers_.calls, std::vector<std::string>{"commit locked"});
}

TEST_F(LayerOperationsTest, AFailedCommitStillUnpausesTheContainerAndReportsTheImagesServicesError) {
  layers_.failCommit = true;
  try {
    ops_.commit("web", commitRequest(), deadlineIn(5s));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::invalid);
    EXPECT_STREQ(e.what(), "RUN is not a valid change command");
  }
  EXPECT_EQ(layers_.calls, (std::vector<std::string>{"pause", "commit locked", "unpause"}));
}

TEST_F(LayerOperationsTest, TheUnpauseGetsTimeOfItsOwnWhenTheCommitSpentTheCallersDeadline) {
  ops_.commit("web", commitRequest(), SteadyClock::now() - 1s);
  ASSERT_EQ(layers_.calls.back(), "unpause");
  EXPECT_GT(unpauseDeadline_, deadlineIn(9s)) << "a container is never left frozen because its client gave up";
}

TEST_F(LayerOperationsTest, TheNewConfigIsTheContainersWithTheBodysFieldsOverItLessWhatBelongsToTheContainer) {
  auto request = commitRequest();
  request.body = R"({"Cmd": ["echo", "hi"], "Env": null, "User": "nobody"})";
  ops_.commit("web", request, deadlineIn(5s));
  const json& config = layers_.committed.config;
  EXPECT_EQ(config["Cmd"], json({"echo", "hi"}));
  EXPECT_EQ(config["Env"], json({"PATH=/bin"})) << "a null field keeps the container's value";
  EXPECT_EQ(config["User"], "nobody");
  EXPECT_EQ(config["Labels"], json::object()) << "as inspect shows the container's Config";
  for (const char* dropped : {"Hostname", "Tty", "Image", "AttachStdin", "OpenStdin", "StdinOnce"}) {
    EXPECT_FALSE(config.contains(dropped)) << dropped;
  }

  request.body = "null";
  ops_.commit("web", request, deadlineIn(5s));
  EXPECT_EQ(layers_.committed.config["Cmd"], json({"sh"}));
}

TEST_F(LayerOperationsTest, ABodyThatIsNotAConfigIsRefusedBeforeTheContainerIsPaused) {
  for (const char* body : {"[1, 2]", "{not json", "\"text\""}) {
    auto request = commitRequest();
    request.body = body;
    try {
      ops_.commit("web", request, deadlineIn(5s));
      FAIL() << body;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::invalid) << body;
      EXPECT_STREQ(e.what(), "invalid JSON in the request body");
    }
  }
  EXPECT_TRUE(layers_.calls.empty());
}

TEST_F(LayerOperationsTest, DiffAndExportHoldTheContainersLockWhileTheImagesServiceReadsTheLayer) {
  auto changes = ops_.changes("web", deadlineIn(5s));
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].path, "/made");
  auto download = ops_.exportBegin("web", deadlineIn(5s));
  EXPECT_EQ(download.id, "download-1");
  EXPECT_EQ(download.size, 42u);
  EXPECT_EQ(layers_.calls, (std::vector<std::string>{"changes locked", "export locked"}));
  EXPECT_TRUE(locks_.of(id_)->try_lock()) << "and let go of it after";
  locks_.of(id_)->unlock();
}

TEST_F(LayerOperationsTest, AnUnknownContainerIsNotFoundAndTheImagesServiceIsNeverAsked) {
  auto expectNotFound = [](const std::function<void()>& call) {
    try {
      call();
      FAIL();
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::notFound);
      EXPECT_STREQ(e.what(), "No such container: nope");
    }
  };
  expectNotFound([&] { ops_.changes("nope", deadlineIn(5s)); });
  expectNotFound([&] { ops_.exportBegin("nope", deadlineIn(5s)); });
  expectNotFound([&] { ops_.commit("nope", commitRequest(), deadlineIn(5s)); });
  EXPECT_TRUE(layers_.calls.empty());
}

TEST_F(LayerOperationsTest, ARemovalThatHeldTheLockFirstLeavesNothingToReadOrCommit) {
  auto lock = locks_.of(id_);
  lock->lock();  // a docker rm in progress
  auto commit = std::async(std::launch::async, [&] { ops_.commit("web", commitRequest(false), deadlineIn(5s)); });
  auto diff = std::async(std::launch::async, [&] { ops_.changes("web", deadlineIn(5s)); });
  EXPECT_EQ(commit.wait_for(100ms), std::future_status::timeout) << "the commit waits for the removal";
  store_.remove(id_);
  lock->unlock();
  for (auto* f : {&commit, &diff}) {
    try {
      f->get();
      FAIL();
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::notFound);
    }
  }
  EXPECT_TRUE(layers_.calls.empty());
}

TEST_F(LayerOperationsTest, SizesForAWholeListComeFromOneCallAndAContainerWithoutALayerGetsNone) {
  layers_.withLayer = {id_, "b"};
  json containers = json::array({{{"Id", id_}}, {{"Id", "b"}}, {{"Id", "c"}}});
  ops_.addSizes(containers, deadlineIn(5s));
  EXPECT_EQ(layers_.sizeCalls, 1);
  EXPECT_EQ(containers[0]["SizeRw"], 100);
  EXPECT_EQ(containers[0]["SizeRootFs"], 5100);
  EXPECT_EQ(containers[1]["SizeRw"], 100);
  EXPECT_FALSE(containers[2].contains("SizeRw"));
  EXPECT_FALSE(containers[2].contains("SizeRootFs"));

  json none = json::array();
  ops_.addSizes(none, deadlineIn(5s));
  EXPECT_EQ(layers_.sizeCalls, 1) << "no call for an empty list";
  EXPECT_TRUE(layers_.calls.empty()) << "sizes take no lock and read nothing else";
}

}  // namespace
}  // namespace berth::bridge
