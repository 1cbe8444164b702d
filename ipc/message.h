// Cap'n Proto messages in ZeroMQ frames: encoding, and decoding untrusted bytes with limits.
#pragma once

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <cstdint>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

namespace berth::ipc {

// Frames larger than this are refused by the ZeroMQ socket itself (ZMQ_MAXMSGSIZE): the peer
// that sends one is disconnected before the message is buffered whole.
constexpr int64_t kMaxMessageBytes = 64ll << 20;

// Limits for reading a message of `frameBytes` from a peer: shallow nesting, and traversal
// bounded by the frame's size (eight readings of every word, at least 512 KiB, at most twice
// kMaxMessageBytes). A list of zero-sized elements costs a word of traversal per element, so
// the bound is what keeps a frame of a few bytes from claiming millions of them.
capnp::ReaderOptions readerOptions(size_t frameBytes);

// A decoded message that owns its bytes: the frame itself when ZeroMQ's buffer is word-aligned
// (the usual case), else an aligned copy. Throws kj::Exception when the bytes are not a
// well-formed Cap'n Proto message.
class MessageIn {
 public:
  explicit MessageIn(zmq::message_t&& frame);
  explicit MessageIn(const zmq::message_t& frame);
  template <typename T>
  typename T::Reader root() {
    return reader_->getRoot<T>();
  }
  capnp::MessageReader& reader() { return *reader_; }

 private:
  void open(const void* data, size_t size, bool copy);
  zmq::message_t frame_;
  kj::Array<capnp::word> words_;
  kj::Own<capnp::FlatArrayMessageReader> reader_;
};

// Serialises without a second copy: the frame takes ownership of the flat array.
zmq::message_t encode(capnp::MessageBuilder& message);

// A call's or reply's header: a few numbers, a view stamp, an error's message (which may spill).
constexpr size_t kHeaderWords = 32;

// A first segment for a message that is mostly one blob of `bytes` bytes: the blob, its pointer
// and the struct around it, and what rounding to words adds.
constexpr size_t blobFirstSegmentWords(size_t bytes) { return bytes / sizeof(capnp::word) + 16; }

// A message built where its frame will be: the first segment is allocated with one word in
// front of it, so a message that fits in that segment becomes a ZeroMQ frame with no copy
// (the segment table goes into that word and the frame takes the buffer). Later segments
// are allocated as the message grows, each as large as all before it, and such a message is
// flattened as encode() does. A message that is mostly one large blob (a chunk of a download
// or an upload) is built with a first segment that holds it, so the blob is copied into the
// message and no further.
class FrameBuilder final : public capnp::MessageBuilder {
 public:
  explicit FrameBuilder(size_t firstSegmentWords = capnp::SUGGESTED_FIRST_SEGMENT_WORDS);
  ~FrameBuilder() override;
  FrameBuilder(const FrameBuilder&) = delete;
  FrameBuilder& operator=(const FrameBuilder&) = delete;

  kj::ArrayPtr<capnp::word> allocateSegment(uint minimumSize) override;
  // The message as one frame, once. The frame may own the first segment, so the builder and
  // any capnp builder taken from it must not be used afterwards (allocating throws).
  zmq::message_t release();

 private:
  size_t firstSegmentWords_;
  size_t allocatedWords_ = 0;
  capnp::word* first_ = nullptr;  // the segment table's word, then the first segment
  std::vector<void*> more_;
  bool released_ = false;
};

}  // namespace berth::ipc
