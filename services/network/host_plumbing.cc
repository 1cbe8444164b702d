#include "services/network/host_plumbing.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "common/errors.h"
#include "common/files.h"

namespace berth::network {

namespace {

// Runs a program (no shell), its output collected; its exit status, or -1 when it could not
// run. Only for iptables, off the container start path.
int runProgram(const std::vector<std::string>& argv, std::string& output) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return -1;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int spawned = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (spawned != 0) {
    ::close(fds[0]);
    return -1;
  }
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR);) {
    if (n > 0) output.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The rules berth's forwarded traffic needs in iptables' filter FORWARD chain when its policy
// is DROP (a dockerd on the same host sets it): an nftables accept ends only its own chain, so
// berth's own table cannot let that traffic through. They accept nothing broader than berth's
// table does: what leaves the bridge, and what comes back to it or was DNATed to it; berth's
// table still drops what it refuses (a drop in any chain is final).
std::vector<std::vector<std::string>> forwardRules(const std::string& bridge) {
  std::string comment = "berth " + bridge;
  return {{"-i", bridge, "-m", "comment", "--comment", comment, "-j", "ACCEPT"},
          {"-o", bridge, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-m", "comment", "--comment", comment,
           "-j", "ACCEPT"},
          {"-o", bridge, "-m", "conntrack", "--ctstate", "DNAT", "-m", "comment", "--comment", comment, "-j", "ACCEPT"}};
}

bool forwardPolicyIsDrop() {
  std::string out;
  if (runProgram({"iptables", "-w", "-S", "FORWARD"}, out) != 0) return false;  // no iptables, no such chain
  return out.rfind("-P FORWARD DROP", 0) == 0;
}

void setForwardRules(const std::string& bridge, bool present) {
  for (const auto& rule : forwardRules(bridge)) {
    std::vector<std::string> check = {"iptables", "-w", "-C", "FORWARD"};
    check.insert(check.end(), rule.begin(), rule.end());
    std::string out;
    bool there = runProgram(check, out) == 0;
    if (there == present) continue;
    std::vector<std::string> change = {"iptables", "-w", present ? "-I" : "-D", "FORWARD"};
    change.insert(change.end(), rule.begin(), rule.end());
    out.clear();
    if (runProgram(change, out) != 0) {
      spdlog::warn("network: iptables {} FORWARD for {} failed: {}", present ? "-I" : "-D", bridge, out);
    }
  }
}

}  // namespace

void HostPlumbing::ensureBridge(const BridgeLink& bridge) {
  network::ensureBridge(bridge);
  if (ipForward_) writeSysctl("net/ipv4/ip_forward", "1");
  // Lets traffic from 127.0.0.1 be routed to the bridge once DNATed to a container: what makes
  // a published port answer on the host's loopback without a proxy process.
  writeSysctl("net/ipv4/conf/" + bridge.name + "/route_localnet", "1");
  if (forwardPolicyIsDrop()) setForwardRules(bridge.name, true);
}

void HostPlumbing::removeBridge(const std::string& name) {
  network::removeBridge(name);
  setForwardRules(name, false);
}

bool HostPlumbing::hostPortFree(const std::string& protocol, uint32_t hostIp, uint16_t port) {
  int fd = ::socket(AF_INET, (protocol == "udp" ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
  if (fd < 0) return true;  // cannot tell: the DNAT rule is installed anyway
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(hostIp);
  bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 || errno != EADDRINUSE;
  ::close(fd);
  return free;
}

std::vector<Ipv4Prefix> HostPlumbing::hostRoutes() {
  // /proc/net/route: destination and mask in network byte order, as hex.
  std::vector<Ipv4Prefix> out;
  std::ifstream in("/proc/net/route");
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string iface, dest, gateway, flags, refcnt, use, metric, mask;
    if (!(fields >> iface >> dest >> gateway >> flags >> refcnt >> use >> metric >> mask)) continue;
    uint32_t d = ntohl(static_cast<uint32_t>(std::stoul(dest, nullptr, 16)));
    uint32_t m = ntohl(static_cast<uint32_t>(std::stoul(mask, nullptr, 16)));
    if (m == 0) continue;  // the default route overlaps everything and is not a subnet in use
    int bits = __builtin_popcount(m);
    out.push_back({d & m, bits});
  }
  return out;
}

std::pair<uint16_t, uint16_t> ephemeralPortRange() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int first = 0, last = 0;
  if (in >> first >> last && first > 0 && last >= first && last <= 65535) {
    return {static_cast<uint16_t>(first), static_cast<uint16_t>(last)};
  }
  return {49153, 65535};
}

}  // namespace berth::network
