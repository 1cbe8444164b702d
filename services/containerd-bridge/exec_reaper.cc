#include "services/containerd-bridge/exec_reaper.h"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <string_view>
#include <thread>

#include "common/errors.h"
#include "common/random.h"

namespace berth::bridge {

using namespace std::chrono_literals;

namespace {

constexpr std::string_view kMarkerPrefix = "process-";

void removeFiles(const std::vector<std::string>& paths) {
  for (const auto& path : paths) ::unlink(path.c_str());
}

}  // namespace

// A process's fifos, each open read-write (a reader and a writer for whatever the shim opens)
// for as long as this lives.
class ExecReaper::HeldFifos {
 public:
  explicit HeldFifos(std::vector<std::string> paths) : paths_(std::move(paths)) {
    for (const auto& path : paths_) fds_.push_back(::open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC));
  }
  ~HeldFifos() {
    for (int fd : fds_) {
      if (fd >= 0) ::close(fd);
    }
  }
  HeldFifos(const HeldFifos&) = delete;
  HeldFifos& operator=(const HeldFifos&) = delete;
  const std::vector<std::string>& paths() const { return paths_; }

 private:
  std::vector<std::string> paths_;
  std::vector<int> fds_;
};

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

ExecReaper::Deletion ExecReaper::tryDelete(const std::string& container, const std::string& execId, bool logFailure) {
  try {
    tasks_.removeProcess(container, execId, deadlineIn(10s));  // absent is no error
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::notFound) {
      // containerd passes the shim's refusal on untyped (gRPC Unknown): its words tell it apart
      // from a call cut by a restart ("cannot delete a running process", pkg/process).
      if (std::string_view(e.what()).find("running process") != std::string_view::npos) return Deletion::running;
      if (logFailure) {
        spdlog::info("containers: deleting the process {} of {} (tried again): {}", execId, shortId(container), e.what());
      }
      return Deletion::failed;
    }
  }
  ::unlink(markerOf(container, execId).c_str());
  return Deletion::done;
}

void ExecReaper::remove(const std::string& container, const std::string& execId) {
  if (tryDelete(container, execId, true) == Deletion::done) return;
  reapInBackground(container, execId, std::make_shared<HeldFifos>(std::vector<std::string>{}), false);
}

void ExecReaper::abandon(const std::string& container, const std::string& execId, std::vector<std::string> fifos) {
  // Held before the deletion: the shim's deletion waits for its start, which may wait for them.
  auto held = std::make_shared<HeldFifos>(std::move(fifos));
  if (tryDelete(container, execId, true) == Deletion::done) {
    removeFiles(held->paths());  // the shim's start, if it had one, has ended
    return;
  }
  reapInBackground(container, execId, std::move(held), true);
}

void ExecReaper::reapInBackground(const std::string& container, const std::string& execId,
                                  std::shared_ptr<HeldFifos> fifos, bool killIfRunning) {
  scheduler_.run([this, container, execId, fifos, killIfRunning] {
    // Left in place when the bridge stops or gives up: the next restore holds them again.
    if (reap(container, execId, killIfRunning)) removeFiles(fifos->paths());
  });
}

bool ExecReaper::reap(const std::string& container, const std::string& execId, bool killIfRunning) {
  auto giveUp = std::chrono::steady_clock::now() + kPatience;
  auto pause = 100ms;
  auto rest = [&] {
    std::this_thread::sleep_for(pause);
    pause = std::min<std::chrono::milliseconds>(pause * 2, 2s);
  };
  while (!stopping_) {
    switch (tryDelete(container, execId, false)) {
      case Deletion::done: return true;
      case Deletion::failed: rest(); break;
      case Deletion::running: {
        if (killIfRunning) {
          try {
            tasks_.kill(container, execId, SIGKILL, false, deadlineIn(10s));
          } catch (const Error&) {
            // Ended meanwhile, or containerd away: the next round asks again.
          }
        }
        auto began = std::chrono::steady_clock::now();
        try {
          tasks_.wait(container, execId, deadlineIn(std::chrono::hours(24 * 365)));
          giveUp = std::chrono::steady_clock::now() + kPatience;  // it ended: delete it now
          pause = 100ms;
        } catch (const Error& e) {
          if (e.kind() == ErrorKind::notFound) {  // deleted already, or with its task
            ::unlink(markerOf(container, execId).c_str());
            return true;
          }
          // A wait in place for longer than a failed connection takes (the client's 5 s of
          // retries) was cut by containerd's restart: the count of failures starts over.
          if (std::chrono::steady_clock::now() - began > 10s) giveUp = std::chrono::steady_clock::now() + kPatience;
          rest();
        }
        break;
      }
    }
    if (std::chrono::steady_clock::now() > giveUp) {
      spdlog::warn("containers: the process {} of {} could not be deleted; the next restore deletes it", execId,
                   shortId(container));
      return false;
    }
  }
  return false;
}

size_t ExecReaper::reapOrphans() {
  // {container, exec id} → its fifos. A marker names the process; a fifo is named
  // exec-ID-stdout (-stderr, -stdin) or health-ID.
  std::map<std::pair<std::string, std::string>, std::vector<std::string>> orphans;
  std::error_code ec;
  for (const auto& container : std::filesystem::directory_iterator(paths_.runDir, ec)) {
    if (!container.is_directory(ec)) continue;
    std::string id = container.path().filename();
    for (const auto& entry : std::filesystem::directory_iterator(container.path(), ec)) {
      std::string name = entry.path().filename();
      if (name.rfind(kMarkerPrefix, 0) == 0) {
        orphans[{id, name.substr(kMarkerPrefix.size())}];
        continue;
      }
      if (name.rfind("exec-", 0) != 0 && name.rfind("health-", 0) != 0) continue;
      if (!entry.is_fifo(ec)) continue;
      auto begin = name.find('-') + 1;
      auto end = name.find('-', begin);
      orphans[{id, name.substr(begin, end == std::string::npos ? end : end - begin)}].push_back(entry.path());
    }
  }
  for (auto& [process, fifos] : orphans) {
    spdlog::info("containers: the process {} of {} is the last bridge's: deleted once it ends ({} fifos held until then)",
                 process.second, shortId(process.first), fifos.size());
    reapInBackground(process.first, process.second, std::make_shared<HeldFifos>(std::move(fifos)), false);
  }
  return orphans.size();
}

}  // namespace berth::bridge
