@0xf1a6c8d3b2e59074;
# The containerd-bridge service: the container store and lifecycle, through containerd's gRPC
# API. Called by the API (and by the supervisor at shutdown). Container configs from the API
# are untrusted and validated here, where they are used.
#
# Docker's container documents (the create body, inspect and list answers, exec configs) cross
# as JSON: they are Docker's own open-ended formats, which the bridge validates and the API
# passes through unchanged. Byte streams (logs, attach, exec stdio) do not cross here: they use
# the bridge's stream socket (see services/containerd-bridge/stream_server.h).
#
# Errors: notFound "No such container: REF", conflict for a state that forbids the call (with
# dockerd's message), invalid for bad input, unavailable while containerd is down.

$import "/capnp/c++.capnp".namespace("berth::ipc");
using Svc = import "service.capnp";
using Ev = import "events.capnp";
using Img = import "images.capnp";

interface ContainerdBridge extends(Svc.Service, Ev.EventSource) {
  summary @0 () -> (containers :UInt32, running :UInt32, paused :UInt32, stopped :UInt32,
                    containerdAddress :Text, containerdReachable :Bool,
                    containerdVersion :Text, containerdRevision :Text,
                    runcVersion :Text, runcCommit :Text) $Svc.readOnly;
  # Counts for /info from the container store under <data-root>/containers; whether containerd
  # answers its Version call right now (with what it reported), and the runc berth runs.

  create @1 (name :Text, body :Data, id :Text, callerPid :UInt32) -> (id :Text, warnings :List(Text));
  # POST /containers/create. `body` is Docker's create request (JSON), untrusted: the image
  # must exist (notFound "No such image: X"), the name be free (conflict) and every value
  # valid, or nothing is created. Emits create. `id`, when the caller chose one (64 hex
  # characters), makes the call idempotent: a container that already has it is answered as
  # created, so a caller whose reply was lost with a dying bridge makes the call again.
  # `callerPid` is the API process's: a --rm container still unstarted when that process has
  # died is removed, as dockerd removes such containers when it starts again (its client went
  # away with the process that held its connection).

  start @2 (ref :Text) -> (alreadyRunning :Bool);
  # Mounts the container's layer (its mounts recorded at create: no images call), finishes the
  # OCI spec built at create, starts its task with berth-logger writing its output. Emits start.

  stop @3 (ref :Text, timeoutSeconds :Int32, signal :Text) -> (wasRunning :Bool);
  # StopSignal (or `signal`), then SIGKILL after the timeout (< 0: the container's StopTimeout,
  # default 10). Returns once the exit is recorded. Emits kill, die, stop.

  restart @4 (ref :Text, timeoutSeconds :Int32, signal :Text) -> ();
  kill @5 (ref :Text, signal :Text) -> ();
  # `signal` by name or number; empty is SIGKILL. conflict when the container is not running.

  pause @6 (ref :Text) -> ();
  unpause @7 (ref :Text) -> ();

  wait @8 (ref :Text, condition :Text, afterExits :Int64, waitMs :UInt32)
      -> (id :Text, done :Bool, statusCode :Int64, error :Text, exits :Int64) $Svc.readOnly;
  # One long-poll step of POST /containers/{id}/wait: waits up to waitMs (at most 10000) for
  # `condition` ("not-running", "next-exit", "removed"). The first call passes afterExits -1
  # and gets the baseline (`exits`) and the full id to pass on later calls, so a wait resumed
  # after a bridge restart still counts the exit it is waiting for.

  remove @9 (ref :Text, force :Bool, removeVolumes :Bool) -> ();
  # conflict for a running container without force. Releases the layer and the container's
  # references to its volumes; with removeVolumes (docker rm -v) its anonymous volumes go too,
  # unless another container uses them. Emits destroy.

  rename @10 (ref :Text, name :Text) -> ();
  inspect @11 (ref :Text) -> (json :Data) $Svc.readOnly;
  # GET /containers/{id}/json, from a snapshot.

