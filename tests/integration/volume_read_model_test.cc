// The API's read model of volumes (docs/ipc.md, "Volume views"): GET /volumes/{name} and
// GET /volumes (filtered too, dangling= included) answered from the API's copy of the volumes
// service's volumes. What must hold: the copy answers (it keeps answering with the volumes
// service frozen, which shows that no RPC was made), it answers what the service would, and no
// read shows a state older than a write the client saw acknowledged, including the anonymous volumes the
// containerd-bridge makes and removes for `docker run -v /path` and `--rm`.
#include <nlohmann/json.hpp>
#include <set>
#include <zmq.hpp>

#include "services/api/volumes_routes.h"
#include "services/volumes/public/volumes_client.h"
#include "tests/integration/container_fixture.h"
#include "tests/support/http_client.h"

namespace berth::test {
namespace {

using json = nlohmann::json;

// dangling=true and dangling=false, as the docker CLI sends them.
const std::string kDangling = "filters=%7B%22dangling%22%3A%7B%22true%22%3Atrue%7D%7D";
const std::string kUsed = "filters=%7B%22dangling%22%3A%7B%22false%22%3Atrue%7D%7D";

class VolumeReadModelTest : public ContainersTest {
 protected:
  void TearDown() override {
    ContainersTest::TearDown();
    engine_.docker({"volume", "prune", "-af"});
  }
  HttpResult get(const std::string& target) { return httpRequest(engine_.socketPath(), "GET", target); }
  // GET /volumes' entries as the volumes service itself lists them, asked over its RPC socket
  // and written as berth-api writes a list.
  json volumesFromTheService(const std::string& filters = "") {
    zmq::context_t context;
    volumes::VolumesClient client(context, "ipc://" + engine_.execRoot() + "/ipc/volumes.sock");
    return json::parse(api::volumesListText(client.list(filters, false, ipc::deadlineIn(5s))))["Volumes"];
  }
  json volumes(const std::string& query = "") {
    auto r = get("/v1.43/volumes" + (query.empty() ? "" : "?" + query));
    EXPECT_EQ(r.status, 200) << query << ": " << r.body.substr(0, 300);
    return bodyOf(r)["Volumes"];
  }
  std::vector<std::string> names(const std::string& query = "") {
    std::vector<std::string> out;
    for (const auto& v : volumes(query)) out.push_back(v["Name"]);
    return out;
  }
  HttpResult create(const std::string& body) {
    return httpRequest(engine_.socketPath(), "POST", "/v1.43/volumes/create", body, "Content-Type: application/json\r\n");
  }
};

TEST_F(VolumeReadModelTest, InspectAndListAnswerWithTheVolumesServiceFrozenSoNoRpcIsMade) {
  auto made = create(R"({"Name":"frozen-read","Labels":{"tier":"cold"}})");
  ASSERT_EQ(made.status, 201) << made.body;
  auto anonymous = create("{}");
  ASSERT_EQ(anonymous.status, 201) << anonymous.body;
  // A container that uses frozen-read: dangling= now tells the two apart.
  auto user = engine_.docker({"create", "--pull", "never", "--name", "frozen-user", "-v", "frozen-read:/data", kImage});
  ASSERT_EQ(user.exitCode, 0) << user.err;
  json viaService = volumesFromTheService();
  ASSERT_EQ(viaService.size(), 2u) << viaService;
  std::string anonymousName = bodyOf(anonymous)["Name"];
  ASSERT_EQ(volumesFromTheService(R"({"dangling":["true"]})"),
            json::array({bodyOf(get("/v1.43/volumes/" + anonymousName))}));
  {
    auto frozen = freezeOnceAnsweredWithout(engine_.childPid("volumes"), "/v1.43/volumes");
    ASSERT_TRUE(frozen) << "the copy never answered with the volumes service frozen";
    // A read the copy does not answer (no such volume) waits for the frozen service: the proof
    // that it is frozen.
    auto waiting =
        rawRequest(engine_.socketPath(),
                   "GET /v1.43/volumes/no-such-volume HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 1000);
    EXPECT_TRUE(waiting.timedOut) << waiting.status << " " << waiting.body.substr(0, 200);
    // The same documents as the service's, in the same order (by name).
    EXPECT_EQ(volumes(), viaService);
    // Filtered too: the volumes dockerd's filters pick, as the service lists them.
    auto only = [&](const std::set<std::string>& picked) {
      json out = json::array();
      for (const auto& v : viaService) {
        if (picked.count(v["Name"])) out.push_back(v);
      }
      return out;
    };
    for (const auto& [query, picked] : std::vector<std::pair<std::string, std::set<std::string>>>{
             {"filters=%7B%22label%22%3A%5B%22tier%3Dcold%22%5D%7D", {"frozen-read"}},  // label=tier=cold
             {"filters=%7B%22label%22%3A%5B%22com.docker.volume.anonymous%22%5D%7D", {anonymousName}},
             {"filters=%7B%22name%22%3A%5B%22frozen%22%5D%7D", {"frozen-read"}},  // name=frozen
             {"filters=%7B%22driver%22%3A%5B%22local%22%5D%7D", {"frozen-read", anonymousName}},
             {"filters=%7B%22driver%22%3A%5B%22other%22%5D%7D", {}},
             {"filters=%7B%22dangling%22%3A%5B%22true%22%5D%7D", {anonymousName}},  // dangling=true
             {"filters=%7B%22dangling%22%3A%5B%220%22%5D%7D", {"frozen-read"}}}) {  // dangling=0
      EXPECT_EQ(volumes(query), only(picked)) << query;
    }
    auto refused = get("/v1.43/volumes?filters=%7B%22colour%22%3A%5B%22blue%22%5D%7D");
    EXPECT_EQ(refused.status, 400);
    EXPECT_EQ(bodyOf(refused)["message"], "invalid filter 'colour'");
    auto ls = engine_.docker({"volume", "ls", "-q", "--filter", "label=tier=cold"});
    EXPECT_EQ(ls.exitCode, 0) << ls.err;
    EXPECT_EQ(ls.out, "frozen-read\n");
    auto dangling = engine_.docker({"volume", "ls", "-q", "--filter", "dangling=true"});
    EXPECT_EQ(dangling.exitCode, 0) << dangling.err;
    EXPECT_EQ(dangling.out, anonymousName + "\n");
    for (const auto& entry : viaService) {
      auto r = get("/v1.43/volumes/" + entry["Name"].get<std::string>());
      EXPECT_EQ(r.status, 200) << r.body;
      EXPECT_EQ(bodyOf(r), entry);
    }
    auto inspected = bodyOf(get("/v1.43/volumes/frozen-read"));
    EXPECT_EQ(inspected["Labels"], json({{"tier", "cold"}}));
    EXPECT_EQ(inspected["Driver"], "local");
    EXPECT_EQ(inspected["Scope"], "local");
  }
  // Thawed, the service answers what the copy declines, in its own words.
  auto missing = get("/v1.43/volumes/no-such-volume");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(bodyOf(missing)["message"], "get no-such-volume: no such volume");
}

// Each write acknowledged to the client, then at once a read on a new connection: the read
// shows the write, every time, whether the API or the containerd-bridge asked the volumes
// service for it.
TEST_F(VolumeReadModelTest, EveryReadAfterAnAcknowledgedWriteShowsIt) {
  for (int round = 0; round < 5; ++round) {
    std::string name = "rw-" + std::to_string(round);
    auto made = create(R"({"Name":")" + name + R"("})");
    ASSERT_EQ(made.status, 201) << made.body;
    EXPECT_EQ(get("/v1.43/volumes/" + name).status, 200);
    EXPECT_EQ(names(), std::vector<std::string>{name});

    // docker create -v /data: the bridge makes an anonymous volume.
    auto created = engine_.docker({"create", "--pull", "never", "--name", "c-" + name, "-v", "/data", kImage, "true"});
    ASSERT_EQ(created.exitCode, 0) << created.err;
    auto listed = names();
    ASSERT_EQ(listed.size(), 2u) << json(listed);
    std::string anonymous = listed[0] == name ? listed[1] : listed[0];
    EXPECT_EQ(anonymous.size(), 64u) << anonymous;
    EXPECT_EQ(get("/v1.43/volumes/" + anonymous).status, 200);
    EXPECT_EQ(names(kDangling), std::vector<std::string>{name});  // the anonymous one is in use

    // docker rm -v: the bridge removes it.
    ASSERT_EQ(engine_.docker({"rm", "-v", "c-" + name}).exitCode, 0);
    EXPECT_EQ(names(), std::vector<std::string>{name});
    EXPECT_EQ(get("/v1.43/volumes/" + anonymous).status, 404);

    // docker create -v NAME:/data: the bridge references the volume; docker rm lets it go.
    ASSERT_EQ(
        engine_.docker({"create", "--pull", "never", "--name", "u-" + name, "-v", name + ":/data", kImage}).exitCode,
        0);
    EXPECT_EQ(names(kDangling), std::vector<std::string>{});
    EXPECT_EQ(names(kUsed), std::vector<std::string>{name});
    ASSERT_EQ(engine_.docker({"rm", "u-" + name}).exitCode, 0);
    EXPECT_EQ(names(kDangling), std::vector<std::string>{name});
    EXPECT_EQ(names(kUsed), std::vector<std::string>{});

    // docker run --rm -v /data: made and removed by the bridge before the CLI returns.
    auto ran = engine_.docker({"run", "--rm", "--pull", "never", "--network", "none", "-v", "/data", kImage, "true"});
    ASSERT_EQ(ran.exitCode, 0) << ran.err;
    EXPECT_EQ(names(), std::vector<std::string>{name});

    ASSERT_EQ(httpRequest(engine_.socketPath(), "DELETE", "/v1.43/volumes/" + name).status, 204);
    EXPECT_EQ(get("/v1.43/volumes/" + name).status, 404);
    EXPECT_EQ(names(), std::vector<std::string>{});
  }
}

// The reads above cannot show whether the bridge passes the volumes service's stamps on: its
// own reply reaches the client long after the volumes service published the change. Its
// replies' stamps can: after the bridge made and removed anonymous volumes, any reply of the
// bridge carries the volume stamp the volumes service itself replies with (no other change
// was made meanwhile).
TEST_F(VolumeReadModelTest, TheBridgesRepliesCarryTheVolumeStampOfTheVolumesItMadeAndRemoved) {
  auto stampOf = [&](const std::string& service) { return viewStampOf(service, ipc::ViewKind::volumes); };
  auto created = engine_.docker({"create", "--pull", "never", "--name", "stamped", "-v", "/data", kImage, "true"});
  ASSERT_EQ(created.exitCode, 0) << created.err;
  auto fromVolumes = stampOf("volumes");
  auto fromBridge = stampOf("containerd-bridge");
  EXPECT_NE(fromVolumes.epoch, 0u);
  EXPECT_GT(fromVolumes.seq, 0u);
  EXPECT_EQ(fromBridge.epoch, fromVolumes.epoch);
  EXPECT_EQ(fromBridge.seq, fromVolumes.seq);
  ASSERT_EQ(engine_.docker({"rm", "-v", "stamped"}).exitCode, 0);
  auto afterRemoval = stampOf("volumes");
  EXPECT_GT(afterRemoval.seq, fromVolumes.seq);
  EXPECT_EQ(stampOf("containerd-bridge").seq, afterRemoval.seq);
  // A named volume the bridge only references: the change of its users is numbered too, and the
  // bridge passes its number on (a client shown the create finds the volume in use).
  ASSERT_EQ(create(R"({"Name":"referenced"})").status, 201);
  auto beforeReference = stampOf("volumes");
  ASSERT_EQ(
      engine_.docker({"create", "--pull", "never", "--name", "refers", "-v", "referenced:/data", kImage}).exitCode, 0);
  auto referenced = stampOf("volumes");
  EXPECT_GT(referenced.seq, beforeReference.seq);
  EXPECT_EQ(stampOf("containerd-bridge").seq, referenced.seq);
}

// kill -9 of the volumes service: a write answered by the new run (its stamp) makes the copy
// decline until it holds the new run's snapshot, and the copy then answers again on its own.
TEST_F(VolumeReadModelTest, AfterTheVolumesServiceRestartsReadsFollowTheNewRun) {
  ASSERT_EQ(create(R"({"Name":"kept"})").status, 201);
  ASSERT_EQ(create(R"({"Name":"gone"})").status, 201);
  pid_t volumesPid = engine_.killAndAwaitRestart("volumes");
  ASSERT_EQ(httpRequest(engine_.socketPath(), "DELETE", "/v1.43/volumes/gone").status, 204);
  EXPECT_EQ(get("/v1.43/volumes/gone").status, 404);
  EXPECT_EQ(names(), std::vector<std::string>{"kept"});
  auto made = create(R"({"Name":"after"})");
  ASSERT_EQ(made.status, 201) << made.body;
  EXPECT_EQ(names(), (std::vector<std::string>{"after", "kept"}));
  // The copy takes the new run's snapshot and answers on its own.
  auto frozen = freezeOnceAnsweredWithout(volumesPid, "/v1.43/volumes");
  ASSERT_TRUE(frozen) << "the copy never answered with the new run frozen";
  EXPECT_EQ(bodyOf(get("/v1.43/volumes/after"))["Name"], "after");
  EXPECT_EQ(names(), (std::vector<std::string>{"after", "kept"}));
}

}  // namespace
}  // namespace berth::test
