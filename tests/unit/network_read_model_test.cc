// The API's read model of networks over the network service's half (the views channel of
// NetworkViewFeed over the network core with a fake host, and a real RPC server answering
// networkViews): after each kind of change the model answers inspect and the unfiltered list
// exactly as the core does, the channel numbers each changing call once, and a stamp not reached
// yet makes it decline. Also the containerd-bridge's half: its client of the network service
// keeps the highest stamp the service's replies carried, which the bridge's own replies pass on.
// The protocol's rules (snapshot and mark, gaps, epochs) are shared with the containers' model
// and tested there (container_read_model_test.cc); the real engine is in
// tests/integration/network_read_model_test.cc.
#include "services/network/public/network_read_model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>
#include <zmq.hpp>

#include "ipc/capnp_text.h"
#include "ipc/methods.h"
#include "ipc/rpc_client.h"
#include "ipc/rpc_server.h"
#include "services/containerd-bridge/network_service_client.h"
#include "services/network/network_core.h"
#include "services/network/network_view_feed.h"
#include "tests/support/process.h"
#include "tests/unit/error_checks.h"
#include "tests/unit/fake_plumbing.h"

namespace berth::network {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

std::string id(char c) { return std::string(64, c); }

class NetworkFeedToModelTest : public ::testing::Test {
 protected:
  NetworkFeedToModelTest() {
    startService("br0");
    server_.handle(ipc::methods::networkNetworkViews(), [this](auto, auto r) { feed_->snapshot(r); });
    server_.handle(ipc::methods::networkAttach(), [this](ipc::Network::AttachParams::Reader p, auto r) {
      auto attached = core_->attach(p.getContainer(), json::parse(ipc::text(p.getRequest())));
      r.setNetnsPath(attached.netnsPath);
      r.setSettings(ipc::bytes(attached.settings.dump()));
    });
    server_.handle(ipc::methods::networkDetach(),
                   [this](ipc::Network::DetachParams::Reader p, auto) { core_->detach(p.getContainer()); });
    server_.start();
  }
  ~NetworkFeedToModelTest() override { server_.stop(); }

  // The network service's half: a core on the test's data directory and its feed, started. A
  // second call is the service's next run (the feed of the run before goes first).
  void startService(const std::string& defaultBridge) {
    feed_.reset();
    core_.reset();
    NetworkOptions o;
    o.dataDir = dir_.path() + "/network";
    o.defaultBridge = defaultBridge;
    o.ephemeralPorts = {40000, 40010};
    // Each event with the network views' stamp it leaves with (what EventPublisher stamps).
    core_ = std::make_unique<NetworkCore>(
        o, host_, [this](const std::string& action, const std::string&, const NetworkCore::Attributes&) {
          events_.emplace_back(action, ipc::currentViewStamp(ipc::ViewKind::networks).seq);
        });
    feed_ = std::make_unique<NetworkViewFeed>(context_, viewsEndpoint_, *core_);
    core_->start();
  }

  static json request(const std::string& mode, json extra = json::object()) {
    json r = {{"Name", "/c"}, {"NetworkMode", mode}};
    r.update(extra);
    return r;
  }

