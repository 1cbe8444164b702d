// The engine as a whole, driven through the real docker CLI and berthctl: it starts as a
// supervisor with separate processes, answers version/info/events, survives kill -9 of any
// part, restarts one service on request, stops cleanly, and refuses bad starts.
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <nlohmann/json.hpp>
#include <mutex>
#include <regex>
#include <thread>

#include "tests/support/cgroups.h"
#include "tests/support/engine.h"
#include "tests/support/http_client.h"
#include "tests/support/ping_loop.h"
#include "tests/support/process.h"
#include "tests/support/test_images.h"

namespace berth::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

const std::vector<std::string> kServices = {"images", "volumes", "network", "containerd-bridge", "api"};

bool waitForGone(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (processAlive(pid)) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

std::string exeName(pid_t pid) {
  std::error_code ec;
  return std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec).filename().string();
}

// docker info's warnings about services that did not answer (it still exits 0 then).
std::string unansweredWarnings(Engine& engine) {
  auto r = engine.docker({"info", "--format", "{{range .Warnings}}{{println .}}{{end}}"});
  if (r.exitCode != 0) return "docker info failed: " + r.err;
  std::string out;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("did not answer") != std::string::npos || line.find("not answering") != std::string::npos) {
      out += line + "\n";
    }
  }
  return out;
}

