#include "services/network/network_view_feed.h"

#include <optional>
#include <utility>
#include <vector>

#include "ipc/capnp_text.h"

namespace berth::network {

namespace {

void fillView(const NetworkCore::View& network, ipc::NetworkView::Builder out) {
  out.setId(network.document.value("Id", ""));
  out.setName(network.document.value("Name", ""));
  out.setDocument(ipc::bytes(network.document.dump()));
  out.setPredefined(network.predefined);
}

}  // namespace

NetworkViewFeed::NetworkViewFeed(zmq::context_t& context, std::string endpoint, NetworkCore& core)
    : core_(core), channel_(context, std::move(endpoint), ipc::ViewKind::networks) {
  core.onViewsChange([this](const std::vector<std::string>& ids, const NetworkCore::Render& render) { changed(ids, render); });
}

NetworkViewFeed::~NetworkViewFeed() { core_.onViewsChange({}); }

void NetworkViewFeed::changed(const std::vector<std::string>& ids, const NetworkCore::Render& render) {
  auto lock = channel_.lock();
  // The number is spent before the networks are rendered: a change that cannot be sent leaves a
  // gap, and a copy that sees it takes a snapshot. Replies cannot show the change before it is
  // numbered: the core's lock is held until this returns.
  uint64_t seq = channel_.numberLocked();
  std::vector<NetworkCore::View> present;
  std::vector<std::string> removed;
  for (const auto& id : ids) {
    if (auto network = render(id)) present.push_back(std::move(*network));
    else removed.push_back(id);
  }
  channel_.sendLocked(seq, [&](ipc::NetworkViewChange::Builder c) {
    auto list = c.initNetworks(static_cast<unsigned>(present.size()));
    for (size_t i = 0; i < present.size(); ++i) fillView(present[i], list[static_cast<unsigned>(i)]);
    ipc::setTexts(c.initRemovedIds(static_cast<unsigned>(removed.size())), removed);
  });
}

void NetworkViewFeed::snapshot(ipc::Network::NetworkViewsResults::Builder out) {
  // The core's lock, then the channel's, as a change takes them: the snapshot stands at a
  // sequence no change is between.
  core_.visitViews([&](const std::vector<NetworkCore::View>& all) {
    auto lock = channel_.lock();
    uint64_t at = channel_.sequenceLocked();
    out.setEpoch(channel_.epoch());
    out.setSeq(at);
    auto list = out.initNetworks(static_cast<unsigned>(all.size()));
    for (size_t i = 0; i < all.size(); ++i) fillView(all[i], list[static_cast<unsigned>(i)]);
    channel_.markLocked(at);
  });
}

}  // namespace berth::network
