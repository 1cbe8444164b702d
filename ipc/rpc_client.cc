#include "ipc/rpc_client.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <set>

#include <capnp/any.h>
#include <spdlog/spdlog.h>

#include "ipc/schema/rpc.capnp.h"
#include "ipc/wire_errors.h"

namespace berth::ipc {

namespace {
constexpr std::string_view kWentAway = " went away during the call";

// Every client of the process, for closeIdleEverywhere.
std::mutex& clientsMutex() {
  static std::mutex m;
  return m;
}
std::set<RpcClient*>& clients() {
  static std::set<RpcClient*> all;
  return all;
}
}  // namespace

bool RpcClient::wentAwayDuringCall(const Error& e) {
  return e.kind() == ErrorKind::unavailable && std::string_view(e.what()).ends_with(kWentAway);
}

// One DEALER socket plus the PAIR socket that receives its monitor events.
struct RpcClient::Connection {
  zmq::socket_t socket;
  zmq::socket_t monitor;

  Connection(zmq::context_t& ctx, const std::string& endpoint, const std::string& monitorEndpoint)
      : socket(ctx, zmq::socket_type::dealer), monitor(ctx, zmq::socket_type::pair) {
    socket.set(zmq::sockopt::linger, 0);
    // Queue nothing for a peer that is not connected: a call to a down peer waits for POLLOUT.
    socket.set(zmq::sockopt::immediate, 1);
    socket.set(zmq::sockopt::reconnect_ivl, 10);
    socket.set(zmq::sockopt::reconnect_ivl_max, 20);
    socket.set(zmq::sockopt::maxmsgsize, kMaxMessageBytes);
    if (zmq_socket_monitor(socket.handle(), monitorEndpoint.c_str(), ZMQ_EVENT_DISCONNECTED) != 0) {
      throw Error(ErrorKind::internal, std::string("zmq_socket_monitor: ") + zmq_strerror(zmq_errno()));
    }
    try {
      monitor.set(zmq::sockopt::linger, 0);
      monitor.connect(monitorEndpoint);
      socket.connect(endpoint);
    } catch (...) {
      zmq_socket_monitor(socket.handle(), nullptr, 0);  // as the destructor does
      throw;
    }
  }

