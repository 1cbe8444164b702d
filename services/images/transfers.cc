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

void Transfers::setGrowth(Growth& g, Growth::State state, uint64_t whole, const std::string& why) {
  {
    std::lock_guard lock(g.mutex);
    if (g.state != Growth::State::writing) return;  // the first end stands
    g.whole = std::max(g.whole, whole);
    g.state = state;
    g.why = why;
  }
  g.changed.notify_all();
}

void Transfers::end(Transfer& t, Stream::End how) {
  if (t.growth) setGrowth(*t.growth, Growth::State::gone, 0);
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

std::string Transfers::beginGrowingDownload(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) throwSystemError("open", path);
  std::lock_guard lock(mutex_);
  expireLocked();
  std::string id = newIdLocked();
  transfers_[id] =
      Transfer{path, std::make_shared<const UniqueFd>(std::move(fd)), Clock::now(), false, nullptr, false, std::make_shared<Growth>()};
  return id;
}

bool Transfers::written(const std::string& id, uint64_t whole) {
  std::shared_ptr<Growth> growth;
  {
    std::lock_guard lock(mutex_);
    auto it = transfers_.find(id);
    if (it == transfers_.end() || !it->second.growth) return false;
    it->second.touched = Clock::now();  // a download being written does not expire
    growth = it->second.growth;
  }
  {
    std::lock_guard lock(growth->mutex);
    if (growth->state != Growth::State::writing) return false;
    growth->whole = std::max(growth->whole, whole);
  }
  growth->changed.notify_all();
  return true;
}

void Transfers::finished(const std::string& id) {
  std::shared_ptr<Growth> growth;
  std::shared_ptr<const UniqueFd> fd;
  std::string path;
  {
    std::lock_guard lock(mutex_);
    auto it = transfers_.find(id);
    if (it == transfers_.end() || !it->second.growth) return;
    it->second.touched = Clock::now();
    growth = it->second.growth;
    fd = it->second.fd;
    path = it->second.path;
  }
  struct stat st{};
  if (::fstat(fd->get(), &st) != 0) {
    setGrowth(*growth, Growth::State::failed, 0, "fstat " + path + ": " + std::strerror(errno));
    return;
  }
  setGrowth(*growth, Growth::State::finished, static_cast<uint64_t>(st.st_size));
}

void Transfers::failed(const std::string& id, const std::string& why) {
  std::shared_ptr<Growth> growth;
  {
    std::lock_guard lock(mutex_);
    auto it = transfers_.find(id);
    if (it == transfers_.end() || !it->second.growth) return;
    growth = it->second.growth;
  }
  setGrowth(*growth, Growth::State::failed, 0, why);
}

Transfers::OpenDownload Transfers::openDownload(const std::string& id, uint64_t offset, uint32_t maxBytes, Use use) {
  OpenDownload d;
  {
    std::lock_guard lock(mutex_);
    auto& t = findLocked(id, false);
    d.fd = t.fd;
    d.growth = t.growth;
    d.path = t.path;
  }
  // Outside the table's lock: the writer reports through it.
  auto& g = *d.growth;
  std::unique_lock lock(g.mutex);
  bool moved = g.changed.wait_for(lock, kGrowthWait, [&] { return g.whole > offset || g.state != Growth::State::writing; });
  if (g.state == Growth::State::failed) throw Error(ErrorKind::internal, g.why);
  if (g.state == Growth::State::gone) throw Error(ErrorKind::notFound, "download " + id + " not found");
  if (!moved) {
    throw Error(ErrorKind::deadlineExceeded,
                "download " + id + ": nothing more was written for " + std::to_string(kGrowthWait.count()) + " s");
  }
  uint64_t size = g.whole;
  d.readable = offset >= size ? 0 : static_cast<size_t>(std::min<uint64_t>({size - offset, maxBytes, kMaxRead}));
  // The file grows between the sizing of a reply and its read: the read gives what the reply
  // was sized for, so its bytes land in the reply's first segment, not a second one.
  if (use == Use::size) {
    g.offeredAt = offset;
    g.offered = d.readable;
  } else if (g.offeredAt == offset) {
    d.readable = std::min(d.readable, g.offered);
    g.offeredAt = kNothingOffered;
  }
  return d;
}

size_t Transfers::readable(const std::string& id, uint64_t offset, uint32_t maxBytes) {
  return openDownload(id, offset, maxBytes, Use::size).readable;
}

void Transfers::read(const std::string& id, uint64_t offset, uint32_t maxBytes,
                     const std::function<char*(size_t)>& buffer) {
  // A discard while this reads unlinks the file; the descriptor held here keeps it readable.
  auto d = openDownload(id, offset, maxBytes, Use::read);
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
