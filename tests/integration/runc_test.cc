// The OCI spec berth builds from a Docker configuration, run by the real runc on a busybox
// root filesystem extracted by berth's layer extractor: what the containerd-bridge will hand
// to containerd, checked without it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "services/containerd-bridge/oci_spec.h"
#include "services/images/layer_extractor.h"
#include "tests/support/process.h"
#include "tests/support/tar_builder.h"

namespace berth::test {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

class RuncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bundle_ = fs::canonical(dir_.path()).string() + "/bundle";
    fs::create_directories(bundle_ + "/rootfs");
    TarBuilder layer;
    layer.dir("bin").file("bin/busybox", readText("/bin/busybox"), 0755);
    for (const char* applet : {"sh", "echo", "id", "cat", "hostname", "ls", "touch"}) {
      layer.symlink(std::string("bin/") + applet, "busybox");
    }
    layer.dir("etc").file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n");
    layer.file("etc/group", "root:x:0:\napp:x:1000:\nvideo:x:44:app\n").dir("tmp", 01777).dir("proc").dir("sys").dir("dev");
    layer.write(dir_.path() + "/layer.tar");
    images::extractLayer(dir_.path() + "/layer.tar", bundle_ + "/rootfs", dir_.path() + "/copy.tar");
  }

  // Runs the container and returns (exit code, output).
  CommandResult runContainer(const json& config, const json& hostConfig) {
    auto spec = bridge::buildOciSpec({config, hostConfig, bundle_ + "/rootfs", "berthruntest", ""});
    std::ofstream(bundle_ + "/config.json") << spec.dump();
    std::string id = "berth-runc-test-" + std::to_string(getpid()) + "-" + std::to_string(++runs_);
    auto r = run({"runc", "--root", dir_.path() + "/runc-state", "run", "--bundle", bundle_, id}, {}, std::chrono::seconds(30));
    run({"runc", "--root", dir_.path() + "/runc-state", "delete", "-f", id});
    return r;
  }

  TempDir dir_{"berth-runc"};
  std::string bundle_;
  int runs_ = 0;
};

TEST_F(RuncTest, ADockerConfigRunsWithItsCommandUserEnvironmentAndExitCode) {
  auto r = runContainer({{"Cmd", {"sh", "-c", "id; echo $GREETING; hostname; pwd; exit 7"}},
                         {"User", "app"},
                         {"Env", {"GREETING=hello from berth"}},
                         {"WorkingDir", "/tmp"}},
                        {{"NetworkMode", "none"}});
  EXPECT_EQ(r.exitCode, 7) << r.err;
  // The primary group is a supplementary group too, as dockerd (20.10.18+) sets it; the kernel
  // keeps the list sorted.
  EXPECT_EQ(r.out, "uid=1000(app) gid=1000(app) groups=44(video),1000(app)\nhello from berth\nberthruntest\n/tmp\n")
      << r.err;
}

TEST_F(RuncTest, AReadOnlyRootfsAndDroppedCapabilitiesAreEnforced) {
  auto r = runContainer({{"Cmd", {"sh", "-c", "touch /tmp/x 2>/dev/null && echo writable || echo read-only"}}},
                        {{"ReadonlyRootfs", true}, {"NetworkMode", "none"}});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "read-only\n");
  // The capability bounding set, as the kernel reports it: empty with --cap-drop ALL, Docker's
  // default set otherwise.
  r = runContainer({{"Cmd", {"sh", "-c", "cat /proc/self/status"}}}, {{"CapDrop", {"ALL"}}, {"NetworkMode", "none"}});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("CapBnd:\t0000000000000000"), std::string::npos) << r.out;
  r = runContainer({{"Cmd", {"sh", "-c", "cat /proc/self/status"}}}, {{"NetworkMode", "none"}});
  EXPECT_NE(r.out.find("CapBnd:\t00000000a80425fb"), std::string::npos) << r.out;  // Docker's default set
}

TEST_F(RuncTest, TheDefaultSeccompProfileIsEnforcedAndUnconfinedLiftsIt) {
  auto r = runContainer({{"Cmd", {"sh", "-c", "grep Seccomp: /proc/self/status; echo a | cat; ls / > /dev/null && echo ran"}}},
                        {{"NetworkMode", "none"}});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "Seccomp:\t2\na\nran\n") << r.err;
  r = runContainer({{"Cmd", {"sh", "-c", "grep Seccomp: /proc/self/status"}}},
                   {{"NetworkMode", "none"}, {"SecurityOpt", {"seccomp=unconfined"}}});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, 11), "Seccomp:\t0\n") << r.out;
}

}  // namespace
}  // namespace berth::test
