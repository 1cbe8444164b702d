#include "services/network/container_namespaces.h"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <thread>

#include "common/errors.h"
#include "common/files.h"

namespace berth::network {

namespace {

constexpr long kNsfsMagic = 0x6e736673;  // NSFS_MAGIC: what a bind-mounted namespace reports

void validateContainerId(const std::string& id) {
  bool hex = id.size() == 64 && id.find_first_not_of("0123456789abcdef") == std::string::npos;
  if (!hex) throw Error(ErrorKind::invalid, "invalid container id: " + id);
}

bool holdsNamespace(const std::string& path) {
  struct statfs fs {};
  return ::statfs(path.c_str(), &fs) == 0 && fs.f_type == kNsfsMagic;
}

void loopbackUp() {
  UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock) throwSystemError("socket", "lo");
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(sock.get(), SIOCGIFFLAGS, &ifr) != 0) throwSystemError("ioctl SIOCGIFFLAGS", "lo");
  ifr.ifr_flags |= IFF_UP;
  if (::ioctl(sock.get(), SIOCSIFFLAGS, &ifr) != 0) throwSystemError("ioctl SIOCSIFFLAGS", "lo");
}

// On a thread of its own (unshare moves only the calling thread, which then ends, so no thread
// of the service is ever left in a container's namespace): a new namespace, its loopback up,
// bind-mounted at `path`.
void createNamespaceAt(const std::string& path) {
  std::exception_ptr failed;
  std::thread([&] {
    try {
      if (::unshare(CLONE_NEWNET) != 0) throwSystemError("unshare(CLONE_NEWNET)", path);
      loopbackUp();
      if (::mount("/proc/thread-self/ns/net", path.c_str(), nullptr, MS_BIND, nullptr) != 0) {
        throwSystemError("mount --bind /proc/thread-self/ns/net", path);
      }
    } catch (...) {
      failed = std::current_exception();
    }
  }).join();
  if (failed) std::rethrow_exception(failed);
}

}  // namespace

ContainerNamespaces::ContainerNamespaces(std::string dir) : dir_(std::move(dir)) { makeDirectories(dir_, 0700); }

std::string ContainerNamespaces::ensure(const std::string& container) {
  validateContainerId(container);
  std::string path = pathOf(container);
  if (holdsNamespace(path)) return path;
  UniqueFd file(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0444));
  if (!file) throwSystemError("create", path);
  file = UniqueFd();
  try {
    createNamespaceAt(path);
  } catch (const Error&) {
    ::unlink(path.c_str());
    throw;
  }
  return path;
}

void ContainerNamespaces::remove(const std::string& container) {
  validateContainerId(container);
  std::string path = pathOf(container);
  // MNT_DETACH: a process that still holds the namespace open (an exec in flight) keeps it
  // until it lets go; the path is gone at once.
  while (holdsNamespace(path)) {
    if (::umount2(path.c_str(), MNT_DETACH) != 0) throwSystemError("umount", path);
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) throwSystemError("unlink", path);
}

std::vector<std::string> ContainerNamespaces::prune(const std::set<std::string>& keep) {
  std::vector<std::string> removed;
  for (const auto& id : list()) {
    if (keep.count(id)) continue;
    remove(id);
    removed.push_back(id);
  }
  return removed;
}

std::vector<std::string> ContainerNamespaces::list() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(dir_, ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec)) {
    auto name = it->path().filename().string();
    if (name.size() == 64 && name.find_first_not_of("0123456789abcdef") == std::string::npos) out.push_back(name);
  }
  return out;
}

}  // namespace berth::network
