// berth-containerd-bridge: the thin RPC adapter over the containers core, plus the stream
// socket for logs, attach and exec.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "common/errors.h"
#include "ipc/methods.h"
#include "ipc/rpc_client.h"
#include "ipc/service_host.h"
#include "services/containerd-bridge/container_service.h"
#include "services/containerd-bridge/container_store.h"
#include "services/containerd-bridge/containerd_client.h"
#include "services/containerd-bridge/stream_server.h"

using namespace berth;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

std::string text(capnp::Data::Reader d) { return std::string(reinterpret_cast<const char*>(d.begin()), d.size()); }

json parseBody(capnp::Data::Reader d) {
  auto j = json::parse(text(d), nullptr, false);
  if (j.is_discarded()) throw Error(ErrorKind::invalid, "invalid JSON in the request body");
  return j;
}

kj::ArrayPtr<const kj::byte> bytes(const std::string& s) {
  return kj::arrayPtr(reinterpret_cast<const kj::byte*>(s.data()), s.size());
}

// The images service, as the containers core sees it.
class ImagesClient : public bridge::ImagePort {
 public:
  ImagesClient(zmq::context_t& context, const std::string& endpoint) : rpc_(context, endpoint) {}

  Image inspect(const std::string& ref) override {
    auto reply = rpc_.callIdempotent(ipc::methods::imagesInspect(), ipc::deadlineIn(10s),
                                     [&](ipc::Images::InspectParams::Builder p) { p.setRef(ref); });
    auto info = reply.get().getImage();
    Image image;
    image.id = info.getId();
    image.config = json::parse(text(info.getConfig()), nullptr, false);
    if (!image.config.is_object()) image.config = json::object();
    return image;
  }

  std::vector<bridge::ContainerdClient::Mount> prepareRootfs(const std::string& container,
                                                             const std::string& image) override {
    auto reply = rpc_.callIdempotent(ipc::methods::imagesPrepareRootfs(), ipc::deadlineIn(30s),
                                     [&](ipc::Images::PrepareRootfsParams::Builder p) {
                                       p.setContainer(container);
                                       p.setImage(image);
                                     });
    std::vector<bridge::ContainerdClient::Mount> mounts;
    for (auto m : reply.get().getMounts()) {
      bridge::ContainerdClient::Mount mount{m.getType(), m.getSource(), {}};
      for (auto o : m.getOptions()) mount.options.emplace_back(o);
      mounts.push_back(std::move(mount));
    }
    return mounts;
  }

  void releaseRootfs(const std::string& container) override {
    rpc_.callIdempotent(ipc::methods::imagesReleaseRootfs(), ipc::deadlineIn(30s),
                        [&](ipc::Images::ReleaseRootfsParams::Builder p) { p.setContainer(container); });
  }

 private:
  ipc::RpcClient rpc_;
};

