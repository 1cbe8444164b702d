// One engine per data root: an exclusive lock on <data-root>/berth.lock held for the
// supervisor's lifetime, and the pidfile, locked too, as dockerd's --pidfile.
#pragma once

#include <string>

#include "common/config.h"
#include "common/files.h"

namespace berth::supervisor {

class InstanceLock {
 public:
  // Throws an Error whose message names the running instance and the path when either lock is
  // held by another process.
  explicit InstanceLock(const Config& config);
  ~InstanceLock();
  InstanceLock(const InstanceLock&) = delete;
  InstanceLock& operator=(const InstanceLock&) = delete;

 private:
  std::string pidfile_;
  UniqueFd rootLock_;
  UniqueFd pidLock_;
};

}  // namespace berth::supervisor
