// The server half of berth's request/reply layer: a ZeroMQ ROUTER on an ipc:// endpoint that
// decodes calls, dispatches them to typed handlers and sends replies. Quick handlers run on the
// I/O thread; handlers registered with Dispatch::worker run on a pool so long work (extraction,
// pulls) never stalls the loop (the pool grows with the calls waiting for a worker, up to its
// bound, and shrinks back to its standing workers once they idle); Dispatch::longPoll handlers (calls that mostly wait, such as a
// container wait) each get a thread of their own, so any number of waiting clients never
// holds the pool the other calls need. Malformed or oversized input is rejected without harm.
#pragma once

#include <atomic>
#include <capnp/any.h>
#include <capnp/message.h>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>
#include <zmq.hpp>

#include "common/deadline.h"
#include "ipc/message.h"
#include "ipc/method.h"

namespace berth::ipc {

// What a handler knows of the call it serves: the deadline by which its reply must be on its
// way, taken from the caller's own (less a margin for the reply's trip back). Handlers pass it
// on to the calls they make, so an inner call fails before the caller gives up.
struct CallContext {
  Deadline deadline;
};

class RpcServer {
 public:
  enum class Dispatch { inline_, worker, longPoll };
  // Long polls in progress at once; a call beyond this is refused as unavailable.
  static constexpr size_t kMaxLongPolls = 4096;
  using RawHandler = std::function<void(capnp::AnyPointer::Reader params, capnp::AnyPointer::Builder results,
                                        const CallContext& call)>;

  struct Options {
    // At most this many worker threads at once.
    size_t workers = 4;
    // Workers kept while idle; more start when calls wait with no idle worker to take them,
    // and each of those ends after `workerIdle` without a call.
    size_t standingWorkers = 1;
    std::chrono::milliseconds workerIdle{10000};
  };

  RpcServer(zmq::context_t& context, std::string endpoint, Options options);
  RpcServer(zmq::context_t& context, std::string endpoint) : RpcServer(context, std::move(endpoint), Options{}) {}
  ~RpcServer();
  RpcServer(const RpcServer&) = delete;
  RpcServer& operator=(const RpcServer&) = delete;

  // Declares that this server implements every method of Interface and its superinterfaces;
  // start() refuses to run while one of them has no handler.
  template <typename Interface>
  void implements() {
    interfaces_.push_back(capnp::Schema::from<Interface>());
  }

  template <typename M>
  void handle(const M& method,
              std::function<void(typename M::ParamsType::Reader, typename M::ResultsType::Builder)> fn,
              Dispatch dispatch = Dispatch::inline_) {
    handlers_[method.key] = Entry{rawHandler<M>(std::move(fn)), dispatch, method.name};
  }

  // The same for a handler that needs its call's deadline.
  template <typename M>
  void handleWithContext(
      const M& method,
      std::function<void(typename M::ParamsType::Reader, typename M::ResultsType::Builder, const CallContext&)> fn,
      Dispatch dispatch = Dispatch::inline_) {
    RawHandler raw = [fn = std::move(fn)](capnp::AnyPointer::Reader params, capnp::AnyPointer::Builder results,
                                          const CallContext& call) {
      fn(params.getAs<typename M::ParamsType>(), results.initAs<typename M::ResultsType>(), call);
    };
    handlers_[method.key] = Entry{std::move(raw), dispatch, method.name};
  }

  // The same for a handler whose results are mostly one blob of up to `replyBytes(params)`
  // bytes (a chunk of a download): its results are built in a first segment that holds the
  // blob, which becomes the reply's frame, so the blob is not copied again (ipc/message.h).
  template <typename M>
  void handleBlob(const M& method, std::function<size_t(typename M::ParamsType::Reader)> replyBytes,
                  std::function<void(typename M::ParamsType::Reader, typename M::ResultsType::Builder)> fn,
                  Dispatch dispatch = Dispatch::inline_) {
    auto replyWords = [replyBytes = std::move(replyBytes)](capnp::AnyPointer::Reader params) {
      // The size comes from the caller's params: no more than a frame may hold, whatever it says.
      return blobFirstSegmentWords(std::min<size_t>(replyBytes(params.getAs<typename M::ParamsType>()), kMaxMessageBytes));
    };
    handlers_[method.key] = Entry{rawHandler<M>(std::move(fn)), dispatch, method.name, std::move(replyWords)};
  }

