// The API's read model of networks (docs/ipc.md, "Network views"): GET /networks/{id} (by full
// id or name) and GET /networks, filtered or not, answered from the API's copy of the network
// service's networks. What must hold: the copy answers (it keeps answering with the network
// service frozen, which shows that no RPC was made), it answers what the service would, and no
// read shows a state older than a write the client saw acknowledged, including the endpoints
// the containerd-bridge connects and disconnects for `docker run`, `rm` and `network connect`.
// The engine runs in a network namespace of its own, as NetworksTest's do.
#include <cctype>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>

#include "ipc/rpc_client.h"
#include "services/network/public/network_client.h"
#include "tests/integration/container_fixture.h"
#include "tests/support/http_client.h"

namespace berth::test {
namespace {

using json = nlohmann::json;


// `filters=` and the JSON text, percent-encoded.
std::string filtersQuery(const std::string& text) {
  std::string out = "filters=";
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      out += hex;
    }
  }
  return out;
}

class NetworkReadModelTest : public ContainersTest {
 protected:
  NetworkReadModelTest() : ContainersTest(ownNamespace()) {}
  static Engine::Options ownNamespace() {
    Engine::Options options;
    options.ownNetworkNamespace = true;
    return options;
  }
  void TearDown() override {
    ContainersTest::TearDown();
    engine_.docker({"network", "prune", "-f"});
  }
  HttpResult get(const std::string& target) { return httpRequest(engine_.socketPath(), "GET", target); }
  // The network service's own list, asked over its RPC socket as berth-api would.
  json networksFromTheService() {
    zmq::context_t context;
    ipc::RpcClient rpc(context, "ipc://" + engine_.execRoot() + "/ipc/network.sock");
    return json::parse(network::NetworkClient(rpc).list("", ipc::deadlineIn(std::chrono::seconds(10))));
  }
  // GET /networks/{ref} as the network service itself answers it, over its RPC socket.
  json inspectedByTheService(const std::string& ref) {
    zmq::context_t context;
    ipc::RpcClient rpc(context, "ipc://" + engine_.execRoot() + "/ipc/network.sock");
    return json::parse(network::NetworkClient(rpc).inspect(ref, ipc::deadlineIn(std::chrono::seconds(10))));
  }
  json networks(const std::string& query = "") {
    auto r = get("/v1.43/networks" + (query.empty() ? "" : "?" + query));
    EXPECT_EQ(r.status, 200) << query << ": " << r.body.substr(0, 300);
    return bodyOf(r);
  }
  // The containers GET /networks/{ref} shows on the network, by id.
  json endpointsOn(const std::string& ref) {
    auto r = get("/v1.43/networks/" + ref);
    EXPECT_EQ(r.status, 200) << ref << ": " << r.body.substr(0, 300);
    return bodyOf(r)["Containers"];
  }
  std::string runOn(const std::string& network, const std::string& name) {
    auto r = engine_.docker({"run", "-d", "--pull", "never", "--network", network, "--name", name, kImage, "sleep", "600"});
    EXPECT_EQ(r.exitCode, 0) << r.err;
    return trimNewline(r.out);
  }
};

