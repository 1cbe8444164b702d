// A running container's resources through the real docker CLI and the raw API: docker stats
// reads its cgroup (memory it holds, CPU it burns, its limits), docker update changes limits
// that the container then reads from inside its own cgroup, and refuses bad values whole.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/integration/container_fixture.h"
#include "tests/support/http_client.h"

namespace berth::test {
namespace {

using json = nlohmann::json;

class ContainerResourcesTest : public ContainersTest {
 protected:
  json statsOnce(const std::string& id) {
    auto r = httpRequest(engine_.socketPath(), "GET", "/containers/" + id + "/stats?stream=false");
    EXPECT_EQ(r.status, 200) << r.head << r.body;
    return json::parse(r.body, nullptr, false);
  }

  // What the container reads from its own cgroup (v1 controller file or its v2 equivalent).
  std::string cgroupFile(const std::string& ref, const std::string& v1, const std::string& v2) {
    return trimNewline(
        engine_.docker({"exec", ref, "sh", "-c", "cat /sys/fs/cgroup/" + v1 + " 2>/dev/null || cat /sys/fs/cgroup/" + v2})
            .out);
  }
};

TEST_F(ContainerResourcesTest, StatsReportsTheMemoryACpuHungryContainerHoldsAndItsLimit) {
  // 24 MB held in a shell variable, then a busy loop.
  std::string id = runDetached({"--name", "hungry", "--memory", "64m", kImage, "sh", "-c",
                                "x=$(head -c 25000000 /dev/zero | tr '\\0' a); while :; do :; done"});
  ASSERT_FALSE(id.empty());
  json doc;
  ASSERT_TRUE(waitFor(
      [&] {
        doc = statsOnce(id);
        return doc.is_object() && doc["memory_stats"].value("usage", int64_t{0}) > 24000000;
      },
      10s, 200ms))
      << doc.dump();
  EXPECT_EQ(doc["memory_stats"].value("limit", int64_t{0}), 64 * 1024 * 1024);
  EXPECT_EQ(doc["name"], "/hungry");
  EXPECT_EQ(doc["id"], id);
  // Two samples a second apart (stream=false): the loop used CPU between them.
  int64_t now = doc["cpu_stats"]["cpu_usage"]["total_usage"], before = doc["precpu_stats"]["cpu_usage"]["total_usage"];
  EXPECT_GT(now - before, 100 * 1000 * 1000) << doc.dump();
  EXPECT_GT(doc["cpu_stats"].value("system_cpu_usage", int64_t{0}), doc["precpu_stats"].value("system_cpu_usage", int64_t{0}));
  EXPECT_GT(doc["pids_stats"].value("current", 0), 0);

  // The CLI's view of the same: a percentage and the limit.
  auto r = engine_.docker({"stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}} {{.CPUPerc}}", "hungry"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_TRUE(startsWith(r.out, "hungry ")) << r.out;
  EXPECT_TRUE(contains(r.out, "/ 64MiB")) << r.out;
  EXPECT_FALSE(contains(r.out, " 0.00%")) << r.out;

  // A stopped container answers zeros, as dockerd does.
  ASSERT_EQ(engine_.docker({"stop", "-t", "0", "hungry"}).exitCode, 0);
  doc = statsOnce(id);
  EXPECT_EQ(doc["read"], "0001-01-01T00:00:00Z");
  EXPECT_EQ(doc["cpu_stats"]["cpu_usage"]["total_usage"], 0);
}

TEST_F(ContainerResourcesTest, StatsStreamsASamplePerSecondUntilTheClientLeaves) {
  std::string id = runDetached({kImage, "sleep", "300"});
  ASSERT_FALSE(id.empty());
  HttpExchange stream(engine_.socketPath(),
                      "GET /containers/" + id + "/stats HTTP/1.1\r\nHost: berth\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(stream.waitForHead(5000));
  // The stream does not end by itself: five seconds on it is still open when the client leaves.
  auto r = stream.finish(5000);
  EXPECT_EQ(r.status, 200) << r.head;
  EXPECT_TRUE(r.timedOut) << "the server ended the stream: " << r.body.substr(0, 500);
  EXPECT_FALSE(r.complete);
  size_t samples = 0;
  for (size_t at = r.body.find("\"read\""); at != std::string::npos; at = r.body.find("\"read\"", at + 1)) ++samples;
  EXPECT_GE(samples, 3u) << r.body.substr(0, 500);
  EXPECT_LE(samples, 7u);
  // The container is unaffected by the client leaving, and the engine serves the next client.
  EXPECT_EQ(inspect(engine_, id, "{{.State.Running}}"), "true");
}

TEST_F(ContainerResourcesTest, AContainerKilledForMemoryIsMarkedOomKilledWithAnOomEvent) {
  auto since = std::to_string(unixNow() - 1);
  // 64 MB into a shell variable under a 16 MB limit (without swap).
  auto r = engine_.docker({"run", "--name", "greedy", "--pull", "never", "--memory", "16m", "--memory-swap", "16m", kImage,
                           "sh", "-c", "x=$(head -c 64000000 /dev/zero | tr '\\0' a); echo survived"});
  EXPECT_EQ(r.exitCode, 137) << r.out << r.err;
  EXPECT_FALSE(contains(r.out, "survived"));
  EXPECT_EQ(inspect(engine_, "greedy", "{{.State.OOMKilled}} {{.State.ExitCode}}"), "true 137");
  std::string events;
  ASSERT_TRUE(waitFor(
      [&] {
        events = engine_.docker({"events", "--since", since, "--until", std::to_string(unixNow() + 1), "--filter",
                                 "container=greedy", "--format", "{{.Action}}"})
                     .out;
        return contains(events, "oom\n");
      },
      5s, 200ms))
      << events;
  EXPECT_TRUE(contains(events, "die\n")) << events;
  // With room to grow (docker update on the stopped container), the next run survives and
  // the new start cleared the mark.
  ASSERT_EQ(engine_.docker({"update", "--memory", "256m", "--memory-swap", "256m", "greedy"}).exitCode, 0);
  r = engine_.docker({"start", "-a", "greedy"});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "survived\n");
  EXPECT_EQ(inspect(engine_, "greedy", "{{.State.OOMKilled}}"), "false");
}

TEST_F(ContainerResourcesTest, HealthChecksTurnUnhealthyThenHealthyWithEventsPsFiltersAndTimeouts) {
  auto since = std::to_string(unixNow() - 1);
  // Failing until /tmp/ok appears a second after the start; two failures make it unhealthy.
  std::string id = runDetached({"--name", "doctor", "--health-cmd", "test -e /tmp/ok", "--health-interval", "200ms",
                                "--health-retries", "2", "--health-timeout", "2s", kImage, "sh", "-c",
                                "sleep 1.5; touch /tmp/ok; exec sleep 300"});
  ASSERT_FALSE(id.empty());
  // Before its first probe a container is starting (an hour's interval keeps this one so).
  std::string patient = runDetached({"--name", "patient", "--health-cmd", "true", "--health-interval", "1h", kImage, "sleep", "300"});
  ASSERT_FALSE(patient.empty());
  EXPECT_EQ(inspect(engine_, "patient", "{{.State.Health.Status}} {{.State.Health.FailingStreak}}"), "starting 0");
  EXPECT_TRUE(contains(engine_.docker({"ps", "--format", "{{.Status}}", "--filter", "name=patient"}).out, "(health: starting)"));
  ASSERT_TRUE(waitFor([&] { return inspect(engine_, "doctor", "{{.State.Health.Status}}") == "unhealthy"; }, 5s))
      << inspect(engine_, "doctor", "{{json .State.Health}}");
  EXPECT_EQ(engine_.docker({"ps", "--filter", "health=unhealthy", "--format", "{{.Names}}"}).out, "doctor\n");
  ASSERT_TRUE(waitFor([&] { return inspect(engine_, "doctor", "{{.State.Health.Status}}") == "healthy"; }, 5s))
      << inspect(engine_, "doctor", "{{json .State.Health}}");
  EXPECT_EQ(inspect(engine_, "doctor", "{{.State.Health.FailingStreak}}"), "0");
  auto log = inspect(engine_, "doctor", "{{range .State.Health.Log}}{{.ExitCode}} {{end}}");
  EXPECT_TRUE(startsWith(log, "1 ") || contains(log, " 1 ")) << log;
  EXPECT_TRUE(log.size() >= 2 && log.substr(log.size() - 2) == "0 ") << log;
  EXPECT_TRUE(contains(engine_.docker({"ps", "--format", "{{.Status}}", "--filter", "name=doctor"}).out, "(healthy)"));
  EXPECT_EQ(engine_.docker({"ps", "--filter", "health=healthy", "--format", "{{.Names}}"}).out, "doctor\n");
  auto events = engine_.docker({"events", "--since", since, "--until", std::to_string(unixNow() + 1), "--filter",
                                "container=doctor", "--filter", "event=health_status", "--format", "{{.Action}}"});
  EXPECT_TRUE(inOrder(lines(events.out), {"health_status: unhealthy", "health_status: healthy"})) << events.out;

  // A probe that outlives its timeout is killed and counts as a failure.
  std::string slow = runDetached({"--name", "slowpoke", "--health-cmd", "sleep 5", "--health-interval", "200ms",
                                  "--health-timeout", "300ms", "--health-retries", "1", kImage, "sleep", "300"});
  ASSERT_FALSE(slow.empty());
  ASSERT_TRUE(waitFor([&] { return inspect(engine_, "slowpoke", "{{.State.Health.Status}}") == "unhealthy"; }, 5s));
  EXPECT_TRUE(contains(inspect(engine_, "slowpoke", "{{range .State.Health.Log}}{{.Output}}|{{end}}"),
                       "Health check exceeded timeout (300ms)"));

  // The image's HEALTHCHECK applies unless the run turns it off.
  ASSERT_EQ(engine_.docker({"commit", "--change", "HEALTHCHECK --interval=200ms CMD true", "slowpoke", "berth-test/checked:1"})
                .exitCode,
            0);
  std::string inherited = runDetached({"--name", "inherited", "berth-test/checked:1", "sleep", "300"});
  ASSERT_FALSE(inherited.empty());
  EXPECT_TRUE(waitFor([&] { return inspect(engine_, "inherited", "{{.State.Health.Status}}") == "healthy"; }, 5s));
  std::string unchecked = runDetached({"--name", "unchecked", "--no-healthcheck", "berth-test/checked:1", "sleep", "300"});
  ASSERT_FALSE(unchecked.empty());
  EXPECT_EQ(inspect(engine_, "unchecked", "{{.State.Health}}"), "<nil>");
  EXPECT_EQ(engine_.docker({"ps", "--filter", "health=none", "--format", "{{.Names}}"}).out, "unchecked\n");
}

TEST_F(ContainerResourcesTest, SecurityAndResourceOptionsHoldInsideTheContainer) {
  auto inside = [&](std::vector<std::string> options, const std::string& script) {
    std::vector<std::string> argv = {"run", "--rm", "--pull", "never"};
    argv.insert(argv.end(), options.begin(), options.end());
    argv.insert(argv.end(), {kImage, "sh", "-c", script});
    auto r = engine_.docker(argv);
    EXPECT_EQ(r.exitCode, 0) << r.err;
    return trimNewline(r.out);
  };
  auto status = [](const std::string& field) { return "grep '^" + field + ":' /proc/self/status | cut -f2"; };
  // Docker's default capability set, none at all, one added, all with --privileged.
  EXPECT_EQ(inside({}, status("CapEff")), "00000000a80425fb");
  EXPECT_EQ(inside({"--cap-drop", "ALL"}, status("CapBnd")), "0000000000000000");
  EXPECT_EQ(inside({"--cap-drop", "ALL", "--cap-add", "NET_ADMIN"}, status("CapEff")), "0000000000001000");
  // --privileged: every capability the engine itself may hand on (its bounding set, ours too).
  std::string bounding = trimNewline(run({"sh", "-c", status("CapBnd")}).out);
  EXPECT_EQ(inside({"--privileged"}, status("CapEff")), bounding);
  // seccomp: berth's default profile filters (mode 2) unless unconfined; no-new-privileges.
  EXPECT_EQ(inside({}, status("Seccomp")), "2");
  EXPECT_EQ(inside({"--security-opt", "seccomp=unconfined"}, status("Seccomp")), "0");
  EXPECT_EQ(inside({"--security-opt", "no-new-privileges"}, status("NoNewPrivs")), "1");
  // rlimits, supplementary groups, CPU shares and cpuset from the container's own cgroup.
  EXPECT_EQ(inside({"--ulimit", "nofile=512:1024"}, "echo $(ulimit -n) $(ulimit -Hn)"), "512 1024");
  EXPECT_TRUE(contains(inside({"--group-add", "1234"}, "id -G"), "1234"));
  // cgroup v1 takes the shares as given; on v2 runc writes cpu.weight = 1 + (shares - 2) * 9999 / 262142
  // (runc's ConvertCPUSharesToCgroupV2Value), which is 20 for 512.
  bool v2 = fs::exists("/sys/fs/cgroup/cgroup.controllers");
  EXPECT_EQ(inside({"--cpu-shares", "512"}, "cat /sys/fs/cgroup/cpu/cpu.shares 2>/dev/null || cat /sys/fs/cgroup/cpu.weight"),
            v2 ? "20" : "512");
  EXPECT_EQ(inside({"--cpuset-cpus", "0"}, "cat /sys/fs/cgroup/cpuset/cpuset.cpus 2>/dev/null || cat /sys/fs/cgroup/cpuset.cpus"),
            "0");
  EXPECT_EQ(inside({"--cpus", "0.5"}, "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cut -d' ' -f1 /sys/fs/cgroup/cpu.max"),
            "50000");

  // --stop-signal and --stop-timeout: docker stop sends USR1, which this container traps.
  std::string id = runDetached({"--name", "polite", "--stop-signal", "USR1", "--stop-timeout", "5", kImage, "sh", "-c",
                                "trap 'echo got USR1; exit 0' USR1; while :; do sleep 0.1; done"});
  ASSERT_FALSE(id.empty());
  auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(engine_.docker({"stop", "polite"}).exitCode, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 4s) << "the stop signal was not USR1";
  EXPECT_EQ(engine_.output({"logs", "polite"}), "got USR1\n");
  EXPECT_EQ(inspect(engine_, "polite", "{{.State.ExitCode}}"), "0");
}

TEST_F(ContainerResourcesTest, UpdateChangesTheLimitsARunningContainerReadsAndKeepsThemAcrossARestart) {
  std::string id = runDetached({"--name", "elastic", "--memory", "64m", kImage, "sleep", "300"});
  ASSERT_FALSE(id.empty());
  auto r = engine_.docker({"update", "--memory", "128m", "--memory-swap", "256m", "--cpus", "0.5", "--pids-limit", "50",
                           "--restart", "on-failure:2", "elastic"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(cgroupFile("elastic", "memory/memory.limit_in_bytes", "memory.max"), "134217728");
  EXPECT_EQ(cgroupFile("elastic", "pids/pids.max", "pids.max"), "50");
  std::string quota = cgroupFile("elastic", "cpu/cpu.cfs_quota_us", "cpu.max");
  EXPECT_TRUE(quota == "50000" || startsWith(quota, "50000 ")) << quota;
  EXPECT_EQ(inspect(engine_, "elastic", "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.RestartPolicy.Name}}"),
            "134217728 500000000 on-failure");

  ASSERT_EQ(engine_.docker({"restart", "-t", "0", "elastic"}).exitCode, 0);
  EXPECT_EQ(cgroupFile("elastic", "memory/memory.limit_in_bytes", "memory.max"), "134217728");
  EXPECT_EQ(cgroupFile("elastic", "pids/pids.max", "pids.max"), "50");
}

TEST_F(ContainerResourcesTest, UpdateRefusesBadValuesAndChangesNothing) {
  std::string id = runDetached({"--name", "steady", "--memory", "64m", "--memory-swap", "64m", kImage, "sleep", "300"});
  ASSERT_FALSE(id.empty());
  auto r = engine_.docker({"update", "--memory", "1m", "steady"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_TRUE(contains(r.err, "Minimum memory limit allowed is 6MB")) << r.err;
  r = engine_.docker({"update", "--memory", "128m", "steady"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_TRUE(contains(r.err, "Memory limit should be smaller than already set memoryswap limit")) << r.err;
  r = engine_.docker({"update", "--cpus", "1000", "steady"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_TRUE(contains(r.err, "Range of CPUs is from 0.01")) << r.err;
  r = engine_.docker({"update", "--restart", "sometimes", "steady"});
  EXPECT_EQ(r.exitCode, 1);
  // dockerd 20.10: "invalid restart policy 'sometimes'"; moby 24 (API 1.43, berth's) names the
  // valid ones: "invalid restart policy: unknown policy 'sometimes'; use one of ...".
  EXPECT_TRUE(contains(r.err, "invalid restart policy: unknown policy 'sometimes'")) << r.err;
  EXPECT_EQ(cgroupFile("steady", "memory/memory.limit_in_bytes", "memory.max"), "67108864");
  EXPECT_EQ(inspect(engine_, "steady", "{{.HostConfig.Memory}} {{.HostConfig.RestartPolicy.Name}}"), "67108864 no");

  std::string removable = runDetached({"--rm", kImage, "sleep", "300"});
  ASSERT_FALSE(removable.empty());
  r = engine_.docker({"update", "--restart", "always", removable});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_TRUE(contains(r.err, "Restart policy cannot be updated because AutoRemove is enabled")) << r.err;
  r = engine_.docker({"update", "--memory", "64m", "nosuchcontainer"});
  EXPECT_EQ(r.exitCode, 1);
  EXPECT_TRUE(contains(r.err, "No such container")) << r.err;
}

// The fuzz finding (docs/fuzzing.md): a float no int64 holds, a Ulimit's "Hard": 2e48, was cast
// with undefined behaviour in the bridge. dockerd's decoder refuses such a body; so does berth,
// with its words, as a 400 (the reference dockerd 20.10 answers create and update with a 500,
// moby 23+ with a 400), and nothing is created, named or changed.
TEST_F(ContainerResourcesTest, NumbersTheirGoTypesCannotHoldGetA400AndCreateOrChangeNothing) {
  auto before = engine_.children();
  auto post = [&](const std::string& path, const std::string& body) {
    return httpRequest(engine_.socketPath(), "POST", path, body, "Content-Type: application/json\r\n");
  };
  auto message = [](const HttpResult& r) {
    auto body = json::parse(r.body, nullptr, false);
    return body.is_object() ? body.value("message", "") : "not a JSON error: " + r.body;
  };
  const std::string image = "\"Image\":\"" + kImage + "\",\"Cmd\":[\"sleep\",\"300\"]";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"("HostConfig":{"Ulimits":[{"Name":"nofile","Soft":1,"Hard":2e48}]})",
       "json: cannot unmarshal number 2e48 into Go struct field Ulimit.HostConfig.Ulimits.Hard of type int64"},
      {R"("HostConfig":{"Memory":1.5})",
       "json: cannot unmarshal number 1.5 into Go struct field HostConfig.HostConfig.Memory of type int64"},
      {R"("HostConfig":{"BlkioWeight":70000})",
       "json: cannot unmarshal number 70000 into Go struct field HostConfig.HostConfig.BlkioWeight of type uint16"},
      {R"("StopTimeout":"5")",
       "json: cannot unmarshal string into Go struct field ContainerConfigWrapper.StopTimeout of type int"},
      {R"("Healthcheck":{"Test":["CMD","true"],"Interval":1.5})",
       "json: cannot unmarshal number 1.5 into Go struct field HealthConfig.Healthcheck.Interval of type time.Duration"},
      {R"("HostConfig":{"OomScoreAdj":1001})", "Invalid value 1001, range for oom score adj is [-1000, 1000]"},
  };
  for (const auto& [fields, expected] : cases) {
    auto r = post("/v1.43/containers/create?name=floaty", "{" + image + "," + fields + "}");
    EXPECT_EQ(r.status, 400) << fields << ": " << r.body;
    EXPECT_EQ(message(r), expected) << fields;
  }
  EXPECT_EQ(engine_.output({"ps", "-aq"}), "");
  // The name was never taken: the same body with its numbers in range creates "floaty".
  auto r = post("/v1.43/containers/create?name=floaty",
                "{" + image + R"(,"HostConfig":{"Memory":67108864,"Ulimits":[{"Name":"nofile","Soft":1024,"Hard":2048}]}})");
  ASSERT_EQ(r.status, 201) << r.body;
  ASSERT_EQ(engine_.docker({"start", "floaty"}).exitCode, 0);
  // The container's own process: an exec's soft limit comes out as its hard one, under dockerd
  // 20.10 on Debian's runc 1.1.5 as here (`docker exec … sh -c 'ulimit -n'` says 2048 there).
  EXPECT_EQ(trimNewline(engine_.output({"exec", "floaty", "awk", "/Max open files/ {print $4, $5}", "/proc/1/limits"})),
            "1024 2048");

  // update: refused whole, the limit the container reads unchanged.
  r = post("/v1.43/containers/floaty/update", R"({"Memory":2e48})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(message(r), "json: cannot unmarshal number 2e48 into Go struct field UpdateConfig.Memory of type int64");
  r = post("/v1.43/containers/floaty/update", R"({"Memory":134217728,"BlkioWeight":-1})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(message(r), "json: cannot unmarshal number -1 into Go struct field UpdateConfig.BlkioWeight of type uint16");
  EXPECT_EQ(cgroupFile("floaty", "memory/memory.limit_in_bytes", "memory.max"), "67108864");
  EXPECT_EQ(inspect(engine_, "floaty", "{{.HostConfig.Memory}}"), "67108864");
  // No process died on the way.
  auto after = engine_.children();
  for (const auto& [name, info] : before) EXPECT_EQ(after.at(name).pid, info.pid) << name;
}

}  // namespace
}  // namespace berth::test
