@0xc4a1f0d2b7e39a51;
# The wire frames of berth's request/reply layer over ZeroMQ (docs/ipc.md). A call is two
# ZeroMQ frames, [CallHeader][params]; a reply is [ReplyHeader] or [ReplyHeader][results], where
# params and results are the Cap'n Proto structs the interface schemas generate for each method.

$import "/capnp/c++.capnp".namespace("berth::ipc::wire");

struct CallHeader {
  requestId @0 :UInt64;    # chosen by the caller; echoed in the reply so late replies are dropped
  interfaceId @1 :UInt64;  # the Cap'n Proto type id of the interface that declares the method
  methodId @2 :UInt16;     # the method's ordinal within that interface
  timeoutMs @3 :UInt32;    # how long the caller will wait; the server skips calls it cannot answer in time
}

enum ErrorKind {
  # Mirrors berth::ErrorKind; appended only.
  invalid @0;
  notFound @1;
  conflict @2;
  forbidden @3;
  unavailable @4;
  deadlineExceeded @5;
  tooLarge @6;
  internal @7;
  unauthorized @8;
}

struct RpcError {
  kind @0 :ErrorKind;
  message @1 :Text;  # human-readable; the API passes it to clients, so it names what failed
}

struct ReplyHeader {
  requestId @0 :UInt64;
  union {
    ok @1 :Void;          # a results frame follows
    error @2 :RpcError;   # no results frame
  }
  # The server's view stamps when the reply left (ipc/view_stamp.h; 0, 0 for none): the
  # containerd-bridge stamps its container-view sequence (ContainerViewChange), so the API's
  # read model knows how far it must have caught up before it answers a read after this reply.
  viewEpoch @3 :UInt64;
  viewSeq @4 :UInt64;
  # The volume views' (VolumeViewChange): the volumes service's own sequence, or, from the
  # containerd-bridge, the highest the volumes service's replies to it carried (it makes and
  # removes anonymous volumes).
  volumeViewEpoch @5 :UInt64;
  volumeViewSeq @6 :UInt64;
  # The image views' (ImageViewChange): the images service's own sequence, or, from the
  # containerd-bridge, the highest the images service's replies to it carried (it commits
  # containers into images).
  imageViewEpoch @7 :UInt64;
  imageViewSeq @8 :UInt64;
  # The network views' (NetworkViewChange): the network service's own sequence, or, from the
  # containerd-bridge, the highest the network service's replies to it carried (it connects
  # and disconnects containers).
  networkViewEpoch @9 :UInt64;
  networkViewSeq @10 :UInt64;
}