  // Binds the endpoint (replacing a stale socket file) and starts serving.
  void start();
  // Stops serving; calls in flight on workers finish, their replies are dropped.
  void stop();

  const std::string& endpoint() const { return endpoint_; }
  // Messages dropped because they were not calls from a berth client (wrong frame count or an
  // undecodable header): nothing to reply to. A statistic for tests and the debug log.
  uint64_t droppedMessages() const { return dropped_; }
  // Long-poll calls in progress.
  size_t longPollsInProgress() const;
  // Worker threads alive now (standing, busy or idle until they retire).
  size_t workerThreads() const;

 private:
  template <typename M>
  static RawHandler rawHandler(std::function<void(typename M::ParamsType::Reader, typename M::ResultsType::Builder)> fn) {
    return [fn = std::move(fn)](capnp::AnyPointer::Reader params, capnp::AnyPointer::Builder results, const CallContext&) {
      fn(params.getAs<typename M::ParamsType>(), results.initAs<typename M::ResultsType>());
    };
  }

  struct Entry {
    RawHandler handler;
    Dispatch dispatch;
    std::string name;
    // The first segment's size for the results, from the params (handleBlob); else capnp's usual.
    std::function<size_t(capnp::AnyPointer::Reader)> replyWords = nullptr;
  };
  struct Job {
    zmq::message_t identity;
    uint64_t requestId;
    const Entry* entry;
    zmq::message_t params;
    std::chrono::steady_clock::time_point deadline;
  };

  void checkComplete() const;
  void ioLoop();
  void workerLoop();
  // Starts a worker if calls wait with no idle worker to take them and the bound allows;
  // called with jobsMutex_ held. Returns whether one should be started (counted already).
  bool needsWorkerLocked();
  void startWorker();
  void handleCall(std::vector<zmq::message_t>& frames);
  // Runs a handler and encodes [ReplyHeader][results?] into `out` (identity not included).
  static void execute(const Entry& entry, uint64_t requestId, zmq::message_t& params,
                      std::chrono::steady_clock::time_point deadline, std::vector<zmq::message_t>& out);
  // Runs one long-poll call on a thread of its own; its reply goes through the replies socket.
  void startLongPoll(Job job, std::vector<zmq::message_t>& refusal);
  // Shared with long-poll threads, which may outlive stop() by the length of their wait.
  struct LongPolls {
    std::mutex mutex;
    std::condition_variable idle;
    size_t active = 0;
  };
  std::shared_ptr<LongPolls> longPolls_ = std::make_shared<LongPolls>();

  zmq::context_t& context_;
  std::string endpoint_;
  std::string repliesEndpoint_;
  Options options_;
  std::vector<capnp::InterfaceSchema> interfaces_;
  std::unordered_map<MethodKey, Entry, MethodKeyHash> handlers_;

  std::atomic<bool> running_{false};
  std::atomic<uint64_t> dropped_{0};
  std::thread ioThread_;
  // Workers are detached threads counted here: stop() waits until `threads_` is 0, since each
  // uses this object until it ends. `members_` are the workers that count towards the pool's
  // size (a retiring one leaves it at once, before its thread is gone); `idle_` wait for a call.
  mutable std::mutex jobsMutex_;
  std::condition_variable jobsReady_;
  std::condition_variable workersGone_;
  std::deque<Job> jobs_;
  size_t threads_ = 0;
  size_t members_ = 0;
  size_t idle_ = 0;
  std::unique_ptr<zmq::socket_t> router_;
};

}  // namespace berth::ipc
