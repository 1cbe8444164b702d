// GET /events end to end through the real docker CLI, with berth-api socket-activated by
// systemd's own tool and fake event-producing services standing in for images and the
// containerd-bridge (the services that will publish these events land with later issues).
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "common/config.h"
#include "ipc/events.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"

namespace berth::test {
namespace {

using namespace std::chrono_literals;

class ApiEventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = Config::parse({"berth-api", "--data-root", dir_.path() + "/data", "--exec-root", dir_.path() + "/run"});
    std::filesystem::create_directories(config_.ipcDir());
    for (std::string name : {"images", "containerd-bridge"}) {
      auto pub = std::make_unique<ipc::EventPublisher>(context_, config_.eventsEndpoint(name));
      auto server = std::make_unique<ipc::RpcServer>(context_, config_.serviceEndpoint(name));
      pub->serveOn(*server);
      server->start();
      publishers_[name] = std::move(pub);
      servers_.push_back(std::move(server));
    }
    socket_ = dir_.path() + "/api.sock";
    std::vector<std::string> argv = {"systemd-socket-activate", "-l", socket_, binDir() + "/berth-api"};
    auto args = config_.toArgs();
    argv.insert(argv.end(), args.begin(), args.end());
    api_ = std::make_unique<Spawned>(argv, std::vector<std::string>{}, dir_.path() + "/api.log");
    for (int i = 0; i < 100 && !std::filesystem::exists(socket_); ++i) std::this_thread::sleep_for(20ms);
    auto r = httpRequest(socket_, "GET", "/_ping");
    ASSERT_EQ(r.status, 200) << readText(dir_.path() + "/api.log");
    std::this_thread::sleep_for(300ms);  // let the API's subscriber join the publishers
  }

  void TearDown() override {
    api_->signal(SIGTERM);
    EXPECT_TRUE(api_->wait(10s).has_value());
  }

  CommandResult docker(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"docker"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, {"DOCKER_HOST=unix://" + socket_, "DOCKER_CONFIG=" + dir_.path() + "/docker-config"}, 30s);
  }

  static int64_t nowSeconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  }

  static std::vector<nlohmann::json> lines(const std::string& out) {
    std::vector<nlohmann::json> v;
    std::istringstream in(out);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty()) v.push_back(nlohmann::json::parse(line));
    }
    return v;
  }

  TempDir dir_{"berth-events"};
  Config config_;
  zmq::context_t context_;
  std::map<std::string, std::unique_ptr<ipc::EventPublisher>> publishers_;
  std::vector<std::unique_ptr<ipc::RpcServer>> servers_;
  std::string socket_;
  std::unique_ptr<Spawned> api_;
};

TEST_F(ApiEventsTest, DockerEventsShowsRetainedAndLiveEventsInOrder) {
  int64_t start = nowSeconds();
  publishers_["images"]->publish({"image", "tag", "sha256:1111", {{"name", "registry.local/app:v1"}}, "local", 0});
  std::thread live([&] {
    std::this_thread::sleep_for(700ms);
    publishers_["containerd-bridge"]->publish(
        {"container", "start", "c0ffee", {{"name", "web"}, {"image", "registry.local/app:v1"}}, "local", 0});
  });
  auto r = docker({"events", "--since", std::to_string(start - 1), "--until", std::to_string(nowSeconds() + 2),
                   "--format", "{{json .}}"});
  live.join();
  ASSERT_EQ(r.exitCode, 0) << r.err;
  auto events = lines(r.out);
  ASSERT_EQ(events.size(), 2u) << r.out;
  EXPECT_EQ(events[0]["Type"], "image");
  EXPECT_EQ(events[0]["Action"], "tag");
  EXPECT_EQ(events[0]["Actor"]["Attributes"]["name"], "registry.local/app:v1");
  EXPECT_EQ(events[1]["Type"], "container");
  EXPECT_EQ(events[1]["Action"], "start");
  EXPECT_EQ(events[1]["Actor"]["ID"], "c0ffee");
  EXPECT_EQ(events[1]["from"], "registry.local/app:v1");
  EXPECT_LE(events[0]["timeNano"].get<int64_t>(), events[1]["timeNano"].get<int64_t>());
}

TEST_F(ApiEventsTest, FiltersSelectEventsAsDockerdDoes) {
  int64_t start = nowSeconds();
  publishers_["images"]->publish({"image", "pull", "sha256:2222", {{"name", "registry.local/db:1"}}, "local", 0});
  publishers_["containerd-bridge"]->publish({"container", "die", "abc123", {{"name", "db"}, {"exitCode", "3"}}, "local", 0});
  publishers_["containerd-bridge"]->publish({"container", "start", "def456", {{"name", "web"}}, "local", 0});
  std::string since = std::to_string(start - 1), until = std::to_string(nowSeconds() + 1);
  auto r = docker({"events", "--since", since, "--until", until, "--filter", "type=container", "--filter", "event=die",
                   "--format", "{{.Actor.ID}} {{.Action}} {{index .Actor.Attributes \"exitCode\"}}"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "abc123 die 3\n");
  r = docker({"events", "--since", since, "--until", until, "--filter", "container=web", "--format", "{{.Actor.ID}}"});
  EXPECT_EQ(r.out, "def456\n");
  r = docker({"events", "--since", since, "--until", until, "--filter", "image=registry.local/db:1", "--format",
              "{{.Type}} {{.Action}}"});
  EXPECT_EQ(r.out, "image pull\n");
}

TEST_F(ApiEventsTest, AServiceThatIsDownDoesNotBreakTheStream) {
  int64_t start = nowSeconds();
  publishers_["images"]->publish({"image", "delete", "sha256:3333", {}, "local", 0});
  servers_[1]->stop();  // the containerd-bridge stand-in stops answering
  auto r = docker({"events", "--since", std::to_string(start - 1), "--until", std::to_string(nowSeconds() + 1),
                   "--format", "{{.Action}}"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_EQ(r.out, "delete\n");
}

}  // namespace
}  // namespace berth::test
