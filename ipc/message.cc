#include "ipc/message.h"

#include <algorithm>
#include <cstring>

#include "common/errors.h"

namespace berth::ipc {

capnp::ReaderOptions readerOptions(size_t frameBytes) {
  capnp::ReaderOptions o;
  uint64_t frameWords = frameBytes / sizeof(capnp::word);
  o.traversalLimitInWords = std::clamp<uint64_t>(frameWords * 8, 64 << 10, static_cast<uint64_t>(kMaxMessageBytes / 8) * 2);
  o.nestingLimit = 32;
  return o;
}

MessageIn::MessageIn(const zmq::message_t& frame) { open(frame.data(), frame.size(), true); }

MessageIn::MessageIn(zmq::message_t&& frame) : frame_(std::move(frame)) {
  bool aligned = reinterpret_cast<uintptr_t>(frame_.data()) % alignof(capnp::word) == 0;
  open(frame_.data(), frame_.size(), !aligned);
}

void MessageIn::open(const void* data, size_t size, bool copy) {
  if (size == 0 || size % sizeof(capnp::word) != 0) {
    throw Error(ErrorKind::invalid,
                "malformed message: " + std::to_string(size) + " bytes is not a whole number of words");
  }
  kj::ArrayPtr<const capnp::word> words(static_cast<const capnp::word*>(data), size / sizeof(capnp::word));
  if (copy) {
    words_ = kj::heapArray<capnp::word>(size / sizeof(capnp::word));
    std::memcpy(words_.begin(), data, size);
    words = words_.asPtr();
  }
  reader_ = kj::heap<capnp::FlatArrayMessageReader>(words, readerOptions(size));
}

zmq::message_t encode(capnp::MessageBuilder& message) {
  auto* words = new kj::Array<capnp::word>(capnp::messageToFlatArray(message));
  auto bytes = words->asBytes();
  return zmq::message_t(bytes.begin(), bytes.size(), [](void*, void* hint) {
    delete static_cast<kj::Array<capnp::word>*>(hint);
  }, words);
}

}  // namespace berth::ipc
