// berth-logger: a container's log writer, run by containerd's shim through the
// binary:// log URI. The shim hands it the container's stdout on fd 3 and stderr on fd 4 and
// waits until it closes fd 5 (ready). It is the shim's child, not berth's: containers keep
// logging whichever berth service is down or restarting.
//   berth-logger --path FILE [--max-size BYTES] [--max-file N] [--done FILE] [--pid-file FILE]
//                [--hold FIFO] [--stdout-fifo FIFO --stderr-fifo FIFO]
// (containerd passes the URI's query as arguments: binary:///.../berth-logger?--path=FILE.)
// --done names a file written once every byte is in the log ("done PID"): readers that follow
// the log (attach, logs -f) end there. It is written at the end of the output, or earlier on SIGUSR1,
// which the bridge sends once the container's process has exited: what the pipes hold then is
// written out (an unfinished last line as a record of its own) and the log marked whole, so the
// exit can be recorded without waiting for containerd to delete the task, which is what closes
// the pipes. The logger goes on reading until then (a process outside the container's PID
// namespace may still write); --pid-file names where it writes its pid, once SIGUSR1 is handled.
// Only a logger that is handed the container's own pipes (no terminal, no fifos) gets that
// signal: otherwise the shim copies the output and may still hold some of it.
// --hold keeps the container's stdin fifo open for writing for the container's whole life, so
// stdin never sees end-of-file because a berth service restarted. With --stdout-fifo and
// --stderr-fifo the logger reads fifos instead of fds 3 and 4: berth starts it itself
// (detached) for containers whose stdin the shim must copy.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>

#include "common/sandbox.h"
#include "common/files.h"
#include "common/time_format.h"
#include "services/containerd-bridge/logger/json_file_log.h"

using namespace berth;

namespace {


// dockerd's json-file splits records at newlines and at 16 KiB.
constexpr size_t kMaxRecord = 16 * 1024;

// Written by the SIGUSR1 handler; the pumps poll its read end.
int drainPipe[2] = {-1, -1};

void requestDrain(int) {
  int saved = errno;
  char c = 1;
  [[maybe_unused]] ssize_t n = ::write(drainPipe[1], &c, 1);
  errno = saved;
}

// The done marker, written once: by the second pump to reach a drain or the end.
class DoneMarker {
 public:
  explicit DoneMarker(std::string path) : path_(std::move(path)) {}
  void pumpSettled() {
    if (settled_.fetch_add(1) + 1 != 2 || path_.empty()) return;
    try {
      // It names this logger: a marker an earlier run's logger left is not this run's word.
      writeFileReplacing(path_, "done " + std::to_string(::getpid()) + "\n");
    } catch (const std::exception& e) {
      std::cerr << "berth-logger: " << e.what() << "\n";
    }
  }

 private:
  std::string path_;
  std::atomic<int> settled_{0};
};

void pump(int fd, const char* stream, logger::JsonFileLog& log, DoneMarker& done) {
  std::string pending;
  char buf[32 * 1024];
  bool drained = false;
  auto take = [&](ssize_t n) {
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
  };
  for (;;) {
    // poll first: a fifo opened before its writer reads as end-of-file until one connects,
    // but polls as hung up only after a writer came and went.
    pollfd p[2] = {{fd, POLLIN, 0}, {drainPipe[0], POLLIN, 0}};
    if (::poll(p, drained ? 1 : 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (!drained && (p[1].revents & POLLIN)) {
      // The process exited: what the pipe holds now is all it wrote. Read without waiting.
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
      ssize_t n;
      while ((n = ::read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
        if (n > 0) take(n);
      }
      if (!pending.empty()) log.write(stream, pending, nowUnixNanos());
      pending.clear();
      drained = true;
      done.pumpSettled();
      if (n == 0) break;
      continue;
    }
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) break;
    take(n);
  }
  if (!pending.empty()) log.write(stream, pending, nowUnixNanos());
  ::close(fd);
  if (!drained) done.pumpSettled();
}

}  // namespace

int main(int argc, char** argv) {
  // Run by the bridge (stdin without a terminal), it inherits the bridge's filter.
  berth::sandbox::logRefusals("berth-logger");
  signal(SIGPIPE, SIG_IGN);
  // The container's lifetime decides ours: a SIGTERM meant for the shim's group must not drop
  // the output still in the pipes.
  signal(SIGTERM, SIG_IGN);
  signal(SIGINT, SIG_IGN);
  std::string path, done, pidFile, hold, stdoutFifo, stderrFifo;
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
    else if (a == "--done") done = value;
    else if (a == "--pid-file") pidFile = value;
    else if (a == "--hold") hold = value;
    else if (a == "--stdout-fifo") stdoutFifo = value;
    else if (a == "--stderr-fifo") stderrFifo = value;
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
    int holdFd = hold.empty() ? -1 : ::open(hold.c_str(), O_RDWR | O_CLOEXEC);
    (void)holdFd;  // held until exit
    // Before ready: the container may exit, and the bridge ask for the drain, at once.
    if (::pipe2(drainPipe, O_CLOEXEC | O_NONBLOCK) != 0) throw std::runtime_error("pipe: " + std::string(strerror(errno)));
    signal(SIGUSR1, requestDrain);
    if (!pidFile.empty()) {
      try {
        writeFileReplacing(pidFile, std::to_string(::getpid()) + "\n", 0600);
      } catch (const std::exception& e) {
        // Without it the bridge does not ask for a drain and waits for the task's deletion.
        std::cerr << "berth-logger: " << e.what() << "\n";
      }
    }
    int outFd = 3, errFd = 4;
    if (!stdoutFifo.empty()) {
      outFd = ::open(stdoutFifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
      errFd = ::open(stderrFifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
      if (outFd < 0 || errFd < 0) throw std::runtime_error("open fifo: " + std::string(strerror(errno)));
    } else {
      ::close(5);  // ready: the shim may start the container
    }
    DoneMarker marker(done);
    std::thread out(pump, outFd, "stdout", std::ref(log), std::ref(marker));
    std::thread err(pump, errFd, "stderr", std::ref(log), std::ref(marker));
    out.join();
    err.join();
    if (uint64_t dropped = log.dropped()) {
      std::cerr << "berth-logger: " << dropped << " log records dropped: " << path << " could not be written\n";
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "berth-logger: " << e.what() << "\n";
    ::close(5);
    return 1;
  }
}
