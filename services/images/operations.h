// Long operations (pull, push) that report progress while they run. Each runs on a thread of
// its own; the API polls `next` for new progress lines (a long poll), and gets the operation's
// error once every line has been read. Finished operations are forgotten once read to the end,
// or after ten idle minutes.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/errors.h"

namespace berth::images {

class Operations {
 public:
  using Report = std::function<void(const std::string&)>;
  using Body = std::function<void(const Report&)>;

  ~Operations();  // waits for running operations

  std::string start(Body body);

  struct Chunk {
    std::vector<std::string> lines;
    bool done = false;
  };
  // Lines from index `from` on, waiting up to `wait` for some. Throws the operation's error once
  // its lines are all read; notFound for an unknown id.
  Chunk next(const std::string& id, size_t from, std::chrono::milliseconds wait);

 private:
  struct Operation {
    std::vector<std::string> lines;
    bool done = false;
    std::optional<Error> failure;
    std::chrono::steady_clock::time_point touched = std::chrono::steady_clock::now();
  };
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, std::shared_ptr<Operation>> operations_;
  std::vector<std::pair<std::thread, std::shared_ptr<Operation>>> threads_;
  uint64_t counter_ = 0;
};

}  // namespace berth::images