TEST(EngineTest, DockerVersionShowsBerthsServerAndApiVersion) {
  Engine engine;
  auto r = engine.docker({"version", "--format", "{{.Server.Platform.Name}}|{{.Server.Version}}|{{.Server.APIVersion}}|{{.Server.MinAPIVersion}}"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "berth 0.1.0|0.1.0|1.43|1.24\n");
}

TEST(EngineTest, DockerVersionListsTheContainerdAndRuncItRuns) {
  Engine engine;
  auto r = engine.docker({"version", "--format", "{{range .Server.Components}}{{.Name}}={{.Version}};{{end}}"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  // containerd's own answer: "containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3"
  auto containerd = run({"containerd", "--version"});
  std::istringstream words(containerd.out);
  std::string name, module, version;
  words >> name >> module >> version;
  auto runc = run({"runc", "--version"});
  std::string runcVersion = runc.out.substr(13, runc.out.find('\n') - 13);
  EXPECT_EQ(r.out, "Engine=0.1.0;containerd=" + version + ";runc=" + runcVersion + ";\n");
  r = engine.docker({"info", "--format", "{{.ContainerdCommit.ID}}|{{.RuncCommit.ID}}"});
  auto bar = r.out.find('|');
  ASSERT_NE(bar, std::string::npos) << r.out;
  EXPECT_GT(bar, 0u) << "no containerd commit: " << r.out;
  EXPECT_GT(r.out.size(), bar + 2) << "no runc commit: " << r.out;
}

TEST(EngineTest, DockerInfoShowsRealFiguresAndAnEngineIdThatOutlivesARestart) {
  auto engine = std::make_unique<Engine>();
  auto r = engine->docker({"info", "--format", "{{json .}}"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  auto info = json::parse(r.out);
  EXPECT_EQ(info["NCPU"].get<long>(), sysconf(_SC_NPROCESSORS_ONLN));
  EXPECT_EQ(info["MemTotal"].get<long>(), sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE));
  utsname u{};
  uname(&u);
  EXPECT_EQ(info["KernelVersion"], u.release);
  EXPECT_EQ(info["Name"], u.nodename);
  EXPECT_EQ(info["DockerRootDir"], engine->dataRoot());
  EXPECT_EQ(info["Driver"], "overlay2");
  EXPECT_EQ(info["Containers"], 0);
  EXPECT_EQ(info["Images"], 0);
  EXPECT_EQ(info["OSType"], "linux");
  EXPECT_TRUE(info["LiveRestoreEnabled"].get<bool>());
  EXPECT_EQ(info["ID"].get<std::string>().size(), 36u);
  EXPECT_NE(info["OperatingSystem"].get<std::string>(), "");
  // The engine id is durable: the same after a restart on the same data root.
  std::string id = info["ID"];
  ASSERT_TRUE(engine->stop().has_value());
  Engine::Options again;
  again.root = engine->root();
  Engine second(again);
  r = second.docker({"info", "--format", "{{.ID}}"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, id + "\n");
  engine.reset();
}

TEST(EngineTest, DockerEventsWithSinceAndUntilReturns) {
  Engine engine;
  auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  auto start = std::chrono::steady_clock::now();
  auto r = engine.docker({"events", "--since", std::to_string(now - 60), "--until", std::to_string(now + 1)}, 20s);
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  // An unknown key filters nothing, as dockerd 20.10 (it validates no key of /events' filters).
  ASSERT_EQ(engine.docker({"volume", "create", "event-probe"}).exitCode, 0);
  now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count() + 1;
  auto all = engine.docker({"events", "--since", std::to_string(now - 60), "--until", std::to_string(now), "--format",
                            "{{.Type}} {{.Action}}"});
  r = engine.docker({"events", "--since", std::to_string(now - 60), "--until", std::to_string(now), "--filter",
                     "colour=red", "--format", "{{.Type}} {{.Action}}"});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(all.out.find("volume create\n"), std::string::npos) << all.out;
  EXPECT_EQ(r.out, all.out);
}

TEST(EngineTest, TheSupervisorRunsContainerdAndFiveSeparateServiceProcesses) {
  Engine engine;
  std::set<std::string> names;
  for (pid_t child : childrenOf(engine.pid())) names.insert(exeName(child));
  std::set<std::string> expected = {"containerd",    "berth-images",  "berth-volumes", "berth-network",
                                    "berth-containerd-bridge", "berth-api"};
  EXPECT_EQ(names, expected);
  auto children = engine.children();
  for (const auto& s : kServices) {
    ASSERT_TRUE(children.count(s)) << s;
    EXPECT_EQ(children[s].state, "running");
    EXPECT_EQ(exeName(children[s].pid), "berth-" + s);
  }
  EXPECT_EQ(exeName(children["containerd"].pid), "containerd");
}

// A process's GLIBC_TUNABLES as it was given at exec ("" when unset). glibc's loader (2.36)
// ends each tunable it parsed with a NUL in the environment itself, so /proc/PID/environ shows
// the ones after the first as entries of their own; they are joined back here.
std::string tunablesOf(pid_t pid) {
  std::string environ = readText("/proc/" + std::to_string(pid) + "/environ");
  std::istringstream entries(environ);
  std::string value;
  bool in = false;
  for (std::string e; std::getline(entries, e, '\0');) {
    if (!in && e.rfind("GLIBC_TUNABLES=", 0) == 0) {
      value = e.substr(15);
      in = true;
    } else if (in && e.rfind("glibc.", 0) == 0) {
      value += ":" + e;
    } else if (in) {
      break;
    }
  }
  return value;
}

TEST(EngineTest, EveryServiceRunsWithMallocsPerThreadCachesOffAndContainerdAsItWas) {
  // The engine's own tunables are kept, and the services' caches turned off beside them.
  Engine::Options options;
  options.env = {"GLIBC_TUNABLES=glibc.malloc.arena_max=2"};
  Engine engine(options);
  auto children = engine.children();
  for (const auto& s : kServices) {
    ASSERT_TRUE(children.count(s)) << s;
    EXPECT_EQ(tunablesOf(children[s].pid), "glibc.malloc.arena_max=2:glibc.malloc.tcache_count=0") << s;
  }
  // containerd (Go, not glibc's malloc) and what it starts get the environment the engine got.
  EXPECT_EQ(tunablesOf(children.at("containerd").pid), "glibc.malloc.arena_max=2");
}

// A detached container for the length of a test; removed (and the cgroups containerd leaves
// behind) whatever the test gets to, since the engine stops with live-restore.
class RunningContainer {
 public:
  RunningContainer(Engine& engine, const std::string& workDir) : engine_(engine) {
    auto r = engine_.docker({"load", "-i", busyboxArchive(workDir, "berth-test/busybox:1")});
    if (r.exitCode != 0) throw std::runtime_error("load failed: " + r.err);
    r = engine_.docker({"run", "-d", "--pull", "never", "berth-test/busybox:1", "sleep", "1000"});
    if (r.exitCode != 0 || r.out.size() < 64) throw std::runtime_error("run failed: " + r.err);
    id_ = r.out.substr(0, 64);
    pid_ = std::atoi(engine_.output({"inspect", "--format", "{{.State.Pid}}", id_}).c_str());
    if (pid_ <= 1) throw std::runtime_error("no pid for the container");
  }
  ~RunningContainer() {
    engine_.docker({"rm", "-f", id_});
    removeNamespaceCgroups("berth");
  }
  const std::string& id() const { return id_; }
  pid_t pid() const { return pid_; }

 private:
  Engine& engine_;
  std::string id_;
  pid_t pid_ = 0;
};

TEST(EngineTest, EachOfTheSixProcessesKilledWithSigkillIsBackWhileAContainerRunsAndNoPingFails) {
  Engine engine;
  TempDir work("berth-engine-kill");
  std::unique_ptr<RunningContainer> container;
  ASSERT_NO_THROW(container = std::make_unique<RunningContainer>(engine, work.path()));
  PingLoop ping(engine.socketPath());
  std::vector<std::string> victims = kServices;
  victims.push_back("containerd");
  for (const auto& service : victims) {
    auto before = engine.children();
    pid_t victim = before.at(service).pid;
    int resetsBefore = ping.resets();
    auto killedAt = std::chrono::steady_clock::now();
    killPid(victim, SIGKILL);
    // Back: a new pid in state running (it said READY=1 after serving its endpoint; containerd
    // once its socket answers).
    bool back = false;
    std::map<std::string, ChildInfo> after;
    while (std::chrono::steady_clock::now() - killedAt < 10s) {
      after = engine.children();
      if (after.at(service).pid != victim && after.at(service).pid > 1 && after.at(service).state == "running") {
        back = true;
        break;
      }
      std::this_thread::sleep_for(5ms);
    }
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - killedAt);
    ASSERT_TRUE(back) << service << " did not come back; log:\n" << engine.log();
    // berth's own services are back within a second; containerd's start is containerd's.
    EXPECT_LT(took, service == "containerd" ? 5000ms : 1000ms) << service << " took " << took.count() << " ms";
    std::cout << "[ restart ] " << service << " back and running " << took.count() << " ms after kill -9\n";
    EXPECT_EQ(after.at(service).restarts, before.at(service).restarts + 1);
    for (const auto& [name, info] : before) {
      if (name != service) {
        EXPECT_EQ(after.at(name).pid, info.pid) << name << " changed pid when " << service << " died";
      }
    }
    // And answering: every RPC service answers health on its own endpoint with the pid the
    // supervisor lists, docker info reaches the ones it asks without a warning, and the API
    // answers (the ping loop, and info itself).
    std::map<std::string, pid_t> health;
    ASSERT_NO_THROW(health = engine.serviceHealth()) << "after the kill of " << service;
    EXPECT_EQ(health.size(), kServices.size() - 1);
    for (const auto& [name, pid] : health) EXPECT_EQ(pid, after.at(name).pid) << name;
    EXPECT_EQ(unansweredWarnings(engine), "") << "after the kill of " << service;
    // The container never stopped, and the engine still reaches it (after containerd's kill,
    // through the new containerd).
    EXPECT_TRUE(processAlive(container->pid())) << "the container died with " << service;
    EXPECT_EQ(engine.output({"inspect", "--format", "{{.State.Status}} {{.State.Pid}}", container->id()}),
              "running " + std::to_string(container->pid()) + "\n")
        << "after the kill of " << service;
    EXPECT_EQ(engine.output({"exec", container->id(), "echo", "after " + service}), "after " + service + "\n");
    // Only the API's own death can reset a connection, and one client has at most one in flight.
    int resets = ping.resets() - resetsBefore;
    if (service == "api") EXPECT_LE(resets, 1);
    else EXPECT_EQ(resets, 0) << "connections reset when " << service << " died";
  }
  ping.finish();
  EXPECT_GT(ping.total(), 50);
  EXPECT_EQ(ping.refused(), 0) << "connections refused while services restarted:\n" << ping.failures();
  EXPECT_EQ(ping.failed(), 0) << "pings failed or timed out while services restarted:\n" << ping.failures();
  std::cout << "[ pings ] " << ping.total() << " sent, " << ping.resets()
            << " reset by the API's own kill -9 and answered on retry\n";
  pid_t containerPid = container->pid();
  container.reset();
  EXPECT_TRUE(waitForGone(containerPid, 5s)) << "the container outlived rm -f";
}

// A service's /proc/PID/status, by field.
std::map<std::string, std::string> processStatus(pid_t pid) {
  std::map<std::string, std::string> status;
  std::istringstream text(readText("/proc/" + std::to_string(pid) + "/status"));
  for (std::string line; std::getline(text, line);) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    auto value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    status[line.substr(0, colon)] = value;
  }
  return status;
}

// gdb makes the live process `pid` evaluate `call` (C, e.g. a system call's wrapper) and then
// errno; returns gdb's output ("$1 = …", "$2 = errno").
std::string callInside(pid_t pid, const std::string& call) {
  auto r = run({"gdb", "-p", std::to_string(pid), "-batch", "-ex", "handle SIGSYS nostop noprint pass", "-ex",
                "print (int)" + call, "-ex", "print *(int*)__errno_location()"},
               {}, 60s);
  return "exit " + std::to_string(r.exitCode) + "\n" + r.out + r.err;
}

uint64_t capabilityMask(std::initializer_list<int> capabilities) {
  uint64_t mask = 0;
  for (int cap : capabilities) mask |= uint64_t{1} << cap;
  return mask;
}

// Least privilege, service by service (docs/hardening.md): berth-api, the process every client
// talks to, holds no capability; each other service keeps only the capabilities its work needs,
// in every set, bounding included; all five run under a seccomp allowlist with no_new_privs.
// A call outside a service's list, made inside the live process (gdb makes it), fails with
// EPERM, is logged with its name, and changes nothing; every service serves on. swapon is in no
// list (outside the filter it fails ENOENT on a missing file); mount is in the lists of the
// three services that mount, not in the API's or the images service's.
TEST(EngineTest, EachServiceHoldsOnlyItsCapabilitiesAndACallOutsideItsAllowlistFailsAndIsLogged) {
  Engine::Options options;
  options.ownNetworkNamespace = true;
  Engine engine(options);
  // What this machine lets root hold at all: a capability outside it cannot be kept.
  uint64_t held = std::stoull(processStatus(::getpid())["CapBnd"], nullptr, 16);
  const std::map<std::string, uint64_t> expected = {
      {"api", 0},
      {"images", capabilityMask({CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_FSETID, CAP_MKNOD, CAP_SETFCAP, CAP_SYS_ADMIN})},
      {"volumes", capabilityMask({CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_FSETID, CAP_MKNOD,
                                  CAP_SETFCAP, CAP_SYS_ADMIN})},
      {"network", capabilityMask({CAP_NET_ADMIN, CAP_NET_RAW, CAP_NET_BIND_SERVICE, CAP_SYS_ADMIN, CAP_DAC_OVERRIDE})},
      {"containerd-bridge",
       capabilityMask({CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_FSETID, CAP_KILL, CAP_SETGID,
                       CAP_SETUID, CAP_SETPCAP, CAP_SYS_CHROOT, CAP_SYS_PTRACE, CAP_SYS_ADMIN, CAP_SYS_RESOURCE,
                       CAP_MKNOD, CAP_SETFCAP})},
  };
  for (const auto& [service, capabilities] : expected) {
    pid_t pid = engine.childPid(service);
    auto status = processStatus(pid);
    for (const char* set : {"CapPrm", "CapEff", "CapBnd"}) {
      EXPECT_EQ(std::stoull(status[set], nullptr, 16), capabilities & held) << service << " " << set << " " << status[set];
    }
    EXPECT_EQ(status["CapInh"], "0000000000000000") << service;
    EXPECT_EQ(status["CapAmb"], "0000000000000000") << service;
    EXPECT_EQ(status["NoNewPrivs"], "1") << service;
    EXPECT_EQ(status["Seccomp"], "2") << service;  // a filter
    {
      // Capabilities are each thread's own, and a thread keeps those it was created with: every
      // thread of every service holds only the service's: ZeroMQ's I/O and reaper threads as
      // much as the main one (they once kept all of root's, having been started before the
      // confinement), and every thread started later (workers, gRPC's, memory return).
      std::string tasks = "/proc/" + std::to_string(pid) + "/task";
      int threads = 0;
      for (const auto& task : std::filesystem::directory_iterator(tasks)) {
        // A thread's own status is /proc/TID/status.
        auto thread = processStatus(static_cast<pid_t>(std::stol(task.path().filename().string())));
        ++threads;
        for (const char* set : {"CapPrm", "CapEff", "CapBnd"}) {
          EXPECT_EQ(std::stoull(thread[set], nullptr, 16), capabilities & held)
              << service << " thread " << thread["Name"] << " " << set << " " << thread[set];
        }
      }
      EXPECT_GE(threads, 3) << service << ": the main thread, ZeroMQ's and the memory-return thread at least";
    }

    std::string gdb = callInside(pid, "swapon(\"/nonexistent-berth-swap\", 0)");
    EXPECT_NE(gdb.find("$1 = -1"), std::string::npos) << service << ": " << gdb;
    EXPECT_NE(gdb.find("$2 = 1\n"), std::string::npos) << service << " (EPERM, not ENOENT): " << gdb;
    std::string logged = "berth-" + service + ": seccomp refused swapon (syscall ";
    EXPECT_TRUE(waitFor([&] { return engine.log().find(logged) != std::string::npos; }, 5s)) << service;
    if (service == "api" || service == "images") {
      TempDir target("berth-mount-target");
      gdb = callInside(pid, "mount(\"none\", \"" + target.path() + "\", \"tmpfs\", 0, 0)");
      EXPECT_NE(gdb.find("$1 = -1"), std::string::npos) << service << ": " << gdb;
      EXPECT_EQ(readText("/proc/self/mountinfo").find(" " + target.path() + " "), std::string::npos)
          << service << " mounted";
      logged = "berth-" + service + ": seccomp refused mount (syscall ";
      EXPECT_TRUE(waitFor([&] { return engine.log().find(logged) != std::string::npos; }, 5s)) << service;
    }
    EXPECT_EQ(engine.childPid(service), pid) << service << " restarted";
  }
  auto ping = httpRequest(engine.socketPath(), "GET", "/_ping");
  EXPECT_EQ(ping.status, 200);
  EXPECT_EQ(ping.body, "OK");
  auto health = engine.serviceHealth();  // the four RPC services answer, from the pids checked above
  EXPECT_EQ(health.size(), 4u);
  for (const auto& [service, pid] : health) EXPECT_EQ(pid, engine.childPid(service)) << service;
  // And the engine still runs a container end to end under all five filters: an image loaded,
  // a named volume copied up and mounted, a user network's link and address.
  TempDir work("berth-sandbox-image");
  auto r = engine.docker({"load", "-i", busyboxArchive(work.path(), "berth-test/busybox:1")});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  ASSERT_EQ(engine.docker({"network", "create", "berth-sandbox-net"}).exitCode, 0);
  r = engine.docker({"run", "--rm", "--pull", "never", "--network", "berth-sandbox-net", "-v", "berth-sandbox-vol:/etc",
                     "berth-test/busybox:1", "sh", "-c", "echo hi > /etc/f && cat /etc/f && ip -o -4 addr show eth0 | wc -l"});
  EXPECT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "hi\n1\n");
  EXPECT_EQ(engine.docker({"volume", "rm", "berth-sandbox-vol"}).exitCode, 0);
  EXPECT_EQ(engine.docker({"network", "rm", "berth-sandbox-net"}).exitCode, 0);
}

// CPU time (user + system) a process has used, in seconds.
double cpuSeconds(pid_t pid) {
  std::string stat = readText("/proc/" + std::to_string(pid) + "/stat");
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string skip;
  for (int i = 0; i < 11; ++i) fields >> skip;  // state … cmajflt: fields 3 to 13
  unsigned long long utime = 0, stime = 0;
  fields >> utime >> stime;
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

size_t openDescriptors(pid_t pid) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) ++n;
  return n;
}

// Out of descriptors (`ulimit -n` reached), the API pauses its accepts with backoff instead of
// spinning on a readable listener (it used 100 % of a core), keeps its process, and serves
// again once descriptors are free.
TEST(EngineTest, OutOfDescriptorsTheApiPausesInsteadOfSpinningAndServesAgainOnceFreed) {
  Engine engine;
  pid_t api = engine.childPid("api");
  size_t limit = openDescriptors(api) + 8;
  auto r = run({"prlimit", "--pid", std::to_string(api), "--nofile=" + std::to_string(limit) + ":" + std::to_string(limit)});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  std::vector<int> clients;
  struct CloseAll {
    std::vector<int>& fds;
    ~CloseAll() {
      for (int fd : fds) ::close(fd);
    }
  } closeAll{clients};
  for (int i = 0; i < 40; ++i) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, engine.socketPath().c_str(), sizeof addr.sun_path - 1);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << std::strerror(errno);
    clients.push_back(fd);
  }
  ASSERT_TRUE(waitFor([&] { return openDescriptors(api) >= limit; }, 10s))
      << openDescriptors(api) << " of " << limit << " descriptors in use";
  double before = cpuSeconds(api);
  std::this_thread::sleep_for(1s);  // the window the CPU time is measured over
  double used = cpuSeconds(api) - before;
  std::cout << "[ emfile ] berth-api used " << used << " s of CPU in 1 s at its descriptor limit\n";
  EXPECT_LT(used, 0.3) << "the accept loop spins";
  EXPECT_EQ(engine.childPid("api"), api);
  for (int fd : clients) ::close(fd);
  clients.clear();
  EXPECT_TRUE(waitFor([&] { return httpRequest(engine.socketPath(), "GET", "/_ping").status == 200; }, 10s));
}

