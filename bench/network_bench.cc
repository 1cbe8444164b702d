// network_bench: bridge networking, for berth (an engine of its own, in a network namespace of
// its own, so its bridge and rules stay there) and, when its address is given, the reference
// engine, measured by the same code in the same run, alternating round by round:
//   - `docker run --rm busybox true` on the default bridge and with --network none: the
//     difference is what attaching and detaching one container costs;
//   - with N containers running on one user network: each `docker run -d` onto it, a name
//     lookup of another container from inside one (busybox nslookup, its process included, the
//     exec's own cost left out), GET /networks/{id}, and GET /networks filtered by the
//     network's label (as compose lists a project's networks).
//   network_bench [--reference unix:///run/refengine/docker.sock] [--runs 21] [--containers 100]
#include <algorithm>
#include <unistd.h>

#include <memory>
#include <thread>

#include "bench/bench_stats.h"
#include "bench/docker_cli.h"
#include "bench/http_probe.h"
#include "tests/support/engine.h"
#include "tests/support/test_images.h"

using namespace berth;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kImage = "berth-bench/busybox:1";

using bench::docker;

// Named per run: a network dockerd could not remove (see cleanUp) never blocks the next run.
const std::string kNetwork = "benchnet-" + std::to_string(::getpid());

std::string containerName(int i) { return kNetwork + "-c" + std::to_string(i); }

struct Side {
  std::string name, host;
  bench::Samples runBridge, runNone, runOnNetwork, lookup, inspect, filtered;
  std::string networkId;
};

bool mustSucceed(const test::CommandResult& r, const std::string& what, bench::Failures& failures) {
  if (r.exitCode == 0) return true;
  failures.add(what + " exited " + std::to_string(r.exitCode) + ": " + r.err);
  return false;
}

void timedRun(Side& s, const std::vector<std::string>& network, bench::Samples& into, bench::Failures& failures) {
  std::vector<std::string> args = {"run", "--rm", "--pull", "never"};
  args.insert(args.end(), network.begin(), network.end());
  args.insert(args.end(), {kImage, "true"});
  auto start = Clock::now();
  auto r = docker(s.host, args);
  auto took = Clock::now() - start;
  if (r.exitCode != 0) failures.add(s.name + ": docker run exited " + std::to_string(r.exitCode) + ": " + r.err);
  else into.add(took);
}

// The cost of one name lookup from inside container 0: busybox's `time -p` (10 ms resolution)
// around 200 lookups run by a shell in the container, divided by 200, so the exec that starts
// them is outside the figure (differences of whole execs were swamped by the engines' own exec
// jitter). Each nslookup must find the name; the time must be read and above zero.
void lookup(Side& s, int containers, int round, bench::Failures& failures) {
  constexpr int kLookups = 200;
  std::string target = containerName(1 + round % std::max(1, containers - 1));
  auto r = docker(s.host, {"exec", containerName(0), "time", "-p", "sh", "-c",
                           "for i in $(seq " + std::to_string(kLookups) + "); do nslookup " + target +
                               " | grep -q 'Name:' || exit 1; done"});
  if (r.exitCode != 0) {
    failures.add(s.name + ": nslookup " + target + " failed (" + std::to_string(r.exitCode) + "): " + r.out + r.err);
    return;
  }
  auto at = r.err.find("real ");
  double seconds = at == std::string::npos ? 0 : std::atof(r.err.c_str() + at + 5);
  if (seconds <= 0) {
    failures.add(s.name + ": no elapsed time for " + std::to_string(kLookups) + " lookups in: " + r.err);
    return;
  }
  s.lookup.micros.push_back(seconds * 1e6 / kLookups);
}

void prepare(Side& s, const std::string& archive, int containers, bench::Failures& failures) {
  mustSucceed(docker(s.host, {"load", "-q", "-i", archive}), s.name + ": docker load", failures);
  auto created = docker(s.host, {"network", "create", "--label", "bench=" + kNetwork, kNetwork});
  mustSucceed(created, s.name + ": docker network create", failures);
  s.networkId = created.out.substr(0, 64);
  // The filtered list the rounds time must pick this network alone.
  auto byLabel = docker(s.host, {"network", "ls", "--filter", "label=bench=" + kNetwork, "--format", "{{.Name}}"});
  if (mustSucceed(byLabel, s.name + ": docker network ls --filter", failures) && byLabel.out != kNetwork + "\n") {
    failures.add(s.name + ": docker network ls --filter label=bench=" + kNetwork + " listed [" + byLabel.out + "]");
  }
  for (int i = 0; i < containers && !failures.any(); ++i) {
    auto start = Clock::now();
    auto r = docker(s.host, {"run", "-d", "--pull", "never", "--name", containerName(i), "--network", kNetwork, kImage,
                             "sleep", "3600"});
    auto took = Clock::now() - start;
    if (mustSucceed(r, s.name + ": docker run -d " + containerName(i), failures)) s.runOnNetwork.add(took);
  }
}

void round(Side& s, int containers, int n, bench::Failures& failures) {
  timedRun(s, {}, s.runBridge, failures);
  timedRun(s, {"--network", "none"}, s.runNone, failures);
  lookup(s, containers, n, failures);
  try {
    for (auto d : bench::getLatency(s.host, "/networks/" + s.networkId, 5).micros) s.inspect.micros.push_back(d);
    // {"label":["bench=NETWORK"]}
    std::string byLabel = "/networks?filters=%7B%22label%22%3A%5B%22bench%3D" + kNetwork + "%22%5D%7D";
    for (auto d : bench::getLatency(s.host, byLabel, 5).micros) s.filtered.micros.push_back(d);
  } catch (const std::exception& e) {
    failures.add(s.name + ": " + e.what());
  }
}

