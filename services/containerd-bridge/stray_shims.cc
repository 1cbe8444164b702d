#include "services/containerd-bridge/stray_shims.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "common/digest.h"
#include "common/errors.h"
#include "common/random.h"
#include "services/containerd-bridge/container_status.h"

namespace berth::bridge {
namespace {

using namespace std::chrono_literals;


std::string readWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The value after `flag` in a NUL-separated command line ("" when absent).
std::string argAfter(const std::vector<std::string>& argv, const std::string& flag) {
  for (size_t i = 0; i + 1 < argv.size(); ++i) {
    if (argv[i] == flag) return argv[i + 1];
  }
  return "";
}

// What a containerd shim's command line names (its -id, -address and -namespace); nullopt when
// the process in `procDir` is not a shim (or is gone).
struct ShimArgs {
  std::string id, address, ns;
};
std::optional<ShimArgs> shimArgsOf(const std::string& procDir) {
  if (readWhole(procDir + "/comm").rfind("containerd-shim", 0) != 0) return std::nullopt;
  std::string cmdline = readWhole(procDir + "/cmdline");
  std::vector<std::string> argv;
  for (size_t start = 0; start < cmdline.size();) {
    size_t end = cmdline.find('\0', start);
    if (end == std::string::npos) end = cmdline.size();
    argv.push_back(cmdline.substr(start, end - start));
    start = end + 1;
  }
  return ShimArgs{argAfter(argv, "-id"), argAfter(argv, "-address"), argAfter(argv, "-namespace")};
}

std::vector<pid_t> childrenOf(pid_t pid) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::istringstream in(readWhole(task.path().string() + "/children"));
    for (pid_t child; in >> child;) out.push_back(child);
  }
  return out;
}

// SIGKILL to `pid`'s descendants, deepest first, then to `pid`.
void killTree(pid_t pid) {
  for (pid_t child : childrenOf(pid)) killTree(child);
  ::kill(pid, SIGKILL);
}

// Ends a shim and what runs under it. A shim removes its socket (/run/containerd/s/<hash>, one
// directory for every containerd on the machine) when it shuts down, never when it is killed;
// the socket of a killed one is taken here, or every stray would leave a file behind for good.
// The pid is checked to be the shim's still (the sweep's containerd calls come between finding
// and ending it), so no other process's sockets are taken.
void endShim(const ShimProcess& shim) {
  auto args = shimArgsOf("/proc/" + std::to_string(shim.pid));
  if (!args || args->id != shim.id) return;  // gone since it was found, its socket with it
  auto sockets = listeningSocketPaths(shim.pid);
  killTree(shim.pid);
  for (const auto& path : sockets) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(path.c_str());
  }
}

}  // namespace

std::string shimSocketPath(const std::string& containerdSocket, const std::string& ns, const std::string& id) {
  // Go's filepath.Join cleans the path: no doubled or trailing slash, no "." or "..".
  std::string socket = std::filesystem::path(containerdSocket).lexically_normal().string();
  while (socket.size() > 1 && socket.back() == '/') socket.pop_back();
  return "/run/containerd/s/" + sha256Hex(socket + "/" + ns + "/" + id);
}

bool removeDeadShimSocket(const std::string& containerdSocket, const std::string& ns, const std::string& id) {
  std::string path = shimSocketPath(containerdSocket, ns, id);
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) return false;
  // Non-blocking: a live shim whose backlog is full answers EAGAIN at once instead of holding
  // the container's lock; only a refusal means nothing listens.
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);  // 18 + 64 characters: it fits
  bool refused = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 && errno == ECONNREFUSED;
  ::close(fd);
  if (!refused || ::unlink(path.c_str()) != 0) return false;
  spdlog::info("container {}: removed its shim's socket {}, which nothing listened on", id.substr(0, 12), path);
  return true;
}

namespace {

// The container's cgroup in every hierarchy (v1) or the unified one (v2), once its killed
// processes have left it: containerd deletes it with the task, and here there is no task.
void removeCgroups(const std::string& parent, const std::string& id) {
  std::vector<std::filesystem::path> dirs = {std::filesystem::path("/sys/fs/cgroup") / parent / id};
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/sys/fs/cgroup", ec)) {
    // v1's hierarchies; under v2 the files there (cgroup.procs…) are none, and an rmdir under
    // one would fail with ENOTDIR, counted below as a cgroup that stays. (This host has v1.)
    std::error_code typeError;
    if (entry.is_directory(typeError)) dirs.push_back(entry.path() / parent / id);
  }
  for (int attempt = 0; attempt < 40; ++attempt) {
    bool left = false;
    for (const auto& dir : dirs) {
      if (::rmdir(dir.c_str()) != 0 && errno != ENOENT) left = true;
    }
    if (!left) return;
    std::this_thread::sleep_for(50ms);
  }
  spdlog::warn("containers: the cgroup of {} stays: its processes have not left it", id.substr(0, 12));
}

}  // namespace

