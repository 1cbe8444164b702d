// The main CLI flows with Debian's docker CLI 20.10 (API 1.41), which older tools still drive,
// beside the current CLI the other tests use: run, ps, exec, logs, inspect, stop, rm, tag, images,
// rmi, volumes, networks and published ports. Expected outputs are what the same client prints
// against the reference dockerd 20.10 (which also lists an IPv6 mapping in `docker port`; berth's
// networks are IPv4 only). The engine runs in a network namespace of its own, as it makes a
// network and publishes a port.
#include "tests/integration/container_fixture.h"

namespace berth::test {
namespace {

// Extracted from docker.io's package by scripts/install-deps.sh.
const std::string kCli2010 = "/usr/local/lib/berth-tests/docker-20.10";

class Cli2010Test : public ContainersTest {
 protected:
  Cli2010Test() : ContainersTest(ownNamespace()) {}
  static Engine::Options ownNamespace() {
    Engine::Options options;
    options.ownNetworkNamespace = true;
    return options;
  }
  CommandResult cli(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {kCli2010};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, {"DOCKER_HOST=" + engine_.dockerHost(), "DOCKER_CONFIG=" + engine_.root() + "/docker-config-2010"}, 60s);
  }
  // stdout when the CLI exits 0; otherwise a line that equals no expected output.
  std::string out(const std::vector<std::string>& args) {
    auto r = cli(args);
    return r.exitCode == 0 ? r.out : "<exit " + std::to_string(r.exitCode) + ": " + r.err + ">";
  }
};

TEST_F(Cli2010Test, TheClientNegotiatesApi141AndRunsTheContainerFlows) {
  ASSERT_TRUE(fs::exists(kCli2010)) << "scripts/install-deps.sh installs it";
  EXPECT_EQ(out({"version", "--format", "{{.Client.Version}} {{.Client.APIVersion}}"}), "20.10.24+dfsg1 1.41\n");
  EXPECT_EQ(out({"run", "--rm", "--pull", "never", kImage, "echo", "hi"}), "hi\n");
  auto r = cli({"run", "--rm", "--pull", "never", kImage, "sh", "-c", "exit 3"});
  EXPECT_EQ(r.exitCode, 3);
  ASSERT_EQ(cli({"run", "-d", "--name", "c20", "--pull", "never", kImage, "sh", "-c", "echo started; sleep 300"}).exitCode, 0);
  EXPECT_TRUE(waitFor([&] { return out({"logs", "c20"}) == "started\n"; }, 10s));
  EXPECT_TRUE(startsWith(out({"ps", "--format", "{{.Names}} {{.Status}}"}), "c20 Up ")) << out({"ps"});
  EXPECT_EQ(out({"exec", "c20", "echo", "in-exec"}), "in-exec\n");
  EXPECT_EQ(out({"inspect", "-f", "{{.State.Status}} {{.HostConfig.NetworkMode}}", "c20"}), "running default\n");
  EXPECT_EQ(out({"stop", "-t", "0", "c20"}), "c20\n");
  EXPECT_EQ(out({"inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "c20"}), "exited 137\n");
  EXPECT_EQ(out({"rm", "c20"}), "c20\n");
  r = cli({"exec", "nosuch", "true"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_TRUE(contains(r.err, "No such container: nosuch")) << r.err;

  EXPECT_EQ(out({"tag", kImage, "cli20/bb:2"}), "");
  EXPECT_EQ(out({"images", "--format", "{{.Repository}}:{{.Tag}}", "cli20/bb"}), "cli20/bb:2\n");
  EXPECT_EQ(out({"rmi", "cli20/bb:2"}), "Untagged: cli20/bb:2\n");
  EXPECT_EQ(out({"volume", "create", "v20"}), "v20\n");
  EXPECT_EQ(out({"volume", "ls", "-q", "--filter", "name=v20"}), "v20\n");
  EXPECT_EQ(out({"volume", "rm", "v20"}), "v20\n");

  ASSERT_EQ(cli({"network", "create", "n20"}).exitCode, 0);
  EXPECT_EQ(out({"network", "ls", "--filter", "name=n20", "--format", "{{.Name}} {{.Driver}}"}), "n20 bridge\n");
  ASSERT_EQ(cli({"run", "-d", "--name", "p20", "--network", "n20", "-p", "18080:80", "--pull", "never", kImage, "sleep", "300"})
                .exitCode,
            0);
  EXPECT_TRUE(contains(out({"port", "p20"}), "80/tcp -> 0.0.0.0:18080\n")) << out({"port", "p20"});
  EXPECT_EQ(out({"inspect", "-f", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}", "p20"}), "n20 \n");
  EXPECT_EQ(out({"rm", "-f", "p20"}), "p20\n");
  EXPECT_EQ(out({"network", "rm", "n20"}), "n20\n");
}

}  // namespace
}  // namespace berth::test
