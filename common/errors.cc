#include "common/errors.h"

#include <cerrno>
#include <cstring>

namespace berth {

std::string_view errorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::invalid: return "invalid";
    case ErrorKind::notFound: return "not found";
    case ErrorKind::conflict: return "conflict";
    case ErrorKind::forbidden: return "forbidden";
    case ErrorKind::unavailable: return "unavailable";
    case ErrorKind::deadlineExceeded: return "deadline exceeded";
    case ErrorKind::tooLarge: return "too large";
    case ErrorKind::internal: return "internal";
    case ErrorKind::unauthorized: return "unauthorized";
  }
  return "internal";
}

void throwSystemError(std::string_view call, std::string_view path, int err) {
  std::string msg(call);
  if (!path.empty()) {
    msg += " ";
    msg += path;
  }
  msg += ": ";
  msg += std::strerror(err);
  throw Error(err == ENOENT ? ErrorKind::notFound : ErrorKind::internal, std::move(msg));
}

void throwSystemError(std::string_view call, std::string_view path) {
  throwSystemError(call, path, errno);
}

}  // namespace berth