void cleanUp(Side& s, int containers, bench::Failures& failures) {
  std::vector<std::string> rm = {"rm", "-f"};
  for (int i = 0; i < containers; ++i) rm.push_back(containerName(i));
  bool preparedAll = !failures.any();  // otherwise some containers were never made
  auto r = docker(s.host, rm, std::chrono::minutes(5));
  if (r.exitCode != 0 && (preparedAll || r.err.find("No such container") == std::string::npos)) {
    failures.add(s.name + ": docker rm -f exited " + std::to_string(r.exitCode) + ": " + r.err);
  }
  // berth's rm returns once the endpoint is gone: its network rm must succeed at once. dockerd
  // releases endpoints of removed containers asynchronously, so its rm may need a moment; the
  // retries are printed.
  test::CommandResult removed = docker(s.host, {"network", "rm", kNetwork});
  int retries = 0;
  while (s.name != "berth" && removed.exitCode != 0 && removed.err.find("active endpoints") != std::string::npos &&
         retries < 50) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ++retries;
    removed = docker(s.host, {"network", "rm", kNetwork});
  }
  if (retries > 0) std::fprintf(stderr, "note: %s's network rm was retried %d times\n", s.name.c_str(), retries);
  if (removed.exitCode != 0 && s.name != "berth" && removed.err.find("active endpoints") != std::string::npos) {
    // dockerd 20.10 sometimes keeps endpoints of removed containers until it restarts; that
    // is its cleanup failing after every sample was taken: reported, not counted.
    std::fprintf(stderr, "note: %s kept network %s: %s", s.name.c_str(), kNetwork.c_str(), removed.err.c_str());
  } else {
    mustSucceed(removed, s.name + ": docker network rm", failures);
  }
  mustSucceed(docker(s.host, {"rmi", kImage}), s.name + ": docker rmi", failures);
}

}  // namespace

int main(int argc, char** argv) {
  std::string reference;
  int runs = 21, containers = 100;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--reference") reference = argv[i + 1];
    else if (a == "--runs") runs = std::stoi(argv[i + 1]);
    else if (a == "--containers") containers = std::max(2, std::stoi(argv[i + 1]));
  }
  test::TempDir dir("berth-network-bench");
  std::string archive = test::busyboxArchive(dir.path(), kImage);
  test::Engine::Options options;
  options.ownNetworkNamespace = true;
  test::Engine engine(options);
  bench::Failures failures;
  std::vector<Side> sides;
  sides.push_back({"berth", engine.dockerHost(), {}, {}, {}, {}, {}, {}, ""});
  if (!reference.empty()) sides.push_back({"reference dockerd", reference, {}, {}, {}, {}, {}, {}, ""});
  for (auto& s : sides) {
    s.runBridge.what = s.name + " run --rm (bridge)";
    s.runNone.what = s.name + " run --rm --network none";
    s.runOnNetwork.what = s.name + " run -d on a user network";
    s.lookup.what = s.name + " nslookup";
    s.inspect.what = s.name + " GET /networks/ID";
    s.filtered.what = s.name + " GET /networks?filters=label";
    prepare(s, archive, containers, failures);
  }
  for (int r = 0; r < runs && !failures.any(); ++r) {
    for (auto& s : sides) round(s, containers, r, failures);
  }
  for (auto& s : sides) cleanUp(s, containers, failures);
  if (failures.any()) return failures.report("network_bench");
  std::printf("p50 in ms (lookup and GET in µs); %d alternating rounds; %d containers on one user network\n", runs,
              containers);
  std::printf("%-18s %12s %12s %12s %12s %12s %12s %12s\n", "engine", "run bridge", "run none", "attach cost",
              "run -d net", "lookup µs", "GET net µs", "ls label µs");
  for (auto& s : sides) {
    std::printf("%-18s %12.1f %12.1f %12.1f %12.1f %12.0f %12.0f %12.0f\n", s.name.c_str(),
                s.runBridge.percentile(50) / 1000, s.runNone.percentile(50) / 1000,
                (s.runBridge.percentile(50) - s.runNone.percentile(50)) / 1000, s.runOnNetwork.percentile(50) / 1000,
                s.lookup.percentile(50), s.inspect.percentile(50), s.filtered.percentile(50));
  }
  if (sides.size() == 2) {
    auto& b = sides[0];
    auto& r = sides[1];
    std::printf(
        "ratios berth/dockerd: run bridge %.2f, run none %.2f, run -d on a network %.2f, lookup %.2f, GET %.2f, "
        "ls by label %.2f\n",
        b.runBridge.percentile(50) / r.runBridge.percentile(50), b.runNone.percentile(50) / r.runNone.percentile(50),
        b.runOnNetwork.percentile(50) / r.runOnNetwork.percentile(50), b.lookup.percentile(50) / r.lookup.percentile(50),
        b.inspect.percentile(50) / r.inspect.percentile(50), b.filtered.percentile(50) / r.filtered.percentile(50));
  }
  return 0;
}
