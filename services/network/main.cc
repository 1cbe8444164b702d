// berth-network: the thin RPC adapter over the network core (network_core.h). It converts
// ipc/schema/network.capnp's messages to the core's plain values and back and publishes the
// core's events; everything else is the core's, and the host's through host_plumbing.h.
#include <linux/capability.h>
#include <spdlog/spdlog.h>

#include "common/sandbox.h"
#include "ipc/capnp_text.h"
#include "ipc/methods.h"
#include "ipc/service_host.h"
#include "services/network/host_plumbing.h"
#include "services/network/network_core.h"
#include "services/network/network_view_feed.h"
#include "common/json_text.h"

using namespace berth;

namespace {

constexpr const char* kResolverBinary = "/usr/lib/podman/aardvark-dns";

nlohmann::json parseDocument(capnp::Data::Reader data) {
  if (data.size() == 0) return nlohmann::json();
  auto doc = parseJsonOrDiscarded(std::string_view(reinterpret_cast<const char*>(data.begin()), data.size()));
  if (doc.is_discarded()) throw Error(ErrorKind::invalid, "invalid JSON document");
  return doc;
}

}  // namespace

int main(int argc, char** argv) {
  // The views channel's socket lives on a context of its own, ended after it: the host's context
  // waits, when it ends, for every socket on it to close, and the host may end (a failed start)
  // with the feed still alive.
  zmq::context_t viewsContext;
  std::unique_ptr<network::ContainerNamespaces> namespaces;
  std::unique_ptr<network::Firewall> firewall;
  std::unique_ptr<network::Resolver> resolver;
  std::unique_ptr<network::HostPlumbing> plumbing;
  std::unique_ptr<network::NetworkCore> core;
  std::unique_ptr<network::NetworkViewFeed> viewFeed;  // observes the core
  auto confine = [] {
    // Links, addresses, routes and nftables over netlink (NET_ADMIN, NET_RAW); network
    // namespaces made, bind-mounted and entered (SYS_ADMIN); the resolver it runs serves on
    // port 53 (NET_BIND_SERVICE) and inherits all of this.
    sandbox::confine({"berth-network",
                      {CAP_NET_ADMIN, CAP_NET_RAW, CAP_NET_BIND_SERVICE, CAP_SYS_ADMIN, CAP_DAC_OVERRIDE},
                      {"execve", "execveat", "mount", "umount2"},
                      true});
  };
  return ipc::runService("network", argc, argv, confine, [&](ipc::ServiceHost& host) {
    const auto& config = host.config();
    namespaces = std::make_unique<network::ContainerNamespaces>(config.execRoot + "/netns");
    firewall = std::make_unique<network::Firewall>("berth");
    resolver = std::make_unique<network::Resolver>(kResolverBinary, config.execRoot + "/resolver");
    plumbing = std::make_unique<network::HostPlumbing>(*namespaces, *firewall, *resolver, config.ipForward);
    network::NetworkOptions options;
    options.dataDir = config.serviceDataDir("network");
    options.defaultBridge = config.bridge;
    options.bip = config.bip;
    options.mtu = config.mtu;
    options.icc = config.icc;
    options.ipMasq = config.ipMasq;
    for (const auto& p : config.defaultAddressPools) options.pools.push_back({network::Ipv4Prefix::parse(p.base), p.size});
    options.ephemeralPorts = network::ephemeralPortRange();
    auto& events = host.events();
    core = std::make_unique<network::NetworkCore>(
        options, *plumbing, [&events](const std::string& action, const std::string& id, const network::NetworkCore::Attributes& attrs) {
          events.publish({"network", action, id, attrs, "local", 0});
        });
    // Before the core starts: its changes take the first numbers of this run's sequence.
    viewFeed = std::make_unique<network::NetworkViewFeed>(viewsContext, config.viewsEndpoint("network"), *core);
    core->start();
    auto& s = host.server();
    using D = ipc::RpcServer::Dispatch;
    s.implements<ipc::Network>();
    s.handle(
        ipc::methods::networkNetworkViews(),
        [&](auto, ipc::Network::NetworkViewsResults::Builder r) { viewFeed->snapshot(r); }, D::worker);
    s.handle(ipc::methods::networkSummary(),
             [&](ipc::Network::SummaryParams::Reader, ipc::Network::SummaryResults::Builder r) {
               r.setNetworks(core->count());
             });
    s.handle(
        ipc::methods::networkAttach(),
        [&](ipc::Network::AttachParams::Reader p, ipc::Network::AttachResults::Builder r) {
          auto attached = core->attach(p.getContainer(), parseDocument(p.getRequest()));
          r.setNetnsPath(attached.netnsPath);
          r.setSettings(ipc::bytes(attached.settings.dump()));
        },
        D::worker);
    s.handle(
        ipc::methods::networkDetach(), [&](ipc::Network::DetachParams::Reader p, auto) { core->detach(p.getContainer()); },
        D::worker);
    s.handle(
        ipc::methods::networkReconcile(),
        [&](ipc::Network::ReconcileParams::Reader p, auto) {
          auto ids = ipc::texts(p.getContainers());
          for (const auto& id : core->reconcile({ids.begin(), ids.end()})) {
            spdlog::info("network: removed the network of container {}, which the bridge no longer has", id);
          }
        },
        D::worker);
    s.handle(
        ipc::methods::networkConnect(),
        [&](ipc::Network::ConnectParams::Reader p, ipc::Network::ConnectResults::Builder r) {
          auto config = parseDocument(p.getEndpointConfig());
          r.setSettings(ipc::bytes(core->connect(p.getContainer(), p.getNetwork(), config.is_object() ? config : nlohmann::json::object()).dump()));
        },
        D::worker);
    s.handle(
        ipc::methods::networkDisconnect(),
        [&](ipc::Network::DisconnectParams::Reader p, ipc::Network::DisconnectResults::Builder r) {
          r.setSettings(ipc::bytes(core->disconnect(p.getContainer(), p.getNetwork()).dump()));
        },
        D::worker);
    s.handle(
        ipc::methods::networkCreate(),
        [&](ipc::Network::CreateParams::Reader p, ipc::Network::CreateResults::Builder r) {
          r.setId(core->create(parseDocument(p.getRequest())));
        },
        D::worker);
    s.handle(ipc::methods::networkInspect(),
             [&](ipc::Network::InspectParams::Reader p, ipc::Network::InspectResults::Builder r) {
               r.setNetwork(ipc::bytes(core->inspect(p.getRef()).dump()));
             });
    s.handle(ipc::methods::networkList(), [&](ipc::Network::ListParams::Reader p, ipc::Network::ListResults::Builder r) {
      r.setNetworks(ipc::bytes(core->list(parseDocument(p.getFilters())).dump()));
    });
    s.handle(
        ipc::methods::networkRemove(), [&](ipc::Network::RemoveParams::Reader p, auto) { core->remove(p.getRef()); },
        D::worker);
    s.handle(
        ipc::methods::networkPrune(),
        [&](ipc::Network::PruneParams::Reader p, ipc::Network::PruneResults::Builder r) {
          auto removed = core->prune(parseDocument(p.getFilters()));
          ipc::setTexts(r.initRemoved(static_cast<unsigned>(removed.size())), removed);
        },
        D::worker);
  });
}
