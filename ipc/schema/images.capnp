@0xa7c3e5f19d2b4608;
# The images service: image content, layers, references (docs/images.md). Called by the API,
# and by the containerd-bridge for containers' layers (root filesystems, and the layer work of
# commit, export, diff and sizes, which the bridge orchestrates). Input from the API is
# untrusted, and so is what the bridge relays of it (a commit's config and changes): references,
# ids, archives and instructions are validated here, where they are used.

$import "/capnp/c++.capnp".namespace("berth::ipc");
using Svc = import "service.capnp";
using Ev = import "events.capnp";

struct ImageInfo {
  id @0 :Text;                  # "sha256:<hex>", the digest of `config`
  repoTags @1 :List(Text);      # "name:tag", familiar form
  repoDigests @2 :List(Text);   # "name@sha256:..."
  config @3 :Data;              # the image config JSON exactly as stored
  diffIds @4 :List(Text);       # bottom layer first
  layerDirs @5 :List(Text);     # extracted layers (overlay lower dirs), bottom first
  layerSizes @6 :List(Int64);   # bytes of file content per layer, bottom first
  size @7 :Int64;               # the sum of layerSizes
  loadedAtNano @8 :Int64;
  lastTagTimeNano @9 :Int64;    # 0 when never tagged
}

struct LoadedLayer {
  diffId @0 :Text;
  bytes @1 :UInt64;    # the uncompressed tar's length
}

struct RegistryAuth {
  username @0 :Text;   # empty: anonymous
  password @1 :Text;
}

struct Mount {
  type @0 :Text;               # "overlay"
  source @1 :Text;
  options @2 :List(Text);      # lowerdir=..., upperdir=..., workdir=...
}

struct Change {
  kind @0 :UInt8;              # 0 modified, 1 added, 2 deleted (Docker's numbering)
  path @1 :Text;
}

struct ContainerSize {
  container @0 :Text;          # the container's id, as asked
  rw @1 :Int64;                # bytes of file content in its writable layer (SizeRw)
  rootFs @2 :Int64;            # the same plus its image's (SizeRootFs)
}

struct DeleteItem {
  union {
    untagged @0 :Text;   # a reference that was removed
    deleted @1 :Text;    # an image id or layer chain id that was deleted
  }
}

interface Images extends(Svc.Service, Ev.EventSource) {
  summary @0 () -> (images :UInt32, layers :UInt32, storageDriver :Text, backingFilesystem :Text) $Svc.readOnly;
  # Counts for /info.

  uploadBegin @1 (loadAhead :Bool) -> (upload :Text);
  # Opens an upload: a file in this service's staging area that the API fills with a client's
  # request body (docker load). Returns a random id; uploads idle for 10 minutes are dropped.
  # With `loadAhead` (a docker load), the service begins loading the archive as it arrives,
  # extracting layers on the way; `load` then completes the upload and waits for that load, and
  # `uploadDiscard` abandons it.

  uploadWrite @2 (upload :Text, data :Data) -> ();
  # Appends `data` (at most 16 MiB per call). notFound for an unknown or expired upload.

  uploadDiscard @3 (upload :Text) -> ();
  # Drops an upload the client abandoned. Unknown ids are ignored.

  load @4 (upload :Text) -> (lines :List(Text), layers :List(LoadedLayer));
  # Loads the uploaded archive (docker save format or OCI layout, plain or gzip) and consumes
  # the upload. All or nothing: `invalid` names what failed and nothing becomes visible.
  # Returns dockerd's lines ("Loaded image: busybox:latest") and the layers it extracted (for
  # the progress a terminal shows). Emits load and tag events.

  list @5 () -> (images :List(ImageInfo)) $Svc.readOnly;
  # Every image, for GET /images/json (the API filters).

  inspect @6 (ref :Text) -> (image :ImageInfo) $Svc.readOnly;
  # One image by id, id prefix, name[:tag] or name@digest. notFound "No such image: REF";
  # invalid for an ambiguous prefix.

  tag @7 (source :Text, target :Text) -> ();
  # Points reference `target` (name[:tag], validated here) at the image `source` names.

  remove @8 (ref :Text, force :Bool, prune :Bool) -> (items :List(DeleteItem));
  # dockerd's rmi: a name untags; an id (or the last name) deletes the image and the layers no
  # other image uses. conflict when an id names an image with several references and !force.

  saveBegin @9 (refs :List(Text)) -> (download :Text, size :UInt64);
  # Resolves the named images (an unknown one fails the call, before anything is written), then
  # writes their docker-archive into this service's staging area on a thread of its own while
  # the download is read: `size` is 2^64-1 (not known), and a reader reads up to the empty
  # chunk. A read waits for the bytes it starts at; it fails once the writing failed, and the
  # writing stops once the download is closed. Emits save events when it is written whole.

  downloadRead @10 (download :Text, offset :UInt64, maxBytes :UInt32) -> (data :Data) $Svc.readOnly;
  # Up to maxBytes (at most 16 MiB) from `offset`; empty at the end. Of a download still being
  # written (saveBegin, exportBegin), waits up to 50 s for the byte at `offset`.

