// View stamps (docs/ipc.md, "Container views", "Volume views", "Image views", "Network views"):
// a service that keeps views other processes read (the containerd-bridge's container views, the
// volumes service's volumes, the images service's images, the network service's networks)
// stamps every RPC reply and every event it sends with its view sequence, so a reader that
// serves from a copy of those views (the API's read models) can tell whether its copy already
// holds what a reply or event has acknowledged. A process that changes another's views through
// calls (the bridge makes and removes anonymous volumes, commits images, and connects its
// containers to networks) stamps what that producer's replies told it, so its own replies and
// events cover the changes it caused there too.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>

namespace berth::ipc {

struct ViewStamp {
  uint64_t epoch = 0;  // the producer's run (its start on the boot clock, ns: a later run is larger); 0: none
  uint64_t seq = 0;    // its view sequence when the reply or event left
};

// Whose views a stamp counts: each kind has one producer and one read model in berth-api.
enum class ViewKind : unsigned { containers = 0, volumes = 1, images = 2, networks = 3 };
constexpr size_t kViewKinds = 4;
// One stamp of each kind, indexed by ViewKind: what a reply or an event carries.
using ViewStamps = std::array<ViewStamp, kViewKinds>;

// A new run's epoch: its start on the boot clock, in nanoseconds (never 0, which means "keeps
// no views"). A later run has a larger one, so a reader can tell a late stamp of a replaced run
// from one of the run that replaced it; berth-api and every run of a producer share one boot.
uint64_t newViewEpoch();
// The epochs' clock now (the boot clock, ns): a run that starts later has a larger epoch.
uint64_t viewClockNow();

// What a read model over a copy of views (ipc/view_copy.h) answered and declined, and how
// often it took a snapshot or followed a change.
struct ViewCopyCounts {
  uint64_t served = 0, declined = 0, snapshots = 0, changes = 0;
};

// Sets what this process stamps for `kind` on its replies and events; call once, before serving.
void setViewStampSource(ViewKind kind, std::function<ViewStamp()> source);
// The stamp of `kind` now ({0, 0} when no source was set).
ViewStamp currentViewStamp(ViewKind kind);
// Every kind's, as a reply or event leaving now carries them.
ViewStamps currentViewStamps();

// The stamps of a ReplyHeader or an Event (rpc.capnp, events.capnp: the same field names).
template <typename Builder>
void writeViewStamps(Builder out, const ViewStamps& stamps) {
  out.setViewEpoch(stamps[0].epoch);
  out.setViewSeq(stamps[0].seq);
  out.setVolumeViewEpoch(stamps[1].epoch);
  out.setVolumeViewSeq(stamps[1].seq);
  out.setImageViewEpoch(stamps[2].epoch);
  out.setImageViewSeq(stamps[2].seq);
  out.setNetworkViewEpoch(stamps[3].epoch);
  out.setNetworkViewSeq(stamps[3].seq);
}
template <typename Reader>
ViewStamps readViewStamps(Reader in) {
  return {ViewStamp{in.getViewEpoch(), in.getViewSeq()}, ViewStamp{in.getVolumeViewEpoch(), in.getVolumeViewSeq()},
          ViewStamp{in.getImageViewEpoch(), in.getImageViewSeq()},
          ViewStamp{in.getNetworkViewEpoch(), in.getNetworkViewSeq()}};
}

// The highest stamp of one producer seen in the replies of calls to it, for a process that
// passes it on in its own replies and events (setViewStampSource with current()). A stamp of a
// later run (a larger epoch) replaces one of the run before; a late one of a replaced run is
// ignored. Thread-safe.
class ViewStampRelay {
 public:
  void observe(ViewStamp stamp);
  ViewStamp current() const;

 private:
  mutable std::mutex mutex_;
  ViewStamp highest_;
};

}  // namespace berth::ipc
