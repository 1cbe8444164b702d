// The engine's configuration: dockerd-style flags plus a daemon.json file, validated whole into
// an immutable snapshot. Every berth process (supervisor and services alike) parses the same
// arguments, so a service behaves the same whether the supervisor or systemd started it.
#pragma once

#include <string>
#include <vector>

namespace berth {

// Thrown for any invalid flag, config key or value; the message names the key.
class ConfigError : public std::exception {
 public:
  explicit ConfigError(std::string message) : message_(std::move(message)) {}
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};

// One `-H` address.
struct HostAddress {
  enum class Kind { unix, tcp, fd };
  Kind kind;
  std::string address;   // socket path (unix), host:port (tcp), or fd name/number (fd)
  std::string original;  // as the user wrote it
  std::string host() const;  // tcp: the host part
  int port() const;          // tcp: the port part
  bool isLoopback() const;   // tcp: the host is 127.0.0.0/8, ::1 or localhost
};

struct TlsSettings {
  bool enabled = false;  // --tls, implied by --tlsverify
  bool verify = false;   // --tlsverify: require client certificates signed by the CA
  bool verifyOff = false;  // tlsverify given as false explicitly: unauthenticated TLS accepted
  std::string caFile;
  std::string certFile;
  std::string keyFile;
};

struct Config {
  std::string dataRoot = "/var/lib/berth";
  std::string execRoot = "/run/berth";
  std::vector<HostAddress> hosts;  // default: unix://<exec-root>/docker.sock
  std::string logLevel = "info";
  std::string containerdAddress;  // an external containerd's socket; empty: berth manages one
  std::string pidfile;            // default: <exec-root>/berth.pid
  std::string configFile;         // empty: none
  std::string group = "docker";   // group that owns unix API sockets, when it exists
  bool liveRestore = true;
  int shutdownTimeout = 15;  // seconds a container gets to stop when the engine shuts down
  int mtu = 1500;
  // The default bridge network: its link ("none": no default bridge, and containers on the
  // default network get a namespace with loopback only, as dockerd's `-b none` does), its
  // gateway address and prefix (--bip, "a.b.c.d/n"; empty: the first free default pool), and
  // dockerd's --icc, --ip-masq and --ip-forward.
  std::string bridge = "berth0";
  std::string bip;
  bool icc = true;
  bool ipMasq = true;
  bool ipForward = true;
  // default-address-pools (config file only, as dockerd): {base CIDR, size} pairs; empty:
  // dockerd's defaults.
  struct AddressPool {
    std::string base;
    int size = 0;
  };
  std::vector<AddressPool> defaultAddressPools;
  TlsSettings tls;
  std::vector<std::string> insecureRegistries;  // host[:port] or CIDR; loopback is always insecure

  // Parses argv (argv[0] is skipped) and the config file it names; validates everything.
  // Throws ConfigError with a message naming the offending flag or key.
  static Config parse(const std::vector<std::string>& args);

  // Paths derived from the roots; no service invents its own.
  std::string ipcDir() const { return execRoot + "/ipc"; }
  std::string serviceEndpoint(const std::string& service) const {
    return "ipc://" + ipcDir() + "/" + service + ".sock";
  }
  // Where a service publishes its views for the API's read model (the containerd-bridge's
  // container views, docs/ipc.md).
  std::string viewsEndpoint(const std::string& service) const {
    return "ipc://" + ipcDir() + "/views-" + service + ".sock";
  }
  std::string eventsEndpoint(const std::string& service) const {
    return "ipc://" + ipcDir() + "/events-" + service + ".sock";
  }
  std::string supervisorEndpoint() const { return serviceEndpoint("supervisor"); }
  std::string managedContainerdDir() const { return execRoot + "/containerd"; }
  std::string containerdSocket() const {
    return containerdAddress.empty() ? managedContainerdDir() + "/containerd.sock" : containerdAddress;
  }
  std::string serviceDataDir(const std::string& service) const { return dataRoot + "/" + service; }
  std::string tmpDir() const { return dataRoot + "/tmp"; }
  std::string engineIdFile() const { return dataRoot + "/engine-id"; }

  // The arguments that reproduce this config for a child process.
  std::vector<std::string> toArgs() const;
};

}  // namespace berth
