// The Echo test interface's methods and a server for it, shared by ipc_test and the
// out-of-process ipc-test-server.
#pragma once

#include <thread>

#include "ipc/rpc_server.h"
#include "tests/unit/test_rpc.capnp.h"

namespace berth::testing {

using EchoMethod = ipc::Method<Echo, Echo::EchoParams, Echo::EchoResults>;
using SleepMethod = ipc::Method<Echo, Echo::SleepParams, Echo::SleepResults>;
using FailMethod = ipc::Method<Echo, Echo::FailParams, Echo::FailResults>;
using BlobMethod = ipc::Method<Echo, Echo::BlobParams, Echo::BlobResults>;
using PeekMethod = ipc::Method<Echo, Echo::PeekParams, Echo::PeekResults>;

inline const EchoMethod& echoMethod() {
  static const EchoMethod m("echo");
  return m;
}
inline const SleepMethod& sleepMethod() {
  static const SleepMethod m("sleep");
  return m;
}
inline const FailMethod& failMethod() {
  static const FailMethod m("fail");
  return m;
}

inline const PeekMethod& peekMethod() {
  static const PeekMethod m("peek");
  return m;
}

inline const BlobMethod& blobMethod() {
  static const BlobMethod m("blob");
  return m;
}

inline void registerEcho(ipc::RpcServer& server) {
  server.implements<Echo>();
  server.handle(echoMethod(), [](Echo::EchoParams::Reader p, Echo::EchoResults::Builder r) {
    r.setText(p.getText());
    r.setPid(static_cast<uint32_t>(getpid()));
  });
  server.handle(
      sleepMethod(),
      [](Echo::SleepParams::Reader p, Echo::SleepResults::Builder) {
        std::this_thread::sleep_for(std::chrono::milliseconds(p.getMs()));
      },
      ipc::RpcServer::Dispatch::worker);
  server.handle(
      peekMethod(),
      [](Echo::PeekParams::Reader p, Echo::PeekResults::Builder) {
        std::this_thread::sleep_for(std::chrono::milliseconds(p.getMs()));
      },
      ipc::RpcServer::Dispatch::worker);
  server.handle(failMethod(), [](Echo::FailParams::Reader p, Echo::FailResults::Builder) {
    throw Error(static_cast<ErrorKind>(p.getKind()), p.getMessage());
  });
  server.handleBlob(
      blobMethod(), [](Echo::BlobParams::Reader p) -> size_t { return p.getForeseen(); },
      [](Echo::BlobParams::Reader p, Echo::BlobResults::Builder r) {
        auto data = r.initData(p.getBytes());
        for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<kj::byte>(i % 251);
      });
}

}  // namespace berth::testing
