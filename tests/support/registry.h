// A real registry for pull/push tests: Debian's docker-registry on 127.0.0.1, on a free port,
// with its own storage directory, optionally behind htpasswd basic auth. Ended by pid.
#pragma once

#include <memory>
#include <string>

#include "tests/support/process.h"

namespace berth::test {

class Registry {
 public:
  // With a user, the registry demands basic auth for that user and password.
  explicit Registry(const std::string& user = "", const std::string& password = "");
  ~Registry();
  const std::string& host() const { return host_; }  // "127.0.0.1:PORT"

 private:
  TempDir dir_{"berth-registry"};
  std::string host_;
  std::unique_ptr<Spawned> process_;
};

int freeLoopbackPort();

}  // namespace berth::test