  list @12 (all :Bool, limit :Int32, filters :Data, size :Bool) -> (json :Data) $Svc.readOnly;
  # GET /containers/json; `filters` is Docker's filter JSON (name -> values), validated here.
  # With `size` (ps -s), each entry has SizeRw and SizeRootFs, which the bridge asks of the
  # images service in one call (Images.containerSizes) for the whole list; an entry whose
  # container has no layer yet (or no longer) has neither.

  top @13 (ref :Text, psArgs :Text) -> (json :Data) $Svc.readOnly;
  resize @14 (ref :Text, height :UInt32, width :UInt32) -> ();

  execCreate @15 (ref :Text, body :Data) -> (id :Text);
  # POST /containers/{id}/exec: conflict unless the container is running. Started through
  # the stream socket (op "exec").

  execInspect @16 (id :Text) -> (json :Data) $Svc.readOnly;
  execResize @17 (id :Text, height :UInt32, width :UInt32) -> ();

  prune @18 (filters :Data) -> (json :Data);
  # POST /containers/prune: removes stopped containers matching the label filters.

  shutdown @19 (timeoutSeconds :Int32) -> ();
  # Called by the supervisor when the engine stops without live-restore: stops every running
  # container (each gets its stop timeout, at most `timeoutSeconds`), then returns.

  stats @20 (ref :Text) -> (json :Data) $Svc.readOnly;
  # One sample of GET /containers/{id}/stats, read from the container's cgroup (v1 or v2):
  # Docker's document without precpu_stats (the API keeps the previous sample), all zero for a
  # container that is not running, as dockerd answers.

  update @21 (ref :Text, body :Data) -> (warnings :List(Text));
  # POST /containers/{id}/update: Docker's UpdateConfig (resources, RestartPolicy), untrusted.
  # Validated whole (invalid with dockerd's message, nothing changed), applied to the running
  # task through containerd's Tasks.Update, and recorded for the next start.

  inspectWithSize @22 (ref :Text) -> (json :Data) $Svc.readOnly;
  # GET /containers/{id}/json?size=1 (inspect -s): inspect's document plus SizeRw and
  # SizeRootFs, asked of the images service (left out while the container has no layer). A
  # method of its own because `inspect` answers from a snapshot on the server's I/O thread and
  # never waits, while this one waits for the images service, on a worker.

  changes @23 (ref :Text) -> (changes :List(Img.Change)) $Svc.readOnly;
  # GET /containers/{id}/changes (docker diff): what the container's writable layer adds,
  # changes and deletes, by path, from the images service. The container's operation lock is
  # held meanwhile, as dockerd holds the container: no removal deletes the layer under the read.
  # notFound "No such container: REF".

  exportBegin @24 (ref :Text) -> (download :Text, size :UInt64);
  # GET /containers/{id}/export (docker export): while the bridge holds the container's operation
  # lock, the images service resolves and holds the container's layers and starts writing their
  # tar; the answer is the images service's download, still being written (`size` 2^64-1, as
  # Images.saveBegin's): the API reads it with Images.downloadRead to the empty chunk and closes
  # it with Images.downloadClose, so the tar never passes through the bridge. A removal of the
  # container meanwhile succeeds; the images service removes the layers when the export ends.

  commit @25 (ref :Text, config :Data, changes :List(Text), reference :Text, message :Text,
              author :Text, pause :Bool) -> (id :Text);
  # POST /commit (docker commit). `config` is the request body, untrusted: empty, null or a
  # Docker Config (JSON) whose non-null fields override the container's Config (as inspect
  # shows it; invalid "invalid JSON in the request body" otherwise, before anything happens).
  # Hostname, Domainname, the attach and stdin flags, Tty and Image are dropped. The images
  # service applies `changes` (Dockerfile instructions, untrusted; invalid with dockerd's
  # message), validates `reference` ("repo:tag" or empty) and writes the image. With `pause`,
  # a running container is paused through the lifecycle's pause (events pause, then unpause)
  # for the commit and unpaused after, as dockerd does; one that cannot be paused is committed
  # as it is. The operation lock is held while the images service reads the layer. Returns the
  # new image's id.

