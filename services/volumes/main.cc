// berth-volumes: the thin RPC adapter over the volumes core (volumes_core.h). It converts
// ipc/schema/volumes.capnp's messages to the core's plain values and back, and publishes the
// core's events on the service's event channel; everything else is the core's.
#include <linux/capability.h>
#include <sys/resource.h>

#include "common/sandbox.h"
#include "ipc/capnp_text.h"
#include "ipc/methods.h"
#include "ipc/service_host.h"
#include "services/volumes/mounter.h"
#include "services/volumes/volume_view_feed.h"
#include "services/volumes/volumes_core.h"

using namespace berth;

namespace {

// Copy-up and removal hold a descriptor per directory level: allow as many as the hard limit.
void raiseFileLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

}  // namespace

int main(int argc, char** argv) {
  volumes::KernelMounter mounter;
  std::unique_ptr<volumes::VolumesCore> core;
  // The views channel's socket lives on a context of its own, ended after it: the host's context
  // waits, when it ends, for every socket on it to close, and the host may end (a failed start)
  // with the feed still alive.
  zmq::context_t viewsContext;
  std::unique_ptr<volumes::VolumeViewFeed> viewFeed;  // observes the core
  raiseFileLimit();
  auto confine = [] {
    // Mounts for the local driver's options (SYS_ADMIN, mount and umount2), and copy-up, which
    // keeps owners, modes, device nodes, xattrs and hard links (linking by descriptor needs
    // DAC_READ_SEARCH). No program, no namespace.
    sandbox::confine({"berth-volumes",
                      {CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_FSETID, CAP_MKNOD, CAP_SETFCAP,
                       CAP_SYS_ADMIN},
                      {"mount", "umount2", "mknod", "mknodat"}});
  };
  return ipc::runService("volumes", argc, argv, confine, [&](ipc::ServiceHost& host) {
    auto& events = host.events();
    core = std::make_unique<volumes::VolumesCore>(
        host.config().serviceDataDir("volumes"), mounter,
        [&events](const std::string& action, const std::string& id, const volumes::VolumesCore::Attributes& attrs) {
          events.publish({"volume", action, id, attrs, "local", 0});
        });
    // Before the first call: the core's changes take the first numbers of this run's sequence.
    viewFeed = std::make_unique<volumes::VolumeViewFeed>(viewsContext, host.config().viewsEndpoint("volumes"), *core);
    auto& s = host.server();
    using D = ipc::RpcServer::Dispatch;
    s.implements<ipc::Volumes>();
    s.handle(
        ipc::methods::volumesVolumeViews(),
        [&](auto, ipc::Volumes::VolumeViewsResults::Builder r) { viewFeed->snapshot(r); }, D::worker);
    s.handle(ipc::methods::volumesSummary(),
             [&](auto, ipc::Volumes::SummaryResults::Builder r) { r.setVolumes(core->count()); });
    s.handle(
        ipc::methods::volumesCreate(),
        [&](ipc::Volumes::CreateParams::Reader p, ipc::Volumes::CreateResults::Builder r) {
          volumes::CreateRequest request{p.getName(), p.getDriver(), ipc::keyValues(p.getLabels()), ipc::keyValues(p.getOptions()),
                                         p.getAnonymous()};
          auto [view, created] = core->create(request);
          volumes::fillVolumeInfo(view, r.initVolume());
          r.setCreated(created);
        },
        D::worker);
    s.handle(ipc::methods::volumesInspect(), [&](ipc::Volumes::InspectParams::Reader p, ipc::Volumes::InspectResults::Builder r) {
      volumes::fillVolumeInfo(core->inspect(p.getName()), r.initVolume());
    });
    s.handle(
        ipc::methods::volumesList(),
        [&](ipc::Volumes::ListParams::Reader p, ipc::Volumes::ListResults::Builder r) {
          auto all = core->list(ipc::text(p.getFilters()), p.getWithSizes());
          auto out = r.initVolumes(static_cast<unsigned>(all.size()));
          for (size_t i = 0; i < all.size(); ++i) volumes::fillVolumeInfo(all[i], out[static_cast<unsigned>(i)]);
          r.initWarnings(0);
        },
        D::worker);
    s.handle(
        ipc::methods::volumesRemove(),
        [&](ipc::Volumes::RemoveParams::Reader p, auto) { core->remove(p.getName(), p.getForce()); }, D::worker);
    s.handle(
        ipc::methods::volumesPrune(),
        [&](ipc::Volumes::PruneParams::Reader p, ipc::Volumes::PruneResults::Builder r) {
          auto result = core->prune(ipc::text(p.getFilters()), p.getAll());
          ipc::setTexts(r.initRemoved(static_cast<unsigned>(result.removed.size())), result.removed);
          r.setReclaimedBytes(result.reclaimedBytes);
        },
        D::worker);
    s.handle(
        ipc::methods::volumesReference(),
        [&](ipc::Volumes::ReferenceParams::Reader p, auto) {
          core->reference(p.getContainer(), ipc::texts(p.getVolumes()));
        },
        D::worker);
    s.handle(
        ipc::methods::volumesRelease(), [&](ipc::Volumes::ReleaseParams::Reader p, auto) { core->release(p.getContainer()); },
        D::worker);
    s.handle(
        ipc::methods::volumesMount(),
        [&](ipc::Volumes::MountParams::Reader p, ipc::Volumes::MountResults::Builder r) {
          r.setPath(core->mount(p.getContainer(), p.getName(), p.getDestination(), p.getReadWrite(), p.getCopyFrom()));
        },
        D::worker);
    s.handle(
        ipc::methods::volumesPopulate(),
        [&](ipc::Volumes::PopulateParams::Reader p, auto) {
          core->populate(p.getContainer(), p.getName(), p.getCopyFrom());
        },
        D::worker);
    s.handle(
        ipc::methods::volumesUnmount(),
        [&](ipc::Volumes::UnmountParams::Reader p, auto) { core->unmount(p.getContainer(), p.getName()); }, D::worker);
    s.handle(
        ipc::methods::volumesReconcile(),
        [&](ipc::Volumes::ReconcileParams::Reader p, auto) {
          std::map<std::string, volumes::ContainerUse> table;
          for (auto c : p.getContainers()) {
            auto& use = table[std::string(c.getContainer())];
            for (auto v : c.getVolumes()) use.volumes.insert(std::string(v));
            for (auto v : c.getMounted()) use.mounted.insert(std::string(v));
          }
          core->reconcile(table);
        },
        D::worker);
  });
}
