// berthctl: the operator's view of a running engine, through the supervisor's control endpoint.
//   berthctl [--exec-root DIR] status
//   berthctl [--exec-root DIR] restart SERVICE
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/time_format.h"
#include "ipc/events.h"
#include "ipc/methods.h"
#include "ipc/rpc_client.h"

using namespace berth;
using namespace std::chrono_literals;

namespace {

const char* stateName(ipc::ChildState s) {
  switch (s) {
    case ipc::ChildState::STARTING: return "starting";
    case ipc::ChildState::RUNNING: return "running";
    case ipc::ChildState::BACKOFF: return "backoff";
    case ipc::ChildState::STOPPING: return "stopping";
    case ipc::ChildState::STOPPED: return "stopped";
  }
  return "?";
}

std::string duration(int64_t nanos) {
  int64_t s = nanos / 1000000000;
  char buf[64];
  if (s < 60) std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  else std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600), static_cast<long long>(s / 60 % 60));
  return buf;
}

int usage() {
  std::cerr << "usage: berthctl [--exec-root DIR] status | restart SERVICE\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> flags = {argv[0]}, rest;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("-", 0) == 0) {
      flags.push_back(a);
      if (a.find('=') == std::string::npos && i + 1 < argc) flags.push_back(argv[++i]);
    } else {
      rest.push_back(a);
    }
  }
  Config config;
  try {
    config = Config::parse(flags);
  } catch (const ConfigError& e) {
    std::cerr << "berthctl: " << e.what() << "\n";
    return 2;
  }
  if (rest.empty()) return usage();
  zmq::context_t zmq;
  ipc::RpcClient client(zmq, config.supervisorEndpoint());
  try {
    if (rest[0] == "status" && rest.size() == 1) {
      auto reply = client.call(ipc::methods::supervisorStatus(), ipc::deadlineIn(2s));
      auto r = reply.get();
      int64_t now = nowUnixNanos();
      std::printf("supervisor pid %u, up %s\n", r.getPid(), duration(now - r.getStartedAtNano()).c_str());
      std::printf("%-18s %-8s %-9s %-9s %-8s %s\n", "SERVICE", "PID", "STATE", "UPTIME", "RESTARTS", "LAST EXIT");
      for (auto c : r.getChildren()) {
        std::string up = c.getStartedAtNano() ? duration(now - c.getStartedAtNano()) : "-";
        std::string last = c.getLastExit();
        std::printf("%-18s %-8u %-9s %-9s %-8u %s\n", c.getName().cStr(), c.getPid(), stateName(c.getState()),
                    up.c_str(), c.getRestarts(), last.empty() ? "-" : last.c_str());
      }
      return 0;
    }
    if (rest[0] == "restart" && rest.size() == 2) {
      client.call(ipc::methods::supervisorRestart(), ipc::deadlineIn(70s),
                  [&](ipc::Supervisor::RestartParams::Builder p) { p.setName(rest[1]); });
      std::printf("%s restarted\n", rest[1].c_str());
      return 0;
    }
    return usage();
  } catch (const Error& e) {
    std::cerr << "berthctl: " << e.what() << "\n";
    return 1;
  }
}
