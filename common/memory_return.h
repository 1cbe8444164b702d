// Giving back to the system what a burst freed. glibc keeps freed memory in its arenas (two per
// service, docs/performance.md), so a service that served a burst stays near its peak: after
// 100 containers were run and removed, the bridge held 17 MB and berth-api 8 MB more than when
// fresh, and malloc_trim(0) called from outside returned 7 and 8 MB of it. Each service keeps
// one of these: a thread that every few seconds looks at how much the arenas hold free and,
// when that grew by more than a threshold since it last trimmed, or the process faulted in
// more than that many bytes of pages since (a burst that wrote the returned pages again and
// freed them), calls malloc_trim(0), which hands the free pages of every arena back (madvise)
// and keeps the addresses.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>

namespace berth {

class MemoryReturn {
 public:
  // `beforeLook`, when set, runs on the thread before each look: the process lets go of what it
  // keeps only while it may be needed again (ipc::RpcClient::closeIdleEverywhere, the RPC
  // clients' idle sockets), so that a burst's leftovers are returned by the same look.
  // 256 KiB: small enough that the buffers ZeroMQ frees after the idle-socket sweep go back,
  // large enough that an idle service does not trim at every look (docs/performance.md).
  static constexpr size_t kThreshold = size_t{1} << 18;

  MemoryReturn(std::chrono::milliseconds every = std::chrono::seconds(5), size_t grownBy = kThreshold,
               std::function<void()> beforeLook = {});
  ~MemoryReturn();  // stops the thread
  MemoryReturn(const MemoryReturn&) = delete;
  MemoryReturn& operator=(const MemoryReturn&) = delete;

  // One look: trims when the arenas' free bytes grew by more than the threshold since the
  // last trim, or the process's minor faults since then add up to more than it. True when it
  // trimmed. (The thread calls this; tests call it directly.)
  bool returnIfWorthIt();

 private:
  void run(std::chrono::milliseconds every);

  size_t grownBy_;
  std::function<void()> beforeLook_;
  size_t freeAfterTrim_ = 0;
  long faultsAfterTrim_ = 0;
  std::mutex mutex_;
  std::condition_variable stop_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace berth