  downloadClose @11 (download :Text) -> ();
  # Removes a download. Unknown ids are ignored. A download still being written stops being
  # written, and the answer waits for its writer to stop (at its next report, every 256 KiB
  # written): what the writer held (an export's layers) is let go before it.

  import @12 (upload :Text, reference :Text, message :Text, changes :List(Text)) -> (id :Text);
  # docker import: a one-layer image from the uploaded root filesystem tarball, consuming the
  # upload. `changes` are Dockerfile instructions (CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE,
  # LABEL, VOLUME, STOPSIGNAL), validated here; `reference` may be empty. Emits import and tag.

  pull @13 (reference :Text, auth :RegistryAuth) -> (operation :Text);
  # Starts docker pull from the registry the reference names (plain http for loopback and
  # insecure-registries); read its progress with `progress`. Verifies every digest and diff
  # id; all or nothing. invalid for a malformed reference. Emits pull.

  push @14 (reference :Text, auth :RegistryAuth) -> (operation :Text);
  # Starts docker push of a local name:tag: skips blobs the registry has, mounts those it has
  # in another repository, uploads the rest. notFound when no such tag exists. Emits push.

  login @15 (host :Text, auth :RegistryAuth) -> ();
  # Checks credentials against the registry at `host`. unauthorized when refused.

  progress @16 (operation :Text, from :UInt32, waitMs :UInt32) -> (lines :List(Text), done :Bool) $Svc.readOnly;
  # dockerd's JSON progress messages of a pull or push from index `from` on, waiting up to
  # waitMs (at most 5000) for new ones. Once done and every line is read, the call fails with
  # the operation's error, if it had one, and the operation is forgotten.

  prepareRootfs @17 (container :Text, image :Text) -> (mounts :List(Mount), imageId :Text, config :Data);
  # Called by the containerd-bridge when it creates a container: resolves `image` (a reference
  # or an id; notFound "No such image: X"), makes the container's writable layer over it and
  # returns the overlay mount, the image's id and its config document, so a create needs this
  # one call. The image can no longer be deleted (rmi answers dockerd's conflict) until
  # releaseRootfs. Idempotent.

  releaseRootfs @18 (container :Text) -> ();
  # Called when a container is removed: deletes its writable layer.

  changes @19 (container :Text) -> (changes :List(Change)) $Svc.readOnly;
  # docker diff, called by the containerd-bridge while it holds the container: what the
  # container's writable layer adds, changes and deletes, by path.

  exportBegin @20 (container :Text) -> (download :Text, size :UInt64);
  # docker export, called by the containerd-bridge while it holds the container: resolves and
  # holds the container's layers (notFound before anything is written), then writes their
  # merged filesystem as a tar on a thread, as saveBegin writes its archive (`size` 2^64-1). A
  # releaseRootfs meanwhile answers at once; the layers are removed when the export ends, or at
  # this service's next start (the marker rw/<container>/released) if it dies first.

  commit @21 (container :Text, config :Data, reference :Text, message :Text, author :Text,
              changes :List(Text)) -> (id :Text);
  # Called by the containerd-bridge for docker commit (the bridge resolves the container,
  # holds it and pauses it; this builds the image): a new image from the container's writable
  # layer over its image. `config` is the new image's "config" object (JSON) before `changes`,
  # the client's Dockerfile instructions (`--change`, untrusted), are applied to it here, as
  # for import; a change dockerd refuses fails the call `invalid` before anything is written.
  # `reference` may be empty.

  containerSize @22 (container :Text) -> (rw :Int64, rootFs :Int64) $Svc.readOnly;
  # The bytes of file content in the container's writable layer (SizeRw) and in it plus its
  # image (SizeRootFs). notFound when it has no layer. berth's own callers use
  # containerSizes (below), which answers the same for many containers in one call.

  containerSizes @23 (containers :List(Text)) -> (sizes :List(ContainerSize)) $Svc.readOnly;
  # containerSize for many containers in one call: the containerd-bridge asks it once for
  # `ps -s` (and `inspect -s`), whatever the number of containers. A container without a layer
  # is left out of `sizes` (it is being created or removed); an id that is not a container id
  # fails the call `invalid`.

  imageViews @24 () -> (epoch :UInt64, seq :UInt64, images :List(ImageInfo)) $Svc.readOnly;
  # For the API's read model of images (docs/ipc.md, "Image views"): every image, as `list`
  # answers it, as of sequence `seq` of this run (`epoch`). Right after answering, the service
  # publishes an ImageViewChange with `mark` set and the same epoch and seq on its views channel
  # (views-images.sock), so the subscriber knows from which change on the channel continues the
  # snapshot with no gap.
}

struct ImageViewChange {
  # One message on the images service's views channel: sequence `seq` of run `epoch` changed
  # the images (`images`, each as it is now: made, or its references or tag time changed) and
  # deleted some (`removedIds`), all in one step (a tag moved from one image to another changes
  # both), or, with `mark`, only marks where an imageViews snapshot at `seq` ends. Sequences are
  # consecutive within an epoch; a subscriber that sees a gap or another epoch takes a new
  # snapshot.
  epoch @0 :UInt64;
  seq @1 :UInt64;
  mark @2 :Bool;
  images @3 :List(ImageInfo);
  removedIds @4 :List(Text);
}
