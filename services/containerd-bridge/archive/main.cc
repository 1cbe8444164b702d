// berth-archive: one docker cp operation (stat, get or put) inside one container's filesystem.
// The bridge runs it per request with the client's stream connection as stdin and stdout, and
// the request as a JSON argument that the bridge built (paths and mounts are the bridge's, only
// `path` comes from the client). It assembles the filesystem dockerd's cp sees (the root
// filesystem plus the container's bind mounts, not its /proc, /sys or tmpfs) in a private
// mount namespace that dies with it, chroots into it, and only then touches a path, so no
// path, `..` or symlink from the client or the container can reach the host.
//
// Output on stdout, the stream protocol of services/containerd-bridge/stream_server.h:
//   stat: {"ok":true,"stat":{...}}
//   get:  {"ok":true,"stat":{...}} then the tar stream
//   put:  {"ok":true} once the destination is checked, the tar stream is read from stdin, then
//         {"ok":true} or an error line at the end
// An error before the stream is {"ok":false,"kind":K,"message":M}.
#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "common/errors.h"
#include "services/containerd-bridge/archive/container_archive.h"
#include "services/containerd-bridge/user_lookup.h"

namespace {

using json = nlohmann::json;
using berth::Error;
using berth::ErrorKind;
namespace archive = berth::bridge::archive;

void writeLine(const json& line) {
  std::string text = line.dump() + "\n";
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(1, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

const char* kindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::invalid: return "invalid";
    case ErrorKind::notFound: return "notFound";
    case ErrorKind::conflict: return "conflict";
    case ErrorKind::forbidden: return "forbidden";
    default: return "internal";
  }
}

[[noreturn]] void sysFail(const std::string& call, const std::string& path) {
  throw Error(ErrorKind::internal, call + " " + path + ": " + std::strerror(errno));
}

void remountReadOnly(const std::string& target) {
  if (::mount(nullptr, target.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) != 0) {
    sysFail("remount read-only", target);
  }
}

// A bind mount's destination, resolved inside the root the way runc does (RESOLVE_IN_ROOT), so
// a symlink the container planted cannot send the mount elsewhere. -1 when it does not exist.
int openInRoot(int rootFd, const std::string& path) {
  open_how how{};
  how.flags = O_PATH | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  int fd = static_cast<int>(::syscall(SYS_openat2, rootFd, path.c_str(), &how, sizeof how));
  if (fd < 0 && errno != ENOENT && errno != ENOTDIR) sysFail("openat2", path);
  return fd;
}

// Steps in the order they run: a private mount namespace, the root filesystem, the binds on
// top of it, then chroot.
void enterContainerFilesystem(const json& request) {
  if (::unshare(CLONE_NEWNS) != 0) sysFail("unshare", "CLONE_NEWNS");
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) sysFail("make private", "/");
  const std::string rootfs = request.at("rootfs").get<std::string>();
  bool readonly = request.value("readonly", false);
  if (request.contains("mount")) {
    // A stopped container: its layer is not mounted anywhere, mount it here (and only here).
    const auto& m = request["mount"];
    std::string options;
    for (const auto& o : m.at("options")) options += (options.empty() ? "" : ",") + o.get<std::string>();
    unsigned long flags = readonly ? MS_RDONLY : 0;
    if (::mount(m.at("source").get<std::string>().c_str(), rootfs.c_str(), m.at("type").get<std::string>().c_str(),
                flags, options.c_str()) != 0) {
      sysFail("mount rootfs on", rootfs);
    }
  } else {
    // A running container's root is mounted already: a bind of it gets mounts of our own.
    if (::mount(rootfs.c_str(), rootfs.c_str(), nullptr, MS_BIND, nullptr) != 0) sysFail("bind", rootfs);
    if (readonly) remountReadOnly(rootfs);
  }
  int rootFd = ::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootFd < 0) sysFail("open", rootfs);
  for (const auto& b : request.value("binds", json::array())) {
    std::string source = b.at("source"), destination = b.at("destination");
    int fd = openInRoot(rootFd, destination);
    if (fd < 0) continue;  // no mount point yet: the container never ran with it
    std::string target = "/proc/self/fd/" + std::to_string(fd);
    if (::mount(source.c_str(), target.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) sysFail("bind " + source + " on", destination);
    ::close(fd);
    if (b.value("readonly", false)) {
      int again = openInRoot(rootFd, destination);
      remountReadOnly("/proc/self/fd/" + std::to_string(again));
      ::close(again);
    }
  }
  ::close(rootFd);
  if (::chdir(rootfs.c_str()) != 0) sysFail("chdir", rootfs);
  if (::chroot(".") != 0) sysFail("chroot", rootfs);
  if (::chdir("/") != 0) sysFail("chdir", "/");
}

void run(const json& request) {
  std::string op = request.at("op");
  std::string path = request.at("path");
  if (path.empty()) throw Error(ErrorKind::invalid, "path cannot be empty");
  enterContainerFilesystem(request);
  if (op == "stat" || op == "get") {
    auto resolved = archive::resolvePath(path);
    writeLine({{"ok", true}, {"stat", archive::statPath(resolved)}});
    if (op != "get") return;
    try {
      archive::writeArchive(resolved, 1);
    } catch (const std::exception& e) {
      // The answer has begun: the client sees a truncated archive, the journal why.
      std::cerr << "berth-archive: " << path << ": " << e.what() << "\n";
      std::exit(1);
    }
    return;
  }
  if (op == "put") {
    std::string dir = archive::extractionDirectory(path);
    archive::ExtractOptions options;
    options.noOverwriteDirNonDir = request.value("noOverwriteDirNonDir", false);
    if (request.value("copyUidGid", false) && !request.value("user", std::string()).empty()) {
      auto user = berth::bridge::resolveUser("/", request["user"], {});
      options.owner = std::make_pair(user.uid, user.gid);
    }
    writeLine({{"ok", true}});
    try {
      archive::extractArchive(0, dir, options);
    } catch (const Error& e) {
      writeLine({{"ok", false}, {"kind", kindName(e.kind())}, {"message", e.what()}});
      std::exit(1);
    }
    writeLine({{"ok", true}});
    return;
  }
  throw Error(ErrorKind::invalid, "unknown archive op: " + op);
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  if (argc != 2) {
    std::cerr << "usage: berth-archive REQUEST-JSON (run by berth-containerd-bridge)\n";
    return 2;
  }
  std::string container;
  try {
    auto request = json::parse(argv[1]);
    container = request.value("container", "");
    run(request);
    return 0;
  } catch (const Error& e) {
    std::string message = e.what();
    // dockerd names the container as the client did: "... in container NAME".
    if (e.kind() == ErrorKind::notFound) message += " " + container;
    writeLine({{"ok", false}, {"kind", kindName(e.kind())}, {"message", message}});
  } catch (const std::exception& e) {
    writeLine({{"ok", false}, {"kind", "internal"}, {"message", e.what()}});
  }
  return 1;
}
