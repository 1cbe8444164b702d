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
  class Subscription {
   public:
    // Waits up to `timeout` for events; moves them into `out`. False on timeout.
    bool wait(std::chrono::milliseconds timeout, std::vector<ipc::EngineEvent>& out);

   private:
    friend class EventHub;
    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<ipc::EngineEvent> queue_;
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
