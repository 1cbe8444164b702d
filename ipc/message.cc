#include "ipc/message.h"

#include <cstring>

#include "common/errors.h"

namespace berth::ipc {

capnp::ReaderOptions readerOptions() {
  capnp::ReaderOptions o;
  o.traversalLimitInWords = static_cast<uint64_t>(kMaxMessageBytes / 8) * 2;
  o.nestingLimit = 32;
  return o;
}

MessageIn::MessageIn(const zmq::message_t& frame) {
  if (frame.size() == 0 || frame.size() % sizeof(capnp::word) != 0) {
    throw Error(ErrorKind::invalid, "malformed message: " + std::to_string(frame.size()) +
                                        " bytes is not a whole number of words");
  }
  words_ = kj::heapArray<capnp::word>(frame.size() / sizeof(capnp::word));
  std::memcpy(words_.begin(), frame.data(), frame.size());
  reader_ = kj::heap<capnp::FlatArrayMessageReader>(words_.asPtr(), readerOptions());
}

zmq::message_t encode(capnp::MessageBuilder& message) {
  auto words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  return zmq::message_t(bytes.begin(), bytes.size());
}

}  // namespace berth::ipc
