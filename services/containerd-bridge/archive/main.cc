// berth-archive: one docker cp operation (stat, get or put) inside one container's filesystem.
// The bridge runs it per request with the client's stream connection as stdin and stdout, and
// the request as a JSON argument that the bridge built (paths and mounts are the bridge's, only
// `path` comes from the client). It assembles the filesystem dockerd's cp sees (the root
// filesystem plus the container's bind mounts and its hosts/hostname/resolv.conf, not its
// /proc, /sys or tmpfs) in a private mount namespace that dies with it, chroots into it, drops
// the privileges it no longer needs, and only then touches a path, so no path, `..` or symlink
// from the client or the container can reach the host.
//
// Nothing of the container's may run in this process: no NSS look-ups (owners stay numeric), no
// gconv modules (the locale and iconv's configuration are loaded before the chroot), no external
// decompressors (gzip, bzip2, xz and zstd only, in process), every view mount nodev and nosuid.
//
// Output on stdout, the stream protocol of ipc/stream_protocol.h:
//   stat: {"ok":true,"stat":{...}}
//   get:  {"ok":true,"stat":{...}} then the tar stream in frames: a 4-byte big-endian length
//         and that many bytes; a frame of length 0 ends a complete archive (without it the
//         archive is truncated and the API fails the response)
//   put:  {"ok":true} once the destination is checked, the tar stream is read from stdin, then
//         {"ok":true} or an error line at the end
// An error before the stream is {"ok":false,"kind":K,"message":M}.
#include <fcntl.h>
#include <iconv.h>
#include <langinfo.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <clocale>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "common/sandbox.h"
#include "common/errors.h"
#include "ipc/stream_protocol.h"
#include "services/containerd-bridge/archive/container_archive.h"
#include "services/containerd-bridge/user_lookup.h"
#include "common/json_text.h"

namespace {

using json = nlohmann::json;
using berth::Error;
using berth::ErrorKind;
namespace archive = berth::bridge::archive;

namespace streams = berth::ipc::streams;

// The connection is stdout.
void writeOut(std::string_view line) { streams::writeAll(1, line); }

[[noreturn]] void sysFail(const std::string& call, const std::string& path) {
  throw Error(ErrorKind::internal, call + " " + path + ": " + std::strerror(errno));
}

// ---- before anything of the container is looked at ----------------------------------------

// No inherited descriptor but the connection; die with the bridge's thread that waits for us.
void isolateProcess() {
  ::close_range(3, ~0U, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  ::umask(022);
  ::signal(SIGPIPE, SIG_IGN);
}

// libarchive converts names with iconv; glibc reads its gconv configuration on the first
// iconv_open, and after the chroot that would be the container's (and could name a module to
// load). Load it here, from the host, for the conversions libarchive uses.
void loadCharsetConversionsFromTheHost() {
  if (std::setlocale(LC_ALL, "C.UTF-8") == nullptr) std::setlocale(LC_ALL, "C");
  const char* codeset = nl_langinfo(CODESET);
  for (auto [to, from] : {std::pair{"UTF-8", codeset}, std::pair{codeset, "UTF-8"}}) {
    iconv_t cd = ::iconv_open(to, from);
    if (cd != reinterpret_cast<iconv_t>(-1)) ::iconv_close(cd);
  }
}

// ---- the view -------------------------------------------------------------------------------

int openInRoot(int rootFd, const std::string& path, int flags) {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  for (int attempt = 0; attempt < 10; ++attempt) {
    int fd = static_cast<int>(::syscall(SYS_openat2, rootFd, path.c_str(), &how, sizeof how));
    if (fd >= 0 || errno != EAGAIN) return fd;
  }
  return -1;
}

// A bind destination that does not exist yet is created, as dockerd does for cp (a directory,
// or an empty file for a file source), each component resolved inside the root.
int mountPointInRoot(int rootFd, const std::string& destination, bool directory) {
  int fd = openInRoot(rootFd, destination, O_PATH);
  if (fd >= 0) return fd;
  if (errno != ENOENT) sysFail("openat2", destination);
  std::string partial;
  size_t start = 1;
  while (start <= destination.size()) {
    size_t end = destination.find('/', start);
    if (end == std::string::npos) end = destination.size();
    std::string name = destination.substr(start, end - start);
    start = end + 1;
    if (name.empty()) continue;
    std::string next = partial + "/" + name;
    int probe = openInRoot(rootFd, next, O_PATH);
    if (probe >= 0) {
      ::close(probe);
      partial = next;
      continue;
    }
    int parent = openInRoot(rootFd, partial.empty() ? "/" : partial, O_PATH | O_DIRECTORY);
    if (parent < 0) sysFail("openat2", partial);
    bool last = end == destination.size();
    int rc = (last && !directory) ? ::mknodat(parent, name.c_str(), S_IFREG | 0644, 0) : ::mkdirat(parent, name.c_str(), 0755);
    ::close(parent);
    if (rc != 0 && errno != EEXIST) sysFail("create mount point", next);
    partial = next;
  }
  fd = openInRoot(rootFd, destination, O_PATH);
  if (fd < 0) sysFail("openat2", destination);
  return fd;
}

// A detached copy of `source` (recursively), nodev and nosuid (and read-only when asked) before
// it is attached, moved onto the pinned mount point.
void bindOnto(const std::string& source, int targetFd, bool readonly) {
  int tree = ::open_tree(AT_FDCWD, source.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
  if (tree < 0) sysFail("open_tree", source);
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID | (readonly ? MOUNT_ATTR_RDONLY : 0);
  if (::mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) != 0) sysFail("mount_setattr", source);
  if (::move_mount(tree, "", targetFd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0) sysFail("move_mount", source);
  ::close(tree);
}

// The steps in the order they run: a private mount namespace, the root filesystem, the binds
// on top of it, chroot.
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
    unsigned long flags = MS_NODEV | MS_NOSUID | (readonly ? MS_RDONLY : 0);
    if (::mount(m.at("source").get<std::string>().c_str(), rootfs.c_str(), m.at("type").get<std::string>().c_str(),
                flags, options.c_str()) != 0) {
      sysFail("mount rootfs on", rootfs);
    }
  } else {
    // A running container's root is mounted already: a copy of that mount, our own.
    int target = ::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (target < 0) sysFail("open", rootfs);
    bindOnto(rootfs, target, readonly);
    ::close(target);
  }
  // The container may have stopped since the bridge looked: then this is a bare directory.
  struct statfs fs {};
  if (::statfs(rootfs.c_str(), &fs) != 0 || fs.f_type != OVERLAYFS_SUPER_MAGIC) {
    throw Error(ErrorKind::conflict, "the container's filesystem is not mounted; try again");
  }
  int rootFd = ::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootFd < 0) sysFail("open", rootfs);
  for (const auto& b : request.value("binds", json::array())) {
    std::string source = b.at("source"), destination = b.at("destination");
    struct stat st {};
    if (::stat(source.c_str(), &st) != 0) continue;  // gone from the host since create
    int target = mountPointInRoot(rootFd, destination, S_ISDIR(st.st_mode));
    bindOnto(source, target, b.value("readonly", false));
    ::close(target);
  }
  ::close(rootFd);
  if (::chdir(rootfs.c_str()) != 0) sysFail("chdir", rootfs);
  if (::chroot(".") != 0) sysFail("chroot", rootfs);
  if (::chdir("/") != 0) sysFail("chdir", "/");
}

