// berth::ErrorKind on the wire. rpc.capnp's ErrorKind mirrors it number for number, so the
// conversion is a cast; tests/unit/errors_test.cc checks that every kind round-trips and that
// the schema's enumerant names are common/errors.h's names.
#pragma once

#include "common/errors.h"
#include "ipc/schema/rpc.capnp.h"

namespace berth::ipc {

inline wire::ErrorKind toWire(ErrorKind kind) { return static_cast<wire::ErrorKind>(static_cast<int>(kind)); }

// A kind this build does not know (sent by a newer peer) is internal.
inline ErrorKind fromWire(wire::ErrorKind kind) {
  int i = static_cast<int>(kind);
  return i >= 0 && i < kErrorKindCount ? static_cast<ErrorKind>(i) : ErrorKind::internal;
}

}  // namespace berth::ipc