std::vector<std::string> listeningSocketPaths(pid_t pid) {
  std::string proc = "/proc/" + std::to_string(pid);
  std::set<std::string> inodes;
  std::error_code ec;
  // Stepped without throwing: the directory goes when the process exits.
  for (std::filesystem::directory_iterator it(proc + "/fd", ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code linkError;
    auto target = std::filesystem::read_symlink(it->path(), linkError);
    if (linkError) continue;
    std::string t = target.string();  // "socket:[12345]"
    if (t.rfind("socket:[", 0) == 0 && t.back() == ']') inodes.insert(t.substr(8, t.size() - 9));
  }
  // The process's own network namespace's table: Num RefCount Protocol Flags Type St Inode Path.
  std::vector<std::string> out;
  std::istringstream table(readWhole(proc + "/net/unix"));
  std::string line;
  std::getline(table, line);
  while (std::getline(table, line)) {
    std::istringstream fields(line);
    std::string num, refs, protocol, flags, type, state, inode, path;
    if (!(fields >> num >> refs >> protocol >> flags >> type >> state >> inode)) continue;
    std::getline(fields >> std::ws, path);  // the rest of the line: a path may hold spaces
    if (path.empty()) continue;
    constexpr unsigned long kAcceptsConnections = 0x10000;  // __SO_ACCEPTCON: a listening socket
    if (!(std::strtoul(flags.c_str(), nullptr, 16) & kAcceptsConnections) || path.front() != '/') continue;
    if (inodes.count(inode)) out.push_back(path);
  }
  return out;
}

std::vector<ShimProcess> findShims(const std::string& containerdSocket, const std::string& ns) {
  std::vector<ShimProcess> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    std::string name = e.path().filename();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    auto args = shimArgsOf(e.path().string());
    if (!args || args->address != containerdSocket || args->ns != ns || args->id.empty()) continue;
    out.push_back({static_cast<pid_t>(std::stol(name)), args->id});
  }
  return out;
}

size_t StrayShims::sweep(Deadline deadline) {
  auto shims = findShims(containerdSocket_, ns_);
  if (shims.empty()) return 0;
  std::set<std::string> listed;
  for (const auto& t : tasks_.list(deadline)) listed.insert(t.id);
  size_t ended = 0;
  std::set<std::string> unrecorded;
  for (const auto& shim : shims) {
    if (teardown_.deferred(shim.id)) continue;  // its exit recorded, its deletion under way
    if (listed.count(shim.id)) {
      if (endUnrecordedTask(shim, deadline, unrecorded)) ++ended;
      continue;
    }
    bool known = true;
    try {
      if (hasLiveTask(store_.get(shim.id).state.status)) {
        spdlog::warn("containers: {} is recorded running but containerd has no task for its shim (pid {})",
                     shortId(shim.id), shim.pid);
        continue;
      }
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::notFound) continue;
      known = false;
    }
    // A start holds the container's lock from before its shim exists until containerd lists
    // the task: a shim met while the lock is free and containerd still has no task is a stray.
    auto lock = locks_.of(shim.id);
    std::unique_lock guard(*lock, std::try_to_lock);
    if (!guard.owns_lock()) continue;
    if (tasks_.state(shim.id, "", deadline).answer != TaskState::Answer::absent) continue;
    spdlog::warn("containers: ending the shim (pid {}) of {} that containerd lost track of", shim.pid, shortId(shim.id));
    endShim(shim);
    removeCgroups(cgroupParent_, shim.id);
    ++ended;
    guard.unlock();
    if (!known) locks_.forget(shim.id);
  }
  unrecorded_ = std::move(unrecorded);
  return ended;
}

bool StrayShims::endUnrecordedTask(const ShimProcess& shim, Deadline deadline, std::set<std::string>& seen) {
  try {
    store_.get(shim.id);
    return false;  // a record stands for it: restore and the lifecycle own it
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::notFound) return false;
  }
  // A create saves its record before any task exists, and a removal deletes the task before the
  // record, both under the lock: a task without a record while the lock is free is no
  // operation's.
  auto lock = locks_.of(shim.id);
  std::unique_lock guard(*lock, std::try_to_lock);
  if (!guard.owns_lock()) return false;
  if (!unrecorded_.count(shim.id)) {
    seen.insert(shim.id);  // the restore's own deletion may still be under way: the next sweep decides
    return false;
  }
  spdlog::warn("containers: ending the shim (pid {}) of {}: containerd lists its task, which no container stands for",
               shim.pid, shortId(shim.id));
  try {
    tasks_.kill(shim.id, "", SIGKILL, true, capped(deadline, 2s));
  } catch (const Error&) {
  }
  endShim(shim);
  removeCgroups(cgroupParent_, shim.id);
  // containerd deletes the task of a shim that went away; then its container object, the root
  // filesystem's mount and the volumes' references go as a removal's would.
  for (int attempt = 0; attempt < 50 && !expired(deadline); ++attempt) {
    if (tasks_.state(shim.id, "", capped(deadline, 2s)).answer == TaskState::Answer::absent) break;
    std::this_thread::sleep_for(100ms);
  }
  try {
    teardown_.ensureGone(shim.id, deadline);
  } catch (const Error& e) {
    spdlog::warn("containers: what containerd keeps of {} stays: {}", shortId(shim.id), e.what());
  }
  guard.unlock();
  locks_.forget(shim.id);
  return true;
}

void StrayShims::start() {
  scheduler_.run([this] {
    while (!stopping_) {
      try {
        sweep(deadlineIn(10s));
      } catch (const std::exception& e) {
        spdlog::info("containers: the sweep for stray shims waits for containerd: {}", e.what());
      }
      for (int i = 0; i < 200 && !stopping_; ++i) std::this_thread::sleep_for(50ms);
    }
  });
}

}  // namespace berth::bridge
