#include "ipc/rpc_server.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <optional>
#include <set>

#include "ipc/message.h"
#include "ipc/schema/rpc.capnp.h"
#include "ipc/view_stamp.h"
#include "ipc/wire_errors.h"

namespace berth::ipc {
namespace {

using Clock = std::chrono::steady_clock;

// Every reply carries the view stamp as it is once the handler is done (after its changes).
void stamp(wire::ReplyHeader::Builder header) { writeViewStamps(header, currentViewStamps()); }

void collectMethods(capnp::InterfaceSchema iface, std::set<std::pair<uint64_t, uint16_t>>& seen,
                    std::vector<std::pair<MethodKey, std::string>>& out) {
  for (auto m : iface.getMethods()) {
    MethodKey key{iface.getProto().getId(), m.getOrdinal()};
    if (seen.insert({key.interfaceId, key.methodId}).second) {
      out.push_back({key, std::string(iface.getUnqualifiedName().cStr()) + "." + m.getProto().getName().cStr()});
    }
  }
  for (auto super : iface.getSuperclasses()) collectMethods(super, seen, out);
}

std::string socketPath(const std::string& endpoint) {
  return endpoint.rfind("ipc://", 0) == 0 ? endpoint.substr(6) : std::string();
}

}  // namespace

RpcServer::RpcServer(zmq::context_t& context, std::string endpoint, Options options)
    : context_(context), endpoint_(std::move(endpoint)), options_(options) {
  // Unique per server for the process's life (not derived from `this`): a long poll that outlived
  // its server must never reach a later one's replies socket.
  static std::atomic<uint64_t> servers{0};
  repliesEndpoint_ = "inproc://berth-rpc-replies-" + std::to_string(++servers);
}

RpcServer::~RpcServer() { stop(); }

void RpcServer::checkComplete() const {
  std::set<std::pair<uint64_t, uint16_t>> seen;
  std::vector<std::pair<MethodKey, std::string>> methods;
  for (auto iface : interfaces_) collectMethods(iface, seen, methods);
  std::string missing;
  for (const auto& [key, name] : methods) {
    if (!handlers_.count(key)) missing += (missing.empty() ? "" : ", ") + name;
  }
  if (!missing.empty()) throw Error(ErrorKind::internal, "ipc: methods declared but not implemented: " + missing);
}

void RpcServer::start() {
  checkComplete();
  router_ = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::router);
  router_->set(zmq::sockopt::linger, 0);
  router_->set(zmq::sockopt::maxmsgsize, kMaxMessageBytes);
  router_->set(zmq::sockopt::sndhwm, 100000);
  router_->set(zmq::sockopt::rcvhwm, 100000);
  if (auto path = socketPath(endpoint_); !path.empty()) ::unlink(path.c_str());
  router_->bind(endpoint_);
  running_ = true;
  // The replies socket must be bound before a worker connects to it (inproc), so bind it here.
  auto replies = std::make_shared<zmq::socket_t>(context_, zmq::socket_type::pull);
  replies->set(zmq::sockopt::linger, 0);
  replies->bind(repliesEndpoint_);
  // The standing workers are counted before the I/O thread takes a call, so none it starts
  // goes past the bound.
  size_t standing = std::min(options_.standingWorkers, options_.workers);
  for (size_t i = 0; i < standing; ++i) {
    {
      std::lock_guard lock(jobsMutex_);
      ++threads_;
      ++members_;
    }
    startWorker();
  }
  ioThread_ = std::thread([this, replies] {
    zmq::pollitem_t items[] = {{router_->handle(), 0, ZMQ_POLLIN, 0}, {replies->handle(), 0, ZMQ_POLLIN, 0}};
    while (running_) {
      try {
        zmq::poll(items, 2, std::chrono::milliseconds(100));
      } catch (const zmq::error_t& e) {
        if (e.num() == EINTR) continue;
        throw;
      }
      if (items[0].revents & ZMQ_POLLIN) {
        std::vector<zmq::message_t> frames;
        while (true) {
          frames.clear();
          auto n = zmq::recv_multipart(*router_, std::back_inserter(frames), zmq::recv_flags::dontwait);
          if (!n) break;
          handleCall(frames);
        }
      }
      if (items[1].revents & ZMQ_POLLIN) {
        std::vector<zmq::message_t> frames;
        while (true) {
          frames.clear();
          auto n = zmq::recv_multipart(*replies, std::back_inserter(frames), zmq::recv_flags::dontwait);
          if (!n) break;
          // A peer that vanished makes the send fail or drop; either way the reply is moot.
          zmq::send_multipart(*router_, frames, zmq::send_flags::dontwait);
        }
      }
    }
  });
}

