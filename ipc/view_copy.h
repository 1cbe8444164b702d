// A copy of one producer's views, kept current from its views channel (docs/ipc.md, "Container
// views", "Volume views", "Image views", "Network views"): what berth-api's read models of
// containers, volumes, images and networks share. The producer numbers every change of its
// views within its run (`epoch`) and publishes it on a PUB socket; a snapshot call answers every
// view at a sequence and then marks the channel there.
//
// The copy answers (read()) only what is never older than anything a client was shown: it holds
// a snapshot of the producer's run that every later change continued without a gap, and it has
// caught up with the highest view stamp of its kind that any reply or event carried
// (require()). Otherwise (not yet synchronised, a gap, a stamp it has not reached within a few
// milliseconds, one of a run it holds no snapshot of) it declines, and the caller asks the
// producer. While the producer is away or restarting, what it last published answers until a
// client is shown something newer.
//
// `State` holds the views: default-constructible and movable, with
// `void apply(typename Change::Reader)` for one change (a view made, changed or removed).
// `Change` is the channel's Cap'n Proto struct, with epoch, seq and mark.
#pragma once

#include <capnp/message.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <zmq.hpp>

#include "ipc/message.h"
#include "ipc/view_stamp.h"

namespace berth::ipc {

// Numbers the inproc endpoints of the copies' socket monitors, one count for the process.
inline std::atomic<uint64_t> viewCopyMonitors{0};

template <typename State, typename Change>
class ViewCopy {
 public:
  struct Snapshot {
    State state;
    uint64_t epoch = 0, seq = 0;
  };
  // Takes a snapshot through the producer's RPC; throws when it cannot (the producer is away).
  using Fetch = std::function<Snapshot()>;

  // How long a read waits for the views channel to bring a change a reply already acknowledged
  // (it is on its way: the producer sends it before it replies) before it declines.
  static constexpr std::chrono::milliseconds kCatchUp{20};
  // How long after a snapshot its mark may take before the snapshot is taken again (the mark is
  // lost when the subscription had not reached the producer yet).
  static constexpr std::chrono::milliseconds kMarkWait{250};

  // Subscribes to `viewsEndpoint` and takes snapshots with `fetch`, on a thread of its own.
  // `what` names the copy in the log.
  ViewCopy(zmq::context_t& context, std::string viewsEndpoint, std::string what, Fetch fetch)
      : context_(context), what_(std::move(what)), fetch_(std::move(fetch)) {
    thread_ = std::thread([this, endpoint = std::move(viewsEndpoint)] { run(endpoint); });
  }
  ~ViewCopy() {
    running_ = false;
    wake();
    if (thread_.joinable()) thread_.join();
    if (wakeFd_ >= 0) ::close(wakeFd_);
  }
  ViewCopy(const ViewCopy&) = delete;
  ViewCopy& operator=(const ViewCopy&) = delete;

  // A view stamp of this copy's kind that a reply or event carried: reads wait until the copy
  // holds it.
  void require(ViewStamp stamp) {
    if (stamp.epoch == 0) return;
    std::lock_guard lock(mutex_);
    // A later run of the producer has a larger epoch. A stamp of a run that a later one replaced
    // (an event or a reply read late) must not bring that run's state back as an answer.
    if (stamp.epoch < required_.epoch) return;
    if (stamp.epoch != required_.epoch) {
      // Another run answered: what the copy holds (if of the earlier run) is no longer the
      // producer's. The channel's reconnection brings a snapshot; asking here too costs nothing.
      required_ = stamp;
      if (epoch_ != stamp.epoch) {
        wantSnapshot_ = true;
        wake();
      }
    } else {
      required_.seq = std::max(required_.seq, stamp.seq);
    }
  }

  // A call to the producer went away after its request left at `sentAt` (boot clock, ns): the
  // run that took it may have acted without publishing the change before it died, so no state
  // of that run, or of an earlier one, answers again. A run that started later has a larger
  // epoch (its start on the same clock); the copy answers once it holds that run's snapshot
  // and a stamp of it (a reply of the new run) is required.
  void requireRunAfter(uint64_t sentAt) {
    std::lock_guard lock(mutex_);
    if (sentAt <= runAfter_) return;
    runAfter_ = sentAt;
    if (epoch_ <= runAfter_) {
      wantSnapshot_ = true;
      wake();
    }
  }

  // A read the copy cannot answer whatever its state (the caller asks the producer): counted.
  void decline() {
    std::lock_guard lock(mutex_);
    ++counts_.declined;
  }

  // Calls `answer(const State&)` under the copy's lock when the copy is current; `answer`
  // returns whether it answered (false: the caller asks the producer). False when not current.
  template <typename F>
  bool read(F&& answer) {
    std::unique_lock lock(mutex_);
    bool served = current(lock) && answer(static_cast<const State&>(state_));
    ++(served ? counts_.served : counts_.declined);
    return served;
  }

  ViewCopyCounts counts() const {
    std::lock_guard lock(mutex_);
    return counts_;
  }

