#include "ipc/message.h"

#include <endian.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

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

FrameBuilder::FrameBuilder(size_t firstSegmentWords) : firstSegmentWords_(std::max<size_t>(firstSegmentWords, 1)) {}

FrameBuilder::~FrameBuilder() {
  std::free(first_);
  for (void* segment : more_) std::free(segment);
}

kj::ArrayPtr<capnp::word> FrameBuilder::allocateSegment(uint minimumSize) {
  if (allocatedWords_ == 0) {
    size_t words = std::max<size_t>(minimumSize, firstSegmentWords_);
    first_ = static_cast<capnp::word*>(std::calloc(words + 1, sizeof(capnp::word)));
    if (first_ == nullptr) throw std::bad_alloc();
    allocatedWords_ = words;
    return {first_ + 1, words};
  }
  if (released_) throw std::logic_error("a FrameBuilder is not used after release()");
  size_t words = std::max<size_t>(minimumSize, std::min<size_t>(allocatedWords_, capnp::MAX_SEGMENT_WORDS));
  more_.reserve(more_.size() + 1);  // so that pushing the segment cannot throw and lose it
  void* segment = std::calloc(words, sizeof(capnp::word));
  if (segment == nullptr) throw std::bad_alloc();
  more_.push_back(segment);
  allocatedWords_ += words;
  return {static_cast<capnp::word*>(segment), words};
}

zmq::message_t FrameBuilder::release() {
  if (released_) throw std::logic_error("a FrameBuilder is released once");
  released_ = true;
  auto segments = getSegmentsForOutput();
  if (segments.size() != 1 || first_ == nullptr || segments[0].begin() != first_ + 1) return encode(*this);
  // The flat form of a one-segment message: (segment count - 1) and the segment's size in
  // words, both little-endian 32-bit, then the segment.
  uint32_t table[2] = {htole32(0), htole32(static_cast<uint32_t>(segments[0].size()))};
  std::memcpy(first_, table, sizeof table);
  size_t bytes = (segments[0].size() + 1) * sizeof(capnp::word);
  zmq::message_t frame(first_, bytes, [](void* data, void*) { std::free(data); }, nullptr);
  first_ = nullptr;  // the frame frees it once ZeroMQ has sent it
  return frame;
}

}  // namespace berth::ipc
