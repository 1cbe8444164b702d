// The containerd-bridge as its callers see it (the API; the supervisor at shutdown): one typed
// method per method of ipc/schema/containerd_bridge.capnp, taking and returning plain C++
// values. The schema states each method's contract; this client hides the Cap'n Proto messages,
// so no caller builds or reads them itself.
//
// Docker's container documents (the create and update bodies, inspect and list answers, exec
// and stats documents, list filters) cross as JSON text: the bridge validates what comes in,
// and the API passes answers on without parsing them.
//
// This is the public part of the bridge: it includes nothing of the bridge's private
// implementation (services/containerd-bridge/CMakeLists.txt checks), and the bridge's core does
// not depend on it.
//
// Every method takes the caller's deadline. Methods that only read (summary, inspect, list,
// wait, execInspect, stats, changes) retry while the bridge restarts, until the deadline; the
// others fail `unavailable` at once when it goes away (ipc/rpc_client.h), since repeating them
// could act twice (or, for exportBegin, stage a second download).
//
// diff, export, commit and sizes are orchestrated by the bridge (it resolves and holds the
// container, pauses it for a commit, and asks the images service); an export's tar is then read
// from the images service, whose download it is.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/deadline.h"
#include "services/images/public/images_client.h"

namespace zmq {
class context_t;
}

namespace berth::ipc {
class RpcClient;
}

namespace berth::bridge {

class BridgeClient {
 public:
  // For /info and /version.
  struct Summary {
    uint32_t containers = 0, running = 0, paused = 0, stopped = 0;
    std::string containerdAddress;
    bool containerdReachable = false;
    std::string containerdVersion, containerdRevision;
    std::string runcVersion, runcCommit;
  };

  struct Created {
    std::string id;
    std::vector<std::string> warnings;
  };

  // One long-poll step of a wait (see the schema's `wait`).
  struct WaitStep {
    std::string id;  // the full id, to pass on later steps
    bool done = false;
    int64_t statusCode = 0;
    std::string error;
    int64_t exits = 0;  // the baseline to pass back on later steps
  };

  struct ListQuery {
    bool all = false;
    int32_t limit = -1;
    std::string filtersJson;  // Docker's filter JSON; empty for none
    bool size = false;        // SizeRw and SizeRootFs in each entry (ps -s)
  };

  // POST /commit.
  struct CommitRequest {
    std::string container;             // as the client named it
    std::string configJson;            // the request body: a Docker Config, or empty
    std::vector<std::string> changes;  // Dockerfile instructions (--change)
    std::string reference;             // "repo:tag", or empty
    std::string message;
    std::string author;
    bool pause = true;
  };

  // Over an RPC client the caller owns and keeps alive (the API shares it with its event hub).
  explicit BridgeClient(ipc::RpcClient& rpc);
  // With an RPC client of its own to `endpoint`.
  BridgeClient(zmq::context_t& context, const std::string& endpoint);
  ~BridgeClient();
  BridgeClient(const BridgeClient&) = delete;
  BridgeClient& operator=(const BridgeClient&) = delete;

  Summary summary(Deadline deadline);

  // The lifecycle.
  Created create(const std::string& name, const std::string& bodyJson, Deadline deadline);
  bool start(const std::string& ref, Deadline deadline);  // false: it was running already
  bool stop(const std::string& ref, int32_t timeoutSeconds, const std::string& signal, Deadline deadline);  // false: not running
  void restart(const std::string& ref, int32_t timeoutSeconds, const std::string& signal, Deadline deadline);
  void kill(const std::string& ref, const std::string& signal, Deadline deadline);
  void pause(const std::string& ref, Deadline deadline);
  void unpause(const std::string& ref, Deadline deadline);
  WaitStep wait(const std::string& ref, const std::string& condition, int64_t afterExits, uint32_t waitMs,
                Deadline deadline);
  // removeVolumes: docker rm -v.
  void remove(const std::string& ref, bool force, bool removeVolumes, Deadline deadline);
  void rename(const std::string& ref, const std::string& name, Deadline deadline);
  // POST /networks/{id}/connect (connect) and /disconnect before the container's first start.
  void setNetwork(const std::string& ref, const std::string& network, const std::string& endpointConfig, bool connect,
                  Deadline deadline);
  std::string pruneJson(const std::string& filtersJson, Deadline deadline);
  std::vector<std::string> update(const std::string& ref, const std::string& bodyJson, Deadline deadline);
  void resize(const std::string& ref, uint32_t height, uint32_t width, Deadline deadline);
  // Engine shutdown without live-restore (the supervisor).
  void shutdown(int32_t timeoutSeconds, Deadline deadline);

  // Documents.
  std::string inspectJson(const std::string& ref, Deadline deadline);
  // inspect -s: with SizeRw and SizeRootFs.
  std::string inspectWithSizeJson(const std::string& ref, Deadline deadline);
  std::string listJson(const ListQuery& query, Deadline deadline);
  std::string topJson(const std::string& ref, const std::string& psArgs, Deadline deadline);
  std::string statsJson(const std::string& ref, Deadline deadline);

  // Execs (started through the bridge's stream socket).
  std::string execCreate(const std::string& ref, const std::string& bodyJson, Deadline deadline);
  std::string execInspectJson(const std::string& execId, Deadline deadline);
  void execResize(const std::string& execId, uint32_t height, uint32_t width, Deadline deadline);

  // The container's writable layer.
  std::vector<images::LayerChange> changes(const std::string& ref, Deadline deadline);
  // A download of the images service: read it with ImagesClient::downloadRead, close it with
  // ImagesClient::downloadClose.
  images::Download exportBegin(const std::string& ref, Deadline deadline);
  std::string commit(const CommitRequest& request, Deadline deadline);  // the new image's id

 private:
  std::unique_ptr<ipc::RpcClient> owned_;
  ipc::RpcClient& rpc_;
};

}  // namespace berth::bridge
