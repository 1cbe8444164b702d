// A Mounter that keeps a mount table in memory, for tests of the volumes core and the local
// driver without root: it records every call and can be told to fail the next mount or unmount.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "services/volumes/mounter.h"

namespace berth::volumes {

class FakeMounter : public Mounter {
 public:
  struct Call {
    std::string op;  // "mount" or "unmount"
    std::string source, target, type, data;
    unsigned long flags = 0;
  };

  int mount(const std::string& source, const std::string& target, const std::string& type, unsigned long flags,
            const std::string& data) override {
    calls.push_back({"mount", source, target, type, data, flags});
    if (failWith) {
      int err = failWith;
      failWith = 0;
      return err;
    }
    mounted.insert(target);
    return 0;
  }
  int unmount(const std::string& target, int flags) override {
    calls.push_back({"unmount", "", target, "", "", static_cast<unsigned long>(flags)});
    if (failUnmountWith) {
      int err = failUnmountWith;
      failUnmountWith = 0;
      return err;
    }
    return mounted.erase(target) ? 0 : 22;  // EINVAL, as the kernel says for "not mounted"
  }
  bool isMountPoint(const std::string& path) override { return mounted.count(path) > 0; }

  size_t count(const std::string& op) const {
    size_t n = 0;
    for (const auto& c : calls) n += c.op == op;
    return n;
  }

  std::set<std::string> mounted;
  std::vector<Call> calls;
  int failWith = 0;         // errno for the next mount
  int failUnmountWith = 0;  // errno for the next unmount
};

}  // namespace berth::volumes
