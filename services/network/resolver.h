// The resolver of user-defined networks: aardvark-dns (Debian's, made for container networks),
// listening on each network's gateway. It runs as processes of their own, in their own
// sessions, so names keep resolving while the network service is down or restarting; the
// service only writes their files and starts, signals or ends them.
//
// aardvark reads one file per network from its config directory (the file's name is the
// network's), parses every file there and exits on one it cannot parse; it exits by itself on a
// reload that finds no file. Debian 12's aardvark (1.4) reloads on SIGHUP by stopping every
// listener and binding them again: for a millisecond or two a query to a gateway finds no
// socket, the kernel answers "port unreachable" and the container's lookup fails at once (its
// resolver gives up on a refused server). dockerd's resolver never refuses, and a network with
// containers coming and going would lose lookups at each change. So a change never reloads the
// aardvark that serves:
//
// - There are two slots, each an aardvark with its own directory and port: the primary (port
//   53, the directory of earlier releases) and the standby (port 54). One of them serves:
//   containers ask <gateway>:53, which the firewall redirects to the serving slot's port when
//   that is not 53 (firewall.h).
// - A change is written to the other slot's directory (staged beside it and renamed in: aardvark
//   parses every file there), that slot's aardvark is started afresh (its launcher returns once
//   it runs; then each gateway's socket is awaited), and it becomes the serving slot, recorded
//   in `serving` before the caller points the firewall at it. The slot that served keeps
//   running with what it had until the next change restarts it, so a query already sent to it
//   is still answered.
// - When the other slot cannot start (its port held by another process), the serving aardvark
//   is reloaded in place as before, with the short gap; the log says so.
//
// The serving slot's directory holds what its process serves: it is written only before that
// process starts, or for the fallback's SIGHUP, which a `reloading` marker brackets (from
// before the files to after the signal). That is what lets a restarted service tell, from the
// files alone, whether the serving slot is current. When the serving slot's aardvark is gone
// and its port cannot be had, the other slot serves.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace berth::network {

// The two aardvarks' ports on each gateway (see above).
constexpr uint16_t kResolverPort = 53;
constexpr uint16_t kResolverStandbyPort = 54;

struct ResolverEntry {
  std::string container;           // 64-hex id
  uint32_t address = 0;
  std::vector<std::string> names;  // name, aliases, short id
};

struct ResolverNetwork {
  std::string id;  // the file's name
  uint32_t gateway = 0;
  std::vector<ResolverEntry> entries;
};

class Resolver {
 public:
  // `dir` holds the primary slot's directory (dir/config), the standby's (dir/standby/config),
  // the files staged for them and the serving slot's record.
  Resolver(std::string binary, std::string dir, uint16_t port = kResolverPort,
           uint16_t standbyPort = kResolverStandbyPort);

  // Makes the resolver serve exactly `networks` and returns the port that serves them on each
  // gateway (the caller's firewall redirects port 53 there). With no network, every aardvark
  // is told to exit and the primary's port is returned.
  uint16_t update(const std::vector<ResolverNetwork>& networks);
  // The serving slot's port as recorded (the primary's when none is), for a restarted service's
  // first firewall.
  uint16_t servingPort() const;
  // The serving slot's running aardvark, 0 when none runs.
  pid_t pid() const;

  static std::string render(const ResolverNetwork& network);

 private:
  struct Slot {
    std::string config;  // aardvark's directory
    uint16_t port;
  };

  Slot& serving();
  Slot& other();
  pid_t pidOf(const Slot& slot) const;
  // Whether the slot's directory holds exactly the files `networks` need.
  bool holds(const Slot& slot, const std::vector<ResolverNetwork>& networks) const;
  // Writes what differs and removes stale files; true when anything changed.
  bool write(const Slot& slot, const std::vector<ResolverNetwork>& networks);
  void start(const Slot& slot, const std::vector<ResolverNetwork>& networks);
  // Ends the slot's aardvark and waits until its sockets on `networks`' gateways are gone.
  void end(const Slot& slot, const std::vector<ResolverNetwork>& networks);
  void record(const Slot& slot);

  std::string binary_;
  std::string dir_;
  Slot primary_;
  Slot standby_;
};

}  // namespace berth::network
