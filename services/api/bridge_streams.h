// The API's end of the bridge's stream socket (ipc/stream_protocol.h): one connection per
// docker logs, attach, exec or cp, and the copying of its bytes to and from the client's
// connection. The routes decide what to ask and how the answer is framed in HTTP; this file
// only moves bytes.
#pragma once

#include <atomic>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "services/api/http/byte_stream.h"

namespace berth::api {

// A connection to the bridge's stream socket whose request was accepted.
class BridgeStream {
 public:
  // Connects, sends `request` and reads the bridge's reply. Throws the bridge's refusal as its
  // Error; unavailable when the bridge cannot be reached or closes without a reply.
  BridgeStream(const std::string& socketPath, const nlohmann::json& request);
  ~BridgeStream();
  BridgeStream(const BridgeStream&) = delete;
  BridgeStream& operator=(const BridgeStream&) = delete;

  bool tty() const { return reply_.value("tty", false); }
  // The whole reply line (docker cp's "stat" rides on it).
  const nlohmann::json& reply() const { return reply_; }
  int fd() const { return fd_; }

  // Best effort: a bridge that went away shows as the end of what it sends.
  void send(std::string_view data);
  // Up to `cap` bytes; 0 at the end.
  size_t read(char* out, size_t cap);
  // A marked stream's next piece (ipc/stream_protocol.h); false at a cut.
  bool readPiece(char& kind, std::string& payload);
  // The end of what the API sends (stdin, a tar): a half-close.
  void closeInput();

  // docker cp get: the next piece of the tar into `data`, empty at its end. Throws internal
  // when the stream is cut short.
  void readArchiveFrame(std::string& data);
  // docker cp put: berth-archive's result line once it has read the tar. Throws its refusal, or
  // internal when the stream ends without one.
  void awaitResult();

 private:
  int fd_ = -1;
  nlohmann::json reply_;
};

// Copies a hijacked client connection and a bridge stream both ways until the bridge ends the
// stream; the client's end-of-input becomes a half-close towards the bridge. `leftover` is what
// the HTTP server read past the request. With a detach sequence (detach_keys.h), typing it ends
// the stream and leaves the container running, as dockerd. `relay`, when given, writes the
// bridge's output to the client instead of the plain copy (a marked stream's); it is told
// whether the client detached, which ends the stream from this side.
using Relay = std::function<void(const std::atomic<bool>& detached)>;
void splice(http::ByteStream& client, const std::string& leftover, BridgeStream& bridge, bool forwardInput,
            const std::string& detachSequence = "", const Relay& relay = {});

// Relays a marked stream's data to the client. With `position`, data is held until the
// position that follows it, which is then stored there: what a cut loses was never relayed and
// is read again from there by a resumed attach. true when the stream ended (its end piece, or
// the client went away), false when it was cut.
bool relayMarked(http::ByteStream& client, BridgeStream& bridge, nlohmann::json* position);

}  // namespace berth::api
