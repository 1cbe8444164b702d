// The resolver of user-defined networks: one aardvark-dns process (Debian's, made for container
// networks) for all of them, listening on each network's gateway, port 53. It is a process of
// its own, in its own session, so names keep resolving while the network service is down or
// restarting; the service only writes its files and signals it.
//
// aardvark reads one file per network from its config directory (the file's name is the
// network's), parses every file there and exits on one it cannot parse, and on SIGHUP re-reads
// them and re-binds every listener. So each file is written outside the directory and renamed
// in, stale files are removed, and one SIGHUP follows a whole update. It exits by itself when no
// file is left; the next update with a network starts it again.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace berth::network {

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
  // `dir` holds aardvark's config directory (dir/config) and the files staged for it.
  Resolver(std::string binary, std::string dir, int port = 53);

  // Makes the resolver serve exactly `networks`: writes what changed, removes the rest, then
  // signals the running resolver or starts one (none is started for no network).
  void update(const std::vector<ResolverNetwork>& networks);
  // The running resolver's pid, 0 when none runs.
  pid_t pid() const;

  static std::string render(const ResolverNetwork& network);

 private:
  void start();

  std::string binary_;
  std::string dir_;
  std::string config_;
  int port_;
};

}  // namespace berth::network
