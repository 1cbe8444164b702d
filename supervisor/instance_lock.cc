#include "supervisor/instance_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "common/errors.h"

namespace berth::supervisor {
namespace {

// Opens and locks `path`; on success truncates it and writes our pid.
UniqueFd lockAndWritePid(const std::string& path, const std::string& what) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!fd) throwSystemError("open", path);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) throwSystemError("flock", path);
    char buf[32] = {};
    ssize_t n = ::pread(fd.get(), buf, sizeof buf - 1, 0);
    std::string pid = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "?";
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    throw Error(ErrorKind::conflict, "another berth engine (pid " + pid + ") is already running on " + what +
                                         " (" + path + " is locked); stop it first");
  }
  std::string pid = std::to_string(getpid()) + "\n";
  if (::ftruncate(fd.get(), 0) != 0) throwSystemError("ftruncate", path);
  if (::pwrite(fd.get(), pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    throwSystemError("write", path);
  }
  return fd;
}

}  // namespace

InstanceLock::InstanceLock(const Config& config) : pidfile_(config.pidfile) {
  rootLock_ = lockAndWritePid(config.dataRoot + "/berth.lock", "data root " + config.dataRoot);
  std::filesystem::create_directories(std::filesystem::path(pidfile_).parent_path());
  pidLock_ = lockAndWritePid(pidfile_, "pidfile " + pidfile_);
}

InstanceLock::~InstanceLock() {
  ::unlink(pidfile_.c_str());
}

}  // namespace berth::supervisor
