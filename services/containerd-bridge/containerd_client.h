// berth's client of containerd's gRPC API (stubs generated from Debian's containerd protos at
// build time). Every call carries a deadline; a containerd that is down or restarting fails
// the call `unavailable`. Namespaced calls use berth's own containerd namespace.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace grpc {
class Channel;
}

namespace berth::bridge {

class ContainerdClient {
 public:
  explicit ContainerdClient(const std::string& socketPath, std::string ns = "berth");

  struct Version {
    std::string version;
    std::string revision;
  };
  Version version(std::chrono::milliseconds timeout);

  struct Mount {
    std::string type;
    std::string source;
    std::vector<std::string> options;
  };
  // Registers a container (its OCI spec, runc v2 runtime) in berth's namespace.
  void createContainer(const std::string& id, const std::string& specJson);
  // Creates its task on `rootfs` with stdout/stderr going to `logUri` (binary://...), starts
  // it, and returns the process's pid.
  uint32_t startTask(const std::string& id, const std::vector<Mount>& rootfs, const std::string& logUri);
  // Waits for the task's exit and returns its status.
  uint32_t waitTask(const std::string& id, std::chrono::milliseconds timeout);
  // Deletes the task (after exit) and the container.
  void deleteContainer(const std::string& id);

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::string namespace_;
};

// `runc --version`'s version and commit lines, or empty strings when runc is missing.
struct RuncVersion {
  std::string version;
  std::string commit;
};
RuncVersion readRuncVersion();

}  // namespace berth::bridge
