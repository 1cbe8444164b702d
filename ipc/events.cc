#include "ipc/events.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>

#include "common/time_format.h"
#include "ipc/message.h"
#include "ipc/methods.h"
#include "ipc/retained_events.h"
#include "ipc/view_stamp.h"

namespace berth::ipc {

void toCapnp(const EngineEvent& e, Event::Builder out) {
  out.setType(e.type);
  out.setAction(e.action);
  out.setActorId(e.actorId);
  auto attrs = out.initAttributes(static_cast<unsigned>(e.attributes.size()));
  for (size_t i = 0; i < e.attributes.size(); ++i) {
    attrs[i].setKey(e.attributes[i].first);
    attrs[i].setValue(e.attributes[i].second);
  }
  out.setScope(e.scope);
  out.setTimeNano(e.timeNano);
  writeViewStamps(out, e.viewStamps);
}

EngineEvent fromCapnp(Event::Reader in) {
  EngineEvent e;
  e.type = in.getType();
  e.action = in.getAction();
  e.actorId = in.getActorId();
  for (auto a : in.getAttributes()) e.attributes.emplace_back(a.getKey(), a.getValue());
  e.scope = in.getScope();
  e.timeNano = in.getTimeNano();
  e.viewStamps = readViewStamps(in);
  return e;
}

EventPublisher::EventPublisher(zmq::context_t& context, std::string endpoint)
    : endpoint_(std::move(endpoint)),
      pub_(context, zmq::socket_type::pub),
      retained_(std::make_unique<RetainedEvents>(kRetained)) {
  pub_.set(zmq::sockopt::linger, 0);
  pub_.set(zmq::sockopt::sndhwm, 100000);
  if (endpoint_.rfind("ipc://", 0) == 0) ::unlink(endpoint_.substr(6).c_str());
  pub_.bind(endpoint_);
}

EventPublisher::~EventPublisher() {
  if (endpoint_.rfind("ipc://", 0) == 0) ::unlink(endpoint_.substr(6).c_str());
}

void EventPublisher::publish(EngineEvent event) {
  if (event.timeNano == 0) event.timeNano = nowUnixNanos();
  // Stamped after the change it reports was made: a reader that learns of it from this event
  // then finds the views at least this far along.
  event.viewStamps = currentViewStamps();
  capnp::MallocMessageBuilder mb;
  toCapnp(event, mb.initRoot<Event>());
  auto frame = encode(mb);
  std::lock_guard lock(mutex_);
  retained_->add(event.timeNano, kj::arrayPtr(static_cast<const capnp::word*>(frame.data()), frame.size() / sizeof(capnp::word)));
  pub_.send(frame, zmq::send_flags::dontwait);
}

std::vector<EngineEvent> EventPublisher::recent(int64_t sinceNano, int64_t untilNano) const {
  std::lock_guard lock(mutex_);
  return retained_->between(sinceNano, untilNano);
}

void EventPublisher::serveOn(RpcServer& server) {
  server.handle(methods::recent(), [this](EventSource::RecentParams::Reader p, EventSource::RecentResults::Builder r) {
    auto events = recent(p.getSinceNano(), p.getUntilNano());
    auto list = r.initEvents(static_cast<unsigned>(events.size()));
    for (size_t i = 0; i < events.size(); ++i) toCapnp(events[i], list[i]);
  });
}

EventSubscriber::EventSubscriber(zmq::context_t& context, std::vector<std::string> endpoints,
                                 std::function<void(EngineEvent)> onEvent) {
  auto sub = std::make_shared<zmq::socket_t>(context, zmq::socket_type::sub);
  sub->set(zmq::sockopt::linger, 0);
  sub->set(zmq::sockopt::rcvhwm, 100000);
  sub->set(zmq::sockopt::reconnect_ivl, 10);
  sub->set(zmq::sockopt::reconnect_ivl_max, 100);
  sub->set(zmq::sockopt::maxmsgsize, kMaxMessageBytes);
  sub->set(zmq::sockopt::subscribe, "");
  for (const auto& ep : endpoints) sub->connect(ep);
  thread_ = std::thread([this, sub, onEvent = std::move(onEvent)] {
    zmq::pollitem_t item{sub->handle(), 0, ZMQ_POLLIN, 0};
    while (running_) {
      zmq::poll(&item, 1, std::chrono::milliseconds(100));
      if (!(item.revents & ZMQ_POLLIN)) continue;
      zmq::message_t m;
      while (sub->recv(m, zmq::recv_flags::dontwait)) {
        try {
          MessageIn in(m);
          onEvent(fromCapnp(in.root<Event>()));
        } catch (const std::exception& e) {
          spdlog::warn("events: dropped a malformed event: {}", e.what());
        } catch (const kj::Exception& e) {
          spdlog::warn("events: dropped a malformed event: {}", e.getDescription().cStr());
        }
      }
    }
  });
}

EventSubscriber::~EventSubscriber() {
  running_ = false;
  if (thread_.joinable()) thread_.join();
}

}  // namespace berth::ipc
