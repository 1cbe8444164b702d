// Containers using volumes through the real docker CLI: named and anonymous volumes, the
// image's content copied into an empty volume at create, --volumes-from, rm -v and --rm, the
// in-use refusal, a device volume's mount for the run, and kill -9 of the volumes service and of
// the bridge while containers use volumes.
//
// Expected texts and documents are dockerd 20.10's, observed on the reference engine.
#include <nlohmann/json.hpp>

#include "tests/integration/container_fixture.h"

namespace berth::test {
namespace {

using json = nlohmann::json;

class VolumeMountsTest : public ContainersTest {
 protected:
  void TearDown() override {
    ContainersTest::TearDown();
    for (const auto& name : lines(engine_.docker({"volume", "ls", "-q"}).out)) engine_.docker({"volume", "rm", name});
  }

  std::string dataOf(const std::string& volume) const { return engine_.dataRoot() + "/volumes/" + volume + "/_data"; }

  // The volume names `docker volume ls -q` prints, failing the test when the CLI fails.
  std::vector<std::string> volumeNames() {
    auto r = engine_.docker({"volume", "ls", "-q"});
    EXPECT_EQ(r.exitCode, 0) << r.err;
    return lines(r.out);
  }

  // An image with content in /seed, declared a VOLUME (as a Dockerfile's VOLUME would).
  std::string seededImage() {
    const std::string image = "berth-test/seeded:1";
    auto r = engine_.docker({"run", "--pull", "never", "--name", "seedmaker", kImage, "sh", "-c",
                             "mkdir -p /seed/sub && echo seeded > /seed/f && echo deep > /seed/sub/g"});
    EXPECT_EQ(r.exitCode, 0) << r.err;
    r = engine_.docker({"commit", "--change", "VOLUME /seed", "seedmaker", image});
    EXPECT_EQ(r.exitCode, 0) << r.err;
    engine_.docker({"rm", "seedmaker"});
    return image;
  }
};

TEST_F(VolumeMountsTest, AnEmptyVolumeTakesTheImagesContentAtCreateAndKeepsItsDataAcrossContainers) {
  std::string image = seededImage();

  // Created, never started: the named volume already holds the image's /seed (dockerd copies at
  // create), and inspect shows it as dockerd does.
  auto r = engine_.docker({"create", "--pull", "never", "--name", "c1", "-v", "named:/seed", image, "cat", "/seed/f"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(readText(dataOf("named") + "/f"), "seeded\n");
  EXPECT_EQ(readText(dataOf("named") + "/sub/g"), "deep\n");
  EXPECT_EQ(inspect(engine_, "c1", "{{json .Mounts}}"),
            "[{\"Type\":\"volume\",\"Name\":\"named\",\"Source\":\"" + dataOf("named") +
                "\",\"Destination\":\"/seed\",\"Driver\":\"local\",\"Mode\":\"z\",\"RW\":true,\"Propagation\":\"\"}]");

  // What one container writes, the next one reads; content already there is never replaced.
  r = engine_.docker({"run", "--rm", "--pull", "never", "-v", "named:/seed", kImage, "sh", "-c", "echo more >> /seed/f"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  r = engine_.docker({"start", "-a", "c1"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "seeded\nmore\n");
  r = engine_.docker({"run", "--rm", "--pull", "never", "-v", "named:/seed", image, "cat", "/seed/f"});
  EXPECT_EQ(r.out, "seeded\nmore\n") << r.err;

  // The image's VOLUME without -v: an anonymous volume with the image's content, which --rm
  // removes with the container (dockerd removes a --rm container's anonymous volumes).
  auto before = volumeNames();
  ASSERT_EQ(before, std::vector<std::string>{"named"});
  r = engine_.docker({"run", "--rm", "--pull", "never", image, "sh", "-c", "cat /seed/sub/g; ls /seed"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "deep\nf\nsub\n");
  EXPECT_EQ(volumeNames(), before);

  // volume-nocopy: the new volume stays empty.
  r = engine_.docker({"run", "--rm", "--pull", "never", "--mount", "type=volume,src=bare,dst=/seed,volume-nocopy", image,
                      "ls", "-A", "/seed"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "");

  // Read-only: the container cannot write, the data stays.
  r = engine_.docker({"run", "--rm", "--pull", "never", "-v", "named:/seed:ro", kImage, "sh", "-c", "echo x > /seed/f"});
  EXPECT_NE(r.exitCode, 0);
  EXPECT_TRUE(contains(r.err, "Read-only file system")) << r.err;
  EXPECT_EQ(readText(dataOf("named") + "/f"), "seeded\nmore\n");
}

TEST_F(VolumeMountsTest, VolumesFromSharesTheVolumesAndRmDashVRemovesOnlyAnonymousOnesNotInUse) {
  std::string holder = runDetached({"--name", "holder", "-v", "/anon", "-v", "keep:/keep", kImage, "sleep", "300"});
  ASSERT_FALSE(holder.empty());
  auto mounts = json::parse(inspect(engine_, "holder", "{{json .Mounts}}"));
  ASSERT_EQ(mounts.size(), 2u) << mounts.dump();
  std::string anon;
  for (const auto& m : mounts) {
    if (m["Destination"] == "/anon") anon = m["Name"];
  }
  ASSERT_EQ(anon.size(), 64u) << mounts.dump();
  for (const auto& m : mounts) {
    EXPECT_EQ(m["Mode"], m["Destination"] == "/anon" ? "" : "z") << m.dump();  // dockerd: "" for -v /anon
  }

  // --volumes-from: the same volumes at the same places, both ways.
  auto r = engine_.docker({"run", "--rm", "--pull", "never", "--volumes-from", "holder", kImage, "sh", "-c",
                           "echo from-friend > /anon/x && echo kept > /keep/k"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(engine_.output({"exec", "holder", "cat", "/anon/x", "/keep/k"}), "from-friend\nkept\n");
  r = engine_.docker({"run", "--rm", "--pull", "never", "--volumes-from", "holder:ro", kImage, "sh", "-c",
                      "cat /keep/k; echo no > /keep/k"});
  EXPECT_NE(r.exitCode, 0);
  EXPECT_EQ(r.out, "kept\n");
  EXPECT_TRUE(contains(r.err, "Read-only file system")) << r.err;

  // ps --filter volume= matches a volume's name or its destination.
  for (const std::string& filter : std::vector<std::string>{"volume=keep", "volume=/keep", "volume=" + anon}) {
    r = engine_.docker({"ps", "-a", "--no-trunc", "-q", "--filter", filter});
    ASSERT_EQ(r.exitCode, 0) << r.err;
    EXPECT_EQ(r.out, holder + "\n") << filter;
  }
  r = engine_.docker({"ps", "-a", "-q", "--filter", "volume=other"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "");

  // A volume a container uses cannot be removed, not even with -f (dockerd's 409).
  for (const auto& force : {false, true}) {
    std::vector<std::string> argv = {"volume", "rm"};
    if (force) argv.push_back("-f");
    argv.push_back("keep");
    r = engine_.docker(argv);
    EXPECT_EQ(r.exitCode, 1);
    EXPECT_EQ(r.err, "Error response from daemon: remove keep: volume is in use - [" + holder + "]\n");
  }
  EXPECT_EQ(readText(dataOf("keep") + "/k"), "kept\n");

  // A stopped container still holds its volumes.
  ASSERT_EQ(engine_.docker({"stop", "-t", "0", "holder"}).exitCode, 0);
  r = engine_.docker({"volume", "rm", anon});
  EXPECT_EQ(r.err, "Error response from daemon: remove " + anon + ": volume is in use - [" + holder + "]\n");

  // rm -v: the anonymous volume goes, the named one stays and is free.
  r = engine_.docker({"rm", "-v", "holder"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(volumeNames(), std::vector<std::string>{"keep"});
  EXPECT_FALSE(fs::exists(engine_.dataRoot() + "/volumes/" + anon));
  r = engine_.docker({"volume", "rm", "keep"});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(volumeNames(), std::vector<std::string>{});
}

TEST_F(VolumeMountsTest, MountPointsAreCheckedAtCreateWithDockerdsMessages) {
  auto refused = [&](const std::vector<std::string>& flags) {
    std::vector<std::string> argv = {"create", "--pull", "never"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.insert(argv.end(), {kImage, "true"});
    auto r = engine_.docker(argv);
    EXPECT_EQ(r.exitCode, 1) << r.out;
    return r.err;
  };
  EXPECT_EQ(refused({"-v", "v1:relative"}),
            "Error response from daemon: invalid volume specification: 'v1:relative': invalid mount config for type "
            "\"volume\": invalid mount path: 'relative' mount path must be absolute\n");
  EXPECT_EQ(refused({"-v", "v2:/d", "-v", "v3:/d"}), "Error response from daemon: Duplicate mount point: /d\n");
  EXPECT_EQ(refused({"-v", "relative/path:/d"}),
            "Error response from daemon: create relative/path: \"relative/path\" includes invalid characters for a "
            "local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host "
            "directory, use absolute path\n");
  auto r = engine_.docker({"ps", "-aq"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST_F(VolumeMountsTest, ADeviceVolumeIsMountedForTheRunAndAFailedMountFailsTheStartWithDockerdsMessage) {
  ASSERT_EQ(engine_.docker({"volume", "create", "--opt", "type=tmpfs", "--opt", "device=tmpfs", "--opt", "o=size=2m",
                            "tv"})
                .exitCode,
            0);
  auto since = std::to_string(unixNow() - 1);
  auto r = engine_.docker({"run", "--pull", "never", "--name", "tmpuser", "-v", "tv:/t", kImage, "sh", "-c",
                           "grep ' /t ' /proc/mounts | cut -d' ' -f3; echo a > /t/a; cat /t/a"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "tmpfs\na\n");
  std::string id = inspect(engine_, "tmpuser", "{{.Id}}");
  ASSERT_EQ(engine_.docker({"rm", "tmpuser"}).exitCode, 0);
  // The volume's mount and unmount events with dockerd's attributes.
  r = engine_.docker({"events", "--since", since, "--until", std::to_string(unixNow() + 1), "--filter", "type=volume",
                      "--filter", "volume=tv", "--filter", "event=mount", "--filter", "event=unmount", "--format", "{{.Action}} {{json .Actor.Attributes}}"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "mount {\"container\":\"" + id +
                       "\",\"destination\":\"/t\",\"driver\":\"local\",\"propagation\":\"\",\"read/write\":\"true\"}\n"
                       "unmount {\"container\":\"" + id + "\",\"driver\":\"local\"}\n");
  // The last user gone, the tmpfs is unmounted and its data with it, as with dockerd.
  EXPECT_FALSE(fs::exists(dataOf("tv") + "/a"));

  ASSERT_EQ(engine_.docker({"volume", "create", "--opt", "type=tmpfs", "--opt", "device=tmpfs", "--opt", "o=bogus=1",
                            "badtmp"})
                .exitCode,
            0);
  r = engine_.docker({"run", "--pull", "never", "--name", "bad", "-v", "badtmp:/t", kImage, "true"});
  EXPECT_EQ(r.exitCode, 125);
  std::string message = "error while mounting volume '" + dataOf("badtmp") +
                        "': failed to mount local volume: mount tmpfs:" + dataOf("badtmp") +
                        ", data: bogus=1: invalid argument";
  EXPECT_TRUE(startsWith(r.err, "docker: Error response from daemon: " + message + "\n")) << r.err;
  EXPECT_EQ(inspect(engine_, "bad", "{{.State.Status}} {{.State.ExitCode}} {{.State.Error}}"), "created 128 " + message);
}

TEST_F(VolumeMountsTest, CpReachesIntoVolumesOfCreatedAndRunningContainers) {
  writeText(work_.path() + "/in", "copied in\n");
  // Created, never started: the copy lands in the volume, not in the container's layer.
  auto r = engine_.docker({"create", "--pull", "never", "--name", "cpc", "-v", "cpvol:/vol", kImage, "sleep", "300"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  r = engine_.docker({"cp", work_.path() + "/in", "cpc:/vol/in"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(readText(dataOf("cpvol") + "/in"), "copied in\n");
  ASSERT_EQ(engine_.docker({"start", "cpc"}).exitCode, 0);
  ASSERT_EQ(engine_.docker({"exec", "cpc", "sh", "-c", "echo written inside > /vol/out"}).exitCode, 0);
  r = engine_.docker({"cp", "cpc:/vol/out", work_.path() + "/out"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(readText(work_.path() + "/out"), "written inside\n");
  r = engine_.docker({"diff", "cpc"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_FALSE(contains(r.out, "/vol/")) << "the volume's files are not the container's layer: " << r.out;
}

TEST_F(VolumeMountsTest, SystemPruneWithVolumesRemovesStoppedContainersAndUnusedAnonymousVolumes) {
  ASSERT_EQ(engine_.docker({"volume", "create", "kept"}).exitCode, 0);
  std::string stopped = trimNewline(engine_.output({"create", "--pull", "never", "-v", "/anon", kImage, "true"}));
  ASSERT_EQ(stopped.size(), 64u);
  std::string running = runDetached({"-v", "busy:/b", kImage, "sleep", "300"});
  ASSERT_FALSE(running.empty());
  std::string anon = json::parse(inspect(engine_, stopped, "{{json .Mounts}}"))[0]["Name"];
  auto r = engine_.docker({"system", "prune", "--volumes", "-f"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "Deleted Containers:\n" + stopped + "\n")) << r.out;
  EXPECT_TRUE(contains(r.out, "Deleted Volumes:\n" + anon + "\n")) << r.out;
  EXPECT_TRUE(contains(r.out, "Total reclaimed space:")) << r.out;
  // API >= 1.42: named volumes stay unless asked for; one in use always stays.
  auto names = volumeNames();
  EXPECT_EQ(names, (std::vector<std::string>{"busy", "kept"}));
  r = engine_.docker({"ps", "-q", "--no-trunc"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, running + "\n");
  // The parts berth has nothing of (build cache, user networks) answer as dockerd's do.
  r = engine_.docker({"builder", "prune", "-f", "--filter", "mutable=true"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_TRUE(contains(r.err, "failed to prune build cache: invalid filter 'mutable'")) << r.err;
  r = engine_.docker({"network", "prune", "-f", "--filter", "dangling=true"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_TRUE(contains(r.err, "invalid filter 'dangling'")) << r.err;
}

TEST_F(VolumeMountsTest, KillingAnyOfTheSixProcessesLosesNoReferenceAndNoWrite) {
  std::string writer = runDetached({"--name", "writer", "-v", "data:/d", kImage, "sh", "-c",
                                    "i=0; while true; do i=$((i+1)); echo $i >> /d/log; sleep 0.05; done"});
  ASSERT_FALSE(writer.empty());
  auto lineCount = [&] { return lines(readText(dataOf("data") + "/log")).size(); };
  ASSERT_TRUE(waitFor([&] { return lineCount() >= 3; }, 10s));
  pid_t pid = pidOf(engine_, writer);
  ASSERT_GT(pid, 1);

  for (const std::string service : {"volumes", "containerd-bridge", "images", "network", "api", "containerd"}) {
    ASSERT_NO_THROW(engine_.killAndAwaitRestart(service)) << service;
    // The same process, still answering exec.
    EXPECT_EQ(pidOf(engine_, writer), pid) << service;
    EXPECT_EQ(engine_.output({"exec", "writer", "echo", "alive"}), "alive\n") << service;
    // The container kept writing through the kill, and still holds its volume.
    size_t seen = lineCount();
    EXPECT_TRUE(waitFor([&] { return lineCount() > seen + 3; }, 10s)) << "the writer stopped after " << service;
    EXPECT_EQ(inspect(engine_, "writer", "{{.State.Status}}"), "running");
    auto r = engine_.docker({"volume", "rm", "data"});
    EXPECT_EQ(r.exitCode, 1);
    EXPECT_EQ(r.err, "Error response from daemon: remove data: volume is in use - [" + writer + "]\n") << service;
    // ls and inspect are right, and a new container mounts the same volume beside the writer.
    r = engine_.docker({"volume", "ls", "-q"});
    ASSERT_EQ(r.exitCode, 0) << r.err;
    EXPECT_EQ(r.out, "data\n");
    EXPECT_EQ(engine_.output({"volume", "inspect", "--format", "{{.Name}} {{.Mountpoint}}", "data"}),
              "data " + dataOf("data") + "\n");
    r = engine_.docker({"run", "--rm", "--pull", "never", "-v", "data:/d", kImage, "head", "-n", "1", "/d/log"});
    ASSERT_EQ(r.exitCode, 0) << r.err;
    EXPECT_EQ(r.out, "1\n");
  }

  // The log has every number once, in order: no write was lost or repeated.
  ASSERT_EQ(engine_.docker({"rm", "-f", "writer"}).exitCode, 0);
  auto numbers = lines(readText(dataOf("data") + "/log"));
  ASSERT_GT(numbers.size(), 10u);
  for (size_t i = 0; i < numbers.size(); ++i) ASSERT_EQ(numbers[i], std::to_string(i + 1)) << "line " << i;
  auto r = engine_.docker({"volume", "rm", "data"});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(volumeNames(), std::vector<std::string>{});
}

}  // namespace
}  // namespace berth::test
