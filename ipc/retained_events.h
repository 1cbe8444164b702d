// The last events a producer published, kept to answer EventSource.recent (`docker events
// --since`). Each is kept as the frame it was sent as, packed after the one before into blocks
// of 64 KiB: a thousand events make a few large blocks instead of ten thousand small strings
// spread through the allocator's arenas, where each kept the page around it (and the freed
// pieces of a burst beside it) from going back to the system (docs/performance.md, "Retained
// events in blocks").
#pragma once

#include <capnp/common.h>
#include <kj/common.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "ipc/events.h"

namespace berth::ipc {

class RetainedEvents {
 public:
  static constexpr size_t kBlockWords = 8192;  // 64 KiB

  // Keeps at least the last `keep` events (keep > 0).
  explicit RetainedEvents(size_t keep);

  // Keeps the encoded Event `frame` (one flat Cap'n Proto message, as encode() makes it), whose
  // time is `timeNano`; drops the oldest block once the blocks after it hold `keep` events.
  void add(int64_t timeNano, kj::ArrayPtr<const capnp::word> frame);
  // The kept events with since <= time <= until (until 0: no bound), oldest first.
  std::vector<EngineEvent> between(int64_t sinceNano, int64_t untilNano) const;
  // How many are kept: the last `keep` at least, and fewer than `keep` and a block's worth.
  size_t size() const { return count_; }
  // How many blocks hold them.
  size_t blocks() const { return blocks_.size(); }

 private:
  // Each event: its time, its frame's length in words, the frame.
  static constexpr size_t kEntryHeaderWords = 2;
  struct Block {
    std::unique_ptr<capnp::word[]> words;
    size_t capacity = 0;
    size_t used = 0;
    size_t events = 0;
  };

  size_t keep_;
  size_t count_ = 0;
  std::deque<Block> blocks_;
};

}  // namespace berth::ipc