// What a tar copy needs as root inside the view, and nothing that could leave it: no chroot,
// mount, ptrace or module loading, and no regaining any of it through exec. Not
// DAC_READ_SEARCH either: DAC_OVERRIDE reads every file, and DAC_READ_SEARCH would add
// open_by_handle_at, which opens a file of the host's by its handle from inside a chroot.
void dropPrivileges() {
  const int keep[] = {CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_FSETID, CAP_MKNOD, CAP_SETFCAP};
  for (int cap = 0; cap < 64; ++cap) {  // past CAP_LAST_CAP too: the kernel may know more
    bool kept = false;
    for (int k : keep) kept = kept || k == cap;
    if (!kept) ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);  // EINVAL past the kernel's last: fine
  }
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  for (int k : keep) {
    data[k / 32].effective |= 1u << (k % 32);
    data[k / 32].permitted |= 1u << (k % 32);
  }
  if (::syscall(SYS_capset, &header, data) != 0) sysFail("capset", "");
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) sysFail("prctl", "PR_SET_NO_NEW_PRIVS");
}

// ---- the operations -------------------------------------------------------------------------

// libarchive's output as frames on stdout (see the header comment).
la_ssize_t writeFrame(struct ::archive*, void*, const void* buffer, size_t length) {
  if (!streams::writeFrame(1, std::string_view(static_cast<const char*>(buffer), length))) return -1;
  return static_cast<la_ssize_t>(length);
}

void run(const json& request) {
  std::string op = request.at("op");
  std::string path = request.at("path");
  if (path.empty()) throw Error(ErrorKind::invalid, "path cannot be empty");
  enterContainerFilesystem(request);
  dropPrivileges();
  if (op == "stat" || op == "get") {
    auto resolved = archive::resolvePath(path);
    writeOut(streams::okLine({{"stat", archive::statPath(resolved)}}));
    if (op != "get") return;
    try {
      archive::writeArchive(resolved, writeFrame);
    } catch (const std::exception& e) {
      // The answer has begun: without the final frame the API fails it; the journal says why.
      std::cerr << "berth-archive: " << path << ": " << e.what() << "\n";
      std::exit(1);
    }
    streams::writeFrame(1, {});
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
    writeOut(streams::okLine());
    try {
      archive::extractArchive(0, dir, options);
    } catch (const Error& e) {
      writeOut(streams::errorLine(e.kind(), e.what()));
      std::exit(1);
    }
    writeOut(streams::okLine());
    return;
  }
  throw Error(ErrorKind::invalid, "unknown archive op: " + op);
}

}  // namespace

int main(int argc, char** argv) {
  berth::sandbox::logRefusals("berth-archive");  // it runs under the bridge's filter
  isolateProcess();
  loadCharsetConversionsFromTheHost();
  if (argc != 2) {
    std::cerr << "usage: berth-archive REQUEST-JSON (run by berth-containerd-bridge)\n";
    return 2;
  }
  std::string container;
  try {
    auto request = berth::parseJson(argv[1]);
    container = request.value("container", "");
    run(request);
    return 0;
  } catch (const Error& e) {
    std::string message = e.what();
    // dockerd names the container as the client did: "... in container NAME".
    if (e.kind() == ErrorKind::notFound) message += " " + container;
    writeOut(streams::errorLine(e.kind(), message));
  } catch (const std::exception& e) {
    writeOut(streams::errorLine(ErrorKind::internal, e.what()));
  }
  return 1;
}
