// Container events as dockerd publishes them: the container's image and name and its labels as
// attributes, plus the action's own (exitCode, signal, execID...), on the bridge's event channel.
#pragma once

#include "ipc/events.h"
#include "services/containerd-bridge/container_types.h"

namespace berth::bridge {

EventSink publishContainerEvents(ipc::EventPublisher& publisher);

}  // namespace berth::bridge
