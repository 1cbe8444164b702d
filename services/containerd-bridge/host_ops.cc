#include "services/containerd-bridge/host_ops.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <filesystem>
#include <thread>

#include "common/errors.h"
#include "common/files.h"

namespace berth::bridge {

void SystemHostOps::mountRootfs(const std::vector<Mount>& mounts, const std::string& target) {
  if (mounts.size() != 1) throw Error(ErrorKind::internal, "expected one rootfs mount, got " + std::to_string(mounts.size()));
  const auto& m = mounts[0];
  std::string data;
  for (const auto& o : m.options) data += (data.empty() ? "" : ",") + o;
  makeDirectories(target, 0755);
  if (mountedAt(target)) return;
  if (::mount(m.source.c_str(), target.c_str(), m.type.c_str(), 0, data.c_str()) != 0) {
    throw Error(ErrorKind::internal, "mount " + m.type + " on " + target + ": " + std::strerror(errno));
  }
}

void SystemHostOps::unmountRootfs(const std::string& target) {
  while (::umount2(target.c_str(), MNT_DETACH) == 0) {
  }
}

bool SystemHostOps::mounted(const std::string& target) { return mountedAt(target); }

std::string SystemHostOps::readHostFile(const std::string& path) { return readFileIfExists(path).value_or(""); }

HostOps::RootfsEntry SystemHostOps::lookupInRootfs(const std::string& rootfs, const std::string& path) {
  RootfsEntry entry;
  int root = ::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) throwSystemError("open", rootfs);
  open_how how{};
  how.flags = O_PATH | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  std::string relative = path;
  while (!relative.empty() && relative.front() == '/') relative.erase(0, 1);
  if (relative.empty()) relative = ".";
  int fd = static_cast<int>(::syscall(SYS_openat2, root, relative.c_str(), &how, sizeof how));
  int openError = errno;
  ::close(root);
  if (fd < 0) {
    if (openError == ENOENT || openError == ENOTDIR) return entry;
    throwSystemError("openat2", rootfs + path, openError);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    throwSystemError("fstat", rootfs + path);
  }
  std::error_code ec;
  entry.hostPath = std::filesystem::read_symlink("/proc/self/fd/" + std::to_string(fd), ec).string();
  ::close(fd);
  if (ec) throw Error(ErrorKind::internal, "resolving " + path + " in " + rootfs + ": " + ec.message());
  entry.kind = S_ISDIR(st.st_mode) ? RootfsEntry::Kind::directory : RootfsEntry::Kind::other;
  return entry;
}

bool SystemHostOps::drainLogger(const std::string& runDir, std::chrono::milliseconds timeout) {
  std::string done = runDir + "/logger.done";
  auto text = readFileIfExists(loggerPidFile(runDir));
  pid_t pid = 0;
  try {
    pid = text ? static_cast<pid_t>(std::stol(*text)) : 0;
  } catch (const std::exception&) {
  }
  if (pid <= 1) return false;
  // The pid file names this run's logger, alive until containerd deletes the task; a logger
  // that died and whose pid was taken since is told apart by its command line.
  auto cmdline = readFileIfExists("/proc/" + std::to_string(pid) + "/cmdline");
  if (!cmdline || cmdline->find(done) == std::string::npos) return false;
  if (::kill(pid, SIGUSR1) != 0) return false;
  // Its own marker: one an earlier run's logger wrote late is not this one's word.
  std::string mine = "done " + std::to_string(pid) + "\n";
  auto until = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::microseconds(200);
  while (readFileIfExists(done).value_or("") != mine) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(pause);
    pause = std::min<std::chrono::microseconds>(pause * 2, std::chrono::milliseconds(5));
  }
  return true;
}

void SystemHostOps::spawnDetached(const std::vector<std::string>& argv) {
  std::vector<std::string> args = argv;
  std::vector<char*> cargv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  // Double fork: the grandchild runs in a session of its own and is reparented to the
  // supervisor (a child subreaper), so no berth service waits for it.
  pid_t child = ::fork();
  if (child < 0) throw Error(ErrorKind::internal, std::string("fork: ") + std::strerror(errno));
  if (child == 0) {
    ::setsid();
    if (::fork() != 0) ::_exit(0);
    int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    for (int fd = 3; fd < 1024; ++fd) ::close(fd);
    ::execv(cargv[0], cargv.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
}

void ThreadScheduler::run(std::function<void()> fn) {
  std::thread([fn = std::move(fn)] {
    try {
      fn();
    } catch (const std::exception& e) {
      spdlog::error("containers: background task failed: {}", e.what());
    }
  }).detach();
}

void ThreadScheduler::after(std::chrono::milliseconds delay, std::function<void()> fn) {
  run([delay, fn = std::move(fn)] {
    std::this_thread::sleep_for(delay);
    fn();
  });
}

}  // namespace berth::bridge
