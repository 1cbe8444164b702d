// image_bench: docker load / docker save of a generated ~200 MB, 8-layer image through the
// real docker CLI, the time to the first byte of a streamed save and of a container's export
// (GET /containers/{id}/export of a container created from that image), and the latency of
// GET /images/json and of one image's GET /images/{name}/json with 200 images, for berth and
// (when its address is given) the reference engine, in the same run.
//   image_bench [--host unix://...] [--reference unix:///run/refengine/docker.sock] [--mb 200] [--rounds 3]
// Load and save are measured in rounds that alternate the engines; each round's ratio is printed
// (issue 15 asks for twice dockerd's load throughput in every paired run).
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>

#include "bench/bench_stats.h"
#include "bench/docker_cli.h"
#include "bench/http_probe.h"
#include "tests/support/engine.h"
#include "tests/support/tar_builder.h"
#include "tests/support/test_images.h"

using namespace berth;
using Clock = std::chrono::steady_clock;

namespace {

// Loads and saves of a 200 MB image get ten minutes.
test::CommandResult docker(const std::string& host, std::vector<std::string> args) {
  return bench::docker(host, std::move(args), std::chrono::minutes(10));
}

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

struct Figures {
  std::vector<double> loads, saves;  // seconds, one per round
  std::vector<double> firstBytes;     // seconds to a streamed save's first byte, one per round
  std::vector<double> exportFirstBytes, exports;  // a container's export: first byte, whole
  bench::Samples list, inspect;
};

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

bool must(const test::CommandResult& r, const std::string& name, const std::string& what, bench::Failures& failures) {
  if (r.exitCode != 0) failures.add(name + ": " + what + " exited " + std::to_string(r.exitCode) + ": " + r.err);
  return r.exitCode == 0;
}

// A streamed download (a save, an export) as a client piping it on sees it; nothing when it
// failed or ended short of `atLeast` bytes (recorded as a failure instead).
std::optional<bench::StreamTiming> timedStream(const std::string& name, const std::string& host, const std::string& path,
                                               const std::string& what, uint64_t atLeast, bench::Failures& failures) {
  try {
    auto t = bench::streamTiming(host, path);
    if (t.bodyBytes >= atLeast) return t;
    failures.add(name + ": the " + what + " ended after " + std::to_string(t.bodyBytes) + " bytes");
  } catch (const std::exception& e) {
    failures.add(name + ": " + e.what());
  }
  return std::nullopt;
}

// One round of one engine: load the big image into an engine that lacks it, save it, remove it.
// A failed command is recorded instead of timed.
void loadAndSave(const std::string& name, const std::string& host, const std::string& archive, const std::string& dir,
                 Figures& f, bench::Failures& failures) {
  docker(host, {"rmi", "-f", "berth-bench/big:1"});  // absent on a clean engine; not a sample
  auto start = Clock::now();
  if (must(docker(host, {"load", "-q", "-i", archive}), name, "docker load", failures)) {
    f.loads.push_back(seconds(Clock::now() - start));
  }
  start = Clock::now();
  if (must(docker(host, {"save", "-o", dir + "/saved.tar", "berth-bench/big:1"}), name, "docker save", failures)) {
    f.saves.push_back(seconds(Clock::now() - start));
  }
  std::filesystem::remove(dir + "/saved.tar");
  // The same save as a client piping it on sees it: how long until its first byte.
  uint64_t whole = std::filesystem::file_size(archive) * 9 / 10;
  if (auto t = timedStream(name, host, "/images/berth-bench/big:1/get", "streamed save", whole, failures)) {
    f.firstBytes.push_back(t->firstByte);
  }
  // A container's export: the merged view of the same 200 MB, from a container created (not
  // run: the image holds data only) over the image.
  docker(host, {"rm", "-f", "berth-bench-export"});  // absent on a clean engine; not a sample
  if (must(docker(host, {"create", "--name", "berth-bench-export", "--pull", "never", "--network", "none",
                         "berth-bench/big:1", "/none"}),
           name, "docker create of the container to export", failures)) {
    if (auto t = timedStream(name, host, "/containers/berth-bench-export/export", "export", whole, failures)) {
      f.exportFirstBytes.push_back(t->firstByte);
      f.exports.push_back(t->total);
    }
    must(docker(host, {"rm", "berth-bench-export"}), name, "docker rm of the exported container", failures);
  }
  must(docker(host, {"rmi", "berth-bench/big:1"}), name, "docker rmi of the big image", failures);
}

// 200 small images sharing one layer, as a registry mirror or CI host holds, and the listing's
// latency.
void listing(const std::string& name, const std::string& host, const std::string& dir, int listImages, Figures& f,
             bench::Failures& failures) {
  f.list.what = "GET /images/json on " + name;
  std::string base = dir + "/small-base.tar";
  test::TarBuilder().file("hello", "world").write(base);
  for (int i = 0; i < listImages; ++i) {
    std::string a = dir + "/small.tar";
    test::makeDockerArchive(a, {base}, {"berth-bench/small:" + std::to_string(i)}, dir, {}, "run-" + std::to_string(i));
    must(docker(host, {"load", "-q", "-i", a}), name, "docker load of small image " + std::to_string(i), failures);
  }
  auto listed = docker(host, {"images", "-q", "--filter", "reference=berth-bench/small"});
  if (must(listed, name, "docker images", failures)) {
    size_t n = static_cast<size_t>(std::count(listed.out.begin(), listed.out.end(), '\n'));
    if (n != static_cast<size_t>(listImages)) {
      failures.add(name + ": " + std::to_string(n) + " small images listed, not " + std::to_string(listImages));
    }
  }
  try {
    f.list = bench::getLatency(host, "/images/json", 200);
    f.inspect = bench::getLatency(host, "/images/berth-bench/small:" + std::to_string(listImages / 2) + "/json", 500);
  } catch (const std::exception& e) {
    failures.add(name + ": " + e.what());
  }
  for (int i = 0; i < listImages; ++i) {
    must(docker(host, {"rmi", "berth-bench/small:" + std::to_string(i)}), name,
         "docker rmi of small image " + std::to_string(i), failures);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string host, reference;
  size_t mb = 200;
  int rounds = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--host") host = argv[i + 1];
    else if (a == "--reference") reference = argv[i + 1];
    else if (a == "--mb") mb = std::stoul(argv[i + 1]);
    else if (a == "--rounds") rounds = std::max(1, std::stoi(argv[i + 1]));
  }
  test::TempDir dir("berth-image-bench");
  // 8 layers of random (incompressible) data, plain tar, like `docker save` writes.
  std::vector<std::string> layers;
  for (int i = 0; i < 8; ++i) {
    std::string path = dir.path() + "/layer" + std::to_string(i) + ".tar";
    std::string data(mb * 1000000 / 8, '\0');
    FILE* r = std::fopen("/dev/urandom", "rb");
    size_t got = std::fread(data.data(), 1, data.size(), r);
    std::fclose(r);
    data.resize(got);
    test::TarBuilder().file("layer" + std::to_string(i) + "/data", data).write(path);
    layers.push_back(path);
  }
  std::string archive = dir.path() + "/big.tar";
  test::makeDockerArchive(archive, layers, {"berth-bench/big:1"}, dir.path());
  for (const auto& l : layers) std::filesystem::remove(l);

  std::unique_ptr<test::Engine> engine;
  if (host.empty()) {
    engine = std::make_unique<test::Engine>();
    host = engine->dockerHost();
  }
  bench::Failures failures;
  // Rounds alternate the engines, so a stretch of heavy CPU steal falls on both.
  Figures b, r;
  for (int round = 0; round < rounds; ++round) {
    loadAndSave("berth", host, archive, dir.path(), b, failures);
    if (!reference.empty()) loadAndSave("reference dockerd", reference, archive, dir.path(), r, failures);
  }
  listing("berth", host, dir.path(), 200, b, failures);
  if (!reference.empty()) listing("reference dockerd", reference, dir.path(), 200, r, failures);
  if (failures.any()) return failures.report("image_bench");
  double archiveMb = static_cast<double>(std::filesystem::file_size(archive)) / 1e6;
  std::printf("archive: %.0f MB, 8 layers; %d rounds, engines alternating\n", archiveMb, rounds);
  if (!reference.empty()) {
    double worst = 0;
    for (int i = 0; i < rounds; ++i) {
      double ratio = b.loads[i] / r.loads[i];
      worst = std::max(worst, ratio);
      std::printf("round %d: load berth %.2f s, dockerd %.2f s, ratio %.2f; save berth %.2f s, dockerd %.2f s, ratio %.2f\n",
                  i + 1, b.loads[i], r.loads[i], ratio, b.saves[i], r.saves[i], b.saves[i] / r.saves[i]);
    }
    std::printf("load ratio, worst round: %.2f\n", worst);
  }
  std::printf("%-20s %8s %10s %8s %16s %10s %18s %14s %15s\n", "engine (medians)", "load s", "load MB/s", "save s",
              "save 1st byte ms", "export s", "export 1st byte ms", "images p50 ms", "inspect p50 ms");
  auto row = [&](const char* name, Figures& f) {
    std::printf("%-20s %8.2f %10.0f %8.2f %16.1f %10.2f %18.1f %14.2f %15.3f\n", name, median(f.loads),
                archiveMb / median(f.loads), median(f.saves), median(f.firstBytes) * 1000, median(f.exports),
                median(f.exportFirstBytes) * 1000, f.list.percentile(50) / 1000, f.inspect.percentile(50) / 1000);
  };
  row("berth", b);
  if (!reference.empty()) {
    row("reference dockerd", r);
    std::printf("ratios berth/dockerd: load time %.2f, save time %.2f, save first byte %.2f, export time %.2f, "
                "export first byte %.2f, images p50 %.2f, image inspect p50 %.2f\n",
                median(b.loads) / median(r.loads), median(b.saves) / median(r.saves),
                median(b.firstBytes) / median(r.firstBytes), median(b.exports) / median(r.exports),
                median(b.exportFirstBytes) / median(r.exportFirstBytes), b.list.percentile(50) / r.list.percentile(50),
                b.inspect.percentile(50) / r.inspect.percentile(50));
  }
  return 0;
}
