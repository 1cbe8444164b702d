// The network service's logic: the networks (the predefined bridge, host and none, and user
// bridge networks), each container's endpoints on them (an address, a veth, DNS names) and its
// published ports, kept in records (network_records.h) and applied to the host through
// Plumbing. No Cap'n Proto here: main.cc adapts.
//
// Order of every change, for crash safety: the record is written first, then the host is
// changed; at start every record is applied again (missing veths plugged, the nft table and
// the resolver's files rewritten whole) and whatever on the host has no record is removed
// (veths on berth's bridges, namespaces the bridge no longer has). So a kill -9 between any two
// steps is finished by the next start, and nothing is applied twice.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "services/network/network_records.h"
#include "services/network/plumbing.h"

namespace berth::network {

struct NetworkOptions {
  std::string dataDir;             // <data-root>/network
  std::string defaultBridge = "berth0";  // "none": no default bridge network
  std::string bip;                 // "a.b.c.d/n" or empty
  int mtu = 1500;
  bool icc = true;
  bool ipMasq = true;
  std::vector<AddressPool> pools;  // empty: dockerd's defaults
  std::pair<uint16_t, uint16_t> ephemeralPorts{32768, 60999};
};

class NetworkCore {
 public:
  using Attributes = std::vector<std::pair<std::string, std::string>>;
  using EventSink = std::function<void(const std::string& action, const std::string& id, const Attributes&)>;

  NetworkCore(NetworkOptions options, Plumbing& plumbing, EventSink events);

  // A network as the views show it: inspect's document, and whether it is a predefined network
  // (the list's type filter asks; the document does not say).
  struct View {
    nlohmann::json document;
    bool predefined = false;
  };
  // Told under the core's lock as each call that changed networks or their endpoints ends,
  // however it ends: the networks it changed (ids) and how to render one as inspect shows it
  // now (nullopt: removed). Told in the order the changes were made; no call reads or changes
  // the networks until it returns. Set before start().
  using Render = std::function<std::optional<View>(const std::string& id)>;
  using ViewsObserver = std::function<void(const std::vector<std::string>& changed, const Render& render)>;
  void onViewsChange(ViewsObserver observer) { viewsObserver_ = std::move(observer); }
  // Calls `visit` with every network as inspect shows it, by id, under the core's lock: no
  // change is made or told meanwhile.
  void visitViews(const std::function<void(const std::vector<View>&)>& visit) const;

  // Loads the records, makes the predefined networks, and applies everything to the host.
  void start();

  unsigned count() const;

  struct Attached {
    std::string netnsPath;
    nlohmann::json settings;  // {Networks, Ports, Nameservers}
  };
  Attached attach(const std::string& container, const nlohmann::json& request);
  void detach(const std::string& container);
  // Containers with records or namespaces that are not in `keep` are detached. Returns them.
  std::vector<std::string> reconcile(const std::set<std::string>& keep);

  // docker network connect/disconnect of a container attached before: its settings after.
  nlohmann::json connect(const std::string& container, const std::string& network, const nlohmann::json& config);
  nlohmann::json disconnect(const std::string& container, const std::string& network);

  std::string create(const nlohmann::json& request);
  nlohmann::json inspect(const std::string& ref) const;
  nlohmann::json list(const nlohmann::json& filters) const;
  void remove(const std::string& ref);
  std::vector<std::string> prune(const nlohmann::json& filters);

 private:
  class ViewsScope;  // tells the views observer what a call changed as the call ends
  // Every change of networks_ and containers_ goes through these four: they note the networks
  // whose inspect changes.
  void putNetworkLocked(const NetworkRecord& network);
  void eraseNetworkLocked(std::string id);
  void putContainerLocked(const ContainerRecord& container);
  void eraseContainerLocked(std::string id);
  void tellViewsLocked() noexcept;
  // Events of a call leave as it ends, after its change is numbered (ViewsScope).
  void eventLocked(const std::string& action, const std::string& id, Attributes attributes);
  void publishEventsLocked() noexcept;

  const NetworkRecord& resolveLocked(const std::string& ref) const;
  NetworkRecord makeDefaultBridge(const NetworkRecord* existing);
  void ensurePredefinedLocked();
  SubnetAddresses& addressesOf(const std::string& network);
  void applyNetworkLocked(const NetworkRecord& network);
  void plugLocked(const std::string& netns, const EndpointRecord& endpoint, bool defaultRoute);
  EndpointRecord newEndpointLocked(const NetworkRecord& network, const nlohmann::json& config, size_t index);
  std::vector<PortRecord> portsFor(const ContainerRecord& container, const nlohmann::json& request);
  void releaseLocked(const ContainerRecord& container, bool unplug = true);
  void detachLocked(const std::string& container);
  void applyFiltersLocked();
  void applyResolverLocked();
  nlohmann::json settingsOf(const ContainerRecord& container) const;
  nlohmann::json networkJson(const NetworkRecord& network, bool withContainers) const;
  std::vector<Ipv4Prefix> takenSubnetsLocked() const;

  NetworkOptions options_;
  Plumbing& plumbing_;
  EventSink events_;
  RecordFiles files_;
  mutable std::mutex mutex_;  // one change at a time; they are few and short
  std::map<std::string, NetworkRecord> networks_;    // id -> network
  std::map<std::string, ContainerRecord> containers_;  // id -> endpoints
  std::map<std::string, SubnetAddresses> addresses_;   // network id -> allocations
  uint16_t resolverPort_ = 53;  // where the serving resolver listens; the firewall steers port 53 there
  ViewsObserver viewsObserver_;
  std::set<std::string> touched_;  // networks changed by the call under way, not told yet
  struct PendingEvent {
    std::string action, id;
    Attributes attributes;
  };
  std::vector<PendingEvent> pendingEvents_;  // the call under way's, not published yet
};

}  // namespace berth::network
