// One lock per container that serialises the operations users ask for (start, stop, remove,
// pause, update, cp...). Exit handling does not take it, so a stop can wait for the exit it
// caused; every record change is a read-modify-write in the store either way.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace berth::bridge {

class OperationLocks {
 public:
  std::shared_ptr<std::mutex> of(const std::string& id) {
    std::lock_guard lock(mutex_);
    auto& m = locks_[id];
    if (!m) m = std::make_shared<std::mutex>();
    return m;
  }
  void forget(const std::string& id) {
    std::lock_guard lock(mutex_);
    locks_.erase(id);
  }

 private:
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<std::mutex>> locks_;
};

}  // namespace berth::bridge
