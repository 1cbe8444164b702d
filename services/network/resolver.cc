#include "services/network/resolver.h"

#include <dirent.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>

#include "common/errors.h"
#include "common/files.h"
#include "services/network/ipam.h"

namespace berth::network {

Resolver::Resolver(std::string binary, std::string dir, int port)
    : binary_(std::move(binary)), dir_(std::move(dir)), config_(dir_ + "/config"), port_(port) {
  makeDirectories(config_, 0700);
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

pid_t Resolver::pid() const {
  auto text = readFileIfExists(config_ + "/aardvark.pid");
  if (!text) return 0;
  pid_t p = 0;
  try {
    p = static_cast<pid_t>(std::stol(*text));
  } catch (const std::exception&) {
    return 0;
  }
  if (p <= 1 || ::kill(p, 0) != 0) return 0;
  // A recycled pid is not ours: the process must be aardvark serving this directory.
  auto cmdline = readFileIfExists("/proc/" + std::to_string(p) + "/cmdline");
  if (!cmdline || cmdline->find(config_) == std::string::npos) return 0;
  return p;
}

void Resolver::update(const std::vector<ResolverNetwork>& networks) {
  std::set<std::string> wanted;
  bool changed = false;
  for (const auto& n : networks) {
    wanted.insert(n.id);
    std::string text = render(n);
    std::string path = config_ + "/" + n.id;
    if (readFileIfExists(path) == text) continue;
    // Staged beside the directory, never in it: aardvark parses every file it finds there.
    std::string staged = dir_ + "/" + n.id + ".staged";
    writeFileReplacing(staged, text, 0644);
    if (::rename(staged.c_str(), path.c_str()) != 0) throwSystemError("rename", path);
    changed = true;
  }
  if (DIR* d = ::opendir(config_.c_str())) {
    std::vector<std::string> stale;
    while (auto* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name == "." || name == ".." || name == "aardvark.pid" || wanted.count(name)) continue;
      stale.push_back(name);
    }
    ::closedir(d);
    for (const auto& name : stale) {
      ::unlink((config_ + "/" + name).c_str());
      changed = true;
    }
  }
  pid_t running = pid();
  if (networks.empty()) {
    // aardvark exits by itself on a reload that finds no network.
    if (running && changed) ::kill(running, SIGHUP);
    return;
  }
  if (!running) {
    start();
  } else if (changed) {
    ::kill(running, SIGHUP);
  }
}

void Resolver::start() {
  // aardvark daemonises: the launcher returns once the server runs in its own session, so the
  // resolver is no child of this service and outlives it.
  std::string port = std::to_string(port_);
  pid_t launcher = ::fork();
  if (launcher < 0) throwSystemError("fork", binary_);
  if (launcher == 0) {
    ::execl(binary_.c_str(), binary_.c_str(), "--config", config_.c_str(), "-p", port.c_str(), "run",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(launcher, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw Error(ErrorKind::internal, "starting the resolver " + binary_ + " failed (status " + std::to_string(status) + ")");
  }
  spdlog::info("network: resolver started (pid {})", pid());
}

}  // namespace berth::network
