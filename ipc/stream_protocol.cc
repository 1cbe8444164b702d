#include "ipc/stream_protocol.h"
#include "common/json_text.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace berth::ipc::streams {

using json = nlohmann::json;

std::string socketPath(std::string_view ipcDir) { return std::string(ipcDir) + "/containerd-bridge-streams.sock"; }

std::string requestLine(const json& request) { return request.dump() + "\n"; }

std::string okLine(json fields) {
  fields["ok"] = true;
  return fields.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string errorLine(ErrorKind kind, std::string_view message) {
  json line = {{"ok", false}, {"kind", errorKindName(kind)}, {"message", message}};
  return line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

std::optional<json> parseLine(std::string_view line) {
  auto doc = parseJsonOrDiscarded(line);
  if (!doc.is_object()) return std::nullopt;
  return doc;
}

void throwIfRefused(const json& reply, std::string_view fallback) {
  if (reply.value("ok", false)) return;
  auto kind = errorKindFromName(reply.value("kind", ""));
  throw Error(kind.value_or(ErrorKind::internal), reply.value("message", std::string(fallback)));
}

std::string readLine(int fd) {
  std::string line;
  char c;
  while (line.size() < kMaxLineBytes) {
    ssize_t n = ::read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || c == '\n') break;
    line += c;
  }
  return line;
}

bool writeAll(int fd, std::string_view data) {
  bool socket = true;
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = socket ? ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL)
                       : ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == ENOTSOCK && socket) {
      socket = false;
      continue;
    }
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

bool writeFrame(int fd, std::string_view data) {
  const unsigned char head[4] = {static_cast<unsigned char>(data.size() >> 24), static_cast<unsigned char>(data.size() >> 16),
                                 static_cast<unsigned char>(data.size() >> 8), static_cast<unsigned char>(data.size())};
  return writeAll(fd, std::string_view(reinterpret_cast<const char*>(head), sizeof head)) && writeAll(fd, data);
}

namespace {

bool readExact(int fd, char* to, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::read(fd, to + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    got += static_cast<size_t>(r);
  }
  return true;
}

}  // namespace

void readFrame(int fd, std::string& data) {
  unsigned char head[4];
  if (!readExact(fd, reinterpret_cast<char*>(head), sizeof head)) {
    throw Error(ErrorKind::internal, "the container's archive was cut short");
  }
  size_t length = (size_t{head[0]} << 24) | (size_t{head[1]} << 16) | (size_t{head[2]} << 8) | head[3];
  if (length > kMaxFrameBytes) throw Error(ErrorKind::internal, "malformed archive frame");
  data.resize(length);
  if (!readExact(fd, data.data(), length)) throw Error(ErrorKind::internal, "the container's archive was cut short");
}

std::string piece(PieceKind kind, std::string_view payload) {
  std::string out(5, '\0');
  out[0] = static_cast<char>(kind);
  for (int i = 0; i < 4; ++i) out[1 + i] = static_cast<char>((payload.size() >> (8 * (3 - i))) & 0xff);
  out.append(payload);
  return out;
}

bool readPiece(int fd, PieceKind& kind, std::string& payload) {
  unsigned char head[5];
  if (!readExact(fd, reinterpret_cast<char*>(head), sizeof head)) return false;
  size_t length = (size_t{head[1]} << 24) | (size_t{head[2]} << 16) | (size_t{head[3]} << 8) | head[4];
  kind = static_cast<PieceKind>(head[0]);
  if (length > kMaxPieceBytes) return false;
  if (kind != PieceKind::data && kind != PieceKind::position && kind != PieceKind::end) return false;
  payload.resize(length);
  return readExact(fd, payload.data(), length);
}

}  // namespace berth::ipc::streams
