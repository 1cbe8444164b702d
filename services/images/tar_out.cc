#include "services/images/tar_out.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/errors.h"

namespace berth::images {

namespace {
constexpr uint64_t kReportEvery = 256u << 10;  // not each 10 KiB block
}

TarOut::TarOut(int fd, std::string name, std::function<bool(uint64_t)> written)
    : name_(std::move(name)), sink_{fd, std::move(written)}, archive_(archive_write_new(), archive_write_free) {
  if (!archive_) throw Error(ErrorKind::internal, "writing " + name_ + ": out of memory");
  archive_write_set_format_pax_restricted(archive_.get());
  archive_write_set_bytes_in_last_block(archive_.get(), 1);  // as for a file: no padding past the end
  if (archive_write_open2(archive_.get(), &sink_, nullptr, writeBlock, nullptr, nullptr) != ARCHIVE_OK) fail();
}

// An archive left unclosed must not be closed by archive_write_free, which would pad the entry
// cut short with zeros and write the end marker: a reader of the growing file would see a
// whole-looking tar. Marked failed, it is freed as it is.
TarOut::~TarOut() {
  if (closed_) return;
  sink_.failed = true;
  archive_write_fail(archive_.get());
}

void TarOut::fail() const {
  throw Error(ErrorKind::internal, "writing " + name_ + ": " + (archive_error_string(archive_.get()) ?: "?"));
}

void TarOut::data(const void* bytes, size_t size) {
  if (archive_write_data(archive_.get(), bytes, size) != static_cast<la_ssize_t>(size)) fail();
}

void TarOut::close() {
  if (archive_write_close(archive_.get()) != ARCHIVE_OK) fail();
  closed_ = true;
}

la_ssize_t TarOut::writeBlock(archive* a, void* data, const void* buffer, size_t length) {
  auto* sink = static_cast<Sink*>(data);
  if (sink->failed) {
    archive_set_error(a, ECANCELED, "the archive's writing stopped");
    return -1;
  }
  const char* p = static_cast<const char*>(buffer);
  for (size_t done = 0; done < length;) {
    ssize_t n = ::write(sink->fd, p + done, length - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      sink->failed = true;
      archive_set_error(a, errno, "write: %s", std::strerror(errno));
      return -1;
    }
    done += static_cast<size_t>(n);
  }
  sink->whole += length;
  if (!sink->written || sink->whole - sink->told < kReportEvery) return static_cast<la_ssize_t>(length);
  sink->told = sink->whole;
  if (!sink->written(sink->whole)) {
    sink->failed = true;
    archive_set_error(a, ECANCELED, "the archive's reader is gone");
    return -1;
  }
  return static_cast<la_ssize_t>(length);
}

}  // namespace berth::images
