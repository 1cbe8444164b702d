// ipc-test-server ENDPOINT: serves the Echo interface until killed. Used by ipc_test to kill a
// server mid-call and to restart one.
#include <signal.h>
#include <unistd.h>

#include <iostream>

#include "tests/unit/echo_server.h"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  zmq::context_t context;
  berth::ipc::RpcServer server(context, argv[1]);
  berth::testing::registerEcho(server);
  server.start();
  std::cout << "ready" << std::endl;
  pause();
}
