// Domain errors shared by every berth process. A service raises these; only the API edge maps
// them to Docker's HTTP status codes and message strings (as Moby's errdefs does).
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace berth {

enum class ErrorKind {
  invalid,           // the request is malformed or names something impossible (HTTP 400)
  notFound,          // the named object does not exist (404)
  conflict,          // the object exists or is in a state that forbids the operation (409)
  forbidden,         // refused by policy (403)
  unavailable,       // a peer service is down or went away mid-call (503)
  deadlineExceeded,  // the peer is up but did not answer in time (504)
  tooLarge,          // a request body or message exceeds its limit (413)
  internal,          // a bug or an unexpected system failure (500)
  unauthorized,      // credentials missing or refused, e.g. by a registry (401)
  // Append only: the kinds cross process boundaries by number (ipc/schema/rpc.capnp mirrors
  // them) and by name (the stream socket's reply lines).
};
constexpr int kErrorKindCount = static_cast<int>(ErrorKind::unauthorized) + 1;

// The one name of each kind wherever a kind is written as text (the stream socket's reply
// lines, docs/ipc.md): the enumerator's own spelling, "notFound", "deadlineExceeded", ...
std::string_view errorKindName(ErrorKind kind);
// The kind a name stands for; nullopt for a name this build does not know (a caller decides
// what an unknown kind from a peer means: usually internal).
std::optional<ErrorKind> errorKindFromName(std::string_view name);

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, std::string message) : std::runtime_error(std::move(message)), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

// Throws an internal Error naming the failed call, the path it acted on and errno's text.
[[noreturn]] void throwSystemError(std::string_view call, std::string_view path, int err);
[[noreturn]] void throwSystemError(std::string_view call, std::string_view path);

}  // namespace berth
