@0x9b3e2d6c0f51a8e7;
# What every berth service answers, whoever supervises it.

$import "/capnp/c++.capnp".namespace("berth::ipc");

struct ServiceHealth {
  service @0 :Text;    # "images", "volumes", ...
  pid @1 :UInt32;
  version @2 :Text;    # berth's version, so a mixed upgrade is visible
  startedAtNano @3 :Int64;
}

interface Service {
  # Implemented by every service. Called by the supervisor's readiness checks, by berthctl and
  # by the API for /info. Cheap, never blocks on other services.

  health @0 () -> (health :ServiceHealth);
  # Answers as soon as the service's RPC loop runs; proves the service is up.
}
