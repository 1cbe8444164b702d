#include "services/containerd-bridge/exec_reaper.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <thread>

#include "common/errors.h"
#include "common/random.h"

namespace berth::bridge {

using namespace std::chrono_literals;

namespace {

constexpr std::string_view kMarkerPrefix = "process-";

}  // namespace

std::string ExecReaper::markerOf(const std::string& container, const std::string& execId) const {
  return paths_.runDirOf(container) + "/" + std::string(kMarkerPrefix) + execId;
}

void ExecReaper::track(const std::string& container, const std::string& execId) {
  std::string marker = markerOf(container, execId);
  int fd = ::open(marker.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    // The run directory goes with the container: nothing is left to delete then either.
    spdlog::warn("containers: recording the process {} of {}: {}", execId, shortId(container), std::strerror(errno));
    return;
  }
  ::close(fd);
}

bool ExecReaper::tryDelete(const std::string& container, const std::string& execId, bool logFailure) {
  try {
    tasks_.removeProcess(container, execId, deadlineIn(10s));  // absent is no error
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::notFound) {
      if (logFailure) {
        spdlog::info("containers: deleting the process {} of {} (tried again): {}", execId, shortId(container), e.what());
      }
      return false;
    }
  }
  ::unlink(markerOf(container, execId).c_str());
  return true;
}

void ExecReaper::remove(const std::string& container, const std::string& execId) {
  if (tryDelete(container, execId, true)) return;
  scheduler_.run([this, container, execId] { deleteEventually(container, execId); });
}

void ExecReaper::deleteEventually(const std::string& container, const std::string& execId) {
  auto giveUp = std::chrono::steady_clock::now() + kPatience;
  auto pause = 100ms;
  while (!stopping_ && std::chrono::steady_clock::now() < giveUp) {
    std::this_thread::sleep_for(pause);
    pause = std::min<std::chrono::milliseconds>(pause * 2, 2s);
    if (tryDelete(container, execId, false)) return;
  }
  if (!stopping_) {
    spdlog::warn("containers: the process {} of {} could not be deleted; the next restore deletes it", execId,
                 shortId(container));
  }
}

void ExecReaper::reap(const std::string& container, const std::string& execId) {
  auto giveUp = std::chrono::steady_clock::now() + kPatience;
  for (;;) {
    auto began = std::chrono::steady_clock::now();
    try {
      tasks_.wait(container, execId, deadlineIn(std::chrono::hours(24 * 365)));
      break;
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::notFound) {  // deleted already, or with its task
        ::unlink(markerOf(container, execId).c_str());
        return;
      }
      auto now = std::chrono::steady_clock::now();
      if (now - began > 1s) giveUp = now + kPatience;  // a wait that was in place, cut: containerd restarted
      bool cut = e.kind() == ErrorKind::unavailable || e.kind() == ErrorKind::deadlineExceeded;
      if (stopping_) return;
      if (!cut || now > giveUp) break;  // the deletion says what is wrong
      std::this_thread::sleep_for(100ms);
    }
  }
  if (!tryDelete(container, execId, true)) deleteEventually(container, execId);
}

size_t ExecReaper::reapOrphans(const std::vector<std::pair<std::string, std::string>>& found) {
  std::set<std::pair<std::string, std::string>> orphans(found.begin(), found.end());
  std::error_code ec;
  for (const auto& container : std::filesystem::directory_iterator(paths_.runDir, ec)) {
    if (!container.is_directory(ec)) continue;
    for (const auto& entry : std::filesystem::directory_iterator(container.path(), ec)) {
      std::string name = entry.path().filename();
      if (name.rfind(kMarkerPrefix, 0) != 0) continue;
      orphans.insert({container.path().filename().string(), name.substr(kMarkerPrefix.size())});
    }
  }
  for (const auto& [container, execId] : orphans) {
    spdlog::info("containers: the process {} of {} is the last bridge's: deleted once it ends", execId,
                 shortId(container));
    scheduler_.run([this, container = container, execId = execId] { reap(container, execId); });
  }
  return orphans.size();
}

}  // namespace berth::bridge
