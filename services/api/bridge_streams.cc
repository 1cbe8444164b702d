#include "services/api/bridge_streams.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "common/errors.h"
#include "common/json_text.h"
#include "ipc/stream_protocol.h"
#include "services/api/detach_keys.h"

namespace berth::api {

namespace streams = ipc::streams;
using json = nlohmann::json;

BridgeStream::BridgeStream(const std::string& path, const json& request) {
  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int err = errno;
    ::close(fd_);
    throw Error(ErrorKind::unavailable, "containerd-bridge streams are unavailable: " + std::string(std::strerror(err)));
  }
  try {
    send(streams::requestLine(request));
    auto reply = streams::parseLine(streams::readLine(fd_));
    if (!reply) throw Error(ErrorKind::unavailable, "containerd-bridge closed the stream");
    streams::throwIfRefused(*reply, "stream refused");
    reply_ = std::move(*reply);
  } catch (...) {
    ::close(fd_);
    throw;
  }
}

BridgeStream::~BridgeStream() { ::close(fd_); }

void BridgeStream::send(std::string_view data) { streams::writeAll(fd_, data); }

size_t BridgeStream::read(char* out, size_t cap) {
  for (;;) {
    ssize_t n = ::read(fd_, out, cap);
    if (n < 0 && errno == EINTR) continue;
    return n > 0 ? static_cast<size_t>(n) : 0;
  }
}

bool BridgeStream::readPiece(char& kind, std::string& payload) {
  streams::PieceKind k{};
  if (!streams::readPiece(fd_, k, payload)) return false;
  kind = static_cast<char>(k);
  return true;
}

void BridgeStream::closeInput() { ::shutdown(fd_, SHUT_WR); }

void BridgeStream::readArchiveFrame(std::string& data) { streams::readFrame(fd_, data); }

void BridgeStream::awaitResult() {
  auto result = streams::parseLine(streams::readLine(fd_));
  if (!result) throw Error(ErrorKind::internal, "the archive extraction ended without a result");
  streams::throwIfRefused(*result, "extraction failed");
}

void splice(http::ByteStream& client, const std::string& leftover, BridgeStream& bridge, bool forwardInput,
            const std::string& detachSequence, const Relay& relay) {
  std::thread input;
  std::atomic<bool> detached{false};
  if (forwardInput) {
    input = std::thread([&client, &bridge, &detached, leftover, detachSequence] {
      DetachFilter filter(detachSequence);
      auto forward = [&](std::string_view data) {
        std::string out = filter.feed(data);
        if (!out.empty()) bridge.send(out);
        return !filter.detached();
      };
      bool more = leftover.empty() || forward(leftover);
      char buf[32 * 1024];
      try {
        while (more) {
          size_t n = client.read(buf, sizeof buf);
          if (n == 0) break;
          more = forward(std::string_view(buf, n));
        }
      } catch (const std::exception&) {
      }
      if (!filter.detached()) {
        if (std::string rest = filter.flush(); !rest.empty()) bridge.send(rest);
      }
      detached = filter.detached();
      ::shutdown(bridge.fd(), filter.detached() ? SHUT_RDWR : SHUT_WR);
    });
  }
  if (relay) {
    relay(detached);
  } else {
    char buf[32 * 1024];
    try {
      for (;;) {
        size_t n = bridge.read(buf, sizeof buf);
        if (n == 0) break;
        client.write(std::string_view(buf, n));
      }
    } catch (const std::exception&) {
    }
  }
  try {
    client.closeWrite();
  } catch (const std::exception&) {
  }
  if (input.joinable()) {
    client.shutdownRead();
    input.join();
  }
}

bool relayMarked(http::ByteStream& client, BridgeStream& bridge, json* position) {
  std::string held, payload;
  char kind = 0;
  try {
    while (bridge.readPiece(kind, payload)) {
      switch (static_cast<streams::PieceKind>(kind)) {
        case streams::PieceKind::data:
          if (position) held += payload;
          else client.write(payload);
          break;
        case streams::PieceKind::position: {
          auto at = parseJsonOrDiscarded(payload);
          if (!at.is_object()) return false;
          if (!held.empty()) client.write(held);
          held.clear();
          if (position) *position = std::move(at);
          break;
        }
        case streams::PieceKind::end:
          if (!held.empty()) client.write(held);
          return true;
      }
    }
  } catch (const std::exception&) {
    return true;  // the client went away: nothing is left to relay to
  }
  return false;
}

}  // namespace berth::api