// The init --init runs as PID 1, as dockerd finds it: docker-init beside berth's binaries or on
// PATH, else Debian's tini-static (a static binary: it must run in any image).
std::string findInitBinary(const std::string& binDir) {
  std::vector<std::string> candidates = {binDir + "/docker-init"};
  std::string path = std::getenv("PATH") ? std::getenv("PATH") : "/usr/local/bin:/usr/bin:/bin";
  for (const char* name : {"docker-init", "tini-static"}) {
    size_t start = 0;
    while (start <= path.size()) {
      size_t end = path.find(':', start);
      if (end == std::string::npos) end = path.size();
      if (end > start) candidates.push_back(path.substr(start, end - start) + "/" + name);
      start = end + 1;
    }
  }
  candidates.push_back("/usr/bin/tini-static");
  for (const auto& c : candidates) {
    if (::access(c.c_str(), X_OK) == 0) return c;
  }
  spdlog::warn("containers: no docker-init or tini-static found; --init will be refused");
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  std::unique_ptr<bridge::ContainerStore> store;
  std::unique_ptr<bridge::ContainerdClient> containerd;
  // The images client has its own ZeroMQ context: the host's is terminated when the host
  // stops, which waits for every socket on it, and monitors may still hold this one.
  zmq::context_t imagesContext;
  std::unique_ptr<ImagesClient> images;
  std::unique_ptr<bridge::ContainerService> containers;
  std::unique_ptr<bridge::StreamServer> streams;
  bridge::RuncVersion runc;
  int status = ipc::runService(
      "containerd-bridge", argc, argv,
      [&](ipc::ServiceHost& host) {
        const auto& config = host.config();
        store = std::make_unique<bridge::ContainerStore>(config.serviceDataDir("containers"));
        std::string socket = config.containerdSocket();
        containerd = std::make_unique<bridge::ContainerdClient>(socket);
        images = std::make_unique<ImagesClient>(imagesContext, config.serviceEndpoint("images"));
        runc = bridge::readRuncVersion();
        char self[4096];
        ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
        std::string binDir = n > 0 ? std::string(self, static_cast<size_t>(n)) : std::string();
        binDir = binDir.substr(0, binDir.rfind('/'));
        bridge::ServicePaths paths;
        paths.runDir = config.execRoot + "/containers";
        paths.loggerBinary = binDir + "/berth-logger";
        paths.archiveBinary = binDir + "/berth-archive";
        paths.initBinary = findInitBinary(binDir);
        auto* events = &host.events();
        containers = std::make_unique<bridge::ContainerService>(
            *store, *containerd, *images,
            [events](const std::string& action, const bridge::ContainerRecord& r, std::map<std::string, std::string> extra) {
              std::vector<std::pair<std::string, std::string>> attrs;
              if (!r.id.empty()) {
                attrs.emplace_back("image", r.imageRef);
                attrs.emplace_back("name", r.name.empty() ? "" : r.name.substr(1));
                if (r.config.contains("Labels") && r.config["Labels"].is_object()) {
                  for (auto it = r.config["Labels"].begin(); it != r.config["Labels"].end(); ++it) {
                    if (it.value().is_string()) attrs.emplace_back(it.key(), it.value().get<std::string>());
                  }
                }
              }
              for (auto& [k, v] : extra) attrs.emplace_back(k, v);
              events->publish({"container", action, r.id, attrs, "local", 0});
            },
            paths);
        containers->restore();
        streams = std::make_unique<bridge::StreamServer>(*containers, config.ipcDir() + "/containerd-bridge-streams.sock",
                                                           paths.archiveBinary);
        streams->start();

        using W = ipc::RpcServer::Dispatch;
        auto& server = host.server();
        auto& c = *containers;
        server.implements<ipc::ContainerdBridge>();
        server.handle(
            ipc::methods::bridgeSummary(),
            [&, socket](ipc::ContainerdBridge::SummaryParams::Reader, ipc::ContainerdBridge::SummaryResults::Builder r) {
              auto counts = store->counts();
              r.setContainers(counts.total);
              r.setRunning(counts.running);
              r.setPaused(counts.paused);
              r.setStopped(counts.stopped);
              r.setContainerdAddress(socket);
              try {
                auto v = containerd->version(std::chrono::milliseconds(500));
                r.setContainerdReachable(true);
                r.setContainerdVersion(v.version);
                r.setContainerdRevision(v.revision);
              } catch (const Error&) {
                r.setContainerdReachable(false);
              }
              r.setRuncVersion(runc.version);
              r.setRuncCommit(runc.commit);
            },
            W::worker);
        server.handle(
            ipc::methods::bridgeCreate(),
            [&c](auto p, auto r) {
              auto created = c.create(p.getName(), parseBody(p.getBody()));
              r.setId(created.id);
              r.initWarnings(0);
            },
            W::worker);
        server.handle(ipc::methods::bridgeStart(), [&c](auto p, auto r) { r.setAlreadyRunning(!c.start(p.getRef())); },
                      W::worker);
        server.handle(
            ipc::methods::bridgeStop(),
            [&c](auto p, auto r) { r.setWasRunning(c.stop(p.getRef(), p.getTimeoutSeconds(), p.getSignal())); },
            W::worker);
        server.handle(
            ipc::methods::bridgeRestart(), [&c](auto p, auto) { c.restart(p.getRef(), p.getTimeoutSeconds(), p.getSignal()); },
            W::worker);
        server.handle(ipc::methods::bridgeKill(), [&c](auto p, auto) { c.kill(p.getRef(), p.getSignal()); }, W::worker);
        server.handle(ipc::methods::bridgePause(), [&c](auto p, auto) { c.pause(p.getRef()); }, W::worker);
        server.handle(ipc::methods::bridgeUnpause(), [&c](auto p, auto) { c.unpause(p.getRef()); }, W::worker);
        server.handle(
            ipc::methods::bridgeWait(),
            [&c](auto p, auto r) {
              auto waitMs = std::min<uint32_t>(p.getWaitMs(), 10000);
              auto w = c.wait(p.getRef(), p.getCondition(), p.getAfterExits(), std::chrono::milliseconds(waitMs));
              r.setId(w.id);
              r.setDone(w.done);
              r.setStatusCode(w.statusCode);
              r.setError(w.error);
              r.setExits(w.exits);
            },
            W::worker);
        server.handle(ipc::methods::bridgeRemove(), [&c](auto p, auto) { c.remove(p.getRef(), p.getForce()); }, W::worker);
        server.handle(ipc::methods::bridgeRename(), [&c](auto p, auto) { c.rename(p.getRef(), p.getName()); }, W::worker);
        server.handle(ipc::methods::bridgeInspect(), [&c](auto p, auto r) { r.setJson(bytes(c.inspect(p.getRef()).dump())); });
        server.handle(
            ipc::methods::bridgeList(),
            [&c](auto p, auto r) {
              bridge::ContainerService::ListOptions options;
              options.all = p.getAll();
              options.limit = p.getLimit();
              if (p.getFilters().size() > 0) options.filters = parseBody(p.getFilters());
              if (!options.filters.is_object()) throw Error(ErrorKind::invalid, "invalid filters");
              r.setJson(bytes(c.list(options).dump()));
            },
            W::worker);
        server.handle(
            ipc::methods::bridgeTop(), [&c](auto p, auto r) { r.setJson(bytes(c.top(p.getRef(), p.getPsArgs()).dump())); },
            W::worker);
        server.handle(
            ipc::methods::bridgeResize(), [&c](auto p, auto) { c.resize(p.getRef(), p.getHeight(), p.getWidth()); },
            W::worker);
        server.handle(
            ipc::methods::bridgeExecCreate(),
            [&c](auto p, auto r) { r.setId(c.execCreate(p.getRef(), parseBody(p.getBody()))); }, W::worker);
        server.handle(ipc::methods::bridgeExecInspect(),
                      [&c](auto p, auto r) { r.setJson(bytes(c.execInspect(p.getId()).dump())); });
        server.handle(
            ipc::methods::bridgeExecResize(), [&c](auto p, auto) { c.execResize(p.getId(), p.getHeight(), p.getWidth()); },
            W::worker);
        server.handle(
            ipc::methods::bridgePrune(),
            [&c](auto p, auto r) {
              json filters = p.getFilters().size() > 0 ? parseBody(p.getFilters()) : json::object();
              r.setJson(bytes(c.prune(filters).dump()));
            },
            W::worker);
        server.handle(ipc::methods::bridgeStats(),
                      [&c](auto p, auto r) { r.setJson(bytes(c.stats(p.getRef()).dump())); }, W::worker);
        server.handle(
            ipc::methods::bridgeUpdate(),
            [&c](auto p, auto r) {
              auto warnings = c.update(p.getRef(), parseBody(p.getBody()));
              auto list = r.initWarnings(static_cast<unsigned>(warnings.size()));
              for (unsigned i = 0; i < warnings.size(); ++i) list.set(i, warnings[i]);
            },
            W::worker);
        server.handle(
            ipc::methods::bridgeShutdown(),
            [&c](auto p, auto) { c.shutdown(std::chrono::seconds(std::max(0, p.getTimeoutSeconds()))); }, W::worker);
      },
      64);
  // Monitors wait in containerd for each container's life on detached threads: leave without
  // destroying what they use (every record is already on disk).
  if (streams) streams->stop();
  std::_Exit(status);
}
