#include "common/errors.h"

#include <cerrno>
#include <cstring>
#include <iterator>

namespace berth {

namespace {

// Indexed by the kind's number; the unit test checks every kind has its own name.
constexpr std::string_view kNames[] = {
    "invalid", "notFound", "conflict", "forbidden", "unavailable", "deadlineExceeded", "tooLarge", "internal",
    "unauthorized",
};
static_assert(std::size(kNames) == kErrorKindCount, "every ErrorKind has a name");

}  // namespace

std::string_view errorKindName(ErrorKind kind) {
  int i = static_cast<int>(kind);
  return i >= 0 && i < kErrorKindCount ? kNames[i] : "internal";
}

std::optional<ErrorKind> errorKindFromName(std::string_view name) {
  for (int i = 0; i < kErrorKindCount; ++i) {
    if (kNames[i] == name) return static_cast<ErrorKind>(i);
  }
  return std::nullopt;
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
