// berth's client of containerd's gRPC API (stubs generated from Debian's containerd protos at
// build time): the Containers and Tasks interfaces of containerd.h against the engine's
// containerd, over one channel. Every call takes its caller's deadline; a containerd that is
// down or restarting fails the call `unavailable`. Calls use berth's own containerd namespace.
#pragma once

#include <memory>
#include <string>

#include "services/containerd-bridge/containerd.h"

namespace berth::bridge {

class ContainerdClient {
 public:
  explicit ContainerdClient(const std::string& socketPath, std::string ns = "berth");
  ~ContainerdClient();
  ContainerdClient(const ContainerdClient&) = delete;
  ContainerdClient& operator=(const ContainerdClient&) = delete;

  struct Version {
    std::string version;
    std::string revision;
  };
  Version version(Deadline deadline);

  ContainerdContainers& containers();
  ContainerdTasks& tasks();

 private:
  struct Channel;
  class Containers;
  class Tasks;
  std::unique_ptr<Channel> channel_;
  std::unique_ptr<Containers> containers_;
  std::unique_ptr<Tasks> tasks_;
};

// `runc --version`'s version and commit lines, or empty strings when runc is missing.
struct RuncVersion {
  std::string version;
  std::string commit;
};
RuncVersion readRuncVersion();

}  // namespace berth::bridge
