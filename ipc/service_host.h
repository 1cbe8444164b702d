// Hosts one berth service process: parses the shared config, sets up logging, serves the
// service's RPC endpoint and event channel, answers Service.health and EventSource.recent,
// tells its manager (supervisor or systemd) READY=1, and stops cleanly on SIGTERM/SIGINT.
// A service's main() builds its core and registers the handlers that adapt it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "common/config.h"
#include "ipc/events.h"
#include "ipc/rpc_server.h"

namespace berth::ipc {

class ServiceHost {
 public:
  ServiceHost(std::string name, Config config, size_t workers = 4);
  ~ServiceHost();

  const std::string& name() const { return name_; }
  const Config& config() const { return config_; }
  zmq::context_t& zmq() { return context_; }
  RpcServer& server() { return *server_; }
  EventPublisher& events() { return *events_; }

  // Serves until SIGTERM or SIGINT; returns the process exit status.
  int run();
  // Runs after the server has stopped, while the event channel is still open (e.g. to wait
  // for background operations that publish events).
  void onStop(std::function<void()> fn) { onStop_.push_back(std::move(fn)); }
  // Runs on the service's memory-return thread before each of its looks (every 5 s), after the
  // RPC clients' idle sockets are closed: what the service keeps only while it may be needed
  // again is let go of there, so the same look returns it. Register during setup.
  void beforeMemoryLook(std::function<void()> fn) { beforeMemoryLook_.push_back(std::move(fn)); }
  void runBeforeMemoryLook() const {
    for (const auto& fn : beforeMemoryLook_) fn();
  }

 private:
  std::string name_;
  Config config_;
  zmq::context_t context_;
  std::unique_ptr<EventPublisher> events_;
  std::unique_ptr<RpcServer> server_;
  int64_t startedAtNano_;
  std::vector<std::function<void()>> onStop_;
  std::vector<std::function<void()>> beforeMemoryLook_;
};

// How a service's allocator is set, before any thread exists.
struct MallocSettings {
  // Two malloc arenas instead of glibc's eight per core: every thread of a service (the bridge's
  // workers, one monitor per running container) took an arena of its own, and what a burst
  // freed stayed spread over them (docs/performance.md).
  int arenas = 2;
  // Kept free at the top of the heap when it shrinks or grows (M_TOP_PAD); 0: glibc's own. Setting
  // it also stops glibc's dynamic mmap threshold: blocks of 128 KiB or more (or of
  // mmapThresholdBytes, when set) are then always mapped and unmapped on their own.
  size_t topPadBytes = 0;
  // Blocks this large or larger are mapped on their own (M_MMAP_THRESHOLD); 0: glibc's own
  // (128 KiB, fixed once the top pad is set). Smaller ones are carved from the heap and reused.
  size_t mmapThresholdBytes = 0;
};

// The whole main() of a service: parse argv; `confine` (the service's sandbox::confine) before
// any thread exists, since a thread keeps the capabilities it was created with and the host's
// sockets start ZeroMQ's threads; build the host, let `setup` register the service's handlers,
// run. Exit status 2 for a bad config, 1 for a failed start.
int runService(const std::string& name, int argc, char** argv, const std::function<void()>& confine,
               const std::function<void(ServiceHost&)>& setup, size_t workers = 4, MallocSettings malloc = {});

}  // namespace berth::ipc
