#include "services/api/http/byte_stream.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <mutex>

#include "common/errors.h"
#include "services/api/http/openssl_library.h"

namespace berth::http {
namespace {

constexpr int kHandshakeSeconds = 10;

std::string opensslError(const OpenSslLibrary& ssl) {
  unsigned long e = ssl.errGet();
  char buf[256];
  ssl.errString(e, buf, sizeof buf);
  return buf;
}

bool socketPeerClosed(int fd) {
  pollfd p{fd, POLLIN | POLLRDHUP, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  return (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

[[noreturn]] void readDeadlinePassed() { throw Error(ErrorKind::deadlineExceeded, "read deadline passed"); }

class SocketStream : public ByteStream {
 public:
  explicit SocketStream(int fd) : fd_(fd) {}
  ~SocketStream() override { ::close(fd_); }

  size_t read(char* data, size_t size) override {
    for (;;) {
      armReadTimeout(fd_);
      ssize_t n = ::recv(fd_, data, size, 0);
      if (n >= 0) return static_cast<size_t>(n);
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) readDeadlinePassed();
      if (errno == ECONNRESET || errno == ENOTCONN) return 0;
      throwSystemError("recv", "");
    }
  }

  void write(std::string_view data) override {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        throwSystemError("send", "");
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
  }

  void writeParts(std::initializer_list<std::string_view> parts) override {
    constexpr size_t kMaxParts = 8;
    iovec iov[kMaxParts];
    if (parts.size() > kMaxParts) return ByteStream::writeParts(parts);
    size_t count = 0;
    for (auto part : parts) {
      if (!part.empty()) iov[count++] = {const_cast<char*>(part.data()), part.size()};
    }
    for (size_t first = 0; first < count;) {
      msghdr message{};
      message.msg_iov = iov + first;
      message.msg_iovlen = count - first;
      ssize_t n = ::sendmsg(fd_, &message, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        throwSystemError("sendmsg", "");
      }
      // Skip what was sent: whole parts, then the front of a part sent in part.
      for (auto sent = static_cast<size_t>(n); first < count && sent > 0;) {
        size_t take = std::min(sent, iov[first].iov_len);
        iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + take;
        iov[first].iov_len -= take;
        sent -= take;
        if (iov[first].iov_len == 0) ++first;
      }
    }
  }

  void closeWrite() override { ::shutdown(fd_, SHUT_WR); }
  void shutdownRead() override { ::shutdown(fd_, SHUT_RD); }
  bool peerClosed() const override { return socketPeerClosed(fd_); }
  int fd() const override { return fd_; }

 private:
  int fd_;
};

// Closes a connection whose handshake failed so that the client reads the alert OpenSSL sent
// (e.g. TLS 1.3's "certificate required"): a close with the client's unread request still in
// the receive buffer would reset the connection and discard the alert. Half-closes, then
// drains what the client sends for at most a second.
void closeAfterAlert(int fd) {
  ::shutdown(fd, SHUT_WR);
  timeval limit{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  char sink[4096];
  for (size_t drained = 0; drained < (64u << 10);) {
    ssize_t n = ::recv(fd, sink, sizeof sink, 0);
    if (n <= 0) break;
    drained += static_cast<size_t>(n);
  }
  ::close(fd);
}

class TlsStream : public ByteStream {
 public:
  TlsStream(int fd, SSL_CTX* ctx) : lib_(openSsl()), fd_(fd), ssl_(lib_.sslNew(ctx)) {
    if (!ssl_) {
      ::close(fd_);
      throw Error(ErrorKind::internal, "SSL_new: " + opensslError(lib_));
    }
    lib_.setFd(ssl_, fd_);
    // A client that connects and never completes the handshake, or drips it a byte at a time,
    // must not hold a thread: the whole handshake has kHandshakeSeconds, driven non-blocking.
    int flags = ::fcntl(fd_, F_GETFL);
    ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kHandshakeSeconds);
    int accepted = 0;
    std::string why;
    for (;;) {
      accepted = lib_.accept(ssl_);
      if (accepted == 1) break;
      int err = lib_.getError(ssl_, accepted);
      if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
        why = opensslError(lib_);
        break;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      pollfd p{fd_, static_cast<short>(err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
        why = "not completed within " + std::to_string(kHandshakeSeconds) + " s";
        break;
      }
    }
    if (accepted != 1) {
      ::fcntl(fd_, F_SETFL, flags);
      lib_.sslFree(ssl_);
      closeAfterAlert(fd_);
      throw Error(ErrorKind::invalid, "TLS handshake: " + why);
    }
    // The socket stays non-blocking: see read() and write().
    lib_.ctrl(ssl_, SSL_CTRL_MODE, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER, nullptr);  // SSL_set_mode
  }
  ~TlsStream() override {
    {
      std::lock_guard lock(mutex_);
      lib_.shutdown(ssl_);
      lib_.sslFree(ssl_);
    }
    ::close(fd_);
  }

  // One SSL object serves a reader thread and a writer thread at once (attach and exec over
  // TLS): OpenSSL allows no concurrent calls on it, so every call holds mutex_, and the socket
  // is non-blocking so no call ever waits inside OpenSSL with the lock held; the waiting is
  // done in poll(), outside it.
  size_t read(char* data, size_t size) override {
    for (;;) {
      int want;
      {
        std::lock_guard lock(mutex_);
        lib_.errClear();
        int n = lib_.read(ssl_, data, static_cast<int>(size));
        if (n > 0) return static_cast<size_t>(n);
        int err = lib_.getError(ssl_, n);
        if (err == SSL_ERROR_ZERO_RETURN) return 0;
        if (err == SSL_ERROR_SYSCALL && errno != EAGAIN && errno != EWOULDBLOCK) return 0;  // reset or closed
        if (err == SSL_ERROR_WANT_WRITE) want = POLLOUT;
        else if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_SYSCALL) want = POLLIN;
        else throw Error(ErrorKind::internal, "TLS read: " + opensslError(lib_));
      }
      awaitSocket(want, readDeadline());
    }
  }

  void write(std::string_view data) override {
    while (!data.empty()) {
      int want;
      {
        std::lock_guard lock(mutex_);
        lib_.errClear();
        int n = lib_.write(ssl_, data.data(), static_cast<int>(data.size()));
        if (n > 0) {
          data.remove_prefix(static_cast<size_t>(n));
          continue;
        }
        int err = lib_.getError(ssl_, n);
        if (err == SSL_ERROR_WANT_WRITE || (err == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK))) {
          want = POLLOUT;
        } else if (err == SSL_ERROR_WANT_READ) {
          want = POLLIN;
        } else {
          throw Error(ErrorKind::internal, "TLS write: " + opensslError(lib_));
        }
      }
      awaitSocket(want, std::nullopt);
    }
  }

  void closeWrite() override {
    std::lock_guard lock(mutex_);
    lib_.shutdown(ssl_);
  }
  void shutdownRead() override { ::shutdown(fd_, SHUT_RD); }
  bool peerClosed() const override { return socketPeerClosed(fd_); }
  int fd() const override { return fd_; }

 private:
  // Waits until the socket can do what OpenSSL asked for; throws deadlineExceeded when the
  // read deadline passes first.
  void awaitSocket(int events, const std::optional<std::chrono::steady_clock::time_point>& deadline) {
    for (;;) {
      int timeoutMs = -1;
      if (deadline) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) readDeadlinePassed();
        timeoutMs = static_cast<int>(std::min<long long>(left.count() + 1, 1 << 30));
      }
      pollfd p{fd_, static_cast<short>(events), 0};
      int n = ::poll(&p, 1, timeoutMs);
      if (n < 0 && errno == EINTR) continue;
      if (n == 0) readDeadlinePassed();
      return;  // ready, or an error OpenSSL will report on the next call
    }
  }

