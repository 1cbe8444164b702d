// berth-images: the thin RPC adapter over the image store.
#include <arpa/inet.h>
#include <linux/capability.h>
#include <sys/stat.h>

#include <cstdlib>
#include <limits>

#include <spdlog/spdlog.h>

#include "ipc/capnp_text.h"
#include "ipc/methods.h"
#include "ipc/service_host.h"
#include "services/images/image_store.h"
#include "services/images/image_view_feed.h"
#include "services/images/libarchive_on_demand.h"
#include "services/images/loads_ahead.h"
#include "services/images/operations.h"
#include "common/image_reference.h"
#include "services/images/writes_ahead.h"
#include "services/images/transfers.h"
#include "common/json_text.h"
#include "common/sandbox.h"

using namespace berth;

namespace {

// Plain http for loopback registries (as dockerd's default 127.0.0.0/8) and those configured
// as insecure-registries (host, host:port, or an IPv4 CIDR).
bool plainHttp(const Config& config, const std::string& host) {
  std::string name = host;
  if (name.size() > 1 && name.front() == '[') name = name.substr(1, name.find(']') - 1);
  else name = name.substr(0, name.rfind(':') == std::string::npos ? name.size() : name.rfind(':'));
  in_addr addr{};
  bool ipv4 = inet_pton(AF_INET, name.c_str(), &addr) == 1;
  if (name == "localhost" || name == "::1" || (ipv4 && (ntohl(addr.s_addr) >> 24) == 127)) return true;
  for (const auto& entry : config.insecureRegistries) {
    if (entry == host || entry == name) return true;
    auto slash = entry.find('/');
    in_addr net{};
    if (ipv4 && slash != std::string::npos && inet_pton(AF_INET, entry.substr(0, slash).c_str(), &net) == 1) {
      int bits = std::atoi(entry.c_str() + slash + 1);
      uint32_t mask = bits <= 0 ? 0 : bits >= 32 ? 0xffffffffu : ~((1u << (32 - bits)) - 1);
      if ((ntohl(addr.s_addr) & mask) == (ntohl(net.s_addr) & mask)) return true;
    }
  }
  return false;
}

images::RegistryCredentials credentialsOf(ipc::RegistryAuth::Reader auth) {
  return {auth.getUsername(), auth.getPassword()};
}

}  // namespace

