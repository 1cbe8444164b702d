// berth-containerd-bridge: the thin RPC adapter over the containers core (containers_core.h),
// plus the stream socket for logs, attach, exec and docker cp. Each handler converts Cap'n Proto
// to the core's C++ types and back, and passes on its call's deadline.
#include <linux/capability.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdlib>
#include <future>

#include "common/errors.h"
#include "common/files.h"
#include "common/sandbox.h"
#include "ipc/capnp_text.h"
#include "ipc/methods.h"
#include "ipc/service_host.h"
#include "ipc/stream_protocol.h"
#include "services/containerd-bridge/container_events.h"
#include "services/containerd-bridge/container_store.h"
#include "services/containerd-bridge/container_view_feed.h"
#include "services/containerd-bridge/container_layers_client.h"
#include "services/containerd-bridge/containerd_client.h"
#include "services/containerd-bridge/containers_core.h"
#include "services/containerd-bridge/host_ops.h"
#include "services/containerd-bridge/image_layers_client.h"
#include "services/containerd-bridge/network_service_client.h"
#include "services/containerd-bridge/oci_spec.h"
#include "services/containerd-bridge/stream_server.h"
#include "services/containerd-bridge/volume_service_client.h"
#include "common/json_text.h"

using namespace berth;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

using ipc::bytes;

json parseBody(capnp::Data::Reader d) {
  auto j = parseJsonOrDiscarded(ipc::textView(d));
  if (j.is_discarded()) throw Error(ErrorKind::invalid, "invalid JSON in the request body");
  return j;
}

// The init --init runs as PID 1, as dockerd finds it: docker-init beside berth's binaries or on
// PATH, else Debian's tini-static (a static binary: it must run in any image).
std::string findInitBinary(const std::string& binDir) {
  if (::access((binDir + "/docker-init").c_str(), X_OK) == 0) return binDir + "/docker-init";
  for (const char* name : {"docker-init", "tini-static"}) {
    if (auto found = findInPath(name, "/usr/local/bin:/usr/bin:/bin")) return *found;
  }
  if (::access("/usr/bin/tini-static", X_OK) == 0) return "/usr/bin/tini-static";
  spdlog::warn("containers: no docker-init or tini-static found; --init will be refused");
  return "";
}

std::string binaryDirectory() {
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  std::string binDir = n > 0 ? std::string(self, static_cast<size_t>(n)) : std::string();
  return binDir.substr(0, binDir.rfind('/'));
}

