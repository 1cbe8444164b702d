// Cap'n Proto frames as a peer sends them over ZeroMQ (ipc/message.h): MessageIn opens the
// bytes with berth's reader limits, then the frame is read as what the receiver takes it for:
// a call or reply header (read field by field as rpc_server.cc and rpc_client.cc do), an engine
// event (fromCapnp, as the API's event subscribers do), or the params or results of any method
// of berth's interfaces, walked whole (every field, list element and union member a handler
// could read). Malformed frames are refused with a berth::Error or a kj::Exception, which every
// receiver catches; anything else, and any read outside the frame, is a finding.
//
// Input: one byte choosing the type (0 call header, 1 reply header, 2 event, 3 on: the params
// and results of each method in turn; BERTH_FUZZ_LIST_TYPES=1 lists them), then the frame.
#include <capnp/dynamic.h>
#include <capnp/schema.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "common/errors.h"
#include "ipc/events.h"
#include "ipc/message.h"
#include "ipc/schema/containerd_bridge.capnp.h"
#include "ipc/schema/events.capnp.h"
#include "ipc/schema/images.capnp.h"
#include "ipc/schema/network.capnp.h"
#include "ipc/schema/rpc.capnp.h"
#include "ipc/schema/service.capnp.h"
#include "ipc/schema/supervisor.capnp.h"
#include "ipc/schema/volumes.capnp.h"
#include "ipc/wire_errors.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

std::vector<capnp::StructSchema>* types;

// Every params and results struct of `interface` and of the interfaces it extends.
void addMethods(capnp::InterfaceSchema interface) {
  for (auto method : interface.getMethods()) {
    types->push_back(method.getParamType());
    types->push_back(method.getResultType());
  }
  for (auto super : interface.getSuperclasses()) addMethods(super);
}

void walk(capnp::DynamicValue::Reader value);

void walkStruct(capnp::DynamicStruct::Reader s) {
  for (auto field : s.getSchema().getNonUnionFields()) walk(s.get(field));
  KJ_IF_MAYBE(active, s.which()) { walk(s.get(*active)); }
}

void walk(capnp::DynamicValue::Reader value) {
  switch (value.getType()) {
    case capnp::DynamicValue::STRUCT: walkStruct(value.as<capnp::DynamicStruct>()); break;
    case capnp::DynamicValue::LIST:
      for (auto element : value.as<capnp::DynamicList>()) walk(element);
      break;
    case capnp::DynamicValue::TEXT: value.as<capnp::Text>().size(); break;
    case capnp::DynamicValue::DATA: value.as<capnp::Data>().size(); break;
    case capnp::DynamicValue::ANY_POINTER: value.as<capnp::AnyPointer>().targetSize(); break;
    default: break;
  }
}

void read(berth::ipc::MessageIn& in, size_t choice) {
  switch (choice) {
    case 0: {
      auto h = in.root<berth::ipc::wire::CallHeader>();
      h.getRequestId();
      h.getInterfaceId();
      h.getMethodId();
      h.getTimeoutMs();
      return;
    }
    case 1: {
      auto r = in.root<berth::ipc::wire::ReplyHeader>();
      r.getRequestId();
      if (r.isError()) {
        berth::ipc::fromWire(r.getError().getKind());
        std::string message = r.getError().getMessage();
        (void)message;
      }
      return;
    }
    case 2: berth::ipc::fromCapnp(in.root<berth::ipc::Event>()); return;
    default: {
      // As the RPC client checks a results frame before handing it on.
      in.root<capnp::AnyPointer>().targetSize();
      auto schema = (*types)[(choice - 3) % types->size()];
      walkStruct(in.reader().getRoot<capnp::DynamicStruct>(schema));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  types = new std::vector<capnp::StructSchema>;
  addMethods(capnp::Schema::from<berth::ipc::Images>());
  addMethods(capnp::Schema::from<berth::ipc::Volumes>());
  addMethods(capnp::Schema::from<berth::ipc::Network>());
  addMethods(capnp::Schema::from<berth::ipc::ContainerdBridge>());
  addMethods(capnp::Schema::from<berth::ipc::Supervisor>());
  // For writing seeds: which choice byte is which type.
  if (getenv("BERTH_FUZZ_LIST_TYPES")) {
    for (size_t i = 0; i < types->size(); ++i) printf("%zu %s\n", i + 3, (*types)[i].getProto().getDisplayName().cStr());
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  size_t choice = data[0];
  // Both ways a frame is opened: borrowed when ZeroMQ's buffer is word-aligned, else copied
  // (a short frame lives inside zmq_msg_t itself, at whatever alignment that has).
  for (bool borrowed : {false, true}) {
    try {
      zmq::message_t frame(data + 1, size - 1);
      auto in = borrowed ? std::make_unique<berth::ipc::MessageIn>(std::move(frame))
                         : std::make_unique<berth::ipc::MessageIn>(frame);
      read(*in, choice);
    } catch (const berth::Error& e) {
      if (e.kind() != berth::ErrorKind::invalid) berth::fuzz::invariantBroken(std::string("refused as ") + e.what());
    } catch (const kj::Exception&) {
    }
  }
  return 0;
}
