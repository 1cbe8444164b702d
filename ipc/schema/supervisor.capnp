@0x8c2f6e1d7a4b3950;
# The supervisor's control endpoint (supervisor.sock in the ipc dir). Called by berthctl and by
# the API. Only root can reach the ipc dir (mode 0700), so callers are trusted operators; the
# service name is still checked against the child table.

$import "/capnp/c++.capnp".namespace("berth::ipc");

enum ChildState {
  starting @0;   # spawned, waiting for READY=1
  running @1;    # ready
  backoff @2;    # crashed; waiting before the next start
  stopping @3;   # being stopped (shutdown or restart)
  stopped @4;    # not running and not going to be started
}

struct ChildStatus {
  name @0 :Text;          # containerd, images, volumes, network, containerd-bridge, api
  pid @1 :UInt32;         # 0 when not running
  state @2 :ChildState;
  startedAtNano @3 :Int64;   # when the current process started; 0 when not running
  restarts @4 :UInt32;    # crashes and restarts since the supervisor started
  lastExit @5 :Text;      # "exit status 1", "signal 9 (Killed)", or empty
}

interface Supervisor {
  status @0 () -> (children :List(ChildStatus), pid :UInt32, startedAtNano :Int64);
  # The child table in start order.

  restart @1 (name :Text) -> ();
  # Stops the named child (SIGTERM, then SIGKILL after 10 s) and starts it again, touching no
  # sibling. notFound for an unknown name. Returns once the new process is ready (or failed).
}
