// Clients other than the docker CLI against berth: Debian's docker-compose 1.29 bringing a
// project with a named volume up, down and up again, and down -v; Debian's Docker SDK for Python
// (python3-docker, run with /usr/bin/python3) creating a volume and running a container on it.
// Their engine runs on the machine's network with no default bridge (networks_test.cc runs
// Compose on a project network, in an engine of its own namespace), so they use
// `network_mode: none`. docker-py also reads exec output every way it can.
#include <nlohmann/json.hpp>

#include "tests/integration/container_fixture.h"

namespace berth::test {
namespace {

using json = nlohmann::json;

class ClientsTest : public ContainersTest {
 protected:
  void TearDown() override {
    ContainersTest::TearDown();
    for (const auto& name : lines(engine_.docker({"volume", "ls", "-q"}).out)) engine_.docker({"volume", "rm", name});
  }

  CommandResult compose(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"docker-compose", "--no-ansi", "-p", "berthproj", "-f", work_.path() + "/compose.yml"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, {"DOCKER_HOST=" + engine_.dockerHost(), "COMPOSE_INTERACTIVE_NO_CLI=1"}, 120s);
  }

  std::string dataOf(const std::string& volume) const { return engine_.dataRoot() + "/volumes/" + volume + "/_data"; }
};

TEST_F(ClientsTest, ComposeCreatesReusesAndWithDownDashVRemovesItsNamedVolume) {
  writeText(work_.path() + "/compose.yml", R"(version: "3.8"
services:
  app:
    image: )" + kImage + R"(
    network_mode: none
    init: true
    command: ["sh", "-c", "echo started >> /data/log; exec sleep 1000"]
    volumes:
      - appdata:/data
volumes:
  appdata:
    labels:
      tier: test
)");
  auto r = compose({"up", "-d"});
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.err, "Creating volume \"berthproj_appdata\" with default driver")) << r.err;
  // Compose's labels are kept verbatim, with the project's own.
  auto labels = json::parse(engine_.output({"volume", "inspect", "--format", "{{json .Labels}}", "berthproj_appdata"}));
  EXPECT_EQ(labels, json({{"com.docker.compose.project", "berthproj"},
                          {"com.docker.compose.version", "1.29.2"},
                          {"com.docker.compose.volume", "appdata"},
                          {"tier", "test"}}));
  EXPECT_EQ(inspect(engine_, "berthproj_app_1", "{{.State.Status}}"), "running");
  ASSERT_TRUE(waitFor([&] { return readText(dataOf("berthproj_appdata") + "/log") == "started\n"; }, 10s));

  // down: the container goes, the volume and its data stay; up again finds them.
  r = compose({"down"});
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  r = engine_.docker({"ps", "-aq"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "");
  r = engine_.docker({"volume", "ls", "-q"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "berthproj_appdata\n");
  r = compose({"up", "-d"});
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_FALSE(contains(r.err, "Creating volume")) << r.err;
  ASSERT_TRUE(waitFor([&] { return readText(dataOf("berthproj_appdata") + "/log") == "started\nstarted\n"; }, 10s))
      << readText(dataOf("berthproj_appdata") + "/log");
  EXPECT_EQ(engine_.output({"exec", "berthproj_app_1", "cat", "/data/log"}), "started\nstarted\n");

  // down -v: the container and the volume go.
  r = compose({"down", "-v"});
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.err, "Removing volume berthproj_appdata")) << r.err;
  r = engine_.docker({"volume", "ls", "-q"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "");
  r = engine_.docker({"ps", "-aq"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_FALSE(fs::exists(engine_.dataRoot() + "/volumes/berthproj_appdata"));
}

TEST_F(ClientsTest, DockerPyCreatesAVolumeAndRunsAContainerOnIt) {
  writeText(work_.path() + "/client.py", R"(import sys, docker
client = docker.DockerClient(base_url=sys.argv[1], version="1.41")
vol = client.volumes.create(name="pyvol", labels={"made-by": "docker-py"})
print(vol.name, vol.attrs["Driver"], vol.attrs["Labels"]["made-by"])
out = client.containers.run(sys.argv[2], ["sh", "-c", "echo from-py > /d/f; cat /d/f"],
                            volumes={"pyvol": {"bind": "/d", "mode": "rw"}}, network_mode="none", remove=True)
print(out.decode().strip())
print(sorted(v.name for v in client.volumes.list()))
try:
    client.volumes.get("nosuch")
except docker.errors.NotFound as e:
    print("notfound", e.explanation)
client.volumes.get("pyvol").remove()
print(sorted(v.name for v in client.volumes.list()))
)");
  auto r = run({"/usr/bin/python3", work_.path() + "/client.py", engine_.dockerHost(), kImage}, {}, 120s);
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_EQ(r.out,
            "pyvol local docker-py\n"
            "from-py\n"
            "['pyvol']\n"
            "notfound get nosuch: no such volume\n"
            "[]\n");
}

TEST_F(ClientsTest, DockerPyGetsEveryExecsOutputWhateverWayItAsksForIt) {
  std::string id = runDetached({"--name", "execs", "--network", "none", kImage, "sleep", "300"});
  ASSERT_FALSE(id.empty());
  // Every output checked, every way docker-py reads an exec: exec_start (all at once, demuxed,
  // streamed), exec_run, and the raw socket; 40 in all, and each must arrive whole.
  writeText(work_.path() + "/execs.py", R"(import sys, docker
client = docker.DockerClient(base_url=sys.argv[1], version="1.41")
api = client.api
wrong = []
for i in range(10):
    e = api.exec_create("execs", ["echo", "hi%d" % i])
    out = api.exec_start(e["Id"])
    if out != b"hi%d\n" % i: wrong.append(("exec_start", i, out))
    if api.exec_inspect(e["Id"])["ExitCode"] != 0: wrong.append(("exit", i))
for i in range(10):
    e = api.exec_create("execs", ["sh", "-c", "echo out%d; echo err%d >&2" % (i, i)])
    out = api.exec_start(e["Id"], demux=True)
    if out != (b"out%d\n" % i, b"err%d\n" % i): wrong.append(("demux", i, out))
for i in range(10):
    r = client.containers.get("execs").exec_run(["echo", "run%d" % i])
    if r.output != b"run%d\n" % i or r.exit_code != 0: wrong.append(("exec_run", i, r))
for i in range(5):
    e = api.exec_create("execs", ["echo", "stream%d" % i])
    got = b"".join(api.exec_start(e["Id"], stream=True))
    if got != b"stream%d\n" % i: wrong.append(("stream", i, got))
for i in range(5):
    e = api.exec_create("execs", ["echo", "sock%d" % i])
    sock = api.exec_start(e["Id"], socket=True)
    data = b""
    while True:
        chunk = sock.read(4096) if hasattr(sock, "read") else sock.recv(4096)
        if not chunk: break
        data += chunk
    sock.close()
    # One stdout frame: stream 1, three zero bytes, the big-endian size, the bytes.
    expected = b"sock%d\n" % i
    if data != b"\x01\x00\x00\x00" + len(expected).to_bytes(4, "big") + expected: wrong.append(("socket", i, data))
print("wrong:", wrong)
r = client.containers.get("execs").exec_run(["nosuchcmd"])
print(r.exit_code, r.output.decode().strip())
)");
  auto r = run({"/usr/bin/python3", work_.path() + "/execs.py", engine_.dockerHost()}, {}, 180s);
  ASSERT_EQ(r.exitCode, 0) << r.out << r.err;
  // dockerd 20.10's answer for a command that does not exist: exit code 126 and the runtime's
  // error in the stream.
  EXPECT_EQ(r.out,
            "wrong: []\n"
            "126 OCI runtime exec failed: exec failed: unable to start container process: exec: \"nosuchcmd\": "
            "executable file not found in $PATH: unknown\n");
  // The docker CLI sees the same.
  auto cli = engine_.docker({"exec", "execs", "nosuchcmd"});
  EXPECT_EQ(cli.exitCode, 126);
  EXPECT_TRUE(contains(cli.out + cli.err, "executable file not found in $PATH")) << cli.out << cli.err;
}

TEST_F(ClientsTest, TheDockerPySuitePassesAsItDoesAgainstDockerd) {
  // tests/integration/clients/docker_py_suite.py checks containers, exec (50 in a row in each
  // mode), images, events and the daemon calls against dockerd 20.10's answers; it passes
  // against the reference engine as it is.
  TempDir archiveDir("berth-pysuite");
  std::string archive = busyboxArchive(archiveDir.path(), "pysuite/loaded:1");
  auto r = run({"/usr/bin/python3", std::string(BERTH_SOURCE_DIR) + "/tests/integration/clients/docker_py_suite.py",
                engine_.dockerHost(), kImage, archive},
               {}, 600s);
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, " failed: 0\n")) << r.out;
}

