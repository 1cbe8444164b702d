#include "common/journal.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace berth {

std::string encodeJournalEntry(const JournalFields& fields) {
  std::string out;
  for (const auto& [name, value] : fields) {
    out.append(name);
    if (value.find('\n') == std::string_view::npos) {
      out += '=';
      out.append(value);
    } else {
      out += '\n';
      uint64_t size = value.size();
      for (int i = 0; i < 8; ++i) out += static_cast<char>((size >> (8 * i)) & 0xff);
      out.append(value);
    }
    out += '\n';
  }
  return out;
}

JournalWriter::JournalWriter(std::string socketPath)
    : path_(std::move(socketPath)), fd_(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {}

JournalWriter::~JournalWriter() {
  if (fd_ >= 0) ::close(fd_);
}

bool JournalWriter::send(const JournalFields& fields) {
  if (fd_ < 0) return false;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path_.size() >= sizeof address.sun_path) return false;
  std::memcpy(address.sun_path, path_.c_str(), path_.size() + 1);
  std::string entry = encodeJournalEntry(fields);
  msghdr message{};
  message.msg_name = &address;
  message.msg_namelen = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path_.size() + 1);
  iovec part{entry.data(), entry.size()};
  message.msg_iov = &part;
  message.msg_iovlen = 1;
  if (::sendmsg(fd_, &message, MSG_NOSIGNAL) == static_cast<ssize_t>(entry.size())) return true;
  if (errno != EMSGSIZE && errno != ENOBUFS) return false;
  // Too large for a datagram: the same bytes in a sealed memfd, passed with an empty datagram.
  int memfd = ::memfd_create("journal-entry", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (memfd < 0) return false;
  bool ok = ::write(memfd, entry.data(), entry.size()) == static_cast<ssize_t>(entry.size()) &&
            ::fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) == 0;
  if (ok) {
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    message.msg_iov = nullptr;
    message.msg_iovlen = 0;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&message);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &memfd, sizeof(int));
    ok = ::sendmsg(fd_, &message, MSG_NOSIGNAL) >= 0;
  }
  ::close(memfd);
  return ok;
}

}  // namespace berth
