// berth's client of containerd's gRPC API (stubs generated from Debian's containerd protos at
// build time). Every call carries a deadline; a containerd that is down or restarting fails
// the call `unavailable`. Namespaced calls use berth's own containerd namespace.
#pragma once

#include <chrono>
#include <memory>
#include <string>

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
