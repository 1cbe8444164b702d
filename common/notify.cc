#include "common/notify.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace berth {
namespace {

// A decimal environment variable, whole and positive; nullopt otherwise.
std::optional<unsigned long long> positiveEnv(const char* name) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text < '0' || *text > '9') return std::nullopt;
  errno = 0;
  char* end = nullptr;
  unsigned long long v = std::strtoull(text, &end, 10);
  if (errno != 0 || *end != '\0' || v == 0) return std::nullopt;
  return v;
}

// Whether the variable naming the process a setting is for (LISTEN_PID, WATCHDOG_PID) names
// this one; `absentMeansUs` for WATCHDOG_PID, which a manager may leave out.
bool forThisProcess(const char* name, bool absentMeansUs) {
  if (std::getenv(name) == nullptr) return absentMeansUs;
  auto pid = positiveEnv(name);
  return pid && *pid == static_cast<unsigned long long>(::getpid());
}

}  // namespace

int takeListenFds() {
  int n = 0;
  if (forThisProcess("LISTEN_PID", false)) {
    if (auto fds = positiveEnv("LISTEN_FDS"); fds && *fds < 4096) n = static_cast<int>(*fds);
    for (int fd = kListenFdsStart; fd < kListenFdsStart + n; ++fd) {
      int flags = ::fcntl(fd, F_GETFD);
      if (flags < 0) {
        n = fd - kListenFdsStart;  // fewer than announced: only those that exist
        break;
      }
      ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
    }
  }
  ::unsetenv("LISTEN_PID");
  ::unsetenv("LISTEN_FDS");
  ::unsetenv("LISTEN_FDNAMES");
  return n;
}

bool notifyManager(const std::string& state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || (path[0] != '/' && path[0] != '@') || path[1] == '\0') return false;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  size_t length = std::strlen(path);
  if (length >= sizeof address.sun_path) return false;
  std::memcpy(address.sun_path, path, length);
  if (path[0] == '@') address.sun_path[0] = '\0';  // an abstract name: no terminating NUL counts
  socklen_t size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + length + (path[0] == '/' ? 1 : 0));
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  ssize_t sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&address), size);
  ::close(fd);
  return sent == static_cast<ssize_t>(state.size());
}

std::optional<std::chrono::microseconds> watchdogInterval() {
  if (!forThisProcess("WATCHDOG_PID", true)) return std::nullopt;
  auto usec = positiveEnv("WATCHDOG_USEC");
  if (!usec) return std::nullopt;
  return std::chrono::microseconds(*usec);
}

Notifier::Notifier() = default;

Notifier::~Notifier() {
  stop_ = true;
  if (watchdog_.joinable()) watchdog_.join();
}

void Notifier::ready(const std::string& status) {
  notifyManager("READY=1\nSTATUS=" + status + "\nMAINPID=" + std::to_string(::getpid()));
}

void Notifier::status(const std::string& status) { notifyManager("STATUS=" + status); }

void Notifier::stopping() { notifyManager("STOPPING=1"); }

void Notifier::startWatchdog() {
  auto interval = watchdogInterval();
  if (!interval) return;
  watchdog_ = std::thread([this, half = *interval / 2] {
    auto next = std::chrono::steady_clock::now();
    while (!stop_) {
      if (std::chrono::steady_clock::now() >= next) {
        notifyManager("WATCHDOG=1");
        next += half;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
}

}  // namespace berth
