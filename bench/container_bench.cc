// container_bench: container start-up and listing through the real docker CLI, for berth and
// (when its address is given) the reference engine, in the same run:
//   - `docker run --rm --network none IMAGE true`, one after another: median and p90;
//   - 20 of those in parallel: total time and the spread of the per-run times;
//   - with N running containers: GET /containers/json and GET /containers/{id}/json latency
//     (keep-alive connection, server round trip), and for berth the time from kill -9 of the
//     containerd-bridge until `docker ps` lists all N again;
//   - the memory of berth's processes (PSS of supervisor and services, containerd excluded);
//   - the floors under `docker run`: containerd and runc alone (`ctr run --rm` on the engine's
//     containerd, same rootfs) and the docker CLI alone (`docker version`, one round trip).
//   container_bench [--reference unix:///run/refengine/docker.sock] [--runs 30] [--containers 100]
//                   [--reference-pidfile /run/refengine/docker.pid]
// berth runs in a fresh engine of its own; the image is built from busybox-static and loaded
// into both engines first.
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <future>
#include <memory>
#include <sstream>

#include "bench/bench_stats.h"
#include "bench/http_probe.h"
#include "tests/support/engine.h"
#include "tests/support/test_images.h"

using namespace berth;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kImage = "berth-bench/busybox:1";

test::CommandResult docker(const std::string& host, std::vector<std::string> args) {
  args.insert(args.begin(), "docker");
  return test::run(args, {"DOCKER_HOST=" + host}, std::chrono::minutes(5));
}

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

struct Figures {
  bench::Samples run;            // one docker run --rm, ms
  double parallelTotalMs = 0;
  bench::Samples parallel;       // per-run times of the parallel batch, ms
  bench::Samples list, inspect;  // server round trips, us
  double recoveryMs = -1;        // kill -9 of the bridge -> docker ps lists all again
  int failures = 0;
};

Figures measure(const std::string& host, int runs, int containers, test::Engine* own) {
  Figures f;
  for (int i = 0; i < 3; ++i) docker(host, {"run", "--rm", "--pull", "never", "--network", "none", kImage, "true"});
  for (int i = 0; i < runs; ++i) {
    auto start = Clock::now();
    auto r = docker(host, {"run", "--rm", "--pull", "never", "--network", "none", kImage, "true"});
    if (r.exitCode != 0) ++f.failures;
    f.run.micros.push_back(ms(Clock::now() - start));
  }
  {
    std::vector<std::future<double>> batch;
    auto start = Clock::now();
    for (int i = 0; i < 20; ++i) {
      batch.push_back(std::async(std::launch::async, [&] {
        auto s = Clock::now();
        auto r = docker(host, {"run", "--rm", "--pull", "never", "--network", "none", kImage, "true"});
        if (r.exitCode != 0) ++f.failures;
        return ms(Clock::now() - s);
      }));
    }
    for (auto& b : batch) f.parallel.micros.push_back(b.get());
    f.parallelTotalMs = ms(Clock::now() - start);
  }
  std::vector<std::string> ids;
  for (int i = 0; i < containers; ++i) {
    auto r = docker(host, {"run", "-d", "--pull", "never", "--network", "none", kImage, "sleep", "100000"});
    if (r.exitCode == 0) ids.push_back(r.out.substr(0, 64));
    else ++f.failures;
  }
  f.list = bench::getLatency(host, "/containers/json", 200);
  if (!ids.empty()) f.inspect = bench::getLatency(host, "/containers/" + ids[0] + "/json", 500);
  if (own) {
    pid_t bridge = own->children()["containerd-bridge"].pid;
    auto start = Clock::now();
    ::kill(bridge, SIGKILL);
    for (int i = 0; i < 2000; ++i) {
      auto r = docker(host, {"ps", "-q"});
      std::istringstream in(r.out);
      std::string line;
      int n = 0;
      while (std::getline(in, line)) ++n;
      if (r.exitCode == 0 && n == static_cast<int>(ids.size()) && own->children()["containerd-bridge"].pid != bridge) {
        f.recoveryMs = ms(Clock::now() - start);
        break;
      }
    }
  }
  for (size_t i = 0; i < ids.size(); i += 25) {
    std::vector<std::string> args = {"rm", "-f"};
    for (size_t j = i; j < std::min(ids.size(), i + 25); ++j) args.push_back(ids[j]);
    docker(host, args);
  }
  return f;
}

