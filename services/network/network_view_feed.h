// The networks the API serves reads from (docs/ipc.md, "Network views"). Every change of the
// networks or of their endpoints takes the next number of this run's view sequence and is
// published on the views channel in that order, each changed network as inspect shows it; the
// networkViews RPC answers a snapshot at a sequence and then marks the channel there, so a
// subscriber can join at any time without a gap. Every RPC reply and event of the service
// carries the sequence as it stood when it left (ipc/view_stamp.h).
#pragma once

#include <string>
#include <zmq.hpp>

#include "ipc/schema/network.capnp.h"
#include "ipc/view_publisher.h"
#include "services/network/network_core.h"

namespace berth::network {

class NetworkViewFeed {
 public:
  // Binds the views channel at `endpoint` (an ipc:// path is replaced), observes the core's
  // changes and stamps this process's replies and events. Made before the core starts.
  NetworkViewFeed(zmq::context_t& context, std::string endpoint, NetworkCore& core);
  ~NetworkViewFeed();  // stops observing the core
  NetworkViewFeed(const NetworkViewFeed&) = delete;
  NetworkViewFeed& operator=(const NetworkViewFeed&) = delete;

  ipc::ViewStamp stamp() const { return channel_.stamp(); }
  // Answers Network.networkViews, then publishes its mark.
  void snapshot(ipc::Network::NetworkViewsResults::Builder out);

 private:
  // Under the core's lock: numbers the change and publishes the networks it changed as they are now.
  void changed(const std::vector<std::string>& ids, const NetworkCore::Render& render);

  NetworkCore& core_;
  ipc::ViewPublisher<ipc::NetworkViewChange> channel_;  // its lock numbers and sends changes in order
};

}  // namespace berth::network
