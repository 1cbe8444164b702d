// volume_bench: with 1,000 volumes, POST /volumes/create, GET /volumes (docker volume ls), the
// same filtered by name (`docker volume ls --filter name=benchvol-1`: 1 in 9 of them) and
// GET /volumes/NAME (docker volume inspect) round trips, and `docker run --rm` of busybox `true`
// with and without a named volume, for berth and (when its address is given) the reference
// engine in the same run. Samples alternate between the engines, round by round, so a burst of
// CPU steal on this shared machine lands on both.
//   volume_bench [--host unix://...] [--reference unix:///run/refengine/docker.sock]
//                [--volumes 1000] [--runs 20]
#include <algorithm>
#include <memory>

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

std::string volumeName(int i) { return "benchvol-" + std::to_string(i); }

struct Side {
  std::string name, host;
  bench::Samples create, list, filtered, inspect, runPlain, runVolume;
};

void mustSucceed(const test::CommandResult& r, const std::string& what, bench::Failures& failures) {
  if (r.exitCode != 0) failures.add(what + " exited " + std::to_string(r.exitCode) + ": " + r.err);
}

// Loads the image and creates the volumes (timing each create); checks that all are listed.
void prepare(Side& s, const std::string& archive, int volumes, bench::Failures& failures) {
  mustSucceed(docker(s.host, {"load", "-q", "-i", archive}), s.name + ": docker load", failures);
  try {
    s.create = bench::requestLatency(s.host, "POST", "/volumes/create", "", volumes, "201",
                                     [](int i) { return "{\"Name\":\"" + volumeName(i) + "\"}"; });
  } catch (const std::exception& e) {
    failures.add(s.name + ": " + e.what());
  }
  auto listed = docker(s.host, {"volume", "ls", "-q", "--filter", "name=benchvol-"});
  mustSucceed(listed, s.name + ": docker volume ls", failures);
  auto n = std::count(listed.out.begin(), listed.out.end(), '\n');
  if (n != volumes) failures.add(s.name + ": " + std::to_string(n) + " volumes listed, not " + std::to_string(volumes));
  // The filtered list the rounds time: the names that contain "benchvol-1".
  auto filtered = docker(s.host, {"volume", "ls", "-q", "--filter", "name=benchvol-1"});
  mustSucceed(filtered, s.name + ": docker volume ls --filter name=benchvol-1", failures);
  long want = 0;
  for (int i = 0; i < volumes; ++i) want += volumeName(i).find("benchvol-1") != std::string::npos;
  auto got = std::count(filtered.out.begin(), filtered.out.end(), '\n');
  if (got != want) failures.add(s.name + ": name=benchvol-1 listed " + std::to_string(got) + ", not " + std::to_string(want));
}

// One round of every measurement on one engine.
void round(Side& s, int volumes, bench::Failures& failures) {
  try {
    for (auto d : bench::getLatency(s.host, "/volumes", 5).micros) s.list.micros.push_back(d);
    // {"name":["benchvol-1"]}
    for (auto d : bench::getLatency(s.host, "/volumes?filters=%7B%22name%22%3A%5B%22benchvol-1%22%5D%7D", 5).micros) {
      s.filtered.micros.push_back(d);
    }
    for (auto d : bench::getLatency(s.host, "/volumes/" + volumeName(volumes / 2), 20).micros) {
      s.inspect.micros.push_back(d);
    }
  } catch (const std::exception& e) {
    failures.add(s.name + ": " + e.what());
  }
  auto timedRun = [&](std::vector<std::string> extra, bench::Samples& into) {
    std::vector<std::string> args = {"run", "--rm", "--pull", "never", "--network", "none"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.insert(args.end(), {kImage, "true"});
    auto start = Clock::now();
    auto r = docker(s.host, args);
    auto took = Clock::now() - start;
    if (r.exitCode != 0) failures.add(s.name + ": docker run exited " + std::to_string(r.exitCode) + ": " + r.err);
    else into.add(took);
  };
  timedRun({}, s.runPlain);
  timedRun({"-v", volumeName(0) + ":/d"}, s.runVolume);
}

void cleanUp(Side& s, int volumes, bench::Failures& failures) {
  std::vector<std::string> rm = {"volume", "rm"};
  for (int i = 0; i < volumes; ++i) rm.push_back(volumeName(i));
  mustSucceed(docker(s.host, rm), s.name + ": docker volume rm", failures);
  mustSucceed(docker(s.host, {"rmi", kImage}), s.name + ": docker rmi", failures);
}

void print(Side& s) {
  std::printf("%-18s %11.2f %11.2f %11.2f %11.2f %11.1f %11.1f %11.1f\n", s.name.c_str(),
              s.create.percentile(50) / 1000, s.list.percentile(50) / 1000, s.filtered.percentile(50) / 1000,
              s.inspect.percentile(50) / 1000, s.runPlain.percentile(50) / 1000, s.runVolume.percentile(50) / 1000,
              (s.runVolume.percentile(50) - s.runPlain.percentile(50)) / 1000);
}

}  // namespace

int main(int argc, char** argv) {
  std::string host, reference;
  int volumes = 1000, runs = 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--host") host = argv[i + 1];
    else if (a == "--reference") reference = argv[i + 1];
    else if (a == "--volumes") volumes = std::stoi(argv[i + 1]);
    else if (a == "--runs") runs = std::stoi(argv[i + 1]);
  }
  test::TempDir dir("berth-volume-bench");
  std::string archive = test::busyboxArchive(dir.path(), kImage);
  std::unique_ptr<test::Engine> engine;
  if (host.empty()) {
    engine = std::make_unique<test::Engine>();
    host = engine->dockerHost();
  }
  bench::Failures failures;
  std::vector<Side> sides;
  sides.push_back({"berth", host, {}, {}, {}, {}, {}, {}});
  if (!reference.empty()) sides.push_back({"reference dockerd", reference, {}, {}, {}, {}, {}, {}});
  for (auto& s : sides) {
    s.create.what = s.name + " create";
    s.list.what = s.name + " GET /volumes";
    s.filtered.what = s.name + " GET /volumes?filters=name";
    s.inspect.what = s.name + " GET /volumes/NAME";
    s.runPlain.what = s.name + " run --rm";
    s.runVolume.what = s.name + " run --rm -v";
    prepare(s, archive, volumes, failures);
  }
  for (int r = 0; r < runs && !failures.any(); ++r) {
    for (auto& s : sides) round(s, volumes, failures);
  }
  for (auto& s : sides) cleanUp(s, volumes, failures);
  if (failures.any()) return failures.report("volume_bench");
  std::printf("%d volumes; p50 in ms; %d runs of each docker run, alternating\n", volumes, runs);
  std::printf("%-18s %11s %11s %11s %11s %11s %11s %11s\n", "engine", "create", "ls (GET)", "ls name=", "inspect",
              "run --rm", "run -v vol", "-v cost");
  for (auto& s : sides) print(s);
  if (sides.size() == 2) {
    auto& b = sides[0];
    auto& r = sides[1];
    std::printf("ratios berth/dockerd: create %.2f, ls %.2f, ls name= %.2f, inspect %.2f, run --rm %.2f, run -v vol %.2f\n",
                b.create.percentile(50) / r.create.percentile(50), b.list.percentile(50) / r.list.percentile(50),
                b.filtered.percentile(50) / r.filtered.percentile(50),
                b.inspect.percentile(50) / r.inspect.percentile(50),
                b.runPlain.percentile(50) / r.runPlain.percentile(50),
                b.runVolume.percentile(50) / r.runVolume.percentile(50));
  }
  return 0;
}
