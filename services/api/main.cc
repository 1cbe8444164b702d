// berth-api: the Docker Engine API over HTTP/1.1. It holds nothing durable: its listening
// sockets are inherited (LISTEN_FDS, from berth-supervisor or systemd) and every answer comes
// from the service that owns it.
#include <malloc.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cstdlib>
#include <iostream>

#include "common/config.h"
#include "common/log.h"
#include "common/memory_return.h"
#include "common/notify.h"
#include "common/sandbox.h"
#include "services/api/backends.h"
#include "services/api/event_hub.h"
#include "services/api/http/http_server.h"
#include "services/api/containers_routes.h"
#include "services/api/disk_usage_routes.h"
#include "services/api/images_routes.h"
#include "services/api/router.h"
#include "services/api/system_routes.h"
#include "services/api/unsupported_routes.h"
#include "services/api/volumes_routes.h"
#include "services/api/networks_routes.h"

using namespace berth;

int main(int argc, char** argv) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  mallopt(M_ARENA_MAX, 2);  // as every service (ipc/service_host.cc): a connection's thread took an arena

  Config config;
  try {
    config = Config::parse(std::vector<std::string>(argv, argv + argc));
  } catch (const ConfigError& e) {
    std::cerr << "berth-api: " << e.what() << "\n";
    return 2;
  }
  setupLogging("api", config.logLevel);

  try {
    int n = takeListenFds();
    if (n <= 0) {
      throw std::runtime_error(
          "no listening sockets: berth-api is started by berth-supervisor or by systemd socket activation");
    }
    SSL_CTX* tls = nullptr;
    std::vector<http::HttpServer::Listener> listeners;
    for (int i = 0; i < n; ++i) {
      int fd = kListenFdsStart + i;
      sockaddr_storage addr{};
      socklen_t len = sizeof addr;
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
      bool tcp = addr.ss_family == AF_INET || addr.ss_family == AF_INET6;
      if (tcp && config.tls.enabled && !tls) {
        tls = http::makeTlsContext(config.tls.certFile, config.tls.keyFile, config.tls.caFile, config.tls.verify);
      }
      listeners.push_back({fd, tcp && config.tls.enabled ? tls : nullptr});
    }
    // Set up (sockets inherited, certificates read): from here berth-api holds no capability
    // and cannot mount, trace, load kernel code, execute a program or enter a namespace. It is
    // the process any client talks to; everything privileged happens behind the IPC.
    sandbox::confine({"berth-api", {}, {}});
    // After the confinement: a thread keeps the capabilities it was created with.
    zmq::context_t zmq;
    api::Backends backends(zmq, config);
    // What a burst freed goes back to the system (common/memory_return.h), the RPC clients'
    // idle sockets first. Made after the clients and their context, so its thread ends first.
    MemoryReturn memoryReturn(std::chrono::seconds(5), MemoryReturn::kThreshold,
                              [] { ipc::RpcClient::closeIdleEverywhere(); });
    api::EventHub events(zmq, config, backends);
    api::Router router;
    api::SystemRoutes system(config, backends, events);
    system.registerOn(router);
    api::ImagesRoutes images(backends);
    images.registerOn(router);
    api::ContainersRoutes containers(config, backends);
    containers.registerOn(router);
    api::VolumesRoutes volumes(backends);
    volumes.registerOn(router);
    api::NetworksRoutes networks(backends);
    networks.registerOn(router);
    api::DiskUsageRoutes diskUsage(backends);
    diskUsage.registerOn(router);
    api::UnsupportedRoutes unsupported;
    unsupported.registerOn(router);

    http::ServerOptions options;
    options.commonHeaders = {{"Api-Version", api::kApiVersion},
                             {"Docker-Experimental", "false"},
                             {"Ostype", "linux"},
                             {"Server", "berth/" BERTH_VERSION " (linux)"}};
    options.streamsBody = [&router](http::Request& req) { return router.streamsBody(req); };
    http::HttpServer server(std::move(listeners),
                            [&router](http::Request& req, http::ResponseWriter& out) { router.dispatch(req, out); },
                            options);
    server.start();
    Notifier notifier;
    notifier.ready("serving the Docker API on " + std::to_string(n) + " socket(s)");
    notifier.startWatchdog();
    spdlog::info("api ready on {} inherited socket(s)", n);

    int sig = 0;
    sigwait(&set, &sig);
    spdlog::info("api stopping on signal {}", sig);
    notifier.stopping();
    if (!server.stop(std::chrono::seconds(5))) {
      // Long requests (a load, a pull) are still running on their threads; they must not
      // outlive the objects they use, so leave without running destructors.
      spdlog::warn("api: leaving with requests still in progress");
      std::_Exit(0);
    }
    return 0;
  } catch (const std::exception& e) {
    spdlog::critical("api failed: {}", e.what());
    return 1;
  }
}
