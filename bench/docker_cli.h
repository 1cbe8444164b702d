// The benchmarks' docker CLI: `docker ARGS...` against the engine at `host`, whose exit code,
// output and errors each benchmark checks before it counts a sample.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace berth::bench {

inline test::CommandResult docker(const std::string& host, std::vector<std::string> args,
                                  std::chrono::milliseconds timeout = std::chrono::minutes(5)) {
  args.insert(args.begin(), "docker");
  return test::run(args, {"DOCKER_HOST=" + host}, timeout);
}

}  // namespace berth::bench
