// container_bench: container start-up, listing, recovery and memory through the real docker CLI,
// for berth and (when its address is given) the reference engine, in the same run and by the
// same code:
//   - `docker run --rm --network none IMAGE true`, one after another: median and p90;
//   - 20 of those in parallel: total time (the median of three batches) and the spread of the
//     per-run times;
//   - both again with the engines alternating, run by run and batch by batch (the ratios the
//     machine's drift between the two blocks above cannot move);
//   - with N running containers: GET /containers/json and GET /containers/{id}/json latency
//     (keep-alive connection, server round trip; and on a fresh connection each, as curl or the
//     CLI makes them), and GET /containers/json with no container (keep-alive); the list with
//     sizes (`docker ps -s`) and GET /system/df with N running (keep-alive);
//   - recovery: kill -9 of the process that holds the engine's container state (berth's
//     containerd-bridge, which the supervisor restarts; dockerd itself, restarted with
//     live-restore by --reference-restart) until `docker ps` lists all N again, then until
//     `docker ps --filter ancestor=` does; the median of five kills each;
//   - memory (PSS), fresh (berth: a new engine; dockerd: just restarted), the workload's peak
//     (sampled every 500 ms while the runs, the parallel batches and the N starts go on), with N
//     running, and after the workload (all removed, 25 s idle: what a burst leaves behind),
//     berth's for each of its processes too;
//   - the floors under `docker run`: containerd and runc alone (`ctr run --rm` on berth's
//     containerd, same rootfs; one after another, and 20 at once as the parallel batch, with
//     containerd's default spec and with the spec berth gave a container, i.e. Docker's
//     defaults, alternating with batches of berth's; and one after another with Docker's spec,
//     alternating with berth's own runs) and the docker CLI alone (`docker version`, one round
//     trip).
//   container_bench [--reference unix:///run/refengine/docker.sock] [--runs 30] [--containers 100]
//                   [--reference-pidfile /run/refengine/docker.pid]
//                   [--reference-restart "COMMAND that starts dockerd again and returns once it answers"]
// Every sample is checked: a failed run, listing, kill or restart is reported and the
// benchmark exits 1 without printing figures. berth runs in a fresh engine of its own; the
// image is built from busybox-static and loaded into both engines first.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "bench/bench_stats.h"
#include "bench/docker_cli.h"
#include "bench/http_probe.h"
#include "tests/support/cgroups.h"
#include "tests/support/engine.h"
#include "tests/support/test_images.h"

using namespace berth;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kImage = "berth-bench/busybox:1";

using bench::docker;

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

size_t lineCount(const std::string& text) { return static_cast<size_t>(std::count(text.begin(), text.end(), '\n')); }

// Proportional set size: shared library pages count once across processes. nullopt when the
// process is gone or unreadable.
std::optional<long> pssKb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps_rollup");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Pss:", 0) == 0) return std::stol(line.substr(4));
  }
  return std::nullopt;
}

// The berth-logger processes of one engine (their command line names its data root).
std::vector<pid_t> loggersOf(const std::string& dataRoot) {
  std::vector<pid_t> out;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline = test::readText(e.path().string() + "/cmdline");
    if (cmdline.find("berth-logger") != std::string::npos && cmdline.find(dataRoot) != std::string::npos) {
      out.push_back(static_cast<pid_t>(std::stoi(name)));
    }
  }
  return out;
}

struct Recovery {
  double listedMs = 0, restoredMs = 0;
};
// Recovery rounds per engine: one kill alone moves with the machine's noise (a restore of 100
// containers took 185–243 ms across five runs of one day), so the figure is the median of these.
constexpr int kRecoveryRounds = 5;
// Batches of 20 parallel runs per engine (and of the ctr floor): one batch alone gave 0.49–0.69
// of dockerd's across runs of one day; the figure is the median.
constexpr int kParallelBatches = 3;
// Pairs of batches with the engines alternating: an even number, so each engine goes first as
// often as the other (a batch meets what the one before it left: tasks still being deleted).
constexpr int kAlternatingBatches = 4;

