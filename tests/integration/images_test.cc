// Images through the real docker CLI: load (docker and OCI archives, the latter written by
// skopeo), save round trips, tags and removal, history, prune, bad archives, image events, and
// a kill -9 of the images service in the middle of a load.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "common/errors.h"
#include "ipc/methods.h"
#include "ipc/rpc_client.h"
#include "tests/support/engine.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/tar_builder.h"
#include "tests/support/test_images.h"

namespace berth::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class ImagesTest : public ::testing::Test {
 protected:
  std::string lines(const CommandResult& r) { return r.out + r.err; }

  Engine engine_;
  TempDir work_{"berth-images"};
};

TEST_F(ImagesTest, DockerLoadLoadsAnArchiveAndDockerImagesListsIt) {
  std::string archive = busyboxArchive(work_.path(), "berth-test/busybox:1");
  auto r = engine_.docker({"load", "-i", archive});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("Loaded image: berth-test/busybox:1"), std::string::npos) << r.out;
  r = engine_.docker({"images", "--format", "{{.Repository}}|{{.Tag}}|{{.ID}}"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  auto id = engine_.docker({"image", "inspect", "--format", "{{.Id}}", "berth-test/busybox:1"}).out;
  ASSERT_EQ(id.size(), 72u) << id;
  EXPECT_EQ(r.out, "berth-test/busybox|1|" + id.substr(7, 12) + "\n");
  r = engine_.docker({"image", "inspect", "--format", "{{.Os}}|{{.Architecture}}|{{len .RootFS.Layers}}|{{.GraphDriver.Name}}|{{index .Config.Cmd 0}}",
                      "berth-test/busybox:1"});
  EXPECT_EQ(r.out, "linux|amd64|1|overlay2|sh\n") << r.err;
  // The layer is on disk, extracted, where GraphDriver says.
  auto upper = engine_.docker({"image", "inspect", "--format", "{{.GraphDriver.Data.UpperDir}}", "berth-test/busybox:1"}).out;
  upper.pop_back();
  EXPECT_TRUE(fs::is_regular_file(upper + "/bin/busybox")) << upper;
  EXPECT_EQ(fs::read_symlink(upper + "/bin/sh"), "busybox");
  r = engine_.docker({"history", "--format", "{{.CreatedBy}}", "berth-test/busybox:1"});
  EXPECT_EQ(r.out, "berth test\n") << r.err;
  r = engine_.docker({"info", "--format", "{{.Images}}"});
  EXPECT_EQ(r.out, "1\n");
  // Without quiet (a terminal), each extracted layer is reported as dockerd's progress message.
  ASSERT_EQ(engine_.docker({"rmi", "berth-test/busybox:1"}).exitCode, 0);
  r = run({"curl", "-s", "--unix-socket", engine_.socketPath(), "-X", "POST", "-H", "Content-Type: application/x-tar",
           "--data-binary", "@" + archive, "http://berth/v1.43/images/load?quiet=0"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  auto first = nlohmann::json::parse(r.out.substr(0, r.out.find('\n')));
  EXPECT_EQ(first["status"], "Loading layer") << r.out;
  EXPECT_EQ(first["progressDetail"]["current"], first["progressDetail"]["total"]);
  EXPECT_NE(r.out.find("{\"stream\":\"Loaded image: berth-test/busybox:1\\n\"}"), std::string::npos) << r.out;
}

// berth-images opens libarchive (with libxml2 and ICU) at its first archive, not at its start
// (docs/performance.md, "libarchive opened when first needed").
TEST_F(ImagesTest, LibarchiveIsOpenedByTheFirstLoadNotByTheStart) {
  pid_t images = engine_.childPid("images");
  EXPECT_FALSE(mapsLibrary(images, "libarchive.so"));
  EXPECT_FALSE(mapsLibrary(images, "libxml2.so"));
  std::string archive = busyboxArchive(work_.path(), "berth-test/busybox:1");
  auto r = engine_.docker({"load", "-q", "-i", archive});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "Loaded image: berth-test/busybox:1\n");
  ASSERT_EQ(engine_.childPid("images"), images) << "berth-images restarted during the load";
  EXPECT_TRUE(mapsLibrary(images, "libarchive.so"));
  auto upper = engine_.output({"image", "inspect", "--format", "{{.GraphDriver.Data.UpperDir}}", "berth-test/busybox:1"});
  ASSERT_FALSE(upper.empty());
  upper.pop_back();
  EXPECT_TRUE(fs::is_regular_file(upper + "/bin/busybox")) << upper;
  // And what it writes: a saved archive holds the layer back.
  r = engine_.docker({"save", "-o", work_.path() + "/saved.tar", "berth-test/busybox:1"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  auto listing = run({"tar", "-tf", work_.path() + "/saved.tar"});
  ASSERT_EQ(listing.exitCode, 0) << listing.err;
  EXPECT_NE(listing.out.find("manifest.json\n"), std::string::npos) << listing.out;
  EXPECT_NE(listing.out.find("/layer.tar\n"), std::string::npos) << listing.out;
}

// libarchive, with the libxml2 and ICU it brings, is closed once no archive has been read or
// written for 10 s (at the memory look after that, every 5 s), and the next archive opens it
// again: a save after the close writes the layer back, and a load of it runs.
TEST_F(ImagesTest, LibarchiveIsClosedOnceIdleFor10SecondsAndOpenedAgainByTheNextArchive) {
  pid_t images = engine_.childPid("images");
  std::string archive = busyboxArchive(work_.path(), "berth-test/busybox:1");
  auto r = engine_.docker({"load", "-q", "-i", archive});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  auto loaded = std::chrono::steady_clock::now();
  ASSERT_TRUE(mapsLibrary(images, "libarchive.so"));
  ASSERT_TRUE(mapsLibrary(images, "libxml2.so"));
  while (mapsLibrary(images, "libarchive.so") && std::chrono::steady_clock::now() - loaded < 30s) {
    std::this_thread::sleep_for(200ms);
  }
  auto closedAfter = std::chrono::steady_clock::now() - loaded;
  ASSERT_FALSE(mapsLibrary(images, "libarchive.so")) << "still open 30 s after the load";
  // Not at the first look after the load: it waits for 10 s without an archive (the load's last
  // one is freed just before its reply, so a slow CLI takes from these 10 s).
  EXPECT_GE(closedAfter, 6s) << "closed before it was idle for 10 s";
  EXPECT_FALSE(mapsLibrary(images, "libxml2.so"));
  EXPECT_FALSE(mapsLibrary(images, "libicuuc.so"));
  ASSERT_EQ(engine_.childPid("images"), images) << "berth-images restarted";

  r = engine_.docker({"save", "-o", work_.path() + "/saved.tar", "berth-test/busybox:1"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_TRUE(mapsLibrary(images, "libarchive.so"));
  auto listing = run({"tar", "-xOf", work_.path() + "/saved.tar", "--wildcards", "*/layer.tar"});
  ASSERT_EQ(listing.exitCode, 0) << listing.err;
  std::ofstream(work_.path() + "/layer.tar", std::ios::binary) << listing.out;
  auto files = run({"tar", "-tf", work_.path() + "/layer.tar"});
  ASSERT_EQ(files.exitCode, 0) << files.err;
  EXPECT_NE(files.out.find("bin/busybox\n"), std::string::npos) << files.out;
  ASSERT_EQ(engine_.docker({"rmi", "berth-test/busybox:1"}).exitCode, 0);
  r = engine_.docker({"load", "-q", "-i", work_.path() + "/saved.tar"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(engine_.output({"run", "--rm", "--pull", "never", "--network", "none", "berth-test/busybox:1", "echo",
                            "loaded again"}),
            "loaded again\n");
  EXPECT_EQ(engine_.childPid("images"), images) << "berth-images restarted";
}

// Anonymous memory of `pid` (Pss_Anon of smaps_rollup), in KiB.
long anonymousKb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps_rollup");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Pss_Anon:", 0) == 0) return std::stol(line.substr(9));
  }
  throw std::runtime_error("no Pss_Anon in the smaps_rollup of " + std::to_string(pid));
}

// What a load's buffers took goes back once it is over: berth-images allocates from one malloc
// arena, the main heap, whose top the memory look trims (the top of a second arena kept about
// 2 MB after a load). Its anonymous memory comes back to within 1.5 MiB of what it was before
// two loads (with two arenas it stayed 2.3 MB over).
TEST_F(ImagesTest, WhatALoadsBuffersTookGoesBackToTheSystemOnceItIsOver) {
  pid_t images = engine_.childPid("images");
  long before = anonymousKb(images);
  for (const char* tag : {"berth-test/big:1", "berth-test/big:2"}) {  // each load may leave it differently
    std::string archive = busyboxArchive(work_.path(), tag, 24 << 20);
    auto r = engine_.docker({"load", "-q", "-i", archive});
    ASSERT_EQ(r.exitCode, 0) << r.err;
  }
  long rightAfter = anonymousKb(images);
  auto deadline = std::chrono::steady_clock::now() + 40s;
  long now = rightAfter;
  while ((now = anonymousKb(images)) > before + 1536 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(500ms);
  }
  EXPECT_LE(now, before + 1536) << "before the load " << before << " kB, right after it " << rightAfter << " kB";
  ASSERT_EQ(engine_.childPid("images"), images) << "berth-images restarted";
  EXPECT_EQ(engine_.output({"run", "--rm", "--pull", "never", "--network", "none", "berth-test/big:1", "echo", "ok"}),
            "ok\n");
}

TEST_F(ImagesTest, SaveAndLoadRoundTripKeepsTheImageIdAndSkopeoReadsTheArchive) {
  std::string archive = busyboxArchive(work_.path(), "berth-test/app:v1", 1 << 20);
  ASSERT_EQ(engine_.docker({"load", "-i", archive}).exitCode, 0);
  auto id = engine_.docker({"image", "inspect", "--format", "{{.Id}}", "berth-test/app:v1"}).out;
  std::string saved = work_.path() + "/saved.tar";
  auto r = engine_.docker({"save", "-o", saved, "berth-test/app:v1"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  // An independent reader accepts it.
  r = run({"skopeo", "inspect", "--config", "docker-archive:" + saved});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["rootfs"]["diff_ids"].size(), 2u);
  ASSERT_EQ(engine_.docker({"rmi", "berth-test/app:v1"}).exitCode, 0);
  EXPECT_EQ(engine_.output({"images", "-q"}), "");
  r = engine_.docker({"load", "-i", saved});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(engine_.docker({"image", "inspect", "--format", "{{.Id}}", "berth-test/app:v1"}).out, id);
}

TEST_F(ImagesTest, OneArchiveSavesSeveralImagesAndLoadsThemAllBack) {
  ASSERT_EQ(engine_.docker({"load", "-i", busyboxArchive(work_.path(), "berth-test/one:1", 2048)}).exitCode, 0);
  ASSERT_EQ(engine_.docker({"load", "-i", busyboxArchive(work_.path(), "berth-test/two:1", 4096)}).exitCode, 0);
  auto ids = engine_.output({"images", "-q", "--no-trunc"});
  std::string saved = work_.path() + "/both.tar";
  auto r = engine_.docker({"save", "-o", saved, "berth-test/one:1", "berth-test/two:1"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  ASSERT_EQ(engine_.docker({"rmi", "berth-test/one:1", "berth-test/two:1"}).exitCode, 0);
  EXPECT_EQ(engine_.output({"images", "-q"}), "");
  r = engine_.docker({"load", "-i", saved});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("Loaded image: berth-test/one:1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Loaded image: berth-test/two:1"), std::string::npos) << r.out;
  EXPECT_EQ(engine_.output({"images", "-q", "--no-trunc"}), ids);
}

TEST_F(ImagesTest, AnOciArchiveWrittenBySkopeoLoads) {
  std::string archive = busyboxArchive(work_.path(), "berth-test/oci:1");
  std::string oci = work_.path() + "/oci.tar";
  auto r = run({"skopeo", "copy", "--quiet", "docker-archive:" + archive, "oci-archive:" + oci + ":berth-test/oci:2"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  r = engine_.docker({"load", "-i", oci});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("Loaded image"), std::string::npos) << r.out;
  r = engine_.docker({"images", "--format", "{{.Repository}}:{{.Tag}}"});
  EXPECT_EQ(r.out, "berth-test/oci:2\n") << r.out;
}

TEST_F(ImagesTest, DockerImportMakesAnImageFromARootfsWithChanges) {
  std::string rootfs = work_.path() + "/rootfs.tar";
  TarBuilder().dir("bin").file("bin/hello", "#!/bin/sh\necho hi\n", 0755).file("etc/hostname", "x\n").write(rootfs, true);
  auto r = engine_.docker({"import", "--change", "CMD [\"/bin/hello\"]", "--change", "ENV A=b C=\"d e\"", "--change",
                           "EXPOSE 80 53/udp", "--change", "LABEL tier=web", "--change", "WORKDIR /srv", "-m",
                           "from the test", rootfs, "berth-test/imported:1"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out.rfind("sha256:", 0), 0u) << r.out;
  r = engine_.docker({"image", "inspect", "--format",
                      "{{json .Config.Cmd}}|{{json .Config.Env}}|{{json .Config.ExposedPorts}}|{{.Config.Labels.tier}}|"
                      "{{.Config.WorkingDir}}|{{.Comment}}|{{len .RootFS.Layers}}",
                      "berth-test/imported:1"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "[\"/bin/hello\"]|[\"A=b\",\"C=d e\"]|{\"53/udp\":{},\"80/tcp\":{}}|web|/srv|from the test|1\n");
  // From stdin, untagged.
  std::string bytes = readText(rootfs);
  r = run({"docker", "import", "-"}, {"DOCKER_HOST=" + engine_.dockerHost(), "DOCKER_CONFIG=" + work_.path() + "/cfg"},
          60s, bytes);
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(engine_.output({"images", "-q"}).size(), 2u * 13u);
  // A bad change creates nothing.
  r = engine_.docker({"import", "--change", "FROBNICATE now", rootfs, "berth-test/bad:1"});
  EXPECT_NE(r.exitCode, 0);
  EXPECT_NE(r.err.find("FROBNICATE is not a valid change command"), std::string::npos) << r.err;
  EXPECT_EQ(engine_.output({"images", "-q"}).size(), 2u * 13u);
}

TEST_F(ImagesTest, LabelBeforeAndSinceFiltersSelectImages) {
  std::string rootfs = work_.path() + "/rootfs.tar";
  TarBuilder().file("hello", "world").write(rootfs);
  ASSERT_EQ(engine_.docker({"import", "--change", "LABEL tier=web", rootfs, "berth-test/first:1"}).exitCode, 0);
  std::this_thread::sleep_for(1100ms);  // Created has one-second resolution
  ASSERT_EQ(engine_.docker({"import", "--change", "LABEL tier=db", rootfs, "berth-test/second:1"}).exitCode, 0);
  auto names = [&](const std::string& filter) {
    auto r = engine_.docker({"images", "--filter", filter, "--format", "{{.Repository}}"});
    EXPECT_EQ(r.exitCode, 0) << r.err;
    return r.out;
  };
  EXPECT_EQ(names("label=tier=web"), "berth-test/first\n");
  EXPECT_EQ(names("label=tier"), "berth-test/second\nberth-test/first\n");
  EXPECT_EQ(names("since=berth-test/first:1"), "berth-test/second\n");
  EXPECT_EQ(names("before=berth-test/second:1"), "berth-test/first\n");
}

TEST_F(ImagesTest, TagAndRmiFollowDockerdsRules) {
  ASSERT_EQ(engine_.docker({"load", "-i", busyboxArchive(work_.path(), "berth-test/bb:1")}).exitCode, 0);
  auto id = engine_.docker({"image", "inspect", "--format", "{{.Id}}", "berth-test/bb:1"}).out;
  id.pop_back();
  ASSERT_EQ(engine_.docker({"tag", "berth-test/bb:1", "127.0.0.1:5000/team/bb:2"}).exitCode, 0);
  auto r = engine_.docker({"images", "--format", "{{.Repository}}:{{.Tag}}"});
  EXPECT_NE(r.out.find("127.0.0.1:5000/team/bb:2"), std::string::npos) << r.out;
  // An id with two names needs force.
  r = engine_.docker({"rmi", id.substr(7, 12)});
  EXPECT_NE(r.exitCode, 0);
  EXPECT_NE(r.err.find("must be forced"), std::string::npos) << r.err;
  // A name only untags while another name remains.
  r = engine_.docker({"rmi", "berth-test/bb:1"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "Untagged: berth-test/bb:1\n");
  // The last name deletes the image and its layer.
  r = engine_.docker({"rmi", "127.0.0.1:5000/team/bb:2"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("Deleted: " + id), std::string::npos) << r.out;
  EXPECT_EQ(engine_.output({"images", "-q"}), "");
  r = engine_.docker({"rmi", "berth-test/bb:1"});
  EXPECT_NE(r.exitCode, 0);
  EXPECT_NE(r.err.find("No such image: berth-test/bb:1"), std::string::npos) << r.err;
  // dockerd's refusals (observed on the reference engine).
  r = engine_.docker({"tag", "nothing-here", "x:1"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.err.find("No such image: nothing-here:latest"), std::string::npos) << r.err;
  // A repository path in capitals is no reference (a capitalised first component of several
  // would be a registry host under today's reference grammar, so the test uses one component).
  r = engine_.docker({"image", "inspect", "BAD"});
  EXPECT_EQ(r.exitCode, 1);
  // dockerd 20.10: "...invalid reference format: repository name must be lowercase"; the
  // reference library of later releases names the repository in parentheses, as berth does.
  EXPECT_NE(r.err.find("invalid reference format: repository name"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("must be lowercase"), std::string::npos) << r.err;
}

TEST_F(ImagesTest, FiltersAndPruneWorkOnDanglingImages) {
  ASSERT_EQ(engine_.docker({"load", "-i", busyboxArchive(work_.path(), "berth-test/keep:1")}).exitCode, 0);
  // Loading another image under the same tag leaves the first one dangling.
  ASSERT_EQ(engine_.docker({"load", "-i", busyboxArchive(work_.path(), "berth-test/gone:1", 4096)}).exitCode, 0);
  auto r0 = engine_.docker({"load", "-i", busyboxArchive(work_.path(), "berth-test/gone:1", 8192)});
  ASSERT_EQ(r0.exitCode, 0) << r0.err;
  EXPECT_NE(r0.out.find("renaming the old one"), std::string::npos) << r0.out;
  ASSERT_EQ(engine_.docker({"rmi", "berth-test/gone:1"}).exitCode, 0);
  auto r = engine_.docker({"images", "--filter", "dangling=true", "-q"});
  EXPECT_EQ(r.out.size(), 13u) << r.out;
  // As the reference dockerd 20.10 (ExactMatch of "true" or "false"): 1 is refused in a list, and
  // a prune takes only true, 1, false or 0 (the API itself: the CLI's prune adds dangling=true);
  // neither refusal removes anything.
  r = engine_.docker({"images", "--filter", "dangling=1", "-q"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.err.find("invalid filter 'dangling=[1]'"), std::string::npos) << r.err;
  for (const char* filters :
       {"%7B%22dangling%22%3A%5B%22maybe%22%5D%7D", "%7B%22dangling%22%3A%7B%22false%22%3Afalse%7D%7D"}) {
    auto pruned = httpRequest(engine_.socketPath(), "POST", std::string("/v1.41/images/prune?filters=") + filters);
    EXPECT_EQ(pruned.status, 400) << filters;
    EXPECT_EQ(bodyOf(pruned)["message"].get<std::string>().rfind("invalid filter 'dangling=[", 0), 0u) << pruned.body;
  }
  EXPECT_EQ(engine_.docker({"images", "--filter", "dangling=true", "-q"}).out.size(), 13u);
  r = engine_.docker({"images", "--filter", "reference=berth-test/*", "--format", "{{.Repository}}"});
  EXPECT_EQ(r.out, "berth-test/keep\n");
  // An image with several tags lists only the references that match (reference dockerd 20.10:
  // `docker images REPO:TAG` prints that row alone, and RepoTags holds just the match).
  ASSERT_EQ(engine_.docker({"tag", "berth-test/keep:1", "berth-test/keep:2"}).exitCode, 0);
  ASSERT_EQ(engine_.docker({"tag", "berth-test/keep:1", "other/keep:1"}).exitCode, 0);
  r = engine_.docker({"images", "berth-test/keep:2", "--format", "{{.Repository}}:{{.Tag}}"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "berth-test/keep:2\n");
  r = engine_.docker({"images", "berth-test/keep", "--format", "{{.Repository}}:{{.Tag}}"});
  EXPECT_EQ(r.out, "berth-test/keep:1\nberth-test/keep:2\n");
  r = engine_.docker({"image", "ls", "--filter", "reference=*/keep:1", "--format", "{{.Repository}}:{{.Tag}}"});
  // One image, two repositories: the CLI groups an image's tags by repository in a Go map, so
  // their rows come in either order (with dockerd too).
  std::vector<std::string> rows;
  std::istringstream listed(r.out);
  for (std::string row; std::getline(listed, row);) rows.push_back(row);
  std::sort(rows.begin(), rows.end());
  EXPECT_EQ(rows, (std::vector<std::string>{"berth-test/keep:1", "other/keep:1"})) << r.out;
  ASSERT_EQ(engine_.docker({"rmi", "berth-test/keep:2", "other/keep:1"}).exitCode, 0);
  r = engine_.docker({"image", "prune", "-f"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("deleted: sha256:"), std::string::npos) << r.out;
  EXPECT_EQ(engine_.output({"images", "-q"}).size(), 13u);
  // moby's filter message (lower case since API 1.42; dockerd 20.10 capitalised it).
  r = engine_.docker({"images", "--filter", "colour=red"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.err.find("invalid filter 'colour'"), std::string::npos) << r.err;
  // until keeps images created after the time: the test image says it was built on
  // 2026-11-01, an imported one now.
  std::string rootfs = work_.path() + "/rootfs.tar";
  TarBuilder().file("hello", "world").write(rootfs);
  ASSERT_EQ(engine_.docker({"import", rootfs, "berth-test/fresh:1"}).exitCode, 0);
  r = engine_.docker({"image", "prune", "-af", "--filter", "until=yesterday"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.err.find("failed to parse value as time or duration: \"yesterday\""), std::string::npos) << r.err;
  r = engine_.docker({"image", "prune", "-af", "--filter", "until=24h"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("untagged: berth-test/keep:1"), std::string::npos) << r.out;
  EXPECT_EQ(engine_.output({"images", "--format", "{{.Repository}}"}), "berth-test/fresh\n");
}

TEST_F(ImagesTest, HostileArchivesAreRefusedAndNothingIsStoredOrWrittenOutside) {
  std::string outside = work_.path() + "/outside";
  fs::create_directories(outside);
  struct Case {
    std::string name;
    TarBuilder layer;
    std::string expect;
  };
  std::vector<Case> cases;
  cases.push_back({"dotdot", TarBuilder().file("../../../../../../" + outside.substr(1) + "/evil", "x"), "climbs out"});
  cases.push_back({"absolute", TarBuilder().file(outside + "/evil", "x"), "absolute path"});
  cases.push_back({"symlink-parent", TarBuilder().symlink("esc", outside).file("esc/evil", "x"), "symlink"});
  cases.push_back({"hardlink", TarBuilder().hardlink("evil", "../../../../etc/shadow"), "climbs out"});
  for (auto& c : cases) {
    std::string layer = work_.path() + "/" + c.name + ".tar";
    c.layer.write(layer);
    std::string archive = work_.path() + "/" + c.name + "-image.tar";
    makeDockerArchive(archive, {layer}, {"berth-test/" + c.name + ":1"}, work_.path());
    auto r = engine_.docker({"load", "-i", archive});
    EXPECT_EQ(r.exitCode, 1) << c.name;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << c.name << ": " << r.err;
  }
  // A digest mismatch and a truncated archive.
  std::string good = work_.path() + "/good.tar";
  TarBuilder().file("hello", "world").write(good);
  std::string mismatch = work_.path() + "/mismatch.tar";
  makeDockerArchive(mismatch, {good}, {"berth-test/mismatch:1"}, work_.path(), {"sha256:" + std::string(64, '0')});
  auto r = engine_.docker({"load", "-i", mismatch});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.err.find("diff id"), std::string::npos) << r.err;
  std::string bytes = readText(busyboxArchive(work_.path(), "berth-test/cut:1"));
  { std::ofstream(work_.path() + "/cut.tar", std::ios::binary) << bytes.substr(0, bytes.size() / 3); }
  r = engine_.docker({"load", "-i", work_.path() + "/cut.tar"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.err.find("unexpected EOF"), std::string::npos) << r.err;  // dockerd: "...: unexpected EOF"
  EXPECT_TRUE(fs::is_empty(outside)) << "a hostile archive wrote outside its layer";
  EXPECT_EQ(engine_.output({"images", "-aq"}), "");
  EXPECT_EQ(engine_.docker({"info", "--format", "{{.Images}}"}).out, "0\n");
}

TEST_F(ImagesTest, ImageOperationsEmitDockerdsEvents) {
  auto now = [] {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  };
  auto since = std::to_string(now() - 1);
  ASSERT_EQ(engine_.docker({"load", "-i", busyboxArchive(work_.path(), "berth-test/ev:1")}).exitCode, 0);
  std::string id = engine_.output({"image", "inspect", "--format", "{{.Id}}", "berth-test/ev:1"});
  ASSERT_EQ(id.size(), 72u) << id;
  id.pop_back();
  ASSERT_EQ(engine_.docker({"tag", "berth-test/ev:1", "berth-test/ev:2"}).exitCode, 0);
  ASSERT_EQ(engine_.docker({"save", "-o", work_.path() + "/ev.tar", "berth-test/ev:2"}).exitCode, 0);
  ASSERT_EQ(engine_.docker({"rmi", "berth-test/ev:2"}).exitCode, 0);
  ASSERT_EQ(engine_.docker({"rmi", "berth-test/ev:1"}).exitCode, 0);
  std::string rootfs = work_.path() + "/rootfs.tar";
  TarBuilder().file("hello", "world").write(rootfs);
  auto imported = engine_.docker({"import", rootfs, "berth-test/imported:1"});
  ASSERT_EQ(imported.exitCode, 0) << imported.err;
  std::string importedId = imported.out.substr(0, imported.out.find('\n'));
  auto until = std::to_string(now() + 1);
  auto r = engine_.docker({"events", "--since", since, "--until", until, "--filter", "type=image", "--format",
                           "{{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}}"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  // As dockerd 20.10 emits them (observed on the reference engine): load, untag, delete and save
  // carry the image ID as name; a load sets its tag without a tag event; import tags first.
  EXPECT_EQ(r.out, "load " + id + " " + id + "\n" +
                       "tag " + id + " berth-test/ev:2\n" +
                       "save " + id + " " + id + "\n" +
                       "untag " + id + " " + id + "\n" +
                       "untag " + id + " " + id + "\n" +
                       "delete " + id + " " + id + "\n" +
                       "tag " + importedId + " berth-test/imported:1\n" +
                       "import " + importedId + " " + importedId + "\n");
}

TEST_F(ImagesTest, AContainerLayerPreparedOverRpcPinsItsImage) {
  // What the containerd-bridge will ask of the images service when it creates a container.
  ASSERT_EQ(engine_.docker({"load", "-i", busyboxArchive(work_.path(), "berth-test/pinned:1")}).exitCode, 0);
  zmq::context_t context;
  ipc::RpcClient images(context, "ipc://" + engine_.execRoot() + "/ipc/images.sock");
  std::string container(64, 'd');
  auto prepared = images.call(ipc::methods::imagesPrepareRootfs(), ipc::deadlineIn(10s),
                              [&](ipc::Images::PrepareRootfsParams::Builder p) {
                                p.setContainer(container);
                                p.setImage("berth-test/pinned:1");
                              });
  auto mounts = prepared.get().getMounts();
  ASSERT_EQ(mounts.size(), 1u);
  EXPECT_EQ(std::string(mounts[0].getType().cStr()), "overlay");
  std::string id = engine_.docker({"image", "inspect", "--format", "{{.Id}}", "berth-test/pinned:1"}).out;
  EXPECT_EQ(std::string(prepared.get().getImageId().cStr()) + "\n", id);
  auto r = engine_.docker({"rmi", "berth-test/pinned:1"});
  EXPECT_NE(r.exitCode, 0);
  EXPECT_NE(r.err.find("is using its referenced image"), std::string::npos) << r.err;
  auto exported = images.call(ipc::methods::imagesExportBegin(), ipc::deadlineIn(10s),
                              [&](ipc::Images::ExportBeginParams::Builder p) { p.setContainer(container); });
  // Streamed while it is written: read to the empty chunk.
  std::string download = exported.get().getDownload();
  uint64_t exportedBytes = 0;
  for (;;) {
    auto chunk = images.call(ipc::methods::imagesDownloadRead(), ipc::deadlineIn(60s),
                             [&](ipc::Images::DownloadReadParams::Builder p) {
                               p.setDownload(download);
                               p.setOffset(exportedBytes);
                               p.setMaxBytes(1 << 20);
                             });
    if (chunk.get().getData().size() == 0) break;
    exportedBytes += chunk.get().getData().size();
  }
  EXPECT_GT(exportedBytes, 1000000u);  // busybox itself is in it
  images.call(ipc::methods::imagesDownloadClose(), ipc::deadlineIn(5s),
              [&](ipc::Images::DownloadCloseParams::Builder p) { p.setDownload(download); });
  images.call(ipc::methods::imagesReleaseRootfs(), ipc::deadlineIn(10s),
              [&](ipc::Images::ReleaseRootfsParams::Builder p) { p.setContainer(container); });
  r = engine_.docker({"rmi", "berth-test/pinned:1"});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  // Bad container ids never become paths.
  try {
    images.call(ipc::methods::imagesPrepareRootfs(), ipc::deadlineIn(10s), [&](ipc::Images::PrepareRootfsParams::Builder p) {
      p.setContainer("../../etc");
      p.setImage("whatever");
    });
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::invalid);
  }
}

TEST_F(ImagesTest, KillingTheImagesServiceMidLoadLeavesNoPartialImageAndARetrySucceeds) {
  std::string archive = busyboxArchive(work_.path(), "berth-test/big:1", 150 << 20);
  pid_t images = engine_.childPid("images");
  CommandResult load;
  std::thread client([&] { load = engine_.docker({"load", "-i", archive}, 120s); });
  // Kill it while the load, which reads the upload as it arrives, unpacks it in its staging
  // area.
  std::string staging = engine_.dataRoot() + "/images/staging";
  auto stagedFiles = [&] {
    std::vector<std::string> files;
    std::error_code ec;
    for (fs::recursive_directory_iterator it(staging, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->is_regular_file(ec)) files.push_back(it->path());
    }
    return files;
  };
  bool killed = false;
  for (int i = 0; i < 2000 && !killed; ++i) {
    std::error_code ec;
    for (fs::recursive_directory_iterator it(staging, ec), end; !ec && it != end; it.increment(ec)) {
      const auto& e = *it;
      if (e.is_regular_file(ec) && e.file_size(ec) > (20u << 20) && !ec) {
        killPid(images, SIGKILL);
        killed = true;
        break;
      }
    }
    std::this_thread::sleep_for(5ms);
  }
  client.join();
  ASSERT_TRUE(killed) << "the upload never reached the images service";
  EXPECT_NE(load.exitCode, 0) << load.out;
  // The service is back (a new pid, running, answering) ...
  bool back = false;
  for (int i = 0; i < 300 && !back; ++i) {
    auto now = engine_.children().at("images");
    back = now.state == "running" && now.pid != images && now.pid > 1;
    if (!back) std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(back) << "the images service did not come back; log:\n" << engine_.log();
  // ... nothing half-loaded is visible, no layer was kept, and its staging area was emptied.
  EXPECT_EQ(engine_.output({"images", "-aq"}), "");
  EXPECT_TRUE(fs::is_empty(engine_.dataRoot() + "/images/layers"));
  auto left = stagedFiles();
  EXPECT_TRUE(left.empty()) << "the dead load left " << left.size() << " file(s) in " << staging << ", the first "
                            << (left.empty() ? "" : left[0]);
  auto r = engine_.docker({"load", "-i", archive}, 120s);
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("Loaded image: berth-test/big:1"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace berth::test
