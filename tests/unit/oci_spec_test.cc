// The OCI spec a container gets from its Docker configuration and its image.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "common/errors.h"
#include "services/containerd-bridge/container_config.h"
#include "services/containerd-bridge/oci_spec.h"
#include "tests/support/process.h"

namespace berth::bridge {
namespace {

using json = nlohmann::json;

class OciSpecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_.path() + "/etc");
    std::ofstream(dir_.path() + "/etc/passwd") << "root:x:0:0:root:/root:/bin/sh\n"
                                                  "app:x:1000:1000::/home/app:/bin/sh\n"
                                                  "nobody:x:65534:65534::/:/bin/false\n";
    std::ofstream(dir_.path() + "/etc/group") << "root:x:0:\napp:x:1000:\naudio:x:29:app\nvideo:x:44:app,other\n"
                                                 "nogroup:x:65534:\n";
  }

  // The image's defaults are merged into the config at create, as production does it.
  json spec(json config, json host = json::object(), json image = json::object()) {
    SpecInput in{mergeImageConfig(std::move(config), image), std::move(host), dir_.path(), "0123456789ab", "/opt/init/tini"};
    return buildOciSpec(in);
  }

  std::string error(json config, json host = json::object(), json image = json::object()) {
    try {
      spec(std::move(config), std::move(host), std::move(image));
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::invalid);
      return e.what();
    }
    return "";
  }

  test::TempDir dir_{"berth-spec"};
};

TEST_F(OciSpecTest, TheImagesDefaultsApplyWhenTheContainerGivesNone) {
  auto s = spec(json::object(), json::object(),
                {{"Entrypoint", {"/entry"}}, {"Cmd", {"serve"}}, {"Env", {"A=1", "PATH=/opt/bin"}}, {"WorkingDir", "/srv"}});
  EXPECT_EQ(s["process"]["args"], json({"/entry", "serve"}));
  EXPECT_EQ(s["process"]["env"], json({"HOSTNAME=0123456789ab", "A=1", "PATH=/opt/bin"}));
  EXPECT_EQ(s["process"]["cwd"], "/srv");
  EXPECT_EQ(s["process"]["user"]["uid"], 0);
  EXPECT_EQ(s["hostname"], "0123456789ab");
  EXPECT_EQ(s["root"]["path"], "rootfs");
  EXPECT_FALSE(s["process"]["terminal"].get<bool>());
}

TEST_F(OciSpecTest, CmdAndEntrypointOverrideAsDockerDoes) {
  json image = {{"Entrypoint", {"/entry"}}, {"Cmd", {"serve"}}};
  EXPECT_EQ(spec({{"Cmd", {"debug"}}}, {}, image)["process"]["args"], json({"/entry", "debug"}));
  EXPECT_EQ(spec({{"Entrypoint", {"/bin/sh"}}}, {}, image)["process"]["args"], json({"/bin/sh"}));
  EXPECT_EQ(spec({{"Entrypoint", {"/bin/sh"}}, {"Cmd", {"-c", "true"}}}, {}, image)["process"]["args"],
            json({"/bin/sh", "-c", "true"}));
  EXPECT_EQ(error(json::object()), "no command specified");
}

TEST_F(OciSpecTest, ContainerEnvironmentOverridesTheImageAndTtySetsTerm) {
  auto s = spec({{"Cmd", {"x"}}, {"Env", {"A=2", "B=3", "NOVALUE"}}, {"Tty", true}}, {}, {{"Env", {"A=1"}}});
  auto env = s["process"]["env"];
  EXPECT_NE(std::find(env.begin(), env.end(), "A=2"), env.end());
  EXPECT_EQ(std::find(env.begin(), env.end(), "A=1"), env.end());
  EXPECT_NE(std::find(env.begin(), env.end(), "TERM=xterm"), env.end());
  EXPECT_TRUE(s["process"]["terminal"].get<bool>());
  EXPECT_NE(error({{"Cmd", {"x"}}, {"WorkingDir", "relative"}}).find("needs to be an absolute path"), std::string::npos);
}

TEST_F(OciSpecTest, UsersAndGroupsResolveInTheImagesFiles) {
  auto u = spec({{"Cmd", {"x"}}, {"User", "app"}})["process"]["user"];
  EXPECT_EQ(u["uid"], 1000);
  EXPECT_EQ(u["gid"], 1000);
  // The primary group first (dockerd since 20.10.18), then the memberships.
  EXPECT_EQ(u["additionalGids"], json({1000, 29, 44}));
  u = spec({{"Cmd", {"x"}}, {"User", "1234:55"}})["process"]["user"];
  EXPECT_EQ(u["uid"], 1234);
  EXPECT_EQ(u["gid"], 55);
  EXPECT_EQ(u["additionalGids"], json({55}));
  u = spec({{"Cmd", {"x"}}, {"User", "nobody:nogroup"}}, {{"GroupAdd", {"audio", "7"}}})["process"]["user"];
  EXPECT_EQ(u["uid"], 65534);
  EXPECT_EQ(u["gid"], 65534);
  EXPECT_EQ(u["additionalGids"], json({65534, 29, 7}));
  EXPECT_EQ(error({{"Cmd", {"x"}}, {"User", "ghost"}}), "unable to find user ghost: no matching entries in passwd file");
  EXPECT_EQ(error({{"Cmd", {"x"}}, {"User", "app:ghosts"}}),
            "unable to find group ghosts: no matching entries in group file");
}

