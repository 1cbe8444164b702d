// How unit tests check a refusal: by the kind of berth::Error it throws (and, where dockerd
// fixes it, its message), never by "some Error was thrown", which an unrelated failure passes.
#pragma once

#include <functional>
#include <string>

#include "common/errors.h"

namespace berth::test {

// The name of the kind of the berth::Error `op` throws ("notFound", "invalid", …); "nothing
// thrown" or "not a berth::Error: …" otherwise.
inline std::string thrownKind(const std::function<void()>& op) {
  try {
    op();
  } catch (const Error& e) {
    return std::string(errorKindName(e.kind()));
  } catch (const std::exception& e) {
    return std::string("not a berth::Error: ") + e.what();
  }
  return "nothing thrown";
}

// The message of the berth::Error `op` throws; "nothing thrown" otherwise.
inline std::string thrownMessage(const std::function<void()>& op) {
  try {
    op();
  } catch (const Error& e) {
    return e.what();
  }
  return "nothing thrown";
}

}  // namespace berth::test