TEST(EngineTest, BerthctlRestartImagesRestartsOnlyThatService) {
  Engine engine;
  auto before = engine.children();
  auto r = engine.berthctl({"restart", "images"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "images restarted\n");
  auto after = engine.children();
  EXPECT_NE(after["images"].pid, before["images"].pid);
  EXPECT_EQ(after["images"].state, "running");
  for (const auto& [name, info] : before) {
    if (name != "images") {
      EXPECT_EQ(after[name].pid, info.pid) << name;
    }
  }
  r = engine.berthctl({"restart", "nonesuch"});
  EXPECT_NE(r.exitCode, 0);
  EXPECT_NE(r.err.find("no such service: nonesuch"), std::string::npos) << r.err;
}

TEST(EngineTest, RestartingTheApiGracefullyFailsNoRequest) {
  Engine engine;
  PingLoop ping(engine.socketPath());
  std::this_thread::sleep_for(100ms);
  for (int i = 0; i < 3; ++i) {
    auto r = engine.berthctl({"restart", "api"});
    ASSERT_EQ(r.exitCode, 0) << r.err;
  }
  std::this_thread::sleep_for(100ms);
  ping.finish();
  EXPECT_GT(ping.total(), 20);
  EXPECT_EQ(ping.refused(), 0);
  EXPECT_EQ(ping.failed(), 0);
  EXPECT_EQ(ping.resets(), 0) << "a graceful restart must finish requests in flight";
}

TEST(EngineTest, SigtermStopsEveryChildAndLeavesNothingBehind) {
  Engine engine;
  std::vector<pid_t> children = childrenOf(engine.pid());
  ASSERT_EQ(children.size(), 6u);
  auto status = engine.stop();
  ASSERT_TRUE(status.has_value()) << "supervisor did not exit";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "status " << *status;
  for (pid_t c : children) EXPECT_FALSE(processAlive(c)) << "child " << c << " survived";
  // No socket is left in the exec root, no pidfile, and no mount under the engine's roots.
  std::vector<std::string> leftovers;
  for (const auto& e : std::filesystem::recursive_directory_iterator(engine.execRoot())) {
    if (e.is_socket() || e.path().filename() == "berth.pid") leftovers.push_back(e.path());
  }
  EXPECT_TRUE(leftovers.empty()) << leftovers.front();
  EXPECT_EQ(readText("/proc/self/mountinfo").find(engine.root()), std::string::npos);
  std::string log = engine.log();
  EXPECT_NE(log.find("berth stopped"), std::string::npos);
  // Each service ended by itself, none by the supervisor's kill when its time was up.
  EXPECT_EQ(log.find("did not stop in time"), std::string::npos) << log;
  for (const std::string service : {"api", "containerd-bridge", "images", "volumes", "network", "containerd"}) {
    EXPECT_TRUE(std::regex_search(log, std::regex("\\] " + service + " \\(pid [0-9]+\\) stopped: exit status 0\n")))
        << service << "\n" << log;
  }
}

TEST(EngineTest, ASecondSupervisorOnTheSameDataRootRefusesToStart) {
  Engine engine;
  auto args = engine.args();
  // Another exec root and socket, the same data root.
  for (auto& a : args) {
    if (a == engine.execRoot()) a = engine.root() + "/run2";
    if (a == engine.dockerHost()) a = "unix://" + engine.root() + "/run2/docker.sock";
  }
  auto r = run(args, {}, 20s);
  EXPECT_NE(r.exitCode, 0);
  EXPECT_NE(r.err.find("another berth engine (pid " + std::to_string(engine.pid()) + ") is already running on data root"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(engine.docker({"version"}).exitCode, 0) << "the first engine was disturbed";
}

TEST(EngineTest, AMalformedConfigIsRefusedNamingTheKeyAndCreatesNothing) {
  TempDir dir;
  std::ofstream(dir.path() + "/daemon.json") << R"({"log-level": "info", "live-restore": "maybe"})";
  std::string data = dir.path() + "/data", exec = dir.path() + "/run";
  auto r = run({binDir() + "/berth-supervisor", "--data-root", data, "--exec-root", exec, "--config-file",
                dir.path() + "/daemon.json"},
               {}, 20s);
  EXPECT_NE(r.exitCode, 0);
  EXPECT_NE(r.err.find("\"live-restore\""), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(data));
  EXPECT_FALSE(std::filesystem::exists(exec));
  std::ofstream(dir.path() + "/daemon.json") << R"({"no-such-option": 1})";
  r = run({binDir() + "/berth-supervisor", "--data-root", data, "--exec-root", exec, "--config-file",
           dir.path() + "/daemon.json"},
          {}, 20s);
  EXPECT_NE(r.exitCode, 0);
  EXPECT_NE(r.err.find("no-such-option"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(data));
}

TEST(EngineTest, ASupervisorKilledWithSigkillTakesItsServicesAlongAndARestartRecovers) {
  auto engine = std::make_unique<Engine>();
  std::vector<pid_t> children = childrenOf(engine->pid());
  killPid(engine->pid(), SIGKILL);
  auto start = std::chrono::steady_clock::now();
  bool allGone = false;
  while (std::chrono::steady_clock::now() - start < 20s && !allGone) {
    allGone = std::none_of(children.begin(), children.end(), processAlive);
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(allGone) << "children outlived a killed supervisor";
  // The same roots start again: the dead engine's lock, sockets and pidfile are taken over.
  Engine::Options again;
  again.root = engine->root();
  {
    Engine second(again);
    auto r = second.docker({"version", "--format", "{{.Server.Version}}"});
    EXPECT_EQ(r.exitCode, 0) << r.err;
    EXPECT_EQ(r.out, "0.1.0\n");
  }
  engine.reset();
}

TEST(EngineTest, TheApiAnswersDockerdsErrorsOnTheRealSocket) {
  Engine engine;
  auto r = httpRequest(engine.socketPath(), "GET", "/v1.43/no/such/route");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "{\"message\":\"page not found\"}\n");
  r = httpRequest(engine.socketPath(), "GET", "/v1.99/version");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("is too new"), std::string::npos);
  r = rawRequest(engine.socketPath(), "POST /v1.43/info HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741824\r\n\r\n", 3000);
  EXPECT_EQ(r.status, 413);
  r = httpRequest(engine.socketPath(), "HEAD", "/_ping");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.head.find("Api-Version: 1.43"), std::string::npos);
  EXPECT_NE(r.head.find("Ostype: linux"), std::string::npos);
  EXPECT_NE(r.head.find("Docker-Experimental: false"), std::string::npos);
  EXPECT_EQ(r.body, "");
}

}  // namespace
}  // namespace berth::test
