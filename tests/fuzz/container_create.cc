// The containers core on the JSON documents a client controls (the `docker create` body with
// its Config, HostConfig and NetworkingConfig, the exec body, the update body) and on the image
// config a registry or an archive controls: create's validation and dockerd's defaults, the
// merge with the image's config, the OCI spec builder, mounts and volumes, links, log and
// restart policies, health checks; then start, inspect, exec create, update and remove. The
// core runs over the unit tests' fakes (tests/unit/fake_containerd.h): no containerd, no
// services, nothing outside a scratch directory. Each run builds a fresh core.
//
// Input: create body \0 exec body \0 update body \0 image config. Refusals are berth::Errors,
// or JSON type errors, which the RPC server answers as invalid.
#include "common/errors.h"
#include "common/json_text.h"
#include "services/containerd-bridge/containers_core.h"
#include "tests/fuzz/fuzz_support.h"
#include "tests/unit/fake_containerd.h"

namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
namespace fakes = berth::bridge::testing;

berth::fuzz::ScratchDir* scratch;
const std::string kImage = "busybox:1";
const std::string kImageId = "sha256:" + std::string(64, 'b');

// The core and its edges, as tests/unit/core_fixture.h assembles them.
struct Bridge {
  explicit Bridge(const std::string& dir) {
    berth::bridge::ServicePaths paths;
    paths.runDir = dir + "/run";
    paths.loggerBinary = "/nonexistent/berth-logger";
    store = std::make_unique<berth::bridge::ContainerStore>(dir + "/containers");
    core = std::make_unique<berth::bridge::ContainersCore>(berth::bridge::ContainersCore::Edges{
        *store, fake.tasks(), fake.containers(), images, host, scheduler,
        [](const std::string&, const berth::bridge::ContainerRecord&, std::map<std::string, std::string>) {}, paths,
        nullptr, &volumes, &network});
  }
  ~Bridge() {
    core->stopBackgroundWork();
    fake.shutdown();
    scheduler.joinAll();
  }
  fakes::FakeContainerd fake;
  fakes::FakeImageLayers images;
  fakes::FakeVolumes volumes;
  fakes::FakeNetwork network;
  fakes::FakeHostOps host;
  fakes::ManualScheduler scheduler;
  std::unique_ptr<berth::bridge::ContainerStore> store;
  std::unique_ptr<berth::bridge::ContainersCore> core;
};

// Runs one operation; a berth::Error or a JSON type error is its refusal. An internal error is
// a bug or a failed system call, and nothing here should make a system call fail, except at
// start: a start that fails setting up the container's logging or stdio is internal by design,
// as dockerd answers it (a 500 "failed to initialize logging driver: …" for a max-size that
// create took, since create checks only the options' names).
template <typename F>
bool attempt(const char* what, F fn, bool internalAllowed = false) {
  try {
    fn();
    return true;
  } catch (const berth::Error& e) {
    if (e.kind() == berth::ErrorKind::internal && !internalAllowed) {
      berth::fuzz::invariantBroken(std::string(what) + ": " + e.what());
    }
  } catch (const nlohmann::json::type_error&) {
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  berth::fuzz::quietLogs();
  scratch = new berth::fuzz::ScratchDir("create");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto parts = berth::fuzz::splitInput(data, size, 4);
  auto body = berth::parseJsonOrDiscarded(parts[0]);
  if (body.is_discarded()) return 0;  // the API answers 400 before the bridge sees it
  auto execBody = berth::parseJsonOrDiscarded(parts[1]);
  auto updateBody = berth::parseJsonOrDiscarded(parts[2]);
  // As the bridge's images client reads a config the images service stored.
  auto imageConfig = parts[3].empty() ? json{{"config", {{"Cmd", {"sh"}}, {"Env", {"PATH=/bin"}}}}}
                                      : berth::parseJsonOrDiscarded(parts[3]);

  const std::string dir = scratch->path() + "/run";
  berth::removeAll(dir);
  {
    Bridge bridge(dir);
    bridge.images.add(kImage, kImageId, imageConfig);
    auto& core = *bridge.core;
    std::string id;
    if (!attempt("create", [&] { id = core.create("", body, berth::deadlineIn(5s)).id; })) return 0;
    attempt("inspect", [&] { core.inspect(id).dump(); });
    attempt("start", [&] { core.start(id, berth::deadlineIn(5s)); }, true);
    if (!execBody.is_discarded()) {
      std::string exec;
      if (attempt("exec create", [&] { exec = core.execCreate(id, execBody); })) {
        attempt("exec inspect", [&] { core.execInspect(exec).dump(); });
      }
    }
    if (!updateBody.is_discarded()) attempt("update", [&] { core.update(id, updateBody, berth::deadlineIn(5s)); });
    attempt("inspect", [&] { core.inspect(id).dump(); });
    attempt("remove", [&] { core.remove(id, true, true, berth::deadlineIn(5s)); });
  }
  return 0;
}
