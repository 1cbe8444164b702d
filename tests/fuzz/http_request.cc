// The API's HTTP layer on arbitrary client bytes: Boost.Beast's request parser as serveOne
// drives it (heads, header limits, Content-Length and chunked bodies, the 413 and 431 answers,
// 100-continue, keep-alive over several requests, streamed bodies, hijacked connections), the
// path and query decoding, the router's version prefix and pattern matching, and the parsers
// routes run on what a request carries: JSON bodies, `filters`, boolean, integer and time
// parameters, X-Registry-Auth and image references.
//
// Input: one byte that sets how many bytes each read returns (1 to 256, so requests arrive
// split at every possible point), then the bytes the client sends before it closes.
#include <algorithm>
#include <cstring>
#include <memory>

#include "common/docker_filters.h"
#include "common/json_text.h"
#include "services/api/event_filter.h"
#include "services/api/http/http_server.h"
#include "services/api/images_routes.h"
#include "services/api/query_params.h"
#include "services/api/router.h"
#include "common/image_reference.h"
#include "tests/fuzz/fuzz_support.h"

namespace berth {
namespace {

using json = nlohmann::json;

// A client connection held in memory: reads hand out the input a piece at a time, then end of
// stream; what the server writes is kept to be checked.
class MemoryStream final : public http::ByteStream {
 public:
  MemoryStream(std::string_view input, size_t piece, std::string& written)
      : input_(input), piece_(piece), written_(written) {}
  size_t read(char* data, size_t size) override {
    size_t n = std::min({size, piece_, input_.size()});
    std::memcpy(data, input_.data(), n);
    input_.remove_prefix(n);
    return n;
  }
  void write(std::string_view data) override { written_.append(data); }
  void closeWrite() override {}
  void shutdownRead() override { input_ = {}; }
  bool peerClosed() const override { return input_.empty(); }
  int fd() const override { return -1; }

 private:
  std::string_view input_;
  size_t piece_;
  std::string& written_;
};

// Routes shaped like the real ones (the real ones need the services behind them), each running
// the real parser of what its request carries.
void addRoutes(api::Router& router) {
  router.add("GET", "/_ping", [](http::Request&, http::ResponseWriter& out) { out.send(200, "text/plain", "OK"); });
  router.add("POST", "/containers/create", [](http::Request& req, http::ResponseWriter& out) {
    auto body = parseJson(req.body);
    if (!body.is_object()) throw Error(ErrorKind::invalid, "not an object");
    out.json(201, {{"Id", body.value("Image", "")}, {"Name", req.queryValue("name").value_or("")}});
  });
  router.add("GET", "/containers/json", [](http::Request& req, http::ResponseWriter& out) {
    bool all = api::boolParam(req, "all");
    int limit = api::intParam(req, "limit", -1);
    auto filters = DockerFilters::parse(req.queryValue("filters").value_or(""),
                                        {"status", "label", "name", "id", "ancestor", "before", "since"});
    out.json(200, {{"all", all}, {"limit", limit}, {"name", filters.match("name", req.path)}});
  });
  router.add("GET", "/events", [](http::Request& req, http::ResponseWriter& out) {
    auto filter = api::EventFilter::parse(req.queryValue("filters").value_or(""));
    int64_t since = api::timeParam(req, "since"), until = api::timeParam(req, "until");
    ipc::EngineEvent e;
    e.type = "container";
    e.action = "start";
    e.actorId = req.header("x-actor");
    out.startStream(200, "application/json");
    out.writeChunk(json{{"since", since}, {"until", until}, {"match", filter.matches(e)}}.dump());
    out.endStream();
  });
  router.add("POST", "/images/create", [](http::Request& req, http::ResponseWriter& out) {
    auto [user, password] = api::registryAuth(req.header("x-registry-auth"));
    std::string from = req.queryValue("fromImage").value_or("");
    std::string tag = req.queryValue("tag").value_or("");
    auto ref = images::parseReference(tag.empty() ? from : from + ":" + tag);
    out.json(200, {{"ref", ref.familiar()}, {"domain", ref.domain()}, {"path", ref.path()}, {"user", user}});
  });
  router.add("GET", "/images/{name*}/json", [](http::Request& req, http::ResponseWriter& out) {
    out.json(200, {{"name", req.params["name"]}, {"api", req.apiVersion}});
  });
  router.add("POST", "/containers/{id}/exec", [](http::Request& req, http::ResponseWriter& out) {
    auto body = req.body.empty() ? json::object() : parseJson(req.body);
    bool attachStdin = body.value("AttachStdin", false);  // a wrong type is the router's 400
    out.json(201, {{"Id", req.params["id"]}, {"stdin", attachStdin}});
  });
  router.add(
      "POST", "/images/load",
      [](http::Request& req, http::ResponseWriter& out) {
        char buf[1000];
        size_t total = 0;
        while (size_t n = req.readBody(buf, sizeof buf)) total += n;
        out.send(200, "text/plain", std::to_string(total));
      },
      true);
  router.add("POST", "/containers/{id}/attach", [](http::Request& req, http::ResponseWriter& out) {
    std::string pending = out.takeLeftover();
    auto& raw = out.hijack(req.header("upgrade") == "tcp", "application/vnd.docker.raw-stream");
    raw.write(pending);
    char buf[512];
    while (size_t n = raw.read(buf, sizeof buf)) raw.write(std::string_view(buf, n));
    raw.closeWrite();
  });
}

struct Server {
  Server() {
    addRoutes(router);
    http::ServerOptions options;
    // Small limits, so inputs of a few KiB reach the 413 and 431 answers.
    options.maxBodyBytes = 4096;
    options.maxHeaderBytes = 2048;
    options.streamsBody = [this](http::Request& req) { return router.streamsBody(req); };
    options.commonHeaders = {{"Api-Version", api::kApiVersion}};
    server = std::make_unique<http::HttpServer>(
        std::vector<http::HttpServer::Listener>{},
        [this](http::Request& req, http::ResponseWriter& out) { router.dispatch(req, out); }, options);
    server->start();  // no listeners: only keeps the server "running" for keep-alive
  }
  api::Router router;
  std::unique_ptr<http::HttpServer> server;
};

}  // namespace
}  // namespace berth

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  berth::fuzz::quietLogs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static berth::Server server;
  if (size == 0) return 0;
  size_t piece = data[0] == 0 ? 1 << 16 : data[0];
  std::string written;
  server.server->serve(std::make_unique<berth::MemoryStream>(
      std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1), piece, written));
  // Whatever the input, the server answers in HTTP/1.1 or not at all.
  if (!written.empty() && written.rfind("HTTP/1.1 ", 0) != 0) {
    berth::fuzz::invariantBroken("the server wrote something that is not an HTTP/1.1 response: " +
                                 written.substr(0, 64));
  }
  return 0;
}
