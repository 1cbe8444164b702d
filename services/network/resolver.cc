#include "services/network/resolver.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <optional>
#include <set>
#include <thread>

#include "common/errors.h"
#include "common/files.h"
#include "services/network/ipam.h"

namespace berth::network {
namespace {

// The network files in an aardvark directory (its pid file aside).
std::vector<std::string> networkFiles(const std::string& config) {
  std::vector<std::string> names;
  if (DIR* d = ::opendir(config.c_str())) {
    while (auto* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name == "." || name == ".." || name == "aardvark.pid") continue;
      names.push_back(name);
    }
    ::closedir(d);
  }
  return names;
}

// Whether a UDP socket is bound to address:port in the calling thread's network namespace (its
// net/udp prints the address as the 32-bit value in network order read as a native integer).
bool udpBound(uint32_t address, uint16_t port) {
  char wanted[16];
  std::snprintf(wanted, sizeof wanted, "%08X:%04X", htonl(address), port);
  auto table = readFileIfExists("/proc/thread-self/net/udp");
  // The local address follows the slot number ("  12: 0100A8C0:0035 00000000:0000 07 …"); the
  // remote one a space.
  return table && table->find(std::string(": ") + wanted + " ") != std::string::npos;
}

// Whether this process could bind address:port for UDP now (another process's socket there, or
// on the wildcard address, makes aardvark's listener fail).
bool udpFree(uint32_t address, uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(address);
  bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
  ::close(fd);
  return free;
}

}  // namespace

Resolver::Resolver(std::string binary, std::string dir, uint16_t port, uint16_t standbyPort)
    : binary_(std::move(binary)),
      dir_(std::move(dir)),
      primary_{dir_ + "/config", port},
      standby_{dir_ + "/standby/config", standbyPort} {
  makeDirectories(primary_.config, 0700);
  makeDirectories(standby_.config, 0700);
}

std::string Resolver::render(const ResolverNetwork& network) {
  std::string text = formatIpv4(network.gateway) + "\n";
  for (const auto& e : network.entries) {
    std::string names;
    for (const auto& n : e.names) {
      // aardvark splits on spaces and commas: a name holding either would corrupt the file.
      if (n.empty() || n.find_first_of(" ,\n") != std::string::npos) continue;
      names += (names.empty() ? "" : ",") + n;
    }
    if (names.empty()) continue;
    // id, IPv4 addresses, IPv6 addresses (none: an empty field), names.
    text += e.container + " " + formatIpv4(e.address) + "  " + names + "\n";
  }
  return text;
}

uint16_t Resolver::servingPort() const {
  auto text = readFileIfExists(dir_ + "/serving");
  return text && *text == std::to_string(standby_.port) + "\n" ? standby_.port : primary_.port;
}

Resolver::Slot& Resolver::serving() { return servingPort() == standby_.port ? standby_ : primary_; }
Resolver::Slot& Resolver::other() { return servingPort() == standby_.port ? primary_ : standby_; }

pid_t Resolver::pid() const { return pidOf(servingPort() == standby_.port ? standby_ : primary_); }

pid_t Resolver::pidOf(const Slot& slot) const {
  auto text = readFileIfExists(slot.config + "/aardvark.pid");
  if (!text) return 0;
  pid_t p = 0;
  try {
    p = static_cast<pid_t>(std::stol(*text));
  } catch (const std::exception&) {
    return 0;
  }
  if (p <= 1 || ::kill(p, 0) != 0) return 0;
  // A recycled pid is not ours: the process must be aardvark serving this directory (a zombie
  // has no command line, so an ended one reads as none).
  std::optional<std::string> cmdline;
  try {
    cmdline = readFileIfExists("/proc/" + std::to_string(p) + "/cmdline");
  } catch (const Error&) {
    return 0;  // it ended between the two looks (ESRCH)
  }
  if (!cmdline || cmdline->find(slot.config + '\0') == std::string::npos) return 0;
  return p;
}

bool Resolver::holds(const Slot& slot, const std::vector<ResolverNetwork>& networks) const {
  if (networkFiles(slot.config).size() != networks.size()) return false;
  for (const auto& n : networks) {
    if (readFileIfExists(slot.config + "/" + n.id) != render(n)) return false;
  }
  return true;
}

bool Resolver::write(const Slot& slot, const std::vector<ResolverNetwork>& networks) {
  std::set<std::string> wanted;
  bool changed = false;
  for (const auto& n : networks) {
    wanted.insert(n.id);
    std::string text = render(n);
    std::string path = slot.config + "/" + n.id;
    if (readFileIfExists(path) == text) continue;
    // Staged beside the directory, never in it: aardvark parses every file it finds there.
    std::string staged = slot.config + "." + n.id + ".staged";
    writeFileReplacing(staged, text, 0644);
    if (::rename(staged.c_str(), path.c_str()) != 0) throwSystemError("rename", path);
    changed = true;
  }
  for (const auto& name : networkFiles(slot.config)) {
    if (wanted.count(name)) continue;
    ::unlink((slot.config + "/" + name).c_str());
    changed = true;
  }
  return changed;
}

