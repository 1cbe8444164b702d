// What a burst freed goes back to the system: resident memory, read from /proc, falls once the
// freed blocks are trimmed, although the blocks left in use keep the heap from shrinking by
// itself.
#include "common/memory_return.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace berth {
namespace {

// This process's resident anonymous memory (kB), as smaps_rollup counts it.
long residentAnonKb() {
  std::ifstream in("/proc/self/smaps_rollup");
  std::string key;
  long value = 0;
  while (in >> key) {
    if (key == "Anonymous:") {
      in >> value;
      return value;
    }
    in.ignore(1 << 12, '\n');
  }
  return -1;
}

TEST(MemoryReturnTest, FreedBlocksBehindOnesStillInUseGoBackToTheSystem) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer's allocator is not glibc's: nothing for malloc_trim to return";
#endif
  MemoryReturn memoryReturn(std::chrono::milliseconds(0));  // no thread: looked at by hand
  EXPECT_FALSE(memoryReturn.returnIfWorthIt());             // nothing freed yet
  // 40 MB in 4 KB blocks, every one written; then all freed but every 64th, which pins the
  // heap's end so that free() alone cannot hand the rest back.
  std::vector<char*> blocks;
  for (int i = 0; i < 10240; ++i) {
    blocks.push_back(static_cast<char*>(std::malloc(4000)));
    std::memset(blocks.back(), 1, 4000);
  }
  for (size_t i = 0; i < blocks.size(); ++i) {
    if (i % 64 != 63) {
      std::free(blocks[i]);
      blocks[i] = nullptr;
    }
  }
  long before = residentAnonKb();
  ASSERT_GT(before, 30000) << "the freed blocks were returned before the trim";
  EXPECT_TRUE(memoryReturn.returnIfWorthIt());
  long after = residentAnonKb();
  EXPECT_LT(after, before - 25000) << before << " kB before, " << after << " kB after";
  // Nothing new freed since: no second trim.
  EXPECT_FALSE(memoryReturn.returnIfWorthIt());
  for (char* b : blocks) std::free(b);
}

// A burst that reuses what a trim gave back, writes it and frees it again leaves the arenas'
// free bytes where they were, but the pages resident again: the next look returns them too.
TEST(MemoryReturnTest, PagesABurstWroteAgainAfterATrimGoBackAtTheNextLook) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer's allocator is not glibc's: nothing for malloc_trim to return";
#endif
  MemoryReturn memoryReturn(std::chrono::milliseconds(0));  // no thread: looked at by hand
  // As above: 40 MB in 4 KB blocks, all freed but every 64th, then trimmed.
  std::vector<char*> blocks;
  auto burst = [&blocks] {
    for (auto& b : blocks) {
      if (b == nullptr) {
        b = static_cast<char*>(std::malloc(4000));
        std::memset(b, 1, 4000);
      }
    }
    for (size_t i = 0; i < blocks.size(); ++i) {
      if (i % 64 != 63) {
        std::free(blocks[i]);
        blocks[i] = nullptr;
      }
    }
  };
  blocks.assign(10240, nullptr);
  burst();
  ASSERT_TRUE(memoryReturn.returnIfWorthIt());
  long trimmed = residentAnonKb();
  // The same burst again: its blocks come from the free memory the trim returned.
  burst();
  long before = residentAnonKb();
  ASSERT_GT(before, trimmed + 25000) << "the second burst did not make the pages resident again";
  EXPECT_TRUE(memoryReturn.returnIfWorthIt()) << "a look after the second burst did not trim";
  long after = residentAnonKb();
  EXPECT_LT(after, before - 25000) << before << " kB before, " << after << " kB after";
  EXPECT_FALSE(memoryReturn.returnIfWorthIt());  // and nothing since
  for (char* b : blocks) std::free(b);
}

// The thread lets the process release what it keeps for reuse (the RPC clients' idle sockets)
// before each look, so that the same look can return that memory.
TEST(MemoryReturnTest, TheThreadRunsItsHookAtEachLook) {
  std::atomic<int> looks{0};
  MemoryReturn memoryReturn(std::chrono::milliseconds(10), size_t{1} << 20, [&] { ++looks; });
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (looks < 3 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_GE(looks, 3) << "the hook ran " << looks << " times in 10 s at one look per 10 ms";
}

}  // namespace
}  // namespace berth
