#include "services/api/event_hub.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "ipc/methods.h"

namespace berth::api {

using namespace std::chrono_literals;

void EventHub::Subscription::push(const ipc::EngineEvent& e) {
  {
    std::lock_guard lock(mutex_);
    if (queue_.size() >= capacity_) {
      ++dropped_;
      return;
    }
    queue_.push_back(e);
  }
  ready_.notify_one();
}

uint64_t EventHub::Subscription::dropped() const {
  std::lock_guard lock(mutex_);
  return dropped_;
}

bool EventHub::Subscription::wait(std::chrono::milliseconds timeout, std::vector<ipc::EngineEvent>& out) {
  std::unique_lock lock(mutex_);
  if (!ready_.wait_for(lock, timeout, [&] { return !queue_.empty(); })) return false;
  while (!queue_.empty()) {
    out.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return true;
}

EventHub::EventHub(zmq::context_t& context, const Config& config, Backends& backends) : backends_(backends) {
  std::vector<std::string> endpoints;
  for (const auto& [name, client] : backends_.eventSources()) endpoints.push_back(config.eventsEndpoint(name));
  subscriber_ = std::make_unique<ipc::EventSubscriber>(context, endpoints,
                                                       [this](ipc::EngineEvent e) { deliver(std::move(e)); });
}

std::shared_ptr<EventHub::Subscription> EventHub::subscribe() {
  auto s = std::make_shared<Subscription>();
  std::lock_guard lock(mutex_);
  subscriptions_.push_back(s);
  return s;
}

void EventHub::unsubscribe(const std::shared_ptr<Subscription>& s) {
  std::lock_guard lock(mutex_);
  subscriptions_.erase(std::remove(subscriptions_.begin(), subscriptions_.end(), s), subscriptions_.end());
}

size_t EventHub::listeners() const {
  std::lock_guard lock(mutex_);
  return subscriptions_.size();
}

void EventHub::deliver(ipc::EngineEvent e) {
  // Before any client sees the event: a read it makes after it reflects the change reported.
  for (size_t k = 0; k < ipc::kViewKinds; ++k) backends_.require(static_cast<ipc::ViewKind>(k), e.viewStamps[k]);
  std::lock_guard lock(mutex_);
  for (auto& s : subscriptions_) s->push(e);
}

std::vector<ipc::EngineEvent> EventHub::history(int64_t sinceNano, int64_t untilNano) {
  std::vector<ipc::EngineEvent> all;
  for (const auto& [name, client] : backends_.eventSources()) {
    try {
      auto reply = client->call(ipc::methods::recent(), ipc::deadlineIn(500ms), [&](ipc::EventSource::RecentParams::Builder p) {
        p.setSinceNano(sinceNano);
        p.setUntilNano(untilNano);
      });
      for (auto e : reply.get().getEvents()) all.push_back(ipc::fromCapnp(e));
    } catch (const Error& e) {
      spdlog::warn("events: no history from {}: {}", name, e.what());
    }
  }
  std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.timeNano < b.timeNano; });
  return all;
}

}  // namespace berth::api