  containerViews @27 () -> (epoch :UInt64, seq :UInt64, views :List(ContainerView)) $Svc.readOnly;
  # The API's read model (docs/ipc.md, "Container views"): every container's view as of view
  # sequence `seq` of this bridge's run `epoch` (its start on the boot clock in ns: a later run is larger). Right after answering, the
  # bridge publishes a ContainerViewChange with `mark` set and the same epoch and seq on its
  # views channel (views-containerd-bridge.sock), so the subscriber knows from which change on
  # the channel's stream continues the snapshot with no gap.

  setNetwork @26 (ref :Text, network :Text, endpointConfig :Data, connect :Bool) -> ();
  # POST /networks/{id}/connect and /disconnect. For a container that has not started yet its
  # planned networks change (connect: `endpointConfig`, Docker's EndpointSettings JSON, for
  # `network`; disconnect: the network's plan is dropped), as dockerd changes a created
  # container's; the network service attaches them at its first start (Docker Compose connects
  # this way). For one that was attached (it ran), the network service adds or removes the
  # endpoint in its namespace now (Network.connect/disconnect) and the recorded settings
  # follow. `network` must exist (notFound "network X not found"); disconnecting one the
  # container is not on is forbidden ("container X is not connected to network Y"); host,
  # none and container: modes are invalid, as in dockerd.
}

struct ContainerView {
  # What the API needs to answer GET /containers/{id}/json (without size) and an unfiltered
  # GET /containers/json for one container, rendered by the bridge: the documents' text with
  # the parts that change without the record left out. Inspect is inspectHead + ExecIDs (JSON)
  # + inspectTail; a list entry is listHead + Status (JSON string) + listTail, where Status is
  # statusPrefix + the human duration since statusSince + statusSuffix, or statusPrefix alone
  # when statusSince is 0.
  id @0 :Text;
  name @1 :Text;          # with the leading slash
  created @2 :Int64;      # Unix nanoseconds, the listing's order (newest first)
  running @3 :Bool;       # listed without all=1
  inspectHead @4 :Text;
  inspectTail @5 :Text;
  execIds @6 :Text;       # JSON: null or a list of ids
  listHead @7 :Text;
  listTail @8 :Text;
  statusPrefix @9 :Text;
  statusSince @10 :Int64;
  statusSuffix @11 :Text;
  facts @12 :ContainerFacts;  # what a filtered listing looks at; unset by a bridge older than it
}

struct ContainerFacts {
  # What docker ps --filter looks at in one container besides its id, name and creation
  # (services/containerd-bridge/public/container_filter.h): the API's read model lists with
  # filters from these, by the same code as the bridge.
  state @0 :Text;          # State.Status: "created", "running", "paused", ...
  running @1 :Bool;        # running, paused or restarting
  started @2 :Bool;        # has ever been started
  exitCode @3 :Int32;
  health @4 :Text;         # "none", "starting", "healthy", "unhealthy"
  imageId @5 :Text;
  imageRef @6 :Text;       # the reference it was created from
  labels @7 :List(Label);
  volumes @8 :List(Text);  # each mount's destination, and its volume's name or host source
  networks @9 :List(Network);
  published @10 :List(Text);  # while running: published host ports, "8080/tcp"
  exposed @11 :List(Text);    # while running: container ports, published or only exposed

  struct Label {
    key @0 :Text;
    value @1 :Text;
  }
  struct Network {
    name @0 :Text;
    id @1 :Text;           # empty before the container first started
  }
}

struct ContainerViewChange {
  # One message on the bridge's views channel: sequence `seq` of run `epoch` changed the view
  # of one container (`view`) or removed it (`removedId`), or, with `mark`, only marks where a
  # containerViews snapshot at `seq` ends. Sequences are consecutive within an epoch; a
  # subscriber that sees a gap or another epoch takes a new snapshot.
  epoch @0 :UInt64;
  seq @1 :UInt64;
  mark @2 :Bool;
  removedId @3 :Text;
  view @4 :ContainerView;
}
