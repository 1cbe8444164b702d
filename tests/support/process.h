// Test helpers for processes: run a command to completion, or spawn one and end it by pid.
// Tests end only the processes they started.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <set>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace berth::test {

struct CommandResult {
  int exitCode = -1;  // -1 when killed by the timeout or a signal
  std::string out;
  std::string err;
};

// Runs argv (argv[0] found in PATH) with extra environment entries, feeding `input` on stdin.
CommandResult run(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
                  std::chrono::milliseconds timeout = std::chrono::seconds(60), const std::string& input = "");

class Spawned {
 public:
  // Starts argv with its stdout and stderr appended to `logPath`. A `listenFd` >= 0 is passed
  // as descriptor 3 with LISTEN_FDS=1 and LISTEN_PID, as systemd passes a socket unit's socket.
  Spawned(const std::vector<std::string>& argv, const std::vector<std::string>& env, const std::string& logPath,
          int listenFd = -1);
  Spawned(Spawned&&) noexcept;
  Spawned& operator=(Spawned&&) = delete;
  ~Spawned();  // SIGKILLs and reaps the process when it still runs

  pid_t pid() const { return pid_; }
  void signal(int sig) const;
  // Waits for exit; nullopt on timeout. Returns the raw wait status.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  bool exited() const { return exited_; }

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
};

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "berth-test");
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

bool processAlive(pid_t pid);
// Whether the process maps a file whose name starts with `library` ("libssl.so" matches
// /usr/lib/x86_64-linux-gnu/libssl.so.3). Throws when its maps cannot be read: an unreadable
// maps is not an answer.
bool mapsLibrary(pid_t pid, const std::string& library);
// kill(2) of one process the test knows by pid; throws for pid <= 1 (kill(0) or kill(-1) would
// signal the test's own process group or everything) and when kill fails.
void killPid(pid_t pid, int sig);
std::string readText(const std::string& path);
std::string binDir();  // build/bin
std::vector<pid_t> childrenOf(pid_t parent);  // direct children, from /proc
pid_t parentOf(pid_t pid);                     // 0 when it is gone
// What a process's descriptors point at ("socket:[1]", "pipe:[2]", "anon_inode:[eventfd]", a
// path); one closed meanwhile is left out.
std::vector<std::string> descriptorTargets(pid_t pid);
// The pipes a process holds, by inode ("pipe:[123]").
std::set<std::string> pipesOf(pid_t pid);
// Polls `done` every `step` until it holds (true) or `timeout` has passed (false): the wait a
// test uses instead of a sleep wherever a condition can be observed.
bool waitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout,
             std::chrono::milliseconds step = std::chrono::milliseconds(20));

// SIGSTOP of one process until the guard ends (SIGCONT), so a failing assertion never leaves it
// frozen. The stop reaches each thread asynchronously: the guard waits, up to 5 s, until the
// kernel shows every one of them stopped; stopped() says whether they all were.
class Frozen {
 public:
  explicit Frozen(pid_t pid);
  ~Frozen();
  Frozen(const Frozen&) = delete;
  Frozen& operator=(const Frozen&) = delete;
  bool stopped() const { return stopped_; }

 private:
  pid_t pid_;
  bool stopped_ = false;
};

// Runs `step` over and over on a thread of its own until stop() or destruction: a test that
// ends early (a failed ASSERT returns from it) still joins the thread instead of terminating
// the whole test binary with a joinable std::thread.
class BackgroundLoop {
 public:
  explicit BackgroundLoop(std::function<void()> step);
  ~BackgroundLoop() { stop(); }
  BackgroundLoop(const BackgroundLoop&) = delete;
  BackgroundLoop& operator=(const BackgroundLoop&) = delete;
  void stop();

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace berth::test
