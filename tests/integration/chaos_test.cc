// The chaos test: kill -9 of random engine processes (containerd, the five services and the
// supervisor itself) at random moments, 150 times, while a workload runs through the real docker
// CLI and raw HTTP: runs, execs, loads, volume and network changes, pings, reads of a running
// container, and that container logging every 10 ms. Afterwards the engine must have lost
// nothing and leaked nothing: the running container was never reported otherwise, its log has
// no gap, containerd's tasks and berth's containers agree, no connection was refused, every
// failed command is explained by a kill that overlapped it, and no mount, process, descriptor
// or link was left behind. Set BERTH_CHAOS_SEED to replay a run's choices.
#include <gtest/gtest.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "common/digest.h"
#include "tests/integration/container_fixture.h"
#include "tests/support/ping_loop.h"

namespace berth::test {
namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

constexpr int kKills = 150;
constexpr auto kStormLimit = std::chrono::minutes(6);  // the storm's bound, restarts included
const std::vector<std::string> kChildren = {"containerd", "images", "volumes", "network", "containerd-bridge", "api"};

struct Kill {
  std::string victim;  // a child's name, or "supervisor"
  Clock::time_point at, back;
};

// What a client may see while a process is down, by victim: the error names the endpoint that
// failed, or (for the API and the supervisor, which holds it) the connection that broke.
const std::map<std::string, std::vector<std::string>> kSymptoms = {
    // A --rm container whose creating API died before its start is removed by the bridge, so
    // the CLI's next step (the attach, the start) finds none.
    {"api",
     {"EOF", "connection reset by peer", "broken pipe", "error during connect", "unable to upgrade to tcp, received 404",
      "No such container"}},
    {"containerd-bridge",
     // exec instances live in the bridge; a --rm container not yet started goes with its restart
     // an exec's stream the bridge's death cut (the output after it is lost, and the client told)
     {"/ipc/containerd-bridge.sock", "No such exec instance", "unable to upgrade to tcp, received 404",
      "No such container", "berth-containerd-bridge restarted"}},
    // A load's upload session lives in the images service that died with it.
    // (the API answers a load whose images service died before the client has sent it all)
    {"images", {"/ipc/images.sock", "Error response from daemon: upload ", "write: broken pipe"}},
    {"volumes", {"/ipc/volumes.sock"}},
    {"network", {"/ipc/network.sock"}},
    {"containerd", {"containerd.sock", "containerd Tasks.", "containerd Containers."}},
};

class KillLog {
 public:
  void add(const Kill& k) {
    std::lock_guard lock(mutex_);
    kills_.push_back(k);
  }
  // A failure is explained when a kill overlapped the command (from its start to its end, the
  // victim's whole downtime counted) and the error shows that victim's symptom. The
  // supervisor's kill takes all six along, so any symptom goes with it.
  bool explains(const std::string& error, Clock::time_point from, Clock::time_point to) const {
    std::lock_guard lock(mutex_);
    for (const auto& k : kills_) {
      if (k.at > to || k.back + std::chrono::milliseconds(500) < from) continue;
      for (const auto& [victim, symptoms] : kSymptoms) {
        if (k.victim != "supervisor" && k.victim != victim) continue;
        for (const auto& s : symptoms) {
          if (contains(error, s)) return true;
        }
      }
    }
    return false;
  }
  // Whether the API process (alone or with the supervisor) was killed within [from, to].
  bool apiDied(Clock::time_point from, Clock::time_point to) const {
    std::lock_guard lock(mutex_);
    for (const auto& k : kills_) {
      if (k.at >= from && k.at <= to && (k.victim == "api" || k.victim == "supervisor")) return true;
    }
    return false;
  }
  // The kills that overlapped [from, to], for a failure's report.
  std::string overlapping(Clock::time_point from, Clock::time_point to) const {
    std::lock_guard lock(mutex_);
    std::string out;
    for (const auto& k : kills_) {
      if (k.at > to || k.back + std::chrono::milliseconds(500) < from) continue;
      out += " " + k.victim + " (killed " + std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(k.at - from).count()) +
             " ms after the command began)";
    }
    return out.empty() ? " none" : out;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<Kill> kills_;
};

// One kind of command run over and over by a workload thread; counts what answered and keeps
// every failure that no kill explains.
class Tally {
 public:
  Tally(Engine& engine, const KillLog& kills) : engine_(engine), kills_(kills) {}

