// The producer's half of a views channel (docs/ipc.md, "Container views", "Volume views",
// "Image views", "Network views"): a PUB socket on which every change of the producer's views goes out numbered
// within the run (`epoch`, ipc/view_stamp.h's newViewEpoch), and the mark that ends a snapshot.
// It also stamps this process's replies and events of its kind with the sequence. `Change` is
// the channel's Cap'n Proto struct (epoch, seq, mark and the change itself). The caller holds
// lock() across numbering and sending, so changes leave in the order of their numbers.
#pragma once

#include <capnp/message.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <zmq.hpp>

#include "ipc/message.h"
#include "ipc/view_stamp.h"

namespace berth::ipc {

template <typename Change>
class ViewPublisher {
 public:
  // Binds `endpoint` (an ipc:// path is replaced) and stamps replies and events of `kind`.
  ViewPublisher(zmq::context_t& context, std::string endpoint, ViewKind kind)
      : endpoint_(std::move(endpoint)), kind_(kind), epoch_(newViewEpoch()), pub_(context, zmq::socket_type::pub) {
    pub_.set(zmq::sockopt::linger, 0);
    // A subscriber that falls this far behind loses changes, sees the gap and takes a snapshot.
    pub_.set(zmq::sockopt::sndhwm, 100000);
    if (endpoint_.rfind("ipc://", 0) == 0) ::unlink(endpoint_.substr(6).c_str());
    pub_.bind(endpoint_);
    setViewStampSource(kind_, [this] { return stamp(); });
  }
  ~ViewPublisher() {
    setViewStampSource(kind_, {});
    if (endpoint_.rfind("ipc://", 0) == 0) ::unlink(endpoint_.substr(6).c_str());
  }
  ViewPublisher(const ViewPublisher&) = delete;
  ViewPublisher& operator=(const ViewPublisher&) = delete;

  ViewStamp stamp() const { return {epoch_, seq_.load(std::memory_order_acquire)}; }
  uint64_t epoch() const { return epoch_; }
  std::unique_lock<std::mutex> lock() { return std::unique_lock(mutex_); }

  // With lock() held: takes the next number. Replies stamped from now on cover it, so it is
  // taken before the change is visible to readers where the producer can manage that.
  uint64_t numberLocked() {
    uint64_t next = seq_.load(std::memory_order_relaxed) + 1;
    seq_.store(next, std::memory_order_release);
    return next;
  }
  // With lock() held: the number of the last change (where a snapshot taken now stands).
  uint64_t sequenceLocked() const { return seq_.load(std::memory_order_relaxed); }

  // With lock() held: numbers the change `fill(typename Change::Builder)` writes and sends it.
  // The number is taken once the change is written, so a fill that throws spends none.
  template <typename F>
  void publishLocked(F&& fill) {
    uint64_t next = seq_.load(std::memory_order_relaxed) + 1;
    capnp::MallocMessageBuilder mb;
    auto change = mb.initRoot<Change>();
    change.setEpoch(epoch_);
    change.setSeq(next);
    fill(change);
    seq_.store(next, std::memory_order_release);
    send(mb);
  }

  // With lock() held: sends change `seq` (numberLocked's); `fill(typename Change::Builder)`
  // writes the change.
  template <typename F>
  void sendLocked(uint64_t seq, F&& fill) {
    capnp::MallocMessageBuilder mb;
    auto change = mb.initRoot<Change>();
    change.setEpoch(epoch_);
    change.setSeq(seq);
    fill(change);
    send(mb);
  }
  // With lock() held, after a snapshot at `seq`: marks where it ends on the channel.
  void markLocked(uint64_t seq) {
    capnp::MallocMessageBuilder mb;
    auto mark = mb.initRoot<Change>();
    mark.setEpoch(epoch_);
    mark.setSeq(seq);
    mark.setMark(true);
    send(mb);
  }

 private:
  void send(capnp::MallocMessageBuilder& mb) {
    auto frame = encode(mb);
    // Never blocks: with no subscriber, or one past its high-water mark, the change is dropped
    // for it (it sees the gap). The sequence moves on either way: replies are stamped with it.
    pub_.send(frame, zmq::send_flags::dontwait);
  }

  const std::string endpoint_;
  const ViewKind kind_;
  const uint64_t epoch_;
  std::atomic<uint64_t> seq_{0};
  std::mutex mutex_;
  zmq::socket_t pub_;
};

}  // namespace berth::ipc