void Resolver::end(const Slot& slot, const std::vector<ResolverNetwork>& networks) {
  pid_t p = pidOf(slot);
  if (!p) return;
  // aardvark blocks SIGTERM (it ends when its last file goes); what it serves is in its files,
  // so nothing is lost by SIGKILL.
  ::kill(p, SIGKILL);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  // Its memory goes before its files do (and before it is a zombie, which nobody may reap): it
  // has ended once its command line is gone and none of its sockets on the gateways to serve
  // is left.
  auto ended = [&] {
    if (pidOf(slot) == p) return false;
    for (const auto& n : networks) {
      if (udpBound(n.gateway, slot.port)) return false;
    }
    return true;
  };
  while (!ended() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void Resolver::start(const Slot& slot, const std::vector<ResolverNetwork>& networks) {
  // A held port is known at once, not after the wait below.
  for (const auto& n : networks) {
    if (!udpFree(n.gateway, slot.port)) {
      throw Error(ErrorKind::internal,
                  "UDP port " + std::to_string(slot.port) + " on " + formatIpv4(n.gateway) + " cannot be bound");
    }
  }
  // aardvark daemonises: the launcher returns once the server runs in its own session, so the
  // resolver is no child of this service and outlives it.
  std::string port = std::to_string(slot.port);
  pid_t launcher = ::fork();
  if (launcher < 0) throwSystemError("fork", binary_);
  if (launcher == 0) {
    ::execl(binary_.c_str(), binary_.c_str(), "--config", slot.config.c_str(), "-p", port.c_str(), "run",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(launcher, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw Error(ErrorKind::internal, "starting the resolver " + binary_ + " on port " + port + " failed (status " +
                                         std::to_string(status) + ")");
  }
  // Its listeners bind on threads of their own: the slot serves once every gateway's socket is
  // there, or never (a port another process holds ends the thread, not aardvark).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  for (const auto& n : networks) {
    while (!udpBound(n.gateway, slot.port)) {
      if (std::chrono::steady_clock::now() > deadline || !pidOf(slot)) {
        end(slot, networks);
        throw Error(ErrorKind::internal,
                    "the resolver on port " + port + " does not listen on " + formatIpv4(n.gateway));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  spdlog::info("network: resolver started on port {} (pid {})", port, pidOf(slot));
}

void Resolver::record(const Slot& slot) {
  writeFileReplacing(dir_ + "/serving", std::to_string(slot.port) + "\n", 0644);
}

uint16_t Resolver::update(const std::vector<ResolverNetwork>& networks) {
  if (networks.empty()) {
    // aardvark exits by itself on a reload that finds no network; one left running with an
    // empty directory (a kill between the removal and the signal) is told again.
    for (const Slot* slot : {&primary_, &standby_}) {
      write(*slot, networks);
      if (pid_t running = pidOf(*slot)) ::kill(running, SIGHUP);
    }
    removeAll(dir_ + "/reloading");
    if (servingPort() != primary_.port) record(primary_);
    return primary_.port;
  }
  Slot& now = serving();
  Slot& next = other();
  // A reload in place a kill cut between its files and its signal: the files look current,
  // what the process serves is not.
  bool reloadCut = readFileIfExists(dir_ + "/reloading").has_value();
  if (pidOf(now) && !reloadCut && holds(now, networks)) return now.port;
  if (!pidOf(now)) {
    // Nothing answers on the serving port: it starts there, with nothing to hand over, or
    // the other slot serves when its port cannot be had.
    try {
      write(now, networks);
      start(now, networks);
      removeAll(dir_ + "/reloading");
      return now.port;
    } catch (const Error& e) {
      spdlog::warn("network: the resolver cannot start on port {} ({}); the other one serves", now.port, e.what());
    }
    write(next, networks);
    end(next, networks);
    start(next, networks);
    removeAll(dir_ + "/reloading");
    record(next);
    return next.port;
  }
  try {
    write(next, networks);
    end(next, networks);
    start(next, networks);
  } catch (const Error& e) {
    spdlog::warn("network: the other resolver cannot take over ({}); reloading the serving one in place", e.what());
    writeFileReplacing(dir_ + "/reloading", "\n", 0644);
    write(now, networks);
    // Looked up again: the pid seen before the attempt may have ended and been reused since.
    if (pid_t running = pidOf(now)) ::kill(running, SIGHUP);
    removeAll(dir_ + "/reloading");
    return now.port;
  }
  removeAll(dir_ + "/reloading");
  record(next);
  return next.port;
}

}  // namespace berth::network