TEST_F(NetworkReadModelTest, InspectAndListAnswerWithTheNetworkServiceFrozenSoNoRpcIsMade) {
  ASSERT_EQ(engine_.docker({"network", "create", "--label", "tier=cold", "frozen-net"}).exitCode, 0);
  std::string container = runOn("frozen-net", "on-frozen");
  ASSERT_EQ(container.size(), 64u);
  json viaService = networksFromTheService();
  ASSERT_EQ(viaService.size(), 4u) << viaService;  // bridge, host, none, frozen-net
  // By id, from the service itself before the freeze.
  std::map<std::string, json> inspected;
  for (const auto& n : viaService) {
    std::string id = n["Id"];
    inspected[id] = inspectedByTheService(id);
    EXPECT_EQ(inspected[id]["Id"], id);
  }
  {
    auto frozen = freezeOnceAnsweredWithout(engine_.childPid("network"), "/v1.43/networks");
    ASSERT_TRUE(frozen) << "the copy never answered with the network service frozen";
    // A read the copy does not answer (no such network) waits for the frozen service: the proof
    // that it is frozen.
    auto waiting =
        rawRequest(engine_.socketPath(),
                   "GET /v1.43/networks/no-such-network HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 1000);
    EXPECT_TRUE(waiting.timedOut) << waiting.status << " " << waiting.body.substr(0, 200);
    // The same documents as the service's, in the same order (by id).
    EXPECT_EQ(networks(), viaService);
    // Filtered too: the networks dockerd's filters pick, each as the service lists it.
    auto only = [&](const std::set<std::string>& names) {
      json out = json::array();
      for (const auto& n : viaService) {
        if (names.count(n["Name"])) out.push_back(n);
      }
      return out;
    };
    const std::set<std::string> all = {"bridge", "host", "none", "frozen-net"};
    for (const auto& [filters, names] : std::vector<std::pair<std::string, std::set<std::string>>>{
             {R"({"label":["tier=cold"]})", {"frozen-net"}},
             {R"({"label":{"tier":true}})", {"frozen-net"}},
             {R"({"type":["builtin"]})", {"bridge", "host", "none"}},
             {R"({"type":["custom"]})", {"frozen-net"}},
             {R"({"dangling":["true"]})", {}},  // frozen-net has a container
             {R"({"dangling":["false"]})", all},
             {R"({"driver":["bridge"]})", {"bridge", "frozen-net"}},
             {R"({"name":["frozen"]})", {"frozen-net"}},
             {R"({"scope":["local"]})", all},
             {R"({"scope":["swarm"]})", {}}}) {
      EXPECT_EQ(networks(filtersQuery(filters)), only(names)) << filters;
    }
    auto refused = get("/v1.43/networks?" + filtersQuery(R"({"colour":["blue"]})"));
    EXPECT_EQ(refused.status, 400);
    EXPECT_EQ(bodyOf(refused)["message"], "invalid filter 'colour'");
    // docker network ls --filter, as compose lists a project's networks.
    auto ls = engine_.docker({"network", "ls", "--filter", "label=tier=cold", "--format", "{{.Name}}"});
    EXPECT_EQ(ls.exitCode, 0) << ls.err;
    EXPECT_EQ(ls.out, "frozen-net\n");
    for (const auto& n : viaService) {
      std::string id = n["Id"], name = n["Name"];
      EXPECT_EQ(bodyOf(get("/v1.43/networks/" + id)), inspected[id]) << name;
      EXPECT_EQ(bodyOf(get("/v1.43/networks/" + name)), inspected[id]) << name;
      EXPECT_EQ(bodyOf(get("/v1.43/networks/" + id.substr(0, 12))), inspected[id]) << name;
    }
    json held = bodyOf(get("/v1.43/networks/frozen-net"));
    EXPECT_EQ(held["Labels"], json({{"tier", "cold"}}));
    EXPECT_EQ(held["Containers"][container]["Name"], "on-frozen");
    EXPECT_EQ(held["Containers"][container]["IPv4Address"], "172.18.0.2/16");
    // The docker CLI's inspect by name, with the service still frozen.
    auto cli = engine_.docker({"network", "inspect", "-f", "{{.Name}} {{len .Containers}}", "frozen-net"});
    EXPECT_EQ(cli.exitCode, 0) << cli.err;
    EXPECT_EQ(trimNewline(cli.out), "frozen-net 1");
  }
  // Thawed, the service answers what the copy declines, in its own words.
  auto missing = get("/v1.43/networks/no-such-network");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(bodyOf(missing)["message"], "network no-such-network not found");
  std::string id = bodyOf(get("/v1.43/networks/frozen-net"))["Id"];
  EXPECT_EQ(bodyOf(get("/v1.43/networks/" + id.substr(0, 12)))["Name"], "frozen-net");
}

// Each write acknowledged to the client, then at once a read on a new connection: the read
// shows the write, every time, whether the API or the containerd-bridge asked the network
// service for it.
TEST_F(NetworkReadModelTest, EveryReadAfterAnAcknowledgedWriteShowsIt) {
  for (int round = 0; round < 3; ++round) {
    std::string net = "rw-" + std::to_string(round), other = "rw-other-" + std::to_string(round);
    ASSERT_EQ(engine_.docker({"network", "create", net}).exitCode, 0);
    EXPECT_EQ(get("/v1.43/networks/" + net).status, 200);
    ASSERT_EQ(engine_.docker({"network", "create", other}).exitCode, 0);
    EXPECT_EQ(networks().size(), 5u);

    // docker run: the bridge connects it before the CLI is told the container started.
    std::string c = runOn(net, "c-" + net);
    EXPECT_TRUE(endpointsOn(net).contains(c)) << endpointsOn(net);
    // docker network connect/disconnect of the running container.
    ASSERT_EQ(engine_.docker({"network", "connect", other, c}).exitCode, 0);
    EXPECT_TRUE(endpointsOn(other).contains(c)) << endpointsOn(other);
    ASSERT_EQ(engine_.docker({"network", "disconnect", net, c}).exitCode, 0);
    EXPECT_EQ(endpointsOn(net), json::object());
    // docker rm -f: the bridge disconnects it from everything.
    ASSERT_EQ(engine_.docker({"rm", "-f", c}).exitCode, 0);
    EXPECT_EQ(endpointsOn(other), json::object());

    ASSERT_EQ(engine_.docker({"network", "rm", net, other}).exitCode, 0);
    EXPECT_EQ(get("/v1.43/networks/" + net).status, 404);
    EXPECT_EQ(networks().size(), 3u);
  }
}

// The reads above cannot show whether the bridge passes the network service's stamps on: its
// own reply reaches the client long after the network service published the change. Its
// replies' stamps can: after the bridge connected and disconnected a container, any reply of
// the bridge carries the network stamp the network service itself replies with (no other
// change was made meanwhile).
TEST_F(NetworkReadModelTest, TheBridgesRepliesCarryTheNetworkStampOfTheEndpointsItConnected) {
  auto stampOf = [&](const std::string& service) { return viewStampOf(service, ipc::ViewKind::networks); };
  ASSERT_EQ(engine_.docker({"network", "create", "stamped-net"}).exitCode, 0);
  std::string c = runOn("stamped-net", "stamped");
  ASSERT_EQ(c.size(), 64u);
  auto fromNetwork = stampOf("network");
  auto fromBridge = stampOf("containerd-bridge");
  EXPECT_NE(fromNetwork.epoch, 0u);
  EXPECT_GT(fromNetwork.seq, 0u);
  EXPECT_EQ(fromBridge.epoch, fromNetwork.epoch);
  EXPECT_EQ(fromBridge.seq, fromNetwork.seq);
  ASSERT_EQ(engine_.docker({"rm", "-f", "stamped"}).exitCode, 0);
  auto afterRemoval = stampOf("network");
  EXPECT_GT(afterRemoval.seq, fromNetwork.seq);
  EXPECT_EQ(stampOf("containerd-bridge").seq, afterRemoval.seq);
}

// kill -9 of the network service: a write answered by the new run (its stamp) makes the copy
// decline until it holds the new run's snapshot, and the copy then answers again on its own.
TEST_F(NetworkReadModelTest, AfterTheNetworkServiceRestartsReadsFollowTheNewRun) {
  ASSERT_EQ(engine_.docker({"network", "create", "kept"}).exitCode, 0);
  ASSERT_EQ(engine_.docker({"network", "create", "gone"}).exitCode, 0);
  pid_t networkPid = engine_.killAndAwaitRestart("network");
  ASSERT_EQ(httpRequest(engine_.socketPath(), "DELETE", "/v1.43/networks/gone").status, 204);
  EXPECT_EQ(get("/v1.43/networks/gone").status, 404);
  EXPECT_EQ(networks().size(), 4u);
  ASSERT_EQ(engine_.docker({"network", "create", "after"}).exitCode, 0);
  EXPECT_EQ(get("/v1.43/networks/after").status, 200);
  EXPECT_EQ(networks().size(), 5u);
  // The copy takes the new run's snapshot and answers on its own.
  auto frozen = freezeOnceAnsweredWithout(networkPid, "/v1.43/networks");
  ASSERT_TRUE(frozen) << "the copy never answered with the new run frozen";
  EXPECT_EQ(bodyOf(get("/v1.43/networks/after"))["Name"], "after");
  EXPECT_EQ(networks().size(), 5u);
}

}  // namespace
}  // namespace berth::test
