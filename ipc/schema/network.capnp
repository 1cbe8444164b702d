@0xb8d4f2a61e07c395;
# The network service: bridge networks, IPAM, netns plumbing, published ports. Called by the API
# and later by the containerd-bridge. Names and addresses from the API are validated here.

$import "/capnp/c++.capnp".namespace("berth::ipc");
using Svc = import "service.capnp";
using Ev = import "events.capnp";

interface Network extends(Svc.Service, Ev.EventSource) {
  summary @0 () -> (networks :UInt32);
  # Counts for /info, read from the network store under <data-root>/network.

  attach @1 (container :Text) -> (netnsPath :Text);
  # From the bridge before each start of a container that is not on the host's network: the
  # container's own network namespace, made on the first call (loopback up) and bind-mounted at
  # <exec-root>/netns/<id>, the same path on every later call; the bridge puts it in the OCI
  # spec. The namespace outlives every berth process. invalid for anything but a 64-hex id.

  detach @2 (container :Text) -> ();
  # From the bridge when the container is removed: the namespace is unmounted and deleted. No
  # error when there is none, so a repeated call is harmless.

  reconcile @3 (containers :List(Text)) -> ();
  # From the bridge at its restore and after a failed detach: every container it has. Namespaces
  # of any other container (removed while this service was unreachable) are removed.
}