void registerHandlers(ipc::RpcServer& server, bridge::ContainersCore& c) {
  using W = ipc::RpcServer::Dispatch;
  using Call = ipc::CallContext;
  server.handleWithContext(
      ipc::methods::bridgeCreate(),
      [&c](auto p, auto r, const Call& call) {
        auto created = c.create(p.getName(), parseBody(p.getBody()), call.deadline, p.getId(),
                                static_cast<pid_t>(p.getCallerPid()));
        r.setId(created.id);
        r.initWarnings(0);
      },
      W::worker);
  server.handleWithContext(
      ipc::methods::bridgeStart(),
      [&c](auto p, auto r, const Call& call) { r.setAlreadyRunning(!c.start(p.getRef(), call.deadline)); }, W::worker);
  server.handleWithContext(
      ipc::methods::bridgeStop(),
      [&c](auto p, auto r, const Call& call) {
        r.setWasRunning(c.stop(p.getRef(), p.getTimeoutSeconds(), p.getSignal(), call.deadline));
      },
      W::worker);
  server.handleWithContext(
      ipc::methods::bridgeRestart(),
      [&c](auto p, auto, const Call& call) { c.restart(p.getRef(), p.getTimeoutSeconds(), p.getSignal(), call.deadline); },
      W::worker);
  server.handleWithContext(
      ipc::methods::bridgeKill(), [&c](auto p, auto, const Call& call) { c.kill(p.getRef(), p.getSignal(), call.deadline); },
      W::worker);
  server.handleWithContext(
      ipc::methods::bridgePause(), [&c](auto p, auto, const Call& call) { c.pause(p.getRef(), call.deadline); }, W::worker);
  server.handleWithContext(
      ipc::methods::bridgeUnpause(), [&c](auto p, auto, const Call& call) { c.unpause(p.getRef(), call.deadline); },
      W::worker);
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
      W::longPoll);  // a wait holds its call for up to 10 s: never one of the pool's workers
  server.handleWithContext(
      ipc::methods::bridgeRemove(),
      [&c](auto p, auto, const Call& call) { c.remove(p.getRef(), p.getForce(), p.getRemoveVolumes(), call.deadline); }, W::worker);
  server.handle(ipc::methods::bridgeRename(), [&c](auto p, auto) { c.rename(p.getRef(), p.getName()); }, W::worker);
  server.handle(
      ipc::methods::bridgeSetNetwork(),
      [&c](auto p, auto) {
        auto config = parseJsonOrDiscarded(ipc::textView(p.getEndpointConfig()));
        if (config.is_discarded() || config.is_null()) config = nlohmann::json::object();
        c.setNetwork(p.getRef(), p.getNetwork(), config, p.getConnect(), deadlineIn(std::chrono::seconds(30)));
      },
      W::worker);
  server.handle(ipc::methods::bridgeInspect(), [&c](auto p, auto r) { r.setJson(bytes(c.inspectText(p.getRef()))); });
  server.handleWithContext(
      ipc::methods::bridgeList(),
      [&c](auto p, auto r, const Call& call) {
        bridge::ListOptions options;
        options.all = p.getAll();
        options.limit = p.getLimit();
        options.size = p.getSize();
        if (p.getFilters().size() > 0) options.filters = parseBody(p.getFilters());
        if (!options.filters.is_object()) throw Error(ErrorKind::invalid, "invalid filters");
        r.setJson(bytes(c.listText(options, call.deadline)));
      },
      W::worker);
  server.handleWithContext(
      ipc::methods::bridgeTop(),
      [&c](auto p, auto r, const Call& call) { r.setJson(bytes(c.top(p.getRef(), p.getPsArgs(), call.deadline).dump())); },
      W::worker);
  server.handleWithContext(
      ipc::methods::bridgeResize(),
      [&c](auto p, auto, const Call& call) { c.resize(p.getRef(), p.getHeight(), p.getWidth(), call.deadline); },
      W::worker);
  server.handle(
      ipc::methods::bridgeExecCreate(), [&c](auto p, auto r) { r.setId(c.execCreate(p.getRef(), parseBody(p.getBody()))); },
      W::worker);
  server.handle(ipc::methods::bridgeExecInspect(), [&c](auto p, auto r) { r.setJson(bytes(c.execInspect(p.getId()).dump())); });
  server.handleWithContext(
      ipc::methods::bridgeExecResize(),
      [&c](auto p, auto, const Call& call) { c.execResize(p.getId(), p.getHeight(), p.getWidth(), call.deadline); },
      W::worker);
  server.handleWithContext(
      ipc::methods::bridgePrune(),
      [&c](auto p, auto r, const Call& call) {
        json filters = p.getFilters().size() > 0 ? parseBody(p.getFilters()) : json::object();
        r.setJson(bytes(c.prune(filters, call.deadline).dump()));
      },
      W::worker);
  server.handle(ipc::methods::bridgeStats(), [&c](auto p, auto r) { r.setJson(bytes(c.stats(p.getRef()).dump())); },
                W::worker);
  server.handleWithContext(
      ipc::methods::bridgeUpdate(),
      [&c](auto p, auto r, const Call& call) {
        auto warnings = c.update(p.getRef(), parseBody(p.getBody()), call.deadline);
        auto list = r.initWarnings(static_cast<unsigned>(warnings.size()));
        for (unsigned i = 0; i < warnings.size(); ++i) list.set(i, warnings[i]);
      },
      W::worker);
  server.handleWithContext(
      ipc::methods::bridgeInspectWithSize(),
      [&c](auto p, auto r, const Call& call) { r.setJson(bytes(c.inspectWithSize(p.getRef(), call.deadline).dump())); },
      W::worker);
  server.handleWithContext(
      ipc::methods::bridgeChanges(),
      [&c](auto p, auto r, const Call& call) {
        auto changes = c.changes(p.getRef(), call.deadline);
        auto out = r.initChanges(static_cast<unsigned>(changes.size()));
        for (unsigned i = 0; i < changes.size(); ++i) {
          out[i].setKind(changes[i].kind);
          out[i].setPath(changes[i].path);
        }
      },
      W::worker);
  server.handleWithContext(
      ipc::methods::bridgeExportBegin(),
      [&c](auto p, auto r, const Call& call) {
        auto download = c.exportBegin(p.getRef(), call.deadline);
        r.setDownload(download.id);
        r.setSize(download.size);
      },
      W::worker);
  server.handleWithContext(
      ipc::methods::bridgeCommit(),
      [&c](auto p, auto r, const Call& call) {
        bridge::LayerOperations::CommitRequest request;
        request.body = ipc::text(p.getConfig());
        request.changes = ipc::texts(p.getChanges());
        request.reference = p.getReference();
        request.message = p.getMessage();
        request.author = p.getAuthor();
        request.pause = p.getPause();
        r.setId(c.commit(p.getRef(), request, call.deadline));
      },
      W::worker);
  server.handle(
      ipc::methods::bridgeShutdown(),
      [&c](auto p, auto) { c.shutdown(std::chrono::seconds(std::max(0, p.getTimeoutSeconds()))); }, W::worker);
}

}  // namespace

