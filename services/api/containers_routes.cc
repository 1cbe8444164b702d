#include "services/api/containers_routes.h"

#include <nettle/base64.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <utility>

#include "common/errors.h"
#include "common/files.h"
#include "services/api/bridge_streams.h"
#include "services/api/detach_keys.h"
#include "services/api/images_routes.h"
#include "services/api/query_params.h"
#include "common/json_text.h"

namespace berth::api {

using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

// An error in a stream already taken over, as dockerd writes it: the text on a TTY, else a
// stdout frame (a client reading a multiplexed stream would take raw text for a bad header).
// `message` as one frame of `stream` in a multiplexed stream; as it is on a TTY.
std::string framed(int stream, std::string message, bool tty) {
  if (tty) return message;
  uint32_t size = static_cast<uint32_t>(message.size());
  std::string header = {static_cast<char>(stream), 0, 0, 0, static_cast<char>(size >> 24), static_cast<char>(size >> 16),
                        static_cast<char>(size >> 8), static_cast<char>(size)};
  return header + message;
}

void writeStreamError(http::ByteStream& client, const std::string& what, bool tty) {
  try {
    client.write(framed(1, what + "\r\n", tty));
    client.closeWrite();
  } catch (const std::exception&) {
  }
}

// A stream that a restart of the bridge cut where it cannot be resumed, told the client in
// Docker's format for an error inside a stream: a "system error" frame (stream 3) without a
// TTY, which the docker CLI reports as "error from daemon in stream" and fails on; the text on
// a TTY. The caller closes the stream.
void writeStreamCut(http::ByteStream& client, const std::string& what, bool tty) {
  try {
    client.write(framed(3, what + "\n", tty));
  } catch (const std::exception&) {
  }
}

std::string base64(const std::string& data) {
  std::string out(BASE64_ENCODE_RAW_LENGTH(data.size()), '\0');
  base64_encode_raw(out.data(), data.size(), reinterpret_cast<const uint8_t*>(data.data()));
  return out;
}

// A docker cp request for the bridge: the container, the path inside it, and the mode.
json archiveRequest(http::Request& req, const std::string& mode) {
  auto path = req.queryValue("path");
  if (!path || path->empty()) throw Error(ErrorKind::invalid, "path is required");
  return {{"op", "archive"}, {"mode", mode}, {"id", req.params["id"]}, {"path", *path}};
}

// X-Docker-Container-Path-Stat: the stat document, base64 of its JSON (the CLI decodes it).
std::vector<std::pair<std::string, std::string>> statHeader(const BridgeStream& stream) {
  return {{"X-Docker-Container-Path-Stat", base64(stream.reply().value("stat", json::object()).dump())}};
}

// The media type of an attach, exec or logs stream: multiplexed frames are announced as such
// since API 1.42; older clients (dockerd 20.10's 1.41) are told raw-stream either way.
const char* streamType(bool tty, const std::string& apiVersion) {
  if (tty || compareApiVersions(apiVersion, "1.42") < 0) return "application/vnd.docker.raw-stream";
  return "application/vnd.docker.multiplexed-stream";
}

}  // namespace

