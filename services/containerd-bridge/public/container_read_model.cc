#include "services/containerd-bridge/public/container_read_model.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>
#include <zmq.hpp>

#include "common/errors.h"
#include "common/time_format.h"
#include "ipc/message.h"
#include "ipc/methods.h"
#include "ipc/rpc_client.h"
#include "ipc/schema/containerd_bridge.capnp.h"
#include "services/containerd-bridge/public/container_filter.h"

namespace berth::bridge {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct ContainerReadModel::View {
  ContainerFacts facts;    // id, name, created and running always; the rest when hasFacts
  bool hasFacts = false;   // a bridge older than the facts sends none: filtered lists ask it
  bool servable = false;
  std::string inspectHead, inspectTail, execIds, listHead, listTail, statusPrefix, statusSuffix;
  int64_t statusSince = -1;
};

namespace {

// How long a read waits for the views channel to bring a change a reply already acknowledged
// (it is on its way: the bridge sends it before it replies) before it asks the bridge instead.
constexpr auto kCatchUp = 20ms;
// How long after a snapshot its mark may take before the snapshot is taken again (the mark is
// lost when the subscription had not reached the bridge yet).
constexpr auto kMarkWait = 250ms;

std::shared_ptr<const ContainerReadModel::View> viewOf(ipc::ContainerView::Reader v) {
  auto out = std::make_shared<ContainerReadModel::View>();
  ContainerFacts& c = out->facts;
  c.id = v.getId();
  c.name = v.getName();
  c.created = v.getCreated();
  c.running = v.getRunning();
  if (v.hasFacts()) {
    auto f = v.getFacts();
    out->hasFacts = true;
    c.state = f.getState();
    c.started = f.getStarted();
    c.exitCode = f.getExitCode();
    c.health = f.getHealth();
    c.imageId = f.getImageId();
    c.imageRef = f.getImageRef();
    for (auto l : f.getLabels()) c.labels[l.getKey()] = l.getValue();
    for (auto t : f.getVolumes()) c.volumes.emplace_back(t);
    for (auto n : f.getNetworks()) c.networks.emplace_back(n.getName(), n.getId());
    for (auto t : f.getPublished()) c.published.emplace_back(t);
    for (auto t : f.getExposed()) c.exposed.emplace_back(t);
  }
  out->inspectHead = v.getInspectHead();
  out->inspectTail = v.getInspectTail();
  out->execIds = v.getExecIds();
  out->listHead = v.getListHead();
  out->listTail = v.getListTail();
  out->servable = !out->inspectHead.empty() && !out->listHead.empty() && !out->execIds.empty();
  out->statusPrefix = v.getStatusPrefix();
  out->statusSince = v.getStatusSince();
  out->statusSuffix = v.getStatusSuffix();
  return out;
}

std::string withSlash(const std::string& name) { return !name.empty() && name.front() == '/' ? name : "/" + name; }

}  // namespace

ContainerReadModel::ContainerReadModel(zmq::context_t& context, std::string viewsEndpoint, ipc::RpcClient& bridge)
    : context_(context), bridge_(bridge) {
  bridge_.onViewStamp([this](ipc::ViewStamp stamp) { require(stamp); });
  thread_ = std::thread([this, endpoint = std::move(viewsEndpoint)] { run(endpoint); });
}

ContainerReadModel::~ContainerReadModel() {
  running_ = false;
  if (thread_.joinable()) thread_.join();
}

void ContainerReadModel::require(ipc::ViewStamp stamp) {
  if (stamp.epoch == 0) return;
  std::lock_guard lock(mutex_);
  // A later run of the bridge has a larger epoch. A stamp of a run that a later one replaced (an
  // event or a reply read late) must not bring that run's state back as an answer.
  if (stamp.epoch < required_.epoch) return;
  if (stamp.epoch != required_.epoch) {
    // Another run of the bridge answered: what this model holds (if of the earlier run) is
    // no longer the bridge's. The views channel's reconnection brings a snapshot; asking for
    // one here too costs nothing when it does.
    required_ = stamp;
    if (epoch_ != stamp.epoch) wantSnapshot_ = true;
  } else {
    required_.seq = std::max(required_.seq, stamp.seq);
  }
}

bool ContainerReadModel::current(std::unique_lock<std::mutex>& lock) {
  auto holds = [&] {
    return synced_ && (required_.epoch == 0 || (required_.epoch == epoch_ && seq_ >= required_.seq));
  };
  if (holds()) return true;
  if (!synced_ || required_.epoch != epoch_) return false;
  return changed_.wait_for(lock, kCatchUp, holds);
}

const ContainerReadModel::View* ContainerReadModel::findLocked(const std::string& ref) const {
  // As the bridge's store resolves: the full id, then the name, then a unique id prefix. Not
  // found and ambiguous are the bridge's to say.
  if (ref.empty()) return nullptr;
  if (auto it = byId_.find(ref); it != byId_.end()) return it->second.get();
  if (auto named = byName_.find(withSlash(ref)); named != byName_.end()) {
    auto byName = byId_.find(named->second);
    return byName != byId_.end() ? byName->second.get() : nullptr;
  }
  auto it = byId_.lower_bound(ref);
  if (it == byId_.end() || it->first.rfind(ref, 0) != 0) return nullptr;
  if (auto next = std::next(it); next != byId_.end() && next->first.rfind(ref, 0) == 0) return nullptr;
  return it->second.get();
}

std::optional<std::string> ContainerReadModel::inspect(const std::string& ref) {
  std::unique_lock lock(mutex_);
  auto decline = [&] {
    ++counts_.declined;
    return std::nullopt;
  };
  if (ref.empty() || !current(lock)) return decline();
  const View* view = findLocked(ref);
  if (view == nullptr || !view->servable) return decline();
  ++counts_.served;
  std::string out;
  out.reserve(view->inspectHead.size() + view->execIds.size() + view->inspectTail.size());
  out += view->inspectHead;
  out += view->execIds;
  out += view->inspectTail;
  return out;
}

std::optional<std::string> ContainerReadModel::list(bool all, int limit, const std::string& filters) {
  std::optional<ContainerFilter> filter;
  try {
    filter.emplace(filters);
  } catch (const Error&) {
    // The bridge refuses it with the same words; one place says why.
  }
  std::vector<std::shared_ptr<const View>> candidates;
  {
    std::unique_lock lock(mutex_);
    auto decline = [&] {
      ++counts_.declined;
      return std::nullopt;
    };
    // ancestor= resolves images, which is the images service's (through the bridge).
    if (!filter || !filter->ancestors().empty() || !current(lock)) return decline();
    std::optional<int64_t> before, since;
    if (filter->beforeRef()) {
      const View* v = findLocked(*filter->beforeRef());
      if (v == nullptr) return decline();
      before = v->facts.created;
    }
    if (filter->sinceRef()) {
      const View* v = findLocked(*filter->sinceRef());
      if (v == nullptr) return decline();
      since = v->facts.created;
    }
    filter->setBounds(before, since);
    candidates.reserve(byId_.size());
    for (const auto& [id, view] : byId_) {
      if (!view->servable || (!filter->empty() && !view->hasFacts)) return decline();
      candidates.push_back(view);
    }
    ++counts_.served;
  }
  // The views are immutable once made: selected and rendered outside the lock.
  auto shown = selectContainers(std::move(candidates), *filter, all, limit,
                                [](const auto& view) -> const ContainerFacts& { return view->facts; });
  int64_t now = nowUnixNanos();
  std::string out = "[";
  for (const auto& view : shown) {
    if (out.size() > 1) out += ',';
    out += view->listHead;
    out += nlohmann::json(statusLine(view->statusPrefix, view->statusSince, view->statusSuffix, now)).dump();
    out += view->listTail;
  }
  out += ']';
  return out;
}

ContainerReadModel::Counts ContainerReadModel::counts() const {
  std::lock_guard lock(mutex_);
  return counts_;
}

bool ContainerReadModel::takeSnapshot() {
  try {
    auto reply = bridge_.call(ipc::methods::bridgeContainerViews(), deadlineIn(2s));
    auto r = reply.get();
    std::map<std::string, std::shared_ptr<const View>> byId;
    std::map<std::string, std::string> byName;
    for (auto v : r.getViews()) {
      auto view = viewOf(v);
      byName[view->facts.name] = view->facts.id;
      byId[view->facts.id] = std::move(view);
    }
    std::lock_guard lock(mutex_);
    // In place once the channel's mark shows that the changes after it will arrive.
    pending_ = Pending{std::move(byId), std::move(byName), r.getEpoch(), r.getSeq()};
    wantSnapshot_ = false;
    ++counts_.snapshots;
    return true;
  } catch (const std::exception& e) {
    // berth::Error (the bridge is away) or zmq::error_t (no descriptor left for a connection).
    spdlog::debug("containers read model: no snapshot: {}", e.what());
    return false;
  } catch (const kj::Exception& e) {
    spdlog::warn("containers read model: a malformed snapshot: {}", e.getDescription().cStr());
    return false;
  }
}

void ContainerReadModel::run(std::string endpoint) {
  // Nothing may end this thread but the destructor: an exception escaping it would end berth-api.
  // Whatever stops the channel (a process out of descriptors cannot make its sockets) leaves
  // the model unsynchronised, so reads ask the bridge, and the channel is made again shortly.
  while (running_) {
    try {
      follow(endpoint);
    } catch (const std::exception& e) {
      spdlog::warn("containers read model: the views channel failed: {}; reads ask the bridge until it is back", e.what());
    } catch (const kj::Exception& e) {
      spdlog::warn("containers read model: the views channel failed: {}; reads ask the bridge until it is back",
                   e.getDescription().cStr());
    }
    {
      std::lock_guard lock(mutex_);
      synced_ = false;
      wantSnapshot_ = true;
      pending_.reset();
    }
    for (int i = 0; i < 10 && running_; ++i) std::this_thread::sleep_for(10ms);
  }
}

void ContainerReadModel::follow(const std::string& endpoint) {
  zmq::socket_t sub(context_, zmq::socket_type::sub);
  sub.set(zmq::sockopt::linger, 0);
  sub.set(zmq::sockopt::rcvhwm, 100000);
  sub.set(zmq::sockopt::reconnect_ivl, 10);
  sub.set(zmq::sockopt::reconnect_ivl_max, 20);
  sub.set(zmq::sockopt::maxmsgsize, ipc::kMaxMessageBytes);
  sub.set(zmq::sockopt::subscribe, "");
  static std::atomic<uint64_t> nextMonitorId{1};
  std::string monitorEndpoint = "inproc://berth-views-monitor-" + std::to_string(nextMonitorId++);
  zmq::socket_t monitor(context_, zmq::socket_type::pair);
  if (zmq_socket_monitor(sub.handle(), monitorEndpoint.c_str(), ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED) != 0) {
    throw zmq::error_t();
  }
  // Monitoring stops before either socket closes: libzmq (4.3) drops without freeing an event it
  // cannot deliver, as one raised while the sockets close, or while the context ends, is.
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
  while (running_) {
    zmq::pollitem_t items[] = {{sub.handle(), 0, ZMQ_POLLIN, 0}, {monitor.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 2, 20ms);
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
        // Give the subscription a moment to reach the bridge, so the snapshot's mark is seen.
        snapshotAt = Clock::now() + 10ms;
      } else if (event == ZMQ_EVENT_DISCONNECTED) {
        // The bridge went away. What it last published stays the answer: a client shown a later
        // state of its containers got a stamp with it that makes the model decline (a write it
        // acknowledged, an event, a reply of its next run; stamps of a replaced run are ignored).
        connected = false;
        awaitingMark = false;
        pending_.reset();
      }
    }
    while (sub.recv(m, zmq::recv_flags::dontwait)) {
      try {
        ipc::MessageIn in(m);
        auto c = in.root<ipc::ContainerViewChange>();
        std::lock_guard lock(mutex_);
        bool ofPending = pending_ && c.getEpoch() == pending_->epoch;
        if (c.getMark()) {
          if (ofPending && awaitingMark && c.getSeq() == pending_->seq) {
            byId_ = std::move(pending_->byId);
            byName_ = std::move(pending_->byName);
            epoch_ = pending_->epoch;
            seq_ = pending_->seq;
            pending_.reset();
            synced_ = true;
            awaitingMark = false;
            changed_.notify_all();
          }
          continue;
        }
        if (ofPending && c.getSeq() > pending_->seq) {
          // A change after the snapshot whose mark never came: take another.
          pending_.reset();
          awaitingMark = false;
          wantSnapshot_ = true;
        }
        if (!synced_ || c.getEpoch() != epoch_) {
          // Not following yet, or another run of the bridge: a snapshot brings it in.
          if (!pending_) wantSnapshot_ = true;
          continue;
        }
        if (c.getSeq() <= seq_) continue;  // held already
        if (c.getSeq() != seq_ + 1) {
          // A gap: what is held misses a change. Start again.
          synced_ = false;
          wantSnapshot_ = true;
          continue;
        }
        if (c.hasView()) {
          auto view = viewOf(c.getView());
          const std::string& id = view->facts.id;
          if (auto old = byId_.find(id); old != byId_.end() && old->second->facts.name != view->facts.name) {
            byName_.erase(old->second->facts.name);
          }
          byName_[view->facts.name] = id;
          byId_[id] = std::move(view);
        } else {
          std::string id = c.getRemovedId();
          if (auto old = byId_.find(id); old != byId_.end()) {
            if (auto named = byName_.find(old->second->facts.name); named != byName_.end() && named->second == id) {
              byName_.erase(named);
            }
            byId_.erase(old);
          }
        }
        seq_ = c.getSeq();
        ++counts_.changes;
        changed_.notify_all();
      } catch (const std::exception& e) {
        spdlog::warn("containers read model: dropped a malformed change: {}", e.what());
        std::lock_guard lock(mutex_);
        synced_ = false;
        wantSnapshot_ = true;
      } catch (const kj::Exception& e) {
        spdlog::warn("containers read model: dropped a malformed change: {}", e.getDescription().cStr());
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
        snapshotAt = Clock::now() + 100ms;
      }
    }
  }
}

}  // namespace berth::bridge
