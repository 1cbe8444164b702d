#include "supervisor/engine_roots.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <thread>

#include "common/errors.h"
#include "common/files.h"
#include "common/random.h"

namespace berth::supervisor {
namespace {


// A UUID (version 4) in its canonical form, as dockerd's engine ID.
std::string newEngineId() {
  std::string h = randomHex(16);
  h[12] = '4';
  h[16] = "89ab"[std::stoi(h.substr(16, 1), nullptr, 16) & 3];
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20);
}

}  // namespace

void prepareRoots(const Config& config) {
  makeDirectories(config.dataRoot, 0711, true);
  // Traversable but not listable: docker-group clients reach the socket inside by path.
  makeDirectories(config.execRoot, 0711, true);
  makeDirectories(config.ipcDir(), 0700, true);
  if (!readFileIfExists(config.engineIdFile())) writeFileAtomic(config.engineIdFile(), newEngineId() + "\n", 0600);
}

std::string prepareTempDir(const Config& config) {
  const char* env = std::getenv("DOCKER_TMPDIR");
  std::string tmp = env && *env ? std::string(env) : config.tmpDir();
  if (tmp.size() > 1 && tmp.back() == '/') tmp.pop_back();
  if (::access(tmp.c_str(), F_OK) == 0) {
    std::string old = tmp + "-old";
    removeAll(old);
    if (::rename(tmp.c_str(), old.c_str()) == 0) {
      std::thread([old] {
        try {
          removeAll(old);
        } catch (const std::exception&) {
        }
      }).detach();
    } else {
      removeAll(tmp);
    }
  }
  makeDirectories(tmp, 0700, true);
  return tmp;
}

std::string writeContainerdConfig(const Config& config) {
  std::string dir = config.managedContainerdDir();
  makeDirectories(dir, 0700);
  makeDirectories(config.dataRoot + "/containerd", 0711);
  // containerd logs to our stderr; keep it to warnings unless the engine runs at debug level.
  std::string level = config.logLevel == "debug" ? "debug" : "warn";
  std::string toml =
      "# Written by berth-supervisor at every start; edits are lost.\n"
      "version = 2\n"
      "root = \"" + config.dataRoot + "/containerd\"\n"
      "state = \"" + dir + "/state\"\n"
      "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n"
      "\n[grpc]\n"
      "  address = \"" + config.containerdSocket() + "\"\n"
      "\n[ttrpc]\n"
      "  address = \"" + config.containerdSocket() + ".ttrpc\"\n"
      "\n[debug]\n"
      "  level = \"" + level + "\"\n";
  std::string path = dir + "/config.toml";
  writeFileAtomic(path, toml, 0600);
  return path;
}

}  // namespace berth::supervisor
