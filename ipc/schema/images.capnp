@0xa7c3e5f19d2b4608;
# The images service: image content, layers, references (issue: images). Only the API calls it
# today; later the containerd-bridge asks it for root filesystems. Input from the API is
# untrusted: every name and path is validated here, where it is used.

$import "/capnp/c++.capnp".namespace("berth::ipc");
using Svc = import "service.capnp";
using Ev = import "events.capnp";

interface Images extends(Svc.Service, Ev.EventSource) {
  summary @0 () -> (images :UInt32, layers :UInt32, storageDriver :Text, backingFilesystem :Text);
  # Counts for /info, read from the image store under <data-root>/images.
}
