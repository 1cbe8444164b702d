#include "services/images/transfers.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

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

void Transfers::end(Transfer& t, Stream::End how) {
  if (!t.stream) return;
  {
    std::lock_guard lock(t.stream->mutex);
    t.stream->end = how;
  }
  t.stream->changed.notify_all();
}

void Transfers::expireLocked() {
  auto now = Clock::now();
  for (auto it = transfers_.begin(); it != transfers_.end();) {
    if (now - it->second.touched > idleTimeout_) {
      end(it->second, Stream::End::abandoned);
      ::unlink(it->second.path.c_str());
      it = transfers_.erase(it);
    } else {
      ++it;
    }
  }
}

std::string Transfers::beginUpload(bool streamed) {
  std::lock_guard lock(mutex_);
  expireLocked();
  std::string id = newIdLocked();
  std::string path = dir_ + "/upload-" + id;
  if (streamed) {
    transfers_[id] = Transfer{path, nullptr, Clock::now(), true, std::make_shared<Stream>()};
    return id;
  }
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) throwSystemError("open", path);
  transfers_[id] = Transfer{path, std::make_shared<const UniqueFd>(std::move(fd)), Clock::now(), true, nullptr};
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
  std::shared_ptr<Stream> stream;
  {
    std::lock_guard lock(mutex_);
    auto& t = findLocked(id, true);
    stream = t.stream;
    while (!stream && !data.empty()) {
      ssize_t n = ::write(t.fd->get(), data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        throwSystemError("write", t.path);
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
  }
  if (!stream || data.empty()) return;
  // Outside the table's lock: this may wait for the reader to make room.
  std::unique_lock lock(stream->mutex);
  bool room = stream->changed.wait_for(lock, idleTimeout_, [&] {
    return stream->buffered < kStreamBuffer || stream->readerGone || stream->end != Stream::End::open;
  });
  if (!room) throw Error(ErrorKind::deadlineExceeded, "upload " + id + ": its reader took nothing for " +
                                                          std::to_string(idleTimeout_.count()) + " s");
  if (stream->end != Stream::End::open) throw Error(ErrorKind::notFound, "upload " + id + " not found");
  if (stream->readerGone) return;  // the load ended (it failed); its reply says why
  stream->chunks.emplace_back(data);
  stream->buffered += data.size();
  lock.unlock();
  stream->changed.notify_all();
}

std::string Transfers::takeUpload(const std::string& id) {
  std::lock_guard lock(mutex_);
  auto& t = findLocked(id, true);
  std::string path = t.stream ? "" : t.path;
  end(t, Stream::End::complete);
  transfers_.erase(id);
  return path;
}

bool Transfers::has(const std::string& id) {
  std::lock_guard lock(mutex_);
  return transfers_.count(id) > 0;
}

std::unique_ptr<Transfers::Reader> Transfers::reader(const std::string& id) {
  std::lock_guard lock(mutex_);
  auto& t = findLocked(id, true);
  if (!t.stream || t.readerTaken) throw Error(ErrorKind::invalid, "upload " + id + " is not a stream with no reader");
  t.readerTaken = true;
  return std::make_unique<Reader>(t.stream, idleTimeout_);
}

Transfers::Reader::~Reader() {
  {
    std::lock_guard lock(stream_->mutex);
    stream_->readerGone = true;
    stream_->chunks.clear();
    stream_->buffered = 0;
  }
  stream_->changed.notify_all();
}

size_t Transfers::Reader::read(char* buffer, size_t size) {
  std::unique_lock lock(stream_->mutex);
  bool moved = stream_->changed.wait_for(lock, idleTimeout_, [&] {
    return !stream_->chunks.empty() || stream_->end != Stream::End::open;
  });
  if (!moved) {
    throw Error(ErrorKind::deadlineExceeded, "nothing arrived in the upload for " + std::to_string(idleTimeout_.count()) + " s");
  }
  if (stream_->end == Stream::End::abandoned) throw Error(ErrorKind::invalid, "the upload was abandoned");
  size_t n = 0;
  while (n < size && !stream_->chunks.empty()) {
    const std::string& first = stream_->chunks.front();
    size_t take = std::min(size - n, first.size() - stream_->firstTaken);
    std::memcpy(buffer + n, first.data() + stream_->firstTaken, take);
    n += take;
    stream_->firstTaken += take;
    stream_->buffered -= take;
    if (stream_->firstTaken == first.size()) {
      stream_->chunks.pop_front();
      stream_->firstTaken = 0;
    }
  }
  lock.unlock();
  if (n > 0) stream_->changed.notify_all();
  return n;  // 0 only when complete and every byte read
}

std::string Transfers::addDownload(const std::string& path) {
  std::lock_guard lock(mutex_);
  expireLocked();
  std::string id = newIdLocked();
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throwSystemError("open", path);
  transfers_[id] = Transfer{path, std::make_shared<const UniqueFd>(std::move(fd)), Clock::now(), false, nullptr};
  return id;
}

Transfers::OpenDownload Transfers::openDownload(const std::string& id, uint64_t offset, uint32_t maxBytes) {
  OpenDownload d;
  {
    std::lock_guard lock(mutex_);
    auto& t = findLocked(id, false);
    d.fd = t.fd;
    d.path = t.path;
  }
  struct stat st{};
  if (::fstat(d.fd->get(), &st) != 0) throwSystemError("fstat", d.path);
  uint64_t size = static_cast<uint64_t>(st.st_size);
  d.readable = offset >= size ? 0 : static_cast<size_t>(std::min<uint64_t>({size - offset, maxBytes, kMaxRead}));
  return d;
}

size_t Transfers::readable(const std::string& id, uint64_t offset, uint32_t maxBytes) {
  return openDownload(id, offset, maxBytes).readable;
}

void Transfers::read(const std::string& id, uint64_t offset, uint32_t maxBytes,
                     const std::function<char*(size_t)>& buffer) {
  // A discard while this reads unlinks the file; the descriptor held here keeps it readable.
  auto d = openDownload(id, offset, maxBytes);
  size_t n = d.readable;
  char* out = buffer(n);
  for (size_t done = 0; done < n;) {
    ssize_t got = ::pread(d.fd->get(), out + done, n - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throwSystemError("pread", d.path);
    if (got == 0) throw Error(ErrorKind::internal, "download " + d.path + " became shorter while it was read");
    done += static_cast<size_t>(got);
  }
}

void Transfers::discard(const std::string& id) {
  std::lock_guard lock(mutex_);
  auto it = transfers_.find(id);
  if (it == transfers_.end()) return;
  end(it->second, Stream::End::abandoned);
  ::unlink(it->second.path.c_str());
  transfers_.erase(it);
}

}  // namespace berth::images
