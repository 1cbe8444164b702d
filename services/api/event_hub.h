// Engine events inside the API: one subscriber on every service's event channel fans events
// out to the /events streams, and `since` queries gather the services' retained events.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "common/config.h"
#include "ipc/events.h"
#include "services/api/backends.h"

namespace berth::api {

class EventHub {
 public:
  // One /events client's queue. It holds at most `capacity` events: a client that stops
  // reading loses what comes after (counted), as dockerd's publisher drops events for a
  // subscriber whose buffer of 1024 is full, instead of the API's memory growing without bound.
  class Subscription {
   public:
    static constexpr size_t kCapacity = 1024;
    explicit Subscription(size_t capacity = kCapacity) : capacity_(capacity) {}
    // Queues one event, or drops it when the queue is full.
    void push(const ipc::EngineEvent& e);
    // Waits up to `timeout` for events; moves them into `out`. False on timeout.
    bool wait(std::chrono::milliseconds timeout, std::vector<ipc::EngineEvent>& out);
    // Events dropped so far because the client did not keep up.
    uint64_t dropped() const;

   private:
    const size_t capacity_;
    mutable std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<ipc::EngineEvent> queue_;
    uint64_t dropped_ = 0;
  };

  EventHub(zmq::context_t& context, const Config& config, Backends& backends);

  std::shared_ptr<Subscription> subscribe();
  void unsubscribe(const std::shared_ptr<Subscription>& s);
  size_t listeners() const;

  // The retained events of every service within [since, until] (until 0: no bound), oldest
  // first. A service that does not answer in time is skipped.
  std::vector<ipc::EngineEvent> history(int64_t sinceNano, int64_t untilNano);

 private:
  void deliver(ipc::EngineEvent e);

  Backends& backends_;
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<Subscription>> subscriptions_;
  std::unique_ptr<ipc::EventSubscriber> subscriber_;
};

}  // namespace berth::api
