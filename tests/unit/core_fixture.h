// The containers core over its fakes (fake_containerd.h), as the unit tests of the core drive
// it: a store on disk, fake containerd, images, volumes, host and scheduler, and the steps a
// test takes (create, run, crash and restart the bridge).
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/errors.h"
#include "services/containerd-bridge/containers_core.h"
#include "tests/support/process.h"
#include "tests/unit/fake_containerd.h"

namespace berth::bridge {

using namespace std::chrono_literals;
using json = nlohmann::json;

inline const std::string kImage = "busybox:1";
inline const std::string kImageId = "sha256:" + std::string(64, 'b');

inline Deadline soon() { return deadlineIn(5s); }

class CoreFixture : public ::testing::Test {
 protected:
  CoreFixture() {
    images_.add(kImage, kImageId, {{"config", {{"Cmd", {"sh"}}, {"Env", {"PATH=/bin"}}}}});
    openCore();
  }
  ~CoreFixture() override {
    core_->stopBackgroundWork();
    fake_.shutdown();
    scheduler_.joinAll();
  }

  // A bridge: the core over the store on disk (a new one after crashBridge()).
  void openCore() {
    ServicePaths paths;
    paths.runDir = dir_.path() + "/run";
    paths.loggerBinary = "/nonexistent/berth-logger";
    paths.containerdSocket = containerdSocket_;  // set: the bridge sweeps for stray shims naming it
    store_ = std::make_unique<ContainerStore>(dir_.path() + "/containers");
    core_ = std::make_unique<ContainersCore>(ContainersCore::Edges{
        *store_, fake_.tasks(), fake_.containers(), images_, host_, scheduler_,
        [this](const std::string& action, const ContainerRecord& r, std::map<std::string, std::string> extra) {
          if (action == "die") std::this_thread::sleep_for(dieEventDelay_.load());
          std::lock_guard lock(eventsMutex_);
          std::string line = action;
          if (extra.count("exitCode")) line += " " + extra["exitCode"];
          if (extra.count("signal")) line += " " + extra["signal"];
          events_.push_back(line);
          (void)r;
        },
        paths, nullptr, &volumes_, &network_, exitCheckInterval_});
  }

  // kill -9 of the bridge: its threads stop where they are; containerd and the records stay.
  void crashBridge() {
    core_->stopBackgroundWork();
    fake_.down(true);  // ends the monitors' waits
    scheduler_.joinAll();
    scheduler_.dropTimers();
    fake_.down(false);
    core_.reset();
    store_.reset();
  }
  void restartBridge() {
    crashBridge();
    openCore();
    core_->restore();
  }

  std::string create(json hostConfig = json::object(), json config = json::object()) {
    json body = config;
    body["Image"] = kImage;
    if (!body.contains("Cmd")) body["Cmd"] = {"sleep", "1000"};
    body["HostConfig"] = hostConfig;
    return core_->create("", body, soon()).id;
  }
  std::string run(json hostConfig = json::object()) {
    std::string id = create(hostConfig);
    EXPECT_TRUE(core_->start(id, soon()));
    return id;
  }
  ContainerRecord record(const std::string& id) { return store_->get(id); }
  ContainerStatus status(const std::string& id) { return store_->get(id).state.status; }
  bool waitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout = 3s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(1ms);
    }
    return true;
  }
  bool waitForStatus(const std::string& id, ContainerStatus s) {
    return waitUntil([&] {
      try {
        return status(id) == s;
      } catch (const Error&) {
        return false;
      }
    });
  }
  // The exit handler records restarting before it schedules the restart: a test that fires the
  // timer waits for both.
  bool waitForScheduledRestart(const std::string& id) {
    return waitForStatus(id, ContainerStatus::restarting) &&
           waitUntil([&] { return scheduler_.pendingTimers() > 0; });
  }
  std::vector<std::string> events() {
    std::lock_guard lock(eventsMutex_);
    return events_;
  }
  std::string refusal(const std::function<void()>& op) {
    try {
      op();
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }

  test::TempDir dir_{"berth-lifecycle"};
  testing::FakeContainerd fake_;
  testing::FakeImageLayers images_;
  testing::FakeVolumes volumes_;
  testing::FakeNetwork network_;
  testing::FakeHostOps host_;
  testing::ManualScheduler scheduler_;
  // The next openCore()'s check interval for exits the events missed.
  std::chrono::milliseconds exitCheckInterval_{std::chrono::seconds(30)};
  std::string containerdSocket_;
  std::unique_ptr<ContainerStore> store_;
  std::unique_ptr<ContainersCore> core_;
  std::mutex eventsMutex_;
  std::vector<std::string> events_;
  // How long saying "die" takes (a publisher held up): what comes after it must wait.
  std::atomic<std::chrono::milliseconds> dieEventDelay_{std::chrono::milliseconds(0)};
};

}  // namespace berth::bridge