void ContainersRoutes::registerOn(Router& router) {
  auto bind = [this](void (ContainersRoutes::*fn)(http::Request&, http::ResponseWriter&)) {
    return [this, fn](http::Request& req, http::ResponseWriter& out) { (this->*fn)(req, out); };
  };
  router.add("POST", "/containers/create", bind(&ContainersRoutes::create));
  router.add("GET", "/containers/json", bind(&ContainersRoutes::list));
  router.add("POST", "/containers/prune", bind(&ContainersRoutes::prune));
  router.add("GET", "/containers/{id}/json", bind(&ContainersRoutes::inspect));
  router.add("POST", "/containers/{id}/start", bind(&ContainersRoutes::start));
  router.add("POST", "/containers/{id}/stop", bind(&ContainersRoutes::stop));
  router.add("POST", "/containers/{id}/restart", bind(&ContainersRoutes::restart));
  router.add("POST", "/containers/{id}/kill", bind(&ContainersRoutes::kill));
  router.add("POST", "/containers/{id}/pause", bind(&ContainersRoutes::pause));
  router.add("POST", "/containers/{id}/unpause", bind(&ContainersRoutes::unpause));
  router.add("POST", "/containers/{id}/wait", bind(&ContainersRoutes::wait));
  router.add("DELETE", "/containers/{id}", bind(&ContainersRoutes::remove));
  router.add("POST", "/containers/{id}/rename", bind(&ContainersRoutes::rename));
  router.add("GET", "/containers/{id}/top", bind(&ContainersRoutes::top));
  router.add("POST", "/containers/{id}/resize", bind(&ContainersRoutes::resize));
  router.add("GET", "/containers/{id}/logs", bind(&ContainersRoutes::logs));
  router.add("POST", "/containers/{id}/attach", bind(&ContainersRoutes::attach));
  router.add("GET", "/containers/{id}/changes", bind(&ContainersRoutes::changes));
  router.add("GET", "/containers/{id}/export", bind(&ContainersRoutes::exportFs));
  router.add("POST", "/commit", bind(&ContainersRoutes::commit));
  router.add("GET", "/containers/{id}/stats", bind(&ContainersRoutes::stats));
  router.add("POST", "/containers/{id}/update", bind(&ContainersRoutes::update));
  router.add("HEAD", "/containers/{id}/archive", bind(&ContainersRoutes::archiveStat));
  router.add("GET", "/containers/{id}/archive", bind(&ContainersRoutes::archiveGet));
  router.add("PUT", "/containers/{id}/archive", bind(&ContainersRoutes::archivePut), true);
  router.add("POST", "/containers/{id}/exec", bind(&ContainersRoutes::execCreate));
  router.add("POST", "/exec/{id}/start", bind(&ContainersRoutes::execStart));
  router.add("GET", "/exec/{id}/json", bind(&ContainersRoutes::execInspect));
  router.add("POST", "/exec/{id}/resize", bind(&ContainersRoutes::execResize));
}

void ContainersRoutes::create(http::Request& req, http::ResponseWriter& out) {
  if (parseJsonOrDiscarded(req.body).is_discarded()) {
    throw Error(ErrorKind::invalid, "invalid JSON: the request body is not JSON");
  }
  auto created = backends_.bridge.create(req.queryValue("name").value_or(""), req.body, ipc::deadlineIn(60s));
  out.json(201, {{"Id", created.id}, {"Warnings", created.warnings}});
}

void ContainersRoutes::start(http::Request& req, http::ResponseWriter& out) {
  bool started = backends_.bridge.start(req.params["id"], ipc::deadlineIn(120s));
  out.send(started ? 204 : 304, "", "");
}

void ContainersRoutes::stop(http::Request& req, http::ResponseWriter& out) {
  int timeout = intParam(req, "t", -1);
  bool wasRunning = backends_.bridge.stop(req.params["id"], timeout, req.queryValue("signal").value_or(""),
                                          ipc::deadlineIn(std::chrono::seconds(int64_t{std::max(timeout, 10)} + 60)));
  out.send(wasRunning ? 204 : 304, "", "");
}

void ContainersRoutes::restart(http::Request& req, http::ResponseWriter& out) {
  int timeout = intParam(req, "t", -1);
  backends_.bridge.restart(req.params["id"], timeout, req.queryValue("signal").value_or(""),
                           ipc::deadlineIn(std::chrono::seconds(int64_t{std::max(timeout, 10)} + 120)));
  out.send(204, "", "");
}

void ContainersRoutes::kill(http::Request& req, http::ResponseWriter& out) {
  backends_.bridge.kill(req.params["id"], req.queryValue("signal").value_or(""), ipc::deadlineIn(30s));
  out.send(204, "", "");
}

