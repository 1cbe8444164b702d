#include "services/containerd-bridge/public/bridge_client.h"

#include <unistd.h>

#include "common/random.h"
#include "ipc/capnp_text.h"
#include "ipc/methods.h"
#include "ipc/rpc_client.h"

namespace berth::bridge {

namespace {

using Bridge = ipc::ContainerdBridge;

}  // namespace

BridgeClient::BridgeClient(ipc::RpcClient& rpc) : rpc_(rpc) {}

BridgeClient::BridgeClient(zmq::context_t& context, const std::string& endpoint)
    : owned_(std::make_unique<ipc::RpcClient>(context, endpoint)), rpc_(*owned_) {}

BridgeClient::~BridgeClient() = default;

BridgeClient::Summary BridgeClient::summary(Deadline deadline) {
  auto reply = rpc_.callIdempotent(ipc::methods::bridgeSummary(), deadline);
  auto r = reply.get();
  Summary out;
  out.containers = r.getContainers();
  out.running = r.getRunning();
  out.paused = r.getPaused();
  out.stopped = r.getStopped();
  out.containerdAddress = r.getContainerdAddress();
  out.containerdReachable = r.getContainerdReachable();
  out.containerdVersion = r.getContainerdVersion();
  out.containerdRevision = r.getContainerdRevision();
  out.runcVersion = r.getRuncVersion();
  out.runcCommit = r.getRuncCommit();
  return out;
}

BridgeClient::Created BridgeClient::create(const std::string& name, const std::string& bodyJson, Deadline deadline) {
  // The id is chosen here, so the call can be made again after a bridge that died with it (the
  // container may have been stored): the bridge answers a retry with the container it made.
  std::string id = randomHex(32);
  auto reply = rpc_.callIdempotent(ipc::methods::bridgeCreate(), deadline, [&](Bridge::CreateParams::Builder p) {
    p.setName(name);
    p.setBody(ipc::bytes(bodyJson));
    p.setId(id);
    p.setCallerPid(static_cast<uint32_t>(::getpid()));
  });
  return {reply.get().getId(), ipc::texts(reply.get().getWarnings())};
}

bool BridgeClient::start(const std::string& ref, Deadline deadline) {
  auto reply = rpc_.call(ipc::methods::bridgeStart(), deadline, [&](Bridge::StartParams::Builder p) { p.setRef(ref); });
  return !reply.get().getAlreadyRunning();
}

bool BridgeClient::stop(const std::string& ref, int32_t timeoutSeconds, const std::string& signal, Deadline deadline) {
  auto reply = rpc_.call(ipc::methods::bridgeStop(), deadline, [&](Bridge::StopParams::Builder p) {
    p.setRef(ref);
    p.setTimeoutSeconds(timeoutSeconds);
    p.setSignal(signal);
  });
  return reply.get().getWasRunning();
}

void BridgeClient::restart(const std::string& ref, int32_t timeoutSeconds, const std::string& signal, Deadline deadline) {
  rpc_.call(ipc::methods::bridgeRestart(), deadline, [&](Bridge::RestartParams::Builder p) {
    p.setRef(ref);
    p.setTimeoutSeconds(timeoutSeconds);
    p.setSignal(signal);
  });
}

void BridgeClient::kill(const std::string& ref, const std::string& signal, Deadline deadline) {
  rpc_.call(ipc::methods::bridgeKill(), deadline, [&](Bridge::KillParams::Builder p) {
    p.setRef(ref);
    p.setSignal(signal);
  });
}

void BridgeClient::pause(const std::string& ref, Deadline deadline) {
  rpc_.call(ipc::methods::bridgePause(), deadline, [&](Bridge::PauseParams::Builder p) { p.setRef(ref); });
}

void BridgeClient::unpause(const std::string& ref, Deadline deadline) {
  rpc_.call(ipc::methods::bridgeUnpause(), deadline, [&](Bridge::UnpauseParams::Builder p) { p.setRef(ref); });
}

BridgeClient::WaitStep BridgeClient::wait(const std::string& ref, const std::string& condition, int64_t afterExits,
                                          uint32_t waitMs, Deadline deadline) {
  auto reply = rpc_.callIdempotent(ipc::methods::bridgeWait(), deadline, [&](Bridge::WaitParams::Builder p) {
    p.setRef(ref);
    p.setCondition(condition);
    p.setAfterExits(afterExits);
    p.setWaitMs(waitMs);
  });
  auto r = reply.get();
  return {r.getId(), r.getDone(), r.getStatusCode(), r.getError(), r.getExits()};
}

void BridgeClient::remove(const std::string& ref, bool force, bool removeVolumes, Deadline deadline) {
  rpc_.call(ipc::methods::bridgeRemove(), deadline, [&](Bridge::RemoveParams::Builder p) {
    p.setRef(ref);
    p.setForce(force);
    p.setRemoveVolumes(removeVolumes);
  });
}

void BridgeClient::rename(const std::string& ref, const std::string& name, Deadline deadline) {
  rpc_.call(ipc::methods::bridgeRename(), deadline, [&](Bridge::RenameParams::Builder p) {
    p.setRef(ref);
    p.setName(name);
  });
}

void BridgeClient::setNetwork(const std::string& ref, const std::string& network, const std::string& endpointConfig,
                              bool connect, Deadline deadline) {
  rpc_.call(ipc::methods::bridgeSetNetwork(), deadline, [&](Bridge::SetNetworkParams::Builder p) {
    p.setRef(ref);
    p.setNetwork(network);
    p.setEndpointConfig(ipc::bytes(endpointConfig));
    p.setConnect(connect);
  });
}

std::string BridgeClient::pruneJson(const std::string& filtersJson, Deadline deadline) {
  auto reply = rpc_.call(ipc::methods::bridgePrune(), deadline,
                         [&](Bridge::PruneParams::Builder p) { p.setFilters(ipc::bytes(filtersJson)); });
  return ipc::text(reply.get().getJson());
}

std::vector<std::string> BridgeClient::update(const std::string& ref, const std::string& bodyJson, Deadline deadline) {
  auto reply = rpc_.call(ipc::methods::bridgeUpdate(), deadline, [&](Bridge::UpdateParams::Builder p) {
    p.setRef(ref);
    p.setBody(ipc::bytes(bodyJson));
  });
  return ipc::texts(reply.get().getWarnings());
}

void BridgeClient::resize(const std::string& ref, uint32_t height, uint32_t width, Deadline deadline) {
  rpc_.call(ipc::methods::bridgeResize(), deadline, [&](Bridge::ResizeParams::Builder p) {
    p.setRef(ref);
    p.setHeight(height);
    p.setWidth(width);
  });
}

void BridgeClient::shutdown(int32_t timeoutSeconds, Deadline deadline) {
  rpc_.call(ipc::methods::bridgeShutdown(), deadline,
            [&](Bridge::ShutdownParams::Builder p) { p.setTimeoutSeconds(timeoutSeconds); });
}

std::string BridgeClient::inspectJson(const std::string& ref, Deadline deadline) {
  auto reply = rpc_.callIdempotent(ipc::methods::bridgeInspect(), deadline,
                                   [&](Bridge::InspectParams::Builder p) { p.setRef(ref); });
  return ipc::text(reply.get().getJson());
}

std::string BridgeClient::listJson(const ListQuery& query, Deadline deadline) {
  auto reply = rpc_.callIdempotent(ipc::methods::bridgeList(), deadline, [&](Bridge::ListParams::Builder p) {
    p.setAll(query.all);
    p.setLimit(query.limit);
    p.setFilters(ipc::bytes(query.filtersJson));
    p.setSize(query.size);
  });
  return ipc::text(reply.get().getJson());
}

std::string BridgeClient::inspectWithSizeJson(const std::string& ref, Deadline deadline) {
  auto reply = rpc_.callIdempotent(ipc::methods::bridgeInspectWithSize(), deadline,
                                   [&](Bridge::InspectWithSizeParams::Builder p) { p.setRef(ref); });
  return ipc::text(reply.get().getJson());
}

std::string BridgeClient::topJson(const std::string& ref, const std::string& psArgs, Deadline deadline) {
  auto reply = rpc_.call(ipc::methods::bridgeTop(), deadline, [&](Bridge::TopParams::Builder p) {
    p.setRef(ref);
    p.setPsArgs(psArgs);
  });
  return ipc::text(reply.get().getJson());
}

std::string BridgeClient::statsJson(const std::string& ref, Deadline deadline) {
  auto reply = rpc_.callIdempotent(ipc::methods::bridgeStats(), deadline,
                                   [&](Bridge::StatsParams::Builder p) { p.setRef(ref); });
  return ipc::text(reply.get().getJson());
}

std::string BridgeClient::execCreate(const std::string& ref, const std::string& bodyJson, Deadline deadline) {
  auto reply = rpc_.call(ipc::methods::bridgeExecCreate(), deadline, [&](Bridge::ExecCreateParams::Builder p) {
    p.setRef(ref);
    p.setBody(ipc::bytes(bodyJson));
  });
  return reply.get().getId();
}

std::string BridgeClient::execInspectJson(const std::string& execId, Deadline deadline) {
  auto reply = rpc_.callIdempotent(ipc::methods::bridgeExecInspect(), deadline,
                                   [&](Bridge::ExecInspectParams::Builder p) { p.setId(execId); });
  return ipc::text(reply.get().getJson());
}

void BridgeClient::execResize(const std::string& execId, uint32_t height, uint32_t width, Deadline deadline) {
  rpc_.call(ipc::methods::bridgeExecResize(), deadline, [&](Bridge::ExecResizeParams::Builder p) {
    p.setId(execId);
    p.setHeight(height);
    p.setWidth(width);
  });
}

std::vector<images::LayerChange> BridgeClient::changes(const std::string& ref, Deadline deadline) {
  auto reply = rpc_.callIdempotent(ipc::methods::bridgeChanges(), deadline,
                                   [&](Bridge::ChangesParams::Builder p) { p.setRef(ref); });
  std::vector<images::LayerChange> out;
  for (auto c : reply.get().getChanges()) out.push_back({c.getKind(), c.getPath()});
  return out;
}

images::Download BridgeClient::exportBegin(const std::string& ref, Deadline deadline) {
  auto reply = rpc_.call(ipc::methods::bridgeExportBegin(), deadline,
                         [&](Bridge::ExportBeginParams::Builder p) { p.setRef(ref); });
  return {reply.get().getDownload(), reply.get().getSize()};
}

std::string BridgeClient::commit(const CommitRequest& request, Deadline deadline) {
  auto reply = rpc_.call(ipc::methods::bridgeCommit(), deadline, [&](Bridge::CommitParams::Builder p) {
    p.setRef(request.container);
    p.setConfig(ipc::bytes(request.configJson));
    ipc::setTexts(p.initChanges(static_cast<unsigned>(request.changes.size())), request.changes);
    p.setReference(request.reference);
    p.setMessage(request.message);
    p.setAuthor(request.author);
    p.setPause(request.pause);
  });
  return reply.get().getId();
}

}  // namespace berth::bridge
