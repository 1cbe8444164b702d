#include "services/images/operations.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

namespace berth::images {

Operations::~Operations() {
  for (auto& [t, op] : threads_) {
    if (t.joinable()) t.join();
  }
}

std::string Operations::start(Body body) {
  auto op = std::make_shared<Operation>();
  std::string id;
  std::lock_guard lock(mutex_);
  // Forget finished operations nobody read for ten minutes.
  auto now = std::chrono::steady_clock::now();
  for (auto it = operations_.begin(); it != operations_.end();) {
    if (it->second->done && now - it->second->touched > std::chrono::minutes(10)) it = operations_.erase(it);
    else ++it;
  }
  // Join the threads of finished operations (their results stay in operations_ until read).
  for (auto it = threads_.begin(); it != threads_.end();) {
    if (it->second->done) {
      it->first.join();
      it = threads_.erase(it);
    } else {
      ++it;
    }
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%d-%llu", getpid(), static_cast<unsigned long long>(++counter_));
  id = buf;
  operations_[id] = op;
  std::thread thread([this, op, body = std::move(body)] {
    std::optional<Error> failure;
    try {
      body([&](const std::string& line) {
        std::lock_guard l(mutex_);
        op->lines.push_back(line);
        changed_.notify_all();
      });
    } catch (const Error& e) {
      failure = e;
    } catch (const std::exception& e) {
      failure = Error(ErrorKind::internal, e.what());
    }
    std::lock_guard l(mutex_);
    op->done = true;
    op->failure = failure;
    op->touched = std::chrono::steady_clock::now();
    changed_.notify_all();
  });
  threads_.emplace_back(std::move(thread), op);
  return id;
}

Operations::Chunk Operations::next(const std::string& id, size_t from, std::chrono::milliseconds wait) {
  std::unique_lock lock(mutex_);
  auto it = operations_.find(id);
  if (it == operations_.end()) throw Error(ErrorKind::notFound, "operation " + id + " not found");
  auto op = it->second;
  changed_.wait_for(lock, wait, [&] { return op->done || op->lines.size() > from; });
  op->touched = std::chrono::steady_clock::now();
  Chunk c;
  for (size_t i = from; i < op->lines.size(); ++i) c.lines.push_back(op->lines[i]);
  c.done = op->done;
  if (op->done && c.lines.empty()) {
    operations_.erase(id);
    if (op->failure) throw *op->failure;
  }
  return c;
}

}  // namespace berth::images