int main(int argc, char** argv) {
  // GnuTLS comes in with libcurl (through librtmp; curl speaks TLS with OpenSSL) and would set
  // itself up in its constructor when the first registry call opens libcurl: 0.6 MB of PSS for
  // a library nothing calls. Set before any thread exists, so no getenv races the setenv.
  ::setenv("GNUTLS_NO_IMPLICIT_INIT", "1", 0);
  std::unique_ptr<images::ImageStore> store;
  // The views channel's socket lives on a context of its own, ended after it: the host's context
  // waits, when it ends, for every socket on it to close, and the host may end (a failed start)
  // with the feed still alive.
  zmq::context_t viewsContext;
  std::unique_ptr<images::ImageViewFeed> viewFeed;  // observes the store
  std::unique_ptr<images::Transfers> transfers;
  std::unique_ptr<images::LoadsAhead> loadsAhead;
  std::unique_ptr<images::WritesAhead> writesAhead;
  std::unique_ptr<images::Operations> operationsOwner = std::make_unique<images::Operations>();
  images::Operations& operations = *operationsOwner;
  auto confine = [] {
    // berth-images mounts nothing, runs no program and enters no namespace. It writes layers
    // as their tars say: owners (CHOWN, FOWNER), setuid bits (FSETID), device nodes and
    // whiteouts (MKNOD), file capabilities (SETFCAP) and overlay's trusted.* xattrs (SYS_ADMIN,
    // which the filter keeps from mounting).
    sandbox::confine({"berth-images",
                      {CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_FSETID, CAP_MKNOD, CAP_SETFCAP, CAP_SYS_ADMIN},
                      {"mknod", "mknodat"}});
  };
  // One malloc arena: what a load leaves free is then in the main heap, whose top the memory
  // look's malloc_trim gives back; the top of a second arena it leaves alone (2 MB after a
  // load). A 4 MiB top pad keeps the heap from shrinking and growing around every chunk, and a
  // 4 MiB mmap threshold keeps the load's 1 MiB buffers (ZeroMQ's received messages, the
  // chunks) in that heap: the pad alone fixes glibc's threshold at 128 KiB, and each buffer
  // was then mapped, faulted in page by page and unmapped, 100,000 faults and three quarters
  // of the service's CPU per 200 MB load (docs/performance.md, "A load's buffers mapped one
  // by one").
  constexpr ipc::MallocSettings kMalloc{
      .arenas = 1, .topPadBytes = size_t{4} << 20, .mmapThresholdBytes = size_t{4} << 20};
  return ipc::runService("images", argc, argv, confine, [&](ipc::ServiceHost& host) {
    const Config& config = host.config();
    // Running pulls and pushes finish (and publish their events) before the host goes away.
    // Loads still reading their uploads give up (their uploads are abandoned), and saves and
    // exports still writing stop (their readers fail).
    host.onStop([&] {
      writesAhead.reset();  // first: nobody reads them once the server stopped
      operationsOwner.reset();
      loadsAhead.reset();
    });
    auto& events = host.events();
    store = std::make_unique<images::ImageStore>(
        host.config().serviceDataDir("images"),
        [&events](const std::string& action, const std::string& id, const auto& attrs) {
          events.publish({"image", action, id, attrs, "local", 0});
        });
    // Before the first call: the store's changes take the first numbers of this run's sequence.
    viewFeed = std::make_unique<images::ImageViewFeed>(viewsContext, config.viewsEndpoint("images"), *store);
    transfers = std::make_unique<images::Transfers>(host.config().serviceDataDir("images") + "/staging/transfers");
    loadsAhead = std::make_unique<images::LoadsAhead>(*transfers, *store);
    writesAhead = std::make_unique<images::WritesAhead>(*transfers);
    // libarchive, with ICU and libxml2, stays mapped after a load only until nothing has read or
    // written an archive for 10 s (the idle time of the service's workers and RPC sockets).
    host.beforeMemoryLook([] {
      if (images::closeLibarchiveIfIdle(std::chrono::seconds(10))) spdlog::debug("libarchive closed: idle for 10 s");
    });
    auto& s = host.server();
    using D = ipc::RpcServer::Dispatch;
    s.implements<ipc::Images>();
    s.handle(
        ipc::methods::imagesImageViews(),
        [&](auto, ipc::Images::ImageViewsResults::Builder r) { viewFeed->snapshot(r); }, D::worker);
    s.handle(ipc::methods::imagesSummary(), [&](auto, ipc::Images::SummaryResults::Builder r) {
      auto c = store->counts();
      r.setImages(c.images);
      r.setLayers(c.layers);
      r.setStorageDriver(c.storageDriver);
      r.setBackingFilesystem(c.backingFilesystem);
    });
    s.handle(ipc::methods::imagesUploadBegin(),
             [&](ipc::Images::UploadBeginParams::Reader p, ipc::Images::UploadBeginResults::Builder r) {
               bool ahead = p.getLoadAhead() && !loadsAhead->full();
               std::string upload = transfers->beginUpload(ahead);
               if (ahead) {
                 try {
                   loadsAhead->start(upload);
                 } catch (...) {
                   transfers->discard(upload);
                   throw;
                 }
               }
               r.setUpload(upload);
             });
    s.handle(
        ipc::methods::imagesUploadWrite(),
        [&](ipc::Images::UploadWriteParams::Reader p, auto) {
          transfers->write(p.getUpload(), ipc::textView(p.getData()));
        },
        D::worker);
    s.handle(
        ipc::methods::imagesUploadDiscard(),
        [&](ipc::Images::UploadDiscardParams::Reader p, auto) { loadsAhead->discard(p.getUpload()); }, D::worker);
    s.handle(
        ipc::methods::imagesLoad(),
        [&](ipc::Images::LoadParams::Reader p, ipc::Images::LoadResults::Builder r) {
          auto loaded = [&] {
            if (auto ahead = loadsAhead->finish(p.getUpload())) return std::move(*ahead);
            std::string path = transfers->takeUpload(p.getUpload());
            struct Remove {
              std::string path;
              ~Remove() { ::unlink(path.c_str()); }
            } remove{path};
            return store->load(path);
          }();
          ipc::setTexts(r.initLines(static_cast<unsigned>(loaded.lines.size())), loaded.lines);
          auto layers = r.initLayers(static_cast<unsigned>(loaded.extracted.size()));
          for (size_t i = 0; i < loaded.extracted.size(); ++i) {
            layers[static_cast<unsigned>(i)].setDiffId(loaded.extracted[i].first);
            layers[static_cast<unsigned>(i)].setBytes(loaded.extracted[i].second);
          }
        },
        D::worker);
    s.handle(
        ipc::methods::imagesImport(),
        [&](ipc::Images::ImportParams::Reader p, ipc::Images::ImportResults::Builder r) {
          std::string path = transfers->takeUpload(p.getUpload());
          struct Remove {
            std::string path;
            ~Remove() { ::unlink(path.c_str()); }
          } remove{path};
          r.setId(store->importImage(path, p.getReference(), p.getMessage(), ipc::texts(p.getChanges())));
        },
        D::worker);
    s.handle(ipc::methods::imagesPull(), [&](ipc::Images::PullParams::Reader p, ipc::Images::PullResults::Builder r) {
      std::string ref = p.getReference();
      bool plain = plainHttp(config, images::parseReference(ref).domain());  // validates the reference
      auto credentials = credentialsOf(p.getAuth());
      r.setOperation(operations.start([&, ref, plain, credentials](const images::Operations::Report& report) {
        store->pull(ref, credentials, plain, report);
      }));
    });
    s.handle(ipc::methods::imagesPush(), [&](ipc::Images::PushParams::Reader p, ipc::Images::PushResults::Builder r) {
      std::string ref = p.getReference();
      store->get(ref);  // notFound before anything starts
      bool plain = plainHttp(config, images::parseReference(ref).domain());
      auto credentials = credentialsOf(p.getAuth());
      r.setOperation(operations.start([&, ref, plain, credentials](const images::Operations::Report& report) {
        store->push(ref, credentials, plain, report);
      }));
    });
    s.handle(
        ipc::methods::imagesProgress(),
        [&](ipc::Images::ProgressParams::Reader p, ipc::Images::ProgressResults::Builder r) {
          auto chunk = operations.next(p.getOperation(), p.getFrom(),
                                       std::chrono::milliseconds(std::min<uint32_t>(p.getWaitMs(), 5000)));
          ipc::setTexts(r.initLines(static_cast<unsigned>(chunk.lines.size())), chunk.lines);
          r.setDone(chunk.done);
        },
        D::worker);
    s.handle(
        ipc::methods::imagesLogin(),
        [&](ipc::Images::LoginParams::Reader p, auto) {
          std::string host = p.getHost();
          if (host.empty() || host.find('/') != std::string::npos) throw Error(ErrorKind::invalid, "invalid registry address: " + host);
          store->login(host, credentialsOf(p.getAuth()), plainHttp(config, host));
        },
        D::worker);
    s.handle(
        ipc::methods::imagesPrepareRootfs(),
        [&](ipc::Images::PrepareRootfsParams::Reader p, ipc::Images::PrepareRootfsResults::Builder r) {
          std::string imageId;
          auto mounts = store->prepareContainerLayer(p.getContainer(), p.getImage(), imageId);
          auto out = r.initMounts(static_cast<unsigned>(mounts.size()));
          for (size_t i = 0; i < mounts.size(); ++i) {
            auto m = out[static_cast<unsigned>(i)];
            m.setType(mounts[i].type);
            m.setSource(mounts[i].source);
            ipc::setTexts(m.initOptions(static_cast<unsigned>(mounts[i].options.size())), mounts[i].options);
          }
          r.setImageId(imageId);
          r.setConfig(ipc::bytes(store->get(imageId).configJson));
        },
        D::worker);
    s.handle(
        ipc::methods::imagesReleaseRootfs(),
        [&](ipc::Images::ReleaseRootfsParams::Reader p, auto) { store->releaseContainerLayer(p.getContainer()); },
        D::worker);
    s.handle(
        ipc::methods::imagesChanges(),
        [&](ipc::Images::ChangesParams::Reader p, ipc::Images::ChangesResults::Builder r) {
          auto changes = store->containerChanges(p.getContainer());
          auto out = r.initChanges(static_cast<unsigned>(changes.size()));
          for (size_t i = 0; i < changes.size(); ++i) {
            out[static_cast<unsigned>(i)].setKind(static_cast<uint8_t>(changes[i].kind));
            out[static_cast<unsigned>(i)].setPath(changes[i].path);
          }
        },
        D::worker);
    s.handle(
        ipc::methods::imagesContainerSize(),
        [&](ipc::Images::ContainerSizeParams::Reader p, ipc::Images::ContainerSizeResults::Builder r) {
          auto size = store->containerSize(p.getContainer());
          r.setRw(size.rw);
          r.setRootFs(size.rootFs);
        },
        D::worker);
    s.handle(
        ipc::methods::imagesContainerSizes(),
        [&](ipc::Images::ContainerSizesParams::Reader p, ipc::Images::ContainerSizesResults::Builder r) {
          auto sizes = store->containerSizes(ipc::texts(p.getContainers()));
          auto out = r.initSizes(static_cast<unsigned>(sizes.size()));
          unsigned i = 0;
          for (const auto& [container, size] : sizes) {
            out[i].setContainer(container);
            out[i].setRw(size.rw);
            out[i].setRootFs(size.rootFs);
            ++i;
          }
        },
        D::worker);
    s.handle(
        ipc::methods::imagesExportBegin(),
        [&](ipc::Images::ExportBeginParams::Reader p, ipc::Images::ExportBeginResults::Builder r) {
          // Streamed as it is written, as a save.
          auto plan = std::make_shared<images::ImageStore::ExportPlan>(store->planExport(p.getContainer()));
          r.setDownload(writesAhead->start("export", [&store = *store, plan](int fd, const std::string& path,
                                                                             const auto& written) {
            store.writeExport(*plan, fd, path, written);
          }));
          r.setSize(std::numeric_limits<uint64_t>::max());
        },
        D::worker);
    s.handle(
        ipc::methods::imagesCommit(),
        [&](ipc::Images::CommitParams::Reader p, ipc::Images::CommitResults::Builder r) {
          auto config = parseJsonOrDiscarded(ipc::textView(p.getConfig()));
          if (!config.is_object()) throw Error(ErrorKind::invalid, "commit: config must be a JSON object");
          r.setId(store->commitContainer(p.getContainer(), config, p.getReference(), p.getMessage(), p.getAuthor(),
                                         ipc::texts(p.getChanges())));
        },
        D::worker);
    s.handle(ipc::methods::imagesList(), [&](auto, ipc::Images::ListResults::Builder r) {
      auto all = store->list();
      auto out = r.initImages(static_cast<unsigned>(all.size()));
      for (size_t i = 0; i < all.size(); ++i) images::fillImageInfo(all[i], out[static_cast<unsigned>(i)]);
    });
    s.handle(ipc::methods::imagesInspect(),
             [&](ipc::Images::InspectParams::Reader p, ipc::Images::InspectResults::Builder r) {
               images::fillImageInfo(store->get(p.getRef()), r.initImage());
             });
    s.handle(
        ipc::methods::imagesTag(), [&](ipc::Images::TagParams::Reader p, auto) { store->tag(p.getSource(), p.getTarget()); },
        D::worker);
    s.handle(ipc::methods::imagesRemove(),
             [&](ipc::Images::RemoveParams::Reader p, ipc::Images::RemoveResults::Builder r) {
               auto items = store->remove(p.getRef(), p.getForce(), p.getPrune());
               auto out = r.initItems(static_cast<unsigned>(items.size()));
               for (size_t i = 0; i < items.size(); ++i) {
                 if (!items[i].untagged.empty()) out[static_cast<unsigned>(i)].setUntagged(items[i].untagged);
                 else out[static_cast<unsigned>(i)].setDeleted(items[i].deleted);
               }
             },
             D::worker);
    s.handle(
        ipc::methods::imagesSaveBegin(),
        [&](ipc::Images::SaveBeginParams::Reader p, ipc::Images::SaveBeginResults::Builder r) {
          auto refs = ipc::texts(p.getRefs());
          if (refs.empty()) throw Error(ErrorKind::invalid, "no images named");
          // Streamed as it is written: the size is not known yet, and the reader reads to the
          // empty chunk (docs/ipc.md).
          auto plan = std::make_shared<images::ImageStore::SavePlan>(store->planSave(refs));
          r.setDownload(writesAhead->start("save", [&store = *store, plan](int fd, const std::string& path,
                                                                           const auto& written) {
            store.writeSave(*plan, fd, path, written);
          }));
          r.setSize(std::numeric_limits<uint64_t>::max());
        },
        D::worker);
    s.handleBlob(
        ipc::methods::imagesDownloadRead(),
        [&](ipc::Images::DownloadReadParams::Reader p) {
          return transfers->readable(p.getDownload(), p.getOffset(), p.getMaxBytes());
        },
        [&](ipc::Images::DownloadReadParams::Reader p, ipc::Images::DownloadReadResults::Builder r) {
          transfers->read(p.getDownload(), p.getOffset(), p.getMaxBytes(),
                          [&](size_t n) { return reinterpret_cast<char*>(r.initData(static_cast<unsigned>(n)).begin()); });
        },
        D::worker);
    s.handle(
        ipc::methods::imagesDownloadClose(),
        // Its own thread: the close waits for a writer's next report, and a queued call whose
        // deadline passed would be dropped, leaving the writer to write on.
        [&](ipc::Images::DownloadCloseParams::Reader p, auto) { writesAhead->close(p.getDownload()); }, D::longPoll);
  },
  // Loads, imports and saves hold a worker for their whole run; enough workers that they never
  // starve the uploads and progress polls of other clients.
  32, kMalloc);
}
