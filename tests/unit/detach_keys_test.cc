// Detach keys for TTY attach and exec (services/api/detach_keys.h), as dockerd parses and
// watches for them.
#include "services/api/detach_keys.h"

#include <gtest/gtest.h>

#include "common/errors.h"

namespace berth::api {
namespace {

TEST(DetachKeysTest, TheDefaultSequenceIsCtrlPCtrlQ) { EXPECT_EQ(detachSequence("ctrl-p,ctrl-q"), "\x10\x11"); }

TEST(DetachKeysTest, KeysAreSingleCharactersOrControlKeys) {
  EXPECT_EQ(detachSequence("a,b"), "ab");
  EXPECT_EQ(detachSequence("ctrl-a"), "\x01");
  EXPECT_EQ(detachSequence("ctrl-@"), std::string(1, '\0'));
  EXPECT_EQ(detachSequence("ctrl-[,ctrl-_"), "\x1b\x1f");
  EXPECT_EQ(detachSequence("ctrl-x,y"), "\x18y");
}

TEST(DetachKeysTest, AnythingElseIsRefusedWithDockerdsMessage) {
  for (std::string keys : {"ctrl-", "ctrl-1", "ctrl-A", "shift-a", "ab", "a,,b", ""}) {
    try {
      detachSequence(keys);
      ADD_FAILURE() << "accepted " << keys;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::invalid);
      EXPECT_EQ(std::string(e.what()), "Invalid detach keys (" + keys + ") provided");
    }
  }
}

TEST(DetachFilterTest, InputWithoutTheSequencePassesUnchanged) {
  DetachFilter filter("\x10\x11");
  EXPECT_EQ(filter.feed("echo hi\n"), "echo hi\n");
  EXPECT_FALSE(filter.detached());
  EXPECT_EQ(filter.flush(), "");
}

TEST(DetachFilterTest, TheSequenceDetachesAndWhatFollowsIsDropped) {
  DetachFilter filter("\x10\x11");
  EXPECT_EQ(filter.feed("ls\x10\x11rm -rf"), "ls");
  EXPECT_TRUE(filter.detached());
}

TEST(DetachFilterTest, ASequenceSplitAcrossReadsStillDetaches) {
  DetachFilter filter("\x10\x11");
  EXPECT_EQ(filter.feed("a\x10"), "a");
  EXPECT_FALSE(filter.detached());
  EXPECT_EQ(filter.feed("\x11"), "");
  EXPECT_TRUE(filter.detached());
}

TEST(DetachFilterTest, ABrokenSequenceIsSentAfterAll) {
  DetachFilter filter("\x10\x11");
  EXPECT_EQ(filter.feed("\x10"), "");
  EXPECT_EQ(filter.feed("x"), "\x10x");
  EXPECT_FALSE(filter.detached());
  // A start of the sequence held when the input ends is flushed.
  EXPECT_EQ(filter.feed("\x10"), "");
  EXPECT_EQ(filter.flush(), "\x10");
}

TEST(DetachFilterTest, ARepeatedFirstKeyKeepsOnlyWhatCanStillBeginTheSequence) {
  DetachFilter filter("\x10\x11");
  EXPECT_EQ(filter.feed("\x10\x10\x11"), "\x10");
  EXPECT_TRUE(filter.detached());
}

TEST(DetachFilterTest, WithoutASequenceEverythingPasses) {
  DetachFilter filter("");
  EXPECT_EQ(filter.feed("\x10\x11"), "\x10\x11");
  EXPECT_FALSE(filter.detached());
}

}  // namespace
}  // namespace berth::api
