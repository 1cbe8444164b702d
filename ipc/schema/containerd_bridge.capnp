@0xf1a6c8d3b2e59074;
# The containerd-bridge service: the container store and lifecycle, through containerd's gRPC
# API. Called by the API. Container configs from the API are untrusted and validated here.

$import "/capnp/c++.capnp".namespace("berth::ipc");
using Svc = import "service.capnp";
using Ev = import "events.capnp";

interface ContainerdBridge extends(Svc.Service, Ev.EventSource) {
  summary @0 () -> (containers :UInt32, running :UInt32, paused :UInt32, stopped :UInt32,
                    containerdAddress :Text, containerdReachable :Bool,
                    containerdVersion :Text, containerdRevision :Text,
                    runcVersion :Text, runcCommit :Text);
  # Counts for /info from the container store under <data-root>/containers; whether containerd
  # answers its Version call right now (with what it reported), and the runc berth runs.
}
