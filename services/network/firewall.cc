// berth's nftables table: rendering it from the network service's state as nft text, and
// handing that text to libnftables as one transaction (firewall.h says what the rules do).
#include "services/network/firewall.h"

#include <nftables/libnftables.h>

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <exception>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

#include "common/errors.h"

namespace berth::network {
namespace {

// The only characters a name may have where it enters the script. Interface names are written
// quoted and the table name bare, so this keeps out quotes, spaces, newlines, braces and
// semicolons: nothing a caller passes can end a rule or start another.
bool safeName(const std::string& name) {
  if (name.empty()) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == '-';
    if (!ok) return false;
  }
  return true;
}

void checkTable(const std::string& table) {
  // nft's scanner reads a bare name only when it starts with a letter (or '_' / '.'); the
  // kernel's limit is 255 characters. A keyword ("table", "chain") passes here and nft refuses it.
  char first = table.empty() ? '\0' : table[0];
  bool letter = (first >= 'a' && first <= 'z') || (first >= 'A' && first <= 'Z');
  if (!safeName(table) || !letter || table.size() > 255) {
    throw Error(ErrorKind::invalid, "invalid nftables table name: \"" + table + "\"");
  }
}

void checkBridge(const std::string& bridge) {
  if (!safeName(bridge) || bridge.size() > 15 || bridge == "." || bridge == "..") {
    throw Error(ErrorKind::invalid, "invalid bridge name: \"" + bridge + "\"");
  }
}

void checkProtocol(const std::string& protocol) {
  if (protocol != "tcp" && protocol != "udp" && protocol != "sctp") {
    throw Error(ErrorKind::invalid, "invalid protocol for a published port: \"" + protocol + "\"");
  }
}

std::string quoted(const std::string& name) { return "\"" + name + "\""; }

// Rules of the forward chain. The drops come first, for every bridge, before any accept: an
// accept of one bridge (`iifname A accept`) would otherwise let through what another bridge's
// drop is there to stop (traffic from A into an internal B, say).
void renderForward(std::ostringstream& out, const FirewallState& state) {
  for (const auto& b : state.bridges) {
    std::string name = quoted(b.bridge);
    if (b.internal) {
      out << "    iifname " << name << " oifname != " << name << " drop\n";
      out << "    oifname " << name << " iifname != " << name << " drop\n";
      continue;  // nothing leaves or enters it, so isolation has nothing left to do
    }
    if (!b.icc) out << "    iifname " << name << " oifname " << name << " drop\n";
    std::string others;
    for (const auto& o : state.bridges) {
      if (o.bridge != b.bridge) others += (others.empty() ? "" : ", ") + quoted(o.bridge);
    }
    // `ct status & dnat == 0`, not `ct status != dnat`: the latter compares the whole status
    // word (which always has other bits set) and would drop nothing.
    if (!others.empty()) out << "    iifname " << name << " oifname { " << others << " } ct status & dnat == 0 drop\n";
  }
  for (const auto& b : state.bridges) {
    std::string name = quoted(b.bridge);
    out << "    oifname " << name << " ct state established,related accept\n";
    out << "    oifname " << name << " ct status dnat accept\n";  // published ports, hairpin included
    out << "    iifname " << name << " accept\n";                  // outbound, and container to container
    out << "    oifname " << name << " drop\n";                    // anything else trying to get in
  }
}

}  // namespace