void ContainersRoutes::pause(http::Request& req, http::ResponseWriter& out) {
  backends_.bridge.pause(req.params["id"], ipc::deadlineIn(30s));
  out.send(204, "", "");
}

void ContainersRoutes::unpause(http::Request& req, http::ResponseWriter& out) {
  backends_.bridge.unpause(req.params["id"], ipc::deadlineIn(30s));
  out.send(204, "", "");
}

void ContainersRoutes::wait(http::Request& req, http::ResponseWriter& out) {
  std::string condition = req.queryValue("condition").value_or("");
  std::string ref = req.params["id"];
  int64_t exits = -1;
  auto step = [&](uint32_t waitMs) {
    return backends_.bridge.wait(ref, condition, exits, waitMs, ipc::deadlineIn(std::chrono::milliseconds(waitMs) + 30s));
  };
  // The first step registers the wait (and fails for an unknown container) before the
  // response starts: clients start the container once the headers arrive.
  auto first = step(0);
  ref = first.id;
  exits = first.exits;
  bool done = first.done;
  int64_t code = first.statusCode;
  std::string error = first.error;
  out.startStream(200, "application/json");
  while (!done) {
    if (out.clientGone()) return;
    try {
      auto r = step(5000);
      done = r.done;
      code = r.statusCode;
      error = r.error;
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::notFound) {
        // Removed while we waited: for "removed" that is the answer.
        done = true;
        continue;
      }
      if (e.kind() != ErrorKind::unavailable && e.kind() != ErrorKind::deadlineExceeded) throw;
      std::this_thread::sleep_for(100ms);  // the bridge is restarting: keep waiting
    }
  }
  json body = {{"StatusCode", code}, {"Error", error.empty() ? json() : json{{"Message", error}}}};
  out.writeChunk(body.dump() + "\n");
  out.endStream();
}

void ContainersRoutes::remove(http::Request& req, http::ResponseWriter& out) {
  if (boolParam(req, "link")) throw Error(ErrorKind::invalid, "legacy links are not supported");
  backends_.bridge.remove(req.params["id"], boolParam(req, "force"), boolParam(req, "v"), ipc::deadlineIn(90s));
  out.send(204, "", "");
}

void ContainersRoutes::rename(http::Request& req, http::ResponseWriter& out) {
  backends_.bridge.rename(req.params["id"], req.queryValue("name").value_or(""), ipc::deadlineIn(30s));
  out.send(204, "", "");
}

void ContainersRoutes::inspect(http::Request& req, http::ResponseWriter& out) {
  // With sizes the bridge asks the images service, which measures the layer: a call of its own.
  if (boolParam(req, "size")) {
    out.send(200, "application/json", backends_.bridge.inspectWithSizeJson(req.params["id"], ipc::deadlineIn(60s)) + "\n");
    return;
  }
  // From the read model when it is current; else (and for every error) the bridge answers.
  auto inspected = backends_.containers.inspect(req.params["id"]);
  if (!inspected) inspected = backends_.bridge.inspectJson(req.params["id"], ipc::deadlineIn(10s));
  out.send(200, "application/json", *inspected + "\n");
}

void ContainersRoutes::list(http::Request& req, http::ResponseWriter& out) {
  std::string filters = filtersParam(req);
  if (!filters.empty() && !parseJsonOrDiscarded(filters).is_object()) {
    throw Error(ErrorKind::invalid, "invalid filter: " + filters);
  }
  int limit = intParam(req, "limit", -1);
  if (boolParam(req, "latest")) limit = 1;
  bool size = boolParam(req, "size");  // ps -s: the bridge asks the images service for every layer's size
  bool all = boolParam(req, "all");
  std::optional<std::string> listed;
  // Without sizes the read model answers when it is current.
  if (!size) listed = backends_.containers.list(all, limit, filters);
  if (!listed) listed = backends_.bridge.listJson({all, limit, filters, size}, ipc::deadlineIn(size ? 60s : 10s));
  out.send(200, "application/json", *listed + "\n");
}

