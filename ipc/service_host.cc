#include "ipc/service_host.h"

#include <malloc.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <iostream>

#include "common/files.h"
#include "common/log.h"
#include "common/memory_return.h"
#include "common/notify.h"
#include "common/time_format.h"
#include "ipc/methods.h"
#include "ipc/rpc_client.h"

namespace berth::ipc {

ServiceHost::ServiceHost(std::string name, Config config, size_t workers)
    : name_(std::move(name)), config_(std::move(config)), startedAtNano_(nowUnixNanos()) {
  makeDirectories(config_.ipcDir(), 0700);
  events_ = std::make_unique<EventPublisher>(context_, config_.eventsEndpoint(name_));
  RpcServer::Options options;
  options.workers = workers;  // a bound: the pool keeps one standing worker and grows with its load
  server_ = std::make_unique<RpcServer>(context_, config_.serviceEndpoint(name_), options);
  server_->implements<Service>();
  server_->handle(methods::health(), [this](Service::HealthParams::Reader, Service::HealthResults::Builder r) {
    auto h = r.initHealth();
    h.setService(name_);
    h.setPid(static_cast<uint32_t>(getpid()));
    h.setVersion(BERTH_VERSION);
    h.setStartedAtNano(startedAtNano_);
  });
  events_->serveOn(*server_);
}

ServiceHost::~ServiceHost() = default;

int ServiceHost::run() {
  server_->start();
  Notifier notifier;
  notifier.ready(name_ + " serving on " + server_->endpoint());
  notifier.startWatchdog();
  spdlog::info("{} ready on {}", name_, server_->endpoint());

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int sig = 0;
  sigwait(&set, &sig);
  spdlog::info("{} stopping on signal {}", name_, sig);
  notifier.stopping();
  server_->stop();
  for (auto& fn : onStop_) fn();
  return 0;
}

int runService(const std::string& name, int argc, char** argv, const std::function<void()>& confine,
               const std::function<void(ServiceHost&)>& setup, size_t workers, MallocSettings malloc) {
  // Block the stop signals before any thread starts so only run()'s sigwait receives them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // Before any thread exists: a thread takes its arena at its first allocation.
  mallopt(M_ARENA_MAX, malloc.arenas);
  if (malloc.topPadBytes > 0) mallopt(M_TOP_PAD, static_cast<int>(malloc.topPadBytes));
  if (malloc.mmapThresholdBytes > 0) mallopt(M_MMAP_THRESHOLD, static_cast<int>(malloc.mmapThresholdBytes));

  Config config;
  try {
    config = Config::parse(std::vector<std::string>(argv, argv + argc));
  } catch (const ConfigError& e) {
    std::cerr << "berth-" << name << ": " << e.what() << "\n";
    return 2;
  }
  setupLogging(name, config.logLevel);
  try {
    // No thread exists yet: every thread started from here on holds only what the service keeps
    // (the host's sockets start ZeroMQ's I/O and reaper threads; setup starts the service's own).
    confine();
    ServiceHost host(name, config, workers);
    setup(host);
    // What a burst freed goes back to the system, the RPC clients' idle sockets and what the
    // service lets go of when idle first.
    MemoryReturn memoryReturn(std::chrono::seconds(5), MemoryReturn::kThreshold, [&host] {
      RpcClient::closeIdleEverywhere();
      host.runBeforeMemoryLook();
    });
    return host.run();
  } catch (const std::exception& e) {
    spdlog::critical("{} failed to start: {}", name, e.what());
    return 1;
  }
}

}  // namespace berth::ipc
