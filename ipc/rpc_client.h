// The client half of berth's request/reply layer. Every call has a deadline. A call to a peer
// that is down waits for it until the deadline and then fails `unavailable`; a peer that dies
// mid-call fails the call `unavailable` at once (a ZeroMQ socket monitor reports the
// disconnect); a peer that is up but slow fails it `deadlineExceeded`. Reconnection is
// automatic: the next call after the peer is back succeeds with no action by the caller.
// Thread-safe: concurrent callers each borrow a socket from a pool.
#pragma once

#include <capnp/message.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "common/deadline.h"
#include "ipc/message.h"
#include "ipc/method.h"
#include "ipc/view_stamp.h"

namespace berth::ipc {

using Clock = std::chrono::steady_clock;
using berth::Deadline;
using berth::deadlineIn;

// The decoded results of one call; owns the reply's bytes.
template <typename Results>
class Reply {
 public:
  explicit Reply(std::unique_ptr<MessageIn> message) : message_(std::move(message)) {}
  typename Results::Reader get() { return message_->root<Results>(); }
  // The reply's bytes, for a caller that keeps what get() pointed into past this Reply.
  std::unique_ptr<MessageIn> take() && { return std::move(message_); }

 private:
  std::unique_ptr<MessageIn> message_;
};

class RpcClient {
 public:
  RpcClient(zmq::context_t& context, std::string endpoint);
  ~RpcClient();
  RpcClient(const RpcClient&) = delete;
  RpcClient& operator=(const RpcClient&) = delete;

  template <typename M>
  Reply<typename M::ResultsType> call(const M& method, Deadline deadline,
                                      const std::function<void(typename M::ParamsType::Builder)>& fill = {}) {
    return callWithBlob(method, deadline, 0, fill);
  }

  // The same for params that are mostly one blob of up to `blobBytes` bytes (an upload's
  // chunk): they are built in a first segment that holds it, which becomes the request's frame
  // (ipc/message.h), so the blob is not copied again on its way out.
  template <typename M>
  Reply<typename M::ResultsType> callWithBlob(const M& method, Deadline deadline, size_t blobBytes,
                                              const std::function<void(typename M::ParamsType::Builder)>& fill) {
    FrameBuilder params(blobBytes ? blobFirstSegmentWords(blobBytes) : capnp::SUGGESTED_FIRST_SEGMENT_WORDS);
    auto builder = params.initRoot<typename M::ParamsType>();
    if (fill) fill(builder);
    return Reply<typename M::ResultsType>(callRaw(method.key, method.name, method.readOnly, params, deadline));
  }

  // For idempotent calls: retries `unavailable` failures (a peer restarting) until the deadline.
  template <typename M>
  Reply<typename M::ResultsType> callIdempotent(const M& method, Deadline deadline,
                                                const std::function<void(typename M::ParamsType::Builder)>& fill = {}) {
    for (;;) {
      try {
        return call(method, deadline, fill);
      } catch (const Error& e) {
        if (e.kind() != ErrorKind::unavailable || Clock::now() + std::chrono::milliseconds(20) >= deadline) throw;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
  }

  // For removals, idempotent in effect: as callIdempotent, but once the peer went away during
  // an attempt (which may have removed the object before it died), a later attempt's
  // `notFound` is that removal's success, not the caller's error.
  template <typename M>
  void callRemoval(const M& method, Deadline deadline,
                   const std::function<void(typename M::ParamsType::Builder)>& fill = {}) {
    bool mayHaveActed = false;
    for (;;) {
      try {
        call(method, deadline, fill);
        return;
      } catch (const Error& e) {
        if (e.kind() == ErrorKind::notFound && mayHaveActed) return;
        if (e.kind() != ErrorKind::unavailable || Clock::now() + std::chrono::milliseconds(20) >= deadline) throw;
        mayHaveActed = mayHaveActed || wentAwayDuringCall(e);
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
  }

  // True for the failure of a call whose peer died after the request was sent: it may have
  // acted. (A peer that was not reachable never saw the request.)
  static bool wentAwayDuringCall(const Error& e);

  const std::string& endpoint() const { return endpoint_; }

  // Closes the idle sockets beyond kMaxIdle and those idle since before `now - kIdleLife`, all
  // but the most recently used; returns how many. Releasing a socket does the same, but only a
  // later call releases one: after a burst followed by silence the sockets would stay (each
  // holds a connection, and its memory, in both processes), so every service and berth-api
  // also sweep their clients every 5 s.
  size_t closeIdle(Clock::time_point now = Clock::now());
  // closeIdle() on every client of this process (the MemoryReturn thread of each service and
  // of berth-api calls it before it looks at the arenas).
  static size_t closeIdleEverywhere(Clock::time_point now = Clock::now());
  // Sockets in the pool now.
  size_t idleSockets();
  static constexpr std::chrono::seconds kIdleLife{10};

  // Called with each view stamp a reply carries (ipc/view_stamp.h), before the call returns.
  // Set once, before the first call.
  void onViewStamp(std::function<void(ViewKind, ViewStamp)> observer) { onViewStamp_ = std::move(observer); }
  // Called when a call of a method that may act (not $readOnly in the schema) fails because its
  // peer went away after the request left (the peer may have acted without saying so), with
  // the epochs' clock (viewClockNow()) just before the request left, before the call throws.
  // Set once, before the first call.
  void onWentAway(std::function<void(uint64_t sentAt)> observer) { onWentAway_ = std::move(observer); }

 private:
  struct Connection;

  std::unique_ptr<MessageIn> callRaw(const MethodKey& key, const std::string& name, bool readOnly, FrameBuilder& params,
                                     Deadline deadline);
  std::unique_ptr<Connection> acquire();
  void release(std::unique_ptr<Connection> c);

  zmq::context_t& context_;
  std::string endpoint_;
  // Idle sockets, the most recently used last. A burst of concurrent calls leaves as many
  // sockets as it had calls in flight; those beyond kMaxIdle, and any idle for kIdleLife, are
  // closed as calls release theirs and by closeIdle(). Every idle socket reconnects (a ZeroMQ handshake with the
  // server's I/O thread) when the server restarts, ahead of the calls that wait for it: 72 of
  // them in berth-api held its first call to a restarted bridge by up to 66 ms.
  struct Idle {
    std::unique_ptr<Connection> connection;
    Clock::time_point since;
  };
  static constexpr size_t kMaxIdle = 8;
  // Removes from the pool the sockets beyond kMaxIdle and those idle for kIdleLife at `now`,
  // never the most recently used.
  std::vector<Idle> takeStaleLocked(Clock::time_point now);
  std::mutex poolMutex_;
  std::vector<Idle> pool_;
  std::atomic<uint64_t> nextRequestId_{1};
  std::function<void(ViewKind, ViewStamp)> onViewStamp_;
  std::function<void(uint64_t)> onWentAway_;
};

}  // namespace berth::ipc
