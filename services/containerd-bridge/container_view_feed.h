// The container views the API serves reads from (docs/ipc.md, "Container views"). Every change
// a reader could see (a record added, updated, renamed or removed; a container's exec ids)
// takes the next number of this bridge run's view sequence and is published, rendered, on the
// views channel in that order. The containerView RPC answers a snapshot at a sequence and then
// marks the channel there, so a subscriber can join at any time without a gap. Every RPC reply
// and event of the bridge carries the sequence as it stood when it left (ipc/view_stamp.h).
#pragma once

#include <memory>
#include <string>
#include <zmq.hpp>

#include "ipc/schema/containerd_bridge.capnp.h"
#include "ipc/view_publisher.h"
#include "services/containerd-bridge/container_store.h"
#include "services/containerd-bridge/container_views.h"
#include "services/containerd-bridge/exec_processes.h"

namespace berth::bridge {

class ContainerViewFeed {
 public:
  // Binds the views channel at `endpoint` (an ipc:// path is replaced) and observes the store
  // and the execs. Made before the first change the bridge makes (its restore).
  ContainerViewFeed(zmq::context_t& context, std::string endpoint, ContainerStore& store, const ContainerViews& views,
                    ExecProcesses& execs);
  ~ContainerViewFeed();
  ContainerViewFeed(const ContainerViewFeed&) = delete;
  ContainerViewFeed& operator=(const ContainerViewFeed&) = delete;

  ipc::ViewStamp stamp() const { return channel_.stamp(); }
  // Answers ContainerdBridge.containerViews, then publishes its mark.
  void snapshot(ipc::ContainerdBridge::ContainerViewsResults::Builder out);

 private:
  // A container's record or exec ids changed: publishes its view as it is now (or its removal).
  void changed(const std::string& id);
  void fill(ipc::ContainerView::Builder out, const std::shared_ptr<const ContainerRecord>& record) const;

  const ContainerStore& store_;
  const ContainerViews& views_;
  const ExecProcesses& execs_;
  ipc::ViewPublisher<ipc::ContainerViewChange> channel_;  // its lock numbers and sends changes in order
};

}  // namespace berth::bridge