void RpcServer::stop() {
  {
    // Under the jobs mutex, so no worker can check the flag and then miss the wakeup.
    std::lock_guard lock(jobsMutex_);
    if (!running_.exchange(false)) return;
  }
  jobsReady_.notify_all();
  {
    // Calls in flight on workers finish first; their replies are dropped.
    std::unique_lock lock(jobsMutex_);
    workersGone_.wait(lock, [&] { return threads_ == 0; });
  }
  {
    // Long polls end within their own wait; give them a moment to reply, not their whole wait.
    std::unique_lock lock(longPolls_->mutex);
    longPolls_->idle.wait_for(lock, std::chrono::seconds(1), [&] { return longPolls_->active == 0; });
  }
  if (ioThread_.joinable()) ioThread_.join();
  router_.reset();
  if (auto path = socketPath(endpoint_); !path.empty()) ::unlink(path.c_str());
}

void RpcServer::handleCall(std::vector<zmq::message_t>& frames) {
  // [identity][header][params]; anything else is not a call from a berth client.
  if (frames.size() != 3) {
    ++dropped_;
    spdlog::debug("ipc {}: dropped a message of {} frames", endpoint_, frames.size());
    return;
  }
  uint64_t requestId = 0;
  MethodKey key;
  uint32_t timeoutMs = 0;
  try {
    MessageIn header(frames[1]);
    auto h = header.root<wire::CallHeader>();
    requestId = h.getRequestId();
    key = {h.getInterfaceId(), h.getMethodId()};
    timeoutMs = h.getTimeoutMs();
  } catch (const std::exception& e) {
    ++dropped_;
    spdlog::debug("ipc {}: dropped a call with a malformed header: {}", endpoint_, e.what());
    return;
  } catch (const kj::Exception& e) {
    ++dropped_;
    spdlog::debug("ipc {}: dropped a call with a malformed header: {}", endpoint_, e.getDescription().cStr());
    return;
  }
  std::vector<zmq::message_t> out;
  out.push_back(std::move(frames[0]));
  auto it = handlers_.find(key);
  if (it == handlers_.end()) {
    capnp::MallocMessageBuilder mb;
    auto rh = mb.initRoot<wire::ReplyHeader>();
    rh.setRequestId(requestId);
    auto err = rh.initError();
    err.setKind(wire::ErrorKind::INVALID);
    err.setMessage("unknown method " + std::to_string(key.interfaceId) + "/" + std::to_string(key.methodId));
    out.push_back(encode(mb));
    zmq::send_multipart(*router_, out, zmq::send_flags::dontwait);
    return;
  }
  auto deadline = Clock::now() + std::chrono::milliseconds(timeoutMs ? timeoutMs : 3600000);
  if (it->second.dispatch == Dispatch::inline_) {
    execute(it->second, requestId, frames[2], deadline, out);
    zmq::send_multipart(*router_, out, zmq::send_flags::dontwait);
    return;
  }
  if (it->second.dispatch == Dispatch::longPoll) {
    std::vector<zmq::message_t> refusal;
    refusal.push_back(zmq::message_t(out[0].data(), out[0].size()));
    startLongPoll(Job{std::move(out[0]), requestId, &it->second, std::move(frames[2]), deadline}, refusal);
    if (refusal.size() > 1) zmq::send_multipart(*router_, refusal, zmq::send_flags::dontwait);
    return;
  }
  bool grow = false;
  {
    std::lock_guard lock(jobsMutex_);
    jobs_.push_back(Job{std::move(out[0]), requestId, &it->second, std::move(frames[2]), deadline});
    grow = needsWorkerLocked();
  }
  jobsReady_.notify_one();
  if (grow) startWorker();
}

bool RpcServer::needsWorkerLocked() {
  // A stopping server starts none: stop() waits only for the threads counted before it.
  if (!running_ || jobs_.size() <= idle_ || members_ >= options_.workers) return false;
  ++threads_;
  ++members_;
  return true;
}

void RpcServer::startWorker() {
  try {
    std::thread([this] { workerLoop(); }).detach();
  } catch (const std::system_error& e) {
    // Out of threads: the calls wait for the workers there are.
    spdlog::warn("ipc {}: cannot start a worker: {}", endpoint_, e.what());
    std::lock_guard lock(jobsMutex_);
    --threads_;
    --members_;
    workersGone_.notify_all();
  }
}

size_t RpcServer::workerThreads() const {
  std::lock_guard lock(jobsMutex_);
  return threads_;
}