void ContainersRoutes::top(http::Request& req, http::ResponseWriter& out) {
  std::string top = backends_.bridge.topJson(req.params["id"], req.queryValue("ps_args").value_or(""), ipc::deadlineIn(30s));
  out.send(200, "application/json", top + "\n");
}

void ContainersRoutes::resize(http::Request& req, http::ResponseWriter& out) {
  int h = intParam(req, "h", 0), w = intParam(req, "w", 0);
  if (h < 0 || w < 0) throw Error(ErrorKind::invalid, "invalid terminal size");
  backends_.bridge.resize(req.params["id"], static_cast<uint32_t>(h), static_cast<uint32_t>(w), ipc::deadlineIn(10s));
  out.send(200, "text/plain", "");
}

void ContainersRoutes::prune(http::Request& req, http::ResponseWriter& out) {
  std::string filters = filtersParam(req);
  if (!filters.empty() && !parseJsonOrDiscarded(filters).is_object()) {
    throw Error(ErrorKind::invalid, "invalid filter: " + filters);
  }
  out.send(200, "application/json", backends_.bridge.pruneJson(filters, ipc::deadlineIn(300s)) + "\n");
}

void ContainersRoutes::logs(http::Request& req, http::ResponseWriter& out) {
  bool wantOut = boolParam(req, "stdout"), wantErr = boolParam(req, "stderr");
  if (!wantOut && !wantErr) throw Error(ErrorKind::invalid, "Bad parameters: you must choose at least one stream");
  std::string tailText = req.queryValue("tail").value_or("all");
  int64_t tail = -1;
  if (!tailText.empty() && tailText != "all") {
    try {
      tail = std::stoll(tailText);
    } catch (const std::exception&) {
      tail = -1;  // dockerd treats an unparsable tail as "all"
    }
  }
  json request = {{"op", "logs"},
                  {"id", req.params["id"]},
                  {"stdout", wantOut},
                  {"stderr", wantErr},
                  {"follow", boolParam(req, "follow")},
                  {"timestamps", boolParam(req, "timestamps")},
                  {"since", timeParam(req, "since")},
                  {"until", timeParam(req, "until")},
                  {"tail", tail}};
  BridgeStream stream(streamSocket_, request);
  if (stream.reply().value("unreadable", false)) {
    out.error(501, "configured logging driver does not support reading");
    return;
  }
  out.startStream(200, streamType(stream.tty(), req.apiVersion));
  char buf[64 * 1024];
  for (;;) {
    size_t n = stream.read(buf, sizeof buf);
    if (n == 0 || !out.writeChunk(std::string_view(buf, n))) break;
  }
  out.endStream();
}

