// The container tests' fixture and helpers: an engine with the busybox test image loaded, the
// docker CLI with input, inspect formats, and the small predicates the tests share.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <time.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "ipc/methods.h"
#include "ipc/rpc_client.h"
#include "ipc/view_stamp.h"
#include "tests/support/cgroups.h"
#include "tests/support/engine.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/test_images.h"

namespace berth::test {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

inline const std::string kImage = "berth-test/busybox:1";

inline std::string trimNewline(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// `docker inspect --format`, without the trailing newline; the CLI's error when it fails, so an
// assertion on the result shows why.
inline std::string inspect(Engine& engine, const std::string& ref, const std::string& format) {
  auto r = engine.docker({"inspect", "--format", format, ref});
  if (r.exitCode != 0) return "inspect failed: " + r.err;
  return trimNewline(r.out);
}

inline void writeText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

inline pid_t pidOf(Engine& engine, const std::string& ref) {
  return static_cast<pid_t>(std::atoi(inspect(engine, ref, "{{.State.Pid}}").c_str()));
}

inline std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

inline bool startsWith(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// Each of `wanted` appears among `got`, in this order (other lines may come between).
inline bool inOrder(const std::vector<std::string>& got, const std::vector<std::string>& wanted) {
  size_t next = 0;
  for (const auto& line : got) {
    if (next < wanted.size() && line == wanted[next]) ++next;
  }
  return next == wanted.size();
}

inline long long unixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// An RFC 3339 UTC timestamp ("2026-11-28T10:00:00.123456789Z") as seconds since the epoch.
inline double unixSeconds(const std::string& timestamp) {
  std::tm tm{};
  const char* rest = strptime(timestamp.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr) return -1;
  return static_cast<double>(timegm(&tm)) + (*rest == '.' ? std::strtod(rest, nullptr) : 0.0);
}

inline bool processGone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

class ContainersTest : public ::testing::Test {
 protected:
  ContainersTest() = default;
  explicit ContainersTest(Engine::Options options) : engine_(std::move(options)) {}

  void SetUp() override {
    auto r = engine_.docker({"load", "-i", busyboxArchive(work_.path(), kImage)});
    ASSERT_EQ(r.exitCode, 0) << r.err;
  }

  void TearDown() override {
    for (const auto& id : lines(engine_.docker({"ps", "-aq"}).out)) engine_.docker({"rm", "-f", id});
    removeNamespaceCgroups("berth");
  }

  // `docker run -d --pull never ARGS...`; returns the full id ("" after a failure it reports).
  std::string runDetached(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"run", "-d", "--pull", "never"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = engine_.docker(argv);
    if (r.exitCode != 0 || r.out.size() != 65) {
      ADD_FAILURE() << "docker run -d failed (" << r.exitCode << "): " << r.out << r.err;
      return "";
    }
    return trimNewline(r.out);
  }

  // The docker CLI with `input` on its stdin.
  CommandResult dockerWithInput(const std::vector<std::string>& args, const std::string& input) {
    std::vector<std::string> argv = {"docker"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, {"DOCKER_HOST=" + engine_.dockerHost(), "DOCKER_CONFIG=" + engine_.root() + "/docker-config"},
               30s, input);
  }

  // `pid` frozen (SIGSTOP) once berth-api answers GET `target` without it, for the tests of the
  // API's read models: the request is sent with the process frozen, and while the API's copy is
  // not current yet (the request waits for the process) the process is thawed and the copy
  // given more time. A fixed sleep before freezing would fail on a slow machine. Null when the
  // API never answered within 20 s.
  std::unique_ptr<Frozen> freezeOnceAnsweredWithout(pid_t pid, const std::string& target) {
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline) {
      auto frozen = std::make_unique<Frozen>(pid);
      if (frozen->stopped()) {
        auto r = rawRequest(engine_.socketPath(), "GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 300);
        if (r.complete && r.status == 200) return frozen;
      }
      frozen.reset();
      std::this_thread::sleep_for(100ms);
    }
    return nullptr;
  }

  // The view stamp of `kind` that `service`'s replies carry now (ipc/view_stamp.h), read from
  // a health call's reply, for the tests of the API's read models: {0, 0} when it carries none.
  ipc::ViewStamp viewStampOf(const std::string& service, ipc::ViewKind kind) {
    zmq::context_t context;
    ipc::RpcClient rpc(context, "ipc://" + engine_.execRoot() + "/ipc/" + service + ".sock");
    ipc::ViewStamp seen;
    rpc.onViewStamp([&](ipc::ViewKind k, ipc::ViewStamp stamp) {
      if (k == kind) seen = stamp;
    });
    rpc.call(ipc::methods::health(), ipc::deadlineIn(5s));
    return seen;
  }

  Engine engine_;
  TempDir work_{"berth-containers"};
};

}  // namespace berth::test
