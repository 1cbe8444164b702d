// The routes dockerd has and berth answers without the feature behind them, so that clients get
// dockerd's answer or a clear refusal instead of "page not found":
//   - swarm: berth is never a swarm node, so the answers are those of a dockerd that is not one
//     (503 "This node is not a swarm manager…", and for leave "This node is not part of a
//     swarm", which docker-py's leave_swarm(force=True) takes as done); init and join are
//     refused as not implemented;
//   - GET /plugins: the empty list (berth has no plugins, as a dockerd with none answers);
//   - GET /plugins/{name}/json: not found, as dockerd answers for an unknown plugin;
//   - GET /networks/{id}: not found, as dockerd answers for an unknown network (so that
//     `docker inspect X` still ends in "No such object");
//   - the rest (plugin management, networks until the network service has them, builds and
//     their sessions, image search, distribution inspect, websocket attach): 501 naming what is
//     not implemented.
#pragma once

#include "services/api/router.h"

namespace berth::api {

class UnsupportedRoutes {
 public:
  void registerOn(Router& router);
};

}  // namespace berth::api
