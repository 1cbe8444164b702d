// docker cp through the real docker CLI: files and directories both ways, running and stopped
// containers, bind mounts, stdin/stdout archives, and the refusals: a missing path, a path or a
// symlink that would leave the container, an archive entry outside the destination, a
// read-only root filesystem. Each refusal is also checked on the host: nothing was written.
#include <gtest/gtest.h>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/integration/container_fixture.h"
#include "tests/support/http_client.h"
#include "tests/support/tar_builder.h"

namespace berth::test {
namespace {

namespace fs = std::filesystem;

class ContainerFilesTest : public ContainersTest {};

TEST_F(ContainerFilesTest, CpCopiesFilesAndDirectoriesBothWaysInRunningAndStoppedContainers) {
  std::string id = runDetached({"--name", "files", kImage, "sleep", "300"});
  ASSERT_FALSE(id.empty());
  std::string host = work_.path();
  writeText(host + "/greeting", "hello from the host\n");
  fs::create_directories(host + "/tree/sub");
  writeText(host + "/tree/sub/leaf", "leaf\n");

  // host -> running container: a file into a directory, a directory under a new name.
  auto r = engine_.docker({"cp", host + "/greeting", "files:/tmp/"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(engine_.output({"exec", "files", "cat", "/tmp/greeting"}), "hello from the host\n");
  r = engine_.docker({"cp", host + "/tree", "files:/srv"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(engine_.output({"exec", "files", "cat", "/srv/sub/leaf"}), "leaf\n");

  // running container -> host: what the container wrote, with its mode.
  ASSERT_EQ(engine_.docker({"exec", "files", "sh", "-c", "mkdir -p /data/d && echo inner > /data/d/f && chmod 0751 /data/d/f"})
                .exitCode, 0);
  r = engine_.docker({"cp", "files:/data", host + "/out"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(readText(host + "/out/d/f"), "inner\n");
  EXPECT_EQ(fs::status(host + "/out/d/f").permissions() & fs::perms::all, static_cast<fs::perms>(0751));

  // A stopped container: both ways, and the container sees the file when it starts again.
  ASSERT_EQ(engine_.docker({"stop", "-t", "0", "files"}).exitCode, 0);
  r = engine_.docker({"cp", "files:/tmp/greeting", host + "/back"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(readText(host + "/back"), "hello from the host\n");
  writeText(host + "/late", "written while stopped\n");
  r = engine_.docker({"cp", host + "/late", "files:/tmp/late"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  ASSERT_EQ(engine_.docker({"start", "files"}).exitCode, 0);
  EXPECT_EQ(engine_.output({"exec", "files", "cat", "/tmp/late"}), "written while stopped\n");

  // `-` is a tar stream on stdout.
  r = engine_.docker({"cp", "files:/data/d/f", "-"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("inner\n"), std::string::npos);
  EXPECT_EQ(r.out.compare(0, 1, "f"), 0) << "the entry is named after the requested file";
}

TEST_F(ContainerFilesTest, CpReachesBindMountsOfRunningAndStoppedContainers) {
  std::string shared = work_.path() + "/shared";
  fs::create_directories(shared);
  writeText(shared + "/existing", "on the host\n");
  std::string id = runDetached({"--name", "binds", "-v", shared + ":/mnt/shared", kImage, "sleep", "300"});
  ASSERT_FALSE(id.empty());
  writeText(work_.path() + "/in", "into the volume\n");
  auto r = engine_.docker({"cp", work_.path() + "/in", "binds:/mnt/shared/"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(readText(shared + "/in"), "into the volume\n");

  ASSERT_EQ(engine_.docker({"stop", "-t", "0", "binds"}).exitCode, 0);
  r = engine_.docker({"cp", "binds:/mnt/shared/existing", work_.path() + "/existing"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(readText(work_.path() + "/existing"), "on the host\n");
}

TEST_F(ContainerFilesTest, CpSeesTheVolumesAndHostsFilesOfAContainerThatNeverRan) {
  // The "seed the volume" pattern: copy into a bind mount before the first start.
  std::string seed = work_.path() + "/seed";
  fs::create_directories(seed);
  ASSERT_EQ(engine_.docker({"create", "--pull", "never", "--name", "fresh", "--hostname", "freshhost", "-v", seed + ":/data/vol",
                            kImage, "cat", "/data/vol/f"})
                .exitCode,
            0);
  writeText(work_.path() + "/f", "seeded\n");
  auto r = engine_.docker({"cp", work_.path() + "/f", "fresh:/data/vol/"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(readText(seed + "/f"), "seeded\n");
  r = engine_.docker({"start", "-a", "fresh"});
  EXPECT_EQ(r.out, "seeded\n") << r.err;
  // The hosts files are the container's own, as dockerd's cp shows them.
  r = engine_.docker({"cp", "fresh:/etc/hostname", work_.path() + "/hostname"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(readText(work_.path() + "/hostname"), "freshhost\n");
}

TEST_F(ContainerFilesTest, CpSkipsSocketsAndNeverRunsTheContainersPrograms) {
  std::string shared = work_.path() + "/shared";
  fs::create_directories(shared);
  writeText(shared + "/plain", "plain\n");
  // A unix socket beside it: tar cannot hold one, dockerd skips it and so does berth.
  int sock = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string sockPath = shared + "/listening.sock";
  std::strncpy(addr.sun_path, sockPath.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << std::strerror(errno);
  std::string id = runDetached({"--name", "holder", "-v", shared + ":/mnt/shared", kImage, "sleep", "300"});
  ASSERT_FALSE(id.empty());
  auto r = engine_.docker({"cp", "holder:/mnt/shared", work_.path() + "/copied"});
  ::close(sock);
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(readText(work_.path() + "/copied/plain"), "plain\n");
  EXPECT_FALSE(fs::exists(work_.path() + "/copied/listening.sock"));

  // An lrzip archive would make libarchive run the lrzip program, which after the chroot is the
  // container's: berth decompresses in process only, so the upload is refused and nothing runs.
  ASSERT_EQ(engine_.docker({"exec", "holder", "sh", "-c",
                            "mkdir -p /usr/bin && printf '#!/bin/sh\\ntouch /ran-from-the-container\\n' > /usr/bin/lrzip && "
                            "chmod +x /usr/bin/lrzip"})
                .exitCode,
            0);
  auto put = httpRequest(engine_.socketPath(), "PUT", "/containers/holder/archive?path=/tmp",
                         std::string("LRZI\x00\x06", 6) + std::string(64, 'x'), "Content-Type: application/x-tar\r\n");
  EXPECT_EQ(put.status, 400) << put.head << put.body;
  EXPECT_NE(engine_.docker({"exec", "holder", "test", "-e", "/ran-from-the-container"}).exitCode, 0);
}

TEST_F(ContainerFilesTest, CpRefusesMissingPathsAndNeverLeavesTheContainer) {
  std::string id = runDetached({"--name", "jail", kImage, "sleep", "300"});
  ASSERT_FALSE(id.empty());
  auto r = engine_.docker({"cp", "jail:/no/such/file", work_.path() + "/x"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.err.find("Could not find the file /no/such/file in container jail"), std::string::npos) << r.err;
  r = engine_.docker({"cp", "nosuchcontainer:/etc", work_.path() + "/x"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.err.find("No such container"), std::string::npos) << r.err;

  // A host directory with a secret, and a container symlink that names it with enough `..`
  // to leave any root: resolved inside the container, it names nothing.
  std::string secretDir = work_.path() + "/secret";
  fs::create_directories(secretDir);
  writeText(secretDir + "/key", "host secret\n");
  ASSERT_EQ(engine_.docker({"exec", "jail", "ln", "-s", "../../../../../../../../.." + secretDir, "/tmp/escape"}).exitCode, 0);
  // The refusals are dockerd's (observed on the reference engine with the same symlink).
  r = engine_.docker({"cp", "jail:/tmp/escape/key", work_.path() + "/stolen"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.err.find("Could not find the file /tmp/escape/key in container jail"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(work_.path() + "/stolen"));
  r = engine_.docker({"cp", "jail:/../../../../../../../.." + secretDir + "/key", work_.path() + "/stolen"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.err.find("Could not find the file /../../../../../../../.." + secretDir + "/key in container jail"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(work_.path() + "/stolen"));
  writeText(work_.path() + "/planted", "planted\n");
  r = engine_.docker({"cp", work_.path() + "/planted", "jail:/tmp/escape/"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.err.find("no such directory"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(secretDir + "/planted"));

  // An archive whose entry climbs out of the destination is refused, and writes nothing.
  std::string evil = work_.path() + "/evil.tar";
  TarBuilder().file("../../../../../../../.." + secretDir + "/planted", "planted\n").write(evil);
  r = run({"sh", "-c", "docker cp - jail:/tmp < " + evil},
          {"DOCKER_HOST=" + engine_.dockerHost(), "DOCKER_CONFIG=" + engine_.root() + "/docker-config"}, 30s);
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.err.find("is outside of"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(secretDir + "/planted"));
  EXPECT_EQ(engine_.output({"exec", "jail", "sh", "-c", "find / -xdev -name planted | wc -l"}), "0\n");

  // A symlink entry that points out of the destination is refused as well.
  TarBuilder().symlink("link", "../../../../../../..").write(evil);
  r = run({"sh", "-c", "docker cp - jail:/tmp < " + evil},
          {"DOCKER_HOST=" + engine_.dockerHost(), "DOCKER_CONFIG=" + engine_.root() + "/docker-config"}, 30s);
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.err.find("invalid symlink"), std::string::npos) << r.err;
  EXPECT_EQ(engine_.docker({"exec", "jail", "test", "-L", "/tmp/link"}).exitCode, 1);
}

TEST_F(ContainerFilesTest, CpIntoAReadOnlyRootFilesystemIsRefused) {
  std::string id = runDetached({"--name", "ro", "--read-only", kImage, "sleep", "300"});
  ASSERT_FALSE(id.empty());
  writeText(work_.path() + "/f", "x\n");
  auto r = engine_.docker({"cp", work_.path() + "/f", "ro:/tmp/"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_NE(r.err.find("container rootfs is marked read-only"), std::string::npos) << r.err;
  EXPECT_EQ(engine_.docker({"exec", "ro", "test", "-e", "/tmp/f"}).exitCode, 1);
}

// berth refuses that upload as soon as it knows the destination, which may be before the client
// has sent the archive (a CLI slowed by a busy machine). The answer must not end the connection
// under the client's feet: its write then failed and docker cp could report a broken pipe instead
// of the refusal. dockerd (Go's net/http) reads on up to 256 KiB; so does berth.
TEST_F(ContainerFilesTest, AnUploadRefusedBeforeItsArchiveArrivedIsReadOnSoTheClientFinishesSending) {
  std::string id = runDetached({"--name", "ro", "--read-only", kImage, "sleep", "300"});
  ASSERT_FALSE(id.empty());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, engine_.socketPath().c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << std::strerror(errno);
  std::string head = "PUT /v1.43/containers/ro/archive?path=/tmp HTTP/1.1\r\nHost: berth\r\n"
                     "Content-Type: application/x-tar\r\nTransfer-Encoding: chunked\r\n\r\n";
  ASSERT_EQ(::send(fd, head.data(), head.size(), MSG_NOSIGNAL), static_cast<ssize_t>(head.size()));
  // The answer comes before any of the archive.
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 10000), 1) << "no answer to the head alone";
  char buf[4096];
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  ASSERT_GT(n, 0);
  std::string answer(buf, static_cast<size_t>(n));
  EXPECT_EQ(answer.rfind("HTTP/1.1 403 ", 0), 0u) << answer;
  EXPECT_NE(answer.find("container rootfs is marked read-only"), std::string::npos) << answer;
  std::this_thread::sleep_for(300ms);  // a client slower still
  TarBuilder().file("f", "x\n").write(work_.path() + "/f.tar");
  std::string archive = readText(work_.path() + "/f.tar");
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", archive.size());
  std::string body = size + archive + "\r\n0\r\n\r\n";
  errno = 0;
  EXPECT_EQ(::send(fd, body.data(), body.size(), MSG_NOSIGNAL), static_cast<ssize_t>(body.size())) << std::strerror(errno);
  ::close(fd);
  EXPECT_EQ(engine_.docker({"exec", "ro", "test", "-e", "/tmp/f"}).exitCode, 1);
}

}  // namespace
}  // namespace berth::test