TEST_F(OciSpecTest, CapabilitiesFollowDockersDefaultsAddsAndDrops) {
  auto caps = spec({{"Cmd", {"x"}}})["process"]["capabilities"]["bounding"];
  EXPECT_EQ(caps.size(), 14u);
  EXPECT_NE(std::find(caps.begin(), caps.end(), "CAP_NET_RAW"), caps.end());
  EXPECT_EQ(std::find(caps.begin(), caps.end(), "CAP_SYS_ADMIN"), caps.end());
  caps = spec({{"Cmd", {"x"}}}, {{"CapAdd", {"net_admin"}}, {"CapDrop", {"NET_RAW"}}})["process"]["capabilities"]["effective"];
  EXPECT_NE(std::find(caps.begin(), caps.end(), "CAP_NET_ADMIN"), caps.end());
  EXPECT_EQ(std::find(caps.begin(), caps.end(), "CAP_NET_RAW"), caps.end());
  caps = spec({{"Cmd", {"x"}}}, {{"CapDrop", {"ALL"}}, {"CapAdd", {"CHOWN"}}})["process"]["capabilities"]["permitted"];
  EXPECT_EQ(caps, json({"CAP_CHOWN"}));
  auto priv = spec({{"Cmd", {"x"}}}, {{"Privileged", true}});
  EXPECT_GT(priv["process"]["capabilities"]["bounding"].size(), 35u);
  EXPECT_FALSE(priv["linux"].contains("maskedPaths"));
  // moby's masked paths, powercap included (CVE-2020-8694).
  EXPECT_EQ(spec({{"Cmd", {"x"}}})["linux"]["maskedPaths"],
            json({"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                  "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
                  "/sys/devices/virtual/powercap"}));
  EXPECT_NE(error({{"Cmd", {"x"}}}, {{"CapAdd", {"FLY"}}}).find("unknown capability: \"CAP_FLY\""), std::string::npos);
}

TEST_F(OciSpecTest, ResourcesBecomeCgroupLimitsAndBadValuesAreRefused) {
  auto s = spec({{"Cmd", {"x"}}}, {{"Memory", 64 << 20}, {"MemorySwap", 128 << 20}, {"NanoCpus", 1500000000},
                                   {"CpuShares", 512}, {"CpusetCpus", "0"}, {"PidsLimit", 100}});
  auto r = s["linux"]["resources"];
  EXPECT_EQ(r["memory"]["limit"], 64 << 20);
  EXPECT_EQ(r["memory"]["swap"], 128 << 20);
  EXPECT_EQ(r["cpu"]["quota"], 150000);
  EXPECT_EQ(r["cpu"]["period"], 100000);
  EXPECT_EQ(r["cpu"]["shares"], 512);
  EXPECT_EQ(r["cpu"]["cpus"], "0");
  EXPECT_EQ(r["pids"]["limit"], 100);
  EXPECT_EQ(error({{"Cmd", {"x"}}}, {{"Memory", 1 << 20}}), "Minimum memory limit allowed is 6MB");
  EXPECT_NE(error({{"Cmd", {"x"}}}, {{"Memory", 64 << 20}, {"MemorySwap", 32 << 20}}).find("memoryswap"), std::string::npos);
}

TEST_F(OciSpecTest, BindsAndTmpfsMountAsAskedAndReplaceStandardMounts) {
  auto s = spec({{"Cmd", {"x"}}}, {{"Binds", {"/srv/data:/data:ro", "/srv/logs:/logs:rw,rshared"}},
                                   {"Tmpfs", {{"/dev/shm", "size=1m"}, {"/run", ""}}}});
  auto mounts = s["mounts"];
  auto find = [&](const std::string& dst) {
    for (const auto& m : mounts) {
      if (m["destination"] == dst) return m;
    }
    return json();
  };
  EXPECT_EQ(find("/data")["options"], json({"rbind", "ro", "rprivate"}));
  EXPECT_EQ(find("/data")["source"], "/srv/data");
  EXPECT_EQ(find("/logs")["options"], json({"rbind", "rw", "rshared"}));
  EXPECT_EQ(find("/dev/shm")["options"], json({"nosuid", "nodev", "noexec", "size=1m"}));
  int shm = 0;
  for (const auto& m : mounts) shm += m["destination"] == "/dev/shm";
  EXPECT_EQ(shm, 1);
  EXPECT_EQ(find("/proc")["type"], "proc");
  EXPECT_NE(error({{"Cmd", {"x"}}}, {{"Binds", {"relative:/x"}}}).find("must be an absolute path"), std::string::npos);
  EXPECT_NE(error({{"Cmd", {"x"}}}, {{"Binds", {"/a:/b:sideways"}}}).find("invalid mode: sideways"), std::string::npos);
}

