// berth-logger: a container's log writer, run by containerd's shim through the
// binary:// log URI. The shim hands it the container's stdout on fd 3 and stderr on fd 4 and
// waits until it closes fd 5 (ready). It is the shim's child, not berth's: containers keep
// logging whichever berth service is down or restarting.
//   berth-logger --path FILE [--max-size BYTES] [--max-file N]
// (containerd passes the URI's query as arguments: binary:///.../berth-logger?--path=FILE.)
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>

#include "common/time_format.h"
#include "services/containerd-bridge/logger/json_file_log.h"

using namespace berth;

namespace {


// dockerd's json-file splits records at newlines and at 16 KiB.
constexpr size_t kMaxRecord = 16 * 1024;

void pump(int fd, const char* stream, logger::JsonFileLog& log) {
  std::string pending;
  char buf[32 * 1024];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buf, static_cast<size_t>(n));
    size_t start = 0;
    for (;;) {
      size_t nl = pending.find('\n', start);
      if (nl == std::string::npos) {
        if (pending.size() - start >= kMaxRecord) {
          log.write(stream, std::string_view(pending).substr(start, kMaxRecord), nowUnixNanos());
          start += kMaxRecord;
          continue;
        }
        break;
      }
      log.write(stream, std::string_view(pending).substr(start, nl - start + 1), nowUnixNanos());
      start = nl + 1;
    }
    pending.erase(0, start);
  }
  if (!pending.empty()) log.write(stream, pending, nowUnixNanos());
  ::close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  // The container's lifetime decides ours: a SIGTERM meant for the shim's group must not drop
  // the output still in the pipes.
  signal(SIGTERM, SIG_IGN);
  signal(SIGINT, SIG_IGN);
  std::string path;
  uint64_t maxSize = 0;
  unsigned maxFiles = 1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::string value;
    auto eq = a.find('=');
    if (eq != std::string::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    }
    if (a == "--path") path = value;
    else if (a == "--max-size") maxSize = std::stoull(value);
    else if (a == "--max-file") maxFiles = static_cast<unsigned>(std::stoul(value));
    else {
      std::cerr << "berth-logger: unknown argument " << a << "\n";
      return 2;
    }
  }
  if (path.empty()) {
    std::cerr << "berth-logger: --path is required\n";
    return 2;
  }
  try {
    logger::JsonFileLog log(path, maxSize, maxFiles);
    ::close(5);  // ready: the shim may start the container
    std::thread out(pump, 3, "stdout", std::ref(log));
    std::thread err(pump, 4, "stderr", std::ref(log));
    out.join();
    err.join();
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "berth-logger: " << e.what() << "\n";
    ::close(5);
    return 1;
  }
}
