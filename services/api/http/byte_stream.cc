#include "services/api/http/byte_stream.h"

#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "common/errors.h"

namespace berth::http {
namespace {

std::string opensslError() {
  unsigned long e = ERR_get_error();
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

bool socketPeerClosed(int fd) {
  pollfd p{fd, POLLIN | POLLRDHUP, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  return (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

class SocketStream : public ByteStream {
 public:
  explicit SocketStream(int fd) : fd_(fd) {}
  ~SocketStream() override { ::close(fd_); }

  size_t read(char* data, size_t size) override {
    for (;;) {
      ssize_t n = ::recv(fd_, data, size, 0);
      if (n >= 0) return static_cast<size_t>(n);
      if (errno == EINTR) continue;
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
  TlsStream(int fd, SSL_CTX* ctx) : fd_(fd), ssl_(SSL_new(ctx)) {
    if (!ssl_) {
      ::close(fd_);
      throw Error(ErrorKind::internal, "SSL_new: " + opensslError());
    }
    SSL_set_fd(ssl_, fd_);
    // A client that connects and never completes the handshake must not hold a thread forever.
    timeval limit{10, 0}, none{0, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    int accepted = SSL_accept(ssl_);
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof none);
    if (accepted != 1) {
      std::string why = opensslError();
      SSL_free(ssl_);
      closeAfterAlert(fd_);
      throw Error(ErrorKind::invalid, "TLS handshake: " + why);
    }
  }
  ~TlsStream() override {
    SSL_shutdown(ssl_);
    SSL_free(ssl_);
    ::close(fd_);
  }

  size_t read(char* data, size_t size) override {
    int n = SSL_read(ssl_, data, static_cast<int>(size));
    if (n > 0) return static_cast<size_t>(n);
    int err = SSL_get_error(ssl_, n);
    if (err == SSL_ERROR_ZERO_RETURN || err == SSL_ERROR_SYSCALL) return 0;
    throw Error(ErrorKind::internal, "TLS read: " + opensslError());
  }

  void write(std::string_view data) override {
    while (!data.empty()) {
      int n = SSL_write(ssl_, data.data(), static_cast<int>(data.size()));
      if (n <= 0) throw Error(ErrorKind::internal, "TLS write: " + opensslError());
      data.remove_prefix(static_cast<size_t>(n));
    }
  }

  void closeWrite() override { SSL_shutdown(ssl_); }
  void shutdownRead() override { ::shutdown(fd_, SHUT_RD); }
  bool peerClosed() const override { return socketPeerClosed(fd_); }
  int fd() const override { return fd_; }

 private:
  int fd_;
  SSL* ssl_;
};

}  // namespace

std::unique_ptr<ByteStream> makeSocketStream(int fd) { return std::make_unique<SocketStream>(fd); }

std::unique_ptr<ByteStream> makeTlsStream(int fd, SSL_CTX* context) { return std::make_unique<TlsStream>(fd, context); }

SSL_CTX* makeTlsContext(const std::string& certFile, const std::string& keyFile, const std::string& caFile,
                        bool verifyClients) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) throw Error(ErrorKind::internal, "SSL_CTX_new: " + opensslError());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (SSL_CTX_use_certificate_chain_file(ctx, certFile.c_str()) != 1) {
    throw Error(ErrorKind::invalid, "tlscert " + certFile + ": " + opensslError());
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, keyFile.c_str(), SSL_FILETYPE_PEM) != 1) {
    throw Error(ErrorKind::invalid, "tlskey " + keyFile + ": " + opensslError());
  }
  if (!caFile.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, caFile.c_str(), nullptr) != 1) {
      throw Error(ErrorKind::invalid, "tlscacert " + caFile + ": " + opensslError());
    }
  }
  if (verifyClients) SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  return ctx;
}

}  // namespace berth::http
