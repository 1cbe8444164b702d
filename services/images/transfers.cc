#include "services/images/transfers.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

#include "common/errors.h"
#include "common/random.h"

namespace berth::images {

Transfers::Transfers(std::string dir, std::chrono::seconds idleTimeout)
    : dir_(std::move(dir)), idleTimeout_(idleTimeout) {
  makeDirectories(dir_, 0700);
}

std::string Transfers::newIdLocked() { return randomHex(16); }

std::string Transfers::pathFor(const std::string& prefix) {
  std::lock_guard lock(mutex_);
  return dir_ + "/" + prefix + "-" + newIdLocked();
}

void Transfers::expireLocked() {
  auto now = Clock::now();
  for (auto it = transfers_.begin(); it != transfers_.end();) {
    if (now - it->second.touched > idleTimeout_) {
      ::unlink(it->second.path.c_str());
      it = transfers_.erase(it);
    } else {
      ++it;
    }
  }
}

std::string Transfers::beginUpload() {
  std::lock_guard lock(mutex_);
  expireLocked();
  std::string id = newIdLocked();
  std::string path = dir_ + "/upload-" + id;
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) throwSystemError("open", path);
  transfers_[id] = Transfer{path, std::move(fd), Clock::now(), true};
  return id;
}

Transfers::Transfer& Transfers::findLocked(const std::string& id, bool upload) {
  auto it = transfers_.find(id);
  if (it == transfers_.end() || it->second.upload != upload) {
    throw Error(ErrorKind::notFound, std::string(upload ? "upload " : "download ") + id + " not found");
  }
  it->second.touched = Clock::now();
  return it->second;
}

void Transfers::write(const std::string& id, std::string_view data) {
  std::lock_guard lock(mutex_);
  auto& t = findLocked(id, true);
  while (!data.empty()) {
    ssize_t n = ::write(t.fd.get(), data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throwSystemError("write", t.path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

std::string Transfers::takeUpload(const std::string& id) {
  std::lock_guard lock(mutex_);
  std::string path = findLocked(id, true).path;
  transfers_.erase(id);
  return path;
}

std::string Transfers::addDownload(const std::string& path) {
  std::lock_guard lock(mutex_);
  expireLocked();
  std::string id = newIdLocked();
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throwSystemError("open", path);
  transfers_[id] = Transfer{path, std::move(fd), Clock::now(), false};
  return id;
}

std::string Transfers::read(const std::string& id, uint64_t offset, uint32_t maxBytes) {
  std::lock_guard lock(mutex_);
  auto& t = findLocked(id, false);
  std::string out(std::min<uint32_t>(maxBytes, 16u << 20), '\0');
  ssize_t n = ::pread(t.fd.get(), out.data(), out.size(), static_cast<off_t>(offset));
  if (n < 0) throwSystemError("pread", t.path);
  out.resize(static_cast<size_t>(n));
  return out;
}

void Transfers::discard(const std::string& id) {
  std::lock_guard lock(mutex_);
  auto it = transfers_.find(id);
  if (it == transfers_.end()) return;
  ::unlink(it->second.path.c_str());
  transfers_.erase(it);
}

}  // namespace berth::images