void ContainersRoutes::attach(http::Request& req, http::ResponseWriter& out) {
  json request = {{"op", "attach"},
                  {"id", req.params["id"]},
                  {"stdin", boolParam(req, "stdin")},
                  {"stdout", boolParam(req, "stdout")},
                  {"stderr", boolParam(req, "stderr")},
                  {"logs", boolParam(req, "logs")},
                  {"stream", boolParam(req, "stream")}};
  std::string keys = detachSequence(req.queryValue("detachKeys").value_or("").empty() ? "ctrl-p,ctrl-q"
                                                                                     : *req.queryValue("detachKeys"));
  // The container must exist (404 before the connection is taken over, as dockerd answers); its
  // TTY picks the stream's type.
  auto container = parseJson(backends_.bridge.inspectJson(req.params["id"], ipc::deadlineIn(10s)));
  bool tty = container.value("Config", json::object()).value("Tty", false);
  bool upgrade = req.header("upgrade") == "tcp";
  std::string leftover = out.takeLeftover();
  // dockerd's order: the head first, then the stream. Replayed logs sent right behind the head
  // reach the client in the same read as the head, and a client that parses the head through a
  // buffered reader and then reads the raw socket (docker-py) loses them.
  auto& client = out.hijack(upgrade, streamType(tty, req.apiVersion));
  std::optional<BridgeStream> stream;
  request["marked"] = true;
  try {
    stream.emplace(streamSocket_, request);
  } catch (const Error& e) {
    writeStreamError(client, e.what(), tty);
    return;
  }
  // A bridge that dies under the attach cuts its stream; the container and its log live on.
  // The attach is then made again on the next bridge from the last position relayed, so the
  // client gets every line once (a container removed meanwhile by --rm: from the log its
  // removal kept). Input cannot be resumed: bytes the dead bridge had read are lost. What
  // cannot be resumed ends with an error, never as if the container had printed nothing.
  bool input = boolParam(req, "stdin");
  json resume = {{"op", "attach"},
                 {"id", stream->reply().value("id", req.params["id"])},
                 {"stdout", request["stdout"]},
                 {"stderr", request["stderr"]},
                 {"tty", tty},
                 {"exits", stream->reply().value("exits", int64_t{0})},
                 {"marked", true}};
  auto relay = [&](const std::atomic<bool>& detached) {
    json position;
    BridgeStream* current = &*stream;
    std::optional<BridgeStream> resumed;
    for (;;) {
      if (relayMarked(client, *current, &position) || detached) return;
      std::string why;
      if (input) why = "the container's input cannot be resumed";
      else if (position.is_null()) why = "no position in its log was relayed yet";
      auto until = std::chrono::steady_clock::now() + 60s;
      while (why.empty()) {
        try {
          resume["resume"] = position;
          resumed.emplace(streamSocket_, resume);
          current = &*resumed;
          break;
        } catch (const Error& e) {
          if (e.kind() != ErrorKind::unavailable || std::chrono::steady_clock::now() > until) why = e.what();
          else std::this_thread::sleep_for(100ms);
        }
      }
      if (!why.empty()) {
        spdlog::warn("attach to {}: the stream was cut and not resumed: {}", req.params["id"], why);
        writeStreamCut(client, "Error attaching: berth-containerd-bridge restarted and the stream could not be resumed: " + why, tty);
        return;
      }
      spdlog::info("attach to {}: resumed on the restarted berth-containerd-bridge", req.params["id"]);
    }
  };
  // dockerd watches for the detach keys only on a TTY.
  splice(client, leftover, *stream, input, tty ? keys : "", relay);
}

void ContainersRoutes::execCreate(http::Request& req, http::ResponseWriter& out) {
  if (parseJsonOrDiscarded(req.body).is_discarded()) throw Error(ErrorKind::invalid, "invalid JSON in the request body");
  out.json(201, {{"Id", backends_.bridge.execCreate(req.params["id"], req.body, ipc::deadlineIn(30s))}});
}