 private:
  // Waits a little for the copy to be current; false when it is not.
  bool current(std::unique_lock<std::mutex>& lock) {
    auto holds = [&] {
      return synced_ && epoch_ > runAfter_ &&
             (required_.epoch == 0 || (required_.epoch == epoch_ && seq_ >= required_.seq));
    };
    if (holds()) return true;
    if (!synced_ || epoch_ <= runAfter_ || required_.epoch != epoch_) return false;
    return changed_.wait_for(lock, kCatchUp, holds);
  }

  bool takeSnapshot() {
    try {
      Snapshot snapshot = fetch_();
      std::lock_guard lock(mutex_);
      // In place once the channel's mark shows that the changes after it will arrive.
      pending_ = std::move(snapshot);
      wantSnapshot_ = false;
      ++counts_.snapshots;
      return true;
    } catch (const std::exception& e) {
      // berth::Error (the producer is away) or zmq::error_t (no descriptor left for a connection).
      spdlog::debug("{}: no snapshot: {}", what_, e.what());
      return false;
    } catch (const kj::Exception& e) {
      spdlog::warn("{}: a malformed snapshot: {}", what_, e.getDescription().cStr());
      return false;
    }
  }

  void run(const std::string& endpoint) {
    // Nothing may end this thread but the destructor: an exception escaping it would end the
    // process. Whatever stops the channel (a process out of descriptors cannot make its
    // sockets) leaves the copy unsynchronised, so reads ask the producer, and the channel is
    // made again shortly.
    while (running_) {
      try {
        follow(endpoint);
      } catch (const std::exception& e) {
        spdlog::warn("{}: the views channel failed: {}; reads ask the service until it is back", what_, e.what());
      } catch (const kj::Exception& e) {
        spdlog::warn("{}: the views channel failed: {}; reads ask the service until it is back", what_,
                     e.getDescription().cStr());
      }
      {
        std::lock_guard lock(mutex_);
        synced_ = false;
        wantSnapshot_ = true;
        pending_.reset();
      }
      for (int i = 0; i < 10 && running_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  // One message of the channel, with the lock held.
  void receiveLocked(typename Change::Reader c, bool& awaitingMark) {
    bool ofPending = pending_ && c.getEpoch() == pending_->epoch;
    if (c.getMark()) {
      if (ofPending && awaitingMark && c.getSeq() == pending_->seq) {
        state_ = std::move(pending_->state);
        epoch_ = pending_->epoch;
        seq_ = pending_->seq;
        pending_.reset();
        synced_ = true;
        awaitingMark = false;
        changed_.notify_all();
      }
      return;
    }
    if (ofPending && c.getSeq() > pending_->seq) {
      // A change after the snapshot whose mark never came: take another.
      pending_.reset();
      awaitingMark = false;
      wantSnapshot_ = true;
    }
    if (!synced_ || c.getEpoch() != epoch_) {
      // Not following yet, or another run of the producer: a snapshot brings it in.
      if (!pending_) wantSnapshot_ = true;
      return;
    }
    if (c.getSeq() <= seq_) return;  // held already
    if (c.getSeq() != seq_ + 1) {
      // A gap: what is held misses a change. Start again.
      synced_ = false;
      wantSnapshot_ = true;
      return;
    }
    state_.apply(c);
    seq_ = c.getSeq();
    ++counts_.changes;
    changed_.notify_all();
  }

  // Follows the views channel until the copy stops; throws when the channel fails.
  void follow(const std::string& endpoint) {
    using Clock = std::chrono::steady_clock;
    using std::chrono::milliseconds;
    zmq::socket_t sub(context_, zmq::socket_type::sub);
    sub.set(zmq::sockopt::linger, 0);
    sub.set(zmq::sockopt::rcvhwm, 100000);
    sub.set(zmq::sockopt::reconnect_ivl, 10);
    sub.set(zmq::sockopt::reconnect_ivl_max, 20);
    sub.set(zmq::sockopt::maxmsgsize, kMaxMessageBytes);
    sub.set(zmq::sockopt::subscribe, "");
    // Unique in the process (two copies share a context), as is the counter: a static one in
    // this template would be one per kind of copy.
    std::string monitorEndpoint = "inproc://berth-views-monitor-" + std::to_string(++viewCopyMonitors);
    zmq::socket_t monitor(context_, zmq::socket_type::pair);
    if (zmq_socket_monitor(sub.handle(), monitorEndpoint.c_str(), ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED) != 0) {
      throw zmq::error_t();
    }
    // Monitoring stops before either socket closes: libzmq (4.3) drops without freeing an event
    // it cannot deliver, as one raised while the sockets close, or while the context ends, is.
    struct StopMonitor {
      void* socket;
      ~StopMonitor() { zmq_socket_monitor(socket, nullptr, 0); }
    } stopMonitor{sub.handle()};
    monitor.set(zmq::sockopt::linger, 0);
    monitor.connect(monitorEndpoint);
    sub.connect(endpoint);

    bool connected = false;
    Clock::time_point snapshotAt{};  // the next snapshot not before then
    bool awaitingMark = false;       // a snapshot is pending and waits for its mark
    Clock::time_point markBy{};      // until then
    auto timeout = milliseconds(0);
    while (running_) {
      // Asleep until a change, a channel event, the copy's own next timer or a wake(); without
      // a wake-up descriptor, every 20 ms as before.
      zmq::pollitem_t items[] = {{sub.handle(), 0, ZMQ_POLLIN, 0},
                                 {monitor.handle(), 0, ZMQ_POLLIN, 0},
                                 {nullptr, wakeFd_, ZMQ_POLLIN, 0}};
      zmq::poll(items, wakeFd_ >= 0 ? 3 : 2, wakeFd_ >= 0 ? timeout : std::min(timeout, milliseconds(20)));
      if (wakeFd_ >= 0 && (items[2].revents & ZMQ_POLLIN)) {
        uint64_t count = 0;
        [[maybe_unused]] auto n = ::read(wakeFd_, &count, sizeof count);
      }
      zmq::message_t m;
      while (monitor.recv(m, zmq::recv_flags::dontwait)) {
        uint16_t event = 0;
        if (m.size() >= 2) std::memcpy(&event, m.data(), 2);
        while (m.more() && monitor.recv(m, zmq::recv_flags::dontwait)) {
        }
        std::lock_guard lock(mutex_);
        if (event == ZMQ_EVENT_CONNECTED) {
          connected = true;
          wantSnapshot_ = true;
          // Give the subscription a moment to reach the producer, so the snapshot's mark is seen.
          snapshotAt = Clock::now() + milliseconds(10);
        } else if (event == ZMQ_EVENT_DISCONNECTED) {
          // The producer went away. What it last published stays the answer: a client shown a
          // later state got a stamp with it that makes the copy decline (a write acknowledged,
          // an event, a reply of its next run; stamps of a replaced run are ignored).
          connected = false;
          awaitingMark = false;
          pending_.reset();
        }
      }
      while (sub.recv(m, zmq::recv_flags::dontwait)) {
        try {
          MessageIn in(m);
          auto c = in.root<Change>();
          std::lock_guard lock(mutex_);
          receiveLocked(c, awaitingMark);
        } catch (const std::exception& e) {
          spdlog::warn("{}: dropped a malformed change: {}", what_, e.what());
          std::lock_guard lock(mutex_);
          synced_ = false;
          wantSnapshot_ = true;
        } catch (const kj::Exception& e) {
          spdlog::warn("{}: dropped a malformed change: {}", what_, e.getDescription().cStr());
          std::lock_guard lock(mutex_);
          synced_ = false;
          wantSnapshot_ = true;
        }
      }
      auto now = Clock::now();
      bool take = false;
      {
        std::lock_guard lock(mutex_);
        if (awaitingMark && now > markBy) {
          wantSnapshot_ = true;  // the mark was lost: the subscription was not in place yet
          awaitingMark = false;
          pending_.reset();
        }
        take = connected && wantSnapshot_ && now >= snapshotAt;
      }
      if (take) {
        if (takeSnapshot()) {
          awaitingMark = true;
          markBy = Clock::now() + kMarkWait;
        } else {
          snapshotAt = Clock::now() + milliseconds(100);
        }
      }
      // The next timer: the snapshot's moment, or the end of the wait for its mark; none, a
      // second (the loop also looks at `running_` then).
      now = Clock::now();
      auto next = now + kIdleWait;
      {
        std::lock_guard lock(mutex_);
        if (connected && wantSnapshot_) next = std::min(next, snapshotAt);
      }
      if (awaitingMark) next = std::min(next, markBy);
      timeout = next > now ? std::chrono::ceil<milliseconds>(next - now) : milliseconds(0);
    }
  }

  // Ends the follow loop's poll at once (a snapshot asked for from another thread, the stop).
  void wake() {
    if (wakeFd_ < 0) return;
    uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wakeFd_, &one, sizeof one);
  }

  zmq::context_t& context_;
  const std::string what_;
  const Fetch fetch_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool synced_ = false;       // the snapshot's mark arrived and no gap since
  bool wantSnapshot_ = true;  // the loop takes a new snapshot
  uint64_t epoch_ = 0, seq_ = 0;
  ViewStamp required_;
  uint64_t runAfter_ = 0;  // only a run with a larger epoch answers (requireRunAfter())
  State state_;
  // A snapshot waiting for its mark. The state held answers meanwhile: through a restart of the
  // producer, the last run's state until the new run's is in place, unless a client was shown
  // something of the new run (its stamp is required, so the copy declines).
  std::optional<Snapshot> pending_;
  ViewCopyCounts counts_;
  std::atomic<bool> running_{true};
  // Wakes the follow loop: with it an idle copy sleeps instead of looking every 20 ms (four
  // copies made an idle berth-api wake 200 times a second).
  static constexpr std::chrono::milliseconds kIdleWait{1000};
  const int wakeFd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  std::thread thread_;  // last: started once everything above is made
};

}  // namespace berth::ipc