  // Runs `docker ARGS`; true when it exits 0 and prints `expected` (when given).
  bool attempt(const std::string& what, const std::vector<std::string>& args, const std::string& expected = "") {
    auto from = Clock::now();
    auto r = engine_.docker(args, std::chrono::seconds(120));
    auto to = Clock::now();
    std::lock_guard lock(mutex_);
    if (r.exitCode == 0 && (expected.empty() || r.out == expected)) {
      ++ok_[what];
      return true;
    }
    ++failed_[what];
    std::string command = "docker";
    for (const auto& a : args) command += " " + a;
    failures_.push_back({command, r, from, to, expected});
    return false;
  }
  // Streams (attach, exec) through an API process that was killed end there, as a request it
  // had accepted does: the output it had not relayed is lost, and the CLI, finding the exec or
  // container finished, reports its code. The floor of the design, counted apart.
  int cutWithTheApi() const {
    std::lock_guard lock(mutex_);
    int n = 0;
    for (const auto& f : failures_) n += cutWithTheApi(f) ? 1 : 0;
    return n;
  }
  int ok(const std::string& what) const {
    std::lock_guard lock(mutex_);
    auto it = ok_.find(what);
    return it == ok_.end() ? 0 : it->second;
  }
  std::string summary() const {
    std::lock_guard lock(mutex_);
    std::string out;
    for (const auto& [what, n] : ok_) {
      auto f = failed_.find(what);
      out += what + " " + std::to_string(n) + " ok " + std::to_string(f == failed_.end() ? 0 : f->second) + " failed; ";
    }
    return out;
  }
  // The failures no kill explains, judged once every kill is logged (a command can end while
  // its victim is still coming back). A harness timeout or a wrong answer (exit 0, or output
  // that is not the error's) is never explained by a kill; the symptom may be in the output,
  // where exec writes a start that failed, as dockerd does.
  std::string unexplained() const {
    std::lock_guard lock(mutex_);
    std::string out;
    for (const auto& f : failures_) {
      if (f.result.exitCode > 0 && kills_.explains(f.result.out + f.result.err, f.from, f.to)) continue;
      if (cutWithTheApi(f)) continue;
      out += f.command + " -> exit " + std::to_string(f.result.exitCode) + " out [" + f.result.out.substr(0, 200) +
             "] err [" + f.result.err + "]; took " +
             std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(f.to - f.from).count()) +
             " ms; kills overlapping:" + kills_.overlapping(f.from, f.to) + "\n";
    }
    return out;
  }

 private:
  Engine& engine_;
  const KillLog& kills_;
  mutable std::mutex mutex_;
  std::map<std::string, int> ok_, failed_;
  struct Failure {
    std::string command;
    CommandResult result;
    Clock::time_point from, to;
    std::string expected;
  };
  bool cutWithTheApi(const Failure& f) const {
    bool prefix = !f.expected.empty() && f.expected.compare(0, f.result.out.size(), f.result.out) == 0;
    return f.result.exitCode == 0 && prefix && f.result.err.empty() && kills_.apiDied(f.from, f.to);
  }
  std::vector<Failure> failures_;
};

std::set<std::string> mountsUnder(const std::string& root) {
  std::set<std::string> out;
  for (const auto& line : lines(readText("/proc/self/mountinfo"))) {
    std::istringstream fields(line);
    std::string id, parent, devices, mountRoot, point;
    fields >> id >> parent >> devices >> mountRoot >> point;
    if (startsWith(point, root + "/")) out.insert(point);
  }
  return out;
}

// Processes whose command line mentions `needle` (this engine's root) and whose name is `comm`.
std::vector<pid_t> processesOf(const std::string& comm, const std::string& needle) {
  std::vector<pid_t> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    std::string name = e.path().filename();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    if (trimNewline(readText(e.path().string() + "/comm")) != comm) continue;
    if (contains(readText(e.path().string() + "/cmdline"), needle)) out.push_back(std::stoi(name));
  }
  return out;
}