void ContainersRoutes::execStart(http::Request& req, http::ResponseWriter& out) {
  auto body = req.body.empty() ? json::object() : parseJsonOrDiscarded(req.body);
  if (!body.is_object()) throw Error(ErrorKind::invalid, "invalid JSON in the request body");
  std::string id = req.params["id"];
  auto exec = parseJson(backends_.bridge.execInspectJson(id, ipc::deadlineIn(10s)));
  bool detach = body.value("Detach", false);
  bool tty = body.value("Tty", exec["ProcessConfig"].value("tty", false));
  std::string keys = detachSequence(exec.value("DetachKeys", "").empty() ? "ctrl-p,ctrl-q" : exec["DetachKeys"].get<std::string>());
  json request = {{"op", "exec"},
                  {"id", id},
                  {"detach", detach},
                  {"tty", tty},
                  {"stdin", exec.value("OpenStdin", false)},
                  {"stdout", exec.value("OpenStdout", false)},
                  {"stderr", exec.value("OpenStderr", false)}};
  if (detach) {
    BridgeStream stream(streamSocket_, request);
    out.send(200, "application/json", "");
    return;
  }
  // dockerd's order: the connection is taken over (the 101 or 200 head written) before the
  // process starts. A client that reads the head through a buffered reader and then reads the
  // raw socket (docker-py) would otherwise find the first output already swallowed with the
  // head. A start that fails is then reported in the stream, as dockerd writes it (a stdout
  // frame without a TTY), and the exec's exit code says why (126, 127).
  bool upgrade = req.header("upgrade") == "tcp";
  std::string leftover = out.takeLeftover();
  auto& client = out.hijack(upgrade, streamType(tty, req.apiVersion));
  std::optional<BridgeStream> stream;
  request["marked"] = true;
  try {
    stream.emplace(streamSocket_, request);
  } catch (const Error& e) {
    writeStreamError(client, e.what(), tty);
    return;
  }
  // The exec's output passes through the bridge only (its fifos die with it, and the next
  // bridge ends the process's IO): a stream the bridge's death cut cannot be resumed, and the
  // client is told so rather than left to take the end of the stream for the process's.
  splice(client, leftover, *stream, exec.value("OpenStdin", false), tty ? keys : "", [&](const std::atomic<bool>& detached) {
    if (relayMarked(client, *stream, nullptr) || detached) return;
    spdlog::warn("exec {}: the stream was cut by a restart of berth-containerd-bridge", id);
    writeStreamCut(client,
                   "Error: berth-containerd-bridge restarted while relaying the exec's output; the rest of it is lost", tty);
  });
}

void ContainersRoutes::execInspect(http::Request& req, http::ResponseWriter& out) {
  out.send(200, "application/json", backends_.bridge.execInspectJson(req.params["id"], ipc::deadlineIn(10s)) + "\n");
}

void ContainersRoutes::execResize(http::Request& req, http::ResponseWriter& out) {
  int h = intParam(req, "h", 0), w = intParam(req, "w", 0);
  if (h < 0 || w < 0) throw Error(ErrorKind::invalid, "invalid terminal size");
  backends_.bridge.execResize(req.params["id"], static_cast<uint32_t>(h), static_cast<uint32_t>(w), ipc::deadlineIn(10s));
  out.send(200, "text/plain", "");
}

// docker export: the bridge has the images service stage the tar and answers with that
// download, which is read from the images service like docker save's.
void ContainersRoutes::exportFs(http::Request& req, http::ResponseWriter& out) {
  streamDownload(backends_.images, backends_.bridge.exportBegin(req.params["id"], ipc::deadlineIn(30min)), out);
}

// docker commit: the bridge builds the new image's config from the container's, the body and the
// Dockerfile `changes` (dockerd's BuildFromConfig), pauses the container unless pause=0, and has
// the images service write the image.
void ContainersRoutes::commit(http::Request& req, http::ResponseWriter& out) {
  bridge::BridgeClient::CommitRequest commit;
  commit.container = req.queryValue("container").value_or("");
  if (commit.container.empty()) throw Error(ErrorKind::invalid, "No container specified");
  commit.configJson = req.body;
  for (const auto& [key, value] : req.query) {
    if (key == "changes") commit.changes.push_back(value);
  }
  std::string repo = req.queryValue("repo").value_or("");
  std::string tag = req.queryValue("tag").value_or("");
  commit.reference = repo.empty() ? "" : repo + ":" + (tag.empty() ? "latest" : tag);
  commit.message = req.queryValue("comment").value_or("");
  commit.author = req.queryValue("author").value_or("");
  commit.pause = boolParam(req, "pause", true);  // dockerd pauses unless told not to (API >= 1.13)
  out.json(201, {{"Id", backends_.bridge.commit(commit, ipc::deadlineIn(30min))}});
}

void ContainersRoutes::changes(http::Request& req, http::ResponseWriter& out) {
  json changes = json::array();
  for (const auto& c : backends_.bridge.changes(req.params["id"], ipc::deadlineIn(60s))) {
    changes.push_back({{"Path", c.path}, {"Kind", c.kind}});
  }
  out.json(200, changes.empty() ? json() : changes);
}

