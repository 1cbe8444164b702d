// The container and exec endpoints of the Docker API. The containerd-bridge owns every answer:
// documents pass through its public client (services/containerd-bridge/public), byte streams
// (logs, attach, exec, cp) through its stream socket (bridge_streams.h), which these handlers
// frame in HTTP (chunked for logs and cp, a hijacked raw stream for attach and exec). Work on a
// container that needs the images service too (commit, export, diff, sizes) is the bridge's to
// orchestrate; only an export's bytes are read from the images service directly.
#pragma once

#include <nlohmann/json.hpp>

#include "common/config.h"
#include "ipc/stream_protocol.h"
#include "services/api/backends.h"
#include "services/api/router.h"

namespace berth::api {

class ContainersRoutes {
 public:
  ContainersRoutes(const Config& config, Backends& backends)
      : backends_(backends), streamSocket_(ipc::streams::socketPath(config.ipcDir())) {}
  void registerOn(Router& router);

 private:
  void create(http::Request& req, http::ResponseWriter& out);
  void start(http::Request& req, http::ResponseWriter& out);
  void stop(http::Request& req, http::ResponseWriter& out);
  void restart(http::Request& req, http::ResponseWriter& out);
  void kill(http::Request& req, http::ResponseWriter& out);
  void pause(http::Request& req, http::ResponseWriter& out);
  void unpause(http::Request& req, http::ResponseWriter& out);
  void wait(http::Request& req, http::ResponseWriter& out);
  void remove(http::Request& req, http::ResponseWriter& out);
  void rename(http::Request& req, http::ResponseWriter& out);
  void inspect(http::Request& req, http::ResponseWriter& out);
  void list(http::Request& req, http::ResponseWriter& out);
  void top(http::Request& req, http::ResponseWriter& out);
  void resize(http::Request& req, http::ResponseWriter& out);
  void prune(http::Request& req, http::ResponseWriter& out);
  void logs(http::Request& req, http::ResponseWriter& out);
  void attach(http::Request& req, http::ResponseWriter& out);
  void execCreate(http::Request& req, http::ResponseWriter& out);
  void execStart(http::Request& req, http::ResponseWriter& out);
  void execInspect(http::Request& req, http::ResponseWriter& out);
  void execResize(http::Request& req, http::ResponseWriter& out);
  void changes(http::Request& req, http::ResponseWriter& out);
  void exportFs(http::Request& req, http::ResponseWriter& out);
  void commit(http::Request& req, http::ResponseWriter& out);
  void stats(http::Request& req, http::ResponseWriter& out);
  void update(http::Request& req, http::ResponseWriter& out);
  void archiveStat(http::Request& req, http::ResponseWriter& out);
  void archiveGet(http::Request& req, http::ResponseWriter& out);
  void archivePut(http::Request& req, http::ResponseWriter& out);

  Backends& backends_;
  std::string streamSocket_;
};

}  // namespace berth::api
