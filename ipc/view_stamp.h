// View stamps (docs/ipc.md, "Container views"): a service that keeps views other processes read
// (the containerd-bridge's container views) stamps every RPC reply and every event it sends
// with its view sequence, so a reader that serves from a copy of those views (the API's read
// model) can tell whether its copy already holds what a reply or event has acknowledged.
#pragma once

#include <cstdint>
#include <functional>

namespace berth::ipc {

struct ViewStamp {
  uint64_t epoch = 0;  // the producer's run (its start on the boot clock, ns: a later run is larger); 0: the producer keeps no views
  uint64_t seq = 0;    // its view sequence when the reply or event left
};

// Sets what this process stamps on its replies and events; call once, before serving.
void setViewStampSource(std::function<ViewStamp()> source);
// The stamp now ({0, 0} when no source was set).
ViewStamp currentViewStamp();

}  // namespace berth::ipc
