// image_bench: docker load / docker save of a generated ~200 MB, 8-layer image through the
// real docker CLI, and GET /images/json latency with 200 images, for berth and (when its
// address is given) the reference engine, in the same run.
//   image_bench [--host unix://...] [--reference unix:///run/refengine/docker.sock] [--mb 200]
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <memory>

#include "bench/bench_stats.h"
#include "bench/http_probe.h"
#include "tests/support/engine.h"
#include "tests/support/tar_builder.h"
#include "tests/support/test_images.h"

using namespace berth;
using Clock = std::chrono::steady_clock;

namespace {

test::CommandResult docker(const std::string& host, std::vector<std::string> args) {
  args.insert(args.begin(), "docker");
  return test::run(args, {"DOCKER_HOST=" + host}, std::chrono::minutes(10));
}

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

struct Figures {
  double loadSeconds = 0, saveSeconds = 0, archiveMb = 0;
  bench::Samples list;
};

Figures measure(const std::string& host, const std::string& archive, const std::string& dir, int listImages) {
  Figures f;
  f.archiveMb = static_cast<double>(std::filesystem::file_size(archive)) / 1e6;
  docker(host, {"rmi", "-f", "berth-bench/big:1"});
  auto start = Clock::now();
  auto r = docker(host, {"load", "-q", "-i", archive});
  f.loadSeconds = seconds(Clock::now() - start);
  if (r.exitCode != 0) std::fprintf(stderr, "load failed on %s: %s\n", host.c_str(), r.err.c_str());
  start = Clock::now();
  r = docker(host, {"save", "-o", dir + "/saved.tar", "berth-bench/big:1"});
  f.saveSeconds = seconds(Clock::now() - start);
  if (r.exitCode != 0) std::fprintf(stderr, "save failed on %s: %s\n", host.c_str(), r.err.c_str());
  std::filesystem::remove(dir + "/saved.tar");
  docker(host, {"rmi", "-f", "berth-bench/big:1"});
  // 200 small images sharing one layer, as a registry mirror or CI host holds.
  std::string base = dir + "/small-base.tar";
  test::TarBuilder().file("hello", "world").write(base);
  for (int i = 0; i < listImages; ++i) {
    std::string a = dir + "/small.tar";
    test::makeDockerArchive(a, {base}, {"berth-bench/small:" + std::to_string(i)}, dir, {}, "run-" + std::to_string(i));
    docker(host, {"load", "-q", "-i", a});
  }
  f.list = bench::getLatency(host, "/images/json", 200);
  for (int i = 0; i < listImages; ++i) docker(host, {"rmi", "berth-bench/small:" + std::to_string(i)});
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
  auto b = measure(host, archive, dir.path(), 200);
  std::printf("archive: %.0f MB, 8 layers\n", b.archiveMb);
  std::printf("%-34s %12s %12s %14s %14s\n", "engine", "load s", "load MB/s", "save s", "images p50 ms");
  std::printf("%-34s %12.2f %12.0f %14.2f %14.2f\n", "berth", b.loadSeconds, b.archiveMb / b.loadSeconds, b.saveSeconds,
              b.list.percentile(50) / 1000);
  if (!reference.empty()) {
    auto r = measure(reference, archive, dir.path(), 200);
    std::printf("%-34s %12.2f %12.0f %14.2f %14.2f\n", "reference dockerd", r.loadSeconds, r.archiveMb / r.loadSeconds,
                r.saveSeconds, r.list.percentile(50) / 1000);
    std::printf("load throughput ratio berth/dockerd: %.2f\n", r.loadSeconds / b.loadSeconds);
  }
  return 0;
}
