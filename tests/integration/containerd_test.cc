// The containers data path without the API: the images service prepares a container's layer,
// berth builds the OCI spec, containerd (the engine's managed one) and runc run it, and
// berth-logger writes its output. This is what `docker run` will do through the bridge.
#include <absl/synchronization/mutex.h>
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ipc/methods.h"
#include "ipc/rpc_client.h"
#include "services/containerd-bridge/containerd_client.h"
#include "services/containerd-bridge/oci_spec.h"
#include "tests/support/cgroups.h"
#include "tests/support/engine.h"
#include "tests/support/test_images.h"

namespace berth::test {
namespace {

using namespace std::chrono_literals;

TEST(ContainerdPathTest, AContainerRunsOnItsImageLayerThroughContainerdAndLogsThroughBerthLogger) {
  Engine engine;
  TempDir work;
  ASSERT_EQ(engine.docker({"load", "-i", busyboxArchive(work.path(), "berth-test/run:1")}).exitCode, 0);
  zmq::context_t context;
  ipc::RpcClient images(context, "ipc://" + engine.execRoot() + "/ipc/images.sock");
  std::string id(64, 'e');
  auto prepared = images.call(ipc::methods::imagesPrepareRootfs(), ipc::deadlineIn(10s),
                              [&](ipc::Images::PrepareRootfsParams::Builder p) {
                                p.setContainer(id);
                                p.setImage("berth-test/run:1");
                              });
  std::vector<bridge::Mount> rootfs;
  for (auto m : prepared.get().getMounts()) {
    bridge::Mount mount{m.getType(), m.getSource(), {}};
    for (auto o : m.getOptions()) mount.options.emplace_back(o);
    rootfs.push_back(mount);
  }
  auto spec = bridge::buildOciSpec({{{"Cmd", {"sh", "-c", "echo from-containerd; echo to-stderr >&2; exit 4"}}},
                                    {{"NetworkMode", "none"}},
                                    work.path(),
                                    id.substr(0, 12),
                                    ""});
  std::string ns = "berth-containerd-test";
  bridge::ContainerdClient containerd(engine.execRoot() + "/containerd/containerd.sock", ns);
  std::string log = work.path() + "/container-json.log";
  // containerd mounts the layer itself here (the task's rootfs mounts), unlike the bridge, which
  // mounts it and names the directory in the spec.
  auto deadline = deadlineIn(30s);
  containerd.containers().create(id, spec.dump(), deadline);
  bridge::TaskStdio stdio;
  stdio.out = stdio.err = "binary://" + binDir() + "/berth-logger?--path=" + log;
  containerd.tasks().create(id, stdio, rootfs, deadline);
  uint32_t pid = containerd.tasks().start(id, "", deadline);
  EXPECT_GT(pid, 0u);
  EXPECT_EQ(containerd.tasks().wait(id, "", deadline).status, 4u);
  auto deleted = containerd.tasks().remove(id, deadline);
  ASSERT_TRUE(deleted.has_value());
  EXPECT_EQ(deleted->status, 4u);
  containerd.containers().remove(id, deadline);
  EXPECT_EQ(containerd.tasks().state(id, "", deadline).answer, bridge::TaskState::Answer::absent);
  images.call(ipc::methods::imagesReleaseRootfs(), ipc::deadlineIn(10s),
              [&](ipc::Images::ReleaseRootfsParams::Builder p) { p.setContainer(id); });

  std::map<std::string, std::string> byStream;
  std::istringstream in(readText(log));
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    byStream[j["stream"]] += j["log"].get<std::string>();
  }
  EXPECT_EQ(byStream["stdout"], "from-containerd\n");
  EXPECT_EQ(byStream["stderr"], "to-stderr\n");
  // Nothing is left mounted.
  EXPECT_EQ(readText("/proc/self/mountinfo").find(id), std::string::npos);
  removeNamespaceCgroups(ns);
}

// Debian builds Abseil without NDEBUG, so every absl::Mutex gRPC locks in the bridge ran Abseil's
// debug-only deadlock detector: a lock-order graph behind one global spin lock, a stack trace
// per node, memory it never gives back, and an abort of the whole bridge on any lock-order
// inversion it sees. A client turns it off. The first half shows this Abseil has it on: two
// mutexes taken in both orders by one thread abort the process.
void takeTwoMutexesInBothOrders() {
  absl::Mutex a;
  absl::Mutex b;
  {
    absl::MutexLock first(&a);
    absl::MutexLock second(&b);
  }
  {
    absl::MutexLock first(&b);
    absl::MutexLock second(&a);
  }
}

TEST(ContainerdClientTest, AbseilsDebugDeadlockDetectorIsOffOnceAClientExists) {
  // Each child re-runs the test binary up to its statement (the client's gRPC threads would not
  // survive a plain fork) and ends with _Exit: no destructor runs beside gRPC's threads.
  std::string style = GTEST_FLAG_GET(death_test_style);
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        takeTwoMutexesInBothOrders();
        std::_Exit(0);
      },
      testing::KilledBySignal(SIGABRT), "Potential Mutex deadlock");
  // A socket in a directory that does not exist: the channel never connects, and nothing is made.
  EXPECT_EXIT(
      {
        bridge::ContainerdClient containerd("/nonexistent-berth-detector-test/containerd.sock", "berth-detector-test");
        takeTwoMutexesInBothOrders();
        std::_Exit(0);
      },
      testing::ExitedWithCode(0), "");
  GTEST_FLAG_SET(death_test_style, style);
}

}  // namespace
}  // namespace berth::test
