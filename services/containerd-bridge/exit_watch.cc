#include "services/containerd-bridge/exit_watch.h"

#include <algorithm>
#include <filesystem>
#include <optional>
#include <utility>
#include <vector>

#include "common/errors.h"
#include "common/files.h"

namespace berth::bridge {

ExitWatch::ExitWatch(const ContainerStore& store, std::string removedDir)
    : store_(store), removedDir_(std::move(removedDir)), removedExits_(kRemovedKept) {
  if (removedDir_.empty()) return;
  makeDirectories(removedDir_, 0700);
  // The previous bridge's removals, oldest first, so that the oldest is forgotten first again.
  std::vector<std::pair<std::filesystem::file_time_type, std::filesystem::path>> kept;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(removedDir_, ec)) {
    // A name that is no container id is a write a crash cut short (writeFileReplacing's
    // temporary): its code may be incomplete.
    if (e.path().filename().string().size() != RemovedExit{}.id.size()) {
      std::filesystem::remove(e.path(), ec);
      continue;
    }
    kept.emplace_back(e.last_write_time(ec), e.path());
  }
  std::sort(kept.begin(), kept.end());
  for (const auto& [time, path] : kept) {
    try {
      remember(path.filename().string(), static_cast<int>(std::stoll(readFile(path.string()))));
    } catch (const std::exception&) {
      std::filesystem::remove(path, ec);  // cut short by a crash: the code is unknown
    }
  }
}

void ExitWatch::remember(const std::string& id, int exitCode) {
  if (id.empty() || id.size() > RemovedExit{}.id.size()) return;  // not kept, and takes no slot
  RemovedExit& slot = removedExits_[removedNext_];
  removedNext_ = (removedNext_ + 1) % removedExits_.size();
  if (slot.length > 0 && !removedDir_.empty()) {
    std::error_code ec;
    std::filesystem::remove(removedDir_ + "/" + std::string(slot.id.data(), slot.length), ec);
  }
  std::copy(id.begin(), id.end(), slot.id.begin());
  slot.length = static_cast<uint8_t>(id.size());
  slot.exitCode = exitCode;
}

std::optional<int> ExitWatch::removedExitCode(const std::string& id) const {
  for (const auto& slot : removedExits_) {
    if (slot.length == id.size() && std::equal(id.begin(), id.end(), slot.id.begin())) return slot.exitCode;
  }
  return std::nullopt;
}

size_t ExitWatch::lastExitsKept() const {
  std::lock_guard lock(mutex_);
  return lastExits_.size();
}

void ExitWatch::notify() {
  {
    std::lock_guard lock(mutex_);  // a waiter between its check and its wait cannot miss this
  }
  changed_.notify_all();
}

void ExitWatch::recording(const std::string& id) {
  std::lock_guard lock(mutex_);
  recording_[id] += 1;
}

void ExitWatch::abandoned(const std::string& id) {
  {
    std::lock_guard lock(mutex_);
    if (auto it = recording_.find(id); it != recording_.end() && --it->second <= 0) recording_.erase(it);
  }
  changed_.notify_all();
}

void ExitWatch::exited(const std::string& id, int64_t exits, int exitCode) {
  {
    std::lock_guard lock(mutex_);
    if (lastExits_.size() > 1000) lastExits_.clear();
    lastExits_[id] = {exits, exitCode};
    if (auto it = recording_.find(id); it != recording_.end() && --it->second <= 0) recording_.erase(it);
  }
  changed_.notify_all();
}

void ExitWatch::removed(const std::string& id, int exitCode) {
  {
    std::lock_guard lock(mutex_);
    lastExits_.erase(id);
    remember(id, exitCode);
    if (!removedDir_.empty()) {
      try {
        writeFileReplacing(removedDir_ + "/" + id, std::to_string(exitCode), 0600);
      } catch (const std::exception&) {
        // Memory still answers this bridge's waiters; only a restart would lose the code.
      }
    }
  }
  changed_.notify_all();
}

bool ExitWatch::exitAfter(const std::string& id, int64_t exits, std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(mutex_);
  auto passed = [&] {
    if (recording_.count(id) != 0) return false;
    try {
      return store_.find(id)->exits > exits;
    } catch (const Error&) {
      return true;  // removed
    }
  };
  for (bool extended = false;;) {
    if (passed()) return true;
    if (changed_.wait_until(lock, deadline) != std::cv_status::timeout) continue;
    if (passed()) return true;
    // An exit being recorded when the time ran out is announced a moment later: a stop that
    // gave up here would send a needless SIGKILL, or report an exit it has as none.
    if (extended || recording_.count(id) == 0) return false;
    extended = true;
    deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  }
}

WaitResult ExitWatch::wait(const std::string& ref, const std::string& condition, int64_t afterExits,
                           std::chrono::milliseconds waitFor) const {
  if (!condition.empty() && condition != "not-running" && condition != "next-exit" && condition != "removed") {
    throw Error(ErrorKind::invalid, "invalid condition: \"" + condition + "\"");
  }
  WaitResult result;
  auto deadline = std::chrono::steady_clock::now() + waitFor;
  std::unique_lock lock(mutex_);
  bool first = true;
  for (;;) {
    std::optional<ContainerRecord> record;
    try {
      record = store_.get(ref);
    } catch (const Error&) {
      auto code = condition == "removed" ? removedExitCode(ref) : std::nullopt;
      if (code) {
        result.id = ref;
        result.done = true;
        result.statusCode = *code;
        return result;
      }
      throw;
    }
    result.id = record->id;
    if (first && afterExits < 0) afterExits = record->exits;
    first = false;
    result.exits = afterExits;
    auto status = record->state.status;
    // As dockerd, an exit ends a wait for not-running or next-exit even when the restart policy
    // brings the container back (dockerd's state is stopped for that moment).
    if (condition == "next-exit") {
      result.done = record->exits > afterExits;
    } else if (condition == "removed") {
      result.done = false;
    } else {
      result.done = !flagsOf(status).running || record->exits > afterExits;
    }
    if (result.done) {
      result.statusCode = record->state.exitCode;
      result.error = record->state.error;
      if (flagsOf(status).running) {
        // Ended by an exit the restart policy followed with a new run.
        if (auto it = lastExits_.find(record->id); it != lastExits_.end() && it->second.first > afterExits) {
          result.statusCode = it->second.second;
        }
      }
      return result;
    }
    if (changed_.wait_until(lock, deadline) == std::cv_status::timeout) return result;
  }
}

}  // namespace berth::bridge
