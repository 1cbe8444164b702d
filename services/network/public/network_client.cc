#include "services/network/public/network_client.h"

#include "ipc/capnp_text.h"
#include "ipc/methods.h"
#include "ipc/rpc_client.h"

namespace berth::network {

NetworkClient::Attached NetworkClient::attach(const std::string& container, const std::string& request,
                                              Deadline deadline) {
  auto reply = rpc_.callIdempotent(ipc::methods::networkAttach(), deadline, [&](ipc::Network::AttachParams::Builder p) {
    p.setContainer(container);
    p.setRequest(ipc::bytes(request));
  });
  return {reply.get().getNetnsPath(), ipc::text(reply.get().getSettings())};
}

void NetworkClient::detach(const std::string& container, Deadline deadline) {
  rpc_.callIdempotent(ipc::methods::networkDetach(), deadline,
                       [&](ipc::Network::DetachParams::Builder p) { p.setContainer(container); });
}

void NetworkClient::reconcile(const std::vector<std::string>& containers, Deadline deadline) {
  rpc_.callIdempotent(ipc::methods::networkReconcile(), deadline, [&](ipc::Network::ReconcileParams::Builder p) {
    ipc::setTexts(p.initContainers(static_cast<unsigned>(containers.size())), containers);
  });
}

std::string NetworkClient::connect(const std::string& container, const std::string& network,
                                   const std::string& endpointConfig, Deadline deadline) {
  auto reply = rpc_.call(ipc::methods::networkConnect(), deadline, [&](ipc::Network::ConnectParams::Builder p) {
    p.setContainer(container);
    p.setNetwork(network);
    p.setEndpointConfig(ipc::bytes(endpointConfig));
  });
  return ipc::text(reply.get().getSettings());
}

std::string NetworkClient::disconnect(const std::string& container, const std::string& network, Deadline deadline) {
  auto reply = rpc_.call(ipc::methods::networkDisconnect(), deadline, [&](ipc::Network::DisconnectParams::Builder p) {
    p.setContainer(container);
    p.setNetwork(network);
  });
  return ipc::text(reply.get().getSettings());
}

std::string NetworkClient::create(const std::string& request, Deadline deadline) {
  auto reply = rpc_.call(ipc::methods::networkCreate(), deadline,
                          [&](ipc::Network::CreateParams::Builder p) { p.setRequest(ipc::bytes(request)); });
  return reply.get().getId();
}

std::string NetworkClient::inspect(const std::string& ref, Deadline deadline) {
  auto reply = rpc_.callIdempotent(ipc::methods::networkInspect(), deadline,
                                    [&](ipc::Network::InspectParams::Builder p) { p.setRef(ref); });
  return ipc::text(reply.get().getNetwork());
}

std::string NetworkClient::list(const std::string& filters, Deadline deadline) {
  auto reply = rpc_.callIdempotent(ipc::methods::networkList(), deadline,
                                    [&](ipc::Network::ListParams::Builder p) { p.setFilters(ipc::bytes(filters)); });
  return ipc::text(reply.get().getNetworks());
}

void NetworkClient::remove(const std::string& ref, Deadline deadline) {
  rpc_.callRemoval(ipc::methods::networkRemove(), deadline, [&](ipc::Network::RemoveParams::Builder p) { p.setRef(ref); });
}

std::vector<std::string> NetworkClient::prune(const std::string& filters, Deadline deadline) {
  auto reply = rpc_.call(ipc::methods::networkPrune(), deadline,
                          [&](ipc::Network::PruneParams::Builder p) { p.setFilters(ipc::bytes(filters)); });
  return ipc::texts(reply.get().getRemoved());
}

}  // namespace berth::network
