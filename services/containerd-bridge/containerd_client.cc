#include "services/containerd-bridge/containerd_client.h"

#include <grpcpp/grpcpp.h>

#include <array>
#include <cstdio>
#include <memory>

#include "common/errors.h"
#include "github.com/containerd/containerd/api/services/version/v1/version.grpc.pb.h"

namespace berth::bridge {
namespace {

[[noreturn]] void fail(const std::string& call, const grpc::Status& status) {
  ErrorKind kind = ErrorKind::internal;
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE: kind = ErrorKind::unavailable; break;
    case grpc::StatusCode::DEADLINE_EXCEEDED: kind = ErrorKind::deadlineExceeded; break;
    case grpc::StatusCode::NOT_FOUND: kind = ErrorKind::notFound; break;
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::FAILED_PRECONDITION: kind = ErrorKind::conflict; break;
    case grpc::StatusCode::INVALID_ARGUMENT: kind = ErrorKind::invalid; break;
    default: break;
  }
  throw Error(kind, "containerd " + call + ": " + status.error_message());
}

}  // namespace

ContainerdClient::ContainerdClient(const std::string& socketPath, std::string ns)
    : channel_(grpc::CreateChannel("unix://" + socketPath, grpc::InsecureChannelCredentials())),
      namespace_(std::move(ns)) {}

ContainerdClient::Version ContainerdClient::version(std::chrono::milliseconds timeout) {
  auto stub = containerd::services::version::v1::Version::NewStub(channel_);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  google::protobuf::Empty request;
  containerd::services::version::v1::VersionResponse response;
  auto status = stub->Version(&ctx, request, &response);
  if (!status.ok()) fail("Version", status);
  return {response.version(), response.revision()};
}

RuncVersion readRuncVersion() {
  RuncVersion v;
  std::unique_ptr<FILE, decltype(&pclose)> p(popen("runc --version 2>/dev/null", "r"), pclose);
  if (!p) return v;
  std::array<char, 256> line{};
  while (fgets(line.data(), line.size(), p.get())) {
    std::string s = line.data();
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    if (s.rfind("runc version ", 0) == 0) v.version = s.substr(13);
    if (s.rfind("commit: ", 0) == 0) v.commit = s.substr(8);
  }
  return v;
}

}  // namespace berth::bridge