std::string renderRuleset(const std::string& table, const FirewallState& state) {
  checkTable(table);
  std::set<std::string> seen;
  for (const auto& b : state.bridges) {
    checkBridge(b.bridge);
    if (!seen.insert(b.bridge).second) throw Error(ErrorKind::invalid, "bridge listed twice: \"" + b.bridge + "\"");
  }
  for (const auto& p : state.ports) checkProtocol(p.protocol);

  std::ostringstream out;
  // `add` makes the `delete` safe when there is no table yet; all three commands are one
  // netlink batch, so other processes see either the old table or the new one.
  out << "add table ip " << table << "\n";
  out << "delete table ip " << table << "\n";
  out << "table ip " << table << " {\n";

  out << "  chain forward {\n";
  out << "    type filter hook forward priority filter; policy accept;\n";
  renderForward(out, state);
  out << "  }\n";

  // Names (firewall.h): before conntrack (priority raw), so queries and replies stay untracked.
  out << "  chain dnsquery {\n";
  out << "    type filter hook prerouting priority raw; policy accept;\n";
  for (const auto& b : state.bridges) {
    if (b.resolver == 0) continue;
    out << "    iifname " << quoted(b.bridge) << " ip daddr " << formatIpv4(b.resolver) << " udp dport 53 notrack";
    if (state.resolverPort != 53) out << " udp dport set " << state.resolverPort;
    out << "\n";
  }
  out << "  }\n";
  out << "  chain dnsreply {\n";
  out << "    type filter hook output priority raw; policy accept;\n";
  std::set<uint16_t> replyPorts;
  for (uint16_t port : {state.resolverPort, state.resolverStandbyPort}) {
    if (port != 0 && port != 53) replyPorts.insert(port);
  }
  for (const auto& b : state.bridges) {
    if (b.resolver == 0) continue;
    std::string from = "    oifname " + quoted(b.bridge) + " ip saddr " + formatIpv4(b.resolver) + " udp sport ";
    out << from << "53 notrack\n";
    for (uint16_t port : replyPorts) out << from << port << " notrack udp sport set 53\n";
  }
  out << "  }\n";

  // Published ports are matched only for packets to a local address, arriving (prerouting) or
  // sent by the host itself (output; nft's name `dstnat` is for prerouting only, hence -100).
  out << "  chain prerouting {\n";
  out << "    type nat hook prerouting priority dstnat; policy accept;\n";
  out << "    fib daddr type local jump published\n";
  out << "  }\n";
  out << "  chain output {\n";
  out << "    type nat hook output priority -100; policy accept;\n";
  out << "    fib daddr type local jump published\n";
  out << "  }\n";
  out << "  chain published {\n";
  for (const auto& p : state.ports) {
    out << "    ";
    if (p.hostIp != 0) out << "ip daddr " << formatIpv4(p.hostIp) << " ";
    out << p.protocol << " dport " << p.hostPort << " dnat to " << formatIpv4(p.containerIp) << ":" << p.containerPort
        << "\n";
  }
  out << "  }\n";

  out << "  chain postrouting {\n";
  out << "    type nat hook postrouting priority srcnat; policy accept;\n";
  for (const auto& b : state.bridges) {
    std::string name = quoted(b.bridge);
    std::string subnet = b.subnet.str();
    if (b.masquerade && !b.internal) out << "    ip saddr " << subnet << " oifname != " << name << " masquerade\n";
    // The host reaching a published port through 127.0.0.1: the container could not answer
    // a loopback source (the bridge has route_localnet so the kernel routes it at all).
    out << "    oifname " << name << " ip saddr 127.0.0.0/8 masquerade\n";
    // Hairpin: a container reaching a port published on its own bridge through the host's
    // address; without this the peer would answer it directly and the reply would not match.
    out << "    oifname " << name << " ct status dnat ip saddr " << subnet << " masquerade\n";
  }
  out << "  }\n";

  out << "}\n";
  return out.str();
}

namespace {

// Runs `script` on a libnftables context of its own, in the calling thread's namespace.
void runScript(const std::string& table, const std::string& script) {
  std::unique_ptr<nft_ctx, void (*)(nft_ctx*)> nft(nft_ctx_new(NFT_CTX_DEFAULT), nft_ctx_free);
  if (nft == nullptr) throw Error(ErrorKind::internal, "nft_ctx_new failed");
  if (nft_ctx_buffer_output(nft.get()) != 0 || nft_ctx_buffer_error(nft.get()) != 0) {
    throw Error(ErrorKind::internal, "nft_ctx_buffer_output/error failed");
  }
  if (nft_run_cmd_from_buffer(nft.get(), script.c_str()) == 0) return;
  std::string error = nft_ctx_get_error_buffer(nft.get());
  while (!error.empty() && error.back() == '\n') error.pop_back();
  if (error.empty()) error = "nft_run_cmd_from_buffer failed";
  throw Error(ErrorKind::internal, "nftables refused table ip " + table + ": " + error);
}

bool sameFile(int fd, const char* path) {
  struct stat a {}, b {};
  return ::fstat(fd, &a) == 0 && ::stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

}  // namespace

Firewall::Firewall(std::string table) : table_(std::move(table)), namespaceFd_(-1) {
  checkTable(table_);
  namespaceFd_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (namespaceFd_ < 0) throwSystemError("open", "/proc/thread-self/ns/net");
}

Firewall::~Firewall() { ::close(namespaceFd_); }

void Firewall::apply(const FirewallState& state) { run(renderRuleset(table_, state)); }

void Firewall::remove() { run("add table ip " + table_ + "\ndelete table ip " + table_ + "\n"); }

void Firewall::run(const std::string& script) {
  if (sameFile(namespaceFd_, "/proc/thread-self/ns/net")) return runScript(table_, script);
  std::exception_ptr failure;
  std::thread([&] {
    try {
      if (::setns(namespaceFd_, CLONE_NEWNET) != 0) throwSystemError("setns(CLONE_NEWNET)", "the firewall's namespace");
      runScript(table_, script);
    } catch (...) {
      failure = std::current_exception();
    }
  }).join();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace berth::network
