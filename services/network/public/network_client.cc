#include "services/network/public/network_client.h"

#include "ipc/capnp_text.h"
#include "ipc/methods.h"
#include "ipc/rpc_client.h"

namespace berth::network {

NetworkClient::NetworkClient(zmq::context_t& context, const std::string& endpoint)
    : rpc_(std::make_unique<ipc::RpcClient>(context, endpoint)) {}

NetworkClient::~NetworkClient() = default;

std::string NetworkClient::attach(const std::string& container, Deadline deadline) {
  auto reply = rpc_->callIdempotent(ipc::methods::networkAttach(), deadline,
                                    [&](ipc::Network::AttachParams::Builder p) { p.setContainer(container); });
  return reply.get().getNetnsPath();
}

void NetworkClient::detach(const std::string& container, Deadline deadline) {
  rpc_->callIdempotent(ipc::methods::networkDetach(), deadline,
                       [&](ipc::Network::DetachParams::Builder p) { p.setContainer(container); });
}

void NetworkClient::reconcile(const std::vector<std::string>& containers, Deadline deadline) {
  rpc_->callIdempotent(ipc::methods::networkReconcile(), deadline, [&](ipc::Network::ReconcileParams::Builder p) {
    ipc::setTexts(p.initContainers(static_cast<unsigned>(containers.size())), containers);
  });
}

}  // namespace berth::network
