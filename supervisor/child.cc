#include "supervisor/child.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "common/errors.h"
#include "common/signal_safe.h"

namespace berth::supervisor {
pid_t spawnChild(const ChildSpec& spec, const SpawnEnvironment& env) {
  // Everything the child needs is built before fork: after it only async-signal-safe calls run.
  auto nameOf = [](std::string_view entry) { return entry.substr(0, entry.find('=')); };
  std::vector<std::string> envStrings;
  for (const auto& inherited : env.base) {
    bool replaced = std::any_of(spec.env.begin(), spec.env.end(),
                                [&](const std::string& e) { return nameOf(e) == nameOf(inherited); });
    if (!replaced) envStrings.push_back(inherited);
  }
  envStrings.insert(envStrings.end(), spec.env.begin(), spec.env.end());
  envStrings.push_back("NOTIFY_SOCKET=" + env.notifySocket);
  if (!spec.passFds.empty()) {
    envStrings.push_back("LISTEN_FDS=" + std::to_string(spec.passFds.size()));
    std::string names;
    for (const auto& n : spec.fdNames) names += (names.empty() ? "" : ":") + n;
    envStrings.push_back("LISTEN_FDNAMES=" + names);
  }
  if (spec.watchdog && env.watchdog.count() > 0) {
    envStrings.push_back("WATCHDOG_USEC=" + std::to_string(env.watchdog.count()));
  }
  // Room for "LISTEN_PID=" / "WATCHDOG_PID=" plus the child's pid, filled in after fork.
  std::string listenPid(40, '\0'), watchdogPid(40, '\0');
  std::memcpy(listenPid.data(), "LISTEN_PID=", 11);
  std::memcpy(watchdogPid.data(), "WATCHDOG_PID=", 13);

  std::vector<char*> envp;
  for (auto& s : envStrings) envp.push_back(s.data());
  if (!spec.passFds.empty()) envp.push_back(listenPid.data());
  if (spec.watchdog && env.watchdog.count() > 0) envp.push_back(watchdogPid.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = spec.argv;
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t parent = getpid();

  pid_t pid = fork();
  if (pid < 0) throwSystemError("fork", spec.argv[0]);
  if (pid > 0) return pid;

  // Child.
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD}) signal(sig, SIG_DFL);
  setpgid(0, 0);  // a terminal's Ctrl-C reaches the supervisor only; it stops children in order
  // A supervisor that dies without stopping its children (kill -9, a crash) takes them along at
  // once, as a crash of each: every service recovers from that by design, containers belong to
  // containerd's shims and keep running, and the next supervisor on these roots restores. A
  // SIGTERM here would have let the API drain its requests for seconds after the engine was gone.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(1);
  size_t n = spec.passFds.size();
  int moved[64];
  for (size_t i = 0; i < n && i < 64; ++i) moved[i] = fcntl(spec.passFds[i], F_DUPFD, 100 + static_cast<int>(i));
  for (size_t i = 0; i < n && i < 64; ++i) {
    dup2(moved[i], 3 + static_cast<int>(i));
    close(moved[i]);
  }
  close_range(3 + static_cast<unsigned>(n), ~0U, 0);
  formatDecimal(listenPid.data() + 11, listenPid.size() - 11, static_cast<unsigned long>(getpid()));
  formatDecimal(watchdogPid.data() + 13, watchdogPid.size() - 13, static_cast<unsigned long>(getpid()));
  execve(argv[0], argv.data(), envp.data());
  _exit(127);
}

std::string serviceTunables(const char* inherited) {
  std::string value = inherited ? inherited : "";
  if (value.find("glibc.malloc.tcache_count=") == std::string::npos) {
    value += (value.empty() ? "" : ":") + std::string("glibc.malloc.tcache_count=0");
  }
  return "GLIBC_TUNABLES=" + value;
}

std::string describeExit(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    const char* name = strsignal(sig);
    return "signal " + std::to_string(sig) + " (" + (name ? name : "?") + ")";
  }
  return "status " + std::to_string(status);
}

}  // namespace berth::supervisor
