#include "ipc/retained_events.h"

#include <capnp/serialize.h>

#include <algorithm>
#include <cstring>

#include "ipc/message.h"
#include "ipc/schema/events.capnp.h"

namespace berth::ipc {

RetainedEvents::RetainedEvents(size_t keep) : keep_(std::max<size_t>(keep, 1)) {}

void RetainedEvents::add(int64_t timeNano, kj::ArrayPtr<const capnp::word> frame) {
  size_t need = kEntryHeaderWords + frame.size();
  if (blocks_.empty() || blocks_.back().capacity - blocks_.back().used < need) {
    Block block;
    block.capacity = std::max(kBlockWords, need);  // an event larger than a block gets one of its own
    block.words = std::make_unique_for_overwrite<capnp::word[]>(block.capacity);
    blocks_.push_back(std::move(block));
  }
  Block& block = blocks_.back();
  capnp::word* entry = block.words.get() + block.used;
  uint64_t header[kEntryHeaderWords] = {static_cast<uint64_t>(timeNano), frame.size()};
  std::memcpy(entry, header, sizeof header);
  std::memcpy(entry + kEntryHeaderWords, frame.begin(), frame.size() * sizeof(capnp::word));
  block.used += need;
  ++block.events;
  ++count_;
  while (count_ - blocks_.front().events >= keep_) {
    count_ -= blocks_.front().events;
    blocks_.pop_front();
  }
}

std::vector<EngineEvent> RetainedEvents::between(int64_t sinceNano, int64_t untilNano) const {
  std::vector<EngineEvent> out;
  for (const auto& block : blocks_) {
    for (size_t at = 0; at < block.used;) {
      const capnp::word* entry = block.words.get() + at;
      uint64_t header[kEntryHeaderWords];
      std::memcpy(header, entry, sizeof header);
      auto timeNano = static_cast<int64_t>(header[0]);
      size_t frameWords = header[1];
      if (timeNano >= sinceNano && (untilNano == 0 || timeNano <= untilNano)) {
        capnp::FlatArrayMessageReader reader(kj::arrayPtr(entry + kEntryHeaderWords, frameWords),
                                             readerOptions(frameWords * sizeof(capnp::word)));
        out.push_back(fromCapnp(reader.getRoot<Event>()));
      }
      at += kEntryHeaderWords + frameWords;
    }
  }
  return out;
}

}  // namespace berth::ipc
