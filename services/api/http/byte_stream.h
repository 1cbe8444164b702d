// A connected byte stream: a plain socket or a TLS session over one. The HTTP server reads
// requests from it and, for a hijacked connection, hands it to the handler as a raw stream.
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <cstddef>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace berth::http {

class ByteStream {
 public:
  virtual ~ByteStream() = default;
  // Reads up to `size` bytes; 0 at end of stream; throws on error.
  virtual size_t read(char* data, size_t size) = 0;
  // Writes everything or throws (a peer that went away is an error).
  virtual void write(std::string_view data) = 0;
  // Writes the parts in order, as one write where the stream can (a chunk's size line, its
  // bytes and its end), so large bytes are not first copied to sit beside small framing.
  virtual void writeParts(std::initializer_list<std::string_view> parts);
  // Half-closes the write side (raw streams after the container's output ends).
  virtual void closeWrite() = 0;
  // Unblocks a reader on this stream from another thread.
  virtual void shutdownRead() = 0;
  // True when the peer has closed or reset the connection (checked without blocking).
  virtual bool peerClosed() const = 0;
  virtual int fd() const = 0;

  // Reads after `deadline` fail with deadlineExceeded (nullopt: none). It bounds a whole
  // sequence of reads, so a client that sends one byte at a time cannot stretch it.
  void setReadDeadline(std::optional<std::chrono::steady_clock::time_point> deadline) { readDeadline_ = deadline; }
  // How much berth's rounding may add to a read's deadline (armReadTimeout).
  static constexpr std::chrono::milliseconds kTimeoutStep{10};

 protected:
  // Before a blocking read: sets the socket's receive timeout to what is left of the deadline,
  // rounded up to kTimeoutStep (or clears it when there is none any more); throws
  // deadlineExceeded when nothing is left. A read then never ends before its deadline, and
  // berth's rounding adds at most kTimeoutStep to it (the kernel keeps the timeout in jiffies
  // and, for long ones, fires on a coarser timer, as it did before). The timeout is set only when
  // that rounded figure changed: a kept-alive connection's next wait arms the same idle
  // timeout, and a system call per request was spent on setting it again.
  void armReadTimeout(int fd);
  const std::optional<std::chrono::steady_clock::time_point>& readDeadline() const { return readDeadline_; }

 private:
  std::optional<std::chrono::steady_clock::time_point> readDeadline_;
  // The receive timeout the socket has, in kTimeoutSteps; 0: none.
  int64_t armedSteps_ = 0;
};

// Owns `fd`.
std::unique_ptr<ByteStream> makeSocketStream(int fd);

// Completes a TLS handshake as the server over `fd` (owned); throws when it fails.
std::unique_ptr<ByteStream> makeTlsStream(int fd, SSL_CTX* context);

// A server-side TLS context from PEM files; with `verifyClients`, clients must present a
// certificate signed by `caFile`. Throws with OpenSSL's reason on failure.
SSL_CTX* makeTlsContext(const std::string& certFile, const std::string& keyFile, const std::string& caFile,
                        bool verifyClients);

}  // namespace berth::http
