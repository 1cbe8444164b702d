#include "tests/support/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <stdexcept>
#include <thread>

#include "common/signal_safe.h"

extern char** environ;

namespace berth::test {
namespace {

std::vector<char*> cstrings(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

std::vector<std::string> mergedEnv(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string s(*e);
    bool overridden = false;
    for (const auto& x : extra) overridden = overridden || s.substr(0, s.find('=') + 1) == x.substr(0, x.find('=') + 1);
    if (!overridden) env.push_back(s);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

}  // namespace

CommandResult run(const std::vector<std::string>& argvIn, const std::vector<std::string>& envIn,
                  std::chrono::milliseconds timeout, const std::string& input) {
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) throw std::runtime_error("pipe");
  std::vector<std::string> argv = argvIn, env = mergedEnv(envIn);
  auto cargv = cstrings(argv), cenv = cstrings(env);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    setpgid(0, 0);
    execvpe(cargv[0], cargv.data(), cenv.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  std::thread writer([fd = in[1], input] {
    // A command that exits before reading all its input must fail its own way, not end the
    // test binary with SIGPIPE: blocked on this thread, the write returns EPIPE instead.
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
    size_t off = 0;
    while (off < input.size()) {
      ssize_t n = write(fd, input.data() + off, input.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    close(fd);
  });
  CommandResult r;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open = 2;
  bool timedOut = false;
  while (open > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timedOut = true;
      break;
    }
    if (poll(fds, 2, static_cast<int>(left.count())) <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[65536];
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open;
      } else {
        (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(n));
      }
    }
  }
  if (timedOut) kill(-pid, SIGKILL);
  for (auto& f : fds) {
    if (f.fd >= 0) close(f.fd);
  }
  writer.join();
  int status = 0;
  waitpid(pid, &status, 0);
  r.exitCode = !timedOut && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (timedOut) r.err += "\n[test harness: timed out after " + std::to_string(timeout.count()) + " ms]";
  return r;
}

Spawned::Spawned(const std::vector<std::string>& argvIn, const std::vector<std::string>& envIn,
                 const std::string& logPath, int listenFd) {
  std::vector<std::string> argv = argvIn, env = mergedEnv(envIn);
  // LISTEN_PID holds the child's pid, written after fork into room made here.
  if (listenFd >= 0) {
    env.push_back("LISTEN_FDS=1");
    env.push_back("LISTEN_PID=" + std::string(12, ' '));
  }
  auto cargv = cstrings(argv), cenv = cstrings(env);
  int log = open(logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) throw std::runtime_error("open " + logPath);
  pid_ = fork();
  if (pid_ == 0) {
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    dup2(log, 1);
    dup2(log, 2);
    if (listenFd >= 0) {
      if (listenFd == 3) fcntl(3, F_SETFD, 0);
      else dup2(listenFd, 3);  // dup2 leaves the copy without FD_CLOEXEC
      char* pidText = cenv[cenv.size() - 2] + std::strlen("LISTEN_PID=");
      formatDecimal(pidText, 13, static_cast<unsigned long>(getpid()));  // the 12 spaces and the NUL
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execvpe(cargv[0], cargv.data(), cenv.data());
    _exit(127);
  }
  close(log);
}

Spawned::Spawned(Spawned&& o) noexcept : pid_(o.pid_), exited_(o.exited_) { o.pid_ = -1; }

Spawned::~Spawned() {
  if (pid_ > 0 && !exited_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

void Spawned::signal(int sig) const {
  if (pid_ > 0 && !exited_) kill(pid_, sig);
}

std::optional<int> Spawned::wait(std::chrono::milliseconds timeout) {
  if (exited_) return std::nullopt;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exited_ = true;
      return status;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

TempDir::TempDir(const std::string& prefix) {
  std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void killPid(pid_t pid, int sig) {
  if (pid <= 1) throw std::runtime_error("refusing to signal pid " + std::to_string(pid));
  if (::kill(pid, sig) != 0) {
    throw std::runtime_error("kill(" + std::to_string(pid) + ", " + std::to_string(sig) + "): " + std::strerror(errno));
  }
}

bool mapsLibrary(pid_t pid, const std::string& library) {
  std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
  if (!maps) throw std::runtime_error("cannot read the maps of " + std::to_string(pid));
  std::string line;
  while (std::getline(maps, line)) {
    if (line.find("/" + library) != std::string::npos) return true;
  }
  if (maps.bad()) throw std::runtime_error("reading the maps of " + std::to_string(pid) + " failed");
  return false;
}

bool processAlive(pid_t pid) {
  if (pid <= 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}

std::string readText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string binDir() { return BERTH_BIN_DIR; }

std::vector<pid_t> childrenOf(pid_t parent) {
  std::vector<pid_t> out;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string stat = readText(entry.path().string() + "/stat");
    auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    std::string state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent && state != "Z") out.push_back(std::stoi(name));
  }
  return out;
}

pid_t parentOf(pid_t pid) {
  std::string stat = readText("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(stat.substr(close + 2));
  std::string state;
  pid_t ppid = 0;
  rest >> state >> ppid;
  return ppid;
}

std::vector<std::string> descriptorTargets(pid_t pid) {
  std::vector<std::string> targets;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    std::string target = std::filesystem::read_symlink(e.path(), ec).string();
    if (!ec) targets.push_back(std::move(target));
  }
  return targets;
}

std::set<std::string> pipesOf(pid_t pid) {
  std::set<std::string> pipes;
  for (const auto& target : descriptorTargets(pid)) {
    if (target.rfind("pipe:", 0) == 0) pipes.insert(target);
  }
  return pipes;
}

bool waitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout, std::chrono::milliseconds step) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(step);
  }
  return true;
}

BackgroundLoop::BackgroundLoop(std::function<void()> step)
    : thread_([this, step = std::move(step)] {
        while (!stop_) step();
      }) {}

void BackgroundLoop::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

Frozen::Frozen(pid_t pid) : pid_(pid) {
  killPid(pid_, SIGSTOP);
  std::string tasks = "/proc/" + std::to_string(pid_) + "/task";
  stopped_ = waitFor(
      [&] {
        std::error_code ec;
        for (const auto& t : std::filesystem::directory_iterator(tasks, ec)) {
          std::string stat = readText(t.path().string() + "/stat");
          size_t close = stat.rfind(')');
          if (close == std::string::npos || close + 2 >= stat.size() || stat[close + 2] != 'T') return false;
        }
        return !ec;
      },
      std::chrono::seconds(5));
}

Frozen::~Frozen() { ::kill(pid_, SIGCONT); }

}  // namespace berth::test