TEST_F(OciSpecTest, HostNetworkKeepsTheHostsNamespaceAndSecurityOptionsApply) {
  auto ns = spec({{"Cmd", {"x"}}}, {{"NetworkMode", "host"}})["linux"]["namespaces"];
  ASSERT_GE(ns.size(), 4u) << ns.dump();  // pid, ipc, uts, mount at least: the loop below checks something
  for (const auto& n : ns) EXPECT_NE(n["type"], "network");
  ns = spec({{"Cmd", {"x"}}}, {{"NetworkMode", "none"}})["linux"]["namespaces"];
  EXPECT_EQ(ns.back()["type"], "network");
  auto s = spec({{"Cmd", {"x"}}}, {{"SecurityOpt", {"no-new-privileges"}}, {"ReadonlyRootfs", true},
                                   {"Ulimits", {{{"Name", "nofile"}, {"Soft", 1024}, {"Hard", 2048}}}}});
  EXPECT_TRUE(s["process"]["noNewPrivileges"].get<bool>());
  EXPECT_TRUE(s["root"]["readonly"].get<bool>());
  EXPECT_EQ(s["process"]["rlimits"][0], json({{"type", "RLIMIT_NOFILE"}, {"hard", 2048}, {"soft", 1024}}));
}

TEST_F(OciSpecTest, TheDefaultSeccompProfileAllowsByNameAndFollowsCapabilities) {
  auto names = [](const json& profile) {
    std::set<std::string> out;
    for (const auto& rule : profile["syscalls"]) {
      if (rule["action"] == "SCMP_ACT_ALLOW" && !rule.contains("args")) {
        for (const auto& n : rule["names"]) out.insert(n);
      }
    }
    return out;
  };
  auto profile = spec({{"Cmd", {"x"}}})["linux"]["seccomp"];
  EXPECT_EQ(profile["defaultAction"], "SCMP_ACT_ERRNO");
  auto allowed = names(profile);
  for (const char* n : {"read", "write", "execve", "openat", "socket", "chroot"}) EXPECT_TRUE(allowed.count(n)) << n;
  for (const char* n : {"mount", "unshare", "setns", "kexec_load", "add_key", "keyctl", "reboot", "init_module"}) {
    EXPECT_FALSE(allowed.count(n)) << n;
  }
  // 32-bit x86 names stay: the profile also covers 32-bit processes in the container.
  EXPECT_TRUE(allowed.count("chown32"));
  auto admin = names(spec({{"Cmd", {"x"}}}, {{"CapAdd", {"SYS_ADMIN"}}})["linux"]["seccomp"]);
  EXPECT_TRUE(admin.count("mount"));
  EXPECT_TRUE(admin.count("unshare"));
  EXPECT_FALSE(spec({{"Cmd", {"x"}}}, {{"SecurityOpt", {"seccomp=unconfined"}}})["linux"].contains("seccomp"));
  EXPECT_FALSE(spec({{"Cmd", {"x"}}}, {{"Privileged", true}})["linux"].contains("seccomp"));
  json custom = {{"defaultAction", "SCMP_ACT_ALLOW"}};
  EXPECT_EQ(spec({{"Cmd", {"x"}}}, {{"SecurityOpt", {"seccomp=" + custom.dump()}}})["linux"]["seccomp"], custom);
  EXPECT_NE(error({{"Cmd", {"x"}}}, {{"SecurityOpt", {"seccomp={oops"}}}).find("Decoding seccomp profile failed"),
            std::string::npos);
  EXPECT_NE(error({{"Cmd", {"x"}}}, {{"SecurityOpt", {"frobnicate"}}}).find("Invalid --security-opt"), std::string::npos);
}

TEST_F(OciSpecTest, InitRunsTheCommandUnderTheInitBoundReadOnlyAtSbinDockerInit) {
  auto s = spec({{"Cmd", {"sleep", "1"}}}, {{"Init", true}});
  EXPECT_EQ(s["process"]["args"], json({"/sbin/docker-init", "--", "sleep", "1"}));
  bool mounted = false;
  for (const auto& m : s["mounts"]) {
    if (m["destination"] == "/sbin/docker-init") {
      mounted = true;
      EXPECT_EQ(m["source"], "/opt/init/tini");
      EXPECT_EQ(m["options"], json({"rbind", "ro"}));
    }
  }
  EXPECT_TRUE(mounted);
  EXPECT_EQ(spec({{"Cmd", {"sleep", "1"}}}, {{"Init", false}})["process"]["args"], json({"sleep", "1"}));
}

}  // namespace
}  // namespace berth::bridge