// The same `true` through containerd and runc alone, on a plain rootfs directory.
bench::Samples ctrRuns(const std::string& containerdSocket, const std::string& rootfs, int runs) {
  bench::Samples s;
  for (int i = 0; i < runs + 3; ++i) {
    auto start = Clock::now();
    auto r = test::run({"ctr", "--address", containerdSocket, "-n", "berth-bench-ctr", "run", "--rm", "--null-io", "--rootfs",
                        rootfs, "bench-" + std::to_string(i), "/bin/true"},
                       {}, std::chrono::minutes(1));
    if (i >= 3 && r.exitCode == 0) s.micros.push_back(ms(Clock::now() - start));
  }
  return s;
}

// Proportional set size: shared library pages count once across berth's processes.
long pssKb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps_rollup");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Pss:", 0) == 0) return std::stol(line.substr(4));
  }
  return 0;
}

void print(const char* name, Figures& f) {
  std::printf("%-20s %10.0f %10.0f %12.0f %10.0f %10.0f %10.2f %10.2f %12.0f %6d\n", name, f.run.percentile(50),
              f.run.percentile(90), f.parallelTotalMs, f.parallel.percentile(0), f.parallel.percentile(100),
              f.list.percentile(50) / 1000, f.inspect.percentile(50) / 1000, f.recoveryMs, f.failures);
}

}  // namespace

int main(int argc, char** argv) {
  std::string reference, referencePidfile = "/run/refengine/docker.pid";
  int runs = 30, containers = 100;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--reference") reference = argv[i + 1];
    else if (a == "--runs") runs = std::stoi(argv[i + 1]);
    else if (a == "--containers") containers = std::stoi(argv[i + 1]);
    else if (a == "--reference-pidfile") referencePidfile = argv[i + 1];
  }
  test::TempDir dir("berth-container-bench");
  std::string archive = test::busyboxArchive(dir.path(), kImage);
  test::Engine engine;
  docker(engine.dockerHost(), {"load", "-i", archive});
  long idleKb = 0;
  for (auto& [name, child] : engine.children()) {
    if (name != "containerd") idleKb += pssKb(child.pid);
  }
  idleKb += pssKb(engine.pid());
  auto b = measure(engine.dockerHost(), runs, containers, &engine);
  std::string rootfs = dir.path() + "/rootfs";
  test::run({"sh", "-c", "mkdir -p " + rootfs + "/bin && cp /bin/busybox " + rootfs + "/bin/busybox && ln -s busybox " + rootfs +
                             "/bin/true"});
  auto floorCtr = ctrRuns(engine.execRoot() + "/containerd/containerd.sock", rootfs, runs);
  bench::Samples floorCli;
  for (int i = 0; i < runs; ++i) {
    auto start = Clock::now();
    docker(engine.dockerHost(), {"version"});
    floorCli.micros.push_back(ms(Clock::now() - start));
  }
  std::printf("%d sequential runs, 20 parallel, %d running containers for the listing figures\n", runs, containers);
  std::printf("%-20s %10s %10s %12s %10s %10s %10s %10s %12s %6s\n", "engine", "run p50ms", "run p90ms",
              "20par total", "par min", "par max", "ps p50ms", "insp p50ms", "recover ms", "fails");
  print("berth", b);
  std::printf("berth idle PSS (supervisor + services, containerd excluded): %.1f MB\n", idleKb / 1024.0);
  std::printf("floors: ctr run --rm (containerd + runc alone) p50 %.0f ms; docker version (CLI + one request) p50 %.0f ms\n",
              floorCtr.percentile(50), floorCli.percentile(50));
  if (!reference.empty()) {
    // dockerd's idle memory beside berth's, when its pid file is where the reference engine
    // tool writes it (or --reference-pidfile says).
    std::ifstream pidFile(referencePidfile);
    pid_t dockerd = 0;
    if (pidFile >> dockerd && dockerd > 0) {
      std::printf("reference dockerd idle PSS: %.1f MB\n", pssKb(dockerd) / 1024.0);
    }
    docker(reference, {"load", "-i", archive});
    auto r = measure(reference, runs, containers, nullptr);
    print("reference dockerd", r);
    std::printf("run time ratio dockerd/berth: %.2f; 20 parallel: %.2f; ps: %.2f\n",
                r.run.percentile(50) / b.run.percentile(50), r.parallelTotalMs / b.parallelTotalMs,
                r.list.percentile(50) / b.list.percentile(50));
    docker(reference, {"rmi", kImage});
  }
  return 0;
}
