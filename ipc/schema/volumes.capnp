@0xe49b1c07a3f6d2b8;
# The volumes service: local volumes and their reference counts. Called by the API (and later by
# the containerd-bridge to prepare mounts). Names from the API are validated here.

$import "/capnp/c++.capnp".namespace("berth::ipc");
using Svc = import "service.capnp";
using Ev = import "events.capnp";

interface Volumes extends(Svc.Service, Ev.EventSource) {
  summary @0 () -> (volumes :UInt32);
  # Counts for /info, read from the volume store under <data-root>/volumes.
}
