#include "supervisor/api_listeners.h"

#include <grp.h>
#include <netdb.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "common/errors.h"
#include "common/notify.h"

namespace berth::supervisor {
namespace {

constexpr int kBacklog = 4096;

ApiListener bindUnix(const Config& config, const HostAddress& host) {
  const std::string& path = host.address;
  sockaddr_un addr{};
  if (path.size() >= sizeof(addr.sun_path)) throw Error(ErrorKind::invalid, "socket path too long: " + path);
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  // We hold the instance lock, so a socket file left here belongs to a dead engine.
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) throw Error(ErrorKind::conflict, path + " exists and is not a socket");
    ::unlink(path.c_str());
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throwSystemError("socket", path);
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  mode_t old = ::umask(0177);
  int rc = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::umask(old);
  if (rc != 0) throwSystemError("bind", path);
  if (::chmod(path.c_str(), 0660) != 0) throwSystemError("chmod", path);
  if (group* g = ::getgrnam(config.group.c_str())) {
    if (::chown(path.c_str(), 0, g->gr_gid) != 0) throwSystemError("chown", path);
  }
  if (::listen(fd.get(), kBacklog) != 0) throwSystemError("listen", path);
  return ApiListener{std::move(fd), host.original, path};
}

ApiListener bindTcp(const HostAddress& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string h = host.host();
  std::string port = std::to_string(host.port());
  if (int rc = ::getaddrinfo(h.empty() ? nullptr : h.c_str(), port.c_str(), &hints, &res); rc != 0) {
    throw Error(ErrorKind::invalid, "resolve " + host.original + ": " + gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(res, freeaddrinfo);
  UniqueFd fd(::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throwSystemError("socket", host.original);
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd.get(), res->ai_addr, res->ai_addrlen) != 0) throwSystemError("bind", host.original);
  if (::listen(fd.get(), kBacklog) != 0) throwSystemError("listen", host.original);
  return ApiListener{std::move(fd), host.original, ""};
}

}  // namespace

std::vector<ApiListener> bindApiListeners(const Config& config) {
  std::vector<ApiListener> out;
  for (const auto& host : config.hosts) {
    switch (host.kind) {
      case HostAddress::Kind::unix: out.push_back(bindUnix(config, host)); break;
      case HostAddress::Kind::tcp: out.push_back(bindTcp(host)); break;
      case HostAddress::Kind::fd: {
        int n = takeListenFds();
        if (n <= 0) throw Error(ErrorKind::invalid, "no sockets found via socket activation: make sure the service was started by systemd");
        for (int i = 0; i < n; ++i) {
          out.push_back(ApiListener{UniqueFd(kListenFdsStart + i), "fd:" + std::to_string(i), ""});
        }
        break;
      }
    }
    spdlog::info("API listener on {}", host.original);
  }
  return out;
}

void removeApiSocketFiles(const std::vector<ApiListener>& listeners) {
  for (const auto& l : listeners) {
    if (!l.unixPath.empty()) ::unlink(l.unixPath.c_str());
  }
}

}  // namespace berth::supervisor
