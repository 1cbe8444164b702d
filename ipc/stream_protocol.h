// The bridge's stream socket (docs/ipc.md, "Byte streams"): docker logs, attach, exec and cp
// carry long-lived byte streams on a unix socket of the bridge's own, one stream per
// connection. This is the one definition of its lines and frames, used by both ends: berth-api
// connects; the bridge's StreamServer and berth-archive answer.
//
//   client -> server   one request line: a JSON object, {"op": "logs"|"attach"|"exec"|"archive", ...}
//   server -> client   one reply line:   {"ok": true, ...} or
//                                        {"ok": false, "kind": K, "message": M}
//                      (K is common/errors.h's errorKindName), then the stream until the server
//                      closes; bytes the client sends after its request are stdin.
//   archive get        the tar in frames: a 4-byte big-endian length, then that many bytes; a
//                      frame of length 0 ends a complete archive.
//   marked attach/exec (the request's "marked": true) the stream in pieces (below), so that the
//                      client tells the stream's end from a bridge that died, and knows where in
//                      the container's log an attach stood.
//
// No Cap'n Proto here: berth-archive, a small sandboxed process, speaks it too.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/errors.h"

namespace berth::ipc::streams {

// The socket in the engine's ipc directory (<exec-root>/ipc).
std::string socketPath(std::string_view ipcDir);

// A line is at most this long; a longer one is cut there (and then fails to parse).
constexpr size_t kMaxLineBytes = 1 << 20;

// The request line. It carries what a Docker client sent, which must be valid UTF-8: encoding
// throws nlohmann::json::type_error otherwise.
std::string requestLine(const nlohmann::json& request);

// The reply lines. `fields` may carry names from a container's filesystem, so text JSON cannot
// carry is replaced rather than thrown on.
std::string okLine(nlohmann::json fields = nlohmann::json::object());
std::string errorLine(ErrorKind kind, std::string_view message);

// A line as a JSON object; nullopt when it is not one (the peer closed or broke the stream).
std::optional<nlohmann::json> parseLine(std::string_view line);

// Throws the Error a refusal ({"ok": false, ...}) carries: its kind (internal when the name is
// unknown) and its message (`fallback` when it has none). Returns when the reply is ok.
void throwIfRefused(const nlohmann::json& reply, std::string_view fallback);

// Reads one line, without its newline, a byte at a time so that nothing after it is consumed
// (the stream follows it). Ends at the newline, the end of input, an error or kMaxLineBytes.
std::string readLine(int fd);

// Writes all of `data` to a socket (or, for a process run with one as stdout, any descriptor);
// false when the peer is gone. Never raises SIGPIPE.
bool writeAll(int fd, std::string_view data);

// Archive frames. writeFrame writes one (empty `data`: the end frame); false when the peer is
// gone. readFrame reads the next into `data` (empty: the end frame) and throws internal when the
// stream ends before the end frame ("the container's archive was cut short", so a client never
// takes a truncated archive for a whole one) or a frame is over kMaxFrameBytes.
constexpr size_t kMaxFrameBytes = size_t{64} << 20;
bool writeFrame(int fd, std::string_view data);
void readFrame(int fd, std::string& data);

// Pieces of a marked stream: a kind byte, a 4-byte big-endian length, then that many bytes.
//   data      Docker's wire format, as an unmarked stream carries it (at most kMaxPieceBytes);
//   position  an attach's place in the container's log just after the data before it, a JSON
//             object {"file", "offset"} to send back as a resumed attach's "resume";
//   end       empty: the stream ended as it should (the container exited, the exec finished).
// A stream that stops before an end piece was cut: its server went away.
enum class PieceKind : char { data = 'd', position = 'p', end = 'e' };
constexpr size_t kMaxPieceBytes = size_t{1} << 20;
std::string piece(PieceKind kind, std::string_view payload);
// The next piece; false at a cut (the input ended or failed before a whole piece) or at a
// piece that is not one (unknown kind, too long).
bool readPiece(int fd, PieceKind& kind, std::string& payload);

}  // namespace berth::ipc::streams
