@0x9b3e2d6c0f51a8e7;
# What every berth service answers, whoever supervises it.

$import "/capnp/c++.capnp".namespace("berth::ipc");

annotation readOnly @0xed1d41e31549f15d (method) :Void;
# The method changes nothing its service keeps: a call of it that fails because the service died
# mid-call cannot have acted (ipc/method.h, Method::readOnly; docs/ipc.md, "A call that went
# away"). A method without it is taken to act.

struct ServiceHealth {
  service @0 :Text;    # "images", "volumes", ...
  pid @1 :UInt32;
  version @2 :Text;    # berth's version, so a mixed upgrade is visible
  startedAtNano @3 :Int64;
}

interface Service {
  # Implemented by every service. Called by the supervisor's readiness checks, by berthctl and
  # by the API for /info. Cheap, never blocks on other services.

  health @0 () -> (health :ServiceHealth) $readOnly;
  # Answers as soon as the service's RPC loop runs; proves the service is up.
}