// The containers with a cgroup under berth's parent, in any hierarchy (v1) or the unified one.
std::set<std::string> containerCgroups() {
  std::set<std::string> out;
  std::vector<fs::path> parents = {"/sys/fs/cgroup/berth"};
  std::error_code ec;
  for (const auto& hierarchy : fs::directory_iterator("/sys/fs/cgroup", ec)) parents.push_back(hierarchy.path() / "berth");
  for (const auto& parent : parents) {
    for (const auto& e : fs::directory_iterator(parent, ec)) {
      if (e.is_directory() && e.path().filename().string().size() == 64) out.insert(e.path().filename().string());
    }
  }
  return out;
}

// The ids of every container an engine makes while this watch lives (and those it had): each
// gets its directory in the exec root before its task, and so its cgroup, exists. Every engine on
// the machine shares berth's cgroup parent; the check for leaked cgroups counts only these.
class ContainerDirectories {
 public:
  explicit ContainerDirectories(const std::string& dir) : fd_(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
    if (fd_ < 0 || ::inotify_add_watch(fd_, dir.c_str(), IN_CREATE | IN_MOVED_TO) < 0) {
      throw std::runtime_error("inotify on " + dir + ": " + std::strerror(errno));
    }
    for (const auto& e : fs::directory_iterator(dir)) add(e.path().filename().string());
  }
  ~ContainerDirectories() { ::close(fd_); }
  // What was seen so far; throws when the kernel's queue overflowed (ids would be missing).
  std::set<std::string> ids() {
    alignas(inotify_event) char buf[64 * 1024];
    for (;;) {
      ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) break;
      for (char* p = buf; p < buf + n;) {
        auto* e = reinterpret_cast<inotify_event*>(p);
        if (e->mask & IN_Q_OVERFLOW) throw std::runtime_error("the inotify queue overflowed");
        if (e->len > 0) add(e->name);
        p += sizeof(inotify_event) + e->len;
      }
    }
    return seen_;
  }

 private:
  void add(const std::string& name) {
    if (name.size() == 64 && name.find_first_not_of("0123456789abcdef") == std::string::npos) seen_.insert(name);
  }
  int fd_;
  std::set<std::string> seen_;
};

size_t descriptorCount(pid_t pid) { return descriptorTargets(pid).size(); }

// Counted per kind: "socket" and "pipe" for every socket and pipe, others by their target.
std::map<std::string, size_t> descriptorKinds(pid_t pid) {
  std::map<std::string, size_t> kinds;
  for (auto target : descriptorTargets(pid)) {
    if (target.rfind("socket:", 0) == 0) target = "socket";
    else if (target.rfind("pipe:", 0) == 0) target = "pipe";
    ++kinds[target];
  }
  return kinds;
}

std::string describe(const std::map<std::string, size_t>& kinds) {
  std::string out;
  for (const auto& [kind, n] : kinds) out += (out.empty() ? "" : ", ") + kind + " " + std::to_string(n);
  return out;
}

std::set<std::string> linksIn(const std::string& netns) {
  auto r = run({"nsenter", "--net=" + netns, "--", "ip", "-o", "link", "show"});
  std::set<std::string> out;
  if (r.exitCode != 0) {
    out.insert("<ip link failed: " + r.err + ">");
    return out;
  }
  for (const auto& line : lines(r.out)) {
    auto colon = line.find(": ");
    auto end = line.find_first_of(":@", colon + 2);
    out.insert(line.substr(colon + 2, end - colon - 2));
  }
  return out;
}

std::set<std::string> containerdIds(Engine& engine, const std::string& what) {
  auto r = run({"ctr", "--address", engine.execRoot() + "/containerd/containerd.sock", "-n", "berth", what, "ls", "-q"});
  std::set<std::string> out;
  if (r.exitCode != 0) {
    out.insert("<ctr " + what + " ls failed: " + r.err + ">");
    return out;
  }
  for (const auto& l : lines(r.out)) out.insert(l);
  return out;
}

