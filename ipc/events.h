// Engine events on ZeroMQ publish/subscribe. A producing service owns an EventPublisher: it
// binds a PUB endpoint, stamps and sends each event, and retains the last ones in memory (as
// their frames: ipc/retained_events.h) to answer EventSource.recent (docker events --since). The API owns an EventSubscriber connected
// to every producer; ZeroMQ reconnects it by itself when a producer restarts.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>
#include <zmq.hpp>

#include "ipc/rpc_server.h"
#include "ipc/view_stamp.h"
#include "ipc/schema/events.capnp.h"

namespace berth::ipc {

struct EngineEvent {
  std::string type;
  std::string action;
  std::string actorId;
  std::vector<std::pair<std::string, std::string>> attributes;
  std::string scope = "local";
  int64_t timeNano = 0;
  // The publisher's view stamps of every kind (ipc/view_stamp.h), set by EventPublisher::publish.
  ViewStamps viewStamps{};
};

void toCapnp(const EngineEvent& e, Event::Builder out);
EngineEvent fromCapnp(Event::Reader in);

class RetainedEvents;

class EventPublisher {
 public:
  static constexpr size_t kRetained = 1024;

  EventPublisher(zmq::context_t& context, std::string endpoint);
  ~EventPublisher();

  // Stamps the time when the event has none, retains it and sends it. Thread-safe.
  void publish(EngineEvent event);
  // Retained events with since <= time <= until (until 0: no bound), oldest first.
  std::vector<EngineEvent> recent(int64_t sinceNano, int64_t untilNano) const;
  // Serves EventSource.recent on `server`.
  void serveOn(RpcServer& server);

 private:
  std::string endpoint_;
  mutable std::mutex mutex_;
  zmq::socket_t pub_;
  std::unique_ptr<RetainedEvents> retained_;
};

class EventSubscriber {
 public:
  EventSubscriber(zmq::context_t& context, std::vector<std::string> endpoints,
                  std::function<void(EngineEvent)> onEvent);
  ~EventSubscriber();

 private:
  std::atomic<bool> running_{true};
  std::thread thread_;
};

}  // namespace berth::ipc
