// The config snapshot: dockerd's flags and daemon.json keys, refused whole when anything is wrong.
#include <gtest/gtest.h>

#include <fstream>

#include "common/config.h"
#include "tests/support/process.h"

namespace berth {
namespace {

Config parse(std::vector<std::string> args) {
  args.insert(args.begin(), "berth");
  return Config::parse(args);
}

std::string errorOf(std::vector<std::string> args) {
  try {
    parse(std::move(args));
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(ConfigTest, DefaultsDeriveTheSocketAndPidfileFromTheExecRoot) {
  auto c = parse({"--exec-root", "/run/x"});
  ASSERT_EQ(c.hosts.size(), 1u);
  EXPECT_EQ(c.hosts[0].original, "unix:///run/x/docker.sock");
  EXPECT_EQ(c.pidfile, "/run/x/berth.pid");
  EXPECT_TRUE(c.liveRestore);
  EXPECT_EQ(c.dataRoot, "/var/lib/berth");
  EXPECT_EQ(c.containerdSocket(), "/run/x/containerd/containerd.sock");
}

TEST(ConfigTest, FlagsTakeBothSpellingsAndRepeatHosts) {
  auto c = parse({"--data-root=/d", "-H", "unix:///tmp/a.sock", "--host=tcp://127.0.0.1:2375", "-D",
                  "--live-restore=false", "--containerd", "/run/ctd.sock"});
  EXPECT_EQ(c.dataRoot, "/d");
  ASSERT_EQ(c.hosts.size(), 2u);
  EXPECT_EQ(c.hosts[1].kind, HostAddress::Kind::tcp);
  EXPECT_EQ(c.hosts[1].port(), 2375);
  EXPECT_EQ(c.logLevel, "debug");
  EXPECT_FALSE(c.liveRestore);
  EXPECT_EQ(c.containerdSocket(), "/run/ctd.sock");
}

TEST(ConfigTest, AConfigFileSetsDaemonJsonKeys) {
  test::TempDir dir;
  std::ofstream(dir.path() + "/daemon.json")
      << R"({"data-root": "/srv/berth", "log-level": "warn", "hosts": ["unix:///tmp/b.sock"], "live-restore": false,
             "shutdown-timeout": 30, "mtu": 1400})";
  auto c = parse({"--config-file", dir.path() + "/daemon.json"});
  EXPECT_EQ(c.dataRoot, "/srv/berth");
  EXPECT_EQ(c.logLevel, "warn");
  EXPECT_EQ(c.hosts.at(0).address, "/tmp/b.sock");
  EXPECT_FALSE(c.liveRestore);
  EXPECT_EQ(c.shutdownTimeout, 30);
  EXPECT_EQ(c.mtu, 1400);
}

TEST(ConfigTest, AnUnknownConfigKeyIsRefusedByName) {
  test::TempDir dir;
  std::ofstream(dir.path() + "/daemon.json") << R"({"log-level": "info", "storage-drvier": "overlay2"})";
  auto msg = errorOf({"--config-file", dir.path() + "/daemon.json"});
  EXPECT_NE(msg.find("don't match any configuration option: storage-drvier"), std::string::npos) << msg;
}

TEST(ConfigTest, ABadValueIsRefusedNamingTheKey) {
  test::TempDir dir;
  std::ofstream(dir.path() + "/daemon.json") << R"({"log-level": "chatty"})";
  auto msg = errorOf({"--config-file", dir.path() + "/daemon.json"});
  EXPECT_NE(msg.find("\"log-level\""), std::string::npos) << msg;
  std::ofstream(dir.path() + "/mtu.json") << R"({"mtu": "big"})";
  msg = errorOf({"--config-file", dir.path() + "/mtu.json"});
  EXPECT_NE(msg.find("\"mtu\""), std::string::npos) << msg;
  std::ofstream(dir.path() + "/bad.json") << R"({"mtu": )";
  msg = errorOf({"--config-file", dir.path() + "/bad.json"});
  EXPECT_NE(msg.find("not a valid JSON object"), std::string::npos) << msg;
}

TEST(ConfigTest, AKeyGivenAsFlagAndInTheFileIsAConflict) {
  test::TempDir dir;
  std::ofstream(dir.path() + "/daemon.json") << R"({"data-root": "/a"})";
  auto msg = errorOf({"--data-root", "/b", "--config-file", dir.path() + "/daemon.json"});
  EXPECT_NE(msg.find("specified both as a flag and in the configuration file: data-root"), std::string::npos) << msg;
}

TEST(ConfigTest, PlainTcpIsAllowedOnlyOnLoopback) {
  EXPECT_EQ(errorOf({"-H", "tcp://127.0.0.1:2375"}), "");
  auto msg = errorOf({"-H", "tcp://0.0.0.0:2375"});
  EXPECT_NE(msg.find("without TLS"), std::string::npos) << msg;
  EXPECT_NE(errorOf({"-H", "http://x"}).find("invalid host"), std::string::npos);
  EXPECT_NE(errorOf({"--bogus"}).find("unknown flag: --bogus"), std::string::npos);
  EXPECT_NE(errorOf({"--data-root", "relative"}).find("not an absolute path"), std::string::npos);
}

// TLS without client verification on an address others can reach authenticates nobody: refused
// unless tlsverify=false says so explicitly (dockerd only warns). Loopback is allowed.
TEST(ConfigTest, UnverifiedTlsOffLoopbackIsRefusedUnlessExplicitlyAccepted) {
  test::TempDir dir;
  for (const char* f : {"/cert.pem", "/key.pem"}) std::ofstream(dir.path() + f) << "x";
  std::vector<std::string> tls = {"--tls", "--tlscert", dir.path() + "/cert.pem", "--tlskey", dir.path() + "/key.pem"};
  auto with = [&](std::vector<std::string> extra) {
    extra.insert(extra.end(), tls.begin(), tls.end());
    return errorOf(extra);
  };
  EXPECT_NE(with({"-H", "tcp://0.0.0.0:2376"}).find("with TLS but no client verification: anyone who reaches it gets root"),
            std::string::npos)
      << with({"-H", "tcp://0.0.0.0:2376"});
  EXPECT_EQ(with({"-H", "tcp://127.0.0.1:2376"}), "");
  EXPECT_EQ(with({"-H", "tcp://0.0.0.0:2376", "--tlsverify=false"}), "");
  // And the explicit choice survives the snapshot the services are started with.
  std::vector<std::string> args = {"berth", "-H", "tcp://0.0.0.0:2376", "--tlsverify=false"};
  args.insert(args.end(), tls.begin(), tls.end());
  auto c = Config::parse(args);
  auto again = c.toArgs();
  again.insert(again.begin(), "berth");
  EXPECT_NO_THROW(Config::parse(again));
}

TEST(ConfigTest, ToArgsReproducesTheSnapshot) {
  auto c = parse({"--data-root", "/d", "--exec-root", "/e", "-H", "unix:///e/s.sock", "--log-level", "warn",
                  "--live-restore=false", "--mtu", "1400"});
  auto args = c.toArgs();
  args.insert(args.begin(), "berth");
  auto d = Config::parse(args);
  EXPECT_EQ(d.dataRoot, c.dataRoot);
  EXPECT_EQ(d.execRoot, c.execRoot);
  EXPECT_EQ(d.hosts.at(0).original, c.hosts.at(0).original);
  EXPECT_EQ(d.logLevel, "warn");
  EXPECT_FALSE(d.liveRestore);
  EXPECT_EQ(d.mtu, 1400);
  EXPECT_EQ(d.pidfile, c.pidfile);
}

}  // namespace
}  // namespace berth