double medianOf(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 == 1 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

struct Figures {
  std::string name;
  bench::Samples run, parallel, list, inspect;  // ms, ms, us, us
  // us: GET /containers/json with no container (keep-alive); list and inspect with N running
  // on a fresh connection each
  bench::Samples listEmpty, listFresh, inspectFresh;
  // us: GET /containers/json filtered by a label half of the N running carry (as Docker Compose
  // lists a project's containers), keep-alive
  bench::Samples listLabel;
  // us, keep-alive, with N running: the list with each container's sizes (`docker ps -s`), and
  // GET /system/df (`docker system df`), whose sizes are measured on disk per call
  bench::Samples listSized, diskUsage;
  std::vector<double> parallelTotals;  // ms, one per batch of 20
  double parallelTotalMs() const { return medianOf(parallelTotals); }
  std::vector<Recovery> recovery;  // one per kill
  std::optional<double> freshPssMb, loadedPssMb, loggersPssMb, peakPssMb, afterPssMb;

  double recoveryMs() const { return medianOf(each(&Recovery::listedMs)); }
  // until docker ps --filter ancestor= (berth: answered by the bridge itself) lists all
  double restoredMs() const { return medianOf(each(&Recovery::restoredMs)); }
  std::vector<double> each(double Recovery::*figure) const {
    std::vector<double> out;
    for (const auto& r : recovery) out.push_back(r.*figure);
    return out;
  }
};

// N containers started one after another and left running, half of them labelled
// bench.project=odd; their ids.
std::vector<std::string> startRunning(const std::string& host, int containers, const std::string& name,
                                      bench::Failures& failures) {
  std::vector<std::string> ids;
  for (int i = 0; i < containers; ++i) {
    auto r = docker(host, {"run", "-d", "--pull", "never", "--network", "none", "--label",
                           "bench.project=" + std::string(i % 2 ? "odd" : "even"), kImage, "sleep", "100000"});
    if (r.exitCode == 0 && r.out.size() == 65) ids.push_back(r.out.substr(0, 64));
    else failures.add(name + ": docker run -d exited " + std::to_string(r.exitCode) + ": " + r.err);
  }
  return ids;
}

// The largest value of a figure sampled every 500 ms from construction until stop(): the
// peak memory of a workload. Samples that cannot be read (a process restarting) are skipped.
class PeakSampler {
 public:
  explicit PeakSampler(std::function<std::optional<double>()> sample)
      : sample_(std::move(sample)), thread_([this] { loop(); }) {}
  ~PeakSampler() { stop(); }
  std::optional<double> stop() {
    {
      std::lock_guard lock(mutex_);
      stopped_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
    return peak_;
  }

 private:
  void loop() {
    std::unique_lock lock(mutex_);
    while (!stopped_) {
      lock.unlock();
      auto value = sample_();
      lock.lock();
      if (value && (!peak_ || *value > *peak_)) peak_ = value;
      wake_.wait_for(lock, std::chrono::milliseconds(500), [this] { return stopped_; });
    }
  }

  std::function<std::optional<double>()> sample_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopped_ = false;
  std::optional<double> peak_;
  std::thread thread_;  // last: it starts once everything above is made
};

// One `docker run --rm --network none IMAGE true`: its time in ms, or nullopt with a failure added.
std::optional<double> runOnce(const std::string& host, const std::string& name, const char* what,
                              bench::Failures& failures) {
  auto start = Clock::now();
  auto r = docker(host, {"run", "--rm", "--pull", "never", "--network", "none", kImage, "true"});
  if (r.exitCode != 0) {
    failures.add(name + ": " + what + " exited " + std::to_string(r.exitCode) + ": " + r.err);
    return std::nullopt;
  }
  return ms(Clock::now() - start);
}

// 20 of those at once: the batch's total time in ms; each run's time goes into `each` when given.
double dockerBatchMs(const std::string& host, const std::string& name, bench::Samples* each, bench::Failures& failures) {
  std::vector<std::future<std::optional<double>>> batch;
  auto start = Clock::now();
  for (int i = 0; i < 20; ++i) {
    batch.push_back(std::async(std::launch::async, [&] { return runOnce(host, name, "a parallel docker run", failures); }));
  }
  for (auto& b : batch) {
    auto t = b.get();
    if (t && each) each->micros.push_back(*t);
  }
  return ms(Clock::now() - start);
}

// Sequential runs, the parallel batch, and N containers left running (their ids returned).
std::vector<std::string> measureWorkload(const std::string& host, int runs, int containers, Figures& f,
                                         bench::Failures& failures) {
  f.run.what = "docker run on " + f.name;
  f.parallel.what = "parallel docker run on " + f.name;
  for (int i = 0; i < 3; ++i) runOnce(host, f.name, "a warm-up docker run", failures);
  for (int i = 0; i < runs; ++i) {
    if (auto t = runOnce(host, f.name, "docker run", failures)) f.run.micros.push_back(*t);
  }
  for (int round = 0; round < kParallelBatches; ++round) {
    f.parallelTotals.push_back(dockerBatchMs(host, f.name, &f.parallel, failures));
  }

  try {
    f.listEmpty = bench::getLatency(host, "/containers/json", 500);  // every run above was --rm
  } catch (const std::exception& e) {
    failures.add(f.name + ": " + e.what());
  }
  std::vector<std::string> ids = startRunning(host, containers, f.name, failures);
  try {
    f.list = bench::getLatency(host, "/containers/json", 200);
    if (!ids.empty()) f.inspect = bench::getLatency(host, "/containers/" + ids[0] + "/json", 500);
    f.listFresh = bench::freshGetLatency(host, "/containers/json", 100);
    // filters={"label":["bench.project=odd"]}
    f.listLabel = bench::getLatency(host, "/containers/json?filters=%7B%22label%22%3A%5B%22bench.project%3Dodd%22%5D%7D", 200);
    if (!ids.empty()) f.inspectFresh = bench::freshGetLatency(host, "/containers/" + ids[0] + "/json", 300);
    f.listSized = bench::getLatency(host, "/containers/json?size=1", 50);
    f.diskUsage = bench::getLatency(host, "/system/df", 50);
  } catch (const std::exception& e) {
    failures.add(f.name + ": " + e.what());
  }
  return ids;
}

// Time from `kill` until `docker ps -q` lists every id again (the CLI failing meanwhile is the
// outage being measured, not a failure), and then until `docker ps -q --filter ancestor=IMAGE`
// does: berth's API answers the first from its copy of the bridge's views while the bridge
// restores (filtered lists too), and only the restored bridge the second (an ancestor filter
// resolves the image through the images service, which the copy leaves to the bridge). `restart` runs right after the kill when
// the engine does not restart itself.
std::optional<Recovery> measureRecovery(const std::string& name, const std::string& host, size_t expected,
                                        const std::function<bool()>& kill, const std::function<bool()>& restart,
                                        bench::Failures& failures) {
  auto start = Clock::now();
  if (!kill()) {
    failures.add(name + ": the kill -9 for the recovery figure failed");
    return std::nullopt;
  }
  if (restart && !restart()) {
    failures.add(name + ": the restart after kill -9 failed");
    return std::nullopt;
  }
  std::optional<double> listed;
  while (Clock::now() - start < std::chrono::seconds(60)) {
    std::vector<std::string> args = {"ps", "-q"};
    if (listed) args.insert(args.end(), {"--filter", "ancestor=" + kImage});
    auto r = docker(host, args);
    if (r.exitCode != 0 || lineCount(r.out) != expected) continue;
    if (listed) return Recovery{*listed, ms(Clock::now() - start)};
    listed = ms(Clock::now() - start);
  }
  failures.add(name + ": docker ps did not list all " + std::to_string(expected) + " containers within 60 s of the kill");
  return std::nullopt;
}

void removeContainers(const std::string& name, const std::string& host, const std::vector<std::string>& ids,
                      bench::Failures& failures) {
  for (size_t i = 0; i < ids.size(); i += 25) {
    std::vector<std::string> args = {"rm", "-f"};
    for (size_t j = i; j < std::min(ids.size(), i + 25); ++j) args.push_back(ids[j]);
    auto r = docker(host, args);
    if (r.exitCode != 0) failures.add(name + ": docker rm -f exited " + std::to_string(r.exitCode) + ": " + r.err);
  }
}

// berth's supervisor and services by name (containerd, the same Debian binary in both engines,
// is left out). Looked up once (`berthctl status` is a process of its own) and read as long as
// they live: a sample of a process that restarted is unreadable, not someone else's.
std::map<std::string, pid_t> berthProcesses(test::Engine& engine) {
  std::map<std::string, pid_t> out;
  for (auto& [name, child] : engine.children()) {
    if (name != "containerd") out[name] = child.pid;
  }
  out["supervisor"] = engine.pid();
  return out;
}

// PSS in MB of each of those processes; nullopt when one of them cannot be read.
std::optional<std::map<std::string, double>> pssByProcess(const std::map<std::string, pid_t>& processes) {
  std::map<std::string, double> out;
  for (const auto& [name, pid] : processes) {
    auto p = pssKb(pid);
    if (!p) return std::nullopt;
    out[name] = static_cast<double>(*p) / 1024.0;
  }
  return out;
}

std::optional<double> totalOf(const std::optional<std::map<std::string, double>>& each) {
  if (!each) return std::nullopt;
  double mb = 0;
  for (const auto& [name, v] : *each) mb += v;
  return mb;
}


// How long an engine is left idle after its containers are removed before the "after the
// workload" memory is read: berth's services end idle workers after 10 s, close the RPC
// sockets idle for 10 s at their next memory look (every 5 s), and trim what that freed at the
// look after (docs/performance.md, "Trims a look missed"): 10 + 5 + 5 s, and 5 s of margin.
constexpr auto kSettle = std::chrono::seconds(25);

std::optional<pid_t> pidFromFile(const std::string& path) {
  std::ifstream in(path);
  pid_t pid = 0;
  if (in >> pid && pid > 1) return pid;
  return std::nullopt;
}

// The same `true` through containerd and runc alone, on a plain rootfs directory.
bench::Samples ctrRuns(const std::string& containerdSocket, const std::string& rootfs, int runs, bench::Failures& failures) {
  bench::Samples s;
  s.what = "ctr run --rm";
  for (int i = 0; i < runs + 3; ++i) {
    auto start = Clock::now();
    auto r = test::run({"ctr", "--address", containerdSocket, "-n", "berth-bench-ctr", "run", "--rm", "--null-io", "--rootfs",
                        rootfs, "bench-" + std::to_string(i), "/bin/true"},
                       {}, std::chrono::minutes(1));
    if (r.exitCode != 0) failures.add("ctr run --rm exited " + std::to_string(r.exitCode) + ": " + r.err);
    else if (i >= 3) s.micros.push_back(ms(Clock::now() - start));
  }
  return s;
}

// 20 `ctr run --rm` at once, as the parallel batch of `docker run`: the total time, or nullopt.
// `argsAfterRun(i)` is what follows `run --rm --null-io` for the i-th container.
std::optional<double> ctrParallelMs(const std::string& containerdSocket,
                                    const std::function<std::vector<std::string>(int)>& argsAfterRun,
                                    bench::Failures& failures) {
  std::vector<std::future<test::CommandResult>> batch;
  auto start = Clock::now();
  for (int i = 0; i < 20; ++i) {
    batch.push_back(std::async(std::launch::async, [&, i] {
      std::vector<std::string> argv{"ctr", "--address", containerdSocket, "-n", "berth-bench-ctr", "run", "--rm", "--null-io"};
      for (auto& a : argsAfterRun(i)) argv.push_back(std::move(a));
      return test::run(argv, {}, std::chrono::minutes(1));
    }));
  }
  bool ok = true;
  for (auto& b : batch) {
    auto r = b.get();
    if (r.exitCode != 0) {
      failures.add("a parallel ctr run --rm exited " + std::to_string(r.exitCode) + ": " + r.err);
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return ms(Clock::now() - start);
}

// The OCI spec berth gave a running container, read back from containerd and made runnable by
// `ctr run --config` on the plain rootfs: Docker's defaults (the seccomp profile, capabilities,
// masked and read-only paths, its own /dev, /dev/shm and /dev/mqueue, new namespaces), which
// runc's init applies per container, without anything of berth's (no overlay mount, no network
// service, no logger, no record). The network namespace is a new one made by runc instead of
// the one berth-network made; /etc/hostname, hosts and resolv.conf are files of the bench's.
// One spec per container of a batch (`dir`/bench-spec-I.json), each with its cgroup where
// containerd puts the plain floor's (/berth-bench-ctr/ID: `ctr run --config` runs the file as
// it is). Their paths, or nullopt with a failure added.
std::optional<std::vector<std::string>> dockerSpecFloor(const std::string& containerdSocket, const std::string& id,
                                                        const std::string& rootfs, const std::string& dir,
                                                        bench::Failures& failures) {
  auto info = test::run({"ctr", "--address", containerdSocket, "-n", "berth", "containers", "info", id});
  if (info.exitCode != 0) {
    failures.add("ctr containers info " + id + ": " + info.err);
    return std::nullopt;
  }
  try {
    auto spec = nlohmann::json::parse(info.out).at("Spec");
    spec["root"] = {{"path", rootfs}};
    std::filesystem::create_directories(dir + "/etc");
    for (auto& m : spec.at("mounts")) {
      if (m.at("type") != "bind") continue;
      std::string file = dir + "/etc/" + std::filesystem::path(m.at("destination").get<std::string>()).filename().string();
      std::ofstream(file) << "\n";
      m["source"] = file;
    }
    for (auto& ns : spec.at("linux").at("namespaces")) ns.erase("path");
    spec["process"]["args"] = {"/bin/true"};
    std::vector<std::string> paths;
    for (int i = 0; i < 20; ++i) {
      std::string name = "bench-spec-" + std::to_string(i);
      spec["linux"]["cgroupsPath"] = "/berth-bench-ctr/" + name;
      paths.push_back(dir + "/" + name + ".json");
      std::ofstream(paths.back()) << spec.dump();
    }
    return paths;
  } catch (const std::exception& e) {
    failures.add(std::string("the spec of a berth container, from containerd: ") + e.what());
    return std::nullopt;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string reference, referencePidfile = "/run/refengine/docker.pid", referenceRestart;
  int runs = 30, containers = 100;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--reference") reference = argv[i + 1];
    else if (a == "--runs") runs = std::stoi(argv[i + 1]);
    else if (a == "--containers") containers = std::stoi(argv[i + 1]);
    else if (a == "--reference-pidfile") referencePidfile = argv[i + 1];
    else if (a == "--reference-restart") referenceRestart = argv[i + 1];
  }
  if (!reference.empty() && referenceRestart.empty()) {
    std::fprintf(stderr, "container_bench: --reference needs --reference-restart, the command that starts dockerd again "
                         "(its recovery and fresh memory are measured by killing and restarting it)\n");
    return 2;
  }
  bench::Failures failures;
  test::TempDir dir("berth-container-bench");
  std::string archive = test::busyboxArchive(dir.path(), kImage);
  auto restartReference = [&] {
    auto r = test::run({"sh", "-c", referenceRestart + " >/dev/null"}, {}, std::chrono::minutes(2));
    return r.exitCode == 0;
  };

  // berth, fresh then loaded.
  Figures b;
  b.name = "berth";
  test::Engine engine;
  auto processes = berthProcesses(engine);
  auto freshEach = pssByProcess(processes);
  b.freshPssMb = totalOf(freshEach);
  if (!b.freshPssMb) failures.add("berth: fresh PSS unreadable");
  auto loaded = docker(engine.dockerHost(), {"load", "-i", archive});
  if (loaded.exitCode != 0) failures.add("berth: docker load: " + loaded.err);
  PeakSampler berthPeak([&] { return totalOf(pssByProcess(processes)); });
  auto ids = measureWorkload(engine.dockerHost(), runs, containers, b, failures);
  b.peakPssMb = berthPeak.stop();
  auto loadedEach = pssByProcess(processes);
  b.loadedPssMb = totalOf(loadedEach);
  long loggersKb = 0;
  auto loggers = loggersOf(engine.dataRoot());
  for (pid_t p : loggers) loggersKb += pssKb(p).value_or(0);
  if (loggers.size() != ids.size()) {
    failures.add("berth: " + std::to_string(loggers.size()) + " berth-logger processes for " + std::to_string(ids.size()) +
                 " running containers");
  }
  b.loggersPssMb = static_cast<double>(loggersKb) / 1024.0;
  // What the workload left behind, read before any kill restarts the bridge; then the N
  // containers again for the recovery rounds.
  removeContainers("berth", engine.dockerHost(), ids, failures);
  std::this_thread::sleep_for(kSettle);
  auto afterEach = pssByProcess(processes);
  b.afterPssMb = totalOf(afterEach);
  if (!b.peakPssMb || !b.loadedPssMb || !b.afterPssMb) {
    failures.add("berth: PSS during or after the workload unreadable (did a service restart?)");
  }
  ids = startRunning(engine.dockerHost(), containers, "berth", failures);
  for (int round = 0; round < kRecoveryRounds; ++round) {
    // Each round starts once the bridge restarted by the last one is restored (its ancestor=
    // listing was complete) and the supervisor has it running (ready), so every kill meets a
    // bridge that holds all the containers, and the supervisor's crash-loop backoff never
    // applies. The pid is looked up before the clock starts.
    pid_t bridge = 0;
    try {
      auto deadline = Clock::now() + std::chrono::seconds(30);
      for (;;) {
        auto child = engine.children().at("containerd-bridge");
        if (child.state == "running" && child.pid > 1) {
          bridge = child.pid;
          break;
        }
        if (Clock::now() > deadline) throw std::runtime_error("the bridge is " + child.state + ", not running, 30 s on");
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    } catch (const std::exception& e) {
      failures.add(std::string("berth: the bridge to kill for the recovery figure: ") + e.what());
      break;
    }
    auto recovered = measureRecovery(
        "berth", engine.dockerHost(), ids.size(), [&] { return ::kill(bridge, SIGKILL) == 0; }, nullptr, failures);
    if (!recovered) break;
    b.recovery.push_back(*recovered);
  }
  std::string containerdSocket = engine.execRoot() + "/containerd/containerd.sock";
  std::string rootfs = dir.path() + "/rootfs";
  std::optional<std::vector<std::string>> dockerSpecs;
  if (!ids.empty()) dockerSpecs = dockerSpecFloor(containerdSocket, ids.front(), rootfs, dir.path() + "/spec", failures);
  removeContainers("berth", engine.dockerHost(), ids, failures);

  // The floors, on berth's containerd.
  test::run({"sh", "-c", "mkdir -p " + rootfs + "/bin && cp /bin/busybox " + rootfs + "/bin/busybox && ln -s busybox " + rootfs +
                             "/bin/true"});
  auto floorCtr = ctrRuns(containerdSocket, rootfs, runs, failures);
  // The parallel floor twice, in rounds with a batch of berth's own: containerd's default spec,
  // and Docker's. The floor moves with the machine as much as berth does (one sitting measured
  // 20 ctr runs at 1.46 s minutes after berth's batches at 1.39 s), so berth is compared with it
  // round by round here rather than with its batches of the workload above. The order turns
  // each round, so what one batch leaves (the bridge deletes tasks after a run has ended) meets
  // each kind of batch in turn.
  std::vector<double> floorBatches, specBatches, besideFloor;
  bool failed = false;
  auto plainBatch = [&] {
    auto batch = ctrParallelMs(
        containerdSocket,
        [&](int i) -> std::vector<std::string> { return {"--rootfs", rootfs, "bench-parallel-" + std::to_string(i), "/bin/true"}; },
        failures);
    if (batch) floorBatches.push_back(*batch);
    failed = failed || !batch;
  };
  auto specBatch = [&] {
    if (!dockerSpecs) return;
    auto batch = ctrParallelMs(
        containerdSocket,
        [&](int i) -> std::vector<std::string> { return {"--config", dockerSpecs->at(i), "bench-spec-" + std::to_string(i)}; },
        failures);
    if (batch) specBatches.push_back(*batch);
    failed = failed || !batch;
  };
  auto berthBatch = [&] { besideFloor.push_back(dockerBatchMs(engine.dockerHost(), "berth", nullptr, failures)); };
  const std::vector<std::function<void()>> kinds = {berthBatch, plainBatch, specBatch};
  for (int round = 0; round < kParallelBatches && !failed; ++round) {
    for (size_t k = 0; k < kinds.size(); ++k) kinds[(k + round) % kinds.size()]();
  }
  // The sequential floor with Docker's defaults: one `ctr run --rm --config` and one berth `docker
  // run --rm` after the other, so both meet the same moments of the machine. berth's run has
  // the docker CLI's five requests and berth's own work on top; ctr's has containerd's task
  // deletion on its path, which berth does after the exit is recorded. The plain `ctr run --rm`
  // above has Docker's spec neither.
  bench::Samples floorSpecRun, besideSpecRun;
  if (dockerSpecs && !failed) {
    for (int i = 0; i < runs; ++i) {
      auto start = Clock::now();
      auto r = test::run({"ctr", "--address", containerdSocket, "-n", "berth-bench-ctr", "run", "--rm", "--null-io", "--config",
                          dockerSpecs->front(), "bench-spec-0"},
                         {}, std::chrono::minutes(1));
      if (r.exitCode != 0) failures.add("ctr run --rm --config exited " + std::to_string(r.exitCode) + ": " + r.err);
      else floorSpecRun.micros.push_back(ms(Clock::now() - start));
      if (auto t = runOnce(engine.dockerHost(), "berth", "docker run beside the floor", failures)) {
        besideSpecRun.micros.push_back(*t);
      }
    }
  }
  test::removeNamespaceCgroups("berth");  // its containers are gone; containerd leaves the parent
  std::optional<double> floorCtrParallel, floorSpecParallel;
  if (floorBatches.size() == kParallelBatches) floorCtrParallel = medianOf(floorBatches);
  if (specBatches.size() == kParallelBatches) floorSpecParallel = medianOf(specBatches);
  test::removeNamespaceCgroups("berth-bench-ctr");  // containerd leaves the namespace's, empty
  bench::Samples floorCli;
  floorCli.what = "docker version";
  for (int i = 0; i < runs; ++i) {
    auto start = Clock::now();
    auto r = docker(engine.dockerHost(), {"version"});
    if (r.exitCode != 0) failures.add("docker version exited " + std::to_string(r.exitCode) + ": " + r.err);
    else floorCli.micros.push_back(ms(Clock::now() - start));
  }

  // The reference engine, by the same code: restarted first so its memory is fresh too.
  Figures r;
  std::vector<std::pair<double, double>> pairedRuns, pairedBatches;  // berth's ms, dockerd's ms
  r.name = "reference dockerd";
  if (!reference.empty()) {
    auto before = pidFromFile(referencePidfile);
    if (!before) failures.add("reference: no dockerd pid in " + referencePidfile);
    if (before && ::kill(*before, SIGTERM) == 0) {
      for (int i = 0; i < 300 && ::kill(*before, 0) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!restartReference()) failures.add("reference: restart for the fresh memory figure failed");
    auto dockerdPssMb = [&]() -> std::optional<double> {
      auto pid = pidFromFile(referencePidfile);
      if (!pid) return std::nullopt;
      auto kb = pssKb(*pid);
      if (!kb) return std::nullopt;
      return static_cast<double>(*kb) / 1024.0;
    };
    r.freshPssMb = dockerdPssMb();
    if (!r.freshPssMb) failures.add("reference: fresh PSS unreadable");
    auto loadedRef = docker(reference, {"load", "-i", archive});
    if (loadedRef.exitCode != 0) failures.add("reference: docker load: " + loadedRef.err);
    PeakSampler dockerdPeak(dockerdPssMb);
    auto refIds = measureWorkload(reference, runs, containers, r, failures);
    r.peakPssMb = dockerdPeak.stop();
    r.loadedPssMb = dockerdPssMb();
    if (!r.loadedPssMb) failures.add("reference: loaded PSS unreadable");
    removeContainers("reference", reference, refIds, failures);
    std::this_thread::sleep_for(kSettle);
    r.afterPssMb = dockerdPssMb();
    if (!r.peakPssMb || !r.afterPssMb) failures.add("reference: PSS during or after the workload unreadable");
    refIds = startRunning(reference, containers, "reference", failures);
    for (int round = 0; round < kRecoveryRounds; ++round) {
      auto refRecovered = measureRecovery(
          "reference", reference, refIds.size(),
          [&] {
            auto pid = pidFromFile(referencePidfile);
            return pid && ::kill(*pid, SIGKILL) == 0;
          },
          restartReference, failures);
      if (!refRecovered) break;
      r.recovery.push_back(*refRecovered);
    }
    removeContainers("reference", reference, refIds, failures);
    // The same runs and batches again with the engines alternating, run by run and batch by
    // batch (which goes first turning each time): the figures above come from blocks minutes
    // apart, and the machine's speed moves between them (`ctr run` alone took 75 ms in one
    // sitting and 120 ms in another the same day).
    runOnce(engine.dockerHost(), "berth", "a warm-up docker run", failures);
    runOnce(reference, "reference", "a warm-up docker run", failures);
    for (int i = 0; i < runs; ++i) {
      std::optional<double> mine, theirs;
      if (i % 2 == 0) mine = runOnce(engine.dockerHost(), "berth", "an alternating docker run", failures);
      theirs = runOnce(reference, "reference", "an alternating docker run", failures);
      if (i % 2 == 1) mine = runOnce(engine.dockerHost(), "berth", "an alternating docker run", failures);
      if (mine && theirs) pairedRuns.push_back({*mine, *theirs});
    }
    for (int round = 0; round < kAlternatingBatches; ++round) {
      double mine = 0, theirs = 0;
      if (round % 2 == 0) mine = dockerBatchMs(engine.dockerHost(), "berth", nullptr, failures);
      theirs = dockerBatchMs(reference, "reference", nullptr, failures);
      if (round % 2 == 1) mine = dockerBatchMs(engine.dockerHost(), "berth", nullptr, failures);
      pairedBatches.push_back({mine, theirs});
    }
    docker(reference, {"rmi", kImage});
    test::removeNamespaceCgroups("berth");  // the alternating runs made it again
  }

  if (failures.any()) return failures.report("container_bench");
  std::printf("%d sequential runs, 20 parallel, %d running containers for the listing, recovery and loaded figures\n",
              runs, containers);
  std::printf("%-20s %10s %10s %12s %10s %10s %10s %10s %12s\n", "engine", "run p50ms", "run p90ms", "20par total",
              "par min", "par max", "ps p50ms", "insp p50ms", "recover ms");
  auto print = [](Figures& f) {
    std::printf("%-20s %10.0f %10.0f %12.0f %10.0f %10.0f %10.2f %10.2f %12.0f\n", f.name.c_str(), f.run.percentile(50),
                f.run.percentile(90), f.parallelTotalMs(), f.parallel.percentile(0), f.parallel.percentile(100),
                f.list.percentile(50) / 1000, f.inspect.percentile(50) / 1000, f.recoveryMs());
  };
  print(b);
  if (!reference.empty()) print(r);
  auto printReads = [&](Figures& f) {
    std::printf("%-20s ps p50 with 0 containers, keep-alive %.0f us; with %d running, fresh connection: ps p50 %.2f ms, "
                "inspect p50 %.2f ms; keep-alive, ps --filter label= (half of them) p50 %.2f ms, ps -s p50 %.2f ms, "
                "system df p50 %.2f ms\n",
                f.name.c_str(), f.listEmpty.percentile(50), containers, f.listFresh.percentile(50) / 1000,
                f.inspectFresh.percentile(50) / 1000, f.listLabel.percentile(50) / 1000, f.listSized.percentile(50) / 1000,
                f.diskUsage.percentile(50) / 1000);
  };
  printReads(b);
  if (!reference.empty()) printReads(r);
  std::printf("recovery: berth kill -9 of containerd-bridge (restarted by the supervisor); dockerd kill -9 and restart "
              "with live-restore\n");
  std::printf("until docker ps --filter ancestor= lists all (berth: answered by the restored bridge, not the API's copy): "
              "berth %.0f ms",
              b.restoredMs());
  if (!reference.empty()) std::printf(", dockerd %.0f ms (ratio %.2f)", r.restoredMs(), b.restoredMs() / r.restoredMs());
  std::printf("\n");
  auto printRounds = [](const Figures& f) {
    std::printf("recovery rounds (median above), %s: docker ps", f.name.c_str());
    for (double ms : f.each(&Recovery::listedMs)) std::printf(" %.0f", ms);
    std::printf("; ancestor=");
    for (double ms : f.each(&Recovery::restoredMs)) std::printf(" %.0f", ms);
    std::printf(" ms\n");
  };
  printRounds(b);
  if (!reference.empty()) printRounds(r);
  auto printBatches = [](const char* what, const std::vector<double>& totals) {
    std::printf("parallel batches (median above), %s:", what);
    for (double ms : totals) std::printf(" %.0f", ms);
    std::printf(" ms\n");
  };
  printBatches("berth", b.parallelTotals);
  if (!reference.empty()) printBatches("reference dockerd", r.parallelTotals);
  printBatches("20 ctr run --rm", floorBatches);
  printBatches("20 ctr run --rm with Docker's spec", specBatches);
  printBatches("berth, in rounds with those two", besideFloor);
  std::printf("memory (PSS, containerd excluded): berth supervisor + services fresh %.1f MB, with %zu running %.1f MB "
              "(+ %.1f MB in %zu berth-logger processes)\n",
              *b.freshPssMb, ids.size(), *b.loadedPssMb, *b.loggersPssMb, loggers.size());
  std::printf("memory over the workload: berth peak %.1f MB; after it (all removed, %lld s idle) %.1f MB, %.2f of fresh\n",
              *b.peakPssMb, static_cast<long long>(kSettle.count()), *b.afterPssMb, *b.afterPssMb / *b.freshPssMb);
  std::printf("memory by process (PSS MB: fresh / with %d running / after the workload):", containers);
  for (const auto& [name, fresh] : *freshEach) {
    std::printf(" %s %.1f / %.1f / %.1f;", name.c_str(), fresh, loadedEach->at(name), afterEach->at(name));
  }
  std::printf("\n");
  if (!reference.empty()) {
    std::printf("memory (PSS): dockerd fresh %.1f MB, with %d running %.1f MB\n", *r.freshPssMb, containers,
                *r.loadedPssMb);
    std::printf("memory over the workload: dockerd peak %.1f MB; after it %.1f MB, %.2f of fresh; berth/dockerd after "
                "it %.2f\n",
                *r.peakPssMb, *r.afterPssMb, *r.afterPssMb / *r.freshPssMb, *b.afterPssMb / *r.afterPssMb);
    std::printf("ratios berth/dockerd: run p50 %.2f; 20 parallel %.2f; ps p50 %.2f; inspect p50 %.2f; recovery %.2f; "
                "fresh PSS %.2f; loaded PSS %.2f (with loggers %.2f)\n",
                b.run.percentile(50) / r.run.percentile(50), b.parallelTotalMs() / r.parallelTotalMs(),
                b.list.percentile(50) / r.list.percentile(50), b.inspect.percentile(50) / r.inspect.percentile(50),
                b.recoveryMs() / r.recoveryMs(), *b.freshPssMb / *r.freshPssMb, *b.loadedPssMb / *r.loadedPssMb,
                (*b.loadedPssMb + *b.loggersPssMb) / *r.loadedPssMb);
    std::printf("ratios berth/dockerd: ps with 0 containers keep-alive %.2f; fresh connection: ps %.2f, inspect %.2f; "
                "ps --filter label= %.2f; ps -s %.2f; system df %.2f\n",
                b.listEmpty.percentile(50) / r.listEmpty.percentile(50),
                b.listFresh.percentile(50) / r.listFresh.percentile(50),
                b.inspectFresh.percentile(50) / r.inspectFresh.percentile(50),
                b.listLabel.percentile(50) / r.listLabel.percentile(50),
                b.listSized.percentile(50) / r.listSized.percentile(50),
                b.diskUsage.percentile(50) / r.diskUsage.percentile(50));
  }
  if (!pairedRuns.empty() && !pairedBatches.empty()) {
    auto medians = [](const std::vector<std::pair<double, double>>& pairs) {
      std::vector<double> mine, theirs, ratios;
      for (auto [a, b] : pairs) {
        mine.push_back(a);
        theirs.push_back(b);
        ratios.push_back(a / b);
      }
      return std::array<double, 3>{medianOf(mine), medianOf(theirs), medianOf(ratios)};
    };
    auto oneByOne = medians(pairedRuns), batched = medians(pairedBatches);
    std::printf("alternating the engines run by run (%zu pairs, p50): docker run berth %.0f ms, dockerd %.0f ms, ratio %.2f "
                "(median of the pairs' ratios %.2f)\n",
                pairedRuns.size(), oneByOne[0], oneByOne[1], oneByOne[0] / oneByOne[1], oneByOne[2]);
    std::printf("alternating the engines batch by batch (%zu pairs, medians): 20 parallel berth %.2f s, dockerd %.2f s, "
                "ratio %.2f; batches berth",
                pairedBatches.size(), batched[0] / 1000, batched[1] / 1000, batched[0] / batched[1]);
    for (auto [a, b] : pairedBatches) std::printf(" %.0f", a);
    std::printf(", dockerd");
    for (auto [a, b] : pairedBatches) std::printf(" %.0f", b);
    std::printf(" ms\n");
  }
  std::printf("floors: ctr run --rm (containerd + runc alone) p50 %.0f ms; docker version (CLI + one request) p50 %.0f ms\n",
              floorCtr.percentile(50), floorCli.percentile(50));
  if (!floorSpecRun.micros.empty() && !besideSpecRun.micros.empty()) {
    std::printf("floor of one run with Docker's defaults, alternating with berth's runs (p50): ctr run --rm --config %.0f "
                "ms; berth's docker run %.0f ms, %.2f of it\n",
                floorSpecRun.percentile(50), besideSpecRun.percentile(50),
                besideSpecRun.percentile(50) / floorSpecRun.percentile(50));
    if (!reference.empty()) {
      std::printf("that floor against dockerd's docker run (measured at another moment): %.2f\n",
                  floorSpecRun.percentile(50) / r.run.percentile(50));
    }
  }
  if (floorCtrParallel && floorSpecParallel) {
    double berthBeside = medianOf(besideFloor);
    std::printf("floors of the parallel batch, in rounds with berth's (medians): 20 ctr run --rm at once %.2f s; the same "
                "with Docker's defaults (the spec berth gave a container: seccomp profile, capabilities, masked paths) "
                "%.2f s; berth's 20 docker run at once %.2f s, %.2f of the first floor and %.2f of Docker's\n",
                *floorCtrParallel / 1000.0, *floorSpecParallel / 1000.0, berthBeside / 1000.0, berthBeside / *floorCtrParallel,
                berthBeside / *floorSpecParallel);
    if (!reference.empty()) {
      std::printf("floor with Docker's defaults against dockerd's batch (measured at another moment): %.2f\n",
                  *floorSpecParallel / r.parallelTotalMs());
    }
  }
  return 0;
}