  const OpenSslLibrary& lib_;
  std::mutex mutex_;
  int fd_;
  SSL* ssl_;
};

}  // namespace

void ByteStream::writeParts(std::initializer_list<std::string_view> parts) {
  // Small parts are joined so that they leave in one write; a large one goes on its own.
  constexpr size_t kJoinBelow = 64 << 10;
  size_t total = 0;
  for (auto part : parts) total += part.size();
  if (total < kJoinBelow) {
    std::string joined;
    joined.reserve(total);
    for (auto part : parts) joined.append(part);
    write(joined);
    return;
  }
  for (auto part : parts) {
    if (!part.empty()) write(part);
  }
}

void ByteStream::armReadTimeout(int fd) {
  if (!readDeadline_) {
    if (armedSteps_ != 0) {
      timeval none{0, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
      armedSteps_ = 0;
    }
    return;
  }
  auto left = *readDeadline_ - std::chrono::steady_clock::now();
  if (left.count() <= 0) readDeadlinePassed();
  int64_t steps = (left + kTimeoutStep - std::chrono::nanoseconds(1)) / kTimeoutStep;
  if (steps == armedSteps_) return;
  auto limit = std::chrono::duration_cast<std::chrono::microseconds>(steps * kTimeoutStep);
  timeval tv{static_cast<time_t>(limit.count() / 1000000), static_cast<suseconds_t>(limit.count() % 1000000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  armedSteps_ = steps;
}

std::unique_ptr<ByteStream> makeSocketStream(int fd) { return std::make_unique<SocketStream>(fd); }

std::unique_ptr<ByteStream> makeTlsStream(int fd, SSL_CTX* context) { return std::make_unique<TlsStream>(fd, context); }

SSL_CTX* makeTlsContext(const std::string& certFile, const std::string& keyFile, const std::string& caFile,
                        bool verifyClients) {
  const OpenSslLibrary& ssl = openSsl();
  std::unique_ptr<SSL_CTX, decltype(ssl.ctxFree)> owned(ssl.ctxNew(ssl.serverMethod()), ssl.ctxFree);
  SSL_CTX* ctx = owned.get();
  if (!ctx) throw Error(ErrorKind::internal, "SSL_CTX_new: " + opensslError(ssl));
  ssl.ctxCtrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, TLS1_2_VERSION, nullptr);  // SSL_CTX_set_min_proto_version
  if (ssl.ctxUseCertificateChainFile(ctx, certFile.c_str()) != 1) {
    throw Error(ErrorKind::invalid, "tlscert " + certFile + ": " + opensslError(ssl));
  }
  if (ssl.ctxUsePrivateKeyFile(ctx, keyFile.c_str(), SSL_FILETYPE_PEM) != 1) {
    throw Error(ErrorKind::invalid, "tlskey " + keyFile + ": " + opensslError(ssl));
  }
  if (!caFile.empty()) {
    if (ssl.ctxLoadVerifyLocations(ctx, caFile.c_str(), nullptr) != 1) {
      throw Error(ErrorKind::invalid, "tlscacert " + caFile + ": " + opensslError(ssl));
    }
  }
  if (verifyClients) ssl.ctxSetVerify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  return owned.release();
}

}  // namespace berth::http
