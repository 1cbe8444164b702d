@0xd2e87a1f4c6b9035;
# Engine events: what `docker events` shows. Every service that produces events publishes them
# on its own ZeroMQ PUB endpoint (events-<service>.sock in the ipc dir) as one-frame messages
# holding an `Event`, and keeps the most recent ones for `since` queries through EventSource.

$import "/capnp/c++.capnp".namespace("berth::ipc");
using Svc = import "service.capnp";

struct Attribute {
  key @0 :Text;
  value @1 :Text;
}

struct Event {
  type @0 :Text;          # container, image, volume, network, daemon
  action @1 :Text;        # create, start, die, pull, tag, ...
  actorId @2 :Text;       # the object's id (image id, container id, volume name, ...)
  attributes @3 :List(Attribute);  # name, image, exitCode, labels ...
  scope @4 :Text;         # "local"
  timeNano @5 :Int64;     # when it happened, Unix nanoseconds
  viewEpoch @6 :UInt64;   # the publisher's view stamp when it published (see rpc.capnp's
  viewSeq @7 :UInt64;     # ReplyHeader): a read after this event reflects at least that much
  volumeViewEpoch @8 :UInt64;  # the volume views' stamp, as in ReplyHeader
  volumeViewSeq @9 :UInt64;
  imageViewEpoch @10 :UInt64;  # the image views' stamp, as in ReplyHeader
  imageViewSeq @11 :UInt64;
  networkViewEpoch @12 :UInt64;  # the network views' stamp, as in ReplyHeader
  networkViewSeq @13 :UInt64;
}

interface EventSource {
  # Implemented by every event-producing service. Called by the API for `docker events --since`.

  recent @0 (sinceNano :Int64, untilNano :Int64) -> (events :List(Event)) $Svc.readOnly;
  # The retained events with sinceNano <= timeNano <= untilNano (untilNano 0: no upper bound),
  # oldest first. A service retains its last 1024 events in memory; older ones are gone.
}
