// Typed references to interface methods. The schemas in ipc/schema declare real Cap'n Proto
// interfaces; a call names a method as (interface id, ordinal), as Cap'n Proto RPC does, and
// the params/results structs the compiler generates for that method are the payloads.
#pragma once

#include <capnp/schema.h>

#include <cstdint>
#include <functional>
#include <string>

#include "common/errors.h"

namespace berth::ipc {

struct MethodKey {
  uint64_t interfaceId = 0;
  uint16_t methodId = 0;
  bool operator==(const MethodKey&) const = default;
};

// The id of service.capnp's `readOnly` annotation.
constexpr uint64_t kReadOnlyAnnotationId = 0xed1d41e31549f15dull;

struct MethodKeyHash {
  size_t operator()(const MethodKey& k) const { return std::hash<uint64_t>()(k.interfaceId * 131 + k.methodId); }
};

// Resolves `name` on `Interface` (superinterfaces included) and checks at run time that the
// caller's Params/Results types are the ones the schema declares, so a mismatch fails at start
// rather than corrupting a call.
template <typename Interface, typename Params, typename Results>
struct Method {
  using ParamsType = Params;
  using ResultsType = Results;

  explicit Method(const char* name) : name(name) {
    auto iface = capnp::Schema::from<Interface>();
    auto m = iface.getMethodByName(name);
    if (m.getParamType().getProto().getId() != capnp::typeId<Params>() ||
        m.getResultType().getProto().getId() != capnp::typeId<Results>()) {
      throw Error(ErrorKind::internal, std::string("ipc: wrong params/results types for method ") + name);
    }
    key = {m.getContainingInterface().getProto().getId(), m.getOrdinal()};
    for (auto a : m.getProto().getAnnotations()) readOnly = readOnly || a.getId() == kReadOnlyAnnotationId;
  }

  std::string name;
  MethodKey key;
  bool readOnly = false;  // annotated $readOnly in the schema: changes nothing
};

}  // namespace berth::ipc
