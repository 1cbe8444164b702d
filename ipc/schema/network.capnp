@0xb8d4f2a61e07c395;
# The network service: bridge networks, IPAM, netns plumbing, published ports, the resolver of
# user networks (docs/network.md). Called by the API (docker network) and by the
# containerd-bridge (its containers' networks). Everything from the API is untrusted and
# validated here; the bridge is trusted as far as the container ids it names. Docker-shaped
# documents (a create request, an inspect, filters, a container's NetworkSettings) travel as
# Docker's JSON, the form both ends already speak; the service parses and validates them.

$import "/capnp/c++.capnp".namespace("berth::ipc");
using Svc = import "service.capnp";
using Ev = import "events.capnp";

interface Network extends(Svc.Service, Ev.EventSource) {
  summary @0 () -> (networks :UInt32) $Svc.readOnly;
  # Counts for /info, read from the network store under <data-root>/network.

  attach @1 (container :Text, request :Data) -> (netnsPath :Text, settings :Data);
  # From the bridge before each start of a container that is not on the host's network: the
  # container's own network namespace, made on the first call (loopback up) and bind-mounted at
  # <exec-root>/netns/<id>, the same path on every later call; the bridge puts it in the OCI
  # spec. The namespace outlives every berth process. invalid for anything but a 64-hex id.
  # `request` (JSON): {Name, Hostname, NetworkMode, EndpointsConfig, PortBindings,
  # PublishAllPorts, ExposedPorts, MacAddress} from the container's record. On the first call
  # the container is connected to its networks (an address each, a veth, DNS names, published
  # ports); later calls return what it has. `settings` (JSON): {Networks, Ports, Nameservers,
  # HostGateway}: Docker's NetworkSettings parts for inspect, the resolver its resolv.conf
  # names (empty for the default bridge), and the address --add-host host-gateway means (the
  # default bridge's gateway). Refusals with dockerd's words: an unknown network (notFound
  # "network X not found"), an address taken or outside the subnet, a host port already
  # published ("Bind for 0.0.0.0:P failed: port is already allocated").

  detach @2 (container :Text) -> ();
  # From the bridge when the container is removed: its endpoints go (veths, addresses, names,
  # published ports), then the namespace is unmounted and deleted. No error when there is none,
  # so a repeated call is harmless.

  reconcile @3 (containers :List(Text)) -> ();
  # From the bridge at its restore and after a failed detach: every container it has. Namespaces
  # of any other container (removed while this service was unreachable) are removed.

  create @4 (request :Data) -> (id :Text);
  # POST /networks/create: Docker's NetworkCreateRequest JSON (Name, Driver, Internal,
  # Attachable, Labels, Options, IPAM, CheckDuplicate, EnableIPv6). Only the bridge driver
  # makes networks. Refusals with dockerd's words: a name in use (conflict "network with name X
  # already exists"), a predefined name, a subnet that overlaps another network's, no free pool.

  inspect @5 (ref :Text) -> (network :Data) $Svc.readOnly;
  # GET /networks/{id}: dockerd's network JSON, Containers included. `ref` is a full id, a
  # name, or a unique id prefix; notFound "network X not found".

  list @6 (filters :Data) -> (networks :Data) $Svc.readOnly;
  # GET /networks: a JSON array of the networks as inspect gives them, filtered by dockerd's
  # keys (driver, id, label, name, scope, type, dangling); invalid "invalid filter 'x'".

  remove @7 (ref :Text) -> ();
  # DELETE /networks/{id}: forbidden "X is a pre-defined network and cannot be removed";
  # conflict "error while removing network: network X id Y has active endpoints" while any
  # container is connected. Its bridge, rules and resolver file go.

  prune @8 (filters :Data) -> (removed :List(Text));
  # POST /networks/prune: user networks no container is connected to (filters label, label!,
  # until). Returns the names removed.

  connect @9 (container :Text, network :Text, endpointConfig :Data) -> (settings :Data);
  # From the bridge for docker network connect of a container that was attached before
  # (running or stopped): one more endpoint (eth1, eth2, …, no default route) in its namespace,
  # with its names. `endpointConfig`: Docker's EndpointSettings JSON (Aliases, IPAMConfig,
  # MacAddress). Returns the container's settings as attach does. notFound for an unknown
  # network or a container never attached; forbidden "endpoint with name C already exists in
  # network N" when it is connected already.

  disconnect @10 (container :Text, network :Text) -> (settings :Data);
  # docker network disconnect of an attached container: the endpoint, its address, names and
  # (on the first network) published ports go. forbidden "container C is not connected to
  # network N" otherwise.

  networkViews @11 () -> (epoch :UInt64, seq :UInt64, networks :List(NetworkView)) $Svc.readOnly;
  # For the API's read model of networks (docs/ipc.md, "Network views"): every network as
  # inspect gives it, as of sequence `seq` of this run (`epoch`). Right after answering, the
  # service publishes a NetworkViewChange with `mark` set and the same epoch and seq on its
  # views channel (views-network.sock), so the subscriber knows from which change on the
  # channel continues the snapshot with no gap.
}

struct NetworkView {
  # One network as GET /networks/{id} shows it: dockerd's network JSON, Containers included.
  id @0 :Text;
  name @1 :Text;
  document @2 :Data;
  predefined @3 :Bool;  # bridge, host, none: GET /networks' type filter (builtin)
}

struct NetworkViewChange {
  # One message on the network service's views channel: sequence `seq` of run `epoch` changed
  # networks (`networks`, each as it is now: made, or a container connected to it or
  # disconnected) and removed some (`removedIds`), all in one step (an attach connects a
  # container to several networks at once), or, with `mark`, only marks where a networkViews
  # snapshot at `seq` ends. Sequences are consecutive within an epoch; a subscriber that sees a
  # gap or another epoch takes a new snapshot.
  epoch @0 :UInt64;
  seq @1 :UInt64;
  mark @2 :Bool;
  networks @3 :List(NetworkView);
  removedIds @4 :List(Text);
}