  // The model answers what the core answers now, byte for byte: the list, unfiltered and under
  // each of GET /networks' filters, and each network by id and by name.
  void expectModelAgrees(NetworkReadModel& model) {
    model.require(feed_->stamp());
    std::optional<std::string> listed;
    ASSERT_TRUE(test::waitFor([&] { return (listed = model.list()).has_value(); }, 5s))
        << "the model never reached the feed's own stamp";
    json held = core_->list(json());
    EXPECT_EQ(*listed, held.dump());
    for (const char* filters :
         {R"({"type":["builtin"]})", R"({"type":{"custom":true}})", R"({"dangling":["true"]})",
          R"({"dangling":["false"]})", R"({"label":["tier"]})", R"({"label":["tier=web"]})", R"({"name":["fr"]})",
          R"({"name":["^b"]})", R"({"driver":["bridge"]})", R"({"driver":["null","host"]})", R"({"scope":["local"]})",
          R"({"scope":["swarm"]})", R"({"id":["0"]})", R"({"driver":["bridge"],"dangling":["1"],"type":["custom"]})"}) {
      EXPECT_EQ(model.list(filters), core_->list(json::parse(filters)).dump()) << filters;
    }
    // Refused in the service's words.
    for (const char* filters : {R"({"bogus":["x"]})", R"({"type":["other"]})", R"({"dangling":["maybe"]})"}) {
      std::string said = test::thrownMessage([&] { core_->list(json::parse(filters)); });
      EXPECT_NE(said, "nothing thrown") << filters;
      EXPECT_EQ(test::thrownMessage([&] { model.list(filters); }), said) << filters;
      EXPECT_EQ(test::thrownKind([&] { model.list(filters); }), "invalid") << filters;
    }
    for (const auto& n : held) {
      auto want = core_->inspect(n["Id"]).dump();
      EXPECT_EQ(model.inspect(n["Id"]), want) << n["Name"];
      EXPECT_EQ(model.inspect(n["Name"]), want) << n["Name"];
    }
  }

