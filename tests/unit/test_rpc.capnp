@0xe3b1f7a2c9d40856;
# An interface for exercising the IPC layer in tests only.

$import "/capnp/c++.capnp".namespace("berth::testing");
using Svc = import "/ipc/schema/service.capnp";

interface Echo {
  echo @0 (text :Text) -> (text :Text, pid :UInt32);
  # Returns its input and the server's pid.

  sleep @1 (ms :UInt32) -> ();
  # Answers after `ms` milliseconds (runs on a worker).

  fail @2 (kind :UInt8, message :Text) -> ();
  # Throws berth::Error of that kind.

  blob @3 (bytes :UInt32, foreseen :UInt32) -> (data :Data);
  # Returns `bytes` bytes, byte i being i mod 251; registered with handleBlob, its results
  # built for a blob of `foreseen` bytes.

  peek @4 (ms :UInt32) -> () $Svc.readOnly;
  # As sleep, but declared to change nothing.
}