// Answers observed on the reference dockerd 20.10, which is not a swarm node either.
TEST_F(ClientsTest, SwarmAndPluginQueriesGetTheAnswersOfADockerdThatIsNoSwarmNode) {
  const std::string notManager =
      "Error response from daemon: This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm "
      "join\" to connect this node to swarm and try again.\n";
  for (const auto& args : std::vector<std::vector<std::string>>{{"node", "ls"}, {"service", "ls"}, {"secret", "ls"}}) {
    auto r = engine_.docker(args);
    EXPECT_EQ(r.exitCode, 1) << args[0];
    EXPECT_EQ(r.err, notManager) << args[0];
  }
  auto r = engine_.docker({"swarm", "leave", "--force"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_EQ(r.err, "Error response from daemon: This node is not part of a swarm\n");
  r = engine_.docker({"plugin", "ls"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "ID        NAME      DESCRIPTION   ENABLED\n");
  // docker-py's teardown call takes the 503 as done; its node list raises the 503.
  writeText(work_.path() + "/swarm.py", R"(import sys, docker
c = docker.DockerClient(base_url=sys.argv[1], version="1.41")
print(c.swarm.leave(force=True), c.plugins.list())
try:
    c.nodes.list()
except docker.errors.APIError as e:
    print(e.status_code, e.explanation)
)");
  r = run({"/usr/bin/python3", work_.path() + "/swarm.py", engine_.dockerHost()}, {}, 60s);
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "True []\n503 " + notManager.substr(std::string("Error response from daemon: ").size()));
  // What berth does not implement says so, instead of "page not found".
  r = run({"curl", "-s", "-w", " %{http_code}", "--unix-socket", engine_.socketPath(), "-X", "POST",
           "http://berth/v1.43/swarm/init", "-H", "Content-Type: application/json", "-d", "{}"});
  EXPECT_EQ(r.out, "{\"message\":\"not implemented: berth does not support swarm mode\"}\n 501");
}

// docker-py reads load's answer as a stream (dockerd sends it chunked) and raises ImageLoadError
// from the stream's error for an archive that is no image (dockerd: 200, then errorDetail).
TEST_F(ClientsTest, DockerPyLoadsAnImageAndRaisesItsLoadErrorForBytesThatAreNoArchive) {
  std::string archive = busyboxArchive(work_.path(), "berth-test/pyload:1");
  writeText(work_.path() + "/load.py", R"(import sys, docker
c = docker.DockerClient(base_url=sys.argv[1], version="1.41")
with open(sys.argv[2], "rb") as f:
    images = c.images.load(f.read())
print(len(images), "berth-test/pyload:1" in images[0].tags)
try:
    c.images.load(b"abc")
    print("no error")
except docker.errors.ImageLoadError as e:
    print("ImageLoadError")
)");
  auto r = run({"/usr/bin/python3", work_.path() + "/load.py", engine_.dockerHost(), archive}, {}, 60s);
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "1 True\nImageLoadError\n");
  auto raw = run({"curl", "-s", "-i", "--unix-socket", engine_.socketPath(), "-X", "POST", "-H",
                  "Content-Type: application/x-tar", "--data-binary", "abc", "http://berth/v1.43/images/load"});
  EXPECT_TRUE(startsWith(raw.out, "HTTP/1.1 200 OK\r\n")) << raw.out;
  EXPECT_TRUE(contains(raw.out, "Transfer-Encoding: chunked\r\n")) << raw.out;
  EXPECT_TRUE(contains(raw.out, "{\"error\":\"")) << raw.out;
}

}  // namespace
}  // namespace berth::test