TEST(ChaosTest, OneHundredFiftyKillsOfRandomProcessesAndTheSupervisorLoseAndLeakNothing) {
  Engine::Options options;
  options.ownNetworkNamespace = true;
  options.restartable = true;
  Engine engine(options);
  // Whatever the test gets to, every container goes before the engine does.
  struct RemoveAll {
    Engine& engine;
    ~RemoveAll() {
      for (const auto& id : lines(engine.docker({"ps", "-aq"}).out)) engine.docker({"rm", "-f", id});
      removeNamespaceCgroups("berth");
    }
  } removeAll{engine};
  TempDir work("berth-chaos");
  std::string archive = busyboxArchive(work.path(), kImage);
  std::string loadArchive = busyboxArchive(work.path(), "chaos/load:1", 64 * 1024);
  ASSERT_EQ(engine.docker({"load", "-i", archive}).exitCode, 0);

  // The container that must never stop: a counter every 10 ms.
  auto r = engine.docker({"run", "-d", "--pull", "never", "--name", "ticker", kImage, "sh", "-c",
                          "i=0; while true; do i=$((i+1)); echo $i; sleep 0.01; done"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  std::string ticker = trimNewline(r.out);
  pid_t tickerPid = pidOf(engine, ticker);
  ASSERT_GT(tickerPid, 1);
  auto loggers = processesOf("berth-logger", engine.root());
  auto shims = processesOf("containerd-shim", engine.root());
  ASSERT_EQ(loggers.size(), 1u);
  ASSERT_EQ(shims.size(), 1u);
  size_t loggerFds = descriptorCount(loggers[0]);
  // The shim's descriptors. Its pipes are taken by inode: containerd's shim leaves the read end
  // of the pipe on which the logger said it was ready for Go's collector to close (NewBinaryIO
  // in containerd's pkg/process/io.go), so one of them may be gone after the storm.
  auto shimKinds = descriptorKinds(shims[0]);
  auto shimPipes = pipesOf(shims[0]);
  ContainerDirectories made(engine.execRoot() + "/containers");
  auto mountsBefore = mountsUnder(engine.root());
  auto linksBefore = linksIn(engine.networkNamespacePath());
  ASSERT_FALSE(mountsBefore.empty());

  unsigned seed = static_cast<unsigned>(std::getenv("BERTH_CHAOS_SEED") ? std::atol(std::getenv("BERTH_CHAOS_SEED"))
                                                                         : std::random_device{}());
  std::cout << "[ chaos ] seed " << seed << " (BERTH_CHAOS_SEED replays it)\n";
  std::mt19937 random(seed);

  KillLog kills;
  Tally tally(engine, kills);
  // Each request waits in the held socket's backlog while no API runs: 30 s covers a whole
  // supervisor restart on a loaded machine.
  PingLoop pings(engine.socketPath(), 30000);
  RequestLoop reads(engine.socketPath(), "/v1.43/containers/" + ticker + "/json",
                    [&](const HttpResult& res) {
                      if (res.status != 200) return false;
                      auto state = json::parse(res.body, nullptr, false);
                      return !state.is_discarded() && state["State"]["Running"] == true &&
                             state["State"]["Pid"] == tickerPid;
                    },
                    30000);
  RequestLoop lists(engine.socketPath(), "/v1.43/containers/json",
                    [&](const HttpResult& res) {
                      if (res.status != 200) return false;
                      auto list = json::parse(res.body, nullptr, false);
                      if (!list.is_array()) return false;
                      for (const auto& c : list) {
                        if (c["Id"] == ticker) return c["State"] == "running";
                      }
                      return false;
                    },
                    30000);
  std::atomic<int> runNo{0}, execNo{0}, volumeNo{0}, networkNo{0};
  // An acknowledged create followed by a remove that finds nothing is a lost write.
  std::atomic<int> volumesLost{0}, networksLost{0};
  BackgroundLoop runs([&] {
    std::string k = std::to_string(++runNo);
    tally.attempt("run", {"run", "--rm", "--pull", "never", kImage, "echo", "run-" + k}, "run-" + k + "\n");
  });
  BackgroundLoop execs([&] {
    std::string k = std::to_string(++execNo);
    tally.attempt("exec", {"exec", ticker, "echo", "exec-" + k}, "exec-" + k + "\n");
  });
  BackgroundLoop loads([&] {
    if (tally.attempt("load", {"load", "-i", loadArchive})) tally.attempt("rmi", {"rmi", "chaos/load:1"});
  });
  BackgroundLoop volumes([&] {
    std::string name = "chaos-v" + std::to_string(++volumeNo);
    if (!tally.attempt("volume create", {"volume", "create", name}, name + "\n")) return;
    auto rm = engine.docker({"volume", "rm", name}, std::chrono::seconds(120));
    if (contains(rm.err, "no such volume")) ++volumesLost;
  });
  BackgroundLoop networks([&] {
    std::string name = "chaos-n" + std::to_string(++networkNo);
    if (!tally.attempt("network create", {"network", "create", name})) return;
    auto rm = engine.docker({"network", "rm", name}, std::chrono::seconds(120));
    if (contains(rm.err, "not found")) ++networksLost;
  });

  // The storm.
  std::map<std::string, std::vector<long>> downtimes;  // ms from kill -9 to running again
  auto stormBegan = Clock::now();
  for (int n = 0; n < kKills; ++n) {
    ASSERT_LT(Clock::now() - stormBegan, kStormLimit) << "the storm took too long; " << n << " kills done";
    std::this_thread::sleep_for(std::chrono::milliseconds(random() % 300));
    std::string victim = random() % 10 == 0 ? "supervisor" : kChildren[random() % kChildren.size()];
    // The moment of the kill itself: finding the victim's pid (a berthctl run) takes tens of
    // milliseconds, and a command that began meanwhile was cut by this kill, not begun after it.
    Kill k{victim, Clock::now(), {}};
    if (victim == "supervisor") {
      ASSERT_NO_THROW(engine.crashSupervisor(std::chrono::seconds(5), &k.at)) << "kill " << n + 1;
      ASSERT_NO_THROW(engine.restartSupervisor()) << "kill " << n + 1;
    } else {
      pid_t old = 0;
      ASSERT_NO_THROW(old = engine.childPid(victim)) << "kill " << n + 1;
      k.at = Clock::now();
      killPid(old, SIGKILL);
      ASSERT_NO_THROW(engine.awaitRestart(victim, old, std::chrono::seconds(20))) << "kill " << n + 1;
    }
    k.back = Clock::now();
    kills.add(k);
    downtimes[victim].push_back(std::chrono::duration_cast<std::chrono::milliseconds>(k.back - k.at).count());
  }
  auto stormSeconds = std::chrono::duration<double>(Clock::now() - stormBegan).count();
  runs.stop();
  execs.stop();
  loads.stop();
  volumes.stop();
  networks.stop();
  pings.finish();
  reads.finish();
  lists.finish();

  std::cout << "[ chaos ] " << kKills << " kills in " << stormSeconds << " s; down for (ms):";
  int apiOrSupervisorKills = 0;
  for (auto& [victim, times] : downtimes) {
    std::sort(times.begin(), times.end());
    std::cout << " " << victim << " x" << times.size() << " median " << times[times.size() / 2] << " max " << times.back()
              << ";";
    if (victim == "api" || victim == "supervisor") apiOrSupervisorKills += static_cast<int>(times.size());
  }
  std::cout << "\n[ chaos ] " << tally.summary() << "\n[ chaos ] pings " << pings.total() << " (" << pings.resets()
            << " reset in flight), reads " << reads.total() << " (" << reads.resets() << "), lists " << lists.total()
            << " (" << lists.resets() << ")\n";

  // The running container was always reported running, and no connection was refused.
  EXPECT_EQ(pings.refused() + reads.refused() + lists.refused(), 0)
      << pings.failures() << reads.failures() << lists.failures();
  EXPECT_EQ(pings.failed(), 0) << pings.failures();
  EXPECT_EQ(reads.failed(), 0) << reads.failures();
  EXPECT_EQ(lists.failed(), 0) << lists.failures();
  // Only a request the dying API had accepted is lost (each loop has one in flight).
  EXPECT_LE(pings.resets(), apiOrSupervisorKills);
  EXPECT_LE(reads.resets(), apiOrSupervisorKills);
  EXPECT_LE(lists.resets(), apiOrSupervisorKills);
  EXPECT_GT(reads.total(), 100);
  // Each kind of command got through between the kills.
  for (const char* what : {"run", "exec", "load", "volume create", "network create"}) {
    EXPECT_GT(tally.ok(what), 0) << what << " never succeeded: " << tally.summary();
  }

  // The ticker runs on, as the same process, with every line it printed.
  EXPECT_TRUE(processAlive(tickerPid));
  EXPECT_EQ(inspect(engine, ticker, "{{.State.Status}} {{.State.Pid}}"), "running " + std::to_string(tickerPid));
  auto logLines = lines(engine.output({"logs", ticker}, std::chrono::seconds(120)));
  ASSERT_GT(logLines.size(), 1000u) << (logLines.empty() ? "" : logLines[0]);
  size_t gaps = 0;
  for (size_t i = 0; i < logLines.size(); ++i) {
    if (logLines[i] != std::to_string(i + 1)) ++gaps;
  }
  EXPECT_EQ(gaps, 0u) << "of " << logLines.size() << " log lines";

  // containerd holds exactly the one task berth runs, and berth runs nothing else: at once, or
  // once the bridge's sweep (every 10 s, a task two sweeps in a row met) ended a task no
  // container stands for that a restore failed to delete.
  std::set<std::string> tasks;
  waitFor([&] { return (tasks = containerdIds(engine, "tasks")) == std::set<std::string>{ticker}; },
          std::chrono::seconds(30), std::chrono::milliseconds(500));
  EXPECT_EQ(tasks, std::set<std::string>{ticker});
  for (const auto& id : tasks) {
    if (id == ticker) continue;
    std::cout << "[ chaos ] the engine's log on " << id.substr(0, 12) << ":\n";
    for (const auto& line : lines(engine.log())) {
      if (contains(line, id.substr(0, 12))) std::cout << line.substr(0, 400) << "\n";
    }
  }
  EXPECT_EQ(engine.output({"ps", "-q", "--no-trunc"}), ticker + "\n");

  // Volumes and networks: none the client saw created went missing before its remove, and
  // what an interrupted create or remove left is whole. Then all go.
  EXPECT_EQ(volumesLost, 0) << "acknowledged volume creates whose remove found nothing";
  EXPECT_EQ(networksLost, 0) << "acknowledged network creates whose remove found nothing";
  for (const auto& name : lines(engine.output({"volume", "ls", "-q", "--filter", "name=chaos-v"}))) {
    EXPECT_TRUE(fs::is_directory(inspect(engine, name, "{{.Mountpoint}}"))) << name;
    EXPECT_EQ(engine.output({"volume", "rm", name}), name + "\n");
  }
  for (const auto& name : lines(engine.output({"network", "ls", "-q", "--filter", "name=chaos-n", "--format", "{{.Name}}"}))) {
    std::string bridge = "br-" + inspect(engine, name, "{{.Id}}").substr(0, 12);
    EXPECT_TRUE(linksIn(engine.networkNamespacePath()).count(bridge)) << name << " has no link " << bridge;
    EXPECT_EQ(engine.output({"network", "rm", name}), name + "\n");
  }
  auto leftImage = engine.docker({"image", "inspect", "chaos/load:1"});
  if (leftImage.exitCode == 0) {
    EXPECT_EQ(engine.output({"run", "--rm", "--pull", "never", "chaos/load:1", "echo", "whole"}), "whole\n");
    EXPECT_EQ(engine.docker({"rmi", "chaos/load:1"}).exitCode, 0);
  }

  // No --rm container is left (an interrupted create is retried with its id, an interrupted
  // start undone by the next bridge, and its removal not stuck "removing" by a run directory
  // its logger wrote into late), and no shim containerd lost track of outlives the
  // bridge's sweep (every 10 s) with its logger.
  std::string leftover;
  bool settled = waitFor(
      [&] {
        leftover = engine.output({"ps", "-a", "--no-trunc", "--filter", "status=created", "--filter", "status=exited",
                                  "--filter", "status=dead", "--filter", "status=removing", "--format", "{{.ID}} {{.Status}}"});
        return leftover.empty();
      },
      std::chrono::seconds(30), std::chrono::milliseconds(500));
  EXPECT_TRUE(settled) << "containers left:\n" << leftover;
  for (const auto& line : lines(leftover)) engine.docker({"rm", "-f", line.substr(0, 64)});
  std::vector<pid_t> strayShims, strayLoggers;
  waitFor(
      [&] {
        strayShims.clear();
        strayLoggers.clear();
        for (pid_t p : processesOf("containerd-shim", engine.root())) {
          if (p != shims[0]) strayShims.push_back(p);
        }
        for (pid_t p : processesOf("berth-logger", engine.root())) {
          if (p != loggers[0]) strayLoggers.push_back(p);
        }
        return strayShims.empty() && strayLoggers.empty();
      },
      std::chrono::seconds(30), std::chrono::milliseconds(500));
  EXPECT_EQ(strayShims.size(), 0u) << "shims containerd does not know outlived the sweep";
  EXPECT_EQ(strayLoggers.size(), 0u);
  for (pid_t shim : strayShims) {  // this engine's processes, ended by pid with their containers
    for (pid_t child : childrenOf(shim)) ::kill(child, SIGKILL);
    ::kill(shim, SIGKILL);
  }
  // Nor a cgroup of theirs: containerd deletes one with its task, the sweep with its shim.
  // (Only this engine's containers: another engine on the machine has cgroups there too.)
  std::set<std::string> cgroups;
  std::set<std::string> ours = made.ids();
  auto engineCgroups = [&] {
    std::set<std::string> out;
    for (const auto& id : containerCgroups()) {
      if (ours.count(id)) out.insert(id);
    }
    return out;
  };
  EXPECT_TRUE(waitFor([&] { return (cgroups = engineCgroups()) == std::set<std::string>{ticker}; }, 10s))
      << cgroups.size() << " container cgroups of the " << ours.size() << " containers this engine made";
  // Nor a shim's socket, which a shim removes when it shuts down and the sweep when it kills one:
  // containerd's shims listen on /run/containerd/s/<sha256 of containerd's socket, the namespace
  // and the container's id>, one directory for every containerd on the machine. Printed, not
  // held: before the sweep took them a run left 14 and 19; since, 0 to 3 a run, each of a start
  // a bridge kill cut (containerd kills its shim's start helper, which had bound the socket,
  // when the bridge's Tasks.Create goes away), which a removal now takes (stray_shims.h); the
  // log lines naming such a container are printed with it.
  std::string containerdSocket = engine.execRoot() + "/containerd/containerd.sock";
  std::vector<std::string> shimSocketsLeft;
  for (const auto& id : ours) {
    if (id == ticker) continue;
    if (fs::exists(fs::symlink_status("/run/containerd/s/" + sha256Hex(containerdSocket + "/berth/" + id)))) {
      shimSocketsLeft.push_back(id);
    }
  }
  std::cout << "[ chaos ] shim sockets left by the " << ours.size() - 1
            << " containers that are gone: " << shimSocketsLeft.size() << "\n";
  for (const auto& id : shimSocketsLeft) {
    for (const auto& line : lines(engine.log())) {
      if (contains(line, id.substr(0, 12))) std::cout << "[ chaos ]   " << line.substr(0, 300) << "\n";
    }
  }

  // Every failed command is explained by a kill it overlapped (a stream the bridge's kill cut
  // is resumed, or fails saying so), and no link is left: a network create a kill cut is
  // undone by the next start, link and all.
  std::string unexplained = tally.unexplained();
  std::string strayLinks;
  for (const auto& link : linksIn(engine.networkNamespacePath())) {
    if (!linksBefore.count(link)) strayLinks += " " + link;
  }
  int resumed = 0, cutWithError = 0;
  for (const auto& line : lines(engine.log())) {
    if (contains(line, "resumed on the restarted berth-containerd-bridge")) ++resumed;
    if (contains(line, "the stream was cut")) ++cutWithError;
  }
  std::cout << "[ chaos ] streams cut with the API's kill (the floor): " << tally.cutWithTheApi()
            << "; with the bridge's: " << resumed << " attaches resumed, " << cutWithError << " ended with an error"
            << "; failures without a kill's symptom: " << lines(unexplained).size()
            << "; links left:" << (strayLinks.empty() ? " none" : strayLinks) << "\n";
  EXPECT_EQ(unexplained, "") << "failures no overlapping kill explains";
  EXPECT_EQ(strayLinks, "") << "links no network or container stands for";

  // Nothing else leaked: mounts and the survivors' descriptors are as before the storm.
  EXPECT_EQ(mountsUnder(engine.root()), mountsBefore);
  EXPECT_EQ(processesOf("runc", engine.root()).size(), 0u);
  EXPECT_EQ(descriptorCount(loggers[0]), loggerFds);
  // The ticker's shim holds what it held before the storm once the storm's last exec is gone
  // (an exec's stdio pipes close when its process is deleted, which a restarted bridge does
  // for the execs a kill cut): no pipe it did not hold before, and the same files, eventfds
  // and epolls. Its sockets (its task API's listener and connections) are printed, not held:
  // the storm restarts containerd, the peer of those connections.
  auto withoutSocketsAndPipes = [](std::map<std::string, size_t> kinds) {
    kinds.erase("socket");
    kinds.erase("pipe");
    return kinds;
  };
  auto shimKindsAfter = descriptorKinds(shims[0]);
  std::set<std::string> newPipes;
  waitFor(
      [&] {
        shimKindsAfter = descriptorKinds(shims[0]);
        newPipes.clear();
        for (const auto& p : pipesOf(shims[0])) {
          if (!shimPipes.count(p)) newPipes.insert(p);
        }
        return newPipes.empty() && withoutSocketsAndPipes(shimKindsAfter) == withoutSocketsAndPipes(shimKinds);
      },
      15s);
  std::cout << "[ chaos ] the ticker's shim's descriptors before the storm: " << describe(shimKinds)
            << "; after: " << describe(shimKindsAfter) << "; pipes it did not hold before: " << newPipes.size() << "\n";
  // Held: no new pipe, and the same files, eventfds and epolls. (A new pipe pair was an exec's
  // stdio that a kill left in the shim: a restore found the exec still running and gave up on
  // it, in about one run in fourteen; the reaper now deletes it when it ends, docs/hardening.md.)
  EXPECT_TRUE(newPipes.empty()) << "the ticker's shim kept " << newPipes.size()
                                << " pipes it did not hold before the storm, 15 s after it";
  EXPECT_EQ(withoutSocketsAndPipes(shimKindsAfter), withoutSocketsAndPipes(shimKinds))
      << "the ticker's shim holds other files, eventfds or epolls than before the storm";
  for (const auto& line : lines(engine.log())) {
    if (contains(line, "could not be deleted")) std::cout << "[ chaos ] " << line.substr(0, 400) << "\n";
  }
  // Open finding too: a task a restore could not delete (its reason is logged) and the sweep
  // ended later. Printed with the reasons, so the cause can be found.
  size_t endedBySweep = 0;
  for (const auto& line : lines(engine.log())) {
    if (contains(line, "which no container stands for")) ++endedBySweep;
    if (contains(line, "stays for now")) std::cout << "[ chaos ] " << line.substr(0, 400) << "\n";
  }
  std::cout << "[ chaos ] open finding: tasks no container stood for that the sweep ended: " << endedBySweep << "\n";

  if (HasFailure()) {
    std::string notable;
    for (const auto& line : lines(engine.log())) {
      if (contains(line, " warning [") || contains(line, " error [") || contains(line, " critical [")) notable += line + "\n";
    }
    std::cout << "[ chaos ] the engine's warnings and errors:\n" << notable;
  }
}

}  // namespace
}  // namespace berth::test
