@0xe49b1c07a3f6d2b8;
# The volumes service: local volumes, their mounts and their reference counts
# (docs/volumes.md). Called by the API (docker volume, system df, events) and by the
# containerd-bridge (the volumes its containers use). Input from the API is untrusted: names,
# drivers, labels and options are validated here, where they are used. The bridge is trusted as
# far as the container ids and paths it names, which it decides itself.

$import "/capnp/c++.capnp".namespace("berth::ipc");
using Svc = import "service.capnp";
using Ev = import "events.capnp";

struct KeyValue {
  key @0 :Text;
  value @1 :Text;
}

struct VolumeInfo {
  name @0 :Text;
  driver @1 :Text;                # "local": the only driver
  mountpoint @2 :Text;            # <data-root>/volumes/<name>/_data, the path containers bind
  createdAtNano @3 :Int64;
  labels @4 :List(KeyValue);
  options @5 :List(KeyValue);     # the local driver's type, device and o, as given
  anonymous @6 :Bool;             # made for one container (a random 64-hex name); prune's default
  users @7 :List(Text);           # ids of the containers that reference it, running or not
  sizeBytes @8 :Int64;            # bytes under the mountpoint; -1 unless sizes were asked for
  inUse @9 :Bool;                 # some container references it (what dangling= looks at): set
                                  # on views, which leave the users themselves out
}

struct ContainerVolumes {
  container @0 :Text;             # 64-hex id
  volumes @1 :List(Text);         # the names it references
  mounted @2 :List(Text);         # of those, the ones mounted for its running task
}

interface Volumes extends(Svc.Service, Ev.EventSource) {
  summary @0 () -> (volumes :UInt32) $Svc.readOnly;
  # Counts for /info.

  create @1 (name :Text, driver :Text, labels :List(KeyValue), options :List(KeyValue), anonymous :Bool)
      -> (volume :VolumeInfo, created :Bool);
  # POST /volumes/create (from the API) and the volumes a container's create makes (from the
  # bridge: a named volume that does not exist yet, an anonymous one). An empty name makes a
  # random 64-hex one. Refusals, with dockerd's words: a bad name (invalid), a driver other than
  # "local" or "" (notFound, 'plugin "x" not found'), an option key the local driver does not
  # take, type or o without device (invalid). A volume that exists with the same driver is
  # returned as it is (created false). A crash at any moment leaves the volume whole or absent.
  # Emits create when it created the volume (moby 23+; dockerd 20.10 also emitted it for an
  # existing one). `anonymous` adds the label com.docker.volume.anonymous, as moby does for a
  # volume it names itself; the API sets it for a POST /volumes/create without a name.

  inspect @2 (name :Text) -> (volume :VolumeInfo) $Svc.readOnly;
  # GET /volumes/{name}. notFound "get NAME: no such volume".

  list @3 (filters :Data, withSizes :Bool) -> (volumes :List(VolumeInfo), warnings :List(Text)) $Svc.readOnly;
  # GET /volumes and system df. `filters` is Docker's filters JSON (dangling, driver, label,
  # name), validated here (invalid "invalid filter 'x'").

  remove @4 (name :Text, force :Bool) -> ();
  # DELETE /volumes/{name}: conflict "remove NAME: volume is in use - [ID, ...]" while a
  # container references it (force does not override that, as in dockerd); notFound unless
  # force. Unmounts what the local driver mounted, then deletes the data. Emits destroy.

  prune @5 (filters :Data, all :Bool) -> (removed :List(Text), reclaimedBytes :UInt64);
  # POST /volumes/prune: volumes no container references, only anonymous ones unless `all`
  # (API 1.42's semantics: moby adds the anonymous label to the filter), filtered by
  # label/label! (and `all` in the filters, as moby's); volumes with options (a device) are never
  # pruned, as in moby. Emits destroy per volume, then prune (moby 23+; 20.10 emitted no destroy).

  reference @6 (container :Text, volumes :List(Text)) -> ();
  # From the bridge when it creates a container: the container references these volumes (each
  # must exist, notFound otherwise). Replaces the container's earlier references.

  release @7 (container :Text) -> ();
  # From the bridge when a container is removed: its references go, and any mount still held
  # for it is released.

  mount @8 (container :Text, name :Text, destination :Text, readWrite :Bool, copyFrom :Text)
      -> (path :Text);
  # From the bridge when a container starts: makes the volume ready for the container and
  # returns the host path to bind at `destination`. The first mount of a volume with a device
  # (type/device/o) mounts it (a tmpfs, a bind, a block device). When `copyFrom` is set (a
  # directory in the container's mounted root filesystem) and the volume is empty, its content
  # is copied in first (dockerd's copy-up), never following a symbolic link (the bridge resolves
  # the destination within the root filesystem; a copyFrom that is a symlink, a file or absent
  # copies nothing). A failed device mount is internal with dockerd's whole message, "error while
  # mounting volume 'PATH': failed to mount local volume: mount DEV:PATH, ...". Idempotent per
  # (container, volume): the mount table is a set. Emits mount (container, destination, driver,
  # propagation, read/write).

  unmount @9 (container :Text, name :Text) -> ();
  # From the bridge when the container's task has stopped: the last unmount of a volume with a
  # device unmounts it (a tmpfs's data is gone then, as with dockerd). Whether a device is
  # mounted is asked of the kernel, whoever holds it is the table's. Emits unmount; a volume that
  # does not exist is no error (nothing to do, no event).

  populate @11 (container :Text, name :Text, copyFrom :Text) -> ();
  # From the bridge when it creates a container whose image has content where the volume goes
  # (dockerd's copy-up at create): when the volume is empty, the directory `copyFrom` (in the
  # container's root filesystem, mounted by the bridge) is copied in, as `mount` does with
  # copyFrom. A volume with a device is mounted for the copy and unmounted after unless a
  # container holds it. No event (dockerd logs none for it). notFound for an unknown volume.

  volumeViews @12 () -> (epoch :UInt64, seq :UInt64, volumes :List(VolumeInfo)) $Svc.readOnly;
  # For the API's read model of volumes (docs/ipc.md, "Volume views"): every volume, without
  # users or sizes, as of sequence `seq` of this run (`epoch`). Right after answering, the
  # service publishes a VolumeViewChange with `mark` set and the same epoch and seq on its views
  # channel (views-volumes.sock), so the subscriber knows from which change on the channel
  # continues the snapshot with no gap.

  reconcile @10 (containers :List(ContainerVolumes)) -> ();
  # From the bridge at its restore: its whole view (every container, what it references, what
  # its running task has mounted) replaces the service's reference and mount tables, so a
  # restart of either service never loses or invents a reference.
}

struct VolumeViewChange {
  # One message on the volumes service's views channel: sequence `seq` of run `epoch` made a
  # volume (`volume`, without users or sizes) or removed one (`removedName`), changed which
  # containers use some volumes (`used`: each of them as it is now, its `inUse` the news), or,
  # with `mark`, only marks where a volumeViews snapshot at `seq` ends. Sequences are
  # consecutive within an epoch; a subscriber that sees a gap or another epoch takes a new
  # snapshot.
  epoch @0 :UInt64;
  seq @1 :UInt64;
  mark @2 :Bool;
  removedName @3 :Text;
  volume @4 :VolumeInfo;
  used @5 :List(VolumeInfo);
}
