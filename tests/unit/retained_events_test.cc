// The events a producer retains for `docker events --since` (ipc/retained_events.h): the last
// ones at least, whole, in order, filtered by time, in a few blocks.
#include <capnp/message.h>
#include <gtest/gtest.h>

#include <string>

#include "ipc/message.h"
#include "ipc/retained_events.h"

namespace berth::ipc {
namespace {

EngineEvent eventNumber(int i, size_t nameBytes = 12) {
  EngineEvent e{"container", "die", "id-" + std::to_string(i),
                {{"name", std::string(nameBytes, 'n')}, {"exitCode", std::to_string(i % 256)}}, "local", 1000 + i};
  e.viewStamps[0] = {7, static_cast<uint64_t>(i)};
  return e;
}

zmq::message_t frameOf(const EngineEvent& e) {
  capnp::MallocMessageBuilder mb;
  toCapnp(e, mb.initRoot<Event>());
  return encode(mb);
}

void add(RetainedEvents& retained, const EngineEvent& e) {
  auto frame = frameOf(e);
  retained.add(e.timeNano, kj::arrayPtr(static_cast<const capnp::word*>(frame.data()), frame.size() / sizeof(capnp::word)));
}

TEST(RetainedEventsTest, TheLastOnesAreKeptWholeAndInOrderInAFewBlocks) {
  RetainedEvents retained(1024);
  for (int i = 0; i < 5000; ++i) add(retained, eventNumber(i));
  ASSERT_GE(retained.size(), 1024u);
  auto all = retained.between(0, 0);
  ASSERT_EQ(all.size(), retained.size());
  // The newest `size()`, oldest first, each what was added.
  int first = 5000 - static_cast<int>(all.size());
  for (size_t k = 0; k < all.size(); ++k) {
    auto want = eventNumber(first + static_cast<int>(k));
    ASSERT_EQ(all[k].actorId, want.actorId) << k;
    EXPECT_EQ(all[k].type, "container");
    EXPECT_EQ(all[k].action, "die");
    EXPECT_EQ(all[k].attributes, want.attributes);
    EXPECT_EQ(all[k].scope, "local");
    EXPECT_EQ(all[k].timeNano, want.timeNano);
    EXPECT_EQ(all[k].viewStamps[0].epoch, 7u);
    EXPECT_EQ(all[k].viewStamps[0].seq, want.viewStamps[0].seq);
  }
  // No more than a block's worth beyond the 1,024, and in a handful of 64 KiB blocks.
  size_t perBlock = RetainedEvents::kBlockWords * sizeof(capnp::word) / (frameOf(eventNumber(4999)).size() + 16);
  EXPECT_LT(retained.size(), 1024u + perBlock);
  EXPECT_LE(retained.blocks(), 1024u / perBlock + 2) << retained.size() << " events";
}

TEST(RetainedEventsTest, SinceAndUntilBoundTheTimesBothWays) {
  RetainedEvents retained(1024);
  for (int i = 0; i < 10; ++i) add(retained, eventNumber(i));  // times 1000…1009
  auto some = retained.between(1003, 1005);
  ASSERT_EQ(some.size(), 3u);
  EXPECT_EQ(some.front().actorId, "id-3");
  EXPECT_EQ(some.back().actorId, "id-5");
  EXPECT_EQ(retained.between(1008, 0).size(), 2u);
  EXPECT_TRUE(retained.between(1010, 0).empty());
}

TEST(RetainedEventsTest, AnEventLargerThanABlockIsKeptWhole) {
  RetainedEvents retained(4);
  add(retained, eventNumber(1));
  add(retained, eventNumber(2, 100 * 1024));  // a 100 KiB name
  add(retained, eventNumber(3));
  auto all = retained.between(0, 0);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[1].attributes[0].second, std::string(100 * 1024, 'n'));
  EXPECT_EQ(all[2].actorId, "id-3");
  // Once four newer ones are kept, the large one's block goes.
  for (int i = 4; i < 12; ++i) add(retained, eventNumber(i));
  for (const auto& e : retained.between(0, 0)) EXPECT_NE(e.actorId, "id-2");
  EXPECT_GE(retained.size(), 4u);
}

}  // namespace
}  // namespace berth::ipc
