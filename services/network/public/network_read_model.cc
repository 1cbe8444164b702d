#include "services/network/public/network_read_model.h"

#include <chrono>
#include <iterator>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "common/deadline.h"
#include "common/json_text.h"
#include "ipc/capnp_text.h"
#include "ipc/methods.h"
#include "ipc/rpc_client.h"
#include "ipc/schema/network.capnp.h"
#include "ipc/view_copy.h"
#include "services/network/public/network_filter.h"

namespace berth::network {

using namespace std::chrono_literals;

struct NetworkReadModel::Networks {
  struct Held {
    std::string id, name;
    std::string inspected;  // GET /networks/{id}
    std::string listed;     // its entry in GET /networks: Containers left empty, as dockerd lists
    // What the list's filters look at (NetworkListFilter::Facts).
    std::string driver;
    std::map<std::string, std::string> labels;
    bool predefined = false;
    bool used = false;  // inspect shows a container on it
  };
  // Shared, so a list takes the networks under the copy's lock and filters and joins them after.
  std::map<std::string, std::shared_ptr<const Held>> byId;
  // Names are unique but for one case the service allows (a user network named like a
  // predefined one while that was absent): the service then resolves the name to the network
  // with the highest id, and so does the copy.
  std::map<std::string, std::set<std::string>> idsByName;

  void put(ipc::NetworkView::Reader v) {
    // Parsed once here, not at each read: the listing leaves the endpoints out.
    auto document = nlohmann::json::parse(ipc::text(v.getDocument()));
    std::string id = v.getId();
    erase(id);
    auto held = std::make_shared<Held>();
    held->id = id;
    held->name = v.getName();
    held->inspected = document.dump();
    held->driver = document.value("Driver", "");
    held->labels = stringEntries(document.value("Labels", nlohmann::json()));
    held->predefined = v.getPredefined();
    auto containers = document.find("Containers");
    held->used = containers != document.end() && containers->is_object() && !containers->empty();
    document["Containers"] = nlohmann::json::object();
    held->listed = document.dump();
    idsByName[held->name].insert(id);
    byId[id] = std::move(held);
  }
  void erase(const std::string& id) {
    auto it = byId.find(id);
    if (it == byId.end()) return;
    if (auto n = idsByName.find(it->second->name); n != idsByName.end()) {
      n->second.erase(id);
      if (n->second.empty()) idsByName.erase(n);
    }
    byId.erase(it);
  }
  void apply(ipc::NetworkViewChange::Reader c) {
    for (auto id : c.getRemovedIds()) erase(id);
    for (auto v : c.getNetworks()) put(v);
  }
};

NetworkReadModel::NetworkReadModel(zmq::context_t& context, std::string viewsEndpoint, ipc::RpcClient& network) {
  auto fetch = [&network] {
    auto reply = network.call(ipc::methods::networkNetworkViews(), deadlineIn(2s));
    auto r = reply.get();
    ipc::ViewCopy<Networks, ipc::NetworkViewChange>::Snapshot snapshot;
    for (auto v : r.getNetworks()) snapshot.state.put(v);
    snapshot.epoch = r.getEpoch();
    snapshot.seq = r.getSeq();
    return snapshot;
  };
  copy_ = std::make_unique<ipc::ViewCopy<Networks, ipc::NetworkViewChange>>(context, std::move(viewsEndpoint),
                                                                             "networks read model", fetch);
}

NetworkReadModel::~NetworkReadModel() = default;

void NetworkReadModel::require(ipc::ViewStamp stamp) { copy_->require(stamp); }
void NetworkReadModel::requireRunAfter(uint64_t sentAt) { copy_->requireRunAfter(sentAt); }

ipc::ViewCopyCounts NetworkReadModel::counts() const { return copy_->counts(); }

std::optional<std::string> NetworkReadModel::inspect(const std::string& ref) {
  std::optional<std::string> out;
  copy_->read([&](const Networks& networks) {
    // The service's order (NetworkCore::resolveLocked): a full id, then a name, then an id
    // prefix that only one network has. No such network, or a prefix more than one has, is
    // the service's to answer, in its own words.
    auto it = networks.byId.find(ref);
    if (it == networks.byId.end()) {
      if (auto named = networks.idsByName.find(ref); named != networks.idsByName.end()) {
        it = networks.byId.find(*named->second.rbegin());
      } else if (!ref.empty()) {
        it = networks.byId.lower_bound(ref);
        auto startsWithRef = [&](auto at) { return at != networks.byId.end() && at->first.starts_with(ref); };
        if (!startsWithRef(it) || startsWithRef(std::next(it))) return false;
      }
      if (it == networks.byId.end()) return false;
    }
    out = it->second->inspected;
    return true;
  });
  return out;
}

std::optional<std::string> NetworkReadModel::list(const std::string& filtersText) {
  NetworkListFilter filter(filtersText);  // refused filters before any wait
  std::vector<std::shared_ptr<const Networks::Held>> all;
  bool held = copy_->read([&](const Networks& networks) {
    all.reserve(networks.byId.size());
    for (const auto& [id, network] : networks.byId) all.push_back(network);
    return true;
  });
  if (!held) return std::nullopt;
  // Filtered and joined outside the copy's lock, which every read and every change takes: a
  // request's name and id patterns are regular expressions of the client's.
  std::string text = "[";
  for (const auto& network : all) {
    const auto& n = *network;
    if (!filter.matches({n.id, n.name, n.driver, n.labels, n.predefined, n.used})) continue;
    if (text.size() > 1) text += ',';
    text += n.listed;
  }
  text += ']';
  return text;
}

}  // namespace berth::network
