// image_bench: docker load / docker save of a generated ~200 MB, 8-layer image through the
// real docker CLI, and GET /images/json latency with 200 images, for berth and (when its
// address is given) the reference engine, in the same run.
//   image_bench [--host unix://...] [--reference unix:///run/refengine/docker.sock] [--mb 200]
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>

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
  double loadSeconds = 0, saveSeconds = 0, archiveMb = 0;
  bench::Samples list;
};

// One engine's figures; every command is checked, and a failed one is recorded instead of
// timed.
Figures measure(const std::string& name, const std::string& host, const std::string& archive, const std::string& dir,
                int listImages, bench::Failures& failures) {
  Figures f;
  f.list.what = "GET /images/json on " + name;
  auto must = [&](const test::CommandResult& r, const std::string& what) {
    if (r.exitCode != 0) failures.add(name + ": " + what + " exited " + std::to_string(r.exitCode) + ": " + r.err);
    return r.exitCode == 0;
  };
  f.archiveMb = static_cast<double>(std::filesystem::file_size(archive)) / 1e6;
  docker(host, {"rmi", "-f", "berth-bench/big:1"});  // absent on a clean engine; not a sample
  auto start = Clock::now();
  if (must(docker(host, {"load", "-q", "-i", archive}), "docker load")) f.loadSeconds = seconds(Clock::now() - start);
  start = Clock::now();
  if (must(docker(host, {"save", "-o", dir + "/saved.tar", "berth-bench/big:1"}), "docker save")) {
    f.saveSeconds = seconds(Clock::now() - start);
  }
  std::filesystem::remove(dir + "/saved.tar");
  must(docker(host, {"rmi", "berth-bench/big:1"}), "docker rmi of the big image");
  // 200 small images sharing one layer, as a registry mirror or CI host holds.
  std::string base = dir + "/small-base.tar";
  test::TarBuilder().file("hello", "world").write(base);
  for (int i = 0; i < listImages; ++i) {
    std::string a = dir + "/small.tar";
    test::makeDockerArchive(a, {base}, {"berth-bench/small:" + std::to_string(i)}, dir, {}, "run-" + std::to_string(i));
    must(docker(host, {"load", "-q", "-i", a}), "docker load of small image " + std::to_string(i));
  }
  auto listed = docker(host, {"images", "-q", "--filter", "reference=berth-bench/small"});
  if (must(listed, "docker images")) {
    size_t n = static_cast<size_t>(std::count(listed.out.begin(), listed.out.end(), '\n'));
    if (n != static_cast<size_t>(listImages)) {
      failures.add(name + ": " + std::to_string(n) + " small images listed, not " + std::to_string(listImages));
    }
  }
  try {
    f.list = bench::getLatency(host, "/images/json", 200);
  } catch (const std::exception& e) {
    failures.add(name + ": " + e.what());
  }
  for (int i = 0; i < listImages; ++i) {
    must(docker(host, {"rmi", "berth-bench/small:" + std::to_string(i)}), "docker rmi of small image " + std::to_string(i));
  }
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  std::string host, reference;
  size_t mb = 200;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--host") host = argv[i + 1];
    else if (a == "--reference") reference = argv[i + 1];
    else if (a == "--mb") mb = std::stoul(argv[i + 1]);
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
  auto b = measure("berth", host, archive, dir.path(), 200, failures);
  Figures r;
  if (!reference.empty()) r = measure("reference dockerd", reference, archive, dir.path(), 200, failures);
  if (failures.any()) return failures.report("image_bench");
  std::printf("archive: %.0f MB, 8 layers\n", b.archiveMb);
  std::printf("%-34s %12s %12s %14s %14s\n", "engine", "load s", "load MB/s", "save s", "images p50 ms");
  std::printf("%-34s %12.2f %12.0f %14.2f %14.2f\n", "berth", b.loadSeconds, b.archiveMb / b.loadSeconds, b.saveSeconds,
              b.list.percentile(50) / 1000);
  if (!reference.empty()) {
    std::printf("%-34s %12.2f %12.0f %14.2f %14.2f\n", "reference dockerd", r.loadSeconds, r.archiveMb / r.loadSeconds,
                r.saveSeconds, r.list.percentile(50) / 1000);
    std::printf("ratios berth/dockerd: load time %.2f, save time %.2f, images p50 %.2f\n", b.loadSeconds / r.loadSeconds,
                b.saveSeconds / r.saveSeconds, b.list.percentile(50) / r.list.percentile(50));
  }
  return 0;
}
