@0xb8d4f2a61e07c395;
# The network service: bridge networks, IPAM, netns plumbing, published ports. Called by the API
# and later by the containerd-bridge. Names and addresses from the API are validated here.

$import "/capnp/c++.capnp".namespace("berth::ipc");
using Svc = import "service.capnp";
using Ev = import "events.capnp";

interface Network extends(Svc.Service, Ev.EventSource) {
  summary @0 () -> (networks :UInt32);
  # Counts for /info, read from the network store under <data-root>/network.
}