  // The monitor stops before its socket closes: libzmq (4.3) drops without freeing an event it
  // cannot deliver, which an event raised while both close, or while the context ends, is.
  ~Connection() { zmq_socket_monitor(socket.handle(), nullptr, 0); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Discards monitor events from before this call.
  void drainMonitor() {
    zmq::message_t m;
    while (monitor.recv(m, zmq::recv_flags::dontwait)) {
    }
  }

  // True when the monitor reports that the peer went away.
  bool peerDisconnected() {
    bool gone = false;
    for (;;) {
      zmq::message_t event;
      if (!monitor.recv(event, zmq::recv_flags::dontwait)) break;
      if (event.size() >= 2) {
        uint16_t id;
        std::memcpy(&id, event.data(), 2);
        if (id == ZMQ_EVENT_DISCONNECTED) gone = true;
      }
      while (event.more()) {
        if (!monitor.recv(event, zmq::recv_flags::dontwait)) break;
      }
    }
    return gone;
  }
};

RpcClient::RpcClient(zmq::context_t& context, std::string endpoint)
    : context_(context), endpoint_(std::move(endpoint)) {
  std::lock_guard lock(clientsMutex());
  clients().insert(this);
}

RpcClient::~RpcClient() {
  std::lock_guard lock(clientsMutex());
  clients().erase(this);
}

size_t RpcClient::closeIdle(Clock::time_point now) {
  std::vector<Idle> closing;  // closed outside the pool's lock
  {
    std::lock_guard lock(poolMutex_);
    closing = takeStaleLocked(now);
  }
  return closing.size();
}

size_t RpcClient::closeIdleEverywhere(Clock::time_point now) {
  // Under the registry's lock, so no client is destroyed meanwhile; no client takes it while
  // it holds its pool's lock.
  std::lock_guard lock(clientsMutex());
  size_t closed = 0;
  for (RpcClient* c : clients()) closed += c->closeIdle(now);
  return closed;
}

size_t RpcClient::idleSockets() {
  std::lock_guard lock(poolMutex_);
  return pool_.size();
}

std::unique_ptr<RpcClient::Connection> RpcClient::acquire() {
  {
    std::lock_guard lock(poolMutex_);
    if (!pool_.empty()) {
      auto c = std::move(pool_.back().connection);
      pool_.pop_back();
      return c;
    }
  }
  // Unique for the life of the process: ZeroMQ unbinds a closed socket's monitor endpoint
  // asynchronously, so a client built where an earlier one stood (same address) must not reuse
  // its name.
  static std::atomic<uint64_t> nextMonitorId{1};
  std::string monitorEndpoint = "inproc://berth-rpc-monitor-" + std::to_string(nextMonitorId++);
  return std::make_unique<Connection>(context_, endpoint_, monitorEndpoint);
}

std::vector<RpcClient::Idle> RpcClient::takeStaleLocked(Clock::time_point now) {
  // The pool is ordered by release, the longest idle first. The most recently used socket stays,
  // however long idle: the next call after a pause need not make a socket and its connection.
  size_t stale = 0;
  while (stale + 1 < pool_.size() && (pool_.size() - stale > kMaxIdle || now - pool_[stale].since > kIdleLife)) {
    ++stale;
  }
  std::vector<Idle> out(std::make_move_iterator(pool_.begin()), std::make_move_iterator(pool_.begin() + static_cast<long>(stale)));
  pool_.erase(pool_.begin(), pool_.begin() + static_cast<long>(stale));
  return out;
}

void RpcClient::release(std::unique_ptr<Connection> c) {
  std::vector<Idle> closing;  // closed outside the lock
  auto now = Clock::now();
  std::lock_guard lock(poolMutex_);
  pool_.push_back({std::move(c), now});
  closing = takeStaleLocked(now);
}

std::unique_ptr<MessageIn> RpcClient::callRaw(const MethodKey& key, const std::string& name, bool readOnly,
                                               FrameBuilder& params, Deadline deadline) {
  auto conn = acquire();
  uint64_t requestId = nextRequestId_++;
  auto remainingMs = [&] {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return left < 0 ? 0L : static_cast<long>(left);
  };

  FrameBuilder header(kHeaderWords);
  auto h = header.initRoot<wire::CallHeader>();
  h.setRequestId(requestId);
  h.setInterfaceId(key.interfaceId);
  h.setMethodId(key.methodId);
  // The header's field is 32 bits (49 days): a longer deadline is sent as the longest one, never
  // truncated into a short one.
  h.setTimeoutMs(static_cast<uint32_t>(std::min<long>(remainingMs(), std::numeric_limits<uint32_t>::max())));
  std::array<zmq::message_t, 2> frames{header.release(), params.release()};

  conn->drainMonitor();
  uint64_t sentAt = 0;
  // Wait until the socket has a connected peer, then send.
  for (;;) {
    zmq::pollitem_t item{conn->socket.handle(), 0, ZMQ_POLLOUT, 0};
    zmq::poll(&item, 1, std::chrono::milliseconds(remainingMs()));
    if (item.revents & ZMQ_POLLOUT) {
      if (onWentAway_ && !readOnly) sentAt = viewClockNow();
      if (zmq::send_multipart(conn->socket, frames, zmq::send_flags::dontwait)) break;
    }
    if (remainingMs() == 0) {
      release(std::move(conn));
      throw Error(ErrorKind::unavailable, name + ": " + endpoint_ + " is not reachable");
    }
  }
  // Wait for our reply; drop stale replies to earlier calls that timed out on this socket.
  for (;;) {
    zmq::pollitem_t items[] = {{conn->socket.handle(), 0, ZMQ_POLLIN, 0}, {conn->monitor.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 2, std::chrono::milliseconds(remainingMs()));
    if (items[0].revents & ZMQ_POLLIN) {
      std::vector<zmq::message_t> reply;
      if (!zmq::recv_multipart(conn->socket, std::back_inserter(reply), zmq::recv_flags::dontwait)) continue;
      std::unique_ptr<MessageIn> rh;
      uint64_t replyTo = 0;
      std::optional<std::pair<ErrorKind, std::string>> failure;
      try {
        // Cap'n Proto reports malformed input with kj::Exception, which is no std::exception:
        // caught here, a malformed reply is dropped instead of ending the process.
        rh = std::make_unique<MessageIn>(reply.at(0));
        auto r = rh->root<wire::ReplyHeader>();
        replyTo = r.getRequestId();
        if (r.isError()) failure = {fromWire(r.getError().getKind()), r.getError().getMessage().cStr()};
      } catch (const std::exception& e) {
        spdlog::warn("ipc {}: dropped a malformed reply: {}", endpoint_, e.what());
        continue;
      } catch (const kj::Exception& e) {
        spdlog::warn("ipc {}: dropped a malformed reply: {}", endpoint_, e.getDescription().cStr());
        continue;
      }
      if (replyTo != requestId) continue;
      if (onViewStamp_) {
        auto stamps = readViewStamps(rh->root<wire::ReplyHeader>());
        for (size_t k = 0; k < kViewKinds; ++k) {
          if (stamps[k].epoch != 0) onViewStamp_(static_cast<ViewKind>(k), stamps[k]);
        }
      }
      if (failure) {
        release(std::move(conn));
        throw Error(failure->first, failure->second);
      }
      if (reply.size() != 2) {
        release(std::move(conn));
        throw Error(ErrorKind::internal, name + ": reply without results");
      }
      std::unique_ptr<MessageIn> results;
      try {
        results = std::make_unique<MessageIn>(std::move(reply[1]));
        // Every pointer checked now (a traversal), so a reader of the results meets no
        // out-of-bounds pointer later, outside any handler that could catch it.
        results->root<capnp::AnyPointer>().targetSize();
      } catch (const kj::Exception& e) {
        release(std::move(conn));
        throw Error(ErrorKind::internal, name + ": malformed reply from " + endpoint_ + ": " + e.getDescription().cStr());
      } catch (const std::exception& e) {
        release(std::move(conn));
        throw Error(ErrorKind::internal, name + ": malformed reply from " + endpoint_ + ": " + e.what());
      }
      release(std::move(conn));
      return results;
    }
    if ((items[1].revents & ZMQ_POLLIN) && conn->peerDisconnected()) {
      release(std::move(conn));
      if (onWentAway_ && !readOnly) onWentAway_(sentAt);
      throw Error(ErrorKind::unavailable, name + ": " + endpoint_ + std::string(kWentAway));
    }
    if (remainingMs() == 0) {
      release(std::move(conn));
      throw Error(ErrorKind::deadlineExceeded, name + ": no reply from " + endpoint_ + " before the deadline");
    }
  }
}

}  // namespace berth::ipc