  test::TempDir dir_{"berth-network-views"};
  FakePlumbing host_;
  std::vector<std::pair<std::string, uint64_t>> events_;  // action, stamp
  std::unique_ptr<NetworkCore> core_;
  zmq::context_t context_;
  std::string rpcEndpoint_ = "ipc://" + dir_.path() + "/network.sock";
  std::string viewsEndpoint_ = "ipc://" + dir_.path() + "/views.sock";
  std::unique_ptr<NetworkViewFeed> feed_;
  ipc::RpcServer server_{context_, rpcEndpoint_};
  ipc::RpcClient client_{context_, rpcEndpoint_};
};

TEST_F(NetworkFeedToModelTest, AfterEachKindOfChangeTheModelAnswersWhatTheCoreAnswers) {
  std::string front = core_->create({{"Name", "front"}, {"Labels", {{"tier", "web"}}}});  // in the snapshot
  NetworkReadModel model(context_, viewsEndpoint_, client_);
  ASSERT_TRUE(test::waitFor([&] { return model.inspect("front").has_value(); }, 5s));
  expectModelAgrees(model);
  const uint64_t joinedAt = feed_->stamp().seq;  // the start and the create: in the snapshot
  uint64_t seq = joinedAt;

  // Each call that changes anything takes one number, however many networks it changed.
  core_->attach(id('a'), request("front", {{"EndpointsConfig", {{"bridge", json::object()}}}}));  // two networks
  EXPECT_EQ(feed_->stamp().seq, ++seq);
  expectModelAgrees(model);
  ASSERT_TRUE(model.inspect("front").has_value() && model.inspect("bridge").has_value());
  EXPECT_TRUE(json::parse(*model.inspect("front"))["Containers"].contains(id('a')));
  EXPECT_TRUE(json::parse(*model.inspect("bridge"))["Containers"].contains(id('a')));
  core_->attach(id('a'), request("front"));  // a later start: nothing changes
  core_->attach(id('n'), request("none"));   // no network: nothing to show
  EXPECT_EQ(feed_->stamp().seq, seq);

  std::string back = core_->create({{"Name", "back"}});
  EXPECT_EQ(feed_->stamp().seq, ++seq);
  core_->connect(id('a'), "back", {{"Aliases", {"db"}}});
  EXPECT_EQ(feed_->stamp().seq, ++seq);
  expectModelAgrees(model);
  core_->disconnect(id('a'), "front");
  EXPECT_EQ(feed_->stamp().seq, ++seq);
  expectModelAgrees(model);
  ASSERT_TRUE(model.inspect(front).has_value());
  EXPECT_EQ(json::parse(*model.inspect(front))["Containers"], json::object());

  // A refused call changes nothing and spends no number.
  EXPECT_THROW(core_->remove("back"), Error);  // it has an endpoint
  EXPECT_THROW(core_->create({{"Name", "back"}}), Error);
  EXPECT_EQ(feed_->stamp().seq, seq);

  core_->detach(id('a'));
  EXPECT_EQ(feed_->stamp().seq, ++seq);
  core_->attach(id('b'), request("back"));
  core_->reconcile({});  // b is gone
  seq += 2;
  EXPECT_EQ(feed_->stamp().seq, seq);
  core_->remove("back");
  core_->remove(front);
  seq += 2;
  EXPECT_EQ(feed_->stamp().seq, seq);
  expectModelAgrees(model);
  EXPECT_EQ(model.inspect("front"), std::nullopt);  // the service answers "not found"
  EXPECT_EQ(model.inspect(back), std::nullopt);
  ASSERT_TRUE(model.list().has_value());
  EXPECT_EQ(json::parse(*model.list()).size(), 3u);  // bridge, host, none
  // The channel numbered them one by one: the model followed them without a new snapshot
  // (unless the first snapshot's mark was lost, which takes another).
  EXPECT_GE(model.counts().changes, seq - joinedAt);
  EXPECT_LE(model.counts().snapshots, 2u);
}

// Resolved in the core's order: a full id, a name, then an id prefix only one network has.
TEST_F(NetworkFeedToModelTest, AnIdPrefixOnlyOneNetworkHasIsAnsweredAndTheRestLeftToTheService) {
  std::string made = core_->create({{"Name", "named"}});
  // A name that is also a prefix of another network's id: the name wins, in the core too.
  std::string prefixName = core_->create({{"Name", made.substr(0, 8)}});
  // Seventeen networks more: two ids among the twenty begin with the same hex digit.
  for (int i = 0; i < 17; ++i) core_->create({{"Name", "n" + std::to_string(i)}});
  NetworkReadModel model(context_, viewsEndpoint_, client_);
  ASSERT_TRUE(test::waitFor([&] { return model.list() && json::parse(*model.list()).size() == 22u; }, 5s));
  EXPECT_EQ(model.inspect(made.substr(0, 12)), core_->inspect(made.substr(0, 12)).dump());
  EXPECT_EQ(json::parse(model.inspect(made.substr(0, 12)).value())["Name"], "named");
  EXPECT_EQ(model.inspect(made.substr(0, 8)), core_->inspect(made.substr(0, 8)).dump());
  EXPECT_EQ(json::parse(model.inspect(made.substr(0, 8)).value())["Id"], prefixName);
  std::map<char, int> byFirstDigit;
  for (const auto& n : json::parse(*model.list())) ++byFirstDigit[n["Id"].get<std::string>()[0]];
  auto shared = std::find_if(byFirstDigit.begin(), byFirstDigit.end(), [](auto& d) { return d.second > 1; });
  ASSERT_NE(shared, byFirstDigit.end());
  std::string ambiguous(1, shared->first);
  EXPECT_EQ(model.inspect(ambiguous), std::nullopt);  // the core answers in its words:
  EXPECT_EQ(test::thrownKind([&] { core_->inspect(ambiguous); }), "invalid");
  EXPECT_EQ(test::thrownMessage([&] { core_->inspect(ambiguous); }), "network " + ambiguous + " is ambiguous");
  EXPECT_EQ(model.inspect("no-such-network"), std::nullopt);
  EXPECT_EQ(test::thrownKind([&] { core_->inspect("no-such-network"); }), "notFound");
  EXPECT_EQ(model.inspect(""), std::nullopt);
  // Declined for what they are, not because the copy stopped being current.
  EXPECT_TRUE(model.inspect("named").has_value());
}

TEST_F(NetworkFeedToModelTest, AStampItHasNotReachedMakesItDeclineUntilTheChangeArrives) {
  NetworkReadModel model(context_, viewsEndpoint_, client_);
  ASSERT_TRUE(test::waitFor([&] { return model.list().has_value(); }, 5s));
  auto next = feed_->stamp();
  ++next.seq;
  model.require(next);  // a reply acknowledged a change the copy has not seen (not made yet here)
  EXPECT_EQ(model.list(), std::nullopt);
  EXPECT_EQ(model.inspect("bridge"), std::nullopt);
  core_->attach(id('c'), request("bridge"));
  ASSERT_TRUE(test::waitFor([&] { return model.inspect("bridge").has_value(); }, 5s));
  auto bridge = model.inspect("bridge");
  ASSERT_TRUE(bridge.has_value());
  EXPECT_TRUE(json::parse(*bridge)["Containers"].contains(id('c')));
}

// An event leaves after the change it reports is numbered, so a client that learns of the
// change from the event (docker events, then docker network inspect) finds it in the copy,
// which must hold the stamp the event carried.
TEST_F(NetworkFeedToModelTest, EachEventCarriesTheNumberOfTheChangeItReports) {
  events_.clear();
  std::string made = core_->create({{"Name", "evented"}});
  uint64_t created = feed_->stamp().seq;
  core_->attach(id('e'), request("evented", {{"EndpointsConfig", {{"bridge", json::object()}}}}));
  uint64_t attached = feed_->stamp().seq;
  core_->disconnect(id('e'), "bridge");
  uint64_t disconnected = feed_->stamp().seq;
  core_->detach(id('e'));
  uint64_t detached = feed_->stamp().seq;
  core_->remove(made);
  uint64_t removed = feed_->stamp().seq;
  using E = std::pair<std::string, uint64_t>;
  EXPECT_EQ(events_, (std::vector<E>{{"create", created},
                                     {"connect", attached},
                                     {"connect", attached},
                                     {"disconnect", disconnected},
                                     {"disconnect", detached},
                                     {"destroy", removed}}));
}

// The service's next run without a default bridge (--bridge none) removes the old one while it
// starts, when no container is on it: the copy is told.
TEST_F(NetworkFeedToModelTest, ARestartWithoutTheDefaultBridgeTellsTheCopyItIsGone) {
  core_->create({{"Name", "kept"}});
  ASSERT_EQ(core_->inspect("bridge")["Name"], "bridge");
  startService("none");
  EXPECT_EQ(feed_->stamp().seq, 1u);  // the start: the records loaded, the default bridge removed
  NetworkReadModel model(context_, viewsEndpoint_, client_);
  expectModelAgrees(model);
  EXPECT_EQ(model.inspect("bridge"), std::nullopt);
  EXPECT_TRUE(model.inspect("kept").has_value());
  EXPECT_EQ(json::parse(core_->list(json()).dump()).size(), 3u);  // host, none, kept
}

// The containerd-bridge's client of the network service: each reply's network stamp is kept, so
// the bridge's replies cover the endpoints it connected or disconnected.
TEST_F(NetworkFeedToModelTest, TheBridgesClientKeepsTheHighestNetworkStampTheRepliesCarried) {
  bridge::NetworkServiceClient bridgeSide(context_, rpcEndpoint_);
  EXPECT_EQ(bridgeSide.networkViews().epoch, 0u);
  uint64_t before = feed_->stamp().seq;
  bridgeSide.attach(id('d'), request("bridge"), deadlineIn(5s));
  EXPECT_EQ(bridgeSide.networkViews().epoch, feed_->stamp().epoch);
  EXPECT_EQ(bridgeSide.networkViews().seq, before + 1);
  bridgeSide.detach(id('d'), deadlineIn(5s));
  EXPECT_EQ(bridgeSide.networkViews().seq, before + 2);
  EXPECT_EQ(feed_->stamp().seq, before + 2);
}

}  // namespace
}  // namespace berth::network