// docker cp. The bridge hands each request to berth-archive, which stats, tars or extracts
// inside the container; these handlers only carry bytes between the client and it.
void ContainersRoutes::archiveStat(http::Request& req, http::ResponseWriter& out) {
  BridgeStream stream(streamSocket_, archiveRequest(req, "stat"));
  out.send(200, "application/json", "", statHeader(stream));
}

void ContainersRoutes::archiveGet(http::Request& req, http::ResponseWriter& out) {
  BridgeStream stream(streamSocket_, archiveRequest(req, "get"));
  out.startStream(200, "application/x-tar", statHeader(stream));
  // berth-archive frames the tar and ends a complete archive with an empty frame. A stream that
  // ends without it was cut short: the response is broken off without its last chunk, so the
  // client sees an error rather than a short archive.
  std::string frame;
  for (;;) {
    stream.readArchiveFrame(frame);
    if (frame.empty()) break;
    if (!out.writeChunk(frame)) return;
  }
  out.endStream();
}

void ContainersRoutes::archivePut(http::Request& req, http::ResponseWriter& out) {
  json request = archiveRequest(req, "put");
  request["noOverwriteDirNonDir"] = boolParam(req, "noOverwriteDirNonDir");
  request["copyUidGid"] = boolParam(req, "copyUIDGID");
  // The first answer comes once the destination is checked: a bad one fails before the body.
  BridgeStream stream(streamSocket_, request);
  char buf[64 * 1024];
  for (;;) {
    size_t n = req.readBody(buf, sizeof buf);
    if (n == 0) break;
    stream.send(std::string(buf, n));  // after a failed extraction this only drains the body
  }
  stream.closeInput();
  stream.awaitResult();
  out.send(200, "application/json", "");
}

// docker stats: the bridge reads one sample per call; CPU percentages need the previous one,
// which this handler keeps (precpu_stats), as dockerd's collector does. Without streaming,
// dockerd answers after a second sample unless one-shot is asked for.
void ContainersRoutes::stats(http::Request& req, http::ResponseWriter& out) {
  std::string id = req.params["id"];
  auto sample = [&] {
    return parseJson(backends_.bridge.statsJson(id, ipc::deadlineIn(10s)));
  };
  bool stream = boolParam(req, "stream", true);
  bool oneShot = boolParam(req, "one-shot");
  if (oneShot && stream) throw Error(ErrorKind::invalid, "cannot have stream=true and one-shot=true");
  json previous = sample();
  auto withPrevious = [&](json doc) {
    doc["preread"] = previous["read"];
    doc["precpu_stats"] = previous["cpu_stats"];
    previous = doc;
    return doc;
  };
  bool running = previous["read"] != "0001-01-01T00:00:00Z";
  if (!stream) {
    json doc = previous;
    if (!oneShot && running) {
      std::this_thread::sleep_for(1s);
      doc = withPrevious(sample());
    }
    out.json(200, doc);
    return;
  }
  out.startStream(200, "application/json");
  if (!out.writeChunk(previous.dump() + "\n")) return;
  while (!out.clientGone()) {
    std::this_thread::sleep_for(1s);
    json doc;
    try {
      doc = withPrevious(sample());
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::notFound) break;  // removed while streaming
      throw;
    }
    if (!out.writeChunk(doc.dump() + "\n")) return;
  }
  out.endStream();
}

void ContainersRoutes::update(http::Request& req, http::ResponseWriter& out) {
  if (parseJsonOrDiscarded(req.body).is_discarded()) throw Error(ErrorKind::invalid, "invalid JSON in the request body");
  out.json(200, {{"Warnings", backends_.bridge.update(req.params["id"], req.body, ipc::deadlineIn(30s))}});
}

}  // namespace berth::api