void RpcServer::startLongPoll(Job job, std::vector<zmq::message_t>& refusal) {
  {
    std::lock_guard lock(longPolls_->mutex);
    if (longPolls_->active >= kMaxLongPolls) {
      capnp::MallocMessageBuilder mb;
      auto rh = mb.initRoot<wire::ReplyHeader>();
      rh.setRequestId(job.requestId);
      auto err = rh.initError();
      err.setKind(toWire(ErrorKind::unavailable));
      err.setMessage(job.entry->name + ": " + std::to_string(kMaxLongPolls) + " calls are waiting already");
      refusal.push_back(encode(mb));
      return;
    }
    ++longPolls_->active;
  }
  // Everything the thread uses is its own (the handler copied, the endpoint by value, the
  // counter shared), so a stop() that does not wait for it leaves it nothing dangling but the
  // context, which the process keeps until it ends.
  std::thread([&context = context_, endpoint = repliesEndpoint_, entry = *job.entry, polls = longPolls_,
               job = std::move(job)]() mutable {
    std::vector<zmq::message_t> out;
    out.push_back(std::move(job.identity));
    execute(entry, job.requestId, job.params, job.deadline, out);
    try {
      zmq::socket_t push(context, zmq::socket_type::push);
      push.set(zmq::sockopt::linger, 0);
      push.connect(endpoint);
      zmq::send_multipart(push, out, zmq::send_flags::dontwait);  // dropped when stopping
    } catch (const zmq::error_t&) {
      // The context is shutting down: the caller has gone with it.
    }
    std::lock_guard lock(polls->mutex);
    --polls->active;
    polls->idle.notify_all();
  }).detach();
}

size_t RpcServer::longPollsInProgress() const {
  std::lock_guard lock(longPolls_->mutex);
  return longPolls_->active;
}

void RpcServer::execute(const Entry& entry, uint64_t requestId, zmq::message_t& params, Clock::time_point deadline,
                        std::vector<zmq::message_t>& out) {
  std::optional<FrameBuilder> results;
  std::optional<std::pair<ErrorKind, std::string>> failure;
  try {
    MessageIn in(std::move(params));
    // The handler's own deadline leaves a tenth of the time left (at most 100 ms) for the reply.
    auto left = deadline - Clock::now();
    auto margin = std::min<Clock::duration>(left / 10, std::chrono::milliseconds(100));
    CallContext call{deadline - std::max<Clock::duration>(margin, Clock::duration::zero())};
    auto paramsRoot = in.reader().getRoot<capnp::AnyPointer>();
    if (entry.replyWords) results.emplace(entry.replyWords(paramsRoot));
    else results.emplace();
    entry.handler(paramsRoot, results->getRoot<capnp::AnyPointer>(), call);
  } catch (const Error& e) {
    failure = {e.kind(), e.what()};
  } catch (const kj::Exception& e) {
    // Cap'n Proto throws on malformed or out-of-bounds input while a handler reads it.
    failure = {ErrorKind::invalid, std::string("malformed request: ") + e.getDescription().cStr()};
  } catch (const nlohmann::json::type_error& e) {
    // A JSON document from the client with a value of the wrong type where a handler reads it
    // (a string for a bool, an object for a list): the caller's mistake, not the service's.
    failure = {ErrorKind::invalid, std::string("invalid JSON: ") + e.what()};
  } catch (const std::exception& e) {
    failure = {ErrorKind::internal, e.what()};
  }
  FrameBuilder header(kHeaderWords);
  auto rh = header.initRoot<wire::ReplyHeader>();
  rh.setRequestId(requestId);
  stamp(rh);
  if (failure) {
    if (failure->first == ErrorKind::internal) spdlog::error("{} failed: {}", entry.name, failure->second);
    auto err = rh.initError();
    err.setKind(toWire(failure->first));
    err.setMessage(failure->second);
    out.push_back(header.release());
  } else {
    rh.setOk();
    out.push_back(header.release());
    out.push_back(results->release());
  }
}

void RpcServer::workerLoop() {
  std::optional<zmq::socket_t> push;
  try {
    push.emplace(context_, zmq::socket_type::push);
    push->set(zmq::sockopt::linger, 0);
    push->connect(repliesEndpoint_);
  } catch (const zmq::error_t& e) {
    // Out of descriptors or past libzmq's socket limit, as a burst can be: the calls wait for
    // the workers there are.
    spdlog::warn("ipc {}: a worker cannot open its socket: {}", endpoint_, e.what());
    push.reset();
    std::lock_guard lock(jobsMutex_);
    --members_;
    --threads_;
    workersGone_.notify_all();
    return;
  }
  {
    std::unique_lock lock(jobsMutex_);
    while (running_) {
      if (jobs_.empty()) {
        ++idle_;
        bool woken = jobsReady_.wait_for(lock, options_.workerIdle, [&] { return !running_ || !jobs_.empty(); });
        --idle_;
        if (!woken && members_ > options_.standingWorkers) break;  // idle too long: retire
        continue;
      }
      Job job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      if (Clock::now() <= job.deadline) {  // otherwise the caller has given up already
        std::vector<zmq::message_t> out;
        out.push_back(std::move(job.identity));
        execute(*job.entry, job.requestId, job.params, job.deadline, out);
        zmq::send_multipart(*push, out, zmq::send_flags::dontwait);  // dropped when stopping
      }
      lock.lock();
    }
    --members_;
  }
  push.reset();  // the socket closes before the thread is counted out
  std::lock_guard lock(jobsMutex_);
  --threads_;
  workersGone_.notify_all();
}

}  // namespace berth::ipc