int main(int argc, char** argv) {
  std::unique_ptr<bridge::ContainerStore> store;
  std::unique_ptr<bridge::ContainerdClient> containerd;
  // The clients of the other services and the view feed have their own ZeroMQ context: the host's
  // is terminated when the host stops, which waits for every socket on it, and these outlive the
  // host (monitors may still use them). A socket of theirs on the host's context held the bridge
  // in that wait on every stop until the supervisor killed it, 10 s later.
  zmq::context_t clientsContext;
  std::unique_ptr<bridge::ImageLayersClient> images;
  std::unique_ptr<bridge::ContainerLayersClient> layers;
  std::unique_ptr<bridge::VolumeServiceClient> volumes;
  std::unique_ptr<bridge::NetworkServiceClient> network;
  bridge::SystemHostOps hostOps;
  bridge::ThreadScheduler scheduler;
  std::unique_ptr<bridge::ContainersCore> containers;
  std::unique_ptr<bridge::StreamServer> streams;
  std::unique_ptr<bridge::ContainerViewFeed> viewFeed;  // observes the store and the execs
  std::shared_future<bridge::RuncVersion> runc;
  double confineMs = 0;
  auto confine = [&confineMs] {
    // The bridge prepares what containerd runs: fifos and the logger, mounts and views of a
    // container's filesystem (berth-archive, spawned with a subset of these), cgroups and
    // processes of containers (kill, ps). It keeps what that needs, and no module loading,
    // raw I/O, time, boot, audit or MAC administration.
    auto t0 = std::chrono::steady_clock::now();
    bridge::grantableCapabilities();  // privileged containers get what the engine had, not what the bridge keeps
    sandbox::confine({"berth-containerd-bridge",
                      {CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_FSETID, CAP_KILL, CAP_SETGID,
                       CAP_SETUID, CAP_SETPCAP, CAP_SYS_CHROOT, CAP_SYS_PTRACE, CAP_SYS_ADMIN, CAP_SYS_RESOURCE,
                       CAP_MKNOD, CAP_SETFCAP},
                      {"execve", "execveat", "mount", "umount2", "mount_setattr", "open_tree", "move_mount", "fsopen",
                       "fsmount", "fsconfig", "chroot", "pivot_root", "mknod", "mknodat",
                       // berth-archive drops capabilities; ps reads NUMA policies; runc
                       // (--version) probes seccomp, which can only narrow a filter
                       "capset", "get_mempolicy", "set_mempolicy", "seccomp"},
                      true});
    confineMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  };
  int status = ipc::runService(
      "containerd-bridge", argc, argv, confine,
      [&](ipc::ServiceHost& host) {
        auto t0 = std::chrono::steady_clock::now();
        auto lap = [last = t0]() mutable {
          auto now = std::chrono::steady_clock::now();
          double ms = std::chrono::duration<double, std::milli>(now - last).count();
          last = now;
          return ms;
        };
        const auto& config = host.config();
        store = std::make_unique<bridge::ContainerStore>(config.serviceDataDir("containers"));
        std::string socket = config.containerdSocket();
        double recordsMs = lap();
        containerd = std::make_unique<bridge::ContainerdClient>(socket);
        images = std::make_unique<bridge::ImageLayersClient>(clientsContext, config.serviceEndpoint("images"));
        layers = std::make_unique<bridge::ContainerLayersClient>(clientsContext, config.serviceEndpoint("images"));
        ipc::setViewStampSource(ipc::ViewKind::images, [l = layers.get()] { return l->imageViews(); });
        volumes = std::make_unique<bridge::VolumeServiceClient>(clientsContext, config.serviceEndpoint("volumes"));
        ipc::setViewStampSource(ipc::ViewKind::volumes, [v = volumes.get()] { return v->volumeViews(); });
        network = std::make_unique<bridge::NetworkServiceClient>(clientsContext, config.serviceEndpoint("network"));
        ipc::setViewStampSource(ipc::ViewKind::networks, [n = network.get()] { return n->networkViews(); });
        // `runc --version` (5-10 ms) is for `docker info` and `version` alone: read while the
        // bridge restores, not before.
        runc = std::async(std::launch::async, bridge::readRuncVersion).share();
        double clientsMs = lap();
        std::string binDir = binaryDirectory();
        bridge::ServicePaths paths;
        paths.runDir = config.execRoot + "/containers";
        paths.loggerBinary = binDir + "/berth-logger";
        paths.initBinary = findInitBinary(binDir);
        paths.containerdSocket = socket;
        containers = std::make_unique<bridge::ContainersCore>(bridge::ContainersCore::Edges{
            *store, containerd->tasks(), containerd->containers(), *images, hostOps, scheduler,
            bridge::publishContainerEvents(host.events()), paths, layers.get(),
            volumes.get(), network.get()});
        // Before the restore: its changes take the first numbers of this run's view sequence.
        viewFeed = std::make_unique<bridge::ContainerViewFeed>(clientsContext, config.viewsEndpoint("containerd-bridge"),
                                                               *store, containers->views(), containers->execs());
        containers->restore();
        double restoreMs = lap();
        streams = std::make_unique<bridge::StreamServer>(*containers, ipc::streams::socketPath(config.ipcDir()),
                                                           binDir + "/berth-archive");
        streams->start();
        // The exit follower and other background work run on detached threads and publish
        // through the host's event channel: leave once the server has stopped, before the host is
        // destroyed under them (every record is already on disk).
        host.onStop([&] {
          streams->stop();
          spdlog::default_logger()->flush();
          std::_Exit(0);
        });

        auto& server = host.server();
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
                auto v = containerd->version(deadlineIn(500ms));
                r.setContainerdReachable(true);
                r.setContainerdVersion(v.version);
                r.setContainerdRevision(v.revision);
              } catch (const Error&) {
                r.setContainerdReachable(false);
              }
              r.setRuncVersion(runc.get().version);
              r.setRuncCommit(runc.get().commit);
            },
            ipc::RpcServer::Dispatch::worker);
        registerHandlers(server, *containers);
        server.handle(ipc::methods::bridgeContainerViews(),
                      [&](auto, auto r) { viewFeed->snapshot(r); });
        spdlog::info("containerd-bridge: confined in {:.1f} ms, then set up in {:.1f} ms: records {:.1f}, clients {:.1f}, restore {:.1f}",
                     confineMs, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count(),
                     recordsMs, clientsMs, restoreMs);
      },
      64);
  // A start that failed: leave without destroying what threads started meanwhile may use.
  if (streams) streams->stop();
  std::_Exit(status);
}
